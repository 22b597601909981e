#include "options.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>


#ifndef A4S_VERSION
#define A4S_VERSION "unknown"
#endif

static const char usage[] =
	"usage: accept4shim-collector --socket=PATH --log=DEST [--log-format=text|json]\n"
	"                             [--log-skip=NAMES] [--stats-interval=N]\n"
	"Drains the trace rings of processes run with ACCEPT4SHIM_LOG=collector:PATH\n"
	"and writes their records to DEST: an absolute file path (%p: each traced\n"
	"process's id), stderr, syslog or journald.\n";

static int bad(const char *what, const char *value, const char *accepted)
{
	fprintf(stderr, "accept4shim-collector: %s \"%s\" is not valid (accepted: %s)\n%s", what,
		value, accepted, usage);
	return 2;
}

_Static_assert(A4S_RING_SKIP_WORDS == A4S_SKIP_BITS / 64, "the ring carries a skip set");

/* The bits as a4s_log_skips reads them in the library. */
bool a4s_collector_writes(const uint64_t skip[A4S_RING_SKIP_WORDS], int err)
{
	unsigned e = (unsigned)err;
	return !(e < A4S_SKIP_BITS && (skip[e / 64] >> (e % 64) & 1));
}

int a4s_collector_options(int argc, char **argv, struct a4s_collector_options *o)
{
	enum { O_SOCKET = 1, O_LOG, O_FORMAT, O_SKIP, O_INTERVAL, O_HELP, O_VERSION };
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, O_SOCKET },
		{ "log", required_argument, NULL, O_LOG },
		{ "log-format", required_argument, NULL, O_FORMAT },
		{ "log-skip", required_argument, NULL, O_SKIP },
		{ "stats-interval", required_argument, NULL, O_INTERVAL },
		{ "help", no_argument, NULL, O_HELP },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	memset(o, 0, sizeof(*o));
	const char *log = NULL;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_SOCKET:
			o->socket_path = optarg;
			break;
		case O_LOG:
			log = optarg;
			break;
		case O_FORMAT:
			if (!a4s_parse_log_format(optarg, &o->format))
				return bad("--log-format", optarg, "text, json");
			break;
		case O_SKIP:
			if (!a4s_parse_log_skip(optarg, o->log_skip))
				return bad("--log-skip", optarg, "errno names joined by ','");
			break;
		case O_INTERVAL:
			if (!a4s_parse_stats_interval(optarg, &o->stats_interval_ns))
				return bad("--stats-interval", optarg, "seconds, 0 or more");
			break;
		case O_HELP:
			fputs(usage, stdout);
			return 0;
		case O_VERSION:
			puts("accept4shim-collector " A4S_VERSION);
			return 0;
		default:
			fprintf(stderr, "accept4shim-collector: unknown option %s\n%s",
				argv[optind - 1], usage);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "accept4shim-collector: unexpected argument %s\n%s", argv[optind],
			usage);
		return 2;
	}
	if (!o->socket_path || !log) {
		fprintf(stderr, "accept4shim-collector: --socket and --log are required\n%s", usage);
		return 2;
	}
	if (!o->socket_path[0] || strlen(o->socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return bad("--socket", o->socket_path, "a path of at most 107 bytes");
	/* DEST: what ACCEPT4SHIM_LOG takes, plus journald; not the collector
	 * itself, which would feed on its own records. */
	enum a4s_log_kind kind;
	if (strcmp(log, "journald") == 0) {
		o->out = A4S_OUT_JOURNALD;
	} else if (a4s_parse_log(log, &kind, &o->log_path) && kind != A4S_LOG_NONE &&
		   kind != A4S_LOG_COLLECTOR) {
		o->out = kind == A4S_LOG_STDERR ? A4S_OUT_STDERR
			 : kind == A4S_LOG_SYSLOG ? A4S_OUT_SYSLOG
						  : A4S_OUT_FILE;
	} else {
		return bad("--log", log, "stderr, syslog, journald, or an absolute file path");
	}
	return -1;
}
