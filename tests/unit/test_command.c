/* The platform's signed envelope (envelope.c) and the commands in it (command.c): only a
 * message signed by a platform key (one of two), for this site and journal, of the topic's
 * type, inside its time window and with a counter above the last is opened; each refusal says
 * why. Unsigned only with the opt-in. The key is pinned to P-256. Out of memory is clean. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "command.h"
#include "crypto.h"
#include "envelope.h"
#include "mem.h"
#include "testutil.h"
#include "whagent/v1/control.pb-c.h"

#define NOW_MS	 1767225600000
#define SKEW_S	 300
#define MAX_WIRE 2048
#define SITE	 "SITE-1"
#define JOURNAL	 "0123456789abcdef0123456789abcdef"

struct keys {
	const char *dir;
	char key[512], pub[512], other_key[512], other_pub[512];
	struct crypto_signer *platform, *other;
};

static struct keys K;

static int
setup(void **state)
{
	char why[256];

	(void)state;
	K.dir = tu_tmpdir();
	tu_keypair(K.dir, "platform", K.key, K.pub);
	tu_keypair(K.dir, "other", K.other_key, K.other_pub);
	if (crypto_signer_new(K.key, &K.platform, why, sizeof(why)) != 0 ||
	    crypto_signer_new(K.other_key, &K.other, why, sizeof(why)) != 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	crypto_signer_free(K.platform);
	crypto_signer_free(K.other);
	tu_rmtree(K.dir);
	return 0;
}

enum action { A_NONE, A_STATUS, A_REPLAY, A_SNAPSHOT, A_PAUSE };

/* What goes into one test message; fields left 0 take the defaults of msg(). */
struct spec {
	const char *site, *journal;
	int type;
	int64_t issued, expires;
	uint64_t counter;
	struct crypto_signer *signer; /* NULL: unsigned */
	int tamper;		      /* flip a bit of the body after signing */
	int key_id;		      /* send the signer's fingerprint as key_id */
};

static size_t
command_bytes(const char *id, enum action action, uint64_t from, uint64_t to, uint8_t *out)
{
	Whagent__V1__Command c;
	Whagent__V1__Replay r;
	Whagent__V1__Empty empty;

	whagent__v1__command__init(&c);
	whagent__v1__replay__init(&r);
	whagent__v1__empty__init(&empty);
	c.id = (char *)(uintptr_t)id;
	switch (action) {
	case A_NONE:
		break;
	case A_STATUS:
		c.action_case = WHAGENT__V1__COMMAND__ACTION_STATUS;
		c.status = &empty;
		break;
	case A_SNAPSHOT:
		c.action_case = WHAGENT__V1__COMMAND__ACTION_SNAPSHOT;
		c.snapshot = &empty;
		break;
	case A_PAUSE:
		c.action_case = WHAGENT__V1__COMMAND__ACTION_PAUSE_CAPTURE;
		c.pause_capture = &empty;
		break;
	case A_REPLAY:
		r.from_seq = from;
		r.to_seq = to;
		c.action_case = WHAGENT__V1__COMMAND__ACTION_REPLAY;
		c.replay = &r;
		break;
	}
	assert_true(whagent__v1__command__get_packed_size(&c) <= 512);
	return whagent__v1__command__pack(&c, out);
}

/* A SignedControl around body as sp says; its length in out. */
static size_t
msg(const struct spec *sp, const uint8_t *body, size_t body_len, uint8_t *out)
{
	Whagent__V1__SignedControl sc;
	uint8_t sig[CRYPTO_SIG_MAX], copy[512], *canon = NULL;
	size_t sig_len = 0, canon_len = 0;

	whagent__v1__signed_control__init(&sc);
	sc.site_id = (char *)(uintptr_t)(sp->site ? sp->site : SITE);
	sc.journal_id = (char *)(uintptr_t)(sp->journal ? sp->journal : "");
	sc.type = sp->type ? sp->type : ENVELOPE_COMMAND;
	sc.issued_at_ms = sp->issued ? sp->issued : NOW_MS;
	sc.expires_at_ms = sp->expires ? sp->expires : sc.issued_at_ms + 60000;
	sc.counter = sp->counter ? sp->counter : 100;
	memcpy(copy, body, body_len);
	if (sp->signer != NULL) {
		assert_int_equal(envelope_canonical(sc.site_id, sc.journal_id,
						    (enum envelope_type)sc.type, sc.issued_at_ms,
						    sc.expires_at_ms, sc.counter, copy, body_len,
						    &canon, &canon_len),
				 WH_OK);
		assert_int_equal(crypto_sign(sp->signer, canon, canon_len, sig, &sig_len), 0);
		wh_free(canon);
	}
	if (sp->tamper)
		copy[body_len - 1] ^= 1;
	sc.body.data = copy;
	sc.body.len = body_len;
	sc.signature.data = sig;
	sc.signature.len = sig_len;
	if (sp->key_id) {
		sc.key_id.data = (uint8_t *)(uintptr_t)crypto_signer_fingerprint(sp->signer);
		sc.key_id.len = 32;
	}
	assert_true(whagent__v1__signed_control__get_packed_size(&sc) <= MAX_WIRE);
	return whagent__v1__signed_control__pack(&sc, out);
}

