#include "sink.h"

#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "dest.h"
#include "sinkwrite.h"
#include "stats.h"

/*
 * sink_fd >= 0: the published descriptor. SINK_NONE: no trace. SINK_LOST:
 * not open (yet, or any more); the next record opens it, at most once a
 * second after an open failed, so a destination that cannot be opened
 * costs a failing open per second, not per call. SINK_BUSY: one thread is
 * opening it; the others meanwhile open a private descriptor for their own
 * record rather than drop it or wait (waiting would be a lock).
 */
#define SINK_NONE (-1)
#define SINK_LOST (-2)
#define SINK_BUSY (-3)

static const struct a4s_config *config;
static atomic_int sink_fd = SINK_NONE;
/* Written only by the thread that holds SINK_BUSY, before it publishes. */
static _Atomic enum a4s_dest_kind sink_kind;
static atomic_ullong sink_dev, sink_ino;
static _Atomic uint64_t next_reopen_ns;
/*
 * A descriptor given up because its reader is gone (EPIPE, ECONNREFUSED)
 * is not closed at once: another thread may have passed the identity check
 * on it a moment ago and be about to write, and a closed number is the next
 * one the program's open or accept gets (near the limit, a busy server's
 * next connection). It is closed by the next reopen, a second or more later.
 */
static atomic_int retired_fd = -1;
static atomic_ullong retired_dev, retired_ino;

/* The retired descriptor, if it is still the one we gave up (the program
 * may have closed it and reused the number meanwhile). */
static void close_retired(void)
{
	int fd = atomic_exchange(&retired_fd, -1);
	mode_t type;
	unsigned long long dev, ino;
	if (fd >= 0 && a4s_dest_identify(fd, &type, &dev, &ino) == 0 &&
	    dev == atomic_load(&retired_dev) && ino == atomic_load(&retired_ino))
		a4s_close(fd);
}

/* Called by the thread holding SINK_BUSY: opens, then publishes the
 * descriptor, or SINK_LOST with the next attempt a second away. */
static void open_and_publish(void)
{
	struct a4s_dest d;
	close_retired();
	a4s_dest_open(&d, config, true);
	if (d.fd < 0) {
		atomic_store(&next_reopen_ns, a4s_monotonic_ns() + A4S_SECOND_NS);
		atomic_store(&sink_fd, SINK_LOST);
		return;
	}
	atomic_store(&sink_kind, d.kind);
	atomic_store(&sink_dev, d.dev);
	atomic_store(&sink_ino, d.ino);
	atomic_store_explicit(&sink_fd, d.fd, memory_order_release);
}

void a4s_sink_open(const struct a4s_config *cfg)
{
	config = cfg;
	if (cfg->log_kind == A4S_LOG_STDERR || cfg->stats)
		a4s_dest_note_stderr();
	if (cfg->log_kind == A4S_LOG_NONE)
		return;
	/*
	 * A file or syslog is opened by the first record, so a process that
	 * never accepts (a shell in front of the server, a helper it execs,
	 * a child that only execs) creates no file and holds no descriptor.
	 * stderr is taken now: "stderr" is what the program was started with,
	 * before a daemon points its fd 2 at /dev/null.
	 */
	atomic_store(&next_reopen_ns, 0);
	atomic_store(&sink_fd, SINK_LOST);
	if (cfg->log_kind == A4S_LOG_STDERR) {
		int expected = SINK_LOST;
		if (atomic_compare_exchange_strong(&sink_fd, &expected, SINK_BUSY))
			open_and_publish();
	}
}

bool a4s_sink_enabled(void)
{
	return config && config->log_kind != A4S_LOG_NONE;
}

/* Ours still? The program may have closed our number and got it back from
 * open or dup2 for a file of its own; then the number is no longer ours to
 * close or write, and we open our destination anew. */
static bool still_ours(int fd)
{
	mode_t type;
	unsigned long long dev, ino;
	if (a4s_dest_identify(fd, &type, &dev, &ino) == 0 && dev == atomic_load(&sink_dev) &&
	    ino == atomic_load(&sink_ino))
		return true;
	int expected = fd;
	atomic_compare_exchange_strong(&sink_fd, &expected, SINK_LOST);
	return false;
}

/* The record to fd, framed for syslog when that is the destination. */
static long put_record(int fd, enum a4s_dest_kind kind, const char *line, size_t len)
{
	return a4s_sink_put_record(fd, kind, config->log_kind == A4S_LOG_SYSLOG, line, len);
}

/* While another thread opens the destination: this record goes through a
 * descriptor of its own, opened and closed here. */
static void write_private(const char *line, size_t len)
{
	struct a4s_dest d;
	a4s_dest_open(&d, config, false);
	if (d.fd < 0) {
		a4s_stats_dropped();
		return;
	}
	if (put_record(d.fd, d.kind, line, len) != (long)len)
		a4s_stats_dropped();
	a4s_close(d.fd);
}

void a4s_sink_write(const char *line, size_t len)
{
	int fd = atomic_load_explicit(&sink_fd, memory_order_acquire);
	if (fd >= 0 && !still_ours(fd))
		fd = atomic_load_explicit(&sink_fd, memory_order_acquire);
	if (fd == SINK_LOST) {
		if (a4s_monotonic_ns() < atomic_load(&next_reopen_ns)) {
			a4s_stats_dropped();
			return;
		}
		if (atomic_compare_exchange_strong(&sink_fd, &fd, SINK_BUSY)) {
			open_and_publish();
			fd = atomic_load_explicit(&sink_fd, memory_order_acquire);
		}
	}
	if (fd == SINK_BUSY) {
		write_private(line, len);
		return;
	}
	if (fd < 0) {
		a4s_stats_dropped();
		return;
	}
	long r = put_record(fd, atomic_load(&sink_kind), line, len);
	if (r != (long)len)
		a4s_stats_dropped();
	if (r == -EPIPE || r == -ECONNREFUSED || r == -ENOTCONN) {
		/* The reader is gone for good on this descriptor; a FIFO may
		 * get a new one, syslog may come back: reopen a second later,
		 * and close this one then. */
		int expected = fd;
		if (atomic_compare_exchange_strong(&sink_fd, &expected, SINK_LOST)) {
			close_retired(); /* none: the last reopen took it */
			atomic_store(&retired_dev, atomic_load(&sink_dev));
			atomic_store(&retired_ino, atomic_load(&sink_ino));
			atomic_store(&retired_fd, fd);
			atomic_store(&next_reopen_ns, a4s_monotonic_ns() + A4S_SECOND_NS);
		}
	}
}

void a4s_sink_after_fork(void)
{
	/* The thread that was opening the destination is not in the child. */
	int busy = SINK_BUSY;
	atomic_compare_exchange_strong(&sink_fd, &busy, SINK_LOST);
	if (!config || config->log_kind != A4S_LOG_FILE ||
	    !strstr(config->log_path, "%p"))
		return; /* the child shares the parent's destination */
	int fd = atomic_load(&sink_fd);
	if (fd >= 0 && still_ours(fd))
		a4s_close(fd);
	close_retired(); /* the only thread here: no writer in flight */
	/* Opened again, under the child's pid, by its first record: a child
	 * that only execs never creates an empty file. */
	atomic_store(&next_reopen_ns, 0);
	atomic_store(&sink_fd, SINK_LOST);
}
