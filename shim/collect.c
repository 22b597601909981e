#include "collect.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#include "clock.h"
#include "complain.h"
#include "fdplace.h"
#include "ident.h"
#include "listeners.h"
#include "ring.h"
#include "ringlink.h"
#include "ringrec.h"
#include "record.h"
#include "self.h"
#include "stats.h"
#include "trace.h"

/* The link to a collector, looked at once a second. */
enum { UNLINKED, AWAITING, LINKED };

static const struct a4s_config *config;
static atomic_int link_state;
static unsigned long long ring_dev, ring_ino;
/* The socket to the collector: -1, or ours (checked against its identity
 * before anything is done with it: the program may have closed our number
 * and got it back for a file of its own). */
static atomic_int sock = -1;
static atomic_ullong sock_dev, sock_ino;
/* Said once per process: the fall-back, a lost collector. */
static atomic_bool said_inprocess, said_gone;

void a4s_collect_configure(const struct a4s_config *cfg)
{
	config = cfg;
}

static const char *sock_path(void)
{
	return config->log_path;
}

static bool is_ours(int fd, unsigned long long dev, unsigned long long ino)
{
	struct a4s_ident id;
	return fd >= 0 && a4s_identify(fd, NULL, 0, &id) == 0 && a4s_same_file(&id, dev, ino);
}

static void close_sock(void)
{
	int fd = atomic_exchange(&sock, -1);
	if (is_ours(fd, atomic_load(&sock_dev), atomic_load(&sock_ino)))
		a4s_close(fd);
}

/* ---- records ---- */

struct a4s_collect_hot a4s_collect = { .ring = { .fd = -1 } };

/* A full ring: the record is counted by its outcome in the ring's header
 * (the collector's summary of this process says it) and in the process's
 * own counters. */
void a4s_collect_dropped(const struct a4s_call *c, int result)
{
	struct a4s_ring_record rec = {
		.fd = result >= 0 ? result : -1,
		.err = result >= 0 ? 0 : -result,
		.retries = c->retries,
		.how = c->emulated ? A4S_RING_EMULATED : A4S_RING_NATIVE,
	};
	a4s_ring_count(&a4s_collect.ring.hdr->dropped, &rec);
	a4s_stats_dropped();
}

/* The record at pos, written in-process by whichever thread moves its
 * commit word from committed to claimed first: the one that fell back,
 * draining, or the writer that committed it and then saw the fall-back.
 * Exactly one of them writes it; a record not yet committed is left to its
 * writer, who will see the fall-back after its commit. */
static void claim_and_write(uint64_t pos)
{
	struct a4s_ring_slot *s = &a4s_collect.ring.slots[pos & a4s_collect.ring.mask];
	uint64_t committed = a4s_ring_committed(pos);
	if (!atomic_compare_exchange_strong(&s->seq, &committed, a4s_ring_busy(pos)))
		return;
	struct a4s_ring_record copy = s->rec;
	struct a4s_record r;
	a4s_ringrec_to_record(&copy, &r);
	a4s_trace_write(config, &r, a4s_monotonic_ns());
}

/* No collector takes the ring: from now on records are written in-process,
 * and those already in the ring are written there too. */
static void fall_back(const char *happened, int err)
{
	int was = A4S_COLLECT_PENDING;
	if (!atomic_compare_exchange_strong(&a4s_collect.state, &was, A4S_COLLECT_INPROCESS))
		return;
	if (!atomic_exchange(&said_inprocess, true))
		a4s_complain_collector(sock_path(), happened, err,
				       "tracing in-process to stderr instead");
	close_sock();
	/* No ring could be made (a sandbox refused memfd_create or mmap):
	 * nothing was written into one. */
	if (!a4s_collect.ring.base)
		return;
	/* seq_cst, with the writers' fence after their commit: a writer
	 * either sees A4S_COLLECT_INPROCESS, or its commit is seen here. */
	uint64_t head = atomic_load(&a4s_collect.ring.hdr->head);
	for (uint64_t pos = atomic_load(&a4s_collect.ring.cons->tail); pos < head; pos++)
		claim_and_write(pos);
}

/* ---- the link ---- */

