#include "sink.h"

#include <limits.h>
#include <stdatomic.h>
#include <string.h>

#include "clock.h"
#include "complain.h"
#include "fdplace.h"
#include "fsize.h"
#include "sinkwrite.h"
#include "stats.h"

/*
 * The identity check, and the race it leaves (issue 12.4). Before every
 * record one statx asks what our descriptor is now, and the record is
 * written only if it is still the file we opened: a program that closed
 * our number and got it back from open or dup2 for a file of its own never
 * gets records in that file. Between the statx and the write, another
 * thread of the program could still close our descriptor and open a file
 * that gets the same number. That window is closed where it can be: our
 * descriptor sits at or above the soft RLIMIT_NOFILE (fdplace.c), a number
 * the kernel hands the program for no file at all, so a close there makes
 * our write fail with EBADF, nothing more. It is bounded where it cannot be
 * (the soft limit equal to the hard one, above 4096, prlimit64 refused, or
 * raised by the program past our number since): the number then sits high
 * below the limit, which the program's open, accept or dup reach only with
 * that many descriptors open, and the check and the write are two
 * consecutive system calls of one thread, so it takes a thread that closes
 * a descriptor it does not own while another accepts, and then gets that
 * exact number back, within those few hundred nanoseconds. A lock would
 * close it everywhere, and a lock is what the accept path may not take.
 * The statx itself stays: without it a program that reuses our number,
 * which daemons do, would get every record. Our own changes never open the
 * window: a rotation swaps the new file in under the same number with one
 * dup3, and a descriptor given up is kept, not closed, until a reopen puts
 * the new one at its number.
 *
 * state >= 0: a destination is published, described by slots[state % SLOTS].
 * SINK_NONE: no trace (or the library is being unloaded). SINK_LOST: not
 * open, yet or any more; the next record opens it, not before reopen_at_ns
 * after a failure, so that a destination that cannot be opened costs a
 * failing open per second, not one per call. SINK_BUSY: one thread is
 * opening it; the others meanwhile open a private descriptor for their own
 * record rather than drop it or wait (waiting would be a lock). SINK_GONE:
 * the program has pointed fd 2 away from the stderr it was started with,
 * which was the trace: for good, records are dropped without a system call.
 */
#define SINK_NONE (-1)
#define SINK_LOST (-2)
#define SINK_BUSY (-3)
#define SINK_GONE (-4)

/*
 * What a record needs to know about the published destination. A slot is
 * written whole before its generation is published and not again until
 * SLOTS - 1 others have been; a reader that read a slot while it was being
 * rewritten (it slept through three reopens) can only see a descriptor and
 * an identity that do not belong together, and then writes nothing: the
 * identity check refuses whatever is not a file of ours.
 */
struct pub {
	int fd;
	bool owned;        /* ours to close; false: the program's fd 2 */
	bool watch_stderr; /* see struct a4s_dest */
	enum a4s_dest_kind kind;
	/* The file at fd, and the one a rotation just swapped out from under
	 * the same number: a record may meet either, both are ours. */
	unsigned long long dev, ino, prev_dev, prev_ino;
};

/* fd, kind, owned and watch_stderr packed in one word: a record reads
 * the slot in five loads. */
struct slot {
	atomic_ullong how;
	atomic_ullong dev, ino, prev_dev, prev_ino;
};

#define HOW_OWNED (1ULL << 40)
#define HOW_WATCH (1ULL << 41)

static unsigned long long pack_how(const struct pub *p)
{
	return (unsigned long long)(unsigned)p->fd | (unsigned long long)p->kind << 32 |
	       (p->owned ? HOW_OWNED : 0) | (p->watch_stderr ? HOW_WATCH : 0);
}

#define SLOTS 4
#define GEN_MASK 0x3fffffff

static const struct a4s_config *config;
static atomic_int state = SINK_NONE;
static atomic_int last_gen;
static struct slot slots[SLOTS];
static _Atomic uint64_t reopen_at_ns;
/* The once-a-second look at the destination (rotation, RLIMIT_FSIZE). */
static _Atomic uint64_t check_at_ns;
static atomic_bool torn;

/*
 * A descriptor given up because its reader is gone (EPIPE, ECONNREFUSED)
 * is kept, not closed: another thread may have passed the identity check on
 * it a moment ago and be about to write, and a closed number is the next
 * one the program's open or accept gets. The reopen a second later puts the
 * new destination at that same number (dup3), or closes it.
 */
static atomic_int retired_fd = -1;
static atomic_ullong retired_dev, retired_ino;

