/* SPDX-License-Identifier: ISC */
/*
 * conn: one state machine per client connection, over a libevent
 * bufferevent with OpenSSL.  Bytes become frames here (the length is
 * checked before anything is pulled up), frames become messages, and
 * messages go to the module that acts on them.  Also: the shared-bytes
 * fan-out, heartbeats and deadlines (one sweep for all connections, not a
 * timer each), and deferred reaping so that nothing is freed inside its
 * own callback chain.
 *
 *   HANDSHAKE --tls ok, CN is a principal--> HELLO --HELLO--> SYNC (agents)
 *   SYNC --pending sent--> READY;  HELLO --HELLO (console)--> READY
 *   any --error, BYE, timeout, EOF--> CLOSING --flushed--> reaped
 */
#include <sys/socket.h>
#include <sys/queue.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "clock.h"
#include "log.h"
#include "wuzhad.h"

#define CONN_CLOSE_GRACE_MS	5000	/* time to flush a last frame */
#define CONN_DIRECT_MAX		16384	/* one TLS record: see conn_write_now */

struct conn {
	uint64_t		 id;
	enum conn_state		 state;
	int			 refs;		/* list membership + holders */
	int			 reaping;	/* on the reap list */
	int			 lingering;	/* write side shut, draining input */
	struct bufferevent	*bev;
	SSL			*ssl;
	char			 addr[INET6_ADDRSTRLEN + 8];
	char			 host[INET6_ADDRSTRLEN];	/* addr less the port */
	char			 name[PROTO_ID_MAX + INET6_ADDRSTRLEN + 16];
	char			 cn[PROTO_ID_MAX + 1];
	struct tprincipal	*p;		/* NULL until the handshake is done */
	int			 role;		/* enum proto_role, 0 before HELLO */
	int			 in_node;	/* linked in p->node->agents */
	uint64_t		 linked_at;	/* now_ms when it was linked */
	uint64_t		 created;	/* mono_ms */
	uint64_t		 last_rx;
	uint64_t		 last_ping;
	uint64_t		 closing_since;
	uint64_t		 partial_since;	/* a frame started, not whole yet */
	uint64_t		 sync_seq;	/* highest seq covered by the sync */
	uint64_t		 ping_nonce;
	struct syncreq		*sync;		/* catch-up in progress, owned */
	struct conn_peer	*peer;		/* receipts: the peer's key, lazy */
	TAILQ_ENTRY(conn)	 all;
	TAILQ_ENTRY(conn)	 at_node;
	TAILQ_ENTRY(conn)	 reap;
};

static struct conn_list	 conns = TAILQ_HEAD_INITIALIZER(conns);

/* A recheck of certificates after a reload (conn_recheck_certs). */
#define RECHECK_SLICE_US	5000

static struct {
	struct event	*ev;
	struct conn	*next;
	size_t		 checked, closed, turns;
	uint64_t	 start_us, longest_us;
} certcheck;
static struct conn_list	 reaplist = TAILQ_HEAD_INITIALIZER(reaplist);
static struct event	*reap_ev;
static uint64_t		 conn_next_id = 1;
static size_t		 conn_n;
static size_t		 conn_agents;
static struct htab	 conn_hosts;	/* source address -> connections (as a pointer) */
static uint64_t		 refused_logged;	/* mono_ms of the last refusal logged */
static size_t		 refused_quiet;	/* refusals since, not logged */

static const char *conn_state_names[] = {
	[CONN_S_HANDSHAKE] = "handshake",
	[CONN_S_HELLO] = "hello",
	[CONN_S_SYNC] = "sync",
	[CONN_S_READY] = "ready",
	[CONN_S_CLOSING] = "closing",
};

static void	conn_read_cb(struct bufferevent *, void *);
static void	conn_write_cb(struct bufferevent *, void *);
static void	conn_event_cb(struct bufferevent *, short, void *);
static void	conn_destroy(struct conn *);
static void	conn_linger(struct conn *);
static void	conn_refuse(int, const char *, const char *, ...) LOG_FMT(3, 4);
static void	conn_verror(struct conn *, int, const char *, const char *,
		    va_list) LOG_FMT(4, 0);

/* --- blobs ------------------------------------------------------------- */

struct blob *
blob_new(struct proto_buf *b)
{
	struct blob	*bl;

	if ((bl = malloc(sizeof(*bl) + b->len)) == NULL)
		fatal("blob_new");
	bl->refs = 1;
	bl->len = b->len;
	memcpy(bl->data, b->data, b->len);
	b->len = 0;
	return bl;
}

void
blob_ref(struct blob *bl)
{
	bl->refs++;
}

void
blob_unref(struct blob *bl)
{
	if (bl != NULL && --bl->refs == 0)
		free(bl);
}

/* evbuffer cleanup: the connection has sent (or dropped) its reference. */
static void
conn_blob_done_cb(const void *data, size_t len, void *arg)
{
	blob_unref(arg);
}

/* --- accessors --------------------------------------------------------- */

uint64_t conn_id(const struct conn *c) { return c->id; }
const char *conn_name(const struct conn *c) { return c->name; }
struct tprincipal *conn_principal(const struct conn *c) { return c->p; }
enum conn_state conn_state(const struct conn *c) { return c->state; }
uint64_t conn_sync_seq(const struct conn *c) { return c->sync_seq; }
void conn_set_sync_seq(struct conn *c, uint64_t s) { c->sync_seq = s; }
size_t conn_count(void) { return conn_n; }
struct syncreq *conn_sync(const struct conn *c) { return c->sync; }
void conn_set_sync(struct conn *c, struct syncreq *sr) { c->sync = sr; }
/* clues: the peer's certificate signs what it reports (clue.c). */
X509 *conn_peer_cert(const struct conn *c) {
	return c->ssl != NULL ? SSL_get0_peer_certificate(c->ssl) : NULL; }

size_t
conn_output(const struct conn *c)
{
	if (c->bev == NULL)
		return 0;
	return evbuffer_get_length(bufferevent_get_output(c->bev));
}
size_t conn_agents_online(void) { return conn_agents; }

