/* SPDX-License-Identifier: ISC */
/*
 * status: STATUS_REQ.  A principal with observe over a node reads the
 * acknowledgement tree of an alert below that node: per node the agents
 * targeted and how many have delivered, read and relayed it (counters
 * kept per node by ack.c, so the cost is per node, not per agent), and on
 * request each principal's own state ("who has not read").
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

#define STATUS_MARGIN	256	/* bytes kept free under max_frame */
/* Largest encoded member item: length, cn, node, state, at. */
#define STATUS_MEMBER_MAX	(2 + 2 * (PROTO_FIELD_HDR + PROTO_ID_MAX) + \
				    PROTO_FIELD_HDR + 1 + PROTO_FIELD_HDR + 8)

#define WATCH_MAX_PER_CONN	16	/* watches one connection may hold */
#define WATCH_INTERVAL_MS	25	/* least time between two pushes */

/* One watch: a STATUS_REQ answered again after every change. */
struct watch {
	struct conn	*c;		/* referenced */
	proto_id	 id;
	proto_id	 node;
	uint8_t		 flags;		/* as asked, WATCH included */
	int		 dirty;		/* changed since the last push */
	int		 busy;		/* a refresh is in Redis */
	int		 dead;		/* ended while busy: freed when done */
	int		 gone;		/* the alert left the cache: last push */
	uint64_t	 last;		/* mono_ms of the last push */
	TAILQ_ENTRY(watch) entry;
};

static TAILQ_HEAD(, watch) watches = TAILQ_HEAD_INITIALIZER(watches);
static struct event	*watch_ev;

struct statusreq {
	struct conn	 *c;		/* referenced */
	struct watch	 *w;		/* the watch this refreshes, if any */
	proto_id	  id;
	proto_id	  node;		/* asked for, "" = default */
	uint8_t		  flags;
	int		  last;		/* the last push of a watch whose alert went */
	proto_id	  root;		/* subtree shown */
	char		(*cns)[PROTO_ID_MAX + 1];
	char		(*cnodes)[PROTO_ID_MAX + 1];
	size_t		  ncns;
};

static void	status_query(struct statusreq *, const char *target);
static void	status_start(struct statusreq *);
static void	watch_done(struct watch *);
static void	watch_add(struct statusreq *);

static void
statusreq_free(struct statusreq *sr)
{
	if (sr->w != NULL)
		watch_done(sr->w);
	conn_unref(sr->c);
	free(sr->cns);
	free(sr->cnodes);
	free(sr);
}

static void
status_member_cb(struct tnode *n, int depth, void *arg)
{
	struct statusreq	*sr = arg;
	size_t			 i;
	void			*nv;

	for (i = 0; i < n->nmembers; i++) {
		if (!(n->members[i]->rights & PROTO_R_RECEIVE))
			continue;
		if ((sr->ncns & (sr->ncns - 1)) == 0) {
			size_t cap = sr->ncns ? sr->ncns * 2 : 8;

			if ((nv = reallocarray(sr->cns, cap, sizeof(*sr->cns))) == NULL)
				fatal("status");
			sr->cns = nv;
			if ((nv = reallocarray(sr->cnodes, cap,
			    sizeof(*sr->cnodes))) == NULL)
				fatal("status");
			sr->cnodes = nv;
		}
		strlcpy(sr->cns[sr->ncns], n->members[i]->cn, sizeof(sr->cns[0]));
		strlcpy(sr->cnodes[sr->ncns], n->id, sizeof(sr->cnodes[0]));
		sr->ncns++;
	}
}

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

/* Build the reply from {meta, rate, members}. */
struct status_build {
	struct proto_buf	*b;
	struct htab		 rate;
	struct tnode		*root;
};

