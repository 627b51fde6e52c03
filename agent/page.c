/* The status page: the journal's part of its document (newest quarantine entries, last
 * events decoded) and the HTML, built in a growing buffer with every outside text escaped. */
#include "page.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "event.h"
#include "journal.h"
#include "journal_event.h"
#include "journal_quarantine.h"
#include "log.h"
#include "mem.h"

extern const char page_css[], page_js[];

struct sb {
	char *buf;
	size_t len, cap;
	int oom;
};

static void
sb_grow(struct sb *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 8192;
	char *p;

	if (b->oom || b->len + n + 1 <= b->cap)
		return;
	while (cap < b->len + n + 1)
		cap *= 2;
	if ((p = wh_realloc(b->buf, cap)) == NULL) {
		b->oom = 1;
		return;
	}
	b->buf = p;
	b->cap = cap;
}

static void
sb_put(struct sb *b, const char *s, size_t n)
{
	sb_grow(b, n);
	if (b->oom)
		return;
	memcpy(b->buf + b->len, s, n);
	b->len += n;
	b->buf[b->len] = '\0';
}

static void sb_printf(struct sb *b, const char *fmt, ...) WH_PRINTF(2, 3);

static void
sb_printf(struct sb *b, const char *fmt, ...)
{
	char small[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	sb_put(b, small, (size_t)n < sizeof(small) ? (size_t)n : sizeof(small) - 1);
}

/* Text from outside, escaped for HTML text and attribute values. */
static void
sb_esc(struct sb *b, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		switch (*s) {
		case '&':
			sb_put(b, "&amp;", 5);
			break;
		case '<':
			sb_put(b, "&lt;", 4);
			break;
		case '>':
			sb_put(b, "&gt;", 4);
			break;
		case '"':
			sb_put(b, "&quot;", 6);
			break;
		case '\'':
			sb_put(b, "&#39;", 5);
			break;
		default:
			sb_put(b, s, 1);
		}
	}
}

char *
page_escape(const char *s)
{
	struct sb b = {0};

	sb_put(&b, "", 0);
	sb_esc(&b, s);
	if (b.oom) {
		wh_free(b.buf);
		return NULL;
	}
	return b.buf;
}

/* --- the journal's part ------------------------------------------------------------------ */

struct qlist {
	struct journal *j;
	int64_t ids[PAGE_QUARANTINE_ROWS]; /* the newest, a ring */
	int n, head;
};

static void
on_quarantined(const struct journal_quarantined *q, void *arg)
{
	struct qlist *l = arg;

	l->ids[l->head] = q->id;
	l->head = (l->head + 1) % PAGE_QUARANTINE_ROWS;
	if (l->n < PAGE_QUARANTINE_ROWS)
		l->n++;
}

/* Raw bytes as text: valid UTF-8 is not checked here (cJSON escapes control characters;
 * the page escapes markup); NUL and other control bytes become '.', truncated. */
static void
on_entry(const struct journal_quarantined *q, void *arg)
{
	cJSON *o = cJSON_CreateObject(), *arr = arg;
	char raw[PAGE_RAW_BYTES + 4];
	size_t n = q->raw_len < PAGE_RAW_BYTES ? q->raw_len : PAGE_RAW_BYTES;
	const unsigned char *p = q->raw;

	for (size_t i = 0; i < n; i++)
		raw[i] = p[i] < 0x20 && p[i] != '\t' ? '.' : (char)p[i];
	memcpy(raw + n, q->raw_len > n ? "..." : "", q->raw_len > n ? 4 : 1);
	cJSON_AddNumberToObject(o, "id", (double)q->id);
	cJSON_AddNumberToObject(o, "received_at_ms", (double)q->received_at_ms);
	cJSON_AddStringToObject(o, "input", q->input ? q->input : "");
	cJSON_AddStringToObject(o, "position", q->position ? q->position : "");
	cJSON_AddStringToObject(o, "reason", q->reason ? q->reason : "");
	cJSON_AddStringToObject(o, "raw", raw);
	cJSON_AddItemToArray(arr, o);
}

