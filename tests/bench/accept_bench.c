/*
 * accept_bench: the cost of one accept, measured the way a server pays it.
 *
 * A forked client connects to a loopback TCP listener and closes, as fast
 * as it can; the server (this process) accepts and closes each connection.
 * The program is the same with and without the library: scripts/bench runs
 * it under each configuration (LD_PRELOAD and ACCEPT4SHIM_* variables) and
 * compares.
 *
 * Client and server take turns, a batch at a time: the client connects and
 * closes a batch of connections, which wait complete in the listener's
 * queue, then the server accepts the whole batch with the clock running.
 * On loopback the handshake is done in the client's connect, so a client
 * running alongside the server is the bottleneck (about 5x slower than the
 * accept loop on a 2-core machine) and would hide what accept costs. A
 * batch never exceeds half the backlog: an overflowing queue drops the SYN
 * and the connect waits a whole second for its retransmit.
 *
 * Each timed batch is bracketed by two marker system calls, close(-4701)
 * and close(-4702), that fail at once and change nothing, so that a system
 * call trace of this process can be cut down to exactly the accept loop.
 * Each timed accept is made in bench_accept_one(), a function of its own,
 * so that callgrind can count the instructions of the accept call alone
 * (--toggle-collect=bench_accept_one); the warm-up's accepts go through
 * bench_accept_warmup(), the same code under another name, so that what
 * happens once (binding, opening the trace) is not counted.
 *
 * Output: one JSON object on stdout, one line: accepts per second of wall
 * clock and per second of the server's CPU time, over the timed batches.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MARK_BEGIN (-4701)
#define MARK_END (-4702)
#define BACKLOG 4096

struct options {
	unsigned long n;      /* timed connections */
	unsigned long warmup; /* accepted before the clock starts */
	unsigned long batch;  /* connections queued before the server accepts */
	bool use_accept;      /* accept() instead of accept4() */
	int flags;            /* accept4's flags */
	const char *flags_name;
	bool async_listener;  /* O_NONBLOCK | O_ASYNC listener, owned by us */
	unsigned timeout;     /* seconds before the whole run gives up */
};

static void usage(FILE *to)
{
	fputs("usage: accept_bench [-n N] [-W WARMUP] [-b BATCH] [-c accept|accept4]\n"
	      "                    [-f 0|cloexec|nonblock|both] [-l block|async] [-t SECONDS]\n"
	      "  -n  connections accepted with the clock running (default 20000)\n"
	      "  -W  connections accepted before, untimed (default 1000)\n"
	      "  -b  connections the client queues before each batch (default 1000)\n"
	      "  -c  the call the server makes (default accept4)\n"
	      "  -f  accept4's flags (default 0)\n"
	      "  -l  block: a blocking listener; async: O_NONBLOCK|O_ASYNC with this\n"
	      "      process as owner (SIGIO ignored), polled when empty\n"
	      "  -t  give up after this many seconds (default 120)\n"
	      "Prints one JSON object; accepts_per_s is n over the wall-clock time of\n"
	      "the timed batches, accepts_per_cpu_s n over the server's CPU time in them.\n",
	      to);
}

static unsigned long number(const char *s, const char *what, unsigned long max)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max) {
		fprintf(stderr, "accept_bench: bad %s: %s\n", what, s);
		exit(2);
	}
	return v;
}

static bool pick(const char *s, const char *a, const char *b, bool *is_b)
{
	*is_b = strcmp(s, b) == 0;
	return *is_b || strcmp(s, a) == 0;
}

