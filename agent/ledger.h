/* The ledger's rules: how an event changes on-hand balances per (sku, location, lot, uom).
 * The journal applies the changes in the same transaction as the event (journal_append) and
 * keeps the control totals; this module only says what an event moves where.
 *
 *   RECEIPT     + at its bin
 *   PICK        - at its bin, + at its staging location (to_bin, or the site's staging)
 *   SHIPMENT    - at its bin, or at the site's staging location when it names none
 *   TRANSFER    - at its bin, + at to_bin
 *   ADJUSTMENT  + its signed quantity at its bin
 *
 * The location is the bin (zone and LPN are not part of the key); the lot is empty when the
 * event carries none; units of measure are never converted. */
#ifndef WHAGENT_LEDGER_H
#define WHAGENT_LEDGER_H

#include "event.h"
#include "journal.h"

#define LEDGER_MAX_DELTAS 2

/* Fills out with ev's balance changes (borrowing ev's strings and staging) and returns how many
 * there are. staging: where picks without to_bin go and shipments without a bin come from. */
int ledger_deltas(const struct event *ev, const char *staging,
		  struct journal_delta out[LEDGER_MAX_DELTAS]);

#endif
