/*
 * The emulated accept4(SOCK_CLOEXEC): accept, then FD_CLOEXEC, with no
 * child made in between by another thread (docs/fork-window.md).
 *
 * The two steps run inside the fork-window gate (gate.h), and only ever
 * around an accept that does not block: the kernel reserves the new
 * descriptor's number when accept starts to wait and installs the socket
 * when a connection comes, so a fork that copied the table during a
 * blocked accept would get the socket without the flag, and a gate held
 * across that wait would hold up every fork until the next connection. On a
 * blocking listener the wait is therefore done first, outside the gate
 * (readiness.h), and one thread of the process at a time then accepts
 * inside it (claim.h).
 */
#ifndef A4S_WINDOW_H
#define A4S_WINDOW_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "gate.h"
#include "real.h"
#include "sys.h"

/*
 * Whether a listener blocks, by descriptor number (window.c says how it is
 * learnt and trusted): the common case, a listener known not to block, is
 * inline, as the emulated accept4 pays it on every call.
 */
enum a4s_listener_kind { A4S_KIND_UNKNOWN, A4S_KIND_NONBLOCKING, A4S_KIND_BLOCKING };
enum { A4S_WINDOW_KINDS = 65536 };
A4S_HIDDEN extern _Atomic unsigned char a4s_window_kinds[A4S_WINDOW_KINDS];

/* The rest of a4s_window_accept: a listener not known not to block. Its
 * wait goes through the C library's poll; errno is put back on success. */
A4S_HIDDEN int a4s_window_accept_slow(int fd, struct sockaddr *addr, socklen_t *addrlen);
/* A writer gave up waiting for our stay in the window on fd: the accept
 * blocked after all, so the listener's kind is looked at again. */
A4S_HIDDEN void a4s_window_blocked_after_all(int fd);

/* The window itself. The socket is closed inside, when the flag cannot be
 * set, so that it never reaches a child either. */
static inline __attribute__((always_inline)) int a4s_window_gated_accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	struct a4s_gate_pass pass;
	a4s_gate_read_begin(&pass);
	int s = a4s_real_accept(fd, addr, addrlen);
	if (s >= 0) {
		int r = a4s_fcntl(s, F_SETFD, FD_CLOEXEC);
		if (r < 0) {
			a4s_close(s);
			s = r;
		}
	}
	if (__builtin_expect(a4s_gate_read_end(&pass), 0))
		a4s_window_blocked_after_all(fd);
	return s;
}

/* The new socket with FD_CLOEXEC set, or -errno (EAGAIN, EINTR, and
 * whatever accept or the F_SETFD answered; after a failed F_SETFD the
 * socket is closed). */
static inline __attribute__((always_inline)) int a4s_window_accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	/* accept is a cancellation point: a cancel already pending acts
	 * here, where this thread holds nothing of ours. */
	pthread_testcancel();
	if (__builtin_expect((unsigned)fd < A4S_WINDOW_KINDS &&
				     atomic_load_explicit(&a4s_window_kinds[fd],
							  memory_order_relaxed) == A4S_KIND_NONBLOCKING,
			     1))
		return a4s_window_gated_accept(fd, addr, addrlen);
	return a4s_window_accept_slow(fd, addr, addrlen);
}

/* Numbers lo..hi (inclusive) may name other sockets now (numbers.c, after
 * a close, dup2, listen...): what was known of them is forgotten. Atomics
 * only: async-signal-safe, as close is. */
A4S_HIDDEN void a4s_window_forget(int lo, int hi);

/* In a new process (fork, _Fork, clone): the gate and the claims as if no
 * thread had ever passed; the other threads do not exist here. */
A4S_HIDDEN void a4s_window_new_process(void);

#endif
