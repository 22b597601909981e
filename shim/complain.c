#include "complain.h"

#include <stdatomic.h>
#include <stdint.h>

#include "errnames.h"
#include "sinkwrite.h"
#include "text.h"

void a4s_complain(const char *text, size_t len)
{
	/* One write per line, so that lines from several processes started
	 * together do not interleave mid-line. */
	while (len) {
		const char *nl = text;
		while (nl < text + len && *nl != '\n')
			nl++;
		size_t n = (size_t)(nl - text) + (nl < text + len);
		a4s_write_stderr(text, n);
		text += n;
		len -= n;
	}
}

/* The errors an operator meets, in words; the others by name only
 * (strerror is locale machinery and may allocate). */
static const char *errno_words(int err)
{
	switch (err) {
	case EACCES: return "permission denied";
	case EPERM: return "operation not permitted";
	case ENOENT: return "no such file or directory";
	case ENOTDIR: return "a component of the path is not a directory";
	case EISDIR: return "it is a directory";
	case ELOOP: return "a symbolic link is in the path";
	case ENXIO: return "no reader on the FIFO";
	case EROFS: return "read-only file system";
	case ENOSPC: return "no space left on device";
	case EDQUOT: return "disk quota exceeded";
	case EIO: return "input/output error";
	case EMFILE: return "too many open files in this process";
	case ENFILE: return "too many open files in the system";
	case ENAMETOOLONG: return "the path is too long";
	case EAGAIN: return "the reader does not keep up";
	case EPIPE: return "the reader is gone";
	case ECONNREFUSED: return "nobody listens";
	case ENOTCONN: return "not connected";
	case ECONNRESET: return "it hung up";
	case EBUSY: return "it serves as many processes as it can";
	case EPROTO: return "protocol error";
	case EFBIG: return "the file size limit is reached";
	default: return NULL;
	}
}

static void put_errno(struct a4s_buf *b, int err)
{
	const char *words = errno_words(err);
	const char *name = a4s_errno_name(err);
	if (words) {
		a4s_put(b, words);
		a4s_put(b, " (");
	}
	if (name) {
		a4s_put(b, name);
	} else {
		a4s_put(b, "errno ");
		a4s_put_i64(b, err);
	}
	if (words)
		a4s_put(b, ")");
}

#define DEST_SHOWN 240

/* "accept4shim: <what> <dest>: ", the path escaped, so the line stays one
 * line, and cut to DEST_SHOWN characters, so the line fits a small buffer. */
static void put_head(struct a4s_buf *b, const char *what, const char *dest)
{
	a4s_put(b, "accept4shim: ");
	a4s_put(b, what);
	struct a4s_buf name = { b->p + b->len,
				b->size - b->len < DEST_SHOWN ? b->size - b->len : DEST_SHOWN, 0,
				false };
	a4s_put_escaped_text(&name, dest, __builtin_strlen(dest));
	b->len += name.len;
	if (name.full)
		a4s_put(b, "...");
	a4s_put(b, ": ");
}

size_t a4s_format_collector_complaint(const char *sock, const char *happened, int err,
				      const char *then, char *buf, size_t size)
{
	struct a4s_buf b = { buf, size, 0, false };
	put_head(&b, "collector ", sock);
	a4s_put(&b, happened);
	if (err) {
		a4s_put(&b, ": ");
		put_errno(&b, err);
	}
	a4s_put(&b, "; ");
	a4s_put(&b, then);
	a4s_put(&b, "\n");
	return b.full ? 0 : b.len;
}

void a4s_complain_collector(const char *sock, const char *happened, int err, const char *then)
{
	char line[A4S_COMPLAINT_LINE_MAX];
	size_t len = a4s_format_collector_complaint(sock, happened, err, then, line, sizeof(line));
	if (len)
		a4s_write_stderr(line, len);
}

size_t a4s_format_complaint(const char *dest, const struct a4s_cause *why, char *buf,
			    size_t size)
{
	struct a4s_buf b = { buf, size, 0, false };
	put_head(&b, "trace ", dest);
	switch (why->kind) {
	case A4S_CAUSE_OPEN:
		a4s_put(&b, "cannot open: ");
		put_errno(&b, why->err);
		break;
	case A4S_CAUSE_WRITE:
		a4s_put(&b, "cannot write: ");
		put_errno(&b, why->err);
		break;
	case A4S_CAUSE_TYPE:
		a4s_put(&b, "refused: not a regular file, FIFO or character device");
		break;
	case A4S_CAUSE_OWNER:
		a4s_put(&b, "refused: owned by uid ");
		a4s_put_u64(&b, why->n);
		a4s_put(&b, ", not by the effective uid ");
		a4s_put_u64(&b, (unsigned)a4s_geteuid());
		break;
	case A4S_CAUSE_LINKS:
		a4s_put(&b, "refused: the file has ");
		a4s_put_u64(&b, why->n);
		a4s_put(&b, " links, not 1");
		break;
	case A4S_CAUSE_FSIZE:
		a4s_put(&b, "the file size limit (RLIMIT_FSIZE) is reached");
		break;
	default:
		a4s_put(&b, "unusable");
		break;
	}
	if (why->kind == A4S_CAUSE_OPEN && (why->err == EMFILE || why->err == ENFILE))
		a4s_put(&b, "; records wait for a free descriptor (4 KiB of them at most), "
			    "the rest are dropped and counted\n");
	else
		a4s_put(&b, "; records are dropped and counted\n");
	return b.full ? 0 : b.len;
}

/*
 * Said once per process and cause: one bit per (kind, errno) pair, errno
 * below 160 (Linux has 133); the refusals that carry no errno have one bit
 * each. Set before the line is written, so two threads that fail at once
 * say it once between them.
 */
#define ERRNO_BITS 160
#define CAUSE_BITS (3 * ERRNO_BITS)
static atomic_uint_fast64_t said[(CAUSE_BITS + 63) / 64];

static unsigned cause_bit(const struct a4s_cause *why)
{
	unsigned err = why->err > 0 && why->err < ERRNO_BITS ? (unsigned)why->err : 0;
	switch (why->kind) {
	case A4S_CAUSE_OPEN: return err;
	case A4S_CAUSE_WRITE: return ERRNO_BITS + err;
	default: return 2 * ERRNO_BITS + (unsigned)why->kind;
	}
}

void a4s_complain_dest(const char *dest, const struct a4s_cause *why)
{
	unsigned bit = cause_bit(why);
	uint_fast64_t mask = (uint_fast64_t)1 << (bit % 64);
	if (atomic_fetch_or(&said[bit / 64], mask) & mask)
		return;
	char line[A4S_COMPLAINT_LINE_MAX];
	size_t len = a4s_format_complaint(dest, why, line, sizeof(line));
	if (len)
		a4s_write_stderr(line, len);
}

void a4s_complain_forget(void)
{
	for (size_t i = 0; i < sizeof(said) / sizeof(said[0]); i++)
		atomic_store(&said[i], 0);
}
