/*
 * The trace ring (shim/ring.h, collector/ringread.h) on its own: the host's
 * writers and the collector's reader in one process, over a real sealed
 * memfd mapped twice, as the two programs map it.
 *
 * Issue 14: "a record is a fixed binary struct written with an atomic
 * reservation and a commit, no system call and no lock"; "a record
 * half-written when it died is skipped (and counted) after a bounded time,
 * never blocks later ones"; "a full ring drops and counts". And the
 * collector's side: whatever a hostile or broken host writes into the
 * shared memory, the reader stays inside the mapping and never crashes.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#include "record.h"
#include "ring.h"
#include "ringread.h"
#include "ringrec.h"

#define SEC 1000000000ull

/* A record whose every field follows from (writer, k), so that a reader
 * can tell a whole record from a torn or misplaced one. */
static void make(struct a4s_ring_record *r, int writer, uint32_t k)
{
	memset(r, 0, sizeof(*r));
	r->ts_sec = 1700000000 + k;
	r->ts_nsec = k % 1000000000u;
	r->pid = 1000 + writer;
	r->tid = 2000 + writer;
	r->listen_fd = writer;
	r->flags = (int)(k & 3) << 19 & (SOCK_NONBLOCK | SOCK_CLOEXEC);
	r->fd = (int)(k % 1000);
	r->retries = k;
	r->dur_ns = (uint64_t)writer << 32 | k;
	r->call = (uint8_t)(k & 1);
	r->how = (uint8_t)(k >> 1 & 1);
	r->has = A4S_RING_HAS_LOCAL | A4S_RING_HAS_PEER;
	r->local_len = 16;
	r->peer_len = (uint8_t)(16 + k % 100);
	for (int i = 0; i < r->local_len; i++)
		r->local[i] = (unsigned char)(writer + i);
	for (int i = 0; i < r->peer_len; i++)
		r->peer[i] = (unsigned char)(k + (unsigned)i);
}

static bool same(const struct a4s_ring_record *a, const struct a4s_ring_record *b)
{
	return memcmp(a, b, offsetof(struct a4s_ring_record, local)) == 0 &&
	       memcmp(a->local, b->local, a->local_len) == 0 &&
	       memcmp(a->peer, b->peer, a->peer_len) == 0;
}

/* The writer and k a record was made from, checked whole. */
static bool identify(const struct a4s_ring_record *r, int *writer, uint32_t *k)
{
	*writer = r->listen_fd;
	*k = r->retries;
	struct a4s_ring_record want;
	make(&want, *writer, *k);
	return same(r, &want);
}

static void create(struct a4s_ring *r, uint32_t slots)
{
	ck_assert_int_eq(a4s_ring_create(r, slots, 1234, 0, NULL), 0);
}

static void attach(struct a4s_ring_reader *rd, const struct a4s_ring *r)
{
	const char *why = NULL;
	ck_assert_msg(a4s_ring_attach(rd, r->fd, &why) == 0, "attach: %s", why);
}

