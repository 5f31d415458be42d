/* SPDX-License-Identifier: ISC */
/*
 * ctl_report_audit: count a report's acknowledgements again from the
 * audit log (wuzhactl report --verified).
 *
 * The log holds every accepted alert (its signed envelope), every
 * accepted receipt (signed by the agent that acknowledged) and every
 * signer's certificate, whose wuzha:path: URI is the CA's word for where
 * the principal sits: police unit, school, department, class.  So the log
 * alone says, for each alert, who confirmed which state, and where they
 * are, without trusting the daemon's tree or its counters.
 *
 * A receipt of principal P for alert A counts at report row N when both
 * N and A's target are on P's path (P was addressed by A, and N's subtree
 * holds P): that is exactly the part of N's subtree the alert addressed,
 * which is what the report's live counters count.  Each principal counts
 * once per alert, at the highest state it reached, and in every state
 * below it.  Alerts and updates count, cancels do not; drills (status
 * exercise or test) count in the drill columns.  An alert is in the range
 * when it was accepted in [from, to): the time its entry was logged, or
 * its publish_at for a held one.
 *
 * What the log cannot say is left alone: how many a row targeted (the tree
 * as it was), times in time and the median.  Receipts logged after upto
 * (the moment the report was answered) are left out, so that acks coming
 * in meanwhile do not count on one side only.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "ctl_audit.h"

struct ra_alert {
	proto_id	 id;
	proto_id	 target;
	int		 counted;	/* alert or update, in the range */
	int		 drill;
};

struct ra_cert {
	uint8_t		 fp[PROTO_HASH_LEN];
	struct proto_scope sc;
};

struct ra_rcpt {
	proto_id	 alert_id;
	uint8_t		 fp[PROTO_HASH_LEN];
	proto_id	 cn;
	size_t		 alert;		/* index into alerts, once resolved */
	size_t		 cert;		/* index into certs, once resolved */
	int		 rank;
};

struct ra_row {
	const char	*node;
	size_t		 i;		/* index of the row in the report */
};

struct ra {
	uint64_t	 from, to, upto;
	struct ra_alert	*a;
	size_t		 na, acap;
	struct ra_cert	*c;
	size_t		 nc, ccap;
	struct ra_rcpt	*r;
	size_t		 nr, rcap;
	uint64_t	 late;		/* receipts after upto */
	uint64_t	 orphans;	/* receipts of no logged alert or cert */
	int		 oom;
};

static void *
ra_grow(void *p, size_t *cap, size_t n, size_t size, int *oom)
{
	void	*np;
	size_t	 ncap;

	if (n < *cap)
		return p;
	ncap = *cap ? *cap * 2 : 64;
	if ((np = reallocarray(p, ncap, size)) == NULL) {
		*oom = 1;
		return NULL;
	}
	*cap = ncap;
	return np;
}

/* Alerts are logged in order, ids unique (the daemon refuses a seen id). */
static int
ra_alert_add(struct ra *ra, const struct audit_entry *e)
{
	struct proto_envelope	 env;
	struct proto_alert	 al;
	struct ra_alert		*a, *na;
	uint64_t		 accepted;

	if (proto_envelope_decode(e->data.p, e->data.len, &env) != 0 ||
	    proto_alert_decode(env.body.p, env.body.len, &al) != 0)
		return 0;	/* verify has said so already */
	if ((na = ra_grow(ra->a, &ra->acap, ra->na, sizeof(*ra->a),
	    &ra->oom)) == NULL)
		return -1;
	ra->a = na;
	a = &ra->a[ra->na++];
	memset(a, 0, sizeof(*a));
	memcpy(a->id, al.id, sizeof(a->id));
	memcpy(a->target, al.target, sizeof(a->target));
	accepted = al.publish_at > e->at ? al.publish_at : e->at;
	a->counted = al.msg_type != PROTO_MSG_CANCEL &&
	    accepted >= ra->from && accepted < ra->to;
	a->drill = al.status != 0;
	return 0;
}

