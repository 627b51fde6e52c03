/* The journal's SQL, all of it: the schema and its migrations, the statements prepared once at
 * open (and reset after each use), the text run once (snapshots, salvage), and the helpers
 * that step statements and read and write meta values. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "journal_int.h"
#include "platform.h"

#define SCHEMA_VERSION 3

/* The bytes a quarantined row keeps, roughly: what its bounds count. */
#define QUAR_ROW_BYTES                                                                             \
	"length(raw) + length(reason) + length(position) + ifnull(length(context), 0)"

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

/* The journal id of a new journal (hex digits only). */
static const char schema_id[] = "INSERT INTO meta VALUES('journal_id', '%s');";

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

/* 3: a quarantined record keeps a bounded prefix of its raw bytes (raw), their full length
 * and SHA-256 (hex); rows of earlier versions hold all of theirs (raw_len NULL). */
static const char schema_v3[] = "ALTER TABLE quarantine ADD COLUMN raw_len INTEGER;"
				"ALTER TABLE quarantine ADD COLUMN raw_sha256 TEXT;"
				"PRAGMA user_version = 3;";

static const char *const sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_BEGIN_READ] = "BEGIN",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVEPOINT] = "SAVEPOINT nested",
	[ST_RELEASE] = "RELEASE nested",
	[ST_ROLLBACK_TO] = "ROLLBACK TO nested",
	[ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[ST_META_SET] = "INSERT INTO meta(key, value) VALUES(?1, ?2)"
			" ON CONFLICT(key) DO UPDATE SET value = excluded.value",
	/* live state that earlier versions kept in meta (now in the live-state file) */
	[ST_META_TIDY] = "DELETE FROM meta WHERE key IN ('mqtt_state', 'mqtt_since_ms',"
			 " 'mqtt_last_connect_ms', 'mqtt_last_error', 'backfill_through')",
	[ST_INSERT] = "INSERT INTO event(seq, source, source_key, kind, captured_at, payload)"
		      " VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(source, source_key) DO NOTHING",
	[ST_FIND] = "SELECT seq FROM event WHERE source = ?1 AND source_key = ?2",
	[ST_QUAR_INSERT] = "INSERT INTO quarantine(input, source, position, received_at, reason,"
			   " format, context, raw, raw_len, raw_sha256)"
			   " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[ST_QUAR_LIST] =
		"SELECT id, input, source, position, received_at, reason, format, context,"
		" NULL, ifnull(raw_len, length(raw)), raw_sha256 FROM quarantine ORDER BY id",
	[ST_QUAR_GET] =
		"SELECT id, input, source, position, received_at, reason, format, context,"
		" raw, ifnull(raw_len, length(raw)), raw_sha256 FROM quarantine WHERE id = ?1",
	/* what the quarantine holds: rows, and bytes of what it keeps of each */
	[ST_QUAR_TOTALS] = "SELECT count(*), ifnull(sum(" QUAR_ROW_BYTES "), 0) FROM quarantine",
	[ST_QUAR_OLDEST] = "SELECT id, " QUAR_ROW_BYTES " FROM quarantine ORDER BY id",
	[ST_QUAR_DEL_THROUGH] = "DELETE FROM quarantine WHERE id <= ?1",
	[ST_QUAR_DEL] = "DELETE FROM quarantine WHERE id = ?1",
	[ST_DATA_VERSION] = "PRAGMA data_version",
	[ST_QUAR_REASON] = "UPDATE quarantine SET reason = ?2 WHERE id = ?1",
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
	/* the first event still retained: a step or two, not a scan of all those retained */
	[ST_PRUNE_MAX] = "SELECT seq FROM event WHERE seq <= ?1 AND captured_at >= ?2"
			 " AND captured_at < ?3 ORDER BY seq LIMIT 1",
	[ST_DELTA_ADD] = "INSERT INTO ledger_delta(sku, location, lot, uom, milli, seq)"
			 " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	/* DELTA_ROWS rows: one step for sixteen (a step costs more than the row it writes) */
	[ST_DELTA_ADD_MANY] = "INSERT INTO ledger_delta(sku, location, lot, uom, milli, seq)"
			      " VALUES(?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?),"
			      " (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?),"
			      " (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?),"
			      " (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?),"
			      " (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?),"
			      " (?, ?, ?, ?, ?, ?)",
	/* two subqueries: min() and max() together in one would scan the table */
	[ST_DELTA_SPAN] = "SELECT ifnull((SELECT min(id) FROM ledger_delta), 0),"
			  " ifnull((SELECT max(id) FROM ledger_delta), 0)",
	/* no GROUP BY: the upsert adds up the changes of one key as well, and a sort alone
	 * costs half of a sort with aggregation (the fold was a third of capture's work) */
	[ST_FOLD] = "INSERT INTO ledger SELECT sku, location, lot, uom, milli, seq"
		    " FROM ledger_delta WHERE id <= ?1 ORDER BY sku, location, lot, uom"
		    " ON CONFLICT(sku, location, lot, uom) DO UPDATE"
		    " SET on_hand = on_hand + excluded.on_hand,"
		    " last_seq = max(last_seq, excluded.last_seq)",
	[ST_FOLD_DEL] = "DELETE FROM ledger_delta WHERE id <= ?1",
	/* no WHERE: SQLite frees the table's pages whole instead of deleting row by row (a
	 * sixth of the fold) */
	[ST_FOLD_CLEAR] = "DELETE FROM ledger_delta",
	[ST_TOTAL_ALL] = "SELECT kind, count, qty, hash FROM total",
	[ST_TOTAL_SET] = "INSERT INTO total VALUES(?1, ?2, ?3, ?4) ON CONFLICT(kind) DO UPDATE"
			 " SET count = excluded.count, qty = excluded.qty, hash = excluded.hash",
};

