/*
 * The listening sockets' own addresses, kept by descriptor number, so that
 * a traced accept does not ask getsockname(listen_fd) every time (the
 * record's "local"): a traced accept is then the accept, getpeername, the
 * trace's statx and its write (docs/performance.md).
 *
 * A cached address must never be wrong, and a program can make a number
 * name another socket at any time: close it and open another listener that
 * gets the same number, dup2 another listener onto it, close a range. Or
 * give one listening socket another address without a new socket:
 * shutdown() stops a listener, and listen() again binds a port anew where
 * the first listen chose it. How the cache knows (listeners.c has the
 * protocol, docs/performance.md the argument):
 *
 *  - Every C library call through which a number can come to name another
 *    socket, or a listener another address, is interposed (numbers.c:
 *    close, close_range, closefrom, dup2, dup3, listen) and pins the
 *    numbers it touches from before the real call until after it returns,
 *    which empties their entries: no record uses or fills an entry while
 *    its number may be changing, and none uses what was there before. Any
 *    other way for a number to name a new socket (socket, accept, dup,
 *    F_DUPFD, SCM_RIGHTS, pidfd_getfd) takes a free number, which a close
 *    made free.
 *  - An entry is filled only by a record whose call proved the number a
 *    listening socket (a new connection, or EAGAIN), with what getsockname
 *    says once the fill is claimed; a record of any other outcome asks the
 *    kernel, as before.
 *  - What the C library cannot see (a raw close system call, io_uring, a
 *    thread whose descriptor table is not shared with the others) is
 *    caught two ways: a traced accept that returns number N proves that
 *    whatever the cache held for N is gone, and every entry is checked
 *    against getsockname again once it is a second old. So that residue is
 *    bounded: at most a second, for a program that replaces a listener
 *    behind the C library's back and puts another listener at the same
 *    number without listen().
 *
 * The cache works only where the calls are interposed: in the preloaded
 * library (numbers.c says it is there at load), not in the static archive,
 * whose records ask getsockname every time. Numbers from
 * A4S_LISTENERS up are not cached.
 */
#ifndef A4S_LISTENERS_H
#define A4S_LISTENERS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sys.h"

enum { A4S_LISTENERS = 1024 };

/* At load: whether records are written (the cache is for them alone). */
A4S_HIDDEN void a4s_listeners_configure(bool tracing);
/* At load, by numbers.c: the calls that change numbers are interposed. */
A4S_HIDDEN void a4s_listeners_watched(void);

/* Around a call that may make numbers lo..hi (inclusive) name another
 * socket, or the socket they name another address: before it, and after it
 * has returned, whatever it returned. Async-signal-safe, no errno. */
A4S_HIDDEN void a4s_listeners_pin(int lo, int hi);
A4S_HIDDEN void a4s_listeners_unpin(int lo, int hi);
/* Whether pins are needed at all (a process that writes no record, or
 * the archive, never pins): one load. */
A4S_HIDDEN bool a4s_listeners_active(void);

/*
 * The address of the socket at fd, for the record of an accept on it that
 * returned result (the new fd or -errno), at monotonic time now_ns: into
 * *out, its length returned; 0 when it cannot be had (getsockname failed:
 * no local address in the record, as before).
 */
A4S_HIDDEN socklen_t a4s_listener_address(int fd, int result, uint64_t now_ns,
					  struct sockaddr_storage *out);

#endif
