#include "busguard.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

/* One entry per mapped ring (and its consumer page); the collector refuses
 * hosts beyond its limit well before this. */
#define GUARDS 8192

static struct {
	atomic_uintptr_t start; /* 0: free */
	atomic_size_t size;
	atomic_bool hit;
} guards[GUARDS];
static atomic_bool installed;

static void on_sigbus(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	uintptr_t a = (uintptr_t)si->si_addr;
	for (int i = 0; i < GUARDS; i++) {
		uintptr_t s = atomic_load(&guards[i].start);
		size_t n = atomic_load(&guards[i].size);
		if (s && a >= s && a - s < n) {
			/* mmap is async-signal-safe in practice (one system
			 * call); MAP_FIXED swaps the pages in one step. */
			mmap((void *)s, n, PROT_READ | PROT_WRITE,
			     MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			atomic_store(&guards[i].hit, true);
			return;
		}
	}
	/* Not ours to forgive: die of it, with the usual core. */
	signal(sig, SIG_DFL);
}

static void install(void)
{
	if (atomic_exchange(&installed, true))
		return;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
}

int a4s_busguard_add(const void *addr, size_t size)
{
	install();
	for (int i = 0; i < GUARDS; i++) {
		uintptr_t zero = 0;
		if (atomic_load(&guards[i].start) == 0 &&
		    atomic_compare_exchange_strong(&guards[i].start, &zero, UINTPTR_MAX)) {
			atomic_store(&guards[i].size, size);
			atomic_store(&guards[i].hit, false);
			atomic_store(&guards[i].start, (uintptr_t)addr);
			return i;
		}
	}
	return -1;
}

bool a4s_busguard_hit(int handle)
{
	return handle >= 0 && atomic_load(&guards[handle].hit);
}

void a4s_busguard_remove(int handle)
{
	if (handle >= 0)
		atomic_store(&guards[handle].start, 0);
}
