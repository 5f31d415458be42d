/* SPDX-License-Identifier: ISC */
/*
 * client: one TLS connection to wuzhad, shared by the agent and the
 * console.  It connects, checks the daemon's certificate against the
 * pinned CA and the configured name, says HELLO, waits for WELCOME, and
 * from then on reads whole frames (length checked against max_frame from
 * the 5-byte header, before the payload is pulled up), answers PINGs,
 * sends its own every heartbeat and gives up on a peer silent for three
 * of them.  A reconnect offers the session ticket of the last connection
 * (client_tls.c), and the debug log says whether it was resumed.
 * Teardown is always deferred to an event of its own, so that
 * nothing is freed while one of its callbacks is on the stack.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "clock.h"
#include "conf.h"
#include "proto.h"
#include "client.h"
#include "client_int.h"
#include "log.h"

/*
 * Connection states.  Every change goes through client_set_state.
 *  NEW:        created, client_connect not called yet.
 *  CONNECTING: TCP connect under way (our own socket, not yet TLS).
 *  TLS:        TLS handshake under way on the connected socket.
 *  HELLO:      TLS up, HELLO sent, waiting for WELCOME.
 *  READY:      session up; frames flow both ways.
 *  CLOSING:    BYE queued; once it has left we half-close and drain input
 *              until the server closes too (CLIENT_BYE_MS at most), so
 *              that no unread byte turns our close into a reset.
 *  CLOSED:     socket done with; the reap event tells the owner.
 */
enum client_state {
	CLIENT_S_NEW,
	CLIENT_S_CONNECTING,
	CLIENT_S_TLS,
	CLIENT_S_HELLO,
	CLIENT_S_READY,
	CLIENT_S_CLOSING,
	CLIENT_S_CLOSED,
};

struct client {
	unsigned		 id;		/* for log lines */
	struct event_base	*base;
	struct client_tls	*tls;
	enum proto_role		 role;
	struct client_ops	 ops;
	void			*arg;
	enum client_state	 state;
	int			 fd;		/* ours until bev owns it */
	struct event		*ev_conn;	/* TCP connect finished */
	struct bufferevent	*bev;
	struct event		*ev_timer;	/* handshake, then BYE flush */
	struct event		*ev_beat;	/* PING, silence check */
	struct event		*ev_reap;	/* deferred teardown */
	char			*peer;		/* "host:port" from the config */
	char			*agent_name;	/* HELLO software name */
	uint32_t		 handshake_ms;
	uint32_t		 max_frame;	/* largest frame we accept */
	uint32_t		 peer_max;	/* largest the server takes */
	uint32_t		 hello_beat;	/* heartbeat asked for in HELLO */
	uint32_t		 beat_s;	/* heartbeat in force */
	uint64_t		 last_rx;	/* monotonic ms, last byte in */
	uint64_t		 nonce;		/* of our last PING */
	struct proto_welcome	 welcome;
	char			 reason[CLIENT_REASON_MAX];
	int			 in_cb;		/* owner callbacks on the stack */
	int			 told;		/* closed_cb has run */
	int			 dying;		/* client_free was called */
	int			 half_closed;	/* BYE out, SHUT_WR done */
};

static unsigned	client_next_id = 1;

