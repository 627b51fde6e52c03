/* CSV reader and raw record tests. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "csv.h"
#include "mem.h"
#include "record.h"

static struct csv_row row;

static int
setup(void **state)
{
	(void)state;
	return csv_row_init(&row, 1024);
}

static int
teardown(void **state)
{
	(void)state;
	csv_row_done(&row);
	return 0;
}

static enum csv_result
parse(const char *text, int eof, size_t *used, const char **why)
{
	return csv_parse(&row, text, strlen(text), eof, ',', used, why);
}

static void
test_plain_and_quoted(void **state)
{
	const char *why = NULL;
	size_t used = 0;
	const char *text = "a,\"b,\"\"c\"\"\",,\"multi\nline\"\r\nnext";

	(void)state;
	assert_int_equal(parse(text, 0, &used, &why), CSV_ROW);
	assert_int_equal(row.nfields, 4);
	assert_string_equal(row.field[0], "a");
	assert_string_equal(row.field[1], "b,\"c\"");
	assert_string_equal(row.field[2], "");
	assert_string_equal(row.field[3], "multi\nline");
	assert_int_equal(used, strlen(text) - 4); /* up to and with \r\n, not "next" */
}

static void
test_incomplete_needs_more(void **state)
{
	const char *why = NULL;
	size_t used = 0;

	(void)state;
	assert_int_equal(parse("a,\"open", 0, &used, &why), CSV_MORE);
	assert_int_equal(parse("a,b", 0, &used, &why), CSV_MORE);
	/* at the end of the file a record without line end is complete */
	assert_int_equal(parse("a,b\r", 1, &used, &why), CSV_ROW);
	assert_int_equal(used, 4);
	assert_string_equal(row.field[1], "b");
	assert_int_equal(parse("", 1, &used, &why), CSV_MORE);
}

static void
test_errors_skip_the_line(void **state)
{
	const char *why = NULL;
	size_t used = 0;

	(void)state;
	assert_int_equal(parse("ab\"c,d\nnext\n", 0, &used, &why), CSV_ERR);
	assert_non_null(strstr(why, "quote"));
	assert_int_equal(used, 7);
	assert_int_equal(parse("\"ab\"x,d\nnext\n", 0, &used, &why), CSV_ERR);
	assert_non_null(strstr(why, "after a closing quote"));
	assert_int_equal(used, 8);
	assert_int_equal(parse("\"never closed\n", 1, &used, &why), CSV_ERR);
	assert_non_null(strstr(why, "not closed"));
}

static void
test_semicolon_delimiter(void **state)
{
	const char *why = NULL;
	size_t used = 0;

	(void)state;
	assert_int_equal(csv_parse(&row, "1,5;2\n", 6, 0, ';', &used, &why), CSV_ROW);
	assert_int_equal(row.nfields, 2);
	assert_string_equal(row.field[0], "1,5");
}

static void
test_too_long_is_an_error(void **state)
{
	struct csv_row small;
	char text[4096];
	const char *why = NULL;
	size_t used = 0;

	(void)state;
	memset(text, 'x', sizeof(text) - 2);
	text[sizeof(text) - 2] = '\n';
	text[sizeof(text) - 1] = '\0';
	assert_int_equal(csv_row_init(&small, 100), 0);
	assert_int_equal(csv_parse(&small, text, strlen(text), 0, ',', &used, &why), CSV_ERR);
	assert_int_equal(used, strlen(text));
	csv_row_done(&small);
}

