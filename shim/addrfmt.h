#ifndef A4S_ADDRFMT_H
#define A4S_ADDRFMT_H

#include <stdbool.h>
#include <sys/socket.h>

#include "text.h"

/*
 * A socket address as the trace shows it, unquoted:
 *   127.0.0.1:8080   [::1]:8080   [fe80::1%2]:8080 (scope id as a number)
 *   unix:/path       unix:@name (abstract)       unix: (unnamed)
 * An AF_UNIX name may hold any byte, so it goes through the escaper of the
 * record's format (json: JSON string escapes; otherwise the text escapes).
 * Other families as "family:N"; len too short to hold the family, or an
 * IPv4 or IPv6 address cut short: "?".
 */
A4S_HIDDEN void a4s_put_sockaddr(struct a4s_buf *b, const struct sockaddr *sa,
				 socklen_t len, bool json);

#endif
