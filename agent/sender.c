/* The uplink's sending: batches, lanes, window, rate, watermark and pruning; and the one place
 * where sending holds after a failure and resumes from the watermark. */
#include "sender.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "crypto.h"
#include "identity.h"
#include "journal.h"
#include "journal_event.h"
#include "journal_meta.h"
#include "lanes.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "mqtt.h"
#include "platform.h"
#include "uplink.h"

#define SAVE_MS		   500 /* watermark persisted at most this often */
#define PRUNE_MS	   60000
#define CONTENT_TYPE_BATCH "application/x-protobuf;proto=whagent.v1.EventBatch"

struct inflight {
	int mid;
	uint64_t first, last;
	enum lane lane;
	size_t len;
};

struct sender {
	const struct conf *conf;
	struct journal *journal;
	struct loop *loop;
	struct mqtt *mqtt;
	const struct identity *identity;
	struct sender_cb cb;
	char topic_events[300], topic_backfill[300];
	struct codec_batch batch;
	struct inflight *win; /* batches of both lanes in flight, in no particular order */
	int nwin;
	struct lanes lanes;	 /* what to send next; the watermark and acked ranges */
	uint64_t saved;		 /* watermark persisted */
	int ranges_dirty;	 /* acked ranges changed since persisted */
	uint64_t noted_backfill; /* backfill_through as last reported */
	uint64_t prune_through;	 /* ack_mode = platform: the platform's watermark */
	int held;		 /* a batch failed: nothing goes out until the retry */
	int draining;		 /* graceful stop: nothing new goes out */
	int caught_up;		 /* connected, nothing unsent, nothing in flight */
	int64_t drain_start_ms;	 /* when this connection started sending; 0: caught up */
	uint64_t drain_from;	 /* the watermark then */
	int64_t tokens;		 /* max_bytes_per_s: bytes that may go out now (may be < 0) */
	int64_t tokens_ms;	 /* when they were counted */
	uint64_t batches, events, publish_errors;
	uint64_t acks;	     /* batches acknowledged */
	int64_t progress_ms; /* the window last moved: a batch went out into an empty one, or one
				was acknowledged */
	struct loop_timer linger_timer, save_timer, retry_timer, prune_timer, rate_timer;
};

/* --- holding --------------------------------------------------------------------------- */

/* A batch could not be made, was refused, or the acked ranges overflowed: nothing more goes
 * out until the retry after delay_ms, which resends from the watermark. */
static void
hold(struct sender *sn, int64_t delay_ms)
{
	if (sn->held)
		return;
	sn->held = 1;
	loop_timer_arm(&sn->retry_timer, delay_ms);
}

static void
note_backfill(struct sender *sn)
{
	uint64_t through = lanes_backfilling(&sn->lanes) ? sn->lanes.backfill_end : 0;

	if (through == sn->noted_backfill)
		return;
	if (through == 0)
		log_info("uplink: backfill through seq %" PRIu64 " acknowledged",
			 sn->noted_backfill);
	sn->noted_backfill = through;
	sn->cb.changed(sn->cb.arg);
}

void
sender_split(struct sender *sn)
{
	struct journal_stats st;
	int64_t age_ms;

	if (sn->conf->mqtt.backfill_after_s <= 0 || lanes_backfilling(&sn->lanes) ||
	    journal_stats(sn->journal, &st) != WH_OK || st.oldest_unsent_ms == 0)
		goto out;
	age_ms = platform_now_ms() - st.oldest_unsent_ms;
	if (age_ms < (int64_t)sn->conf->mqtt.backfill_after_s * 1000)
		goto out;
	lanes_split(&sn->lanes, st.last_seq);
	if (lanes_backfilling(&sn->lanes))
		log_info("uplink: a backlog of %" PRIu64 " events (oldest %" PRId64
			 " s) drains on %s through seq %" PRIu64 "; new events go out on %s",
			 st.last_seq - sn->lanes.acked, age_ms / 1000, sn->topic_backfill,
			 st.last_seq, sn->topic_events);
out:
	note_backfill(sn);
}

