/* Allocation wrappers with a failure injection point for tests. */
#include "mem.h"

#include <stdlib.h>
#include <string.h>

static long fail_at;
static long count;

static int
should_fail(void)
{
	count++;
	return fail_at > 0 && count == fail_at;
}

long
wh_mem_fail_at(long n)
{
	long made = count;

	count = 0;
	fail_at = n;
	return made;
}

void *
wh_malloc(size_t size)
{
	return should_fail() ? NULL : malloc(size ? size : 1);
}

void *
wh_calloc(size_t n, size_t size)
{
	return should_fail() ? NULL : calloc(n ? n : 1, size ? size : 1);
}

void *
wh_realloc(void *p, size_t size)
{
	return should_fail() ? NULL : realloc(p, size ? size : 1);
}

char *
wh_strndup(const char *s, size_t n)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = wh_malloc(n + 1);
	if (d == NULL)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *
wh_strdup(const char *s)
{
	return s ? wh_strndup(s, strlen(s)) : NULL;
}

int
wh_mem_inject(void)
{
	return should_fail();
}

void
wh_free(void *p)
{
	free(p);
}
