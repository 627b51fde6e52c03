/* MQTT session, batching, lanes, in-flight window, acknowledgements, backoff, commands,
 * snapshots, birth and death. mosquitto codes are translated here only. A mosquitto object
 * lives for one connection: on loss it is destroyed (after its callbacks return) and the
 * window is resent from the watermark, so nothing is queued twice inside libmosquitto. After
 * a batch the broker refused (or one that could not be made), sending holds and then resumes
 * from the watermark on the same connection: copies are possible there (at-least-once). */
#include "uplink_int.h"

#include <errno.h>
#include <inttypes.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec.h"
#include "command.h"
#include "conf.h"
#include "crypto.h"
#include "identity.h"
#include "journal.h"
#include "lanes.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "platform.h"
#include "snapshot.h"

#define PRUNE_MS	  60000
#define READ_PACKETS	  64
#define SHUTDOWN_FLUSH_MS 1000

static int lib_users;

static void
changed(struct uplink *up)
{
	if (up->on_change != NULL)
		up->on_change(up->change_arg);
}

/* The link's state, for `whagent status` (kept in memory: no journal write). */
static void
record_state(struct uplink *up, const char *state)
{
	up->link = state;
	up->link_since_ms = platform_now_ms();
	if (strcmp(state, "connected") == 0) {
		up->last_connect_ms = up->link_since_ms;
		up->error_current = 0;
	}
	changed(up);
}

void
uplink_record_error(struct uplink *up, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(up->last_error, sizeof(up->last_error), fmt, ap);
	va_end(ap);
	log_warnx("uplink: %s", up->last_error);
	up->last_error_ms = platform_now_ms();
	up->error_current = 1;
	up->attempt_error = 1;
	changed(up);
}

/* Records a libmosquitto failure with what libmosquitto logged about it (OpenSSL's reason). */
static void
connection_error(struct uplink *up, const char *what, int rc)
{
	const char *hint = "";

	if (up->state != UP_CONNECTED && conf_mqtt_tls(up->conf) && up->lib_error[0] == '\0')
		hint = "; during the TLS handshake: check that the broker trusts the client "
		       "certificate (certfile, keyfile)";
	uplink_record_error(up, "%s: %s%s%s%s%s", what,
			    rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc),
			    up->lib_error[0] ? " (" : "", up->lib_error,
			    up->lib_error[0] ? ")" : "", hint);
}

/* --- status messages ------------------------------------------------------------------ */

static wh_err
status_payload(struct uplink *up, int online, uint8_t **ret_buf, size_t *ret_len)
{
	struct journal_stats st = {0};
	struct codec_status cs = {.site_id = up->conf->site_id,
				  .journal_id = journal_id(up->journal),
				  .online = online,
				  .session = up->session,
				  .time_ms = platform_now_ms()};

	cs.has_client_cert = up->identity.has_client_cert;
	cs.platform_acked_through = up->platform_acked;
	cs.cert_days_left = up->identity.cert_days_left;
	if (journal_stats(up->journal, &st) == WH_OK) {
		cs.last_seq = st.last_seq;
		cs.acked_through =
			up->lanes.acked > st.acked_through ? up->lanes.acked : st.acked_through;
		cs.backlog = st.last_seq - cs.acked_through;
		cs.quarantined = st.quarantined;
		cs.oldest_unsent_age_s =
			st.oldest_unsent_ms ? (cs.time_ms - st.oldest_unsent_ms) / 1000 : 0;
	}
	return codec_status_encode(&cs, ret_buf, ret_len);
}

mosquitto_property *
uplink_properties(struct uplink *up, const char *content_type, const struct codec_batch *b)
{
	mosquitto_property *p = NULL;
	char first[24], last[24];

	if (up->conf->mqtt_protocol != CONF_MQTT5)
		return NULL;
	mosquitto_property_add_string(&p, MQTT_PROP_CONTENT_TYPE, content_type);
	mosquitto_property_add_string_pair(&p, MQTT_PROP_USER_PROPERTY, "site", up->conf->site_id);
	mosquitto_property_add_string_pair(&p, MQTT_PROP_USER_PROPERTY, "journal",
					   journal_id(up->journal));
	if (b != NULL) {
		snprintf(first, sizeof(first), "%" PRIu64, b->first_seq);
		snprintf(last, sizeof(last), "%" PRIu64, b->last_seq);
		mosquitto_property_add_string_pair(&p, MQTT_PROP_USER_PROPERTY, "first_seq", first);
		mosquitto_property_add_string_pair(&p, MQTT_PROP_USER_PROPERTY, "last_seq", last);
	}
	return p;
}

