/* Inside the configuration module (conf.c, conf_keys.c): the key table's types and flags,
 * and the table itself. Not for other modules. */
#ifndef WHAGENT_CONF_INT_H
#define WHAGENT_CONF_INT_H

#include <stddef.h>
#include <stdint.h>

enum conf_type { CT_STR, CT_INT, CT_SIZE, CT_ENUM };

struct conf_key {
	const char *section;
	const char *name;
	enum conf_type type;
	size_t offset;
	const char *def; /* NULL: required (or derived, see conf_finish) */
	int64_t min, max;
	const char *const *choices; /* CT_ENUM: index is the stored value */
	const char *help;
	unsigned flags; /* K_* */
};

/* A change of the key takes effect only at a restart: a reload that changes it is refused. */
#define K_RESTART 1u
/* The key names a file holding a secret: never logged; `check` says when others may read it. */
#define K_SECRET 2u
/* For `check`: the key names a file the agent reads (K_FILE), a directory it writes in
 * (K_DIR), a directory it reads (K_DIRREAD), or a file it writes (its directory: K_PARENT). */
#define K_FILE	  4u
#define K_DIR	  8u
#define K_DIRREAD 16u
#define K_PARENT  32u
/* No default in the table: conf_finish derives one from other keys (not required). */
#define K_DERIVED 64u

/* The key table (conf_keys.c): every key of every section, in help order. */
extern const struct conf_key conf_keys[];
extern const size_t conf_nkeys;
/* Bound of the table, for the parser's per-key arrays. */
#define CONF_KEYS_MAX 192

#endif
