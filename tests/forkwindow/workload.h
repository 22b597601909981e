/*
 * The fork-window workload: two threads accepting in a loop, a third
 * dialing them without pause, and the calling thread making children that
 * exec report_sockets, which lists the sockets it inherited. A socket in
 * that list that one of the threads accepted went through the window
 * between accept and close-on-exec.
 */
#ifndef A4S_FORKWINDOW_WORKLOAD_H
#define A4S_FORKWINDOW_WORKLOAD_H

#include <stdbool.h>

/* How a child is made. The first five are the library's to cover. */
enum w_spawn {
	W_FORK,
	W_VFORK,
	W_UFORK, /* _Fork() */
	W_POSIX_SPAWN,
	W_POSIX_SPAWNP,
	W_SYSTEM, /* the C library's own children: beyond an interposer */
	W_POPEN,
	W_CLONE, /* the raw system call */
	W_SPAWNS
};

/* How the threads accept. */
enum w_accept {
	W_ACCEPT4_CLOEXEC, /* accept4(SOCK_CLOEXEC) */
	W_ACCEPT_ADDED,    /* accept(), with ACCEPT4SHIM_ADD_FLAGS=SOCK_CLOEXEC */
	W_OWN_EMULATION,   /* the program's own accept + fcntl(F_SETFD): the control */
	W_ACCEPTS
};

struct w_config {
	enum w_spawn spawn;
	enum w_accept accept;
	bool nonblocking; /* the listener */
	int children;
};

struct w_result {
	long children;
	long leaked;      /* accepted sockets the children reported */
	long unexplained; /* sockets reported that no thread accepted */
	long accepted;    /* connections the threads accepted in all */
	long meanwhile;   /* ... while children were being made */
};

const char *w_spawn_name(enum w_spawn s);
const char *w_accept_name(enum w_accept a);

/* Runs the workload in this process (threads included) and fills *r.
 * Use T_ASSERT-style failure reporting. */
void w_run(const struct w_config *c, struct w_result *r);

#endif
