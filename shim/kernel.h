/*
 * The kernel's own structures and constants for the system calls the library
 * makes raw (sys.h), defined here once, under our own names.
 *
 * The C library's definitions cannot be relied on: musl 1.2.3 (Alpine,
 * Debian's musl-gcc) has no struct statx, no struct open_how and no
 * <linux/...> headers at all, and glibc declares some of these only in
 * certain versions. Our own names (a4s_, A4S_) never clash with a C
 * library or a <linux/...> header that does define them. Each layout is the
 * kernel's (include/uapi/linux/...), the same on every architecture, and
 * its size is checked below, so a typo cannot let the kernel write past one.
 *
 * System call numbers come from <sys/syscall.h>: glibc and musl both have
 * every one the library uses (musl 1.2.3 up to SYS_openat2).
 */
#ifndef A4S_KERNEL_H
#define A4S_KERNEL_H

#include <stdint.h>

/* statx(2): include/uapi/linux/stat.h. */
struct a4s_statx_timestamp {
	int64_t tv_sec;
	uint32_t tv_nsec;
	int32_t reserved;
};

struct a4s_statx {
	uint32_t stx_mask;
	uint32_t stx_blksize;
	uint64_t stx_attributes;
	uint32_t stx_nlink;
	uint32_t stx_uid;
	uint32_t stx_gid;
	uint16_t stx_mode;
	uint16_t spare0;
	uint64_t stx_ino;
	uint64_t stx_size;
	uint64_t stx_blocks;
	uint64_t stx_attributes_mask;
	struct a4s_statx_timestamp stx_atime, stx_btime, stx_ctime, stx_mtime;
	uint32_t stx_rdev_major;
	uint32_t stx_rdev_minor;
	uint32_t stx_dev_major;
	uint32_t stx_dev_minor;
	uint64_t spare[14];
};
_Static_assert(sizeof(struct a4s_statx) == 0x100, "struct statx is 256 bytes");

#define A4S_STATX_TYPE 0x0001u
#define A4S_STATX_MODE 0x0002u
#define A4S_STATX_NLINK 0x0004u
#define A4S_STATX_UID 0x0008u
#define A4S_STATX_GID 0x0010u
#define A4S_STATX_INO 0x0100u
#define A4S_STATX_SIZE 0x0200u

/* openat2(2): include/uapi/linux/openat2.h. */
struct a4s_open_how {
	uint64_t flags;
	uint64_t mode;
	uint64_t resolve;
};
_Static_assert(sizeof(struct a4s_open_how) == 24, "struct open_how is 24 bytes");

#define A4S_RESOLVE_NO_XDEV 0x01u
#define A4S_RESOLVE_NO_MAGICLINKS 0x02u
#define A4S_RESOLVE_NO_SYMLINKS 0x04u
#define A4S_RESOLVE_BENEATH 0x08u
#define A4S_RESOLVE_IN_ROOT 0x10u

/* futex(2): include/uapi/linux/futex.h. */
#define A4S_FUTEX_WAIT_PRIVATE (0 /* FUTEX_WAIT */ | 128 /* FUTEX_PRIVATE_FLAG */)
#define A4S_FUTEX_WAKE_PRIVATE (1 /* FUTEX_WAKE */ | 128 /* FUTEX_PRIVATE_FLAG */)

/* rt_sigaction(2) as the kernel lays it out (not the C library's struct
 * sigaction): handler, flags, restorer, then the mask, on x86_64 and
 * aarch64 alike (include/uapi/asm-generic/signal.h). Only read. */
struct a4s_kernel_sigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};
#define A4S_SIGSET_SIZE 8 /* the kernel's sigset_t: 64 signals */

/* prlimit64(2) takes the kernel's struct rlimit64 whatever the C library's
 * rlim_t is (32 bits in a 32-bit glibc program without _FILE_OFFSET_BITS). */
struct a4s_rlimit64 {
	uint64_t cur;
	uint64_t max;
};
#define A4S_RLIM64_INFINITY (~0ull)

#endif
