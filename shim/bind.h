/*
 * How the library reaches the C library's accept and accept4: the one thing
 * that differs between its two builds, each made of the same objects plus
 * one of these bindings.
 *
 *  - Preloaded (libaccept4shim.so, bind_next.c): the program's calls find
 *    our accept and accept4 first in the symbol search order; the real ones
 *    are the next definitions, found with dlsym(RTLD_NEXT).
 *  - Linked in (libaccept4shim.a, bind_wrap.c), for programs linked with
 *    -Wl,--wrap=accept -Wl,--wrap=accept4, statically or not: the linker
 *    sends the program's calls to __wrap_accept and __wrap_accept4 (our
 *    entry points, renamed when the archive is made) and names the real
 *    ones __real_accept and __real_accept4. No dynamic linker is involved.
 *
 * real.c turns what these return into the library's -errno convention.
 */
#ifndef A4S_BIND_H
#define A4S_BIND_H

#include <sys/socket.h>

#include "sys.h"

typedef int a4s_accept_fn(int, struct sockaddr *, socklen_t *);
typedef int a4s_accept4_fn(int, struct sockaddr *, socklen_t *, int);

/* Binds both once; safe from any thread, any number of times, also before
 * our constructor has run. */
A4S_HIDDEN void a4s_bind(void);

/* The real functions, never NULL: one that the C library lacks is a stand-in
 * that fails with ENOSYS, as a kernel without the call would. */
A4S_HIDDEN a4s_accept_fn *a4s_bound_accept(void);
A4S_HIDDEN a4s_accept4_fn *a4s_bound_accept4(void);

#endif
