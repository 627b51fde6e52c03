/* The uplink's control: commands, platform acks, replays and snapshots. */
#include "control.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "command.h"
#include "conf.h"
#include "envelope.h"
#include "journal.h"
#include "journal_event.h"
#include "journal_meta.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "mqtt.h"
#include "platform.h"
#include "sender.h"
#include "snapshot.h"
#include "uplink.h"

#define REPLAY_WINDOW	  8 /* replay batches in flight */
#define SNAPSHOT_WINDOW	  4 /* snapshot pages in flight */
#define CONTENT_TYPE_SNAP "application/x-protobuf;proto=whagent.v1.Snapshot"
#define LOG_WINDOW_S	  60 /* refusals and watermark moves: so many log lines a minute */
#define LOG_PER_WINDOW	  10

struct replayed {
	int mid;
	uint64_t first, last;
};

struct control {
	const struct conf *conf;
	struct journal *journal;
	struct loop *loop;
	struct mqtt *mqtt;
	struct sender *sender;
	struct control_cb cb;
	char topic_backfill[300], topic_ack[300], topic_cmd[300], topic_result[300],
		topic_snapshot[300];
	struct envelope_keys *keys;   /* the platform's keys */
	struct envelope_keys *staged; /* a reload's, between control_prepare and reconfigure */
	uint64_t counter[3];	      /* the last accepted per enum envelope_type (journal meta) */
	int64_t since_ms;	      /* the journal takes control messages issued since */
	struct control_stats stats;
	struct log_limit refusal_log, ack_log; /* LOG_PER_WINDOW lines a minute each */
	int retained_logged[2];		       /* a retained message on ack, on cmd, was said */
	uint64_t platform_acked;	       /* ack_mode = platform: the platform's watermark */
	uint64_t replay_next, replay_to;       /* a replay being carried out; none: next > to */
	struct replayed replay_win[REPLAY_WINDOW];
	int nreplay;
	struct snapshot *snap; /* being published */
	int snap_mids[SNAPSHOT_WINDOW];
	int nsnap;
	int snap_due; /* take a scheduled snapshot once connected */
	uint64_t snapshots;
	struct loop_timer snapshot_timer;
};

/* --- snapshots ------------------------------------------------------------------------ */

static void
snapshot_done(struct control *ctl)
{
	snapshot_free(ctl->snap);
	ctl->snap = NULL;
}

/* Publishes the pages of the snapshot being taken, a few in flight at a time. */
static void
pump_snapshot(struct control *ctl)
{
	struct mqtt_pub p = {.topic = ctl->topic_snapshot,
			     .content_type = CONTENT_TYPE_SNAP,
			     .what = "a snapshot page"};
	uint8_t *buf = NULL;
	size_t len = 0;
	wh_err err;
	int mid = 0;

	while (mqtt_connected(ctl->mqtt) && ctl->snap != NULL && ctl->nsnap < SNAPSHOT_WINDOW &&
	       sender_rate_ok(ctl->sender)) {
		err = snapshot_next_page(ctl->snap, &buf, &len);
		if (err == WH_ERR_NOTFOUND) {
			log_info("uplink: snapshot %" PRIu64 " published", snapshot_id(ctl->snap));
			ctl->snapshots++;
		} else if (err != WH_OK) {
			mqtt_record_error(ctl->mqtt, "reading the snapshot: %s",
					  journal_errmsg(ctl->journal));
		}
		if (err != WH_OK) {
			snapshot_done(ctl);
			return;
		}
		p.buf = buf;
		p.len = len;
		err = mqtt_publish(ctl->mqtt, &p, &mid);
		wh_free(buf);
		if (err != WH_OK)
			return; /* recorded; the connection is torn down */
		sender_spend(ctl->sender, len);
		ctl->snap_mids[ctl->nsnap++] = mid;
	}
}

/* Takes a snapshot (command_id NULL when scheduled) and starts publishing it. 0, or -1 with
 * why set; why also says what was taken. */
