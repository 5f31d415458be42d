/* SPDX-License-Identifier: ISC */
/*
 * proto: the wuzha wire format.  Frames, canonical fields, messages, the
 * alert body and its signed envelope.  Pure code: no sockets, no event
 * loop, no globals.  Everything a peer sends is decoded strictly, so that
 * a signed body has exactly one encoding.  See proto/PROTOCOL.md.
 */
#ifndef WUZHA_PROTO_H
#define WUZHA_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define PROTO_VERSION		1

/* Frame: u32 big-endian length of what follows, u8 type, payload. */
#define PROTO_FRAME_HDR		5
#define PROTO_FRAME_MAX_DEFAULT	(64 * 1024)	/* largest length value */
#define PROTO_FRAME_MAX_LIMIT	(16 * 1024 * 1024) /* cap for any config */

/* Field: u8 tag, u16 big-endian length, value. */
#define PROTO_FIELD_HDR		3

/* Identifier limits (bytes).  Ids and CNs are ASCII, see proto_*_valid. */
#define PROTO_ID_MAX		64
#define PROTO_HEADLINE_MAX	512
#define PROTO_TEXT_MAX		16384
#define PROTO_INSTRUCTION_MAX	4096
#define PROTO_REASON_MAX	1024
#define PROTO_AGENT_MAX		128	/* HELLO software name */
#define PROTO_NODE_NAME_MAX	256	/* STATUS node display name */
#define PROTO_CERT_MAX		8192
#define PROTO_SIG_LEN		64	/* Ed25519 */

/* Domain separation: what is signed is this prefix followed by the body. */
#define PROTO_SIG_CONTEXT	"wuzha-alert-v1"	/* 14 bytes, no NUL */

enum proto_type {
	PROTO_T_HELLO		= 0x01,
	PROTO_T_WELCOME		= 0x02,
	PROTO_T_PUBLISH		= 0x10,
	PROTO_T_PUBLISHED	= 0x11,
	PROTO_T_ALERT		= 0x12,
	PROTO_T_ESCALATION	= 0x13,
	PROTO_T_ACK		= 0x20,
	PROTO_T_ACK_OK		= 0x21,
	PROTO_T_STATUS_REQ	= 0x30,
	PROTO_T_STATUS		= 0x31,
	PROTO_T_AGENTS_REQ	= 0x32,
	PROTO_T_AGENTS		= 0x33,
	PROTO_T_SCHEDULE_REQ	= 0x34,
	PROTO_T_SCHEDULE	= 0x35,
	PROTO_T_REPORT_REQ	= 0x36,
	PROTO_T_REPORT		= 0x37,
	PROTO_T_RECEIPTS_REQ	= 0x38,	/* receipt.c */
	PROTO_T_RECEIPTS	= 0x39,
	PROTO_T_AUDIT_REQ	= 0x3a,	/* audit log: entries or checkpoints */
	PROTO_T_AUDIT		= 0x3b,
	/* CAP export: one stored envelope (cap) */
	PROTO_T_ENVELOPE_REQ	= 0x3c,
	PROTO_T_ENVELOPE	= 0x3d,
	/* clues reported upward (clue.c) */
	PROTO_T_CLUE		= 0x50,
	PROTO_T_CLUE_OK		= 0x51,
	PROTO_T_CLUE_PUSH	= 0x52,
	PROTO_T_CLUE_MARK	= 0x53,
	PROTO_T_CLUES_REQ	= 0x54,
	PROTO_T_CLUES		= 0x55,
	PROTO_T_PING		= 0x40,
	PROTO_T_PONG		= 0x41,
	PROTO_T_ERROR		= 0x7e,
	PROTO_T_BYE		= 0x7f,
};

/*
 * Error codes carried by ERROR (and returned, negated, by decoders and
 * the verifier).  Grouped by hundreds: 1xx framing/encoding, 2xx session
 * and rights, 3xx alerts, 4xx acks, 5xx server.
 */
enum proto_err {
	PROTO_E_OK		= 0,
	PROTO_E_FRAME		= 100,	/* malformed frame */
	PROTO_E_FRAME_SIZE	= 101,	/* frame longer than the maximum */
	PROTO_E_TYPE		= 102,	/* unknown message type */
	PROTO_E_FIELD		= 103,	/* non-canonical field encoding */
	PROTO_E_MISSING		= 104,	/* required field absent */
	PROTO_E_UTF8		= 105,	/* text not valid UTF-8, or has NUL */
	PROTO_E_TOO_LONG	= 106,	/* value longer than its limit */
	PROTO_E_STATE		= 107,	/* message not valid in this state */
	PROTO_E_VERSION		= 108,	/* unsupported protocol version */
	PROTO_E_TAG		= 109,	/* unknown field tag */
	PROTO_E_VALUE		= 110,	/* value out of range (enum, id syntax) */
	PROTO_E_TIMEOUT		= 111,	/* peer too slow (handshake, frame) */
	PROTO_E_PRINCIPAL	= 200,	/* certificate CN is not a principal */
	PROTO_E_FORBIDDEN	= 201,	/* principal lacks the right */
	PROTO_E_LIMIT		= 202,	/* connection or rate limit reached */
	PROTO_E_REVOKED		= 203,	/* peer certificate no longer accepted */
	PROTO_E_SIGNATURE	= 300,	/* signature does not verify */
	PROTO_E_CERT		= 301,	/* issuer certificate not from the CA */
	PROTO_E_ISSUER		= 302,	/* cert CN / sender / issuer mismatch */
	PROTO_E_TARGET		= 303,	/* issuer may not issue to target */
	PROTO_E_NODE		= 304,	/* unknown node */
	PROTO_E_SKEW		= 305,	/* issued_at outside the skew window */
	PROTO_E_EXPIRY		= 306,	/* expires_at not after issued_at, or past */
	PROTO_E_DUPLICATE	= 307,	/* alert id already seen */
	PROTO_E_UNKNOWN_ALERT	= 308,	/* no such (live) alert */
	PROTO_E_REFERENCE	= 309,	/* update/cancel reference invalid */
	PROTO_E_NOT_ISSUER	= 310,	/* signer's certificate grants no issuing */
	PROTO_E_RECEIPT		= 311,	/* bad receipt: signature, hash, mismatch */
	PROTO_E_RECEIPT_STALE	= 312,	/* receipt's at outside the skew window */
	PROTO_E_UNSIGNED	= 313,	/* ack without receipt, receipts required */
	PROTO_E_AUDIT_RANGE	= 330,	/* AUDIT_REQ from past the log's end */
	PROTO_E_AUDIT_ENTRY	= 331,	/* an entry too large for one frame */
	/* CAP 1.2 documents (client side: wuzhactl publish --cap) */
	PROTO_E_CAP_XML		= 340,	/* not well-formed XML, or over the size limit */
	PROTO_E_CAP_DOCTYPE	= 341,	/* a DOCTYPE or entity reference: refused */
	PROTO_E_CAP_ELEMENT	= 342,	/* element unknown, missing, repeated or out of order */
	PROTO_E_CAP_VALUE	= 343,	/* a value CAP or wuzha does not allow */
	PROTO_E_CAP_TIME	= 344,	/* not a CAP dateTime */
	PROTO_E_CAP_SENDER	= 345,	/* sender is not the console's own CN */
	/* clues (clue.c) */
	PROTO_E_CLUE_BAD	= 320,	/* signature, reporter or node wrong */
	PROTO_E_CLUE_UNKNOWN	= 321,	/* no such clue */
	PROTO_E_CLUE_BACKWARDS	= 322,	/* mark would skip or undo a state */
	PROTO_E_CLUE_NOT_YOURS	= 323,	/* not yours to see or mark */
	PROTO_E_CLUE_LIMIT	= 324,	/* too long, or too many clues an hour */
	PROTO_E_CLUE_DUPLICATE	= 325,	/* clue id used by another clue */
	PROTO_E_NOT_ADDRESSED	= 400,	/* ack for an alert not sent to you */
	PROTO_E_BACKWARDS	= 401,	/* ack state would go backwards */
	PROTO_E_INTERNAL	= 500,	/* server bug; see its log */
	PROTO_E_STORE		= 501,	/* store unavailable, try again */
	PROTO_E_SHUTDOWN	= 502,	/* server is stopping */
};

