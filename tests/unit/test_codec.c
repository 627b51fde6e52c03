/* Batch framing, Status encoding, re-sequencing and platform acks: what the central platform
 * decodes from the agent's bytes, and what the agent takes from the platform's. Decoding goes
 * through the allocation wrapper: every allocation it makes can fail without a leak or a
 * wrong answer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"
#include "crypto.h"
#include "mem.h"
#include "testutil.h"
#include "whagent/v1/batch.pb-c.h"
#include "whagent/v1/control.pb-c.h"
#include "whagent/v1/event.pb-c.h"
#include "whagent/v1/status.pb-c.h"

#define JOURNAL "0123456789abcdef0123456789abcdef"

/* A stored event as the journal keeps it: kind, source_key "T<seq>", encoded with seq. */
static void
stored_event(enum event_kind kind, uint64_t seq, uint8_t **ret_buf, size_t *ret_len)
{
	struct event ev;
	uint8_t id[EVENT_ID_LEN];
	char key[32];

	memset(&ev, 0, sizeof(ev));
	snprintf(key, sizeof(key), "T%llu", (unsigned long long)seq);
	ev.kind = kind;
	ev.f[EF_TXN_ID] = key;
	ev.f[EF_SKU] = "SKU-1";
	ev.f[EF_UOM] = "EA";
	ev.f[EF_BIN] = "A-01";
	ev.qty_milli = -2500;
	event_id("wms", key, id);
	assert_int_equal(codec_event_encode(&ev, "wms", id, seq, 1000, ret_buf, ret_len), WH_OK);
}

static const Whagent__V1__EventHeader *
header_of(const Whagent__V1__Event *e)
{
	if (e->body_case == WHAGENT__V1__EVENT__BODY_INVENTORY)
		return e->inventory->header;
	assert_int_equal(e->body_case, WHAGENT__V1__EVENT__BODY_SHIPMENT);
	return e->shipment->header;
}

/* Adds events first..last to b; returns how many fitted. */
static int
add_events(struct codec_batch *b, uint64_t first, uint64_t last)
{
	int n = 0;

	for (uint64_t seq = first; seq <= last; seq++) {
		uint8_t *buf;
		size_t len;
		int rc;

		stored_event(seq % 2 ? EVENT_PICK : EVENT_SHIPMENT, seq, &buf, &len);
		rc = codec_batch_add(b, seq, buf, len);
		wh_free(buf);
		if (rc != 0)
			break;
		n++;
	}
	return n;
}

static void
test_batch_round_trip(void **state)
{
	static const enum codec_batch_kind kinds[] = {CODEC_BATCH_LIVE, CODEC_BATCH_BACKFILL,
						      CODEC_BATCH_REPLAY};
	struct codec_batch b;

	(void)state;
	assert_int_equal(codec_batch_init(&b, 64 * 1024), WH_OK);
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		Whagent__V1__EventBatch *m;

		codec_batch_reset(&b);
		assert_int_equal(add_events(&b, 7, 9), 3);
		assert_int_equal(b.first_seq, 7);
		assert_int_equal(b.last_seq, 9);
		assert_int_equal(codec_batch_finish(&b, "SITE-1", JOURNAL, kinds[k]), WH_OK);
		m = whagent__v1__event_batch__unpack(NULL, b.len, b.buf);
		assert_non_null(m);
		assert_string_equal(m->site_id, "SITE-1");
		assert_string_equal(m->journal_id, JOURNAL);
		assert_int_equal(m->first_seq, 7);
		assert_int_equal(m->last_seq, 9);
		assert_int_equal(m->n_events, 3);
		for (size_t i = 0; i < m->n_events; i++) { /* in order, gapless, each itself */
			const Whagent__V1__EventHeader *h = header_of(m->events[i]);
			char key[32];

			snprintf(key, sizeof(key), "T%zu", 7 + i);
			assert_int_equal(h->seq, 7 + i);
			assert_string_equal(h->source_key, key);
		}
		assert_int_equal(m->historical, kinds[k] != CODEC_BATCH_LIVE);
		assert_int_equal(m->replay, kinds[k] == CODEC_BATCH_REPLAY);
		assert_int_equal(m->signature.len, 0);
		whagent__v1__event_batch__free_unpacked(m, NULL);
	}
	codec_batch_done(&b);
}

/* A batch holds at most max_bytes of events: the one that does not fit is left out whole and
 * the batch stays what it was; an event larger than the limit never fits. */
