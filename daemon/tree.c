/* SPDX-License-Identifier: ISC */
/*
 * tree: the in-memory cache of the police -> school -> department ->
 * class forest and of the principals attached to it.  Redis holds the
 * truth (written by "wuzhactl tree import"); tree_load.c reads it a slice
 * at a time into a new tree, which tree_finish_step links and counts a
 * slice at a time, and swaps it in; or it applies a generation's diff to
 * the tree in place (tree_apply).  Whoever holds pointers into the tree
 * (the connections) is told of every swap and every diff through the
 * hook main.c sets, while what they point to is still readable.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "log.h"
#include "wuzhad.h"

/* Told of every swap, old still whole (conn_rebind, set by main.c). */
static void	(*tree_swap_hook)(struct tree *, struct tree *);

void
tree_set_swap_hook(void (*fn)(struct tree *old, struct tree *new))
{
	tree_swap_hook = fn;
}

void
tree_swapped(struct tree *old, struct tree *new)
{
	if (tree_swap_hook != NULL)
		tree_swap_hook(old, new);
}

static const char *tree_tiers[] = { "police", "school", "department", "class" };

const char *
tree_tier_name(int tier)
{
	if (tier < 0 || tier > PROTO_TIER_CLASS)
		return "?";
	return tree_tiers[tier];
}

int
tree_tier_parse(const char *s, size_t len)
{
	int	i;

	for (i = 0; i <= PROTO_TIER_CLASS; i++)
		if (strlen(tree_tiers[i]) == len && memcmp(s, tree_tiers[i],
		    len) == 0)
			return i;
	return -1;
}

/* Marks in tnode.flags. */
#define TN_OWN_NAME	0x01	/* name is its own allocation (renamed) */
#define TN_DROP		0x02	/* tree_apply: leaves this generation */

struct tree *
tree_new(void)
{
	struct tree	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		fatal("tree_new");
	htab_init(&t->nodes);
	htab_init(&t->principals);
	return t;
}

/* One allocation: the node, its id, its name, its parent's id. */
struct tnode *
tree_node_make(const char *id, const char *name, int tier,
    const char *parent)
{
	struct tnode	*n;
	size_t		 il = strlen(id), nl = strlen(name), pl = strlen(parent);

	if ((n = calloc(1, sizeof(*n) + il + nl + pl + 3)) == NULL)
		fatal("tree: out of memory");
	memcpy(n->id, id, il + 1);
	n->name = n->id + il + 1;
	memcpy(n->name, name, nl + 1);
	memcpy(n->name + nl + 1, parent, pl + 1);
	n->tier = (uint8_t)tier;
	TAILQ_INIT(&n->agents);
	return n;
}

/* The parent id it was built with (only before a rename). */
const char *
tree_node_parent_id(const struct tnode *n)
{
	return n->name + strlen(n->name) + 1;
}

struct tprincipal *
tree_principal_make(const char *cn, struct tnode *n, unsigned rights)
{
	struct tprincipal	*p;
	size_t			 l = strlen(cn);

	if ((p = malloc(sizeof(*p) + l + 1)) == NULL)
		fatal("tree: out of memory");
	memcpy(p->cn, cn, l + 1);
	p->node = n;
	p->rights = rights;
	return p;
}

void
tree_node_destroy(struct tnode *n)
{
	if (n->flags & TN_OWN_NAME)
		free(n->name);
	free(n->children);
	free(n->members);
	free(n);
}

static void
tree_node_free(void *v)
{
	tree_node_destroy(v);
}

void
tree_free(struct tree *t)
{
	if (t == NULL)
		return;
	htab_clear(&t->nodes, tree_node_free);
	htab_clear(&t->principals, free);
	free(t->roots);
	free(t);
}