/* Short, stable name of an error code ("bad-signature"), "unknown" if none. */
const char	*proto_err_name(int code);
/* Name of a message type ("HELLO"), "?" if none. */
const char	*proto_type_name(int type);

/* A view into someone else's bytes; text views are valid UTF-8, no NUL. */
struct proto_view {
	const uint8_t	*p;
	size_t		 len;
};

/* --- frames ------------------------------------------------------------ */

/*
 * Check a frame header (PROTO_FRAME_HDR bytes).  Returns 0 and sets *type
 * and *payload_len, or -PROTO_E_FRAME (length 0) / -PROTO_E_FRAME_SIZE
 * (length - 1 > max payload, i.e. length > max).  Call before allocating.
 */
int	proto_frame_header(const uint8_t *hdr, uint32_t max, uint8_t *type,
	    uint32_t *payload_len);

/* --- encoding buffer --------------------------------------------------- */

/*
 * A growable output buffer.  Writers append fields in ascending tag
 * order; a writer that fails (allocation, order, length) sets err and
 * every later call is a no-op, so callers check once at the end.
 */
struct proto_buf {
	uint8_t		*data;
	size_t		 len;
	size_t		 cap;
	int		 err;		/* first error, PROTO_E_* or ENOMEM */
	int		 last_tag;	/* -1 at start of each field list */
};

void	pbuf_init(struct proto_buf *);
void	pbuf_free(struct proto_buf *);
/* Hand the bytes to the caller (who frees them); the buffer is reset. */
uint8_t	*pbuf_take(struct proto_buf *, size_t *len);
void	pbuf_raw(struct proto_buf *, const void *, size_t);

void	pbuf_u8(struct proto_buf *, uint8_t tag, uint8_t);
void	pbuf_u16(struct proto_buf *, uint8_t tag, uint16_t);
void	pbuf_u32(struct proto_buf *, uint8_t tag, uint32_t);
void	pbuf_u64(struct proto_buf *, uint8_t tag, uint64_t);
void	pbuf_bytes(struct proto_buf *, uint8_t tag, const void *, size_t);
void	pbuf_str(struct proto_buf *, uint8_t tag, const char *);	/* skipped if NULL */

/*
 * Lists: a field whose value is a sequence of items, each a u16 length
 * and a canonical field list.  pbuf_list_begin opens the field,
 * pbuf_item_begin/end bracket each item (tags restart inside an item),
 * pbuf_list_end patches the field length.
 */
size_t	pbuf_list_begin(struct proto_buf *, uint8_t tag);
size_t	pbuf_item_begin(struct proto_buf *);
void	pbuf_item_end(struct proto_buf *, size_t mark);
void	pbuf_list_end(struct proto_buf *, size_t mark, uint8_t tag);

/*
 * Frame: pbuf_frame_begin reserves the header, pbuf_frame_end fills it
 * with the length and type.  One buffer can hold several frames.
 */
size_t	pbuf_frame_begin(struct proto_buf *);
void	pbuf_frame_end(struct proto_buf *, size_t mark, uint8_t type);

/* --- identifiers ------------------------------------------------------- */

/* Node ids: [a-z0-9-]{1,64}. */
int	proto_node_id_valid(const char *, size_t len);
/* Alert ids and principal CNs: [A-Za-z0-9._-]{1,64}, not starting with '.' or '-'. */
int	proto_name_valid(const char *, size_t len);
/* Valid UTF-8 (no overlongs, no surrogates), no NUL. */
int	proto_utf8_valid(const uint8_t *, size_t len);

/* --- messages ---------------------------------------------------------- */

enum proto_role {
	PROTO_ROLE_AGENT	= 1,	/* receives alerts pushed to it */
	PROTO_ROLE_CONSOLE	= 2,	/* requests only, nothing pushed */
};

/*
 * Acknowledgement states.  The values are wire numbers, not an order:
 * shown came later and took the next free number.  States are ordered
 * by rank (proto_ack_rank): delivered < shown < read < relayed.
 */
enum proto_ack_state {
	PROTO_ACK_NONE		= 0,	/* only in STATUS: nothing stored */
	PROTO_ACK_DELIVERED	= 1,	/* the agent verified and stored it */
	PROTO_ACK_READ		= 2,	/* a person confirmed reading it */
	PROTO_ACK_RELAYED	= 3,	/* and passed it on */
	PROTO_ACK_SHOWN		= 4,	/* on a person's screen, not confirmed */
};
#define PROTO_ACK_MAX		PROTO_ACK_SHOWN	/* the largest value */
#define PROTO_ACK_RANK_MAX	4		/* the rank of relayed */

enum proto_rights {
	PROTO_R_RECEIVE		= 0x01,
	PROTO_R_ISSUE		= 0x02,
	PROTO_R_OBSERVE		= 0x04,
};

enum proto_tier {
	PROTO_TIER_POLICE	= 0,
	PROTO_TIER_SCHOOL	= 1,
	PROTO_TIER_DEPARTMENT	= 2,
	PROTO_TIER_CLASS	= 3,
};

/* Fixed-size id buffers are NUL-terminated; "" means absent. */
typedef char proto_id[PROTO_ID_MAX + 1];

struct proto_hello {			/* client -> server, first frame */
	uint16_t	version;	/* 1 */
	uint8_t		role;		/* 2 enum proto_role */
	uint32_t	heartbeat;	/* 3 seconds the client wants, 0 = server's */
	uint64_t	last_seq;	/* 4 optional: highest seq seen */
	struct proto_view agent;	/* 5 optional: software name, text */
};

struct proto_welcome {			/* server -> client */
	uint16_t	version;	/* 1 */
	proto_id	principal;	/* 2 */
	proto_id	node;		/* 3 */
	uint8_t		rights;		/* 4 enum proto_rights bits */
	uint32_t	heartbeat;	/* 5 seconds */
	uint64_t	server_time;	/* 6 ms since the epoch */
	uint32_t	max_frame;	/* 7 */
};

struct proto_publish {			/* client -> server */
	struct proto_view envelope;	/* 1 */
	uint32_t	remind_after;	/* 2 optional: ms; 0 = server default */
	uint32_t	escalate_after;	/* 3 optional: ms; 0 = server default */
	uint8_t		max_reminders;	/* 4 optional: 0 = server default */
};

/*
 * Server -> observer agent: principals below the observer's node, with
 * no nearer observer, that had not read an alert escalate_after after it
 * was accepted, each with its acknowledgement state then.
 */
struct proto_escalation {
	proto_id	id;		/* 1 the alert */
	uint64_t	seq;		/* 2 */
	proto_id	node;		/* 3 the observers' node */
	struct proto_view members;	/* 4 list of proto_status_member (not read) */
	uint32_t	omitted;	/* 5 optional: members left out to fit */
};

