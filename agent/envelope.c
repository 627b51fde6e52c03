/* SignedControl: platform keys pinned to P-256, canonical bytes, and the checks in the order
 * of their cost (see envelope.h). */
#include "envelope.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "crypto.h"
#include "log.h"
#include "mem.h"
#include "whagent/v1/control.pb-c.h"

static const char domain[] = "whagent.v1.SignedControl"; /* and its NUL */

struct envelope_keys {
	struct crypto_verifier *key[ENVELOPE_MAX_KEYS];
	uint8_t id[ENVELOPE_MAX_KEYS][32];
	int n;
};

wh_err
envelope_keys_new(const char *const *files, int n, struct envelope_keys **ret_k, char *why,
		  size_t whylen)
{
	struct envelope_keys *k = wh_calloc(1, sizeof(*k));

	if (k == NULL) {
		snprintf(why, whylen, "out of memory");
		return WH_ERR_NOMEM;
	}
	for (int i = 0; i < n; i++) {
		if (files[i] == NULL || files[i][0] == '\0')
			continue;
		if (k->n == ENVELOPE_MAX_KEYS) {
			snprintf(why, whylen, "more than %d platform keys", ENVELOPE_MAX_KEYS);
			envelope_keys_free(k);
			return WH_ERR_CONF;
		}
		if (crypto_verifier_new(files[i], &k->key[k->n], k->id[k->n], why, whylen) != 0) {
			envelope_keys_free(k);
			return WH_ERR_CONF;
		}
		k->n++;
	}
	*ret_k = k;
	return WH_OK;
}

void
envelope_keys_free(struct envelope_keys *k)
{
	if (k == NULL)
		return;
	for (int i = 0; i < k->n; i++)
		crypto_verifier_free(k->key[i]);
	wh_free(k);
}

int
envelope_keys_count(const struct envelope_keys *k)
{
	return k != NULL ? k->n : 0;
}

/* --- canonical bytes ------------------------------------------------------------------- */

static uint8_t *
put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

static uint8_t *
put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

static uint8_t *
put_bytes(uint8_t *p, const void *data, size_t len)
{
	p = put_u32(p, (uint32_t)len);
	if (len > 0)
		memcpy(p, data, len);
	return p + len;
}

wh_err
envelope_canonical(const char *site_id, const char *journal_id, enum envelope_type type,
		   int64_t issued_at_ms, int64_t expires_at_ms, uint64_t counter, const void *body,
		   size_t body_len, uint8_t **ret_buf, size_t *ret_len)
{
	size_t ls = strlen(site_id), lj = strlen(journal_id);
	size_t n = sizeof(domain) + 4 + ls + 4 + lj + 4 + 3 * 8 + 4 + body_len;
	uint8_t *buf, *p;

	if (ls > ENVELOPE_MAX_BYTES || lj > ENVELOPE_MAX_BYTES || body_len > ENVELOPE_MAX_BYTES)
		return WH_ERR_TOOBIG;
	if ((buf = wh_malloc(n)) == NULL)
		return WH_ERR_NOMEM;
	memcpy(buf, domain, sizeof(domain));
	p = put_bytes(buf + sizeof(domain), site_id, ls);
	p = put_bytes(p, journal_id, lj);
	p = put_u32(p, (uint32_t)type);
	p = put_u64(p, (uint64_t)issued_at_ms);
	p = put_u64(p, (uint64_t)expires_at_ms);
	p = put_u64(p, counter);
	put_bytes(p, body, body_len);
	*ret_buf = buf;
	*ret_len = n;
	return WH_OK;
}

/* --- checks ---------------------------------------------------------------------------- */

/* 0 when sc passes the checks that cost no signature, else -1 with why. */
static int
cheap_checks(const Whagent__V1__SignedControl *sc, const struct envelope_expect *x,
	     struct envelope *ret, char *why, size_t whylen)
{
	const char *site = sc->site_id ? sc->site_id : "",
		   *jid = sc->journal_id ? sc->journal_id : "";
	char shown[140];

