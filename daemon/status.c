/* SPDX-License-Identifier: ISC */
/*
 * status: STATUS_REQ.  A principal with observe over a node reads the
 * acknowledgement tree of an alert below that node: per node the agents
 * targeted and how many have delivered, shown, read and relayed it, and on
 * request each principal's own state ("who has not read").
 *
 * What it costs does not grow with the tree.  A node's counters are
 * fields of rate:{id} that exist once someone at or below it acked
 * (ack.c); how many it targeted is the tree as of the alert's publish
 * (lua/targeted.lua), so Redis is read per row shown, never per node of
 * the subtree.  Which rows:
 *
 *  - The node shown (the alert's target, or the node asked for below it)
 *    comes first, then the rows below it down to `depth` levels, in
 *    pre-order.  Without a depth, a subtree of at most STATUS_AUTO_ALL
 *    nodes is shown whole, a larger one one level down: the officer at a
 *    city root sees one line per school, and drills down with a node.
 *  - Children come by id, or (order WORST) by read share, lowest first,
 *    so the schools that need chasing head the list.  A sorted answer
 *    must read every row within its depth (at most limits.status_rows).
 *  - The rows are paged: offset skips rows below the node shown, and a
 *    reply holds what fits in one frame (or limit rows); rows_total and
 *    rows_offset say where the page lies.
 *  - With MEMBERS the rows are the node shown and the nodes leading to
 *    the members listed, and the members are paged the same way from
 *    member_offset, in tree order (members_total, members_offset).
 *
 * A principal with receive but not observe (a class advisor) is answered
 * too, for an alert that reached it only, and with its own share alone:
 * the row of its own node and, with MEMBERS, its own state; nothing of the
 * nodes beside or below it (status_own).
 *
 * A STATUS_REQ flagged WATCH also registers a watch: whenever a batch of
 * acks for the alert is stored, the watchers get a fresh STATUS, read
 * from Redis after the store, so what they see is what is durable.  A
 * watch is refreshed at most once per WATCH_INTERVAL_MS, however many
 * acks arrive, and ends with the connection or the alert (an ERROR 308
 * then says why).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "wuzhad.h"
#include "lua_gen.h"

#define STATUS_MARGIN	256	/* bytes kept free under max_frame */
/* Largest encoded member item: length, cn, node, state, at, online. */
#define STATUS_MEMBER_MAX	(2 + 2 * (PROTO_FIELD_HDR + PROTO_ID_MAX) + \
				    PROTO_FIELD_HDR + 1 + PROTO_FIELD_HDR + 8 + \
				    PROTO_FIELD_HDR + 1)
#define STATUS_COUNTS	6	/* counters per row that status.lua reads */
#define STATUS_AUTO_ALL	1000	/* a subtree this small is shown whole */
#define STATUS_PAGE_MAX	1000	/* rows read for one page in tree order */
#define STATUS_MEMBERS_PAGE 1500 /* members read for one page */

#define WATCH_MAX_PER_CONN	16	/* watches one connection may hold */
#define WATCH_INTERVAL_MS	25	/* least time between two pushes */

/* What a STATUS_REQ asks for, kept by a watch for its refreshes. */
struct status_ask {
	proto_id	 node;		/* "" = the server's choice */
	uint8_t		 flags;
	uint8_t		 depth;		/* 0 = the server's choice */
	uint8_t		 order;
	uint32_t	 offset;
	uint32_t	 limit;
	uint32_t	 member_offset;
};

/* One watch: a STATUS_REQ answered again after every change. */
struct watch {
	struct conn	*c;		/* referenced */
	proto_id	 id;
	struct status_ask ask;		/* as asked, WATCH included */
	int		 dirty;		/* changed since the last push */
	int		 busy;		/* a refresh is in Redis */
	int		 dead;		/* ended while busy: freed when done */
	int		 gone;		/* the alert left the cache: last push */
	uint64_t	 last;		/* mono_ms of the last push */
	TAILQ_ENTRY(watch) entry;
};

static TAILQ_HEAD(, watch) watches = TAILQ_HEAD_INITIALIZER(watches);
static struct event	*watch_ev;

/*
 * One row of an answer, copied out of the tree cache, which may be
 * swapped while Redis answers.
 */
struct srow {
	proto_id	 id;
	proto_id	 pid;		/* its parent; "" for the first row */
	char		*name;
	int		 tier;
	int		 depth;		/* levels below the first row */
	size_t		 parent;	/* the parent's row, if picked */
	uint32_t	 cached;	/* receivers in the cache when asked */
	uint32_t	 n[STATUS_COUNTS];	/* targeted, delivered, read,
					   relayed, reach, shown */
};

struct statusreq {
	struct conn	 *c;		/* referenced */
	struct watch	 *w;		/* the watch this refreshes, if any */
	proto_id	  id;
	struct status_ask ask;
	int		  last;		/* the last push of a watch whose alert went */
	proto_id	  root;		/* subtree shown */
	const struct tnode *top;	/* its node, while rows are picked */
	uint8_t		  depth;	/* levels below it shown */
	struct srow	 *rows;		/* [0] is the root */
	size_t		  nrows, caprows;
	uint32_t	  rows_total;	/* rows below the root within depth */
	char		(*cns)[PROTO_ID_MAX + 1];
	char		(*cnodes)[PROTO_ID_MAX + 1];
	size_t		  ncns, capcns;
	uint32_t	  members_total;
};

