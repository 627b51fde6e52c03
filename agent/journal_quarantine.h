/* The journal's quarantine: records that could not be parsed or validated, kept with their
 * raw bytes (a bounded prefix, with the full length and SHA-256), position and reason until
 * requeued, purged, evicted by the quarantine's bounds or expired. */
#ifndef WHAGENT_JOURNAL_QUARANTINE_H
#define WHAGENT_JOURNAL_QUARANTINE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct journal;

/* A quarantined record; every pointer is borrowed. */
struct journal_quarantined {
	int64_t id; /* set by the journal */
	int64_t received_at_ms;
	const char *input;    /* "spool", "http", ... */
	const char *source;   /* the source name events of the input get */
	const char *position; /* where in the input: "orders.csv line 17" */
	const char *reason;
	const char *format;  /* "csv", "jsonl" */
	const char *context; /* CSV header line, or NULL */
	const void *raw;
	size_t raw_len;		/* writing: all of it; reading: what was kept */
	size_t raw_full_len;	/* reading: the record's length (more than raw_len: cut) */
	const char *raw_sha256; /* reading: hex SHA-256 of the whole record, or NULL */
};

/* Inside a write transaction: keeps q, raw cut to quarantine_raw_max; *ret_id (may be NULL)
 * is its id. In an APPEND transaction WH_ERR_FULL when the budget does not take it. At the
 * transaction's commit the oldest records past quarantine_max_rows or quarantine_max_bytes
 * are evicted (counted in meta quarantine_evicted). */
wh_err journal_quarantine(struct journal *j, const struct journal_quarantined *q, int64_t *ret_id);

/* cb gets borrowed fields; list omits raw. */
typedef void (*journal_quarantine_cb)(const struct journal_quarantined *q, void *arg);
wh_err journal_quarantine_list(struct journal *j, journal_quarantine_cb cb, void *arg);
/* WH_ERR_NOTFOUND when there is no entry id. */
wh_err journal_quarantine_get(struct journal *j, int64_t id, journal_quarantine_cb cb, void *arg);
/* Deletes entry id (in the caller's transaction or one of its own); WH_ERR_NOTFOUND when
 * there is none. */
wh_err journal_quarantine_delete(struct journal *j, int64_t id);

/* Quarantined records evicted by the bounds since the last call (for the caller's log). */
uint64_t journal_quarantine_take_evicted(struct journal *j);

/* Replaces entry id's reason (a requeue found it invalid for another reason), in the caller's
 * transaction or one of its own; WH_ERR_NOTFOUND when there is none. */
wh_err journal_quarantine_set_reason(struct journal *j, int64_t id, const char *reason);

/* Deletes every entry received before before_ms (INT64_MAX: all) in one maintenance
 * transaction of its own; *ret_count: how many. journal_give_back then returns the space. */
wh_err journal_quarantine_purge(struct journal *j, int64_t before_ms, int64_t *ret_count);

/* Outside a transaction: gives the journal's free pages back to the file system (incremental
 * vacuum) and checkpoints the WAL, truncating it. WH_ERR_BUSY when another connection keeps
 * the WAL from being truncated (the running agent checkpoints it later). */
wh_err journal_give_back(struct journal *j);

#endif
