/* SPDX-License-Identifier: ISC */
/*
 * http: the loopback web server of the people's pages (see http.h for
 * what every request must pass).  One evhttp in the caller's event loop;
 * the checks are done here once, so a page handler only ever sees
 * requests from a page this process served.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>

#include "client.h"
#include "http.h"
#include "log.h"

struct http_sse {
	TAILQ_ENTRY(http_sse)	 entry;
	struct http_srv		*srv;
	struct evhttp_request	*req;
	struct evhttp_connection *evcon;
	void			(*closed)(void *);
	void			*arg;
};
TAILQ_HEAD(http_sseq, http_sse);

struct http_srv {
	struct event_base		*base;
	struct evhttp			*http;
	const struct http_asset		*assets;
	const char			*index;
	http_handler_fn			*handler;
	void				*arg;
	uint16_t			 port;
	char				 secret[HTTP_SECRET_LEN + 1];
	char				 token[HTTP_TOKEN_LEN + 1];
	char				 url[160];
	/* Host values that name this listener, and the matching Origins. */
	char				 hosts[3][80];
	char				 origins[3][96];
	struct http_sseq		 sse;
	size_t				 nsse;
	struct event			*ev_ping;
};

static void	http_request_cb(struct evhttp_request *, void *);

static void
http_hex(char *out, size_t nhex)
{
	static const char	 digits[] = "0123456789abcdef";
	unsigned char		 raw[64];
	size_t			 i;

	client_random(raw, nhex / 2);
	for (i = 0; i < nhex / 2; i++) {
		out[2 * i] = digits[raw[i] >> 4];
		out[2 * i + 1] = digits[raw[i] & 15];
	}
	out[nhex] = '\0';
}

/* Split "host:port" or "[v6]:port"; host without brackets. */
static int
http_split(const char *addr, char *host, size_t hostlen, uint16_t *port)
{
	const char	*colon, *h = addr;
	size_t		 hl;
	char		*end;
	long		 p;

	if (addr[0] == '[') {
		const char *rb = strchr(addr, ']');

		if (rb == NULL || rb[1] != ':')
			return -1;
		h = addr + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		if ((colon = strrchr(addr, ':')) == NULL)
			return -1;
		hl = (size_t)(colon - addr);
	}
	if (hl == 0 || hl >= hostlen)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || p < 0 ||
	    p > 65535)
		return -1;
	*port = (uint16_t)p;
	return 0;
}

/* A numeric loopback host (127/8, ::1) or "localhost", or 0. */
static int
http_host_loopback(const char *host)
{
	struct in_addr	 a4;
	struct in6_addr	 a6;

	if (strcmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}

int
http_addr_loopback(const char *addr)
{
	char		host[64];
	uint16_t	port;

	return http_split(addr, host, sizeof(host), &port) == 0 &&
	    http_host_loopback(host);
}

static void
http_ping_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct http_srv	*srv = arg;
	struct http_sse	*s;
	struct evbuffer	*b;

	(void)fd;
	(void)ev;
	TAILQ_FOREACH(s, &srv->sse, entry) {
		if ((b = evbuffer_new()) == NULL)
			return;
		evbuffer_add(b, ": ping\n\n", 8);
		evhttp_send_reply_chunk(s->req, b);
		evbuffer_free(b);
	}
}

