/* SPDX-License-Identifier: ISC */
/*
 * wuzha-agent: the thin agent at a class advisor's or a security desk's
 * machine.  It keeps one session to wuzhad as an AGENT, reconnecting with
 * jittered exponential backoff, and for every ALERT pushed to it checks
 * the issuer's signature and certificate against the pinned CA itself
 * (so neither the daemon nor Redis can forge a warning), drops what has
 * expired, acknowledges again what it has already shown or what a cancel
 * has withdrawn, and hands what is new to the person: through the hook,
 * or on stdout.  Only once that worked is the id recorded and "delivered"
 * sent.  A cancel (or an update) is shown like any alert, naming the
 * alert it refers to; a cancel also withdraws that alert.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/x509.h>

#include "clock.h"
#include "conf.h"
#include "proto.h"
#include "client.h"
#include "agent.h"
#include "log.h"

#ifndef WUZHA_VERSION
#define WUZHA_VERSION		"0"
#endif

/* A session that lasted this long resets the backoff. */
#define AGENT_GOOD_SESSION_MS	10000

/* The runtime context: everything the agent holds. */
struct agent {
	struct event_base	*base;
	struct conf_agent	*conf;
	struct client_tls	*tls;
	X509_STORE		*store;		/* the pinned CA, for envelopes */
	char			 cn[PROTO_ID_MAX + 1]; /* own CN */
	struct proto_scope	 scope;		/* own path, from own certificate */
	struct client		*conn;		/* current session, or NULL */
	int			 conn_dead;	/* closed; freed by the timer */
	uint64_t		 ready_at;	/* monotonic ms of WELCOME, or 0 */
	unsigned		 attempt;	/* failed sessions in a row */
	size_t			 server;	/* conf->servers[] tried now */
	struct event		*ev_reconnect;
	struct event		*ev_sigterm;
	struct event		*ev_sigint;
	struct event		*ev_sighup;
	struct agent_state	*state;
	struct agent_inbox	*inbox;		/* what the person's page shows */
	struct agent_page	*page;		/* NULL: no page configured */
	struct agent_hook	*hook;
	int			 stopping;
	/* Acks the daemon could not store (501): sent again on a timer. */
	struct event		*ev_reack;
	char			(*reack)[PROTO_ID_MAX + 1];
	size_t			 nreack;
	/* Send delivered as QUIET (no ACK_OK); off for a daemon that
	 * does not know the flag. */
	int			 quiet_acks;
	/* Clues reported from the page (agent_clue.c), and our node as
	 * the daemon named it in WELCOME ("" before the first session). */
	struct agent_clues	*clues;
	char			 node[PROTO_ID_MAX + 1];
};

#define AGENT_REACK_MAX		4096	/* ids kept for a second try */
#define AGENT_REACK_MS		2000	/* pause before trying again */

static void	agent_welcome_cb(struct client *, const struct proto_welcome *,
		    void *);
static void	agent_frame_cb(struct client *, uint8_t, const uint8_t *,
		    size_t, void *);
static void	agent_closed_cb(struct client *, const char *, void *);
static void	agent_resend_acks(struct agent *);

static const struct client_ops agent_ops = {
	agent_welcome_cb, agent_frame_cb, agent_closed_cb,
};

static __attribute__((noreturn)) void
usage(void)
{
	fprintf(stderr, "usage: wuzha-agent [-d] -c agent.yaml\n");
	exit(2);
}

/* --help: on stdout, and a success. */
static __attribute__((noreturn)) void
help(void)
{
	printf("usage: wuzha-agent [-d] -c agent.yaml\n\n"
	    "  -c agent.yaml  the configuration (see wuzha-agent(8))\n"
	    "  -d             log at debug level\n"
	    "  -h, --help     this text\n"
	    "  --version      the version\n\n"
	    "Signals: SIGHUP reads the CA and CRL again (for the alerts'\n"
	    "signatures), SIGTERM stops.\n");
	exit(0);
}

/*
 * Delay before the next attempt: uniform between reconnect_min and
 * min(reconnect_max, reconnect_min * 2^(attempt + 1)), so that agents
 * cut off together do not all come back at the same moment.
 */
static uint32_t
agent_backoff_ms(struct agent *ag)
{
	uint64_t	lo = ag->conf->reconnect_min_ms, hi = lo;
	uint64_t	max = ag->conf->reconnect_max_ms;
	uint32_t	r;
	unsigned	i;

	if (max < lo)
		max = lo;
	for (i = 0; i <= ag->attempt && hi < max; i++)
		hi = hi ? hi * 2 : 1;
	if (hi > max)
		hi = max;
	if (ag->attempt < 64)
		ag->attempt++;
	client_random(&r, sizeof(r));
	return (uint32_t)(lo + r % (hi - lo + 1));
}

