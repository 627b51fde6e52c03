/* Journal: gapless seq never reused (rollback, prune, reopen), unique source keys, cursor
 * atomic with events, budget refusal, bounded pages, watermark, quarantine, SQLite errors and
 * allocation failures (ours and SQLite's). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "crypto.h"
#include "journal.h"
#include "journal_cursor.h"
#include "journal_event.h"
#include "journal_int.h" /* white box: the connection, to make SQLite run out of room */
#include "journal_ledger.h"
#include "journal_meta.h"
#include "journal_quarantine.h"
#include "mem.h"
#include "platform.h"
#include "testutil.h"

static char dir[512];
static char path[600];
static const struct journal_opts opts = {0};

/* SQLite allocations fail from the Nth on, when armed. */
static sqlite3_mem_methods real_mem;
static long sq_fail_at, sq_count;

static void *
sq_malloc(int n)
{
	if (sq_fail_at > 0 && ++sq_count >= sq_fail_at)
		return NULL;
	return real_mem.xMalloc(n);
}

static void *
sq_realloc(void *p, int n)
{
	if (sq_fail_at > 0 && ++sq_count >= sq_fail_at)
		return NULL;
	return real_mem.xRealloc(p, n);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s", tu_tmpdir());
	snprintf(path, sizeof(path), "%s/journal.db", dir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	tu_rmtree(dir);
	return 0;
}

static struct journal *
open_ok(const struct journal_opts *o)
{
	struct journal *j = NULL;
	wh_err err = journal_open(path, o, &j);

	if (err != WH_OK)
		fail_msg("journal_open: %s: %s", wh_strerror(err), j ? journal_errmsg(j) : "");
	return j;
}

static wh_err
append(struct journal *j, const char *key, uint64_t *seq, int *dup)
{
	static const uint8_t payload[100] = {1, 2, 3};
	struct journal_event ev = {.source = "wms",
				   .source_key = key,
				   .kind = 1,
				   .captured_at_ms = 1000,
				   .payload = payload,
				   .len = sizeof(payload)};

	return journal_append(j, &ev, seq, dup);
}

/* Appends n events in one transaction, or those the budget takes (committed): how many. */
static int
append_n(struct journal *j, int from, int n)
{
	char key[32];
	uint64_t seq;
	int dup, i;

	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_APPEND), WH_OK);
	for (i = from; i < from + n; i++) {
		wh_err err;

		snprintf(key, sizeof(key), "T%d", i);
		if ((err = append(j, key, &seq, &dup)) == WH_ERR_FULL)
			break;
		assert_int_equal(err, WH_OK);
	}
	assert_int_equal(journal_txn_end(j, WH_OK), WH_OK);
	return i - from;
}

static void
test_create_and_reopen(void **state)
{
	struct journal *j = open_ok(&opts);
	char id[JOURNAL_ID_LEN + 1];

	sqlite3 *db;
	sqlite3_stmt *st;

	(void)state;
	assert_int_equal(strlen(journal_id(j)), JOURNAL_ID_LEN);
	snprintf(id, sizeof(id), "%s", journal_id(j));
	journal_close(j);
	/* WAL, and incremental auto-vacuum so that pruning gives space back */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA auto_vacuum", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 2);
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(db);
	j = open_ok(&opts);
	assert_string_equal(journal_id(j), id);
	journal_close(j);
	unlink(path);
	j = open_ok(&opts);
	assert_string_not_equal(journal_id(j), id); /* a new journal, a new random id */
	journal_close(j);
}

static void
test_seq_gapless_and_duplicates(void **state)
{
	struct journal *j = open_ok(&opts);
	uint64_t seq = 0;
	int dup = -1;

	(void)state;
	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_APPEND), WH_OK);
	assert_int_equal(journal_next_seq(j), 1);
	assert_int_equal(append(j, "A", &seq, &dup), WH_OK);
	assert_int_equal(seq, 1);
	assert_int_equal(dup, 0);
	assert_int_equal(append(j, "B", &seq, &dup), WH_OK);
	assert_int_equal(seq, 2);
	assert_int_equal(append(j, "A", &seq, &dup), WH_OK);
	assert_int_equal(dup, 1);
	assert_int_equal(seq, 1); /* the original's seq; no new one consumed */
	assert_int_equal(journal_next_seq(j), 3);
	assert_int_equal(journal_txn_end(j, WH_OK), WH_OK);

	/* a rolled-back transaction consumes nothing */
	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_APPEND), WH_OK);
	assert_int_equal(append(j, "C", &seq, &dup), WH_OK);
	assert_int_equal(seq, 3);
	journal_txn_end(j, WH_ERR_INVAL); /* rolls back */
	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_APPEND), WH_OK);
	assert_int_equal(append(j, "D", &seq, &dup), WH_OK);
	assert_int_equal(seq, 3);
	assert_int_equal(append(j, "B", &seq, &dup), WH_OK);
	assert_int_equal(dup, 1);
	assert_int_equal(journal_txn_end(j, WH_OK), WH_OK);
	{
		struct journal_stats st;

		assert_int_equal(journal_stats(j, &st), WH_OK);
		assert_int_equal(st.last_seq, 3);
		assert_int_equal(st.duplicates, 2);
		assert_int_equal(st.backlog, 3);
	}
	journal_close(j);
}

