/*
 * Fuzz target: the configuration parser (a4s_config_parse) with a fuzzed
 * environment, and the %p expansion of the trace path.
 *
 * Input: up to nine values separated by NUL bytes, one per variable in the
 * order below (missing ones unset), then, after a tenth NUL, two bytes
 * of pid and one of output size for a4s_expand_path.
 * Properties: the result is always a valid configuration; a variable gets
 * exactly one complaint when its own parser rejects it, none otherwise;
 * every complaint is one line of printable ASCII starting
 * "accept4shim: NAME=" and at most 512 bytes; the quiet parse (no buffer)
 * gives the same configuration; the expansion never writes past its
 * buffer and, without '%', copies the path as it is.
 */
#include <stdbool.h>
#include <sys/socket.h>

#include "config.h"
#include "fuzz.h"
#include "sink.h"

static const char *const names[] = {
	"ACCEPT4SHIM_MODE", "ACCEPT4SHIM_INHERIT", "ACCEPT4SHIM_RETRY",
	"ACCEPT4SHIM_ADD_FLAGS", "ACCEPT4SHIM_LOG", "ACCEPT4SHIM_LOG_FORMAT",
	"ACCEPT4SHIM_LOG_SKIP", "ACCEPT4SHIM_STATS", "ACCEPT4SHIM_STATS_INTERVAL",
};
#define NVARS 9

struct env {
	const char *value[NVARS];
};

static const char *lookup(const char *name, const void *ctx)
{
	const struct env *e = ctx;
	for (int i = 0; i < NVARS; i++)
		if (strcmp(name, names[i]) == 0)
			return e->value[i];
	return NULL;
}

static bool valid_alone(int i, const char *v)
{
	union {
		enum a4s_mode mode;
		enum a4s_inherit inherit;
		enum a4s_log_kind kind;
		enum a4s_log_format format;
		bool b;
		int flags;
		uint64_t skip[A4S_SKIP_BITS / 64];
		uint64_t ns;
	} out;
	const char *path = NULL;
	switch (i) {
	case 0:
		return a4s_parse_mode(v, &out.mode);
	case 1:
		return a4s_parse_inherit(v, &out.inherit);
	case 2:
		return a4s_parse_retry(v, &out.b);
	case 3:
		return a4s_parse_add_flags(v, &out.flags);
	case 4:
		return a4s_parse_log(v, &out.kind, &path);
	case 5:
		return a4s_parse_log_format(v, &out.format);
	case 6:
		return a4s_parse_log_skip(v, out.skip);
	case 7:
		return a4s_parse_stats(v, &out.b);
	default:
		return a4s_parse_stats_interval(v, &out.ns);
	}
}