static struct envelope_keys *
keys(const char *a, const char *b)
{
	const char *files[] = {a, b};
	struct envelope_keys *k = NULL;
	char why[256];

	assert_int_equal(envelope_keys_new(files, 2, &k, why, sizeof(why)), WH_OK);
	return k;
}

static struct envelope_expect
expect(enum envelope_type type, uint64_t last)
{
	struct envelope_expect x = {.type = type,
				    .site_id = SITE,
				    .journal_id = JOURNAL,
				    .journal_required = type == ENVELOPE_ACK,
				    .now_ms = NOW_MS,
				    .max_skew_ms = SKEW_S * 1000,
				    .last_counter = last};
	return x;
}

/* Opens a message; on refusal checks the reason holds fragment. The body (a Command) is
 * parsed into cmd when opened. */
static wh_err
open_msg(const struct envelope_keys *k, const struct envelope_expect *x, const uint8_t *buf,
	 size_t len, struct command *cmd, const char *fragment)
{
	struct envelope e;
	char why[320] = "";
	wh_err err = envelope_open(k, x, buf, len, &e, why, sizeof(why));

	if (err == WH_OK && x->type == ENVELOPE_COMMAND)
		err = command_parse(e.body, e.body_len, cmd, why, sizeof(why));
	envelope_done(&e);
	if (fragment != NULL && strstr(why, fragment) == NULL)
		fail_msg("reason '%s' does not contain '%s'", why, fragment);
	return err;
}

static void
test_signed_commands_are_carried_out(void **state)
{
	struct envelope_keys *k = keys(K.pub, "");
	struct envelope_expect x = expect(ENVELOPE_COMMAND, 7);
	struct command cmd;
	uint8_t body[512], buf[MAX_WIRE];
	size_t n = command_bytes("c1", A_REPLAY, 5, 9, body), len;

	(void)state;
	assert_int_equal(envelope_keys_count(k), 1);
	len = msg(&(struct spec){.signer = K.platform, .journal = JOURNAL}, body, n, buf);
	assert_int_equal(open_msg(k, &x, buf, len, &cmd, NULL), WH_OK);
	assert_string_equal(cmd.id, "c1");
	assert_int_equal(cmd.action, COMMAND_REPLAY);
	assert_int_equal(cmd.from_seq, 5);
	assert_int_equal(cmd.to_seq, 9);
	/* with its key named, and within the skew either way */
	len = msg(&(struct spec){.signer = K.platform, .key_id = 1, .issued = NOW_MS + 299000},
		  body, n, buf);
	assert_int_equal(open_msg(k, &x, buf, len, &cmd, NULL), WH_OK);
	len = msg(&(struct spec){.signer = K.platform,
				 .issued = NOW_MS - 100000,
				 .expires = NOW_MS - 1000},
		  body, n, buf);
	assert_int_equal(open_msg(k, &x, buf, len, &cmd, NULL), WH_OK);
	envelope_keys_free(k);
}

