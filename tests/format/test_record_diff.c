/*
 * SPEC "Trace records", the fast formatter against the one it replaced
 * (reference_record.c, a copy of the old code): for every input the same
 * bytes, in JSON and text. Random records of every kind (all address
 * families and lengths, AF_UNIX names with every byte value, every errno,
 * extreme integers, timestamps before 1970 and after 9999, flags with
 * unknown bits), with the per-thread memos (timestamp minute, pid and tid,
 * listener address) hit and missed in turn, in threads and in a forked
 * child; and the worst case, which must stay within A4S_RECORD_WORST.
 *
 * A4S_DIFF_SEED=N replays one seed; a failure prints the seed and the
 * record number.
 */
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <valgrind/valgrind.h>

#include "harness.h"

#include "record.h"
#include "reference_record.h"

/* xorshift64*: the same records for the same seed, everywhere. */
static __thread uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static uint64_t below(uint64_t n)
{
	return rnd() % n;
}

static uint64_t seed_from_env(uint64_t fallback)
{
	const char *s = getenv("A4S_DIFF_SEED");
	return s && *s ? strtoull(s, NULL, 0) : fallback;
}

/* A record's addresses live here. */
struct sample {
	struct a4s_record r;
	struct sockaddr_storage local, peer;
	enum a4s_log_format fmt;
};

static const int32_t int_edges[] = { 0, 1, -1, 9, 10, 99, 100, 999, 1000, 9999, 10000,
				     99999, 100000, 999999, 1000000, 9999999, 10000000,
				     99999999, 100000000, 999999999, 1000000000,
				     INT_MAX, INT_MIN, INT_MIN + 1, -10, -100 };

static int32_t some_int(void)
{
	switch (below(4)) {
	case 0:
		return int_edges[below(sizeof(int_edges) / sizeof(int_edges[0]))];
	case 1:
		return (int32_t)below(100);
	case 2:
		return (int32_t)below(5000000);
	default:
		return (int32_t)rnd();
	}
}

static uint64_t some_u64(void)
{
	static const uint64_t edges[] = { 0, 9, 10, 99999, 4294967295ULL, 4294967296ULL,
					  99999999999ULL, 100000000000ULL,
					  9999999999999999999ULL, 10000000000000000000ULL,
					  UINT64_MAX };
	switch (below(4)) {
	case 0:
		return edges[below(sizeof(edges) / sizeof(edges[0]))];
	case 1:
		return below(1000000);
	case 2:
		return rnd() >> below(64);
	default:
		return rnd();
	}
}

static void some_timestamp(struct timespec *ts, const struct timespec *prev)
{
	static const int64_t edges[] = {
		0, -1, 59, 60, -60, -61, 86399, 86400, 951782400 /* 2000-02-29 */,
		4107542400 /* 2100-03-01 */, 2147483647, 2147483648, 253402300799 /* 9999 */,
		253402300800 /* 10000-01-01 */, -62135596800 /* 0001-01-01 */,
		-62167219200 /* 0000-01-01 */, -62167219201, INT64_MAX, INT64_MIN,
		INT64_MIN + 59, INT64_MIN + 60, INT64_MAX - 59, 1795255199, 1795255200,
	};
	switch (below(8)) {
	case 0: case 1: case 2: /* the same minute again, or the next second */
		ts->tv_sec = (time_t)((uint64_t)prev->tv_sec + below(3)); /* may wrap */
		break;
	case 3:
		ts->tv_sec = (time_t)((uint64_t)edges[below(sizeof(edges) / sizeof(edges[0]))] +
				      below(3) - 1);
		break;
	case 4:
		ts->tv_sec = (time_t)rnd();
		break;
	default:
		ts->tv_sec = (time_t)((int64_t)(rnd() >> 23) - (INT64_C(1) << 40));
	}
	if (below(20) == 0) /* out of range: shown as it always was */
		ts->tv_nsec = (long)rnd();
	else
		ts->tv_nsec = (long)below(1000000000);
}

static void ipv6_groups(unsigned char *a)
{
	unsigned zeros = (unsigned)below(256); /* which groups are zero */
	for (int i = 0; i < 8; i++) {
		uint64_t v = below(3) == 0 ? below(16) : rnd();
		if (zeros >> i & 1)
			v = 0;
		a[2 * i] = (unsigned char)(v >> 8);
		a[2 * i + 1] = (unsigned char)v;
	}
	if (below(8) == 0) { /* IPv4-mapped */
		memset(a, 0, 10);
		a[10] = a[11] = 0xff;
	}
}

/* The AF_UNIX name: a path, an abstract name, or unnamed; bytes of every
 * value, NULs included; lengths past sun_path. */
