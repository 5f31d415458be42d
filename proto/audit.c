/* SPDX-License-Identifier: ISC */
/*
 * audit: the pieces of the tamper-evident log that both sides need.  The
 * entry encoding (what every accepting Lua script pushes onto audit:log),
 * RFC 6962 hashing and the compact range (the frontier a checkpointer
 * keeps between runs), signed checkpoints, the tree change record, and
 * the AUDIT_REQ / AUDIT messages.  Pure code over libcrypto.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "proto.h"
#include "field.h"


/* --- tables ------------------------------------------------------------ */

static const struct field_spec entry_spec[] = {
	F_U8(1, FIELD_REQ, 1, AUDIT_K_MAX, struct audit_entry, kind),
	F_U64(2, FIELD_REQ, struct audit_entry, at),
	F_NAME(3, FIELD_REQ, struct audit_entry, daemon),
	F_ANY(4, FIELD_BYTES, FIELD_REQ, 1, UINT16_MAX, struct audit_entry,
	    data),
};

static const struct field_schema entry_schema =
    { "audit entry", entry_spec, FIELD_NSPEC(entry_spec),
      sizeof(struct audit_entry) };

static const struct field_spec cp_body_spec[] = {
	F_U8(1, FIELD_REQ, AUDIT_CP_VERSION, AUDIT_CP_VERSION, struct audit_cp,
	    version),
	F_U64(2, FIELD_REQ, struct audit_cp, size),
	F_ANY(3, FIELD_BYTES, FIELD_REQ, AUDIT_HASH_LEN, AUDIT_HASH_LEN,
	    struct audit_cp, root),
	F_U64(4, FIELD_REQ, struct audit_cp, at),
	F_NAME(5, FIELD_REQ, struct audit_cp, daemon),
};

static const struct field_schema cp_body_schema =
    { "checkpoint body", cp_body_spec, FIELD_NSPEC(cp_body_spec),
      sizeof(struct audit_cp) };

/* The signed form: body, the signer's certificate, the signature. */
struct cp_signed {
	struct proto_view	body;
	struct proto_view	cert;
	struct proto_view	sig;
};

static const struct field_spec cp_signed_spec[] = {
	F_ANY(1, FIELD_BYTES, FIELD_REQ, 1, UINT16_MAX, struct cp_signed, body),
	F_ANY(2, FIELD_BYTES, FIELD_REQ, 1, PROTO_CERT_MAX, struct cp_signed,
	    cert),
	F_ANY(3, FIELD_BYTES, FIELD_REQ, PROTO_SIG_LEN, PROTO_SIG_LEN,
	    struct cp_signed, sig),
};

static const struct field_schema cp_signed_schema =
    { "checkpoint", cp_signed_spec, FIELD_NSPEC(cp_signed_spec),
      sizeof(struct cp_signed) };

static const struct field_spec tree_spec[] = {
	F_U8(1, FIELD_REQ, 1, 1, struct audit_tree, version),
	F_U64(2, FIELD_REQ, struct audit_tree, gen),
	F_U32(3, FIELD_REQ, struct audit_tree, changes),
	F_ANY(4, FIELD_BYTES, FIELD_REQ, AUDIT_HASH_LEN, AUDIT_HASH_LEN,
	    struct audit_tree, digest),
	F_NAME(5, FIELD_REQ, struct audit_tree, by),
	F_BYTES(6, 0, AUDIT_TREE_LIST_MAX, struct audit_tree, list),
};

static const struct field_schema tree_schema =
    { "tree change", tree_spec, FIELD_NSPEC(tree_spec),
      sizeof(struct audit_tree) };

static const struct field_spec audit_req_spec[] = {
	F_U8(1, FIELD_REQ, AUDIT_W_ENTRIES, AUDIT_W_CHECKPOINTS,
	    struct proto_audit_req, what),
	F_U64(2, 0, struct proto_audit_req, from),
	F_U32(3, 0, struct proto_audit_req, count),
};

static const struct field_schema audit_req_schema =
    { "AUDIT_REQ", audit_req_spec, FIELD_NSPEC(audit_req_spec),
      sizeof(struct proto_audit_req) };

static const struct field_spec audit_item_spec[] = {
	F_ANY(1, FIELD_BYTES, FIELD_REQ, 1, UINT16_MAX, struct proto_audit_item,
	    data),
};

static const struct field_schema audit_item_schema =
    { "AUDIT item", audit_item_spec, FIELD_NSPEC(audit_item_spec),
      sizeof(struct proto_audit_item) };

