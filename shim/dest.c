#include "dest.h"

#include <limits.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>

#include "self.h"
#include "text.h"

/* fd 2 as the program was started with it, noted at load. */
static bool stderr_known;
static unsigned long long stderr_dev, stderr_ino;

bool a4s_expand_path(const char *pattern, int pid, char *out, size_t size)
{
	struct a4s_buf b = { out, size, 0, false };
	for (const char *p = pattern; *p; p++) {
		if (p[0] == '%' && p[1] == 'p') {
			a4s_put_i64(&b, pid);
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			a4s_put_char(&b, '%');
			p++;
		} else {
			a4s_put_char(&b, *p);
		}
	}
	a4s_put_char(&b, '\0');
	return !b.full;
}

void a4s_dest_note_stderr(void)
{
	struct stat st;
	if (a4s_fstat(2, &st) == 0) {
		stderr_dev = (unsigned long long)st.st_dev;
		stderr_ino = (unsigned long long)st.st_ino;
		stderr_known = true;
	}
}

/*
 * Out of the way of the program's own descriptors, which are handed out
 * lowest first: 64 below the soft limit, but never above 960. A limit of a
 * million (containers set that) would otherwise put us near number 1048512,
 * and the kernel sizes a process's descriptor table by its highest open
 * number: 8 MB of kernel memory per process, copied by every fork.
 * A program that closes "every descriptor above 2" still closes ours; the
 * identity check catches that, and a reused number is never written to.
 */
static int move_high(int fd)
{
	struct a4s_rlimit64 lim;
	long low = 3;
	if (syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &lim) == 0) {
		if (lim.cur == A4S_RLIM64_INFINITY || lim.cur > 1024)
			low = 1024 - 64;
		else if (lim.cur > 128)
			low = (long)lim.cur - 64;
	}
	if (fd >= low)
		return fd;
	int high = a4s_fcntl(fd, F_DUPFD_CLOEXEC, low);
	if (high < 0)
		return fd; /* keep what we have: still close-on-exec */
	a4s_close(fd);
	return high;
}

static int open_file(const char *pattern)
{
	char path[PATH_MAX];
	if (!a4s_expand_path(pattern, a4s_self_pid(), path, sizeof(path)))
		return -ENAMETOOLONG;
	/* O_NOFOLLOW: a link planted where the trace goes is refused, not
	 * followed. O_NONBLOCK: a FIFO without a reader fails at once, and
	 * one with a slow reader drops records instead of stalling accept. */
	return a4s_openat(AT_FDCWD, path,
			  O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
				  O_NONBLOCK | O_NOCTTY,
			  0600);
}

/*
 * The program's stderr as it is now. A pipe or a terminal is opened anew
 * through /proc, a file description of our own that we can make
 * non-blocking without touching the program's: a reader that stalls then
 * costs dropped records, not a stalled accept. A pipe that cannot be
 * reopened that way (no /proc) is refused rather than written blocking; a
 * terminal falls back to a duplicate. A socket (systemd's journal stream)
 * is duplicated and written with MSG_DONTWAIT; a file is duplicated.
 */
int a4s_dest_open_stderr(void)
{
	struct stat st;
	if (a4s_fstat(2, &st) < 0)
		return -EBADF;
	/* Only the stderr the program was started with. A daemon that closed
	 * it and opened a file of its own, which got number 2, has no stderr
	 * any more: that file is not ours to write into. */
	if (!stderr_known || (unsigned long long)st.st_dev != stderr_dev ||
	    (unsigned long long)st.st_ino != stderr_ino)
		return -EBADF;
	if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
		int fd = a4s_openat(AT_FDCWD, "/proc/self/fd/2",
				    O_WRONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0);
		if (fd >= 0 || S_ISFIFO(st.st_mode))
			return fd; /* ENXIO: the pipe has no reader */
	}
	return a4s_fcntl(2, F_DUPFD_CLOEXEC, 3);
}

/* A datagram socket connected to /dev/log, as syslog(3) uses; journald and
 * rsyslog both listen there. Connected once, not per record. */
static int open_syslog(void)
{
	int fd = (int)a4s_sysret(syscall(SYS_socket, AF_UNIX,
					 SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
	if (fd < 0)
		return fd;
	struct sockaddr_un sun = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };
	int r = (int)a4s_sysret(syscall(SYS_connect, fd, &sun, sizeof(sun)));
	if (r < 0) {
		a4s_close(fd);
		return r;
	}
	return fd;
}

/*
 * What a descriptor is: its file type, device and inode. Asked with statx
 * for those alone, not fstat: reading a file's change time marks it as
 * seen, and on a file system with fine-grained timestamps (ext4, xfs,
 * btrfs, tmpfs since Linux 6.13) the next write must then stamp the inode
 * anew, so an fstat before every record made every write dirty the trace
 * file's inode (0.8 us more per record on ext4, see scripts/bench). Where
 * statx is missing or refused (old kernels, sandboxes) fstat answers.
 */
static atomic_bool statx_refused;

int a4s_dest_identify(int fd, mode_t *type, unsigned long long *dev, unsigned long long *ino)
{
	if (!atomic_load_explicit(&statx_refused, memory_order_relaxed)) {
		struct a4s_statx sx;
		int r = a4s_statx(fd, "", AT_EMPTY_PATH, A4S_STATX_TYPE | A4S_STATX_INO, &sx);
		if (r == 0) {
			*type = sx.stx_mode & S_IFMT;
			*dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
			*ino = sx.stx_ino;
			return 0;
		}
		if (r == -EBADF)
			return r; /* closed: nothing to ask fstat */
	}
	struct stat st;
	int r = a4s_fstat(fd, &st);
	if (r < 0)
		return r;
	/* fstat answers where statx did not: statx is not to be had here. */
	atomic_store_explicit(&statx_refused, true, memory_order_relaxed);
	*type = st.st_mode & S_IFMT;
	*dev = (unsigned long long)st.st_dev;
	*ino = (unsigned long long)st.st_ino;
	return 0;
}

void a4s_dest_open(struct a4s_dest *d, const struct a4s_config *cfg, bool high)
{
	switch (cfg->log_kind) {
	case A4S_LOG_FILE:
		d->fd = open_file(cfg->log_path);
		break;
	case A4S_LOG_STDERR:
		d->fd = a4s_dest_open_stderr();
		break;
	case A4S_LOG_SYSLOG:
		d->fd = open_syslog();
		break;
	default:
		d->fd = -EINVAL;
		return;
	}
	if (d->fd < 0)
		return;
	if (high)
		d->fd = move_high(d->fd);
	mode_t type;
	if (a4s_dest_identify(d->fd, &type, &d->dev, &d->ino) < 0) {
		a4s_close(d->fd);
		d->fd = -EBADF;
		return;
	}
	d->kind = S_ISSOCK(type) ? A4S_DEST_SOCKET : S_ISFIFO(type) ? A4S_DEST_PIPE : A4S_DEST_WRITE;
}