struct proto_published {		/* server -> client */
	proto_id	id;		/* 1 */
	uint64_t	seq;		/* 2 0 while the alert is held */
	uint32_t	targeted;	/* 3 agents targeted */
	uint64_t	publish_at;	/* 4 optional: held until then, ms */
};

enum proto_alert_flags {
	PROTO_AF_REMINDER	= 0x01,	/* pushed again: not read yet */
	PROTO_AF_RESENT		= 0x02,	/* pending since before connect */
};

struct proto_alert_msg {		/* server -> agent */
	uint64_t	seq;		/* 1 */
	uint8_t		flags;		/* 2 enum proto_alert_flags */
	struct proto_view envelope;	/* 3 */
};

struct proto_ack {			/* client -> server */
	proto_id	id;		/* 1 */
	uint8_t		state;		/* 2 DELIVERED..SHOWN */
	uint32_t	reach;		/* 3 optional, RELAYED only: head count */
	int		has_reach;
	uint8_t		flags;		/* 4 optional, enum proto_ack_flags */
	struct proto_view receipt;	/* 5 optional: receipt body (receipt.c) */
	struct proto_view sig;		/* 6 with 5: Ed25519 over it, 64 bytes */
};

enum proto_ack_flags {
	PROTO_ACKF_QUIET	= 0x01,	/* no ACK_OK once stored; errors only */
};

struct proto_ack_ok {			/* server -> client */
	proto_id	id;		/* 1 */
	uint8_t		state;		/* 2 state now stored */
};

enum proto_status_flags {
	PROTO_SF_MEMBERS	= 0x01,	/* include per-principal states */
	PROTO_SF_WATCH		= 0x02,	/* and again after every change */
};

/* How the rows below the node shown are ordered. */
enum proto_status_order {
	PROTO_SO_TREE		= 0,	/* pre-order, children by id */
	PROTO_SO_WORST		= 1,	/* pre-order, children by read share, lowest first */
};

#define PROTO_DEPTH_ALL		255	/* STATUS_REQ depth: the whole subtree */

struct proto_status_req {		/* client -> server */
	proto_id	id;		/* 1 */
	proto_id	node;		/* 2 optional: subtree root */
	uint8_t		flags;		/* 3 optional: enum proto_status_flags */
	uint8_t		depth;		/* 4 optional: levels below node, 0 = server's choice */
	uint32_t	offset;		/* 5 optional: rows below node to skip */
	uint32_t	limit;		/* 6 optional: at most this many rows, 0 = what fits */
	uint8_t		order;		/* 7 optional: enum proto_status_order */
	uint32_t	member_offset;	/* 8 optional: members to skip (MEMBERS) */
};

/* One node of a STATUS tree. */
struct proto_status_node {
	proto_id	node;		/* 1 */
	proto_id	parent;		/* 2 optional ("" for the root shown) */
	uint8_t		tier;		/* 3 */
	struct proto_view name;		/* 4 text */
	uint32_t	targeted;	/* 5 */
	uint32_t	delivered;	/* 6 */
	uint32_t	read;		/* 7 */
	uint32_t	relayed;	/* 8 */
	uint32_t	reach;		/* 9 sum of relayed head counts */
	uint8_t		depth;		/* 10 optional: levels below the first node */
	uint32_t	shown;		/* 11 optional: of which at least shown */
};

/* One principal of a STATUS member list. */
struct proto_status_member {
	proto_id	cn;		/* 1 */
	proto_id	node;		/* 2 */
	uint8_t		state;		/* 3 enum proto_ack_state */
	uint64_t	at;		/* 4 optional: ms of the last change */
	uint8_t		online;		/* 5 optional: 1 if connected as agent */
};

struct proto_status {			/* server -> client */
	proto_id	id;		/* 1 */
	uint64_t	seq;		/* 2 */
	proto_id	target;		/* 3 */
	uint64_t	issued_at;	/* 4 */
	uint64_t	expires_at;	/* 5 */
	struct proto_view nodes;	/* 6 list of proto_status_node, pre-order */
	struct proto_view members;	/* 7 optional list of proto_status_member */
	uint32_t	omitted;	/* 8 optional: members left out to fit */
	uint8_t		status;		/* 9 optional: enum proto_alert_status */
	uint64_t	server_time;	/* 10 optional: when this was read, ms */
	uint8_t		lifecycle;	/* 11 optional: enum proto_lifecycle */
	proto_id	cancelled_by;	/* 12 optional: the cancel's alert id */
	uint64_t	ended_at;	/* 13 optional: cancelled or expired, ms */
	uint32_t	rows_total;	/* 14 optional: rows below the node shown, within depth */
	uint32_t	rows_offset;	/* 15 optional: of them, skipped before this list */
	uint8_t		depth;		/* 16 optional: levels below the node shown */
	uint32_t	members_total;	/* 17 optional: receivers below the node shown */
	uint32_t	members_offset;	/* 18 optional: of them, skipped before the list */
};

struct proto_agents_req {		/* client -> server */
	proto_id	node;		/* 1 optional: subtree root */
	uint32_t	offset;		/* 2 optional: principals to skip */
};

/* One principal of an AGENTS list. */
struct proto_agent_item {
	proto_id	cn;		/* 1 */
	proto_id	node;		/* 2 */
	uint8_t		rights;		/* 3 enum proto_rights bits */
	uint32_t	online;		/* 4 optional: agent connections now */
	uint64_t	since;		/* 5 optional: connected since, ms */
	uint64_t	last_seen;	/* 6 optional: last connected, ms */
	proto_id	server;		/* 7 optional: the daemon its agents are on */
};

struct proto_agents {			/* server -> client */
	proto_id	node;		/* 1 the subtree root shown */
	uint64_t	server_time;	/* 2 ms */
	struct proto_view principals;	/* 3 list of proto_agent_item */
	uint32_t	omitted;	/* 4 optional: left out to fit */
	uint32_t	total;		/* 5 optional: principals below node */
	uint32_t	online;		/* 6 optional: of them, with an agent here now */
	uint32_t	offset;		/* 7 optional: skipped before this list */
};

struct proto_schedule_req {		/* client -> server */
	proto_id	node;		/* 1 optional: subtree root */
};

/* One held alert of a SCHEDULE list. */
struct proto_schedule_item {
	proto_id	id;		/* 1 */
	proto_id	issuer;		/* 2 */
	proto_id	target;		/* 3 */
	uint8_t		msg_type;	/* 4 */
	uint64_t	publish_at;	/* 5 ms */
	uint64_t	expires_at;	/* 6 ms */
	struct proto_view headline;	/* 7 text */
	uint8_t		status;		/* 8 optional: enum proto_alert_status */
};

struct proto_schedule {			/* server -> client */
	uint64_t	server_time;	/* 1 ms */
	struct proto_view alerts;	/* 2 list of proto_schedule_item */
	uint32_t	omitted;	/* 3 optional: left out to fit */
};

struct proto_report_req {		/* client -> server */
	proto_id	node;		/* 1 optional: subtree root */
	uint64_t	from;		/* 2 ms, alerts accepted at or after */
	uint64_t	to;		/* 3 ms, and before */
	uint8_t		depth;		/* 4 optional: levels of rows, 0 = server's choice */
};

