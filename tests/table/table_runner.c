/*
 * Runs the cases of a table (cases.txt) and prints one canonical line of
 * what each call observably did. The cases are data: each row names the
 * entry point, the kinds of its arguments, and what to pass. The entry is
 * found by name with dlsym(RTLD_DEFAULT) and called through libffi, so a
 * new entry point (with arguments of the kinds below) is one more row, no C.
 *
 *   table_runner TABLE           run every case, print what happened
 *   table_runner --expect TABLE  print what the table says should happen,
 *                                in the same format
 *   --from SUBSTRING             (with a run) fail unless every entry point
 *                                resolved into a file whose path holds
 *                                SUBSTRING: proves the calls reached the
 *                                preloaded library
 *
 * A row is whitespace-separated: the inputs, "=>", the expected results.
 *   name entry args target block addr flags queue => ret errno nonblock
 *   cloexec addrlen family spill queued
 * Inputs:
 *   args    the entry's arguments in order, comma-separated:
 *           fd (int: the target's descriptor), addr (struct sockaddr *),
 *           len (socklen_t *), flags (int: the flags column)
 *   target  tcp4 | tcp6 | unix | unix-abstract (a listening stream socket),
 *           badfd (-1) | closedfd (a number not open) | pipe (not a socket)
 *           | unlistened (a TCP socket never listening) | dgram (UDP)
 *   block   block | nonblock: the listener's O_NONBLOCK
 *   addr    full (a sockaddr_storage, len = its size) | trunc (len = 4) |
 *           null (addr and len NULL) | nulladdr (addr NULL, len 128)
 *   flags   0, SOCK_NONBLOCK, SOCK_CLOEXEC joined with |, or a number
 *           (0x40, -1); "-" when the entry takes none
 *   queue   connections queued before the call
 * Results (what the output line shows):
 *   ret     fd (a descriptor) or the value returned
 *   errno   the name on failure; "-" on success when errno was left as it
 *           was, "changed:NAME" when a success changed it
 *   nonblock, cloexec  the new descriptor's O_NONBLOCK and FD_CLOEXEC (0/1)
 *   addrlen *len after the call
 *   family  the family written into addr, or "untouched"
 *   spill   1 if a byte past the given length was written
 *   queued  1 if a connection is still queued after the call
 * "-" where a result does not apply (no descriptor, no len, no listener).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ffi.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <accept4shim.h>

#pragma weak accept4shim_get_stats

#define MAX_ARGS 8
#define FILL 0xaa
#define NULLADDR_LEN 128

struct row {
	int line;
	char *name, *entry, *args, *target, *block, *addr, *flags, *queue;
	char *expect[8];
};

static const char *const result_names[8] = { "ret",     "errno",  "nonblock", "cloexec",
					     "addrlen", "family", "spill",    "queued" };

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("table_runner: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static int parse_row(char *text, int line, struct row *r)
{
	char *tok[32];
	int n = 0;
	for (char *save = NULL, *t = strtok_r(text, " \t\n", &save); t && n < 32;
	     t = strtok_r(NULL, " \t\n", &save))
		tok[n++] = t;
	if (n == 0 || tok[0][0] == '#')
		return 0;
	if (n != 17 || strcmp(tok[8], "=>") != 0)
		die("line %d: want 8 inputs, =>, 8 results (got %d fields)", line, n);
	r->line = line;
	r->name = tok[0];
	r->entry = tok[1];
	r->args = tok[2];
	r->target = tok[3];
	r->block = tok[4];
	r->addr = tok[5];
	r->flags = tok[6];
	r->queue = tok[7];
	for (int i = 0; i < 8; i++)
		r->expect[i] = tok[9 + i];
	return 1;
}

static int parse_flags(const char *s, int line)
{
	if (strcmp(s, "-") == 0)
		return 0;
	int flags = 0;
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", s);
	for (char *save = NULL, *t = strtok_r(buf, "|", &save); t; t = strtok_r(NULL, "|", &save)) {
		if (strcmp(t, "SOCK_NONBLOCK") == 0)
			flags |= SOCK_NONBLOCK;
		else if (strcmp(t, "SOCK_CLOEXEC") == 0)
			flags |= SOCK_CLOEXEC;
		else {
			char *end;
			long v = strtol(t, &end, 0);
			if (*end)
				die("line %d: bad flags %s", line, s);
			flags |= (int)v;
		}
	}
	return flags;
}

/* ---- the target descriptor ------------------------------------------ */

