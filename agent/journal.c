/* SQLite journal: schema and migrations, appends, cursors, pages, acks and pruning, meta and
 * quarantine. Statements are prepared once at open (here) and reset after each use; the
 * ledger's use of them is in journal_ledger.c. Marking events sent never rewrites event rows:
 * the watermark is in meta. */
#include "journal.h"

#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "crypto.h"
#include "journal_int.h"
#include "mem.h"
#include "platform.h"

#define SCHEMA_VERSION 2

static const char schema_v1[] =
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE event(seq INTEGER PRIMARY KEY, source TEXT NOT NULL,"
	" source_key TEXT NOT NULL, kind INTEGER NOT NULL, captured_at INTEGER NOT NULL,"
	" payload BLOB NOT NULL, UNIQUE(source, source_key));"
	"CREATE TABLE cursor(name TEXT PRIMARY KEY, position TEXT NOT NULL,"
	" updated_at INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE quarantine(id INTEGER PRIMARY KEY AUTOINCREMENT, input TEXT NOT NULL,"
	" source TEXT NOT NULL, position TEXT NOT NULL, received_at INTEGER NOT NULL,"
	" reason TEXT NOT NULL, format TEXT NOT NULL, context TEXT, raw BLOB NOT NULL);"
	"INSERT INTO meta VALUES('next_seq', 1), ('acked_through', 0), ('session', 0),"
	" ('duplicates', 0);";

/* 2: the ledger. An event appends its balance changes to ledger_delta (in seq order: cheap
 * appends); journal_ledger_fold adds them into ledger in key order now and then, so that a
 * transaction does not rewrite a page of a large ledger for every event. A balance is its
 * ledger row plus its deltas. Control totals count from ledger_from_seq (the next seq when
 * the ledger was added). */
static const char schema_v2[] =
	"CREATE TABLE ledger(sku TEXT NOT NULL, location TEXT NOT NULL, lot TEXT NOT NULL,"
	" uom TEXT NOT NULL, on_hand INTEGER NOT NULL, last_seq INTEGER NOT NULL,"
	" PRIMARY KEY(sku, location, lot, uom)) WITHOUT ROWID;"
	"CREATE TABLE ledger_delta(id INTEGER PRIMARY KEY, sku TEXT NOT NULL,"
	" location TEXT NOT NULL, lot TEXT NOT NULL, uom TEXT NOT NULL, milli INTEGER NOT NULL,"
	" seq INTEGER NOT NULL);"
	"CREATE TABLE total(kind INTEGER PRIMARY KEY, count INTEGER NOT NULL,"
	" qty INTEGER NOT NULL, hash BLOB NOT NULL);"
	"INSERT INTO meta SELECT 'ledger_from_seq', value FROM meta WHERE key = 'next_seq';"
	"PRAGMA user_version = 2;";

static const char *const sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[ST_META_SET] = "INSERT INTO meta(key, value) VALUES(?1, ?2)"
			" ON CONFLICT(key) DO UPDATE SET value = excluded.value",
	[ST_INSERT] = "INSERT INTO event(seq, source, source_key, kind, captured_at, payload)"
		      " VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(source, source_key) DO NOTHING",
	[ST_FIND] = "SELECT seq FROM event WHERE source = ?1 AND source_key = ?2",
	[ST_QUAR_INSERT] = "INSERT INTO quarantine(input, source, position, received_at, reason,"
			   " format, context, raw) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[ST_QUAR_LIST] = "SELECT id, input, source, position, received_at, reason, format, context,"
			 " NULL FROM quarantine ORDER BY id",
	[ST_QUAR_GET] = "SELECT id, input, source, position, received_at, reason, format, context,"
			" raw FROM quarantine WHERE id = ?1",
	[ST_QUAR_DEL] = "DELETE FROM quarantine WHERE id = ?1",
	[ST_QUAR_COUNT] = "SELECT count(*) FROM quarantine",
	[ST_CUR_GET] = "SELECT position FROM cursor WHERE name = ?1",
	[ST_CUR_SET] = "INSERT INTO cursor(name, position, updated_at) VALUES(?1, ?2, ?3)"
		       " ON CONFLICT(name) DO UPDATE SET position = excluded.position,"
		       " updated_at = excluded.updated_at",
	[ST_CUR_DEL] = "DELETE FROM cursor WHERE name = ?1",
	[ST_CUR_EACH] = "SELECT name FROM cursor ORDER BY name",
	[ST_PAGE] = "SELECT seq, payload FROM event WHERE seq > ?1 ORDER BY seq LIMIT ?2",
	[ST_PRUNE] = "DELETE FROM event WHERE seq <= ?1",
	[ST_SIZE] = "SELECT page_count * page_size, freelist_count * page_size"
		    " FROM pragma_page_count, pragma_freelist_count, pragma_page_size",
	[ST_CAPTURED_AT] = "SELECT captured_at FROM event WHERE seq = ?1",
	[ST_FIRST_SEQ] = "SELECT ifnull(min(seq), 0) FROM event",
	[ST_PRUNE_MAX] =
		"SELECT ifnull(max(seq), 0) FROM event WHERE seq <= ?1 AND captured_at < ?2",
	[ST_DELTA_ADD] = "INSERT INTO ledger_delta(sku, location, lot, uom, milli, seq)"
			 " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_DELTA_SPAN] = "SELECT ifnull(min(id), 0), ifnull(max(id), 0) FROM ledger_delta",
	[ST_FOLD] = "INSERT INTO ledger SELECT sku, location, lot, uom, sum(milli), max(seq)"
		    " FROM ledger_delta WHERE id <= ?1 GROUP BY sku, location, lot, uom"
		    " ORDER BY sku, location, lot, uom"
		    " ON CONFLICT(sku, location, lot, uom) DO UPDATE"
		    " SET on_hand = on_hand + excluded.on_hand, last_seq = excluded.last_seq",
	[ST_FOLD_DEL] = "DELETE FROM ledger_delta WHERE id <= ?1",
	[ST_TOTAL_ALL] = "SELECT kind, count, qty, hash FROM total",
	[ST_TOTAL_SET] = "INSERT INTO total VALUES(?1, ?2, ?3, ?4) ON CONFLICT(kind) DO UPDATE"
			 " SET count = excluded.count, qty = excluded.qty, hash = excluded.hash",
};