/* One node of a REPORT: sums over the alerts that reached it. */
struct proto_report_row {
	proto_id	node;		/* 1 */
	proto_id	parent;		/* 2 optional */
	uint8_t		tier;		/* 3 */
	struct proto_view name;		/* 4 text */
	uint32_t	alerts;		/* 5 real alerts that reached the node */
	uint32_t	targeted;	/* 6 agents addressed, summed over them */
	uint32_t	delivered;	/* 7 */
	uint32_t	read;		/* 8 */
	uint32_t	relayed;	/* 9 */
	uint32_t	delivered_in_time; /* 10 before the alert's deadline */
	uint32_t	read_in_time;	/* 11 */
	uint32_t	relayed_in_time; /* 12 */
	uint64_t	median_read_ms;	/* 13 optional: acceptance to read */
	uint32_t	drill_alerts;	/* 14 optional: the same for drills */
	uint32_t	drill_targeted;	/* 15 optional */
	uint32_t	drill_delivered; /* 16 optional */
	uint32_t	drill_read;	/* 17 optional */
	uint32_t	drill_relayed;	/* 18 optional */
	uint32_t	shown;		/* 19 optional: at least shown */
	uint32_t	shown_in_time;	/* 20 optional */
	uint32_t	drill_shown;	/* 21 optional */
};

struct proto_report {			/* server -> client */
	proto_id	node;		/* 1 */
	uint64_t	from;		/* 2 */
	uint64_t	to;		/* 3 */
	uint32_t	alerts;		/* 4 real alerts in the range */
	uint32_t	drills;		/* 5 optional: drills in the range */
	struct proto_view rows;		/* 6 list of proto_report_row, pre-order */
	uint32_t	omitted;	/* 7 optional: rows left out to fit */
	uint8_t		depth;		/* 8 optional: levels below the first row */
};

struct proto_ping {			/* both ways; PONG echoes the nonce */
	uint64_t	nonce;		/* 1 */
};

struct proto_error {			/* server -> client */
	uint16_t	code;		/* 1 enum proto_err */
	struct proto_view text;		/* 2 text */
	proto_id	ref;		/* 3 optional: alert id concerned */
};

struct proto_bye {			/* both ways, before closing */
	uint16_t	code;		/* 1 optional: why, enum proto_err */
	struct proto_view text;		/* 2 optional: text */
};

/*
 * CAP export (cap): ENVELOPE_REQ asks for the signed envelope of one
 * alert as the daemon stores it; ENVELOPE carries it unchanged and, for
 * an update or cancel, the issuer and issued_at of the alert it refers to
 * as the daemon recorded them (CAP's references need them).
 */
struct proto_envelope_req {		/* client -> server */
	proto_id	id;		/* 1 */
};

struct proto_envelope_msg {		/* server -> client */
	proto_id	id;		/* 1 */
	struct proto_view envelope;	/* 2 as stored, unchanged */
	proto_id	ref_issuer;	/* 3 optional: the referenced alert's */
	uint64_t	ref_issued_at;	/* 4 optional: its issued_at, ms */
};

/*
 * Decoders: parse a payload (no frame header) into the struct.  Views
 * point into the payload.  Return 0, or -PROTO_E_* on any deviation from
 * the canonical encoding (unknown tag, tags not ascending, wrong width,
 * missing required field, bad UTF-8, over-long value, bad id syntax).
 */
int	proto_hello_decode(const uint8_t *, size_t, struct proto_hello *);
int	proto_welcome_decode(const uint8_t *, size_t, struct proto_welcome *);
int	proto_publish_decode(const uint8_t *, size_t, struct proto_publish *);
int	proto_published_decode(const uint8_t *, size_t, struct proto_published *);
int	proto_alert_msg_decode(const uint8_t *, size_t, struct proto_alert_msg *);
int	proto_ack_decode(const uint8_t *, size_t, struct proto_ack *);
int	proto_ack_ok_decode(const uint8_t *, size_t, struct proto_ack_ok *);
int	proto_status_req_decode(const uint8_t *, size_t, struct proto_status_req *);
int	proto_status_decode(const uint8_t *, size_t, struct proto_status *);
int	proto_ping_decode(const uint8_t *, size_t, struct proto_ping *);
int	proto_escalation_decode(const uint8_t *, size_t, struct proto_escalation *);
int	proto_agents_req_decode(const uint8_t *, size_t, struct proto_agents_req *);
int	proto_agents_decode(const uint8_t *, size_t, struct proto_agents *);
int	proto_schedule_req_decode(const uint8_t *, size_t,
	    struct proto_schedule_req *);
int	proto_schedule_decode(const uint8_t *, size_t, struct proto_schedule *);
int	proto_report_req_decode(const uint8_t *, size_t, struct proto_report_req *);
int	proto_report_decode(const uint8_t *, size_t, struct proto_report *);
int	proto_error_decode(const uint8_t *, size_t, struct proto_error *);
int	proto_bye_decode(const uint8_t *, size_t, struct proto_bye *);
int	proto_envelope_req_decode(const uint8_t *, size_t,
	    struct proto_envelope_req *);
int	proto_envelope_msg_decode(const uint8_t *, size_t,
	    struct proto_envelope_msg *);

/*
 * Iterate a STATUS list.  *cursor starts at 0; each call decodes the next
 * item and returns 1, returns 0 at the end, or -PROTO_E_* if malformed.
 */
int	proto_status_node_next(const struct proto_view *, size_t *cursor,
	    struct proto_status_node *);
int	proto_status_member_next(const struct proto_view *, size_t *cursor,
	    struct proto_status_member *);
int	proto_agent_item_next(const struct proto_view *, size_t *cursor,
	    struct proto_agent_item *);
int	proto_schedule_item_next(const struct proto_view *, size_t *cursor,
	    struct proto_schedule_item *);
int	proto_report_row_next(const struct proto_view *, size_t *cursor,
	    struct proto_report_row *);

/*
 * Encoders: append one whole frame (header included) to the buffer.
 * Optional fields are left out when zero / empty / has_* false.
 */
void	proto_hello_encode(struct proto_buf *, const struct proto_hello *);
void	proto_welcome_encode(struct proto_buf *, const struct proto_welcome *);
void	proto_publish_encode(struct proto_buf *, const struct proto_publish *);
void	proto_published_encode(struct proto_buf *, const struct proto_published *);
void	proto_alert_msg_encode(struct proto_buf *, const struct proto_alert_msg *);
void	proto_ack_encode(struct proto_buf *, const struct proto_ack *);
void	proto_ack_ok_encode(struct proto_buf *, const struct proto_ack_ok *);
void	proto_status_req_encode(struct proto_buf *, const struct proto_status_req *);
/* STATUS: lists are built with pbuf_list_* and proto_status_*_put. */
void	proto_status_encode(struct proto_buf *, const struct proto_status *);
void	proto_status_node_put(struct proto_buf *, const struct proto_status_node *);
void	proto_status_member_put(struct proto_buf *, const struct proto_status_member *);
void	proto_ping_encode(struct proto_buf *, uint8_t type, const struct proto_ping *);
/* ESCALATION: members is built with pbuf_list_* and proto_status_member_put. */
void	proto_escalation_encode(struct proto_buf *, const struct proto_escalation *);
/* AGENTS, SCHEDULE, REPORT: lists built with pbuf_list_* and the _put. */
void	proto_agents_req_encode(struct proto_buf *, const struct proto_agents_req *);
void	proto_agents_encode(struct proto_buf *, const struct proto_agents *);
void	proto_agent_item_put(struct proto_buf *, const struct proto_agent_item *);
void	proto_schedule_req_encode(struct proto_buf *,
	    const struct proto_schedule_req *);
void	proto_schedule_encode(struct proto_buf *, const struct proto_schedule *);
void	proto_schedule_item_put(struct proto_buf *,
	    const struct proto_schedule_item *);
