/* SPDX-License-Identifier: ISC */
/*
 * publish: the cache of live alerts, PUBLISH, fan-out and the catch-up
 * of a (re)connecting agent.
 *
 * An accepted alert is one script call in Redis (stored, streamed,
 * indexed under its target node, counters per node), then its ALERT
 * frame is encoded once and the same bytes go to every connected agent at
 * or below the target.  Nothing is written per agent: what an agent still
 * needs is derived when it connects from the live alerts at its node and
 * above, less what it has acknowledged.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "wuzhad.h"
#include "lua_gen.h"

/* Live alerts of one node, in sequence order. */
struct alist {
	struct alert	**v;
	size_t		  n;
	size_t		  cap;
};

static struct htab	 alerts;	/* id -> struct alert, live only */
static struct htab	 by_node;	/* node id -> struct alist */
static struct htab	 publishing;	/* ids whose PUBLISH is in Redis now */
static struct htab	 buckets;	/* cn -> struct bucket */
static uint64_t		 max_seq;

/*
 * PUBLISH rate per principal, a token bucket: publish_rate tokens a
 * minute, at most publish_burst saved up.  Every PUBLISH takes one,
 * refused or not, so a flood of bad signatures costs no verifying.
 */
struct bucket {
	double		tokens;
	uint64_t	at;		/* mono_ms of the last refill */
};

static void
alert_free(void *v)
{
	struct alert	*a = v;

	blob_unref(a->frame);
	blob_unref(a->resent);
	blob_unref(a->reminder);
	free(a->env);
	free(a);
}

static void
alist_free(void *v)
{
	struct alist	*l = v;

	free(l->v);
	free(l);
}

void
alerts_init(void)
{
	htab_init(&alerts);
	htab_init(&by_node);
	htab_init(&publishing);
	htab_init(&buckets);
}

void
alerts_free(void)
{
	htab_clear(&by_node, alist_free);
	htab_clear(&alerts, alert_free);
	htab_clear(&publishing, NULL);
	htab_clear(&buckets, free);
}

/* Take a token for cn; 0 if there was one, else ms until there is. */
static uint64_t
publish_take_token(const char *cn)
{
	struct bucket	*b;
	uint64_t	 now = mono_ms();
	double		 rate = wz->conf->limits.publish_rate / 60000.0;
	double		 burst = wz->conf->limits.publish_burst;

	if ((b = htab_get(&buckets, cn)) == NULL) {
		if ((b = calloc(1, sizeof(*b))) == NULL)
			fatal("publish_take_token");
		b->tokens = burst;
		b->at = now;
		htab_put(&buckets, cn, b);
	}
	b->tokens += (double)(now - b->at) * rate;
	if (b->tokens > burst)
		b->tokens = burst;
	b->at = now;
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
		return 0;
	}
	return (uint64_t)((1.0 - b->tokens) / rate) + 1;
}

struct alert *
alerts_get(const char *id)
{
	return htab_get(&alerts, id);
}

uint64_t
alerts_max_seq(void)
{
	return max_seq;
}

size_t
alerts_live(void)
{
	return alerts.count;
}

/* The ALERT frame for a, with the given flags (encoded once, then shared). */
static struct blob *
alert_frame(const struct alert *a, uint8_t flags)
{
	struct proto_alert_msg	 m;
	struct proto_buf	 b;
	struct blob		*bl;

	memset(&m, 0, sizeof(m));
	m.seq = a->seq;
	m.flags = flags;
	m.envelope.p = a->env;
	m.envelope.len = a->envlen;
	pbuf_init(&b);
	proto_alert_msg_encode(&b, &m);
	if (b.err != 0)
		fatalx("alert %s: cannot encode its frame", a->id);
	bl = blob_new(&b);
	pbuf_free(&b);
	return bl;
}

struct blob *
alert_blob(struct alert *a, uint8_t flags)
{
	struct blob	**slot;

	switch (flags) {
	case 0:
		slot = &a->frame;
		break;
	case PROTO_AF_RESENT:
		slot = &a->resent;
		break;
	case PROTO_AF_REMINDER:
		slot = &a->reminder;
		break;
	default:
		fatalx("alert %s: no frame with flags %u", a->id, flags);
	}
	if (*slot == NULL)
		*slot = alert_frame(a, flags);
	return *slot;
}

