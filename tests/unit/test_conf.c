/* Configuration parsing: defaults, errors naming file, line and key, maps, allocation failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "conf.h"
#include "mem.h"
#include "testutil.h"

static char dir[512];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s", tu_tmpdir());
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	tu_rmtree(dir);
	return 0;
}

static wh_err
load(const char *text, struct conf **c, char *err)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s", tu_write(dir, "w.conf", text));
	return conf_load(path, c, err, 512);
}

static void
expect_error(const char *text, const char *fragment)
{
	struct conf *c = NULL;
	char err[512];

	assert_int_equal(load(text, &c, err), WH_ERR_CONF);
	assert_null(c);
	if (strstr(err, fragment) == NULL)
		fail_msg("error '%s' does not contain '%s'", err, fragment);
}

static void
test_defaults_and_derived(void **state)
{
	struct conf *c = NULL;
	char err[512];

	(void)state;
	assert_int_equal(load("[agent]\nsite_id = DC-1\nstate_dir = /srv/wh\n"
			      "[input.spool]\ndir = /srv/spool\n",
			      &c, err),
			 WH_OK);
	assert_string_equal(c->agent.site_id, "DC-1");
	assert_string_equal(c->journal.path, "/srv/wh/journal.db");
	assert_int_equal(c->journal.max_bytes, 512LL * 1024 * 1024);
	assert_int_equal(c->journal.synchronous, CONF_SYNC_FULL);
	assert_true(c->spool.enabled);
	assert_string_equal(c->spool.done_dir, "/srv/spool/done");
	assert_string_equal(c->spool.source, "wms");
	assert_int_equal(c->spool.settle_ms, 2000);
	conf_free(c);
}

static void
test_values(void **state)
{
	struct conf *c = NULL;
	char err[512];

	(void)state;
	assert_int_equal(load("; comment\n[agent]\nsite_id = DC-1\n[journal]\n"
			      "max_bytes = 1GiB\nreserve_bytes = 10MB\nsynchronous = NORMAL\n"
			      "[input.spool]\ndir = /s\non_done = delete\ndelimiter = semicolon\n"
			      "map = acme\n[map.acme]\nsku = Item No\nqty = Menge\n",
			      &c, err),
			 WH_OK);
	assert_int_equal(c->journal.max_bytes, 1LL << 30);
	assert_int_equal(c->journal.reserve_bytes, 10000000);
	assert_int_equal(c->journal.synchronous, CONF_SYNC_NORMAL);
	assert_int_equal(c->spool.on_done, CONF_DONE_DELETE);
	assert_int_equal(c->spool.delimiter, CONF_DELIM_SEMICOLON);
	assert_non_null(conf_map_find(c, "acme"));
	assert_string_equal(conf_map_find(c, "acme")->column[EF_SKU], "Item No");
	assert_string_equal(conf_map_find(c, "acme")->column[EF_QTY], "Menge");
	assert_null(conf_map_find(c, "acme")->column[EF_BIN]);
	conf_free(c);
}

static void
test_errors_name_file_line_and_key(void **state)
{
	(void)state;
	expect_error("[agent]\nsite_id = X\nsit_id = Y\n", "w.conf:3: [agent] sit_id: unknown key");
	expect_error("[agent]\nsite_id = X\n[journal]\n\nmax_bytes = lots\n",
		     "w.conf:5: [journal] max_bytes: 'lots' is not a size");
	expect_error("[agent]\nsite_id = X\n[journal]\nsynchronous = off\n",
		     "'off' is not one of: full, normal");
	expect_error("[agent]\nsite_id = X\n[agent2]\nk = v\n",
		     "w.conf:4: unknown section [agent2]");
	expect_error("[journal]\nmax_bytes = 1GiB\n", "[agent] site_id is required");
	expect_error("[agent]\nsite_id = a/b\n", "site_id 'a/b'");
	expect_error("[agent]\nsite_id = X\nsite_id = Y\n", "w.conf:3: [agent] site_id: set twice");
	expect_error("[agent]\nsite_id = X\n[journal]\ncommit_records = 0\n", "out of range");
	expect_error("[agent]\nsite_id = X\n[input.spool]\nsettle_ms = 5\n",
		     "[input.spool] dir is required");
	expect_error("[agent]\nsite_id = X\n[input.spool]\ndir = /s\nmap = nope\n",
		     "no [map.nope] section");
	expect_error("[agent]\nsite_id = X\n[map.m]\nitem = Item\n",
		     "w.conf:4: [map.m] item: not a record field");
	expect_error("[agent]\nsite_id = X\nthis line is not ini\n", "w.conf:3");
	expect_error("[agent]\nsite_id = X\n[mqtt]\nhost = localhost\nack_mode = platform\n",
		     "[mqtt] ack_mode = platform needs the platform's key (platform_pubkey)");
	expect_error("[agent]\nsite_id = X\n[mqtt]\nhost = localhost\nack_mode = platform\n"
		     "allow_unsigned_control = true\n",
		     "ack_mode = platform needs the platform's key");
}

/* A string prefix is not an address: 127.mqtt.example.com is not this machine. */
static void
test_loopback_hosts(void **state)
{
	const char *yes[] = {"localhost", "LocalHost",	      "127.0.0.1",	"127.1.2.3",
			     "::1",	  "::ffff:127.0.0.1", "0:0:0:0:0:0:0:1"};
	const char *no[] = {"127.mqtt.example.com",
			    "localhost.example.com",
			    "128.0.0.1",
			    "10.127.0.1",
			    "::2",
			    "::ffff:10.0.0.1",
			    "",
			    "127.0.0.1 ",
			    "127"};

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(conf_host_is_loopback(yes[i]));
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_false(conf_host_is_loopback(no[i]));
	expect_error("[agent]\nsite_id = X\n[mqtt]\nhost = 127.mqtt.example.com\nport = 1883\n",
		     "plain TCP to a broker on another machine is refused");
}

