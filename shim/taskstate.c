#include "taskstate.h"

#include "gate.h"
#include "self.h"
#include "text.h"

char a4s_stat_state(const char *line, size_t len)
{
	size_t close = len;
	for (size_t i = 0; i < len; i++)
		if (line[i] == ')')
			close = i;
	return close + 2 < len && line[close + 1] == ' ' ? line[close + 2] : 0;
}

enum a4s_task_state a4s_task_state(int tid)
{
	if (a4s_sysret(syscall(SYS_tgkill, a4s_self_pid(), tid, 0)) == -ESRCH)
		return A4S_TASK_GONE;
	char path[48];
	struct a4s_buf b = A4S_BUF_INIT(path);
	a4s_put(&b, "/proc/self/task/");
	a4s_put_u64(&b, (uint64_t)tid);
	a4s_put(&b, "/stat");
	a4s_put_char(&b, '\0');
	if (b.full)
		return A4S_TASK_UNKNOWN;
	int fd = a4s_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC | O_NOCTTY, 0);
	if (fd == -ENOENT || fd == -ESRCH)
		return A4S_TASK_GONE;
	if (fd < 0)
		return A4S_TASK_UNKNOWN;
	/* The state sits within the first few dozen bytes: the command
	 * name is at most 15 of them. */
	char line[96];
	long n = a4s_sysret(syscall(SYS_read, fd, line, sizeof(line)));
	a4s_close(fd);
	if (n <= 0)
		return n == -ESRCH ? A4S_TASK_GONE : A4S_TASK_UNKNOWN;
	switch (a4s_stat_state(line, (size_t)n)) {
	case 'R': /* running or runnable: preempted */
	case 'D': /* a page fault, lock_sock: it comes back by itself */
		return A4S_TASK_RUNS;
	case 0:
		return A4S_TASK_UNKNOWN;
	case 'Z': /* exited, not yet reaped */
	case 'X':
		return A4S_TASK_GONE;
	default: /* S, T, t, I, P */
		return A4S_TASK_ASLEEP;
	}
}

bool a4s_worth_waiting(int tid, uint64_t waited, uint64_t *nap)
{
	if (waited < A4S_GATE_FIRST_LOOK_NS) {
		*nap = A4S_GATE_FIRST_LOOK_NS - waited;
		return true;
	}
	enum a4s_task_state st = tid > 0 ? a4s_task_state(tid) : A4S_TASK_UNKNOWN;
	uint64_t limit = st == A4S_TASK_GONE	 ? 0
			 : st == A4S_TASK_ASLEEP ? A4S_GATE_SHORT_WAIT_NS
						 : A4S_GATE_LONG_WAIT_NS;
	if (waited >= limit)
		return false;
	*nap = limit - waited < 5 * A4S_MS ? limit - waited : 5 * A4S_MS;
	return true;
}