struct foreach_ctx {
	void	(*fn)(struct alert *, void *);
	void	*arg;
};

static void
alerts_foreach_cb(void *v, void *arg)
{
	struct foreach_ctx	*fc = arg;

	fc->fn(v, fc->arg);
}

void
alerts_foreach(void (*fn)(struct alert *, void *), void *arg)
{
	struct foreach_ctx	fc = { fn, arg };

	htab_foreach(&alerts, alerts_foreach_cb, &fc);
}

/* The CAP status the issuer signed (drill or real); 0 if unreadable. */
uint8_t
alert_status_of(const uint8_t *env, size_t envlen)
{
	struct proto_envelope	e;
	struct proto_alert	b;

	if (proto_envelope_decode(env, envlen, &e) != 0 ||
	    proto_alert_decode(e.body.p, e.body.len, &b) != 0)
		return PROTO_STATUS_ACTUAL;
	return b.status;
}

/* Add an accepted alert to the cache (taking a copy of env). */
static struct alert *
alert_add(const char *id, const uint8_t *env, size_t envlen, uint64_t seq,
    const char *target, const char *issuer, uint8_t type, uint64_t issued,
    uint64_t expires, uint64_t accepted, const struct alert_timers *tm)
{
	struct alert	*a;
	struct alist	*l;
	size_t		 i;
	void		*nv;

	if ((a = calloc(1, sizeof(*a))) == NULL ||
	    (a->env = malloc(envlen ? envlen : 1)) == NULL)
		fatal("alert_add");
	strlcpy(a->id, id, sizeof(a->id));
	strlcpy(a->target, target, sizeof(a->target));
	strlcpy(a->issuer, issuer, sizeof(a->issuer));
	memcpy(a->env, env, envlen);
	a->envlen = envlen;
	a->seq = seq;
	a->msg_type = type;
	a->issued_at = issued;
	a->expires_at = expires;
	a->accepted_at = accepted;
	a->remind_ms = tm->remind_ms;
	a->escalate_ms = tm->escalate_ms;
	a->max_reminders = tm->max_reminders;
	a->status = alert_status_of(env, envlen);
	a->frame = alert_frame(a, 0);
	if ((nv = htab_put(&alerts, a->id, a)) != NULL)
		fatalx("alert %s cached twice", id);
	if ((l = htab_get(&by_node, target)) == NULL) {
		if ((l = calloc(1, sizeof(*l))) == NULL)
			fatal("alert_add");
		htab_put(&by_node, target, l);
	}
	if (l->n == l->cap) {
		nv = reallocarray(l->v, l->cap ? l->cap * 2 : 8, sizeof(*l->v));
		if (nv == NULL)
			fatal("alert_add");
		l->v = nv;
		l->cap = l->cap ? l->cap * 2 : 8;
	}
	/* Keep sequence order even if replies were ever to come out of turn. */
	for (i = l->n; i > 0 && l->v[i - 1]->seq > seq; i--)
		l->v[i] = l->v[i - 1];
	l->v[i] = a;
	l->n++;
	if (seq > max_seq)
		max_seq = seq;
	return a;
}

static void
alert_remove(struct alert *a)
{
	struct alist	*l;
	size_t		 i;

	if ((l = htab_get(&by_node, a->target)) != NULL) {
		for (i = 0; i < l->n; i++)
			if (l->v[i] == a)
				break;
		if (i < l->n) {
			memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(*l->v));
			l->n--;
		}
	}
	htab_del(&alerts, a->id);
	alert_free(a);
}

struct expire_ctx {
	uint64_t	  now;
	struct alert	**dead;
	size_t		  n;
};

static void
alerts_expired_cb(void *v, void *arg)
{
	struct alert		*a = v;
	struct expire_ctx	*ec = arg;

	if (a->expires_at <= ec->now)
		ec->dead[ec->n++] = a;
}

static void
alerts_zrem_cb(redisReply *r, void *arg)
{
	if (r == NULL || r->type == REDIS_REPLY_ERROR)
		log_warnx("expiry: removing from the live set failed: %s",
		    r ? r->str : "no reply");
}