static int
start_snapshot(struct control *ctl, const char *command_id, char *why, size_t whylen)
{
	wh_err err;

	if (ctl->snap != NULL) {
		snprintf(why, whylen, "snapshot %" PRIu64 " is still being published",
			 snapshot_id(ctl->snap));
		return -1;
	}
	err = snapshot_new(ctl->journal, ctl->conf->agent.site_id, command_id,
			   (int)ctl->conf->ledger.snapshot_page_rows, &ctl->snap);
	if (err != WH_OK) {
		snprintf(why, whylen, "snapshot: %s: %s", wh_strerror(err),
			 journal_errmsg(ctl->journal));
		return -1;
	}
	ctl->snap_due = 0;
	snprintf(why, whylen,
		 "snapshot %" PRIu64 " as of seq %" PRIu64 ": %" PRIu32 " pages, %" PRIu64
		 " balances",
		 snapshot_id(ctl->snap), snapshot_as_of_seq(ctl->snap), snapshot_pages(ctl->snap),
		 snapshot_rows(ctl->snap));
	log_info("uplink: %s", why);
	ctl->cb.pump(ctl->cb.arg);
	return 0;
}

static void
on_snapshot_timer(void *arg)
{
	struct control *ctl = arg;
	char msg[200];

	if (ctl->conf->ledger.snapshot_interval_s <= 0) /* turned off by a reload */
		return;
	ctl->snap_due = 1;
	if (mqtt_connected(ctl->mqtt) && start_snapshot(ctl, NULL, msg, sizeof(msg)) != 0)
		log_warnx("uplink: %s", msg);
	loop_timer_arm(&ctl->snapshot_timer, (int64_t)ctl->conf->ledger.snapshot_interval_s * 1000);
}

void
control_connected(struct control *ctl)
{
	char msg[200];

	if (ctl->snap_due && start_snapshot(ctl, NULL, msg, sizeof(msg)) != 0)
		log_warnx("uplink: %s", msg);
}

/* --- replays --------------------------------------------------------------------------- */

/* A replay goes out beside the live window, with a window of its own; its acknowledgements do
 * not touch the watermark. */
static void
pump_replay(struct control *ctl)
{
	while (mqtt_connected(ctl->mqtt) && ctl->replay_next <= ctl->replay_to &&
	       ctl->nreplay < REPLAY_WINDOW) {
		uint64_t left = ctl->replay_to - ctl->replay_next + 1, first = 0, last = 0;
		int mid = 0, n, max = (int)ctl->conf->mqtt.batch_max_events;

		if (left < (uint64_t)max)
			max = (int)left;
		if (!sender_rate_ok(ctl->sender))
			break;
		n = sender_send(ctl->sender, ctl->replay_next - 1, max, CODEC_BATCH_REPLAY,
				ctl->topic_backfill, &mid, &first, &last);
		if (n <= 0) {
			if (n == 0) /* the rest is no longer retained */
				ctl->replay_next = ctl->replay_to + 1;
			break;
		}
		ctl->replay_win[ctl->nreplay++] = (struct replayed){mid, first, last};
		ctl->replay_next = last + 1;
	}
}

void
control_pump(struct control *ctl)
{
	pump_replay(ctl); /* with what the lanes leave of the rate */
	pump_snapshot(ctl);
}

/* --- refusals and their log ------------------------------------------------------------ */

static const char *const counter_key[] = {"", "control_counter.ack", "control_counter.command"};

static void
refused(struct control *ctl, const char *what, const char *topic, const char *why)
{
	char shown[300];

	ctl->stats.refused++;
	log_escape(shown, sizeof(shown), topic, strlen(topic));
	log_limited(&ctl->refusal_log, LOG_LVL_WARN, "uplink: refused %s on %s: %s", what, shown,
		    why);
}

/* Opens a control message of type, saves its counter (committed before anything is acted on;
 * in the caller's transaction when one is open) and returns its body in e. 0, or -1 when refused
 * (logged, counted; e's counter set when the envelope decoded). */
static int
open_control(struct control *ctl, const struct mqtt_msg *in, enum envelope_type type,
	     struct envelope *e, char *why, size_t whylen)
{
	struct envelope_expect x = {
		.type = type,
		.site_id = ctl->conf->agent.site_id,
		.journal_id = journal_id(ctl->journal),
		.journal_required = type == ENVELOPE_ACK,
		.now_ms = platform_now_ms(),
		.max_skew_ms = (int64_t)ctl->conf->mqtt.control_max_skew_s * 1000,
		.last_counter = ctl->counter[type],
		.not_before_ms = ctl->since_ms,
		.allow_unsigned = ctl->conf->mqtt.allow_unsigned_control != 0,
	};
	char value[24];
	wh_err err;

