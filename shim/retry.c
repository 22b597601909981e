#include "retry.h"

#include <errno.h>
#include <sys/syscall.h>
#include <time.h>

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

/*
 * Whether *p can be read without a fault. FUTEX_WAIT reads the word at p in
 * the kernel, with nothing to wake and a zero timeout: EFAULT when it cannot
 * be read, EAGAIN or ETIMEDOUT when it can, and no other effect. A system
 * call every process may make (the C library's locks need it), unlike
 * process_vm_readv, which seccomp policies such as systemd's
 * @system-service refuse.
 */
static bool readable(const socklen_t *p)
{
	struct timespec zero = { 0, 0 };
	return a4s_sysret(syscall(SYS_futex, p, A4S_FUTEX_WAIT_PRIVATE, 0, &zero, NULL, 0)) != -EFAULT;
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
	 * A pointer that cannot be read is left to the kernel, as without the
	 * library: with addr NULL it is never used, otherwise the accept that
	 * gets a connection fails with EFAULT. Reading it here would crash.
	 * One that can be read but not written (the kernel fails that accept
	 * with EFAULT too) is never written, as it never changes.
	 */
	if (addrlen && !readable(addrlen))
		addrlen = NULL;
	socklen_t saved = addrlen ? *addrlen : 0;

	for (unsigned n = 0; n < A4S_RETRY_MAX; n++) {
		/* Only when changed: the kernel would only read a length in
		 * read-only memory, and so may we. */
		if (addrlen && *addrlen != saved)
			*addrlen = saved;
		(*retries)++;
		r = attempt(ctx);
		if (r >= 0 || !a4s_retryable(-r))
			return r;
	}
	return r;
}
