/* Event mapping, validation, ids and encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "codec.h"
#include "crypto.h"
#include "event.h"
#include "mem.h"
#include "ledger.h"
#include "record.h"
#include "whagent/v1/event.pb-c.h"

/* Builds a record from "key=value" strings. */
static void
rec(struct record *r, const char *const *kv)
{
	static char store[64][128];

	record_done(r);
	for (int i = 0; kv[i] != NULL; i++) {
		char *eq;

		snprintf(store[i], sizeof(store[i]), "%s", kv[i]);
		eq = strchr(store[i], '=');
		*eq = '\0';
		r->key[r->n] = store[i];
		r->val[r->n++] = eq + 1;
	}
}

#define BASE "txn_id=T1", "event_time=2026-03-01T14:05:00+01:00", "sku=SKU-1", "uom=EA"

static wh_err
validate(const char *const *kv, struct event *ev, char *why)
{
	struct event_map m;
	struct record r;

	record_init(&r);
	event_map_init(&m, NULL);
	rec(&r, kv);
	return event_from_record(&m, &r, NULL, ev, why, 320);
}

static void
expect_invalid(const char *const *kv, const char *fragment)
{
	struct event ev;
	char why[320] = "";

	assert_int_equal(validate(kv, &ev, why), WH_ERR_INVAL);
	if (strstr(why, fragment) == NULL)
		fail_msg("reason '%s' does not contain '%s'", why, fragment);
}

static void
test_every_kind_valid(void **state)
{
	const char *pick[] = {"kind=pick", BASE, "qty=2", "bin=A-01", "color=red", NULL};
	const char *rcpt[] = {"kind=RECEIPT", BASE, "qty=10.5", "bin=R", "po_ref=PO1", NULL};
	const char *adj[] = {"kind=Adjustment", BASE, "qty=-1.25", "bin=A",
			     "reason_code=DMG", NULL};
	const char *xfer[] = {"kind=TRANSFER", BASE, "qty=3", "bin=A", "to_bin=B", NULL};
	const char *ship[] = {"kind=SHIPMENT", BASE, "qty=1", "shipment_ref=S1", NULL};
	struct event ev;
	char why[320];

	(void)state;
	assert_int_equal(validate(pick, &ev, why), WH_OK);
	assert_int_equal(ev.kind, EVENT_PICK);
	assert_int_equal(ev.qty_milli, 2000);
	assert_int_equal(ev.event_time_offset_min, 60);
	assert_int_equal(ev.event_time_ms, 1772370300000LL); /* 2026-03-01T13:05:00Z */
	assert_int_equal(ev.nattrs, 1);
	assert_string_equal(ev.attr_key[0], "color");
	assert_int_equal(validate(rcpt, &ev, why), WH_OK);
	assert_int_equal(ev.qty_milli, 10500);
	assert_int_equal(validate(adj, &ev, why), WH_OK);
	assert_int_equal(ev.qty_milli, -1250);
	assert_int_equal(validate(xfer, &ev, why), WH_OK);
	assert_int_equal(validate(ship, &ev, why), WH_OK);
	assert_int_equal(ev.kind, EVENT_SHIPMENT);
}

static void
test_rules_per_kind(void **state)
{
	(void)state;
	expect_invalid((const char *[]){"kind=PICK", BASE, "qty=1", NULL},
		       "column bin is required for PICK");
	expect_invalid((const char *[]){"kind=ADJUSTMENT", BASE, "qty=1", "bin=A", NULL},
		       "column reason_code is required for ADJUSTMENT");
	expect_invalid(
		(const char *[]){"kind=ADJUSTMENT", BASE, "qty=0", "bin=A", "reason_code=X", NULL},
		"must not be zero");
	expect_invalid((const char *[]){"kind=PICK", BASE, "qty=-1", "bin=A", NULL},
		       "must be greater than zero");
	expect_invalid((const char *[]){"kind=TRANSFER", BASE, "qty=1", "bin=A", NULL},
		       "column to_bin is required for TRANSFER");
	expect_invalid((const char *[]){"kind=SHIPMENT", BASE, "qty=1", NULL},
		       "column shipment_ref is required for SHIPMENT");
	expect_invalid((const char *[]){"kind=SCRAP", BASE, "qty=1", "bin=A", NULL},
		       "'SCRAP' is not PICK");
	expect_invalid((const char *[]){"kind=PICK", "txn_id=T", "event_time=2026-03-01T14:05:00Z",
					"uom=EA", "qty=1", "bin=A", NULL},
		       "column sku is required but missing");
}