static void
agent_schedule(struct agent *ag)
{
	struct timeval	tv;
	uint32_t	ms, r, lo = ag->conf->reconnect_min_ms;
	size_t		n = ag->conf->nservers;

	/*
	 * With several servers, the next one in the list: the backoff grows
	 * only once all of them were tried, so an agent whose daemon went
	 * away is on another within about reconnect_min.
	 */
	ag->server = n > 0 ? (ag->server + 1) % n : 0;
	if (n > 1 && ag->server != 0) {
		client_random(&r, sizeof(r));
		ms = lo + r % (lo + 1);
	} else
		ms = agent_backoff_ms(ag);
	log_info("reconnecting%s%s in %u.%03u s", n > 1 ? " to " : "",
	    n > 1 ? ag->conf->servers[ag->server] : "", ms / 1000, ms % 1000);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(ag->ev_reconnect, &tv);
}

/* Open a new session; on an immediate failure, try again later. */
static void
agent_connect(struct agent *ag)
{
	char	err[256];

	if ((ag->conn = client_new(ag->base, ag->tls, ag->conf,
	    PROTO_ROLE_AGENT, &agent_ops, ag)) == NULL)
		fatalx("out of memory");
	client_set_agent_name(ag->conn, "wuzha-agent/" WUZHA_VERSION);
	if (ag->conf->nservers > 0 &&
	    client_set_peer(ag->conn, ag->conf->servers[ag->server %
	    ag->conf->nservers]) == -1)
		fatalx("out of memory");
	ag->conn_dead = 0;
	ag->ready_at = 0;
	if (client_connect(ag->conn, err, sizeof(err)) == -1) {
		log_warnx("cannot connect to %s: %s", client_peer(ag->conn),
		    err);
		ag->conn_dead = 1;
		agent_schedule(ag);
	}
}

/* Reconnect timer: the old connection is outside its callbacks now. */
static void
agent_reconnect_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct agent	*ag = arg;

	(void)fd;
	(void)ev;
	client_free(ag->conn);
	ag->conn = NULL;
	if (!ag->stopping)
		agent_connect(ag);
}

/* Session up: log who the daemon says we are. */
static void
agent_welcome_cb(struct client *c, const struct proto_welcome *w, void *arg)
{
	struct agent	*ag = arg;

	ag->ready_at = mono_ms();
	log_info("connected to %s: welcome principal %s node %s rights "
	    "%s%s%s heartbeat %u s", client_peer(c), w->principal, w->node,
	    (w->rights & PROTO_R_RECEIVE) ? "receive" : "-",
	    (w->rights & PROTO_R_ISSUE) ? ",issue" : "",
	    (w->rights & PROTO_R_OBSERVE) ? ",observe" : "", w->heartbeat);
	if (strcmp(w->principal, ag->cn) != 0)
		log_warnx("server calls us %s, our certificate says %s",
		    w->principal, ag->cn);
	if (!(w->rights & PROTO_R_RECEIVE))
		log_warnx("principal %s has no receive right: no alerts will "
		    "come", w->principal);
	agent_page_status(ag->page, 1, client_peer(c));
	agent_resend_acks(ag);
	snprintf(ag->node, sizeof(ag->node), "%s", w->node);
	if (ag->clues != NULL)
		agent_clues_session(ag->clues);
}

/* Session gone: log why, then stop or schedule the next attempt. */
static void
agent_closed_cb(struct client *c, const char *reason, void *arg)
{
	struct agent	*ag = arg;

	log_info("disconnected from %s: %s", client_peer(c), reason);
	agent_page_status(ag->page, 0, client_peer(c));
	if (ag->ready_at != 0 &&
	    mono_ms() - ag->ready_at >= AGENT_GOOD_SESSION_MS)
		ag->attempt = 0;
	ag->ready_at = 0;
	ag->conn_dead = 1;
	if (ag->stopping)
		event_base_loopbreak(ag->base);
	else
		agent_schedule(ag);
}

/*
 * The SHA-256 of id's envelope, which its receipt signs: given (h), from
 * the state file, or from the copy the inbox keeps; NULL if none.
 */
static const uint8_t *
agent_env_hash(struct agent *ag, const char *id, const uint8_t *h,
    uint8_t *buf)
{
	struct agent_inbox_item	*it;

	if (h != NULL)
		return h;
	if ((h = agent_state_env_hash(ag->state, id)) != NULL)
		return h;
	if ((it = agent_inbox_find(ag->inbox, id)) != NULL &&
	    proto_sha256(it->env, it->envlen, buf) == 0)
		return buf;
	return NULL;
}

/*
 * Send ACK state for id, if the session is up, signed as a receipt with
 * the agent's own key (h: its envelope's hash, or NULL to look it up).
 * Delivered goes QUIET: the
 * daemon answers only if it refuses or cannot store it, and one lost on
 * the way comes back as RESENT on the next session.  What a person did
 * (shown, read, relayed) asks for ACK_OK, which the page then shows as
 * confirmed; one not confirmed is sent again on the next session.
 */