/* Drop alerts past their expiry: not delivered or pending any more. */
void
alerts_expire(void)
{
	struct expire_ctx	 ec;
	const char		*argv[3];
	size_t			 i;

	if (alerts.count == 0)
		return;
	ec.now = now_ms();
	ec.n = 0;
	if ((ec.dead = calloc(alerts.count, sizeof(*ec.dead))) == NULL)
		fatal("alerts_expire");
	htab_foreach(&alerts, alerts_expired_cb, &ec);
	for (i = 0; i < ec.n; i++) {
		log_info("alert %s: expired", ec.dead[i]->id);
		watch_alert_gone(ec.dead[i]->id);
		argv[0] = "ZREM";
		argv[1] = store_key("live");
		argv[2] = ec.dead[i]->id;
		/* If Redis is down now, the next load drops it anyway. */
		store_cmd(3, argv, NULL, alerts_zrem_cb, NULL);
		alert_remove(ec.dead[i]);
	}
	free(ec.dead);
}

/* --- loading at start -------------------------------------------------- */

static void	(*alerts_load_done)(int);

/*
 * Groups of {id, env, seq, target, issuer, issued, expires, type,
 * accepted, remind, escalate, maxrem, reminded, escalated}.
 */
#define ALERTS_GROUP	14
static void
alerts_loaded_cb(redisReply *r, void *arg)
{
	void		(*done)(int) = alerts_load_done;
	struct alert_timers tm;
	struct alert	 *a;
	redisReply	**e;
	size_t		  i, n = 0;

	alerts_load_done = NULL;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY ||
	    r->elements % ALERTS_GROUP != 0) {
		log_warnx("alerts: load failed: %s", r && r->type ==
		    REDIS_REPLY_ERROR ? r->str : "bad or no reply");
		done(-1);
		return;
	}
	for (i = 0; i < r->elements; i += ALERTS_GROUP) {
		e = &r->element[i];
		if (e[0]->type != REDIS_REPLY_STRING || e[1]->type !=
		    REDIS_REPLY_STRING || htab_get(&alerts, e[0]->str) != NULL)
			continue;
		tm.remind_ms = (uint32_t)strtoul(e[9]->str, NULL, 10);
		tm.escalate_ms = (uint32_t)strtoul(e[10]->str, NULL, 10);
		tm.max_reminders = (uint32_t)strtoul(e[11]->str, NULL, 10);
		a = alert_add(e[0]->str, (const uint8_t *)e[1]->str, e[1]->len,
		    strtoull(e[2]->str, NULL, 10), e[3]->str, e[4]->str,
		    (uint8_t)atoi(e[7]->str), strtoull(e[5]->str, NULL, 10),
		    strtoull(e[6]->str, NULL, 10), strtoull(e[8]->str, NULL, 10),
		    &tm);
		a->reminded = (uint32_t)strtoul(e[12]->str, NULL, 10);
		a->escalated = atoi(e[13]->str) != 0;
		n++;
	}
	log_info("alerts: %zu live alerts loaded", n);
	done(0);
}

void
alerts_load(void (*done)(int))
{
	const char	*argv[2];
	char		 now[32];

	snprintf(now, sizeof(now), "%" PRIu64, now_ms());
	argv[0] = store_key("%s", "");
	argv[1] = now;
	alerts_load_done = done;
	if (store_eval(STORE_LUA_ALERTS, 2, argv, NULL, alerts_loaded_cb,
	    NULL) == -1) {
		alerts_load_done = NULL;
		done(-1);
	}
}

/* --- PUBLISH ----------------------------------------------------------- */

/* A PUBLISH waiting for Redis; owns copies of what it needs. */
struct pubreq {
	struct conn	*c;		/* referenced */
	proto_id	 id;
	proto_id	 target;
	proto_id	 issuer;
	proto_id	 references;
	uint8_t		 type;
	uint8_t		 status;	/* enum proto_alert_status */
	uint64_t	 issued;
	uint64_t	 expires;
	uint64_t	 accepted;
	uint64_t	 publish_at;	/* held until then; 0: now */
	struct alert_timers tm;
	uint32_t	 targeted;
	uint8_t		*env;
	size_t		 envlen;
};

static void
pubreq_free(struct pubreq *pr)
{
	htab_del(&publishing, pr->id);
	conn_unref(pr->c);
	free(pr->env);
	free(pr);
}

/*
 * An alert just went live in Redis with seq (published now, or released
 * from the schedule): cache it, retire what it cancels, push it to every
 * connected agent below its target.  who names the sender for the log.
 */
