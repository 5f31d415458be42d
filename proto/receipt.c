/* SPDX-License-Identifier: ISC */
/*
 * receipt: signed acknowledgements.  An agent signs, with its own TLS
 * key, a small canonical body saying which alert (by id and by the
 * SHA-256 of its envelope), which state, when and who; the daemon checks
 * it on ACK and keeps it as sent, and anyone holding the CA can check it
 * again later (wuzhactl receipts --verify, the audit log).  Here: the
 * body and its stored form, the RECEIPTS_REQ / RECEIPTS messages that
 * list them, and the signing and checking.  See PROTOCOL.md, "Receipts".
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "proto.h"
#include "field.h"


static const struct field_spec receipt_spec[] = {
	F_U8(1, FIELD_REQ, 1, 255, struct proto_receipt, version),
	F_NAME(2, FIELD_REQ, struct proto_receipt, id),
	F_ANY(3, FIELD_BYTES, FIELD_REQ, PROTO_HASH_LEN, PROTO_HASH_LEN,
	    struct proto_receipt, env_hash),
	F_U8(4, FIELD_REQ, PROTO_ACK_DELIVERED, PROTO_ACK_MAX,
	    struct proto_receipt, state),
	F_U32_HAS(5, struct proto_receipt, reach, has_reach),
	F_U64(6, FIELD_REQ, struct proto_receipt, at),
	F_NAME(7, FIELD_REQ, struct proto_receipt, principal),
};

static const struct field_spec stored_spec[] = {
	F_BYTES(1, FIELD_REQ, PROTO_RECEIPT_MAX, struct proto_stored_receipt,
	    body),
	F_ANY(2, FIELD_BYTES, FIELD_REQ, PROTO_HASH_LEN, PROTO_HASH_LEN,
	    struct proto_stored_receipt, cert_fp),
	F_ANY(3, FIELD_BYTES, FIELD_REQ, PROTO_SIG_LEN, PROTO_SIG_LEN,
	    struct proto_stored_receipt, sig),
};

static const struct field_spec receipts_req_spec[] = {
	F_NAME(1, FIELD_REQ, struct proto_receipts_req, id),
	F_NODE(2, 0, struct proto_receipts_req, node),
	F_U64(3, 0, struct proto_receipts_req, cursor),
	F_U32(4, 0, struct proto_receipts_req, limit),
};

static const struct field_spec receipt_item_spec[] = {
	F_NAME(1, FIELD_REQ, struct proto_receipt_item, cn),
	F_U8(2, FIELD_REQ, PROTO_ACK_DELIVERED, PROTO_ACK_MAX,
	    struct proto_receipt_item, state),
	F_BYTES(3, FIELD_REQ, PROTO_STORED_RECEIPT_MAX,
	    struct proto_receipt_item, receipt),
	F_BYTES(4, 0, PROTO_CERT_MAX, struct proto_receipt_item, cert),
};

#define RECEIPT_SCHEMA(nm, spec, st) \
	{ (nm), (spec), FIELD_NSPEC(spec), sizeof(st) }

static const struct field_schema receipt_schema =
    RECEIPT_SCHEMA("receipt body", receipt_spec, struct proto_receipt);
static const struct field_schema stored_schema =
    RECEIPT_SCHEMA("stored receipt", stored_spec,
    struct proto_stored_receipt);
static const struct field_schema receipts_req_schema =
    RECEIPT_SCHEMA("RECEIPTS_REQ", receipts_req_spec,
    struct proto_receipts_req);
static const struct field_schema receipt_item_schema =
    RECEIPT_SCHEMA("RECEIPTS item", receipt_item_spec,
    struct proto_receipt_item);

static const struct field_spec receipts_spec[] = {
	F_NAME(1, FIELD_REQ, struct proto_receipts, id),
	F_BYTES(2, FIELD_REQ, UINT16_MAX, struct proto_receipts, envelope),
	F_LIST(3, FIELD_REQ, &receipt_item_schema, struct proto_receipts,
	    items),
	F_U64(4, 0, struct proto_receipts, cursor),
};

static const struct field_schema receipts_schema =
    RECEIPT_SCHEMA("RECEIPTS", receipts_spec, struct proto_receipts);

/* Rules across fields: version 1; a head count goes with relayed only. */
static int
receipt_check(const struct proto_receipt *r)
{
	if (r->version != PROTO_RECEIPT_VERSION)
		return PROTO_E_VERSION;
	if (r->has_reach && r->state != PROTO_ACK_RELAYED)
		return PROTO_E_VALUE;
	return 0;
}

