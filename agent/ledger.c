/* The ledger's rules (see ledger.h). */
#include "ledger.h"

static struct ledger_delta
delta(const struct event *ev, const char *location, int64_t milli)
{
	return (struct ledger_delta){.sku = ev->f[EF_SKU],
				     .location = location,
				     .lot = ev->f[EF_LOT] ? ev->f[EF_LOT] : "",
				     .uom = ev->f[EF_UOM],
				     .milli = milli};
}

int
ledger_deltas(const struct event *ev, const struct ledger_rules *r,
	      struct ledger_delta out[LEDGER_MAX_DELTAS])
{
	const char *staging = r->staging;
	const char *bin = ev->f[EF_BIN], *to = ev->f[EF_TO_BIN];
	int64_t q = ev->qty_milli;

	switch (ev->kind) {
	case EVENT_RECEIPT:
	case EVENT_ADJUSTMENT:
		out[0] = delta(ev, bin, q);
		return 1;
	case EVENT_PICK:
		out[0] = delta(ev, bin, -q);
		out[1] = delta(ev, to ? to : staging, q);
		return 2;
	case EVENT_SHIPMENT:
		out[0] = delta(ev, bin && !r->ship_from_staging ? bin : staging, -q);
		return 1;
	case EVENT_TRANSFER:
		out[0] = delta(ev, bin, -q);
		out[1] = delta(ev, to, q);
		return 2;
	}
	return 0;
}
