#include "destination.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "ident.h"
#include "safeopen.h"

static int open_file(struct a4s_cdest *d, const char *path, struct a4s_cause *why)
{
	struct a4s_ident id;
	int fd = a4s_safe_open(path, &id, why);
	if (fd < 0)
		return fd;
	d->fd = fd;
	d->regular = id.type == S_IFREG;
	d->how = id.type == S_IFIFO ? A4S_CDEST_PIPE : A4S_CDEST_STREAM;
	d->dev = id.dev;
	d->ino = id.ino;
	return 0;
}

/* A pipe or terminal is opened anew through /proc, a file description of
 * our own that can be non-blocking without changing the one we were given. */
static int open_stderr(struct a4s_cdest *d)
{
	struct stat st;
	if (fstat(2, &st) < 0)
		return -EBADF;
	int fd = -1;
	if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode))
		fd = open("/proc/self/fd/2", O_WRONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return -errno;
	d->fd = fd;
	d->how = S_ISFIFO(st.st_mode) ? A4S_CDEST_PIPE : A4S_CDEST_STREAM;
	/* systemd's journal stream, say: a description we share, which we
	 * may not make non-blocking; each send is, instead. */
	d->socket = S_ISSOCK(st.st_mode);
	return 0;
}

static int open_syslog(struct a4s_cdest *d)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	struct sockaddr_un sun = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	d->fd = fd;
	d->how = A4S_CDEST_DATAGRAM;
	return 0;
}

int a4s_cdest_open(struct a4s_cdest *d, enum a4s_out_kind kind, const char *path,
		   struct a4s_cause *why)
{
	memset(d, 0, sizeof(*d));
	d->fd = -1;
	if (kind == A4S_OUT_FILE)
		return open_file(d, path, why);
	int r = kind == A4S_OUT_STDERR ? open_stderr(d) : kind == A4S_OUT_SYSLOG ? open_syslog(d)
										   : -EINVAL;
	*why = (struct a4s_cause){ A4S_CAUSE_OPEN, -r, 0 };
	return r;
}

void a4s_cdest_close(struct a4s_cdest *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

long a4s_cdest_write(const struct a4s_cdest *d, const void *buf, size_t len)
{
	long r;
	if (d->how == A4S_CDEST_DATAGRAM || d->socket)
		r = send(d->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	else
		r = write(d->fd, buf, len);
	return r < 0 ? -errno : r;
}

bool a4s_cdest_moved(const struct a4s_cdest *d, const char *path)
{
	struct a4s_ident now;
	return d->regular &&
	       (a4s_identify(AT_FDCWD, path, 0, &now) < 0 || !a4s_same_file(&now, d->dev, d->ino));
}