void
uplink_publish_status(struct uplink *up, int online)
{
	mosquitto_property *props;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	if (up->state != UP_CONNECTED || status_payload(up, online, &buf, &len) != WH_OK)
		return;
	props = uplink_properties(up, CONTENT_TYPE_STAT, NULL);
	rc = mosquitto_publish_v5(up->mosq, NULL, up->topic_status, (int)len, buf, 1, true, props);
	mosquitto_property_free_all(&props);
	wh_free(buf);
	if (rc != MOSQ_ERR_SUCCESS)
		log_warnx("uplink: publishing status: %s", mosquitto_strerror(rc));
}

/* --- watermark ------------------------------------------------------------------------ */

static void
save_watermark(struct uplink *up)
{
	int64_t pruned = 0;
	wh_err err;

	if (up->lanes.acked > up->saved) {
		err = journal_ack(up->journal, up->lanes.acked);
		if (err != WH_OK) {
			log_warnx("uplink: saving the watermark: %s", journal_errmsg(up->journal));
			loop_timer_arm_soon(&up->save_timer, SAVE_MS);
			return;
		}
		up->saved = up->lanes.acked;
	}
	if (up->ranges_dirty) {
		char text[2048];

		lanes_format(&up->lanes, text, sizeof(text));
		if (journal_meta_set(up->journal, "acked_ranges", text) != WH_OK)
			log_warnx("uplink: recording acked_ranges: %s",
				  journal_errmsg(up->journal));
		up->ranges_dirty = 0;
	}
	err = journal_prune_retained(
		up->journal, platform_now_ms() - (int64_t)up->conf->mqtt_retention_s * 1000,
		up->conf->mqtt_ack_mode == CONF_ACK_PLATFORM ? up->platform_acked : UINT64_MAX,
		&pruned);
	if (err != WH_OK)
		log_warnx("uplink: pruning: %s", journal_errmsg(up->journal));
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
	struct uplink *up = arg;

	save_watermark(up);
	loop_timer_arm(&up->prune_timer, PRUNE_MS);
}

/* --- publishing ----------------------------------------------------------------------- */

static void
add_event(uint64_t seq, const uint8_t *payload, size_t len, void *arg)
{
	struct uplink *up = arg;

	if (codec_batch_add(&up->batch, seq, payload, len) != 0)
		log_errx("uplink: event %" PRIu64 " does not fit a batch",
			 seq); /* sized so it does */
}

/* max_bytes_per_s: 1 when something may go out now; else arms the timer that says when. */
int
uplink_rate_ok(struct uplink *up)
{
	int64_t rate = up->conf->mqtt_max_bytes_per_s, now = platform_mono_ms();
	int64_t burst = rate / 4 > 0 ? rate / 4 : 1, elapsed = now - up->tokens_ms;

	if (rate <= 0)
		return 1;
	up->tokens += (elapsed < 1000 ? elapsed : 1000) * rate / 1000;
	up->tokens_ms = now;
	if (up->tokens > burst)
		up->tokens = burst;
	if (up->tokens > 0)
		return 1;
	loop_timer_arm_soon(&up->rate_timer, 1 + (-up->tokens * 1000) / rate);
	return 0;
}

void
uplink_spend(struct uplink *up, size_t len)
{
	if (up->conf->mqtt_max_bytes_per_s > 0)
		up->tokens -= (int64_t)len;
}

/* A batch could not be made or sent: nothing more goes out until the retry, which resends
 * from the watermark. Returns -1. */
static int
hold(struct uplink *up)
{
	if (!up->failed) {
		up->failed = 1;
		loop_timer_arm(&up->retry_timer, up->conf->mqtt_reconnect_min_ms);
	}
	return -1;
}

/* Reads up to max_events after seq `after` into a batch of that kind and publishes it on
 * topic. Returns the events sent, 0 when there are none, -1 on a failure (recorded; sending
 * holds until the retry, or the connection is torn down); *ret_mid is its message id. */
