/* The narrow OS interface the agent uses: clocks, randomness, free space and directory
 * watches. Implementations live in linux/ and posix/ and are chosen by CMake.
 * Functions return 0 on success and -1 with errno set on failure. */
#ifndef WHAGENT_PLATFORM_H
#define WHAGENT_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

/* Wall clock, milliseconds since the Unix epoch. */
int64_t platform_now_ms(void);
/* Monotonic clock in milliseconds, for timers and intervals. */
int64_t platform_mono_ms(void);
/* Monotonic clock in microseconds, for latencies. */
int64_t platform_mono_us(void);

/* Clock quality: 1 when the kernel says the wall clock is synchronised (NTP: adjtimex's
 * STA_UNSYNC clear), 0 when it says it is not, -1 when the OS cannot tell. Reads only. */
int platform_clock_synced(void);
/* The id of this boot (Linux: /proc/sys/kernel/random/boot_id) into buf; "" and -1 where
 * there is none. Monotonic times are comparable only within one boot id. */
int platform_boot_id(char *buf, size_t len);

/* Fills buf with len cryptographically random bytes. */
int platform_random(void *buf, size_t len);

/* Bytes available to an unprivileged writer on the file system holding path. */
int platform_fs_free(const char *path, uint64_t *ret_bytes);

/* Creates (or completes) the file path, mode 0600, with bytes of allocated blocks (not a
 * sparse file) and syncs it: space held back for later. On failure the file is removed;
 * -1 with errno set (ENOSPC when the file system has no room). */
int platform_fs_reserve(const char *path, uint64_t bytes);

/* Makes the entry of path durable: fsyncs the directory holding it (a file or folder just
 * created is not on the disk until then). 0, or -1 with errno set. */
int platform_fs_sync_parent(const char *path);

/* Service manager notification (the sd_notify protocol: a datagram to $NOTIFY_SOCKET), with no
 * libsystemd dependency. Sends state ("READY=1", "STATUS=...", "WATCHDOG=1"); does nothing
 * (and returns 0) when not run by a service manager or on systems without one. */
int platform_notify(const char *state);
/* The watchdog interval the service manager expects pings within, in ms; 0 when none. */
int64_t platform_watchdog_ms(void);

/* A directory watch reports names created, closed after writing or moved into a directory.
 * Where the OS has no watch, platform_watch_fd returns -1 and callers rely on rescans. */
struct platform_watch;

/* Called per event; moved_in is 1 when the name was renamed into the directory. */
typedef void (*platform_watch_cb)(const char *name, int moved_in, void *arg);

int platform_watch_open(const char *dir, struct platform_watch **ret_watch);
/* The fd to poll for readability, or -1. */
int platform_watch_fd(const struct platform_watch *w);
/* Reads pending events without blocking and calls cb for each. */
int platform_watch_drain(struct platform_watch *w, platform_watch_cb cb, void *arg);
void platform_watch_close(struct platform_watch *w);

#endif
