/*
 * Programs that do to the library what programs do: attack MODE.
 *
 *   alarm-longjmp   a blocking accept4 timed out by SIGALRM, whose handler
 *                   siglongjmps out of the call (and so out of the library),
 *                   three times; then a connection comes and is accepted
 *   sigsys-broker   a sandbox that traps (SECCOMP_RET_TRAP) statx, fstat,
 *                   openat, getsockname and getpeername, with a SIGSYS
 *                   handler that answers EPERM, as broker sandboxes do
 *   close-range     after the first accept, close_range() from the first
 *                   free number up: every descriptor the program did not
 *                   open itself goes (the library's trace with them)
 *   dup2-over       dup2() of a file of the program's own onto 960 (where
 *                   the library keeps its trace), then more accepts: the
 *                   file must hold only what the program wrote
 *   dlopen-cycles   $A4S_HOSTILE_LIBRARY dlopened, its accept4 called, then
 *                   dlclosed, 200 times (without it: libc's accept4); the
 *                   process must not grow
 *   daemon          daemon(): the parent exits at once, the daemon accepts
 *   handler-accepts every accept made from a SIGUSR1 handler raised in the
 *                   middle of the program's own accept loop
 *   altstack        accepts from a handler that runs on an alternate signal
 *                   stack of SIGSTKSZ bytes, the size programs give it
 *
 * Each prints its results; nothing else may differ with the library.
 */
#include <dlfcn.h>
#include <linux/close_range.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/ucontext.h>
#include <sys/wait.h>

#include "case.h"

static int accept_one(int l, int flags, const char *what)
{
	errno = 0;
	int fd = accept4(l, NULL, NULL, flags);
	say("%s: %s", what, outcome(fd, errno));
	return fd;
}

/* ---- alarm-longjmp ---- */

static sigjmp_buf env;

static void on_alarm(int sig)
{
	(void)sig;
	siglongjmp(env, 1);
}

static void alarm_longjmp(void)
{
	struct sockaddr_un a;
	socklen_t alen;
	int l = listener(&a, &alen, 0);
	struct sigaction sa = { .sa_handler = on_alarm };
	MUST(sigaction(SIGALRM, &sa, NULL) == 0);
	for (int i = 0; i < 3; i++) {
		if (sigsetjmp(env, 1) == 0) {
			struct itimerval t = { { 0, 0 }, { 0, 20000 } };
			MUST(setitimer(ITIMER_REAL, &t, NULL) == 0);
			int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
			say("accept returned %d", fd);
		} else {
			say("timed out, jumped out of accept4");
		}
	}
	int c = connect_to(&a, alen);
	int fd = accept_one(l, SOCK_CLOEXEC | SOCK_NONBLOCK, "then a connection");
	close(fd);
	close(c);
}

/* ---- sigsys-broker ---- */

static void on_sigsys(int sig, siginfo_t *si, void *uc_)
{
	(void)sig, (void)si;
	ucontext_t *uc = uc_;
	uc->uc_mcontext.gregs[REG_RAX] = -EPERM;
}

static void sigsys_broker(void)
{
	struct sockaddr_un a;
	socklen_t alen;
	int l = listener(&a, &alen, 0);
	int c[3];
	for (int i = 0; i < 3; i++)
		c[i] = connect_to(&a, alen);
	/* A child of the library run's process, not sandboxed, that exits at
	 * once: the sandboxed process itself cannot write its exit report. */
	pid_t witness = fork();
	MUST(witness >= 0);
	if (witness == 0)
		exit(0);
	MUST(waitpid(witness, NULL, 0) == witness);
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
	MUST(sigaction(SIGSYS, &sa, NULL) == 0);
	static const long nrs[] = { SYS_statx, SYS_fstat, SYS_openat, SYS_getsockname,
				    SYS_getpeername };
	struct sock_filter f[32];
	unsigned short k = 0;
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, nr));
	for (size_t i = 0; i < sizeof(nrs) / sizeof(nrs[0]); i++) {
		f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nrs[i], 0, 1);
		f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP);
	}
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = { .len = k, .filter = f };
	MUST(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
	MUST(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0);
	for (int i = 0; i < 3; i++)
		close(accept_one(l, i ? SOCK_CLOEXEC : 0, "accept4 in a broker sandbox"));
	for (int i = 0; i < 3; i++)
		close(c[i]);
}

/* ---- close-range, dup2-over ---- */

static void close_range_all(void)
{
	struct sockaddr_un a;
	socklen_t alen;
	int l = listener(&a, &alen, 0);
	int c1 = connect_to(&a, alen), c2 = connect_to(&a, alen), c3 = connect_to(&a, alen);
	close(accept_one(l, SOCK_CLOEXEC, "before close_range"));
	int first_free = c3 + 1;
	MUST(syscall(SYS_close_range, first_free, ~0U, 0) == 0);
	close(accept_one(l, SOCK_CLOEXEC, "after close_range"));
	int fd = accept_one(l, 0, "and again");
	say("the next descriptor is the first free one: %s", fd == first_free ? "yes" : "no");
	close(fd);
	close(c1);
	close(c2);
	close(c3);
}

