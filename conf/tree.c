/* SPDX-License-Identifier: ISC */
/*
 * tree.yaml: the police -> school -> department -> class forest and the
 * principals (certificate CNs) attached to its nodes, as wuzhactl imports
 * and exports it.  Reading checks each entry, then the whole: ids and CNs
 * unique, every parent and principal node known, no cycle, each tier under
 * the one above it.  Nodes come out parents-first, in depth-first order
 * with siblings as written, so a written tree reads back the same.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_impl.h"

#define TREE_NONE	((size_t)-1)	/* no parent */
#define TREE_DONE	((size_t)-1)	/* cycle walk: node known acyclic */
#define TREE_CYCLE_SHOW	8		/* ids shown when a cycle is reported */

/*
 * Lines each node entry came from, for messages (the entries themselves
 * are gone once read: the file is streamed).  parent 0: none given.
 */
struct tree_src {
	int	entry;
	int	id;
	int	parent;
};

/* Lines of each principal entry. */
struct tree_psrc {
	int	cn;
	int	node;
};

/* Everything a build allocates, freed in one place. */
struct tree_build {
	struct conf_yaml_doc	 *doc;
	struct conf_node	 *nodes;	/* file order */
	struct tree_src		 *src;
	size_t			  nnodes;
	size_t			  capnodes;
	size_t			  capprinc;
	struct conf_node	**byid;		/* sorted by id, then file order */
	size_t			 *pidx;		/* parent index or TREE_NONE */
	size_t			 *order;	/* parents-first */
	struct conf_principal	 *princ;	/* file order */
	struct tree_psrc	 *psrc;
	size_t			  nprinc;
};

static const char *const tree_tiers[] = {
	"police", "school", "department", "class",
};

static const struct {
	const char	*name;
	unsigned	 bit;
} tree_rights[] = {
	{ "receive", CONF_R_RECEIVE },
	{ "issue", CONF_R_ISSUE },
	{ "observe", CONF_R_OBSERVE },
};

/*
 * An error about field (NULL: the entry itself) of entry i of seq
 * ("nodes", "principals"), at line.
 */
static int __attribute__((format(printf, 6, 7)))
tree_err(struct tree_build *b, const char *seq, size_t i, const char *field,
    int line, const char *fmt, ...)
{
	char	path[128], reason[CONF_ERR_MAX];
	va_list	ap;

	if (field != NULL)
		snprintf(path, sizeof(path), "%s[%zu].%s", seq, i, field);
	else
		snprintf(path, sizeof(path), "%s[%zu]", seq, i);
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	return conf_yaml_error_at(b->doc, line, path, "%s", reason);
}

