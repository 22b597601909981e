#include "target.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

/* execvp's own choice when PATH is unset. */
static const char *search_path(void)
{
	const char *p = getenv("PATH");
	return p ? p : "/bin:/usr/bin";
}

static int check_file(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return errno;
	if (!S_ISREG(st.st_mode) || access(path, X_OK) != 0)
		return EACCES;
	return 0;
}

int a4s_resolve_command(const char *name, char *out, size_t size)
{
	if (!*name)
		return ENOENT;
	if (strchr(name, '/')) {
		if (strlen(name) >= size)
			return ENAMETOOLONG;
		strcpy(out, name);
		return check_file(name);
	}
	int result = ENOENT;
	for (const char *p = search_path();; p++) {
		size_t n = strcspn(p, ":");
		char candidate[PATH_MAX];
		/* An empty element is the working directory, as for execvp. */
		int len = n ? snprintf(candidate, sizeof(candidate), "%.*s/%s", (int)n, p, name)
			    : snprintf(candidate, sizeof(candidate), "%s", name);
		if (len > 0 && (size_t)len < sizeof(candidate) && (size_t)len < size) {
			int err = check_file(candidate);
			if (err == 0) {
				strcpy(out, candidate);
				return 0;
			}
			if (err == EACCES)
				result = EACCES; /* execvp goes on, and reports this */
		}
		p += n;
		if (!*p)
			break;
	}
	return result;
}

struct elf_facts {
	unsigned char cls;  /* ELFCLASS32 or ELFCLASS64 */
	unsigned machine;
	bool interp;        /* has PT_INTERP: a dynamic linker will run it */
	char interp_path[256]; /* which one, "" if unreadable */
};

static uint64_t get(const unsigned char *p, int bytes, bool big)
{
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)p[big ? bytes - 1 - i : i] << (8 * i);
	return v;
}

/* Reads the ELF header and program headers ourselves: no libelf, and the
 * file's byte order and class need not be ours. False if not an ELF file. */
static bool read_elf(int fd, struct elf_facts *f)
{
	unsigned char h[64];
	if (pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) || memcmp(h, ELFMAG, SELFMAG) != 0)
		return false;
	bool is64 = h[EI_CLASS] == ELFCLASS64;
	bool big = h[EI_DATA] == ELFDATA2MSB;
	if ((!is64 && h[EI_CLASS] != ELFCLASS32) ||
	    (!big && h[EI_DATA] != ELFDATA2LSB))
		return false;
	f->cls = h[EI_CLASS];
	f->machine = (unsigned)get(h + 18, 2, big);
	f->interp = false;
	f->interp_path[0] = '\0';

	uint64_t phoff = is64 ? get(h + 32, 8, big) : get(h + 28, 4, big);
	unsigned phentsize = (unsigned)(is64 ? get(h + 54, 2, big) : get(h + 42, 2, big));
	unsigned phnum = (unsigned)(is64 ? get(h + 56, 2, big) : get(h + 44, 2, big));
	if (phentsize < 4 || phnum > 4096 || phoff > (uint64_t)INT64_MAX / 2)
		return true;
	for (unsigned i = 0; i < phnum; i++) {
		unsigned char type[4];
		if (pread(fd, type, sizeof(type), (off_t)(phoff + (uint64_t)i * phentsize)) !=
		    (ssize_t)sizeof(type))
			break;
		if (get(type, 4, big) == PT_INTERP) {
			f->interp = true;
			/* p_offset and p_filesz, where each class keeps them. */
			unsigned char ph[48];
			off_t at = (off_t)(phoff + (uint64_t)i * phentsize);
			if (pread(fd, ph, sizeof(ph), at) == (ssize_t)sizeof(ph)) {
				uint64_t off = is64 ? get(ph + 8, 8, big) : get(ph + 4, 4, big);
				uint64_t size = is64 ? get(ph + 32, 8, big) : get(ph + 16, 4, big);
				if (size < sizeof(f->interp_path) && off < (uint64_t)INT64_MAX / 2 &&
				    pread(fd, f->interp_path, size, (off_t)off) == (ssize_t)size)
					f->interp_path[size] = '\0';
				else
					f->interp_path[0] = '\0';
			}
			break;
		}
	}
	return true;
}

static bool elf_of(const char *path, struct elf_facts *f)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool ok = read_elf(fd, f);
	close(fd);
	return ok;
}

/* The interpreter of a "#!" script, as the kernel reads it: the first word
 * after "#!" on the first line. False if path is not such a script. */
static bool interpreter_of(const char *path, char *out, size_t size)
{
	char line[256];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, line, sizeof(line) - 1);
	close(fd);
	if (n < 3 || line[0] != '#' || line[1] != '!')
		return false;
	line[n] = '\0';
	char *p = line + 2;
	p += strspn(p, " \t");
	size_t len = strcspn(p, " \t\n");
	if (!len || len >= size)
		return false;
	memcpy(out, p, len);
	out[len] = '\0';
	return true;
}