	if (envelope_open(ctl->keys, &x, in->payload, in->len, e, why, whylen) != WH_OK)
		goto refuse;
	snprintf(value, sizeof(value), "%" PRIu64, e->counter);
	if ((err = journal_meta_set(ctl->journal, counter_key[type], value)) != WH_OK) {
		snprintf(why, whylen, "saving its counter: %s: %s", wh_strerror(err),
			 journal_errmsg(ctl->journal));
		goto refuse;
	}
	ctl->counter[type] = e->counter; /* committed before it is acted on */
	return 0;
refuse:
	refused(ctl, type == ENVELOPE_ACK ? "a platform ack" : "a command", in->topic, why);
	return -1;
}

/* --- commands -------------------------------------------------------------------------- */

/* Answers a command on PREFIX/SITE/cmd/result, whatever response topic it named (its
 * correlation data is echoed). */
static void
publish_result(struct control *ctl, const struct mqtt_msg *in, const char *id, uint64_t counter,
	       int ok, const char *message, uint64_t from, uint64_t to)
{
	uint8_t *buf = NULL;
	size_t len = 0;

	if (command_result_encode(id, counter, ok, message, from, to, &buf, &len) != WH_OK)
		return;
	mqtt_reply(ctl->mqtt, in, ctl->topic_result, buf, len);
	wh_free(buf);
	if (ok || id[0] != '\0')
		log_info("uplink: command %s: %s%s%s", id[0] ? id : "?", ok ? "done" : "refused",
			 message[0] ? ": " : "", message);
}

/* A replay: what of from..to the journal still holds goes out, marked historical. */
static void
start_replay(struct control *ctl, const struct command *cmd, uint64_t counter,
	     const struct mqtt_msg *in)
{
	struct journal_stats st;
	uint64_t first = 0, from = cmd->from_seq, to = cmd->to_seq;
	char msg[200];

	if (journal_stats(ctl->journal, &st) != WH_OK ||
	    journal_first_seq(ctl->journal, &first) != WH_OK || first == 0 || from > st.last_seq ||
	    to < first) {
		snprintf(msg, sizeof(msg), "nothing of %" PRIu64 "-%" PRIu64 " is retained",
			 cmd->from_seq, cmd->to_seq);
		publish_result(ctl, in, cmd->id, counter, 0, msg, 0, 0);
		return;
	}
	if (from < first)
		from = first;
	if (to > st.last_seq)
		to = st.last_seq;
	snprintf(msg, sizeof(msg), "replaying %" PRIu64 "-%" PRIu64 "%s", from, to,
		 from > cmd->from_seq ? "; older events are no longer retained" : "");
	ctl->replay_next = from;
	ctl->replay_to = to;
	publish_result(ctl, in, cmd->id, counter, 1, msg, from, to);
	ctl->cb.pump(ctl->cb.arg);
}

static void
pause_capture(struct control *ctl, const struct command *cmd, uint64_t counter,
	      const struct mqtt_msg *in)
{
	int pause = cmd->action == COMMAND_PAUSE_CAPTURE;
	wh_err err = journal_set_capture_paused(ctl->journal, pause);

	publish_result(ctl, in, cmd->id, counter, err == WH_OK,
		       err != WH_OK ? journal_errmsg(ctl->journal)
		       : pause	    ? "capture paused: inputs answer with back-pressure"
				    : "capture resumed",
		       0, 0);
}

/* A command: its envelope checked (and its counter saved) before its body is read. */
static void
on_command(struct control *ctl, const struct mqtt_msg *in)
{
	struct envelope e = {0};
	struct command cmd;
	char why[320];
	int ok;

	if (open_control(ctl, in, ENVELOPE_COMMAND, &e, why, sizeof(why)) != 0) {
		publish_result(ctl, in, "", e.counter, 0, why, 0, 0);
		goto out;
	}
	ctl->stats.accepted++;
	if (command_parse(e.body, e.body_len, &cmd, why, sizeof(why)) != WH_OK) {
		publish_result(ctl, in, cmd.id, e.counter, 0, why, 0, 0);
		goto out;
	}
	if (cmd.action == COMMAND_REPLAY && !e.named_journal) {
		publish_result(ctl, in, cmd.id, e.counter, 0,
			       "a replay must name the journal (SignedControl.journal_id)", 0, 0);
		goto out;
	}
	switch (cmd.action) {
	case COMMAND_STATUS:
		mqtt_publish_status(ctl->mqtt, 1);
		publish_result(ctl, in, cmd.id, e.counter, 1, "", 0, 0);
		break;
	case COMMAND_REPLAY:
		start_replay(ctl, &cmd, e.counter, in);
		break;
	case COMMAND_PAUSE_CAPTURE:
	case COMMAND_RESUME_CAPTURE:
		pause_capture(ctl, &cmd, e.counter, in);
		break;
	case COMMAND_SNAPSHOT:
		ok = start_snapshot(ctl, cmd.id, why, sizeof(why)) == 0;
		publish_result(ctl, in, cmd.id, e.counter, ok, why, 0, 0);
		break;
	}
out:
	envelope_done(&e);
}

