#include "complain.h"

#include "sinkwrite.h"

void a4s_complain(const char *text, size_t len)
{
	/* One write per line, so that lines from several processes started
	 * together do not interleave mid-line. */
	while (len) {
		const char *nl = text;
		while (nl < text + len && *nl != '\n')
			nl++;
		size_t n = (size_t)(nl - text) + (nl < text + len);
		a4s_write_fd2(text, n);
		text += n;
		len -= n;
	}
}