/*
 * Records that came while no descriptor could be had at all (EMFILE,
 * ENFILE, and the soft limit could not be raised), kept in order until one
 * can: the accept error operators most need to see must not be the one the
 * trace loses. Touched only by the thread that holds SINK_BUSY.
 */
static char held[4096];
static size_t held_len;
static unsigned long long held_records;

static inline __attribute__((always_inline)) void load_pub(int s, struct pub *p)
{
	struct slot *k = &slots[s % SLOTS];
	unsigned long long how = atomic_load_explicit(&k->how, memory_order_relaxed);
	p->fd = (int)(unsigned)how;
	p->kind = (enum a4s_dest_kind)((how >> 32) & 0xff);
	p->owned = how & HOW_OWNED;
	p->watch_stderr = how & HOW_WATCH;
	p->dev = atomic_load_explicit(&k->dev, memory_order_relaxed);
	p->ino = atomic_load_explicit(&k->ino, memory_order_relaxed);
	p->prev_dev = atomic_load_explicit(&k->prev_dev, memory_order_relaxed);
	p->prev_ino = atomic_load_explicit(&k->prev_ino, memory_order_relaxed);
}

/* Fills a slot for a new generation; published by storing (or swapping in)
 * the generation with release order. */
static int new_gen(const struct pub *p)
{
	int g = (atomic_fetch_add(&last_gen, 1) + 1) & GEN_MASK;
	struct slot *k = &slots[g % SLOTS];
	atomic_store_explicit(&k->how, pack_how(p), memory_order_relaxed);
	atomic_store_explicit(&k->dev, p->dev, memory_order_relaxed);
	atomic_store_explicit(&k->ino, p->ino, memory_order_relaxed);
	atomic_store_explicit(&k->prev_dev, p->prev_dev, memory_order_relaxed);
	atomic_store_explicit(&k->prev_ino, p->prev_ino, memory_order_relaxed);
	return g;
}

static bool swap_state(int from, int to)
{
	return atomic_compare_exchange_strong_explicit(&state, &from, to, memory_order_acq_rel,
						       memory_order_acquire);
}

static bool still_ours(int fd, unsigned long long dev, unsigned long long ino)
{
	struct a4s_ident id;
	return fd >= 0 && a4s_identify(fd, NULL, 0, &id) == 0 && a4s_same_file(&id, dev, ino);
}

/* Closes fd if it is still the file we had there: the program may have
 * closed the number and got it back for a file of its own. */
static void close_if_ours(int fd, unsigned long long dev, unsigned long long ino)
{
	if (still_ours(fd, dev, ino))
		a4s_close(fd);
}

/* Said on stderr, once per process and cause; not when stderr is the
 * trace itself: the line would land among the records, and there is no one
 * else to tell. */
static void complain(const struct a4s_cause *why)
{
	const char *name = a4s_dest_name(config);
	if (why->kind != A4S_CAUSE_NONE && config->log_kind != A4S_LOG_STDERR && name)
		a4s_complain_dest(name, why);
}

/* The retired descriptor, if it is still ours; the slot is emptied. */
static int take_retired(unsigned long long *dev, unsigned long long *ino)
{
	int fd = atomic_exchange(&retired_fd, -1);
	*dev = atomic_load(&retired_dev);
	*ino = atomic_load(&retired_ino);
	return still_ours(fd, *dev, *ino) ? fd : -1;
}

static void retire(int fd, unsigned long long dev, unsigned long long ino)
{
	unsigned long long old_dev, old_ino;
	int old = take_retired(&old_dev, &old_ino);
	if (old >= 0)
		a4s_close(old); /* none: the last reopen took it */
	atomic_store(&retired_dev, dev);
	atomic_store(&retired_ino, ino);
	atomic_store(&retired_fd, fd);
}

static bool hold(const char *line, size_t len)
{
	if (!line || len > sizeof(held) - held_len)
		return false;
	memcpy(held + held_len, line, len);
	held_len += len;
	held_records++;
	return true;
}

static void drop_held(void)
{
	while (held_records) {
		a4s_stats_dropped();
		held_records--;
	}
	held_len = 0;
}

static void flush_held(const struct a4s_dest *d)
{
	if (!held_len)
		return;
	struct a4s_target t = { d->fd, d->kind, config->log_kind == A4S_LOG_SYSLOG, d->id.size,
				&torn };
	if (t.syslog) {
		/* One datagram per record. */
		for (size_t at = 0; at < held_len;) {
			const char *nl = memchr(held + at, '\n', held_len - at);
			size_t n = (size_t)(nl - (held + at)) + 1;
			if (a4s_put_record(&t, held + at, n) != (long)n)
				a4s_stats_dropped();
			at += n;
		}
	} else if (a4s_put_record(&t, held, held_len) != (long)held_len) {
		drop_held();
	}
	held_len = 0;
	held_records = 0;
}

