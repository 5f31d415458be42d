/* SPDX-License-Identifier: ISC */
/*
 * status: STATUS_REQ.  A principal with observe over a node reads the
 * acknowledgement tree of an alert below that node: per node the agents
 * targeted and how many have delivered, read and relayed it (counters
 * kept per node by ack.c, so the cost is per node, not per agent), and on
 * request each principal's own state ("who has not read").
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "wuzhad.h"

#define STATUS_MARGIN	256	/* bytes kept free under max_frame */
/* Largest encoded member item: length, cn, node, state, at. */
#define STATUS_MEMBER_MAX	(2 + 2 * (PROTO_FIELD_HDR + PROTO_ID_MAX) + \
				    PROTO_FIELD_HDR + 1 + PROTO_FIELD_HDR + 8)

struct statusreq {
	struct conn	 *c;		/* referenced */
	proto_id	  id;
	proto_id	  node;		/* asked for, "" = default */
	uint8_t		  flags;
	proto_id	  root;		/* subtree shown */
	char		(*cns)[PROTO_ID_MAX + 1];
	char		(*cnodes)[PROTO_ID_MAX + 1];
	size_t		  ncns;
};

static void	status_query(struct statusreq *, const char *target);

static void
statusreq_free(struct statusreq *sr)
{
	conn_unref(sr->c);
	free(sr->cns);
	free(sr->cnodes);
	free(sr);
}

static void
status_member_cb(struct tnode *n, int depth, void *arg)
{
	struct statusreq	*sr = arg;
	size_t			 i;
	void			*nv;

	for (i = 0; i < n->nmembers; i++) {
		if (!(n->members[i]->rights & PROTO_R_RECEIVE))
			continue;
		if ((sr->ncns & (sr->ncns - 1)) == 0) {
			size_t cap = sr->ncns ? sr->ncns * 2 : 8;

			if ((nv = reallocarray(sr->cns, cap, sizeof(*sr->cns))) == NULL)
				fatal("status");
			sr->cns = nv;
			if ((nv = reallocarray(sr->cnodes, cap,
			    sizeof(*sr->cnodes))) == NULL)
				fatal("status");
			sr->cnodes = nv;
		}
		strlcpy(sr->cns[sr->ncns], n->members[i]->cn, sizeof(sr->cns[0]));
		strlcpy(sr->cnodes[sr->ncns], n->id, sizeof(sr->cnodes[0]));
		sr->ncns++;
	}
}

/* Build the reply from {meta, rate, members}. */
struct status_build {
	struct proto_buf	*b;
	struct htab		 rate;
	struct tnode		*root;
};

static uint32_t
status_count(struct status_build *sb, const char *node, const char *what)
{
	char		 key[PROTO_ID_MAX + 16];
	const char	*v;

	snprintf(key, sizeof(key), "%s:%s", node, what);
	if ((v = htab_get(&sb->rate, key)) == NULL)
		return 0;
	return (uint32_t)strtoul(v, NULL, 10);
}

static void
status_node_cb(struct tnode *n, int depth, void *arg)
{
	struct status_build	*sb = arg;
	struct proto_status_node sn;

	memset(&sn, 0, sizeof(sn));
	strlcpy(sn.node, n->id, sizeof(sn.node));
	if (n != sb->root && n->parent != NULL)
		strlcpy(sn.parent, n->parent->id, sizeof(sn.parent));
	sn.tier = (uint8_t)n->tier;
	sn.name.p = (const uint8_t *)n->name;
	sn.name.len = strlen(n->name);
	sn.targeted = status_count(sb, n->id, "targeted");
	sn.delivered = status_count(sb, n->id, "delivered");
	sn.read = status_count(sb, n->id, "read");
	sn.relayed = status_count(sb, n->id, "relayed");
	sn.reach = status_count(sb, n->id, "reach");
	proto_status_node_put(sb->b, &sn);
}

