/* The table input's database side: a worker thread that alone talks to the WMS database
 * through unixODBC (connecting with a login timeout, the polls with a query timeout, the
 * handshake's write-back in one database transaction), one request at a time, and wakes the
 * loop thread through a pipe when the result is ready. The loop thread (input_table.c) alone
 * touches the journal (DESIGN.md section 3). */
#ifndef WHAGENT_TABLE_ODBC_H
#define WHAGENT_TABLE_ODBC_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct conf_table;
struct todbc;

/* A column of a page: its name as the driver reports it, and its SQL type and size. */
struct todbc_col {
	char name[64];
	int sqltype;
	size_t size;
};

/* A page of rows, every value as text (NULL for SQL NULL). Owned by the worker until handed
 * over by todbc_take; then the caller's, freed with todbc_page_free. */
struct todbc_page {
	int ncols, nrows;
	struct todbc_col *cols;
	char **val;	    /* nrows * ncols */
	unsigned char *cut; /* per row: 1 when its values passed max_record_bytes (a prefix kept) */
	int key_col, cursor_col; /* indexes of key_column and cursor_column (-1: none) */
	int full;		 /* 1: page_rows rows came: ask again at once */
};

/* The watermark: the last row taken (values as text, with their SQL types). */
struct todbc_cursor {
	int set; /* 0: nothing taken yet */
	int cur_type, key_type;
	char cur[128], key[128];
};

/* One write-back of the handshake. */
struct todbc_mark {
	const char *key; /* borrowed until the result */
	int error;	 /* 0: status_sent (and seq), 1: status_error (and reason) */
	uint64_t seq;
	const char *reason;
};

/* What went wrong, for the status and the backoff. */
enum todbc_fail {
	TODBC_OK,
	TODBC_CONNECT, /* cannot reach or log in to the database */
	TODBC_AUTH,    /* the database refused the credentials */
	TODBC_SCHEMA,  /* a table or column is missing */
	TODBC_TIMEOUT, /* query_timeout_s passed */
	TODBC_QUERY,   /* another database error */
};

struct todbc_result {
	enum todbc_fail fail;
	char why[512];		 /* fail: what the database said, with the SQLSTATE */
	struct todbc_page *page; /* a poll's rows (NULL after a failure); the caller's */
	int marked;		 /* a write-back: rows updated */
};

/* Starts the worker for table input t (borrowed until todbc_free); password is the contents
 * of password_file (copied; "" none). *ret_fd is the pipe the loop polls for POLLIN.
 * Caller frees with todbc_free. Runs on the loop thread. */
wh_err todbc_new(const struct conf_table *t, const char *password, struct todbc **ret_w,
		 int *ret_fd);
/* Stops the worker: a running query is cancelled (SQLCancel), the connection closed, the
 * thread joined. Accepts NULL. */
void todbc_free(struct todbc *w);

/* Asks for the next page after cursor c (watermark; copied) or of rows in status_new
 * (handshake: c NULL). WH_ERR_BUSY while a request runs. */
wh_err todbc_poll(struct todbc *w, const struct todbc_cursor *c);
/* Asks to write back n marks (borrowed until the result) in one database transaction. */
wh_err todbc_mark(struct todbc *w, const struct todbc_mark *m, int n);
/* Takes the result once the pipe was readable: 1 and *ret filled when a request finished,
 * 0 when none has. */
int todbc_take(struct todbc *w, struct todbc_result *ret);
/* 1 while a request runs; *ret_since_ms its monotonic start. */
int todbc_busy(struct todbc *w, int64_t *ret_since_ms);

void todbc_page_free(struct todbc_page *p);

#endif
