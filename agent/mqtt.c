/* The uplink's MQTT session. A mosquitto object lives for one connection: on loss it is
 * destroyed (after its callbacks return) and the owner resends from its watermark, so nothing
 * is queued twice inside libmosquitto. */
#include "mqtt.h"

#include <errno.h>
#include <arpa/inet.h>
#include <inttypes.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "conf.h"
#include "log.h"
#include "identity.h"
#include "journal.h"
#include "loop.h"
#include "mem.h"
#include "platform.h"
#include "tlsdiag.h"
#include "uplink.h"

#define READ_PACKETS	  64
#define SHUTDOWN_FLUSH_MS 1000
#define CONTENT_TYPE_STAT "application/x-protobuf;proto=whagent.v1.Status"

enum state { DISCONNECTED, CONNECTING, CONNECTED };

struct mqtt {
	const struct conf *conf;
	struct journal *journal;
	struct loop *loop;
	const struct identity *identity;
	struct mqtt_cb cb;
	uint64_t session;
	struct mosquitto *mosq;
	int fd;
	enum state state;
	int lost; /* set by callbacks: tear the connection down after they return */
	int draining;
	char *password;
	char topic_status[300];
	int64_t backoff_ms;
	uint64_t reconnects;
	struct loop_timer connect_timer, status_timer;
	/* the link, for `whagent status` (see uplink_stats) */
	const char *link;
	int64_t link_since_ms, last_connect_ms;
	int64_t down_since_ms; /* when the link last left connected (or the start); 0: up */
	char last_error[320];
	int64_t last_error_ms;
	int error_current;
	int attempt_error;	    /* an error was recorded since this connection attempt */
	char lib_error[192];	    /* libmosquitto's last error log line (OpenSSL's reason) */
	char tls_why[320];	    /* the TLS failure explained while libmosquitto still had it */
	struct tlsdiag_watch watch; /* the broker certificate's names, from the handshake */
	int name_failed;	    /* libmosquitto said the host-name check failed */
	int sock_errno;		    /* a socket error seen while connecting (see note_errno) */
};

static int lib_users;

static void
changed(struct mqtt *m)
{
	if (m->cb.changed != NULL)
		m->cb.changed(m->cb.arg);
}

/* The link's state, kept in memory (no journal write). */
static void
record_state(struct mqtt *m, const char *state)
{
	m->link = state;
	m->link_since_ms = platform_now_ms();
	if (strcmp(state, "connected") == 0) {
		m->last_connect_ms = m->link_since_ms;
		m->error_current = 0;
		m->down_since_ms = 0;
	} else if (m->down_since_ms == 0) {
		m->down_since_ms = m->link_since_ms;
	}
	changed(m);
}

void
mqtt_record_error(struct mqtt *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m->last_error, sizeof(m->last_error), fmt, ap);
	va_end(ap);
	log_warnx("uplink: %s", m->last_error);
	m->last_error_ms = platform_now_ms();
	m->error_current = 1;
	m->attempt_error = 1;
	changed(m);
}

void
mqtt_link_ok(struct mqtt *m)
{
	if (!m->error_current)
		return;
	m->error_current = 0;
	changed(m);
}

/* Records a libmosquitto failure with its cause: before the broker accepted us, a TLS
 * failure is explained from the handshake (tlsdiag_explain); else what libmosquitto logged
 * about it (OpenSSL's reason), escaped. */
