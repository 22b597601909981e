/*
 * Making a child is a writer's pass through the fork-window gate
 * (gate.h). fork() is covered by pthread_atfork handlers registered at
 * load, before any the program registers: the prepare handlers run in the
 * reverse order of registration, so ours is the last before the clone,
 * after the program's own have taken their locks, and ours is the first
 * after it, in the parent and in the child. vfork, _Fork, posix_spawn and
 * posix_spawnp run no handlers: spawn.c interposes them, with
 * a4s_children_begin and a4s_children_end around the real call.
 */
#ifndef A4S_CHILDREN_H
#define A4S_CHILDREN_H

#include "gate.h"

/* Registers the fork handlers; once, at load. */
A4S_HIDDEN void a4s_children_register(void);

/* Around a call that makes a child; both keep errno as it was. */
A4S_HIDDEN void a4s_children_begin(struct a4s_gate_pass *p);
A4S_HIDDEN void a4s_children_end(const struct a4s_gate_pass *p);

#endif
