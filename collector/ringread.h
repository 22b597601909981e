/*
 * The collector's side of the trace ring (shim/ring.h): attaching to a
 * host's memfd and taking its records in order.
 *
 * The host may be hostile or broken: whatever it writes into the shared
 * memory, before or while we read it, the reader never reads outside the
 * mapping, never trusts a length or an index it did not check, never waits
 * for the host, and cannot be killed by a SIGBUS from the mapping. The
 * sizes are read once, at attach, and checked against the file; a record
 * is copied out of shared memory before it is looked at, and checked there.
 */
#ifndef A4S_RINGREAD_H
#define A4S_RINGREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring.h"

/* How long a reserved position may stay uncommitted in a live host before
 * the reader takes its writer for dead and skips it. A writer holds a
 * reservation for some hundred instructions; a second covers a thread
 * preempted on a loaded machine many times over. */
#define A4S_RING_ABANDON_NS 1000000000ull

/* Counts that do not come from the host: what the reader saw. */
struct a4s_ring_seen {
	uint64_t taken;     /* records handed out */
	uint64_t abandoned; /* reserved, never committed: skipped */
	uint64_t torn;      /* overwritten while being read: skipped */
	uint64_t corrupt;   /* committed but not a record a host writes: skipped */
};

struct a4s_ring_reader {
	const unsigned char *base; /* the whole file, read-only */
	size_t size;
	unsigned char *cons_map;   /* the page holding the consumer, writable */
	size_t cons_map_size;
	_Atomic uint64_t *tail_word;
	const _Atomic uint64_t *head_word;
	const struct a4s_ring_slot *slots;
	const struct a4s_ring_counts *dropped;
	uint32_t mask;
	/* The header's settings, copied at attach. */
	uint32_t host_flags;
	int host_pid;
	uint64_t log_skip[A4S_RING_SKIP_WORDS];

	uint64_t tail;      /* the next position to take (ours, not the shared word) */
	uint64_t published; /* the tail last stored in the shared word */
	uint64_t pending_since_ns; /* 0, or when tail was first seen reserved */
	uint64_t abandon_ns;
	bool gone;          /* the host has gone: nothing more will be committed */
	uint64_t end;       /* once gone: positions from here on hold nothing */
	int guard, cons_guard; /* our entries in the SIGBUS table, or -1 */
	struct a4s_ring_seen seen;
};

/* Checks that fd is a sealed memfd holding a ring of this version and maps
 * it. 0, or -1 with *why saying what was wrong (a static string); nothing
 * is left mapped then. fd stays the caller's. */
int a4s_ring_attach(struct a4s_ring_reader *rd, int fd, const char **why);
void a4s_ring_detach(struct a4s_ring_reader *rd);

enum a4s_ring_status {
	A4S_RING_GOT,     /* *out holds the next record, checked */
	A4S_RING_EMPTY,   /* nothing reserved past what was taken */
	A4S_RING_PENDING, /* the next position is reserved, not yet committed */
	A4S_RING_BROKEN,  /* the mapping faulted (SIGBUS): detach this host */
};
/* The next record, in order of reservation. Records that cannot be taken
 * (abandoned, torn, corrupt) are skipped and counted in rd->seen. now_ns:
 * the monotonic clock, for the abandon timeout. */
enum a4s_ring_status a4s_ring_next(struct a4s_ring_reader *rd, struct a4s_ring_record *out,
				   uint64_t now_ns);
/* The host's connection has ended: from now on a reservation that is not
 * committed never will be, and is skipped at once. */
void a4s_ring_host_gone(struct a4s_ring_reader *rd);
/* Lets the host reuse the slots taken so far. Call it after the records
 * taken have been written: a collector that dies in between then writes
 * them again after a restart rather than losing them. */
void a4s_ring_publish(struct a4s_ring_reader *rd);

/* The header's dropped counts, read now (relaxed, one by one; numbers the
 * host wrote, to be taken as its word). */
void a4s_ring_read_dropped(const struct a4s_ring_reader *rd, struct a4s_ring_counts *out);

/* For the tests: attach without checking the seals and the file type, to
 * prove that a file shrunk under the mapping costs a BROKEN, not a crash. */
int a4s_ring_attach_unchecked(struct a4s_ring_reader *rd, int fd, const char **why);

#endif
