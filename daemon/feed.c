/* SPDX-License-Identifier: ISC */
/*
 * feed: what the other daemons sharing this Redis did.  Every state
 * change that another daemon must act on is written, by the same script
 * that makes it, to one of two streams:
 *
 *	alerts	an alert went live (published, released), was held, or a
 *		held one was cancelled: publish.lua, go_live.lua;
 *	changed	the counters of an alert moved (ack.lua), or an escalation
 *		was stored for the observers at a node (escalate.lua), or
 *		a clue for them (clue.lua).
 *
 * Each daemon reads both from the last entry it read, every
 * timeouts.feed, in one read-only script call (lua/feed.lua) on its one
 * Redis connection, and acts on what it did not do itself: it caches and
 * pushes an alert that went live elsewhere to its own agents, keeps or
 * forgets held alerts, refreshes its watches, tells its observers of an
 * escalation.  A daemon reads its own entries too; what it knows already
 * it passes over.  Nothing is lost to a missed wake-up or a dropped link:
 * the cursor only moves on over entries read, and the connection is the
 * same that wrote them, so an entry is never seen before the write it
 * describes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "log.h"
#include "wuzhad.h"
#include "lua_gen.h"

#define FEED_COUNT	256		/* entries of each stream a call */
#define FEED_ID_MAX	48		/* "ms-seq" of a stream entry */

static struct {
	struct event	*timer;
	char		 alerts[FEED_ID_MAX];	/* last entry read */
	char		 changed[FEED_ID_MAX];
	int		 have;		/* cursors set */
	int		 asking;	/* the cursors are being read */
	int		 reading;	/* a feed call is in flight */
	uint64_t	 gen;		/* cursors of this reset only */
	uint64_t	 items, changes;	/* read so far, for the log */
} fd_st;

static void	feed_poll(void);

/* A stream entry id as Redis writes it: digits, '-', digits. */
static int
feed_id_ok(const char *s, size_t len)
{
	size_t	i, dash = 0;

	if (len == 0 || len >= FEED_ID_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '-') {
			if (dash++ || i == 0 || i == len - 1)
				return 0;
		} else if (s[i] < '0' || s[i] > '9')
			return 0;
	}
	return dash == 1;
}

/* One string of a reply, or NULL. */
static const char *
feed_str(const redisReply *r)
{
	return r != NULL && r->type == REDIS_REPLY_STRING ? r->str : NULL;
}

static void
feed_item(const redisReply *it)
{
	const char	*kind;

	if (it->type != REDIS_REPLY_ARRAY || it->elements < 2 ||
	    (kind = feed_str(it->element[0])) == NULL)
		return;
	if (strcmp(kind, "live") == 0) {
		const char	*id = feed_str(it->element[1]);

		if (id == NULL || alerts_get(id) != NULL || publish_pending(id))
			return;		/* ours, or known already */
		schedule_gone(id);
		alerts_learn(it->element + 1, it->elements - 1);
	} else if (strcmp(kind, "held") == 0)
		schedule_learn(it->element + 1, it->elements - 1);
	else if (strcmp(kind, "unscheduled") == 0 && it->elements == 4) {
		const char	*id = feed_str(it->element[1]);
		const char	*ref = feed_str(it->element[2]);
		const char	*who = feed_str(it->element[3]);

		if (id != NULL && ref != NULL && who != NULL &&
		    schedule_get(ref) != NULL)
			schedule_cancelled(ref, id, who);
	}
}

static void
feed_change(const redisReply *ch)
{
	const char	*what, *id, *node;

	if (ch->type != REDIS_REPLY_ARRAY || ch->elements != 3 ||
	    (what = feed_str(ch->element[0])) == NULL ||
	    (id = feed_str(ch->element[1])) == NULL ||
	    (node = feed_str(ch->element[2])) == NULL)
		return;
	if (strcmp(what, "acked") == 0) {
		if (alerts_get(id) != NULL)
			watch_alert_changed(id);
	} else if (strcmp(what, "escalated") == 0)
		remind_escalated_elsewhere(node);
	else if (strcmp(what, "clue") == 0)
		clue_arrived(id, node);
}