static void	status_query(struct statusreq *, const char *target);
static void	status_start(struct statusreq *);
static void	watch_done(struct watch *);
static void	watch_add(struct statusreq *);

static void
statusreq_free(struct statusreq *sr)
{
	size_t	i;

	if (sr->w != NULL)
		watch_done(sr->w);
	conn_unref(sr->c);
	for (i = 0; i < sr->nrows; i++)
		free(sr->rows[i].name);
	free(sr->rows);
	free(sr->cns);
	free(sr->cnodes);
	free(sr);
}

/* --- which rows --------------------------------------------------------- */

static void
status_row_add(struct statusreq *sr, const struct tnode *n, size_t parent)
{
	const struct tnode	*a;
	struct srow		*r;

	if (sr->nrows == sr->caprows) {
		sr->caprows = sr->caprows ? sr->caprows * 2 : 64;
		if ((r = reallocarray(sr->rows, sr->caprows,
		    sizeof(*r))) == NULL)
			fatal("status");
		sr->rows = r;
	}
	r = &sr->rows[sr->nrows++];
	memset(r, 0, sizeof(*r));
	strlcpy(r->id, n->id, sizeof(r->id));
	if ((r->name = strdup(n->name)) == NULL)
		fatal("status");
	r->tier = n->tier;
	for (a = n; a != NULL && a != sr->top; a = a->parent)
		r->depth++;
	r->parent = parent;
	if (sr->nrows > 1 && n->parent != NULL)
		strlcpy(r->pid, n->parent->id, sizeof(r->pid));
	r->cached = n->receivers;
}

/* Nodes below n down to depth levels (PROTO_DEPTH_ALL: all). */
static uint32_t
status_within(const struct tnode *n, int depth)
{
	uint32_t	sum = 0;
	size_t		i;

	if (depth == PROTO_DEPTH_ALL)
		return n->size - 1;
	if (depth <= 0)
		return 0;
	for (i = 0; i < n->nchildren; i++)
		sum += 1 + status_within(n->children[i], depth - 1);
	return sum;
}

/* A pre-order walk below a node that skips, then takes, rows. */
struct status_page {
	struct statusreq *sr;
	uint32_t	  skip;		/* rows still to pass over */
	uint32_t	  room;		/* rows still to take */
};

static void
status_page_walk(struct status_page *pg, const struct tnode *n, size_t row,
    int left)
{
	const struct tnode	*c;
	uint32_t		 below;
	size_t			 i;

	for (i = 0; i < n->nchildren && pg->room > 0; i++) {
		c = n->children[i];
		below = left == PROTO_DEPTH_ALL ? c->size - 1 :
		    status_within(c, left - 1);
		if (pg->skip > below) {
			pg->skip -= 1 + below;	/* the child and its rows */
			continue;
		}
		if (pg->skip > 0)
			pg->skip--;
		else {
			status_row_add(pg->sr, c, row);
			pg->room--;
		}
		if (left == PROTO_DEPTH_ALL || left > 1)
			status_page_walk(pg, c, pg->sr->nrows - 1,
			    left == PROTO_DEPTH_ALL ? left : left - 1);
	}
}

/*
 * Every row within depth, each below its parent's row, for a sorted
 * answer; the sorting is done once the counters are in.
 */
static void
status_all_walk(struct statusreq *sr, const struct tnode *n, size_t row,
    int left)
{
	size_t	i;

	for (i = 0; i < n->nchildren; i++) {
		status_row_add(sr, n->children[i], row);
		if (left == PROTO_DEPTH_ALL || left > 1)
			status_all_walk(sr, n->children[i], sr->nrows - 1,
			    left == PROTO_DEPTH_ALL ? left : left - 1);
	}
}

/* Bytes a node item takes at most once its counters are in. */
static size_t
status_node_bytes(const struct tnode *n, int root)
{
	return 2 + PROTO_FIELD_HDR + strlen(n->id) + (root || n->parent == NULL ?
	    0 : PROTO_FIELD_HDR + strlen(n->parent->id)) + PROTO_FIELD_HDR + 1 +
	    PROTO_FIELD_HDR + strlen(n->name) + 6 * (PROTO_FIELD_HDR + 4) +
	    PROTO_FIELD_HDR + 1;
}

/* A page of members and the rows that lead to them, sized to one frame. */
struct status_mpage {
	struct statusreq	*sr;
	const struct tnode	*root;
	struct htab		 need;	/* nodes whose row is picked */
	uint32_t		 skip;	/* receivers still to pass over */
	size_t			 room;	/* members still to take */
	size_t			 rows_bytes, mem_bytes;
	int			 full;
};

/*
 * Take member p at node n if it and the rows it adds (the nodes from n up
 * to the first one already picked) fit; else the page is full.
 */
