/*
 * A test host for the collector: plays a traced process through the
 * library's own ring and link code (shim/ring.c, shim/ringlink.c), as the
 * library will once ACCEPT4SHIM_LOG=collector:PATH is wired in.
 *
 *   a4s_fakehost --socket=PATH [--slots=N] [--stats] [--seed=S]
 *                [--expect=FILE --format=text|json] ACTION...
 *
 * Actions, run in order (each one's result on stdout, one line):
 *   connect     create the ring, connect, send it: "reply STATUS"
 *   ring        create the ring only (no collector: for measuring appends)
 *   write:N     N random records (randrec.h); the ones the ring took are
 *               also formatted with a4s_format_record into the --expect
 *               file, the bytes the collector must write for them
 *   flat:N      N records as fast as they can be written: "flat written N
 *               appended A dropped D" -- the host never waits
 *   typical:N   N records like a busy server's (IPv4, accept4 with both
 *               flags), waiting 1 ms whenever the ring is full so that
 *               none is dropped: for measuring the collector, whose pace
 *               this then is; "typical N seconds S"
 *   report      "written W appended A dropped D" since the start
 *   wait        reads a line from stdin (the test says when to go on)
 *   drained     waits until the collector has taken every record appended
 *               (it writes or drops them before it gives their slots back):
 *               "drained 0", or "drained -1" after 60 s
 *   reconnect   once the collector is gone (looked at once a second, as
 *               the library will), connects again and sends the same ring:
 *               "reply STATUS"
 *   kill        SIGKILL, now
 * At the end it exits 0, which closes its socket.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "randrec.h"
#include "record.h"
#include "ring.h"
#include "ringlink.h"
#include "ringrec.h"

static struct a4s_ring ring = { .fd = -1 };
static int sock = -1;
static const char *path;
static uint64_t written, appended, dropped;
static int expect_fd = -1;
static enum a4s_log_format format;

static int link_ring(void)
{
	int r = a4s_ringlink_connect(path, &sock);
	if (r == 0)
		r = a4s_ringlink_handover(sock, &ring, 5000);
	return r;
}

static void do_write(struct randrec *g, long n)
{
	for (long i = 0; i < n; i++) {
		struct a4s_record r;
		struct a4s_ring_record w;
		randrec_make(g, &r, getpid(), gettid());
		a4s_ringrec_from_record(&r, &w);
		written++;
		if (!a4s_ring_append(&ring, &w)) {
			dropped++;
			continue;
		}
		appended++;
		if (expect_fd >= 0) {
			char line[A4S_RECORD_MAX];
			size_t len = a4s_format_record(&r, format, line, sizeof(line));
			(void)!write(expect_fd, line, len);
		}
	}
}

static void do_flat(long n)
{
	struct a4s_ring_record w;
	memset(&w, 0, sizeof(w));
	w.pid = getpid();
	w.tid = gettid();
	w.call = A4S_RING_ACCEPT4;
	w.fd = 5;
	/* 127.0.0.1:8080 from 127.0.0.1:40000, as a busy server's records. */
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(8080),
				  .sin_addr.s_addr = htonl(0x7f000001) };
	w.has = A4S_RING_HAS_LOCAL | A4S_RING_HAS_PEER;
	w.local_len = w.peer_len = sizeof(in);
	memcpy(w.local, &in, sizeof(in));
	in.sin_port = htons(40000);
	memcpy(w.peer, &in, sizeof(in));
	uint64_t a = 0, d = 0;
	for (long i = 0; i < n; i++) {
		w.dur_ns = (uint64_t)i;
		w.ts_sec = 1700000000 + i / 1000;
		if (a4s_ring_append(&ring, &w))
			a++;
		else
			d++;
	}
	written += (uint64_t)n;
	appended += a;
	dropped += d;
	printf("flat written %ld appended %llu dropped %llu\n", n, (unsigned long long)a,
	       (unsigned long long)d);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void do_typical(long n)
{
	struct sockaddr_in local = { .sin_family = AF_INET, .sin_port = htons(8080),
				     .sin_addr.s_addr = htonl(0x7f000001) };
	struct sockaddr_in peer = local;
	struct a4s_record r = {
		.pid = getpid(), .tid = gettid(), .is_accept4 = true, .listen_fd = 3,
		.local = (struct sockaddr *)&local, .local_len = sizeof(local),
		.flags = SOCK_NONBLOCK | SOCK_CLOEXEC, .peer = (struct sockaddr *)&peer,
		.peer_len = sizeof(peer),
	};
	double start = now_s();
	for (long i = 0; i < n; i++) {
		clock_gettime(CLOCK_REALTIME, &r.ts);
		r.fd = 5 + (int)(i % 1000);
		peer.sin_port = htons((uint16_t)(32768 + i % 28000));
		r.dur_ns = 1500 + (uint64_t)(i % 997);
		/* Reserve (which counts nothing when the ring is full), fill
		 * in place, commit: as the library's fast path will. */
		uint64_t pos;
		struct a4s_ring_record *w;
		while (!(w = a4s_ring_reserve(&ring, &pos)))
			usleep(1000);
		a4s_ringrec_from_record(&r, w);
		a4s_ring_commit(&ring, pos);
	}
	written += (uint64_t)n;
	appended += (uint64_t)n;
	printf("typical %ld seconds %.3f\n", n, now_s() - start);
}

