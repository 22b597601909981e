/*
 * What the three fuzz targets share: the entry point's name (libFuzzer's
 * LLVMFuzzerTestOneInput, or a name of its own when the replay suite links
 * all three together), a byte reader over the input, and the way a broken
 * property is reported (abort, which libFuzzer and Check both catch).
 */
#ifndef A4S_FUZZ_H
#define A4S_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

int FUZZ_ENTRY(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, ...)                                         \
	do {                                                          \
		if (!(cond)) {                                        \
			fprintf(stderr, "%s:%d: property broken: %s: ", \
				__FILE__, __LINE__, #cond);            \
			fprintf(stderr, __VA_ARGS__);                 \
			fputc('\n', stderr);                          \
			abort();                                      \
		}                                                     \
	} while (0)

/* Reads fixed-size fields off the front of the input; zeros once it runs
 * out, so every input is a whole case. */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

static inline uint64_t fuzz_take(struct fuzz_in *in, size_t bytes)
{
	uint64_t v = 0;
	for (size_t i = 0; i < bytes; i++) {
		v = v << 8 | (in->n ? *in->p : 0);
		if (in->n) {
			in->p++;
			in->n--;
		}
	}
	return v;
}

/* Up to *len bytes (fewer if the input runs out: *len says how many) into
 * a fresh heap block of exactly that size, so that AddressSanitizer sees
 * any read past what the formatter was given. */
static inline void *fuzz_block(struct fuzz_in *in, size_t *lenp)
{
	size_t len = *lenp;
	if (len > in->n)
		len = in->n;
	*lenp = len;
	void *p = malloc(len ? len : 1);
	if (!p)
		abort();
	memcpy(p, in->p, len);
	in->p += len;
	in->n -= len;
	return p;
}

/* The printable ASCII a text record or a JSON string's inside may hold. */
static inline int fuzz_printable(const char *s, size_t n, int space_ok)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c > 0x7e || c < 0x20 || (c == ' ' && !space_ok))
			return 0;
	}
	return 1;
}

#endif