void	proto_report_req_encode(struct proto_buf *, const struct proto_report_req *);
void	proto_report_encode(struct proto_buf *, const struct proto_report *);
void	proto_report_row_put(struct proto_buf *, const struct proto_report_row *);
void	proto_error_encode(struct proto_buf *, uint16_t code, const char *text,
	    const char *ref);
void	proto_bye_encode(struct proto_buf *, uint16_t code, const char *text);
void	proto_envelope_req_encode(struct proto_buf *,
	    const struct proto_envelope_req *);
void	proto_envelope_msg_encode(struct proto_buf *,
	    const struct proto_envelope_msg *);

/* --- the alert --------------------------------------------------------- */

enum proto_msg_type {
	PROTO_MSG_ALERT		= 1,
	PROTO_MSG_UPDATE	= 2,	/* references required */
	PROTO_MSG_CANCEL	= 3,	/* references required */
};

enum proto_category {
	PROTO_CAT_WARNING	= 1,	/* 预警提醒 */
	PROTO_CAT_KNOWLEDGE	= 2,	/* 防范知识 */
	PROTO_CAT_CASE_FOLLOWUP	= 3,	/* 发案即补课 */
};

/* What the alert is, after CAP 1.2's status: absent = a real alert. */
enum proto_alert_status {
	PROTO_STATUS_ACTUAL	= 0,	/* a real warning */
	PROTO_STATUS_EXERCISE	= 1,	/* a drill: 演练 */
	PROTO_STATUS_TEST	= 2,	/* a technical test */
};

/* Where an alert is in its life, as STATUS tells it: absent = live. */
enum proto_lifecycle {
	PROTO_LIFE_LIVE		= 0,	/* still delivered and acked */
	PROTO_LIFE_CANCELLED	= 1,	/* a CANCEL retired it */
	PROTO_LIFE_EXPIRED	= 2,	/* past its expires_at */
};

enum proto_severity {			/* as in CAP 1.2 */
	PROTO_SEV_EXTREME	= 1,
	PROTO_SEV_SEVERE	= 2,
	PROTO_SEV_MODERATE	= 3,
	PROTO_SEV_MINOR		= 4,
	PROTO_SEV_UNKNOWN	= 5,
};

/* The signed alert body.  Tags in comments. */
struct proto_alert {
	proto_id	id;		/* 1 */
	proto_id	issuer;		/* 2 principal CN */
	proto_id	target;		/* 3 node id */
	uint8_t		msg_type;	/* 4 enum proto_msg_type */
	proto_id	references;	/* 5 optional; required for update/cancel */
	uint8_t		category;	/* 6 enum proto_category */
	uint8_t		severity;	/* 7 enum proto_severity */
	struct proto_view headline;	/* 8 text, 1..PROTO_HEADLINE_MAX */
	struct proto_view text;		/* 9 text, 0..PROTO_TEXT_MAX */
	struct proto_view instruction;	/* 10 optional text */
	uint64_t	issued_at;	/* 11 ms since the epoch */
	uint64_t	expires_at;	/* 12 ms since the epoch */
	uint8_t		relay_required;	/* 13 0 or 1 */
	uint64_t	publish_at;	/* 14 optional: hold until then, ms */
	uint8_t		status;		/* 15 optional: enum proto_alert_status */
};

/* The envelope: what PUBLISH and ALERT carry, stored unchanged. */
struct proto_envelope {
	struct proto_view body;		/* 1 canonical proto_alert encoding */
	struct proto_view cert;		/* 2 issuer certificate, DER */
	struct proto_view sig;		/* 3 Ed25519 over context || body */
};

const char	*proto_category_name(int);	/* "warning", ... or NULL */
int		 proto_category_parse(const char *);	/* -1 if unknown */
const char	*proto_severity_name(int);
int		 proto_severity_parse(const char *);
const char	*proto_msg_type_name(int);
int		 proto_msg_type_parse(const char *);
const char	*proto_alert_status_name(int);	/* "actual", "exercise", "test" */
int		 proto_alert_status_parse(const char *);
const char	*proto_lifecycle_name(int);	/* "live", "cancelled", ... */
const char	*proto_ack_state_name(int);	/* "delivered", ... */
int		 proto_ack_state_parse(const char *);
/*
 * Where a state stands in the order none < delivered < shown < read <
 * relayed: 0..PROTO_ACK_RANK_MAX, or -1 for a value that is no state.
 * Compare states by rank, never by value.
 */
int		 proto_ack_rank(int state);
/* The state of a rank, the inverse of proto_ack_rank; -1 if none. */
int		 proto_ack_at_rank(int rank);

/* Body: field list only (no frame header). */
void	proto_alert_encode(struct proto_buf *, const struct proto_alert *);
int	proto_alert_decode(const uint8_t *, size_t, struct proto_alert *);

void	proto_envelope_encode(struct proto_buf *, const struct proto_envelope *);
int	proto_envelope_decode(const uint8_t *, size_t, struct proto_envelope *);

/*
 * Sign: encode the body, sign context || body with key (Ed25519), and
 * append the envelope (field list, no frame header) with cert's DER.
 * Returns 0 or -1 (key not Ed25519, OpenSSL failure, encoding error).
 */
/*
 * Ed25519 over ctx (a NUL-terminated context string, not signed with its
 * NUL) followed by len bytes of body.  sign: 0, or -1 if key is not
 * Ed25519 or OpenSSL fails.  verify: 0 if sig is pub's, -PROTO_E_SIGNATURE
 * if not (or pub is no Ed25519 key, or sig not PROTO_SIG_LEN bytes),
 * -PROTO_E_INTERNAL if it could not be checked.
 */
int	proto_ctx_sign(const char *ctx, const uint8_t *body, size_t len,
	    EVP_PKEY *key, uint8_t sig[PROTO_SIG_LEN]);
int	proto_ctx_verify(const char *ctx, const uint8_t *body, size_t len,
	    const uint8_t *sig, size_t siglen, EVP_PKEY *pub);
int	proto_envelope_sign(struct proto_buf *, const struct proto_alert *,
	    EVP_PKEY *key, X509 *cert);

/*
 * Verify an envelope: decode it and its body, check that the certificate
 * chains to a CA in store (with its CRLs, if the store has them) at time
 * now (seconds; 0 = current time), that its CN equals the body's issuer,
 * that its key is Ed25519, and that the signature holds.  On success fills
 * *alert (views into buf) and returns 0; else -PROTO_E_* (FIELD, MISSING,
 * ..., CERT, ISSUER, SIGNATURE).  why, if not NULL, gets a short reason.
 */
int	proto_envelope_verify(const uint8_t *buf, size_t len, X509_STORE *store,
	    int64_t now, struct proto_alert *alert, char *why, size_t whylen);

/* The alert id of an envelope that may not verify, or "?" (for logs). */
const char *proto_envelope_peek_id(const uint8_t *, size_t, char *buf,
	    size_t buflen);

/* --- scope: what the CA attests in a principal certificate (scope.c) ---- */

#define PROTO_POLICE_LEVELS	3	/* police units over police units: province, city, district */
#define PROTO_PATH_MAX		(PROTO_POLICE_LEVELS + 3)	/* then school, department, class */

enum proto_usage {
	PROTO_USAGE_CLIENT	= 0x01,	/* extendedKeyUsage clientAuth */
	PROTO_USAGE_SERVER	= 0x02,	/* extendedKeyUsage serverAuth */
};

struct proto_scope {
	proto_id	path[PROTO_PATH_MAX];	/* wuzha:path: root first */
	int		depth;			/* 0: the certificate has none */
	proto_id	issue;			/* wuzha:issue: node, "" if none */
	unsigned	usage;			/* PROTO_USAGE_* */
};

