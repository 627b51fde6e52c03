/* Webhook signatures (t=...,v1=... over "t.body"), the replay set with its floor, secret and
 * token files, the bearer check and loopback peers. */
#include "httpauth.h"

#include <errno.h>
#include <mbedtls/md.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "crypto.h"
#include "mem.h"

#define SECRET_MAX (64 << 10)
#define HEADER_MAX 1024
#define MAC_KEPT   16 /* bytes of a signature the set keeps: enough to tell them apart */

struct httpauth_seen {
	uint8_t mac[MAC_KEPT];
	int64_t t;
	uint32_t next; /* next in the hash chain: ring index + 1, 0 none */
};

/* --- the replay set ------------------------------------------------------------------- */

wh_err
httpauth_replay_init(struct httpauth_replay *r, uint32_t cap)
{
	memset(r, 0, sizeof(*r));
	r->cap = cap ? cap : 1;
	for (r->nbuckets = 1; r->nbuckets < r->cap; r->nbuckets <<= 1)
		;
	r->e = wh_calloc(r->cap, sizeof(*r->e));
	r->bucket = wh_calloc(r->nbuckets, sizeof(*r->bucket));
	return r->e && r->bucket ? WH_OK : WH_ERR_NOMEM;
}

void
httpauth_replay_done(struct httpauth_replay *r)
{
	wh_free(r->e);
	wh_free(r->bucket);
	memset(r, 0, sizeof(*r));
}

uint32_t
httpauth_replay_count(const struct httpauth_replay *r)
{
	return r->n;
}

static uint32_t
bucket_of(const struct httpauth_replay *r, const uint8_t *mac)
{
	/* the MAC is uniform, and only verified ones are kept, so its first bytes hash well */
	uint32_t v = (uint32_t)mac[0] | (uint32_t)mac[1] << 8 | (uint32_t)mac[2] << 16 |
		     (uint32_t)mac[3] << 24;

	return v & (r->nbuckets - 1);
}

static int
seen(const struct httpauth_replay *r, const uint8_t *mac)
{
	for (uint32_t i = r->bucket[bucket_of(r, mac)]; i != 0; i = r->e[i - 1].next)
		if (memcmp(r->e[i - 1].mac, mac, MAC_KEPT) == 0)
			return 1;
	return 0;
}

/* Unlinks ring entry i from its hash chain (if it is still linked). */
static void
unlink_entry(struct httpauth_replay *r, uint32_t i)
{
	uint32_t *link = &r->bucket[bucket_of(r, r->e[i].mac)];

	while (*link != 0 && *link != i + 1)
		link = &r->e[*link - 1].next;
	if (*link != 0)
		*link = r->e[i].next;
}

/* Forgets the oldest signature; the floor rises to its t. */
static void
drop_oldest(struct httpauth_replay *r)
{
	struct httpauth_seen *o = &r->e[r->head];

	unlink_entry(r, r->head);
	if (o->t > r->floor)
		r->floor = o->t;
	r->head = (r->head + 1) % r->cap;
	r->n--;
}

static void
expire(struct httpauth_replay *r, int64_t now_s, long window_s)
{
	while (r->n > 0 && r->e[r->head].t < now_s - window_s)
		drop_oldest(r);
}

static void
add(struct httpauth_replay *r, const uint8_t *mac, int64_t t)
{
	uint32_t i, b;

	if (r->n == r->cap)
		drop_oldest(r);
	i = (r->head + r->n) % r->cap;
	b = bucket_of(r, mac);
	memcpy(r->e[i].mac, mac, MAC_KEPT);
	r->e[i].t = t;
	r->e[i].next = r->bucket[b];
	r->bucket[b] = i + 1;
	r->n++;
}

/* --- signatures ----------------------------------------------------------------------- */

static int
parse_t(const char *v, size_t n, int64_t *ret)
{
	int64_t t = 0;

	if (n == 0 || n > 12)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		t = t * 10 + (v[i] - '0');
	}
	*ret = t;
	return 0;
}

