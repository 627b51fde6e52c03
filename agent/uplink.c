/* The uplink as the agent sees it: its three parts wired together (mqtt.h: the session;
 * sender.h: what goes out of the journal; control.h: what the platform asks), the
 * credentials they share (identity.h), and its figures. Owns no protocol logic itself. */
#include "uplink.h"

#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "conf.h"
#include "control.h"
#include "identity.h"
#include "journal.h"
#include "journal_meta.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "mqtt.h"
#include "sender.h"
#include "status.h"

struct uplink {
	const struct conf *conf;
	struct journal *journal;
	struct identity identity; /* borrowed by mqtt (Status) and sender (signing) */
	struct mqtt *mqtt;
	struct sender *sender;
	struct control *control;
	void (*on_change)(void *arg); /* uplink_on_change */
	void *change_arg;
	void (*on_status)(void *arg, struct codec_status *cs); /* uplink_on_status */
	void *status_arg;
};

/* Publishes what may go out: the lanes first, then replays and snapshots with what the lanes
 * leave of the rate. */
static void
pump(void *arg)
{
	struct uplink *up = arg;

	sender_pump(up->sender);
	control_pump(up->control);
}

static void
changed(void *arg)
{
	struct uplink *up = arg;

	if (up->on_change != NULL)
		up->on_change(up->change_arg);
}

/* --- the session's events ------------------------------------------------------------- */

static void
on_connected(void *arg)
{
	struct uplink *up = arg;

	sender_connected(up->sender);
	control_subscribe(up->control);
	mqtt_birth(up->mqtt);
	sender_split(up->sender);
	control_connected(up->control);
	pump(up);
}

static void
on_lost(void *arg)
{
	struct uplink *up = arg;

	sender_lost(up->sender);
	control_lost(up->control);
}

static void
on_published(void *arg, int mid, const char *refused)
{
	struct uplink *up = arg;

	if (control_published(up->control, mid) || sender_published(up->sender, mid, refused) >= 0)
		pump(up);
}

static void
on_message(void *arg, const struct mqtt_msg *msg)
{
	struct uplink *up = arg;

	control_message(up->control, msg);
}

static void
on_heartbeat(void *arg)
{
	struct uplink *up = arg;

	sender_heartbeat(up->sender);
	pump(up);
}

/* The journal's part of a Status: the watermark as the sender has it (persisted or not). */
static void
fill_status(void *arg, struct codec_status *cs)
{
	struct uplink *up = arg;
	struct journal_stats st = {0};
	struct uplink_stats us;
	struct status_live lv = {0};
	struct status_sync sy;
	uint64_t acked = sender_acked_through(up->sender);

	cs->platform_acked_through = control_platform_acked(up->control);
	cs->unsigned_control = up->conf->mqtt.allow_unsigned_control != 0;
	if (journal_stats(up->journal, &st) != WH_OK)
		return;
	cs->last_seq = st.last_seq;
	cs->acked_through = acked > st.acked_through ? acked : st.acked_through;
	cs->quarantined = st.quarantined;
	/* the watermarks as this process has them, persisted or not */
	st.acked_through = cs->acked_through;
	if (cs->platform_acked_through > st.platform_acked_through)
		st.platform_acked_through = cs->platform_acked_through;
	uplink_stats(up, &us);
	/* a Status is sent over a working link; the offline one is the broker's will */
	snprintf(lv.mqtt, sizeof(lv.mqtt), "%s", cs->online ? "connected" : "disconnected");
	status_sync(up->conf, &st, &lv, &sy);
	cs->sync_watermark = sy.watermark;
	cs->backlog = sy.backlog;
	cs->broker_backlog = sy.broker_backlog;
	cs->oldest_unsent_age_s = sy.oldest_ms ? (cs->time_ms - sy.oldest_ms) / 1000 : 0;
	snprintf(cs->sync_state, sizeof(cs->sync_state), "%s", sy.state);
	cs->sync_since_ms = sy.since_ms;
	snprintf(cs->last_error, sizeof(cs->last_error), "%s", us.last_error);
	cs->last_error_ms = us.last_error[0] != '\0' ? us.last_error_ms : 0;
	cs->last_error_current = us.last_error[0] != '\0' && us.error_current;
	if (up->on_status != NULL)
		up->on_status(up->status_arg, cs);
}