static void
agent_send_ack(struct agent *ag, const char *id, int state, uint32_t reach,
    const uint8_t *h)
{
	struct agent_inbox_item	*it;
	struct proto_buf	 b;
	struct proto_ack	 ack;
	const char		*name = agent_ack_name(state);
	uint8_t			 hbuf[PROTO_HASH_LEN];

	if (ag->conn == NULL || ag->conn_dead || !client_ready(ag->conn)) {
		log_info("ack for %s %s not sent: not connected (it goes on "
		    "the next session)", id, name);
		return;
	}
	memset(&ack, 0, sizeof(ack));
	snprintf(ack.id, sizeof(ack.id), "%s", id);
	ack.state = (uint8_t)state;
	if (state == PROTO_ACK_RELAYED) {
		ack.reach = reach;
		ack.has_reach = 1;
	}
	if (ag->quiet_acks && state == PROTO_ACK_DELIVERED)
		ack.flags = PROTO_ACKF_QUIET;
	pbuf_init(&b);
	if ((h = agent_env_hash(ag, id, h, hbuf)) == NULL ||
	    client_ack_encode(&b, &ack, h, client_tls_key(ag->tls), ag->cn,
	    now_ms()) == -1) {
		/* A daemon with receipts: optional still takes it. */
		log_warnx("ack for %s %s: %s; sent without a receipt", id, name,
		    h == NULL ? "its envelope is no longer kept" :
		    "cannot sign it");
		pbuf_free(&b);
		pbuf_init(&b);
		proto_ack_encode(&b, &ack);
	}
	if (client_send(ag->conn, &b) == -1) {
		log_warnx("ack for %s %s not sent: cannot queue it", id, name);
		return;
	}
	log_info("ack sent %s %s", id, name);
	/* A quiet ack is taken as stored: a refusal comes back as ERROR. */
	if (ack.flags & PROTO_ACKF_QUIET &&
	    (it = agent_inbox_find(ag->inbox, id)) != NULL &&
	    agent_ack_rank(it->sent) < agent_ack_rank(state)) {
		it->sent = (uint8_t)state;
		agent_inbox_save(ag->inbox, it);
	}
}

/*
 * Acknowledge id with what is known of it: the person's state, if any
 * (h: its envelope's hash, NULL to look it up).
 */
static void
agent_ack(struct agent *ag, const char *id, const uint8_t *h)
{
	struct agent_inbox_item	*it = agent_inbox_find(ag->inbox, id);

	if (it == NULL)
		agent_send_ack(ag, id, PROTO_ACK_DELIVERED, 0, h);
	else
		agent_send_ack(ag, id, it->state, it->reach, h);
}

/* The page (or the hook) moved an item forward: record, show, send. */
static void
agent_item_ack(void *arg, struct agent_inbox_item *it, int state,
    uint32_t reach)
{
	struct agent	*ag = arg;

	if (agent_ack_rank(state) > agent_ack_rank(it->state) ||
	    state == PROTO_ACK_RELAYED) {
		it->state = (uint8_t)state;
		if (state == PROTO_ACK_RELAYED)
			it->reach = reach;
		agent_inbox_save(ag->inbox, it);
		agent_page_changed(ag->page, it);
	}
	agent_send_ack(ag, it->a.id, it->state, it->reach, NULL);
}

/* Clues: frames go on the session if it is up. */
static int
agent_clue_send(void *arg, struct proto_buf *b)
{
	struct agent	*ag = arg;

	if (ag->conn == NULL || ag->conn_dead || !client_ready(ag->conn)) {
		pbuf_free(b);
		return -1;
	}
	return client_send(ag->conn, b);
}

/* The page reports a clue: sign it and send it now, or say why not. */
static int
agent_page_clue(void *arg, const char *text, const char *contact, char *id,
    size_t idlen, char *why, size_t whylen)
{
	struct agent	*ag = arg;

	return agent_clues_page_report(ag->clues, ag->node, text, contact, id,
	    idlen, why, whylen);
}

static void
agent_page_clues_json(void *arg, struct evbuffer *b)
{
	agent_clues_json(((struct agent *)arg)->clues, b);
}

static void
agent_page_clues_refresh(void *arg)
{
	agent_clues_ask(((struct agent *)arg)->clues);
}

static const struct agent_page_ops agent_page_ops = {
	agent_item_ack, agent_page_clue, agent_page_clues_json,
	agent_page_clues_refresh,
};

/*
 * A new session: send again what the person did that the daemon has not
 * confirmed (the last session may have ended before it did).
 */
static void
agent_resend_acks(struct agent *ag)
{
	struct agent_inbox_item	*it;
	uint64_t		 now = now_ms();

	TAILQ_FOREACH_REVERSE(it, &ag->inbox->items, agent_inbox_itemq,
	    entry)
		if (agent_ack_rank(it->state) > agent_ack_rank(it->sent) &&
		    it->state != PROTO_ACK_DELIVERED && it->a.expires_at > now)
			agent_send_ack(ag, it->a.id, it->state, it->reach, NULL);
}