enum httpauth_verdict
httpauth_parse(const char *header, struct httpauth_sig *ret_sig)
{
	struct httpauth_sig s = {.t = -1};
	const char *p = header;
	char hex[65];

	if (header == NULL)
		return HTTPAUTH_MISSING;
	if (strlen(header) > HEADER_MAX)
		return HTTPAUTH_MALFORMED;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, "sha256=", 7) == 0)
		return HTTPAUTH_OLDFORMAT;
	while (*p != '\0') {
		size_t n = strcspn(p, ","), k, vlen;
		const char *eq, *v;

		while (n > 0 && (*p == ' ' || *p == '\t'))
			p++, n--;
		vlen = n;
		while (vlen > 0 && (p[vlen - 1] == ' ' || p[vlen - 1] == '\t'))
			vlen--;
		eq = memchr(p, '=', vlen);
		if (eq == NULL)
			return HTTPAUTH_MALFORMED;
		k = (size_t)(eq - p);
		v = eq + 1;
		vlen -= k + 1;
		if (k == 1 && p[0] == 't') {
			if (s.t >= 0 || parse_t(v, vlen, &s.t) != 0)
				return HTTPAUTH_MALFORMED;
		} else if (k == 2 && p[0] == 'v' && p[1] == '1') {
			if (s.nv1 == HTTPAUTH_V1_MAX || vlen != 64)
				return HTTPAUTH_MALFORMED;
			memcpy(hex, v, 64);
			hex[64] = '\0';
			if (crypto_unhex(hex, s.v1[s.nv1], 32) != 0)
				return HTTPAUTH_MALFORMED;
			s.nv1++;
		} /* other schemes (v0=...) are not ours: ignored, as Stripe does */
		p += n;
		if (*p == ',')
			p++;
	}
	if (s.t < 0 || s.nv1 == 0)
		return HTTPAUTH_MALFORMED;
	*ret_sig = s;
	return HTTPAUTH_OK;
}

enum httpauth_verdict
httpauth_precheck(struct httpauth_replay *r, const struct httpauth_sig *s, int64_t now_s,
		  long window_s)
{
	expire(r, now_s, window_s);
	if (s->t < now_s - window_s)
		return HTTPAUTH_TOO_OLD;
	if (s->t > now_s + window_s)
		return HTTPAUTH_FUTURE;
	if (s->t <= r->floor)
		return HTTPAUTH_FORGOTTEN;
	for (int i = 0; i < s->nv1; i++)
		if (seen(r, s->v1[i]))
			return HTTPAUTH_REPLAYED;
	return HTTPAUTH_OK;
}

/* HMAC-SHA256(key, "<t>.<body>"). 0 or -1. */
static int
mac_of(const uint8_t *key, size_t keylen, int64_t t, const void *body, size_t len, uint8_t out[32])
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	mbedtls_md_context_t ctx;
	char prefix[32];
	int n = snprintf(prefix, sizeof(prefix), "%lld.", (long long)t), rc;

	mbedtls_md_init(&ctx);
	rc = mbedtls_md_setup(&ctx, md, 1);
	if (rc == 0)
		rc = mbedtls_md_hmac_starts(&ctx, key, keylen);
	if (rc == 0)
		rc = mbedtls_md_hmac_update(&ctx, (const unsigned char *)prefix, (size_t)n);
	if (rc == 0 && len > 0)
		rc = mbedtls_md_hmac_update(&ctx, body, len);
	if (rc == 0)
		rc = mbedtls_md_hmac_finish(&ctx, out);
	mbedtls_md_free(&ctx);
	return rc == 0 ? 0 : -1;
}

enum httpauth_verdict
httpauth_verify(struct httpauth_replay *r, const uint8_t *key, size_t keylen,
		const struct httpauth_sig *s, const void *body, size_t len, int64_t now_s,
		long window_s)
{
	enum httpauth_verdict v = httpauth_precheck(r, s, now_s, window_s);
	uint8_t want[32];
	int match = 0;

	if (v != HTTPAUTH_OK)
		return v;
	if (mac_of(key, keylen, s->t, body, len, want) != 0)
		return HTTPAUTH_WRONG;
	for (int i = 0; i < s->nv1; i++)
		match |= crypto_equal(want, s->v1[i], 32);
	if (!match)
		return HTTPAUTH_WRONG;
	add(r, want, s->t);
	return HTTPAUTH_OK;
}

void
httpauth_forget(struct httpauth_replay *r, const struct httpauth_sig *s)
{
	for (int k = 0; k < s->nv1; k++)
		for (uint32_t i = r->bucket[bucket_of(r, s->v1[k])]; i != 0; i = r->e[i - 1].next)
			if (memcmp(r->e[i - 1].mac, s->v1[k], MAC_KEPT) == 0) {
				unlink_entry(r, i - 1); /* stays in the ring until it ages out */
				break;
			}
}