/* Every balance change: the folded rows and the deltas not folded yet. */
#define LEDGER_ROWS                                                                                \
	"SELECT sku, location, lot, uom, on_hand, last_seq FROM ledger UNION ALL"                  \
	" SELECT sku, location, lot, uom, milli, seq FROM ledger_delta"

const char journal_sql_ledger_rows[] = LEDGER_ROWS;

/* A snapshot's copy: the rows alone when every change is folded (a copy in key order), else
 * rows and changes summed (a sort of them all: several times slower). */
const char journal_sql_snapshot_rows[] = "DROP TABLE IF EXISTS temp.snapshot;"
					 "CREATE TEMP TABLE snapshot AS SELECT sku, location, lot,"
					 " uom, on_hand, last_seq FROM ledger WHERE on_hand != 0"
					 " ORDER BY sku, location, lot, uom";
const char journal_sql_snapshot_summed[] =
	"DROP TABLE IF EXISTS temp.snapshot;"
	"CREATE TEMP TABLE snapshot AS SELECT sku, location, lot, uom,"
	" sum(on_hand) AS on_hand, max(last_seq) AS last_seq FROM (" LEDGER_ROWS ")"
	" GROUP BY sku, location, lot, uom HAVING sum(on_hand) != 0"
	" ORDER BY sku, location, lot, uom";
const char journal_sql_snapshot_count[] = "SELECT count(*) FROM temp.snapshot";
const char journal_sql_snapshot_page[] =
	"SELECT rowid, sku, location, lot, uom, on_hand, last_seq"
	" FROM temp.snapshot WHERE rowid > ?1 ORDER BY rowid LIMIT ?2";
const char journal_sql_snapshot_drop[] = "DROP TABLE IF EXISTS temp.snapshot";

/* Reading a damaged journal back, and checking one. */
const char journal_sql_salvage_watermark[] = "SELECT value FROM meta WHERE key = 'acked_through'";
const char journal_sql_salvage_forward[] = "SELECT seq, source, source_key, kind, captured_at,"
					   " payload FROM event WHERE seq > ?1 ORDER BY seq";
const char journal_sql_salvage_backward[] = "SELECT seq, source, source_key, kind, captured_at,"
					    " payload FROM event WHERE seq > ?1 ORDER BY seq DESC";
const char journal_sql_salvage_quarantine[] = "SELECT id, input, source, position, received_at,"
					      " reason, format, context, raw FROM quarantine"
					      " ORDER BY id";
const char journal_sql_salvage_quarantine_v3[] =
	"SELECT id, input, source, position, received_at, reason, format, context, raw,"
	" ifnull(raw_len, length(raw)), raw_sha256 FROM quarantine ORDER BY id";
