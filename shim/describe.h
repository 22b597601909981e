/* The configuration in force, as one line of words a person or a test can
 * read back: what accept4shim_config() answers. */
#ifndef A4S_DESCRIBE_H
#define A4S_DESCRIBE_H

#include <stddef.h>

#include "config.h"

/* Room for every word, the longest value of each: log_skip may name every
 * errno the library knows. */
#define A4S_DESCRIBE_MAX 2048

/* "mode=auto inherit=linux retry=off add_flags=0 log=none log_format=text
 * stats=0 log_skip= stats_interval=0": one key=value word per setting, in
 * that order, the values as the variables spell them (log as its kind:
 * none, stderr, syslog, file; add_flags as the trace names flags; log_skip
 * the errno names in errno order, empty for none; stats_interval in
 * seconds, 0 unless stats=1). Pure: into buf, NUL-terminated. */
A4S_HIDDEN void a4s_describe_config(const struct a4s_config *cfg, char *buf, size_t size);

#endif
