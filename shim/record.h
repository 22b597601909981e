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

#include "config.h"

/* Large enough for the longest record: two AF_UNIX names of 108 bytes, each
 * byte escaped to six characters, and every other field at its widest. */
#define A4S_RECORD_MAX 2048

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

/* Returns the line's length, or 0 if it did not fit in size. */
A4S_HIDDEN size_t a4s_format_record(const struct a4s_record *r,
				    enum a4s_log_format fmt, char *buf, size_t size);

#endif
