/* SPDX-License-Identifier: ISC */
/*
 * frame: the 5-byte frame header that delimits every message on the
 * stream, and the names of the message types it carries.  The header is
 * checked before anything is allocated for the payload.
 */

#include <stdint.h>

#include "proto.h"

/*
 * Check a frame header: the length word counts the type byte and the
 * payload, so 0 is malformed and anything above max is too large.
 */
int
proto_frame_header(const uint8_t *hdr, uint32_t max, uint8_t *type,
    uint32_t *payload_len)
{
	uint32_t	 len;

	len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
	    (uint32_t)hdr[2] << 8 | hdr[3];
	if (max > PROTO_FRAME_MAX_LIMIT)
		max = PROTO_FRAME_MAX_LIMIT;
	if (len == 0)
		return -PROTO_E_FRAME;
	if (len > max)
		return -PROTO_E_FRAME_SIZE;
	*type = hdr[4];
	*payload_len = len - 1;
	return 0;
}

const char *
proto_type_name(int type)
{
	switch (type) {
	case PROTO_T_HELLO:
		return "HELLO";
	case PROTO_T_WELCOME:
		return "WELCOME";
	case PROTO_T_PUBLISH:
		return "PUBLISH";
	case PROTO_T_PUBLISHED:
		return "PUBLISHED";
	case PROTO_T_ALERT:
		return "ALERT";
	case PROTO_T_ESCALATION:
		return "ESCALATION";
	case PROTO_T_ACK:
		return "ACK";
	case PROTO_T_ACK_OK:
		return "ACK_OK";
	case PROTO_T_STATUS_REQ:
		return "STATUS_REQ";
	case PROTO_T_STATUS:
		return "STATUS";
	case PROTO_T_AGENTS_REQ:
		return "AGENTS_REQ";
	case PROTO_T_AGENTS:
		return "AGENTS";
	case PROTO_T_SCHEDULE_REQ:
		return "SCHEDULE_REQ";
	case PROTO_T_SCHEDULE:
		return "SCHEDULE";
	case PROTO_T_REPORT_REQ:
		return "REPORT_REQ";
	case PROTO_T_REPORT:
		return "REPORT";
	case PROTO_T_RECEIPTS_REQ:
		return "RECEIPTS_REQ";
	case PROTO_T_RECEIPTS:
		return "RECEIPTS";
	case PROTO_T_AUDIT_REQ:
		return "AUDIT_REQ";
	case PROTO_T_AUDIT:
		return "AUDIT";
	/* CAP export (cap) */
	case PROTO_T_ENVELOPE_REQ:
		return "ENVELOPE_REQ";
	case PROTO_T_ENVELOPE:
		return "ENVELOPE";
	case PROTO_T_CLUE:
		return "CLUE";
	case PROTO_T_CLUE_OK:
		return "CLUE_OK";
	case PROTO_T_CLUE_PUSH:
		return "CLUE_PUSH";
	case PROTO_T_CLUE_MARK:
		return "CLUE_MARK";
	case PROTO_T_CLUES_REQ:
		return "CLUES_REQ";
	case PROTO_T_CLUES:
		return "CLUES";
	case PROTO_T_PING:
		return "PING";
	case PROTO_T_PONG:
		return "PONG";
	case PROTO_T_ERROR:
		return "ERROR";
	case PROTO_T_BYE:
		return "BYE";
	}
	return "?";
}
