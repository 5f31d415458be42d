/* SPDX-License-Identifier: ISC */
/*
 * tree_diff: a generation's change applied to the live tree in place.
 * The diff is checked against the tree first, so that a diff that would
 * leave a broken tree changes nothing.  Then the nodes that leave (gone,
 * or under a node that moves) are taken out of the tree with their
 * principals, and their counts out of their ancestors'; the nodes that
 * come (new, or moved: built again under the new parent) are put in,
 * children in id order, and their counts added up the path; likewise
 * the principals that changed.
 *
 * What the swap hook can rely on (conn_rebind, called with old == new):
 * every principal that moved, left or changed rights is a new object (or
 * none), and the object a connection still points to is intact until the
 * hook returns, with its node and that node's ancestors as they were.
 * A principal under a node that moved is a new object too, so that the
 * hook sees its path change.  Principals that did not change are the
 * same objects at the same nodes.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "wuzhad.h"

#define TN_OWN_NAME	0x01	/* as in tree.c */
#define TN_DROP		0x02

/* A diff entry: "n:ID\0VALUE" or "p:CN\0VALUE" (tree_load.c). */
static const char *
td_val(const char *e)
{
	return e + strlen(e) + 1;
}

/* The entry for kind ('n' or 'p') and id, or NULL. */
static const char *
td_get(const struct htab *d, char kind, const char *id)
{
	char	k[PROTO_ID_MAX + 3];

	if (strlen(id) > PROTO_ID_MAX)
		return NULL;
	k[0] = kind;
	k[1] = ':';
	strlcpy(k + 2, id, sizeof(k) - 2);
	return htab_get(d, k);
}

/* "TIER:PARENT:NAME": tier, parent (copied), name; -1 if bad. */
static int
td_node_parse(const char *v, int *tier, char *parent, const char **name)
{
	const char	*c1, *c2;

	if ((c1 = strchr(v, ':')) == NULL || (c2 = strchr(c1 + 1, ':')) == NULL ||
	    (*tier = tree_tier_parse(v, (size_t)(c1 - v))) == -1 ||
	    (size_t)(c2 - c1 - 1) > PROTO_ID_MAX)
		return -1;
	memcpy(parent, c1 + 1, (size_t)(c2 - c1 - 1));
	parent[c2 - c1 - 1] = '\0';
	*name = c2 + 1;
	return 0;
}

/* "NODE:RIGHTS": node (copied) and the PROTO_R_* bits; -1 if bad. */
static int
td_principal_parse(const char *v, char *node, unsigned *rights)
{
	const char	*c, *w, *e;
	size_t		 n;

	if ((c = strchr(v, ':')) == NULL || (size_t)(c - v) > PROTO_ID_MAX)
		return -1;
	memcpy(node, v, (size_t)(c - v));
	node[c - v] = '\0';
	*rights = 0;
	for (w = c + 1; *w != '\0'; w = *e ? e + 1 : e) {
		if ((e = strchr(w, ',')) == NULL)
			e = w + strlen(w);
		n = (size_t)(e - w);
		if (n == 7 && strncmp(w, "receive", 7) == 0)
			*rights |= PROTO_R_RECEIVE;
		else if (n == 5 && strncmp(w, "issue", 5) == 0)
			*rights |= PROTO_R_ISSUE;
		else if (n == 7 && strncmp(w, "observe", 7) == 0)
			*rights |= PROTO_R_OBSERVE;
		else if (n != 0)
			return -1;
	}
	return 0;
}

/* Node id after the diff: 1 (tier set) if there is one, 0 if not, -1 bad. */
static int
td_final(const struct tree *t, const struct htab *d, const char *id,
    int *tier)
{
	const char	*e, *name;
	char		 parent[PROTO_ID_MAX + 1];
	struct tnode	*n;

	if ((e = td_get(d, 'n', id)) != NULL) {
		if (*td_val(e) == '\0')
			return 0;
		return td_node_parse(td_val(e), tier, parent, &name) == -1 ?
		    -1 : 1;
	}
	if ((n = tree_node(t, id)) == NULL)
		return 0;
	*tier = n->tier;
	return 1;
}

struct td_ctx {
	struct tree		*t;
	const struct htab	*d;
	char			*err;
	size_t			 errlen;
	int			 failed;
	struct tnode		**drop;		/* leave the tree */
	size_t			 ndrop;
	struct tnode		**add;		/* come in */
	size_t			 nadd;
	struct tprincipal	**gone;		/* principals taken out */
	size_t			 ngone;
	struct tprincipal	**again;	/* of those, to put back as is */
	size_t			 nagain;
};