static void
test_seq_never_reused_after_prune_and_reopen(void **state)
{
	struct journal *j = open_ok(&opts);
	struct journal_stats st;
	int64_t deleted = 0;
	uint64_t seq;
	int dup;

	(void)state;
	append_n(j, 0, 10);
	assert_int_equal(journal_prune_retained(j, INT64_MAX, 10, &deleted), WH_OK);
	assert_int_equal(deleted, 0); /* nothing acknowledged yet: nothing pruned */
	assert_int_equal(journal_ack(j, 100), WH_OK);
	assert_int_equal(journal_stats(j, &st), WH_OK);
	assert_int_equal(st.acked_through, 10); /* clamped to last_seq */
	assert_int_equal(journal_ack(j, 5), WH_OK);
	assert_int_equal(journal_stats(j, &st), WH_OK);
	assert_int_equal(st.acked_through, 10); /* never lowered */
	assert_int_equal(journal_prune_retained(j, INT64_MAX, 10, &deleted), WH_OK);
	assert_int_equal(deleted, 10);
	journal_close(j);

	j = open_ok(&opts);
	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_APPEND), WH_OK);
	assert_int_equal(append(j, "new", &seq, &dup), WH_OK);
	assert_int_equal(seq, 11);
	assert_int_equal(journal_txn_end(j, WH_OK), WH_OK);
	assert_int_equal(journal_stats(j, &st), WH_OK);
	assert_int_equal(st.backlog, 1);
	journal_close(j);
}

/* Appends an event captured at `at` (ms). */
static void
append_at(struct journal *j, const char *key, int64_t at)
{
	static const uint8_t payload[10] = {7};
	struct journal_event ev = {.source = "wms",
				   .source_key = key,
				   .kind = 1,
				   .captured_at_ms = at,
				   .payload = payload,
				   .len = sizeof(payload)};
	uint64_t seq;
	int dup;

	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_APPEND), WH_OK);
	assert_int_equal(journal_append(j, &ev, &seq, &dup), WH_OK);
	assert_int_equal(journal_txn_end(j, WH_OK), WH_OK);
}

/* The prune deletes the acknowledged events up to the first one still inside the retention;
 * an event stamped further ahead than the retention reaches back does not hold it. */
static void
test_prune_stops_at_first_retained(void **state)
{
	struct journal *j = open_ok(&opts);
	int64_t now = platform_now_ms(), hour = 3600 * 1000, deleted = 0;
	uint64_t first;

	(void)state;
	append_at(j, "old1", now - 3 * hour);
	append_at(j, "ahead", now + 5 * hour); /* the clock was 5 h ahead */
	append_at(j, "old2", now - 2 * hour);
	append_at(j, "recent", now - hour / 2);
	append_at(j, "old3", now - 2 * hour); /* after a step back: kept, behind "recent" */
	append_at(j, "unacked", now - 3 * hour);
	assert_int_equal(journal_ack(j, 5), WH_OK);
	assert_int_equal(journal_prune_retained(j, now - hour, UINT64_MAX, &deleted), WH_OK);
	assert_int_equal(deleted, 3);
	assert_int_equal(journal_first_seq(j, &first), WH_OK);
	assert_int_equal(first, 4);
	/* an hour later "recent" is out of the retention too; "unacked" stays */
	assert_int_equal(journal_prune_retained(j, now + hour, UINT64_MAX, &deleted), WH_OK);
	assert_int_equal(deleted, 2);
	assert_int_equal(journal_first_seq(j, &first), WH_OK);
	assert_int_equal(first, 6);
	/* nothing acknowledged past the limit is pruned */
	assert_int_equal(journal_ack(j, 6), WH_OK);
	assert_int_equal(journal_prune_retained(j, INT64_MAX, 5, &deleted), WH_OK);
	assert_int_equal(deleted, 0);
	journal_close(j);
}

static void
test_cursor_atomic_with_events(void **state)
{
	struct journal *j = open_ok(&opts);
	struct journal_stats st;
	char pos[64];
	uint64_t seq;
	int dup;

	(void)state;
	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_APPEND), WH_OK);
	assert_int_equal(append(j, "A", &seq, &dup), WH_OK);
	assert_int_equal(journal_cursor_set(j, "spool:f.csv", "off=10"), WH_OK);
	journal_txn_end(j, WH_ERR_INVAL); /* rolls back */
	assert_int_equal(journal_cursor_get(j, "spool:f.csv", pos, sizeof(pos)), WH_ERR_NOTFOUND);
	assert_int_equal(journal_stats(j, &st), WH_OK);
	assert_int_equal(st.last_seq, 0);

	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_APPEND), WH_OK);
	assert_int_equal(append(j, "A", &seq, &dup), WH_OK);
	assert_int_equal(journal_cursor_set(j, "spool:f.csv", "off=10"), WH_OK);
	assert_int_equal(journal_txn_end(j, WH_OK), WH_OK);
	journal_close(j);

	j = open_ok(&opts);
	assert_int_equal(journal_cursor_get(j, "spool:f.csv", pos, sizeof(pos)), WH_OK);
	assert_string_equal(pos, "off=10");
	assert_int_equal(journal_stats(j, &st), WH_OK);
	assert_int_equal(st.last_seq, 1);
	assert_int_equal(journal_cursor_delete(j, "spool:f.csv"), WH_OK);
	assert_int_equal(journal_cursor_get(j, "spool:f.csv", pos, sizeof(pos)), WH_ERR_NOTFOUND);
	/* no cursor write outside a transaction */
	assert_int_equal(journal_cursor_set(j, "x", "y"), WH_ERR_INVAL);
	journal_close(j);
}

