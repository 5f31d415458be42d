/* SPDX-License-Identifier: ISC */
/*
 * clue: fraud clues reported upward (the plan's 线索) and the marks the
 * observers put on them.  A clue body and a mark body are canonical
 * field lists like the alert body; what is signed is a context string
 * of its own followed by the body, so a clue's signature can never pass
 * for an alert's or a mark's.  Both are kept in one "stored" form: body,
 * the SHA-256 of the signer's certificate, signature.  Also the six
 * CLUE* messages (PROTOCOL.md, "Clues").
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "proto.h"
#include "field.h"

static const struct field_spec clue_spec[] = {
	F_NAME(1, FIELD_REQ, struct proto_clue, id),
	F_NAME(2, FIELD_REQ, struct proto_clue, reporter),
	F_NODE(3, FIELD_REQ, struct proto_clue, node),
	F_TEXT(4, FIELD_REQ, 1, PROTO_CLUE_TEXT_MAX, struct proto_clue, text),
	F_TEXT(5, 0, 0, PROTO_CLUE_CONTACT_MAX, struct proto_clue, contact),
	F_U64(6, FIELD_REQ, struct proto_clue, at),
};

static const struct field_spec mark_spec[] = {
	F_NAME(1, FIELD_REQ, struct proto_clue_mark, clue),
	F_NAME(2, FIELD_REQ, struct proto_clue_mark, by),
	F_U8(3, FIELD_REQ, PROTO_CLUE_RECEIVED, PROTO_CLUE_HANDLED,
	    struct proto_clue_mark, state),
	F_TEXT(4, 0, 0, PROTO_CLUE_NOTE_MAX, struct proto_clue_mark, note),
	F_U64(5, FIELD_REQ, struct proto_clue_mark, at),
};

/* Lengths of cert_fp and sig are checked exactly after decoding. */
static const struct field_spec stored_spec[] = {
	F_BYTES(1, FIELD_REQ, UINT16_MAX, struct proto_clue_stored, body),
	F_BYTES(2, FIELD_REQ, PROTO_CLUE_FP_LEN, struct proto_clue_stored,
	    cert_fp),
	F_BYTES(3, FIELD_REQ, PROTO_SIG_LEN, struct proto_clue_stored, sig),
};

static const struct field_spec msg_spec[] = {
	F_BYTES(1, FIELD_REQ, UINT16_MAX, struct proto_clue_msg, body),
	F_BYTES(2, FIELD_REQ, PROTO_SIG_LEN, struct proto_clue_msg, sig),
};

static const struct field_spec ok_spec[] = {
	F_NAME(1, FIELD_REQ, struct proto_clue_ok, id),
	F_U64(2, FIELD_REQ, struct proto_clue_ok, seq),
	F_U8(3, 0, PROTO_CLUE_NONE, PROTO_CLUE_HANDLED, struct proto_clue_ok,
	    state),
};

static const struct field_spec push_spec[] = {
	F_U64(1, FIELD_REQ, struct proto_clue_push, seq),
	F_BYTES(2, FIELD_REQ, UINT16_MAX, struct proto_clue_push, clue),
	F_BYTES(3, FIELD_REQ, PROTO_CERT_MAX, struct proto_clue_push, cert),
	F_U8(4, 0, PROTO_CLUE_NONE, PROTO_CLUE_HANDLED, struct proto_clue_push,
	    state),
	F_NODE(5, 0, struct proto_clue_push, school),
	F_NODE(6, 0, struct proto_clue_push, police),
	F_U8(7, 0, 0, PROTO_CF_RESENT, struct proto_clue_push, flags),
};

static const struct field_spec req_spec[] = {
	F_U8(1, FIELD_REQ, PROTO_CLUES_PENDING, PROTO_CLUES_MINE,
	    struct proto_clues_req, which),
	F_U64(2, 0, struct proto_clues_req, after),
	F_U32(3, 0, struct proto_clues_req, limit),
	F_NAME(4, 0, struct proto_clues_req, id),
};

static const struct field_spec item_spec[] = {
	F_U64(1, FIELD_REQ, struct proto_clue_item, seq),
	F_BYTES(2, FIELD_REQ, UINT16_MAX, struct proto_clue_item, clue),
	F_U8(3, 0, PROTO_CLUE_NONE, PROTO_CLUE_HANDLED, struct proto_clue_item,
	    state),
	F_NODE(4, 0, struct proto_clue_item, school),
	F_NODE(5, 0, struct proto_clue_item, police),
	F_U8(6, 0, 0, 1, struct proto_clue_item, received),
	F_NAME(7, 0, struct proto_clue_item, by),
	F_TEXT(8, 0, 0, PROTO_CLUE_NOTE_MAX, struct proto_clue_item, note),
	F_U64(9, 0, struct proto_clue_item, changed),
};

