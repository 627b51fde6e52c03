/* No service manager notification on this system. */
#include "platform.h"

int
platform_notify(const char *state)
{
	(void)state;
	return 0;
}

int64_t
platform_watchdog_ms(void)
{
	return 0;
}
