/* The status document shared by the CLI and the HTTP input. */
#include "status.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "journal.h"
#include "journal_meta.h"
#include "livestate.h"
#include "platform.h"

int64_t
status_age_s(int64_t since_ms)
{
	return since_ms > 0 ? (platform_now_ms() - since_ms) / 1000 : 0;
}

void
status_sync(const struct conf *c, const struct journal_stats *st, const struct status_live *lv,
	    struct status_sync *ret)
{
	int platform = c->mqtt.ack_mode == CONF_ACK_PLATFORM;
	const char *state = "in sync";
	int64_t since = 0;

	memset(ret, 0, sizeof(*ret));
	ret->watermark = platform ? "platform" : "broker";
	ret->through = platform ? st->platform_acked_through : st->acked_through;
	if (ret->through > st->last_seq)
		ret->through = st->last_seq;
	ret->backlog = st->last_seq - ret->through;
	ret->broker_backlog =
		st->last_seq > st->acked_through ? st->last_seq - st->acked_through : 0;
	ret->oldest_ms = ret->backlog == 0 ? 0
			 : platform	   ? st->oldest_unconfirmed_ms
					   : st->oldest_unsent_ms;
	if (strcmp(lv->mqtt, "disabled") == 0) {
		state = "no uplink";
	} else if (strcmp(lv->mqtt, "stopped") == 0) {
		state = "stopped";
		since = lv->mqtt_since_ms;
	} else if (strcmp(lv->mqtt, "connected") != 0) {
		state = "link down"; /* since it went, not since the latest reconnect attempt */
		since = lv->mqtt_down_since_ms > 0 ? lv->mqtt_down_since_ms : lv->mqtt_since_ms;
	} else if (ret->oldest_ms > 0 && platform_now_ms() - ret->oldest_ms >
						 (int64_t)c->metrics.lagging_after_s * 1000) {
		state = "lagging";
		since = ret->oldest_ms;
	}
	snprintf(ret->state, sizeof(ret->state), "%s", state);
	ret->since_ms = since;
}

int
status_unhealthy(const struct conf *c, const struct status_sync *s, char *buf, size_t len)
{
	int64_t max = c->http.healthz_max_unsent_s, age;

	/* without an uplink events stay in the journal by design: their age says nothing */
	if (max <= 0 || strcmp(s->state, "no uplink") == 0)
		return 0;
	if (strcmp(s->state, "link down") == 0 && s->since_ms > 0 &&
	    (age = status_age_s(s->since_ms)) > max) {
		snprintf(buf, len,
			 "MQTT link down for %" PRId64 " s (healthz_max_unsent_s = %" PRId64 ")",
			 age, max);
		return 1;
	}
	if (s->oldest_ms > 0 && (age = status_age_s(s->oldest_ms)) > max) {
		snprintf(buf, len,
			 "oldest event not acknowledged by the %s for %" PRId64
			 " s (healthz_max_unsent_s = %" PRId64 ")",
			 s->watermark, age, max);
		return 1;
	}
	return 0;
}

const char *
status_control(const struct conf *c)
{
	const char *k1 = c->mqtt.platform_pubkey, *k2 = c->mqtt.platform_pubkey_next;
	int keys = (k1 != NULL && k1[0] != '\0') + (k2 != NULL && k2[0] != '\0');

	if (c->mqtt.host[0] == '\0')
		return "none (no uplink)";
	if (c->mqtt.allow_unsigned_control)
		return "UNSIGNED TAKEN (allow_unsigned_control = true)";
	if (keys == 0)
		return "refused (no platform key)";
	return keys == 1 ? "signed (1 platform key)" : "signed (2 platform keys)";
}

