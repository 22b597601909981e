/*
 * One accepter at a time per blocking listener, among this process's
 * threads. poll wakes every thread waiting on a listener when one
 * connection comes; only one of them may then go into the fork-window gate
 * and accept, or the others would block in accept inside the gate and
 * hold up every fork. A thread takes the claim, then looks whether a
 * connection is there (window.c), and accepts while it holds it; the
 * others wait for the claim to be given back and look in their turn.
 *
 * No lock: a claim is an atomic word, the holder's kernel thread id. A
 * holder is waited for as a4s_worth_waiting (taskstate.h) says: while it
 * runs, up to A4S_GATE_LONG_WAIT_NS; asleep in the kernel or stopped (in
 * an accept another process won), A4S_GATE_SHORT_WAIT_NS; gone (cancelled
 * in accept, it never gives the claim back), A4S_GATE_FIRST_LOOK_NS. Its
 * claim is then taken over, and its own give-back does nothing. The waiter
 * holds nothing meanwhile, and a cancel acts on it between naps. Listeners share claims by
 * descriptor number modulo a table size: two sharing one only take turns.
 */
#ifndef A4S_CLAIM_H
#define A4S_CLAIM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "gate.h"

struct a4s_claim {
	atomic_uint *word;
	uint32_t me; /* our thread id */
	bool held;
};

enum a4s_claimed {
	A4S_CLAIMED_AT_ONCE, /* nobody had it */
	A4S_CLAIMED_LATER,   /* after another thread had it */
	A4S_CLAIMED_BY_US,   /* our own thread holds it lower down the stack (a
			      * signal handler accepts): go on, giving nothing back */
};

A4S_HIDDEN enum a4s_claimed a4s_claim_take(int fd, struct a4s_claim *c);
A4S_HIDDEN void a4s_claim_give_back(struct a4s_claim *c);
/* In a new process: the holders were other threads. */
A4S_HIDDEN void a4s_claim_new_process(void);

#endif