struct alert *
publish_live(const struct alert_spec *sp, uint64_t seq, uint32_t targeted,
    const char *who)
{
	struct alert		*a, *orig;
	struct tnode		*target;
	size_t			 pushed = 0;

	a = alert_add(sp->id, sp->env, sp->envlen, seq, sp->target, sp->issuer,
	    sp->type, sp->issued, sp->expires, sp->accepted, &sp->tm);
	if (a->msg_type == PROTO_MSG_CANCEL && sp->references[0] != '\0' &&
	    (orig = alerts_get(sp->references)) != NULL) {
		/* Retired in Redis by the same script: nothing pending any more. */
		log_info("alert %s: cancelled by %s", orig->id, a->id);
		watch_alert_gone(orig->id);
		alert_remove(orig);
	}
	/* The tree may have changed while Redis worked: look the node up again. */
	if ((target = tree_node(wz->tree, a->target)) != NULL)
		pushed = conn_fanout(target, a->frame);
	metrics_count(M_PUBLISHED, 1);
	log_info("alert %s seq %" PRIu64 " accepted from %s for %s%s: %u "
	    "targeted, %zu pushed now", a->id, a->seq, who, a->target,
	    a->status != PROTO_STATUS_ACTUAL ? " (drill)" : "", targeted,
	    pushed);
	return a;
}

static void
publish_answer(struct pubreq *pr, uint64_t seq, uint32_t targeted,
    uint64_t publish_at)
{
	struct proto_published	 pd;
	struct proto_buf	 b;

	memset(&pd, 0, sizeof(pd));
	strlcpy(pd.id, pr->id, sizeof(pd.id));
	pd.seq = seq;
	pd.targeted = targeted;
	pd.publish_at = publish_at;
	pbuf_init(&b);
	proto_published_encode(&b, &pd);
	conn_send(pr->c, &b);
	pbuf_free(&b);
}

static void
publish_done_cb(redisReply *r, void *arg)
{
	struct pubreq		*pr = arg;
	struct alert_spec	 sp;
	const char		*who;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER) {
		if (conn_alive(pr->c))
			conn_error(pr->c, PROTO_E_STORE, pr->id, "store "
			    "unavailable, try again (%s)", r != NULL &&
			    r->type == REDIS_REPLY_ERROR ? r->str : "no reply");
		pubreq_free(pr);
		return;
	}
	if (r->element[0]->integer == 0) {
		if (conn_alive(pr->c))
			conn_error(pr->c, PROTO_E_DUPLICATE, pr->id,
			    "alert id already used");
		pubreq_free(pr);
		return;
	}
	/* The issuer with its address while its connection is up. */
	who = conn_alive(pr->c) ? conn_name(pr->c) : pr->issuer;
	memset(&sp, 0, sizeof(sp));
	sp.id = pr->id;
	sp.env = pr->env;
	sp.envlen = pr->envlen;
	sp.target = pr->target;
	sp.issuer = pr->issuer;
	sp.references = pr->references;
	sp.type = pr->type;
	sp.status = pr->status;
	sp.issued = pr->issued;
	sp.expires = pr->expires;
	sp.accepted = pr->accepted;
	sp.publish_at = pr->publish_at;
	sp.tm = pr->tm;
	if (r->element[0]->integer == 2) {
		/* A held alert taken off the schedule: nothing goes out. */
		schedule_cancelled(pr->references, pr->id, who);
		if (conn_alive(pr->c))
			publish_answer(pr, 0, 0, 0);
	} else if (pr->publish_at != 0) {
		schedule_add(&sp, pr->targeted, who);
		if (conn_alive(pr->c))
			publish_answer(pr, 0, pr->targeted, pr->publish_at);
	} else {
		publish_live(&sp, (uint64_t)r->element[1]->integer,
		    pr->targeted, who);
		if (conn_alive(pr->c))
			publish_answer(pr, (uint64_t)r->element[1]->integer,
			    pr->targeted, 0);
	}
	pubreq_free(pr);
}

static void
publish_args_cb(struct tnode *n, int depth, void *arg)
{
	struct pubargs	*pa = arg;
	char		*num = pa->nums + pa->numlen;
	int		 w;

	w = snprintf(num, 12, "%u", n->receivers);
	pa->numlen += (size_t)w + 1;
	pa->argv[pa->argc] = n->id;
	pa->lens[pa->argc++] = strlen(n->id);
	pa->argv[pa->argc] = num;
	pa->lens[pa->argc++] = (size_t)w;
}

