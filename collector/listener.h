/*
 * The collector's unix socket, made so that nobody else can put it or take
 * it: in a directory that belongs to us (or root) and that no one else may
 * write, bound through a descriptor of that directory so that a path
 * swapped in between does not matter, never in place of anything but a
 * stale socket. Mode 0600 (our own user's hosts) or, for a collector run as
 * root, which serves every user, 0666: then the directory's mode says who
 * may reach it.
 */
#ifndef A4S_COLLECTOR_LISTENER_H
#define A4S_COLLECTOR_LISTENER_H

#include <sys/types.h>

struct a4s_listener {
	int fd;
	int dirfd;
	char name[108];
	dev_t dev;
	ino_t ino;
};

/* 0, or -1 with *why filled in (a line for the operator). */
int a4s_listener_open(struct a4s_listener *l, const char *path, char *why, size_t why_size);
/* Closes the socket and removes its file, if the file is still ours. */
void a4s_listener_close(struct a4s_listener *l);

#endif
