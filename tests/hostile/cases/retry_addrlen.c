/*
 * Issue 10, item 1: with RETRY=on, a retryable error and any addrlen the
 * program may pass. A sandbox (the policy in argv[1]) answers accept and
 * accept4 with a retryable error, so the library retries and, on its first
 * failure, has to decide whether *addrlen can be read to be put back. Each
 * kind of pointer, with addr NULL (the kernel then ignores addrlen) and with
 * a real addr, through accept and accept4: the result and errno as without
 * the library, and the length, where it can be read, unchanged.
 */
#include <stdint.h>
#include <sys/mman.h>

#include "case.h"

#define PAGE 4096

int main(int argc, char **argv)
{
	MUST(argc == 2);
	/* Three pages: read-write, nothing, read-only. */
	char *p = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	MUST(p != MAP_FAILED);
	socklen_t v = 110;
	memcpy(p + 1, &v, sizeof(v));            /* misaligned */
	memcpy(p + PAGE - 2, &v, 2);             /* straddling into the hole */
	memcpy(p + 2 * PAGE, &v, sizeof(v));     /* read-only, below */
	MUST(mprotect(p + PAGE, PAGE, PROT_NONE) == 0);
	MUST(mprotect(p + 2 * PAGE, PAGE, PROT_READ) == 0);
	socklen_t on_stack = 110;
	/* A page of a file past its end: reading it raises SIGBUS. */
	FILE *tmp = tmpfile();
	MUST(tmp != NULL);
	void *past_end = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fileno(tmp), 0);
	MUST(past_end != MAP_FAILED);

	const struct {
		const char *name;
		void *len;
		bool readable;
	} kinds[] = {
		{ "NULL", NULL, false },
		{ "wild (socklen_t *)1", (void *)1, false },
		{ "unmapped", p + PAGE, false },
		{ "misaligned", p + 1, true },
		{ "straddling a page end", p + PAGE - 2, false },
		{ "read-only", p + 2 * PAGE, true },
		{ "kernel address", (void *)0xffff888000000000ull, false },
		{ "a file's page past its end", past_end, false },
		{ "valid", &on_stack, true },
	};
	struct sockaddr_un a;
	socklen_t alen;
	int l = listener(&a, &alen, 0);
	refuse_from(argv[1]);

	struct sockaddr_storage peer;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		for (int with_addr = 0; with_addr < 2; with_addr++) {
			for (int call = 0; call < 3; call++) {
				struct sockaddr *addr = with_addr ? (struct sockaddr *)&peer : NULL;
				errno = 0;
				int r = call == 0 ? accept(l, addr, kinds[k].len)
					: accept4(l, addr, kinds[k].len,
						  call == 1 ? 0 : SOCK_CLOEXEC | SOCK_NONBLOCK);
				int err = errno;
				socklen_t after = 0;
				if (kinds[k].readable)
					memcpy(&after, kinds[k].len, sizeof(after));
				say("%s addr=%s addrlen=%s: %s, length %u",
				    call == 0 ? "accept" : call == 1 ? "accept4(0)" : "accept4(flags)",
				    with_addr ? "buffer" : "NULL", kinds[k].name, outcome(r, err),
				    (unsigned)after);
				if (r >= 0)
					close(r);
			}
		}
	}
	return 0;
}