static socklen_t unix_addr(struct sockaddr_un *un)
{
	size_t off = offsetof(struct sockaddr_un, sun_path);
	size_t n = below(4) == 0 ? sizeof(un->sun_path) + below(12) : below(sizeof(un->sun_path));
	unsigned char *name = (unsigned char *)un->sun_path;
	int kind = (int)below(4);
	for (size_t i = 0; i < sizeof(un->sun_path); i++) {
		if (kind == 0)
			name[i] = (unsigned char)rnd();
		else if (kind == 1)
			name[i] = (unsigned char)(0x20 + below(0x5f));
		else
			name[i] = below(4) ? (unsigned char)('a' + below(26)) : (unsigned char)rnd();
	}
	if (kind == 3)
		name[0] = 0; /* abstract */
	else if (kind == 2 && n > 0)
		name[0] = '/';
	return (socklen_t)(off + n);
}

static void some_address(struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	switch (below(6)) {
	case 0: case 1: {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		in->sin_family = AF_INET;
		in->sin_port = (in_port_t)rnd();
		uint32_t a = (uint32_t)rnd();
		if (below(2)) /* octets of one, two and three digits */
			a &= below(2) ? 0x0f0f0f0fu : 0x7f7f7f7fu;
		memcpy(&in->sin_addr, &a, 4);
		*len = below(10) ? sizeof(*in) : (socklen_t)below(sizeof(*in));
		break;
	}
	case 2: {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = (in_port_t)rnd();
		ipv6_groups(in6->sin6_addr.s6_addr);
		in6->sin6_scope_id = below(3) ? 0 : (uint32_t)rnd();
		*len = below(10) ? sizeof(*in6) : (socklen_t)below(sizeof(*in6));
		break;
	}
	case 3: case 4:
		((struct sockaddr_un *)ss)->sun_family = AF_UNIX;
		*len = unix_addr((struct sockaddr_un *)ss);
		break;
	default: {
		unsigned char *b = (unsigned char *)ss;
		for (size_t i = 0; i < sizeof(*ss); i++)
			b[i] = (unsigned char)rnd();
		*len = (socklen_t)below(sizeof(*ss) + 1);
	}
	}
}

static int some_errno(void)
{
	switch (below(5)) {
	case 0: case 1:
		return 0;
	case 2: case 3:
		return 1 + (int)below(140);
	default:
		return some_int();
	}
}

/* A new record, often sharing pid, tid, listener and minute with the last,
 * so that the memos are hit as well as missed. */
static void some_record(struct sample *s, const struct sample *prev)
{
	struct a4s_record *r = &s->r;
	struct timespec prev_ts = prev->r.ts;
	bool same_thread = below(2), same_listener = below(2);
	*r = (struct a4s_record){ 0 };
	some_timestamp(&r->ts, &prev_ts);
	r->pid = same_thread ? prev->r.pid : some_int();
	r->tid = same_thread ? prev->r.tid : some_int();
	r->is_accept4 = below(2);
	r->listen_fd = some_int();
	if (same_listener && prev->r.local) {
		s->local = prev->local;
		r->local_len = prev->r.local_len;
		r->local = (struct sockaddr *)&s->local;
	} else if (below(8)) {
		some_address(&s->local, &r->local_len);
		r->local = (struct sockaddr *)&s->local;
	}
	r->flags = below(2) ? (int)(below(4) & 1 ? SOCK_NONBLOCK : 0) |
				      (int)(below(2) ? SOCK_CLOEXEC : 0)
			    : some_int();
	r->fd = some_int();
	r->err = some_errno();
	if (below(8)) {
		some_address(&s->peer, &r->peer_len);
		r->peer = (struct sockaddr *)&s->peer;
	}
	r->emulated = below(2);
	r->retries = (unsigned)(below(2) ? below(4) : rnd());
	r->dur_ns = some_u64();
	s->fmt = below(2) ? A4S_FORMAT_JSON : A4S_FORMAT_TEXT;
}

/* Both formatters, byte for byte; a buffer too small gives no record from
 * either. Returns the length. */
