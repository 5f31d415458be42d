/* SPDX-License-Identifier: ISC */
/*
 * tree: the in-memory cache of the police -> school -> department ->
 * class forest and of the principals attached to it.  Redis holds the
 * truth (written by "wuzhactl tree import"); the daemon loads it in one
 * script call, checks it, and swaps it in whole.  Whoever holds pointers
 * into the tree (the connections) is told of every swap through the hook
 * main.c sets, before the old tree is freed, so none lives on.
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

static const char *tree_tiers[] = { "police", "school", "department", "class" };

const char *
tree_tier_name(int tier)
{
	if (tier < 0 || tier > PROTO_TIER_CLASS)
		return "?";
	return tree_tiers[tier];
}

static int
tree_tier_parse(const char *s)
{
	int	i;

	for (i = 0; i <= PROTO_TIER_CLASS; i++)
		if (strcmp(s, tree_tiers[i]) == 0)
			return i;
	return -1;
}

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

static void
tree_node_free(void *v)
{
	struct tnode	*n = v;

	free(n->name);
	free(n->children);
	free(n->members);
	free(n);
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

/* Append p to a growable pointer array (capacity doubles at powers of 2). */
#define TREE_PUSH(arr, n, p) do {					\
	if (((n) & ((n) - 1)) == 0) {					\
		void *a_ = reallocarray((arr), (n) ? (n) * 2 : 4,	\
		    sizeof(*(arr)));					\
		if (a_ == NULL)						\
			fatal("tree: out of memory");			\
		(arr) = a_;						\
	}								\
	(arr)[(n)++] = (p);						\
} while (0)

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
	if ((ti = tree_tier_parse(tier)) == -1) {
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
	if ((n = calloc(1, sizeof(*n))) == NULL || (n->name = strdup(name)) == NULL)
		fatal("tree_add_node");
	strlcpy(n->id, id, sizeof(n->id));
	strlcpy(n->parent_id, parent, sizeof(n->parent_id));
	n->tier = ti;
	TAILQ_INIT(&n->agents);
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
	if ((p = calloc(1, sizeof(*p))) == NULL)
		fatal("tree_add_principal");
	strlcpy(p->cn, cn, sizeof(p->cn));
	p->node = n;
	p->rights = r;
	htab_put(&t->principals, p->cn, p);
	TREE_PUSH(n->members, n->nmembers, p);
	t->nprincipals++;
	return 0;
}

struct link_ctx {
	struct tree	*t;
	char		*err;
	size_t		 errlen;
	int		 failed;
};

/* Attach one node to its parent, checking the tier order. */
static void
tree_link_cb(void *v, void *arg)
{
	struct tnode	*n = v, *p;
	struct link_ctx	*lc = arg;

	if (lc->failed)
		return;
	if (n->parent_id[0] == '\0') {
		if (n->tier != PROTO_TIER_POLICE) {
			snprintf(lc->err, lc->errlen, "node %s: a %s needs a parent",
			    n->id, tree_tier_name(n->tier));
			lc->failed = 1;
		}
		return;
	}
	if ((p = tree_node(lc->t, n->parent_id)) == NULL) {
		snprintf(lc->err, lc->errlen, "node %s: unknown parent %s",
		    n->id, n->parent_id);
		lc->failed = 1;
		return;
	}
	/*
	 * Tiers rise by exactly one per level, but police units may sit
	 * under police units (checked for depth, and so for cycles, once all
	 * are linked).
	 */
	if (p->tier + 1 != n->tier && !(p->tier == PROTO_TIER_POLICE &&
	    n->tier == PROTO_TIER_POLICE)) {
		snprintf(lc->err, lc->errlen, "node %s: a %s cannot sit under a %s",
		    n->id, tree_tier_name(n->tier), tree_tier_name(p->tier));
		lc->failed = 1;
		return;
	}
	n->parent = p;
	TREE_PUSH(p->children, p->nchildren, n);
}

/* Police units at most PROTO_POLICE_LEVELS deep, and so no cycle. */
static void
tree_depth_cb(void *v, void *arg)
{
	struct tnode	*n = v, *a;
	struct link_ctx	*lc = arg;
	int		 levels = 0;

	if (lc->failed || n->tier != PROTO_TIER_POLICE)
		return;
	for (a = n; a != NULL && levels <= PROTO_POLICE_LEVELS; a = a->parent)
		levels++;
	if (levels > PROTO_POLICE_LEVELS) {
		snprintf(lc->err, lc->errlen, "node %s: police units more than "
		    "%d deep, or in a cycle", n->id, PROTO_POLICE_LEVELS);
		lc->failed = 1;
	}
}

static void
tree_roots_cb(void *v, void *arg)
{
	struct tnode	*n = v;
	struct tree	*t = arg;

	if (n->parent == NULL)
		TREE_PUSH(t->roots, t->nroots, n);
}

