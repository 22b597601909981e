#include "ident.h"

#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

/*
 * Asked with statx for what is needed alone, not fstat: reading a file's
 * change time marks it as seen, and on a file system with fine-grained
 * timestamps (ext4, xfs, btrfs, tmpfs since Linux 6.13) the next write must
 * then stamp the inode anew, so an fstat before every record made every
 * write dirty the trace file's inode (0.8 us more per record on ext4, see
 * scripts/bench). Size, owner and links do not touch the timestamps. Where
 * statx is missing or refused (old kernels, sandboxes) fstat answers.
 */
static atomic_bool statx_refused;

int a4s_identify(int fd, const char *path, unsigned want, struct a4s_ident *id)
{
	int at = path ? AT_SYMLINK_NOFOLLOW : AT_EMPTY_PATH;
	if (!atomic_load_explicit(&statx_refused, memory_order_relaxed)) {
		unsigned mask = A4S_STATX_TYPE | A4S_STATX_INO;
		if (want & A4S_ID_SIZE)
			mask |= A4S_STATX_SIZE;
		if (want & A4S_ID_OWNER)
			mask |= A4S_STATX_UID | A4S_STATX_NLINK;
		struct a4s_statx sx;
		int r = a4s_statx(fd, path ? path : "", at, mask, &sx);
		if (__builtin_expect(r == 0, 1)) {
			id->type = sx.stx_mode & S_IFMT;
			id->dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
			id->ino = sx.stx_ino;
			id->size = sx.stx_size;
			if (want & A4S_ID_OWNER) {
				id->uid = sx.stx_uid;
				id->nlink = sx.stx_nlink;
			}
			return 0;
		}
		/* A real answer (closed, missing, not allowed) is the same
		 * whoever asks; anything else may be statx itself refused. */
		if (r == -EBADF || r == -ENOENT || r == -ENOTDIR || r == -EACCES || r == -ELOOP ||
		    r == -ENAMETOOLONG)
			return r;
	}
	struct stat st;
	int r = (int)a4s_sysret(syscall(SYS_newfstatat, fd, path ? path : "", &st, at));
	if (r < 0)
		return r;
	/* fstat answers where statx did not: statx is not to be had here. */
	atomic_store_explicit(&statx_refused, true, memory_order_relaxed);
	id->type = st.st_mode & S_IFMT;
	id->dev = (unsigned long long)st.st_dev;
	id->ino = (unsigned long long)st.st_ino;
	id->size = (unsigned long long)st.st_size;
	id->uid = st.st_uid;
	id->nlink = (unsigned)st.st_nlink;
	return 0;
}

int a4s_identify_fd(int fd, struct a4s_ident *id)
{
	if (__builtin_expect(!atomic_load_explicit(&statx_refused, memory_order_relaxed), 1)) {
		struct a4s_statx sx;
		if (a4s_statx(fd, "", AT_EMPTY_PATH, A4S_STATX_TYPE | A4S_STATX_INO | A4S_STATX_SIZE,
			      &sx) == 0) {
			id->type = sx.stx_mode & S_IFMT;
			id->dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
			id->ino = sx.stx_ino;
			id->size = sx.stx_size;
			return 0;
		}
	}
	return a4s_identify(fd, NULL, A4S_ID_SIZE, id);
}
