/* The uplink's control part on its own (no broker: the session never connects): a signed
 * PlatformAck moves the platform's watermark only for this journal, never beyond the broker's
 * watermark and never back; an unsigned or forged one, a replayed counter (also after the
 * control is made again from the journal), what is not a PlatformAck, or what comes on
 * another topic, changes nothing, and is counted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "codec.h"
#include "conf.h"
#include "control.h"
#include "crypto.h"
#include "envelope.h"
#include "mem.h"
#include "identity.h"
#include "journal.h"
#include "journal_event.h"
#include "journal_meta.h"
#include "loop.h"
#include "mqtt.h"
#include "platform.h"
#include "sender.h"
#include "uplink.h"
#include "testutil.h"
#include "whagent/v1/control.pb-c.h"

struct fx {
	const char *dir;
	char db[600];
	struct conf *c;
	struct journal *j;
	struct loop *l;
	struct identity id;
	struct mqtt *m;
	struct sender *sn;
	struct control *ctl;
	struct crypto_signer *platform, *forger;
	uint64_t counter;
	char why[512];
};

static void
nothing(void *arg)
{
	(void)arg;
}

static void
no_published(void *arg, int mid, const char *refused)
{
	(void)arg;
	(void)mid;
	(void)refused;
}

static void
no_message(void *arg, const struct mqtt_msg *msg)
{
	(void)arg;
	(void)msg;
}

static void
no_status(void *arg, struct codec_status *cs)
{
	(void)arg;
	(void)cs;
}

static void
append_n(struct journal *j, int n)
{
	static const uint8_t payload[100] = {1, 2, 3};
	char key[32];
	uint64_t seq;
	int dup;

	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_APPEND), WH_OK);
	for (int i = 0; i < n; i++) {
		struct journal_event ev = {.source = "wms",
					   .source_key = key,
					   .kind = 1,
					   .captured_at_ms = 1000,
					   .payload = payload,
					   .len = sizeof(payload)};

		snprintf(key, sizeof(key), "T%d", i);
		assert_int_equal(journal_append(j, &ev, &seq, &dup), WH_OK);
	}
	assert_int_equal(journal_txn_end(j, WH_OK), WH_OK);
}

static int
setup(void **state)
{
	static struct fx f;
	struct mqtt_cb mcb = {nothing, nothing,	  no_published, no_message,
			      nothing, no_status, NULL,		NULL};
	struct sender_cb scb = {nothing, nothing, NULL};
	struct control_cb ccb = {nothing, NULL};
	struct journal_opts jo = {0};
	char text[1200], err[256], key[512], pub[512], key2[512], pub2[512];

	memset(&f, 0, sizeof(f));
	f.dir = tu_tmpdir();
	tu_keypair(f.dir, "platform", key, pub);
	tu_keypair(f.dir, "forger", key2, pub2);
	assert_int_equal(crypto_signer_new(key, &f.platform, err, sizeof(err)), 0);
	assert_int_equal(crypto_signer_new(key2, &f.forger, err, sizeof(err)), 0);
	snprintf(text, sizeof(text),
		 "[agent]\nsite_id = UT\nstate_dir = %s\n[mqtt]\nhost = 127.0.0.1\nport = 1\n"
		 "ack_mode = platform\nplatform_pubkey = %s\n",
		 f.dir, pub);
	assert_int_equal(conf_load(tu_write(f.dir, "w.conf", text), &f.c, err, sizeof(err)), WH_OK);
	snprintf(f.db, sizeof(f.db), "%s/journal.db", f.dir);
	assert_int_equal(journal_open(f.db, &jo, &f.j), WH_OK);
	append_n(f.j, 10);
	assert_int_equal(journal_ack(f.j, 9), WH_OK); /* the broker's watermark */
	assert_int_equal(loop_new(&f.l), WH_OK);
	assert_int_equal(identity_load(&f.id, f.c, f.why, sizeof(f.why)), WH_OK);
	assert_int_equal(mqtt_new(f.c, f.j, f.l, &f.id, 1, &mcb, &f.m, f.why, sizeof(f.why)),
			 WH_OK);
	assert_int_equal(sender_new(f.c, f.j, f.l, f.m, &f.id, &scb, &f.sn), WH_OK);
	assert_int_equal(control_new(f.c, f.j, f.l, f.m, f.sn, &ccb, &f.ctl, f.why, sizeof(f.why)),
			 WH_OK);
	*state = &f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	control_free(f->ctl);
	sender_free(f->sn);
	mqtt_free(f->m);
	identity_done(&f->id);
	loop_free(f->l);
	journal_close(f->j);
	conf_free(f->c);
	crypto_signer_free(f->platform);
	crypto_signer_free(f->forger);
	tu_rmtree(f->dir);
	return 0;
}

/* The test plays the platform: a PlatformAck for journal id through seq `through`, in a
 * SignedControl for site on topic, signed by signer (NULL: unsigned) with counter (0: the next). */