static int
send_batch(struct uplink *up, uint64_t after, int max_events, enum codec_batch_kind kind,
	   const char *topic, int *ret_mid)
{
	struct codec_batch *b = &up->batch;
	mosquitto_property *props;
	int count = 0, rc;
	wh_err err;

	codec_batch_reset(b);
	err = journal_read_page(up->journal, after, max_events,
				(size_t)up->conf->mqtt_batch_max_bytes, add_event, up, &count);
	if (err != WH_OK) {
		uplink_record_error(up, "reading the journal: %s", journal_errmsg(up->journal));
		return hold(up);
	}
	if (b->nevents == 0)
		return 0;
	if (codec_batch_finish(b, up->conf->site_id, journal_id(up->journal), kind) != WH_OK)
		return hold(up);
	if (up->identity.signer != NULL) {
		uint8_t sig[CRYPTO_SIG_MAX];
		size_t sig_len = 0;

		if (crypto_sign(up->identity.signer, b->buf, b->len, sig, &sig_len) != 0 ||
		    codec_batch_add_signature(b, sig, sig_len,
					      crypto_signer_fingerprint(up->identity.signer),
					      32) != WH_OK) {
			uplink_record_error(up, "signing a batch failed; not sending unsigned");
			return hold(up);
		}
	}
	props = uplink_properties(up, CONTENT_TYPE_BATCH, b);
	rc = mosquitto_publish_v5(up->mosq, ret_mid, topic, (int)b->len, b->buf, 1, false, props);
	mosquitto_property_free_all(&props);
	if (rc != MOSQ_ERR_SUCCESS) {
		up->stats.publish_errors++;
		uplink_record_error(up, "publishing a batch: %s", mosquitto_strerror(rc));
		up->lost = 1;
		return -1;
	}
	up->stats.batches++;
	up->stats.events += (uint64_t)b->nevents;
	uplink_spend(up, b->len);
	return b->nevents;
}

/* Publishes the next batch of whichever lane may send. 0 when none may. */
static int
publish_batch(struct uplink *up)
{
	struct codec_batch *b = &up->batch;
	enum lane lane;
	uint64_t from, max;
	int mid = 0, backfill, n;

	if (!lanes_next(&up->lanes, &lane, &from, &max))
		return 0;
	if (max > (uint64_t)up->conf->mqtt_batch_max_events)
		max = (uint64_t)up->conf->mqtt_batch_max_events;
	backfill = lane == LANE_BACKFILL;
	n = send_batch(up, from - 1, (int)max, backfill ? CODEC_BATCH_BACKFILL : CODEC_BATCH_LIVE,
		       backfill ? up->topic_backfill : up->topic_events, &mid);
	if (n < 0)
		return 0;
	if (n == 0) {
		lanes_empty(&up->lanes, lane);
		return 1;
	}
	up->win[up->nwin++] = (struct inflight){mid, b->first_seq, b->last_seq, lane};
	lanes_sent(&up->lanes, lane, b->first_seq, b->last_seq, b->len);
	return 1;
}

/* A replay goes out beside the live window, with a window of its own; its acknowledgements do
 * not touch the watermark. */
static void
pump_replay(struct uplink *up)
{
	while (up->state == UP_CONNECTED && !up->lost && up->replay_next <= up->replay_to &&
	       up->nreplay < REPLAY_WINDOW) {
		uint64_t left = up->replay_to - up->replay_next + 1;
		int mid = 0, n, max = (int)up->conf->mqtt_batch_max_events;

		if (left < (uint64_t)max)
			max = (int)left;
		if (!uplink_rate_ok(up))
			break;
		n = send_batch(up, up->replay_next - 1, max, CODEC_BATCH_REPLAY, up->topic_backfill,
			       &mid);
		if (n <= 0) {
			if (n == 0) /* the rest is no longer retained */
				up->replay_next = up->replay_to + 1;
			break;
		}
		up->replay_win[up->nreplay++] = (struct inflight){
			mid, up->batch.first_seq, up->batch.last_seq, LANE_BACKFILL};
		up->replay_next = up->batch.last_seq + 1;
	}
}

/* Publishes unsent events while the window and the rate allow, then replays and snapshots. */
void
uplink_pump(struct uplink *up)
{
	while (up->state == UP_CONNECTED && !up->draining && !up->failed && !up->lost &&
	       uplink_rate_ok(up) && publish_batch(up))
		;
	pump_replay(up); /* with what the lanes leave of the rate */
	uplink_pump_snapshot(up);
	up->caught_up = up->state == UP_CONNECTED && up->nwin == 0 && up->lanes.idle[LANE_LIVE] &&
			!lanes_backfilling(&up->lanes);
	if (up->caught_up && up->drain_start_ms != 0) {
		log_info("uplink: caught up with the journal at seq %" PRIu64 ": %" PRIu64
			 " events in %" PRId64 " ms",
			 up->lanes.acked, up->lanes.acked - up->drain_from,
			 platform_mono_ms() - up->drain_start_ms);
		up->drain_start_ms = 0;
	}
}

/* Reports (for `whagent status`) whether a backfill is draining, and up to where. */
static void
note_backfill(struct uplink *up)
{
	uint64_t through = lanes_backfilling(&up->lanes) ? up->lanes.backfill_end : 0;

	if (through == up->noted_backfill)
		return;
	if (through == 0)
		log_info("uplink: backfill through seq %" PRIu64 " acknowledged",
			 up->noted_backfill);
	up->noted_backfill = through;
	changed(up);
}

