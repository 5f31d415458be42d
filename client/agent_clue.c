/* SPDX-License-Identifier: ISC */
/*
 * agent_clue: the clues the person reports from the inbox page.  A clue
 * is signed here with the agent's own key (the page never sees the key),
 * sent as CLUE over the agent's session, and listed on the page with
 * what became of it: sending, stored (CLUE_OK), refused (ERROR with the
 * clue's id), then the states the observers gave it, which the daemon
 * tells in CLUES (which = mine), asked for on each session and whenever
 * the page looks.  A clue sent but not answered (the session ended
 * first) is sent again, the same signed bytes, on the next session: the
 * daemon answers a repeat as the first time.  Nothing here is kept
 * across restarts: the daemon has the clues, and the list comes back
 * from it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "clock.h"
#include "compat.h"
#include "proto.h"
#include "client.h"
#include "agent.h"
#include "http.h"
#include "log.h"

#define CLUES_RETRY_MS	2000	/* after a 501: the same clue again */
#define CLUES_KEPT	100	/* clues listed on the page at most: 100 of
				 * 4 KiB stay well inside an event stream's
				 * queue (HTTP_SSE_QUEUE_MAX) */

/* One clue of ours as the page shows it. */
struct agent_clue {
	proto_id	 id;
	char		*text;
	char		*contact;
	char		*note;		/* the handled mark's note, or NULL */
	uint64_t	 at;
	uint64_t	 seq;		/* 0 until stored */
	uint8_t		 state;		/* enum proto_clue_state */
	proto_id	 by;
	char		 error[PROTO_REASON_MAX + 1];	/* refused: why */
	int		 sending;	/* sent, no answer yet */
	uint8_t		*frame;		/* while sending: the CLUE frame */
	size_t		 framelen;
};

struct agent_clues {
	EVP_PKEY		*key;
	char			 cn[PROTO_ID_MAX + 1];
	struct agent_clue	*v;		/* newest last */
	size_t			 n;
	agent_clues_send_fn	*send;		/* onto the session, if up */
	void			*arg;
	struct agent_page	*page;		/* told of changes, or NULL */
	struct event		*ev_retry;
};

static void
clue_free_fields(struct agent_clue *c)
{
	free(c->text);
	free(c->contact);
	free(c->note);
	free(c->frame);
	c->frame = NULL;
}

/* Answered: the frame need not go again. */
static void
clue_answered(struct agent_clue *c)
{
	c->sending = 0;
	free(c->frame);
	c->frame = NULL;
	c->framelen = 0;
}

static void	clues_retry_cb(evutil_socket_t, short, void *);
static int	clues_on_list(struct agent_clues *, const uint8_t *, size_t);

struct agent_clues *
agent_clues_new(struct event_base *base, EVP_PKEY *key, const char *cn,
    agent_clues_send_fn *send, void *arg)
{
	struct agent_clues	*ac;

	if ((ac = calloc(1, sizeof(*ac))) == NULL)
		return NULL;
	if ((ac->ev_retry = evtimer_new(base, clues_retry_cb, ac)) == NULL) {
		free(ac);
		return NULL;
	}
	ac->key = key;
	ac->send = send;
	ac->arg = arg;
	strlcpy(ac->cn, cn, sizeof(ac->cn));
	return ac;
}

void
agent_clues_set_page(struct agent_clues *ac, struct agent_page *page)
{
	ac->page = page;
}

void
agent_clues_free(struct agent_clues *ac)
{
	size_t	i;

	if (ac == NULL)
		return;
	for (i = 0; i < ac->n; i++)
		clue_free_fields(&ac->v[i]);
	free(ac->v);
	EVP_PKEY_free(ac->key);
	event_free(ac->ev_retry);
	free(ac);
}

static struct agent_clue *
clue_find(struct agent_clues *ac, const char *id)
{
	size_t	i;

	for (i = 0; i < ac->n; i++)
		if (strcmp(ac->v[i].id, id) == 0)
			return &ac->v[i];
	return NULL;
}

/* A new entry (the oldest dropped past CLUES_KEPT); NULL if no memory. */
static struct agent_clue *
clue_add(struct agent_clues *ac, const char *id)
{
	struct agent_clue	*c, *nv;

	if (ac->n == CLUES_KEPT) {
		clue_free_fields(&ac->v[0]);
		memmove(ac->v, ac->v + 1, (ac->n - 1) * sizeof(*ac->v));
		ac->n--;
	}
	if ((nv = reallocarray(ac->v, ac->n + 1, sizeof(*nv))) == NULL)
		return NULL;
	ac->v = nv;
	c = &ac->v[ac->n++];
	memset(c, 0, sizeof(*c));
	strlcpy(c->id, id, sizeof(c->id));
	return c;
}

static char *
clue_dup(const uint8_t *p, size_t len)
{
	return len == 0 ? NULL : strndup((const char *)p, len);
}

