/* SPDX-License-Identifier: ISC */
/*
 * agents: AGENTS_REQ, reachability before sending.  A security desk asks
 * which principals sit below its node and whether their agents are
 * connected, so that a class whose advisor's machine has been off for a
 * week is seen before a warning goes out, not after.
 *
 * Who is connected now, and to which daemon, comes from the presence
 * records every daemon sharing the Redis keeps (presence.c); when each
 * principal's agent last came or went comes from the `seen` hash, which
 * conn.c writes at every connect and disconnect.  The list is paged (a
 * city's root has 150,000 principals): the answer gives how many there
 * are below the node (a count the tree keeps) and how many are online now
 * (a count per node in the presence records), and the principals of one
 * page, from `offset`, found by counts without walking what comes before,
 * whose presence and `seen` times come in one script call
 * (lua/agents.lua).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "wuzhad.h"
#include "lua_gen.h"

#define AGENTS_MARGIN	256	/* bytes kept free under max_frame */
#define AGENTS_PAGE	1000	/* principals read for one page at most */

/* A request waiting for the `seen` times. */
struct agentsreq {
	struct conn		 *c;		/* referenced */
	proto_id		  root;
	char			(*cns)[PROTO_ID_MAX + 1];
	char			(*nodes)[PROTO_ID_MAX + 1];
	uint8_t			 *rights;
	size_t			  n, cap;
	uint32_t		  skip;		/* principals still to pass over */
	uint32_t		  offset;	/* as asked */
	uint32_t		  total;
};

/* Drop the request and its reference on the connection. */
static void
agentsreq_free(struct agentsreq *ar)
{
	conn_unref(ar->c);
	free(ar->cns);
	free(ar->nodes);
	free(ar->rights);
	free(ar);
}

/* Principals of one node in CN order, for a stable listing. */
static int
agents_cn_cmp(const void *x, const void *y)
{
	const struct tprincipal	*a = *(struct tprincipal *const *)x;
	const struct tprincipal	*b = *(struct tprincipal *const *)y;

	return strcmp(a->cn, b->cn);
}

/* Add the principals of n, by CN, from ar->skip on, to the page. */
static void
agents_list_node(struct agentsreq *ar, const struct tnode *n)
{
	struct tprincipal	**v;
	size_t			  i;
	void			 *nv;

	if ((v = calloc(n->nmembers, sizeof(*v))) == NULL)
		fatal("agents");
	memcpy(v, n->members, n->nmembers * sizeof(*v));
	if (n->nmembers > 1)
		qsort(v, n->nmembers, sizeof(*v), agents_cn_cmp);
	for (i = ar->skip; i < n->nmembers && ar->n < AGENTS_PAGE; i++) {
		if (ar->n == ar->cap) {
			ar->cap = ar->cap ? ar->cap * 2 : 16;
			if ((nv = reallocarray(ar->cns, ar->cap,
			    sizeof(*ar->cns))) == NULL)
				fatal("agents");
			ar->cns = nv;
			if ((nv = reallocarray(ar->nodes, ar->cap,
			    sizeof(*ar->nodes))) == NULL)
				fatal("agents");
			ar->nodes = nv;
			if ((nv = reallocarray(ar->rights, ar->cap,
			    sizeof(*ar->rights))) == NULL)
				fatal("agents");
			ar->rights = nv;
		}
		strlcpy(ar->cns[ar->n], v[i]->cn, sizeof(ar->cns[0]));
		strlcpy(ar->nodes[ar->n], n->id, sizeof(ar->nodes[0]));
		ar->rights[ar->n] = (uint8_t)v[i]->rights;
		ar->n++;
	}
	ar->skip = 0;
	free(v);
}

/*
 * One page of the principals under n, in pre-order by node (children by
 * id) and by CN within a node.  A subtree wholly before the page is
 * passed over by its count (tnode.principals), so a page costs the path
 * down to it and its own nodes, not the tree before it.
 */
static void
agents_page(struct agentsreq *ar, const struct tnode *n)
{
	uint32_t	i;

	if (ar->n >= AGENTS_PAGE)
		return;
	if (ar->skip >= n->principals) {
		ar->skip -= n->principals;
		return;
	}
	if (ar->skip >= n->nmembers)
		ar->skip -= n->nmembers;
	else
		agents_list_node(ar, n);
	for (i = 0; i < n->nchildren && ar->n < AGENTS_PAGE; i++)
		agents_page(ar, n->children[i]);
}

#define AGENTS_PER_CN	4	/* seen, server, count, since */

