/* SPDX-License-Identifier: ISC */
/*
 * publish: PUBLISH.  An issuer's signed envelope is checked (the rate,
 * the signature, the CA's grant to issue at the sender's node, the
 * target, the text, the clocks, what an update or cancel refers to),
 * then accepted in one script call in Redis (lua/publish.lua: stored,
 * streamed, indexed under its target, counters per node) and handed to
 * the cache (alerts.c), which pushes it, or to the schedule.
 *
 * A PUBLISH of the very bytes of an alert already accepted is a retry
 * (after a 501, or a connection lost before PUBLISHED): it is answered
 * with the first PUBLISHED and nothing goes out twice.  The script tells
 * such a retry apart, so that it is recognised even when the first
 * store's reply never came back and only Redis knows.
 *
 * With redis.wait_replicas, what the script did is acted on (PUBLISHED,
 * the fan-out, the schedule) only once WAIT says the replicas have it:
 * else a fail-over could lose an alert its issuer was told of.  Too few
 * replicas: ERROR 501, and the retry finds the alert stored.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "wuzhad.h"
#include "lua_gen.h"

static struct htab	 publishing;	/* ids whose PUBLISH is in Redis now */
static struct htab	 buckets;	/* cn -> struct bucket */

/*
 * PUBLISH rate per principal, a token bucket: publish_rate tokens a
 * minute, at most publish_burst saved up.  Every PUBLISH takes one,
 * refused or not, so a flood of bad signatures costs no verifying.
 */
struct bucket {
	double		tokens;
	uint64_t	at;		/* mono_ms of the last refill */
};

/* What the publish script answered, kept until WAIT is done. */
struct pubdone {
	long long	 code;		/* 0 dup, 1 stored, 2 unscheduled, 3 retry */
	uint64_t	 seq;
	uint64_t	 publish_at;	/* retry: as stored */
	uint64_t	 accepted;	/* retry */
	long long	 targeted;	/* retry: -1 if not told */
	int		 live;		/* retry */
	char		 state[16];	/* retry: "held", "unscheduled", ... */
};

/* A PUBLISH waiting for Redis; owns its record and envelope. */
struct pubreq {
	struct conn	*c;		/* referenced */
	struct alert_rec r;
	uint32_t	 targeted;
	int		 retry;		/* known here already, same bytes */
	struct pubdone	 d;
};

void
publish_init(void)
{
	htab_init(&publishing);
	htab_init(&buckets);
}

