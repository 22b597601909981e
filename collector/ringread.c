#include "ringread.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "busguard.h"
#include "ringrec.h"

#define RELAXED memory_order_relaxed

static bool valid_slot_count(uint32_t n)
{
	return n >= A4S_RING_SLOTS_MIN && n <= A4S_RING_SLOTS_MAX && (n & (n - 1)) == 0;
}

/*
 * A memfd that can never shrink under our mapping: the host sealed it
 * against shrinking and growing and sealed the seals. F_GET_SEALS fails on
 * anything that is not a memfd (a file on disk, a pipe), and a tmpfs file
 * opened by name reports F_SEAL_SEAL alone. Huge-page memfds are refused:
 * a huge page the kernel cannot find when we touch it is a SIGBUS.
 */
static const char *check_file(int fd, off_t *size)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return "not a memfd";
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0)
		return "not a memfd";
	int need = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
	if ((seals & need) != need)
		return "memfd not sealed against shrinking and growing";
	if (st.st_blksize != sysconf(_SC_PAGESIZE))
		return "memfd of huge pages";
	if (st.st_size < (off_t)a4s_ring_size(A4S_RING_SLOTS_MIN) ||
	    st.st_size > (off_t)a4s_ring_size(A4S_RING_SLOTS_MAX))
		return "ring size out of bounds";
	*size = st.st_size;
	return NULL;
}

/* The header as the host wrote it, checked against this version's layout
 * and the file's real size. Read once: the host may change it later, and
 * nothing here reads it again. */
static const char *check_header(struct a4s_ring_reader *rd, const struct a4s_ring_header *h,
				size_t size)
{
	struct a4s_ring_header copy;
	memcpy(&copy, h, offsetof(struct a4s_ring_header, head));
	if (memcmp(copy.magic, A4S_RING_MAGIC, sizeof(copy.magic)) != 0)
		return "not a ring (bad magic)";
	if (copy.version != A4S_RING_VERSION)
		return "ring version not supported";
	if (copy.header_size != A4S_RING_HEADER_SIZE ||
	    copy.slot_size != sizeof(struct a4s_ring_slot) || !valid_slot_count(copy.slot_count))
		return "ring layout not supported";
	if (copy.total_size != a4s_ring_size(copy.slot_count) || copy.total_size != size)
		return "ring size does not match the file";
	rd->mask = copy.slot_count - 1;
	rd->host_flags = copy.host_flags;
	rd->host_pid = copy.host_pid;
	memcpy(rd->log_skip, copy.log_skip, sizeof(rd->log_skip));
	return NULL;
}

/* The consumer's word is the only one we write. It sits on the ring's
 * second 4096-byte page; where the machine's pages are larger, the
 * writable mapping is the machine page that holds it. */
static const char *map_consumer(struct a4s_ring_reader *rd, int fd)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t off = A4S_RING_PAGE / page * page;
	void *m = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)off);
	if (m == MAP_FAILED)
		return "ring cannot be mapped writable";
	rd->cons_map = m;
	rd->cons_map_size = page;
	rd->cons_guard = a4s_busguard_add(m, page);
	if (rd->cons_guard < 0)
		return "too many rings";
	struct a4s_ring_consumer *c = (void *)(rd->cons_map + (A4S_RING_PAGE - off));
	rd->tail_word = &c->tail;
	return NULL;
}

static int attach(struct a4s_ring_reader *rd, int fd, const char **why, bool checked)
{
	memset(rd, 0, sizeof(*rd));
	rd->guard = rd->cons_guard = -1;
	off_t size = 0;
	const char *bad = NULL;
	if (checked) {
		bad = check_file(fd, &size);
	} else {
		struct stat st;
		if (fstat(fd, &st) < 0 || st.st_size < (off_t)a4s_ring_size(A4S_RING_SLOTS_MIN) ||
		    st.st_size > (off_t)a4s_ring_size(A4S_RING_SLOTS_MAX))
			bad = "ring size out of bounds";
		size = st.st_size;
	}
	if (bad) {
		*why = bad;
		return -1;
	}
	void *m = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		*why = "ring cannot be mapped";
		return -1;
	}
	rd->base = m;
	rd->size = (size_t)size;
	rd->guard = a4s_busguard_add(rd->base, rd->size);
	if (rd->guard < 0)
		bad = "too many rings";
	if (!bad)
		bad = check_header(rd, m, rd->size);
	if (!bad)
		bad = map_consumer(rd, fd);
	if (bad) {
		a4s_ring_detach(rd);
		*why = bad;
		return -1;
	}
	const struct a4s_ring_header *h = m;
	rd->head_word = &h->head;
	rd->dropped = &h->dropped;
	rd->slots = (const void *)(rd->base + A4S_RING_HEADER_SIZE);
	/* A ring handed over again after a collector restart goes on where
	 * the last collector stopped. Whatever the word says: a wrong value
	 * costs this host its own records, nothing more. */
	rd->tail = rd->published = atomic_load_explicit(rd->tail_word, memory_order_acquire);
	rd->abandon_ns = A4S_RING_ABANDON_NS;
	return 0;
}

