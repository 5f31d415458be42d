/* SPDX-License-Identifier: ISC */
/*
 * remind: reminders and escalation for alerts nobody has confirmed.
 *
 * Every alert carries its own timers (set by the issuer, defaults from
 * the config), counted from the moment it was accepted.  Reminder k is
 * due at accepted + k * remind_after, for k up to max_reminders; the
 * escalation at accepted + escalate_after.  What has fired is stored in
 * the alert's hash in the same script call that reads who still needs
 * it, so timers survive restarts and fire once: a daemon that was down
 * through several due times sends one reminder, not a burst.
 *
 * A reminder is the same ALERT frame flagged REMINDER, pushed to the
 * connected agents at or below the target that have not read it (shown,
 * on screen without a confirmation, is not read).  An
 * escalation names who has not read, with each one's acknowledgement
 * state, to the observers at the nearest node above each of them where
 * someone observes (a class's advisors go to their school's desk when
 * the department has no observer).  It is stored with the alert, so an
 * observer who connects later is sent it too, once.
 *
 * Nothing taken from the tree is kept across a Redis round trip: a
 * reload may swap the tree (and free the old one) before the reply
 * comes, so requests keep names and look them up again on the reply.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "wuzhad.h"
#include "lua_gen.h"

#define REMIND_STORED_MAX	64	/* stored escalations sent on one connect */

/*
 * Principals (and, for reminders, their live connections) asked about.
 * Escalations keep only the names: see the comment at the top.
 */
struct remind_req {
	proto_id	  id;
	int		  escalation;	/* else a reminder */
	uint32_t	  round;	/* reminder round being fired */
	size_t		  n;
	size_t		  cap;
	struct conn	**conns;	/* reminders: referenced */
	char		(*cns)[PROTO_ID_MAX + 1];
};

/* A person who has not read, found again in the current tree. */
struct remind_unread {
	struct tprincipal	*p;
	struct tnode		*obs;	/* nearest observed node above p */
	uint8_t			 state;	/* enum proto_ack_state */
};

/* The observers told of one escalation as it is sent. */
struct remind_told {
	struct blob	 *bl;
	const char	**cns;		/* views of the connections' principals */
	size_t		  n;
	size_t		  cap;
};

static void
remind_req_free(struct remind_req *rr)
{
	size_t	i;

	if (rr->conns != NULL)
		for (i = 0; i < rr->n; i++)
			conn_unref(rr->conns[i]);
	free(rr->conns);
	free(rr->cns);
	free(rr);
}

static void
remind_push(struct remind_req *rr, const char *cn, struct conn *c)
{
	void	*nv;

	if (rr->n == rr->cap) {
		rr->cap = rr->cap ? rr->cap * 2 : 16;
		if ((nv = reallocarray(rr->cns, rr->cap, sizeof(*rr->cns))) == NULL)
			fatal("remind");
		rr->cns = nv;
		if (!rr->escalation) {
			nv = reallocarray(rr->conns, rr->cap, sizeof(*rr->conns));
			if (nv == NULL)
				fatal("remind");
			rr->conns = nv;
		}
	}
	strlcpy(rr->cns[rr->n], cn, sizeof(rr->cns[0]));
	if (!rr->escalation) {
		conn_ref(c);
		rr->conns[rr->n] = c;
	}
	rr->n++;
}

/* Reminders: the ready agents below the target, one entry per connection. */
static void
remind_collect_conns_cb(struct tnode *n, int depth, void *arg)
{
	struct remind_req	*rr = arg;
	struct conn		*c;

	for (c = conn_first_at(n); c != NULL; c = conn_next_at(c))
		if (conn_state(c) == CONN_S_READY)
			remind_push(rr, conn_principal(c)->cn, c);
}

/* Escalation: every receiving principal below the target. */
static void
remind_collect_members_cb(struct tnode *n, int depth, void *arg)
{
	struct remind_req	*rr = arg;
	size_t			 i;

	for (i = 0; i < n->nmembers; i++)
		if (n->members[i]->rights & PROTO_R_RECEIVE)
			remind_push(rr, n->members[i]->cn, NULL);
}