static const struct field_spec audit_spec[] = {
	F_U8(1, FIELD_REQ, AUDIT_W_ENTRIES, AUDIT_W_CHECKPOINTS,
	    struct proto_audit, what),
	F_U64(2, FIELD_REQ, struct proto_audit, from),
	F_U64(3, FIELD_REQ, struct proto_audit, total),
	F_LIST(4, FIELD_REQ, &audit_item_schema, struct proto_audit, items),
};

static const struct field_schema audit_schema =
    { "AUDIT", audit_spec, FIELD_NSPEC(audit_spec),
      sizeof(struct proto_audit) };

/* --- entries ----------------------------------------------------------- */

const char *
audit_kind_name(int kind)
{
	switch (kind) {
	case AUDIT_K_ALERT:
		return "alert";
	case AUDIT_K_RECEIPT:
		return "receipt";
	case AUDIT_K_CERT:
		return "cert";
	case AUDIT_K_CLUE:
		return "clue";
	case AUDIT_K_CLUE_MARK:
		return "clue_mark";
	case AUDIT_K_TREE:
		return "tree";
	case AUDIT_K_SCHEDULE_CANCEL:
		return "schedule_cancel";
	}
	return "?";
}

int
audit_entry_encode(struct proto_buf *b, uint8_t kind, uint64_t at,
    const char *daemon, const void *data, size_t len)
{
	struct audit_entry	e;

	memset(&e, 0, sizeof(e));
	if (kind < 1 || kind > AUDIT_K_MAX || daemon == NULL ||
	    strlen(daemon) > PROTO_ID_MAX || len == 0 || len > UINT16_MAX) {
		pbuf_fail(b, PROTO_E_VALUE);
		return -1;
	}
	e.kind = kind;
	e.at = at;
	memcpy(e.daemon, daemon, strlen(daemon) + 1);
	e.data.p = data;
	e.data.len = len;
	field_encode(b, &entry_schema, &e);
	return b->err == 0 ? 0 : -1;
}

/*
 * Fields 1 to 3 of an entry, without its data: a script that logs many
 * entries of one kind and time (a batch of receipts) is given this once
 * and appends field 4 itself (tag 4, u16 length, the bytes).
 */
int
audit_entry_head(struct proto_buf *b, uint8_t kind, uint64_t at,
    const char *daemon)
{
	if (kind < 1 || kind > AUDIT_K_MAX || daemon == NULL ||
	    strlen(daemon) > PROTO_ID_MAX) {
		pbuf_fail(b, PROTO_E_VALUE);
		return -1;
	}
	pbuf_u8(b, 1, kind);
	pbuf_u64(b, 2, at);
	pbuf_str(b, 3, daemon);
	return b->err == 0 ? 0 : -1;
}

int
audit_entry_decode(const uint8_t *p, size_t len, struct audit_entry *e)
{
	return field_decode(&entry_schema, p, len, e);
}

/* --- hashing ----------------------------------------------------------- */

