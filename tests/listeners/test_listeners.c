/*
 * Issue 12, item 3: a traced accept does not ask getsockname(listen_fd)
 * every time; the listener's address is kept per descriptor number
 * (shim/listeners.h), and a kept address must never be wrong. SPEC's
 * `local` is "the listener's address": each case changes what a number
 * names, or what address the socket it names has, the ways a program can,
 * and checks the next record says the new truth:
 *  - close, then socket, bind and listen at the same number, for every
 *    pair of families (IPv4, IPv6, AF_UNIX by path and abstract);
 *  - dup2 and dup3 of another listener over it; close, close_range and
 *    closefrom, then a new listener or a copy of one put at the number;
 *  - one socket given another address: shutdown() and listen() again (a
 *    port the kernel chose is chosen anew), connect(AF_UNSPEC), bind and
 *    listen;
 *  - a forked child that closes and reopens (its parent keeps its own), a
 *    vfork child that closes the number in its own table;
 *  - a close the C library never sees (a raw system call) and another
 *    listener put at the number by F_DUPFD: caught by our own accept getting
 *    the number, or within a second;
 *  - the number changed while a record asks its address (a trapped
 *    getsockname answered by a handler that dup2s first), and threads
 *    swapping listeners at a number while others accept on it.
 * And the point of it: the address is asked once per listener, not per
 * record (system calls counted by the harness's seccomp counter).
 *
 * Preloaded with a trace to a %p file, JSON and text.
 */
#include <arpa/inet.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <ucontext.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <accept4shim.h>
#include "harness.h"

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

