/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target: the frame reader and every message decoder.
 *
 * The input is a stream of frames as a peer would send it.  It is cut
 * into frames three ways: from the whole buffer, by an incremental reader
 * fed one byte at a time, and by the same reader fed chunks whose sizes
 * come from a generator seeded with a hash of the input.  The incremental
 * reader checks each header as soon as its 5 bytes are in, before it
 * allocates the payload, and keeps each payload in a heap block of exactly
 * its size, so ASan sees any read past the end.  All three must report the
 * same frames (type, length, decoder result) and the same header error at
 * the same offset, or the same unfinished tail.
 *
 * Each complete frame goes to the decoder of its type.  A payload that is
 * accepted must encode back to the very same bytes (the decoder accepts
 * only the canonical encoding); STATUS and ESCALATION lists are walked and
 * rebuilt item by item; the envelope and alert body inside PUBLISH and
 * ALERT are decoded and re-encoded too.  The whole input is also tried as
 * a bare alert body and a bare envelope.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "fuzz-util.h"

#define FRAME_MAX	PROTO_FRAME_MAX_DEFAULT

/* --- round trips ------------------------------------------------------- */

/* The buffer must hold exactly one frame: this type, this payload. */
static void
same_frame(struct proto_buf *b, uint8_t type, const uint8_t *p, size_t n)
{
	uint8_t		 type2;
	uint32_t	 len2;

	CHECK(b->err == 0);
	CHECK(b->len == PROTO_FRAME_HDR + n);
	CHECK(proto_frame_header(b->data, PROTO_FRAME_MAX_LIMIT, &type2,
	    &len2) == 0);
	CHECK(type2 == type && len2 == n);
	CHECK(n == 0 || memcmp(b->data + PROTO_FRAME_HDR, p, n) == 0);
	pbuf_free(b);
}

/* The buffer must hold exactly these bytes. */
static void
same_bytes(struct proto_buf *b, const uint8_t *p, size_t n)
{
	CHECK(b->err == 0);
	CHECK(b->len == n);
	CHECK(n == 0 || memcmp(b->data, p, n) == 0);
	pbuf_free(b);
}

/* An alert body: decode; if accepted, encode back to the same bytes. */
static int
try_body(const uint8_t *p, size_t n)
{
	struct proto_alert	 a;
	struct proto_buf	 b;
	int			 rc;

	if ((rc = proto_alert_decode(p, n, &a)) != 0)
		return rc;
	CHECK(view_inside(&a.headline, p, n) && view_inside(&a.text, p, n) &&
	    view_inside(&a.instruction, p, n));
	CHECK(a.headline.len >= 1);
	CHECK(a.expires_at > a.issued_at);
	CHECK(proto_msg_type_name(a.msg_type) != NULL);
	CHECK(proto_category_name(a.category) != NULL);
	CHECK(proto_severity_name(a.severity) != NULL);
	pbuf_init(&b);
	proto_alert_encode(&b, &a);
	same_bytes(&b, p, n);
	return 0;
}

/* An envelope and the body inside it. */
static int
try_envelope(const uint8_t *p, size_t n)
{
	struct proto_envelope	 e;
	struct proto_buf	 b;
	int			 rc;

	if ((rc = proto_envelope_decode(p, n, &e)) != 0)
		return rc;
	CHECK(e.sig.len == PROTO_SIG_LEN && e.cert.len <= PROTO_CERT_MAX);
	CHECK(view_inside(&e.body, p, n) && view_inside(&e.cert, p, n) &&
	    view_inside(&e.sig, p, n));
	pbuf_init(&b);
	proto_envelope_encode(&b, &e);
	same_bytes(&b, p, n);
	return try_body(e.body.p, e.body.len);
}

/*
 * The end of a list walked item by item (the walk's last result rc, its
 * cursor cur) and rebuilt in b since mark: the walk must have ended
 * cleanly at the end of v, and the list closed under tag must hold v's
 * very bytes.
 */
static void
list_same(struct proto_buf *b, size_t mark, uint8_t tag,
    const struct proto_view *v, size_t cur, int rc)
{
	CHECK(rc == 0 && cur == v->len);
	pbuf_list_end(b, mark, tag);
	CHECK(b->err == 0 && b->len == PROTO_FIELD_HDR + v->len);
	CHECK(v->len == 0 ||
	    memcmp(b->data + PROTO_FIELD_HDR, v->p, v->len) == 0);
	pbuf_free(b);
}

