/* httpauth: the signature header's grammar, the window, a signature taken once, the replay
 * set's floor when it is full or the clock steps back, secret files that hold nothing, the
 * bearer check and loopback peers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "crypto.h"
#include "httpauth.h"
#include "mem.h"
#include "testutil.h"

static const char key[] = "k3y";

/* The header a sender with key writes for body at t. */
static void
sign(const char *k, int64_t t, const char *body, char *out, size_t len)
{
	char msg[512], hex[65];
	uint8_t mac[32];

	snprintf(msg, sizeof(msg), "%lld.%s", (long long)t, body);
	assert_int_equal(crypto_hmac_sha256(k, strlen(k), msg, strlen(msg), mac), 0);
	crypto_hex(mac, 32, hex);
	snprintf(out, len, "t=%lld,v1=%s", (long long)t, hex);
}

static enum httpauth_verdict
check(struct httpauth_replay *r, const char *header, const char *body, int64_t now)
{
	struct httpauth_sig s;
	enum httpauth_verdict v = httpauth_parse(header, &s);

	if (v != HTTPAUTH_OK)
		return v;
	return httpauth_verify(r, (const uint8_t *)key, strlen(key), &s, body, strlen(body), now,
			       300);
}

static void
test_grammar(void **state)
{
	struct httpauth_replay r;
	char h[256], h2[512];
	struct httpauth_sig s;

	(void)state;
	assert_int_equal(httpauth_replay_init(&r, 16), WH_OK);
	sign(key, 1000, "{}", h, sizeof(h));
	assert_int_equal(check(&r, NULL, "{}", 1000), HTTPAUTH_MISSING);
	assert_int_equal(check(&r, "sha256=00", "{}", 1000), HTTPAUTH_OLDFORMAT);
	assert_int_equal(check(&r, "", "{}", 1000), HTTPAUTH_MALFORMED);
	assert_int_equal(check(&r, "t=1000", "{}", 1000), HTTPAUTH_MALFORMED);
	assert_int_equal(check(&r, h + strlen("t=1000,"), "{}", 1000), HTTPAUTH_MALFORMED);
	assert_int_equal(check(&r, "t=-5,v1=00", "{}", 1000), HTTPAUTH_MALFORMED);
	snprintf(h2, sizeof(h2), "t=1000,t=1000,%s", h + strlen("t=1000,"));
	assert_int_equal(check(&r, h2, "{}", 1000), HTTPAUTH_MALFORMED);
	snprintf(h2, sizeof(h2), "t=1000,%sx", h + strlen("t=1000,")); /* 65 digits */
	assert_int_equal(check(&r, h2, "{}", 1000), HTTPAUTH_MALFORMED);
	/* keys in another order, spaces, a v0= and a second (wrong) v1 are fine */
	snprintf(h2, sizeof(h2), " v0=abc , %s , v1=%064d ,t=1000", h + strlen("t=1000,"), 0);
	assert_int_equal(httpauth_parse(h2, &s), HTTPAUTH_OK);
	assert_int_equal(s.t, 1000);
	assert_int_equal(s.nv1, 2);
	assert_int_equal(check(&r, h2, "{}", 1000), HTTPAUTH_OK);
	httpauth_replay_done(&r);
}