/* Stored state of entry i from the script's reply; -1 if unknown. */
static long long
remind_state(const redisReply *r, size_t i)
{
	if (r->element[i]->type != REDIS_REPLY_INTEGER)
		return -1;
	return r->element[i]->integer;
}

/* Has a principal in state st read?  By rank: shown has not. */
static int
remind_read(long long st)
{
	return st >= 0 && st <= PROTO_ACK_MAX &&
	    proto_ack_rank((int)st) >= proto_ack_rank(PROTO_ACK_READ);
}

static void
remind_sent_cb(redisReply *r, void *arg)
{
	struct remind_req	*rr = arg;
	struct alert		*a = alerts_get(rr->id);
	struct blob		*bl;
	size_t			 i, sent = 0;

	if (a != NULL)
		a->timer_busy = 0;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != rr->n) {
		log_warnx("alert %s: reminder %u not sent: %s", rr->id, rr->round,
		    r != NULL && r->type == REDIS_REPLY_ERROR ? r->str :
		    "store unavailable; will try again");
		remind_req_free(rr);
		return;
	}
	if (a != NULL) {
		a->reminded = rr->round;
		bl = alert_blob(a, PROTO_AF_REMINDER);
		for (i = 0; i < rr->n; i++) {
			if (remind_read(remind_state(r, i)) ||
			    !conn_alive(rr->conns[i]) ||
			    conn_state(rr->conns[i]) != CONN_S_READY)
				continue;
			conn_send_blob(rr->conns[i], bl);
			sent++;
		}
		metrics_count(M_REMINDERS, sent);
		metrics_count(M_DELIVERED, sent);
		log_info("alert %s: reminder %u of %u pushed to %zu agent%s "
		    "not yet read", a->r.id, rr->round, a->r.tm.max_reminders,
		    sent, sent == 1 ? "" : "s");
	}
	remind_req_free(rr);
}

/* The nearest node above n where a principal observes; NULL if none. */
static struct tnode *
remind_observed_above(struct tnode *n)
{
	size_t	i;

	for (n = n->parent; n != NULL; n = n->parent)
		for (i = 0; i < n->nmembers; i++)
			if (n->members[i]->rights & PROTO_R_OBSERVE)
				return n;
	return NULL;
}

/* Send the escalation to one connected observer and note its name. */
static void
remind_tell_cb(struct conn *c, void *arg)
{
	struct remind_told	*rt = arg;
	void			*nv;

	if (rt->n == rt->cap) {
		rt->cap = rt->cap ? rt->cap * 2 : 8;
		if ((nv = reallocarray(rt->cns, rt->cap, sizeof(*rt->cns))) == NULL)
			fatal("remind");
		rt->cns = nv;
	}
	rt->cns[rt->n++] = conn_principal(c)->cn;
	conn_send_blob(c, rt->bl);
}

static void
remind_stored_cb(redisReply *r, void *arg)
{
	char	*what = arg;

	if (r == NULL || r->type == REDIS_REPLY_ERROR)
		log_warnx("%s not stored, observers who connect later will not "
		    "get it: %s", what, r != NULL ? r->str : "store unavailable");
	free(what);
}

/*
 * Keep the escalation frame for observers at node obs who connect later;
 * those in rt were told already.
 */
