/* SPDX-License-Identifier: ISC */
/*
 * clue: fraud clues reported upward (the plan's 线索).  Any principal may
 * send CLUE: a body it signed with its own key, which names it and its
 * node.  The daemon checks the signature against the session's
 * certificate, the reporter against the CN and the node against the tree
 * and the certificate's wuzha:path:, then stores the clue for the
 * observers at the reporter's school and at its police unit, never for
 * anyone beside or below (lua/clue.lua), and answers CLUE_OK once Redis
 * (and WAIT, if configured) has it.
 *
 * A clue is pending for an observer there until that observer marks it
 * received (CLUE_MARK, also signed), so it is pushed (CLUE_PUSH) to the
 * observing agents online when it arrives, on whichever daemon they are
 * (the `changed` stream, feed.c), and again on every connect until then.
 * States only move forward: none -> received -> handled.  CLUES_REQ
 * lists them, paged: an observer's pending or all at its node, anyone's
 * own.  All work is per clue, never per node of the tree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "log.h"
#include "wuzhad.h"
#include "lua_gen.h"

#define CLUE_PUSH_MAX	64	/* pending clues pushed on one connect */
#define CLUE_PAGE	50	/* CLUES: clues a page unless asked for fewer */
#define CLUE_PAGE_MAX	200	/* and at most */
#define CLUE_SCAN	1000	/* ids one CLUES_REQ looks at in Redis */
#define CLUE_MARGIN	256	/* bytes kept free under max_frame */

/* A CLUE or CLUE_MARK waiting for Redis (and WAIT). */
struct cluereq {
	struct conn	*c;		/* referenced */
	proto_id	 id;
	proto_id	 school;
	proto_id	 police;
	uint64_t	 seq;
	int		 mark;		/* a CLUE_MARK */
	int		 code;		/* the script's */
	uint8_t		 state;
};

/* A CLUES_REQ or a push waiting for lua/clues.lua. */
struct cluesreq {
	struct conn	*c;		/* referenced; NULL for clue_arrived */
	proto_id	 id;		/* the one clue asked for, or "" */
	proto_id	 node;		/* clue_arrived: whose observers */
	uint8_t		 which;
	uint32_t	 limit;
	int		 push;		/* answer with CLUE_PUSH frames */
};

static void
cluereq_free(struct cluereq *cr)
{
	conn_unref(cr->c);
	free(cr);
}

static void
cluesreq_free(struct cluesreq *cq)
{
	if (cq->c != NULL)
		conn_unref(cq->c);
	free(cq);
}

/* One string or integer of a reply as a number, 0 if neither. */
static uint64_t
clue_u64(const redisReply *e)
{
	if (e->type == REDIS_REPLY_INTEGER)
		return e->integer > 0 ? (uint64_t)e->integer : 0;
	if (e->type == REDIS_REPLY_STRING)
		return strtoull(e->str, NULL, 10);
	return 0;
}

static void
clue_hex(const uint8_t *p, size_t len, char *out)
{
	static const char	 x[] = "0123456789abcdef";
	size_t			 i;

	for (i = 0; i < len; i++) {
		out[2 * i] = x[p[i] >> 4];
		out[2 * i + 1] = x[p[i] & 15];
	}
	out[2 * len] = '\0';
}

/*
 * Where a clue from node n goes: the school at or above it and the
 * police unit at or above that ("" where there is none).
 */
static void
clue_route(const struct tnode *n, char *school, char *police)
{
	school[0] = police[0] = '\0';
	for (; n != NULL; n = n->parent) {
		if (n->tier == PROTO_TIER_SCHOOL && school[0] == '\0')
			strlcpy(school, n->id, sizeof(proto_id));
		if (n->tier == PROTO_TIER_POLICE) {
			strlcpy(police, n->id, sizeof(proto_id));
			return;
		}
	}
}

/*
 * The signer's certificate: its DER (the caller frees it with
 * OPENSSL_free) and its hash, in hex.  -1 if it cannot be had.
 */
static int
clue_cert(struct conn *c, uint8_t **der, int *derlen, uint8_t *fp,
    char *fphex)
{
	X509	*cert = conn_peer_cert(c);

	*der = NULL;
	if (cert == NULL || proto_clue_cert_fp(cert, fp) == -1 ||
	    (*derlen = i2d_X509(cert, der)) <= 0)
		return -1;
	clue_hex(fp, PROTO_CLUE_FP_LEN, fphex);
	return 0;
}

