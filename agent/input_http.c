/* libmicrohttpd in external-epoll mode, routing, body intake with group commit, signed
 * webhooks (httpauth), TLS 1.2 or newer, GET pages loopback-only unless a bearer token. */
#include "input_http.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <strings.h>
#include <sys/socket.h>

#include "conf.h"
#include "httpauth.h"
#include "httplimit.h"
#include "intake.h"
#include "journal.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "platform.h"
#include "record.h"

#define RETRY_FULL_S  "30"
#define RETRY_ERROR_S "5"
/* Connections over a limit that are answered (503, 429, or /healthz served); the others are
 * dropped at once. */
#define HTTP_HEADROOM HTTPLIMIT_HEADROOM
/* Descriptors kept for everything but the HTTP listener's connections, and the open-files
 * limit the listener raises the soft limit to. */
#define HTTP_FDS_OTHERS 64
#define HTTP_FDS_WANTED 4096
/* GnuTLS priorities: TLS 1.2 and 1.3 only, the library's normal cipher suites. */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define REFUSED_LOG_S  10 /* refused signed POSTs: one log line per this long at most */

struct req {
	struct http *h;
	struct MHD_Connection *conn;
	char *body;
	size_t len, cap; /* cap bytes are held in the limits' body budget */
	int too_big;
	int overloaded; /* the body budget was spent: answered 503 at once */
	int close;	/* answer with Connection: close */
	struct httplimit_conn *lc;
	int ndjson;
	int suspended;
	int page; /* a GET page, not POST /v1/events */
	int done; /* answer ready: status, reply */
	unsigned status;
	char *reply;
	const char *retry_after;
	char peer[64];
	struct httpauth_sig sig;		 /* parsed before the body, verified after it */
	unsigned taken, duplicates, quarantined; /* for the summary logged once committed */
	struct req *next;
};

struct http {
	const struct conf *conf;
	struct journal *journal;
	struct loop *loop;
	struct MHD_Daemon *d;
	int fd;
	struct loop_timer mhd_timer, flush_timer, limit_timer;
	struct httplimit limits;
	struct intake intake;
	uint8_t *secret, *token;
	size_t secret_len, token_len;
	struct httpauth_replay replay;
	struct log_limit refused_log; /* refused signed POSTs */
	char *tls_cert, *tls_key;
	struct req *pending, **tail;
	struct http_counts counts;
	http_page_cb page;
	void *page_arg;
	http_action_cb action;
	void *action_arg;
};

static void
count(struct http *h, unsigned status)
{
	struct http_counts *c = &h->counts;

	for (int i = 0; i < c->n; i++) {
		if (c->code[i] == status) {
			c->count[i]++;
			return;
		}
	}
	if (c->n < HTTP_MAX_CODES) {
		c->code[c->n] = status;
		c->count[c->n++] = 1;
	}
}

/* Queues body (taken over: wh_malloc or cJSON memory, freed with wh_free once sent) as the
 * answer. */
