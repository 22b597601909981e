#include "output.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "dest.h"
#include "destination.h"
#include "journald.h"
#include "sinkwrite.h"
#include "text.h"
#include "timefmt.h"

/* Lines gathered per write: a regular file takes them in one write; a pipe
 * takes PIPE_BUF whole, so that lines of other writers never land inside. */
#define BATCH 65536
#define BATCH_ENTRIES 1024
/* How long a write may wait for a reader that does not keep up, once;
 * then records are dropped until the next tick. */
#define WAIT_MS 100

struct entry {
	uint32_t end;      /* offset in buf just after this line */
	uint64_t *dropped; /* whose count a lost line raises */
};

struct a4s_out {
	struct a4s_out *next;
	int refs;
	int pid;            /* a %p file's host; 0 for the shared destination */
	char name[PATH_MAX]; /* the expanded path, or stderr, syslog, journald */
	bool open;
	struct a4s_cdest d;
	int jfd;            /* journald's socket */
	uint64_t retry_ns;  /* not open: next attempt at or after this */
	bool stalled;       /* a reader did not keep up: drop until the tick */
	bool torn;          /* a line was cut in the file: next write starts anew */
	struct a4s_cause said[16]; /* causes already complained about */
	int nsaid;
	size_t len;
	int n;
	struct entry ent[BATCH_ENTRIES];
	char buf[BATCH];
};

static const struct a4s_collector_options *opts;
static struct a4s_out *outputs;

void a4s_out_setup(const struct a4s_collector_options *o)
{
	opts = o;
}

static bool per_host(void)
{
	return opts->out == A4S_OUT_FILE && strstr(opts->log_path, "%p");
}

struct a4s_out *a4s_out_get(int host_pid)
{
	int pid = per_host() ? host_pid : 0;
	for (struct a4s_out *o = outputs; o; o = o->next) {
		if (o->pid == pid) {
			o->refs++;
			return o;
		}
	}
	struct a4s_out *o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->refs = 1;
	o->pid = pid;
	o->jfd = -1;
	o->d.fd = -1;
	switch (opts->out) {
	case A4S_OUT_FILE:
		if (!a4s_expand_path(opts->log_path, pid, o->name, sizeof(o->name)))
			snprintf(o->name, sizeof(o->name), "%s", opts->log_path);
		break;
	case A4S_OUT_STDERR:
		strcpy(o->name, "stderr");
		break;
	case A4S_OUT_SYSLOG:
		strcpy(o->name, "syslog");
		break;
	case A4S_OUT_JOURNALD:
		strcpy(o->name, "journald");
		break;
	}
	o->next = outputs;
	outputs = o;
	return o;
}

/* Once per destination and cause, one line on our stderr, in the library's
 * words (complain.c), under our own name. */
static void complain(struct a4s_out *o, const struct a4s_cause *why)
{
	for (int i = 0; i < o->nsaid; i++)
		if (o->said[i].kind == why->kind && o->said[i].err == why->err)
			return;
	if (o->nsaid < (int)(sizeof(o->said) / sizeof(o->said[0])))
		o->said[o->nsaid++] = *why;
	static const char lib[] = "accept4shim: ", own[] = "accept4shim-collector: ";
	char line[sizeof(own) + A4S_COMPLAINT_LINE_MAX];
	size_t n = a4s_format_complaint(o->name, why, line + sizeof(own) - sizeof(lib),
					A4S_COMPLAINT_LINE_MAX);
	if (!n)
		return;
	memcpy(line, own, sizeof(own) - 1);
	(void)!write(2, line, n + sizeof(own) - sizeof(lib));
}

static void complain_errno(struct a4s_out *o, enum a4s_cause_kind kind, int err)
{
	struct a4s_cause why = { kind, err, 0 };
	complain(o, &why);
}

static void close_out(struct a4s_out *o)
{
	a4s_cdest_close(&o->d);
	if (o->jfd >= 0)
		close(o->jfd);
	o->jfd = -1;
	o->open = false;
}