/* The stored form: body, fp, sig; into out (the caller frees it). */
static int
clue_stored(const struct proto_clue_msg *m, const uint8_t *fp,
    struct proto_buf *out)
{
	struct proto_clue_stored	 st;

	st.body = m->body;
	st.cert_fp.p = fp;
	st.cert_fp.len = PROTO_CLUE_FP_LEN;
	st.sig = m->sig;
	pbuf_init(out);
	proto_clue_stored_encode(out, &st);
	return out->err == 0 ? 0 : -1;
}

/*
 * The audit leaves of a clue or a mark (kind) as stored, and of the
 * signer's certificate (logged by the script only if it is new there).
 */
static int
clue_audit(uint8_t kind, const struct proto_buf *stored, const uint8_t *der,
    int derlen, struct proto_buf *ent, struct proto_buf *cent)
{
	uint64_t	now = now_ms();

	pbuf_init(ent);
	pbuf_init(cent);
	if (audit_entry_encode(ent, kind, now, wz->name, stored->data,
	    stored->len) == -1 || ent->err != 0 ||
	    audit_entry_encode(cent, AUDIT_K_CERT, now, wz->name, der,
	    (size_t)derlen) == -1 || cent->err != 0) {
		pbuf_free(ent);
		pbuf_free(cent);
		return -1;
	}
	return 0;
}

/* --- CLUE -------------------------------------------------------------- */

static void
clue_answer(struct cluereq *cr)
{
	struct proto_clue_ok	 ok;
	struct proto_buf	 b;

	if (!conn_alive(cr->c))
		return;
	memset(&ok, 0, sizeof(ok));
	strlcpy(ok.id, cr->id, sizeof(ok.id));
	ok.seq = cr->seq;
	ok.state = cr->state;
	pbuf_init(&b);
	proto_clue_ok_encode(&b, &ok);
	conn_send(cr->c, &b);
	pbuf_free(&b);
}

/* Redis and its replicas have the clue: answer, then tell the observers. */
static void
clue_waited_cb(int ok, void *arg)
{
	struct cluereq	*cr = arg;

	if (!ok) {
		if (conn_alive(cr->c))
			conn_error(cr->c, PROTO_E_STORE, cr->id, "store "
			    "unavailable, try again (not confirmed by %u "
			    "replica%s)", wz->conf->redis.wait_replicas,
			    wz->conf->redis.wait_replicas == 1 ? "" : "s");
		cluereq_free(cr);
		return;
	}
	clue_answer(cr);
	if (cr->code == 1) {
		/* Ours: the feed passes over what this daemon wrote. */
		if (cr->school[0] != '\0')
			clue_arrived(cr->id, cr->school);
		if (cr->police[0] != '\0')
			clue_arrived(cr->id, cr->police);
	}
	cluereq_free(cr);
}

static void
clue_stored_cb(redisReply *r, void *arg)
{
	struct cluereq	*cr = arg;
	long long	 code;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER) {
		if (conn_alive(cr->c))
			conn_error(cr->c, PROTO_E_STORE, cr->id, "store "
			    "unavailable, try again (%s)", r != NULL &&
			    r->type == REDIS_REPLY_ERROR ? r->str : "no reply");
		cluereq_free(cr);
		return;
	}
	code = r->element[0]->integer;
	cr->code = (int)code;
	cr->seq = clue_u64(r->element[1]);
	if (code == 0 || code == -1) {
		if (conn_alive(cr->c) && code == 0)
			conn_error(cr->c, PROTO_E_CLUE_DUPLICATE, cr->id,
			    "clue id %s is taken by another clue", cr->id);
		else if (conn_alive(cr->c))
			conn_error(cr->c, PROTO_E_CLUE_LIMIT, cr->id, "more "
			    "than %u clues in an hour (clues.rate); try again "
			    "in %llu s", wz->conf->clues.rate,
			    (unsigned long long)(cr->seq / 1000 + 1));
		cluereq_free(cr);
		return;
	}
	if (code == 1)
		log_info("conn %llu %s: clue %s stored, seq %llu, for %s%s%s",
		    (unsigned long long)conn_id(cr->c), conn_name(cr->c),
		    cr->id, (unsigned long long)cr->seq, cr->school,
		    cr->school[0] && cr->police[0] ? " and " : "", cr->police);
	store_wait(clue_waited_cb, cr);
}