struct target {
	int fd;         /* what the call gets */
	bool listener;  /* queued is meaningful */
	int extra[2];   /* other descriptors to close afterwards */
	int clients[4];
	int nclients;
	char path[108];
};

static void listen_on(struct target *t, int family, bool abstract, bool nonblock, int serial)
{
	struct sockaddr_storage ss;
	socklen_t len;
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*in);
	} else if (family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_loopback;
		len = sizeof(*in6);
	} else {
		struct sockaddr_un *un = (struct sockaddr_un *)&ss;
		un->sun_family = AF_UNIX;
		int n = snprintf(t->path, sizeof(t->path), "/tmp/a4s-table-%d-%d.sock",
				 (int)getpid(), serial);
		if (abstract) {
			memcpy(un->sun_path + 1, t->path, (size_t)n);
			len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
			t->path[0] = '\0';
		} else {
			memcpy(un->sun_path, t->path, (size_t)n + 1);
			unlink(t->path);
			len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n + 1);
		}
	}
	t->fd = socket(family, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (t->fd < 0 || bind(t->fd, (struct sockaddr *)&ss, len) != 0 || listen(t->fd, 16) != 0)
		die("listener: %s", strerror(errno));
	len = sizeof(ss);
	if (getsockname(t->fd, (struct sockaddr *)&ss, &len) != 0)
		die("getsockname: %s", strerror(errno));
	for (int i = 0; i < t->nclients; i++) {
		int c = socket(family, SOCK_STREAM, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&ss, len) != 0)
			die("connect: %s", strerror(errno));
		t->clients[i] = c;
	}
	t->listener = true;
}

static void make_target(struct target *t, const struct row *r, int serial)
{
	memset(t, 0, sizeof(*t));
	t->extra[0] = t->extra[1] = -1;
	t->nclients = atoi(r->queue);
	if (t->nclients < 0 || t->nclients > 4)
		die("line %d: queue 0..4", r->line);
	bool nonblock = strcmp(r->block, "nonblock") == 0;
	if (!nonblock && strcmp(r->block, "block") != 0)
		die("line %d: block or nonblock", r->line);
	const char *k = r->target;
	if (strcmp(k, "tcp4") == 0)
		listen_on(t, AF_INET, false, nonblock, serial);
	else if (strcmp(k, "tcp6") == 0)
		listen_on(t, AF_INET6, false, nonblock, serial);
	else if (strcmp(k, "unix") == 0)
		listen_on(t, AF_UNIX, false, nonblock, serial);
	else if (strcmp(k, "unix-abstract") == 0)
		listen_on(t, AF_UNIX, true, nonblock, serial);
	else if (strcmp(k, "badfd") == 0)
		t->fd = -1;
	else if (strcmp(k, "closedfd") == 0)
		t->fd = 987;
	else if (strcmp(k, "pipe") == 0) {
		int p[2];
		if (pipe(p) != 0)
			die("pipe: %s", strerror(errno));
		t->fd = p[0];
		t->extra[0] = p[1];
	} else if (strcmp(k, "unlistened") == 0)
		t->fd = socket(AF_INET, SOCK_STREAM, 0);
	else if (strcmp(k, "dgram") == 0)
		t->fd = socket(AF_INET, SOCK_DGRAM, 0);
	else
		die("line %d: unknown target %s", r->line, k);
	if (!t->listener && t->nclients)
		die("line %d: only listeners have a queue", r->line);
	/* A blocking listener with nothing queued would wait for ever. */
	if (t->listener && !nonblock && !t->nclients && strcmp(r->expect[0], "fd") == 0)
		die("line %d: a blocking accept with nothing queued would hang", r->line);
}

static void drop_target(struct target *t)
{
	if (t->fd >= 0 && t->fd != 987)
		close(t->fd);
	for (int i = 0; i < 2; i++)
		if (t->extra[i] >= 0)
			close(t->extra[i]);
	for (int i = 0; i < t->nclients; i++)
		close(t->clients[i]);
	if (t->path[0])
		unlink(t->path);
}

/* ---- one case ------------------------------------------------------------ */