static enum MHD_Result
respond(struct req *rq, unsigned status, char *body, const char *ctype, const char *retry_after)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	const char *text = body ? body : "{\"error\":\"out of memory\"}";

	if (body == NULL)
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	r = body ? MHD_create_response_from_buffer_with_free_callback(strlen(body), body, wh_free)
		 : MHD_create_response_from_buffer(strlen(text), (void *)(uintptr_t)text,
						   MHD_RESPMEM_PERSISTENT);
	if (r == NULL) {
		wh_free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (strncmp(ctype, "text/html", 9) == 0) {
		/* the page loads nothing from elsewhere and is never framed */
		MHD_add_response_header(r, "Content-Security-Policy",
					"default-src 'none'; style-src 'unsafe-inline'; script-src "
					"'unsafe-inline'; connect-src 'self'; img-src 'self'; "
					"frame-ancestors 'none'");
		MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
		MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	}
	if (retry_after != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, retry_after);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, rq->page ? "GET, HEAD" : "POST");
	if (status == MHD_HTTP_UNAUTHORIZED && rq->page)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Bearer realm=\"whagent\"");
	if (rq->close)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	count(rq->h, status);
	ret = MHD_queue_response(rq->conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* {"error": why} as a fresh string. */
static char *
error_body(const char *why)
{
	cJSON *o = cJSON_CreateObject();
	char *text;

	cJSON_AddStringToObject(o, "error", why);
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

/* An error answer; one that says "retry later" (503, 429) says when. */
static enum MHD_Result
respond_error(struct req *rq, unsigned status, const char *why)
{
	return respond(rq, status, error_body(why), "application/json",
		       status == MHD_HTTP_SERVICE_UNAVAILABLE ||
				       status == MHD_HTTP_TOO_MANY_REQUESTS
			       ? RETRY_ERROR_S
			       : NULL);
}

/* --- POST /v1/events: records → journal ------------------------------------------------ */

struct body_ctx {
	struct req *rq;
	cJSON *results;
	unsigned taken, duplicates, quarantined;
};

static wh_err
on_item(const struct record_item *it, void *arg)
{
	struct body_ctx *b = arg;
	struct http *h = b->rq->h;
	struct intake_outcome out = {0};
	char position[128];
	struct intake_raw raw = {.position = position,
				 .format = b->rq->ndjson ? "jsonl" : "json",
				 .bytes = it->raw,
				 .len = it->raw_len};
	cJSON *o;
	wh_err err;

	snprintf(position, sizeof(position), "POST /v1/events from %s, record %d", b->rq->peer,
		 it->index + 1);
	if (it->err == WH_OK)
		err = intake_record(&h->intake, it->r, NULL, &raw, &out);
	else
		err = intake_reject(&h->intake, &raw, it->why, &out);
	if (err != WH_OK)
		return err;
	o = cJSON_CreateObject();
	switch (out.result) {
	case INTAKE_TAKEN:
		cJSON_AddNumberToObject(o, "seq", (double)out.seq);
		b->taken++;
		break;
	case INTAKE_DUPLICATE:
		cJSON_AddNumberToObject(o, "duplicate_of", (double)out.seq);
		b->duplicates++;
		break;
	case INTAKE_QUARANTINED:
		cJSON_AddNumberToObject(o, "quarantined", (double)out.quarantine_id);
		cJSON_AddStringToObject(o, "reason", out.reason);
		b->quarantined++;
		break;
	}
	cJSON_AddItemToArray(b->results, o);
	return WH_OK;
}

static void
answer(struct req *rq, unsigned status, char *reply, const char *retry_after)
{
	rq->status = status;
	rq->reply = reply;
	rq->retry_after = retry_after;
	rq->done = 1;
}

/* Takes one request's records inside the open transaction. Journal errors are returned (the
 * transaction is then rolled back for all); problems of the body itself become its answer. */
static wh_err
take_body(struct http *h, struct req *rq)
{
	struct body_ctx b = {.rq = rq, .results = cJSON_CreateArray()};
	char why[320] = "";
	wh_err err;
	cJSON *o;

	if (b.results == NULL)
		return WH_ERR_NOMEM;
	err = record_body_each_at(rq->ndjson, h->conf->http.records, rq->body ? rq->body : "",
				  rq->len, (int)h->conf->http.max_records, on_item, &b, why,
				  sizeof(why));
	if (err == WH_ERR_INVAL) { /* not JSON at all: keep the body anyway */
		struct intake_outcome out = {0};
		char position[128];
		struct intake_raw raw = {.position = position,
					 .format = "body",
					 .bytes = rq->body ? rq->body : "",
					 .len = rq->len};

		snprintf(position, sizeof(position), "POST /v1/events from %s, whole body",
			 rq->peer);
		err = intake_reject(&h->intake, &raw, why, &out);
		if (err == WH_OK) {
			rq->quarantined = 1;
			o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "error", why);
			cJSON_AddNumberToObject(o, "quarantined", (double)out.quarantine_id);
			answer(rq, MHD_HTTP_BAD_REQUEST, cJSON_PrintUnformatted(o), NULL);
			cJSON_Delete(o);
		}
	} else if (err == WH_ERR_TOOBIG) {
		answer(rq, MHD_HTTP_CONTENT_TOO_LARGE, error_body(why), NULL);
		err = WH_OK;
	} else if (err == WH_OK) {
		o = cJSON_CreateObject();
		cJSON_AddItemToObject(o, "results", b.results);
		cJSON_AddNumberToObject(o, "taken", b.taken);
		cJSON_AddNumberToObject(o, "duplicates", b.duplicates);
		cJSON_AddNumberToObject(o, "quarantined", b.quarantined);
		rq->taken = b.taken, rq->duplicates = b.duplicates, rq->quarantined = b.quarantined;
		b.results = NULL;
		answer(rq, MHD_HTTP_OK, cJSON_PrintUnformatted(o), NULL);
		cJSON_Delete(o);
	}
	cJSON_Delete(b.results);
	return err;
}

/* One line per committed request that had duplicates or quarantined records. */
static void
log_request(const struct req *rq)
{
	char dup[48] = "", quar[96] = "";

	if (rq->duplicates == 0 && rq->quarantined == 0)
		return;
	if (rq->duplicates > 0)
		snprintf(dup, sizeof(dup), ", %u duplicate%s", rq->duplicates,
			 rq->duplicates == 1 ? "" : "s");
	if (rq->quarantined > 0) {
		snprintf(quar, sizeof(quar), ", %u quarantined: whagent quarantine list",
			 rq->quarantined);
		LOG_LIMITED(LOG_LVL_WARN, "http: POST /v1/events from %s: %u taken%s%s", rq->peer,
			    rq->taken, dup, quar);
	} else {
		LOG_LIMITED(LOG_LVL_INFO, "http: POST /v1/events from %s: %u taken%s", rq->peer,
			    rq->taken, dup);
	}
}

/* Answers from (a request in the pending list) and those after it; nothing of them taken. */
static void
answer_from(struct http *h, struct req *from, unsigned status, const char *why,
	    const char *retry_after)
{
	for (struct req *rq = from; rq != NULL; rq = rq->next) {
		wh_free(rq->reply);
		answer(rq, status, error_body(why), retry_after);
		if (h->secret != NULL) /* nothing taken: the same request may come again */
			httpauth_forget(&h->replay, &rq->sig);
	}
}

static void
answer_all(struct http *h, unsigned status, const char *why, const char *retry_after)
{
	answer_from(h, h->pending, status, why, retry_after);
}

/* One POST of a group commit in a savepoint of its own. WH_ERR_FULL when the budget did not
 * take it: undone, with what intake counted for it. */
static wh_err
take_one(struct http *h, struct req *rq)
{
	struct intake_counts counts = h->intake.pending;
	char position[sizeof(h->intake.pending_position)];
	wh_err err;

	memcpy(position, h->intake.pending_position, sizeof(position));
	if ((err = journal_txn_begin(h->journal, JOURNAL_TXN_APPEND)) == WH_OK)
		err = journal_txn_end(h->journal, take_body(h, rq));
	if (err == WH_ERR_FULL) {
		h->intake.pending = counts;
		memcpy(h->intake.pending_position, position, sizeof(position));
	}
	return err;
}

/* Group commit: the POSTs waiting are taken in one transaction, then answered. A group takes
 * what fits the budget: from the first POST that does not, the rest are answered 503. */
static void
flush(struct http *h)
{
	struct req *rq, *next, *full = NULL;
	wh_err err;

	if (h->pending == NULL)
		return;
	err = journal_txn_begin(h->journal, JOURNAL_TXN_APPEND);
	if (err == WH_OK) {
		for (rq = h->pending; err == WH_OK && rq != NULL; rq = rq->next) {
			err = rq == h->pending ? take_body(h, rq) : take_one(h, rq);
			if (err == WH_ERR_FULL && rq != h->pending) {
				full = rq; /* those before it are taken */
				err = WH_OK;
				break;
			}
		}
		err = journal_txn_end(h->journal, err);
	}
	if (err == WH_OK) {
		intake_committed(&h->intake);
		for (rq = h->pending; rq != full; rq = rq->next)
			log_request(rq);
		if (full != NULL)
			answer_from(h, full, MHD_HTTP_SERVICE_UNAVAILABLE,
				    "journal full: nothing of this request was taken, retry later",
				    RETRY_FULL_S);
	} else {
		intake_rolled_back(&h->intake);
		if (err == WH_ERR_FULL)
			answer_all(h, MHD_HTTP_SERVICE_UNAVAILABLE,
				   "journal full: nothing was taken, retry later", RETRY_FULL_S);
		else if (err == WH_ERR_PAUSED)
			answer_all(
				h, MHD_HTTP_SERVICE_UNAVAILABLE,
				"capture paused by the central platform: nothing was taken, retry "
				"later",
				RETRY_FULL_S);
		else
			answer_all(h, MHD_HTTP_SERVICE_UNAVAILABLE,
				   "journal unavailable: nothing was taken, retry later",
				   RETRY_ERROR_S);
		LOG_LIMITED(LOG_LVL_WARN, "http: %s; answered 503: %s", wh_strerror(err),
			    journal_errmsg(h->journal));
	}
	for (rq = h->pending; rq != NULL; rq = next) {
		next = rq->next;
		rq->next = NULL;
		rq->suspended = 0;
		MHD_resume_connection(rq->conn);
	}
	h->pending = NULL;
	h->tail = &h->pending;
	loop_timer_arm(&h->mhd_timer, 0);
}

static void
on_flush(void *arg)
{
	flush(arg);
}

/* --- request handling --------------------------------------------------------------------- */

/* A refused signed POST: one line per REFUSED_LOG_S at most, those held back counted. */
static void
log_refused(struct http *h, const struct req *rq, enum httpauth_verdict v)
{
	static const char *const what[] = {"accepted",
					   "no signature",
					   "old sha256= signature",
					   "malformed signature",
					   "timestamp too old",
					   "timestamp in the future",
					   "timestamp below the replay floor",
					   "replayed signature",
					   "wrong signature"};

	log_limited(&h->refused_log, LOG_LVL_WARN,
		    "http: POST /v1/events from %s refused (401): %s", rq->peer, what[v]);
}

static enum MHD_Result
refuse_signature(struct req *rq, enum httpauth_verdict v)
{
	log_refused(rq->h, rq, v);
	return respond_error(rq, MHD_HTTP_UNAUTHORIZED, httpauth_why(v));
}

int
http_bearer_ok(const struct http *h, struct MHD_Connection *conn)
{
	return h->token != NULL &&
	       httpauth_bearer_ok(MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							      MHD_HTTP_HEADER_AUTHORIZATION),
				  h->token, h->token_len);
}

