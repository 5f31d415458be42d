/* SPDX-License-Identifier: ISC */
/*
 * msg: the session messages.  One field table per message says which
 * tags it has, their kinds, limits and whether they are required; the
 * decoders and encoders below are thin wrappers around field.c over
 * those tables.  The tables are the code form of the message tables in
 * PROTOCOL.md and must change with them.
 */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto.h"
#include "field.h"
#include "utf8.h"

/* --- tables ------------------------------------------------------------ */

static const struct field_spec hello_spec[] = {
	F_U16(1, FIELD_REQ, struct proto_hello, version),
	F_U8(2, FIELD_REQ, PROTO_ROLE_AGENT, PROTO_ROLE_CONSOLE,
	    struct proto_hello, role),
	F_U32(3, 0, struct proto_hello, heartbeat),
	F_U64(4, 0, struct proto_hello, last_seq),
	F_TEXT(5, 0, 0, PROTO_AGENT_MAX, struct proto_hello, agent),
};

static const struct field_spec welcome_spec[] = {
	F_U16(1, FIELD_REQ, struct proto_welcome, version),
	F_NAME(2, FIELD_REQ, struct proto_welcome, principal),
	F_NODE(3, FIELD_REQ, struct proto_welcome, node),
	F_U8(4, FIELD_REQ, 0, PROTO_R_RECEIVE | PROTO_R_ISSUE | PROTO_R_OBSERVE,
	    struct proto_welcome, rights),
	F_U32(5, FIELD_REQ, struct proto_welcome, heartbeat),
	F_U64(6, FIELD_REQ, struct proto_welcome, server_time),
	F_U32(7, FIELD_REQ, struct proto_welcome, max_frame),
};

static const struct field_spec publish_spec[] = {
	F_BYTES(1, FIELD_REQ, UINT16_MAX, struct proto_publish, envelope),
	F_U32(2, 0, struct proto_publish, remind_after),
	F_U32(3, 0, struct proto_publish, escalate_after),
	F_U8(4, 0, 0, 100, struct proto_publish, max_reminders),
};

static const struct field_spec published_spec[] = {
	F_NAME(1, FIELD_REQ, struct proto_published, id),
	F_U64(2, FIELD_REQ, struct proto_published, seq),
	F_U32(3, FIELD_REQ, struct proto_published, targeted),
	F_U64(4, 0, struct proto_published, publish_at),
};

static const struct field_spec alert_msg_spec[] = {
	F_U64(1, FIELD_REQ, struct proto_alert_msg, seq),
	F_U8(2, FIELD_REQ, 0, PROTO_AF_REMINDER | PROTO_AF_RESENT,
	    struct proto_alert_msg, flags),
	F_BYTES(3, FIELD_REQ, UINT16_MAX, struct proto_alert_msg, envelope),
};

static const struct field_spec ack_spec[] = {
	F_NAME(1, FIELD_REQ, struct proto_ack, id),
	F_U8(2, FIELD_REQ, PROTO_ACK_DELIVERED, PROTO_ACK_MAX,
	    struct proto_ack, state),
	F_U32_HAS(3, struct proto_ack, reach, has_reach),
	F_U8(4, 0, 0, PROTO_ACKF_QUIET, struct proto_ack, flags),
	F_BYTES(5, 0, PROTO_RECEIPT_MAX, struct proto_ack, receipt),
	F_ANY(6, FIELD_BYTES, 0, PROTO_SIG_LEN, PROTO_SIG_LEN, struct proto_ack,
	    sig),
};

static const struct field_spec ack_ok_spec[] = {
	F_NAME(1, FIELD_REQ, struct proto_ack_ok, id),
	F_U8(2, FIELD_REQ, PROTO_ACK_DELIVERED, PROTO_ACK_MAX,
	    struct proto_ack_ok, state),
};

static const struct field_spec status_req_spec[] = {
	F_NAME(1, FIELD_REQ, struct proto_status_req, id),
	F_NODE(2, 0, struct proto_status_req, node),
	F_U8(3, 0, 0, PROTO_SF_MEMBERS | PROTO_SF_WATCH,
	    struct proto_status_req, flags),
	F_U8(4, 0, 1, PROTO_DEPTH_ALL, struct proto_status_req, depth),
	F_U32(5, 0, struct proto_status_req, offset),
	F_U32(6, 0, struct proto_status_req, limit),
	F_U8(7, 0, PROTO_SO_TREE, PROTO_SO_WORST, struct proto_status_req,
	    order),
	F_U32(8, 0, struct proto_status_req, member_offset),
};