/* --- the interface --------------------------------------------------------------------- */

wh_err
uplink_new(const struct conf *c, struct journal *j, struct loop *l, uint64_t session,
	   struct uplink **ret_up, char *why, size_t whylen)
{
	struct uplink *up = wh_calloc(1, sizeof(*up));
	struct mqtt_cb mcb = {on_connected, on_lost,	 on_published, on_message,
			      on_heartbeat, fill_status, changed,      up};
	struct sender_cb scb = {pump, changed, up};
	struct control_cb ccb = {pump, up};
	wh_err err;

	snprintf(why, whylen, "%s", wh_strerror(WH_ERR_NOMEM));
	if (up == NULL)
		return WH_ERR_NOMEM;
	up->conf = c;
	up->journal = j;
	if ((err = identity_load(&up->identity, c, why, whylen)) != WH_OK ||
	    (err = mqtt_new(c, j, l, &up->identity, session, &mcb, &up->mqtt, why, whylen)) !=
		    WH_OK)
		goto fail;
	if ((err = sender_new(c, j, l, up->mqtt, &up->identity, &scb, &up->sender)) != WH_OK) {
		snprintf(why, whylen, "%s", wh_strerror(err));
		goto fail;
	}
	if ((err = control_new(c, j, l, up->mqtt, up->sender, &ccb, &up->control, why, whylen)) !=
	    WH_OK)
		goto fail;
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
	mqtt_free(up->mqtt);
	control_free(up->control);
	sender_free(up->sender);
	identity_done(&up->identity);
	wh_free(up);
}

wh_err
uplink_prepare(struct uplink *up, const struct conf *c, char *why, size_t whylen)
{
	return control_prepare(up->control, c, why, whylen);
}

void
uplink_reconfigure(struct uplink *up, const struct conf *c)
{
	up->conf = c;
	mqtt_reconfigure(up->mqtt, c);
	sender_reconfigure(up->sender, c);
	control_reconfigure(up->control, c);
	if (!identity_changed(&up->identity, c))
		return;
	char why[512];

	if (identity_load(&up->identity, c, why, sizeof(why)) != WH_OK)
		log_warnx("uplink: %s: keeping the signing key in use", why);
	mqtt_reconnect(up->mqtt, "client certificate or key changed");
}

int
uplink_idle(const struct uplink *up)
{
	return sender_idle(up->sender);
}

void
uplink_notify(struct uplink *up)
{
	sender_notify(up->sender);
}

void
uplink_drain(struct uplink *up)
{
	mqtt_drain(up->mqtt);
	sender_drain(up->sender);
}

void
uplink_shutdown(struct uplink *up)
{
	sender_shutdown(up->sender);
	mqtt_shutdown(up->mqtt);
}

void
uplink_stats(const struct uplink *up, struct uplink_stats *ret)
{
	memset(ret, 0, sizeof(*ret));
	mqtt_stats(up->mqtt, ret);
	sender_stats(up->sender, ret);
	control_stats(up->control, ret);
	ret->has_client_cert = up->identity.has_client_cert;
	ret->cert_days_left = up->identity.cert_days_left;
}

void
uplink_on_change(struct uplink *up, void (*cb)(void *arg), void *arg)
{
	up->on_change = cb;
	up->change_arg = arg;
}

void
uplink_on_status(struct uplink *up, void (*fill)(void *arg, struct codec_status *cs), void *arg)
{
	up->on_status = fill;
	up->status_arg = arg;
}

void
uplink_reconnect(struct uplink *up, const char *why)
{
	if (!mqtt_connected(up->mqtt))
		return;
	mqtt_record_error(up->mqtt, "%s", why);
	mqtt_reconnect(up->mqtt, why);
}