/* Copy a scalar that must be a node id into a fixed buffer. */
static int
tree_id(struct conf_yaml_doc *doc, const struct conf_yaml_node *node,
    char out[CONF_ID_MAX + 1])
{
	const char	*s;
	char		 q[128];

	if ((s = conf_yaml_scalar(doc, node)) == NULL)
		return -1;
	if (conf_util_nodeid(s) == -1) {
		conf_util_quote(q, sizeof(q), s, strlen(s));
		return conf_yaml_error(doc, node,
		    "invalid node id %s (want [a-z0-9-]{1,64})", q);
	}
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

/* One entry of nodes: {id, name, tier, parent?}. */
static int
tree_node(struct conf_yaml_doc *doc, const struct conf_yaml_node *entry,
    struct conf_node *n, struct tree_src *src)
{
	const struct conf_yaml_node	*id, *name, *tier, *parent;
	const struct conf_yaml_key	 keys[] = {
		{ "id", 1, &id }, { "name", 1, &name }, { "tier", 1, &tier },
		{ "parent", 0, &parent },
	};
	const char			*s;
	char				 q[128];
	size_t				 t;

	if (conf_yaml_map(doc, entry, keys, sizeof(keys) / sizeof(keys[0])) ==
	    -1)
		return -1;
	src->entry = entry->line;
	src->id = id->line;
	src->parent = parent != NULL ? parent->line : 0;
	n->line = entry->line;
	if (tree_id(doc, id, n->id) == -1)
		return -1;
	if (conf_yaml_string(doc, name, CONF_NAME_MAX, &n->name) == -1)
		return -1;
	if ((s = conf_yaml_scalar(doc, tier)) == NULL)
		return -1;
	for (t = 0; t < sizeof(tree_tiers) / sizeof(tree_tiers[0]); t++)
		if (strcmp(s, tree_tiers[t]) == 0)
			break;
	if (t == sizeof(tree_tiers) / sizeof(tree_tiers[0])) {
		conf_util_quote(q, sizeof(q), s, strlen(s));
		return conf_yaml_error(doc, tier, "unknown tier %s "
		    "(want police, school, department or class)", q);
	}
	n->tier = (enum conf_tier)t;
	if (parent != NULL && tree_id(doc, parent, n->parent) == -1)
		return -1;
	return 0;
}

/* One entry of principals: {cn, node, rights: [...]}. */
static int
tree_principal(struct conf_yaml_doc *doc, const struct conf_yaml_node *entry,
    struct conf_principal *p, struct tree_psrc *src)
{
	const struct conf_yaml_node	*cn, *node, *rights, *r;
	const struct conf_yaml_key	 keys[] = {
		{ "cn", 1, &cn }, { "node", 1, &node }, { "rights", 1, &rights },
	};
	const char			*s;
	char				 q[128];
	size_t				 i, k;

	if (conf_yaml_map(doc, entry, keys, sizeof(keys) / sizeof(keys[0])) ==
	    -1)
		return -1;
	src->cn = cn->line;
	src->node = node->line;
	p->line = entry->line;
	if ((s = conf_yaml_scalar(doc, cn)) == NULL)
		return -1;
	if (conf_util_cn(s) == -1) {
		conf_util_quote(q, sizeof(q), s, strlen(s));
		return conf_yaml_error(doc, cn, "invalid CN %s (want "
		    "[A-Za-z0-9._-]{1,64}, not starting with '.' or '-')", q);
	}
	memcpy(p->cn, s, strlen(s) + 1);
	if (tree_id(doc, node, p->node) == -1)
		return -1;
	if (conf_yaml_seq(doc, rights) == -1)
		return -1;
	if (rights->n == 0)
		return conf_yaml_error(doc, rights,
		    "must list at least one right");
	for (i = 0; i < rights->n; i++) {
		r = rights->items[i];
		if ((s = conf_yaml_scalar(doc, r)) == NULL)
			return -1;
		for (k = 0; k < sizeof(tree_rights) / sizeof(tree_rights[0]);
		    k++)
			if (strcmp(s, tree_rights[k].name) == 0)
				break;
		conf_util_quote(q, sizeof(q), s, strlen(s));
		if (k == sizeof(tree_rights) / sizeof(tree_rights[0]))
			return conf_yaml_error(doc, r, "unknown right %s "
			    "(want receive, issue or observe)", q);
		if (p->rights & tree_rights[k].bit)
			return conf_yaml_error(doc, r, "right %s listed twice",
			    q);
		p->rights |= tree_rights[k].bit;
	}
	return 0;
}

/* Order by id, then by position in the file. */
static int
tree_node_cmp(const void *a, const void *b)
{
	const struct conf_node	*x = *(const struct conf_node *const *)a;
	const struct conf_node	*y = *(const struct conf_node *const *)b;
	int			 c;

	if ((c = strcmp(x->id, y->id)) != 0)
		return c;
	return x < y ? -1 : x > y;
}

/* Order by CN, then by position in the file. */
static int
tree_princ_cmp(const void *a, const void *b)
{
	const struct conf_principal *x = *(const struct conf_principal *const *)a;
	const struct conf_principal *y = *(const struct conf_principal *const *)b;
	int			 c;

	if ((c = strcmp(x->cn, y->cn)) != 0)
		return c;
	return x < y ? -1 : x > y;
}

/* Index of the node with this id, or TREE_NONE. */
static size_t
tree_find(const struct tree_build *b, const char *id)
{
	size_t	lo = 0, hi = b->nnodes, mid;
	int	c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = strcmp(id, b->byid[mid]->id)) == 0)
			return (size_t)(b->byid[mid] - b->nodes);
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return TREE_NONE;
}

