/* SPDX-License-Identifier: ISC */
/*
 * alert: the signed alert body and the envelope that carries it, the
 * rules a body must follow beyond its field table (references, expiry,
 * publication time),
 * and the stable names of the enums and error codes, as used in logs,
 * on the console command line and in PROTOCOL.md.
 */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto.h"
#include "field.h"

static const struct field_spec alert_spec[] = {
	F_NAME(1, FIELD_REQ, struct proto_alert, id),
	F_NAME(2, FIELD_REQ, struct proto_alert, issuer),
	F_NODE(3, FIELD_REQ, struct proto_alert, target),
	F_U8(4, FIELD_REQ, PROTO_MSG_ALERT, PROTO_MSG_CANCEL,
	    struct proto_alert, msg_type),
	F_NAME(5, 0, struct proto_alert, references),
	F_U8(6, FIELD_REQ, PROTO_CAT_WARNING, PROTO_CAT_CASE_FOLLOWUP,
	    struct proto_alert, category),
	F_U8(7, FIELD_REQ, PROTO_SEV_EXTREME, PROTO_SEV_UNKNOWN,
	    struct proto_alert, severity),
	F_TEXT(8, FIELD_REQ, 1, PROTO_HEADLINE_MAX, struct proto_alert,
	    headline),
	F_TEXT(9, FIELD_REQ, 0, PROTO_TEXT_MAX, struct proto_alert, text),
	F_TEXT(10, 0, 0, PROTO_INSTRUCTION_MAX, struct proto_alert,
	    instruction),
	F_U64(11, FIELD_REQ, struct proto_alert, issued_at),
	F_U64(12, FIELD_REQ, struct proto_alert, expires_at),
	F_U8(13, FIELD_REQ, 0, 1, struct proto_alert, relay_required),
	F_U64(14, 0, struct proto_alert, publish_at),
	F_U8(15, 0, PROTO_STATUS_ACTUAL, PROTO_STATUS_TEST, struct proto_alert,
	    status),
};

static const struct field_schema alert_schema = {
	"alert body", alert_spec, FIELD_NSPEC(alert_spec),
	sizeof(struct proto_alert)
};

/* The signature's length is checked by proto_envelope_decode. */
static const struct field_spec envelope_spec[] = {
	F_BYTES(1, FIELD_REQ, UINT16_MAX, struct proto_envelope, body),
	F_BYTES(2, FIELD_REQ, PROTO_CERT_MAX, struct proto_envelope, cert),
	F_BYTES(3, FIELD_REQ, UINT16_MAX, struct proto_envelope, sig),
};

static const struct field_schema envelope_schema = {
	"envelope", envelope_spec, FIELD_NSPEC(envelope_spec),
	sizeof(struct proto_envelope)
};

/*
 * Rules across fields: an alert has no references, an update or cancel
 * must have one (and not its own id); it must expire after it is issued.
 */
static int
alert_check(const struct proto_alert *a)
{
	if (a->msg_type == PROTO_MSG_ALERT) {
		if (a->references[0] != '\0')
			return PROTO_E_REFERENCE;
	} else if (a->references[0] == '\0' ||
	    strcmp(a->references, a->id) == 0)
		return PROTO_E_REFERENCE;
	if (a->expires_at <= a->issued_at)
		return PROTO_E_EXPIRY;
	if (a->publish_at != 0 && a->expires_at <= a->publish_at)
		return PROTO_E_EXPIRY;
	return 0;
}

/* Encode the body as a field list of its own (no frame header). */
void
proto_alert_encode(struct proto_buf *b, const struct proto_alert *a)
{
	int		 rc;

	if (b->err != 0)
		return;
	b->last_tag = -1;
	field_encode(b, &alert_schema, a);
	if (b->err == 0 && (rc = alert_check(a)) != 0)
		pbuf_fail(b, rc);
}

/* Decode a body strictly, then apply the rules across fields. */
int
proto_alert_decode(const uint8_t *p, size_t len, struct proto_alert *a)
{
	int		 rc;

	if ((rc = field_decode(&alert_schema, p, len, a)) != 0)
		return rc;
	if ((rc = alert_check(a)) != 0)
		return -rc;
	return 0;
}

void
proto_envelope_encode(struct proto_buf *b, const struct proto_envelope *e)
{
	if (b->err != 0)
		return;
	if (e->sig.len != PROTO_SIG_LEN) {
		pbuf_fail(b, PROTO_E_SIGNATURE);
		return;
	}
	b->last_tag = -1;
	field_encode(b, &envelope_schema, e);
}