/* The trace's text for an address, as the record writes it (unquoted). */
static void addr_text(const struct sockaddr_storage *ss, socklen_t len, char *out, size_t size)
{
	char ip[INET6_ADDRSTRLEN];
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(out, size, "%s:%u", ip, ntohs(in->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		snprintf(out, size, "[%s]:%u", ip, ntohs(in6->sin6_port));
	} else {
		const struct sockaddr_un *un = (const struct sockaddr_un *)ss;
		size_t n = len - offsetof(struct sockaddr_un, sun_path);
		if (n == 0)
			snprintf(out, size, "unix:");
		else if (un->sun_path[0] == '\0')
			snprintf(out, size, "unix:@%.*s", (int)n - 1, un->sun_path + 1);
		else
			snprintf(out, size, "unix:%s", un->sun_path);
	}
}

/* What the kernel says fd's address is, as the trace writes it. */
static void truth(int fd, char *out, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	T_CHECK(getsockname(fd, (struct sockaddr *)&ss, &len) == 0);
	addr_text(&ss, len, out, size);
}

/* The local address of one record (a line), "null" for none. */
static void local_of(const char *line, char *out, size_t size)
{
	bool json = line[0] == '{';
	const char *key = json ? "\"local\":" : " local=";
	const char *p = strstr(line, key);
	T_ASSERT(p, "no local in %s", line);
	p += strlen(key);
	if (json && strncmp(p, "null", 4) == 0) {
		snprintf(out, size, "null");
		return;
	}
	if (json)
		p++;
	size_t n = strcspn(p, json ? "\"" : " ");
	snprintf(out, size, "%.*s", (int)n, p);
	if (!json && strcmp(out, "-") == 0)
		snprintf(out, size, "null");
}

/* Each record's local address in turn, to fn; how many records. */
static int each_local(void (*fn)(const char *local, void *ctx), void *ctx)
{
	char path[4096];
	T_ASSERT(t_trace_path(path, sizeof(path), getpid()), "no trace in this run");
	FILE *f = fopen(path, "re");
	T_ASSERT(f, "no trace file %s: %s", path, strerror(errno));
	char *line = NULL, local[128];
	size_t cap = 0;
	int n = 0;
	while (getline(&line, &cap, f) > 0) {
		local_of(line, local, sizeof(local));
		fn(local, ctx);
		n++;
	}
	free(line);
	fclose(f);
	return n;
}

static void keep(const char *local, void *ctx)
{
	snprintf(ctx, 128, "%s", local);
}

static void last_local(char out[128])
{
	out[0] = '\0';
	T_ASSERT(each_local(keep, out) > 0, "no record");
}

/* A client connected to what fd listens on now (its queue then holds it). */
static int client_of(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	T_CHECK(getsockname(fd, (struct sockaddr *)&ss, &len) == 0);
	int c = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	T_CHECK(c >= 0);
	T_CHECK(connect(c, (struct sockaddr *)&ss, len) == 0);
	return c;
}

/* One accept on number n with a connection queued by way of fd (n's
 * listener, under another number); its record must say want. */
static void accept_at_says(int n, int fd, const char *want, const char *what)
{
	char got[128];
	int c = client_of(fd);
	int s = accept4(n, NULL, NULL, SOCK_CLOEXEC);
	T_ASSERT(s >= 0, "%s: accept4: %s", what, strerror(errno));
	close(s);
	close(c);
	last_local(got);
	T_ASSERT(strcmp(got, want) == 0, "%s: the record says local %s, the listener is %s", what,
		 got, want);
}

/* One traced accept on fd with a connection queued; the record it left
 * must say fd's address as the kernel says it now. */
static void accept_says_truth(int fd, const char *what)
{
	char want[128];
	truth(fd, want, sizeof(want));
	accept_at_says(fd, fd, want, what);
}

/* A listener of family f at exactly number n (n free, and nothing below it). */
static void listen_at(struct t_listener *l, enum t_family f, int n)
{
	t_listen(l, f, 0);
	T_ASSERT(l->fd == n, "the new listener got number %d, not %d", l->fd, n);
}

/* ---- asked once --------------------------------------------------------------- */

static void asked_once(void *arg)
{
	(void)arg;
	static const long nrs[] = { SYS_getsockname, SYS_getpeername };
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	accept_says_truth(l.fd, "first"); /* the trace file opened, the address kept */
	t_count_syscalls(nrs, 2);
	for (int i = 0; i < 20; i++)
		accept_says_truth(l.fd, "again");
	/* The test's own getsockname: two per accept_says_truth, one in
	 * t_listen. */
	long asked = t_syscalls_counted(SYS_getsockname) - 2 * 20;
	T_ASSERT(asked == 0, "the library asked getsockname %ld times for 20 records", asked);
	T_ASSERT(t_syscalls_counted(SYS_getpeername) == 20, "getpeername %ld times",
		 t_syscalls_counted(SYS_getpeername));
	/* Another listener at the number: asked once more. */
	int n = l.fd;
	close(l.fd);
	struct t_listener m;
	listen_at(&m, T_TCP4, n);
	for (int i = 0; i < 5; i++)
		accept_says_truth(m.fd, "replaced");
	asked = t_syscalls_counted(SYS_getsockname) - 2 * 25 - 1;
	T_ASSERT(asked == 1, "the library asked getsockname %ld times for the new listener", asked);
	t_close_listener(&m);
	t_trace_remove(getpid());
}

START_TEST(the_listeners_address_is_asked_once_not_per_record)
{
	T_IN_CHILD(asked_once, NULL);
}
END_TEST

/* ---- another listener at the same number ------------------------------------- */

static void replaced_by_close_and_listen(void *arg)
{
	int pair = *(int *)arg;
	enum t_family from = (enum t_family)(pair / T_FAMILIES), to = (enum t_family)(pair % T_FAMILIES);
	struct t_listener a, b;
	t_listen(&a, from, 0);
	accept_says_truth(a.fd, "the first listener");
	accept_says_truth(a.fd, "the first listener, kept");
	int n = a.fd;
	t_close_listener(&a);
	listen_at(&b, to, n);
	char what[96];
	snprintf(what, sizeof(what), "%s replaced by %s", t_family_name(from), t_family_name(to));
	accept_says_truth(b.fd, what);
	t_close_listener(&b);
	t_trace_remove(getpid());
}

START_TEST(a_new_listener_at_the_same_number_shows_its_own_address)
{
	int pair = _i;
	T_IN_CHILD(replaced_by_close_and_listen, &pair);
}
END_TEST

static void replaced_by_dup(void *arg)
{
	int how = *(int *)arg;
	struct t_listener a, b;
	t_listen(&a, T_TCP4, 0);
	t_listen(&b, T_UNIX_PATH, 0);
	accept_says_truth(a.fd, "before");
	int r = how == 0 ? dup2(b.fd, a.fd) : dup3(b.fd, a.fd, O_CLOEXEC);
	T_ASSERT(r == a.fd, "dup: %s", strerror(errno));
	accept_says_truth(a.fd, how == 0 ? "after dup2" : "after dup3");
	t_close_listener(&a);
	t_close_listener(&b);
	t_trace_remove(getpid());
}

START_TEST(dup2_and_dup3_of_another_listener_over_it)
{
	int how = _i;
	T_IN_CHILD(replaced_by_dup, &how);
}
END_TEST

/* Closed by close, close_range or closefrom (how / 2), and another
 * listener put at the number: a new socket bound and listening (how even),
 * or a copy of a listener that already listens, by F_DUPFD (how odd),
 * which no listen() announces: only the close itself tells the cache. */
static const char *const closes[] = { "close", "close_range", "closefrom" };

static void replaced_after_close(void *arg)
{
	int how = *(int *)arg;
	struct t_listener a, b, other;
	t_listen(&other, T_UNIX_ABSTRACT, 0); /* below n: closefrom keeps it */
	t_listen(&a, T_TCP6, 0);
	accept_says_truth(a.fd, "before");
	accept_says_truth(a.fd, "before, kept");
	int n = a.fd;
	if (how / 2 == 0)
		T_CHECK(close(n) == 0);
	else if (how / 2 == 1)
		T_CHECK(close_range((unsigned)n, (unsigned)n, 0) == 0);
	else
		closefrom(n); /* every number from n up: nothing of the harness's */
	T_ASSERT(fcntl(n, F_GETFD) == -1 && errno == EBADF, "number %d still open", n);
	char what[96];
	snprintf(what, sizeof(what), "after %s, %s", closes[how / 2],
		 how % 2 ? "a listener copied to the number" : "a new listener");
	if (how % 2 == 0) {
		listen_at(&b, T_TCP4, n);
		accept_says_truth(b.fd, what);
		t_close_listener(&b);
	} else {
		T_ASSERT(fcntl(other.fd, F_DUPFD_CLOEXEC, n) == n, "F_DUPFD: %s", strerror(errno));
		accept_says_truth(n, what);
		close(n);
	}
	t_close_listener(&other);
	t_trace_remove(getpid());
}

START_TEST(close_close_range_and_closefrom_then_another_listener)
{
	int how = _i;
	T_IN_CHILD(replaced_after_close, &how);
}
END_TEST

/* ---- the same socket, another address ---------------------------------------- */

static void readdressed(void *arg)
{
	int how = *(int *)arg;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	T_CHECK(fd >= 0);
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	T_CHECK(bind(fd, (struct sockaddr *)&in, sizeof(in)) == 0);
	T_CHECK(listen(fd, 16) == 0);
	accept_says_truth(fd, "before");
	char before[128], after[128];
	truth(fd, before, sizeof(before));
	if (how == 0) {
		/* Stopped and listening again: a port the kernel chose is
		 * chosen anew. */
		T_CHECK(shutdown(fd, SHUT_RDWR) == 0);
	} else {
		/* Disconnected, bound elsewhere, listening again. */
		struct sockaddr unspec = { .sa_family = AF_UNSPEC };
		T_CHECK(connect(fd, &unspec, sizeof(unspec)) == 0);
		in.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1);
		in.sin_port = 0;
		T_CHECK(bind(fd, (struct sockaddr *)&in, sizeof(in)) == 0);
	}
	T_CHECK(listen(fd, 16) == 0);
	truth(fd, after, sizeof(after));
	T_ASSERT(strcmp(before, after) != 0, "the address did not change (%s)", after);
	accept_says_truth(fd, how == 0 ? "after shutdown and listen" : "after bind and listen");
	close(fd);
	t_trace_remove(getpid());
}

