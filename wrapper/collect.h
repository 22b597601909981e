/*
 * accept4shim --collect: COMMAND run under a private accept4shim-collector
 * for its lifetime (docs/collector.md, "The wrapper's --collect").
 */
#ifndef A4S_WRAPPER_COLLECT_H
#define A4S_WRAPPER_COLLECT_H

/*
 * Starts accept4shim-collector (found next to this command) on a socket in
 * a fresh private directory, with collector_args (NULL-terminated, its
 * options but --socket), sets ACCEPT4SHIM_LOG=collector:SOCKET, and runs
 * command. Returns when command and every process it made have exited (the
 * wrapper is their subreaper) and the collector, told then to stop, has
 * written what their rings hold: command's exit status, or 128 + the
 * signal that ended it after raising that signal in the wrapper itself
 * (so that a shell sees what it would have seen without the wrapper).
 * 125 when the collector cannot be started, 126 or 127 when command cannot
 * be run, with a message.
 */
int a4s_run_collected(char **command, const char *const collector_args[]);

#endif