size_t
conn_output_total(void)
{
	struct conn	*c;
	size_t		 n = 0;

	TAILQ_FOREACH(c, &conns, all)
		n += conn_output(c);
	return n;
}

int
conn_alive(const struct conn *c)
{
	return c->state != CONN_S_CLOSING;
}

void
conn_ref(struct conn *c)
{
	c->refs++;
}

void
conn_unref(struct conn *c)
{
	if (--c->refs > 0)
		return;
	if (c->peer != NULL) {
		EVP_PKEY_free(c->peer->pub);
		free(c->peer->der);
		free(c->peer);
	}
	free(c);
}

/*
 * The peer certificate's key, DER and fingerprint, for checking its
 * receipts (ack.c): taken from the TLS session the first time it is
 * asked for and kept with the connection.  NULL if there is none.
 */
const struct conn_peer *
conn_peer(struct conn *c)
{
	struct conn_peer	*pe;
	X509			*x;
	uint8_t			*der = NULL;
	int			 n;

	if (c->peer != NULL)
		return c->peer;
	if (c->ssl == NULL || (x = SSL_get0_peer_certificate(c->ssl)) == NULL)
		return NULL;
	if ((pe = calloc(1, sizeof(*pe))) == NULL)
		fatal("conn_peer");
	if ((n = i2d_X509(x, &der)) <= 0 || (pe->der = malloc(n)) == NULL ||
	    (pe->pub = X509_get_pubkey(x)) == NULL ||
	    proto_sha256(der, (size_t)n, pe->fp) != 0) {
		log_warnx("conn %llu %s: cannot read the peer certificate",
		    (unsigned long long)c->id, c->name);
		OPENSSL_free(der);
		EVP_PKEY_free(pe->pub);
		free(pe->der);
		free(pe);
		return NULL;
	}
	memcpy(pe->der, der, (size_t)n);
	pe->derlen = (size_t)n;
	OPENSSL_free(der);
	c->peer = pe;
	return pe;
}

void
conn_peer_cert_stored(struct conn *c)
{
	if (c->peer != NULL)
		c->peer->cert_stored = 1;
}

/* What sits above the transport: set once by main.c (conn_set_ops). */
static const struct conn_ops	*conn_ops;

static void
conn_name_update(struct conn *c)
{
	snprintf(c->name, sizeof(c->name), "%s@%s",
	    c->cn[0] != '\0' ? c->cn : "-", c->addr);
}

static void
conn_seen_cb(redisReply *r, void *arg)
{
	(void)arg;
	if (r == NULL || r->type == REDIS_REPLY_ERROR)
		log_debug("conn: last-seen time not stored: %s",
		    r != NULL ? r->str : "store unavailable");
}

/*
 * Note in Redis when a principal's agent was last connected: as it comes
 * and as it goes, so `wuzhactl agents` can name who has been away for
 * long.  One write per connection event, never per alert; if Redis is
 * down the time is lost, which only makes the agent look older.
 */
static void
conn_seen(struct conn *c, uint64_t at)
{
	const char	*argv[4];
	char		 ts[24];

	snprintf(ts, sizeof(ts), "%llu", (unsigned long long)at);
	argv[0] = "HSET";
	argv[1] = store_key("seen");
	argv[2] = c->cn;
	argv[3] = ts;
	store_cmd(4, argv, NULL, conn_seen_cb, NULL);
}

/* The list operation alone: a tree swap moves agents without a trace. */
static int
conn_link_list(struct conn *c, int on)
{
	if (on && !c->in_node && c->p != NULL) {
		TAILQ_INSERT_TAIL(&c->p->node->agents, c, at_node);
		c->in_node = 1;
		conn_agents++;
		return 1;
	} else if (!on && c->in_node) {
		TAILQ_REMOVE(&c->p->node->agents, c, at_node);
		c->in_node = 0;
		conn_agents--;
		return 1;
	}
	return 0;
}

/* Put an agent on (or take it off) its node's list of push targets. */
static void
conn_link(struct conn *c, int on)
{
	if (!conn_link_list(c, on))
		return;
	if (on)
		c->linked_at = now_ms();
	conn_seen(c, on ? c->linked_at : now_ms());
	conn_ops->presence(c->p);
}

uint64_t
conn_walk_agents(uint64_t after, size_t max, void (*fn)(struct conn *, void *),
    void *arg)
{
	struct conn	*c;
	uint64_t	 last = 0;
	size_t		 n = 0;

	/* The list is in id order: connections are added at its tail. */
	TAILQ_FOREACH(c, &conns, all) {
		if (c->id <= after || !c->in_node)
			continue;
		if (n == max)
			return last;
		fn(c, arg);
		last = c->id;
		n++;
	}
	return 0;
}

/*
 * How many agents of principal p are connected now, and since when (the
 * earliest, ms).  They are on their node's list, which is short.
 */
unsigned
conn_presence(const struct tprincipal *p, uint64_t *since)
{
	struct conn	*c;
	unsigned	 n = 0;

	*since = 0;
	TAILQ_FOREACH(c, &p->node->agents, at_node) {
		if (strcmp(c->cn, p->cn) != 0)
			continue;
		if (n == 0 || c->linked_at < *since)
			*since = c->linked_at;
		n++;
	}
	return n;
}

int
conn_first_of_principal(const struct conn *c)
{
	const struct conn	*o;

	if (!c->in_node)
		return 0;
	TAILQ_FOREACH(o, &c->p->node->agents, at_node)
		if (o == c || strcmp(o->cn, c->cn) == 0)
			break;
	return o == c;
}


