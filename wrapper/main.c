/*
 * accept4shim [OPTION]... [--] COMMAND [ARG]...
 *
 * Runs COMMAND with libaccept4shim.so first in LD_PRELOAD and the
 * ACCEPT4SHIM_* variables set from the options. It execs, never forks, so
 * the command keeps the wrapper's pid, its signals and its exit status;
 * except with --collect, which runs COMMAND under a private collector
 * (collect.c) and waits for it.
 *
 * Option values are checked with the library's own parsers (shim/config.c
 * is compiled in), so the wrapper accepts exactly what the library does and
 * a typo is caught here, with exit status 2, rather than reported by every
 * process the command starts.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collect.h"
#include "config.h"
#include "library.h"
#include "target.h"

/* Exit statuses, as env(1), nice(1) and timeout(1) use them. */
enum {
	EXIT_USAGE = 2,
	EXIT_OWN_FAILURE = 125, /* the wrapper itself failed: no library */
	EXIT_CANNOT_RUN = 126,
	EXIT_NOT_FOUND = 127,
};

enum setting {
	S_MODE, S_INHERIT, S_RETRY, S_ADD_FLAGS, S_LOG, S_LOG_FORMAT, S_LOG_SKIP,
	S_STATS, S_STATS_INTERVAL, S_COUNT
};
enum { OPT_DRY_RUN = S_COUNT, OPT_HELP, OPT_VERSION, OPT_COLLECT };

struct variable {
	const char *option;
	const char *name;
	const char *accepted; /* for the complaint; "" for options without a value */
	bool (*valid)(const char *value);
};

static bool valid_mode(const char *s)
{
	enum a4s_mode v;
	return a4s_parse_mode(s, &v);
}

static bool valid_inherit(const char *s)
{
	enum a4s_inherit v;
	return a4s_parse_inherit(s, &v);
}

static bool valid_add_flags(const char *s)
{
	int v;
	return a4s_parse_add_flags(s, &v);
}

static bool valid_log(const char *s)
{
	enum a4s_log_kind kind;
	const char *path;
	return a4s_parse_log(s, &kind, &path);
}

static bool valid_log_format(const char *s)
{
	enum a4s_log_format v;
	return a4s_parse_log_format(s, &v);
}

static bool valid_log_skip(const char *s)
{
	uint64_t v[A4S_SKIP_BITS / 64];
	return a4s_parse_log_skip(s, v);
}

static bool valid_stats_interval(const char *s)
{
	uint64_t v;
	return a4s_parse_stats_interval(s, &v);
}

static const struct variable variables[S_COUNT] = {
	[S_MODE] = { "mode", "ACCEPT4SHIM_MODE", "auto, native, emulate", valid_mode },
	[S_INHERIT] = { "inherit", "ACCEPT4SHIM_INHERIT", "linux, bsd", valid_inherit },
	[S_RETRY] = { "retry", "ACCEPT4SHIM_RETRY", "", NULL },
	[S_ADD_FLAGS] = { "add-flags", "ACCEPT4SHIM_ADD_FLAGS",
			  "SOCK_CLOEXEC, SOCK_NONBLOCK, both joined by | or ',', or empty",
			  valid_add_flags },
	[S_LOG] = { "log", "ACCEPT4SHIM_LOG",
		    A4S_LOG_ACCEPTED, valid_log },
	[S_LOG_FORMAT] = { "log-format", "ACCEPT4SHIM_LOG_FORMAT", "text, json",
			   valid_log_format },
	[S_LOG_SKIP] = { "log-skip", "ACCEPT4SHIM_LOG_SKIP",
			 "errno names such as EAGAIN joined by ',', or empty", valid_log_skip },
	[S_STATS] = { "stats", "ACCEPT4SHIM_STATS", "", NULL },
	[S_STATS_INTERVAL] = { "stats-interval", "ACCEPT4SHIM_STATS_INTERVAL",
			       "whole seconds, 0 up to 4294967295", valid_stats_interval },
};

