/*
 * The trace ring: a shared-memory ring of fixed-size binary records that a
 * traced process (the host) fills and accept4shim-collector drains, formats
 * and writes. The layout below is the protocol between two programs that
 * may be of different versions, so it is defined once, here, with fixed
 * widths, and versioned; docs/collector.md draws it.
 *
 * The ring lives in a memfd that the host creates, sizes once, seals
 * against shrinking and growing, maps once and hands to the collector over
 * a unix socket (ringlink.h). A record is written with an atomic
 * reservation and a commit: no system call, no lock, safe in a signal
 * handler and from any number of threads. A full ring drops the record and
 * counts it, by outcome, in the shared header, so the collector's summaries
 * stay exact. Nothing here ever waits for the collector.
 *
 *   page 0        struct a4s_ring_header    written by the host
 *   page 1        struct a4s_ring_consumer  written by the collector
 *   page 2...     slot_count slots of struct a4s_ring_slot
 *
 * The collector maps pages 0 and 2... read-only and only page 1 writable,
 * and trusts nothing it reads there (collector/ringread.c).
 */
#ifndef A4S_RING_H
#define A4S_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <accept4shim.h>
#include "sys.h"

/* Two processes share these words: they must be atomic without a lock,
 * since a lock inside libatomic would be private to each process. */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");

#define A4S_RING_MAGIC "A4SRING" /* 8 bytes with its NUL */
#define A4S_RING_VERSION 1u
/* The layout's pages are 4096 bytes whatever the machine's page size, so
 * that host and collector agree; on a machine with larger pages the
 * collector maps the whole file read-only and the consumer page within it
 * writable only where the page size allows (see ringread.c). */
#define A4S_RING_PAGE 4096u
#define A4S_RING_HEADER_SIZE (2 * A4S_RING_PAGE)
/* A socket address as getsockname and getpeername give it: sockaddr_storage
 * holds every family, AF_UNIX's 110 bytes included. */
#define A4S_RING_ADDR_MAX 128
/* Slots per ring: a power of two. 4096 records are 1.3 MB of shared
 * memory, which the collector drains every few milliseconds; the bounds
 * keep a hostile or mistaken size from mapping gigabytes. */
#define A4S_RING_SLOTS_DEFAULT 4096u
#define A4S_RING_SLOTS_MIN 2u
#define A4S_RING_SLOTS_MAX (1u << 20)

/* Counts of calls as a summary has them. In the header: the records the
 * host dropped because the ring was full, by outcome. */
#define A4S_RING_ERRNO_SLOTS 160
_Static_assert(A4S_RING_ERRNO_SLOTS == ACCEPT4SHIM_ERRNO_SLOTS, "the summaries' errno slots");
struct a4s_ring_counts {
	_Atomic uint64_t calls, accepted, failed, emulated, retried_calls, retries;
	_Atomic uint64_t errors[A4S_RING_ERRNO_SLOTS]; /* by errno; 0: other */
};

/* Host settings the collector honours for this host's records. */
#define A4S_RING_HOST_STATS 1u /* ACCEPT4SHIM_STATS=1: an exit summary */
#define A4S_RING_SKIP_WORDS 3  /* ACCEPT4SHIM_LOG_SKIP: 192 errno bits */

struct a4s_ring_header {
	char magic[8];         /* A4S_RING_MAGIC */
	uint32_t version;      /* A4S_RING_VERSION */
	uint32_t header_size;  /* A4S_RING_HEADER_SIZE: where the slots start */
	uint32_t slot_size;    /* sizeof(struct a4s_ring_slot) */
	uint32_t slot_count;   /* a power of two */
	uint64_t total_size;   /* header_size + slot_size * slot_count */
	uint32_t host_flags;   /* A4S_RING_HOST_* */
	int32_t host_pid;      /* the host's pid as it sees it: its summaries' */
	uint64_t log_skip[A4S_RING_SKIP_WORDS];
	/* The next position to reserve, on a cache line of its own: every
	 * writer touches it. */
	_Alignas(128) _Atomic uint64_t head;
	_Alignas(128) struct a4s_ring_counts dropped;
};
_Static_assert(sizeof(struct a4s_ring_header) <= A4S_RING_PAGE, "header fits page 0");

struct a4s_ring_consumer {
	/* Every position below tail has been consumed: its slot may be
	 * written again. Only the collector writes it. */
	_Alignas(128) _Atomic uint64_t tail;
};
_Static_assert(sizeof(struct a4s_ring_consumer) <= A4S_RING_PAGE, "consumer fits page 1");

enum { A4S_RING_ACCEPT = 0, A4S_RING_ACCEPT4 = 1 };
enum { A4S_RING_NATIVE = 0, A4S_RING_EMULATED = 1 };
#define A4S_RING_HAS_LOCAL 1u
#define A4S_RING_HAS_PEER 2u

/* Everything a trace record says (record.h), in fixed widths. */
struct a4s_ring_record {
	int64_t ts_sec;   /* wall clock at return */
	uint32_t ts_nsec;
	int32_t pid, tid;
	int32_t listen_fd;
	int32_t flags;    /* as the caller asked */
	int32_t fd;       /* result */
	int32_t err;      /* errno of a failure, 0 on success */
	uint32_t retries;
	uint64_t dur_ns;
	uint8_t call;     /* A4S_RING_ACCEPT or A4S_RING_ACCEPT4 */
	uint8_t how;      /* A4S_RING_NATIVE or A4S_RING_EMULATED */
	uint8_t has;      /* A4S_RING_HAS_*: which addresses are known */
	uint8_t local_len, peer_len; /* <= A4S_RING_ADDR_MAX */
	uint8_t reserved[3];
	unsigned char local[A4S_RING_ADDR_MAX];
	unsigned char peer[A4S_RING_ADDR_MAX];
};