static void
test_value_formats(void **state)
{
	(void)state;
	expect_invalid((const char *[]){"kind=PICK", BASE, "qty=12,5", "bin=A", NULL},
		       "column qty: '12,5' is not a decimal number");
	expect_invalid((const char *[]){"kind=PICK", BASE, "qty=1.2345", "bin=A", NULL},
		       "not a decimal number");
	expect_invalid((const char *[]){"kind=PICK", "txn_id=T", "event_time=2026-03-01 14:05:00",
					"sku=S", "uom=EA", "qty=1", "bin=A", NULL},
		       "zone offset");
	expect_invalid(
		(const char *[]){"kind=PICK", BASE, "qty=1", "bin=A", "gtin=4006381333932", NULL},
		"not a GTIN");
	expect_invalid(
		(const char *[]){"kind=PICK", BASE, "qty=1", "bin=A", "expiry=2026-02-30", NULL},
		"not a date");
	expect_invalid((const char *[]){"kind=PICK", BASE, "qty=1", "bin=A", "lot=\xff\xfe", NULL},
		       "not valid UTF-8");
	expect_invalid((const char *[]){"kind=PICK", BASE, "qty=1", "bin=A", "BIN=B", NULL},
		       "appears twice");
	expect_invalid((const char *[]){"kind=PICK", "txn_id=T", "event_time=2026-03-01T14:05:00Z",
					"sku=S", "uom=EACH-OF-SOMETHING-LONG", "qty=1", "bin=A",
					NULL},
		       "column uom: longer than 16 characters");
}

static void
test_valid_gtin_and_expiry(void **state)
{
	const char *kv[] = {"kind=PICK",	 BASE, "qty=1", "bin=A", "gtin=4006381333931",
			    "expiry=2028-02-29", NULL};
	struct event ev;
	char why[320];

	(void)state;
	assert_int_equal(validate(kv, &ev, why), WH_OK);
}

static void
test_qty_parsing(void **state)
{
	static const struct {
		const char *text;
		int ok;
		int64_t milli;
	} cases[] = {{"12", 1, 12000},
		     {"12.5", 1, 12500},
		     {"-1.25", 1, -1250},
		     {"0.001", 1, 1},
		     {"+3", 1, 3000},
		     {".5", 1, 500},
		     {"12,5", 0, 0},
		     {"1.2345", 0, 0},
		     {"", 0, 0},
		     {".", 0, 0},
		     {"1e3", 0, 0},
		     {"12.", 0, 0},
		     {"1 000", 0, 0},
		     {"99999999999999999", 0, 0},
		     {"9223372036854775.807", 1, INT64_MAX},
		     {"9223372036854776", 0, 0}};
	int64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = event_parse_qty(cases[i].text, &v);

		if ((rc == 0) != cases[i].ok)
			fail_msg("qty '%s': expected %s", cases[i].text,
				 cases[i].ok ? "ok" : "error");
		if (cases[i].ok)
			assert_int_equal(v, cases[i].milli);
	}
}