/*
 * Read cert's subjectAltName URIs wuzha:path:A/B/C and wuzha:issue:NODE and
 * its key usages into *sc.  A certificate without them gives an empty
 * scope (0); one with a malformed or repeated URI -PROTO_E_CERT.
 */
int	proto_cert_scope(X509 *cert, struct proto_scope *sc, char *why,
	    size_t whylen);
int	proto_cert_scope_der(const uint8_t *der, size_t len,
	    struct proto_scope *sc, char *why, size_t whylen);
/* The scope of the certificate in an envelope (verify it first). */
int	proto_envelope_scope(const uint8_t *buf, size_t len,
	    struct proto_scope *sc, char *why, size_t whylen);
/* Parse "A/B/C" (node ids) into sc->path; -1 if it is not one. */
int	proto_scope_parse_path(struct proto_scope *sc, const char *s,
	    size_t len);
const char *proto_scope_path_str(const struct proto_scope *, char *buf,
	    size_t len);
/*
 * 0 if sc may sign alerts: clientAuth, not serverAuth, and an issue node;
 * else -PROTO_E_NOT_ISSUER and why.
 */
int	proto_scope_issuer(const struct proto_scope *sc, char *why,
	    size_t whylen);
/*
 * 0 if an alert for target signed by signer may reach the agent whose
 * certificate attests agent->path: signer is an issuer, target is on the
 * path and signer->issue at or above it.  Else -PROTO_E_NOT_ISSUER or
 * -PROTO_E_TARGET, and why.
 */
int	proto_scope_allows(const struct proto_scope *agent,
	    const struct proto_scope *signer, const char *target, char *why,
	    size_t whylen);

/* --- the audit log (audit.c) ------------------------------------------- */

/*
 * A Merkle log of everything accepted, hashed as RFC 6962 says: a leaf is
 * SHA-256(0x00 || entry), an inner node SHA-256(0x01 || left || right),
 * the empty tree SHA-256 of nothing.  Entries are canonical field lists
 * (see PROTOCOL.md, "Audit log"); checkpoints are signed by a daemon.
 */
#define AUDIT_HASH_LEN		32
#define AUDIT_RANGE_MAX		64	/* perfect subtrees of a 2^64 log */
#define AUDIT_CP_CONTEXT	"wuzha-checkpoint-v1"	/* 19 bytes, no NUL */
#define AUDIT_ENTRY_VERSION	1
#define AUDIT_CP_VERSION	1

enum audit_kind {
	AUDIT_K_ALERT		= 1,	/* data: signed envelope (alert, update, cancel) */
	AUDIT_K_RECEIPT		= 2,	/* data: stored receipt */
	AUDIT_K_CERT		= 3,	/* data: certificate DER, first seen */
	AUDIT_K_CLUE		= 4,	/* data: stored signed clue */
	AUDIT_K_CLUE_MARK	= 5,	/* data: stored signed clue mark */
	AUDIT_K_TREE		= 6,	/* data: tree change record */
	AUDIT_K_SCHEDULE_CANCEL	= 7,	/* data: the cancel that withdrew a held alert */
};
#define AUDIT_K_MAX		AUDIT_K_SCHEDULE_CANCEL

/* One leaf: fields 1 kind, 2 at (ms), 3 daemon (name), 4 data. */
struct audit_entry {
	uint8_t		kind;		/* 1 enum audit_kind */
	uint64_t	at;		/* 2 ms, the writer's clock */
	proto_id	daemon;		/* 3 the writer's name */
	struct proto_view data;		/* 4 bytes */
};

/* "alert", "receipt", ... or "?" */
const char	*audit_kind_name(int kind);
/*
 * The entry's bytes (field list, no frame header) appended to b: what a
 * change's Lua script pushes onto audit:log with audit_push.  Returns 0,
 * or -1 (b->err) if a value is out of range.
 */
int	audit_entry_encode(struct proto_buf *b, uint8_t kind, uint64_t at,
	    const char *daemon, const void *data, size_t len);
int	audit_entry_decode(const uint8_t *, size_t, struct audit_entry *);
/* Fields 1-3 only, for a script that appends field 4 to each entry. */
int	audit_entry_head(struct proto_buf *b, uint8_t kind, uint64_t at,
	    const char *daemon);

void	audit_leaf_hash(const void *entry, size_t len,
	    uint8_t out[AUDIT_HASH_LEN]);
void	audit_node_hash(const uint8_t l[AUDIT_HASH_LEN],
	    const uint8_t r[AUDIT_HASH_LEN], uint8_t out[AUDIT_HASH_LEN]);

/*
 * The compact range of a log prefix (its frontier): the roots of the
 * perfect subtrees that make up its first size leaves, largest first.
 * Enough to append more leaves and to compute the root at any size.
 */
struct audit_range {
	uint64_t	size;
	int		n;
	uint8_t		h[AUDIT_RANGE_MAX][AUDIT_HASH_LEN];
};

void	audit_range_init(struct audit_range *);
/* Append one leaf hash. */
void	audit_range_push(struct audit_range *, const uint8_t leaf[AUDIT_HASH_LEN]);
/* The RFC 6962 tree head of the size leaves so far. */
void	audit_range_root(const struct audit_range *, uint8_t out[AUDIT_HASH_LEN]);
/*
 * As text, for Redis's audit:frontier: "SIZE HEX HEX ..." (decimal size,
 * then the n hashes in lower-case hex).  parse: 0, or -1 if malformed
 * (wrong number of hashes for the size, bad hex).
 */
char	*audit_range_format(const struct audit_range *);	/* caller frees */
int	audit_range_parse(struct audit_range *, const char *, size_t);

/* Checkpoint body: 1 version, 2 size, 3 root, 4 at (ms), 5 daemon. */
struct audit_cp {
	uint8_t		version;	/* 1 AUDIT_CP_VERSION */
	uint64_t	size;		/* 2 entries covered */
	struct proto_view root;		/* 3 32 bytes */
	uint64_t	at;		/* 4 ms */
	proto_id	daemon;		/* 5 the signer's name: */
	struct proto_view cert;		/* signed form: 2 the signer's DER */
	struct proto_view sig;		/* signed form: 3 Ed25519 */
};

/*
 * A signed checkpoint (fields 1 body, 2 cert DER, 3 sig over
 * AUDIT_CP_CONTEXT || body) appended to b.  0 or -1.
 */
int	audit_cp_sign(struct proto_buf *b, uint64_t size,
	    const uint8_t root[AUDIT_HASH_LEN], uint64_t at, const char *daemon,
	    EVP_PKEY *key, X509 *cert);
/* Decode a signed checkpoint without checking it (views into buf). */
int	audit_cp_decode(const uint8_t *, size_t, struct audit_cp *);
/*
 * Decode and check a signed checkpoint: its certificate chains to store
 * (at the checkpoint's own time), is Ed25519 and signs the body.  0, or
 * -PROTO_E_* and why.
 */
int	audit_cp_verify(const uint8_t *, size_t, X509_STORE *store,
	    struct audit_cp *, char *why, size_t whylen);

/*
 * Tree change record (kind 6): 1 version u8, 2 gen u64 (the tree-gen it
 * made), 3 changes u32 (nodes and principals changed), 4 digest (32:
 * SHA-256 of the change list), 5 by (name: who wrote it), 6 changes
 * (bytes, optional: the list itself when it fits, see PROTOCOL.md).
 */