#define TD_PUSH(arr, n, p) do {						\
	void *a_ = reallocarray((arr), (n) + 1, sizeof(*(arr)));	\
	if (a_ == NULL)							\
		fatal("tree: out of memory");				\
	(arr) = a_;							\
	(arr)[(n)++] = (p);						\
} while (0)

/* Would the diff leave a valid tree?  Reads only. */
static void
td_check_cb(void *v, void *arg)
{
	struct td_ctx		*c = arg;
	const char		*e = v, *id = e + 2, *val = td_val(e), *name;
	char			 parent[PROTO_ID_MAX + 1];
	struct tnode		*x;
	unsigned		 rights;
	uint32_t		 i;
	int			 tier, pt, ft = 0, fx;

	if (c->failed)
		return;
	if (e[0] == 'p') {
		if (*val == '\0')
			return;
		if (!proto_name_valid(id, strlen(id)) ||
		    td_principal_parse(val, parent, &rights) == -1) {
			snprintf(c->err, c->errlen, "principal %.64s: bad value",
			    id);
			c->failed = 1;
		} else if (td_final(c->t, c->d, parent, &pt) != 1) {
			snprintf(c->err, c->errlen, "principal %s: unknown node "
			    "%s", id, parent);
			c->failed = 1;
		}
		return;
	}
	if (*val != '\0') {
		if (!proto_node_id_valid(id, strlen(id)) ||
		    td_node_parse(val, &tier, parent, &name) == -1 ||
		    (*parent != '\0' &&
		    !proto_node_id_valid(parent, strlen(parent)))) {
			snprintf(c->err, c->errlen, "node %.64s: bad value", id);
			c->failed = 1;
			return;
		}
		/*
		 * A police unit that comes or moves under another would need
		 * the whole tree's nesting checked (depth, cycles): the full
		 * load does that, so such a diff is left to it.  One that stays
		 * where it was (a new name) changes no nesting.
		 */
		x = tree_node(c->t, id);
		if (*parent != '\0' && tier == PROTO_TIER_POLICE &&
		    (x == NULL || x->tier != PROTO_TIER_POLICE ||
		    x->parent == NULL || strcmp(x->parent->id, parent) != 0)) {
			snprintf(c->err, c->errlen, "police unit %s comes under "
			    "%s, which only a full load checks", id, parent);
			c->failed = 1;
			return;
		}
		if ((*parent == '\0' && tier != PROTO_TIER_POLICE) ||
		    (*parent != '\0' && (td_final(c->t, c->d, parent, &pt) != 1 ||
		    (pt + 1 != tier && !(pt == PROTO_TIER_POLICE &&
		    tier == PROTO_TIER_POLICE))))) {
			snprintf(c->err, c->errlen, "node %s: a %s cannot sit "
			    "under \"%s\"", id, tree_tier_name(tier), parent);
			c->failed = 1;
			return;
		}
	}
	if ((x = tree_node(c->t, id)) == NULL)
		return;
	/* What stays under x must still have a place. */
	fx = td_final(c->t, c->d, id, &ft);
	for (i = 0; i < x->nchildren; i++)
		if (td_get(c->d, 'n', x->children[i]->id) == NULL &&
		    (fx != 1 || (ft + 1 != x->children[i]->tier &&
		    !(ft == PROTO_TIER_POLICE &&
		    x->children[i]->tier == PROTO_TIER_POLICE)))) {
			snprintf(c->err, c->errlen, "node %s would lose its "
			    "parent %s", x->children[i]->id, id);
			c->failed = 1;
			return;
		}
	for (i = 0; i < x->nmembers; i++)
		if (td_get(c->d, 'p', x->members[i]->cn) == NULL && fx != 1) {
			snprintf(c->err, c->errlen, "principal %s would lose "
			    "its node %s", x->members[i]->cn, id);
			c->failed = 1;
			return;
		}
}

static void
td_mark_cb(struct tnode *n, int depth, void *arg)
{
	struct td_ctx	*c = arg;

	if (n->flags & TN_DROP)
		return;
	n->flags |= TN_DROP;
	TD_PUSH(c->drop, c->ndrop, n);
}