enum opened { PUBLISHED, HELD, FAILED };

/*
 * Called by the thread holding SINK_BUSY: opens the destination and
 * publishes it, or leaves SINK_LOST (SINK_GONE for a stderr that is gone).
 * A record that comes while no descriptor can be had is held (may_hold);
 * the records held are counted as dropped when the destination fails for
 * another cause, or at the last attempt (final, at exit).
 */
static enum opened open_and_publish(const char *line, size_t len, bool may_hold, bool final)
{
	unsigned long long home_dev, home_ino;
	int home = take_retired(&home_dev, &home_ino);
	struct a4s_dest d;
	a4s_dest_open(&d, config, home < 0);
	if (d.fd < 0) {
		if (home >= 0)
			retire(home, home_dev, home_ino);
		complain(&d.why);
		bool no_fds = d.why.kind == A4S_CAUSE_OPEN &&
			      (d.why.err == EMFILE || d.why.err == ENFILE);
		/* For want of descriptors: again at the next record, when the
		 * program may have closed one. */
		atomic_store(&reopen_at_ns, no_fds ? 0 : a4s_monotonic_ns() + A4S_SECOND_NS);
		enum opened o = no_fds && may_hold && hold(line, len) ? HELD : FAILED;
		if (!no_fds || final)
			drop_held();
		bool gone = config->log_kind == A4S_LOG_STDERR && d.fd == -EBADF;
		atomic_store(&state, gone ? SINK_GONE : SINK_LOST);
		return o;
	}
	if (home >= 0) {
		/* The reopen takes the number it had before, so that no
		 * moment leaves it free. */
		if (d.owned && a4s_fd_replace(d.fd, home) == 0) {
			d.fd = home;
		} else {
			a4s_close(home);
			if (d.owned)
				d.fd = a4s_fd_place(d.fd);
		}
	}
	if (d.kind == A4S_DEST_FILE)
		a4s_fsize_look();
	atomic_store(&torn, false);
	flush_held(&d);
	struct pub p = { d.fd, d.owned, d.watch_stderr, d.kind, d.id.dev, d.id.ino,
			 d.id.dev, d.id.ino };
	atomic_store(&check_at_ns, a4s_monotonic_ns() + A4S_SECOND_NS);
	atomic_store_explicit(&state, new_gen(&p), memory_order_release);
	return PUBLISHED;
}

/* The published descriptor is not ours any more (the program closed it,
 * or put a file of its own at its number): abandoned, never closed or
 * written again; a fresh one is opened at once. The program's own fd 2
 * that changed is the stderr gone for good. */
static void lose(int s, const struct pub *p)
{
	if (!p->owned) {
		swap_state(s, SINK_GONE);
		return;
	}
	atomic_store(&reopen_at_ns, 0);
	swap_state(s, SINK_LOST);
}

/* fd 2 is no longer the program's first stderr, which was the trace. */
static void stderr_gone(int s, const struct pub *p)
{
	if (swap_state(s, SINK_GONE) && p->owned)
		close_if_ours(p->fd, p->dev, p->ino);
}

/*
 * Rotation: the path now names another file, or none (logrotate's create
 * renamed ours, or it was deleted). The path is opened anew and the new
 * file takes our number, replacing the old one in one dup3; the old file is
 * then no longer held. The new generation is published first and still
 * accepts the old file's identity, so that a record checked just before
 * the swap is written (to the old file) and one checked just after it is
 * written to the new one, neither taken for a lost descriptor.
 */
static void rotate(int s, const struct pub *p)
{
	struct a4s_dest d;
	a4s_dest_open(&d, config, false);
	if (d.fd < 0 && d.why.kind == A4S_CAUSE_OPEN && (d.why.err == EMFILE || d.why.err == ENFILE))
		return; /* for want of a descriptor: the old file until the next look */
	if (d.fd < 0) {
		/* Let the old one go all the same, and try again a second
		 * later: a deleted trace must not grow unseen. */
		complain(&d.why);
		atomic_store(&reopen_at_ns, a4s_monotonic_ns() + A4S_SECOND_NS);
		if (swap_state(s, SINK_LOST))
			close_if_ours(p->fd, p->dev, p->ino);
		return;
	}
	struct pub n = { p->fd, true, false, d.kind, d.id.dev, d.id.ino, p->dev, p->ino };
	if (d.kind == p->kind) {
		if (!swap_state(s, new_gen(&n))) {
			a4s_close(d.fd);
			return;
		}
		if (still_ours(p->fd, p->dev, p->ino) && a4s_fd_replace(d.fd, p->fd) == 0) {
			atomic_store(&torn, false);
			return;
		}
		s = atomic_load(&state);
	}
	/* Another kind of file (a record must be written as its kind
	 * needs), or our number was taken meanwhile: a number of its own. */
	n.fd = a4s_fd_place(d.fd);
	n.prev_dev = n.dev;
	n.prev_ino = n.ino;
	if (!swap_state(s, new_gen(&n))) {
		a4s_close(n.fd);
		return;
	}
	atomic_store(&torn, false);
	if (p->fd != n.fd)
		close_if_ours(p->fd, p->dev, p->ino);
}