static void
test_batch_byte_limit(void **state)
{
	struct codec_batch b;
	Whagent__V1__EventBatch *m;
	uint8_t *ev;
	size_t evlen, before;
	int n;

	(void)state;
	stored_event(EVENT_PICK, 1, &ev, &evlen);
	assert_int_equal(codec_batch_init(&b, 10 * evlen), WH_OK);
	n = add_events(&b, 1, 100);
	assert_true(n >= 5 && n < 10);
	assert_true(b.len <= 10 * evlen);
	assert_int_equal(b.nevents, n);
	assert_int_equal(b.last_seq, (uint64_t)n);
	before = b.len;
	assert_int_equal(codec_batch_add(&b, 1000, ev, evlen), -1); /* still full */
	assert_int_equal(b.len, before);
	assert_int_equal(b.nevents, n);
	assert_int_equal(b.last_seq, (uint64_t)n);
	assert_int_equal(codec_batch_finish(&b, "SITE-1", JOURNAL, CODEC_BATCH_LIVE), WH_OK);
	m = whagent__v1__event_batch__unpack(NULL, b.len, b.buf);
	assert_non_null(m);
	assert_int_equal(m->n_events, (size_t)n);
	assert_int_equal(m->last_seq, (uint64_t)n);
	assert_int_equal(header_of(m->events[n - 1])->seq, (uint64_t)n);
	whagent__v1__event_batch__free_unpacked(m, NULL);
	codec_batch_done(&b);

	assert_int_equal(codec_batch_init(&b, evlen / 2), WH_OK);
	assert_int_equal(codec_batch_add(&b, 1, ev, evlen), -1);
	assert_int_equal(b.nevents, 0);
	assert_int_equal(b.len, 0);
	codec_batch_done(&b);
	wh_free(ev);
}

/* A header or signature that does not fit the room left is refused, never written past the
 * buffer. */
static void
test_batch_header_too_big(void **state)
{
	struct codec_batch b;
	char site[1024];

	(void)state;
	memset(site, 'S', sizeof(site) - 1);
	site[sizeof(site) - 1] = '\0';
	assert_int_equal(codec_batch_init(&b, 0), WH_OK);
	assert_int_equal(codec_batch_finish(&b, site, JOURNAL, CODEC_BATCH_LIVE), WH_ERR_TOOBIG);
	assert_int_equal(codec_batch_finish(&b, "SITE-1", JOURNAL, CODEC_BATCH_LIVE), WH_OK);
	codec_batch_done(&b);
	/* a header that fits, and then no room for the signature: refused too */
	site[440] = '\0';
	assert_int_equal(codec_batch_init(&b, 0), WH_OK);
	assert_int_equal(codec_batch_finish(&b, site, JOURNAL, CODEC_BATCH_LIVE), WH_OK);
	{
		uint8_t sig[CRYPTO_SIG_MAX] = {0}, fp[32] = {0};
		size_t len = b.len;

		assert_int_equal(codec_batch_add_signature(&b, sig, sizeof(sig), fp, sizeof(fp)),
				 WH_ERR_TOOBIG);
		assert_int_equal(b.len, len);
	}
	codec_batch_done(&b);
}

/* The signature covers the batch as it was before fields 7 and 8: a consumer that takes them
 * off verifies it with the device's public key, and a changed bit fails. */
static void
test_batch_signature(void **state)
{
	const char *dir = tu_tmpdir();
	char key[512], pub[512];
	struct crypto_signer *s;
	struct crypto_verifier *v;
	struct codec_batch b;
	Whagent__V1__EventBatch *m;
	uint8_t sig[CRYPTO_SIG_MAX];
	size_t sig_len, signed_len;
	char why[256];

	(void)state;
	tu_keypair(dir, "device", key, pub);
	assert_int_equal(crypto_signer_new(key, &s, why, sizeof(why)), 0);
	{
		uint8_t id[32];

		assert_int_equal(crypto_verifier_new(pub, &v, id, why, sizeof(why)), 0);
	}
	assert_int_equal(codec_batch_init(&b, 8192), WH_OK);
	assert_int_equal(add_events(&b, 1, 5), 5);
	assert_int_equal(codec_batch_finish(&b, "SITE-1", JOURNAL, CODEC_BATCH_LIVE), WH_OK);
	signed_len = b.len;
	assert_int_equal(crypto_sign(s, b.buf, b.len, sig, &sig_len), 0);
	assert_int_equal(
		codec_batch_add_signature(&b, sig, sig_len, crypto_signer_fingerprint(s), 32),
		WH_OK);
	m = whagent__v1__event_batch__unpack(NULL, b.len, b.buf);
	assert_non_null(m);
	assert_int_equal(m->n_events, 5);
	assert_int_equal(m->signature.len, sig_len);
	assert_memory_equal(m->signature.data, sig, sig_len);
	assert_int_equal(m->key_fingerprint.len, 32);
	assert_memory_equal(m->key_fingerprint.data, crypto_signer_fingerprint(s), 32);
	assert_int_equal(crypto_verify(v, b.buf, signed_len, m->signature.data, m->signature.len),
			 0);
	b.buf[signed_len / 2] ^= 1;
	assert_int_equal(crypto_verify(v, b.buf, signed_len, m->signature.data, m->signature.len),
			 -1);
	whagent__v1__event_batch__free_unpacked(m, NULL);
	codec_batch_done(&b);
	crypto_signer_free(s);
	crypto_verifier_free(v);
	tu_rmtree(dir);
}

