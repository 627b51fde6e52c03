/* The uplink's credentials on this device: the client certificate (its expiry, and whether
 * certfile or keyfile were replaced: a rotation), the batch-signing key and the MQTT password
 * file. Runs on the loop thread. */
#ifndef WHAGENT_IDENTITY_H
#define WHAGENT_IDENTITY_H

#include <stddef.h>

#include "err.h"

struct conf;
struct crypto_signer;

struct identity {
	char stamp[128]; /* device, inode, size and mtime of certfile and keyfile when read */
	int has_client_cert;
	int cert_days_left;
	struct crypto_signer *signer; /* sign_batches, or NULL */
};

/* Reads c's client certificate (logging a warning when it cannot be read or expires within
 * cert_warn_days: the agent still starts) and, with sign_batches, the signing key.
 * WH_ERR_CONF with why ("sign_batches: ...") when that key cannot be read: id keeps the key it
 * had, and the caller logs. Release with identity_done. */
wh_err identity_load(struct identity *id, const struct conf *c, char *why, size_t whylen);
void identity_done(struct identity *id);
/* 1 when c's certfile or keyfile is not what identity_load read (a rotation). */
int identity_changed(const struct identity *id, const struct conf *c);

/* The first line of the password file at path, or NULL; caller frees with wh_free. */
char *identity_read_password(const char *path);

#endif
