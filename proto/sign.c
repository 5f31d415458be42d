/* SPDX-License-Identifier: ISC */
/*
 * sign: Ed25519 signatures over alert bodies, and the full check of a
 * signed envelope that the daemon makes on PUBLISH and every agent makes
 * again before it shows an alert.  What is signed is PROTO_SIG_CONTEXT
 * followed by the canonical body bytes, exactly as carried.
 */

#include <stdarg.h>
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

/*
 * Every signature in wuzha is pure Ed25519 over a context string followed
 * by the signed bytes: "wuzha-alert-v1" for an alert body, and one of its
 * own for a receipt, a clue, a mark and a checkpoint, so that a signature
 * of one kind of thing is never valid for another made with the same key.
 */
static uint8_t *
sign_message(const char *ctx, const uint8_t *body, size_t len,
    size_t *outlen)
{
	size_t		 cl = strlen(ctx);
	uint8_t		*m;

	if ((m = malloc(cl + len + 1)) == NULL)
		return NULL;
	memcpy(m, ctx, cl);
	if (len > 0)
		memcpy(m + cl, body, len);
	*outlen = cl + len;
	return m;
}

int
proto_ctx_sign(const char *ctx, const uint8_t *body, size_t len,
    EVP_PKEY *key, uint8_t sig[PROTO_SIG_LEN])
{
	EVP_MD_CTX	*mctx = NULL;
	uint8_t		*msg;
	size_t		 mlen, siglen = PROTO_SIG_LEN;
	int		 rc = -1;

	if (key == NULL || EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519 ||
	    (msg = sign_message(ctx, body, len, &mlen)) == NULL)
		return -1;
	if ((mctx = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestSignInit(mctx, NULL, NULL, NULL, key) == 1 &&
	    EVP_DigestSign(mctx, sig, &siglen, msg, mlen) == 1 &&
	    siglen == PROTO_SIG_LEN)
		rc = 0;
	EVP_MD_CTX_free(mctx);
	free(msg);
	return rc;
}

int
proto_ctx_verify(const char *ctx, const uint8_t *body, size_t len,
    const uint8_t *sig, size_t siglen, EVP_PKEY *pub)
{
	EVP_MD_CTX	*mctx = NULL;
	uint8_t		*msg;
	size_t		 mlen;
	int		 rc = -PROTO_E_SIGNATURE;

	if (pub == NULL || EVP_PKEY_get_base_id(pub) != EVP_PKEY_ED25519 ||
	    siglen != PROTO_SIG_LEN)
		return -PROTO_E_SIGNATURE;
	if ((msg = sign_message(ctx, body, len, &mlen)) == NULL)
		return -PROTO_E_INTERNAL;
	if ((mctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(mctx, NULL, NULL, NULL, pub) != 1)
		rc = -PROTO_E_INTERNAL;
	else if (EVP_DigestVerify(mctx, sig, siglen, msg, mlen) == 1)
		rc = 0;
	EVP_MD_CTX_free(mctx);
	free(msg);
	return rc;
}

/*
 * Encode a's body, sign it with key and append the envelope to b.  The
 * key must be Ed25519 and match the public key of cert, whose DER goes
 * into the envelope.
 */
int
proto_envelope_sign(struct proto_buf *b, const struct proto_alert *a,
    EVP_PKEY *key, X509 *cert)
{
	struct proto_buf	 body;
	struct proto_envelope	 e;
	EVP_PKEY		*pub;
	uint8_t			*der = NULL;
	uint8_t			 sig[PROTO_SIG_LEN];
	int			 derlen, rc = -1;

	pbuf_init(&body);
	if (b->err != 0 || key == NULL || cert == NULL)
		goto done;
	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519)
		goto done;
	if ((pub = X509_get0_pubkey(cert)) == NULL ||
	    EVP_PKEY_eq(pub, key) != 1)
		goto done;
	proto_alert_encode(&body, a);
	if (body.err != 0)
		goto done;
	if (proto_ctx_sign(PROTO_SIG_CONTEXT, body.data, body.len, key,
	    sig) == -1)
		goto done;
	if ((derlen = i2d_X509(cert, &der)) <= 0 || derlen > PROTO_CERT_MAX)
		goto done;
	memset(&e, 0, sizeof(e));
	e.body.p = body.data;
	e.body.len = body.len;
	e.cert.p = der;
	e.cert.len = (size_t)derlen;
	e.sig.p = sig;
	e.sig.len = sizeof(sig);
	proto_envelope_encode(b, &e);
	if (b->err == 0)
		rc = 0;
done:
	OPENSSL_free(der);
	pbuf_free(&body);
	return rc;
}

/* Set the short reason for a refusal, if the caller wants one. */
void
proto_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list		 ap;

	if (why == NULL || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

/*
 * Compare the one subject CN of cert with name; 0 if equal, -1 if the
 * CN is missing, repeated or different.  cn gets a printable copy.
 */
static int
sign_cn_match(X509 *cert, const char *name, char *cn, size_t cnlen)
{
	X509_NAME		*subj;
	const ASN1_STRING	*s;
	const unsigned char	*d;
	int			 i, n;

	cn[0] = '\0';
	if ((subj = X509_get_subject_name(cert)) == NULL ||
	    (i = X509_NAME_get_index_by_NID(subj, NID_commonName, -1)) < 0)
		return -1;
	if (X509_NAME_get_index_by_NID(subj, NID_commonName, i) >= 0) {
		snprintf(cn, cnlen, "(several)");
		return -1;
	}
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));
	if (s == NULL || (d = ASN1_STRING_get0_data(s)) == NULL)
		return -1;
	n = ASN1_STRING_length(s);
	if (n <= 0 || n > PROTO_ID_MAX ||
	    !proto_name_valid((const char *)d, (size_t)n)) {
		snprintf(cn, cnlen, "(not a principal name)");
		return -1;
	}
	snprintf(cn, cnlen, "%.*s", n, (const char *)d);
	if (strlen(name) != (size_t)n || memcmp(name, d, (size_t)n) != 0)
		return -1;
	return 0;
}

