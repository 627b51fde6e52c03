/* tlsdiag tests: escaping of outside text, TLS files checked before use, explanations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "conf.h"
#include "testutil.h"
#include "tlsdiag.h"

static void
test_escape(void **state)
{
	char out[16];

	(void)state;
	tlsdiag_escape(out, sizeof(out), "a\nb\x1b[");
	assert_string_equal(out, "a\\x0ab\\x1b[");
	tlsdiag_escape(out, sizeof(out), "0123456789abcdefghij");
	assert_true(strlen(out) < sizeof(out));
	tlsdiag_escape(out, sizeof(out), "\\");
	assert_string_equal(out, "\\x5c");
}

static void
test_check_files(void **state)
{
	struct conf c;
	char why[300], ca[300], key[300], empty[1] = "";

	(void)state;
	memset(&c, 0, sizeof(c));
	snprintf(ca, sizeof(ca), "%s", tu_write(tu_tmpdir(), "ca.crt", "x"));
	c.mqtt.cafile = ca;
	c.mqtt.certfile = empty;
	c.mqtt.keyfile = empty;
	assert_int_equal(tlsdiag_check_files(&c, why, sizeof(why)), WH_OK);
	c.mqtt.certfile = ca;
	snprintf(key, sizeof(key), "%s/no-such.key", tu_tmpdir());
	c.mqtt.keyfile = key;
	assert_int_equal(tlsdiag_check_files(&c, why, sizeof(why)), WH_ERR_IO);
	assert_non_null(strstr(why, "cannot read keyfile "));
	assert_non_null(strstr(why, "no-such.key: No such file or directory"));
}

static void
test_explain(void **state)
{
	char out[320];

	(void)state;
	tlsdiag_explain(NULL, "h",
			"OpenSSL Error[0]: error:0A000418:SSL routines::tlsv1 alert unknown ca", 0,
			NULL, out, sizeof(out));
	assert_non_null(strstr(out, "trusts the client certificate"));
	tlsdiag_explain(NULL, "h",
			"OpenSSL Error[0]: error:0A000086:SSL routines::certificate verify failed",
			1, "other.example", out, sizeof(out));
	assert_string_equal(out,
			    "host-name mismatch: the broker's certificate is for other.example, "
			    "not for the configured host h");
	tlsdiag_explain(NULL, "h", "odd\ntext", 0, NULL, out, sizeof(out));
	assert_string_equal(out, "TLS: odd\\x0atext");
	assert_null(strstr(out, "trusts the client"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_check_files),
		cmocka_unit_test(test_explain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
