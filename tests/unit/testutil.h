/* Helpers shared by the unit tests: temporary directories and files. */
#ifndef WHAGENT_TESTUTIL_H
#define WHAGENT_TESTUTIL_H

#include <stddef.h>

/* Creates a fresh temporary directory under $TMPDIR; returns a static path. */
const char *tu_tmpdir(void);
/* Writes text to dir/name; returns a static path to the file. */
const char *tu_write(const char *dir, const char *name, const char *text);
/* Removes dir and everything in it. */
void tu_rmtree(const char *dir);

#endif