static void
test_record_from_csv(void **state)
{
	struct csv_row hdr;
	struct record r;
	char why[256];
	const char *pwhy;
	size_t used;

	(void)state;
	record_init(&r);
	assert_int_equal(csv_row_init(&hdr, 100), 0);
	assert_int_equal(csv_parse(&hdr, "sku,qty\n", 8, 0, ',', &used, &pwhy), CSV_ROW);
	assert_int_equal(parse("A,1\n", 0, &used, &pwhy), CSV_ROW);
	assert_int_equal(record_from_csv(&r, &hdr, &row, why, sizeof(why)), WH_OK);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.key[1], "qty");
	assert_string_equal(r.val[1], "1");
	assert_int_equal(parse("A,1,extra\n", 0, &used, &pwhy), CSV_ROW);
	assert_int_equal(record_from_csv(&r, &hdr, &row, why, sizeof(why)), WH_ERR_INVAL);
	assert_string_equal(why, "3 columns, but the header has 2");
	csv_row_done(&hdr);
	record_done(&r);
}

static void
test_json_numbers_are_exact(void **state)
{
	struct record r;
	char why[256];
	const char *text = "{\"qty\": 12.5, \"a\": 0.1, \"n\": 100000, \"t\": true, \"z\": null,"
			   " \"s\": \"x\"}";

	(void)state;
	record_init(&r);
	assert_int_equal(record_from_json(&r, text, strlen(text), why, sizeof(why)), WH_OK);
	assert_int_equal(r.n, 5); /* null is absent */
	assert_string_equal(r.val[0], "12.5");
	assert_string_equal(r.val[1], "0.1");
	assert_string_equal(r.val[2], "100000");
	assert_string_equal(r.val[3], "true");
	assert_string_equal(r.val[4], "x");
	text = "{\"txn_id\": 12345678901234567890}";
	assert_int_equal(record_from_json(&r, text, strlen(text), why, sizeof(why)), WH_ERR_INVAL);
	assert_non_null(strstr(why, "send it as a string"));
	text = "{\"a\": {\"b\": 1}}";
	assert_int_equal(record_from_json(&r, text, strlen(text), why, sizeof(why)), WH_ERR_INVAL);
	text = "[1, 2]";
	assert_int_equal(record_from_json(&r, text, strlen(text), why, sizeof(why)), WH_ERR_INVAL);
	assert_string_equal(why, "not a JSON object");
	text = "{\"a\": ";
	assert_int_equal(record_from_json(&r, text, strlen(text), why, sizeof(why)), WH_ERR_INVAL);
	assert_non_null(strstr(why, "not valid JSON"));
	record_done(&r);
}

/* The one-conversion shortest text is the one the search over every precision finds (the
 * reference below), for decimals of every scale, random bit patterns and edges. */