/* Translates a SQLite result code, keeping SQLite's message for journal_errmsg. */
wh_err
journal_db_fail(struct journal *j, int rc, const char *what)
{
	snprintf(j->errmsg, sizeof(j->errmsg), "%s: %s", what,
		 j->db ? sqlite3_errmsg(j->db) : sqlite3_errstr(rc));
	switch (rc & 0xff) {
	case SQLITE_NOMEM:
		return WH_ERR_NOMEM;
	case SQLITE_FULL:
		return WH_ERR_FULL;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return WH_ERR_BUSY;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return WH_ERR_CORRUPT;
	case SQLITE_CANTOPEN:
	case SQLITE_IOERR:
	case SQLITE_READONLY:
	case SQLITE_PERM:
		return WH_ERR_IO;
	default:
		return WH_ERR_DB;
	}
}

/* Steps a statement that returns no row, then resets it. */
wh_err
journal_run(struct journal *j, enum stmt s)
{
	int rc = sqlite3_step(j->st[s]);
	wh_err err = WH_OK;

	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		err = journal_db_fail(j, rc, sql[s]);
	sqlite3_reset(j->st[s]);
	sqlite3_clear_bindings(j->st[s]);
	return err;
}

/* Steps a statement expected to return one row (SQLITE_ROW left for the caller to read, then
 * sqlite3_reset). WH_ERR_NOTFOUND if there is none. */
wh_err
journal_row(struct journal *j, enum stmt s)
{
	int rc = sqlite3_step(j->st[s]);

	if (rc == SQLITE_ROW)
		return WH_OK;
	sqlite3_reset(j->st[s]);
	if (rc == SQLITE_DONE)
		return WH_ERR_NOTFOUND;
	return journal_db_fail(j, rc, sql[s]);
}

wh_err
journal_count(struct journal *j, enum stmt s, uint64_t *ret)
{
	wh_err err = journal_row(j, s);

	if (err != WH_OK)
		return err;
	*ret = (uint64_t)sqlite3_column_int64(j->st[s], 0);
	sqlite3_reset(j->st[s]);
	return WH_OK;
}

wh_err
journal_exec(struct journal *j, const char *text)
{
	int rc = sqlite3_exec(j->db, text, NULL, NULL, NULL);

	return rc == SQLITE_OK ? WH_OK : journal_db_fail(j, rc, text);
}

wh_err
journal_meta_get_int(struct journal *j, const char *key, uint64_t *ret)
{
	wh_err err;

	sqlite3_bind_text(j->st[ST_META_GET], 1, key, -1, SQLITE_STATIC);
	err = journal_row(j, ST_META_GET);
	if (err == WH_OK) {
		*ret = (uint64_t)sqlite3_column_int64(j->st[ST_META_GET], 0);
		sqlite3_reset(j->st[ST_META_GET]);
	} else if (err == WH_ERR_NOTFOUND) {
		snprintf(j->errmsg, sizeof(j->errmsg), "meta key %s missing", key);
		err = WH_ERR_CORRUPT;
	}
	return err;
}

