/* SPDX-License-Identifier: ISC */
/*
 * utf8: decode and check UTF-8 by the table in RFC 3629 section 4: the
 * lead byte fixes the length and the range the second byte may take,
 * which is what refuses overlongs, surrogates and code points above
 * U+10FFFF; the other continuation bytes are 0x80..0xbf.
 */
#include <stddef.h>
#include <stdint.h>

#include "utf8.h"

size_t
utf8_decode(const void *s, size_t len, uint32_t *cp)
{
	const uint8_t	*p = s;
	size_t		 n, k;
	uint8_t		 lo = 0x80, hi = 0xbf;
	uint32_t	 c;

	if (len == 0)
		return 0;
	c = p[0];
	if (c < 0x80)
		n = 1;
	else if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		c &= 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		c &= 0x0f;
		if (p[0] == 0xe0)
			lo = 0xa0;	/* overlong below U+0800 */
		else if (p[0] == 0xed)
			hi = 0x9f;	/* surrogates U+D800..U+DFFF */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		c &= 0x07;
		if (p[0] == 0xf0)
			lo = 0x90;	/* overlong below U+10000 */
		else if (p[0] == 0xf4)
			hi = 0x8f;	/* above U+10FFFF */
	} else
		return 0;		/* continuation, 0xc0, 0xc1, 0xf5.. */
	if (n > len)
		return 0;
	if (n > 1 && (p[1] < lo || p[1] > hi))
		return 0;
	for (k = 1; k < n; k++) {
		if (p[k] < 0x80 || p[k] > 0xbf)
			return 0;
		c = c << 6 | (p[k] & 0x3fu);
	}
	if (cp != NULL)
		*cp = c;
	return n;
}

int
utf8_check(const void *s, size_t len, size_t *bad)
{
	const uint8_t	*p = s;
	size_t		 i = 0, n;

	while (i < len) {
		if ((n = utf8_decode(p + i, len - i, NULL)) == 0) {
			if (bad != NULL)
				*bad = i;
			return -1;
		}
		i += n;
	}
	return 0;
}
