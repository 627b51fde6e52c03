/* A small RFC 4180 reader that reports the exact byte span of each record. The span is what the
 * spool input commits as its cursor and quarantines as raw bytes, which libcsv's callback API
 * does not expose; the reader is one function and a fuzz target. */
#ifndef WHAGENT_CSV_H
#define WHAGENT_CSV_H

#include <stddef.h>

#define CSV_MAX_FIELDS 128

enum csv_result { CSV_ROW, CSV_MORE, CSV_ERR };

/* Decoded fields of one record. Fields point into buf (owned, allocated by csv_row_init). */
struct csv_row {
	int nfields;
	char *field[CSV_MAX_FIELDS];
	char *buf;
	size_t cap;
};

/* Allocates room for a record of up to max_bytes raw bytes. Returns 0 or -1 (no memory). */
int csv_row_init(struct csv_row *row, size_t max_bytes);
void csv_row_done(struct csv_row *row);

/* Parses the record at the start of data[0..len). eof says no more data follows len.
 * CSV_ROW: row holds the fields; *ret_used bytes (with the line end) were consumed.
 * CSV_MORE: the record is not complete in data; call again with more (or with eof).
 * CSV_ERR: malformed; *ret_why says why and *ret_used skips to the end of the line.
 * A record whose decoded text exceeds the row's capacity is CSV_ERR too. */
enum csv_result csv_parse(struct csv_row *row, const char *data, size_t len, int eof, char delim,
			  size_t *ret_used, const char **ret_why);

#endif