static void
test_missing_file(void **state)
{
	struct conf *c = NULL;
	char err[512];

	(void)state;
	assert_int_equal(conf_load("/nonexistent/w.conf", &c, err, sizeof(err)), WH_ERR_IO);
	assert_non_null(strstr(err, "No such file"));
}

static void
test_allocation_failures(void **state)
{
	const char *text = "[agent]\nsite_id = DC-1\n[input.spool]\ndir = /s\nmap = m\n"
			   "[map.m]\nsku = Item\n";
	struct conf *c;
	char err[512];
	long n;
	wh_err rc = WH_ERR_NOMEM;

	(void)state;
	for (n = 1; n < 200 && rc != WH_OK; n++) {
		c = NULL;
		wh_mem_fail_at(n);
		rc = load(text, &c, err);
		wh_mem_fail_at(0);
		assert_true(rc == WH_OK || rc == WH_ERR_NOMEM);
		if (rc == WH_OK)
			assert_string_equal(c->agent.site_id, "DC-1");
		else
			assert_null(c);
		conf_free(c);
	}
	assert_int_equal(rc, WH_OK);
	assert_true(n > 5); /* several allocation sites were failed on the way */
}

static struct conf *
load_ok(const char *text)
{
	struct conf *c = NULL;
	char err[512];

	if (load(text, &c, err) != WH_OK)
		fail_msg("%s", err);
	return c;
}

/* A reload is refused for exactly the keys the table marks as needing a restart, and for an
 * input section added or removed. */
