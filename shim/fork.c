#include "fork.h"

#include <pthread.h>

#include "init.h"
#include "self.h"
#include "sink.h"
#include "stats.h"
#include "window.h"

static void after_fork_in_child(void)
{
	a4s_init_after_fork();
	a4s_self_forget();
	a4s_stats_reset();
	a4s_sink_after_fork();
	a4s_window_new_process();
}

void a4s_fork_register(void)
{
	pthread_atfork(NULL, NULL, after_fork_in_child);
}