/* Every change of state goes through here (logged at debug). */
static void
conn_set_state(struct conn *c, enum conn_state s)
{
	if (c->state == s)
		return;
	log_debug("conn %llu %s: %s -> %s", (unsigned long long)c->id, c->name,
	    conn_state_names[c->state], conn_state_names[s]);
	c->state = s;
	switch (s) {
	case CONN_S_HANDSHAKE:
	case CONN_S_HELLO:
		break;
	case CONN_S_SYNC:
	case CONN_S_READY:
		if (c->role == PROTO_ROLE_AGENT && c->p != NULL &&
		    (c->p->rights & PROTO_R_RECEIVE))
			conn_link(c, 1);
		/* After its pending alerts: what else waits for it. */
		if (s == CONN_S_READY && c->role == PROTO_ROLE_AGENT &&
		    c->p != NULL)
			conn_ops->agent_ready(c);
		break;
	case CONN_S_CLOSING:
		c->closing_since = mono_ms();
		conn_link(c, 0);
		break;
	}
}

/* --- accept ------------------------------------------------------------ */

/*
 * A refused connection is logged, but at most one line a second, so that
 * a flood cannot flood the journal too; the next line says how many more.
 */
static void
conn_refuse(int fd, const char *host, const char *fmt, ...)
{
	va_list		ap;
	char		why[256];
	uint64_t	now = mono_ms();

	metrics_count(M_CONN_REFUSED, 1);
	evutil_closesocket(fd);
	if (now - refused_logged < 1000 && refused_logged != 0) {
		refused_quiet++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (refused_quiet > 0)
		log_warnx("conn: refusing %s: %s (and %zu more refused in the "
		    "last second)", host, why, refused_quiet);
	else
		log_warnx("conn: refusing %s: %s", host, why);
	refused_logged = now;
	refused_quiet = 0;
}

static size_t
conn_host_count(const char *host)
{
	return (size_t)(uintptr_t)htab_get(&conn_hosts, host);
}

static void
conn_host_add(const char *host, int delta)
{
	size_t	n = conn_host_count(host);

	n = delta > 0 ? n + 1 : n - 1;
	if (n == 0)
		htab_del(&conn_hosts, host);
	else
		htab_put(&conn_hosts, host, (void *)(uintptr_t)n);
}

void
conn_accept(int fd, const struct sockaddr *sa, int socklen)
{
	struct conn	*c;
	char		 host[INET6_ADDRSTRLEN];
	unsigned	 port = 0;

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		port = ntohs(s6->sin6_port);
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		port = ntohs(s4->sin_port);
	} else
		strlcpy(host, "local", sizeof(host));
	if (conn_n >= wz->conf->limits.max_connections) {
		conn_refuse(fd, host, "%zu connection%s, the limit "
		    "(limits.max_connections)", conn_n, conn_n == 1 ? "" : "s");
		return;
	}
	if (conn_host_count(host) >= wz->conf->limits.max_per_address) {
		conn_refuse(fd, host, "%zu connection%s from this address, the "
		    "limit (limits.max_connections_per_address)",
		    conn_host_count(host),
		    conn_host_count(host) == 1 ? "" : "s");
		return;
	}

	/* Frames are whole messages, written when they are ready: waiting
	 * for more (Nagle) would only delay an ALERT or an ACK_OK. */
	if (sa->sa_family == AF_INET6 || sa->sa_family == AF_INET) {
		int	one = 1;

		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one)) == -1)
			log_warn("conn %s: TCP_NODELAY", host);
	}

	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal("conn_accept");
	c->id = conn_next_id++;
	c->refs = 1;
	c->created = c->last_rx = c->last_ping = mono_ms();
	strlcpy(c->host, host, sizeof(c->host));
	if (sa->sa_family == AF_INET6)
		snprintf(c->addr, sizeof(c->addr), "[%s]:%u", host, port);
	else if (sa->sa_family == AF_INET)
		snprintf(c->addr, sizeof(c->addr), "%s:%u", host, port);
	else
		strlcpy(c->addr, host, sizeof(c->addr));
	conn_name_update(c);

	if ((c->ssl = SSL_new(wz->ssl_ctx)) == NULL) {
		log_ssl("conn %s: SSL_new", c->addr);
		evutil_closesocket(fd);
		free(c);
		return;
	}
	c->bev = bufferevent_openssl_socket_new(wz->base, fd, c->ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		log_warnx("conn %s: cannot set up the connection", c->addr);
		SSL_free(c->ssl);
		evutil_closesocket(fd);
		free(c);
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	metrics_count(M_CONN_ACCEPTED, 1);
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	/* Never hold more than one maximal frame of unread input. */
	bufferevent_setwatermark(c->bev, EV_READ, 0,
	    wz->conf->limits.max_frame + PROTO_FRAME_HDR);
	/* Write callback when the output falls to a quarter of its bound. */
	bufferevent_setwatermark(c->bev, EV_WRITE,
	    wz->conf->limits.max_output / 4, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&conns, c, all);
	conn_n++;
	conn_host_add(c->host, 1);
	log_debug("conn %llu: accepted from %s", (unsigned long long)c->id, c->addr);
}

/* --- output ------------------------------------------------------------ */

/* Past the output bound the agent is cut off; what it missed stays pending. */
static int
conn_check_output(struct conn *c)
{
	size_t	queued = evbuffer_get_length(bufferevent_get_output(c->bev));

	if (queued <= wz->conf->limits.max_output)
		return 0;
	log_warnx("conn %llu %s: %zu bytes queued, over the limit of %llu: "
	    "disconnecting a slow peer", (unsigned long long)c->id, c->name,
	    queued, (unsigned long long)wz->conf->limits.max_output);
	metrics_count(M_SLOW_PEERS, 1);
	conn_set_state(c, CONN_S_CLOSING);
	conn_destroy(c);
	return -1;
}

/*
 * Hand a frame to TLS at once when nothing is queued before it.
 * bufferevent_openssl only arms the write event when its output buffer
 * gets data, so every frame would otherwise cost a trip through the event
 * loop (two epoll_ctl calls and a wakeup) before it is encrypted and
 * written; during a fan-out to thousands of agents that also lets their
 * acks interleave with the alert's delivery.  Only frames that fit one TLS
 * record: if the socket cannot take the record now, OpenSSL keeps it and
 * wants the same bytes again, which is what the caller then queues for the
 * bufferevent to retry (its SSL has SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER).
 * Returns 1 if the frame is written.
 */
