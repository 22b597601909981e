#include "sink.h"

#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>

#include "record.h"
#include "self.h"
#include "stats.h"
#include "text.h"
#include "timefmt.h"

enum kind {
	KIND_WRITE,  /* regular file, terminal, /dev/null: a plain write */
	KIND_PIPE,   /* a write that could raise SIGPIPE */
	KIND_SOCKET, /* send with MSG_NOSIGNAL | MSG_DONTWAIT */
};

/* A descriptor of ours and what it is. */
struct dest {
	int fd;
	enum kind kind;
	unsigned long long dev, ino;
};

/*
 * sink_fd >= 0: the published descriptor. SINK_NONE: no trace. SINK_LOST:
 * not open (yet, or any more); the next record opens it, at most once a
 * second after an open failed, so a destination that cannot be opened
 * costs a failing open per second, not per call. SINK_BUSY: one thread is
 * opening it; the others meanwhile open a private descriptor for their own
 * record rather than drop it or wait (waiting would be a lock).
 */
#define SINK_NONE (-1)
#define SINK_LOST (-2)
#define SINK_BUSY (-3)

static const struct a4s_config *config;
static atomic_int sink_fd = SINK_NONE;
/* Written only by the thread that holds SINK_BUSY, before it publishes. */
static _Atomic enum kind sink_kind;
static atomic_ullong sink_dev, sink_ino;
static atomic_llong next_reopen_ns;
/*
 * A descriptor given up because its reader is gone (EPIPE, ECONNREFUSED)
 * is not closed at once: another thread may have passed the identity check
 * on it a moment ago and be about to write, and a closed number is the next
 * one the program's open or accept gets (near the limit, a busy server's
 * next connection). It is closed by the next reopen, a second or more later.
 */
static atomic_int retired_fd = -1;
static atomic_ullong retired_dev, retired_ino;
/* A record was cut short in a regular file (disk full); see write_file. */
static atomic_bool torn;
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

#define SECOND_NS 1000000000LL

