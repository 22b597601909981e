/*
 * Where the library is, and how it joins LD_PRELOAD.
 */
#ifndef A4S_WRAPPER_LIBRARY_H
#define A4S_WRAPPER_LIBRARY_H

#include <stdbool.h>
#include <stddef.h>

/* The library's resolved absolute path: next to this command (the build
 * tree), else at the installed place relative to it. Both places tried are
 * written to tried[] for the error message. False when neither exists. */
bool a4s_find_library(char *out, size_t size, char *tried, size_t tried_size);

/* The directory this command is in. */
bool a4s_dir_of_self(char *dir, size_t size);

/* True when ld.so could not name the path in LD_PRELOAD: it splits the
 * list at spaces and colons. */
bool a4s_unlistable(const char *path);

/* The LD_PRELOAD value that loads lib first and keeps every entry of old
 * (NULL or empty when unset) as it was, or NULL when old already names lib,
 * as the same string or as another path to the same file (a nested run).
 * The result is malloc'd; on allocation failure *failed is set. */
char *a4s_preload_value(const char *lib, const char *old, bool *failed);

#endif