static int
ra_cert_add(struct ra *ra, const struct audit_entry *e)
{
	struct ra_cert	*c, *nc;
	char		 why[128];

	if ((nc = ra_grow(ra->c, &ra->ccap, ra->nc, sizeof(*ra->c),
	    &ra->oom)) == NULL)
		return -1;
	ra->c = nc;
	c = &ra->c[ra->nc];
	memset(c, 0, sizeof(*c));
	if (proto_sha256(e->data.p, e->data.len, c->fp) == -1 ||
	    proto_cert_scope_der(e->data.p, e->data.len, &c->sc, why,
	    sizeof(why)) != 0)
		return 0;	/* a certificate with no place counts nowhere */
	ra->nc++;
	return 0;
}

static int
ra_rcpt_add(struct ra *ra, const struct audit_entry *e)
{
	struct proto_stored_receipt	 st;
	struct proto_receipt		 rc;
	struct ra_rcpt			*r, *nr;

	if (proto_stored_receipt_decode(e->data.p, e->data.len, &st) != 0 ||
	    proto_receipt_decode(st.body.p, st.body.len, &rc) != 0 ||
	    st.cert_fp.len != PROTO_HASH_LEN)
		return 0;	/* verify has said so already */
	if (e->at > ra->upto) {
		ra->late++;
		return 0;
	}
	if ((nr = ra_grow(ra->r, &ra->rcap, ra->nr, sizeof(*ra->r),
	    &ra->oom)) == NULL)
		return -1;
	ra->r = nr;
	r = &ra->r[ra->nr++];
	memset(r, 0, sizeof(*r));
	memcpy(r->alert_id, rc.id, sizeof(r->alert_id));
	memcpy(r->fp, st.cert_fp.p, PROTO_HASH_LEN);
	memcpy(r->cn, rc.principal, sizeof(r->cn));
	r->rank = proto_ack_rank(rc.state);
	return 0;
}

static int
ra_entry(uint64_t index, const struct audit_entry *e, void *arg)
{
	struct ra	*ra = arg;

	(void)index;
	switch (e->kind) {
	case AUDIT_K_ALERT:
		return ra_alert_add(ra, e);
	case AUDIT_K_CERT:
		return ra_cert_add(ra, e);
	case AUDIT_K_RECEIPT:
		return ra_rcpt_add(ra, e);
	default:
		return 0;
	}
}

static int
ra_rcpt_cmp(const void *x, const void *y)
{
	const struct ra_rcpt	*a = x, *b = y;
	int			 c;

	if (a->alert != b->alert)
		return a->alert < b->alert ? -1 : 1;
	if ((c = strcmp(a->cn, b->cn)) != 0)
		return c;
	return a->rank - b->rank;
}

static int
ra_alert_cmp(const void *x, const void *y)
{
	const struct ra_alert	*a = x, *b = y;

	return strcmp(a->id, b->id);
}

static int
ra_cert_cmp(const void *x, const void *y)
{
	const struct ra_cert	*a = x, *b = y;

	return memcmp(a->fp, b->fp, PROTO_HASH_LEN);
}

/*
 * Give each receipt its alert and certificate, by binary search over
 * both sorted; drop those of alerts not counted, and count those of no
 * logged alert or certificate (verify refuses a receipt signed by a
 * certificate not logged before it, so none should be).
 */
static void
ra_resolve(struct ra *ra)
{
	struct ra_alert	 ak, *ah;
	struct ra_cert	 ck, *ch;
	size_t		 i, n = 0;

	qsort(ra->a, ra->na, sizeof(*ra->a), ra_alert_cmp);
	qsort(ra->c, ra->nc, sizeof(*ra->c), ra_cert_cmp);
	for (i = 0; i < ra->nr; i++) {
		memcpy(ak.id, ra->r[i].alert_id, sizeof(ak.id));
		memcpy(ck.fp, ra->r[i].fp, PROTO_HASH_LEN);
		ah = bsearch(&ak, ra->a, ra->na, sizeof(*ra->a),
		    ra_alert_cmp);
		ch = bsearch(&ck, ra->c, ra->nc, sizeof(*ra->c), ra_cert_cmp);
		if (ah == NULL || ch == NULL) {
			ra->orphans++;
			continue;
		}
		if (!ah->counted)
			continue;
		ra->r[n] = ra->r[i];
		ra->r[n].alert = (size_t)(ah - ra->a);
		ra->r[n].cert = (size_t)(ch - ra->c);
		n++;
	}
	ra->nr = n;
}

