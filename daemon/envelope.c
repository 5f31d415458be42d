/* SPDX-License-Identifier: ISC */
/*
 * envelope: ENVELOPE_REQ, for `wuzhactl cap export`.  Answers with the
 * signed envelope of one alert exactly as alert:{id} keeps it (the console
 * verifies it again before it writes any CAP), and for an update or a
 * cancel with the issuer and issued_at of the alert it refers to, which
 * CAP's <references> names.  Two reads of one hash each: the cost does not
 * depend on the tree.
 *
 * Who may have it: whoever STATUS would answer about the alert (observe
 * over its target, or an observer below the target, or a receiver the
 * alert reached), and its own issuer.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "wuzhad.h"

/* One request on its way through Redis. */
struct envreq {
	struct conn	*c;		/* referenced */
	proto_id	 id;
	uint8_t		*env;		/* copy of the stored envelope */
	size_t		 envlen;
};

static void	envelope_ref_cb(redisReply *, void *);

static void
envreq_free(struct envreq *er)
{
	conn_unref(er->c);
	free(er->env);
	free(er);
}

/* A reply element as a NUL-terminated string in buf; "" if nil. */
static void
envelope_str(const redisReply *e, char *buf, size_t len)
{
	buf[0] = '\0';
	if (e->type == REDIS_REPLY_STRING && e->len < len) {
		memcpy(buf, e->str, e->len);
		buf[e->len] = '\0';
	}
}

/* May c's principal see an alert of target issued by issuer? */
static int
envelope_allowed(struct conn *c, const char *target_id, const char *issuer)
{
	struct tprincipal	*pr = conn_principal(c);
	struct tnode		*target;

	if (strcmp(pr->cn, issuer) == 0)
		return 1;
	if ((target = tree_node(wz->tree, target_id)) == NULL)
		return 0;
	if ((pr->rights & PROTO_R_OBSERVE) && (tree_covers(pr->node, target) ||
	    tree_covers(target, pr->node)))
		return 1;
	if ((pr->rights & PROTO_R_RECEIVE) && tree_covers(target, pr->node))
		return 1;
	return 0;
}

/* Send ENVELOPE with what is known, and end the request. */
static void
envelope_answer(struct envreq *er, const char *ref_issuer, uint64_t ref_at)
{
	struct proto_envelope_msg	 m;
	struct proto_buf		 b;

	memset(&m, 0, sizeof(m));
	strlcpy(m.id, er->id, sizeof(m.id));
	m.envelope.p = er->env;
	m.envelope.len = er->envlen;
	if (ref_issuer != NULL && proto_name_valid(ref_issuer,
	    strlen(ref_issuer))) {
		strlcpy(m.ref_issuer, ref_issuer, sizeof(m.ref_issuer));
		m.ref_issued_at = ref_at;
	}
	pbuf_init(&b);
	proto_envelope_msg_encode(&b, &m);
	/* The frame's length word counts the type byte and the payload. */
	if (b.err != 0 || b.len - PROTO_FRAME_HDR + 1 >
	    wz->conf->limits.max_frame) {
		log_warnx("%s: ENVELOPE %s: does not fit in a frame (%zu bytes)",
		    conn_name(er->c), er->id, b.len);
		conn_error(er->c, PROTO_E_LIMIT, er->id, "the envelope does not "
		    "fit in one frame");
	} else
		conn_send(er->c, &b);
	pbuf_free(&b);
	envreq_free(er);
}

