/* SPDX-License-Identifier: ISC */
/*
 * alerts: the record of an alert, the cache of live alerts and fan-out.
 *
 * Once an alert is live in Redis (PUBLISH, or its release from the
 * schedule) it is cached here by id and under its target node, its ALERT
 * frame is encoded once and the same bytes go to every connected agent at
 * or below the target.  Nothing is kept per agent: what an agent still
 * needs when it connects is derived from the live alerts at its node and
 * above (alerts_for, used by sync.c), less what it has acknowledged.
 *
 * This file sits below the request handlers and above the transport: it
 * calls conn_fanout, the tree and the store, and tells the handlers that
 * an alert is gone only through the hook main.c sets.
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
static uint64_t		 max_seq;
static uint64_t		 arrivals;	/* alerts cached so far (struct alert.arrived) */
static void		(*gone_hook)(const char *);

/* --- the record ---------------------------------------------------------- */

void
alert_rec_copy(struct alert_rec *dst, const struct alert_rec *src)
{
	*dst = *src;
	if ((dst->env = malloc(src->envlen ? src->envlen : 1)) == NULL)
		fatal("alert_rec_copy");
	memcpy(dst->env, src->env, src->envlen);
}

void
alert_rec_clear(struct alert_rec *r)
{
	free(r->env);
	r->env = NULL;
	r->envlen = 0;
}

int
alert_rec_same(const struct alert_rec *r, const uint8_t *env, size_t envlen)
{
	return r->envlen == envlen && memcmp(r->env, env, envlen) == 0;
}