static const struct field_spec status_node_spec[] = {
	F_NODE(1, FIELD_REQ, struct proto_status_node, node),
	F_NODE(2, 0, struct proto_status_node, parent),
	F_U8(3, FIELD_REQ, PROTO_TIER_POLICE, PROTO_TIER_CLASS,
	    struct proto_status_node, tier),
	F_TEXT(4, FIELD_REQ, 0, PROTO_NODE_NAME_MAX, struct proto_status_node,
	    name),
	F_U32(5, FIELD_REQ, struct proto_status_node, targeted),
	F_U32(6, FIELD_REQ, struct proto_status_node, delivered),
	F_U32(7, FIELD_REQ, struct proto_status_node, read),
	F_U32(8, FIELD_REQ, struct proto_status_node, relayed),
	F_U32(9, FIELD_REQ, struct proto_status_node, reach),
	F_U8(10, 0, 1, PROTO_PATH_MAX, struct proto_status_node, depth),
	F_U32(11, 0, struct proto_status_node, shown),
};

static const struct field_spec status_member_spec[] = {
	F_NAME(1, FIELD_REQ, struct proto_status_member, cn),
	F_NODE(2, FIELD_REQ, struct proto_status_member, node),
	F_U8(3, FIELD_REQ, PROTO_ACK_NONE, PROTO_ACK_MAX,
	    struct proto_status_member, state),
	F_U64(4, 0, struct proto_status_member, at),
	F_U8(5, 0, 0, 1, struct proto_status_member, online),
};

static const struct field_spec agents_req_spec[] = {
	F_NODE(1, 0, struct proto_agents_req, node),
	F_U32(2, 0, struct proto_agents_req, offset),
};

static const struct field_spec agent_item_spec[] = {
	F_NAME(1, FIELD_REQ, struct proto_agent_item, cn),
	F_NODE(2, FIELD_REQ, struct proto_agent_item, node),
	F_U8(3, FIELD_REQ, 0, PROTO_R_RECEIVE | PROTO_R_ISSUE | PROTO_R_OBSERVE,
	    struct proto_agent_item, rights),
	F_U32(4, 0, struct proto_agent_item, online),
	F_U64(5, 0, struct proto_agent_item, since),
	F_U64(6, 0, struct proto_agent_item, last_seen),
	F_NAME(7, 0, struct proto_agent_item, server),
};

static const struct field_spec schedule_req_spec[] = {
	F_NODE(1, 0, struct proto_schedule_req, node),
};

static const struct field_spec schedule_item_spec[] = {
	F_NAME(1, FIELD_REQ, struct proto_schedule_item, id),
	F_NAME(2, FIELD_REQ, struct proto_schedule_item, issuer),
	F_NODE(3, FIELD_REQ, struct proto_schedule_item, target),
	F_U8(4, FIELD_REQ, PROTO_MSG_ALERT, PROTO_MSG_CANCEL,
	    struct proto_schedule_item, msg_type),
	F_U64(5, FIELD_REQ, struct proto_schedule_item, publish_at),
	F_U64(6, FIELD_REQ, struct proto_schedule_item, expires_at),
	F_TEXT(7, FIELD_REQ, 1, PROTO_HEADLINE_MAX, struct proto_schedule_item,
	    headline),
	F_U8(8, 0, PROTO_STATUS_ACTUAL, PROTO_STATUS_TEST,
	    struct proto_schedule_item, status),
};

static const struct field_spec report_req_spec[] = {
	F_NODE(1, 0, struct proto_report_req, node),
	F_U64(2, FIELD_REQ, struct proto_report_req, from),
	F_U64(3, FIELD_REQ, struct proto_report_req, to),
	F_U8(4, 0, 1, PROTO_DEPTH_ALL, struct proto_report_req, depth),
};