static void
status_member_take(struct status_mpage *mp, const struct tprincipal *p,
    const struct tnode *n)
{
	struct statusreq	*sr = mp->sr;
	const struct tnode	*a;
	size_t			 rows = 0, mem, max;
	void			*nv;

	for (a = n; a != NULL && a != mp->root &&
	    htab_get(&mp->need, a->id) == NULL; a = a->parent)
		rows += status_node_bytes(a, 0);
	mem = 2 + 2 * PROTO_FIELD_HDR + strlen(p->cn) + strlen(n->id) +
	    3 * PROTO_FIELD_HDR + 1 + 8 + 1;
	max = wz->conf->limits.max_frame - STATUS_MARGIN;
	if (mp->rows_bytes + rows > UINT16_MAX ||
	    mp->mem_bytes + mem > UINT16_MAX ||
	    mp->rows_bytes + rows + mp->mem_bytes + mem > max) {
		mp->full = 1;
		return;
	}
	mp->rows_bytes += rows;
	mp->mem_bytes += mem;
	for (a = n; a != NULL && a != mp->root &&
	    htab_get(&mp->need, a->id) == NULL; a = a->parent)
		htab_put(&mp->need, a->id, (void *)1);
	if (sr->ncns == sr->capcns) {
		sr->capcns = sr->capcns ? sr->capcns * 2 : 64;
		if ((nv = reallocarray(sr->cns, sr->capcns,
		    sizeof(*sr->cns))) == NULL)
			fatal("status");
		sr->cns = nv;
		if ((nv = reallocarray(sr->cnodes, sr->capcns,
		    sizeof(*sr->cnodes))) == NULL)
			fatal("status");
		sr->cnodes = nv;
	}
	strlcpy(sr->cns[sr->ncns], p->cn, sizeof(sr->cns[0]));
	strlcpy(sr->cnodes[sr->ncns], n->id, sizeof(sr->cnodes[0]));
	sr->ncns++;
	mp->room--;
}

/*
 * The receivers below n in tree order, from the page's start: whole
 * subtrees before it are passed over by their receiver counts, not
 * walked.
 */
static void
status_member_walk(struct status_mpage *mp, const struct tnode *n)
{
	size_t	i;

	if (mp->skip >= n->receivers) {
		mp->skip -= n->receivers;
		return;
	}
	for (i = 0; i < n->nmembers && mp->room > 0 && !mp->full; i++) {
		if (!(n->members[i]->rights & PROTO_R_RECEIVE))
			continue;
		if (mp->skip > 0)
			mp->skip--;
		else
			status_member_take(mp, n->members[i], n);
	}
	for (i = 0; i < n->nchildren && mp->room > 0 && !mp->full; i++)
		status_member_walk(mp, n->children[i]);
}

/* The rows picked for a page of members, in pre-order. */
static void
status_member_rows(struct statusreq *sr, const struct tnode *n, size_t row,
    const struct htab *need)
{
	size_t	i;

	for (i = 0; i < n->nchildren; i++) {
		if (htab_get(need, n->children[i]->id) == NULL)
			continue;
		status_row_add(sr, n->children[i], row);
		status_member_rows(sr, n->children[i], sr->nrows - 1, need);
	}
}

static void
status_pick_members(struct statusreq *sr, const struct tnode *root)
{
	struct status_mpage	 mp;

	memset(&mp, 0, sizeof(mp));
	mp.sr = sr;
	mp.root = root;
	mp.skip = sr->ask.member_offset;
	mp.room = STATUS_MEMBERS_PAGE;
	mp.rows_bytes = PROTO_FIELD_HDR + status_node_bytes(root, 1);
	mp.mem_bytes = PROTO_FIELD_HDR;
	htab_init(&mp.need);
	sr->members_total = root->receivers;
	status_member_walk(&mp, root);
	status_member_rows(sr, root, 0, &mp.need);
	htab_clear(&mp.need, NULL);
}

/*
 * Choose the rows of the answer below root.  Returns -1 after an ERROR
 * when a sorted answer would read more rows than the limit allows.
 */
static int
status_pick(struct statusreq *sr, const struct tnode *root)
{
	struct status_page	 pg;
	uint32_t		 max = wz->conf->limits.status_rows;

	sr->top = root;
	status_row_add(sr, root, 0);
	if (sr->ask.flags & PROTO_SF_MEMBERS) {
		status_pick_members(sr, root);
		return 0;
	}
	if (sr->ask.depth != 0)
		sr->depth = sr->ask.depth;
	else
		sr->depth = root->size - 1 <= STATUS_AUTO_ALL ?
		    PROTO_DEPTH_ALL : 1;
	sr->rows_total = status_within(root, sr->depth);
	if (sr->ask.order == PROTO_SO_WORST) {
		if (sr->rows_total > max) {
			conn_error(sr->c, PROTO_E_TOO_LONG, sr->id, "sorting %u "
			    "rows under %s is more than limits.status_rows "
			    "(%u); ask for a smaller depth or a node below",
			    sr->rows_total, root->id, max);
			return -1;
		}
		status_all_walk(sr, root, 0, sr->depth);
		return 0;
	}
	pg.sr = sr;
	pg.skip = sr->ask.offset;
	pg.room = STATUS_PAGE_MAX;
	if (sr->ask.limit != 0 && sr->ask.limit < pg.room)
		pg.room = sr->ask.limit;
	if (pg.skip < sr->rows_total)
		status_page_walk(&pg, root, 0, sr->depth);
	return 0;
}

/* --- the answer --------------------------------------------------------- */

/*
 * The members with an agent connected now, as a set of CNs: one pass
 * over the connections at each members' node (members come grouped by
 * node), not one per member.
 */
static void
status_online(const struct statusreq *sr, struct htab *online)
{
	struct tnode	*n;
	struct conn	*c;
	size_t		 i;

	for (i = 0; i < sr->ncns; i++) {
		if (i > 0 && strcmp(sr->cnodes[i], sr->cnodes[i - 1]) == 0)
			continue;
		if ((n = tree_node(wz->tree, sr->cnodes[i])) == NULL)
			continue;
		for (c = conn_first_at(n); c != NULL; c = conn_next_at(c))
			htab_put(online, conn_principal(c)->cn, (void *)1);
	}
}