/* The daemon could not store our ack: try it again in a while. */
static void
agent_reack_later(struct agent *ag, const char *id)
{
	struct timeval	tv = { AGENT_REACK_MS / 1000, (AGENT_REACK_MS % 1000) * 1000 };
	size_t		i;

	for (i = 0; i < ag->nreack; i++)
		if (strcmp(ag->reack[i], id) == 0)
			return;
	if (ag->nreack == AGENT_REACK_MAX) {
		log_warnx("ack for %s not retried: %d acks already waiting "
		    "(it comes again on reconnect)", id, AGENT_REACK_MAX);
		return;
	}
	snprintf(ag->reack[ag->nreack++], sizeof(ag->reack[0]), "%s", id);
	if (!evtimer_pending(ag->ev_reack, NULL))
		evtimer_add(ag->ev_reack, &tv);
}

static void
agent_reack_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct agent	*ag = arg;
	size_t		 i, n = ag->nreack;

	(void)fd;
	(void)ev;
	/* A second refusal puts an id back on the list. */
	ag->nreack = 0;
	for (i = 0; i < n; i++) {
		log_info("ack for %s: trying again", ag->reack[i]);
		agent_ack(ag, ag->reack[i], NULL);
	}
}

/*
 * The hook module is done with an alert.  A hook that worked put it on a
 * screen (or a loudspeaker): that is "shown".  Printed on stdout (no hook)
 * it is in a log, which no person is known to have seen.
 */
static void
agent_shown_cb(struct agent_alert *al, int ok, void *arg)
{
	struct agent		*ag = arg;
	struct agent_inbox_item	*it;

	if (!ok) {
		log_warnx("alert %s seq %llu not shown by the hook: it stays "
		    "delivered, not shown", al->a.id,
		    (unsigned long long)al->seq);
		return;
	}
	log_info("alert %s seq %llu shown%s (%s)", al->a.id,
	    (unsigned long long)al->seq,
	    (al->flags & PROTO_AF_REMINDER) ? " again as a reminder" : "",
	    ag->conf->hook ? "hook" : "printed");
	if ((it = agent_inbox_find(ag->inbox, al->a.id)) == NULL)
		return;
	if (!it->hooked) {
		it->hooked = 1;
		agent_inbox_save(ag->inbox, it);
	}
	if (ag->conf->hook != NULL &&
	    agent_ack_rank(it->state) < agent_ack_rank(PROTO_ACK_SHOWN))
		agent_item_ack(ag, it, PROTO_ACK_SHOWN, 0);
}

/* Mark id withdrawn (by a cancel) until at least expires_at, and save. */
static void
agent_withdraw(struct agent *ag, const char *id, uint64_t expires_at)
{
	if (agent_state_withdraw(ag->state, id, expires_at) == -1 ||
	    agent_state_save(ag->state, now_ms()) == -1)
		log_warnx("alert %s: could not record it as withdrawn in the "
		    "state file; a later copy may be shown after a restart",
		    id);
	else
		log_info("alert %s withdrawn", id);
}

/*
 * ESCALATION (we observe this node): who below us has not read an alert.
 * Logged, and printed for the person when no hook is set.  It carries no
 * signature of an issuer: it is the daemon's own report on delivery.
 */
static void
agent_on_escalation(struct agent *ag, const uint8_t *p, size_t len)
{
	struct proto_escalation		e;
	struct proto_status_member	m;
	size_t				cur = 0, n = 0;
	int				rc;

	if ((rc = proto_escalation_decode(p, len, &e)) != 0) {
		log_warnx("bad ESCALATION: %s", proto_err_name(-rc));
		return;
	}
	if (ag->conf->hook == NULL)
		printf("=== ESCALATION: alert %s (seq %llu) not read yet below "
		    "%s:\n", e.id, (unsigned long long)e.seq, e.node);
	while ((rc = proto_status_member_next(&e.members, &cur, &m)) == 1) {
		n++;
		log_notice("escalation: alert %s not read by %s at %s (%s)",
		    e.id, m.cn, m.node, proto_ack_state_name(m.state));
		if (ag->conf->hook == NULL)
			printf("  %s at %s: %s\n", m.cn, m.node,
			    proto_ack_state_name(m.state));
	}
	if (rc != 0)
		log_warnx("bad ESCALATION member list: %s", proto_err_name(-rc));
	if (e.omitted > 0 && ag->conf->hook == NULL)
		printf("  ... and %u more\n", e.omitted);
	if (ag->conf->hook == NULL)
		fflush(stdout);
	log_info("escalation for alert %s at %s: %zu listed, %u more", e.id,
	    e.node, n, e.omitted);
}

/*
 * A verified alert goes into the inbox and is recorded and acknowledged
 * as delivered at once: the agent has it, whatever the hook does next.
 * A cancel or an update marks the alert it refers to.
 */
