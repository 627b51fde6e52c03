/* What the central platform asks of the uplink: commands (status, replay, snapshot, pause and
 * resume capture) answered on their response topic, platform acks, and on-hand snapshots
 * published in pages. */
#include <inttypes.h>
#include <mqtt_protocol.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "conf.h"
#include "journal.h"
#include "mem.h"
#include "platform.h"
#include "snapshot.h"
#include "uplink_int.h"

/* Publishes the pages of the snapshot being taken, a few in flight at a time. */
void
uplink_pump_snapshot(struct uplink *up)
{
	mosquitto_property *props;
	uint8_t *buf = NULL;
	size_t len = 0;
	wh_err err;
	int mid = 0, rc;

	while (up->state == UP_CONNECTED && !up->lost && up->snap != NULL &&
	       up->nsnap < SNAPSHOT_WINDOW && uplink_rate_ok(up)) {
		err = snapshot_next_page(up->snap, &buf, &len);
		if (err != WH_OK) {
			if (err == WH_ERR_NOTFOUND) {
				log_info("uplink: snapshot %" PRIu64 " published",
					 snapshot_id(up->snap));
				up->stats.snapshots++;
			} else
				uplink_record_error(up, "reading the snapshot: %s",
						    journal_errmsg(up->journal));
			snapshot_free(up->snap);
			up->snap = NULL;
			return;
		}
		props = uplink_properties(up, CONTENT_TYPE_SNAP, NULL);
		rc = mosquitto_publish_v5(up->mosq, &mid, up->topic_snapshot, (int)len, buf, 1,
					  false, props);
		mosquitto_property_free_all(&props);
		wh_free(buf);
		if (rc != MOSQ_ERR_SUCCESS) {
			uplink_record_error(up, "publishing a snapshot page: %s",
					    mosquitto_strerror(rc));
			up->lost = 1;
			return;
		}
		uplink_spend(up, len);
		up->snap_mids[up->nsnap++] = mid;
	}
}

/* Takes a snapshot and starts publishing it; command_id is NULL when scheduled. 0, or -1 with
 * why set. */
int
uplink_start_snapshot(struct uplink *up, const char *command_id, char *why, size_t whylen)
{
	wh_err err;

	if (up->snap != NULL) {
		snprintf(why, whylen, "snapshot %" PRIu64 " is still being published",
			 snapshot_id(up->snap));
		return -1;
	}
	err = snapshot_new(up->journal, up->conf->site_id, command_id,
			   (int)up->conf->ledger_snapshot_page_rows, &up->snap);
	if (err != WH_OK) {
		snprintf(why, whylen, "snapshot: %s: %s", wh_strerror(err),
			 journal_errmsg(up->journal));
		return -1;
	}
	up->snap_due = 0;
	snprintf(why, whylen,
		 "snapshot %" PRIu64 " as of seq %" PRIu64 ": %" PRIu32 " pages, %" PRIu64
		 " balances",
		 snapshot_id(up->snap), snapshot_as_of_seq(up->snap), snapshot_pages(up->snap),
		 snapshot_rows(up->snap));
	log_info("uplink: %s", why);
	uplink_pump(up);
	return 0;
}

void
uplink_on_snapshot_timer(void *arg)
{
	struct uplink *up = arg;
	char msg[200];

	if (up->conf->ledger_snapshot_interval_s <= 0) /* turned off by a reload */
		return;
	up->snap_due = 1;
	if (up->state == UP_CONNECTED && uplink_start_snapshot(up, NULL, msg, sizeof(msg)) != 0)
		log_warnx("uplink: %s", msg);
	loop_timer_arm(&up->snapshot_timer, up->conf->ledger_snapshot_interval_s * 1000);
}

/* On connecting: a scheduled snapshot that fell due while away. */
void
uplink_snapshot_if_due(struct uplink *up)
{
	char msg[200];

	if (up->snap_due && uplink_start_snapshot(up, NULL, msg, sizeof(msg)) != 0)
		log_warnx("uplink: %s", msg);
}

/* Answers a command on its MQTT 5 response topic (with its correlation data) or on
 * PREFIX/SITE/cmd/result. */
static void
publish_result(struct uplink *up, const mosquitto_property *in, const char *id, int ok,
	       const char *message, uint64_t from, uint64_t to)
{
	mosquitto_property *props = NULL;
	char *topic = NULL;
	void *corr = NULL;
	uint16_t corr_len = 0;
	uint8_t *buf = NULL;
	size_t len = 0;

	if (command_result_encode(id, ok, message, from, to, &buf, &len) != WH_OK)
		return;
	mosquitto_property_read_string(in, MQTT_PROP_RESPONSE_TOPIC, &topic, false);
	if (mosquitto_property_read_binary(in, MQTT_PROP_CORRELATION_DATA, &corr, &corr_len,
					   false) != NULL)
		mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, corr, corr_len);
	mosquitto_publish_v5(up->mosq, NULL, topic ? topic : up->topic_result, (int)len, buf, 1,
			     false, props);
	mosquitto_property_free_all(&props);
	free(topic);
	free(corr);
	wh_free(buf);
	log_info("uplink: command %s: %s%s%s", id[0] ? id : "?", ok ? "done" : "refused",
		 message[0] ? ": " : "", message);
}

