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