static int
conn_write_now(struct conn *c, const void *p, size_t len)
{
	int	r;

	if (len == 0 || len > CONN_DIRECT_MAX ||
	    (c->state != CONN_S_HELLO && c->state != CONN_S_SYNC &&
	    c->state != CONN_S_READY) ||
	    evbuffer_get_length(bufferevent_get_output(c->bev)) != 0)
		return 0;
	/* A read that had to write (TLS 1.3 key update) and could not: its
	 * record waits in OpenSSL, and only the bufferevent may retry it. */
	if (SSL_want_write(c->ssl))
		return 0;
	ERR_clear_error();
	r = SSL_write(c->ssl, p, (int)len);
	if (r == (int)len)
		return 1;
	/* Would block, or broken: the bufferevent retries and reports. */
	ERR_clear_error();
	return 0;
}

void
conn_send(struct conn *c, struct proto_buf *b)
{
	if (b->err != 0) {
		log_warnx("conn %llu %s: encoding failed (%d)",
		    (unsigned long long)c->id, c->name, b->err);
		b->len = 0;
		return;
	}
	if (c->state == CONN_S_CLOSING || c->bev == NULL) {
		b->len = 0;
		return;
	}
	if (conn_write_now(c, b->data, b->len)) {
		b->len = 0;
		return;
	}
	if (evbuffer_add(bufferevent_get_output(c->bev), b->data, b->len) == -1)
		fatal("conn_send");
	b->len = 0;
	conn_check_output(c);
}

void
conn_send_blob(struct conn *c, struct blob *bl)
{
	if (c->state == CONN_S_CLOSING || c->bev == NULL)
		return;
	if (conn_write_now(c, bl->data, bl->len))
		return;
	blob_ref(bl);
	if (evbuffer_add_reference(bufferevent_get_output(c->bev), bl->data,
	    bl->len, conn_blob_done_cb, bl) == -1)
		fatal("conn_send_blob");
	conn_check_output(c);
}

static void
conn_verror(struct conn *c, int code, const char *ref, const char *fmt,
    va_list ap)
{
	struct proto_buf	b;
	char			text[PROTO_REASON_MAX];

	vsnprintf(text, sizeof(text), fmt, ap);
	log_warnx("conn %llu %s: %s%s%s: %s (%d)", (unsigned long long)c->id,
	    c->name, ref != NULL ? "alert " : "", ref != NULL ? ref : "",
	    ref != NULL ? ": refused" : "error", text, code);
	pbuf_init(&b);
	proto_error_encode(&b, code, text, ref);
	metrics_error(code);
	conn_send(c, &b);
	pbuf_free(&b);
}

void
conn_error(struct conn *c, int code, const char *ref, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	conn_verror(c, code, ref, fmt, ap);
	va_end(ap);
}

void
conn_fail(struct conn *c, int code, const char *fmt, ...)
{
	va_list	ap;
	char	text[PROTO_REASON_MAX];

	if (c->state == CONN_S_CLOSING)
		return;
	va_start(ap, fmt);
	if (code != 0 && c->state != CONN_S_HANDSHAKE) {
		conn_verror(c, code, NULL, fmt, ap);
	} else {
		vsnprintf(text, sizeof(text), fmt, ap);
		log_warnx("conn %llu %s: closing: %s", (unsigned long long)c->id,
		    c->name, text);
	}
	va_end(ap);
	conn_set_state(c, CONN_S_CLOSING);
	/* Free once the last frame is out (or the grace ends). */
	if (c->bev != NULL &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_linger(c);
}

/* --- teardown ---------------------------------------------------------- */

static void
conn_reap_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct conn	*c;

	while ((c = TAILQ_FIRST(&reaplist)) != NULL) {
		TAILQ_REMOVE(&reaplist, c, reap);
		if (c->bev != NULL)
			bufferevent_free(c->bev);	/* frees the SSL too */
		c->bev = NULL;
		conn_unref(c);
	}
}

/* Unlink now, free later (from the reap event, outside any callback of c). */
static void
conn_destroy(struct conn *c)
{
	if (c->reaping)
		return;
	c->reaping = 1;
	if (c->state != CONN_S_CLOSING)
		conn_set_state(c, CONN_S_CLOSING);
	conn_link(c, 0);
	conn_ops->closed(c);
	if (certcheck.next == c)
		certcheck.next = TAILQ_NEXT(c, all);
	TAILQ_REMOVE(&conns, c, all);
	conn_n--;
	conn_host_add(c->host, -1);
	if (c->bev != NULL)
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	log_info("conn %llu %s: closed", (unsigned long long)c->id, c->name);
	TAILQ_INSERT_TAIL(&reaplist, c, reap);
	if (reap_ev == NULL &&
	    (reap_ev = event_new(wz->base, -1, 0, conn_reap_cb, NULL)) == NULL)
		fatalx("conn: event_new");
	event_active(reap_ev, 0, 0);
}

/* --- input ------------------------------------------------------------- */

void
conn_set_ops(const struct conn_ops *ops)
{
	conn_ops = ops;
}

/* The catch-up is over: the agent is ready for pushes. */
void
conn_sync_done(struct conn *c)
{
	if (c->state == CONN_S_SYNC)
		conn_set_state(c, CONN_S_READY);
}

