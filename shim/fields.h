/*
 * The fields of a trace line, shared by the record and the summaries: the
 * two formats share their field order and differ in punctuation.
 */
#ifndef A4S_FIELDS_H
#define A4S_FIELDS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "addrfmt.h"
#include "errnames.h"
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

FIELD begin(struct style *s, const struct timespec *ts)
{
	a4s_put(s->b, s->json ? "{" : "accept4shim: ");
	key(s, "ts");
	if (s->json)
		a4s_put_char(s->b, '"');
	a4s_put_rfc3339(s->b, ts);
	if (s->json)
		a4s_put_char(s->b, '"');
}

static inline size_t end(struct style *s)
{
	a4s_put(s->b, s->json ? "}\n" : "\n");
	return s->b->full ? 0 : s->b->len;
}

#endif