static void
test_restart_keys(void **state)
{
	static const struct {
		const char *next, *key; /* key NULL: applies */
	} cases[] = {
		{"[agent]\nsite_id = S1\nlog_level = debug\n[input.http]\ntimeout_s = 30\n", NULL},
		{"[agent]\nsite_id = S2\n[input.http]\ntimeout_s = 30\n", "[agent] site_id"},
		{"[agent]\nsite_id = S1\n[input.http]\ntimeout_s = 30\nlisten = 127.0.0.1:9\n",
		 "[input.http] listen"},
		{"[agent]\nsite_id = S1\n[input.http]\ntimeout_s = 30\nmax_body_bytes = 2MiB\n",
		 NULL},
		{"[agent]\nsite_id = S1\n", "[input.http] (the section)"},
		{"[agent]\nsite_id = S1\n[input.http]\ntimeout_s = 30\n[mqtt]\nhost = localhost\n",
		 "[mqtt] host, [mqtt] client_id"}, /* the client id derived from the site */
		{"[agent]\nsite_id = S1\n[input.http]\ntimeout_s = 30\n[mqtt]\nack_mode = "
		 "platform\n",
		 "[mqtt] ack_mode"},
		{"[agent]\nsite_id = S1\n[input.http]\ntimeout_s = 30\n[mqtt]\nlive_share_pct = "
		 "70\n",
		 NULL},
		{"[agent]\nsite_id = S1\n[input.http]\ntimeout_s = 30\n[journal]\nmax_bytes = "
		 "1GiB\n",
		 NULL},
		{"[agent]\nsite_id = S1\n[input.http]\ntimeout_s = 30\n[journal]\nsynchronous = "
		 "normal\n",
		 "[journal] synchronous"},
		{"[agent]\nsite_id = S1\n[input.http]\ntimeout_s = 60\n", "[input.http] timeout_s"},
		{"[agent]\nsite_id = S1\n[input.http]\ntimeout_s = 30\n[mqtt]\ncontrol_max_skew_s "
		 "= 9\nplatform_pubkey = /k1\nplatform_pubkey_next = /k2\n"
		 "allow_unsigned_control = true\n",
		 NULL}, /* the platform keys are re-read on reload */
		{"[agent]\nsite_id = S1\n[input.http]\ntimeout_s = 30\n[mqtt]\nsign_batches = "
		 "true\nkeyfile = /k\nack_mode = platform\nlinger_ms = 5\n",
		 "[mqtt] ack_mode, [mqtt] sign_batches"},
		{"[agent]\nsite_id = S1\n[input.spool]\ndir = /tmp\n",
		 "[input.spool] (the section), "
		 "[input.http] (the section)"},
	};
	struct conf *running = load_ok("[agent]\nsite_id = S1\n[input.http]\ntimeout_s = 30\n");
	char buf[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct conf *next = load_ok(cases[i].next);
		int n = conf_restart_keys(running, next, buf, sizeof(buf));

		if (cases[i].key == NULL && n != 0)
			fail_msg("case %zu: refused for %s", i, buf);
		if (cases[i].key != NULL && (n == 0 || strcmp(buf, cases[i].key) != 0))
			fail_msg("case %zu: %s instead of %s", i, n ? buf : "applied",
				 cases[i].key);
		conf_free(next);
	}
	conf_free(running);
}

/* [input.spool.NAME] sections: the keys of [input.spool] with its defaults, each input's own
 * map, delimiter and decimal; a shared dir, a bad name or an unknown key refused. */
