/* Lanes and acknowledged ranges (see lanes.h). */
#include "lanes.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

wh_err
lanes_init(struct lanes *l, uint64_t acked, int window, int live_share_pct)
{
	memset(l, 0, sizeof(*l));
	/* every gap between ranges is a batch in flight or the seqs between the lanes, and
	 * ranges persisted by the previous run add at most as many again */
	l->cap = 2 * window + 8;
	l->ranges = wh_calloc((size_t)l->cap, sizeof(*l->ranges));
	if (l->ranges == NULL)
		return WH_ERR_NOMEM;
	l->acked = acked;
	l->window = window;
	l->live_share_pct = live_share_pct;
	lanes_restart(l);
	return WH_OK;
}

void
lanes_done(struct lanes *l)
{
	wh_free(l->ranges);
	l->ranges = NULL;
}

/* The first seq from `from` on that is not acknowledged, and how many follow it before the
 * next acknowledged range (UINT64_MAX: no range above). */
static uint64_t
unacked_from(const struct lanes *l, uint64_t from, uint64_t *ret_room)
{
	if (from <= l->acked)
		from = l->acked + 1;
	for (int i = 0; i < l->nranges; i++) {
		if (from < l->ranges[i].first) {
			*ret_room = l->ranges[i].first - from;
			return from;
		}
		if (from <= l->ranges[i].last)
			from = l->ranges[i].last + 1;
	}
	*ret_room = UINT64_MAX;
	return from;
}

static void
remove_range(struct lanes *l, int i)
{
	memmove(&l->ranges[i], &l->ranges[i + 1],
		(size_t)(l->nranges - i - 1) * sizeof(*l->ranges));
	l->nranges--;
}

/* Adds first..last to the ranges, merging neighbours, then moves the watermark over a range
 * that now starts right after it. -1 when the ranges are full (the highest one, old or new, is
 * left out). An inverted range is nothing. */
static int
add_range(struct lanes *l, uint64_t first, uint64_t last)
{
	int i = 0, full = 0;

	if (last <= l->acked || first > last)
		return 0;
	if (first <= l->acked)
		first = l->acked + 1;
	while (i < l->nranges && l->ranges[i].last + 1 < first)
		i++;
	if (i < l->nranges && l->ranges[i].first <= last + 1) {
		if (first < l->ranges[i].first)
			l->ranges[i].first = first;
		if (last > l->ranges[i].last)
			l->ranges[i].last = last;
		while (i + 1 < l->nranges && l->ranges[i + 1].first <= l->ranges[i].last + 1) {
			if (l->ranges[i + 1].last > l->ranges[i].last)
				l->ranges[i].last = l->ranges[i + 1].last;
			remove_range(l, i + 1);
		}
	} else {
		if (l->nranges == l->cap) {
			if (i == l->nranges)
				return -1; /* the new range is the highest: it is left out */
			l->nranges--;
			full = 1;
		}
		memmove(&l->ranges[i + 1], &l->ranges[i],
			(size_t)(l->nranges - i) * sizeof(*l->ranges));
		l->ranges[i] = (struct lanes_range){first, last};
		l->nranges++;
	}
	if (l->nranges > 0 && l->ranges[0].first == l->acked + 1) {
		l->acked = l->ranges[0].last;
		remove_range(l, 0);
	}
	return full ? -1 : 0;
}

void
lanes_format(const struct lanes *l, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < l->nranges && used < len; i++) {
		int n = snprintf(buf + used, len - used, "%s%" PRIu64 "-%" PRIu64, i ? "," : "",
				 l->ranges[i].first, l->ranges[i].last);

		if (n < 0 || (size_t)n >= len - used) {
			buf[used] = '\0'; /* a range left out is only resent */
			break;
		}
		used += (size_t)n;
	}
}

/* A seq as lanes_format writes it: digits only (strtoull would take a sign, or blanks, and
 * turn "-1" into 2^64 - 1), within 64 bits and with a seq after it. */
static int
parse_seq(const char *p, char **ret_end, uint64_t *ret_seq)
{
	unsigned long long v;

	if (*p < '0' || *p > '9')
		return -1;
	errno = 0;
	v = strtoull(p, ret_end, 10);
	if (errno == ERANGE || v >= UINT64_MAX)
		return -1;
	*ret_seq = v;
	return 0;
}

void
lanes_parse(struct lanes *l, const char *text, uint64_t last_seq)
{
	const char *p = text;

	while (p != NULL && *p != '\0') {
		char *end;
		uint64_t first, last;

		if (parse_seq(p, &end, &first) != 0 || *end != '-')
			return;
		p = end + 1;
		if (parse_seq(p, &end, &last) != 0 || (*end != ',' && *end != '\0') ||
		    last < first || last > last_seq)
			return;
		if (add_range(l, first, last) != 0)
			return;
		p = *end == ',' ? end + 1 : end;
	}
}