/*
 * Read share order, lowest first; a row that targeted nobody has nothing
 * to chase and goes last; then by id, so the order is stable.
 */
static int
status_share_cmp(const struct srow *a, const struct srow *b)
{
	uint64_t	l, r;

	if ((a->n[0] == 0) != (b->n[0] == 0))
		return a->n[0] == 0 ? 1 : -1;
	if (a->n[0] != 0) {
		l = (uint64_t)a->n[2] * b->n[0];
		r = (uint64_t)b->n[2] * a->n[0];
		if (l != r)
			return l < r ? -1 : 1;
	}
	return strcmp(a->id, b->id);
}

static const struct srow *sort_rows;	/* for status_sort_cmp */

static int
status_sort_cmp(const void *a, const void *b)
{
	return status_share_cmp(&sort_rows[*(const size_t *)a],
	    &sort_rows[*(const size_t *)b]);
}

/*
 * The order the rows below the root go out in: as picked (pre-order by
 * id), or pre-order with each row's children by read share.  Returns an
 * array of nrows - 1 row indexes (caller frees).
 */
static size_t *
status_order(const struct statusreq *sr)
{
	size_t	*first, *kids, *out, *stack, n = sr->nrows, i, k, sp = 0, o = 0;

	if ((out = calloc(n, sizeof(*out))) == NULL)
		fatal("status_order");
	if (sr->ask.order != PROTO_SO_WORST) {
		for (i = 1; i < n; i++)
			out[i - 1] = i;
		return out;
	}
	/* Children of each row, contiguous: first[r] .. first[r + 1]. */
	if ((first = calloc(n + 1, sizeof(*first))) == NULL ||
	    (kids = calloc(n, sizeof(*kids))) == NULL ||
	    (stack = calloc(n, sizeof(*stack))) == NULL)
		fatal("status_order");
	for (i = 1; i < n; i++)
		first[sr->rows[i].parent + 1]++;
	for (i = 0; i < n; i++)
		first[i + 1] += first[i];
	for (i = 1; i < n; i++)
		kids[first[sr->rows[i].parent]++] = i;
	for (i = n; i > 0; i--)
		first[i] = first[i - 1];
	first[0] = 0;
	sort_rows = sr->rows;
	for (i = 0; i < n; i++)
		if (first[i + 1] - first[i] > 1)
			qsort(kids + first[i], first[i + 1] - first[i],
			    sizeof(*kids), status_sort_cmp);
	/* Pre-order: push children last to first, so the first pops first. */
	for (k = first[1]; k > first[0]; k--)
		stack[sp++] = kids[k - 1];
	while (sp > 0) {
		i = stack[--sp];
		out[o++] = i;
		for (k = first[i + 1]; k > first[i]; k--)
			stack[sp++] = kids[k - 1];
	}
	free(first);
	free(kids);
	free(stack);
	return out;
}

/* Bytes the row's node item takes at most. */
static size_t
status_srow_bytes(const struct srow *r)
{
	return 2 + PROTO_FIELD_HDR + strlen(r->id) + PROTO_FIELD_HDR +
	    strlen(r->pid) + PROTO_FIELD_HDR + 1 + PROTO_FIELD_HDR +
	    strlen(r->name) + 6 * (PROTO_FIELD_HDR + 4) + PROTO_FIELD_HDR + 1;
}

static void
status_row_put(struct proto_buf *b, const struct srow *r)
{
	struct proto_status_node sn;

	memset(&sn, 0, sizeof(sn));
	strlcpy(sn.node, r->id, sizeof(sn.node));
	strlcpy(sn.parent, r->pid, sizeof(sn.parent));
	sn.tier = (uint8_t)r->tier;
	sn.depth = (uint8_t)r->depth;
	sn.name.p = (const uint8_t *)r->name;
	sn.name.len = strlen(r->name);
	sn.targeted = r->n[0];
	sn.delivered = r->n[1];
	sn.read = r->n[2];
	sn.relayed = r->n[3];
	sn.reach = r->n[4];
	sn.shown = r->n[5];
	proto_status_node_put(b, &sn);
}

/*
 * Where the alert is in its life, from its record: cancelled once a
 * CANCEL of it was accepted (cancelled_by), else expired once expires_at
 * has passed, else live.  The cache may not have dropped it yet; the
 * record says what is so.
 */
static void
status_lifecycle(struct proto_status *st, const redisReply *meta)
{
	const redisReply	*by, *at;

	by = meta->elements > 5 ? meta->element[5] : NULL;
	at = meta->elements > 6 ? meta->element[6] : NULL;
	if (by != NULL && by->type == REDIS_REPLY_STRING && by->len > 0 &&
	    proto_name_valid(by->str, by->len)) {
		st->lifecycle = PROTO_LIFE_CANCELLED;
		strlcpy(st->cancelled_by, by->str, sizeof(st->cancelled_by));
		if (at != NULL && at->type == REDIS_REPLY_STRING)
			st->ended_at = strtoull(at->str, NULL, 10);
	} else if (st->expires_at <= st->server_time) {
		st->lifecycle = PROTO_LIFE_EXPIRED;
		st->ended_at = st->expires_at;
	}
}

/*
 * After a STATUS of a WATCH went out: keep watching a live alert, or say
 * that nothing more will change and end the watch (the STATUS just sent
 * told how it ended).
 */
