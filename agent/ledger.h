/* The ledger's rules: how an event changes on-hand balances per (sku, location, lot, uom).
 * The journal applies the changes in the same transaction as the event (journal_append) and
 * keeps the control totals; this module only says what an event moves where.
 *
 *   RECEIPT     + at its bin
 *   PICK        - at its bin, + at its staging location (to_bin, or the site's staging)
 *   SHIPMENT    - at its bin, or at the site's staging location when it names none (or
 *               always there: for a WMS that names the dock, not where the goods wait)
 *   TRANSFER    - at its bin, + at to_bin
 *   ADJUSTMENT  + its signed quantity at its bin
 *
 * The location is the bin (zone and LPN are not part of the key); the lot is empty when the
 * event carries none; units of measure are never converted. */
#ifndef WHAGENT_LEDGER_H
#define WHAGENT_LEDGER_H

#include <stdint.h>

#include "event.h"

#define LEDGER_MAX_DELTAS 2

/* A change of one on-hand balance; borrowed strings. */
struct ledger_delta {
	const char *sku, *location, *lot, *uom;
	int64_t milli;
};

/* The site's settings of the rules ([ledger]); staging is borrowed. */
struct ledger_rules {
	const char *staging;   /* where picks without to_bin go */
	int ship_from_staging; /* shipments always leave from staging, whatever bin they name */
};

/* Fills out with ev's balance changes under r (borrowing ev's and r's strings) and returns
 * how many there are. */
int ledger_deltas(const struct event *ev, const struct ledger_rules *r,
		  struct ledger_delta out[LEDGER_MAX_DELTAS]);

#endif
