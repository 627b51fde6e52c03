/* The spool folder's candidates, sorted by name: found by binary search, a scan's new names
 * appended and sorted in at its end, removals marked and swept at the next scan. */
#include "spool_cands.h"

#include <stdlib.h>
#include <string.h>

#include "mem.h"

/* Names the watch may announce between two scans that no candidate has yet; more are left to
 * the settle time (a scan follows every batch of watch events anyway). */
#define MOVED_MAX 4096

static int
by_name(const void *a, const void *b)
{
	return strcmp(((const struct cand *)a)->name, ((const struct cand *)b)->name);
}

static struct cand *
find_sorted(struct cands *cs, const char *name)
{
	struct cand key;
	struct cand *c;

	if (cs->nsorted == 0)
		return NULL;
	/* the key needs only its name; copy what fits (longer names are never candidates) */
	if (strlen(name) > SPOOL_NAME_MAX)
		return NULL;
	memcpy(key.name, name, strlen(name) + 1);
	c = bsearch(&key, cs->v, (size_t)cs->nsorted, sizeof(*cs->v), by_name);
	return c != NULL && !c->gone ? c : NULL;
}

void
cands_done(struct cands *cs)
{
	if (cs == NULL)
		return;
	for (int i = 0; i < cs->nmoved; i++)
		wh_free(cs->moved[i]);
	wh_free(cs->moved);
	wh_free(cs->v);
	memset(cs, 0, sizeof(*cs));
}

struct cand *
cands_find(struct cands *cs, const char *name)
{
	return find_sorted(cs, name);
}

void
cands_scan_begin(struct cands *cs)
{
	for (int i = 0; i < cs->n; i++)
		cs->v[i].seen = 0;
	cs->nsorted = cs->n;
}

struct cand *
cands_add(struct cands *cs, const char *name)
{
	struct cand *c;

	if (strlen(name) > SPOOL_NAME_MAX)
		return NULL;
	if (cs->n == cs->cap) {
		int cap = cs->cap ? cs->cap * 2 : 64;
		struct cand *v = wh_realloc(cs->v, (size_t)cap * sizeof(*v));

		if (v == NULL)
			return NULL;
		cs->v = v;
		cs->cap = cap;
	}
	c = &cs->v[cs->n++];
	memset(c, 0, sizeof(*c));
	memcpy(c->name, name, strlen(name) + 1);
	c->seen = 1;
	return c;
}

void
cands_scan_end(struct cands *cs, const char *keep)
{
	int o = 0, added = cs->n > cs->nsorted;

	for (int i = 0; i < cs->n; i++) {
		struct cand *c = &cs->v[i];

		if (c->gone || (!c->seen && (keep == NULL || strcmp(c->name, keep) != 0)))
			continue;
		if (o != i)
			cs->v[o] = *c;
		o++;
	}
	cs->n = o;
	if (added) /* else still in order: dropping keeps it */
		qsort(cs->v, (size_t)cs->n, sizeof(*cs->v), by_name);
	cs->nsorted = cs->n;
	for (int i = 0; i < cs->nmoved; i++) {
		struct cand *c = find_sorted(cs, cs->moved[i]);

		if (c != NULL)
			c->moved_in = 1;
		wh_free(cs->moved[i]);
	}
	cs->nmoved = 0;
}

void
cands_moved_in(struct cands *cs, const char *name)
{
	struct cand *c = find_sorted(cs, name);
	char *copy;

	if (c != NULL) {
		c->moved_in = 1;
		return;
	}
	if (cs->nmoved == MOVED_MAX)
		return;
	if (cs->nmoved == cs->mcap) {
		int cap = cs->mcap ? cs->mcap * 2 : 16;
		char **m = wh_realloc(cs->moved, (size_t)cap * sizeof(*m));

		if (m == NULL)
			return;
		cs->moved = m;
		cs->mcap = cap;
	}
	if ((copy = wh_strdup(name)) != NULL)
		cs->moved[cs->nmoved++] = copy;
}

void
cands_remove(struct cands *cs, const char *name)
{
	struct cand *c = find_sorted(cs, name);

	if (c != NULL)
		c->gone = 1;
}

int
cands_active(const struct cands *cs)
{
	int n = 0;

	for (int i = 0; i < cs->n; i++)
		n += !cs->v[i].gone && cs->v[i].refused == CAND_OK;
	return n;
}
