/* Helpers shared by the unit tests: temporary directories and files, key pairs. */
#ifndef WHAGENT_TESTUTIL_H
#define WHAGENT_TESTUTIL_H

#include <stddef.h>

/* Creates a fresh temporary directory under $TMPDIR; returns a static path. */
const char *tu_tmpdir(void);
/* Writes text to dir/name; returns a static path to the file. */
const char *tu_write(const char *dir, const char *name, const char *text);
/* Removes dir and everything in it. */
void tu_rmtree(const char *dir);
/* Makes a fresh EC P-256 key pair in dir: name.key (private, PEM) and name.pub (public, PEM).
 * key and pub (512 bytes each) get their paths. Aborts on failure. */
void tu_keypair(const char *dir, const char *name, char *key, char *pub);

#endif