static bool open_out(struct a4s_out *o)
{
	if (o->open)
		return true;
	uint64_t now = a4s_monotonic_ns();
	if (now < o->retry_ns)
		return false;
	struct a4s_cause why = { A4S_CAUSE_OPEN, 0, 0 };
	int r;
	if (opts->out == A4S_OUT_JOURNALD) {
		r = o->jfd = a4s_journald_open(A4S_JOURNALD_SOCKET);
		why.err = -r;
	} else {
		r = a4s_cdest_open(&o->d, opts->out, o->name, &why);
	}
	if (r < 0) {
		o->jfd = -1;
		complain(o, &why);
		o->retry_ns = now + A4S_SECOND_NS;
		return false;
	}
	o->open = true;
	o->torn = false;
	return true;
}

/* The destination gave up on us (a reader gone, journald restarted): open
 * it again a second from now. */
static void lost(struct a4s_out *o, long err)
{
	complain_errno(o, A4S_CAUSE_WRITE, (int)-err);
	if (err == -EAGAIN) {
		o->stalled = true;
		return;
	}
	if (err == -ENOSPC || err == -EDQUOT || err == -EFBIG || err == -EIO)
		return; /* the same file may take the next ones */
	close_out(o);
	o->retry_ns = a4s_monotonic_ns() + A4S_SECOND_NS;
}

/* Waits a little for a reader that does not keep up, once per tick. */
static bool wait_writable(struct a4s_out *o, int fd)
{
	if (o->stalled)
		return false;
	struct pollfd p = { fd, POLLOUT, 0 };
	if (poll(&p, 1, WAIT_MS) == 1 && (p.revents & POLLOUT))
		return true;
	o->stalled = true;
	return false;
}

/* One datagram: a syslog line or a journald entry. */
static long send_one(struct a4s_out *o, const char *msg, size_t len)
{
	int fd = opts->out == A4S_OUT_JOURNALD ? o->jfd : o->d.fd;
	for (int tries = 0;; tries++) {
		long r = opts->out == A4S_OUT_JOURNALD
				 ? a4s_journald_send(fd, msg, len, A4S_JOURNALD_DATAGRAM_MAX)
				 : a4s_cdest_write(&o->d, msg, len);
		if (r != -EAGAIN || tries || !wait_writable(o, fd))
			return r;
	}
}

/* syslog's frame, the library's own (sinkwrite.c), with the host's pid. */
static size_t syslog_frame(char *buf, size_t size, const char *line, size_t len, int pid)
{
	const char *body;
	size_t body_len;
	size_t n = a4s_syslog_head(buf, pid, line, len, &body, &body_len);
	if (n + body_len > size)
		return 0;
	memcpy(buf + n, body, body_len);
	return n + body_len;
}

static void datagram(struct a4s_out *o, const char *msg, size_t len, uint64_t *dropped)
{
	if (!len || !open_out(o) || o->stalled) {
		(*dropped)++;
		return;
	}
	long r = send_one(o, msg, len);
	if (r != (long)len) {
		(*dropped)++;
		if (r < 0)
			lost(o, r);
	}
}

/* Drops the gathered lines from the first one that does not end within
 * `written` bytes on, counting each against its host. */
static void settle(struct a4s_out *o, size_t written)
{
	for (int i = 0; i < o->n; i++) {
		if (o->ent[i].end <= written)
			continue;
		(*o->ent[i].dropped)++;
		if (i == 0 ? written > 0 : written > o->ent[i - 1].end)
			o->torn = true; /* this one was cut */
	}
	o->len = 0;
	o->n = 0;
}

static long write_some(struct a4s_out *o, const char *p, size_t len)
{
	for (int tries = 0;; tries++) {
		long r;
		if (o->torn) {
			/* A line cut by a full disk stays a line of its own. */
			static char nl[1] = { '\n' };
			struct iovec iov[2] = { { nl, 1 }, { (void *)(uintptr_t)p, len } };
			r = writev(o->d.fd, iov, 2);
			r = r < 0 ? -errno : r;
			if (r > 0) {
				o->torn = false;
				r--;
			}
		} else {
			r = a4s_cdest_write(&o->d, p, len);
		}
		if (r != -EAGAIN || tries || !wait_writable(o, o->d.fd))
			return r;
	}
}

