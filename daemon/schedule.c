/* SPDX-License-Identifier: ISC */
/*
 * schedule: alerts held until their publish_at.  An issuer may sign an
 * alert now for a routine push before a holiday (节日前、放假前) and let
 * the server send it at the time it names.  A held alert is stored in
 * Redis with everything it needs (the envelope, its timers) and listed in
 * the `schedule` sorted set by its time; it has no seq, no index and no
 * counters until it is released, so no agent can see it early.
 *
 * The held alerts are kept here as well, with one timer armed for the
 * earliest.  At its time the release script takes the id out of
 * `schedule`, gives it a seq and starts its counters from the tree as it
 * is then; only the caller that removed the id releases it, so a cancel
 * that reached Redis first wins and the alert never goes out.  After a
 * restart the set is read back from Redis and whatever fell due while
 * the server was down goes out at once, unless it has expired since.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wuzhad.h"
#include "lua_gen.h"
#include "log.h"

#define SCHEDULE_RETRY_MS	1000	/* Redis down at release time */

/* One held alert. */
struct held {
	struct alert_rec r;		/* publish_at: when it goes out */
	char		*headline;	/* for SCHEDULE lists */
	int		 releasing;	/* the release script is in Redis */
	uint64_t	 retry_at;	/* now_ms before which not to retry */
	int		 lost_said;	/* logged waiting for a rearm */
};

static struct htab	 helds;		/* id -> struct held */
static struct event	*sched_ev;

static void	schedule_arm(void);

static void
held_free(void *v)
{
	struct held	*h = v;

	if (h == NULL)
		return;
	free(h->headline);
	alert_rec_clear(&h->r);
	free(h);
}

void
schedule_init(void)
{
	htab_init(&helds);
}

void
schedule_free(void)
{
	if (sched_ev != NULL)
		event_free(sched_ev);
	sched_ev = NULL;
	htab_clear(&helds, held_free);
}

struct held *
schedule_get(const char *id)
{
	return htab_get(&helds, id);
}

const struct alert_rec *
held_rec(const struct held *h)
{
	return &h->r;
}

size_t
schedule_count(void)
{
	return helds.count;
}

/* Keep a held alert (copies everything); NULL if the envelope is bad. */
static struct held *
held_new(const struct alert_rec *rec)
{
	struct proto_envelope	 e;
	struct proto_alert	 b;
	struct held		*h;

	if (proto_envelope_decode(rec->env, rec->envlen, &e) != 0 ||
	    proto_alert_decode(e.body.p, e.body.len, &b) != 0)
		return NULL;
	if ((h = calloc(1, sizeof(*h))) == NULL ||
	    (h->headline = strndup((const char *)b.headline.p,
	    b.headline.len)) == NULL)
		fatal("held_new");
	alert_rec_copy(&h->r, rec);
	h->r.status = b.status;
	return h;
}

void
schedule_add(const struct alert_rec *rec, uint32_t targeted, const char *who)
{
	struct held	*h;
	char		 t[32];

	if ((h = held_new(rec)) == NULL) {
		log_warnx("alert %s: held, but its envelope does not decode",
		    rec->id);
		return;
	}
	held_free(htab_put(&helds, h->r.id, h));
	log_info("alert %s from %s for %s%s: held until %s (%" PRIu64 " ms), "
	    "%u targeted now", h->r.id, who, h->r.target,
	    h->r.status != PROTO_STATUS_ACTUAL ? " (drill)" : "",
	    clock_str(h->r.publish_at, "%Y-%m-%dT%H:%M:%SZ", CLOCK_UTC, t,
	    sizeof(t)), h->r.publish_at,
	    targeted);
	schedule_arm();
}

void
schedule_learn(redisReply *const *e, size_t n)
{
	struct alert_rec	rec;

	if (n != ALERT_REC_FIELDS + 1 || alert_rec_from_reply(&rec, e) == -1 ||
	    e[ALERT_REC_FIELDS]->type != REDIS_REPLY_STRING) {
		log_warnx("schedule: a held alert from another server does not "
		    "decode; left alone");
		return;
	}
	if (htab_get(&helds, rec.id) != NULL)
		return;
	schedule_add(&rec, (uint32_t)strtoul(e[ALERT_REC_FIELDS]->str, NULL,
	    10), "another server");
}

void
schedule_gone(const char *id)
{
	struct held	*h;

	if ((h = htab_get(&helds, id)) == NULL || h->releasing)
		return;
	log_info("alert %s: released by another server", id);
	held_free(htab_del(&helds, id));
	schedule_arm();
}

