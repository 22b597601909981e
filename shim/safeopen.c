#include "safeopen.h"

#include <limits.h>
#include <stdatomic.h>
#include <sys/stat.h>

/* ENOSYS from openat2 (Linux before 5.6, or a sandbox that answers so):
 * the walk below from then on, without asking again. */
static atomic_bool no_openat2;

/*
 * The path component by component from "/", each directory opened with
 * O_NOFOLLOW | O_DIRECTORY relative to the one before, the file itself with
 * O_NOFOLLOW: what openat2's RESOLVE_NO_SYMLINKS does in one call, for
 * kernels and sandboxes without it. Two descriptors at most at any time.
 */
static int walk_open(const char *path, int flags, int mode)
{
	int dir = a4s_openat(AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
	if (dir < 0)
		return dir;
	const char *p = path;
	for (;;) {
		while (*p == '/')
			p++;
		const char *end = p;
		while (*end && *end != '/')
			end++;
		size_t n = (size_t)(end - p);
		char name[NAME_MAX + 1];
		if (n > NAME_MAX) {
			a4s_close(dir);
			return -ENAMETOOLONG;
		}
		__builtin_memcpy(name, p, n);
		name[n] = '\0';
		const char *rest = end;
		while (*rest == '/')
			rest++;
		if (*rest == '\0') {
			/* The last component: "" when the path ends in '/'. */
			int fd = n ? a4s_openat(dir, name, flags | O_NOFOLLOW, mode) : -EISDIR;
			if (n && *end == '/' && fd >= 0) {
				a4s_close(fd); /* "file/" names a directory */
				fd = -ENOTDIR;
			}
			a4s_close(dir);
			return fd;
		}
		int next = a4s_openat(dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
		if (next == -ENOTDIR) {
			/* O_PATH | O_NOFOLLOW meets a link as "not a directory";
			 * say which it was. */
			struct a4s_ident at;
			if (a4s_identify(dir, name, 0, &at) == 0 && at.type == S_IFLNK)
				next = -ELOOP;
		}
		a4s_close(dir);
		if (next < 0)
			return next;
		dir = next;
		p = end;
	}
}

static int open_nofollow(const char *path, int flags, int mode)
{
	if (!atomic_load_explicit(&no_openat2, memory_order_relaxed)) {
		/* No link anywhere, magic links of /proc included. */
		struct a4s_open_how how = { (unsigned long long)flags, (unsigned long long)mode,
					    A4S_RESOLVE_NO_SYMLINKS };
		int fd = a4s_openat2(AT_FDCWD, path, &how);
		if (fd != -ENOSYS && fd != -EPERM && fd != -E2BIG)
			return fd;
		if (fd == -ENOSYS || fd == -E2BIG)
			atomic_store_explicit(&no_openat2, true, memory_order_relaxed);
		/* EPERM may be a sandbox refusing openat2, or the file's own
		 * answer: the walk asks again and tells. */
	}
	return walk_open(path, flags, mode);
}

/* The checks on a file that was already there (and, harmlessly, on one we
 * just made). Done on the open descriptor, so nothing can be swapped in
 * between the check and the use. */
static bool acceptable(const struct a4s_ident *id, struct a4s_cause *why)
{
	if (id->type != S_IFREG && id->type != S_IFIFO && id->type != S_IFCHR) {
		*why = (struct a4s_cause){ A4S_CAUSE_TYPE, 0, id->type };
		return false;
	}
	if (id->uid != (unsigned)a4s_geteuid()) {
		*why = (struct a4s_cause){ A4S_CAUSE_OWNER, 0, id->uid };
		return false;
	}
	if (id->nlink != 1) {
		*why = (struct a4s_cause){ A4S_CAUSE_LINKS, 0, id->nlink };
		return false;
	}
	return true;
}

int a4s_safe_open(const char *path, struct a4s_ident *id, struct a4s_cause *why)
{
	/* O_NONBLOCK: a FIFO without a reader fails at once, and one with a
	 * slow reader drops records instead of stalling accept. */
	const int flags = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
	/*
	 * An existing file is opened without O_CREAT, and a new one with
	 * O_CREAT | O_EXCL: so the checks below see every existing file
	 * whatever fs.protected_regular says, and a file that appears in
	 * between is opened as existing (and checked).
	 */
	int fd = open_nofollow(path, flags, 0);
	if (fd == -ENOENT)
		fd = open_nofollow(path, flags | O_CREAT | O_EXCL, 0600);
	if (fd == -EEXIST)
		fd = open_nofollow(path, flags, 0);
	if (fd < 0) {
		*why = (struct a4s_cause){ A4S_CAUSE_OPEN, -fd, 0 };
		return fd;
	}
	int r = a4s_identify(fd, NULL, A4S_ID_SIZE | A4S_ID_OWNER, id);
	if (r < 0) {
		a4s_close(fd);
		*why = (struct a4s_cause){ A4S_CAUSE_OPEN, -r, 0 };
		return r;
	}
	if (!acceptable(id, why)) {
		a4s_close(fd);
		return -EPERM;
	}
	return fd;
}
