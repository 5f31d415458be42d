/* SPDX-License-Identifier: ISC */
/*
 * agent_page: the advisor's inbox page and the campus screens' display
 * page, served by wuzha-agent on loopback (client/http.c does the
 * checks).  The browser gets the alerts as JSON and their changes as
 * Server-Sent Events; what the person does (the alert was on screen,
 * read, relayed to N people) comes back as POSTs and goes to the agent,
 * which records it and sends the ack.  The page's files are in
 * client/web/; every alert text is data, never markup.
 *
 *	GET  /S/			the inbox (inbox.html)
 *	GET  /S/display			the display page
 *	GET  /S/api/alerts		{principal, connected, now, alerts: [...]}
 *	GET  /S/api/events		event stream: "alert" {item}, "status" {...}
 *	POST /S/api/shown  id=ID...	on screen now
 *	POST /S/api/ack	   id=ID&state=read|relayed[&reach=N]
 *	GET  /S/api/clues	{clues: [...]}: our clues, newest first
 *	POST /S/api/clue   text=TEXT[&contact=TEXT]	report a clue upward
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "clock.h"
#include "proto.h"
#include "agent.h"
#include "http.h"
#include "log.h"

extern const struct http_asset agent_web_assets[];

struct agent_page {
	struct http_srv		*srv;
	struct agent_inbox	*inbox;
	const struct agent_page_ops *ops;
	void			*arg;
	char			 principal[PROTO_ID_MAX + 1];
	int			 connected;
	char			 server[128];
};

#define PAGE_REACH_MAX	100000	/* a head count above this is a typo */

const char *
agent_ack_name(int state)
{
	switch (state) {
	case PROTO_ACK_DELIVERED:
		return "delivered";
	case PROTO_ACK_SHOWN:
		return "shown";
	case PROTO_ACK_READ:
		return "read";
	case PROTO_ACK_RELAYED:
		return "relayed";
	default:
		return "none";
	}
}

static void
page_kv_str(struct evbuffer *b, const char *key, const char *s, size_t len)
{
	evbuffer_add_printf(b, "\"%s\":", key);
	http_json_str(b, s, len);
	evbuffer_add(b, ",", 1);
}

static void
page_kv_view(struct evbuffer *b, const char *key, const struct proto_view *v)
{
	page_kv_str(b, key, (const char *)v->p, v->len);
}

/* One inbox item as a JSON object. */
static void
page_item_json(struct evbuffer *b, const struct agent_inbox_item *it)
{
	const struct proto_alert	*a = &it->a;
	const char			*s;

	evbuffer_add(b, "{", 1);
	page_kv_str(b, "id", a->id, strlen(a->id));
	evbuffer_add_printf(b, "\"seq\":%" PRIu64 ",", it->seq);
	page_kv_str(b, "issuer", a->issuer, strlen(a->issuer));
	page_kv_str(b, "target", a->target, strlen(a->target));
	s = proto_msg_type_name(a->msg_type);
	page_kv_str(b, "type", s ? s : "?", s ? strlen(s) : 1);
	page_kv_str(b, "references", a->references, strlen(a->references));
	s = proto_category_name(a->category);
	page_kv_str(b, "category", s ? s : "?", s ? strlen(s) : 1);
	s = proto_severity_name(a->severity);
	page_kv_str(b, "severity", s ? s : "?", s ? strlen(s) : 1);
	s = proto_alert_status_name(a->status);
	page_kv_str(b, "status", s ? s : "actual", s ? strlen(s) : 6);
	page_kv_view(b, "headline", &a->headline);
	page_kv_view(b, "text", &a->text);
	page_kv_view(b, "instruction", &a->instruction);
	evbuffer_add_printf(b, "\"issued_at\":%" PRIu64 ",\"expires_at\":%"
	    PRIu64 ",\"received_at\":%" PRIu64 ",\"relay_required\":%s,"
	    "\"reminder\":%s,\"withdrawn\":%s,", a->issued_at, a->expires_at,
	    it->received_at, a->relay_required ? "true" : "false",
	    (it->flags & PROTO_AF_REMINDER) ? "true" : "false",
	    it->withdrawn ? "true" : "false");
	page_kv_str(b, "replaced_by", it->replaced_by,
	    strlen(it->replaced_by));
	s = agent_ack_name(it->state);
	page_kv_str(b, "state", s, strlen(s));
	s = agent_ack_name(it->sent);
	page_kv_str(b, "sent", s, strlen(s));
	evbuffer_add_printf(b, "\"reach\":%u}", it->reach);
}

