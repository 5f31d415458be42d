/* SPDX-License-Identifier: ISC */
/*
 * presence: who is connected, told to Redis, so that `agents`, `pending`
 * and status on any daemon sharing the Redis see the agents of all of
 * them (lua/online.lua has the layout).  A daemon writes only its own
 * records: when a principal's first agent comes here or its last one
 * goes (one script call per connection event, never per alert), and a
 * heartbeat every PRESENCE_BEAT_MS that keeps it counted as alive for
 * PRESENCE_TTL_MS.  A daemon killed outright drops out of everyone's view
 * when its heartbeat runs out, and what it left is cleared a minute later
 * by whoever beats next.
 *
 * Whenever Redis comes (back) up, or the tree changes shape, the records
 * are written again from the connections, a slice at a time: the script
 * is idempotent, so an event that lands meanwhile does no harm.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "log.h"
#include "wuzhad.h"
#include "lua_gen.h"

#define PRESENCE_BEAT_MS	2000	/* heartbeat every */
#define PRESENCE_TTL_MS		10000	/* alive this long after one */
#define PRESENCE_SLICE		2000	/* principals a call while rebuilding */
#define PRESENCE_DEPTH		8	/* nodes from a principal to its root */

static struct {
	struct event	*rebuild;	/* the next slice */
	uint64_t	 after;		/* connections up to this id done */
	uint64_t	 beat_at;	/* mono_ms of the last heartbeat */
} pr_st;

/* One call's arguments, grown as principals are added. */
struct pr_args {
	const char	**argv;
	size_t		  n, cap;
	char		**own;		/* numbers formatted for it, freed after */
	size_t		  nown, owncap;
	size_t		  np;		/* principals in it */
};

static void
pr_args_push(struct pr_args *a, const char *s)
{
	void	*nv;

	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 64;
		if ((nv = reallocarray(a->argv, a->cap, sizeof(*a->argv))) ==
		    NULL)
			fatal("presence");
		a->argv = nv;
	}
	a->argv[a->n++] = s;
}

/* Push a number, formatted into a string the call owns. */
static void
pr_args_num(struct pr_args *a, uint64_t v)
{
	void	*nv;
	char	*s;

	if (a->nown == a->owncap) {
		a->owncap = a->owncap ? a->owncap * 2 : 64;
		if ((nv = reallocarray(a->own, a->owncap, sizeof(*a->own))) ==
		    NULL)
			fatal("presence");
		a->own = nv;
	}
	if (asprintf(&s, "%" PRIu64, v) == -1)
		fatal("presence");
	a->own[a->nown++] = s;
	pr_args_push(a, s);
}

static void
pr_args_start(struct pr_args *a)
{
	memset(a, 0, sizeof(*a));
	pr_args_push(a, store_key("%s", ""));
	pr_args_push(a, wz->name);
	pr_args_num(a, now_ms());
	pr_args_num(a, PRESENCE_TTL_MS);
}

/* p's agents here now (count 0: none), with its node chain. */
static void
pr_args_principal(struct pr_args *a, const struct tprincipal *p,
    unsigned count, uint64_t since)
{
	const struct tnode	*n;
	size_t			 depth = 0;

	for (n = p->node; n != NULL && depth < PRESENCE_DEPTH; n = n->parent)
		depth++;
	pr_args_push(a, p->cn);
	pr_args_num(a, count);
	pr_args_num(a, since);
	pr_args_num(a, depth);
	for (n = p->node, depth = 0; n != NULL && depth < PRESENCE_DEPTH;
	    n = n->parent, depth++)
		pr_args_push(a, n->id);
	a->np++;
}

static void
pr_args_free(struct pr_args *a)
{
	size_t	i;

	for (i = 0; i < a->nown; i++)
		free(a->own[i]);
	free(a->own);
	free(a->argv);
}

static void
presence_cb(redisReply *r, void *arg)
{
	(void)arg;
	if (r != NULL && r->type == REDIS_REPLY_ERROR)
		log_warnx("presence: not stored: %s", r->str);
}

static void
pr_args_send(struct pr_args *a)
{
	/* Lost with Redis down: the rebuild when it is back writes it. */
	store_eval(STORE_LUA_PRESENCE, (int)a->n, a->argv, NULL, presence_cb,
	    NULL);
	pr_args_free(a);
}

/* c was put on (or taken off) its node's list: say how p stands here. */
void
presence_note(const struct tprincipal *p)
{
	struct pr_args	 a;
	uint64_t	 since;
	unsigned	 count;

	if (p == NULL || !store_up() || wz->stopping)
		return;		/* stopping: presence_stop clears it all */
	count = conn_presence(p, &since);
	pr_args_start(&a);
	pr_args_principal(&a, p, count, since);
	pr_args_send(&a);
}

static void
presence_rebuild_one(struct conn *c, void *arg)
{
	struct pr_args		*a = arg;
	struct tprincipal	*p = conn_principal(c);
	uint64_t		 since;
	unsigned		 count;

	if (!conn_first_of_principal(c))
		return;		/* once per principal, at its first agent */
	count = conn_presence(p, &since);
	pr_args_principal(a, p, count, since);
}

static void
presence_rebuild_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct pr_args		a;
	uint64_t		last;

	if (!store_up())
		return;		/* done again when it is back */
	pr_args_start(&a);
	last = conn_walk_agents(pr_st.after, PRESENCE_SLICE,
	    presence_rebuild_one, &a);
	if (a.np > 0)
		pr_args_send(&a);
	else
		pr_args_free(&a);
	if (last == 0) {
		log_debug("presence: written again from the connections");
		return;
	}
	pr_st.after = last;
	wz_next_turn(pr_st.rebuild);
}

/*
 * Write this daemon's presence again from scratch: its old records go
 * first (they may be from an earlier run under the same name, or from
 * before Redis lost its data), then the connections, in slices.
 */
void
presence_rebuild(void)
{
	const char	*argv[3];

	if (pr_st.rebuild == NULL &&
	    (pr_st.rebuild = evtimer_new(wz->base, presence_rebuild_cb,
	    NULL)) == NULL)
		fatalx("presence: evtimer_new");
	argv[0] = "DEL";
	argv[1] = store_key("on:%s", wz->name);
	argv[2] = store_key("oncount:%s", wz->name);
	if (store_cmd(3, argv, NULL, presence_cb, NULL) == -1)
		return;
	pr_st.after = 0;
	wz_next_turn(pr_st.rebuild);
}

/* Once a second: the heartbeat, when due. */
void
presence_tick(void)
{
	struct pr_args	a;
	uint64_t	t = mono_ms();

	if (!store_up() || t - pr_st.beat_at < PRESENCE_BEAT_MS)
		return;
	pr_st.beat_at = t;
	pr_args_start(&a);
	pr_args_send(&a);
}

/* Stopping: drop out of everyone's view now rather than at the TTL. */
void
presence_stop(void)
{
	const char	*argv[3];

	argv[0] = "ZREM";
	argv[1] = store_key("daemons");
	argv[2] = wz->name;
	store_cmd(3, argv, NULL, presence_cb, NULL);
	argv[0] = "DEL";
	argv[1] = store_key("on:%s", wz->name);
	argv[2] = store_key("oncount:%s", wz->name);
	store_cmd(3, argv, NULL, presence_cb, NULL);
}

void
presence_free(void)
{
	if (pr_st.rebuild != NULL)
		event_free(pr_st.rebuild);
	pr_st.rebuild = NULL;
}