#define CLUE_SCHEMA(nm, spec, st) \
	{ (nm), (spec), FIELD_NSPEC(spec), sizeof(st) }

static const struct field_schema clue_schema =
    CLUE_SCHEMA("clue body", clue_spec, struct proto_clue);
static const struct field_schema mark_schema =
    CLUE_SCHEMA("clue mark body", mark_spec, struct proto_clue_mark);
static const struct field_schema stored_schema =
    CLUE_SCHEMA("stored clue", stored_spec, struct proto_clue_stored);
static const struct field_schema msg_schema =
    CLUE_SCHEMA("CLUE", msg_spec, struct proto_clue_msg);
static const struct field_schema ok_schema =
    CLUE_SCHEMA("CLUE_OK", ok_spec, struct proto_clue_ok);
static const struct field_schema push_schema =
    CLUE_SCHEMA("CLUE_PUSH", push_spec, struct proto_clue_push);
static const struct field_schema req_schema =
    CLUE_SCHEMA("CLUES_REQ", req_spec, struct proto_clues_req);
static const struct field_schema item_schema =
    CLUE_SCHEMA("CLUES clue", item_spec, struct proto_clue_item);

static const struct field_spec clues_spec[] = {
	F_U64(1, FIELD_REQ, struct proto_clues, server_time),
	F_U8(2, FIELD_REQ, PROTO_CLUES_PENDING, PROTO_CLUES_MINE,
	    struct proto_clues, which),
	F_LIST(3, FIELD_REQ, &item_schema, struct proto_clues, clues),
	F_U64(4, 0, struct proto_clues, next),
};

static const struct field_schema clues_schema =
    CLUE_SCHEMA("CLUES", clues_spec, struct proto_clues);

/* --- names ------------------------------------------------------------- */

const char *
proto_clue_state_name(int s)
{
	switch (s) {
	case PROTO_CLUE_NONE:
		return "none";
	case PROTO_CLUE_RECEIVED:
		return "received";
	case PROTO_CLUE_HANDLED:
		return "handled";
	}
	return NULL;
}

int
proto_clue_state_parse(const char *s)
{
	int	i;

	for (i = PROTO_CLUE_NONE; i <= PROTO_CLUE_HANDLED; i++)
		if (strcmp(s, proto_clue_state_name(i)) == 0)
			return i;
	return -1;
}

/* --- bodies and the stored form ---------------------------------------- */

void
proto_clue_encode(struct proto_buf *b, const struct proto_clue *c)
{
	b->last_tag = -1;
	field_encode(b, &clue_schema, c);
}

int
proto_clue_decode(const uint8_t *p, size_t len, struct proto_clue *c)
{
	return field_decode(&clue_schema, p, len, c);
}

void
proto_clue_mark_encode(struct proto_buf *b, const struct proto_clue_mark *m)
{
	b->last_tag = -1;
	field_encode(b, &mark_schema, m);
}

int
proto_clue_mark_decode(const uint8_t *p, size_t len,
    struct proto_clue_mark *m)
{
	return field_decode(&mark_schema, p, len, m);
}

void
proto_clue_stored_encode(struct proto_buf *b,
    const struct proto_clue_stored *s)
{
	if (s->cert_fp.len != PROTO_CLUE_FP_LEN || s->sig.len != PROTO_SIG_LEN) {
		pbuf_fail(b, PROTO_E_VALUE);
		return;
	}
	b->last_tag = -1;
	field_encode(b, &stored_schema, s);
}

/* The stored form, with the hash and the signature of their exact sizes. */
int
proto_clue_stored_decode(const uint8_t *p, size_t len,
    struct proto_clue_stored *s)
{
	int	rc;

	if ((rc = field_decode(&stored_schema, p, len, s)) != 0)
		return rc;
	if (s->cert_fp.len != PROTO_CLUE_FP_LEN || s->sig.len != PROTO_SIG_LEN)
		return -PROTO_E_VALUE;
	return 0;
}

/* --- signatures -------------------------------------------------------- */

int
proto_clue_sign(const uint8_t *body, size_t len, int mark, EVP_PKEY *key,
    uint8_t sig[PROTO_SIG_LEN])
{
	return proto_ctx_sign(mark ? PROTO_CLUE_MARK_CONTEXT :
	    PROTO_CLUE_CONTEXT, body, len, key, sig);
}

