/* Days and seconds of a proleptic Gregorian date (see civil.h). */
#include "civil.h"

#include <time.h>

/* A gateway runs for years: time_t must outlive January 2038 on 32-bit ARM too. */
_Static_assert(sizeof(time_t) >= 8, "time_t is 32 bits: build with _TIME_BITS=64 (CMakeLists.txt)");

int64_t
civil_days(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int64_t
civil_seconds(int y, int m, int d, int h, int mi, int s)
{
	return civil_days(y, m, d) * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + s;
}
