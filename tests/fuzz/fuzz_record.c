/*
 * Fuzz target: the record formatter (a4s_format_record) with every field
 * fuzzed, and the exit and interval summaries (a4s_format_summary), in
 * both formats.
 *
 * Input: the fields in a fixed order (see below), then the local and peer
 * addresses' bytes, each in a heap block of exactly its length.
 * Properties: into A4S_RECORD_MAX bytes the record always fits, with
 * addresses up to a sockaddr_storage, within A4S_RECORD_WORST; into a
 * smaller buffer the result is 0 or fits, never a byte past it; the same
 * bytes as the formatter it replaced (tests/format/reference_record.c),
 * the first time and again (when the per-thread memos hold its pieces);
 * JSON: one line, one valid object, each key exactly once; text: one line
 * of printable ASCII, "accept4shim: " and then exactly the thirteen
 * key=value fields, one space apart.
 */
#include <stdbool.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "jsoncheck.h"
#include "record.h"
#include "reference_record.h"
#include "summaryfmt.h"

static const char *const keys[] = { "ts", "pid", "tid", "call", "listen_fd", "local", "flags",
				     "fd", "errno", "peer", "how", "retries", "dur_ns" };
#define NKEYS 13

static size_t count(const char *s, size_t n, const char *w)
{
	size_t c = 0, wl = strlen(w);
	for (size_t i = 0; i + wl <= n; i++)
		c += memcmp(s + i, w, wl) == 0;
	return c;
}

static void check_json(const char *s, size_t n)
{
	FUZZ_CHECK(t_json_object_line(s, n), "not one JSON object line: %.*s", (int)n, s);
	for (int k = 0; k < NKEYS; k++) {
		char key[32];
		snprintf(key, sizeof(key), "\"%s\":", keys[k]);
		/* A quote inside a string value is escaped, so a key's
		 * quoted form can only be the key. */
		FUZZ_CHECK(count(s, n, key) == 1, "key %s: %zu times", keys[k], count(s, n, key));
	}
}

