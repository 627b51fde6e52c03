/* Which events the uplink sends next, on which lane, and what is acknowledged. When the backlog
 * is old, it drains on the backfill lane while new events go out on the live lane, each with a
 * share of the window and of the bytes sent, so the newest events are not held behind days of
 * backlog. Acknowledgements then arrive for ranges that are not contiguous: the watermark moves
 * over the contiguous prefix and the acknowledged ranges above it are kept compactly (and
 * persisted as text), never by rewriting event rows. Pure bookkeeping: no I/O. */
#ifndef WHAGENT_LANES_H
#define WHAGENT_LANES_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum lane { LANE_LIVE, LANE_BACKFILL, LANE_COUNT };

struct lanes_range {
	uint64_t first, last;
};

struct lanes {
	uint64_t acked;		    /* every seq up to it is acknowledged */
	struct lanes_range *ranges; /* acknowledged above acked + 1: sorted, disjoint, apart */
	int nranges, cap;
	uint64_t next[LANE_COUNT];  /* the next seq to send on each lane */
	uint64_t backfill_end;	    /* the backfill lane sends up to it; 0: no backfill */
	int inflight[LANE_COUNT];   /* batches sent, not acknowledged */
	uint64_t bytes[LANE_COUNT]; /* sent since the backfill began, for the shares */
	int idle[LANE_COUNT];	    /* found nothing to send since the last lanes_wake */
	int window, live_share_pct;
};

/* window: batches in flight at most (both lanes); live_share_pct: what the live lane keeps of
 * the window and of the bytes while a backfill drains. Caller frees with lanes_done. */
wh_err lanes_init(struct lanes *l, uint64_t acked, int window, int live_share_pct);
void lanes_done(struct lanes *l);

/* Acknowledged ranges above the watermark as text ("first-last,..."), and back. Ranges at or
 * below the watermark are ignored; parsing stops at the first item that is not two decimal
 * seqs (digits only, below 2^64 - 1, first <= last) or that reaches beyond last_seq (the last
 * journaled seq: what was never journaled cannot have been acknowledged), keeping the ranges
 * before it. */
void lanes_format(const struct lanes *l, char *buf, size_t len);
void lanes_parse(struct lanes *l, const char *text, uint64_t last_seq);

/* A new connection: everything not acknowledged is sent again, from the watermark, on the
 * live lane; any backfill ends. */
void lanes_restart(struct lanes *l);
/* Everything not yet sent up to last_seq drains on the backfill lane; what comes after goes
 * out on the live lane. Nothing happens when all of it was sent already. */
void lanes_split(struct lanes *l, uint64_t last_seq);
/* 1 while a backfill is sending or waiting for its acknowledgements. */
int lanes_backfilling(const struct lanes *l);
/* New events were journaled: the live lane may have something to send again. */
void lanes_wake(struct lanes *l);

/* The lane to send on now (the window and the shares allow it and it is not idle): 1 and
 * *ret_lane, *ret_from (its next seq) and *ret_max (events at most: up to the next acknowledged
 * range or the end of the backfill); 0 when none. */
int lanes_next(struct lanes *l, enum lane *ret_lane, uint64_t *ret_from, uint64_t *ret_max);
/* A batch first..last of bytes went out on lane. */
void lanes_sent(struct lanes *l, enum lane lane, uint64_t first, uint64_t last, size_t bytes);
/* Nothing was there to send on lane (live: caught up; backfill: nothing left). */
void lanes_empty(struct lanes *l, enum lane lane);
/* The batch first..last sent on lane was acknowledged. Returns 1 when the watermark moved,
 * 0 when not, -1 when the ranges overflowed (then call lanes_restart: resend). */
int lanes_ack(struct lanes *l, enum lane lane, uint64_t first, uint64_t last);
/* Events acknowledged above the watermark. */
uint64_t lanes_acked_above(const struct lanes *l);

#endif
