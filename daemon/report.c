/* SPDX-License-Identifier: ISC */
/*
 * report: REPORT_REQ, the supervision report (督导检查).  For a node and a
 * time range, one row per node of its subtree (pre-order, every tier)
 * with the alerts that reached the node and how their agents took them.
 *
 * What counts:
 *  - The alerts of the range are the ids in `accepted` scored in
 *    [from, to): alerts that went live then (a held alert when it was
 *    released).  from must be before to and the range at most 366 days
 *    (else 110); more ids than limits.report_alerts is refused with 202.
 *    Only alerts and updates are warnings received; cancels are skipped.
 *  - An alert counts for row N when its target is N, an ancestor of N or
 *    a descendant of N.  Its counters for N are rate:{id}[N:*] when N lies
 *    in the target's subtree, else rate:{id}[target:*] (the target lies
 *    below N).  Summed over the alerts they give alerts, targeted,
 *    delivered, shown, read and relayed: exactly what STATUS shows per
 *    node.
 *  - In time: each agent in ack:{id} is placed at its node by the tree
 *    cache and counted for every row whose subtree holds that node (and
 *    that the alert addressed).  A state is in time when the time it was
 *    first reached is at or before the deadline: accepted + escalate
 *    when the alert escalates, else its expiry.  An ack stored without
 *    those times (before they were kept) is never in time.
 *  - median_read_ms: the median, over the read acks counted for the row,
 *    of (first read - accepted); the mean of the two middle values for an
 *    even count, at least 1 ms; absent when nobody has read.
 *  - Drills (status exercise or test) go only into the drill_* columns
 *    and the drill total, never into the real columns or the median.
 *
 * The work is one pipelined batch: ZCOUNT and ZRANGEBYSCORE on
 * `accepted`, then per id HMGET alert:{id}, lua/report_rate.lua and
 * HSCAN ack:{id} page after page.  Replies come back in order and are summed as they
 * arrive, so no reply outlives its callback; the answer goes out when
 * the last one is in.  Rows keep their own copies of the tree's ids and
 * names, since the tree may be swapped while Redis answers.  Rows that
 * do not fit in one frame are left out and counted in `omitted`.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "wuzhad.h"
#include "lua_gen.h"

#define REPORT_MARGIN		256	/* bytes kept free under max_frame */
#define REPORT_RANGE_MAX_MS	(366ULL * 24 * 3600 * 1000)	/* one year */
#define REPORT_DEPTH_MAX	PROTO_PATH_MAX	/* nodes above the first row, at most */
#define REPORT_AUTO_ALL		1000	/* a subtree this small is shown whole */
#define REPORT_SCAN_COUNT	"1000"	/* acks asked for per HSCAN */

/* What an alert of the range is for the report. */
enum report_kind {
	REPORT_K_PENDING,	/* its hash has not come back yet */
	REPORT_K_SKIP,		/* a cancel, gone, or not about the subtree */
	REPORT_K_REAL,		/* status actual: the real columns */
	REPORT_K_DRILL,		/* status exercise or test: drill_* only */
};

/* One row: a node of the subtree and its sums. */
struct report_row {
	proto_id	 id;
	char		*name;
	int		 tier;
	long		 parent;	/* row index, -1 for the first row */
	size_t		 end;		/* one past the subtree's last row */
	uint32_t	 cached;	/* receivers in the tree cache when asked */
	uint64_t	 alerts, targeted, delivered, read, relayed, shown;
	uint64_t	 in_time[4];	/* by wire value - 1: delivered, read,
					   relayed, shown */
	uint64_t	 drill_alerts, drill_targeted, drill_delivered;
	uint64_t	 drill_read, drill_relayed, drill_shown;
	uint32_t	*reads;		/* ms from acceptance to read */
	size_t		 nreads, capreads;
};

struct reportreq;

/* One alert of the range, while its three replies come in. */
struct report_alert {
	struct reportreq *rr;
	enum report_kind  kind;
	long		  target;	/* row index, -1: above the first row */
	int		  deep;		/* the target lies below the rows: target is
					   its nearest row */
	proto_id	  target_id;
	proto_id	  id;
	uint64_t	  accepted;
	uint64_t	  deadline;
};

