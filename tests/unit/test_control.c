/* The uplink's control part on its own (no broker: the session never connects): a
 * PlatformAck moves the platform's watermark only for this journal, never beyond the last
 * journaled seq and never back; one that comes while the journal cannot be read is ignored
 * (it once logged an uninitialised last seq: run under valgrind, memcheck shows it); what
 * is not a PlatformAck, or comes on another topic, changes nothing. */
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
#include "identity.h"
#include "journal.h"
#include "journal_event.h"
#include "journal_meta.h"
#include "loop.h"
#include "mqtt.h"
#include "sender.h"
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
	char text[1200], err[256];

	memset(&f, 0, sizeof(f));
	f.dir = tu_tmpdir();
	snprintf(text, sizeof(text),
		 "[agent]\nsite_id = UT\nstate_dir = %s\n[mqtt]\nhost = 127.0.0.1\nport = 1\n"
		 "ack_mode = platform\n",
		 f.dir);
	assert_int_equal(conf_load(tu_write(f.dir, "w.conf", text), &f.c, err, sizeof(err)), WH_OK);
	snprintf(f.db, sizeof(f.db), "%s/journal.db", f.dir);
	assert_int_equal(journal_open(f.db, &jo, &f.j), WH_OK);
	append_n(f.j, 10);
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
	tu_rmtree(f->dir);
	return 0;
}

/* The test plays the platform: a PlatformAck for journal id through seq `through`. */
static void
ack(struct fx *f, const char *id, uint64_t through)
{
	Whagent__V1__PlatformAck a;
	uint8_t buf[128];
	char idbuf[64];
	struct mqtt_msg msg = {.topic = "whagent/v1/UT/ack", .payload = buf};

	whagent__v1__platform_ack__init(&a);
	snprintf(idbuf, sizeof(idbuf), "%s", id);
	a.journal_id = idbuf;
	a.acked_through = through;
	msg.len = whagent__v1__platform_ack__pack(&a, buf);
	control_message(f->ctl, &msg);
}

static uint64_t
persisted(struct fx *f)
{
	struct journal_stats st;

	assert_int_equal(journal_stats(f->j, &st), WH_OK);
	return st.platform_acked_through;
}

/* Renames a meta row from another connection, as a damaged or locked journal would look. */
static void
rename_meta(struct fx *f, const char *from, const char *to)
{
	char sql[200];
	sqlite3 *db;

	snprintf(sql, sizeof(sql), "UPDATE meta SET key = '%s' WHERE key = '%s'", to, from);
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void
test_platform_acks(void **state)
{
	struct fx *f = *state;
	char id[JOURNAL_ID_LEN + 1];
	struct mqtt_msg junk = {.topic = "whagent/v1/UT/ack", .payload = "\xff\xff\xff", .len = 3};

	snprintf(id, sizeof(id), "%s", journal_id(f->j));
	assert_int_equal(control_platform_acked(f->ctl), 0);
	ack(f, "00000000000000000000000000000000", 5); /* another journal's */
	assert_int_equal(control_platform_acked(f->ctl), 0);
	ack(f, id, 11); /* beyond the last journaled seq */
	assert_int_equal(control_platform_acked(f->ctl), 0);
	control_message(f->ctl, &junk);
	assert_int_equal(control_platform_acked(f->ctl), 0);
	ack(f, id, 4);
	assert_int_equal(control_platform_acked(f->ctl), 4);
	assert_int_equal(persisted(f), 4);
	ack(f, id, 3); /* never back */
	assert_int_equal(control_platform_acked(f->ctl), 4);
	assert_int_equal(persisted(f), 4);

	rename_meta(f, "duplicates", "duplicates.hidden"); /* journal_stats fails now */
	ack(f, id, 8);
	assert_int_equal(control_platform_acked(f->ctl), 4);
	rename_meta(f, "duplicates.hidden", "duplicates");
	assert_int_equal(persisted(f), 4);
	ack(f, id, 8);
	assert_int_equal(control_platform_acked(f->ctl), 8);
	assert_int_equal(persisted(f), 8);
}

static void
test_other_topics_ignored(void **state)
{
	struct fx *f = *state;
	char id[JOURNAL_ID_LEN + 1];
	Whagent__V1__PlatformAck a;
	uint8_t buf[128];
	struct mqtt_msg msg = {.topic = "whagent/v1/OTHER/ack", .payload = buf};

	whagent__v1__platform_ack__init(&a);
	snprintf(id, sizeof(id), "%s", journal_id(f->j));
	a.journal_id = id;
	a.acked_through = 6;
	msg.len = whagent__v1__platform_ack__pack(&a, buf);
	control_message(f->ctl, &msg);
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