static void
test_budget_refuses_appends(void **state)
{
	struct journal_opts small = {.max_bytes = 256 * 1024};
	struct journal_opts reserve = {.reserve_bytes = INT64_MAX};
	struct journal *j = open_ok(&small);
	struct journal_stats st;
	wh_err err = WH_OK;
	int batches = 0;

	(void)state;
	while (batches < 1000) {
		err = journal_txn_begin(j, JOURNAL_TXN_APPEND);
		if (err != WH_OK)
			break;
		assert_int_equal(journal_txn_end(j, WH_OK), WH_OK);
		append_n(j, batches * 100, 100);
		batches++;
	}
	assert_int_equal(err, WH_ERR_FULL);
	assert_non_null(strstr(journal_errmsg(j), "budget"));
	assert_true(batches > 5);
	assert_int_equal(journal_stats(j, &st), WH_OK);
	/* the budget is spent record by record: no transaction goes past it by more than the
	 * estimate's error */
	assert_true(st.bytes < 256 * 1024 + 8 * 4096);
	/* acknowledging and pruning makes room again */
	assert_int_equal(journal_ack(j, st.last_seq), WH_OK);
	assert_int_equal(journal_prune_retained(j, INT64_MAX, st.last_seq, NULL), WH_OK);
	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_APPEND), WH_OK);
	journal_txn_end(j, WH_ERR_INVAL); /* rolls back */
	journal_close(j);

	j = open_ok(&reserve);
	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_APPEND), WH_ERR_FULL);
	assert_non_null(strstr(journal_errmsg(j), "reserve"));
	journal_close(j);
}

struct page {
	uint64_t first, last;
	int n;
};

static void
on_row(uint64_t seq, const uint8_t *payload, size_t len, void *arg)
{
	struct page *p = arg;

	assert_int_equal(len, 100);
	assert_int_equal(payload[0], 1);
	if (p->n == 0)
		p->first = seq;
	else
		assert_int_equal(seq, p->last + 1);
	p->last = seq;
	p->n++;
}

static void
test_bounded_pages(void **state)
{
	struct journal *j = open_ok(&opts);
	struct page p = {0};
	int n = 0;

	(void)state;
	append_n(j, 0, 1000);
	assert_int_equal(journal_read_page(j, 0, 100, 1 << 20, on_row, &p, &n), WH_OK);
	assert_int_equal(n, 100);
	assert_int_equal(p.first, 1);
	assert_int_equal(p.last, 100);
	memset(&p, 0, sizeof(p));
	assert_int_equal(journal_read_page(j, 500, 100, 1000, on_row, &p, &n), WH_OK);
	assert_int_equal(n, 10); /* 10 payloads of 100 bytes fit 1000 */
	assert_int_equal(p.first, 501);
	memset(&p, 0, sizeof(p));
	assert_int_equal(journal_read_page(j, 500, 100, 10, on_row, &p, &n), WH_OK);
	assert_int_equal(n, 1); /* the first always comes, however large */
	memset(&p, 0, sizeof(p));
	assert_int_equal(journal_read_page(j, 995, 100, 1 << 20, on_row, &p, &n), WH_OK);
	assert_int_equal(n, 5);
	journal_close(j);
}

static void
on_entry(const struct journal_quarantined *q, void *arg)
{
	int *count = arg;

	assert_string_equal(q->reason, "column qty: 'x' is not a decimal number");
	assert_string_equal(q->position, "f.csv line 3");
	(*count)++;
	if (q->raw != NULL)
		assert_memory_equal(q->raw, "PICK,x", 6);
}

static void
test_quarantine(void **state)
{
	struct journal *j = open_ok(&opts);
	struct journal_quarantined q = {.input = "spool",
					.source = "wms",
					.position = "f.csv line 3",
					.reason = "column qty: 'x' is not a decimal number",
					.format = "csv",
					.context = "kind,qty",
					.raw = "PICK,x",
					.raw_len = 6};
	int64_t id = 0;
	int count = 0;

	(void)state;
	assert_int_equal(journal_quarantine(j, &q, &id), WH_ERR_INVAL); /* needs a transaction */
	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_APPEND), WH_OK);
	assert_int_equal(journal_quarantine(j, &q, &id), WH_OK);
	assert_int_equal(journal_txn_end(j, WH_OK), WH_OK);
	assert_int_equal(id, 1);
	assert_int_equal(journal_quarantine_list(j, on_entry, &count), WH_OK);
	assert_int_equal(journal_quarantine_get(j, id, on_entry, &count), WH_OK);
	assert_int_equal(count, 2);
	assert_int_equal(journal_quarantine_get(j, 99, on_entry, &count), WH_ERR_NOTFOUND);
	assert_int_equal(journal_quarantine_delete(j, id), WH_OK);
	assert_int_equal(journal_quarantine_delete(j, id), WH_ERR_NOTFOUND);
	journal_close(j);
}

struct kept {
	size_t len, full_len;
	char sha[65];
	int64_t first_id;
	int n;
};

static void
on_kept(const struct journal_quarantined *q, void *arg)
{
	struct kept *k = arg;

	if (k->n++ == 0)
		k->first_id = q->id;
	k->len = q->raw_len;
	k->full_len = q->raw_full_len;
	snprintf(k->sha, sizeof(k->sha), "%s", q->raw_sha256 ? q->raw_sha256 : "");
}

/* A record is kept cut to quarantine_raw_max with its full length and SHA-256; past the rows
 * or bytes bound the oldest go at commit, counted; expiry deletes by age. */
