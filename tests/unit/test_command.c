/* Commands from the platform: with a platform key only a command signed by it, issued within
 * the skew window and not seen before is carried out; each refusal says why. Without a key,
 * commands are taken unsigned (the explicit opt-in). Decoding runs out of memory cleanly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "command.h"
#include "crypto.h"
#include "mem.h"
#include "testutil.h"
#include "whagent/v1/control.pb-c.h"

#define NOW_MS	 1767225600000
#define SKEW_S	 300
#define MAX_WIRE 1024

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

/* A SignedCommand of id and action issued at issued_ms, signed by signer (NULL: unsigned);
 * tamper flips a bit of the id's first character after signing (the command still decodes).
 * Returns its length in out. */
static size_t
wire(const char *id, enum action action, uint64_t from, uint64_t to, int64_t issued_ms,
     struct crypto_signer *signer, int tamper, uint8_t *out)
{
	Whagent__V1__Command c;
	Whagent__V1__Replay r;
	Whagent__V1__Empty empty;
	Whagent__V1__SignedCommand sc;
	uint8_t cmd[512], sig[CRYPTO_SIG_MAX];
	size_t cmd_len, sig_len = 0;

	whagent__v1__command__init(&c);
	whagent__v1__replay__init(&r);
	whagent__v1__empty__init(&empty);
	c.id = (char *)(uintptr_t)id;
	c.issued_at_ms = issued_ms;
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
	assert_true(whagent__v1__command__get_packed_size(&c) <= sizeof(cmd));
	cmd_len = whagent__v1__command__pack(&c, cmd);
	if (signer != NULL)
		assert_int_equal(crypto_sign(signer, cmd, cmd_len, sig, &sig_len), 0);
	if (tamper)
		cmd[2] ^= 1; /* tag, length, then the id */
	whagent__v1__signed_command__init(&sc);
	sc.command.data = cmd;
	sc.command.len = cmd_len;
	sc.signature.data = sig;
	sc.signature.len = sig_len;
	assert_true(whagent__v1__signed_command__get_packed_size(&sc) <= MAX_WIRE);
	return whagent__v1__signed_command__pack(&sc, out);
}

static struct command_verifier *
verifier(const char *pub)
{
	struct command_verifier *v = NULL;
	char why[256];

	assert_int_equal(command_verifier_new(pub, SKEW_S, &v, why, sizeof(why)), WH_OK);
	return v;
}

/* Parses and, on refusal, checks the reason holds fragment. */
static wh_err
parse(struct command_verifier *v, const uint8_t *buf, size_t len, struct command *cmd,
      const char *fragment)
{
	char why[320] = "";
	wh_err err = command_parse(v, buf, len, NOW_MS, cmd, why, sizeof(why));

	if (fragment != NULL && strstr(why, fragment) == NULL)
		fail_msg("reason '%s' does not contain '%s'", why, fragment);
	return err;
}

static void
test_signed_commands_are_carried_out(void **state)
{
	struct command_verifier *v = verifier(K.pub);
	struct command cmd;
	uint8_t buf[MAX_WIRE];
	size_t len;

	(void)state;
	len = wire("c1", A_STATUS, 0, 0, NOW_MS, K.platform, 0, buf);
	assert_int_equal(parse(v, buf, len, &cmd, NULL), WH_OK);
	assert_string_equal(cmd.id, "c1");
	assert_int_equal(cmd.action, COMMAND_STATUS);
	len = wire("c2", A_REPLAY, 10, 20, NOW_MS - 1000, K.platform, 0, buf);
	assert_int_equal(parse(v, buf, len, &cmd, NULL), WH_OK);
	assert_int_equal(cmd.action, COMMAND_REPLAY);
	assert_int_equal(cmd.from_seq, 10);
	assert_int_equal(cmd.to_seq, 20);
	len = wire("c3", A_SNAPSHOT, 0, 0, NOW_MS, K.platform, 0, buf);
	assert_int_equal(parse(v, buf, len, &cmd, NULL), WH_OK);
	assert_int_equal(cmd.action, COMMAND_SNAPSHOT);
	len = wire("c4", A_PAUSE, 0, 0, NOW_MS, K.platform, 0, buf);
	assert_int_equal(parse(v, buf, len, &cmd, NULL), WH_OK);
	assert_int_equal(cmd.action, COMMAND_PAUSE_CAPTURE);
	command_verifier_free(v);
}

