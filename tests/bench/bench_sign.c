/* Signing cost: ECDSA P-256 signatures (crypto_sign, SHA-256 included) over a buffer the size
 * of a batch, with the device key; and the cost of taking a signed platform ack (envelope_open
 * of a SignedControl: decode, checks, canonical bytes, signature verification).
 *   bench_sign KEYFILE BYTES COUNT       prints "signatures bytes microseconds_per_signature"
 *   bench_sign --ack KEYFILE PUB COUNT   prints "acks microseconds_per_ack acks_per_second" */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "envelope.h"
#include "mem.h"
#include "whagent/v1/control.pb-c.h"

#define JOURNAL "0123456789abcdef0123456789abcdef"

static double
elapsed_us(const struct timespec *t0, const struct timespec *t1)
{
	return (double)(t1->tv_sec - t0->tv_sec) * 1e6 + (double)(t1->tv_nsec - t0->tv_nsec) / 1e3;
}

/* A signed ack of counter, packed into out (room for 512 bytes); its length. */
static size_t
signed_ack(struct crypto_signer *s, uint64_t counter, int64_t now, uint8_t *out)
{
	Whagent__V1__PlatformAck a;
	Whagent__V1__SignedControl sc;
	uint8_t body[128], sig[CRYPTO_SIG_MAX], *canon = NULL;
	size_t sig_len = 0, canon_len = 0;

	whagent__v1__platform_ack__init(&a);
	a.journal_id = (char *)(uintptr_t)JOURNAL;
	a.acked_through = counter;
	whagent__v1__signed_control__init(&sc);
	sc.site_id = (char *)(uintptr_t) "BENCH";
	sc.journal_id = (char *)(uintptr_t)JOURNAL;
	sc.type = WHAGENT__V1__CONTROL_TYPE__CONTROL_TYPE_PLATFORM_ACK;
	sc.issued_at_ms = now;
	sc.expires_at_ms = now + 300000;
	sc.counter = counter;
	sc.body.data = body;
	sc.body.len = whagent__v1__platform_ack__pack(&a, body);
	if (envelope_canonical(sc.site_id, sc.journal_id, ENVELOPE_ACK, now, sc.expires_at_ms,
			       counter, body, sc.body.len, &canon, &canon_len) != WH_OK ||
	    crypto_sign(s, canon, canon_len, sig, &sig_len) != 0)
		exit(1);
	wh_free(canon);
	sc.signature.data = sig;
	sc.signature.len = sig_len;
	return whagent__v1__signed_control__pack(&sc, out);
}

static int
bench_acks(const char *keyfile, const char *pub, long count)
{
	struct crypto_signer *s;
	struct envelope_keys *k;
	const char *files[] = {pub};
	struct envelope_expect x = {.type = ENVELOPE_ACK,
				    .site_id = "BENCH",
				    .journal_id = JOURNAL,
				    .journal_required = 1,
				    .max_skew_ms = 300000};
	struct timespec t0, t1;
	char why[256];
	uint8_t(*msgs)[512] = calloc((size_t)count, 512);
	size_t *lens = calloc((size_t)count, sizeof(size_t));
	double us;

	if (msgs == NULL || lens == NULL || crypto_signer_new(keyfile, &s, why, sizeof(why)) != 0 ||
	    envelope_keys_new(files, 1, &k, why, sizeof(why)) != WH_OK) {
		fprintf(stderr, "%s\n", why);
		return 1;
	}
	clock_gettime(CLOCK_REALTIME, &t0);
	x.now_ms = (int64_t)t0.tv_sec * 1000 + t0.tv_nsec / 1000000;
	for (long i = 0; i < count; i++)
		lens[i] = signed_ack(s, (uint64_t)i + 1, x.now_ms, msgs[i]);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < count; i++) {
		struct envelope e;

		if (envelope_open(k, &x, msgs[i], lens[i], &e, why, sizeof(why)) != WH_OK) {
			fprintf(stderr, "ack %ld refused: %s\n", i, why);
			return 1;
		}
		x.last_counter = e.counter;
		envelope_done(&e);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	us = elapsed_us(&t0, &t1) / (double)count;
	printf("%ld %.1f %.0f\n", count, us, 1e6 / us);
	envelope_keys_free(k);
	crypto_signer_free(s);
	free(msgs);
	free(lens);
	return 0;
}

int
main(int argc, char **argv)
{
	struct crypto_signer *s;
	uint8_t sig[CRYPTO_SIG_MAX];
	size_t len, bytes;
	long count;
	char why[256], *buf;
	struct timespec t0, t1;

	if (argc == 5 && strcmp(argv[1], "--ack") == 0)
		return bench_acks(argv[2], argv[3], strtol(argv[4], NULL, 10));
	if (argc != 4) {
		fprintf(stderr,
			"usage: bench_sign KEYFILE BYTES COUNT | --ack KEYFILE PUB COUNT\n");
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
	printf("%ld %zu %.1f\n", count, bytes, elapsed_us(&t0, &t1) / (double)count);
	crypto_signer_free(s);
	free(buf);
	return 0;
}