static const struct field_spec report_row_spec[] = {
	F_NODE(1, FIELD_REQ, struct proto_report_row, node),
	F_NODE(2, 0, struct proto_report_row, parent),
	F_U8(3, FIELD_REQ, PROTO_TIER_POLICE, PROTO_TIER_CLASS,
	    struct proto_report_row, tier),
	F_TEXT(4, FIELD_REQ, 0, PROTO_NODE_NAME_MAX, struct proto_report_row,
	    name),
	F_U32(5, FIELD_REQ, struct proto_report_row, alerts),
	F_U32(6, FIELD_REQ, struct proto_report_row, targeted),
	F_U32(7, FIELD_REQ, struct proto_report_row, delivered),
	F_U32(8, FIELD_REQ, struct proto_report_row, read),
	F_U32(9, FIELD_REQ, struct proto_report_row, relayed),
	F_U32(10, FIELD_REQ, struct proto_report_row, delivered_in_time),
	F_U32(11, FIELD_REQ, struct proto_report_row, read_in_time),
	F_U32(12, FIELD_REQ, struct proto_report_row, relayed_in_time),
	F_U64(13, 0, struct proto_report_row, median_read_ms),
	F_U32(14, 0, struct proto_report_row, drill_alerts),
	F_U32(15, 0, struct proto_report_row, drill_targeted),
	F_U32(16, 0, struct proto_report_row, drill_delivered),
	F_U32(17, 0, struct proto_report_row, drill_read),
	F_U32(18, 0, struct proto_report_row, drill_relayed),
	F_U32(19, 0, struct proto_report_row, shown),
	F_U32(20, 0, struct proto_report_row, shown_in_time),
	F_U32(21, 0, struct proto_report_row, drill_shown),
};

#define MSG_SCHEMA(nm, spec, st) \
	{ (nm), (spec), FIELD_NSPEC(spec), sizeof(st) }

static const struct field_schema hello_schema =
    MSG_SCHEMA("HELLO", hello_spec, struct proto_hello);
static const struct field_schema welcome_schema =
    MSG_SCHEMA("WELCOME", welcome_spec, struct proto_welcome);
static const struct field_schema publish_schema =
    MSG_SCHEMA("PUBLISH", publish_spec, struct proto_publish);
static const struct field_schema published_schema =
    MSG_SCHEMA("PUBLISHED", published_spec, struct proto_published);
static const struct field_schema alert_msg_schema =
    MSG_SCHEMA("ALERT", alert_msg_spec, struct proto_alert_msg);
static const struct field_schema ack_schema =
    MSG_SCHEMA("ACK", ack_spec, struct proto_ack);
static const struct field_schema ack_ok_schema =
    MSG_SCHEMA("ACK_OK", ack_ok_spec, struct proto_ack_ok);
static const struct field_schema status_req_schema =
    MSG_SCHEMA("STATUS_REQ", status_req_spec, struct proto_status_req);
static const struct field_schema status_node_schema =
    MSG_SCHEMA("STATUS node", status_node_spec, struct proto_status_node);
static const struct field_schema status_member_schema =
    MSG_SCHEMA("STATUS member", status_member_spec,
    struct proto_status_member);

/* STATUS refers to the item tables, so it comes after them. */
static const struct field_spec status_spec[] = {
	F_NAME(1, FIELD_REQ, struct proto_status, id),
	F_U64(2, FIELD_REQ, struct proto_status, seq),
	F_NODE(3, FIELD_REQ, struct proto_status, target),
	F_U64(4, FIELD_REQ, struct proto_status, issued_at),
	F_U64(5, FIELD_REQ, struct proto_status, expires_at),
	F_LIST(6, FIELD_REQ, &status_node_schema, struct proto_status, nodes),
	F_LIST(7, 0, &status_member_schema, struct proto_status, members),
	F_U32(8, 0, struct proto_status, omitted),
	F_U8(9, 0, PROTO_STATUS_ACTUAL, PROTO_STATUS_TEST, struct proto_status,
	    status),
	F_U64(10, 0, struct proto_status, server_time),
	F_U8(11, 0, PROTO_LIFE_LIVE, PROTO_LIFE_EXPIRED, struct proto_status,
	    lifecycle),
	F_NAME(12, 0, struct proto_status, cancelled_by),
	F_U64(13, 0, struct proto_status, ended_at),
	F_U32(14, 0, struct proto_status, rows_total),
	F_U32(15, 0, struct proto_status, rows_offset),
	F_U8(16, 0, 1, PROTO_DEPTH_ALL, struct proto_status, depth),
	F_U32(17, 0, struct proto_status, members_total),
	F_U32(18, 0, struct proto_status, members_offset),
};

static const struct field_schema status_schema =
    MSG_SCHEMA("STATUS", status_spec, struct proto_status);

static const struct field_schema agents_req_schema =
    MSG_SCHEMA("AGENTS_REQ", agents_req_spec, struct proto_agents_req);