static void parse(int argc, char **argv, struct options *o)
{
	static const struct {
		const char *name;
		int flags;
	} flag_names[] = {
		{ "0", 0 },
		{ "cloexec", SOCK_CLOEXEC },
		{ "nonblock", SOCK_NONBLOCK },
		{ "both", SOCK_NONBLOCK | SOCK_CLOEXEC },
	};
	*o = (struct options){ .n = 20000, .warmup = 1000, .batch = 1000,
			       .flags_name = "0", .timeout = 120 };
	bool ok = true;
	int c;
	while ((c = getopt(argc, argv, "n:W:b:c:f:l:t:h")) != -1) {
		switch (c) {
		case 'n': o->n = number(optarg, "-n", 10000000); break;
		case 'W': o->warmup = number(optarg, "-W", 10000000); break;
		case 'b': o->batch = number(optarg, "-b", BACKLOG / 2); break;
		case 't': o->timeout = (unsigned)number(optarg, "-t", 3600); break;
		case 'c': ok &= pick(optarg, "accept4", "accept", &o->use_accept); break;
		case 'l': ok &= pick(optarg, "block", "async", &o->async_listener); break;
		case 'f': {
			size_t i, k = sizeof(flag_names) / sizeof(flag_names[0]);
			for (i = 0; i < k && strcmp(optarg, flag_names[i].name); i++)
				;
			ok &= i < k;
			if (i < k) {
				o->flags = flag_names[i].flags;
				o->flags_name = flag_names[i].name;
			}
			break;
		}
		case 'h': usage(stdout); exit(0);
		default: ok = false;
		}
	}
	if (!ok || optind != argc || o->n == 0 || o->batch == 0 ||
	    (o->use_accept && o->flags)) {
		usage(stderr);
		exit(2);
	}
}

