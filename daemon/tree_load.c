/* SPDX-License-Identifier: ISC */
/*
 * tree_load: bring the tree cache to the generation Redis holds without
 * ever holding Redis or the event loop for long.  A full load steps
 * through tree-nodes and tree-principals with HSCAN (each call small),
 * builds a new tree as the replies come, checks that the generation did
 * not move and no import ran meanwhile (else it starts again, a bounded
 * number of times), finishes the tree in slices, swaps it in and frees
 * the old one in slices.  When Redis is a few generations on and holds
 * their diffs, those are read the same way and applied in place.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "log.h"
#include "wuzhad.h"

#define TL_SCAN_COUNT	"1000"	/* fields asked of each HSCAN */
#define TL_SLICE_US	5000	/* CPU work per loop turn */
#define TL_BUDGET	2048	/* nodes between two looks at the clock */
#define TL_RETRY_MS	250	/* pause before a load starts again */
#define TL_RETRIES	20	/* then it gives up until the next poll */
#define TL_DIFF_GENS	64	/* diffs kept by wuzhactl (CTL_DIFF_KEEP) */
#define TL_DIFF_MAX	16384	/* entries applied in one turn; more: full */

enum tl_state {
	TL_IDLE,
	TL_HEAD,	/* tree.lua: gen, lock, sizes */
	TL_NODES,	/* HSCAN tree-nodes */
	TL_PRINS,	/* HSCAN tree-principals */
	TL_CHECK,	/* tree.lua again: same generation, no import? */
	TL_FINISH,	/* tree_finish_step, one slice per turn */
	TL_DIFF,	/* HSCAN tree-diff:{g} for each g */
};

static struct {
	enum tl_state	 state;
	void		(*done)(int);
	struct tree	*t;		/* being built (full load) */
	uint64_t	 gen;		/* the generation being loaded */
	uint64_t	 dgen;		/* diff being read */
	char		 cursor[32];
	int		 tries;
	int		 kept;		/* Redis has no tree; we kept ours */
	int		 full;		/* a diff would not do: read it all */
	uint64_t	 started_us, longest_us;
	unsigned	 slices, calls;
	struct htab	 diff;		/* "n:ID"/"p:CN" -> value (strdup) */
	struct event	*ev;		/* next slice, or the retry */
	struct event	*free_ev;
	struct tree	**dead;		/* old trees being freed */
	size_t		 ndead;
} tl;

static void	tl_head(void);
static void	tl_full(void);
static void	tl_diff_check(void);

/* Time one callback's work, for the log's longest slice. */
static void
tl_slice_end(uint64_t t0)
{
	uint64_t	d = mono_us() - t0;

	tl.slices++;
	if (d > tl.longest_us)
		tl.longest_us = d;
}

static void
tl_free_cb(evutil_socket_t fd, short ev, void *arg)
{
	uint64_t	t0 = mono_us();

	while (tl.ndead > 0 && mono_us() - t0 < TL_SLICE_US)
		if (tree_free_step(tl.dead[tl.ndead - 1], TL_BUDGET) == 1)
			tl.ndead--;
	if (tl.ndead > 0)
		wz_next_turn(tl.free_ev);
}

/* Free t over the next loop turns. */
static void
tl_bury(struct tree *t)
{
	struct tree	**d;

	if (t == NULL)
		return;
	t->step = 0;
	if ((d = reallocarray(tl.dead, tl.ndead + 1, sizeof(*d))) == NULL)
		fatal("tree: out of memory");
	tl.dead = d;
	tl.dead[tl.ndead++] = t;
	if (tl.free_ev == NULL && (tl.free_ev = event_new(wz->base, -1, 0,
	    tl_free_cb, NULL)) == NULL)
		fatalx("tree: event_new");
	wz_next_turn(tl.free_ev);
}

static void
tl_diff_clear(void)
{
	htab_clear(&tl.diff, free);
}

