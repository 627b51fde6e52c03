/* The daemon's live runtime state: the MQTT link and since when, the last error with its time
 * and whether it is current, batches in flight, the backfill. Not journal data: the daemon
 * rewrites a small JSON file atomically (a temp file in the same directory, then rename; no
 * fsync, it is runtime state) and `whagent status` reads it. No state of its own. */
#ifndef WHAGENT_LIVESTATE_H
#define WHAGENT_LIVESTATE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define LIVESTATE_ERROR_LEN  320
#define LIVESTATE_ALARMS_LEN 512

struct livestate {
	long pid;		 /* the agent that wrote it */
	char mqtt[32];		 /* connecting, connected, disconnected, stopped */
	int64_t since_ms;	 /* when mqtt took that value */
	int64_t down_since_ms;	 /* when the link last left connected (or the start); 0: up */
	int64_t last_connect_ms; /* 0: never */
	char last_error[LIVESTATE_ERROR_LEN]; /* "": none */
	int64_t last_error_ms;
	int error_current; /* no connection made and no batch acknowledged since the error */
	int inflight;	   /* batches in flight */
	uint64_t backfill_through;	   /* a backfill lane drains up to it; 0: none */
	int64_t written_ms;		   /* when the file was written */
	char alarms[LIVESTATE_ALARMS_LEN]; /* active alarms' names, comma-separated; "" none */
	char inputs[LIVESTATE_ERROR_LEN];  /* inputs failing now ("table.wms: ..."); "" none */
};

/* The live-state file of the journal journal_id: in the first directory of
 * $RUNTIME_DIRECTORY when the service manager set it, else in state_dir. Writes buf (len
 * bytes); WH_ERR_INVAL when the path does not fit. */
wh_err livestate_path(const char *state_dir, const char *journal_id, char *buf, size_t len);

/* Replaces the file at path with ls, atomically: a reader sees the old document or the new
 * one, never a part. WH_ERR_IO (errno kept) or WH_ERR_NOMEM; the old file is then intact. */
wh_err livestate_write(const char *path, const struct livestate *ls);

/* Reads the file at path into *ret (zeroed first; fields missing from the file stay 0).
 * WH_ERR_NOTFOUND when there is no file, WH_ERR_INVAL when it is not a live-state document
 * (or too large for one), WH_ERR_IO, WH_ERR_NOMEM. */
wh_err livestate_read(const char *path, struct livestate *ret);

#endif
