/* The ballast: a file of real blocks beside the journal (.whagent-ballast), space held back
 * so that a file system someone else filled can still take what the agent needs to start,
 * report and free room (SQLite's -shm file, the session's meta write, WAL frames). Released
 * when a start or a CLI command finds less free space than its size; made again by the
 * running agent once the free space is back above the reserve plus the ballast. */
#ifndef WHAGENT_BALLAST_H
#define WHAGENT_BALLAST_H

#include <stdint.h>

/* 4 MiB: the WAL's steady-state size (SQLite checkpoints it at 1,000 pages of 4 KiB) plus
 * the 32 KiB -shm file and a few frames, so that a start, the CLI's open and a purge's
 * delete, vacuum and checkpoint all fit into what the ballast gives back. */
#define BALLAST_BYTES (4 * 1024 * 1024)

struct ballast {
	char path[4096]; /* DIR/.whagent-ballast, DIR the journal's folder */
	char dir[4096];
	uint64_t bytes;
};

/* Names the ballast of the journal at journal_path. -1 when the path is too long. */
int ballast_init(struct ballast *b, const char *journal_path, uint64_t bytes);

/* 1 when the ballast file is there with all its blocks. */
int ballast_present(const struct ballast *b);

/* When less than the ballast's size is free on its file system, removes the ballast: 1 when
 * it was released (*ret_free: the free bytes found before), 0 when there was room or no
 * ballast, -1 when it could not be removed (errno set). */
int ballast_release_if_short(const struct ballast *b, uint64_t *ret_free);

/* Makes the ballast when it is missing and more than reserve_bytes plus its size is free:
 * 1 when made, 0 when not needed or no room yet, -1 on an error (errno set). */
int ballast_restore(const struct ballast *b, int64_t reserve_bytes);

#endif
