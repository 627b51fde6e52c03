/* log tests: escaping of outside text (control characters, invalid UTF-8, C1, bidi,
 * cuts at a character), every log line one line, the rate limit per call site. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

static const char *
esc(const char *s, size_t n, size_t outlen)
{
	static char out[256];

	assert_true(outlen <= sizeof(out));
	log_escape(out, outlen, s, n);
	return out;
}

#define ESC(lit) esc(lit, sizeof(lit) - 1, 256)

static void
test_escape(void **state)
{
	(void)state;
	assert_string_equal(ESC("a\nb\x1b[2J"), "a\\x0ab\\x1b[2J");
	assert_string_equal(ESC("C:\\x0a"), "C:\\x5cx0a");
	assert_string_equal(ESC("Lager S\xc3\xbc"
				"d \xe2\x82\xac"),
			    "Lager S\xc3\xbc"
			    "d \xe2\x82\xac");
	assert_string_equal(ESC("\xff\xc0\x80\x80"), "\\xff\\xc0\\x80\\x80");
	assert_string_equal(ESC("\xc2\x9b"
				"2J"),
			    "\\xc2\\x9b"
			    "2J"); /* C1 CSI as UTF-8 */
	assert_string_equal(ESC("abc\xe2\x80\xae"
				"cba"),
			    "abc\\xe2\\x80\\xae"
			    "cba");				     /* right-to-left override */
	assert_string_equal(ESC("\xe2\x80\xa8"), "\\xe2\\x80\\xa8"); /* line separator */
	assert_string_equal(ESC("\xed\xa0\x80"), "\\xed\\xa0\\x80"); /* a surrogate */
	assert_string_equal(ESC("\xe2\x82"), "\\xe2\\x82");	     /* cut short */
	assert_string_equal(esc("a\0b", 3, 256), "a\\x00b");
	assert_string_equal(esc(NULL, 5, 16), "");
}

static void
test_escape_cut(void **state)
{
	(void)state;
	assert_string_equal(esc("0123456789", 10, 11), "0123456789"); /* fits exactly */
	assert_string_equal(esc("0123456789a", 11, 11), "0123456...");
	assert_string_equal(esc("\n\n\n", 3, 11), "\\x0a..."); /* never half an escape */
	assert_string_equal(esc("aaaaa\xc3\xbc\xc3\xbc\xc3\xbc", 11, 11),
			    "aaaaa\xc3\xbc..."); /* nor half a character */
	assert_string_equal(esc("abc", 3, 3), "");
}

/* Runs fn with stderr going to a file; returns what it wrote (caller frees). */
static char *
captured(void (*fn)(void))
{
	char path[] = "/tmp/test_log.XXXXXX", *text;
	int fd = mkstemp(path), saved = dup(2);
	FILE *f;
	long n;

	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	f = fdopen(fd, "r");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	unlink(path);
	return text;
}

static void
injecting_line(void)
{
	log_warnx("spool: %s done", "x.csv\n<2>whagent: error: forged");
}

static void
test_one_line(void **state)
{
	char *out;

	(void)state;
	unsetenv("JOURNAL_STREAM");
	out = captured(injecting_line);
	assert_string_equal(out,
			    "whagent: warning: spool: x.csv\\x0a<2>whagent: error: forged done\n");
	free(out);
}

static void
many_lines(void)
{
	for (int i = 0; i < 25; i++)
		LOG_LIMITED(LOG_LVL_WARN, "record %d refused", i);
}

static void
test_limit(void **state)
{
	char *out;
	int lines = 0;

	(void)state;
	out = captured(many_lines);
	for (char *p = out; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	assert_int_equal(lines, LOG_LIMIT_BURST);
	assert_non_null(strstr(out, "record 19 refused"));
	assert_null(strstr(out, "record 20 refused"));
	assert_int_equal(log_held_total(), 5);
	free(out);
}

/* A window long past with lines held back in it. */
static struct log_limit past = {.start = -1000, .n = LOG_LIMIT_BURST, .held = 7};

static void
line_after_window(void)
{
	log_limited(&past, LOG_LVL_WARN, "record %d refused", 99);
}

static void
test_limit_says_held(void **state)
{
	char *out;

	(void)state;
	out = captured(line_after_window);
	assert_string_equal(out,
			    "whagent: warning: 7 lines like the next were held back (at most 20 "
			    "per 10 s)\nwhagent: warning: record 99 refused\n");
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),		cmocka_unit_test(test_escape_cut),
		cmocka_unit_test(test_one_line),	cmocka_unit_test(test_limit),
		cmocka_unit_test(test_limit_says_held),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