unsigned
http_page_allowed(const struct http *h, struct MHD_Connection *conn, const char **ret_why)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	if (ci != NULL && httpauth_peer_is_loopback(ci->client_addr))
		return 0;
	if (http_bearer_ok(h, conn))
		return 0;
	*ret_why = h->token != NULL
			   ? "from off this machine this page needs Authorization: Bearer <the "
			     "token of [input.http] token_file>"
			   : "this page is answered to this machine only ([input.http] token_file "
			     "unset)";
	return h->token != NULL ? MHD_HTTP_UNAUTHORIZED : MHD_HTTP_FORBIDDEN;
}

/* 1: application/json, 2: JSON Lines, 0: anything else (parameters such as charset ignored). */
static int
content_kind(const char *ctype)
{
	static const struct {
		const char *name;
		int kind;
	} kinds[] = {
		{"application/json", 1},	{"application/x-ndjson", 2},
		{"application/jsonl", 2},	{"application/jsonlines", 2},
		{"application/x-jsonlines", 2},
	};
	size_t n;

	if (ctype == NULL)
		return 0;
	n = strcspn(ctype, "; \t");
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strlen(kinds[i].name) == n && strncasecmp(ctype, kinds[i].name, n) == 0)
			return kinds[i].kind;
	return 0;
}

