/* Builds the protobuf-c structures of an event on the stack (borrowing the event's strings)
 * and packs them into one buffer. */
#include "codec.h"

#include <stdio.h>
#include <string.h>

#include "mem.h"
#include "whagent/v1/batch.pb-c.h"
#include "whagent/v1/control.pb-c.h"
#include "whagent/v1/event.pb-c.h"
#include "whagent/v1/status.pb-c.h"

static void *
pb_alloc(void *data, size_t size)
{
	struct codec_alloc *a = data;
	void *p = wh_malloc(size);

	if (p == NULL)
		a->oom = 1;
	return p;
}

static void
pb_free(void *data, void *p)
{
	(void)data;
	wh_free(p);
}

void
codec_alloc_init(struct codec_alloc *a)
{
	a->pb.alloc = pb_alloc;
	a->pb.free = pb_free;
	a->pb.allocator_data = a;
	a->oom = 0;
}

/* protobuf-c wants char * for strings it only reads. */
#define STR(s) ((char *)(uintptr_t)((s) ? (s) : ""))

struct codec_parts {
	Whagent__V1__EventHeader header;
	Whagent__V1__Item item;
	Whagent__V1__Quantity qty;
	Whagent__V1__Location loc, dest;
	Whagent__V1__Attribute attrs[EVENT_MAX_ATTRS];
	Whagent__V1__Attribute *attr_ptrs[EVENT_MAX_ATTRS];
	char *serial;
};

static void
fill_location(Whagent__V1__Location *l, const char *zone, const char *bin, const char *lpn)
{
	whagent__v1__location__init(l);
	l->zone = STR(zone);
	l->bin = STR(bin);
	l->lpn = STR(lpn);
}

static void
fill_parts(struct codec_parts *p, const struct event *ev, const char *source,
	   const uint8_t id[EVENT_ID_LEN], uint64_t seq, int64_t captured_at_ms)
{
	const char *const *f = ev->f;

	whagent__v1__event_header__init(&p->header);
	p->header.seq = seq;
	p->header.event_id.data = (uint8_t *)(uintptr_t)id;
	p->header.event_id.len = EVENT_ID_LEN;
	p->header.kind = (Whagent__V1__EventKind)ev->kind;
	p->header.biz_step = STR(event_biz_step(ev->kind));
	p->header.event_time_ms = ev->event_time_ms;
	p->header.event_time_offset_min = ev->event_time_offset_min;
	p->header.captured_at_ms = captured_at_ms;
	p->header.source = STR(source);
	p->header.source_key = STR(f[EF_TXN_ID]);
	p->header.operator_id = STR(f[EF_OPERATOR_ID]);
	p->header.device_id = STR(f[EF_DEVICE_ID]);
	for (int i = 0; i < ev->nattrs; i++) {
		whagent__v1__attribute__init(&p->attrs[i]);
		p->attrs[i].key = STR(ev->attr_key[i]);
		p->attrs[i].value = STR(ev->attr_val[i]);
		p->attr_ptrs[i] = &p->attrs[i];
	}
	p->header.n_attributes = (size_t)ev->nattrs;
	p->header.attributes = p->attr_ptrs;

	whagent__v1__item__init(&p->item);
	p->item.sku = STR(f[EF_SKU]);
	p->item.gtin = STR(f[EF_GTIN]);
	p->item.lot = STR(f[EF_LOT]);
	p->item.expiry = STR(f[EF_EXPIRY]);
	if (f[EF_SERIAL] != NULL) {
		p->serial = STR(f[EF_SERIAL]);
		p->item.serials = &p->serial;
		p->item.n_serials = 1;
	}
	whagent__v1__quantity__init(&p->qty);
	p->qty.milli = ev->qty_milli;
	p->qty.uom = STR(f[EF_UOM]);
	fill_location(&p->loc, f[EF_ZONE], f[EF_BIN], f[EF_LPN]);
	fill_location(&p->dest, f[EF_TO_ZONE], f[EF_TO_BIN], f[EF_TO_LPN]);
}

