/*
 * The library where Check cannot follow: in musl programs (preloaded) and in
 * statically linked programs (glibc and musl, linked with the archive and
 * --wrap). One standalone program, built four ways by tests/reach, runs the
 * behaviours that matter the same way in each:
 *
 *   reach flags    every accept4 flag set and accept, under every
 *                  ACCEPT4SHIM_ADD_FLAGS value, in each mode: flags exact,
 *                  bad flags EINVAL with the connection left queued, errno
 *                  kept on success, emulation counted as the mode says
 *   reach enosys   a seccomp filter makes the kernel's accept4 answer
 *                  ENOSYS (counted by a SIGSYS handler): auto switches
 *                  after the first, emulate never asks, native answers
 *                  what the C library answers
 *   reach bsd      ACCEPT4SHIM_INHERIT=bsd and linux
 *   reach retry    a seccomp filter makes accept fail with ECONNABORTED
 *                  three times: RETRY=on accepts, RETRY=off returns it
 *   reach trace    a JSON trace, with and without the ENOSYS filter, read
 *                  back through tests/trace/tracecheck.py, field by field
 *   reach fork     children write their records into their own %p files
 *   reach fsize    RLIMIT_FSIZE lowered below the trace by setrlimit, prlimit
 *                  or ulimit, and calls at once: dropped and counted, no
 *                  SIGXFSZ (the archive takes these over too)
 *   reach loaded   only the proof below
 *
 * Each scenario runs its cases in child processes, each re-executed with
 * its own variables (the library reads them once, at load). Every process
 * first proves the library is in it, the expected copy, configured as its
 * variables say (accept4shim_config), and that accept goes through it; run
 * without the library the program fails.
 *
 * Built with -DA4S_REACH_STATIC for the static programs, and with
 * -DA4S_REACH_LINKED for a dynamically linked program with the archive in it
 * that is run with the library preloaded as well (two copies: the work is
 * done once). Needs no Check and
 * no <linux/...> header (musl has none): the seccomp bits are below.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/ucontext.h>
#include <sys/wait.h>
#include <ulimit.h>
#include <unistd.h>

#include <accept4shim.h>

/* Weak, so that the program runs without the library and says so. */
#pragma weak accept4shim_version
#pragma weak accept4shim_get_stats
#pragma weak accept4shim_config

#ifndef __x86_64__
#error "the seccomp and SIGSYS parts below are written for x86_64"
#endif

#ifdef __GLIBC__
#define LIBC "glibc"
#else
#define LIBC "musl"
#endif

extern char **environ;

static const char *scenario = "?";

int main(int argc, char **argv);

static void fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "FAIL %s:%d [%s, %s, pid %d]: ", file, line, scenario, LIBC, (int)getpid());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

#define CHECK(cond, ...)                                          \
	do {                                                      \
		if (!(cond))                                      \
			fail(__FILE__, __LINE__, __VA_ARGS__);    \
	} while (0)

static const char *env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);
	return v ? v : dflt;
}

/* ---- the proof that the library is here ---------------------------- */

static struct accept4shim_stats stats(void)
{
	struct accept4shim_stats s;
	CHECK(accept4shim_get_stats(&s, sizeof(s)) == 0, "accept4shim_get_stats: %s",
	      strerror(errno));
	return s;
}

static void prove_loaded(void)
{
	CHECK(accept4shim_version && accept4shim_get_stats,
	      "the library is not loaded: accept4shim_version is not in the process");
	CHECK(strcmp(accept4shim_version(), ACCEPT4SHIM_VERSION_STRING) == 0,
	      "version %s, built against %s", accept4shim_version(), ACCEPT4SHIM_VERSION_STRING);
#if defined(A4S_REACH_STATIC)
	/* No program interpreter: nothing was preloaded, the archive is in. */
	CHECK(getauxval(AT_BASE) == 0, "not a static program: AT_BASE %#lx",
	      getauxval(AT_BASE));
#elif defined(A4S_REACH_LINKED)
	/* The archive in a dynamically linked program, which also has the
	 * library preloaded: the program's own copy must be the one at
	 * work (it is what a global lookup finds), the other standing aside. */
	Dl_info mine, global;
	void *found = dlsym(RTLD_DEFAULT, "accept4shim_get_stats");
	CHECK(dladdr((void *)accept4shim_version, &mine) && dladdr((void *)main, &global) &&
		      mine.dli_fbase == global.dli_fbase,
	      "accept4shim_version is not the program's own");
	CHECK(found && dladdr(found, &global) && global.dli_fbase == mine.dli_fbase,
	      "a global lookup finds another copy first");
	CHECK(getenv("LD_PRELOAD"), "not preloaded as well");
#else
	Dl_info info;
	char have[PATH_MAX], want[PATH_MAX];
	const char *lib = getenv("A4S_REACH_LIBRARY");
	CHECK(lib, "A4S_REACH_LIBRARY is not set");
	CHECK(dladdr((void *)accept4shim_version, &info) && info.dli_fname,
	      "dladdr found no object for accept4shim_version");
	CHECK(realpath(info.dli_fname, have) && realpath(lib, want) && strcmp(have, want) == 0,
	      "the library loaded is %s, not %s", info.dli_fname, lib);
#endif
	/* Configured as this process's variables say. */
	CHECK(accept4shim_config, "no accept4shim_config");
	const char *const words[][3] = {
		{ "ACCEPT4SHIM_MODE", "auto", "mode=" },
		{ "ACCEPT4SHIM_INHERIT", "linux", "inherit=" },
		{ "ACCEPT4SHIM_RETRY", "off", "retry=" },
	};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		char word[64];
		snprintf(word, sizeof(word), " %s%s ", words[i][2], env_or(words[i][0], words[i][1]));
		char config[512];
		snprintf(config, sizeof(config), " %s ", accept4shim_config());
		CHECK(strstr(config, word), "configured as '%s', not with%s", accept4shim_config(), word);
	}
	/* And the program's accept reaches it. */
	struct accept4shim_stats before = stats();
	CHECK(accept(-1, NULL, NULL) == -1 && errno == EBADF, "accept(-1)");
	CHECK(stats().calls == before.calls + 1, "accept did not go through the library");
}

