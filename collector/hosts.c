#include "hosts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <accept4shim.h>
#include "output.h"
#include "ringlink.h"
#include "ringread.h"
#include "ringrec.h"

struct host {
	struct host *next;
	int sock;
	bool attached;
	struct ucred cred;           /* the kernel's word on who connected */
	uint64_t hello_deadline_ns;
	struct a4s_ring_reader rd;
	struct a4s_out *out;
	struct a4s_ring_counts taken; /* the records taken, by outcome */
	uint64_t out_dropped;         /* ...of which the output lost these */
	bool caught_up;               /* the last drain emptied the ring */
	struct accept4shim_stats last; /* the totals of the last summary */
	uint64_t last_ns;             /* ...and when it was (or the attach) */
};

static const struct a4s_collector_options *opts;
static struct host *hosts;
static int nhosts, max_hosts;

void a4s_hosts_setup(const struct a4s_collector_options *o)
{
	opts = o;
	/* Two descriptors a host at most: its socket, and its file with %p. */
	struct rlimit lim;
	max_hosts = 4000;
	if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY &&
	    (lim.rlim_cur - 32) / 2 < (rlim_t)max_hosts)
		max_hosts = lim.rlim_cur > 34 ? (int)((lim.rlim_cur - 32) / 2) : 1;
}

int a4s_hosts_count(void)
{
	return nhosts;
}