/*
 * Decode an envelope (not its body).  A signature of any length but
 * PROTO_SIG_LEN is refused as PROTO_E_SIGNATURE.
 */
int
proto_envelope_decode(const uint8_t *p, size_t len, struct proto_envelope *e)
{
	int		 rc;

	if ((rc = field_decode(&envelope_schema, p, len, e)) != 0)
		return rc;
	if (e->sig.len != PROTO_SIG_LEN)
		return -PROTO_E_SIGNATURE;
	return 0;
}

/* --- names ------------------------------------------------------------- */

static const char *const alert_categories[] = {
	NULL, "warning", "knowledge", "case-followup"
};
static const char *const alert_severities[] = {
	NULL, "extreme", "severe", "moderate", "minor", "unknown"
};
static const char *const alert_msg_types[] = {
	NULL, "alert", "update", "cancel"
};
static const char *const alert_statuses[] = {
	"actual", "exercise", "test"
};
static const char *const alert_lifecycles[] = {
	"live", "cancelled", "expired"
};
static const char *const alert_ack_states[] = {
	"none", "delivered", "read", "relayed", "shown"
};
/* The states by rank: shown ranks between delivered and read. */
static const int alert_ack_by_rank[] = {
	PROTO_ACK_NONE, PROTO_ACK_DELIVERED, PROTO_ACK_SHOWN, PROTO_ACK_READ,
	PROTO_ACK_RELAYED
};

#define ALERT_NNAMES(a)	((int)(sizeof(a) / sizeof((a)[0])))

static const char *
alert_name(const char *const *names, int n, int v)
{
	if (v < 0 || v >= n)
		return NULL;
	return names[v];
}

static int
alert_parse(const char *const *names, int n, const char *s)
{
	int		 i;

	if (s == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if (names[i] != NULL && strcmp(names[i], s) == 0)
			return i;
	}
	return -1;
}

const char *
proto_category_name(int v)
{
	return alert_name(alert_categories, ALERT_NNAMES(alert_categories), v);
}

int
proto_category_parse(const char *s)
{
	return alert_parse(alert_categories, ALERT_NNAMES(alert_categories),
	    s);
}

const char *
proto_severity_name(int v)
{
	return alert_name(alert_severities, ALERT_NNAMES(alert_severities), v);
}

int
proto_severity_parse(const char *s)
{
	return alert_parse(alert_severities, ALERT_NNAMES(alert_severities),
	    s);
}

const char *
proto_msg_type_name(int v)
{
	return alert_name(alert_msg_types, ALERT_NNAMES(alert_msg_types), v);
}

int
proto_msg_type_parse(const char *s)
{
	return alert_parse(alert_msg_types, ALERT_NNAMES(alert_msg_types), s);
}

const char *
proto_alert_status_name(int v)
{
	return alert_name(alert_statuses, ALERT_NNAMES(alert_statuses), v);
}

int
proto_alert_status_parse(const char *s)
{
	return alert_parse(alert_statuses, ALERT_NNAMES(alert_statuses), s);
}

const char *
proto_lifecycle_name(int v)
{
	return alert_name(alert_lifecycles, ALERT_NNAMES(alert_lifecycles), v);
}

const char *
proto_ack_state_name(int v)
{
	return alert_name(alert_ack_states, ALERT_NNAMES(alert_ack_states), v);
}

int
proto_ack_state_parse(const char *s)
{
	return alert_parse(alert_ack_states, ALERT_NNAMES(alert_ack_states),
	    s);
}

int
proto_ack_rank(int state)
{
	int	r;

	for (r = 0; r <= PROTO_ACK_RANK_MAX; r++)
		if (alert_ack_by_rank[r] == state)
			return r;
	return -1;
}

int
proto_ack_at_rank(int rank)
{
	if (rank < 0 || rank > PROTO_ACK_RANK_MAX)
		return -1;
	return alert_ack_by_rank[rank];
}

