/*
 * A trace destination: opening the configured file, the program's stderr
 * or syslog on a descriptor of our own (high, close-on-exec), and telling
 * what a descriptor is, so that a number the program took back is noticed.
 */
#ifndef A4S_DEST_H
#define A4S_DEST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"

/* How a record is written to the descriptor. */
enum a4s_dest_kind {
	A4S_DEST_WRITE,  /* regular file, terminal, /dev/null: a plain write */
	A4S_DEST_PIPE,   /* a write that could raise SIGPIPE */
	A4S_DEST_SOCKET, /* send with MSG_NOSIGNAL | MSG_DONTWAIT */
};

/* A descriptor of ours and what it is. */
struct a4s_dest {
	int fd;
	enum a4s_dest_kind kind;
	unsigned long long dev, ino;
};

/* At load: remembers fd 2 as the program was started with it; only that
 * one is ever taken as the program's stderr. */
A4S_HIDDEN void a4s_dest_note_stderr(void);
/* Opens the configured destination, moved high if asked; d->fd < 0 (a
 * -errno) when it cannot. */
A4S_HIDDEN void a4s_dest_open(struct a4s_dest *d, const struct a4s_config *cfg, bool high);
/* A descriptor of our own on the program's stderr, or -errno. */
A4S_HIDDEN int a4s_dest_open_stderr(void);
/* The file type, device and inode of fd; 0 or -errno. */
A4S_HIDDEN int a4s_dest_identify(int fd, mode_t *type, unsigned long long *dev,
				 unsigned long long *ino);

/* Pure, for the tests: the path with %p replaced by pid and %% by %.
 * Returns false if the result does not fit. */
A4S_HIDDEN bool a4s_expand_path(const char *pattern, int pid, char *out, size_t size);

#endif