/* CLUE: check, store, answer (see the top of this file). */
void
clue_handle(struct conn *c, const uint8_t *p, size_t len)
{
	struct tprincipal	*pr = conn_principal(c);
	struct proto_clue_msg	 m;
	struct proto_clue	 cl;
	struct proto_scope	 sc;
	struct proto_buf	 stored, ent, cent;
	struct cluereq		*cr;
	const char		*argv[LUA_CLUE_ARGS];
	size_t			 lens[LUA_CLUE_ARGS];
	uint8_t			 fp[PROTO_CLUE_FP_LEN], *der = NULL;
	char			 fphex[2 * PROTO_CLUE_FP_LEN + 1], why[256];
	char			 now[24], keep[24], rate[12];
	int			 rv, derlen = 0, i;

	if ((rv = proto_clue_msg_decode(p, len, &m)) != 0) {
		conn_error(c, -rv, NULL, "bad CLUE: %s", proto_err_name(-rv));
		return;
	}
	if ((rv = proto_clue_decode(m.body.p, m.body.len, &cl)) != 0) {
		if (rv == -PROTO_E_TOO_LONG)
			conn_error(c, PROTO_E_CLUE_LIMIT, NULL, "clue too long: "
			    "text at most %d bytes, contact at most %d",
			    PROTO_CLUE_TEXT_MAX, PROTO_CLUE_CONTACT_MAX);
		else
			conn_error(c, PROTO_E_CLUE_BAD, NULL, "bad clue body: "
			    "%s", proto_err_name(-rv));
		return;
	}
	if (strcmp(cl.reporter, pr->cn) != 0) {
		conn_error(c, PROTO_E_CLUE_BAD, cl.id, "clue %s: reporter %s "
		    "is not you (%s)", cl.id, cl.reporter, pr->cn);
		return;
	}
	if (strcmp(cl.node, pr->node->id) != 0) {
		conn_error(c, PROTO_E_CLUE_BAD, cl.id, "clue %s: node %s is "
		    "not your place (%s)", cl.id, cl.node, pr->node->id);
		return;
	}
	if (proto_cert_scope(conn_peer_cert(c), &sc, why, sizeof(why)) != 0 ||
	    (sc.depth > 0 && strcmp(sc.path[sc.depth - 1], cl.node) != 0)) {
		conn_error(c, PROTO_E_CLUE_BAD, cl.id, "clue %s: node %s is "
		    "not the place your certificate names", cl.id, cl.node);
		return;
	}
	if ((rv = proto_clue_verify_sig(m.body.p, m.body.len, 0, m.sig.p,
	    m.sig.len, conn_peer_cert(c), why, sizeof(why))) != 0) {
		conn_error(c, -rv, cl.id, "clue %s: %s", cl.id, why);
		return;
	}
	if (store_lost() != NULL || store_reconciling() != NULL) {
		/* As for PUBLISH: clue-seq would restart; the agent retries. */
		conn_error(c, PROTO_E_STORE, cl.id, "%s", store_lost() != NULL ?
		    store_lost() : store_reconciling());
		return;
	}
	pbuf_init(&stored);
	if (clue_cert(c, &der, &derlen, fp, fphex) == -1 ||
	    clue_stored(&m, fp, &stored) == -1 ||
	    clue_audit(AUDIT_K_CLUE, &stored, der, derlen, &ent, &cent) == -1) {
		OPENSSL_free(der);
		pbuf_free(&stored);
		conn_error(c, PROTO_E_INTERNAL, cl.id, "cannot keep the clue");
		return;
	}
	if ((cr = calloc(1, sizeof(*cr))) == NULL)
		fatal("clue_handle");
	cr->c = c;
	conn_ref(c);
	strlcpy(cr->id, cl.id, sizeof(cr->id));
	clue_route(pr->node, cr->school, cr->police);
	snprintf(now, sizeof(now), "%llu", (unsigned long long)now_ms());
	snprintf(keep, sizeof(keep), "%llu",
	    (unsigned long long)wz->conf->clues.keep_days * 86400000ULL);
	snprintf(rate, sizeof(rate), "%u", wz->conf->clues.rate);
	argv[LUA_CLUE_PREFIX] = store_key("%s", "");
	argv[LUA_CLUE_ID] = cr->id;
	argv[LUA_CLUE_STORED] = (const char *)stored.data;
	argv[LUA_CLUE_REPORTER] = pr->cn;
	argv[LUA_CLUE_NODE] = pr->node->id;
	argv[LUA_CLUE_SCHOOL] = cr->school;
	argv[LUA_CLUE_POLICE] = cr->police;
	argv[LUA_CLUE_FP] = fphex;
	argv[LUA_CLUE_CERT] = (const char *)der;
	argv[LUA_CLUE_NOW] = now;
	argv[LUA_CLUE_KEEP] = keep;
	argv[LUA_CLUE_RATE] = rate;
	argv[LUA_CLUE_BY] = wz->name;
	argv[LUA_CLUE_AUDIT] = (const char *)ent.data;
	argv[LUA_CLUE_AUDIT_CERT] = (const char *)cent.data;
	/* The binary arguments have their lengths; strlen for the text. */
	lens[LUA_CLUE_STORED] = stored.len;
	lens[LUA_CLUE_CERT] = (size_t)derlen;
	lens[LUA_CLUE_AUDIT] = ent.len;
	lens[LUA_CLUE_AUDIT_CERT] = cent.len;
	for (i = 0; i < LUA_CLUE_ARGS; i++)
		if (i != LUA_CLUE_STORED && i != LUA_CLUE_CERT &&
		    i != LUA_CLUE_AUDIT && i != LUA_CLUE_AUDIT_CERT)
			lens[i] = strlen(argv[i]);
	if (store_eval(STORE_LUA_CLUE, LUA_CLUE_ARGS, argv, lens,
	    clue_stored_cb, cr) == -1)
		clue_stored_cb(NULL, cr);
	OPENSSL_free(der);
	pbuf_free(&stored);
	pbuf_free(&ent);
	pbuf_free(&cent);
}

