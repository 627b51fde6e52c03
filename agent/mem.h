/* Every heap allocation of the agent goes through these wrappers, so that a test can make
 * the Nth allocation fail and prove the out-of-memory paths. */
#ifndef WHAGENT_MEM_H
#define WHAGENT_MEM_H

#include <stddef.h>

void *wh_malloc(size_t size);
void *wh_calloc(size_t n, size_t size);
void *wh_realloc(void *p, size_t size);
/* Copy of s (NULL if s is NULL or on failure). Caller frees with wh_free. */
char *wh_strdup(const char *s);
/* Copy of the first n bytes of s, NUL-terminated. Caller frees with wh_free. */
char *wh_strndup(const char *s, size_t n);
void wh_free(void *p);
/* For an allocator of its own over memory it holds (a bump arena): counts one allocation as
 * wh_malloc does and returns 1 when that one is to fail. */
int wh_mem_inject(void);

/* Tests: make the allocation n calls from now fail (1 = the next one); 0 turns failures off.
 * Returns how many allocations were made since the last call. */
long wh_mem_fail_at(long n);

#endif