static void
page_status_json(struct agent_page *pg, struct evbuffer *b)
{
	evbuffer_add(b, "{", 1);
	page_kv_str(b, "principal", pg->principal, strlen(pg->principal));
	page_kv_str(b, "server", pg->server, strlen(pg->server));
	evbuffer_add_printf(b, "\"connected\":%s,\"now\":%" PRIu64 "}",
	    pg->connected ? "true" : "false", now_ms());
}

static void
page_json_error(struct evhttp_request *req, int code, const char *why)
{
	struct evbuffer	*b = evbuffer_new();

	if (b == NULL) {
		http_reply_error(req, 500, "Out of memory");
		return;
	}
	evbuffer_add(b, "{\"error\":", 9);
	http_json_str(b, why, strlen(why));
	evbuffer_add(b, "}", 1);
	http_reply_json(req, code, b);
	evbuffer_free(b);
}

static void
page_alerts(struct agent_page *pg, struct evhttp_request *req)
{
	struct agent_inbox_item	*it;
	struct evbuffer		*b = evbuffer_new();
	int			 first = 1;

	if (b == NULL) {
		http_reply_error(req, 500, "Out of memory");
		return;
	}
	evbuffer_add(b, "{\"status\":", 10);
	page_status_json(pg, b);
	evbuffer_add(b, ",\"alerts\":[", 11);
	TAILQ_FOREACH(it, &pg->inbox->items, entry) {
		if (!first)
			evbuffer_add(b, ",", 1);
		first = 0;
		page_item_json(b, it);
	}
	evbuffer_add(b, "]}", 2);
	http_reply_json(req, 200, b);
	evbuffer_free(b);
}

/* POST api/shown: every id= given is on a screen now. */
static void
page_shown(struct agent_page *pg, struct evhttp_request *req,
    const struct evkeyvalq *form)
{
	struct evkeyval		*kv;
	struct agent_inbox_item	*it;
	struct evbuffer		*b;
	unsigned		 n = 0;

	TAILQ_FOREACH(kv, form, next) {
		if (strcmp(kv->key, "id") != 0)
			continue;
		if ((it = agent_inbox_find(pg->inbox, kv->value)) == NULL)
			continue;
		if (agent_ack_rank(it->state) <
		    agent_ack_rank(PROTO_ACK_SHOWN)) {
			pg->ops->ack(pg->arg, it, PROTO_ACK_SHOWN, 0);
			n++;
		}
	}
	if ((b = evbuffer_new()) == NULL) {
		http_reply_error(req, 500, "Out of memory");
		return;
	}
	evbuffer_add_printf(b, "{\"shown\":%u}", n);
	http_reply_json(req, 200, b);
	evbuffer_free(b);
}