int
tree_free_step(struct tree *t, size_t budget)
{
	if (t->step < 1) {
		t->step = 1;
		t->slot = 0;
	}
	if (t->step == 1) {
		t->slot = htab_clear_from(&t->nodes, t->slot, budget,
		    tree_node_free);
		if (t->slot < t->nodes.nslots)
			return 0;
		t->step = 2;
		t->slot = 0;
		return 0;
	}
	t->slot = htab_clear_from(&t->principals, t->slot, budget, free);
	if (t->slot < t->principals.nslots)
		return 0;
	tree_free(t);
	return 1;
}

/* Append p to a growable pointer array (capacity doubles at powers of 2). */
#define TREE_PUSH(arr, n, p) do {					\
	if (((n) & ((n) - 1)) == 0) {					\
		void *a_ = reallocarray((arr), (n) ? (size_t)(n) * 2 : 1,\
		    sizeof(*(arr)));					\
		if (a_ == NULL)						\
			fatal("tree: out of memory");			\
		(arr) = a_;						\
	}								\
	(arr)[(n)++] = (p);						\
} while (0)

/* Resize an array to exactly n elements (NULL for none). */
static void *
tree_exact(void *a, size_t n, size_t sz)
{
	void	*b;

	if (n == 0) {
		free(a);
		return NULL;
	}
	if ((b = reallocarray(a, n, sz)) == NULL)
		fatal("tree: out of memory");
	return b;
}

int
tree_add_node(struct tree *t, const char *id, const char *name,
    const char *tier, const char *parent, char *err, size_t errlen)
{
	struct tnode	*n;
	int		 ti;

	if (!proto_node_id_valid(id, strlen(id))) {
		snprintf(err, errlen, "node \"%.64s\": bad id", id);
		return -1;
	}
	if ((ti = tree_tier_parse(tier, strlen(tier))) == -1) {
		snprintf(err, errlen, "node %s: unknown tier \"%.32s\"", id, tier);
		return -1;
	}
	if (*parent != '\0' && !proto_node_id_valid(parent, strlen(parent))) {
		snprintf(err, errlen, "node %s: bad parent id", id);
		return -1;
	}
	if (tree_node(t, id) != NULL) {
		snprintf(err, errlen, "node %s: duplicate", id);
		return -1;
	}
	n = tree_node_make(id, name, ti, parent);
	htab_put(&t->nodes, n->id, n);
	t->nnodes++;
	return 0;
}