static const struct option long_options[] = {
	{ "mode", required_argument, NULL, S_MODE },
	{ "inherit", required_argument, NULL, S_INHERIT },
	{ "retry", no_argument, NULL, S_RETRY },
	{ "add-flags", required_argument, NULL, S_ADD_FLAGS },
	{ "log", required_argument, NULL, S_LOG },
	{ "log-format", required_argument, NULL, S_LOG_FORMAT },
	{ "log-skip", required_argument, NULL, S_LOG_SKIP },
	{ "stats", no_argument, NULL, S_STATS },
	{ "stats-interval", required_argument, NULL, S_STATS_INTERVAL },
	{ "collect", no_argument, NULL, OPT_COLLECT },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *out)
{
	fputs("Usage: accept4shim [OPTION]... [--] COMMAND [ARG]...\n"
	      "Run COMMAND with libaccept4shim.so preloaded (first in LD_PRELOAD, what was\n"
	      "there stays) and configured by the options below.\n"
	      "\n"
	      "  --mode=MODE          auto, native or emulate         (ACCEPT4SHIM_MODE)\n"
	      "  --inherit=RULE       linux or bsd                    (ACCEPT4SHIM_INHERIT)\n"
	      "  --retry              retry pending network errors    (ACCEPT4SHIM_RETRY=on)\n"
	      "  --add-flags=FLAGS    SOCK_CLOEXEC, SOCK_NONBLOCK, joined by | or ','\n"
	      "                       or empty                        (ACCEPT4SHIM_ADD_FLAGS)\n"
	      "  --log=DEST           stderr, syslog, an absolute path (%p: the pid),\n"
	      "                       or empty for no trace           (ACCEPT4SHIM_LOG)\n"
	      "  --log-format=FORMAT  text or json                    (ACCEPT4SHIM_LOG_FORMAT)\n"
	      "  --log-skip=ERRNOS    no record of calls failing with these, e.g.\n"
	      "                       EAGAIN; still counted           (ACCEPT4SHIM_LOG_SKIP)\n"
	      "  --stats              a summary record at exit        (ACCEPT4SHIM_STATS=1)\n"
	      "  --stats-interval=N   also a summary every N seconds\n"
	      "                       (with --stats)   (ACCEPT4SHIM_STATS_INTERVAL)\n"
	      "  --collect            a private accept4shim-collector for COMMAND's lifetime:\n"
	      "                       the processes hand it their records through shared\n"
	      "                       memory and it writes them to --log=DEST (also\n"
	      "                       journald); it leaves when COMMAND and every process\n"
	      "                       it made have exited\n"
	      "  --dry-run            print the command as one line a shell runs as printed,\n"
	      "                       and run nothing\n"
	      "  --help               print this help and exit\n"
	      "  --version            print the version and the library's path and exit\n"
	      "\n"
	      "Variables that no option sets are passed on as they are.\n"
	      "Exit status: COMMAND's; 2 for a bad option or value; 125 if the library\n"
	      "cannot be found; 126 if COMMAND cannot be run; 127 if it is not found.\n"
	      "See accept4shim(1) and libaccept4shim(3).\n",
	      out);
}

static void __attribute__((noreturn)) bad_usage(void)
{
	usage(stderr);
	exit(EXIT_USAGE);
}

/*
 * --dry-run prints the command as one line that a POSIX shell runs as
 * printed, `sh -c "$line"` or pasted at a prompt:
 *   NAME=VALUE... COMMAND ARG...
 * Assignments in front of a command go into its environment and nowhere
 * else, as the wrapper would put them. A word made only of characters no
 * shell treats specially is printed as it is; any other (spaces, quotes,
 * $, `, \, *, ?, ~, #, newlines, an empty word...) goes in single quotes,
 * inside which every byte stands for itself, with each ' written as '\''.
 * A newline in a word stays a newline inside its quotes: the line then
 * spans lines, and the shell still reads one command.
 */
