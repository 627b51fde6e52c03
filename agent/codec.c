/* Builds the protobuf-c structures of an event on the stack (borrowing the event's strings)
 * and packs them into one buffer. */
#include "codec.h"

#include <string.h>

#include "mem.h"
#include "whagent/v1/event.pb-c.h"

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
	uint8_t id[EVENT_ID_LEN];
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
fill_parts(struct codec_parts *p, const struct event *ev, const char *source, uint64_t seq,
	   int64_t captured_at_ms)
{
	const char *const *f = ev->f;

	event_id(source, f[EF_TXN_ID], p->id);
	whagent__v1__event_header__init(&p->header);
	p->header.seq = seq;
	p->header.event_id.data = p->id;
	p->header.event_id.len = sizeof(p->id);
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
codec_event_encode(const struct event *ev, const char *source, uint64_t seq, int64_t captured_at_ms,
		   uint8_t **ret_buf, size_t *ret_len)
{
	const char *const *f = ev->f;
	struct codec_parts p;
	Whagent__V1__InventoryEvent inv;
	Whagent__V1__ShipmentEvent shp;
	Whagent__V1__Event out;
	uint8_t *buf;
	size_t len;

	memset(&p, 0, sizeof(p));
	fill_parts(&p, ev, source, seq, captured_at_ms);
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