static void
status_done_cb(redisReply *r, void *arg)
{
	struct statusreq	*sr = arg;
	struct status_build	 sb;
	struct proto_status	 st;
	struct proto_status_member m;
	struct proto_buf	 b;
	redisReply		*meta, *rate, *mem;
	struct tnode		*root;
	size_t			 i, mark, omitted = 0;
	uint32_t		 max = wz->conf->limits.max_frame;

	if (!conn_alive(sr->c))
		goto out;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		conn_error(sr->c, PROTO_E_STORE, sr->id, "store unavailable, try "
		    "again");
		goto out;
	}
	if (r->elements == 0) {
		conn_error(sr->c, PROTO_E_UNKNOWN_ALERT, sr->id, "no such alert");
		goto out;
	}
	meta = r->element[0];
	rate = r->element[1];
	mem = r->element[2];
	if ((root = tree_node(wz->tree, sr->root)) == NULL) {
		conn_error(sr->c, PROTO_E_NODE, sr->id, "node %s left the tree",
		    sr->root);
		goto out;
	}
	memset(&st, 0, sizeof(st));
	strlcpy(st.id, sr->id, sizeof(st.id));
	st.seq = strtoull(meta->element[0]->str, NULL, 10);
	strlcpy(st.target, meta->element[1]->str, sizeof(st.target));
	st.issued_at = strtoull(meta->element[2]->str, NULL, 10);
	st.expires_at = strtoull(meta->element[3]->str, NULL, 10);

	htab_init(&sb.rate);
	for (i = 0; i + 1 < rate->elements; i += 2)
		htab_put(&sb.rate, rate->element[i]->str, rate->element[i + 1]->str);
	sb.root = root;

	/* Lists first, into their own buffer, then the frame around them. */
	pbuf_init(&b);
	sb.b = &b;
	mark = pbuf_list_begin(&b, 6);
	tree_walk(root, status_node_cb, &sb);
	pbuf_list_end(&b, mark, 6);
	htab_clear(&sb.rate, NULL);
	if (b.err != 0) {
		conn_error(sr->c, PROTO_E_TOO_LONG, sr->id, "the tree under %s "
		    "is too large for one STATUS; ask about a node below it",
		    root->id);
		pbuf_free(&b);
		goto out;
	}
	st.nodes.p = b.data + PROTO_FIELD_HDR;
	st.nodes.len = b.len - PROTO_FIELD_HDR;
	if ((sr->flags & PROTO_SF_MEMBERS) && mem->elements == sr->ncns) {
		size_t nodes_len = b.len;

		mark = pbuf_list_begin(&b, 7);
		for (i = 0; i < sr->ncns; i++) {
			memset(&m, 0, sizeof(m));
			strlcpy(m.cn, sr->cns[i], sizeof(m.cn));
			strlcpy(m.node, sr->cnodes[i], sizeof(m.node));
			if (mem->element[i]->type == REDIS_REPLY_STRING &&
			    mem->element[i]->len > 0) {
				char *colon;

				m.state = (uint8_t)strtoul(mem->element[i]->str,
				    &colon, 10);
				if (*colon == ':')
					m.at = strtoull(colon + 1, NULL, 10);
			}
			/* Keep the list (u16 length) and the frame within their
			 * limits; say how many were left out. */
			if (b.len - nodes_len + STATUS_MEMBER_MAX > UINT16_MAX ||
			    b.len + STATUS_MEMBER_MAX + STATUS_MARGIN > max) {
				omitted = sr->ncns - i;
				break;
			}
			proto_status_member_put(&b, &m);
		}
		pbuf_list_end(&b, mark, 7);
		st.nodes.p = b.data + PROTO_FIELD_HDR;
		st.nodes.len = nodes_len - PROTO_FIELD_HDR;
		st.members.p = b.data + nodes_len + PROTO_FIELD_HDR;
		st.members.len = b.len - nodes_len - PROTO_FIELD_HDR;
	}
	st.omitted = (uint32_t)omitted;
	if (omitted > 0)
		log_warnx("conn %llu %s: status of %s: %zu members left out to "
		    "fit %u bytes", (unsigned long long)conn_id(sr->c),
		    conn_name(sr->c), sr->id, omitted, max);
	{
		struct proto_buf out;

		pbuf_init(&out);
		proto_status_encode(&out, &st);
		if (out.err != 0 || out.len > (size_t)max + 4) {
			conn_error(sr->c, PROTO_E_TOO_LONG, sr->id, "status of "
			    "%s does not fit in %u bytes; ask for a smaller "
			    "subtree", root->id, max);
			out.len = 0;
		} else
			conn_send(sr->c, &out);
		pbuf_free(&out);
	}
	pbuf_free(&b);
out:
	statusreq_free(sr);
}