/* The socket, and below the ring, opened as the trace's file is: past a
 * full descriptor table (EMFILE) by raising the soft limit for a moment,
 * so that a process whose first record is an EMFILE still reaches the
 * collector (fdplace.h). */
static int connect_once(void *arg)
{
	int fd;
	int r = a4s_ringlink_connect(arg, &fd);
	return r < 0 ? r : fd;
}

static int create_once(void *arg)
{
	const struct a4s_config *cfg = arg;
	uint32_t flags = cfg->stats ? A4S_RING_HOST_STATS : 0;
	int r = a4s_ring_create(&a4s_collect.ring, 0, a4s_self_pid(), flags, cfg->log_skip);
	return r < 0 ? r : a4s_collect.ring.fd;
}

/* Connects to PATH and sends the hello with the ring; waits at most wait_ms
 * for the answer. 0: taken; -ETIMEDOUT: no answer yet (the socket is kept,
 * AWAITING); else why not (the socket is gone). */
static int hand_over(int wait_ms)
{
	union {
		const char *c;
		void *v;
	} path = { sock_path() };
	int fd = a4s_open_past_emfile(connect_once, path.v);
	if (fd < 0)
		return fd;
	int r;
	/* Out of the program's way, like the trace's own descriptor. */
	fd = a4s_fd_place(fd);
	struct a4s_ident id;
	if (a4s_identify(fd, NULL, 0, &id) < 0) {
		a4s_close(fd);
		return -EBADF;
	}
	atomic_store(&sock_dev, id.dev);
	atomic_store(&sock_ino, id.ino);
	atomic_store(&sock, fd);
	/* The memfd sent must still be ours, not a file the program put at
	 * its number. */
	if (!is_ours(a4s_collect.ring.fd, ring_dev, ring_ino)) {
		close_sock();
		return -EBADF;
	}
	r = a4s_ringlink_handover(fd, &a4s_collect.ring, wait_ms);
	if (r == -ETIMEDOUT) {
		atomic_store(&link_state, AWAITING);
		return r;
	}
	if (r < 0) {
		close_sock();
		return r;
	}
	atomic_store(&link_state, LINKED);
	return 0;
}

static void taken(void)
{
	int was = A4S_COLLECT_PENDING;
	atomic_compare_exchange_strong(&a4s_collect.state, &was, A4S_COLLECT_TAKEN);
}

/* An outcome of the first hand-over (or of its late answer). */
static void first_outcome(int r)
{
	if (r == 0)
		taken();
	else if (r == -ETIMEDOUT || r == -EAGAIN)
		return; /* a collector is there but does not answer yet */
	else if (r == -ENOENT || r == -ECONNREFUSED || r == -ENOTDIR || r == -ENAMETOOLONG ||
		 r == -ELOOP)
		fall_back("no collector listens there", -r);
	else if (r == -EACCES || r == -EPROTO || r == -EINVAL || r == -EBUSY)
		fall_back("refused this process's ring", -r); /* the collector's answers */
	else
		fall_back("cannot hand the ring over", -r);
}

/* Once a second, by the first record after the second is up. */
static void look(uint64_t now, uint64_t due);

/* errno as the caller had it: the C library's syscall() sets it when a
 * call fails, and a traced call that succeeds must leave it alone. */
void a4s_collect_look(uint64_t now, uint64_t due)
{
	int saved_errno = errno;
	look(now, due);
	errno = saved_errno;
}