static void
test_quarantine_bounds(void **state)
{
	struct journal_opts o = {.quarantine_max_rows = 5, .quarantine_raw_max = 256};
	static char raw[1000];
	struct journal_quarantined q = {.input = "http",
					.source = "wms",
					.position = "POST",
					.reason = "junk",
					.format = "json",
					.raw = raw,
					.raw_len = sizeof(raw)};
	struct journal *j;
	struct journal_stats st;
	struct kept k = {0};
	int64_t n = 0;

	(void)state;
	memset(raw, 'x', sizeof(raw));
	j = open_ok(&o);
	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_APPEND), WH_OK);
	for (int i = 0; i < 8; i++) {
		q.received_at_ms = 1000 + i;
		assert_int_equal(journal_quarantine(j, &q, NULL), WH_OK);
	}
	assert_int_equal(journal_txn_end(j, WH_OK), WH_OK);
	assert_int_equal(journal_quarantine_get(j, 8, on_kept, &k), WH_OK);
	assert_int_equal(k.len, 256);
	assert_int_equal(k.full_len, 1000);
	assert_int_equal(strlen(k.sha), 64);
	k.n = 0;
	assert_int_equal(journal_quarantine_list(j, on_kept, &k), WH_OK);
	assert_int_equal(k.n, 5); /* the three oldest evicted */
	assert_int_equal(k.first_id, 4);
	assert_int_equal(journal_quarantine_take_evicted(j), 3);
	assert_int_equal(journal_quarantine_take_evicted(j), 0);
	assert_int_equal(journal_stats(j, &st), WH_OK);
	assert_int_equal(st.quarantine_evicted, 3);
	assert_int_equal(st.quarantined, 5);
	/* bytes: two rows' worth at most */
	o.quarantine_max_rows = 0;
	o.quarantine_max_bytes = 2 * (256 + 8);
	journal_set_limits(j, &o);
	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_APPEND), WH_OK);
	q.received_at_ms = 5000;
	assert_int_equal(journal_quarantine(j, &q, NULL), WH_OK);
	assert_int_equal(journal_txn_end(j, WH_OK), WH_OK);
	assert_int_equal(journal_stats(j, &st), WH_OK);
	assert_int_equal(st.quarantined, 2);
	assert_int_equal(st.quarantine_evicted, 7);
	/* expiry */
	assert_int_equal(journal_quarantine_purge(j, 2000, &n), WH_OK);
	assert_int_equal(n, 1);
	assert_int_equal(journal_stats(j, &st), WH_OK);
	assert_int_equal(st.quarantined, 1);
	journal_close(j);
}

static void
test_refuses_foreign_files(void **state)
{
	struct journal *j = NULL;
	struct journal_opts ro = {.readonly = 1};
	sqlite3 *db;

	(void)state;
	tu_write(dir, "journal.db", "this is not a database, it is a text file of some length\n");
	assert_int_equal(journal_open(path, &opts, &j), WH_ERR_CORRUPT);
	journal_close(j);
	unlink(path);

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE orders(id)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(journal_open(path, &opts, &j), WH_ERR_CORRUPT);
	assert_non_null(strstr(journal_errmsg(j), "not a whagent journal"));
	journal_close(j);
	unlink(path);

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(journal_open(path, &opts, &j), WH_ERR_CORRUPT);
	assert_non_null(strstr(journal_errmsg(j), "newer"));
	journal_close(j);
	unlink(path);

	assert_int_not_equal(journal_open(path, &ro, &j), WH_OK); /* not created yet */
	journal_close(j);
	assert_int_equal(journal_open(dir, &opts, &j) != WH_OK, 1); /* a directory */
	journal_close(j);
}

static void
test_readonly_refuses_writes(void **state)
{
	struct journal_opts ro = {.readonly = 1};
	struct journal *j = open_ok(&opts);
	struct journal_stats st;

	(void)state;
	append_n(j, 0, 3);
	journal_close(j);
	j = open_ok(&ro);
	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_APPEND), WH_ERR_INVAL);
	assert_int_equal(journal_stats(j, &st), WH_OK);
	assert_int_equal(st.last_seq, 3);
	journal_close(j);
}

/* --- the transaction API --------------------------------------------------------------- */

static void
test_txn_end_without_begin_is_an_error(void **state)
{
	struct journal *j = open_ok(&opts);

	(void)state;
	assert_int_equal(journal_txn_end(j, WH_OK), WH_ERR_INVAL);
	assert_non_null(strstr(journal_errmsg(j), "no transaction"));
	/* an error passed in comes back as it is (the caller's begin failed) */
	assert_int_equal(journal_txn_end(j, WH_ERR_FULL), WH_ERR_FULL);
	journal_close(j);
}

/* A write transaction inside another is a savepoint: its failure undoes only its own part. */
static void
test_txn_nested_is_a_savepoint(void **state)
{
	struct journal *j = open_ok(&opts);
	struct journal_stats st;
	char pos[32];
	uint64_t seq;
	int dup;

	(void)state;
	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_APPEND), WH_OK);
	assert_int_equal(append(j, "outer", &seq, &dup), WH_OK);
	assert_int_equal(seq, 1);
	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_MAINTENANCE), WH_OK);
	assert_int_equal(append(j, "inner", &seq, &dup), WH_OK);
	assert_int_equal(seq, 2);
	assert_int_equal(journal_cursor_set(j, "c", "inner"), WH_OK);
	/* nothing nests deeper */
	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_MAINTENANCE), WH_ERR_INVAL);
	assert_int_equal(journal_txn_end(j, WH_ERR_DB), WH_ERR_DB); /* undoes "inner" only */
	assert_int_equal(journal_next_seq(j), 2);		    /* seq 2 is not used up */
	assert_int_equal(append(j, "after", &seq, &dup), WH_OK);
	assert_int_equal(seq, 2);
	/* a nested call that opens its own transaction when none is open joins this one */
	assert_int_equal(journal_meta_set(j, "k", "v"), WH_OK);
	assert_int_equal(journal_txn_end(j, WH_OK), WH_OK);
	assert_int_equal(journal_stats(j, &st), WH_OK);
	assert_int_equal(st.last_seq, 2);
	assert_int_equal(journal_cursor_get(j, "c", pos, sizeof(pos)), WH_ERR_NOTFOUND);
	assert_int_equal(journal_meta_get(j, "k", pos, sizeof(pos)), WH_OK);
	assert_string_equal(pos, "v");
	journal_close(j);
}

