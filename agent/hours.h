/* Operating hours: when a WMS is expected to send (the source-silence alarm counts only
 * inside them). Syntax: ranges separated by ';', each DAYS HH:MM-HH:MM, DAYS a day (Mon ..
 * Sun), a range of days (Mon-Fri, Fri-Mon) or '*' (every day); an end at or before the start
 * runs past midnight into the next day; 24:00 ends a day. Empty: always. */
#ifndef WHAGENT_HOURS_H
#define WHAGENT_HOURS_H

#include <stddef.h>
#include <stdint.h>

#define HOURS_MAX 7

struct hours {
	int n; /* 0: always */
	struct {
		unsigned days;		/* bit 0: Monday .. bit 6: Sunday */
		int start_min, end_min; /* minutes of the day */
	} r[HOURS_MAX];
};

/* Parses text into *ret (NULL: only checks). 0, or -1 with why (for the person who wrote
 * the configuration). */
int hours_parse(const char *text, struct hours *ret, char *why, size_t whylen);
/* 1 when the instant now_ms is inside h in zone tz (an IANA name; NULL or "": the
 * process's local zone), 0 otherwise. */
int hours_inside(const struct hours *h, const char *tz, int64_t now_ms);

#endif