/* At most once a second, by whichever record comes first after the second
 * is up: the size limit may have changed, the path may name another file.
 * Between two looks a record pays a comparison with the time its call
 * ended, which the trace has read already. */
static __attribute__((noinline)) void look_now(int s, const struct pub *p, uint64_t now,
					       uint64_t due)
{
	if (!atomic_compare_exchange_strong(&check_at_ns, &due, now + A4S_SECOND_NS))
		return;
	if (p->kind == A4S_DEST_FILE)
		a4s_fsize_look();
	if (config->log_kind != A4S_LOG_FILE)
		return;
	const char *path = a4s_dest_name(config);
	struct a4s_ident at;
	if (!path)
		return;
	if (a4s_identify(AT_FDCWD, path, 0, &at) < 0 || !a4s_same_file(&at, p->dev, p->ino))
		rotate(s, p);
}

static void write_failed(int s, const struct pub *p, long r)
{
	struct a4s_cause why = { A4S_CAUSE_WRITE, (int)-r, 0 };
	if (r == -EFBIG) {
		why.kind = A4S_CAUSE_FSIZE;
		/* The limit may have been lowered: read it at the next record. */
		atomic_store(&check_at_ns, 0);
	}
	complain(&why);
	if (r == -EPIPE || r == -ECONNREFUSED || r == -ENOTCONN) {
		/* The reader is gone for good on this descriptor; a FIFO may
		 * get a new one, syslog may come back: reopen a second later. */
		if (swap_state(s, SINK_LOST)) {
			if (p->owned)
				retire(p->fd, p->dev, p->ino);
			atomic_store(&reopen_at_ns, a4s_monotonic_ns() + A4S_SECOND_NS);
		}
	}
}

enum written { WRITTEN, NOT_WRITTEN, AGAIN };

static inline __attribute__((always_inline)) enum written
write_published(int s, const char *line, size_t len, uint64_t now)
{
	struct pub p;
	load_pub(s, &p);
	uint64_t due = atomic_load_explicit(&check_at_ns, memory_order_relaxed);
	if (__builtin_expect(now >= due, 0)) {
		look_now(s, &p, now, due);
		if (atomic_load_explicit(&state, memory_order_acquire) != s)
			return AGAIN; /* rotated just now */
	}
	/* Ours still? The program may have closed our number and got it
	 * back from open or dup2 for a file of its own. */
	struct a4s_ident id;
	if (a4s_identify_fd(p.fd, &id) < 0 ||
	    !(a4s_same_file(&id, p.dev, p.ino) || a4s_same_file(&id, p.prev_dev, p.prev_ino))) {
		if (atomic_load(&state) == s)
			lose(s, &p);
		return AGAIN;
	}
	if (p.watch_stderr && a4s_dest_check_stderr() < 0) {
		stderr_gone(s, &p);
		return NOT_WRITTEN;
	}
	struct a4s_target t = { p.fd, p.kind, config->log_kind == A4S_LOG_SYSLOG, id.size, &torn };
	long r = a4s_put_record(&t, line, len);
	if (r == -EOPNOTSUPP && p.kind == A4S_DEST_PIPE_NOWAIT) {
		/* The kernel's pipes do not take RWF_NOWAIT, and nothing was
		 * written: stderr is opened anew, through a description of our
		 * own, and this record written there. */
		atomic_store(&reopen_at_ns, 0);
		swap_state(s, SINK_LOST);
		return AGAIN;
	}
	if (r == (long)len)
		return WRITTEN;
	write_failed(s, &p, r);
	return NOT_WRITTEN;
}

/* While another thread opens the destination: this record goes through a
 * descriptor of its own, opened and closed here. */