static void
test_bad_signatures_are_refused(void **state)
{
	struct command_verifier *v = verifier(K.pub);
	struct command cmd;
	uint8_t buf[MAX_WIRE];
	size_t len;

	(void)state;
	len = wire("s1", A_PAUSE, 0, 0, NOW_MS, NULL, 0, buf);
	assert_int_equal(parse(v, buf, len, &cmd, "unsigned command refused"), WH_ERR_INVAL);
	assert_string_equal(cmd.id, "s1"); /* the refusal can name it */
	len = wire("s2", A_PAUSE, 0, 0, NOW_MS, K.other, 0, buf);
	assert_int_equal(parse(v, buf, len, &cmd, "signature does not verify"), WH_ERR_INVAL);
	len = wire("s3", A_PAUSE, 0, 0, NOW_MS, K.platform, 1, buf);
	assert_int_equal(parse(v, buf, len, &cmd, "signature does not verify"), WH_ERR_INVAL);
	/* none of them used up its id: the genuine command still runs */
	len = wire("s1", A_PAUSE, 0, 0, NOW_MS, K.platform, 0, buf);
	assert_int_equal(parse(v, buf, len, &cmd, NULL), WH_OK);
	command_verifier_free(v);
}

static void
test_skew_window(void **state)
{
	struct command_verifier *v = verifier(K.pub);
	struct command cmd;
	uint8_t buf[MAX_WIRE];
	size_t len;

	(void)state;
	len = wire("k1", A_STATUS, 0, 0, NOW_MS - SKEW_S * 1000, K.platform, 0, buf);
	assert_int_equal(parse(v, buf, len, &cmd, NULL), WH_OK); /* at the edge: taken */
	len = wire("k2", A_STATUS, 0, 0, NOW_MS + SKEW_S * 1000, K.platform, 0, buf);
	assert_int_equal(parse(v, buf, len, &cmd, NULL), WH_OK);
	len = wire("k3", A_STATUS, 0, 0, NOW_MS - SKEW_S * 1000 - 1, K.platform, 0, buf);
	assert_int_equal(parse(v, buf, len, &cmd, "stale or replayed"), WH_ERR_INVAL);
	len = wire("k4", A_STATUS, 0, 0, NOW_MS + SKEW_S * 1000 + 1, K.platform, 0, buf);
	assert_int_equal(parse(v, buf, len, &cmd, "stale or replayed"), WH_ERR_INVAL);
	len = wire("k5", A_STATUS, 0, 0, 0, K.platform, 0, buf); /* no issued_at at all */
	assert_int_equal(parse(v, buf, len, &cmd, "stale or replayed"), WH_ERR_INVAL);
	command_verifier_free(v);
}

static void
test_replayed_id_is_refused(void **state)
{
	struct command_verifier *v = verifier(K.pub);
	struct command cmd;
	uint8_t buf[MAX_WIRE], again[MAX_WIRE];
	size_t len, len2;

	(void)state;
	len = wire("r1", A_REPLAY, 1, 5, NOW_MS, K.platform, 0, buf);
	assert_int_equal(parse(v, buf, len, &cmd, NULL), WH_OK);
	assert_int_equal(parse(v, buf, len, &cmd, "already carried out"), WH_ERR_INVAL);
	/* the same id signed anew, with another action, is the same command */
	len2 = wire("r1", A_PAUSE, 0, 0, NOW_MS + 1, K.platform, 0, again);
	assert_int_equal(parse(v, again, len2, &cmd, "already carried out"), WH_ERR_INVAL);
	len = wire("r2", A_REPLAY, 1, 5, NOW_MS, K.platform, 0, buf);
	assert_int_equal(parse(v, buf, len, &cmd, NULL), WH_OK);
	command_verifier_free(v);
}

static void
test_malformed_and_unknown(void **state)
{
	static const uint8_t junk[] = {0x0a, 0x05, 0x01, 0x02};
	struct command_verifier *v = verifier(K.pub);
	struct command cmd;
	uint8_t buf[MAX_WIRE];
	size_t len;

	(void)state;
	assert_int_equal(parse(v, junk, sizeof(junk), &cmd, "not a whagent.v1.SignedCommand"),
			 WH_ERR_INVAL);
	assert_string_equal(cmd.id, "");
	len = wire("u1", A_NONE, 0, 0, NOW_MS, K.platform, 0, buf);
	assert_int_equal(parse(v, buf, len, &cmd, "unknown command"), WH_ERR_INVAL);
	len = wire("u2", A_REPLAY, 0, 5, NOW_MS, K.platform, 0, buf);
	assert_int_equal(parse(v, buf, len, &cmd, "from_seq <= to_seq"), WH_ERR_INVAL);
	len = wire("u3", A_REPLAY, 9, 5, NOW_MS, K.platform, 0, buf);
	assert_int_equal(parse(v, buf, len, &cmd, "from_seq <= to_seq"), WH_ERR_INVAL);
	len = wire("", A_STATUS, 0, 0, NOW_MS, K.platform, 0, buf);
	assert_int_equal(parse(v, buf, len, &cmd, "without an id"), WH_ERR_INVAL);
	command_verifier_free(v);
}

