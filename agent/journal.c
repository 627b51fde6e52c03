/* The journal: opening and closing it, the one place that opens and ends transactions (and
 * decides what each kind checks and keeps), appends, pages, watermarks and pruning, cursors,
 * quarantine, meta and statistics. The SQL is in journal_sql.c; the ledger's part in
 * journal_ledger.c. Marking events sent never rewrites event rows: the watermark is in meta. */
#include "journal.h"

#include <fcntl.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "journal_cursor.h"
#include "journal_event.h"
#include "journal_int.h"
#include "journal_meta.h"
#include "journal_quarantine.h"
#include "mem.h"
#include "platform.h"

/* --- open and close -------------------------------------------------------------------- */

static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	/* "." for a bare name, "/" for a file in the root */
	return wh_strndup(slash ? path : ".", slash && slash > path ? (size_t)(slash - path) : 1);
}

static wh_err
load_id(struct journal *j)
{
	wh_err err = journal_meta_get(j, "journal_id", j->id, sizeof(j->id));

	return err == WH_ERR_NOTFOUND ? journal_fail(j, WH_ERR_CORRUPT, "journal_id missing") : err;
}

wh_err
journal_open(const char *path, const struct journal_opts *o, struct journal **ret_j)
{
	struct journal *j;
	int flags, rc, fd;
	wh_err err;

	/* Before SQLite initialises (a no-op after): no allocation statistics, whose global
	 * mutex every allocation took (2% of capture; nothing reads them). */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
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
	/* a new journal is the service's alone whatever the umask: SQLite gives its -wal and
	 * -shm files the database file's mode */
	if (!o->readonly && (fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) >= 0)
		close(fd);
	rc = sqlite3_open_v2(path, &j->db, flags, NULL);
	if (rc != SQLITE_OK) {
		err = journal_db_fail(j, rc, path);
		goto out;
	}
	if ((err = journal_sql_configure(j)) == WH_OK &&
	    (err = journal_sql_prepare_txn(j)) == WH_OK &&
	    (err = journal_sql_migrate(j)) == WH_OK && (err = journal_sql_prepare(j)) == WH_OK)
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
	while (j->depth > 0)
		journal_txn_end(j, WH_ERR_INVAL);
	sqlite3_finalize(j->snap_page);
	journal_sql_finalize(j);
	sqlite3_close(j->db);
	journal_changes_free(j);
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
journal_set_limits(struct journal *j, const struct journal_opts *o)
{
	j->opts.max_bytes = o->max_bytes;
	j->opts.reserve_bytes = o->reserve_bytes;
	j->opts.quarantine_max_rows = o->quarantine_max_rows;
	j->opts.quarantine_max_bytes = o->quarantine_max_bytes;
	j->opts.quarantine_raw_max = o->quarantine_raw_max;
}

/* --- transactions ---------------------------------------------------------------------- */

/* Below this much room in the budget an APPEND transaction is refused at its start. */
#define ROOM_MIN 1024

wh_err
journal_room(struct journal *j)
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
		j->txn.room = j->opts.max_bytes - used;	 /* spent record by record */
		if (used + ROOM_MIN > j->opts.max_bytes) /* not even a small record fits */
			return journal_fail(j, WH_ERR_FULL,
					    "journal holds %" PRId64 " bytes, budget %" PRId64,
					    used, j->opts.max_bytes);
	}
	if ((err = journal_meta_opt_int(j, "capture_paused", &paused)) != WH_OK)
		return err;
	if (paused)
		return journal_fail(j, WH_ERR_PAUSED,
				    "capture paused by the central platform (until "
				    "resume_capture)");
	if (j->opts.reserve_bytes > 0 && platform_fs_free(j->dir, &free_bytes) == 0 &&
	    free_bytes < (uint64_t)j->opts.reserve_bytes)
		return journal_fail(j, WH_ERR_FULL,
				    "%" PRIu64 " bytes free on %s, reserve %" PRId64, free_bytes,
				    j->dir, j->opts.reserve_bytes);
	return WH_OK;
}

static int
writes(enum journal_txn kind)
{
	return kind == JOURNAL_TXN_APPEND || kind == JOURNAL_TXN_MAINTENANCE;
}

static void
rollback_outer(struct journal *j)
{
	/* SQLite may already have rolled back (SQLITE_FULL, SQLITE_NOMEM): ignore the result. */
	if (!sqlite3_get_autocommit(j->db))
		journal_run(j, ST_ROLLBACK);
	j->depth = 0;
	j->reads = 0;
	j->lost = WH_OK;
	memset(&j->txn, 0, sizeof(j->txn));
}