static void
peer_name(struct MHD_Connection *conn, char *buf, size_t len)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char host[64];
	socklen_t sl;

	snprintf(buf, len, "?");
	if (ci == NULL || ci->client_addr == NULL)
		return;
	sl = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						    : sizeof(struct sockaddr_in);
	if (getnameinfo(ci->client_addr, sl, host, sizeof(host), NULL, 0, NI_NUMERICHOST) == 0)
		snprintf(buf, len, "%s", host);
}

static enum MHD_Result
serve_page(struct req *rq, const char *method, enum http_page page)
{
	unsigned status = MHD_HTTP_OK;
	const char *ctype = "application/json", *why = NULL;
	char *body;

	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		return respond_error(rq, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET");
	}
	/* /healthz stays open: a load balancer's probe; it tells state and backlog only */
	if (page != HTTP_PAGE_HEALTHZ && (status = http_page_allowed(rq->h, rq->conn, &why)) != 0)
		return respond_error(rq, status, why);
	status = MHD_HTTP_OK;
	body = rq->h->page(page, &status, &ctype, rq->h->page_arg);
	return respond(rq, status, body, ctype, NULL);
}

/* POST /v1/quarantine/ID/requeue|purge: this machine, the token, then the agent. */
static enum MHD_Result
serve_action(struct req *rq, const char *url, const char *method)
{
	struct http *h = rq->h;
	const char *p = url + strlen("/v1/quarantine/");
	unsigned status = MHD_HTTP_OK;
	enum http_action act;
	long long id;
	char *end, *body;

	rq->page = 0; /* 405 says Allow: POST */
	if (strcmp(method, "POST") != 0)
		return respond_error(rq, MHD_HTTP_METHOD_NOT_ALLOWED, "use POST");
	if (h->token == NULL || h->action == NULL)
		return respond_error(rq, MHD_HTTP_FORBIDDEN,
				     "the page is read only: set [input.http] token_file for "
				     "requeue and purge");
	/* the token also from this machine: a page another local user opened must not change */
	if (!http_bearer_ok(h, rq->conn))
		return respond_error(rq, MHD_HTTP_UNAUTHORIZED,
				     "missing or wrong Authorization: Bearer <the token of "
				     "[input.http] token_file>");
	errno = 0;
	id = strtoll(p, &end, 10);
	if (errno != 0 || end == p || id <= 0 ||
	    (strcmp(end, "/requeue") != 0 && strcmp(end, "/purge") != 0))
		return respond_error(rq, MHD_HTTP_NOT_FOUND,
				     "POST /v1/quarantine/ID/requeue or /v1/quarantine/ID/purge");
	act = strcmp(end, "/requeue") == 0 ? HTTP_ACTION_REQUEUE : HTTP_ACTION_PURGE;
	peer_name(rq->conn, rq->peer, sizeof(rq->peer));
	body = h->action(act, (int64_t)id, rq->peer, &status, h->action_arg);
	return respond(rq, status, body, "application/json", NULL);
}

