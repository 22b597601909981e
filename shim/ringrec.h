/*
 * A trace record (record.h) to and from its binary form in the ring
 * (ring.h). The collector formats what it reads with the library's own
 * a4s_format_record, so a record goes out byte for byte as the in-process
 * trace would write it; these two are the only translation between them.
 */
#ifndef A4S_RINGREC_H
#define A4S_RINGREC_H

#include "record.h"
#include "ring.h"

/* Addresses longer than A4S_RING_ADDR_MAX are cut to it, which changes
 * nothing that is formatted (no family's address is longer). */
A4S_HIDDEN void a4s_ringrec_from_record(const struct a4s_record *r,
					struct a4s_ring_record *out);
/* out's addresses point into in, which must outlive it. in must have
 * passed a4s_ringrec_valid. */
A4S_HIDDEN void a4s_ringrec_to_record(const struct a4s_ring_record *in, struct a4s_record *out);
/* Whether a record read from shared memory is one a host could have
 * written: every length within its array, every enum one of its values. */
A4S_HIDDEN bool a4s_ringrec_valid(const struct a4s_ring_record *in);

#endif