static void
test_forged_and_misaddressed_are_refused(void **state)
{
	struct envelope_keys *k = keys(K.pub, "");
	struct envelope_expect x = expect(ENVELOPE_COMMAND, 7);
	struct command cmd;
	uint8_t body[512], buf[MAX_WIRE];
	size_t n = command_bytes("c2", A_STATUS, 0, 0, body), len;

	(void)state;
	len = msg(&(struct spec){0}, body, n, buf);
	assert_int_equal(open_msg(k, &x, buf, len, &cmd, "unsigned, refused"), WH_ERR_INVAL);
	len = msg(&(struct spec){.signer = K.other}, body, n, buf);
	assert_int_equal(open_msg(k, &x, buf, len, &cmd, "does not verify"), WH_ERR_INVAL);
	len = msg(&(struct spec){.signer = K.platform, .tamper = 1}, body, n, buf);
	assert_int_equal(open_msg(k, &x, buf, len, &cmd, "does not verify"), WH_ERR_INVAL);
	len = msg(&(struct spec){.signer = K.other, .key_id = 1}, body, n, buf);
	assert_int_equal(open_msg(k, &x, buf, len, &cmd, "does not verify"), WH_ERR_INVAL);
	/* signed by the platform, for another site, another journal, another topic's type */
	len = msg(&(struct spec){.signer = K.platform, .site = "SITE-2"}, body, n, buf);
	assert_int_equal(open_msg(k, &x, buf, len, &cmd, "addressed to site \"SITE-2\""),
			 WH_ERR_INVAL);
	len = msg(&(struct spec){.signer = K.platform, .journal = "ffff"}, body, n, buf);
	assert_int_equal(open_msg(k, &x, buf, len, &cmd, "for journal \"ffff\""), WH_ERR_INVAL);
	len = msg(&(struct spec){.signer = K.platform, .type = ENVELOPE_ACK}, body, n, buf);
	assert_int_equal(open_msg(k, &x, buf, len, &cmd, "of type 1 on the cmd topic"),
			 WH_ERR_INVAL);
	/* an ack must name the journal */
	x = expect(ENVELOPE_ACK, 0);
	len = msg(&(struct spec){.signer = K.platform, .type = ENVELOPE_ACK}, body, n, buf);
	assert_int_equal(open_msg(k, &x, buf, len, &cmd, "not this journal"), WH_ERR_INVAL);
	/* no key at all: a signature cannot be checked */
	x = expect(ENVELOPE_COMMAND, 0);
	len = msg(&(struct spec){.signer = K.platform}, body, n, buf);
	assert_int_equal(open_msg(NULL, &x, buf, len, &cmd, "no platform key"), WH_ERR_INVAL);
	envelope_keys_free(k);
}

static void
test_time_window_and_counter(void **state)
{
	struct envelope_keys *k = keys(K.pub, "");
	struct envelope_expect x = expect(ENVELOPE_COMMAND, 100);
	struct command cmd;
	uint8_t body[512], buf[MAX_WIRE];
	size_t n = command_bytes("c3", A_STATUS, 0, 0, body), len;

	(void)state;
	len = msg(&(struct spec){.signer = K.platform, .counter = 100}, body, n, buf);
	assert_int_equal(open_msg(k, &x, buf, len, &cmd, "counter 100 is not above 100"),
			 WH_ERR_INVAL);
	len = msg(&(struct spec){.signer = K.platform, .counter = 101}, body, n, buf);
	assert_int_equal(open_msg(k, &x, buf, len, &cmd, NULL), WH_OK);
	len = msg(&(struct spec){.signer = K.platform, .counter = 101, .issued = NOW_MS + 301000},
		  body, n, buf);
	assert_int_equal(open_msg(k, &x, buf, len, &cmd, "in the future"), WH_ERR_INVAL);
	len = msg(&(struct spec){.signer = K.platform,
				 .counter = 101,
				 .issued = NOW_MS - 3600000,
				 .expires = NOW_MS - 301000},
		  body, n, buf);
	assert_int_equal(open_msg(k, &x, buf, len, &cmd, "expired 301 s ago"), WH_ERR_INVAL);
	len = msg(&(struct spec){.signer = K.platform,
				 .counter = 101,
				 .issued = NOW_MS,
				 .expires = NOW_MS + ENVELOPE_MAX_LIFE_MS + 1},
		  body, n, buf);
	assert_int_equal(open_msg(k, &x, buf, len, &cmd, "more than a day"), WH_ERR_INVAL);
	len = msg(&(struct spec){.signer = K.platform,
				 .counter = 101,
				 .issued = INT64_MIN,
				 .expires = INT64_MAX},
		  body, n, buf);
	assert_int_equal(open_msg(k, &x, buf, len, &cmd, "not positive"), WH_ERR_INVAL);
	/* issued before the journal took control messages (a salvaged journal has no counters) */
	x.not_before_ms = NOW_MS + 1;
	len = msg(&(struct spec){.signer = K.platform, .counter = 101}, body, n, buf);
	assert_int_equal(open_msg(k, &x, buf, len, &cmd, "issued before this journal"),
			 WH_ERR_INVAL);
	x.not_before_ms = NOW_MS;
	assert_int_equal(open_msg(k, &x, buf, len, &cmd, NULL), WH_OK);
	envelope_keys_free(k);
}