wh_err
journal_meta_set_int(struct journal *j, const char *key, uint64_t value)
{
	sqlite3_bind_text(j->st[ST_META_SET], 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(j->st[ST_META_SET], 2, (sqlite3_int64)value);
	return journal_run(j, ST_META_SET);
}

/* meta value that may be absent (added after schema 1 was created): 0 then. */
static wh_err
meta_get_opt(struct journal *j, const char *key, uint64_t *ret)
{
	wh_err err = journal_meta_get_int(j, key, ret);

	if (err == WH_ERR_CORRUPT && strstr(j->errmsg, "missing") != NULL) {
		*ret = 0;
		return WH_OK;
	}
	return err;
}

static wh_err
user_version(struct journal *j, int *ret)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(j->db, "PRAGMA user_version", -1, &s, NULL);

	if (rc != SQLITE_OK)
		return journal_db_fail(j, rc, "PRAGMA user_version");
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*ret = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? WH_OK : journal_db_fail(j, rc, "PRAGMA user_version");
}

static wh_err
count_tables(struct journal *j, int *ret)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(j->db, "SELECT count(*) FROM sqlite_master", -1, &s, NULL);

	if (rc != SQLITE_OK)
		return journal_db_fail(j, rc, "reading the schema");
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*ret = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? WH_OK : journal_db_fail(j, rc, "reading the schema");
}

/* Creates the schema in a new database, with a random journal_id. */
static wh_err
create(struct journal *j)
{
	uint8_t raw[JOURNAL_ID_LEN / 2];
	char id[JOURNAL_ID_LEN + 1], text[256];
	wh_err err;

	if (platform_random(raw, sizeof(raw)) != 0) {
		snprintf(j->errmsg, sizeof(j->errmsg), "no random bytes for the journal id");
		return WH_ERR_IO;
	}
	crypto_hex(raw, sizeof(raw), id);
	err = journal_exec(j, "BEGIN IMMEDIATE");
	if (err != WH_OK)
		return err;
	snprintf(text, sizeof(text), "INSERT INTO meta VALUES('journal_id', '%s');", id);
	if ((err = journal_exec(j, schema_v1)) != WH_OK || (err = journal_exec(j, text)) != WH_OK ||
	    (err = journal_exec(j, schema_v2)) != WH_OK ||
	    (err = journal_exec(j, "COMMIT")) != WH_OK) {
		sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
		return err;
	}
	return WH_OK;
}

/* Brings the schema to SCHEMA_VERSION; refuses foreign and newer files. */
static wh_err
migrate(struct journal *j)
{
	int version = 0, tables = 0;
	wh_err err = user_version(j, &version);

	if (err != WH_OK)
		return err;
	if (version == SCHEMA_VERSION)
		return WH_OK;
	if (version > SCHEMA_VERSION) {
		snprintf(j->errmsg, sizeof(j->errmsg),
			 "journal schema %d is newer than this whagent (%d): upgrade whagent",
			 version, SCHEMA_VERSION);
		return WH_ERR_CORRUPT;
	}
	if (version == 1) {
		if (j->opts.readonly) {
			snprintf(j->errmsg, sizeof(j->errmsg),
				 "journal schema 1 is migrated when the agent next starts");
			return WH_ERR_CORRUPT;
		}
		if ((err = journal_exec(j, "BEGIN IMMEDIATE")) != WH_OK)
			return err;
		if ((err = journal_exec(j, schema_v2)) != WH_OK ||
		    (err = journal_exec(j, "COMMIT")) != WH_OK)
			sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
		return err;
	}
	if ((err = count_tables(j, &tables)) != WH_OK)
		return err;
	if (tables > 0) {
		snprintf(j->errmsg, sizeof(j->errmsg),
			 "the file holds an SQLite database that is not a whagent journal");
		return WH_ERR_CORRUPT;
	}
	if (j->opts.readonly) {
		snprintf(j->errmsg, sizeof(j->errmsg), "the journal has not been created yet");
		return WH_ERR_NOTFOUND;
	}
	return create(j);
}

static wh_err
load_id(struct journal *j)
{
	wh_err err = journal_meta_get(j, "journal_id", j->id, sizeof(j->id));

	if (err == WH_ERR_NOTFOUND) {
		snprintf(j->errmsg, sizeof(j->errmsg), "journal_id missing");
		return WH_ERR_CORRUPT;
	}
	return err;
}

static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return wh_strdup(".");
	if (slash == path)
		return wh_strdup("/");
	return wh_strndup(path, (size_t)(slash - path));
}

