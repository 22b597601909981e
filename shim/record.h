/*
 * One trace record, formatted into a caller's buffer as one line (JSON or
 * text) ending in '\n'.
 */
#ifndef A4S_RECORD_H
#define A4S_RECORD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "addrfmt.h"
#include "config.h"
#include "digits.h"
#include "flags.h"
#include "timefmt.h"

struct a4s_record {
	struct timespec ts; /* wall clock at return */
	int pid, tid;
	bool is_accept4;
	int listen_fd;
	const struct sockaddr *local; /* NULL: unknown */
	socklen_t local_len;
	int flags;  /* as the caller asked */
	int fd;     /* result */
	int err;    /* errno of a failure, 0 on success */
	const struct sockaddr *peer; /* NULL: unknown or failure */
	socklen_t peer_len;
	bool emulated;
	unsigned retries;
	uint64_t dur_ns;
};

/*
 * The most a record can take (and the most the formatter touches), in
 * JSON, its longer form: the keys and punctuation of the longest record,
 * then each value at its widest. An address is quoted or null; the errno
 * is a quoted name (15 at most: ENOTRECOVERABLE) or number, or null.
 */
#define A4S_RECORD_PUNCT                                                          \
	(sizeof("{\"ts\":\"" "\",\"pid\":" ",\"tid\":" ",\"call\":\"accept4\",\"listen_fd\":" \
		",\"local\":" ",\"flags\":\"" "\",\"fd\":" ",\"errno\":" ",\"peer\":"   \
		",\"how\":\"emulated\",\"retries\":" ",\"dur_ns\":" "}\n") - 1)
#define A4S_RECORD_ERRNO_MAX (2 + (A4S_I32_MAX_CHARS > 15 ? A4S_I32_MAX_CHARS : 15))
/* The pid and tid are copied from a memo of 32 bytes, more than they take. */
#define A4S_RECORD_IDS_MAX 32
#define A4S_RECORD_WORST                                                       \
	(A4S_RECORD_PUNCT + A4S_RFC3339_MAX + A4S_RECORD_IDS_MAX + 2 * A4S_I32_MAX_CHARS + \
	 2 * (2 + A4S_SOCKADDR_MAX) + A4S_FLAGS_MAX + A4S_RECORD_ERRNO_MAX +  \
	 A4S_U32_MAX_CHARS + A4S_U64_MAX_CHARS)

/* What a caller's buffer should hold: a buffer this large (the trace's is
 * on the stack) takes every record, with one bounds check per record. */
#define A4S_RECORD_MAX 2048
_Static_assert(A4S_RECORD_WORST <= A4S_RECORD_MAX, "a record may not fit A4S_RECORD_MAX");

/* Returns the line's length, or 0 if it did not fit in size (nothing is
 * then written to buf). */
A4S_HIDDEN size_t a4s_format_record(const struct a4s_record *r,
				    enum a4s_log_format fmt, char *buf, size_t size);

#endif
