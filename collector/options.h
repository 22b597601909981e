/*
 * accept4shim-collector's command line:
 *   --socket=PATH --log=DEST [--log-format=text|json] [--log-skip=NAMES]
 *   [--stats-interval=N]
 * Values are read as the library reads the variables of the same names.
 */
#ifndef A4S_COLLECTOR_OPTIONS_H
#define A4S_COLLECTOR_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "ring.h"

enum a4s_out_kind { A4S_OUT_FILE, A4S_OUT_STDERR, A4S_OUT_SYSLOG, A4S_OUT_JOURNALD };

struct a4s_collector_options {
	const char *socket_path;
	enum a4s_out_kind out;
	const char *log_path; /* A4S_OUT_FILE: with %p unexpanded */
	enum a4s_log_format format;
	uint64_t log_skip[A4S_RING_SKIP_WORDS];
	uint64_t stats_interval_ns; /* 0: none */
};

/* Fills *o from argv. Returns -1 to carry on, else the exit status (0 after
 * --help or --version, 2 after a complaint on stderr). */
int a4s_collector_options(int argc, char **argv, struct a4s_collector_options *o);

/* Whether a record that failed with err is written (not skipped). */
bool a4s_collector_writes(const uint64_t skip[A4S_RING_SKIP_WORDS], int err);

#endif
