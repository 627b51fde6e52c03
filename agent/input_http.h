/* HTTP input for WMS webhooks (POST /v1/events), plus GET /healthz, /v1/status and /metrics.
 * libmicrohttpd runs without a thread of its own: its epoll descriptor is one more fd in the
 * agent's poll loop and its handlers run on the loop thread, so the journal is still touched
 * from that thread only. A finished POST is suspended, every POST that arrived in the same
 * loop turn is committed in one transaction (group commit), and only then are they resumed
 * with their answers: a 2xx always means the records are durable. Signed webhooks are
 * checked (httpauth) before the body is read and before it is parsed; HTTPS is TLS 1.2 or
 * newer; GET pages answer other machines only with the bearer token (http_page_allowed). */
#ifndef WHAGENT_INPUT_HTTP_H
#define WHAGENT_INPUT_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct conf;
struct intake;
struct journal;
struct loop;
struct http;
struct MHD_Connection;

#define HTTP_MAX_CODES 16

/* Requests answered, by status code. */
struct http_counts {
	int n;
	unsigned code[HTTP_MAX_CODES];
	uint64_t count[HTTP_MAX_CODES];
};

/* HTTP_PAGE_STATUS_DETAIL: GET /v1/status?detail=1 (the page's data); HTTP_PAGE_UI: GET /
 * (the status page). Those two answer only peers on this machine (http_peer_local). */
enum http_page {
	HTTP_PAGE_HEALTHZ,
	HTTP_PAGE_STATUS,
	HTTP_PAGE_METRICS,
	HTTP_PAGE_STATUS_DETAIL,
	HTTP_PAGE_UI
};

/* Renders a GET page: returns the body (allocated with wh_malloc or cJSON; the listener frees
 * it with free()) and sets its status code and content type. NULL: 500. */
typedef char *(*http_page_cb)(enum http_page page, unsigned *ret_status, const char **ret_ctype,
			      void *arg);

enum http_action { HTTP_ACTION_REQUEUE, HTTP_ACTION_PURGE };

/* Runs an action of the status page on quarantine entry id (the listener checked the peer
 * and the token): returns the JSON answer (wh_malloc or cJSON) and sets its status. */
typedef char *(*http_action_cb)(enum http_action action, int64_t id, const char *peer,
				unsigned *ret_status, void *arg);

/* Starts listening on c's [input.http] listen address. c (until http_reconfigure), j and l
 * are borrowed; page renders the GET pages. Caller frees with http_free. On failure, why
 * says what went wrong (for the caller to log). */
wh_err http_new(const struct conf *c, struct journal *j, struct loop *l, http_page_cb page,
		void *arg, struct http **ret_h, char *why, size_t whylen);
/* Answers POSTs still waiting (503, nothing taken) and stops listening. */
void http_free(struct http *h);
/* POST /v1/quarantine/ID/requeue and /purge go to cb (arg borrowed); they need
 * [input.http] token_file and its bearer token, also from this machine (http_bearer_ok). */
void http_on_action(struct http *h, http_action_cb cb, void *arg);
void http_reconfigure(struct http *h, const struct conf *c);
const struct intake *http_intake(const struct http *h);
/* The access rule for GET pages, for every page but /healthz (which stays open: a load
 * balancer's probe, telling state and backlog only). conn is a connection of h's listener.
 * Returns 0 when the page may be answered: the peer is on this machine (127.0.0.0/8, ::1,
 * ::ffff:127.0.0.0/104), or [input.http] token_file is set and the request carries
 * "Authorization: Bearer <token>". Otherwise the status to answer, with *ret_why (static
 * text) saying why: 401 (a token is configured, this one is missing or wrong; answer it with
 * WWW-Authenticate: Bearer) or 403 (no token configured: loopback only). Every page routed
 * through the listener's page callback is checked with it already; a handler of its own
 * (the status page, its actions) calls it before answering. Loop thread. */
unsigned http_page_allowed(const struct http *h, struct MHD_Connection *conn, const char **ret_why);
/* 1 when [input.http] token_file is set and the request on conn carries "Authorization: Bearer
 * <token>" (compared in constant time), whatever the peer: for what needs the token also from
 * this machine (the status page's changes). Loop thread. */
int http_bearer_ok(const struct http *h, struct MHD_Connection *conn);
const struct http_counts *http_counts(const struct http *h);
/* Clients refused by a bound: connections over max_connections, over
 * max_connections_per_peer, requests past request_timeout_s, bodies past max_buffered_bytes. */
struct http_refusals {
	uint64_t connections, per_peer, deadline, memory;
	uint64_t buffered; /* body bytes held now (max_buffered_bytes bounds it) */
};
void http_refusals(const struct http *h, struct http_refusals *ret);

#endif
