/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target: proto_envelope_verify, the full check an agent and
 * the daemon make on every signed alert.
 *
 * The store holds the test CA and its CRL (compiled in, see
 * fuzz-ca-pem.h) with CRL checking on, and the time is fixed inside the
 * certificates' validity, so every run gives the same verdicts.
 *
 * Checked: the verdict is one of the codes the verifier may give and
 * agrees with the plain decoders (an envelope or body they refuse is
 * refused with their code); every refusal has a reason; an accepted alert
 * is a sane view into the input (texts inside it, ids valid, expiry after
 * issue), equals what the body decoder makes of the body, re-encodes to
 * the same bytes, and its issuer is the certificate's one CN.  Then the
 * input is put together again from chunks cut at pseudo-random points
 * into a fresh heap block of exactly its size (so ASan catches any read
 * past the end) and verified again: same code, same reason, same alert.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "proto.h"
#include "fuzz-ca-pem.h"
#include "fuzz-util.h"

/* 2027-01-15T08:00:00Z, as in the PROTOCOL.md envelope vectors. */
#define FUZZ_NOW	INT64_C(1800000000)

static X509_STORE	*store;

/* The store, built once and kept for the whole run. */
static X509_STORE *
get_store(void)
{
	BIO		*bio;
	X509		*ca;
	X509_CRL	*crl;

	if (store != NULL)
		return store;
	CHECK((store = X509_STORE_new()) != NULL);
	CHECK((bio = BIO_new_mem_buf(fuzz_ca_crt, -1)) != NULL);
	CHECK((ca = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL);
	BIO_free(bio);
	CHECK(X509_STORE_add_cert(store, ca) == 1);
	X509_free(ca);
	CHECK((bio = BIO_new_mem_buf(fuzz_ca_crl, -1)) != NULL);
	CHECK((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL);
	BIO_free(bio);
	CHECK(X509_STORE_add_crl(store, crl) == 1);
	X509_CRL_free(crl);
	X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
	return store;
}

/* Two views at the same offsets of their buffers. */
static int
view_same(const struct proto_view *a, const uint8_t *pa,
    const struct proto_view *b, const uint8_t *pb)
{
	if (a->len != b->len)
		return 0;
	if (a->len == 0)
		return 1;
	return a->p - pa == b->p - pb;
}

static int
alert_same(const struct proto_alert *a, const uint8_t *pa,
    const struct proto_alert *b, const uint8_t *pb)
{
	return strcmp(a->id, b->id) == 0 &&
	    strcmp(a->issuer, b->issuer) == 0 &&
	    strcmp(a->target, b->target) == 0 &&
	    strcmp(a->references, b->references) == 0 &&
	    a->msg_type == b->msg_type && a->category == b->category &&
	    a->severity == b->severity &&
	    view_same(&a->headline, pa, &b->headline, pb) &&
	    view_same(&a->text, pa, &b->text, pb) &&
	    view_same(&a->instruction, pa, &b->instruction, pb) &&
	    a->issued_at == b->issued_at && a->expires_at == b->expires_at &&
	    a->relay_required == b->relay_required;
}

/* Is this a code the verifier may return? */
static int
verdict_known(int rc)
{
	switch (-rc) {
	case PROTO_E_OK:
	case PROTO_E_FIELD:
	case PROTO_E_MISSING:
	case PROTO_E_UTF8:
	case PROTO_E_TOO_LONG:
	case PROTO_E_TAG:
	case PROTO_E_VALUE:
	case PROTO_E_SIGNATURE:
	case PROTO_E_CERT:
	case PROTO_E_ISSUER:
	case PROTO_E_EXPIRY:
	case PROTO_E_REFERENCE:
		return 1;
	}
	return 0;
}

/* The one CN of the certificate in DER must be name. */
static void
check_cn(const struct proto_view *der, const char *name)
{
	const unsigned char	*p = der->p;
	X509			*cert;
	X509_NAME		*subj;
	const ASN1_STRING	*s;
	int			 i;

	CHECK((cert = d2i_X509(NULL, &p, (long)der->len)) != NULL);
	CHECK(p == der->p + der->len);
	CHECK((subj = X509_get_subject_name(cert)) != NULL);
	CHECK((i = X509_NAME_get_index_by_NID(subj, NID_commonName, -1)) >= 0);
	CHECK(X509_NAME_get_index_by_NID(subj, NID_commonName, i) < 0);
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));
	CHECK(s != NULL);
	CHECK((size_t)ASN1_STRING_length(s) == strlen(name));
	CHECK(memcmp(ASN1_STRING_get0_data(s), name, strlen(name)) == 0);
	X509_free(cert);
}