int a4s_ring_attach(struct a4s_ring_reader *rd, int fd, const char **why)
{
	return attach(rd, fd, why, true);
}

int a4s_ring_attach_unchecked(struct a4s_ring_reader *rd, int fd, const char **why)
{
	return attach(rd, fd, why, false);
}

void a4s_ring_detach(struct a4s_ring_reader *rd)
{
	if (rd->cons_map)
		munmap(rd->cons_map, rd->cons_map_size);
	if (rd->base)
		munmap((void *)(uintptr_t)rd->base, rd->size);
	/* Only after the unmap: a fault in between is still forgiven. */
	a4s_busguard_remove(rd->guard);
	a4s_busguard_remove(rd->cons_guard);
	rd->cons_map = NULL;
	rd->base = NULL;
	rd->guard = rd->cons_guard = -1;
}

void a4s_ring_host_gone(struct a4s_ring_reader *rd)
{
	if (rd->gone)
		return;
	rd->gone = true;
	/* A writer can only have reserved up to a full ring past what we
	 * took; a head beyond that is a lie, and skipping up to it would be
	 * a loop as long as the host likes. */
	uint64_t head = atomic_load_explicit(rd->head_word, memory_order_acquire);
	uint64_t limit = rd->tail + rd->mask + 1;
	rd->end = head - rd->tail <= rd->mask + 1 ? head : limit;
}

/* Skips the position at tail, counting it in *count. */
static void skip(struct a4s_ring_reader *rd, uint64_t *count)
{
	(*count)++;
	rd->tail++;
	rd->pending_since_ns = 0;
}

static bool broken(const struct a4s_ring_reader *rd)
{
	return a4s_busguard_hit(rd->guard) || a4s_busguard_hit(rd->cons_guard);
}

static enum a4s_ring_status next(struct a4s_ring_reader *rd, struct a4s_ring_record *out,
				 uint64_t now_ns)
{
	for (;;) {
		if (broken(rd))
			return A4S_RING_BROKEN;
		uint64_t pos = rd->tail;
		if (rd->gone && pos - rd->end < (uint64_t)1 << 63)
			return A4S_RING_EMPTY; /* pos >= end: all that ever will be */
		/* The index comes from our own mask: in bounds whatever the
		 * host wrote. */
		const struct a4s_ring_slot *s = &rd->slots[pos & rd->mask];
		uint64_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
		if (seq == a4s_ring_committed(pos)) {
			memcpy(out, &s->rec, sizeof(*out));
			/* The copy is whole only if the word did not change
			 * while we made it (a late writer of an abandoned
			 * position, or a hostile host, may write any time). */
			atomic_thread_fence(memory_order_acquire);
			if (atomic_load_explicit(&s->seq, RELAXED) != seq) {
				skip(rd, &rd->seen.torn);
				continue;
			}
			if (!a4s_ringrec_valid(out)) {
				skip(rd, &rd->seen.corrupt);
				continue;
			}
			rd->tail++;
			rd->pending_since_ns = 0;
			rd->seen.taken++;
			return A4S_RING_GOT;
		}
		/* Not committed: reserved by a writer still at work (or
		 * dead), or not reserved at all. The head says which. */
		uint64_t head = atomic_load_explicit(rd->head_word, memory_order_acquire);
		bool reserved = seq == a4s_ring_busy(pos) || head - pos - 1 < (uint64_t)1 << 63;
		if (!reserved)
			return A4S_RING_EMPTY;
		if (rd->gone) {
			skip(rd, &rd->seen.abandoned);
			continue;
		}
		if (!rd->pending_since_ns) {
			rd->pending_since_ns = now_ns ? now_ns : 1;
			return A4S_RING_PENDING;
		}
		if (now_ns - rd->pending_since_ns < rd->abandon_ns)
			return A4S_RING_PENDING;
		skip(rd, &rd->seen.abandoned);
	}
}

enum a4s_ring_status a4s_ring_next(struct a4s_ring_reader *rd, struct a4s_ring_record *out,
				   uint64_t now_ns)
{
	enum a4s_ring_status st = next(rd, out, now_ns);
	/* A fault while we read replaced the pages with zeros: whatever was
	 * read from them is not the host's. */
	return broken(rd) ? A4S_RING_BROKEN : st;
}

void a4s_ring_publish(struct a4s_ring_reader *rd)
{
	if (rd->tail == rd->published || !rd->tail_word)
		return;
	/* Release: our reads of the slots are done before the host may
	 * write them again. */
	atomic_store_explicit(rd->tail_word, rd->tail, memory_order_release);
	rd->published = rd->tail;
}

#define COPY(field) \
	atomic_store_explicit(&out->field, atomic_load_explicit(&c->field, RELAXED), RELAXED)

void a4s_ring_read_dropped(const struct a4s_ring_reader *rd, struct a4s_ring_counts *out)
{
	const struct a4s_ring_counts *c = rd->dropped;
	COPY(calls);
	COPY(accepted);
	COPY(failed);
	COPY(emulated);
	COPY(retried_calls);
	COPY(retries);
	for (int i = 0; i < A4S_RING_ERRNO_SLOTS; i++)
		COPY(errors[i]);
}