static void
send_ack(struct fx *f, const char *topic, const char *site, const char *id, uint64_t through,
	 struct crypto_signer *signer, uint64_t counter)
{
	Whagent__V1__PlatformAck a;
	Whagent__V1__SignedControl sc;
	uint8_t body[128], buf[512], sig[CRYPTO_SIG_MAX], *canon;
	size_t sig_len = 0, canon_len;
	char idbuf[64], sitebuf[64];
	struct mqtt_msg msg = {.topic = topic, .payload = buf};

	whagent__v1__platform_ack__init(&a);
	snprintf(idbuf, sizeof(idbuf), "%s", id);
	snprintf(sitebuf, sizeof(sitebuf), "%s", site);
	a.journal_id = idbuf;
	a.acked_through = through;
	whagent__v1__signed_control__init(&sc);
	sc.site_id = sitebuf;
	sc.journal_id = idbuf;
	sc.type = WHAGENT__V1__CONTROL_TYPE__CONTROL_TYPE_PLATFORM_ACK;
	sc.issued_at_ms = platform_now_ms();
	sc.expires_at_ms = sc.issued_at_ms + 60000;
	sc.counter = counter ? counter : ++f->counter;
	sc.body.data = body;
	sc.body.len = whagent__v1__platform_ack__pack(&a, body);
	if (signer != NULL) {
		assert_int_equal(envelope_canonical(sc.site_id, sc.journal_id, ENVELOPE_ACK,
						    sc.issued_at_ms, sc.expires_at_ms, sc.counter,
						    body, sc.body.len, &canon, &canon_len),
				 WH_OK);
		assert_int_equal(crypto_sign(signer, canon, canon_len, sig, &sig_len), 0);
		wh_free(canon);
	}
	sc.signature.data = sig;
	sc.signature.len = sig_len;
	msg.len = whagent__v1__signed_control__pack(&sc, buf);
	control_message(f->ctl, &msg);
}

static void
ack(struct fx *f, const char *id, uint64_t through)
{
	send_ack(f, "whagent/v1/UT/ack", "UT", id, through, f->platform, 0);
}

static uint64_t
refusals(struct fx *f)
{
	struct uplink_stats us;

	memset(&us, 0, sizeof(us));
	control_stats(f->ctl, &us);
	return us.control.refused;
}

static uint64_t
persisted(struct fx *f)
{
	struct journal_stats st;

	assert_int_equal(journal_stats(f->j, &st), WH_OK);
	return st.platform_acked_through;
}

static void
test_platform_acks(void **state)
{
	struct fx *f = *state;
	char id[JOURNAL_ID_LEN + 1];
	struct mqtt_msg junk = {.topic = "whagent/v1/UT/ack", .payload = "\xff\xff\xff", .len = 3};
	struct control_cb ccb = {nothing, NULL};

	snprintf(id, sizeof(id), "%s", journal_id(f->j));
	assert_int_equal(control_platform_acked(f->ctl), 0);
	ack(f, "00000000000000000000000000000000", 5); /* another journal's */
	assert_int_equal(control_platform_acked(f->ctl), 0);
	ack(f, id, 10); /* beyond the broker's watermark (9) */
	assert_int_equal(control_platform_acked(f->ctl), 0);
	control_message(f->ctl, &junk);
	send_ack(f, "whagent/v1/UT/ack", "UT", id, 5, NULL, 0);		  /* unsigned */
	send_ack(f, "whagent/v1/UT/ack", "UT", id, 5, f->forger, 0);	  /* forged */
	send_ack(f, "whagent/v1/UT/ack", "OTHER", id, 5, f->platform, 0); /* another site's */
	assert_int_equal(control_platform_acked(f->ctl), 0);
	assert_int_equal(persisted(f), 0);
	assert_int_equal(refusals(f), 6);
	ack(f, id, 4);
	assert_int_equal(control_platform_acked(f->ctl), 4);
	assert_int_equal(persisted(f), 4);
	ack(f, id, 3); /* never back */
	assert_int_equal(control_platform_acked(f->ctl), 4);
	assert_int_equal(persisted(f), 4);
	/* a replayed counter, also once the control is made again (a restart) */
	send_ack(f, "whagent/v1/UT/ack", "UT", id, 8, f->platform, f->counter);
	assert_int_equal(control_platform_acked(f->ctl), 4);
	control_free(f->ctl);
	assert_int_equal(
		control_new(f->c, f->j, f->l, f->m, f->sn, &ccb, &f->ctl, f->why, sizeof(f->why)),
		WH_OK);
	send_ack(f, "whagent/v1/UT/ack", "UT", id, 8, f->platform, f->counter);
	assert_int_equal(control_platform_acked(f->ctl), 4);
	assert_int_equal(refusals(f), 1);
	ack(f, id, 8);
	assert_int_equal(control_platform_acked(f->ctl), 8);
	assert_int_equal(persisted(f), 8);
}

static void
test_other_topics_ignored(void **state)
{
	struct fx *f = *state;
	char id[JOURNAL_ID_LEN + 1];

	snprintf(id, sizeof(id), "%s", journal_id(f->j));
	send_ack(f, "whagent/v1/OTHER/ack", "UT", id, 6, f->platform, 0);
	assert_int_equal(control_platform_acked(f->ctl), 0);
	assert_int_equal(persisted(f), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_platform_acks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_topics_ignored, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