START_TEST(a_listener_given_another_address_without_a_new_socket)
{
	int how = _i;
	T_IN_CHILD(readdressed, &how);
}
END_TEST

/* A stopped listener: accept fails with EINVAL, and the record says what
 * the kernel says of it then, not what was kept. Stopped by shutdown(),
 * its port (one the kernel chose) is let go, so the socket can be bound
 * elsewhere without listening again: nothing the cache hears of (bind is
 * not watched), and no address that was kept is right any more. */
static void stopped(void *arg)
{
	(void)arg;
	struct t_listener a;
	t_listen(&a, T_TCP4, 0);
	accept_says_truth(a.fd, "before");
	accept_says_truth(a.fd, "before, kept");
	char before[128], want[128], got[128];
	truth(a.fd, before, sizeof(before));
	T_CHECK(shutdown(a.fd, SHUT_RDWR) == 0);
	struct sockaddr_in in = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1) };
	T_ASSERT(bind(a.fd, (struct sockaddr *)&in, sizeof(in)) == 0, "bind: %s",
		 strerror(errno));
	truth(a.fd, want, sizeof(want));
	T_ASSERT(strcmp(before, want) != 0, "the address did not change (%s)", want);
	T_ASSERT(accept4(a.fd, NULL, NULL, 0) == -1 && errno == EINVAL, "accept4: %s",
		 strerror(errno));
	last_local(got);
	T_ASSERT(strcmp(got, want) == 0, "stopped: the record says %s, the kernel %s", got, want);
	t_close_listener(&a);
	t_trace_remove(getpid());
}

