/*
 * The trace suites' kit. Each suite is one program with two sides: run
 * plainly it is a Check suite; run as `PROGRAM scenario NAME ARG...` (exec'd
 * by a case, with the library preloaded and the case's ACCEPT4SHIM_*
 * variables, which are read once at load) it plays a scenario: makes its
 * calls and prints on stdout, per call, what it did and saw ("facts"). The
 * case then reads the trace with a strict parser (tracecheck.py, Python's
 * json module) and compares records with facts, field by field.
 *
 * Scenarios every suite can run live in scenarios.c; a suite adds its own
 * with a table given to t_trace_main.
 */
#ifndef A4S_TRACEKIT_H
#define A4S_TRACEKIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <accept4shim.h>
#include "harness.h"

#define TRACECHECK A4S_SOURCE_DIR "/tests/trace/tracecheck.py"
#define PYTHON "/usr/bin/python3"
/* The library's bound on retries in one call (shim/retry.h). */
#define RETRY_MAX 128

/* ---- both sides: text ---- */

struct text {
	char *p;
	size_t len, cap;
};
void text_add(struct text *t, const void *s, size_t n);
void text_free(struct text *t);
/* Bytes as tracecheck.py prints strings: safe bytes as they are, the rest
 * as %XX. */
void pct(const void *bytes, size_t n, char *out, size_t size);
/* The field `key` of a "k=v k=v" line, into out; false if absent. */
bool field(const char *line, const char *key, char *out, size_t size);
long long field_ll(const char *line, const char *key);
/* The lines of a text that start with prefix, in order, as pointers into a
 * copy. */
struct lines {
	char **v;
	size_t n;
	char *copy;
};
void lines_of(const char *s, const char *prefix, struct lines *l);
void lines_free(struct lines *l);
int self_tid(void);
uint64_t realtime_us(void);
uint64_t monotonic_ns(void);
/* Descriptors of this process whose target (as /proc/self/fd shows it:
 * a path, "pipe:[INODE]") is `target`: how many, and in *highest (if not
 * NULL) the highest number, -1 for none. Looked up number by number with
 * readlink, which needs no descriptor of its own (opendir does). */
int fds_on(const char *target, int *highest);
/* A datagram socket bound at /dev/log (in a private /dev), and how many
 * datagrams wait on it. */
int bind_dev_log(void);
int datagrams(int s);

/* ---- the scenario side (scenarios.c) ---- */

struct t_scenario {
	const char *name;
	void (*run)(int argc, char **argv); /* argv[3] and on: its arguments */
};
int t_scenario_main(int argc, char **argv, const struct t_scenario *own);
extern int t_errno_at_start;

/* One line on stdout with one write, so lines from forked children never
 * mix. */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
enum how { NATIVE, EMULATED };
/* One call as the program would make it, and its fact line "call ...". */
int traced(bool is4, int lfd, struct sockaddr *addr, socklen_t *addrlen, int flags,
	   enum how how, unsigned retries);
/* A client connected to l from this process (it lands in the queue). */
int client_to(const struct t_listener *l);
const char *env_or(const char *name, const char *dflt);
/* fn(arg) in a forked child of the scenario, which must exit 0. */
void in_fork(void (*fn)(void *), void *arg);
void one_accept(const struct t_listener *l, int flags);
void get_stats(struct accept4shim_stats *s);
/* n accepts, errno and results checked, then an EAGAIN: n + 1 calls. */
void accepts_unchanged(const struct t_listener *l, int n);
/* This program again, as scenario `name`, with env. */
void exec_scenario(const char *name, char **env);
void sigpipe_setup(const char *how);
void sigpipe_verdict(const char *how);
extern const char abstract_name[22];
extern const char path_name[20];
void listen_named(struct t_listener *l, const char *name, size_t n);

/* ---- the test side (tracekit.c) ---- */

struct proc {
	pid_t pid;
	int out, err; /* our ends, -1 when not captured */
};
struct result {
	int status; /* exit status, 128 + signal, or -1 on timeout */
	struct text out, err;
};
/*
 * Starts argv (argv[0] a path) with the variables in vars plus PATH and,
 * unless vars name it, LD_PRELOAD=<the library>. stdin is in_fd (or
 * /dev/null), stderr is err_fd, a pipe to us (-1) or closed (-2).
 */
void spawn(struct proc *p, const char *const *argv, const char *const *vars, int in_fd,
	   int err_fd);
/* Reads stdout (and stderr if ours) to the end and reaps the child. */
void collect(struct proc *p, struct result *r, int timeout_ms);
void run_scenario(struct result *r, const char *const *vars, const char *name,
		  const char *arg1, const char *arg2);
void expect_ok(const struct result *r, const char *what);
/* tracecheck.py over a file: the flattened records ("rec k=v ...",
 * "summary k=v ...", with --skip-bad "bad ..."), or the test fails. */
void tracecheck(struct result *r, const char *file, bool skip_bad);
/* A fresh directory under /tmp, and its removal with the files in it. */
void temp_dir(char *dir, size_t size);
/* A fresh directory, the trace file `name` in it, and the variable that
 * sends the trace there. */
void temp_trace(char dir[64], char trace[128], char v_log[160], const char *name);
void remove_dir(const char *dir);
void read_file(const char *path, struct text *t);
void write_file(const char *path, const char *s, size_t n);
uint64_t ts_us(const char *ts);
/* Each record against the fact of the same call, field by field. */
void compare(const struct lines *facts, const struct lines *recs);
/* A text record as "rec k=v ..." in tracecheck.py's form. */
void text_to_rec(const char *line, struct text *out);
bool write_to(const char *path, const char *text);
/* This process in a mount namespace of its own, where mounts stay. */
bool private_mounts(void);
/* In a mount namespace with a tmpfs over /dev: our own /dev/log. */
void private_dev(void);

/* main() of a trace suite: `return t_trace_main(errno, argc, argv, own,
 * make_suite);` (errno as main() found it, for the "errno" scenario). */
int t_trace_main(int err_at_start, int argc, char **argv, const struct t_scenario *own,
		 Suite *(*suite)(void));

#endif