/* --- platform acks --------------------------------------------------------------------- */

/* The checks of an opened ack's body: 0 and *ret_through, or -1 (refused, logged). */
static int
check_ack(struct control *ctl, const struct mqtt_msg *in, const struct envelope *e,
	  uint64_t *ret_through)
{
	uint64_t broker = sender_acked_through(ctl->sender);
	char id[JOURNAL_ID_LEN + 1], why[200];

	if (codec_platform_ack_decode(e->body, e->body_len, id, sizeof(id), ret_through) != WH_OK ||
	    strcmp(id, journal_id(ctl->journal)) != 0) {
		refused(ctl, "a platform ack", in->topic,
			"its body is not a PlatformAck for the journal its envelope names");
		return -1;
	}
	if (*ret_through > broker) {
		snprintf(why, sizeof(why),
			 "through seq %" PRIu64 ", beyond the broker's watermark %" PRIu64
			 ": the platform cannot hold what the broker never took",
			 *ret_through, broker);
		refused(ctl, "a platform ack", in->topic, why);
		return -1;
	}
	return 0;
}

/* A PlatformAck: signed, for our journal (envelope and body agree), not beyond what the
 * broker acknowledged; then pruning may go on. Its counter and the watermark are committed
 * in one transaction. */
static void
on_platform_ack(struct control *ctl, const struct mqtt_msg *in)
{
	struct envelope e = {0};
	char why[320];
	uint64_t through = 0;
	int moved = 0;
	wh_err err;

	if ((err = journal_txn_begin(ctl->journal, JOURNAL_TXN_MAINTENANCE)) != WH_OK) {
		log_warnx("uplink: ignoring a platform ack: %s: %s", wh_strerror(err),
			  journal_errmsg(ctl->journal));
		return;
	}
	if (open_control(ctl, in, ENVELOPE_ACK, &e, why, sizeof(why)) != 0 ||
	    check_ack(ctl, in, &e, &through) != 0)
		goto out;
	ctl->stats.accepted++;
	if (through > ctl->platform_acked) {
		err = journal_platform_ack(ctl->journal, through);
		moved = err == WH_OK;
	}
out:
	if ((err = journal_txn_end(ctl->journal, err)) != WH_OK) {
		log_warnx("uplink: saving the platform ack: %s", journal_errmsg(ctl->journal));
		moved = 0;
	}
	if (moved) {
		ctl->stats.acks_moved++;
		log_limited(&ctl->ack_log, LOG_LVL_INFO,
			    "uplink: platform ack %s: watermark %" PRIu64 " -> %" PRIu64,
			    e.is_signed ? "(signed)" : "(UNSIGNED)", ctl->platform_acked, through);
		ctl->platform_acked = through;
		sender_prune_through(ctl->sender, through); /* prunes what is now safe */
	}
	envelope_done(&e);
}

void
control_message(struct control *ctl, const struct mqtt_msg *msg)
{
	int cmd = strcmp(msg->topic, ctl->topic_cmd) == 0;

	/* a control message is for its moment: one kept by the broker would come again on every
	 * reconnect (MQTT 3.1.1 cannot refuse it at the subscription as MQTT 5 does) */
	if (msg->retained && (cmd || strcmp(msg->topic, ctl->topic_ack) == 0)) {
		ctl->stats.refused++;
		if (!ctl->retained_logged[cmd])
			log_warnx("uplink: ignoring a retained message on %s (%zu bytes): control "
				  "messages are never retained; clear it with an empty retained "
				  "publish (mosquitto_pub -r -n -t TOPIC)",
				  cmd ? ctl->topic_cmd : ctl->topic_ack, msg->len);
		ctl->retained_logged[cmd] = 1;
		return;
	}
	if (cmd)
		on_command(ctl, msg);
	else if (strcmp(msg->topic, ctl->topic_ack) == 0)
		on_platform_ack(ctl, msg);
}