/* After a hold: forget the window and resend from the watermark. */
static void
on_retry(void *arg)
{
	struct sender *sn = arg;

	sn->held = 0;
	sn->nwin = 0;
	if (sn->draining) { /* what was refused is sent at the next start */
		loop_stop(sn->loop);
		return;
	}
	lanes_restart(&sn->lanes);
	sender_split(sn);
	sn->cb.pump(sn->cb.arg);
}

/* --- watermark ------------------------------------------------------------------------ */

static void
save_watermark(struct sender *sn)
{
	int64_t pruned = 0;
	char text[2048];
	wh_err err;

	if (sn->lanes.acked > sn->saved) {
		if (journal_ack(sn->journal, sn->lanes.acked) != WH_OK) {
			log_warnx("uplink: saving the watermark: %s", journal_errmsg(sn->journal));
			loop_timer_arm_soon(&sn->save_timer, SAVE_MS);
			return;
		}
		sn->saved = sn->lanes.acked;
	}
	if (sn->ranges_dirty) {
		lanes_format(&sn->lanes, text, sizeof(text));
		if (journal_meta_set(sn->journal, "acked_ranges", text) != WH_OK)
			log_warnx("uplink: recording acked_ranges: %s",
				  journal_errmsg(sn->journal));
		sn->ranges_dirty = 0;
	}
	err = journal_prune_retained(
		sn->journal, platform_now_ms() - (int64_t)sn->conf->mqtt.retention_s * 1000,
		sn->conf->mqtt.ack_mode == CONF_ACK_PLATFORM ? sn->prune_through : UINT64_MAX,
		&pruned);
	if (err != WH_OK)
		log_warnx("uplink: pruning: %s", journal_errmsg(sn->journal));
	else if (pruned > 0)
		log_debug("uplink: pruned %" PRId64 " acknowledged events", pruned);
}

static void
on_save_timer(void *arg)
{
	save_watermark(arg);
}

static void
on_prune_timer(void *arg)
{
	struct sender *sn = arg;

	save_watermark(sn);
	loop_timer_arm(&sn->prune_timer, PRUNE_MS);
}

void
sender_prune_through(struct sender *sn, uint64_t through)
{
	sn->prune_through = through;
	loop_timer_arm_soon(&sn->save_timer, SAVE_MS);
}

/* A batch was acknowledged: the watermark moves over what is now contiguous. */
static void
acked(struct sender *sn, struct inflight w)
{
	if (lanes_ack(&sn->lanes, w.lane, w.first, w.last) < 0) {
		log_warnx("uplink: too many acknowledged ranges; resending from seq %" PRIu64,
			  sn->lanes.acked + 1);
		hold(sn, 0);
	}
	sn->ranges_dirty = 1;
	sn->acks++;
	sn->progress_ms = platform_mono_ms();
	if (!sn->held)
		mqtt_link_ok(sn->mqtt); /* sending works again */
	note_backfill(sn);
	loop_timer_arm_soon(&sn->save_timer, SAVE_MS);
}

int
sender_published(struct sender *sn, int mid, const char *refused)
{
	int found = 0;

	for (int i = 0; i < sn->nwin; i++) {
		if (sn->win[i].mid != mid)
			continue;
		if (refused != NULL) {
			sn->publish_errors++;
			mqtt_record_error(sn->mqtt,
					  "broker refused batch seq %" PRIu64 "-%" PRIu64
					  ": %s; resending after backoff",
					  sn->win[i].first, sn->win[i].last, refused);
			hold(sn, sn->conf->mqtt.reconnect_min_ms);
			return -1;
		}
		acked(sn, sn->win[i]);
		sn->win[i] = sn->win[--sn->nwin];
		found = 1;
		break;
	}
	if (sn->draining && sn->nwin == 0)
		loop_stop(sn->loop);
	return found;
}

/* --- publishing ----------------------------------------------------------------------- */

