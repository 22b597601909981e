#include "listener.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

/* renameat2's RENAME_NOREPLACE (include/uapi/linux/fs.h): called raw, as
 * musl has no wrapper for it. */
#define NOREPLACE 1u

/* The path by which bind and connect reach name in the directory we
 * checked, whatever the directory's path names by then. */
static void via_dir(const struct a4s_listener *l, const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	int n = snprintf(sun->sun_path, sizeof(sun->sun_path), "/proc/self/fd/%d/%s", l->dirfd,
			 l->name);
	struct stat st;
	if (n < 0 || (size_t)n >= sizeof(sun->sun_path) || stat("/proc/self/fd", &st) < 0)
		snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", path);
}

/* "subject: reason" for the operator; -1. */
static int fail(char *why, size_t size, const char *subject, const char *reason)
{
	snprintf(why, size, "%s: %s", subject, reason);
	return -1;
}

int a4s_listener_open(struct a4s_listener *l, const char *path, char *why, size_t size)
{
	memset(l, 0, sizeof(*l));
	l->fd = l->dirfd = -1;
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    strlen(name) >= sizeof(l->name))
		return fail(why, size, path, "not a socket path");
	strcpy(l->name, name);
	char dir[108];
	if (!slash)
		strcpy(dir, ".");
	else if (slash == path)
		strcpy(dir, "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);

	l->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (l->dirfd < 0)
		return fail(why, size, dir, strerror(errno));
	/* Private: ours or root's, and nobody else may add, rename or remove
	 * a name in it (no sticky /tmp either: another user could put a
	 * socket of their own at the name before us). */
	struct stat st;
	if (fstat(l->dirfd, &st) < 0)
		return fail(why, size, dir, strerror(errno));
	if (st.st_uid != geteuid() && st.st_uid != 0)
		return fail(why, size, dir, "the directory belongs to another user");
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return fail(why, size, dir,
			    "others may write in the directory; use a private one (mode 0700 or 0755)");

	struct sockaddr_un sun;
	via_dir(l, path, &sun);
	if (fstatat(l->dirfd, l->name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return fail(why, size, path, "exists and is not a socket");
		/* A socket: another collector's, or a stale one of a
		 * collector that did not get to remove it. */
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int r = probe < 0 ? -1 : connect(probe, (struct sockaddr *)&sun, sizeof(sun));
		int err = errno;
		if (probe >= 0)
			close(probe);
		if (r == 0)
			return fail(why, size, path, "another collector listens there");
		if (err != ECONNREFUSED)
			return fail(why, size, path, strerror(err));
		if (unlinkat(l->dirfd, l->name, 0) < 0 && errno != ENOENT)
			return fail(why, size, path, strerror(errno));
	}

	l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (l->fd < 0)
		return fail(why, size, "socket", strerror(errno));
	/* Bound and listening under a name of its own first, then renamed
	 * into place: a host that finds the path finds a collector ready to
	 * take it, never one that is not listening yet. */
	char final[sizeof(l->name)];
	strcpy(final, l->name);
	snprintf(l->name, sizeof(l->name), ".%.80s.%d", final, (int)getpid());
	via_dir(l, path, &sun);
	unlinkat(l->dirfd, l->name, 0);
	/* Created with no access for others at all, then opened up as far as
	 * wanted: never a moment when it is more open than that. */
	mode_t old = umask(0177);
	int r = bind(l->fd, (struct sockaddr *)&sun, sizeof(sun));
	int err = errno;
	umask(old);
	if (r < 0) {
		l->name[0] = '\0';
		return fail(why, size, path, strerror(err));
	}
	if (fstatat(l->dirfd, l->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return fail(why, size, path, strerror(errno));
	l->dev = st.st_dev; /* from here on, a4s_listener_close removes it */
	l->ino = st.st_ino;
	if (fchmodat(l->dirfd, l->name, geteuid() == 0 ? 0666 : 0600, 0) < 0 ||
	    listen(l->fd, SOMAXCONN) < 0)
		return fail(why, size, path, strerror(errno));
	/* Never over anything that appeared at the name meanwhile. */
	if (syscall(SYS_renameat2, l->dirfd, l->name, l->dirfd, final, NOREPLACE) < 0)
		return fail(why, size, path, strerror(errno));
	strcpy(l->name, final);
	return 0;
}

void a4s_listener_close(struct a4s_listener *l)
{
	struct stat st;
	if (l->dirfd >= 0 && l->ino &&
	    fstatat(l->dirfd, l->name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_dev == l->dev &&
	    st.st_ino == l->ino)
		unlinkat(l->dirfd, l->name, 0);
	if (l->fd >= 0)
		close(l->fd);
	if (l->dirfd >= 0)
		close(l->dirfd);
	l->fd = l->dirfd = -1;
}