/* A static program with the archive linked in (libaccept4shim.a, see
 * libaccept4shim(3)) reads the variables itself, without a preload; the
 * archive leaves its mark in the file (shim/bind_wrap.c). */
static bool holds_the_archive(const char *path)
{
	static const char name[] = "accept4shim: linked in with --wrap";
	const size_t n = sizeof(name) - 1;
	char buf[1 << 16];
	size_t keep = 0;
	ssize_t r;
	bool found = false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	while (!found && (r = read(fd, buf + keep, sizeof(buf) - keep)) > 0) {
		size_t len = keep + (size_t)r;
		found = memmem(buf, len, name, n) != NULL;
		/* A name cut in two by the read is found whole next time. */
		keep = len < n ? len : n - 1;
		memmove(buf, buf + len - keep, keep);
	}
	close(fd);
	return found;
}

/* musl's dynamic linker is /lib/ld-musl-ARCH.so.1; everything else here is
 * glibc's. The library is built with the same C library as this command. */
static bool musl_interpreter(const char *interp)
{
	const char *base = strrchr(interp, '/');
	return strncmp(base ? base + 1 : interp, "ld-musl-", 8) == 0;
}

#ifdef __GLIBC__
static const bool library_is_musl = false;
#else
static const bool library_is_musl = true;
#endif

static void warn(const char *path, const char *why)
{
	fprintf(stderr, "accept4shim: warning: '%s' %s; running it anyway\n", path, why);
}

/* elf: the file to read; target: what the user named; shown: how the
 * sentence about elf begins ("" when elf is the target). */
static int warn_elf(const char *elf, const char *target, const char *shown, const char *lib)
{
	struct elf_facts t, l;
	char why[PATH_MAX + 200];
	if (!elf_of(elf, &t))
		return 0;
	if (!t.interp) {
		if (holds_the_archive(elf))
			return 0; /* linked in: the variables reach it */
		snprintf(why, sizeof(why),
			 "%sis statically linked (no PT_INTERP): no dynamic linker will load "
			 "the library into it",
			 shown);
		warn(target, why);
		return 1;
	}
	if (elf_of(lib, &l) && (l.cls != t.cls || l.machine != t.machine)) {
		snprintf(why, sizeof(why),
			 "%sis a %d-bit program for ELF machine %u and the library is %d-bit for "
			 "machine %u: the dynamic linker will refuse to preload it",
			 shown, t.cls == ELFCLASS64 ? 64 : 32, t.machine,
			 l.cls == ELFCLASS64 ? 64 : 32, l.machine);
		warn(target, why);
		return 1;
	}
	if (t.interp_path[0] && musl_interpreter(t.interp_path) != library_is_musl) {
		snprintf(why, sizeof(why),
			 "%sis a %s program (%s) and the library is built for %s: that dynamic "
			 "linker will refuse it and the program will not start; use a library "
			 "built with %s",
			 shown, library_is_musl ? "glibc" : "musl", t.interp_path,
			 library_is_musl ? "musl" : "glibc", library_is_musl ? "glibc" : "musl-gcc");
		warn(target, why);
		return 1;
	}
	return 0;
}

int a4s_warn_unreachable(const char *path, const char *lib)
{
	struct stat st;
	int count = 0;
	char interp[PATH_MAX], shown[PATH_MAX + 40];

	if (stat(path, &st) != 0)
		return 0;
	if (interpreter_of(path, interp, sizeof(interp))) {
		/* The kernel runs the interpreter; that is where the preload goes. */
		snprintf(shown, sizeof(shown), "runs '%s', which ", interp);
		count += warn_elf(interp, path, shown, lib);
	} else {
		count += warn_elf(path, path, "", lib);
	}
	/* The kernel gives a script no set-user-ID privileges, but a reader is
	 * better told: the bit is there for a reason. */
	if (st.st_mode & S_ISUID) {
		warn(path, "is set-user-ID: run with its owner's privileges, the dynamic linker "
			   "ignores LD_PRELOAD and the library ignores its variables");
		count++;
	}
	/* S_ISGID without group execute marks mandatory locking, not set-group-ID. */
	if ((st.st_mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP)) {
		warn(path, "is set-group-ID: run with its group's privileges, the dynamic linker "
			   "ignores LD_PRELOAD and the library ignores its variables");
		count++;
	}
	if (getxattr(path, "security.capability", NULL, 0) > 0) {
		warn(path, "has file capabilities (security.capability): run with them, the "
			   "dynamic linker ignores LD_PRELOAD and the library ignores its variables");
		count++;
	}
	return count;
}