int
alert_rec_from_reply(struct alert_rec *rec, redisReply *const *e)
{
	size_t	k;

	memset(rec, 0, sizeof(*rec));
	for (k = 0; k < ALERT_REC_FIELDS; k++)
		if (e[k]->type != REDIS_REPLY_STRING)
			return -1;
	if (strlcpy(rec->id, e[0]->str, sizeof(rec->id)) >= sizeof(rec->id) ||
	    !proto_name_valid(rec->id, strlen(rec->id)))
		return -1;
	rec->env = (uint8_t *)e[1]->str;
	rec->envlen = e[1]->len;
	strlcpy(rec->target, e[2]->str, sizeof(rec->target));
	strlcpy(rec->issuer, e[3]->str, sizeof(rec->issuer));
	strlcpy(rec->references, e[4]->str, sizeof(rec->references));
	rec->type = (uint8_t)strtoul(e[5]->str, NULL, 10);
	rec->status = (uint8_t)strtoul(e[6]->str, NULL, 10);
	rec->issued = strtoull(e[7]->str, NULL, 10);
	rec->expires = strtoull(e[8]->str, NULL, 10);
	rec->accepted = strtoull(e[9]->str, NULL, 10);
	rec->publish_at = strtoull(e[10]->str, NULL, 10);
	rec->tm.remind_ms = (uint32_t)strtoul(e[11]->str, NULL, 10);
	rec->tm.escalate_ms = (uint32_t)strtoul(e[12]->str, NULL, 10);
	rec->tm.max_reminders = (uint32_t)strtoul(e[13]->str, NULL, 10);
	return 0;
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

/* --- the cache ----------------------------------------------------------- */

static void
alert_free(void *v)
{
	struct alert	*a = v;

	blob_unref(a->frame);
	blob_unref(a->resent);
	blob_unref(a->reminder);
	alert_rec_clear(&a->r);
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
}

void
alerts_free(void)
{
	htab_clear(&by_node, alist_free);
	htab_clear(&alerts, alert_free);
}

void
alerts_set_gone_hook(void (*fn)(const char *))
{
	gone_hook = fn;
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

uint64_t
alerts_arrived(void)
{
	return arrivals;
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
	m.envelope.p = a->r.env;
	m.envelope.len = a->r.envlen;
	pbuf_init(&b);
	proto_alert_msg_encode(&b, &m);
	if (b.err != 0)
		fatalx("alert %s: cannot encode its frame", a->r.id);
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
		fatalx("alert %s: no frame with flags %u", a->r.id, flags);
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

static void	alert_remove(struct alert *);

/* A cancel went live: what it cancels was retired in Redis by its script. */
static void
alert_retire_cancelled(struct alert *a)
{
	struct alert	*orig;

	if (a->r.type == PROTO_MSG_CANCEL && a->r.references[0] != '\0' &&
	    (orig = alerts_get(a->r.references)) != NULL) {
		log_info("alert %s: cancelled by %s", orig->r.id, a->r.id);
		alert_remove(orig);
	}
}

/* Add an accepted alert to the cache (a copy of rec and its envelope). */
static struct alert *
alert_add(const struct alert_rec *rec, uint64_t seq, uint32_t targeted)
{
	struct alert	*a;
	struct alist	*l;
	size_t		 i;
	void		*nv;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		fatal("alert_add");
	alert_rec_copy(&a->r, rec);
	/* What the issuer signed, whoever read the record. */
	a->r.status = alert_status_of(a->r.env, a->r.envlen);
	a->r.publish_at = 0;
	a->seq = seq;
	a->arrived = ++arrivals;
	a->targeted = targeted;
	a->frame = alert_frame(a, 0);
	if ((nv = htab_put(&alerts, a->r.id, a)) != NULL)
		fatalx("alert %s cached twice", a->r.id);
	if ((l = htab_get(&by_node, a->r.target)) == NULL) {
		if ((l = calloc(1, sizeof(*l))) == NULL)
			fatal("alert_add");
		htab_put(&by_node, a->r.target, l);
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

	if (gone_hook != NULL)
		gone_hook(a->r.id);
	if ((l = htab_get(&by_node, a->r.target)) != NULL) {
		for (i = 0; i < l->n; i++)
			if (l->v[i] == a)
				break;
		if (i < l->n) {
			memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(*l->v));
			l->n--;
		}
	}
	htab_del(&alerts, a->r.id);
	alert_free(a);
}

static int
alert_seq_cmp(const void *x, const void *y)
{
	const struct alert	*a = *(struct alert *const *)x;
	const struct alert	*b = *(struct alert *const *)y;

	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/*
 * By arrival, not seq: with several daemons an alert published elsewhere
 * arrives through the feed after ones with a higher seq published here,
 * and an agent in its catch-up must still get it.
 */
struct alert **
alerts_for(struct tnode *n, uint64_t after, size_t *count)
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
			if (l->v[i]->arrived <= after || l->v[i]->r.expires <= now)
				continue;
			if (k == cap) {
				cap = cap ? cap * 2 : 16;
				if ((nv = reallocarray(v, cap, sizeof(*v))) == NULL)
					fatal("alerts_for");
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

struct alert *
alerts_went_live(const struct alert_rec *rec, uint64_t seq,
    uint32_t targeted, const char *who)
{
	struct alert		*a;
	struct tnode		*target;
	size_t			 pushed = 0;

	if ((a = alerts_get(rec->id)) != NULL) {
		/* The feed brought it first (another daemon's, or ours). */
		log_debug("alert %s: live already (from %s)", a->r.id, who);
		return a;
	}
	a = alert_add(rec, seq, targeted);
	alert_retire_cancelled(a);
	/* The tree may have changed while Redis worked: look the node up again. */
	if ((target = tree_node(wz->tree, a->r.target)) != NULL)
		pushed = conn_fanout(target, a->frame);
	metrics_count(M_PUBLISHED, 1);
	log_info("alert %s seq %" PRIu64 " accepted from %s for %s%s: %u "
	    "targeted, %zu pushed now", a->r.id, a->seq, who, a->r.target,
	    a->r.status != PROTO_STATUS_ACTUAL ? " (drill)" : "", targeted,
	    pushed);
	return a;
}

/* --- expiry ---------------------------------------------------------------- */

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

	if (a->r.expires <= ec->now)
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
		log_info("alert %s: expired", ec.dead[i]->r.id);
		argv[0] = "ZREM";
		argv[1] = store_key("live");
		argv[2] = ec.dead[i]->r.id;
		/* If Redis is down now, the next load drops it anyway. */
		store_cmd(3, argv, NULL, alerts_zrem_cb, NULL);
		alert_remove(ec.dead[i]);
	}
	free(ec.dead);
}

/* --- loading at start, and catching up after Redis came back ---------- */

/*
 * Groups of the record (ALERT_REC_FIELDS) then {seq, reminded, escalated,
 * targeted}: see lua/alerts.lua.
 */
#define ALERTS_GROUP	(ALERT_REC_FIELDS + 4)

struct alerts_load_req {
	void	(*done)(int);	/* NULL for a catch-up */
	int	  replace;	/* a reload: drop what Redis no longer has */
};

/* What a reload keeps: the cached alerts that Redis lists as live. */
struct alerts_stale {
	struct htab	 *keep;
	struct alert	**dead;
	size_t		  n;
};

static void
alerts_stale_cb(void *v, void *arg)
{
	struct alert		*a = v;
	struct alerts_stale	*as = arg;

	if (htab_get(as->keep, a->r.id) == NULL)
		as->dead[as->n++] = a;
}

static void
alerts_max_cb(void *v, void *arg)
{
	struct alert	*a = v;

	if (a->seq > max_seq)
		max_seq = a->seq;
}

/*
 * A reload after a fail-over: cached alerts that are not live in Redis
 * (their writes went with the old primary) leave the cache.
 */
static void
alerts_drop_stale(redisReply *r)
{
	struct alerts_stale	 as;
	struct htab		 keep;
	size_t			 i;

	htab_init(&keep);
	for (i = 0; i < r->elements; i += ALERTS_GROUP)
		if (r->element[i]->type == REDIS_REPLY_STRING)
			htab_put(&keep, r->element[i]->str, r->element[i]);
	as.keep = &keep;
	as.n = 0;
	if ((as.dead = calloc(alerts.count + 1, sizeof(*as.dead))) == NULL)
		fatal("alerts_drop_stale");
	htab_foreach(&alerts, alerts_stale_cb, &as);
	for (i = 0; i < as.n; i++) {
		log_notice("alert %s seq %" PRIu64 ": not live in Redis after "
		    "the fail-over; dropped from the cache", as.dead[i]->r.id,
		    as.dead[i]->seq);
		alert_remove(as.dead[i]);
	}
	free(as.dead);
	htab_clear(&keep, NULL);
	max_seq = 0;
	htab_foreach(&alerts, alerts_max_cb, NULL);
}

/*
 * Cache the live alert in group e (ALERTS_GROUP replies) unless it is
 * known; with push, retire what it cancels and push it to the agents
 * connected here.  NULL if it was known or does not decode.
 */
static struct alert *
alerts_take(redisReply *const *e, int push, size_t *pushed)
{
	struct alert_rec	  rec;
	struct alert		 *a;
	struct tnode		 *target;
	redisReply *const	 *x = e + ALERT_REC_FIELDS;

	*pushed = 0;
	if (alert_rec_from_reply(&rec, e) == -1 ||
	    x[0]->type != REDIS_REPLY_STRING ||
	    x[1]->type != REDIS_REPLY_STRING ||
	    x[2]->type != REDIS_REPLY_STRING ||
	    x[3]->type != REDIS_REPLY_STRING) {
		log_warnx("alerts: live alert %s in Redis does not decode; "
		    "left alone", e[0]->type == REDIS_REPLY_STRING ?
		    e[0]->str : "?");
		return NULL;
	}
	if (htab_get(&alerts, rec.id) != NULL)
		return NULL;
	a = alert_add(&rec, strtoull(x[0]->str, NULL, 10),
	    (uint32_t)strtoul(x[3]->str, NULL, 10));
	a->reminded = (uint32_t)strtoul(x[1]->str, NULL, 10);
	a->escalated = atoi(x[2]->str) != 0;
	if (!push)
		return a;
	alert_retire_cancelled(a);
	if ((target = tree_node(wz->tree, a->r.target)) != NULL)
		*pushed = conn_fanout(target, a->frame);
	return a;
}

/* Every live alert, or (catch-up, done NULL) those not known here. */
static void
alerts_loaded_cb(redisReply *r, void *arg)
{
	struct alerts_load_req	 *lr = arg;
	void			(*done)(int) = lr->done;
	struct alert		 *a;
	size_t			  i, n = 0, pushed;
	int			  replace = lr->replace;

	free(lr);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY ||
	    r->elements % ALERTS_GROUP != 0) {
		log_warnx("alerts: %s failed: %s", done != NULL ? "load" :
		    "catch-up", r && r->type == REDIS_REPLY_ERROR ? r->str :
		    "bad or no reply");
		if (done != NULL)
			done(-1);
		return;
	}
	if (replace)
		alerts_drop_stale(r);
	for (i = 0; i < r->elements; i += ALERTS_GROUP) {
		if ((a = alerts_take(&r->element[i], done == NULL,
		    &pushed)) == NULL)
			continue;
		n++;
		/*
		 * Live in Redis, unknown here: its store ran, but the reply
		 * was lost with the link (the issuer was told 501), or
		 * another daemon published it while the link was down.  The
		 * agents connected all along get it now.
		 */
		if (done == NULL)
			log_notice("alert %s seq %" PRIu64 ": live in Redis "
			    "but not known here (published through another "
			    "server, or its store's reply was lost): %zu pushed "
			    "now", a->r.id, a->seq, pushed);
	}
	if (done != NULL) {
		log_info("alerts: %zu live alert%s loaded", n,
		    n == 1 ? "" : "s");
		done(0);
	} else if (n > 0)
		log_info("alerts: caught up on %zu live alert%s", n,
		    n == 1 ? "" : "s");
}

/*
 * The feed (feed.c) read that an alert went live through another daemon
 * (or this one): e is its group as lua/feed.lua gives it, lua/alerts.lua's
 * layout.  Cached and pushed unless known.
 */
void
alerts_learn(redisReply *const *e, size_t n)
{
	struct alert	*a;
	size_t		 pushed;

	if (n != ALERTS_GROUP)
		return;
	if ((a = alerts_take(e, 1, &pushed)) == NULL)
		return;
	metrics_count(M_FED, 1);
	log_info("alert %s seq %" PRIu64 ": live in Redis but not known here "
	    "(published through another server, or its store's reply was "
	    "lost): %zu pushed now", a->r.id, a->seq, pushed);
}

static void
alerts_read(void (*done)(int), int replace)
{
	struct alerts_load_req	*lr;
	const char		*argv[LUA_ALERTS_ARGS];
	char			 now[32];

	if ((lr = calloc(1, sizeof(*lr))) == NULL)
		fatal("alerts_load");
	lr->done = done;
	lr->replace = replace;
	snprintf(now, sizeof(now), "%" PRIu64, now_ms());
	argv[LUA_ALERTS_PREFIX] = store_key("%s", "");
	argv[LUA_ALERTS_NOW] = now;
	if (store_eval(STORE_LUA_ALERTS, LUA_ALERTS_ARGS, argv, NULL,
	    alerts_loaded_cb, lr) == -1)
		alerts_loaded_cb(NULL, lr);	/* Redis is down */
}

void
alerts_load(void (*done)(int))
{
	alerts_read(done, 0);
}

/* After a fail-over: the cache becomes what Redis has live; done(0|-1). */
void
alerts_reload(void (*done)(int))
{
	alerts_read(done, 1);
}

void
alerts_catch_up(void)
{
	alerts_read(NULL, 0);
}