static void dup2_over(void)
{
	struct sockaddr_un a;
	socklen_t alen;
	int l = listener(&a, &alen, 0);
	int c1 = connect_to(&a, alen), c2 = connect_to(&a, alen), c3 = connect_to(&a, alen);
	close(accept_one(l, SOCK_CLOEXEC, "before dup2"));
	int mine = open("mine", O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	MUST(mine >= 0);
	MUST(dup2(mine, 960) == 960);
	MUST(write(960, "the program's own line\n", 23) == 23);
	close(accept_one(l, SOCK_CLOEXEC, "after dup2 onto 960"));
	close(accept_one(l, 0, "and again"));
	MUST(write(960, "and its last\n", 13) == 13);
	close(960);
	close(mine);
	close(c1);
	close(c2);
	close(c3);
}

/* ---- dlopen-cycles ---- */

/* A line for checks/facts_say.py, outside what is compared. */
static void fact(const char *text)
{
	const char *path = getenv("A4S_HOSTILE_FACTS");
	FILE *f = path ? fopen(path, "ae") : NULL;
	if (f) {
		fprintf(f, "%s\n", text);
		fclose(f);
	}
}

static int count_mappings(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	MUST(f != NULL);
	int n = 0, ch;
	while ((ch = fgetc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

static void dlopen_cycles(void)
{
	const char *lib = getenv("A4S_HOSTILE_LIBRARY");
	struct sockaddr_un a;
	socklen_t alen;
	int l = listener(&a, &alen, SOCK_NONBLOCK);
	int before = 0, failures = 0;
	for (int i = 0; i < 200; i++) {
		void *h = lib ? dlopen(lib, RTLD_NOW | RTLD_LOCAL) : NULL;
		if (lib && !h) {
			say("dlopen failed at cycle %d: %s", i, dlerror());
			return;
		}
		int (*fn)(int, struct sockaddr *, socklen_t *, int) = accept4;
		if (h)
			*(void **)&fn = dlsym(h, "accept4");
		if (h && i == 0) {
			/* For the check: it was the library that was loaded. */
			const char *(*config)(void);
			*(void **)&config = dlsym(h, "accept4shim_config");
			fact(config ? config() : "none");
		}
		int c = connect_to(&a, alen);
		int fd = fn(l, NULL, NULL, SOCK_CLOEXEC);
		failures += fd < 0;
		if (fd >= 0)
			close(fd);
		close(c);
		if (h)
			dlclose(h);
		if (i == 9)
			before = count_mappings();
	}
	say("200 dlopen/accept4/dlclose cycles: %d failed", failures);
	int grown = count_mappings() - before;
	say("mappings grew after the first ten cycles: %s", grown > 2 ? "yes" : "no");
}

/* ---- daemon ---- */

static void daemonized(void)
{
	struct sockaddr_un a;
	socklen_t alen;
	int l = listener(&a, &alen, 0);
	int c = connect_to(&a, alen);
	fflush(stdout);
	MUST(daemon(1, 1) == 0);
	close(accept_one(l, SOCK_CLOEXEC, "the daemon's accept4"));
	close(c);
}

/* ---- handler-accepts ---- */

static int h_listener;
static volatile sig_atomic_t h_ok, h_calls;

static void accepting_handler(int sig)
{
	(void)sig;
	int saved = errno;
	int fd = accept4(h_listener, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	h_calls++;
	h_ok += fd >= 0;
	if (fd >= 0)
		close(fd);
	errno = saved;
}

static void handler_accepts(void)
{
	struct sockaddr_un a;
	socklen_t alen;
	h_listener = listener(&a, &alen, SOCK_NONBLOCK);
	int c[20];
	for (int i = 0; i < 20; i++)
		c[i] = connect_to(&a, alen);
	struct sigaction sa = { .sa_handler = accepting_handler, .sa_flags = SA_RESTART };
	MUST(sigaction(SIGUSR1, &sa, NULL) == 0);
	int own = 0;
	for (int i = 0; i < 20; i++) {
		if (i % 2)
			raise(SIGUSR1);
		int fd = accept4(h_listener, NULL, NULL, SOCK_CLOEXEC);
		own += fd >= 0;
		if (fd >= 0)
			close(fd);
	}
	say("the loop accepted %d, the handler %d in %d calls", own, (int)h_ok, (int)h_calls);
	for (int i = 0; i < 20; i++)
		close(c[i]);
}

/* ---- altstack ---- */

static void altstack(void)
{
	struct sockaddr_un a;
	socklen_t alen;
	h_listener = listener(&a, &alen, SOCK_NONBLOCK);
	int c[3];
	for (int i = 0; i < 3; i++)
		c[i] = connect_to(&a, alen);
	static char stack[8192]; /* SIGSTKSZ, as it long was a constant */
	stack_t ss = { .ss_sp = stack, .ss_size = sizeof(stack) };
	MUST(sigaltstack(&ss, NULL) == 0);
	struct sigaction sa = { .sa_handler = accepting_handler, .sa_flags = SA_ONSTACK };
	MUST(sigaction(SIGUSR1, &sa, NULL) == 0);
	for (int i = 0; i < 4; i++)
		raise(SIGUSR1);
	say("the handler on the alternate stack accepted %d in %d calls", (int)h_ok, (int)h_calls);
	for (int i = 0; i < 3; i++)
		close(c[i]);
}

int main(int argc, char **argv)
{
	MUST(argc == 2);
	const struct {
		const char *name;
		void (*fn)(void);
	} modes[] = {
		{ "alarm-longjmp", alarm_longjmp },   { "sigsys-broker", sigsys_broker },
		{ "close-range", close_range_all },  { "dup2-over", dup2_over },
		{ "dlopen-cycles", dlopen_cycles },  { "daemon", daemonized },
		{ "handler-accepts", handler_accepts }, { "altstack", altstack },
	};
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(argv[1], modes[i].name) == 0) {
			modes[i].fn();
			return 0;
		}
	}
	fprintf(stderr, "attack: unknown mode %s\n", argv[1]);
	return 99;
}