/* Reads join an open transaction; writes inside a read are refused. */
static void
test_txn_read(void **state)
{
	struct journal *j = open_ok(&opts);
	struct journal_stats st;
	uint64_t seq;
	int dup;

	(void)state;
	append_n(j, 0, 2);
	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_READ), WH_OK);
	assert_int_equal(journal_stats(j, &st), WH_OK); /* joins */
	assert_int_equal(st.last_seq, 2);
	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_APPEND), WH_ERR_INVAL);
	assert_int_equal(append(j, "x", &seq, &dup), WH_ERR_INVAL);
	assert_int_equal(journal_cursor_set(j, "c", "x"), WH_ERR_INVAL);
	assert_int_equal(journal_txn_end(j, WH_OK), WH_OK);
	assert_int_equal(journal_txn_end(j, WH_OK), WH_ERR_INVAL); /* closed */
	/* inside a write transaction, stats see its uncommitted appends */
	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_APPEND), WH_OK);
	assert_int_equal(append(j, "y", &seq, &dup), WH_OK);
	assert_int_equal(journal_stats(j, &st), WH_OK);
	assert_int_equal(journal_txn_end(j, WH_ERR_INVAL), WH_ERR_INVAL);
	assert_int_equal(journal_stats(j, &st), WH_OK);
	assert_int_equal(st.last_seq, 2);
	journal_close(j);
}

/* At the budget, appends are refused and maintenance goes on: the session advances, the
 * watermark moves, pruning frees room; journal_room says so without a write lock. */
static void
test_txn_maintenance_when_full(void **state)
{
	struct journal_opts small = {.max_bytes = 128 * 1024};
	struct journal *j = open_ok(&small);
	struct journal_stats st;
	uint64_t session = 0;
	int64_t deleted = 0;
	int batches = 0;

	(void)state;
	while (batches < 1000 && journal_room(j) == WH_OK)
		append_n(j, 100 * batches++, 100);
	assert_int_equal(journal_room(j), WH_ERR_FULL);
	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_APPEND), WH_ERR_FULL);
	assert_int_equal(journal_start_session(j, &session), WH_OK);
	assert_int_equal(session, 1);
	assert_int_equal(journal_stats(j, &st), WH_OK);
	assert_int_equal(journal_ack(j, st.last_seq), WH_OK);
	assert_int_equal(journal_prune_retained(j, INT64_MAX, UINT64_MAX, &deleted), WH_OK);
	assert_int_equal((uint64_t)deleted, st.last_seq);
	assert_int_equal(journal_room(j), WH_OK);
	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_APPEND), WH_OK);
	assert_int_equal(journal_txn_end(j, WH_OK), WH_OK);
	/* paused: appends refused, maintenance still runs, and it lasts across a reopen */
	assert_int_equal(journal_set_capture_paused(j, 1), WH_OK);
	journal_close(j);
	j = open_ok(&small);
	assert_int_equal(journal_room(j), WH_ERR_PAUSED);
	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_APPEND), WH_ERR_PAUSED);
	assert_int_equal(journal_start_session(j, &session), WH_OK);
	assert_int_equal(session, 2);
	assert_int_equal(journal_set_capture_paused(j, 0), WH_OK);
	assert_int_equal(journal_room(j), WH_OK);
	journal_close(j);
}

/* A start drops the live state earlier versions kept in meta; other keys stay. */
static void
test_session_drops_old_live_state(void **state)
{
	struct journal *j = open_ok(&opts);
	uint64_t session = 0;
	char v[32];

	(void)state;
	assert_int_equal(journal_meta_set(j, "mqtt_state", "connected"), WH_OK);
	assert_int_equal(journal_meta_set(j, "mqtt_last_error", "bad user name or password"),
			 WH_OK);
	assert_int_equal(journal_meta_set(j, "acked_ranges", "5-9"), WH_OK);
	assert_int_equal(journal_start_session(j, &session), WH_OK);
	assert_int_equal(journal_meta_get(j, "mqtt_state", v, sizeof(v)), WH_ERR_NOTFOUND);
	assert_int_equal(journal_meta_get(j, "mqtt_last_error", v, sizeof(v)), WH_ERR_NOTFOUND);
	assert_int_equal(journal_meta_get(j, "acked_ranges", v, sizeof(v)), WH_OK);
	assert_string_equal(v, "5-9");
	journal_close(j);
}

/* An absent meta key is WH_ERR_NOTFOUND, not an error text to search. */
static void
test_meta_absent(void **state)
{
	struct journal *j = open_ok(&opts);
	char v[16];

	(void)state;
	assert_int_equal(journal_meta_get(j, "no-such-key", v, sizeof(v)), WH_ERR_NOTFOUND);
	assert_int_equal(journal_meta_set(j, "no-such-key", "1"), WH_OK);
	assert_int_equal(journal_meta_get(j, "no-such-key", v, sizeof(v)), WH_OK);
	assert_string_equal(v, "1");
	journal_close(j);
}

