#include "listeners.h"

#include <stdatomic.h>
#include <string.h>
#include <sys/un.h>

#include "clock.h"

/*
 * Each number has a state word, and apart from it the address.
 *
 * The word holds VALID (the address may be used), BUSY (one record is
 * filling the address in), a count of pins (calls under way that may
 * change what the number names) and a generation, moved on by every unpin
 * and every invalidation, so that a record that read the word before a
 * change can never complete its fill after it: its compare-and-swap fails.
 *
 *  - pin: count + 1, VALID cleared (BUSY kept);
 *  - unpin: count - 1, generation + 1, VALID cleared;
 *  - fill: from a word with none of VALID, BUSY and pins, BUSY set; then
 *    getsockname, the address written, and VALID set only if the word is
 *    still that one with BUSY (no pin came meanwhile), else BUSY cleared;
 *  - use: a word with VALID alone, the address copied, and the word read
 *    again, unchanged. A seqlock: the address is written only under BUSY,
 *    which needs VALID cleared, which changes the word.
 *
 * So an address is used only while no call that could change the number
 * has begun since getsockname said it, and not while one is under way. A
 * pin never undone (a thread cancelled in close, a signal handler that
 * longjmps out of one, a thread that was closing when another forked)
 * leaves its number uncached for good: its records ask getsockname, as
 * before. Nothing waits on anything; everything is async-signal-safe (a
 * handler that finds an entry BUSY under itself asks the kernel).
 */
#define VALID 1ull
#define BUSY 2ull
#define PIN 4ull
#define PINS (((1ull << 20) - 1) * PIN)
#define GEN (1ull << 22)

static _Atomic uint64_t states[A4S_LISTENERS];

/*
 * The address is atomic words, written with release stores (atomic
 * exchanges: only a fill writes, once per listener and second) and read
 * with acquire loads, so that the seqlock is one in the C memory model, not
 * a data race: a reader whose load reads a word of a fill that began after
 * its first look at the state word then sees that fill's claim when it
 * looks again, and throws the copy away. ThreadSanitizer, helgrind and DRD
 * check it so (tests/stress, tests/sanitizers); on x86-64 the loads are
 * plain moves.
 */
#define WORDS ((sizeof(struct sockaddr_un) + 7) / 8)
struct entry {
	_Atomic uint64_t checked_ns; /* when getsockname said it */
	_Atomic uint32_t len;
	_Atomic uint64_t addr[WORDS];
};
static struct entry entries[A4S_LISTENERS];

/* A use copies this much at least, as fixed moves: IPv4 and IPv6. */
#define SHORT 32
_Static_assert(SHORT % 8 == 0 && SHORT <= WORDS * 8, "the short copy fits");
_Static_assert(WORDS * 8 <= sizeof(struct sockaddr_storage), "a copy fits");

static void put(_Atomic uint64_t *to, uint64_t v)
{
	(void)atomic_exchange_explicit(to, v, memory_order_release);
}

static void copy_out(const struct entry *e, struct sockaddr_storage *out, unsigned from,
		     unsigned to)
{
#pragma GCC unroll 16
	for (unsigned i = from; i < to; i++) {
		uint64_t w = atomic_load_explicit(&e->addr[i], memory_order_acquire);
		__builtin_memcpy((char *)out + 8 * i, &w, 8);
	}
}

/* Records are written, and the numbers are watched: both, or no cache. */
#define TRACING 1
#define WATCHED 2
static atomic_int on;

/* An entry this old is asked again, in case the number changed behind the
 * C library's back (listeners.h). */
#define RECHECK_NS A4S_SECOND_NS

void a4s_listeners_configure(bool tracing)
{
	if (tracing)
		atomic_fetch_or(&on, TRACING);
}

void a4s_listeners_watched(void)
{
	atomic_fetch_or(&on, WATCHED);
}

bool a4s_listeners_active(void)
{
	return atomic_load_explicit(&on, memory_order_relaxed) == (TRACING | WATCHED);
}

static bool clamp(int *lo, int *hi)
{
	if (*lo < 0)
		*lo = 0;
	if (*hi >= A4S_LISTENERS)
		*hi = A4S_LISTENERS - 1;
	return *lo <= *hi;
}

void a4s_listeners_pin(int lo, int hi)
{
	if (!clamp(&lo, &hi))
		return;
	for (int i = lo; i <= hi; i++) {
		uint64_t s = atomic_load(&states[i]);
		while (!atomic_compare_exchange_weak(&states[i], &s, (s + PIN) & ~VALID))
			;
	}
}