const char journal_sql_quick_check[] = "PRAGMA quick_check(1)";
/* Run to the end with journal_exec: a prepared step frees one page at a time. */
const char journal_sql_incremental_vacuum[] = "PRAGMA incremental_vacuum";

/* quarantine purge --all | --before TIME, and the checkpoint that gives the WAL's space back */
const char journal_sql_quarantine_purge[] = "DELETE FROM quarantine WHERE received_at < ?1";
const char journal_sql_checkpoint_truncate[] = "PRAGMA wal_checkpoint(TRUNCATE)";

/* --- steps and rows -------------------------------------------------------------------- */

wh_err
journal_db_fail(struct journal *j, int rc, const char *what)
{
	wh_err err;

	snprintf(j->errmsg, sizeof(j->errmsg), "%s: %s", what,
		 j->db ? sqlite3_errmsg(j->db) : sqlite3_errstr(rc));
	switch (rc & 0xff) {
	case SQLITE_NOMEM:
		err = WH_ERR_NOMEM;
		break;
	case SQLITE_FULL:
		err = WH_ERR_FULL;
		break;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		err = WH_ERR_BUSY;
		break;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		err = WH_ERR_CORRUPT;
		break;
	case SQLITE_CANTOPEN:
	case SQLITE_IOERR:
	case SQLITE_READONLY:
	case SQLITE_PERM:
		err = WH_ERR_IO;
		break;
	default:
		err = WH_ERR_DB;
		break;
	}
	/* SQLite may have rolled the whole transaction back: nothing of it may go on */
	if (j->depth > 0 && j->lost == WH_OK && j->db != NULL && sqlite3_get_autocommit(j->db))
		j->lost = err;
	return err;
}

wh_err
journal_fail(struct journal *j, wh_err err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(j->errmsg, sizeof(j->errmsg), fmt, ap);
	va_end(ap);
	return err;
}

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

/* --- meta ------------------------------------------------------------------------------ */

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
		journal_fail(j, err, "meta key %s missing", key);
	}
	return err;
}

wh_err
journal_meta_need_int(struct journal *j, const char *key, uint64_t *ret)
{
	wh_err err = journal_meta_get_int(j, key, ret);

	return err == WH_ERR_NOTFOUND ? WH_ERR_CORRUPT : err;
}