/* POST api/ack: id, state read or relayed, reach for relayed. */
static void
page_ack(struct agent_page *pg, struct evhttp_request *req,
    const struct evkeyvalq *form)
{
	struct agent_inbox_item	*it;
	struct evbuffer		*b;
	const char		*id, *st, *reach;
	unsigned long		 r = 0;
	char			*end;
	int			 state;

	id = evhttp_find_header(form, "id");
	st = evhttp_find_header(form, "state");
	reach = evhttp_find_header(form, "reach");
	if (id == NULL || st == NULL) {
		page_json_error(req, 400, "id and state are required");
		return;
	}
	if ((it = agent_inbox_find(pg->inbox, id)) == NULL) {
		page_json_error(req, 404, "no such alert in this inbox");
		return;
	}
	if (strcmp(st, "read") == 0)
		state = PROTO_ACK_READ;
	else if (strcmp(st, "relayed") == 0)
		state = PROTO_ACK_RELAYED;
	else {
		page_json_error(req, 400, "state must be read or relayed");
		return;
	}
	if (state == PROTO_ACK_RELAYED) {
		errno = 0;
		if (reach == NULL || reach[0] < '0' || reach[0] > '9' ||
		    (r = strtoul(reach, &end, 10), *end != '\0') ||
		    errno != 0 || r > PAGE_REACH_MAX) {
			page_json_error(req, 400, "relayed needs the head "
			    "count, 0 to 100000");
			return;
		}
	} else if (reach != NULL) {
		page_json_error(req, 400, "a head count goes with relayed "
		    "only");
		return;
	}
	if (agent_ack_rank(state) < agent_ack_rank(it->state) ||
	    (state == it->state && state == PROTO_ACK_RELAYED &&
	    r != it->reach)) {
		page_json_error(req, 409, "already acknowledged further");
		return;
	}
	if (state != it->state)
		log_info("page: alert %s %s%s", it->a.id, st,
		    state == PROTO_ACK_RELAYED ? " by the person" : "");
	pg->ops->ack(pg->arg, it, state, (uint32_t)r);
	if ((b = evbuffer_new()) == NULL) {
		http_reply_error(req, 500, "Out of memory");
		return;
	}
	page_item_json(b, it);
	http_reply_json(req, 200, b);
	evbuffer_free(b);
}

/* GET api/clues: what we know of our clues; ask the daemon again. */
static void
page_clues(struct agent_page *pg, struct evhttp_request *req)
{
	struct evbuffer	*b = evbuffer_new();

	if (b == NULL) {
		http_reply_error(req, 500, "Out of memory");
		return;
	}
	evbuffer_add(b, "{\"clues\":", 9);
	pg->ops->clues_json(pg->arg, b);
	evbuffer_add(b, "}", 1);
	http_reply_json(req, 200, b);
	evbuffer_free(b);
	pg->ops->clues_refresh(pg->arg);
}

/* POST api/clue: text (1..4096 bytes), contact (optional, ..256). */
static void
page_clue(struct agent_page *pg, struct evhttp_request *req,
    const struct evkeyvalq *form)
{
	struct evbuffer	*b;
	const char	*text, *contact;
	char		 id[PROTO_ID_MAX + 1], why[256];
	size_t		 tl, cl;

	text = evhttp_find_header(form, "text");
	contact = evhttp_find_header(form, "contact");
	tl = text != NULL ? strlen(text) : 0;
	cl = contact != NULL ? strlen(contact) : 0;
	if (tl == 0) {
		page_json_error(req, 400, "the clue's text is required");
		return;
	}
	if (tl > PROTO_CLUE_TEXT_MAX || cl > PROTO_CLUE_CONTACT_MAX) {
		page_json_error(req, 400, "text at most 4096 bytes, contact at "
		    "most 256");
		return;
	}
	if (!proto_utf8_valid((const uint8_t *)text, tl) ||
	    !proto_utf8_valid((const uint8_t *)(contact ? contact : ""), cl)) {
		page_json_error(req, 400, "text is not valid UTF-8");
		return;
	}
	if (pg->ops->clue(pg->arg, text, cl > 0 ? contact : NULL, id,
	    sizeof(id), why, sizeof(why)) == -1) {
		page_json_error(req, 503, why);
		return;
	}
	if ((b = evbuffer_new()) == NULL) {
		http_reply_error(req, 500, "Out of memory");
		return;
	}
	evbuffer_add(b, "{", 1);
	page_kv_str(b, "id", id, strlen(id));
	evbuffer_add(b, "\"state\":\"sending\"}", 18);
	http_reply_json(req, 200, b);
	evbuffer_free(b);
}

