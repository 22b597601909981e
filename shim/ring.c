#include "ring.h"

#include <string.h>
#include <sys/mman.h>

#define RELAXED memory_order_relaxed

static bool valid_slot_count(uint32_t n)
{
	return n >= A4S_RING_SLOTS_MIN && n <= A4S_RING_SLOTS_MAX && (n & (n - 1)) == 0;
}

/*
 * Sealed against shrinking and growing before anyone else sees it, and the
 * seals themselves sealed: the collector maps it and reads it, and a file
 * that could shrink under its mapping would kill it with SIGBUS. Writing
 * stays allowed: that is how records get there.
 */
static int make_memfd(uint64_t size)
{
	int fd = (int)a4s_sysret(syscall(SYS_memfd_create, "accept4shim-ring",
					 MFD_CLOEXEC | MFD_ALLOW_SEALING));
	if (fd < 0)
		return fd;
	int r = (int)a4s_sysret(syscall(SYS_ftruncate, fd, (off_t)size));
	if (r == 0)
		r = a4s_fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	if (r < 0) {
		a4s_close(fd);
		return r;
	}
	return fd;
}

/* Raw, like every system call of ours (sys.h). 32-bit ABIs name the call
 * that takes its offset in pages mmap2; their SYS_mmap takes a struct. */
static long map_shared(int fd, size_t size)
{
#ifdef SYS_mmap2
	long nr = SYS_mmap2;
#else
	long nr = SYS_mmap;
#endif
	/* An address is never within the last page: -1 is the failure. */
	return a4s_sysret(syscall(nr, NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0L));
}

int a4s_ring_create(struct a4s_ring *r, uint32_t slot_count, int host_pid, uint32_t host_flags,
		    const uint64_t *log_skip)
{
	if (!valid_slot_count(slot_count))
		slot_count = A4S_RING_SLOTS_DEFAULT;
	uint64_t size = a4s_ring_size(slot_count);
	int fd = make_memfd(size);
	if (fd < 0)
		return fd;
	long base = map_shared(fd, (size_t)size);
	if (base < 0 && base > -4096) {
		a4s_close(fd);
		return (int)base;
	}
	r->base = (void *)base;
	r->size = (size_t)size;
	r->fd = fd;
	r->mask = slot_count - 1;
	r->hdr = r->base;
	r->cons = (struct a4s_ring_consumer *)((char *)r->base + A4S_RING_PAGE);
	r->slots = (struct a4s_ring_slot *)((char *)r->base + A4S_RING_HEADER_SIZE);

	/* A fresh memfd reads as zeros: positions, counters and commit
	 * words all start at 0, and no slot holds a committed record (the
	 * first committed word is 1). The magic goes last, so a header
	 * that has it is complete. */
	struct a4s_ring_header *h = r->hdr;
	h->version = A4S_RING_VERSION;
	h->header_size = A4S_RING_HEADER_SIZE;
	h->slot_size = sizeof(struct a4s_ring_slot);
	h->slot_count = slot_count;
	h->total_size = size;
	h->host_flags = host_flags;
	h->host_pid = host_pid;
	if (log_skip)
		memcpy(h->log_skip, log_skip, sizeof(h->log_skip));
	atomic_thread_fence(memory_order_release);
	memcpy(h->magic, A4S_RING_MAGIC, sizeof(h->magic));
	return 0;
}

void a4s_ring_destroy(struct a4s_ring *r)
{
	if (r->base)
		syscall(SYS_munmap, r->base, r->size);
	if (r->fd >= 0)
		a4s_close(r->fd);
	r->base = NULL;
	r->fd = -1;
}

void a4s_ring_count(struct a4s_ring_counts *c, const struct a4s_ring_record *rec)
{
	atomic_fetch_add_explicit(&c->calls, 1, RELAXED);
	if (rec->fd >= 0) {
		atomic_fetch_add_explicit(&c->accepted, 1, RELAXED);
	} else {
		atomic_fetch_add_explicit(&c->failed, 1, RELAXED);
		int e = rec->err;
		atomic_fetch_add_explicit(&c->errors[e > 0 && e < A4S_RING_ERRNO_SLOTS ? e : 0], 1,
					  RELAXED);
	}
	if (rec->how == A4S_RING_EMULATED)
		atomic_fetch_add_explicit(&c->emulated, 1, RELAXED);
	if (rec->retries) {
		atomic_fetch_add_explicit(&c->retried_calls, 1, RELAXED);
		atomic_fetch_add_explicit(&c->retries, rec->retries, RELAXED);
	}
}

/* Only the bytes that mean something: the fixed fields, then each address
 * up to its length (most are 16 or 28 bytes of the 128). */
bool a4s_ring_append(struct a4s_ring *r, const struct a4s_ring_record *rec)
{
	uint64_t pos;
	struct a4s_ring_record *s = a4s_ring_reserve(r, &pos);
	if (!s) {
		a4s_ring_count(&r->hdr->dropped, rec);
		return false;
	}
	memcpy(s, rec, offsetof(struct a4s_ring_record, local));
	size_t ll = rec->local_len < A4S_RING_ADDR_MAX ? rec->local_len : A4S_RING_ADDR_MAX;
	size_t pl = rec->peer_len < A4S_RING_ADDR_MAX ? rec->peer_len : A4S_RING_ADDR_MAX;
	memcpy(s->local, rec->local, ll);
	memcpy(s->peer, rec->peer, pl);
	a4s_ring_commit(r, pos);
	return true;
}