static void
test_named_spools(void **state)
{
	struct conf *c = NULL;
	const struct conf_spool *r;
	struct event_map m;
	char err[512];

	(void)state;
	assert_int_equal(load("[agent]\nsite_id = DC-1\n[input.spool]\ndir = /s/main\n"
			      "[input.spool.returns]\ndir = /s/ret\ndelimiter = semicolon\n"
			      "decimal = comma\nmap = ret\nsource = rms\n"
			      "[input.spool.x_2]\ndir = /s/x\non_done = delete\n"
			      "[map.ret]\nqty = Menge\n",
			      &c, err),
			 WH_OK);
	assert_int_equal(conf_spool_count(c), 3);
	assert_string_equal(conf_spool_at(c, 0)->name, "spool");
	assert_ptr_equal(conf_spool_at(c, 0), &c->spool);
	r = conf_spool_find(c, "spool.returns");
	assert_non_null(r);
	assert_ptr_equal(conf_spool_at(c, 1), r);
	assert_string_equal(r->dir, "/s/ret");
	assert_string_equal(r->done_dir, "/s/ret/done");
	assert_string_equal(r->source, "rms");
	assert_int_equal(r->settle_ms, 2000);
	assert_int_equal(r->rescan_ms, 5000);
	assert_int_equal(r->max_record_bytes, 64 * 1024);
	assert_int_equal(conf_delimiter(r), ';');
	assert_int_equal(conf_delimiter(&c->spool), ',');
	assert_int_equal(conf_spool_find(c, "spool.x_2")->on_done, CONF_DONE_DELETE);
	assert_string_equal(conf_spool_find(c, "spool.x_2")->source, "wms");
	assert_null(conf_spool_find(c, "spool.nope"));
	conf_input_map(c, "spool.returns", &m);
	assert_int_equal(m.decimal, ',');
	conf_input_map(c, "spool", &m);
	assert_int_equal(m.decimal, '.');
	conf_free(c);

	/* a named section alone, without [input.spool] */
	assert_int_equal(load("[agent]\nsite_id = DC-1\n[input.spool.a]\ndir = /a\n", &c, err),
			 WH_OK);
	assert_false(c->spool.enabled);
	assert_int_equal(conf_spool_count(c), 1);
	assert_string_equal(conf_spool_at(c, 0)->name, "spool.a");
	conf_free(c);

	expect_error("[agent]\nsite_id = S\n[input.spool]\ndir = /d\n[input.spool.b]\ndir = /d\n",
		     "[input.spool] and [input.spool.b] have the same dir /d");
	expect_error("[agent]\nsite_id = S\n[input.spool.a]\ndir = /d\n[input.spool.b]\ndir = /d\n",
		     "[input.spool.a] and [input.spool.b] have the same dir");
	expect_error("[agent]\nsite_id = S\n[input.spool.b]\ndir = /d\nfolder = /x\n",
		     ":5: [input.spool.b] folder: unknown key");
	expect_error("[agent]\nsite_id = S\n[input.spool.b]\ndir = /d\nsettle_ms = -1\n",
		     "[input.spool.b] settle_ms: -1 is out of range");
	expect_error("[agent]\nsite_id = S\n[input.spool.b]\nsource = x\n",
		     "[input.spool.b] dir is required");
	expect_error("[agent]\nsite_id = S\n[input.spool.b]\ndir = /d\ndecimal = comma\n",
		     "[input.spool.b] decimal = comma needs a delimiter");
	expect_error("[agent]\nsite_id = S\n[input.spool.a b]\ndir = /d\n",
		     "[input.spool.a b]: the name after input.spool.");
	expect_error("[agent]\nsite_id = S\n[input.spool.b]\ndir = /d\ndir = /e\n",
		     "[input.spool.b] dir: set twice");
	expect_error("[agent]\nsite_id = S\n[input.spool.1]\ndir = /1\n[input.spool.2]\ndir = /2\n"
		     "[input.spool.3]\ndir = /3\n[input.spool.4]\ndir = /4\n[input.spool.5]\ndir = "
		     "/5\n[input.spool.6]\ndir = /6\n[input.spool.7]\ndir = /7\n[input.spool.8]\n"
		     "dir = /8\n[input.spool]\ndir = /0\n",
		     "more than 8 spool inputs");
}

/* A named spool section added or removed, or a restart key of it changed, is refused by
 * name; its other keys apply. */
static void
test_named_spool_restart_keys(void **state)
{
	static const char base[] = "[agent]\nsite_id = S1\n[input.spool.ret]\ndir = /r\n";
	static const struct {
		const char *next, *key; /* key NULL: applies */
	} cases[] = {
		{"[agent]\nsite_id = S1\n[input.spool.ret]\ndir = /r\nsettle_ms = 10\nmap = m\n"
		 "[map.m]\nqty = Q\n",
		 NULL},
		{"[agent]\nsite_id = S1\n[input.spool.ret]\ndir = /r2\n",
		 "[input.spool.ret] dir, [input.spool.ret] done_dir"},
		{"[agent]\nsite_id = S1\n[input.spool.ret]\ndir = /r\nmax_record_bytes = 2KiB\n",
		 "[input.spool.ret] max_record_bytes"},
		{"[agent]\nsite_id = S1\n", "[input.spool.ret] (the section)"},
		{"[agent]\nsite_id = S1\n[input.spool.ret]\ndir = /r\n[input.spool.new]\ndir = "
		 "/n\n",
		 "[input.spool.new] (the section)"},
		{"[agent]\nsite_id = S1\n[input.spool.other]\ndir = /r\n",
		 "[input.spool.other] (the section), [input.spool.ret] (the section)"},
	};
	struct conf *running = load_ok(base);
	char buf[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct conf *next = load_ok(cases[i].next);
		int n = conf_restart_keys(running, next, buf, sizeof(buf));

		if (cases[i].key == NULL && n != 0)
			fail_msg("case %zu: refused for %s", i, buf);
		if (cases[i].key != NULL && (n == 0 || strcmp(buf, cases[i].key) != 0))
			fail_msg("case %zu: %s instead of %s", i, n ? buf : "applied",
				 cases[i].key);
		conf_free(next);
	}
	conf_free(running);
}