static wh_err
begin_outer(struct journal *j, enum journal_txn kind)
{
	wh_err err = journal_run(j, kind == JOURNAL_TXN_READ ? ST_BEGIN_READ : ST_BEGIN);

	if (err != WH_OK)
		return err;
	j->depth = 1;
	j->kind = kind;
	memset(&j->txn, 0, sizeof(j->txn));
	if (writes(kind)) {
		journal_changes_rehash(j); /* none yet */
		/* read under the write lock: another process may have appended */
		err = journal_meta_need_int(j, "next_seq", &j->txn.next_seq);
		j->begin_seq = j->txn.next_seq;
	}
	if (err == WH_OK && kind == JOURNAL_TXN_APPEND)
		err = journal_room(j);
	if (err != WH_OK)
		rollback_outer(j);
	return err;
}

static wh_err
begin_inner(struct journal *j, enum journal_txn kind)
{
	wh_err err;

	if (j->lost != WH_OK)
		return j->lost;
	if (kind == JOURNAL_TXN_READ) {
		j->reads++;
		return WH_OK;
	}
	if (j->depth > 1 || kind == JOURNAL_TXN_SCHEMA || j->kind == JOURNAL_TXN_SCHEMA)
		return journal_fail(j, WH_ERR_INVAL, "transactions nest one deep");
	if (j->reads > 0 || !writes(j->kind))
		return journal_fail(j, WH_ERR_INVAL, "a write inside a read transaction");
	if (kind == JOURNAL_TXN_APPEND && (err = journal_room(j)) != WH_OK)
		return err;
	if ((err = journal_run(j, ST_SAVEPOINT)) != WH_OK)
		return err;
	j->saved = j->txn;
	j->depth = 2;
	return WH_OK;
}

wh_err
journal_txn_begin(struct journal *j, enum journal_txn kind)
{
	if (j->opts.readonly && kind != JOURNAL_TXN_READ)
		return journal_fail(j, WH_ERR_INVAL, "journal opened read-only");
	return j->depth == 0 ? begin_outer(j, kind) : begin_inner(j, kind);
}

static wh_err
end_inner(struct journal *j, wh_err err)
{
	j->depth = 1;
	if (j->lost != WH_OK)
		return err != WH_OK ? err : j->lost;
	if (err == WH_OK)
		err = journal_run(j, ST_RELEASE);
	if (err != WH_OK) {
		if (!sqlite3_get_autocommit(j->db)) {
			journal_run(j, ST_ROLLBACK_TO);
			journal_run(j, ST_RELEASE);
		}
		j->txn = j->saved;
		journal_changes_rehash(j);
	}
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

/* What a write transaction keeps besides its rows: next_seq, totals, duplicates. */
static wh_err
save_counters(struct journal *j)
{
	uint64_t dups = 0;
	wh_err err = WH_OK;

	if (j->txn.next_seq != j->begin_seq)
		err = journal_meta_set_int(j, "next_seq", j->txn.next_seq);
	if (err == WH_OK && j->txn.quarantined > 0)
		err = journal_quarantine_bound(j);
	if (err == WH_OK)
		err = journal_save_changes(j);
	if (err == WH_OK)
		err = journal_save_totals(j);
	if (err == WH_OK && j->txn.dups > 0 &&
	    (err = journal_meta_need_int(j, "duplicates", &dups)) == WH_OK)
		err = journal_meta_set_int(j, "duplicates", dups + j->txn.dups);
	return err;
}

static wh_err
commit_outer(struct journal *j)
{
	int64_t t0 = platform_mono_us();
	int appended = writes(j->kind) && j->txn.next_seq != j->begin_seq;
	wh_err err = j->lost;

	if (err == WH_OK && writes(j->kind))
		err = save_counters(j);
	if (err == WH_OK)
		err = journal_run(j, ST_COMMIT);
	if (err != WH_OK) {
		rollback_outer(j);
		return err;
	}
	if (j->kind == JOURNAL_TXN_APPEND) /* the inputs' group commits */
		observe(&j->latency, platform_mono_us() - t0);
	j->depth = 0;
	memset(&j->txn, 0, sizeof(j->txn));
	if (appended && j->commit_cb != NULL)
		j->commit_cb(j->commit_arg);
	return WH_OK;
}

wh_err
journal_txn_end(struct journal *j, wh_err err)
{
	if (j->depth == 0)
		return err != WH_OK ? err : journal_fail(j, WH_ERR_INVAL, "no transaction open");
	if (j->reads > 0) {
		j->reads--;
		return err;
	}
	if (j->depth == 2)
		return end_inner(j, err);
	if (err == WH_OK)
		return commit_outer(j);
	rollback_outer(j);
	return err;
}

const struct journal_latency *
journal_commit_latency(const struct journal *j)
{
	return &j->latency;
}

void
journal_on_commit(struct journal *j, void (*cb)(void *arg), void *arg)
{
	j->commit_cb = cb;
	j->commit_arg = arg;
}

int64_t
journal_data_version(struct journal *j)
{
	sqlite3_stmt *s = j->st[ST_DATA_VERSION];
	int64_t v = -1;

	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return v;
}

wh_err
journal_need_write(struct journal *j)
{
	if (j->depth > 0 && writes(j->kind))
		return j->lost;
	return journal_fail(j, WH_ERR_INVAL, "no write transaction open");
}

/* --- events ---------------------------------------------------------------------------- */

uint64_t
journal_next_seq(const struct journal *j)
{
	return j->txn.next_seq;
}

wh_err
journal_append(struct journal *j, const struct journal_event *ev, uint64_t *ret_seq, int *ret_dup)
{
	sqlite3_stmt *s = j->st[ST_INSERT];
	wh_err err;

	if ((err = journal_need_write(j)) != WH_OK ||
	    (err = journal_spend(j, ev->len + strlen(ev->source_key) + 64)) != WH_OK)
		return err;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)j->txn.next_seq);
	sqlite3_bind_text(s, 2, ev->source, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, ev->source_key, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, ev->kind);
	sqlite3_bind_int64(s, 5, ev->captured_at_ms);
	sqlite3_bind_blob(s, 6, ev->payload, (int)ev->len, SQLITE_STATIC);
	if ((err = journal_run(j, ST_INSERT)) != WH_OK)
		return err;
	if (sqlite3_changes(j->db) == 1) {
		*ret_seq = j->txn.next_seq++;
		*ret_dup = 0;
		return ev->event_id ? journal_count_event(j, ev, *ret_seq) : WH_OK;
	}
	sqlite3_bind_text(j->st[ST_FIND], 1, ev->source, -1, SQLITE_STATIC);
	sqlite3_bind_text(j->st[ST_FIND], 2, ev->source_key, -1, SQLITE_STATIC);
	if ((err = journal_row(j, ST_FIND)) != WH_OK)
		return err == WH_ERR_NOTFOUND ? WH_ERR_DB : err;
	*ret_seq = (uint64_t)sqlite3_column_int64(j->st[ST_FIND], 0);
	sqlite3_reset(j->st[ST_FIND]);
	j->txn.room += (int64_t)(ev->len + strlen(ev->source_key) + 64); /* nothing written */
	*ret_dup = 1;
	j->txn.dups++;
	return WH_OK;
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
		return journal_db_fail(j, rc, "reading a page of events");
	*ret_count = n;
	return WH_OK;
}