/* Refuse an id used twice, reporting the earliest repeat in the file. */
static int
tree_dup_ids(struct tree_build *b)
{
	const struct conf_node	*dup = NULL, *first = NULL;
	size_t			 i;

	for (i = 0; i < b->nnodes; i++)
		b->byid[i] = &b->nodes[i];
	qsort(b->byid, b->nnodes, sizeof(*b->byid), tree_node_cmp);
	for (i = 1; i < b->nnodes; i++) {
		if (strcmp(b->byid[i - 1]->id, b->byid[i]->id) != 0)
			continue;
		/* byid[i - 1] starts a run, byid[i] repeats it first. */
		if (dup == NULL || b->byid[i] < dup) {
			dup = b->byid[i];
			first = b->byid[i - 1];
		}
		while (i + 1 < b->nnodes &&
		    strcmp(b->byid[i]->id, b->byid[i + 1]->id) == 0)
			i++;
	}
	if (dup == NULL)
		return 0;
	return tree_err(b, "nodes", (size_t)(dup - b->nodes), "id",
	    b->src[dup - b->nodes].id, "duplicate node id \"%s\" (first at "
	    "line %d)", dup->id, first->line);
}

/* Refuse a parent that walks back to where it started. */
static int
tree_cycles(struct tree_build *b)
{
	char	 chain[CONF_ERR_MAX];
	size_t	*stamp, i, j, prev = TREE_NONE, o, shown;
	int	 r = 0;

	if ((stamp = calloc(b->nnodes + 1, sizeof(*stamp))) == NULL)
		return conf_yaml_error(b->doc, NULL, "out of memory");
	/* stamp[j] is i + 1 while walking up from i, TREE_DONE after. */
	for (i = 0; i < b->nnodes && r == 0; i++) {
		for (j = i; j != TREE_NONE && stamp[j] != TREE_DONE;
		    j = b->pidx[j]) {
			if (stamp[j] == i + 1)
				break;
			stamp[j] = i + 1;
			prev = j;
		}
		if (j != TREE_NONE && stamp[j] == i + 1) {
			/* prev's parent closes the loop: list it from prev. */
			o = (size_t)snprintf(chain, sizeof(chain), "%s",
			    b->nodes[prev].id);
			shown = 1;
			for (j = b->pidx[prev]; o < sizeof(chain);
			    j = b->pidx[j]) {
				if (j != prev && shown == TREE_CYCLE_SHOW - 1) {
					o += (size_t)snprintf(chain + o,
					    sizeof(chain) - o, " -> ... -> %s",
					    b->nodes[prev].id);
					break;
				}
				o += (size_t)snprintf(chain + o,
				    sizeof(chain) - o, " -> %s",
				    b->nodes[j].id);
				shown++;
				if (j == prev)
					break;
			}
			r = tree_err(b, "nodes", prev, "parent",
			    b->src[prev].parent, "cycle: %s", chain);
		}
		for (j = i; j != TREE_NONE && stamp[j] == i + 1;
		    j = b->pidx[j])
			stamp[j] = TREE_DONE;
	}
	free(stamp);
	return r;
}

/* A tier as messages name it. */
static const char *
tree_tier_desc(enum conf_tier t)
{
	return t == CONF_TIER_POLICE ? "police unit" : conf_tier_name(t);
}

