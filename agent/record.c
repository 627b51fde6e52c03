/* Raw records from CSV rows and JSON objects. JSON numbers are kept exact: a number whose
 * shortest round-trip text needs more than 15 significant digits is refused, so a large
 * transaction id or quantity can never be silently rounded through a double. */
#include "record.h"

#include <cjson/cJSON.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

static int json_oom;
static struct record *json_arena; /* the record whose tree is being made or freed, or NULL */

static int
in_arena(const struct record *r, const void *p)
{
	return (uintptr_t)p >= (uintptr_t)r->arena &&
	       (uintptr_t)p < (uintptr_t)r->arena + sizeof(r->arena);
}

static void *
json_malloc(size_t size)
{
	struct record *r = json_arena;
	size_t need = (size + 15) & ~(size_t)15;
	void *p;

	if (r != NULL && size <= sizeof(r->arena) && need <= sizeof(r->arena) - r->arena_used) {
		if (wh_mem_inject()) {
			json_oom = 1;
			return NULL;
		}
		p = r->arena + r->arena_used;
		r->arena_used += need;
		return p;
	}
	if ((p = wh_malloc(size)) == NULL)
		json_oom = 1;
	else if (r != NULL)
		r->arena_spilled = 1;
	return p;
}

static void
json_free(void *p)
{
	if (json_arena == NULL || !in_arena(json_arena, p))
		wh_free(p);
}

void
record_json_alloc(void)
{
	static cJSON_Hooks hooks = {json_malloc, json_free};

	cJSON_InitHooks(&hooks);
}

void
record_init(struct record *r)
{
	memset(r, 0, offsetof(struct record, scratch));
	record_json_alloc();
}

void
record_done(struct record *r)
{
	if (r->arena_used > 0 && !r->arena_spilled) {
		r->json = NULL; /* all of it in the arena: nothing to free one by one */
	} else {
		json_arena = r;
		cJSON_Delete(r->json);
		json_arena = NULL;
	}
	r->json = NULL;
	r->n = 0;
	r->used = 0;
	r->arena_used = 0;
	r->arena_spilled = 0;
}

wh_err
record_from_csv(struct record *r, const struct csv_row *header, const struct csv_row *row,
		char *why, size_t whylen)
{
	record_done(r);
	if (row->nfields != header->nfields) {
		snprintf(why, whylen, "%d columns, but the header has %d", row->nfields,
			 header->nfields);
		return WH_ERR_INVAL;
	}
	for (int i = 0; i < row->nfields; i++) {
		r->key[i] = header->field[i];
		r->val[i] = row->field[i];
	}
	r->n = row->nfields;
	return WH_OK;
}

/* The shortest text that reads back as d, if it has at most 15 significant digits. One
 * conversion: when some p <= 15 digits read back as d, the nearest 15-digit decimal is those
 * p digits and zeros (d is within half a binary ulp, 2^-53, of them; 15-digit decimals are
 * 10^-15 apart at least) for a normal d, and %g drops the zeros; when 15 do not read back, fewer
 * cannot. The notation is the same as with p digits: the non-integers printed in exponent notation
 * with either precision are the same ones. (A loop over p was a third of a JSONL record's
 * capture when its quantity was a number.) */