/* ---- sockets ---------------------------------------------------------- */

struct listener {
	int fd;
	struct sockaddr_in addr;
};

static void listen_on_loopback(struct listener *l, bool nonblocking)
{
	l->fd = socket(AF_INET, SOCK_STREAM | (nonblocking ? SOCK_NONBLOCK : 0), 0);
	CHECK(l->fd >= 0, "socket: %s", strerror(errno));
	memset(&l->addr, 0, sizeof(l->addr));
	l->addr.sin_family = AF_INET;
	l->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(l->addr);
	CHECK(bind(l->fd, (struct sockaddr *)&l->addr, len) == 0, "bind: %s", strerror(errno));
	CHECK(listen(l->fd, 64) == 0, "listen: %s", strerror(errno));
	CHECK(getsockname(l->fd, (struct sockaddr *)&l->addr, &len) == 0, "getsockname");
}

/* A connected client; the connection waits in the listener's queue. */
static int connect_client(const struct listener *l)
{
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(c >= 0, "socket: %s", strerror(errno));
	CHECK(connect(c, (const struct sockaddr *)&l->addr, sizeof(l->addr)) == 0, "connect: %s",
	      strerror(errno));
	return c;
}

static bool queued(int listen_fd)
{
	struct pollfd p = { .fd = listen_fd, .events = POLLIN };
	return poll(&p, 1, 0) == 1;
}

static bool nonblocking(int fd)
{
	return (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
}

static bool cloexec(int fd)
{
	return (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
}

static int parse_flags(const char *s)
{
	int f = 0;
	if (strstr(s, "SOCK_NONBLOCK"))
		f |= SOCK_NONBLOCK;
	if (strstr(s, "SOCK_CLOEXEC"))
		f |= SOCK_CLOEXEC;
	return f;
}

static const char *flag_names(int f)
{
	switch (f & (SOCK_NONBLOCK | SOCK_CLOEXEC)) {
	case 0: return "0";
	case SOCK_NONBLOCK: return "SOCK_NONBLOCK";
	case SOCK_CLOEXEC: return "SOCK_CLOEXEC";
	default: return "SOCK_NONBLOCK|SOCK_CLOEXEC";
	}
}

/* ---- seccomp, without <linux/...> ------------------------------------ */

struct bpf_insn {
	uint16_t code;
	uint8_t jt, jf;
	uint32_t k;
};
struct bpf_prog {
	unsigned short len;
	struct bpf_insn *insns;
};
#define LD_W_ABS 0x20  /* BPF_LD | BPF_W | BPF_ABS */
#define JEQ_K 0x15     /* BPF_JMP | BPF_JEQ | BPF_K */
#define RET_K 0x06     /* BPF_RET | BPF_K */
#define RET_ALLOW 0x7fff0000u
#define RET_TRAP 0x00030000u
#define ARCH_X86_64 0xc000003eu
#define SECCOMP_DATA_NR 0
#define SECCOMP_DATA_ARCH 4

static volatile sig_atomic_t trapped; /* system calls the filter caught */
static volatile sig_atomic_t abort_first; /* of those, how many fail */
static volatile long trapped_nr;

/* The kernel never ran the call; what we put in rax is its result. A trapped
 * accept past abort_first is made as accept4(..., 0), which the filter lets
 * through, so the connection is really accepted. */
static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	(void)sig, (void)si;
	int saved = errno;
	greg_t *r = ((ucontext_t *)ctx)->uc_mcontext.gregs;
	trapped++;
	if (trapped_nr == SYS_accept4) {
		r[REG_RAX] = -ENOSYS;
	} else if (trapped <= abort_first) {
		r[REG_RAX] = -ECONNABORTED;
	} else {
		long fd = syscall(SYS_accept4, r[REG_RDI], r[REG_RSI], r[REG_RDX], 0);
		r[REG_RAX] = fd < 0 ? -errno : fd;
	}
	errno = saved;
}

/* From here on the kernel's nr traps to on_sigsys, in this process only. */
static void trap_syscall(long nr)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	CHECK(sigaction(SIGSYS, &sa, NULL) == 0, "sigaction");
	trapped_nr = nr;
	struct bpf_insn insns[] = {
		{ LD_W_ABS, 0, 0, SECCOMP_DATA_ARCH },
		{ JEQ_K, 1, 0, ARCH_X86_64 },
		{ RET_K, 0, 0, RET_ALLOW },
		{ LD_W_ABS, 0, 0, SECCOMP_DATA_NR },
		{ JEQ_K, 0, 1, (uint32_t)nr },
		{ RET_K, 0, 0, RET_TRAP },
		{ RET_K, 0, 0, RET_ALLOW },
	};
	struct bpf_prog prog = { sizeof(insns) / sizeof(insns[0]), insns };
	CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, "PR_SET_NO_NEW_PRIVS");
	CHECK(prctl(PR_SET_SECCOMP, 2 /* SECCOMP_MODE_FILTER */, &prog, 0, 0) == 0,
	      "seccomp: %s", strerror(errno));
}