wh_err
journal_meta_opt_int(struct journal *j, const char *key, uint64_t *ret)
{
	wh_err err = journal_meta_get_int(j, key, ret);

	if (err == WH_ERR_NOTFOUND) {
		*ret = 0;
		return WH_OK;
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

/* --- connection and schema -----------------------------------------------------------*/

static wh_err query_int(struct journal *j, const char *text, int *ret);

wh_err
journal_sql_configure(struct journal *j)
{
	int pages = 0;
	wh_err err;

	sqlite3_busy_timeout(j->db, 5000);
	if (j->opts.readonly)
		return WH_OK;
	/* auto_vacuum first (once WAL is on, a new database ignores it), and only in a new
	 * database: on an existing one it writes, and a full disk must not stop a start */
	err = query_int(j, "PRAGMA page_count", &pages);
	if (err == WH_OK && pages == 0)
		err = journal_exec(j, "PRAGMA auto_vacuum = INCREMENTAL");
	if (err == WH_OK)
		err = journal_exec(j, "PRAGMA journal_mode = WAL");
	/* checkpoints every 32 MiB of WAL, not 4: a checkpoint copies only pages still in the
	 * file, so events acknowledged and pruned between two (a live uplink) are never written
	 * twice (whole-life bytes per event 1,085 -> 824). The WAL is outside max_bytes: a
	 * small budget keeps SQLite's 4 MiB (at most a sixteenth of the budget above that). */
	if (err == WH_OK) {
		int64_t ckpt = j->opts.max_bytes > 0 ? j->opts.max_bytes / 16 / 4096 : 8192;
		char text[64];

		snprintf(text, sizeof(text), "PRAGMA wal_autocheckpoint = %d",
			 (int)(ckpt < 1000   ? 1000
			       : ckpt > 8192 ? 8192
					     : ckpt));
		err = journal_exec(j, text);
	}
	if (err == WH_OK)
		err = journal_exec(j, j->opts.sync_normal ? "PRAGMA synchronous = NORMAL"
							  : "PRAGMA synchronous = FULL");
	return err;
}

/* The first integer column of the one row text returns. */
static wh_err
query_int(struct journal *j, const char *text, int *ret)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(j->db, text, -1, &s, NULL);

	if (rc != SQLITE_OK)
		return journal_db_fail(j, rc, text);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*ret = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? WH_OK : journal_db_fail(j, rc, text);
}

/* Creates the schema in a new database, with a random journal_id. */
static wh_err
create(struct journal *j)
{
	uint8_t raw[JOURNAL_ID_LEN / 2];
	char id[JOURNAL_ID_LEN + 1], text[128];
	wh_err err;

	if (platform_random(raw, sizeof(raw)) != 0)
		return journal_fail(j, WH_ERR_IO, "no random bytes for the journal id");
	crypto_hex(raw, sizeof(raw), id);
	snprintf(text, sizeof(text), schema_id, id);
	if ((err = journal_txn_begin(j, JOURNAL_TXN_SCHEMA)) != WH_OK)
		return err;
	if ((err = journal_exec(j, schema_v1)) == WH_OK && (err = journal_exec(j, text)) == WH_OK &&
	    (err = journal_exec(j, schema_v2)) == WH_OK)
		err = journal_exec(j, schema_v3);
	return journal_txn_end(j, err);
}

wh_err
journal_sql_migrate(struct journal *j)
{
	int version = 0, tables = 0;
	wh_err err = query_int(j, "PRAGMA user_version", &version);

	if (err != WH_OK || version == SCHEMA_VERSION)
		return err;
	if (version > SCHEMA_VERSION)
		return journal_fail(j, WH_ERR_CORRUPT,
				    "journal schema %d is newer than this whagent (%d): upgrade "
				    "whagent",
				    version, SCHEMA_VERSION);
	if (version == 1) {
		if (j->opts.readonly)
			return journal_fail(j, WH_ERR_CORRUPT,
					    "journal schema 1 is migrated when the agent next "
					    "starts");
		if ((err = journal_txn_begin(j, JOURNAL_TXN_SCHEMA)) != WH_OK)
			return err;
		if ((err = journal_exec(j, schema_v2)) == WH_OK)
			err = journal_exec(j, schema_v3);
		return journal_txn_end(j, err);
	}
	if (version == 2) {
		if (j->opts.readonly)
			return journal_fail(j, WH_ERR_CORRUPT,
					    "journal schema 2 is migrated when the agent next "
					    "starts");
		if ((err = journal_txn_begin(j, JOURNAL_TXN_SCHEMA)) != WH_OK)
			return err;
		return journal_txn_end(j, journal_exec(j, schema_v3));
	}
	if ((err = query_int(j, "SELECT count(*) FROM sqlite_master", &tables)) != WH_OK)
		return err;
	if (tables > 0)
		return journal_fail(j, WH_ERR_CORRUPT,
				    "the file holds an SQLite database that is not a whagent "
				    "journal");
	if (j->opts.readonly)
		return journal_fail(j, WH_ERR_NOTFOUND, "the journal has not been created yet");
	return create(j);
}

/* --- statements ------------------------------------------------------------------------ */

static wh_err
prepare_range(struct journal *j, int from, int to)
{
	for (int s = from; s < to; s++) {
		int rc;

		if (j->st[s] != NULL)
			continue;
		rc = sqlite3_prepare_v3(j->db, sql[s], -1, SQLITE_PREPARE_PERSISTENT, &j->st[s],
					NULL);
		if (rc != SQLITE_OK)
			return journal_db_fail(j, rc, sql[s]);
	}
	return WH_OK;
}

wh_err
journal_sql_prepare_txn(struct journal *j)
{
	return prepare_range(j, ST_BEGIN, ST_ROLLBACK_TO + 1);
}

wh_err
journal_sql_prepare(struct journal *j)
{
	return prepare_range(j, 0, ST_COUNT);
}

void
journal_sql_finalize(struct journal *j)
{
	for (int s = 0; s < ST_COUNT; s++) {
		sqlite3_finalize(j->st[s]);
		j->st[s] = NULL;
	}
}