static void
connection_error(struct mqtt *m, const char *what, int rc)
{
	char why[320] = "", lib[200];

	if (m->tls_why[0] != '\0')
		snprintf(why, sizeof(why), "%s", m->tls_why);
	else if (m->state != CONNECTED && conf_mqtt_tls(m->conf))
		tlsdiag_explain(m->mosq != NULL ? mosquitto_ssl_get(m->mosq) : NULL,
				m->conf->mqtt.host, m->lib_error, m->name_failed, m->watch.names,
				why, sizeof(why));
	if (why[0] != '\0') {
		mqtt_record_error(m, "%s to %s:%ld: %s", what, m->conf->mqtt.host,
				  m->conf->mqtt.port, why);
		return;
	}
	log_escape(lib, sizeof(lib), m->lib_error, strlen(m->lib_error));
	mqtt_record_error(m, "%s to %s:%ld: %s%s%s%s", what, m->conf->mqtt.host, m->conf->mqtt.port,
			  rc == MOSQ_ERR_ERRNO ? strerror(errno)
			  : rc == MOSQ_ERR_EAI ? "cannot resolve the host name"
					       : mosquitto_strerror(rc),
			  lib[0] ? " (" : "", lib, lib[0] ? ")" : "");
}

/* Keeps errno if it is a socket's connect error: with TLS, libmosquitto's handshake write meets
 * it and leaves it only in errno (the socket's SO_ERROR is then cleared). */
static void
note_errno(struct mqtt *m, int e)
{
	if (e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH || e == ETIMEDOUT ||
	    e == ECONNRESET)
		m->sock_errno = e;
}

/* The connection failed before the broker's CONNACK with the socket closed or in error
 * (libmosquitto 2.0.11 takes a failed TLS handshake write for a pending one and would be
 * polled for keepalive_s at a full CPU): names the socket's error. */
static void
connect_failed(struct mqtt *m)
{
	int e = tlsdiag_socket_error(m->fd);
	char lib[200];

	if (e == 0)
		e = m->sock_errno;
	log_escape(lib, sizeof(lib), m->lib_error, strlen(m->lib_error));
	if (e != 0)
		mqtt_record_error(m, "connecting to %s:%ld: %s", m->conf->mqtt.host,
				  m->conf->mqtt.port, strerror(e));
	else
		mqtt_record_error(m,
				  "connecting to %s:%ld: the connection was closed before the "
				  "broker answered%s%s%s",
				  m->conf->mqtt.host, m->conf->mqtt.port, lib[0] ? " (" : "", lib,
				  lib[0] ? ")" : "");
	m->lost = 1;
}

/* --- publishing ------------------------------------------------------------------------ */

/* MQTT 5 properties of a message (content type, site, journal; a batch's seq range if
 * given); NULL with MQTT 3.1.1. Caller frees with mosquitto_property_free_all. */
static mosquitto_property *
properties(struct mqtt *m, const char *content_type, uint64_t first_seq, uint64_t last_seq)
{
	mosquitto_property *p = NULL;
	char first[24], last[24];

	if (m->conf->mqtt.protocol != CONF_MQTT5)
		return NULL;
	mosquitto_property_add_string(&p, MQTT_PROP_CONTENT_TYPE, content_type);
	mosquitto_property_add_string_pair(&p, MQTT_PROP_USER_PROPERTY, "site",
					   m->conf->agent.site_id);
	mosquitto_property_add_string_pair(&p, MQTT_PROP_USER_PROPERTY, "journal",
					   journal_id(m->journal));
	if (first_seq != 0) {
		snprintf(first, sizeof(first), "%" PRIu64, first_seq);
		snprintf(last, sizeof(last), "%" PRIu64, last_seq);
		mosquitto_property_add_string_pair(&p, MQTT_PROP_USER_PROPERTY, "first_seq", first);
		mosquitto_property_add_string_pair(&p, MQTT_PROP_USER_PROPERTY, "last_seq", last);
	}
	return p;
}

wh_err
mqtt_publish(struct mqtt *m, const struct mqtt_pub *p, int *ret_mid)
{
	mosquitto_property *props = properties(m, p->content_type, p->first_seq, p->last_seq);
	int rc;

	rc = mosquitto_publish_v5(m->mosq, ret_mid, p->topic, (int)p->len, p->buf, 1, false, props);
	mosquitto_property_free_all(&props);
	if (rc == MOSQ_ERR_SUCCESS)
		return WH_OK;
	if (p->what != NULL) {
		mqtt_record_error(m, "publishing %s: %s", p->what, mosquitto_strerror(rc));
		m->lost = 1;
	}
	return WH_ERR_IO;
}