struct audit_tree {
	uint8_t		version;
	uint64_t	gen;
	uint32_t	changes;
	struct proto_view digest;
	proto_id	by;
	struct proto_view list;
};
#define AUDIT_TREE_LIST_MAX	16384	/* change list kept inline up to this */
void	audit_tree_encode(struct proto_buf *, const struct audit_tree *);
int	audit_tree_decode(const uint8_t *, size_t, struct audit_tree *);

/* AUDIT_REQ: entries (or checkpoints) from index from, at most count. */
enum audit_what {
	AUDIT_W_ENTRIES		= 1,
	AUDIT_W_CHECKPOINTS	= 2,
};

struct proto_audit_req {		/* client -> server */
	uint8_t		what;		/* 1 enum audit_what */
	uint64_t	from;		/* 2 optional: first index */
	uint32_t	count;		/* 3 optional: at most, 0 = what fits */
};

struct proto_audit {			/* server -> client */
	uint8_t		what;		/* 1 */
	uint64_t	from;		/* 2 index of the first item */
	uint64_t	total;		/* 3 entries (checkpoints) in the log now */
	struct proto_view items;	/* 4 list of proto_audit_item */
};

struct proto_audit_item {
	struct proto_view data;		/* 1 an entry, or a signed checkpoint */
};

int	proto_audit_req_decode(const uint8_t *, size_t, struct proto_audit_req *);
int	proto_audit_decode(const uint8_t *, size_t, struct proto_audit *);
int	proto_audit_item_next(const struct proto_view *, size_t *cursor,
	    struct proto_audit_item *);
void	proto_audit_req_encode(struct proto_buf *, const struct proto_audit_req *);
/* AUDIT: items built with pbuf_list_* and proto_audit_item_put. */
void	proto_audit_encode(struct proto_buf *, const struct proto_audit *);
void	proto_audit_item_put(struct proto_buf *, const struct proto_audit_item *);
/* --- clues: reported upward to the school and the police (clue.c) ------ */

#define PROTO_CLUE_CONTEXT	"wuzha-clue-v1"		/* 13 bytes, no NUL */
#define PROTO_CLUE_MARK_CONTEXT	"wuzha-clue-mark-v1"	/* 18 bytes */
#define PROTO_CLUE_TEXT_MAX	4096	/* clue text, bytes */
#define PROTO_CLUE_CONTACT_MAX	256	/* optional contact, bytes */
#define PROTO_CLUE_NOTE_MAX	1024	/* optional note of a mark, bytes */
#define PROTO_CLUE_FP_LEN	32	/* SHA-256 of the signer's cert DER */

/* Where a clue stands; it only moves forward: none < received < handled. */
enum proto_clue_state {
	PROTO_CLUE_NONE		= 0,	/* nobody has confirmed it yet */
	PROTO_CLUE_RECEIVED	= 1,	/* an observer confirmed receipt */
	PROTO_CLUE_HANDLED	= 2,	/* an observer dealt with it */
};

/* CLUES_REQ: which clues. */
enum proto_clue_which {
	PROTO_CLUES_PENDING	= 1,	/* at my node, not received by me */
	PROTO_CLUES_ALL		= 2,	/* every clue at my node */
	PROTO_CLUES_MINE	= 3,	/* the clues I reported */
};

#define PROTO_CF_RESENT		0x02	/* CLUE_PUSH: pending since before */

/* The signed clue body (after PROTO_CLUE_CONTEXT).  Tags in comments. */
struct proto_clue {
	proto_id	id;		/* 1 chosen by the reporter */
	proto_id	reporter;	/* 2 the reporter's CN */
	proto_id	node;		/* 3 the reporter's node */
	struct proto_view text;		/* 4 text, 1..PROTO_CLUE_TEXT_MAX */
	struct proto_view contact;	/* 5 optional text, ..CONTACT_MAX */
	uint64_t	at;		/* 6 ms, the reporter's clock */
};

/* The signed mark body (after PROTO_CLUE_MARK_CONTEXT). */
struct proto_clue_mark {
	proto_id	clue;		/* 1 the clue's id */
	proto_id	by;		/* 2 the marker's CN */
	uint8_t		state;		/* 3 RECEIVED or HANDLED */
	struct proto_view note;		/* 4 optional text, ..NOTE_MAX */
	uint64_t	at;		/* 5 ms, the marker's clock */
};

/* A clue or a mark as kept: body, signer's certificate hash, signature. */
struct proto_clue_stored {
	struct proto_view body;		/* 1 */
	struct proto_view cert_fp;	/* 2 exactly PROTO_CLUE_FP_LEN */
	struct proto_view sig;		/* 3 exactly PROTO_SIG_LEN */
};

/* CLUE and CLUE_MARK (client -> server): the signer is the TLS peer. */
struct proto_clue_msg {
	struct proto_view body;		/* 1 clue or mark body */
	struct proto_view sig;		/* 2 PROTO_SIG_LEN bytes */
};

struct proto_clue_ok {			/* server -> client */
	proto_id	id;		/* 1 the clue */
	uint64_t	seq;		/* 2 its sequence number */
	uint8_t		state;		/* 3 optional: its state now */
};

struct proto_clue_push {		/* server -> observer agent */
	uint64_t	seq;		/* 1 */
	struct proto_view clue;		/* 2 stored clue */
	struct proto_view cert;		/* 3 the reporter's certificate, DER */
	uint8_t		state;		/* 4 optional: enum proto_clue_state */
	proto_id	school;		/* 5 optional: school it went to */
	proto_id	police;		/* 6 optional: police unit it went to */
	uint8_t		flags;		/* 7 optional: PROTO_CF_* */
};

struct proto_clues_req {		/* client -> server */
	uint8_t		which;		/* 1 enum proto_clue_which */
	uint64_t	after;		/* 2 optional: seqs above this only */
	uint32_t	limit;		/* 3 optional: at most, 0 = server's */
	proto_id	id;		/* 4 optional: this clue only */
};

/* One clue of a CLUES list. */
struct proto_clue_item {
	uint64_t	seq;		/* 1 */
	struct proto_view clue;		/* 2 stored clue */
	uint8_t		state;		/* 3 optional: enum proto_clue_state */
	proto_id	school;		/* 4 optional */
	proto_id	police;		/* 5 optional */
	uint8_t		received;	/* 6 optional: 1 if the asker marked it */
	proto_id	by;		/* 7 optional: who marked it last */
	struct proto_view note;		/* 8 optional: the handled note */
	uint64_t	changed;	/* 9 optional: last mark, ms */
};

struct proto_clues {			/* server -> client */
	uint64_t	server_time;	/* 1 ms */
	uint8_t		which;		/* 2 as asked */
	struct proto_view clues;	/* 3 list of proto_clue_item */
	uint64_t	next;		/* 4 optional: after= for the next page */
};

const char	*proto_clue_state_name(int);	/* "none", "received", ... */
int		 proto_clue_state_parse(const char *);	/* -1 if none */

/* Bodies: field lists only (no frame header). */
void	proto_clue_encode(struct proto_buf *, const struct proto_clue *);
int	proto_clue_decode(const uint8_t *, size_t, struct proto_clue *);
void	proto_clue_mark_encode(struct proto_buf *,
	    const struct proto_clue_mark *);
int	proto_clue_mark_decode(const uint8_t *, size_t,
	    struct proto_clue_mark *);
void	proto_clue_stored_encode(struct proto_buf *,
	    const struct proto_clue_stored *);
int	proto_clue_stored_decode(const uint8_t *, size_t,
	    struct proto_clue_stored *);

/*
 * Sign a clue (mark 0) or mark (mark 1) body with key (Ed25519): sig gets
 * PROTO_SIG_LEN bytes.  0 or -1.
 */
