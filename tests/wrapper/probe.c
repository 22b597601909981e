/*
 * What a program run by accept4shim sees: its pid, whether the library is
 * loaded, the variables, its arguments; or it exits or dies as told.
 *   probe env | probe args A... | probe exit N | probe kill SIGNO
 *   probe all A...: loaded=N, then its name, each argument and each
 *   variable of its environment (sorted), one [...] per line
 * Also built statically (no PT_INTERP), for the wrapper's warning.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accept4shim.h"

#pragma weak accept4shim_version

static const char *const names[] = {
	"LD_PRELOAD", "ACCEPT4SHIM_MODE", "ACCEPT4SHIM_INHERIT", "ACCEPT4SHIM_RETRY",
	"ACCEPT4SHIM_ADD_FLAGS", "ACCEPT4SHIM_LOG", "ACCEPT4SHIM_LOG_FORMAT", "ACCEPT4SHIM_LOG_SKIP",
	"ACCEPT4SHIM_STATS", "ACCEPT4SHIM_STATS_INTERVAL",
};

extern char **environ;

static int by_string(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "all") == 0) {
		printf("loaded=%d\n", accept4shim_version != NULL);
		for (int i = 0; i < argc; i++)
			printf("arg [%s]\n", argv[i]);
		size_t n = 0;
		while (environ[n])
			n++;
		qsort(environ, n, sizeof(*environ), by_string);
		for (size_t i = 0; i < n; i++)
			printf("env [%s]\n", environ[i]);
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "env") == 0) {
		printf("pid=%d\n", (int)getpid());
		printf("loaded=%d\n", accept4shim_version != NULL);
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			const char *v = getenv(names[i]);
			printf("%s%s%s\n", names[i], v ? "=" : " unset", v ? v : "");
		}
	} else if (argc >= 2 && strcmp(argv[1], "args") == 0) {
		for (int i = 2; i < argc; i++)
			printf("[%s]\n", argv[i]);
	} else if (argc >= 3 && strcmp(argv[1], "exit") == 0) {
		return atoi(argv[2]);
	} else if (argc >= 3 && strcmp(argv[1], "kill") == 0) {
		fflush(stdout);
		raise(atoi(argv[2]));
		return 99;
	}
	return 0;
}