void
lanes_restart(struct lanes *l)
{
	uint64_t room;

	l->next[LANE_LIVE] = unacked_from(l, l->acked + 1, &room);
	l->next[LANE_BACKFILL] = 0;
	l->backfill_end = 0;
	memset(l->inflight, 0, sizeof(l->inflight));
	memset(l->idle, 0, sizeof(l->idle));
}

void
lanes_split(struct lanes *l, uint64_t last_seq)
{
	uint64_t room;

	if (last_seq < l->next[LANE_LIVE] || lanes_backfilling(l))
		return;
	l->next[LANE_BACKFILL] = l->next[LANE_LIVE];
	l->backfill_end = last_seq;
	l->next[LANE_LIVE] = unacked_from(l, last_seq + 1, &room);
	memset(l->bytes, 0, sizeof(l->bytes));
	l->idle[LANE_BACKFILL] = 0;
}

int
lanes_backfilling(const struct lanes *l)
{
	return l->backfill_end != 0 && l->acked < l->backfill_end;
}

void
lanes_wake(struct lanes *l)
{
	l->idle[LANE_LIVE] = 0;
}

/* Slots of the window lane may fill: while the backfill sends, each lane keeps its share. */
static int
slots(const struct lanes *l, enum lane lane)
{
	int live = l->window * l->live_share_pct / 100;

	if (live < 1)
		live = 1;
	if (l->backfill_end == 0 || l->idle[LANE_BACKFILL] ||
	    l->next[LANE_BACKFILL] > l->backfill_end)
		return lane == LANE_LIVE ? l->window : 0;
	if (lane == LANE_LIVE)
		return live;
	return l->window - live < 1 ? 1 : l->window - live;
}

static int
can_send(const struct lanes *l, enum lane lane)
{
	return !l->idle[lane] && l->inflight[lane] < slots(l, lane) &&
	       l->inflight[LANE_LIVE] + l->inflight[LANE_BACKFILL] < l->window;
}

int
lanes_next(struct lanes *l, enum lane *ret_lane, uint64_t *ret_from, uint64_t *ret_max)
{
	int live = can_send(l, LANE_LIVE), back = can_send(l, LANE_BACKFILL);
	enum lane lane;
	uint64_t from, room;

	if (live && back) /* both: the one furthest below its share of the bytes */
		lane = l->bytes[LANE_LIVE] * (uint64_t)(100 - l->live_share_pct) <=
				       l->bytes[LANE_BACKFILL] * (uint64_t)l->live_share_pct
			       ? LANE_LIVE
			       : LANE_BACKFILL;
	else if (live || back)
		lane = live ? LANE_LIVE : LANE_BACKFILL;
	else
		return 0;
	from = unacked_from(l, l->next[lane], &room);
	if (lane == LANE_BACKFILL) {
		if (from > l->backfill_end) {
			l->next[lane] = from;
			return lanes_next(l, ret_lane, ret_from, ret_max);
		}
		if (room > l->backfill_end - from + 1)
			room = l->backfill_end - from + 1;
	}
	l->next[lane] = from;
	*ret_lane = lane;
	*ret_from = from;
	*ret_max = room;
	return 1;
}

void
lanes_sent(struct lanes *l, enum lane lane, uint64_t first, uint64_t last, size_t bytes)
{
	(void)first;
	l->next[lane] = last + 1;
	l->inflight[lane]++;
	l->bytes[lane] += bytes;
}

void
lanes_empty(struct lanes *l, enum lane lane)
{
	l->idle[lane] = 1;
	if (lane == LANE_BACKFILL)
		l->next[lane] = l->backfill_end + 1;
}

int
lanes_ack(struct lanes *l, enum lane lane, uint64_t first, uint64_t last)
{
	uint64_t before = l->acked;
	int rc;

	if (l->inflight[lane] > 0)
		l->inflight[lane]--;
	rc = add_range(l, first, last);
	if (rc < 0)
		return -1;
	if (l->backfill_end != 0 && l->acked >= l->backfill_end)
		l->backfill_end = 0; /* the backfill is complete */
	return l->acked != before;
}

uint64_t
lanes_acked_above(const struct lanes *l)
{
	uint64_t n = 0;

	for (int i = 0; i < l->nranges; i++)
		n += l->ranges[i].last - l->ranges[i].first + 1;
	return n;
}
