/* The alarms, the clock's quality and the status page's history: fed once a second by the
 * agent (health_tick), read by status, metrics, /healthz, the Status message and the page. */
#include "health.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "intake.h"
#include "log.h"
#include "mem.h"
#include "platform.h"

#define LINK_DOWN_GRACE_MS 5000		 /* a reconnect is not an alarm */
#define FLAG_SHOWN_MS	   (3600 * 1000) /* a clock jump or a flagged event_time: alarm this long */

struct sample {
	int64_t t_ms;
	uint64_t backlog;
	int64_t oldest_age_s;
	uint32_t events; /* taken in the interval, every input */
};

struct watched {
	const struct intake *in;
	long silence_s;
	struct hours hours;
	const char *tz;
	uint64_t seen;	  /* records of any outcome, as last counted */
	int64_t alive_ms; /* last record, or start, or the opening of operating hours */
	int inside;	  /* inside operating hours at the last tick */
	uint64_t prev_taken[EVENT_SHIPMENT + 1]; /* at the last sample */
	uint32_t per_min[EVENT_SHIPMENT + 1];	 /* taken per minute over the last interval */
	uint64_t flagged;			 /* time_ahead + time_behind as last counted */
};

struct health {
	const struct conf *conf;
	struct watched in[HEALTH_MAX_INPUTS];
	int nin;
	struct health_alarm alarm[HEALTH_SILENCE + HEALTH_MAX_INPUTS];
	int64_t started_ms;
	/* ack stall */
	uint64_t stall_acks; /* acks when the stall was found; cleared by the next ack */
	char stall_text[200];
	/* clock */
	int have_offset;
	int64_t offset_ms; /* wall - mono at the last step */
	struct health_clock clock;
	int64_t flagged_ms; /* last event_time flagged */
	/* history */
	struct sample ring[HEALTH_HISTORY];
	int head, count;
	int64_t sample_mono_ms;
	uint64_t prev_events;
};

static uint64_t
seen(const struct intake *in)
{
	const struct intake_counts *t = &in->total;
	uint64_t n = t->duplicates + t->unparsable + t->invalid;

	for (int k = 0; k <= EVENT_SHIPMENT; k++)
		n += t->taken[k];
	return n;
}

static uint64_t
taken(const struct intake *in)
{
	uint64_t n = 0;

	for (int k = 0; k <= EVENT_SHIPMENT; k++)
		n += in->total.taken[k];
	return n;
}

/* Raises (text not NULL) or clears alarm i; logs the change once. */
static void
set_alarm(struct health *h, int i, const char *name, const char *text)
{
	struct health_alarm *a = &h->alarm[i];

	if (text == NULL) {
		if (a->active)
			log_info("alarm cleared: %s", a->name);
		a->active = 0;
		return;
	}
	snprintf(a->name, sizeof(a->name), "%s", name);
	snprintf(a->text, sizeof(a->text), "%s", text);
	if (!a->active) {
		a->since_ms = platform_now_ms();
		a->active = 1;
		log_warnx("alarm: %s: %s", a->name, a->text);
	}
}

wh_err
health_new(const struct conf *c, struct health **ret_h)
{
	struct health *h = wh_calloc(1, sizeof(*h));

	if (h == NULL)
		return WH_ERR_NOMEM;
	h->conf = c;
	h->started_ms = platform_now_ms();
	h->sample_mono_ms = platform_mono_ms();
	h->clock.synced = platform_clock_synced();
	platform_boot_id(h->clock.boot_id, sizeof(h->clock.boot_id));
	*ret_h = h;
	return WH_OK;
}

void
health_free(struct health *h)
{
	wh_free(h);
}

/* The silence settings of input w->in from c. */
static void
watch_conf(struct watched *w, const struct conf *c)
{
	const struct conf_spool *sp = NULL;
	const struct conf_table *tb = NULL;
	const char *hours = "";
	char why[128];

	w->silence_s = 0;
	w->tz = NULL;
	if (strcmp(w->in->input, "http") == 0) {
		w->silence_s = c->http.silence_alarm_s;
		hours = c->http.operating_hours;
		w->tz = c->http.timezone;
	} else if ((sp = conf_spool_find(c, w->in->input)) != NULL) {
		w->silence_s = sp->silence_alarm_s;
		hours = sp->operating_hours;
		w->tz = sp->timezone;
	} else if ((tb = conf_table_find(c, w->in->input)) != NULL) {
		w->silence_s = tb->silence_alarm_s;
		hours = tb->operating_hours;
		w->tz = tb->timezone;
	}
	if (hours_parse(hours, &w->hours, why, sizeof(why)) != 0)
		memset(&w->hours, 0, sizeof(w->hours)); /* conf_load checked it */
}

