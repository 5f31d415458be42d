/* SPDX-License-Identifier: ISC */
/*
 * edit: how far apart two short words are, for "did you mean" hints (a
 * verb of wuzhactl, a node id in wuzhad's refusals).
 */
#ifndef WUZHA_EDIT_H
#define WUZHA_EDIT_H

#include <stddef.h>

#define EDIT_LEN_MAX	64	/* longer words are never near anything */

/*
 * Levenshtein distance of a and b (insertions, deletions, substitutions
 * of bytes), or max + 1 once it is sure to pass max; also max + 1 when
 * either is longer than EDIT_LEN_MAX.  O(len(a) * len(b)), no allocation.
 */
size_t	edit_distance(const char *a, const char *b, size_t max);

#endif
