/*
 * sandbox POLICY PROGRAM [ARG]...: runs PROGRAM under a seccomp filter that
 * fails the system calls POLICY names ("statx=ENOSYS,futex=EPERM", see
 * case.h's refuse_from), as a sandbox (systemd's SystemCallFilter, a
 * container runtime) would: the filter is in place before PROGRAM, and the
 * library preloaded into it, start. Used by the cases that refuse each
 * system call the library makes.
 */
#include "case.h"

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: sandbox POLICY PROGRAM [ARG]...\n");
		return 99;
	}
	refuse_from(argv[1]);
	execv(argv[2], argv + 2);
	fprintf(stderr, "sandbox: %s: %s\n", argv[2], strerror(errno));
	return 127;
}
