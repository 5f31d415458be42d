/* SPDX-License-Identifier: ISC */
/*
 * ctl_receipts: the signed receipts of an alert (RECEIPTS_REQ), page by
 * page, and with --verify each one checked here against the CA the
 * config pins, trusting neither the daemon nor Redis: the alert's
 * envelope is verified, its SHA-256 computed, and every receipt's
 * certificate (fingerprint, chain, CN), signature and envelope hash
 * checked (proto_receipt_verify).  Also the console's own signed ack,
 * which needs that same envelope first.
 */

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "clock.h"
#include "conf.h"
#include "proto.h"
#include "client.h"
#include "ctl.h"

#define CTL_RCPT_CERTS_MAX	100000	/* signers remembered across pages */

/* A signer's certificate, by fingerprint, from an earlier item. */
struct ctl_rcpt_cert {
	uint8_t		 fp[PROTO_HASH_LEN];
	uint8_t		*der;
	size_t		 len;
};

struct ctl_rcpt {
	struct proto_receipts_req rq;
	int			 verify;
	int			 json;
	X509_STORE		*store;		/* --verify: the CA */
	uint8_t			 env_hash[PROTO_HASH_LEN];
	int			 have_env;	/* envelope verified and hashed */
	struct ctl_rcpt_cert	*certs;
	size_t			 ncerts, capcerts;
	size_t			 listed, verified, failed;
	int			 pages;
};

static void
ctl_rcpt_free(struct ctl_rcpt *cr)
{
	size_t	i;

	for (i = 0; i < cr->ncerts; i++)
		free(cr->certs[i].der);
	free(cr->certs);
	X509_STORE_free(cr->store);
}

