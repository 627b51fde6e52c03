/* Prometheus text format: HELP and TYPE lines, then samples. Gauges that live in the journal
 * are read from it (the same figures `whagent status` shows); counters come from the inputs,
 * the uplink and the HTTP listener, since start. */
#include "metrics.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "health.h"
#include "event.h"
#include "input_http.h"
#include "input_table.h"
#include "intake.h"
#include "journal.h"
#include "journal_meta.h"
#include "log.h"
#include "mem.h"
#include "status.h"
#include "uplink.h"

struct text {
	char *p;
	size_t len, cap;
	int failed;
};

static void add(struct text *t, const char *fmt, ...) WH_PRINTF(2, 3);

static void
add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (int tries = 0; tries < 2 && !t->failed; tries++) {
		va_start(ap, fmt);
		n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		char *q = wh_realloc(t->p, t->cap * 2 + (size_t)n);

		if (q == NULL) {
			t->failed = 1;
			return;
		}
		t->p = q;
		t->cap = t->cap * 2 + (size_t)n;
	}
}

static void
header(struct text *t, const char *name, const char *type, const char *help)
{
	add(t, "# HELP whagent_%s %s\n# TYPE whagent_%s %s\n", name, help, name, type);
}

static const char *const kind_labels[] = {NULL,		"pick",	    "receipt",
					  "adjustment", "transfer", "shipment"};

static void
inputs(struct text *t, const struct metrics_src *m)
{
	header(t, "events_captured_total", "counter", "Events journaled, by input and kind.");
	for (int i = 0; i < m->ninputs; i++)
		for (int k = EVENT_PICK; k <= EVENT_SHIPMENT; k++)
			add(t,
			    "whagent_events_captured_total{input=\"%s\",kind=\"%s\"} %" PRIu64 "\n",
			    m->inputs[i]->input, kind_labels[k], m->inputs[i]->total.taken[k]);
	header(t, "duplicates_total", "counter",
	       "Records whose transaction was already journaled, by input.");
	for (int i = 0; i < m->ninputs; i++)
		add(t, "whagent_duplicates_total{input=\"%s\"} %" PRIu64 "\n", m->inputs[i]->input,
		    m->inputs[i]->total.duplicates);
	header(t, "quarantined_total", "counter",
	       "Records quarantined, by input and reason class (unparsable, invalid).");
	for (int i = 0; i < m->ninputs; i++) {
		add(t,
		    "whagent_quarantined_total{input=\"%s\",reason=\"unparsable\"} %" PRIu64 "\n",
		    m->inputs[i]->input, m->inputs[i]->total.unparsable);
		add(t, "whagent_quarantined_total{input=\"%s\",reason=\"invalid\"} %" PRIu64 "\n",
		    m->inputs[i]->input, m->inputs[i]->total.invalid);
	}
}

/* The table inputs' figures: the database's state, polls, rows, write-backs. */
static void
tables(struct text *t, const struct metrics_src *m)
{
	static const struct {
		const char *name, *type, *help;
	} h[] = {
		{"table_up", "gauge",
		 "1 when the table input's last request to its database succeeded; else 0, with "
		 "the failure class (connect, auth, schema, timeout, query) as a label."},
		{"table_polls_total", "counter", "Queries for a page of rows, by table input."},
		{"table_rows_read_total", "counter", "Rows read from the table, by table input."},
		{"table_errors_total", "counter",
		 "Failed requests to the database, by table input."},
		{"table_written_back_total", "counter",
		 "Rows whose status the handshake wrote back, by table input."},
		{"table_backpressure_total", "counter",
		 "Pages read but left for later because the journal was full or paused."},
		{"table_request_seconds", "gauge",
		 "How long the request running against the database has run (0: none)."},
	};
	struct table_stats st[METRICS_MAX_TABLES];

	if (m->ntables == 0)
		return;
	for (int i = 0; i < m->ntables; i++)
		table_stats(m->tables[i], &st[i]);
	for (size_t k = 0; k < sizeof(h) / sizeof(h[0]); k++) {
		header(t, h[k].name, h[k].type, h[k].help);
		for (int i = 0; i < m->ntables; i++) {
			const uint64_t v[] = {(uint64_t)st[i].up, st[i].polls,	st[i].rows_read,
					      st[i].errors,	  st[i].marked, st[i].backpressure};

			if (k == 0)
				add(t, "whagent_table_up{input=\"%s\",failure=\"%s\"} %d\n",
				    st[i].input, st[i].failure, st[i].up);
			else if (k < sizeof(v) / sizeof(v[0]))
				add(t, "whagent_%s{input=\"%s\"} %" PRIu64 "\n", h[k].name,
				    st[i].input, v[k]);
			else
				add(t, "whagent_%s{input=\"%s\"} %.3f\n", h[k].name, st[i].input,
				    (double)st[i].busy_ms / 1000.0);
		}
	}
}