static int
number_text_by_search(double d, char *buf, size_t len)
{
	if (!isfinite(d))
		return -1;
	if (d == floor(d) && fabs(d) < 1e15) {
		snprintf(buf, len, "%.0f", d);
		return 0;
	}
	for (int prec = 1; prec <= 15; prec++) {
		snprintf(buf, len, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			return 0;
	}
	return -1;
}

static void
check_number_text(double d)
{
	char got[64], want[64];
	int rg = record_number_text(d, got, sizeof(got));
	int rw = number_text_by_search(d, want, sizeof(want));

	if (rg != rw || (rw == 0 && strcmp(got, want) != 0))
		fail_msg("%.17g: got %d '%s', the search %d '%s'", d, rg, rg ? "" : got, rw,
			 rw ? "" : want);
}

static void
test_json_number_text_is_the_shortest(void **state)
{
	static const double edges[] = {0.1,
				       0.5,
				       1e-5,
				       1.5e-5,
				       9.5e-5,
				       0.0001,
				       0.00015,
				       1e15,
				       1.5e15,
				       1e15 + 0.5,
				       4503599627370495.5,
				       9.99999999999999e14,
				       999999999999999.9,
				       1e21,
				       1e300,
				       5e-324,
				       1e-310,
				       2.2250738585072014e-308,
				       1.7976931348623157e308,
				       -0.001,
				       -192.696,
				       0.30000000000000004,
				       123456789012.345};
	uint64_t x = 88172645463325252ull; /* xorshift64 */

	(void)state;
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
		check_number_text(edges[i]);
	for (int i = 0; i < 40000; i++) {
		double d;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		switch (i % 4) {
		case 0: /* a quantity: up to 6 decimals */
			d = (double)(int64_t)(x % 2000000000000ull) /
			    pow(10, (double)((x >> 60) % 7));
			break;
		case 1: /* any scale */
			d = (double)(x % 100000) * pow(10, (double)((int)(x >> 40) % 40 - 25));
			break;
		case 2: /* any bits */
			memcpy(&d, &x, sizeof(d));
			break;
		default: /* 15 to 17 digits */
			d = (double)(x >> 11) / 9007199254740992.0 * pow(10, (double)(x % 12));
		}
		check_number_text(i % 8 < 4 ? d : -d);
	}
}

/* A NUL would cut "A\u0000B" to "A": two different records alike. Refused, as a byte or an
 * escape; an escaped backslash before u0000 is text, not a NUL. */
static void
test_json_nul_is_refused(void **state)
{
	static const char nul_byte[] = "{\"sku\": \"A\0B\"}";
	struct record r;
	char why[256];
	const char *text = "{\"sku\": \"A\\u0000B\"}";

	(void)state;
	record_init(&r);
	assert_int_equal(record_from_json(&r, text, strlen(text), why, sizeof(why)), WH_ERR_INVAL);
	assert_non_null(strstr(why, "NUL"));
	text = "{\"sku\": \"A\\\\\\u0000\"}"; /* \\ then \u0000 */
	assert_int_equal(record_from_json(&r, text, strlen(text), why, sizeof(why)), WH_ERR_INVAL);
	assert_int_equal(record_from_json(&r, nul_byte, sizeof(nul_byte) - 1, why, sizeof(why)),
			 WH_ERR_INVAL);
	text = "{\"sku\": \"A\\\\u0000B\"}"; /* the text A\u0000B */
	assert_int_equal(record_from_json(&r, text, strlen(text), why, sizeof(why)), WH_OK);
	assert_string_equal(r.val[0], "A\\u0000B");
	record_done(&r);
}

static void
test_csv_nul_is_refused(void **state)
{
	static const char text[] = "a,B\0C,d\nnext\n";
	const char *why = NULL;
	size_t used = 0;

	(void)state;
	assert_int_equal(csv_parse(&row, text, sizeof(text) - 1, 0, ',', &used, &why), CSV_ERR);
	assert_non_null(strstr(why, "NUL"));
	assert_int_equal(used, 8); /* the whole line, not the next */
}

static void
test_json_out_of_memory_is_not_invalid(void **state)
{
	struct record r;
	char why[256];
	const char *text = "{\"a\": \"b\", \"c\": \"d\"}";
	wh_err err;

	long n, sites;

	(void)state;
	record_init(&r);
	wh_mem_fail_at(0);
	assert_int_equal(record_from_json(&r, text, strlen(text), why, sizeof(why)), WH_OK);
	sites = wh_mem_fail_at(0);
	record_done(&r);
	assert_true(sites >= 3); /* the object and its two members, at least */
	for (n = 1; n <= sites; n++) {
		wh_mem_fail_at(n);
		err = record_from_json(&r, text, strlen(text), why, sizeof(why));
		wh_mem_fail_at(0);
		record_done(&r);
		if (err != WH_ERR_NOMEM) /* never "invalid": the record would be quarantined */
			fail_msg("allocation %ld of %ld failed: got %s", n, sites,
				 wh_strerror(err));
	}
	/* past the last allocation it succeeds, with the record intact */
	wh_mem_fail_at(n);
	err = record_from_json(&r, text, strlen(text), why, sizeof(why));
	wh_mem_fail_at(0);
	assert_int_equal(err, WH_OK);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.key[0], "a");
	assert_string_equal(r.val[0], "b");
	assert_string_equal(r.key[1], "c");
	assert_string_equal(r.val[1], "d");
	record_done(&r);
}