wh_err
codec_event_pack(const struct event *ev, const char *source, const uint8_t id[EVENT_ID_LEN],
		 uint64_t seq, int64_t captured_at_ms, uint8_t **ret_buf, size_t *ret_len)
{
	const char *const *f = ev->f;
	struct codec_parts p;
	Whagent__V1__InventoryEvent inv;
	Whagent__V1__ShipmentEvent shp;
	Whagent__V1__Event out;
	uint8_t *buf;
	size_t len;

	memset(&p, 0, sizeof(p));
	fill_parts(&p, ev, source, id, seq, captured_at_ms);
	whagent__v1__event__init(&out);
	if (ev->kind == EVENT_SHIPMENT) {
		whagent__v1__shipment_event__init(&shp);
		shp.header = &p.header;
		shp.item = &p.item;
		shp.quantity = &p.qty;
		shp.location = &p.loc;
		shp.shipment_ref = STR(f[EF_SHIPMENT_REF]);
		shp.carrier = STR(f[EF_CARRIER]);
		shp.tracking_ref = STR(f[EF_TRACKING_REF]);
		shp.order_ref = STR(f[EF_ORDER_REF]);
		shp.order_line = STR(f[EF_ORDER_LINE]);
		shp.reason_code = STR(f[EF_REASON_CODE]);
		out.body_case = WHAGENT__V1__EVENT__BODY_SHIPMENT;
		out.shipment = &shp;
	} else {
		whagent__v1__inventory_event__init(&inv);
		inv.header = &p.header;
		inv.item = &p.item;
		inv.quantity = &p.qty;
		inv.location = &p.loc;
		if (f[EF_TO_ZONE] || f[EF_TO_BIN] || f[EF_TO_LPN])
			inv.destination = &p.dest;
		inv.reason_code = STR(f[EF_REASON_CODE]);
		inv.order_ref = STR(f[EF_ORDER_REF]);
		inv.order_line = STR(f[EF_ORDER_LINE]);
		inv.po_ref = STR(f[EF_PO_REF]);
		inv.transfer_ref = STR(f[EF_TRANSFER_REF]);
		out.body_case = WHAGENT__V1__EVENT__BODY_INVENTORY;
		out.inventory = &inv;
	}
	len = whagent__v1__event__get_packed_size(&out);
	buf = wh_malloc(len);
	if (buf == NULL)
		return WH_ERR_NOMEM;
	whagent__v1__event__pack(&out, buf);
	*ret_buf = buf;
	*ret_len = len;
	return WH_OK;
}

#define BATCH_HEADER_ROOM 512 /* header and signature; site and journal ids are bounded */
#define EVENTS_TAG	  ((5 << 3) | 2) /* EventBatch.events, length-delimited */

wh_err
codec_batch_init(struct codec_batch *b, size_t max_bytes)
{
	memset(b, 0, sizeof(*b));
	b->cap = max_bytes + BATCH_HEADER_ROOM;
	b->buf = wh_malloc(b->cap);
	return b->buf ? WH_OK : WH_ERR_NOMEM;
}

void
codec_batch_done(struct codec_batch *b)
{
	wh_free(b->buf);
	b->buf = NULL;
}

void
codec_batch_reset(struct codec_batch *b)
{
	b->len = 0;
	b->nevents = 0;
	b->first_seq = b->last_seq = 0;
}

static size_t
put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

int
codec_batch_add(struct codec_batch *b, uint64_t seq, const uint8_t *event, size_t len)
{
	if (b->len + 1 + 10 + len > b->cap - BATCH_HEADER_ROOM)
		return -1;
	b->buf[b->len++] = EVENTS_TAG;
	b->len += put_varint(b->buf + b->len, len);
	memcpy(b->buf + b->len, event, len);
	b->len += len;
	if (b->nevents++ == 0)
		b->first_seq = seq;
	b->last_seq = seq;
	return 0;
}

wh_err
codec_batch_finish(struct codec_batch *b, const char *site_id, const char *journal_id,
		   enum codec_batch_kind kind)
{
	Whagent__V1__EventBatch h;