static void
publish_count_cb(struct tnode *n, int depth, void *arg)
{
	(*(size_t *)arg)++;
}

/*
 * Arguments of a script that starts counters: the nfixed given, then
 * (node, receivers) for every node of target's subtree.  Free with
 * pubargs_free.
 */
void
pubargs_build(struct pubargs *pa, struct tnode *target, const char **fixed,
    const size_t *flens, int nfixed)
{
	size_t	nnodes = 0;
	int	i;

	tree_walk(target, publish_count_cb, &nnodes);
	memset(pa, 0, sizeof(*pa));
	if ((pa->argv = calloc(nfixed + 2 * nnodes, sizeof(*pa->argv))) ==
	    NULL || (pa->lens = calloc(nfixed + 2 * nnodes,
	    sizeof(*pa->lens))) == NULL ||
	    (pa->nums = malloc(12 * nnodes + 1)) == NULL)
		fatal("pubargs_build");
	for (i = 0; i < nfixed; i++) {
		pa->argv[pa->argc] = fixed[i];
		pa->lens[pa->argc++] = flens[i];
	}
	tree_walk(target, publish_args_cb, pa);
}

void
pubargs_free(struct pubargs *pa)
{
	free(pa->argv);
	free(pa->lens);
	free(pa->nums);
}

#define PUBLISH_FIXED	LUA_PUBLISH_ARGS	/* before the (node, n) pairs */

