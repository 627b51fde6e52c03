/* The daemon's wiring: configuration, journal, loop and inputs, reload and clean stop. */
#include "agent.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ballast.h"
#include "codec.h"
#include "conf.h"
#include "health.h"
#include "input_http.h"
#include "input_spool.h"
#include "input_table.h"
#include "journal.h"
#include "journal_ledger.h"
#include "journal_meta.h"
#include "journal_quarantine.h"
#include "livestate.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "metrics.h"
#include "page.h"
#include "requeue.h"
#include "platform.h"
#include "salvage.h"
#include "status.h"
#include "uplink.h"

#define IDLE_CHECK_MS	200
#define FOLD_CHECK_MS	1000
#define FOLD_ROWS	100000	      /* ledger changes folded as soon as this many wait */
#define FOLD_MAX_MS	30000	      /* and the others after this long */
#define EXPIRE_EVERY_MS (3600 * 1000) /* quarantine_keep_days: a pass an hour */
#define OUTSIDE_MS	500	      /* how often a commit by another process is looked for */
#define HEALTH_MS	1000	      /* alarms, clock and the page's history */
#define HEALTHZ_BODY	2048	      /* /healthz's answer: room for every part at its longest */

struct agent {
	const struct agent_opts *opts;
	struct conf *conf;
	struct journal *journal;
	struct loop *loop;
	struct spool *spools[CONF_SPOOLS_MAX];
	int nspools;
	struct table *tables[CONF_TABLES_MAX];
	int ntables;
	struct http *http;
	struct uplink *uplink;
	struct health *health;
	struct loop_timer health_timer;
	char health_boot_id[40]; /* for the Status being encoded */
	uint64_t session;
	struct loop_timer idle_timer, drain_timer, notify_timer, textfile_timer, fold_timer;
	struct loop_timer outside_timer; /* commits by other processes (requeue) */
	struct ballast ballast;		 /* space held back beside the journal */
	int64_t data_version;
	int64_t folded_ms;  /* when the ledger's changes were last folded */
	int64_t expired_ms; /* when quarantine_keep_days was last applied (wall clock) */
	int64_t watchdog_ms;
	char status_line[200];
	char live_path[4096];  /* the live-state file; "": none */
	struct livestate prev; /* the previous run's: its last connection and error */
	int live_inflight;     /* batches in flight as last written */
	int live_failing;      /* writing the file failed (logged once) */
	char live_alarms[LIVESTATE_ALARMS_LEN]; /* alarms as last written */
	char live_inputs[LIVESTATE_ERROR_LEN];	/* input errors as last written */
};

static void
on_reload(void *arg)
{
	struct agent *ag = arg;
	struct conf *c;
	char err[512], keys[1024];
	int n;

	log_info("SIGHUP: reading %s", ag->opts->conf_path);
	platform_notify("RELOADING=1");
	if (conf_load(ag->opts->conf_path, &c, err, sizeof(err)) != WH_OK) {
		log_warnx("keeping the running configuration: %s", err);
		platform_notify("READY=1");
		return;
	}
	platform_notify("READY=1");
	if ((n = conf_restart_keys(ag->conf, c, keys, sizeof(keys))) > 0) {
		log_warnx("reload refused, keeping the running configuration: %s %s changed, "
			  "which %s a restart (systemctl restart whagent)",
			  n > 1 ? "keys" : "key", keys, n > 1 ? "need" : "needs");
		conf_free(c);
		return;
	}
	if (ag->uplink != NULL && uplink_prepare(ag->uplink, c, err, sizeof(err)) != WH_OK) {
		log_warnx("reload refused, keeping the running configuration and keys: %s", err);
		conf_free(c);
		return;
	}
	log_set_level((enum log_level)c->agent.log_level);
	{
		struct journal_opts jo = conf_journal_opts(c, 0);

		journal_set_limits(ag->journal, &jo);
	}
	for (int i = 0; i < ag->nspools; i++)
		spool_reconfigure(ag->spools[i], c);
	for (int i = 0; i < ag->ntables; i++)
		table_reconfigure(ag->tables[i], c);
	if (ag->uplink != NULL)
		uplink_reconfigure(ag->uplink, c);
	if (ag->http != NULL)
		http_reconfigure(ag->http, c);
	health_reconfigure(ag->health, c);
	conf_free(ag->conf);
	ag->conf = c;
	log_info("configuration reloaded");
}