/*
 * Each tier sits under the one above it.  Police units are the roots, or
 * sit under a police unit (a province's department over its cities', a
 * city's over its districts'), at most CONF_POLICE_LEVELS deep.
 */
static int
tree_tiers_ok(struct tree_build *b)
{
	const struct conf_node	*n, *p;
	enum conf_tier		 up;
	size_t			 i, k, levels;

	for (i = 0; i < b->nnodes; i++) {
		n = &b->nodes[i];
		if (n->tier == CONF_TIER_POLICE) {
			if (b->src[i].parent == 0)
				continue;
			p = &b->nodes[b->pidx[i]];
			if (p->tier != CONF_TIER_POLICE)
				return tree_err(b, "nodes", i, "parent",
				    b->src[i].parent, "a police unit's parent "
				    "must be a police unit, and \"%s\" is a %s",
				    p->id, tree_tier_desc(p->tier));
			/* No cycle is left: the walk up ends. */
			for (k = i, levels = 1; b->pidx[k] != TREE_NONE;
			    k = b->pidx[k])
				levels++;
			if (levels > CONF_POLICE_LEVELS)
				return tree_err(b, "nodes", i, "parent",
				    b->src[i].parent, "police units more than "
				    "%d deep", CONF_POLICE_LEVELS);
			continue;
		}
		up = (enum conf_tier)(n->tier - 1);
		if (b->src[i].parent == 0)
			return tree_err(b, "nodes", i, "parent",
			    b->src[i].entry, "a %s needs a parent (a %s)",
			    tree_tier_desc(n->tier), tree_tier_desc(up));
		p = &b->nodes[b->pidx[i]];
		if (p->tier != up)
			return tree_err(b, "nodes", i, "parent",
			    b->src[i].parent,
			    "a %s's parent must be a %s, and \"%s\" is a %s",
			    tree_tier_desc(n->tier), tree_tier_desc(up), p->id,
			    tree_tier_desc(p->tier));
	}
	return 0;
}

/* Depth-first from each root, children in file order: parents first. */
static int
tree_order(struct tree_build *b)
{
	size_t	*first = NULL, *kids = NULL, *stack = NULL, *fill = NULL;
	size_t	 i, k, x, sp = 0, nout = 0;
	int	 r = -1;

	if ((first = calloc(b->nnodes + 1, sizeof(*first))) == NULL ||
	    (fill = calloc(b->nnodes + 1, sizeof(*fill))) == NULL ||
	    (kids = calloc(b->nnodes + 1, sizeof(*kids))) == NULL ||
	    (stack = calloc(b->nnodes + 1, sizeof(*stack))) == NULL ||
	    (b->order = calloc(b->nnodes + 1, sizeof(*b->order))) == NULL) {
		conf_yaml_error(b->doc, NULL, "out of memory");
		goto done;
	}
	/* Children of i are kids[first[i] .. first[i + 1]). */
	for (i = 0; i < b->nnodes; i++)
		if (b->pidx[i] != TREE_NONE)
			first[b->pidx[i] + 1]++;
	for (i = 0; i < b->nnodes; i++)
		first[i + 1] += first[i];
	memcpy(fill, first, (b->nnodes + 1) * sizeof(*fill));
	for (i = 0; i < b->nnodes; i++)
		if (b->pidx[i] != TREE_NONE)
			kids[fill[b->pidx[i]]++] = i;
	for (i = 0; i < b->nnodes; i++) {
		if (b->pidx[i] != TREE_NONE)
			continue;
		stack[sp++] = i;
		while (sp > 0) {
			x = stack[--sp];
			b->order[nout++] = x;
			for (k = first[x + 1]; k > first[x]; k--)
				stack[sp++] = kids[k - 1];
		}
	}
	if (nout != b->nnodes) {
		conf_yaml_error(b->doc, NULL, "tree ordering failed");
		goto done;
	}
	r = 0;
done:
	free(first);
	free(fill);
	free(kids);
	free(stack);
	return r;
}

