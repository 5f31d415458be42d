/* SPDX-License-Identifier: ISC */
/*
 * receipts: RECEIPTS_REQ, the signed acks of one alert as stored (ack.c
 * checks and stores them), for a console that may see the alert's
 * status: an observer those of its subtree (or of the node it names in
 * it), a principal with receive alone its own.  Each page comes from one
 * script call (lua/receipts.lua): one HSCAN step of rcpt:{id}, the
 * certificates of the signers on it and the alert's envelope, so that
 * the console checks every receipt itself against the CA without
 * trusting this daemon.  The page ends where the frame would be full or
 * the asked limit is reached; its cursor says where to go on: the HSCAN
 * cursor times 2^16 plus the entries of that HSCAN batch already sent.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "wuzhad.h"
#include "lua_gen.h"

#define RECEIPTS_SCAN		100	/* HSCAN COUNT per page */
#define RECEIPTS_MARGIN		256	/* bytes kept free under max_frame */
#define RECEIPTS_SKIP_MAX	0xffff	/* entries of one batch a cursor skips */
#define RECEIPTS_CERTS_MAX	256	/* distinct signers on one page */

/* A request waiting for its page from Redis. */
struct rcptreq {
	struct conn	*c;		/* referenced */
	proto_id	 id;
	proto_id	 node;		/* as asked, "" for the default */
	uint64_t	 scan;		/* HSCAN cursor */
	uint32_t	 skip;		/* entries of that batch already sent */
	uint32_t	 limit;		/* 0: what fits */
};

static void
rcptreq_free(struct rcptreq *rr)
{
	conn_unref(rr->c);
	free(rr);
}

/* The reply string e, or NULL if it is not one. */
static const redisReply *
receipts_str(const redisReply *r, size_t i)
{
	if (i >= r->elements || r->element[i]->type != REDIS_REPLY_STRING)
		return NULL;
	return r->element[i];
}

/*
 * Which receipts c may see of an alert targeted at target: those of
 * principals at or below *scope (an observer), or its own (*own set).
 * -1 and ERROR sent if none.
 */
static int
receipts_scope(struct rcptreq *rr, const char *target_id,
    struct tnode **scope, int *own)
{
	struct tprincipal	*pr = conn_principal(rr->c);
	struct tnode		*target, *asked;

	*scope = NULL;
	*own = 0;
	if ((target = tree_node(wz->tree, target_id)) == NULL) {
		conn_error(rr->c, PROTO_E_NODE, rr->id, "target %s is no longer "
		    "in the tree", target_id);
		return -1;
	}
	if (!(pr->rights & PROTO_R_OBSERVE)) {
		if (rr->node[0] != '\0') {
			conn_error(rr->c, PROTO_E_FORBIDDEN, rr->id, "%s may not "
			    "observe %s: receive alone shows only its own "
			    "receipts", pr->cn, rr->node);
			return -1;
		}
		if (!tree_covers(target, pr->node)) {
			conn_error(rr->c, PROTO_E_NOT_ADDRESSED, rr->id, "alert "
			    "%s was not sent to %s", rr->id, pr->cn);
			return -1;
		}
		*own = 1;
		return 0;
	}
	if (rr->node[0] != '\0') {
		if ((asked = tree_node(wz->tree, rr->node)) == NULL) {
			access_no_node(rr->c, rr->node, rr->id);
			return -1;
		}
	} else if (tree_covers(pr->node, target) ||
	    !tree_covers(target, pr->node))
		asked = target;
	else
		asked = pr->node;	/* an observer inside the target's subtree */
	if (!tree_covers(pr->node, asked)) {
		conn_error(rr->c, PROTO_E_FORBIDDEN, rr->id, "%s may not observe "
		    "%s", pr->cn, asked->id);
		return -1;
	}
	if (!tree_covers(asked, target) && !tree_covers(target, asked)) {
		conn_error(rr->c, PROTO_E_NODE, rr->id, "%s is not below the "
		    "alert's target %s", asked->id, target->id);
		return -1;
	}
	*scope = tree_covers(asked, target) ? target : asked;
	return 0;
}

/* Does the receipt field "cn|state" belong to what c may see? */
static int
receipts_wanted(const char *cn, const struct tnode *scope, int own,
    const struct tprincipal *self)
{
	struct tprincipal	*p;

	if (own)
		return strcmp(cn, self->cn) == 0;
	if ((p = tree_principal(wz->tree, cn)) == NULL)
		return 0;	/* gone from the tree: no node to place it */
	return tree_covers(scope, p->node);
}