/* The load is over: tell whoever asked. */
static void
tl_end(int ok)
{
	void	(*done)(int) = tl.done;

	tl.state = TL_IDLE;
	tl.done = NULL;
	tl_bury(tl.t);
	tl.t = NULL;
	tl_diff_clear();
	if (done != NULL)
		done(ok);
}

static void
tl_ev_cb(evutil_socket_t fd, short ev, void *arg);

static void
tl_schedule(int ms)
{
	struct timeval	tv = { ms / 1000, (ms % 1000) * 1000 };

	if (tl.ev == NULL && (tl.ev = evtimer_new(wz->base, tl_ev_cb,
	    NULL)) == NULL)
		fatalx("tree: evtimer_new");
	evtimer_add(tl.ev, &tv);
}

/* What was read is not one generation: throw it away, try again soon. */
static void
tl_retry(const char *why)
{
	tl_bury(tl.t);
	tl.t = NULL;
	tl_diff_clear();
	if (++tl.tries > TL_RETRIES) {
		log_warnx("tree: %s; gave up after %d tries, keeping "
		    "generation %llu until the next poll", why, TL_RETRIES,
		    (unsigned long long)wz->tree->gen);
		tl_end(-1);
		return;
	}
	log_info("tree: %s; reading again in %d ms (try %d of %d)", why,
	    TL_RETRY_MS, tl.tries, TL_RETRIES);
	tl.state = TL_HEAD;
	tl_schedule(TL_RETRY_MS);
}

static void
tl_fail(const char *what, redisReply *r)
{
	log_warnx("tree: %s failed: %s", what, r == NULL ? "no reply (Redis "
	    "down or timed out)" : r->type == REDIS_REPLY_ERROR ? r->str :
	    "unexpected reply");
	tl_end(-1);
}

static void	tl_scan_cb(redisReply *, void *);

static void
tl_scan(const char *key)
{
	const char	*argv[5];

	argv[0] = "HSCAN";
	argv[1] = key;
	argv[2] = tl.cursor;
	argv[3] = "COUNT";
	argv[4] = TL_SCAN_COUNT;
	tl.calls++;
	if (store_cmd(5, argv, NULL, tl_scan_cb, NULL) == -1)
		tl_fail("HSCAN", NULL);
}

static void
tl_scan_next(void)
{
	char	g[24];

	switch (tl.state) {
	case TL_NODES:
		tl_scan(store_key("tree-nodes"));
		break;
	case TL_PRINS:
		tl_scan(store_key("tree-principals"));
		break;
	case TL_DIFF:
		snprintf(g, sizeof(g), "%llu", (unsigned long long)tl.dgen);
		tl_scan(store_key("tree-diff:%s", g));
		break;
	case TL_IDLE:
	case TL_HEAD:
	case TL_CHECK:
	case TL_FINISH:
		fatalx("tree: scan in state %d", tl.state);
	}
}

/* Split "A:B:REST" / "A:REST" in buf (a copy of the value). */
static int
tl_split(char *buf, char **a, char **b, char **rest, int three)
{
	char	*c;

	*a = buf;
	if ((c = strchr(buf, ':')) == NULL)
		return -1;
	*c++ = '\0';
	if (!three) {
		*rest = c;
		return 0;
	}
	*b = c;
	if ((c = strchr(c, ':')) == NULL)
		return -1;
	*c++ = '\0';
	*rest = c;
	return 0;
}

/* One field of tree-nodes or tree-principals into tl.t; -1 (err) if bad. */
static int
tl_add(const redisReply *f, const redisReply *v, char *err, size_t errlen)
{
	char	 buf[1024], *a, *b = NULL, *rest;

	if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
	    v->len >= sizeof(buf) || strlen(f->str) != f->len ||
	    strlen(v->str) != v->len) {
		snprintf(err, errlen, "a field of tree-%s is not a short "
		    "string", tl.state == TL_NODES ? "nodes" : "principals");
		return -1;
	}
	memcpy(buf, v->str, v->len + 1);
	if (tl.state == TL_NODES) {
		if (tree_node(tl.t, f->str) != NULL)
			return 0;	/* HSCAN may return a field twice */
		if (tl_split(buf, &a, &b, &rest, 1) == -1) {
			snprintf(err, errlen, "node %.64s: bad value", f->str);
			return -1;
		}
		return tree_add_node(tl.t, f->str, rest, a, b, err, errlen);
	}
	if (tree_principal(tl.t, f->str) != NULL)
		return 0;
	if (tl_split(buf, &a, NULL, &rest, 0) == -1) {
		snprintf(err, errlen, "principal %.64s: bad value", f->str);
		return -1;
	}
	return tree_add_principal(tl.t, f->str, a, rest, err, errlen);
}