/* The link as the uplink has it, for the sync state ("disabled" without an uplink). */
static void
link_of(const struct metrics_src *m, const struct uplink_stats *u, struct status_live *lv)
{
	memset(lv, 0, sizeof(*lv));
	if (m->uplink == NULL) {
		snprintf(lv->mqtt, sizeof(lv->mqtt), "disabled");
		return;
	}
	snprintf(lv->mqtt, sizeof(lv->mqtt), "%s", u->link);
	lv->mqtt_since_ms = u->link_since_ms;
	lv->mqtt_down_since_ms = u->down_since_ms;
}

static void
sync_state(struct text *t, const struct metrics_src *m, const struct journal_stats *st,
	   const struct uplink_stats *u)
{
	static const char *const states[][2] = {{"in sync", "in_sync"},
						{"lagging", "lagging"},
						{"link down", "link_down"},
						{"no uplink", "no_uplink"}};
	struct status_live lv;
	struct status_sync sy;

	link_of(m, u, &lv);
	status_sync(m->conf, st, &lv, &sy);
	header(t, "backlog_events", "gauge",
	       "Events not yet acknowledged by the watermark that deletes (the platform's with "
	       "ack_mode = platform, else the broker's).");
	add(t, "whagent_backlog_events %" PRIu64 "\n", sy.backlog);
	header(t, "broker_backlog_events", "gauge", "Events not yet acknowledged by the broker.");
	add(t, "whagent_broker_backlog_events %" PRIu64 "\n", sy.broker_backlog);
	header(t, "oldest_unsent_age_seconds", "gauge",
	       "Age of the oldest event not acknowledged by the watermark that deletes.");
	add(t, "whagent_oldest_unsent_age_seconds %" PRId64 "\n", status_age_s(sy.oldest_ms));
	header(t, "sync_state", "gauge",
	       "1 for the current state: in_sync, lagging (an event waited longer than "
	       "lagging_after_s), link_down (MQTT not connected), no_uplink.");
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		add(t, "whagent_sync_state{state=\"%s\"} %d\n", states[i][1],
		    strcmp(sy.state, states[i][0]) == 0);
	header(t, "sync_state_since_timestamp_seconds", "gauge",
	       "Since when the state holds (lagging: when the oldest event was captured; "
	       "link_down: "
	       "when the link went); 0 when in sync.");
	add(t, "whagent_sync_state_since_timestamp_seconds %" PRId64 "\n", sy.since_ms / 1000);
	header(t, "mqtt_link_down_seconds", "gauge",
	       "How long the MQTT link has been down; 0 while connected.");
	add(t, "whagent_mqtt_link_down_seconds %" PRId64 "\n",
	    strcmp(sy.state, "link down") == 0 ? status_age_s(sy.since_ms) : 0);
	header(t, "mqtt_last_error_timestamp_seconds", "gauge",
	       "When the last MQTT error happened; 0: none in this run.");
	add(t, "whagent_mqtt_last_error_timestamp_seconds %" PRId64 "\n",
	    u->last_error[0] != '\0' ? u->last_error_ms / 1000 : 0);
	header(t, "mqtt_last_error_current", "gauge",
	       "1 while the last error stands (no connection or ack since).");
	add(t, "whagent_mqtt_last_error_current %d\n",
	    u->last_error[0] != '\0' && u->error_current);
}

