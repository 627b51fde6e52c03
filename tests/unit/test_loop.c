/* Event loop timers: no limit on how many, each due timer fires once a turn (also one that
 * re-arms itself at once), and a timer deleted by another's callback does not fire. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "loop.h"

struct counted {
	struct loop *l;
	struct loop_timer t;
	struct loop_timer *other; /* deleted when this one fires */
	int fired;
	int rearm; /* re-arm at once, stopping the loop after this many */
};

static void
on_fire(void *arg)
{
	struct counted *c = arg;

	c->fired++;
	if (c->other != NULL)
		loop_timer_del(c->l, c->other);
	if (c->rearm > 0) {
		if (c->fired < c->rearm)
			loop_timer_arm(&c->t, 0);
		else
			loop_stop(c->l);
	}
}

static void
on_stop(void *arg)
{
	loop_stop(arg);
}

static struct loop *
new_loop(void)
{
	struct loop *l = NULL;

	assert_int_equal(loop_new(&l), WH_OK);
	return l;
}

/* Many more timers than the agent has ever had: all of them fire, once. */
static void
test_many_timers(void **state)
{
	struct counted c[64] = {0};
	struct loop *l = new_loop();
	struct loop_timer stop;

	(void)state;
	for (int i = 0; i < 64; i++) {
		c[i].l = l;
		loop_timer_add(l, &c[i].t, on_fire, &c[i]);
		loop_timer_arm(&c[i].t, 0);
	}
	loop_timer_add(l, &stop, on_stop, l);
	loop_timer_arm(&stop, 5);
	loop_run(l);
	for (int i = 0; i < 64; i++)
		assert_int_equal(c[i].fired, 1);
	for (int i = 0; i < 64; i++)
		loop_timer_del(l, &c[i].t);
	loop_timer_del(l, &stop);
	loop_free(l);
}

/* Two due timers that delete each other: whichever fires first, the other does not. */
static void
test_delete_from_callback(void **state)
{
	struct counted a = {0}, b = {0};
	struct loop *l = new_loop();
	struct loop_timer stop;

	(void)state;
	a.l = b.l = l;
	a.other = &b.t;
	b.other = &a.t;
	loop_timer_add(l, &a.t, on_fire, &a);
	loop_timer_add(l, &b.t, on_fire, &b);
	loop_timer_arm(&a.t, 0);
	loop_timer_arm(&b.t, 0);
	loop_timer_add(l, &stop, on_stop, l);
	loop_timer_arm(&stop, 5);
	loop_run(l);
	assert_int_equal(a.fired + b.fired, 1);
	loop_timer_del(l, &a.t); /* deleting again is harmless */
	loop_timer_del(l, &b.t);
	loop_timer_del(l, &stop);
	loop_free(l);
}

/* A timer that re-arms itself at 0 ms fires once a turn, so the loop goes on to the others
 * (here one that does the same and stops the loop on its third turn). */
static void
test_rearm_at_once_fires_once_a_turn(void **state)
{
	struct counted r = {.rearm = 1000}, s = {.rearm = 3};
	struct loop *l = new_loop();

	(void)state;
	r.l = s.l = l;
	loop_timer_add(l, &r.t, on_fire, &r);
	loop_timer_add(l, &s.t, on_fire, &s);
	loop_timer_arm(&r.t, 0);
	loop_timer_arm(&s.t, 0);
	loop_run(l);
	assert_int_equal(s.fired, 3);
	assert_true(r.fired == 2 || r.fired == 3); /* one per turn, before or after s */
	loop_timer_del(l, &r.t);
	loop_timer_del(l, &s.t);
	loop_free(l);
}

/* A timer registered twice is in the list once (twice, the list would be a cycle). */
static void
test_add_twice(void **state)
{
	struct counted a = {0};
	struct loop *l = new_loop();
	struct loop_timer stop;

	(void)state;
	a.l = l;
	loop_timer_add(l, &a.t, on_fire, &a);
	loop_timer_add(l, &stop, on_stop, l);
	loop_timer_add(l, &a.t, on_fire, &a);
	loop_timer_arm(&a.t, 0);
	loop_timer_arm(&stop, 5);
	loop_run(l);
	assert_int_equal(a.fired, 1);
	loop_timer_del(l, &a.t);
	loop_timer_del(l, &stop);
	loop_free(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_timers),
		cmocka_unit_test(test_delete_from_callback),
		cmocka_unit_test(test_rearm_at_once_fires_once_a_turn),
		cmocka_unit_test(test_add_twice),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