struct reportreq {
	struct conn		*c;		/* referenced */
	uint64_t		 from, to;
	struct report_row	*rows;		/* pre-order */
	size_t			 nrows;
	int			 depth;		/* levels below the first row */
	struct htab		 index;		/* node id -> its row */
	proto_id		 above[REPORT_DEPTH_MAX]; /* over the rows */
	size_t			 nabove;
	struct report_alert	*alerts;
	size_t			 nalerts;
	uint64_t		 count;		/* ZCOUNT of the range */
	uint64_t		 real, drills;	/* alerts reaching the rows */
	size_t			 pending;	/* replies due, +1 queuing */
	int			 failed;	/* a reply lost: Redis down */
	int			 answered;	/* refused already: only free */
};

static void	report_answer(struct reportreq *);
static int	report_issue(struct report_alert *, int, const char **,
		    store_cb *);

static void
reportreq_free(struct reportreq *rr)
{
	size_t	i;

	conn_unref(rr->c);
	for (i = 0; i < rr->nrows; i++) {
		free(rr->rows[i].name);
		free(rr->rows[i].reads);
	}
	free(rr->rows);
	htab_clear(&rr->index, NULL);
	free(rr->alerts);
	free(rr);
}

/* One reply less to wait for; the last one answers and frees. */
static void
report_release(struct reportreq *rr)
{
	if (--rr->pending > 0)
		return;
	if (conn_alive(rr->c) && !rr->answered) {
		if (rr->failed)
			conn_error(rr->c, PROTO_E_STORE, NULL, "store "
			    "unavailable, try again");
		else
			report_answer(rr);
	}
	reportreq_free(rr);
}

/* Rows below n down to left levels (PROTO_DEPTH_ALL: all), n included. */
static size_t
report_count(const struct tnode *n, int left)
{
	size_t	sum = 1, i;

	if (left == PROTO_DEPTH_ALL)
		return n->size;
	for (i = 0; left > 0 && i < n->nchildren; i++)
		sum += report_count(n->children[i], left - 1);
	return sum;
}

static void
report_rows_walk(struct reportreq *rr, struct tnode *n, long parent,
    int left)
{
	struct report_row	*row;
	long			 me = (long)rr->nrows;
	size_t			 i;

	row = &rr->rows[rr->nrows++];
	strlcpy(row->id, n->id, sizeof(row->id));
	if ((row->name = strdup(n->name)) == NULL)
		fatal("report");
	row->tier = n->tier;
	row->cached = n->receivers;
	row->parent = parent;
	htab_put(&rr->index, row->id, row);
	if (left == 0)
		return;
	for (i = 0; i < n->nchildren; i++)
		report_rows_walk(rr, n->children[i], me,
		    left == PROTO_DEPTH_ALL ? left : left - 1);
}

/*
 * Copy the subtree under root, down to depth levels, into rows, with
 * their subtree spans.  Without a depth, a subtree of at most
 * REPORT_AUTO_ALL nodes is taken whole, a larger one one level down.
 */
static void
report_rows(struct reportreq *rr, struct tnode *root, int depth)
{
	struct tnode		*a;
	size_t			 n, i;

	if (depth == 0)
		depth = root->size <= REPORT_AUTO_ALL ? PROTO_DEPTH_ALL : 1;
	rr->depth = depth;
	n = report_count(root, depth);
	if ((rr->rows = calloc(n, sizeof(*rr->rows))) == NULL)
		fatal("report_rows");
	report_rows_walk(rr, root, -1, depth);
	for (i = 0; i < rr->nrows; i++)
		rr->rows[i].end = i + 1;
	/* Children come after their parent: spans grow from the back. */
	for (i = rr->nrows; i-- > 1;) {
		struct report_row *p = &rr->rows[rr->rows[i].parent];

		if (rr->rows[i].end > p->end)
			p->end = rr->rows[i].end;
	}
	for (a = root->parent; a != NULL && rr->nabove < REPORT_DEPTH_MAX;
	    a = a->parent)
		strlcpy(rr->above[rr->nabove++], a->id, sizeof(rr->above[0]));
}

static long
report_row_index(struct reportreq *rr, const char *node)
{
	struct report_row	*row;

	if ((row = htab_get(&rr->index, node)) == NULL)
		return -2;
	return (long)(row - rr->rows);
}

/*
 * The row of node, or of its nearest ancestor that has one (rows stop at
 * the depth asked for); -2 if none has.
 */
