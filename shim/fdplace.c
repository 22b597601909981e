#include "fdplace.h"

#include <stdatomic.h>
#include <sys/resource.h>

/*
 * Above the limit only while the limit is small: the kernel sizes a
 * process's descriptor table by its highest open number (a power of two),
 * and every fork copies it. At a limit of 4096 our number costs a table of
 * 8192 slots (64 KiB); containers that set a million would make it 8 MiB per
 * process. And only while the hard limit leaves room to raise the soft one
 * (systemd's default is 1024 soft, 524288 hard; Docker often sets both to
 * the same value, and then there is none).
 */
#define ABOVE_LIMIT_MAX 4096ULL
/* Numbers raised for a moment: one for our F_DUPFD, a few spare should
 * another copy of the library or a retired descriptor of ours sit at the
 * first of them. A program thread that is at its limit meanwhile may get
 * one of these few numbers too; that is the whole of the raise's effect. */
#define RAISE_BY 4ULL

/*
 * One raise at a time in the process: two threads raising and restoring at
 * once would each put back what the other had raised, and leave it raised.
 * A thread that finds a raise under way does without. The limit before the
 * raise is kept here too, for a child forked meanwhile (fork copies the
 * raised limit, and not the thread that would have put it back).
 */
static atomic_bool raising;
static struct a4s_rlimit64 raised_before, raised_to;

bool a4s_nofile_raise(struct a4s_nofile_raise *r, unsigned long long want)
{
	r->active = false;
	struct a4s_rlimit64 now;
	if (a4s_prlimit(RLIMIT_NOFILE, NULL, &now) < 0)
		return false;
	if (now.cur >= want)
		return true;
	if (now.max < want)
		want = now.max; /* as far as the hard limit lets us */
	if (now.cur >= want)
		return false;
	bool idle = false;
	if (!atomic_compare_exchange_strong(&raising, &idle, true))
		return false;
	r->raised.cur = want;
	r->raised.max = now.max;
	raised_to = r->raised;
	raised_before = now;
	if (a4s_prlimit(RLIMIT_NOFILE, &r->raised, &r->before) < 0) {
		atomic_store(&raising, false);
		return false;
	}
	raised_before = r->before;
	r->active = true;
	return true;
}

/* Puts `before` back unless the program set a limit of its own while ours
 * (`raised`) was in force: that one is what the program asked for. */
static void put_back(const struct a4s_rlimit64 *before, const struct a4s_rlimit64 *raised)
{
	struct a4s_rlimit64 seen;
	if (a4s_prlimit(RLIMIT_NOFILE, before, &seen) < 0)
		return;
	if (seen.cur != raised->cur || seen.max != raised->max)
		(void)a4s_prlimit(RLIMIT_NOFILE, &seen, NULL);
}

void a4s_nofile_restore(struct a4s_nofile_raise *r)
{
	if (!r->active)
		return;
	r->active = false;
	put_back(&r->before, &r->raised);
	atomic_store(&raising, false);
}

void a4s_nofile_after_fork(void)
{
	if (atomic_load(&raising)) {
		put_back(&raised_before, &raised_to);
		atomic_store(&raising, false);
	}
}

int a4s_open_past_emfile(int (*open_fn)(void *), void *arg)
{
	int fd = open_fn(arg);
	if (fd != -EMFILE)
		return fd;
	struct a4s_rlimit64 now;
	struct a4s_nofile_raise r;
	if (a4s_prlimit(RLIMIT_NOFILE, NULL, &now) < 0 ||
	    !a4s_nofile_raise(&r, now.cur + RAISE_BY) || !r.active)
		return fd;
	fd = open_fn(arg);
	a4s_nofile_restore(&r);
	return fd;
}

/*
 * Below the limit, where the raise cannot be done: 64 under the soft limit
 * but never above 960, out of the way of the program's descriptors, which
 * are handed out lowest first. A program that closes "every descriptor
 * above 2" still closes ours; the identity check catches that.
 */
static int place_below(int fd, unsigned long long soft)
{
	long low = 3;
	if (soft > 1024)
		low = 1024 - 64;
	else if (soft > 128)
		low = (long)soft - 64;
	if (fd >= low)
		return fd;
	int high = a4s_fcntl(fd, F_DUPFD_CLOEXEC, low);
	if (high < 0)
		return fd; /* keep what we have: still close-on-exec */
	a4s_close(fd);
	return high;
}

int a4s_fd_place(int fd)
{
	struct a4s_rlimit64 lim;
	if (a4s_prlimit(RLIMIT_NOFILE, NULL, &lim) < 0)
		return place_below(fd, A4S_RLIM64_INFINITY);
	if ((unsigned long long)fd >= lim.cur)
		return fd; /* opened while the limit was raised: already there */
	if (lim.cur < lim.max && lim.cur <= ABOVE_LIMIT_MAX) {
		struct a4s_nofile_raise r;
		if (a4s_nofile_raise(&r, lim.cur + RAISE_BY)) {
			int high = a4s_fcntl(fd, F_DUPFD_CLOEXEC, (long)lim.cur);
			a4s_nofile_restore(&r);
			if (high >= 0) {
				a4s_close(fd);
				return high;
			}
		}
	}
	return place_below(fd, lim.cur);
}

int a4s_fd_replace(int fd, int home)
{
	int r = a4s_dup3(fd, home, O_CLOEXEC);
	if (r == -EBADF) {
		/* home sits at or above the soft limit, where dup3 may not
		 * write either: the same raise that put it there. */
		struct a4s_nofile_raise raise;
		if (a4s_nofile_raise(&raise, (unsigned long long)home + 1)) {
			r = a4s_dup3(fd, home, O_CLOEXEC);
			a4s_nofile_restore(&raise);
		}
	}
	if (r < 0)
		return r;
	a4s_close(fd);
	return 0;
}
