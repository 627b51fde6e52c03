/* Directory watch with inotify: names closed after writing or moved into the directory. */
#include "platform.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <unistd.h>

struct platform_watch {
	int fd;
};

int
platform_watch_open(const char *dir, struct platform_watch **ret_watch)
{
	struct platform_watch *w = malloc(sizeof(*w));
	int saved;

	if (w == NULL)
		return -1;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0)
		goto fail;
	if (inotify_add_watch(w->fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) < 0)
		goto fail;
	*ret_watch = w;
	return 0;
fail:
	saved = errno;
	if (w->fd >= 0)
		close(w->fd);
	free(w);
	errno = saved;
	return -1;
}

int
platform_watch_fd(const struct platform_watch *w)
{
	return w ? w->fd : -1;
}

int
platform_watch_drain(struct platform_watch *w, platform_watch_cb cb, void *arg)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	for (int rounds = 0; rounds < 64; rounds++) {
		ssize_t n = read(w->fd, buf, sizeof(buf));

		if (n < 0)
			return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if (ev->len > 0)
				cb(ev->name, (ev->mask & IN_MOVED_TO) != 0, arg);
			p += sizeof(*ev) + ev->len;
		}
	}
	return 0;
}

void
platform_watch_close(struct platform_watch *w)
{
	if (w == NULL)
		return;
	close(w->fd);
	free(w);
}
