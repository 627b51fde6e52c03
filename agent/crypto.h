/* The agent's own cryptography, through mbedtls behind one interface. */
#ifndef WHAGENT_CRYPTO_H
#define WHAGENT_CRYPTO_H

#include <mbedtls/sha256.h>
#include <stddef.h>
#include <stdint.h>

struct crypto_sha256 {
	mbedtls_sha256_context ctx;
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

/* --- device identity (mbedtls 2.28 and 3.x) ------------------------------------------- */

/* Generates an EC P-256 key into key_path (created with O_EXCL and mode 0600; replaced only
 * with force) and a PEM CSR for subject ("CN=...,O=...") with DNS SANs into csr_path.
 * fingerprint gets the hex SHA-256 of the CSR's DER (65 bytes). why says what failed. */
int crypto_enroll(const char *key_path, const char *csr_path, const char *subject,
		  const char *const *dns, int ndns, int force, char *fingerprint, char *why,
		  size_t whylen);

/* What `whagent check` says about a client certificate. */
struct crypto_cert_info {
	int days_left; /* until notAfter; negative when expired */
	char subject[256];
	char not_after[32]; /* YYYY-MM-DD HH:MM:SS UTC */
};

/* Parses certfile, checks it matches keyfile and chains to cafile (if given); fills info.
 * Returns 0, or -1 with why ("certificate expired on ...", "does not match the key", ...). */
int crypto_check_cert(const char *certfile, const char *keyfile, const char *cafile,
		      struct crypto_cert_info *info, char *why, size_t whylen);

/* ECDSA P-256 signatures with the device key. */
struct crypto_signer;

#define CRYPTO_SIG_MAX 80 /* DER ECDSA P-256 signature */

int crypto_signer_new(const char *keyfile, struct crypto_signer **ret_s, char *why, size_t whylen);
void crypto_signer_free(struct crypto_signer *s);
/* Signs SHA-256(data) into sig (CRYPTO_SIG_MAX bytes); *ret_len is its length. 0 or -1. */
int crypto_sign(struct crypto_signer *s, const void *data, size_t len, uint8_t *sig,
		size_t *ret_len);
/* SHA-256 of the public key (DER SubjectPublicKeyInfo), 32 bytes. */
const uint8_t *crypto_signer_fingerprint(const struct crypto_signer *s);

/* ECDSA P-256 verification with a public key (the central platform's, for commands). */
struct crypto_verifier;

int crypto_verifier_new(const char *pubkey_file, struct crypto_verifier **ret_v, char *why,
			size_t whylen);
void crypto_verifier_free(struct crypto_verifier *v);
/* 0 when sig is a valid signature of SHA-256(data) by the key, else -1. */
int crypto_verify(struct crypto_verifier *v, const void *data, size_t len, const uint8_t *sig,
		  size_t sig_len);

/* Writes the lower-case hex of data[0..len) and a NUL to out (2 * len + 1 bytes). */
void crypto_hex(const uint8_t *data, size_t len, char *out);

#endif
