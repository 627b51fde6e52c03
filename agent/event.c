/* Mapping and validation of input records into canonical events. Every rejection names the
 * column as the WMS calls it and says what would make the value acceptable. */
#include "event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "civil.h"
#include "crypto.h"
#include "record.h"

struct field_def {
	const char *name;
	size_t max_len;
};

static const struct field_def fields[EF_COUNT] = {
	[EF_KIND] = {"kind", 16},
	[EF_TXN_ID] = {"txn_id", 128},
	[EF_EVENT_TIME] = {"event_time", 40},
	[EF_SKU] = {"sku", 64},
	[EF_GTIN] = {"gtin", 14},
	[EF_LOT] = {"lot", 64},
	[EF_SERIAL] = {"serial", 64},
	[EF_EXPIRY] = {"expiry", 10},
	[EF_QTY] = {"qty", 32},
	[EF_UOM] = {"uom", 16},
	[EF_ZONE] = {"zone", 64},
	[EF_BIN] = {"bin", 64},
	[EF_LPN] = {"lpn", 64},
	[EF_TO_ZONE] = {"to_zone", 64},
	[EF_TO_BIN] = {"to_bin", 64},
	[EF_TO_LPN] = {"to_lpn", 64},
	[EF_REASON_CODE] = {"reason_code", 32},
	[EF_ORDER_REF] = {"order_ref", 64},
	[EF_ORDER_LINE] = {"order_line", 32},
	[EF_SHIPMENT_REF] = {"shipment_ref", 64},
	[EF_CARRIER] = {"carrier", 64},
	[EF_TRACKING_REF] = {"tracking_ref", 128},
	[EF_PO_REF] = {"po_ref", 64},
	[EF_TRANSFER_REF] = {"transfer_ref", 64},
	[EF_OPERATOR_ID] = {"operator_id", 64},
	[EF_DEVICE_ID] = {"device_id", 64},
};

static const char *const kind_names[] = {NULL,	       "PICK",	   "RECEIPT",
					 "ADJUSTMENT", "TRANSFER", "SHIPMENT"};
static const char *const biz_steps[] = {NULL,	   "picking", "receiving", "cycle_counting",
					"storing", "shipping"};

int
event_field_from_name(const char *name)
{
	for (int i = 0; i < EF_COUNT; i++)
		if (strcasecmp(name, fields[i].name) == 0)
			return i;
	return -1;
}

const char *
event_field_name(int field)
{
	return field >= 0 && field < EF_COUNT ? fields[field].name : "?";
}

const char *
event_kind_name(enum event_kind kind)
{
	return kind >= EVENT_PICK && kind <= EVENT_SHIPMENT ? kind_names[kind] : "?";
}

const char *
event_biz_step(enum event_kind kind)
{
	return kind >= EVENT_PICK && kind <= EVENT_SHIPMENT ? biz_steps[kind] : "other";
}

_Static_assert(4 * EF_COUNT <= EVENT_MAP_SLOTS, "raise EVENT_MAP_SLOTS");

/* FNV-1a over the name with ASCII letters folded: names equal to strcasecmp hash alike. */
static unsigned
name_hash(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s; s++)
		h = (h ^ ((unsigned char)*s | 0x20)) * 16777619u;
	return h;
}

static const char *
slot_name(const struct event_map *m, int v)
{
	return v % 2 ? fields[v / 2].name : m->column[v / 2];
}

/* Enters name as entry v unless a name equal to it is there already (a lower field wins,
 * and a field's column before its name, as event_map_field's scan did). */
static void
slot_add(struct event_map *m, int v)
{
	const char *name = slot_name(m, v);
	unsigned i = name_hash(name) % EVENT_MAP_SLOTS;

	for (; m->slot[i] >= 0; i = (i + 1) % EVENT_MAP_SLOTS)
		if (strcasecmp(slot_name(m, m->slot[i]), name) == 0)
			return;
	m->slot[i] = (short)v;
}