wh_err
journal_first_seq(struct journal *j, uint64_t *ret_seq)
{
	return journal_count(j, ST_FIRST_SEQ, ret_seq);
}

/* --- watermarks and pruning ------------------------------------------------------------ */

/* Raises watermark key to through, never lowering it, never past the last seq. */
static wh_err
raise_watermark(struct journal *j, const char *key, uint64_t through)
{
	uint64_t acked = 0;
	wh_err err = journal_txn_begin(j, JOURNAL_TXN_MAINTENANCE);

	if (err != WH_OK)
		return err;
	if (through >= j->txn.next_seq)
		through = j->txn.next_seq - 1;
	err = journal_meta_opt_int(j, key, &acked);
	if (err == WH_OK && through > acked)
		err = journal_meta_set_int(j, key, through);
	return journal_txn_end(j, err);
}

wh_err
journal_ack(struct journal *j, uint64_t through)
{
	return raise_watermark(j, "acked_through", through);
}

wh_err
journal_platform_ack(struct journal *j, uint64_t through)
{
	return raise_watermark(j, "platform_acked_through", through);
}

/* Inside a transaction: deletes the acknowledged events, never past limit, from the oldest up
 * to the first one still retained: captured at or after cutoff, and not stamped as far into
 * the future as the retention reaches into the past (a clock that was that far ahead; such an
 * event does not hold the prune for ever). */
static wh_err
prune(struct journal *j, int64_t cutoff, uint64_t limit, int64_t *ret_deleted)
{
	sqlite3_stmt *s = j->st[ST_PRUNE_MAX];
	int64_t now = platform_now_ms();
	uint64_t acked, through;
	wh_err err;

	if ((err = journal_meta_need_int(j, "acked_through", &acked)) != WH_OK)
		return err;
	through = acked < limit ? acked : limit;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)through);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)cutoff);
	sqlite3_bind_int64(s, 3, cutoff < now ? now + (now - cutoff) : INT64_MAX);
	err = journal_row(j, ST_PRUNE_MAX);
	if (err == WH_OK) {
		through = (uint64_t)sqlite3_column_int64(s, 0) - 1;
		sqlite3_reset(s);
	} else if (err != WH_ERR_NOTFOUND) {
		return err;
	}
	sqlite3_bind_int64(j->st[ST_PRUNE], 1, (sqlite3_int64)through);
	if ((err = journal_run(j, ST_PRUNE)) != WH_OK)
		return err;
	*ret_deleted = sqlite3_changes64(j->db);
	/* the freed pages go back to the file system in the same transaction */
	return *ret_deleted > 0 ? journal_exec(j, journal_sql_incremental_vacuum) : WH_OK;
}

