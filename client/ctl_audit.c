/* SPDX-License-Identifier: ISC */
/*
 * ctl_audit: `wuzhactl audit verify`.  Loads the audit log from the
 * daemon (AUDIT_REQ, page by page) or from a mirror file, recomputes
 * every leaf hash and the RFC 6962 root at every checkpoint's size,
 * checks each checkpoint's signature and certificate against our CA and
 * that sizes only grow, checks each entry's own signature where it has
 * one, and compares two copies when it has both.  The first bad entry is
 * named: a changed byte (its own signature fails, or the first checkpoint
 * over it does not match: then the other copy pins the entry, or the
 * checkpoint interval is named), a cut tail (the first missing index), a
 * fork (the first index where two copies, or two checkpoints, part).
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "conf.h"
#include "proto.h"
#include "client.h"
#include "ctl.h"
#include "ctl_audit.h"

#define AUDIT_FILE_MAGIC	"WZAUDIT1"
#define AUDIT_FILE_MAGIC_LEN	8
#define AUDIT_REC_ENTRY		1
#define AUDIT_REC_CP		2
#define AUDIT_FILE_REC_MAX	(16u * 1024 * 1024)

/* Contexts of the objects other parts sign (see PROTOCOL.md). */
#define CTX_RECEIPT		"wuzha-receipt-v1"
#define CTX_CLUE		"wuzha-clue-v1"
#define CTX_CLUE_MARK		"wuzha-clue-mark-v1"

/* --- the log in memory --------------------------------------------------- */

static void
rec_add(struct ctl_audit_rec **v, size_t *n, size_t *cap, const void *p,
    size_t len)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 1024;
		if ((*v = reallocarray(*v, *cap, sizeof(**v))) == NULL) {
			fprintf(stderr, "wuzhactl: out of memory\n");
			exit(CTL_FAIL);
		}
	}
	if (((*v)[*n].p = malloc(len ? len : 1)) == NULL) {
		fprintf(stderr, "wuzhactl: out of memory\n");
		exit(CTL_FAIL);
	}
	memcpy((*v)[*n].p, p, len);
	(*v)[*n].len = len;
	(*n)++;
}

void
ctl_audit_log_free(struct ctl_audit_log *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		free(l->e[i].p);
	for (i = 0; i < l->ncp; i++)
		free(l->c[i].p);
	free(l->e);
	free(l->c);
	memset(l, 0, sizeof(*l));
}

int
ctl_audit_read_file(const char *path, struct ctl_audit_log *l, char *why,
    size_t whylen)
{
	FILE		*f;
	uint8_t		 hdr[5], magic[AUDIT_FILE_MAGIC_LEN], *buf;
	uint32_t	 len;
	size_t		 got;
	long		 off = AUDIT_FILE_MAGIC_LEN;

	memset(l, 0, sizeof(*l));
	l->source = path;
	if ((f = fopen(path, "rb")) == NULL) {
		snprintf(why, whylen, "%s: cannot open", path);
		return -1;
	}
	if (fread(magic, 1, sizeof(magic), f) != sizeof(magic) ||
	    memcmp(magic, AUDIT_FILE_MAGIC, sizeof(magic)) != 0) {
		snprintf(why, whylen, "%s: not an audit log mirror", path);
		fclose(f);
		return -1;
	}
	while ((got = fread(hdr, 1, 5, f)) > 0) {
		if (got < 5) {
			/* A torn tail: what came before is still read. */
			fprintf(stderr, "wuzhactl: %s: ends inside a record "
			    "header at byte %ld\n", path, off);
			break;
		}
		len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
		    (uint32_t)hdr[2] << 8 | hdr[3];
		if (len < 2 || len > AUDIT_FILE_REC_MAX ||
		    (hdr[4] != AUDIT_REC_ENTRY && hdr[4] != AUDIT_REC_CP)) {
			snprintf(why, whylen, "%s: bad record at byte %ld "
			    "(length %u, type %u)", path, off, len, hdr[4]);
			fclose(f);
			return -1;
		}
		if ((buf = malloc(len - 1)) == NULL) {
			fclose(f);
			snprintf(why, whylen, "out of memory");
			return -1;
		}
		if (fread(buf, 1, len - 1, f) != len - 1) {
			fprintf(stderr, "wuzhactl: %s: ends inside the record "
			    "at byte %ld\n", path, off);
			free(buf);
			break;
		}
		if (hdr[4] == AUDIT_REC_ENTRY)
			rec_add(&l->e, &l->n, &l->ecap, buf, len - 1);
		else
			rec_add(&l->c, &l->ncp, &l->ccap, buf, len - 1);
		free(buf);
		off += 4 + (long)len;
	}
	fclose(f);
	return 0;
}

