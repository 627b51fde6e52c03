/* libFuzzer target: protobuf decoding of stored events (what salvage reads back from a damaged
 * journal and re-encodes with a new seq). */
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *out = NULL;
	size_t len = 0;

	if (codec_event_reseq(data, size, 42, &out, &len) == WH_OK)
		wh_free(out);
	return 0;
}
