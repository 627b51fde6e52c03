/* Free space from statvfs, space reserved with posix_fallocate, durable directory entries
 * (fsync of the directory). */
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

int
platform_fs_reserve(const char *path, uint64_t bytes)
{
	int fd, rc, e = 0;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		return -1;
	/* real blocks, not a sparse file: posix_fallocate returns the error, errno is unset */
	rc = posix_fallocate(fd, 0, (off_t)bytes);
	if (rc == 0 && fsync(fd) != 0)
		rc = errno;
	if (close(fd) != 0 && rc == 0)
		rc = errno;
	if (rc != 0) {
		e = rc;
		(void)unlink(path); /* a partial reserve holds space nobody counts on */
		errno = e;
		return -1;
	}
	return 0;
}