static void look(uint64_t now, uint64_t due)
{
	if (!atomic_compare_exchange_strong(&a4s_collect.check_at_ns, &due, now + A4S_SECOND_NS))
		return;
	int s = atomic_load(&a4s_collect.state);
	int l = atomic_load(&link_state);
	int fd = atomic_load(&sock);
	if (l != UNLINKED && !is_ours(fd, atomic_load(&sock_dev), atomic_load(&sock_ino))) {
		/* The program closed our socket: never touched again. */
		atomic_store(&sock, -1);
		atomic_store(&link_state, l = UNLINKED);
	}
	if (l == AWAITING) {
		int r = a4s_ringlink_reply(fd, 0);
		if (r == -ETIMEDOUT)
			return;
		if (r == 0) {
			atomic_store(&link_state, LINKED);
			taken();
			return;
		}
		close_sock();
		atomic_store(&link_state, UNLINKED);
		if (s == A4S_COLLECT_PENDING) {
			first_outcome(r);
			return;
		}
		if (!atomic_exchange(&said_gone, true))
			a4s_complain_collector(sock_path(), "refused this process's ring", -r,
					       "records wait in the ring for a collector there "
					       "(dropped and counted when it is full)");
		return;
	}
	if (l == LINKED) {
		if (a4s_ringlink_alive(fd))
			return;
		close_sock();
		atomic_store(&link_state, UNLINKED);
		if (!atomic_exchange(&said_gone, true))
			a4s_complain_collector(sock_path(), "gone", 0,
					       "records wait in the ring for a collector there "
					       "(dropped and counted when it is full), looked for "
					       "once a second");
	}
	/* UNLINKED: a collector (restarted) is looked for; no waiting, its
	 * answer is read at the next look. */
	int r = hand_over(0);
	if (s == A4S_COLLECT_PENDING)
		first_outcome(r);
}

/* The first record of the process: the ring, then the hand-over. */
static __attribute__((noinline)) void make_ring(void)
{
	int was = A4S_COLLECT_IDLE;
	if (!atomic_compare_exchange_strong(&a4s_collect.state, &was, A4S_COLLECT_MAKING))
		return;
	union {
		const struct a4s_config *c;
		void *v;
	} cfg = { config };
	int r = a4s_open_past_emfile(create_once, cfg.v);
	struct a4s_ident id;
	if (r >= 0) {
		a4s_collect.ring.fd = a4s_fd_place(a4s_collect.ring.fd);
		r = a4s_identify(a4s_collect.ring.fd, NULL, 0, &id);
		if (r < 0)
			a4s_ring_destroy(&a4s_collect.ring);
	}
	if (r < 0) {
		/* memfd_create or mmap refused (a sandbox): in-process. */
		memset(&a4s_collect.ring, 0, sizeof(a4s_collect.ring));
		a4s_collect.ring.fd = -1;
		atomic_store(&a4s_collect.state, A4S_COLLECT_PENDING);
		fall_back("cannot make the ring", -r);
		return;
	}
	ring_dev = id.dev;
	ring_ino = id.ino;
	atomic_store(&a4s_collect.check_at_ns, a4s_monotonic_ns() + A4S_SECOND_NS);
	atomic_store_explicit(&a4s_collect.state, A4S_COLLECT_PENDING, memory_order_release);
	first_outcome(hand_over(A4S_COLLECT_HELLO_MS));
}

/*
 * Another thread is making the ring (a thread pool's first calls come all
 * at once): a few system calls, tens of microseconds. Waited for, yielding,
 * rather than have this record written in-process while the others go to
 * the collector; but never long: after MAKING_WAIT_NS the record is written
 * in-process. (A signal handler that interrupted the making in its own
 * thread waits that long for nothing, once.)
 */
#define MAKING_WAIT_NS (20 * 1000 * 1000ULL)

static __attribute__((noinline)) int wait_for_ring(void)
{
	uint64_t until = a4s_monotonic_ns() + MAKING_WAIT_NS;
	int s;
	while ((s = atomic_load_explicit(&a4s_collect.state, memory_order_acquire)) == A4S_COLLECT_MAKING &&
	       a4s_monotonic_ns() < until)
		syscall(SYS_sched_yield);
	return s;
}

/* Before a collector has said it takes the a4s_collect.ring. */
static __attribute__((noinline)) bool record_pending(const struct a4s_call *c, int result,
						     uint64_t started_ns, uint64_t ended_ns)
{
	uint64_t pos = a4s_collect_append(c, result, started_ns, ended_ns);
	if (pos == UINT64_MAX)
		return true;
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load(&a4s_collect.state) == A4S_COLLECT_INPROCESS)
		claim_and_write(pos);
	return true;
}

/* The first record, one that comes while the ring is not taken yet, or in
 * a process that traces in-process. */
static bool slow(const struct a4s_call *c, int result, uint64_t started_ns, uint64_t ended_ns,
		 int s);

bool a4s_collect_slow(const struct a4s_call *c, int result, uint64_t started_ns,
		      uint64_t ended_ns, int s)
{
	int saved_errno = errno;
	bool taken = slow(c, result, started_ns, ended_ns, s);
	errno = saved_errno;
	return taken;
}