static long
report_row_near(struct reportreq *rr, const char *node)
{
	const struct tnode	*n;
	long			 row;

	if ((row = report_row_index(rr, node)) != -2)
		return row;
	for (n = tree_node(wz->tree, node); n != NULL; n = n->parent)
		if ((row = report_row_index(rr, n->id)) != -2)
			return row;
	return -2;
}

/* 1 if the alert's target is row t (or above the rows, t -1) covers row r. */
static int
report_under(const struct reportreq *rr, long t, long r)
{
	return t < 0 || (r >= t && (size_t)r < rr->rows[t].end);
}

static const char *
report_str(const redisReply *r)
{
	if (r != NULL && r->type == REDIS_REPLY_STRING)
		return r->str;
	return NULL;
}

static uint64_t
report_u64(const redisReply *r)
{
	const char	*s = report_str(r);

	return s != NULL ? strtoull(s, NULL, 10) : 0;
}

/*
 * HMGET alert:{id} target type status accepted expires escalate: what
 * the alert is, where it went, and when its acks had to come.
 */
static void
report_meta_cb(redisReply *r, void *arg)
{
	struct report_alert	*al = arg;
	struct reportreq	*rr = al->rr;
	const char		*target;
	uint64_t		 type, status, escalate;
	size_t			 i;
	long			 t, row;

	al->kind = REPORT_K_SKIP;
	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		rr->failed = 1;
		goto out;
	}
	if (!conn_alive(rr->c) || rr->failed || r->type != REDIS_REPLY_ARRAY ||
	    r->elements != 6 || (target = report_str(r->element[0])) == NULL)
		goto out;
	type = report_u64(r->element[1]);
	if (type != PROTO_MSG_ALERT && type != PROTO_MSG_UPDATE)
		goto out;
	strlcpy(al->target_id, target, sizeof(al->target_id));
	if ((t = report_row_index(rr, target)) == -2) {
		for (i = 0; i < rr->nabove; i++)
			if (strcmp(rr->above[i], target) == 0)
				break;
		if (i < rr->nabove)
			t = -1;
		else if ((t = report_row_near(rr, target)) >= 0)
			al->deep = 1;	/* below the rows' depth */
		else
			goto out;	/* elsewhere in the tree */
	}
	status = report_u64(r->element[2]);
	al->target = t;
	al->accepted = report_u64(r->element[3]);
	escalate = report_u64(r->element[5]);
	al->deadline = escalate > 0 ? al->accepted + escalate :
	    report_u64(r->element[4]);
	al->kind = status == PROTO_STATUS_ACTUAL ? REPORT_K_REAL :
	    REPORT_K_DRILL;
	if (al->kind == REPORT_K_REAL)
		rr->real++;
	else
		rr->drills++;
	/* Every row in the target's subtree, and the target's ancestors. */
	for (row = 0; (size_t)row < rr->nrows; row++) {
		struct report_row *w = &rr->rows[row];

		if (!report_under(rr, t, row) && !report_under(rr, row, t))
			continue;
		if (al->kind == REPORT_K_REAL)
			w->alerts++;
		else
			w->drill_alerts++;
	}
 out:
	report_release(rr);
}

/* Add count to the counter what of row w, real or drill. */
static void
report_add(struct report_row *w, enum report_kind kind, const char *what,
    uint64_t count)
{
	int	drill = kind == REPORT_K_DRILL;

	if (strcmp(what, "targeted") == 0)
		*(drill ? &w->drill_targeted : &w->targeted) += count;
	else if (strcmp(what, "delivered") == 0)
		*(drill ? &w->drill_delivered : &w->delivered) += count;
	else if (strcmp(what, "read") == 0)
		*(drill ? &w->drill_read : &w->read) += count;
	else if (strcmp(what, "relayed") == 0)
		*(drill ? &w->drill_relayed : &w->relayed) += count;
	else if (strcmp(what, "shown") == 0)
		*(drill ? &w->drill_shown : &w->shown) += count;
}

/*
 * Add the counters of one rate:{id} field, "NODE:what", to its row if the
 * row is in the target's subtree, and a target's to the rows above it.
 */
