/* SPDX-License-Identifier: ISC */
/*
 * http: the small web server behind the people's pages (the advisor's
 * inbox in wuzha-agent, the desk's console in wuzhactl serve).  It runs on
 * libevent's evhttp in the program's own event loop and only ever on
 * loopback.  Every request passes the same checks before a page sees it:
 *
 *   - the path starts with the per-start secret: /SECRET/... (else 404);
 *   - Host names this listener by a loopback name (127.0.0.1, localhost,
 *     [::1]) and its port, so a DNS-rebound name is refused (421);
 *   - Origin, when sent, is this listener's own origin (403);
 *   - a POST carries the per-start token in X-Wuzha-Token (403), which a
 *     form on another site cannot set, and a body of at most
 *     HTTP_BODY_MAX bytes, form-encoded.
 *
 * Every answer has a strict Content-Security-Policy (own scripts and
 * styles only, no inline code, no framing), nosniff, no referrer (the
 * secret is in the URL) and no caching.  Static files are embedded at
 * build time (client/web/, see embed.py); in an HTML file the text
 * @TOKEN@ is replaced by the token.  Server-Sent Events streams are
 * bounded in number and in bytes queued for each.
 */
#ifndef WUZHA_HTTP_H
#define WUZHA_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evbuffer;
struct evhttp_request;
struct evkeyvalq;

#define HTTP_SECRET_LEN		32	/* hex digits in the URL's secret */
#define HTTP_TOKEN_LEN		32	/* hex digits in the POST token */
#define HTTP_BODY_MAX		16384	/* largest POST body: a clue's 4096
					 * bytes of text, percent-encoded */
#define HTTP_HEADERS_MAX	8192	/* largest request head */
#define HTTP_TIMEOUT_S		30	/* idle request connection */
#define HTTP_SSE_MAX		32	/* event streams at once */
#define HTTP_SSE_QUEUE_MAX	(1024 * 1024)	/* bytes queued per stream */
#define HTTP_SSE_PING_S		15	/* comment line to keep streams up */

/* An embedded file: path under the secret, its type and bytes. */
struct http_asset {
	const char		*path;
	const char		*type;
	const unsigned char	*data;
	size_t			 len;
};

struct http_srv;
struct http_sse;

/*
 * A request that passed the checks.  method is "GET" or "POST"; path is
 * what follows /SECRET/ ("" for the page itself); form holds a POST's
 * decoded fields (NULL for a GET).  The handler answers with one of the
 * http_reply_* calls or http_sse_open; not answering is a bug.
 */
typedef void	http_handler_fn(struct http_srv *, struct evhttp_request *,
		    const char *method, const char *path,
		    const struct evkeyvalq *form, void *arg);

/*
 * Listen on addr ("127.0.0.1:0", "[::1]:8080"; a port of 0 picks one).
 * A host other than a loopback address is refused.  assets end with a
 * NULL path; index names the asset served for "" (the page itself).
 */
struct http_srv	*http_srv_new(struct event_base *, const char *addr,
		    const struct http_asset *assets, const char *index,
		    http_handler_fn *, void *arg, char *err, size_t errlen);
void		 http_srv_free(struct http_srv *);

/* "http://127.0.0.1:PORT/SECRET/" (the page's address, secret included). */
const char	*http_srv_url(const struct http_srv *);
/* The token a POST must carry (tests use it to check the refusals). */
const char	*http_srv_token(const struct http_srv *);
/* Is addr ("host:port") a loopback address?  For config checks. */
int		 http_addr_loopback(const char *addr);

/* Answers: JSON (the buffer is drained), a plain error, or no content. */
void		 http_reply_json(struct evhttp_request *, int code,
		    struct evbuffer *);
void		 http_reply_error(struct evhttp_request *, int code,
		    const char *reason);
void		 http_reply_text(struct evhttp_request *, int code,
		    const char *type, const char *disposition,
		    struct evbuffer *);

/*
 * Start an event stream on req.  NULL (and 503 sent) when HTTP_SSE_MAX
 * are open.  The stream ends when the browser goes (then closed(arg) is
 * called, if set, and the stream is gone); send to every open stream with
 * http_sse_broadcast.
 */
struct http_sse	*http_sse_open(struct http_srv *, struct evhttp_request *,
		    void (*closed)(void *), void *arg);
/*
 * From a connection's close callback: the request whose answer was not
 * finished is freed if libevent left it to us.
 */
void		 http_req_gone(struct evhttp_request *);
/* End a stream from this side (the browser may reconnect). */
void		 http_sse_close(struct http_sse *);
size_t		 http_sse_count(const struct http_srv *);
/* Queue "event: NAME\ndata: DATA\n\n" (DATA holds no newline). */
void		 http_sse_send(struct http_sse *, const char *event,
		    const char *data, size_t len);
void		 http_sse_broadcast(struct http_srv *, const char *event,
		    const char *data, size_t len);

/*
 * JSON helpers: a string, escaped so that it is also safe inside HTML
 * (<, >, & and U+2028/2029 as \u escapes); len bytes of UTF-8.
 */
void		 http_json_str(struct evbuffer *, const char *s, size_t len);

#endif