static void
journal(struct text *t, const struct metrics_src *m, const struct journal_stats *st)
{
	const struct journal_latency *h = journal_commit_latency(m->journal);

	header(t, "journal_bytes", "gauge", "Size of the journal database.");
	add(t, "whagent_journal_bytes %" PRId64 "\n", st->bytes);
	header(t, "journal_max_bytes", "gauge", "Byte budget of the journal.");
	add(t, "whagent_journal_max_bytes %" PRId64 "\n", m->conf->journal.max_bytes);
	header(t, "last_seq", "gauge", "Sequence number of the newest journaled event.");
	add(t, "whagent_last_seq %" PRIu64 "\n", st->last_seq);
	header(t, "acked_through_seq", "gauge", "Acknowledged watermark (saved).");
	add(t, "whagent_acked_through_seq %" PRIu64 "\n", st->acked_through);
	header(t, "platform_acked_through_seq", "gauge",
	       "What the central platform confirmed (ack_mode = platform).");
	add(t, "whagent_platform_acked_through_seq %" PRIu64 "\n", st->platform_acked_through);
	header(t, "quarantine_records", "gauge", "Records in quarantine now.");
	add(t, "whagent_quarantine_records %" PRIu64 "\n", st->quarantined);
	header(t, "quarantine_evicted_total", "counter",
	       "Quarantined records evicted, oldest first, by quarantine_max_rows or "
	       "quarantine_max_bytes.");
	add(t, "whagent_quarantine_evicted_total %" PRIu64 "\n", st->quarantine_evicted);
	header(t, "journal_commit_seconds", "histogram", "Journal commit latency.");
	for (int i = 0; i < JOURNAL_LATENCY_BUCKETS; i++)
		add(t, "whagent_journal_commit_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
		    journal_latency_bounds[i], h->le[i]);
	add(t, "whagent_journal_commit_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", h->count);
	add(t, "whagent_journal_commit_seconds_sum %.6f\n", h->sum_s);
	add(t, "whagent_journal_commit_seconds_count %" PRIu64 "\n", h->count);
}

static void
mqtt(struct text *t, const struct uplink_stats *u)
{
	header(t, "mqtt_connected", "gauge", "1 while connected to the broker.");
	add(t, "whagent_mqtt_connected %d\n", u->connected);
	header(t, "mqtt_inflight_batches", "gauge", "Batches published, not yet acknowledged.");
	add(t, "whagent_mqtt_inflight_batches %d\n", u->inflight);
	header(t, "mqtt_batches_published_total", "counter", "EventBatch messages published.");
	add(t, "whagent_mqtt_batches_published_total %" PRIu64 "\n", u->batches);
	header(t, "mqtt_events_published_total", "counter", "Events published (resends included).");
	add(t, "whagent_mqtt_events_published_total %" PRIu64 "\n", u->events);
	header(t, "mqtt_publish_errors_total", "counter",
	       "Publish failures and batches the broker refused.");
	add(t, "whagent_mqtt_publish_errors_total %" PRIu64 "\n", u->publish_errors);
	header(t, "mqtt_reconnects_total", "counter", "Connection attempts to the broker.");
	add(t, "whagent_mqtt_reconnects_total %" PRIu64 "\n", u->reconnects);
	header(t, "mqtt_backfill_through_seq", "gauge",
	       "A backlog drains on the backfill lane up to this seq; 0: no backfill.");
	add(t, "whagent_mqtt_backfill_through_seq %" PRIu64 "\n", u->backfill_through);
	header(t, "mqtt_acked_above_watermark_events", "gauge",
	       "Events acknowledged above the contiguous watermark (live lane ahead of backfill).");
	add(t, "whagent_mqtt_acked_above_watermark_events %" PRIu64 "\n", u->acked_above);
	header(t, "control_accepted_total", "counter",
	       "Platform acks and commands taken (signature, site, journal, time, counter).");
	add(t, "whagent_control_accepted_total %" PRIu64 "\n", u->control.accepted);
	header(t, "control_refused_total", "counter",
	       "Platform acks and commands refused: unsigned, forged, replayed, misaddressed, "
	       "beyond the broker's watermark.");
	add(t, "whagent_control_refused_total %" PRIu64 "\n", u->control.refused);
	header(t, "platform_acks_moved_total", "counter",
	       "Accepted platform acks that moved the platform's watermark.");
	add(t, "whagent_platform_acks_moved_total %" PRIu64 "\n", u->control.acks_moved);
	header(t, "control_unsigned_allowed", "gauge",
	       "1 when allow_unsigned_control takes unsigned acks and commands (insecure).");
	add(t, "whagent_control_unsigned_allowed %d\n", u->control.unsigned_allowed);
	header(t, "snapshots_published_total", "counter", "On-hand snapshots published.");
	add(t, "whagent_snapshots_published_total %" PRIu64 "\n", u->snapshots);
	if (u->has_client_cert) {
		header(t, "client_cert_days_left", "gauge",
		       "Days until the client certificate expires (negative: expired).");
		add(t, "whagent_client_cert_days_left %d\n", u->cert_days_left);
	}
}

