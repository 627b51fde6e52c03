/* The canonical event in C: the input record's fields, the mapping from a WMS's own column
 * names, and validation. Validation borrows the record's strings; nothing is copied. */
#ifndef WHAGENT_EVENT_H
#define WHAGENT_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err.h"

struct record;

/* The input record's fields, in the order of the README's table. */
enum event_field {
	EF_KIND,
	EF_TXN_ID,
	EF_EVENT_TIME,
	EF_SKU,
	EF_GTIN,
	EF_LOT,
	EF_SERIAL,
	EF_EXPIRY,
	EF_QTY,
	EF_UOM,
	EF_ZONE,
	EF_BIN,
	EF_LPN,
	EF_TO_ZONE,
	EF_TO_BIN,
	EF_TO_LPN,
	EF_REASON_CODE,
	EF_ORDER_REF,
	EF_ORDER_LINE,
	EF_SHIPMENT_REF,
	EF_CARRIER,
	EF_TRACKING_REF,
	EF_PO_REF,
	EF_TRANSFER_REF,
	EF_OPERATOR_ID,
	EF_DEVICE_ID,
	EF_COUNT
};

/* Values equal to whagent.v1.EventKind. */
enum event_kind {
	EVENT_PICK = 1,
	EVENT_RECEIPT = 2,
	EVENT_ADJUSTMENT = 3,
	EVENT_TRANSFER = 4,
	EVENT_SHIPMENT = 5
};

#define EVENT_MAX_ATTRS	   32
#define EVENT_ATTR_KEY_MAX 64
#define EVENT_ATTR_VAL_MAX 256
#define EVENT_ID_LEN	   32

#define EVENT_VALUES_MAX     256 /* value map entries per [map.NAME] */
#define EVENT_VALUE_CODE_MAX 64

/* One value map entry: in field, the WMS's code stands for value (kind.PK = PICK). */
struct event_value {
	int field; /* enum event_field */
	char *code;
	char *value;
};

/* Slots of event_map's name table: more than twice the names it holds (two per field). */
#define EVENT_MAP_SLOTS 128

/* Which column (or JSON key) each field is read from, besides the field's own name. */
struct event_map {
	const char *column[EF_COUNT]; /* borrowed */
	/* every column and field name, hashed without case: 2 * field + (0 column, 1 field's
	 * name), -1 empty (a JSON record's every key is looked up) */
	short slot[EVENT_MAP_SLOTS];
	const char *name;		  /* the [map.NAME] section, or NULL */
	const struct event_value *values; /* borrowed; nvalues entries */
	int nvalues;
	unsigned char valued[EF_COUNT]; /* 1: the field has value map entries */
	const char *tz;			/* IANA zone for times without offset; NULL: required */
	char decimal;			/* the decimal point of quantities: '.' or ',' */
};

struct event {
	enum event_kind kind;
	const char *f[EF_COUNT]; /* borrowed from the record; NULL when absent or empty */
	int64_t qty_milli;	 /* thousandths, signed */
	int64_t event_time_ms;	 /* UTC */
	int32_t event_time_offset_min;
	int nattrs;
	const char *attr_key[EVENT_MAX_ATTRS];
	const char *attr_val[EVENT_MAX_ATTRS];
};

/* The field called name (case-insensitive), or -1. */
int event_field_from_name(const char *name);
const char *event_field_name(int field);
const char *event_kind_name(enum event_kind kind);
/* The GS1 CBV business step of kind: picking, receiving, ... */
const char *event_biz_step(enum event_kind kind);

/* Fills m from columns (indexed by field, NULL entries keep the field's name; columns may
 * be NULL), with no time zone and '.' as decimal point. Borrows the strings. */
void event_map_init(struct event_map *m, char *const *columns);

/* Sets m's value map (borrowed) of the [map.NAME] section called name. */
void event_map_values(struct event_map *m, const char *name, const struct event_value *values,
		      int nvalues);
/* 1 when value is a canonical value of field where the field has a fixed vocabulary (kind:
 * PICK ... SHIPMENT, any case), or when the field has none; 0 otherwise. */
int event_value_canonical(int field, const char *value);

/* The field the column called name feeds under m, or -1 (a free attribute). */
int event_map_field(const struct event_map *m, const char *name);

/* Maps r through m and validates it into *ret_ev, which borrows r's strings. fields[i] is
 * event_map_field() of r->key[i], computed once per CSV header; NULL looks each key up.
 * WH_ERR_INVAL: why holds a reason a person can act on ("column qty: '12,5' is not a
 * decimal number"). */
wh_err event_from_record(const struct event_map *m, const struct record *r, const int *fields,
			 struct event *ret_ev, char *why, size_t whylen);

/* The deterministic event id: SHA-256 over source, a 0 byte, and source_key. */
void event_id(const char *source, const char *source_key, uint8_t out[EVENT_ID_LEN]);

/* Parses a decimal with up to 3 fraction digits exactly into thousandths. 0 or -1. */
int event_parse_qty(const char *s, int64_t *ret_milli);
/* Parses RFC 3339 date-time with a zone offset. 0 or -1. */
int event_parse_time(const char *s, int64_t *ret_ms, int32_t *ret_offset_min);
/* event_parse_qty with point as the decimal separator ('.' or ','). */
int event_parse_qty_sep(const char *s, char point, int64_t *ret_milli);
/* As event_parse_time, but with tz (an IANA zone name, or NULL) a time without offset is a
 * local time in tz, resolved with the system tz database, DST included: an ambiguous time
 * (the hour repeated when clocks go back) takes the earlier instant (the offset before the
 * change); a time that does not exist (the hour skipped) gives -2. The offset the time was
 * resolved to is stored. TZ is changed only during the call. 0, -1 or -2. */
int event_parse_time_in(const char *s, const char *tz, int64_t *ret_ms, int32_t *ret_offset_min);
/* 1 if name is a zone of the system tz database (a TZif file under TZDIR or
 * /usr/share/zoneinfo), 0 if not. */
int event_zone_known(const char *name);
/* The UTC offset in seconds of zone tz (NULL or "": the process's zone) at the instant t. */
long event_zone_offset_s(const char *tz, time_t t);

#endif
