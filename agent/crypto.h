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

/* Writes the lower-case hex of data[0..len) and a NUL to out (2 * len + 1 bytes). */
void crypto_hex(const uint8_t *data, size_t len, char *out);

#endif