static void
agent_keep(struct agent *ag, const struct agent_alert *al, uint64_t now)
{
	struct agent_inbox_item	*it, *orig;

	if ((it = agent_inbox_find(ag->inbox, al->a.id)) != NULL) {
		/* A reminder of one kept: it is marked as such. */
		it->seq = al->seq;
		it->flags = al->flags;
		agent_inbox_save(ag->inbox, it);
	} else if ((it = agent_inbox_add(ag->inbox, al->env, al->envlen,
	    al->seq, al->flags, now)) == NULL)
		log_warnx("alert %s: cannot keep it in the inbox", al->a.id);
	if (al->a.msg_type != PROTO_MSG_ALERT &&
	    (orig = agent_inbox_find(ag->inbox, al->a.references)) != NULL) {
		if (al->a.msg_type == PROTO_MSG_CANCEL)
			orig->withdrawn = 1;
		snprintf(orig->replaced_by, sizeof(orig->replaced_by), "%s",
		    al->a.id);
		agent_inbox_save(ag->inbox, orig);
		agent_page_changed(ag->page, orig);
	}
	if (!agent_state_seen(ag->state, al->a.id) &&
	    (agent_state_add(ag->state, al->a.id, al->a.expires_at) == -1 ||
	    agent_state_set_hash(ag->state, al->a.id, al->env_hash) == -1 ||
	    agent_state_save(ag->state, now_ms()) == -1))
		log_warnx("alert %s: could not record it in the state file; "
		    "it may be shown again after a restart", al->a.id);
	agent_ack(ag, al->a.id, al->env_hash);
	if (it != NULL)
		agent_page_changed(ag->page, it);
}

/* An ALERT from the server: verify, then drop, re-ack or hand over. */
static void
agent_on_alert(struct agent *ag, const uint8_t *p, size_t len)
{
	struct proto_alert_msg	 m;
	struct agent_alert	*al;
	struct proto_scope	 signer;
	char			 why[512] = "", id[PROTO_ID_MAX + 1], t[40];
	uint64_t		 now;
	int			 rc;

	if ((rc = proto_alert_msg_decode(p, len, &m)) != 0) {
		log_warnx("refused alert ? seq ?: %s: malformed ALERT message",
		    proto_err_name(-rc));
		return;
	}
	if ((al = calloc(1, sizeof(*al))) == NULL ||
	    (al->env = malloc(m.envelope.len ? m.envelope.len : 1)) == NULL)
		fatalx("out of memory");
	memcpy(al->env, m.envelope.p, m.envelope.len);
	al->envlen = m.envelope.len;
	al->seq = m.seq;
	al->flags = m.flags;
	rc = proto_envelope_verify(al->env, al->envlen, ag->store, 0, &al->a,
	    why, sizeof(why));
	/* Signed by someone the CA made an issuer, for a node above us. */
	if (rc == 0 && (rc = proto_envelope_scope(al->env, al->envlen, &signer,
	    why, sizeof(why))) == 0)
		rc = proto_scope_allows(&ag->scope, &signer, al->a.target, why,
		    sizeof(why));
	if (rc != 0) {
		proto_envelope_peek_id(al->env, al->envlen, id, sizeof(id));
		log_warnx("refused alert %s seq %llu: %s: %s", id,
		    (unsigned long long)m.seq, proto_err_name(-rc),
		    why[0] ? why : "does not verify");
		agent_alert_free(al);
		return;
	}
	if (proto_sha256(al->env, al->envlen, al->env_hash) != 0)
		fatalx("SHA-256 failed");
	now = now_ms();
	if (al->a.expires_at <= now) {
		log_info("dropped alert %s seq %llu: expired at %s", al->a.id,
		    (unsigned long long)al->seq,
		    client_time_str(al->a.expires_at, t, sizeof(t)));
		agent_alert_free(al);
		return;
	}
	if (agent_hook_has(ag->hook, al->a.id)) {
		log_debug("alert %s seq %llu already waiting to be shown",
		    al->a.id, (unsigned long long)al->seq);
		agent_alert_free(al);
		return;
	}
	if (agent_state_withdrawn(ag->state, al->a.id)) {
		log_info("alert %s seq %llu was cancelled: not shown, "
		    "acknowledging", al->a.id, (unsigned long long)al->seq);
		/* Keep the mark for as long as this copy could come again. */
		agent_withdraw(ag, al->a.id, al->a.expires_at);
		agent_state_set_hash(ag->state, al->a.id, al->env_hash);
		agent_ack(ag, al->a.id, al->env_hash);
		agent_alert_free(al);
		return;
	}
	if (agent_state_seen(ag->state, al->a.id) &&
	    !(al->flags & PROTO_AF_REMINDER)) {
		log_info("alert %s seq %llu already shown, acknowledging again",
		    al->a.id, (unsigned long long)al->seq);
		if (agent_state_env_hash(ag->state, al->a.id) == NULL)
			agent_state_set_hash(ag->state, al->a.id, al->env_hash);
		agent_ack(ag, al->a.id, al->env_hash);
		agent_alert_free(al);
		return;
	}
	log_info("alert %s seq %llu from %s to %s verified%s%s%s", al->a.id,
	    (unsigned long long)al->seq, al->a.issuer, al->a.target,
	    (al->flags & PROTO_AF_REMINDER) ? " (reminder)" : "",
	    al->a.msg_type == PROTO_MSG_CANCEL ? ", cancels " :
	    al->a.msg_type == PROTO_MSG_UPDATE ? ", updates " : "",
	    al->a.msg_type != PROTO_MSG_ALERT ? al->a.references : "");
	/*
	 * A verified cancel withdraws its original at once: a copy that
	 * comes later is acknowledged, never shown.  One already waiting
	 * in the queue (lower seq) is still shown, just before the cancel.
	 */
	if (al->a.msg_type == PROTO_MSG_CANCEL)
		agent_withdraw(ag, al->a.references, al->a.expires_at);
	agent_keep(ag, al, now);
	agent_hook_push(ag->hook, al);
}

