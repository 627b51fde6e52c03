/* Inside the journal module (journal.c, journal_sql.c, journal_ledger.c, journal_salvage.c):
 * the journal's state, its statements and the helpers they share. Not for other modules. */
#ifndef WHAGENT_JOURNAL_INT_H
#define WHAGENT_JOURNAL_INT_H

#include <sqlite3.h>

#include "journal.h"
#include "journal_event.h"
#include "journal_ledger.h"
#include "journal_quarantine.h"

/* The prepared statements; their text is in journal_sql.c. */
enum stmt {
	ST_BEGIN,
	ST_BEGIN_READ,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_META_GET,
	ST_META_SET,
	ST_META_TIDY,
	ST_INSERT,
	ST_FIND,
	ST_QUAR_INSERT,
	ST_QUAR_LIST,
	ST_QUAR_GET,
	ST_QUAR_DEL,
	ST_QUAR_REASON,
	ST_DATA_VERSION,
	ST_QUAR_COUNT,
	ST_QUAR_TOTALS,
	ST_QUAR_OLDEST,
	ST_QUAR_DEL_THROUGH,
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
	ST_DELTA_ADD_MANY, /* DELTA_ROWS rows at once */
	ST_DELTA_SPAN,
	ST_FOLD,
	ST_FOLD_DEL,
	ST_FOLD_CLEAR, /* every change folded: the table emptied at once */
	ST_TOTAL_ALL,
	ST_TOTAL_SET,
	ST_COUNT
};

/* SQL run once, not prepared (journal_sql.c). */
extern const char journal_sql_snapshot_rows[];	 /* the copy when every change is folded */
extern const char journal_sql_snapshot_summed[]; /* rows and waiting changes summed */
extern const char journal_sql_snapshot_count[];
extern const char journal_sql_snapshot_page[];
extern const char journal_sql_snapshot_drop[];
extern const char journal_sql_ledger_rows[]; /* every balance change, folded or not */
extern const char journal_sql_salvage_watermark[];
extern const char journal_sql_salvage_forward[];
extern const char journal_sql_salvage_backward[];
extern const char journal_sql_salvage_quarantine[];
extern const char journal_sql_salvage_quarantine_v3[];
extern const char journal_sql_quick_check[];
extern const char journal_sql_incremental_vacuum[];
extern const char journal_sql_quarantine_purge[];
extern const char journal_sql_checkpoint_truncate[];

/* Rows of ledger_delta one statement inserts at once (journal_save_changes). */
#define DELTA_ROWS 16

/* A balance change of the open transaction, the changes of one key added up: its key is
 * "sku\0location\0lot\0uom\0" at offset key of the arena; written at commit. */
struct journal_change {
	uint32_t key, keylen, hash;
	int64_t milli;
	uint64_t seq; /* the last event's */
};

/* What a write transaction tracks, saved when a savepoint opens inside it. */
struct journal_txn_state {
	uint64_t next_seq;			    /* the next new event's seq */
	uint64_t dups;				    /* duplicates seen */
	struct journal_total totals[JOURNAL_KINDS]; /* read by the first count, written at end */
	int totals_loaded;
	unsigned totals_dirty; /* bit per kind */
	int64_t room;	       /* APPEND: bytes the budget still takes in this transaction */
	int quarantined;       /* records quarantined: the quarantine's bounds apply at commit */
	uint32_t nchanges;     /* of j->changes */
	uint32_t arena_len;    /* of j->arena */
};

struct journal {
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
	struct journal_opts opts;
	char *dir; /* for the free-space reserve */
	char id[JOURNAL_ID_LEN + 1];
	int depth;   /* 0: no transaction; 1: one; 2: a savepoint inside it */
	int reads;   /* read transactions that joined the open one */
	wh_err lost; /* SQLite ended the open transaction by itself (FULL, NOMEM, IOERR): why */
	enum journal_txn kind;
	uint64_t begin_seq; /* next_seq when the transaction began */
	struct journal_txn_state txn, saved;
	struct journal_latency latency;
	void (*commit_cb)(void *arg);
	void *commit_arg;
	sqlite3_stmt *snap_page; /* an open snapshot */
	uint64_t evicted_unsaid; /* quarantined records evicted, not yet taken by the caller */
	/* the quarantine's rows and bytes as this connection last counted them, plus what it
	 * added since (quar_known 0: count again); an estimate only ever too high, so that a
	 * commit needs no scan of the table unless the bounds look passed */
	int64_t quar_rows, quar_bytes;
	int quar_known;
	/* the open transaction's balance changes (counts in txn), and a hash of their keys:
	 * slot = index + 1, 0 empty; nslots a power of two, at least twice changes_cap */
	struct journal_change *changes;
	uint32_t changes_cap;
	char *arena;
	uint32_t arena_cap;
	uint32_t *slots;
	uint32_t nslots;
	char errmsg[256];
};

