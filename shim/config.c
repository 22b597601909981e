#include "config.h"

#include <string.h>
#include <sys/socket.h>

#include "errnames.h"
#include "text.h"

struct choice {
	const char *name;
	int value;
};

/* Exact, case-sensitive match: these values are read by scripts, and an
 * operator is better told "Emulate is not a value" than guessed at. */
static bool pick(const char *s, const struct choice *c, size_t n, int *out)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(s, c[i].name) == 0) {
			*out = c[i].value;
			return true;
		}
	}
	return false;
}

#define PICK(s, table, out) pick((s), (table), sizeof(table) / sizeof((table)[0]), (out))

bool a4s_parse_mode(const char *s, enum a4s_mode *out)
{
	static const struct choice t[] = {
		{ "auto", A4S_MODE_AUTO },
		{ "native", A4S_MODE_NATIVE },
		{ "emulate", A4S_MODE_EMULATE },
	};
	int v;
	if (!PICK(s, t, &v))
		return false;
	*out = (enum a4s_mode)v;
	return true;
}

bool a4s_parse_inherit(const char *s, enum a4s_inherit *out)
{
	static const struct choice t[] = {
		{ "linux", A4S_INHERIT_LINUX },
		{ "bsd", A4S_INHERIT_BSD },
	};
	int v;
	if (!PICK(s, t, &v))
		return false;
	*out = (enum a4s_inherit)v;
	return true;
}

bool a4s_parse_retry(const char *s, bool *out)
{
	static const struct choice t[] = { { "off", 0 }, { "on", 1 } };
	int v;
	if (!PICK(s, t, &v))
		return false;
	*out = v != 0;
	return true;
}

bool a4s_parse_stats(const char *s, bool *out)
{
	static const struct choice t[] = { { "0", 0 }, { "1", 1 } };
	int v;
	if (!PICK(s, t, &v))
		return false;
	*out = v != 0;
	return true;
}

bool a4s_parse_log_format(const char *s, enum a4s_log_format *out)
{
	static const struct choice t[] = {
		{ "text", A4S_FORMAT_TEXT },
		{ "json", A4S_FORMAT_JSON },
	};
	int v;
	if (!PICK(s, t, &v))
		return false;
	*out = (enum a4s_log_format)v;
	return true;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

typedef bool take_name_fn(const char *name, size_t n, void *ctx);

/* A list of names joined by any of seps, blanks around a name allowed
 * (people quote these in shell scripts), an empty name between separators
 * not; nothing but blanks is the empty list. take() is given each name and
 * says whether it knows it. */
static bool each_name(const char *s, const char *seps, take_name_fn *take, void *ctx)
{
	const char *p = s;

	while (is_blank(*p))
		p++;
	if (*p == '\0')
		return true;
	for (;;) {
		while (is_blank(*p))
			p++;
		const char *start = p;
		while (*p && !strchr(seps, *p) && !is_blank(*p))
			p++;
		if (!take(start, (size_t)(p - start), ctx))
			return false;
		while (is_blank(*p))
			p++;
		if (*p == '\0')
			return true;
		if (!strchr(seps, *p))
			return false;
		p++;
	}
}

static bool is_name(const char *name, size_t n, const char *want)
{
	return strlen(want) == n && memcmp(name, want, n) == 0;
}

static bool take_flag(const char *name, size_t n, void *ctx)
{
	int *flags = ctx;
	if (is_name(name, n, "SOCK_CLOEXEC"))
		*flags |= SOCK_CLOEXEC;
	else if (is_name(name, n, "SOCK_NONBLOCK"))
		*flags |= SOCK_NONBLOCK;
	else
		return false;
	return true;
}

/* "SOCK_CLOEXEC|SOCK_NONBLOCK", "SOCK_NONBLOCK, SOCK_CLOEXEC", "". */
bool a4s_parse_add_flags(const char *s, int *out)
{
	int flags = 0;
	if (!each_name(s, "|,", take_flag, &flags))
		return false;
	*out = flags;
	return true;
}

/* The other names Linux gives the same values, as programs spell them. */
static const struct choice errno_aliases[] = {
	{ "EWOULDBLOCK", EWOULDBLOCK },
	{ "EDEADLOCK", EDEADLOCK },
	{ "ENOTSUP", ENOTSUP },
};

static bool take_errno(const char *name, size_t n, void *ctx)
{
	uint64_t *bits = ctx;
	int e = 0;
	for (int i = 1; i < A4S_SKIP_BITS && !e; i++) {
		const char *known = a4s_errno_name(i);
		if (known && is_name(name, n, known))
			e = i;
	}
	for (size_t i = 0; i < sizeof(errno_aliases) / sizeof(errno_aliases[0]) && !e; i++) {
		if (is_name(name, n, errno_aliases[i].name))
			e = errno_aliases[i].value;
	}
	if (!e)
		return false;
	bits[e / 64] |= 1ULL << (e % 64);
	return true;
}

/* "EAGAIN", "EAGAIN,ECONNABORTED", "": errno names as the trace writes
 * them (and their Linux aliases), joined by ','. Parsed here, once, into
 * bits, so that the call path tests a bit and compares no string. */
bool a4s_parse_log_skip(const char *s, uint64_t out[A4S_SKIP_BITS / 64])
{
	uint64_t bits[A4S_SKIP_BITS / 64] = { 0 };
	if (!each_name(s, ",", take_errno, bits))
		return false;
	memcpy(out, bits, sizeof(bits));
	return true;
}

/* Whole seconds in decimal digits, 0 (none) up to A4S_STATS_INTERVAL_MAX:
 * no sign, no unit, no fraction; a value the library would have to guess
 * at is refused, not rounded. */
bool a4s_parse_stats_interval(const char *s, uint64_t *ns)
{
	uint64_t v = 0;
	if (*s == '\0')
		return false;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > A4S_STATS_INTERVAL_MAX)
			return false;
	}
	*ns = v * 1000000000ULL;
	return true;
}