/* Walk a member list and rebuild it under tag; must give its bytes. */
static void
members_again(const struct proto_view *v, uint8_t tag)
{
	struct proto_status_member	 m;
	struct proto_buf		 b;
	size_t				 cur = 0, mark;
	int				 rc;

	pbuf_init(&b);
	mark = pbuf_list_begin(&b, tag);
	while ((rc = proto_status_member_next(v, &cur, &m)) == 1) {
		CHECK(proto_ack_state_name(m.state) != NULL);
		proto_status_member_put(&b, &m);
	}
	list_same(&b, mark, tag, v, cur, rc);
}

static void
nodes_again(const struct proto_view *v, uint8_t tag)
{
	struct proto_status_node	 nd;
	struct proto_buf		 b;
	size_t				 cur = 0, mark;
	int				 rc;

	pbuf_init(&b);
	mark = pbuf_list_begin(&b, tag);
	while ((rc = proto_status_node_next(v, &cur, &nd)) == 1)
		proto_status_node_put(&b, &nd);
	list_same(&b, mark, tag, v, cur, rc);
}

/* The console's lists: walk each one and rebuild it under its tag. */
static void
agents_again(const struct proto_view *v, uint8_t tag)
{
	struct proto_agent_item	 it;
	struct proto_buf	 b;
	size_t			 cur = 0, mark;
	int			 rc;

	pbuf_init(&b);
	mark = pbuf_list_begin(&b, tag);
	while ((rc = proto_agent_item_next(v, &cur, &it)) == 1)
		proto_agent_item_put(&b, &it);
	list_same(&b, mark, tag, v, cur, rc);
}

static void
schedule_again(const struct proto_view *v, uint8_t tag)
{
	struct proto_schedule_item	 it;
	struct proto_buf		 b;
	size_t				 cur = 0, mark;
	int				 rc;

	pbuf_init(&b);
	mark = pbuf_list_begin(&b, tag);
	while ((rc = proto_schedule_item_next(v, &cur, &it)) == 1) {
		CHECK(proto_alert_status_name(it.status) != NULL);
		proto_schedule_item_put(&b, &it);
	}
	list_same(&b, mark, tag, v, cur, rc);
}

static void
rows_again(const struct proto_view *v, uint8_t tag)
{
	struct proto_report_row	 r;
	struct proto_buf	 b;
	size_t			 cur = 0, mark;
	int			 rc;

	pbuf_init(&b);
	mark = pbuf_list_begin(&b, tag);
	while ((rc = proto_report_row_next(v, &cur, &r)) == 1)
		proto_report_row_put(&b, &r);
	list_same(&b, mark, tag, v, cur, rc);
}

/* Receipts: the items of a RECEIPTS list, rebuilt under tag. */
static void
receipts_again(const struct proto_view *v, uint8_t tag)
{
	struct proto_receipt_item	 it;
	struct proto_buf		 b;
	size_t				 cur = 0, mark;
	int				 rc;

	pbuf_init(&b);
	mark = pbuf_list_begin(&b, tag);
	while ((rc = proto_receipt_item_next(v, &cur, &it)) == 1) {
		CHECK(view_inside(&it.receipt, v->p, v->len));
		CHECK(view_inside(&it.cert, v->p, v->len));
		proto_receipt_item_put(&b, &it);
	}
	list_same(&b, mark, tag, v, cur, rc);
}

/* The audit log: the items of an AUDIT list, rebuilt under tag. */
static void
audit_again(const struct proto_view *v, uint8_t tag)
{
	struct proto_audit_item	 it;
	struct proto_buf	 b;
	size_t			 cur = 0, mark;
	int			 rc;

	pbuf_init(&b);
	mark = pbuf_list_begin(&b, tag);
	while ((rc = proto_audit_item_next(v, &cur, &it)) == 1) {
		CHECK(view_inside(&it.data, v->p, v->len));
		proto_audit_item_put(&b, &it);
	}
	list_same(&b, mark, tag, v, cur, rc);
}

/* Clues: the items of a CLUES list, rebuilt under tag. */
static void
clues_again(const struct proto_view *v, uint8_t tag)
{
	struct proto_clue_item	 it;
	struct proto_buf	 b;
	size_t			 cur = 0, mark;
	int			 rc;

	pbuf_init(&b);
	mark = pbuf_list_begin(&b, tag);
	while ((rc = proto_clue_item_next(v, &cur, &it)) == 1) {
		CHECK(proto_clue_state_name(it.state) != NULL);
		proto_clue_item_put(&b, &it);
	}
	list_same(&b, mark, tag, v, cur, rc);
}