int
sender_rate_ok(struct sender *sn)
{
	int64_t rate = sn->conf->mqtt.max_bytes_per_s, now = platform_mono_ms();
	int64_t burst = rate / 4 > 0 ? rate / 4 : 1, elapsed = now - sn->tokens_ms;

	if (rate <= 0)
		return 1;
	sn->tokens += (elapsed < 1000 ? elapsed : 1000) * rate / 1000;
	sn->tokens_ms = now;
	if (sn->tokens > burst)
		sn->tokens = burst;
	if (sn->tokens > 0)
		return 1;
	loop_timer_arm_soon(&sn->rate_timer, 1 + (-sn->tokens * 1000) / rate);
	return 0;
}

void
sender_spend(struct sender *sn, size_t len)
{
	if (sn->conf->mqtt.max_bytes_per_s > 0)
		sn->tokens -= (int64_t)len;
}

static void
add_event(uint64_t seq, const uint8_t *payload, size_t len, void *arg)
{
	struct sender *sn = arg;

	if (codec_batch_add(&sn->batch, seq, payload, len) != 0)
		log_errx("uplink: event %" PRIu64 " does not fit a batch",
			 seq); /* sized so it does */
}

/* Signs the finished batch b with sign_batches. 0, or -1 (recorded). */
static int
sign_batch(struct sender *sn, struct codec_batch *b)
{
	uint8_t sig[CRYPTO_SIG_MAX];
	size_t sig_len = 0;

	if (sn->identity->signer == NULL)
		return 0;
	if (crypto_sign(sn->identity->signer, b->buf, b->len, sig, &sig_len) != 0 ||
	    codec_batch_add_signature(b, sig, sig_len,
				      crypto_signer_fingerprint(sn->identity->signer),
				      32) != WH_OK) {
		mqtt_record_error(sn->mqtt, "signing a batch failed; not sending unsigned");
		return -1;
	}
	return 0;
}

/* Reads the next page after seq `after` into the batch, finished and signed. The events in it
 * (0: none), or -1 with sending held. */
static int
make_batch(struct sender *sn, uint64_t after, int max_events, enum codec_batch_kind kind)
{
	struct codec_batch *b = &sn->batch;
	int count = 0;

	codec_batch_reset(b);
	if (journal_read_page(sn->journal, after, max_events,
			      (size_t)sn->conf->mqtt.batch_max_bytes, add_event, sn,
			      &count) != WH_OK) {
		mqtt_record_error(sn->mqtt, "reading the journal: %s", journal_errmsg(sn->journal));
		goto fail;
	}
	if (b->nevents == 0)
		return 0;
	if (codec_batch_finish(b, sn->conf->agent.site_id, journal_id(sn->journal), kind) !=
		    WH_OK ||
	    sign_batch(sn, b) != 0)
		goto fail;
	return b->nevents;
fail:
	hold(sn, sn->conf->mqtt.reconnect_min_ms);
	return -1;
}

int
sender_send(struct sender *sn, uint64_t after, int max_events, enum codec_batch_kind kind,
	    const char *topic, int *ret_mid, uint64_t *ret_first, uint64_t *ret_last)
{
	struct codec_batch *b = &sn->batch;
	struct mqtt_pub p = {.topic = topic, .content_type = CONTENT_TYPE_BATCH, .what = "a batch"};
	int n = make_batch(sn, after, max_events, kind);

	if (n <= 0)
		return n;
	p.buf = b->buf;
	p.len = b->len;
	p.first_seq = b->first_seq;
	p.last_seq = b->last_seq;
	if (mqtt_publish(sn->mqtt, &p, ret_mid) != WH_OK) {
		sn->publish_errors++;
		return -1;
	}
	sn->batches++;
	sn->events += (uint64_t)b->nevents;
	sender_spend(sn, b->len);
	*ret_first = b->first_seq;
	*ret_last = b->last_seq;
	return n;
}

