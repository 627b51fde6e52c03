/* Inside the journal module (journal.c, journal_ledger.c, journal_salvage.c): the journal's
 * state, its prepared statements and the helpers they share. Not for other modules. */
#ifndef WHAGENT_JOURNAL_INT_H
#define WHAGENT_JOURNAL_INT_H

#include <sqlite3.h>

#include "journal.h"

enum stmt {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_META_GET,
	ST_META_SET,
	ST_INSERT,
	ST_FIND,
	ST_QUAR_INSERT,
	ST_QUAR_LIST,
	ST_QUAR_GET,
	ST_QUAR_DEL,
	ST_QUAR_COUNT,
	ST_CUR_GET,
	ST_CUR_SET,
	ST_CUR_DEL,
	ST_CUR_EACH,
	ST_PAGE,
	ST_PRUNE,
	ST_SIZE,
	ST_CAPTURED_AT,
	ST_PRUNE_MAX,
	ST_FIRST_SEQ,
	ST_DELTA_ADD,
	ST_DELTA_SPAN,
	ST_FOLD,
	ST_FOLD_DEL,
	ST_TOTAL_ALL,
	ST_TOTAL_SET,
	ST_COUNT
};

struct journal {
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
	struct journal_opts opts;
	char *dir; /* for the free-space reserve */
	char id[JOURNAL_ID_LEN + 1];
	int in_txn;
	uint64_t next_seq; /* valid inside a transaction */
	uint64_t begin_seq;
	struct journal_latency latency;
	uint64_t prune_limit; /* for journal_prune_retained */
	void (*commit_cb)(void *arg);
	void *commit_arg;
	uint64_t txn_dups;			    /* duplicates seen in this transaction */
	struct journal_total totals[JOURNAL_KINDS]; /* read at begin, written at commit */
	unsigned totals_dirty;			    /* bit per kind */
	sqlite3_stmt *snap_page;		    /* an open snapshot */
	char errmsg[256];
};

/* Translates a SQLite result code, keeping SQLite's message for journal_errmsg. */
wh_err journal_db_fail(struct journal *j, int rc, const char *what);
/* Steps statement s that returns no row, then resets it. */
wh_err journal_run(struct journal *j, enum stmt s);
/* Steps statement s expected to return one row (left for the caller to read, then
 * sqlite3_reset); WH_ERR_NOTFOUND if there is none. */
wh_err journal_row(struct journal *j, enum stmt s);
/* The first column of statement s's one row. */
wh_err journal_count(struct journal *j, enum stmt s, uint64_t *ret);
wh_err journal_exec(struct journal *j, const char *text);
wh_err journal_meta_get_int(struct journal *j, const char *key, uint64_t *ret);
wh_err journal_meta_set_int(struct journal *j, const char *key, uint64_t value);
/* WH_ERR_INVAL unless a transaction is open. */
wh_err journal_need_txn(struct journal *j);

/* journal_ledger.c: the control totals as committed (read at begin, under the write lock),
 * written back at commit; a new event's balance changes and totals. */
wh_err journal_load_totals(struct journal *j);
wh_err journal_save_totals(struct journal *j);
wh_err journal_count_event(struct journal *j, const struct journal_event *ev, uint64_t seq);

/* Fills q from a row of id, input, source, position, received_at, reason, format, context,
 * raw; q borrows the row's values until the statement steps again. */
void journal_read_quarantined(sqlite3_stmt *s, struct journal_quarantined *q);

#endif