int	proto_clue_sign(const uint8_t *body, size_t len, int mark,
	    EVP_PKEY *key, uint8_t sig[PROTO_SIG_LEN]);
/*
 * Check sig over the context and body with cert's key (Ed25519 only);
 * 0 or -PROTO_E_CLUE_BAD with why.
 */
int	proto_clue_verify_sig(const uint8_t *body, size_t len, int mark,
	    const uint8_t *sig, size_t siglen, X509 *cert, char *why,
	    size_t whylen);
/* SHA-256 of cert's DER into fp; 0 or -1. */
int	proto_clue_cert_fp(X509 *cert, uint8_t fp[PROTO_CLUE_FP_LEN]);

/* Messages: decoders as for the others, encoders append a whole frame. */
int	proto_clue_msg_decode(const uint8_t *, size_t, struct proto_clue_msg *);
void	proto_clue_msg_encode(struct proto_buf *, uint8_t type,
	    const struct proto_clue_msg *);	/* CLUE or CLUE_MARK */
int	proto_clue_ok_decode(const uint8_t *, size_t, struct proto_clue_ok *);
void	proto_clue_ok_encode(struct proto_buf *, const struct proto_clue_ok *);
int	proto_clue_push_decode(const uint8_t *, size_t,
	    struct proto_clue_push *);
void	proto_clue_push_encode(struct proto_buf *,
	    const struct proto_clue_push *);
int	proto_clues_req_decode(const uint8_t *, size_t,
	    struct proto_clues_req *);
void	proto_clues_req_encode(struct proto_buf *,
	    const struct proto_clues_req *);
int	proto_clues_decode(const uint8_t *, size_t, struct proto_clues *);
void	proto_clues_encode(struct proto_buf *, const struct proto_clues *);
void	proto_clue_item_put(struct proto_buf *, const struct proto_clue_item *);
int	proto_clue_item_next(const struct proto_view *, size_t *cursor,
	    struct proto_clue_item *);
/* --- receipts: signed acks (receipt.c) ---------------------------------- */

/* Signed bytes of a receipt: this prefix followed by the body. */
#define PROTO_RECEIPT_CONTEXT	"wuzha-receipt-v1"	/* 16 bytes, no NUL */
#define PROTO_RECEIPT_VERSION	1
#define PROTO_HASH_LEN		32	/* SHA-256: env_hash, cert fingerprints */
#define PROTO_RECEIPT_MAX	512	/* body bytes (a real one is < 200) */
#define PROTO_STORED_RECEIPT_MAX (PROTO_RECEIPT_MAX + 3 * PROTO_FIELD_HDR + \
				 PROTO_HASH_LEN + PROTO_SIG_LEN)

/* The receipt body: canonical like the alert body.  Tags in comments. */
struct proto_receipt {
	uint8_t		version;	/* 1 PROTO_RECEIPT_VERSION */
	proto_id	id;		/* 2 the alert */
	struct proto_view env_hash;	/* 3 SHA-256 of its envelope, 32 bytes */
	uint8_t		state;		/* 4 enum proto_ack_state, not NONE */
	uint32_t	reach;		/* 5 optional, relayed only */
	int		has_reach;
	uint64_t	at;		/* 6 ms, the agent's clock */
	proto_id	principal;	/* 7 the signer's certificate CN */
};

/* A receipt as stored (Redis rcpt:{id}, the audit log). */
struct proto_stored_receipt {
	struct proto_view body;		/* 1 canonical proto_receipt */
	struct proto_view cert_fp;	/* 2 SHA-256 of the signer's cert DER */
	struct proto_view sig;		/* 3 Ed25519 over context || body */
};

struct proto_receipts_req {		/* console -> server */
	proto_id	id;		/* 1 the alert */
	proto_id	node;		/* 2 optional: principals at or below */
	uint64_t	cursor;		/* 3 optional: where the last page ended */
	uint32_t	limit;		/* 4 optional: at most so many, 0 = what fits */
};

/* One receipt of a RECEIPTS list. */
struct proto_receipt_item {
	proto_id	cn;		/* 1 */
	uint8_t		state;		/* 2 */
	struct proto_view receipt;	/* 3 proto_stored_receipt */
	struct proto_view cert;		/* 4 optional: the signer's DER, given
					 * once per page per fingerprint */
};

struct proto_receipts {			/* server -> console */
	proto_id	id;		/* 1 */
	struct proto_view envelope;	/* 2 the alert's envelope, as stored */
	struct proto_view items;	/* 3 list of proto_receipt_item */
	uint64_t	cursor;		/* 4 optional: more from here; absent: done */
};

/* Body: field list only.  Decode refuses a version other than 1 and a
 * reach on any state but relayed (PROTO_E_VALUE). */
void	proto_receipt_encode(struct proto_buf *, const struct proto_receipt *);
int	proto_receipt_decode(const uint8_t *, size_t, struct proto_receipt *);
void	proto_stored_receipt_encode(struct proto_buf *,
	    const struct proto_stored_receipt *);
int	proto_stored_receipt_decode(const uint8_t *, size_t,
	    struct proto_stored_receipt *);
int	proto_receipts_req_decode(const uint8_t *, size_t,
	    struct proto_receipts_req *);
void	proto_receipts_req_encode(struct proto_buf *,
	    const struct proto_receipts_req *);
int	proto_receipts_decode(const uint8_t *, size_t, struct proto_receipts *);
void	proto_receipts_encode(struct proto_buf *, const struct proto_receipts *);
void	proto_receipt_item_put(struct proto_buf *,
	    const struct proto_receipt_item *);
int	proto_receipt_item_next(const struct proto_view *, size_t *cursor,
	    struct proto_receipt_item *);

/* SHA-256 of len bytes into out (PROTO_HASH_LEN); 0 or -1. */
int	proto_sha256(const uint8_t *, size_t, uint8_t *out);
/*
 * Sign context || body with key (Ed25519) into sig (PROTO_SIG_LEN bytes).
 * 0, or -1 if the key is not Ed25519 or OpenSSL fails.
 */
int	proto_receipt_sign(const uint8_t *body, size_t len, EVP_PKEY *key,
	    uint8_t *sig);
/* Encode r and sign it: b gets the body, sig its signature; 0 or -1. */
int	proto_receipt_make(struct proto_buf *b, const struct proto_receipt *r,
	    EVP_PKEY *key, uint8_t *sig);
/* 0 if sig (siglen bytes) is pub's over context || body; else -PROTO_E_RECEIPT. */
int	proto_receipt_check_sig(const uint8_t *body, size_t len,
	    const uint8_t *sig, size_t siglen, EVP_PKEY *pub);
/*
 * Full check of a stored receipt, as a console or an auditor makes it:
 * decode it and its body, check that cert (DER) has the stored
 * fingerprint, chains to store at time now (seconds, 0: current), that
 * its CN is the body's principal and its key Ed25519, the signature, and
 * (env_hash not NULL) that the body's env_hash equals it.  0 with *r
 * filled (views into stored), or -PROTO_E_* (RECEIPT, CERT, ...) and why.
 */
int	proto_receipt_verify(const uint8_t *stored, size_t len,
	    const uint8_t *cert, size_t certlen, X509_STORE *store, int64_t now,
	    const uint8_t *env_hash, struct proto_receipt *r, char *why,
	    size_t whylen);
/* The CN of cert into cn (PROTO_ID_MAX + 1), checked as a name; 0 or -1. */
int	proto_cert_cn(X509 *cert, char *cn, size_t cnlen);

#endif