/* --- CLUE_MARK --------------------------------------------------------- */

static void
clue_marked_waited_cb(int ok, void *arg)
{
	struct cluereq	*cr = arg;

	if (!ok) {
		if (conn_alive(cr->c))
			conn_error(cr->c, PROTO_E_STORE, cr->id, "store "
			    "unavailable, try again (mark not confirmed by "
			    "replicas)");
		cluereq_free(cr);
		return;
	}
	clue_answer(cr);
	cluereq_free(cr);
}

static void
clue_marked_cb(redisReply *r, void *arg)
{
	struct cluereq	*cr = arg;
	long long	 code;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER) {
		if (conn_alive(cr->c))
			conn_error(cr->c, PROTO_E_STORE, cr->id, "store "
			    "unavailable, try again (%s)", r != NULL &&
			    r->type == REDIS_REPLY_ERROR ? r->str : "no reply");
		cluereq_free(cr);
		return;
	}
	code = r->element[0]->integer;
	if (code < 0 || r->elements < 3) {
		if (!conn_alive(cr->c))
			;
		else if (code == -PROTO_E_CLUE_UNKNOWN)
			conn_error(cr->c, PROTO_E_CLUE_UNKNOWN, cr->id, "no "
			    "clue %s", cr->id);
		else if (code == -PROTO_E_CLUE_NOT_YOURS)
			conn_error(cr->c, PROTO_E_CLUE_NOT_YOURS, cr->id,
			    "clue %s did not go to your node %s", cr->id,
			    conn_principal(cr->c)->node->id);
		else if (code == -PROTO_E_CLUE_BACKWARDS)
			conn_error(cr->c, PROTO_E_CLUE_BACKWARDS, cr->id,
			    "clue %s: nobody has received it yet; mark it "
			    "received before handled", cr->id);
		else
			conn_error(cr->c, PROTO_E_INTERNAL, cr->id, "clue %s: "
			    "unexpected answer from the store", cr->id);
		cluereq_free(cr);
		return;
	}
	cr->code = (int)code;
	cr->state = (uint8_t)clue_u64(r->element[1]);
	cr->seq = clue_u64(r->element[2]);
	if (code != 1) {
		clue_answer(cr);	/* a repeat: nothing was written */
		cluereq_free(cr);
		return;
	}
	log_info("conn %llu %s: clue %s marked, now %s",
	    (unsigned long long)conn_id(cr->c), conn_name(cr->c), cr->id,
	    proto_clue_state_name(cr->state));
	store_wait(clue_marked_waited_cb, cr);
}

