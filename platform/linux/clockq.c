/* Clock quality on Linux: the kernel's NTP-synchronised flag (adjtimex, read only) and the
 * boot id the kernel makes at every boot. */
#include "platform.h"

#include <stdio.h>
#include <string.h>
#include <sys/timex.h>

int
platform_clock_synced(void)
{
	struct timex tx;
	int state;

	memset(&tx, 0, sizeof(tx)); /* modes 0: reads, changes nothing */
	state = adjtimex(&tx);
	if (state < 0)
		return -1;
	return state != TIME_ERROR && (tx.status & STA_UNSYNC) == 0;
}

int
platform_boot_id(char *buf, size_t len)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
	int rc = -1;

	if (len > 0)
		buf[0] = '\0';
	if (f == NULL)
		return -1;
	if (len > 0 && fgets(buf, (int)len, f) != NULL) {
		buf[strcspn(buf, "\n")] = '\0';
		rc = 0;
	}
	fclose(f);
	return rc;
}