/* Stable kebab-case names of the error codes; PROTOCOL.md lists them. */
const char *
proto_err_name(int code)
{
	switch (code) {
	case PROTO_E_OK:
		return "ok";
	case PROTO_E_FRAME:
		return "bad-frame";
	case PROTO_E_FRAME_SIZE:
		return "frame-too-large";
	case PROTO_E_TYPE:
		return "unknown-type";
	case PROTO_E_FIELD:
		return "non-canonical";
	case PROTO_E_MISSING:
		return "missing-field";
	case PROTO_E_UTF8:
		return "bad-utf8";
	case PROTO_E_TOO_LONG:
		return "too-long";
	case PROTO_E_STATE:
		return "out-of-order";
	case PROTO_E_VERSION:
		return "bad-version";
	case PROTO_E_TAG:
		return "unknown-tag";
	case PROTO_E_VALUE:
		return "bad-value";
	case PROTO_E_TIMEOUT:
		return "timeout";
	case PROTO_E_PRINCIPAL:
		return "not-a-principal";
	case PROTO_E_FORBIDDEN:
		return "forbidden";
	case PROTO_E_LIMIT:
		return "limit";
	case PROTO_E_REVOKED:
		return "cert-revoked";
	case PROTO_E_SIGNATURE:
		return "bad-signature";
	case PROTO_E_CERT:
		return "bad-certificate";
	case PROTO_E_ISSUER:
		return "issuer-mismatch";
	case PROTO_E_TARGET:
		return "target-not-allowed";
	case PROTO_E_NODE:
		return "unknown-node";
	case PROTO_E_SKEW:
		return "clock-skew";
	case PROTO_E_EXPIRY:
		return "bad-expiry";
	case PROTO_E_DUPLICATE:
		return "duplicate-id";
	case PROTO_E_UNKNOWN_ALERT:
		return "unknown-alert";
	case PROTO_E_REFERENCE:
		return "bad-reference";
	case PROTO_E_NOT_ISSUER:
		return "not-an-issuer";
	case PROTO_E_RECEIPT:
		return "bad-receipt";
	case PROTO_E_RECEIPT_STALE:
		return "stale-receipt";
	case PROTO_E_UNSIGNED:
		return "unsigned-ack";
	case PROTO_E_AUDIT_RANGE:
		return "audit-range";
	case PROTO_E_AUDIT_ENTRY:
		return "audit-entry-too-large";
	/* CAP 1.2 documents (cap) */
	case PROTO_E_CAP_XML:
		return "cap-bad-xml";
	case PROTO_E_CAP_DOCTYPE:
		return "cap-doctype";
	case PROTO_E_CAP_ELEMENT:
		return "cap-bad-element";
	case PROTO_E_CAP_VALUE:
		return "cap-bad-value";
	case PROTO_E_CAP_TIME:
		return "cap-bad-time";
	case PROTO_E_CAP_SENDER:
		return "cap-not-sender";
	case PROTO_E_CLUE_BAD:
		return "bad-clue";
	case PROTO_E_CLUE_UNKNOWN:
		return "unknown-clue";
	case PROTO_E_CLUE_BACKWARDS:
		return "clue-backwards";
	case PROTO_E_CLUE_NOT_YOURS:
		return "clue-not-yours";
	case PROTO_E_CLUE_LIMIT:
		return "clue-limit";
	case PROTO_E_CLUE_DUPLICATE:
		return "duplicate-clue";
	case PROTO_E_NOT_ADDRESSED:
		return "not-addressed";
	case PROTO_E_BACKWARDS:
		return "ack-backwards";
	case PROTO_E_INTERNAL:
		return "internal";
	case PROTO_E_STORE:
		return "store-unavailable";
	case PROTO_E_SHUTDOWN:
		return "shutting-down";
	}
	return "unknown";
}

/*
 * Best effort, for refusals and logs only: the alert id of an envelope
 * that may not decode (its signature may be the malformed part), found
 * by walking its fields by hand to the body (tag 1) and decoding that.
 * "?" in buf if there is none.
 */
const char *
proto_envelope_peek_id(const uint8_t *env, size_t len, char *buf,
    size_t buflen)
{
	struct proto_alert	a;
	size_t			off = 0, flen;

	snprintf(buf, buflen, "?");
	while (off + PROTO_FIELD_HDR <= len) {
		flen = (size_t)env[off + 1] << 8 | env[off + 2];
		if (flen > len - off - PROTO_FIELD_HDR)
			break;
		if (env[off] == 1) {
			if (proto_alert_decode(env + off + PROTO_FIELD_HDR,
			    flen, &a) == 0)
				snprintf(buf, buflen, "%s", a.id);
			break;
		}
		off += PROTO_FIELD_HDR + flen;
	}
	return buf;
}
