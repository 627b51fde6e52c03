/* Lanes: acknowledged ranges merge and move the watermark only over a contiguous prefix; they
 * survive a restart as text; a backfill drains beside the live lane within the shares of the
 * window; a batch never spans an acknowledged range. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lanes.h"

static void
test_ranges_and_watermark(void **state)
{
	struct lanes l;
	char text[256];

	(void)state;
	assert_int_equal(lanes_init(&l, 10, 8, 50), WH_OK);
	assert_int_equal(lanes_ack(&l, LANE_LIVE, 31, 40), 0); /* above a gap */
	assert_int_equal(lanes_ack(&l, LANE_LIVE, 51, 60), 0);
	assert_int_equal(lanes_ack(&l, LANE_LIVE, 41, 50), 0); /* joins both */
	assert_int_equal(l.nranges, 1);
	assert_int_equal(lanes_acked_above(&l), 30);
	assert_int_equal(lanes_ack(&l, LANE_BACKFILL, 21, 30), 0);
	assert_int_equal(l.acked, 10);
	lanes_format(&l, text, sizeof(text));
	assert_string_equal(text, "21-60");
	assert_int_equal(lanes_ack(&l, LANE_BACKFILL, 11, 20), 1); /* contiguous: all of it */
	assert_int_equal(l.acked, 60);
	assert_int_equal(l.nranges, 0);
	assert_int_equal(lanes_ack(&l, LANE_LIVE, 5, 9), 0); /* already below: nothing */
	lanes_done(&l);
}

static void
test_ranges_persist_as_text(void **state)
{
	struct lanes l;
	char text[256];

	(void)state;
	assert_int_equal(lanes_init(&l, 100, 8, 50), WH_OK);
	lanes_parse(&l, "50-60,120-130,140-150,bad", 100000);
	lanes_format(&l, text, sizeof(text));
	assert_string_equal(text, "120-130,140-150"); /* below the watermark: dropped */
	lanes_restart(&l);
	assert_int_equal(l.next[LANE_LIVE], 101);
	lanes_done(&l);
	assert_int_equal(lanes_init(&l, 100, 8, 50), WH_OK);
	lanes_parse(&l, "101-110", 100000);
	assert_int_equal(l.acked, 110);
	lanes_done(&l);
}

static void
test_backfill_beside_live(void **state)
{
	struct lanes l;
	enum lane lane;
	uint64_t from, max;
	int live = 0, back = 0;

	(void)state;
	assert_int_equal(lanes_init(&l, 0, 8, 25), WH_OK);
	lanes_parse(&l, "500-599", 100000); /* acknowledged before a restart */
	lanes_restart(&l);
	lanes_split(&l, 1000); /* 1..1000 is old: backfill */
	assert_true(lanes_backfilling(&l));
	/* the window fills: 2 live slots (25%), 6 backfill */
	while (lanes_next(&l, &lane, &from, &max)) {
		if (lane == LANE_BACKFILL) {
			assert_true(from <= 1000);
			if (from < 500)
				assert_true(from + max - 1 < 500); /* stops before the range */
			lanes_sent(&l, lane, from, from + (max < 100 ? max : 100) - 1, 1000);
			back++;
		} else {
			assert_true(from >= 1001);
			lanes_sent(&l, lane, from, from, 10);
			live++;
		}
	}
	assert_int_equal(live, 2);
	assert_int_equal(back, 6);
	assert_int_equal(l.next[LANE_BACKFILL], 700); /* 1-100 ... 401-499, 600-699 */
	/* the live lane's acks land above the backfill: the watermark waits for it */
	assert_int_equal(lanes_ack(&l, LANE_LIVE, 1001, 1001), 0);
	assert_int_equal(l.acked, 0);
	assert_int_equal(lanes_ack(&l, LANE_BACKFILL, 1, 100), 1);
	assert_int_equal(l.acked, 100);
	lanes_empty(&l, LANE_LIVE);
	assert_true(lanes_next(&l, &lane, &from, &max)); /* a live slot is free but idle */
	assert_int_equal(lane, LANE_BACKFILL);
	lanes_done(&l);
}