void
event_map_init(struct event_map *m, char *const *columns)
{
	for (int i = 0; i < EF_COUNT; i++)
		m->column[i] = columns && columns[i] ? columns[i] : fields[i].name;
	memset(m->slot, -1, sizeof(m->slot));
	for (int v = 0; v < 2 * EF_COUNT; v++)
		slot_add(m, v);
	m->tz = NULL;
	m->decimal = '.';
	m->name = NULL;
	m->values = NULL;
	m->nvalues = 0;
	memset(m->valued, 0, sizeof(m->valued));
}

void
event_map_values(struct event_map *m, const char *name, const struct event_value *values,
		 int nvalues)
{
	m->name = name;
	m->values = values;
	m->nvalues = nvalues;
	memset(m->valued, 0, sizeof(m->valued));
	for (int i = 0; i < nvalues; i++)
		if (values[i].field >= 0 && values[i].field < EF_COUNT)
			m->valued[values[i].field] = 1;
}

int
event_value_canonical(int field, const char *value)
{
	if (field != EF_KIND)
		return 1;
	for (int k = EVENT_PICK; k <= EVENT_SHIPMENT; k++)
		if (strcasecmp(value, kind_names[k]) == 0)
			return 1;
	return 0;
}

void
event_id(const char *source, const char *source_key, uint8_t out[EVENT_ID_LEN])
{
	struct crypto_sha256 h;

	crypto_sha256_start(&h);
	crypto_sha256_update(&h, source, strlen(source) + 1); /* with its NUL as separator */
	crypto_sha256_update(&h, source_key, strlen(source_key));
	crypto_sha256_finish(&h, out);
}

int
event_parse_qty(const char *s, int64_t *ret_milli)
{
	return event_parse_qty_sep(s, '.', ret_milli);
}

int
event_parse_qty_sep(const char *s, char point, int64_t *ret_milli)
{
	int64_t v = 0, scale = 1000;
	int neg = 0, digits = 0, frac = -1;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	for (; *s; s++) {
		if (*s == point && frac < 0) {
			frac = 0;
			continue;
		}
		if (*s < '0' || *s > '9' || frac == 3 || v > (INT64_MAX - (*s - '0')) / 10)
			return -1;
		v = v * 10 + (*s - '0');
		digits++;
		if (frac >= 0) {
			frac++;
			scale /= 10;
		}
	}
	if (digits == 0 || frac == 0 || v > INT64_MAX / scale)
		return -1;
	*ret_milli = neg ? -v * scale : v * scale;
	return 0;
}

static int
take_digits(const char **s, int n, int *ret)
{
	int v = 0;

	for (int i = 0; i < n; i++, (*s)++) {
		if (**s < '0' || **s > '9')
			return -1;
		v = v * 10 + (**s - '0');
	}
	*ret = v;
	return 0;
}

static int
days_in_month(int y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

/* YYYY-MM-DD at *s; advances *s. */
static int
parse_date(const char **s, int *y, int *m, int *d)
{
	if (take_digits(s, 4, y) || *(*s)++ != '-' || take_digits(s, 2, m) || *(*s)++ != '-' ||
	    take_digits(s, 2, d))
		return -1;
	if (*m < 1 || *m > 12 || *d < 1 || *d > days_in_month(*y, *m))
		return -1;
	return 0;
}

int
event_zone_known(const char *name)
{
	const char *dir = getenv("TZDIR");
	char path[4200], magic[4];
	FILE *f;
	int ok = 0;

	if (name == NULL || name[0] == '\0' || name[0] == '/' || strlen(name) > 64 ||
	    strstr(name, "..") != NULL)
		return 0;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '/' || *p == '_' || *p == '-' || *p == '+'))
			return 0;
	snprintf(path, sizeof(path), "%s/%s", dir && dir[0] ? dir : "/usr/share/zoneinfo", name);
	f = fopen(path, "rb");
	if (f == NULL)
		return 0;
	ok = fread(magic, 1, 4, f) == 4 && memcmp(magic, "TZif", 4) == 0;
	fclose(f);
	return ok;
}

