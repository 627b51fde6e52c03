/* The HTTP listener's bounds: a list of open connections (a few hundred at most) with their
 * peer address and deadline, counts per peer by a walk of the list, expiry by shutdown(2). */
#include "httplimit.h"

#include <netinet/in.h>
#include <string.h>

#include "mem.h"

struct httplimit_conn {
	struct httplimit_conn *prev, *next;
	int fd;
	int family;
	unsigned char addr[16];
	int64_t deadline_ms; /* 0: none (the request is ours to answer) */
	enum httplimit_verdict verdict;
	enum httplimit_verdict over; /* the limit it is over (verdict may be DROP) */
	int counted;
};

void
httplimit_init(struct httplimit *l, long max_total, long max_peer, int64_t request_ms,
	       size_t max_held)
{
	l->max_total = max_total;
	l->max_peer = max_peer;
	l->request_ms = request_ms;
	l->max_held = max_held;
}

void
httplimit_done(struct httplimit *l)
{
	while (l->head != NULL)
		httplimit_closed(l, l->head);
}

static void
set_addr(struct httplimit_conn *c, const struct sockaddr *sa)
{
	if (sa != NULL && sa->sa_family == AF_INET) {
		c->family = AF_INET;
		memcpy(c->addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
	} else if (sa != NULL && sa->sa_family == AF_INET6) {
		c->family = AF_INET6;
		memcpy(c->addr, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
	}
}

static int
same_peer(const struct httplimit_conn *a, const struct httplimit_conn *b)
{
	return a->family != 0 && a->family == b->family &&
	       memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16) == 0;
}

struct httplimit_conn *
httplimit_opened(struct httplimit *l, int fd, const struct sockaddr *peer, int64_t now_ms)
{
	struct httplimit_conn *c = wh_calloc(1, sizeof(*c));
	int from_peer = 0;

	if (c == NULL)
		return NULL;
	c->fd = fd;
	set_addr(c, peer);
	for (struct httplimit_conn *o = l->head; o != NULL; o = o->next)
		from_peer += o->verdict == HTTPLIMIT_OK && same_peer(o, c);
	if (l->open >= l->max_total)
		c->verdict = HTTPLIMIT_TOTAL;
	else if (from_peer >= l->max_peer)
		c->verdict = HTTPLIMIT_PEER;
	c->over = c->verdict; /* which limit, for the counts */
	if (c->verdict != HTTPLIMIT_OK && l->refused >= HTTPLIMIT_HEADROOM)
		c->verdict = HTTPLIMIT_DROP; /* a flood: no answer, but no wait for the others */
	/* a refused connection only gets to hear why, and does not count against others */
	c->deadline_ms =
		now_ms + (c->verdict == HTTPLIMIT_OK ? l->request_ms : HTTPLIMIT_REFUSED_MS);
	l->open += c->verdict == HTTPLIMIT_OK;
	l->refused += c->verdict == HTTPLIMIT_TOTAL || c->verdict == HTTPLIMIT_PEER;
	c->next = l->head;
	if (l->head != NULL)
		l->head->prev = c;
	l->head = c;
	return c;
}

void
httplimit_closed(struct httplimit *l, struct httplimit_conn *c)
{
	if (c == NULL)
		return;
	l->open -= c->verdict == HTTPLIMIT_OK;
	l->refused -= c->verdict == HTTPLIMIT_TOTAL || c->verdict == HTTPLIMIT_PEER;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	wh_free(c);
}

enum httplimit_verdict
httplimit_verdict(struct httplimit *l, struct httplimit_conn *c)
{
	if (c == NULL)
		return HTTPLIMIT_OK;
	if (c->verdict != HTTPLIMIT_OK && !c->counted) {
		l->counts[c->over == HTTPLIMIT_PEER ? HTTPLIMIT_R_PEER : HTTPLIMIT_R_TOTAL]++;
		c->counted = 1;
	}
	return c->verdict;
}

void
httplimit_arrived(struct httplimit_conn *c)
{
	if (c != NULL)
		c->deadline_ms = 0;
}

void
httplimit_answered(struct httplimit *l, struct httplimit_conn *c, int64_t now_ms)
{
	if (c != NULL)
		c->deadline_ms = now_ms + (c->verdict == HTTPLIMIT_OK ? l->request_ms
								      : HTTPLIMIT_REFUSED_MS);
}

int
httplimit_expire(struct httplimit *l, int64_t now_ms, int64_t *ret_next_ms)
{
	int64_t next = -1;
	int n = 0;

	for (struct httplimit_conn *c = l->head; c != NULL; c = c->next) {
		if (c->deadline_ms == 0)
			continue;
		if (c->deadline_ms <= now_ms) {
			shutdown(c->fd, SHUT_RDWR);
			c->deadline_ms = 0; /* once: libmicrohttpd closes it now */
			l->counts[HTTPLIMIT_R_DEADLINE]++;
			n++;
		} else if (next < 0 || c->deadline_ms - now_ms < next) {
			next = c->deadline_ms - now_ms;
		}
	}
	*ret_next_ms = next;
	return n;
}

int
httplimit_hold(struct httplimit *l, size_t n)
{
	if (l->held + n > l->max_held) {
		l->counts[HTTPLIMIT_R_MEMORY]++;
		return -1;
	}
	l->held += n;
	return 0;
}

void
httplimit_release(struct httplimit *l, size_t n)
{
	l->held -= n < l->held ? n : l->held;
}
