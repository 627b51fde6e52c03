/* The ballast beside the journal: naming it, releasing it when the file system is short of
 * room, making it again once there is room (ballast.h says why it exists). */
#include "ballast.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "platform.h"

int
ballast_init(struct ballast *b, const char *journal_path, uint64_t bytes)
{
	const char *slash = strrchr(journal_path, '/');
	int n;

	memset(b, 0, sizeof(*b));
	b->bytes = bytes;
	if (slash == NULL)
		n = snprintf(b->dir, sizeof(b->dir), ".");
	else
		n = snprintf(b->dir, sizeof(b->dir), "%.*s",
			     slash > journal_path ? (int)(slash - journal_path) : 1, journal_path);
	if (n < 0 || (size_t)n >= sizeof(b->dir))
		return -1;
	n = snprintf(b->path, sizeof(b->path), "%s/.whagent-ballast", b->dir);
	return n < 0 || (size_t)n >= sizeof(b->path) ? -1 : 0;
}

int
ballast_present(const struct ballast *b)
{
	struct stat st;

	return lstat(b->path, &st) == 0 && S_ISREG(st.st_mode) &&
	       (uint64_t)st.st_size >= b->bytes && (uint64_t)st.st_blocks * 512 >= b->bytes;
}

int
ballast_release_if_short(const struct ballast *b, uint64_t *ret_free)
{
	uint64_t free_bytes;

	if (platform_fs_free(b->dir, &free_bytes) != 0 || free_bytes >= b->bytes)
		return 0;
	if (unlink(b->path) != 0)
		return errno == ENOENT ? 0 : -1;
	*ret_free = free_bytes;
	return 1;
}

int
ballast_restore(const struct ballast *b, int64_t reserve_bytes)
{
	uint64_t free_bytes, need = b->bytes + (reserve_bytes > 0 ? (uint64_t)reserve_bytes : 0);

	if (ballast_present(b))
		return 0;
	if (platform_fs_free(b->dir, &free_bytes) != 0)
		return -1;
	if (free_bytes <= need)
		return 0;
	return platform_fs_reserve(b->path, b->bytes) == 0 ? 1 : -1;
}