wh_err
journal_prune_retained(struct journal *j, int64_t cutoff_ms, uint64_t limit, int64_t *ret_deleted)
{
	int64_t deleted = 0;
	wh_err err = journal_txn_begin(j, JOURNAL_TXN_MAINTENANCE);

	if (err != WH_OK)
		return err;
	err = journal_txn_end(j, prune(j, cutoff_ms, limit, &deleted));
	if (err == WH_OK && ret_deleted != NULL)
		*ret_deleted = deleted;
	return err;
}

/* --- cursors --------------------------------------------------------------------------- */

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
	wh_err err = journal_need_write(j);

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
	wh_err err = journal_txn_begin(j, JOURNAL_TXN_MAINTENANCE);

	if (err != WH_OK)
		return err;
	sqlite3_bind_text(j->st[ST_CUR_DEL], 1, name, -1, SQLITE_STATIC);
	return journal_txn_end(j, journal_run(j, ST_CUR_DEL));
}

wh_err
journal_cursor_each(struct journal *j, void (*cb)(const char *name, void *arg), void *arg)
{
	sqlite3_stmt *s = j->st[ST_CUR_EACH];
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		cb((const char *)sqlite3_column_text(s, 0), arg);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? WH_OK : journal_db_fail(j, rc, "listing the cursors");
}

/* --- meta and statistics --------------------------------------------------------------- */

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
	wh_err err = journal_txn_begin(j, JOURNAL_TXN_MAINTENANCE);

	if (err != WH_OK)
		return err;
	sqlite3_bind_text(j->st[ST_META_SET], 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(j->st[ST_META_SET], 2, value, -1, SQLITE_STATIC);
	return journal_txn_end(j, journal_run(j, ST_META_SET));
}

wh_err
journal_start_session(struct journal *j, uint64_t *ret_session)
{
	uint64_t session = 0;
	wh_err err = journal_txn_begin(j, JOURNAL_TXN_MAINTENANCE); /* full or paused too */

	if (err != WH_OK)
		return err;
	if ((err = journal_meta_need_int(j, "session", &session)) == WH_OK &&
	    (err = journal_meta_set_int(j, "session", session + 1)) == WH_OK)
		err = journal_run(j, ST_META_TIDY);
	if ((err = journal_txn_end(j, err)) == WH_OK)
		*ret_session = session + 1;
	return err;
}

wh_err
journal_set_capture_paused(struct journal *j, int paused)
{
	wh_err err = journal_txn_begin(j, JOURNAL_TXN_MAINTENANCE);

	if (err != WH_OK)
		return err;
	return journal_txn_end(j, journal_meta_set_int(j, "capture_paused", paused != 0));
}

static wh_err
read_stats(struct journal *j, struct journal_stats *st)
{
	uint64_t next;
	wh_err err;

	snprintf(st->journal_id, sizeof(st->journal_id), "%s", j->id);
	if ((err = journal_meta_need_int(j, "next_seq", &next)) != WH_OK ||
	    (err = journal_meta_need_int(j, "acked_through", &st->acked_through)) != WH_OK ||
	    (err = journal_meta_need_int(j, "session", &st->session)) != WH_OK ||
	    (err = journal_meta_need_int(j, "duplicates", &st->duplicates)) != WH_OK ||
	    (err = journal_meta_opt_int(j, "platform_acked_through",
					&st->platform_acked_through)) != WH_OK ||
	    (err = journal_meta_opt_int(j, "quarantine_evicted", &st->quarantine_evicted)) !=
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
	sqlite3_bind_int64(j->st[ST_CAPTURED_AT], 1, (sqlite3_int64)st->platform_acked_through + 1);
	err = journal_row(j, ST_CAPTURED_AT);
	if (err == WH_OK) {
		st->oldest_unconfirmed_ms = sqlite3_column_int64(j->st[ST_CAPTURED_AT], 0);
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
	wh_err err = journal_txn_begin(j, JOURNAL_TXN_READ);

	if (err != WH_OK)
		return err;
	if ((err = journal_txn_end(j, read_stats(j, &st))) == WH_OK)
		*ret = st;
	return err;
}