static void
conn_hello(struct conn *c, const uint8_t *p, size_t len)
{
	struct proto_hello	h;
	struct proto_welcome	w;
	struct proto_buf	b;
	int			rv;

	if ((rv = proto_hello_decode(p, len, &h)) != 0) {
		conn_fail(c, -rv, "bad HELLO: %s", proto_err_name(-rv));
		return;
	}
	if (h.version != PROTO_VERSION) {
		conn_fail(c, PROTO_E_VERSION, "protocol version %u not supported "
		    "(this server speaks %d)", h.version, PROTO_VERSION);
		return;
	}
	if (h.role != PROTO_ROLE_AGENT && h.role != PROTO_ROLE_CONSOLE) {
		conn_fail(c, PROTO_E_VALUE, "unknown role %u", h.role);
		return;
	}
	c->role = h.role;
	memset(&w, 0, sizeof(w));
	w.version = PROTO_VERSION;
	strlcpy(w.principal, c->p->cn, sizeof(w.principal));
	strlcpy(w.node, c->p->node->id, sizeof(w.node));
	w.rights = c->p->rights;
	w.heartbeat = wz->conf->timeouts.heartbeat_s;
	w.server_time = now_ms();
	w.max_frame = wz->conf->limits.max_frame;
	pbuf_init(&b);
	proto_welcome_encode(&b, &w);
	conn_send(c, &b);
	pbuf_free(&b);
	log_info("conn %llu %s: hello, %s at %s", (unsigned long long)c->id,
	    c->name, c->role == PROTO_ROLE_AGENT ? "agent" : "console",
	    c->p->node->id);
	if (c->role == PROTO_ROLE_AGENT && (c->p->rights & PROTO_R_RECEIVE)) {
		conn_set_state(c, CONN_S_SYNC);
		conn_ops->catch_up(c);
	} else
		conn_set_state(c, CONN_S_READY);
}

static void
conn_ping(struct conn *c, const uint8_t *p, size_t len)
{
	struct proto_ping	ping;
	struct proto_buf	b;
	int			rv;

	if ((rv = proto_ping_decode(p, len, &ping)) != 0) {
		conn_fail(c, -rv, "bad PING: %s", proto_err_name(-rv));
		return;
	}
	pbuf_init(&b);
	proto_ping_encode(&b, PROTO_T_PONG, &ping);
	conn_send(c, &b);
	pbuf_free(&b);
}

/* One complete frame: act on it according to the state. */
static void
conn_dispatch(struct conn *c, uint8_t type, const uint8_t *p, size_t len)
{
	switch (c->state) {
	case CONN_S_HANDSHAKE:
	case CONN_S_CLOSING:
		return;
	case CONN_S_HELLO:
		if (type != PROTO_T_HELLO) {
			conn_fail(c, PROTO_E_STATE, "expected HELLO, got %s",
			    proto_type_name(type));
			return;
		}
		conn_hello(c, p, len);
		return;
	case CONN_S_SYNC:
	case CONN_S_READY:
		break;
	}
	if (conn_ops->frame(c, type, p, len))
		return;
	switch (type) {
	case PROTO_T_PING:
		conn_ping(c, p, len);
		break;
	case PROTO_T_PONG:
		break;
	case PROTO_T_BYE:
		log_info("conn %llu %s: said goodbye", (unsigned long long)c->id,
		    c->name);
		conn_set_state(c, CONN_S_CLOSING);
		conn_destroy(c);
		break;
	case PROTO_T_HELLO:
	case PROTO_T_WELCOME:
	case PROTO_T_PUBLISHED:
	case PROTO_T_ALERT:
	case PROTO_T_ESCALATION:
	case PROTO_T_ACK_OK:
	case PROTO_T_STATUS:
	case PROTO_T_AGENTS:
	case PROTO_T_SCHEDULE:
	case PROTO_T_REPORT:
	case PROTO_T_ERROR:
		conn_fail(c, PROTO_E_STATE, "%s not expected from a client",
		    proto_type_name(type));
		break;
	default:
		conn_fail(c, PROTO_E_TYPE, "unknown message type 0x%02x", type);
		break;
	}
}

/* Dispatch every whole frame in the input; returns how many. */
static size_t
conn_read_frames(struct conn *c, struct evbuffer *in)
{
	uint8_t		 hdr[PROTO_FRAME_HDR], type, *frame;
	uint32_t	 plen;
	size_t		 nframes = 0;
	int		 rv;

	while (c->state != CONN_S_CLOSING &&
	    evbuffer_get_length(in) >= PROTO_FRAME_HDR) {
		evbuffer_copyout(in, hdr, sizeof(hdr));
		rv = proto_frame_header(hdr, wz->conf->limits.max_frame, &type,
		    &plen);
		if (rv != 0) {
			conn_fail(c, -rv, "bad frame header: %s (limit %u bytes)",
			    proto_err_name(-rv), wz->conf->limits.max_frame);
			break;
		}
		if (evbuffer_get_length(in) < PROTO_FRAME_HDR + (size_t)plen)
			break;
		if ((frame = evbuffer_pullup(in, PROTO_FRAME_HDR + plen)) == NULL)
			fatal("evbuffer_pullup");
		conn_dispatch(c, type, frame + PROTO_FRAME_HDR, plen);
		if (c->bev != NULL)
			evbuffer_drain(in, PROTO_FRAME_HDR + plen);
		nframes++;
	}
	return nframes;
}

/*
 * With read-ahead (tls.c) OpenSSL takes all the socket has in one read
 * and may keep records beyond the one bufferevent_openssl asked for;
 * libevent 2.1 looks only at SSL_pending, the rest of the current
 * record, and the socket, now empty, would not wake it for them.  Take
 * them here, as long as the input stays under its bound.  Nothing here
 * touches the socket: a record only partly buffered makes SSL_read
 * want more, and the socket's next data wakes the bufferevent again.
 */
static size_t
conn_read_pending(struct conn *c, struct evbuffer *in)
{
	char	buf[4096];
	size_t	nframes = 0, bound;
	int	r;

	bound = wz->conf->limits.max_frame + PROTO_FRAME_HDR;
	while (c->state != CONN_S_CLOSING && c->bev != NULL &&
	    SSL_has_pending(c->ssl) && evbuffer_get_length(in) < bound) {
		ERR_clear_error();
		if ((r = SSL_read(c->ssl, buf, sizeof(buf))) <= 0) {
			ERR_clear_error();
			break;
		}
		if (evbuffer_add(in, buf, (size_t)r) == -1)
			fatal("conn_read_pending");
		nframes += conn_read_frames(c, in);
	}
	return nframes;
}

