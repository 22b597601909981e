/*
 * The library's first call, made from another library's constructor before
 * the library's own (caselibs/early_accept.c), loads the library; what the
 * loading does (here: a complaint that cannot be written) must not leave
 * errno changed after the call succeeded. Prints what that call saw.
 */
#include "case.h"

extern int early_result, early_errno;

int main(void)
{
	say("early accept4: %s, errno %s", early_result >= 0 ? "ok" : "failed",
	    early_errno == 4242 ? "as it was" : strerrorname_np(early_errno));
	return 0;
}