static void	client_read_cb(struct bufferevent *, void *);
static void	client_write_cb(struct bufferevent *, void *);
static void	client_event_cb(struct bufferevent *, short, void *);
static void	client_timer_cb(evutil_socket_t, short, void *);
static void	client_beat_cb(evutil_socket_t, short, void *);
static void	client_reap_cb(evutil_socket_t, short, void *);
static void	client_conn_cb(evutil_socket_t, short, void *);
static void	client_shut(struct client *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* Name of a state, for the debug log. */
static const char *
client_state_name(enum client_state s)
{
	switch (s) {
	case CLIENT_S_NEW:
		return "new";
	case CLIENT_S_CONNECTING:
		return "connecting";
	case CLIENT_S_TLS:
		return "tls";
	case CLIENT_S_HELLO:
		return "hello";
	case CLIENT_S_READY:
		return "ready";
	case CLIENT_S_CLOSING:
		return "closing";
	case CLIENT_S_CLOSED:
		return "closed";
	}
	return "?";
}

static void
client_set_state(struct client *c, enum client_state s)
{
	log_debug("client %u %s: %s -> %s", c->id, c->peer,
	    client_state_name(c->state), client_state_name(s));
	c->state = s;
}

/* --- connection --------------------------------------------------------- */

/* A connection object in state NEW; nothing happens until client_connect. */
struct client *
client_new(struct event_base *base, struct client_tls *tls,
    const struct conf_agent *conf, enum proto_role role,
    const struct client_ops *ops, void *arg)
{
	struct client	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->id = client_next_id++;
	c->base = base;
	c->tls = tls;
	c->role = role;
	c->ops = *ops;
	c->arg = arg;
	c->state = CLIENT_S_NEW;
	c->fd = -1;
	c->handshake_ms = CLIENT_HANDSHAKE_MS;
	c->max_frame = conf->max_frame ? conf->max_frame :
	    PROTO_FRAME_MAX_DEFAULT;
	c->peer_max = PROTO_FRAME_MAX_DEFAULT;
	c->hello_beat = conf->heartbeat_s;
	if ((c->peer = strdup(conf->server)) == NULL)
		goto fail;
	if ((c->ev_timer = evtimer_new(base, client_timer_cb, c)) == NULL ||
	    (c->ev_beat = event_new(base, -1, EV_PERSIST, client_beat_cb,
	    c)) == NULL ||
	    (c->ev_reap = event_new(base, -1, 0, client_reap_cb, c)) == NULL)
		goto fail;
	return c;
 fail:
	client_free(c);
	return NULL;
}

void
client_set_handshake_ms(struct client *c, uint32_t ms)
{
	c->handshake_ms = ms;
}

void
client_set_max_frame(struct client *c, uint32_t max)
{
	if (max > PROTO_FRAME_MAX_LIMIT)
		max = PROTO_FRAME_MAX_LIMIT;
	if (max >= PROTO_FRAME_HDR)
		c->max_frame = max;
}

int
client_set_peer(struct client *c, const char *hostport)
{
	char	*p;

	if (c->state != CLIENT_S_NEW || (p = strdup(hostport)) == NULL)
		return -1;
	free(c->peer);
	c->peer = p;
	return 0;
}

void
client_set_agent_name(struct client *c, const char *name)
{
	free(c->agent_name);
	c->agent_name = name ? strdup(name) : NULL;
}

int
client_ready(const struct client *c)
{
	return c->state == CLIENT_S_READY;
}

const struct proto_welcome *
client_welcome(const struct client *c)
{
	return c->welcome.version ? &c->welcome : NULL;
}

const char *
client_peer(const struct client *c)
{
	return c->peer;
}

/*
 * Resolve "host:port": address literals ("127.0.0.1:7443", "[::1]:7443")
 * without a lookup; anything else through getaddrinfo, which may block
 * briefly (the server is normally given as an address).
 */
static int
client_resolve(const char *server, struct sockaddr_storage *ss, int *sslen,
    char *err, size_t errlen)
{
	struct addrinfo	 hints, *res;
	char		 host[256], *colon;
	int		 rc;

	*sslen = sizeof(*ss);
	memset(ss, 0, sizeof(*ss));
	if (evutil_parse_sockaddr_port(server, (struct sockaddr *)ss,
	    sslen) == 0) {
		if ((ss->ss_family == AF_INET &&
		    ((struct sockaddr_in *)ss)->sin_port != 0) ||
		    (ss->ss_family == AF_INET6 &&
		    ((struct sockaddr_in6 *)ss)->sin6_port != 0))
			return 0;
		snprintf(err, errlen, "%s: no port", server);
		return -1;
	}
	if (strlen(server) >= sizeof(host) ||
	    (colon = strrchr(strcpy(host, server), ':')) == NULL ||
	    colon == host || colon[1] == '\0') {
		snprintf(err, errlen, "%s: not HOST:PORT", server);
		return -1;
	}
	*colon = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, colon + 1, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s: %s", server, gai_strerror(rc));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = (int)res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/*
 * The TCP connection is up: put TLS on it.  From here on the bufferevent
 * owns the socket and the SSL object.
 */
static int
client_start_tls(struct client *c)
{
	SSL	*ssl;

	if ((ssl = client_tls_ssl(c->tls)) == NULL) {
		ERR_clear_error();
		return -1;
	}
	c->bev = bufferevent_openssl_socket_new(c->base, c->fd, ssl,
	    BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (c->bev == NULL) {
		SSL_free(ssl);
		return -1;
	}
	c->fd = -1;
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, client_read_cb, client_write_cb,
	    client_event_cb, c);
	/* Whole frames are consumed at once; this only bounds a burst. */
	bufferevent_setwatermark(c->bev, EV_READ, 0,
	    2 * ((size_t)c->max_frame + PROTO_FRAME_HDR));
	client_set_state(c, CLIENT_S_TLS);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return 0;
}

/* Our non-blocking connect has finished, one way or the other. */
static void
client_conn_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct client	*c = arg;
	socklen_t	 sl;
	int		 soerr = 0;

	(void)ev;
	sl = sizeof(soerr);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1)
		soerr = errno;
	if (soerr != 0) {
		client_shut(c, "cannot connect: %s", strerror(soerr));
		return;
	}
	if (client_start_tls(c) == -1)
		client_shut(c, "cannot set up TLS for %s", c->peer);
}