/*
 * A clue or mark body (mark: which), and a stored form holding one: if
 * accepted, encoded back to the same bytes.
 */
static void
clue_body_again(const uint8_t *p, size_t n, int mark)
{
	struct proto_clue	 c;
	struct proto_clue_mark	 m;
	struct proto_buf	 b;

	pbuf_init(&b);
	if (mark) {
		if (proto_clue_mark_decode(p, n, &m) != 0)
			return;
		proto_clue_mark_encode(&b, &m);
	} else {
		if (proto_clue_decode(p, n, &c) != 0)
			return;
		proto_clue_encode(&b, &c);
	}
	same_bytes(&b, p, n);
}

static void
clue_stored_again(const struct proto_view *v)
{
	struct proto_clue_stored	 st;
	struct proto_buf		 b;

	if (proto_clue_stored_decode(v->p, v->len, &st) != 0)
		return;
	pbuf_init(&b);
	proto_clue_stored_encode(&b, &st);
	same_bytes(&b, v->p, v->len);
	clue_body_again(st.body.p, st.body.len, 0);
}

/* A NUL-terminated copy of a text view (text never holds a NUL). */
static char *
view_str(const struct proto_view *v)
{
	char	*s;

	CHECK((s = malloc(v->len + 1)) != NULL);
	if (v->len > 0)
		memcpy(s, v->p, v->len);
	s[v->len] = '\0';
	return s;
}

/*
 * Decode one payload with the decoder of its type; on success re-encode
 * and compare.  Returns the decoder's result (-PROTO_E_TYPE if none).
 */
