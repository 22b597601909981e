/*
 * prep STEP... -- PROGRAM [ARG]...: changes the process the way a hostile
 * environment does, then execs PROGRAM (the library, preloaded, starts
 * again in it, already under these conditions).
 *   nofile=N      RLIMIT_NOFILE soft and hard limit N
 *   as=+MB        RLIMIT_AS: the address space now in use plus MB
 *   fsize=BYTES   RLIMIT_FSIZE
 *   close=FD      close descriptor FD (0, 1 or 2) before the exec
 *   nulls=FD      put /dev/null on FD
 */
#include <sys/resource.h>

#include "case.h"

static unsigned long long vm_size(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	MUST(f != NULL);
	char line[256];
	unsigned long long kb = 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmSize: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return kb * 1024;
}

int main(int argc, char **argv)
{
	int i = 1;
	for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
		char *v = strchr(argv[i], '=');
		MUST(v != NULL);
		v++;
		if (strncmp(argv[i], "nofile=", 7) == 0) {
			struct rlimit r = { strtoull(v, NULL, 10), strtoull(v, NULL, 10) };
			MUST(setrlimit(RLIMIT_NOFILE, &r) == 0);
		} else if (strncmp(argv[i], "as=+", 4) == 0) {
			/* The exec starts over with its own mappings: leave room
			 * for those, the limit bites on what comes after. */
			rlim_t lim = vm_size() + strtoull(v + 1, NULL, 10) * 1024 * 1024;
			struct rlimit r = { lim, lim };
			MUST(setrlimit(RLIMIT_AS, &r) == 0);
		} else if (strncmp(argv[i], "fsize=", 6) == 0) {
			struct rlimit r = { strtoull(v, NULL, 10), RLIM_INFINITY };
			MUST(setrlimit(RLIMIT_FSIZE, &r) == 0);
		} else if (strncmp(argv[i], "close=", 6) == 0) {
			close(atoi(v));
		} else if (strncmp(argv[i], "nulls=", 6) == 0) {
			int fd = open("/dev/null", O_RDWR);
			MUST(fd >= 0);
			if (fd != atoi(v)) {
				MUST(dup2(fd, atoi(v)) == atoi(v));
				close(fd);
			}
		} else {
			fprintf(stderr, "prep: unknown step %s\n", argv[i]);
			return 99;
		}
	}
	MUST(i + 1 < argc);
	execv(argv[i + 1], argv + i + 1);
	fprintf(stderr, "prep: %s: %s\n", argv[i + 1], strerror(errno));
	return 127;
}