static void
status_target_cb(redisReply *r, void *arg)
{
	struct statusreq	*sr = arg;

	if (!conn_alive(sr->c)) {
		statusreq_free(sr);
		return;
	}
	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		conn_error(sr->c, PROTO_E_STORE, sr->id, "store unavailable, try "
		    "again");
		statusreq_free(sr);
		return;
	}
	if (r->type != REDIS_REPLY_STRING) {
		conn_error(sr->c, PROTO_E_UNKNOWN_ALERT, sr->id, "no such alert");
		statusreq_free(sr);
		return;
	}
	status_query(sr, r->str);
}

/* With the target known: check rights, pick the subtree, ask Redis. */
static void
status_query(struct statusreq *sr, const char *target_id)
{
	struct tprincipal	 *pr = conn_principal(sr->c);
	struct tnode		 *target, *asked, *root;
	const char		**argv;
	size_t			  i;

	if ((target = tree_node(wz->tree, target_id)) == NULL) {
		conn_error(sr->c, PROTO_E_NODE, sr->id, "target %s is no longer "
		    "in the tree", target_id);
		goto fail;
	}
	if (sr->node[0] != '\0') {
		if ((asked = tree_node(wz->tree, sr->node)) == NULL) {
			conn_error(sr->c, PROTO_E_NODE, sr->id, "unknown node %s",
			    sr->node);
			goto fail;
		}
	} else if (tree_covers(pr->node, target) || !tree_covers(target, pr->node))
		asked = target;
	else
		asked = pr->node;	/* an observer inside the target's subtree */
	if (!tree_covers(pr->node, asked)) {
		conn_error(sr->c, PROTO_E_FORBIDDEN, sr->id, "%s may not observe %s",
		    pr->cn, asked->id);
		goto fail;
	}
	if (tree_covers(asked, target))
		root = target;
	else if (tree_covers(target, asked))
		root = asked;
	else {
		conn_error(sr->c, PROTO_E_NODE, sr->id, "%s is not below the "
		    "alert's target %s", asked->id, target->id);
		goto fail;
	}
	strlcpy(sr->root, root->id, sizeof(sr->root));
	if (sr->flags & PROTO_SF_MEMBERS)
		tree_walk(root, status_member_cb, sr);
	if ((argv = calloc(sr->ncns + 2, sizeof(*argv))) == NULL)
		fatal("status_query");
	argv[0] = store_key("%s", "");
	argv[1] = sr->id;
	for (i = 0; i < sr->ncns; i++)
		argv[i + 2] = sr->cns[i];
	if (store_eval(STORE_LUA_STATUS, (int)sr->ncns + 2, argv, NULL,
	    status_done_cb, sr) == -1) {
		free(argv);
		conn_error(sr->c, PROTO_E_STORE, sr->id, "store unavailable, try "
		    "again");
		goto fail;
	}
	free(argv);
	return;
fail:
	statusreq_free(sr);
}

void
status_handle(struct conn *c, const uint8_t *p, size_t len)
{
	struct tprincipal	*pr = conn_principal(c);
	struct proto_status_req	 req;
	struct statusreq	*sr;
	struct alert		*a;
	const char		*argv[3];
	int			 rv;

	if ((rv = proto_status_req_decode(p, len, &req)) != 0) {
		conn_error(c, -rv, NULL, "bad STATUS_REQ: %s", proto_err_name(-rv));
		return;
	}
	if (!(pr->rights & PROTO_R_OBSERVE)) {
		conn_error(c, PROTO_E_FORBIDDEN, req.id, "%s may not observe",
		    pr->cn);
		return;
	}
	if ((sr = calloc(1, sizeof(*sr))) == NULL)
		fatal("status_handle");
	conn_ref(c);
	sr->c = c;
	strlcpy(sr->id, req.id, sizeof(sr->id));
	strlcpy(sr->node, req.node, sizeof(sr->node));
	sr->flags = req.flags;
	if ((a = alerts_get(req.id)) != NULL) {
		status_query(sr, a->target);
		return;
	}
	/* Not live (expired, or never): its target is in Redis, if anywhere. */
	argv[0] = "HGET";
	argv[1] = store_key("alert:%s", req.id);
	argv[2] = "target";
	if (store_cmd(3, argv, NULL, status_target_cb, sr) == -1) {
		conn_error(c, PROTO_E_STORE, req.id, "store unavailable, try again");
		statusreq_free(sr);
	}
}