int
record_number_text(double d, char *buf, size_t len)
{
	if (!isfinite(d))
		return -1;
	if (d == floor(d) && fabs(d) < 1e15) {
		snprintf(buf, len, "%.0f", d);
		return 0;
	}
	if (fabs(d) >= DBL_MIN) { /* a subnormal has fewer bits: the search below */
		snprintf(buf, len, "%.15g", d);
		return strtod(buf, NULL) == d ? 0 : -1;
	}
	for (int prec = 1; prec <= 15; prec++) {
		snprintf(buf, len, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			return 0;
	}
	return -1;
}

static const char *
scalar_text(struct record *r, const cJSON *item, char *why, size_t whylen)
{
	char *dst = r->scratch + r->used;
	size_t room = sizeof(r->scratch) - r->used;

	if (cJSON_IsString(item))
		return item->valuestring;
	if (cJSON_IsBool(item)) {
		snprintf(dst, room, "%s", cJSON_IsTrue(item) ? "true" : "false");
	} else if (cJSON_IsNumber(item)) {
		if (record_number_text(item->valuedouble, dst, room) != 0) {
			snprintf(why, whylen,
				 "key %s: number has more than 15 significant digits and cannot be "
				 "taken exactly; send it as a string",
				 item->string);
			return NULL;
		}
	} else {
		snprintf(why, whylen, "key %s: nested objects and arrays are not supported",
			 item->string);
		return NULL;
	}
	r->used += strlen(dst) + 1;
	return dst;
}

/* 1 if text holds a NUL, as a byte or as the escape \u0000: C strings end there, so a field
 * would be cut short and two different records could look alike. Backslashes are rare in
 * records, so this costs a memchr. */
static int
has_nul(const char *text, size_t len)
{
	const char *p = text, *end = text + len;

	if (memchr(text, '\0', len) != NULL)
		return 1;
	while ((p = memchr(p, '\\', (size_t)(end - p))) != NULL) {
		const char *q = p;

		while (q < end && *q == '\\')
			q++;
		if ((q - p) % 2 == 1 && end - q >= 5 && memcmp(q, "u0000", 5) == 0)
			return 1;
		p = q;
	}
	return 0;
}

/* Parses text; NULL with why (or json_oom set) on failure. Caller frees with cJSON_Delete. */
static cJSON *
parse(const char *text, size_t len, char *why, size_t whylen)
{
	cJSON *tree;

	json_oom = 0;
	if (has_nul(text, len)) {
		snprintf(why, whylen,
			 "a NUL character (\\u0000 or a zero byte): it would cut a "
			 "field short, so the record is refused");
		return NULL;
	}
	record_json_alloc(); /* before the tree is made: it is freed with wh_free */
	tree = cJSON_ParseWithLength(text, len);
	if (tree == NULL && !json_oom) {
		const char *at = cJSON_GetErrorPtr();

		if (at != NULL && at >= text && at <= text + len)
			snprintf(why, whylen, "not valid JSON (at character %zu)",
				 (size_t)(at - text) + 1);
		else
			snprintf(why, whylen, "not valid JSON");
	}
	return tree;
}

/* Fills r from the members of obj (borrowed: it must outlive r's use). */
static wh_err
from_object(struct record *r, const cJSON *obj, char *why, size_t whylen)
{
	const cJSON *item;

	if (!cJSON_IsObject(obj)) {
		snprintf(why, whylen, "not a JSON object");
		return WH_ERR_INVAL;
	}
	cJSON_ArrayForEach(item, obj)
	{
		const char *v;

		if (cJSON_IsNull(item))
			continue;
		if (r->n == RECORD_MAX_FIELDS) {
			snprintf(why, whylen, "more than %d keys", RECORD_MAX_FIELDS);
			return WH_ERR_INVAL;
		}
		v = scalar_text(r, item, why, whylen);
		if (v == NULL)
			return WH_ERR_INVAL;
		r->key[r->n] = item->string;
		r->val[r->n++] = v;
	}
	return WH_OK;
}

wh_err
record_from_json(struct record *r, const char *text, size_t len, char *why, size_t whylen)
{
	record_done(r);
	json_arena = r;
	r->json = parse(text, len, why, whylen);
	json_arena = NULL;
	if (r->json == NULL)
		return json_oom ? WH_ERR_NOMEM : WH_ERR_INVAL;
	return from_object(r, r->json, why, whylen);
}

int
record_pointer_check(const char *pointer, char *why, size_t whylen)
{
	int depth = 0;
	size_t tok = 0;

	if (pointer[0] == '\0')
		return 0;
	if (pointer[0] != '/' || strlen(pointer) > RECORD_POINTER_MAX) {
		snprintf(why, whylen,
			 "a JSON pointer starts with '/' (like /data/items), at most %d "
			 "characters",
			 RECORD_POINTER_MAX);
		return -1;
	}
	for (const char *p = pointer; *p; p++) {
		if (*p == '/') {
			if (++depth > RECORD_POINTER_DEPTH) {
				snprintf(why, whylen, "a JSON pointer of more than %d levels",
					 RECORD_POINTER_DEPTH);
				return -1;
			}
			tok = 0;
			continue;
		}
		if (*p == '~' && p[1] != '0' && p[1] != '1') {
			snprintf(why, whylen,
				 "'~' must be followed by 0 ('~') or 1 ('/') (RFC 6901)");
			return -1;
		}
		if (++tok > RECORD_POINTER_TOKEN_MAX) {
			snprintf(why, whylen, "a JSON pointer token longer than %d characters",
				 RECORD_POINTER_TOKEN_MAX);
			return -1;
		}
	}
	return 0;
}

/* The node pointer leads to in root, or NULL with why. pointer was checked. */
static cJSON *
pointer_get(cJSON *root, const char *pointer, char *why, size_t whylen)
{
	char tok[RECORD_POINTER_TOKEN_MAX + 1];
	const char *p = pointer;
	cJSON *node = root;

	while (*p == '/') {
		size_t n = 0;

		for (p++; *p && *p != '/'; p++) {
			char ch = *p;

			if (ch == '~') {
				ch = p[1] == '1' ? '/' : '~';
				p++;
			}
			if (n == RECORD_POINTER_TOKEN_MAX)
				break;
			tok[n++] = ch;
		}
		tok[n] = '\0';
		if (cJSON_IsObject(node)) {
			node = cJSON_GetObjectItemCaseSensitive(node, tok);
		} else if (cJSON_IsArray(node)) {
			char *end;
			long i = strtol(tok, &end, 10);

			if (n == 0 || *end != '\0' || tok[0] < '0' || tok[0] > '9' ||
			    (tok[0] == '0' && n > 1) || i >= cJSON_GetArraySize(node))
				node = NULL;
			else
				node = cJSON_GetArrayItem(node, (int)i);
		} else {
			node = NULL;
		}
		if (node == NULL) {
			snprintf(why, whylen, "records = %.*s: no such place in the document",
				 (int)(p - pointer), pointer);
			return NULL;
		}
	}
	if (!cJSON_IsObject(node) && !cJSON_IsArray(node)) {
		snprintf(why, whylen,
			 "records = %s: leads to neither an object nor an array of objects",
			 pointer);
		return NULL;
	}
	return node;
}

/* The records of one document under pointer: 1 for an object, an array's size. */
static int
count_at(const char *text, size_t len, const char *pointer)
{
	char why[160];
	cJSON *tree = parse(text, len, why, sizeof(why));
	cJSON *node = tree ? pointer_get(tree, pointer, why, sizeof(why)) : NULL;
	int n = node && cJSON_IsArray(node) ? cJSON_GetArraySize(node) : 1;

	cJSON_Delete(tree);
	return n;
}

/* Calls cb for each record of one JSON Lines document under pointer. */
static wh_err
line_at(struct record *r, const char *pointer, struct record_item *it, int *n, record_item_cb cb,
	void *arg, char *rwhy, size_t rwhylen)
{
	cJSON *tree = parse(it->raw, it->raw_len, rwhy, rwhylen);
	cJSON *node = tree ? pointer_get(tree, pointer, rwhy, rwhylen) : NULL;
	const cJSON *el;
	wh_err err = WH_OK;

	if (tree == NULL && json_oom)
		return WH_ERR_NOMEM;
	if (node == NULL) {
		it->index = (*n)++;
		it->err = WH_ERR_INVAL;
		err = cb(it, arg);
		cJSON_Delete(tree);
		return err;
	}
	for (el = cJSON_IsArray(node) ? node->child : node; el != NULL && err == WH_OK;
	     el = cJSON_IsArray(node) ? el->next : NULL) {
		struct record_item one = {.index = (*n)++, .r = r, .why = rwhy};
		char *raw = cJSON_PrintUnformatted(el);

		if (raw == NULL) {
			err = WH_ERR_NOMEM;
			break;
		}
		one.raw = raw;
		one.raw_len = strlen(raw);
		record_done(r);
		one.err = from_object(r, el, rwhy, rwhylen);
		err = cb(&one, arg);
		cJSON_free(raw);
	}
	record_done(r);
	cJSON_Delete(tree);
	return err;
}

/* JSON Lines: each non-empty line is a record of its own. */
static wh_err
each_line(const char *pointer, const char *body, size_t len, int max_records, record_item_cb cb,
	  void *arg, char *why, size_t whylen)
{
	struct record *r = wh_malloc(sizeof(*r));
	const char *p = body, *end = body + len;
	char rwhy[320];
	int n = 0;
	wh_err err = WH_OK;

	for (const char *q = body; q < end; n++) { /* count first: nothing taken if too many */
		const char *nl = memchr(q, '\n', (size_t)(end - q));
		const char *e = nl ? nl : end;

		while (q < e && (*q == ' ' || *q == '\r' || *q == '\t'))
			q++;
		if (q == e)
			n--;
		else if (pointer != NULL && n <= max_records)
			n += count_at(q, (size_t)(e - q), pointer) - 1;
		q = e + 1;
	}
	if (n > max_records) {
		snprintf(why, whylen, "more than %d records in one request", max_records);
		wh_free(r);
		return WH_ERR_TOOBIG;
	}
	n = 0;
	if (r == NULL)
		return WH_ERR_NOMEM;
	record_init(r);
	while (p < end && err == WH_OK) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct record_item it = {.index = n, .r = r, .raw = p, .raw_len = l};

		while (it.raw_len > 0 && (p[it.raw_len - 1] == '\r' || p[it.raw_len - 1] == ' '))
			it.raw_len--;
		p += l + 1;
		while (it.raw_len > 0 && (it.raw[0] == ' ' || it.raw[0] == '\t')) {
			it.raw++;
			it.raw_len--;
		}
		if (it.raw_len == 0)
			continue;
		if (pointer != NULL) {
			err = line_at(r, pointer, &it, &n, cb, arg, rwhy, sizeof(rwhy));
			continue;
		}
		it.index = n++;
		it.err = record_from_json(r, it.raw, it.raw_len, rwhy, sizeof(rwhy));
		if (it.err == WH_ERR_NOMEM) {
			err = WH_ERR_NOMEM;
			break;
		}
		it.why = rwhy;
		err = cb(&it, arg);
	}
	record_done(r);
	wh_free(r);
	return err;
}