/* Nodes gone or moved: mark them and what is under them. */
static void
td_mark_cb_entry(void *v, void *arg)
{
	struct td_ctx	*c = arg;
	const char	*e = v, *val = td_val(e), *name;
	char		 parent[PROTO_ID_MAX + 1];
	struct tnode	*x;
	int		 tier;

	if (e[0] != 'n' || (x = tree_node(c->t, e + 2)) == NULL)
		return;
	if (*val != '\0') {
		(void)td_node_parse(val, &tier, parent, &name);
		if (tier == x->tier && strcmp(parent, x->parent != NULL ?
		    x->parent->id : "") == 0)
			return;		/* in place: at most a new name */
	}
	tree_walk(x, td_mark_cb, c);
}

/* Take p out of a node's members. */
static void
td_members_del(struct tnode *n, struct tprincipal *p)
{
	uint32_t	i;

	for (i = 0; i < n->nmembers && n->members[i] != p; i++)
		;
	if (i == n->nmembers)
		return;
	memmove(&n->members[i], &n->members[i + 1],
	    (n->nmembers - i - 1) * sizeof(*n->members));
	if (--n->nmembers == 0) {
		free(n->members);
		n->members = NULL;
	}
}

/* Take n out of (or put it in) its parent's children or the roots. */
static void
td_children(struct tree *t, struct tnode *n, int add)
{
	struct tnode	***arr, **a;
	size_t		  cnt, i;
	uint32_t	 *cnt32 = NULL;

	if (n->parent != NULL) {
		arr = &n->parent->children;
		cnt = n->parent->nchildren;
		cnt32 = &n->parent->nchildren;
	} else {
		arr = &t->roots;
		cnt = t->nroots;
	}
	/* Position by id, in a short array (a school has few departments). */
	for (i = 0; i < cnt && strcmp((*arr)[i]->id, n->id) < 0; i++)
		;
	if (add) {
		if ((a = reallocarray(*arr, cnt + 1, sizeof(*a))) == NULL)
			fatal("tree: out of memory");
		memmove(&a[i + 1], &a[i], (cnt - i) * sizeof(*a));
		a[i] = n;
		*arr = a;
		cnt++;
	} else {
		if (i == cnt || (*arr)[i] != n)
			return;
		memmove(&(*arr)[i], &(*arr)[i + 1], (cnt - i - 1) * sizeof(**arr));
		if (--cnt == 0) {
			free(*arr);
			*arr = NULL;
		}
	}
	if (cnt32 != NULL)
		*cnt32 = (uint32_t)cnt;
	else
		t->nroots = cnt;
}

/* Principals in the diff at nodes that stay: take them out. */
static void
td_prin_out_cb(void *v, void *arg)
{
	struct td_ctx		*c = arg;
	const char		*e = v;
	struct tprincipal	*p;

	if (e[0] != 'p' || (p = tree_principal(c->t, e + 2)) == NULL)
		return;
	td_members_del(p->node, p);
	tree_count_up(p->node, 0, 1, (p->rights & PROTO_R_RECEIVE) != 0, 1);
	htab_del(&c->t->principals, p->cn);
	TD_PUSH(c->gone, c->ngone, p);
}

/* Nodes new to the tree, and new names of nodes that stay put. */
static void
td_node_in_cb(void *v, void *arg)
{
	struct td_ctx	*c = arg;
	const char	*e = v, *val = td_val(e), *name;
	char		 parent[PROTO_ID_MAX + 1];
	struct tnode	*x;
	int		 tier;

	if (e[0] != 'n' || *val == '\0')
		return;
	(void)td_node_parse(val, &tier, parent, &name);
	if ((x = tree_node(c->t, e + 2)) != NULL) {
		if (strcmp(x->name, name) == 0)
			return;
		if (x->flags & TN_OWN_NAME)
			free(x->name);
		if ((x->name = strdup(name)) == NULL)
			fatal("tree: out of memory");
		x->flags |= TN_OWN_NAME;
		return;
	}
	/* New, or taken out above because it (or an ancestor) moved. */
	x = tree_node_make(e + 2, name, tier, parent);
	htab_put(&c->t->nodes, x->id, x);
	TD_PUSH(c->add, c->nadd, x);
}