static void
http_requests(struct text *t, const struct metrics_src *m)
{
	const struct http_counts *hc;
	struct http_refusals r;

	if (m->http == NULL)
		return;
	hc = http_counts(m->http);
	header(t, "http_requests_total", "counter", "HTTP requests answered, by status code.");
	for (int i = 0; i < hc->n; i++)
		add(t, "whagent_http_requests_total{code=\"%u\"} %" PRIu64 "\n", hc->code[i],
		    hc->count[i]);
	http_refusals(m->http, &r);
	header(t, "http_refused_total", "counter",
	       "Clients refused by a bound of the HTTP listener, by the bound.");
	add(t, "whagent_http_refused_total{bound=\"max_connections\"} %" PRIu64 "\n",
	    r.connections);
	add(t, "whagent_http_refused_total{bound=\"max_connections_per_peer\"} %" PRIu64 "\n",
	    r.per_peer);
	add(t, "whagent_http_refused_total{bound=\"request_timeout_s\"} %" PRIu64 "\n", r.deadline);
	add(t, "whagent_http_refused_total{bound=\"max_buffered_bytes\"} %" PRIu64 "\n", r.memory);
	header(t, "http_buffered_bytes", "gauge",
	       "Request body bytes held now, all requests together (max_buffered_bytes).");
	add(t, "whagent_http_buffered_bytes %" PRIu64 "\n", r.buffered);
}

/* The alarms (every kind, 1 while active) and the clock's quality. */
static void
health_metrics(struct text *t, const struct health *h)
{
	static const char *const kinds[] = {"link_down",  "ack_stall",	"clock_unsynced",
					    "clock_jump", "event_time", "journal"};
	const struct health_alarm *a;
	struct health_clock c;

	header(t, "alarm", "gauge",
	       "1 while the alarm is active (silence:INPUT per input with silence_alarm_s).");
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		int on = 0;

		for (int i = 0; (a = health_alarm_at(h, i)) != NULL; i++)
			on |= strcmp(a->name, kinds[k]) == 0;
		add(t, "whagent_alarm{name=\"%s\"} %d\n", kinds[k], on);
	}
	for (int i = 0; (a = health_alarm_at(h, i)) != NULL; i++)
		if (strncmp(a->name, "silence:", 8) == 0)
			add(t, "whagent_alarm{name=\"%s\"} 1\n", a->name);
	health_clock(h, &c);
	header(t, "clock_synced", "gauge",
	       "1 when the kernel says the clock is NTP-synchronised, 0 not, -1 unknown.");
	add(t, "whagent_clock_synced %d\n", c.synced);
	header(t, "clock_jumps_total", "counter",
	       "Steps of the wall clock against the monotonic clock beyond clock_jump_ms.");
	add(t, "whagent_clock_jumps_total %" PRIu64 "\n", c.jumps);
	header(t, "event_time_flagged_total", "counter",
	       "Events taken with an event_time out of event_time_ahead_s / _behind_s.");
	add(t, "whagent_event_time_flagged_total %" PRIu64 "\n", c.time_flagged);
}

char *
metrics_render(const struct metrics_src *m)
{
	struct journal_stats st;
	struct uplink_stats u = {0};
	struct text t = {.cap = 8192};

	if (journal_stats(m->journal, &st) != WH_OK)
		return NULL;
	t.p = wh_malloc(t.cap);
	if (t.p == NULL)
		return NULL;
	header(&t, "build_info", "gauge", "Version of the running agent.");
	add(&t, "whagent_build_info{version=\"%s\",site=\"%s\"} 1\n", WHAGENT_VERSION,
	    m->conf->agent.site_id);
	inputs(&t, m);
	tables(&t, m);
	if (m->uplink != NULL)
		uplink_stats(m->uplink, &u);
	journal(&t, m, &st);
	sync_state(&t, m, &st, &u);
	mqtt(&t, &u);
	http_requests(&t, m);
	header(&t, "log_lines_held_total", "counter",
	       "Log lines about outside input held back by the rate limit.");
	add(&t, "whagent_log_lines_held_total %" PRIu64 "\n", log_held_total());
	if (m->health != NULL)
		health_metrics(&t, m->health);
	if (t.failed) {
		wh_free(t.p);
		return NULL;
	}
	return t.p;
}

wh_err
metrics_write_textfile(const char *path, const char *text)
{
	char tmp[4200];
	size_t len = strlen(text);
	int fd;
	ssize_t n;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return WH_ERR_IO;
	n = write(fd, text, len);
	if (close(fd) != 0 || n != (ssize_t)len || rename(tmp, path) != 0) {
		unlink(tmp);
		return WH_ERR_IO;
	}
	return WH_OK;
}
