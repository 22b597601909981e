#include "summaryfmt.h"

#include "fields.h"

/* The keys of the counts, in order; an interval summary writes them twice,
 * the second time prefixed. */
enum { CALLS, ACCEPTED, FAILED, EMULATED, RETRIED_CALLS, RETRIES, DROPPED, ERRORS, NKEYS };
static const char *const plain_keys[NKEYS] = {
	"calls", "accepted", "failed", "emulated", "retried_calls", "retries", "dropped", "errors",
};
static const char *const total_keys[NKEYS] = {
	"total_calls", "total_accepted", "total_failed", "total_emulated",
	"total_retried_calls", "total_retries", "total_dropped", "total_errors",
};

static void put_counts(struct style *s, const struct a4s_summary *c,
		       const char *const keys[NKEYS])
{
	struct a4s_buf *b = s->b;

	field_u64(s, keys[CALLS], c->calls);
	field_u64(s, keys[ACCEPTED], c->accepted);
	field_u64(s, keys[FAILED], c->failed);
	field_u64(s, keys[EMULATED], c->emulated);
	field_u64(s, keys[RETRIED_CALLS], c->retried_calls);
	field_u64(s, keys[RETRIES], c->retries);
	field_u64(s, keys[DROPPED], c->dropped);
	/* errors: {"EAGAIN":3,...} in JSON, errors=EAGAIN:3,EINTR:1 in text */
	key(s, keys[ERRORS]);
	a4s_put(b, s->json ? "{" : "");
	bool any = false;
	for (int e = 0; e < c->nerrors; e++) {
		if (!c->errors[e])
			continue;
		if (any)
			a4s_put_char(b, ',');
		any = true;
		const char *name = e ? a4s_errno_name(e) : NULL;
		if (s->json)
			a4s_put_char(b, '"');
		if (name)
			a4s_put(b, name);
		else if (e)
			a4s_put_i64(b, e);
		else
			a4s_put(b, "other");
		if (s->json)
			a4s_put_char(b, '"');
		a4s_put_char(b, ':');
		a4s_put_u64(b, c->errors[e]);
	}
	if (s->json)
		a4s_put_char(b, '}');
	else if (!any)
		a4s_put_char(b, '-');
}

size_t a4s_format_summary(const struct a4s_summary *sum, enum a4s_log_format fmt,
			  char *buf, size_t size)
{
	struct a4s_buf b = { buf, size, 0, false };
	struct style s = { fmt == A4S_FORMAT_JSON, &b, true };

	begin(&s, &sum->ts);
	field_i64(&s, "pid", sum->pid);
	if (!sum->totals) {
		field_plain(&s, "summary", "exit");
		put_counts(&s, sum, plain_keys);
		return end(&s);
	}
	field_plain(&s, "summary", "interval");
	field_u64(&s, "interval_ns", sum->interval_ns);
	put_counts(&s, sum, plain_keys);
	put_counts(&s, sum->totals, total_keys);
	return end(&s);
}
