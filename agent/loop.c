/* poll() loop with a self-pipe for signals. Callbacks run one at a time, to completion, so a
 * stop request takes effect between transactions, never inside one. */
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"
#include "platform.h"

struct loop {
	struct pollfd pfd[LOOP_MAX_FDS + 1]; /* [0] is the signal pipe */
	loop_fd_cb fd_cb[LOOP_MAX_FDS + 1];
	void *fd_arg[LOOP_MAX_FDS + 1];
	int nfds;
	struct loop_timer *timers; /* a list, newest first */
	uint64_t turn;		   /* turns that fired timers */
	loop_cb reload_cb;
	void *reload_arg;
	loop_cb prepare_cb;
	void *prepare_arg;
	int stop;
	int sig; /* the signal that stopped the current run */
};

static int sig_pipe[2] = {-1, -1};
static volatile sig_atomic_t sig_term, sig_hup;

static void
on_signal(int sig)
{
	int saved = errno;
	char c = (char)sig;

	if (sig == SIGHUP)
		sig_hup = 1;
	else
		sig_term = sig;
	if (write(sig_pipe[1], &c, 1) < 0) {
		/* the pipe is full: the loop wakes anyway */
	}
	errno = saved;
}

static int
set_flags(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

wh_err
loop_new(struct loop **ret_loop)
{
	struct sigaction sa;
	struct loop *l;

	l = wh_calloc(1, sizeof(*l));
	if (l == NULL)
		return WH_ERR_NOMEM;
	if (sig_pipe[0] < 0) {
		if (pipe(sig_pipe) != 0 || set_flags(sig_pipe[0]) != 0 ||
		    set_flags(sig_pipe[1]) != 0) {
			wh_free(l);
			return WH_ERR_IO;
		}
	}
	sig_term = sig_hup = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	l->pfd[0].fd = sig_pipe[0];
	l->pfd[0].events = POLLIN;
	l->nfds = 1;
	*ret_loop = l;
	return WH_OK;
}

void
loop_free(struct loop *l)
{
	wh_free(l);
}

wh_err
loop_fd_add(struct loop *l, int fd, short events, loop_fd_cb cb, void *arg)
{
	if (l->nfds == LOOP_MAX_FDS + 1)
		return WH_ERR_INVAL;
	l->pfd[l->nfds].fd = fd;
	l->pfd[l->nfds].events = events;
	l->pfd[l->nfds].revents = 0;
	l->fd_cb[l->nfds] = cb;
	l->fd_arg[l->nfds] = arg;
	l->nfds++;
	return WH_OK;
}

void
loop_fd_del(struct loop *l, int fd)
{
	for (int i = 1; i < l->nfds; i++) {
		if (l->pfd[i].fd != fd)
			continue;
		l->nfds--;
		l->pfd[i] = l->pfd[l->nfds];
		l->fd_cb[i] = l->fd_cb[l->nfds];
		l->fd_arg[i] = l->fd_arg[l->nfds];
		return;
	}
}

void
loop_fd_events(struct loop *l, int fd, short events)
{
	for (int i = 1; i < l->nfds; i++)
		if (l->pfd[i].fd == fd)
			l->pfd[i].events = events;
}

void
loop_timer_add(struct loop *l, struct loop_timer *t, loop_cb cb, void *arg)
{
	loop_timer_del(l, t); /* registered twice, it would make the list a cycle */
	memset(t, 0, sizeof(*t));
	t->cb = cb;
	t->arg = arg;
	t->next = l->timers;
	l->timers = t;
}

void
loop_timer_del(struct loop *l, struct loop_timer *t)
{
	for (struct loop_timer **p = &l->timers; *p != NULL; p = &(*p)->next) {
		if (*p == t) {
			*p = t->next;
			t->next = NULL;
			t->armed = 0;
			return;
		}
	}
}

void
loop_timer_arm(struct loop_timer *t, int64_t delay_ms)
{
	t->due = platform_mono_ms() + (delay_ms > 0 ? delay_ms : 0);
	t->armed = 1;
}

void
loop_timer_arm_soon(struct loop_timer *t, int64_t delay_ms)
{
	int64_t due = platform_mono_ms() + (delay_ms > 0 ? delay_ms : 0);

	if (!t->armed || due < t->due) {
		t->due = due;
		t->armed = 1;
	}
}

void
loop_timer_disarm(struct loop_timer *t)
{
	t->armed = 0;
}

void
loop_on_reload(struct loop *l, loop_cb cb, void *arg)
{
	l->reload_cb = cb;
	l->reload_arg = arg;
}

void
loop_on_prepare(struct loop *l, loop_cb cb, void *arg)
{
	l->prepare_cb = cb;
	l->prepare_arg = arg;
}

void
loop_stop(struct loop *l)
{
	l->stop = 1;
}

static int
next_timeout(const struct loop *l)
{
	int64_t now = platform_mono_ms(), best = -1;

	for (const struct loop_timer *t = l->timers; t != NULL; t = t->next) {
		int64_t left;

		if (!t->armed)
			continue;
		left = t->due - now;
		if (left < 0)
			left = 0;
		if (best < 0 || left < best)
			best = left;
	}
	return best > 60000 || best < 0 ? 60000 : (int)best;
}

static void
handle_signals(struct loop *l)
{
	char buf[64];

	while (read(sig_pipe[0], buf, sizeof(buf)) > 0)
		;
	if (sig_hup) {
		sig_hup = 0;
		if (l->reload_cb != NULL)
			l->reload_cb(l->reload_arg);
	}
	if (sig_term) {
		l->sig = sig_term;
		sig_term = 0;
		l->stop = 1;
	}
}

static void
fire_timers(struct loop *l)
{
	int64_t now = platform_mono_ms();
	struct loop_timer *t;

	/* A callback may add, re-arm or delete timers: after each one, look again from the
	 * start, and fire each due timer at most once a turn. */
	l->turn++;
	while (!l->stop) {
		for (t = l->timers; t != NULL; t = t->next)
			if (t->armed && t->due <= now && t->turn != l->turn)
				break;
		if (t == NULL)
			break;
		t->armed = 0;
		t->turn = l->turn;
		t->cb(t->arg);
	}
}

int
loop_run(struct loop *l)
{
	l->sig = 0;
	while (!l->stop) {
		int n;

		if (l->prepare_cb != NULL)
			l->prepare_cb(l->prepare_arg);
		n = poll(l->pfd, (nfds_t)l->nfds, l->stop ? 0 : next_timeout(l));
		if (n < 0 && errno != EINTR) {
			log_warn("poll");
			break;
		}
		if (n > 0 && l->pfd[0].revents)
			handle_signals(l);
		for (int i = 1; n > 0 && i < l->nfds && !l->stop; i++) {
			short rev = l->pfd[i].revents;

			l->pfd[i].revents = 0;
			if (rev)
				l->fd_cb[i](l->pfd[i].fd, rev, l->fd_arg[i]);
		}
		fire_timers(l);
	}
	return l->sig;
}

void
loop_resume(struct loop *l)
{
	l->stop = 0;
}