/* A backlog older than backfill_after_s drains on the backfill lane from now on. */
static void
maybe_split(struct uplink *up)
{
	struct journal_stats st;
	int64_t age_ms;

	if (up->conf->mqtt_backfill_after_s <= 0 || lanes_backfilling(&up->lanes) ||
	    journal_stats(up->journal, &st) != WH_OK || st.oldest_unsent_ms == 0)
		return;
	age_ms = platform_now_ms() - st.oldest_unsent_ms;
	if (age_ms < up->conf->mqtt_backfill_after_s * 1000)
		return;
	lanes_split(&up->lanes, st.last_seq);
	note_backfill(up);
	if (lanes_backfilling(&up->lanes))
		log_info("uplink: a backlog of %" PRIu64 " events (oldest %" PRId64
			 " s) drains on %s through seq %" PRIu64 "; new events go out on %s",
			 st.last_seq - up->lanes.acked, age_ms / 1000, up->topic_backfill,
			 st.last_seq, up->topic_events);
}

static void
on_rate_timer(void *arg)
{
	uplink_pump(arg);
}

static void
on_linger(void *arg)
{
	uplink_pump(arg);
}

static void
on_status_timer(void *arg)
{
	struct uplink *up = arg;

	uplink_publish_status(up, 1);
	loop_timer_arm(&up->status_timer, up->conf->mqtt_status_interval_s * 1000);
	if (up->state == UP_CONNECTED) {
		/* events another process appended (whagent quarantine requeue) are found here */
		lanes_wake(&up->lanes);
		maybe_split(up);
		uplink_pump(up);
	}
}

/* After a refused batch: forget the window and resend from the watermark. */
static void
on_retry(void *arg)
{
	struct uplink *up = arg;

	up->failed = 0;
	up->nwin = 0;
	if (up->draining) { /* what was refused is sent at the next start */
		loop_stop(up->loop);
		return;
	}
	lanes_restart(&up->lanes);
	maybe_split(up);
	note_backfill(up);
	uplink_pump(up);
}

/* --- mosquitto callbacks (run inside mosquitto_loop_*) ----------------------------------- */

static void
on_connect(struct mosquitto *mosq, void *obj, int rc, int flags, const mosquitto_property *p)
{
	struct uplink *up = obj;
	int sub;

	(void)mosq;
	(void)flags;
	(void)p;
	if (rc != 0) {
		uplink_record_error(up, "broker refused the connection: %s",
				    up->conf->mqtt_protocol == CONF_MQTT5
					    ? mosquitto_reason_string(rc)
					    : mosquitto_connack_string(rc));
		up->lost = 1;
		return;
	}
	up->state = UP_CONNECTED;
	up->backoff_ms = 0;
	up->nwin = 0;
	lanes_restart(&up->lanes);
	up->stats.connected = 1;
	log_info("uplink: connected to %s:%ld, sending from seq %" PRIu64, up->conf->mqtt_host,
		 up->conf->mqtt_port, up->lanes.next[LANE_LIVE]);
	up->drain_start_ms = platform_mono_ms();
	up->drain_from = up->lanes.acked;
	record_state(up, "connected");
	if (up->conf->mqtt_ack_mode == CONF_ACK_PLATFORM &&
	    (sub = mosquitto_subscribe(up->mosq, NULL, up->topic_ack, 1)) != MOSQ_ERR_SUCCESS)
		uplink_record_error(up, "subscribing to %s: %s", up->topic_ack,
				    mosquitto_strerror(sub));
	if ((sub = mosquitto_subscribe(up->mosq, NULL, up->topic_cmd, 1)) != MOSQ_ERR_SUCCESS)
		uplink_record_error(up, "subscribing to %s: %s", up->topic_cmd,
				    mosquitto_strerror(sub));
	uplink_publish_status(up, 1);
	loop_timer_arm(&up->status_timer, up->conf->mqtt_status_interval_s * 1000);
	maybe_split(up);
	note_backfill(up);
	uplink_snapshot_if_due(up);
	uplink_pump(up);
}

static void
on_disconnect(struct mosquitto *mosq, void *obj, int rc, const mosquitto_property *p)
{
	struct uplink *up = obj;

	(void)mosq;
	(void)p;
	if (rc != 0 && !up->attempt_error)
		connection_error(up, "connection lost", rc);
	up->lost = 1;
}

/* Removes mid from a list of message ids; 1 if it was there. */
static int
forget_mid(int *mids, int *n, int mid)
{
	for (int i = 0; i < *n; i++) {
		if (mids[i] == mid) {
			mids[i] = mids[--*n];
			return 1;
		}
	}
	return 0;
}

