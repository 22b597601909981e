/* SPEC "Configuration": every variable, its values, its default, and the
 * one stderr line a bad value produces. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"
#include "describe.h"
#include "errnames.h"
#include "harness.h"

/* A fake environment: NAME=VALUE pairs, NULL-terminated. */
static const char *lookup(const char *name, const void *ctx)
{
	const char *const *env = ctx;
	size_t n = strlen(name);
	for (; *env; env++)
		if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

static char complaints[4096];

static struct a4s_config parse(const char *const *env, int *ncomplaints)
{
	struct a4s_config cfg;
	struct a4s_diag diag = { complaints, sizeof(complaints) - 1, 0, 0 };
	a4s_config_parse(&cfg, lookup, env, &diag);
	complaints[diag.len] = '\0';
	if (ncomplaints)
		*ncomplaints = diag.count;
	return cfg;
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

START_TEST(defaults_when_nothing_is_set)
{
	const char *env[] = { NULL };
	int bad;
	struct a4s_config c = parse(env, &bad);
	ck_assert_int_eq(bad, 0);
	ck_assert_int_eq(c.mode, A4S_MODE_AUTO);
	ck_assert_int_eq(c.inherit, A4S_INHERIT_LINUX);
	ck_assert(!c.retry);
	ck_assert_int_eq(c.add_flags, 0);
	ck_assert_int_eq(c.log_kind, A4S_LOG_NONE);
	ck_assert_int_eq(c.log_format, A4S_FORMAT_TEXT);
	ck_assert(!c.stats);
	ck_assert(!a4s_log_skips(&c, EAGAIN));
	ck_assert_uint_eq(c.stats_interval_ns, 0);
	ck_assert_str_eq(complaints, "");
}
END_TEST

START_TEST(every_valid_value_is_taken)
{
	const char *env[] = {
		"ACCEPT4SHIM_MODE=emulate", "ACCEPT4SHIM_INHERIT=bsd",
		"ACCEPT4SHIM_RETRY=on", "ACCEPT4SHIM_ADD_FLAGS=SOCK_CLOEXEC|SOCK_NONBLOCK",
		"ACCEPT4SHIM_LOG=/tmp/trace.%p", "ACCEPT4SHIM_LOG_FORMAT=json",
		"ACCEPT4SHIM_STATS=1", "ACCEPT4SHIM_LOG_SKIP=EAGAIN",
		"ACCEPT4SHIM_STATS_INTERVAL=60", NULL
	};
	int bad;
	struct a4s_config c = parse(env, &bad);
	ck_assert_int_eq(bad, 0);
	ck_assert_int_eq(c.mode, A4S_MODE_EMULATE);
	ck_assert_int_eq(c.inherit, A4S_INHERIT_BSD);
	ck_assert(c.retry);
	ck_assert_int_eq(c.add_flags, SOCK_CLOEXEC | SOCK_NONBLOCK);
	ck_assert_int_eq(c.log_kind, A4S_LOG_FILE);
	ck_assert_str_eq(c.log_path, "/tmp/trace.%p");
	ck_assert_int_eq(c.log_format, A4S_FORMAT_JSON);
	ck_assert(c.stats);
	ck_assert(a4s_log_skips(&c, EAGAIN));
	ck_assert_uint_eq(c.stats_interval_ns, 60ULL * 1000000000ULL);
}
END_TEST

START_TEST(mode_values)
{
	enum a4s_mode m;
	ck_assert(a4s_parse_mode("auto", &m) && m == A4S_MODE_AUTO);
	ck_assert(a4s_parse_mode("native", &m) && m == A4S_MODE_NATIVE);
	ck_assert(a4s_parse_mode("emulate", &m) && m == A4S_MODE_EMULATE);
	ck_assert(!a4s_parse_mode("Emulate", &m));
	ck_assert(!a4s_parse_mode("emulated", &m));
	ck_assert(!a4s_parse_mode(" auto", &m));
}
END_TEST

START_TEST(inherit_retry_stats_format_values)
{
	enum a4s_inherit i;
	bool b;
	enum a4s_log_format f;
	ck_assert(a4s_parse_inherit("linux", &i) && i == A4S_INHERIT_LINUX);
	ck_assert(a4s_parse_inherit("bsd", &i) && i == A4S_INHERIT_BSD);
	ck_assert(!a4s_parse_inherit("BSD", &i));
	ck_assert(a4s_parse_retry("on", &b) && b);
	ck_assert(a4s_parse_retry("off", &b) && !b);
	ck_assert(!a4s_parse_retry("yes", &b));
	ck_assert(!a4s_parse_retry("1", &b));
	ck_assert(a4s_parse_stats("1", &b) && b);
	ck_assert(a4s_parse_stats("0", &b) && !b);
	ck_assert(!a4s_parse_stats("on", &b));
	ck_assert(a4s_parse_log_format("json", &f) && f == A4S_FORMAT_JSON);
	ck_assert(a4s_parse_log_format("text", &f) && f == A4S_FORMAT_TEXT);
	ck_assert(!a4s_parse_log_format("JSON", &f));
}
END_TEST

START_TEST(add_flags_names_separators_and_blanks)
{
	int fl = -1;
	ck_assert(a4s_parse_add_flags("", &fl) && fl == 0);
	ck_assert(a4s_parse_add_flags("SOCK_CLOEXEC", &fl) && fl == SOCK_CLOEXEC);
	ck_assert(a4s_parse_add_flags("SOCK_NONBLOCK", &fl) && fl == SOCK_NONBLOCK);
	ck_assert(a4s_parse_add_flags("SOCK_NONBLOCK|SOCK_CLOEXEC", &fl) &&
		  fl == (SOCK_NONBLOCK | SOCK_CLOEXEC));
	ck_assert(a4s_parse_add_flags("SOCK_CLOEXEC,SOCK_NONBLOCK", &fl) &&
		  fl == (SOCK_NONBLOCK | SOCK_CLOEXEC));
	ck_assert(a4s_parse_add_flags(" SOCK_CLOEXEC | SOCK_NONBLOCK ", &fl) &&
		  fl == (SOCK_NONBLOCK | SOCK_CLOEXEC));
	ck_assert(a4s_parse_add_flags("SOCK_CLOEXEC|SOCK_CLOEXEC", &fl) && fl == SOCK_CLOEXEC);
	ck_assert(!a4s_parse_add_flags("SOCK_CLOEXEC|", &fl));
	ck_assert(!a4s_parse_add_flags("|SOCK_CLOEXEC", &fl));
	ck_assert(!a4s_parse_add_flags("SOCK_CLOEXEC||SOCK_NONBLOCK", &fl));
	ck_assert(!a4s_parse_add_flags("SOCK_CLOEXEC SOCK_NONBLOCK", &fl));
	ck_assert(!a4s_parse_add_flags("O_CLOEXEC", &fl));
	ck_assert(!a4s_parse_add_flags("sock_cloexec", &fl));
	ck_assert(!a4s_parse_add_flags("SOCK_CLOEXECX", &fl));
	ck_assert(!a4s_parse_add_flags("524288", &fl));
}
END_TEST

/* The errno values whose bits are set, in order, as "11 103". */
static const char *skipped(const char *value)
{
	static char out[512];
	struct a4s_config c = { .log_skip = { 0 } };
	out[0] = '\0';
	if (!a4s_parse_log_skip(value, c.log_skip))
		return "invalid";
	for (int e = -2; e < A4S_SKIP_BITS + 70; e++) {
		if (a4s_log_skips(&c, e))
			snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%d",
				 out[0] ? " " : "", e);
	}
	return out;
}

START_TEST(log_skip_errno_names_joined_by_commas)
{
	char want[64];
	ck_assert_str_eq(skipped(""), "");
	ck_assert_str_eq(skipped("   "), "");
	snprintf(want, sizeof(want), "%d", EAGAIN);
	ck_assert_str_eq(skipped("EAGAIN"), want);
	ck_assert_str_eq(skipped(" EAGAIN "), want);
	ck_assert_str_eq(skipped("EAGAIN,EAGAIN"), want);
	/* Linux's other names for the same values */
	ck_assert_str_eq(skipped("EWOULDBLOCK"), want);
	snprintf(want, sizeof(want), "%d", EOPNOTSUPP);
	ck_assert_str_eq(skipped("ENOTSUP"), want);
	snprintf(want, sizeof(want), "%d", EDEADLK);
	ck_assert_str_eq(skipped("EDEADLOCK"), want);
	snprintf(want, sizeof(want), "%d %d %d", EINTR, EAGAIN, ECONNABORTED);
	ck_assert_str_eq(skipped("ECONNABORTED,EINTR, EAGAIN"), want);
	/* the first and the last name the trace knows */
	snprintf(want, sizeof(want), "%d %d", EPERM, EHWPOISON);
	ck_assert_str_eq(skipped("EHWPOISON,EPERM"), want);
	/* every name the trace writes is a name the list takes */
	for (int e = 1; e < A4S_SKIP_BITS; e++) {
		const char *name = a4s_errno_name(e);
		if (!name)
			continue;
		snprintf(want, sizeof(want), "%d", e);
		ck_assert_str_eq(skipped(name), want);
	}
	static const char *const bad[] = {
		"EFOO", "eagain", "Eagain", "EAGAIN,", ",EAGAIN", "EAGAIN,,EINTR", "EAGAIN EINTR",
		"EAGAIN|EINTR", "EAGAIN;EINTR", "11", "-11", "EAGAINX", "XEAGAIN", "E", "EAGAIN,EFOO",
		"EAGAIN\n", "\"EAGAIN\"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(strcmp(skipped(bad[i]), "invalid") == 0, "%s accepted", bad[i]);
}
END_TEST

START_TEST(a_bad_log_skip_keeps_every_record_and_says_so_once)
{
	const char *env[] = { "ACCEPT4SHIM_LOG_SKIP=EAGAIN,EWHATEVER", NULL };
	int bad;
	struct a4s_config c = parse(env, &bad);
	ck_assert_int_eq(bad, 1);
	ck_assert_int_eq(count_lines(complaints), 1);
	/* all or nothing: the good name in a bad list is not taken either */
	ck_assert(!a4s_log_skips(&c, EAGAIN));
	ck_assert_str_eq(complaints,
			 "accept4shim: ACCEPT4SHIM_LOG_SKIP=\"EAGAIN,EWHATEVER\" is not valid "
			 "(accepted: errno names such as EAGAIN joined by ',', or empty); "
			 "using an empty list\n");
}
END_TEST

START_TEST(stats_interval_whole_seconds)
{
	uint64_t ns = 7;
	ck_assert(a4s_parse_stats_interval("0", &ns) && ns == 0);
	ck_assert(a4s_parse_stats_interval("1", &ns) && ns == 1000000000ULL);
	ck_assert(a4s_parse_stats_interval("60", &ns) && ns == 60000000000ULL);
	ck_assert(a4s_parse_stats_interval("0060", &ns) && ns == 60000000000ULL);
	ck_assert(a4s_parse_stats_interval("4294967295", &ns) &&
		  ns == 4294967295ULL * 1000000000ULL);
	ns = 7;
	static const char *const bad[] = {
		"", " 5", "5 ", "+5", "-1", "1.5", "5s", "1e3", "0x10", "4294967296",
		"99999999999999999999999", "five",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!a4s_parse_stats_interval(bad[i], &ns), "%s accepted", bad[i]);
	ck_assert_uint_eq(ns, 7); /* untouched by a refusal */
}
END_TEST

START_TEST(stats_interval_counts_only_with_stats)
{
	const char *alone[] = { "ACCEPT4SHIM_STATS_INTERVAL=10", NULL };
	const char *with_stats[] = { "ACCEPT4SHIM_STATS_INTERVAL=10", "ACCEPT4SHIM_STATS=1", NULL };
	const char *stats_off[] = { "ACCEPT4SHIM_STATS_INTERVAL=10", "ACCEPT4SHIM_STATS=0", NULL };
	int bad;
	ck_assert_uint_eq(parse(alone, &bad).stats_interval_ns, 0);
	ck_assert_int_eq(bad, 0);
	ck_assert_uint_eq(parse(with_stats, &bad).stats_interval_ns, 10000000000ULL);
	ck_assert_uint_eq(parse(stats_off, &bad).stats_interval_ns, 0);
	const char *wrong[] = { "ACCEPT4SHIM_STATS_INTERVAL=1m", "ACCEPT4SHIM_STATS=1", NULL };
	struct a4s_config c = parse(wrong, &bad);
	ck_assert_int_eq(bad, 1);
	ck_assert_uint_eq(c.stats_interval_ns, 0);
	ck_assert(c.stats);
	ck_assert_str_eq(complaints,
			 "accept4shim: ACCEPT4SHIM_STATS_INTERVAL=\"1m\" is not valid "
			 "(accepted: whole seconds, 0 up to 4294967295); "
			 "using 0 (no interval summary)\n");
}
END_TEST

START_TEST(the_configuration_reads_back_with_its_skip_list_and_interval)
{
	char out[A4S_DESCRIBE_MAX];
	const char *none[] = { NULL };
	struct a4s_config c = parse(none, NULL);
	a4s_describe_config(&c, out, sizeof(out));
	ck_assert_str_eq(out, "mode=auto inherit=linux retry=off add_flags=0 log=none "
			      "log_format=text stats=0 log_skip= stats_interval=0");
	const char *set[] = { "ACCEPT4SHIM_LOG_SKIP=ECONNABORTED, EWOULDBLOCK",
			      "ACCEPT4SHIM_STATS=1", "ACCEPT4SHIM_STATS_INTERVAL=60", NULL };
	c = parse(set, NULL);
	a4s_describe_config(&c, out, sizeof(out));
	ck_assert_str_eq(out, "mode=auto inherit=linux retry=off add_flags=0 log=none "
			      "log_format=text stats=1 log_skip=EAGAIN,ECONNABORTED stats_interval=60");
	/* The longest: every name the list can hold, in a buffer of the size
	 * the library keeps. */
	char all[4096] = "";
	for (int e = 1; e < A4S_SKIP_BITS; e++) {
		if (a4s_errno_name(e)) {
			strcat(all, all[0] ? "," : "ACCEPT4SHIM_LOG_SKIP=");
			strcat(all, a4s_errno_name(e));
		}
	}
	const char *every[] = { all, NULL };
	c = parse(every, NULL);
	a4s_describe_config(&c, out, sizeof(out));
	char want[4200];
	snprintf(want, sizeof(want), " log_skip=%s stats_interval=0",
		 all + strlen("ACCEPT4SHIM_LOG_SKIP="));
	ck_assert_msg(strstr(out, want) && strstr(out, "=EPERM,ENOENT,") &&
			      strstr(out, ",EHWPOISON stats_interval=0"),
		      "%s", out);
}
END_TEST

START_TEST(log_destinations)
{
	enum a4s_log_kind k;
	const char *path = NULL;
	ck_assert(a4s_parse_log("stderr", &k, &path) && k == A4S_LOG_STDERR);
	ck_assert(a4s_parse_log("syslog", &k, &path) && k == A4S_LOG_SYSLOG);
	ck_assert(a4s_parse_log("/var/log/a4s.%p.json", &k, &path) && k == A4S_LOG_FILE);
	ck_assert_str_eq(path, "/var/log/a4s.%p.json");
	ck_assert(a4s_parse_log("", &k, &path) && k == A4S_LOG_NONE);
	ck_assert(!a4s_parse_log("trace.log", &k, &path));
	ck_assert(!a4s_parse_log("./trace.log", &k, &path));
	ck_assert(!a4s_parse_log("STDERR", &k, &path));
	char longpath[PATH_MAX + 10];
	memset(longpath, 'a', sizeof(longpath));
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	ck_assert(!a4s_parse_log(longpath, &k, &path));
}
END_TEST

/* collector:PATH names the collector's socket: absolute, and short enough
 * for a unix socket's address; anything else is refused, not guessed. */
START_TEST(collector_socket_destination)
{
	enum a4s_log_kind k = A4S_LOG_NONE;
	const char *path = NULL;
	ck_assert(a4s_parse_log("collector:/run/accept4shim/sock", &k, &path));
	ck_assert_int_eq(k, A4S_LOG_COLLECTOR);
	ck_assert_str_eq(path, "/run/accept4shim/sock");
	ck_assert(!a4s_parse_log("collector:", &k, &path));
	ck_assert(!a4s_parse_log("collector:sock", &k, &path));
	ck_assert(!a4s_parse_log("Collector:/run/sock", &k, &path));
	char sock[200] = "collector:/";
	memset(sock + 11, 's', A4S_COLLECTOR_PATH_MAX - 1);
	sock[11 + A4S_COLLECTOR_PATH_MAX - 1] = '\0';
	ck_assert(a4s_parse_log(sock, &k, &path));
	ck_assert_uint_eq(strlen(path), A4S_COLLECTOR_PATH_MAX);
	strcat(sock, "s"); /* 108 bytes: no room for sun_path's NUL */
	ck_assert(!a4s_parse_log(sock, &k, &path));
}
END_TEST

START_TEST(a_bad_value_gives_one_line_naming_variable_value_and_choices)
{
	const char *env[] = { "ACCEPT4SHIM_MODE=fast", NULL };
	int bad;
	struct a4s_config c = parse(env, &bad);
	ck_assert_int_eq(bad, 1);
	ck_assert_int_eq(c.mode, A4S_MODE_AUTO);
	ck_assert_int_eq(count_lines(complaints), 1);
	ck_assert_msg(strncmp(complaints, "accept4shim: ", 13) == 0, "%s", complaints);
	ck_assert_ptr_nonnull(strstr(complaints, "ACCEPT4SHIM_MODE"));
	ck_assert_ptr_nonnull(strstr(complaints, "\"fast\""));
	ck_assert_ptr_nonnull(strstr(complaints, "auto, native, emulate"));
}
END_TEST

START_TEST(each_bad_variable_gets_its_line_and_its_default)
{
	const char *env[] = {
		"ACCEPT4SHIM_MODE=x", "ACCEPT4SHIM_INHERIT=x", "ACCEPT4SHIM_RETRY=x",
		"ACCEPT4SHIM_ADD_FLAGS=x", "ACCEPT4SHIM_LOG=x", "ACCEPT4SHIM_LOG_FORMAT=x",
		"ACCEPT4SHIM_STATS=x", "ACCEPT4SHIM_LOG_SKIP=x", "ACCEPT4SHIM_STATS_INTERVAL=x", NULL
	};
	int bad;
	struct a4s_config c = parse(env, &bad);
	ck_assert_int_eq(bad, 9);
	ck_assert_int_eq(count_lines(complaints), 9);
	struct a4s_config d = parse((const char *[]){ NULL }, NULL);
	ck_assert_int_eq(c.mode, d.mode);
	ck_assert_int_eq(c.inherit, d.inherit);
	ck_assert_int_eq(c.retry, d.retry);
	ck_assert_int_eq(c.add_flags, d.add_flags);
	ck_assert_int_eq(c.log_kind, d.log_kind);
	ck_assert_int_eq(c.log_format, d.log_format);
	ck_assert_int_eq(c.stats, d.stats);
	ck_assert_mem_eq(c.log_skip, d.log_skip, sizeof(c.log_skip));
	ck_assert_uint_eq(c.stats_interval_ns, d.stats_interval_ns);
}
END_TEST

START_TEST(a_hostile_value_still_makes_one_short_printable_line)
{
	static char huge[100000];
	memset(huge, 'z', sizeof(huge) - 1);
	huge[3] = '\n';
	huge[4] = '\033';
	char var[sizeof(huge) + 32] = "ACCEPT4SHIM_INHERIT=";
	strcat(var, huge);
	const char *env[] = { var, NULL };
	int bad;
	parse(env, &bad);
	ck_assert_int_eq(bad, 1);
	ck_assert_int_eq(count_lines(complaints), 1);
	ck_assert_uint_lt(strlen(complaints), 512);
	for (const char *p = complaints; *p != '\n'; p++)
		ck_assert_msg(*p >= 0x20 && *p < 0x7f, "unprintable byte 0x%02x", *p);
	ck_assert_ptr_nonnull(strstr(complaints, "zzz\\x0a\\x1bzz"));
}
END_TEST

START_TEST(every_variable_bad_and_huge_still_gets_its_line_in_the_loaders_buffer)
{
	/* The worst case the loader must hold: every variable bad, each value
	 * long and made of bytes that escape to four characters. */
	static char vars[9][4096];
	static const char *const names[9] = {
		"ACCEPT4SHIM_MODE", "ACCEPT4SHIM_INHERIT", "ACCEPT4SHIM_RETRY",
		"ACCEPT4SHIM_ADD_FLAGS", "ACCEPT4SHIM_LOG", "ACCEPT4SHIM_LOG_FORMAT",
		"ACCEPT4SHIM_STATS", "ACCEPT4SHIM_LOG_SKIP", "ACCEPT4SHIM_STATS_INTERVAL"
	};
	const char *env[10];
	for (int i = 0; i < 9; i++) {
		int n = snprintf(vars[i], sizeof(vars[i]), "%s=", names[i]);
		memset(vars[i] + n, '\x01', sizeof(vars[i]) - (size_t)n - 1);
		vars[i][sizeof(vars[i]) - 1] = '\0';
		env[i] = vars[i];
	}
	env[9] = NULL;
	char buf[A4S_COMPLAINTS_MAX];
	struct a4s_diag diag = { buf, sizeof(buf), 0, 0 };
	struct a4s_config cfg;
	a4s_config_parse(&cfg, lookup, env, &diag);
	ck_assert_int_eq(diag.count, 9);
	int lines = 0;
	for (size_t i = 0; i < diag.len; i++)
		lines += buf[i] == '\n';
	ck_assert_int_eq(lines, 9);
}
END_TEST

START_TEST(an_empty_value_means_the_default)
{
	const char *env[] = { "ACCEPT4SHIM_MODE=", "ACCEPT4SHIM_RETRY=", "ACCEPT4SHIM_LOG=", NULL };
	int bad;
	struct a4s_config c = parse(env, &bad);
	ck_assert_int_eq(bad, 0);
	ck_assert_int_eq(c.mode, A4S_MODE_AUTO);
	ck_assert_int_eq(c.log_kind, A4S_LOG_NONE);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, defaults_when_nothing_is_set);
	tcase_add_test(tc, every_valid_value_is_taken);
	tcase_add_test(tc, mode_values);
	tcase_add_test(tc, collector_socket_destination);
	tcase_add_test(tc, inherit_retry_stats_format_values);
	tcase_add_test(tc, add_flags_names_separators_and_blanks);
	tcase_add_test(tc, log_skip_errno_names_joined_by_commas);
	tcase_add_test(tc, a_bad_log_skip_keeps_every_record_and_says_so_once);
	tcase_add_test(tc, stats_interval_whole_seconds);
	tcase_add_test(tc, stats_interval_counts_only_with_stats);
	tcase_add_test(tc, the_configuration_reads_back_with_its_skip_list_and_interval);
	tcase_add_test(tc, log_destinations);
	tcase_add_test(tc, a_bad_value_gives_one_line_naming_variable_value_and_choices);
	tcase_add_test(tc, each_bad_variable_gets_its_line_and_its_default);
	tcase_add_test(tc, a_hostile_value_still_makes_one_short_printable_line);
	tcase_add_test(tc, every_variable_bad_and_huge_still_gets_its_line_in_the_loaders_buffer);
	tcase_add_test(tc, an_empty_value_means_the_default);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
