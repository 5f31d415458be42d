/* SPDX-License-Identifier: ISC */
/*
 * ctl_tty: what wuzhactl needs to line text up on a terminal.  Node names
 * and headlines are Chinese, and a CJK character takes two columns where
 * a Latin letter takes one, so widths are counted in display columns
 * after Unicode's East Asian Width (wide and fullwidth: two), with
 * combining marks and zero-width characters counting none.  The table
 * holds the ranges that matter for text a school or police unit writes;
 * it does not depend on the locale the console happens to run in.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"
#include "utf8.h"
#include "ctl.h"

struct ctl_range {
	unsigned	lo, hi;
};

/* Characters two columns wide (East Asian Width W and F). */
static const struct ctl_range ctl_wide[] = {
	{ 0x1100, 0x115f },	/* Hangul Jamo initial consonants */
	{ 0x231a, 0x231b },	/* watch, hourglass */
	{ 0x2329, 0x232a },	/* angle brackets */
	{ 0x23e9, 0x23ec },
	{ 0x23f0, 0x23f0 },
	{ 0x23f3, 0x23f3 },
	{ 0x25fd, 0x25fe },
	{ 0x2614, 0x2615 },
	{ 0x2648, 0x2653 },
	{ 0x267f, 0x267f },
	{ 0x2693, 0x2693 },
	{ 0x26a1, 0x26a1 },
	{ 0x26aa, 0x26ab },
	{ 0x26bd, 0x26be },
	{ 0x26c4, 0x26c5 },
	{ 0x26ce, 0x26ce },
	{ 0x26d4, 0x26d4 },
	{ 0x26ea, 0x26ea },
	{ 0x26f2, 0x26f3 },
	{ 0x26f5, 0x26f5 },
	{ 0x26fa, 0x26fa },
	{ 0x26fd, 0x26fd },
	{ 0x2705, 0x2705 },
	{ 0x270a, 0x270b },
	{ 0x2728, 0x2728 },
	{ 0x274c, 0x274c },
	{ 0x274e, 0x274e },
	{ 0x2753, 0x2755 },
	{ 0x2757, 0x2757 },
	{ 0x2795, 0x2797 },
	{ 0x27b0, 0x27b0 },
	{ 0x27bf, 0x27bf },
	{ 0x2b1b, 0x2b1c },
	{ 0x2b50, 0x2b50 },
	{ 0x2b55, 0x2b55 },
	{ 0x2e80, 0x303e },	/* CJK radicals, punctuation 。、「」 */
	{ 0x3041, 0x33ff },	/* kana, bopomofo, CJK compatibility */
	{ 0x3400, 0x4dbf },	/* CJK extension A */
	{ 0x4e00, 0x9fff },	/* CJK unified ideographs */
	{ 0xa000, 0xa4cf },	/* Yi */
	{ 0xa960, 0xa97f },
	{ 0xac00, 0xd7a3 },	/* Hangul syllables */
	{ 0xf900, 0xfaff },	/* CJK compatibility ideographs */
	{ 0xfe10, 0xfe19 },	/* vertical forms */
	{ 0xfe30, 0xfe6f },	/* CJK compatibility and small forms */
	{ 0xff00, 0xff60 },	/* fullwidth forms: ，！（） */
	{ 0xffe0, 0xffe6 },
	{ 0x1f300, 0x1f64f },	/* pictographs, emoticons */
	{ 0x1f680, 0x1f6ff },
	{ 0x1f900, 0x1f9ff },
	{ 0x20000, 0x2fffd },	/* CJK extensions B.. */
	{ 0x30000, 0x3fffd },
};

/* Characters of no width: combining marks, joiners, variation selectors. */
static const struct ctl_range ctl_zero[] = {
	{ 0x0300, 0x036f },
	{ 0x0483, 0x0489 },
	{ 0x0591, 0x05bd },
	{ 0x0610, 0x061a },
	{ 0x064b, 0x065f },
	{ 0x200b, 0x200f },	/* zero width space, joiners, marks */
	{ 0x202a, 0x202e },
	{ 0x2060, 0x2064 },
	{ 0x20d0, 0x20ff },
	{ 0x302a, 0x302f },	/* ideographic tone marks */
	{ 0x3099, 0x309a },
	{ 0xfe00, 0xfe0f },	/* variation selectors */
	{ 0xfe20, 0xfe2f },
	{ 0xfeff, 0xfeff },
	{ 0xe0100, 0xe01ef },
};

static int
ctl_in(const struct ctl_range *r, size_t n, unsigned cp)
{
	size_t	lo = 0, hi = n, mid;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (cp < r[mid].lo)
			hi = mid;
		else if (cp > r[mid].hi)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

/*
 * Decode one UTF-8 character at s (n bytes left) into *cp; returns its
 * length.  A byte that starts no valid sequence counts as one character
 * of one column, so that bad input cannot throw the columns off by more.
 */
static size_t
ctl_utf8(const unsigned char *s, size_t n, unsigned *cp)
{
	uint32_t	c;
	size_t		len;

	if ((len = utf8_decode(s, n, &c)) == 0) {
		*cp = '?';
		return 1;
	}
	*cp = c;
	return len;
}

/* Columns one code point takes. */
static size_t
ctl_cp_width(unsigned cp)
{
	if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
		return 0;
	if (ctl_in(ctl_zero, sizeof(ctl_zero) / sizeof(ctl_zero[0]), cp))
		return 0;
	if (ctl_in(ctl_wide, sizeof(ctl_wide) / sizeof(ctl_wide[0]), cp))
		return 2;
	return 1;
}

size_t
ctl_width(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, w = 0;
	unsigned		 cp;

	while (i < len) {
		i += ctl_utf8(p + i, len - i, &cp);
		w += ctl_cp_width(cp);
	}
	return w;
}

void
ctl_pad(FILE *f, const char *s, size_t len, size_t width)
{
	size_t	w = ctl_width(s, len);

	fwrite(s, 1, len, f);
	for (; w < width; w++)
		fputc(' ', f);
}

void
ctl_rpad(FILE *f, const char *s, size_t len, size_t width)
{
	size_t	w = ctl_width(s, len);

	for (; w < width; w++)
		fputc(' ', f);
	fwrite(s, 1, len, f);
}

int
ctl_tty_colour(FILE *f)
{
	const char	*nc = getenv("NO_COLOR"), *term = getenv("TERM");

	if (nc != NULL && *nc != '\0')
		return 0;
	if (term != NULL && strcmp(term, "dumb") == 0)
		return 0;
	return isatty(fileno(f));
}