void
publish_handle(struct conn *c, const uint8_t *p, size_t len)
{
	struct tprincipal	*pr = conn_principal(c);
	struct proto_publish	 pub;
	struct proto_alert	 a;
	struct tnode		*target;
	struct alert		*orig;
	struct held		*held;
	struct pubreq		*req;
	struct pubargs		 pa;
	struct proto_scope	 signer;
	proto_id		 peek;
	const char		*ref = NULL;
	char			 why[256], num[9][24];
	const char		*fixed[PUBLISH_FIXED];
	size_t			 flens[PUBLISH_FIXED];
	int			 i;
	uint64_t		 now = now_ms(), skew;
	uint64_t		 wait;
	int			 rv;

	if ((wait = publish_take_token(pr->cn)) != 0) {
		conn_error(c, PROTO_E_LIMIT, NULL, "%s is publishing too fast "
		    "(limit %u a minute, bursts of %u); try again in %.1f s",
		    pr->cn, wz->conf->limits.publish_rate,
		    wz->conf->limits.publish_burst, (double)wait / 1000.0);
		return;
	}
	if ((rv = proto_publish_decode(p, len, &pub)) != 0) {
		conn_error(c, -rv, NULL, "bad PUBLISH: %s", proto_err_name(-rv));
		return;
	}
	/*
	 * Name the alert in refusals, even of an envelope whose signature
	 * does not decode; verify below.
	 */
	if (strcmp(proto_envelope_peek_id(pub.envelope.p, pub.envelope.len,
	    peek, sizeof(peek)), "?") != 0)
		ref = peek;
	if (!(pr->rights & PROTO_R_ISSUE)) {
		conn_error(c, PROTO_E_FORBIDDEN, ref, "%s may not issue alerts",
		    pr->cn);
		return;
	}
	why[0] = '\0';
	if ((rv = proto_envelope_verify(pub.envelope.p, pub.envelope.len,
	    wz->ca_store, 0, &a, why, sizeof(why))) != 0) {
		conn_error(c, -rv, ref, "%s%s%s", proto_err_name(-rv),
		    why[0] ? ": " : "", why);
		return;
	}
	ref = a.id;
	if (strcmp(a.issuer, pr->cn) != 0) {
		conn_error(c, PROTO_E_ISSUER, ref, "issued by %s, sent by %s",
		    a.issuer, pr->cn);
		return;
	}
	/* The CA, not only the tree, must have made the signer an issuer. */
	if ((rv = proto_envelope_scope(pub.envelope.p, pub.envelope.len,
	    &signer, why, sizeof(why))) != 0 ||
	    (rv = proto_scope_issuer(&signer, why, sizeof(why))) != 0) {
		conn_error(c, -rv, ref, "%s: %s", proto_err_name(-rv), why);
		return;
	}
	if (strcmp(signer.issue, pr->node->id) != 0) {
		conn_error(c, PROTO_E_NOT_ISSUER, ref, "the certificate of %s "
		    "grants issuing at %s, but the tree places %s at %s: issue "
		    "the certificate again", pr->cn, signer.issue, pr->cn,
		    pr->node->id);
		return;
	}
	if ((target = tree_node(wz->tree, a.target)) == NULL) {
		conn_error(c, PROTO_E_NODE, ref, "unknown target node %s", a.target);
		return;
	}
	if (!tree_covers(pr->node, target)) {
		conn_error(c, PROTO_E_TARGET, ref, "%s at %s may not issue to %s",
		    pr->cn, pr->node->id, target->id);
		return;
	}
	if (a.text.len > wz->conf->limits.max_text) {
		conn_error(c, PROTO_E_TOO_LONG, ref, "text is %zu bytes, the "
		    "limit is %u", a.text.len, wz->conf->limits.max_text);
		return;
	}
	skew = (uint64_t)wz->conf->timeouts.skew_s * 1000;
	if (a.issued_at + skew < now || a.issued_at > now + skew) {
		conn_error(c, PROTO_E_SKEW, ref, "issued_at is %+.1f s from the "
		    "server's clock, the window is %u s",
		    ((double)a.issued_at - (double)now) / 1000.0,
		    wz->conf->timeouts.skew_s);
		return;
	}
	if (a.expires_at <= now) {
		conn_error(c, PROTO_E_EXPIRY, ref, "already expired");
		return;
	}
	if (a.msg_type != PROTO_MSG_ALERT &&
	    (held = schedule_get(a.references)) != NULL) {
		if (a.msg_type != PROTO_MSG_CANCEL || a.publish_at != 0) {
			conn_error(c, PROTO_E_REFERENCE, ref, "%s is held until "
			    "its time: it can only be cancelled, at once (then "
			    "publish a new one)", a.references);
			return;
		}
		if (strcmp(held_target(held), a.target) != 0) {
			conn_error(c, PROTO_E_REFERENCE, ref, "cancel must "
			    "target %s like the alert it refers to",
			    held_target(held));
			return;
		}
	} else if (a.msg_type != PROTO_MSG_ALERT) {
		if ((orig = alerts_get(a.references)) == NULL) {
			conn_error(c, PROTO_E_UNKNOWN_ALERT, ref, "%s refers to "
			    "%s, which is not a live alert",
			    proto_msg_type_name(a.msg_type), a.references);
			return;
		}
		if (strcmp(orig->target, a.target) != 0) {
			conn_error(c, PROTO_E_REFERENCE, ref, "%s must target %s "
			    "like the alert it refers to",
			    proto_msg_type_name(a.msg_type), orig->target);
			return;
		}
	}
	if (alerts_get(a.id) != NULL || schedule_get(a.id) != NULL ||
	    htab_get(&publishing, a.id) != NULL) {
		conn_error(c, PROTO_E_DUPLICATE, ref, "alert id already used");
		return;
	}

	if ((req = calloc(1, sizeof(*req))) == NULL ||
	    (req->env = malloc(pub.envelope.len)) == NULL)
		fatal("publish_handle");
	conn_ref(c);
	req->c = c;
	strlcpy(req->id, a.id, sizeof(req->id));
	strlcpy(req->target, a.target, sizeof(req->target));
	strlcpy(req->issuer, a.issuer, sizeof(req->issuer));
	strlcpy(req->references, a.references, sizeof(req->references));
	req->type = a.msg_type;
	req->status = a.status;
	req->publish_at = a.publish_at > now ? a.publish_at : 0;
	req->issued = a.issued_at;
	req->expires = a.expires_at;
	req->targeted = target->receivers;
	req->accepted = now;
	req->tm.remind_ms = pub.remind_after ? pub.remind_after :
	    wz->conf->delivery.remind_after_ms;
	req->tm.escalate_ms = pub.escalate_after ? pub.escalate_after :
	    wz->conf->delivery.escalate_after_ms;
	req->tm.max_reminders = pub.max_reminders ? pub.max_reminders :
	    wz->conf->delivery.max_reminders;
	memcpy(req->env, pub.envelope.p, pub.envelope.len);
	req->envlen = pub.envelope.len;

	snprintf(num[0], sizeof(num[0]), "%u", req->type);
	snprintf(num[1], sizeof(num[1]), "%" PRIu64, req->issued);
	snprintf(num[2], sizeof(num[2]), "%" PRIu64, req->expires);
	snprintf(num[3], sizeof(num[3]), "%" PRIu64, now);
	snprintf(num[4], sizeof(num[4]), "%u", req->tm.remind_ms);
	snprintf(num[5], sizeof(num[5]), "%u", req->tm.escalate_ms);
	snprintf(num[6], sizeof(num[6]), "%u", req->tm.max_reminders);
	snprintf(num[7], sizeof(num[7]), "%u", req->status);
	snprintf(num[8], sizeof(num[8]), "%" PRIu64, req->publish_at);
	fixed[LUA_PUBLISH_PREFIX] = store_key("%s", "");
	fixed[LUA_PUBLISH_ID] = req->id;
	fixed[LUA_PUBLISH_ENV] = (const char *)req->env;
	fixed[LUA_PUBLISH_TARGET] = req->target;
	fixed[LUA_PUBLISH_ISSUER] = req->issuer;
	fixed[LUA_PUBLISH_TYPE] = num[0];
	fixed[LUA_PUBLISH_ISSUED] = num[1];
	fixed[LUA_PUBLISH_EXPIRES] = num[2];
	fixed[LUA_PUBLISH_ACCEPTED] = num[3];
	fixed[LUA_PUBLISH_REFERENCES] = req->references;
	fixed[LUA_PUBLISH_REMIND] = num[4];
	fixed[LUA_PUBLISH_ESCALATE] = num[5];
	fixed[LUA_PUBLISH_MAXREM] = num[6];
	fixed[LUA_PUBLISH_STATUS] = num[7];
	fixed[LUA_PUBLISH_PUBLISH_AT] = num[8];
	for (i = 0; i < PUBLISH_FIXED; i++)
		flens[i] = strlen(fixed[i]);
	flens[LUA_PUBLISH_PREFIX] = strlen(wz->conf->redis.prefix);
	flens[LUA_PUBLISH_ENV] = req->envlen;
	if (store_lost() != NULL) {
		/* Numbers would restart: refuse until an operator acts. */
		conn_error(c, PROTO_E_STORE, req->id, "%s", store_lost());
		pubreq_free(req);
		return;
	}
	pubargs_build(&pa, target, fixed, flens, PUBLISH_FIXED);
	htab_put(&publishing, req->id, req);
	rv = store_eval(STORE_LUA_PUBLISH, pa.argc, pa.argv, pa.lens,
	    publish_done_cb, req);
	pubargs_free(&pa);
	if (rv == -1) {
		conn_error(c, PROTO_E_STORE, req->id, "store unavailable, try "
		    "again");
		pubreq_free(req);
	}
}

