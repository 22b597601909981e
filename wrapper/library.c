#include "library.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Separators as the dynamic linker reads LD_PRELOAD (see ld.so(8)). */
static const char separators[] = " :\t";

bool a4s_dir_of_self(char *dir, size_t size)
{
	ssize_t n = readlink("/proc/self/exe", dir, size - 1);
	if (n <= 0)
		return false;
	dir[n] = '\0';
	char *slash = strrchr(dir, '/');
	if (!slash)
		return false;
	slash[slash == dir] = '\0'; /* keep "/" for a command in / */
	return true;
}

static bool usable(const char *candidate, char *out)
{
	struct stat st;
	char resolved[PATH_MAX];
	if (!realpath(candidate, resolved) || stat(resolved, &st) != 0 || !S_ISREG(st.st_mode))
		return false;
	strcpy(out, resolved); /* out has PATH_MAX bytes, checked by the caller */
	return true;
}

bool a4s_find_library(char *out, size_t size, char *tried, size_t tried_size)
{
	char dir[PATH_MAX];
	char build[PATH_MAX + 64], installed[2 * PATH_MAX];

	if (size < PATH_MAX || !a4s_dir_of_self(dir, sizeof(dir))) {
		snprintf(tried, tried_size, "(/proc/self/exe cannot be read)");
		return false;
	}
	snprintf(build, sizeof(build), "%s/%s", dir, A4S_LIBRARY_NAME);
	/* Baked in at build time: relative to the installed command (so a
	 * prefix can be moved or staged with DESTDIR), or absolute when the
	 * library directory was configured that way. */
	if (A4S_INSTALLED_LIBRARY[0] == '/')
		snprintf(installed, sizeof(installed), "%s", A4S_INSTALLED_LIBRARY);
	else
		snprintf(installed, sizeof(installed), "%s/%s", dir, A4S_INSTALLED_LIBRARY);
	snprintf(tried, tried_size, "%s, %s", build, installed);
	return usable(build, out) || usable(installed, out);
}

bool a4s_unlistable(const char *path)
{
	return strpbrk(path, separators) != NULL;
}

/* An entry names lib when it is the same string, or a path (it has a slash;
 * bare names are searched for by ld.so, not here) to the same file. */
static bool names_library(const char *entry, size_t n, const char *lib, const struct stat *lib_st)
{
	char path[PATH_MAX];
	struct stat st;

	if (strlen(lib) == n && memcmp(entry, lib, n) == 0)
		return true;
	if (n >= sizeof(path) || !memchr(entry, '/', n))
		return false;
	memcpy(path, entry, n);
	path[n] = '\0';
	return lib_st && stat(path, &st) == 0 && st.st_dev == lib_st->st_dev &&
	       st.st_ino == lib_st->st_ino;
}

char *a4s_preload_value(const char *lib, const char *old, bool *failed)
{
	struct stat lib_st;
	bool have_st = stat(lib, &lib_st) == 0;

	*failed = false;
	if (old) {
		for (const char *p = old; *p;) {
			size_t n = strcspn(p, separators);
			if (n && names_library(p, n, lib, have_st ? &lib_st : NULL))
				return NULL;
			p += n;
			p += *p != '\0';
		}
	}
	/* A colon, so that the value needs no quoting in a shell or a unit
	 * file; ld.so accepts spaces and colons mixed, so old stays verbatim. */
	size_t len = strlen(lib) + (old && *old ? 1 + strlen(old) : 0) + 1;
	char *value = malloc(len);
	if (!value) {
		*failed = true;
		return NULL;
	}
	if (old && *old)
		snprintf(value, len, "%s:%s", lib, old);
	else
		snprintf(value, len, "%s", lib);
	return value;
}