static int
check_frame(uint8_t type, const uint8_t *p, size_t n)
{
	struct proto_buf	 b;
	int			 rc;
	char			*s;

	pbuf_init(&b);
	switch (type) {
	case PROTO_T_HELLO: {
		struct proto_hello m;

		if ((rc = proto_hello_decode(p, n, &m)) != 0)
			return rc;
		CHECK(view_inside(&m.agent, p, n));
		proto_hello_encode(&b, &m);
		break;
	}
	case PROTO_T_WELCOME: {
		struct proto_welcome m;

		if ((rc = proto_welcome_decode(p, n, &m)) != 0)
			return rc;
		CHECK(proto_name_valid(m.principal, strlen(m.principal)));
		CHECK(proto_node_id_valid(m.node, strlen(m.node)));
		proto_welcome_encode(&b, &m);
		break;
	}
	case PROTO_T_PUBLISH: {
		struct proto_publish m;

		if ((rc = proto_publish_decode(p, n, &m)) != 0)
			return rc;
		CHECK(view_inside(&m.envelope, p, n));
		(void)try_envelope(m.envelope.p, m.envelope.len);
		proto_publish_encode(&b, &m);
		break;
	}
	case PROTO_T_PUBLISHED: {
		struct proto_published m;

		if ((rc = proto_published_decode(p, n, &m)) != 0)
			return rc;
		proto_published_encode(&b, &m);
		break;
	}
	case PROTO_T_ALERT: {
		struct proto_alert_msg m;

		if ((rc = proto_alert_msg_decode(p, n, &m)) != 0)
			return rc;
		CHECK(view_inside(&m.envelope, p, n));
		(void)try_envelope(m.envelope.p, m.envelope.len);
		proto_alert_msg_encode(&b, &m);
		break;
	}
	case PROTO_T_ESCALATION: {
		struct proto_escalation m;

		if ((rc = proto_escalation_decode(p, n, &m)) != 0)
			return rc;
		CHECK(view_inside(&m.members, p, n));
		members_again(&m.members, 4);
		proto_escalation_encode(&b, &m);
		break;
	}
	case PROTO_T_ACK: {
		struct proto_ack m;

		if ((rc = proto_ack_decode(p, n, &m)) != 0)
			return rc;
		CHECK(m.has_reach || m.reach == 0);
		proto_ack_encode(&b, &m);
		break;
	}
	case PROTO_T_ACK_OK: {
		struct proto_ack_ok m;

		if ((rc = proto_ack_ok_decode(p, n, &m)) != 0)
			return rc;
		proto_ack_ok_encode(&b, &m);
		break;
	}
	case PROTO_T_STATUS_REQ: {
		struct proto_status_req m;

		if ((rc = proto_status_req_decode(p, n, &m)) != 0)
			return rc;
		proto_status_req_encode(&b, &m);
		break;
	}
	case PROTO_T_STATUS: {
		struct proto_status m;

		if ((rc = proto_status_decode(p, n, &m)) != 0)
			return rc;
		CHECK(view_inside(&m.nodes, p, n) &&
		    view_inside(&m.members, p, n));
		nodes_again(&m.nodes, 6);
		members_again(&m.members, 7);
		proto_status_encode(&b, &m);
		break;
	}
	case PROTO_T_AGENTS_REQ: {
		struct proto_agents_req m;

		if ((rc = proto_agents_req_decode(p, n, &m)) != 0)
			return rc;
		proto_agents_req_encode(&b, &m);
		break;
	}
	case PROTO_T_AGENTS: {
		struct proto_agents m;

		if ((rc = proto_agents_decode(p, n, &m)) != 0)
			return rc;
		CHECK(view_inside(&m.principals, p, n));
		agents_again(&m.principals, 3);
		proto_agents_encode(&b, &m);
		break;
	}
	case PROTO_T_ENVELOPE_REQ: {	/* cap */
		struct proto_envelope_req m;

		if ((rc = proto_envelope_req_decode(p, n, &m)) != 0)
			return rc;
		proto_envelope_req_encode(&b, &m);
		break;
	}
	case PROTO_T_ENVELOPE: {
		struct proto_envelope_msg m;

		if ((rc = proto_envelope_msg_decode(p, n, &m)) != 0)
			return rc;
		CHECK(view_inside(&m.envelope, p, n));
		proto_envelope_msg_encode(&b, &m);
		break;
	}
	case PROTO_T_SCHEDULE_REQ: {
		struct proto_schedule_req m;

		if ((rc = proto_schedule_req_decode(p, n, &m)) != 0)
			return rc;
		proto_schedule_req_encode(&b, &m);
		break;
	}
	case PROTO_T_SCHEDULE: {
		struct proto_schedule m;

		if ((rc = proto_schedule_decode(p, n, &m)) != 0)
			return rc;
		CHECK(view_inside(&m.alerts, p, n));
		schedule_again(&m.alerts, 2);
		proto_schedule_encode(&b, &m);
		break;
	}
	case PROTO_T_REPORT_REQ: {
		struct proto_report_req m;

		if ((rc = proto_report_req_decode(p, n, &m)) != 0)
			return rc;
		proto_report_req_encode(&b, &m);
		break;
	}
	case PROTO_T_REPORT: {
		struct proto_report m;

		if ((rc = proto_report_decode(p, n, &m)) != 0)
			return rc;
		CHECK(view_inside(&m.rows, p, n));
		rows_again(&m.rows, 6);
		proto_report_encode(&b, &m);
		break;
	}
	case PROTO_T_RECEIPTS_REQ: {
		struct proto_receipts_req m;

		if ((rc = proto_receipts_req_decode(p, n, &m)) != 0)
			return rc;
		proto_receipts_req_encode(&b, &m);
		break;
	}
	case PROTO_T_RECEIPTS: {
		struct proto_receipts m;

		if ((rc = proto_receipts_decode(p, n, &m)) != 0)
			return rc;
		CHECK(view_inside(&m.envelope, p, n));
		CHECK(view_inside(&m.items, p, n));
		receipts_again(&m.items, 3);
		proto_receipts_encode(&b, &m);
		break;
	}
	case PROTO_T_AUDIT_REQ: {
		struct proto_audit_req m;

		if ((rc = proto_audit_req_decode(p, n, &m)) != 0)
			return rc;
		proto_audit_req_encode(&b, &m);
		break;
	}
	case PROTO_T_AUDIT: {
		struct proto_audit m;

		if ((rc = proto_audit_decode(p, n, &m)) != 0)
			return rc;
		CHECK(view_inside(&m.items, p, n));
		audit_again(&m.items, 4);
		proto_audit_encode(&b, &m);
		break;
	}
	case PROTO_T_CLUE:
	case PROTO_T_CLUE_MARK: {
		struct proto_clue_msg m;

		if ((rc = proto_clue_msg_decode(p, n, &m)) != 0)
			return rc;
		CHECK(view_inside(&m.body, p, n) && m.sig.len == PROTO_SIG_LEN);
		clue_body_again(m.body.p, m.body.len, type == PROTO_T_CLUE_MARK);
		proto_clue_msg_encode(&b, type, &m);
		break;
	}
	case PROTO_T_CLUE_OK: {
		struct proto_clue_ok m;

		if ((rc = proto_clue_ok_decode(p, n, &m)) != 0)
			return rc;
		proto_clue_ok_encode(&b, &m);
		break;
	}
	case PROTO_T_CLUE_PUSH: {
		struct proto_clue_push m;

		if ((rc = proto_clue_push_decode(p, n, &m)) != 0)
			return rc;
		CHECK(view_inside(&m.clue, p, n));
		clue_stored_again(&m.clue);
		proto_clue_push_encode(&b, &m);
		break;
	}
	case PROTO_T_CLUES_REQ: {
		struct proto_clues_req m;

		if ((rc = proto_clues_req_decode(p, n, &m)) != 0)
			return rc;
		proto_clues_req_encode(&b, &m);
		break;
	}
	case PROTO_T_CLUES: {
		struct proto_clues m;

		if ((rc = proto_clues_decode(p, n, &m)) != 0)
			return rc;
		CHECK(view_inside(&m.clues, p, n));
		clues_again(&m.clues, 3);
		proto_clues_encode(&b, &m);
		break;
	}
	case PROTO_T_PING:
	case PROTO_T_PONG: {
		struct proto_ping m;

		if ((rc = proto_ping_decode(p, n, &m)) != 0)
			return rc;
		proto_ping_encode(&b, type, &m);
		break;
	}
	case PROTO_T_ERROR: {
		struct proto_error m;

		if ((rc = proto_error_decode(p, n, &m)) != 0)
			return rc;
		CHECK(view_inside(&m.text, p, n));
		/* The encoder takes C strings; the text has no NUL. */
		s = view_str(&m.text);
		proto_error_encode(&b, m.code, s, m.ref);
		free(s);
		break;
	}
	case PROTO_T_BYE: {
		struct proto_bye m;

		if ((rc = proto_bye_decode(p, n, &m)) != 0)
			return rc;
		CHECK(view_inside(&m.text, p, n));
		s = view_str(&m.text);
		proto_bye_encode(&b, m.code, s);
		free(s);
		break;
	}
	default:
		CHECK(strcmp(proto_type_name(type), "?") == 0);
		return -PROTO_E_TYPE;
	}
	CHECK(strcmp(proto_type_name(type), "?") != 0);
	same_frame(&b, type, p, n);
	return 0;
}