static void
on_event(uint64_t seq, const uint8_t *payload, size_t len, void *arg)
{
	struct codec_event_summary s;
	cJSON *o, *arr = arg;
	char qty[48];

	if (codec_event_summary(payload, len, &s) != WH_OK)
		return;
	o = cJSON_CreateObject();
	snprintf(qty, sizeof(qty), "%s%" PRId64 ".%03" PRId64, s.qty_milli < 0 ? "-" : "",
		 (s.qty_milli < 0 ? -s.qty_milli : s.qty_milli) / 1000,
		 (s.qty_milli < 0 ? -s.qty_milli : s.qty_milli) % 1000);
	cJSON_AddNumberToObject(o, "seq", (double)seq);
	cJSON_AddStringToObject(o, "kind",
				s.kind >= EVENT_PICK && s.kind <= EVENT_SHIPMENT
					? event_kind_name((enum event_kind)s.kind)
					: "?");
	cJSON_AddStringToObject(o, "txn_id", s.source_key);
	cJSON_AddStringToObject(o, "sku", s.sku);
	cJSON_AddStringToObject(o, "qty", qty);
	cJSON_AddStringToObject(o, "uom", s.uom);
	cJSON_AddStringToObject(o, "location", s.location);
	cJSON_AddNumberToObject(o, "event_time_ms", (double)s.event_time_ms);
	cJSON_AddNumberToObject(o, "captured_at_ms", (double)s.captured_at_ms);
	cJSON_AddItemToArray(arr, o);
}

wh_err
page_add_journal(struct journal *j, cJSON *o)
{
	struct qlist l = {.j = j};
	cJSON *q = cJSON_AddArrayToObject(o, "quarantine"),
	      *r = cJSON_AddArrayToObject(o, "recent");
	const cJSON *last = cJSON_GetObjectItemCaseSensitive(o, "last_seq");
	uint64_t first = 0, after;
	int got = 0;
	wh_err err;

	if (q == NULL || r == NULL)
		return WH_ERR_NOMEM;
	/* the list is in id order; the newest are kept (the page shows a bounded part) */
	if ((err = journal_quarantine_list(j, on_quarantined, &l)) != WH_OK)
		return err;
	for (int i = 0; i < l.n; i++) {
		int k = (l.head - 1 - i + PAGE_QUARANTINE_ROWS) % PAGE_QUARANTINE_ROWS;

		journal_quarantine_get(j, l.ids[k], on_entry, q);
	}
	if (journal_first_seq(j, &first) != WH_OK || first == 0 || !cJSON_IsNumber(last))
		return WH_OK;
	after = (uint64_t)last->valuedouble > PAGE_RECENT_EVENTS
			? (uint64_t)last->valuedouble - PAGE_RECENT_EVENTS
			: 0;
	if (after < first - 1)
		after = first - 1;
	return journal_read_page(j, after, PAGE_RECENT_EVENTS, 1 << 20, on_event, r, &got);
}

/* --- the HTML ------------------------------------------------------------------------------ */

static double
num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static const char *
str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : "";
}

/* A time in UTC and in the agent's local zone; the JS adds the browser's zone. */
static void
sb_time(struct sb *b, const char *id, double ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm u, l;
	char us[40] = "never", ls[40] = "";

	if (ms > 0 && gmtime_r(&t, &u) != NULL && localtime_r(&t, &l) != NULL) {
		strftime(us, sizeof(us), "%Y-%m-%d %H:%M:%S UTC", &u);
		strftime(ls, sizeof(ls), " · %H:%M:%S local", &l);
	}
	sb_printf(b, "<time%s%s%s data-ms=\"%.0f\">%s%s</time>", id ? " id=\"" : "", id ? id : "",
		  id ? "\"" : "", ms, us, ls);
}