static int
ra_row_cmp(const void *x, const void *y)
{
	const struct ra_row	*a = x, *b = y;

	return strcmp(a->node, b->node);
}

static int
ra_on_path(const struct proto_scope *sc, const char *node)
{
	int	i;

	for (i = 0; i < sc->depth; i++)
		if (strcmp(sc->path[i], node) == 0)
			return 1;
	return 0;
}

/* Add a principal at rank to row out, in the real or the drill columns. */
static void
ra_count(struct ctl_audit_row *out, int drill, int rank)
{
	uint32_t	*d = drill ? &out->drill_delivered : &out->delivered;
	uint32_t	*s = drill ? &out->drill_shown : &out->shown;
	uint32_t	*rd = drill ? &out->drill_read : &out->read;
	uint32_t	*rl = drill ? &out->drill_relayed : &out->relayed;

	if (rank >= 1)
		(*d)++;
	if (rank >= 2)
		(*s)++;
	if (rank >= 3)
		(*rd)++;
	if (rank >= 4)
		(*rl)++;
}

int
ctl_audit_report(const struct ctl_audit_log *log, uint64_t upto,
    uint64_t from, uint64_t to, const struct proto_report_row *const *rows,
    size_t nrows, struct ctl_audit_row *out, struct ctl_audit_tally *t)
{
	struct ra		 ra;
	struct ra_row		*idx = NULL, key, *hit;
	const struct ra_rcpt	*r;
	const struct ra_alert	*a;
	const struct proto_scope *sc;
	size_t			 i, j;
	int			 k, rc = -1;

	memset(&ra, 0, sizeof(ra));
	memset(t, 0, sizeof(*t));
	memset(out, 0, nrows * sizeof(*out));
	ra.from = from;
	ra.to = to;
	ra.upto = upto;
	if (ctl_audit_foreach(log, log->n, ra_entry, &ra) != 0 || ra.oom)
		goto done;
	if (nrows > 0 && (idx = calloc(nrows, sizeof(*idx))) == NULL)
		goto done;
	for (i = 0; i < nrows; i++) {
		idx[i].node = rows[i]->node;
		idx[i].i = i;
	}
	qsort(idx, nrows, sizeof(*idx), ra_row_cmp);
	ra_resolve(&ra);
	qsort(ra.r, ra.nr, sizeof(*ra.r), ra_rcpt_cmp);
	for (i = 0; i < ra.nr; i = j) {
		/* The last of a run of (alert, cn) has the highest rank. */
		for (j = i + 1; j < ra.nr && ra.r[j].alert == ra.r[i].alert &&
		    strcmp(ra.r[j].cn, ra.r[i].cn) == 0; j++)
			;
		r = &ra.r[j - 1];
		a = &ra.a[r->alert];
		sc = &ra.c[r->cert].sc;
		if (!ra_on_path(sc, a->target))
			continue;	/* not addressed: the daemon refuses */
		t->principals++;
		for (k = 0; k < sc->depth; k++) {
			key.node = sc->path[k];
			if ((hit = bsearch(&key, idx, nrows, sizeof(*idx),
			    ra_row_cmp)) != NULL)
				ra_count(&out[hit->i], a->drill, r->rank);
		}
	}
	for (i = 0; i < ra.na; i++)
		t->alerts += ra.a[i].counted;
	t->receipts = ra.nr;
	t->late = ra.late;
	t->orphans = ra.orphans;
	for (i = 0; i < nrows; i++) {
		const struct proto_report_row	*w = rows[i];
		struct ctl_audit_row		*o = &out[i];

		o->ok = o->delivered == w->delivered && o->shown == w->shown &&
		    o->read == w->read && o->relayed == w->relayed &&
		    o->drill_delivered == w->drill_delivered &&
		    o->drill_shown == w->drill_shown &&
		    o->drill_read == w->drill_read &&
		    o->drill_relayed == w->drill_relayed;
		if (!o->ok)
			t->mismatched++;
	}
	rc = 0;
done:
	free(idx);
	free(ra.a);
	free(ra.c);
	free(ra.r);
	return rc;
}
