/* Enrollment and client-certificate checks: the key and CSR a CA can sign, and what `whagent
 * check` and the uplink learn from a certificate (days left, matching key, chain), against
 * certificates made for the run. Days left are checked with libc's timegm, not with the
 * agent's own calendar arithmetic. */
#include <fcntl.h>
#include <mbedtls/bignum.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "cert.h"
#include "crypto.h"
#include "testutil.h"

static char dir[512], key[512], pub[512], other_key[512], other_pub[512];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s", tu_tmpdir());
	tu_keypair(dir, "client", key, pub);
	tu_keypair(dir, "other", other_key, other_pub);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	tu_rmtree(dir);
	return 0;
}

/* "YYYYMMDDhhmmss" (for mbedtls) and "YYYY-MM-DD hh:mm:ss UTC" (as cert_info says it) of t. */
static void
x509_time(time_t t, char *compact, char *shown)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(compact, 16, "%Y%m%d%H%M%S", &tm);
	strftime(shown, 32, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* A self-signed CA certificate for keyfile's key, valid until not_after, at dir/name.crt. */
static const char *
make_cert(const char *keyfile, const char *name, time_t not_after, char *shown)
{
	static char path[600];
	char before[16], after[16], ignored[32], text[64];
	unsigned char pem[4096];
	mbedtls_x509write_cert w;
	mbedtls_pk_context pk;
	mbedtls_mpi serial;
	struct crypto_rng r;

	x509_time(time(NULL) - 86400, before, ignored);
	x509_time(not_after, after, shown);
	mbedtls_x509write_crt_init(&w);
	mbedtls_pk_init(&pk);
	mbedtls_mpi_init(&serial);
	assert_int_equal(crypto_rng_init(&r), 0);
	assert_int_equal(crypto_key_parse(&pk, keyfile, &r), 0);
	snprintf(text, sizeof(text), "CN=%s,O=Test", name);
	mbedtls_x509write_crt_set_subject_key(&w, &pk);
	mbedtls_x509write_crt_set_issuer_key(&w, &pk);
	assert_int_equal(mbedtls_x509write_crt_set_subject_name(&w, text), 0);
	assert_int_equal(mbedtls_x509write_crt_set_issuer_name(&w, text), 0);
	mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
	assert_int_equal(mbedtls_mpi_lset(&serial, 7), 0);
	assert_int_equal(mbedtls_x509write_crt_set_serial(&w, &serial), 0);
	assert_int_equal(mbedtls_x509write_crt_set_validity(&w, before, after), 0);
	assert_int_equal(mbedtls_x509write_crt_set_basic_constraints(&w, 1, 0), 0);
	assert_int_equal(
		mbedtls_x509write_crt_pem(&w, pem, sizeof(pem), mbedtls_ctr_drbg_random, &r.drbg),
		0);
	mbedtls_mpi_free(&serial);
	mbedtls_pk_free(&pk);
	mbedtls_x509write_crt_free(&w);
	crypto_rng_done(&r);
	snprintf(text, sizeof(text), "%s.crt", name);
	snprintf(path, sizeof(path), "%s", tu_write(dir, text, (const char *)pem));
	return path;
}

static void
test_days_left_and_subject(void **state)
{
	struct cert_info info;
	char shown[32], why[512] = "", crt[600];
	time_t now = time(NULL);

	(void)state;
	/* 100 days and 12 hours from now: 100 whole days left */
	snprintf(crt, sizeof(crt), "%s", make_cert(key, "dev-1", now + 100 * 86400 + 43200, shown));
	assert_int_equal(cert_check(crt, key, NULL, &info, why, sizeof(why)), 0);
	assert_int_equal(info.days_left, 100);
	assert_string_equal(info.not_after, shown);
	assert_non_null(strstr(info.subject, "CN=dev-1"));
	/* one that chains to itself (a CA in cafile) */
	assert_int_equal(cert_check(crt, key, crt, &info, why, sizeof(why)), 0);
	/* one year on, across a leap day or not: libc's calendar agrees */
	snprintf(crt, sizeof(crt), "%s", make_cert(key, "dev-2", now + 3 * 365 * 86400, shown));
	assert_int_equal(cert_check(crt, key, NULL, &info, why, sizeof(why)), 0);
	{
		struct tm tm = {0};

		assert_int_equal(sscanf(info.not_after, "%d-%d-%d %d:%d:%d", &tm.tm_year,
					&tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
					&tm.tm_sec),
				 6);
		tm.tm_year -= 1900;
		tm.tm_mon -= 1;
		assert_int_equal(info.days_left, (int)((timegm(&tm) - time(NULL)) / 86400));
	}
}

static void
test_expired_mismatched_unchained(void **state)
{
	struct cert_info info;
	char shown[32], why[512], crt[600], other_crt[600], expect[128];
	time_t now = time(NULL);

	(void)state;
	snprintf(crt, sizeof(crt), "%s", make_cert(key, "old", now - 3 * 86400 - 3600, shown));
	assert_int_equal(cert_check(crt, key, NULL, &info, why, sizeof(why)), -1);
	snprintf(expect, sizeof(expect), "expired on %s", shown);
	assert_non_null(strstr(why, expect));
	assert_int_equal(info.days_left, -4); /* 3 days and an hour ago */
	snprintf(crt, sizeof(crt), "%s", make_cert(key, "dev-3", now + 30 * 86400, shown));
	assert_int_equal(cert_check(crt, other_key, NULL, &info, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "does not match the key"));
	snprintf(other_crt, sizeof(other_crt), "%s",
		 make_cert(other_key, "other-ca", now + 30 * 86400, shown));
	assert_int_equal(cert_check(crt, key, other_crt, &info, why, sizeof(why)),
			 1); /* split CA: the caller weighs it */
	assert_non_null(strstr(why, "does not chain to"));
	assert_int_equal(cert_check(pub, key, NULL, &info, why, sizeof(why)), -1); /* not a cert */
	assert_string_equal(info.not_after, "");
	assert_non_null(strstr(why, pub));
}

static int
contains(const unsigned char *p, size_t len, const char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(p + i, s, n) == 0)
			return 1;
	return 0;
}

