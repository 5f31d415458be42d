/* SPDX-License-Identifier: ISC */
/*
 * compat: strlcpy as OpenBSD has it, for a C library without one.
 */
#include <string.h>

#include "compat.h"

#ifndef HAVE_STRLCPY
/* Copy at most size - 1 bytes, always terminate; strlen(src). */
size_t
strlcpy(char *dst, const char *src, size_t size)
{
	size_t	len = strlen(src);

	if (size > 0) {
		size_t n = len < size - 1 ? len : size - 1;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}
#endif