/* CLUE_MARK: an observer at the clue's school or police unit, signed. */
void
clue_mark_handle(struct conn *c, const uint8_t *p, size_t len)
{
	struct tprincipal	*pr = conn_principal(c);
	struct proto_clue_msg	 m;
	struct proto_clue_mark	 mk;
	struct proto_buf	 stored, ent, cent;
	struct cluereq		*cr;
	const char		*argv[LUA_CLUE_MARK_ARGS];
	size_t			 lens[LUA_CLUE_MARK_ARGS];
	uint8_t			 fp[PROTO_CLUE_FP_LEN], *der = NULL;
	char			 fphex[2 * PROTO_CLUE_FP_LEN + 1], why[256];
	char			 now[24], state[4], *note;
	int			 rv, derlen = 0, i;

	if ((rv = proto_clue_msg_decode(p, len, &m)) != 0) {
		conn_error(c, -rv, NULL, "bad CLUE_MARK: %s",
		    proto_err_name(-rv));
		return;
	}
	if ((rv = proto_clue_mark_decode(m.body.p, m.body.len, &mk)) != 0) {
		if (rv == -PROTO_E_TOO_LONG)
			conn_error(c, PROTO_E_CLUE_LIMIT, NULL, "note too long: "
			    "at most %d bytes", PROTO_CLUE_NOTE_MAX);
		else
			conn_error(c, PROTO_E_CLUE_BAD, NULL, "bad mark body: "
			    "%s", proto_err_name(-rv));
		return;
	}
	if (strcmp(mk.by, pr->cn) != 0) {
		conn_error(c, PROTO_E_CLUE_BAD, mk.clue, "mark of clue %s: by "
		    "%s is not you (%s)", mk.clue, mk.by, pr->cn);
		return;
	}
	if (!(pr->rights & PROTO_R_OBSERVE)) {
		conn_error(c, PROTO_E_CLUE_NOT_YOURS, mk.clue, "clue %s: %s "
		    "does not observe, so marks no clue", mk.clue, pr->cn);
		return;
	}
	if ((rv = proto_clue_verify_sig(m.body.p, m.body.len, 1, m.sig.p,
	    m.sig.len, conn_peer_cert(c), why, sizeof(why))) != 0) {
		conn_error(c, -rv, mk.clue, "mark of clue %s: %s", mk.clue,
		    why);
		return;
	}
	pbuf_init(&stored);
	if (clue_cert(c, &der, &derlen, fp, fphex) == -1 ||
	    clue_stored(&m, fp, &stored) == -1 ||
	    clue_audit(AUDIT_K_CLUE_MARK, &stored, der, derlen, &ent,
	    &cent) == -1) {
		OPENSSL_free(der);
		pbuf_free(&stored);
		conn_error(c, PROTO_E_INTERNAL, mk.clue, "cannot keep the mark");
		return;
	}
	/* An absent note is an empty view with no bytes behind it. */
	if ((note = strndup(mk.note.len > 0 ? (const char *)mk.note.p : "",
	    mk.note.len)) == NULL ||
	    (cr = calloc(1, sizeof(*cr))) == NULL)
		fatal("clue_mark_handle");
	cr->c = c;
	cr->mark = 1;
	conn_ref(c);
	strlcpy(cr->id, mk.clue, sizeof(cr->id));
	snprintf(now, sizeof(now), "%llu", (unsigned long long)now_ms());
	snprintf(state, sizeof(state), "%u", mk.state);
	argv[LUA_CLUE_MARK_PREFIX] = store_key("%s", "");
	argv[LUA_CLUE_MARK_ID] = cr->id;
	argv[LUA_CLUE_MARK_CN] = pr->cn;
	argv[LUA_CLUE_MARK_NODE] = pr->node->id;
	argv[LUA_CLUE_MARK_STATE] = state;
	argv[LUA_CLUE_MARK_STORED] = (const char *)stored.data;
	argv[LUA_CLUE_MARK_NOTE] = note;
	argv[LUA_CLUE_MARK_NOW] = now;
	argv[LUA_CLUE_MARK_FP] = fphex;
	argv[LUA_CLUE_MARK_CERT] = (const char *)der;
	argv[LUA_CLUE_MARK_AUDIT] = (const char *)ent.data;
	argv[LUA_CLUE_MARK_AUDIT_CERT] = (const char *)cent.data;
	/* The binary arguments have their lengths; strlen for the text. */
	lens[LUA_CLUE_MARK_STORED] = stored.len;
	lens[LUA_CLUE_MARK_CERT] = (size_t)derlen;
	lens[LUA_CLUE_MARK_AUDIT] = ent.len;
	lens[LUA_CLUE_MARK_AUDIT_CERT] = cent.len;
	for (i = 0; i < LUA_CLUE_MARK_ARGS; i++)
		if (i != LUA_CLUE_MARK_STORED && i != LUA_CLUE_MARK_CERT &&
		    i != LUA_CLUE_MARK_AUDIT && i != LUA_CLUE_MARK_AUDIT_CERT)
			lens[i] = strlen(argv[i]);
	lens[LUA_CLUE_MARK_NOTE] = mk.note.len;
	if (store_eval(STORE_LUA_CLUE_MARK, LUA_CLUE_MARK_ARGS, argv, lens,
	    clue_marked_cb, cr) == -1)
		clue_marked_cb(NULL, cr);
	pbuf_free(&ent);
	pbuf_free(&cent);
	free(note);
	OPENSSL_free(der);
	pbuf_free(&stored);
}