char *
status_json(const struct conf *c, const struct journal_stats *st, const struct status_live *lv)
{
	cJSON *o = status_doc(c, st, lv);
	char *text;

	if (o == NULL)
		return NULL;
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

cJSON *
status_doc(const struct conf *c, const struct journal_stats *st, const struct status_live *lv)
{
	cJSON *o = cJSON_CreateObject();
	struct status_sync sy;

	if (o == NULL)
		return NULL;
	status_sync(c, st, lv, &sy);
	cJSON_AddStringToObject(o, "site_id", c->agent.site_id);
	cJSON_AddStringToObject(o, "journal_id", st->journal_id);
	cJSON_AddNumberToObject(o, "session", (double)st->session);
	cJSON_AddNumberToObject(o, "last_seq", (double)st->last_seq);
	cJSON_AddNumberToObject(o, "acked_through", (double)st->acked_through);
	cJSON_AddNumberToObject(o, "platform_acked_through", (double)st->platform_acked_through);
	cJSON_AddStringToObject(o, "state", sy.state);
	cJSON_AddNumberToObject(o, "state_since_ms", (double)sy.since_ms);
	cJSON_AddStringToObject(o, "sync_watermark", sy.watermark);
	cJSON_AddStringToObject(o, "control", status_control(c));
	cJSON_AddNumberToObject(o, "backlog", (double)sy.backlog);
	cJSON_AddNumberToObject(o, "broker_backlog", (double)sy.broker_backlog);
	cJSON_AddNumberToObject(o, "oldest_unsent_age_s", (double)status_age_s(sy.oldest_ms));
	cJSON_AddNumberToObject(o, "quarantined", (double)st->quarantined);
	cJSON_AddNumberToObject(o, "quarantine_evicted", (double)st->quarantine_evicted);
	cJSON_AddNumberToObject(o, "duplicates", (double)st->duplicates);
	cJSON_AddNumberToObject(o, "journal_bytes", (double)st->bytes);
	cJSON_AddNumberToObject(o, "journal_max_bytes", (double)c->journal.max_bytes);
	cJSON_AddBoolToObject(o, "agent_running", lv->running);
	cJSON_AddStringToObject(o, "mqtt", lv->mqtt);
	cJSON_AddNumberToObject(o, "mqtt_since_ms", (double)lv->mqtt_since_ms);
	cJSON_AddNumberToObject(o, "mqtt_down_since_ms", (double)lv->mqtt_down_since_ms);
	cJSON_AddNumberToObject(o, "mqtt_last_connect_ms", (double)lv->last_connect_ms);
	cJSON_AddStringToObject(o, "mqtt_last_error", lv->last_error);
	cJSON_AddNumberToObject(o, "mqtt_last_error_ms", (double)lv->last_error_ms);
	cJSON_AddBoolToObject(o, "mqtt_last_error_current", lv->error_current);
	cJSON_AddNumberToObject(o, "mqtt_last_error_age_s",
				(double)status_age_s(lv->last_error_ms));
	cJSON_AddNumberToObject(o, "mqtt_inflight", lv->inflight);
	if (lv->journal_note[0] != '\0')
		cJSON_AddStringToObject(o, "journal_note", lv->journal_note);
	if (lv->journal_full[0] != '\0')
		cJSON_AddStringToObject(o, "journal_full", lv->journal_full);
	cJSON_AddNumberToObject(o, "backfill_through", (double)lv->backfill_through);
	cJSON_AddStringToObject(o, "acked_ranges", lv->acked_ranges);
	cJSON_AddStringToObject(o, "alarm_names", lv->alarms);
	cJSON_AddStringToObject(o, "input_errors", lv->inputs);
	return o;
}

void
status_read_journal(struct journal *j, struct status_live *lv)
{
	char buf[64];
	long pid;

	memset(lv, 0, sizeof(*lv));
	if (journal_meta_get(j, "agent_pid", buf, sizeof(buf)) == WH_OK &&
	    (pid = strtol(buf, NULL, 10)) > 0) {
		lv->pid = pid;
		lv->running = kill((pid_t)pid, 0) == 0 || errno == EPERM;
	}
	journal_meta_get(j, "salvage_report", lv->journal_note, sizeof(lv->journal_note));
	if (journal_room(j) == WH_ERR_FULL) /* which bound: budget, or free space and reserve */
		snprintf(lv->journal_full, sizeof(lv->journal_full), "%s", journal_errmsg(j));
	journal_meta_get(j, "acked_ranges", lv->acked_ranges, sizeof(lv->acked_ranges));
}

/* The link's history (last connection, last error) as the agent recorded it. */
static void
set_history(const struct livestate *ls, int as_recorded, struct status_live *lv)
{
	lv->last_connect_ms = ls->last_connect_ms;
	snprintf(lv->last_error, sizeof(lv->last_error), "%s", ls->last_error);
	lv->last_error_ms = ls->last_error_ms;
	lv->error_current = as_recorded && ls->error_current && ls->last_error[0] != '\0';
}

void
status_set_link(const struct conf *c, const struct livestate *ls, struct status_live *lv)
{
	int ours = ls != NULL && lv->pid != 0 && ls->pid == lv->pid;

	if (c->mqtt.host[0] == '\0') {
		snprintf(lv->mqtt, sizeof(lv->mqtt), "disabled");
		return;
	}
	if (!lv->running) {
		snprintf(lv->mqtt, sizeof(lv->mqtt), "stopped");
		if (ls != NULL) {
			set_history(ls, 1, lv);
			if (strcmp(ls->mqtt, "stopped") == 0)
				lv->mqtt_since_ms = ls->since_ms;
		}
		return;
	}
	if (!ours) { /* just started: its uplink has not published yet */
		snprintf(lv->mqtt, sizeof(lv->mqtt), "connecting");
		if (ls != NULL)
			set_history(ls, 0, lv);
		return;
	}
	snprintf(lv->mqtt, sizeof(lv->mqtt), "%s", ls->mqtt);
	lv->mqtt_since_ms = ls->since_ms;
	lv->mqtt_down_since_ms = ls->down_since_ms;
	set_history(ls, 1, lv);
	lv->inflight = ls->inflight;
	lv->backfill_through = ls->backfill_through;
	snprintf(lv->alarms, sizeof(lv->alarms), "%s", ls->alarms);
	snprintf(lv->inputs, sizeof(lv->inputs), "%s", ls->inputs);
}

void
status_read_live(const struct conf *c, struct journal *j, struct status_live *lv)
{
	struct livestate ls;
	char path[4096];
	int have;

	status_read_journal(j, lv);
	have = journal_meta_get(j, "live_state_path", path, sizeof(path)) == WH_OK &&
	       livestate_read(path, &ls) == WH_OK;
	status_set_link(c, have ? &ls : NULL, lv);
}