static void
test_window_and_once(void **state)
{
	struct httpauth_replay r;
	struct httpauth_sig s;
	char h[256];

	(void)state;
	assert_int_equal(httpauth_replay_init(&r, 16), WH_OK);
	sign(key, 1000, "{\"a\":1}", h, sizeof(h));
	assert_int_equal(check(&r, h, "{\"a\":1}", 1301), HTTPAUTH_TOO_OLD);
	assert_int_equal(check(&r, h, "{\"a\":1}", 699), HTTPAUTH_FUTURE);
	assert_int_equal(check(&r, h, "{\"a\":2}", 1000), HTTPAUTH_WRONG);
	sign("other", 1000, "{\"a\":1}", h, sizeof(h));
	assert_int_equal(check(&r, h, "{\"a\":1}", 1000), HTTPAUTH_WRONG);
	assert_int_equal(httpauth_replay_count(&r), 0); /* a wrong one is not remembered */
	sign(key, 1000, "{\"a\":1}", h, sizeof(h));
	assert_int_equal(check(&r, h, "{\"a\":1}", 1300), HTTPAUTH_OK);
	assert_int_equal(check(&r, h, "{\"a\":1}", 1300), HTTPAUTH_REPLAYED);
	/* out of the window it leaves the set: the floor and the window keep refusing it */
	assert_int_equal(check(&r, h, "{\"a\":1}", 1301), HTTPAUTH_TOO_OLD);
	assert_int_equal(httpauth_replay_count(&r), 0);
	/* the clock steps back: the window would take it again, the floor does not */
	assert_int_equal(check(&r, h, "{\"a\":1}", 1000), HTTPAUTH_FORGOTTEN);
	sign(key, 1001, "{\"a\":1}", h, sizeof(h)); /* signed anew: taken */
	assert_int_equal(check(&r, h, "{\"a\":1}", 1000), HTTPAUTH_OK);
	/* answered "nothing taken, retry": forgotten, taken again, then refused again */
	assert_int_equal(httpauth_parse(h, &s), HTTPAUTH_OK);
	httpauth_forget(&r, &s);
	assert_int_equal(check(&r, h, "{\"a\":1}", 1000), HTTPAUTH_OK);
	assert_int_equal(check(&r, h, "{\"a\":1}", 1000), HTTPAUTH_REPLAYED);
	httpauth_forget(&r, &s);
	httpauth_forget(&r, &s);			/* twice is harmless */
	assert_int_equal(httpauth_replay_count(&r), 2); /* the ring keeps them until they age */
	assert_int_equal(check(&r, h, "{\"a\":1}", 1302), HTTPAUTH_TOO_OLD);
	assert_int_equal(httpauth_replay_count(&r), 0);
	httpauth_replay_done(&r);
}

static void
test_full_set(void **state)
{
	struct httpauth_replay r;
	char h[256], first[256], body[32];

	(void)state;
	assert_int_equal(httpauth_replay_init(&r, 4), WH_OK);
	for (int i = 0; i < 4; i++) {
		snprintf(body, sizeof(body), "{\"n\":%d}", i);
		sign(key, 1000 + i, body, i == 0 ? first : h, sizeof(h));
		assert_int_equal(check(&r, i == 0 ? first : h, body, 1010), HTTPAUTH_OK);
	}
	assert_int_equal(httpauth_replay_count(&r), 4);
	for (int i = 1; i < 4; i++) { /* every one held is refused */
		snprintf(body, sizeof(body), "{\"n\":%d}", i);
		sign(key, 1000 + i, body, h, sizeof(h));
		assert_int_equal(check(&r, h, body, 1010), HTTPAUTH_REPLAYED);
	}
	sign(key, 1005, "{\"n\":9}", h, sizeof(h)); /* the fifth pushes the first out */
	assert_int_equal(check(&r, h, "{\"n\":9}", 1010), HTTPAUTH_OK);
	assert_int_equal(httpauth_replay_count(&r), 4);
	assert_int_equal(check(&r, first, "{\"n\":0}", 1010), HTTPAUTH_FORGOTTEN);
	sign(key, 1000, "{\"n\":8}", h, sizeof(h)); /* also a new one at the floor */
	assert_int_equal(check(&r, h, "{\"n\":8}", 1010), HTTPAUTH_FORGOTTEN);
	httpauth_replay_done(&r);
}