void
schedule_cancelled(const char *id, const char *cancel_id, const char *who)
{
	struct held	*h;

	log_info("alert %s: cancelled before its time by %s from %s; it will "
	    "not go out", id, cancel_id, who);
	if ((h = htab_get(&helds, id)) == NULL)
		return;
	/* A release in flight will find the id gone from `schedule`. */
	if (!h->releasing)
		held_free(htab_del(&helds, id));
	schedule_arm();
}

/* --- release ------------------------------------------------------------- */

static void
schedule_released_cb(redisReply *r, void *arg)
{
	char			*id = arg;
	struct held		*h;
	struct tnode		*target;

	if ((h = htab_get(&helds, id)) == NULL) {
		free(id);
		return;
	}
	h->releasing = 0;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER) {
		log_warnx("alert %s: release failed (%s); trying again", id,
		    r != NULL && r->type == REDIS_REPLY_ERROR ? r->str :
		    "no reply");
		h->retry_at = now_ms() + SCHEDULE_RETRY_MS;
		free(id);
		schedule_arm();
		return;
	}
	if (r->element[0]->integer == 0) {
		if (r->element[1]->type == REDIS_REPLY_STRING &&
		    strcmp(r->element[1]->str, "lost") == 0)
			log_warnx("alert %s: due, but its record is gone from "
			    "Redis (its data was lost): not sent; publish it "
			    "again", id);
		else
			log_info("alert %s: not released: cancelled or "
			    "released by another server", id);
		held_free(htab_del(&helds, id));
		free(id);
		schedule_arm();
		return;
	}
	h->r.accepted = now_ms();
	h->r.publish_at = 0;
	target = tree_node(wz->tree, h->r.target);
	alerts_went_live(&h->r, (uint64_t)r->element[1]->integer,
	    target != NULL ? target->receivers : 0, "the schedule");
	held_free(htab_del(&helds, id));
	free(id);
	schedule_arm();
}

static void
schedule_dropped_cb(redisReply *r, void *arg)
{
	if (r == NULL || r->type == REDIS_REPLY_ERROR)
		log_warnx("schedule: dropping a held alert failed: %s",
		    r != NULL ? r->str : "no reply");
}

/*
 * Drop a held alert that can no longer go out (expired while held, or
 * its target left the tree): out of `schedule`, its state noted.
 */
static void
schedule_drop(struct held *h, const char *why)
{
	const char	*argv[5];

	log_warnx("alert %s: held until its time, but %s: not sent", h->r.id,
	    why);
	argv[0] = "ZREM";
	argv[1] = store_key("schedule");
	argv[2] = h->r.id;
	store_cmd(3, argv, NULL, schedule_dropped_cb, NULL);
	argv[0] = "HSET";
	argv[1] = store_key("alert:%s", h->r.id);
	argv[2] = "state";
	argv[3] = "dropped";
	store_cmd(4, argv, NULL, schedule_dropped_cb, NULL);
	held_free(htab_del(&helds, h->r.id));
}

/*
 * Run the release script for h with the tree as it is now.  Returns the
 * time to try again (h kept, nothing in flight), or 0: released, in
 * flight, or dropped (h freed).
 */
static uint64_t
schedule_release(struct held *h)
{
	struct tnode	*target;
	const char	*fixed[LUA_RELEASE_ARGS];
	size_t		 flens[LUA_RELEASE_ARGS];
	char		 now[24], gen[24], targeted[12], *id;
	int		 i;

	if ((target = tree_node(wz->tree, h->r.target)) == NULL) {
		schedule_drop(h, "its target node is no longer in the tree");
		return 0;
	}
	if (store_lost() != NULL) {
		/* A release would take a seq that restarted: wait for rearm. */
		if (!h->lost_said++)
			log_warnx("alert %s: due, but %s: held until an operator "
			    "runs wuzhactl redis rearm", h->r.id, store_lost());
		h->retry_at = now_ms() + SCHEDULE_RETRY_MS;
		return h->retry_at;
	}
	snprintf(now, sizeof(now), "%" PRIu64, now_ms());
	snprintf(gen, sizeof(gen), "%" PRIu64, wz->tree->gen);
	snprintf(targeted, sizeof(targeted), "%u", target->receivers);
	fixed[LUA_RELEASE_PREFIX] = store_key("%s", "");
	fixed[LUA_RELEASE_ID] = h->r.id;
	fixed[LUA_RELEASE_NOW] = now;
	fixed[LUA_RELEASE_GEN] = gen;
	fixed[LUA_RELEASE_TARGETED] = targeted;
	for (i = 0; i < LUA_RELEASE_ARGS; i++)
		flens[i] = strlen(fixed[i]);
	flens[LUA_RELEASE_PREFIX] = strlen(wz->conf->redis.prefix);
	if ((id = strdup(h->r.id)) == NULL)
		fatal("schedule_release");
	h->releasing = 1;
	if (store_eval(STORE_LUA_RELEASE, LUA_RELEASE_ARGS, fixed, flens,
	    schedule_released_cb, id) == -1) {
		h->releasing = 0;
		h->retry_at = now_ms() + SCHEDULE_RETRY_MS;
		free(id);
		log_warnx("alert %s: due, but the store is unavailable; "
		    "trying again", h->r.id);
		return h->retry_at;
	}
	return 0;
}

