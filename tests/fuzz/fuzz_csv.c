/* libFuzzer target: the RFC 4180 reader, fed record by record as the spool input does; every
 * successful row is paired with the first one as header and mapped, and every valid event is
 * encoded by the capture's encoder and by protobuf-c: the bytes must be the same. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "csv.h"
#include "event.h"
#include "mem.h"
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
same_bytes(const struct event *ev, size_t n)
{
	static const uint8_t id[EVENT_ID_LEN] = {1, 2, 3};
	uint8_t *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;

	if (codec_event_encode(ev, "wms", id, n, (int64_t)n * 1000, &a, &alen) != WH_OK ||
	    codec_event_pack(ev, "wms", id, n, (int64_t)n * 1000, &b, &blen) != WH_OK ||
	    alen != blen || memcmp(a, b, alen) != 0)
		abort();
	wh_free(a);
	wh_free(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct record r;
	struct csv_row hdr, row;
	struct event_map m;
	struct event ev;
	const char *p = (const char *)data, *why;
	char rwhy[320];
	size_t used, left = size;
	int have_header = 0;

	if (csv_row_init(&hdr, 4096) != 0 || csv_row_init(&row, 4096) != 0)
		return 0;
	event_map_init(&m, NULL);
	record_init(&r);
	while (left > 0) {
		enum csv_result res = csv_parse(have_header ? &row : &hdr, p, left, 1, ',', &used, &why);

		if (res == CSV_MORE || used == 0 || used > left)
			break;
		if (res == CSV_ROW && have_header &&
		    record_from_csv(&r, &hdr, &row, rwhy, sizeof(rwhy)) == WH_OK &&
		    event_from_record(&m, &r, NULL, &ev, rwhy, sizeof(rwhy)) == WH_OK)
			same_bytes(&ev, used);
		if (res == CSV_ROW)
			have_header = 1;
		p += used;
		left -= used;
	}
	record_done(&r);
	csv_row_done(&hdr);
	csv_row_done(&row);
	return 0;
}
