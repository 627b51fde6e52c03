/* RFC 4180 CSV: quoted fields with doubled quotes and embedded line breaks, CRLF or LF. */
#include "csv.h"

#include <string.h>

#include "mem.h"

int
csv_row_init(struct csv_row *row, size_t max_bytes)
{
	memset(row, 0, sizeof(*row));
	row->cap = max_bytes + CSV_MAX_FIELDS + 1;
	row->buf = wh_malloc(row->cap);
	return row->buf ? 0 : -1;
}

void
csv_row_done(struct csv_row *row)
{
	wh_free(row->buf);
	row->buf = NULL;
}

enum state { S_START, S_PLAIN, S_QUOTED, S_QUOTE_SEEN };

/* Skips to the end of the physical line holding data[i], for a malformed record. */
static enum csv_result
skip_line(const char *data, size_t len, size_t i, int eof, size_t *ret_used)
{
	const char *nl = memchr(data + i, '\n', len - i);

	if (nl != NULL)
		*ret_used = (size_t)(nl - data) + 1;
	else if (eof)
		*ret_used = len;
	else
		return CSV_MORE;
	return CSV_ERR;
}

enum csv_result
csv_parse(struct csv_row *row, const char *data, size_t len, int eof, char delim, size_t *ret_used,
	  const char **ret_why)
{
	enum state st = S_START;
	char *out = row->buf, *end = row->buf + row->cap - 1;
	size_t i;

	row->nfields = 0;
	row->field[0] = out;
	for (i = 0; i < len; i++) {
		char c = data[i];

		if (out >= end) {
			*ret_why = "record too long";
			return skip_line(data, len, i, eof, ret_used);
		}
		if (c == '\0') { /* it would cut the field short */
			*ret_why = "a NUL byte (a binary file, or an export in UTF-16?)";
			return skip_line(data, len, i, eof, ret_used);
		}
		switch (st) {
		case S_START:
			if (c == '"') {
				st = S_QUOTED;
				continue;
			}
			st = S_PLAIN;
			/* fall through */
		case S_PLAIN:
			if (c == '"') {
				*ret_why =
					"a quote inside an unquoted field (quote the whole field "
					"and double the inner quote)";
				return skip_line(data, len, i, eof, ret_used);
			}
			if (c != delim && c != '\n') {
				*out++ = c;
				continue;
			}
			if (c == '\n' && out > row->field[row->nfields] && out[-1] == '\r')
				out--;
			break;
		case S_QUOTED:
			if (c == '"')
				st = S_QUOTE_SEEN;
			else
				*out++ = c;
			continue;
		case S_QUOTE_SEEN:
			if (c == '"') {
				*out++ = '"';
				st = S_QUOTED;
				continue;
			}
			if (c == '\r')
				continue;
			if (c != delim && c != '\n') {
				*ret_why = "text after a closing quote";
				return skip_line(data, len, i, eof, ret_used);
			}
			break;
		}
		/* c ends a field: delim or line end */
		*out++ = '\0';
		if (++row->nfields == CSV_MAX_FIELDS) {
			*ret_why = "too many columns";
			return skip_line(data, len, i, eof, ret_used);
		}
		row->field[row->nfields] = out;
		st = S_START;
		if (c == '\n') {
			*ret_used = i + 1;
			return CSV_ROW;
		}
	}
	if (!eof)
		return CSV_MORE;
	if (st == S_QUOTED) {
		*ret_why = "a quoted field is not closed before the end of the file";
		*ret_used = len;
		return CSV_ERR;
	}
	if (len == 0)
		return CSV_MORE;
	if (st == S_PLAIN && out > row->field[row->nfields] && out[-1] == '\r')
		out--;
	*out = '\0';
	row->nfields++;
	*ret_used = len;
	return CSV_ROW;
}
