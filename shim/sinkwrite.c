#include "sinkwrite.h"

#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>

#include "fsize.h"
#include "self.h"
#include "text.h"
#include "timefmt.h"

/* RWF_NOWAIT (Linux 4.14, pipes since 5.x): fail with EAGAIN rather than
 * wait; <sys/uio.h> of older C libraries and musl lack the name. */
#define A4S_RWF_NOWAIT 0x00000008

static long write_iov(int fd, const struct iovec *iov, int n)
{
	if (n == 1)
		return a4s_write(fd, iov[0].iov_base, iov[0].iov_len);
	return a4s_sysret(syscall(SYS_writev, fd, iov, n));
}

/* At the current position (-1, which a pipe must be given), not blocking. */
static long write_iov_nowait(int fd, const struct iovec *iov, int n)
{
	return a4s_sysret(syscall(SYS_pwritev2, fd, iov, n, -1L, 0L, A4S_RWF_NOWAIT));
}

/*
 * A write the kernel may answer with a signal at the writing thread:
 * SIGPIPE with EPIPE (a pipe whose reader is gone), SIGXFSZ with EFBIG (a
 * file at RLIMIT_FSIZE). The signal is blocked for the write, and one that
 * our write raised is taken back, so the program never sees it; one that
 * was already pending for the program is left alone. Three system calls
 * more, paid only where the signal can come: on pipes, and on files while
 * a size limit is in force.
 */
static long write_holding(int sig, long raised_with, int fd, const struct iovec *iov, int n,
			  bool nowait)
{
	sigset_t set, old, pending;
	sigemptyset(&set);
	sigaddset(&set, sig);
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, &old, _NSIG / 8);
	syscall(SYS_rt_sigpending, &pending, _NSIG / 8);
	bool was_pending = sigismember(&pending, sig);
	long r = nowait ? write_iov_nowait(fd, iov, n) : write_iov(fd, iov, n);
	if (r == raised_with && !was_pending) {
		struct timespec zero = { 0, 0 };
		syscall(SYS_rt_sigtimedwait, &set, NULL, &zero, _NSIG / 8);
	}
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, _NSIG / 8);
	return r;
}

/*
 * A stream (a file, a stream socket) may take the first part of a record
 * and refuse the rest (a full disk, a full socket buffer); that part stays
 * with no newline. The next record then starts with a newline of its own,
 * in the same write, so the fragment is one bad line of its own and the
 * good records around it stay whole.
 */
struct framed {
	struct iovec iov[2];
	int n;
	size_t total;
	bool newline;
};

static void frame(struct framed *f, const struct a4s_target *t, const char *line, size_t len)
{
	static char newline[1] = { '\n' };
	f->n = 0;
	f->newline = t->torn && atomic_load_explicit(t->torn, memory_order_relaxed) &&
		     atomic_exchange(t->torn, false);
	if (f->newline)
		f->iov[f->n++] = (struct iovec){ newline, 1 };
	f->iov[f->n++] = (struct iovec){ (void *)(uintptr_t)line, len };
	f->total = len + f->newline;
}

/* After the write: whether the stream now ends mid-line, and what to tell
 * the caller. */
static long settle(const struct framed *f, const struct a4s_target *t, size_t len, long r,
		   long short_err)
{
	if (r == (long)f->total)
		return (long)len;
	long line_part = r > 0 ? r - f->newline : 0;
	bool mid_line = (f->newline && r <= 0) || (line_part > 0 && line_part < (long)len);
	if (mid_line && t->torn)
		atomic_store(t->torn, true);
	return r < 0 ? r : short_err;
}

/*
 * A record cut short: by a full disk, or at a size limit (one the program
 * set since we last looked, or another writer moved the end meanwhile). At
 * the limit, our part is taken back off the end of the file, as if never
 * written; a full disk's fragment is ended by the next record's newline.
 */
static long after_short_write(const struct framed *f, const struct a4s_target *t, size_t len,
			      long r, unsigned long long limit)
{
	if (limit == A4S_RLIM64_INFINITY) {
		a4s_fsize_look();
		limit = atomic_load(&a4s_fsize.known);
	}
	struct a4s_ident now;
	if (limit != A4S_RLIM64_INFINITY && a4s_identify(t->fd, NULL, A4S_ID_SIZE, &now) == 0 &&
	    now.size == limit &&
	    a4s_ftruncate(t->fd, (long long)(now.size - (unsigned long long)r)) == 0)
		return settle(f, t, len, 0, -EFBIG);
	return settle(f, t, len, r, -ENOSPC);
}

/*
 * A regular file. Under RLIMIT_FSIZE a write that starts at or past the
 * limit raises SIGXFSZ (whose default action kills the process) and fails
 * with EFBIG; one that straddles it is cut short without a signal. So while
 * a limit is in force, or a change of it is under way (fsize.h), a record
 * that would cross the limit is not written at all, the write is made with
 * SIGXFSZ held back (another writer may have moved the end meanwhile), and
 * a record that was cut at the limit all the same is taken back off the end
 * of the file.
 */