/* First call for a request: route it, and check what can be checked before the body. */
static enum MHD_Result
begin(struct req *rq, const char *url, const char *method)
{
	struct MHD_Connection *conn = rq->conn;
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	enum httplimit_verdict lv;
	const char *clen;

	rq->lc = ci != NULL ? ci->socket_context : NULL;

	rq->page = strcmp(url, "/v1/events") != 0;
	if (strcmp(url, "/healthz") == 0) /* answered also past the limits: the probe */
		return serve_page(rq, method, HTTP_PAGE_HEALTHZ);
	if ((lv = httplimit_verdict(&rq->h->limits, rq->lc)) != HTTPLIMIT_OK) {
		rq->close = 1;
		return respond_error(rq,
				     lv == HTTPLIMIT_PEER ? MHD_HTTP_TOO_MANY_REQUESTS
							  : MHD_HTTP_SERVICE_UNAVAILABLE,
				     lv != HTTPLIMIT_PEER
					     ? "too many connections (max_connections); retry later"
					     : "too many connections from your address "
					       "(max_connections_per_peer); retry later");
	}
	if (strcmp(url, "/v1/status") == 0) {
		const char *detail =
			MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "detail");

		return serve_page(rq, method,
				  detail != NULL && strcmp(detail, "1") == 0
					  ? HTTP_PAGE_STATUS_DETAIL
					  : HTTP_PAGE_STATUS);
	}
	if (strcmp(url, "/") == 0 || strcmp(url, "/ui") == 0)
		return serve_page(rq, method, HTTP_PAGE_UI);
	if (strncmp(url, "/v1/quarantine/", 15) == 0)
		return serve_action(rq, url, method);
	if (strcmp(url, "/metrics") == 0)
		return serve_page(rq, method, HTTP_PAGE_METRICS);
	if (strcmp(url, "/v1/events") != 0)
		return respond_error(
			rq, MHD_HTTP_NOT_FOUND,
			"no such resource (POST /v1/events, GET /, /healthz, /v1/status, "
			"/metrics)");
	if (strcmp(method, "POST") != 0)
		return respond_error(rq, MHD_HTTP_METHOD_NOT_ALLOWED, "use POST");
	peer_name(conn, rq->peer, sizeof(rq->peer));
	/* the signature's header is checked first: a refused POST's body is never read */
	if (rq->h->secret != NULL) { /* refused before a byte of the body is read */
		enum httpauth_verdict v = httpauth_parse(
			MHD_lookup_connection_value(conn, MHD_HEADER_KIND, HTTPAUTH_HEADER),
			&rq->sig);

		if (v == HTTPAUTH_OK)
			v = httpauth_precheck(&rq->h->replay, &rq->sig, platform_now_ms() / 1000,
					      rq->h->conf->http.signature_window_s);
		if (v != HTTPAUTH_OK)
			return refuse_signature(rq, v);
	}
	switch (content_kind(
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE))) {
	case 1:
		rq->ndjson = 0;
		break;
	case 2:
		rq->ndjson = 1;
		break;
	default:
		return respond_error(rq, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
				     "Content-Type must be application/json (an object or an array "
				     "of objects) or application/x-ndjson (JSON Lines)");
	}
	clen = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (clen != NULL && strtoll(clen, NULL, 10) > rq->h->conf->http.max_body_bytes)
		return respond_error(rq, MHD_HTTP_CONTENT_TOO_LARGE,
				     "body larger than max_body_bytes; nothing was taken");
	return MHD_YES;
}

