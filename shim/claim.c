#include "claim.h"

#include <pthread.h>

#include "futex.h"
#include "self.h"
#include "taskstate.h"

enum { CLAIMS = 256 };
/* Set in a held claim while another thread sleeps on it. */
#define WAITING 0x80000000u

static atomic_uint claims[CLAIMS];

enum a4s_claimed a4s_claim_take(int fd, struct a4s_claim *c)
{
	c->word = &claims[(unsigned)fd % CLAIMS];
	c->me = (uint32_t)a4s_self_tid() & ~WAITING;
	c->held = false;
	bool waited = false;
	uint64_t start = 0;
	for (;;) {
		/* After a wait, others may still be asleep on it: keep the
		 * mark, so that giving it back wakes them. */
		unsigned w = 0;
		if (atomic_compare_exchange_strong(c->word, &w, c->me | (waited ? WAITING : 0))) {
			c->held = true;
			return waited ? A4S_CLAIMED_LATER : A4S_CLAIMED_AT_ONCE;
		}
		if ((w & ~WAITING) == c->me)
			return A4S_CLAIMED_BY_US;
		uint64_t now = a4s_monotonic_ns(), nap = 0;
		if (!start)
			start = now;
		if (!a4s_worth_waiting((int)(w & ~WAITING), now - start, &nap)) {
			if (atomic_compare_exchange_strong(c->word, &w, c->me | WAITING)) {
				c->held = true;
				return A4S_CLAIMED_LATER;
			}
			continue;
		}
		if (!(w & WAITING) && !atomic_compare_exchange_strong(c->word, &w, w | WAITING))
			continue;
		a4s_futex_wait(c->word, w | WAITING, nap);
		waited = true;
		/* We hold nothing while waiting: accept's cancellation acts. */
		pthread_testcancel();
	}
}

void a4s_claim_give_back(struct a4s_claim *c)
{
	if (!c->held)
		return;
	c->held = false;
	unsigned w = atomic_load(c->word);
	/* Taken over meanwhile: no longer ours to give. */
	while ((w & ~WAITING) == c->me) {
		if (atomic_compare_exchange_weak(c->word, &w, 0)) {
			if (w & WAITING)
				a4s_futex_wake_all(c->word);
			return;
		}
	}
}

void a4s_claim_new_process(void)
{
	for (int i = 0; i < CLAIMS; i++)
		atomic_store(&claims[i], 0);
}
