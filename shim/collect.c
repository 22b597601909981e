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

/*
 * The process's state, one word:
 * IDLE      no ring yet in this process; the first record makes it.
 * MAKING    one thread is making it (a few system calls): a record that
 *           comes meanwhile waits for it, a little (wait_for_ring).
 * PENDING   the ring is there and every record goes into it, but no
 *           collector has said it takes it: a writer looks at the state
 *           again after its commit, in case the process has fallen back.
 * TAKEN     a collector took the ring: records go there for good.
 * INPROCESS no collector would take it: records are written in-process.
 */
enum { IDLE, MAKING, PENDING, TAKEN, INPROCESS };

/* The link to a collector, looked at once a second. */
enum { UNLINKED, AWAITING, LINKED };

static const struct a4s_config *config;
static atomic_int state;
static atomic_int link_state;
/* Written by the thread that makes the ring, before it publishes PENDING
 * (release); read-only afterwards until a new process resets it. */
static struct a4s_ring ring = { .fd = -1 };
static unsigned long long ring_dev, ring_ino;
/* The socket to the collector: -1, or ours (checked against its identity
 * before anything is done with it: the program may have closed our number
 * and got it back for a file of its own). */
static atomic_int sock = -1;
static atomic_ullong sock_dev, sock_ino;
static _Atomic uint64_t check_at_ns;
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

/* A full ring: the record is counted by its outcome in the ring's header
 * (the collector's summary of this process says it) and in the process's
 * own counters. */
static __attribute__((noinline)) void count_dropped(const struct a4s_call *c, int result)
{
	struct a4s_ring_record rec = {
		.fd = result >= 0 ? result : -1,
		.err = result >= 0 ? 0 : -result,
		.retries = c->retries,
		.how = c->emulated ? A4S_RING_EMULATED : A4S_RING_NATIVE,
	};
	a4s_ring_count(&ring.hdr->dropped, &rec);
	a4s_stats_dropped();
}

/*
 * The record, written straight into its slot: every field, each address
 * by the system call that gives it (the listener's from the cache, or
 * getsockname; the peer's from getpeername) into the slot's own bytes.
 * Those calls return at once, so the reservation is held for a moment,
 * as ring.h asks; a ring that is full costs no getpeername at all.
 */
static inline __attribute__((always_inline)) void fill(struct a4s_ring_record *rec,
							const struct a4s_call *c, int result,
							const struct timespec *ts, uint64_t started_ns,
							uint64_t ended_ns)
{
	rec->ts_sec = ts->tv_sec;
	rec->ts_nsec = (uint32_t)ts->tv_nsec;
	rec->pid = a4s_self_pid();
	rec->tid = a4s_self_tid();
	rec->listen_fd = c->listen_fd;
	rec->flags = c->flags;
	rec->fd = result >= 0 ? result : -1;
	rec->err = result >= 0 ? 0 : -result;
	rec->retries = c->retries;
	rec->dur_ns = ended_ns - started_ns;
	rec->call = c->is_accept4 ? A4S_RING_ACCEPT4 : A4S_RING_ACCEPT;
	rec->how = c->emulated ? A4S_RING_EMULATED : A4S_RING_NATIVE;
	_Static_assert(sizeof(rec->local) == sizeof(struct sockaddr_storage) &&
			       sizeof(rec->peer) == sizeof(struct sockaddr_storage) &&
			       offsetof(struct a4s_ring_slot, rec.local) % 8 == 0 &&
			       offsetof(struct a4s_ring_slot, rec.peer) % 8 == 0,
		       "a slot's addresses are sockaddr_storage");
	socklen_t ll = a4s_listener_address(c->listen_fd, result, ended_ns,
					    (struct sockaddr_storage *)(void *)rec->local);
	unsigned has = ll ? A4S_RING_HAS_LOCAL : 0;
	socklen_t pl = sizeof(rec->peer);
	if (result >= 0 && a4s_getpeername(result, (struct sockaddr *)(void *)rec->peer, &pl) == 0)
		has |= A4S_RING_HAS_PEER;
	else
		pl = 0;
	rec->local_len = (uint8_t)(ll < A4S_RING_ADDR_MAX ? ll : A4S_RING_ADDR_MAX);
	rec->peer_len = (uint8_t)(pl < A4S_RING_ADDR_MAX ? pl : A4S_RING_ADDR_MAX);
	rec->has = (uint8_t)has;
}