static void check_text(const char *s, size_t n)
{
	FUZZ_CHECK(n >= 14 && memcmp(s, "accept4shim: ", 13) == 0 && s[n - 1] == '\n',
		   "%.*s", (int)n, s);
	FUZZ_CHECK(fuzz_printable(s, n - 1, 1), "a raw byte in: %.*s", (int)n, s);
	const char *p = s + 13, *end = s + n - 1;
	for (int k = 0; k < NKEYS; k++) {
		size_t kl = strlen(keys[k]);
		FUZZ_CHECK((size_t)(end - p) > kl && memcmp(p, keys[k], kl) == 0 && p[kl] == '=',
			   "field %d is not %s=: %.*s", k, keys[k], (int)n, s);
		const char *sp = memchr(p, ' ', (size_t)(end - p));
		if (k == NKEYS - 1)
			FUZZ_CHECK(!sp, "a space in the last field: %.*s", (int)n, s);
		else
			FUZZ_CHECK(sp, "fields missing: %.*s", (int)n, s);
		p = sp ? sp + 1 : end;
	}
}

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct a4s_record r;
	memset(&r, 0, sizeof(r));
	r.ts.tv_sec = (time_t)fuzz_take(&in, 8);
	r.ts.tv_nsec = (long)fuzz_take(&in, 4) % 1000000000L;
	r.pid = (int)fuzz_take(&in, 4);
	r.tid = (int)fuzz_take(&in, 4);
	r.listen_fd = (int)fuzz_take(&in, 4);
	r.flags = (int)fuzz_take(&in, 4);
	r.fd = (int)fuzz_take(&in, 4);
	r.err = (int)fuzz_take(&in, 4);
	r.retries = (unsigned)fuzz_take(&in, 4);
	r.dur_ns = fuzz_take(&in, 8);
	unsigned bits = (unsigned)fuzz_take(&in, 1);
	r.is_accept4 = bits & 1;
	r.emulated = bits & 2;
	enum a4s_log_format fmt = bits & 4 ? A4S_FORMAT_JSON : A4S_FORMAT_TEXT;
	size_t small = (size_t)fuzz_take(&in, 2) % A4S_RECORD_MAX;
	size_t llen = (size_t)fuzz_take(&in, 1) % (sizeof(struct sockaddr_storage) + 1);
	size_t plen = (size_t)fuzz_take(&in, 1) % (sizeof(struct sockaddr_storage) + 1);
	void *local = fuzz_block(&in, &llen), *peer = fuzz_block(&in, &plen);
	if (bits & 8) {
		r.local = local;
		r.local_len = (socklen_t)llen;
	}
	if (bits & 16) {
		r.peer = peer;
		r.peer_len = (socklen_t)plen;
	}

	static char full[A4S_RECORD_MAX], ref[A4S_RECORD_MAX];
	size_t n = a4s_format_record(&r, fmt, full, sizeof(full));
	FUZZ_CHECK(n > 0 && n <= A4S_RECORD_WORST, "a record did not fit %zu bytes",
		   (size_t)A4S_RECORD_WORST);
	size_t rn = ref_format_record(&r, fmt, ref, sizeof(ref));
	FUZZ_CHECK(rn == n && memcmp(ref, full, n) == 0, "not the reference's bytes:\n%.*s\n%.*s",
		   (int)n, full, (int)rn, ref);
	static char again[A4S_RECORD_MAX];
	FUZZ_CHECK(a4s_format_record(&r, fmt, again, sizeof(again)) == n &&
		   memcmp(again, full, n) == 0, "not the same bytes the second time");
	if (fmt == A4S_FORMAT_JSON)
		check_json(full, n);
	else
		check_text(full, n);

	char *cut = malloc(small ? small : 1);
	if (!cut)
		abort();
	size_t m = a4s_format_record(&r, fmt, cut, small);
	FUZZ_CHECK(m == 0 || (m == n && memcmp(cut, full, n) == 0), "cut record %zu of %zu", m, n);
	FUZZ_CHECK(m == (n <= small ? n : 0), "a record of %zu in %zu bytes: %zu", n, small, m);
	free(cut);

	/* The summary, from the same bytes. */
	uint64_t errors[160];
	for (int i = 0; i < 160; i++)
		errors[i] = (bits & 32) && (r.flags >> (i % 31) & 1) ? r.dur_ns + (uint64_t)i : 0;
	struct a4s_summary s = {
		.ts = r.ts, .pid = r.pid, .calls = r.dur_ns, .accepted = (uint64_t)r.fd,
		.failed = (uint64_t)r.err, .emulated = r.retries, .retried_calls = r.flags,
		.retries = (uint64_t)r.listen_fd, .dropped = (uint64_t)r.tid,
		.errors = errors, .nerrors = 160,
	};
	static char sum[4 * A4S_RECORD_MAX];
	size_t k = a4s_format_summary(&s, fmt, sum, sizeof(sum));
	FUZZ_CHECK(k > 0, "the summary did not fit");
	if (fmt == A4S_FORMAT_JSON)
		FUZZ_CHECK(t_json_object_line(sum, k), "summary not JSON: %.*s", (int)k, sum);
	else
		FUZZ_CHECK(sum[k - 1] == '\n' && fuzz_printable(sum, k - 1, 1), "summary: %.*s",
			   (int)k, sum);
	/* The interval summary from the same bytes: both maps of errors. */
	struct a4s_summary interval = s;
	interval.totals = &s;
	interval.interval_ns = (uint64_t)r.ts.tv_nsec;
	static char isum[16 * A4S_RECORD_MAX];
	k = a4s_format_summary(&interval, fmt, isum, sizeof(isum));
	FUZZ_CHECK(k > 0, "the interval summary did not fit");
	if (fmt == A4S_FORMAT_JSON)
		FUZZ_CHECK(t_json_object_line(isum, k), "summary not JSON: %.*s", (int)k, isum);
	else
		FUZZ_CHECK(isum[k - 1] == '\n' && fuzz_printable(isum, k - 1, 1), "summary: %.*s",
			   (int)k, isum);
	free(local);
	free(peer);
	return 0;
}
