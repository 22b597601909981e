#include "sinkwrite.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>

#include "self.h"
#include "text.h"
#include "timefmt.h"

/* A record was cut short in a regular file (disk full); see write_file. */
static atomic_bool torn;

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

long a4s_sink_put_record(int fd, enum a4s_dest_kind kind, bool syslog, const char *line,
			 size_t len)
{
	switch (kind) {
	case A4S_DEST_SOCKET:
		if (syslog)
			return send_syslog(fd, line, len);
		return a4s_send(fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	case A4S_DEST_PIPE:
		return write_nosigpipe(fd, line, len);
	default:
		return write_file(fd, line, len);
	}
}

void a4s_sink_write_stderr(const char *line, size_t len)
{
	int fd = a4s_dest_open_stderr();
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