static void
state_class(struct sb *b, const char *state)
{
	for (const char *p = state; *p; p++)
		sb_put(b, *p == ' ' ? "-" : p, 1);
}

static void
core(struct sb *b, const cJSON *d)
{
	double bytes = num(d, "journal_bytes"), max = num(d, "journal_max_bytes");

	sb_printf(b, "<section id=\"core\"><h2>Sync</h2><dl><dt>Link</dt><dd id=\"link\">");
	sb_esc(b, str(d, "mqtt"));
	if (num(d, "mqtt_since_ms") > 0) {
		sb_printf(b, " since ");
		sb_time(b, NULL, num(d, "mqtt_since_ms"));
	}
	sb_printf(b,
		  "</dd><dt>Backlog</dt><dd id=\"backlog\" class=\"big\">%.0f events</dd>"
		  "<dt>Oldest unsent</dt><dd id=\"oldest\">%.0f s</dd>"
		  "<dt>In flight</dt><dd id=\"inflight\">%.0f</dd>"
		  "<dt>Last seq</dt><dd>%.0f (acknowledged through %.0f)</dd>"
		  "<dt>Journal</dt><dd id=\"budget\">%.0f of %.0f bytes (%.0f %%)</dd>"
		  "<dt>Quarantine</dt><dd id=\"quarantined\">%.0f</dd><dt>Last error</dt>"
		  "<dd id=\"lasterror\">",
		  num(d, "backlog"), num(d, "oldest_unsent_age_s"), num(d, "mqtt_inflight"),
		  num(d, "last_seq"), num(d, "acked_through"), bytes, max,
		  max > 0 ? bytes * 100 / max : 0, num(d, "quarantined"));
	if (str(d, "mqtt_last_error")[0] != '\0') {
		const cJSON *cur = cJSON_GetObjectItemCaseSensitive(d, "mqtt_last_error_current");

		sb_esc(b, str(d, "mqtt_last_error"));
		sb_printf(b, " (");
		sb_time(b, NULL, num(d, "mqtt_last_error_ms"));
		sb_printf(b, ")%s", cJSON_IsTrue(cur) ? " — current" : " — resolved since");
	} else {
		sb_printf(b, "none");
	}
	sb_printf(b, "</dd></dl></section>");
}

static void
alarms(struct sb *b, const cJSON *d)
{
	const cJSON *a, *list = cJSON_GetObjectItemCaseSensitive(d, "alarms");
	int n = cJSON_GetArraySize(list);

	sb_printf(b,
		  "<section id=\"alarms\"><h2>Alarms</h2><p id=\"no-alarms\" class=\"none\">%s"
		  "</p><ul class=\"alarms\" id=\"alarm-list\">",
		  n > 0 ? "" : "No alarms.");
	cJSON_ArrayForEach(a, list)
	{
		sb_printf(b, "<li class=\"alarm\" data-name=\"");
		sb_esc(b, str(a, "name"));
		sb_printf(b, "\"><b>");
		sb_esc(b, str(a, "name"));
		sb_printf(b, "</b> ");
		sb_esc(b, str(a, "text"));
		sb_printf(b, " (since ");
		sb_time(b, NULL, num(a, "since_ms"));
		sb_printf(b, ")</li>");
	}
	sb_printf(b, "</ul></section>");
}

