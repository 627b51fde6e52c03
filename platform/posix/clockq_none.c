/* Clock quality where the OS says nothing about it: unknown synchronisation, no boot id. */
#include <errno.h>

#include "platform.h"

int
platform_clock_synced(void)
{
	errno = ENOSYS;
	return -1;
}

int
platform_boot_id(char *buf, size_t len)
{
	if (len > 0)
		buf[0] = '\0';
	errno = ENOSYS;
	return -1;
}