static void
test_secret_files(void **state)
{
	const char *dir = tu_tmpdir();
	uint8_t *buf = NULL;
	size_t len = 0;
	char why[512];

	(void)state;
	assert_int_equal(httpauth_secret_load(tu_write(dir, "a", "\n"), "hmac_secret_file", &buf,
					      &len, why, sizeof(why)),
			 WH_ERR_CONF);
	assert_non_null(strstr(why, "hmac_secret_file"));
	assert_non_null(strstr(why, "is empty"));
	assert_int_equal(httpauth_secret_load(tu_write(dir, "b", " \t\r\n\r\n"), "token_file", &buf,
					      &len, why, sizeof(why)),
			 WH_ERR_CONF);
	assert_int_equal(
		httpauth_secret_load(tu_write(dir, "c", ""), "x", &buf, &len, why, sizeof(why)),
		WH_ERR_CONF);
	assert_int_equal(httpauth_secret_load("/nonexistent/x", "x", &buf, &len, why, sizeof(why)),
			 WH_ERR_IO);
	assert_null(buf);
	assert_int_equal(httpauth_secret_load(tu_write(dir, "d", "sp ace\r\n"), "x", &buf, &len,
					      why, sizeof(why)),
			 WH_OK);
	assert_int_equal(len, 6);
	assert_memory_equal(buf, "sp ace", 7); /* NUL-terminated */
	assert_int_equal(httpauth_bearer_ok("Bearer  sp ace ", buf, len), 1);
	assert_int_equal(httpauth_bearer_ok("bearer sp ace", buf, len), 1);
	assert_int_equal(httpauth_bearer_ok("Bearer sp acf", buf, len), 0);
	assert_int_equal(httpauth_bearer_ok("Bearersp ace", buf, len), 0);
	assert_int_equal(httpauth_bearer_ok("Basic sp ace", buf, len), 0);
	assert_int_equal(httpauth_bearer_ok("Bearer sp ace x", buf, len), 0);
	assert_int_equal(httpauth_bearer_ok(NULL, buf, len), 0);
	httpauth_secret_free(buf, len);
	/* an allocation failure is said, not crashed on */
	wh_mem_fail_at(1);
	buf = NULL;
	assert_int_equal(
		httpauth_secret_load(tu_write(dir, "e", "k"), "x", &buf, &len, why, sizeof(why)),
		WH_ERR_NOMEM);
	wh_mem_fail_at(0);
	assert_null(buf);
	tu_rmtree(dir);
}

static void
test_loopback(void **state)
{
	struct sockaddr_in in = {.sin_family = AF_INET};
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
	static const char *const yes[] = {"127.0.0.1", "127.0.0.2", "127.255.0.9"};
	static const char *const no[] = {"192.0.2.1", "10.0.0.1", "0.0.0.0", "128.0.0.1"};
	static const char *const yes6[] = {"::1", "::ffff:127.0.0.1"};
	static const char *const no6[] = {"::", "2001:db8::1", "::ffff:192.0.2.1", "::2"};

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		inet_pton(AF_INET, yes[i], &in.sin_addr);
		assert_true(httpauth_peer_is_loopback((struct sockaddr *)&in));
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		inet_pton(AF_INET, no[i], &in.sin_addr);
		assert_false(httpauth_peer_is_loopback((struct sockaddr *)&in));
	}
	for (size_t i = 0; i < sizeof(yes6) / sizeof(yes6[0]); i++) {
		inet_pton(AF_INET6, yes6[i], &in6.sin6_addr);
		assert_true(httpauth_peer_is_loopback((struct sockaddr *)&in6));
	}
	for (size_t i = 0; i < sizeof(no6) / sizeof(no6[0]); i++) {
		inet_pton(AF_INET6, no6[i], &in6.sin6_addr);
		assert_false(httpauth_peer_is_loopback((struct sockaddr *)&in6));
	}
	assert_false(httpauth_peer_is_loopback(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grammar),	 cmocka_unit_test(test_window_and_once),
		cmocka_unit_test(test_full_set), cmocka_unit_test(test_secret_files),
		cmocka_unit_test(test_loopback),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