static void
test_status_encode(void **state)
{
	struct codec_status st = {.site_id = "SITE-1",
				  .journal_id = JOURNAL,
				  .online = 1,
				  .session = 12,
				  .last_seq = 900,
				  .acked_through = 800,
				  .backlog = 100,
				  .quarantined = 3,
				  .oldest_unsent_age_s = 42,
				  .time_ms = 1767225600000,
				  .has_client_cert = 1,
				  .cert_days_left = -2,
				  .platform_acked_through = 750};
	Whagent__V1__Status *m;
	uint8_t *buf;
	size_t len;

	(void)state;
	assert_int_equal(codec_status_encode(&st, &buf, &len), WH_OK);
	m = whagent__v1__status__unpack(NULL, len, buf);
	assert_non_null(m);
	assert_string_equal(m->site_id, "SITE-1");
	assert_string_equal(m->journal_id, JOURNAL);
	assert_int_equal(m->state, WHAGENT__V1__AGENT_STATE__AGENT_STATE_ONLINE);
	assert_string_equal(m->version, WHAGENT_VERSION);
	assert_int_equal(m->session, 12);
	assert_int_equal(m->last_seq, 900);
	assert_int_equal(m->acked_through, 800);
	assert_int_equal(m->backlog, 100);
	assert_int_equal(m->quarantined, 3);
	assert_int_equal(m->oldest_unsent_age_s, 42);
	assert_int_equal(m->time_ms, 1767225600000);
	assert_true(m->has_client_cert);
	assert_int_equal(m->cert_days_left, -2); /* expired: a negative count survives */
	assert_int_equal(m->platform_acked_through, 750);
	whagent__v1__status__free_unpacked(m, NULL);
	wh_free(buf);

	st.online = 0; /* the death message */
	assert_int_equal(codec_status_encode(&st, &buf, &len), WH_OK);
	m = whagent__v1__status__unpack(NULL, len, buf);
	assert_non_null(m);
	assert_int_equal(m->state, WHAGENT__V1__AGENT_STATE__AGENT_STATE_OFFLINE);
	whagent__v1__status__free_unpacked(m, NULL);
	wh_free(buf);
	wh_mem_fail_at(1);
	assert_int_equal(codec_status_encode(&st, &buf, &len), WH_ERR_NOMEM);
	wh_mem_fail_at(0);
}

/* Salvage gives a stored event a new seq and keeps everything else. */
static void
test_reseq(void **state)
{
	(void)state;
	for (int k = 0; k < 2; k++) {
		Whagent__V1__Event *e;
		const Whagent__V1__EventHeader *h;
		uint8_t *in, *out;
		size_t inlen, outlen;

		stored_event(k ? EVENT_SHIPMENT : EVENT_RECEIPT, 5, &in, &inlen);
		assert_int_equal(codec_event_reseq(in, inlen, 99, &out, &outlen), WH_OK);
		e = whagent__v1__event__unpack(NULL, outlen, out);
		assert_non_null(e);
		h = header_of(e);
		assert_int_equal(h->seq, 99);
		assert_string_equal(h->source_key, "T5");
		assert_int_equal(e->body_case, k ? WHAGENT__V1__EVENT__BODY_SHIPMENT
						 : WHAGENT__V1__EVENT__BODY_INVENTORY);
		whagent__v1__event__free_unpacked(e, NULL);
		wh_free(out);
		wh_free(in);
	}
	{
		static const uint8_t junk[] = {0xff, 0xff, 0xff, 0x01, 0x02};
		uint8_t *out = NULL;
		size_t outlen;

		assert_int_equal(codec_event_reseq(junk, sizeof(junk), 1, &out, &outlen),
				 WH_ERR_CORRUPT);
		assert_null(out);
		/* an empty message decodes, but has no body to give a seq to */
		assert_int_equal(codec_event_reseq(junk, 0, 1, &out, &outlen), WH_ERR_CORRUPT);
	}
}