void
mqtt_reply(struct mqtt *m, const struct mqtt_msg *in, const char *topic, const void *buf,
	   size_t len)
{
	mosquitto_property *props = NULL;
	void *corr = NULL;
	uint16_t corr_len = 0;

	/* A response topic is never taken: the answer would go wherever the sender says. */
	if (mosquitto_property_read_binary(in->props, MQTT_PROP_CORRELATION_DATA, &corr, &corr_len,
					   false) != NULL)
		mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, corr, corr_len);
	mosquitto_publish_v5(m->mosq, NULL, topic, (int)len, buf, 1, false, props);
	mosquitto_property_free_all(&props);
	free(corr); /* libmosquitto's allocation */
}

/* --- status messages ------------------------------------------------------------------ */

static wh_err
status_payload(struct mqtt *m, int online, uint8_t **ret_buf, size_t *ret_len)
{
	struct codec_status cs = {.site_id = m->conf->agent.site_id,
				  .journal_id = journal_id(m->journal),
				  .online = online,
				  .session = m->session,
				  .time_ms = platform_now_ms(),
				  .clock_synced = -1};

	cs.has_client_cert = m->identity->has_client_cert;
	cs.cert_days_left = m->identity->cert_days_left;
	m->cb.status(m->cb.arg, &cs);
	return codec_status_encode(&cs, ret_buf, ret_len);
}

void
mqtt_publish_status(struct mqtt *m, int online)
{
	mosquitto_property *props;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	if (m->state != CONNECTED || status_payload(m, online, &buf, &len) != WH_OK)
		return;
	props = properties(m, CONTENT_TYPE_STAT, 0, 0);
	rc = mosquitto_publish_v5(m->mosq, NULL, m->topic_status, (int)len, buf, 1, true, props);
	mosquitto_property_free_all(&props);
	wh_free(buf);
	if (rc != MOSQ_ERR_SUCCESS)
		log_warnx("uplink: publishing status: %s", mosquitto_strerror(rc));
}

void
mqtt_birth(struct mqtt *m)
{
	mqtt_publish_status(m, 1);
	loop_timer_arm(&m->status_timer, (int64_t)m->conf->mqtt.status_interval_s * 1000);
}

static void
on_status_timer(void *arg)
{
	struct mqtt *m = arg;

	mqtt_publish_status(m, 1);
	loop_timer_arm(&m->status_timer, (int64_t)m->conf->mqtt.status_interval_s * 1000);
	if (m->state == CONNECTED)
		m->cb.heartbeat(m->cb.arg);
}

/* --- connection ------------------------------------------------------------------------ */

static int64_t
next_backoff(struct mqtt *m)
{
	int64_t lo = m->conf->mqtt.reconnect_min_ms, hi = m->conf->mqtt.reconnect_max_ms;
	uint32_t r = 0;

	m->backoff_ms = m->backoff_ms ? m->backoff_ms * 2 : lo;
	if (m->backoff_ms > hi)
		m->backoff_ms = hi;
	platform_random(&r, sizeof(r));
	/* jitter: 75% to 125% of the step, so a fleet does not reconnect in lockstep */
	return m->backoff_ms * 3 / 4 + (int64_t)(r % (uint32_t)(m->backoff_ms / 2 + 1));
}

static void
teardown(struct mqtt *m)
{
	if (m->fd >= 0)
		loop_fd_del(m->loop, m->fd);
	m->fd = -1;
	if (m->mosq != NULL)
		mosquitto_destroy(m->mosq);
	m->mosq = NULL;
	m->lost = 0;
	loop_timer_disarm(&m->status_timer);
}