/* --- fetching from the daemon --------------------------------------------- */

struct fetch {
	struct ctl_audit_log	*l;
	uint64_t		 want;	/* entries the checkpoints cover */
};

static int	ctl_audit_reply(struct ctl *, const uint8_t *, size_t, void *);

static int
fetch_ask(struct ctl *ctl, uint8_t what, uint64_t from, int first,
    struct fetch *fx)
{
	struct proto_audit_req	 rq;
	struct proto_buf	 b;

	memset(&rq, 0, sizeof(rq));
	rq.what = what;
	rq.from = from;
	pbuf_init(&b);
	proto_audit_req_encode(&b, &rq);
	if (first)
		return ctl_request(ctl, &b, PROTO_T_AUDIT, ctl_audit_reply, fx);
	return ctl_request_next(ctl, &b) == 0 ? CTL_NEXT : CTL_FAIL;
}

/*
 * Entries first, then checkpoints; if the last checkpoint covers entries
 * appended while we read, the entries are read on up to it.
 */
static int
ctl_audit_reply(struct ctl *ctl, const uint8_t *p, size_t len, void *arg)
{
	struct fetch		*fx = arg;
	struct proto_audit	 m;
	struct proto_audit_item	 it;
	struct audit_cp		 cp;
	size_t			 cur = 0, got = 0;
	int			 rc;

	if ((rc = proto_audit_decode(p, len, &m)) != 0) {
		fprintf(stderr, "wuzhactl: malformed AUDIT: %s\n",
		    proto_err_name(-rc));
		return CTL_FAIL;
	}
	while ((rc = proto_audit_item_next(&m.items, &cur, &it)) == 1) {
		if (m.what == AUDIT_W_ENTRIES)
			rec_add(&fx->l->e, &fx->l->n, &fx->l->ecap, it.data.p,
			    it.data.len);
		else
			rec_add(&fx->l->c, &fx->l->ncp, &fx->l->ccap,
			    it.data.p, it.data.len);
		got++;
	}
	if (rc != 0) {
		fprintf(stderr, "wuzhactl: malformed AUDIT list: %s\n",
		    proto_err_name(-rc));
		return CTL_FAIL;
	}
	if (m.what == AUDIT_W_ENTRIES) {
		if (got > 0 && fx->l->n < m.total &&
		    (fx->want == 0 || fx->l->n < fx->want))
			return fetch_ask(ctl, AUDIT_W_ENTRIES, fx->l->n, 0, fx);
		if (fx->want != 0)
			return CTL_OK;
		return fetch_ask(ctl, AUDIT_W_CHECKPOINTS, 0, 0, fx);
	}
	if (got > 0 && fx->l->ncp < m.total)
		return fetch_ask(ctl, AUDIT_W_CHECKPOINTS, fx->l->ncp, 0, fx);
	if (fx->l->ncp > 0 && audit_cp_decode(fx->l->c[fx->l->ncp - 1].p,
	    fx->l->c[fx->l->ncp - 1].len, &cp) == 0 && cp.size > fx->l->n) {
		fx->want = cp.size;
		return fetch_ask(ctl, AUDIT_W_ENTRIES, fx->l->n, 0, fx);
	}
	return CTL_OK;
}

