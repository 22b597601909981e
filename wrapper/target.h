/*
 * The program the wrapper is about to run: which file execvp will pick, and
 * whether a preloaded library can reach it at all.
 */
#ifndef A4S_WRAPPER_TARGET_H
#define A4S_WRAPPER_TARGET_H

#include <stddef.h>

/* The file execvp(name) would run: name itself when it holds a slash, else
 * the first executable regular file along PATH. Returns 0, or the errno
 * execvp would fail with: ENOENT when nothing is there, EACCES when only
 * something not executable is. */
int a4s_resolve_command(const char *name, char *out, size_t size);

/* Prints a warning on stderr for each reason why a library preloaded into
 * path would not be loaded or used: a statically linked ELF (no PT_INTERP)
 * without the archive linked in, an ELF of another class or machine than
 * lib, a program of the other C library (musl or glibc), a set-user-ID or
 * set-group-ID file, file capabilities. A "#!" script is judged by its
 * interpreter. Returns how many warnings it printed. */
int a4s_warn_unreachable(const char *path, const char *lib);

#endif