/* --- CLUES_REQ and pushes ---------------------------------------------- */

/*
 * One item of lua/clues.lua's answer into it (views into the reply);
 * cert gets the reporter's certificate.  -1 if it is not one.
 */
static int
clue_item(const redisReply *e, struct proto_clue_item *it,
    struct proto_view *cert)
{
	size_t	i;

	memset(it, 0, sizeof(*it));
	if (e->type != REDIS_REPLY_ARRAY || e->elements != 10)
		return -1;
	for (i = 0; i < 10; i++)
		if (e->element[i]->type != REDIS_REPLY_STRING &&
		    e->element[i]->type != REDIS_REPLY_INTEGER)
			return -1;
	if (e->element[1]->type != REDIS_REPLY_STRING ||
	    e->element[9]->type != REDIS_REPLY_STRING)
		return -1;
	it->seq = clue_u64(e->element[0]);
	it->clue.p = (const uint8_t *)e->element[1]->str;
	it->clue.len = e->element[1]->len;
	it->state = (uint8_t)clue_u64(e->element[2]);
	if (it->state > PROTO_CLUE_HANDLED)
		return -1;
	if (e->element[3]->type == REDIS_REPLY_STRING)
		strlcpy(it->school, e->element[3]->str, sizeof(it->school));
	if (e->element[4]->type == REDIS_REPLY_STRING)
		strlcpy(it->police, e->element[4]->str, sizeof(it->police));
	it->received = clue_u64(e->element[5]) != 0;
	if (e->element[6]->type == REDIS_REPLY_STRING)
		strlcpy(it->by, e->element[6]->str, sizeof(it->by));
	if (e->element[7]->type == REDIS_REPLY_STRING) {
		it->note.p = (const uint8_t *)e->element[7]->str;
		it->note.len = e->element[7]->len;
	}
	it->changed = clue_u64(e->element[8]);
	cert->p = (const uint8_t *)e->element[9]->str;
	cert->len = e->element[9]->len;
	return 0;
}

/* May the principal of c see this clue? */
static int
clue_visible(const struct tprincipal *pr, const struct proto_clue_item *it)
{
	struct proto_clue_stored	st;
	struct proto_clue		cl;

	if ((pr->rights & PROTO_R_OBSERVE) &&
	    (strcmp(pr->node->id, it->school) == 0 ||
	    strcmp(pr->node->id, it->police) == 0))
		return 1;
	return proto_clue_stored_decode(it->clue.p, it->clue.len, &st) == 0 &&
	    proto_clue_decode(st.body.p, st.body.len, &cl) == 0 &&
	    strcmp(cl.reporter, pr->cn) == 0;
}

/* The CLUE_PUSH frame of one item, as a blob; NULL if it cannot be. */
static struct blob *
clue_push_blob(const struct proto_clue_item *it, const struct proto_view *cert,
    uint8_t flags)
{
	struct proto_clue_push	 m;
	struct proto_buf	 b;
	struct blob		*bl;

	memset(&m, 0, sizeof(m));
	m.seq = it->seq;
	m.clue = it->clue;
	m.cert = *cert;
	m.state = it->state;
	strlcpy(m.school, it->school, sizeof(m.school));
	strlcpy(m.police, it->police, sizeof(m.police));
	m.flags = flags;
	pbuf_init(&b);
	proto_clue_push_encode(&b, &m);
	if (b.err != 0 || b.len > (size_t)wz->conf->limits.max_frame +
	    PROTO_FRAME_HDR - 1) {
		pbuf_free(&b);
		return NULL;
	}
	bl = blob_new(&b);
	pbuf_free(&b);
	return bl;
}

static void
clue_push_one_cb(struct conn *c, void *arg)
{
	conn_send_blob(c, arg);
}

/* clue_arrived's answer: push the clue to the observers at the node. */
static void
clue_arrived_push(struct cluesreq *cq, const redisReply *r)
{
	struct proto_clue_item	 it;
	struct proto_view	 cert;
	struct tnode		*n;
	struct blob		*bl;
	size_t			 k;

	if (r->elements < 2 || clue_item(r->element[1], &it, &cert) == -1)
		return;		/* gone meanwhile */
	if ((n = tree_node(wz->tree, cq->node)) == NULL)
		return;
	if ((bl = clue_push_blob(&it, &cert, 0)) == NULL) {
		log_warnx("clue %s: does not fit a frame; not pushed", cq->id);
		return;
	}
	k = conn_observers_at(n, clue_push_one_cb, bl);
	blob_unref(bl);
	if (k > 0)
		log_info("clue %s: pushed to %zu observer%s at %s", cq->id, k,
		    k == 1 ? "" : "s", cq->node);
}