/* "clue-YYYYMMDD-" and 12 random hex digits. */
static void
clue_new_id(char *buf, size_t len)
{
	uint8_t		r[6];
	time_t		t = time(NULL);
	struct tm	tm;
	size_t		i, off;

	gmtime_r(&t, &tm);
	off = strftime(buf, len, "clue-%Y%m%d-", &tm);
	client_random(r, sizeof(r));
	for (i = 0; i < sizeof(r) && off + 2 < len; i++, off += 2)
		snprintf(buf + off, len - off, "%02x", r[i]);
}

/*
 * Sign a clue from us at node and put its CLUE frame into out (a fresh
 * buffer); listed as sending.  0, or -1 (nothing listed, out empty).
 */
static int
clue_report(struct agent_clues *ac, const char *node, const char *text,
    const char *contact, struct proto_buf *out, char *id, size_t idlen)
{
	struct proto_clue	 cl;
	struct proto_clue_msg	 m;
	struct proto_buf	 body;
	struct agent_clue	*c;
	uint8_t			 sig[PROTO_SIG_LEN];

	memset(&cl, 0, sizeof(cl));
	clue_new_id(cl.id, sizeof(cl.id));
	strlcpy(cl.reporter, ac->cn, sizeof(cl.reporter));
	strlcpy(cl.node, node, sizeof(cl.node));
	cl.text.p = (const uint8_t *)text;
	cl.text.len = strlen(text);
	if (contact != NULL && contact[0] != '\0') {
		cl.contact.p = (const uint8_t *)contact;
		cl.contact.len = strlen(contact);
	}
	cl.at = now_ms();
	pbuf_init(&body);
	proto_clue_encode(&body, &cl);
	if (body.err != 0 ||
	    proto_clue_sign(body.data, body.len, 0, ac->key, sig) == -1) {
		pbuf_free(&body);
		return -1;
	}
	m.body.p = body.data;
	m.body.len = body.len;
	m.sig.p = sig;
	m.sig.len = sizeof(sig);
	pbuf_init(out);
	proto_clue_msg_encode(out, PROTO_T_CLUE, &m);
	pbuf_free(&body);
	if (out->err != 0 || (c = clue_add(ac, cl.id)) == NULL) {
		pbuf_free(out);
		return -1;
	}
	c->text = strdup(text);
	c->contact = contact != NULL && contact[0] != '\0' ?
	    strdup(contact) : NULL;
	c->at = cl.at;
	c->sending = 1;
	if ((c->frame = malloc(out->len)) != NULL) {
		memcpy(c->frame, out->data, out->len);
		c->framelen = out->len;
	}
	strlcpy(id, cl.id, idlen);
	log_info("page: clue %s reported (%zu bytes)", cl.id, cl.text.len);
	return 0;
}

/* The next CLUE sent but not answered, from *cursor (0 at first). */
static int
clue_unanswered(const struct agent_clues *ac, size_t *cursor,
    struct proto_buf *out)
{
	const struct agent_clue	*c;

	for (; *cursor < ac->n; (*cursor)++) {
		c = &ac->v[*cursor];
		if (!c->sending || c->frame == NULL)
			continue;
		pbuf_init(out);
		pbuf_raw(out, c->frame, c->framelen);
		(*cursor)++;
		return 1;
	}
	return 0;
}

int
agent_clues_page_report(struct agent_clues *ac, const char *node,
    const char *text, const char *contact, char *id, size_t idlen,
    char *why, size_t whylen)
{
	struct proto_buf	 b;

	if (node[0] == '\0') {
		snprintf(why, whylen, "not connected to the server: try again "
		    "when the page says connected");
		return -1;
	}
	if (clue_report(ac, node, text, contact, &b, id, idlen) == -1) {
		snprintf(why, whylen, "cannot sign the clue");
		return -1;
	}
	if (ac->send(ac->arg, &b) == -1) {
		/* Not on the page: it would wait there for nothing. */
		clue_free_fields(&ac->v[ac->n - 1]);
		ac->n--;
		snprintf(why, whylen, "not connected to the server: try again "
		    "when the page says connected");
		return -1;
	}
	agent_page_clues_changed(ac->page);
	return 0;
}

void
agent_clues_ask(struct agent_clues *ac)
{
	struct proto_clues_req	q;
	struct proto_buf	b;

	if (ac->page == NULL)
		return;		/* nobody to show them to */
	memset(&q, 0, sizeof(q));
	q.which = PROTO_CLUES_MINE;
	q.limit = CLUES_KEPT;
	pbuf_init(&b);
	proto_clues_req_encode(&b, &q);
	(void)ac->send(ac->arg, &b);
}

/* What was sent and not answered, or not stored, goes again. */
static void
clues_send_again(struct agent_clues *ac)
{
	struct proto_buf	 b;
	size_t			 cur = 0;

	while (clue_unanswered(ac, &cur, &b) == 1) {
		log_info("clue %s sent again: not answered or not stored",
		    ac->v[cur - 1].id);
		if (ac->send(ac->arg, &b) == -1)
			return;		/* the next session */
	}
}

static void
clues_retry_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	clues_send_again(arg);
}

void
agent_clues_session(struct agent_clues *ac)
{
	clues_send_again(ac);
	agent_clues_ask(ac);
}