static void
report_rate_field(struct report_alert *al, const char *f, uint64_t v)
{
	struct reportreq	*rr = al->rr;
	char			 node[PROTO_ID_MAX + 1];
	const char		*colon;
	long			 row, up;

	if ((colon = strrchr(f, ':')) == NULL ||
	    (size_t)(colon - f) >= sizeof(node))
		return;
	memcpy(node, f, colon - f);
	node[colon - f] = '\0';
	/* Below the rows: only the target's own counters, at its row. */
	if (al->deep) {
		if (strcmp(node, al->target_id) != 0)
			return;
		row = al->target;
	} else if ((row = report_row_index(rr, node)) < 0 ||
	    !report_under(rr, al->target, row))
		return;
	report_add(&rr->rows[row], al->kind, colon + 1, v);
	if (row != al->target)
		return;
	for (up = rr->rows[row].parent; up >= 0; up = rr->rows[up].parent)
		report_add(&rr->rows[up], al->kind, colon + 1, v);
}

/*
 * lua/report_rate.lua: {was, rate, targeted}.  A row in the target's
 * subtree takes its own counters, a row above the target the target's.
 * How many a row targeted is the tree as of the alert: the row's count
 * now unless `was` says it changed since.  An alert stored before that
 * was kept has N:targeted fields in rate:{id}, taken as they are.
 */
static void
report_rate_cb(redisReply *r, void *arg)
{
	struct report_alert	*al = arg;
	struct reportreq	*rr = al->rr;
	const redisReply	*was, *rate;
	struct htab		 changed;
	const char		*f, *v;
	size_t			 i, first, end;
	long			 up;
	uint64_t		 t = 0;
	int			 old = 0;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[0]->type != REDIS_REPLY_ARRAY ||
	    r->element[1]->type != REDIS_REPLY_ARRAY) {
		rr->failed = 1;
		goto out;
	}
	if (al->kind != REPORT_K_REAL && al->kind != REPORT_K_DRILL)
		goto out;
	if (!conn_alive(rr->c) || rr->failed)
		goto out;
	was = r->element[0];
	rate = r->element[1];
	for (i = 0; i + 1 < rate->elements; i += 2) {
		if ((f = report_str(rate->element[i])) == NULL)
			continue;
		if (strlen(f) > 9 && strcmp(f + strlen(f) - 9, ":targeted") == 0)
			old = 1;
		report_rate_field(al, f, report_u64(rate->element[i + 1]));
	}
	if (old)
		goto out;
	if (al->deep) {
		/* Below the rows: the target's count when it went live. */
		t = (f = report_str(r->element[2])) != NULL ?
		    strtoull(f, NULL, 10) : 0;
		for (up = al->target; up >= 0; up = rr->rows[up].parent)
			report_add(&rr->rows[up], al->kind, "targeted", t);
		goto out;
	}
	htab_init(&changed);
	for (i = 0; i + 1 < was->elements; i += 2)
		if ((f = report_str(was->element[i])) != NULL &&
		    (v = report_str(was->element[i + 1])) != NULL)
			htab_put(&changed, f, (void *)v);
	first = al->target < 0 ? 0 : (size_t)al->target;
	end = al->target < 0 ? rr->nrows : rr->rows[al->target].end;
	for (i = first; i < end; i++) {
		v = htab_get(&changed, rr->rows[i].id);
		t = v != NULL ? strtoull(v, NULL, 10) : rr->rows[i].cached;
		report_add(&rr->rows[i], al->kind, "targeted", t);
		if ((long)i != al->target)
			continue;
		for (up = rr->rows[i].parent; up >= 0; up = rr->rows[up].parent)
			report_add(&rr->rows[up], al->kind, "targeted", t);
	}
	htab_clear(&changed, NULL);
 out:
	report_release(rr);
}