void
proto_receipt_encode(struct proto_buf *b, const struct proto_receipt *r)
{
	int	rc;

	if (b->err != 0)
		return;
	if ((rc = receipt_check(r)) != 0) {
		pbuf_fail(b, rc);
		return;
	}
	b->last_tag = -1;
	field_encode(b, &receipt_schema, r);
}

int
proto_receipt_decode(const uint8_t *p, size_t len, struct proto_receipt *r)
{
	int	rc;

	if ((rc = field_decode(&receipt_schema, p, len, r)) != 0)
		return rc;
	if ((rc = receipt_check(r)) != 0)
		return -rc;
	return 0;
}

void
proto_stored_receipt_encode(struct proto_buf *b,
    const struct proto_stored_receipt *s)
{
	if (b->err != 0)
		return;
	b->last_tag = -1;
	field_encode(b, &stored_schema, s);
}

int
proto_stored_receipt_decode(const uint8_t *p, size_t len,
    struct proto_stored_receipt *s)
{
	return field_decode(&stored_schema, p, len, s);
}

/* --- RECEIPTS_REQ, RECEIPTS -------------------------------------------- */

static void
receipt_msg_encode(struct proto_buf *b, uint8_t type,
    const struct field_schema *s, const void *m)
{
	size_t	mark;

	mark = pbuf_frame_begin(b);
	field_encode(b, s, m);
	pbuf_frame_end(b, mark, type);
}

int
proto_receipts_req_decode(const uint8_t *p, size_t len,
    struct proto_receipts_req *m)
{
	return field_decode(&receipts_req_schema, p, len, m);
}

void
proto_receipts_req_encode(struct proto_buf *b,
    const struct proto_receipts_req *m)
{
	receipt_msg_encode(b, PROTO_T_RECEIPTS_REQ, &receipts_req_schema, m);
}

int
proto_receipts_decode(const uint8_t *p, size_t len, struct proto_receipts *m)
{
	return field_decode(&receipts_schema, p, len, m);
}

/* RECEIPTS: m->items is a list built with pbuf_list_* and the _put. */
void
proto_receipts_encode(struct proto_buf *b, const struct proto_receipts *m)
{
	receipt_msg_encode(b, PROTO_T_RECEIPTS, &receipts_schema, m);
}

void
proto_receipt_item_put(struct proto_buf *b, const struct proto_receipt_item *m)
{
	size_t	mark;

	mark = pbuf_item_begin(b);
	field_encode(b, &receipt_item_schema, m);
	pbuf_item_end(b, mark);
}

int
proto_receipt_item_next(const struct proto_view *v, size_t *cursor,
    struct proto_receipt_item *m)
{
	return field_list_next(&receipt_item_schema, v, cursor, m);
}

/* --- signing and checking ---------------------------------------------- */

int
proto_sha256(const uint8_t *p, size_t len, uint8_t *out)
{
	unsigned int	n = 0;

	if (EVP_Digest(p, len, out, &n, EVP_sha256(), NULL) != 1 ||
	    n != PROTO_HASH_LEN)
		return -1;
	return 0;
}

int
proto_receipt_sign(const uint8_t *body, size_t len, EVP_PKEY *key,
    uint8_t *sig)
{
	return proto_ctx_sign(PROTO_RECEIPT_CONTEXT, body, len, key, sig);
}

int
proto_receipt_make(struct proto_buf *b, const struct proto_receipt *r,
    EVP_PKEY *key, uint8_t *sig)
{
	proto_receipt_encode(b, r);
	if (b->err != 0)
		return -1;
	return proto_receipt_sign(b->data, b->len, key, sig);
}

int
proto_receipt_check_sig(const uint8_t *body, size_t len, const uint8_t *sig,
    size_t siglen, EVP_PKEY *pub)
{
	int	rc;

	rc = proto_ctx_verify(PROTO_RECEIPT_CONTEXT, body, len, sig, siglen,
	    pub);
	return rc == -PROTO_E_SIGNATURE ? -PROTO_E_RECEIPT : rc;
}

