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
	lanes_parse(&l, "50-60,120-130,140-150,bad");
	lanes_format(&l, text, sizeof(text));
	assert_string_equal(text, "120-130,140-150"); /* below the watermark: dropped */
	lanes_restart(&l);
	assert_int_equal(l.next[LANE_LIVE], 101);
	lanes_done(&l);
	assert_int_equal(lanes_init(&l, 100, 8, 50), WH_OK);
	lanes_parse(&l, "101-110");
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
	lanes_parse(&l, "500-599"); /* acknowledged before a restart */
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ranges_and_watermark),
		cmocka_unit_test(test_ranges_persist_as_text),
		cmocka_unit_test(test_backfill_beside_live),
		cmocka_unit_test(test_no_backfill_when_all_sent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