static void
pack_ack(const char *journal_id, uint64_t through, uint8_t *buf, size_t size, size_t *ret_len)
{
	Whagent__V1__PlatformAck a;

	whagent__v1__platform_ack__init(&a);
	a.journal_id = (char *)(uintptr_t)journal_id;
	a.acked_through = through;
	assert_true(whagent__v1__platform_ack__get_packed_size(&a) <= size);
	*ret_len = whagent__v1__platform_ack__pack(&a, buf);
}

/* A platform ack names the journal it is for; one naming another journal, even one whose id
 * starts with ours, must not come out as ours. */
static void
test_platform_ack_decode(void **state)
{
	uint8_t buf[256];
	size_t len;
	char id[sizeof(JOURNAL)];
	uint64_t through = 0;

	(void)state;
	pack_ack(JOURNAL, 1234, buf, sizeof(buf), &len);
	assert_int_equal(codec_platform_ack_decode(buf, len, id, sizeof(id), &through), WH_OK);
	assert_string_equal(id, JOURNAL);
	assert_int_equal(through, 1234);
	pack_ack(JOURNAL "ff", 99, buf, sizeof(buf), &len);
	through = 0;
	assert_int_equal(codec_platform_ack_decode(buf, len, id, sizeof(id), &through),
			 WH_ERR_INVAL);
	assert_int_equal(through, 0);
	buf[0] = 0xff;
	assert_int_equal(codec_platform_ack_decode(buf, len, id, sizeof(id), &through),
			 WH_ERR_INVAL);
}

/* Runs decode with each of its allocations failing in turn: each answer is WH_ERR_NOMEM (not
 * "corrupt" or "invalid": salvage would drop a good event, the uplink ignore a good ack), and
 * the run without failures succeeds. Returns how many allocations the decode makes. */
static long
fail_each_allocation(wh_err (*decode)(void *), void *arg)
{
	long sites;

	wh_mem_fail_at(0);
	assert_int_equal(decode(arg), WH_OK);
	sites = wh_mem_fail_at(0);
	for (long n = 1; n <= sites; n++) {
		wh_err err;

		wh_mem_fail_at(n);
		err = decode(arg);
		wh_mem_fail_at(0);
		if (err != WH_ERR_NOMEM)
			fail_msg("allocation %ld of %ld failed: got %s, want out of memory", n,
				 sites, wh_strerror(err));
	}
	wh_mem_fail_at(sites + 1);
	assert_int_equal(decode(arg), WH_OK);
	wh_mem_fail_at(0);
	return sites;
}

struct bytes {
	const uint8_t *p;
	size_t len;
};

static wh_err
decode_reseq(void *arg)
{
	struct bytes *b = arg;
	uint8_t *out = NULL;
	size_t len;
	wh_err err = codec_event_reseq(b->p, b->len, 77, &out, &len);

	if (err == WH_OK) {
		Whagent__V1__Event *e = whagent__v1__event__unpack(NULL, len, out);

		assert_non_null(e);
		assert_int_equal(header_of(e)->seq, 77);
		whagent__v1__event__free_unpacked(e, NULL);
	} else {
		assert_null(out);
	}
	wh_free(out);
	return err;
}

static wh_err
decode_ack(void *arg)
{
	struct bytes *b = arg;
	char id[sizeof(JOURNAL)];
	uint64_t through = 0;
	wh_err err = codec_platform_ack_decode(b->p, b->len, id, sizeof(id), &through);

	if (err == WH_OK) {
		assert_string_equal(id, JOURNAL);
		assert_int_equal(through, 1234);
	}
	return err;
}

static void
test_decode_out_of_memory(void **state)
{
	uint8_t *ev, ack[256];
	size_t evlen, acklen;
	struct bytes b;
	long inv, shp, pa;

	(void)state;
	stored_event(EVENT_RECEIPT, 5, &ev, &evlen);
	b = (struct bytes){ev, evlen};
	inv = fail_each_allocation(decode_reseq, &b);
	wh_free(ev);
	stored_event(EVENT_SHIPMENT, 6, &ev, &evlen);
	b = (struct bytes){ev, evlen};
	shp = fail_each_allocation(decode_reseq, &b);
	wh_free(ev);
	pack_ack(JOURNAL, 1234, ack, sizeof(ack), &acklen);
	b = (struct bytes){ack, acklen};
	pa = fail_each_allocation(decode_ack, &b);
	print_message("allocations reached: reseq inventory %ld, reseq shipment %ld, "
		      "platform ack %ld\n",
		      inv, shp, pa);
	/* the unpacked messages' parts, not only the output buffer */
	assert_true(inv > 5);
	assert_true(shp > 5);
	assert_true(pa >= 2);
}

