#include "summaryfmt.h"

#include "fields.h"

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