struct due_ctx {
	uint64_t	  now;
	uint64_t	  next;		/* earliest time still ahead, 0 none */
	struct held	**due;
	size_t		  n;
};

static void
schedule_due_cb(void *v, void *arg)
{
	struct held	*h = v;
	struct due_ctx	*dc = arg;
	uint64_t	 at;

	if (h->releasing)
		return;
	at = h->r.publish_at > h->retry_at ? h->r.publish_at : h->retry_at;
	if (at <= dc->now)
		dc->due[dc->n++] = h;
	else if (dc->next == 0 || at < dc->next)
		dc->next = at;
}

/* Release what is due, then arm the timer for the next one. */
static void
schedule_fire_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	schedule_arm();
}

static void
schedule_arm(void)
{
	struct due_ctx	 dc;
	struct timeval	 tv;
	uint64_t	 wait, retry;
	size_t		 i;

	if (sched_ev == NULL &&
	    (sched_ev = evtimer_new(wz->base, schedule_fire_cb, NULL)) == NULL)
		fatalx("schedule: evtimer_new");
	evtimer_del(sched_ev);
	if (helds.count == 0 || !wz->listening || wz->stopping)
		return;
	memset(&dc, 0, sizeof(dc));
	dc.now = now_ms();
	if ((dc.due = calloc(helds.count, sizeof(*dc.due))) == NULL)
		fatal("schedule_arm");
	htab_foreach(&helds, schedule_due_cb, &dc);
	for (i = 0; i < dc.n; i++) {
		if (dc.due[i]->r.expires <= dc.now)
			schedule_drop(dc.due[i], "it expired before it was due "
			    "or while the server was down");
		else if ((retry = schedule_release(dc.due[i])) != 0 &&
		    (dc.next == 0 || retry < dc.next))
			dc.next = retry;
	}
	free(dc.due);
	if (dc.next == 0)
		return;
	/* Wall-clock time: wake a little early rather than late, and at
	 * least once a minute in case the clock was stepped. */
	wait = dc.next - dc.now;
	if (wait > 60000)
		wait = 60000;
	tv.tv_sec = (time_t)(wait / 1000);
	tv.tv_usec = (suseconds_t)(wait % 1000) * 1000;
	evtimer_add(sched_ev, &tv);
}

/* --- loading at start ---------------------------------------------------- */

static void	(*schedule_load_done)(int);

/* Groups of the record, ALERT_REC_FIELDS each: see lua/held.lua. */
static void
schedule_loaded_cb(redisReply *r, void *arg)
{
	void			(*done)(int) = schedule_load_done;
	struct alert_rec	 rec;
	struct held		*h;
	redisReply		**e;
	size_t			 i, n = 0;

	(void)arg;
	schedule_load_done = NULL;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY ||
	    r->elements % ALERT_REC_FIELDS != 0) {
		log_warnx("schedule: load failed: %s", r != NULL && r->type ==
		    REDIS_REPLY_ERROR ? r->str : "bad or no reply");
		done(-1);
		return;
	}
	htab_clear(&helds, held_free);
	for (i = 0; i < r->elements; i += ALERT_REC_FIELDS) {
		e = &r->element[i];
		if (alert_rec_from_reply(&rec, e) == -1 ||
		    (h = held_new(&rec)) == NULL) {
			log_warnx("schedule: held alert %s in Redis does not "
			    "decode; left alone", e[0]->type ==
			    REDIS_REPLY_STRING ? e[0]->str : "?");
			continue;
		}
		held_free(htab_put(&helds, h->r.id, h));
		n++;
	}
	log_info("schedule: %zu held alert%s loaded", n, n == 1 ? "" : "s");
	done(0);
}

