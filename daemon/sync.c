/* SPDX-License-Identifier: ISC */
/*
 * sync: the catch-up of an agent that just said HELLO.  What it still
 * needs is the live alerts at its node and above (alerts_for) less what
 * it has acknowledged, asked of Redis in one script call
 * (lua/pending.lua); those go out flagged RESENT, in slices, then what
 * arrived meanwhile, then conn.c is told the sync is over
 * (conn_sync_done) and moves the connection to READY.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "wuzhad.h"
#include "lua_gen.h"

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

/* Send what arrived during the sync, then let fan-out take over. */
static void
sync_finish(struct conn *c)
{
	struct tprincipal	 *p = conn_principal(c);
	struct alert		**v;
	size_t			  i, n;

	v = alerts_for(p->node, conn_sync_seq(c), &n);
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
	log_info("conn %llu %s: %zu pending alert%s sent",
	    (unsigned long long)conn_id(c), conn_name(c), sr->sent,
	    sr->sent == 1 ? "" : "s");
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

	conn_set_sync_seq(c, alerts_arrived());
	v = alerts_for(p->node, 0, &n);
	if (n == 0) {
		free(v);
		conn_sync_done(c);
		return;
	}
	if ((sr = calloc(1, sizeof(*sr))) == NULL ||
	    (sr->ids = calloc(n, sizeof(*sr->ids))) == NULL ||
	    (argv = calloc(n + LUA_PENDING_ARGS, sizeof(*argv))) == NULL)
		fatal("sync_start");
	conn_ref(c);
	sr->c = c;
	sr->n = n;
	argv[LUA_PENDING_PREFIX] = store_key("%s", "");
	argv[LUA_PENDING_CN] = p->cn;
	for (i = 0; i < n; i++) {
		strlcpy(sr->ids[i], v[i]->r.id, sizeof(sr->ids[i]));
		argv[LUA_PENDING_ARGS + i] = sr->ids[i];
	}
	free(v);
	if (store_eval(STORE_LUA_PENDING, (int)n + LUA_PENDING_ARGS, argv, NULL,
	    sync_done_cb,
	    sr) == -1)
		sync_done_cb(NULL, sr);	/* Redis down: at least once, send all */
	free(argv);
}