/* journal_sql.c: statements, steps and rows, meta values, schema and migrations. */

/* The connection's settings: busy timeout, and unless read-only auto_vacuum, WAL and
 * synchronous. */
wh_err journal_sql_configure(struct journal *j);
/* Prepares every statement (after journal_sql_migrate). */
wh_err journal_sql_prepare(struct journal *j);
void journal_sql_finalize(struct journal *j);
/* Prepares the transaction statements only (they need no schema). */
wh_err journal_sql_prepare_txn(struct journal *j);
/* Brings the schema to the current version (creating it in an empty file); refuses foreign
 * and newer files with WH_ERR_CORRUPT, and an absent journal when read-only. */
wh_err journal_sql_migrate(struct journal *j);
/* Translates a SQLite result code, keeping SQLite's message for journal_errmsg. */
wh_err journal_db_fail(struct journal *j, int rc, const char *what);
/* Sets journal_errmsg and returns err. */
wh_err journal_fail(struct journal *j, wh_err err, const char *fmt, ...) WH_PRINTF(3, 4);
/* Steps statement s that returns no row, then resets it. */
wh_err journal_run(struct journal *j, enum stmt s);
/* Steps statement s expected to return one row (left for the caller to read, then
 * sqlite3_reset); WH_ERR_NOTFOUND if there is none. */
wh_err journal_row(struct journal *j, enum stmt s);
/* The first column of statement s's one row. */
wh_err journal_count(struct journal *j, enum stmt s, uint64_t *ret);
/* Runs SQL text that is not prepared (schema, snapshots). */
wh_err journal_exec(struct journal *j, const char *text);
/* Integer meta values: WH_ERR_NOTFOUND when key is absent (errmsg names it). */
wh_err journal_meta_get_int(struct journal *j, const char *key, uint64_t *ret);
/* The same, where a missing key means the journal is damaged: WH_ERR_CORRUPT. */
wh_err journal_meta_need_int(struct journal *j, const char *key, uint64_t *ret);
/* The same, where a key added after schema 1 may be absent: 0 then. */
wh_err journal_meta_opt_int(struct journal *j, const char *key, uint64_t *ret);
wh_err journal_meta_set_int(struct journal *j, const char *key, uint64_t value);
/* WH_ERR_INVAL unless a write transaction is open. */
wh_err journal_need_write(struct journal *j);

/* journal_ledger.c: the control totals as committed (read under the write lock by the first
 * event counted in a transaction), written back at commit; a new event's balance changes and
 * totals. */
wh_err journal_load_totals(struct journal *j, struct journal_total totals[JOURNAL_KINDS]);
wh_err journal_save_totals(struct journal *j);
wh_err journal_count_event(struct journal *j, const struct journal_event *ev, uint64_t seq);
/* Writes the transaction's balance changes to ledger_delta (at commit). */
wh_err journal_save_changes(struct journal *j);
/* Forgets the hash of the changes (a new transaction) or rebuilds it from the changes kept
 * (a savepoint rolled back). */
void journal_changes_rehash(struct journal *j);
/* Frees the changes' buffers (journal_close). */
void journal_changes_free(struct journal *j);

/* Fills q from a row of id, input, source, position, received_at, reason, format, context,
 * raw, raw_len, raw_sha256; q borrows the row's values until the statement steps again. */
void journal_read_quarantined(sqlite3_stmt *s, struct journal_quarantined *q);

/* journal_quarantine.c: at a write transaction's commit, when it quarantined records, evicts
 * the oldest ones past quarantine_max_rows or quarantine_max_bytes (counted in meta). */
wh_err journal_quarantine_bound(struct journal *j);
/* Takes n bytes of an APPEND transaction's budget: WH_ERR_FULL when they do not fit (the
 * record is refused; what the transaction took so far may still be committed). */
wh_err journal_spend(struct journal *j, size_t n);

#endif
