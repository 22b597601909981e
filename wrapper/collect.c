/*
 * accept4shim --collect --log=DEST ... -- COMMAND
 *
 * Three processes: the wrapper, which starts the collector and waits; the
 * collector; and a reaper, which runs COMMAND and, being the subreaper of
 * everything COMMAND starts (PR_SET_CHILD_SUBREAPER), waits until all of it
 * has exited, daemons that detached included. Only then is the collector
 * told to stop (SIGTERM: it takes what the rings hold, writes it, removes
 * its socket and exits); every traced process has exited by then, so its
 * socket has ended and its ring is complete. The collector is not the
 * reaper's child, so "every process COMMAND made has exited" is simply the
 * reaper's wait() finding no child left.
 *
 * Signals: SIGINT and SIGQUIT from the terminal reach COMMAND by
 * themselves (same process group), so the wrapper and the reaper ignore
 * them, as a shell does for its foreground job; SIGTERM and SIGHUP sent to
 * the wrapper are passed to COMMAND. The collector runs in a session of
 * its own, so a Ctrl-C meant for COMMAND does not stop it before COMMAND's
 * last records, and it gets SIGTERM if the wrapper dies (PR_SET_PDEATHSIG).
 */
#include "collect.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "library.h"

enum { EXIT_OWN_FAILURE = 125, EXIT_CANNOT_RUN = 126, EXIT_NOT_FOUND = 127 };

#define COLLECTOR_NAME "accept4shim-collector"
/* How long the collector may take to listen. */
#define START_WAIT_MS 10000

static volatile sig_atomic_t forward_to;

static void forward(int sig)
{
	if (forward_to > 0)
		kill((pid_t)forward_to, sig);
}

static void signals_for_waiting(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
}

static void signals_default(void)
{
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
}

/* Ends this process as status says the child ended: its exit code, or its
 * signal raised here (no core file of ours). */
static void __attribute__((noreturn)) end_like(int status)
{
	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		struct rlimit none = { 0, 0 };
		setrlimit(RLIMIT_CORE, &none);
		signal(sig, SIG_DFL);
		sigset_t s;
		sigemptyset(&s);
		sigaddset(&s, sig);
		sigprocmask(SIG_UNBLOCK, &s, NULL);
		kill(getpid(), sig);
		_exit(128 + sig); /* a signal that does not end a process */
	}
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : EXIT_OWN_FAILURE);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* The collector, with --socket=sock and args. */
static pid_t start_collector(const char *program, const char *sock,
			     const char *const args[])
{
	char socket_opt[PATH_MAX + 16];
	snprintf(socket_opt, sizeof(socket_opt), "--socket=%s", sock);
	/* Copies: execv's argv is not const. */
	char *argv[16];
	int n = 0;
	argv[n++] = strdup(program);
	argv[n++] = socket_opt;
	for (int i = 0; args[i] && n < 15; i++)
		argv[n++] = strdup(args[i]);
	argv[n] = NULL;
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	setsid();
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(EXIT_OWN_FAILURE); /* the wrapper died before the line above */
	signals_default();
	/* The collector is not traced: it must not feed on itself. */
	unsetenv("LD_PRELOAD");
	execv(program, argv);
	fprintf(stderr, "accept4shim: cannot run %s: %s\n", program, strerror(errno));
	_exit(EXIT_OWN_FAILURE);
}

/* Until the socket is there (the collector renames it into place once it
 * listens), or the collector has exited. */
static bool wait_listening(pid_t collector, const char *sock, int *status)
{
	for (int waited = 0; waited < START_WAIT_MS; waited += 5) {
		struct stat st;
		if (stat(sock, &st) == 0 && S_ISSOCK(st.st_mode))
			return true;
		if (waitpid(collector, status, WNOHANG) == collector)
			return false;
		sleep_ms(5);
	}
	kill(collector, SIGKILL);
	waitpid(collector, status, 0);
	return false;
}

