/*
 * The configuration: every ACCEPT4SHIM_* variable, parsed once into one
 * read-only struct. Nothing on the call path reads the environment.
 */
#ifndef A4S_CONFIG_H
#define A4S_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sys.h"

enum a4s_mode { A4S_MODE_AUTO, A4S_MODE_NATIVE, A4S_MODE_EMULATE };
enum a4s_inherit { A4S_INHERIT_LINUX, A4S_INHERIT_BSD };
/* A4S_LOG_COLLECTOR: records go to accept4shim-collector through a shared
 * ring (collect.h); log_path is then the collector's socket. */
enum a4s_log_kind { A4S_LOG_NONE, A4S_LOG_STDERR, A4S_LOG_SYSLOG, A4S_LOG_FILE, A4S_LOG_COLLECTOR };
enum a4s_log_format { A4S_FORMAT_TEXT, A4S_FORMAT_JSON };

/* Errno values ACCEPT4SHIM_LOG_SKIP can name: every name in errnames.c is
 * below this (Linux's highest, EHWPOISON, is 133). */
#define A4S_SKIP_BITS 192
/* ACCEPT4SHIM_STATS_INTERVAL's largest value, in seconds: 2^32 - 1 (136
 * years) still fits in nanoseconds in 64 bits. */
#define A4S_STATS_INTERVAL_MAX 4294967295ULL

struct a4s_config {
	enum a4s_mode mode;
	enum a4s_inherit inherit;
	bool retry;
	int add_flags; /* SOCK_NONBLOCK and/or SOCK_CLOEXEC */
	enum a4s_log_kind log_kind;
	/* A4S_LOG_FILE: the path as given, %p not yet expanded;
	 * A4S_LOG_COLLECTOR: the collector's socket. Points into the
	 * environment while parsing; the loader keeps its own copy. */
	const char *log_path;
	enum a4s_log_format log_format;
	/* ACCEPT4SHIM_LOG_SKIP: bit e set when a call that failed with errno
	 * e writes no record (see a4s_log_skips). */
	uint64_t log_skip[A4S_SKIP_BITS / 64];
	bool stats;
	/* ACCEPT4SHIM_STATS_INTERVAL in nanoseconds: 0 for no interval
	 * summaries, which is also what it is unless stats is on, so that the
	 * call path tests one field. */
	uint64_t stats_interval_ns;
};

/* Whether a call that failed with err writes no record: one bit, tested on
 * the call path before anything is formatted. */
static inline bool a4s_log_skips(const struct a4s_config *cfg, int err)
{
	unsigned e = (unsigned)err;
	return e < A4S_SKIP_BITS && (cfg->log_skip[e / 64] >> (e % 64) & 1);
}

/* ACCEPT4SHIM_LOG=collector:PATH; PATH must fit a unix socket's address. */
#define A4S_COLLECTOR_PREFIX "collector:"
#define A4S_COLLECTOR_PATH_MAX 107
/* What ACCEPT4SHIM_LOG (and the wrapper's --log=) accepts, as complaints
 * say it. */
#define A4S_LOG_ACCEPTED \
	"empty, stderr, syslog, an absolute file path, or collector:/absolute/socket/path"

/* Returns the value of a variable or NULL; secure_getenv in the library,
 * a table in the unit tests. */
typedef const char *a4s_lookup_fn(const char *name, const void *ctx);

/* A complaint is one line of at most this many bytes, and there is at most
 * one per variable: a buffer of A4S_COMPLAINTS_MAX holds them all. */
#define A4S_COMPLAINT_MAX 512
#define A4S_COMPLAINTS_MAX (9 * A4S_COMPLAINT_MAX)

/* Where the parser writes its complaints: one line per bad variable, each
 * ending in '\n'. A complaint that does not fit is cut, never split. */
struct a4s_diag {
	char *buf;
	size_t size;
	size_t len;
	int count;
};

/* Fills *cfg from lookup: defaults for unset or empty variables, defaults
 * plus one complaint in *diag for a value that does not parse. */
A4S_HIDDEN void a4s_config_parse(struct a4s_config *cfg, a4s_lookup_fn *lookup,
				 const void *ctx, struct a4s_diag *diag);

/* The single-variable parsers, true when the value is valid. */
A4S_HIDDEN bool a4s_parse_mode(const char *s, enum a4s_mode *out);
A4S_HIDDEN bool a4s_parse_inherit(const char *s, enum a4s_inherit *out);
A4S_HIDDEN bool a4s_parse_retry(const char *s, bool *out);
A4S_HIDDEN bool a4s_parse_add_flags(const char *s, int *out);
A4S_HIDDEN bool a4s_parse_log(const char *s, enum a4s_log_kind *kind,
			      const char **path);
A4S_HIDDEN bool a4s_parse_log_format(const char *s, enum a4s_log_format *out);
A4S_HIDDEN bool a4s_parse_stats(const char *s, bool *out);
A4S_HIDDEN bool a4s_parse_log_skip(const char *s, uint64_t out[A4S_SKIP_BITS / 64]);
A4S_HIDDEN bool a4s_parse_stats_interval(const char *s, uint64_t *ns);

#endif
