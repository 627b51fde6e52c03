/* The status document shared by the CLI and the HTTP input. */
#include "status.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "journal.h"
#include "journal_meta.h"
#include "platform.h"

int64_t
status_age_s(int64_t since_ms)
{
	return since_ms > 0 ? (platform_now_ms() - since_ms) / 1000 : 0;
}

char *
status_json(const struct conf *c, const struct journal_stats *st, const struct status_live *lv)
{
	cJSON *o = cJSON_CreateObject();
	char *text;

	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "site_id", c->agent.site_id);
	cJSON_AddStringToObject(o, "journal_id", st->journal_id);
	cJSON_AddNumberToObject(o, "session", (double)st->session);
	cJSON_AddNumberToObject(o, "last_seq", (double)st->last_seq);
	cJSON_AddNumberToObject(o, "acked_through", (double)st->acked_through);
	cJSON_AddNumberToObject(o, "platform_acked_through", (double)st->platform_acked_through);
	cJSON_AddNumberToObject(o, "backlog", (double)st->backlog);
	cJSON_AddNumberToObject(o, "oldest_unsent_age_s",
				(double)status_age_s(st->oldest_unsent_ms));
	cJSON_AddNumberToObject(o, "quarantined", (double)st->quarantined);
	cJSON_AddNumberToObject(o, "duplicates", (double)st->duplicates);
	cJSON_AddNumberToObject(o, "journal_bytes", (double)st->bytes);
	cJSON_AddNumberToObject(o, "journal_max_bytes", (double)c->journal.max_bytes);
	cJSON_AddBoolToObject(o, "agent_running", lv->running);
	cJSON_AddStringToObject(o, "mqtt", lv->mqtt);
	cJSON_AddNumberToObject(o, "mqtt_last_connect_ms", (double)lv->last_connect_ms);
	cJSON_AddStringToObject(o, "mqtt_last_error", lv->last_error);
	if (lv->journal_note[0] != '\0')
		cJSON_AddStringToObject(o, "journal_note", lv->journal_note);
	cJSON_AddNumberToObject(o, "backfill_through", (double)lv->backfill_through);
	cJSON_AddStringToObject(o, "acked_ranges", lv->acked_ranges);
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

void
status_read_live(const struct conf *c, struct journal *j, struct status_live *lv)
{
	char buf[64];
	long pid;

	memset(lv, 0, sizeof(*lv));
	if (journal_meta_get(j, "agent_pid", buf, sizeof(buf)) == WH_OK &&
	    (pid = strtol(buf, NULL, 10)) > 0)
		lv->running = kill((pid_t)pid, 0) == 0 || errno == EPERM;
	snprintf(lv->mqtt, sizeof(lv->mqtt), "%s", c->mqtt.host[0] ? "disconnected" : "disabled");
	if (c->mqtt.host[0] && lv->running)
		journal_meta_get(j, "mqtt_state", lv->mqtt, sizeof(lv->mqtt));
	else if (c->mqtt.host[0])
		snprintf(lv->mqtt, sizeof(lv->mqtt), "stopped");
	if (journal_meta_get(j, "mqtt_last_connect_ms", buf, sizeof(buf)) == WH_OK)
		lv->last_connect_ms = strtoll(buf, NULL, 10);
	journal_meta_get(j, "mqtt_last_error", lv->last_error, sizeof(lv->last_error));
	journal_meta_get(j, "salvage_report", lv->journal_note, sizeof(lv->journal_note));
	if (lv->running && journal_meta_get(j, "backfill_through", buf, sizeof(buf)) == WH_OK)
		lv->backfill_through = strtoull(buf, NULL, 10);
	journal_meta_get(j, "acked_ranges", lv->acked_ranges, sizeof(lv->acked_ranges));
}
