/* SPDX-License-Identifier: ISC */
/*
 * compat: what some C libraries lack (strlcpy came to glibc in 2.38).
 * common/meson.build defines HAVE_STRLCPY where the library has it.
 */
#ifndef WUZHA_COMPAT_H
#define WUZHA_COMPAT_H

#include <stddef.h>
#include <string.h>

#ifndef HAVE_STRLCPY
size_t	strlcpy(char *, const char *, size_t);
#endif

#endif
