#include "fdstate.h"

#include <string.h>
#include <sys/socket.h>

void a4s_fdstate_fresh(struct a4s_fdstate *st, int sock_flags)
{
	memset(st, 0, sizeof(*st));
	st->status = (sock_flags & SOCK_NONBLOCK) ? O_NONBLOCK : 0;
	st->cloexec = (sock_flags & SOCK_CLOEXEC) != 0;
}

int a4s_fdstate_read(int fd, struct a4s_fdstate *st)
{
	int fl = a4s_fcntl(fd, F_GETFL, 0);
	if (fl < 0)
		return fl;
	memset(st, 0, sizeof(*st));
	st->status = fl & A4S_INHERITED_STATUS;
	int r = a4s_fcntl_ptr(fd, F_GETOWN_EX, &st->owner);
	if (r < 0)
		return r;
	r = a4s_fcntl(fd, F_GETSIG, 0);
	if (r < 0)
		return r;
	st->sig = r;
	return 0;
}

static bool same_owner(const struct f_owner_ex *a, const struct f_owner_ex *b)
{
	return a->pid == b->pid && (a->pid == 0 || a->type == b->type);
}

int a4s_fdstate_apply(int fd, const struct a4s_fdstate *have,
		      const struct a4s_fdstate *want)
{
	int calls = 0;
	int r;

	if (want->cloexec != have->cloexec) {
		r = a4s_fcntl(fd, F_SETFD, want->cloexec ? FD_CLOEXEC : 0);
		if (r < 0)
			return r;
		calls++;
	}
	if (!same_owner(&want->owner, &have->owner)) {
		struct f_owner_ex owner = want->owner;
		r = a4s_fcntl_ptr(fd, F_SETOWN_EX, &owner);
		if (r < 0)
			return r;
		calls++;
	}
	if (want->sig != have->sig) {
		r = a4s_fcntl(fd, F_SETSIG, want->sig);
		if (r < 0)
			return r;
		calls++;
	}
	if (want->status != have->status) {
		/* F_SETFL replaces every settable status flag; a fresh socket
		 * has none but the ones tracked here, so `want` is complete. */
		r = a4s_fcntl(fd, F_SETFL, want->status);
		if (r < 0)
			return r;
		calls++;
	}
	return calls;
}
