/*
 * The collector's own trace destinations: a file, its stderr, syslog. The
 * same rules as the library's (SPEC, "Destinations, as operators use
 * them"), by the library's own code where it applies: a file is opened by
 * a4s_safe_open (no symbolic link in its path, an existing one used only if
 * it is a regular file, FIFO or character device of ours with one link, a
 * new one created 0600) and watched for rotation by a4s_identify; what goes
 * wrong is an a4s_cause, said in the library's words (complain.c). Never a
 * blocking write.
 */
#ifndef A4S_COLLECTOR_DESTINATION_H
#define A4S_COLLECTOR_DESTINATION_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "complain.h"
#include "options.h"

enum a4s_cdest_write { A4S_CDEST_STREAM, A4S_CDEST_PIPE, A4S_CDEST_DATAGRAM };

struct a4s_cdest {
	int fd;
	enum a4s_cdest_write how; /* datagram: one record per write */
	bool regular;             /* a regular file: rotation is watched */
	bool socket;              /* a stream socket: send, never a blocking write */
	unsigned long long dev, ino;
};

/* Opens kind (A4S_OUT_FILE: path, already expanded; stderr; syslog). 0, or
 * -errno with *why saying what is wrong. */
int a4s_cdest_open(struct a4s_cdest *d, enum a4s_out_kind kind, const char *path,
		   struct a4s_cause *why);
void a4s_cdest_close(struct a4s_cdest *d);
/* One write (or one datagram) without blocking; what the call returned:
 * bytes written or -errno. */
long a4s_cdest_write(const struct a4s_cdest *d, const void *buf, size_t len);
/* A regular file whose path no longer names it (renamed or removed, as
 * logrotate does): true, and the caller opens the path anew. */
bool a4s_cdest_moved(const struct a4s_cdest *d, const char *path);

#endif