/* One diff field into tl.diff; the later generation's value wins. */
static void
tl_diff_add(const redisReply *f, const redisReply *v)
{
	char	*val;

	if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
	    f->len < 3 || f->str[1] != ':')
		return;		/* "gen", or nothing of ours */
	/* The entry holds its own key: "n:ID\0VALUE" (see tree_apply). */
	if ((val = malloc(f->len + v->len + 2)) == NULL)
		fatal("tree: out of memory");
	memcpy(val, f->str, f->len + 1);
	memcpy(val + f->len + 1, v->str, v->len);
	val[f->len + 1 + v->len] = '\0';
	free(htab_put(&tl.diff, f->str, val));
}

static void
tl_scan_cb(redisReply *r, void *arg)
{
	redisReply	*e;
	uint64_t	 t0 = mono_us();
	char		 err[256];
	size_t		 i;

	if (tl.state != TL_NODES && tl.state != TL_PRINS &&
	    tl.state != TL_DIFF)
		return;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_ARRAY ||
	    r->element[1]->elements % 2 != 0) {
		tl_fail("HSCAN", r);
		return;
	}
	e = r->element[1];
	for (i = 0; i < e->elements; i += 2) {
		if (tl.state == TL_DIFF) {
			tl_diff_add(e->element[i], e->element[i + 1]);
			continue;
		}
		if (tl_add(e->element[i], e->element[i + 1], err,
		    sizeof(err)) == -1) {
			log_warnx("tree: generation %llu refused, keeping the "
			    "current one: %s", (unsigned long long)tl.gen, err);
			tl_end(-1);
			return;
		}
	}
	snprintf(tl.cursor, sizeof(tl.cursor), "%s", r->element[0]->str);
	tl_slice_end(t0);
	if (strcmp(tl.cursor, "0") != 0) {
		tl_scan_next();
		return;
	}
	switch (tl.state) {
	case TL_NODES:
		tl.state = TL_PRINS;
		tl_scan_next();
		break;
	case TL_PRINS:
		tl.state = TL_CHECK;
		tl_head();
		break;
	case TL_DIFF:
		if (tl.diff.count > TL_DIFF_MAX) {
			log_info("tree: the diffs to generation %llu hold over "
			    "%d entries: loading the whole tree",
			    (unsigned long long)tl.gen, TL_DIFF_MAX);
			tl_full();
		} else if (tl.dgen < tl.gen) {
			tl.dgen++;
			tl_diff_check();
		} else
			tl_schedule(0);	/* apply on a turn of its own */
		break;
	case TL_IDLE:
	case TL_HEAD:
	case TL_CHECK:
	case TL_FINISH:
		break;
	}
}

/* Is tree-diff:{g} there?  An empty scan says not ("gen" is always in). */
static void
tl_diff_exists_cb(redisReply *r, void *arg)
{
	if (tl.state != TL_DIFF)
		return;
	if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
		tl_fail("EXISTS tree-diff", r);
		return;
	}
	if (r->integer != 1) {
		log_info("tree: no diff for generation %llu in Redis: loading "
		    "the whole tree", (unsigned long long)tl.dgen);
		tl_full();
		return;
	}
	snprintf(tl.cursor, sizeof(tl.cursor), "0");
	tl_scan_next();
}

/*
 * Diffs are written before the generation they lead to moves, and never
 * after: one EXISTS before each, in order, is enough.
 */
