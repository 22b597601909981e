#include "ringrec.h"

#include <string.h>

static uint8_t put_addr(unsigned char *to, const struct sockaddr *sa, socklen_t len)
{
	size_t n = len < A4S_RING_ADDR_MAX ? len : A4S_RING_ADDR_MAX;
	memcpy(to, sa, n);
	return (uint8_t)n;
}

void a4s_ringrec_from_record(const struct a4s_record *r, struct a4s_ring_record *out)
{
	memset(out, 0, offsetof(struct a4s_ring_record, local));
	out->ts_sec = (int64_t)r->ts.tv_sec;
	out->ts_nsec = (uint32_t)r->ts.tv_nsec;
	out->pid = r->pid;
	out->tid = r->tid;
	out->listen_fd = r->listen_fd;
	out->flags = r->flags;
	out->fd = r->fd;
	out->err = r->err;
	out->retries = r->retries;
	out->dur_ns = r->dur_ns;
	out->call = r->is_accept4 ? A4S_RING_ACCEPT4 : A4S_RING_ACCEPT;
	out->how = r->emulated ? A4S_RING_EMULATED : A4S_RING_NATIVE;
	if (r->local) {
		out->has |= A4S_RING_HAS_LOCAL;
		out->local_len = put_addr(out->local, r->local, r->local_len);
	}
	if (r->peer) {
		out->has |= A4S_RING_HAS_PEER;
		out->peer_len = put_addr(out->peer, r->peer, r->peer_len);
	}
}

void a4s_ringrec_to_record(const struct a4s_ring_record *in, struct a4s_record *out)
{
	memset(out, 0, sizeof(*out));
	out->ts.tv_sec = (time_t)in->ts_sec;
	out->ts.tv_nsec = (long)in->ts_nsec;
	out->pid = in->pid;
	out->tid = in->tid;
	out->is_accept4 = in->call == A4S_RING_ACCEPT4;
	out->listen_fd = in->listen_fd;
	out->flags = in->flags;
	out->fd = in->fd;
	out->err = in->err;
	out->emulated = in->how == A4S_RING_EMULATED;
	out->retries = in->retries;
	out->dur_ns = in->dur_ns;
	if (in->has & A4S_RING_HAS_LOCAL) {
		out->local = (const struct sockaddr *)(const void *)in->local;
		out->local_len = in->local_len;
	}
	if (in->has & A4S_RING_HAS_PEER) {
		out->peer = (const struct sockaddr *)(const void *)in->peer;
		out->peer_len = in->peer_len;
	}
}

bool a4s_ringrec_valid(const struct a4s_ring_record *in)
{
	return in->ts_nsec < 1000000000u && in->call <= A4S_RING_ACCEPT4 &&
	       in->how <= A4S_RING_EMULATED &&
	       (in->has & ~(A4S_RING_HAS_LOCAL | A4S_RING_HAS_PEER)) == 0 &&
	       in->local_len <= A4S_RING_ADDR_MAX && in->peer_len <= A4S_RING_ADDR_MAX &&
	       in->err >= 0 && (in->err == 0) == (in->fd >= 0);
}