static void
append(struct req *rq, const char *data, size_t n)
{
	size_t max = (size_t)rq->h->conf->http.max_body_bytes;

	if (rq->overloaded)
		return;
	if (rq->too_big || rq->len + n > max) {
		rq->too_big = 1;
		return;
	}
	if (rq->len + n > rq->cap) {
		size_t cap = rq->cap ? rq->cap * 2 : 4096;
		char *p;

		while (cap < rq->len + n)
			cap *= 2;
		cap = cap > max ? max : cap;
		/* the bodies held at once are bounded too, not only each one */
		if (httplimit_hold(&rq->h->limits, cap - rq->cap) != 0) {
			rq->overloaded = 1; /* what it holds goes back now, the rest is discarded */
			httplimit_release(&rq->h->limits, rq->cap);
			wh_free(rq->body);
			rq->body = NULL;
			rq->len = rq->cap = 0;
			return;
		}
		p = wh_realloc(rq->body, cap);
		if (p == NULL) {
			httplimit_release(&rq->h->limits, cap - rq->cap);
			rq->too_big = 1; /* answered 413; the sender may retry smaller */
			return;
		}
		rq->body = p;
		rq->cap = cap;
	}
	memcpy(rq->body + rq->len, data, n);
	rq->len += n;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
	   const char *version, const char *data, size_t *size, void **con_cls)
{
	struct http *h = cls;
	struct req *rq = *con_cls;

	(void)version;
	if (rq == NULL) {
		rq = wh_calloc(1, sizeof(*rq));
		if (rq == NULL)
			return MHD_NO;
		rq->h = h;
		rq->conn = conn;
		*con_cls = rq;
		return begin(rq, url, method);
	}
	if (rq->done) {
		enum MHD_Result r =
			respond(rq, rq->status, rq->reply, "application/json", rq->retry_after);

		rq->reply = NULL;
		return r;
	}
	if (*size > 0) {
		append(rq, data, *size);
		*size = 0;
		return MHD_YES;
	}
	if (rq->overloaded) { /* libmicrohttpd answers only once the body is read: discarded */
		rq->close = 1;
		return respond_error(rq, MHD_HTTP_SERVICE_UNAVAILABLE,
				     "the agent holds too many request bodies at once "
				     "(max_buffered_bytes); nothing was taken, retry later");
	}
	if (rq->too_big)
		return respond_error(rq, MHD_HTTP_CONTENT_TOO_LARGE,
				     "body larger than max_body_bytes; nothing was taken");
	if (h->secret != NULL) { /* before anything parses the body */
		enum httpauth_verdict v = httpauth_verify(
			&h->replay, h->secret, h->secret_len, &rq->sig, rq->body ? rq->body : "",
			rq->len, platform_now_ms() / 1000, h->conf->http.signature_window_s);

		if (v != HTTPAUTH_OK)
			return refuse_signature(rq, v);
	}
	*h->tail = rq;
	h->tail = &rq->next;
	rq->suspended = 1;
	httplimit_arrived(rq->lc); /* the wait for the journal is ours */
	MHD_suspend_connection(conn);
	loop_timer_arm_soon(&h->flush_timer, 0);
	return MHD_YES;
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
	     enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (rq == NULL)
		return;
	httplimit_release(&rq->h->limits, rq->cap);
	httplimit_answered(&rq->h->limits, rq->lc, platform_mono_ms());
	/* the next request on the connection has its deadline: the timer must see it */
	loop_timer_arm_soon(&rq->h->limit_timer, rq->h->limits.request_ms);
	wh_free(rq->reply);
	wh_free(rq->body);
	wh_free(rq);
	*con_cls = NULL;
}

static void run(struct http *h);

/* Every connection is in the limits' table from its accept to its close. */
static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
	      enum MHD_ConnectionNotificationCode toe)
{
	struct http *h = cls;
	const union MHD_ConnectionInfo *fd, *peer;

	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		httplimit_closed(&h->limits, *socket_context);
		*socket_context = NULL;
		return;
	}
	fd = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	peer = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	*socket_context =
		fd == NULL ? NULL
			   : httplimit_opened(&h->limits, fd->connect_fd,
					      peer ? peer->client_addr : NULL, platform_mono_ms());
	if (fd != NULL && httplimit_verdict(&h->limits, *socket_context) == HTTPLIMIT_DROP)
		shutdown(fd->connect_fd, SHUT_RDWR); /* libmicrohttpd closes it at once */
	loop_timer_arm_soon(&h->limit_timer, HTTPLIMIT_REFUSED_MS);
}

/* Closes the connections past their deadline (slow clients hold nothing for long). */
static void
on_limit_timer(void *arg)
{
	struct http *h = arg;
	int64_t next;

	if (httplimit_expire(&h->limits, platform_mono_ms(), &next) > 0)
		run(h); /* may accept connections, which arm the timer sooner */
	if (next >= 0)
		loop_timer_arm_soon(&h->limit_timer, next);
}

/* --- the daemon in our loop ------------------------------------------------------------ */

static void
run(struct http *h)
{
	MHD_UNSIGNED_LONG_LONG timeout;

	MHD_run(h->d);
	if (MHD_get_timeout(h->d, &timeout) == MHD_YES)
		loop_timer_arm(&h->mhd_timer, (int64_t)timeout);
	else
		loop_timer_disarm(&h->mhd_timer);
}

