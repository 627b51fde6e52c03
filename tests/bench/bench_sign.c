/* Signing cost: ECDSA P-256 signatures (crypto_sign, SHA-256 included) over a buffer the size
 * of a batch, with the device key. Prints "signatures bytes microseconds_per_signature".
 * usage: bench_sign KEYFILE BYTES COUNT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"

int
main(int argc, char **argv)
{
	struct crypto_signer *s;
	uint8_t sig[CRYPTO_SIG_MAX];
	size_t len, bytes;
	long count;
	char why[256], *buf;
	struct timespec t0, t1;

	if (argc != 4) {
		fprintf(stderr, "usage: bench_sign KEYFILE BYTES COUNT\n");
		return 2;
	}
	bytes = strtoul(argv[2], NULL, 10);
	count = strtol(argv[3], NULL, 10);
	buf = calloc(1, bytes);
	if (buf == NULL || crypto_signer_new(argv[1], &s, why, sizeof(why)) != 0) {
		fprintf(stderr, "%s\n", why);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < count; i++) {
		buf[i % bytes] ^= 1;
		if (crypto_sign(s, buf, bytes, sig, &len) != 0)
			return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%ld %zu %.1f\n", count, bytes,
	       ((double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) /
		       (double)count);
	crypto_signer_free(s);
	free(buf);
	return 0;
}
