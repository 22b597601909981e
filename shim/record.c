#include "record.h"

#include "addrfmt.h"
#include "errnames.h"
#include "flags.h"
#include "text.h"
#include "timefmt.h"

/* The two formats share their field order and differ in punctuation: JSON
 * quotes strings and writes null, text writes key=value and "-". */
struct style {
	bool json;
	struct a4s_buf *b;
	bool first;
};

/* Inline at every field, so that each key is a literal whose length the
 * compiler knows and whose copy needs no call. */
#define FIELD static inline __attribute__((always_inline)) void

FIELD key(struct style *s, const char *k)
{
	if (s->json) {
		a4s_put(s->b, s->first ? "\"" : ",\"");
		a4s_put(s->b, k);
		a4s_put(s->b, "\":");
	} else {
		a4s_put(s->b, s->first ? "" : " ");
		a4s_put(s->b, k);
		a4s_put_char(s->b, '=');
	}
	s->first = false;
}

FIELD field_i64(struct style *s, const char *k, int64_t v)
{
	key(s, k);
	a4s_put_i64(s->b, v);
}

FIELD field_u64(struct style *s, const char *k, uint64_t v)
{
	key(s, k);
	a4s_put_u64(s->b, v);
}

/* A string known to need no escaping (names, numbers, timestamps). */
FIELD field_plain(struct style *s, const char *k, const char *v)
{
	key(s, k);
	if (s->json)
		a4s_put_char(s->b, '"');
	a4s_put(s->b, v);
	if (s->json)
		a4s_put_char(s->b, '"');
}

FIELD field_null(struct style *s, const char *k)
{
	key(s, k);
	a4s_put(s->b, s->json ? "null" : "-");
}

FIELD field_addr(struct style *s, const char *k, const struct sockaddr *sa,
		 socklen_t len)
{
	if (!sa) {
		field_null(s, k);
		return;
	}
	key(s, k);
	if (s->json)
		a4s_put_char(s->b, '"');
	a4s_put_sockaddr(s->b, sa, len, s->json);
	if (s->json)
		a4s_put_char(s->b, '"');
}

FIELD field_errno(struct style *s, const char *k, int err)
{
	if (!err) {
		field_null(s, k);
		return;
	}
	key(s, k);
	if (s->json)
		a4s_put_char(s->b, '"');
	const char *name = a4s_errno_name(err);
	if (name)
		a4s_put(s->b, name);
	else
		a4s_put_i64(s->b, err); /* unknown to us: the number */
	if (s->json)
		a4s_put_char(s->b, '"');
}

static void begin(struct style *s, const struct timespec *ts)
{
	a4s_put(s->b, s->json ? "{" : "accept4shim: ");
	key(s, "ts");
	if (s->json)
		a4s_put_char(s->b, '"');
	a4s_put_rfc3339(s->b, ts);
	if (s->json)
		a4s_put_char(s->b, '"');
}

static size_t end(struct style *s)
{
	a4s_put(s->b, s->json ? "}\n" : "\n");
	return s->b->full ? 0 : s->b->len;
}

size_t a4s_format_record(const struct a4s_record *r, enum a4s_log_format fmt,
			 char *buf, size_t size)
{
	struct a4s_buf b = { buf, size, 0, false };
	struct style s = { fmt == A4S_FORMAT_JSON, &b, true };

	begin(&s, &r->ts);
	field_i64(&s, "pid", r->pid);
	field_i64(&s, "tid", r->tid);
	field_plain(&s, "call", r->is_accept4 ? "accept4" : "accept");
	field_i64(&s, "listen_fd", r->listen_fd);
	field_addr(&s, "local", r->local, r->local_len);
	key(&s, "flags");
	if (s.json)
		a4s_put_char(&b, '"');
	a4s_put_flags(&b, r->flags);
	if (s.json)
		a4s_put_char(&b, '"');
	field_i64(&s, "fd", r->fd);
	field_errno(&s, "errno", r->err);
	field_addr(&s, "peer", r->err ? NULL : r->peer, r->peer_len);
	field_plain(&s, "how", r->emulated ? "emulated" : "native");
	field_u64(&s, "retries", r->retries);
	field_u64(&s, "dur_ns", r->dur_ns);
	return end(&s);
}

size_t a4s_format_summary(const struct a4s_summary *sum, enum a4s_log_format fmt,
			  char *buf, size_t size)
{
	struct a4s_buf b = { buf, size, 0, false };
	struct style s = { fmt == A4S_FORMAT_JSON, &b, true };

	begin(&s, &sum->ts);
	field_i64(&s, "pid", sum->pid);
	field_plain(&s, "summary", "exit");
	field_u64(&s, "calls", sum->calls);
	field_u64(&s, "accepted", sum->accepted);
	field_u64(&s, "failed", sum->failed);
	field_u64(&s, "emulated", sum->emulated);
	field_u64(&s, "retried_calls", sum->retried_calls);
	field_u64(&s, "retries", sum->retries);
	field_u64(&s, "dropped", sum->dropped);
	/* errors: {"EAGAIN":3,...} in JSON, errors=EAGAIN:3,EINTR:1 in text */
	key(&s, "errors");
	a4s_put(&b, s.json ? "{" : "");
	bool any = false;
	for (int e = 0; e < sum->nerrors; e++) {
		if (!sum->errors[e])
			continue;
		if (any)
			a4s_put_char(&b, ',');
		any = true;
		const char *name = e ? a4s_errno_name(e) : NULL;
		if (s.json)
			a4s_put_char(&b, '"');
		if (name)
			a4s_put(&b, name);
		else if (e)
			a4s_put_i64(&b, e);
		else
			a4s_put(&b, "other");
		if (s.json)
			a4s_put_char(&b, '"');
		a4s_put_char(&b, ':');
		a4s_put_u64(&b, sum->errors[e]);
	}
	if (s.json)
		a4s_put_char(&b, '}');
	else if (!any)
		a4s_put_char(&b, '-');
	return end(&s);
}