/* Start a non-blocking connect; TLS follows when it completes. */
int
client_connect(struct client *c, char *err, size_t errlen)
{
	struct sockaddr_storage	 ss;
	struct timeval		 tv;
	int			 sslen;

	if (c->state != CLIENT_S_NEW) {
		snprintf(err, errlen, "connection already used");
		return -1;
	}
	if (client_resolve(c->peer, &ss, &sslen, err, errlen) == -1)
		return -1;
	/* Close-on-exec: hook children must not inherit the connection. */
	if ((c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	client_set_state(c, CLIENT_S_CONNECTING);
	if (connect(c->fd, (struct sockaddr *)&ss, (socklen_t)sslen) == 0) {
		if (client_start_tls(c) == -1) {
			snprintf(err, errlen, "cannot set up TLS for %s",
			    c->peer);
			goto fail;
		}
	} else if (errno == EINPROGRESS) {
		if ((c->ev_conn = event_new(c->base, c->fd, EV_WRITE,
		    client_conn_cb, c)) == NULL ||
		    event_add(c->ev_conn, NULL) == -1) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	} else {
		snprintf(err, errlen, "%s", strerror(errno));
		goto fail;
	}
	tv.tv_sec = c->handshake_ms / 1000;
	tv.tv_usec = (c->handshake_ms % 1000) * 1000;
	evtimer_add(c->ev_timer, &tv);
	c->last_rx = mono_ms();
	log_debug("client %u: connecting to %s", c->id, c->peer);
	return 0;
 fail:
	if (c->ev_conn != NULL) {
		event_free(c->ev_conn);
		c->ev_conn = NULL;
	}
	if (c->fd != -1) {
		close(c->fd);
		c->fd = -1;
	}
	client_set_state(c, CLIENT_S_CLOSED);
	c->told = 1;
	return -1;
}

/* Queue raw bytes on the connection. */
static int
client_write(struct client *c, const void *p, size_t len)
{
	if (c->bev == NULL || bufferevent_write(c->bev, p, len) == -1)
		return -1;
	return 0;
}

/* Check each frame against the server's limit, then queue them all. */
int
client_send(struct client *c, struct proto_buf *b)
{
	size_t		 off;
	uint32_t	 flen;
	int		 rc = 0;

	if (c->state != CLIENT_S_READY || b->err != 0) {
		pbuf_free(b);
		pbuf_init(b);
		return -1;
	}
	for (off = 0; off + PROTO_FRAME_HDR <= b->len; off += 4 + flen) {
		flen = (uint32_t)b->data[off] << 24 |
		    (uint32_t)b->data[off + 1] << 16 |
		    (uint32_t)b->data[off + 2] << 8 | b->data[off + 3];
		if (flen > c->peer_max || flen > b->len - off - 4) {
			log_warnx("client %u: refusing to send a frame of %u "
			    "bytes (server accepts %u)", c->id, flen,
			    c->peer_max);
			rc = -1;
			break;
		}
	}
	if (rc == 0 && off != b->len)
		rc = -1;
	if (rc == 0)
		rc = client_write(c, b->data, b->len);
	pbuf_free(b);
	pbuf_init(b);
	return rc;
}

/* Send a message the library builds itself, in any live state. */
static void
client_send_own(struct client *c, struct proto_buf *b)
{
	if (b->err == 0)
		(void)client_write(c, b->data, b->len);
	pbuf_free(b);
}

/*
 * The BYE has left: tell the server we are done writing and wait for its
 * end of file (or the BYE timer) before the socket goes.
 */
static void
client_half_close(struct client *c)
{
	int	fd;

	if (c->half_closed)
		return;
	c->half_closed = 1;
	if ((fd = bufferevent_getfd(c->bev)) == -1 ||
	    shutdown(fd, SHUT_WR) == -1)
		client_shut(c, "closed by us");
}

/* Polite close: BYE if the session is up, then wait for it to leave. */
void
client_close(struct client *c, uint16_t code, const char *text)
{
	struct proto_buf	b;
	struct timeval		tv;

	switch (c->state) {
	case CLIENT_S_NEW:
	case CLIENT_S_CONNECTING:
	case CLIENT_S_TLS:
		client_shut(c, "closed by us");
		return;
	case CLIENT_S_HELLO:
	case CLIENT_S_READY:
		break;
	case CLIENT_S_CLOSING:
	case CLIENT_S_CLOSED:
		return;
	}
	pbuf_init(&b);
	proto_bye_encode(&b, code, text);
	client_send_own(c, &b);
	client_set_state(c, CLIENT_S_CLOSING);
	event_del(c->ev_beat);
	tv.tv_sec = CLIENT_BYE_MS / 1000;
	tv.tv_usec = (CLIENT_BYE_MS % 1000) * 1000;
	evtimer_add(c->ev_timer, &tv);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		client_half_close(c);
}

/*
 * The connection is over: stop all I/O now, keep the reason, and let the
 * reap event free the socket and tell the owner.
 */
static void
client_shut(struct client *c, const char *fmt, ...)
{
	va_list	ap;

	if (c->state == CLIENT_S_CLOSED)
		return;
	va_start(ap, fmt);
	vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
	va_end(ap);
	client_set_state(c, CLIENT_S_CLOSED);
	if (c->ev_conn != NULL)
		event_del(c->ev_conn);
	if (c->bev != NULL)
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	event_del(c->ev_timer);
	event_del(c->ev_beat);
	event_active(c->ev_reap, EV_TIMEOUT, 0);
}

/* Release everything the connection holds. */
static void
client_destroy(struct client *c)
{
	if (c->ev_conn != NULL)
		event_free(c->ev_conn);
	if (c->fd != -1)
		close(c->fd);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (c->ev_timer != NULL)
		event_free(c->ev_timer);
	if (c->ev_beat != NULL)
		event_free(c->ev_beat);
	if (c->ev_reap != NULL)
		event_free(c->ev_reap);
	free(c->peer);
	free(c->agent_name);
	free(c);
}

/* Free now, or from the reap event if a callback is on the stack. */
void
client_free(struct client *c)
{
	if (c == NULL)
		return;
	c->dying = 1;
	if (c->in_cb > 0) {
		if (c->ev_conn != NULL)
			event_del(c->ev_conn);
		if (c->bev != NULL)
			bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		event_del(c->ev_timer);
		event_del(c->ev_beat);
		event_active(c->ev_reap, EV_TIMEOUT, 0);
		return;
	}
	client_destroy(c);
}

/* Deferred teardown: free the socket, then tell the owner once. */
static void
client_reap_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct client	*c = arg;

	(void)fd;
	(void)ev;
	if (c->dying && c->in_cb == 0) {
		client_destroy(c);
		return;
	}
	if (c->state != CLIENT_S_CLOSED)
		return;
	if (c->ev_conn != NULL) {
		event_free(c->ev_conn);
		c->ev_conn = NULL;
	}
	if (c->fd != -1) {
		close(c->fd);
		c->fd = -1;
	}
	if (c->bev != NULL) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	if (!c->told && !c->dying) {
		c->told = 1;
		log_debug("client %u: closed: %s", c->id, c->reason);
		c->in_cb++;
		c->ops.closed_cb(c, c->reason, c->arg);
		c->in_cb--;
	}
}

/* Send HELLO once TLS is up. */
static void
client_hello(struct client *c)
{
	struct proto_buf	b;
	struct proto_hello	h;

	memset(&h, 0, sizeof(h));
	h.version = PROTO_VERSION;
	h.role = (uint8_t)c->role;
	h.heartbeat = c->hello_beat;
	if (c->agent_name != NULL) {
		h.agent.p = (const uint8_t *)c->agent_name;
		h.agent.len = strlen(c->agent_name);
	}
	pbuf_init(&b);
	proto_hello_encode(&b, &h);
	client_send_own(c, &b);
}

/* WELCOME: the session is up; start the heartbeat and tell the owner. */
static void
client_on_welcome(struct client *c, const uint8_t *p, size_t len)
{
	struct timeval	tv;
	int		rc;

	if ((rc = proto_welcome_decode(p, len, &c->welcome)) != 0) {
		memset(&c->welcome, 0, sizeof(c->welcome));
		client_shut(c, "bad WELCOME: %s", proto_err_name(-rc));
		return;
	}
	if (c->welcome.version != PROTO_VERSION) {
		client_shut(c, "server speaks protocol version %u, not %u",
		    c->welcome.version, PROTO_VERSION);
		return;
	}
	if (c->welcome.max_frame >= PROTO_FRAME_HDR)
		c->peer_max = c->welcome.max_frame;
	c->beat_s = c->welcome.heartbeat ? c->welcome.heartbeat :
	    c->hello_beat;
	event_del(c->ev_timer);
	client_set_state(c, CLIENT_S_READY);
	if (c->beat_s > 0) {
		tv.tv_sec = c->beat_s;
		tv.tv_usec = 0;
		event_add(c->ev_beat, &tv);
	}
	c->in_cb++;
	c->ops.welcome_cb(c, &c->welcome, c->arg);
	c->in_cb--;
}

/* One whole frame from the server. */
static void
client_dispatch(struct client *c, uint8_t type, const uint8_t *p, size_t len)
{
	struct proto_buf	b;
	struct proto_ping	ping;
	struct proto_bye	bye;
	int			rc;

	switch (type) {
	case PROTO_T_PING:
		if ((rc = proto_ping_decode(p, len, &ping)) != 0) {
			client_shut(c, "bad PING: %s", proto_err_name(-rc));
			return;
		}
		pbuf_init(&b);
		proto_ping_encode(&b, PROTO_T_PONG, &ping);
		client_send_own(c, &b);
		return;
	case PROTO_T_PONG:
		return;
	case PROTO_T_BYE:
		if (proto_bye_decode(p, len, &bye) != 0)
			memset(&bye, 0, sizeof(bye));
		if (bye.code != 0)
			client_shut(c, "server said BYE: %s (%u): %.*s",
			    proto_err_name(bye.code), bye.code,
			    (int)bye.text.len, (const char *)bye.text.p);
		else
			client_shut(c, "server said BYE%s%.*s",
			    bye.text.len ? ": " : "", (int)bye.text.len,
			    (const char *)bye.text.p);
		return;
	case PROTO_T_WELCOME:
		if (c->state != CLIENT_S_HELLO) {
			client_shut(c, "unexpected WELCOME");
			return;
		}
		client_on_welcome(c, p, len);
		return;
	default:
		if (c->state == CLIENT_S_HELLO && type != PROTO_T_ERROR) {
			client_shut(c, "unexpected %s before WELCOME",
			    proto_type_name(type));
			return;
		}
		c->in_cb++;
		c->ops.frame_cb(c, type, p, len, c->arg);
		c->in_cb--;
		return;
	}
}

/* Take every whole frame off the input buffer. */
static void
client_read_cb(struct bufferevent *bev, void *arg)
{
	struct client	*c = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	uint8_t		 hdr[PROTO_FRAME_HDR], type, *p;
	uint32_t	 plen;
	int		 rc;

	c->last_rx = mono_ms();
	while (!c->dying && (c->state == CLIENT_S_HELLO ||
	    c->state == CLIENT_S_READY)) {
		if (evbuffer_get_length(in) < PROTO_FRAME_HDR)
			return;
		evbuffer_copyout(in, hdr, sizeof(hdr));
		if ((rc = proto_frame_header(hdr, c->max_frame, &type,
		    &plen)) != 0) {
			client_shut(c, "bad frame from server: %s",
			    proto_err_name(-rc));
			return;
		}
		if (evbuffer_get_length(in) < PROTO_FRAME_HDR + (size_t)plen)
			return;
		p = evbuffer_pullup(in, PROTO_FRAME_HDR + (ssize_t)plen);
		if (p == NULL) {
			client_shut(c, "out of memory");
			return;
		}
		client_dispatch(c, type, p + PROTO_FRAME_HDR, plen);
		if (c->bev != NULL)
			evbuffer_drain(in, PROTO_FRAME_HDR + (size_t)plen);
	}
	/* Closing or closed: whatever else arrives is dropped. */
	evbuffer_drain(in, evbuffer_get_length(in));
}

/* Output drained: a BYE being flushed is gone, so half-close. */
static void
client_write_cb(struct bufferevent *bev, void *arg)
{
	struct client	*c = arg;

	if (c->state == CLIENT_S_CLOSING &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		client_half_close(c);
}

/* Why did the connection fail?  TLS verification, TLS, or the socket. */
static void
client_error_reason(struct client *c, char *buf, size_t len)
{
	SSL		*ssl = bufferevent_openssl_get_ssl(c->bev);
	unsigned long	 e, first = 0;
	long		 vr;
	int		 serr = EVUTIL_SOCKET_ERROR(), fd, soerr = 0;
	socklen_t	 sl = sizeof(soerr);
	char		 sb[160];

	while ((e = bufferevent_get_openssl_error(c->bev)) != 0)
		if (first == 0)
			first = e;
	if (first == 0)
		first = ERR_peek_error();
	if (ssl != NULL && (vr = SSL_get_verify_result(ssl)) != X509_V_OK) {
		snprintf(buf, len, "TLS: server certificate refused: %s",
		    X509_verify_cert_error_string(vr));
		ERR_clear_error();
		return;
	}
	if (first != 0) {
		snprintf(buf, len, "TLS: %s",
		    client_ssl_reason(first, sb, sizeof(sb)));
		return;
	}
	if ((fd = bufferevent_getfd(c->bev)) >= 0 &&
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 &&
	    soerr != 0)
		serr = soerr;
	if (serr != 0)
		snprintf(buf, len, "%s", strerror(serr));
	else
		snprintf(buf, len, "connection error");
}

/* TLS up (send HELLO), or the connection failed or ended. */
static void
client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct client	*c = arg;
	SSL		*ssl;
	char		 why[CLIENT_REASON_MAX];

	if (c->state == CLIENT_S_CLOSED || c->dying)
		return;
	if (c->state == CLIENT_S_CLOSING) {
		if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
			client_shut(c, "closed by us");
		return;
	}
	if (what & BEV_EVENT_CONNECTED) {
		if (c->state != CLIENT_S_TLS)
			return;
		ssl = bufferevent_openssl_get_ssl(bev);
		client_set_state(c, CLIENT_S_HELLO);
		log_debug("client %u: TLS up with %s (%s, %s)", c->id, c->peer,
		    SSL_get_cipher(ssl), SSL_session_reused(ssl) ?
		    "session resumed" : "full handshake");
		client_hello(c);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		/*
		 * Keep the ticket: a TLS 1.3 server that cannot use it does a
		 * full handshake instead of failing, and while a restarting
		 * daemon is away (refused, EOF) the ticket is still good for
		 * when it is back (with a shared ticket key).
		 */
		client_error_reason(c, why, sizeof(why));
		client_shut(c, "%s%s",
		    c->state == CLIENT_S_TLS ? "TLS handshake failed: " : "",
		    why);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		switch (c->state) {
		case CLIENT_S_NEW:
		case CLIENT_S_CONNECTING:
		case CLIENT_S_TLS:
			client_shut(c,
			    "connection closed during TLS handshake");
			return;
		case CLIENT_S_HELLO:
			client_shut(c, "connection closed by server before "
			    "WELCOME");
			return;
		case CLIENT_S_READY:
			client_shut(c, "connection closed by server");
			return;
		case CLIENT_S_CLOSING:
		case CLIENT_S_CLOSED:
			client_shut(c, "closed by us");
			return;
		}
	}
}

/* Handshake too slow, or a BYE that would not flush. */
static void
client_timer_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct client	*c = arg;

	(void)fd;
	(void)ev;
	switch (c->state) {
	case CLIENT_S_NEW:
	case CLIENT_S_CONNECTING:
	case CLIENT_S_TLS:
	case CLIENT_S_HELLO:
		client_shut(c, "timed out after %u ms %s", c->handshake_ms,
		    c->state == CLIENT_S_HELLO ? "waiting for WELCOME" :
		    c->state == CLIENT_S_TLS ? "in the TLS handshake" :
		    "connecting");
		return;
	case CLIENT_S_CLOSING:
		client_shut(c, "closed by us");
		return;
	case CLIENT_S_READY:
	case CLIENT_S_CLOSED:
		return;
	}
}

/* Every heartbeat: give up on a silent server, else PING it. */
static void
client_beat_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct client		*c = arg;
	struct proto_buf	 b;
	struct proto_ping	 ping;
	uint64_t		 quiet;

	(void)fd;
	(void)ev;
	if (c->state != CLIENT_S_READY)
		return;
	quiet = mono_ms() - c->last_rx;
	if (quiet >= (uint64_t)CLIENT_SILENT_BEATS * c->beat_s * 1000) {
		client_shut(c, "nothing heard from server for %llu s",
		    (unsigned long long)(quiet / 1000));
		return;
	}
	ping.nonce = ++c->nonce;
	pbuf_init(&b);
	proto_ping_encode(&b, PROTO_T_PING, &ping);
	client_send_own(c, &b);
}
