/* The spool folder's candidates: the files a scan found (or the folder watch announced) that
 * are named like input, kept sorted by name so that a scan of n files costs O(n log n) and
 * the next file to take is the first ready one. Owned by one spool input; loop thread. */
#ifndef WHAGENT_SPOOL_CANDS_H
#define WHAGENT_SPOOL_CANDS_H

#include <stdint.h>
#include <sys/types.h>

#define SPOOL_NAME_MAX 255

/* Why a file named like input is not read (said once per file and reason). */
enum cand_refusal {
	CAND_OK,
	CAND_SYMLINK,	  /* a symbolic link: never followed */
	CAND_NOT_REGULAR, /* a FIFO, device, socket or folder */
	CAND_LINKED,	  /* other hard links to it exist: an upload not finished, or a file
			     linked in from elsewhere */
	CAND_OWNER,	  /* another owner than [input.spool] owner */
};

struct cand {
	char name[SPOOL_NAME_MAX + 1];
	off_t size;
	int64_t mtime_ns;
	int64_t stable_since; /* monotonic ms */
	int moved_in;	      /* renamed in whole (the watch), or resumed: no settle time */
	int seen;	      /* in the scan under way */
	int gone;	      /* taken or dropped: removed at the next scan */
	enum cand_refusal refused;
};

struct cands {
	struct cand *v;
	int n, cap;
	int nsorted;  /* v[0..nsorted) is sorted by name; a scan appends after it */
	char **moved; /* names the watch announced that no candidate has yet */
	int nmoved, mcap;
};

/* Frees what cs holds (it may be zeroed memory or NULL). */
void cands_done(struct cands *cs);

/* The candidate of that name (not gone), or NULL. Between scans every candidate is found;
 * during one, those the scan added are not. */
struct cand *cands_find(struct cands *cs, const char *name);

/* Starts a scan: every candidate unseen. */
void cands_scan_begin(struct cands *cs);
/* A name the scan found that cands_find did not: appended, zeroed but for its name and seen.
 * NULL when out of memory (the next scan tries again). */
struct cand *cands_add(struct cands *cs, const char *name);
/* Ends a scan: drops candidates it did not see (but keep, the file being read, if not NULL)
 * and gone ones, sorts, and marks moved_in those the watch announced meanwhile. */
void cands_scan_end(struct cands *cs, const char *keep);

/* The watch saw name renamed into the folder: moved_in at once for a known candidate, else
 * remembered (bounded) for the next scan's end. */
void cands_moved_in(struct cands *cs, const char *name);

/* Marks the candidate of that name gone (taken, or to be seen afresh by the next scan). */
void cands_remove(struct cands *cs, const char *name);

/* Candidates not gone and not refused. */
int cands_active(const struct cands *cs);

#endif