static size_t same_bytes(const struct a4s_record *r, enum a4s_log_format fmt, size_t size,
			 uint64_t seed, long i)
{
	static __thread char fast[A4S_RECORD_MAX + 16], ref[A4S_RECORD_MAX + 16];
	memset(fast, 'Z', sizeof(fast));
	size_t n = a4s_format_record(r, fmt, fast, size);
	size_t m = ref_format_record(r, fmt, ref, size);
	if (n != m || memcmp(fast, ref, n) != 0) {
		ck_abort_msg("seed %#llx record %ld, %s, buffer %zu: fast %zu bytes, reference "
			     "%zu:\n fast: %.*s\n  ref: %.*s",
			     (unsigned long long)seed, i, fmt == A4S_FORMAT_JSON ? "json" : "text",
			     size, n, m, (int)n, fast, (int)m, ref);
	}
	/* Plain checks, not ck_assert: Check logs every assertion it passes,
	 * a system call each, and this runs a million times. */
	if (n > A4S_RECORD_WORST)
		ck_abort_msg("seed %#llx record %ld: %zu bytes, more than A4S_RECORD_WORST",
			     (unsigned long long)seed, i, n);
	for (size_t k = size; k < sizeof(fast); k++)
		if (fast[k] != 'Z')
			ck_abort_msg("seed %#llx record %ld: written past a buffer of %zu",
				     (unsigned long long)seed, i, size);
	return n;
}

/* Many random records from one seed; returns how many were compared. */
static long compare_random(uint64_t seed, long count)
{
	struct sample samples[2];
	memset(samples, 0, sizeof(samples));
	rng_state = seed | 1;
	for (long i = 0; i < count; i++) {
		struct sample *s = &samples[i & 1];
		some_record(s, &samples[(i + 1) & 1]);
		size_t size = below(16) ? A4S_RECORD_MAX : below(A4S_RECORD_MAX);
		same_bytes(&s->r, s->fmt, size, seed, i);
	}
	return count;
}

static long how_many(long plain)
{
	/* Under memcheck, a tenth: still every kind of record many times. */
	return RUNNING_ON_VALGRIND ? plain / 10 : plain;
}

START_TEST(random_records_are_the_same_bytes_as_the_reference)
{
	uint64_t seed = seed_from_env(0x5eed0a4c5b1e7u);
	compare_random(seed, how_many(400000));
}
END_TEST

/* A record with every field fixed, to vary one at a time. */
static struct a4s_record base_record(struct sockaddr_in *local, struct sockaddr_in *peer)
{
	*local = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(8080),
				       .sin_addr = { htonl(INADDR_LOOPBACK) } };
	*peer = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(40000),
				      .sin_addr = { htonl(0x0a00c801) } };
	return (struct a4s_record){
		.ts = { 1795255200, 123456789 }, .pid = 4242, .tid = 4243, .is_accept4 = true,
		.listen_fd = 3, .local = (struct sockaddr *)local, .local_len = sizeof(*local),
		.flags = SOCK_NONBLOCK | SOCK_CLOEXEC, .fd = 7,
		.peer = (struct sockaddr *)peer, .peer_len = sizeof(*peer), .retries = 2,
		.dur_ns = 15321,
	};
}

static void both_formats(const struct a4s_record *r, long i)
{
	same_bytes(r, A4S_FORMAT_JSON, A4S_RECORD_MAX, 0, i);
	same_bytes(r, A4S_FORMAT_TEXT, A4S_RECORD_MAX, 0, i);
}

START_TEST(every_errno_value)
{
	struct sockaddr_in l, p;
	struct a4s_record r = base_record(&l, &p);
	for (int e = -300; e <= 4400; e++) {
		r.err = e;
		both_formats(&r, e);
	}
	static const int odd[] = { INT_MIN, INT_MIN + 1, INT_MAX, 1000000, -1000000 };
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		r.err = odd[i];
		both_formats(&r, odd[i]);
	}
}
END_TEST

START_TEST(unix_names_with_every_byte_value)
{
	struct sockaddr_in l, p;
	struct a4s_record r = base_record(&l, &p);
	struct sockaddr_un un;
	size_t off = offsetof(struct sockaddr_un, sun_path);
	r.local = r.peer = (struct sockaddr *)&un;
	for (int c = 0; c < 256; c++) {
		for (size_t n = 0; n <= sizeof(un.sun_path); n += (n < 4 ? 1 : 52)) {
			/* a path of c, an abstract name of c, c after a path's
			 * first byte */
			for (int kind = 0; kind < 3; kind++) {
				memset(&un, 0, sizeof(un));
				un.sun_family = AF_UNIX;
				memset(un.sun_path, c, n);
				if (kind == 1 && n)
					un.sun_path[0] = '\0';
				if (kind == 2 && n)
					un.sun_path[0] = '/';
				r.local_len = r.peer_len = (socklen_t)(off + n);
				both_formats(&r, c);
			}
		}
	}
}
END_TEST