static void
report_read_time(struct report_row *w, uint64_t ms)
{
	uint32_t	*nv;

	if (w->nreads == w->capreads) {
		w->capreads = w->capreads ? w->capreads * 2 : 16;
		if ((nv = reallocarray(w->reads, w->capreads,
		    sizeof(*w->reads))) == NULL)
			fatal("report");
		w->reads = nv;
	}
	w->reads[w->nreads++] = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

/*
 * HSCAN ack:{id}, a page at a time (no call that grows with the acks):
 * cn -> "state:at:reach:t1:t2:t3:t4" (t4, shown, is absent in acks stored
 * before that state, and reads as 0).  Real alerts only:
 * each agent's first times against the deadline, and its time to read,
 * for its node's row and every row above it.
 */
static void
report_ack_cb(redisReply *r, void *arg)
{
	struct report_alert	*al = arg;
	struct reportreq	*rr = al->rr;
	struct tprincipal	*pr;
	const redisReply	*kv;
	const char		*cn, *v, *p, *argv[6];
	char			*end;
	uint64_t		 t[4];
	size_t			 i;
	long			 row;
	int			 k, colons;

	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		rr->failed = 1;
		goto out;
	}
	if (al->kind != REPORT_K_REAL || !conn_alive(rr->c) || rr->failed ||
	    r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    report_str(r->element[0]) == NULL ||
	    r->element[1]->type != REDIS_REPLY_ARRAY)
		goto out;
	kv = r->element[1];
	for (i = 0; i + 1 < kv->elements; i += 2) {
		if ((cn = report_str(kv->element[i])) == NULL ||
		    (v = report_str(kv->element[i + 1])) == NULL)
			continue;
		if ((pr = tree_principal(wz->tree, cn)) == NULL ||
		    (row = report_row_near(rr, pr->node->id)) < 0 ||
		    !report_under(rr, al->target, row))
			continue;
		/* Skip state, at and reach: the first times follow. */
		for (p = v, colons = 0; *p != '\0' && colons < 3; p++)
			if (*p == ':')
				colons++;
		memset(t, 0, sizeof(t));
		for (k = 0; k < 4 && colons == 3 && *p != '\0'; k++) {
			t[k] = strtoull(p, &end, 10);
			p = *end == ':' ? end + 1 : end;
		}
		for (; row >= 0; row = rr->rows[row].parent) {
			struct report_row *w = &rr->rows[row];

			for (k = 0; k < 4; k++)
				if (t[k] > 0 && t[k] <= al->deadline)
					w->in_time[k]++;
			if (t[1] > 0)
				report_read_time(w, t[1] > al->accepted ?
				    t[1] - al->accepted : 0);
		}
	}
	/* The next page, until the cursor comes back to 0. */
	if (strcmp(report_str(r->element[0]), "0") != 0) {
		argv[0] = "HSCAN";
		argv[1] = store_key("ack:%s", al->id);
		argv[2] = report_str(r->element[0]);
		argv[3] = "COUNT";
		argv[4] = REPORT_SCAN_COUNT;
		if (report_issue(al, 5, argv, report_ack_cb) == -1)
			rr->failed = 1;
	}
 out:
	report_release(rr);
}

