/* The status page and health without the daemon: everything from outside is HTML-escaped in
 * the page (a quarantine reason and raw record carrying <script>), operating hours parse and
 * hold in a zone, a wall-clock step against the monotonic clock is a jump, small drift is
 * not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "conf.h"
#include "health.h"
#include "hours.h"
#include "intake.h"
#include "mem.h"
#include "page.h"

static void
test_escape(void **state)
{
	char *s = page_escape("a<b>&\"c'");

	(void)state;
	assert_string_equal(s, "a&lt;b&gt;&amp;&quot;c&#39;");
	wh_free(s);
}

static void
test_page_escapes(void **state)
{
	cJSON *d = cJSON_CreateObject(), *q = cJSON_AddArrayToObject(d, "quarantine");
	cJSON *e = cJSON_CreateObject(), *al = cJSON_AddArrayToObject(d, "alarms");
	cJSON *a = cJSON_CreateObject();
	char *html;

	(void)state;
	cJSON_AddStringToObject(d, "site_id", "S<1>");
	cJSON_AddStringToObject(d, "state", "in sync");
	cJSON_AddStringToObject(d, "mqtt", "connected");
	cJSON_AddStringToObject(d, "mqtt_last_error", "<img src=x onerror=alert(3)>");
	cJSON_AddNumberToObject(e, "id", 7);
	cJSON_AddStringToObject(e, "input", "http");
	cJSON_AddStringToObject(e, "position", "POST /v1/events from 127.0.0.1, record 2");
	cJSON_AddStringToObject(e, "reason",
				"column qty: '<script>alert(1)</script>' is not a number");
	cJSON_AddStringToObject(e, "raw", "{\"qty\":\"<script>alert(2)</script>\"}");
	cJSON_AddItemToArray(q, e);
	cJSON_AddStringToObject(a, "name", "silence:<x>");
	cJSON_AddStringToObject(a, "text", "no record \"quoted\"");
	cJSON_AddItemToArray(al, a);
	html = page_render(d);
	assert_non_null(html);
	assert_null(strstr(html, "<script>alert"));
	assert_null(strstr(html, "<img"));
	assert_null(strstr(html, "S<1>"));
	assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_non_null(strstr(html, "&lt;script&gt;alert(2)&lt;/script&gt;"));
	assert_non_null(strstr(html, "data-name=\"silence:&lt;x&gt;\""));
	assert_non_null(strstr(html, "no record &quot;quoted&quot;"));
	/* the page's own script is there, once, and is the only one */
	assert_non_null(strstr(html, "<script>/* whagent status page"));
	assert_null(strstr(strstr(html, "<script>/* whagent status page") + 1, "<script"));
	wh_free(html);
	/* out of memory at every allocation of the page: NULL, nothing leaked (valgrind, ASan) */
	for (long n = 1;; n++) {
		wh_mem_fail_at(n);
		html = page_render(d);
		wh_mem_fail_at(0);
		if (html != NULL) {
			assert_true(n > 1);
			wh_free(html);
			break;
		}
	}
	wh_mem_fail_at(1);
	assert_null(page_escape("<"));
	wh_mem_fail_at(0);
	cJSON_Delete(d);
}

static void
test_hours(void **state)
{
	struct hours h;
	char why[128];
	/* 2026-12-02 was a Wednesday; 10:00 UTC is 11:00 in Berlin */
	int64_t wed10 = 1796205600000LL;

	(void)state;
	assert_int_equal(hours_parse("", &h, why, sizeof(why)), 0);
	assert_int_equal(h.n, 0);
	assert_true(hours_inside(&h, "UTC", wed10));
	assert_int_equal(hours_parse("Mon-Fri 06:00-22:00; Sat 08:00-12:00", &h, why, sizeof(why)),
			 0);
	assert_int_equal(h.n, 2);
	assert_true(hours_inside(&h, "UTC", wed10));
	assert_false(hours_inside(&h, "UTC", wed10 - 5 * 3600000LL)); /* 05:00 */
	assert_true(hours_inside(&h, "UTC", wed10 + 3 * 86400000LL)); /* Saturday 10:00 */
	assert_false(hours_inside(&h, "UTC", wed10 + 3 * 86400000LL + 3 * 3600000LL)); /* 13:00 */
	assert_false(hours_inside(&h, "UTC", wed10 + 4 * 86400000LL));		       /* Sunday */
	assert_int_equal(hours_parse("Wed 10:30-11:30", &h, why, sizeof(why)), 0);
	assert_false(hours_inside(&h, "UTC", wed10));
	assert_true(hours_inside(&h, "Europe/Berlin", wed10)); /* 11:00 there */
	assert_int_equal(hours_parse("Tue 22:00-06:00", &h, why, sizeof(why)), 0);
	assert_true(hours_inside(&h, "UTC", wed10 - 5 * 3600000LL)); /* Wed 05:00: past midnight */
	assert_false(hours_inside(&h, "UTC", wed10));
	assert_int_equal(hours_parse("* 00:00-24:00", &h, why, sizeof(why)), 0);
	assert_true(hours_inside(&h, "UTC", wed10));
	assert_int_equal(hours_parse("Mon-Fry 06:00-22:00", NULL, why, sizeof(why)), -1);
	assert_int_equal(hours_parse("Mon 6:00-22:00", NULL, why, sizeof(why)), -1);
	assert_int_equal(hours_parse("Mon 06:00-25:00", NULL, why, sizeof(why)), -1);
	assert_int_equal(hours_parse("Mon 06:00-22:00,", NULL, why, sizeof(why)), -1);
}

