/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target: cap_parse, wuzhactl's reader of CAP 1.2 documents
 * (client/cap.c, compiled in here on its own with libxml2).
 *
 * Checked: the verdict is 0 or one of the codes the reader may give, and
 * a refusal has a reason; an accepted document maps to a sane body (ids
 * and node valid, texts valid UTF-8 within the body's limits, expiry after
 * issue, references exactly for updates and cancels), which cap_write
 * writes out again (an accepted text never holds what XML cannot carry)
 * as a document that is read back to the same body, and written again to
 * the same bytes: reading and writing reach a fixed point after one turn.
 * The input is also read from a heap block of exactly its size, so that
 * ASan sees any read past its end, and must give the same verdict.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "cap.h"
#include "fuzz-util.h"

static int
verdict_known(int rc)
{
	switch (-rc) {
	case PROTO_E_OK:
	case PROTO_E_CAP_XML:
	case PROTO_E_CAP_DOCTYPE:
	case PROTO_E_CAP_ELEMENT:
	case PROTO_E_CAP_VALUE:
	case PROTO_E_CAP_TIME:
	case PROTO_E_TOO_LONG:
		return 1;
	}
	return 0;
}

static int
view_eq(const struct proto_view *a, const struct proto_view *b)
{
	return a->len == b->len && (a->len == 0 ||
	    memcmp(a->p, b->p, a->len) == 0);
}

static void
check_same(const struct cap_doc *x, const struct cap_doc *y)
{
	const struct proto_alert	*a = &x->a, *b = &y->a;

	CHECK(strcmp(a->id, b->id) == 0);
	CHECK(strcmp(a->issuer, b->issuer) == 0);
	CHECK(strcmp(a->target, b->target) == 0);
	CHECK(strcmp(a->references, b->references) == 0);
	CHECK(a->msg_type == b->msg_type && a->category == b->category &&
	    a->severity == b->severity && a->status == b->status);
	CHECK(view_eq(&a->headline, &b->headline));
	CHECK(view_eq(&a->text, &b->text));
	CHECK(view_eq(&a->instruction, &b->instruction));
	CHECK(a->issued_at == b->issued_at && a->expires_at == b->expires_at &&
	    a->publish_at == b->publish_at);
	CHECK(a->relay_required == b->relay_required);
	if (a->msg_type != PROTO_MSG_ALERT) {
		CHECK(strcmp(x->ref.sender, y->ref.sender) == 0);
		CHECK(x->ref.sent == y->ref.sent);
	}
}

static void
check_sane(const struct cap_doc *d)
{
	const struct proto_alert	*a = &d->a;

	CHECK(proto_name_valid(a->id, strlen(a->id)));
	CHECK(proto_name_valid(a->issuer, strlen(a->issuer)));
	CHECK(proto_node_id_valid(a->target, strlen(a->target)));
	CHECK(a->msg_type >= PROTO_MSG_ALERT && a->msg_type <= PROTO_MSG_CANCEL);
	CHECK((a->msg_type == PROTO_MSG_ALERT) == (a->references[0] == '\0'));
	if (a->msg_type != PROTO_MSG_ALERT) {
		CHECK(proto_name_valid(a->references, strlen(a->references)));
		CHECK(proto_name_valid(d->ref.sender, strlen(d->ref.sender)));
	}
	CHECK(proto_category_name(a->category) != NULL);
	CHECK(proto_severity_name(a->severity) != NULL);
	CHECK(proto_alert_status_name(a->status) != NULL);
	CHECK(a->relay_required <= 1);
	CHECK(a->headline.len >= 1 && a->headline.len <= PROTO_HEADLINE_MAX);
	CHECK(a->text.len <= PROTO_TEXT_MAX);
	CHECK(a->instruction.len <= PROTO_INSTRUCTION_MAX);
	CHECK(proto_utf8_valid(a->headline.p, a->headline.len));
	CHECK(a->text.p != NULL && proto_utf8_valid(a->text.p, a->text.len));
	CHECK(proto_utf8_valid(a->instruction.p, a->instruction.len));
	CHECK(a->expires_at > a->issued_at);
	CHECK(a->issued_at % 1000 == 0 && a->expires_at % 1000 == 0 &&
	    a->publish_at % 1000 == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cap_doc		 d, d2, d3;
	struct proto_buf	 w1, w2;
	char			 why[512], why2[512];
	uint8_t			*copy;
	int			 rc, rc2;

	rc = cap_parse(data, size, 0, &d, why, sizeof(why));
	CHECK(rc <= 0 && verdict_known(rc));
	CHECK((rc == 0) == (why[0] == '\0'));

	/* The same bytes in a block of exactly their size. */
	CHECK((copy = malloc(size ? size : 1)) != NULL);
	memcpy(copy, data, size);
	rc2 = cap_parse(copy, size, 0, &d2, why2, sizeof(why2));
	free(copy);
	CHECK(rc2 == rc && strcmp(why, why2) == 0);
	if (rc != 0)
		return 0;
	check_same(&d, &d2);
	cap_doc_free(&d2);
	check_sane(&d);

	/* Write, read back, write again: one turn reaches a fixed point. */
	pbuf_init(&w1);
	CHECK(cap_write(&w1, &d.a, &d.ref, why, sizeof(why)) == 0);
	/*
	 * Texts full of & < > and CR take five bytes a character when
	 * written (CDATA read in need not): past the reader's limit, such a
	 * document is not read back (a limit wuzhactl(1) states).
	 */
	if (w1.len > CAP_FILE_MAX) {
		pbuf_free(&w1);
		cap_doc_free(&d);
		return 0;
	}
	CHECK(cap_parse(w1.data, w1.len, 0, &d3, why, sizeof(why)) == 0);
	check_same(&d, &d3);
	pbuf_init(&w2);
	CHECK(cap_write(&w2, &d3.a, &d3.ref, why, sizeof(why)) == 0);
	CHECK(w1.len == w2.len && memcmp(w1.data, w2.data, w1.len) == 0);
	pbuf_free(&w1);
	pbuf_free(&w2);
	cap_doc_free(&d3);
	cap_doc_free(&d);
	return 0;
}