void
health_reconfigure(struct health *h, const struct conf *c)
{
	h->conf = c;
	for (int i = 0; i < h->nin; i++)
		watch_conf(&h->in[i], c);
}

void
health_set_inputs(struct health *h, const struct intake *const *in, int n)
{
	int64_t now = platform_now_ms();

	if (n > HEALTH_MAX_INPUTS)
		n = HEALTH_MAX_INPUTS;
	for (int i = 0; i < n; i++) {
		struct watched *w = &h->in[i];

		memset(w, 0, sizeof(*w));
		w->in = in[i];
		w->seen = seen(in[i]);
		w->alive_ms = now;
		for (int k = 0; k <= EVENT_SHIPMENT; k++)
			w->prev_taken[k] = in[i]->total.taken[k];
		watch_conf(w, h->conf);
	}
	for (int i = n; i < h->nin; i++)
		h->alarm[HEALTH_SILENCE + i].active = 0;
	h->nin = n;
}

int
health_clock_step(struct health *h, int64_t wall_ms, int64_t mono_ms, int64_t *ret_delta_ms)
{
	int64_t off = wall_ms - mono_ms, d = off - h->offset_ms;
	int jumped = h->have_offset &&
		     (d > h->conf->health.clock_jump_ms || -d > h->conf->health.clock_jump_ms);

	*ret_delta_ms = h->have_offset ? d : 0;
	/* small drift (NTP slewing) moves the reference along; a jump resets it */
	h->offset_ms = off;
	h->have_offset = 1;
	if (jumped) {
		h->clock.jumps++;
		h->clock.last_jump_ms = wall_ms;
		h->clock.last_jump_delta_ms = d;
	}
	return jumped;
}

static void
check_clock(struct health *h, int64_t now)
{
	char text[200];
	int64_t d;

	if (health_clock_step(h, now, platform_mono_ms(), &d))
		log_warnx("clock: the wall clock jumped by %+" PRId64 " ms against the monotonic "
			  "clock (captured_at of events around %" PRId64 " is suspect)",
			  d, now);
	h->clock.synced = platform_clock_synced();
	set_alarm(h, HEALTH_CLOCK_UNSYNCED, "clock_unsynced",
		  h->clock.synced == 0 ? "the kernel says the wall clock is not synchronised "
					 "(NTP): captured_at times may be off"
				       : NULL);
	if (h->clock.jumps > 0 && now - h->clock.last_jump_ms < FLAG_SHOWN_MS) {
		snprintf(text, sizeof(text),
			 "the wall clock jumped by %+" PRId64 " ms (%" PRIu64 " jumps since start)",
			 h->clock.last_jump_delta_ms, h->clock.jumps);
		set_alarm(h, HEALTH_CLOCK_JUMP, "clock_jump", text);
	} else {
		set_alarm(h, HEALTH_CLOCK_JUMP, NULL, NULL);
	}
}

static void
check_inputs(struct health *h, int64_t now)
{
	uint64_t flagged = 0;
	char text[320], name[48];

	for (int i = 0; i < h->nin; i++) {
		struct watched *w = &h->in[i];
		uint64_t n = seen(w->in), f = w->in->total.time_ahead + w->in->total.time_behind;
		int inside = hours_inside(&w->hours, w->tz, now);

		if (n != w->seen) {
			w->seen = n;
			w->alive_ms = now;
		}
		if (inside && !w->inside && w->alive_ms < now)
			w->alive_ms = now; /* silence counts from the opening of the hours */
		w->inside = inside;
		if (f != w->flagged) {
			w->flagged = f;
			h->flagged_ms = now;
		}
		flagged += f;
		snprintf(name, sizeof(name), "silence:%s", w->in->input);
		if (w->silence_s > 0 && inside &&
		    now - w->alive_ms >= (int64_t)w->silence_s * 1000) {
			snprintf(text, sizeof(text),
				 "no record from input %s for %" PRId64 " s inside its operating "
				 "hours (silence_alarm_s = %ld): is the WMS sending?",
				 w->in->input, (now - w->alive_ms) / 1000, w->silence_s);
			set_alarm(h, HEALTH_SILENCE + i, name, text);
		} else {
			set_alarm(h, HEALTH_SILENCE + i, name, NULL);
		}
	}
	h->clock.time_flagged = flagged;
	if (flagged > 0 && now - h->flagged_ms < FLAG_SHOWN_MS) {
		snprintf(text, sizeof(text),
			 "%" PRIu64 " events since start had an event_time out of range "
			 "(event_time_ahead_s = %ld, event_time_behind_s = %ld): the WMS's clock?",
			 flagged, h->conf->health.event_time_ahead_s,
			 h->conf->health.event_time_behind_s);
		set_alarm(h, HEALTH_EVENT_TIME, "event_time", text);
	} else {
		set_alarm(h, HEALTH_EVENT_TIME, NULL, NULL);
	}
}