	whagent__v1__event_batch__init(&h);
	h.site_id = STR(site_id);
	h.journal_id = STR(journal_id);
	h.first_seq = b->first_seq;
	h.last_seq = b->last_seq;
	h.historical = kind != CODEC_BATCH_LIVE;
	h.replay = kind == CODEC_BATCH_REPLAY;
	if (whagent__v1__event_batch__get_packed_size(&h) > b->cap - b->len)
		return WH_ERR_TOOBIG;
	b->len += whagent__v1__event_batch__pack(&h, b->buf + b->len);
	return WH_OK;
}

wh_err
codec_batch_add_signature(struct codec_batch *b, const uint8_t *sig, size_t sig_len,
			  const uint8_t *fingerprint, size_t fp_len)
{
	if (b->len + 2 * (1 + 10) + sig_len + fp_len > b->cap)
		return WH_ERR_TOOBIG;
	b->buf[b->len++] = (7 << 3) | 2;
	b->len += put_varint(b->buf + b->len, sig_len);
	memcpy(b->buf + b->len, sig, sig_len);
	b->len += sig_len;
	b->buf[b->len++] = (8 << 3) | 2;
	b->len += put_varint(b->buf + b->len, fp_len);
	memcpy(b->buf + b->len, fingerprint, fp_len);
	b->len += fp_len;
	return WH_OK;
}

wh_err
codec_status_encode(const struct codec_status *st, uint8_t **ret_buf, size_t *ret_len)
{
	Whagent__V1__Status m;
	Whagent__V1__Alarm alarm[CODEC_STATUS_ALARMS], *alarms[CODEC_STATUS_ALARMS];
	uint8_t *buf;
	size_t len;

	whagent__v1__status__init(&m);
	m.site_id = STR(st->site_id);
	m.journal_id = STR(st->journal_id);
	m.state = st->online ? WHAGENT__V1__AGENT_STATE__AGENT_STATE_ONLINE
			     : WHAGENT__V1__AGENT_STATE__AGENT_STATE_OFFLINE;
	m.session = st->session;
	m.version = STR(WHAGENT_VERSION);
	m.last_seq = st->last_seq;
	m.acked_through = st->acked_through;
	m.backlog = st->backlog;
	m.quarantined = st->quarantined;
	m.oldest_unsent_age_s = st->oldest_unsent_age_s;
	m.time_ms = st->time_ms;
	m.has_client_cert = st->has_client_cert != 0;
	m.platform_acked_through = st->platform_acked_through;
	m.cert_days_left = st->cert_days_left;
	m.sync_watermark = STR(st->sync_watermark);
	m.broker_backlog = st->broker_backlog;
	m.sync_state = STR(st->sync_state);
	m.sync_since_ms = st->sync_since_ms;
	m.last_error = STR(st->last_error);
	m.last_error_ms = st->last_error_ms;
	m.last_error_current = st->last_error_current != 0;
	m.unsigned_control = st->unsigned_control != 0;
	for (int i = 0; i < st->nalarms && i < CODEC_STATUS_ALARMS; i++) {
		whagent__v1__alarm__init(&alarm[i]);
		alarm[i].name = STR(st->alarm_name[i]);
		alarm[i].text = STR(st->alarm_text[i]);
		alarm[i].since_ms = st->alarm_since_ms[i];
		alarms[i] = &alarm[i];
		m.n_alarms = (size_t)i + 1;
	}
	m.alarms = m.n_alarms > 0 ? alarms : NULL;
	m.clock_sync = st->clock_synced > 0    ? WHAGENT__V1__CLOCK_SYNC__CLOCK_SYNC_SYNCED
		       : st->clock_synced == 0 ? WHAGENT__V1__CLOCK_SYNC__CLOCK_SYNC_UNSYNCED
					       : WHAGENT__V1__CLOCK_SYNC__CLOCK_SYNC_UNKNOWN;
	m.boot_id = STR(st->boot_id);
	m.clock_jumps = st->clock_jumps;
	m.event_time_flagged = st->event_time_flagged;
	m.mono_offset_ms = st->mono_offset_ms;
	len = whagent__v1__status__get_packed_size(&m);
	buf = wh_malloc(len);
	if (buf == NULL)
		return WH_ERR_NOMEM;
	whagent__v1__status__pack(&m, buf);
	*ret_buf = buf;
	*ret_len = len;
	return WH_OK;
}

