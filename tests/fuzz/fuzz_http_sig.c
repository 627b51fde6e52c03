/* libFuzzer target: the X-Whagent-Signature header. Up to the first NUL is the header, the
 * rest the body; parsed, checked against a small replay set and verified twice (the second
 * time a match must be refused as a replay). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httpauth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[] = "fuzz-key";
	const uint8_t *nul = memchr(data, 0, size);
	size_t hlen = nul ? (size_t)(nul - data) : size;
	char *header = malloc(hlen + 1);
	struct httpauth_replay r;
	struct httpauth_sig s;
	const void *body = nul ? nul + 1 : "";
	size_t blen = nul ? size - hlen - 1 : 0;

	if (header == NULL)
		return 0;
	memcpy(header, data, hlen);
	header[hlen] = '\0';
	if (httpauth_replay_init(&r, 4) == WH_OK && httpauth_parse(header, &s) == HTTPAUTH_OK &&
	    httpauth_verify(&r, key, sizeof(key) - 1, &s, body, blen, s.t, 300) == HTTPAUTH_OK &&
	    httpauth_verify(&r, key, sizeof(key) - 1, &s, body, blen, s.t, 300) == HTTPAUTH_OK)
		abort(); /* the same signature taken twice */
	httpauth_replay_done(&r);
	free(header);
	return 0;
}
