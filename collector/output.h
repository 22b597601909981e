/*
 * Where the collector writes: records and summaries, formatted with the
 * library's own formatters, to the destination --log names. A file path
 * with %p gives each traced process its own file (named by the process id
 * the kernel gave the collector for it); every other destination is one,
 * shared by all hosts.
 *
 * Records to a file, a pipe or a stream are gathered and written many
 * whole lines per write; to syslog and journald, one datagram each. No
 * write ever blocks for long: a destination that cannot take a record
 * (cannot be opened, disk full, a reader that does not keep up, journald
 * gone) costs that record, counted against the host it came from, and is
 * said once per destination and cause on the collector's stderr. The hosts
 * never wait for any of it: their rings only fill.
 */
#ifndef A4S_COLLECTOR_OUTPUT_H
#define A4S_COLLECTOR_OUTPUT_H

#include <stdint.h>

#include "options.h"
#include "record.h"
#include "summaryfmt.h"

struct a4s_out;

void a4s_out_setup(const struct a4s_collector_options *o);
/* The destination of the host whose pid the kernel gave us; released with
 * a4s_out_release when the host has gone. Opened by its first write. */
struct a4s_out *a4s_out_get(int host_pid);
void a4s_out_release(struct a4s_out *o);
/* One record or summary of the host host_pid. If it cannot be written,
 * now or when it is flushed, *dropped is increased. Until the next
 * a4s_out_flush_all, dropped must stay valid. */
void a4s_out_record(struct a4s_out *o, const struct a4s_record *r, int host_pid,
		    uint64_t *dropped);
void a4s_out_summary(struct a4s_out *o, const struct a4s_summary *s, const char *kind,
		     int host_pid, uint64_t *dropped);
/* A summary that could not reach the destination: to our stderr, so
 * that what was lost is said somewhere (as the library does). */
void a4s_out_summary_stderr(const struct a4s_summary *s);
/* Writes what is gathered, everywhere. */
void a4s_out_flush_all(void);
/* About once a second: a file renamed or removed is opened anew at its
 * path, a destination that failed is tried again. */
void a4s_out_tick(uint64_t now_ns);

#endif
