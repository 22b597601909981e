/*
 * The accept and accept4 that the program would have called without us: the
 * next definitions in the symbol search order (normally the C library's, or
 * another interposer's that was preloaded after us).
 */
#ifndef A4S_REAL_H
#define A4S_REAL_H

#include <sys/socket.h>

#include "sys.h"

/* Looks both up once; safe to call from any thread, any number of times,
 * also before our constructor has run. */
A4S_HIDDEN void a4s_real_bind(void);

/* Both return the new descriptor or -errno. A C library without accept4
 * answers -ENOSYS, just as a kernel without it does. */
A4S_HIDDEN int a4s_real_accept(int fd, struct sockaddr *addr, socklen_t *len);
A4S_HIDDEN int a4s_real_accept4(int fd, struct sockaddr *addr, socklen_t *len,
				int flags);

#endif