void
schedule_load(void (*done)(int))
{
	const char	*argv[LUA_HELD_ARGS];

	argv[LUA_HELD_PREFIX] = store_key("%s", "");
	schedule_load_done = done;
	if (store_eval(STORE_LUA_HELD, LUA_HELD_ARGS, argv, NULL,
	    schedule_loaded_cb, NULL) == -1) {
		schedule_load_done = NULL;
		done(-1);
	}
}

/* The server is listening: start releasing. */
void
schedule_start(void)
{
	schedule_arm();
}

/* --- SCHEDULE_REQ -------------------------------------------------------- */

struct list_ctx {
	struct tnode	 *root;
	struct held	**v;
	size_t		  n;
};

static void
schedule_pick_cb(void *v, void *arg)
{
	struct held	*h = v;
	struct list_ctx	*lc = arg;
	struct tnode	*t;

	if ((t = tree_node(wz->tree, h->r.target)) != NULL &&
	    tree_covers(lc->root, t))
		lc->v[lc->n++] = h;
}

static int
schedule_cmp(const void *x, const void *y)
{
	const struct held	*a = *(struct held *const *)x;
	const struct held	*b = *(struct held *const *)y;

	if (a->r.publish_at != b->r.publish_at)
		return a->r.publish_at < b->r.publish_at ? -1 : 1;
	return strcmp(a->r.id, b->r.id);
}

/*
 * SCHEDULE_REQ: the held alerts whose target is at or below the node, by
 * time.  Issuers and observers may look; an id is all it takes to cancel,
 * and a cancel is a signed alert like any other.
 */
void
schedule_handle(struct conn *c, const uint8_t *p, size_t len)
{
	struct proto_schedule_req	 rq;
	struct proto_schedule		 sc;
	struct proto_schedule_item	 it;
	struct list_ctx			 lc;
	struct proto_buf		 b, item;
	size_t				 i, mark, room;
	int				 rv;

	if ((rv = proto_schedule_req_decode(p, len, &rq)) != 0) {
		conn_error(c, -rv, NULL, "bad SCHEDULE_REQ: %s",
		    proto_err_name(-rv));
		return;
	}
	if ((lc.root = access_node(c, PROTO_R_ISSUE | PROTO_R_OBSERVE,
	    rq.node, NULL)) == NULL)
		return;
	lc.n = 0;
	if ((lc.v = calloc(helds.count + 1, sizeof(*lc.v))) == NULL)
		fatal("schedule_handle");
	htab_foreach(&helds, schedule_pick_cb, &lc);
	qsort(lc.v, lc.n, sizeof(*lc.v), schedule_cmp);

	memset(&sc, 0, sizeof(sc));
	sc.server_time = now_ms();
	/* Items go into their own buffer first, up to what one frame holds. */
	room = wz->conf->limits.max_frame - 64;
	pbuf_init(&item);
	mark = pbuf_list_begin(&item, 2);
	for (i = 0; i < lc.n; i++) {
		size_t before = item.len;

		memset(&it, 0, sizeof(it));
		strlcpy(it.id, lc.v[i]->r.id, sizeof(it.id));
		strlcpy(it.issuer, lc.v[i]->r.issuer, sizeof(it.issuer));
		strlcpy(it.target, lc.v[i]->r.target, sizeof(it.target));
		it.msg_type = lc.v[i]->r.type;
		it.publish_at = lc.v[i]->r.publish_at;
		it.expires_at = lc.v[i]->r.expires;
		it.headline.p = (const uint8_t *)lc.v[i]->headline;
		it.headline.len = strlen(lc.v[i]->headline);
		it.status = lc.v[i]->r.status;
		proto_schedule_item_put(&item, &it);
		if (item.len > room || item.len - mark > UINT16_MAX) {
			item.len = before;
			sc.omitted = (uint32_t)(lc.n - i);
			break;
		}
	}
	pbuf_list_end(&item, mark, 2);
	free(lc.v);
	if (item.err != 0) {
		conn_error(c, PROTO_E_INTERNAL, NULL, "cannot encode the "
		    "schedule (error %d)", item.err);
		pbuf_free(&item);
		return;
	}
	/* The list field's value, without its own tag and length. */
	sc.alerts.p = item.data + mark + PROTO_FIELD_HDR;
	sc.alerts.len = item.len - mark - PROTO_FIELD_HDR;
	pbuf_init(&b);
	proto_schedule_encode(&b, &sc);
	conn_send(c, &b);
	pbuf_free(&b);
	pbuf_free(&item);
}