/* Handle the input, and what OpenSSL holds beyond it. */
static void
conn_input(struct conn *c)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	size_t		 nframes;

	if (c->state == CONN_S_CLOSING) {
		/* Lingering: what the peer still sends is discarded. */
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	conn_ref(c);
	c->last_rx = mono_ms();
	nframes = conn_read_frames(c, in);
	nframes += conn_read_pending(c, in);
	/* A frame begun must end within timeouts.frame (see conn_sweep). */
	if (evbuffer_get_length(in) == 0)
		c->partial_since = 0;
	else if (nframes > 0 || c->partial_since == 0)
		c->partial_since = c->last_rx;
	conn_unref(c);
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	conn_input(arg);
}

/*
 * Records OpenSSL read ahead while libevent asked for something else (a
 * client's HELLO sent with its last handshake flight; a record after a
 * post-handshake message), which no callback would hand us.
 */
static void
conn_input_pending(struct conn *c)
{
	if (c->bev != NULL && c->ssl != NULL && c->state != CONN_S_CLOSING &&
	    SSL_has_pending(c->ssl))
		conn_input(c);
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	/* A closing connection, once empty, has said its last word. */
	if (c->state == CONN_S_CLOSING) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			conn_linger(c);
		return;
	}
	/* Room again: the next slice of a catch-up. */
	if (c->state == CONN_S_SYNC && c->sync != NULL)
		conn_ops->drained(c);
}

/*
 * The last frame is out: shut our side and read until the peer closes
 * (or the grace ends).  Closing a socket with unread input would send a
 * reset, which can destroy the ERROR frame before the peer reads it.
 */
static void
conn_linger(struct conn *c)
{
	if (c->lingering || c->reaping)
		return;
	c->lingering = 1;
	if (c->bev == NULL || shutdown(bufferevent_getfd(c->bev), SHUT_WR) == -1) {
		conn_destroy(c);
		return;
	}
	bufferevent_enable(c->bev, EV_READ);
}

/*
 * Verify the peer's certificate again, against the CA and CRL in force
 * now: a resumed session skips the handshake's check, and a reload may
 * have revoked a certificate whose holder is still connected.
 */
static int
conn_cert_valid(struct conn *c, char *why, size_t whylen)
{
	X509_STORE_CTX	*ctx;
	X509		*leaf;
	int		 ok;

	if ((leaf = SSL_get0_peer_certificate(c->ssl)) == NULL) {
		strlcpy(why, "no certificate", whylen);
		return -1;
	}
	if ((ctx = X509_STORE_CTX_new()) == NULL)
		fatalx("X509_STORE_CTX_new");
	if (X509_STORE_CTX_init(ctx, wz->ca_store, leaf,
	    SSL_get_peer_cert_chain(c->ssl)) != 1)
		fatalx("X509_STORE_CTX_init");
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
	ok = X509_verify_cert(ctx);
	if (ok != 1)
		strlcpy(why, X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(ctx)), whylen);
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return ok == 1 ? 0 : -1;
}

/*
 * After a reload every connection's certificate is checked again, in slices of RECHECK_SLICE_US, so that
 * 10,000 verifications (about a second) do not hold the loop.  The
 * cursor is the next connection to check; conn_destroy moves it on when
 * it takes that one out.  A reload during a recheck starts it again.
 */

static void
conn_recheck_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct conn	*c;
	char		 why[128];
	uint64_t	 t0 = mono_us(), d;

	certcheck.turns++;
	while ((c = certcheck.next) != NULL && mono_us() - t0 < RECHECK_SLICE_US) {
		certcheck.next = TAILQ_NEXT(c, all);
		if (c->state == CONN_S_HANDSHAKE || c->state == CONN_S_CLOSING ||
		    c->ssl == NULL)
			continue;
		certcheck.checked++;
		if (conn_cert_valid(c, why, sizeof(why)) == 0)
			continue;
		conn_fail(c, PROTO_E_REVOKED, "certificate no longer accepted: "
		    "%s", why);
		certcheck.closed++;
	}
	if ((d = mono_us() - t0) > certcheck.longest_us)
		certcheck.longest_us = d;
	if (certcheck.next != NULL) {
		wz_next_turn(certcheck.ev);
		return;
	}
	log_notice("reload: %zu certificate%s checked again against the new "
	    "CA and CRL in %llu ms (%zu turn%s, the longest %.1f ms); %zu "
	    "connection%s closed", certcheck.checked,
	    certcheck.checked == 1 ? "" : "s",
	    (unsigned long long)((mono_us() - certcheck.start_us) / 1000),
	    certcheck.turns, certcheck.turns == 1 ? "" : "s",
	    (double)certcheck.longest_us / 1000.0, certcheck.closed,
	    certcheck.closed == 1 ? "" : "s");
}

void
conn_recheck_certs(void)
{
	if (certcheck.ev == NULL && (certcheck.ev = event_new(wz->base, -1, 0,
	    conn_recheck_cb, NULL)) == NULL)
		fatalx("conn: event_new");
	certcheck.next = TAILQ_FIRST(&conns);
	certcheck.checked = certcheck.closed = certcheck.turns = 0;
	certcheck.start_us = mono_us();
	certcheck.longest_us = 0;
	wz_next_turn(certcheck.ev);
}

/*
 * A receiver's certificate must say where it sits, as the tree does: its
 * agent checks every alert against that path, so one without it (or with
 * another) could never accept what it is sent.
 */
static int
conn_path_valid(struct conn *c, char *why, size_t whylen)
{
	struct proto_scope	 sc;
	char			 err[256], has[PROTO_PATH_MAX * 65 + 1];
	char			 want[PROTO_PATH_MAX * 65 + 1];

	if (!(c->p->rights & PROTO_R_RECEIVE))
		return 0;
	if (proto_cert_scope(SSL_get0_peer_certificate(c->ssl), &sc, err,
	    sizeof(err)) != 0) {
		snprintf(why, whylen, "certificate of %s: %s", c->cn, err);
		return -1;
	}
	tree_path_str(c->p->node, want, sizeof(want));
	if (sc.depth == 0) {
		snprintf(why, whylen, "certificate of %s has no wuzha:path: URI "
		    "(the tree places it at %s): issue it again with wuzha-ca",
		    c->cn, want);
		return -1;
	}
	proto_scope_path_str(&sc, has, sizeof(has));
	if (strcmp(has, want) != 0) {
		snprintf(why, whylen, "certificate of %s says wuzha:path:%s, "
		    "the tree places it at %s: issue it again with wuzha-ca",
		    c->cn, has, want);
		return -1;
	}
	return 0;
}