static void
ctl_rcpt_hex(const uint8_t *p, size_t len, char *out)
{
	size_t	i;

	for (i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

/* The certificate of fp: one given in this item, or one kept before. */
static const struct ctl_rcpt_cert *
ctl_rcpt_cert(struct ctl_rcpt *cr, const uint8_t *fp,
    const struct proto_view *given)
{
	struct ctl_rcpt_cert	*c;
	uint8_t			 h[PROTO_HASH_LEN];
	void			*nv;
	size_t			 i;

	if (given->len > 0 && proto_sha256(given->p, given->len, h) == 0 &&
	    memcmp(h, fp, PROTO_HASH_LEN) != 0)
		given = NULL;	/* another signer's: not this one */
	for (i = 0; i < cr->ncerts; i++)
		if (memcmp(cr->certs[i].fp, fp, PROTO_HASH_LEN) == 0)
			return &cr->certs[i];
	if (given == NULL || given->len == 0 ||
	    cr->ncerts == CTL_RCPT_CERTS_MAX)
		return NULL;
	if (cr->ncerts == cr->capcerts) {
		cr->capcerts = cr->capcerts ? 2 * cr->capcerts : 64;
		if ((nv = reallocarray(cr->certs, cr->capcerts,
		    sizeof(*cr->certs))) == NULL)
			return NULL;
		cr->certs = nv;
	}
	c = &cr->certs[cr->ncerts];
	if ((c->der = malloc(given->len)) == NULL)
		return NULL;
	memcpy(c->fp, fp, PROTO_HASH_LEN);
	memcpy(c->der, given->p, given->len);
	c->len = given->len;
	cr->ncerts++;
	return c;
}

/* Check the alert's envelope against the CA and keep its hash. */
static int
ctl_rcpt_envelope(struct ctl_rcpt *cr, const struct proto_view *env,
    const char *id)
{
	struct proto_alert	a;
	char			why[256];
	int			rc;

	if (cr->have_env)
		return 0;
	if ((rc = proto_envelope_verify(env->p, env->len, cr->store, 0, &a,
	    why, sizeof(why))) != 0) {
		fprintf(stderr, "wuzhactl: the envelope of %s does not verify: "
		    "%s: %s\n", id, proto_err_name(-rc), why);
		return -1;
	}
	if (strcmp(a.id, id) != 0) {
		fprintf(stderr, "wuzhactl: asked for %s, the envelope is %s's\n",
		    id, a.id);
		return -1;
	}
	if (proto_sha256(env->p, env->len, cr->env_hash) != 0)
		return -1;
	cr->have_env = 1;
	return 0;
}

/* One receipt: checked (--verify) and printed; 0, or -1 if it fails. */
static int
ctl_rcpt_item(struct ctl_rcpt *cr, const struct proto_receipt_item *it)
{
	struct proto_stored_receipt	 st;
	struct proto_receipt		 r;
	const struct ctl_rcpt_cert	*cert;
	char				 why[256] = "", t[40], hex[2 * PROTO_HASH_LEN + 1];
	int				 ok = -1, rc;

	memset(&r, 0, sizeof(r));
	if (proto_stored_receipt_decode(it->receipt.p, it->receipt.len,
	    &st) != 0 || proto_receipt_decode(st.body.p, st.body.len, &r) != 0) {
		snprintf(why, sizeof(why), "does not decode");
		memset(&r, 0, sizeof(r));
	} else if (strcmp(r.principal, it->cn) != 0 || r.state != it->state ||
	    strcmp(r.id, cr->rq.id) != 0) {
		snprintf(why, sizeof(why), "listed as %s %s, signed for %s %s "
		    "of %s", it->cn, proto_ack_state_name(it->state),
		    r.principal, proto_ack_state_name(r.state), r.id);
	} else if (!cr->verify) {
		ok = 0;
	} else if ((cert = ctl_rcpt_cert(cr, st.cert_fp.p,
	    &it->cert)) == NULL) {
		ctl_rcpt_hex(st.cert_fp.p, PROTO_HASH_LEN, hex);
		snprintf(why, sizeof(why), "no certificate %s", hex);
	} else if ((rc = proto_receipt_verify(it->receipt.p, it->receipt.len,
	    cert->der, cert->len, cr->store, 0, cr->env_hash, &r, why,
	    sizeof(why))) == 0)
		ok = 0;
	cr->listed++;
	if (ok == 0 && cr->verify)
		cr->verified++;
	if (ok != 0)
		cr->failed++;
	if (ok != 0)
		fprintf(stderr, "wuzhactl: receipt %s|%s of %s: %s%s\n", it->cn,
		    proto_ack_state_name(it->state), cr->rq.id,
		    cr->verify ? "FAILED: " : "", why);
	if (cr->json) {
		printf("%s{\"cn\":", cr->listed > 1 ? "," : "");
		ctl_json_str(stdout, it->cn, strlen(it->cn));
		printf(",\"state\":\"%s\",\"at\":%" PRIu64,
		    proto_ack_state_name(it->state), r.at);
		if (r.has_reach)
			printf(",\"reach\":%u", r.reach);
		if (cr->verify) {
			printf(",\"verified\":%s", ok == 0 ? "true" : "false");
			if (ok != 0) {
				printf(",\"why\":");
				ctl_json_str(stdout, why, strlen(why));
			}
		}
		printf("}");
		return ok;
	}
	printf("%-24s %-9s %s", it->cn, proto_ack_state_name(it->state),
	    r.at != 0 ? clock_str(r.at, "%Y-%m-%d %H:%M:%S", CLOCK_LOCAL, t,
	    sizeof(t)) : "?");
	if (r.has_reach)
		printf(" reach %u", r.reach);
	if (cr->verify)
		printf(" %s", ok == 0 ? "verified" : "FAILED");
	printf("\n");
	return ok;
}

/* RECEIPTS: print the page, ask for the next while there is one. */
static int
ctl_receipts_cb(struct ctl *ctl, const uint8_t *p, size_t len, void *arg)
{
	struct ctl_rcpt			*cr = arg;
	struct proto_receipts		 m;
	struct proto_receipt_item	 it;
	struct proto_buf		 next;
	size_t				 cur = 0;
	int				 rc;

	if ((rc = proto_receipts_decode(p, len, &m)) != 0) {
		fprintf(stderr, "wuzhactl: malformed RECEIPTS: %s\n",
		    proto_err_name(-rc));
		return CTL_FAIL;
	}
	if (cr->verify && ctl_rcpt_envelope(cr, &m.envelope, cr->rq.id) == -1)
		return CTL_FAIL;
	if (cr->pages++ == 0) {
		if (cr->json) {
			printf("{\"id\":");
			ctl_json_str(stdout, m.id, strlen(m.id));
			printf(",\"receipts\":[");
		} else
			printf("%-24s %-9s %s\n", "CN", "STATE", "SIGNED AT");
	}
	while ((rc = proto_receipt_item_next(&m.items, &cur, &it)) == 1)
		ctl_rcpt_item(cr, &it);
	if (rc != 0) {
		fprintf(stderr, "wuzhactl: malformed RECEIPTS item: %s\n",
		    proto_err_name(-rc));
		return CTL_FAIL;
	}
	if (m.cursor != 0) {
		fflush(stdout);
		cr->rq.cursor = m.cursor;
		pbuf_init(&next);
		proto_receipts_req_encode(&next, &cr->rq);
		return ctl_request_next(ctl, &next) == 0 ? CTL_NEXT : CTL_FAIL;
	}
	if (cr->json) {
		printf("],\"listed\":%zu", cr->listed);
		if (cr->verify)
			printf(",\"verified\":%zu,\"failed\":%zu", cr->verified,
			    cr->failed);
		printf("}\n");
	} else if (cr->verify)
		printf("%zu receipts, %zu verified, %zu failed\n", cr->listed,
		    cr->verified, cr->failed);
	else
		printf("%zu receipts\n", cr->listed);
	return cr->failed > 0 ? CTL_FAIL : CTL_OK;
}

/* receipts ID [--node NODE] [--verify] [--json] */
int
ctl_receipts(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node",	required_argument, NULL, 'n' },
		{ "verify",	no_argument,	   NULL, 'v' },
		{ "json",	no_argument,	   NULL, 'j' },
		{ NULL,		0,		   NULL, 0 },
	};
	struct ctl_rcpt		 cr;
	struct proto_buf	 req;
	const char		*node = NULL;
	char			 err[512];
	int			 ch, rc;

	memset(&cr, 0, sizeof(cr));
	opterr = 0;
	while ((ch = ctl_getopt(ctl, argc, argv, "", opts)) != -1) {
		switch (ch) {
		case 'n':
			node = optarg;
			break;
		case 'v':
			cr.verify = 1;
			break;
		case 'j':
			cr.json = 1;
			break;
		default:
			fprintf(stderr, "wuzhactl: receipts: bad option %s\n",
			    argv[optind - 1]);
			return ctl_usage(ctl);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1)
		return ctl_usage(ctl);
	if (!proto_name_valid(argv[0], strlen(argv[0]))) {
		fprintf(stderr, "wuzhactl: %s: not an alert id\n", argv[0]);
		return CTL_USAGE;
	}
	snprintf(cr.rq.id, sizeof(cr.rq.id), "%s", argv[0]);
	if (ctl_node_arg(node, cr.rq.node) == -1)
		return CTL_USAGE;
	if (cr.verify && (cr.store = client_store_load(ctl_conf(ctl)->tls.ca,
	    ctl_conf(ctl)->tls.crl, err, sizeof(err))) == NULL) {
		fprintf(stderr, "wuzhactl: %s\n", err);
		return CTL_FAIL;
	}
	pbuf_init(&req);
	proto_receipts_req_encode(&req, &cr.rq);
	rc = ctl_request(ctl, &req, PROTO_T_RECEIPTS, ctl_receipts_cb, &cr);
	ctl_rcpt_free(&cr);
	return rc;
}

/* --- the console's own signed ack ---------------------------------------- */

struct ctl_sack {
	struct proto_ack	 ack;
	X509_STORE		*store;
	int			 sent;		/* the ACK is out: ACK_OK next */
	ctl_reply_fn		*ok_fn;		/* what prints ACK_OK */
};

/*
 * First RECEIPTS (for the envelope: checked, then hashed), then the ACK
 * signed over it on the same session, then ACK_OK for ok_fn.
 */
static int
ctl_sack_cb(struct ctl *ctl, const uint8_t *p, size_t len, void *arg)
{
	struct ctl_sack		*sa = arg;
	struct proto_receipts	 m;
	struct proto_alert	 a;
	struct proto_buf	 b;
	struct conf_agent	*conf = ctl_conf(ctl);
	EVP_PKEY		*key = NULL;
	X509			*cert = NULL;
	uint8_t			 h[PROTO_HASH_LEN];
	char			 why[256], err[512], cn[PROTO_ID_MAX + 1];
	int			 rc;

	if (sa->sent)
		return sa->ok_fn(ctl, p, len, NULL);
	if ((rc = proto_receipts_decode(p, len, &m)) != 0) {
		fprintf(stderr, "wuzhactl: malformed RECEIPTS: %s\n",
		    proto_err_name(-rc));
		return CTL_FAIL;
	}
	if ((rc = proto_envelope_verify(m.envelope.p, m.envelope.len,
	    sa->store, 0, &a, why, sizeof(why))) != 0 ||
	    strcmp(a.id, sa->ack.id) != 0) {
		fprintf(stderr, "wuzhactl: the envelope of %s does not verify: "
		    "%s\n", sa->ack.id, rc != 0 ? why : "another alert's");
		return CTL_FAIL;
	}
	if (proto_sha256(m.envelope.p, m.envelope.len, h) != 0 ||
	    (key = client_key_load(conf->tls.key, err, sizeof(err))) == NULL ||
	    (cert = client_cert_load(conf->tls.cert, err, sizeof(err))) == NULL ||
	    client_cert_cn(cert, cn, sizeof(cn)) == -1) {
		fprintf(stderr, "wuzhactl: cannot sign the receipt: %s\n",
		    key == NULL || cert == NULL ? err : "no CN in our certificate");
		EVP_PKEY_free(key);
		X509_free(cert);
		return CTL_FAIL;
	}
	pbuf_init(&b);
	rc = client_ack_encode(&b, &sa->ack, h, key, cn, now_ms());
	EVP_PKEY_free(key);
	X509_free(cert);
	if (rc == -1) {
		pbuf_free(&b);
		fprintf(stderr, "wuzhactl: cannot sign the receipt (the key "
		    "must be Ed25519)\n");
		return CTL_FAIL;
	}
	sa->sent = 1;
	ctl_request_want(ctl, PROTO_T_ACK_OK);
	return ctl_request_next(ctl, &b) == 0 ? CTL_NEXT : CTL_FAIL;
}

int
ctl_ack_signed(struct ctl *ctl, const struct proto_ack *ack,
    ctl_reply_fn *ok_fn)
{
	struct ctl_sack			 sa;
	struct proto_receipts_req	 rq;
	struct proto_buf		 req;
	char				 err[512];
	int				 rc;

	memset(&sa, 0, sizeof(sa));
	sa.ack = *ack;
	sa.ok_fn = ok_fn;
	if ((sa.store = client_store_load(ctl_conf(ctl)->tls.ca,
	    ctl_conf(ctl)->tls.crl, err, sizeof(err))) == NULL) {
		fprintf(stderr, "wuzhactl: %s\n", err);
		return CTL_FAIL;
	}
	/* One receipt at most: the page is wanted for its envelope. */
	memset(&rq, 0, sizeof(rq));
	snprintf(rq.id, sizeof(rq.id), "%s", ack->id);
	rq.limit = 1;
	pbuf_init(&req);
	proto_receipts_req_encode(&req, &rq);
	rc = ctl_request(ctl, &req, PROTO_T_RECEIPTS, ctl_sack_cb, &sa);
	X509_STORE_free(sa.store);
	return rc;
}
