/* Who may talk to the HTTP listener: webhook signatures (a timestamp and the body under
 * HMAC-SHA256, Stripe's t=...,v1=... model) with a window and a bounded set of signatures
 * already seen, the shared secret and bearer token files, and whether a peer is on this
 * machine. No I/O but the secret files; the loop thread only. */
#ifndef WHAGENT_HTTPAUTH_H
#define WHAGENT_HTTPAUTH_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct sockaddr;

#define HTTPAUTH_HEADER "X-Whagent-Signature"
/* Signatures remembered at most: beyond, the oldest is forgotten and the floor rises. */
#define HTTPAUTH_REPLAY_MAX 32768
/* v1= entries one header may carry (the sender rotating its secret). */
#define HTTPAUTH_V1_MAX 4

enum httpauth_verdict {
	HTTPAUTH_OK,
	HTTPAUTH_MISSING,   /* no header */
	HTTPAUTH_OLDFORMAT, /* sha256=<HMAC of the body>: no timestamp, refused */
	HTTPAUTH_MALFORMED, /* not t=UNIX,v1=HEX */
	HTTPAUTH_TOO_OLD,   /* t before now - window */
	HTTPAUTH_FUTURE,    /* t after now + window */
	HTTPAUTH_FORGOTTEN, /* t at or below the floor of the replay set */
	HTTPAUTH_REPLAYED,  /* a v1 already taken inside the window */
	HTTPAUTH_WRONG,	    /* no v1 matches HMAC(secret, "t.body") */
};

/* A parsed X-Whagent-Signature header. */
struct httpauth_sig {
	int64_t t;
	int nv1;
	uint8_t v1[HTTPAUTH_V1_MAX][32];
};

/* The signatures taken inside the window. Embedded: httpauth_replay_init, then
 * httpauth_replay_done (also after a failed init). A signature leaves the set when its t falls
 * out of the window or, when the set is full, when it is the oldest; either way the floor
 * rises to its t and every t at or below the floor is refused, so a forgotten signature is
 * never taken again (also when the wall clock steps back). */
struct httpauth_seen;
struct httpauth_replay {
	struct httpauth_seen *e; /* ring of cap entries, oldest at head */
	uint32_t *bucket;	 /* hash heads: ring index + 1, 0 empty */
	uint32_t cap, nbuckets, head, n;
	int64_t floor;
};

/* cap: signatures kept at most (a power of two is not needed). WH_OK or WH_ERR_NOMEM. */
wh_err httpauth_replay_init(struct httpauth_replay *r, uint32_t cap);
void httpauth_replay_done(struct httpauth_replay *r);
/* Signatures held now. */
uint32_t httpauth_replay_count(const struct httpauth_replay *r);

/* Parses header (NULL: HTTPAUTH_MISSING) into ret_sig: "t=UNIX,v1=HEX64[,v1=HEX64...]", keys
 * in any order, spaces around items allowed, other keys (v0=...) ignored. */
enum httpauth_verdict httpauth_parse(const char *header, struct httpauth_sig *ret_sig);
/* The checks that need no body: t inside [now - window, now + window] and above the floor, no
 * v1 already in r. Used before the body is read, and again by httpauth_verify. */
enum httpauth_verdict httpauth_precheck(struct httpauth_replay *r, const struct httpauth_sig *s,
					int64_t now_s, long window_s);
/* httpauth_precheck, then HMAC-SHA256(key, "<t>.<body>") against each v1 (constant time);
 * when one matches, the signature is added to r (so the same request is refused afterwards)
 * and HTTPAUTH_OK is returned. */
enum httpauth_verdict httpauth_verify(struct httpauth_replay *r, const uint8_t *key, size_t keylen,
				      const struct httpauth_sig *s, const void *body, size_t len,
				      int64_t now_s, long window_s);
/* Takes s's signatures out of r again, for a request answered "nothing was taken, retry"
 * (503: the journal full, paused or failing), so that the sender may resend it as it was. The
 * floor is unchanged. */
void httpauth_forget(struct httpauth_replay *r, const struct httpauth_sig *s);
/* What a verdict means, for the 401 answer (ends with "nothing was taken"). */
const char *httpauth_why(enum httpauth_verdict v);

/* Reads a secret file (HMAC secret, bearer token): the bytes without a trailing CR/LF. A file
 * that holds nothing else than white space is an error (WH_ERR_CONF, why says so), as is one
 * that cannot be read (WH_ERR_IO) or is over 64 KiB. *ret_buf (NUL-terminated) is freed by the
 * caller with httpauth_secret_free. what names the key in why ("hmac_secret_file"). */
wh_err httpauth_secret_load(const char *path, const char *what, uint8_t **ret_buf, size_t *ret_len,
			    char *why, size_t whylen);
/* Wipes and frees a secret; NULL is fine. */
void httpauth_secret_free(uint8_t *buf, size_t len);

/* Authorization header value against the token ("Bearer TOKEN", scheme case-insensitive,
 * token compared in constant time). 1 when it matches. */
int httpauth_bearer_ok(const char *authorization, const uint8_t *token, size_t token_len);
/* 1 when sa is an address of this machine's loopback: 127.0.0.0/8, ::1, ::ffff:127.0.0.0/104. */
int httpauth_peer_is_loopback(const struct sockaddr *sa);

#endif
