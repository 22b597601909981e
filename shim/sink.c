#include "sink.h"

#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>

#include "record.h"
#include "self.h"
#include "stats.h"
#include "text.h"
#include "timefmt.h"

enum kind {
	KIND_WRITE,  /* regular file, terminal: a plain write */
	KIND_PIPE,   /* a write that could raise SIGPIPE */
	KIND_SOCKET, /* send with MSG_NOSIGNAL | MSG_DONTWAIT */
};

/* fd >= 0: ours. SINK_NONE: no trace. SINK_LOST: we had one and lost it;
 * reopened at most once a second, so a destination that cannot be opened
 * costs a failing open per second, not per call. */
#define SINK_NONE (-1)
#define SINK_LOST (-2)
#define SINK_BUSY (-3)

static const struct a4s_config *config;
static atomic_int sink_fd = SINK_NONE;
static _Atomic enum kind sink_kind;
static atomic_ullong sink_dev, sink_ino;
static atomic_llong next_reopen_sec;

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

/* Out of the way of the program's own descriptors, which are handed out
 * lowest first: near the top of the soft limit. A program that closes
 * "every descriptor above 2" still closes it; the identity check catches
 * that, and a reused number is never written to. */
static int move_high(int fd)
{
	struct rlimit lim;
	long low = 3;
	if (syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &lim) == 0) {
		if (lim.rlim_cur == RLIM_INFINITY)
			low = 1000;
		else if (lim.rlim_cur > 128)
			low = (long)lim.rlim_cur - 64;
	}
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

static int open_stderr(void)
{
	struct stat st;
	if (a4s_fstat(2, &st) < 0)
		return -EBADF;
	if (S_ISFIFO(st.st_mode)) {
		/* A new open file description on the same pipe, so that we
		 * can make it non-blocking without touching the program's. */
		int fd = a4s_openat(AT_FDCWD, "/proc/self/fd/2",
				    O_WRONLY | O_CLOEXEC | O_NONBLOCK, 0);
		if (fd >= 0)
			return fd;
	}
	return a4s_fcntl(2, F_DUPFD_CLOEXEC, 3);
}

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

/* Opens the destination and publishes it; SINK_LOST if it cannot. */
static void open_destination(void)
{
	int fd;
	switch (config->log_kind) {
	case A4S_LOG_FILE:
		fd = open_file(config->log_path);
		break;
	case A4S_LOG_STDERR:
		fd = open_stderr();
		break;
	case A4S_LOG_SYSLOG:
		fd = open_syslog();
		break;
	default:
		atomic_store(&sink_fd, SINK_NONE);
		return;
	}
	struct stat st;
	if (fd >= 0) {
		fd = move_high(fd);
		if (a4s_fstat(fd, &st) < 0) {
			a4s_close(fd);
			fd = -EBADF;
		}
	}
	if (fd < 0) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		atomic_store(&next_reopen_sec, (long long)now.tv_sec + 1);
		atomic_store(&sink_fd, SINK_LOST);
		return;
	}
	atomic_store(&sink_kind, S_ISSOCK(st.st_mode) ? KIND_SOCKET :
				 S_ISFIFO(st.st_mode) ? KIND_PIPE : KIND_WRITE);
	atomic_store(&sink_dev, (unsigned long long)st.st_dev);
	atomic_store(&sink_ino, (unsigned long long)st.st_ino);
	atomic_store_explicit(&sink_fd, fd, memory_order_release);
}

void a4s_sink_open(const struct a4s_config *cfg)
{
	config = cfg;
	if (cfg->log_kind != A4S_LOG_NONE)
		open_destination();
}

bool a4s_sink_enabled(void)
{
	return config && config->log_kind != A4S_LOG_NONE;
}

/* The descriptor to write to, or -1. Taking it over from SINK_LOST is a
 * compare-and-swap, so one thread reopens and the others drop meanwhile. */