static void say(const struct host *h, const char *what, const char *why)
{
	char line[512];
	int n = snprintf(line, sizeof(line), "accept4shim-collector: host pid %d (uid %u): %s%s%s\n",
			 (int)h->cred.pid, (unsigned)h->cred.uid, what, why ? ": " : "",
			 why ? why : "");
	if (n > 0)
		(void)!write(2, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static void reply(const struct host *h, int status)
{
	struct a4s_ringlink_reply r = { .status = status };
	memcpy(r.magic, A4S_RINGLINK_REPLY_MAGIC, sizeof(r.magic));
	(void)!send(h->sock, &r, sizeof(r), MSG_NOSIGNAL | MSG_DONTWAIT);
}

/*
 * The host's counts: the records taken, the ones the host dropped for a
 * full ring (its word), the ones lost on the way (abandoned, torn,
 * corrupt: one call each, outcome unknown) and the ones the output could
 * not write. Dropped is everything that did not reach the output.
 */
static void count(struct host *h, struct accept4shim_stats *t)
{
	struct a4s_ring_counts d;
	a4s_ring_read_dropped(&h->rd, &d);
	const struct a4s_ring_counts *k = &h->taken;
	const struct a4s_ring_seen *seen = &h->rd.seen;
	uint64_t lost = seen->abandoned + seen->torn + seen->corrupt;
	t->calls = k->calls + d.calls + lost;
	t->accepted = k->accepted + d.accepted;
	t->failed = k->failed + d.failed;
	t->emulated = k->emulated + d.emulated;
	t->retried_calls = k->retried_calls + d.retried_calls;
	t->retries = k->retries + d.retries;
	t->dropped = d.calls + lost + h->out_dropped;
	for (int i = 0; i < A4S_RING_ERRNO_SLOTS; i++)
		t->errors[i] = k->errors[i] + d.errors[i];
}

static void to_summary(const struct host *h, const struct accept4shim_stats *t,
		       struct a4s_summary *s)
{
	memset(s, 0, sizeof(*s));
	clock_gettime(CLOCK_REALTIME, &s->ts);
	s->pid = h->rd.host_pid;
	s->calls = t->calls;
	s->accepted = t->accepted;
	s->failed = t->failed;
	s->emulated = t->emulated;
	s->retried_calls = t->retried_calls;
	s->retries = t->retries;
	s->dropped = t->dropped;
	s->errors = t->errors;
	s->nerrors = A4S_RING_ERRNO_SLOTS;
}

/* What happened since the last summary. The host's own counts are its
 * word and may go backwards if it lies: never below zero here. */
static void since(const struct accept4shim_stats *now, const struct accept4shim_stats *then,
		  struct accept4shim_stats *d)
{
#define SINCE(f) d->f = now->f > then->f ? now->f - then->f : 0
	SINCE(calls);
	SINCE(accepted);
	SINCE(failed);
	SINCE(emulated);
	SINCE(retried_calls);
	SINCE(retries);
	SINCE(dropped);
	for (int i = 0; i < A4S_RING_ERRNO_SLOTS; i++)
		SINCE(errors[i]);
#undef SINCE
}

/*
 * An interval summary (the library's, from ACCEPT4SHIM_STATS_INTERVAL):
 * the counts since the last summary and the host's totals. Written every
 * --stats-interval seconds for a host that made calls meanwhile, and, with
 * or without it, as soon as the collector has caught up with a host that
 * lost records since its last summary: what was lost reaches the output
 * then, not only when the host exits.
 */
static void interval_summary(struct host *h, uint64_t now_ns)
{
	struct accept4shim_stats total, d;
	count(h, &total);
	since(&total, &h->last, &d);
	bool due = opts->stats_interval_ns && now_ns - h->last_ns >= opts->stats_interval_ns &&
		   d.calls;
	bool lost = d.dropped && h->caught_up;
	if (!due && !lost)
		return;
	struct a4s_summary s, totals;
	to_summary(h, &d, &s);
	to_summary(h, &total, &totals);
	s.totals = &totals;
	s.interval_ns = now_ns - h->last_ns;
	/* A summary is not a record: one the output loses is not counted in
	 * dropped (calls = records written + dropped stays true), and the next
	 * second tries again, so that the count reaches the output once the
	 * destination works. */
	uint64_t lost_summary = 0;
	a4s_out_summary(h->out, &s, "interval", h->cred.pid, &lost_summary);
	a4s_out_flush_all();
	if (lost_summary)
		return;
	h->last = total;
	h->last_ns = now_ns;
}

/* Takes up to `batch` records from h's ring to the output. */
static enum a4s_ring_status drain(struct host *h, uint64_t now_ns, int batch)
{
	struct a4s_ring_record rec;
	enum a4s_ring_status st = A4S_RING_EMPTY;
	for (int i = 0; i < batch; i++) {
		st = a4s_ring_next(&h->rd, &rec, now_ns);
		if (st != A4S_RING_GOT)
			return st;
		a4s_ring_count(&h->taken, &rec);
		/* Skipped: counted, not written (--log-skip, or the host's
		 * own ACCEPT4SHIM_LOG_SKIP). */
		if (rec.err && (!a4s_collector_writes(opts->log_skip, rec.err) ||
				!a4s_collector_writes(h->rd.log_skip, rec.err)))
			continue;
		struct a4s_record r;
		a4s_ringrec_to_record(&rec, &r);
		a4s_out_record(h->out, &r, h->cred.pid, &h->out_dropped);
	}
	return st;
}

static void unlink_host(struct host *h)
{
	for (struct host **p = &hosts; *p; p = &(*p)->next) {
		if (*p == h) {
			*p = h->next;
			break;
		}
	}
	nhosts--;
	close(h->sock);
	free(h);
}

/*
 * The host has gone (its socket ended: it exited or was killed, and with
 * it every writer). What it committed is written, to the last record; what
 * it reserved and never committed is counted lost; then its summary, if it
 * asked for one or lost anything.
 */
static void host_gone(struct host *h, uint64_t now_ns)
{
	if (h->attached) {
		a4s_ring_host_gone(&h->rd);
		while (drain(h, now_ns, A4S_DRAIN_BATCH) == A4S_RING_GOT)
			;
		/* Written before it is summed up: what the output loses is in
		 * the summary. */
		a4s_out_flush_all();
		struct accept4shim_stats total;
		struct a4s_summary s;
		count(h, &total);
		to_summary(h, &total, &s);
		uint64_t lost_summary = 0;
		if ((h->rd.host_flags & A4S_RING_HOST_STATS) || s.dropped)
			a4s_out_summary(h->out, &s, "exit", h->cred.pid, &lost_summary);
		a4s_out_flush_all();
		if (lost_summary)
			a4s_out_summary_stderr(&s);
		a4s_ring_publish(&h->rd);
		a4s_out_release(h->out);
		a4s_ring_detach(&h->rd);
	}
	unlink_host(h);
}

void a4s_hosts_accept(int listen_fd, uint64_t now_ns)
{
	for (;;) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return; /* EAGAIN: no more; anything else: next time */
		struct host *h = calloc(1, sizeof(*h));
		if (!h) {
			close(fd);
			continue;
		}
		h->sock = fd;
		socklen_t len = sizeof(h->cred);
		bool known = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &h->cred, &len) == 0;
		h->hello_deadline_ns = now_ns + A4S_HELLO_TIMEOUT_NS;
		h->next = hosts;
		hosts = h;
		nhosts++;
		/* Another user's process may not put records in our name;
		 * root's collector is there to serve every user. */
		if (!known || (geteuid() != 0 && h->cred.uid != geteuid())) {
			say(h, "refused", "not a process of this collector's user");
			reply(h, EACCES);
			unlink_host(h);
		} else if (nhosts > max_hosts) {
			say(h, "refused", "as many hosts as this collector can serve");
			reply(h, EBUSY);
			unlink_host(h);
		}
	}
}