/* The daemon has stored an ack: the page shows it as confirmed. */
static void
agent_ack_ok(struct agent *ag, const struct proto_ack_ok *ok)
{
	struct agent_inbox_item	*it;

	if ((it = agent_inbox_find(ag->inbox, ok->id)) == NULL ||
	    agent_ack_rank(ok->state) <= agent_ack_rank(it->sent))
		return;
	it->sent = ok->state;
	/* The daemon knows more (an ack from an earlier install). */
	if (agent_ack_rank(it->sent) > agent_ack_rank(it->state))
		it->state = it->sent;
	agent_inbox_save(ag->inbox, it);
	agent_page_changed(ag->page, it);
}

/* A frame for the agent: ALERT, ACK_OK or ERROR. */
static void
agent_frame_cb(struct client *c, uint8_t type, const uint8_t *p, size_t len,
    void *arg)
{
	struct agent		*ag = arg;
	struct proto_ack_ok	 ok;
	struct proto_error	 e;
	int			 rc;

	switch (type) {
	case PROTO_T_ALERT:
		agent_on_alert(ag, p, len);
		return;
	case PROTO_T_ESCALATION:
		agent_on_escalation(ag, p, len);
		return;
	case PROTO_T_ACK_OK:
		if ((rc = proto_ack_ok_decode(p, len, &ok)) != 0) {
			log_warnx("bad ACK_OK: %s", proto_err_name(-rc));
			return;
		}
		log_info("ACK_OK %s %s", ok.id, agent_ack_name(ok.state));
		agent_ack_ok(ag, &ok);
		return;
	case PROTO_T_CLUE_OK:
	case PROTO_T_CLUES:
	case PROTO_T_CLUE_PUSH:
		if (ag->clues != NULL)
			(void)agent_clues_frame(ag->clues, type, p, len);
		return;
	case PROTO_T_ERROR:
		if ((rc = proto_error_decode(p, len, &e)) != 0) {
			log_warnx("bad ERROR: %s", proto_err_name(-rc));
			return;
		}
		if (ag->clues != NULL && agent_clues_on_error(ag->clues, &e))
			return;		/* about a clue of ours */
		if (e.code == PROTO_E_STORE && e.ref[0] != '\0')
			agent_reack_later(ag, e.ref);
		log_warnx("server error: %s (%u): %.*s%s%s",
		    proto_err_name(e.code), e.code, (int)e.text.len,
		    (const char *)e.text.p, e.ref[0] ? " for alert " : "",
		    e.ref);
		/*
		 * A daemon from before QUIET refuses the flag's tag without
		 * saying which ack; a new session brings back every alert it
		 * did not store, acknowledged then without the flag.
		 */
		if (e.code == PROTO_E_TAG && e.ref[0] == '\0' &&
		    ag->quiet_acks) {
			log_warnx("the daemon does not know quiet acks: "
			    "reconnecting without them");
			ag->quiet_acks = 0;
			client_close(c, 0, "reconnecting without quiet acks");
		}
		return;
	default:
		log_debug("ignoring %s from %s", proto_type_name(type),
		    client_peer(c));
		return;
	}
}

/*
 * The store that alerts are verified with, from the CA and CRL files
 * again: a CRL updated by the deployment's CA takes effect without a
 * restart.  If the files do not load, the old store stays.
 */
static void
agent_reload_store(struct agent *ag)
{
	X509_STORE	*st;
	char		 err[CONF_ERR_MAX + 64];

	if ((st = client_store_load(ag->conf->tls.ca, ag->conf->tls.crl, err,
	    sizeof(err))) == NULL) {
		log_warnx("SIGHUP: %s; keeping the CA and CRL loaded before", err);
		return;
	}
	X509_STORE_free(ag->store);
	ag->store = st;
	log_info("SIGHUP: CA%s loaded again", ag->conf->tls.crl != NULL ?
	    " and CRL" : "");
}