static void die(const char *what)
{
	fprintf(stderr, "accept_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One-byte messages between client and server, on blocking pipes. */
static void send_byte(int fd)
{
	char b = 1;
	while (write(fd, &b, 1) != 1)
		if (errno != EINTR)
			die("write");
}

static bool recv_byte(int fd)
{
	char b;
	for (;;) {
		ssize_t r = read(fd, &b, 1);
		if (r == 1)
			return true;
		if (r == 0)
			return false;
		if (errno != EINTR)
			die("read");
	}
}

/* Both sides cut the run into the same batches: at most o->batch, and none
 * straddles the end of the warm-up. */
static unsigned long next_batch(const struct options *o, unsigned long done)
{
	unsigned long end = done < o->warmup ? o->warmup : o->warmup + o->n;
	return end - done < o->batch ? end - done : o->batch;
}

/* The client: batches of connections, each connected and closed at once.
 * After each batch it tells the server (ready) and waits for it (go). */
static void run_client(const struct sockaddr_in *to, const struct options *o,
		       int ready, int go)
{
	const struct timespec pause = { 0, 100000 };
	unsigned long failures = 0;
	for (unsigned long done = 0; done < o->warmup + o->n;) {
		unsigned long want = next_batch(o, done);
		for (unsigned long i = 0; i < want;) {
			int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (s < 0)
				die("client socket");
			if (connect(s, (const struct sockaddr *)to, sizeof(*to)) < 0) {
				/* No ephemeral port free for a moment: wait
				 * and try again, a bounded number of times. */
				int err = errno;
				close(s);
				if (++failures > 20000) {
					errno = err;
					die("client connect");
				}
				nanosleep(&pause, NULL);
				continue;
			}
			close(s);
			i++;
		}
		done += want;
		send_byte(ready);
		if (!recv_byte(go))
			break;
	}
	_exit(0);
}

static inline int accept_as_asked(int lfd, struct sockaddr *sa, socklen_t *len,
				  bool use_accept, int flags)
{
	if (use_accept)
		return accept(lfd, sa, len);
	return accept4(lfd, sa, len, flags);
}

/* One accept, as the configuration asks; out of line so that callgrind
 * can count it alone. */
__attribute__((noinline)) int bench_accept_one(int lfd, struct sockaddr *sa, socklen_t *len,
					       bool use_accept, int flags);
__attribute__((noinline)) int bench_accept_one(int lfd, struct sockaddr *sa, socklen_t *len,
					       bool use_accept, int flags)
{
	return accept_as_asked(lfd, sa, len, use_accept, flags);
}

/* The same, for the warm-up, which callgrind does not count. It counts
 * its calls, so that its code differs from bench_accept_one's and no
 * compiler folds the two into one (which would count the warm-up). */
static volatile unsigned long warmup_calls;
__attribute__((noinline)) int bench_accept_warmup(int lfd, struct sockaddr *sa, socklen_t *len,
						  bool use_accept, int flags);
__attribute__((noinline)) int bench_accept_warmup(int lfd, struct sockaddr *sa, socklen_t *len,
						  bool use_accept, int flags)
{
	warmup_calls++;
	return accept_as_asked(lfd, sa, len, use_accept, flags);
}

/* Accepts and closes count connections; returns how many accepts found
 * the queue empty (a non-blocking listener then waits in poll). */
static unsigned long accept_loop(int lfd, const struct options *o, unsigned long count,
				 bool timed)
{
	unsigned long empty = 0;
	for (unsigned long i = 0; i < count;) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		int fd = timed ? bench_accept_one(lfd, (struct sockaddr *)&peer, &len,
						  o->use_accept, o->flags)
			       : bench_accept_warmup(lfd, (struct sockaddr *)&peer, &len,
						     o->use_accept, o->flags);
		if (fd < 0) {
			if (errno == EAGAIN && o->async_listener) {
				struct pollfd p = { .fd = lfd, .events = POLLIN };
				empty++;
				if (poll(&p, 1, 1000) < 0 && errno != EINTR)
					die("poll");
				continue;
			}
			if (errno == EINTR)
				continue;
			die("accept");
		}
		close(fd);
		i++;
	}
	return empty;
}

int main(int argc, char **argv)
{
	struct options o;
	parse(argc, argv, &o);

	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		die("socket");
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in addr = { .sin_family = AF_INET,
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(addr);
	if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(lfd, BACKLOG) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0)
		die("listen");
	if (o.async_listener) {
		/* What a BSD-style server sets up: non-blocking, signal-driven,
		 * owned by this process. SIGIO is ignored, so the signals the
		 * kernel raises stop nothing. */
		signal(SIGIO, SIG_IGN);
		if (fcntl(lfd, F_SETOWN, getpid()) < 0 ||
		    fcntl(lfd, F_SETFL, O_NONBLOCK | O_ASYNC) < 0)
			die("fcntl listener");
	}
	alarm(o.timeout); /* a run that cannot finish ends; it does not hang */

	int ready[2], go[2];
	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0)
		die("pipe");
	pid_t client = fork();
	if (client < 0)
		die("fork");
	if (client == 0) {
		close(lfd);
		close(ready[0]);
		close(go[1]);
		run_client(&addr, &o, ready[1], go[0]);
	}
	close(ready[1]);
	close(go[0]);

	/* Wall-clock time is what a server sees. The server's own CPU time
	 * (user and system) is also kept: on a shared machine it leaves out
	 * the time other processes held the CPU, though also any time the
	 * server waited (which only a traced process, stopped for its tracer,
	 * does here). Reading it is a system call, made outside the markers. */
	double secs = 0, cpu = 0;
	unsigned long empty = 0;
	for (unsigned long done = 0; done < o.warmup + o.n;) {
		unsigned long count = next_batch(&o, done);
		bool timed = done >= o.warmup;
		if (!recv_byte(ready[0]))
			die("client gone");
		double c0 = timed ? clock_s(CLOCK_THREAD_CPUTIME_ID) : 0;
		if (timed)
			syscall(SYS_close, MARK_BEGIN);
		double t0 = clock_s(CLOCK_MONOTONIC);
		unsigned long e = accept_loop(lfd, &o, count, timed);
		if (timed) {
			secs += clock_s(CLOCK_MONOTONIC) - t0;
			syscall(SYS_close, MARK_END);
			cpu += clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
			empty += e;
		}
		done += count;
		send_byte(go[1]);
	}
	close(go[1]);

	int status;
	if (waitpid(client, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fputs("accept_bench: the client failed\n", stderr);
		return 1;
	}
	close(lfd);
	printf("{\"call\":\"%s\",\"flags\":\"%s\",\"listener\":\"%s\",\"n\":%lu,"
	       "\"batch\":%lu,\"seconds\":%.6f,\"accepts_per_s\":%.1f,"
	       "\"ns_per_accept\":%.1f,\"cpu_seconds\":%.6f,\"accepts_per_cpu_s\":%.1f,"
	       "\"empty_queue\":%lu}\n",
	       o.use_accept ? "accept" : "accept4", o.flags_name,
	       o.async_listener ? "async" : "block", o.n, o.batch, secs,
	       (double)o.n / secs, secs * 1e9 / (double)o.n, cpu,
	       cpu > 0 ? (double)o.n / cpu : 0.0, empty);
	return 0;
}