static wh_err
configure(struct journal *j)
{
	wh_err err;

	sqlite3_busy_timeout(j->db, 5000);
	if (j->opts.readonly)
		return WH_OK;
	/* auto_vacuum first: once WAL is on, a new database ignores it (no-op when it exists) */
	err = journal_exec(j, "PRAGMA auto_vacuum = INCREMENTAL");
	if (err == WH_OK)
		err = journal_exec(j, "PRAGMA journal_mode = WAL");
	if (err == WH_OK)
		err = journal_exec(j, j->opts.sync_normal ? "PRAGMA synchronous = NORMAL"
							  : "PRAGMA synchronous = FULL");
	return err;
}

wh_err
journal_open(const char *path, const struct journal_opts *o, struct journal **ret_j)
{
	struct journal *j;
	int flags, rc;
	wh_err err;

	j = wh_calloc(1, sizeof(*j));
	if (j == NULL)
		return WH_ERR_NOMEM;
	j->opts = *o;
	j->dir = dir_of(path);
	if (j->dir == NULL) {
		journal_close(j);
		return WH_ERR_NOMEM;
	}
	flags = (o->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
		SQLITE_OPEN_NOMUTEX;
	rc = sqlite3_open_v2(path, &j->db, flags, NULL);
	if (rc != SQLITE_OK) {
		err = journal_db_fail(j, rc, path);
		goto out;
	}
	if ((err = configure(j)) != WH_OK || (err = migrate(j)) != WH_OK)
		goto out;
	for (int s = 0; s < ST_COUNT; s++) {
		rc = sqlite3_prepare_v3(j->db, sql[s], -1, SQLITE_PREPARE_PERSISTENT, &j->st[s],
					NULL);
		if (rc != SQLITE_OK) {
			err = journal_db_fail(j, rc, sql[s]);
			goto out;
		}
	}
	err = load_id(j);
out:
	*ret_j = j;
	return err;
}

void
journal_close(struct journal *j)
{
	if (j == NULL)
		return;
	if (j->in_txn)
		journal_rollback(j);
	sqlite3_finalize(j->snap_page);
	for (int s = 0; s < ST_COUNT; s++)
		sqlite3_finalize(j->st[s]);
	sqlite3_close(j->db);
	wh_free(j->dir);
	wh_free(j);
}

const char *
journal_errmsg(const struct journal *j)
{
	return j->errmsg;
}

const char *
journal_id(const struct journal *j)
{
	return j->id;
}

void
journal_set_limits(struct journal *j, int64_t max_bytes, int64_t reserve_bytes)
{
	j->opts.max_bytes = max_bytes;
	j->opts.reserve_bytes = reserve_bytes;
}

wh_err
journal_start_session(struct journal *j, uint64_t *ret_session)
{
	uint64_t session = 0;
	wh_err err = journal_begin(j);

	if (err == WH_ERR_FULL || err == WH_ERR_PAUSED) { /* the session always advances */
		if ((err = journal_run(j, ST_BEGIN)) != WH_OK)
			return err;
		j->in_txn = 1;
		err = journal_meta_get_int(j, "next_seq", &j->next_seq);
		j->begin_seq = j->next_seq;
	}
	if (err != WH_OK) {
		journal_rollback(j);
		return err;
	}
	if ((err = journal_meta_get_int(j, "session", &session)) != WH_OK ||
	    (err = journal_meta_set_int(j, "session", session + 1)) != WH_OK) {
		journal_rollback(j);
		return err;
	}
	err = journal_commit(j);
	if (err == WH_OK)
		*ret_session = session + 1;
	return err;
}

/* WH_ERR_FULL when the database is at its budget or its file system below the reserve;
 * WH_ERR_PAUSED while capture is paused. */
static wh_err
check_budget(struct journal *j)
{
	uint64_t free_bytes, paused = 0;
	int64_t used;
	wh_err err;

	if (j->opts.max_bytes > 0) {
		if ((err = journal_row(j, ST_SIZE)) != WH_OK)
			return err;
		used = sqlite3_column_int64(j->st[ST_SIZE], 0) -
		       sqlite3_column_int64(j->st[ST_SIZE], 1);
		sqlite3_reset(j->st[ST_SIZE]);
		if (used >= j->opts.max_bytes) {
			snprintf(j->errmsg, sizeof(j->errmsg),
				 "journal holds %" PRId64 " bytes, budget %" PRId64, used,
				 j->opts.max_bytes);
			return WH_ERR_FULL;
		}
	}
	if ((err = meta_get_opt(j, "capture_paused", &paused)) != WH_OK)
		return err;
	if (paused) {
		snprintf(j->errmsg, sizeof(j->errmsg),
			 "capture paused by the central platform (until resume_capture)");
		return WH_ERR_PAUSED;
	}
	if (j->opts.reserve_bytes > 0 && platform_fs_free(j->dir, &free_bytes) == 0 &&
	    free_bytes < (uint64_t)j->opts.reserve_bytes) {
		snprintf(j->errmsg, sizeof(j->errmsg),
			 "%" PRIu64 " bytes free on %s, reserve %" PRId64, free_bytes, j->dir,
			 j->opts.reserve_bytes);
		return WH_ERR_FULL;
	}
	return WH_OK;
}

wh_err
journal_begin(struct journal *j)
{
	wh_err err;

	if (j->opts.readonly) {
		snprintf(j->errmsg, sizeof(j->errmsg), "journal opened read-only");
		return WH_ERR_INVAL;
	}
	if (j->in_txn) {
		snprintf(j->errmsg, sizeof(j->errmsg), "transaction already open");
		return WH_ERR_INVAL;
	}
	if ((err = journal_run(j, ST_BEGIN)) != WH_OK)
		return err;
	j->in_txn = 1;
	j->txn_dups = 0;
	/* Read under the write lock: another process (whagent quarantine requeue) may append. */
	if ((err = journal_meta_get_int(j, "next_seq", &j->next_seq)) != WH_OK ||
	    (err = journal_load_totals(j)) != WH_OK || (err = check_budget(j)) != WH_OK)
		journal_rollback(j);
	j->begin_seq = j->next_seq;
	return err;
}

const double journal_latency_bounds[JOURNAL_LATENCY_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
								0.025,	0.05,  0.1,    0.5,   2.5};

static void
observe(struct journal_latency *h, int64_t us)
{
	double s = (double)us / 1e6;

	for (int i = 0; i < JOURNAL_LATENCY_BUCKETS; i++)
		if (s <= journal_latency_bounds[i])
			h->le[i]++;
	h->count++;
	h->sum_s += s;
}

const struct journal_latency *
journal_commit_latency(const struct journal *j)
{
	return &j->latency;
}

wh_err
journal_commit(struct journal *j)
{
	int64_t t0 = platform_mono_us();
	uint64_t dups = 0;
	wh_err err;

	if (!j->in_txn)
		return WH_OK;
	err = journal_meta_set_int(j, "next_seq", j->next_seq);
	if (err == WH_OK)
		err = journal_save_totals(j);
	if (err == WH_OK && j->txn_dups > 0 &&
	    (err = journal_meta_get_int(j, "duplicates", &dups)) == WH_OK)
		err = journal_meta_set_int(j, "duplicates", dups + j->txn_dups);
	if (err == WH_OK)
		err = journal_run(j, ST_COMMIT);
	if (err != WH_OK) {
		journal_rollback(j);
		return err;
	}
	j->in_txn = 0;
	observe(&j->latency, platform_mono_us() - t0);
	if (j->next_seq != j->begin_seq && j->commit_cb != NULL)
		j->commit_cb(j->commit_arg);
	return WH_OK;
}

void
journal_on_commit(struct journal *j, void (*cb)(void *arg), void *arg)
{
	j->commit_cb = cb;
	j->commit_arg = arg;
}

void
journal_rollback(struct journal *j)
{
	if (!j->in_txn)
		return;
	/* SQLite may already have rolled back (SQLITE_FULL, SQLITE_NOMEM): ignore the result. */
	if (!sqlite3_get_autocommit(j->db))
		journal_run(j, ST_ROLLBACK);
	j->in_txn = 0;
	j->txn_dups = 0;
	j->totals_dirty = 0;
}

uint64_t
journal_next_seq(const struct journal *j)
{
	return j->next_seq;
}

wh_err
journal_need_txn(struct journal *j)
{
	if (j->in_txn)
		return WH_OK;
	snprintf(j->errmsg, sizeof(j->errmsg), "no transaction open");
	return WH_ERR_INVAL;
}

wh_err
journal_append(struct journal *j, const struct journal_event *ev, uint64_t *ret_seq, int *ret_dup)
{
	sqlite3_stmt *s = j->st[ST_INSERT];
	wh_err err;

	if ((err = journal_need_txn(j)) != WH_OK)
		return err;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)j->next_seq);
	sqlite3_bind_text(s, 2, ev->source, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, ev->source_key, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, ev->kind);
	sqlite3_bind_int64(s, 5, ev->captured_at_ms);
	sqlite3_bind_blob(s, 6, ev->payload, (int)ev->len, SQLITE_STATIC);
	if ((err = journal_run(j, ST_INSERT)) != WH_OK)
		return err;
	if (sqlite3_changes(j->db) == 1) {
		*ret_seq = j->next_seq++;
		*ret_dup = 0;
		return ev->event_id ? journal_count_event(j, ev, *ret_seq) : WH_OK;
	}
	sqlite3_bind_text(j->st[ST_FIND], 1, ev->source, -1, SQLITE_STATIC);
	sqlite3_bind_text(j->st[ST_FIND], 2, ev->source_key, -1, SQLITE_STATIC);
	if ((err = journal_row(j, ST_FIND)) != WH_OK)
		return err == WH_ERR_NOTFOUND ? WH_ERR_DB : err;
	*ret_seq = (uint64_t)sqlite3_column_int64(j->st[ST_FIND], 0);
	sqlite3_reset(j->st[ST_FIND]);
	*ret_dup = 1;
	j->txn_dups++;
	return WH_OK;
}

