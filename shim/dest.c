#include "dest.h"

#include <limits.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "fdplace.h"
#include "safeopen.h"
#include "self.h"
#include "text.h"

/* fd 2 as the program was started with it, noted at load. */
static bool stderr_known;
static unsigned long long stderr_dev, stderr_ino;

bool a4s_expand_path(const char *pattern, int pid, char *out, size_t size)
{
	struct a4s_buf b = { out, size, 0, false };
	for (const char *p = pattern; *p; p++) {
		if (p[0] == '%' && p[1] == 'p') {
			a4s_put_i64(&b, pid);
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			a4s_put_char(&b, '%');
			p++;
		} else {
			a4s_put_char(&b, *p);
		}
	}
	a4s_put_char(&b, '\0');
	return !b.full;
}

/*
 * The trace file's path with %p expanded, once per process: at load and in
 * the child of a fork (one thread in both), not on the stack of each open.
 * The open may run in a signal handler on a small alternate stack
 * (SIGSTKSZ, 8 KiB, a good part of it the kernel's signal frame), where a
 * PATH_MAX buffer or two are more than is left.
 */
static char file_path[PATH_MAX];
static bool file_path_fits;

void a4s_dest_name_for_this_process(const struct a4s_config *cfg)
{
	file_path_fits = cfg->log_kind == A4S_LOG_FILE &&
			 a4s_expand_path(cfg->log_path, a4s_self_pid(), file_path,
					 sizeof(file_path));
}

const char *a4s_dest_name(const struct a4s_config *cfg)
{
	switch (cfg->log_kind) {
	case A4S_LOG_FILE:
		return file_path_fits ? file_path : NULL;
	case A4S_LOG_SYSLOG:
		return "syslog";
	case A4S_LOG_STDERR:
		return "stderr";
	default:
		return NULL;
	}
}

void a4s_dest_note_stderr(void)
{
	struct a4s_ident id;
	if (a4s_identify(2, NULL, 0, &id) == 0) {
		stderr_dev = id.dev;
		stderr_ino = id.ino;
		stderr_known = true;
	}
}

static bool is_stderr(const struct a4s_ident *id)
{
	return stderr_known && a4s_same_file(id, stderr_dev, stderr_ino);
}

int a4s_dest_check_stderr(void)
{
	struct a4s_ident id;
	return a4s_identify(2, NULL, 0, &id) == 0 && is_stderr(&id) ? 0 : -EBADF;
}

/* ---- a file ---- */

struct file_open {
	const char *path;
	struct a4s_ident id;
	struct a4s_cause why;
};

static int open_file_once(void *arg)
{
	struct file_open *f = arg;
	return a4s_safe_open(f->path, &f->id, &f->why);
}

static void open_file(struct a4s_dest *d, const struct a4s_config *cfg)
{
	struct file_open f = { a4s_dest_name(cfg), { 0 }, { A4S_CAUSE_NONE, 0, 0 } };
	d->owned = true;
	if (!f.path) {
		d->fd = -ENAMETOOLONG;
		d->why = (struct a4s_cause){ A4S_CAUSE_OPEN, ENAMETOOLONG, 0 };
		return;
	}
	d->fd = a4s_open_past_emfile(open_file_once, &f);
	d->id = f.id;
	d->why = f.why;
	d->kind = f.id.type == S_IFREG	  ? A4S_DEST_FILE
		  : f.id.type == S_IFIFO ? A4S_DEST_PIPE
					 : A4S_DEST_WRITE;
}

/* ---- the program's stderr ---- */

static int reopen_stderr(void *arg)
{
	(void)arg;
	return a4s_openat(AT_FDCWD, "/proc/self/fd/2",
			  O_WRONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0);
}