int
proto_cert_cn(X509 *cert, char *cn, size_t cnlen)
{
	X509_NAME		*subj;
	const ASN1_STRING	*s;
	const unsigned char	*d;
	int			 i, n;

	if (cnlen > 0)
		cn[0] = '\0';
	if ((subj = X509_get_subject_name(cert)) == NULL ||
	    (i = X509_NAME_get_index_by_NID(subj, NID_commonName, -1)) < 0 ||
	    X509_NAME_get_index_by_NID(subj, NID_commonName, i) >= 0)
		return -1;
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));
	if (s == NULL || (d = ASN1_STRING_get0_data(s)) == NULL)
		return -1;
	n = ASN1_STRING_length(s);
	if (n <= 0 || n > PROTO_ID_MAX || (size_t)n >= cnlen ||
	    !proto_name_valid((const char *)d, (size_t)n))
		return -1;
	memcpy(cn, d, (size_t)n);
	cn[n] = '\0';
	return 0;
}

int
proto_receipt_verify(const uint8_t *stored, size_t len, const uint8_t *cert,
    size_t certlen, X509_STORE *store, int64_t now, const uint8_t *env_hash,
    struct proto_receipt *out, char *why, size_t whylen)
{
	struct proto_stored_receipt	 s;
	struct proto_receipt		 r;
	X509				*x = NULL;
	X509_STORE_CTX			*xctx = NULL;
	const unsigned char		*p;
	uint8_t				 fp[PROTO_HASH_LEN];
	char				 cn[PROTO_ID_MAX + 1];
	int				 rc;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if ((rc = proto_stored_receipt_decode(stored, len, &s)) != 0) {
		proto_why(why, whylen, "stored receipt: %s",
		    proto_err_name(-rc));
		return -PROTO_E_RECEIPT;
	}
	if ((rc = proto_receipt_decode(s.body.p, s.body.len, &r)) != 0) {
		proto_why(why, whylen, "receipt body: %s", proto_err_name(-rc));
		return -PROTO_E_RECEIPT;
	}
	if (cert == NULL || proto_sha256(cert, certlen, fp) != 0 ||
	    memcmp(fp, s.cert_fp.p, PROTO_HASH_LEN) != 0) {
		proto_why(why, whylen, "no certificate with the receipt's "
		    "fingerprint");
		return -PROTO_E_CERT;
	}
	p = cert;
	if ((x = d2i_X509(NULL, &p, (long)certlen)) == NULL ||
	    p != cert + certlen) {
		proto_why(why, whylen, "certificate does not parse");
		rc = -PROTO_E_CERT;
		goto done;
	}
	if (store == NULL || (xctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(xctx, store, x, NULL) != 1) {
		proto_why(why, whylen, "cannot set up certificate check");
		rc = -PROTO_E_INTERNAL;
		goto done;
	}
	if (now != 0)
		X509_STORE_CTX_set_time(xctx, 0, (time_t)now);
	if (X509_verify_cert(xctx) != 1) {
		proto_why(why, whylen, "certificate: %s",
		    X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(xctx)));
		rc = -PROTO_E_CERT;
		goto done;
	}
	if (proto_cert_cn(x, cn, sizeof(cn)) != 0 ||
	    strcmp(cn, r.principal) != 0) {
		proto_why(why, whylen, "certificate CN %s, receipt principal "
		    "%s", cn[0] ? cn : "(none)", r.principal);
		rc = -PROTO_E_RECEIPT;
		goto done;
	}
	if ((rc = proto_receipt_check_sig(s.body.p, s.body.len, s.sig.p,
	    s.sig.len, X509_get0_pubkey(x))) != 0) {
		proto_why(why, whylen, "signature does not match the receipt");
		goto done;
	}
	if (env_hash != NULL &&
	    memcmp(env_hash, r.env_hash.p, PROTO_HASH_LEN) != 0) {
		proto_why(why, whylen, "receipt is for another envelope than "
		    "alert %s's", r.id);
		rc = -PROTO_E_RECEIPT;
		goto done;
	}
	if (out != NULL)
		*out = r;
	rc = 0;
done:
	X509_STORE_CTX_free(xctx);
	X509_free(x);
	return rc;
}
