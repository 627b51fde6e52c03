/* Why an uplink connection failed, in words a person can act on: unreadable TLS files, the
 * socket's error, the broker certificate's verification result (untrusted CA, host-name
 * mismatch with the names it carries) and TLS alerts from the broker. Part of the uplink
 * (mqtt.c); loop thread only. */
#ifndef WHAGENT_TLSDIAG_H
#define WHAGENT_TLSDIAG_H

#include <stddef.h>

#include "err.h"

struct conf;

/* Checks that the configured cafile, certfile and keyfile can be opened for reading, before
 * they are handed to libmosquitto. WH_ERR_IO with why naming the key, the file and errno. */
wh_err tlsdiag_check_files(const struct conf *c, char *why, size_t whylen);

/* What the handshake showed of the broker's certificate; embedded in its owner. */
struct tlsdiag_watch {
	int (*verify)(int, void *); /* the verify callback it wraps (libmosquitto's) */
	char names[256];	    /* the broker certificate's names, escaped; "" until seen */
};

/* Watches the handshake of ssl (an OpenSSL SSL object, mosquitto_ssl_get, before the broker's
 * certificate arrived): w->names gets the broker certificate's names, also when its
 * verification fails. w is borrowed for the SSL object's life. */
void tlsdiag_watch(void *ssl, struct tlsdiag_watch *w);

/* The pending error of socket fd (SO_ERROR), 0 when none. */
int tlsdiag_socket_error(int fd);

/* Explains a failed TLS handshake into out (empty when nothing is known): ssl is the
 * connection's OpenSSL SSL object (mosquitto_ssl_get; may be NULL), host the configured broker
 * host, lib_error what libmosquitto logged (OpenSSL's error text; may be empty), name_failed
 * 1 when libmosquitto reported its host-name check failed. Outside text
 * (certificate names, OpenSSL's text) is escaped. */
void tlsdiag_explain(void *ssl, const char *host, const char *lib_error, int name_failed,
		     const char *names, char *out, size_t outlen);

#endif
