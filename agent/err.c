/* Texts for the project's error codes. */
#include "err.h"

const char *
wh_strerror(wh_err err)
{
	switch (err) {
	case WH_OK:
		return "success";
	case WH_ERR_NOMEM:
		return "out of memory";
	case WH_ERR_INVAL:
		return "invalid value";
	case WH_ERR_IO:
		return "input/output error";
	case WH_ERR_DB:
		return "journal database error";
	case WH_ERR_FULL:
		return "journal full (byte budget or free-space reserve reached)";
	case WH_ERR_CORRUPT:
		return "journal damaged or not a whagent journal";
	case WH_ERR_CONF:
		return "invalid configuration";
	case WH_ERR_NOTFOUND:
		return "not found";
	case WH_ERR_BUSY:
		return "journal locked by another process";
	case WH_ERR_TOOBIG:
		return "record too large";
	case WH_ERR_PAUSED:
		return "capture paused by the central platform";
	}
	return "unknown error";
}