START_TEST(ring_is_a_memfd_sealed_against_shrinking_and_growing)
{
	struct a4s_ring r;
	create(&r, 64);
	ck_assert_int_eq(fcntl(r.fd, F_GET_SEALS),
			 F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	ck_assert(fcntl(r.fd, F_GETFD) & FD_CLOEXEC);
	struct stat st;
	ck_assert_int_eq(fstat(r.fd, &st), 0);
	ck_assert_int_eq(st.st_size, (off_t)a4s_ring_size(64));
	ck_assert_int_eq(st.st_size, 2 * 4096 + 64 * 320);
	/* Sealed: neither the host nor anyone else can shrink it under a
	 * collector's mapping. */
	ck_assert_int_eq(ftruncate(r.fd, 4096), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(ftruncate(r.fd, st.st_size * 2), -1);
	ck_assert_int_eq(fcntl(r.fd, F_ADD_SEALS, F_SEAL_WRITE), -1);
	ck_assert_mem_eq(r.hdr->magic, "A4SRING", 8);
	ck_assert_uint_eq(r.hdr->version, 1);
	ck_assert_uint_eq(r.hdr->slot_count, 64);
	a4s_ring_destroy(&r);
}
END_TEST

START_TEST(slot_count_out_of_bounds_gets_the_default)
{
	struct a4s_ring r;
	uint32_t bad[] = { 0, 1, 3, 100, A4S_RING_SLOTS_MAX * 2 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		create(&r, bad[i]);
		ck_assert_uint_eq(r.hdr->slot_count, A4S_RING_SLOTS_DEFAULT);
		a4s_ring_destroy(&r);
	}
}
END_TEST

START_TEST(record_goes_through_whole_and_in_order)
{
	struct a4s_ring r;
	struct a4s_ring_reader rd;
	create(&r, 16);
	attach(&rd, &r);
	struct a4s_ring_record in, out;
	ck_assert_int_eq(a4s_ring_next(&rd, &out, 1), A4S_RING_EMPTY);
	for (uint32_t k = 0; k < 5; k++) {
		make(&in, 7, k);
		ck_assert(a4s_ring_append(&r, &in));
	}
	for (uint32_t k = 0; k < 5; k++) {
		ck_assert_int_eq(a4s_ring_next(&rd, &out, 1), A4S_RING_GOT);
		make(&in, 7, k);
		ck_assert(same(&in, &out));
	}
	ck_assert_int_eq(a4s_ring_next(&rd, &out, 1), A4S_RING_EMPTY);
	ck_assert_uint_eq(rd.seen.taken, 5);
	a4s_ring_detach(&rd);
	a4s_ring_destroy(&r);
}
END_TEST

/* "A full ring drops and counts": nothing is overwritten that the reader
 * has not taken, and the dropped records are counted by outcome. */
START_TEST(full_ring_drops_and_counts_by_outcome)
{
	struct a4s_ring r;
	struct a4s_ring_reader rd;
	create(&r, 8);
	attach(&rd, &r);
	struct a4s_ring_record in, out;
	for (uint32_t k = 0; k < 8; k++) {
		make(&in, 1, k);
		ck_assert(a4s_ring_append(&r, &in));
	}
	/* Three more: two accepted (one emulated, retried twice), one EMFILE. */
	make(&in, 1, 100);
	in.how = A4S_RING_EMULATED;
	in.retries = 2;
	ck_assert(!a4s_ring_append(&r, &in));
	make(&in, 1, 101);
	in.how = A4S_RING_NATIVE;
	in.retries = 0;
	ck_assert(!a4s_ring_append(&r, &in));
	make(&in, 1, 102);
	in.fd = -1;
	in.err = EMFILE;
	in.retries = 0;
	in.how = A4S_RING_NATIVE;
	ck_assert(!a4s_ring_append(&r, &in));

	struct a4s_ring_counts d;
	a4s_ring_read_dropped(&rd, &d);
	ck_assert_uint_eq(d.calls, 3);
	ck_assert_uint_eq(d.accepted, 2);
	ck_assert_uint_eq(d.failed, 1);
	ck_assert_uint_eq(d.errors[EMFILE], 1);
	ck_assert_uint_eq(d.emulated, 1);
	ck_assert_uint_eq(d.retried_calls, 1);
	ck_assert_uint_eq(d.retries, 2);

	/* The eight that fitted, untouched by the three that did not. */
	for (uint32_t k = 0; k < 8; k++) {
		ck_assert_int_eq(a4s_ring_next(&rd, &out, 1), A4S_RING_GOT);
		make(&in, 1, k);
		ck_assert(same(&in, &out));
	}
	ck_assert_int_eq(a4s_ring_next(&rd, &out, 1), A4S_RING_EMPTY);
	/* Taken but not yet published: still full for the host. */
	make(&in, 1, 200);
	ck_assert(!a4s_ring_append(&r, &in));
	a4s_ring_publish(&rd);
	ck_assert(a4s_ring_append(&r, &in));
	ck_assert_int_eq(a4s_ring_next(&rd, &out, 1), A4S_RING_GOT);
	ck_assert(same(&in, &out));
	a4s_ring_detach(&rd);
	a4s_ring_destroy(&r);
}
END_TEST

/* Laps around a small ring, with the reader taking batches of every size
 * and publishing after each: positions far past the slot count, and each
 * record still the one written at that position. */
START_TEST(wrap_around_many_laps)
{
	struct a4s_ring r;
	struct a4s_ring_reader rd;
	create(&r, 8);
	attach(&rd, &r);
	struct a4s_ring_record in, out;
	uint32_t written = 0, read = 0;
	for (int round = 0; round < 500; round++) {
		int n = 1 + round % 8;
		for (int i = 0; i < n; i++) {
			make(&in, 3, written);
			ck_assert(a4s_ring_append(&r, &in));
			written++;
		}
		int m = round % 3 == 2 ? n : n - (round % 2); /* sometimes leave one */
		while (m-- > 0 && read < written) {
			ck_assert_int_eq(a4s_ring_next(&rd, &out, 1), A4S_RING_GOT);
			make(&in, 3, read);
			ck_assert_msg(same(&in, &out), "record %u", read);
			read++;
		}
		a4s_ring_publish(&rd);
		uint32_t next_n = 1 + (uint32_t)(round + 1) % 8;
		while (written - read > 8 - next_n) { /* room for the next round */
			ck_assert_int_eq(a4s_ring_next(&rd, &out, 1), A4S_RING_GOT);
			read++;
			a4s_ring_publish(&rd);
		}
	}
	ck_assert_uint_gt(written, 8 * 100);
	ck_assert_uint_eq(atomic_load(&r.hdr->head), written);
	a4s_ring_detach(&rd);
	a4s_ring_destroy(&r);
}
END_TEST

/* Issue 14: "16 threads x 20,000 accepts through one ring" -- here the
 * ring alone, with a reader draining it as the collector would. */
#define WRITERS 16
#define PER_WRITER 20000

struct hammer {
	struct a4s_ring *ring;
	int writer;
	atomic_int *go;
	uint32_t appended;
};

static void *hammer_writer(void *arg)
{
	struct hammer *h = arg;
	while (!atomic_load(h->go))
		;
	struct a4s_ring_record rec;
	for (uint32_t k = 0; k < PER_WRITER; k++) {
		make(&rec, h->writer, k);
		if (a4s_ring_append(h->ring, &rec))
			h->appended++;
		/* Now and then let the reader run, so that writing and reading
		 * overlap on two cores rather than one after the other. */
		if (k % 256 == 255)
			sched_yield();
	}
	return NULL;
}

static void hammer(uint32_t slots)
{
	struct a4s_ring r;
	struct a4s_ring_reader rd;
	create(&r, slots);
	attach(&rd, &r);
	atomic_int go = 0, done = 0;
	pthread_t t[WRITERS];
	bool joined[WRITERS] = { false };
	struct hammer h[WRITERS];
	for (int i = 0; i < WRITERS; i++) {
		h[i] = (struct hammer){ &r, i, &go, 0 };
		ck_assert_int_eq(pthread_create(&t[i], NULL, hammer_writer, &h[i]), 0);
	}
	atomic_store(&go, 1);

	/* The reader: every record whole, each writer's in the order it
	 * wrote them, none twice. */
	int32_t last[WRITERS];
	uint64_t got[WRITERS] = { 0 };
	for (int i = 0; i < WRITERS; i++)
		last[i] = -1;
	struct a4s_ring_record out;
	uint64_t bad = 0, pending = 0;
	for (;;) {
		bool finished = atomic_load(&done);
		enum a4s_ring_status st;
		while ((st = a4s_ring_next(&rd, &out, 1)) == A4S_RING_GOT) {
			int w;
			uint32_t k;
			if (!identify(&out, &w, &k) || w < 0 || w >= WRITERS || (int32_t)k <= last[w]) {
				bad++;
				continue;
			}
			last[w] = (int32_t)k;
			got[w]++;
			if (got[w] % 64 == 0)
				a4s_ring_publish(&rd);
		}
		a4s_ring_publish(&rd);
		if (st == A4S_RING_PENDING)
			pending++;
		if (finished && st == A4S_RING_EMPTY)
			break;
		if (!finished) {
			int alive = 0;
			for (int i = 0; i < WRITERS; i++) {
				if (!joined[i] && pthread_tryjoin_np(t[i], NULL) == 0)
					joined[i] = true;
				alive += !joined[i];
			}
			if (!alive)
				atomic_store(&done, 1);
		}
	}
	struct a4s_ring_counts d;
	a4s_ring_read_dropped(&rd, &d);
	uint64_t taken = 0, appended = 0;
	for (int i = 0; i < WRITERS; i++) {
		taken += got[i];
		appended += h[i].appended;
	}
	ck_assert_uint_eq(bad, 0);
	ck_assert_uint_eq(rd.seen.abandoned + rd.seen.torn + rd.seen.corrupt, 0);
	ck_assert_uint_eq(taken, appended);
	ck_assert_uint_eq(taken + d.calls, (uint64_t)WRITERS * PER_WRITER);
	printf("%u slots: %llu records taken, %llu dropped, reader saw a reservation pending %llu times\n",
	       slots, (unsigned long long)taken, (unsigned long long)d.calls,
	       (unsigned long long)pending);
	a4s_ring_detach(&rd);
	a4s_ring_destroy(&r);
}

START_TEST(sixteen_threads_exact_accounting_small_ring)
{
	hammer(256); /* drops certain: records + dropped = written */
}
END_TEST

START_TEST(sixteen_threads_exact_accounting_large_ring)
{
	hammer(1u << 16);
}
END_TEST

/* "Writers (any number of host threads, and signal handlers)": a timer's
 * signal handler appends while the thread it interrupts is appending, at
 * any point of its reservation and commit. Nothing waits, every record is
 * whole, each writer's in its order, and the accounting is exact. */
static struct a4s_ring *signal_ring;
static volatile uint32_t handler_k, handler_appended;

static void append_from_handler(int sig)
{
	(void)sig;
	struct a4s_ring_record rec;
	make(&rec, 1, handler_k++);
	if (a4s_ring_append(signal_ring, &rec))
		handler_appended++;
}

START_TEST(signal_handler_appends_while_the_thread_it_interrupted_does)
{
	struct a4s_ring r;
	struct a4s_ring_reader rd;
	create(&r, 1u << 16);
	attach(&rd, &r);
	signal_ring = &r;
	handler_k = handler_appended = 0;
	struct sigaction sa = { .sa_handler = append_from_handler };
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
	struct itimerval every = { { 0, 50 }, { 0, 50 } };
	ck_assert_int_eq(setitimer(ITIMER_REAL, &every, NULL), 0);
	uint32_t appended = 0, k = 0;
	int32_t last[2] = { -1, -1 };
	uint64_t got[2] = { 0, 0 };
	struct a4s_ring_record rec, out;
	/* Until the handler has run a few thousand times, reading as we go. */
	for (; handler_k < 3000 && k < 50000000; k++) {
		make(&rec, 0, k);
		appended += a4s_ring_append(&r, &rec);
		if (k % 1024 == 0) {
			while (a4s_ring_next(&rd, &out, 1) == A4S_RING_GOT) {
				int w;
				uint32_t n;
				ck_assert(identify(&out, &w, &n) && (w == 0 || w == 1));
				ck_assert_int_gt((int32_t)n, last[w]);
				last[w] = (int32_t)n;
				got[w]++;
			}
			a4s_ring_publish(&rd);
		}
	}
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	signal(SIGALRM, SIG_IGN); /* one already on its way is dropped */
	enum a4s_ring_status st;
	while ((st = a4s_ring_next(&rd, &out, 1)) == A4S_RING_GOT) {
		int w;
		uint32_t n;
		ck_assert(identify(&out, &w, &n) && (w == 0 || w == 1));
		ck_assert_int_gt((int32_t)n, last[w]);
		last[w] = (int32_t)n;
		got[w]++;
	}
	ck_assert_int_eq(st, A4S_RING_EMPTY);
	ck_assert_uint_ge(handler_k, 3000);
	ck_assert_uint_eq(got[0], appended);
	ck_assert_uint_eq(got[1], handler_appended);
	struct a4s_ring_counts d;
	a4s_ring_read_dropped(&rd, &d);
	ck_assert_uint_eq(got[0] + got[1] + d.calls, (uint64_t)k + handler_k);
	ck_assert_uint_eq(rd.seen.abandoned + rd.seen.torn + rd.seen.corrupt, 0);
	printf("signal handler: %u records from it, %u from the thread it interrupted\n",
	       handler_appended, appended);
	a4s_ring_detach(&rd);
	a4s_ring_destroy(&r);
}
END_TEST

/* A writer killed mid-record: its reservation is never committed. The
 * reader waits for it a bounded time, then skips it and counts it, and the
 * records after it come through. */
START_TEST(writer_killed_mid_record_is_skipped_after_a_bounded_time)
{
	struct a4s_ring r;
	struct a4s_ring_reader rd;
	create(&r, 16);
	attach(&rd, &r);
	struct a4s_ring_record in, out;
	make(&in, 0, 0);
	ck_assert(a4s_ring_append(&r, &in));

	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		uint64_t pos;
		struct a4s_ring_record *s = a4s_ring_reserve(&r, &pos);
		if (s)
			memcpy(s, &in, sizeof(*s) / 2); /* half a record... */
		raise(SIGKILL);                      /* ...and no commit */
		_exit(1);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	for (uint32_t k = 1; k <= 3; k++) {
		make(&in, 0, k);
		ck_assert(a4s_ring_append(&r, &in));
	}

	uint64_t t0 = 5 * SEC;
	ck_assert_int_eq(a4s_ring_next(&rd, &out, t0), A4S_RING_GOT);
	ck_assert_uint_eq(out.retries, 0);
	/* The dead writer's position: pending, not skipped, until the
	 * bounded time has passed... */
	ck_assert_int_eq(a4s_ring_next(&rd, &out, t0), A4S_RING_PENDING);
	ck_assert_int_eq(a4s_ring_next(&rd, &out, t0 + A4S_RING_ABANDON_NS - 1), A4S_RING_PENDING);
	ck_assert_uint_eq(rd.seen.abandoned, 0);
	/* ...then skipped and counted, and the later records come. */
	for (uint32_t k = 1; k <= 3; k++) {
		ck_assert_int_eq(a4s_ring_next(&rd, &out, t0 + A4S_RING_ABANDON_NS), A4S_RING_GOT);
		make(&in, 0, k);
		ck_assert(same(&in, &out));
	}
	ck_assert_uint_eq(rd.seen.abandoned, 1);
	ck_assert_int_eq(a4s_ring_next(&rd, &out, t0 + A4S_RING_ABANDON_NS), A4S_RING_EMPTY);
	a4s_ring_detach(&rd);
	a4s_ring_destroy(&r);
}
END_TEST

/* Once the host has gone, nobody will commit: skipped at once. */
START_TEST(host_gone_skips_uncommitted_at_once_and_stops_at_head)
{
	struct a4s_ring r;
	struct a4s_ring_reader rd;
	create(&r, 16);
	attach(&rd, &r);
	struct a4s_ring_record in, out;
	uint64_t pos;
	ck_assert_ptr_nonnull(a4s_ring_reserve(&r, &pos)); /* never committed */
	make(&in, 0, 9);
	ck_assert(a4s_ring_append(&r, &in));
	ck_assert_int_eq(a4s_ring_next(&rd, &out, 1), A4S_RING_PENDING);
	a4s_ring_host_gone(&rd);
	ck_assert_int_eq(a4s_ring_next(&rd, &out, 1), A4S_RING_GOT);
	ck_assert(same(&in, &out));
	ck_assert_uint_eq(rd.seen.abandoned, 1);
	ck_assert_int_eq(a4s_ring_next(&rd, &out, 1), A4S_RING_EMPTY);
	a4s_ring_detach(&rd);
	a4s_ring_destroy(&r);
}
END_TEST

/* A collector that restarts picks the ring up where the last one stopped:
 * what it published is not read again, what it had not is. */
START_TEST(new_reader_resumes_at_published_tail)
{
	struct a4s_ring r;
	struct a4s_ring_reader rd;
	create(&r, 16);
	attach(&rd, &r);
	struct a4s_ring_record in, out;
	for (uint32_t k = 0; k < 6; k++) {
		make(&in, 2, k);
		ck_assert(a4s_ring_append(&r, &in));
	}
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(a4s_ring_next(&rd, &out, 1), A4S_RING_GOT);
	a4s_ring_publish(&rd);
	ck_assert_int_eq(a4s_ring_next(&rd, &out, 1), A4S_RING_GOT); /* taken, not published */
	a4s_ring_detach(&rd);

	attach(&rd, &r);
	ck_assert_int_eq(a4s_ring_next(&rd, &out, 1), A4S_RING_GOT);
	ck_assert_uint_eq(out.retries, 4);
	ck_assert_int_eq(a4s_ring_next(&rd, &out, 1), A4S_RING_GOT);
	ck_assert_uint_eq(out.retries, 5);
	ck_assert_int_eq(a4s_ring_next(&rd, &out, 1), A4S_RING_EMPTY);
	a4s_ring_detach(&rd);
	a4s_ring_destroy(&r);
}
END_TEST

/* The header, field by field, broken: the reader refuses the ring and
 * says why, and leaves nothing mapped. */
static void expect_refused(int fd, const char *why_part)
{
	struct a4s_ring_reader rd;
	const char *why = NULL;
	ck_assert_int_eq(a4s_ring_attach(&rd, fd, &why), -1);
	ck_assert_ptr_nonnull(why);
	ck_assert_msg(strstr(why, why_part), "refused for \"%s\", expected \"%s\"", why, why_part);
	ck_assert_ptr_null(rd.base);
}

START_TEST(corrupted_header_is_refused)
{
	struct a4s_ring r;
	create(&r, 64);
	struct a4s_ring_header good;
	memcpy(&good, r.hdr, offsetof(struct a4s_ring_header, head));
	r.hdr->magic[0] = 'X';
	expect_refused(r.fd, "bad magic");
	memcpy(r.hdr, &good, offsetof(struct a4s_ring_header, head));
	r.hdr->version = 2;
	expect_refused(r.fd, "version");
	r.hdr->version = 0;
	expect_refused(r.fd, "version");
	memcpy(r.hdr, &good, offsetof(struct a4s_ring_header, head));
	r.hdr->slot_size = 256;
	expect_refused(r.fd, "layout");
	memcpy(r.hdr, &good, offsetof(struct a4s_ring_header, head));
	r.hdr->header_size = 4096;
	expect_refused(r.fd, "layout");
	memcpy(r.hdr, &good, offsetof(struct a4s_ring_header, head));
	r.hdr->slot_count = 63;
	expect_refused(r.fd, "layout");
	r.hdr->slot_count = 0;
	expect_refused(r.fd, "layout");
	r.hdr->slot_count = 0x80000000u; /* a power of two, far beyond the file */
	expect_refused(r.fd, "layout");
	/* Claims more slots than the file holds, size to match. */
	r.hdr->slot_count = 128;
	r.hdr->total_size = a4s_ring_size(128);
	expect_refused(r.fd, "does not match the file");
	memcpy(r.hdr, &good, offsetof(struct a4s_ring_header, head));
	r.hdr->total_size += 320;
	expect_refused(r.fd, "does not match the file");
	/* And the real header again: accepted. */
	memcpy(r.hdr, &good, offsetof(struct a4s_ring_header, head));
	struct a4s_ring_reader rd;
	attach(&rd, &r);
	a4s_ring_detach(&rd);
	a4s_ring_destroy(&r);
}
END_TEST

/* What is handed over must be a sealed memfd of a sane size: a file that
 * can shrink under the mapping would be a SIGBUS in the collector. */
START_TEST(unsealed_or_wrong_files_are_refused)
{
	/* A memfd with the right contents but no seals. */
	struct a4s_ring r;
	create(&r, 64);
	int plain = memfd_create("plain", MFD_CLOEXEC);
	ck_assert_int_ge(plain, 0);
	ck_assert_int_eq(write(plain, r.base, r.size), (ssize_t)r.size);
	expect_refused(plain, "not sealed");
	/* Sealed against shrinking only. */
	int half = memfd_create("half", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	ck_assert_int_eq(write(half, r.base, r.size), (ssize_t)r.size);
	ck_assert_int_eq(fcntl(half, F_ADD_SEALS, F_SEAL_SHRINK), 0);
	expect_refused(half, "not sealed");
	/* A regular file on disk with the same bytes. */
	char path[] = "/tmp/a4s-ring-XXXXXX";
	int file = mkstemp(path);
	ck_assert_int_ge(file, 0);
	unlink(path);
	ck_assert_int_eq(write(file, r.base, r.size), (ssize_t)r.size);
	expect_refused(file, "not a memfd");
	/* A pipe, a socket. */
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	expect_refused(p[0], "not a memfd");
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	expect_refused(s, "not a memfd");
	/* Sealed, but too small to hold a ring, or far too large. */
	int tiny = memfd_create("tiny", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	ck_assert_int_eq(ftruncate(tiny, 4096), 0);
	ck_assert_int_eq(fcntl(tiny, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), 0);
	expect_refused(tiny, "size");
	int huge = memfd_create("huge", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	ck_assert_int_eq(ftruncate(huge, (off_t)a4s_ring_size(A4S_RING_SLOTS_MAX) + 4096), 0);
	ck_assert_int_eq(fcntl(huge, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), 0);
	expect_refused(huge, "size");
	/* A read-only descriptor of a good ring: the consumer's word cannot
	 * be written through it. */
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", r.fd);
	int ro = open(proc, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(ro, 0);
	expect_refused(ro, "writable");
	close(ro);
	close(plain);
	close(half);
	close(file);
	close(p[0]);
	close(p[1]);
	close(s);
	close(tiny);
	close(huge);
	a4s_ring_destroy(&r);
}
END_TEST

/* A hostile host writes anything anywhere, before and while the reader
 * reads: committed words for the positions the reader expects, lengths
 * beyond the arrays, a head far ahead. The reader takes only records that
 * a host could have written, never reads outside the mapping (memcheck
 * watches this suite), and a host gone is drained in at most one lap. */
static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

START_TEST(hostile_slots_and_head_never_break_the_reader)
{
	struct a4s_ring r;
	create(&r, 32);
	for (int round = 0; round < 200; round++) {
		unsigned char *slots = (unsigned char *)r.slots;
		size_t bytes = 32 * sizeof(struct a4s_ring_slot);
		for (size_t i = 0; i < bytes; i += 8) {
			uint64_t v = rnd();
			memcpy(slots + i, &v, 8);
		}
		/* Most slots claim to be committed at the positions the reader
		 * will look for, so their garbage gets checked. */
		uint64_t tail = rnd() % 1000;
		atomic_store(&r.cons->tail, tail);
		struct a4s_ring_reader rd;
		attach(&rd, &r);
		ck_assert_uint_eq(rd.tail, tail);
		for (uint64_t p = tail; p < tail + 32; p++)
			if (rnd() % 4)
				atomic_store(&r.slots[p & 31].seq, a4s_ring_committed(p));
		atomic_store(&r.hdr->head, round % 2 ? tail + (rnd() >> 1) : rnd());
		struct a4s_ring_record out;
		int steps = 0;
		enum a4s_ring_status st;
		while ((st = a4s_ring_next(&rd, &out, 1 + (uint64_t)steps * SEC)) != A4S_RING_EMPTY &&
		       steps < 100) {
			if (st == A4S_RING_GOT) {
				ck_assert(a4s_ringrec_valid(&out));
				ck_assert_uint_le(out.local_len, A4S_RING_ADDR_MAX);
				ck_assert_uint_le(out.peer_len, A4S_RING_ADDR_MAX);
				/* And it formats, within bounds. */
				struct a4s_record rec;
				char line[A4S_RECORD_MAX];
				a4s_ringrec_to_record(&out, &rec);
				ck_assert_uint_gt(a4s_format_record(&rec, A4S_FORMAT_JSON, line, sizeof(line)), 0);
			}
			steps++;
		}
		/* Gone: drained within one lap of the ring, whatever head says. */
		a4s_ring_host_gone(&rd);
		tail = rd.tail;
		int drained = 0;
		while (a4s_ring_next(&rd, &out, 1) != A4S_RING_EMPTY)
			ck_assert_int_le(++drained, 32);
		ck_assert_uint_le(rd.tail - tail, 32);
		a4s_ring_detach(&rd);
	}
	a4s_ring_destroy(&r);
}
END_TEST

/*
 * A writer of an older lap of a slot, woken long after the reader gave its
 * position up, starts writing into the slot while the reader copies the
 * record that is there now. Made to happen at exactly the worst moment:
 * slot 12 straddles two pages; the reader's view of the second one is
 * taken away, so its copy stops halfway with a fault, and the fault handler
 * plays the late writer (marks the slot as being written for its old
 * position and rewrites the record) before letting the copy go on. The
 * reader must see the commit word change and skip the record, not take
 * the first half of one record and the second half of another.
 */
static struct {
	struct a4s_ring *ring;
	unsigned char *reader_page;
	int faults;
} late;

static void late_writer(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	(void)ctx;
	if ((unsigned char *)si->si_addr < late.reader_page ||
	    (unsigned char *)si->si_addr >= late.reader_page + 4096 || late.faults++) {
		signal(SIGSEGV, SIG_DFL);
		return;
	}
	struct a4s_ring_slot *s = &late.ring->slots[12];
	struct a4s_ring_record old;
	make(&old, 9, 9);
	atomic_store(&s->seq, a4s_ring_busy(12 - 16)); /* its position, one lap before */
	memcpy(&s->rec, &old, sizeof(old));
	mprotect(late.reader_page, 4096, PROT_READ);
}

START_TEST(record_changed_while_copied_is_skipped_not_taken_mixed)
{
	ck_assert_int_eq(sysconf(_SC_PAGESIZE), 4096);
	struct a4s_ring r;
	create(&r, 16);
	/* Position 12's slot: 8192 + 12 * 320 = 12032 to 12352, across the
	 * page boundary at 12288. */
	ck_assert_uint_eq((uintptr_t)&r.slots[12] - (uintptr_t)r.base, 12032);
	struct a4s_ring_record now, out;
	for (uint32_t k = 0; k < 13; k++) {
		make(&now, 1, k);
		ck_assert(a4s_ring_append(&r, &now));
	}
	struct a4s_ring_reader rd;
	attach(&rd, &r);
	for (int i = 0; i < 12; i++)
		ck_assert_int_eq(a4s_ring_next(&rd, &out, 1), A4S_RING_GOT);

	late.ring = &r;
	late.reader_page = (unsigned char *)(uintptr_t)rd.base + 3 * 4096;
	late.faults = 0;
	struct sigaction sa = { .sa_sigaction = late_writer, .sa_flags = SA_SIGINFO };
	sigemptyset(&sa.sa_mask);
	struct sigaction old_sa;
	ck_assert_int_eq(sigaction(SIGSEGV, &sa, &old_sa), 0);
	ck_assert_int_eq(mprotect(late.reader_page, 4096, PROT_NONE), 0);
	enum a4s_ring_status st = a4s_ring_next(&rd, &out, 1);
	sigaction(SIGSEGV, &old_sa, NULL);
	ck_assert_int_eq(late.faults, 1); /* the copy did stop halfway */
	ck_assert_int_ne(st, A4S_RING_GOT);
	ck_assert_uint_eq(rd.seen.torn, 1);
	ck_assert_uint_eq(rd.seen.taken, 12);
	a4s_ring_detach(&rd);
	a4s_ring_destroy(&r);
}
END_TEST

/* A file shrunk under the mapping (possible only if the seals were not
 * checked, so this uses the unchecked attach): the SIGBUS is caught, the
 * ring reported broken, and the process lives. */
START_TEST(sigbus_from_the_mapping_is_survived)
{
	int fd = memfd_create("shrinks", MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	struct a4s_ring r;
	create(&r, 64);
	ck_assert_int_eq(write(fd, r.base, r.size), (ssize_t)r.size);
	a4s_ring_destroy(&r);
	struct a4s_ring_reader rd;
	const char *why = NULL;
	ck_assert_msg(a4s_ring_attach_unchecked(&rd, fd, &why) == 0, "%s", why ? why : "");
	struct a4s_ring_record out;
	ck_assert_int_eq(a4s_ring_next(&rd, &out, 1), A4S_RING_EMPTY);
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	ck_assert_int_eq(a4s_ring_next(&rd, &out, 1), A4S_RING_BROKEN);
	a4s_ring_publish(&rd); /* the consumer page is gone too: no fault */
	a4s_ring_detach(&rd);
	close(fd);
}
END_TEST

/* The translation both ways keeps every byte the formatter writes. */
START_TEST(record_through_the_ring_formats_byte_for_byte)
{
	struct sockaddr_in in4 = { .sin_family = AF_INET, .sin_port = htons(8080),
				   .sin_addr.s_addr = htonl(0x7f000001) };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(443),
				    .sin6_scope_id = 3 };
	in6.sin6_addr.s6_addr[15] = 1;
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	for (int i = 0; i < 108; i++)
		un.sun_path[i] = (char)(i * 7 + 1);
	un.sun_path[0] = '\0'; /* abstract, every byte value */
	const struct sockaddr *addrs[] = { (void *)&in4, (void *)&in6, (void *)&un, NULL };
	socklen_t lens[] = { sizeof(in4), sizeof(in6), sizeof(un), 0 };
	for (int i = 0; i < 2000; i++) {
		struct a4s_record a = {
			.ts = { (time_t)(rnd() % 4000000000u), (long)(rnd() % 1000000000u) },
			.pid = (int)(rnd() % 4000000), .tid = (int)(rnd() % 4000000),
			.is_accept4 = rnd() & 1, .listen_fd = (int)(rnd() % 70000),
			.flags = (int)(rnd() & (SOCK_NONBLOCK | SOCK_CLOEXEC)),
			.emulated = rnd() & 1, .retries = (unsigned)(rnd() % 5),
			.dur_ns = rnd() >> (rnd() % 64),
		};
		int l = (int)(rnd() % 4), p = (int)(rnd() % 4);
		a.local = addrs[l];
		a.local_len = l == 2 ? (socklen_t)(2 + rnd() % 109) : lens[l];
		if (rnd() % 3) {
			a.fd = (int)(rnd() % 1000);
			a.peer = addrs[p];
			a.peer_len = p == 2 ? (socklen_t)(2 + rnd() % 109) : lens[p];
		} else {
			a.fd = -1;
			a.err = 1 + (int)(rnd() % 140);
		}
		struct a4s_ring_record w;
		struct a4s_record b;
		a4s_ringrec_from_record(&a, &w);
		ck_assert(a4s_ringrec_valid(&w));
		a4s_ringrec_to_record(&w, &b);
		for (int f = 0; f < 2; f++) {
			char x[A4S_RECORD_MAX], y[A4S_RECORD_MAX];
			size_t nx = a4s_format_record(&a, (enum a4s_log_format)f, x, sizeof(x));
			size_t ny = a4s_format_record(&b, (enum a4s_log_format)f, y, sizeof(y));
			ck_assert_uint_gt(nx, 0);
			ck_assert_uint_eq(nx, ny);
			ck_assert_mem_eq(x, y, nx);
		}
	}
}
END_TEST

static Suite *ring_suite(void)
{
	Suite *s = suite_create("ring");
	TCase *t = tcase_create("ring");
	tcase_set_timeout(t, 240);
	tcase_add_test(t, ring_is_a_memfd_sealed_against_shrinking_and_growing);
	tcase_add_test(t, slot_count_out_of_bounds_gets_the_default);
	tcase_add_test(t, record_goes_through_whole_and_in_order);
	tcase_add_test(t, full_ring_drops_and_counts_by_outcome);
	tcase_add_test(t, wrap_around_many_laps);
	tcase_add_test(t, sixteen_threads_exact_accounting_small_ring);
	tcase_add_test(t, sixteen_threads_exact_accounting_large_ring);
	tcase_add_test(t, signal_handler_appends_while_the_thread_it_interrupted_does);
	tcase_add_test(t, writer_killed_mid_record_is_skipped_after_a_bounded_time);
	tcase_add_test(t, host_gone_skips_uncommitted_at_once_and_stops_at_head);
	tcase_add_test(t, new_reader_resumes_at_published_tail);
	tcase_add_test(t, corrupted_header_is_refused);
	tcase_add_test(t, unsealed_or_wrong_files_are_refused);
	tcase_add_test(t, hostile_slots_and_head_never_break_the_reader);
	tcase_add_test(t, sigbus_from_the_mapping_is_survived);
	tcase_add_test(t, record_through_the_ring_formats_byte_for_byte);
	suite_add_tcase(s, t);
	/* valgrind turns the fault this case relies on into an error of its
	 * own: its memcheck run leaves it out (CK_EXCLUDE_TAGS=fault). */
	TCase *f = tcase_create("fault");
	tcase_set_tags(f, "fault");
	tcase_add_test(f, record_changed_while_copied_is_skipped_not_taken_mixed);
	suite_add_tcase(s, f);
	return s;
}

int main(void)
{
	return t_run_suite(ring_suite());
}