/* --- the connection's events ------------------------------------------------------------ */

void
control_subscribe(struct control *ctl)
{
	if (ctl->conf->mqtt.ack_mode == CONF_ACK_PLATFORM)
		mqtt_subscribe(ctl->mqtt, ctl->topic_ack);
	mqtt_subscribe(ctl->mqtt, ctl->topic_cmd);
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
forget_replay(struct control *ctl, int mid)
{
	for (int i = 0; i < ctl->nreplay; i++) {
		if (ctl->replay_win[i].mid == mid) {
			ctl->replay_win[i] = ctl->replay_win[--ctl->nreplay];
			return 1;
		}
	}
	return 0;
}

int
control_published(struct control *ctl, int mid)
{
	return forget_replay(ctl, mid) || forget_mid(ctl->snap_mids, &ctl->nsnap, mid);
}

void
control_lost(struct control *ctl)
{
	for (int i = 0; i < ctl->nreplay; i++) /* a replay goes on, from what was not acked */
		if (ctl->replay_win[i].first < ctl->replay_next)
			ctl->replay_next = ctl->replay_win[i].first;
	ctl->nreplay = 0;
	ctl->nsnap = 0;
	if (ctl->snap != NULL) { /* taken again, whole, on the next connection */
		snapshot_done(ctl);
		ctl->snap_due = 1;
	}
}

uint64_t
control_platform_acked(const struct control *ctl)
{
	return ctl->platform_acked;
}

void
control_stats(const struct control *ctl, struct uplink_stats *ret)
{
	ret->snapshots = ctl->snapshots;
	ret->control = ctl->stats;
	ret->control.keys = envelope_keys_count(ctl->keys);
	ret->control.unsigned_allowed = ctl->conf->mqtt.allow_unsigned_control != 0;
}

/* --- set-up ----------------------------------------------------------------------------- */

static void
topics(struct control *ctl, const struct conf *c)
{
	const char *p = c->mqtt.topic_prefix, *s = c->agent.site_id;

	snprintf(ctl->topic_backfill, sizeof(ctl->topic_backfill), "%s/%s/backfill", p, s);
	snprintf(ctl->topic_snapshot, sizeof(ctl->topic_snapshot), "%s/%s/snapshot", p, s);
	snprintf(ctl->topic_ack, sizeof(ctl->topic_ack), "%s/%s/ack", p, s);
	snprintf(ctl->topic_cmd, sizeof(ctl->topic_cmd), "%s/%s/cmd", p, s);
	snprintf(ctl->topic_result, sizeof(ctl->topic_result), "%s/%s/cmd/result", p, s);
}

static int
parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-')
		return -1;
	*ret = v;
	return 0;
}

/* When the journal began to take control messages (its counters start then): a new or
 * salvaged journal has no counters, so what was issued before it is refused. */
static wh_err
control_since(struct control *ctl, struct journal *j, char *why, size_t whylen)
{
	char value[24];
	uint64_t v;
	wh_err err = journal_meta_get(j, "control_since_ms", value, sizeof(value));

	if (err == WH_OK && parse_u64(value, &v) == 0 && v <= INT64_MAX) {
		ctl->since_ms = (int64_t)v;
		return WH_OK;
	}
	if (err != WH_OK && err != WH_ERR_NOTFOUND) {
		snprintf(why, whylen, "reading control_since_ms from the journal: %s",
			 journal_errmsg(j));
		return err;
	}
	ctl->since_ms = platform_now_ms();
	snprintf(value, sizeof(value), "%" PRId64, ctl->since_ms);
	if ((err = journal_meta_set(j, "control_since_ms", value)) != WH_OK) /* next start */
		log_warnx("uplink: saving control_since_ms in the journal: %s: %s",
			  wh_strerror(err), journal_errmsg(j));
	return WH_OK;
}

/* The platform keys c names. */
static wh_err
load_keys(const struct conf *c, struct envelope_keys **ret_k, char *why, size_t whylen)
{
	const char *files[] = {c->mqtt.platform_pubkey, c->mqtt.platform_pubkey_next};
	char text[300];
	wh_err err = envelope_keys_new(files, 2, ret_k, text, sizeof(text));

	if (err != WH_OK)
		snprintf(why, whylen, "platform_pubkey: %s", text);
	return err;
}

