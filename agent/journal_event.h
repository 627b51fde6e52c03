/* The journal's store-and-forward: events appended with gapless sequence numbers and unique
 * source keys, read back in bounded pages, the acknowledgement watermarks and pruning. */
#ifndef WHAGENT_JOURNAL_EVENT_H
#define WHAGENT_JOURNAL_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "ledger.h"

struct journal;

/* An event to append; every pointer is borrowed for the call. */
struct journal_event {
	const char *source;
	const char *source_key;
	int kind;
	int64_t captured_at_ms;
	const uint8_t *payload; /* encoded with seq = journal_next_seq() */
	size_t len;
	/* For the ledger and the control totals (NULL event_id: neither is touched). */
	const uint8_t *event_id; /* JOURNAL_HASH_LEN bytes */
	int64_t qty_milli;
	const struct ledger_delta *deltas;
	int ndeltas;
};

/* Inside a write transaction: the seq the next new event gets. */
uint64_t journal_next_seq(const struct journal *j);
/* Inside a write transaction, appends ev. *ret_seq is its seq; if (source, source_key) is
 * already journaled, nothing is stored, *ret_dup is 1 and *ret_seq the original's seq. */
wh_err journal_append(struct journal *j, const struct journal_event *ev, uint64_t *ret_seq,
		      int *ret_dup);

/* Reads events with seq > after_seq in order, at most max_events and (after the first) at most
 * max_bytes of payload; cb gets borrowed bytes. *ret_count is how many were read. */
typedef void (*journal_page_cb)(uint64_t seq, const uint8_t *payload, size_t len, void *arg);
wh_err journal_read_page(struct journal *j, uint64_t after_seq, int max_events, size_t max_bytes,
			 journal_page_cb cb, void *arg, int *ret_count);
/* The oldest seq still held, 0 when the journal holds no event. */
wh_err journal_first_seq(struct journal *j, uint64_t *ret_seq);

/* Raises the acknowledged watermark to through (never lowers it, never past last_seq). */
wh_err journal_ack(struct journal *j, uint64_t through);
/* Raises the platform's watermark to through (never lowers it, never past last_seq). */
wh_err journal_platform_ack(struct journal *j, uint64_t through);
/* Deletes acknowledged events by seq range, never past limit (the platform's watermark with
 * ack_mode = platform, else UINT64_MAX), from the oldest up to the first one captured at or
 * after cutoff_ms (the retention window; one stamped further ahead of now than cutoff_ms is
 * behind, by a clock that was wrong, does not count), and returns the freed pages to the file
 * system. *ret_deleted (may be NULL) is how many. */
wh_err journal_prune_retained(struct journal *j, int64_t cutoff_ms, uint64_t limit,
			      int64_t *ret_deleted);

#endif
