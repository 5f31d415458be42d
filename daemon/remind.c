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
 * connected agents at or below the target that have not read it.  An
 * escalation goes to the principals with observe at the parent node of
 * each such agent's node, naming who has not read.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "wuzhad.h"

/* Principals (and, for reminders, their live connections) asked about. */
struct remind_req {
	proto_id	  id;
	int		  escalation;	/* else a reminder */
	uint32_t	  round;	/* reminder round being fired */
	size_t		  n;
	size_t		  cap;
	struct conn	**conns;	/* reminders: referenced */
	struct tprincipal **who;	/* escalation: members (tree pointers) */
	char		(*cns)[PROTO_ID_MAX + 1];
	uint64_t	  tree_gen;	/* who[] is only valid in this tree */
};

static void
remind_req_free(struct remind_req *rr)
{
	size_t	i;

	if (rr->conns != NULL)
		for (i = 0; i < rr->n; i++)
			conn_unref(rr->conns[i]);
	free(rr->conns);
	free(rr->who);
	free(rr->cns);
	free(rr);
}

static void
remind_push(struct remind_req *rr, const char *cn, struct conn *c,
    struct tprincipal *p)
{
	void	*nv;

	if (rr->n == rr->cap) {
		rr->cap = rr->cap ? rr->cap * 2 : 16;
		if ((nv = reallocarray(rr->cns, rr->cap, sizeof(*rr->cns))) == NULL)
			fatal("remind");
		rr->cns = nv;
		if (rr->escalation) {
			nv = reallocarray(rr->who, rr->cap, sizeof(*rr->who));
			if (nv == NULL)
				fatal("remind");
			rr->who = nv;
		} else {
			nv = reallocarray(rr->conns, rr->cap, sizeof(*rr->conns));
			if (nv == NULL)
				fatal("remind");
			rr->conns = nv;
		}
	}
	strlcpy(rr->cns[rr->n], cn, sizeof(rr->cns[0]));
	if (rr->escalation)
		rr->who[rr->n] = p;
	else {
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
			remind_push(rr, conn_principal(c)->cn, c, NULL);
}

/* Escalation: every receiving principal below the target. */
static void
remind_collect_members_cb(struct tnode *n, int depth, void *arg)
{
	struct remind_req	*rr = arg;
	size_t			 i;

	for (i = 0; i < n->nmembers; i++)
		if (n->members[i]->rights & PROTO_R_RECEIVE)
			remind_push(rr, n->members[i]->cn, NULL, n->members[i]);
}

/* Stored state of entry i from the script's reply; -1 if unknown. */
static long long
remind_state(const redisReply *r, size_t i)
{
	if (r->element[i]->type != REDIS_REPLY_INTEGER)
		return -1;
	return r->element[i]->integer;
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
			if (remind_state(r, i) >= PROTO_ACK_READ ||
			    !conn_alive(rr->conns[i]) ||
			    conn_state(rr->conns[i]) != CONN_S_READY)
				continue;
			conn_send_blob(rr->conns[i], bl);
			sent++;
		}
		metrics_count(M_REMINDERS, sent);
		metrics_count(M_DELIVERED, sent);
		log_info("alert %s: reminder %u of %u pushed to %zu agents not "
		    "yet read", a->id, rr->round, a->max_reminders, sent);
	}
	remind_req_free(rr);
}

/* One ESCALATION to the observers at node p about members not read. */
static void
remind_escalate_node(struct alert *a, struct tnode *p,
    struct tprincipal **unread, size_t n)
{
	struct proto_escalation	 e;
	struct proto_status_member m;
	struct proto_buf	 l, b;
	struct blob		*bl;
	struct conn		*c;
	size_t			 i, mark, told = 0;
	uint32_t		 max = wz->conf->limits.max_frame;
	char			 names[512] = "";