static void
on_fd(int fd, short revents, void *arg)
{
	(void)fd;
	(void)revents;
	run(arg);
}

static void
on_mhd_timer(void *arg)
{
	run(arg);
}

static void mhd_log(void *arg, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void
mhd_log(void *arg, const char *fmt, va_list ap)
{
	char line[512];

	(void)arg;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	LOG_LIMITED(LOG_LVL_WARN, "http: %s", line);
}

static char *
read_file(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && n < (1 << 20) &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = wh_malloc((size_t)n + 1)) != NULL) {
		if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
			wh_free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
			*ret_len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

static wh_err
load_secrets(struct http *h, const struct conf *c, char *why, size_t whylen)
{
	size_t n = 0;
	wh_err err;

	if (c->http.hmac_secret_file[0]) {
		if ((err = httpauth_secret_load(c->http.hmac_secret_file, "hmac_secret_file",
						&h->secret, &h->secret_len, why, whylen)) != WH_OK)
			return err;
		if (httpauth_replay_init(&h->replay, HTTPAUTH_REPLAY_MAX) != WH_OK) {
			snprintf(why, whylen, "%s", wh_strerror(WH_ERR_NOMEM));
			return WH_ERR_NOMEM;
		}
	}
	if (c->http.token_file[0] &&
	    (err = httpauth_secret_load(c->http.token_file, "token_file", &h->token, &h->token_len,
					why, whylen)) != WH_OK)
		return err;
	if (c->http.tls_certfile[0]) {
		h->tls_cert = read_file(c->http.tls_certfile, &n);
		h->tls_key = read_file(c->http.tls_keyfile, &n);
		if (h->tls_cert == NULL || h->tls_key == NULL) {
			snprintf(why, whylen, "cannot read tls_certfile or tls_keyfile: %s",
				 strerror(errno));
			return WH_ERR_IO;
		}
	}
	return WH_OK;
}

/* Connections libmicrohttpd accepts at all: as many as the descriptors allow (less those the
 * spool, the journal and the uplink need; the soft limit raised up to HTTP_FDS_WANTED). It
 * must not stop accepting at the limits: connections would then wait in the kernel's queue
 * behind a flood, /healthz among them; past the limits the table answers or drops them at
 * once instead. */
static void
fd_budget(const struct conf *c, long *ret_total, long *ret_peer)
{
	struct rlimit rl;
	long total = HTTP_FDS_WANTED - HTTP_FDS_OTHERS;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < HTTP_FDS_WANTED) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > HTTP_FDS_WANTED
				      ? HTTP_FDS_WANTED
				      : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < HTTP_FDS_WANTED)
			total = (long)rl.rlim_cur - HTTP_FDS_OTHERS;
	}
	if (total < c->http.max_connections + HTTP_HEADROOM) {
		total = total < 8 ? 8 : total;
		log_warnx(
			"http: the open-files limit allows %ld connections, below max_connections "
			"and the room to refuse more (raise LimitNOFILE or lower max_connections)",
			total);
	}
	*ret_total = total;
	*ret_peer = c->http.max_connections_per_peer + HTTP_HEADROOM;
}

static wh_err
start(struct http *h, const struct conf *c, char *why, size_t whylen)
{
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
				 .ai_socktype = SOCK_STREAM};
	struct addrinfo *ai = NULL;
	char host[64];
	const char *colon = strrchr(c->http.listen, ':');
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *info;
	int port = (int)strtol(colon + 1, NULL, 10);
	long hard_total, hard_peer;

	snprintf(host, sizeof(host), "%.*s", (int)(colon - c->http.listen), c->http.listen);
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strcspn(host, "]")] = '\0';
	}
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0) {
		snprintf(why, whylen, "listen %s: not a numeric address and port", c->http.listen);
		return WH_ERR_CONF;
	}
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (h->tls_cert != NULL)
		flags |= MHD_USE_TLS;
	fd_budget(c, &hard_total, &hard_peer);
	errno = 0;
	h->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, h,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h, MHD_OPTION_SOCK_ADDR,
				ai->ai_addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
				MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)hard_total,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)hard_peer,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)c->http.timeout_s,
				h->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END,
				h->tls_cert, MHD_OPTION_HTTPS_MEM_KEY, h->tls_key,
				MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES, MHD_OPTION_END);
	freeaddrinfo(ai);
	if (h->d == NULL) {
		snprintf(why, whylen, "cannot listen on %s: %s", c->http.listen,
			 errno ? strerror(errno) : "see libmicrohttpd's message above");
		return WH_ERR_IO;
	}
	info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
	h->fd = info ? info->epoll_fd : -1;
	if (h->fd < 0 || loop_fd_add(h->loop, h->fd, POLLIN, on_fd, h) != WH_OK) {
		snprintf(why, whylen, "%s: no descriptor for the loop", c->http.listen);
		return WH_ERR_IO;
	}
	return WH_OK;
}