START_TEST(a_stopped_listeners_record_says_what_the_kernel_says)
{
	T_IN_CHILD(stopped, NULL);
}
END_TEST

/* ---- children ------------------------------------------------------------------ */

static void forked(void *arg)
{
	(void)arg;
	struct t_listener a, b;
	t_listen(&a, T_TCP4, 0);
	accept_says_truth(a.fd, "parent, before");
	pid_t pid = fork();
	T_CHECK(pid >= 0);
	if (pid == 0) {
		accept_says_truth(a.fd, "child, inherited");
		int n = a.fd;
		close(a.fd);
		listen_at(&b, T_UNIX_ABSTRACT, n);
		accept_says_truth(b.fd, "child, reopened");
		t_trace_remove(getpid());
		t_count_work();
		_exit(0);
	}
	int status;
	T_CHECK(waitpid(pid, &status, 0) == pid);
	T_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child failed");
	accept_says_truth(a.fd, "parent, after");
	t_close_listener(&a);
	t_trace_remove(getpid());
}

START_TEST(a_child_that_closes_and_reopens_leaves_its_parent_its_own)
{
	T_IN_CHILD(forked, NULL);
}
END_TEST

static void vforked(void *arg)
{
	(void)arg;
	struct t_listener a;
	t_listen(&a, T_TCP4, 0);
	accept_says_truth(a.fd, "before");
	/* The child shares our memory, not our descriptor table: its close
	 * pins our entry, and we ask again; nothing wrong either way. */
	pid_t pid = vfork();
	if (pid == 0) {
		close(a.fd);
		_exit(0);
	}
	T_CHECK(pid > 0);
	int status;
	T_CHECK(waitpid(pid, &status, 0) == pid);
	accept_says_truth(a.fd, "after the vfork child closed its copy");
	t_close_listener(&a);
	t_trace_remove(getpid());
}

START_TEST(a_vfork_child_closing_the_number_changes_nothing_here)
{
	T_IN_CHILD(vforked, NULL);
}
END_TEST

/* ---- behind the C library's back ----------------------------------------------- */

static void unseen(void *arg)
{
	int how = *(int *)arg;
	struct t_listener a, b, other;
	t_listen(&a, T_TCP4, 0);
	t_listen(&b, T_UNIX_PATH, 0);
	t_listen(&other, T_TCP6, 0);
	accept_says_truth(a.fd, "before");
	int n = a.fd;
	int c = client_of(other.fd); /* before n is free */
	T_CHECK(syscall(SYS_close, n) == 0); /* a close the library does not see */
	if (how == 0) {
		/* Our accept gets number n: whatever was kept for it is let
		 * go, and n is then closed the same way. */
		int s = accept4(other.fd, NULL, NULL, SOCK_CLOEXEC);
		T_ASSERT(s == n, "the accept got %d, not %d", s, n);
		T_CHECK(syscall(SYS_close, s) == 0);
	}
	close(c);
	T_ASSERT(fcntl(b.fd, F_DUPFD_CLOEXEC, n) == n, "F_DUPFD: %s", strerror(errno));
	if (how == 1) {
		/* Nothing told the library: the kept address may be used for
		 * up to a second, then it is asked again. */
		struct timespec t = { 1, 100 * 1000 * 1000 };
		nanosleep(&t, NULL);
	}
	accept_says_truth(n, how == 0 ? "after our accept got the number"
				      : "a second after a raw close");
	close(n);
	t_close_listener(&a);
	t_close_listener(&b);
	t_close_listener(&other);
	t_trace_remove(getpid());
}

START_TEST(a_close_behind_the_libraries_back_is_caught)
{
	int how = _i;
	T_IN_CHILD(unseen, &how);
}
END_TEST

/* ---- a change while the address is being asked --------------------------------- */