static void
connection_lost(struct mqtt *m)
{
	int64_t delay;

	if (m->state == CONNECTED)
		log_warnx("uplink: disconnected from %s:%ld", m->conf->mqtt.host,
			  m->conf->mqtt.port);
	teardown(m);
	m->state = DISCONNECTED;
	m->cb.lost(m->cb.arg); /* first, so that the state recorded has no window in flight */
	record_state(m, "disconnected");
	if (m->draining) {
		loop_stop(m->loop);
		return;
	}
	delay = next_backoff(m);
	log_info("uplink: reconnecting in %" PRId64 " ms", delay);
	loop_timer_arm(&m->connect_timer, delay);
}

/* --- mosquitto callbacks (run inside mosquitto_loop_*) ----------------------------------- */

static void
on_connect(struct mosquitto *mosq, void *obj, int rc, int flags, const mosquitto_property *p)
{
	struct mqtt *m = obj;

	(void)mosq;
	(void)flags;
	(void)p;
	if (rc != 0) {
		mqtt_record_error(
			m, "the broker %s:%ld refused the connection (CONNACK reason %d): %s",
			m->conf->mqtt.host, m->conf->mqtt.port, rc,
			m->conf->mqtt.protocol == CONF_MQTT5 ? mosquitto_reason_string(rc)
							     : mosquitto_connack_string(rc));
		m->lost = 1;
		return;
	}
	m->state = CONNECTED;
	m->backoff_ms = 0;
	record_state(m, "connected");
	m->cb.connected(m->cb.arg);
}

static void
on_disconnect(struct mosquitto *mosq, void *obj, int rc, const mosquitto_property *p)
{
	struct mqtt *m = obj;

	(void)mosq;
	(void)p;
	if (rc != 0 && !m->attempt_error)
		connection_error(m, m->state == CONNECTED ? "connection lost" : "connecting", rc);
	m->lost = 1;
}

static void
on_publish(struct mosquitto *mosq, void *obj, int mid, int reason, const mosquitto_property *p)
{
	struct mqtt *m = obj;

	(void)mosq;
	(void)p;
	m->cb.published(m->cb.arg, mid, reason >= 0x80 ? mosquitto_reason_string(reason) : NULL);
}

static void
on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg,
	   const mosquitto_property *p)
{
	struct mqtt *m = obj;
	struct mqtt_msg in = {msg->topic, msg->payload, (size_t)msg->payloadlen, p, msg->retain};

	(void)mosq;
	m->cb.message(m->cb.arg, &in);
}

static void
on_log(struct mosquitto *mosq, void *obj, int level, const char *text)
{
	struct mqtt *m = obj;

	if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING)) {
		snprintf(m->lib_error, sizeof(m->lib_error), "%s", text);
		if (strstr(text, "host name verification failed") != NULL) {
			m->name_failed = 1; /* explained at OpenSSL's error that follows */
			log_debug("uplink: libmosquitto: %s", text);
			return;
		}
		/* OpenSSL's errors are logged before libmosquitto frees the SSL object */
		if (m->state != CONNECTED && m->tls_why[0] == '\0' && conf_mqtt_tls(m->conf) &&
		    mosquitto_ssl_get(mosq) != NULL)
			tlsdiag_explain(mosquitto_ssl_get(mosq), m->conf->mqtt.host, text,
					m->name_failed, m->watch.names, m->tls_why,
					sizeof(m->tls_why));
		log_debug("uplink: libmosquitto: %s", text);
	}
}

/* --- the loop ---------------------------------------------------------------------------- */