/* Two keys at once (rotation): either verifies; a third is refused; only P-256. */
static void
test_keys(void **state)
{
	struct envelope_keys *k = keys("", K.other_pub), *bad = NULL;
	struct envelope_expect x = expect(ENVELOPE_COMMAND, 0);
	struct command cmd;
	uint8_t body[512], buf[MAX_WIRE];
	size_t n = command_bytes("c4", A_STATUS, 0, 0, body), len;
	char why[256] = "", p384[512], p384_pub[512];
	const char *three[] = {K.pub, K.other_pub, K.pub};

	(void)state;
	len = msg(&(struct spec){.signer = K.platform}, body, n, buf);
	assert_int_equal(open_msg(k, &x, buf, len, &cmd, "does not verify"), WH_ERR_INVAL);
	envelope_keys_free(k);
	k = keys(K.pub, K.other_pub);
	assert_int_equal(envelope_keys_count(k), 2);
	assert_int_equal(open_msg(k, &x, buf, len, &cmd, NULL), WH_OK);
	len = msg(&(struct spec){.signer = K.other, .key_id = 1}, body, n, buf);
	assert_int_equal(open_msg(k, &x, buf, len, &cmd, NULL), WH_OK);
	envelope_keys_free(k);
	assert_int_equal(envelope_keys_new(three, 3, &bad, why, sizeof(why)), WH_ERR_CONF);
	assert_non_null(strstr(why, "more than 2"));
	/* a private key, and a key on another curve, are not platform keys */
	assert_int_equal(envelope_keys_new((const char *[]){K.key}, 1, &bad, why, sizeof(why)),
			 WH_ERR_CONF);
	assert_non_null(strstr(why, "not an EC P-256 public key"));
	snprintf(p384, sizeof(p384), "%s/p384.key", K.dir);
	snprintf(p384_pub, sizeof(p384_pub), "%s/p384.pub", K.dir);
	{
		char sh[2048];

		snprintf(sh, sizeof(sh),
			 "openssl ecparam -name secp384r1 -genkey -noout -out %s && "
			 "openssl ec -in %s -pubout -out %s 2>/dev/null",
			 p384, p384, p384_pub);
		assert_int_equal(system(sh), 0);
	}
	assert_int_equal(envelope_keys_new((const char *[]){p384_pub}, 1, &bad, why, sizeof(why)),
			 WH_ERR_CONF);
	assert_non_null(strstr(why, p384_pub));
	wh_mem_fail_at(1);
	assert_int_equal(envelope_keys_new(three, 1, &bad, why, sizeof(why)), WH_ERR_NOMEM);
	wh_mem_fail_at(0);
	assert_null(bad);
}

