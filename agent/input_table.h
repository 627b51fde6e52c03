/* Interface-table input, the loop thread's side: polls a WMS table through the ODBC worker
 * (table_odbc.h), takes each page's rows through the intake in one journal transaction with
 * the watermark cursor (mode watermark), or writes the rows' status back after that commit
 * (mode handshake); errors of the database are kept for status and metrics, retried with
 * backoff. Runs on the loop thread. */
#ifndef WHAGENT_INPUT_TABLE_H
#define WHAGENT_INPUT_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct conf;
struct conf_table;
struct intake;
struct journal;
struct loop;
struct table;

/* Starts the table input ct of c (its name, "table" or "table.NAME", names the cursor, the
 * quarantine's input and the metrics); the first poll follows at once. c and ct are borrowed
 * until table_free or the next table_reconfigure; j and l are borrowed. Caller frees with
 * table_free. On failure, why says what went wrong (for the caller to log). */
wh_err table_new(const struct conf *c, const struct conf_table *ct, struct journal *j,
		 struct loop *l, struct table **ret_t, char *why, size_t whylen);
/* Stops the worker (cancelling a running query) and frees. Accepts NULL. */
void table_free(struct table *t);
/* Takes a reloaded configuration with this input unchanged but for its alarm settings. */
void table_reconfigure(struct table *t, const struct conf *c);
const struct intake *table_intake(const struct table *t);
/* 1 when no request runs, no write-back waits and the last poll found the table drained. */
int table_idle(const struct table *t);
/* The input's current error ("" none): what the database said, for `whagent status`. */
const char *table_error(const struct table *t);
/* The input's figures, for metrics. */
struct table_stats {
	const char *input;   /* "table.NAME": borrowed */
	int up;		     /* the last request to the database succeeded */
	const char *failure; /* its class when not up: connect, auth, schema, timeout, query */
	uint64_t polls, rows_read, errors, marked, backpressure;
	int64_t busy_ms; /* how long the running request has run; 0 none */
};
void table_stats(const struct table *t, struct table_stats *ret);

#endif