static void
feed_read_cb(redisReply *r, void *arg)
{
	const redisReply	*items, *changes;
	uint64_t		 gen = (uint64_t)(uintptr_t)arg;
	size_t			 i;

	fd_st.reading = 0;
	if (gen != fd_st.gen)
		return;		/* reset meanwhile: read again from there */
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 4 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_STRING ||
	    !feed_id_ok(r->element[0]->str, r->element[0]->len) ||
	    !feed_id_ok(r->element[1]->str, r->element[1]->len) ||
	    r->element[2]->type != REDIS_REPLY_ARRAY ||
	    r->element[3]->type != REDIS_REPLY_ARRAY) {
		if (r != NULL && r->type == REDIS_REPLY_ERROR)
			log_warnx("feed: reading the streams failed: %s",
			    r->str);
		return;		/* the same again at the next tick */
	}
	items = r->element[2];
	changes = r->element[3];
	for (i = 0; i < items->elements; i++)
		feed_item(items->element[i]);
	for (i = 0; i < changes->elements; i++)
		feed_change(changes->element[i]);
	fd_st.items += items->elements;
	fd_st.changes += changes->elements;
	strlcpy(fd_st.alerts, r->element[0]->str, sizeof(fd_st.alerts));
	strlcpy(fd_st.changed, r->element[1]->str, sizeof(fd_st.changed));
	/*
	 * A full batch of either: more is waiting.  Read on at the next loop
	 * turn, after I/O, so a backlog is taken in slices.
	 */
	if (items->elements >= FEED_COUNT || changes->elements >= FEED_COUNT)
		wz_next_turn(fd_st.timer);
}

static void
feed_poll(void)
{
	const char	*argv[LUA_FEED_ARGS];
	char		 count[16];

	if (fd_st.reading || !wz->listening || wz->stopping || !store_up())
		return;
	if (fd_st.have != 1) {
		if (!fd_st.asking)
			feed_reset();
		return;
	}
	snprintf(count, sizeof(count), "%d", FEED_COUNT);
	argv[LUA_FEED_PREFIX] = store_key("%s", "");
	argv[LUA_FEED_ALERTS] = fd_st.alerts;
	argv[LUA_FEED_CHANGED] = fd_st.changed;
	argv[LUA_FEED_COUNT] = count;
	argv[LUA_FEED_ME] = wz->name;
	if (store_eval(STORE_LUA_FEED, LUA_FEED_ARGS, argv, NULL, feed_read_cb,
	    (void *)(uintptr_t)fd_st.gen) == 0)
		fd_st.reading = 1;
}

static void
feed_timer_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct timeval	tv;
	uint32_t	ms = wz->conf->timeouts.feed_ms;

	feed_poll();
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(fd_st.timer, &tv);
}

/* The last entry of a stream, from XREVRANGE ... COUNT 1; "0-0" if none. */
static int
feed_last(const redisReply *r, char *out, size_t len)
{
	const redisReply	*e;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY)
		return -1;
	if (r->elements == 0) {
		strlcpy(out, "0-0", len);
		return 0;
	}
	e = r->element[0];
	if (e->type != REDIS_REPLY_ARRAY || e->elements < 1 ||
	    e->element[0]->type != REDIS_REPLY_STRING ||
	    !feed_id_ok(e->element[0]->str, e->element[0]->len))
		return -1;
	strlcpy(out, e->element[0]->str, len);
	return 0;
}

static void
feed_tail_cb(redisReply *r, void *arg)
{
	int	which = (int)(intptr_t)arg;
	char	*dst = which == 0 ? fd_st.alerts : fd_st.changed;

	if (feed_last(r, dst, FEED_ID_MAX) == -1) {
		log_warnx("feed: cannot read where the %s stream ends: %s; "
		    "asking again", which == 0 ? "alerts" : "changed",
		    r != NULL && r->type == REDIS_REPLY_ERROR ? r->str :
		    "no reply");
		fd_st.have = -1;	/* the pair is not whole */
	}
	if (which == 0)
		return;
	fd_st.asking = 0;
	if (fd_st.have == -1) {
		fd_st.have = 0;		/* the next poll asks again */
		return;
	}
	fd_st.have = 1;
	log_info("feed: reading other servers' work from alerts %s, changed "
	    "%s", fd_st.alerts, fd_st.changed);
}

void
feed_reset(void)
{
	const char	*argv[6];

	fd_st.gen++;
	fd_st.have = 0;
	if (fd_st.asking || !store_up())
		return;
	argv[0] = "XREVRANGE";
	argv[2] = "+";
	argv[3] = "-";
	argv[4] = "COUNT";
	argv[5] = "1";
	argv[1] = store_key("alerts");
	if (store_cmd(6, argv, NULL, feed_tail_cb, (void *)0) == -1)
		return;
	argv[1] = store_key("changed");
	if (store_cmd(6, argv, NULL, feed_tail_cb, (void *)1) == -1)
		return;
	fd_st.asking = 1;
}

void
feed_start(void)
{
	if (fd_st.timer == NULL) {
		if ((fd_st.timer = evtimer_new(wz->base, feed_timer_cb,
		    NULL)) == NULL)
			fatalx("feed_start: evtimer_new");
		feed_timer_cb(-1, 0, NULL);
	}
	if (fd_st.have != 1)
		feed_reset();
}

void
feed_free(void)
{
	if (fd_st.timer != NULL)
		event_free(fd_st.timer);
	fd_st.timer = NULL;
	if (fd_st.items + fd_st.changes > 0)
		log_debug("feed: %llu stream entries of alerts, %llu of "
		    "changes read", (unsigned long long)fd_st.items,
		    (unsigned long long)fd_st.changes);
}