/* A failure after which SQLite rolled the whole transaction back (here: the database may not
 * grow) loses the transaction: the caller going on as a savepoint allows must not commit
 * half of it, nor leave a gap in seq, nor a cursor without its events. */
static void
test_txn_lost_when_sqlite_rolls_back(void **state)
{
	static char big[200000];
	struct journal *j = open_ok(&opts);
	struct journal_stats st;
	struct page p = {0};
	char pos[32];
	uint64_t seq;
	int dup, n = 0;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	append_n(j, 0, 1); /* seq 1 */
	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_APPEND), WH_OK);
	assert_int_equal(append(j, "B", &seq, &dup), WH_OK); /* seq 2, not committed */
	assert_int_equal(sqlite3_exec(j->db, "PRAGMA max_page_count = 1", NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(journal_meta_set(j, "big", big), WH_ERR_FULL); /* a savepoint */
	assert_int_equal(sqlite3_exec(j->db, "PRAGMA max_page_count = 1000000", NULL, NULL, NULL),
			 SQLITE_OK);
	/* the caller goes on anyway: nothing more is taken, and the end says so */
	assert_int_equal(append(j, "C", &seq, &dup), WH_ERR_FULL);
	assert_int_equal(journal_cursor_set(j, "cur", "after C"), WH_ERR_FULL);
	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_MAINTENANCE), WH_ERR_FULL);
	assert_int_equal(journal_txn_end(j, WH_OK), WH_ERR_FULL);
	/* and the journal works on as before */
	assert_int_equal(journal_txn_end(j, WH_OK), WH_ERR_INVAL);
	append_n(j, 10, 1);
	journal_close(j);
	j = open_ok(&opts);
	assert_int_equal(journal_stats(j, &st), WH_OK);
	assert_int_equal(st.last_seq, 2);
	assert_int_equal(journal_read_page(j, 0, 100, 1 << 20, on_row, &p, &n), WH_OK);
	assert_int_equal(n, 2); /* gapless: on_row checks consecutive seqs */
	assert_int_equal(journal_cursor_get(j, "cur", pos, sizeof(pos)), WH_ERR_NOTFOUND);
	journal_close(j);
}

/* --- ledger and snapshots ------------------------------------------------------------- */

static wh_err
append_counted(struct journal *j, const char *key, int kind, int64_t qty,
	       const struct ledger_delta *d, int nd, int *dup)
{
	static const uint8_t payload[10] = {9};
	uint8_t id[JOURNAL_HASH_LEN];
	struct journal_event ev = {.source = "wms",
				   .source_key = key,
				   .kind = kind,
				   .captured_at_ms = 1000,
				   .payload = payload,
				   .len = sizeof(payload),
				   .event_id = id,
				   .qty_milli = qty,
				   .deltas = d,
				   .ndeltas = nd};
	uint64_t seq;

	memset(id, key[0], sizeof(id));
	return journal_append(j, &ev, &seq, dup);
}

struct balances {
	int n;
	char key[8][64];
	int64_t on_hand[8];
};

static void
on_balance(const struct journal_balance *b, void *arg)
{
	struct balances *bs = arg;

	assert_true(bs->n < 8);
	snprintf(bs->key[bs->n], sizeof(bs->key[0]), "%s|%s|%s|%s", b->sku, b->location, b->lot,
		 b->uom);
	bs->on_hand[bs->n++] = b->on_hand_milli;
}

/* A transaction's balance changes are added up per key and written at its commit, many rows
 * a statement; a savepoint rolled back takes its changes back and no others, also those of a
 * key changed before it. */
static void
test_ledger_changes_added_up(void **state)
{
	const struct ledger_delta rcpt[] = {{"S1", "A1", "", "EA", 10000}};
	const struct ledger_delta pick[] = {{"S1", "A1", "", "EA", -2000},
					    {"S1", "STG", "", "EA", 2000}};
	const struct ledger_delta adj[] = {{"S1", "A1", "", "EA", -3000}};
	struct journal *j = open_ok(&opts);
	struct journal_snapshot snap;
	struct balances bs = {0};
	uint64_t last = 0, folded = 0;
	char key[32], loc[32];
	int dup;

	(void)state;
	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_APPEND), WH_OK);
	assert_int_equal(append_counted(j, "a", 2, 10000, rcpt, 1, &dup), WH_OK);
	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_APPEND), WH_OK); /* a savepoint */
	assert_int_equal(append_counted(j, "b", 1, 2000, pick, 2, &dup), WH_OK);
	journal_txn_end(j, WH_ERR_INVAL); /* rolls the savepoint back */
	assert_int_equal(append_counted(j, "c", 3, -3000, adj, 1, &dup), WH_OK);
	/* 7 keys changed 100 times each, 600 keys once: more than the first buffers hold */
	for (int i = 0; i < 1300; i++) {
		struct ledger_delta d = {i < 700 ? "S2" : "S3", loc, "", "EA", 1000};

		snprintf(key, sizeof(key), "k%d", i);
		snprintf(loc, sizeof(loc), "L%d", i < 700 ? i % 7 : i);
		assert_int_equal(append_counted(j, key, 2, 1000, &d, 1, &dup), WH_OK);
	}
	assert_int_equal(journal_txn_end(j, WH_OK), WH_OK);

	assert_int_equal(journal_ledger_fold(j, 1, &folded), WH_OK);
	assert_int_equal(folded, 1 + 7 + 600); /* rows written: one per key */
	assert_int_equal(journal_snapshot_begin(j, &snap), WH_OK);
	assert_int_equal(snap.rows, 1 + 7 + 600);
	assert_int_equal(journal_snapshot_page(j, 0, 2, on_balance, &bs, &last), WH_OK);
	assert_int_equal(bs.n, 2);
	assert_string_equal(bs.key[0], "S1|A1||EA");
	assert_int_equal(bs.on_hand[0], 7000);
	assert_string_equal(bs.key[1], "S2|L0||EA");
	assert_int_equal(bs.on_hand[1], 100000);
	journal_snapshot_end(j);
	journal_close(j);
}