static void
bind_text_or_null(sqlite3_stmt *s, int i, const char *v)
{
	if (v != NULL)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

wh_err
journal_quarantine(struct journal *j, const struct journal_quarantined *q, int64_t *ret_id)
{
	sqlite3_stmt *s = j->st[ST_QUAR_INSERT];
	wh_err err;

	if ((err = journal_need_txn(j)) != WH_OK)
		return err;
	sqlite3_bind_text(s, 1, q->input, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, q->source, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, q->position, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, q->received_at_ms);
	sqlite3_bind_text(s, 5, q->reason, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, q->format, -1, SQLITE_STATIC);
	bind_text_or_null(s, 7, q->context);
	sqlite3_bind_blob(s, 8, q->raw_len ? q->raw : "", (int)q->raw_len, SQLITE_STATIC);
	if ((err = journal_run(j, ST_QUAR_INSERT)) != WH_OK)
		return err;
	if (ret_id != NULL)
		*ret_id = sqlite3_last_insert_rowid(j->db);
	return WH_OK;
}

wh_err
journal_cursor_get(struct journal *j, const char *name, char *buf, size_t len)
{
	const unsigned char *v;
	wh_err err;

	sqlite3_bind_text(j->st[ST_CUR_GET], 1, name, -1, SQLITE_STATIC);
	if ((err = journal_row(j, ST_CUR_GET)) != WH_OK)
		return err;
	v = sqlite3_column_text(j->st[ST_CUR_GET], 0);
	snprintf(buf, len, "%s", v ? (const char *)v : "");
	sqlite3_reset(j->st[ST_CUR_GET]);
	return WH_OK;
}

wh_err
journal_cursor_set(struct journal *j, const char *name, const char *position)
{
	wh_err err = journal_need_txn(j);

	if (err != WH_OK)
		return err;
	sqlite3_bind_text(j->st[ST_CUR_SET], 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(j->st[ST_CUR_SET], 2, position, -1, SQLITE_STATIC);
	sqlite3_bind_int64(j->st[ST_CUR_SET], 3, platform_now_ms());
	return journal_run(j, ST_CUR_SET);
}

wh_err
journal_cursor_delete(struct journal *j, const char *name)
{
	sqlite3_bind_text(j->st[ST_CUR_DEL], 1, name, -1, SQLITE_STATIC);
	return journal_run(j, ST_CUR_DEL);
}

wh_err
journal_cursor_each(struct journal *j, void (*cb)(const char *name, void *arg), void *arg)
{
	sqlite3_stmt *s = j->st[ST_CUR_EACH];
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		cb((const char *)sqlite3_column_text(s, 0), arg);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? WH_OK : journal_db_fail(j, rc, sql[ST_CUR_EACH]);
}

wh_err
journal_read_page(struct journal *j, uint64_t after_seq, int max_events, size_t max_bytes,
		  journal_page_cb cb, void *arg, int *ret_count)
{
	sqlite3_stmt *s = j->st[ST_PAGE];
	size_t bytes = 0;
	int rc, n = 0;

	sqlite3_bind_int64(s, 1, (sqlite3_int64)after_seq);
	sqlite3_bind_int(s, 2, max_events);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const void *p = sqlite3_column_blob(s, 1);
		size_t len = (size_t)sqlite3_column_bytes(s, 1);

		if (n > 0 && bytes + len > max_bytes)
			break;
		cb((uint64_t)sqlite3_column_int64(s, 0), p, len, arg);
		bytes += len;
		n++;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return journal_db_fail(j, rc, sql[ST_PAGE]);
	*ret_count = n;
	return WH_OK;
}

/* Runs fn inside its own transaction unless one is open. */
static wh_err
in_txn(struct journal *j, wh_err (*fn)(struct journal *, uint64_t, int64_t *), uint64_t v,
       int64_t *ret)
{
	int own = !j->in_txn;
	wh_err err;

	if (own) {
		if ((err = journal_run(j, ST_BEGIN)) != WH_OK)
			return err;
		j->in_txn = 1;
	}
	err = fn(j, v, ret);
	if (own) {
		if (err == WH_OK && (err = journal_run(j, ST_COMMIT)) == WH_OK)
			j->in_txn = 0;
		else
			journal_rollback(j);
	}
	return err;
}

static wh_err
do_ack(struct journal *j, uint64_t through, int64_t *unused)
{
	uint64_t acked, next;
	wh_err err;

	(void)unused;
	if ((err = journal_meta_get_int(j, "acked_through", &acked)) != WH_OK ||
	    (err = journal_meta_get_int(j, "next_seq", &next)) != WH_OK)
		return err;
	if (through >= next)
		through = next - 1;
	return through > acked ? journal_meta_set_int(j, "acked_through", through) : WH_OK;
}

wh_err
journal_ack(struct journal *j, uint64_t through)
{
	return in_txn(j, do_ack, through, NULL);
}

static wh_err
do_prune(struct journal *j, uint64_t through, int64_t *ret_deleted)
{
	uint64_t acked;
	wh_err err;

	if ((err = journal_meta_get_int(j, "acked_through", &acked)) != WH_OK)
		return err;
	sqlite3_bind_int64(j->st[ST_PRUNE], 1, (sqlite3_int64)(through < acked ? through : acked));
	if ((err = journal_run(j, ST_PRUNE)) == WH_OK && ret_deleted != NULL)
		*ret_deleted = sqlite3_changes64(j->db);
	return err;
}

wh_err
journal_prune(struct journal *j, uint64_t through, int64_t *ret_deleted)
{
	return in_txn(j, do_prune, through, ret_deleted);
}

static wh_err
do_prune_retained(struct journal *j, uint64_t cutoff, int64_t *ret_deleted)
{
	sqlite3_stmt *s = j->st[ST_PRUNE_MAX];
	uint64_t acked, through;
	wh_err err;

	if ((err = journal_meta_get_int(j, "acked_through", &acked)) != WH_OK)
		return err;
	if (acked > j->prune_limit)
		acked = j->prune_limit;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)acked);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)cutoff);
	if ((err = journal_row(j, ST_PRUNE_MAX)) != WH_OK)
		return err;
	through = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return do_prune(j, through, ret_deleted);
}