int
ctl_audit_fetch(struct ctl *ctl, struct ctl_audit_log *l)
{
	struct fetch	fx;

	memset(l, 0, sizeof(*l));
	l->source = "daemon";
	memset(&fx, 0, sizeof(fx));
	fx.l = l;
	return fetch_ask(ctl, AUDIT_W_ENTRIES, 0, 1, &fx);
}

/* --- checks of one entry ------------------------------------------------- */

/* The certificates logged so far (kind cert), by SHA-256 of their DER. */
struct certs {
	uint8_t		(*fp)[32];
	X509		**x;
	size_t		  n, cap;
};

static X509 *
certs_find(const struct certs *cs, const uint8_t *fp)
{
	size_t	i;

	for (i = 0; i < cs->n; i++)
		if (memcmp(cs->fp[i], fp, 32) == 0)
			return cs->x[i];
	return NULL;
}

static void
certs_free(struct certs *cs)
{
	size_t	i;

	for (i = 0; i < cs->n; i++)
		X509_free(cs->x[i]);
	free(cs->fp);
	free(cs->x);
}

/* Field tag of a canonical list, found by walking it; NULL if absent. */
static const uint8_t *
tlv_find(const uint8_t *p, size_t len, uint8_t tag, size_t *vlen)
{
	size_t	off = 0, n;

	while (off + 3 <= len) {
		n = (size_t)p[off + 1] << 8 | p[off + 2];
		if (n > len - off - 3)
			return NULL;
		if (p[off] == tag) {
			*vlen = n;
			return p + off + 3;
		}
		off += 3 + n;
	}
	return NULL;
}