static void
chart(struct sb *b, const cJSON *d)
{
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(d, "history");
	const cJSON *bl = cJSON_GetObjectItemCaseSensitive(h, "backlog");
	const cJSON *ag = cJSON_GetObjectItemCaseSensitive(h, "oldest_age_s"), *v;
	int n = cJSON_GetArraySize(bl), i;
	double max = 1, maxa = 1;

	cJSON_ArrayForEach(v, bl) if (v->valuedouble > max) max = v->valuedouble;
	cJSON_ArrayForEach(v, ag) if (v->valuedouble > maxa) maxa = v->valuedouble;
	sb_printf(b, "<section id=\"history\"><h2>Backlog and oldest unsent age, last 24 h</h2>"
		     "<svg id=\"chart\" viewBox=\"0 0 1000 100\" preserveAspectRatio=\"none\" "
		     "role=\"img\" aria-label=\"backlog chart\"><polyline id=\"c-backlog\" "
		     "fill=\"none\" stroke=\"#1565c0\" stroke-width=\"2\" "
		     "vector-effect=\"non-scaling-stroke\" points=\"");
	i = 0;
	cJSON_ArrayForEach(v, bl)
	{
		sb_printf(b, "%.1f,%.1f ", n > 1 ? i * 1000.0 / (n - 1) : 1000.0,
			  100 - v->valuedouble * 95 / max);
		i++;
	}
	sb_printf(b, "\"/><polyline id=\"c-age\" fill=\"none\" stroke=\"#e09a00\" "
		     "stroke-width=\"1.5\" vector-effect=\"non-scaling-stroke\" points=\"");
	i = 0;
	cJSON_ArrayForEach(v, ag)
	{
		sb_printf(b, "%.1f,%.1f ", n > 1 ? i * 1000.0 / (n - 1) : 1000.0,
			  100 - v->valuedouble * 95 / maxa);
		i++;
	}
	sb_printf(b,
		  "\"/></svg><p class=\"muted\"><span style=\"color:#1565c0\">■ backlog</span> "
		  "<span style=\"color:#e09a00\">■ oldest unsent age</span> · <span "
		  "id=\"c-max\">max backlog %.0f · max oldest age %.0f s · %d samples of %.0f "
		  "s</span></p></section>",
		  max, maxa, n, num(h, "sample_s"));
}

static void
inputs(struct sb *b, const cJSON *d)
{
	const cJSON *x, *k;

	sb_printf(b, "<section id=\"inputs\" "
		     "class=\"wide\"><h2>Inputs</h2><table><thead><tr><th>input</th>"
		     "<th>last record</th><th>last file / POST</th><th>taken</th>"
		     "<th>quarantined</th><th>per minute</th></tr></thead><tbody id=\"in-rows\">");
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(d, "inputs"))
	{
		int first = 1;

		sb_printf(b, "<tr><td>");
		sb_esc(b, str(x, "name"));
		sb_printf(b, "</td><td>");
		sb_time(b, NULL, num(x, "last_record_ms"));
		sb_printf(b, "</td><td>");
		sb_esc(b, str(x, "last_position"));
		sb_printf(b, "</td><td>%.0f</td><td>%.0f</td><td>", num(x, "taken"),
			  num(x, "quarantined"));
		cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(x, "per_minute"))
		{
			sb_printf(b, "%s", first ? "" : ", ");
			sb_esc(b, k->string);
			sb_printf(b, " %.0f", k->valuedouble);
			first = 0;
		}
		sb_printf(b, "%s</td></tr>", first ? "0" : "");
	}
	sb_printf(b, "</tbody></table></section>");
}

static void
quarantine(struct sb *b, const cJSON *d)
{
	const cJSON *q;

	sb_printf(b,
		  "<section id=\"quarantine\" class=\"wide\"><h2>Quarantine (newest "
		  "%d)</h2><table><thead>"
		  "<tr><th>id</th><th>received</th><th>input</th><th>position</th>"
		  "<th>reason</th><th>raw</th><th></th></tr></thead><tbody id=\"q-rows\">",
		  PAGE_QUARANTINE_ROWS);
	cJSON_ArrayForEach(q, cJSON_GetObjectItemCaseSensitive(d, "quarantine"))
	{
		sb_printf(b, "<tr><td>%.0f</td><td>", num(q, "id"));
		sb_time(b, NULL, num(q, "received_at_ms"));
		sb_printf(b, "</td><td>");
		sb_esc(b, str(q, "input"));
		sb_printf(b, "</td><td>");
		sb_esc(b, str(q, "position"));
		sb_printf(b, "</td><td>");
		sb_esc(b, str(q, "reason"));
		sb_printf(b, "</td><td class=\"raw\">");
		sb_esc(b, str(q, "raw"));
		sb_printf(b, "</td></tr>");
	}
	sb_printf(b, "</tbody></table><p id=\"q-actions\" hidden><label>token <input "
		     "id=\"q-token\" type=\"password\" autocomplete=\"off\"></label> <span "
		     "id=\"q-result\"></span></p><p class=\"muted\">whagent quarantine list | "
		     "show | requeue | purge</p></section>");
}