void
publish_free(void)
{
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

static void
pubreq_free(struct pubreq *pr)
{
	htab_del(&publishing, pr->r.id);
	conn_unref(pr->c);
	alert_rec_clear(&pr->r);
	free(pr);
}

static void
publish_answer(struct pubreq *pr, uint64_t seq, uint32_t targeted,
    uint64_t publish_at)
{
	struct proto_published	 pd;
	struct proto_buf	 b;

	if (!conn_alive(pr->c))
		return;
	memset(&pd, 0, sizeof(pd));
	strlcpy(pd.id, pr->r.id, sizeof(pd.id));
	pd.seq = seq;
	pd.targeted = targeted;
	pd.publish_at = publish_at;
	pbuf_init(&b);
	proto_published_encode(&b, &pd);
	conn_send(pr->c, &b);
	pbuf_free(&b);
}

/* Reply element i of r as an unsigned number (0 if not one). */
static uint64_t
reply_u64(const redisReply *r, size_t i)
{
	const redisReply	*e;

	if (i >= r->elements)
		return 0;
	e = r->element[i];
	if (e->type == REDIS_REPLY_INTEGER)
		return e->integer > 0 ? (uint64_t)e->integer : 0;
	if (e->type == REDIS_REPLY_STRING)
		return strtoull(e->str, NULL, 10);
	return 0;
}

/*
 * The script found the same envelope already stored: {3, seq,
 * publish_at, state, accepted, targeted, live}.  Answer what the first
 * PUBLISHED said, and catch up here on whatever the first attempt did in
 * Redis that this daemon never heard of (its reply was lost).
 */
static void
publish_retried(struct pubreq *pr, const char *who)
{
	const char		*state = pr->d.state;
	uint64_t		 seq = pr->d.seq;
	uint64_t		 publish_at = pr->d.publish_at;
	int			 live = pr->d.live;
	uint32_t		 targeted = pr->targeted;

	if (pr->d.targeted >= 0)
		targeted = (uint32_t)pr->d.targeted;
	log_info("alert %s: PUBLISH again from %s, the same envelope: answered "
	    "as the first time (%s, seq %" PRIu64 ")", pr->r.id, who,
	    state[0] ? state : "?", seq);
	if (strcmp(state, "unscheduled") == 0) {
		/* A cancel of a held alert. */
		if (schedule_get(pr->r.references) != NULL)
			schedule_cancelled(pr->r.references, pr->r.id, who);
		publish_answer(pr, 0, 0, 0);
	} else if (seq == 0 && publish_at != 0) {
		/* Held (and perhaps cancelled since: it stays answered). */
		pr->r.publish_at = publish_at;
		if (strcmp(state, "held") == 0 && schedule_get(pr->r.id) == NULL)
			schedule_add(&pr->r, targeted, who);
		publish_answer(pr, 0, targeted, publish_at);
	} else {
		if (live && seq != 0 && alerts_get(pr->r.id) == NULL) {
			/* Live in Redis, never pushed: push it now. */
			pr->r.accepted = pr->d.accepted;
			pr->r.publish_at = 0;
			alerts_went_live(&pr->r, seq, targeted, who);
		}
		publish_answer(pr, seq, targeted, 0);
	}
}

/* The replicas have what the script did (or WAIT is off): act on it. */
static void
publish_waited_cb(int ok, void *arg)
{
	struct pubreq		*pr = arg;
	const char		*who;

	if (!ok) {
		if (conn_alive(pr->c))
			conn_error(pr->c, PROTO_E_STORE, pr->r.id, "store "
			    "unavailable, try again (not confirmed by %u "
			    "replica%s)", wz->conf->redis.wait_replicas,
			    wz->conf->redis.wait_replicas == 1 ? "" : "s");
		pubreq_free(pr);
		return;
	}
	/* The issuer with its address while its connection is up. */
	who = conn_alive(pr->c) ? conn_name(pr->c) : pr->r.issuer;
	switch (pr->d.code) {
	case 0:
		if (conn_alive(pr->c))
			conn_error(pr->c, PROTO_E_DUPLICATE, pr->r.id,
			    "alert id already used, by another envelope");
		break;
	case 2:
		/* A held alert taken off the schedule: nothing goes out. */
		schedule_cancelled(pr->r.references, pr->r.id, who);
		publish_answer(pr, 0, 0, 0);
		break;
	case 3:
		publish_retried(pr, who);
		break;
	default:
		if (pr->r.publish_at != 0) {
			schedule_add(&pr->r, pr->targeted, who);
			publish_answer(pr, 0, pr->targeted, pr->r.publish_at);
		} else {
			alerts_went_live(&pr->r, pr->d.seq, pr->targeted, who);
			publish_answer(pr, pr->d.seq, pr->targeted, 0);
		}
		break;
	}
	pubreq_free(pr);
}

/* The script's reply: kept (hiredis frees r), then WAIT if it wrote. */
static void
publish_done_cb(redisReply *r, void *arg)
{
	struct pubreq		*pr = arg;
	const redisReply	*e;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER) {
		if (conn_alive(pr->c))
			conn_error(pr->c, PROTO_E_STORE, pr->r.id, "store "
			    "unavailable, try again (%s)", r != NULL &&
			    r->type == REDIS_REPLY_ERROR ? r->str : "no reply");
		pubreq_free(pr);
		return;
	}
	pr->d.code = r->element[0]->integer;
	pr->d.seq = reply_u64(r, 1);
	pr->d.publish_at = reply_u64(r, 2);
	pr->d.accepted = reply_u64(r, 4);
	pr->d.live = reply_u64(r, 6) != 0;
	pr->d.targeted = -1;
	if (r->elements > 3 && (e = r->element[3])->type == REDIS_REPLY_STRING)
		snprintf(pr->d.state, sizeof(pr->d.state), "%s", e->str);
	if (r->elements > 5 && r->element[5]->type == REDIS_REPLY_INTEGER &&
	    r->element[5]->integer >= 0)
		pr->d.targeted = r->element[5]->integer;
	if (pr->d.code == 0) {
		/* Nothing written: nothing to wait for. */
		publish_waited_cb(1, pr);
		return;
	}
	store_wait(publish_waited_cb, pr);
}