/* "receive,issue,observe" -> PROTO_R_* bits; -1 on an unknown word. */
static int
tree_rights_parse(const char *s)
{
	char	 buf[128], *p, *w;
	int	 r = 0;

	if (strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		return -1;
	for (p = buf; (w = strsep(&p, ",")) != NULL;) {
		if (strcmp(w, "receive") == 0)
			r |= PROTO_R_RECEIVE;
		else if (strcmp(w, "issue") == 0)
			r |= PROTO_R_ISSUE;
		else if (strcmp(w, "observe") == 0)
			r |= PROTO_R_OBSERVE;
		else if (*w != '\0')
			return -1;
	}
	return r;
}

int
tree_add_principal(struct tree *t, const char *cn, const char *node,
    const char *rights, char *err, size_t errlen)
{
	struct tprincipal	*p;
	struct tnode		*n;
	int			 r;

	if (!proto_name_valid(cn, strlen(cn))) {
		snprintf(err, errlen, "principal \"%.64s\": bad name", cn);
		return -1;
	}
	if ((n = tree_node(t, node)) == NULL) {
		snprintf(err, errlen, "principal %s: unknown node \"%.64s\"", cn, node);
		return -1;
	}
	if ((r = tree_rights_parse(rights)) == -1) {
		snprintf(err, errlen, "principal %s: bad rights \"%.64s\"", cn, rights);
		return -1;
	}
	if (tree_principal(t, cn) != NULL) {
		snprintf(err, errlen, "principal %s: duplicate", cn);
		return -1;
	}
	p = tree_principal_make(cn, n, (unsigned)r);
	htab_put(&t->principals, p->cn, p);
	TREE_PUSH(n->members, n->nmembers, p);
	t->nprincipals++;
	return 0;
}

/* --- finishing a tree, a slice at a time ---------------------------------- */

/*
 * The passes over the nodes, each a walk of the table in slices: link
 * each node to its parent (checking tiers) and count the children; check
 * that police units nest no deeper than they may (so no cycle); give
 * each node its exact arrays, and add it and its receivers to its
 * ancestors' counts; put each node in its parent's array; sort the
 * children by id.  Then the roots, in one go (there are few).
 */
enum {
	TREE_F_LINK = 1,
	TREE_F_DEPTH,
	TREE_F_ALLOC,
	TREE_F_FILL,
	TREE_F_SORT,
	TREE_F_DONE
};

struct tree_fin {
	struct tree	*t;
	char		*err;
	size_t		 errlen;
	int		 failed;
};

static void
tree_link_cb(void *v, void *arg)
{
	struct tnode	*n = v, *p;
	struct tree_fin	*f = arg;
	const char	*pid = tree_node_parent_id(n);

	if (f->failed)
		return;
	if (*pid == '\0') {
		if (n->tier != PROTO_TIER_POLICE) {
			snprintf(f->err, f->errlen, "node %s: a %s needs a parent",
			    n->id, tree_tier_name(n->tier));
			f->failed = 1;
		}
		return;
	}
	if ((p = tree_node(f->t, pid)) == NULL) {
		snprintf(f->err, f->errlen, "node %s: unknown parent %s",
		    n->id, pid);
		f->failed = 1;
		return;
	}
	/*
	 * Tiers rise by exactly one per level, but police units may sit
	 * under police units (checked for depth, and so for cycles, in the
	 * next pass, once all are linked).
	 */
	if (p->tier + 1 != n->tier && !(p->tier == PROTO_TIER_POLICE &&
	    n->tier == PROTO_TIER_POLICE)) {
		snprintf(f->err, f->errlen, "node %s: a %s cannot sit under a %s",
		    n->id, tree_tier_name(n->tier), tree_tier_name(p->tier));
		f->failed = 1;
		return;
	}
	n->parent = p;
	p->nchildren++;
}

/*
 * Police units at most PROTO_POLICE_LEVELS deep, and so no cycle: the
 * walk up stops after that many, whatever the links.
 */
static void
tree_depth_cb(void *v, void *arg)
{
	struct tnode	*n = v, *a;
	struct tree_fin	*f = arg;
	int		 levels = 0;

	if (f->failed || n->tier != PROTO_TIER_POLICE)
		return;
	for (a = n; a != NULL && levels <= PROTO_POLICE_LEVELS; a = a->parent)
		levels++;
	if (levels > PROTO_POLICE_LEVELS) {
		snprintf(f->err, f->errlen, "node %s: police units more than "
		    "%d deep, or in a cycle", n->id, PROTO_POLICE_LEVELS);
		f->failed = 1;
	}
}

/*
 * Add (or, with sub, take) nodes, principals and receivers to the counts
 * of n and of each node above it.
 */
void
tree_count_up(struct tnode *n, uint32_t nodes, uint32_t prins,
    uint32_t receivers, int sub)
{
	for (; n != NULL; n = n->parent) {
		if (sub) {
			n->size -= nodes;
			n->principals -= prins;
			n->receivers -= receivers;
		} else {
			n->size += nodes;
			n->principals += prins;
			n->receivers += receivers;
		}
	}
}

static uint32_t
tree_receivers_at(const struct tnode *n)
{
	uint32_t	i, r = 0;

	for (i = 0; i < n->nmembers; i++)
		if (n->members[i]->rights & PROTO_R_RECEIVE)
			r++;
	return r;
}

static void
tree_alloc_cb(void *v, void *arg)
{
	struct tnode	*n = v;
	struct tree_fin	*f = arg;

	n->members = tree_exact(n->members, n->nmembers, sizeof(*n->members));
	if (n->nchildren > 0 && (n->children = calloc(n->nchildren,
	    sizeof(*n->children))) == NULL)
		fatal("tree: out of memory");
	n->nchildren = 0;
	if (n->parent == NULL)
		TREE_PUSH(f->t->roots, f->t->nroots, n);
	tree_count_up(n, 1, n->nmembers, tree_receivers_at(n), 0);
}

static void
tree_fill_cb(void *v, void *arg)
{
	struct tnode	*n = v;

	if (n->parent != NULL)
		n->parent->children[n->parent->nchildren++] = n;
}

static int
tree_id_cmp(const void *a, const void *b)
{
	return strcmp((*(struct tnode *const *)a)->id,
	    (*(struct tnode *const *)b)->id);
}

/* Children in id order, so walks (and status trees) are stable. */
static void
tree_sort_cb(void *v, void *arg)
{
	struct tnode	*n = v;

	if (n->nchildren > 1)
		qsort(n->children, n->nchildren, sizeof(*n->children), tree_id_cmp);
}

int
tree_finish_step(struct tree *t, size_t budget, char *err, size_t errlen)
{
	static void	(*const pass[])(void *, void *) = {
		NULL, tree_link_cb, tree_depth_cb, tree_alloc_cb, tree_fill_cb,
		tree_sort_cb
	};
	struct tree_fin	 f = { t, err, errlen, 0 };

	if (t->step < TREE_F_LINK) {
		t->step = TREE_F_LINK;
		t->slot = 0;
	}
	if (t->step == TREE_F_DONE)
		return 1;
	t->slot = htab_foreach_from(&t->nodes, t->slot, budget,
	    pass[t->step], &f);
	if (f.failed)
		return -1;
	if (t->slot < t->nodes.nslots)
		return 0;
	t->slot = 0;
	if (++t->step < TREE_F_DONE)
		return 0;
	t->roots = tree_exact(t->roots, t->nroots, sizeof(*t->roots));
	if (t->nroots > 1)
		qsort(t->roots, t->nroots, sizeof(*t->roots), tree_id_cmp);
	return 1;
}

int
tree_finish(struct tree *t, char *err, size_t errlen)
{
	int	rc;

	while ((rc = tree_finish_step(t, (size_t)-1, err, errlen)) == 0)
		;
	return rc == 1 ? 0 : -1;
}

struct tnode *
tree_node(const struct tree *t, const char *id)
{
	return htab_get(&t->nodes, id);
}

struct tprincipal *
tree_principal(const struct tree *t, const char *cn)
{
	return htab_get(&t->principals, cn);
}

int
tree_covers(const struct tnode *anc, const struct tnode *n)
{
	for (; n != NULL; n = n->parent)
		if (n == anc)
			return 1;
	return 0;
}

int
tree_depth(const struct tnode *n)
{
	int	d = 0;

	while ((n = n->parent) != NULL)
		d++;
	return d;
}

static void
tree_walk_depth(struct tnode *n, int depth,
    void (*fn)(struct tnode *, int, void *), void *arg)
{
	size_t	i;

	fn(n, depth, arg);
	for (i = 0; i < n->nchildren; i++)
		tree_walk_depth(n->children[i], depth + 1, fn, arg);
}

void
tree_walk(struct tnode *root, void (*fn)(struct tnode *, int, void *), void *arg)
{
	tree_walk_depth(root, 0, fn, arg);
}

/* n's path from its police root, "a/b/c", in buf. */
const char *
tree_path_str(const struct tnode *n, char *buf, size_t len)
{
	const struct tnode	*up[PROTO_PATH_MAX];
	size_t			 off = 0;
	int			 d = 0, i, w;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	for (; n != NULL && d < PROTO_PATH_MAX; n = n->parent)
		up[d++] = n;
	for (i = d - 1; i >= 0 && off < len; i--) {
		w = snprintf(buf + off, len - off, "%s%s", i == d - 1 ? "" : "/",
		    up[i]->id);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	return buf;
}
