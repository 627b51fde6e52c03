/* The ledger inside the journal: on-hand balances (changed in each event's transaction,
 * folded into their rows now and then), control totals per kind, and consistent snapshots
 * read in pages. ledger.h says which balances an event changes. */
#ifndef WHAGENT_JOURNAL_LEDGER_H
#define WHAGENT_JOURNAL_LEDGER_H

#include <stdint.h>

#include "err.h"

struct journal;

#define JOURNAL_KINDS	 6 /* control totals indexed by enum event_kind (1..5) */
#define JOURNAL_HASH_LEN 32

/* Control totals of one event kind: h(0) = zeros, h(n) = SHA-256(h(n-1) || event_id). */
struct journal_total {
	uint64_t count;
	int64_t qty_milli;
	uint8_t hash[JOURNAL_HASH_LEN];
};

/* What a snapshot holds besides its balance rows. */
struct journal_snapshot {
	uint64_t as_of_seq; /* balances and totals include exactly the events up to it */
	uint64_t from_seq;  /* the first seq the totals count */
	uint64_t rows;	    /* balance rows (those not zero) */
	struct journal_total totals[JOURNAL_KINDS];
};

/* A balance row of a snapshot; borrowed strings. */
struct journal_balance {
	const char *sku, *location, *lot, *uom;
	int64_t on_hand_milli;
	uint64_t last_seq;
};

/* Adds the balance changes appended since the last fold into the ledger's rows, in key order
 * and in a maintenance transaction of its own (outside any other: WH_ERR_BUSY), when at least
 * min_rows are waiting; *ret_folded is how many were. Balances read the same before and
 * after. */
wh_err journal_ledger_fold(struct journal *j, uint64_t min_rows, uint64_t *ret_folded);

/* Takes a consistent copy of the ledger (the balances not zero) and the control totals, for
 * reading in pages across loop turns while events keep being appended. Outside a transaction;
 * one snapshot at a time; end it with journal_snapshot_end. */
wh_err journal_snapshot_begin(struct journal *j, struct journal_snapshot *ret);
/* Reads up to max balance rows of the snapshot after row number after (0: from the start), in
 * (sku, location, lot, uom) order; *ret_last is the last row's number. */
wh_err journal_snapshot_page(struct journal *j, uint64_t after, int max,
			     void (*cb)(const struct journal_balance *b, void *arg), void *arg,
			     uint64_t *ret_last);
void journal_snapshot_end(struct journal *j);

#endif
