/* SPDX-License-Identifier: ISC */
/*
 * tree_suggest: the node one probably meant by an id that is none, for
 * the "no such node schol-a; did you mean school-a?" of a refusal.  It
 * runs inside the event loop on a tree of a city (156,000 nodes) or a
 * province, so it never walks the tree.  Its bound, whatever the tree:
 *
 *  1. every id one edit away from the typed one (a character dropped,
 *     two swapped, one changed or one added, of [a-z0-9-]) is looked up
 *     in the node table: at most 64 + 63 + 36 * 64 + 37 * 64 = 4,799
 *     lookups of a 64-byte key;
 *  2. failing that, the children of the nearest node the id names by a
 *     prefix ending before a '-' (school-a-d1 of school-a-d1-c9x), then
 *     those of the asker's own node, within two edits: at most
 *     TREE_SUGGEST_SCAN ids compared, each at most 64 by 64 steps.
 *
 * Either is well under a millisecond.  Only nodes at or below the asker's
 * own are named, so a hint never names what the asker may not see.
 */
#include <string.h>

#include "edit.h"
#include "wuzhad.h"

#define TREE_SUGGEST_SCAN	2048	/* children compared by pass 2 */

static const char tree_id_chars[] = "abcdefghijklmnopqrstuvwxyz0123456789-";

/* The node buf names, if scope covers it. */
static struct tnode *
tree_suggest_try(const struct tree *t, const struct tnode *scope,
    const char *buf)
{
	struct tnode	*n = tree_node(t, buf);

	return n != NULL && tree_covers(scope, n) ? n : NULL;
}

/* Pass 1: a node one edit from id (of len bytes), or NULL. */
static struct tnode *
tree_suggest_one(const struct tree *t, const struct tnode *scope,
    const char *id, size_t len)
{
	struct tnode	*n;
	char		 buf[PROTO_ID_MAX + 2], ch;
	size_t		 i, k;

	for (i = 0; i < len; i++) {		/* one dropped */
		memcpy(buf, id, i);
		memcpy(buf + i, id + i + 1, len - i);
		if (buf[0] != '\0' && (n = tree_suggest_try(t, scope, buf)))
			return n;
	}
	for (i = 0; i + 1 < len; i++) {		/* two swapped */
		if (id[i] == id[i + 1])
			continue;
		memcpy(buf, id, len + 1);
		ch = buf[i];
		buf[i] = buf[i + 1];
		buf[i + 1] = ch;
		if ((n = tree_suggest_try(t, scope, buf)) != NULL)
			return n;
	}
	for (i = 0; i < len; i++) {		/* one changed */
		memcpy(buf, id, len + 1);
		for (k = 0; tree_id_chars[k] != '\0'; k++) {
			if (tree_id_chars[k] == id[i])
				continue;
			buf[i] = tree_id_chars[k];
			if ((n = tree_suggest_try(t, scope, buf)) != NULL)
				return n;
		}
	}
	if (len >= PROTO_ID_MAX)
		return NULL;
	for (i = 0; i <= len; i++) {		/* one added */
		memcpy(buf, id, i);
		memcpy(buf + i + 1, id + i, len - i + 1);
		for (k = 0; tree_id_chars[k] != '\0'; k++) {
			buf[i] = tree_id_chars[k];
			if ((n = tree_suggest_try(t, scope, buf)) != NULL)
				return n;
		}
	}
	return NULL;
}

/* Pass 2: the nearest of p's children within *bd edits, in budget. */
static void
tree_suggest_among(const struct tnode *p, const struct tnode *scope,
    const char *id, size_t *budget, size_t *bd, struct tnode **best)
{
	size_t	i, d;

	for (i = 0; i < p->nchildren && *budget > 0; i++, (*budget)--) {
		d = edit_distance(id, p->children[i]->id, *bd - 1);
		if (d < *bd && tree_covers(scope, p->children[i])) {
			*bd = d;
			*best = p->children[i];
		}
	}
}

struct tnode *
tree_suggest(const struct tree *t, const struct tnode *scope,
    const char *id)
{
	struct tnode	*n, *best = NULL;
	char		 buf[PROTO_ID_MAX + 1];
	size_t		 len = strlen(id), i, bd = 3;
	size_t		 budget = TREE_SUGGEST_SCAN;

	if (t == NULL || scope == NULL || len == 0 || len > PROTO_ID_MAX)
		return NULL;
	if ((n = tree_suggest_one(t, scope, id, len)) != NULL)
		return n;
	for (i = len - 1; i > 0; i--) {
		if (id[i] != '-')
			continue;
		memcpy(buf, id, i);
		buf[i] = '\0';
		if ((n = tree_node(t, buf)) != NULL) {
			tree_suggest_among(n, scope, id, &budget, &bd, &best);
			break;
		}
	}
	if (best == NULL)
		tree_suggest_among(scope, scope, id, &budget, &bd, &best);
	return best;
}