/* ---- running each case in its own process ----------------------------- */

static bool same_name(const char *a, const char *b)
{
	size_t n = strcspn(a, "=");
	return strncmp(a, b, n) == 0 && b[n] == '=';
}

/* Runs this program again for this scenario with `vars` (NULL-terminated
 * "NAME=value" strings) in place of any same-named variables. */
static void run_case(const char *self, const char *vars[])
{
	char *env[256];
	size_t n = 0;
	for (char **e = environ; *e && n < 200; e++) {
		bool replaced = false;
		for (const char **v = vars; *v; v++)
			replaced |= same_name(*v, *e);
		if (!replaced)
			env[n++] = *e;
	}
	for (const char **v = vars; *v; v++)
		env[n++] = strdup(*v);
	env[n++] = strdup("A4S_REACH_CASE=1");
	env[n] = NULL;
	fflush(NULL);
	pid_t pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		char *argv[] = { strdup(self), strdup(scenario), NULL };
		execve("/proc/self/exe", argv, env);
		_exit(127);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
	char what[512] = "";
	for (const char **v = vars; *v; v++)
		snprintf(what + strlen(what), sizeof(what) - strlen(what), " %s", *v);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "case%s: %s %d", what,
	      WIFEXITED(status) ? "exit" : "signal",
	      WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	printf("ok %s %s:%s\n", LIBC, scenario, what);
}

static const char *const modes[] = { "native", "emulate", "auto" };
static const char *const flag_values[] = { "", "SOCK_NONBLOCK", "SOCK_CLOEXEC",
					   "SOCK_NONBLOCK|SOCK_CLOEXEC" };
static const int accept4_flags[] = { SOCK_NONBLOCK, SOCK_CLOEXEC, SOCK_NONBLOCK | SOCK_CLOEXEC, 0 };

/* ---- flags ------------------------------------------------------------ */

static void flags_case(void)
{
	const char *mode = env_or("ACCEPT4SHIM_MODE", "auto");
	int add = parse_flags(env_or("ACCEPT4SHIM_ADD_FLAGS", ""));
	bool emulate = strcmp(mode, "emulate") == 0;
	struct listener l;
	listen_on_loopback(&l, false);

	for (int i = 0; i < 4; i++) {
		int c = connect_client(&l);
		struct accept4shim_stats before = stats();
		errno = 4242;
		int fd = accept4(l.fd, NULL, NULL, accept4_flags[i]);
		int want = accept4_flags[i] | add;
		CHECK(fd >= 0, "accept4(%s): %s", flag_names(accept4_flags[i]), strerror(errno));
		CHECK(errno == 4242, "errno changed on success: %d", errno);
		CHECK(nonblocking(fd) == !!(want & SOCK_NONBLOCK) && cloexec(fd) == !!(want & SOCK_CLOEXEC),
		      "accept4(%s) + %s: O_NONBLOCK %d FD_CLOEXEC %d", flag_names(accept4_flags[i]),
		      flag_names(add), nonblocking(fd), cloexec(fd));
		struct accept4shim_stats after = stats();
		/* The kernel has accept4 here: only emulate sets flags itself. */
		CHECK(after.emulated - before.emulated == (emulate && want),
		      "mode %s, flags %s: emulated %d", mode, flag_names(want),
		      (int)(after.emulated - before.emulated));
		close(fd);
		close(c);
	}

	/* accept(): ADD_FLAGS only. */
	int c = connect_client(&l);
	int fd = accept(l.fd, NULL, NULL);
	CHECK(fd >= 0 && nonblocking(fd) == !!(add & SOCK_NONBLOCK) &&
		      cloexec(fd) == !!(add & SOCK_CLOEXEC),
	      "accept + %s: fd %d O_NONBLOCK %d FD_CLOEXEC %d", flag_names(add), fd,
	      nonblocking(fd), cloexec(fd));
	close(fd);
	close(c);

	/* A flag accept4 does not know: EINVAL before anything is accepted. */
	c = connect_client(&l);
	CHECK(accept4(l.fd, NULL, NULL, 0x1) == -1 && errno == EINVAL, "accept4(0x1): %s",
	      strerror(errno));
	CHECK(queued(l.fd), "the connection left the queue on EINVAL");
	fd = accept4(l.fd, NULL, NULL, SOCK_CLOEXEC);
	CHECK(fd >= 0, "accept4 after EINVAL: %s", strerror(errno));
	close(fd);
	close(c);
	close(l.fd);
}

