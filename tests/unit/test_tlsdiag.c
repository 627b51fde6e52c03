/* tlsdiag tests: TLS files checked before use, explanations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "conf.h"
#include "testutil.h"
#include "tlsdiag.h"

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

static int verify_calls;

static int
counting_verify(int ok, X509_STORE_CTX *ctx)
{
	(void)ctx;
	verify_calls++;
	return ok;
}

/* The watch is set again at every read while connecting: the verify callback it wraps must
 * stay libmosquitto's, called once per check (not itself, which recursed until the stack ran
 * out when the broker's certificate came in a later read). */
static void
test_watch_twice(void **state)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl;
	X509_STORE_CTX *sctx = X509_STORE_CTX_new();
	struct tlsdiag_watch w;
	SSL_verify_cb cb;

	(void)state;
	assert_non_null(ctx);
	assert_non_null(sctx);
	memset(&w, 0, sizeof(w));
	ssl = SSL_new(ctx);
	assert_non_null(ssl);
	SSL_set_verify(ssl, SSL_VERIFY_PEER, counting_verify);
	tlsdiag_watch(ssl, &w);
	tlsdiag_watch(ssl, &w);
	tlsdiag_watch(ssl, &w);
	cb = SSL_get_verify_callback(ssl);
	assert_true(cb != counting_verify); /* wrapped */
	assert_int_equal(X509_STORE_CTX_init(sctx, NULL, NULL, NULL), 1);
	assert_int_equal(
		X509_STORE_CTX_set_ex_data(sctx, SSL_get_ex_data_X509_STORE_CTX_idx(), ssl), 1);
	verify_calls = 0;
	assert_int_equal(cb(1, sctx), 1);
	assert_int_equal(verify_calls, 1);
	X509_STORE_CTX_free(sctx);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_files),
		cmocka_unit_test(test_explain),
		cmocka_unit_test(test_watch_twice),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
