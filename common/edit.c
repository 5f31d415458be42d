/* SPDX-License-Identifier: ISC */
/*
 * edit: bounded edit distance, one row of the table at a time on the
 * stack.
 */
#include <stddef.h>
#include <string.h>

#include "edit.h"

size_t
edit_distance(const char *a, const char *b, size_t max)
{
	size_t	la = strlen(a), lb = strlen(b), i, j, prev, cur, low;
	size_t	d[EDIT_LEN_MAX + 1];

	if (la > EDIT_LEN_MAX || lb > EDIT_LEN_MAX ||
	    (la > lb ? la - lb : lb - la) > max)
		return max + 1;
	for (j = 0; j <= lb; j++)
		d[j] = j;
	for (i = 1; i <= la; i++) {
		prev = d[0];
		d[0] = low = i;
		for (j = 1; j <= lb; j++) {
			cur = d[j];
			d[j] = prev + (a[i - 1] != b[j - 1]);
			if (cur + 1 < d[j])
				d[j] = cur + 1;
			if (d[j - 1] + 1 < d[j])
				d[j] = d[j - 1] + 1;
			if (d[j] < low)
				low = d[j];
			prev = cur;
		}
		/* Every later row is at least this row's least. */
		if (low > max)
			return max + 1;
	}
	return d[lb] > max ? max + 1 : d[lb];
}
