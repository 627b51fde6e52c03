/* A raw input record: the key/value pairs of one CSV row (with its header) or one JSON object,
 * before mapping and validation. */
#ifndef WHAGENT_RECORD_H
#define WHAGENT_RECORD_H

#include <stddef.h>

#include "csv.h"
#include "err.h"

#define RECORD_MAX_FIELDS CSV_MAX_FIELDS

struct cJSON;

struct record {
	int n;
	const char *key[RECORD_MAX_FIELDS]; /* borrowed from the header row or JSON tree */
	const char *val[RECORD_MAX_FIELDS]; /* NUL-terminated */
	struct cJSON *json;		    /* owned tree of a JSON record */
	size_t used;
	size_t arena_used; /* bytes of arena the tree holds */
	int arena_spilled; /* part of the tree is on the heap (it outgrew the arena) */
	char scratch[RECORD_MAX_FIELDS * 32]; /* texts of JSON numbers and booleans */
	/* the tree of record_from_json, bump-allocated: a malloc and a free per node and string
	 * were a sixth of a JSONL record's capture */
	_Alignas(16) char arena[8192];
};

/* Empties r (nothing to free yet) and calls record_json_alloc. */
void record_init(struct record *r);
/* Makes cJSON allocate through agent/mem.h (process-wide; idempotent), so that cJSON's memory
 * is wh_malloc memory: freed with cJSON_free or wh_free alike, and reached by allocation-failure
 * tests. Call before a module's first cJSON use. */
void record_json_alloc(void);
/* Frees what the record owns; it can be filled again afterwards. */
void record_done(struct record *r);

/* Pairs header names with row values. WH_ERR_INVAL with a reason in why. */
wh_err record_from_csv(struct record *r, const struct csv_row *header, const struct csv_row *row,
		       char *why, size_t whylen);
/* Parses one JSON object from text[0..len). WH_ERR_INVAL with a reason in why, or
 * WH_ERR_NOMEM (then the record is not bad: try again later). */
wh_err record_from_json(struct record *r, const char *text, size_t len, char *why, size_t whylen);

/* The shortest text of d that reads back as d (a JSON number), into buf; -1 when that needs
 * more than 15 significant digits (or d is not finite). */
int record_number_text(double d, char *buf, size_t len);

/* One record of a request body, for record_body_each's callback. err is WH_OK (r holds the
 * record) or WH_ERR_INVAL (why says what is wrong with it). raw is the record's own bytes: the
 * line of JSON Lines, or the array element re-serialized. All borrowed for the call. */
struct record_item {
	int index; /* 0-based position in the body */
	wh_err err;
	const char *why;
	struct record *r;
	const char *raw;
	size_t raw_len;
};

typedef wh_err (*record_item_cb)(const struct record_item *item, void *arg);

/* Splits a request body into records: one JSON object, a JSON array of objects, or (ndjson)
 * JSON Lines, empty lines skipped. Stops at the first error cb returns. WH_ERR_INVAL with why
 * when the body (not one record) is unusable: not JSON at all, or neither object nor array;
 * WH_ERR_TOOBIG (before any callback) for more than max_records records; WH_ERR_NOMEM. */
wh_err record_body_each(int ndjson, const char *body, size_t len, int max_records,
			record_item_cb cb, void *arg, char *why, size_t whylen);

#define RECORD_POINTER_MAX	 256 /* characters of a JSON pointer */
#define RECORD_POINTER_DEPTH	 16  /* its reference tokens */
#define RECORD_POINTER_TOKEN_MAX 128

/* 0 if pointer is an RFC 6901 JSON pointer within the bounds above ("" or "/a/b~1c/0"), else
 * -1 with the reason in why. */
int record_pointer_check(const char *pointer, char *why, size_t whylen);

/* As record_body_each, but with pointer (an RFC 6901 JSON pointer, "" or NULL: the whole
 * document) the records are at that place inside each document (the body, or each line of
 * JSON Lines): an object is one record, an array's elements are records. Each item's raw is
 * then the record re-serialized. A document where the pointer leads nowhere (or to neither
 * object nor array) is one bad item (JSON Lines) or WH_ERR_INVAL for the body. */
wh_err record_body_each_at(int ndjson, const char *pointer, const char *body, size_t len,
			   int max_records, record_item_cb cb, void *arg, char *why, size_t whylen);

#endif