/* An observer's pending clues after connect. */
static void
clue_pending_push(struct cluesreq *cq, const redisReply *r)
{
	struct proto_clue_item	 it;
	struct proto_view	 cert;
	struct blob		*bl;
	size_t			 i, sent = 0;

	for (i = 1; i < r->elements; i++) {
		if (!conn_alive(cq->c) || conn_state(cq->c) != CONN_S_READY)
			break;
		if (clue_item(r->element[i], &it, &cert) == -1 ||
		    (bl = clue_push_blob(&it, &cert, PROTO_CF_RESENT)) == NULL)
			continue;
		conn_send_blob(cq->c, bl);
		blob_unref(bl);
		sent++;
	}
	if (sent > 0)
		log_info("conn %llu %s: %zu pending clue%s pushed",
		    (unsigned long long)conn_id(cq->c), conn_name(cq->c), sent,
		    sent == 1 ? "" : "s");
}

/* The CLUES answer: as many items as fit one frame. */
static void
clues_answer(struct cluesreq *cq, const redisReply *r)
{
	struct tprincipal	*pr = conn_principal(cq->c);
	struct proto_clue_item	 it;
	struct proto_view	 cert;
	struct proto_clues	 m;
	struct proto_buf	 list, b;
	size_t			 i, mark, room, before;
	uint64_t		 next = clue_u64(r->element[0]), last = 0;

	/* A list field holds at most UINT16_MAX bytes, whatever max_frame. */
	room = wz->conf->limits.max_frame > CLUE_MARGIN ?
	    wz->conf->limits.max_frame - CLUE_MARGIN : 0;
	if (room > UINT16_MAX - CLUE_MARGIN)
		room = UINT16_MAX - CLUE_MARGIN;
	pbuf_init(&list);
	mark = pbuf_list_begin(&list, 3);
	for (i = 1; i < r->elements; i++) {
		if (clue_item(r->element[i], &it, &cert) == -1)
			continue;
		if (cq->id[0] != '\0' && !clue_visible(pr, &it)) {
			conn_error(cq->c, PROTO_E_CLUE_NOT_YOURS, cq->id, "clue "
			    "%s is not yours to see", cq->id);
			pbuf_free(&list);
			return;
		}
		before = list.len;
		proto_clue_item_put(&list, &it);
		if (list.err == 0 && list.len > room) {
			list.len = before;	/* the rest on the next page */
			next = last;
			break;
		}
		last = it.seq;
	}
	if (cq->id[0] != '\0' && r->elements < 2) {
		conn_error(cq->c, PROTO_E_CLUE_UNKNOWN, cq->id, "no clue %s",
		    cq->id);
		pbuf_free(&list);
		return;
	}
	pbuf_list_end(&list, mark, 3);
	if (list.err != 0) {
		conn_error(cq->c, PROTO_E_INTERNAL, NULL, "cannot encode CLUES");
		pbuf_free(&list);
		return;
	}
	memset(&m, 0, sizeof(m));
	m.server_time = now_ms();
	m.which = cq->which;
	/* The list field as built, without its tag and length. */
	m.clues.p = list.data + PROTO_FIELD_HDR;
	m.clues.len = list.len - PROTO_FIELD_HDR;
	m.next = next;
	pbuf_init(&b);
	proto_clues_encode(&b, &m);
	if (b.err != 0)
		conn_error(cq->c, PROTO_E_INTERNAL, NULL, "cannot encode CLUES");
	else
		conn_send(cq->c, &b);
	pbuf_free(&b);
	pbuf_free(&list);
}

static void
clues_read_cb(redisReply *r, void *arg)
{
	struct cluesreq	*cq = arg;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 1) {
		if (cq->c != NULL && conn_alive(cq->c) && !cq->push)
			conn_error(cq->c, PROTO_E_STORE, NULL, "store "
			    "unavailable, try again (%s)", r != NULL &&
			    r->type == REDIS_REPLY_ERROR ? r->str : "no reply");
		else
			log_warnx("clues not read for pushing: %s", r != NULL &&
			    r->type == REDIS_REPLY_ERROR ? r->str :
			    "store unavailable");
		cluesreq_free(cq);
		return;
	}
	if (cq->c == NULL)
		clue_arrived_push(cq, r);
	else if (!conn_alive(cq->c))
		;
	else if (cq->push)
		clue_pending_push(cq, r);
	else
		clues_answer(cq, r);
	cluesreq_free(cq);
}

