/* Raw records from CSV rows and JSON objects. JSON numbers are kept exact: a number whose
 * shortest round-trip text needs more than 15 significant digits is refused, so a large
 * transaction id or quantity can never be silently rounded through a double. */
#include "record.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

static int json_oom;

static void *
json_malloc(size_t size)
{
	void *p = wh_malloc(size);

	if (p == NULL)
		json_oom = 1;
	return p;
}

void
record_init(struct record *r)
{
	static cJSON_Hooks hooks = {json_malloc, wh_free};

	memset(r, 0, offsetof(struct record, scratch));
	cJSON_InitHooks(&hooks);
}

void
record_done(struct record *r)
{
	cJSON_Delete(r->json);
	r->json = NULL;
	r->n = 0;
	r->used = 0;
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

/* The shortest text that reads back as d, if it has at most 15 significant digits. */
static int
number_text(double d, char *buf, size_t len)
{
	if (!isfinite(d))
		return -1;
	if (d == floor(d) && fabs(d) < 1e15) {
		snprintf(buf, len, "%.0f", d);
		return 0;
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
		if (number_text(item->valuedouble, dst, room) != 0) {
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

wh_err
record_from_json(struct record *r, const char *text, size_t len, char *why, size_t whylen)
{
	const cJSON *item;

	record_done(r);
	json_oom = 0;
	r->json = cJSON_ParseWithLength(text, len);
	if (r->json == NULL) {
		const char *at = cJSON_GetErrorPtr();

		if (json_oom)
			return WH_ERR_NOMEM;
		if (at != NULL && at >= text && at <= text + len)
			snprintf(why, whylen, "not valid JSON (at character %zu)",
				 (size_t)(at - text) + 1);
		else
			snprintf(why, whylen, "not valid JSON");
		return WH_ERR_INVAL;
	}
	if (!cJSON_IsObject(r->json)) {
		snprintf(why, whylen, "not a JSON object");
		return WH_ERR_INVAL;
	}
	cJSON_ArrayForEach(item, r->json)
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