static void flags_all(const char *self)
{
	for (int m = 0; m < 3; m++) {
		for (int f = 0; f < 4; f++) {
			char mode[64], add[128];
			snprintf(mode, sizeof(mode), "ACCEPT4SHIM_MODE=%s", modes[m]);
			snprintf(add, sizeof(add), "ACCEPT4SHIM_ADD_FLAGS=%s", flag_values[f]);
			const char *vars[] = { mode, add, NULL };
			run_case(self, vars);
		}
	}
}

/* ---- accept4 refused with ENOSYS -------------------------------------- */

static void enosys_case(void)
{
	const char *mode = env_or("ACCEPT4SHIM_MODE", "auto");
	struct listener l;
	listen_on_loopback(&l, false);
	trap_syscall(SYS_accept4);
	struct accept4shim_stats before = stats();
	int ok = 0, plain_accepts = 0;

	/* Flags first: musl's accept4 with no flags is a plain accept. */
	for (int i = 0; i < 4; i++) {
		int c = connect_client(&l);
		int fd = accept4(l.fd, NULL, NULL, accept4_flags[i]);
		if (strcmp(mode, "native") == 0) {
#ifdef __GLIBC__
			/* glibc's accept4 is the system call: its ENOSYS, and
			 * the connection stays where it was. */
			CHECK(fd == -1 && errno == ENOSYS, "native: fd %d errno %d", fd, errno);
			CHECK(queued(l.fd), "native: the connection left the queue");
			fd = accept(l.fd, NULL, NULL);
			CHECK(fd >= 0, "accept");
			plain_accepts++;
			close(fd);
			close(c);
			continue;
#endif
			/* musl's falls back to accept and fcntl itself. */
		}
		CHECK(fd >= 0, "mode %s, accept4(%s): %s", mode, flag_names(accept4_flags[i]),
		      strerror(errno));
		CHECK(nonblocking(fd) == !!(accept4_flags[i] & SOCK_NONBLOCK) &&
			      cloexec(fd) == !!(accept4_flags[i] & SOCK_CLOEXEC),
		      "mode %s, accept4(%s): O_NONBLOCK %d FD_CLOEXEC %d", mode,
		      flag_names(accept4_flags[i]), nonblocking(fd), cloexec(fd));
		ok++;
		close(fd);
		close(c);
	}
	struct accept4shim_stats after = stats();
	int emulated = (int)(after.emulated - before.emulated);
	/* Once each: musl's accept4 falls back to accept(), which in a
	 * --wrap link comes back through the library and must not count. */
	CHECK(after.calls - before.calls == (uint64_t)(4 + plain_accepts),
	      "%d calls counted for %d", (int)(after.calls - before.calls), 4 + plain_accepts);
	if (strcmp(mode, "emulate") == 0) {
		CHECK(trapped == 0, "emulate asked the kernel's accept4 %d times", (int)trapped);
		CHECK(ok == 4 && emulated == 3, "emulate: %d accepted, %d emulated", ok, emulated);
	} else if (strcmp(mode, "auto") == 0) {
		/* One ENOSYS proves accept4 absent, for the whole process. */
		CHECK(trapped == 1, "auto asked the kernel's accept4 %d times, not once",
		      (int)trapped);
		CHECK(ok == 4 && emulated == 3, "auto: %d accepted, %d emulated", ok, emulated);
	} else {
#ifdef __GLIBC__
		CHECK(trapped == 4 && ok == 0, "native: asked %d times, %d accepted", (int)trapped, ok);
#else
		CHECK(trapped == 3 && ok == 4 && emulated == 3,
		      "native: asked %d times, %d accepted, %d emulated", (int)trapped, ok, emulated);
#endif
	}
	close(l.fd);
}

static void enosys_all(const char *self)
{
	for (int m = 0; m < 3; m++) {
		char mode[64];
		snprintf(mode, sizeof(mode), "ACCEPT4SHIM_MODE=%s", modes[m]);
		const char *vars[] = { mode, NULL };
		run_case(self, vars);
	}
}

/* ---- INHERIT=bsd ------------------------------------------------------ */