static void
remind_store(struct alert *a, struct tnode *obs, struct remind_told *rt)
{
	const char	**argv;
	size_t		 *lens, i, argc = LUA_ESCALATE_ARGS + 3 + rt->n;
	char		  exp[24], now[24], n[24], *what;

	if ((argv = calloc(argc, sizeof(*argv))) == NULL ||
	    (lens = calloc(argc, sizeof(*lens))) == NULL ||
	    asprintf(&what, "alert %s: escalation at %s", a->r.id, obs->id) == -1)
		fatal("remind_store");
	snprintf(exp, sizeof(exp), "%llu", (unsigned long long)a->r.expires);
	snprintf(now, sizeof(now), "%llu", (unsigned long long)now_ms());
	snprintf(n, sizeof(n), "%zu", rt->n);
	argv[LUA_ESCALATE_PREFIX] = store_key("%s", "");
	argv[LUA_ESCALATE_ID] = a->r.id;
	argv[LUA_ESCALATE_EXPIRES] = exp;
	argv[LUA_ESCALATE_NOW] = now;
	argv[LUA_ESCALATE_BY] = wz->name;
	/* One observers' node: node, frame, n, the n told already. */
	argv[LUA_ESCALATE_ARGS] = obs->id;
	argv[LUA_ESCALATE_ARGS + 1] = (const char *)rt->bl->data;
	argv[LUA_ESCALATE_ARGS + 2] = n;
	for (i = 0; i < rt->n; i++)
		argv[LUA_ESCALATE_ARGS + 3 + i] = rt->cns[i];
	for (i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	lens[LUA_ESCALATE_ARGS + 1] = rt->bl->len;
	if (store_eval(STORE_LUA_ESCALATE, (int)argc, argv, lens,
	    remind_stored_cb, what) == -1)
		remind_stored_cb(NULL, what);
	free(argv);
	free(lens);
}

/*
 * One ESCALATION to the observers at node obs about the n people in un
 * who have not read, with their states: sent to those connected, stored
 * for the others.
 */
static void
remind_escalate_node(struct alert *a, struct tnode *obs,
    struct remind_unread *un, size_t n)
{
	struct proto_escalation	 e;
	struct proto_status_member m;
	struct proto_buf	 l, b;
	struct remind_told	 rt;
	size_t			 i, mark;
	uint32_t		 max = wz->conf->limits.max_frame;
	char			 names[512] = "";

	memset(&e, 0, sizeof(e));
	strlcpy(e.id, a->r.id, sizeof(e.id));
	e.seq = a->seq;
	strlcpy(e.node, obs->id, sizeof(e.node));
	pbuf_init(&l);
	mark = pbuf_list_begin(&l, 4);
	for (i = 0; i < n; i++) {
		if (l.len + 200 > UINT16_MAX || l.len + 512 > max) {
			e.omitted = (uint32_t)(n - i);
			break;
		}
		memset(&m, 0, sizeof(m));
		strlcpy(m.cn, un[i].p->cn, sizeof(m.cn));
		strlcpy(m.node, un[i].p->node->id, sizeof(m.node));
		m.state = un[i].state;
		proto_status_member_put(&l, &m);
		if (strlen(names) + strlen(m.cn) + 2 < sizeof(names) - 4)
			snprintf(names + strlen(names), sizeof(names) -
			    strlen(names), "%s%s", i ? " " : "", m.cn);
	}
	pbuf_list_end(&l, mark, 4);
	e.members.p = l.data + PROTO_FIELD_HDR;
	e.members.len = l.len - PROTO_FIELD_HDR;
	pbuf_init(&b);
	proto_escalation_encode(&b, &e);
	if (b.err != 0)
		fatalx("alert %s: cannot encode an escalation", a->r.id);
	/* Encoded once; every observer gets the same bytes. */
	memset(&rt, 0, sizeof(rt));
	rt.bl = blob_new(&b);
	conn_observers_at(obs, remind_tell_cb, &rt);
	metrics_count(M_ESCALATIONS, rt.n);
	log_notice("alert %s: escalated to %zu connected observers at %s: %zu "
	    "not read: %s%s", a->r.id, rt.n, obs->id, n, names,
	    strlen(names) + 8 >= sizeof(names) ? " ..." : "");
	remind_store(a, obs, &rt);
	blob_unref(rt.bl);
	free(rt.cns);
	pbuf_free(&b);
	pbuf_free(&l);
}

static void
remind_escalated_cb(redisReply *r, void *arg)
{
	struct remind_req	*rr = arg;
	struct alert		*a = alerts_get(rr->id);
	struct remind_unread	*un, *group;
	struct tprincipal	*p;
	struct tnode		*obs;
	long long		 st;
	size_t			 i, j, n = 0, k, lost = 0;

	if (a != NULL)
		a->timer_busy = 0;
	if (r != NULL && r->type == REDIS_REPLY_NIL) {
		/* Another daemon escalated it first; its observers hear of
		 * it through remind_escalated_elsewhere. */
		if (a != NULL)
			a->escalated = 1;
		log_info("alert %s: escalated already by another server",
		    rr->id);
		remind_req_free(rr);
		return;
	}
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != rr->n) {
		log_warnx("alert %s: escalation not sent: %s", rr->id,
		    r != NULL && r->type == REDIS_REPLY_ERROR ? r->str :
		    "store unavailable; will try again");
		remind_req_free(rr);
		return;
	}
	if (a == NULL) {
		remind_req_free(rr);	/* expired meanwhile */
		return;
	}
	a->escalated = 1;
	if ((un = calloc(rr->n + 1, sizeof(*un))) == NULL ||
	    (group = calloc(rr->n + 1, sizeof(*group))) == NULL)
		fatal("remind");
	/* By name, in the tree as it is now: it may have been reloaded. */
	for (i = 0; i < rr->n; i++) {
		if (remind_read((st = remind_state(r, i))))
			continue;
		if ((p = tree_principal(wz->tree, rr->cns[i])) == NULL ||
		    !(p->rights & PROTO_R_RECEIVE))
			continue;	/* left the tree, or no longer receives */
		if ((obs = remind_observed_above(p->node)) == NULL) {
			lost++;
			continue;
		}
		un[n].p = p;
		un[n].obs = obs;
		un[n].state = st > 0 ? (uint8_t)st : PROTO_ACK_NONE;
		n++;
	}
	/* Group by observers' node, in the order found. */
	for (i = 0; i < n; i++) {
		if ((obs = un[i].obs) == NULL)
			continue;
		for (j = i, k = 0; j < n; j++) {
			if (un[j].obs == obs) {
				group[k++] = un[j];
				un[j].obs = NULL;
			}
		}
		remind_escalate_node(a, obs, group, k);
	}
	if (lost > 0)
		log_warnx("alert %s: %zu not read with nobody observing above "
		    "them", a->r.id, lost);
	if (n == 0 && lost == 0)
		log_info("alert %s: escalation due, but everyone has read it",
		    a->r.id);
	free(group);
	free(un);
	remind_req_free(rr);
}