static void
on_fd(int fd, short revents, void *arg)
{
	struct mqtt *m = arg;
	int rc = MOSQ_ERR_SUCCESS;

	(void)fd;
	errno = 0;
	if (revents & (POLLIN | POLLERR | POLLHUP))
		rc = mosquitto_loop_read(m->mosq, READ_PACKETS);
	if (m->state == CONNECTING)
		note_errno(m, errno);
	if (rc == MOSQ_ERR_SUCCESS && conf_mqtt_tls(m->conf))
		tlsdiag_watch(mosquitto_ssl_get(m->mosq), &m->watch);
	if (rc == MOSQ_ERR_SUCCESS && !m->lost && (revents & POLLOUT))
		rc = mosquitto_loop_write(m->mosq, READ_PACKETS);
	if (rc != MOSQ_ERR_SUCCESS && !m->lost) {
		connection_error(m, m->state == CONNECTED ? "connection" : "connecting", rc);
		m->lost = 1;
	}
	if (!m->lost && m->state == CONNECTING && (revents & (POLLERR | POLLHUP)))
		connect_failed(m);
	if (m->lost)
		connection_lost(m);
}

/* Before every poll: libmosquitto's keep-alive work and whether it wants to write. */
static void
on_prepare(void *arg)
{
	struct mqtt *m = arg;

	if (m->mosq == NULL)
		return;
	if (mosquitto_loop_misc(m->mosq) != MOSQ_ERR_SUCCESS && m->state == CONNECTED)
		m->lost = 1;
	if (m->lost) {
		connection_lost(m);
		return;
	}
	loop_fd_events(m->loop, m->fd, POLLIN | (mosquitto_want_write(m->mosq) ? POLLOUT : 0));
}

static int
configure(struct mqtt *m)
{
	const struct conf *c = m->conf;
	uint8_t *will = NULL;
	size_t len = 0;
	int rc;

	mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION,
			     c->mqtt.protocol == CONF_MQTT5 ? MQTT_PROTOCOL_V5
							    : MQTT_PROTOCOL_V311);
	mosquitto_int_option(m->mosq, MOSQ_OPT_SEND_MAXIMUM, (int)c->mqtt.window + 2);
	mosquitto_connect_v5_callback_set(m->mosq, on_connect);
	mosquitto_disconnect_v5_callback_set(m->mosq, on_disconnect);
	mosquitto_publish_v5_callback_set(m->mosq, on_publish);
	mosquitto_log_callback_set(m->mosq, on_log);
	mosquitto_message_v5_callback_set(m->mosq, on_message);
	if (status_payload(m, 0, &will, &len) != WH_OK)
		return MOSQ_ERR_NOMEM;
	rc = mosquitto_will_set(m->mosq, m->topic_status, (int)len, will, 1, true);
	wh_free(will);
	if (rc == MOSQ_ERR_SUCCESS && conf_mqtt_tls(c)) {
		rc = mosquitto_tls_set(m->mosq, c->mqtt.cafile[0] ? c->mqtt.cafile : NULL,
				       c->mqtt.capath[0] ? c->mqtt.capath : NULL,
				       c->mqtt.certfile[0] ? c->mqtt.certfile : NULL,
				       c->mqtt.certfile[0] ? c->mqtt.keyfile : NULL, NULL);
		if (rc == MOSQ_ERR_SUCCESS)
			rc = mosquitto_tls_opts_set(m->mosq, 1, "tlsv1.2", NULL);
	}
	if (rc == MOSQ_ERR_SUCCESS && c->mqtt.username[0])
		rc = mosquitto_username_pw_set(m->mosq, c->mqtt.username, m->password);
	return rc;
}

/* Plain TCP without allow_insecure goes to this machine only: the host must resolve to
 * loopback addresses only, checked here on the addresses themselves (a name such as
 * 127.example.com or an /etc/hosts that maps localhost elsewhere is refused). libmosquitto
 * then resolves the same name again and tries each address. 0, or -1 with the error
 * recorded. */
