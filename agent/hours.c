/* Operating hours: the parser of the ';'-separated ranges and the "inside now" test in a
 * time zone (through event_zone_offset_s: the system tz database). */
#include "hours.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "event.h"

static const char *const day_names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

static int
parse_day(const char **p)
{
	for (int i = 0; i < 7; i++)
		if (strncasecmp(*p, day_names[i], 3) == 0) {
			*p += 3;
			return i;
		}
	return -1;
}

static int
parse_hhmm(const char **p, int *ret_min)
{
	const char *s = *p;
	int h, m;

	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' || s[2] != ':' || s[3] < '0' ||
	    s[3] > '9' || s[4] < '0' || s[4] > '9')
		return -1;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (m > 59 || h > 24 || (h == 24 && m != 0))
		return -1;
	*ret_min = h * 60 + m;
	*p = s + 5;
	return 0;
}

static void
skip_space(const char **p)
{
	while (**p == ' ' || **p == '\t')
		(*p)++;
}

int
hours_parse(const char *text, struct hours *ret, char *why, size_t whylen)
{
	struct hours h = {0};
	const char *p = text ? text : "";

	skip_space(&p);
	while (*p != '\0') {
		int a, b, start, end;
		unsigned days = 0;

		if (h.n == HOURS_MAX) {
			snprintf(why, whylen, "more than %d ranges", HOURS_MAX);
			return -1;
		}
		if (*p == '*') {
			days = 0x7f;
			p++;
		} else {
			if ((a = parse_day(&p)) < 0) {
				snprintf(why, whylen,
					 "expected a day (Mon .. Sun, or *) at '%.20s'", p);
				return -1;
			}
			b = a;
			if (*p == '-' && (p++, (b = parse_day(&p)) < 0)) {
				snprintf(why, whylen, "expected a day after '-' at '%.20s'", p);
				return -1;
			}
			for (int d = a;; d = (d + 1) % 7) {
				days |= 1u << d;
				if (d == b)
					break;
			}
		}
		skip_space(&p);
		if (parse_hhmm(&p, &start) != 0 || *p++ != '-' || parse_hhmm(&p, &end) != 0 ||
		    start == 24 * 60) {
			snprintf(why, whylen, "expected HH:MM-HH:MM after the days");
			return -1;
		}
		h.r[h.n].days = days;
		h.r[h.n].start_min = start;
		h.r[h.n].end_min = end;
		h.n++;
		skip_space(&p);
		if (*p == ';') {
			p++;
			skip_space(&p);
		} else if (*p != '\0') {
			snprintf(why, whylen, "expected ';' or the end at '%.20s'", p);
			return -1;
		}
	}
	if (ret != NULL)
		*ret = h;
	return 0;
}

int
hours_inside(const struct hours *h, const char *tz, int64_t now_ms)
{
	int64_t local, days;
	int dow, min, prev;

	if (h->n == 0)
		return 1;
	local = now_ms / 1000 + event_zone_offset_s(tz, (time_t)(now_ms / 1000));
	days = local >= 0 ? local / 86400 : (local - 86399) / 86400;
	dow = (int)((days % 7 + 7 + 3) % 7); /* 1970-01-01 was a Thursday: 3 from Monday */
	min = (int)((local - days * 86400) / 60);
	prev = (dow + 6) % 7;
	for (int i = 0; i < h->n; i++) {
		unsigned d = h->r[i].days;
		int s = h->r[i].start_min, e = h->r[i].end_min;

		if (e > s) {
			if ((d & (1u << dow)) && min >= s && min < e)
				return 1;
		} else if (((d & (1u << dow)) && min >= s) || ((d & (1u << prev)) && min < e)) {
			return 1;
		}
	}
	return 0;
}