int a4s_hosts_pollfds(struct pollfd *fds, int max)
{
	int n = 0;
	for (struct host *h = hosts; h && n < max; h = h->next)
		fds[n++] = (struct pollfd){ h->sock, POLLIN, 0 };
	return n;
}

static void close_fds(struct msghdr *msg)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			close(fd);
		}
	}
}

/* The one descriptor a hello carries, or -1 if it carries any other
 * number of them. */
static int the_fd(struct msghdr *msg)
{
	int found = -1, count = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		if (n >= 1)
			memcpy(&found, CMSG_DATA(c), sizeof(found));
		count += (int)n;
	}
	return count == 1 ? found : -1;
}

/* The hello: a version we speak, and one sealed memfd holding a ring. */
static void hello(struct host *h, uint64_t now_ns)
{
	struct a4s_ringlink_hello msg_hello;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(8 * sizeof(int))];
	} ctl;
	struct iovec iov = { &msg_hello, sizeof(msg_hello) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };
	ssize_t n = recvmsg(h->sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		unlink_host(h);
		return;
	}
	int fd = the_fd(&msg);
	const char *why = NULL;
	int status = EPROTO;
	if ((size_t)n != sizeof(msg_hello) || (msg.msg_flags & MSG_CTRUNC) ||
	    memcmp(msg_hello.magic, A4S_RINGLINK_HELLO_MAGIC, sizeof(msg_hello.magic)) != 0)
		why = "not a hello";
	else if (msg_hello.version != A4S_RING_VERSION)
		why = "a ring version this collector does not read";
	else if (fd < 0)
		why = "a hello without exactly one descriptor";
	else if (a4s_ring_attach(&h->rd, fd, &why) < 0)
		status = EINVAL;
	else if (msg_hello.size != h->rd.size) {
		a4s_ring_detach(&h->rd);
		why = "hello and ring sizes differ";
		status = EINVAL;
	} else
		status = 0;
	/* The mapping holds the ring; no descriptor of the host's is kept. */
	close_fds(&msg);
	if (status) {
		say(h, "refused", why);
		reply(h, status);
		unlink_host(h);
		return;
	}
	h->out = a4s_out_get(h->cred.pid);
	if (!h->out) {
		a4s_ring_detach(&h->rd);
		reply(h, ENOMEM);
		unlink_host(h);
		return;
	}
	h->attached = true;
	h->last_ns = now_ns;
	reply(h, 0);
}

void a4s_hosts_event(int fd, short revents, uint64_t now_ns)
{
	struct host *h = hosts;
	while (h && h->sock != fd)
		h = h->next;
	if (!h || !revents)
		return;
	if (!h->attached) {
		hello(h, now_ns);
		return;
	}
	/* Nothing more is said on an attached socket: what comes is its end,
	 * or bytes to throw away. */
	char junk[256];
	ssize_t n = recv(fd, junk, sizeof(junk), MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		host_gone(h, now_ns);
}

bool a4s_hosts_drain(uint64_t now_ns)
{
	bool more = false;
	for (struct host *h = hosts, *next; h; h = next) {
		next = h->next;
		if (!h->attached)
			continue;
		enum a4s_ring_status st = drain(h, now_ns, A4S_DRAIN_BATCH);
		if (st == A4S_RING_GOT)
			more = true;
		h->caught_up = st == A4S_RING_EMPTY;
		if (st == A4S_RING_BROKEN) {
			say(h, "dropped", "its ring's memory faulted");
			a4s_out_flush_all(); /* out_dropped is about to go */
			a4s_out_release(h->out);
			a4s_ring_detach(&h->rd);
			unlink_host(h);
		}
	}
	return more;
}

void a4s_hosts_publish(void)
{
	for (struct host *h = hosts; h; h = h->next)
		if (h->attached)
			a4s_ring_publish(&h->rd);
}

void a4s_hosts_tick(uint64_t now_ns)
{
	for (struct host *h = hosts, *next; h; h = next) {
		next = h->next;
		if (!h->attached && now_ns > h->hello_deadline_ns) {
			say(h, "refused", "no hello");
			unlink_host(h);
		} else if (h->attached) {
			interval_summary(h, now_ns);
		}
	}
}

void a4s_hosts_shutdown(uint64_t now_ns)
{
	/* What is committed now, written; nothing is waited for. */
	for (struct host *h = hosts; h; h = h->next)
		if (h->attached)
			while (drain(h, now_ns, A4S_DRAIN_BATCH) == A4S_RING_GOT)
				;
	a4s_out_flush_all();
	a4s_hosts_publish();
	while (hosts) {
		struct host *h = hosts;
		if (h->attached) {
			a4s_out_release(h->out);
			a4s_ring_detach(&h->rd);
		}
		unlink_host(h);
	}
}