static const struct field_schema agent_item_schema =
    MSG_SCHEMA("AGENTS principal", agent_item_spec, struct proto_agent_item);
static const struct field_schema schedule_req_schema =
    MSG_SCHEMA("SCHEDULE_REQ", schedule_req_spec, struct proto_schedule_req);
static const struct field_schema schedule_item_schema =
    MSG_SCHEMA("SCHEDULE alert", schedule_item_spec,
    struct proto_schedule_item);
static const struct field_schema report_req_schema =
    MSG_SCHEMA("REPORT_REQ", report_req_spec, struct proto_report_req);
static const struct field_schema report_row_schema =
    MSG_SCHEMA("REPORT row", report_row_spec, struct proto_report_row);

static const struct field_spec agents_spec[] = {
	F_NODE(1, FIELD_REQ, struct proto_agents, node),
	F_U64(2, FIELD_REQ, struct proto_agents, server_time),
	F_LIST(3, FIELD_REQ, &agent_item_schema, struct proto_agents,
	    principals),
	F_U32(4, 0, struct proto_agents, omitted),
	F_U32(5, 0, struct proto_agents, total),
	F_U32(6, 0, struct proto_agents, online),
	F_U32(7, 0, struct proto_agents, offset),
};

static const struct field_spec schedule_spec[] = {
	F_U64(1, FIELD_REQ, struct proto_schedule, server_time),
	F_LIST(2, FIELD_REQ, &schedule_item_schema, struct proto_schedule,
	    alerts),
	F_U32(3, 0, struct proto_schedule, omitted),
};

static const struct field_spec report_spec[] = {
	F_NODE(1, FIELD_REQ, struct proto_report, node),
	F_U64(2, FIELD_REQ, struct proto_report, from),
	F_U64(3, FIELD_REQ, struct proto_report, to),
	F_U32(4, FIELD_REQ, struct proto_report, alerts),
	F_U32(5, 0, struct proto_report, drills),
	F_LIST(6, FIELD_REQ, &report_row_schema, struct proto_report, rows),
	F_U32(7, 0, struct proto_report, omitted),
	F_U8(8, 0, 1, PROTO_DEPTH_ALL, struct proto_report, depth),
};

static const struct field_schema agents_schema =
    MSG_SCHEMA("AGENTS", agents_spec, struct proto_agents);
static const struct field_schema schedule_schema =
    MSG_SCHEMA("SCHEDULE", schedule_spec, struct proto_schedule);
static const struct field_schema report_schema =
    MSG_SCHEMA("REPORT", report_spec, struct proto_report);

static const struct field_spec escalation_spec[] = {
	F_NAME(1, FIELD_REQ, struct proto_escalation, id),
	F_U64(2, FIELD_REQ, struct proto_escalation, seq),
	F_NODE(3, FIELD_REQ, struct proto_escalation, node),
	F_LIST(4, FIELD_REQ, &status_member_schema, struct proto_escalation,
	    members),
	F_U32(5, 0, struct proto_escalation, omitted),
};

static const struct field_schema escalation_schema =
    MSG_SCHEMA("ESCALATION", escalation_spec, struct proto_escalation);

static const struct field_spec ping_spec[] = {
	F_U64(1, FIELD_REQ, struct proto_ping, nonce),
};

static const struct field_schema ping_schema =
    MSG_SCHEMA("PING", ping_spec, struct proto_ping);

static const struct field_spec error_spec[] = {
	F_U16(1, FIELD_REQ, struct proto_error, code),
	F_TEXT(2, FIELD_REQ, 0, PROTO_REASON_MAX, struct proto_error, text),
	F_NAME(3, 0, struct proto_error, ref),
};

static const struct field_schema error_schema =
    MSG_SCHEMA("ERROR", error_spec, struct proto_error);

static const struct field_spec bye_spec[] = {
	F_U16(1, 0, struct proto_bye, code),
	F_TEXT(2, 0, 0, PROTO_REASON_MAX, struct proto_bye, text),
};

static const struct field_schema bye_schema =
    MSG_SCHEMA("BYE", bye_spec, struct proto_bye);

/* CAP export (cap). */
static const struct field_spec envelope_req_spec[] = {
	F_NAME(1, FIELD_REQ, struct proto_envelope_req, id),
};