/* The TLS handshake is done: the certificate's CN must be a principal. */
static void
conn_established(struct conn *c)
{
	char	cn[PROTO_ID_MAX + 1], why[1024];

	if (tls_peer_cn(c->ssl, cn, sizeof(cn)) == -1) {
		conn_set_state(c, CONN_S_HELLO);
		conn_fail(c, PROTO_E_PRINCIPAL, "certificate has no usable CN");
		return;
	}
	strlcpy(c->cn, cn, sizeof(c->cn));
	conn_name_update(c);
	conn_set_state(c, CONN_S_HELLO);
	if (SSL_session_reused(c->ssl) &&
	    conn_cert_valid(c, why, sizeof(why)) == -1) {
		conn_fail(c, PROTO_E_REVOKED, "resumed session, but the "
		    "certificate is no longer accepted: %s", why);
		return;
	}
	if ((c->p = tree_principal(wz->tree, cn)) == NULL) {
		conn_fail(c, PROTO_E_PRINCIPAL, "certificate CN %s is not a "
		    "principal", cn);
		return;
	}
	if (conn_path_valid(c, why, sizeof(why)) == -1) {
		conn_fail(c, PROTO_E_PRINCIPAL, "%s", why);
		return;
	}
	log_debug("conn %llu %s: tls %s %s", (unsigned long long)c->id, c->name,
	    SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl));
}

/* Why did the TLS layer fail?  The verify result says most. */
static void
conn_tls_failed(struct conn *c)
{
	char		 why[256] = "connection closed during the handshake";
	unsigned long	 e;
	long		 vr;
	enum metric	 m = M_HANDSHAKE_FAILED_CLOSED;

	vr = SSL_get_verify_result(c->ssl);
	if (vr != X509_V_OK) {
		m = M_HANDSHAKE_FAILED_CERT;
		snprintf(why, sizeof(why), "certificate refused: %s",
		    X509_verify_cert_error_string(vr));
	} else if ((e = bufferevent_get_openssl_error(c->bev)) != 0) {
		/*
		 * No certificate at all is a certificate refusal too; an
		 * end of stream is the peer going away.
		 */
		switch (ERR_GET_REASON(e)) {
		case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
		case SSL_R_CERTIFICATE_VERIFY_FAILED:
			m = M_HANDSHAKE_FAILED_CERT;
			break;
		case SSL_R_UNEXPECTED_EOF_WHILE_READING:
			break;
		default:
			m = M_HANDSHAKE_FAILED_PROTO;
		}
		ERR_error_string_n(e, why, sizeof(why));
	}
	while (bufferevent_get_openssl_error(c->bev) != 0)
		;
	metrics_count(m, 1);
	log_warnx("conn %llu %s: tls handshake failed: %s",
	    (unsigned long long)c->id, c->name, why);
}

/* What broke a connection: the socket's error, else OpenSSL's. */
static const char *
conn_error_text(struct conn *c, char *buf, size_t len)
{
	unsigned long	e;
	int		err = EVUTIL_SOCKET_ERROR();

	if ((e = bufferevent_get_openssl_error(c->bev)) != 0) {
		if (ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
			return "closed without a TLS close_notify";
		ERR_error_string_n(e, buf, len);
		return buf;
	}
	if (err != 0)
		return evutil_socket_error_to_string(err);
	return "closed without a TLS close_notify";
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;
	char		 why[256];

	if (what & BEV_EVENT_CONNECTED) {
		metrics_count(SSL_session_reused(c->ssl) ? M_HANDSHAKE_RESUMED :
		    M_HANDSHAKE_FULL, 1);
		conn_established(c);
		conn_input_pending(c);
		return;
	}
	if (c->state == CONN_S_HANDSHAKE && (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)))
		conn_tls_failed(c);
	else if (c->state != CONN_S_CLOSING) {
		if (what & BEV_EVENT_EOF)
			log_info("conn %llu %s: peer closed", (unsigned long long)c->id,
			    c->name);
		else
			log_info("conn %llu %s: connection lost: %s",
			    (unsigned long long)c->id, c->name, conn_error_text(c,
			    why, sizeof(why)));
	}
	while (bufferevent_get_openssl_error(c->bev) != 0)
		;
	conn_set_state(c, CONN_S_CLOSING);
	conn_destroy(c);
}

/* --- fan-out, rebinding, sweeping -------------------------------------- */

struct conn *
conn_first_at(struct tnode *n)
{
	return TAILQ_FIRST(&n->agents);
}

struct conn *
conn_next_at(struct conn *c)
{
	return TAILQ_NEXT(c, at_node);
}

struct fanout_ctx {
	struct blob	*bl;
	size_t		 n;
};

static void
conn_fanout_node_cb(struct tnode *n, int depth, void *arg)
{
	struct fanout_ctx	*fc = arg;
	struct conn		*c, *next;

	for (c = TAILQ_FIRST(&n->agents); c != NULL; c = next) {
		next = TAILQ_NEXT(c, at_node);	/* c may leave the list */
		if (c->state != CONN_S_READY)
			continue;
		conn_send_blob(c, fc->bl);
		fc->n++;
	}
}

size_t
conn_fanout(struct tnode *root, struct blob *bl)
{
	struct fanout_ctx	fc = { bl, 0 };

	tree_walk(root, conn_fanout_node_cb, &fc);
	metrics_count(M_DELIVERED, fc.n);
	return fc.n;
}

/*
 * Call fn on each ready agent whose principal observes at node n.  An
 * observer need not receive, so it may not be on n's list: this walks
 * every connection, which is cheap next to how seldom an alert
 * escalates.  fn may close the connection it is given, no other.
 */