static long write_file(const struct a4s_target *t, const char *line, size_t len)
{
	unsigned long long limit;
	bool plain = a4s_fsize_write_begin(&limit);
	/* The common case, a record written whole with nothing to mend or
	 * guard, costs the write alone. */
	if (plain && !atomic_load_explicit(t->torn, memory_order_relaxed)) {
		long r = a4s_write(t->fd, line, len);
		a4s_fsize_write_end();
		if (r == (long)len)
			return r;
		if (r <= 0)
			return r < 0 ? r : -ENOSPC;
		/* Cut short: mended below, as if the write had been framed. */
		struct framed f = { .n = 1, .total = len, .newline = false };
		return after_short_write(&f, t, len, r, limit);
	}
	struct framed f;
	frame(&f, t, line, len);
	long r;
	if (plain) {
		r = write_iov(t->fd, f.iov, f.n);
		a4s_fsize_write_end();
	} else if (limit != A4S_RLIM64_INFINITY && t->size + f.total > limit) {
		if (f.newline)
			atomic_store(t->torn, true); /* still mid-line */
		return -EFBIG;
	} else {
		r = write_holding(SIGXFSZ, -EFBIG, t->fd, f.iov, f.n, false);
	}
	if (r > 0 && r < (long)f.total)
		return after_short_write(&f, t, len, r, limit);
	return settle(&f, t, len, r, -ENOSPC);
}

static long send_stream(const struct a4s_target *t, const char *line, size_t len)
{
	struct framed f;
	frame(&f, t, line, len);
	struct msghdr msg = { .msg_iov = f.iov, .msg_iovlen = (size_t)f.n };
	long r = a4s_sysret(syscall(SYS_sendmsg, t->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT));
	return settle(&f, t, len, r, -EAGAIN);
}

/* <facility.severity>, a classic stamp, our tag with pid: LOG_DAEMON |
 * LOG_INFO = 3 * 8 + 6. The stamp is UTC: local time would need the time
 * zone, which glibc reads under a lock. */
size_t a4s_syslog_head(char head[A4S_SYSLOG_HEAD_MAX], int pid, const char *line, size_t len,
		       const char **body, size_t *body_len)
{
	/* A text record's own "accept4shim: " would repeat the tag. */
	static const char own[] = "accept4shim: ";
	size_t skip = 0;
	if (len > sizeof(own) && memcmp(line, own, sizeof(own) - 1) == 0)
		skip = sizeof(own) - 1;
	struct a4s_buf b = { head, A4S_SYSLOG_HEAD_MAX, 0, false };
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	a4s_put(&b, "<30>");
	a4s_put_syslog_time(&b, &now);
	a4s_put(&b, " accept4shim[");
	a4s_put_i64(&b, pid);
	a4s_put(&b, "]: ");
	*body = line + skip;
	*body_len = len - skip - (len > skip && line[len - 1] == '\n');
	return b.len;
}

/* One datagram per record, tagged with this process's pid. The header goes
 * in its own iovec so the record is not copied. */
static long send_syslog(int fd, const char *line, size_t len)
{
	char head[A4S_SYSLOG_HEAD_MAX];
	const char *body;
	size_t body_len;
	size_t n = a4s_syslog_head(head, a4s_self_pid(), line, len, &body, &body_len);
	struct iovec iov[2] = { { head, n }, { (void *)(uintptr_t)body, body_len } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
	long r = a4s_sysret(syscall(SYS_sendmsg, fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT));
	return r == (long)(n + body_len) ? (long)len : r < 0 ? r : -EMSGSIZE;
}

/* One record to the program's stderr, through fd 2 itself or a description
 * of its own opened for it and closed after. */
static long write_stderr_once(const char *line, size_t len)
{
	struct a4s_dest d;
	a4s_dest_open_stderr(&d);
	if (d.fd < 0)
		return d.fd;
	static atomic_bool torn;
	struct a4s_target t = { d.fd, d.kind, false, d.id.size, &torn };
	/* Written seldom (a complaint, a summary), perhaps before the trace
	 * ever looked at the limit: looked at now. */
	if (d.kind == A4S_DEST_FILE)
		a4s_fsize_look();
	long r = a4s_put_record(&t, line, len);
	if (d.owned)
		a4s_close(d.fd);
	return r;
}

long a4s_put_record(const struct a4s_target *t, const char *line, size_t len)
{
	switch (t->kind) {
	case A4S_DEST_SOCKET:
		return t->syslog ? send_syslog(t->fd, line, len) : send_stream(t, line, len);
	case A4S_DEST_PIPE:
	case A4S_DEST_PIPE_NOWAIT: {
		/* Records are shorter than PIPE_BUF: a pipe takes each whole
		 * or not at all. */
		struct iovec iov = { (void *)(uintptr_t)line, len };
		bool nowait = t->kind == A4S_DEST_PIPE_NOWAIT;
		long r = write_holding(SIGPIPE, -EPIPE, t->fd, &iov, 1, nowait);
		if (nowait && (r == -EOPNOTSUPP || r == -EINVAL || r == -ENOSYS || r == -EPERM ||
			       r == -EACCES)) {
			/* An older kernel, or a sandbox that refuses pwritev2
			 * (a pipe's write has no EPERM of its own): nothing
			 * was written; the pipe is to be opened anew, from now
			 * on. */
			a4s_dest_no_pipe_nowait();
			return -EOPNOTSUPP;
		}
		return r == (long)len ? r : r < 0 ? r : -EAGAIN;
	}
	case A4S_DEST_FILE:
		return write_file(t, line, len);
	default: {
		long r = a4s_write(t->fd, line, len);
		return r == (long)len ? r : r < 0 ? r : -EAGAIN;
	}
	}
}

void a4s_write_stderr(const char *line, size_t len)
{
	if (write_stderr_once(line, len) == -EOPNOTSUPP)
		(void)write_stderr_once(line, len); /* now through a description of its own */
}