/* What an accepted envelope must look like. */
static void
check_accepted(const uint8_t *p, size_t n, const struct proto_alert *a)
{
	struct proto_envelope	 e;
	struct proto_alert	 b;
	struct proto_buf	 buf;

	CHECK(proto_envelope_decode(p, n, &e) == 0);
	CHECK(proto_alert_decode(e.body.p, e.body.len, &b) == 0);
	CHECK(alert_same(a, p, &b, p));
	CHECK(view_inside(&a->headline, e.body.p, e.body.len));
	CHECK(view_inside(&a->text, e.body.p, e.body.len));
	CHECK(view_inside(&a->instruction, e.body.p, e.body.len));
	CHECK(a->headline.len >= 1 && a->headline.len <= PROTO_HEADLINE_MAX);
	CHECK(a->text.len <= PROTO_TEXT_MAX);
	CHECK(proto_utf8_valid(a->headline.p, a->headline.len));
	CHECK(proto_name_valid(a->id, strlen(a->id)));
	CHECK(proto_name_valid(a->issuer, strlen(a->issuer)));
	CHECK(proto_node_id_valid(a->target, strlen(a->target)));
	CHECK(a->expires_at > a->issued_at);
	CHECK((a->msg_type == PROTO_MSG_ALERT) == (a->references[0] == '\0'));
	CHECK(e.sig.len == PROTO_SIG_LEN);
	check_cn(&e.cert, a->issuer);
	pbuf_init(&buf);
	proto_alert_encode(&buf, a);
	CHECK(buf.err == 0 && buf.len == e.body.len &&
	    memcmp(buf.data, e.body.p, buf.len) == 0);
	pbuf_free(&buf);
	pbuf_init(&buf);
	proto_envelope_encode(&buf, &e);
	CHECK(buf.err == 0 && buf.len == n && memcmp(buf.data, p, n) == 0);
	pbuf_free(&buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_envelope	 e;
	struct proto_alert	 a, a2, body;
	char			 why[256], why2[256];
	uint8_t			*copy;
	uint64_t		 seed;
	size_t			 off, k;
	int			 rc, rc2, drc;

	rc = proto_envelope_verify(data, size, get_store(), FUZZ_NOW, &a,
	    why, sizeof(why));
	CHECK(rc <= 0 && verdict_known(rc));
	CHECK(strcmp(proto_err_name(-rc), "unknown") != 0);
	/* The decoders come first: their refusals are the verdict. */
	if ((drc = proto_envelope_decode(data, size, &e)) != 0)
		CHECK(rc == drc);
	else if ((drc = proto_alert_decode(e.body.p, e.body.len, &body)) != 0)
		CHECK(rc == drc);
	else
		CHECK(rc == 0 || rc == -PROTO_E_CERT ||
		    rc == -PROTO_E_ISSUER || rc == -PROTO_E_SIGNATURE);
	if (rc == 0) {
		CHECK(why[0] == '\0');
		check_accepted(data, size, &a);
	} else
		CHECK(why[0] != '\0');

	/* The same bytes, put together from pieces in a block of their size. */
	CHECK((copy = malloc(size ? size : 1)) != NULL);
	seed = hash_bytes(data, size);
	for (off = 0; off < size; off += k) {
		k = 1 + (size_t)(rng_next(&seed) % 97);
		if (k > size - off)
			k = size - off;
		memcpy(copy + off, data + off, k);
	}
	rc2 = proto_envelope_verify(size ? copy : NULL, size, get_store(),
	    FUZZ_NOW, &a2, why2, sizeof(why2));
	CHECK(rc2 == rc);
	CHECK(strcmp(why, why2) == 0);
	if (rc == 0)
		CHECK(alert_same(&a, data, &a2, copy));
	free(copy);
	return 0;
}