static int
forget_replay(struct uplink *up, int mid)
{
	for (int i = 0; i < up->nreplay; i++) {
		if (up->replay_win[i].mid == mid) {
			up->replay_win[i] = up->replay_win[--up->nreplay];
			return 1;
		}
	}
	return 0;
}

/* A batch was acknowledged: the watermark moves over what is now contiguous. */
static void
acked(struct uplink *up, struct inflight w)
{
	int rc = lanes_ack(&up->lanes, w.lane, w.first, w.last);

	if (rc < 0) {
		log_warnx("uplink: too many acknowledged ranges; resending from seq %" PRIu64,
			  up->lanes.acked + 1);
		if (!up->failed) {
			up->failed = 1;
			loop_timer_arm(&up->retry_timer, 0);
		}
	}
	up->stats.acked_through = up->lanes.acked;
	up->ranges_dirty = 1;
	if (up->error_current && !up->failed) { /* sending works again */
		up->error_current = 0;
		changed(up);
	}
	note_backfill(up);
	loop_timer_arm_soon(&up->save_timer, SAVE_MS);
}

static void
on_publish(struct mosquitto *mosq, void *obj, int mid, int reason, const mosquitto_property *p)
{
	struct uplink *up = obj;
	char detail[160];

	(void)mosq;
	(void)p;
	if (forget_replay(up, mid) || forget_mid(up->snap_mids, &up->nsnap, mid)) {
		uplink_pump(up);
		return;
	}
	for (int i = 0; i < up->nwin; i++) {
		if (up->win[i].mid != mid)
			continue;
		if (reason >= 0x80) {
			up->stats.publish_errors++;
			snprintf(detail, sizeof(detail), "seq %" PRIu64 "-%" PRIu64 ": %s",
				 up->win[i].first, up->win[i].last,
				 mosquitto_reason_string(reason));
			uplink_record_error(up, "broker refused batch %s; resending after backoff",
					    detail);
			if (!up->failed) {
				up->failed = 1;
				loop_timer_arm(&up->retry_timer, up->conf->mqtt_reconnect_min_ms);
			}
			return;
		}
		acked(up, up->win[i]);
		up->win[i] = up->win[--up->nwin];
		break;
	}
	if (up->draining && up->nwin == 0)
		loop_stop(up->loop);
	uplink_pump(up);
}

/* --- connection ------------------------------------------------------------------------ */

static int64_t
next_backoff(struct uplink *up)
{
	int64_t lo = up->conf->mqtt_reconnect_min_ms, hi = up->conf->mqtt_reconnect_max_ms;
	uint32_t r = 0;

	up->backoff_ms = up->backoff_ms ? up->backoff_ms * 2 : lo;
	if (up->backoff_ms > hi)
		up->backoff_ms = hi;
	platform_random(&r, sizeof(r));
	/* jitter: 75% to 125% of the step, so a fleet does not reconnect in lockstep */
	return up->backoff_ms * 3 / 4 + (int64_t)(r % (uint32_t)(up->backoff_ms / 2 + 1));
}

static void
teardown(struct uplink *up)
{
	up->caught_up = 0;
	if (up->fd >= 0)
		loop_fd_del(up->loop, up->fd);
	up->fd = -1;
	if (up->mosq != NULL)
		mosquitto_destroy(up->mosq);
	up->mosq = NULL;
	up->lost = 0;
	up->nwin = 0;
	for (int i = 0; i < up->nreplay; i++) /* a replay goes on, from what was not acked */
		if (up->replay_win[i].first < up->replay_next)
			up->replay_next = up->replay_win[i].first;
	up->nreplay = 0;
	up->nsnap = 0;
	up->failed = 0;
	if (up->snap != NULL) { /* taken again, whole, on the next connection */
		snapshot_free(up->snap);
		up->snap = NULL;
		up->snap_due = 1;
	}
	loop_timer_disarm(&up->status_timer);
	loop_timer_disarm(&up->retry_timer);
	loop_timer_disarm(&up->rate_timer);
}

static void
connection_lost(struct uplink *up)
{
	int64_t delay;

	if (up->state == UP_CONNECTED)
		log_warnx("uplink: disconnected from %s:%ld", up->conf->mqtt_host,
			  up->conf->mqtt_port);
	teardown(up);
	up->state = UP_DISCONNECTED;
	up->stats.connected = 0;
	record_state(up, "disconnected");
	save_watermark(up);
	if (up->draining) {
		loop_stop(up->loop);
		return;
	}
	delay = next_backoff(up);
	log_info("uplink: reconnecting in %" PRId64 " ms", delay);
	loop_timer_arm(&up->connect_timer, delay);
}