/*
 * The one interleaving threads hit too rarely to test by chance: a record
 * has claimed the entry and asks getsockname, and the number is changed
 * before it stores the answer. The answer must not be kept. Here the
 * library's getsockname on the number traps (seccomp SECCOMP_RET_TRAP), and
 * the SIGSYS handler answers it: the first time it first dup2s another
 * listener over the number (as another thread would), then answers with
 * the address the number had (as a getsockname just before that dup2
 * would); every other time, with the address the number has. The next
 * record must say the new listener.
 */
static struct sockaddr_storage asked_addr[2];
static socklen_t asked_len[2];
static int asked_n, asked_at, asked_other_fd;
static volatile sig_atomic_t asked_armed, asked_traps;

static void answer_getsockname(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	(void)si;
#ifdef __x86_64__
	greg_t *g = ((ucontext_t *)ctx)->uc_mcontext.gregs;
	int which = asked_at;
	if (asked_armed) {
		asked_armed = 0;
		int saved = errno;
		if (dup2(asked_other_fd, asked_n) == asked_n)
			asked_at = 1 - asked_at;
		errno = saved;
	}
	struct sockaddr *out = (struct sockaddr *)g[REG_RSI];
	socklen_t *len = (socklen_t *)g[REG_RDX];
	socklen_t n = *len < asked_len[which] ? *len : asked_len[which];
	memcpy(out, &asked_addr[which], n);
	*len = asked_len[which];
	g[REG_RAX] = 0;
	asked_traps++;
#else
	(void)ctx;
#endif
}

static void trap_getsockname_of(int n)
{
#ifdef __x86_64__
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getsockname, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)n, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };
	struct sigaction sa = { .sa_sigaction = answer_getsockname, .sa_flags = SA_SIGINFO };
	T_CHECK(sigaction(SIGSYS, &sa, NULL) == 0);
	T_CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
	T_CHECK(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0);
#else
	(void)n;
	T_ASSERT(0, "this case answers a trapped system call from its registers: x86-64 only");
#endif
}

static void changed_while_asked(void *arg)
{
	(void)arg;
	t_trace_open();
	struct t_listener a, b;
	t_listen(&a, T_TCP4, 0);
	t_listen(&b, T_UNIX_ABSTRACT, 0);
	char ta[128], tb[128];
	truth(a.fd, ta, sizeof(ta));
	truth(b.fd, tb, sizeof(tb));
	for (int i = 0; i < 2; i++) {
		asked_len[i] = sizeof(asked_addr[i]);
		T_CHECK(getsockname(i ? b.fd : a.fd, (struct sockaddr *)&asked_addr[i],
				    &asked_len[i]) == 0);
	}
	asked_n = dup(a.fd);
	T_CHECK(asked_n >= 0);
	asked_at = 0;
	asked_other_fd = b.fd;
	trap_getsockname_of(asked_n);
	asked_armed = 1;
	/* Asked, and changed under the asking: this record says what the
	 * number was when asked (a.fd's listener accepted it). */
	accept_at_says(asked_n, a.fd, ta, "changed while asked");
	T_ASSERT(asked_traps == 1 && !asked_armed && asked_at == 1,
		 "the library did not ask getsockname (%d times)", (int)asked_traps);
	/* The number is b's listener now: nothing kept may say a's. */
	accept_at_says(asked_n, b.fd, tb, "the next record");
	accept_at_says(asked_n, b.fd, tb, "and the one after");
	close(asked_n);
	t_close_listener(&a);
	t_close_listener(&b);
	t_trace_remove(getpid());
}

START_TEST(an_address_asked_while_the_number_changes_is_not_kept)
{
	T_IN_CHILD(changed_while_asked, NULL);
}
END_TEST

/* ---- threads ------------------------------------------------------------------- */

static struct t_listener race_a, race_b;
static int race_n;
static atomic_bool race_stop;
static int race_how;

static void *swapper(void *arg)
{
	(void)arg;
	for (unsigned i = 0; !atomic_load(&race_stop); i++) {
		int from = i & 1 ? race_a.fd : race_b.fd;
		if (race_how == 0) {
			T_ASSERT(dup2(from, race_n) == race_n, "dup2: %s", strerror(errno));
		} else {
			close(race_n);
			/* A concurrent accept4 reserves the lowest free number
			 * while it looks at the queue (the kernel does, before
			 * it knows it is empty): try again until n is ours. */
			int got, tries = 0;
			while ((got = fcntl(from, F_DUPFD_CLOEXEC, race_n)) != race_n) {
				T_ASSERT(got > race_n && ++tries < 100000, "F_DUPFD: %d: %s", got,
					 strerror(errno));
				close(got);
			}
		}
	}
	return NULL;
}

