/* SPDX-License-Identifier: ISC */
/*
 * dispatch: what wuzhad does with a client's requests, as one table.  The
 * transport (conn.c) knows frames and session states, never a handler; it
 * reports up through the struct conn_ops set here by main.c.  A new
 * request type is one row below and one handler in its own file; the
 * rights it needs and the subtree it names are checked by access.c.
 */

#include <stddef.h>

#include "wuzhad.h"

#define ST(s)		(1u << (s))
#define ST_SESSION	(ST(CONN_S_SYNC) | ST(CONN_S_READY))

/* One request a client may send once the session is up. */
struct dispatch {
	uint8_t		 type;
	unsigned	 states;	/* ST() of the states it is taken in */
	void		(*handler)(struct conn *, const uint8_t *, size_t);
};

static const struct dispatch dispatch_table[] = {
	{ PROTO_T_PUBLISH,	ST_SESSION,	publish_handle },
	{ PROTO_T_ACK,		ST_SESSION,	ack_handle },
	{ PROTO_T_STATUS_REQ,	ST_SESSION,	status_handle },
	{ PROTO_T_AGENTS_REQ,	ST_SESSION,	agents_handle },
	{ PROTO_T_SCHEDULE_REQ,	ST_SESSION,	schedule_handle },
	{ PROTO_T_REPORT_REQ,	ST_SESSION,	report_handle },
	{ PROTO_T_RECEIPTS_REQ,	ST_SESSION,	receipts_handle },
	{ PROTO_T_AUDIT_REQ,	ST_SESSION,	audit_handle },
	/* CAP export (cap) */
	{ PROTO_T_ENVELOPE_REQ,	ST_SESSION,	envelope_handle },
	{ PROTO_T_CLUE,		ST_SESSION,	clue_handle },
	{ PROTO_T_CLUE_MARK,	ST_SESSION,	clue_mark_handle },
	{ PROTO_T_CLUES_REQ,	ST_SESSION,	clues_handle },
};

/*
 * A request frame: 1 if it was one of ours (handled or refused here),
 * 0 if conn.c should treat it (a session frame, or not a request).
 */
static int
dispatch_frame(struct conn *c, uint8_t type, const uint8_t *p, size_t len)
{
	size_t	i;

	for (i = 0; i < sizeof(dispatch_table) / sizeof(dispatch_table[0]);
	    i++) {
		if (dispatch_table[i].type != type)
			continue;
		if (!(dispatch_table[i].states & ST(conn_state(c)))) {
			conn_fail(c, PROTO_E_STATE, "%s not valid now",
			    proto_type_name(type));
			return 1;
		}
		dispatch_table[i].handler(c, p, len);
		return 1;
	}
	return 0;
}

/* An agent that receives said HELLO: send what is pending, then READY. */
static void
dispatch_catch_up(struct conn *c)
{
	sync_start(c);
}

/* The output drained during the catch-up: its next slice. */
static void
dispatch_drained(struct conn *c)
{
	sync_continue(c);
}

/* An agent is READY: what was stored for it meanwhile besides alerts. */
static void
dispatch_ready(struct conn *c)
{
	struct tprincipal	*p = conn_principal(c);

	if (p != NULL && (p->rights & PROTO_R_OBSERVE)) {
		remind_observer_ready(c);
		clue_observer_ready(c);
	}
}

/* A connection goes away: nothing may keep pointing at it. */
static void
dispatch_closed(struct conn *c)
{
	struct syncreq	*sr = conn_sync(c);

	if (sr != NULL) {
		conn_set_sync(c, NULL);
		sync_free(sr);
	}
	watch_conn_closed(c);
}

const struct conn_ops dispatch_ops = {
	.frame = dispatch_frame,
	.catch_up = dispatch_catch_up,
	.drained = dispatch_drained,
	.agent_ready = dispatch_ready,
	.closed = dispatch_closed,
	.presence = presence_note,
	.rebound = presence_rebuild,
};