static bool slow(const struct a4s_call *c, int result, uint64_t started_ns, uint64_t ended_ns,
		 int s)
{
	if (s == A4S_COLLECT_IDLE) {
		make_ring();
		s = atomic_load_explicit(&a4s_collect.state, memory_order_acquire);
	}
	if (s == A4S_COLLECT_MAKING)
		s = wait_for_ring();
	if (s == A4S_COLLECT_PENDING) {
		uint64_t due = atomic_load_explicit(&a4s_collect.check_at_ns, memory_order_relaxed);
		if (ended_ns >= due)
			a4s_collect_look(ended_ns, due);
		s = atomic_load_explicit(&a4s_collect.state, memory_order_acquire);
		if (s == A4S_COLLECT_PENDING)
			return record_pending(c, result, started_ns, ended_ns);
	}
	if (s == A4S_COLLECT_TAKEN) {
		a4s_collect_append(c, result, started_ns, ended_ns);
		return true;
	}
	return false; /* A4S_COLLECT_INPROCESS, or A4S_COLLECT_MAKING for longer than we wait */
}

bool a4s_collect_call_outline(const struct a4s_call *c, int result, uint64_t started_ns,
			      uint64_t ended_ns)
{
	return a4s_collect_call(c, result, started_ns, ended_ns);
}

bool a4s_collect_takes_summaries(void)
{
	if (!config || config->log_kind != A4S_LOG_COLLECTOR)
		return false;
	int s = atomic_load(&a4s_collect.state);
	return s == A4S_COLLECT_TAKEN || (s == A4S_COLLECT_PENDING && atomic_load(&link_state) == AWAITING);
}

void a4s_collect_settle(void)
{
	if (!config || config->log_kind != A4S_LOG_COLLECTOR || atomic_load(&a4s_collect.state) != A4S_COLLECT_PENDING ||
	    atomic_load(&link_state) != AWAITING)
		return;
	int fd = atomic_load(&sock);
	if (!is_ours(fd, atomic_load(&sock_dev), atomic_load(&sock_ino)))
		return;
	int r = a4s_ringlink_reply(fd, A4S_COLLECT_HELLO_MS);
	if (r == 0) {
		atomic_store(&link_state, LINKED);
		taken();
	} else if (r != -ETIMEDOUT) {
		atomic_store(&link_state, UNLINKED);
		first_outcome(r);
	}
	/* No answer: a stopped collector still has the ring in its queue and
	 * takes the records when it goes on. */
}

void a4s_collect_after_fork(void)
{
	if (atomic_load(&a4s_collect.state) == A4S_COLLECT_IDLE)
		return;
	/* The parent's: never written here. Unmapped, so that nothing of
	 * this process can reach it; its descriptors closed if they are still
	 * ours (the child may have reused the numbers), so that the collector
	 * sees the parent's end when the parent's comes. */
	if (a4s_collect.ring.base)
		syscall(SYS_munmap, a4s_collect.ring.base, a4s_collect.ring.size);
	if (is_ours(a4s_collect.ring.fd, ring_dev, ring_ino))
		a4s_close(a4s_collect.ring.fd);
	memset(&a4s_collect.ring, 0, sizeof(a4s_collect.ring));
	a4s_collect.ring.fd = -1;
	close_sock();
	atomic_store(&link_state, UNLINKED);
	atomic_store(&a4s_collect.check_at_ns, 0);
	atomic_store(&said_inprocess, false);
	atomic_store(&said_gone, false);
	atomic_store(&a4s_collect.state, A4S_COLLECT_IDLE);
}

/* Unloading (dlclose): no descriptor of ours is left behind. The mapping
 * stays: another thread may still be appending (at exit, this runs while
 * they do), and a write into an unmapped ring would kill the program. */
__attribute__((destructor(101))) static void release_at_unload(void)
{
	if (atomic_load(&a4s_collect.state) == A4S_COLLECT_IDLE)
		return;
	close_sock();
	if (is_ours(a4s_collect.ring.fd, ring_dev, ring_ino))
		a4s_close(a4s_collect.ring.fd);
}
