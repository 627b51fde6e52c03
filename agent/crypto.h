/* Hashing and signing: SHA-256, HMAC-SHA256, hex, a seeded random generator, and ECDSA P-256
 * signatures and verification with keys read from PEM files, through mbedtls (2.28 and 3.x)
 * behind one interface. Certificates and enrollment are the cert module's. */
#ifndef WHAGENT_CRYPTO_H
#define WHAGENT_CRYPTO_H

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <openssl/sha.h>
#include <stddef.h>
#include <stdint.h>

/* SHA-256 is OpenSSL's (libcrypto, linked for TLS anyway): it uses the CPU's SHA extensions
 * (x86 SHA-NI, ARMv8 SHA2) where mbedtls 2.28 has portable C only, and the journal hashes
 * every event twice (its id, the control totals). */
struct crypto_sha256 {
	SHA256_CTX ctx;
};

void crypto_sha256_start(struct crypto_sha256 *h);
void crypto_sha256_update(struct crypto_sha256 *h, const void *data, size_t len);
/* Writes the 32-byte digest and releases h. */
void crypto_sha256_finish(struct crypto_sha256 *h, uint8_t out[32]);

/* HMAC-SHA256 of data with key into out. 0, or -1 if mbedtls fails. */
int crypto_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
		       uint8_t out[32]);
/* 1 if a and b (n bytes) are equal, in time independent of where they differ. */
int crypto_equal(const uint8_t *a, const uint8_t *b, size_t n);
/* Decodes 2 * n hex digits of hex into out. 0, or -1 if hex is not that. */
int crypto_unhex(const char *hex, uint8_t *out, size_t n);
/* Writes the lower-case hex of data[0..len) and a NUL to out (2 * len + 1 bytes). */
void crypto_hex(const uint8_t *data, size_t len, char *out);

/* A CTR-DRBG seeded from the system's entropy, for the mbedtls calls that take an f_rng
 * (pass mbedtls_ctr_drbg_random and &r->drbg). Embedded: crypto_rng_init, then
 * crypto_rng_done (also after a failed init). */
struct crypto_rng {
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
};

/* 0, or an mbedtls error code. */
int crypto_rng_init(struct crypto_rng *r);
void crypto_rng_done(struct crypto_rng *r);

/* Reads the PEM or DER private key at path into pk (initialised by the caller). 0, or an
 * mbedtls error code. */
int crypto_key_parse(mbedtls_pk_context *pk, const char *path, struct crypto_rng *r);
/* Writes "what: <mbedtls's text for rc>" to why. */
void crypto_why(char *why, size_t whylen, const char *what, int rc);

/* ECDSA P-256 signatures with the device key. */
struct crypto_signer;

#define CRYPTO_SIG_MAX 80 /* DER ECDSA P-256 signature */

/* Reads the EC private key in keyfile. 0 and *ret_s (caller frees with crypto_signer_free),
 * or -1 with why. */
int crypto_signer_new(const char *keyfile, struct crypto_signer **ret_s, char *why, size_t whylen);
void crypto_signer_free(struct crypto_signer *s);
/* Signs SHA-256(data) into sig (CRYPTO_SIG_MAX bytes); *ret_len is its length. 0 or -1. */
int crypto_sign(struct crypto_signer *s, const void *data, size_t len, uint8_t *sig,
		size_t *ret_len);
/* SHA-256 of the public key (DER SubjectPublicKeyInfo), 32 bytes, borrowed from s. */
const uint8_t *crypto_signer_fingerprint(const struct crypto_signer *s);

/* ECDSA P-256 verification with a public key (the central platform's, for control messages). */
struct crypto_verifier;

/* Reads the PEM EC public key in pubkey_file, which must be on P-256 (no other curve or key
 * type is taken). 0, *ret_v (caller frees with crypto_verifier_free) and ret_id (SHA-256 of the
 * key's SubjectPublicKeyInfo DER), or -1 with why. */
int crypto_verifier_new(const char *pubkey_file, struct crypto_verifier **ret_v, uint8_t ret_id[32],
			char *why, size_t whylen);
void crypto_verifier_free(struct crypto_verifier *v);
/* 0 when sig is a valid signature of SHA-256(data) by the key, else -1. */
int crypto_verify(struct crypto_verifier *v, const void *data, size_t len, const uint8_t *sig,
		  size_t sig_len);

#endif