/* "stderr", "syslog", "collector:/socket/path", or an absolute path. A relative path is refused: it
 * would name a different file in every working directory the program
 * visits. The path must leave room for %p to grow into a pid.
 * /dev/stderr, /dev/fd/2 and /proc/self/fd/2 are what people write when
 * they mean stderr, and as paths they would be refused (each is a symbolic
 * link, and the trace follows none): they mean "stderr". */
bool a4s_parse_log(const char *s, enum a4s_log_kind *kind, const char **path)
{
	if (*s == '\0') {
		*kind = A4S_LOG_NONE;
		return true;
	}
	if (strcmp(s, "stderr") == 0 || strcmp(s, "/dev/stderr") == 0 ||
	    strcmp(s, "/dev/fd/2") == 0 || strcmp(s, "/proc/self/fd/2") == 0) {
		*kind = A4S_LOG_STDERR;
		return true;
	}
	if (strcmp(s, "syslog") == 0) {
		*kind = A4S_LOG_SYSLOG;
		return true;
	}
	/* collector:PATH, the socket of accept4shim-collector: absolute, like
	 * a file (the program may change directory), and short enough for a
	 * unix socket's address (sun_path: 107 bytes and its NUL). */
	if (strncmp(s, A4S_COLLECTOR_PREFIX, sizeof(A4S_COLLECTOR_PREFIX) - 1) == 0) {
		const char *sock = s + sizeof(A4S_COLLECTOR_PREFIX) - 1;
		if (sock[0] != '/' || strlen(sock) > A4S_COLLECTOR_PATH_MAX)
			return false;
		*path = sock;
		*kind = A4S_LOG_COLLECTOR;
		return true;
	}
	if (s[0] != '/' || strlen(s) + 32 > PATH_MAX)
		return false;
	*path = s;
	*kind = A4S_LOG_FILE;
	return true;
}

static void complain(struct a4s_diag *diag, const char *var, const char *value,
		     const char *accepted, const char *fallback)
{
	char line[A4S_COMPLAINT_MAX];
	struct a4s_buf b = A4S_BUF_INIT(line);

	a4s_put(&b, "accept4shim: ");
	a4s_put(&b, var);
	a4s_put(&b, "=\"");
	/* The value is the user's: show it escaped and cut, so the complaint
	 * stays one readable line whatever bytes or length it had. */
	a4s_put_escaped_text(&b, value, strlen(value) > 80 ? 80 : strlen(value));
	if (strlen(value) > 80)
		a4s_put(&b, "...");
	a4s_put(&b, "\" is not valid (accepted: ");
	a4s_put(&b, accepted);
	a4s_put(&b, "); using ");
	a4s_put(&b, fallback);
	a4s_put(&b, "\n");
	if (b.full) { /* cut, but still one line */
		b.full = false;
		b.len = b.len < sizeof(line) ? b.len : sizeof(line) - 1;
		b.p[b.len++] = '\n';
	}
	size_t n = b.len;

	diag->count++;
	if (!diag->buf || diag->len + n > diag->size) {
		/* Keep what is said in order: once a line is left out, so
		 * are the ones after it. */
		diag->size = diag->len;
		return;
	}
	memcpy(diag->buf + diag->len, line, n);
	diag->len += n;
}

