#include "record.h"

#include "fields.h"
#include "flags.h"

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