/*
 * What the alert may not be, checked against the tree and the clocks;
 * 0 if it may go to the store, else -1 with the ERROR sent.  Not asked
 * of a retry of an alert accepted already, which was checked then.
 */
static int
publish_check(struct conn *c, const struct proto_alert *a,
    struct tnode *target, uint64_t now)
{
	struct tprincipal	*pr = conn_principal(c);
	struct alert		*orig;
	struct held		*held;
	const char		*ref = a->id;
	uint64_t		 skew;

	if (target == NULL) {
		access_no_node(c, a->target, ref);
		return -1;
	}
	if (!tree_covers(pr->node, target)) {
		conn_error(c, PROTO_E_TARGET, ref, "%s at %s may not issue to %s",
		    pr->cn, pr->node->id, target->id);
		return -1;
	}
	if (a->text.len > wz->conf->limits.max_text) {
		conn_error(c, PROTO_E_TOO_LONG, ref, "text is %zu bytes, the "
		    "limit is %u", a->text.len, wz->conf->limits.max_text);
		return -1;
	}
	skew = (uint64_t)wz->conf->timeouts.skew_s * 1000;
	if (a->issued_at + skew < now || a->issued_at > now + skew) {
		conn_error(c, PROTO_E_SKEW, ref, "issued_at is %+.1f s from the "
		    "server's clock, the window is %u s",
		    ((double)a->issued_at - (double)now) / 1000.0,
		    wz->conf->timeouts.skew_s);
		return -1;
	}
	if (a->expires_at <= now) {
		conn_error(c, PROTO_E_EXPIRY, ref, "already expired");
		return -1;
	}
	if (a->msg_type != PROTO_MSG_ALERT &&
	    (held = schedule_get(a->references)) != NULL) {
		if (a->msg_type != PROTO_MSG_CANCEL || a->publish_at != 0) {
			conn_error(c, PROTO_E_REFERENCE, ref, "%s is held until "
			    "its time: it can only be cancelled, at once (then "
			    "publish a new one)", a->references);
			return -1;
		}
		if (strcmp(held_rec(held)->target, a->target) != 0) {
			conn_error(c, PROTO_E_REFERENCE, ref, "cancel must "
			    "target %s like the alert it refers to",
			    held_rec(held)->target);
			return -1;
		}
	} else if (a->msg_type != PROTO_MSG_ALERT) {
		if ((orig = alerts_get(a->references)) == NULL) {
			conn_error(c, PROTO_E_UNKNOWN_ALERT, ref, "%s refers to "
			    "%s, which is not a live alert",
			    proto_msg_type_name(a->msg_type), a->references);
			return -1;
		}
		if (strcmp(orig->r.target, a->target) != 0) {
			conn_error(c, PROTO_E_REFERENCE, ref, "%s must target %s "
			    "like the alert it refers to",
			    proto_msg_type_name(a->msg_type), orig->r.target);
			return -1;
		}
	}
	return 0;
}

/*
 * Is id known here already?  0: no.  1: yes, with these very bytes (a
 * retry).  -1: yes, another envelope or one still in the store; the
 * ERROR is sent.
 */