static void
sample(struct health *h, const struct health_facts *f, int64_t now)
{
	int64_t mono = platform_mono_ms(), every = (int64_t)h->conf->health.history_sample_s * 1000;
	uint64_t events = 0;
	struct sample *s;

	if (!health_sample_due(h))
		return;
	for (int i = 0; i < h->nin; i++) {
		struct watched *w = &h->in[i];

		events += taken(w->in);
		for (int k = 0; k <= EVENT_SHIPMENT; k++) {
			uint64_t d = w->in->total.taken[k] - w->prev_taken[k];

			w->per_min[k] = (uint32_t)(d * 60000 / (uint64_t)(every > 0 ? every : 1));
			w->prev_taken[k] = w->in->total.taken[k];
		}
	}
	h->sample_mono_ms = mono;
	s = &h->ring[h->head];
	s->t_ms = now;
	s->backlog = f->backlog;
	s->oldest_age_s = f->oldest_ms > 0 ? (now - f->oldest_ms) / 1000 : 0;
	s->events = (uint32_t)(events - h->prev_events);
	h->prev_events = events;
	h->head = (h->head + 1) % HEALTH_HISTORY;
	if (h->count < HEALTH_HISTORY)
		h->count++;
}

int
health_tick(struct health *h, const struct health_facts *f)
{
	int64_t now = platform_now_ms(), stall = (int64_t)h->conf->health.ack_stall_s * 1000;
	int found = 0;
	char text[200];

	if (f->uplink && !f->connected && f->link_down_since_ms > 0 &&
	    now - f->link_down_since_ms >= LINK_DOWN_GRACE_MS) {
		snprintf(text, sizeof(text), "the MQTT link to the broker is down");
		set_alarm(h, HEALTH_LINK_DOWN, "link_down", text);
		h->alarm[HEALTH_LINK_DOWN].since_ms = f->link_down_since_ms;
	} else {
		set_alarm(h, HEALTH_LINK_DOWN, NULL, NULL);
	}
	if (h->alarm[HEALTH_ACK_STALL].active && f->acks != h->stall_acks)
		set_alarm(h, HEALTH_ACK_STALL, NULL, NULL);
	if (stall > 0 && f->connected && f->inflight > 0 && f->stalled_ms >= stall) {
		snprintf(h->stall_text, sizeof(h->stall_text),
			 "connected, %d batches in flight and no PUBACK for %" PRId64
			 " s (ack_stall_s = %ld): the broker takes and does not acknowledge; "
			 "reconnecting",
			 f->inflight, f->stalled_ms / 1000, h->conf->health.ack_stall_s);
		set_alarm(h, HEALTH_ACK_STALL, "ack_stall", h->stall_text);
		h->stall_acks = f->acks;
		found = 1;
	}
	set_alarm(h, HEALTH_JOURNAL, "journal", f->journal_refuses);
	check_clock(h, now);
	check_inputs(h, now);
	sample(h, f, now);
	return found;
}

int
health_sample_due(const struct health *h)
{
	return h->count == 0 || platform_mono_ms() - h->sample_mono_ms >=
					(int64_t)h->conf->health.history_sample_s * 1000;
}

const char *
health_stall_text(const struct health *h)
{
	return h->stall_text;
}

int
health_alarm_count(const struct health *h)
{
	int n = 0;

	for (int i = 0; i < HEALTH_SILENCE + h->nin; i++)
		n += h->alarm[i].active;
	return n;
}

const struct health_alarm *
health_alarm_at(const struct health *h, int i)
{
	for (int k = 0; k < HEALTH_SILENCE + h->nin; k++)
		if (h->alarm[k].active && i-- == 0)
			return &h->alarm[k];
	return NULL;
}

int
health_unhealthy(const struct health *h, char *buf, size_t len)
{
	for (int k = 0; k < HEALTH_SILENCE + h->nin; k++) {
		if (!h->alarm[k].active || (k != HEALTH_ACK_STALL && k < HEALTH_SILENCE))
			continue;
		snprintf(buf, len, "%s: %s", h->alarm[k].name, h->alarm[k].text);
		return 1;
	}
	return 0;
}