static int
report_cmp_u32(const void *a, const void *b)
{
	uint32_t	x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Median of a row's read times, at least 1 ms; 0 when there are none. */
static uint64_t
report_median(struct report_row *w)
{
	uint64_t	m;

	if (w->nreads == 0)
		return 0;
	qsort(w->reads, w->nreads, sizeof(*w->reads), report_cmp_u32);
	if (w->nreads % 2 == 1)
		m = w->reads[w->nreads / 2];
	else
		m = ((uint64_t)w->reads[w->nreads / 2 - 1] +
		    w->reads[w->nreads / 2]) / 2;
	return m > 0 ? m : 1;
}

static uint32_t
report_u32(uint64_t v)
{
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* Every reply is in: build the REPORT, leaving out rows that do not fit. */
static void
report_answer(struct reportreq *rr)
{
	struct proto_report	 rep;
	struct proto_report_row	 pr;
	struct proto_buf	 b, out;
	struct report_row	*w;
	size_t			 i, mark, before, omitted = 0;
	uint32_t		 max = wz->conf->limits.max_frame;

	pbuf_init(&b);
	mark = pbuf_list_begin(&b, 6);
	for (i = 0; i < rr->nrows; i++) {
		w = &rr->rows[i];
		memset(&pr, 0, sizeof(pr));
		strlcpy(pr.node, w->id, sizeof(pr.node));
		if (w->parent >= 0)
			strlcpy(pr.parent, rr->rows[w->parent].id,
			    sizeof(pr.parent));
		pr.tier = (uint8_t)w->tier;
		pr.name.p = (const uint8_t *)w->name;
		pr.name.len = strlen(w->name);
		pr.alerts = report_u32(w->alerts);
		pr.targeted = report_u32(w->targeted);
		pr.delivered = report_u32(w->delivered);
		pr.read = report_u32(w->read);
		pr.relayed = report_u32(w->relayed);
		pr.delivered_in_time = report_u32(w->in_time[0]);
		pr.read_in_time = report_u32(w->in_time[1]);
		pr.relayed_in_time = report_u32(w->in_time[2]);
		pr.shown = report_u32(w->shown);
		pr.shown_in_time = report_u32(w->in_time[PROTO_ACK_SHOWN - 1]);
		pr.median_read_ms = report_median(w);
		pr.drill_alerts = report_u32(w->drill_alerts);
		pr.drill_targeted = report_u32(w->drill_targeted);
		pr.drill_delivered = report_u32(w->drill_delivered);
		pr.drill_read = report_u32(w->drill_read);
		pr.drill_relayed = report_u32(w->drill_relayed);
		pr.drill_shown = report_u32(w->drill_shown);
		before = b.len;
		proto_report_row_put(&b, &pr);
		/* The list's length is a u16, and the frame has its limit. */
		if (b.err != 0 || b.len - PROTO_FIELD_HDR > UINT16_MAX ||
		    b.len + REPORT_MARGIN > max) {
			b.len = before;
			b.err = 0;
			omitted = rr->nrows - i;
			break;
		}
	}
	pbuf_list_end(&b, mark, 6);
	if (b.err != 0) {
		conn_error(rr->c, PROTO_E_INTERNAL, NULL, "report: out of memory");
		pbuf_free(&b);
		return;
	}
	memset(&rep, 0, sizeof(rep));
	strlcpy(rep.node, rr->rows[0].id, sizeof(rep.node));
	rep.from = rr->from;
	rep.to = rr->to;
	rep.alerts = report_u32(rr->real);
	rep.drills = report_u32(rr->drills);
	rep.rows.p = b.data + PROTO_FIELD_HDR;
	rep.rows.len = b.len - PROTO_FIELD_HDR;
	rep.omitted = (uint32_t)omitted;
	rep.depth = (uint8_t)rr->depth;
	if (omitted > 0)
		log_warnx("conn %llu %s: report on %s: %zu rows left out to fit "
		    "%u bytes", (unsigned long long)conn_id(rr->c),
		    conn_name(rr->c), rr->rows[0].id, omitted, max);
	pbuf_init(&out);
	proto_report_encode(&out, &rep);
	if (out.err != 0 || out.len > (size_t)max + 4)
		conn_error(rr->c, PROTO_E_TOO_LONG, NULL, "the report on %s does "
		    "not fit in %u bytes; ask about a node below it",
		    rr->rows[0].id, max);
	else {
		log_debug("conn %llu %s: report on %s: %" PRIu64 " alerts, %"
		    PRIu64 " drills, %zu rows", (unsigned long long)conn_id(rr->c),
		    conn_name(rr->c), rr->rows[0].id, rr->real, rr->drills,
		    rr->nrows - omitted);
		conn_send(rr->c, &out);
	}
	pbuf_free(&out);
	pbuf_free(&b);
}

/* Queue one command for an alert; 0, or -1 if Redis is down. */
static int
report_issue(struct report_alert *al, int argc, const char **argv,
    store_cb *cb)
{
	if (store_cmd(argc, argv, NULL, cb, al) == -1)
		return -1;
	al->rr->pending++;
	return 0;
}

/* ZCOUNT of the range: kept to say how many when there are too many. */
static void
report_zcount_cb(redisReply *r, void *arg)
{
	struct reportreq	*rr = arg;

	if (r == NULL || r->type != REDIS_REPLY_INTEGER)
		rr->failed = 1;
	else
		rr->count = (uint64_t)r->integer;
	report_release(rr);
}

/*
 * The ids of the range: one batch of three commands per id.  This reply
 * is itself still counted in pending, so nothing answers while the
 * batch is being queued.
 */
static void
report_ids_cb(redisReply *r, void *arg)
{
	struct reportreq	*rr = arg;
	const char		*argv[8], *id;
	char			 gen[24];
	uint32_t		 limit = wz->conf->limits.report_alerts;
	size_t			 i, n;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		rr->failed = 1;
		goto out;
	}
	if (!conn_alive(rr->c) || rr->failed)
		goto out;
	n = r->elements;
	if (rr->count > limit || n > limit) {
		conn_error(rr->c, PROTO_E_LIMIT, NULL, "%" PRIu64 " alerts in "
		    "the range, more than the %u one report may cover "
		    "(limits.report_alerts); ask for a shorter range",
		    rr->count > n ? rr->count : (uint64_t)n, limit);
		rr->answered = 1;
		goto out;
	}
	if (n > 0 && (rr->alerts = calloc(n, sizeof(*rr->alerts))) == NULL)
		fatal("report_ids_cb");
	for (i = 0; i < n; i++) {
		struct report_alert *al = &rr->alerts[i];

		al->rr = rr;
		al->kind = REPORT_K_PENDING;
		if ((id = report_str(r->element[i])) == NULL)
			continue;
		strlcpy(al->id, id, sizeof(al->id));
		argv[0] = "HMGET";
		argv[1] = store_key("alert:%s", id);
		argv[2] = "target";
		argv[3] = "type";
		argv[4] = "status";
		argv[5] = "accepted";
		argv[6] = "expires";
		argv[7] = "escalate";
		if (report_issue(al, 8, argv, report_meta_cb) == -1)
			goto down;
		snprintf(gen, sizeof(gen), "%" PRIu64, wz->tree->gen);
		argv[LUA_REPORT_RATE_PREFIX] = store_key("%s", "");
		argv[LUA_REPORT_RATE_ID] = id;
		argv[LUA_REPORT_RATE_GEN] = gen;
		if (store_eval(STORE_LUA_REPORT_RATE, LUA_REPORT_RATE_ARGS, argv,
		    NULL, report_rate_cb, al) == -1)
			goto down;
		rr->pending++;
		argv[0] = "HSCAN";
		argv[1] = store_key("ack:%s", id);
		argv[2] = "0";
		argv[3] = "COUNT";
		argv[4] = REPORT_SCAN_COUNT;
		if (report_issue(al, 5, argv, report_ack_cb) == -1)
			goto down;
		rr->nalerts++;
	}
	goto out;
 down:
	rr->failed = 1;
 out:
	report_release(rr);
}

void
report_handle(struct conn *c, const uint8_t *p, size_t len)
{
	struct proto_report_req	 req;
	struct reportreq	*rr;
	struct tnode		*root;
	const char		*argv[8];
	char			 from[24], to[24];
	uint32_t		 limit = wz->conf->limits.report_alerts;
	char			 lim[16];
	int			 rv;

	if ((rv = proto_report_req_decode(p, len, &req)) != 0) {
		conn_error(c, -rv, NULL, "bad REPORT_REQ: %s", proto_err_name(-rv));
		return;
	}
	if (access_rights(c, PROTO_R_OBSERVE, NULL) == -1)
		return;
	if (req.from >= req.to) {
		conn_error(c, PROTO_E_VALUE, NULL, "from must be before to");
		return;
	}
	if (req.to - req.from > REPORT_RANGE_MAX_MS) {
		conn_error(c, PROTO_E_VALUE, NULL, "the range is longer than "
		    "366 days; ask for a shorter one");
		return;
	}
	if ((root = access_node(c, PROTO_R_OBSERVE, req.node, NULL)) == NULL)
		return;
	if ((rr = calloc(1, sizeof(*rr))) == NULL)
		fatal("report_handle");
	conn_ref(c);
	rr->c = c;
	rr->from = req.from;
	rr->to = req.to;
	htab_init(&rr->index);
	report_rows(rr, root, req.depth);

	/* [from, to): "(" makes the upper bound exclusive. */
	snprintf(from, sizeof(from), "%" PRIu64, req.from);
	snprintf(to, sizeof(to), "(%" PRIu64, req.to);
	snprintf(lim, sizeof(lim), "%u", limit);
	argv[0] = "ZCOUNT";
	argv[1] = store_key("accepted");
	argv[2] = from;
	argv[3] = to;
	rr->pending = 1;	/* held until both commands are queued */
	if (store_cmd(4, argv, NULL, report_zcount_cb, rr) == -1)
		goto down;
	rr->pending++;
	argv[0] = "ZRANGEBYSCORE";
	argv[4] = "LIMIT";
	argv[5] = "0";
	argv[6] = lim;
	if (store_cmd(7, argv, NULL, report_ids_cb, rr) == -1)
		goto down;
	rr->pending++;
	report_release(rr);
	return;
 down:
	rr->failed = 1;
	report_release(rr);
}