static int
publish_known(struct conn *c, const char *id, const uint8_t *env,
    size_t envlen)
{
	const struct alert_rec	*known = NULL;
	struct alert		*live;
	struct held		*held;

	if (htab_get(&publishing, id) != NULL) {
		conn_error(c, PROTO_E_DUPLICATE, id, "alert id already used: "
		    "its PUBLISH is in the store now");
		return -1;
	}
	if ((live = alerts_get(id)) != NULL)
		known = &live->r;
	else if ((held = schedule_get(id)) != NULL)
		known = held_rec(held);
	if (known == NULL)
		return 0;
	if (!alert_rec_same(known, env, envlen)) {
		conn_error(c, PROTO_E_DUPLICATE, id, "alert id already used, "
		    "by another envelope");
		return -1;
	}
	return 1;
}

/* Run lua/publish.lua for req; the ERROR is sent if Redis is down. */
static void
publish_store(struct conn *c, struct pubreq *req, struct tnode *target)
{
	struct alert_rec	*r = &req->r;
	struct proto_buf	 ent, wd;
	const char		*fixed[LUA_PUBLISH_ARGS];
	size_t			 flens[LUA_PUBLISH_ARGS];
	char			 num[11][24];
	int			 i, rv;

	snprintf(num[0], sizeof(num[0]), "%u", r->type);
	snprintf(num[1], sizeof(num[1]), "%" PRIu64, r->issued);
	snprintf(num[2], sizeof(num[2]), "%" PRIu64, r->expires);
	snprintf(num[3], sizeof(num[3]), "%" PRIu64, r->accepted);
	snprintf(num[4], sizeof(num[4]), "%u", r->tm.remind_ms);
	snprintf(num[5], sizeof(num[5]), "%u", r->tm.escalate_ms);
	snprintf(num[6], sizeof(num[6]), "%u", r->tm.max_reminders);
	snprintf(num[7], sizeof(num[7]), "%u", r->status);
	snprintf(num[8], sizeof(num[8]), "%" PRIu64, r->publish_at);
	snprintf(num[9], sizeof(num[9]), "%" PRIu64, wz->tree->gen);
	snprintf(num[10], sizeof(num[10]), "%u", target != NULL ?
	    target->receivers : 0);
	fixed[LUA_PUBLISH_PREFIX] = store_key("%s", "");
	fixed[LUA_PUBLISH_ID] = r->id;
	fixed[LUA_PUBLISH_ENV] = (const char *)r->env;
	fixed[LUA_PUBLISH_TARGET] = r->target;
	fixed[LUA_PUBLISH_ISSUER] = r->issuer;
	fixed[LUA_PUBLISH_TYPE] = num[0];
	fixed[LUA_PUBLISH_ISSUED] = num[1];
	fixed[LUA_PUBLISH_EXPIRES] = num[2];
	fixed[LUA_PUBLISH_ACCEPTED] = num[3];
	fixed[LUA_PUBLISH_REFERENCES] = r->references;
	fixed[LUA_PUBLISH_REMIND] = num[4];
	fixed[LUA_PUBLISH_ESCALATE] = num[5];
	fixed[LUA_PUBLISH_MAXREM] = num[6];
	fixed[LUA_PUBLISH_STATUS] = num[7];
	fixed[LUA_PUBLISH_PUBLISH_AT] = num[8];
	fixed[LUA_PUBLISH_GEN] = num[9];
	fixed[LUA_PUBLISH_TARGETED] = num[10];
	/* The audit leaves: the envelope as accepted, and, for a cancel, as
	 * the withdrawal of a held alert (publish.lua logs one of them). */
	pbuf_init(&ent);
	pbuf_init(&wd);
	(void)audit_entry_encode(&ent, AUDIT_K_ALERT, r->accepted, wz->name,
	    r->env, r->envlen);
	if (r->type == PROTO_MSG_CANCEL)
		(void)audit_entry_encode(&wd, AUDIT_K_SCHEDULE_CANCEL,
		    r->accepted, wz->name, r->env, r->envlen);
	fixed[LUA_PUBLISH_AUDIT] = ent.err == 0 && ent.data != NULL ?
	    (const char *)ent.data : "";
	fixed[LUA_PUBLISH_AUDIT_WITHDRAW] = wd.err == 0 && wd.data != NULL ?
	    (const char *)wd.data : "";
	for (i = 0; i < LUA_PUBLISH_ARGS; i++)
		if (i != LUA_PUBLISH_AUDIT && i != LUA_PUBLISH_AUDIT_WITHDRAW)
			flens[i] = strlen(fixed[i]);
	flens[LUA_PUBLISH_PREFIX] = strlen(wz->conf->redis.prefix);
	flens[LUA_PUBLISH_ENV] = r->envlen;
	flens[LUA_PUBLISH_AUDIT] = ent.err == 0 ? ent.len : 0;
	flens[LUA_PUBLISH_AUDIT_WITHDRAW] = wd.err == 0 ? wd.len : 0;
	if (ent.err != 0 || ent.len == 0) {
		conn_error(c, PROTO_E_INTERNAL, r->id, "cannot encode the "
		    "audit entry");
		goto done;
	}
	if (store_lost() != NULL) {
		/* Numbers would restart: refuse until an operator acts. */
		conn_error(c, PROTO_E_STORE, r->id, "%s", store_lost());
		goto done;
	}
	if (store_reconciling() != NULL) {
		conn_error(c, PROTO_E_STORE, r->id, "%s", store_reconciling());
		goto done;
	}
	htab_put(&publishing, r->id, req);
	/* store_eval copies the arguments; the entries are ours to free. */
	rv = store_eval(STORE_LUA_PUBLISH, LUA_PUBLISH_ARGS, fixed, flens,
	    publish_done_cb, req);
	if (rv == -1) {
		conn_error(c, PROTO_E_STORE, r->id, "store unavailable, try "
		    "again");
		pubreq_free(req);
	}
	req = NULL;
 done:
	if (req != NULL)
		pubreq_free(req);
	pbuf_free(&ent);
	pbuf_free(&wd);
}