/* The active alarms' names, comma-separated. */
static void
alarm_names(const struct agent *ag, char *buf, size_t len)
{
	const struct health_alarm *a;
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; ag->health != NULL && (a = health_alarm_at(ag->health, i)) != NULL; i++) {
		int w = snprintf(buf + n, len - n, "%s%s", i ? "," : "", a->name);

		if (w < 0 || (size_t)w >= len - n)
			break;
		n += (size_t)w;
	}
}

/* The uplink's live state, what the live-state file says (the previous run's last connection
 * and error until this run has its own). */
static void
fill_live(struct agent *ag, struct livestate *ls)
{
	struct uplink_stats us;

	memset(ls, 0, sizeof(*ls));
	uplink_stats(ag->uplink, &us);
	ls->pid = (long)getpid();
	snprintf(ls->mqtt, sizeof(ls->mqtt), "%s", us.link);
	ls->since_ms = us.link_since_ms;
	ls->down_since_ms = us.down_since_ms;
	ls->last_connect_ms = us.last_connect_ms ? us.last_connect_ms : ag->prev.last_connect_ms;
	if (us.last_error[0] != '\0') {
		snprintf(ls->last_error, sizeof(ls->last_error), "%s", us.last_error);
		ls->last_error_ms = us.last_error_ms;
		ls->error_current = us.error_current;
	} else {
		snprintf(ls->last_error, sizeof(ls->last_error), "%s", ag->prev.last_error);
		ls->last_error_ms = ag->prev.last_error_ms;
	}
	ls->inflight = us.inflight;
	ls->backfill_through = us.backfill_through;
	ls->written_ms = platform_now_ms();
	alarm_names(ag, ls->alarms, sizeof(ls->alarms));
	snprintf(ls->inputs, sizeof(ls->inputs), "%s", ag->live_inputs);
}

/* The table inputs failing now, "table.wms: what the database said; ...". */
static void
input_errors(const struct agent *ag, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; i < ag->ntables && n < len; i++) {
		const char *e = table_error(ag->tables[i]);
		struct table_stats st;

		if (e[0] == '\0')
			continue;
		table_stats(ag->tables[i], &st);
		n += (size_t)snprintf(buf + n, len - n, "%s%s: %s", n ? "; " : "", st.input, e);
	}
}

/* Publishes the uplink's live state for `whagent status`: a file rewritten atomically, no
 * journal write, no fsync. */
static void
write_live(struct agent *ag)
{
	struct livestate ls;

	if (ag->uplink == NULL || ag->live_path[0] == '\0')
		return;
	fill_live(ag, &ls);
	if (livestate_write(ag->live_path, &ls) != WH_OK) {
		if (!ag->live_failing)
			log_warn("cannot write the live state %s", ag->live_path);
		ag->live_failing = 1;
		return;
	}
	ag->live_failing = 0;
	ag->live_inflight = ls.inflight;
}

static void
on_live_change(void *arg)
{
	write_live(arg);
}

/* Where the live state goes, recorded next to agent_pid for `whagent status` run by hand. */
static void
open_live_state(struct agent *ag)
{
	if (livestate_path(ag->conf->agent.state_dir, journal_id(ag->journal), ag->live_path,
			   sizeof(ag->live_path)) != WH_OK) {
		log_warnx("live state: the path is too long; `whagent status` will not show it");
		ag->live_path[0] = '\0';
		return;
	}
	if (journal_meta_set(ag->journal, "live_state_path", ag->live_path) != WH_OK)
		log_warnx("live state: recording its path: %s", journal_errmsg(ag->journal));
	if (livestate_read(ag->live_path, &ag->prev) != WH_OK)
		memset(&ag->prev, 0, sizeof(ag->prev));
}

static void
live_state(struct agent *ag, struct status_live *lv)
{
	struct livestate ls;

	status_read_journal(ag->journal, lv);
	lv->running = 1;
	lv->pid = (long)getpid();
	if (ag->uplink != NULL)
		fill_live(ag, &ls);
	status_set_link(ag->conf, ag->uplink != NULL ? &ls : NULL, lv);
}

#define NOTIFY_STATUS_MS 5000

