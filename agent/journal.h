/* The durable journal (store-and-forward) in SQLite: opening, migrating and closing it, and
 * its one transaction API, which decides for each kind of transaction what applies (byte
 * budget, capture pause, sequence numbers, control totals). What is kept in it is declared by
 * concern: journal_event.h, journal_cursor.h, journal_quarantine.h, journal_meta.h,
 * journal_ledger.h, journal_salvage.h. One connection, used from the loop thread only.
 * Functions return WH_OK or an error code; journal_errmsg says what SQLite reported. */
#ifndef WHAGENT_JOURNAL_H
#define WHAGENT_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define JOURNAL_ID_LEN 32 /* hex digits */

struct journal;

struct journal_opts {
	int64_t max_bytes;     /* byte budget of the database; 0: none */
	int64_t reserve_bytes; /* free space kept on its file system */
	int sync_normal;       /* synchronous=NORMAL instead of FULL */
	int readonly;	       /* for `whagent status`: no migrations, no writes */
	/* the quarantine's bounds (0: none): rows, bytes kept, raw bytes kept per record */
	int64_t quarantine_max_rows;
	int64_t quarantine_max_bytes;
	size_t quarantine_raw_max;
};

/* Opens (creating and migrating unless readonly) the journal at path.
 * Caller closes with journal_close. WH_ERR_CORRUPT if the file is not a whagent journal or
 * was written by a newer version; *ret_j is still set so journal_errmsg can be read
 * (close it afterwards). */
wh_err journal_open(const char *path, const struct journal_opts *o, struct journal **ret_j);
/* Rolls back a transaction left open, and closes. Accepts NULL. */
void journal_close(struct journal *j);
/* What SQLite or the journal said about the last failure. */
const char *journal_errmsg(const struct journal *j);
const char *journal_id(const struct journal *j);

/* Changes the byte budget, the free-space reserve and the quarantine's bounds of o
 * (configuration reload). */
void journal_set_limits(struct journal *j, const struct journal_opts *o);

/* What a transaction is for. */
enum journal_txn {
	/* Records from an input (events, quarantine, cursors): refused with WH_ERR_FULL when
	 * the budget or the free-space reserve is reached and with WH_ERR_PAUSED while
	 * capture is paused, so that the input holds its source back (back-pressure). */
	JOURNAL_TXN_APPEND,
	/* Work that must go on when the journal is full or paused (watermarks, pruning,
	 * folding, meta, the session, salvage, quarantine purge). May append too. */
	JOURNAL_TXN_MAINTENANCE,
	/* Several reads that must agree with each other; takes no write lock. */
	JOURNAL_TXN_READ,
	/* journal_open's creation and migration of the schema: reads nothing. */
	JOURNAL_TXN_SCHEMA,
};

/* Opens a transaction of kind. Write transactions (APPEND, MAINTENANCE) read next_seq (and,
 * with the first event counted, the control totals) under the write lock (another process,
 * `whagent quarantine requeue`, may append) and journal_txn_end writes them back. Inside an
 * open transaction, a write transaction becomes a savepoint of it (journal_txn_end with an
 * error undoes only what was done since), and READ joins it; writes nest one deep.
 * WH_ERR_INVAL when that is not possible (read-only journal, a write inside a read, too
 * deep). When SQLite rolls the whole transaction back by itself (disk full, out of memory,
 * I/O error), every write and savepoint in it fails with that error until the outermost
 * journal_txn_end, which fails with it too: nothing of the transaction is kept. */
wh_err journal_txn_begin(struct journal *j, enum journal_txn kind);
/* Ends the innermost transaction: commits it when err is WH_OK, else rolls it back. Returns
 * the outcome: err itself when it was an error, else the commit's result (a failed commit is
 * rolled back). WH_ERR_INVAL when no transaction is open and err is WH_OK. */
wh_err journal_txn_end(struct journal *j, wh_err err);

/* Without taking the write lock: WH_OK when an APPEND transaction would be taken now,
 * WH_ERR_FULL or WH_ERR_PAUSED (with journal_errmsg saying why) when it would be refused. */
wh_err journal_room(struct journal *j);

/* cb is called after each commit that appended events (the uplink's cue). */
void journal_on_commit(struct journal *j, void (*cb)(void *arg), void *arg);
/* SQLite's data_version: it changes when another process (a `whagent quarantine requeue`)
 * committed to the journal since the last call; our own commits leave it. -1 on an error. */
int64_t journal_data_version(struct journal *j);

/* Commit latency of APPEND transactions (the inputs' group commits), in seconds, Prometheus
 * style: cumulative counts per upper bound. */
#define JOURNAL_LATENCY_BUCKETS 10
extern const double journal_latency_bounds[JOURNAL_LATENCY_BUCKETS];
struct journal_latency {
	uint64_t le[JOURNAL_LATENCY_BUCKETS]; /* commits that took <= bound */
	uint64_t count;
	double sum_s;
};
const struct journal_latency *journal_commit_latency(const struct journal *j);

#endif