wh_err
journal_prune_retained(struct journal *j, int64_t cutoff_ms, uint64_t limit, int64_t *ret_deleted)
{
	int64_t deleted = 0;
	wh_err err;

	j->prune_limit = limit;
	err = in_txn(j, do_prune_retained, (uint64_t)cutoff_ms, &deleted);
	if (err == WH_OK && deleted > 0 && !j->in_txn)
		err = journal_exec(j, "PRAGMA incremental_vacuum");
	if (err == WH_OK && ret_deleted != NULL)
		*ret_deleted = deleted;
	return err;
}

wh_err
journal_first_seq(struct journal *j, uint64_t *ret_seq)
{
	return journal_count(j, ST_FIRST_SEQ, ret_seq);
}

static wh_err
do_pause(struct journal *j, uint64_t paused, int64_t *unused)
{
	(void)unused;
	return journal_meta_set_int(j, "capture_paused", paused);
}

wh_err
journal_set_capture_paused(struct journal *j, int paused)
{
	return in_txn(j, do_pause, paused != 0, NULL);
}

static wh_err
do_platform_ack(struct journal *j, uint64_t through, int64_t *unused)
{
	uint64_t acked, next;
	wh_err err;

	(void)unused;
	if ((err = meta_get_opt(j, "platform_acked_through", &acked)) != WH_OK ||
	    (err = journal_meta_get_int(j, "next_seq", &next)) != WH_OK)
		return err;
	if (through >= next)
		through = next - 1;
	return through > acked ? journal_meta_set_int(j, "platform_acked_through", through) : WH_OK;
}