wh_err
codec_event_reseq(const uint8_t *event, size_t len, uint64_t seq, uint8_t **ret_buf,
		  size_t *ret_len)
{
	struct codec_alloc a;
	Whagent__V1__Event *e;
	Whagent__V1__EventHeader *h = NULL;
	wh_err err = WH_ERR_CORRUPT;
	uint8_t *buf;

	codec_alloc_init(&a);
	e = whagent__v1__event__unpack(&a.pb, len, event);
	if (e == NULL)
		return a.oom ? WH_ERR_NOMEM : WH_ERR_CORRUPT;
	if (e->body_case == WHAGENT__V1__EVENT__BODY_INVENTORY && e->inventory)
		h = e->inventory->header;
	else if (e->body_case == WHAGENT__V1__EVENT__BODY_SHIPMENT && e->shipment)
		h = e->shipment->header;
	if (h != NULL) {
		h->seq = seq;
		*ret_len = whagent__v1__event__get_packed_size(e);
		buf = wh_malloc(*ret_len);
		err = buf ? WH_OK : WH_ERR_NOMEM;
		if (buf != NULL) {
			whagent__v1__event__pack(e, buf);
			*ret_buf = buf;
		}
	}
	whagent__v1__event__free_unpacked(e, &a.pb);
	return err;
}

wh_err
codec_platform_ack_decode(const void *buf, size_t len, char *journal_id, size_t id_len,
			  uint64_t *ret_through)
{
	struct codec_alloc a;
	Whagent__V1__PlatformAck *m;
	wh_err err = WH_ERR_INVAL;
	int n;

	codec_alloc_init(&a);
	m = whagent__v1__platform_ack__unpack(&a.pb, len, buf);
	if (m == NULL)
		return a.oom ? WH_ERR_NOMEM : WH_ERR_INVAL;
	/* an id that does not fit is not ours: cut short, it could look like it */
	n = snprintf(journal_id, id_len, "%s", m->journal_id ? m->journal_id : "");
	if (n >= 0 && (size_t)n < id_len) {
		*ret_through = m->acked_through;
		err = WH_OK;
	}
	whagent__v1__platform_ack__free_unpacked(m, &a.pb);
	return err;
}

wh_err
codec_event_summary(const uint8_t *event, size_t len, struct codec_event_summary *ret)
{
	Whagent__V1__Event *e;
	struct codec_alloc a;
	Whagent__V1__EventHeader *h = NULL;
	Whagent__V1__Item *item = NULL;
	Whagent__V1__Quantity *q = NULL;
	Whagent__V1__Location *loc = NULL;

	memset(ret, 0, sizeof(*ret));
	codec_alloc_init(&a);
	e = whagent__v1__event__unpack(&a.pb, len, event);
	if (e == NULL)
		return a.oom ? WH_ERR_NOMEM : WH_ERR_CORRUPT;
	if (e->body_case == WHAGENT__V1__EVENT__BODY_INVENTORY && e->inventory) {
		h = e->inventory->header;
		item = e->inventory->item;
		q = e->inventory->quantity;
		loc = e->inventory->location;
	} else if (e->body_case == WHAGENT__V1__EVENT__BODY_SHIPMENT && e->shipment) {
		h = e->shipment->header;
		item = e->shipment->item;
		q = e->shipment->quantity;
		loc = e->shipment->location;
	}
	if (h != NULL) {
		ret->kind = (int)h->kind;
		ret->event_time_ms = h->event_time_ms;
		ret->captured_at_ms = h->captured_at_ms;
		snprintf(ret->source_key, sizeof(ret->source_key), "%s", h->source_key);
	}
	if (item != NULL)
		snprintf(ret->sku, sizeof(ret->sku), "%s", item->sku);
	if (q != NULL) {
		ret->qty_milli = q->milli;
		snprintf(ret->uom, sizeof(ret->uom), "%s", q->uom);
	}
	if (loc != NULL)
		snprintf(ret->location, sizeof(ret->location), "%s%s%s", loc->zone,
			 loc->zone[0] && loc->bin[0] ? "/" : "", loc->bin);
	whagent__v1__event__free_unpacked(e, &a.pb);
	return WH_OK;
}