/* check warns about secret files others may read, and about missing ones. */
static void
test_secret_files(void **state)
{
	char text[2048], pw[1024], out[4096] = "";
	struct conf *c;
	FILE *f;

	(void)state;
	snprintf(pw, sizeof(pw), "%s", tu_write(dir, "pw", "secret\n"));
	chmod(pw, 0600);
	snprintf(text, sizeof(text),
		 "[agent]\nsite_id = S1\n[mqtt]\nhost = localhost\npassword_file = %s\n"
		 "[input.http]\nhmac_secret_file = %s/absent\n",
		 pw, dir);
	c = load_ok(text);
	f = fmemopen(out, sizeof(out), "w");
	assert_int_equal(conf_check_secrets(c, f), 1); /* the absent one */
	fflush(f);
	assert_non_null(strstr(out, "hmac_secret_file"));
	assert_null(strstr(out, "password_file"));
	fclose(f);
	chmod(pw, 0644);
	memset(out, 0, sizeof(out));
	f = fmemopen(out, sizeof(out), "w");
	assert_int_equal(conf_check_secrets(c, f), 2);
	fflush(f);
	assert_non_null(strstr(out, "[mqtt] password_file"));
	assert_non_null(strstr(out, "chmod 600"));
	fclose(f);
	conf_free(c);
}

static void
test_timezone_decimal(void **state)
{
	struct conf *c = NULL;
	char err[512];

	(void)state;
	expect_error(
		"[agent]\nsite_id = DC-1\n[input.spool]\ndir = /x\ntimezone = Europe/Nowhere\n",
		"[input.spool] timezone = Europe/Nowhere");
	expect_error("[agent]\nsite_id = DC-1\n[input.http]\ntimezone = Mars/Base\n",
		     "[input.http] timezone");
	expect_error("[agent]\nsite_id = DC-1\n[input.spool]\ndir = /x\ndecimal = comma\n",
		     "decimal = comma needs a delimiter");
	assert_int_equal(load("[agent]\nsite_id = DC-1\n[input.spool]\ndir = /x\n"
			      "timezone = Europe/Berlin\ndecimal = comma\ndelimiter = semicolon\n",
			      &c, err),
			 WH_OK);
	assert_string_equal(c->spool.timezone, "Europe/Berlin");
	assert_int_equal(c->spool.decimal, 1);
	conf_free(c);
}

static void
test_value_map_keys(void **state)
{
	struct conf *c = NULL;
	struct event_map m;
	char err[512];

	(void)state;
	expect_error("[agent]\nsite_id = DC-1\n[map.w]\nkind.PK = PACK\n",
		     "'PACK' is not a canonical kind");
	expect_error("[agent]\nsite_id = DC-1\n[map.w]\nqty.X = 1\n",
		     "value maps are for coded fields");
	expect_error("[agent]\nsite_id = DC-1\n[map.w]\nkind. = PICK\n", "the code after '.'");
	expect_error("[agent]\nsite_id = DC-1\n[map.w]\nkind.PK = PICK\nkind.pk = RECEIPT\n",
		     "mapped twice");
	assert_int_equal(
		load("[agent]\nsite_id = DC-1\n[input.spool]\ndir = /x\nmap = w\n"
		     "timezone = UTC\n[map.w]\nkind = Type\nkind.PK = PICK\nuom.STK = EA\n",
		     &c, err),
		WH_OK);
	conf_input_map(c, "spool", &m);
	assert_int_equal(m.nvalues, 2);
	assert_string_equal(m.values[0].code, "PK");
	assert_string_equal(m.values[1].value, "EA");
	assert_true(m.valued[EF_UOM]);
	assert_string_equal(m.column[EF_KIND], "Type");
	assert_string_equal(m.tz, "UTC");
	conf_free(c);
}