/* Until the collector's tail has reached our head. Its main loop writes
 * (or drops, and says why) what it took before it moves the tail, so
 * then everything appended so far has had its outcome. */
static void do_drained(void)
{
	for (int ms = 0; ms < 60000; ms++) {
		if (atomic_load_explicit(&ring.cons->tail, memory_order_acquire) ==
		    atomic_load_explicit(&ring.hdr->head, memory_order_acquire)) {
			printf("drained 0\n");
			return;
		}
		usleep(1000);
	}
	printf("drained -1\n");
}

/* As the library will: look at most once a second whether the collector
 * still holds its end, and when it does not, connect anew. */
static void do_reconnect(void)
{
	for (int i = 0; i < 60; i++) {
		if (sock >= 0 && a4s_ringlink_alive(sock)) {
			sleep(1);
			continue;
		}
		if (sock >= 0)
			close(sock);
		sock = -1;
		int r = link_ring();
		if (r == 0 || i == 59) {
			printf("reply %d\n", r);
			return;
		}
		sleep(1);
	}
}

int main(int argc, char **argv)
{
	uint32_t slots = 0, flags = 0;
	uint64_t seed = 1;
	const char *expect = NULL;
	int i = 1;
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strncmp(argv[i], "--socket=", 9) == 0)
			path = argv[i] + 9;
		else if (strncmp(argv[i], "--slots=", 8) == 0)
			slots = (uint32_t)strtoul(argv[i] + 8, NULL, 10);
		else if (strcmp(argv[i], "--stats") == 0)
			flags |= A4S_RING_HOST_STATS;
		else if (strncmp(argv[i], "--seed=", 7) == 0)
			seed = strtoull(argv[i] + 7, NULL, 10);
		else if (strncmp(argv[i], "--expect=", 9) == 0)
			expect = argv[i] + 9;
		else if (strcmp(argv[i], "--format=json") == 0)
			format = A4S_FORMAT_JSON;
		else if (strcmp(argv[i], "--format=text") == 0)
			format = A4S_FORMAT_TEXT;
		else {
			fprintf(stderr, "a4s_fakehost: bad option %s\n", argv[i]);
			return 2;
		}
	}
	if (!path)
		return 2;
	if (expect) {
		expect_fd = open(expect, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (expect_fd < 0)
			return 3;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	struct randrec g;
	randrec_seed(&g, seed);
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "connect") == 0) {
			int r = a4s_ring_create(&ring, slots, getpid(), flags, NULL);
			if (r == 0)
				r = link_ring();
			printf("reply %d\n", r);
		} else if (strcmp(a, "ring") == 0) {
			int r = a4s_ring_create(&ring, slots, getpid(), flags, NULL);
			printf("ring %d\n", r);
		} else if (strncmp(a, "write:", 6) == 0) {
			do_write(&g, strtol(a + 6, NULL, 10));
		} else if (strncmp(a, "typical:", 8) == 0) {
			do_typical(strtol(a + 8, NULL, 10));
		} else if (strncmp(a, "flat:", 5) == 0) {
			do_flat(strtol(a + 5, NULL, 10));
		} else if (strcmp(a, "report") == 0) {
			printf("written %llu appended %llu dropped %llu\n", (unsigned long long)written,
			       (unsigned long long)appended, (unsigned long long)dropped);
		} else if (strcmp(a, "wait") == 0) {
			char c;
			while (read(0, &c, 1) == 1 && c != '\n')
				;
		} else if (strcmp(a, "drained") == 0) {
			do_drained();
		} else if (strcmp(a, "reconnect") == 0) {
			do_reconnect();
		} else if (strcmp(a, "kill") == 0) {
			raise(SIGKILL);
		} else {
			fprintf(stderr, "a4s_fakehost: bad action %s\n", a);
			return 2;
		}
	}
	return 0;
}