/* The UTC offset in seconds of zone tz at the instant t. TZ is set to tz only for the call
 * and then put back, so the rest of the process keeps its zone (single-threaded daemon). */
static long
zone_offset(const char *tz, time_t t)
{
	static char saved[4096];
	const char *cur = getenv("TZ");
	int had = cur != NULL, changed = cur == NULL || strcmp(cur, tz) != 0;
	struct tm tm;
	long off = 0;

	if (had)
		snprintf(saved, sizeof(saved), "%s", cur);
	if (changed) {
		setenv("TZ", tz, 1);
		tzset();
	}
	if (localtime_r(&t, &tm) != NULL)
		off = tm.tm_gmtoff;
	if (changed) {
		if (had)
			setenv("TZ", saved, 1);
		else
			unsetenv("TZ");
		tzset();
	}
	return off;
}

long
event_zone_offset_s(const char *tz, time_t t)
{
	struct tm tm;

	if (tz != NULL && tz[0] != '\0')
		return zone_offset(tz, t);
	return localtime_r(&t, &tm) != NULL ? tm.tm_gmtoff : 0;
}

/* The offset (minutes) of the local civil time at `local` (its seconds read as if UTC) in tz.
 * Ambiguous times (the repeated hour when clocks go back) take the earlier instant, the offset
 * in force before the change; times that do not exist (the skipped hour) are -2. The last
 * minute resolved is remembered: a batch of records of one minute switches TZ once. */
static int
resolve_local(const char *tz, int64_t local, int32_t *ret_offset_min)
{
	static char last_tz[72];
	static int64_t last_minute = INT64_MIN;
	static int last_rc;
	static int32_t last_off;
	long before, after, cand[2];
	int rc = -2;

	if (local / 60 == last_minute && strcmp(last_tz, tz) == 0) {
		*ret_offset_min = last_off;
		return last_rc;
	}
	before = zone_offset(tz, (time_t)(local - 86400 - 14 * 3600));
	after = zone_offset(tz, (time_t)(local + 86400 + 14 * 3600));
	/* the earlier instant first: the larger offset */
	cand[0] = after > before ? after : before;
	cand[1] = after > before ? before : after;
	for (int i = 0; i < 2 && rc != 0; i++)
		if (zone_offset(tz, (time_t)(local - cand[i])) == cand[i]) {
			last_off = (int32_t)(cand[i] / 60);
			rc = 0;
		}
	snprintf(last_tz, sizeof(last_tz), "%s", tz);
	last_minute = local / 60;
	last_rc = rc;
	*ret_offset_min = last_off;
	return rc;
}

int
event_parse_time_in(const char *s, const char *tz, int64_t *ret_ms, int32_t *ret_offset_min)
{
	int y, mo, d, h, mi, sec, ms = 0, oh = 0, om = 0, sign = 1, local = 0;

	if (parse_date(&s, &y, &mo, &d) != 0 || (*s != 'T' && *s != 't' && *s != ' '))
		return -1;
	s++;
	if (take_digits(&s, 2, &h) || *s++ != ':' || take_digits(&s, 2, &mi) || *s++ != ':' ||
	    take_digits(&s, 2, &sec) || h > 23 || mi > 59 || sec > 60)
		return -1;
	if (*s == '.') {
		int n = 0;

		for (s++; *s >= '0' && *s <= '9'; s++, n++)
			if (n < 3)
				ms = ms * 10 + (*s - '0');
		if (n == 0)
			return -1;
		for (; n < 3; n++)
			ms *= 10;
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s++ == '-' ? -1 : 1;
		if (take_digits(&s, 2, &oh) || *s++ != ':' || take_digits(&s, 2, &om) || oh > 23 ||
		    om > 59)
			return -1;
	} else if (*s == '\0' && tz != NULL) {
		local = 1;
	} else {
		return -1;
	}
	if (*s != '\0')
		return -1;
	if (sec == 60)
		sec = 59; /* a leap second is kept within its minute */
	if (local) {
		if (resolve_local(tz, civil_seconds(y, mo, d, h, mi, sec), ret_offset_min) != 0)
			return -2;
	} else {
		*ret_offset_min = sign * (oh * 60 + om);
	}
	*ret_ms = (civil_seconds(y, mo, d, h, mi, sec) - (int64_t)*ret_offset_min * 60) * 1000 + ms;
	return 0;
}