static void
test_no_backfill_when_all_sent(void **state)
{
	struct lanes l;
	enum lane lane;
	uint64_t from, max;

	(void)state;
	assert_int_equal(lanes_init(&l, 0, 4, 50), WH_OK);
	assert_true(lanes_next(&l, &lane, &from, &max));
	assert_int_equal(lane, LANE_LIVE);
	assert_int_equal(from, 1);
	assert_int_equal(max, UINT64_MAX);
	lanes_sent(&l, lane, 1, 50, 100);
	lanes_split(&l, 50); /* all of it is in flight already */
	assert_false(lanes_backfilling(&l));
	for (int i = 0; i < 3; i++) { /* the whole window is the live lane's */
		assert_true(lanes_next(&l, &lane, &from, &max));
		assert_int_equal(lane, LANE_LIVE);
		lanes_sent(&l, lane, from, from, 1);
	}
	assert_false(lanes_next(&l, &lane, &from, &max));
	lanes_done(&l);
}

/* Every seq the ranges and the watermark call acknowledged, checked one by one against what
 * was acknowledged: nothing unacknowledged may look acknowledged (it would never be sent, and
 * could be pruned). */
static void
assert_acked_within(const struct lanes *l, const int *really, uint64_t n)
{
	for (uint64_t seq = 1; seq < n; seq++) {
		int claimed = seq <= l->acked;

		for (int i = 0; i < l->nranges && !claimed; i++)
			claimed = seq >= l->ranges[i].first && seq <= l->ranges[i].last;
		if (claimed && !really[seq])
			fail_msg("seq %llu looks acknowledged but never was",
				 (unsigned long long)seq);
	}
}

static void
test_empty_and_single_ranges(void **state)
{
	struct lanes l;
	char text[256];

	(void)state;
	assert_int_equal(lanes_init(&l, 0, 4, 50), WH_OK);
	lanes_format(&l, text, sizeof(text));
	assert_string_equal(text, "");
	lanes_parse(&l, "", 100000);
	lanes_parse(&l, ",", 100000);
	assert_int_equal(l.nranges, 0);
	assert_int_equal(l.acked, 0);
	assert_int_equal(lanes_ack(&l, LANE_LIVE, 3, 3), 0); /* one seq, above a gap */
	assert_int_equal(lanes_ack(&l, LANE_LIVE, 9, 2), 0); /* inverted: nothing */
	lanes_format(&l, text, sizeof(text));
	assert_string_equal(text, "3-3");
	assert_int_equal(lanes_acked_above(&l), 1);
	assert_int_equal(lanes_ack(&l, LANE_LIVE, 2, 2), 0); /* joins it from below */
	assert_int_equal(lanes_ack(&l, LANE_LIVE, 1, 1), 1);
	assert_int_equal(l.acked, 3);
	assert_int_equal(l.nranges, 0);
	lanes_format(&l, text, sizeof(text));
	assert_string_equal(text, "");
	lanes_done(&l);
}

static void
test_ack_below_the_watermark(void **state)
{
	struct lanes l;

	(void)state;
	assert_int_equal(lanes_init(&l, 100, 4, 50), WH_OK);
	assert_int_equal(lanes_ack(&l, LANE_LIVE, 1, 100), 0); /* all of it: nothing moves */
	assert_int_equal(lanes_ack(&l, LANE_LIVE, 50, 50), 0);
	assert_int_equal(l.acked, 100);
	assert_int_equal(l.nranges, 0);
	assert_int_equal(lanes_ack(&l, LANE_LIVE, 90, 110), 1); /* straddles it: the part above */
	assert_int_equal(l.acked, 110);
	assert_int_equal(lanes_ack(&l, LANE_LIVE, 105, 130), 1);
	assert_int_equal(l.acked, 130);
	assert_int_equal(lanes_ack(&l, LANE_LIVE, 140, 150), 0);
	assert_int_equal(lanes_ack(&l, LANE_LIVE, 120, 135), 1); /* below, then into the gap */
	assert_int_equal(l.acked, 135);
	assert_int_equal(l.nranges, 1);
	assert_int_equal(l.ranges[0].first, 140);
	lanes_done(&l);
}

/* More disjoint ranges than the table holds: the call says so (the uplink then resends from
 * the watermark), the watermark never moves over a gap, the lowest ranges are kept, and once
 * the gaps are acknowledged the watermark moves over what is kept. */
