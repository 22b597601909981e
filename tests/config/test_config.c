/* SPEC "Configuration": every variable, its values, its default, and the
 * one stderr line a bad value produces. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"
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
	ck_assert_str_eq(complaints, "");
}
END_TEST

START_TEST(every_valid_value_is_taken)
{
	const char *env[] = {
		"ACCEPT4SHIM_MODE=emulate", "ACCEPT4SHIM_INHERIT=bsd",
		"ACCEPT4SHIM_RETRY=on", "ACCEPT4SHIM_ADD_FLAGS=SOCK_CLOEXEC|SOCK_NONBLOCK",
		"ACCEPT4SHIM_LOG=/tmp/trace.%p", "ACCEPT4SHIM_LOG_FORMAT=json",
		"ACCEPT4SHIM_STATS=1", NULL
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
		"ACCEPT4SHIM_STATS=x", NULL
	};
	int bad;
	struct a4s_config c = parse(env, &bad);
	ck_assert_int_eq(bad, 7);
	ck_assert_int_eq(count_lines(complaints), 7);
	struct a4s_config d = parse((const char *[]){ NULL }, NULL);
	ck_assert_int_eq(c.mode, d.mode);
	ck_assert_int_eq(c.inherit, d.inherit);
	ck_assert_int_eq(c.retry, d.retry);
	ck_assert_int_eq(c.add_flags, d.add_flags);
	ck_assert_int_eq(c.log_kind, d.log_kind);
	ck_assert_int_eq(c.log_format, d.log_format);
	ck_assert_int_eq(c.stats, d.stats);
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
	static char vars[7][4096];
	static const char *const names[7] = {
		"ACCEPT4SHIM_MODE", "ACCEPT4SHIM_INHERIT", "ACCEPT4SHIM_RETRY",
		"ACCEPT4SHIM_ADD_FLAGS", "ACCEPT4SHIM_LOG", "ACCEPT4SHIM_LOG_FORMAT",
		"ACCEPT4SHIM_STATS"
	};
	const char *env[8];
	for (int i = 0; i < 7; i++) {
		int n = snprintf(vars[i], sizeof(vars[i]), "%s=", names[i]);
		memset(vars[i] + n, '\x01', sizeof(vars[i]) - (size_t)n - 1);
		vars[i][sizeof(vars[i]) - 1] = '\0';
		env[i] = vars[i];
	}
	env[7] = NULL;
	char buf[A4S_COMPLAINTS_MAX];
	struct a4s_diag diag = { buf, sizeof(buf), 0, 0 };
	struct a4s_config cfg;
	a4s_config_parse(&cfg, lookup, env, &diag);
	ck_assert_int_eq(diag.count, 7);
	int lines = 0;
	for (size_t i = 0; i < diag.len; i++)
		lines += buf[i] == '\n';
	ck_assert_int_eq(lines, 7);
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
	tcase_add_test(tc, inherit_retry_stats_format_values);
	tcase_add_test(tc, add_flags_names_separators_and_blanks);
	tcase_add_test(tc, log_destinations);
	tcase_add_test(tc, a_bad_value_gives_one_line_naming_variable_value_and_choices);
	tcase_add_test(tc, each_bad_variable_gets_its_line_and_its_default);
	tcase_add_test(tc, a_hostile_value_still_makes_one_short_printable_line);
	tcase_add_test(tc, every_variable_bad_and_huge_still_gets_its_line_in_the_loaders_buffer);
	tcase_add_test(tc, an_empty_value_means_the_default);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