/* 0 if cert chains to ca at time t (seconds); else why. */
static int
cert_check(X509 *cert, X509_STORE *ca, uint64_t t, char *why, size_t whylen)
{
	X509_STORE_CTX	*x;
	int		 ok;

	if ((x = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(x, ca, cert, NULL) != 1) {
		X509_STORE_CTX_free(x);
		snprintf(why, whylen, "cannot set up the certificate check");
		return -1;
	}
	X509_STORE_CTX_set_time(x, 0, (time_t)t);
	ok = X509_verify_cert(x) == 1;
	if (!ok)
		snprintf(why, whylen, "certificate: %s",
		    X509_verify_cert_error_string(X509_STORE_CTX_get_error(x)));
	X509_STORE_CTX_free(x);
	return ok ? 0 : -1;
}

/* The subject CN of cert into cn; -1 if none. */
static int
cert_cn(X509 *cert, char *cn, size_t len)
{
	return X509_NAME_get_text_by_NID(X509_get_subject_name(cert),
	    NID_commonName, cn, (int)len) > 0 ? 0 : -1;
}

/*
 * A stored signed object (receipt, clue, clue mark: fields 1 body, 2
 * cert_fp, 3 sig over ctx || body): the certificate must have been
 * logged before it, and sign it; the body's field signer_tag must name
 * the certificate's CN.  Only the structure these checks need is read:
 * extend here when proto/receipt.c and proto/clue.c give full decoders.
 */
static int
ctl_audit_check_signed(const char *ctx, uint8_t signer_tag,
    const uint8_t *p, size_t len, const struct certs *cs, char *why,
    size_t whylen)
{
	const uint8_t	*body, *fp, *sig, *who;
	size_t		 blen, fplen, slen, wlen;
	X509		*cert;
	char		 cn[PROTO_ID_MAX + 1];

	if ((body = tlv_find(p, len, 1, &blen)) == NULL ||
	    (fp = tlv_find(p, len, 2, &fplen)) == NULL || fplen != 32 ||
	    (sig = tlv_find(p, len, 3, &slen)) == NULL ||
	    slen != PROTO_SIG_LEN) {
		snprintf(why, whylen, "not a stored signed object (body, "
		    "cert_fp[32], sig[64])");
		return -1;
	}
	if ((cert = certs_find(cs, fp)) == NULL) {
		snprintf(why, whylen, "signer certificate not logged before "
		    "it");
		return -1;
	}
	if ((who = tlv_find(body, blen, signer_tag, &wlen)) == NULL ||
	    cert_cn(cert, cn, sizeof(cn)) == -1 || strlen(cn) != wlen ||
	    memcmp(cn, who, wlen) != 0) {
		snprintf(why, whylen, "signer field does not name the "
		    "certificate's CN");
		return -1;
	}
	switch (proto_ctx_verify(ctx, body, blen, sig, slen,
	    X509_get0_pubkey(cert))) {
	case 0:
		return 0;
	case -PROTO_E_INTERNAL:
		snprintf(why, whylen, "cannot set up the signature check");
		return -1;
	default:
		snprintf(why, whylen, "signature does not match");
		return -1;
	}
}

/* A receipt: signed by the principal (body field 7) it names. */
static int
ctl_audit_check_receipt(const uint8_t *p, size_t len,
    const struct certs *cs, char *why, size_t whylen)
{
	return ctl_audit_check_signed(CTX_RECEIPT, 7, p, len, cs, why,
	    whylen);
}

/* A tree change record: its list, when there, is what the digest says. */
static int
ctl_audit_check_tree(const uint8_t *p, size_t len, char *why, size_t whylen)
{
	struct audit_tree	t;
	uint8_t			d[32];
	uint32_t		lines = 0;
	size_t			i;
	int			rc;

	if ((rc = audit_tree_decode(p, len, &t)) != 0) {
		snprintf(why, whylen, "tree record does not decode: %s",
		    proto_err_name(-rc));
		return -1;
	}
	if (t.list.len == 0)
		return 0;
	SHA256(t.list.p, t.list.len, d);
	for (i = 0; i < t.list.len; i++)
		lines += t.list.p[i] == '\n';
	if (memcmp(d, t.digest.p, 32) != 0 || lines != t.changes) {
		snprintf(why, whylen, "tree change list does not match its "
		    "digest and count");
		return -1;
	}
	return 0;
}

/* One entry's own content; 0, or -1 and why (kind set if it decoded). */
static int
ctl_audit_check_entry(const struct ctl_audit_rec *r, X509_STORE *ca,
    struct certs *cs, int *kind, char *why, size_t whylen)
{
	struct audit_entry	 e;
	X509			*x;
	const unsigned char	*d;
	char			 w[256];
	int			 rc;

	*kind = 0;
	if ((rc = audit_entry_decode(r->p, r->len, &e)) != 0) {
		snprintf(why, whylen, "entry does not decode: %s",
		    proto_err_name(-rc));
		return -1;
	}
	*kind = e.kind;
	switch (e.kind) {
	case AUDIT_K_ALERT:
	case AUDIT_K_SCHEDULE_CANCEL:
		if ((rc = proto_envelope_verify(e.data.p, e.data.len, ca,
		    (int64_t)(e.at / 1000), NULL, w, sizeof(w))) != 0) {
			snprintf(why, whylen, "%s%s", strncmp(w, "envelope",
			    8) == 0 ? "" : "envelope: ", w);
			return -1;
		}
		return 0;
	case AUDIT_K_CERT:
		d = e.data.p;
		if ((x = d2i_X509(NULL, &d, (long)e.data.len)) == NULL ||
		    d != e.data.p + e.data.len) {
			X509_free(x);
			snprintf(why, whylen, "certificate does not parse");
			return -1;
		}
		if (cert_check(x, ca, e.at / 1000, why, whylen) == -1) {
			X509_free(x);
			return -1;
		}
		if (cs->n == cs->cap) {
			cs->cap = cs->cap ? cs->cap * 2 : 64;
			if ((cs->fp = reallocarray(cs->fp, cs->cap, 32)) ==
			    NULL || (cs->x = reallocarray(cs->x, cs->cap,
			    sizeof(*cs->x))) == NULL) {
				fprintf(stderr, "wuzhactl: out of memory\n");
				exit(CTL_FAIL);
			}
		}
		SHA256(e.data.p, e.data.len, cs->fp[cs->n]);
		cs->x[cs->n++] = x;
		return 0;
	case AUDIT_K_RECEIPT:
		return ctl_audit_check_receipt(e.data.p, e.data.len, cs, why,
		    whylen);
	case AUDIT_K_CLUE:
		return ctl_audit_check_signed(CTX_CLUE, 2, e.data.p,
		    e.data.len, cs, why, whylen);
	case AUDIT_K_CLUE_MARK:
		return ctl_audit_check_signed(CTX_CLUE_MARK, 2, e.data.p,
		    e.data.len, cs, why, whylen);
	case AUDIT_K_TREE:
		return ctl_audit_check_tree(e.data.p, e.data.len, why, whylen);
	}
	snprintf(why, whylen, "unknown kind %u", e.kind);
	return -1;
}

/* --- the whole log -------------------------------------------------------- */

static void
problem(struct ctl_audit_result *res, uint64_t index, int kind,
    const char *what, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
problem(struct ctl_audit_result *res, uint64_t index, int kind,
    const char *what, const char *fmt, ...)
{
	struct ctl_audit_problem	*pb;
	va_list				 ap;

	if (res->nproblems++ >= CTL_AUDIT_PROBLEMS)
		return;
	pb = &res->problem[res->nproblems - 1];
	pb->index = index;
	pb->kind = kind;
	pb->what = what;
	va_start(ap, fmt);
	vsnprintf(pb->why, sizeof(pb->why), fmt, ap);
	va_end(ap);
	if (res->first == -1 || index < res->problem[res->first].index)
		res->first = (int)(res->nproblems - 1);
}

static int
rec_same(const struct ctl_audit_rec *a, const struct ctl_audit_rec *b)
{
	return a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
}

static int
entry_kind(const struct ctl_audit_rec *r)
{
	struct audit_entry	e;

	return audit_entry_decode(r->p, r->len, &e) == 0 ? e.kind : 0;
}

int
ctl_audit_verify(const struct ctl_audit_log *l,
    const struct ctl_audit_log *o, X509_STORE *ca,
    struct ctl_audit_result *res)
{
	struct audit_range	 range;
	struct audit_cp		*cps;
	struct certs		 cs;
	struct proto_scope	 sc;
	uint8_t			 h[AUDIT_HASH_LEN], root[AUDIT_HASH_LEN];
	uint64_t		 fork = UINT64_MAX, prev = 0, *bad_at;
	size_t			 i, j, k, nbad = 0, m;
	int			*cp_ok, kind;
	char			 why[400];

	memset(res, 0, sizeof(*res));
	memset(&cs, 0, sizeof(cs));
	res->first = -1;
	res->entries = l->n;
	res->checkpoints = l->ncp;
	if ((cps = calloc(l->ncp + 1, sizeof(*cps))) == NULL ||
	    (cp_ok = calloc(l->ncp + 1, sizeof(*cp_ok))) == NULL ||
	    (bad_at = calloc(l->n + 1, sizeof(*bad_at))) == NULL) {
		fprintf(stderr, "wuzhactl: out of memory\n");
		exit(CTL_FAIL);
	}

	/* Two copies: the first index where they part. */
	if (o != NULL) {
		res->compared = 1;
		res->other_entries = o->n;
		res->other_checkpoints = o->ncp;
		m = l->n < o->n ? l->n : o->n;
		for (i = 0; i < m && rec_same(&l->e[i], &o->e[i]); i++)
			;
		if (i < m) {
			fork = i;
			problem(res, i, entry_kind(&l->e[i]), "fork",
			    "%s and %s part here: entry %zu differs (%zu "
			    "bytes against %zu)", l->source, o->source, i,
			    l->e[i].len, o->e[i].len);
		}
		m = l->ncp < o->ncp ? l->ncp : o->ncp;
		for (j = 0; j < m && rec_same(&l->c[j], &o->c[j]); j++)
			;
		if (j < m) {
			struct audit_cp	a, b;

			if (audit_cp_decode(l->c[j].p, l->c[j].len, &a) == 0 &&
			    audit_cp_decode(o->c[j].p, o->c[j].len, &b) == 0)
				problem(res, a.size < b.size ? a.size : b.size,
				    0, "fork", "checkpoint %zu differs "
				    "between %s (size %llu) and %s (size %llu)",
				    j, l->source, (unsigned long long)a.size,
				    o->source, (unsigned long long)b.size);
		}
	}

	/* Each checkpoint on its own: signature, certificate, sizes. */
	for (j = 0; j < l->ncp; j++) {
		if (audit_cp_verify(l->c[j].p, l->c[j].len, ca, &cps[j], why,
		    sizeof(why)) != 0) {
			problem(res, audit_cp_decode(l->c[j].p, l->c[j].len,
			    &cps[j]) == 0 ? cps[j].size : 0, 0, "checkpoint",
			    "checkpoint %zu: %s", j, why);
			continue;
		}
		if (proto_cert_scope_der(cps[j].cert.p, cps[j].cert.len, &sc,
		    why, sizeof(why)) != 0 ||
		    !(sc.usage & PROTO_USAGE_SERVER) ||
		    (sc.usage & PROTO_USAGE_CLIENT)) {
			/* A principal's key must not pass for a daemon's. */
			problem(res, cps[j].size, 0, "checkpoint", "checkpoint "
			    "%zu (by %s): signed by a certificate that is not a "
			    "server's (no serverAuth, or also clientAuth)", j,
			    cps[j].daemon);
			continue;
		}
		cp_ok[j] = 1;
		if (cps[j].size <= prev && j > 0) {
			cp_ok[j] = 0;
			problem(res, cps[j].size, 0, "fork", "checkpoint %zu "
			    "(size %llu, by %s) does not grow the log past "
			    "%llu: checkpoints disagree", j,
			    (unsigned long long)cps[j].size, cps[j].daemon,
			    (unsigned long long)prev);
			continue;
		}
		prev = cps[j].size;
	}
	if (l->ncp > 0 && prev > l->n)
		problem(res, l->n, 0, "cut", "the log ends at %zu entries but "
		    "a checkpoint covers %llu: entries from %zu on are "
		    "missing", l->n, (unsigned long long)prev, l->n);

	/* Each entry's own signature; then the roots at each checkpoint. */
	for (i = 0; i < l->n; i++) {
		if (ctl_audit_check_entry(&l->e[i], ca, &cs, &kind, why,
		    sizeof(why)) != 0) {
			bad_at[nbad++] = i;
			problem(res, i, kind, "entry", "entry %zu (%s): %s", i,
			    audit_kind_name(kind), why);
		}
	}
	audit_range_init(&range);
	prev = 0;
	for (j = 0, i = 0; j < l->ncp; j++) {
		if (!cp_ok[j] || cps[j].size > l->n)
			continue;
		for (; i < cps[j].size; i++) {
			audit_leaf_hash(l->e[i].p, l->e[i].len, h);
			audit_range_push(&range, h);
		}
		audit_range_root(&range, root);
		if (memcmp(root, cps[j].root.p, AUDIT_HASH_LEN) == 0) {
			res->verified = cps[j].size;
			prev = cps[j].size;
			continue;
		}
		/* The first bad leaf lies in [prev, size). */
		if (fork >= prev && fork < cps[j].size)
			problem(res, fork, entry_kind(&l->e[fork]), "entry",
			    "entry %llu (%s) differs from the other copy and "
			    "checkpoint %zu (size %llu, by %s) does not match "
			    "%s", (unsigned long long)fork,
			    audit_kind_name(entry_kind(&l->e[fork])), j,
			    (unsigned long long)cps[j].size, cps[j].daemon,
			    l->source);
		else {
			for (k = 0; k < nbad && bad_at[k] < prev; k++)
				;
			if (k < nbad && bad_at[k] < cps[j].size)
				problem(res, bad_at[k],
				    entry_kind(&l->e[bad_at[k]]), "entry",
				    "checkpoint %zu (size %llu) does not match; "
				    "entry %llu fails its own check",
				    j, (unsigned long long)cps[j].size,
				    (unsigned long long)bad_at[k]);
			else
				problem(res, prev, 0, "range",
				    "checkpoint %zu (size %llu, by %s) does not "
				    "match: an entry in %llu..%llu was changed "
				    "(compare with another copy to pin it)", j,
				    (unsigned long long)cps[j].size,
				    cps[j].daemon, (unsigned long long)prev,
				    (unsigned long long)cps[j].size - 1);
		}
		break;	/* later roots all include the bad leaf */
	}
	certs_free(&cs);
	free(cps);
	free(cp_ok);
	free(bad_at);
	/* The other copy against its own checkpoints, too. */
	if (o != NULL) {
		struct ctl_audit_result	*r2;

		if ((r2 = malloc(sizeof(*r2))) == NULL) {
			fprintf(stderr, "wuzhactl: out of memory\n");
			exit(CTL_FAIL);
		}
		(void)ctl_audit_verify(o, NULL, ca, r2);
		for (k = 0; k < r2->nproblems && k < CTL_AUDIT_PROBLEMS; k++)
			problem(res, r2->problem[k].index, r2->problem[k].kind,
			    r2->problem[k].what, "%s: %s", o->source,
			    r2->problem[k].why);
		free(r2);
	}
	return res->nproblems == 0 ? 0 : 1;
}

int
ctl_audit_foreach(const struct ctl_audit_log *l, uint64_t upto,
    int (*fn)(uint64_t, const struct audit_entry *, void *), void *arg)
{
	struct audit_entry	e;
	uint64_t		i;
	int			rc;

	for (i = 0; i < upto && i < l->n; i++) {
		if (audit_entry_decode(l->e[i].p, l->e[i].len, &e) != 0)
			continue;
		if ((rc = fn(i, &e, arg)) != 0)
			return rc;
	}
	return 0;
}

/* --- the verb ------------------------------------------------------------ */

static void
print_result(const struct ctl_audit_log *l, const struct ctl_audit_result *r,
    int json)
{
	const struct ctl_audit_problem	*pb;
	struct audit_cp			 cp;
	size_t				 i, n;

	n = r->nproblems < CTL_AUDIT_PROBLEMS ? r->nproblems :
	    CTL_AUDIT_PROBLEMS;
	if (json) {
		printf("{\"ok\":%s,\"source\":", r->nproblems ? "false" :
		    "true");
		ctl_json_str(stdout, l->source, strlen(l->source));
		printf(",\"entries\":%llu,\"checkpoints\":%llu,\"verified\":"
		    "%llu,\"compared\":%s,\"first_bad\":",
		    (unsigned long long)r->entries,
		    (unsigned long long)r->checkpoints,
		    (unsigned long long)r->verified,
		    r->compared ? "true" : "false");
		if (r->first < 0)
			printf("null");
		else {
			pb = &r->problem[r->first];
			printf("{\"index\":%llu,\"kind\":\"%s\",\"what\":\"%s\","
			    "\"why\":", (unsigned long long)pb->index,
			    pb->kind ? audit_kind_name(pb->kind) : "",
			    pb->what);
			ctl_json_str(stdout, pb->why, strlen(pb->why));
			printf("}");
		}
		if (r->compared)
			printf(",\"other_entries\":%llu,\"other_checkpoints\":"
			    "%llu", (unsigned long long)r->other_entries,
			    (unsigned long long)r->other_checkpoints);
		printf(",\"problems\":[");
		for (i = 0; i < n; i++) {
			pb = &r->problem[i];
			printf("%s{\"index\":%llu,\"what\":\"%s\",\"why\":",
			    i ? "," : "", (unsigned long long)pb->index,
			    pb->what);
			ctl_json_str(stdout, pb->why, strlen(pb->why));
			printf("}");
		}
		printf("]}\n");
		return;
	}
	printf("audit log (%s): %llu entries, %llu checkpoints", l->source,
	    (unsigned long long)r->entries, (unsigned long long)r->checkpoints);
	if (l->ncp > 0 && audit_cp_decode(l->c[l->ncp - 1].p,
	    l->c[l->ncp - 1].len, &cp) == 0)
		printf(", last at size %llu by %s",
		    (unsigned long long)cp.size, cp.daemon);
	printf("\n");
	if (r->compared)
		printf("compared with the daemon's copy: %llu entries, %llu "
		    "checkpoints\n", (unsigned long long)r->other_entries,
		    (unsigned long long)r->other_checkpoints);
	if (r->nproblems == 0) {
		printf("ok: %llu entries covered by verified checkpoints, "
		    "every signature good%s\n",
		    (unsigned long long)r->verified,
		    r->compared ? ", both copies agree" : "");
		return;
	}
	pb = &r->problem[r->first];
	printf("BAD: first bad entry %llu%s%s%s: %s\n",
	    (unsigned long long)pb->index, pb->kind ? " (" : "",
	    pb->kind ? audit_kind_name(pb->kind) : "", pb->kind ? ")" : "",
	    pb->why);
	for (i = 0; i < n; i++)
		if ((int)i != r->first)
			printf("  also: %s\n", r->problem[i].why);
	if (r->nproblems > n)
		printf("  and %zu more problems\n", r->nproblems - n);
}

/* audit verify [--from-file F [--only-file]] [--json] */
int
ctl_audit_verify_cmd(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "from-file",	required_argument, NULL, 'f' },
		{ "only-file",	no_argument,	   NULL, 'o' },
		{ "json",	no_argument,	   NULL, 'j' },
		{ NULL,		0,		   NULL, 0 },
	};
	struct ctl_audit_log	 file, daemon;
	struct ctl_audit_result	 res;
	struct conf_agent	*conf;
	X509_STORE		*ca;
	const char		*path = NULL;
	char			 why[512];
	int			 ch, json = 0, only = 0, rc, have_daemon = 0;

	opterr = 0;
	while ((ch = ctl_getopt(ctl, argc, argv, "", opts)) != -1) {
		switch (ch) {
		case 'f':
			path = optarg;
			break;
		case 'o':
			only = 1;
			break;
		case 'j':
			json = 1;
			break;
		default:
			fprintf(stderr, "wuzhactl: audit verify: bad option "
			    "%s\n", argv[optind - 1]);
			return ctl_usage(ctl);
		}
	}
	if (argc != optind || (only && path == NULL))
		return ctl_usage(ctl);
	conf = ctl_conf(ctl);
	if ((ca = client_store_load(conf->tls.ca, NULL, why,
	    sizeof(why))) == NULL) {
		fprintf(stderr, "wuzhactl: %s\n", why);
		return CTL_USAGE;
	}
	memset(&file, 0, sizeof(file));
	memset(&daemon, 0, sizeof(daemon));
	if (path != NULL && ctl_audit_read_file(path, &file, why,
	    sizeof(why)) == -1) {
		fprintf(stderr, "wuzhactl: %s\n", why);
		X509_STORE_free(ca);
		return CTL_USAGE;
	}
	if (!only) {
		if ((rc = ctl_audit_fetch(ctl, &daemon)) == CTL_OK)
			have_daemon = 1;
		else if (path == NULL) {
			X509_STORE_free(ca);
			ctl_audit_log_free(&daemon);
			return CTL_USAGE;	/* 2: could not read a log */
		} else
			fprintf(stderr, "wuzhactl: the daemon's copy could "
			    "not be read; checking the file alone\n");
	}
	if (path != NULL)
		rc = ctl_audit_verify(&file, have_daemon ? &daemon : NULL, ca,
		    &res);
	else
		rc = ctl_audit_verify(&daemon, NULL, ca, &res);
	print_result(path != NULL ? &file : &daemon, &res, json);
	ctl_audit_log_free(&file);
	ctl_audit_log_free(&daemon);
	X509_STORE_free(ca);
	return rc == 0 ? CTL_OK : CTL_FAIL;
}