static void
tree_count_cb(struct tnode *n, int depth, void *arg)
{
	struct tnode	*a;
	size_t		 i, r = 0;

	for (i = 0; i < n->nmembers; i++)
		if (n->members[i]->rights & PROTO_R_RECEIVE)
			r++;
	for (a = n; a != NULL; a = a->parent) {
		a->receivers += r;
		a->size++;
	}
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
tree_finish(struct tree *t, char *err, size_t errlen)
{
	struct link_ctx	 lc = { t, err, errlen, 0 };
	size_t		 i;

	htab_foreach(&t->nodes, tree_link_cb, &lc);
	if (lc.failed)
		return -1;
	htab_foreach(&t->nodes, tree_depth_cb, &lc);
	if (lc.failed)
		return -1;
	htab_foreach(&t->nodes, tree_sort_cb, NULL);
	/* t->roots holds the roots; walking them covers every node once. */
	htab_foreach(&t->nodes, tree_roots_cb, t);
	if (t->nroots > 1)
		qsort(t->roots, t->nroots, sizeof(*t->roots), tree_id_cmp);
	for (i = 0; i < t->nroots; i++)
		tree_walk(t->roots[i], tree_count_cb, NULL);
	return 0;
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

/* --- loading from Redis ------------------------------------------------ */

static void	(*tree_load_done)(int);
static int	  tree_loading;
static int	  tree_kept;	/* Redis has no tree; we kept ours: don't poll it */

/* Text of a reply element, "" if it is not a string. */
static const char *
tree_str(const redisReply *r)
{
	if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
		return r->str;
	return "";
}

/*
 * Reply of the tree script: { gen, {id, name, tier, parent, ...},
 * {cn, node, rights, ...} }.  Build a new tree and swap it in.
 */
static void
tree_loaded_cb(redisReply *r, void *arg)
{
	void		(*done)(int) = tree_load_done;
	struct tree	*t = NULL, *old;
	redisReply	*nodes, *prin;
	char		 err[256];
	size_t		 i;

	tree_loading = 0;
	tree_load_done = NULL;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER ||
	    r->element[1]->type != REDIS_REPLY_ARRAY ||
	    r->element[2]->type != REDIS_REPLY_ARRAY ||
	    r->element[1]->elements % 4 != 0 || r->element[2]->elements % 3 != 0) {
		log_warnx("tree: load failed: %s", r && r->type == REDIS_REPLY_ERROR ?
		    r->str : "bad or no reply");
		goto fail;
	}
	nodes = r->element[1];
	prin = r->element[2];
	t = tree_new();
	t->gen = (uint64_t)r->element[0]->integer;
	for (i = 0; i < nodes->elements; i += 4)
		if (tree_add_node(t, tree_str(nodes->element[i]),
		    tree_str(nodes->element[i + 1]), tree_str(nodes->element[i + 2]),
		    tree_str(nodes->element[i + 3]), err, sizeof(err)) == -1)
			goto bad;
	for (i = 0; i < prin->elements; i += 3)
		if (tree_add_principal(t, tree_str(prin->element[i]),
		    tree_str(prin->element[i + 1]), tree_str(prin->element[i + 2]),
		    err, sizeof(err)) == -1)
			goto bad;
	if (tree_finish(t, err, sizeof(err)) == -1)
		goto bad;

	old = wz->tree;
	if (t->gen == 0 && t->nnodes == 0 && old != NULL && old->nnodes > 0) {
		/* A Redis that lost its data must not cut everyone off. */
		log_warnx("tree: Redis holds no tree (was its data lost?); "
		    "keeping generation %llu until one is imported",
		    (unsigned long long)old->gen);
		tree_kept = 1;
		tree_free(t);
		if (done != NULL)
			done(0);
		return;
	}
	tree_kept = 0;
	wz->tree = t;
	if (tree_swap_hook != NULL)
		tree_swap_hook(old, t);
	tree_free(old);
	log_info("tree: generation %llu: %zu nodes, %zu principals",
	    (unsigned long long)t->gen, t->nnodes, t->nprincipals);
	if (done != NULL)
		done(0);
	return;
bad:
	log_warnx("tree: generation %llu refused, keeping the current one: %s",
	    (unsigned long long)t->gen, err);
	tree_free(t);
fail:
	if (done != NULL)
		done(-1);
}

void
tree_load(void (*done)(int))
{
	const char	*argv[1];

	if (tree_loading) {
		if (done != NULL)
			done(-1);
		return;
	}
	argv[0] = store_key("%s", "");
	tree_loading = 1;
	tree_load_done = done;
	if (store_eval(STORE_LUA_TREE, 1, argv, NULL, tree_loaded_cb, NULL) == -1) {
		tree_loading = 0;
		tree_load_done = NULL;
		if (done != NULL)
			done(-1);
	}
}

static void
tree_gen_cb(redisReply *r, void *arg)
{
	uint64_t	gen;

	if (r == NULL || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL))
		return;
	gen = r->type == REDIS_REPLY_NIL ? 0 : strtoull(r->str, NULL, 10);
	if (gen == 0 && tree_kept)
		return;
	if (wz->tree == NULL || gen != wz->tree->gen) {
		log_info("tree: generation %llu in Redis, reloading",
		    (unsigned long long)gen);
		tree_load(NULL);
	}
}

void
tree_refresh(void)
{
	const char	*argv[2];

	if (tree_loading || !store_up())
		return;
	argv[0] = "GET";
	argv[1] = store_key("tree-gen");
	store_cmd(2, argv, NULL, tree_gen_cb, NULL);
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