/* The service manager's STATUS= line (connection state and backlog) and watchdog ping. */
static void
on_notify_timer(void *arg)
{
	struct agent *ag = arg;
	struct uplink_stats us = {0};
	struct journal_stats js;
	char msg[200];
	int64_t next = NOTIFY_STATUS_MS;

	if (ag->uplink != NULL) {
		uplink_stats(ag->uplink, &us);
		/* the rest is written as it changes; a failed write (disk full) is retried here */
		if (us.inflight != ag->live_inflight || ag->live_failing)
			write_live(ag);
	}
	if (journal_stats(ag->journal, &js) == WH_OK) {
		struct status_live lv = {0};
		struct status_sync sy;

		/* the backlog against the watermark that deletes, as status counts it */
		if (us.acked_through > js.acked_through)
			js.acked_through = us.acked_through;
		snprintf(lv.mqtt, sizeof(lv.mqtt), "%s", ag->uplink == NULL ? "disabled" : us.link);
		lv.mqtt_down_since_ms = us.down_since_ms;
		status_sync(ag->conf, &js, &lv, &sy);
		snprintf(msg, sizeof(msg),
			 "STATUS=%s, backlog %" PRIu64 " events, last seq %" PRIu64 ", %s",
			 ag->uplink == NULL ? "no uplink"
			 : us.connected	    ? "connected"
					    : "disconnected",
			 sy.backlog, js.last_seq, sy.state);
		if (strcmp(msg, ag->status_line) != 0) {
			platform_notify(msg);
			snprintf(ag->status_line, sizeof(ag->status_line), "%s", msg);
		}
	}
	if (ag->watchdog_ms > 0) {
		platform_notify("WATCHDOG=1");
		if (ag->watchdog_ms / 2 < next)
			next = ag->watchdog_ms / 2;
	}
	loop_timer_arm(&ag->notify_timer, next);
}

/* Stops the spool and table inputs. */
static void
free_spools(struct agent *ag)
{
	for (int i = 0; i < ag->nspools; i++)
		spool_free(ag->spools[i]);
	ag->nspools = 0;
	for (int i = 0; i < ag->ntables; i++)
		table_free(ag->tables[i]);
	ag->ntables = 0;
}

static void
metrics_source(struct agent *ag, struct metrics_src *m)
{
	memset(m, 0, sizeof(*m));
	m->conf = ag->conf;
	m->journal = ag->journal;
	m->uplink = ag->uplink;
	m->http = ag->http;
	m->health = ag->health;
	for (int i = 0; i < ag->nspools; i++)
		m->inputs[m->ninputs++] = spool_intake(ag->spools[i]);
	for (int i = 0; i < ag->ntables; i++) {
		m->inputs[m->ninputs++] = table_intake(ag->tables[i]);
		m->tables[m->ntables++] = ag->tables[i];
	}
	if (ag->http != NULL)
		m->inputs[m->ninputs++] = http_intake(ag->http);
}

static const char *
health_text(wh_err err)
{
	switch (err) {
	case WH_OK:
		return "ok";
	case WH_ERR_FULL:
		return "journal full";
	case WH_ERR_PAUSED:
		return "capture paused";
	default:
		return "journal failing";
	}
}

/* /healthz: 200 while the journal takes writes and the site keeps up; 503 when the journal
 * cannot (full, paused, failing), or an event has waited, or the link been down, longer than
 * healthz_max_unsent_s. */
static char *
healthz(struct agent *ag, unsigned *ret_status)
{
	struct journal_stats st = {0};
	struct status_live lv;
	struct status_sync sy;
	char *body = wh_malloc(HEALTHZ_BODY), why[400], full[300];
	wh_err err = journal_room(ag->journal); /* no write lock */
	int behind;

	live_state(ag, &lv);
	journal_stats(ag->journal, &st);
	status_sync(ag->conf, &st, &lv, &sy);
	behind = status_unhealthy(ag->conf, &sy, why, sizeof(why)) ||
		 health_unhealthy(ag->health, why, sizeof(why));
	*ret_status = err == WH_OK && !behind ? 200 : 503;
	/* which bound: "N bytes free on DIR, reserve R" (DIR from the configuration: escaped) */
	log_escape(full, sizeof(full), lv.journal_full, strlen(lv.journal_full));
	for (char *q = full; (q = strchr(q, '"')) != NULL;)
		*q = '\'';
	if (body != NULL) {
		char names[400] = "";
		const struct health_alarm *a;
		size_t n = 0;

		for (int i = 0; (a = health_alarm_at(ag->health, i)) != NULL && n < sizeof(names);
		     i++)
			n += (size_t)snprintf(names + n, sizeof(names) - n, "%s\"%s\"",
					      i ? "," : "", a->name);
		/* the reason carries no quote or backslash: it is ours, and names are ours */
		snprintf(body, HEALTHZ_BODY,
			 "{\"status\":\"%s\",\"state\":\"%s\",\"mqtt\":\"%s\",\"backlog\":%" PRIu64
			 ",\"oldest_unsent_age_s\":%" PRId64 ",\"alarms\":[%s]%s%s%s}",
			 err != WH_OK ? health_text(err)
			 : behind     ? why
				      : "ok",
			 sy.state, lv.mqtt, sy.backlog, status_age_s(sy.oldest_ms),
			 n < sizeof(names) ? names : "", full[0] ? ",\"journal_full\":\"" : "",
			 full, full[0] ? "\"" : "");
	}
	return body;
}