	memset(&e, 0, sizeof(e));
	strlcpy(e.id, a->id, sizeof(e.id));
	e.seq = a->seq;
	strlcpy(e.node, p->id, sizeof(e.node));
	pbuf_init(&l);
	mark = pbuf_list_begin(&l, 4);
	for (i = 0; i < n; i++) {
		if (l.len + 200 > UINT16_MAX || l.len + 512 > max) {
			e.omitted = (uint32_t)(n - i);
			break;
		}
		memset(&m, 0, sizeof(m));
		strlcpy(m.cn, unread[i]->cn, sizeof(m.cn));
		strlcpy(m.node, unread[i]->node->id, sizeof(m.node));
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
		fatalx("alert %s: cannot encode an escalation", a->id);
	/* Encoded once; every observer gets the same bytes. */
	bl = blob_new(&b);
	for (c = conn_first_at(p); c != NULL; c = conn_next_at(c)) {
		if (conn_state(c) != CONN_S_READY ||
		    !(conn_principal(c)->rights & PROTO_R_OBSERVE))
			continue;
		conn_send_blob(c, bl);
		told++;
	}
	blob_unref(bl);
	metrics_count(M_ESCALATIONS, told);
	log_notice("alert %s: escalated to %zu connected observers at %s: %zu "
	    "not read: %s%s", a->id, told, p->id, n, names,
	    strlen(names) + 8 >= sizeof(names) ? " ..." : "");
	pbuf_free(&b);
	pbuf_free(&l);
}

static void
remind_escalated_cb(redisReply *r, void *arg)
{
	struct remind_req	 *rr = arg;
	struct alert		 *a = alerts_get(rr->id);
	struct tprincipal	**unread;
	struct tnode		 *p;
	size_t			  i, j, n = 0, k;

	if (a != NULL)
		a->timer_busy = 0;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != rr->n) {
		log_warnx("alert %s: escalation not sent: %s", rr->id,
		    r != NULL && r->type == REDIS_REPLY_ERROR ? r->str :
		    "store unavailable; will try again");
		remind_req_free(rr);
		return;
	}
	if (a == NULL || wz->tree->gen != rr->tree_gen) {
		/* Expired, or the tree changed under us: nobody to name safely. */
		if (a != NULL)
			a->escalated = 1;
		remind_req_free(rr);
		return;
	}
	a->escalated = 1;
	if ((unread = calloc(rr->n + 1, sizeof(*unread))) == NULL)
		fatal("remind");
	for (i = 0; i < rr->n; i++)
		if (remind_state(r, i) < PROTO_ACK_READ)
			unread[n++] = rr->who[i];
	/* Group by the parent of each member's node, in the order found. */
	for (i = 0; i < n; i++) {
		if (unread[i] == NULL)
			continue;
		p = unread[i]->node->parent;
		if (p == NULL) {
			unread[i] = NULL;
			continue;
		}
		{
			struct tprincipal **group;

			if ((group = calloc(n, sizeof(*group))) == NULL)
				fatal("remind");
			k = 0;
			for (j = i; j < n; j++) {
				if (unread[j] != NULL &&
				    unread[j]->node->parent == p) {
					group[k++] = unread[j];
					unread[j] = NULL;
				}
			}
			remind_escalate_node(a, p, group, k);
			free(group);
		}
	}
	if (n == 0)
		log_info("alert %s: escalation due, but everyone has read it",
		    a->id);
	free(unread);
	remind_req_free(rr);
}

/* Mark a timer fired and read the states of rr's principals, one call. */
static void
remind_fire(struct alert *a, struct remind_req *rr, store_cb *cb)
{
	const char	**argv;
	char		  val[16];
	size_t		  i;

	if ((argv = calloc(rr->n + 4, sizeof(*argv))) == NULL)
		fatal("remind_fire");
	argv[0] = store_key("%s", "");
	argv[1] = a->id;
	argv[2] = rr->escalation ? "escalated" : "reminded";
	snprintf(val, sizeof(val), "%u", rr->escalation ? 1 : rr->round);
	argv[3] = val;
	for (i = 0; i < rr->n; i++)
		argv[i + 4] = rr->cns[i];
	if (store_eval(STORE_LUA_STATES, (int)rr->n + 4, argv, NULL, cb,
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

	if (a->timer_busy || a->expires_at <= now || now < a->accepted_at)
		return;
	if ((target = tree_node(wz->tree, a->target)) == NULL)
		return;
	age = now - a->accepted_at;
	if (a->escalate_ms > 0 && !a->escalated && age >= a->escalate_ms) {
		if ((rr = calloc(1, sizeof(*rr))) == NULL)
			fatal("remind");
		strlcpy(rr->id, a->id, sizeof(rr->id));
		rr->escalation = 1;
		rr->tree_gen = wz->tree->gen;
		tree_walk(target, remind_collect_members_cb, rr);
		remind_fire(a, rr, remind_escalated_cb);
		return;		/* one timer per alert at a time */
	}
	if (a->remind_ms > 0) {
		due = (uint32_t)(age / a->remind_ms);
		if (due > a->max_reminders)
			due = a->max_reminders;
	}
	if (due <= a->reminded)
		return;
	if ((rr = calloc(1, sizeof(*rr))) == NULL)
		fatal("remind");
	strlcpy(rr->id, a->id, sizeof(rr->id));
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