struct http_srv *
http_srv_new(struct event_base *base, const char *addr,
    const struct http_asset *assets, const char *index, http_handler_fn *fn,
    void *arg, char *err, size_t errlen)
{
	struct http_srv			*srv;
	struct evhttp_bound_socket	*bs;
	struct sockaddr_storage		 ss;
	socklen_t			 sl = sizeof(ss);
	struct timeval			 tv = { HTTP_SSE_PING_S, 0 };
	char				 host[64], bindhost[64];
	uint16_t			 port;

	if (http_split(addr, host, sizeof(host), &port) == -1) {
		snprintf(err, errlen, "%s: not host:port", addr);
		return NULL;
	}
	if (!http_host_loopback(host)) {
		snprintf(err, errlen, "%s: the pages are served on loopback "
		    "only (127.0.0.1, ::1 or localhost)", addr);
		return NULL;
	}
	snprintf(bindhost, sizeof(bindhost), "%s",
	    strcmp(host, "localhost") == 0 ? "127.0.0.1" : host);
	if ((srv = calloc(1, sizeof(*srv))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	TAILQ_INIT(&srv->sse);
	srv->base = base;
	srv->assets = assets;
	srv->index = index;
	srv->handler = fn;
	srv->arg = arg;
	if ((srv->http = evhttp_new(base)) == NULL) {
		snprintf(err, errlen, "evhttp_new failed");
		free(srv);
		return NULL;
	}
	evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_max_body_size(srv->http, HTTP_BODY_MAX);
	evhttp_set_max_headers_size(srv->http, HTTP_HEADERS_MAX);
	evhttp_set_timeout(srv->http, HTTP_TIMEOUT_S);
	evhttp_set_gencb(srv->http, http_request_cb, srv);
	if ((bs = evhttp_bind_socket_with_handle(srv->http, bindhost,
	    port)) == NULL) {
		snprintf(err, errlen, "cannot listen on %s: %s", addr,
		    strerror(errno));
		http_srv_free(srv);
		return NULL;
	}
	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss,
	    &sl) == -1) {
		snprintf(err, errlen, "getsockname: %s", strerror(errno));
		http_srv_free(srv);
		return NULL;
	}
	srv->port = ntohs(ss.ss_family == AF_INET6 ?
	    ((struct sockaddr_in6 *)&ss)->sin6_port :
	    ((struct sockaddr_in *)&ss)->sin_port);
	http_hex(srv->secret, HTTP_SECRET_LEN);
	http_hex(srv->token, HTTP_TOKEN_LEN);
	if (ss.ss_family == AF_INET6) {
		snprintf(srv->hosts[0], sizeof(srv->hosts[0]), "[::1]:%u",
		    srv->port);
		snprintf(srv->hosts[1], sizeof(srv->hosts[1]), "[%s]:%u",
		    bindhost, srv->port);
	} else {
		snprintf(srv->hosts[0], sizeof(srv->hosts[0]), "127.0.0.1:%u",
		    srv->port);
		snprintf(srv->hosts[1], sizeof(srv->hosts[1]), "%s:%u",
		    bindhost, srv->port);
	}
	snprintf(srv->hosts[2], sizeof(srv->hosts[2]), "localhost:%u",
	    srv->port);
	for (size_t i = 0; i < 3; i++)
		snprintf(srv->origins[i], sizeof(srv->origins[i]), "http://%s",
		    srv->hosts[i]);
	snprintf(srv->url, sizeof(srv->url), "http://%s/%s/", srv->hosts[1],
	    srv->secret);
	if ((srv->ev_ping = event_new(base, -1, EV_PERSIST, http_ping_cb,
	    srv)) == NULL || event_add(srv->ev_ping, &tv) == -1) {
		snprintf(err, errlen, "cannot set up the stream timer");
		http_srv_free(srv);
		return NULL;
	}
	return srv;
}

void
http_srv_free(struct http_srv *srv)
{
	struct http_sse	*s;

	if (srv == NULL)
		return;
	while ((s = TAILQ_FIRST(&srv->sse)) != NULL) {
		TAILQ_REMOVE(&srv->sse, s, entry);
		evhttp_connection_set_closecb(s->evcon, NULL, NULL);
		free(s);
	}
	if (srv->ev_ping != NULL)
		event_free(srv->ev_ping);
	if (srv->http != NULL)
		evhttp_free(srv->http);
	free(srv);
}

const char *
http_srv_url(const struct http_srv *srv)
{
	return srv->url;
}

const char *
http_srv_token(const struct http_srv *srv)
{
	return srv->token;
}

