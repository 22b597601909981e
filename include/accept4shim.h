/*
 * accept4shim: the public face of libaccept4shim.so.
 *
 * The library is meant to be preloaded (LD_PRELOAD) into programs that are
 * not rebuilt; this header is for the few programs and test suites that want
 * to ask it questions from the inside. Besides the two functions it
 * interposes, accept(2) and accept4(2), the library exports only the names
 * declared here, all beginning with accept4shim_.
 *
 * A program that declares these functions weak can run with or without the
 * library preloaded:
 *
 *     #pragma weak accept4shim_version
 *     if (accept4shim_version) puts(accept4shim_version());
 */
#ifndef ACCEPT4SHIM_H
#define ACCEPT4SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ACCEPT4SHIM_VERSION_MAJOR 0
#define ACCEPT4SHIM_VERSION_MINOR 1
#define ACCEPT4SHIM_VERSION_PATCH 0
#define ACCEPT4SHIM_VERSION_STRING "0.1.0"
/* One number that grows with every release: 0x00MMmmpp. */
#define ACCEPT4SHIM_VERSION_NUMBER \
	((ACCEPT4SHIM_VERSION_MAJOR << 16) | (ACCEPT4SHIM_VERSION_MINOR << 8) | \
	 ACCEPT4SHIM_VERSION_PATCH)

/* The version of the library actually loaded, e.g. "0.1.0". */
const char *accept4shim_version(void);

/* Errors are counted by errno value below this bound (Linux's errno values
 * end well below it); anything larger is counted in errors[0]. */
#define ACCEPT4SHIM_ERRNO_SLOTS 160

/*
 * Counters of every interposed call since the process started (or, in a
 * forked child, since the fork: each process counts its own calls).
 * They are kept whether or not tracing is on.
 */
struct accept4shim_stats {
	uint64_t calls;         /* accept and accept4 calls that returned */
	uint64_t accepted;      /* ... with a new socket */
	uint64_t failed;        /* ... with -1 */
	uint64_t emulated;      /* calls in which the library set flags itself */
	uint64_t retried_calls; /* calls that retried at least once */
	uint64_t retries;       /* failed accepts retried, in all calls */
	uint64_t dropped;       /* trace records that could not be written */
	uint64_t errors[ACCEPT4SHIM_ERRNO_SLOTS]; /* failures by errno value */
};

/*
 * Copies the counters into *out. size is sizeof(*out) as the caller was
 * built with, so that a newer library can serve an older program.
 * Returns 0, or -1 with errno EINVAL when out is NULL or size too small.
 * Async-signal-safe.
 */
int accept4shim_get_stats(struct accept4shim_stats *out, size_t size);

/*
 * The configuration in force in this process, as one line of key=value
 * words in a fixed order, e.g.
 *   "mode=emulate inherit=linux retry=off add_flags=SOCK_CLOEXEC log=file
 *    log_format=json stats=0"
 * (values as the ACCEPT4SHIM_* variables spell them; log as its kind:
 * none, stderr, syslog or file; add_flags as the trace names flags). Newer
 * versions may add words at the end. What a bad value fell back to, or
 * what a set-user-ID process ignored, shows here. NULL while another thread
 * is still loading the library. Async-signal-safe.
 */
const char *accept4shim_config(void);

/*
 * The symbolic name of an errno value ("EAGAIN"), as the trace writes it,
 * or NULL for a value the library does not know.
 */
const char *accept4shim_errno_name(int err);

#ifdef __cplusplus
}
#endif

#endif /* ACCEPT4SHIM_H */