	if ((int)sc->type != (int)x->type) {
		snprintf(why, whylen, "a control message of type %d on the %s topic", (int)sc->type,
			 x->type == ENVELOPE_ACK ? "ack" : "cmd");
		return -1;
	}
	if (strcmp(site, x->site_id) != 0) {
		log_escape(shown, sizeof(shown), site, strlen(site));
		snprintf(why, whylen, "addressed to site \"%s\", not this one", shown);
		return -1;
	}
	ret->named_journal = jid[0] != '\0';
	if ((jid[0] != '\0' || x->journal_required) && strcmp(jid, x->journal_id) != 0) {
		log_escape(shown, sizeof(shown), jid, strlen(jid));
		snprintf(why, whylen, "for journal \"%s\", not this journal (%s)", shown,
			 x->journal_id);
		return -1;
	}
	if (sc->issued_at_ms <= 0 || sc->expires_at_ms < sc->issued_at_ms ||
	    (uint64_t)sc->expires_at_ms - (uint64_t)sc->issued_at_ms > ENVELOPE_MAX_LIFE_MS) {
		/* also keeps the time arithmetic below from overflowing */
		snprintf(why, whylen,
			 "issued_at_ms is not positive, or expires_at_ms is before it or more than "
			 "a day after it");
		return -1;
	}
	if (sc->issued_at_ms > x->now_ms + x->max_skew_ms) {
		snprintf(why, whylen,
			 "issued %" PRId64 " s in the future (clock skew tolerance %" PRId64 " s)",
			 (sc->issued_at_ms - x->now_ms) / 1000, x->max_skew_ms / 1000);
		return -1;
	}
	if (sc->expires_at_ms + x->max_skew_ms < x->now_ms) {
		snprintf(why, whylen,
			 "expired %" PRId64 " s ago (clock skew tolerance %" PRId64 " s)",
			 (x->now_ms - sc->expires_at_ms) / 1000, x->max_skew_ms / 1000);
		return -1;
	}
	if (sc->issued_at_ms < x->not_before_ms) { /* no skew: a platform asks again */
		snprintf(why, whylen,
			 "issued before this journal took control messages (a new or salvaged "
			 "journal): replayed");
		return -1;
	}
	if (sc->counter <= x->last_counter) {
		snprintf(why, whylen,
			 "counter %" PRIu64 " is not above %" PRIu64
			 ", the last one accepted: replayed or out of order",
			 sc->counter, x->last_counter);
		return -1;
	}
	return 0;
}

/* WH_OK when sc's signature verifies with a key of k (the one its key_id names, if any);
 * WH_ERR_INVAL or WH_ERR_NOMEM with why. */
static wh_err
verify(const struct envelope_keys *k, const Whagent__V1__SignedControl *sc, char *why,
       size_t whylen)
{
	uint8_t *canon = NULL;
	size_t len = 0;
	int rc = -1;

	if (envelope_canonical(sc->site_id, sc->journal_id, (enum envelope_type)sc->type,
			       sc->issued_at_ms, sc->expires_at_ms, sc->counter, sc->body.data,
			       sc->body.len, &canon, &len) != WH_OK) {
		snprintf(why, whylen, "out of memory checking the signature");
		return WH_ERR_NOMEM;
	}
	for (int i = 0; k != NULL && i < k->n && rc != 0; i++) {
		if (sc->key_id.len == 32 && !crypto_equal(sc->key_id.data, k->id[i], 32))
			continue;
		rc = crypto_verify(k->key[i], canon, len, sc->signature.data, sc->signature.len);
	}
	wh_free(canon);
	if (rc != 0)
		snprintf(why, whylen, "%s",
			 envelope_keys_count(k) == 0
				 ? "signed, but no platform key is configured (platform_pubkey)"
				 : "signature does not verify with the platform key");
	return rc == 0 ? WH_OK : WH_ERR_INVAL;
}

wh_err
envelope_open(const struct envelope_keys *k, const struct envelope_expect *x, const void *buf,
	      size_t len, struct envelope *ret, char *why, size_t whylen)
{
	struct codec_alloc a;
	Whagent__V1__SignedControl *sc = NULL;
	wh_err err = WH_ERR_INVAL;

	memset(ret, 0, sizeof(*ret));
	codec_alloc_init(&a);
	if (len > ENVELOPE_MAX_BYTES) {
		snprintf(why, whylen, "%zu bytes, more than the %d a control message may have", len,
			 ENVELOPE_MAX_BYTES);
		goto out;
	}
	if ((sc = whagent__v1__signed_control__unpack(&a.pb, len, buf)) == NULL) {
		if (a.oom)
			err = WH_ERR_NOMEM;
		snprintf(why, whylen, "%s",
			 a.oom ? "out of memory decoding it" : "not a whagent.v1.SignedControl");
		goto out;
	}
	ret->counter = sc->counter;
	if (cheap_checks(sc, x, ret, why, whylen) != 0)
		goto out;
	if (sc->signature.len == 0) {
		if (!x->allow_unsigned) {
			snprintf(why, whylen, "unsigned, refused (the platform must sign it)");
			goto out;
		}
	} else if ((err = verify(k, sc, why, whylen)) != WH_OK) {
		goto out;
	} else {
		ret->is_signed = 1;
	}
	if ((ret->body = wh_malloc(sc->body.len ? sc->body.len : 1)) == NULL) {
		err = WH_ERR_NOMEM;
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	if (sc->body.len > 0)
		memcpy(ret->body, sc->body.data, sc->body.len);
	ret->body_len = sc->body.len;
	err = WH_OK;
out:
	whagent__v1__signed_control__free_unpacked(sc, &a.pb);
	return err;
}

void
envelope_done(struct envelope *e)
{
	wh_free(e->body);
	e->body = NULL;
}