wh_err
http_new(const struct conf *c, struct journal *j, struct loop *l, http_page_cb page, void *arg,
	 struct http **ret_h, char *why, size_t whylen)
{
	struct http *h;
	wh_err err;

	snprintf(why, whylen, "%s", wh_strerror(WH_ERR_NOMEM));
	record_json_alloc(); /* answers are cJSON text, freed with wh_free */
	h = wh_calloc(1, sizeof(*h));
	if (h == NULL)
		return WH_ERR_NOMEM;
	h->conf = c;
	h->journal = j;
	h->loop = l;
	h->fd = -1;
	h->page = page;
	h->page_arg = arg;
	h->tail = &h->pending;
	h->refused_log = (struct log_limit){.burst = 1, .period_s = REFUSED_LOG_S};
	h->intake.journal = j;
	h->intake.input = "http";
	h->intake.source = c->http.source;
	h->intake.ledger = conf_ledger_rules(c);
	h->intake.ahead_ms = (int64_t)c->health.event_time_ahead_s * 1000;
	h->intake.behind_ms = (int64_t)c->health.event_time_behind_s * 1000;
	conf_input_map(c, "http", &h->intake.map);
	loop_timer_add(l, &h->mhd_timer, on_mhd_timer, h);
	loop_timer_add(l, &h->flush_timer, on_flush, h);
	loop_timer_add(l, &h->limit_timer, on_limit_timer, h);
	httplimit_init(&h->limits, c->http.max_connections, c->http.max_connections_per_peer,
		       (int64_t)c->http.request_timeout_s * 1000,
		       (size_t)c->http.max_buffered_bytes);
	if ((err = load_secrets(h, c, why, whylen)) != WH_OK ||
	    (err = start(h, c, why, whylen)) != WH_OK) {
		http_free(h);
		return err;
	}
	log_info("http: listening on %s%s%s%s", c->http.listen,
		 h->tls_cert ? " (TLS 1.2 or newer)" : "",
		 h->secret ? ", signed POSTs only (HMAC over timestamp and body)" : "",
		 h->token ? ", off-host GETs with the bearer token" : "");
	*ret_h = h;
	return WH_OK;
}

void
http_free(struct http *h)
{
	if (h == NULL)
		return;
	if (h->pending != NULL) {
		answer_all(h, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting down: nothing was taken",
			   RETRY_ERROR_S);
		for (struct req *rq = h->pending; rq != NULL; rq = rq->next)
			MHD_resume_connection(rq->conn);
		h->pending = NULL;
		MHD_run(h->d);
	}
	if (h->fd >= 0)
		loop_fd_del(h->loop, h->fd);
	loop_timer_del(h->loop, &h->mhd_timer);
	loop_timer_del(h->loop, &h->flush_timer);
	loop_timer_del(h->loop, &h->limit_timer);
	if (h->d != NULL)
		MHD_stop_daemon(h->d);
	httplimit_done(&h->limits);
	httpauth_secret_free(h->secret, h->secret_len);
	httpauth_secret_free(h->token, h->token_len);
	httpauth_replay_done(&h->replay);
	wh_free(h->tls_cert);
	wh_free(h->tls_key);
	wh_free(h);
}

void
http_reconfigure(struct http *h, const struct conf *c)
{

	h->conf = c;
	h->intake.source = c->http.source;
	h->intake.ledger = conf_ledger_rules(c);
	h->intake.ahead_ms = (int64_t)c->health.event_time_ahead_s * 1000;
	h->intake.behind_ms = (int64_t)c->health.event_time_behind_s * 1000;
	conf_input_map(c, "http", &h->intake.map);
	h->limits.request_ms = (int64_t)c->http.request_timeout_s * 1000;
	h->limits.max_held = (size_t)c->http.max_buffered_bytes;
}

const struct intake *
http_intake(const struct http *h)
{
	return &h->intake;
}

const struct http_counts *
http_counts(const struct http *h)
{
	return &h->counts;
}

void
http_on_action(struct http *h, http_action_cb cb, void *arg)
{
	h->action = cb;
	h->action_arg = arg;
}

void
http_refusals(const struct http *h, struct http_refusals *ret)
{
	const uint64_t *r = h->limits.counts;

	*ret = (struct http_refusals){r[HTTPLIMIT_R_TOTAL], r[HTTPLIMIT_R_PEER],
				      r[HTTPLIMIT_R_DEADLINE], r[HTTPLIMIT_R_MEMORY],
				      h->limits.held};
}