static void
status_watch_next(struct statusreq *sr, const struct proto_status *st)
{
	char	 why[PROTO_ID_MAX + 32];
	int	 live;

	/*
	 * A refresh that read Redis before the alert went: it still says
	 * live, and the last push, read after the change, follows it (the
	 * watch is dirty again), so that one tells how the alert ended.
	 */
	if (sr->w != NULL && sr->w->gone && !sr->last &&
	    st->lifecycle == PROTO_LIFE_LIVE)
		return;
	live = st->lifecycle == PROTO_LIFE_LIVE && alerts_get(sr->id) != NULL &&
	    (sr->w == NULL || !sr->w->gone);
	if (live) {
		if (sr->w == NULL)
			watch_add(sr);
		return;
	}
	if (sr->w != NULL) {
		if (sr->w->dead)
			return;		/* told already */
		sr->w->dead = 1;
	}
	if (st->lifecycle == PROTO_LIFE_CANCELLED)
		snprintf(why, sizeof(why), "cancelled by %s", st->cancelled_by);
	else if (st->lifecycle == PROTO_LIFE_EXPIRED)
		snprintf(why, sizeof(why), "expired");
	else
		snprintf(why, sizeof(why), "expired or cancelled");
	conn_error(sr->c, PROTO_E_UNKNOWN_ALERT, sr->id, "alert %s is no longer "
	    "live (%s): nothing more will change; the watch ends", sr->id, why);
}

/* Is e an array of n elements (or at least n if atleast)? */
static int
status_array(const redisReply *e, size_t n, int atleast)
{
	return e != NULL && e->type == REDIS_REPLY_ARRAY &&
	    (atleast ? e->elements >= n : e->elements == n);
}

/* The counters of each row from Redis; -1 for targeted: the cache's. */
static int
status_counts(struct statusreq *sr, const redisReply *cnt)
{
	const redisReply	*v;
	size_t			 i, k;

	for (i = 0; i < sr->nrows; i++) {
		for (k = 0; k < STATUS_COUNTS; k++) {
			v = cnt->element[STATUS_COUNTS * i + k];
			if (v->type != REDIS_REPLY_INTEGER)
				return -1;
			if (k == 0 && v->integer < 0)
				sr->rows[i].n[k] = sr->rows[i].cached;
			else
				sr->rows[i].n[k] = v->integer > UINT32_MAX ?
				    UINT32_MAX : (uint32_t)(v->integer < 0 ? 0 :
				    v->integer);
		}
	}
	return 0;
}

/* The member list, after the node list in b; returns members sent. */
static size_t
status_members_put(struct statusreq *sr, struct proto_buf *b,
    const redisReply *mem, const redisReply *on)
{
	struct proto_status_member m;
	struct htab		 online;
	size_t			 i, mark, start = b->len, sent = 0;
	uint32_t		 max = wz->conf->limits.max_frame;
	char			*colon;

	/* Here from the connections; elsewhere from the presence records. */
	htab_init(&online);
	status_online(sr, &online);
	mark = pbuf_list_begin(b, 7);
	for (i = 0; i < sr->ncns; i++) {
		memset(&m, 0, sizeof(m));
		strlcpy(m.cn, sr->cns[i], sizeof(m.cn));
		strlcpy(m.node, sr->cnodes[i], sizeof(m.node));
		if (mem->element[i]->type == REDIS_REPLY_STRING &&
		    mem->element[i]->len > 0) {
			m.state = (uint8_t)strtoul(mem->element[i]->str, &colon,
			    10);
			if (*colon == ':')
				m.at = strtoull(colon + 1, NULL, 10);
		}
		m.online = htab_get(&online, m.cn) != NULL ||
		    (on->element[i]->type == REDIS_REPLY_STRING &&
		    on->element[i]->len > 0);
		/* The page was sized to fit; this only guards the limits. */
		if (b->len - start + STATUS_MEMBER_MAX > UINT16_MAX ||
		    b->len + STATUS_MEMBER_MAX + STATUS_MARGIN > max)
			break;
		proto_status_member_put(b, &m);
		sent++;
	}
	pbuf_list_end(b, mark, 7);
	htab_clear(&online, NULL);
	return sent;
}