/* A record whose tree outgrows the record's arena goes on to the heap: read whole, freed
 * whole (valgrind and ASan check), out of memory there too never "invalid". */
static void
test_json_larger_than_the_arena(void **state)
{
	static char text[40000];
	struct record r;
	char why[256], want[256];
	size_t at = 0;
	long sites;
	wh_err err;

	(void)state;
	text[at++] = '{';
	for (int i = 0; i < 100; i++)
		at += (size_t)snprintf(text + at, sizeof(text) - at, "%s\"k%03d\": \"%0200d\"",
				       i ? ", " : "", i, i);
	text[at++] = '}';
	text[at] = '\0';
	record_init(&r);
	wh_mem_fail_at(0);
	assert_int_equal(record_from_json(&r, text, at, why, sizeof(why)), WH_OK);
	sites = wh_mem_fail_at(0);
	assert_true(r.arena_spilled);
	assert_int_equal(r.n, 100);
	for (int i = 0; i < 100; i += 33) {
		snprintf(want, sizeof(want), "%0200d", i);
		assert_string_equal(r.val[i], want);
	}
	record_done(&r);
	for (long n = 1; n <= sites; n += 7) {
		wh_mem_fail_at(n);
		err = record_from_json(&r, text, at, why, sizeof(why));
		wh_mem_fail_at(0);
		record_done(&r);
		assert_int_equal(err, WH_ERR_NOMEM);
	}
	assert_int_equal(record_from_json(&r, "{\"a\": \"b\"}", 10, why, sizeof(why)), WH_OK);
	assert_false(r.arena_spilled);
	assert_string_equal(r.val[0], "b");
	record_done(&r);
}

static wh_err
count_item(const struct record_item *it, void *arg)
{
	int *n = arg;

	assert_int_equal(it->err, WH_OK);
	assert_string_equal(it->r->val[0], "b");
	(*n)++;
	return WH_OK;
}

/* The first body a process parses allocates through agent/mem.h like every later one (cJSON's
 * hooks were installed only by record_init, after that body's tree was made with malloc and
 * then freed with wh_free). Runs first, before any other test installs the hooks. */
static void
test_first_json_body_uses_the_wrapper(void **state)
{
	const char *body = "[{\"a\": \"b\"}, {\"a\": \"b\"}]";
	char why[256];
	long first, second;
	int n = 0;

	(void)state;
	wh_mem_fail_at(0);
	assert_int_equal(
		record_body_each(0, body, strlen(body), 10, count_item, &n, why, sizeof(why)),
		WH_OK);
	first = wh_mem_fail_at(0);
	assert_int_equal(
		record_body_each(0, body, strlen(body), 10, count_item, &n, why, sizeof(why)),
		WH_OK);
	second = wh_mem_fail_at(0);
	assert_int_equal(n, 4);
	assert_int_equal(first, second);
	wh_mem_fail_at(1); /* its first allocation */
	assert_int_equal(
		record_body_each(0, body, strlen(body), 10, count_item, &n, why, sizeof(why)),
		WH_ERR_NOMEM);
	wh_mem_fail_at(0);
}

struct seen {
	int n, bad;
	char raw[4][64];
	char why[160];
};

static wh_err
collect(const struct record_item *it, void *arg)
{
	struct seen *s = arg;

	if (it->err != WH_OK) {
		s->bad++;
		snprintf(s->why, sizeof(s->why), "%s", it->why);
		return WH_OK;
	}
	if (s->n < 4)
		snprintf(s->raw[s->n], sizeof(s->raw[0]), "%.*s", (int)it->raw_len, it->raw);
	s->n++;
	return WH_OK;
}

