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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_page_escapes),
		cmocka_unit_test(test_hours),
		cmocka_unit_test(test_clock_jump),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