/* The certificate DER of fingerprint fp (hex) in the reply's tail. */
static const redisReply *
receipts_cert(const redisReply *r, size_t from, const char *fp)
{
	const redisReply	*f, *d;
	size_t			 i;

	for (i = from; i + 1 < r->elements; i += 2) {
		if ((f = receipts_str(r, i)) == NULL ||
		    (d = receipts_str(r, i + 1)) == NULL)
			return NULL;
		if (f->len == 2 * PROTO_HASH_LEN && memcmp(f->str, fp,
		    f->len) == 0)
			return d->len > 0 ? d : NULL;
	}
	return NULL;
}

static void
receipts_done_cb(redisReply *r, void *arg)
{
	struct rcptreq			*rr = arg;
	struct tprincipal		*self = conn_principal(rr->c);
	struct proto_receipts		 m;
	struct proto_receipt_item	 it;
	struct proto_stored_receipt	 st;
	struct proto_buf		 items, b;
	const redisReply		*target, *env, *cur, *f, *v, *der;
	struct tnode			*scope;
	char				 cn[PROTO_ID_MAX + 1], fp[2 * PROTO_HASH_LEN + 1];
	char				 (*sent)[2 * PROTO_HASH_LEN + 1] = NULL;
	const char			*bar;
	size_t				 k, i, j, nsent = 0, room, need, mark;
	size_t				 taken = 0, listed = 0;
	uint64_t			 next;
	int				 own, state, full = 0;

	if (!conn_alive(rr->c))
		goto done;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 4 ||
	    (target = receipts_str(r, 0)) == NULL ||
	    (env = receipts_str(r, 1)) == NULL ||
	    (cur = receipts_str(r, 2)) == NULL ||
	    r->element[3]->type != REDIS_REPLY_INTEGER ||
	    (k = (size_t)r->element[3]->integer) > (r->elements - 4) / 2) {
		conn_error(rr->c, PROTO_E_STORE, rr->id, "store unavailable, try "
		    "again");
		goto done;
	}
	if (target->len == 0) {
		conn_error(rr->c, PROTO_E_UNKNOWN_ALERT, rr->id, "no such live "
		    "alert %s, nor an ended one", rr->id);
		goto done;
	}
	if (receipts_scope(rr, target->str, &scope, &own) == -1)
		goto done;
	if (env->len + RECEIPTS_MARGIN >= wz->conf->limits.max_frame) {
		conn_error(rr->c, PROTO_E_LIMIT, rr->id, "alert %s's envelope "
		    "leaves no room for receipts in a frame", rr->id);
		goto done;
	}
	room = wz->conf->limits.max_frame - env->len - RECEIPTS_MARGIN;
	if ((sent = calloc(RECEIPTS_CERTS_MAX, sizeof(*sent))) == NULL)
		fatal("receipts");
	pbuf_init(&items);
	mark = pbuf_list_begin(&items, 3);
	for (i = 0; i < k; i++) {
		f = r->element[4 + 2 * i];
		v = r->element[5 + 2 * i];
		if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
			break;
		if (rr->limit != 0 && listed == rr->limit) {
			full = 1;
			break;
		}
		/* "cn|state": a field that is not one is skipped. */
		if ((bar = memchr(f->str, '|', f->len)) == NULL ||
		    (size_t)(bar - f->str) > PROTO_ID_MAX ||
		    (state = proto_ack_state_parse(bar + 1)) <= 0 ||
		    proto_stored_receipt_decode((const uint8_t *)v->str, v->len,
		    &st) != 0) {
			taken++;
			continue;
		}
		memcpy(cn, f->str, (size_t)(bar - f->str));
		cn[bar - f->str] = '\0';
		if (!receipts_wanted(cn, scope, own, self)) {
			taken++;
			continue;
		}
		memset(&it, 0, sizeof(it));
		strlcpy(it.cn, cn, sizeof(it.cn));
		it.state = (uint8_t)state;
		it.receipt.p = (const uint8_t *)v->str;
		it.receipt.len = v->len;
		for (j = 0; j < PROTO_HASH_LEN; j++)
			snprintf(fp + 2 * j, 3, "%02x", st.cert_fp.p[j]);
		for (j = 0; j < nsent; j++)
			if (strcmp(sent[j], fp) == 0)
				break;
		der = NULL;
		if (j == nsent && nsent < RECEIPTS_CERTS_MAX &&
		    (der = receipts_cert(r, 4 + 2 * k, fp)) != NULL) {
			it.cert.p = (const uint8_t *)der->str;
			it.cert.len = der->len;
		}
		need = 2 + 3 + strlen(cn) + 4 + 3 + v->len +
		    (der != NULL ? 3 + der->len : 0);
		if (items.len + need > room || (j == nsent &&
		    nsent == RECEIPTS_CERTS_MAX)) {
			full = 1;
			break;
		}
		if (der != NULL)
			strlcpy(sent[nsent++], fp, sizeof(sent[0]));
		proto_receipt_item_put(&items, &it);
		taken++;
		listed++;
	}
	pbuf_list_end(&items, mark, 3);
	if (full && listed == 0 && (rr->limit == 0 || listed < rr->limit)) {
		pbuf_free(&items);
		conn_error(rr->c, PROTO_E_LIMIT, rr->id, "a receipt of alert %s "
		    "does not fit in a frame", rr->id);
		goto done;
	}
	/* Where the next page starts: this batch again, or the next one. */
	if (full || taken < k) {
		if (rr->skip + taken > RECEIPTS_SKIP_MAX) {
			pbuf_free(&items);
			conn_error(rr->c, PROTO_E_LIMIT, rr->id, "more than %d "
			    "receipts in one scan of alert %s", RECEIPTS_SKIP_MAX,
			    rr->id);
			goto done;
		}
		next = (rr->scan << 16) | (rr->skip + taken);
	} else
		next = strtoull(cur->str, NULL, 10) << 16;
	if (items.err != 0) {
		pbuf_free(&items);
		conn_error(rr->c, PROTO_E_INTERNAL, rr->id, "cannot encode the "
		    "receipts");
		goto done;
	}
	memset(&m, 0, sizeof(m));
	strlcpy(m.id, rr->id, sizeof(m.id));
	m.envelope.p = (const uint8_t *)env->str;
	m.envelope.len = env->len;
	/* The list field as built, less its own header. */
	m.items.p = items.data + PROTO_FIELD_HDR;
	m.items.len = items.len - PROTO_FIELD_HDR;
	m.cursor = next;
	pbuf_init(&b);
	proto_receipts_encode(&b, &m);
	if (b.err != 0)
		conn_error(rr->c, PROTO_E_INTERNAL, rr->id, "cannot encode the "
		    "receipts");
	else
		conn_send(rr->c, &b);
	log_debug("receipts %s for %s: %zu listed", rr->id, conn_name(rr->c),
	    listed);
	pbuf_free(&b);
	pbuf_free(&items);