/* The presence and `seen` times are in: answer with the list. */
static void
agents_seen_cb(redisReply *r, void *arg)
{
	struct agentsreq	*ar = arg;
	struct proto_agents	 ag;
	struct proto_agent_item	 it;
	struct proto_buf	 b, out;
	redisReply *const	*e;
	uint32_t		 max = wz->conf->limits.max_frame;
	size_t			 i, mark, before;

	if (!conn_alive(ar->c))
		goto done;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY ||
	    r->elements != 1 + AGENTS_PER_CN * ar->n ||
	    r->element[0]->type != REDIS_REPLY_INTEGER) {
		conn_error(ar->c, PROTO_E_STORE, NULL, "store unavailable, try "
		    "again (%s)", r != NULL && r->type == REDIS_REPLY_ERROR ?
		    r->str : "no reply");
		goto done;
	}
	memset(&ag, 0, sizeof(ag));
	strlcpy(ag.node, ar->root, sizeof(ag.node));
	ag.server_time = now_ms();
	ag.total = ar->total;
	ag.online = r->element[0]->integer < 0 ? 0 :
	    (uint32_t)r->element[0]->integer;
	ag.offset = ar->offset;
	pbuf_init(&b);
	mark = pbuf_list_begin(&b, 3);
	for (i = 0; i < ar->n; i++) {
		memset(&it, 0, sizeof(it));
		strlcpy(it.cn, ar->cns[i], sizeof(it.cn));
		strlcpy(it.node, ar->nodes[i], sizeof(it.node));
		it.rights = ar->rights[i];
		e = &r->element[1 + AGENTS_PER_CN * i];
		if (e[0]->type == REDIS_REPLY_STRING)
			it.last_seen = strtoull(e[0]->str, NULL, 10);
		if (e[1]->type == REDIS_REPLY_STRING &&
		    proto_name_valid(e[1]->str, e[1]->len) &&
		    e[2]->type == REDIS_REPLY_INTEGER && e[2]->integer > 0 &&
		    e[3]->type == REDIS_REPLY_INTEGER) {
			strlcpy(it.server, e[1]->str, sizeof(it.server));
			it.online = e[2]->integer > UINT32_MAX ? UINT32_MAX :
			    (uint32_t)e[2]->integer;
			it.since = e[3]->integer < 0 ? 0 :
			    (uint64_t)e[3]->integer;
		}
		before = b.len;
		proto_agent_item_put(&b, &it);
		if (b.len - mark - PROTO_FIELD_HDR > UINT16_MAX ||
		    b.len + AGENTS_MARGIN > max) {
			b.len = before;
			break;
		}
	}
	/* Those after this page, for the next one (or an old client). */
	if ((uint64_t)ar->offset + i < ar->total)
		ag.omitted = ar->total - ar->offset - (uint32_t)i;
	pbuf_list_end(&b, mark, 3);
	if (b.err != 0) {
		conn_error(ar->c, PROTO_E_INTERNAL, NULL, "cannot encode the "
		    "list of agents (error %d)", b.err);
		pbuf_free(&b);
		goto done;
	}
	ag.principals.p = b.data + PROTO_FIELD_HDR;
	ag.principals.len = b.len - PROTO_FIELD_HDR;
	pbuf_init(&out);
	proto_agents_encode(&out, &ag);
	conn_send(ar->c, &out);
	pbuf_free(&out);
	pbuf_free(&b);
 done:
	agentsreq_free(ar);
}

/*
 * AGENTS_REQ: an observer asks about its node or one below it.  The
 * principals are taken from the tree now, in pre-order by node and by CN
 * within a node; their `seen` times come in one HMGET, and the answer
 * goes out from agents_seen_cb.
 */
void
agents_handle(struct conn *c, const uint8_t *p, size_t len)
{
	struct proto_agents_req	  rq;
	struct agentsreq	 *ar;
	struct tnode		 *root;
	const char		**argv;
	char			  now[24];
	size_t			  i;
	int			  rv;

	if ((rv = proto_agents_req_decode(p, len, &rq)) != 0) {
		conn_error(c, -rv, NULL, "bad AGENTS_REQ: %s",
		    proto_err_name(-rv));
		return;
	}
	if ((root = access_node(c, PROTO_R_OBSERVE, rq.node, NULL)) == NULL)
		return;
	if ((ar = calloc(1, sizeof(*ar))) == NULL)
		fatal("agents_handle");
	conn_ref(c);
	ar->c = c;
	strlcpy(ar->root, root->id, sizeof(ar->root));
	ar->skip = ar->offset = rq.offset;
	ar->total = root->principals;
	agents_page(ar, root);
	if ((argv = calloc(ar->n + LUA_AGENTS_ARGS, sizeof(*argv))) == NULL)
		fatal("agents_handle");
	snprintf(now, sizeof(now), "%" PRIu64, now_ms());
	argv[LUA_AGENTS_PREFIX] = store_key("%s", "");
	argv[LUA_AGENTS_NOW] = now;
	argv[LUA_AGENTS_ROOT] = ar->root;
	for (i = 0; i < ar->n; i++)
		argv[LUA_AGENTS_ARGS + i] = ar->cns[i];
	rv = store_eval(STORE_LUA_AGENTS, (int)(ar->n + LUA_AGENTS_ARGS), argv,
	    NULL, agents_seen_cb, ar);
	free(argv);
	if (rv == -1) {
		conn_error(c, PROTO_E_STORE, NULL, "store unavailable, try "
		    "again");
		agentsreq_free(ar);
	}
}
