/* Free space from statvfs; durable directory entries (fsync of the directory). */
#include "platform.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

int
platform_fs_free(const char *path, uint64_t *ret_bytes)
{
	struct statvfs st;

	if (statvfs(path, &st) != 0)
		return -1;
	*ret_bytes = (uint64_t)st.f_bavail * (uint64_t)st.f_frsize;
	return 0;
}

int
platform_fs_sync_parent(const char *path)
{
	char dir[4096];
	size_t len;
	char *slash;
	int fd, rc, e;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	while ((len = strlen(dir)) > 1 && dir[len - 1] == '/')
		dir[len - 1] = '\0';
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else
		slash[slash == dir ? 1 : 0] = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	rc = fsync(fd);
	e = errno;
	close(fd);
	errno = e;
	return rc;
}
