/* SPDX-License-Identifier: ISC */
/*
 * utf8: the one UTF-8 decoder.  Well-formed means RFC 3629's rules: the
 * shortest form only (no overlongs), no surrogates (U+D800..U+DFFF),
 * nothing above U+10FFFF, and no sequence cut short.  U+0000 is
 * well-formed here; a caller that refuses NUL (the protocol does) says so
 * itself.
 */
#ifndef WUZHA_UTF8_H
#define WUZHA_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define UTF8_SEQ_MAX	4	/* bytes in the longest sequence */

/*
 * Length (1 to 4) of the well-formed character at p, of which len bytes
 * are left, with its code point in *cp when cp is not NULL; 0 if p starts
 * none (or len is 0).
 */
size_t	utf8_decode(const void *p, size_t len, uint32_t *cp);
/*
 * 0 if the len bytes at s are well-formed UTF-8; -1 if not, with the
 * offset of the first byte that starts no character in *bad if bad is
 * not NULL.
 */
int	utf8_check(const void *s, size_t len, size_t *bad);
/*
 * Bytes of the len at s to keep so as to keep at most max and not end
 * inside a character: len if it is no more than max.  s is UTF-8.
 */
size_t	utf8_cut(const void *s, size_t len, size_t max);

#endif