/* --- what a parse saw -------------------------------------------------- */

enum { EV_FRAME, EV_HDR_ERROR, EV_TAIL };

struct event {
	int		 kind;
	uint8_t		 type;
	uint32_t	 len;		/* payload; for a tail: bytes pending */
	int		 rc;		/* decoder or header result */
	size_t		 off;		/* stream offset of the frame */
};

struct log {
	struct event	*ev;
	size_t		 n, cap;
};

static void
log_add(struct log *l, int kind, uint8_t type, uint32_t len, int rc,
    size_t off)
{
	CHECK(l->n < l->cap);
	l->ev[l->n].kind = kind;
	l->ev[l->n].type = type;
	l->ev[l->n].len = len;
	l->ev[l->n].rc = rc;
	l->ev[l->n].off = off;
	l->n++;
}

static void
log_same(const struct log *a, const struct log *b)
{
	size_t	i;

	CHECK(a->n == b->n);
	for (i = 0; i < a->n; i++) {
		CHECK(a->ev[i].kind == b->ev[i].kind);
		CHECK(a->ev[i].type == b->ev[i].type);
		CHECK(a->ev[i].len == b->ev[i].len);
		CHECK(a->ev[i].rc == b->ev[i].rc);
		CHECK(a->ev[i].off == b->ev[i].off);
	}
}

/* Whole buffer: frames in place. */
static void
parse_whole(const uint8_t *p, size_t n, struct log *l)
{
	size_t		 off = 0;
	uint8_t		 type;
	uint32_t	 len;
	int		 rc;

	while (n - off >= PROTO_FRAME_HDR) {
		if ((rc = proto_frame_header(p + off, FRAME_MAX, &type,
		    &len)) != 0) {
			CHECK(rc == -PROTO_E_FRAME || rc == -PROTO_E_FRAME_SIZE);
			log_add(l, EV_HDR_ERROR, 0, 0, rc, off);
			return;
		}
		CHECK(len < FRAME_MAX);
		if (n - off - PROTO_FRAME_HDR < len)
			break;
		rc = check_frame(type, p + off + PROTO_FRAME_HDR, len);
		log_add(l, EV_FRAME, type, len, rc, off);
		off += PROTO_FRAME_HDR + len;
	}
	if (off < n)
		log_add(l, EV_TAIL, 0, (uint32_t)(n - off), 0, off);
}

