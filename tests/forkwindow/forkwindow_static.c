/*
 * Issue 15 in a static program: the fork-window workload (workload.h)
 * linked with the archive and its --wrap options (accept4shim::wrap),
 * glibc -static and musl-gcc -static, run by tests/reach with
 * ACCEPT4SHIM_MODE=emulate. Every child made by fork, vfork, _Fork,
 * posix_spawn and posix_spawnp, from a blocking and a non-blocking
 * listener, while two threads accept4(SOCK_CLOEXEC): none may inherit an
 * accepted socket. The control, the program's own accept + fcntl, must
 * leak, so that a 0 is never the detector's blindness.
 *
 * The same proofs as test_forkwindow, without Check: the archive is in the
 * program and configured so (accept4shim_config), it emulated every
 * accept, and no fork gave up waiting. Prints one line per combination;
 * exits 0 when all hold, 1 with "FAIL ..." otherwise.
 *
 *   forkwindow_static [CHILDREN]      (default 200 per combination)
 *   A4S_REPORT_SOCKETS=PATH           the report_sockets helper
 *
 * With musl, system() and popen() too: their posix_spawn is wrapped as
 * well. "measure" runs system() and popen() children and only prints what
 * they inherited (glibc's use an internal spawn; docs/fork-window.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <accept4shim.h>
#include "workload.h"
#include "workload_support.h"

/* Weak: without the archive the program says so rather than not link. */
#pragma weak accept4shim_config
#pragma weak accept4shim_get_stats

static void stats(struct accept4shim_stats *s)
{
	memset(s, 0, sizeof(*s));
	T_ASSERT(accept4shim_get_stats && accept4shim_get_stats(s, sizeof(*s)) == 0,
		 "the library is not in this program");
}

static void run(const struct w_config *c, struct w_result *r)
{
	struct accept4shim_stats before, after;
	stats(&before);
	w_run(c, r);
	stats(&after);
	printf("%-13s %-12s %-42s children %5ld  leaked %4ld  unexplained %ld  accepted %ld "
	       "(%ld meanwhile)\n",
	       w_spawn_name(c->spawn), c->nonblocking ? "non-blocking" : "blocking",
	       w_accept_name(c->accept), r->children, r->leaked, r->unexplained, r->accepted,
	       r->meanwhile);
	fflush(stdout);
	T_ASSERT(r->children == c->children, "%ld children of %d", r->children, c->children);
	T_ASSERT(r->unexplained == 0, "%ld sockets no thread accepted reached children",
		 r->unexplained);
	T_ASSERT(r->meanwhile >= c->children, "only %ld accepts while %ld children were made",
		 r->meanwhile, r->children);
	if (c->accept != W_OWN_EMULATION)
		T_ASSERT(after.emulated - before.emulated >= (uint64_t)r->accepted,
			 "%llu calls emulated for %ld accepted",
			 (unsigned long long)(after.emulated - before.emulated), r->accepted);
	T_ASSERT(after.fork_window_timeouts == before.fork_window_timeouts,
		 "%llu children made without waiting for the window",
		 (unsigned long long)(after.fork_window_timeouts - before.fork_window_timeouts));
}

int main(int argc, char **argv)
{
	bool measure = argc > 1 && strcmp(argv[1], "measure") == 0;
	int children = argc > 1 + measure ? atoi(argv[1 + measure]) : 200;
	T_ASSERT(children > 0, "usage: forkwindow_static [measure] [CHILDREN]");
	const char *config = accept4shim_config ? accept4shim_config() : NULL;
	T_ASSERT(config, "the library is not in this program (link it with accept4shim::wrap)");
	T_ASSERT(strstr(config, "mode=emulate"), "configured '%s', run with ACCEPT4SHIM_MODE=emulate",
		 config);
	struct w_result r;
	if (measure) {
		static const enum w_spawn beyond[] = { W_SYSTEM, W_POPEN };
		for (int i = 0; i < 2; i++) {
			struct w_config c = { .spawn = beyond[i], .accept = W_ACCEPT4_CLOEXEC,
					      .children = children };
			run(&c, &r);
		}
		return 0;
	}
	static const enum w_spawn covered[] = { W_FORK, W_VFORK, W_UFORK, W_POSIX_SPAWN,
						W_POSIX_SPAWNP };
	long leaks = 0;
	/*
	 * Every run on a blocking listener before any on a non-blocking one.
	 * Each run's listener gets the descriptor number the last one had,
	 * and the library remembers by number that a listener does not block
	 * (shim/window.c): a blocking listener on a number remembered so makes
	 * one accept block inside the window, and the fork waiting for it give
	 * up and count it, by design (test_gate's stuck_reader case). Here,
	 * with musl's system() and popen() after the non-blocking runs, that
	 * counted as "a child made without waiting" in 1 run of the full suite.
	 */
	for (int nb = 0; nb < 2; nb++) {
		for (int i = 0; i < 5; i++) {
			struct w_config c = { .spawn = covered[i], .accept = W_ACCEPT4_CLOEXEC,
					      .nonblocking = nb, .children = children };
			run(&c, &r);
			leaks += r.leaked;
		}
#ifndef __GLIBC__
		if (nb)
			continue;
		/* musl's system() and popen() make their children with
		 * posix_spawn, and in a static program that reference is the
		 * linker's to wrap too: covered (glibc's call an internal
		 * __posix_spawn instead). */
		static const enum w_spawn by_spawn[] = { W_SYSTEM, W_POPEN };
		for (int i = 0; i < 2; i++) {
			struct w_config c = { .spawn = by_spawn[i], .accept = W_ACCEPT4_CLOEXEC,
					      .children = children };
			run(&c, &r);
			leaks += r.leaked;
		}
#endif
	}
	struct w_config control = { .spawn = W_POSIX_SPAWN, .accept = W_OWN_EMULATION,
				    .children = children };
	run(&control, &r);
	T_ASSERT(r.leaked > 0, "the control leaked into none of %ld children: the workload "
			       "cannot see a leak", r.children);
	T_ASSERT(leaks == 0, "%ld children inherited an accepted socket", leaks);
	printf("ok: no accepted socket reached a child; the control leaked into %ld\n", r.leaked);
	return 0;
}