/* A replay: what of from..to the journal still holds goes out, marked historical. */
static void
start_replay(struct uplink *up, const struct command *cmd, const mosquitto_property *p)
{
	struct journal_stats st;
	uint64_t first = 0, from = cmd->from_seq, to = cmd->to_seq;
	char msg[200];

	if (journal_stats(up->journal, &st) != WH_OK ||
	    journal_first_seq(up->journal, &first) != WH_OK || first == 0 || from > st.last_seq ||
	    to < first) {
		snprintf(msg, sizeof(msg), "nothing of %" PRIu64 "-%" PRIu64 " is retained",
			 cmd->from_seq, cmd->to_seq);
		publish_result(up, p, cmd->id, 0, msg, 0, 0);
		return;
	}
	if (from < first)
		from = first;
	if (to > st.last_seq)
		to = st.last_seq;
	snprintf(msg, sizeof(msg), "replaying %" PRIu64 "-%" PRIu64 "%s", from, to,
		 from > cmd->from_seq ? "; older events are no longer retained" : "");
	up->replay_next = from;
	up->replay_to = to;
	publish_result(up, p, cmd->id, 1, msg, from, to);
	uplink_pump(up);
}

static void
on_command(struct uplink *up, const struct mosquitto_message *msg, const mosquitto_property *p)
{
	struct command cmd;
	char why[320];
	wh_err err;
	int ok;

	err = command_parse(up->commands, msg->payload, (size_t)msg->payloadlen, platform_now_ms(),
			    &cmd, why, sizeof(why));
	if (err != WH_OK) {
		publish_result(up, p, cmd.id, 0, why, 0, 0);
		return;
	}
	switch (cmd.action) {
	case COMMAND_STATUS:
		uplink_publish_status(up, 1);
		publish_result(up, p, cmd.id, 1, "", 0, 0);
		break;
	case COMMAND_REPLAY:
		start_replay(up, &cmd, p);
		break;
	case COMMAND_PAUSE_CAPTURE:
	case COMMAND_RESUME_CAPTURE:
		err = journal_set_capture_paused(up->journal, cmd.action == COMMAND_PAUSE_CAPTURE);
		publish_result(up, p, cmd.id, err == WH_OK,
			       err != WH_OK ? journal_errmsg(up->journal)
			       : cmd.action == COMMAND_PAUSE_CAPTURE
				       ? "capture paused: inputs answer with back-pressure"
				       : "capture resumed",
			       0, 0);
		break;
	case COMMAND_SNAPSHOT:
		ok = uplink_start_snapshot(up, cmd.id, why, sizeof(why)) == 0;
		publish_result(up, p, cmd.id, ok, why, 0, 0);
		break;
	}
}

/* A PlatformAck: for our journal, not beyond what was journaled; then pruning may go on. */
void
uplink_on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg,
		  const mosquitto_property *p)
{
	struct uplink *up = obj;
	struct journal_stats st;
	char id[JOURNAL_ID_LEN + 1];
	uint64_t through;

	(void)mosq;
	if (strcmp(msg->topic, up->topic_cmd) == 0) {
		on_command(up, msg, p);
		return;
	}
	if (strcmp(msg->topic, up->topic_ack) != 0)
		return;
	if (codec_platform_ack_decode(msg->payload, (size_t)msg->payloadlen, id, sizeof(id),
				      &through) != WH_OK) {
		log_warnx("uplink: ignoring a message on %s that is not a PlatformAck", msg->topic);
		return;
	}
	if (strcmp(id, journal_id(up->journal)) != 0) {
		log_warnx("uplink: ignoring a platform ack for journal %s (this journal is %s)", id,
			  journal_id(up->journal));
		return;
	}
	if (journal_stats(up->journal, &st) != WH_OK) { /* st is not written then */
		log_warnx("uplink: ignoring a platform ack through seq %" PRIu64
			  ": reading the journal: %s",
			  through, journal_errmsg(up->journal));
		return;
	}
	if (through > st.last_seq) {
		log_warnx("uplink: ignoring a platform ack through seq %" PRIu64
			  " beyond the last journaled seq %" PRIu64,
			  through, st.last_seq);
		return;
	}
	if (through <= up->platform_acked)
		return;
	if (journal_platform_ack(up->journal, through) != WH_OK) {
		log_warnx("uplink: saving the platform ack: %s", journal_errmsg(up->journal));
		return;
	}
	up->platform_acked = through;
	loop_timer_arm_soon(&up->save_timer, SAVE_MS); /* prunes what is now safe */
}