/* Headers every answer carries. */
static void
http_common_headers(struct evhttp_request *req)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Security-Policy",
	    "default-src 'none'; script-src 'self'; style-src 'self'; "
	    "img-src 'self'; connect-src 'self'; font-src 'self'; "
	    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "Cross-Origin-Opener-Policy", "same-origin");
	evhttp_add_header(h, "Cross-Origin-Resource-Policy", "same-origin");
}

void
http_reply_error(struct evhttp_request *req, int code, const char *reason)
{
	struct evbuffer	*b;

	http_common_headers(req);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; charset=utf-8");
	if ((b = evbuffer_new()) == NULL) {
		evhttp_send_error(req, code, reason);
		return;
	}
	evbuffer_add_printf(b, "%d %s\n", code, reason);
	evhttp_send_reply(req, code, reason, b);
	evbuffer_free(b);
}

void
http_reply_json(struct evhttp_request *req, int code, struct evbuffer *b)
{
	http_common_headers(req);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json; charset=utf-8");
	evhttp_send_reply(req, code, code == 200 ? "OK" : "Error", b);
}

void
http_reply_text(struct evhttp_request *req, int code, const char *type,
    const char *disposition, struct evbuffer *b)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);

	http_common_headers(req);
	evhttp_add_header(h, "Content-Type", type);
	if (disposition != NULL)
		evhttp_add_header(h, "Content-Disposition", disposition);
	evhttp_send_reply(req, code, code == 200 ? "OK" : "Error", b);
}

/* An embedded file; in HTML, @TOKEN@ becomes the token. */
static void
http_send_asset(struct http_srv *srv, struct evhttp_request *req,
    const struct http_asset *a)
{
	static const char	 mark[] = "@TOKEN@";
	struct evbuffer		*b;
	const unsigned char	*p = a->data, *end = a->data + a->len, *m;

	if ((b = evbuffer_new()) == NULL) {
		http_reply_error(req, 500, "Out of memory");
		return;
	}
	if (strncmp(a->type, "text/html", 9) == 0) {
		while ((m = memmem(p, (size_t)(end - p), mark,
		    sizeof(mark) - 1)) != NULL) {
			evbuffer_add(b, p, (size_t)(m - p));
			evbuffer_add(b, srv->token, HTTP_TOKEN_LEN);
			p = m + sizeof(mark) - 1;
		}
	}
	evbuffer_add(b, p, (size_t)(end - p));
	http_reply_text(req, 200, a->type, NULL, b);
	evbuffer_free(b);
}

static int
http_eq(const char *a, const char *b)
{
	size_t	la = strlen(a), lb = strlen(b);

	return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}

/* Is v one of n strings stored width bytes apart from list? */
static int
http_one_of(const char *v, const char *list, size_t n, size_t width)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(v, list + i * width) == 0)
			return 1;
	return 0;
}

/* Who asked, for the log lines of a refusal. */
static const char *
http_peer(struct evhttp_request *req, char *buf, size_t len)
{
	struct evhttp_connection	*c = evhttp_request_get_connection(req);
	char				*addr = NULL;
	uint16_t			 port = 0;

	if (c != NULL)
		evhttp_connection_get_peer(c, &addr, &port);
	snprintf(buf, len, "%s:%u", addr ? addr : "?", port);
	return buf;
}

static void
http_refuse(struct evhttp_request *req, int code, const char *reason,
    const char *why)
{
	char	peer[80];

	log_warnx("page request from %s refused (%d): %s",
	    http_peer(req, peer, sizeof(peer)), code, why);
	http_reply_error(req, code, reason);
}