static void *accepter(void *arg)
{
	int *calls = arg;
	for (int i = 0; i < 1500; i++) {
		int s = accept4(race_n, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (s >= 0)
			close(s);
		(*calls)++;
	}
	return NULL;
}

struct either {
	const char *a, *b;
	int seen, from; /* records before `from` are not the race's */
};

static void one_of_two(const char *local, void *ctx)
{
	struct either *e = ctx;
	T_ASSERT(e->seen < e->from || !strcmp(local, e->a) || !strcmp(local, e->b) ||
			 !strcmp(local, "null"),
		 "record %d says local %s (the listeners: %s, %s)", e->seen, local, e->a, e->b);
	e->seen++;
}

static void count(const char *local, void *ctx)
{
	(void)local;
	++*(int *)ctx;
}

static void raced(void *arg)
{
	race_how = *(int *)arg;
	/* The trace open first: opening it takes the lowest free number for
	 * a moment, which the swapper's F_DUPFD would then not get. */
	t_trace_open();
	t_listen(&race_a, T_TCP4, SOCK_NONBLOCK);
	t_listen(&race_b, T_UNIX_ABSTRACT, SOCK_NONBLOCK);
	race_n = dup(race_a.fd);
	T_CHECK(race_n >= 0);
	char ta[128], tb[128];
	truth(race_a.fd, ta, sizeof(ta));
	truth(race_b.fd, tb, sizeof(tb));
	int before = 0;
	each_local(count, &before);
	for (int round = 0; round < 3; round++) {
		atomic_store(&race_stop, false);
		pthread_t sw, ac[2];
		int calls[2] = { 0, 0 };
		T_ASSERT(pthread_create(&sw, NULL, swapper, NULL) == 0, "pthread_create");
		for (int i = 0; i < 2; i++)
			T_ASSERT(pthread_create(&ac[i], NULL, accepter, &calls[i]) == 0,
				 "pthread_create");
		for (int i = 0; i < 2; i++)
			T_ASSERT(pthread_join(ac[i], NULL) == 0, "pthread_join");
		atomic_store(&race_stop, true);
		T_ASSERT(pthread_join(sw, NULL) == 0, "pthread_join");
		/* Every record says one of the two, or none (the number closed
		 * at that moment), never anything else. */
		struct either e = { ta, tb, 0, before };
		int n = each_local(one_of_two, &e) - before;
		T_ASSERT(n >= calls[0] + calls[1], "%d records for %d calls", n, calls[0] + calls[1]);
		/* Quiet now: the next records say exactly what is there. */
		for (int k = 0; k < 2; k++) {
			T_CHECK(dup2(k ? race_b.fd : race_a.fd, race_n) == race_n);
			accept_says_truth(race_n, k ? "settled on the second" : "settled on the first");
		}
	}
	t_trace_remove(getpid());
	close(race_n);
	t_close_listener(&race_a);
	t_close_listener(&race_b);
}

START_TEST(threads_swapping_listeners_at_a_number_while_others_accept_on_it)
{
	int how = _i;
	T_IN_CHILD(raced, &how);
}
END_TEST

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	Suite *s = suite_create("listeners");
	TCase *tc = tcase_create("listener addresses");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, the_listeners_address_is_asked_once_not_per_record);
	tcase_add_loop_test(tc, a_new_listener_at_the_same_number_shows_its_own_address, 0,
			    T_FAMILIES * T_FAMILIES);
	tcase_add_loop_test(tc, dup2_and_dup3_of_another_listener_over_it, 0, 2);
	tcase_add_loop_test(tc, close_close_range_and_closefrom_then_another_listener, 0, 6);
	tcase_add_loop_test(tc, a_listener_given_another_address_without_a_new_socket, 0, 2);
	tcase_add_test(tc, a_stopped_listeners_record_says_what_the_kernel_says);
	tcase_add_test(tc, a_child_that_closes_and_reopens_leaves_its_parent_its_own);
	tcase_add_test(tc, a_vfork_child_closing_the_number_changes_nothing_here);
	tcase_add_loop_test(tc, a_close_behind_the_libraries_back_is_caught, 0, 2);
	tcase_add_test(tc, an_address_asked_while_the_number_changes_is_not_kept);
	tcase_add_loop_test(tc, threads_swapping_listeners_at_a_number_while_others_accept_on_it,
			    0, 2);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