/* Balances and control totals change with the event's transaction only (not on rollback, not
 * for a duplicate); a snapshot is a consistent copy however many events come after it. */
static void
test_ledger_and_snapshot(void **state)
{
	const struct ledger_delta rcpt[] = {{"S1", "A1", "", "EA", 10000}};
	const struct ledger_delta pick[] = {{"S1", "A1", "", "EA", -2000},
					    {"S1", "STG", "", "EA", 2000}};
	const struct ledger_delta adj[] = {{"S1", "A1", "", "EA", -8000}};
	struct journal *j = open_ok(&opts);
	struct journal_snapshot snap;
	struct balances bs = {0};
	struct crypto_sha256 h;
	uint8_t zero_then_a[2 * JOURNAL_HASH_LEN] = {0}, expect[JOURNAL_HASH_LEN];
	uint64_t last = 0, folded = 0;
	int dup;

	(void)state;
	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_APPEND), WH_OK);
	assert_int_equal(append_counted(j, "a", 2, 10000, rcpt, 1, &dup), WH_OK);
	assert_int_equal(append_counted(j, "b", 1, 2000, pick, 2, &dup), WH_OK);
	assert_int_equal(journal_txn_end(j, WH_OK), WH_OK);
	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_APPEND), WH_OK);
	assert_int_equal(append_counted(j, "c", 3, -8000, adj, 1, &dup), WH_OK);
	journal_txn_end(j, WH_ERR_INVAL); /* rolls back */
	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_APPEND), WH_OK);
	assert_int_equal(append_counted(j, "a", 2, 10000, rcpt, 1, &dup), WH_OK);
	assert_int_equal(dup, 1);
	assert_int_equal(journal_txn_end(j, WH_OK), WH_OK);

	assert_int_equal(journal_snapshot_begin(j, &snap), WH_OK);
	assert_int_equal(journal_snapshot_begin(j, &snap), WH_ERR_BUSY); /* one at a time */
	/* events after the snapshot was taken do not show in its pages */
	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_APPEND), WH_OK);
	assert_int_equal(append_counted(j, "d", 3, -8000, adj, 1, &dup), WH_OK);
	assert_int_equal(journal_txn_end(j, WH_OK), WH_OK);
	assert_int_equal(snap.as_of_seq, 2);
	assert_int_equal(snap.from_seq, 1);
	assert_int_equal(snap.rows, 2);
	assert_int_equal(snap.totals[2].count, 1);
	assert_int_equal(snap.totals[2].qty_milli, 10000);
	assert_int_equal(snap.totals[1].count, 1);
	assert_int_equal(snap.totals[3].count, 0);
	memset(zero_then_a + JOURNAL_HASH_LEN, 'a', JOURNAL_HASH_LEN);
	crypto_sha256_start(&h);
	crypto_sha256_update(&h, zero_then_a, sizeof(zero_then_a));
	crypto_sha256_finish(&h, expect);
	assert_memory_equal(snap.totals[2].hash, expect, JOURNAL_HASH_LEN);
	assert_int_equal(journal_snapshot_page(j, 0, 1, on_balance, &bs, &last), WH_OK);
	assert_int_equal(journal_snapshot_page(j, last, 1, on_balance, &bs, &last), WH_OK);
	assert_int_equal(journal_snapshot_page(j, last, 1, on_balance, &bs, &last), WH_OK);
	assert_int_equal(bs.n, 2);
	assert_string_equal(bs.key[0], "S1|A1||EA");
	assert_int_equal(bs.on_hand[0], 8000);
	assert_string_equal(bs.key[1], "S1|STG||EA");
	assert_int_equal(bs.on_hand[1], 2000);
	journal_snapshot_end(j);

	/* taking the snapshot folded the first three changes into the rows, which changes no
	 * balance; the next snapshot sees the adjustment: A1 is at zero and left out */
	assert_int_equal(journal_ledger_fold(j, 100, &folded), WH_OK);
	assert_int_equal(folded, 0); /* fewer than asked for */
	assert_int_equal(journal_ledger_fold(j, 1, &folded), WH_OK);
	assert_int_equal(folded, 1);
	assert_int_equal(journal_ledger_fold(j, 1, &folded), WH_OK);
	assert_int_equal(folded, 0);
	memset(&bs, 0, sizeof(bs));
	assert_int_equal(journal_snapshot_begin(j, &snap), WH_OK);
	assert_int_equal(snap.as_of_seq, 3);
	assert_int_equal(snap.rows, 1);
	assert_int_equal(snap.totals[3].count, 1);
	assert_int_equal(snap.totals[3].qty_milli, -8000);
	assert_int_equal(journal_snapshot_page(j, 0, 100, on_balance, &bs, &last), WH_OK);
	assert_int_equal(bs.n, 1);
	assert_string_equal(bs.key[0], "S1|STG||EA");
	journal_snapshot_end(j);
	journal_close(j);
}