static void
test_unsigned_opt_in_and_malformed(void **state)
{
	struct envelope_expect x = expect(ENVELOPE_COMMAND, 0);
	struct command cmd;
	uint8_t body[512], buf[MAX_WIRE], big[ENVELOPE_MAX_BYTES + 1] = {0};
	const uint8_t junk[] = {0xff, 0xff, 0xff};
	size_t n = command_bytes("n1", A_STATUS, 0, 0, body), len;

	(void)state;
	x.allow_unsigned = 1;
	len = msg(&(struct spec){0}, body, n, buf);
	assert_int_equal(open_msg(NULL, &x, buf, len, &cmd, NULL), WH_OK);
	assert_int_equal(cmd.action, COMMAND_STATUS);
	/* the opt-in takes no other shortcut: the site is still checked */
	len = msg(&(struct spec){.site = "SITE-2"}, body, n, buf);
	assert_int_equal(open_msg(NULL, &x, buf, len, &cmd, "addressed to site"), WH_ERR_INVAL);
	assert_int_equal(
		open_msg(NULL, &x, junk, sizeof(junk), &cmd, "not a whagent.v1.SignedControl"),
		WH_ERR_INVAL);
	assert_int_equal(open_msg(NULL, &x, big, sizeof(big), &cmd, "more than the 8192"),
			 WH_ERR_INVAL);
	n = command_bytes("n2", A_NONE, 0, 0, body);
	len = msg(&(struct spec){0}, body, n, buf);
	assert_int_equal(open_msg(NULL, &x, buf, len, &cmd, "unknown command"), WH_ERR_INVAL);
	assert_string_equal(cmd.id, "n2");
	n = command_bytes("n3", A_REPLAY, 9, 5, body);
	len = msg(&(struct spec){0}, body, n, buf);
	assert_int_equal(open_msg(NULL, &x, buf, len, &cmd, "from_seq <= to_seq"), WH_ERR_INVAL);
}

/* The canonical bytes: every field length-prefixed, so moving bytes between fields changes
 * them. */
static void
test_canonical(void **state)
{
	uint8_t *a, *b;
	size_t la, lb;

	(void)state;
	assert_int_equal(envelope_canonical("AB", "C", ENVELOPE_ACK, 1, 2, 3, "x", 1, &a, &la),
			 WH_OK);
	assert_int_equal(envelope_canonical("A", "BC", ENVELOPE_ACK, 1, 2, 3, "x", 1, &b, &lb),
			 WH_OK);
	assert_int_equal(la, lb);
	assert_int_equal(la, 25 + 4 + 2 + 4 + 1 + 4 + 24 + 4 + 1);
	assert_true(memcmp(a, b, la) != 0);
	assert_memory_equal(a, "whagent.v1.SignedControl\0\0\0\0\2AB", 31);
	wh_free(a);
	wh_free(b);
}

static void
test_result_encode(void **state)
{
	Whagent__V1__CommandResult *r;
	uint8_t *buf;
	size_t len;

	(void)state;
	assert_int_equal(command_result_encode("c9", 77, 1, "replaying", 5, 9, &buf, &len), WH_OK);
	r = whagent__v1__command_result__unpack(NULL, len, buf);
	assert_non_null(r);
	assert_string_equal(r->id, "c9");
	assert_true(r->ok);
	assert_string_equal(r->message, "replaying");
	assert_int_equal(r->replay_from, 5);
	assert_int_equal(r->replay_to, 9);
	assert_int_equal(r->counter, 77);
	whagent__v1__command_result__free_unpacked(r, NULL);
	wh_free(buf);
}

/* Each allocation of opening and decoding fails in turn: out of memory, said so, never taken
 * as a malformed message. */
static void
test_open_out_of_memory(void **state)
{
	struct envelope_keys *k = keys(K.pub, "");
	struct envelope_expect x = expect(ENVELOPE_COMMAND, 0);
	struct command cmd;
	uint8_t body[512], buf[MAX_WIRE];
	size_t n = command_bytes("m1", A_REPLAY, 1, 2, body), len;
	long sites;

	(void)state;
	len = msg(&(struct spec){.signer = K.platform}, body, n, buf);
	wh_mem_fail_at(0);
	assert_int_equal(open_msg(k, &x, buf, len, &cmd, NULL), WH_OK);
	sites = wh_mem_fail_at(0);
	for (long i = 1; i <= sites; i++) {
		wh_err err;

		wh_mem_fail_at(i);
		err = open_msg(k, &x, buf, len, &cmd, "out of memory");
		wh_mem_fail_at(0);
		if (err != WH_ERR_NOMEM)
			fail_msg("allocation %ld of %ld failed: got %s", i, sites,
				 wh_strerror(err));
	}
	print_message("allocations reached: envelope_open + command_parse %ld\n", sites);
	assert_true(sites >= 6);
	envelope_keys_free(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signed_commands_are_carried_out),
		cmocka_unit_test(test_forged_and_misaddressed_are_refused),
		cmocka_unit_test(test_time_window_and_counter),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_unsigned_opt_in_and_malformed),
		cmocka_unit_test(test_canonical),
		cmocka_unit_test(test_result_encode),
		cmocka_unit_test(test_open_out_of_memory),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