static void
test_json_pointer(void **state)
{
	const char *body = "{\"data\":{\"items\":[{\"a\":\"b\"},{\"a\":\"c\"}],\"one\":{\"x/"
			   "y\":{\"a\":\"d\"}}}}";
	const char *lines = "{\"d\":[{\"a\":\"b\"},{\"a\":\"c\"}]}\n{\"d\":{\"a\":\"e\"}}\n{\"e\":"
			    "1}\nnot json\n";
	struct seen s;
	char why[256];

	(void)state;
	assert_int_equal(record_pointer_check("", why, sizeof(why)), 0);
	assert_int_equal(record_pointer_check("/data/items", why, sizeof(why)), 0);
	assert_int_equal(record_pointer_check("/a~1b/~0/0", why, sizeof(why)), 0);
	assert_int_equal(record_pointer_check("data", why, sizeof(why)), -1);
	assert_int_equal(record_pointer_check("/a~2", why, sizeof(why)), -1);
	assert_int_equal(
		record_pointer_check("/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q", why, sizeof(why)), -1);

	memset(&s, 0, sizeof(s));
	assert_int_equal(record_body_each_at(0, "/data/items", body, strlen(body), 10, collect, &s,
					     why, sizeof(why)),
			 WH_OK);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.raw[0], "{\"a\":\"b\"}");
	assert_string_equal(s.raw[1], "{\"a\":\"c\"}");
	/* an object at the pointer is one record, ~1 is '/' */
	memset(&s, 0, sizeof(s));
	assert_int_equal(record_body_each_at(0, "/data/one/x~1y", body, strlen(body), 10, collect,
					     &s, why, sizeof(why)),
			 WH_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.raw[0], "{\"a\":\"d\"}");
	/* array index; leads nowhere; too many */
	memset(&s, 0, sizeof(s));
	assert_int_equal(record_body_each_at(0, "/data/items/1", body, strlen(body), 10, collect,
					     &s, why, sizeof(why)),
			 WH_OK);
	assert_string_equal(s.raw[0], "{\"a\":\"c\"}");
	assert_int_equal(record_body_each_at(0, "/data/items/01", body, strlen(body), 10, collect,
					     &s, why, sizeof(why)),
			 WH_ERR_INVAL);
	assert_int_equal(record_body_each_at(0, "/data/nothing", body, strlen(body), 10, collect,
					     &s, why, sizeof(why)),
			 WH_ERR_INVAL);
	assert_non_null(strstr(why, "records = /data/nothing: no such place"));
	assert_int_equal(record_body_each_at(0, "/data/items", body, strlen(body), 1, collect, &s,
					     why, sizeof(why)),
			 WH_ERR_TOOBIG);
	/* JSON Lines: each line's records; a line without them is one bad item */
	memset(&s, 0, sizeof(s));
	assert_int_equal(record_body_each_at(1, "/d", lines, strlen(lines), 10, collect, &s, why,
					     sizeof(why)),
			 WH_OK);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.bad, 2);
	assert_string_equal(s.raw[2], "{\"a\":\"e\"}");
	assert_int_equal(record_body_each_at(1, "/d", lines, strlen(lines), 4, collect, &s, why,
					     sizeof(why)),
			 WH_ERR_TOOBIG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_json_body_uses_the_wrapper), /* first: see there */
		cmocka_unit_test(test_plain_and_quoted),
		cmocka_unit_test(test_json_number_text_is_the_shortest),
		cmocka_unit_test(test_json_larger_than_the_arena),
		cmocka_unit_test(test_incomplete_needs_more),
		cmocka_unit_test(test_errors_skip_the_line),
		cmocka_unit_test(test_semicolon_delimiter),
		cmocka_unit_test(test_too_long_is_an_error),
		cmocka_unit_test(test_record_from_csv),
		cmocka_unit_test(test_json_numbers_are_exact),
		cmocka_unit_test(test_json_nul_is_refused),
		cmocka_unit_test(test_csv_nul_is_refused),
		cmocka_unit_test(test_json_out_of_memory_is_not_invalid),
		cmocka_unit_test(test_json_pointer),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