void
health_clock(const struct health *h, struct health_clock *ret)
{
	*ret = h->clock;
}

static cJSON *
input_json(const struct watched *w)
{
	cJSON *o = cJSON_CreateObject(), *pm = cJSON_AddObjectToObject(o, "per_minute");
	const struct intake_counts *t = &w->in->total;

	cJSON_AddStringToObject(o, "name", w->in->input);
	cJSON_AddNumberToObject(o, "last_record_ms", (double)w->in->last_ms);
	cJSON_AddStringToObject(o, "last_position", w->in->last_position);
	cJSON_AddNumberToObject(o, "taken", (double)taken(w->in));
	cJSON_AddNumberToObject(o, "duplicates", (double)t->duplicates);
	cJSON_AddNumberToObject(o, "quarantined", (double)(t->unparsable + t->invalid));
	cJSON_AddNumberToObject(o, "event_time_flagged", (double)(t->time_ahead + t->time_behind));
	cJSON_AddNumberToObject(o, "silence_alarm_s", (double)w->silence_s);
	cJSON_AddBoolToObject(o, "inside_operating_hours", w->inside);
	for (int k = 0; k <= EVENT_SHIPMENT; k++)
		if (w->per_min[k] > 0 || t->taken[k] > 0)
			cJSON_AddNumberToObject(pm, event_kind_name((enum event_kind)k),
						w->per_min[k]);
	return o;
}

static void
history_json(const struct health *h, cJSON *o)
{
	cJSON *hi = cJSON_AddObjectToObject(o, "history");
	cJSON *t = cJSON_AddArrayToObject(hi, "t_ms"), *b = cJSON_AddArrayToObject(hi, "backlog");
	cJSON *a = cJSON_AddArrayToObject(hi, "oldest_age_s");
	cJSON *e = cJSON_AddArrayToObject(hi, "events");

	cJSON_AddNumberToObject(hi, "sample_s", (double)h->conf->health.history_sample_s);
	for (int i = 0; i < h->count; i++) {
		const struct sample *s =
			&h->ring[(h->head - h->count + i + HEALTH_HISTORY) % HEALTH_HISTORY];

		cJSON_AddItemToArray(t, cJSON_CreateNumber((double)s->t_ms));
		cJSON_AddItemToArray(b, cJSON_CreateNumber((double)s->backlog));
		cJSON_AddItemToArray(a, cJSON_CreateNumber((double)s->oldest_age_s));
		cJSON_AddItemToArray(e, cJSON_CreateNumber(s->events));
	}
}

wh_err
health_json(const struct health *h, cJSON *o, int detail)
{
	cJSON *al = cJSON_AddArrayToObject(o, "alarms"), *ck = cJSON_AddObjectToObject(o, "clock");
	cJSON *in = cJSON_AddArrayToObject(o, "inputs");
	const struct health_alarm *a;

	if (al == NULL || ck == NULL || in == NULL)
		return WH_ERR_NOMEM;
	for (int i = 0; (a = health_alarm_at(h, i)) != NULL; i++) {
		cJSON *x = cJSON_CreateObject();

		cJSON_AddStringToObject(x, "name", a->name);
		cJSON_AddStringToObject(x, "text", a->text);
		cJSON_AddNumberToObject(x, "since_ms", (double)a->since_ms);
		cJSON_AddItemToArray(al, x);
	}
	if (h->clock.synced < 0)
		cJSON_AddNullToObject(ck, "ntp_synced");
	else
		cJSON_AddBoolToObject(ck, "ntp_synced", h->clock.synced);
	cJSON_AddStringToObject(ck, "boot_id", h->clock.boot_id);
	cJSON_AddNumberToObject(ck, "jumps", (double)h->clock.jumps);
	cJSON_AddNumberToObject(ck, "last_jump_ms", (double)h->clock.last_jump_ms);
	cJSON_AddNumberToObject(ck, "last_jump_delta_ms", (double)h->clock.last_jump_delta_ms);
	cJSON_AddNumberToObject(ck, "event_time_flagged", (double)h->clock.time_flagged);
	cJSON_AddNumberToObject(ck, "now_ms", (double)platform_now_ms());
	cJSON_AddNumberToObject(ck, "mono_offset_ms",
				(double)(platform_now_ms() - platform_mono_ms()));
	for (int i = 0; i < h->nin; i++)
		cJSON_AddItemToArray(in, input_json(&h->in[i]));
	if (detail)
		history_json(h, o);
	return WH_OK;
}
