#include "retry.h"

#include <errno.h>
#include <stdint.h>
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
 * Whether the aligned 4-byte word at w can be read without a fault.
 * FUTEX_WAIT reads it in the kernel, with nothing to wake and a zero
 * timeout: it answers EAGAIN (the word is not 0) or ETIMEDOUT (it is) when
 * it could read it, and has no other effect. Only those two answers count:
 * EFAULT is a word that cannot be read, and anything else (ENOSYS or EPERM
 * from a sandbox that refuses futex) proves nothing, so it counts as
 * unreadable too. futex is a call every sandbox lets through, as the C
 * library's own locks need it; process_vm_readv, the obvious probe, is
 * refused by policies such as systemd's @system-service.
 */
static bool word_readable(uintptr_t w)
{
	struct timespec zero = { 0, 0 };
	long r = a4s_sysret(syscall(SYS_futex, (void *)w, A4S_FUTEX_WAIT_PRIVATE, 0, &zero, NULL, 0));
	return r == -EAGAIN || r == -ETIMEDOUT || r == 0;
}

/*
 * Whether the socklen_t at p can be read without a fault, wherever it
 * points. FUTEX_WAIT wants an aligned word (EINVAL otherwise), so the two
 * aligned words that cover the four bytes are asked, which also covers a
 * length that straddles the end of a page: each page is asked about.
 */
static bool length_readable(const socklen_t *p)
{
	uintptr_t a = (uintptr_t)p;
	uintptr_t first = a & ~(uintptr_t)3, last = (a + sizeof(*p) - 1) & ~(uintptr_t)3;
	if (!p || a + sizeof(*p) - 1 < a)
		return false;
	return word_readable(first) && (last == first || word_readable(last));
}

/* The caller's length, read without assuming it is aligned: a misaligned
 * pointer is the caller's business, not undefined behaviour of ours. */
typedef socklen_t __attribute__((aligned(1), may_alias)) any_socklen;

int a4s_retry_accept(a4s_attempt_fn *attempt, void *ctx, int listen_fd,
		     const struct sockaddr *addr, socklen_t *addrlen, unsigned *retries)
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
	 * With addr NULL the kernel never looks at addrlen, whatever it
	 * points to, and neither do we. A pointer that cannot be read is left
	 * to the kernel, as without the library: the accept that gets a
	 * connection fails with EFAULT. Reading it here would crash.
	 * One that can be read but not written (the kernel fails that accept
	 * with EFAULT too) is never written, as it never changes.
	 */
	any_socklen *len = addr && length_readable(addrlen) ? (any_socklen *)addrlen : NULL;
	socklen_t saved = len ? *len : 0;

	for (unsigned n = 0; n < A4S_RETRY_MAX; n++) {
		/* Only when changed: the kernel would only read a length in
		 * read-only memory, and so may we. */
		if (len && *len != saved)
			*len = saved;
		(*retries)++;
		r = attempt(ctx);
		if (r >= 0 || !a4s_retryable(-r))
			return r;
	}
	return r;
}