int
publish_pending(const char *id)
{
	return htab_get(&publishing, id) != NULL;
}

void
publish_handle(struct conn *c, const uint8_t *p, size_t len)
{
	struct tprincipal	*pr = conn_principal(c);
	struct proto_publish	 pub;
	struct proto_alert	 a;
	struct tnode		*target;
	struct pubreq		*req;
	struct proto_scope	 signer;
	struct alert_rec	*r;
	proto_id		 peek;
	const char		*ref = NULL;
	char			 why[256];
	uint64_t		 now = now_ms();
	uint64_t		 wait;
	int			 rv, retry;

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
	target = tree_node(wz->tree, a.target);
	if ((retry = publish_known(c, a.id, pub.envelope.p,
	    pub.envelope.len)) == -1)
		return;
	if (!retry && publish_check(c, &a, target, now) == -1)
		return;

	if ((req = calloc(1, sizeof(*req))) == NULL)
		fatal("publish_handle");
	conn_ref(c);
	req->c = c;
	req->retry = retry;
	req->targeted = target != NULL ? target->receivers : 0;
	r = &req->r;
	strlcpy(r->id, a.id, sizeof(r->id));
	strlcpy(r->target, a.target, sizeof(r->target));
	strlcpy(r->issuer, a.issuer, sizeof(r->issuer));
	strlcpy(r->references, a.references, sizeof(r->references));
	r->type = a.msg_type;
	r->status = a.status;
	r->publish_at = a.publish_at > now ? a.publish_at : 0;
	r->issued = a.issued_at;
	r->expires = a.expires_at;
	r->accepted = now;
	r->tm.remind_ms = pub.remind_after ? pub.remind_after :
	    wz->conf->delivery.remind_after_ms;
	r->tm.escalate_ms = pub.escalate_after ? pub.escalate_after :
	    wz->conf->delivery.escalate_after_ms;
	r->tm.max_reminders = pub.max_reminders ? pub.max_reminders :
	    wz->conf->delivery.max_reminders;
	if ((r->env = malloc(pub.envelope.len)) == NULL)
		fatal("publish_handle");
	memcpy(r->env, pub.envelope.p, pub.envelope.len);
	r->envlen = pub.envelope.len;
	publish_store(c, req, target);
}