static const char *family_name(int f)
{
	switch (f) {
	case AF_INET: return "AF_INET";
	case AF_INET6: return "AF_INET6";
	case AF_UNIX: return "AF_UNIX";
	default: return "AF_OTHER";
	}
}

static const char *err_name(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "E?";
}

/* The entry point, looked up once per name. */
static void *entry_point(const char *name, const char *from)
{
	static struct {
		char name[64];
		void *fn;
	} seen[16];
	for (int i = 0; i < 16 && seen[i].fn; i++)
		if (strcmp(seen[i].name, name) == 0)
			return seen[i].fn;
	void *fn = dlsym(RTLD_DEFAULT, name);
	if (!fn)
		die("no entry point %s", name);
	Dl_info info;
	const char *file = dladdr(fn, &info) && info.dli_fname ? info.dli_fname : "?";
	fprintf(stderr, "table_runner: %s from %s\n", name, file);
	if (from && !strstr(file, from)) {
		fprintf(stderr, "table_runner: %s does not come from %s\n", name, from);
		exit(3);
	}
	for (int i = 0; i < 16; i++) {
		if (!seen[i].fn) {
			snprintf(seen[i].name, sizeof(seen[i].name), "%s", name);
			seen[i].fn = fn;
			break;
		}
	}
	return fn;
}

static void run_case(const struct row *r, int serial, const char *from)
{
	struct target t;
	make_target(&t, r, serial);

	/* The arguments, by kind. */
	unsigned char buf[sizeof(struct sockaddr_storage) + 16];
	memset(buf, FILL, sizeof(buf));
	socklen_t len = 0, given = 0;
	void *addr_p = NULL;
	socklen_t *len_p = NULL;
	if (strcmp(r->addr, "full") == 0) {
		addr_p = buf;
		len_p = &len;
		given = sizeof(struct sockaddr_storage);
	} else if (strcmp(r->addr, "trunc") == 0) {
		addr_p = buf;
		len_p = &len;
		given = 4;
	} else if (strcmp(r->addr, "nulladdr") == 0) {
		len_p = &len;
		given = NULLADDR_LEN;
	} else if (strcmp(r->addr, "null") != 0) {
		die("line %d: unknown addr %s", r->line, r->addr);
	}
	len = given;
	int flags = parse_flags(r->flags, r->line);

	ffi_type *types[MAX_ARGS];
	void *values[MAX_ARGS];
	int nargs = 0;
	char kinds[128];
	snprintf(kinds, sizeof(kinds), "%s", r->args);
	for (char *save = NULL, *k = strtok_r(kinds, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
		if (nargs == MAX_ARGS)
			die("line %d: too many arguments", r->line);
		if (strcmp(k, "fd") == 0) {
			types[nargs] = &ffi_type_sint;
			values[nargs] = &t.fd;
		} else if (strcmp(k, "addr") == 0) {
			types[nargs] = &ffi_type_pointer;
			values[nargs] = &addr_p;
		} else if (strcmp(k, "len") == 0) {
			types[nargs] = &ffi_type_pointer;
			values[nargs] = &len_p;
		} else if (strcmp(k, "flags") == 0) {
			types[nargs] = &ffi_type_sint;
			values[nargs] = &flags;
		} else {
			die("line %d: unknown argument kind %s", r->line, k);
		}
		nargs++;
	}
	ffi_cif cif;
	if (ffi_prep_cif(&cif, FFI_DEFAULT_ABI, (unsigned)nargs, &ffi_type_sint, types) != FFI_OK)
		die("line %d: ffi_prep_cif failed", r->line);
	void *fn = entry_point(r->entry, from);

	ffi_arg ret = 0;
	errno = 9999;
	ffi_call(&cif, FFI_FN(fn), &ret, values);
	int err = errno;
	int fd = (int)ret;

	char line[512];
	int n = snprintf(line, sizeof(line), "%s ret=", r->name);
	if (fd >= 0)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "fd");
	else
		n += snprintf(line + n, sizeof(line) - (size_t)n, "%d", fd);
	if (fd >= 0)
		n += snprintf(line + n, sizeof(line) - (size_t)n, " errno=%s%s",
			      err == 9999 ? "-" : "changed:", err == 9999 ? "" : err_name(err));
	else
		n += snprintf(line + n, sizeof(line) - (size_t)n, " errno=%s", err_name(err));
	if (fd >= 0) {
		int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);
		n += snprintf(line + n, sizeof(line) - (size_t)n, " nonblock=%d cloexec=%d",
			      (fl & O_NONBLOCK) != 0, (fdfl & FD_CLOEXEC) != 0);
	} else {
		n += snprintf(line + n, sizeof(line) - (size_t)n, " nonblock=- cloexec=-");
	}
	if (len_p)
		n += snprintf(line + n, sizeof(line) - (size_t)n, " addrlen=%u", (unsigned)len);
	else
		n += snprintf(line + n, sizeof(line) - (size_t)n, " addrlen=-");
	if (addr_p) {
		bool touched = buf[0] != FILL || buf[1] != FILL;
		sa_family_t fam;
		memcpy(&fam, buf, sizeof(fam));
		bool spill = false;
		for (size_t i = given; i < sizeof(buf); i++)
			spill |= buf[i] != FILL;
		n += snprintf(line + n, sizeof(line) - (size_t)n, " family=%s spill=%d",
			      touched ? family_name(fam) : "untouched", spill);
	} else {
		n += snprintf(line + n, sizeof(line) - (size_t)n, " family=- spill=-");
	}
	if (t.listener) {
		struct pollfd p = { .fd = t.fd, .events = POLLIN };
		n += snprintf(line + n, sizeof(line) - (size_t)n, " queued=%d", poll(&p, 1, 0) == 1);
	} else {
		n += snprintf(line + n, sizeof(line) - (size_t)n, " queued=-");
	}
	puts(line);
	if (fd >= 0)
		close(fd);
	drop_target(&t);
}