/* SIGTERM, SIGINT: say BYE and stop; SIGHUP: read the CA and CRL again. */
static void
agent_signal_cb(evutil_socket_t sig, short ev, void *arg)
{
	struct agent	*ag = arg;

	(void)ev;
	if (sig == SIGHUP) {
		agent_reload_store(ag);
		return;
	}
	if (ag->stopping) {
		event_base_loopbreak(ag->base);
		return;
	}
	log_info("stopping on %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	ag->stopping = 1;
	agent_hook_stop(ag->hook);
	evtimer_del(ag->ev_reconnect);
	if (ag->conn != NULL && !ag->conn_dead)
		client_close(ag->conn, 0, "agent stopping");
	else
		event_base_loopbreak(ag->base);
}

/*
 * The inbox: in inbox.dir, or next to the state file; in memory only
 * when neither is set (then nothing is remembered across restarts).
 */
static void
agent_setup_inbox(struct agent *ag)
{
	char	 err[CONF_ERR_MAX + 64], *dir = NULL;

	if (ag->conf->inbox_dir != NULL)
		dir = strdup(ag->conf->inbox_dir);
	else if (ag->conf->state_file != NULL &&
	    asprintf(&dir, "%s.inbox", ag->conf->state_file) == -1)
		dir = NULL;
	if (dir == NULL && (ag->conf->inbox_dir || ag->conf->state_file))
		fatalx("out of memory");
	if ((ag->inbox = agent_inbox_open(dir, ag->conf->inbox_max,
	    ag->conf->inbox_keep_s, err, sizeof(err))) == NULL)
		fatalx("%s; refusing to start", err);
	agent_inbox_purge(ag->inbox, now_ms());
	free(dir);
}

/* Write the page's address (with its secret) for the person, 0600. */
static void
agent_write_url(const char *path, const char *url)
{
	char	tmp[PATH_MAX];
	FILE	*f;
	int	 fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp) ||
	    (fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1 || (f = fdopen(fd, "w")) == NULL)
		fatal("inbox: cannot write %s", path);
	fprintf(f, "%s\n", url);
	if (fflush(f) != 0 || fsync(fileno(f)) == -1 || fclose(f) != 0 ||
	    rename(tmp, path) == -1)
		fatal("inbox: cannot write %s", path);
}

/* The inbox and display pages, when inbox: is configured. */
static void
agent_setup_page(struct agent *ag)
{
	char	err[256];
	char	base[160];
	size_t	n;

	if (ag->conf->inbox_listen == NULL)
		return;
	if ((ag->page = agent_page_new(ag->base, ag->conf->inbox_listen,
	    ag->inbox, ag->cn, &agent_page_ops, ag, err,
	    sizeof(err))) == NULL)
		fatalx("inbox: %s", err);
	if (ag->conf->inbox_url_file != NULL) {
		agent_write_url(ag->conf->inbox_url_file,
		    agent_page_url(ag->page));
		/* The log names the listener, not the secret. */
		snprintf(base, sizeof(base), "%s", agent_page_url(ag->page));
		n = strcspn(base + 7, "/") + 7;
		base[n] = '\0';
		log_info("inbox page on %s (its address is in %s)", base,
		    ag->conf->inbox_url_file);
	} else
		log_info("inbox page at %s", agent_page_url(ag->page));
}

/* Clues from the page are signed with our own key (only with a page). */
static void
agent_setup_clues(struct agent *ag)
{
	EVP_PKEY	*key;
	char		 err[CONF_ERR_MAX + 64];

	if (ag->conf->inbox_listen == NULL)
		return;
	if ((key = client_key_load(ag->conf->tls.key, err,
	    sizeof(err))) == NULL)
		fatalx("%s", err);
	if ((ag->clues = agent_clues_new(ag->base, key, ag->cn,
	    agent_clue_send, ag)) == NULL)
		fatalx("cannot set up the clues");
}

/*
 * Alerts kept but never handed over (the agent stopped first, or the
 * hook kept failing): to the hook again, oldest first, if still live.
 */
static void
agent_rehook(struct agent *ag)
{
	struct agent_inbox_item	*it;
	struct agent_alert	*al;
	struct proto_envelope	 e;
	uint64_t		 now = now_ms();

	TAILQ_FOREACH_REVERSE(it, &ag->inbox->items, agent_inbox_itemq,
	    entry) {
		if (it->hooked || it->withdrawn || it->a.expires_at <= now)
			continue;
		if ((al = calloc(1, sizeof(*al))) == NULL ||
		    (al->env = malloc(it->envlen)) == NULL)
			fatalx("out of memory");
		memcpy(al->env, it->env, it->envlen);
		al->envlen = it->envlen;
		al->seq = it->seq;
		al->flags = it->flags;
		if (proto_envelope_decode(al->env, al->envlen, &e) != 0 ||
		    proto_alert_decode(e.body.p, e.body.len, &al->a) != 0) {
			agent_alert_free(al);
			continue;
		}
		log_info("alert %s kept but not handed over yet: to the hook "
		    "again", it->a.id);
		agent_hook_push(ag->hook, al);
	}
}