/* Run lua/clues.lua for cq. */
static void
clues_read(struct cluesreq *cq, const char *which, const char *key,
    const char *cn, uint64_t after, int certs)
{
	const char	*argv[LUA_CLUES_ARGS];
	char		 a[24], lim[12], scan[12];

	snprintf(a, sizeof(a), "%llu", (unsigned long long)after);
	snprintf(lim, sizeof(lim), "%u", cq->limit);
	snprintf(scan, sizeof(scan), "%d", CLUE_SCAN);
	argv[LUA_CLUES_PREFIX] = store_key("%s", "");
	argv[LUA_CLUES_WHICH] = which;
	argv[LUA_CLUES_KEY] = key;
	argv[LUA_CLUES_CN] = cn;
	argv[LUA_CLUES_AFTER] = a;
	argv[LUA_CLUES_LIMIT] = lim;
	argv[LUA_CLUES_SCAN] = scan;
	argv[LUA_CLUES_CERTS] = certs ? "1" : "0";
	if (store_eval(STORE_LUA_CLUES, LUA_CLUES_ARGS, argv, NULL,
	    clues_read_cb, cq) == -1)
		clues_read_cb(NULL, cq);
}

/* CLUES_REQ: pending or all at my node (observers), mine, or one by id. */
void
clues_handle(struct conn *c, const uint8_t *p, size_t len)
{
	struct tprincipal	*pr = conn_principal(c);
	struct proto_clues_req	 q;
	struct cluesreq		*cq;
	const char		*which;
	int			 rv;

	if ((rv = proto_clues_req_decode(p, len, &q)) != 0) {
		conn_error(c, -rv, NULL, "bad CLUES_REQ: %s",
		    proto_err_name(-rv));
		return;
	}
	if (q.which != PROTO_CLUES_MINE && q.id[0] == '\0' &&
	    !(pr->rights & PROTO_R_OBSERVE)) {
		conn_error(c, PROTO_E_CLUE_NOT_YOURS, NULL, "%s does not "
		    "observe: only its own clues (mine) are its to see", pr->cn);
		return;
	}
	if ((cq = calloc(1, sizeof(*cq))) == NULL)
		fatal("clues_handle");
	cq->c = c;
	conn_ref(c);
	cq->which = q.which;
	cq->limit = q.limit == 0 ? CLUE_PAGE : q.limit > CLUE_PAGE_MAX ?
	    CLUE_PAGE_MAX : q.limit;
	strlcpy(cq->id, q.id, sizeof(cq->id));
	if (q.id[0] != '\0')
		clues_read(cq, "one", q.id, pr->cn, 0, 0);
	else {
		which = q.which == PROTO_CLUES_PENDING ? "pending" :
		    q.which == PROTO_CLUES_ALL ? "all" : "mine";
		clues_read(cq, which, q.which == PROTO_CLUES_MINE ? pr->cn :
		    pr->node->id, pr->cn, q.after, 0);
	}
}

/* See wuzhad.h. */
void
clue_observer_ready(struct conn *c)
{
	struct tprincipal	*pr = conn_principal(c);
	struct cluesreq		*cq;

	if ((cq = calloc(1, sizeof(*cq))) == NULL)
		fatal("clue_observer_ready");
	cq->c = c;
	conn_ref(c);
	cq->push = 1;
	cq->which = PROTO_CLUES_PENDING;
	cq->limit = CLUE_PUSH_MAX;
	clues_read(cq, "pending", pr->node->id, pr->cn, 0, 1);
}

static void
clue_count_cb(struct conn *c, void *arg)
{
	(void)c;
	(void)arg;
}

/* See wuzhad.h: one read of the clue, if anyone here observes there. */
void
clue_arrived(const char *id, const char *node)
{
	struct cluesreq	*cq;
	struct tnode	*n;

	if ((n = tree_node(wz->tree, node)) == NULL ||
	    conn_observers_at(n, clue_count_cb, NULL) == 0)
		return;
	if ((cq = calloc(1, sizeof(*cq))) == NULL)
		fatal("clue_arrived");
	strlcpy(cq->id, id, sizeof(cq->id));
	strlcpy(cq->node, node, sizeof(cq->node));
	cq->push = 1;
	cq->limit = 1;
	clues_read(cq, "one", id, "", 0, 1);
}
