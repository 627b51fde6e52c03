/* Calendar arithmetic with no time zone and no OS: days of a proleptic Gregorian date. Shared
 * by event time parsing (RFC 3339) and certificate expiry (X.509 notAfter), so neither module
 * depends on the other. */
#ifndef WHAGENT_CIVIL_H
#define WHAGENT_CIVIL_H

#include <stdint.h>

/* Days since 1970-01-01 of the date y-m-d (m 1..12, d 1..31; negative before 1970), by
 * Howard Hinnant's days_from_civil. Does not check that the date exists. */
int64_t civil_days(int y, int m, int d);

/* Seconds since the Unix epoch of y-m-d h:mi:s UTC. */
int64_t civil_seconds(int y, int m, int d, int h, int mi, int s);

#endif
