/*
 * What the collector's suites share: a collector started in a private
 * directory of its own (as a given user, its stderr kept in a file), test
 * hosts (a4s_fakehost) driven through their stdin and stdout, and reading
 * what came out. T_ASSERT throughout (harness.h).
 */
#ifndef A4S_TEST_CKIT_H
#define A4S_TEST_CKIT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "harness.h"

struct ck_collector {
	pid_t pid;
	char dir[256];  /* private to this collector, removed by ck_cleanup */
	char sock[300]; /* dir/sock */
	char err[300];  /* its stderr */
};

/* A fresh directory (mode 0700, owned by uid) for a collector's socket and
 * its files. */
void ck_dir(struct ck_collector *c, uid_t uid);
/* Starts accept4shim-collector --socket=c->sock ARGS... as uid (0: root),
 * and waits until it listens. Returns false if it exited instead (its
 * status in *status). */
bool ck_start(struct ck_collector *c, uid_t uid, const char *const args[], int *status);
/* SIGTERM, and its exit status (as t_run gives it). */
int ck_stop(struct ck_collector *c);
/* The collector's stderr so far, NUL-terminated (static buffer). */
const char *ck_stderr(const struct ck_collector *c);
/* Removes the directory and everything in it. */
void ck_cleanup(struct ck_collector *c);

struct ck_host {
	pid_t pid;
	int in, out; /* its stdin and stdout */
};

/* a4s_fakehost --socket=SOCK ARGS... as uid. */
void ck_host(struct ck_host *h, const char *sock, uid_t uid, const char *const args[]);
/* argv[0] (a path) with exactly the environment env (NULL-terminated), as
 * uid, driven like a test host; its stderr into the file err_path (NULL:
 * the test's). */
void ck_spawn(struct ck_host *h, uid_t uid, const char *const argv[], const char *const env[],
	      const char *err_path);
/* Its next line of output (without '\n'), waiting at most timeout_ms;
 * false at the end of its output or on timeout. */
bool ck_host_line(struct ck_host *h, char *buf, size_t size, int timeout_ms);
/* Its next line, which must start with want; returns the number after it. */
long ck_host_expect(struct ck_host *h, const char *want);
/* Lets a "wait" action go on. */
void ck_host_go(const struct ck_host *h);
/* Its exit status: 0.., or 128 + signal. */
int ck_host_wait(struct ck_host *h);

/* The whole file, NUL-terminated, malloc'd; NULL if it does not exist. */
char *ck_read(const char *path, size_t *len);
/* got and want hold the same bytes; if not, the first line that differs
 * is said (Check cannot carry whole files in a message). */
void ck_same(const char *got, const char *want);
/* Lines of buf containing word (NULL: all lines). */
long ck_lines(const char *buf, const char *word);
/* buf with the lines containing word left out (malloc'd). */
char *ck_without(const char *buf, const char *word);
/* The number after key in the last line containing word (a summary's
 * "dropped":N or dropped=N), or -1. */
long ck_field(const char *buf, const char *word, const char *key);

/* journald of the test's own (use inside t_in_child): a private mount
 * namespace, in which a tmpfs over /run holds journald's sockets and
 * volatile journal; systemd-journald (program) started there. */
#define CK_JOURNALD_SOCKET "/run/systemd/journal/socket"
void ck_private_mounts(void);
pid_t ck_start_journald(const char *program);
/* journalctl -o json MATCH into path; the number of entries. */
long ck_journal(const char *match, const char *path);
/* Once journald has at least `want` entries matching (the case's timeout
 * is the deadline), how many it has. */
long ck_journal_settled(const char *match, const char *path, long want);

/* Paths of the programs under test. */
#define CK_COLLECTOR A4S_COLLECTOR_PROGRAM
#define CK_FAKEHOST A4S_FAKEHOST_PROGRAM

#endif
