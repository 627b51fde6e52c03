/* Checking a journal file and reading back what can be read of a damaged one, each with a
 * connection of its own (this must work when journal_open cannot), and carrying its
 * ledger's balances into a fresh journal. salvage.c drives it. */
#ifndef WHAGENT_JOURNAL_SALVAGE_H
#define WHAGENT_JOURNAL_SALVAGE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "journal_quarantine.h"

struct journal;

/* Runs SQLite's quick_check on the journal at path (if it exists). WH_ERR_CORRUPT with the
 * first problem in why when it fails; WH_OK for a sound or missing file. */
wh_err journal_check(const char *path, char *why, size_t whylen);

/* A row read back from a damaged journal file. */
struct journal_salvaged {
	uint64_t seq;
	const char *source, *source_key;
	int kind;
	int64_t captured_at_ms;
	const uint8_t *payload;
	size_t len;
};

struct journal_salvage_counts {
	uint64_t events, quarantined; /* rows read */
	uint64_t acked_through;	      /* the damaged journal's watermark, 0 if unreadable */
	int read_errors;	      /* scans that stopped on damage */
};

/* Reads what can be read from the damaged journal file at path: events after its watermark,
 * in seq order (forwards, then backwards from the end past a damaged stretch), and the
 * quarantine. cb_event and cb_quarantine get borrowed rows. */
wh_err journal_salvage_read(const char *path,
			    wh_err (*cb_event)(const struct journal_salvaged *e, void *arg),
			    wh_err (*cb_quarantine)(const struct journal_quarantined *q, void *arg),
			    void *arg, struct journal_salvage_counts *ret);

/* Inside a write transaction of j: adds the balances of the damaged journal at path (its
 * ledger already counts the events salvaged into this one) and starts the control totals at
 * the next seq; all of its ledger or none. WH_ERR_CORRUPT when its ledger cannot be read
 * (balances then restart at zero). */
wh_err journal_ledger_take(struct journal *j, const char *path, uint64_t *ret_rows);

#endif