static bool write_private(const char *line, size_t len)
{
	struct a4s_dest d;
	a4s_dest_open(&d, config, false);
	if (d.fd < 0)
		return false;
	static atomic_bool private_torn;
	struct a4s_target t = { d.fd, d.kind, config->log_kind == A4S_LOG_SYSLOG, d.id.size,
				&private_torn };
	long r = a4s_put_record(&t, line, len);
	if (d.owned)
		a4s_close(d.fd);
	return r == (long)len;
}

static inline __attribute__((always_inline)) bool sink_write(const char *line, size_t len,
								 uint64_t now, bool may_hold)
{
	for (int round = 0; round < 4; round++) {
		int s = atomic_load_explicit(&state, memory_order_acquire);
		if (s >= 0) {
			enum written w = write_published(s, line, len, now);
			if (w == AGAIN)
				continue;
			if (w == WRITTEN)
				return true;
			break;
		}
		if (s == SINK_LOST) {
			if (now < atomic_load(&reopen_at_ns))
				break;
			if (!swap_state(SINK_LOST, SINK_BUSY))
				continue;
			enum opened o = open_and_publish(line, len, may_hold, false);
			if (o == HELD)
				return true;
			if (o == FAILED)
				break;
			continue;
		}
		if (s == SINK_BUSY) {
			if (write_private(line, len))
				return true;
			break;
		}
		if (s == SINK_NONE)
			return false; /* no trace: nothing to count */
		break; /* SINK_GONE */
	}
	a4s_stats_dropped();
	return false;
}

bool a4s_sink_write_at(const char *line, size_t len, uint64_t now_ns)
{
	return sink_write(line, len, now_ns, true);
}

bool a4s_sink_write(const char *line, size_t len)
{
	return sink_write(line, len, a4s_monotonic_ns(), true);
}

void a4s_sink_settle(void)
{
	if (!swap_state(SINK_LOST, SINK_BUSY))
		return;
	if (held_len)
		open_and_publish(NULL, 0, false, true);
	else
		atomic_store(&state, SINK_LOST);
}

void a4s_sink_write_summary(const char *line, size_t len)
{
	if (a4s_sink_enabled() && sink_write(line, len, a4s_monotonic_ns(), false))
		return;
	/* Not to stderr twice when stderr was the trace. */
	if (!config || config->log_kind != A4S_LOG_STDERR)
		a4s_write_stderr(line, len);
}

void a4s_sink_open(const struct a4s_config *cfg)
{
	config = cfg;
	a4s_dest_note_stderr();
	a4s_dest_name_for_this_process(cfg);
	if (cfg->log_kind == A4S_LOG_NONE)
		return;
	atomic_store(&reopen_at_ns, 0);
	atomic_store(&state, SINK_LOST);
}

bool a4s_sink_enabled(void)
{
	return config && config->log_kind != A4S_LOG_NONE;
}

void a4s_sink_after_fork(void)
{
	/* A new process: it says what goes wrong for itself, holds none of
	 * its parent's records, and looks at its limits at once. */
	a4s_complain_forget();
	a4s_nofile_after_fork();
	held_len = 0;
	held_records = 0;
	atomic_store(&check_at_ns, 0);
	/* The thread that was opening the destination is not in the child. */
	if (swap_state(SINK_BUSY, SINK_LOST))
		atomic_store(&reopen_at_ns, 0);
	if (!config || config->log_kind != A4S_LOG_FILE || !strstr(config->log_path, "%p"))
		return; /* the child shares the parent's destination */
	a4s_dest_name_for_this_process(config);
	int s = atomic_load(&state);
	if (s >= 0) {
		struct pub p;
		load_pub(s, &p);
		close_if_ours(p.fd, p.dev, p.ino);
	}
	unsigned long long dev, ino;
	int old = take_retired(&dev, &ino);
	if (old >= 0)
		a4s_close(old); /* the only thread here: no writer in flight */
	/* Opened again, under the child's pid, by its first record: a child
	 * that only execs never creates an empty file. */
	atomic_store(&reopen_at_ns, 0);
	if (s != SINK_GONE && s != SINK_NONE)
		atomic_store(&state, SINK_LOST);
}

/*
 * Unloading (dlclose), or exiting: the descriptor goes with the library,
 * so a program that dlcloses it is left with none of ours. Priority 101
 * runs this after every other destructor of the library, the exit summary
 * among them.
 */
__attribute__((destructor(101))) static void release_at_unload(void)
{
	int s = atomic_exchange(&state, SINK_NONE);
	if (s >= 0) {
		struct pub p;
		load_pub(s, &p);
		if (p.owned)
			close_if_ours(p.fd, p.dev, p.ino);
	}
	unsigned long long dev, ino;
	int old = take_retired(&dev, &ino);
	if (old >= 0)
		a4s_close(old);
}