static const struct field_spec envelope_msg_spec[] = {
	F_NAME(1, FIELD_REQ, struct proto_envelope_msg, id),
	F_BYTES(2, FIELD_REQ, UINT16_MAX, struct proto_envelope_msg, envelope),
	F_NAME(3, 0, struct proto_envelope_msg, ref_issuer),
	F_U64(4, 0, struct proto_envelope_msg, ref_issued_at),
};

static const struct field_schema envelope_req_schema =
    MSG_SCHEMA("ENVELOPE_REQ", envelope_req_spec, struct proto_envelope_req);
static const struct field_schema envelope_msg_schema =
    MSG_SCHEMA("ENVELOPE", envelope_msg_spec, struct proto_envelope_msg);

/* --- helpers ----------------------------------------------------------- */

/* One whole frame: header, the struct's fields, length patched. */
static void
msg_encode(struct proto_buf *b, uint8_t type, const struct field_schema *s,
    const void *in)
{
	size_t		 mark;

	mark = pbuf_frame_begin(b);
	field_encode(b, s, in);
	pbuf_frame_end(b, mark, type);
}

/*
 * Make a reason text safe to send: at most PROTO_REASON_MAX bytes, each
 * invalid byte replaced by '?', a sequence cut by the limit dropped.
 * Reasons are built with snprintf and may embed names from elsewhere; an
 * ERROR or BYE must never be refused by its receiver for its text.
 */
static size_t
msg_clean_text(const char *s, uint8_t *out)
{
	const uint8_t	*p = (const uint8_t *)s;
	size_t		 n, i = 0, o = 0, k;

	if (s == NULL)
		return 0;
	n = strlen(s);
	while (i < n) {
		if ((k = utf8_decode(p + i, n - i, NULL)) == 0) {
			if (o + 1 > PROTO_REASON_MAX)
				break;
			out[o++] = '?';
			i++;
			continue;
		}
		if (o + k > PROTO_REASON_MAX)
			break;
		memcpy(out + o, p + i, k);
		o += k;
		i += k;
	}
	return o;
}

/* --- decoders ---------------------------------------------------------- */

int
proto_hello_decode(const uint8_t *p, size_t len, struct proto_hello *m)
{
	return field_decode(&hello_schema, p, len, m);
}

int
proto_welcome_decode(const uint8_t *p, size_t len, struct proto_welcome *m)
{
	return field_decode(&welcome_schema, p, len, m);
}

int
proto_publish_decode(const uint8_t *p, size_t len, struct proto_publish *m)
{
	return field_decode(&publish_schema, p, len, m);
}

int
proto_published_decode(const uint8_t *p, size_t len,
    struct proto_published *m)
{
	return field_decode(&published_schema, p, len, m);
}

int
proto_alert_msg_decode(const uint8_t *p, size_t len,
    struct proto_alert_msg *m)
{
	return field_decode(&alert_msg_schema, p, len, m);
}

/* A receipt (5) and its signature (6) come together or not at all. */
int
proto_ack_decode(const uint8_t *p, size_t len, struct proto_ack *m)
{
	int	rc;

	if ((rc = field_decode(&ack_schema, p, len, m)) != 0)
		return rc;
	if ((m->receipt.len == 0) != (m->sig.len == 0))
		return -PROTO_E_MISSING;
	return 0;
}

int
proto_ack_ok_decode(const uint8_t *p, size_t len, struct proto_ack_ok *m)
{
	return field_decode(&ack_ok_schema, p, len, m);
}

int
proto_status_req_decode(const uint8_t *p, size_t len,
    struct proto_status_req *m)
{
	return field_decode(&status_req_schema, p, len, m);
}

/* STATUS: both lists are checked item by item before this returns 0. */
int
proto_status_decode(const uint8_t *p, size_t len, struct proto_status *m)
{
	return field_decode(&status_schema, p, len, m);
}

int
proto_ping_decode(const uint8_t *p, size_t len, struct proto_ping *m)
{
	return field_decode(&ping_schema, p, len, m);
}

int
proto_error_decode(const uint8_t *p, size_t len, struct proto_error *m)
{
	return field_decode(&error_schema, p, len, m);
}

int
proto_bye_decode(const uint8_t *p, size_t len, struct proto_bye *m)
{
	return field_decode(&bye_schema, p, len, m);
}

int
proto_status_node_next(const struct proto_view *v, size_t *cursor,
    struct proto_status_node *n)
{
	return field_list_next(&status_node_schema, v, cursor, n);
}