/* [input.table.NAME] sections: defaults, each mode's columns required, identifiers that could
 * carry SQL refused, no password in the connection string, a reload refused for a change. */
static void
test_tables(void **state)
{
	static const char base[] = "[agent]\nsite_id = S\n[input.table.wms]\n"
				   "connection = DSN=wms\ntable = inv.tx\nkey_column = id\n";
	struct conf *c = NULL, *next;
	const struct conf_table *t;
	struct event_map m;
	char err[512], text[1024], buf[256];

	(void)state;
	snprintf(text, sizeof(text),
		 "%scursor_column = created_at\nmap = m\ndecimal = comma\n"
		 "[input.table.hs]\nconnection = DSN=wms\ntable = hs\nkey_column = ID\n"
		 "mode = handshake\nstatus_column = FLAG\nstatus_new = 1\n[map.m]\nqty = Q\n",
		 base);
	assert_int_equal(load(text, &c, err), WH_OK);
	assert_int_equal(conf_table_count(c), 2);
	t = conf_table_find(c, "table.wms");
	assert_non_null(t);
	assert_int_equal(t->mode, CONF_TABLE_WATERMARK);
	assert_int_equal(t->lag_s, 30);
	assert_int_equal(t->page_rows, 500);
	assert_string_equal(t->source, "wms");
	t = conf_table_at(c, 1);
	assert_string_equal(t->name, "table.hs");
	assert_int_equal(t->mode, CONF_TABLE_HANDSHAKE);
	assert_string_equal(t->status_new, "1");
	assert_string_equal(t->status_sent, "sent");
	conf_input_map(c, "table.wms", &m);
	assert_int_equal(m.decimal, ',');
	assert_string_equal(m.column[EF_QTY], "Q");
	next = load_ok(text);
	assert_int_equal(conf_restart_keys(c, next, buf, sizeof(buf)), 0);
	conf_free(next);
	snprintf(text, sizeof(text), "%scursor_column = updated_at\n", base);
	next = load_ok(text);
	assert_int_not_equal(conf_restart_keys(c, next, buf, sizeof(buf)), 0);
	assert_non_null(strstr(buf, "[input.table.wms] cursor_column"));
	assert_non_null(strstr(buf, "[input.table.hs] (the section)"));
	conf_free(next);
	conf_free(c);

	snprintf(text, sizeof(text), "%s", base);
	expect_error(text, "[input.table.wms] cursor_column: mode = watermark/handshake needs");
	snprintf(text, sizeof(text), "%scursor_column = a;drop\n", base);
	expect_error(text, "[input.table.wms] cursor_column = a;drop: use a column name");
	snprintf(text, sizeof(text), "%scursor_column = x\nmode = handshake\n", base);
	expect_error(text, "status_column: mode = watermark/handshake needs");
	snprintf(text, sizeof(text), "%scursor_column = \"x\"\n", base);
	expect_error(text, "use a column name");
	expect_error("[agent]\nsite_id = S\n[input.table.w]\nconnection = DSN=w\ntable = "
		     "t x\nkey_column = id\ncursor_column = c\n",
		     "table = t x: use [schema.]name");
	expect_error("[agent]\nsite_id = S\n[input.table.w]\nconnection = DSN=w;PWD=s\ntable = "
		     "t\nkey_column = id\ncursor_column = c\n",
		     "connection holds a password");
	expect_error("[agent]\nsite_id = S\n[input.table.w]\ntable = t\n",
		     "connection, table and key_column are required");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_derived),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_errors_name_file_line_and_key),
		cmocka_unit_test(test_loopback_hosts),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_allocation_failures),
		cmocka_unit_test(test_restart_keys),
		cmocka_unit_test(test_secret_files),
		cmocka_unit_test(test_timezone_decimal),
		cmocka_unit_test(test_value_map_keys),
		cmocka_unit_test(test_named_spools),
		cmocka_unit_test(test_named_spool_restart_keys),
		cmocka_unit_test(test_tables),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
