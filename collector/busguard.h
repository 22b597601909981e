/*
 * A SIGBUS from another process's shared memory must not kill the
 * collector. The rings are sealed against shrinking, which is what usually
 * raises it, but a page the kernel cannot supply (memory exhausted in the
 * host's cgroup, a file system error) raises it too. A fault inside a
 * guarded mapping replaces that mapping with zero pages, so the faulting
 * read is repeated and reads zeros, and marks it broken; a fault anywhere
 * else is the collector's own bug and kills it as usual. This is how
 * Wayland compositors read their clients' shared memory.
 */
#ifndef A4S_BUSGUARD_H
#define A4S_BUSGUARD_H

#include <stdbool.h>
#include <stddef.h>

/* Guards [addr, addr + size). Returns a handle, or -1 when the table is
 * full (the caller then refuses the mapping). */
int a4s_busguard_add(const void *addr, size_t size);
/* Whether a fault has hit the mapping since it was added. */
bool a4s_busguard_hit(int handle);
void a4s_busguard_remove(int handle);

#endif
