/*
 * Issue 7, fuzzing: every seed (corpus/TARGET/) and every kept regression
 * (regressions/TARGET/) through the three fuzz targets, built here with the
 * project's compiler and without libFuzzer, so that each scripts/check
 * replays them (and the valgrind run checks them with memcheck). A target
 * aborts when a property breaks.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

int a4s_fuzz_config(const uint8_t *data, size_t size);
int a4s_fuzz_addr(const uint8_t *data, size_t size);
int a4s_fuzz_record(const uint8_t *data, size_t size);

static const struct {
	const char *name;
	int (*fn)(const uint8_t *, size_t);
} targets[] = {
	{ "config", a4s_fuzz_config },
	{ "addr", a4s_fuzz_addr },
	{ "record", a4s_fuzz_record },
};

static int replay_dir(const char *dir, int (*fn)(const uint8_t *, size_t))
{
	DIR *d = opendir(dir);
	ck_assert_msg(d != NULL, "%s: %s", dir, strerror(errno));
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		struct stat st;
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		uint8_t *data = malloc((size_t)st.st_size + 1);
		ck_assert_ptr_nonnull(data);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(read(fd, data, (size_t)st.st_size), st.st_size);
		close(fd);
		fprintf(stderr, "replaying %s\n", path);
		fn(data, (size_t)st.st_size);
		free(data);
		n++;
	}
	closedir(d);
	return n;
}

START_TEST(every_seed_and_kept_crash_replays_cleanly)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s", A4S_SOURCE_DIR, targets[_i].name);
	ck_assert_int_ge(replay_dir(dir, targets[_i].fn), 3);
	snprintf(dir, sizeof(dir), "%s/tests/fuzz/regressions/%s", A4S_SOURCE_DIR,
		 targets[_i].name);
	replay_dir(dir, targets[_i].fn);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fuzz_replay");
	TCase *tc = tcase_create("replay");
	tcase_add_loop_test(tc, every_seed_and_kept_crash_replays_cleanly, 0, 3);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