static void bsd_case(void)
{
	bool bsd = strcmp(env_or("ACCEPT4SHIM_INHERIT", "linux"), "bsd") == 0;
	struct listener l;
	listen_on_loopback(&l, false);
	signal(SIGUSR2, SIG_IGN);
	struct f_owner_ex me = { F_OWNER_PID, getpid() }, owner;
	CHECK(fcntl(l.fd, F_SETOWN_EX, &me) == 0 && fcntl(l.fd, F_SETSIG, SIGUSR2) == 0 &&
		      fcntl(l.fd, F_SETFL, O_NONBLOCK | O_ASYNC) == 0,
	      "setting up the listener: %s", strerror(errno));

	int c = connect_client(&l);
	int fd = accept(l.fd, NULL, NULL);
	CHECK(fd >= 0, "accept: %s", strerror(errno));
	int fl = fcntl(fd, F_GETFL);
	CHECK(fcntl(fd, F_GETOWN_EX, &owner) == 0, "F_GETOWN_EX");
	int sig = fcntl(fd, F_GETSIG);
	if (bsd)
		CHECK((fl & (O_NONBLOCK | O_ASYNC)) == (O_NONBLOCK | O_ASYNC) &&
			      owner.type == F_OWNER_PID && owner.pid == getpid() && sig == SIGUSR2,
		      "bsd: flags %#x owner %d/%d sig %d", fl, owner.type, owner.pid, sig);
	else
		CHECK(!(fl & (O_NONBLOCK | O_ASYNC)) && owner.pid == 0 && sig == 0,
		      "linux: flags %#x owner %d sig %d", fl, owner.pid, sig);
	close(fd);
	close(c);

	/* accept4 inherits nothing, under either rule; also where it is
	 * emulated because the kernel refuses it (MODE=auto), and where the C
	 * library emulates it (musl) with an accept() that, in a --wrap link,
	 * comes back through the library. */
	if (getenv("A4S_REACH_ENOSYS"))
		trap_syscall(SYS_accept4);
	c = connect_client(&l);
	fd = accept4(l.fd, NULL, NULL, SOCK_CLOEXEC);
	CHECK(fd >= 0, "accept4: %s", strerror(errno));
	fl = fcntl(fd, F_GETFL);
	CHECK(fcntl(fd, F_GETOWN_EX, &owner) == 0, "F_GETOWN_EX");
	CHECK(!(fl & (O_NONBLOCK | O_ASYNC)) && owner.pid == 0 && fcntl(fd, F_GETSIG) == 0 &&
		      cloexec(fd),
	      "accept4 inherited: flags %#x owner %d", fl, owner.pid);
	close(fd);
	close(c);
	close(l.fd);
}

static void bsd_all(const char *self)
{
	const char *bsd[] = { "ACCEPT4SHIM_INHERIT=bsd", NULL };
	const char *lnx[] = { "ACCEPT4SHIM_INHERIT=linux", NULL };
	const char *bsd_enosys[] = { "ACCEPT4SHIM_INHERIT=bsd", "ACCEPT4SHIM_MODE=auto",
				     "A4S_REACH_ENOSYS=1", NULL };
	run_case(self, bsd);
	run_case(self, lnx);
	run_case(self, bsd_enosys);
}

/* ---- RETRY -------------------------------------------------------------- */

static void retry_case(void)
{
	bool on = strcmp(env_or("ACCEPT4SHIM_RETRY", "off"), "on") == 0;
	struct listener l;
	listen_on_loopback(&l, false);
	int c = connect_client(&l);
	abort_first = 3;
	trap_syscall(SYS_accept);
	struct accept4shim_stats before = stats();
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	int fd = accept(l.fd, (struct sockaddr *)&peer, &len);
	struct accept4shim_stats after = stats();
	if (on) {
		CHECK(fd >= 0, "RETRY=on: %s", strerror(errno));
		CHECK(trapped == 4 && after.retries - before.retries == 3 &&
			      after.retried_calls - before.retried_calls == 1,
		      "RETRY=on: %d accepts, %d retries", (int)trapped,
		      (int)(after.retries - before.retries));
		struct sockaddr_in mine;
		socklen_t mlen = sizeof(mine);
		getsockname(c, (struct sockaddr *)&mine, &mlen);
		CHECK(len == sizeof(peer) && peer.sin_port == mine.sin_port, "the peer address");
		close(fd);
	} else {
		CHECK(fd == -1 && errno == ECONNABORTED && trapped == 1,
		      "RETRY=off: fd %d errno %d after %d accepts", fd, errno, (int)trapped);
		CHECK(queued(l.fd), "the connection left the queue");
	}
	close(c);
	close(l.fd);
}

static void retry_all(const char *self)
{
	const char *on[] = { "ACCEPT4SHIM_RETRY=on", NULL };
	const char *off[] = { "ACCEPT4SHIM_RETRY=off", NULL };
	run_case(self, on);
	run_case(self, off);
}

/* ---- reading a trace back ---------------------------------------------- */

#define MAX_RECORDS 16

