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

#include <sys/socket.h>

#include "sys.h"

/* The new socket with FD_CLOEXEC set, or -errno (EAGAIN, EINTR, and
 * whatever accept or the F_SETFD answered; after a failed F_SETFD the
 * socket is closed). */
A4S_HIDDEN int a4s_window_accept(int fd, struct sockaddr *addr, socklen_t *addrlen);

/* In a new process (fork, _Fork, clone): the gate and the claims as if no
 * thread had ever passed; the other threads do not exist here. */
A4S_HIDDEN void a4s_window_new_process(void);

#endif