static void
on_fd(int fd, short revents, void *arg)
{
	struct uplink *up = arg;
	int rc = MOSQ_ERR_SUCCESS;

	(void)fd;
	if (revents & (POLLIN | POLLERR | POLLHUP))
		rc = mosquitto_loop_read(up->mosq, READ_PACKETS);
	if (rc == MOSQ_ERR_SUCCESS && !up->lost && (revents & POLLOUT))
		rc = mosquitto_loop_write(up->mosq, READ_PACKETS);
	if (rc != MOSQ_ERR_SUCCESS && !up->lost) {
		connection_error(up, "connection", rc);
		up->lost = 1;
	}
	if (up->lost)
		connection_lost(up);
}

/* Before every poll: libmosquitto's keep-alive work and whether it wants to write. */
static void
on_prepare(void *arg)
{
	struct uplink *up = arg;

	if (up->mosq == NULL)
		return;
	if (mosquitto_loop_misc(up->mosq) != MOSQ_ERR_SUCCESS && up->state == UP_CONNECTED)
		up->lost = 1;
	if (up->lost) {
		connection_lost(up);
		return;
	}
	loop_fd_events(up->loop, up->fd, POLLIN | (mosquitto_want_write(up->mosq) ? POLLOUT : 0));
}

static void
on_log(struct mosquitto *mosq, void *obj, int level, const char *text)
{
	struct uplink *up = obj;

	(void)mosq;
	if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING)) {
		snprintf(up->lib_error, sizeof(up->lib_error), "%s", text);
		log_debug("uplink: libmosquitto: %s", text);
	}
}

static int
configure_session(struct uplink *up)
{
	const struct conf *c = up->conf;
	uint8_t *will = NULL;
	size_t len = 0;
	int rc;

	mosquitto_int_option(up->mosq, MOSQ_OPT_PROTOCOL_VERSION,
			     c->mqtt_protocol == CONF_MQTT5 ? MQTT_PROTOCOL_V5
							    : MQTT_PROTOCOL_V311);
	mosquitto_int_option(up->mosq, MOSQ_OPT_SEND_MAXIMUM, (int)c->mqtt_window + 2);
	mosquitto_connect_v5_callback_set(up->mosq, on_connect);
	mosquitto_disconnect_v5_callback_set(up->mosq, on_disconnect);
	mosquitto_publish_v5_callback_set(up->mosq, on_publish);
	mosquitto_log_callback_set(up->mosq, on_log);
	mosquitto_message_v5_callback_set(up->mosq, uplink_on_message);
	if (status_payload(up, 0, &will, &len) != WH_OK)
		return MOSQ_ERR_NOMEM;
	rc = mosquitto_will_set(up->mosq, up->topic_status, (int)len, will, 1, true);
	wh_free(will);
	if (rc == MOSQ_ERR_SUCCESS && conf_mqtt_tls(c)) {
		rc = mosquitto_tls_set(up->mosq, c->mqtt_cafile[0] ? c->mqtt_cafile : NULL,
				       c->mqtt_capath[0] ? c->mqtt_capath : NULL,
				       c->mqtt_certfile[0] ? c->mqtt_certfile : NULL,
				       c->mqtt_certfile[0] ? c->mqtt_keyfile : NULL, NULL);
		if (rc == MOSQ_ERR_SUCCESS)
			rc = mosquitto_tls_opts_set(up->mosq, 1, "tlsv1.2", NULL);
	}
	if (rc == MOSQ_ERR_SUCCESS && c->mqtt_username[0])
		rc = mosquitto_username_pw_set(up->mosq, c->mqtt_username, up->password);
	return rc;
}

static void
on_connect_timer(void *arg)
{
	struct uplink *up = arg;
	int rc;

	up->attempt_error = 0;
	up->lib_error[0] = '\0';
	up->mosq = mosquitto_new(up->conf->mqtt_client_id, true, up);
	if (up->mosq == NULL) {
		uplink_record_error(up, "creating the MQTT client: %s", strerror(errno));
		connection_lost(up);
		return;
	}
	rc = configure_session(up);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_connect_async(up->mosq, up->conf->mqtt_host,
					     (int)up->conf->mqtt_port,
					     (int)up->conf->mqtt_keepalive_s);
	if (rc != MOSQ_ERR_SUCCESS) {
		connection_error(up, "connecting", rc);
		connection_lost(up);
		return;
	}
	up->fd = mosquitto_socket(up->mosq);
	if (up->fd < 0 || loop_fd_add(up->loop, up->fd, POLLIN | POLLOUT, on_fd, up) != WH_OK) {
		uplink_record_error(up, "connecting: no socket");
		up->fd = -1;
		connection_lost(up);
		return;
	}
	up->state = UP_CONNECTING;
	up->stats.reconnects++;
	record_state(up, "connecting");
}

/* --- set-up ----------------------------------------------------------------------------- */