/* Principals: CNs unique, each on a known node. */
static int
tree_principals_ok(struct tree_build *b)
{
	struct conf_principal	**byc, *dup = NULL, *first = NULL;
	size_t			  i;

	if (b->nprinc == 0)
		return 0;
	if ((byc = calloc(b->nprinc, sizeof(*byc))) == NULL)
		return conf_yaml_error(b->doc, NULL, "out of memory");
	for (i = 0; i < b->nprinc; i++)
		byc[i] = &b->princ[i];
	qsort(byc, b->nprinc, sizeof(*byc), tree_princ_cmp);
	for (i = 1; i < b->nprinc; i++) {
		if (strcmp(byc[i - 1]->cn, byc[i]->cn) != 0)
			continue;
		if (dup == NULL || byc[i] < dup) {
			dup = byc[i];
			first = byc[i - 1];
		}
		while (i + 1 < b->nprinc &&
		    strcmp(byc[i]->cn, byc[i + 1]->cn) == 0)
			i++;
	}
	free(byc);
	if (dup != NULL)
		return tree_err(b, "principals", (size_t)(dup - b->princ), "cn",
		    b->psrc[dup - b->princ].cn, "duplicate CN \"%s\" (first "
		    "at line %d)", dup->cn, first->line);
	for (i = 0; i < b->nprinc; i++)
		if (tree_find(b, b->princ[i].node) == TREE_NONE)
			return tree_err(b, "principals", i, "node",
			    b->psrc[i].node, "unknown node \"%s\"",
			    b->princ[i].node);
	return 0;
}

/* Room for one more entry in *v (of n, capacity *cap); -1 if none. */
static int
tree_grow(void **v, size_t n, size_t *cap, size_t size)
{
	void	*nv;
	size_t	 c;

	if (n < *cap)
		return 0;
	c = *cap ? *cap * 2 : 256;
	if ((nv = reallocarray(*v, c + 1, size)) == NULL)
		return -1;
	memset((char *)nv + n * size, 0, (c + 1 - n) * size);
	*v = nv;
	*cap = c;
	return 0;
}

/* One entry of nodes or principals, as the file is read. */
static int
tree_item(struct conf_yaml_doc *doc, const char *key,
    const struct conf_yaml_node *item, void *arg)
{
	struct tree_build	*b = arg;
	size_t			 cap;

	if (strcmp(key, "nodes") == 0) {
		if (b->nnodes == CONF_NODES_MAX)
			return conf_yaml_error(doc, item->parent,
			    "more than %d nodes", CONF_NODES_MAX);
		cap = b->capnodes;
		if (tree_grow((void **)&b->nodes, b->nnodes, &cap,
		    sizeof(*b->nodes)) == -1 || tree_grow((void **)&b->src,
		    b->nnodes, &b->capnodes, sizeof(*b->src)) == -1)
			return conf_yaml_error(doc, NULL, "out of memory");
		if (tree_node(doc, item, &b->nodes[b->nnodes],
		    &b->src[b->nnodes]) == -1) {
			/* Not counted: free what it got before it failed. */
			free(b->nodes[b->nnodes].name);
			b->nodes[b->nnodes].name = NULL;
			return -1;
		}
		b->nnodes++;
	} else if (strcmp(key, "principals") == 0) {
		if (b->nprinc == CONF_PRINCIPALS_MAX)
			return conf_yaml_error(doc, item->parent,
			    "more than %d principals", CONF_PRINCIPALS_MAX);
		cap = b->capprinc;
		if (tree_grow((void **)&b->princ, b->nprinc, &cap,
		    sizeof(*b->princ)) == -1 || tree_grow((void **)&b->psrc,
		    b->nprinc, &b->capprinc, sizeof(*b->psrc)) == -1)
			return conf_yaml_error(doc, NULL, "out of memory");
		if (tree_principal(doc, item, &b->princ[b->nprinc],
		    &b->psrc[b->nprinc]) == -1)
			return -1;
		b->nprinc++;
	}
	/* Any other key is refused with the root mapping, at the end. */
	return 0;
}