/* Publishes the next batch of whichever lane may send. 0 when none may. */
static int
publish_batch(struct sender *sn)
{
	enum lane lane;
	uint64_t from, max, first = 0, last = 0;
	int mid = 0, backfill, n;

	if (!lanes_next(&sn->lanes, &lane, &from, &max))
		return 0;
	if (max > (uint64_t)sn->conf->mqtt.batch_max_events)
		max = (uint64_t)sn->conf->mqtt.batch_max_events;
	backfill = lane == LANE_BACKFILL;
	n = sender_send(sn, from - 1, (int)max, backfill ? CODEC_BATCH_BACKFILL : CODEC_BATCH_LIVE,
			backfill ? sn->topic_backfill : sn->topic_events, &mid, &first, &last);
	if (n < 0)
		return 0;
	if (n == 0) {
		lanes_empty(&sn->lanes, lane);
		return 1;
	}
	if (sn->nwin == 0)
		sn->progress_ms = platform_mono_ms();
	sn->win[sn->nwin++] = (struct inflight){mid, first, last, lane, sn->batch.len};
	lanes_sent(&sn->lanes, lane, first, last, sn->batch.len);
	return 1;
}

/* 1 while the batches in flight hold fewer than window_bytes: libmosquitto keeps a copy of
 * each QoS 1 message until its PUBACK, so the window's count of batches alone does not bound
 * memory (one batch always may go). */
static int
inflight_room(const struct sender *sn)
{
	size_t bytes = 0;

	for (int i = 0; i < sn->nwin; i++)
		bytes += sn->win[i].len;
	return bytes < (size_t)sn->conf->mqtt.window_bytes;
}

void
sender_pump(struct sender *sn)
{
	while (mqtt_connected(sn->mqtt) && !sn->draining && !sn->held && inflight_room(sn) &&
	       sender_rate_ok(sn) && publish_batch(sn))
		;
	sn->caught_up = mqtt_connected(sn->mqtt) && sn->nwin == 0 && sn->lanes.idle[LANE_LIVE] &&
			!lanes_backfilling(&sn->lanes);
	if (sn->caught_up && sn->drain_start_ms != 0) {
		log_info("uplink: caught up with the journal at seq %" PRIu64 ": %" PRIu64
			 " events in %" PRId64 " ms",
			 sn->lanes.acked, sn->lanes.acked - sn->drain_from,
			 platform_mono_ms() - sn->drain_start_ms);
		sn->drain_start_ms = 0;
	}
}

static void
on_pump_timer(void *arg)
{
	struct sender *sn = arg;

	sn->cb.pump(sn->cb.arg);
}

/* --- the connection's events ------------------------------------------------------------ */

void
sender_connected(struct sender *sn)
{
	sn->nwin = 0;
	lanes_restart(&sn->lanes);
	log_info("uplink: connected to %s:%ld, sending from seq %" PRIu64, sn->conf->mqtt.host,
		 sn->conf->mqtt.port, sn->lanes.next[LANE_LIVE]);
	sn->drain_start_ms = platform_mono_ms();
	sn->drain_from = sn->lanes.acked;
}

void
sender_heartbeat(struct sender *sn)
{
	lanes_wake(&sn->lanes);
	sender_split(sn);
}

void
sender_lost(struct sender *sn)
{
	sn->caught_up = 0;
	sn->nwin = 0;
	sn->held = 0;
	loop_timer_disarm(&sn->retry_timer);
	loop_timer_disarm(&sn->rate_timer);
	save_watermark(sn);
}

void
sender_notify(struct sender *sn)
{
	sn->caught_up = 0;
	lanes_wake(&sn->lanes);
	loop_timer_arm_soon(&sn->linger_timer, sn->conf->mqtt.linger_ms);
}

uint64_t
sender_acked_through(const struct sender *sn)
{
	return sn->lanes.acked;
}

int
sender_idle(const struct sender *sn)
{
	return sn->caught_up;
}

void
sender_drain(struct sender *sn)
{
	sn->draining = 1;
	if (!mqtt_connected(sn->mqtt) || sn->nwin == 0)
		loop_stop(sn->loop);
	else
		log_info("uplink: waiting for %d batches in flight", sn->nwin);
}

void
sender_shutdown(struct sender *sn)
{
	if (sn->nwin > 0)
		log_warnx("uplink: stopping with %d batches unacknowledged (resent at next start)",
			  sn->nwin);
	save_watermark(sn);
}