int
event_parse_time(const char *s, int64_t *ret_ms, int32_t *ret_offset_min)
{
	return event_parse_time_in(s, NULL, ret_ms, ret_offset_min);
}

static int
valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		int n;
		unsigned cp;

		if (*p < 0x80) {
			p++;
			continue;
		}
		if ((*p & 0xe0) == 0xc0)
			n = 1, cp = *p & 0x1f;
		else if ((*p & 0xf0) == 0xe0)
			n = 2, cp = *p & 0x0f;
		else if ((*p & 0xf8) == 0xf0)
			n = 3, cp = *p & 0x07;
		else
			return 0;
		for (int i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		p += n + 1;
	}
	return 1;
}

static int
valid_gtin(const char *s)
{
	size_t n = strlen(s);
	int sum = 0;

	if (n != 8 && n != 12 && n != 13 && n != 14)
		return 0;
	for (size_t i = 0; i < n; i++) {
		int d = s[n - 1 - i] - '0';

		if (d < 0 || d > 9)
			return 0;
		if (i > 0)
			sum += (i % 2 == 1) ? 3 * d : d;
	}
	return (10 - sum % 10) % 10 == s[n - 1] - '0';
}

static int
has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 && *s != '\t')
			return 1;
	return 0;
}

/* A hash table, not a scan of every field: a JSON record's every key is looked up. */
int
event_map_field(const struct event_map *m, const char *name)
{
	unsigned i = name_hash(name) % EVENT_MAP_SLOTS;

	for (; m->slot[i] >= 0; i = (i + 1) % EVENT_MAP_SLOTS)
		if (strcasecmp(slot_name(m, m->slot[i]), name) == 0)
			return m->slot[i] / 2;
	return -1;
}

/* Places each pair of r in a field or, when no column matches, in the attributes. */
static wh_err
assign(const struct event_map *m, const struct record *r, const int *fieldno, struct event *ev,
       const char **col, char *why, size_t whylen)
{
	for (int i = 0; i < r->n; i++) {
		int f = fieldno ? fieldno[i] : event_map_field(m, r->key[i]);

		if (!valid_utf8(r->key[i]) || !valid_utf8(r->val[i])) {
			snprintf(why, whylen,
				 "column %.64s: not valid UTF-8 (export the file as UTF-8)",
				 r->key[i]);
			return WH_ERR_INVAL;
		}
		if (f >= 0) {
			if (col[f] != NULL) {
				snprintf(why, whylen, "column %.64s appears twice", r->key[i]);
				return WH_ERR_INVAL;
			}
			col[f] = r->key[i];
			ev->f[f] = r->val[i][0] ? r->val[i] : NULL;
			continue;
		}
		if (r->val[i][0] == '\0')
			continue;
		if (ev->nattrs == EVENT_MAX_ATTRS || strlen(r->key[i]) > EVENT_ATTR_KEY_MAX ||
		    strlen(r->val[i]) > EVENT_ATTR_VAL_MAX) {
			snprintf(why, whylen,
				 "column %.64s: extra columns are kept as attributes, at most %d, "
				 "names up to %d and values up to %d characters",
				 r->key[i], EVENT_MAX_ATTRS, EVENT_ATTR_KEY_MAX,
				 EVENT_ATTR_VAL_MAX);
			return WH_ERR_INVAL;
		}
		ev->attr_key[ev->nattrs] = r->key[i];
		ev->attr_val[ev->nattrs++] = r->val[i];
	}
	return WH_OK;
}

