/* The agent's one event loop: poll() over every file descriptor, one-shot timers, and signal
 * flags (the handlers only set flags and wake the loop through a pipe). */
#ifndef WHAGENT_LOOP_H
#define WHAGENT_LOOP_H

#include <stdint.h>

#include "err.h"

#define LOOP_MAX_FDS 16

struct loop;

typedef void (*loop_fd_cb)(int fd, short revents, void *arg);
typedef void (*loop_cb)(void *arg);

/* A one-shot timer embedded in its owner; registered once with loop_timer_add (the loop
 * links it, so there is no limit on how many). */
struct loop_timer {
	int64_t due; /* monotonic ms; valid when armed */
	int armed;
	loop_cb cb;
	void *arg;
	uint64_t turn;		 /* the loop's turn it last fired in */
	struct loop_timer *next; /* the loop's list */
};

/* Creates the loop and installs the SIGTERM, SIGINT and SIGHUP handlers (SIGPIPE ignored).
 * Caller frees with loop_free. */
wh_err loop_new(struct loop **ret_loop);
void loop_free(struct loop *l);

wh_err loop_fd_add(struct loop *l, int fd, short events, loop_fd_cb cb, void *arg);
void loop_fd_del(struct loop *l, int fd);
/* Changes the poll events of fd. */
void loop_fd_events(struct loop *l, int fd, short events);

/* Registers t (disarmed) to call cb(arg) when it fires; t must stay put until
 * loop_timer_del. Registering it again only replaces cb and arg (and disarms it). */
void loop_timer_add(struct loop *l, struct loop_timer *t, loop_cb cb, void *arg);
/* Unregisters t (also from inside a timer's callback); a no-op if it is not registered. */
void loop_timer_del(struct loop *l, struct loop_timer *t);
/* Fires t once, delay_ms from now (0: on the next turn). Re-arming moves it. */
void loop_timer_arm(struct loop_timer *t, int64_t delay_ms);
/* Arms t for delay_ms from now unless it is already armed to fire sooner. */
void loop_timer_arm_soon(struct loop_timer *t, int64_t delay_ms);
void loop_timer_disarm(struct loop_timer *t);

/* Called before every poll (for libraries that need a turn: libmosquitto's misc work and
 * its want-write state). */
void loop_on_prepare(struct loop *l, loop_cb cb, void *arg);
/* Called on SIGHUP, from the loop. */
void loop_on_reload(struct loop *l, loop_cb cb, void *arg);
/* Makes loop_run return after the current callback. */
void loop_stop(struct loop *l);
/* Clears a stop, so that loop_run can run again (the drain after SIGTERM). */
void loop_resume(struct loop *l);
/* Runs until SIGTERM, SIGINT or loop_stop (also one that came before the call). Returns the
 * signal number that stopped it, or 0. */
int loop_run(struct loop *l);

#endif