struct record {
	char line[2048];
};

/* The value of key in a tracecheck.py line ("rec ts=... pid=12 ..."). */
static const char *field(const struct record *r, const char *key, char *out, size_t size)
{
	char needle[64];
	snprintf(needle, sizeof(needle), " %s=", key);
	const char *p = strstr(r->line, needle);
	CHECK(p, "no %s in: %s", key, r->line);
	p += strlen(needle);
	size_t n = strcspn(p, " \n");
	snprintf(out, size, "%.*s", (int)(n < size ? n : size - 1), p);
	return out;
}

static void expect(const struct record *r, const char *key, const char *want)
{
	char have[256];
	CHECK(strcmp(field(r, key, have, sizeof(have)), want) == 0, "%s=%s, want %s in: %s", key,
	      have, want, r->line);
}

static void expect_int(const struct record *r, const char *key, long want)
{
	char s[32];
	snprintf(s, sizeof(s), "%ld", want);
	expect(r, key, s);
}

/* Runs tracecheck.py (a strict JSON reader) on path, without our library:
 * a glibc python3 cannot start with the musl library preloaded. */
static int read_trace(const char *path, struct record *recs)
{
	const char *checker = getenv("A4S_TRACECHECK");
	CHECK(checker, "A4S_TRACECHECK is not set");
	int p[2];
	CHECK(pipe(p) == 0, "pipe");
	fflush(NULL);
	pid_t pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		dup2(p[1], 1);
		char *argv[] = { strdup("python3"), strdup(checker), strdup(path), NULL };
		char *env[] = { strdup("PATH=/usr/bin:/bin"), strdup("LC_ALL=C.UTF-8"), NULL };
		execve("/usr/bin/python3", argv, env);
		_exit(127);
	}
	close(p[1]);
	static char buf[MAX_RECORDS * 2048];
	size_t len = 0;
	ssize_t r;
	while ((r = read(p[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)r;
	buf[len] = '\0';
	close(p[0]);
	int status;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "tracecheck.py rejected %s:\n%s",
	      path, buf);
	int n = 0;
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		CHECK(n < MAX_RECORDS, "too many records in %s", path);
		CHECK(strncmp(line, "rec ", 4) == 0, "not a call record: %s", line);
		snprintf(recs[n++].line, sizeof(recs[0].line), "%s ", line);
	}
	return n;
}

static void expand_pid(const char *pattern, int pid, char *out, size_t size)
{
	const char *p = strstr(pattern, "%p");
	CHECK(p, "no %%p in %s", pattern);
	snprintf(out, size, "%.*s%d%s", (int)(p - pattern), pattern, pid, p + 2);
}

static void loopback(const struct sockaddr_in *a, char *out, size_t size)
{
	snprintf(out, size, "127.0.0.1:%d", ntohs(a->sin_port));
}

/* ---- the JSON trace ------------------------------------------------------ */

static void trace_case(void)
{
	const char *mode = env_or("ACCEPT4SHIM_MODE", "auto");
	bool enosys = getenv("A4S_REACH_ENOSYS") != NULL;
	struct listener l, empty;
	listen_on_loopback(&l, false);
	listen_on_loopback(&empty, true);
	if (enosys)
		trap_syscall(SYS_accept4);

	/* accept4 with flags, accept on an empty non-blocking queue, accept. */
	int c1 = connect_client(&l);
	int fd1 = accept4(l.fd, NULL, NULL, SOCK_CLOEXEC);
	CHECK(fd1 >= 0 && cloexec(fd1), "accept4: %s", strerror(errno));
	CHECK(accept(empty.fd, NULL, NULL) == -1 && errno == EAGAIN, "accept on empty: %s",
	      strerror(errno));
	int c2 = connect_client(&l);
	int fd2 = accept(l.fd, NULL, NULL);
	CHECK(fd2 >= 0, "accept: %s", strerror(errno));

	struct sockaddr_in p1, p2;
	socklen_t len = sizeof(p1);
	getsockname(c1, (struct sockaddr *)&p1, &len);
	len = sizeof(p2);
	getsockname(c2, (struct sockaddr *)&p2, &len);

	char path[PATH_MAX], s[64];
	expand_pid(getenv("ACCEPT4SHIM_LOG"), getpid(), path, sizeof(path));
	struct record r[MAX_RECORDS];
	int n = read_trace(path, r);
	/* The proof's accept(-1), then the three calls above. */
	CHECK(n == 4, "%d records in %s, want 4", n, path);
	for (int i = 0; i < n; i++) {
		expect_int(&r[i], "pid", getpid());
		expect_int(&r[i], "tid", getpid());
		expect(&r[i], "retries", "0");
	}
	expect(&r[0], "call", "accept");
	expect(&r[0], "listen_fd", "-1");
	expect(&r[0], "errno", "EBADF");
	expect(&r[0], "fd", "-1");
	expect(&r[0], "peer", "~");

	/* Emulated when emulate says so, or when accept4 proved absent. */
	bool emulated = strcmp(mode, "emulate") == 0 || (enosys && strcmp(mode, "auto") == 0);
	expect(&r[1], "call", "accept4");
	expect_int(&r[1], "listen_fd", l.fd);
	expect(&r[1], "flags", "SOCK_CLOEXEC");
	expect_int(&r[1], "fd", fd1);
	expect(&r[1], "errno", "~");
	loopback(&l.addr, s, sizeof(s));
	expect(&r[1], "local", s);
	loopback(&p1, s, sizeof(s));
	expect(&r[1], "peer", s);
	expect(&r[1], "how", emulated ? "emulated" : "native");

	expect(&r[2], "call", "accept");
	expect_int(&r[2], "listen_fd", empty.fd);
	expect(&r[2], "errno", "EAGAIN");
	expect(&r[2], "fd", "-1");
	loopback(&empty.addr, s, sizeof(s));
	expect(&r[2], "local", s);

	expect(&r[3], "call", "accept");
	expect(&r[3], "flags", "0");
	expect_int(&r[3], "fd", fd2);
	expect(&r[3], "how", "native");
	loopback(&p2, s, sizeof(s));
	expect(&r[3], "peer", s);
}