/* HMGET alert:{id} env target issuer references. */
static void
envelope_cb(redisReply *r, void *arg)
{
	struct envreq		*er = arg;
	struct proto_envelope	 e;
	char			 target[PROTO_ID_MAX + 1];
	char			 issuer[PROTO_ID_MAX + 1];
	char			 ref[PROTO_ID_MAX + 1];
	const char		*argv[5];

	if (!conn_alive(er->c)) {
		envreq_free(er);
		return;
	}
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 4) {
		conn_error(er->c, PROTO_E_STORE, er->id, "store unavailable, try "
		    "again");
		envreq_free(er);
		return;
	}
	if (r->element[0]->type != REDIS_REPLY_STRING) {
		conn_error(er->c, PROTO_E_UNKNOWN_ALERT, er->id, "no such alert");
		envreq_free(er);
		return;
	}
	envelope_str(r->element[1], target, sizeof(target));
	envelope_str(r->element[2], issuer, sizeof(issuer));
	envelope_str(r->element[3], ref, sizeof(ref));
	if (!envelope_allowed(er->c, target, issuer)) {
		conn_error(er->c, PROTO_E_FORBIDDEN, er->id, "%s may not see "
		    "alert %s (for %s): not its issuer, no observe over it and "
		    "not sent to it", conn_principal(er->c)->cn, er->id, target);
		envreq_free(er);
		return;
	}
	/* What is stored was checked on the way in; check its shape anyway. */
	if (proto_envelope_decode((const uint8_t *)r->element[0]->str,
	    r->element[0]->len, &e) != 0) {
		log_warnx("ENVELOPE %s: the stored envelope does not decode",
		    er->id);
		conn_error(er->c, PROTO_E_INTERNAL, er->id, "the stored "
		    "envelope is damaged");
		envreq_free(er);
		return;
	}
	if ((er->env = malloc(r->element[0]->len)) == NULL)
		fatal("envelope_cb");
	memcpy(er->env, r->element[0]->str, r->element[0]->len);
	er->envlen = r->element[0]->len;
	if (ref[0] == '\0') {
		envelope_answer(er, NULL, 0);
		return;
	}
	argv[0] = "HMGET";
	argv[1] = store_key("alert:%s", ref);
	argv[2] = "issuer";
	argv[3] = "issued";
	if (store_cmd(4, argv, NULL, envelope_ref_cb, er) == -1) {
		conn_error(er->c, PROTO_E_STORE, er->id, "store unavailable, try "
		    "again");
		envreq_free(er);
	}
}

/* HMGET alert:{references} issuer issued: absent is answered without. */
static void
envelope_ref_cb(redisReply *r, void *arg)
{
	struct envreq	*er = arg;
	char		 issuer[PROTO_ID_MAX + 1], at[24], *end;
	uint64_t	 ms;

	if (!conn_alive(er->c)) {
		envreq_free(er);
		return;
	}
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
		conn_error(er->c, PROTO_E_STORE, er->id, "store unavailable, try "
		    "again");
		envreq_free(er);
		return;
	}
	envelope_str(r->element[0], issuer, sizeof(issuer));
	envelope_str(r->element[1], at, sizeof(at));
	ms = strtoull(at, &end, 10);
	if (issuer[0] == '\0' || at[0] == '\0' || *end != '\0')
		envelope_answer(er, NULL, 0);
	else
		envelope_answer(er, issuer, ms);
}

void
envelope_handle(struct conn *c, const uint8_t *p, size_t len)
{
	struct proto_envelope_req	 req;
	struct envreq			*er;
	const char			*argv[6];
	int				 rv;

	if ((rv = proto_envelope_req_decode(p, len, &req)) != 0) {
		conn_error(c, -rv, NULL, "bad ENVELOPE_REQ: %s",
		    proto_err_name(-rv));
		return;
	}
	if ((er = calloc(1, sizeof(*er))) == NULL)
		fatal("envelope_handle");
	conn_ref(c);
	er->c = c;
	strlcpy(er->id, req.id, sizeof(er->id));
	argv[0] = "HMGET";
	argv[1] = store_key("alert:%s", er->id);
	argv[2] = "env";
	argv[3] = "target";
	argv[4] = "issuer";
	argv[5] = "references";
	if (store_cmd(6, argv, NULL, envelope_cb, er) == -1) {
		conn_error(c, PROTO_E_STORE, er->id, "store unavailable, try "
		    "again");
		envreq_free(er);
	}
}