static void
status_done_cb(redisReply *r, void *arg)
{
	struct statusreq	*sr = arg;
	struct proto_status	 st;
	struct proto_buf	 b, out;
	redisReply		*meta, *cnt, *mem;
	size_t			 i, mark, first, nodes_len, sent = 0, msent = 0;
	size_t			*order;
	uint32_t		 max = wz->conf->limits.max_frame;
	uint32_t		 take;

	if (!conn_alive(sr->c))
		goto out;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		conn_error(sr->c, PROTO_E_STORE, sr->id, "store unavailable, try "
		    "again");
		goto out;
	}
	if (r->elements == 0) {
		conn_error(sr->c, PROTO_E_UNKNOWN_ALERT, sr->id, "no such alert");
		goto out;
	}
	if (r->elements != 4 || !status_array(r->element[0], 7, 1) ||
	    !status_array(r->element[1], STATUS_COUNTS * sr->nrows, 0) ||
	    !status_array(r->element[2], sr->ncns, 0) ||
	    !status_array(r->element[3], sr->ncns, 0) ||
	    status_counts(sr, r->element[1]) == -1) {
		log_warnx("status of %s: unexpected reply from the store",
		    sr->id);
		conn_error(sr->c, PROTO_E_STORE, sr->id, "store unavailable, try "
		    "again");
		goto out;
	}
	meta = r->element[0];
	cnt = r->element[1];
	mem = r->element[2];
	(void)cnt;
	memset(&st, 0, sizeof(st));
	strlcpy(st.id, sr->id, sizeof(st.id));
	st.seq = strtoull(meta->element[0]->str, NULL, 10);
	strlcpy(st.target, meta->element[1]->str, sizeof(st.target));
	st.issued_at = strtoull(meta->element[2]->str, NULL, 10);
	st.expires_at = strtoull(meta->element[3]->str, NULL, 10);
	st.status = (uint8_t)strtoul(meta->element[4]->str, NULL, 10);
	if (st.status > PROTO_STATUS_TEST)
		st.status = PROTO_STATUS_ACTUAL;
	st.server_time = now_ms();
	status_lifecycle(&st, meta);

	/* Lists first, into their own buffer, then the frame around them. */
	order = status_order(sr);
	pbuf_init(&b);
	mark = pbuf_list_begin(&b, 6);
	status_row_put(&b, &sr->rows[0]);
	/* Sorted rows were all read; a tree-order page starts at its own. */
	first = sr->ask.order == PROTO_SO_WORST ? sr->ask.offset : 0;
	take = sr->ask.limit != 0 ? sr->ask.limit : UINT32_MAX;
	for (i = first; i + 1 < sr->nrows && sent < take; i++) {
		size_t need = status_srow_bytes(&sr->rows[order[i]]);

		if (b.len - mark + need > UINT16_MAX ||
		    b.len + need + STATUS_MARGIN > max)
			break;
		status_row_put(&b, &sr->rows[order[i]]);
		sent++;
	}
	free(order);
	pbuf_list_end(&b, mark, 6);
	nodes_len = b.len;
	if (sr->ask.flags & PROTO_SF_MEMBERS) {
		msent = status_members_put(sr, &b, mem, r->element[3]);
		st.members.p = b.data + nodes_len + PROTO_FIELD_HDR;
		st.members.len = b.len - nodes_len - PROTO_FIELD_HDR;
		st.members_total = sr->members_total;
		st.members_offset = sr->ask.member_offset;
		if ((uint64_t)sr->ask.member_offset + msent < sr->members_total)
			st.omitted = sr->members_total -
			    sr->ask.member_offset - (uint32_t)msent;
	} else {
		st.rows_total = sr->rows_total;
		st.rows_offset = sr->ask.offset;
		st.depth = sr->depth;
	}
	if (b.err != 0) {
		conn_error(sr->c, PROTO_E_TOO_LONG, sr->id, "status of %s "
		    "does not fit in one STATUS; ask for a node below it",
		    sr->root);
		pbuf_free(&b);
		goto out;
	}
	st.nodes.p = b.data + PROTO_FIELD_HDR;
	st.nodes.len = nodes_len - PROTO_FIELD_HDR;
	pbuf_init(&out);
	proto_status_encode(&out, &st);
	if (out.err != 0 || out.len > (size_t)max + 4) {
		conn_error(sr->c, PROTO_E_TOO_LONG, sr->id, "status of %s does "
		    "not fit in %u bytes; ask for a smaller subtree", sr->root,
		    max);
	} else {
		conn_send(sr->c, &out);
		if (sr->ask.flags & PROTO_SF_WATCH)
			status_watch_next(sr, &st);
	}
	pbuf_free(&out);
	pbuf_free(&b);
out:
	statusreq_free(sr);
}

static void
status_target_cb(redisReply *r, void *arg)
{
	struct statusreq	*sr = arg;

	if (!conn_alive(sr->c)) {
		statusreq_free(sr);
		return;
	}
	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		conn_error(sr->c, PROTO_E_STORE, sr->id, "store unavailable, try "
		    "again");
		statusreq_free(sr);
		return;
	}
	if (r->type != REDIS_REPLY_STRING) {
		conn_error(sr->c, PROTO_E_UNKNOWN_ALERT, sr->id, "no such alert");
		statusreq_free(sr);
		return;
	}
	status_query(sr, r->str);
}

/*
 * The answer to a principal holding receive without observe: its own
 * node's row and its own state, for an alert that reached it; -1 after an
 * ERROR saying why not.
 */
static int
status_own(struct statusreq *sr, const struct tprincipal *pr,
    const struct tnode *target)
{
	if (!tree_covers(target, pr->node)) {
		conn_error(sr->c, PROTO_E_FORBIDDEN, sr->id, "alert %s was not "
		    "sent to %s, which holds receive without observe: it sees "
		    "only the alerts sent to it", sr->id, pr->cn);
		return -1;
	}
	if (sr->ask.node[0] != '\0' &&
	    strcmp(sr->ask.node, pr->node->id) != 0) {
		conn_error(sr->c, PROTO_E_FORBIDDEN, sr->id, "%s may see only "
		    "its own node %s (it holds receive without observe)",
		    pr->cn, pr->node->id);
		return -1;
	}
	strlcpy(sr->root, pr->node->id, sizeof(sr->root));
	sr->top = pr->node;
	status_row_add(sr, pr->node, 0);
	sr->depth = 1;		/* and rows_total 0: nothing below */
	if (!(sr->ask.flags & PROTO_SF_MEMBERS))
		return 0;
	sr->members_total = 1;
	if (sr->ask.member_offset > 0)
		return 0;
	sr->capcns = 1;
	if ((sr->cns = calloc(1, sizeof(*sr->cns))) == NULL ||
	    (sr->cnodes = calloc(1, sizeof(*sr->cnodes))) == NULL)
		fatal("status");
	strlcpy(sr->cns[0], pr->cn, sizeof(sr->cns[0]));
	strlcpy(sr->cnodes[0], pr->node->id, sizeof(sr->cnodes[0]));
	sr->ncns = 1;
	return 0;
}