/* A journal of schema 1 gets the ledger at open; its totals count from then on. */
static void
test_migration_adds_ledger(void **state)
{
	struct journal *j = open_ok(&opts);
	struct journal_snapshot snap;
	sqlite3 *db;

	(void)state;
	append_n(j, 0, 3);
	journal_close(j);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(
		sqlite3_exec(db,
			     "DROP TABLE ledger; DROP TABLE ledger_delta; DROP TABLE total;"
			     " ALTER TABLE quarantine DROP COLUMN raw_len;"
			     " ALTER TABLE quarantine DROP COLUMN raw_sha256;"
			     " DELETE FROM meta"
			     " WHERE key = 'ledger_from_seq'; PRAGMA user_version = 1",
			     NULL, NULL, NULL),
		SQLITE_OK);
	sqlite3_close(db);
	j = open_ok(&opts);
	assert_int_equal(journal_snapshot_begin(j, &snap), WH_OK);
	assert_int_equal(snap.from_seq, 4);
	assert_int_equal(snap.as_of_seq, 3);
	assert_int_equal(snap.rows, 0);
	journal_snapshot_end(j);
	journal_close(j);
}

/* One full write cycle under an allocation failure: an event and the cursor that covers it,
 * in one transaction. Any step may fail; none may crash or corrupt. */
static wh_err
cycle(int i)
{
	struct journal *j = NULL;
	char key[32];
	uint64_t seq;
	int dup;
	wh_err err = journal_open(path, &opts, &j);

	snprintf(key, sizeof(key), "K%d", i);
	if (err == WH_OK && (err = journal_txn_begin(j, JOURNAL_TXN_APPEND)) == WH_OK) {
		err = append(j, key, &seq, &dup);
		if (err == WH_OK)
			err = journal_cursor_set(j, "c", key);
		err = journal_txn_end(j, err);
	}
	journal_close(j);
	return err;
}

/* After each cycle: the events committed so far, gapless, and the cursor of the last one. */
static void
check_state(uint64_t events, const char *cursor)
{
	struct journal *j = open_ok(&opts);
	struct journal_stats st;
	struct page p = {0};
	char pos[32] = "";
	int n = 0;

	assert_int_equal(journal_stats(j, &st), WH_OK);
	assert_int_equal(st.last_seq, events);
	assert_int_equal(journal_read_page(j, 0, 100000, 1 << 30, on_row, &p, &n), WH_OK);
	assert_int_equal((uint64_t)n, events); /* gapless: on_row checks consecutive */
	if (cursor[0] != '\0') {
		assert_int_equal(journal_cursor_get(j, "c", pos, sizeof(pos)), WH_OK);
		assert_string_equal(pos, cursor);
	}
	journal_close(j);
}

/* Fails the nth allocation of a cycle, for n = 1, 2, ... until a cycle makes fewer than n
 * (every allocation point of the cycle has then failed once). The cycle either commits all
 * of itself or nothing. Returns how many allocation points failed a cycle. */
static int
fail_each_allocation(int sqlite_allocs, uint64_t *events, char *cursor, int *key)
{
	int points = 0;
	long n, made;

	for (n = 1; n < 5000; n++) {
		wh_err err;

		if (sqlite_allocs) {
			sq_count = 0;
			sq_fail_at = n;
		} else {
			wh_mem_fail_at(n);
		}
		err = cycle(++*key);
		if (sqlite_allocs) {
			made = sq_count;
			sq_fail_at = 0;
		} else {
			made = wh_mem_fail_at(0);
		}
		if (err == WH_OK) {
			++*events;
			snprintf(cursor, 32, "K%d", *key);
		} else {
			points++;
		}
		check_state(*events, cursor);
		if (made < n)
			break; /* the failure was never reached: past the last point */
	}
	assert_true(n < 5000);
	return points;
}

static void
test_allocation_failures(void **state)
{
	uint64_t events = 0;
	char cursor[32] = "";
	int key = 0, ours, sqlite;

	(void)state;
	assert_int_equal(cycle(++key), WH_OK); /* the journal exists: a steady cycle */
	events = 1;
	snprintf(cursor, sizeof(cursor), "K%d", key);
	ours = fail_each_allocation(0, &events, cursor, &key);
	sqlite = fail_each_allocation(1, &events, cursor, &key);
	/* the journal's own: the struct and its directory name (journal_open) */
	assert_int_equal(ours, 2);
	assert_true(sqlite > 20);
	print_message("allocation points failed: %d of the journal's, %d of SQLite's\n", ours,
		      sqlite);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_and_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seq_gapless_and_duplicates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seq_never_reused_after_prune_and_reopen, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_prune_stops_at_first_retained, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cursor_atomic_with_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_budget_refuses_appends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounded_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quarantine, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quarantine_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_foreign_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly_refuses_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ledger_and_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_adds_ledger, setup, teardown),
		cmocka_unit_test_setup_teardown(test_txn_end_without_begin_is_an_error, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_txn_nested_is_a_savepoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_txn_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_txn_maintenance_when_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_meta_absent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_drops_old_live_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_txn_lost_when_sqlite_rolls_back, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_allocation_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ledger_changes_added_up, setup, teardown),
	};
	sqlite3_mem_methods mine;

	/* Wrap SQLite's allocator before SQLite initializes. */
	sqlite3_config(SQLITE_CONFIG_GETMALLOC, &real_mem);
	mine = real_mem;
	mine.xMalloc = sq_malloc;
	mine.xRealloc = sq_realloc;
	sqlite3_config(SQLITE_CONFIG_MALLOC, &mine);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
