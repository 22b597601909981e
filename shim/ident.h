/*
 * What a descriptor is: its type, device and inode (the identity the trace
 * checks before every record), and on request its size, owner and links.
 */
#ifndef A4S_IDENT_H
#define A4S_IDENT_H

#include <stdbool.h>

#include "sys.h"

struct a4s_ident {
	unsigned type; /* the S_IFMT bits */
	unsigned long long dev, ino;
	unsigned long long size; /* with A4S_ID_SIZE */
	unsigned uid, nlink;     /* with A4S_ID_OWNER */
};

#define A4S_ID_SIZE 1u
#define A4S_ID_OWNER 2u

/* fd's identity, plus what `want` asks for; 0 or -errno. path: NULL, or a
 * path looked up without following a final symbolic link (fd is then
 * AT_FDCWD). */
A4S_HIDDEN int a4s_identify(int fd, const char *path, unsigned want, struct a4s_ident *id);

/* The same for a descriptor, with its size: the check before every record,
 * kept lean. */
A4S_HIDDEN int a4s_identify_fd(int fd, struct a4s_ident *id);

static inline bool a4s_same_file(const struct a4s_ident *a, unsigned long long dev,
				 unsigned long long ino)
{
	return a->dev == dev && a->ino == ino;
}

#endif