static wh_err
add_timers(struct uplink *up)
{
	struct {
		struct loop_timer *t;
		loop_cb cb;
	} timers[] = {{&up->connect_timer, on_connect_timer},
		      {&up->linger_timer, on_linger},
		      {&up->status_timer, on_status_timer},
		      {&up->save_timer, on_save_timer},
		      {&up->retry_timer, on_retry},
		      {&up->prune_timer, on_prune_timer},
		      {&up->rate_timer, on_rate_timer},
		      {&up->snapshot_timer, uplink_on_snapshot_timer}};
	wh_err err;

	for (size_t i = 0; i < sizeof(timers) / sizeof(timers[0]); i++)
		if ((err = loop_timer_add(up->loop, timers[i].t, timers[i].cb, up)) != WH_OK)
			return err;
	return WH_OK;
}

wh_err
uplink_new(const struct conf *c, struct journal *j, struct loop *l, uint64_t session,
	   struct uplink **ret_up)
{
	struct journal_stats st;
	struct uplink *up;
	wh_err err;

	up = wh_calloc(1, sizeof(*up));
	if (up == NULL)
		return WH_ERR_NOMEM;
	if (lib_users++ == 0)
		mosquitto_lib_init();
	up->conf = c;
	up->journal = j;
	up->loop = l;
	up->fd = -1;
	up->session = session;
	up->replay_next = 1; /* no replay */
	up->link = "disconnected";
	up->link_since_ms = platform_now_ms();
	snprintf(up->topic_events, sizeof(up->topic_events), "%s/%s/events", c->mqtt_topic_prefix,
		 c->site_id);
	snprintf(up->topic_backfill, sizeof(up->topic_backfill), "%s/%s/backfill",
		 c->mqtt_topic_prefix, c->site_id);
	snprintf(up->topic_snapshot, sizeof(up->topic_snapshot), "%s/%s/snapshot",
		 c->mqtt_topic_prefix, c->site_id);
	snprintf(up->topic_status, sizeof(up->topic_status), "%s/%s/status", c->mqtt_topic_prefix,
		 c->site_id);
	snprintf(up->topic_ack, sizeof(up->topic_ack), "%s/%s/ack", c->mqtt_topic_prefix,
		 c->site_id);
	snprintf(up->topic_cmd, sizeof(up->topic_cmd), "%s/%s/cmd", c->mqtt_topic_prefix,
		 c->site_id);
	snprintf(up->topic_result, sizeof(up->topic_result), "%s/%s/cmd/result",
		 c->mqtt_topic_prefix, c->site_id);
	if (c->mqtt_password_file[0] &&
	    (up->password = identity_read_password(c->mqtt_password_file)) == NULL) {
		log_warn("uplink: cannot read password_file %s", c->mqtt_password_file);
		err = WH_ERR_IO;
		goto fail;
	}
	up->win = wh_calloc((size_t)c->mqtt_window, sizeof(*up->win));
	err = up->win ? codec_batch_init(&up->batch, (size_t)c->mqtt_batch_max_bytes +
							     (size_t)c->mqtt_batch_max_events * 11)
		      : WH_ERR_NOMEM;
	if (err != WH_OK || (err = journal_stats(j, &st)) != WH_OK ||
	    (err = add_timers(up)) != WH_OK ||
	    (err = lanes_init(&up->lanes, st.acked_through, (int)c->mqtt_window,
			      (int)c->mqtt_live_share_pct)) != WH_OK)
		goto fail;
	{
		char ranges[2048];

		if (journal_meta_get(j, "acked_ranges", ranges, sizeof(ranges)) == WH_OK)
			lanes_parse(&up->lanes, ranges);
		lanes_restart(&up->lanes);
	}
	up->saved = up->stats.acked_through = st.acked_through;
	up->platform_acked = st.platform_acked_through;
	{
		char why[256];

		if ((err = command_verifier_new(c->mqtt_command_pubkey, c->mqtt_command_max_skew_s,
						&up->commands, why, sizeof(why))) != WH_OK) {
			log_errx("uplink: command_pubkey: %s", why);
			goto fail;
		}
		if (c->mqtt_command_pubkey[0] == '\0')
			log_info("uplink: commands are taken unsigned (set command_pubkey to "
				 "verify)");
	}
	if ((err = identity_load(&up->identity, c)) != WH_OK)
		goto fail;
	loop_on_prepare(l, on_prepare, up);
	loop_timer_arm(&up->connect_timer, 0);
	loop_timer_arm(&up->prune_timer, 0);
	if (c->ledger_snapshot_interval_s > 0)
		loop_timer_arm(&up->snapshot_timer, c->ledger_snapshot_interval_s * 1000);
	*ret_up = up;
	return WH_OK;
fail:
	uplink_free(up);
	return err;
}