int
proto_clue_verify_sig(const uint8_t *body, size_t len, int mark,
    const uint8_t *sig, size_t siglen, X509 *cert, char *why, size_t whylen)
{
	EVP_PKEY	*pub;
	int		 rc;

	if (cert == NULL || (pub = X509_get0_pubkey(cert)) == NULL ||
	    EVP_PKEY_get_base_id(pub) != EVP_PKEY_ED25519) {
		proto_why(why, whylen, "the signer's key is not Ed25519");
		return -PROTO_E_CLUE_BAD;
	}
	if (siglen != PROTO_SIG_LEN) {
		proto_why(why, whylen, "signature of %zu bytes, want %d",
		    siglen, PROTO_SIG_LEN);
		return -PROTO_E_CLUE_BAD;
	}
	rc = proto_ctx_verify(mark ? PROTO_CLUE_MARK_CONTEXT :
	    PROTO_CLUE_CONTEXT, body, len, sig, siglen, pub);
	if (rc == -PROTO_E_INTERNAL) {
		proto_why(why, whylen, "cannot set up the signature check");
		return rc;
	}
	if (rc != 0) {
		proto_why(why, whylen, "signature does not match the %s and "
		    "the certificate", mark ? "mark" : "clue");
		return -PROTO_E_CLUE_BAD;
	}
	return 0;
}

int
proto_clue_cert_fp(X509 *cert, uint8_t fp[PROTO_CLUE_FP_LEN])
{
	uint8_t		*der = NULL;
	unsigned int	 n = 0;
	int		 len, rc = -1;

	if (cert == NULL || (len = i2d_X509(cert, &der)) <= 0)
		return -1;
	if (EVP_Digest(der, (size_t)len, fp, &n, EVP_sha256(), NULL) == 1 &&
	    n == PROTO_CLUE_FP_LEN)
		rc = 0;
	OPENSSL_free(der);
	return rc;
}

/* --- messages ---------------------------------------------------------- */

static void
clue_frame(struct proto_buf *b, uint8_t type, const struct field_schema *s,
    const void *m)
{
	size_t	mark;

	mark = pbuf_frame_begin(b);
	field_encode(b, s, m);
	pbuf_frame_end(b, mark, type);
}

int
proto_clue_msg_decode(const uint8_t *p, size_t len, struct proto_clue_msg *m)
{
	int	rc;

	if ((rc = field_decode(&msg_schema, p, len, m)) != 0)
		return rc;
	return m->sig.len == PROTO_SIG_LEN ? 0 : -PROTO_E_VALUE;
}

void
proto_clue_msg_encode(struct proto_buf *b, uint8_t type,
    const struct proto_clue_msg *m)
{
	if (type != PROTO_T_CLUE && type != PROTO_T_CLUE_MARK) {
		pbuf_fail(b, PROTO_E_TYPE);
		return;
	}
	clue_frame(b, type, &msg_schema, m);
}

int
proto_clue_ok_decode(const uint8_t *p, size_t len, struct proto_clue_ok *m)
{
	return field_decode(&ok_schema, p, len, m);
}

void
proto_clue_ok_encode(struct proto_buf *b, const struct proto_clue_ok *m)
{
	clue_frame(b, PROTO_T_CLUE_OK, &ok_schema, m);
}

int
proto_clue_push_decode(const uint8_t *p, size_t len,
    struct proto_clue_push *m)
{
	return field_decode(&push_schema, p, len, m);
}

void
proto_clue_push_encode(struct proto_buf *b, const struct proto_clue_push *m)
{
	clue_frame(b, PROTO_T_CLUE_PUSH, &push_schema, m);
}

int
proto_clues_req_decode(const uint8_t *p, size_t len,
    struct proto_clues_req *m)
{
	return field_decode(&req_schema, p, len, m);
}

void
proto_clues_req_encode(struct proto_buf *b, const struct proto_clues_req *m)
{
	clue_frame(b, PROTO_T_CLUES_REQ, &req_schema, m);
}

int
proto_clues_decode(const uint8_t *p, size_t len, struct proto_clues *m)
{
	return field_decode(&clues_schema, p, len, m);
}

void
proto_clues_encode(struct proto_buf *b, const struct proto_clues *m)
{
	clue_frame(b, PROTO_T_CLUES, &clues_schema, m);
}

/* Append one clue to an open CLUES list. */
void
proto_clue_item_put(struct proto_buf *b, const struct proto_clue_item *m)
{
	size_t	mark;

	mark = pbuf_item_begin(b);
	field_encode(b, &item_schema, m);
	pbuf_item_end(b, mark);
}

int
proto_clue_item_next(const struct proto_view *v, size_t *cursor,
    struct proto_clue_item *m)
{
	return field_list_next(&item_schema, v, cursor, m);
}