int
proto_status_member_next(const struct proto_view *v, size_t *cursor,
    struct proto_status_member *m)
{
	return field_list_next(&status_member_schema, v, cursor, m);
}

int
proto_escalation_decode(const uint8_t *p, size_t len,
    struct proto_escalation *m)
{
	return field_decode(&escalation_schema, p, len, m);
}

/* --- encoders ---------------------------------------------------------- */

void
proto_escalation_encode(struct proto_buf *b, const struct proto_escalation *m)
{
	msg_encode(b, PROTO_T_ESCALATION, &escalation_schema, m);
}

void
proto_hello_encode(struct proto_buf *b, const struct proto_hello *m)
{
	msg_encode(b, PROTO_T_HELLO, &hello_schema, m);
}

void
proto_welcome_encode(struct proto_buf *b, const struct proto_welcome *m)
{
	msg_encode(b, PROTO_T_WELCOME, &welcome_schema, m);
}

void
proto_publish_encode(struct proto_buf *b, const struct proto_publish *m)
{
	msg_encode(b, PROTO_T_PUBLISH, &publish_schema, m);
}

void
proto_published_encode(struct proto_buf *b, const struct proto_published *m)
{
	msg_encode(b, PROTO_T_PUBLISHED, &published_schema, m);
}

void
proto_alert_msg_encode(struct proto_buf *b, const struct proto_alert_msg *m)
{
	msg_encode(b, PROTO_T_ALERT, &alert_msg_schema, m);
}

void
proto_ack_encode(struct proto_buf *b, const struct proto_ack *m)
{
	msg_encode(b, PROTO_T_ACK, &ack_schema, m);
}

void
proto_ack_ok_encode(struct proto_buf *b, const struct proto_ack_ok *m)
{
	msg_encode(b, PROTO_T_ACK_OK, &ack_ok_schema, m);
}

void
proto_status_req_encode(struct proto_buf *b, const struct proto_status_req *m)
{
	msg_encode(b, PROTO_T_STATUS_REQ, &status_req_schema, m);
}

/* STATUS: m->nodes and m->members are list values built with _put. */
void
proto_status_encode(struct proto_buf *b, const struct proto_status *m)
{
	msg_encode(b, PROTO_T_STATUS, &status_schema, m);
}

/* Append one item (length word and fields) to an open node list. */
void
proto_status_node_put(struct proto_buf *b, const struct proto_status_node *n)
{
	size_t		 mark;

	mark = pbuf_item_begin(b);
	field_encode(b, &status_node_schema, n);
	pbuf_item_end(b, mark);
}

/* Append one item to an open member list. */
void
proto_status_member_put(struct proto_buf *b,
    const struct proto_status_member *m)
{
	size_t		 mark;

	mark = pbuf_item_begin(b);
	field_encode(b, &status_member_schema, m);
	pbuf_item_end(b, mark);
}

/* PING and PONG share their layout; type says which one this is. */
void
proto_ping_encode(struct proto_buf *b, uint8_t type,
    const struct proto_ping *m)
{
	if (type != PROTO_T_PING && type != PROTO_T_PONG) {
		pbuf_fail(b, PROTO_E_TYPE);
		return;
	}
	msg_encode(b, type, &ping_schema, m);
}

/*
 * ERROR: text is cleaned (see msg_clean_text) and may be NULL; ref is
 * left out when NULL, empty or not a valid alert id.
 */
void
proto_error_encode(struct proto_buf *b, uint16_t code, const char *text,
    const char *ref)
{
	struct proto_error	 m;
	uint8_t			 clean[PROTO_REASON_MAX];

	memset(&m, 0, sizeof(m));
	m.code = code;
	m.text.p = clean;
	m.text.len = msg_clean_text(text, clean);
	if (ref != NULL && proto_name_valid(ref, strlen(ref)))
		memcpy(m.ref, ref, strlen(ref) + 1);
	msg_encode(b, PROTO_T_ERROR, &error_schema, &m);
}

/* BYE: code 0 and an empty or NULL text are left out. */
void
proto_bye_encode(struct proto_buf *b, uint16_t code, const char *text)
{
	struct proto_bye	 m;
	uint8_t			 clean[PROTO_REASON_MAX];

	memset(&m, 0, sizeof(m));
	m.code = code;
	m.text.p = clean;
	m.text.len = msg_clean_text(text, clean);
	msg_encode(b, PROTO_T_BYE, &bye_schema, &m);
}

