/* The record formatter before the fast one: the oracle of the differential
 * tests. Same contract as a4s_format_record (record.h). */
#ifndef A4S_REFERENCE_RECORD_H
#define A4S_REFERENCE_RECORD_H

#include "record.h"

size_t ref_format_record(const struct a4s_record *r, enum a4s_log_format fmt, char *buf,
			 size_t size);

#endif
