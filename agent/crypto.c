/* SHA-256 and hex helpers over mbedtls. */
#include "crypto.h"

#include <mbedtls/version.h>

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