done:
	free(sent);
	rcptreq_free(rr);
}

void
receipts_handle(struct conn *c, const uint8_t *p, size_t len)
{
	struct proto_receipts_req	 req;
	struct rcptreq			*rr;
	const char			*argv[LUA_RECEIPTS_ARGS];
	char				 scan[24], skip[24], count[24];
	int				 rv;

	if ((rv = proto_receipts_req_decode(p, len, &req)) != 0) {
		conn_error(c, -rv, NULL, "bad RECEIPTS_REQ: %s",
		    proto_err_name(-rv));
		return;
	}
	if (access_rights(c, PROTO_R_OBSERVE | PROTO_R_RECEIVE, req.id) == -1)
		return;
	if ((rr = calloc(1, sizeof(*rr))) == NULL)
		fatal("receipts_handle");
	conn_ref(c);
	rr->c = c;
	strlcpy(rr->id, req.id, sizeof(rr->id));
	strlcpy(rr->node, req.node, sizeof(rr->node));
	rr->scan = req.cursor >> 16;
	rr->skip = (uint32_t)(req.cursor & 0xffff);
	rr->limit = req.limit;
	snprintf(scan, sizeof(scan), "%" PRIu64, rr->scan);
	snprintf(skip, sizeof(skip), "%u", rr->skip);
	snprintf(count, sizeof(count), "%d", RECEIPTS_SCAN);
	argv[LUA_RECEIPTS_PREFIX] = store_key("%s", "");
	argv[LUA_RECEIPTS_ID] = rr->id;
	argv[LUA_RECEIPTS_CURSOR] = scan;
	argv[LUA_RECEIPTS_SKIP] = skip;
	argv[LUA_RECEIPTS_COUNT] = count;
	if (store_eval(STORE_LUA_RECEIPTS, LUA_RECEIPTS_ARGS, argv, NULL,
	    receipts_done_cb, rr) == -1) {
		conn_error(c, PROTO_E_STORE, rr->id, "store unavailable, try "
		    "again");
		rcptreq_free(rr);
	}
}
