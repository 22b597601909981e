#include "journald.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "addrfmt.h"
#include "errnames.h"
#include "flags.h"
#include "ring.h"
#include "text.h"
#include "timefmt.h"

/* NAME=value\n, or the binary form when value holds a newline (ours never
 * do: addresses and the text record are escaped; kept for safety). */
static void field(struct a4s_buf *b, const char *name, const char *value, size_t n)
{
	a4s_put(b, name);
	if (!memchr(value, '\n', n)) {
		a4s_put_char(b, '=');
		a4s_put_bytes(b, value, n);
	} else {
		a4s_put_char(b, '\n');
		unsigned char le[8];
		for (int i = 0; i < 8; i++)
			le[i] = (unsigned char)((uint64_t)n >> (8 * i));
		a4s_put_bytes(b, le, sizeof(le));
		a4s_put_bytes(b, value, n);
	}
	a4s_put_char(b, '\n');
}

static void field_str(struct a4s_buf *b, const char *name, const char *value)
{
	field(b, name, value, strlen(value));
}

static void field_num(struct a4s_buf *b, const char *name, int64_t v)
{
	char tmp[24];
	struct a4s_buf t = A4S_BUF_INIT(tmp);
	a4s_put_i64(&t, v);
	field(b, name, tmp, t.len);
}

static void field_u64(struct a4s_buf *b, const char *name, uint64_t v)
{
	char tmp[24];
	struct a4s_buf t = A4S_BUF_INIT(tmp);
	a4s_put_u64(&t, v);
	field(b, name, tmp, t.len);
}

/* An address as the text record shows it (escaped: one line, any bytes). */
static void field_addr(struct a4s_buf *b, const char *name, const struct sockaddr *sa,
		       socklen_t len)
{
	char tmp[A4S_RING_ADDR_MAX * 4 + 16];
	struct a4s_buf t = A4S_BUF_INIT(tmp);
	a4s_put_sockaddr(&t, sa, len, false);
	field(b, name, tmp, t.len);
}

/* The fields every entry starts with: MESSAGE, the text line without the
 * tag journald has as SYSLOG_IDENTIFIER and without its newline; and who
 * it is about. */
static void start(struct a4s_buf *b, const char *line, size_t len, int host_pid, int pid)
{
	static const char tag[] = "accept4shim: ";
	if (len && line[len - 1] == '\n')
		len--;
	if (len >= sizeof(tag) - 1 && memcmp(line, tag, sizeof(tag) - 1) == 0) {
		line += sizeof(tag) - 1;
		len -= sizeof(tag) - 1;
	}
	field(b, "MESSAGE", line, len);
	field_str(b, "PRIORITY", "6");
	field_str(b, "SYSLOG_IDENTIFIER", "accept4shim");
	/* The process the entry is about: journald adds its trusted fields
	 * (OBJECT_COMM...) when the collector runs as root. */
	field_num(b, "OBJECT_PID", host_pid);
	field_num(b, "ACCEPT4SHIM_PID", pid);
}

size_t a4s_journald_record(const struct a4s_record *r, int host_pid, char *buf, size_t size)
{
	char line[A4S_RECORD_MAX];
	size_t n = a4s_format_record(r, A4S_FORMAT_TEXT, line, sizeof(line));
	if (!n)
		return 0;
	struct a4s_buf b = { buf, size, 0, false };
	start(&b, line, n, host_pid, r->pid);
	field_num(&b, "ACCEPT4SHIM_TID", r->tid);
	char ts[40];
	struct a4s_buf t = A4S_BUF_INIT(ts);
	a4s_put_rfc3339(&t, &r->ts);
	field(&b, "ACCEPT4SHIM_TS", ts, t.len);
	field_str(&b, "ACCEPT4SHIM_CALL", r->is_accept4 ? "accept4" : "accept");
	field_num(&b, "ACCEPT4SHIM_LISTEN_FD", r->listen_fd);
	if (r->local)
		field_addr(&b, "ACCEPT4SHIM_LOCAL", r->local, r->local_len);
	char flags[64];
	struct a4s_buf f = A4S_BUF_INIT(flags);
	a4s_put_flags(&f, r->flags);
	field(&b, "ACCEPT4SHIM_FLAGS", flags, f.len);
	field_num(&b, "ACCEPT4SHIM_FD", r->fd);
	if (r->err) {
		const char *name = a4s_errno_name(r->err);
		if (name)
			field_str(&b, "ACCEPT4SHIM_ERRNO", name);
		else
			field_num(&b, "ACCEPT4SHIM_ERRNO", r->err);
	} else if (r->peer) {
		field_addr(&b, "ACCEPT4SHIM_PEER", r->peer, r->peer_len);
	}
	field_str(&b, "ACCEPT4SHIM_HOW", r->emulated ? "emulated" : "native");
	field_u64(&b, "ACCEPT4SHIM_RETRIES", r->retries);
	field_u64(&b, "ACCEPT4SHIM_DUR_NS", r->dur_ns);
	return b.full ? 0 : b.len;
}

size_t a4s_journald_summary(const struct a4s_summary *s, const char *kind, int host_pid,
			    char *buf, size_t size)
{
	char line[A4S_SUMMARY_MAX];
	size_t n = a4s_format_summary(s, A4S_FORMAT_TEXT, line, sizeof(line));
	if (!n)
		return 0;
	struct a4s_buf b = { buf, size, 0, false };
	start(&b, line, n, host_pid, s->pid);
	field_str(&b, "ACCEPT4SHIM_SUMMARY", kind);
	field_u64(&b, "ACCEPT4SHIM_CALLS", s->calls);
	field_u64(&b, "ACCEPT4SHIM_DROPPED", s->dropped);
	return b.full ? 0 : b.len;
}

int a4s_journald_open(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	strncpy(sun.sun_path, path, sizeof(sun.sun_path) - 1);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* The protocol's way for a large entry: the entry in a memfd, sealed so
 * journald can read it without fear of it changing, sent with no payload. */
static long send_memfd(int fd, const char *entry, size_t len)
{
	int m = memfd_create("accept4shim-journal", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (m < 0)
		return -errno;
	long r = -EIO;
	if (write(m, entry, len) == (ssize_t)len &&
	    fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) == 0) {
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(int))];
		} ctl;
		memset(&ctl, 0, sizeof(ctl));
		struct msghdr msg = { .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &m, sizeof(int));
		r = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 ? -errno : (long)len;
	}
	close(m);
	return r;
}

long a4s_journald_send(int fd, const char *entry, size_t len, size_t max_datagram)
{
	if (len <= max_datagram) {
		ssize_t r = send(fd, entry, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r >= 0)
			return r == (ssize_t)len ? (long)len : -EIO;
		if (errno != EMSGSIZE && errno != ENOBUFS)
			return -errno;
	}
	return send_memfd(fd, entry, len);
}