/* Says how control messages are taken (at start and on every reload). */
static void
say_keys(const struct control *ctl, const struct conf *c)
{
	int n = envelope_keys_count(ctl->keys);

	if (c->mqtt.allow_unsigned_control)
		log_warnx("uplink: INSECURE: allow_unsigned_control = true: unsigned acks and "
			  "commands are taken from anyone who may publish on the broker");
	else if (n == 0)
		log_info("uplink: no platform key (platform_pubkey): commands are refused");
	if (n > 0)
		log_info("uplink: acks and commands are verified with %d platform key%s", n,
			 n > 1 ? "s" : "");
}

wh_err
control_new(const struct conf *c, struct journal *j, struct loop *l, struct mqtt *m,
	    struct sender *sn, const struct control_cb *cb, struct control **ret_ctl, char *why,
	    size_t whylen)
{
	struct control *ctl = wh_calloc(1, sizeof(*ctl));
	struct journal_stats st;
	wh_err err;

	snprintf(why, whylen, "%s", wh_strerror(WH_ERR_NOMEM));
	if (ctl == NULL)
		return WH_ERR_NOMEM;
	ctl->refusal_log = ctl->ack_log =
		(struct log_limit){.burst = LOG_PER_WINDOW, .period_s = LOG_WINDOW_S};
	ctl->conf = c;
	ctl->journal = j;
	ctl->loop = l;
	ctl->mqtt = m;
	ctl->sender = sn;
	ctl->cb = *cb;
	ctl->replay_next = 1; /* no replay */
	topics(ctl, c);
	loop_timer_add(l, &ctl->snapshot_timer, on_snapshot_timer, ctl);
	if ((err = journal_stats(j, &st)) != WH_OK) {
		snprintf(why, whylen, "reading the journal: %s", journal_errmsg(j));
		goto fail;
	}
	ctl->platform_acked = st.platform_acked_through;
	for (int t = ENVELOPE_ACK; t <= ENVELOPE_COMMAND; t++) {
		char value[24];
		uint64_t v;

		err = journal_meta_get(j, counter_key[t], value, sizeof(value));
		if (err == WH_ERR_NOTFOUND)
			continue;
		if (err != WH_OK || parse_u64(value, &v) != 0) {
			err = err != WH_OK ? err : WH_ERR_CORRUPT;
			snprintf(why, whylen, "reading %s from the journal: %s", counter_key[t],
				 journal_errmsg(j));
			goto fail;
		}
		ctl->counter[t] = v;
	}
	if ((err = control_since(ctl, j, why, whylen)) != WH_OK)
		goto fail;
	if ((err = load_keys(c, &ctl->keys, why, whylen)) != WH_OK)
		goto fail;
	say_keys(ctl, c);
	if (c->ledger.snapshot_interval_s > 0)
		loop_timer_arm(&ctl->snapshot_timer, (int64_t)c->ledger.snapshot_interval_s * 1000);
	*ret_ctl = ctl;
	return WH_OK;
fail:
	control_free(ctl);
	return err;
}

void
control_free(struct control *ctl)
{
	if (ctl == NULL)
		return;
	loop_timer_del(ctl->loop, &ctl->snapshot_timer);
	snapshot_free(ctl->snap);
	envelope_keys_free(ctl->keys);
	envelope_keys_free(ctl->staged);
	wh_free(ctl);
}

wh_err
control_prepare(struct control *ctl, const struct conf *c, char *why, size_t whylen)
{
	envelope_keys_free(ctl->staged);
	ctl->staged = NULL;
	return load_keys(c, &ctl->staged, why, whylen);
}

void
control_reconfigure(struct control *ctl, const struct conf *c)
{
	ctl->conf = c;
	if (ctl->staged != NULL) {
		envelope_keys_free(ctl->keys);
		ctl->keys = ctl->staged;
		ctl->staged = NULL;
		say_keys(ctl, c);
	}
	if (c->ledger.snapshot_interval_s > 0 && !ctl->snapshot_timer.armed) /* turned on */
		loop_timer_arm(&ctl->snapshot_timer, (int64_t)c->ledger.snapshot_interval_s * 1000);
}