static void trace_all(const char *self)
{
	char log[PATH_MAX + 64];
	snprintf(log, sizeof(log), "ACCEPT4SHIM_LOG=%s/trace.%%p.json", getenv("A4S_REACH_TMP"));
	for (int m = 0; m < 3; m++) {
		char mode[64];
		snprintf(mode, sizeof(mode), "ACCEPT4SHIM_MODE=%s", modes[m]);
		const char *plain[] = { mode, log, "ACCEPT4SHIM_LOG_FORMAT=json", NULL };
		const char *enosys[] = { mode, log, "ACCEPT4SHIM_LOG_FORMAT=json",
					 "A4S_REACH_ENOSYS=1", NULL };
		run_case(self, plain);
		if (m != 0) /* native under ENOSYS does not accept on glibc */
			run_case(self, enosys);
	}
}

/* ---- fork, and a trace file per process ------------------------------ */

static void fork_case(void)
{
	struct listener l;
	listen_on_loopback(&l, false);
	const char *pattern = getenv("ACCEPT4SHIM_LOG");
	pid_t kids[3];
	for (int k = 0; k < 3; k++) {
		fflush(NULL);
		kids[k] = fork();
		CHECK(kids[k] >= 0, "fork");
		if (kids[k] == 0) {
			for (int i = 0; i < 2; i++) {
				int c = connect_client(&l);
				int fd = accept4(l.fd, NULL, NULL, SOCK_CLOEXEC);
				CHECK(fd >= 0 && cloexec(fd), "child accept4: %s", strerror(errno));
				close(fd);
				close(c);
			}
			exit(0);
		}
		int status;
		CHECK(waitpid(kids[k], &status, 0) == kids[k] && WIFEXITED(status) &&
			      WEXITSTATUS(status) == 0,
		      "child %d failed", (int)kids[k]);
	}
	int c = connect_client(&l);
	int fd = accept(l.fd, NULL, NULL);
	CHECK(fd >= 0, "accept: %s", strerror(errno));

	char path[PATH_MAX];
	struct record r[MAX_RECORDS];
	for (int k = 0; k < 3; k++) {
		expand_pid(pattern, kids[k], path, sizeof(path));
		int n = read_trace(path, r);
		CHECK(n == 2, "%d records in child %d's %s, want 2", n, (int)kids[k], path);
		for (int i = 0; i < n; i++) {
			expect_int(&r[i], "pid", kids[k]);
			expect_int(&r[i], "tid", kids[k]);
			expect(&r[i], "call", "accept4");
			expect(&r[i], "flags", "SOCK_CLOEXEC");
		}
	}
	expand_pid(pattern, getpid(), path, sizeof(path));
	int n = read_trace(path, r);
	CHECK(n == 2, "%d records in the parent's %s, want 2 (the proof, one accept)", n, path);
	expect_int(&r[1], "pid", getpid());
	expect_int(&r[1], "fd", fd);
	close(fd);
	close(c);
	close(l.fd);
}

static void fork_all(const char *self)
{
	char log[PATH_MAX + 64];
	snprintf(log, sizeof(log), "ACCEPT4SHIM_LOG=%s/fork.%%p.json", getenv("A4S_REACH_TMP"));
	for (int m = 0; m < 3; m++) {
		char mode[64];
		snprintf(mode, sizeof(mode), "ACCEPT4SHIM_MODE=%s", modes[m]);
		const char *vars[] = { mode, log, "ACCEPT4SHIM_LOG_FORMAT=json", NULL };
		run_case(self, vars);
	}
}

/* ---- RLIMIT_FSIZE lowered below the trace ------------------------------ */