/* The incremental reader: header first, then a payload of exact size. */
struct reader {
	uint8_t		 hdr[PROTO_FRAME_HDR];
	size_t		 nhdr;
	uint8_t		 type;
	uint8_t		*payload;
	uint32_t	 len, got;
	size_t		 off;		/* where the current frame began */
	int		 failed;
	struct log	*log;
};

static void
reader_feed(struct reader *r, const uint8_t *p, size_t n)
{
	size_t		 k;
	int		 rc;

	while (n > 0 && !r->failed) {
		if (r->nhdr < PROTO_FRAME_HDR) {
			k = PROTO_FRAME_HDR - r->nhdr;
			if (k > n)
				k = n;
			memcpy(r->hdr + r->nhdr, p, k);
			r->nhdr += k;
			p += k;
			n -= k;
			if (r->nhdr < PROTO_FRAME_HDR)
				break;
			if ((rc = proto_frame_header(r->hdr, FRAME_MAX,
			    &r->type, &r->len)) != 0) {
				log_add(r->log, EV_HDR_ERROR, 0, 0, rc, r->off);
				r->failed = 1;
				break;
			}
			r->got = 0;
			CHECK((r->payload = malloc(r->len ? r->len : 1)) !=
			    NULL);
		}
		k = r->len - r->got;
		if (k > n)
			k = n;
		if (k > 0)
			memcpy(r->payload + r->got, p, k);
		r->got += (uint32_t)k;
		p += k;
		n -= k;
		if (r->got == r->len) {
			rc = check_frame(r->type, r->len ? r->payload : NULL,
			    r->len);
			log_add(r->log, EV_FRAME, r->type, r->len, rc, r->off);
			free(r->payload);
			r->payload = NULL;
			r->off += PROTO_FRAME_HDR + r->len;
			r->nhdr = 0;
		}
	}
}

static void
reader_end(struct reader *r)
{
	if (!r->failed && r->nhdr > 0)
		log_add(r->log, EV_TAIL, 0, (uint32_t)(r->nhdr +
		    (r->nhdr == PROTO_FRAME_HDR ? r->got : 0)), 0, r->off);
	free(r->payload);
	r->payload = NULL;
}

/*
 * Feed the data in pieces: one byte each (seed 0) or of pseudo-random
 * sizes.  The reader copies what it gets into its own exact-size blocks.
 */
static void
parse_chunks(const uint8_t *p, size_t n, uint64_t seed, struct log *l)
{
	struct reader	 r;
	size_t		 off = 0, k;

	memset(&r, 0, sizeof(r));
	r.log = l;
	while (off < n) {
		if (seed == 0)
			k = 1;
		else
			k = rng_piece(&seed, 16, 4096);
		if (k > n - off)
			k = n - off;
		reader_feed(&r, p + off, k);
		off += k;
	}
	reader_end(&r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct log	 whole, bytes, split;
	size_t		 cap = size / PROTO_FRAME_HDR + 2;

	/* Cheap checks over the raw bytes. */
	(void)proto_utf8_valid(data, size);
	(void)proto_node_id_valid((const char *)data, size);
	(void)proto_name_valid((const char *)data, size);
	(void)try_body(data, size);
	(void)try_envelope(data, size);

	memset(&whole, 0, sizeof(whole));
	whole.cap = bytes.cap = split.cap = cap;
	bytes.n = split.n = 0;
	CHECK((whole.ev = calloc(cap, sizeof(struct event))) != NULL);
	CHECK((bytes.ev = calloc(cap, sizeof(struct event))) != NULL);
	CHECK((split.ev = calloc(cap, sizeof(struct event))) != NULL);

	parse_whole(data, size, &whole);
	parse_chunks(data, size, 0, &bytes);
	parse_chunks(data, size, hash_bytes(data, size), &split);
	log_same(&whole, &bytes);
	log_same(&whole, &split);
	for (size_t i = 0; i < whole.n; i++)
		(void)proto_err_name(-whole.ev[i].rc);

	free(whole.ev);
	free(bytes.ev);
	free(split.ev);
	return 0;
}