static void
test_unsigned_opt_in(void **state)
{
	struct command_verifier *v = verifier(NULL);
	struct command_verifier *bad = NULL;
	struct command cmd;
	uint8_t buf[MAX_WIRE];
	char why[256] = "";
	size_t len;

	(void)state;
	len = wire("n1", A_STATUS, 0, 0, 0, NULL, 0, buf);
	assert_int_equal(parse(v, buf, len, &cmd, NULL), WH_OK);
	assert_int_equal(cmd.action, COMMAND_STATUS);
	command_verifier_free(v);
	/* a configured key that is not one stops the start, with the file named */
	assert_int_equal(command_verifier_new(K.key, SKEW_S, &bad, why, sizeof(why)), WH_ERR_CONF);
	assert_null(bad);
	assert_non_null(strstr(why, K.key));
	why[0] = '\0';
	wh_mem_fail_at(1);
	assert_int_equal(command_verifier_new(K.pub, SKEW_S, &bad, why, sizeof(why)), WH_ERR_NOMEM);
	wh_mem_fail_at(0);
	assert_string_equal(why, "out of memory");
}

static void
test_result_encode(void **state)
{
	Whagent__V1__CommandResult *r;
	uint8_t *buf;
	size_t len;

	(void)state;
	assert_int_equal(command_result_encode("c9", 1, "replaying", 5, 9, &buf, &len), WH_OK);
	r = whagent__v1__command_result__unpack(NULL, len, buf);
	assert_non_null(r);
	assert_string_equal(r->id, "c9");
	assert_true(r->ok);
	assert_string_equal(r->message, "replaying");
	assert_int_equal(r->replay_from, 5);
	assert_int_equal(r->replay_to, 9);
	whagent__v1__command_result__free_unpacked(r, NULL);
	wh_free(buf);
}

/* Each allocation of decoding fails in turn: out of memory, said so, never taken as a
 * malformed command, and the id is not used up (the platform may send it again). */
static void
test_parse_out_of_memory(void **state)
{
	struct command_verifier *v = verifier(K.pub);
	struct command cmd;
	uint8_t buf[MAX_WIRE];
	char why[320];
	size_t len;
	long sites;

	(void)state;
	len = wire("m0", A_REPLAY, 1, 2, NOW_MS, K.platform, 0, buf);
	wh_mem_fail_at(0);
	assert_int_equal(command_parse(v, buf, len, NOW_MS, &cmd, why, sizeof(why)), WH_OK);
	sites = wh_mem_fail_at(0);
	len = wire("m1", A_REPLAY, 1, 2, NOW_MS, K.platform, 0, buf);
	for (long n = 1; n <= sites; n++) {
		wh_err err;

		wh_mem_fail_at(n);
		err = command_parse(v, buf, len, NOW_MS, &cmd, why, sizeof(why));
		wh_mem_fail_at(0);
		if (err != WH_ERR_NOMEM)
			fail_msg("allocation %ld of %ld failed: got %s (%s)", n, sites,
				 wh_strerror(err), why);
		assert_non_null(strstr(why, "out of memory"));
	}
	assert_int_equal(command_parse(v, buf, len, NOW_MS, &cmd, why, sizeof(why)), WH_OK);
	assert_string_equal(cmd.id, "m1");
	print_message("allocations reached: command_parse %ld\n", sites);
	assert_true(sites >= 4); /* SignedCommand, Command, its id, the Replay */
	command_verifier_free(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signed_commands_are_carried_out),
		cmocka_unit_test(test_bad_signatures_are_refused),
		cmocka_unit_test(test_skew_window),
		cmocka_unit_test(test_replayed_id_is_refused),
		cmocka_unit_test(test_malformed_and_unknown),
		cmocka_unit_test(test_unsigned_opt_in),
		cmocka_unit_test(test_result_encode),
		cmocka_unit_test(test_parse_out_of_memory),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