/* --- catch-up on connect ----------------------------------------------- */

/*
 * A catch-up in progress.  After the lookup, ids holds what the agent
 * still needs, sent from next on in slices that keep the connection's
 * output under half of max_output; the rest follows as the agent reads
 * (conn.c calls sync_continue when the output drains), so a backlog
 * larger than the output bound does not get the agent cut off.
 */
struct syncreq {
	struct conn	 *c;		/* referenced */
	size_t		  n;
	size_t		  next;		/* next id to send */
	size_t		  sent;
	char		(*ids)[PROTO_ID_MAX + 1];
};

static int
alert_seq_cmp(const void *x, const void *y)
{
	const struct alert	*a = *(struct alert *const *)x;
	const struct alert	*b = *(struct alert *const *)y;

	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Live alerts for an agent at n (its node and ancestors), by seq. */
static struct alert **
sync_candidates(struct tnode *n, uint64_t after, size_t *count)
{
	struct alert	**v = NULL;
	struct alist	 *l;
	size_t		  i, k = 0, cap = 0;
	uint64_t	  now = now_ms();
	void		 *nv;

	for (; n != NULL; n = n->parent) {
		if ((l = htab_get(&by_node, n->id)) == NULL)
			continue;
		for (i = 0; i < l->n; i++) {
			if (l->v[i]->seq <= after || l->v[i]->expires_at <= now)
				continue;
			if (k == cap) {
				cap = cap ? cap * 2 : 16;
				if ((nv = reallocarray(v, cap, sizeof(*v))) == NULL)
					fatal("sync_candidates");
				v = nv;
			}
			v[k++] = l->v[i];
		}
	}
	if (k > 1)
		qsort(v, k, sizeof(*v), alert_seq_cmp);
	*count = k;
	return v;
}

/* Send what arrived during the sync, then let fan-out take over. */
static void
sync_finish(struct conn *c)
{
	struct tprincipal	 *p = conn_principal(c);
	struct alert		**v;
	size_t			  i, n;

	v = sync_candidates(p->node, conn_sync_seq(c), &n);
	for (i = 0; i < n; i++)
		conn_send_blob(c, v[i]->frame);
	metrics_count(M_DELIVERED, n);
	free(v);
	if (conn_alive(c))
		conn_sync_done(c);
}

static void
sync_send_resent(struct conn *c, struct alert *a)
{
	conn_send_blob(c, alert_blob(a, PROTO_AF_RESENT));
	metrics_count(M_DELIVERED, 1);
}

void
sync_free(struct syncreq *sr)
{
	if (sr == NULL)
		return;
	conn_unref(sr->c);
	free(sr->ids);
	free(sr);
}

void
sync_continue(struct conn *c)
{
	struct syncreq	*sr = conn_sync(c);
	struct alert	*a;
	size_t		 room = wz->conf->limits.max_output / 2;

	if (sr == NULL)
		return;
	if (!conn_alive(c))
		return;
	while (sr->next < sr->n && conn_output(c) < room) {
		if ((a = alerts_get(sr->ids[sr->next++])) == NULL)
			continue;	/* expired or cancelled meanwhile */
		sr->sent++;
		sync_send_resent(c, a);
		/* Cut off as too slow: conn_destroy has freed sr. */
		if (!conn_alive(c))
			return;
	}
	if (sr->next < sr->n)
		return;
	log_info("conn %llu %s: %zu pending alerts sent",
	    (unsigned long long)conn_id(c), conn_name(c), sr->sent);
	conn_set_sync(c, NULL);
	sync_free(sr);
	sync_finish(c);
}

static void
sync_done_cb(redisReply *r, void *arg)
{
	struct syncreq	*sr = arg;
	size_t		 i, k = 0;
	int		 ok;

	ok = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == sr->n;
	if (!ok)
		log_warnx("conn %llu %s: pending lookup failed; sending every "
		    "live alert for it", (unsigned long long)conn_id(sr->c),
		    conn_name(sr->c));
	if (!conn_alive(sr->c) || conn_state(sr->c) != CONN_S_SYNC) {
		sync_free(sr);
		return;
	}
	/* Keep only what is not delivered yet, in seq order. */
	for (i = 0; i < sr->n; i++) {
		if (ok && (r->element[i]->type != REDIS_REPLY_INTEGER ||
		    r->element[i]->integer != 0))
			continue;	/* already delivered */
		if (k != i)
			memcpy(sr->ids[k], sr->ids[i], sizeof(sr->ids[0]));
		k++;
	}
	sr->n = k;
	sr->next = 0;
	conn_set_sync(sr->c, sr);
	sync_continue(sr->c);
}

void
sync_start(struct conn *c)
{
	struct tprincipal	 *p = conn_principal(c);
	struct alert		**v;
	struct syncreq		 *sr;
	const char		**argv;
	size_t			  i, n;

	conn_set_sync_seq(c, max_seq);
	v = sync_candidates(p->node, 0, &n);
	if (n == 0) {
		free(v);
		conn_sync_done(c);
		return;
	}
	if ((sr = calloc(1, sizeof(*sr))) == NULL ||
	    (sr->ids = calloc(n, sizeof(*sr->ids))) == NULL ||
	    (argv = calloc(n + 2, sizeof(*argv))) == NULL)
		fatal("sync_start");
	conn_ref(c);
	sr->c = c;
	sr->n = n;
	argv[0] = store_key("%s", "");
	argv[1] = p->cn;
	for (i = 0; i < n; i++) {
		strlcpy(sr->ids[i], v[i]->id, sizeof(sr->ids[i]));
		argv[i + 2] = sr->ids[i];
	}
	free(v);
	if (store_eval(STORE_LUA_PENDING, (int)n + 2, argv, NULL, sync_done_cb,
	    sr) == -1)
		sync_done_cb(NULL, sr);	/* Redis down: at least once, send all */
	free(argv);
}