static void
http_request_cb(struct evhttp_request *req, void *arg)
{
	struct http_srv			*srv = arg;
	struct evkeyvalq		*in = evhttp_request_get_input_headers(req);
	struct evkeyvalq		 form;
	const struct evhttp_uri		*uri = evhttp_request_get_evhttp_uri(req);
	const struct http_asset		*a;
	const char			*path, *host, *origin, *tok, *ctype, *rest;
	const char			*method;
	struct evbuffer			*body;
	char				 buf[HTTP_BODY_MAX + 1];
	size_t				 n, i;
	int				 post;

	post = evhttp_request_get_command(req) == EVHTTP_REQ_POST;
	method = post ? "POST" : "GET";
	host = evhttp_find_header(in, "Host");
	if (host == NULL || !http_one_of(host, srv->hosts[0], 3,
	    sizeof(srv->hosts[0]))) {
		http_refuse(req, 421, "Misdirected Request",
		    "Host is not this loopback listener");
		return;
	}
	origin = evhttp_find_header(in, "Origin");
	if (origin != NULL && !http_one_of(origin, srv->origins[0], 3,
	    sizeof(srv->origins[0]))) {
		http_refuse(req, 403, "Forbidden", "Origin is another site");
		return;
	}
	/* Browsers say where a request comes from; refuse another site. */
	if ((tok = evhttp_find_header(in, "Sec-Fetch-Site")) != NULL &&
	    strcmp(tok, "same-origin") != 0 && strcmp(tok, "none") != 0) {
		http_refuse(req, 403, "Forbidden", "Sec-Fetch-Site is not "
		    "same-origin");
		return;
	}
	path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	if (path == NULL || path[0] != '/' ||
	    strncmp(path + 1, srv->secret, HTTP_SECRET_LEN) != 0 ||
	    CRYPTO_memcmp(path + 1, srv->secret, HTTP_SECRET_LEN) != 0 ||
	    path[1 + HTTP_SECRET_LEN] != '/') {
		http_refuse(req, 404, "Not Found", "path without the secret");
		return;
	}
	rest = path + 2 + HTTP_SECRET_LEN;
	if (post) {
		tok = evhttp_find_header(in, "X-Wuzha-Token");
		if (tok == NULL || !http_eq(tok, srv->token)) {
			http_refuse(req, 403, "Forbidden", "POST without the "
			    "page's token");
			return;
		}
		ctype = evhttp_find_header(in, "Content-Type");
		if (ctype == NULL || strncmp(ctype,
		    "application/x-www-form-urlencoded", 33) != 0) {
			http_refuse(req, 415, "Unsupported Media Type",
			    "POST body is not form-encoded");
			return;
		}
		body = evhttp_request_get_input_buffer(req);
		if ((n = evbuffer_get_length(body)) > HTTP_BODY_MAX) {
			http_refuse(req, 413, "Payload Too Large", "POST body "
			    "over the limit");
			return;
		}
		evbuffer_copyout(body, buf, n);
		buf[n] = '\0';
		TAILQ_INIT(&form);
		if (strlen(buf) != n ||
		    evhttp_parse_query_str(buf, &form) == -1) {
			evhttp_clear_headers(&form);
			http_refuse(req, 400, "Bad Request", "POST body does "
			    "not parse");
			return;
		}
		srv->handler(srv, req, method, rest, &form, srv->arg);
		evhttp_clear_headers(&form);
		return;
	}
	if (rest[0] == '\0' && srv->index != NULL)
		rest = srv->index;
	/* An embedded file by its name, or a page by its name less .html. */
	for (i = 0; srv->assets != NULL && srv->assets[i].path != NULL; i++) {
		a = &srv->assets[i];
		n = strlen(rest);
		if (strcmp(a->path, rest) == 0 ||
		    (strncmp(a->path, rest, n) == 0 && n > 0 &&
		    strcmp(a->path + n, ".html") == 0)) {
			http_send_asset(srv, req, a);
			return;
		}
	}
	srv->handler(srv, req, method, rest, NULL, srv->arg);
}

/* --- Server-Sent Events ------------------------------------------------ */

