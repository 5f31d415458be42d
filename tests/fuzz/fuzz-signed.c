/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target: the decoders of the signed things that are not
 * frames, which wuzhad reads from its peers and from Redis and an auditor
 * reads from a log it does not trust: a receipt body and a stored
 * receipt, a clue and a clue mark body and their stored form, an audit
 * log entry, a tree change record and a signed checkpoint.
 *
 * The first byte chooses the decoder (modulo their number), the rest is
 * its input.  Checked: every view of an accepted value lies inside the
 * input; an accepted value encodes again to exactly the input (the forms
 * are canonical, so what is signed has one encoding); and the input,
 * copied into a heap block of exactly its size (so ASan catches a read
 * past its end), gets the same verdict.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "fuzz-util.h"

enum { K_RECEIPT, K_STORED_RECEIPT, K_CLUE, K_MARK, K_STORED_CLUE,
	K_ENTRY, K_TREE, K_CHECKPOINT, K_N };

/* Decode p as kind k; on success and with out, encode it again to out. */
static int
decode(int k, const uint8_t *p, size_t n, struct proto_buf *out)
{
	union {
		struct proto_receipt		r;
		struct proto_stored_receipt	sr;
		struct proto_clue		c;
		struct proto_clue_mark		m;
		struct proto_clue_stored	sc;
		struct audit_entry		e;
		struct audit_tree		t;
		struct audit_cp			cp;
	} u;
	int	rc;

	memset(&u, 0, sizeof(u));
	switch (k) {
	case K_RECEIPT:
		if ((rc = proto_receipt_decode(p, n, &u.r)) == 0 && out) {
			CHECK(view_inside(&u.r.env_hash, p, n));
			proto_receipt_encode(out, &u.r);
		}
		return rc;
	case K_STORED_RECEIPT:
		if ((rc = proto_stored_receipt_decode(p, n, &u.sr)) == 0 &&
		    out) {
			CHECK(view_inside(&u.sr.body, p, n));
			CHECK(view_inside(&u.sr.cert_fp, p, n));
			CHECK(view_inside(&u.sr.sig, p, n));
			proto_stored_receipt_encode(out, &u.sr);
		}
		return rc;
	case K_CLUE:
		if ((rc = proto_clue_decode(p, n, &u.c)) == 0 && out) {
			CHECK(view_inside(&u.c.text, p, n));
			CHECK(view_inside(&u.c.contact, p, n));
			proto_clue_encode(out, &u.c);
		}
		return rc;
	case K_MARK:
		if ((rc = proto_clue_mark_decode(p, n, &u.m)) == 0 && out) {
			CHECK(view_inside(&u.m.note, p, n));
			proto_clue_mark_encode(out, &u.m);
		}
		return rc;
	case K_STORED_CLUE:
		if ((rc = proto_clue_stored_decode(p, n, &u.sc)) == 0 && out) {
			CHECK(view_inside(&u.sc.body, p, n));
			CHECK(view_inside(&u.sc.cert_fp, p, n));
			CHECK(view_inside(&u.sc.sig, p, n));
			proto_clue_stored_encode(out, &u.sc);
		}
		return rc;
	case K_ENTRY:
		if ((rc = audit_entry_decode(p, n, &u.e)) == 0 && out) {
			CHECK(view_inside(&u.e.data, p, n));
			CHECK(audit_entry_encode(out, u.e.kind, u.e.at,
			    u.e.daemon, u.e.data.p, u.e.data.len) == 0);
		}
		return rc;
	case K_TREE:
		if ((rc = audit_tree_decode(p, n, &u.t)) == 0 && out) {
			CHECK(view_inside(&u.t.digest, p, n));
			CHECK(view_inside(&u.t.list, p, n));
			audit_tree_encode(out, &u.t);
		}
		return rc;
	default:
		/* A checkpoint has no plain encoder: it is only ever signed. */
		if ((rc = audit_cp_decode(p, n, &u.cp)) == 0 && out) {
			CHECK(view_inside(&u.cp.root, p, n));
			CHECK(view_inside(&u.cp.cert, p, n));
			CHECK(view_inside(&u.cp.sig, p, n));
			CHECK(u.cp.root.len == AUDIT_HASH_LEN);
		}
		return rc;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_buf	 out;
	uint8_t			*copy;
	size_t			 n;
	int			 k, rc, rc2;

	if (size < 1)
		return 0;
	k = data[0] % K_N;
	n = size - 1;
	pbuf_init(&out);
	rc = decode(k, data + 1, n, &out);
	CHECK(rc <= 0);
	if (rc == 0 && k != K_CHECKPOINT) {
		CHECK(out.err == 0);
		CHECK(out.len == n);
		CHECK(n == 0 || memcmp(out.data, data + 1, n) == 0);
	}
	pbuf_free(&out);

	CHECK((copy = malloc(n > 0 ? n : 1)) != NULL);
	if (n > 0)
		memcpy(copy, data + 1, n);
	rc2 = decode(k, copy, n, NULL);
	CHECK(rc2 == rc);
	free(copy);
	return 0;
}