static int
check_plain_target(struct mqtt *m)
{
	const char *host = m->conf->mqtt.host;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *ai;
	char addr[NI_MAXHOST], bad[INET6_ADDRSTRLEN] = "";
	int rc;

	if (conf_mqtt_tls(m->conf) || m->conf->mqtt.allow_insecure)
		return 0;
	if ((rc = getaddrinfo(host, NULL, &hints, &res)) != 0) {
		mqtt_record_error(m, "connecting: cannot resolve %s: %s", host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL && bad[0] == '\0'; ai = ai->ai_next) {
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr), NULL, 0,
				NI_NUMERICHOST) != 0)
			snprintf(addr, sizeof(addr), "an address of family %d", ai->ai_family);
		if (!conf_host_is_loopback(addr))
			snprintf(bad, sizeof(bad), "%.*s", (int)sizeof(bad) - 1, addr);
	}
	freeaddrinfo(res);
	if (bad[0] == '\0')
		return 0;
	mqtt_record_error(m,
			  "connecting: %s resolves to %s, not to this machine: plain TCP is "
			  "refused (set cafile for TLS, or allow_insecure = true)",
			  host, bad);
	return -1;
}

static void
on_connect_timer(void *arg)
{
	struct mqtt *m = arg;
	char why[300];
	int rc;

	m->attempt_error = 0;
	m->sock_errno = 0;
	m->lib_error[0] = '\0';
	m->tls_why[0] = '\0';
	m->name_failed = 0;
	m->mosq = mosquitto_new(m->conf->mqtt.client_id, true, m);
	if (m->mosq == NULL) {
		mqtt_record_error(m, "creating the MQTT client: %s", strerror(errno));
		connection_lost(m);
		return;
	}
	if (conf_mqtt_tls(m->conf) && tlsdiag_check_files(m->conf, why, sizeof(why)) != WH_OK) {
		mqtt_record_error(m, "connecting: %s", why);
		connection_lost(m);
		return;
	}
	if (check_plain_target(m) != 0) {
		connection_lost(m);
		return;
	}
	rc = configure(m);
	errno = 0;
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_connect_async(m->mosq, m->conf->mqtt.host, (int)m->conf->mqtt.port,
					     (int)m->conf->mqtt.keepalive_s);
	note_errno(m, errno);
	if (rc == MOSQ_ERR_SUCCESS && conf_mqtt_tls(m->conf))
		tlsdiag_watch(mosquitto_ssl_get(m->mosq), &m->watch);
	if (rc != MOSQ_ERR_SUCCESS) {
		connection_error(m, "connecting", rc);
		connection_lost(m);
		return;
	}
	m->fd = mosquitto_socket(m->mosq);
	if (m->fd < 0 || loop_fd_add(m->loop, m->fd, POLLIN | POLLOUT, on_fd, m) != WH_OK) {
		mqtt_record_error(m, "connecting: no socket");
		m->fd = -1;
		connection_lost(m);
		return;
	}
	m->state = CONNECTING;
	m->reconnects++;
	record_state(m, "connecting");
}

/* --- set-up ----------------------------------------------------------------------------- */

wh_err
mqtt_new(const struct conf *c, struct journal *j, struct loop *l, const struct identity *id,
	 uint64_t session, const struct mqtt_cb *cb, struct mqtt **ret_m, char *why, size_t whylen)
{
	struct mqtt *m = wh_calloc(1, sizeof(*m));
	wh_err err;

	if (m == NULL)
		return WH_ERR_NOMEM;
	if (lib_users++ == 0)
		mosquitto_lib_init();
	m->conf = c;
	m->journal = j;
	m->loop = l;
	m->identity = id;
	m->cb = *cb;
	m->session = session;
	m->fd = -1;
	m->link = "disconnected";
	m->link_since_ms = m->down_since_ms = platform_now_ms();
	snprintf(m->topic_status, sizeof(m->topic_status), "%s/%s/status", c->mqtt.topic_prefix,
		 c->agent.site_id);
	if (c->mqtt.password_file[0] &&
	    (m->password = identity_read_password(c->mqtt.password_file)) == NULL) {
		snprintf(why, whylen, "cannot read password_file %s: %s", c->mqtt.password_file,
			 strerror(errno));
		err = WH_ERR_IO;
		goto fail;
	}
	loop_timer_add(l, &m->connect_timer, on_connect_timer, m);
	loop_timer_add(l, &m->status_timer, on_status_timer, m);
	loop_on_prepare(l, on_prepare, m);
	loop_timer_arm(&m->connect_timer, 0);
	*ret_m = m;
	return WH_OK;
fail:
	mqtt_free(m);
	return err;
}