static int
read_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
	return 0;
}

static void
test_enroll(void **state)
{
	const char *dns[] = {"gw1.example.com", "gw1"};
	char k[600], csr_path[600], fp[65], why[512], hex[65], first[4096], now_key[4096];
	mbedtls_x509_csr csr;
	mbedtls_pk_context pk;
	struct crypto_rng r;
	struct crypto_sha256 h;
	uint8_t digest[32];
	struct stat st;

	(void)state;
	snprintf(k, sizeof(k), "%s/enrolled.key", dir);
	snprintf(csr_path, sizeof(csr_path), "%s/enrolled.csr", dir);
	assert_int_equal(
		cert_enroll(k, csr_path, "CN=DC-1,O=Acme", dns, 2, 0, NULL, fp, why, sizeof(why)),
		0);
	assert_int_equal(stat(k, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600); /* the private key is the owner's only */
	mbedtls_x509_csr_init(&csr);
	assert_int_equal(mbedtls_x509_csr_parse_file(&csr, csr_path), 0);
	{
		char dn[256];

		assert_true(mbedtls_x509_dn_gets(dn, sizeof(dn), &csr.subject) > 0);
		assert_non_null(strstr(dn, "CN=DC-1"));
		assert_non_null(strstr(dn, "O=Acme"));
	}
	assert_true(contains(csr.raw.p, csr.raw.len, "gw1.example.com")); /* the SANs */
	crypto_sha256_start(&h);
	crypto_sha256_update(&h, csr.raw.p, csr.raw.len);
	crypto_sha256_finish(&h, digest);
	crypto_hex(digest, sizeof(digest), hex);
	assert_string_equal(fp, hex); /* what the operator reads out to the CA */
	mbedtls_pk_init(&pk);
	assert_int_equal(crypto_rng_init(&r), 0);
	assert_int_equal(crypto_key_parse(&pk, k, &r), 0);
#if MBEDTLS_VERSION_MAJOR < 3
	assert_int_equal(mbedtls_pk_check_pair(&csr.pk, &pk), 0);
#else
	assert_int_equal(mbedtls_pk_check_pair(&csr.pk, &pk, mbedtls_ctr_drbg_random, &r.drbg), 0);
#endif
	mbedtls_pk_free(&pk);
	crypto_rng_done(&r);
	mbedtls_x509_csr_free(&csr);

	/* an existing key is never replaced without force */
	assert_int_equal(read_file(k, first, sizeof(first)), 0);
	assert_int_equal(
		cert_enroll(k, csr_path, "CN=DC-1", NULL, 0, 0, NULL, fp, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "use --force"));
	assert_int_equal(read_file(k, now_key, sizeof(now_key)), 0);
	assert_string_equal(now_key, first);
	assert_int_equal(
		cert_enroll(k, csr_path, "CN=DC-1", NULL, 0, 1, NULL, fp, why, sizeof(why)), 0);
	assert_int_equal(read_file(k, now_key, sizeof(now_key)), 0);
	assert_string_not_equal(now_key, first);
	/* a subject mbedtls cannot read is refused, said so, and even with force the key in use
	 * stays */
	assert_int_equal(read_file(k, first, sizeof(first)), 0);
	assert_int_equal(cert_enroll(k, csr_path, "XX=1", NULL, 0, 1, NULL, fp, why, sizeof(why)),
			 -1);
	assert_non_null(strstr(why, "subject name"));
	assert_int_equal(read_file(k, now_key, sizeof(now_key)), 0);
	assert_string_equal(now_key, first);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_days_left_and_subject),
		cmocka_unit_test(test_expired_mismatched_unchained),
		cmocka_unit_test(test_enroll),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