/* The capture's own encoder gives protobuf-c's bytes exactly, for events of every kind with
 * each field present or absent, empty map values, long texts (two-byte lengths), negative and
 * zero numbers and attributes. */
static uint64_t
next_rand(uint64_t *x)
{
	*x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17; /* xorshift64 */
	return *x;
}

static void
random_event(uint64_t *x, struct event *ev, char text[EF_COUNT + 2 * EVENT_MAX_ATTRS][400])
{
	static const int64_t nums[] = {
		0,     1,     -1,	 127,	    128,	   -128,
		16383, 16384, INT64_MAX, INT64_MIN, 1772370300000, -62135596800000};

	memset(ev, 0, sizeof(*ev));
	ev->kind = (enum event_kind)(next_rand(x) % 6); /* 0 too: the encoders do not check */
	for (int k = 0; k < EF_COUNT + 2 * EVENT_MAX_ATTRS; k++) {
		uint64_t r = next_rand(x);
		size_t n = r % 8 == 0 ? 200 + r % 190 : r % 24; /* some need a 2-byte length */

		for (size_t i = 0; i < n; i++)
			text[k][i] = (char)('a' + (r >> 8) % 26 + (char)i % 3);
		text[k][n] = '\0';
		if (k < EF_COUNT) /* absent, an empty map value or a text */
			ev->f[k] = r % 3 == 0 ? NULL : r % 7 == 0 ? "" : text[k];
	}
	ev->nattrs = (int)(next_rand(x) % 4 == 0 ? next_rand(x) % (EVENT_MAX_ATTRS + 1) : 0);
	for (int i = 0; i < ev->nattrs; i++) {
		ev->attr_key[i] = text[EF_COUNT + 2 * i];
		ev->attr_val[i] = next_rand(x) % 5 == 0 ? "" : text[EF_COUNT + 2 * i + 1];
	}
	/* one either side of each edge, wrapping (unsigned) rather than overflowing */
	ev->qty_milli = (int64_t)((uint64_t)nums[next_rand(x) % 12] + next_rand(x) % 3 - 1);
	ev->event_time_ms = nums[next_rand(x) % 12];
	ev->event_time_offset_min =
		(int32_t)(next_rand(x) % 3 == 0 ? 0 : next_rand(x) % 2881) - 1440;
}

static void
test_event_encoder_is_protobuf_c(void **state)
{
	static char text[EF_COUNT + 2 * EVENT_MAX_ATTRS][400];
	uint64_t x = 0x9e3779b97f4a7c15ull;
	uint8_t id[EVENT_ID_LEN];
	struct event ev;

	(void)state;
	for (int i = 0; i < 20000; i++) {
		uint8_t *a = NULL, *b = NULL;
		size_t alen = 0, blen = 0;
		uint64_t seq = i % 5 == 0 ? next_rand(&x) : (uint64_t)i;
		int64_t captured = i % 9 == 0 ? 0 : (int64_t)(next_rand(&x) >> (i % 64));

		random_event(&x, &ev, text);
		event_id(i % 2 ? "wms" : "", text[0], id);
		assert_int_equal(
			codec_event_encode(&ev, i % 2 ? "wms" : "", id, seq, captured, &a, &alen),
			WH_OK);
		assert_int_equal(
			codec_event_pack(&ev, i % 2 ? "wms" : "", id, seq, captured, &b, &blen),
			WH_OK);
		if (alen != blen || memcmp(a, b, alen) != 0)
			fail_msg("event %d (kind %d): %zu bytes, protobuf-c %zu", i, ev.kind, alen,
				 blen);
		wh_free(a);
		wh_free(b);
	}
	wh_mem_fail_at(1);
	assert_int_equal(codec_event_encode(&ev, "wms", id, 1, 1, &(uint8_t *){NULL}, &(size_t){0}),
			 WH_ERR_NOMEM);
	wh_mem_fail_at(0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_round_trip),
		cmocka_unit_test(test_event_encoder_is_protobuf_c),
		cmocka_unit_test(test_batch_byte_limit),
		cmocka_unit_test(test_batch_header_too_big),
		cmocka_unit_test(test_batch_signature),
		cmocka_unit_test(test_status_encode),
		cmocka_unit_test(test_reseq),
		cmocka_unit_test(test_platform_ack_decode),
		cmocka_unit_test(test_decode_out_of_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