static void flush(struct a4s_out *o)
{
	if (!o->n)
		return;
	if (!open_out(o) || o->stalled) {
		settle(o, 0);
		return;
	}
	/* A pipe: chunks of at most PIPE_BUF, each ending at a line's end. */
	size_t limit = o->d.how == A4S_CDEST_PIPE ? PIPE_BUF : BATCH;
	size_t done = 0;
	int i = 0;
	while (done < o->len) {
		size_t end = done;
		while (i < o->n && o->ent[i].end - done <= limit)
			end = o->ent[i++].end;
		if (end == done) /* a line longer than PIPE_BUF: alone */
			end = o->ent[i++].end;
		long r = write_some(o, o->buf + done, end - done);
		if (r < 0) {
			lost(o, r);
			break;
		}
		done += (size_t)r;
		if (done < end) {
			lost(o, -ENOSPC); /* a short write: the file is full */
			break;
		}
	}
	settle(o, done);
}

static void gather(struct a4s_out *o, const char *line, size_t len, uint64_t *dropped)
{
	if (!len) {
		(*dropped)++;
		return;
	}
	if (o->len + len > sizeof(o->buf) || o->n == BATCH_ENTRIES)
		flush(o);
	memcpy(o->buf + o->len, line, len);
	o->len += len;
	o->ent[o->n++] = (struct entry){ (uint32_t)o->len, dropped };
}

/* A formatted line (a record or a summary) to o: a syslog datagram, or
 * gathered for the next write. */
static void emit(struct a4s_out *o, const char *line, size_t n, int host_pid, uint64_t *dropped)
{
	if (opts->out == A4S_OUT_SYSLOG) {
		char frame[A4S_SUMMARY_MAX + 64];
		datagram(o, frame, n ? syslog_frame(frame, sizeof(frame), line, n, host_pid) : 0,
			 dropped);
		return;
	}
	gather(o, line, n, dropped);
}

void a4s_out_record(struct a4s_out *o, const struct a4s_record *r, int host_pid,
		    uint64_t *dropped)
{
	char line[A4S_JOURNALD_ENTRY_MAX];
	if (opts->out == A4S_OUT_JOURNALD)
		datagram(o, line, a4s_journald_record(r, host_pid, line, sizeof(line)), dropped);
	else
		emit(o, line, a4s_format_record(r, opts->format, line, sizeof(line)), host_pid,
		     dropped);
}

void a4s_out_summary(struct a4s_out *o, const struct a4s_summary *s, const char *kind,
		     int host_pid, uint64_t *dropped)
{
	char line[A4S_SUMMARY_MAX + A4S_JOURNALD_ENTRY_MAX];
	if (opts->out == A4S_OUT_JOURNALD)
		datagram(o, line, a4s_journald_summary(s, kind, host_pid, line, sizeof(line)),
			 dropped);
	else
		emit(o, line, a4s_format_summary(s, opts->format, line, sizeof(line)), host_pid,
		     dropped);
}

void a4s_out_summary_stderr(const struct a4s_summary *s)
{
	char line[A4S_SUMMARY_MAX];
	size_t n = a4s_format_summary(s, opts->format, line, sizeof(line));
	if (n)
		(void)!write(2, line, n);
}

void a4s_out_flush_all(void)
{
	for (struct a4s_out *o = outputs; o; o = o->next)
		flush(o);
}

void a4s_out_release(struct a4s_out *o)
{
	if (!o || --o->refs > 0)
		return;
	flush(o);
	if (!o->pid)
		return; /* the shared destination stays for the next host */
	close_out(o);
	for (struct a4s_out **p = &outputs; *p; p = &(*p)->next) {
		if (*p == o) {
			*p = o->next;
			break;
		}
	}
	free(o);
}

void a4s_out_tick(uint64_t now_ns)
{
	(void)now_ns;
	for (struct a4s_out *o = outputs; o; o = o->next) {
		o->stalled = false;
		if (o->open && opts->out == A4S_OUT_FILE && a4s_cdest_moved(&o->d, o->name)) {
			flush(o);
			close_out(o);
			o->retry_ns = 0; /* the path anew, now */
		}
	}
}
