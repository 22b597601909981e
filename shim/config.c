#include "config.h"

#include <string.h>
#include <sys/socket.h>

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

/* "SOCK_CLOEXEC|SOCK_NONBLOCK", "SOCK_NONBLOCK, SOCK_CLOEXEC", "": names
 * joined by '|' or ',', blanks around a name allowed (people quote this in
 * shell scripts), an empty name between separators not. */
bool a4s_parse_add_flags(const char *s, int *out)
{
	static const struct choice t[] = {
		{ "SOCK_CLOEXEC", SOCK_CLOEXEC },
		{ "SOCK_NONBLOCK", SOCK_NONBLOCK },
	};
	int flags = 0;
	const char *p = s;

	while (is_blank(*p))
		p++;
	if (*p == '\0') {
		*out = 0;
		return true;
	}
	for (;;) {
		while (is_blank(*p))
			p++;
		const char *start = p;
		while (*p && *p != '|' && *p != ',' && !is_blank(*p))
			p++;
		size_t n = (size_t)(p - start);
		bool found = false;
		for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
			if (strlen(t[i].name) == n && memcmp(start, t[i].name, n) == 0) {
				flags |= t[i].value;
				found = true;
			}
		}
		if (!found)
			return false;
		while (is_blank(*p))
			p++;
		if (*p == '\0')
			break;
		if (*p != '|' && *p != ',')
			return false;
		p++;
	}
	*out = flags;
	return true;
}

/* "stderr", "syslog", or an absolute path. A relative path is refused: it
 * would name a different file in every working directory the program
 * visits. The path must leave room for %p to grow into a pid. */
bool a4s_parse_log(const char *s, enum a4s_log_kind *kind, const char **path)
{
	if (*s == '\0') {
		*kind = A4S_LOG_NONE;
		return true;
	}
	if (strcmp(s, "stderr") == 0) {
		*kind = A4S_LOG_STDERR;
		return true;
	}
	if (strcmp(s, "syslog") == 0) {
		*kind = A4S_LOG_SYSLOG;
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
			 "empty, stderr, syslog, or an absolute file path", "no trace");
	if ((v = value_of(lookup, ctx, "ACCEPT4SHIM_LOG_FORMAT")) &&
	    !a4s_parse_log_format(v, &cfg->log_format))
		complain(diag, "ACCEPT4SHIM_LOG_FORMAT", v, "text, json", "text");
	if ((v = value_of(lookup, ctx, "ACCEPT4SHIM_STATS")) &&
	    !a4s_parse_stats(v, &cfg->stats))
		complain(diag, "ACCEPT4SHIM_STATS", v, "0, 1", "0");
}
