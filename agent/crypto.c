/* SHA-256 and hex helpers over mbedtls. */
#include "crypto.h"

#include <mbedtls/md.h>
#include <mbedtls/version.h>
#include <string.h>

/* mbedtls 2.x names the checked variants *_ret; 3.x removed the unchecked ones. */
#if MBEDTLS_VERSION_MAJOR < 3
#define sha256_starts mbedtls_sha256_starts_ret
#define sha256_update mbedtls_sha256_update_ret
#define sha256_finish mbedtls_sha256_finish_ret
#else
#define sha256_starts mbedtls_sha256_starts
#define sha256_update mbedtls_sha256_update
#define sha256_finish mbedtls_sha256_finish
#endif

void
crypto_sha256_start(struct crypto_sha256 *h)
{
	mbedtls_sha256_init(&h->ctx);
	sha256_starts(&h->ctx, 0);
}

void
crypto_sha256_update(struct crypto_sha256 *h, const void *data, size_t len)
{
	sha256_update(&h->ctx, data, len);
}

void
crypto_sha256_finish(struct crypto_sha256 *h, uint8_t out[32])
{
	sha256_finish(&h->ctx, out);
	mbedtls_sha256_free(&h->ctx);
}

void
crypto_hex(const uint8_t *data, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[data[i] >> 4];
		out[2 * i + 1] = digits[data[i] & 15];
	}
	out[2 * len] = '\0';
}

int
crypto_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len, uint8_t out[32])
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);

	return mbedtls_md_hmac(md, key, keylen, data, len, out) == 0 ? 0 : -1;
}

int
crypto_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint8_t diff = 0;

	for (size_t i = 0; i < n; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
crypto_unhex(const char *hex, uint8_t *out, size_t n)
{
	if (strlen(hex) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* --- device identity ------------------------------------------------------------------- */

#include <errno.h>
#include <fcntl.h>
#include <mbedtls/asn1write.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "mem.h"

struct rng {
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
};

static int
rng_init(struct rng *r)
{
	static const char pers[] = "whagent";

	mbedtls_entropy_init(&r->entropy);
	mbedtls_ctr_drbg_init(&r->drbg);
	return mbedtls_ctr_drbg_seed(&r->drbg, mbedtls_entropy_func, &r->entropy,
				     (const unsigned char *)pers, sizeof(pers) - 1);
}

static void
rng_done(struct rng *r)
{
	mbedtls_ctr_drbg_free(&r->drbg);
	mbedtls_entropy_free(&r->entropy);
}

static void
why_mbedtls(char *why, size_t len, const char *what, int rc)
{
	char text[160];

	mbedtls_strerror(rc, text, sizeof(text));
	snprintf(why, len, "%s: %s", what, text);
}

static int
parse_key(mbedtls_pk_context *pk, const char *path, struct rng *r)
{
#if MBEDTLS_VERSION_MAJOR < 3
	(void)r;
	return mbedtls_pk_parse_keyfile(pk, path, NULL);
#else
	return mbedtls_pk_parse_keyfile(pk, path, NULL, mbedtls_ctr_drbg_random, &r->drbg);
#endif
}

/* Writes text to path: new file with O_EXCL (or replaced with force), the given mode. */
static int
write_new(const char *path, const char *text, mode_t mode, int force, char *why, size_t whylen)
{
	size_t len = strlen(text);
	int fd;

	if (force)
		unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		snprintf(why, whylen, "%s: %s%s", path, strerror(errno),
			 errno == EEXIST ? " (use --force to replace it)" : "");
		return -1;
	}
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) != 0) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return close(fd);
}

/* The subjectAltName extension value: SEQUENCE OF dNSName [2] IA5String. */
static int
san_extension(const char *const *dns, int ndns, unsigned char *buf, size_t size,
	      unsigned char **ret_start, size_t *ret_len)
{
	unsigned char *p = buf + size;
	size_t len = 0;
	int rc;

	for (int i = ndns - 1; i >= 0; i--) {
		size_t n = strlen(dns[i]);

		if ((rc = mbedtls_asn1_write_raw_buffer(&p, buf, (const unsigned char *)dns[i],
							n)) < 0)
			return rc;
		len += (size_t)rc;
		if ((rc = mbedtls_asn1_write_len(&p, buf, n)) < 0)
			return rc;
		len += (size_t)rc;
		if ((rc = mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2)) < 0)
			return rc;
		len += (size_t)rc;
	}
	if ((rc = mbedtls_asn1_write_len(&p, buf, len)) < 0)
		return rc;
	len += (size_t)rc;
	if ((rc = mbedtls_asn1_write_tag(&p, buf,
					 MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)) < 0)
		return rc;
	*ret_start = p;
	*ret_len = len + (size_t)rc;
	return 0;
}