static wh_err
missing(const struct event_map *m, int f, const char *kind, char *why, size_t whylen)
{
	int renamed = strcasecmp(m->column[f], fields[f].name) != 0;

	snprintf(why, whylen, "column %s%s%s%s is required%s%s but missing or empty", m->column[f],
		 renamed ? " (or " : "", renamed ? fields[f].name : "", renamed ? ")" : "",
		 kind ? " for " : "", kind ? kind : "");
	return WH_ERR_INVAL;
}

static wh_err
check_kind_rules(const struct event_map *m, struct event *ev, const char **col, char *why,
		 size_t whylen)
{
	const char *kn = event_kind_name(ev->kind);

	if (ev->kind != EVENT_SHIPMENT && ev->f[EF_BIN] == NULL)
		return missing(m, EF_BIN, kn, why, whylen);
	if (ev->kind == EVENT_ADJUSTMENT && ev->f[EF_REASON_CODE] == NULL)
		return missing(m, EF_REASON_CODE, kn, why, whylen);
	if (ev->kind == EVENT_TRANSFER && ev->f[EF_TO_BIN] == NULL)
		return missing(m, EF_TO_BIN, kn, why, whylen);
	if (ev->kind == EVENT_SHIPMENT && ev->f[EF_SHIPMENT_REF] == NULL)
		return missing(m, EF_SHIPMENT_REF, kn, why, whylen);
	if (ev->kind == EVENT_ADJUSTMENT ? ev->qty_milli == 0 : ev->qty_milli <= 0) {
		snprintf(why, whylen, "column %s: '%s' %s", col[EF_QTY], ev->f[EF_QTY],
			 ev->kind == EVENT_ADJUSTMENT
				 ? "must not be zero for ADJUSTMENT (a signed change)"
				 : "must be greater than zero (only ADJUSTMENT is signed)");
		return WH_ERR_INVAL;
	}
	return WH_OK;
}

static wh_err
check_values(const struct event_map *m, struct event *ev, const char **col, char *why,
	     size_t whylen)
{
	static const int required[] = {EF_KIND, EF_TXN_ID, EF_EVENT_TIME, EF_SKU, EF_QTY, EF_UOM};
	int y, mo, d, tr;
	const char *p;

	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (ev->f[required[i]] == NULL)
			return missing(m, required[i], NULL, why, whylen);
	for (int f = 0; f < EF_COUNT; f++) {
		if (ev->f[f] == NULL)
			continue;
		if (strlen(ev->f[f]) > fields[f].max_len) {
			snprintf(why, whylen, "column %.64s: longer than %zu characters", col[f],
				 fields[f].max_len);
			return WH_ERR_INVAL;
		}
		if (has_control(ev->f[f])) {
			snprintf(why, whylen, "column %.64s: contains control characters", col[f]);
			return WH_ERR_INVAL;
		}
	}
	for (int k = EVENT_PICK; k <= EVENT_SHIPMENT; k++)
		if (strcasecmp(ev->f[EF_KIND], kind_names[k]) == 0)
			ev->kind = (enum event_kind)k;
	if (ev->kind == 0) {
		snprintf(why, whylen,
			 "column %s: '%s' is not PICK, RECEIPT, ADJUSTMENT, TRANSFER or SHIPMENT",
			 col[EF_KIND], ev->f[EF_KIND]);
		return WH_ERR_INVAL;
	}
	tr = event_parse_time_in(ev->f[EF_EVENT_TIME], m->tz, &ev->event_time_ms,
				 &ev->event_time_offset_min);
	if (tr == -2) {
		snprintf(why, whylen,
			 "column %s: '%s' does not exist in time zone %s (the clocks skip it at "
			 "the change to summer time); send it with its offset",
			 col[EF_EVENT_TIME], ev->f[EF_EVENT_TIME], m->tz);
		return WH_ERR_INVAL;
	}
	if (tr != 0) {
		snprintf(why, whylen,
			 "column %s: '%s' is not an RFC 3339 time %s "
			 "(like 2026-03-01T14:05:00+01:00%s)",
			 col[EF_EVENT_TIME], ev->f[EF_EVENT_TIME],
			 m->tz ? "(the offset may be left out: timezone is set)"
			       : "with zone offset",
			 m->tz ? " or 2026-03-01 14:05:00" : "");
		return WH_ERR_INVAL;
	}
	if (event_parse_qty_sep(ev->f[EF_QTY], m->decimal, &ev->qty_milli) != 0) {
		snprintf(why, whylen,
			 "column %s: '%s' is not a decimal number (digits, optional '%c' and up to "
			 "3 decimals, no thousands separators)",
			 col[EF_QTY], ev->f[EF_QTY], m->decimal);
		return WH_ERR_INVAL;
	}
	p = ev->f[EF_EXPIRY];
	if (p != NULL && (parse_date(&p, &y, &mo, &d) != 0 || *p != '\0')) {
		snprintf(why, whylen, "column %s: '%s' is not a date YYYY-MM-DD", col[EF_EXPIRY],
			 ev->f[EF_EXPIRY]);
		return WH_ERR_INVAL;
	}
	if (ev->f[EF_GTIN] != NULL && !valid_gtin(ev->f[EF_GTIN])) {
		snprintf(why, whylen,
			 "column %s: '%s' is not a GTIN (8, 12, 13 or 14 digits with a valid "
			 "check digit)",
			 col[EF_GTIN], ev->f[EF_GTIN]);
		return WH_ERR_INVAL;
	}
	return check_kind_rules(m, ev, col, why, whylen);
}

