/*
 * The observer: preloaded into both runs of every hostile case, after the
 * library (LD_PRELOAD="<library>:observer.so"), so its destructor runs after
 * the library's. At exit it writes, for the runner, what a user could see
 * of the process but the runner cannot see from outside once it is gone:
 *
 *   library: <accept4shim_config()>   or   library: none
 *   fd N -> <target>                  every descriptor open at exit
 *
 * into $A4S_HOSTILE_REPORT/<pid> (the directory noted at load: the program
 * may clear its environment). A process that ends by a signal or _exit
 * writes nothing; the runner then compares "no report" with "no report".
 * It interposes nothing and allocates nothing.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static char report_dir[PATH_MAX];

__attribute__((constructor)) static void note_report_dir(void)
{
	const char *d = getenv("A4S_HOSTILE_REPORT");
	if (d && strlen(d) < sizeof(report_dir))
		strcpy(report_dir, d);
}

/* One line into buf; the report is written with a single write at the end. */
static size_t add(char *buf, size_t len, size_t size, const char *line)
{
	size_t n = strlen(line);
	if (len + n + 1 >= size)
		return len;
	memcpy(buf + len, line, n);
	buf[len + n] = '\n';
	return len + n + 1;
}

__attribute__((destructor)) static void report(void)
{
	if (!report_dir[0])
		return;
	int saved_errno = errno;
	static char buf[1 << 16];
	size_t len = 0;
	char line[2 * PATH_MAX];

	const char *(*config)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT,
								  "accept4shim_config");
	const char *c = config ? config() : NULL;
	snprintf(line, sizeof(line), "library: %s", config ? (c ? c : "(null)") : "none");
	len = add(buf, len, sizeof(buf), line);

	DIR *d = opendir("/proc/self/fd");
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
				continue;
			char link[64 + sizeof(e->d_name)], target[PATH_MAX];
			snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
			ssize_t n = readlink(link, target, sizeof(target) - 1);
			target[n > 0 ? n : 0] = '\0';
			snprintf(line, sizeof(line), "fd %s -> %s", e->d_name, target);
			len = add(buf, len, sizeof(buf), line);
		}
		closedir(d);
	} else {
		len = add(buf, len, sizeof(buf), "fd list unavailable");
	}

	/* A case may have lowered RLIMIT_FSIZE below the report's length:
	 * the soft limit goes up to the hard one for it, with the raw system
	 * call, so that the library under test sees nothing of it. */
	struct rlimit64_raw {
		unsigned long long cur, max;
	} lim;
	if (syscall(SYS_prlimit64, 0, RLIMIT_FSIZE, NULL, &lim) == 0 && lim.cur < lim.max) {
		lim.cur = lim.max;
		(void)syscall(SYS_prlimit64, 0, RLIMIT_FSIZE, &lim, NULL);
	}
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/%d", report_dir, (int)getpid());
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (write(fd, buf, len) != (ssize_t)len)
			(void)unlink(path);
		close(fd);
	}
	errno = saved_errno;
}