int
crypto_enroll(const char *key_path, const char *csr_path, const char *subject,
	      const char *const *dns, int ndns, int force, char *fingerprint, char *why,
	      size_t whylen)
{
	mbedtls_pk_context key;
	mbedtls_x509write_csr csr;
	struct rng r;
	unsigned char pem[4096], der[2048], san[1024], *san_start, digest[32];
	size_t san_len;
	int rc, n;

	mbedtls_pk_init(&key);
	mbedtls_x509write_csr_init(&csr);
	rc = rng_init(&r);
	if (rc != 0 || (rc = mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY))) ||
	    (rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key),
				      mbedtls_ctr_drbg_random, &r.drbg))) {
		why_mbedtls(why, whylen, "generating the key", rc);
		goto fail;
	}
	if ((rc = mbedtls_pk_write_key_pem(&key, pem, sizeof(pem))) != 0) {
		why_mbedtls(why, whylen, "writing the key", rc);
		goto fail;
	}
	if (write_new(key_path, (const char *)pem, 0600, force, why, whylen) != 0)
		goto fail;
	mbedtls_x509write_csr_set_md_alg(&csr, MBEDTLS_MD_SHA256);
	mbedtls_x509write_csr_set_key(&csr, &key);
	if ((rc = mbedtls_x509write_csr_set_subject_name(&csr, subject)) != 0) {
		why_mbedtls(why, whylen, "subject name", rc);
		goto fail;
	}
	if (ndns > 0) {
		if ((rc = san_extension(dns, ndns, san, sizeof(san), &san_start, &san_len)) == 0)
#if MBEDTLS_VERSION_MAJOR < 3
			rc = mbedtls_x509write_csr_set_extension(
				&csr, MBEDTLS_OID_SUBJECT_ALT_NAME,
				MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), san_start, san_len);
#else
			rc = mbedtls_x509write_csr_set_extension(
				&csr, MBEDTLS_OID_SUBJECT_ALT_NAME,
				MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, san_start,
				san_len);
#endif
		if (rc != 0) {
			why_mbedtls(why, whylen, "subjectAltName", rc);
			goto fail;
		}
	}
	n = mbedtls_x509write_csr_der(&csr, der, sizeof(der), mbedtls_ctr_drbg_random, &r.drbg);
	if (n < 0 || (rc = mbedtls_x509write_csr_pem(&csr, pem, sizeof(pem),
						     mbedtls_ctr_drbg_random, &r.drbg)) != 0) {
		why_mbedtls(why, whylen, "writing the CSR", n < 0 ? n : rc);
		goto fail;
	}
	if (write_new(csr_path, (const char *)pem, 0644, 1, why, whylen) != 0)
		goto fail;
	{
		struct crypto_sha256 h;

		crypto_sha256_start(&h);
		crypto_sha256_update(&h, der + sizeof(der) - (size_t)n, (size_t)n);
		crypto_sha256_finish(&h, digest);
		crypto_hex(digest, sizeof(digest), fingerprint);
	}
	rc = 0;
	goto out;
fail:
	rc = -1;
out:
	mbedtls_x509write_csr_free(&csr);
	mbedtls_pk_free(&key);
	rng_done(&r);
	return rc;
}

int
crypto_check_cert(const char *certfile, const char *keyfile, const char *cafile,
		  struct crypto_cert_info *info, char *why, size_t whylen)
{
	mbedtls_x509_crt crt, ca;
	mbedtls_pk_context key;
	struct rng r;
	const mbedtls_x509_time *t;
	uint32_t flags = 0;
	int64_t secs;
	int rc = -1;