static uint32_t
status_count(struct status_build *sb, const char *node, const char *what)
{
	char		 key[PROTO_ID_MAX + 16];
	const char	*v;

	snprintf(key, sizeof(key), "%s:%s", node, what);
	if ((v = htab_get(&sb->rate, key)) == NULL)
		return 0;
	return (uint32_t)strtoul(v, NULL, 10);
}

static void
status_node_cb(struct tnode *n, int depth, void *arg)
{
	struct status_build	*sb = arg;
	struct proto_status_node sn;

	memset(&sn, 0, sizeof(sn));
	strlcpy(sn.node, n->id, sizeof(sn.node));
	if (n != sb->root && n->parent != NULL)
		strlcpy(sn.parent, n->parent->id, sizeof(sn.parent));
	sn.tier = (uint8_t)n->tier;
	sn.name.p = (const uint8_t *)n->name;
	sn.name.len = strlen(n->name);
	sn.targeted = status_count(sb, n->id, "targeted");
	sn.delivered = status_count(sb, n->id, "delivered");
	sn.read = status_count(sb, n->id, "read");
	sn.relayed = status_count(sb, n->id, "relayed");
	sn.reach = status_count(sb, n->id, "reach");
	proto_status_node_put(sb->b, &sn);
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

static void
status_done_cb(redisReply *r, void *arg)
{
	struct statusreq	*sr = arg;
	struct status_build	 sb;
	struct proto_status	 st;
	struct proto_status_member m;
	struct proto_buf	 b;
	redisReply		*meta, *rate, *mem;
	struct tnode		*root;
	size_t			 i, mark, omitted = 0;
	uint32_t		 max = wz->conf->limits.max_frame;
	struct htab		 online;

	htab_init(&online);
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
	meta = r->element[0];
	rate = r->element[1];
	mem = r->element[2];
	if ((root = tree_node(wz->tree, sr->root)) == NULL) {
		conn_error(sr->c, PROTO_E_NODE, sr->id, "node %s left the tree",
		    sr->root);
		goto out;
	}
	memset(&st, 0, sizeof(st));
	strlcpy(st.id, sr->id, sizeof(st.id));
	st.seq = strtoull(meta->element[0]->str, NULL, 10);
	strlcpy(st.target, meta->element[1]->str, sizeof(st.target));
	st.issued_at = strtoull(meta->element[2]->str, NULL, 10);
	st.expires_at = strtoull(meta->element[3]->str, NULL, 10);
	if (meta->elements > 4)
		st.status = (uint8_t)strtoul(meta->element[4]->str, NULL, 10);
	if (st.status > PROTO_STATUS_TEST)
		st.status = PROTO_STATUS_ACTUAL;
	st.server_time = now_ms();
	status_lifecycle(&st, meta);

	htab_init(&sb.rate);
	for (i = 0; i + 1 < rate->elements; i += 2)
		htab_put(&sb.rate, rate->element[i]->str, rate->element[i + 1]->str);
	sb.root = root;

	/* Lists first, into their own buffer, then the frame around them. */
	pbuf_init(&b);
	sb.b = &b;
	mark = pbuf_list_begin(&b, 6);
	tree_walk(root, status_node_cb, &sb);
	pbuf_list_end(&b, mark, 6);
	htab_clear(&sb.rate, NULL);
	if (b.err != 0) {
		conn_error(sr->c, PROTO_E_TOO_LONG, sr->id, "the tree under %s "
		    "is too large for one STATUS; ask about a node below it",
		    root->id);
		pbuf_free(&b);
		goto out;
	}
	st.nodes.p = b.data + PROTO_FIELD_HDR;
	st.nodes.len = b.len - PROTO_FIELD_HDR;
	if ((sr->flags & PROTO_SF_MEMBERS) && mem->elements == sr->ncns) {
		size_t nodes_len = b.len;

		status_online(sr, &online);
		mark = pbuf_list_begin(&b, 7);
		for (i = 0; i < sr->ncns; i++) {
			memset(&m, 0, sizeof(m));
			strlcpy(m.cn, sr->cns[i], sizeof(m.cn));
			strlcpy(m.node, sr->cnodes[i], sizeof(m.node));
			if (mem->element[i]->type == REDIS_REPLY_STRING &&
			    mem->element[i]->len > 0) {
				char *colon;

				m.state = (uint8_t)strtoul(mem->element[i]->str,
				    &colon, 10);
				if (*colon == ':')
					m.at = strtoull(colon + 1, NULL, 10);
			}
			m.online = htab_get(&online, m.cn) != NULL;
			/* Keep the list (u16 length) and the frame within their
			 * limits; say how many were left out. */
			if (b.len - nodes_len + STATUS_MEMBER_MAX > UINT16_MAX ||
			    b.len + STATUS_MEMBER_MAX + STATUS_MARGIN > max) {
				omitted = sr->ncns - i;
				break;
			}
			proto_status_member_put(&b, &m);
		}
		pbuf_list_end(&b, mark, 7);
		st.nodes.p = b.data + PROTO_FIELD_HDR;
		st.nodes.len = nodes_len - PROTO_FIELD_HDR;
		st.members.p = b.data + nodes_len + PROTO_FIELD_HDR;
		st.members.len = b.len - nodes_len - PROTO_FIELD_HDR;
	}
	st.omitted = (uint32_t)omitted;
	if (omitted > 0)
		log_warnx("conn %llu %s: status of %s: %zu members left out to "
		    "fit %u bytes", (unsigned long long)conn_id(sr->c),
		    conn_name(sr->c), sr->id, omitted, max);
	{
		struct proto_buf out;

		pbuf_init(&out);
		proto_status_encode(&out, &st);
		if (out.err != 0 || out.len > (size_t)max + 4) {
			conn_error(sr->c, PROTO_E_TOO_LONG, sr->id, "status of "
			    "%s does not fit in %u bytes; ask for a smaller "
			    "subtree", root->id, max);
			out.len = 0;
		} else {
			conn_send(sr->c, &out);
			if (sr->flags & PROTO_SF_WATCH)
				status_watch_next(sr, &st);
		}
		pbuf_free(&out);
	}
	pbuf_free(&b);
out:
	htab_clear(&online, NULL);
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

/* With the target known: check rights, pick the subtree, ask Redis. */
static void
status_query(struct statusreq *sr, const char *target_id)
{
	struct tprincipal	 *pr = conn_principal(sr->c);
	struct tnode		 *target, *asked, *root;
	const char		**argv;
	size_t			  i;

	if ((target = tree_node(wz->tree, target_id)) == NULL) {
		conn_error(sr->c, PROTO_E_NODE, sr->id, "target %s is no longer "
		    "in the tree", target_id);
		goto fail;
	}
	if (sr->node[0] != '\0') {
		if ((asked = tree_node(wz->tree, sr->node)) == NULL) {
			conn_error(sr->c, PROTO_E_NODE, sr->id, "unknown node %s",
			    sr->node);
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
	if (sr->flags & PROTO_SF_MEMBERS)
		tree_walk(root, status_member_cb, sr);
	if ((argv = calloc(sr->ncns + 2, sizeof(*argv))) == NULL)
		fatal("status_query");
	argv[0] = store_key("%s", "");
	argv[1] = sr->id;
	for (i = 0; i < sr->ncns; i++)
		argv[i + 2] = sr->cns[i];
	if (store_eval(STORE_LUA_STATUS, (int)sr->ncns + 2, argv, NULL,
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
	strlcpy(sr->node, w->node, sizeof(sr->node));
	sr->flags = w->flags;
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
	strlcpy(w->node, sr->node, sizeof(w->node));
	w->flags = sr->flags;
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
	if (access_rights(c, PROTO_R_OBSERVE, req.id) == -1)
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
	strlcpy(sr->node, req.node, sizeof(sr->node));
	sr->flags = req.flags;
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