/* One object or an array of objects: elements are re-serialized for their raw bytes. */
static wh_err
each_element(cJSON *tree, const char *body, size_t len, int max_records, record_item_cb cb,
	     void *arg, char *why, size_t whylen)
{
	struct record *r = wh_malloc(sizeof(*r));
	const cJSON *el;
	char rwhy[320];
	int n = 0;
	wh_err err = WH_OK;

	if (r == NULL)
		return WH_ERR_NOMEM;
	record_init(r);
	if (cJSON_IsObject(tree)) {
		struct record_item it = {
			.index = 0, .r = r, .raw = body, .raw_len = len, .why = rwhy};

		it.err = from_object(r, tree, rwhy, sizeof(rwhy));
		err = cb(&it, arg);
	} else if (cJSON_GetArraySize(tree) > max_records) {
		snprintf(why, whylen, "more than %d records in one request", max_records);
		err = WH_ERR_TOOBIG;
	} else {
		cJSON_ArrayForEach(el, tree)
		{
			struct record_item it = {.index = n++, .r = r, .why = rwhy};
			char *raw = cJSON_PrintUnformatted(el);

			if (raw == NULL) {
				err = WH_ERR_NOMEM;
				break;
			}
			it.raw = raw;
			it.raw_len = strlen(raw);
			record_done(r);
			it.err = from_object(r, el, rwhy, sizeof(rwhy));
			err = cb(&it, arg);
			cJSON_free(raw);
			if (err != WH_OK)
				break;
		}
	}
	record_done(r);
	wh_free(r);
	return err;
}

