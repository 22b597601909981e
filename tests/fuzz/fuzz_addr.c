/*
 * Fuzz target: the address formatter (a4s_put_sockaddr) on arbitrary bytes
 * of arbitrary length, in both formats, into buffers of every size.
 *
 * Input: one control byte (bit 0: JSON; the rest: the output buffer's size
 * as a multiple of 5, 0 meaning the full 1024), then the address bytes,
 * given to the formatter in a heap block of exactly their length.
 * Properties: nothing is read past the address or written past the buffer
 * (AddressSanitizer); JSON output is valid JSON string content and pure
 * printable ASCII; text output is printable ASCII without spaces; a cut
 * output is a prefix of the whole one (pieces are all or nothing); an
 * AF_UNIX name decodes back from the JSON to exactly its bytes.
 */
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "addrfmt.h"
#include "fuzz.h"
#include "jsoncheck.h"

static int unhex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
					       : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The bytes a JSON string inside stands for, when each code point is one
 * byte (the formatter escapes everything outside printable ASCII as
 * \u00XX). Returns the length, or -1 if something else is there. */
static long json_bytes(const char *s, size_t n, unsigned char *out)
{
	long o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\\') {
			out[o++] = (unsigned char)s[i];
			continue;
		}
		if (i + 1 >= n)
			return -1;
		char e = s[++i];
		if (e == '"' || e == '\\' || e == '/') {
			out[o++] = (unsigned char)e;
		} else if (e == 'u' && i + 4 < n && s[i + 1] == '0' && s[i + 2] == '0' &&
			   unhex(s[i + 3]) >= 0 && unhex(s[i + 4]) >= 0) {
			out[o++] = (unsigned char)(unhex(s[i + 3]) << 4 | unhex(s[i + 4]));
			i += 4;
		} else {
			return -1;
		}
	}
	return o;
}

static void check_unix_roundtrip(const unsigned char *sa, size_t len, const char *out,
				 size_t outlen)
{
	size_t off = offsetof(struct sockaddr_un, sun_path);
	size_t n = len > off ? len - off : 0;
	if (n > sizeof(((struct sockaddr_un *)0)->sun_path))
		n = sizeof(((struct sockaddr_un *)0)->sun_path);
	const unsigned char *name = sa + off;
	FUZZ_CHECK(outlen >= 5 && memcmp(out, "unix:", 5) == 0, "%.*s", (int)outlen, out);
	out += 5;
	outlen -= 5;
	if (n == 0) {
		FUZZ_CHECK(outlen == 0, "unnamed socket shown as %.*s", (int)outlen, out);
		return;
	}
	if (name[0] == '\0') {
		FUZZ_CHECK(outlen >= 1 && out[0] == '@', "abstract without @");
		out++;
		outlen--;
		name++;
		n--;
	} else {
		const unsigned char *nul = memchr(name, '\0', n);
		if (nul)
			n = (size_t)(nul - name);
	}
	unsigned char back[256];
	long m = json_bytes(out, outlen, back);
	FUZZ_CHECK(m == (long)n && memcmp(back, name, n) == 0,
		   "the name does not decode back (%ld vs %zu bytes)", m, n);
}

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	unsigned control = (unsigned)fuzz_take(&in, 1);
	bool json = control & 1;
	size_t bufsize = (control >> 1) ? (control >> 1) * 5 : 1024;
	size_t len = in.n;
	unsigned char *sa = fuzz_block(&in, &len);

	static char whole[1024];
	struct a4s_buf all = { whole, sizeof(whole), 0, false };
	a4s_put_sockaddr(&all, (const struct sockaddr *)sa, (socklen_t)len, json);
	FUZZ_CHECK(!all.full, "an address of %zu bytes did not fit 1024", len);
	FUZZ_CHECK(all.len > 0, "nothing written");

	char *cut = malloc(bufsize);
	if (!cut)
		abort();
	struct a4s_buf b = { cut, bufsize, 0, false };
	a4s_put_sockaddr(&b, (const struct sockaddr *)sa, (socklen_t)len, json);
	FUZZ_CHECK(b.len <= bufsize, "wrote %zu into %zu", b.len, bufsize);
	FUZZ_CHECK(b.len <= all.len && memcmp(cut, whole, b.len) == 0, "not a prefix");
	FUZZ_CHECK(b.full == (b.len < all.len), "full flag wrong");

	if (json) {
		FUZZ_CHECK(t_json_string_content(whole, all.len), "not JSON: %.*s", (int)all.len,
			   whole);
		FUZZ_CHECK(t_json_string_content(cut, b.len), "cut not JSON: %.*s", (int)b.len,
			   cut);
		FUZZ_CHECK(fuzz_printable(whole, all.len, 1), "not ASCII: %.*s", (int)all.len,
			   whole);
		if (len >= sizeof(sa_family_t) && ((struct sockaddr *)sa)->sa_family == AF_UNIX)
			check_unix_roundtrip(sa, len, whole, all.len);
	} else {
		FUZZ_CHECK(fuzz_printable(whole, all.len, 0), "text not printable: %.*s",
			   (int)all.len, whole);
	}
	free(cut);
	free(sa);
	return 0;
}
