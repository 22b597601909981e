/*
 * The record formatter, the one piece of the trace that runs for every
 * call, written for speed (docs/performance.md has the figures): one
 * bounds check per record against the longest record there can be
 * (A4S_RECORD_WORST), then every piece written unchecked; keys and
 * punctuation as runs of literal bytes whose length the compiler knows;
 * numbers two digits at a time (digits.h); what repeats from record to
 * record on a thread kept as text in per-thread memos (memo.h) and copied:
 * the timestamp's minute (timecache.c), the pid and tid, the listener's
 * IPv4 address. Each format is its own copy of write_record, in which
 * every `json ? a : b` is decided at compile time.
 */
#include "record.h"

#include <string.h>

#include "errnames.h"
#include "memo.h"
#include "timecache.h"

#define INLINE static inline __attribute__((always_inline))

INLINE char *lit(char *p, const char *s)
{
	size_t n = __builtin_strlen(s);
	__builtin_memcpy(p, s, n);
	return p + n;
}

/* "pid" ... "tid", keyed by both, one memo per format. */
A4S_THREAD_MEMO ids_memo[2];
/* The last IPv4 address shown as a listener's, keyed by its family, port
 * and address (the first 8 bytes of a sockaddr_in). */
A4S_THREAD_MEMO local_memo;

_Static_assert(A4S_MEMO_TEXT <= A4S_RECORD_IDS_MAX, "the ids' memo is copied whole");
_Static_assert(A4S_MEMO_TEXT <= A4S_SOCKADDR_MAX, "an address's memo is copied whole");
_Static_assert(2 * A4S_I32_MAX_CHARS + sizeof(",\"tid\":") - 1 <= A4S_MEMO_TEXT,
	       "the ids must fit a memo");
_Static_assert(sizeof("255.255.255.255:65535") - 1 <= A4S_MEMO_TEXT, "an IPv4 address must fit");

INLINE char *write_ids(char *p, const struct a4s_record *r, bool json)
{
	struct a4s_memo *m = &ids_memo[json];
	uint64_t key = (uint64_t)(uint32_t)r->pid << 32 | (uint32_t)r->tid;
	char *end = a4s_memo_get(m, key, p);
	if (end)
		return end;
	end = a4s_write_i32(p, r->pid);
	end = lit(end, json ? ",\"tid\":" : " tid=");
	end = a4s_write_i32(end, r->tid);
	a4s_memo_put(m, key, p, (size_t)(end - p));
	return end;
}

/* The listener's IPv4 address from the thread's memo when it is the last
 * one shown; any other address made anew. */
INLINE char *write_listener(char *p, const struct sockaddr *sa, socklen_t len, bool json)
{
	if (len < sizeof(struct sockaddr_in) || sa->sa_family != AF_INET)
		return a4s_write_sockaddr(p, sa, len, json);
	uint64_t key;
	__builtin_memcpy(&key, sa, sizeof(key));
	char *end = a4s_memo_get(&local_memo, key, p);
	if (end)
		return end;
	end = a4s_write_sockaddr(p, sa, len, json);
	a4s_memo_put(&local_memo, key, p, (size_t)(end - p));
	return end;
}

/* An address quoted in JSON, or null ("-" in text). */
INLINE char *write_addr(char *p, const struct sockaddr *sa, socklen_t len, bool json,
			bool listener)
{
	if (!sa)
		return lit(p, json ? "null" : "-");
	if (json)
		*p++ = '"';
	p = listener ? write_listener(p, sa, len, json) : a4s_write_sockaddr(p, sa, len, json);
	if (json)
		*p++ = '"';
	return p;
}

INLINE char *write_errno(char *p, int err, bool json)
{
	if (!err)
		return lit(p, json ? "null" : "-");
	if (json)
		*p++ = '"';
	const char *name = a4s_errno_name(err);
	if (name) {
		while (*name)
			*p++ = *name++;
	} else {
		p = a4s_write_i32(p, err); /* unknown to us: the number */
	}
	if (json)
		*p++ = '"';
	return p;
}

INLINE char *write_record(char *p, const struct a4s_record *r, bool json)
{
	p = lit(p, json ? "{\"ts\":\"" : "accept4shim: ts=");
	p = a4s_write_rfc3339_cached(p, &r->ts);
	p = lit(p, json ? "\",\"pid\":" : " pid=");
	p = write_ids(p, r, json);
	if (r->is_accept4)
		p = lit(p, json ? ",\"call\":\"accept4\",\"listen_fd\":" : " call=accept4 listen_fd=");
	else
		p = lit(p, json ? ",\"call\":\"accept\",\"listen_fd\":" : " call=accept listen_fd=");
	p = a4s_write_i32(p, r->listen_fd);
	p = lit(p, json ? ",\"local\":" : " local=");
	p = write_addr(p, r->local, r->local_len, json, true);
	p = lit(p, json ? ",\"flags\":\"" : " flags=");
	p = a4s_write_flags(p, r->flags);
	p = lit(p, json ? "\",\"fd\":" : " fd=");
	p = a4s_write_i32(p, r->fd);
	p = lit(p, json ? ",\"errno\":" : " errno=");
	p = write_errno(p, r->err, json);
	p = lit(p, json ? ",\"peer\":" : " peer=");
	/* A failed call has no peer, whatever was handed in. */
	p = write_addr(p, r->err ? NULL : r->peer, r->peer_len, json, false);
	if (r->emulated)
		p = lit(p, json ? ",\"how\":\"emulated\",\"retries\":" : " how=emulated retries=");
	else
		p = lit(p, json ? ",\"how\":\"native\",\"retries\":" : " how=native retries=");
	p = a4s_write_u32(p, r->retries);
	p = lit(p, json ? ",\"dur_ns\":" : " dur_ns=");
	p = a4s_write_u64(p, r->dur_ns);
	return lit(p, json ? "}\n" : "\n");
}

/* A buffer too small for the longest record: the record goes through one
 * that is large enough, and out only if it fits. Out of line, so that the
 * usual call does not carry this frame. */
static __attribute__((noinline)) size_t format_small(const struct a4s_record *r,
						     enum a4s_log_format fmt, char *buf,
						     size_t size)
{
	char line[A4S_RECORD_WORST];
	size_t n = a4s_format_record(r, fmt, line, sizeof(line));
	if (n > size)
		return 0;
	memcpy(buf, line, n);
	return n;
}

size_t a4s_format_record(const struct a4s_record *r, enum a4s_log_format fmt, char *buf,
			 size_t size)
{
	if (__builtin_expect(size < A4S_RECORD_WORST, 0))
		return format_small(r, fmt, buf, size);
	char *end = fmt == A4S_FORMAT_JSON ? write_record(buf, r, true)
					   : write_record(buf, r, false);
	return (size_t)(end - buf);
}