static void
tl_diff_check(void)
{
	const char	*argv[2];
	char		 g[24];

	snprintf(g, sizeof(g), "%llu", (unsigned long long)tl.dgen);
	argv[0] = "EXISTS";
	argv[1] = store_key("tree-diff:%s", g);
	tl.calls++;
	if (store_cmd(2, argv, NULL, tl_diff_exists_cb, NULL) == -1)
		tl_fail("EXISTS tree-diff", NULL);
}

/* Start on the diffs from wz->tree->gen + 1 to tl.gen. */
static void
tl_diff_start(void)
{
	tl.state = TL_DIFF;
	tl.dgen = wz->tree->gen + 1;
	htab_init(&tl.diff);
	tl_diff_check();
}

static void
tl_full(void)
{
	tl_diff_clear();
	tl.full = 1;
	tl.state = TL_HEAD;
	tl.t = NULL;
	tl_head();
}

static void
tl_head_cb(redisReply *r, void *arg)
{
	long long	 v[5];
	size_t		 i;
	uint64_t	 gen;

	if (tl.state != TL_HEAD && tl.state != TL_CHECK)
		return;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 5) {
		tl_fail("reading tree-gen", r);
		return;
	}
	for (i = 0; i < 5; i++) {
		if (r->element[i]->type != REDIS_REPLY_INTEGER) {
			tl_fail("reading tree-gen", r);
			return;
		}
		v[i] = r->element[i]->integer;
	}
	gen = (uint64_t)v[0];
	if (tl.state == TL_CHECK) {
		if (gen != tl.gen)
			tl_retry("tree-gen moved while the tree was read");
		else if (v[1])
			tl_retry("an import ran while the tree was read");
		else {
			tl.state = TL_FINISH;
			tl.t->slot = 0;
			tl_schedule(0);
		}
		return;
	}
	if (v[1]) {
		tl_retry("a tree import is running");
		return;
	}
	tl.gen = gen;
	if (v[2] == 0 && v[4]) {
		log_warnx("tree: Redis holds the tree in the old layout (P "
		    "nodes, node:*): run wuzhactl tree import once to move it; "
		    "keeping generation %llu", (unsigned long long)wz->tree->gen);
		tl_end(-1);
		return;
	}
	if (gen == 0 && v[2] == 0 && wz->tree->nnodes > 0) {
		/* A Redis that lost its data must not cut everyone off. */
		log_warnx("tree: Redis holds no tree (was its data lost?); "
		    "keeping generation %llu until one is imported",
		    (unsigned long long)wz->tree->gen);
		tl.kept = 1;
		tl_end(0);
		return;
	}
	tl.kept = 0;
	if (tl.t == NULL && wz->tree->nnodes > 0 && gen > wz->tree->gen &&
	    gen - wz->tree->gen <= TL_DIFF_GENS && !tl.full) {
		tl_diff_start();
		return;
	}
	tl_bury(tl.t);
	tl.t = tree_new();
	tl.t->gen = gen;
	/* Sized now, so that no insert rehashes millions at once. */
	htab_reserve(&tl.t->nodes, (size_t)v[2] + 1);
	htab_reserve(&tl.t->principals, (size_t)v[3] + 1);
	tl.state = TL_NODES;
	snprintf(tl.cursor, sizeof(tl.cursor), "0");
	tl_scan_next();
}

static void
tl_head(void)
{
	const char	*argv[1];

	argv[0] = store_key("%s", "");
	tl.calls++;
	if (store_eval(STORE_LUA_TREE, 1, argv, NULL, tl_head_cb, NULL) == -1)
		tl_fail("reading tree-gen", NULL);
}

