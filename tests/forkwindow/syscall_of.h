/* The system call a thread of this process sits in, from
 * /proc/self/task/TID/syscall: its number, -1 while the thread runs, -2
 * when there is no such thread. Shared by the fork-window test programs. */
#ifndef A4S_FORKWINDOW_SYSCALL_OF_H
#define A4S_FORKWINDOW_SYSCALL_OF_H

#include <stdio.h>
#include <stdlib.h>

static inline long fw_syscall_of(int tid)
{
	char path[64], line[64] = "";
	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -2;
	int got = fgets(line, sizeof(line), f) != NULL;
	fclose(f);
	return got && line[0] != 'r' ? strtol(line, NULL, 10) : -1;
}

#endif