static int
clues_on_ok(struct agent_clues *ac, const uint8_t *p, size_t len)
{
	struct proto_clue_ok	 ok;
	struct agent_clue	*c;
	int			 rc;

	if ((rc = proto_clue_ok_decode(p, len, &ok)) != 0) {
		log_warnx("bad CLUE_OK: %s", proto_err_name(-rc));
		return 0;
	}
	if ((c = clue_find(ac, ok.id)) == NULL)
		return 0;
	log_info("clue %s stored, seq %" PRIu64, ok.id, ok.seq);
	clue_answered(c);
	c->seq = ok.seq;
	c->error[0] = '\0';
	return 1;
}

int
agent_clues_on_error(struct agent_clues *ac, const struct proto_error *e)
{
	struct timeval		 tv = { CLUES_RETRY_MS / 1000,
				    (CLUES_RETRY_MS % 1000) * 1000 };
	struct agent_clue	*c;

	if (e->ref[0] == '\0' || (c = clue_find(ac, e->ref)) == NULL ||
	    c->seq != 0)
		return 0;
	log_warnx("clue %s: %s (%u): %.*s", e->ref, proto_err_name(e->code),
	    e->code, (int)e->text.len, (const char *)e->text.p);
	if (e->code == PROTO_E_STORE && c->frame != NULL) {
		/* Not stored: still sending, the same again in a moment. */
		if (!evtimer_pending(ac->ev_retry, NULL))
			evtimer_add(ac->ev_retry, &tv);
		return 1;
	}
	clue_answered(c);
	snprintf(c->error, sizeof(c->error), "%s (%u): %.*s",
	    proto_err_name(e->code), e->code, (int)e->text.len,
	    (const char *)e->text.p);
	agent_page_clues_changed(ac->page);
	return 1;
}

int
agent_clues_frame(struct agent_clues *ac, uint8_t type, const uint8_t *p,
    size_t len)
{
	switch (type) {
	case PROTO_T_CLUE_OK:
		if (clues_on_ok(ac, p, len)) {
			agent_page_clues_changed(ac->page);
			agent_clues_ask(ac);
		}
		return 1;
	case PROTO_T_CLUES:
		if (clues_on_list(ac, p, len))
			agent_page_clues_changed(ac->page);
		return 1;
	case PROTO_T_CLUE_PUSH:
		/* For the person at a console (wuzhactl clues), not here. */
		log_info("a clue was reported to us: see wuzhactl clues");
		return 1;
	}
	return 0;
}

/* CLUES (mine): the daemon's word on each, merged into the list. */
static int
clues_on_list(struct agent_clues *ac, const uint8_t *p, size_t len)
{
	struct proto_clues		 m;
	struct proto_clue_item		 it;
	struct proto_clue_stored	 st;
	struct proto_clue		 cl;
	struct agent_clue		*c;
	size_t				 cur = 0;
	int				 rc;

	if ((rc = proto_clues_decode(p, len, &m)) != 0) {
		log_warnx("bad CLUES: %s", proto_err_name(-rc));
		return 0;
	}
	while ((rc = proto_clue_item_next(&m.clues, &cur, &it)) == 1) {
		if (proto_clue_stored_decode(it.clue.p, it.clue.len, &st) != 0 ||
		    proto_clue_decode(st.body.p, st.body.len, &cl) != 0 ||
		    strcmp(cl.reporter, ac->cn) != 0)
			continue;
		if ((c = clue_find(ac, cl.id)) == NULL) {
			if ((c = clue_add(ac, cl.id)) == NULL)
				break;
			c->text = clue_dup(cl.text.p, cl.text.len);
			c->contact = clue_dup(cl.contact.p, cl.contact.len);
			c->at = cl.at;
		}
		clue_answered(c);
		c->error[0] = '\0';
		c->seq = it.seq;
		c->state = it.state;
		strlcpy(c->by, it.by, sizeof(c->by));
		free(c->note);
		c->note = clue_dup(it.note.p, it.note.len);
	}
	return 1;
}

static void
clue_kv(struct evbuffer *b, const char *key, const char *s)
{
	evbuffer_add_printf(b, "\"%s\":", key);
	http_json_str(b, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
	evbuffer_add(b, ",", 1);
}

void
agent_clues_json(const struct agent_clues *ac, struct evbuffer *b)
{
	const struct agent_clue	*c;
	const char		*st;
	size_t			 i;

	evbuffer_add(b, "[", 1);
	for (i = ac->n; i > 0; i--) {
		c = &ac->v[i - 1];
		st = c->sending ? "sending" : c->error[0] ? "refused" :
		    proto_clue_state_name(c->state);
		evbuffer_add(b, "{", 1);
		clue_kv(b, "id", c->id);
		clue_kv(b, "text", c->text);
		clue_kv(b, "contact", c->contact);
		clue_kv(b, "state", st);
		clue_kv(b, "by", c->by);
		clue_kv(b, "note", c->note);
		clue_kv(b, "error", c->error);
		evbuffer_add_printf(b, "\"seq\":%" PRIu64 ",\"at\":%" PRIu64
		    "}%s", c->seq, c->at, i > 1 ? "," : "");
	}
	evbuffer_add(b, "]", 1);
}