/* With the target known: check rights, pick the rows, ask Redis. */
static void
status_query(struct statusreq *sr, const char *target_id)
{
	struct tprincipal	 *pr = conn_principal(sr->c);
	struct tnode		 *target, *asked, *root;
	const char		**argv;
	char			  gen[24], nrows[24], now[24];
	size_t			  i, argc;

	if ((target = tree_node(wz->tree, target_id)) == NULL) {
		conn_error(sr->c, PROTO_E_NODE, sr->id, "target %s is no longer "
		    "in the tree", target_id);
		goto fail;
	}
	if (!(pr->rights & PROTO_R_OBSERVE)) {
		if (status_own(sr, pr, target) == -1)
			goto fail;
		goto query;
	}
	if (sr->ask.node[0] != '\0') {
		if ((asked = tree_node(wz->tree, sr->ask.node)) == NULL) {
			access_no_node(sr->c, sr->ask.node, sr->id);
			goto fail;
		}
	} else if (tree_covers(pr->node, target) || !tree_covers(target, pr->node))
		asked = target;
	else
		asked = pr->node;	/* an observer inside the target's subtree */
	if (!tree_covers(pr->node, asked)) {
		conn_error(sr->c, PROTO_E_FORBIDDEN, sr->id, "%s may not observe %s",
		    pr->cn, asked->id);
		goto fail;
	}
	if (tree_covers(asked, target))
		root = target;
	else if (tree_covers(target, asked))
		root = asked;
	else {
		conn_error(sr->c, PROTO_E_NODE, sr->id, "%s is not below the "
		    "alert's target %s", asked->id, target->id);
		goto fail;
	}
	strlcpy(sr->root, root->id, sizeof(sr->root));
	if (status_pick(sr, root) == -1)
		goto fail;
query:
	argc = LUA_STATUS_ARGS + sr->nrows + sr->ncns;
	if ((argv = calloc(argc, sizeof(*argv))) == NULL)
		fatal("status_query");
	snprintf(gen, sizeof(gen), "%" PRIu64, wz->tree->gen);
	snprintf(nrows, sizeof(nrows), "%zu", sr->nrows);
	argv[LUA_STATUS_PREFIX] = store_key("%s", "");
	argv[LUA_STATUS_ID] = sr->id;
	argv[LUA_STATUS_GEN] = gen;
	argv[LUA_STATUS_N] = nrows;
	snprintf(now, sizeof(now), "%" PRIu64, now_ms());
	argv[LUA_STATUS_NOW] = now;
	for (i = 0; i < sr->nrows; i++)
		argv[LUA_STATUS_ARGS + i] = sr->rows[i].id;
	for (i = 0; i < sr->ncns; i++)
		argv[LUA_STATUS_ARGS + sr->nrows + i] = sr->cns[i];
	if (store_eval(STORE_LUA_STATUS, (int)argc, argv, NULL,
	    status_done_cb, sr) == -1) {
		free(argv);
		conn_error(sr->c, PROTO_E_STORE, sr->id, "store unavailable, try "
		    "again");
		goto fail;
	}
	free(argv);
	return;
fail:
	statusreq_free(sr);
}

/* --- watches ------------------------------------------------------------ */

static size_t
watch_count(const struct conn *c)
{
	struct watch	*w;
	size_t		 n = 0;

	TAILQ_FOREACH(w, &watches, entry)
		if (w->c == c)
			n++;
	return n;
}

static void
watch_free(struct watch *w)
{
	TAILQ_REMOVE(&watches, w, entry);
	conn_unref(w->c);
	free(w);
}

/* End a watch now, or when its refresh in flight comes back. */
static void
watch_end(struct watch *w)
{
	if (w->busy)
		w->dead = 1;
	else
		watch_free(w);
}

static void	watch_kick(void);

static void
watch_timer_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	watch_kick();
}

/* Read the alert's status again for w and push it (a STATUS_REQ of its own). */
static void
watch_refresh(struct watch *w)
{
	struct statusreq	*sr;
	struct alert		*a;

	if ((a = alerts_get(w->id)) == NULL && !w->gone) {
		watch_end(w);
		return;
	}
	if ((sr = calloc(1, sizeof(*sr))) == NULL)
		fatal("watch_refresh");
	conn_ref(w->c);
	sr->c = w->c;
	sr->w = w;
	strlcpy(sr->id, w->id, sizeof(sr->id));
	sr->ask = w->ask;
	w->busy = 1;
	w->dirty = 0;
	if (a != NULL)
		status_query(sr, a->r.target);
	else {
		sr->last = 1;
		status_start(sr);	/* gone: the last push, from the record */
	}
}