/* Mark a timer fired and read the states of rr's principals, one call. */
static void
remind_fire(struct alert *a, struct remind_req *rr, store_cb *cb)
{
	const char	**argv;
	char		  val[16];
	size_t		  i;

	if ((argv = calloc(rr->n + LUA_STATES_ARGS, sizeof(*argv))) == NULL)
		fatal("remind_fire");
	argv[LUA_STATES_PREFIX] = store_key("%s", "");
	argv[LUA_STATES_ID] = a->r.id;
	argv[LUA_STATES_FIELD] = rr->escalation ? "escalated" : "reminded";
	snprintf(val, sizeof(val), "%u", rr->escalation ? 1 : rr->round);
	argv[LUA_STATES_VALUE] = val;
	for (i = 0; i < rr->n; i++)
		argv[LUA_STATES_ARGS + i] = rr->cns[i];
	if (store_eval(STORE_LUA_STATES, (int)rr->n + LUA_STATES_ARGS, argv,
	    NULL, cb,
	    rr) == -1)
		remind_req_free(rr);	/* Redis down: try again next tick */
	else
		a->timer_busy = 1;
	free(argv);
}

static void
remind_check_cb(struct alert *a, void *arg)
{
	uint64_t		 now = *(uint64_t *)arg, age;
	uint32_t		 due = 0;
	struct remind_req	*rr;
	struct tnode		*target;

	if (a->timer_busy || a->r.expires <= now || now < a->r.accepted)
		return;
	if ((target = tree_node(wz->tree, a->r.target)) == NULL)
		return;
	age = now - a->r.accepted;
	if (a->r.tm.escalate_ms > 0 && !a->escalated && age >= a->r.tm.escalate_ms) {
		if ((rr = calloc(1, sizeof(*rr))) == NULL)
			fatal("remind");
		strlcpy(rr->id, a->r.id, sizeof(rr->id));
		rr->escalation = 1;
		tree_walk(target, remind_collect_members_cb, rr);
		remind_fire(a, rr, remind_escalated_cb);
		return;		/* one timer per alert at a time */
	}
	if (a->r.tm.remind_ms > 0) {
		due = (uint32_t)(age / a->r.tm.remind_ms);
		if (due > a->r.tm.max_reminders)
			due = a->r.tm.max_reminders;
	}
	if (due <= a->reminded)
		return;
	if ((rr = calloc(1, sizeof(*rr))) == NULL)
		fatal("remind");
	strlcpy(rr->id, a->r.id, sizeof(rr->id));
	rr->round = due;	/* rounds missed while down collapse into one */
	tree_walk(target, remind_collect_conns_cb, rr);
	remind_fire(a, rr, remind_sent_cb);
}