const char *
httpauth_why(enum httpauth_verdict v)
{
	switch (v) {
	case HTTPAUTH_OK:
		return "signature accepted";
	case HTTPAUTH_MISSING:
		return "missing " HTTPAUTH_HEADER " (t=<unix time>,v1=<hex HMAC-SHA256 of "
		       "\"<t>.<body>\">); nothing was taken";
	case HTTPAUTH_OLDFORMAT:
		return HTTPAUTH_HEADER " sha256=<HMAC of the body> carries no timestamp and is no "
				       "longer taken: send t=<unix time>,v1=<hex HMAC-SHA256 of "
				       "\"<t>.<body>\">; nothing was taken";
	case HTTPAUTH_MALFORMED:
		return "malformed " HTTPAUTH_HEADER " (want t=<unix time>,v1=<64 hex digits of "
		       "HMAC-SHA256 of \"<t>.<body>\">); nothing was taken";
	case HTTPAUTH_TOO_OLD:
		return "signature timestamp too old (outside signature_window_s): sign each "
		       "request when sending it; nothing was taken";
	case HTTPAUTH_FUTURE:
		return "signature timestamp in the future (outside signature_window_s): check the "
		       "sender's clock; nothing was taken";
	case HTTPAUTH_FORGOTTEN:
		return "signature timestamp older than the signatures the agent remembers (many "
		       "signed requests inside the window): sign anew; nothing was taken";
	case HTTPAUTH_REPLAYED:
		return "signature already used: a replayed request (sign each attempt anew); "
		       "nothing was taken";
	case HTTPAUTH_WRONG:
		return "wrong signature (HMAC-SHA256 of \"<t>.<body>\" with the shared secret); "
		       "nothing was taken";
	}
	return "?";
}

/* --- secret files, tokens, peers ------------------------------------------------------ */

wh_err
httpauth_secret_load(const char *path, const char *what, uint8_t **ret_buf, size_t *ret_len,
		     char *why, size_t whylen)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t n = 0, i;
	wh_err err = WH_ERR_IO;

	if (f == NULL) {
		snprintf(why, whylen, "cannot read %s %s: %s", what, path, strerror(errno));
		return WH_ERR_IO;
	}
	if ((buf = wh_malloc(SECRET_MAX + 1)) == NULL) {
		err = WH_ERR_NOMEM;
		snprintf(why, whylen, "%s", wh_strerror(err));
		goto out;
	}
	n = fread(buf, 1, SECRET_MAX + 1, f);
	if (ferror(f)) {
		snprintf(why, whylen, "cannot read %s %s: %s", what, path, strerror(errno));
		goto out;
	}
	if (n > SECRET_MAX) {
		err = WH_ERR_CONF;
		snprintf(why, whylen, "%s %s: larger than 64 KiB", what, path);
		goto out;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	for (i = 0; i < n && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r' ||
			      buf[i] == '\f' || buf[i] == '\v');
	     i++)
		;
	if (i == n) {
		err = WH_ERR_CONF;
		snprintf(why, whylen,
			 "%s %s is empty (or white space only): that would be an "
			 "empty key",
			 what, path);
		goto out;
	}
	buf[n] = '\0';
	*ret_buf = buf;
	*ret_len = n;
	buf = NULL;
	err = WH_OK;
out:
	httpauth_secret_free(buf, SECRET_MAX + 1);
	fclose(f);
	return err;
}

void
httpauth_secret_free(uint8_t *buf, size_t len)
{
	volatile uint8_t *p = buf;

	if (buf == NULL)
		return;
	for (size_t i = 0; i < len; i++)
		p[i] = 0;
	wh_free(buf);
}

int
httpauth_bearer_ok(const char *authorization, const uint8_t *token, size_t token_len)
{
	const char *p = authorization;
	size_t n;

	if (p == NULL || strncasecmp(p, "Bearer", 6) != 0 || (p[6] != ' ' && p[6] != '\t'))
		return 0;
	p += 6;
	while (*p == ' ' || *p == '\t')
		p++;
	n = strlen(p);
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n != token_len)
		return 0;
	return crypto_equal((const uint8_t *)p, token, n);
}

int
httpauth_peer_is_loopback(const struct sockaddr *sa)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		const uint8_t *a = in6->sin6_addr.s6_addr;

		if (memcmp(a, mapped, 12) == 0)
			return a[12] == 127;
		return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	}
	return 0;
}