/* Principals with a new value: put them in. */
static void
td_prin_in_cb(void *v, void *arg)
{
	struct td_ctx		*c = arg;
	const char		*e = v, *val = td_val(e);
	char			 node[PROTO_ID_MAX + 1];
	struct tprincipal	*p;
	struct tnode		*n;
	unsigned		 rights;

	if (e[0] != 'p' || *val == '\0')
		return;
	(void)td_principal_parse(val, node, &rights);
	if ((n = tree_node(c->t, node)) == NULL)
		fatalx("tree: diff: node %s vanished", node);	/* checked */
	p = tree_principal_make(e + 2, n, rights);
	htab_put(&c->t->principals, p->cn, p);
	TD_PUSH(n->members, n->nmembers, p);
	tree_count_up(n, 0, 1, (rights & PROTO_R_RECEIVE) != 0, 0);
}

int
tree_apply(struct tree *t, const struct htab *d, uint64_t gen, char *err,
    size_t errlen)
{
	struct td_ctx		 c;
	struct tnode		*x, *n;
	struct tprincipal	*p;
	const char		*pid;
	size_t			 i;
	uint32_t		 j;

	memset(&c, 0, sizeof(c));
	c.t = t;
	c.d = d;
	c.err = err;
	c.errlen = errlen;
	htab_foreach(d, td_check_cb, &c);
	if (c.failed)
		return -1;

	/* Out: gone and moved subtrees, with their principals. */
	htab_foreach(d, td_mark_cb_entry, &c);
	for (i = 0; i < c.ndrop; i++) {
		x = c.drop[i];
		if (x->parent == NULL || !(x->parent->flags & TN_DROP)) {
			tree_count_up(x->parent, x->size, x->principals,
			    x->receivers, 1);
			td_children(t, x, 0);
		}
	}
	for (i = 0; i < c.ndrop; i++) {
		x = c.drop[i];
		htab_del(&t->nodes, x->id);
		for (j = 0; j < x->nmembers; j++) {
			p = x->members[j];
			htab_del(&t->principals, p->cn);
			TD_PUSH(c.gone, c.ngone, p);
			if (td_get(d, 'p', p->cn) == NULL)
				TD_PUSH(c.again, c.nagain, p);
		}
	}
	/* Principals of the diff at nodes that stay. */
	htab_foreach(d, td_prin_out_cb, &c);

	/* In: nodes of the diff, then the dropped ones it does not name. */
	htab_foreach(d, td_node_in_cb, &c);
	for (i = 0; i < c.ndrop; i++) {
		x = c.drop[i];
		if (td_get(d, 'n', x->id) != NULL)
			continue;
		n = tree_node_make(x->id, x->name, x->tier,
		    x->parent != NULL ? x->parent->id : "");
		htab_put(&t->nodes, n->id, n);
		TD_PUSH(c.add, c.nadd, n);
	}
	for (i = 0; i < c.nadd; i++) {
		n = c.add[i];
		pid = tree_node_parent_id(n);
		n->parent = *pid != '\0' ? tree_node(t, pid) : NULL;
		if (*pid != '\0' && n->parent == NULL)
			fatalx("tree: diff: parent %s vanished", pid);
		td_children(t, n, 1);
	}
	for (i = 0; i < c.nadd; i++)
		tree_count_up(c.add[i], 1, 0, 0, 0);
	for (i = 0; i < c.nagain; i++) {
		p = c.again[i];
		if ((n = tree_node(t, p->node->id)) == NULL)
			fatalx("tree: diff: node %s vanished", p->node->id);
		p = tree_principal_make(p->cn, n, p->rights);
		htab_put(&t->principals, p->cn, p);
		TD_PUSH(n->members, n->nmembers, p);
		tree_count_up(n, 0, 1, (p->rights & PROTO_R_RECEIVE) != 0, 0);
	}
	htab_foreach(d, td_prin_in_cb, &c);

	t->nnodes = t->nodes.count;
	t->nprincipals = t->principals.count;
	t->gen = gen;
	/* The connections move over while the old objects are still whole. */
	tree_swapped(t, t);
	for (i = 0; i < c.ngone; i++)
		free(c.gone[i]);
	for (i = 0; i < c.ndrop; i++)
		tree_node_destroy(c.drop[i]);
	log_debug("tree: diff to generation %llu: %zu nodes out, %zu in, "
	    "%zu principals replaced", (unsigned long long)gen, c.ndrop,
	    c.nadd, c.ngone);
	free(c.drop);
	free(c.add);
	free(c.gone);
	free(c.again);
	return 0;
}