static const char *value_of(a4s_lookup_fn *lookup, const void *ctx, const char *name)
{
	const char *v = lookup(name, ctx);
	/* An empty value means the default: VAR= is how shells unset things
	 * for one command. */
	return v && *v ? v : NULL;
}

void a4s_config_parse(struct a4s_config *cfg, a4s_lookup_fn *lookup, const void *ctx,
		      struct a4s_diag *diag)
{
	const char *v;

	memset(cfg, 0, sizeof(*cfg));
	cfg->mode = A4S_MODE_AUTO;
	cfg->inherit = A4S_INHERIT_LINUX;
	cfg->log_kind = A4S_LOG_NONE;
	cfg->log_format = A4S_FORMAT_TEXT;

	if ((v = value_of(lookup, ctx, "ACCEPT4SHIM_MODE")) &&
	    !a4s_parse_mode(v, &cfg->mode))
		complain(diag, "ACCEPT4SHIM_MODE", v, "auto, native, emulate", "auto");
	if ((v = value_of(lookup, ctx, "ACCEPT4SHIM_INHERIT")) &&
	    !a4s_parse_inherit(v, &cfg->inherit))
		complain(diag, "ACCEPT4SHIM_INHERIT", v, "linux, bsd", "linux");
	if ((v = value_of(lookup, ctx, "ACCEPT4SHIM_RETRY")) &&
	    !a4s_parse_retry(v, &cfg->retry))
		complain(diag, "ACCEPT4SHIM_RETRY", v, "off, on", "off");
	if ((v = value_of(lookup, ctx, "ACCEPT4SHIM_ADD_FLAGS")) &&
	    !a4s_parse_add_flags(v, &cfg->add_flags))
		complain(diag, "ACCEPT4SHIM_ADD_FLAGS", v,
			 "SOCK_CLOEXEC, SOCK_NONBLOCK, both joined by | or ',', or empty",
			 "no added flags");
	if ((v = value_of(lookup, ctx, "ACCEPT4SHIM_LOG")) &&
	    !a4s_parse_log(v, &cfg->log_kind, &cfg->log_path))
		complain(diag, "ACCEPT4SHIM_LOG", v,
			 A4S_LOG_ACCEPTED, "no trace");
	if ((v = value_of(lookup, ctx, "ACCEPT4SHIM_LOG_FORMAT")) &&
	    !a4s_parse_log_format(v, &cfg->log_format))
		complain(diag, "ACCEPT4SHIM_LOG_FORMAT", v, "text, json", "text");
	if ((v = value_of(lookup, ctx, "ACCEPT4SHIM_LOG_SKIP")) &&
	    !a4s_parse_log_skip(v, cfg->log_skip))
		complain(diag, "ACCEPT4SHIM_LOG_SKIP", v,
			 "errno names such as EAGAIN joined by ',', or empty", "an empty list");
	if ((v = value_of(lookup, ctx, "ACCEPT4SHIM_STATS")) &&
	    !a4s_parse_stats(v, &cfg->stats))
		complain(diag, "ACCEPT4SHIM_STATS", v, "0, 1", "0");
	if ((v = value_of(lookup, ctx, "ACCEPT4SHIM_STATS_INTERVAL")) &&
	    !a4s_parse_stats_interval(v, &cfg->stats_interval_ns))
		complain(diag, "ACCEPT4SHIM_STATS_INTERVAL", v,
			 "whole seconds, 0 up to 4294967295", "0 (no interval summary)");
	if (!cfg->stats)
		cfg->stats_interval_ns = 0; /* the interval summaries come with STATS=1 */
}
