/*
 * The exported edge for the ways of making a child that run no fork
 * handlers: posix_spawn, posix_spawnp, _Fork and vfork, each a writer's
 * pass through the fork-window gate (children.h) around the real call. Like
 * entry.c, never in the unit tests. In the archive they are __wrap_NAME
 * (bind.h); the real functions are reached through the binding.
 */
#include <errno.h>
#include <spawn.h>
#include <stdint.h>
#include <unistd.h>

#include "bind.h"
#include "children.h"
#include "window.h"

#define A4S_EXPORT __attribute__((visibility("default")))

/* posix_spawn and posix_spawnp: the pass lasts until the real call
 * returns, which with the C library's CLONE_VFORK is when the child has
 * exec'd (or failed to). */
static int spawn_through(a4s_spawn_fn *real, pid_t *restrict pid,
			 const char *restrict file, const posix_spawn_file_actions_t *fa,
			 const posix_spawnattr_t *restrict attr, char *const argv[restrict],
			 char *const envp[restrict])
{
	struct a4s_gate_pass pass;
	a4s_children_begin(&pass);
	int r = real(pid, file, fa, attr, argv, envp);
	a4s_children_end(&pass);
	return r;
}

A4S_EXPORT int posix_spawn(pid_t *restrict pid, const char *restrict path,
			   const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *restrict attr,
			   char *const argv[restrict], char *const envp[restrict])
{
	return spawn_through(a4s_bound_posix_spawn(), pid, path, fa, attr, argv, envp);
}

A4S_EXPORT int posix_spawnp(pid_t *restrict pid, const char *restrict file,
			    const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *restrict attr,
			    char *const argv[restrict], char *const envp[restrict])
{
	return spawn_through(a4s_bound_posix_spawnp(), pid, file, fa, attr, argv, envp);
}

A4S_EXPORT pid_t _Fork(void)
{
	a4s_ufork_fn *real = a4s_bound__Fork();
	struct a4s_gate_pass pass;
	a4s_children_begin(&pass);
	pid_t pid = real();
	if (pid == 0) {
		/* No handler runs in _Fork's child: start the gate afresh
		 * here, as the fork handler does for fork's. */
		a4s_window_new_process();
		return 0;
	}
	a4s_children_end(&pass);
	return pid;
}

/*
 * vfork. The child runs on its parent's stack until it execs or exits, and
 * returns from vfork into the caller, whose later calls overwrite whatever
 * lay below the caller's stack pointer: a C wrapper's frame, return address
 * included, would be gone by the time the parent returns through it. So
 * vfork is a few instructions of assembly (vfork.c), which keep
 * what they need across the system call in registers, as the C library's
 * own vfork does, and call these two around it:
 *  - a4s_vfork_begin takes the writer's pass, returned in two registers;
 *  - a4s_vfork_end ends it and turns the system call's result into the C
 *    convention. The child calls it first, right after the descriptor table
 *    was copied, so that threads waiting to accept go on while the child
 *    runs; its parent calls it again when the child has exec'd or exited,
 *    which does nothing more (gate.h). Both leave errno as it was on
 *    success: the child shares the parent's.
 */
struct vfork_pass {
	uint64_t word;
	int64_t slot;
};

A4S_HIDDEN struct vfork_pass a4s_vfork_begin(void);
A4S_HIDDEN long a4s_vfork_end(uint64_t word, int64_t slot, long result);

struct vfork_pass a4s_vfork_begin(void)
{
	struct a4s_gate_pass pass;
	a4s_children_begin(&pass);
	return (struct vfork_pass){ pass.word, pass.slot };
}

long a4s_vfork_end(uint64_t word, int64_t slot, long result)
{
	struct a4s_gate_pass pass = { .slot = (int)slot, .word = word };
	a4s_children_end(&pass);
	if (result < 0 && result > -4096) {
		errno = (int)-result;
		return -1;
	}
	return result;
}