/* Reserve, fill the slot in place, commit: no lock. The position, or
 * UINT64_MAX when the ring was full (the record counted as dropped). */
static inline __attribute__((always_inline)) uint64_t append(const struct a4s_call *c, int result,
							     uint64_t started_ns,
							     uint64_t ended_ns)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t pos;
	struct a4s_ring_record *rec = a4s_ring_reserve(&ring, &pos);
	if (__builtin_expect(!rec, 0)) {
		count_dropped(c, result);
		return UINT64_MAX;
	}
	fill(rec, c, result, &ts, started_ns, ended_ns);
	a4s_ring_commit(&ring, pos);
	return pos;
}

/* The record at pos, written in-process by whichever thread moves its
 * commit word from committed to claimed first: the one that fell back,
 * draining, or the writer that committed it and then saw the fall-back.
 * Exactly one of them writes it; a record not yet committed is left to its
 * writer, who will see the fall-back after its commit. */
static void claim_and_write(uint64_t pos)
{
	struct a4s_ring_slot *s = &ring.slots[pos & ring.mask];
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
	int was = PENDING;
	if (!atomic_compare_exchange_strong(&state, &was, INPROCESS))
		return;
	if (!atomic_exchange(&said_inprocess, true))
		a4s_complain_collector(sock_path(), happened, err,
				       "tracing in-process to stderr instead");
	close_sock();
	/* No ring could be made (a sandbox refused memfd_create or mmap):
	 * nothing was written into one. */
	if (!ring.base)
		return;
	/* seq_cst, with the writers' fence after their commit: a writer
	 * either sees INPROCESS, or its commit is seen here. */
	uint64_t head = atomic_load(&ring.hdr->head);
	for (uint64_t pos = atomic_load(&ring.cons->tail); pos < head; pos++)
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
	int r = a4s_ring_create(&ring, 0, a4s_self_pid(), flags, cfg->log_skip);
	return r < 0 ? r : ring.fd;
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
	if (!is_ours(ring.fd, ring_dev, ring_ino)) {
		close_sock();
		return -EBADF;
	}
	r = a4s_ringlink_handover(fd, &ring, wait_ms);
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
	int was = PENDING;
	atomic_compare_exchange_strong(&state, &was, TAKEN);
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
static __attribute__((noinline)) void look_now(uint64_t now, uint64_t due)
{
	int saved_errno = errno;
	look(now, due);
	errno = saved_errno;
}

static void look(uint64_t now, uint64_t due)
{
	if (!atomic_compare_exchange_strong(&check_at_ns, &due, now + A4S_SECOND_NS))
		return;
	int s = atomic_load(&state);
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
		if (s == PENDING) {
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
	if (s == PENDING)
		first_outcome(r);
}

/* The first record of the process: the ring, then the hand-over. */
static __attribute__((noinline)) void make_ring(void)
{
	int was = IDLE;
	if (!atomic_compare_exchange_strong(&state, &was, MAKING))
		return;
	union {
		const struct a4s_config *c;
		void *v;
	} cfg = { config };
	int r = a4s_open_past_emfile(create_once, cfg.v);
	struct a4s_ident id;
	if (r >= 0) {
		ring.fd = a4s_fd_place(ring.fd);
		r = a4s_identify(ring.fd, NULL, 0, &id);
		if (r < 0)
			a4s_ring_destroy(&ring);
	}
	if (r < 0) {
		/* memfd_create or mmap refused (a sandbox): in-process. */
		memset(&ring, 0, sizeof(ring));
		ring.fd = -1;
		atomic_store(&state, PENDING);
		fall_back("cannot make the ring", -r);
		return;
	}
	ring_dev = id.dev;
	ring_ino = id.ino;
	atomic_store(&check_at_ns, a4s_monotonic_ns() + A4S_SECOND_NS);
	atomic_store_explicit(&state, PENDING, memory_order_release);
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
	while ((s = atomic_load_explicit(&state, memory_order_acquire)) == MAKING &&
	       a4s_monotonic_ns() < until)
		syscall(SYS_sched_yield);
	return s;
}

/* Before a collector has said it takes the ring. */
static __attribute__((noinline)) bool record_pending(const struct a4s_call *c, int result,
						     uint64_t started_ns, uint64_t ended_ns)
{
	uint64_t pos = append(c, result, started_ns, ended_ns);
	if (pos == UINT64_MAX)
		return true;
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load(&state) == INPROCESS)
		claim_and_write(pos);
	return true;
}

/* The first record, one that comes while the ring is not taken yet, or in
 * a process that traces in-process. */
static bool slow(const struct a4s_call *c, int result, uint64_t started_ns, uint64_t ended_ns,
		 int s);

static __attribute__((noinline)) bool call_slow(const struct a4s_call *c, int result,
						uint64_t started_ns, uint64_t ended_ns, int s)
{
	int saved_errno = errno;
	bool taken = slow(c, result, started_ns, ended_ns, s);
	errno = saved_errno;
	return taken;
}

static bool slow(const struct a4s_call *c, int result, uint64_t started_ns, uint64_t ended_ns,
		 int s)
{
	if (s == IDLE) {
		make_ring();
		s = atomic_load_explicit(&state, memory_order_acquire);
	}
	if (s == MAKING)
		s = wait_for_ring();
	if (s == PENDING) {
		uint64_t due = atomic_load_explicit(&check_at_ns, memory_order_relaxed);
		if (ended_ns >= due)
			look_now(ended_ns, due);
		s = atomic_load_explicit(&state, memory_order_acquire);
		if (s == PENDING)
			return record_pending(c, result, started_ns, ended_ns);
	}
	if (s == TAKEN) {
		append(c, result, started_ns, ended_ns);
		return true;
	}
	return false; /* INPROCESS, or MAKING for longer than we wait */
}

bool a4s_collect_call(const struct a4s_call *c, int result, uint64_t started_ns,
		      uint64_t ended_ns)
{
	int s = atomic_load_explicit(&state, memory_order_acquire);
	if (__builtin_expect(s != TAKEN, 0))
		return call_slow(c, result, started_ns, ended_ns, s);
	uint64_t due = atomic_load_explicit(&check_at_ns, memory_order_relaxed);
	if (__builtin_expect(ended_ns >= due, 0))
		look_now(ended_ns, due);
	append(c, result, started_ns, ended_ns);
	return true;
}

bool a4s_collect_takes_summaries(void)
{
	if (!config || config->log_kind != A4S_LOG_COLLECTOR)
		return false;
	int s = atomic_load(&state);
	return s == TAKEN || (s == PENDING && atomic_load(&link_state) == AWAITING);
}

void a4s_collect_settle(void)
{
	if (!config || config->log_kind != A4S_LOG_COLLECTOR || atomic_load(&state) != PENDING ||
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
	if (atomic_load(&state) == IDLE)
		return;
	/* The parent's: never written here. Unmapped, so that nothing of
	 * this process can reach it; its descriptors closed if they are still
	 * ours (the child may have reused the numbers), so that the collector
	 * sees the parent's end when the parent's comes. */
	if (ring.base)
		syscall(SYS_munmap, ring.base, ring.size);
	if (is_ours(ring.fd, ring_dev, ring_ino))
		a4s_close(ring.fd);
	memset(&ring, 0, sizeof(ring));
	ring.fd = -1;
	close_sock();
	atomic_store(&link_state, UNLINKED);
	atomic_store(&check_at_ns, 0);
	atomic_store(&said_inprocess, false);
	atomic_store(&said_gone, false);
	atomic_store(&state, IDLE);
}

/* Unloading (dlclose): no descriptor of ours is left behind. The mapping
 * stays: another thread may still be appending (at exit, this runs while
 * they do), and a write into an unmapped ring would kill the program. */
__attribute__((destructor(101))) static void release_at_unload(void)
{
	if (atomic_load(&state) == IDLE)
		return;
	close_sock();
	if (is_ours(ring.fd, ring_dev, ring_ino))
		a4s_close(ring.fd);
}