/* Every entry read: check the tree as a whole. */
static int
tree_check(struct tree_build *b, const struct conf_yaml_node *nodes,
    const struct conf_yaml_node *principals)
{
	size_t	i;

	if (conf_yaml_seq(b->doc, nodes) == -1)
		return -1;
	if (principals != NULL && conf_yaml_seq(b->doc, principals) == -1)
		return -1;
	if ((b->byid = calloc(b->nnodes + 1, sizeof(*b->byid))) == NULL ||
	    (b->pidx = calloc(b->nnodes + 1, sizeof(*b->pidx))) == NULL)
		return conf_yaml_error(b->doc, NULL, "out of memory");
	if (tree_dup_ids(b) == -1)
		return -1;
	for (i = 0; i < b->nnodes; i++) {
		b->pidx[i] = TREE_NONE;
		if (b->src[i].parent == 0)
			continue;
		if ((b->pidx[i] = tree_find(b, b->nodes[i].parent)) ==
		    TREE_NONE)
			return tree_err(b, "nodes", i, "parent",
			    b->src[i].parent, "unknown node \"%s\"",
			    b->nodes[i].parent);
	}
	if (tree_cycles(b) == -1 || tree_tiers_ok(b) == -1 ||
	    tree_order(b) == -1)
		return -1;
	return tree_principals_ok(b);
}

static void
tree_build_free(struct tree_build *b)
{
	size_t	i;

	for (i = 0; b->nodes != NULL && i < b->nnodes; i++)
		free(b->nodes[i].name);
	free(b->nodes);
	free(b->src);
	free(b->byid);
	free(b->pidx);
	free(b->order);
	free(b->princ);
	free(b->psrc);
}

/*
 * Parse and check a tree file in memory: its entries are read one by one
 * as the text streams through (tree_item), then the whole is checked.
 */
static struct conf_tree *
tree_build(const char *name, const void *buf, size_t len, char *err,
    size_t errlen)
{
	const struct conf_yaml_node	*nodes, *principals;
	const struct conf_yaml_key	 keys[] = {
		{ "nodes", 1, &nodes }, { "principals", 0, &principals },
	};
	struct tree_build		 b;
	struct conf_tree		*t = NULL;
	size_t				 i;

	memset(&b, 0, sizeof(b));
	if ((b.doc = conf_yaml_stream(name, buf, len, CONF_TREE_FILE_MAX,
	    tree_item, &b, err, errlen)) == NULL)
		goto done;
	if (conf_yaml_map(b.doc, conf_yaml_root(b.doc), keys,
	    sizeof(keys) / sizeof(keys[0])) == -1)
		goto done;
	if (tree_check(&b, nodes, principals) == -1)
		goto done;
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->nodes = calloc(b.nnodes + 1, sizeof(*t->nodes))) == NULL) {
		conf_yaml_error(b.doc, NULL, "out of memory");
		free(t);
		t = NULL;
		goto done;
	}
	/* The names move to the result, in parents-first order. */
	for (i = 0; i < b.nnodes; i++) {
		t->nodes[i] = b.nodes[b.order[i]];
		b.nodes[b.order[i]].name = NULL;
	}
	t->nnodes = b.nnodes;
	t->principals = b.princ;
	t->nprincipals = b.nprinc;
	b.princ = NULL;
	if (t->principals == NULL &&
	    (t->principals = calloc(1, sizeof(*t->principals))) == NULL) {
		conf_yaml_error(b.doc, NULL, "out of memory");
		conf_tree_free(t);
		t = NULL;
	}
done:
	tree_build_free(&b);
	conf_yaml_free(b.doc);
	return t;
}