/* Load everything from the config; any failure ends the program. */
static void
agent_setup(struct agent *ag, const char *path)
{
	X509	*cert;
	char	 err[CONF_ERR_MAX + 64];

	if ((ag->conf = conf_agent_load(path, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	if (ag->conf->state_file == NULL)
		log_warnx("no state_file in %s: alerts already shown are only "
		    "remembered until the agent stops", path);
	if ((ag->state = agent_state_load(ag->conf->state_file, err,
	    sizeof(err))) == NULL)
		fatalx("state file: %s; refusing to start", err);
	if ((ag->tls = client_tls_new(ag->conf, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	agent_setup_inbox(ag);
	if ((ag->store = client_store_load(ag->conf->tls.ca, ag->conf->tls.crl,
	    err, sizeof(err))) == NULL)
		fatalx("%s", err);
	if ((cert = client_cert_load(ag->conf->tls.cert, err,
	    sizeof(err))) == NULL)
		fatalx("%s", err);
	if (client_cert_cn(cert, ag->cn, sizeof(ag->cn)) == -1)
		fatalx("%s: no usable CN", ag->conf->tls.cert);
	/*
	 * Our own place in the tree, as the CA wrote it: alerts are checked
	 * against it, never against what the daemon says.
	 */
	if (proto_cert_scope(cert, &ag->scope, err, sizeof(err)) != 0)
		fatalx("%s: %s", ag->conf->tls.cert, err);
	if (ag->scope.depth == 0)
		fatalx("%s: the certificate of %s has no wuzha:path: URI, so "
		    "alerts cannot be checked against its place in the tree; "
		    "issue it again with wuzha-ca tree", ag->conf->tls.cert,
		    ag->cn);
	X509_free(cert);
	if ((ag->base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	agent_setup_clues(ag);
	if ((ag->hook = agent_hook_new(ag->base, ag->conf->hook,
	    ag->conf->hook_timeout_ms, ag->cn, agent_shown_cb, ag)) == NULL)
		fatalx("cannot set up the hook");
	agent_hook_set_retry(ag->hook, ag->conf->hook_retry_min_ms,
	    ag->conf->hook_retry_max_ms);
	agent_setup_page(ag);
	if (ag->clues != NULL)
		agent_clues_set_page(ag->clues, ag->page);
	/* A hook (a notification) can offer to open the inbox. */
	if (ag->page != NULL)
		agent_hook_setenv(ag->hook, "WUZHA_INBOX_URL",
		    agent_page_url(ag->page));
	agent_rehook(ag);
	ag->ev_reconnect = evtimer_new(ag->base, agent_reconnect_cb, ag);
	ag->ev_reack = evtimer_new(ag->base, agent_reack_cb, ag);
	if (ag->ev_reack == NULL ||
	    (ag->reack = calloc(AGENT_REACK_MAX, sizeof(*ag->reack))) == NULL)
		fatalx("cannot set up the ack retry");
	ag->ev_sigterm = evsignal_new(ag->base, SIGTERM, agent_signal_cb, ag);
	ag->ev_sigint = evsignal_new(ag->base, SIGINT, agent_signal_cb, ag);
	ag->ev_sighup = evsignal_new(ag->base, SIGHUP, agent_signal_cb, ag);
	if (ag->ev_reconnect == NULL || ag->ev_sigterm == NULL ||
	    ag->ev_sigint == NULL || ag->ev_sighup == NULL ||
	    event_add(ag->ev_sigterm, NULL) == -1 ||
	    event_add(ag->ev_sigint, NULL) == -1 ||
	    event_add(ag->ev_sighup, NULL) == -1)
		fatalx("cannot set up events");
}

/* Free everything agent_setup made, for a clean exit. */
static void
agent_teardown(struct agent *ag)
{
	client_free(ag->conn);
	agent_hook_free(ag->hook);
	agent_page_free(ag->page);
	agent_clues_free(ag->clues);
	if (ag->ev_reconnect != NULL)
		event_free(ag->ev_reconnect);
	if (ag->ev_reack != NULL)
		event_free(ag->ev_reack);
	free(ag->reack);
	if (ag->ev_sigterm != NULL)
		event_free(ag->ev_sigterm);
	if (ag->ev_sigint != NULL)
		event_free(ag->ev_sigint);
	if (ag->ev_sighup != NULL)
		event_free(ag->ev_sighup);
	if (ag->base != NULL)
		event_base_free(ag->base);
	agent_state_free(ag->state);
	agent_inbox_free(ag->inbox);
	X509_STORE_free(ag->store);
	client_tls_free(ag->tls);
	conf_agent_free(ag->conf);
}

/* wuzha-agent [-d] -c agent.yaml */
int
main(int argc, char *argv[])
{
	struct agent	 ag;
	const char	*path = NULL;
	int		 ch, debug = 0;

	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("wuzha-agent %s\n", WUZHA_VERSION);
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "--help") == 0)
		help();
	while ((ch = getopt(argc, argv, "c:dh")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'd':
			debug = 1;
			break;
		case 'h':
			help();
		default:
			usage();
		}
	}
	if (optind != argc || path == NULL)
		usage();
	log_init("wuzha-agent", debug ? LOG_L_DEBUG : LOG_L_INFO,
	    LOG_PRIO_JOURNAL);
	setvbuf(stdout, NULL, _IOFBF, 0);
	signal(SIGPIPE, SIG_IGN);

	memset(&ag, 0, sizeof(ag));
	ag.quiet_acks = 1;
	agent_setup(&ag, path);
	log_info("starting as %s, %zu alert ids remembered", ag.cn,
	    agent_state_count(ag.state));
	agent_connect(&ag);
	event_base_dispatch(ag.base);
	log_info("stopped");
	agent_teardown(&ag);
	return 0;
}
