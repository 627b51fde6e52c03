/* libFuzzer target: the POST /v1/events body path. The first byte picks JSON or JSON Lines; the
 * rest is the body, split into records, each mapped and validated as the agent does. */
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static wh_err
on_item(const struct record_item *it, void *arg)
{
	const struct event_map *m = arg;
	struct event ev;
	char why[320];

	if (it->err == WH_OK)
		event_from_record(m, it->r, NULL, &ev, why, sizeof(why));
	return WH_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct event_map m;
	char why[320];

	if (size == 0)
		return 0;
	event_map_init(&m, NULL);
	record_body_each(data[0] & 1, (const char *)data + 1, size - 1, 1000, on_item, &m, why,
			 sizeof(why));
	return 0;
}
