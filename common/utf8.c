/* SPDX-License-Identifier: ISC */
/*
 * utf8: decode and check UTF-8 by the table in RFC 3629 section 4: the
 * lead byte fixes the length and the range the second byte may take,
 * which is what refuses overlongs, surrogates and code points above
 * U+10FFFF; the other continuation bytes are 0x80..0xbf.  Nothing past
 * len is read.
 */
#include <stddef.h>
#include <stdint.h>

#include "utf8.h"

/*
 * The lead bytes of multi-byte characters, as RFC 3629 lists them: how
 * many bytes the character takes, the range its second byte may take,
 * and the bits of the lead that are part of the code point.  Lead bytes
 * not here (0x80..0xc1, 0xf5..0xff) start nothing.
 */
static const struct utf8_lead {
	uint8_t	first, last;	/* lead bytes this row covers */
	uint8_t	n;		/* bytes in the character */
	uint8_t	lo, hi;		/* range of the second byte */
	uint8_t	bits;		/* mask of the lead's payload */
} utf8_leads[] = {
	{ 0xc2, 0xdf, 2, 0x80, 0xbf, 0x1f },
	{ 0xe0, 0xe0, 3, 0xa0, 0xbf, 0x0f },	/* overlong below U+0800 */
	{ 0xe1, 0xec, 3, 0x80, 0xbf, 0x0f },
	{ 0xed, 0xed, 3, 0x80, 0x9f, 0x0f },	/* surrogates U+D800.. */
	{ 0xee, 0xef, 3, 0x80, 0xbf, 0x0f },
	{ 0xf0, 0xf0, 4, 0x90, 0xbf, 0x07 },	/* overlong below U+10000 */
	{ 0xf1, 0xf3, 4, 0x80, 0xbf, 0x07 },
	{ 0xf4, 0xf4, 4, 0x80, 0x8f, 0x07 },	/* above U+10FFFF */
};

size_t
utf8_decode(const void *s, size_t len, uint32_t *cp)
{
	const uint8_t		*p = s;
	const struct utf8_lead	*l = NULL;
	size_t			 i, k;
	uint32_t		 c;

	if (len == 0)
		return 0;
	if (p[0] < 0x80) {
		if (cp != NULL)
			*cp = p[0];
		return 1;
	}
	for (i = 0; i < sizeof(utf8_leads) / sizeof(utf8_leads[0]); i++) {
		if (p[0] >= utf8_leads[i].first && p[0] <= utf8_leads[i].last) {
			l = &utf8_leads[i];
			break;
		}
	}
	if (l == NULL || l->n > len || p[1] < l->lo || p[1] > l->hi)
		return 0;
	c = p[0] & l->bits;
	for (k = 1; k < l->n; k++) {
		if (p[k] < 0x80 || p[k] > 0xbf)
			return 0;
		c = c << 6 | (p[k] & 0x3fu);
	}
	if (cp != NULL)
		*cp = c;
	return l->n;
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

size_t
utf8_cut(const void *s, size_t len, size_t max)
{
	const uint8_t	*p = s;

	if (len <= max)
		return len;
	while (max > 0 && (p[max] & 0xc0) == 0x80)
		max--;
	return max;
}