void
remind_tick(void)
{
	uint64_t	now = now_ms();

	if (!store_up())
		return;
	alerts_foreach(remind_check_cb, &now);
}

/* Send the stored escalations the script picked for this observer. */
static void
remind_pending_cb(redisReply *r, void *arg)
{
	struct conn		*c = arg;
	struct proto_buf	 b;
	const redisReply	*e;
	uint32_t		 plen;
	uint8_t			 type;
	size_t			 i, sent = 0, bad = 0;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		log_warnx("conn %llu %s: stored escalations not read: %s",
		    (unsigned long long)conn_id(c), conn_name(c),
		    r != NULL && r->type == REDIS_REPLY_ERROR ? r->str :
		    "store unavailable");
		conn_unref(c);
		return;
	}
	pbuf_init(&b);
	for (i = 0; i < r->elements; i++) {
		if (!conn_alive(c) || conn_state(c) != CONN_S_READY) {
			log_warnx("conn %llu %s: gone before %zu stored "
			    "escalations were sent", (unsigned long long)conn_id(c),
			    conn_name(c), r->elements - i);
			break;
		}
		/* Our own frames, but checked before they go out. */
		e = r->element[i];
		if (e->type != REDIS_REPLY_STRING || e->len < PROTO_FRAME_HDR ||
		    proto_frame_header((const uint8_t *)e->str,
		    wz->conf->limits.max_frame, &type, &plen) != 0 ||
		    type != PROTO_T_ESCALATION ||
		    (size_t)plen + PROTO_FRAME_HDR != e->len) {
			bad++;
			continue;
		}
		pbuf_raw(&b, e->str, e->len);
		conn_send(c, &b);
		sent++;
	}
	pbuf_free(&b);
	metrics_count(M_ESCALATIONS, sent);
	if (bad > 0)
		log_warnx("conn %llu %s: %zu stored escalation%s not "
		    "ESCALATION frames within limits.max_frame; not sent",
		    (unsigned long long)conn_id(c), conn_name(c), bad,
		    bad == 1 ? " is" : "s are");
	if (sent > 0)
		log_info("conn %llu %s: %zu stored escalation%s sent",
		    (unsigned long long)conn_id(c), conn_name(c), sent,
		    sent == 1 ? "" : "s");
	conn_unref(c);
}

/*
 * An agent with observe is ready (its pending alerts, if any, are sent):
 * send it the escalations stored for its node that it was not sent yet.
 * The work is one script call over the escalations at that node.
 */
void
remind_observer_ready(struct conn *c)
{
	struct tprincipal	*p = conn_principal(c);
	const char		*argv[LUA_ESCALATIONS_ARGS];
	char			 now[24], max[12];

	snprintf(now, sizeof(now), "%llu", (unsigned long long)now_ms());
	snprintf(max, sizeof(max), "%d", REMIND_STORED_MAX);
	argv[LUA_ESCALATIONS_PREFIX] = store_key("%s", "");
	argv[LUA_ESCALATIONS_NODE] = p->node->id;
	argv[LUA_ESCALATIONS_CN] = p->cn;
	argv[LUA_ESCALATIONS_NOW] = now;
	argv[LUA_ESCALATIONS_MAX] = max;
	conn_ref(c);
	if (store_eval(STORE_LUA_ESCALATIONS, LUA_ESCALATIONS_ARGS, argv, NULL,
	    remind_pending_cb,
	    c) == -1)
		remind_pending_cb(NULL, c);
}

static void
remind_elsewhere_cb(struct conn *c, void *arg)
{
	(void)arg;
	remind_observer_ready(c);
}

/*
 * Another daemon stored an escalation for the observers at node: those
 * connected here get what they were not sent (the script marks it told,
 * so nobody gets it twice, whichever daemon asks).
 */
void
remind_escalated_elsewhere(const char *node)
{
	struct tnode	*n;

	if ((n = tree_node(wz->tree, node)) != NULL)
		conn_observers_at(n, remind_elsewhere_cb, NULL);
}