START_TEST(extreme_integers_and_timestamps)
{
	struct sockaddr_in l, p;
	struct a4s_record r = base_record(&l, &p);
	static const int64_t secs[] = { INT64_MIN, INT64_MIN + 1, INT64_MIN + 59, INT64_MIN + 60,
					-62167219201, -62167219200, -1, 0, 59, 60,
					253402300799, 253402300800, 2147483648,
					INT64_MAX - 60, INT64_MAX - 59, INT64_MAX };
	static const long nsecs[] = { 0, 999, 1000, 999999999, 1000000000, -1, LONG_MIN,
				      LONG_MAX };
	for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
		for (size_t j = 0; j < sizeof(nsecs) / sizeof(nsecs[0]); j++) {
			r.ts.tv_sec = (time_t)secs[i];
			r.ts.tv_nsec = nsecs[j];
			both_formats(&r, (long)i);
			both_formats(&r, (long)i); /* again, from the memo */
		}
	}
	for (size_t i = 0; i < sizeof(int_edges) / sizeof(int_edges[0]); i++) {
		for (size_t j = 0; j < sizeof(int_edges) / sizeof(int_edges[0]); j++) {
			r.pid = r.listen_fd = int_edges[i];
			r.tid = r.fd = int_edges[j];
			r.flags = int_edges[i] ^ int_edges[j];
			r.retries = (unsigned)int_edges[j];
			r.dur_ns = (uint64_t)int_edges[i] * (uint64_t)int_edges[j];
			both_formats(&r, (long)i);
		}
	}
}
END_TEST

START_TEST(the_longest_record_is_within_the_worst_case)
{
	/* Two AF_UNIX paths of 108 bytes that each escape to six characters,
	 * and every other field at its widest. */
	struct sockaddr_in l, p;
	struct a4s_record r = base_record(&l, &p);
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	memset(un.sun_path, 0x01, sizeof(un.sun_path));
	r.local = r.peer = (struct sockaddr *)&un;
	r.local_len = r.peer_len = sizeof(un);
	r.pid = r.tid = r.listen_fd = r.fd = INT_MIN;
	r.flags = -1;
	r.retries = UINT_MAX;
	r.dur_ns = UINT64_MAX;
	r.ts.tv_sec = INT64_MAX;
	r.emulated = true;
	size_t json = same_bytes(&r, A4S_FORMAT_JSON, A4S_RECORD_MAX, 0, 0);
	size_t text = same_bytes(&r, A4S_FORMAT_TEXT, A4S_RECORD_MAX, 0, 0);
	ck_assert_uint_le(text, json);
	/* The bound is that record plus what cannot be there at once (an
	 * errno with a peer) and the bytes a few pieces touch past their end,
	 * and nothing more. */
	ck_assert_uint_le(json, A4S_RECORD_WORST);
	ck_assert_uint_ge(json + 40, A4S_RECORD_WORST);
	/* Exactly a buffer of the worst case takes the fast path, one byte
	 * less the careful one: both give the record. */
	same_bytes(&r, A4S_FORMAT_JSON, A4S_RECORD_WORST, 0, 1);
	same_bytes(&r, A4S_FORMAT_JSON, A4S_RECORD_WORST - 1, 0, 2);
	same_bytes(&r, A4S_FORMAT_JSON, json, 0, 3);
	same_bytes(&r, A4S_FORMAT_JSON, json - 1, 0, 4);
}
END_TEST

static void *thread_compare(void *arg)
{
	compare_random((uint64_t)(uintptr_t)arg, how_many(40000));
	return NULL;
}

START_TEST(memos_are_per_thread_and_right_in_a_forked_child)
{
	pthread_t th[4];
	for (uintptr_t i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, thread_compare, (void *)(i + 11)), 0);
	compare_random(99, how_many(40000));
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);

	/* Fill the memos with one pid, tid, listener and minute, fork, and
	 * format in the child with the same and with others. */
	struct sockaddr_in l, p;
	struct a4s_record r = base_record(&l, &p);
	both_formats(&r, 0);
	pid_t child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		both_formats(&r, 1);
		r.pid = getpid();
		r.tid = getpid();
		l.sin_port = htons(8081);
		r.ts.tv_sec += 3600;
		both_formats(&r, 2);
		compare_random(7, how_many(20000));
		_exit(0);
	}
	int status;
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child failed: %#x",
		      status);
	both_formats(&r, 3);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("record_diff");
	TCase *tc = tcase_create("differential");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, random_records_are_the_same_bytes_as_the_reference);
	tcase_add_test(tc, every_errno_value);
	tcase_add_test(tc, unix_names_with_every_byte_value);
	tcase_add_test(tc, extreme_integers_and_timestamps);
	tcase_add_test(tc, the_longest_record_is_within_the_worst_case);
	tcase_add_test(tc, memos_are_per_thread_and_right_in_a_forked_child);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