/*
 * A slot's commit word says which position it holds and whether that
 * record is whole: ((pos + 1) << 1) while being written, the same | 1 once
 * committed; never 0, which is what a fresh ring holds. A reader takes a
 * record only when the word is committed for exactly the position it
 * expects, both before and after copying it, so a record from an older lap,
 * one being written, or one that a writer of an older lap (woken after its
 * position was given up on) started to overwrite is never taken for whole.
 */
struct a4s_ring_slot {
	_Atomic uint64_t seq;
	struct a4s_ring_record rec;
};
_Static_assert(sizeof(struct a4s_ring_slot) == 320, "slot size is part of the protocol");
/* The layout is the protocol, the same for 32- and 64-bit programs, which
 * may share a ring: pinned here, drawn in docs/collector.md. */
_Static_assert(offsetof(struct a4s_ring_header, head) == 128 &&
		       offsetof(struct a4s_ring_header, dropped) == 256 &&
		       offsetof(struct a4s_ring_record, dur_ns) == 40 &&
		       offsetof(struct a4s_ring_record, call) == 48 &&
		       offsetof(struct a4s_ring_record, local) == 56 &&
		       offsetof(struct a4s_ring_record, peer) == 184 &&
		       offsetof(struct a4s_ring_slot, rec) == 8,
	       "ring layout");

static inline uint64_t a4s_ring_busy(uint64_t pos)
{
	return (pos + 1) << 1;
}

static inline uint64_t a4s_ring_committed(uint64_t pos)
{
	return (pos + 1) << 1 | 1;
}

/* The size of the memfd for slot_count slots. */
static inline uint64_t a4s_ring_size(uint32_t slot_count)
{
	return A4S_RING_HEADER_SIZE + (uint64_t)slot_count * sizeof(struct a4s_ring_slot);
}

/* The host's ring, once mapped. */
struct a4s_ring {
	void *base;
	size_t size;
	int fd; /* the memfd, kept to hand it to a collector again */
	uint32_t mask;
	struct a4s_ring_header *hdr;
	struct a4s_ring_consumer *cons;
	struct a4s_ring_slot *slots;
};

/* Creates, sizes, seals and maps a ring of slot_count slots (a power of two
 * within the bounds above, else A4S_RING_SLOTS_DEFAULT). host_pid,
 * host_flags and log_skip (NULL: none) go into the header. 0, or -errno
 * with nothing left open or mapped. */
A4S_HIDDEN int a4s_ring_create(struct a4s_ring *r, uint32_t slot_count, int host_pid,
			       uint32_t host_flags, const uint64_t *log_skip);
/* Unmaps the ring and closes its memfd. */
A4S_HIDDEN void a4s_ring_destroy(struct a4s_ring *r);

/*
 * Reserves the next slot and marks it as being written: the record to fill
 * in, and *pos for the commit. NULL when the ring is full; nothing is
 * counted then (a4s_ring_append counts, knowing the outcome). Between
 * reserve and commit the writer must not block: a reservation that stays
 * uncommitted is taken by the collector for a writer that died, and skipped
 * after a while (A4S_RING_ABANDON_NS in ringread.h). Inline, with the
 * commit: they are much of what a traced call costs in collector mode.
 *
 * The position is taken with a compare-and-swap rather than a fetch-add: a
 * position handed out is a promise that a record will be committed there,
 * and a writer that finds the ring full must not hold one. The CAS fails
 * only when another writer (or a signal handler of this thread) got the
 * position first, so every retry means progress for someone: lock-free.
 *
 * Reading tail with acquire pairs with the collector's release: the reads
 * it made of a slot before it moved tail past it are done before we write
 * that slot again.
 */
static inline __attribute__((always_inline)) struct a4s_ring_record *
a4s_ring_reserve(struct a4s_ring *r, uint64_t *pos)
{
	struct a4s_ring_header *h = r->hdr;
	uint64_t p = atomic_load_explicit(&h->head, memory_order_relaxed);
	for (;;) {
		uint64_t tail = atomic_load_explicit(&r->cons->tail, memory_order_acquire);
		if (p - tail > r->mask)
			return NULL; /* full: the slot still holds an unread record */
		if (atomic_compare_exchange_weak_explicit(&h->head, &p, p + 1, memory_order_relaxed,
							  memory_order_relaxed))
			break;
	}
	struct a4s_ring_slot *s = &r->slots[p & r->mask];
	/* Marked as being written before any byte of it changes, so that a
	 * reader copying this slot (a late lap of it) sees the change. */
#ifdef __SANITIZE_THREAD__
	/* GCC refuses a fence in an inlined function under
	 * -fsanitize=thread: there, an exchange, a full barrier on the
	 * machines ThreadSanitizer runs on. */
	atomic_exchange_explicit(&s->seq, a4s_ring_busy(p), memory_order_seq_cst);
#else
	atomic_store_explicit(&s->seq, a4s_ring_busy(p), memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
#endif
	*pos = p;
	return &s->rec;
}

static inline __attribute__((always_inline)) void a4s_ring_commit(struct a4s_ring *r,
								    uint64_t pos)
{
	atomic_store_explicit(&r->slots[pos & r->mask].seq, a4s_ring_committed(pos),
			      memory_order_release);
}

/* One record: reserve, copy, commit. False when the ring was full: then the
 * record is counted in the header's dropped counts by its outcome. */
A4S_HIDDEN bool a4s_ring_append(struct a4s_ring *r, const struct a4s_ring_record *rec);
/* Counts one call by its outcome, as a summary counts it: the host its
 * dropped records, the collector the records it took. */
A4S_HIDDEN void a4s_ring_count(struct a4s_ring_counts *c, const struct a4s_ring_record *rec);

#endif