void a4s_listeners_unpin(int lo, int hi)
{
	if (!clamp(&lo, &hi))
		return;
	for (int i = lo; i <= hi; i++) {
		uint64_t s = atomic_load(&states[i]), n;
		do
			n = ((s & PINS ? s - PIN : s) + GEN) & ~VALID;
		while (!atomic_compare_exchange_weak(&states[i], &s, n));
	}
}

/* The kernel's answer: the length, or 0. */
static socklen_t ask(int fd, struct sockaddr_storage *out)
{
	socklen_t len = sizeof(*out);
	return a4s_getsockname(fd, (struct sockaddr *)out, &len) == 0 ? len : 0;
}

static socklen_t cached(int fd, uint64_t now_ns, struct sockaddr_storage *out)
{
	_Atomic uint64_t *st = &states[fd];
	uint64_t s = atomic_load_explicit(st, memory_order_acquire);
	if ((s & (VALID | BUSY | PINS)) != VALID)
		return 0;
	struct entry *e = &entries[fd];
	uint64_t checked = atomic_load_explicit(&e->checked_ns, memory_order_acquire);
	if ((int64_t)(now_ns - checked) >= (int64_t)RECHECK_NS) {
		/* Asked again, by the fill that follows. */
		atomic_compare_exchange_strong(st, &s, (s + GEN) & ~VALID);
		return 0;
	}
	socklen_t len = atomic_load_explicit(&e->len, memory_order_acquire);
	copy_out(e, out, 0, SHORT / 8);
	if (len > SHORT)
		copy_out(e, out, SHORT / 8, WORDS);
	return atomic_load_explicit(st, memory_order_relaxed) == s ? len : 0;
}

static socklen_t fill(int fd, uint64_t now_ns, struct sockaddr_storage *out)
{
	_Atomic uint64_t *st = &states[fd];
	uint64_t s = atomic_load(st);
	bool claimed = (s & (VALID | BUSY | PINS)) == 0 &&
		       atomic_compare_exchange_strong(st, &s, s | BUSY);
	/* Asked after the claim: an address said before a pin came cannot
	 * be kept, one said after cannot be older than the pin. */
	socklen_t len = ask(fd, out);
	if (!claimed)
		return len;
	struct entry *e = &entries[fd];
	bool keep = len && len <= WORDS * 8;
	if (keep) {
		/* The tail of the last word defined (the caller's buffer
		 * has room: a copy fits). */
		memset((char *)out + len, 0, WORDS * 8 - len);
		(void)atomic_exchange_explicit(&e->len, len, memory_order_release);
		for (unsigned i = 0; i < (len + 7) / 8; i++) {
			uint64_t w;
			memcpy(&w, (char *)out + 8 * i, 8);
			put(&e->addr[i], w);
		}
		put(&e->checked_ns, now_ns);
		uint64_t busy = s | BUSY;
		if (atomic_compare_exchange_strong_explicit(st, &busy, s | VALID, memory_order_release,
							    memory_order_relaxed))
			return len;
	}
	/* A pin came meanwhile, or nothing to keep: given back empty. */
	uint64_t cur = atomic_load(st);
	while (!atomic_compare_exchange_weak(st, &cur, cur & ~BUSY))
		;
	return len;
}

socklen_t a4s_listener_address(int fd, int result, uint64_t now_ns,
			       struct sockaddr_storage *out)
{
	if (atomic_load_explicit(&on, memory_order_relaxed) != (TRACING | WATCHED))
		return ask(fd, out);
	if ((unsigned)result < A4S_LISTENERS) {
		/* Our accept got this number, so it was free: whatever the
		 * cache still held for it was closed behind the C library's
		 * back, and is let go. */
		_Atomic uint64_t *st = &states[result];
		uint64_t s = atomic_load_explicit(st, memory_order_relaxed);
		if (__builtin_expect(s & VALID, 0))
			atomic_compare_exchange_strong(st, &s, (s + GEN) & ~VALID);
	}
	/* Only a new connection or EAGAIN proves fd a listening socket,
	 * whose address cannot change without listen() (interposed). After
	 * shutdown(), say, accept fails with EINVAL, and the kernel is asked
	 * what the address has become. */
	if ((unsigned)fd >= A4S_LISTENERS || (result < 0 && result != -EAGAIN))
		return ask(fd, out);
	socklen_t len = cached(fd, now_ns, out);
	return len ? len : fill(fd, now_ns, out);
}