/* Load tree.yaml (mapped, not read into memory: a province is large). */
struct conf_tree *
conf_tree_load(const char *path, char *err, size_t errlen)
{
	struct conf_tree	*t;
	void			*buf;
	size_t			 len;

	if (conf_util_mapfile(path, CONF_TREE_FILE_MAX, &buf, &len, err,
	    errlen) == -1)
		return NULL;
	t = tree_build(path, buf, len, err, errlen);
	conf_util_unmap(buf, len);
	return t;
}

/* Parse tree.yaml from memory; name stands for the file in messages. */
struct conf_tree *
conf_tree_parse(const char *name, const void *buf, size_t len, char *err,
    size_t errlen)
{
	return tree_build(name, buf, len, err, errlen);
}

void
conf_tree_free(struct conf_tree *t)
{
	size_t	i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nnodes; i++)
		free(t->nodes[i].name);
	free(t->nodes);
	free(t->principals);
	free(t);
}

/*
 * Write s as a YAML double-quoted scalar.  What YAML cannot hold as is
 * (controls, quotes, backslashes, non-characters, a BOM) is escaped;
 * -1 if s is not UTF-8.
 */
static int
tree_quote(FILE *f, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 len = strlen(s), i, n;
	uint32_t		 c;

	if (utf8_check(s, len, NULL) == -1)
		return -1;
	fputc('"', f);
	for (i = 0; i < len; i += n) {
		n = utf8_decode(p + i, len - i, &c);
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", (int)c);
		else if (c < 0x20 || (c >= 0x7f && c < 0xa0))
			fprintf(f, "\\x%02X", (unsigned)c);
		else if (c == 0xfeff || c == 0xfffe || c == 0xffff ||
		    c == 0x2028 || c == 0x2029)	/* YAML line breaks */
			fprintf(f, "\\u%04X", (unsigned)c);
		else
			fwrite(p + i, 1, n, f);
	}
	fputc('"', f);
	return 0;
}

/* Write a valid tree as YAML that conf_tree_parse reads back the same. */
int
conf_tree_write(const struct conf_tree *t, FILE *f)
{
	const struct conf_node		*n;
	const struct conf_principal	*p;
	size_t				 i, k;
	const char			*sep;

	fprintf(f, "# wuzha tree: %zu nodes, %zu principals\n", t->nnodes,
	    t->nprincipals);
	fprintf(f, "nodes:%s\n", t->nnodes == 0 ? " []" : "");
	for (i = 0; i < t->nnodes; i++) {
		n = &t->nodes[i];
		if ((unsigned)n->tier > CONF_TIER_CLASS)
			return -1;
		fprintf(f, "  - id: ");
		if (tree_quote(f, n->id) == -1)
			return -1;
		fprintf(f, "\n    name: ");
		if (tree_quote(f, n->name) == -1)
			return -1;
		fprintf(f, "\n    tier: %s\n", conf_tier_name(n->tier));
		if (n->parent[0] != '\0') {
			fprintf(f, "    parent: ");
			if (tree_quote(f, n->parent) == -1)
				return -1;
			fputc('\n', f);
		}
	}
	fprintf(f, "principals:%s\n", t->nprincipals == 0 ? " []" : "");
	for (i = 0; i < t->nprincipals; i++) {
		p = &t->principals[i];
		fprintf(f, "  - cn: ");
		if (tree_quote(f, p->cn) == -1)
			return -1;
		fprintf(f, "\n    node: ");
		if (tree_quote(f, p->node) == -1)
			return -1;
		fprintf(f, "\n    rights: [");
		sep = "";
		for (k = 0; k < sizeof(tree_rights) / sizeof(tree_rights[0]);
		    k++) {
			if (!(p->rights & tree_rights[k].bit))
				continue;
			fprintf(f, "%s%s", sep, tree_rights[k].name);
			sep = ", ";
		}
		fprintf(f, "]\n");
	}
	return ferror(f) ? -1 : 0;
}
