/* No directory watch on this system: callers rely on periodic rescans. */
#include "platform.h"

#include <stdlib.h>

struct platform_watch {
	int unused;
};

int
platform_watch_open(const char *dir, struct platform_watch **ret_watch)
{
	(void)dir;
	*ret_watch = calloc(1, sizeof(**ret_watch));
	return *ret_watch ? 0 : -1;
}

int
platform_watch_fd(const struct platform_watch *w)
{
	(void)w;
	return -1;
}

int
platform_watch_drain(struct platform_watch *w, platform_watch_cb cb, void *arg)
{
	(void)w;
	(void)cb;
	(void)arg;
	return 0;
}

void
platform_watch_close(struct platform_watch *w)
{
	free(w);
}
