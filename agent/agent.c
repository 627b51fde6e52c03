/* The daemon's wiring: configuration, journal, loop and inputs, reload and clean stop. */
#include "agent.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ballast.h"
#include "conf.h"
#include "input_http.h"
#include "input_spool.h"
#include "journal.h"
#include "journal_ledger.h"
#include "journal_meta.h"
#include "livestate.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "metrics.h"
#include "platform.h"
#include "salvage.h"
#include "status.h"
#include "uplink.h"

#define IDLE_CHECK_MS 200
#define FOLD_CHECK_MS 1000
#define FOLD_ROWS     100000 /* ledger changes folded as soon as this many wait */
#define FOLD_MAX_MS   30000  /* and the others after this long */
#define OUTSIDE_MS    500    /* how often a commit by another process is looked for */

struct agent {
	const struct agent_opts *opts;
	struct conf *conf;
	struct journal *journal;
	struct loop *loop;
	struct spool *spools[CONF_SPOOLS_MAX];
	int nspools;
	struct http *http;
	struct uplink *uplink;
	uint64_t session;
	struct loop_timer idle_timer, drain_timer, notify_timer, textfile_timer, fold_timer;
	struct loop_timer outside_timer; /* commits by other processes (requeue) */
	struct ballast ballast;		 /* space held back beside the journal */
	int64_t data_version;
	int64_t folded_ms; /* when the ledger's changes were last folded */
	int64_t watchdog_ms;
	char status_line[200];
	char live_path[4096];  /* the live-state file; "": none */
	struct livestate prev; /* the previous run's: its last connection and error */
	int live_inflight;     /* batches in flight as last written */
	int live_failing;      /* writing the file failed (logged once) */
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
	journal_set_limits(ag->journal, c->journal.max_bytes, c->journal.reserve_bytes);
	for (int i = 0; i < ag->nspools; i++)
		spool_reconfigure(ag->spools[i], c);
	if (ag->uplink != NULL)
		uplink_reconfigure(ag->uplink, c);
	if (ag->http != NULL)
		http_reconfigure(ag->http, c);
	conf_free(ag->conf);
	ag->conf = c;
	log_info("configuration reloaded");
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

static void
free_spools(struct agent *ag)
{
	for (int i = 0; i < ag->nspools; i++)
		spool_free(ag->spools[i]);
	ag->nspools = 0;
}

static void
metrics_source(struct agent *ag, struct metrics_src *m)
{
	memset(m, 0, sizeof(*m));
	m->conf = ag->conf;
	m->journal = ag->journal;
	m->uplink = ag->uplink;
	m->http = ag->http;
	for (int i = 0; i < ag->nspools; i++)
		m->inputs[m->ninputs++] = spool_intake(ag->spools[i]);
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
	char *body = wh_malloc(1024), why[200], full[300];
	wh_err err = journal_room(ag->journal); /* no write lock */
	int behind;

	live_state(ag, &lv);
	journal_stats(ag->journal, &st);
	status_sync(ag->conf, &st, &lv, &sy);
	behind = status_unhealthy(ag->conf, &sy, why, sizeof(why));
	*ret_status = err == WH_OK && !behind ? 200 : 503;
	/* which bound: "N bytes free on DIR, reserve R" (DIR from the configuration: escaped) */
	log_escape(full, sizeof(full), lv.journal_full, strlen(lv.journal_full));
	for (char *q = full; (q = strchr(q, '"')) != NULL;)
		*q = '\'';
	if (body != NULL)
		snprintf(body, 1024,
			 "{\"status\":\"%s\",\"state\":\"%s\",\"mqtt\":\"%s\",\"backlog\":%" PRIu64
			 ",\"oldest_unsent_age_s\":%" PRId64 "%s%s%s}",
			 err != WH_OK ? health_text(err)
			 : behind     ? why
				      : "ok",
			 sy.state, lv.mqtt, sy.backlog, status_age_s(sy.oldest_ms),
			 full[0] ? ",\"journal_full\":\"" : "", full, full[0] ? "\"" : "");
	return body;
}

static char *
on_page(enum http_page page, unsigned *ret_status, const char **ret_ctype, void *arg)
{
	struct agent *ag = arg;
	struct journal_stats st;
	struct status_live lv;
	struct metrics_src m;

	switch (page) {
	case HTTP_PAGE_HEALTHZ:
		return healthz(ag, ret_status);
	case HTTP_PAGE_STATUS:
		if (journal_stats(ag->journal, &st) != WH_OK)
			return NULL;
		live_state(ag, &lv);
		return status_json(ag->conf, &st, &lv);
	case HTTP_PAGE_METRICS:
		metrics_source(ag, &m);
		*ret_ctype = "text/plain; version=0.0.4; charset=utf-8";
		return metrics_render(&m);
	}
	return NULL;
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
	loop_timer_arm(&ag->textfile_timer, ag->conf->metrics.textfile_interval_s * 1000);
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
	struct journal_opts jo = {
		.max_bytes = ag->conf->journal.max_bytes,
		.reserve_bytes = ag->conf->journal.reserve_bytes,
		.sync_normal = ag->conf->journal.synchronous == CONF_SYNC_NORMAL,
	};
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
	if (ag.conf->http.enabled && http_new(ag.conf, ag.journal, ag.loop, on_page, &ag, &ag.http,
					      err, sizeof(err)) != WH_OK) {
		log_errx("http input: %s", err);
		goto out;
	}
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
	free_spools(&ag);		/* stop taking input */
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
	uplink_free(ag.uplink);
	http_free(ag.http);
	free_spools(&ag);
	loop_free(ag.loop);
	journal_close(ag.journal);
	conf_free(ag.conf);
	return status;
}