void
sender_stats(const struct sender *sn, struct uplink_stats *ret)
{
	ret->batches = sn->batches;
	ret->events = sn->events;
	ret->publish_errors = sn->publish_errors;
	ret->acked_through = sn->lanes.acked;
	ret->inflight = sn->nwin;
	ret->acks = sn->acks;
	ret->stalled_ms = sn->nwin > 0 ? platform_mono_ms() - sn->progress_ms : 0;
	ret->backfill_through = lanes_backfilling(&sn->lanes) ? sn->lanes.backfill_end : 0;
	ret->acked_above = lanes_acked_above(&sn->lanes);
}

/* --- set-up ----------------------------------------------------------------------------- */

static void
add_timers(struct sender *sn)
{
	struct {
		struct loop_timer *t;
		loop_cb cb;
	} timers[] = {{&sn->linger_timer, on_pump_timer},
		      {&sn->save_timer, on_save_timer},
		      {&sn->retry_timer, on_retry},
		      {&sn->prune_timer, on_prune_timer},
		      {&sn->rate_timer, on_pump_timer}};

	for (size_t i = 0; i < sizeof(timers) / sizeof(timers[0]); i++)
		loop_timer_add(sn->loop, timers[i].t, timers[i].cb, sn);
}

/* The watermark, the platform's and the acknowledged ranges, as persisted. */
static wh_err
load_watermark(struct sender *sn)
{
	struct journal_stats st;
	char ranges[2048];
	wh_err err;

	if ((err = journal_stats(sn->journal, &st)) != WH_OK ||
	    (err = lanes_init(&sn->lanes, st.acked_through, (int)sn->conf->mqtt.window,
			      (int)sn->conf->mqtt.live_share_pct)) != WH_OK)
		return err;
	if (journal_meta_get(sn->journal, "acked_ranges", ranges, sizeof(ranges)) == WH_OK)
		lanes_parse(&sn->lanes, ranges, st.last_seq);
	lanes_restart(&sn->lanes);
	sn->saved = st.acked_through;
	sn->prune_through = st.platform_acked_through;
	return WH_OK;
}

wh_err
sender_new(const struct conf *c, struct journal *j, struct loop *l, struct mqtt *m,
	   const struct identity *id, const struct sender_cb *cb, struct sender **ret_sn)
{
	struct sender *sn = wh_calloc(1, sizeof(*sn));
	wh_err err;

	if (sn == NULL)
		return WH_ERR_NOMEM;
	sn->conf = c;
	sn->journal = j;
	sn->loop = l;
	sn->mqtt = m;
	sn->identity = id;
	sn->cb = *cb;
	snprintf(sn->topic_events, sizeof(sn->topic_events), "%s/%s/events", c->mqtt.topic_prefix,
		 c->agent.site_id);
	snprintf(sn->topic_backfill, sizeof(sn->topic_backfill), "%s/%s/backfill",
		 c->mqtt.topic_prefix, c->agent.site_id);
	sn->win = wh_calloc((size_t)c->mqtt.window, sizeof(*sn->win));
	err = sn->win ? codec_batch_init(&sn->batch, (size_t)c->mqtt.batch_max_bytes +
							     (size_t)c->mqtt.batch_max_events * 11)
		      : WH_ERR_NOMEM;
	if (err == WH_OK)
		add_timers(sn);
	if (err != WH_OK || (err = load_watermark(sn)) != WH_OK)
		goto fail;
	loop_timer_arm(&sn->prune_timer, 0);
	*ret_sn = sn;
	return WH_OK;
fail:
	sender_free(sn);
	return err;
}

void
sender_free(struct sender *sn)
{
	if (sn == NULL)
		return;
	loop_timer_del(sn->loop, &sn->linger_timer);
	loop_timer_del(sn->loop, &sn->save_timer);
	loop_timer_del(sn->loop, &sn->retry_timer);
	loop_timer_del(sn->loop, &sn->prune_timer);
	loop_timer_del(sn->loop, &sn->rate_timer);
	lanes_done(&sn->lanes);
	codec_batch_done(&sn->batch);
	wh_free(sn->win);
	wh_free(sn);
}

void
sender_reconfigure(struct sender *sn, const struct conf *c)
{
	sn->conf = c;
	sn->lanes.live_share_pct = (int)c->mqtt.live_share_pct;
}