static void
test_clock_jump(void **state)
{
	struct conf c;
	struct health *h;
	int64_t d;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.health.clock_jump_ms = 2000;
	c.health.history_sample_s = 60;
	wh_mem_fail_at(1);
	assert_int_equal(health_new(&c, &h), WH_ERR_NOMEM);
	wh_mem_fail_at(0);
	assert_int_equal(health_new(&c, &h), WH_OK);
	assert_int_equal(health_clock_step(h, 1000000, 500, &d), 0);
	assert_int_equal(health_clock_step(h, 1001000, 1500, &d), 0); /* in step */
	assert_int_equal(d, 0);
	assert_int_equal(health_clock_step(h, 1002500, 2000, &d), 0); /* 1 s of drift */
	assert_int_equal(health_clock_step(h, 1009000, 3000, &d), 1); /* stepped 5.5 s ahead */
	assert_int_equal(d, 5500);
	assert_int_equal(health_clock_step(h, 1000000, 4000, &d), 1); /* and back */
	assert_int_equal(d, -10000);
	{
		struct health_clock ck;

		health_clock(h, &ck);
		assert_int_equal(ck.jumps, 2);
		assert_int_equal(ck.last_jump_delta_ms, -10000);
	}
	health_free(h);
}

static int
has_alarm(const struct health *h, const char *name)
{
	const struct health_alarm *a;

	for (int i = 0; (a = health_alarm_at(h, i)) != NULL; i++)
		if (strcmp(a->name, name) == 0)
			return 1;
	return 0;
}

/* The ack stall is raised once batches wait ack_stall_s with the link up, asks for one
 * reconnect, stays through the reconnect and clears at the next acknowledgement; /healthz
 * says why. */
static void
test_ack_stall(void **state)
{
	struct conf c;
	struct health *h;
	struct health_facts f = {.uplink = 1, .connected = 1, .inflight = 2, .acks = 5};
	char why[400];
	cJSON *o;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.health.ack_stall_s = 2;
	c.health.clock_jump_ms = 2000;
	c.health.history_sample_s = 60;
	assert_int_equal(health_new(&c, &h), WH_OK);
	f.stalled_ms = 1999;
	assert_int_equal(health_tick(h, &f), 0);
	assert_false(has_alarm(h, "ack_stall"));
	assert_int_equal(health_unhealthy(h, why, sizeof(why)), 0);
	f.stalled_ms = 2000;
	assert_int_equal(health_tick(h, &f), 1);
	assert_true(has_alarm(h, "ack_stall"));
	assert_non_null(strstr(health_stall_text(h), "2 batches in flight"));
	assert_int_equal(health_unhealthy(h, why, sizeof(why)), 1);
	assert_non_null(strstr(why, "ack_stall: "));
	f.connected = 0, f.inflight = 0, f.stalled_ms = 0; /* reconnecting */
	assert_int_equal(health_tick(h, &f), 0);
	assert_true(has_alarm(h, "ack_stall"));
	f.connected = 1, f.acks = 6; /* acknowledged again */
	assert_int_equal(health_tick(h, &f), 0);
	assert_false(has_alarm(h, "ack_stall"));
	c.health.ack_stall_s = 0; /* off */
	f.inflight = 1, f.stalled_ms = 1000000;
	assert_int_equal(health_tick(h, &f), 0);
	assert_false(has_alarm(h, "ack_stall"));
	/* the journal refusing, and the document */
	f.journal_refuses = "full";
	health_tick(h, &f);
	assert_true(has_alarm(h, "journal"));
	o = cJSON_CreateObject();
	assert_int_equal(health_json(h, o, 1), WH_OK);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "alarms")),
			 health_alarm_count(h));
	assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "history"), "backlog"));
	assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "clock"), "boot_id"));
	cJSON_Delete(o);
	health_free(h);
}

/* An input with silence_alarm_s inside hours that exclude now is never silent; its counts and
 * flagged event times reach the document and the event_time alarm. */
static void
test_inputs(void **state)
{
	static char http[] = "http", never[] = "Mon 00:00-00:01", tz[] = "UTC";
	struct conf c;
	struct health *h;
	struct intake in;
	const struct intake *list[1] = {&in};
	struct health_facts f = {0};
	cJSON *o, *x;

	(void)state;
	memset(&c, 0, sizeof(c));
	memset(&in, 0, sizeof(in));
	c.health.clock_jump_ms = 2000;
	c.health.history_sample_s = 60;
	c.http.silence_alarm_s = 1;
	c.http.operating_hours = never;
	c.http.timezone = tz;
	in.input = http;
	assert_int_equal(health_new(&c, &h), WH_OK);
	health_set_inputs(h, list, 1);
	in.total.taken[EVENT_PICK] = 3;
	in.total.time_ahead = 1;
	health_tick(h, &f);
	assert_true(has_alarm(h, "event_time"));
	o = cJSON_CreateObject();
	assert_int_equal(health_json(h, o, 0), WH_OK);
	x = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "inputs"), 0);
	assert_string_equal(cJSON_GetObjectItem(x, "name")->valuestring, "http");
	assert_int_equal(cJSON_GetObjectItem(x, "taken")->valueint, 3);
	assert_int_equal(cJSON_GetObjectItem(x, "event_time_flagged")->valueint, 1);
	cJSON_Delete(o);
	health_set_inputs(h, NULL, 0);
	health_free(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),	  cmocka_unit_test(test_page_escapes),
		cmocka_unit_test(test_hours),	  cmocka_unit_test(test_clock_jump),
		cmocka_unit_test(test_ack_stall), cmocka_unit_test(test_inputs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
