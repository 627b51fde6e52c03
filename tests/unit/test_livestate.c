/* The live-state file: what is written reads back; a rewrite replaces the file whole (a
 * reader holding the old one still reads it whole, no temp file is left); a missing file, a
 * garbage file, an oversized file and an unwritable directory are reported, never half-read;
 * the path follows $RUNTIME_DIRECTORY. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "livestate.h"
#include "mem.h"
#include "testutil.h"

static struct livestate
sample(void)
{
	struct livestate ls = {.pid = 4242,
			       .since_ms = 1764650000123,
			       .last_connect_ms = 1764650000001,
			       .last_error_ms = 1764649999000,
			       .error_current = 1,
			       .inflight = 7,
			       .backfill_through = 123456789,
			       .written_ms = 1764650000200};

	snprintf(ls.mqtt, sizeof(ls.mqtt), "connecting");
	snprintf(ls.last_error, sizeof(ls.last_error),
		 "broker refused the connection: bad user name or password \"quoted\"\n");
	snprintf(ls.alarms, sizeof(ls.alarms), "ack_stall,silence:spool");
	return ls;
}

static void
test_write_read_back(void **state)
{
	const char *dir = tu_tmpdir();
	struct livestate in = sample(), out;
	char path[600];

	(void)state;
	snprintf(path, sizeof(path), "%s/live.json", dir);
	assert_int_equal(livestate_write(path, &in), WH_OK);
	assert_int_equal(livestate_read(path, &out), WH_OK);
	assert_int_equal(out.pid, in.pid);
	assert_string_equal(out.mqtt, in.mqtt);
	assert_int_equal(out.since_ms, in.since_ms);
	assert_int_equal(out.last_connect_ms, in.last_connect_ms);
	assert_string_equal(out.last_error, in.last_error);
	assert_int_equal(out.last_error_ms, in.last_error_ms);
	assert_int_equal(out.error_current, 1);
	assert_int_equal(out.inflight, 7);
	assert_int_equal(out.backfill_through, 123456789);
	assert_int_equal(out.written_ms, in.written_ms);
	assert_string_equal(out.alarms, "ack_stall,silence:spool");
	tu_rmtree(dir);
}

static void
test_atomic_replace(void **state)
{
	const char *dir = tu_tmpdir();
	struct livestate a = sample(), b = sample(), out;
	char path[600], tmp[620], old[1024];
	ssize_t n;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/live.json", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(livestate_write(path, &a), WH_OK);
	fd = open(path, O_RDONLY); /* a reader in the middle of the old document */
	assert_true(fd >= 0);
	snprintf(b.mqtt, sizeof(b.mqtt), "connected");
	b.last_error[0] = '\0';
	b.error_current = 0;
	assert_int_equal(livestate_write(path, &b), WH_OK);
	n = read(fd, old, sizeof(old) - 1);
	close(fd);
	assert_true(n > 0);
	old[n] = '\0';
	assert_non_null(strstr(old, "\"connecting\"")); /* the old document, whole */
	assert_non_null(strstr(old, "}"));
	assert_int_equal(livestate_read(path, &out), WH_OK);
	assert_string_equal(out.mqtt, "connected");
	assert_string_equal(out.last_error, "");
	assert_int_equal(out.error_current, 0);
	assert_int_equal(access(tmp, F_OK), -1); /* no temp file left behind */
	tu_rmtree(dir);
}

static void
test_missing_garbage_oversized(void **state)
{
	const char *dir = tu_tmpdir();
	struct livestate out;
	char path[600], *big;

	(void)state;
	snprintf(path, sizeof(path), "%s/none.json", dir);
	assert_int_equal(livestate_read(path, &out), WH_ERR_NOTFOUND);
	assert_int_equal(livestate_read(tu_write(dir, "g1", "not json {"), &out), WH_ERR_INVAL);
	assert_int_equal(livestate_read(tu_write(dir, "g2", "[1,2,3]"), &out), WH_ERR_INVAL);
	assert_int_equal(livestate_read(tu_write(dir, "g3", "{\"mqtt\":5}"), &out), WH_ERR_INVAL);
	assert_int_equal(livestate_read(tu_write(dir, "g4", "{\"mqtt\":\"con"), &out),
			 WH_ERR_INVAL); /* cut short */
	assert_int_equal(livestate_read(tu_write(dir, "g5", ""), &out), WH_ERR_INVAL);
	/* wrong types and absurd values read as nothing, not as garbage numbers */
	assert_int_equal(livestate_read(tu_write(dir, "g6",
						 "{\"mqtt\":\"connected\",\"inflight\":-3,"
						 "\"backfill_through\":\"x\",\"pid\":[]}"),
					&out),
			 WH_OK);
	assert_string_equal(out.mqtt, "connected");
	assert_int_equal(out.inflight, 0);
	assert_int_equal(out.backfill_through, 0);
	assert_int_equal(out.pid, 0);
	big = calloc(1, 9000);
	assert_non_null(big);
	memset(big, ' ', 8998);
	big[0] = '{';
	big[8997] = '}';
	assert_int_equal(livestate_read(tu_write(dir, "big", big), &out), WH_ERR_INVAL);
	free(big);
	snprintf(path, sizeof(path), "%s/no/such/dir/live.json", dir);
	assert_int_equal(livestate_write(path, &out), WH_ERR_IO);
	tu_rmtree(dir);
}

static void
test_out_of_memory(void **state)
{
	const char *dir = tu_tmpdir();
	struct livestate in = sample(), out;
	char path[600];
	int failed = 0, ok = 0;
	wh_err err;

	(void)state;
	snprintf(path, sizeof(path), "%s/live.json", dir);
	assert_int_equal(livestate_write(path, &in), WH_OK);
	for (long n = 1; n < 100; n++) {
		wh_mem_fail_at(n);
		err = livestate_read(path, &out);
		wh_mem_fail_at(0);
		if (err == WH_OK) {
			ok = 1; /* past the last allocation: the whole document */
			assert_string_equal(out.last_error, in.last_error);
			break;
		}
		assert_int_equal(err, WH_ERR_NOMEM);
		failed++;
	}
	assert_true(ok);
	assert_true(failed >= 1); /* the read buffer at least */
	tu_rmtree(dir);
}

static void
test_path(void **state)
{
	char buf[300];

	(void)state;
	unsetenv("RUNTIME_DIRECTORY");
	assert_int_equal(livestate_path("/var/lib/whagent", "abc", buf, sizeof(buf)), WH_OK);
	assert_string_equal(buf, "/var/lib/whagent/live-abc.json");
	setenv("RUNTIME_DIRECTORY", "/run/whagent:/run/other", 1);
	assert_int_equal(livestate_path("/var/lib/whagent", "abc", buf, sizeof(buf)), WH_OK);
	assert_string_equal(buf, "/run/whagent/live-abc.json");
	assert_int_equal(livestate_path("/var/lib/whagent", "abc", buf, 10), WH_ERR_INVAL);
	unsetenv("RUNTIME_DIRECTORY");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_read_back),
		cmocka_unit_test(test_atomic_replace),
		cmocka_unit_test(test_missing_garbage_oversized),
		cmocka_unit_test(test_out_of_memory),
		cmocka_unit_test(test_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