/*
 * The program's stderr as it is now, if it is still the one it was started
 * with. A regular file or a socket (systemd's journal stream) is written
 * through fd 2 itself: a write to a file does not block, a send can be
 * told not to, and no descriptor of ours holds it open (so a daemon's
 * `out=$(daemon)` returns when it detaches). So is a pipe (Docker's, a
 * `| tee`), each write asked not to block with RWF_NOWAIT, where the kernel
 * takes that flag on pipes. Elsewhere a pipe, and a terminal, are opened
 * anew through /proc, a file description of our own that we can make
 * non-blocking without touching the program's: a reader that stalls then
 * costs dropped records, not a stalled accept. One that cannot be reopened
 * so (no /proc; a pipe of root's, for a worker that dropped privileges) is
 * not written at all rather than written blocking.
 */
static atomic_bool no_pipe_nowait;

void a4s_dest_no_pipe_nowait(void)
{
	atomic_store(&no_pipe_nowait, true);
}

void a4s_dest_open_stderr(struct a4s_dest *d)
{
	d->owned = false;
	d->watch_stderr = false;
	/* EBADF, and nothing to say: stderr is gone, for good. */
	d->why = (struct a4s_cause){ A4S_CAUSE_NONE, 0, 0 };
	if (a4s_identify(2, NULL, A4S_ID_SIZE, &d->id) < 0 || !is_stderr(&d->id)) {
		d->fd = -EBADF;
		return;
	}
	switch (d->id.type) {
	case S_IFREG:
		d->fd = 2;
		d->kind = A4S_DEST_FILE;
		return;
	case S_IFSOCK:
		d->fd = 2;
		d->kind = A4S_DEST_SOCKET;
		return;
	case S_IFIFO:
		if (!atomic_load_explicit(&no_pipe_nowait, memory_order_relaxed)) {
			d->fd = 2;
			d->kind = A4S_DEST_PIPE_NOWAIT;
			return;
		}
		break;
	case S_IFCHR:
		break;
	default:
		d->fd = -EBADF;
		return;
	}
	int fd = a4s_open_past_emfile(reopen_stderr, NULL);
	struct a4s_ident ours;
	if (fd >= 0 && (a4s_identify(fd, NULL, 0, &ours) < 0 || !is_stderr(&ours))) {
		a4s_close(fd); /* fd 2 changed under us */
		fd = -EBADF;
	}
	d->fd = fd; /* ENXIO: the pipe has no reader */
	if (fd < 0 && fd != -EBADF)
		d->why = (struct a4s_cause){ A4S_CAUSE_OPEN, -fd, 0 };
	d->owned = true;
	d->watch_stderr = true;
	d->kind = d->id.type == S_IFIFO ? A4S_DEST_PIPE : A4S_DEST_WRITE;
}

/* ---- syslog ---- */

/* A datagram socket connected to /dev/log, as syslog(3) uses; journald and
 * rsyslog both listen there. Connected once, not per record. */
static int open_syslog(void *arg)
{
	(void)arg;
	int fd = (int)a4s_sysret(syscall(SYS_socket, AF_UNIX,
					 SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
	if (fd < 0)
		return fd;
	struct sockaddr_un sun = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };
	int r = (int)a4s_sysret(syscall(SYS_connect, fd, &sun, sizeof(sun)));
	if (r < 0) {
		a4s_close(fd);
		return r;
	}
	return fd;
}

void a4s_dest_open(struct a4s_dest *d, const struct a4s_config *cfg, bool place)
{
	d->watch_stderr = false;
	switch (cfg->log_kind) {
	case A4S_LOG_FILE:
		open_file(d, cfg);
		break;
	case A4S_LOG_STDERR:
		a4s_dest_open_stderr(d);
		break;
	case A4S_LOG_SYSLOG:
		d->fd = a4s_open_past_emfile(open_syslog, NULL);
		d->owned = true;
		d->kind = A4S_DEST_SOCKET;
		d->why = (struct a4s_cause){ A4S_CAUSE_OPEN, -d->fd, 0 };
		if (d->fd >= 0 && a4s_identify(d->fd, NULL, 0, &d->id) < 0) {
			a4s_close(d->fd);
			d->fd = -EBADF;
		}
		break;
	default:
		d->fd = -EINVAL;
		d->why = (struct a4s_cause){ A4S_CAUSE_NONE, 0, 0 };
		return;
	}
	if (d->fd >= 0 && d->owned && place)
		d->fd = a4s_fd_place(d->fd);
}