/* The reaper: COMMAND, then every process that ends up ours. */
static void __attribute__((noreturn)) reap(char **command)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	pid_t pid = fork();
	if (pid < 0) {
		perror("accept4shim: fork");
		_exit(EXIT_OWN_FAILURE);
	}
	if (pid == 0) {
		signals_default();
		execvp(command[0], command);
		int err = errno;
		fprintf(stderr, "accept4shim: '%s': %s\n", command[0], strerror(err));
		_exit(err == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN);
	}
	forward_to = pid;
	int command_status = 0, status;
	for (;;) {
		pid_t got = wait(&status);
		if (got == pid) {
			command_status = status;
			forward_to = 0;
		} else if (got < 0 && errno == ECHILD) {
			break;
		}
	}
	end_like(command_status);
}

int a4s_run_collected(char **command, const char *const collector_args[])
{
	char program[PATH_MAX];
	if (!a4s_dir_of_self(program, sizeof(program) - sizeof(COLLECTOR_NAME) - 1)) {
		fputs("accept4shim: --collect: cannot tell where this command is\n", stderr);
		return EXIT_OWN_FAILURE;
	}
	strcat(program, "/" COLLECTOR_NAME);
	if (access(program, X_OK) != 0) {
		fprintf(stderr, "accept4shim: --collect: cannot run %s: %s\n", program,
			strerror(errno));
		return EXIT_OWN_FAILURE;
	}

	/* The socket's directory: private to this run, ours, 0700, which is
	 * what the collector demands. */
	const char *tmp = getenv("TMPDIR");
	char dir[96];
	if (!tmp || tmp[0] != '/' || strlen(tmp) > 60)
		tmp = "/tmp";
	snprintf(dir, sizeof(dir), "%s/accept4shim-XXXXXX", tmp);
	if (!mkdtemp(dir)) {
		fprintf(stderr, "accept4shim: --collect: cannot make a directory in %s: %s\n", tmp,
			strerror(errno));
		return EXIT_OWN_FAILURE;
	}
	/* Run as root, the command may have workers that drop privileges
	 * (nginx's run as nobody) and must still reach the socket: the
	 * directory is then searchable (0711, still writable by root alone,
	 * as the collector demands), the socket is 0666 (a root collector
	 * serves every user's processes, docs/collector.md), and the
	 * directory's random name is what keeps others out of it. */
	if (geteuid() == 0 && chmod(dir, 0711) != 0) {
		perror("accept4shim: --collect");
		rmdir(dir);
		return EXIT_OWN_FAILURE;
	}
	char sock[128], log[160];
	snprintf(sock, sizeof(sock), "%s/sock", dir);
	snprintf(log, sizeof(log), A4S_COLLECTOR_PREFIX "%s", sock);

	fflush(NULL);
	pid_t collector = start_collector(program, sock, collector_args);
	int status = 0;
	if (collector < 0 || !wait_listening(collector, sock, &status)) {
		fprintf(stderr, "accept4shim: --collect: the collector did not start\n");
		rmdir(dir);
		return EXIT_OWN_FAILURE;
	}
	if (setenv("ACCEPT4SHIM_LOG", log, 1) != 0) {
		perror("accept4shim");
		kill(collector, SIGTERM);
		waitpid(collector, NULL, 0);
		rmdir(dir);
		return EXIT_OWN_FAILURE;
	}

	signals_for_waiting();
	fflush(NULL);
	pid_t reaper = fork();
	if (reaper == 0)
		reap(command);
	if (reaper > 0) {
		forward_to = reaper;
		while (waitpid(reaper, &status, 0) < 0 && errno == EINTR)
			;
		forward_to = 0;
	} else {
		perror("accept4shim: fork");
		status = EXIT_OWN_FAILURE << 8;
	}

	/* Everything COMMAND started has exited: the rings are complete. */
	int collector_status;
	kill(collector, SIGTERM);
	while (waitpid(collector, &collector_status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(collector_status) || WEXITSTATUS(collector_status) != 0)
		fprintf(stderr, "accept4shim: --collect: the collector ended with status %d\n",
			WIFEXITED(collector_status) ? WEXITSTATUS(collector_status)
						    : 128 + WTERMSIG(collector_status));
	unlink(sock); /* removed by the collector; not if it was killed */
	rmdir(dir);
	end_like(status);
}