static bool shell_plain(const char *s)
{
	static const char plain[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				    "0123456789_@%+=:,./-";
	return *s && strspn(s, plain) == strlen(s);
}

/* The command's own name must not read as something else: NAME=... there
 * would be one more assignment, and a reserved word (if, while, ...) would
 * start a compound command. Quoted, it is just a word. */
static bool shell_special_as_command(const char *s)
{
	static const char *const reserved[] = { "case", "do",	 "done",   "elif",   "else",
						"esac", "fi",	 "for",	   "if",     "in",
						"then", "until", "while",  "function", "select",
						"time", "coproc" };
	if (strchr(s, '='))
		return true;
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strcmp(s, reserved[i]) == 0)
			return true;
	return false;
}

static void put_word(const char *s, bool is_command)
{
	if (shell_plain(s) && !(is_command && shell_special_as_command(s))) {
		fputs(s, stdout);
		return;
	}
	putchar('\'');
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*s);
	}
	putchar('\'');
}

static void put_assignment(const char *name, const char *value)
{
	printf("%s=", name);
	/* An empty value needs no quotes after the '='. */
	if (*value)
		put_word(value, false);
	putchar(' ');
}

/* --collect takes its DEST from --log= (given, and not a collector
 * itself: the private one is the collector), and has no one-line form. */
static bool collect_options_valid(const char *const values[], bool dry_run)
{
	if (dry_run) {
		fputs("accept4shim: --dry-run cannot show --collect, which starts a collector\n",
		      stderr);
		return false;
	}
	enum a4s_log_kind kind = A4S_LOG_NONE;
	const char *path;
	if (values[S_LOG] && strcmp(values[S_LOG], "journald") == 0)
		return true;
	if (!values[S_LOG] || !a4s_parse_log(values[S_LOG], &kind, &path) ||
	    kind == A4S_LOG_NONE || kind == A4S_LOG_COLLECTOR) {
		fputs("accept4shim: --collect needs --log=DEST: stderr, syslog, journald or an "
		      "absolute file path\n",
		      stderr);
		return false;
	}
	return true;
}

/* The collector's options, from the wrapper's: where and how records are
 * written (what the library would do in-process), and the interval
 * summaries, which are the collector's to write for the processes it
 * serves. */
static void collector_args(const char *const values[], const char **args)
{
	static char opts[4][PATH_MAX + 32];
	static const struct {
		enum setting s;
		const char *name;
	} map[] = { { S_LOG, "--log=" }, { S_LOG_FORMAT, "--log-format=" },
		    { S_LOG_SKIP, "--log-skip=" }, { S_STATS_INTERVAL, "--stats-interval=" } };
	int n = 0;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (!values[map[i].s])
			continue;
		snprintf(opts[n], sizeof(opts[n]), "%s%s", map[i].name, values[map[i].s]);
		args[n] = opts[n];
		n++;
	}
	args[n] = NULL;
}