static void
recent(struct sb *b, const cJSON *d)
{
	const cJSON *e;

	sb_printf(b, "<section id=\"recent\" class=\"wide\"><h2>Last "
		     "events</h2><table><thead><tr><th>seq</th>"
		     "<th>kind</th><th>sku</th><th>qty</th><th>location</th><th>event time</th>"
		     "</tr></thead><tbody id=\"r-rows\">");
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(d, "recent"))
	{
		sb_printf(b, "<tr><td>%.0f</td><td>", num(e, "seq"));
		sb_esc(b, str(e, "kind"));
		sb_printf(b, "</td><td>");
		sb_esc(b, str(e, "sku"));
		sb_printf(b, "</td><td>");
		sb_esc(b, str(e, "qty"));
		sb_printf(b, " ");
		sb_esc(b, str(e, "uom"));
		sb_printf(b, "</td><td>");
		sb_esc(b, str(e, "location"));
		sb_printf(b, "</td><td>");
		sb_time(b, NULL, num(e, "event_time_ms"));
		sb_printf(b, "</td></tr>");
	}
	sb_printf(b, "</tbody></table></section>");
}

static void
clock_part(struct sb *b, const cJSON *d)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(d, "clock");
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(c, "ntp_synced");

	sb_printf(b, "<section id=\"clock-s\"><h2>Clock</h2><p id=\"clock\">%s · boot ",
		  cJSON_IsTrue(s)    ? "NTP synchronised"
		  : cJSON_IsFalse(s) ? "NOT synchronised"
				     : "unknown");
	sb_esc(b, str(c, "boot_id"));
	sb_printf(b, " · %.0f jumps · %.0f event times flagged</p></section>", num(c, "jumps"),
		  num(c, "event_time_flagged"));
}

char *
page_render(const cJSON *d)
{
	struct sb b = {0};
	const char *state = str(d, "state");

	sb_printf(&b, "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta "
		      "name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>"
		      "whagent ");
	sb_esc(&b, str(d, "site_id"));
	sb_printf(&b, "</title><style>");
	sb_put(&b, page_css, strlen(page_css));
	sb_printf(&b, "</style></head><body><header><h1>whagent · site ");
	sb_esc(&b, str(d, "site_id"));
	sb_printf(&b, "</h1><span id=\"state\" class=\"state s-");
	state_class(&b, state);
	sb_printf(&b, "\">");
	sb_esc(&b, state);
	sb_printf(&b, "</span> <span id=\"since\">");
	if (num(d, "state_since_ms") > 0) {
		sb_printf(&b, "since ");
		sb_time(&b, NULL, num(d, "state_since_ms"));
	}
	sb_printf(&b, "</span></header><main>");
	alarms(&b, d);
	core(&b, d);
	chart(&b, d);
	inputs(&b, d);
	quarantine(&b, d);
	recent(&b, d);
	clock_part(&b, d);
	sb_printf(&b, "</main><footer>Rendered ");
	sb_time(&b, "rendered", num(cJSON_GetObjectItemCaseSensitive(d, "clock"), "now_ms"));
	sb_printf(&b, " · journal ");
	sb_esc(&b, str(d, "journal_id"));
	sb_printf(&b, " · <span id=\"updated\"></span></footer><script>");
	sb_put(&b, page_js, strlen(page_js));
	sb_printf(&b, "</script></body></html>\n");
	if (b.oom) {
		wh_free(b.buf);
		return NULL;
	}
	return b.buf;
}