/*
 * Three records, then the limit lowered below what the trace holds, through
 * the function A4S_REACH_LOWER names, and three calls at once: the library
 * learns the limit from the call (no second's pause for its own look), so
 * the three records are dropped and counted, never written past the limit
 * (which raises SIGXFSZ, here left to kill).
 */
static void fsize_case(void)
{
	signal(SIGXFSZ, SIG_DFL);
	struct listener l;
	listen_on_loopback(&l, false);
	for (int i = 0; i < 6; i++) {
		if (i == 3) {
			struct accept4shim_stats before = stats();
			const char *how = getenv("A4S_REACH_LOWER");
			struct rlimit low = { 100, RLIM_INFINITY };
			CHECK(how, "A4S_REACH_LOWER is not set");
			if (strcmp(how, "setrlimit") == 0)
				CHECK(setrlimit(RLIMIT_FSIZE, &low) == 0, "setrlimit");
			else if (strcmp(how, "prlimit") == 0)
				CHECK(prlimit(0, RLIMIT_FSIZE, &low, NULL) == 0, "prlimit");
			else /* 512 bytes: the proof's record and three are longer */
				CHECK(ulimit(UL_SETFSIZE, 1L) == 1, "ulimit");
			CHECK(stats().dropped == before.dropped, "dropped before");
		}
		int c = connect_client(&l);
		int fd = accept4(l.fd, NULL, NULL, SOCK_CLOEXEC);
		CHECK(fd >= 0 && cloexec(fd), "accept4: %s", strerror(errno));
		close(fd);
		close(c);
	}
	struct accept4shim_stats s = stats();
	CHECK(s.dropped == 3, "%llu records dropped, want 3", (unsigned long long)s.dropped);
	/* The limit back up, for the checker (and its .pyc). */
	struct rlimit none = { RLIM_INFINITY, RLIM_INFINITY };
	struct rlimit hard;
	CHECK(getrlimit(RLIMIT_FSIZE, &hard) == 0, "getrlimit");
	none.rlim_max = none.rlim_cur = hard.rlim_max;
	CHECK(setrlimit(RLIMIT_FSIZE, &none) == 0, "setrlimit back");
	char path[PATH_MAX];
	struct record r[MAX_RECORDS];
	expand_pid(getenv("ACCEPT4SHIM_LOG"), getpid(), path, sizeof(path));
	int n = read_trace(path, r);
	CHECK(n == 4, "%d records in %s, want 4 (the proof's and three)", n, path);
	close(l.fd);
}

static void fsize_all(const char *self)
{
	char log[PATH_MAX + 64];
	snprintf(log, sizeof(log), "ACCEPT4SHIM_LOG=%s/fsize.%%p.json", getenv("A4S_REACH_TMP"));
	static const char *const how[] = { "A4S_REACH_LOWER=setrlimit", "A4S_REACH_LOWER=prlimit",
					   "A4S_REACH_LOWER=ulimit" };
	for (int i = 0; i < 3; i++) {
		const char *vars[] = { log, "ACCEPT4SHIM_LOG_FORMAT=json", how[i], NULL };
		run_case(self, vars);
	}
}

/* ---- main ---------------------------------------------------------------- */

static void nothing(void)
{
}

static void nothing_all(const char *self)
{
	const char *vars[] = { NULL };
	run_case(self, vars);
}

static const struct {
	const char *name;
	void (*one)(void);
	void (*all)(const char *self);
} scenarios[] = {
	{ "loaded", nothing, nothing_all },
	{ "flags", flags_case, flags_all },
	{ "enosys", enosys_case, enosys_all },
	{ "bsd", bsd_case, bsd_all },
	{ "retry", retry_case, retry_all },
	{ "trace", trace_case, trace_all },
	{ "fork", fork_case, fork_all },
	{ "fsize", fsize_case, fsize_all },
};

/* The scratch directory of the trace files, made by the first process and
 * removed when every case passed (kept to look at otherwise). */
static char tmpdir[64];

static void make_tmpdir(void)
{
	if (getenv("A4S_REACH_TMP"))
		return;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/a4s-reach.XXXXXX");
	CHECK(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
	setenv("A4S_REACH_TMP", tmpdir, 1);
}

static void remove_tmpdir(void)
{
	if (!tmpdir[0])
		return;
	DIR *d = opendir(tmpdir);
	CHECK(d, "opendir %s", tmpdir);
	for (struct dirent *e; (e = readdir(d));) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
	CHECK(rmdir(tmpdir) == 0, "rmdir %s: %s", tmpdir, strerror(errno));
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s loaded|flags|enosys|bsd|retry|trace|fork|fsize\n", argv[0]);
		return 2;
	}
	scenario = argv[1];
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		if (strcmp(scenarios[i].name, scenario) != 0)
			continue;
		prove_loaded();
		if (getenv("A4S_REACH_CASE")) {
			scenarios[i].one();
		} else {
			make_tmpdir();
			scenarios[i].all(argv[0]);
			remove_tmpdir();
		}
		return 0;
	}
	fprintf(stderr, "unknown scenario %s\n", scenario);
	return 2;
}