static int current_fd(void)
{
	int fd = atomic_load_explicit(&sink_fd, memory_order_acquire);
	if (fd != SINK_LOST)
		return fd >= 0 ? fd : -1;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if ((long long)now.tv_sec < atomic_load(&next_reopen_sec))
		return -1;
	if (!atomic_compare_exchange_strong(&sink_fd, &fd, SINK_BUSY))
		return -1;
	open_destination();
	fd = atomic_load_explicit(&sink_fd, memory_order_acquire);
	return fd >= 0 ? fd : -1;
}

/* Ours still? The program may have closed our number and got it back from
 * open or dup2 for a file of its own; then the number is no longer ours to
 * close or write, and we open our destination anew. */
static bool still_ours(int fd)
{
	struct stat st;
	if (a4s_fstat(fd, &st) == 0 &&
	    (unsigned long long)st.st_dev == atomic_load(&sink_dev) &&
	    (unsigned long long)st.st_ino == atomic_load(&sink_ino))
		return true;
	int expected = fd;
	atomic_compare_exchange_strong(&sink_fd, &expected, SINK_LOST);
	return false;
}

/* A pipe whose reader is gone answers EPIPE and raises SIGPIPE at the
 * writing thread. The signal is blocked for the write, and one that our
 * write raised is taken back, so the program never sees it; one that was
 * already pending for the program is left alone. */
static long write_pipe(int fd, const char *line, size_t len)
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

/* One datagram per record: <facility.severity>, a classic stamp, our tag,
 * then the record without its newline. LOG_DAEMON | LOG_INFO = 3 * 8 + 6.
 * The header goes in its own iovec so the record is not copied. */
static long send_syslog(int fd, const char *line, size_t len)
{
	char head[64];
	struct a4s_buf b = A4S_BUF_INIT(head);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	a4s_put(&b, "<30>");
	a4s_put_syslog_time(&b, &now);
	a4s_put(&b, " accept4shim[");
	a4s_put_i64(&b, a4s_self_pid());
	a4s_put(&b, "]: ");
	struct iovec iov[2] = { { head, b.len }, { (void *)(uintptr_t)line, len - 1 } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
	long r = a4s_sysret(syscall(SYS_sendmsg, fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT));
	return r == (long)(b.len + len - 1) ? (long)len : r;
}

static long put_record(int fd, const char *line, size_t len)
{
	switch (atomic_load(&sink_kind)) {
	case KIND_SOCKET:
		if (config->log_kind == A4S_LOG_SYSLOG)
			return send_syslog(fd, line, len);
		return a4s_send(fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	case KIND_PIPE:
		return write_pipe(fd, line, len);
	default:
		return a4s_write(fd, line, len);
	}
}

void a4s_sink_write(const char *line, size_t len)
{
	int fd = current_fd();
	if (fd >= 0 && !still_ours(fd))
		fd = current_fd(); /* reopened, on a number that is ours */
	if (fd < 0) {
		a4s_stats_dropped();
		return;
	}
	long r = put_record(fd, line, len);
	if (r != (long)len)
		a4s_stats_dropped();
	if (r == -EPIPE || r == -ECONNREFUSED || r == -ENOTCONN) {
		/* The reader is gone for good on this descriptor; a FIFO may
		 * get a new one, syslog may come back: reopen later. */
		int expected = fd;
		if (atomic_compare_exchange_strong(&sink_fd, &expected, SINK_LOST)) {
			a4s_close(fd);
			struct timespec now;
			clock_gettime(CLOCK_MONOTONIC, &now);
			atomic_store(&next_reopen_sec, (long long)now.tv_sec + 1);
		}
	}
}

void a4s_sink_after_fork(void)
{
	if (!config || config->log_kind != A4S_LOG_FILE ||
	    !strstr(config->log_path, "%p"))
		return; /* the child shares the parent's destination */
	int fd = atomic_load(&sink_fd);
	if (fd >= 0 && still_ours(fd))
		a4s_close(fd);
	/* Opened again, under the child's pid, by its first record: a child
	 * that only execs never creates an empty file. */
	atomic_store(&next_reopen_sec, 0);
	atomic_store(&sink_fd, SINK_LOST);
}
