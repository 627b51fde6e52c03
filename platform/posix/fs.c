/* Free space from statvfs. */
#include "platform.h"

#include <sys/statvfs.h>

int
platform_fs_free(const char *path, uint64_t *ret_bytes)
{
	struct statvfs st;

	if (statvfs(path, &st) != 0)
		return -1;
	*ret_bytes = (uint64_t)st.f_bavail * (uint64_t)st.f_frsize;
	return 0;
}