void
uplink_free(struct uplink *up)
{
	if (up == NULL)
		return;
	teardown(up);
	loop_timer_del(up->loop, &up->connect_timer);
	loop_timer_del(up->loop, &up->linger_timer);
	loop_timer_del(up->loop, &up->status_timer);
	loop_timer_del(up->loop, &up->save_timer);
	loop_timer_del(up->loop, &up->retry_timer);
	loop_timer_del(up->loop, &up->prune_timer);
	loop_timer_del(up->loop, &up->rate_timer);
	loop_timer_del(up->loop, &up->snapshot_timer);
	loop_on_prepare(up->loop, NULL, NULL);
	lanes_done(&up->lanes);
	codec_batch_done(&up->batch);
	identity_done(&up->identity);
	command_verifier_free(up->commands);
	wh_free(up->win);
	if (up->password != NULL) {
		memset(up->password, 0, strlen(up->password));
		wh_free(up->password);
	}
	wh_free(up);
	if (--lib_users == 0)
		mosquitto_lib_cleanup();
}

void
uplink_reconfigure(struct uplink *up, const struct conf *c)
{
	up->conf = c;
	up->lanes.live_share_pct = (int)c->mqtt_live_share_pct;
	if (c->ledger_snapshot_interval_s > 0 && !up->snapshot_timer.armed) /* turned on */
		loop_timer_arm(&up->snapshot_timer, c->ledger_snapshot_interval_s * 1000);
	if (!identity_changed(&up->identity, c))
		return;
	if (identity_load(&up->identity, c) != WH_OK)
		log_warnx("uplink: keeping the signing key in use");
	if (up->state != UP_DISCONNECTED) {
		log_info("uplink: client certificate or key changed: reconnecting with it");
		up->backoff_ms = 0;
		if (up->mosq != NULL)
			mosquitto_disconnect(up->mosq);
		up->lost = 1; /* torn down before the next poll; batches in flight are resent */
	}
}

int
uplink_idle(const struct uplink *up)
{
	return up->caught_up;
}

void
uplink_notify(struct uplink *up)
{
	up->caught_up = 0;
	lanes_wake(&up->lanes);
	loop_timer_arm_soon(&up->linger_timer, up->conf->mqtt_linger_ms);
}

void
uplink_drain(struct uplink *up)
{
	up->draining = 1;
	loop_timer_disarm(&up->connect_timer);
	if (up->state != UP_CONNECTED || up->nwin == 0)
		loop_stop(up->loop);
	else
		log_info("uplink: waiting for %d batches in flight", up->nwin);
}

/* Writes what libmosquitto has queued (the OFFLINE status, DISCONNECT), for a bounded time. */
static void
flush(struct uplink *up)
{
	int64_t until = platform_mono_ms() + SHUTDOWN_FLUSH_MS;
	struct pollfd p = {.fd = up->fd, .events = POLLOUT};

	while (up->fd >= 0 && mosquitto_want_write(up->mosq) && platform_mono_ms() < until) {
		if (poll(&p, 1, 100) > 0 &&
		    mosquitto_loop_write(up->mosq, READ_PACKETS) != MOSQ_ERR_SUCCESS)
			break;
	}
}

void
uplink_shutdown(struct uplink *up)
{
	if (up->nwin > 0)
		log_warnx("uplink: stopping with %d batches unacknowledged (resent at next start)",
			  up->nwin);
	save_watermark(up);
	if (up->state == UP_CONNECTED) {
		uplink_publish_status(up, 0);
		mosquitto_disconnect(up->mosq);
		flush(up);
	}
	teardown(up);
	up->state = UP_DISCONNECTED;
	record_state(up, "stopped");
}

void
uplink_stats(const struct uplink *up, struct uplink_stats *ret)
{
	*ret = up->stats;
	ret->inflight = up->nwin;
	ret->has_client_cert = up->identity.has_client_cert;
	ret->backfill_through = lanes_backfilling(&up->lanes) ? up->lanes.backfill_end : 0;
	ret->acked_above = lanes_acked_above(&up->lanes);
	ret->cert_days_left = up->identity.cert_days_left;
	snprintf(ret->link, sizeof(ret->link), "%s", up->link);
	ret->link_since_ms = up->link_since_ms;
	ret->last_connect_ms = up->last_connect_ms;
	snprintf(ret->last_error, sizeof(ret->last_error), "%s", up->last_error);
	ret->last_error_ms = up->last_error_ms;
	ret->error_current = up->error_current;
}

void
uplink_on_change(struct uplink *up, void (*cb)(void *arg), void *arg)
{
	up->on_change = cb;
	up->change_arg = arg;
}
