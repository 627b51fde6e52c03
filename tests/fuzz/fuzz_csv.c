/* libFuzzer target: the RFC 4180 reader, fed record by record as the spool input does; every
 * successful row is paired with the first one as header and mapped. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "csv.h"
#include "event.h"
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
		    record_from_csv(&r, &hdr, &row, rwhy, sizeof(rwhy)) == WH_OK)
			event_from_record(&m, &r, NULL, &ev, rwhy, sizeof(rwhy));
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
