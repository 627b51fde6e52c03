/* libFuzzer target: protobuf decoding of what the agent receives (SignedControl envelopes and
 * the commands and platform acks inside) and of stored events (what salvage reads back from a
 * damaged journal). */
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "command.h"
#include "envelope.h"
#include "mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct envelope_expect x = {.type = ENVELOPE_COMMAND,
				    .site_id = "FUZZ",
				    .journal_id = "0123456789abcdef0123456789abcdef",
				    .max_skew_ms = INT64_C(1) << 50,
				    .allow_unsigned = 1};
	struct envelope e;
	struct command cmd;
	uint8_t *out = NULL;
	size_t len = 0;
	uint64_t through;
	char id[64], why[320];

	if (codec_event_reseq(data, size, 42, &out, &len) == WH_OK)
		wh_free(out);
	if (envelope_open(NULL, &x, data, size, &e, why, sizeof(why)) == WH_OK)
		command_parse(e.body, e.body_len, &cmd, why, sizeof(why));
	envelope_done(&e);
	x.type = ENVELOPE_ACK;
	if (envelope_open(NULL, &x, data, size, &e, why, sizeof(why)) == WH_OK)
		codec_platform_ack_decode(e.body, e.body_len, id, sizeof(id), &through);
	envelope_done(&e);
	command_parse(data, size, &cmd, why, sizeof(why));
	codec_platform_ack_decode(data, size, id, sizeof(id), &through);
	return 0;
}