/* --- the console's lists: AGENTS, SCHEDULE, REPORT ----------------------- */

int
proto_agents_req_decode(const uint8_t *p, size_t len,
    struct proto_agents_req *m)
{
	return field_decode(&agents_req_schema, p, len, m);
}

int
proto_agents_decode(const uint8_t *p, size_t len, struct proto_agents *m)
{
	return field_decode(&agents_schema, p, len, m);
}

int
proto_schedule_req_decode(const uint8_t *p, size_t len,
    struct proto_schedule_req *m)
{
	return field_decode(&schedule_req_schema, p, len, m);
}

int
proto_schedule_decode(const uint8_t *p, size_t len, struct proto_schedule *m)
{
	return field_decode(&schedule_schema, p, len, m);
}

int
proto_report_req_decode(const uint8_t *p, size_t len,
    struct proto_report_req *m)
{
	return field_decode(&report_req_schema, p, len, m);
}

int
proto_report_decode(const uint8_t *p, size_t len, struct proto_report *m)
{
	return field_decode(&report_schema, p, len, m);
}

int
proto_agent_item_next(const struct proto_view *v, size_t *cursor,
    struct proto_agent_item *m)
{
	return field_list_next(&agent_item_schema, v, cursor, m);
}

int
proto_schedule_item_next(const struct proto_view *v, size_t *cursor,
    struct proto_schedule_item *m)
{
	return field_list_next(&schedule_item_schema, v, cursor, m);
}

int
proto_report_row_next(const struct proto_view *v, size_t *cursor,
    struct proto_report_row *m)
{
	return field_list_next(&report_row_schema, v, cursor, m);
}

void
proto_agents_req_encode(struct proto_buf *b, const struct proto_agents_req *m)
{
	msg_encode(b, PROTO_T_AGENTS_REQ, &agents_req_schema, m);
}

void
proto_agents_encode(struct proto_buf *b, const struct proto_agents *m)
{
	msg_encode(b, PROTO_T_AGENTS, &agents_schema, m);
}

/* Append one item to an open list, with the item table given. */
static void
msg_item_put(struct proto_buf *b, const struct field_schema *s,
    const void *m)
{
	size_t		 mark;

	mark = pbuf_item_begin(b);
	field_encode(b, s, m);
	pbuf_item_end(b, mark);
}

void
proto_agent_item_put(struct proto_buf *b, const struct proto_agent_item *m)
{
	msg_item_put(b, &agent_item_schema, m);
}

void
proto_schedule_req_encode(struct proto_buf *b,
    const struct proto_schedule_req *m)
{
	msg_encode(b, PROTO_T_SCHEDULE_REQ, &schedule_req_schema, m);
}

void
proto_schedule_encode(struct proto_buf *b, const struct proto_schedule *m)
{
	msg_encode(b, PROTO_T_SCHEDULE, &schedule_schema, m);
}

void
proto_schedule_item_put(struct proto_buf *b,
    const struct proto_schedule_item *m)
{
	msg_item_put(b, &schedule_item_schema, m);
}

void
proto_report_req_encode(struct proto_buf *b, const struct proto_report_req *m)
{
	msg_encode(b, PROTO_T_REPORT_REQ, &report_req_schema, m);
}

void
proto_report_encode(struct proto_buf *b, const struct proto_report *m)
{
	msg_encode(b, PROTO_T_REPORT, &report_schema, m);
}

void
proto_report_row_put(struct proto_buf *b, const struct proto_report_row *m)
{
	msg_item_put(b, &report_row_schema, m);
}

/* --- CAP export (cap) ---------------------------------------------------- */

int
proto_envelope_req_decode(const uint8_t *p, size_t len,
    struct proto_envelope_req *m)
{
	return field_decode(&envelope_req_schema, p, len, m);
}

int
proto_envelope_msg_decode(const uint8_t *p, size_t len,
    struct proto_envelope_msg *m)
{
	return field_decode(&envelope_msg_schema, p, len, m);
}

void
proto_envelope_req_encode(struct proto_buf *b,
    const struct proto_envelope_req *m)
{
	msg_encode(b, PROTO_T_ENVELOPE_REQ, &envelope_req_schema, m);
}

void
proto_envelope_msg_encode(struct proto_buf *b,
    const struct proto_envelope_msg *m)
{
	msg_encode(b, PROTO_T_ENVELOPE, &envelope_msg_schema, m);
}