size_t
conn_observers_at(struct tnode *n, void (*fn)(struct conn *, void *),
    void *arg)
{
	struct conn	*c, *next;
	size_t		 k = 0;

	for (c = TAILQ_FIRST(&conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, all);	/* a slow c may leave the list */
		if (c->state != CONN_S_READY || c->role != PROTO_ROLE_AGENT ||
		    c->p == NULL || c->p->node != n ||
		    !(c->p->rights & PROTO_R_OBSERVE))
			continue;
		fn(c, arg);
		k++;
	}
	return k;
}

/* Do a and b sit at the same path of node ids from their root? */
static int
node_same_path(const struct tnode *a, const struct tnode *b)
{
	for (; a != NULL && b != NULL; a = a->parent, b = b->parent)
		if (strcmp(a->id, b->id) != 0)
			return 0;
	return a == NULL && b == NULL;
}

void
conn_rebind(struct tree *old, struct tree *new)
{
	struct conn		*c, *next;
	struct tprincipal	*p;
	char			 why[512];
	int			 linked, recheck;

	for (c = TAILQ_FIRST(&conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, all);
		if (c->p == NULL)
			continue;
		linked = c->in_node;
		conn_link_list(c, 0);
		p = tree_principal(new, c->cn);
		/* The old principal is still readable: old is freed after us. */
		recheck = p != NULL && (p->rights & PROTO_R_RECEIVE) &&
		    (!(c->p->rights & PROTO_R_RECEIVE) ||
		    !node_same_path(c->p->node, p->node));
		c->p = p;
		if (p == NULL) {
			if (linked)
				conn_seen(c, now_ms());
			conn_fail(c, PROTO_E_PRINCIPAL, "principal %s was removed "
			    "from the tree", c->cn);
			continue;
		}
		/*
		 * Moved, or made a receiver: its certificate must say the new
		 * place, or its agent could accept nothing sent there.
		 */
		if (recheck && conn_path_valid(c, why, sizeof(why)) == -1) {
			if (linked)
				conn_seen(c, now_ms());
			conn_fail(c, PROTO_E_PRINCIPAL, "%s", why);
			continue;
		}
		if (linked || c->state == CONN_S_SYNC || c->state == CONN_S_READY) {
			if (c->role == PROTO_ROLE_AGENT &&
			    (p->rights & PROTO_R_RECEIVE)) {
				if (linked)
					conn_link_list(c, 1);
				else
					conn_link(c, 1);
			} else if (linked)
				conn_seen(c, now_ms());
		}
	}
	/* Principals may have moved: their counts up the tree with them. */
	conn_ops->rebound();
}

void
conn_sweep(void)
{
	struct conn		*c, *next;
	struct proto_buf	 b;
	struct proto_ping	 ping;
	uint64_t		 now = mono_ms();
	uint64_t		 idle = (uint64_t)wz->conf->timeouts.idle_s * 1000;
	uint64_t		 hb = (uint64_t)wz->conf->timeouts.heartbeat_s * 1000;

	pbuf_init(&b);
	for (c = TAILQ_FIRST(&conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, all);
		/* A last resort for input read ahead that nothing announced. */
		if (c->state != CONN_S_HANDSHAKE && c->ssl != NULL &&
		    SSL_has_pending(c->ssl)) {
			conn_input_pending(c);
			continue;
		}
		switch (c->state) {
		case CONN_S_HANDSHAKE:
		case CONN_S_HELLO:
			if (now - c->created > wz->conf->timeouts.handshake_ms) {
				if (c->state == CONN_S_HANDSHAKE)
					metrics_count(M_HANDSHAKE_FAILED_TIMEOUT,
					    1);
				conn_fail(c, PROTO_E_TIMEOUT, "no HELLO within %u ms",
				    wz->conf->timeouts.handshake_ms);
			}
			break;
		case CONN_S_SYNC:
		case CONN_S_READY:
			if (c->partial_since != 0 &&
			    now - c->partial_since > wz->conf->timeouts.frame_ms) {
				conn_fail(c, PROTO_E_TIMEOUT, "a frame still "
				    "incomplete after %u ms",
				    wz->conf->timeouts.frame_ms);
				break;
			}
			if (now - c->last_rx > idle) {
				conn_fail(c, PROTO_E_TIMEOUT, "silent for %llu s",
				    (unsigned long long)(now - c->last_rx) / 1000);
				break;
			}
			if (now - c->last_ping >= hb) {
				c->last_ping = now;
				ping.nonce = ++c->ping_nonce;
				proto_ping_encode(&b, PROTO_T_PING, &ping);
				conn_send(c, &b);
			}
			break;
		case CONN_S_CLOSING:
			if (now - c->closing_since > CONN_CLOSE_GRACE_MS)
				conn_destroy(c);
			break;
		}
	}
	pbuf_free(&b);
}

void
conn_close_all(int code, const char *why)
{
	struct conn		*c, *next;
	struct proto_buf	 b;

	pbuf_init(&b);
	for (c = TAILQ_FIRST(&conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, all);
		if (c->state == CONN_S_HELLO || c->state == CONN_S_SYNC ||
		    c->state == CONN_S_READY) {
			proto_bye_encode(&b, code, why);
			conn_send(c, &b);
		}
		if (c->state == CONN_S_CLOSING)
			continue;
		conn_set_state(c, CONN_S_CLOSING);
		if (c->bev == NULL ||
		    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
			conn_linger(c);
	}
	pbuf_free(&b);
}

/* Free everything at exit (after the loop has stopped). */
void
conn_free_all(void)
{
	struct conn	*c;

	while ((c = TAILQ_FIRST(&conns)) != NULL)
		conn_destroy(c);
	conn_reap_cb(-1, 0, NULL);
	if (reap_ev != NULL)
		event_free(reap_ev);
	reap_ev = NULL;
	if (certcheck.ev != NULL)
		event_free(certcheck.ev);
	certcheck.ev = NULL;
	certcheck.next = NULL;
	htab_clear(&conn_hosts, NULL);
}