static void
test_range_table_overflow(void **state)
{
	struct lanes l;
	int really[200] = {0};
	int overflowed = 0, cap;

	(void)state;
	assert_int_equal(lanes_init(&l, 0, 1, 50), WH_OK);
	cap = l.cap;
	for (uint64_t seq = 2; seq < 2 + 2 * ((uint64_t)cap + 3); seq += 2) { /* 2, 4, 6 ... */
		int rc = lanes_ack(&l, LANE_LIVE, seq, seq);

		really[seq] = 1;
		assert_true(rc == 0 || rc == -1);
		overflowed += rc == -1;
		assert_true(l.nranges <= cap);
		assert_int_equal(l.acked, 0);
		assert_acked_within(&l, really, 200);
	}
	assert_int_equal(overflowed, 3);
	assert_int_equal(l.nranges, cap); /* the table stays full: only the new ones are left */
	assert_int_equal(l.ranges[cap - 1].last, 2 * (uint64_t)cap);
	/* one in the middle, while full: kept, the highest gives way */
	assert_int_equal(lanes_ack(&l, LANE_LIVE, 5, 5), 0); /* merges 4-6: room again */
	really[5] = 1;
	assert_int_equal(l.nranges, cap - 1);
	assert_acked_within(&l, really, 200);
	lanes_restart(&l);
	assert_int_equal(l.next[LANE_LIVE], 1);
	for (uint64_t seq = 1; seq < 2 * (uint64_t)cap; seq += 2) {
		really[seq] = 1;
		lanes_ack(&l, LANE_LIVE, seq, seq);
		assert_acked_within(&l, really, 200);
	}
	assert_int_equal(l.acked, 2 * (uint64_t)cap);
	assert_int_equal(l.nranges, 0);
	lanes_done(&l);
}

/* acked_ranges as a previous run saved it, damaged: whatever it says, the watermark never moves
 * beyond a range that is written out in full or beyond the last journaled seq (1000 here), and
 * nothing malformed is taken. */
static void
test_restart_from_garbage(void **state)
{
	static const struct {
		const char *text, *kept;
		uint64_t acked;
	} cases[] = {
		{"101--1", "", 100},			  /* a negative number, not a huge one */
		{"-5-120", "", 100},			  /* the same, first */
		{"120-99999999999999999999999", "", 100}, /* beyond 64 bits */
		{"120-18446744073709551615", "", 100},	  /* no seq after it */
		{"120-130,xyz,140-150", "120-130", 100},  /* stops at the damage */
		{"120-130,,140-150", "120-130", 100},
		{"130-120", "", 100},
		{" 120-130", "", 100},
		{"+120-130", "", 100},
		{"120-130x", "", 100},
		{"120-130,", "120-130", 100},
		{"101-105,110-120", "110-120", 105},
		{"0-0,120-130", "120-130", 100},      /* at or below the watermark: dropped */
		{"120-130,900-1001", "120-130", 100}, /* beyond the last journaled seq */
		{"101-2000", "", 100},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lanes l;
		char text[256];

		assert_int_equal(lanes_init(&l, 100, 8, 50), WH_OK);
		lanes_parse(&l, cases[i].text, 1000);
		lanes_restart(&l);
		lanes_format(&l, text, sizeof(text));
		if (strcmp(text, cases[i].kept) != 0 || l.acked != cases[i].acked)
			fail_msg("'%s': kept '%s' acked %llu, want '%s' acked %llu", cases[i].text,
				 text, (unsigned long long)l.acked, cases[i].kept,
				 (unsigned long long)cases[i].acked);
		assert_int_equal(l.next[LANE_LIVE], cases[i].acked + 1);
		lanes_done(&l);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ranges_and_watermark),
		cmocka_unit_test(test_ranges_persist_as_text),
		cmocka_unit_test(test_backfill_beside_live),
		cmocka_unit_test(test_no_backfill_when_all_sent),
		cmocka_unit_test(test_empty_and_single_ranges),
		cmocka_unit_test(test_ack_below_the_watermark),
		cmocka_unit_test(test_range_table_overflow),
		cmocka_unit_test(test_restart_from_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