/* The known codes of field in m, "A, B, C" (cut short with "..."), into buf. */
static void
known_codes(const struct event_map *m, int field, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < m->nvalues; i++) {
		int n;

		if (m->values[i].field != field)
			continue;
		if (used + strlen(m->values[i].code) + 8 > len) {
			snprintf(buf + used, len - used, "%s...", used ? ", " : "");
			return;
		}
		n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", m->values[i].code);
		used += (size_t)n;
	}
}

/* Replaces the WMS's codes by their canonical values; a kind that is neither a code of the
 * map nor a canonical kind is refused with the codes the map knows. */
static wh_err
map_values(const struct event_map *m, struct event *ev, const char **col, char *why, size_t whylen)
{
	char known[160];

	for (int f = 0; f < EF_COUNT; f++) {
		int hit = 0;

		if (!m->valued[f] || ev->f[f] == NULL || has_control(ev->f[f]))
			continue; /* control characters: check_values refuses it */
		for (int i = 0; i < m->nvalues && !hit; i++)
			if (m->values[i].field == f &&
			    strcasecmp(ev->f[f], m->values[i].code) == 0) {
				ev->f[f] = m->values[i].value;
				hit = 1;
			}
		if (!hit && !event_value_canonical(f, ev->f[f])) {
			known_codes(m, f, known, sizeof(known));
			snprintf(why, whylen,
				 "column %.64s: '%.64s' is not a %s code of [map.%s] (known: %s) "
				 "nor one of PICK, RECEIPT, ADJUSTMENT, TRANSFER, SHIPMENT; add "
				 "%s.%.64s = KIND there",
				 col[f], ev->f[f], fields[f].name, m->name ? m->name : "?", known,
				 fields[f].name, ev->f[f]);
			return WH_ERR_INVAL;
		}
	}
	return WH_OK;
}

wh_err
event_from_record(const struct event_map *m, const struct record *r, const int *fieldno,
		  struct event *ret_ev, char *why, size_t whylen)
{
	const char *col[EF_COUNT] = {0};
	wh_err rc;

	memset(ret_ev, 0, sizeof(*ret_ev));
	rc = assign(m, r, fieldno, ret_ev, col, why, whylen);
	if (rc == WH_OK && m->nvalues > 0)
		rc = map_values(m, ret_ev, col, why, whylen);
	if (rc == WH_OK)
		rc = check_values(m, ret_ev, col, why, whylen);
	return rc;
}
