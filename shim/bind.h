/*
 * How the library reaches the C library's functions it takes over: the one
 * thing that differs between its two builds, each made of the same objects
 * plus one of these bindings.
 *
 *  - Preloaded (libaccept4shim.so, bind_next.c): the program's calls find
 *    ours first in the symbol search order; the real ones are the next
 *    definitions, found with dlsym(RTLD_NEXT).
 *  - Linked in (libaccept4shim.a, bind_wrap.c), for programs linked with
 *    -Wl,--wrap=NAME for each NAME below, statically or not: the linker
 *    sends the program's calls to __wrap_NAME (ours, renamed when the
 *    archive is made) and names the real one __real_NAME. No dynamic linker
 *    is involved. accept and accept4 must be wrapped (a program without
 *    them fails to link); the others may be left out, and then keep the C
 *    library's own (bind_stubs.c).
 *
 * The list is the source's half of one list: cmake/parts/archive.cmake's
 * A4S_WRAPPED_FUNCTIONS (the archive's renames and link options) and
 * shim/exports.map (what the preloaded library exports) name the same
 * functions, and tests/library/check_shape.sh holds all three to it.
 */
#ifndef A4S_BIND_H
#define A4S_BIND_H

#include <spawn.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "sys.h"

typedef int a4s_accept_fn(int, struct sockaddr *, socklen_t *);
typedef int a4s_accept4_fn(int, struct sockaddr *, socklen_t *, int);
typedef int a4s_spawn_fn(pid_t *restrict, const char *restrict,
			 const posix_spawn_file_actions_t *, const posix_spawnattr_t *restrict,
			 char *const[restrict], char *const[restrict]);
typedef pid_t a4s_ufork_fn(void);
/* The limits' structures are only passed on, never read: the C library's
 * types stay out of the files that define these names (rlimit.c). */
typedef int a4s_setrlimit_fn(int, const void *);
typedef int a4s_prlimit_fn(pid_t, int, const void *, void *);
typedef long a4s_ulimit_fn(int, ...);

/*
 * X(name, type): what the library takes over.
 *  - accept, accept4: the calls themselves (entry.c);
 *  - posix_spawn, posix_spawnp, _Fork: ways of making a child that run no
 *    fork handlers, each a pass through the fork window (spawn.c; vfork is
 *    assembly and calls no real function, fork is covered by handlers);
 *  - setrlimit and the rest: a change of RLIMIT_FSIZE, which the trace must
 *    know of before the program's next write can meet it (rlimit.c).
 */
#define A4S_REQUIRED_REAL(X)   \
	X(accept, a4s_accept_fn) \
	X(accept4, a4s_accept4_fn)
#define A4S_OPTIONAL_REAL(X)             \
	X(posix_spawn, a4s_spawn_fn)       \
	X(posix_spawnp, a4s_spawn_fn)      \
	X(_Fork, a4s_ufork_fn)             \
	X(setrlimit, a4s_setrlimit_fn)     \
	X(setrlimit64, a4s_setrlimit_fn)   \
	X(prlimit, a4s_prlimit_fn)         \
	X(prlimit64, a4s_prlimit_fn)       \
	X(ulimit, a4s_ulimit_fn)
#define A4S_REAL_FUNCTIONS(X) A4S_REQUIRED_REAL(X) A4S_OPTIONAL_REAL(X)

/* Binds them all once; safe from any thread, any number of times, also
 * before our constructor has run. */
A4S_HIDDEN void a4s_bind(void);

/* a4s_bound_NAME(): the real NAME, never NULL: one that the C library lacks
 * is a stand-in that fails with ENOSYS, as a kernel without the call
 * would (bind_missing.h). */
#define A4S_DECLARE_BOUND(name, type) A4S_HIDDEN type *a4s_bound_##name(void);
A4S_REAL_FUNCTIONS(A4S_DECLARE_BOUND)
#undef A4S_DECLARE_BOUND

#endif
