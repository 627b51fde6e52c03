/* SHA-256, HMAC, hex, the random generator, and ECDSA P-256 signing and verification over
 * mbedtls (see crypto.h); SHA-256 alone over OpenSSL's libcrypto, for its speed. */
/* SHA256_Init and co. are deprecated in OpenSSL 3 for EVP, whose context is allocated per
 * digest; they stay in 3.x and take the same accelerated code. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "crypto.h"

#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/version.h>
#include <stdio.h>
#include <string.h>

#include "mem.h"

void
crypto_sha256_start(struct crypto_sha256 *h)
{
	SHA256_Init(&h->ctx);
}

void
crypto_sha256_update(struct crypto_sha256 *h, const void *data, size_t len)
{
	SHA256_Update(&h->ctx, data, len);
}

void
crypto_sha256_finish(struct crypto_sha256 *h, uint8_t out[32])
{
	SHA256_Final(out, &h->ctx);
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

/* --- randomness and keys --------------------------------------------------------------- */

int
crypto_rng_init(struct crypto_rng *r)
{
	static const char pers[] = "whagent";

	mbedtls_entropy_init(&r->entropy);
	mbedtls_ctr_drbg_init(&r->drbg);
	return mbedtls_ctr_drbg_seed(&r->drbg, mbedtls_entropy_func, &r->entropy,
				     (const unsigned char *)pers, sizeof(pers) - 1);
}

void
crypto_rng_done(struct crypto_rng *r)
{
	mbedtls_ctr_drbg_free(&r->drbg);
	mbedtls_entropy_free(&r->entropy);
}

int
crypto_key_parse(mbedtls_pk_context *pk, const char *path, struct crypto_rng *r)
{
#if MBEDTLS_VERSION_MAJOR < 3
	(void)r;
	return mbedtls_pk_parse_keyfile(pk, path, NULL);
#else
	return mbedtls_pk_parse_keyfile(pk, path, NULL, mbedtls_ctr_drbg_random, &r->drbg);
#endif
}

void
crypto_why(char *why, size_t whylen, const char *what, int rc)
{
	char text[160];

	mbedtls_strerror(rc, text, sizeof(text));
	snprintf(why, whylen, "%s: %s", what, text);
}

/* --- signatures ------------------------------------------------------------------------ */

struct crypto_signer {
	mbedtls_pk_context key;
	struct crypto_rng rng;
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
	if (crypto_rng_init(&s->rng) != 0 || crypto_key_parse(&s->key, keyfile, &s->rng) != 0 ||
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
	crypto_rng_done(&s->rng);
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

#if MBEDTLS_VERSION_MAJOR < 3
#define EC_GROUP_ID(ec) ((ec)->grp.id)
#else
#define EC_GROUP_ID(ec) ((ec)->MBEDTLS_PRIVATE(grp).id)
#endif

int
crypto_verifier_new(const char *pubkey_file, struct crypto_verifier **ret_v, uint8_t ret_id[32],
		    char *why, size_t whylen)
{
	struct crypto_verifier *v = wh_calloc(1, sizeof(*v));
	unsigned char der[256];
	int n = 0;

	if (v == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	mbedtls_pk_init(&v->key);
	if (mbedtls_pk_parse_public_keyfile(&v->key, pubkey_file) != 0 ||
	    mbedtls_pk_get_type(&v->key) != MBEDTLS_PK_ECKEY ||
	    EC_GROUP_ID(mbedtls_pk_ec(v->key)) != MBEDTLS_ECP_DP_SECP256R1 ||
	    (n = mbedtls_pk_write_pubkey_der(&v->key, der, sizeof(der))) <= 0) {
		snprintf(why, whylen, "%s: not an EC P-256 public key (PEM)", pubkey_file);
		crypto_verifier_free(v);
		return -1;
	}
	{
		struct crypto_sha256 h;

		crypto_sha256_start(&h);
		crypto_sha256_update(&h, der + sizeof(der) - (size_t)n, (size_t)n);
		crypto_sha256_finish(&h, ret_id);
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