void
mqtt_free(struct mqtt *m)
{
	if (m == NULL)
		return;
	teardown(m);
	loop_timer_del(m->loop, &m->connect_timer);
	loop_timer_del(m->loop, &m->status_timer);
	loop_on_prepare(m->loop, NULL, NULL);
	if (m->password != NULL) {
		memset(m->password, 0, strlen(m->password));
		wh_free(m->password);
	}
	wh_free(m);
	if (--lib_users == 0)
		mosquitto_lib_cleanup();
}

void
mqtt_reconfigure(struct mqtt *m, const struct conf *c)
{
	m->conf = c;
}

void
mqtt_reconnect(struct mqtt *m, const char *why)
{
	if (m->state == DISCONNECTED)
		return;
	log_info("uplink: %s: reconnecting", why);
	m->backoff_ms = 0;
	if (m->mosq != NULL)
		mosquitto_disconnect(m->mosq);
	m->lost = 1; /* torn down before the next poll; batches in flight are resent */
}

int
mqtt_connected(const struct mqtt *m)
{
	return m->state == CONNECTED && !m->lost;
}

void
mqtt_subscribe(struct mqtt *m, const char *topic)
{
	/* MQTT 5: a retained message there is never sent at all (control is never retained) */
	int rc = m->conf->mqtt.protocol == CONF_MQTT5
			 ? mosquitto_subscribe_v5(m->mosq, NULL, topic, 1,
						  MQTT_SUB_OPT_SEND_RETAIN_NEVER, NULL)
			 : mosquitto_subscribe(m->mosq, NULL, topic, 1);

	if (rc != MOSQ_ERR_SUCCESS)
		mqtt_record_error(m, "subscribing to %s: %s", topic, mosquitto_strerror(rc));
}

void
mqtt_drain(struct mqtt *m)
{
	m->draining = 1;
	loop_timer_disarm(&m->connect_timer);
}

/* Writes what libmosquitto has queued (the OFFLINE status, DISCONNECT), for a bounded time. */
static void
flush(struct mqtt *m)
{
	int64_t until = platform_mono_ms() + SHUTDOWN_FLUSH_MS;
	struct pollfd p = {.fd = m->fd, .events = POLLOUT};

	while (m->fd >= 0 && mosquitto_want_write(m->mosq) && platform_mono_ms() < until) {
		if (poll(&p, 1, 100) > 0 &&
		    mosquitto_loop_write(m->mosq, READ_PACKETS) != MOSQ_ERR_SUCCESS)
			break;
	}
}

void
mqtt_shutdown(struct mqtt *m)
{
	if (m->state == CONNECTED) {
		mqtt_publish_status(m, 0);
		mosquitto_disconnect(m->mosq);
		flush(m);
	}
	teardown(m);
	m->state = DISCONNECTED;
	record_state(m, "stopped");
}

void
mqtt_stats(const struct mqtt *m, struct uplink_stats *ret)
{
	ret->connected = m->state == CONNECTED;
	ret->reconnects = m->reconnects;
	snprintf(ret->link, sizeof(ret->link), "%s", m->link);
	ret->link_since_ms = m->link_since_ms;
	ret->down_since_ms = m->down_since_ms;
	ret->last_connect_ms = m->last_connect_ms;
	snprintf(ret->last_error, sizeof(ret->last_error), "%s", m->last_error);
	ret->last_error_ms = m->last_error_ms;
	ret->error_current = m->error_current;
}