/* Refresh every changed watch whose interval has passed; wait for the rest. */
static void
watch_kick(void)
{
	struct watch	*w, *next;
	struct timeval	 tv;
	uint64_t	 now = mono_ms(), wait = 0, left;

	for (w = TAILQ_FIRST(&watches); w != NULL; w = next) {
		next = TAILQ_NEXT(w, entry);
		if (!w->dirty || w->busy || w->dead)
			continue;
		if (!conn_alive(w->c)) {
			watch_free(w);
			continue;
		}
		if (now >= w->last + WATCH_INTERVAL_MS) {
			watch_refresh(w);
			continue;
		}
		left = w->last + WATCH_INTERVAL_MS - now;
		if (wait == 0 || left < wait)
			wait = left;
	}
	if (wait == 0)
		return;
	if (watch_ev == NULL &&
	    (watch_ev = evtimer_new(wz->base, watch_timer_cb, NULL)) == NULL)
		fatalx("watch: evtimer_new");
	if (evtimer_pending(watch_ev, NULL))
		return;
	tv.tv_sec = 0;
	tv.tv_usec = (suseconds_t)wait * 1000;
	evtimer_add(watch_ev, &tv);
}

/* A refresh came back (pushed, or refused with an ERROR). */
static void
watch_done(struct watch *w)
{
	w->busy = 0;
	w->last = mono_ms();
	if (w->dead || !conn_alive(w->c) || (w->gone && !w->dirty)) {
		watch_free(w);
		return;
	}
	if (w->dirty)
		watch_kick();
}

/* The first STATUS of a WATCH went out: keep the request as a watch. */
static void
watch_add(struct statusreq *sr)
{
	struct watch	*w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		fatal("watch_add");
	conn_ref(sr->c);
	w->c = sr->c;
	strlcpy(w->id, sr->id, sizeof(w->id));
	w->ask = sr->ask;
	w->last = mono_ms();
	TAILQ_INSERT_TAIL(&watches, w, entry);
	log_debug("conn %llu %s: watching %s", (unsigned long long)conn_id(w->c),
	    conn_name(w->c), w->id);
}

void
watch_alert_changed(const char *id)
{
	struct watch	*w;
	int		 any = 0;

	TAILQ_FOREACH(w, &watches, entry) {
		if (strcmp(w->id, id) == 0) {
			w->dirty = 1;
			any = 1;
		}
	}
	if (any)
		watch_kick();
}

/*
 * The alert left the cache (cancelled, expired): every watch of it gets
 * one last STATUS, read from the record after the change, which says how
 * it ended; then an ERROR 308 ends the watch.  A refresh in flight may
 * have read Redis before the change: the last push follows it.
 */
void
watch_alert_gone(const char *id)
{
	struct watch	*w, *next;
	int		 any = 0;

	for (w = TAILQ_FIRST(&watches); w != NULL; w = next) {
		next = TAILQ_NEXT(w, entry);
		if (strcmp(w->id, id) != 0 || w->dead)
			continue;
		w->gone = 1;
		w->dirty = 1;
		w->last = 0;	/* at once, whatever the interval */
		any = 1;
	}
	if (any)
		watch_kick();
}

void
watch_conn_closed(struct conn *c)
{
	struct watch	*w, *next;

	for (w = TAILQ_FIRST(&watches); w != NULL; w = next) {
		next = TAILQ_NEXT(w, entry);
		if (w->c == c && !w->dead)
			watch_end(w);
	}
}

void
watch_free_all(void)
{
	struct watch	*w;

	while ((w = TAILQ_FIRST(&watches)) != NULL) {
		TAILQ_REMOVE(&watches, w, entry);
		conn_unref(w->c);
		free(w);
	}
	if (watch_ev != NULL)
		event_free(watch_ev);
	watch_ev = NULL;
}

void
status_handle(struct conn *c, const uint8_t *p, size_t len)
{
	struct proto_status_req	 req;
	struct statusreq	*sr;
	int			 rv;

	if ((rv = proto_status_req_decode(p, len, &req)) != 0) {
		conn_error(c, -rv, NULL, "bad STATUS_REQ: %s", proto_err_name(-rv));
		return;
	}
	/* Receive alone: its own share of its own alerts (status_own). */
	if (access_rights(c, PROTO_R_OBSERVE | PROTO_R_RECEIVE, req.id) == -1)
		return;
	if ((req.flags & PROTO_SF_WATCH) &&
	    watch_count(c) >= WATCH_MAX_PER_CONN) {
		conn_error(c, PROTO_E_LIMIT, req.id, "at most %d watches per "
		    "connection", WATCH_MAX_PER_CONN);
		return;
	}
	if ((sr = calloc(1, sizeof(*sr))) == NULL)
		fatal("status_handle");
	conn_ref(c);
	sr->c = c;
	strlcpy(sr->id, req.id, sizeof(sr->id));
	strlcpy(sr->ask.node, req.node, sizeof(sr->ask.node));
	sr->ask.flags = req.flags;
	sr->ask.depth = req.depth;
	sr->ask.order = req.order;
	sr->ask.offset = req.offset;
	sr->ask.limit = req.limit;
	sr->ask.member_offset = req.member_offset;
	status_start(sr);
}

/* Find the alert's target, in the cache or else its record, then query. */
static void
status_start(struct statusreq *sr)
{
	struct alert		*a;
	const char		*argv[3];

	if ((a = alerts_get(sr->id)) != NULL) {
		status_query(sr, a->r.target);
		return;
	}
	/* Not live (ended, or never): its target is in Redis, if anywhere. */
	argv[0] = "HGET";
	argv[1] = store_key("alert:%s", sr->id);
	argv[2] = "target";
	if (store_cmd(3, argv, NULL, status_target_cb, sr) == -1) {
		conn_error(sr->c, PROTO_E_STORE, sr->id, "store unavailable, try "
		    "again");
		statusreq_free(sr);
	}
}
