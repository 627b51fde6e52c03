/* A full disk: opening an existing journal writes nothing (no schema-changing pragma), purging
 * the quarantine and giving the pages back shrinks the file, and the ballast is made, kept and
 * released when the file system is short of room. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ballast.h"
#include "journal.h"
#include "journal_quarantine.h"
#include "testutil.h"

static char dir[512];
static char path[600];
static const struct journal_opts opts = {0};

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
open_ok(void)
{
	struct journal *j = NULL;
	wh_err err = journal_open(path, &opts, &j);

	if (err != WH_OK)
		fail_msg("journal_open: %s: %s", wh_strerror(err), j ? journal_errmsg(j) : "");
	return j;
}

static int64_t
size_of(const char *suffix)
{
	char p[700];
	struct stat st;

	snprintf(p, sizeof(p), "%s%s", path, suffix);
	return stat(p, &st) == 0 ? (int64_t)st.st_size : -1;
}

static void
test_open_writes_nothing(void **state)
{
	struct journal *j = open_ok();

	(void)state;
	journal_close(j); /* the last connection: checkpointed, the WAL removed */
	assert_int_equal(size_of("-wal"), -1);
	j = open_ok();
	/* nothing written at open: no frame (not even the WAL's header) in the WAL */
	assert_true(size_of("-wal") <= 0);
	journal_close(j);
}

static void
quarantine_n(struct journal *j, int n, int64_t received_at)
{
	static char raw[4000];
	struct journal_quarantined q = {.input = "spool",
					.source = "wms",
					.position = "f.csv line 3",
					.reason = "bad",
					.format = "csv",
					.raw = raw,
					.raw_len = sizeof(raw)};

	memset(raw, 'x', sizeof(raw));
	q.received_at_ms = received_at;
	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_APPEND), WH_OK);
	for (int i = 0; i < n; i++)
		assert_int_equal(journal_quarantine(j, &q, NULL), WH_OK);
	assert_int_equal(journal_txn_end(j, WH_OK), WH_OK);
}

static void
test_purge_gives_space_back(void **state)
{
	struct journal *j = open_ok();
	int64_t n = -1, before, after;

	(void)state;
	quarantine_n(j, 200, 1000);
	quarantine_n(j, 100, 5000);
	assert_int_equal(journal_give_back(j), WH_OK);
	before = size_of("");
	assert_true(before > 300 * 4000);
	assert_int_equal(journal_quarantine_purge(j, 5000, &n), WH_OK); /* before 5000 */
	assert_int_equal(n, 200);
	assert_int_equal(journal_quarantine_purge(j, 5000, &n), WH_OK);
	assert_int_equal(n, 0);
	assert_int_equal(journal_quarantine_purge(j, INT64_MAX, &n), WH_OK); /* --all */
	assert_int_equal(n, 100);
	assert_int_equal(journal_give_back(j), WH_OK);
	after = size_of("");
	assert_true(after < before - 250 * 4000); /* the pages went back to the file system */
	assert_int_equal(size_of("-wal"), 0);	  /* checkpointed and truncated */
	/* inside a transaction it refuses */
	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_MAINTENANCE), WH_OK);
	assert_int_equal(journal_give_back(j), WH_ERR_INVAL);
	assert_int_equal(journal_txn_end(j, WH_OK), WH_OK);
	journal_close(j);
}

static void
test_ballast(void **state)
{
	struct ballast b, big;
	uint64_t free_bytes = 0;
	struct stat st;

	(void)state;
	assert_int_equal(ballast_init(&b, path, 65536), 0);
	assert_string_equal(b.dir, dir);
	assert_false(ballast_present(&b));
	assert_int_equal(ballast_release_if_short(&b, &free_bytes), 0); /* room: kept (none) */
	assert_int_equal(ballast_restore(&b, INT64_MAX / 2), 0);	/* no room above reserve */
	assert_false(ballast_present(&b));
	assert_int_equal(ballast_restore(&b, 0), 1);
	assert_true(ballast_present(&b));
	assert_int_equal(stat(b.path, &st), 0);
	assert_true((uint64_t)st.st_blocks * 512 >= 65536); /* real blocks, not sparse */
	assert_int_equal(ballast_restore(&b, 0), 0);	    /* there already */
	assert_int_equal(ballast_release_if_short(&b, &free_bytes), 0);
	assert_true(ballast_present(&b));
	/* a ballast larger than the free space: the file system is short, it goes */
	assert_int_equal(ballast_init(&big, path, UINT64_MAX / 4), 0);
	assert_int_equal(ballast_release_if_short(&big, &free_bytes), 1);
	assert_true(free_bytes > 0);
	assert_false(ballast_present(&b));
	assert_int_equal(ballast_release_if_short(&big, &free_bytes), 0); /* gone already */
	/* a bare name: the current folder */
	assert_int_equal(ballast_init(&b, "journal.db", 1), 0);
	assert_string_equal(b.path, "./.whagent-ballast");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_writes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_purge_gives_space_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ballast, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
