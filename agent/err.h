/* The project's error codes. Every library function returns one; callers log once.
 * SQLite codes are translated only in the journal, library codes only where they are used. */
#ifndef WHAGENT_ERR_H
#define WHAGENT_ERR_H

typedef enum wh_err {
	WH_OK = 0,
	WH_ERR_NOMEM,	 /* an allocation failed */
	WH_ERR_INVAL,	 /* invalid argument, input or value */
	WH_ERR_IO,	 /* a file-system call failed; errno is kept */
	WH_ERR_DB,	 /* SQLite failed; the journal logged the detail */
	WH_ERR_FULL,	 /* the journal reached its byte budget or free-space reserve */
	WH_ERR_CORRUPT,	 /* the journal is not a whagent journal, or is damaged */
	WH_ERR_CONF,	 /* the configuration is invalid */
	WH_ERR_NOTFOUND, /* no such record */
	WH_ERR_BUSY,	 /* the journal is locked by another writer */
	WH_ERR_TOOBIG,	 /* a record exceeds a size limit */
	WH_ERR_PAUSED,	 /* capture paused by the central platform (pause_capture) */
} wh_err;

/* printf-style format checking of a function's arguments fmt_index and args_index. */
#define WH_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* A short English text for err; never NULL. */
const char *wh_strerror(wh_err err);

#endif
