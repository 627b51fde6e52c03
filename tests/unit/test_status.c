/* The live part of the status: "disabled" without a broker; "stopped" when the agent is not
 * running, with its last connection and error as it left them; "connecting" for an agent that
 * has not published yet (the previous run's error then shown, never as current); the
 * running agent's own state otherwise. In the JSON: the error's time and whether it is
 * current. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "conf.h"
#include "journal.h"
#include "journal_meta.h"
#include "livestate.h"
#include "platform.h"
#include "status.h"

static char host[] = "broker.example", none[] = "", site[] = "S1";

static struct livestate
published(long pid, const char *mqtt, int current)
{
	struct livestate ls = {.pid = pid,
			       .since_ms = 2000,
			       .last_connect_ms = 1500,
			       .last_error_ms = 1000,
			       .error_current = current,
			       .inflight = 3,
			       .backfill_through = 77};

	snprintf(ls.mqtt, sizeof(ls.mqtt), "%s", mqtt);
	snprintf(ls.last_error, sizeof(ls.last_error), "bad user name or password");
	return ls;
}

static void
test_link_states(void **state)
{
	struct conf c = {.agent.site_id = site, .mqtt.host = host};
	struct livestate ls;
	struct status_live lv;

	(void)state;
	memset(&lv, 0, sizeof(lv)); /* running, this agent's own state */
	lv.running = 1;
	lv.pid = 42;
	ls = published(42, "connected", 0);
	status_set_link(&c, &ls, &lv);
	assert_string_equal(lv.mqtt, "connected");
	assert_int_equal(lv.mqtt_since_ms, 2000);
	assert_string_equal(lv.last_error, "bad user name or password");
	assert_int_equal(lv.last_error_ms, 1000);
	assert_int_equal(lv.error_current, 0);
	assert_int_equal(lv.inflight, 3);
	assert_int_equal(lv.backfill_through, 77);

	memset(&lv, 0, sizeof(lv)); /* running, failing */
	lv.running = 1;
	lv.pid = 42;
	ls = published(42, "disconnected", 1);
	status_set_link(&c, &ls, &lv);
	assert_string_equal(lv.mqtt, "disconnected");
	assert_int_equal(lv.error_current, 1);

	memset(&lv, 0, sizeof(lv)); /* just started: the file is the previous run's */
	lv.running = 1;
	lv.pid = 43;
	status_set_link(&c, &ls, &lv);
	assert_string_equal(lv.mqtt, "connecting");
	assert_string_equal(lv.last_error, "bad user name or password");
	assert_int_equal(lv.error_current, 0);
	assert_int_equal(lv.inflight, 0);
	assert_int_equal(lv.backfill_through, 0);
	memset(&lv, 0, sizeof(lv)); /* started, nothing published at all */
	lv.running = 1;
	lv.pid = 43;
	status_set_link(&c, NULL, &lv);
	assert_string_equal(lv.mqtt, "connecting");
	assert_string_equal(lv.last_error, "");

	memset(&lv, 0, sizeof(lv)); /* stopped cleanly while failing */
	lv.pid = 42;
	ls = published(42, "stopped", 1);
	status_set_link(&c, &ls, &lv);
	assert_string_equal(lv.mqtt, "stopped");
	assert_int_equal(lv.mqtt_since_ms, 2000);
	assert_int_equal(lv.last_connect_ms, 1500);
	assert_int_equal(lv.error_current, 1);
	assert_int_equal(lv.inflight, 0);
	memset(&lv, 0, sizeof(lv)); /* killed while connected: since when it stopped is unknown */
	lv.pid = 42;
	ls = published(42, "connected", 0);
	status_set_link(&c, &ls, &lv);
	assert_string_equal(lv.mqtt, "stopped");
	assert_int_equal(lv.mqtt_since_ms, 0);

	c.mqtt.host = none; /* no uplink */
	memset(&lv, 0, sizeof(lv));
	lv.running = 1;
	lv.pid = 42;
	status_set_link(&c, &ls, &lv);
	assert_string_equal(lv.mqtt, "disabled");
	assert_string_equal(lv.last_error, "");
}