static void check_expand(const char *pattern, int pid, size_t size)
{
	char *out = malloc(size ? size : 1);
	if (!out)
		abort();
	bool ok = a4s_expand_path(pattern, pid, out, size);
	if (ok) {
		FUZZ_CHECK(memchr(out, '\0', size) != NULL, "no NUL within %zu bytes", size);
		if (!strchr(pattern, '%'))
			FUZZ_CHECK(strcmp(out, pattern) == 0, "changed without a %%");
	}
	free(out);
}

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	/* Split into NUL-terminated pieces, as the environment holds them. */
	char *copy = malloc(size + 1);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	copy[size] = '\0';
	struct env e = { { NULL } };
	size_t at = 0;
	int nvalues = 0;
	while (nvalues < NVARS && at <= size) {
		e.value[nvalues++] = copy + at;
		at += strlen(copy + at) + 1;
	}
	struct fuzz_in tail = { data + (at < size ? at : size), at < size ? size - at : 0 };

	char diagbuf[2048];
	struct a4s_diag diag = { diagbuf, sizeof(diagbuf), 0, 0 };
	struct a4s_config cfg, quiet_cfg;
	a4s_config_parse(&cfg, lookup, &e, &diag);
	struct a4s_diag quiet = { NULL, 0, 0, 0 };
	a4s_config_parse(&quiet_cfg, lookup, &e, &quiet);

	FUZZ_CHECK(cfg.mode <= A4S_MODE_EMULATE, "mode %d", (int)cfg.mode);
	FUZZ_CHECK(cfg.inherit <= A4S_INHERIT_BSD, "inherit %d", (int)cfg.inherit);
	FUZZ_CHECK(cfg.log_kind <= A4S_LOG_COLLECTOR, "log kind %d", (int)cfg.log_kind);
	FUZZ_CHECK(cfg.log_format <= A4S_FORMAT_JSON, "format %d", (int)cfg.log_format);
	FUZZ_CHECK((cfg.add_flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) == 0, "flags %#x",
		   cfg.add_flags);
	FUZZ_CHECK(cfg.log_kind != A4S_LOG_FILE ||
			   (cfg.log_path == e.value[4] && cfg.log_path[0] == '/'),
		   "log path");
	FUZZ_CHECK(cfg.log_kind != A4S_LOG_COLLECTOR ||
			   (cfg.log_path == e.value[4] + strlen(A4S_COLLECTOR_PREFIX) &&
			    cfg.log_path[0] == '/' && strlen(cfg.log_path) <= A4S_COLLECTOR_PATH_MAX),
		   "collector socket path");
	FUZZ_CHECK(memcmp(&cfg, &quiet_cfg, sizeof(cfg)) == 0, "quiet parse differs");
	FUZZ_CHECK(cfg.stats || cfg.stats_interval_ns == 0, "an interval without STATS=1");
	FUZZ_CHECK(cfg.stats_interval_ns % 1000000000ULL == 0 &&
			   cfg.stats_interval_ns / 1000000000ULL <= A4S_STATS_INTERVAL_MAX,
		   "interval %llu ns", (unsigned long long)cfg.stats_interval_ns);
	FUZZ_CHECK(!a4s_log_skips(&cfg, 0) && !a4s_log_skips(&cfg, -1), "skips no error");

	int bad = 0;
	bool is_bad[NVARS] = { false };
	for (int i = 0; i < NVARS; i++) {
		is_bad[i] = e.value[i] && e.value[i][0] && !valid_alone(i, e.value[i]);
		bad += is_bad[i];
	}
	FUZZ_CHECK(diag.count == bad, "%d complaints for %d bad values", diag.count, bad);
	FUZZ_CHECK(quiet.count == bad && quiet.len == 0, "quiet diag");

	/* The complaints that fit: whole lines, in variable order. */
	FUZZ_CHECK(diag.len <= sizeof(diagbuf), "diag overflow");
	size_t pos = 0;
	for (int i = 0; i < NVARS && pos < diag.len; i++) {
		if (!is_bad[i])
			continue;
		const char *line = diagbuf + pos;
		const char *nl = memchr(line, '\n', diag.len - pos);
		FUZZ_CHECK(nl != NULL, "a complaint without its newline");
		size_t n = (size_t)(nl - line);
		FUZZ_CHECK(n + 1 <= 512, "a complaint of %zu bytes", n + 1);
		FUZZ_CHECK(fuzz_printable(line, n, 1), "a raw byte in: %.*s", (int)n, line);
		char head[64];
		int hn = snprintf(head, sizeof(head), "accept4shim: %s=", names[i]);
		FUZZ_CHECK(n >= (size_t)hn && memcmp(line, head, (size_t)hn) == 0, "%.*s",
			   (int)n, line);
		pos += n + 1;
	}
	FUZZ_CHECK(pos == diag.len, "bytes after the last complaint");

	const char *pattern = e.value[4] ? e.value[4] : "/tmp/trace-%p.log";
	int pid = (int)fuzz_take(&tail, 2) - 1;
	size_t outsize = (size_t)fuzz_take(&tail, 1) * 17;
	check_expand(pattern, pid, outsize);
	free(copy);
	return 0;
}
