/* The capture's encoder of one message, whagent.v1.Event, written out by hand: protobuf-c's
 * packing through descriptors (a size pass and a pack pass over every field) was an eighth of
 * a CSV event's capture. Byte for byte what codec_event_pack (protobuf-c) gives: the unit test
 * test_codec and fuzz_csv compare both. A field added to event.proto goes here too. */
#include <string.h>

#include "codec.h"
#include "mem.h"

/* Wire types, and every field number here is below 16: a tag is one byte. */
#define VARINT		 0
#define LEN		 2
#define TAG(field, wire) ((uint8_t)((field) << 3 | (wire)))

static size_t
varint_size(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *
put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* proto3: a scalar at its zero value is left out (an int32 or enum below zero takes ten bytes,
 * sign-extended, as with int64). */
static size_t
num_size(uint64_t v)
{
	return v ? 1 + varint_size(v) : 0;
}

static uint8_t *
put_num(uint8_t *p, int field, uint64_t v)
{
	if (v == 0)
		return p;
	*p++ = TAG(field, VARINT);
	return put_varint(p, v);
}

static uint64_t
zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static uint64_t
zigzag32(int32_t v)
{
	return (uint32_t)(((uint32_t)v << 1) ^ (uint32_t)(v >> 31));
}

/* A length-delimited field of n bytes; a singular string of none is left out. */
static size_t
len_size(size_t n)
{
	return 1 + varint_size(n) + n;
}

static size_t
str_size(size_t n)
{
	return n ? len_size(n) : 0;
}

static uint8_t *
put_len(uint8_t *p, int field, size_t n)
{
	*p++ = TAG(field, LEN);
	return put_varint(p, n);
}

static uint8_t *
put_bytes(uint8_t *p, int field, const void *s, size_t n)
{
	p = put_len(p, field, n);
	memcpy(p, s, n);
	return p + n;
}

static uint8_t *
put_str(uint8_t *p, int field, const char *s, size_t n)
{
	return n ? put_bytes(p, field, s, n) : p;
}

/* The event's strings and their lengths, measured once for both passes. */
struct texts {
	const char *f[EF_COUNT], *source, *biz_step;
	size_t n[EF_COUNT], source_n, biz_step_n, key_n[EVENT_MAX_ATTRS], val_n[EVENT_MAX_ATTRS];
};

/* The sizes of the nested messages. */
struct sizes {
	size_t attr[EVENT_MAX_ATTRS], header, item, qty, loc, dest, body, event;
	int has_dest;
};

static size_t
text_len(const char *s)
{
	return s ? strlen(s) : 0;
}

static void
measure(const struct event *ev, const char *source, struct texts *t)
{
	for (int k = 0; k < EF_COUNT; k++)
		t->n[k] = text_len(t->f[k] = ev->f[k]);
	t->source = source;
	t->source_n = text_len(source);
	t->biz_step = event_biz_step(ev->kind);
	t->biz_step_n = text_len(t->biz_step);
	for (int i = 0; i < ev->nattrs; i++) {
		t->key_n[i] = text_len(ev->attr_key[i]);
		t->val_n[i] = text_len(ev->attr_val[i]);
	}
}

static size_t
loc_size(const struct texts *t, int zone, int bin, int lpn)
{
	return str_size(t->n[zone]) + str_size(t->n[bin]) + str_size(t->n[lpn]);
}

static size_t
header_size(const struct event *ev, const struct texts *t, uint64_t seq, int64_t captured_at_ms,
	    struct sizes *z)
{
	size_t n = num_size(seq) + len_size(EVENT_ID_LEN) + num_size((uint64_t)(int64_t)ev->kind) +
		   str_size(t->biz_step_n) + num_size((uint64_t)ev->event_time_ms) +
		   num_size(zigzag32(ev->event_time_offset_min)) +
		   num_size((uint64_t)captured_at_ms) + str_size(t->source_n) +
		   str_size(t->n[EF_TXN_ID]) + str_size(t->n[EF_OPERATOR_ID]) +
		   str_size(t->n[EF_DEVICE_ID]);

	for (int i = 0; i < ev->nattrs; i++) {
		z->attr[i] = str_size(t->key_n[i]) + str_size(t->val_n[i]);
		n += len_size(z->attr[i]);
	}
	return n;
}

static void
size_all(const struct event *ev, const struct texts *t, uint64_t seq, int64_t captured_at_ms,
	 struct sizes *z)
{
	static const int inventory[] = {EF_REASON_CODE, EF_ORDER_REF, EF_ORDER_LINE, EF_PO_REF,
					EF_TRANSFER_REF};
	static const int shipment[] = {EF_SHIPMENT_REF, EF_CARRIER,    EF_TRACKING_REF,
				       EF_ORDER_REF,	EF_ORDER_LINE, EF_REASON_CODE};
	int ship = ev->kind == EVENT_SHIPMENT;
	const int *tail = ship ? shipment : inventory;
	int ntail = ship ? 6 : 5;

	z->header = header_size(ev, t, seq, captured_at_ms, z);
	/* a serial is a repeated string: kept even when empty */
	z->item = str_size(t->n[EF_SKU]) + str_size(t->n[EF_GTIN]) + str_size(t->n[EF_LOT]) +
		  (t->f[EF_SERIAL] ? len_size(t->n[EF_SERIAL]) : 0) + str_size(t->n[EF_EXPIRY]);
	z->qty = num_size(zigzag(ev->qty_milli)) + str_size(t->n[EF_UOM]);
	z->loc = loc_size(t, EF_ZONE, EF_BIN, EF_LPN);
	z->has_dest = !ship && (t->f[EF_TO_ZONE] || t->f[EF_TO_BIN] || t->f[EF_TO_LPN]);
	z->dest = z->has_dest ? loc_size(t, EF_TO_ZONE, EF_TO_BIN, EF_TO_LPN) : 0;
	z->body = len_size(z->header) + len_size(z->item) + len_size(z->qty) + len_size(z->loc) +
		  (z->has_dest ? len_size(z->dest) : 0);
	for (int i = 0; i < ntail; i++)
		z->body += str_size(t->n[tail[i]]);
	z->event = len_size(z->body);
}

static uint8_t *
put_field(uint8_t *p, int field, const struct texts *t, int k)
{
	return put_str(p, field, t->f[k], t->n[k]);
}

static uint8_t *
put_loc(uint8_t *p, int field, size_t size, const struct texts *t, int zone, int bin, int lpn)
{
	p = put_len(p, field, size);
	p = put_field(p, 1, t, zone);
	p = put_field(p, 2, t, bin);
	return put_field(p, 3, t, lpn);
}

static uint8_t *
put_header(uint8_t *p, const struct event *ev, const struct texts *t, const uint8_t *id,
	   uint64_t seq, int64_t captured_at_ms, const struct sizes *z)
{
	p = put_len(p, 1, z->header);
	p = put_num(p, 1, seq);
	p = put_bytes(p, 2, id, EVENT_ID_LEN);
	p = put_num(p, 3, (uint64_t)(int64_t)ev->kind);
	p = put_str(p, 4, t->biz_step, t->biz_step_n);
	p = put_num(p, 5, (uint64_t)ev->event_time_ms);
	p = put_num(p, 6, zigzag32(ev->event_time_offset_min));
	p = put_num(p, 7, (uint64_t)captured_at_ms);
	p = put_str(p, 8, t->source, t->source_n);
	p = put_field(p, 9, t, EF_TXN_ID);
	p = put_field(p, 10, t, EF_OPERATOR_ID);
	p = put_field(p, 11, t, EF_DEVICE_ID);
	for (int i = 0; i < ev->nattrs; i++) {
		p = put_len(p, 12, z->attr[i]);
		p = put_str(p, 1, ev->attr_key[i], t->key_n[i]);
		p = put_str(p, 2, ev->attr_val[i], t->val_n[i]);
	}
	return p;
}

static uint8_t *
put_event(uint8_t *p, const struct event *ev, const struct texts *t, const uint8_t *id,
	  uint64_t seq, int64_t captured_at_ms, const struct sizes *z)
{
	int ship = ev->kind == EVENT_SHIPMENT;

	p = put_len(p, ship ? 2 : 1, z->body); /* the oneof: shipment or inventory */
	p = put_header(p, ev, t, id, seq, captured_at_ms, z);
	p = put_len(p, 2, z->item);
	p = put_field(p, 1, t, EF_SKU);
	p = put_field(p, 2, t, EF_GTIN);
	p = put_field(p, 3, t, EF_LOT);
	if (t->f[EF_SERIAL] != NULL)
		p = put_bytes(p, 4, t->f[EF_SERIAL], t->n[EF_SERIAL]);
	p = put_field(p, 5, t, EF_EXPIRY);
	p = put_len(p, 3, z->qty);
	p = put_num(p, 1, zigzag(ev->qty_milli));
	p = put_field(p, 2, t, EF_UOM);
	p = put_loc(p, 4, z->loc, t, EF_ZONE, EF_BIN, EF_LPN);
	if (ship) {
		p = put_field(p, 5, t, EF_SHIPMENT_REF);
		p = put_field(p, 6, t, EF_CARRIER);
		p = put_field(p, 7, t, EF_TRACKING_REF);
		p = put_field(p, 8, t, EF_ORDER_REF);
		p = put_field(p, 9, t, EF_ORDER_LINE);
		return put_field(p, 10, t, EF_REASON_CODE);
	}
	if (z->has_dest)
		p = put_loc(p, 5, z->dest, t, EF_TO_ZONE, EF_TO_BIN, EF_TO_LPN);
	p = put_field(p, 6, t, EF_REASON_CODE);
	p = put_field(p, 7, t, EF_ORDER_REF);
	p = put_field(p, 8, t, EF_ORDER_LINE);
	p = put_field(p, 9, t, EF_PO_REF);
	return put_field(p, 10, t, EF_TRANSFER_REF);
}

wh_err
codec_event_encode(const struct event *ev, const char *source, const uint8_t id[EVENT_ID_LEN],
		   uint64_t seq, int64_t captured_at_ms, uint8_t **ret_buf, size_t *ret_len)
{
	struct texts t;
	struct sizes z;
	uint8_t *buf, *end;

	measure(ev, source, &t);
	size_all(ev, &t, seq, captured_at_ms, &z);
	if ((buf = wh_malloc(z.event)) == NULL)
		return WH_ERR_NOMEM;
	end = put_event(buf, ev, &t, id, seq, captured_at_ms, &z);
	if ((size_t)(end - buf) != z.event) { /* the two passes disagree: a bug, never sent */
		wh_free(buf);
		return WH_ERR_INVAL;
	}
	*ret_buf = buf;
	*ret_len = z.event;
	return WH_OK;
}