wh_err
journal_platform_ack(struct journal *j, uint64_t through)
{
	return in_txn(j, do_platform_ack, through, NULL);
}

wh_err
journal_meta_get(struct journal *j, const char *key, char *buf, size_t len)
{
	const unsigned char *v;
	wh_err err;

	sqlite3_bind_text(j->st[ST_META_GET], 1, key, -1, SQLITE_STATIC);
	if ((err = journal_row(j, ST_META_GET)) != WH_OK)
		return err;
	v = sqlite3_column_text(j->st[ST_META_GET], 0);
	snprintf(buf, len, "%s", v ? (const char *)v : "");
	sqlite3_reset(j->st[ST_META_GET]);
	return WH_OK;
}

wh_err
journal_meta_set(struct journal *j, const char *key, const char *value)
{
	sqlite3_bind_text(j->st[ST_META_SET], 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(j->st[ST_META_SET], 2, value, -1, SQLITE_STATIC);
	return journal_run(j, ST_META_SET);
}

/* Reads the statistics; in one read transaction so the figures agree with each other. */
static wh_err
read_stats(struct journal *j, struct journal_stats *st)
{
	uint64_t next;
	wh_err err;

	snprintf(st->journal_id, sizeof(st->journal_id), "%s", j->id);
	if ((err = journal_meta_get_int(j, "next_seq", &next)) != WH_OK ||
	    (err = journal_meta_get_int(j, "acked_through", &st->acked_through)) != WH_OK ||
	    (err = journal_meta_get_int(j, "session", &st->session)) != WH_OK ||
	    (err = journal_meta_get_int(j, "duplicates", &st->duplicates)) != WH_OK ||
	    (err = meta_get_opt(j, "platform_acked_through", &st->platform_acked_through)) !=
		    WH_OK ||
	    (err = journal_count(j, ST_QUAR_COUNT, &st->quarantined)) != WH_OK)
		return err;
	st->last_seq = next - 1;
	st->backlog = st->last_seq - st->acked_through;
	sqlite3_bind_int64(j->st[ST_CAPTURED_AT], 1, (sqlite3_int64)st->acked_through + 1);
	err = journal_row(j, ST_CAPTURED_AT);
	if (err == WH_OK) {
		st->oldest_unsent_ms = sqlite3_column_int64(j->st[ST_CAPTURED_AT], 0);
		sqlite3_reset(j->st[ST_CAPTURED_AT]);
	} else if (err != WH_ERR_NOTFOUND) {
		return err;
	}
	if ((err = journal_row(j, ST_SIZE)) != WH_OK)
		return err;
	st->bytes = sqlite3_column_int64(j->st[ST_SIZE], 0);
	sqlite3_reset(j->st[ST_SIZE]);
	return WH_OK;
}

wh_err
journal_stats(struct journal *j, struct journal_stats *ret)
{
	struct journal_stats st = {0};
	int own = !j->in_txn && sqlite3_get_autocommit(j->db);
	wh_err err;

	if (own && (err = journal_exec(j, "BEGIN")) != WH_OK)
		return err;
	err = read_stats(j, &st);
	if (own)
		sqlite3_exec(j->db, "COMMIT", NULL, NULL, NULL);
	if (err == WH_OK)
		*ret = st;
	return err;
}

void
journal_read_quarantined(sqlite3_stmt *s, struct journal_quarantined *q)
{
	memset(q, 0, sizeof(*q));
	q->id = sqlite3_column_int64(s, 0);
	q->input = (const char *)sqlite3_column_text(s, 1);
	q->source = (const char *)sqlite3_column_text(s, 2);
	q->position = (const char *)sqlite3_column_text(s, 3);
	q->received_at_ms = sqlite3_column_int64(s, 4);
	q->reason = (const char *)sqlite3_column_text(s, 5);
	q->format = (const char *)sqlite3_column_text(s, 6);
	q->context = (const char *)sqlite3_column_text(s, 7);
	q->raw = sqlite3_column_blob(s, 8);
	q->raw_len = (size_t)sqlite3_column_bytes(s, 8);
}

wh_err
journal_quarantine_list(struct journal *j, journal_quarantine_cb cb, void *arg)
{
	sqlite3_stmt *s = j->st[ST_QUAR_LIST];
	struct journal_quarantined q;
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		journal_read_quarantined(s, &q);
		cb(&q, arg);
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? WH_OK : journal_db_fail(j, rc, sql[ST_QUAR_LIST]);
}

wh_err
journal_quarantine_get(struct journal *j, int64_t id, journal_quarantine_cb cb, void *arg)
{
	struct journal_quarantined q;
	wh_err err;

	sqlite3_bind_int64(j->st[ST_QUAR_GET], 1, id);
	if ((err = journal_row(j, ST_QUAR_GET)) != WH_OK)
		return err;
	journal_read_quarantined(j->st[ST_QUAR_GET], &q);
	cb(&q, arg);
	sqlite3_reset(j->st[ST_QUAR_GET]);
	return WH_OK;
}

wh_err
journal_quarantine_delete(struct journal *j, int64_t id)
{
	wh_err err;

	sqlite3_bind_int64(j->st[ST_QUAR_DEL], 1, id);
	if ((err = journal_run(j, ST_QUAR_DEL)) != WH_OK)
		return err;
	return sqlite3_changes(j->db) == 1 ? WH_OK : WH_ERR_NOTFOUND;
}