static void
test_json_keys(void **state)
{
	struct conf c = {.agent.site_id = site, .mqtt.host = host};
	struct journal_stats st = {.last_seq = 5};
	struct livestate ls = published(42, "disconnected", 1);
	struct status_live lv = {.running = 1, .pid = 42};
	cJSON *o;
	char *text;

	(void)state;
	status_set_link(&c, &ls, &lv);
	text = status_json(&c, &st, &lv);
	assert_non_null(text);
	o = cJSON_Parse(text);
	assert_non_null(o);
	assert_string_equal(cJSON_GetObjectItem(o, "mqtt")->valuestring, "disconnected");
	assert_string_equal(cJSON_GetObjectItem(o, "mqtt_last_error")->valuestring,
			    "bad user name or password");
	assert_int_equal(cJSON_GetObjectItem(o, "mqtt_last_error_ms")->valuedouble, 1000);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "mqtt_last_error_current")));
	assert_int_equal(cJSON_GetObjectItem(o, "mqtt_since_ms")->valuedouble, 2000);
	assert_int_equal(cJSON_GetObjectItem(o, "mqtt_last_connect_ms")->valuedouble, 1500);
	assert_int_equal(cJSON_GetObjectItem(o, "mqtt_inflight")->valuedouble, 3);
	assert_int_equal(cJSON_GetObjectItem(o, "backfill_through")->valuedouble, 77);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "agent_running")));
	assert_non_null(cJSON_GetObjectItem(o, "acked_ranges"));
	assert_string_equal(cJSON_GetObjectItem(o, "control")->valuestring,
			    "refused (no platform key)");
	cJSON_Delete(o);
	cJSON_free(text);
}

/* The sync state: the backlog against the watermark that deletes; link down since the link
 * went (not the latest attempt); lagging past lagging_after_s; healthz past its age. */
static void
test_sync(void **state)
{
	struct conf c = {.agent.site_id = site, .mqtt.host = host};
	int64_t now = platform_now_ms();
	struct journal_stats st = {.last_seq = 20,
				   .acked_through = 20,
				   .platform_acked_through = 4,
				   .oldest_unsent_ms = 0,
				   .oldest_unconfirmed_ms = now - 10000};
	struct status_live lv = {.mqtt = "connected", .mqtt_since_ms = now - 60000};
	struct status_sync sy;
	char why[200];

	(void)state;
	c.metrics.lagging_after_s = 60;
	c.http.healthz_max_unsent_s = 5;
	c.mqtt.ack_mode = CONF_ACK_BROKER; /* the broker has everything */
	status_sync(&c, &st, &lv, &sy);
	assert_string_equal(sy.watermark, "broker");
	assert_int_equal(sy.backlog, 0);
	assert_string_equal(sy.state, "in sync");
	assert_int_equal(sy.since_ms, 0);
	assert_int_equal(status_unhealthy(&c, &sy, why, sizeof(why)), 0);

	c.mqtt.ack_mode = CONF_ACK_PLATFORM; /* the platform lacks 5-20 */
	status_sync(&c, &st, &lv, &sy);
	assert_string_equal(sy.watermark, "platform");
	assert_int_equal(sy.through, 4);
	assert_int_equal(sy.backlog, 16);
	assert_int_equal(sy.broker_backlog, 0);
	assert_int_equal(sy.oldest_ms, now - 10000);
	assert_string_equal(sy.state, "in sync"); /* 10 s < lagging_after_s */
	assert_int_equal(status_unhealthy(&c, &sy, why, sizeof(why)), 1);
	assert_non_null(strstr(why, "oldest event not acknowledged by the platform for"));

	c.metrics.lagging_after_s = 5;
	status_sync(&c, &st, &lv, &sy);
	assert_string_equal(sy.state, "lagging");
	assert_int_equal(sy.since_ms, now - 10000);

	snprintf(lv.mqtt, sizeof(lv.mqtt), "connecting"); /* a reconnect attempt just now */
	lv.mqtt_since_ms = now;
	lv.mqtt_down_since_ms = now - 30000;
	status_sync(&c, &st, &lv, &sy);
	assert_string_equal(sy.state, "link down");
	assert_int_equal(sy.since_ms, now - 30000);
	assert_int_equal(status_unhealthy(&c, &sy, why, sizeof(why)), 1);
	assert_non_null(strstr(why, "MQTT link down for "));

	c.http.healthz_max_unsent_s = 0; /* off */
	assert_int_equal(status_unhealthy(&c, &sy, why, sizeof(why)), 0);

	snprintf(lv.mqtt, sizeof(lv.mqtt), "disabled");
	status_sync(&c, &st, &lv, &sy);
	assert_string_equal(sy.state, "no uplink");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_link_states),
		cmocka_unit_test(test_json_keys),
		cmocka_unit_test(test_sync),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