static void
test_time_parsing(void **state)
{
	int64_t ms;
	int32_t off;

	(void)state;
	assert_int_equal(event_parse_time("1970-01-01T00:00:00Z", &ms, &off), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(event_parse_time("2026-03-01T14:05:00.25-05:30", &ms, &off), 0);
	assert_int_equal(off, -330);
	assert_int_equal(ms, 1772393700250LL);
	assert_int_equal(event_parse_time("2024-02-29T23:59:59Z", &ms, &off), 0);
	assert_int_equal(event_parse_time("2023-02-29T00:00:00Z", &ms, &off), -1);
	assert_int_equal(event_parse_time("2026-03-01T24:00:00Z", &ms, &off), -1);
	assert_int_equal(event_parse_time("2026-03-01T14:05:00", &ms, &off), -1);
	assert_int_equal(event_parse_time("2026-03-01T14:05:00Zjunk", &ms, &off), -1);
}

static void
test_time_in_zone(void **state)
{
	int64_t ms;
	int32_t off;

	(void)state;
	/* winter: CET +01:00 */
	assert_int_equal(event_parse_time_in("2026-01-15 08:00:00", "Europe/Berlin", &ms, &off), 0);
	assert_int_equal(off, 60);
	assert_int_equal(ms, 1768460400000LL);
	/* summer: CEST +02:00 */
	assert_int_equal(event_parse_time_in("2026-07-01T12:00:00", "Europe/Berlin", &ms, &off), 0);
	assert_int_equal(off, 120);
	assert_int_equal(ms, 1782900000000LL);
	/* an explicit offset wins over the zone */
	assert_int_equal(event_parse_time_in("2026-07-01T12:00:00Z", "Europe/Berlin", &ms, &off),
			 0);
	assert_int_equal(off, 0);
	/* skipped hour (2026-03-29 02:00 -> 03:00) does not exist */
	assert_int_equal(event_parse_time_in("2026-03-29 02:30:00", "Europe/Berlin", &ms, &off),
			 -2);
	assert_int_equal(event_parse_time_in("2026-03-29 03:00:00", "Europe/Berlin", &ms, &off), 0);
	assert_int_equal(off, 120);
	/* repeated hour (2026-10-25 03:00 -> 02:00): the earlier instant, CEST */
	assert_int_equal(event_parse_time_in("2026-10-25 02:30:00", "Europe/Berlin", &ms, &off), 0);
	assert_int_equal(off, 120);
	assert_int_equal(ms, 1792888200000LL);
	assert_int_equal(event_parse_time_in("2026-10-25 03:30:00", "Europe/Berlin", &ms, &off), 0);
	assert_int_equal(off, 60);
	/* southern hemisphere and a half-hour zone */
	assert_int_equal(
		event_parse_time_in("2026-01-15 08:00:00", "Australia/Adelaide", &ms, &off), 0);
	assert_int_equal(off, 630);
	/* no zone: an offset is still required; TZ of the process is left alone */
	assert_int_equal(event_parse_time_in("2026-01-15 08:00:00", NULL, &ms, &off), -1);
	assert_null(getenv("TZ"));
	assert_true(event_zone_known("Europe/Berlin"));
	assert_true(event_zone_known("UTC"));
	assert_false(event_zone_known("Europe/Nowhere"));
	assert_false(event_zone_known("../../etc/passwd"));
	assert_false(event_zone_known("/etc/localtime"));
	assert_false(event_zone_known(""));
}

static void
test_qty_decimal_comma(void **state)
{
	int64_t v;

	(void)state;
	assert_int_equal(event_parse_qty_sep("12,5", ',', &v), 0);
	assert_int_equal(v, 12500);
	assert_int_equal(event_parse_qty_sep("-0,125", ',', &v), 0);
	assert_int_equal(v, -125);
	assert_int_equal(event_parse_qty_sep("12.5", ',', &v), -1);
	assert_int_equal(event_parse_qty_sep("1.000,5", ',', &v), -1);
	assert_int_equal(event_parse_qty_sep("12,5", '.', &v), -1);
}

/* The name table finds what a scan of every field in order finds: the first field whose
 * column or own name is the key, any case; renamed columns may take another field's name. */
static void
test_map_field_lookup(void **state)
{
	char *columns[EF_COUNT] = {0};
	const char *extra[] = {"Location", "BIN", "zone",    "ZONE",   "Qty",	 "missing",
			       "",	   "x",	  "txn_id ", "TXN_ID", "Artikel"};
	struct event_map m;

	(void)state;
	columns[EF_BIN] = "Location";
	columns[EF_ZONE] = "bin"; /* zone read from a column called bin */
	columns[EF_SKU] = "Artikel";
	columns[EF_LOT] = "artikel"; /* the same as sku's: sku, the first, wins */
	event_map_init(&m, columns);
	for (int n = 0; n < 2 * EF_COUNT + (int)(sizeof(extra) / sizeof(extra[0])); n++) {
		const char *name = n < EF_COUNT	      ? event_field_name(n)
				   : n < 2 * EF_COUNT ? m.column[n - EF_COUNT]
						      : extra[n - 2 * EF_COUNT];
		int want = -1;

		for (int k = 0; k < EF_COUNT && want < 0; k++)
			if (strcasecmp(name, m.column[k]) == 0 ||
			    strcasecmp(name, event_field_name(k)) == 0)
				want = k;
		if (event_map_field(&m, name) != want)
			fail_msg("%s: field %d, the scan %d", name, event_map_field(&m, name),
				 want);
	}
	assert_int_equal(event_map_field(&m, "BIN"), EF_ZONE);
	assert_int_equal(event_map_field(&m, "location"), EF_BIN);
	assert_int_equal(event_map_field(&m, "ARTIKEL"), EF_SKU);
}

static void
test_value_maps(void **state)
{
	struct event_value values[] = {
		{EF_KIND, "PK", "PICK"}, {EF_KIND, "RC", "RECEIPT"}, {EF_UOM, "STK", "EA"}};
	const char *kv[] = {"kind=pk", "txn_id=1", "event_time=2026-03-01T14:05:00Z",
			    "sku=S",   "qty=1",	   "uom=STK",
			    "bin=A",   NULL,	   NULL};
	struct event_map m;
	struct record r;
	struct event ev;
	char why[320];

	(void)state;
	event_map_init(&m, NULL);
	event_map_values(&m, "wms", values, 3);
	record_init(&r);
	rec(&r, kv);
	assert_int_equal(event_from_record(&m, &r, NULL, &ev, why, sizeof(why)), WH_OK);
	assert_int_equal(ev.kind, EVENT_PICK);
	assert_string_equal(ev.f[EF_UOM], "EA");
	/* canonical kinds still pass, other uoms pass unchanged */
	kv[0] = "kind=RECEIPT";
	kv[5] = "uom=KG";
	rec(&r, kv);
	assert_int_equal(event_from_record(&m, &r, NULL, &ev, why, sizeof(why)), WH_OK);
	assert_int_equal(ev.kind, EVENT_RECEIPT);
	assert_string_equal(ev.f[EF_UOM], "KG");
	/* an unknown code: the reason lists the known ones */
	kv[0] = "kind=XX";
	rec(&r, kv);
	assert_int_equal(event_from_record(&m, &r, NULL, &ev, why, sizeof(why)), WH_ERR_INVAL);
	if (strstr(why, "'XX' is not a kind code of [map.wms] (known: PK, RC)") == NULL)
		fail_msg("reason: %s", why);
	record_done(&r);
}

static void
test_mapping_renames_columns(void **state)
{
	char *columns[EF_COUNT] = {0};
	const char *kv[] = {"Type=PICK", "TxnNo=77", "event_time=2026-03-01T14:05:00Z",
			    "ItemNo=S",	 "qty=1",    "uom=EA",
			    "slot=A",	 NULL,	     NULL};
	struct event_map m;
	struct record r;
	struct event ev;
	char why[320];

	(void)state;
	columns[EF_KIND] = "type";
	columns[EF_TXN_ID] = "TxnNo";
	columns[EF_SKU] = "itemno";
	columns[EF_BIN] = "Slot";
	event_map_init(&m, columns);
	record_init(&r);
	rec(&r, kv);
	assert_int_equal(event_from_record(&m, &r, NULL, &ev, why, sizeof(why)), WH_OK);
	assert_string_equal(ev.f[EF_TXN_ID], "77");
	assert_string_equal(ev.f[EF_SKU], "S");
	assert_string_equal(ev.f[EF_BIN], "A");
	assert_int_equal(ev.nattrs, 0);
	/* the reason names the WMS's column, not the canonical field */
	kv[4] = "qty=x";
	rec(&r, kv);
	assert_int_equal(event_from_record(&m, &r, NULL, &ev, why, sizeof(why)), WH_ERR_INVAL);
	assert_non_null(strstr(why, "column qty: 'x'"));
	kv[0] = "kind=PICK"; /* the canonical name is still read */
	kv[4] = "qty=1";
	rec(&r, kv);
	assert_int_equal(event_from_record(&m, &r, NULL, &ev, why, sizeof(why)), WH_OK);
	kv[0] = "lot=L1";
	rec(&r, kv);
	assert_int_equal(event_from_record(&m, &r, NULL, &ev, why, sizeof(why)), WH_ERR_INVAL);
	assert_non_null(strstr(why, "column type (or kind) is required"));
	kv[0] = "kind=PICK";
	kv[7] = "txn_id=78"; /* both names in one record: ambiguous */
	rec(&r, kv);
	assert_int_equal(event_from_record(&m, &r, NULL, &ev, why, sizeof(why)), WH_ERR_INVAL);
	assert_non_null(strstr(why, "appears twice"));
}

static void
test_event_id_is_deterministic(void **state)
{
	uint8_t a[EVENT_ID_LEN], b[EVENT_ID_LEN];
	char hex[2 * EVENT_ID_LEN + 1];

	(void)state;
	event_id("wms", "T1", a);
	crypto_hex(a, sizeof(a), hex);
	/* python3 -c "import hashlib;print(hashlib.sha256(b'wms\x00T1').hexdigest())" */
	assert_string_equal(hex,
			    "34d97e5bd53f5380f26643133cee27d04b40a26fe33417ad30e4193cd3a52b8d");
	event_id("wms2", "T1", b);
	assert_memory_not_equal(a, b, sizeof(a));
}

static void
test_codec_round_trip(void **state)
{
	const char *kv[] = {"kind=TRANSFER", BASE,	   "qty=3.5",	      "bin=A",	"to_bin=B",
			    "lot=L1",	     "serial=SN1", "operator_id=op7", "dock=4", NULL};
	Whagent__V1__Event *e;
	Whagent__V1__InventoryEvent *inv;
	struct event ev;
	uint8_t id[EVENT_ID_LEN], *buf = NULL;
	size_t len = 0;
	char why[320];

	(void)state;
	assert_int_equal(validate(kv, &ev, why), WH_OK);
	event_id("wms", "T1", id);
	assert_int_equal(codec_event_encode(&ev, "wms", id, 42, 1000, &buf, &len), WH_OK);
	e = whagent__v1__event__unpack(NULL, len, buf);
	assert_non_null(e);
	assert_int_equal(e->body_case, WHAGENT__V1__EVENT__BODY_INVENTORY);
	inv = e->inventory;
	assert_int_equal(inv->header->seq, 42);
	assert_int_equal(inv->header->kind, WHAGENT__V1__EVENT_KIND__EVENT_KIND_TRANSFER);
	assert_string_equal(inv->header->biz_step, "storing");
	assert_string_equal(inv->header->source_key, "T1");
	assert_int_equal(inv->header->event_id.len, 32);
	assert_memory_equal(inv->header->event_id.data, id, 32);
	assert_int_equal(inv->quantity->milli, 3500);
	assert_string_equal(inv->destination->bin, "B");
	assert_string_equal(inv->item->serials[0], "SN1");
	assert_string_equal(inv->header->attributes[0]->key, "dock");
	whagent__v1__event__free_unpacked(e, NULL);
	wh_free(buf);

	wh_mem_fail_at(1);
	assert_int_equal(codec_event_encode(&ev, "wms", id, 42, 1000, &buf, &len), WH_ERR_NOMEM);
	wh_mem_fail_at(0);
}

/* Each kind moves stock as ledger.h says: the location is the bin, picks go to to_bin or the
 * staging location, shipments leave from their bin or staging. */
static void
expect_delta(const struct ledger_delta *d, const char *location, const char *lot, int64_t milli)
{
	assert_string_equal(d->sku, "SKU-1");
	assert_string_equal(d->location, location);
	assert_string_equal(d->lot, lot);
	assert_string_equal(d->uom, "EA");
	assert_int_equal(d->milli, milli);
}

static void
test_ledger_rules(void **state)
{
	const char *rcpt[] = {"kind=receipt", BASE, "qty=10", "bin=R1", "lot=L7", NULL};
	const char *pick[] = {"kind=pick", BASE, "qty=2", "bin=A1", NULL};
	const char *pick_to[] = {"kind=pick", BASE, "qty=2", "bin=A1", "to_bin=S9", NULL};
	const char *ship[] = {"kind=shipment", BASE, "qty=1.5", "shipment_ref=S1", NULL};
	const char *ship_bin[] = {"kind=shipment",   BASE, "qty=1", "bin=DOCK",
				  "shipment_ref=S1", NULL};
	const char *xfer[] = {"kind=transfer", BASE, "qty=3", "bin=A1", "to_bin=B2", NULL};
	const char *adj[] = {"kind=adjustment", BASE, "qty=-0.25", "bin=A1",
			     "reason_code=DMG", NULL};
	struct ledger_rules rules = {"STG", 0}, from_staging = {"STG", 1};
	struct ledger_delta d[LEDGER_MAX_DELTAS];
	struct event ev;
	char why[320];

	(void)state;
	assert_int_equal(validate(rcpt, &ev, why), WH_OK);
	assert_int_equal(ledger_deltas(&ev, &rules, d), 1);
	expect_delta(&d[0], "R1", "L7", 10000);
	assert_int_equal(validate(pick, &ev, why), WH_OK);
	assert_int_equal(ledger_deltas(&ev, &rules, d), 2);
	expect_delta(&d[0], "A1", "", -2000);
	expect_delta(&d[1], "STG", "", 2000);
	assert_int_equal(validate(pick_to, &ev, why), WH_OK);
	assert_int_equal(ledger_deltas(&ev, &rules, d), 2);
	expect_delta(&d[1], "S9", "", 2000);
	assert_int_equal(validate(ship, &ev, why), WH_OK);
	assert_int_equal(ledger_deltas(&ev, &rules, d), 1);
	expect_delta(&d[0], "STG", "", -1500);
	assert_int_equal(validate(ship_bin, &ev, why), WH_OK);
	assert_int_equal(ledger_deltas(&ev, &rules, d), 1);
	expect_delta(&d[0], "DOCK", "", -1000);
	assert_int_equal(ledger_deltas(&ev, &from_staging, d), 1); /* shipment_from = staging */
	expect_delta(&d[0], "STG", "", -1000);
	assert_int_equal(validate(xfer, &ev, why), WH_OK);
	assert_int_equal(ledger_deltas(&ev, &rules, d), 2);
	expect_delta(&d[0], "A1", "", -3000);
	expect_delta(&d[1], "B2", "", 3000);
	assert_int_equal(validate(adj, &ev, why), WH_OK);
	assert_int_equal(ledger_deltas(&ev, &rules, d), 1);
	expect_delta(&d[0], "A1", "", -250);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_kind_valid),
		cmocka_unit_test(test_map_field_lookup),
		cmocka_unit_test(test_rules_per_kind),
		cmocka_unit_test(test_value_formats),
		cmocka_unit_test(test_valid_gtin_and_expiry),
		cmocka_unit_test(test_qty_parsing),
		cmocka_unit_test(test_time_parsing),
		cmocka_unit_test(test_mapping_renames_columns),
		cmocka_unit_test(test_event_id_is_deterministic),
		cmocka_unit_test(test_codec_round_trip),
		cmocka_unit_test(test_ledger_rules),
		cmocka_unit_test(test_time_in_zone),
		cmocka_unit_test(test_qty_decimal_comma),
		cmocka_unit_test(test_value_maps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