void
http_req_gone(struct evhttp_request *req)
{
	/*
	 * A browser that went while its answer was under way leaves the
	 * request cut off from its connection, and libevent then leaves it
	 * to us; one still on its connection goes with the connection.
	 */
	if (req != NULL && evhttp_request_get_connection(req) == NULL)
		evhttp_request_free(req);
}

static void
http_sse_closed(struct evhttp_connection *evcon, void *arg)
{
	struct http_sse	*s = arg;

	(void)evcon;
	http_req_gone(s->req);
	TAILQ_REMOVE(&s->srv->sse, s, entry);
	s->srv->nsse--;
	log_debug("page stream closed (%zu open)", s->srv->nsse);
	if (s->closed != NULL)
		s->closed(s->arg);
	free(s);
}

void
http_sse_close(struct http_sse *s)
{
	/* Frees the connection, which runs http_sse_closed. */
	evhttp_connection_free(s->evcon);
}

struct http_sse *
http_sse_open(struct http_srv *srv, struct evhttp_request *req,
    void (*closed)(void *), void *arg)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);
	struct http_sse		*s;

	if (srv->nsse >= HTTP_SSE_MAX) {
		http_refuse(req, 503, "Service Unavailable", "too many event "
		    "streams open");
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		http_reply_error(req, 500, "Out of memory");
		return NULL;
	}
	s->srv = srv;
	s->req = req;
	s->closed = closed;
	s->arg = arg;
	s->evcon = evhttp_request_get_connection(req);
	http_common_headers(req);
	evhttp_add_header(h, "Content-Type", "text/event-stream; charset=utf-8");
	evhttp_send_reply_start(req, 200, "OK");
	evhttp_connection_set_closecb(s->evcon, http_sse_closed, s);
	TAILQ_INSERT_TAIL(&srv->sse, s, entry);
	srv->nsse++;
	return s;
}

size_t
http_sse_count(const struct http_srv *srv)
{
	return srv->nsse;
}

void
http_sse_send(struct http_sse *s, const char *event, const char *data,
    size_t len)
{
	struct bufferevent	*bev = evhttp_connection_get_bufferevent(s->evcon);
	struct evbuffer		*b;

	/* A browser that reads nothing is cut off, not fed forever. */
	if (bev != NULL && evbuffer_get_length(bufferevent_get_output(bev)) >
	    HTTP_SSE_QUEUE_MAX) {
		log_warnx("page stream not reading (over %d bytes queued): "
		    "closing it", HTTP_SSE_QUEUE_MAX);
		http_sse_close(s);
		return;
	}
	if ((b = evbuffer_new()) == NULL)
		return;
	evbuffer_add_printf(b, "event: %s\ndata: ", event);
	evbuffer_add(b, data, len);
	evbuffer_add(b, "\n\n", 2);
	evhttp_send_reply_chunk(s->req, b);
	evbuffer_free(b);
}

void
http_sse_broadcast(struct http_srv *srv, const char *event, const char *data,
    size_t len)
{
	struct http_sse	*s, *next;

	for (s = TAILQ_FIRST(&srv->sse); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		http_sse_send(s, event, data, len);
	}
}

/* --- JSON -------------------------------------------------------------- */

void
http_json_str(struct evbuffer *b, const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i;

	evbuffer_add(b, "\"", 1);
	for (i = 0; i < len; i++) {
		unsigned char	c = p[i];

		if (c == '"' || c == '\\')
			evbuffer_add_printf(b, "\\%c", c);
		else if (c < 0x20 || c == '<' || c == '>' || c == '&' ||
		    c == 0x7f)
			evbuffer_add_printf(b, "\\u%04x", c);
		else if (c == 0xe2 && i + 2 < len && p[i + 1] == 0x80 &&
		    (p[i + 2] == 0xa8 || p[i + 2] == 0xa9)) {
			evbuffer_add_printf(b, "\\u%04x", p[i + 2] == 0xa8 ?
			    0x2028 : 0x2029);
			i += 2;
		} else
			evbuffer_add(b, &c, 1);
	}
	evbuffer_add(b, "\"", 1);
}
