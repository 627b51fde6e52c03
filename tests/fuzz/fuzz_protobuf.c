/* libFuzzer target: protobuf decoding of what the agent receives (commands, platform acks)
 * and of stored events (what salvage reads back from a damaged journal). */
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "command.h"
#include "mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct command_verifier *v;
	struct command cmd;
	uint8_t *out = NULL;
	size_t len = 0;
	uint64_t through;
	char id[64], why[320];

	if (v == NULL && command_verifier_new(NULL, 300, &v, why, sizeof(why)) != WH_OK)
		return 0;
	if (codec_event_reseq(data, size, 42, &out, &len) == WH_OK)
		wh_free(out);
	command_parse(v, data, size, 0, &cmd, why, sizeof(why));
	codec_platform_ack_decode(data, size, id, sizeof(id), &through);
	return 0;
}