wh_err
record_body_each(int ndjson, const char *body, size_t len, int max_records, record_item_cb cb,
		 void *arg, char *why, size_t whylen)
{
	return record_body_each_at(ndjson, NULL, body, len, max_records, cb, arg, why, whylen);
}

wh_err
record_body_each_at(int ndjson, const char *pointer, const char *body, size_t len, int max_records,
		    record_item_cb cb, void *arg, char *why, size_t whylen)
{
	cJSON *tree, *node;
	wh_err err;

	if (pointer != NULL && pointer[0] == '\0')
		pointer = NULL;
	if (ndjson)
		return each_line(pointer, body, len, max_records, cb, arg, why, whylen);
	tree = parse(body, len, why, whylen);
	if (tree == NULL)
		return json_oom ? WH_ERR_NOMEM : WH_ERR_INVAL;
	if (pointer != NULL) {
		node = pointer_get(tree, pointer, why, whylen);
		if (node == NULL) {
			err = WH_ERR_INVAL;
		} else if (cJSON_IsObject(node)) {
			char *raw = cJSON_PrintUnformatted(node);

			err = raw == NULL ? WH_ERR_NOMEM
					  : each_element(node, raw, strlen(raw), max_records, cb,
							 arg, why, whylen);
			cJSON_free(raw);
		} else {
			err = each_element(node, body, len, max_records, cb, arg, why, whylen);
		}
	} else if (!cJSON_IsObject(tree) && !cJSON_IsArray(tree)) {
		snprintf(why, whylen,
			 "the body is JSON but neither an object nor an array of objects");
		err = WH_ERR_INVAL;
	} else {
		err = each_element(tree, body, len, max_records, cb, arg, why, whylen);
	}
	cJSON_Delete(tree);
	return err;
}
