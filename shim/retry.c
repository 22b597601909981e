#include "retry.h"

#include <errno.h>

bool a4s_retryable(int err)
{
	switch (err) {
	case ENETDOWN:
	case EPROTO:
	case ENOPROTOOPT:
	case EHOSTDOWN:
	case ENONET:
	case EHOSTUNREACH:
	case EOPNOTSUPP:
	case ENETUNREACH:
	case ECONNABORTED:
		return true;
	default:
		/* EAGAIN ends a non-blocking drain; EINTR belongs to the
		 * program; EMFILE, ENFILE, ENOBUFS, ENOMEM and EPERM would
		 * only fail again, faster. */
		return false;
	}
}

/* The same errors come from a socket that cannot accept at all (accept on
 * UDP gives EOPNOTSUPP): asking SO_ACCEPTCONN once, when the first error is
 * seen, keeps that case from looping without costing the good path a call. */
static bool is_listening(int fd)
{
	int on = 0;
	return a4s_getsockopt_int(fd, SOL_SOCKET, SO_ACCEPTCONN, &on) == 0 && on;
}

int a4s_retry_accept(a4s_attempt_fn *attempt, void *ctx, int listen_fd,
		     socklen_t *addrlen, unsigned *retries)
{
	int r = attempt(ctx);
	if (r >= 0 || !a4s_retryable(-r) || !is_listening(listen_fd))
		return r;

	/*
	 * *addrlen is read only now, after the kernel has had it: a failed
	 * accept leaves it as the caller set it (the kernel writes it only
	 * together with a new socket), so this is the caller's value, and the
	 * good path never touches the caller's memory at all. It is put back
	 * before each attempt in case a layer between us and the kernel (an
	 * interposer preloaded after us) changed it.
	 * The trade-off: a bad addrlen pointer that meets a retryable error
	 * faults here rather than in the kernel. The alternative, a fault-safe
	 * copy through process_vm_readv, is a system call that seccomp
	 * policies such as systemd's @system-service kill the process for.
	 */
	socklen_t saved = addrlen ? *addrlen : 0;

	for (unsigned n = 0; n < A4S_RETRY_MAX; n++) {
		if (addrlen)
			*addrlen = saved;
		(*retries)++;
		r = attempt(ctx);
		if (r >= 0 || !a4s_retryable(-r))
			return r;
	}
	return r;
}
