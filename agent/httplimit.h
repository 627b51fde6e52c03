/* Bounds of the HTTP listener, kept before anything is spent on a client: connections in all
 * and per peer address, a deadline for each whole request (headers and body, not an idle
 * timeout), and the bytes of request bodies held at once. The table knows every open
 * connection (from libmicrohttpd's connection notifications); loop thread only. */
#ifndef WHAGENT_HTTPLIMIT_H
#define WHAGENT_HTTPLIMIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* What became of a connection when it opened (and, for the refusals, how it is answered). */
enum httplimit_verdict {
	HTTPLIMIT_OK,
	HTTPLIMIT_TOTAL, /* over max_connections: 503 + Retry-After, but /healthz */
	HTTPLIMIT_PEER,	 /* over max_connections_per_peer: 429 + Retry-After, but /healthz */
	HTTPLIMIT_DROP,	 /* over a limit with HTTPLIMIT_HEADROOM refused ones open: closed */
};

/* Refusals counted for the metrics. */
enum httplimit_reason {
	HTTPLIMIT_R_TOTAL,
	HTTPLIMIT_R_PEER,
	HTTPLIMIT_R_DEADLINE, /* the request was not complete in request_timeout_s: closed */
	HTTPLIMIT_R_MEMORY,   /* bodies held at once would pass max_buffered_bytes: 503 */
	HTTPLIMIT_R_COUNT
};

/* A connection refused at its opening gets this long to send its headers and read the
 * answer; at most HTTPLIMIT_HEADROOM of them at once, the others are dropped. */
#define HTTPLIMIT_REFUSED_MS 1000
#define HTTPLIMIT_HEADROOM   32

struct httplimit_conn;

struct httplimit {
	struct httplimit_conn *head;
	int open;    /* connections within the limits */
	int refused; /* connections over them, being answered */
	long max_total, max_peer;
	int64_t request_ms;
	size_t held, max_held;		    /* body bytes held by requests */
	uint64_t counts[HTTPLIMIT_R_COUNT]; /* refusals, by reason */
};

/* The limits (reloadable: request_ms and max_held apply from the next use). */
void httplimit_init(struct httplimit *l, long max_total, long max_peer, int64_t request_ms,
		    size_t max_held);
/* Frees the table (the connections themselves are libmicrohttpd's). */
void httplimit_done(struct httplimit *l);

/* A connection opened: fd its socket, peer its address (NULL: unknown). The entry is returned
 * (for libmicrohttpd's socket context), or NULL out of memory (then the connection is not
 * bounded by a deadline, only by libmicrohttpd's own limits). */
struct httplimit_conn *httplimit_opened(struct httplimit *l, int fd, const struct sockaddr *peer,
					int64_t now_ms);
/* The connection closed (c may be NULL). */
void httplimit_closed(struct httplimit *l, struct httplimit_conn *c);
/* How the connection's requests are to be answered; counts the refusal once. */
enum httplimit_verdict httplimit_verdict(struct httplimit *l, struct httplimit_conn *c);
/* The request arrived whole (the wait for the journal is ours, not the client's): no deadline
 * until the answer is sent. */
void httplimit_arrived(struct httplimit_conn *c);
/* The answer went out: the next request on the connection has its own deadline. */
void httplimit_answered(struct httplimit *l, struct httplimit_conn *c, int64_t now_ms);
/* Shuts down the sockets of connections past their deadline (libmicrohttpd closes them when it
 * runs next). Returns how many; *ret_next_ms gets the time to the next deadline, or -1. */
int httplimit_expire(struct httplimit *l, int64_t now_ms, int64_t *ret_next_ms);

/* Takes n bytes of the body budget: 0, or -1 (counted) when they do not fit. */
int httplimit_hold(struct httplimit *l, size_t n);
/* Gives n bytes back. */
void httplimit_release(struct httplimit *l, size_t n);

#endif