/* The status document with the agent's health; detail 1: with the page's parts (history,
 * newest quarantine entries, last events); ui: as the HTML page. */
static char *
status_page(struct agent *ag, int detail, int ui)
{
	struct journal_stats st;
	struct status_live lv;
	cJSON *o;
	char *text = NULL;

	if (journal_stats(ag->journal, &st) != WH_OK)
		return NULL;
	live_state(ag, &lv);
	if ((o = status_doc(ag->conf, &st, &lv)) == NULL)
		return NULL;
	if (detail)
		cJSON_AddBoolToObject(o, "actions", ag->conf->http.token_file[0] != '\0');
	if (health_json(ag->health, o, detail) == WH_OK &&
	    (!detail || page_add_journal(ag->journal, o) == WH_OK))
		text = ui ? page_render(o) : cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

static char *
on_page(enum http_page page, unsigned *ret_status, const char **ret_ctype, void *arg)
{
	struct agent *ag = arg;
	struct metrics_src m;

	switch (page) {
	case HTTP_PAGE_HEALTHZ:
		return healthz(ag, ret_status);
	case HTTP_PAGE_STATUS:
	case HTTP_PAGE_STATUS_DETAIL:
		return status_page(ag, page == HTTP_PAGE_STATUS_DETAIL, 0);
	case HTTP_PAGE_UI:
		*ret_ctype = "text/html; charset=utf-8";
		return status_page(ag, 1, 1);
	case HTTP_PAGE_METRICS:
		metrics_source(ag, &m);
		*ret_ctype = "text/plain; version=0.0.4; charset=utf-8";
		return metrics_render(&m);
	}
	return NULL;
}

/* Every second: the facts health judges (the link, the window, the backlog, the journal). */
static void
on_health_timer(void *arg)
{
	struct agent *ag = arg;
	struct uplink_stats us = {0};
	struct journal_stats js = {0};
	struct status_live lv = {0};
	struct status_sync sy = {0};
	struct health_facts f = {0};
	wh_err room = journal_room(ag->journal);
	char names[LIVESTATE_ALARMS_LEN], inputs[LIVESTATE_ERROR_LEN];

	if (ag->uplink != NULL)
		uplink_stats(ag->uplink, &us);
	/* the journal's figures only for a history sample (a read transaction each) */
	if (health_sample_due(ag->health) && journal_stats(ag->journal, &js) == WH_OK) {
		if (us.acked_through > js.acked_through)
			js.acked_through = us.acked_through;
		snprintf(lv.mqtt, sizeof(lv.mqtt), "%s", ag->uplink == NULL ? "disabled" : us.link);
		status_sync(ag->conf, &js, &lv, &sy);
	}
	f.uplink = ag->uplink != NULL;
	f.connected = us.connected;
	f.inflight = us.inflight;
	f.stalled_ms = us.stalled_ms;
	f.acks = us.acks;
	f.link_down_since_ms = us.down_since_ms;
	f.backlog = sy.backlog;
	f.oldest_ms = sy.oldest_ms;
	f.journal_refuses =
		room == WH_OK ? NULL
		: room == WH_ERR_FULL
			? "the journal is at its byte budget or free-space reserve: inputs "
			  "are refused (back-pressure)"
		: room == WH_ERR_PAUSED ? "capture paused by the central platform"
					: "the journal is failing";
	if (health_tick(ag->health, &f) && ag->uplink != NULL)
		uplink_reconnect(ag->uplink, health_stall_text(ag->health));
	alarm_names(ag, names, sizeof(names));
	input_errors(ag, inputs, sizeof(inputs));
	if (strcmp(names, ag->live_alarms) != 0 || strcmp(inputs, ag->live_inputs) != 0) {
		/* for `whagent status` */
		snprintf(ag->live_alarms, sizeof(ag->live_alarms), "%s", names);
		snprintf(ag->live_inputs, sizeof(ag->live_inputs), "%s", inputs);
		write_live(ag);
	}
	loop_timer_arm(&ag->health_timer, HEALTH_MS);
}

/* The health part of every Status message. */
static void
status_health(void *arg, struct codec_status *cs)
{
	struct agent *ag = arg;
	const struct health_alarm *a;
	struct health_clock c;

	for (int i = 0; (a = health_alarm_at(ag->health, i)) != NULL && i < CODEC_STATUS_ALARMS;
	     i++) {
		cs->alarm_name[i] = a->name;
		cs->alarm_text[i] = a->text;
		cs->alarm_since_ms[i] = a->since_ms;
		cs->nalarms = i + 1;
	}
	health_clock(ag->health, &c);
	cs->clock_synced = c.synced;
	snprintf(ag->health_boot_id, sizeof(ag->health_boot_id), "%s", c.boot_id);
	cs->boot_id = ag->health_boot_id;
	cs->clock_jumps = c.jumps;
	cs->event_time_flagged = c.time_flagged;
	cs->mono_offset_ms = cs->time_ms - platform_mono_ms();
}

/* The status page's requeue and purge (the listener checked the peer and the token). */
static char *
on_action(enum http_action act, int64_t id, const char *peer, unsigned *ret_status, void *arg)
{
	struct agent *ag = arg;
	struct requeue_outcome o = {0};
	cJSON *res = cJSON_CreateObject();
	const char *what = "purged";
	char *text;
	wh_err err;

	if (res == NULL)
		return NULL;
	if (act == HTTP_ACTION_REQUEUE) {
		err = requeue_entry(ag->conf, ag->journal, id, &o);
		what = o.result == REQUEUE_INVALID     ? "still invalid"
		       : o.result == REQUEUE_DUPLICATE ? "duplicate"
						       : "journaled";
	} else {
		err = journal_quarantine_delete(ag->journal, id);
	}
	cJSON_AddNumberToObject(res, "id", (double)id);
	if (err == WH_OK || (act == HTTP_ACTION_REQUEUE && o.result == REQUEUE_INVALID)) {
		cJSON_AddStringToObject(res, "result", what);
		if (act == HTTP_ACTION_REQUEUE && o.result != REQUEUE_INVALID)
			cJSON_AddNumberToObject(res, "seq", (double)o.seq);
		if (o.result == REQUEUE_INVALID && act == HTTP_ACTION_REQUEUE)
			cJSON_AddStringToObject(res, "reason", o.reason);
		log_info("page: quarantine %" PRId64 " %s by %s (%s)", id,
			 act == HTTP_ACTION_REQUEUE ? "requeued" : "purged", peer, what);
	} else {
		*ret_status = err == WH_ERR_NOTFOUND ? 404 : err == WH_ERR_FULL ? 503 : 500;
		cJSON_AddStringToObject(res, "error",
					err == WH_ERR_NOTFOUND ? "no such quarantine entry"
							       : wh_strerror(err));
		log_warnx("page: quarantine %" PRId64 " %s by %s: %s", id,
			  act == HTTP_ACTION_REQUEUE ? "requeue" : "purge", peer, wh_strerror(err));
	}
	text = cJSON_PrintUnformatted(res);
	cJSON_Delete(res);
	return text;
}

static void
on_textfile_timer(void *arg)
{
	struct agent *ag = arg;
	struct metrics_src m;
	char *text;

	metrics_source(ag, &m);
	text = metrics_render(&m);
	if (text == NULL || metrics_write_textfile(ag->conf->metrics.textfile, text) != WH_OK)
		log_warn("metrics: cannot write %s", ag->conf->metrics.textfile);
	wh_free(text);
	loop_timer_arm(&ag->textfile_timer, (int64_t)ag->conf->metrics.textfile_interval_s * 1000);
}

/* Folds the ledger's appended balance changes into its rows, in key order: many at a time,
 * so that a large ledger is not rewritten page by page for every event. */
static void
fold_ledger(struct agent *ag, uint64_t min_rows)
{
	uint64_t n = 0;

	if (journal_ledger_fold(ag->journal, min_rows, &n) != WH_OK)
		log_warnx("ledger: folding: %s", journal_errmsg(ag->journal));
	else if (n > 0)
		log_debug("ledger: folded %" PRIu64 " balance changes", n);
	if (n > 0 || min_rows <= 1)
		ag->folded_ms = platform_mono_ms();
}

/* Says what the quarantine's bounds evicted, and deletes what is past quarantine_keep_days
 * (once an hour). */
static void
quarantine_bounds(struct agent *ag)
{
	const struct conf_journal *cj = &ag->conf->journal;
	uint64_t n = journal_quarantine_take_evicted(ag->journal);
	int64_t now = platform_now_ms(), old = 0;

	if (n > 0)
		LOG_LIMITED(LOG_LVL_WARN,
			    "journal: the quarantine is at its bound (quarantine_max_rows %ld, "
			    "quarantine_max_bytes %" PRId64 "): evicted its %" PRIu64
			    " oldest records",
			    cj->quarantine_max_rows,
			    conf_journal_opts(ag->conf, 0).quarantine_max_bytes, n);
	if (cj->quarantine_keep_days == 0 || now - ag->expired_ms < EXPIRE_EVERY_MS)
		return;
	ag->expired_ms = now;
	if (journal_quarantine_purge(
		    ag->journal, now - (int64_t)cj->quarantine_keep_days * 86400000, &old) != WH_OK)
		log_warnx("journal: expiring quarantined records: %s", journal_errmsg(ag->journal));
	else if (old > 0)
		log_info("journal: deleted %" PRId64 " quarantined records older than %ld days",
			 old, cj->quarantine_keep_days);
}

/* The ballast is made again once the free space is back above the reserve plus its size. */
static void
restore_ballast(struct agent *ag)
{
	int rc = ballast_restore(&ag->ballast, ag->conf->journal.reserve_bytes);

	if (rc > 0)
		log_info("journal: made the ballast %s (%" PRIu64 " bytes held back for a full "
			 "disk)",
			 ag->ballast.path, ag->ballast.bytes);
	else if (rc < 0 && errno != ENOSPC)
		log_debug("journal: cannot make the ballast %s: %s", ag->ballast.path,
			  strerror(errno));
}

static void
on_fold_timer(void *arg)
{
	struct agent *ag = arg;

	fold_ledger(ag, platform_mono_ms() - ag->folded_ms >= FOLD_MAX_MS ? 1 : FOLD_ROWS);
	quarantine_bounds(ag);
	restore_ballast(ag);
	loop_timer_arm(&ag->fold_timer, FOLD_CHECK_MS);
}

static void
on_idle_check(void *arg)
{
	struct agent *ag = arg;

	int idle = ag->uplink == NULL || uplink_idle(ag->uplink);

	for (int i = 0; i < ag->nspools; i++)
		idle = idle && spool_idle(ag->spools[i]);
	for (int i = 0; i < ag->ntables; i++)
		idle = idle && table_idle(ag->tables[i]);
	if (idle)
		loop_stop(ag->loop);
	else
		loop_timer_arm(&ag->idle_timer, IDLE_CHECK_MS);
}

static void
on_commit(void *arg)
{
	uplink_notify(arg);
}

/* Events another process journaled (`whagent quarantine requeue`) are published at once:
 * SQLite's data_version, cheap and without any signal or pid to trust, says when. */
static void
on_outside_timer(void *arg)
{
	struct agent *ag = arg;
	int64_t v = journal_data_version(ag->journal);

	if (v != ag->data_version) {
		ag->data_version = v;
		uplink_notify(ag->uplink);
	}
	loop_timer_arm(&ag->outside_timer, OUTSIDE_MS);
}

static void
on_drain_deadline(void *arg)
{
	loop_stop(arg);
}

/* Waits up to drain_timeout_ms for the batches in flight, then says goodbye. */
static void
drain(struct agent *ag)
{
	loop_resume(ag->loop);
	loop_timer_add(ag->loop, &ag->drain_timer, on_drain_deadline, ag->loop);
	loop_timer_arm(&ag->drain_timer, ag->conf->mqtt.drain_timeout_ms);
	uplink_drain(ag->uplink);
	loop_run(ag->loop);
	loop_timer_del(ag->loop, &ag->drain_timer);
	uplink_shutdown(ag->uplink);
}

/* The journal belongs to the site that wrote it: (site_id, journal_id, seq) names an event end
 * to end. A journal without a site (a new one, or one of an earlier version) takes ours. */
static int
check_site(struct agent *ag)
{
	char site[128];
	wh_err err = journal_meta_get(ag->journal, "site_id", site, sizeof(site));

	if (err == WH_ERR_NOTFOUND)
		err = journal_meta_set(ag->journal, "site_id", ag->conf->agent.site_id);
	else if (err == WH_OK && strcmp(site, ag->conf->agent.site_id) != 0) {
		log_errx("journal %s was written by site %s, the configuration says site %s: "
			 "(site_id, journal_id, seq) would no longer name its events. Restore "
			 "site_id = %s, or, once its backlog is drained (whagent status), move the "
			 "journal away or set a new state_dir to start a new journal for site %s",
			 ag->conf->journal.path, site, ag->conf->agent.site_id, site,
			 ag->conf->agent.site_id);
		return -1;
	}
	if (err != WH_OK) {
		log_errx("journal %s: site_id: %s: %s", ag->conf->journal.path, wh_strerror(err),
			 journal_errmsg(ag->journal));
		return -1;
	}
	return 0;
}

static int
open_journal(struct agent *ag)
{
	struct journal_opts jo = conf_journal_opts(ag->conf, 0);
	char pid[24], report[2048];
	uint64_t free_bytes = 0;
	wh_err err;

	if (mkdir(ag->conf->agent.state_dir, 0750) == 0) {
		/* durable before the journal in it acknowledges anything (a power cut test showed
		 * it) */
		if (platform_fs_sync_parent(ag->conf->agent.state_dir) != 0)
			log_warn("cannot sync the folder holding state_dir %s",
				 ag->conf->agent.state_dir);
	} else if (errno != EEXIST) {
		log_warn("cannot create state_dir %s", ag->conf->agent.state_dir);
		return -1;
	}
	if (ballast_init(&ag->ballast, ag->conf->journal.path, BALLAST_BYTES) == 0 &&
	    ballast_release_if_short(&ag->ballast, &free_bytes) > 0)
		log_warnx("journal: %" PRIu64 " bytes free on %s: released the ballast %s (%" PRIu64
			  " bytes) so that the journal opens; made again once there is room",
			  free_bytes, ag->ballast.dir, ag->ballast.path, ag->ballast.bytes);
	err = salvage_if_damaged(ag->conf->journal.path, &jo, (int)ag->conf->journal.damaged_keep,
				 report, sizeof(report));
	if (report[0] != '\0')
		log_errx("%s", report);
	if (err == WH_OK)
		err = journal_open(ag->conf->journal.path, &jo, &ag->journal);
	if (err == WH_OK)
		err = journal_start_session(ag->journal, &ag->session);
	if (err == WH_OK && check_site(ag) != 0)
		return -1;
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	if (err == WH_OK)
		err = journal_meta_set(ag->journal, "agent_pid", pid);
	if (err != WH_OK) {
		log_errx("journal %s: %s: %s", ag->conf->journal.path, wh_strerror(err),
			 ag->journal ? journal_errmsg(ag->journal) : "");
		return -1;
	}
	log_info("journal %s (id %s), session %" PRIu64, ag->conf->journal.path,
		 journal_id(ag->journal), ag->session);
	restore_ballast(ag);
	return 0;
}

static int
start_health(struct agent *ag)
{
	const struct intake *in[HEALTH_MAX_INPUTS];
	int n = 0;
	wh_err e;

	if ((e = health_new(ag->conf, &ag->health)) != WH_OK) {
		log_errx("health: %s", wh_strerror(e));
		return -1;
	}
	for (int i = 0; i < ag->nspools && n < HEALTH_MAX_INPUTS; i++)
		in[n++] = spool_intake(ag->spools[i]);
	for (int i = 0; i < ag->ntables && n < HEALTH_MAX_INPUTS; i++)
		in[n++] = table_intake(ag->tables[i]);
	if (ag->http != NULL && n < HEALTH_MAX_INPUTS)
		in[n++] = http_intake(ag->http);
	health_set_inputs(ag->health, in, n);
	if (ag->uplink != NULL)
		uplink_on_status(ag->uplink, status_health, ag);
	loop_timer_add(ag->loop, &ag->health_timer, on_health_timer, ag);
	loop_timer_arm(&ag->health_timer, 0);
	return 0;
}

int
agent_run(const struct agent_opts *o)
{
	struct agent ag = {.opts = o};
	char err[512];
	int status = 1, sig;
	wh_err e;

	if (conf_load(o->conf_path, &ag.conf, err, sizeof(err)) != WH_OK) {
		log_errx("%s", err);
		return 1;
	}
	log_set_level((enum log_level)ag.conf->agent.log_level);
	if (conf_site_placeholder(ag.conf->agent.site_id)) {
		log_errx("%s: [agent] site_id = %s is a placeholder: set the warehouse's id (the "
			 "journal is made for it), then start again",
			 o->conf_path, ag.conf->agent.site_id);
		goto out;
	}
	/* The loop first: its signal handlers turn an early SIGTERM into a clean stop. */
	if ((e = loop_new(&ag.loop)) != WH_OK) {
		log_errx("event loop: %s", wh_strerror(e));
		goto out;
	}
	if (open_journal(&ag) != 0)
		goto out;
	loop_on_reload(ag.loop, on_reload, &ag);
	if (ag.conf->mqtt.host[0] != '\0') {
		open_live_state(&ag);
		if (uplink_new(ag.conf, ag.journal, ag.loop, ag.session, &ag.uplink, err,
			       sizeof(err)) != WH_OK) {
			log_errx("uplink: %s", err);
			goto out;
		}
		journal_on_commit(ag.journal, on_commit, ag.uplink);
		uplink_on_change(ag.uplink, on_live_change, &ag);
		write_live(&ag);
		ag.data_version = journal_data_version(ag.journal);
		loop_timer_add(ag.loop, &ag.outside_timer, on_outside_timer, &ag);
		loop_timer_arm(&ag.outside_timer, OUTSIDE_MS);
	}
	for (int i = 0; i < conf_spool_count(ag.conf); i++) {
		const struct conf_spool *cs = conf_spool_at(ag.conf, i);

		if (spool_new(ag.conf, cs, ag.journal, ag.loop, &ag.spools[i], err, sizeof(err)) !=
		    WH_OK) {
			log_errx("%s input: %s", cs->name, err);
			goto out;
		}
		ag.nspools = i + 1;
	}
	for (int i = 0; i < conf_table_count(ag.conf); i++) {
		const struct conf_table *ct = conf_table_at(ag.conf, i);

		if (table_new(ag.conf, ct, ag.journal, ag.loop, &ag.tables[i], err, sizeof(err)) !=
		    WH_OK) {
			log_errx("%s input: %s", ct->name, err);
			goto out;
		}
		ag.ntables = i + 1;
	}
	if (ag.conf->http.enabled && http_new(ag.conf, ag.journal, ag.loop, on_page, &ag, &ag.http,
					      err, sizeof(err)) != WH_OK) {
		log_errx("http input: %s", err);
		goto out;
	}
	if (ag.http != NULL)
		http_on_action(ag.http, on_action, &ag);
	if (start_health(&ag) != 0)
		goto out;
	if (ag.conf->metrics.textfile[0] != '\0') {
		loop_timer_add(ag.loop, &ag.textfile_timer, on_textfile_timer, &ag);
		loop_timer_arm(&ag.textfile_timer, 0);
	}
	if (o->until_idle) {
		loop_timer_add(ag.loop, &ag.idle_timer, on_idle_check, &ag);
		loop_timer_arm(&ag.idle_timer, IDLE_CHECK_MS);
	}
	/* Ready once configuration, journal and inputs are: the broker is not waited for. */
	ag.watchdog_ms = platform_watchdog_ms();
	loop_timer_add(ag.loop, &ag.notify_timer, on_notify_timer, &ag);
	loop_timer_arm(&ag.notify_timer, 0);
	ag.folded_ms = platform_mono_ms();
	loop_timer_add(ag.loop, &ag.fold_timer, on_fold_timer, &ag);
	loop_timer_arm(&ag.fold_timer, FOLD_CHECK_MS);
	platform_notify("READY=1");
	log_info("running (site %s)", ag.conf->agent.site_id);
	sig = loop_run(ag.loop);
	log_info("stopping%s%s", sig ? " on " : "", sig ? strsignal(sig) : "");
	platform_notify("STOPPING=1");
	if (ag.conf->metrics.textfile[0] != '\0')
		on_textfile_timer(&ag); /* the last figures */
	loop_timer_disarm(&ag.health_timer);
	health_set_inputs(ag.health, NULL, 0); /* they go now */
	free_spools(&ag);		       /* stop taking input */
	http_free(ag.http);
	ag.http = NULL;
	if (ag.uplink != NULL) {
		loop_timer_disarm(&ag.outside_timer);
		drain(&ag);
	}
	fold_ledger(&ag, 1);
	status = 0;
out:
	if (ag.journal != NULL)
		journal_on_commit(ag.journal, NULL, NULL);
	if (ag.uplink != NULL)
		uplink_on_status(ag.uplink, NULL, NULL);
	uplink_free(ag.uplink);
	http_free(ag.http);
	free_spools(&ag);
	if (ag.health != NULL)
		loop_timer_del(ag.loop, &ag.health_timer);
	health_free(ag.health);
	loop_free(ag.loop);
	journal_close(ag.journal);
	conf_free(ag.conf);
	return status;
}
