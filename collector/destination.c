#include "destination.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "kernel.h"

#define FILE_FLAGS (O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)

/* No symbolic link in any component: openat2's RESOLVE_NO_SYMLINKS where
 * the kernel has it (5.6), else O_NOFOLLOW on the last one. */
static int open_no_symlinks(const char *path)
{
	struct a4s_open_how how = { .flags = FILE_FLAGS | O_NOFOLLOW, .mode = 0600,
				    .resolve = A4S_RESOLVE_NO_SYMLINKS };
	int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
	if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
		return fd;
	return open(path, FILE_FLAGS | O_NOFOLLOW, 0600);
}

static int open_file(struct a4s_cdest *d, const char *path, const char **why)
{
	int fd = open_no_symlinks(path);
	if (fd < 0)
		return errno == ELOOP ? (*why = "a symbolic link is in the path", -ELOOP) : -errno;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	const char *bad = NULL;
	if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode))
		bad = "not a regular file, FIFO or character device";
	else if (st.st_uid != geteuid())
		bad = "owned by another user";
	else if (S_ISREG(st.st_mode) && st.st_nlink != 1)
		bad = "a file with more than one link";
	if (bad) {
		close(fd);
		*why = bad;
		return -EPERM;
	}
	d->fd = fd;
	d->regular = S_ISREG(st.st_mode);
	d->how = S_ISFIFO(st.st_mode) ? A4S_CDEST_PIPE : A4S_CDEST_STREAM;
	d->dev = st.st_dev;
	d->ino = st.st_ino;
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
		   const char **why)
{
	memset(d, 0, sizeof(*d));
	d->fd = -1;
	*why = NULL;
	switch (kind) {
	case A4S_OUT_FILE:
		return open_file(d, path, why);
	case A4S_OUT_STDERR:
		return open_stderr(d);
	case A4S_OUT_SYSLOG:
		return open_syslog(d);
	default:
		return -EINVAL;
	}
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
	if (!d->regular)
		return false;
	struct stat st;
	if (lstat(path, &st) < 0)
		return true;
	return st.st_dev != d->dev || st.st_ino != d->ino;
}