static long long monotonic_ns(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now); /* vDSO: no system call */
	return (long long)now.tv_sec * SECOND_NS + now.tv_nsec;
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
	struct rlimit lim;
	long low = 3;
	if (syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &lim) == 0) {
		if (lim.rlim_cur == RLIM_INFINITY || lim.rlim_cur > 1024)
			low = 1024 - 64;
		else if (lim.rlim_cur > 128)
			low = (long)lim.rlim_cur - 64;
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
static int open_stderr(void)
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

static int identify(int fd, mode_t *type, unsigned long long *dev, unsigned long long *ino)
{
	if (!atomic_load_explicit(&statx_refused, memory_order_relaxed)) {
		struct statx sx;
		int r = a4s_statx(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_INO, &sx);
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

/* Opens the configured destination; d->fd < 0 when it cannot. */
static void open_destination(struct dest *d, bool high)
{
	switch (config->log_kind) {
	case A4S_LOG_FILE:
		d->fd = open_file(config->log_path);
		break;
	case A4S_LOG_STDERR:
		d->fd = open_stderr();
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
	if (identify(d->fd, &type, &d->dev, &d->ino) < 0) {
		a4s_close(d->fd);
		d->fd = -EBADF;
		return;
	}
	d->kind = S_ISSOCK(type) ? KIND_SOCKET : S_ISFIFO(type) ? KIND_PIPE : KIND_WRITE;
}

/* The retired descriptor, if it is still the one we gave up (the program
 * may have closed it and reused the number meanwhile). */
static void close_retired(void)
{
	int fd = atomic_exchange(&retired_fd, -1);
	mode_t type;
	unsigned long long dev, ino;
	if (fd >= 0 && identify(fd, &type, &dev, &ino) == 0 && dev == atomic_load(&retired_dev) &&
	    ino == atomic_load(&retired_ino))
		a4s_close(fd);
}

/* Called by the thread holding SINK_BUSY: opens, then publishes the
 * descriptor, or SINK_LOST with the next attempt a second away. */
static void open_and_publish(void)
{
	struct dest d;
	close_retired();
	open_destination(&d, true);
	if (d.fd < 0) {
		atomic_store(&next_reopen_ns, monotonic_ns() + SECOND_NS);
		atomic_store(&sink_fd, SINK_LOST);
		return;
	}
	atomic_store(&sink_kind, d.kind);
	atomic_store(&sink_dev, d.dev);
	atomic_store(&sink_ino, d.ino);
	atomic_store_explicit(&sink_fd, d.fd, memory_order_release);
}

void a4s_sink_open(const struct a4s_config *cfg)
{
	config = cfg;
	struct stat st;
	if ((cfg->log_kind == A4S_LOG_STDERR || cfg->stats) && a4s_fstat(2, &st) == 0) {
		stderr_dev = (unsigned long long)st.st_dev;
		stderr_ino = (unsigned long long)st.st_ino;
		stderr_known = true;
	}
	if (cfg->log_kind == A4S_LOG_NONE)
		return;
	/*
	 * A file or syslog is opened by the first record, so a process that
	 * never accepts (a shell in front of the server, a helper it execs,
	 * a child that only execs) creates no file and holds no descriptor.
	 * stderr is taken now: "stderr" is what the program was started with,
	 * before a daemon points its fd 2 at /dev/null.
	 */
	atomic_store(&next_reopen_ns, 0);
	atomic_store(&sink_fd, SINK_LOST);
	if (cfg->log_kind == A4S_LOG_STDERR) {
		int expected = SINK_LOST;
		if (atomic_compare_exchange_strong(&sink_fd, &expected, SINK_BUSY))
			open_and_publish();
	}
}

bool a4s_sink_enabled(void)
{
	return config && config->log_kind != A4S_LOG_NONE;
}

/* Ours still? The program may have closed our number and got it back from
 * open or dup2 for a file of its own; then the number is no longer ours to
 * close or write, and we open our destination anew. */
static bool still_ours(int fd)
{
	mode_t type;
	unsigned long long dev, ino;
	if (identify(fd, &type, &dev, &ino) == 0 && dev == atomic_load(&sink_dev) &&
	    ino == atomic_load(&sink_ino))
		return true;
	int expected = fd;
	atomic_compare_exchange_strong(&sink_fd, &expected, SINK_LOST);
	return false;
}

/*
 * A write to a pipe or socket whose reader is gone answers EPIPE and raises
 * SIGPIPE at the writing thread. The signal is blocked for the write, and
 * one that our write raised is taken back, so the program never sees it; one
 * that was already pending for the program is left alone.
 */
static long write_nosigpipe(int fd, const char *line, size_t len)
{
	sigset_t pipe_set, old, pending;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, &pipe_set, &old, _NSIG / 8);
	syscall(SYS_rt_sigpending, &pending, _NSIG / 8);
	bool was_pending = sigismember(&pending, SIGPIPE);
	long r = a4s_write(fd, line, len);
	if (r == -EPIPE && !was_pending) {
		struct timespec zero = { 0, 0 };
		syscall(SYS_rt_sigtimedwait, &pipe_set, NULL, &zero, _NSIG / 8);
	}
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, _NSIG / 8);
	return r;
}

/*
 * A full disk may take the first part of a record and refuse the rest; that
 * part stays in the file with no newline. The next record written then
 * starts with a newline of its own (in the same write), so the fragment is
 * one bad line of its own and the good records around it stay whole.
 */
static long write_file(int fd, const char *line, size_t len)
{
	if (atomic_load_explicit(&torn, memory_order_relaxed) && atomic_exchange(&torn, false)) {
		static char newline[1] = { '\n' };
		struct iovec iov[2] = { { newline, 1 }, { (void *)(uintptr_t)line, len } };
		long r = a4s_sysret(syscall(SYS_writev, fd, iov, 2));
		if (r == (long)len + 1)
			return (long)len;
		if (r != 1)
			atomic_store(&torn, true); /* still, or again, mid-line */
		return r < 0 ? r : -ENOSPC;
	}
	long r = a4s_write(fd, line, len);
	if (r > 0 && r < (long)len)
		atomic_store(&torn, true);
	return r;
}

/* One datagram per record: <facility.severity>, a classic stamp, our tag,
 * then the record without its newline. LOG_DAEMON | LOG_INFO = 3 * 8 + 6.
 * The stamp is UTC: local time would need the time zone, which glibc reads
 * under a lock. The header goes in its own iovec so the record is not
 * copied. */
static long send_syslog(int fd, const char *line, size_t len)
{
	/* A text record's own "accept4shim: " would repeat the tag. */
	static const char own[] = "accept4shim: ";
	size_t skip = 0;
	if (len > sizeof(own) && memcmp(line, own, sizeof(own) - 1) == 0)
		skip = sizeof(own) - 1;
	char head[64];
	struct a4s_buf b = A4S_BUF_INIT(head);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	a4s_put(&b, "<30>");
	a4s_put_syslog_time(&b, &now);
	a4s_put(&b, " accept4shim[");
	a4s_put_i64(&b, a4s_self_pid());
	a4s_put(&b, "]: ");
	struct iovec iov[2] = { { head, b.len },
				{ (void *)(uintptr_t)(line + skip), len - skip - 1 } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
	long r = a4s_sysret(syscall(SYS_sendmsg, fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT));
	return r == (long)(b.len + len - skip - 1) ? (long)len : r;
}

static long put_record(int fd, enum kind kind, const char *line, size_t len)
{
	switch (kind) {
	case KIND_SOCKET:
		if (config->log_kind == A4S_LOG_SYSLOG)
			return send_syslog(fd, line, len);
		return a4s_send(fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	case KIND_PIPE:
		return write_nosigpipe(fd, line, len);
	default:
		return write_file(fd, line, len);
	}
}

/* While another thread opens the destination: this record goes through a
 * descriptor of its own, opened and closed here. */
static void write_private(const char *line, size_t len)
{
	struct dest d;
	open_destination(&d, false);
	if (d.fd < 0) {
		a4s_stats_dropped();
		return;
	}
	if (put_record(d.fd, d.kind, line, len) != (long)len)
		a4s_stats_dropped();
	a4s_close(d.fd);
}

void a4s_sink_write(const char *line, size_t len)
{
	int fd = atomic_load_explicit(&sink_fd, memory_order_acquire);
	if (fd >= 0 && !still_ours(fd))
		fd = atomic_load_explicit(&sink_fd, memory_order_acquire);
	if (fd == SINK_LOST) {
		if (monotonic_ns() < atomic_load(&next_reopen_ns)) {
			a4s_stats_dropped();
			return;
		}
		if (atomic_compare_exchange_strong(&sink_fd, &fd, SINK_BUSY)) {
			open_and_publish();
			fd = atomic_load_explicit(&sink_fd, memory_order_acquire);
		}
	}
	if (fd == SINK_BUSY) {
		write_private(line, len);
		return;
	}
	if (fd < 0) {
		a4s_stats_dropped();
		return;
	}
	long r = put_record(fd, atomic_load(&sink_kind), line, len);
	if (r != (long)len)
		a4s_stats_dropped();
	if (r == -EPIPE || r == -ECONNREFUSED || r == -ENOTCONN) {
		/* The reader is gone for good on this descriptor; a FIFO may
		 * get a new one, syslog may come back: reopen a second later,
		 * and close this one then. */
		int expected = fd;
		if (atomic_compare_exchange_strong(&sink_fd, &expected, SINK_LOST)) {
			close_retired(); /* none: the last reopen took it */
			atomic_store(&retired_dev, atomic_load(&sink_dev));
			atomic_store(&retired_ino, atomic_load(&sink_ino));
			atomic_store(&retired_fd, fd);
			atomic_store(&next_reopen_ns, monotonic_ns() + SECOND_NS);
		}
	}
}

void a4s_sink_write_stderr(const char *line, size_t len)
{
	int fd = open_stderr();
	if (fd < 0)
		return;
	struct stat st;
	if (a4s_fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode))
		(void)a4s_send(fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	else
		(void)write_nosigpipe(fd, line, len);
	a4s_close(fd);
}

void a4s_write_fd2(const char *text, size_t len)
{
	(void)write_nosigpipe(2, text, len);
}

void a4s_sink_after_fork(void)
{
	/* The thread that was opening the destination is not in the child. */
	int busy = SINK_BUSY;
	atomic_compare_exchange_strong(&sink_fd, &busy, SINK_LOST);
	if (!config || config->log_kind != A4S_LOG_FILE ||
	    !strstr(config->log_path, "%p"))
		return; /* the child shares the parent's destination */
	int fd = atomic_load(&sink_fd);
	if (fd >= 0 && still_ours(fd))
		a4s_close(fd);
	close_retired(); /* the only thread here: no writer in flight */
	/* Opened again, under the child's pid, by its first record: a child
	 * that only execs never creates an empty file. */
	atomic_store(&next_reopen_ns, 0);
	atomic_store(&sink_fd, SINK_LOST);
}