/*
 * Verify a signed envelope: its encoding, its body, the certificate's
 * chain to store (with the store's flags, CRL checking included) at time
 * now, the CN against the body's issuer, the key type, then the
 * signature over context || body.  Fills *alert only on success.
 */
int
proto_envelope_verify(const uint8_t *buf, size_t len, X509_STORE *store,
    int64_t now, struct proto_alert *alert, char *why, size_t whylen)
{
	struct proto_envelope	 e;
	struct proto_alert	 a;
	X509			*cert = NULL;
	X509_STORE_CTX		*xctx = NULL;
	EVP_PKEY		*pub;
	const unsigned char	*p;
	char			 cn[PROTO_ID_MAX + 32];
	int			 rc;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if ((rc = proto_envelope_decode(buf, len, &e)) != 0) {
		proto_why(why, whylen, "envelope: %s", proto_err_name(-rc));
		return rc;
	}
	if ((rc = proto_alert_decode(e.body.p, e.body.len, &a)) != 0) {
		proto_why(why, whylen, "alert body: %s", proto_err_name(-rc));
		return rc;
	}
	p = e.cert.p;
	if ((cert = d2i_X509(NULL, &p, (long)e.cert.len)) == NULL ||
	    p != e.cert.p + e.cert.len) {
		proto_why(why, whylen, "certificate does not parse");
		rc = -PROTO_E_CERT;
		goto done;
	}
	if (store == NULL || (xctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(xctx, store, cert, NULL) != 1) {
		proto_why(why, whylen, "cannot set up certificate check");
		rc = -PROTO_E_INTERNAL;
		goto done;
	}
	if (now != 0)
		X509_STORE_CTX_set_time(xctx, 0, (time_t)now);
	if (X509_verify_cert(xctx) != 1) {
		proto_why(why, whylen, "%s", X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(xctx)));
		rc = -PROTO_E_CERT;
		goto done;
	}
	if (sign_cn_match(cert, a.issuer, cn, sizeof(cn)) != 0) {
		proto_why(why, whylen, "certificate CN %s, alert issuer %s",
		    cn[0] ? cn : "(none)", a.issuer);
		rc = -PROTO_E_ISSUER;
		goto done;
	}
	if ((pub = X509_get0_pubkey(cert)) == NULL ||
	    EVP_PKEY_get_base_id(pub) != EVP_PKEY_ED25519) {
		proto_why(why, whylen, "certificate key is not Ed25519");
		rc = -PROTO_E_CERT;
		goto done;
	}
	if ((rc = proto_ctx_verify(PROTO_SIG_CONTEXT, e.body.p, e.body.len,
	    e.sig.p, e.sig.len, pub)) != 0) {
		proto_why(why, whylen, rc == -PROTO_E_INTERNAL ? "cannot "
		    "check the signature" : "signature does not match the "
		    "alert");
		goto done;
	}
	if (alert != NULL)
		*alert = a;
	rc = 0;
done:
	X509_STORE_CTX_free(xctx);
	X509_free(cert);
	return rc;
}