int main(int argc, char **argv)
{
	const char *values[S_COUNT] = { NULL };
	bool dry_run = false, version = false, collect = false;
	int opt;

	/* getopt prefixes its complaints with argv[0]; say who complains
	 * whatever path the command was run by. "+": options end at COMMAND,
	 * whose own options are its business. */
	static char self_name[] = "accept4shim";
	argv[0] = self_name;
	while ((opt = getopt_long(argc, argv, "+", long_options, NULL)) != -1) {
		switch (opt) {
		case S_RETRY:
			values[opt] = "on";
			break;
		case S_STATS:
			values[opt] = "1";
			break;
		case S_MODE:
		case S_INHERIT:
		case S_ADD_FLAGS:
		case S_LOG:
			/* journald: the collector's alone; checked with
			 * --collect below, whatever the options' order. */
			if (strcmp(optarg, "journald") == 0) {
				values[opt] = optarg;
				break;
			}
			/* fall through */
		case S_LOG_FORMAT:
		case S_LOG_SKIP:
		case S_STATS_INTERVAL:
			if (!variables[opt].valid(optarg)) {
				fprintf(stderr,
					"accept4shim: invalid value '%s' for --%s (accepted: %s)\n",
					optarg, variables[opt].option, variables[opt].accepted);
				bad_usage();
			}
			values[opt] = optarg;
			break;
		case OPT_DRY_RUN:
			dry_run = true;
			break;
		case OPT_COLLECT:
			collect = true;
			break;
		case OPT_HELP:
			usage(stdout);
			return fflush(stdout) == 0 ? 0 : 1;
		case OPT_VERSION:
			version = true;
			break;
		default: /* getopt has said what was wrong */
			bad_usage();
		}
	}

	char lib[PATH_MAX], tried[3 * PATH_MAX];
	bool found = a4s_find_library(lib, sizeof(lib), tried, sizeof(tried));
	if (version) {
		printf("accept4shim %s\nlibrary: %s\n", A4S_VERSION, found ? lib : "not found");
		return fflush(stdout) == 0 ? 0 : 1;
	}
	if (optind >= argc) {
		fputs("accept4shim: no command given\n", stderr);
		bad_usage();
	}
	if (collect && !collect_options_valid(values, dry_run))
		bad_usage();
	if (!collect && values[S_LOG] && strcmp(values[S_LOG], "journald") == 0) {
		fputs("accept4shim: --log=journald is written by the collector: add --collect\n",
		      stderr);
		bad_usage();
	}
	if (!found) {
		fprintf(stderr, "accept4shim: cannot find the library %s (looked at %s)\n",
			A4S_LIBRARY_NAME, tried);
		return EXIT_OWN_FAILURE;
	}
	if (a4s_unlistable(lib)) {
		fprintf(stderr,
			"accept4shim: the library's path '%s' holds a space or a colon, which "
			"LD_PRELOAD cannot hold\n",
			lib);
		return EXIT_OWN_FAILURE;
	}

	bool failed;
	char *preload = a4s_preload_value(lib, getenv("LD_PRELOAD"), &failed);
	if (failed) {
		perror("accept4shim");
		return EXIT_OWN_FAILURE;
	}
	if (preload && setenv("LD_PRELOAD", preload, 1) != 0) {
		perror("accept4shim: LD_PRELOAD");
		return EXIT_OWN_FAILURE;
	}
	for (int i = 0; i < S_COUNT; i++) {
		if (values[i] && setenv(variables[i].name, values[i], 1) != 0) {
			perror("accept4shim");
			return EXIT_OWN_FAILURE;
		}
	}

	char **command = argv + optind;
	char path[PATH_MAX];
	int err = a4s_resolve_command(command[0], path, sizeof(path));
	if (err == 0)
		a4s_warn_unreachable(path, lib);

	if (dry_run) {
		if (err) {
			fprintf(stderr, "accept4shim: '%s': %s\n", command[0], strerror(err));
			return err == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN;
		}
		put_assignment("LD_PRELOAD", getenv("LD_PRELOAD"));
		for (int i = 0; i < S_COUNT; i++) {
			if (values[i])
				put_assignment(variables[i].name, values[i]);
		}
		for (char **a = command; *a; a++) {
			if (a != command)
				putchar(' ');
			put_word(*a, a == command);
		}
		putchar('\n');
		return fflush(stdout) == 0 ? 0 : 1;
	}

	if (collect) {
		const char *args[8];
		collector_args(values, args);
		return a4s_run_collected(command, args);
	}

	fflush(stderr);
	execvp(command[0], command);
	err = errno;
	fprintf(stderr, "accept4shim: '%s': %s\n", command[0], strerror(err));
	return err == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN;
}