/* Run by ctest itself (not through test_table): A4S_EXPECT_LIBRARY="mode=X"
 * is the configuration the library must be in, before any case runs, as
 * the harness's t_run_suite proves it for the Check suites. */
static void prove_library(const char *want)
{
	if (!want)
		return;
	const char *(*config)(void);
	*(void **)&config = dlsym(RTLD_DEFAULT, "accept4shim_config");
	const char *have = config ? config() : NULL;
	char word[128];
	for (const char *w = want; *w; w += strspn(w, " ")) {
		size_t n = strcspn(w, " ");
		snprintf(word, sizeof(word), " %.*s ", (int)n, w);
		char padded[512];
		snprintf(padded, sizeof(padded), " %s ", have ? have : "");
		if (!have || !strstr(padded, word))
			die("the library is not in this process as expected (want \"%s\", have "
			    "\"%s\")",
			    want, have ? have : "no accept4shim_config()");
		w += n;
	}
}

static void print_expected(const struct row *r)
{
	printf("%s", r->name);
	for (int i = 0; i < 8; i++)
		printf(" %s=%s", result_names[i], r->expect[i]);
	putchar('\n');
}

int main(int argc, char **argv)
{
	bool expect = false;
	const char *from = NULL, *table = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--expect") == 0)
			expect = true;
		else if (strncmp(argv[i], "--from=", 7) == 0)
			from = argv[i] + 7;
		else
			table = argv[i];
	}
	if (!table)
		die("usage: table_runner [--expect] [--from=SUBSTRING] TABLE");
	prove_library(getenv("A4S_EXPECT_LIBRARY"));
	FILE *f = fopen(table, "r");
	if (!f)
		die("%s: %s", table, strerror(errno));
	/* A case that blocks by mistake must not hang the suite. */
	alarm(30);
	char text[1024];
	int line = 0, cases = 0;
	while (fgets(text, sizeof(text), f)) {
		struct row r;
		line++;
		if (!parse_row(text, line, &r))
			continue;
		if (expect)
			print_expected(&r);
		else
			run_case(&r, cases, from);
		fflush(stdout);
		cases++;
	}
	fclose(f);
	if (!expect && accept4shim_get_stats) {
		struct accept4shim_stats s;
		if (accept4shim_get_stats(&s, sizeof(s)) == 0)
			fprintf(stderr, "table_runner: stats calls=%llu emulated=%llu\n",
				(unsigned long long)s.calls, (unsigned long long)s.emulated);
	}
	fprintf(stderr, "table_runner: %d cases\n", cases);
	return 0;
}