static void
page_handler(struct http_srv *srv, struct evhttp_request *req,
    const char *method, const char *path, const struct evkeyvalq *form,
    void *arg)
{
	struct agent_page	*pg = arg;
	struct http_sse		*s;
	struct evbuffer		*b;

	if (strcmp(method, "GET") == 0) {
		if (strcmp(path, "api/alerts") == 0) {
			page_alerts(pg, req);
			return;
		}
		if (strcmp(path, "api/clues") == 0) {
			page_clues(pg, req);
			return;
		}
		if (strcmp(path, "api/events") == 0) {
			if ((s = http_sse_open(srv, req, NULL, NULL)) == NULL ||
			    (b = evbuffer_new()) == NULL)
				return;
			page_status_json(pg, b);
			http_sse_send(s, "status",
			    (const char *)evbuffer_pullup(b, -1),
			    evbuffer_get_length(b));
			evbuffer_free(b);
			return;
		}
	} else {
		if (strcmp(path, "api/ack") == 0) {
			page_ack(pg, req, form);
			return;
		}
		if (strcmp(path, "api/shown") == 0) {
			page_shown(pg, req, form);
			return;
		}
		if (strcmp(path, "api/clue") == 0) {
			page_clue(pg, req, form);
			return;
		}
	}
	http_reply_error(req, 404, "Not Found");
}

struct agent_page *
agent_page_new(struct event_base *base, const char *listen,
    struct agent_inbox *inbox, const char *principal,
    const struct agent_page_ops *ops, void *arg, char *err, size_t errlen)
{
	struct agent_page	*pg;

	if ((pg = calloc(1, sizeof(*pg))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pg->inbox = inbox;
	pg->ops = ops;
	pg->arg = arg;
	snprintf(pg->principal, sizeof(pg->principal), "%s", principal);
	if ((pg->srv = http_srv_new(base, listen, agent_web_assets,
	    "inbox.html", page_handler, pg, err, errlen)) == NULL) {
		free(pg);
		return NULL;
	}
	return pg;
}

const char *
agent_page_url(const struct agent_page *pg)
{
	return http_srv_url(pg->srv);
}

void
agent_page_changed(struct agent_page *pg, const struct agent_inbox_item *it)
{
	struct evbuffer	*b;

	if (pg == NULL || http_sse_count(pg->srv) == 0 ||
	    (b = evbuffer_new()) == NULL)
		return;
	page_item_json(b, it);
	http_sse_broadcast(pg->srv, "alert",
	    (const char *)evbuffer_pullup(b, -1), evbuffer_get_length(b));
	evbuffer_free(b);
}

void
agent_page_status(struct agent_page *pg, int connected, const char *server)
{
	struct evbuffer	*b;

	if (pg == NULL)
		return;
	pg->connected = connected;
	snprintf(pg->server, sizeof(pg->server), "%s", server ? server : "");
	if (http_sse_count(pg->srv) == 0 || (b = evbuffer_new()) == NULL)
		return;
	page_status_json(pg, b);
	http_sse_broadcast(pg->srv, "status",
	    (const char *)evbuffer_pullup(b, -1), evbuffer_get_length(b));
	evbuffer_free(b);
}

void
agent_page_clues_changed(struct agent_page *pg)
{
	struct evbuffer	*b;

	if (pg == NULL || http_sse_count(pg->srv) == 0 ||
	    (b = evbuffer_new()) == NULL)
		return;
	pg->ops->clues_json(pg->arg, b);
	http_sse_broadcast(pg->srv, "clues",
	    (const char *)evbuffer_pullup(b, -1), evbuffer_get_length(b));
	evbuffer_free(b);
}

void
agent_page_free(struct agent_page *pg)
{
	if (pg == NULL)
		return;
	http_srv_free(pg->srv);
	free(pg);
}