	mbedtls_x509_crt_init(&crt);
	mbedtls_x509_crt_init(&ca);
	mbedtls_pk_init(&key);
	memset(info, 0, sizeof(*info));
	if (rng_init(&r) != 0) {
		snprintf(why, whylen, "no randomness");
		goto out;
	}
	if ((rc = mbedtls_x509_crt_parse_file(&crt, certfile)) != 0) {
		why_mbedtls(why, whylen, certfile, rc);
		rc = -1;
		goto out;
	}
	rc = -1;
	t = &crt.valid_to;
	secs = event_days_from_civil(t->year, t->mon, t->day) * 86400 + t->hour * 3600 +
	       t->min * 60 + t->sec;
	info->days_left = (int)((secs - (int64_t)time(NULL)) / 86400);
	if (secs < (int64_t)time(NULL))
		info->days_left = -1 - (int)(((int64_t)time(NULL) - secs) / 86400);
	snprintf(info->not_after, sizeof(info->not_after), "%04d-%02d-%02d %02d:%02d:%02d UTC",
		 t->year, t->mon, t->day, t->hour, t->min, t->sec);
	mbedtls_x509_dn_gets(info->subject, sizeof(info->subject), &crt.subject);
	if (parse_key(&key, keyfile, &r) != 0) {
		snprintf(why, whylen, "%s: cannot read the private key", keyfile);
		goto out;
	}
#if MBEDTLS_VERSION_MAJOR < 3
	if (mbedtls_pk_check_pair(&crt.pk, &key) != 0) {
#else
	if (mbedtls_pk_check_pair(&crt.pk, &key, mbedtls_ctr_drbg_random, &r.drbg) != 0) {
#endif
		snprintf(why, whylen, "certificate %s does not match the key %s", certfile,
			 keyfile);
		goto out;
	}
	if (info->days_left < 0) {
		snprintf(why, whylen, "certificate %s (%s) expired on %s", certfile, info->subject,
			 info->not_after);
		goto out;
	}
	if (cafile != NULL && cafile[0] != '\0') {
		if (mbedtls_x509_crt_parse_file(&ca, cafile) != 0) {
			snprintf(why, whylen, "%s: cannot read the CA certificates", cafile);
			goto out;
		}
		if (mbedtls_x509_crt_verify(&crt, &ca, NULL, NULL, &flags, NULL, NULL) != 0) {
			char text[256];

			mbedtls_x509_crt_verify_info(text, sizeof(text), "", flags);
			text[strcspn(text, "\n")] = '\0';
			snprintf(why, whylen, "certificate %s does not chain to %s: %s", certfile,
				 cafile, text);
			goto out;
		}
	}
	rc = 0;
out:
	mbedtls_x509_crt_free(&crt);
	mbedtls_x509_crt_free(&ca);
	mbedtls_pk_free(&key);
	rng_done(&r);
	return rc;
}

struct crypto_signer {
	mbedtls_pk_context key;
	struct rng rng;
	uint8_t fingerprint[32];
};

int
crypto_signer_new(const char *keyfile, struct crypto_signer **ret_s, char *why, size_t whylen)
{
	struct crypto_signer *s = wh_calloc(1, sizeof(*s));
	unsigned char der[256];
	int n;

	if (s == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	mbedtls_pk_init(&s->key);
	if (rng_init(&s->rng) != 0 || parse_key(&s->key, keyfile, &s->rng) != 0 ||
	    !mbedtls_pk_can_do(&s->key, MBEDTLS_PK_ECDSA) ||
	    (n = mbedtls_pk_write_pubkey_der(&s->key, der, sizeof(der))) <= 0) {
		snprintf(why, whylen, "%s: not an EC private key this agent can sign with",
			 keyfile);
		crypto_signer_free(s);
		return -1;
	}
	{
		struct crypto_sha256 h;

		crypto_sha256_start(&h);
		crypto_sha256_update(&h, der + sizeof(der) - (size_t)n, (size_t)n);
		crypto_sha256_finish(&h, s->fingerprint);
	}
	*ret_s = s;
	return 0;
}

void
crypto_signer_free(struct crypto_signer *s)
{
	if (s == NULL)
		return;
	mbedtls_pk_free(&s->key);
	rng_done(&s->rng);
	wh_free(s);
}

int
crypto_sign(struct crypto_signer *s, const void *data, size_t len, uint8_t *sig, size_t *ret_len)
{
	struct crypto_sha256 h;
	uint8_t digest[32];

	crypto_sha256_start(&h);
	crypto_sha256_update(&h, data, len);
	crypto_sha256_finish(&h, digest);
#if MBEDTLS_VERSION_MAJOR < 3
	return mbedtls_pk_sign(&s->key, MBEDTLS_MD_SHA256, digest, sizeof(digest), sig, ret_len,
			       mbedtls_ctr_drbg_random, &s->rng.drbg) == 0
		       ? 0
		       : -1;
#else
	return mbedtls_pk_sign(&s->key, MBEDTLS_MD_SHA256, digest, sizeof(digest), sig,
			       CRYPTO_SIG_MAX, ret_len, mbedtls_ctr_drbg_random, &s->rng.drbg) == 0
		       ? 0
		       : -1;
#endif
}

const uint8_t *
crypto_signer_fingerprint(const struct crypto_signer *s)
{
	return s->fingerprint;
}

struct crypto_verifier {
	mbedtls_pk_context key;
};

int
crypto_verifier_new(const char *pubkey_file, struct crypto_verifier **ret_v, char *why,
		    size_t whylen)
{
	struct crypto_verifier *v = wh_calloc(1, sizeof(*v));

	if (v == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	mbedtls_pk_init(&v->key);
	if (mbedtls_pk_parse_public_keyfile(&v->key, pubkey_file) != 0 ||
	    !mbedtls_pk_can_do(&v->key, MBEDTLS_PK_ECDSA)) {
		snprintf(why, whylen, "%s: not an EC public key (PEM)", pubkey_file);
		crypto_verifier_free(v);
		return -1;
	}
	*ret_v = v;
	return 0;
}

void
crypto_verifier_free(struct crypto_verifier *v)
{
	if (v == NULL)
		return;
	mbedtls_pk_free(&v->key);
	wh_free(v);
}

int
crypto_verify(struct crypto_verifier *v, const void *data, size_t len, const uint8_t *sig,
	      size_t sig_len)
{
	struct crypto_sha256 h;
	uint8_t digest[32];

	crypto_sha256_start(&h);
	crypto_sha256_update(&h, data, len);
	crypto_sha256_finish(&h, digest);
	return mbedtls_pk_verify(&v->key, MBEDTLS_MD_SHA256, digest, sizeof(digest), sig,
				 sig_len) == 0
		       ? 0
		       : -1;
}
