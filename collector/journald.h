/*
 * journald's native protocol (systemd.journal-fields(7), "Native Journal
 * Protocol"): one datagram per entry to /run/systemd/journal/socket, each
 * field a "NAME=value\n" line, or "NAME\n" followed by a 64-bit
 * little-endian length and the value for a value that holds a newline. An
 * entry too large for a datagram goes in a sealed memfd whose descriptor is
 * sent instead.
 *
 * Each record is one entry with the fields ACCEPT4SHIM_CALL, _LISTEN_FD,
 * _LOCAL, _FLAGS, _FD, _ERRNO, _PEER, _HOW, _RETRIES, _DUR_NS (and _PID,
 * _TID, _TS), so that `journalctl ACCEPT4SHIM_ERRNO=EMFILE` finds them, and
 * a MESSAGE that is the text record.
 */
#ifndef A4S_JOURNALD_H
#define A4S_JOURNALD_H

#include <stddef.h>

#include "record.h"
#include "summaryfmt.h"

#define A4S_JOURNALD_SOCKET "/run/systemd/journal/socket"
/* An entry's largest size: two escaped AF_UNIX names in their fields and
 * again in MESSAGE, and everything else. */
#define A4S_JOURNALD_ENTRY_MAX 8192
/* Above this an entry goes through a memfd even if a datagram would do. */
#define A4S_JOURNALD_DATAGRAM_MAX 65536

/* The entry for a record of a host (host_pid as the collector knows it,
 * for OBJECT_PID) into buf; its length, 0 if it did not fit. */
size_t a4s_journald_record(const struct a4s_record *r, int host_pid, char *buf, size_t size);
/* The entry for a summary; kind: "exit" or "interval". */
size_t a4s_journald_summary(const struct a4s_summary *s, const char *kind, int host_pid,
			    char *buf, size_t size);

/* A datagram socket connected to path, non-blocking; or -errno. */
int a4s_journald_open(const char *path);
/* Sends one entry: a datagram, or a sealed memfd when the entry is larger
 * than max_datagram or the socket says it is too large. len, or -errno. */
long a4s_journald_send(int fd, const char *entry, size_t len, size_t max_datagram);

#endif