static void
tl_log_done(size_t ndiff)
{
	char	how[48];

	if (ndiff > 0)
		snprintf(how, sizeof(how), "a diff of %zu", ndiff);
	else
		snprintf(how, sizeof(how), "a full load");
	log_info("tree: generation %llu: %zu node%s, %zu principal%s (%s) in "
	    "%llu ms: %u Redis call%s, %u slice%s, the longest %llu.%llu ms",
	    (unsigned long long)wz->tree->gen, wz->tree->nnodes,
	    wz->tree->nnodes == 1 ? "" : "s", wz->tree->nprincipals,
	    wz->tree->nprincipals == 1 ? "" : "s", how,
	    (unsigned long long)((mono_us() - tl.started_us) / 1000),
	    tl.calls, tl.calls == 1 ? "" : "s", tl.slices,
	    tl.slices == 1 ? "" : "s",
	    (unsigned long long)(tl.longest_us / 1000),
	    (unsigned long long)(tl.longest_us % 1000 / 100));
}

static void
tl_ev_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct tree	*old;
	uint64_t	 t0 = mono_us();
	char		 err[256];
	size_t		 n;
	int		 rc = 0;

	switch (tl.state) {
	case TL_HEAD:
		tl_head();	/* a retry */
		return;
	case TL_DIFF:
		n = tl.diff.count;
		rc = tree_apply(wz->tree, &tl.diff, tl.gen, err, sizeof(err));
		tl_slice_end(t0);
		if (rc == -1) {
			log_warnx("tree: the diff to generation %llu does not "
			    "apply (%s): loading the whole tree",
			    (unsigned long long)tl.gen, err);
			tl_full();
			return;
		}
		tl_log_done(n > 0 ? n : 1);
		tl_end(0);
		return;
	case TL_FINISH:
		while ((rc = tree_finish_step(tl.t, TL_BUDGET, err,
		    sizeof(err))) == 0 && mono_us() - t0 < TL_SLICE_US)
			;
		tl_slice_end(t0);
		break;
	case TL_IDLE:
	case TL_NODES:
	case TL_PRINS:
	case TL_CHECK:
		return;
	}
	if (rc == 0) {
		wz_next_turn(tl.ev);
		return;
	}
	if (rc == -1) {
		log_warnx("tree: generation %llu refused, keeping the current "
		    "one: %s", (unsigned long long)tl.gen, err);
		tl_end(-1);
		return;
	}
	old = wz->tree;
	wz->tree = tl.t;
	tl.t = NULL;
	tree_swapped(old, wz->tree);
	tl_bury(old);
	tl_log_done(0);
	tl_end(0);
}

void
tree_load(void (*done)(int))
{
	if (tl.state != TL_IDLE || !store_up()) {
		if (done != NULL)
			done(-1);
		return;
	}
	tl.done = done;
	tl.tries = 0;
	tl.full = 0;
	tl.slices = tl.calls = 0;
	tl.longest_us = 0;
	tl.started_us = mono_us();
	tl.state = TL_HEAD;
	tl.t = NULL;
	tl_head();
}

static void
tree_gen_cb(redisReply *r, void *arg)
{
	uint64_t	gen;

	if (r == NULL || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL))
		return;
	gen = r->type == REDIS_REPLY_NIL ? 0 : strtoull(r->str, NULL, 10);
	if (gen == 0 && tl.kept)
		return;
	if (tl.state == TL_IDLE && (wz->tree == NULL || gen != wz->tree->gen)) {
		log_info("tree: generation %llu in Redis, reloading",
		    (unsigned long long)gen);
		tree_load(NULL);
	}
}

void
tree_refresh(void)
{
	const char	*argv[2];

	if (tl.state != TL_IDLE || !store_up())
		return;
	argv[0] = "GET";
	argv[1] = store_key("tree-gen");
	store_cmd(2, argv, NULL, tree_gen_cb, NULL);
}

void
tree_load_free(void)
{
	tree_free(tl.t);
	tl.t = NULL;
	tl_diff_clear();
	while (tl.ndead > 0)
		tree_free(tl.dead[--tl.ndead]);
	free(tl.dead);
	tl.dead = NULL;
	if (tl.ev != NULL)
		event_free(tl.ev);
	if (tl.free_ev != NULL)
		event_free(tl.free_ev);
	tl.ev = tl.free_ev = NULL;
}