void
audit_leaf_hash(const void *entry, size_t len, uint8_t out[AUDIT_HASH_LEN])
{
	static const uint8_t	 zero = 0x00;
	EVP_MD_CTX		*m;

	if ((m = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(m, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(m, &zero, 1) != 1 ||
	    EVP_DigestUpdate(m, entry, len) != 1 ||
	    EVP_DigestFinal_ex(m, out, NULL) != 1)
		abort();	/* SHA-256 does not fail short of no memory */
	EVP_MD_CTX_free(m);
}

void
audit_node_hash(const uint8_t l[AUDIT_HASH_LEN],
    const uint8_t r[AUDIT_HASH_LEN], uint8_t out[AUDIT_HASH_LEN])
{
	uint8_t		buf[1 + 2 * AUDIT_HASH_LEN];

	buf[0] = 0x01;
	memcpy(buf + 1, l, AUDIT_HASH_LEN);
	memcpy(buf + 1 + AUDIT_HASH_LEN, r, AUDIT_HASH_LEN);
	SHA256(buf, sizeof(buf), out);
}

void
audit_range_init(struct audit_range *r)
{
	memset(r, 0, sizeof(*r));
}

/*
 * Like a binary counter: the new leaf is a subtree of one; while the
 * old size had a one in the lowest bits, the last two subtrees are of
 * equal size and merge.
 */
void
audit_range_push(struct audit_range *r, const uint8_t leaf[AUDIT_HASH_LEN])
{
	uint64_t	s = r->size;

	memcpy(r->h[r->n++], leaf, AUDIT_HASH_LEN);
	while (s & 1) {
		audit_node_hash(r->h[r->n - 2], r->h[r->n - 1],
		    r->h[r->n - 2]);
		r->n--;
		s >>= 1;
	}
	r->size++;
}

/*
 * RFC 6962's MTH: the subtrees of a prefix, largest first, are exactly
 * the left parts its recursion splits off; so fold from the right.
 */
void
audit_range_root(const struct audit_range *r, uint8_t out[AUDIT_HASH_LEN])
{
	uint8_t		acc[AUDIT_HASH_LEN];
	int		i;

	if (r->n == 0) {
		SHA256(NULL, 0, out);
		return;
	}
	memcpy(acc, r->h[r->n - 1], AUDIT_HASH_LEN);
	for (i = r->n - 2; i >= 0; i--)
		audit_node_hash(r->h[i], acc, acc);
	memcpy(out, acc, AUDIT_HASH_LEN);
}

static int
popcount64(uint64_t v)
{
	int	n = 0;

	for (; v != 0; v &= v - 1)
		n++;
	return n;
}

char *
audit_range_format(const struct audit_range *r)
{
	char	*s, *o;
	int	 i, j;

	if ((s = malloc(24 + (size_t)r->n * (2 * AUDIT_HASH_LEN + 1))) == NULL)
		return NULL;
	o = s + sprintf(s, "%llu", (unsigned long long)r->size);
	for (i = 0; i < r->n; i++) {
		*o++ = ' ';
		for (j = 0; j < AUDIT_HASH_LEN; j++)
			o += sprintf(o, "%02x", r->h[i][j]);
	}
	*o = '\0';
	return s;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
audit_range_parse(struct audit_range *r, const char *s, size_t len)
{
	size_t		i = 0;
	uint64_t	size = 0;
	int		n, k, j, hi, lo;

	audit_range_init(r);
	if (len == 0 || s[0] < '0' || s[0] > '9')
		return -1;
	while (i < len && s[i] >= '0' && s[i] <= '9') {
		if (size > (UINT64_MAX - 9) / 10)
			return -1;
		size = size * 10 + (uint64_t)(s[i++] - '0');
	}
	n = popcount64(size);
	if (len - i != (size_t)n * (2 * AUDIT_HASH_LEN + 1))
		return -1;
	for (k = 0; k < n; k++) {
		if (s[i++] != ' ')
			return -1;
		for (j = 0; j < AUDIT_HASH_LEN; j++) {
			if ((hi = hexval(s[i])) < 0 ||
			    (lo = hexval(s[i + 1])) < 0)
				return -1;
			r->h[k][j] = (uint8_t)(hi << 4 | lo);
			i += 2;
		}
	}
	r->size = size;
	r->n = n;
	return 0;
}

/* --- checkpoints ------------------------------------------------------- */

int
audit_cp_sign(struct proto_buf *b, uint64_t size,
    const uint8_t root[AUDIT_HASH_LEN], uint64_t at, const char *daemon,
    EVP_PKEY *key, X509 *cert)
{
	struct proto_buf	 body;
	struct audit_cp		 cp;
	struct cp_signed	 sd;
	uint8_t			*der = NULL;
	uint8_t			 sig[PROTO_SIG_LEN];
	int			 derlen, rc = -1;

	pbuf_init(&body);
	if (b->err != 0 || key == NULL || cert == NULL || daemon == NULL ||
	    strlen(daemon) > PROTO_ID_MAX ||
	    EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519)
		goto done;
	memset(&cp, 0, sizeof(cp));
	cp.version = AUDIT_CP_VERSION;
	cp.size = size;
	cp.root.p = root;
	cp.root.len = AUDIT_HASH_LEN;
	cp.at = at;
	memcpy(cp.daemon, daemon, strlen(daemon) + 1);
	field_encode(&body, &cp_body_schema, &cp);
	if (body.err != 0 || proto_ctx_sign(AUDIT_CP_CONTEXT, body.data,
	    body.len, key, sig) == -1)
		goto done;
	if ((derlen = i2d_X509(cert, &der)) <= 0 || derlen > PROTO_CERT_MAX)
		goto done;
	sd.body.p = body.data;
	sd.body.len = body.len;
	sd.cert.p = der;
	sd.cert.len = (size_t)derlen;
	sd.sig.p = sig;
	sd.sig.len = sizeof(sig);
	field_encode(b, &cp_signed_schema, &sd);
	rc = b->err == 0 ? 0 : -1;
done:
	OPENSSL_free(der);
	pbuf_free(&body);
	return rc;
}

int
audit_cp_decode(const uint8_t *p, size_t len, struct audit_cp *cp)
{
	struct cp_signed	sd;
	int			rc;

	if ((rc = field_decode(&cp_signed_schema, p, len, &sd)) != 0)
		return rc;
	if ((rc = field_decode(&cp_body_schema, sd.body.p, sd.body.len,
	    cp)) != 0)
		return rc;
	cp->cert = sd.cert;
	cp->sig = sd.sig;
	return 0;
}

int
audit_cp_verify(const uint8_t *p, size_t len, X509_STORE *store,
    struct audit_cp *out, char *why, size_t whylen)
{
	struct cp_signed	 sd;
	struct audit_cp		 cp;
	X509			*cert = NULL;
	X509_STORE_CTX		*xctx = NULL;
	EVP_PKEY		*pub;
	const unsigned char	*d;
	int			 rc;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if ((rc = field_decode(&cp_signed_schema, p, len, &sd)) != 0 ||
	    (rc = field_decode(&cp_body_schema, sd.body.p, sd.body.len,
	    &cp)) != 0) {
		proto_why(why, whylen, "checkpoint does not decode: %s",
		    proto_err_name(-rc));
		return rc;
	}
	cp.cert = sd.cert;
	cp.sig = sd.sig;
	d = sd.cert.p;
	if ((cert = d2i_X509(NULL, &d, (long)sd.cert.len)) == NULL ||
	    d != sd.cert.p + sd.cert.len) {
		proto_why(why, whylen, "signer certificate does not parse");
		rc = -PROTO_E_CERT;
		goto done;
	}
	if (store == NULL || (xctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(xctx, store, cert, NULL) != 1) {
		proto_why(why, whylen, "cannot set up certificate check");
		rc = -PROTO_E_INTERNAL;
		goto done;
	}
	X509_STORE_CTX_set_time(xctx, 0, (time_t)(cp.at / 1000));
	if (X509_verify_cert(xctx) != 1) {
		proto_why(why, whylen, "signer certificate: %s",
		    X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(xctx)));
		rc = -PROTO_E_CERT;
		goto done;
	}
	if ((pub = X509_get0_pubkey(cert)) == NULL ||
	    EVP_PKEY_get_base_id(pub) != EVP_PKEY_ED25519) {
		proto_why(why, whylen, "signer key is not Ed25519");
		rc = -PROTO_E_CERT;
		goto done;
	}
	if ((rc = proto_ctx_verify(AUDIT_CP_CONTEXT, sd.body.p, sd.body.len,
	    sd.sig.p, sd.sig.len, pub)) != 0) {
		proto_why(why, whylen, rc == -PROTO_E_INTERNAL ? "cannot "
		    "check the signature" : "signature does not match the "
		    "checkpoint");
		goto done;
	}
	if (out != NULL)
		*out = cp;
	rc = 0;
done:
	X509_STORE_CTX_free(xctx);
	X509_free(cert);
	return rc;
}

/* --- tree change record ------------------------------------------------ */

void
audit_tree_encode(struct proto_buf *b, const struct audit_tree *t)
{
	field_encode(b, &tree_schema, t);
}

int
audit_tree_decode(const uint8_t *p, size_t len, struct audit_tree *t)
{
	return field_decode(&tree_schema, p, len, t);
}

/* --- AUDIT_REQ / AUDIT -------------------------------------------------- */

int
proto_audit_req_decode(const uint8_t *p, size_t len,
    struct proto_audit_req *m)
{
	return field_decode(&audit_req_schema, p, len, m);
}

int
proto_audit_decode(const uint8_t *p, size_t len, struct proto_audit *m)
{
	return field_decode(&audit_schema, p, len, m);
}

int
proto_audit_item_next(const struct proto_view *v, size_t *cursor,
    struct proto_audit_item *m)
{
	return field_list_next(&audit_item_schema, v, cursor, m);
}

void
proto_audit_req_encode(struct proto_buf *b, const struct proto_audit_req *m)
{
	size_t	mark;

	mark = pbuf_frame_begin(b);
	field_encode(b, &audit_req_schema, m);
	pbuf_frame_end(b, mark, PROTO_T_AUDIT_REQ);
}

void
proto_audit_encode(struct proto_buf *b, const struct proto_audit *m)
{
	size_t	mark;

	mark = pbuf_frame_begin(b);
	field_encode(b, &audit_schema, m);
	pbuf_frame_end(b, mark, PROTO_T_AUDIT);
}

void
proto_audit_item_put(struct proto_buf *b, const struct proto_audit_item *m)
{
	size_t	mark;

	mark = pbuf_item_begin(b);
	field_encode(b, &audit_item_schema, m);
	pbuf_item_end(b, mark);
}
