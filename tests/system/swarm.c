/* SPDX-License-Identifier: ISC */
/*
 * swarm: many wuzha agents in one process, for the scale system test.
 * It makes N Ed25519 keys and client certificates in memory, signed by
 * the test CA, connects them all to one wuzhad (a bounded number of TLS
 * handshakes in flight), says HELLO as an agent on each, and counts what
 * comes back.  Progress goes to stdout, one line per milestone, so that a
 * test can act between phases:
 *
 *	ready N		every agent got WELCOME
 *	received N	every agent got the expected number of ALERTs, each
 *			distinct envelope verified once with the CA
 *	(waits for a line "ack" on stdin)
 *	acked N		every agent sent ACK delivered and got ACK_OK
 *	{...}		one JSON summary line
 *
 * --principals FILE (what `wuzhactl tree principals` prints) gives each
 * agent's certificate its wuzha:path: URI, which wuzhad asks of receivers.
 *
 * Exit 0 if all went as expected, 1 otherwise; --timeout bounds it all.
 *
 * With --resilient the agents behave like long-lived real ones instead:
 * a lost connection (daemon killed, restarted, or cutting a slow agent
 * off) is retried with jittered exponential backoff, at most
 * --max-attempts times in a row, and HELLO is said again.  Each agent
 * keeps the set of alert ids it has shown (the first copy that verifies);
 * later copies are wire duplicates, counted and acknowledged again but
 * not shown.  Every ALERT is acknowledged as delivered at once.  Lines on
 * stdin then drive it:
 *
 *	expect FILE	the alert ids every agent must show, one a line
 *			(also --expect-ids FILE)
 *	report		print "report {...}": one JSON line of totals
 *	confirmed FILE	write "cn id" to FILE for every ACK_OK taken so
 *			far, one a line, then print "confirmed N"
 *	unstall		the --stall agents start reading again
 *	quit		print the summary and exit
 *
 * A BYE from the server is, with --resilient, a lost connection too.
 *
 * --stall N: the first N agents stop reading their socket right after
 * WELCOME (a slow consumer, with a small receive buffer), until
 * "unstall".
 * Loopback use only: it is a load generator aimed at the test's daemon.
 */

#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
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

#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "loadgen.h"
#include "proto.h"

#define SWARM_INFLIGHT_DEFAULT	64	/* TLS handshakes at once */
#define SWARM_TIMEOUT_DEFAULT	120	/* seconds for the whole run */
#define SWARM_CACHE_MAX		256	/* distinct envelopes remembered */
#define SWARM_ERR_MAX		384	/* "cn: reason" */
#define SWARM_ATTEMPTS_DEFAULT	200	/* --resilient: connects in a row */
#define SWARM_BACKOFF_MIN_MS	50
#define SWARM_BACKOFF_MAX_MS	2000
#define SWARM_EXPECT_MAX	100000
#define SWARM_STALL_RCVBUF	4096	/* --stall: receive buffer, bytes */
#define SWARM_SERVERS_MAX	8	/* --server given this often at most */

enum agent_state {
	AGENT_S_IDLE,		/* not started */
	AGENT_S_CONNECTING,	/* TCP + TLS + HELLO, no WELCOME yet */
	AGENT_S_READY,		/* WELCOME seen */
	AGENT_S_FAILED,		/* closed or broke the protocol */
	AGENT_S_BACKOFF,	/* --resilient: waiting to connect again */
};

/* --resilient: one alert id an agent has shown. */
struct shown_id {
	proto_id		 id;
	int			 confirmed;	/* ACK_OK seen for it */
	int			 retry;		/* 501 for its ack: send again */
};

struct agent {
	struct swarm		*sw;
	int			 idx;
	char			 cn[PROTO_ID_MAX + 1];
	EVP_PKEY		*key;
	X509			*cert;
	struct bufferevent	*bev;
	enum agent_state	 state;
	uint32_t		 nalerts;	/* ALERT frames received */
	uint32_t		 nacked;	/* ACK_OK frames received */
	proto_id		*ids;		/* ids received, nalerts of them */

	int			 srv;		/* sw->addrs[] connected to */

	/* --resilient */
	struct event		*retry_ev;
	int			 attempts;	/* failed in a row */
	int			 welcomed;	/* WELCOME seen at least once */
	int			 stalled;	/* not reading (--stall) */
	struct shown_id		*shown;
	uint32_t		 nshown, capshown;
	uint64_t		 wire_dups;
};

struct swarm {
	struct event_base	*base;
	SSL_CTX			*ctx;
	X509_STORE		*store;
	struct sockaddr_in	 addrs[SWARM_SERVERS_MAX];
	int			 naddrs;
	const char		*server_name;
	uint32_t		 max_frame;

	struct agent		*agents;
	struct env_hashes	 eh;		/* what the receipts sign */
	int			 n;
	uint32_t		 k;		/* alerts each agent expects */
	int			 next;		/* next agent to start */
	int			 inflight;
	int			 max_inflight;

	int			 resilient;
	int			 nstall;
	int			 max_attempts;
	uint64_t		 reconnects;	/* connections lost and retried */
	uint64_t		 errors;	/* ERROR frames taken */
	uint64_t		 acks_sent;
	uint64_t		 acks_ok;
	proto_id		*expect;	/* ids every agent must show */
	int			 nexpect;
	int			 reports;

	int			 ready;
	int			 received;
	int			 acked;
	int			 failed;
	int			 ack_sent;
	char			 first_err[SWARM_ERR_MAX];

	struct verify_cache	 vc;

	struct event		*stdin_ev;
	struct event		*timeout_ev;
	struct event		*retry_ev;	/* --resilient: acks refused with 501 */
	char			 line[1024];
	size_t			 linelen;

	uint64_t		 t_start, t_ready, t_received, t_ack, t_acked;
	int			 timed_out;
	int			 done;
};

static void	agent_read_cb(struct bufferevent *, void *);
static void	agent_event_cb(struct bufferevent *, short, void *);
static void	swarm_finish(struct swarm *);
static void	agent_connect(struct agent *);
static void	swarm_start_more(struct swarm *);

/* --- agents --------------------------------------------------------------- */

/* Record the first failure and end the run: one lost agent spoils it. */
static void __attribute__((format(printf, 2, 3)))
agent_fail(struct agent *a, const char *fmt, ...)
{
	struct swarm *sw = a->sw;
	char why[256];
	va_list ap;

	if (a->state == AGENT_S_FAILED)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (a->state == AGENT_S_CONNECTING)
		sw->inflight--;
	a->state = AGENT_S_FAILED;
	sw->failed++;
	if (a->bev != NULL)
		bufferevent_disable(a->bev, EV_READ | EV_WRITE);
	fprintf(stderr, "swarm: %s: %s\n", a->cn, why);
	if (sw->first_err[0] == '\0')
		snprintf(sw->first_err, sizeof(sw->first_err), "%s: %s",
		    a->cn, why);
	swarm_finish(sw);
}

/* A uniform random number in [0, n). */
static uint32_t
rand_below(uint32_t n)
{
	uint32_t r;

	if (n == 0)
		return 0;
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		fatalx("RAND_bytes");
	return r % n;
}

/* Arm the agent's retry timer for ms milliseconds from now. */
static void
agent_retry_in(struct agent *a, uint32_t ms)
{
	timer_arm_us(a->retry_ev, (long)ms * 1000);
}

/*
 * The connection is gone.  Without --resilient that spoils the run; with
 * it the agent tries again after a jittered, growing delay, a bounded
 * number of times in a row.
 */
static void __attribute__((format(printf, 2, 3)))
agent_lost(struct agent *a, const char *fmt, ...)
{
	struct swarm *sw = a->sw;
	char why[256];
	uint32_t ms;
	va_list ap;
	int i;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (!sw->resilient) {
		agent_fail(a, "%s", why);
		return;
	}
	if (a->state == AGENT_S_FAILED || a->state == AGENT_S_BACKOFF)
		return;
	if (a->state == AGENT_S_CONNECTING)
		sw->inflight--;
	if (a->bev != NULL) {
		bufferevent_free(a->bev);
		a->bev = NULL;
	}
	a->stalled = 0;
	sw->reconnects++;
	/* Several servers: the next one, as an agent listing them does. */
	a->srv = (a->srv + 1) % sw->naddrs;
	if (++a->attempts > sw->max_attempts) {
		a->state = AGENT_S_IDLE;
		agent_fail(a, "gave up after %d attempts: %s",
		    sw->max_attempts, why);
		return;
	}
	a->state = AGENT_S_BACKOFF;
	ms = SWARM_BACKOFF_MIN_MS;
	for (i = 1; i < a->attempts && ms < SWARM_BACKOFF_MAX_MS; i++)
		ms *= 2;
	if (ms > SWARM_BACKOFF_MAX_MS)
		ms = SWARM_BACKOFF_MAX_MS;
	/* Jitter: anywhere from half to the whole delay. */
	agent_retry_in(a, ms / 2 + rand_below(ms / 2 + 1));
	swarm_start_more(sw);
}

static void
agent_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	struct swarm *sw = a->sw;

	(void)fd;
	(void)what;
	if (sw->done || a->state != AGENT_S_BACKOFF)
		return;
	if (sw->inflight >= sw->max_inflight) {
		agent_retry_in(a, 10 + rand_below(50));
		return;
	}
	agent_connect(a);
}

/* Queue a buffer of whole frames on the agent's connection. */
static void
agent_send(struct agent *a, struct proto_buf *b)
{
	if (b->err != 0) {
		agent_fail(a, "encoding error %d", b->err);
		return;
	}
	if (bufferevent_write(a->bev, b->data, b->len) != 0)
		agent_fail(a, "bufferevent_write failed");
	b->len = 0;
}

static void
agent_connect(struct agent *a)
{
	struct swarm *sw = a->sw;
	SSL *ssl;
	int fd, rcvbuf = SWARM_STALL_RCVBUF;

	ssl = client_ssl_new(sw->ctx, a->cert, a->key, a->cn, sw->server_name);
	fd = -1;
	if (a->idx < sw->nstall) {
		/*
		 * A slow consumer with a small receive window, so that what
		 * it does not read piles up at the daemon, not in our kernel.
		 */
		if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
			fatalx("socket: %s", strerror(errno));
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
		    sizeof(rcvbuf)) != 0 ||
		    evutil_make_socket_nonblocking(fd) != 0)
			fatalx("stalled socket: %s", strerror(errno));
	}
	a->bev = tls_bev_new(sw->base, fd, ssl, agent_read_cb, agent_event_cb,
	    a);
	a->state = AGENT_S_CONNECTING;
	sw->inflight++;
	if (bufferevent_socket_connect(a->bev,
	    (struct sockaddr *)&sw->addrs[a->srv], sizeof(sw->addrs[0])) != 0)
		agent_lost(a, "connect: %s", strerror(errno));
}

/* Keep up to max_inflight handshakes going. */
static void
swarm_start_more(struct swarm *sw)
{
	while (!sw->done && sw->inflight < sw->max_inflight && sw->next < sw->n)
		agent_connect(&sw->agents[sw->next++]);
}

static void
agent_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct agent *a = arg;
	struct proto_buf b;
	char why[256];

	if (what & BEV_EVENT_CONNECTED) {
		pbuf_init(&b);
		hello_encode(&b, PROTO_ROLE_AGENT, "wuzha-swarm");
		agent_send(a, &b);
		pbuf_free(&b);
		return;
	}
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) {
		bev_why(bev, what, why, sizeof(why));
		agent_lost(a, "%s", why);
	}
}

static void
swarm_line(const char *what, int n)
{
	printf("%s %d\n", what, n);
	fflush(stdout);
}

static void
on_welcome(struct agent *a, const uint8_t *p, size_t len)
{
	struct swarm *sw = a->sw;
	struct proto_welcome w;
	int r;

	if (a->state != AGENT_S_CONNECTING) {
		agent_fail(a, "WELCOME out of order");
		return;
	}
	if ((r = proto_welcome_decode(p, len, &w)) != 0) {
		agent_fail(a, "bad WELCOME: %s", proto_err_name(-r));
		return;
	}
	if (strcmp(w.principal, a->cn) != 0) {
		agent_fail(a, "WELCOME for principal %s", w.principal);
		return;
	}
	a->state = AGENT_S_READY;
	sw->inflight--;
	a->attempts = 0;
	if (a->idx < sw->nstall) {
		/* A slow consumer: leave everything in the socket. */
		a->stalled = 1;
		bufferevent_disable(a->bev, EV_READ);
	}
	if (a->welcomed) {
		swarm_start_more(sw);
		return;
	}
	a->welcomed = 1;
	if (++sw->ready == sw->n) {
		sw->t_ready = mono_ms();
		swarm_line("ready", sw->ready);
		if (sw->k == 0) {
			sw->received = sw->n;
			sw->t_received = sw->t_ready;
			swarm_line("received", sw->received);
		}
	}
	swarm_start_more(sw);
}

/* --resilient: the daemon could not store our ack of id; send it again. */
static void
agent_mark_retry(struct agent *a, const char *id)
{
	uint32_t i;

	for (i = 0; i < a->nshown; i++)
		if (strcmp(a->shown[i].id, id) == 0)
			a->shown[i].retry = 1;
}

/* Every second: acks refused with 501 go out again, as wuzha-agent does. */
static void
retry_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct swarm *sw = arg;
	struct proto_buf b;
	struct agent *a;
	uint32_t j;
	int i;

	(void)fd;
	(void)ev;
	for (i = 0; i < sw->n; i++) {
		a = &sw->agents[i];
		if (a->state != AGENT_S_READY)
			continue;
		for (j = 0; j < a->nshown; j++) {
			if (!a->shown[j].retry || a->shown[j].confirmed)
				continue;
			a->shown[j].retry = 0;
			pbuf_init(&b);
			ack_delivered_encode(&b, a->shown[j].id, 0,
			    env_hash_get(&sw->eh, a->shown[j].id), a->key,
			    a->cn);
			agent_send(a, &b);
			pbuf_free(&b);
			sw->acks_sent++;
			if (a->state != AGENT_S_READY)
				break;
		}
	}
}

/*
 * --resilient: show an id the first time it verifies, count a copy after
 * that as a wire duplicate, and acknowledge it as delivered either way
 * (the real agent acknowledges a copy of what it has shown again).
 */
static void
agent_take(struct agent *a, const char *id)
{
	struct swarm *sw = a->sw;
	struct proto_buf b;
	uint32_t i;

	for (i = 0; i < a->nshown; i++)
		if (strcmp(a->shown[i].id, id) == 0)
			break;
	if (i < a->nshown)
		a->wire_dups++;
	else {
		if (a->nshown == a->capshown) {
			a->capshown = a->capshown ? 2 * a->capshown : 16;
			a->shown = reallocarray(a->shown, a->capshown,
			    sizeof(*a->shown));
			if (a->shown == NULL)
				fatalx("out of memory");
		}
		memset(&a->shown[a->nshown], 0, sizeof(a->shown[0]));
		memcpy(a->shown[a->nshown++].id, id, sizeof(proto_id));
	}
	pbuf_init(&b);
	ack_delivered_encode(&b, id, 0, env_hash_get(&sw->eh, id), a->key,
	    a->cn);
	agent_send(a, &b);
	pbuf_free(&b);
	sw->acks_sent++;
}

static void
on_alert(struct agent *a, const uint8_t *p, size_t len)
{
	struct swarm *sw = a->sw;
	struct proto_alert_msg m;
	proto_id id;
	char why[128] = "";
	uint32_t i;
	int r;

	if (a->state != AGENT_S_READY) {
		agent_fail(a, "ALERT before WELCOME");
		return;
	}
	if ((r = proto_alert_msg_decode(p, len, &m)) != 0) {
		agent_fail(a, "bad ALERT: %s", proto_err_name(-r));
		return;
	}
	if ((r = verify_cached(&sw->vc, sw->store, m.envelope, id, why,
	    sizeof(why))) != 0) {
		agent_fail(a, "ALERT seq %" PRIu64 " does not verify: %s: %s",
		    m.seq, proto_err_name(-r), why);
		return;
	}
	env_hash_note(&sw->eh, id, m.envelope);
	if (sw->resilient) {
		agent_take(a, id);
		return;
	}
	for (i = 0; i < a->nalerts; i++)
		if (strcmp(a->ids[i], id) == 0) {
			agent_fail(a, "alert %s received twice", id);
			return;
		}
	if (a->nalerts >= sw->k) {
		agent_fail(a, "alert %s beyond the %u expected", id, sw->k);
		return;
	}
	memcpy(a->ids[a->nalerts++], id, sizeof(proto_id));
	if (a->nalerts == sw->k && ++sw->received == sw->n) {
		sw->t_received = mono_ms();
		swarm_line("received", sw->received);
	}
}

static void
on_ack_ok(struct agent *a, const uint8_t *p, size_t len)
{
	struct swarm *sw = a->sw;
	struct proto_ack_ok ok;
	int r;

	uint32_t i;

	if ((r = proto_ack_ok_decode(p, len, &ok)) != 0) {
		agent_fail(a, "bad ACK_OK: %s", proto_err_name(-r));
		return;
	}
	if (sw->resilient) {
		for (i = 0; i < a->nshown; i++)
			if (strcmp(a->shown[i].id, ok.id) == 0)
				break;
		if (i == a->nshown) {
			agent_fail(a, "ACK_OK for %s, never shown", ok.id);
			return;
		}
		if (proto_ack_rank(ok.state) <
		    proto_ack_rank(PROTO_ACK_DELIVERED)) {
			agent_fail(a, "ACK_OK for %s in state %u", ok.id,
			    ok.state);
			return;
		}
		a->shown[i].confirmed = 1;
		sw->acks_ok++;
		return;
	}
	if (!sw->ack_sent || a->nacked >= a->nalerts) {
		agent_fail(a, "unexpected ACK_OK for %s", ok.id);
		return;
	}
	if (++a->nacked == sw->k && ++sw->acked == sw->n) {
		sw->t_acked = mono_ms();
		swarm_line("acked", sw->acked);
		swarm_finish(sw);
	}
}

static void
on_frame(struct agent *a, uint8_t type, const uint8_t *p, size_t len)
{
	struct proto_buf b;
	struct proto_error err;
	struct swarm *sw = a->sw;
	int r;

	switch (type) {
	case PROTO_T_WELCOME:
		on_welcome(a, p, len);
		break;
	case PROTO_T_ALERT:
		on_alert(a, p, len);
		break;
	case PROTO_T_ACK_OK:
		on_ack_ok(a, p, len);
		break;
	case PROTO_T_PING:
		pbuf_init(&b);
		if ((r = pong_encode(&b, p, len)) != 0)
			agent_fail(a, "bad PING: %s", proto_err_name(-r));
		else
			agent_send(a, &b);
		pbuf_free(&b);
		break;
	case PROTO_T_PONG:
		break;
	case PROTO_T_ERROR:
		if (proto_error_decode(p, len, &err) != 0)
			agent_fail(a, "undecodable ERROR");
		else if (sw->resilient) {
			/* As the real agent: say so, retry a refused ack. */
			sw->errors++;
			if (err.code == PROTO_E_STORE && err.ref[0] != '\0')
				agent_mark_retry(a, err.ref);
			fprintf(stderr, "swarm: %s: ERROR %u %s: %.*s%s%s\n",
			    a->cn, err.code, proto_err_name(err.code),
			    (int)err.text.len, (const char *)err.text.p,
			    err.ref[0] ? " for " : "", err.ref);
		} else
			agent_fail(a, "ERROR %u %s: %.*s", err.code,
			    proto_err_name(err.code), (int)err.text.len,
			    (const char *)err.text.p);
		break;
	case PROTO_T_BYE:
		/* --resilient: the server ends the session (a Redis
		 * fail-over, a restart): connect again, as the agent does. */
		if (sw->resilient)
			agent_lost(a, "server said BYE");
		else
			agent_fail(a, "unexpected %s frame",
			    proto_type_name(type));
		break;
	default:
		agent_fail(a, "unexpected %s frame", proto_type_name(type));
		break;
	}
}

static void
agent_read_cb(struct bufferevent *bev, void *arg)
{
	struct agent *a = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t type;
	uint32_t plen;
	const uint8_t *p;
	int r;

	while (a->state != AGENT_S_FAILED && a->state != AGENT_S_BACKOFF &&
	    !a->stalled) {
		if ((r = frame_peek(in, a->sw->max_frame, &type, &p,
		    &plen)) == 0)
			return;
		if (r < 0) {
			agent_fail(a, "bad frame header: %s",
			    proto_err_name(-r));
			return;
		}
		on_frame(a, type, p, plen);
		if (a->bev != bev)
			return;		/* lost and freed meanwhile */
		evbuffer_drain(in, PROTO_FRAME_HDR + (size_t)plen);
	}
}

/* --- phases --------------------------------------------------------------- */

/* Every agent acknowledges what it received as delivered. */
static void
swarm_send_acks(struct swarm *sw)
{
	struct proto_buf b;
	struct agent *a;
	uint32_t j;
	int i;

	if (sw->ack_sent)
		return;
	sw->ack_sent = 1;
	sw->t_ack = mono_ms();
	if (sw->k == 0 || sw->n == 0) {
		sw->acked = sw->n;
		sw->t_acked = sw->t_ack;
		swarm_line("acked", sw->acked);
		swarm_finish(sw);
		return;
	}
	pbuf_init(&b);
	for (i = 0; i < sw->n && !sw->done; i++) {
		a = &sw->agents[i];
		if (a->state != AGENT_S_READY)
			continue;
		for (j = 0; j < a->nalerts; j++)
			ack_delivered_encode(&b, a->ids[j], 0,
			    env_hash_get(&sw->eh, a->ids[j]), a->key, a->cn);
		agent_send(a, &b);
	}
	pbuf_free(&b);
}

/* --expect-ids / "expect FILE": the ids every agent must show. */
static int
swarm_load_expect(struct swarm *sw, const char *path)
{
	FILE *f;
	char line[PROTO_ID_MAX + 8];
	size_t len;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "swarm: %s: %s\n", path, strerror(errno));
		return -1;
	}
	free(sw->expect);
	if ((sw->expect = calloc(SWARM_EXPECT_MAX, sizeof(proto_id))) == NULL)
		fatalx("out of memory");
	sw->nexpect = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		len = strcspn(line, "\r\n");
		line[len] = '\0';
		if (len == 0)
			continue;
		if (len > PROTO_ID_MAX || sw->nexpect == SWARM_EXPECT_MAX) {
			fprintf(stderr, "swarm: %s: bad id or too many\n",
			    path);
			fclose(f);
			return -1;
		}
		memcpy(sw->expect[sw->nexpect++], line, len + 1);
	}
	fclose(f);
	return 0;
}

/*
 * "report {...}": totals over every agent, measured against the expected
 * ids.  with_all: agents that have shown every expected id; confirmed_all:
 * agents with an ACK_OK for every one of them; shown_twice: ids an agent
 * has in its shown set more than once (0 unless the dedup is broken).
 */
static void
swarm_report(struct swarm *sw)
{
	struct agent *a;
	uint64_t shown = 0, dups = 0, confirmed = 0, twice = 0, extra = 0;
	int i, j, connected = 0, stalled = 0, with_all = 0, conf_all = 0;
	uint32_t k, l;
	char missing[SWARM_ERR_MAX] = "", unconfirmed[SWARM_ERR_MAX] = "";
	int has, conf;

	for (i = 0; i < sw->n; i++) {
		a = &sw->agents[i];
		connected += a->state == AGENT_S_READY;
		stalled += a->stalled;
		shown += a->nshown;
		dups += a->wire_dups;
		for (k = 0; k < a->nshown; k++) {
			confirmed += a->shown[k].confirmed;
			for (l = k + 1; l < a->nshown; l++)
				twice += strcmp(a->shown[k].id,
				    a->shown[l].id) == 0;
		}
		has = conf = 1;
		for (j = 0; j < sw->nexpect; j++) {
			for (k = 0; k < a->nshown; k++)
				if (strcmp(a->shown[k].id, sw->expect[j]) == 0)
					break;
			if (k == a->nshown) {
				has = conf = 0;
				if (missing[0] == '\0')
					snprintf(missing, sizeof(missing),
					    "%s %s", a->cn, sw->expect[j]);
			} else if (!a->shown[k].confirmed) {
				conf = 0;
				if (unconfirmed[0] == '\0')
					snprintf(unconfirmed,
					    sizeof(unconfirmed), "%s %s",
					    a->cn, sw->expect[j]);
			}
		}
		with_all += has;
		conf_all += conf;
		for (k = 0; k < a->nshown; k++) {
			for (j = 0; j < sw->nexpect; j++)
				if (strcmp(a->shown[k].id, sw->expect[j]) == 0)
					break;
			extra += j == sw->nexpect;
		}
	}
	printf("report {\"n\":%d,\"agents\":%d,\"ready\":%d,"
	    "\"connected\":%d,\"stalled\":%d,\"failed\":%d,"
	    "\"expected\":%d,\"with_all\":%d,\"confirmed_all\":%d,"
	    "\"shown\":%" PRIu64 ",\"shown_twice\":%" PRIu64
	    ",\"shown_unexpected\":%" PRIu64 ",\"wire_dups\":%" PRIu64
	    ",\"confirmed\":%" PRIu64 ",\"acks_sent\":%" PRIu64
	    ",\"acks_ok\":%" PRIu64 ",\"reconnects\":%" PRIu64
	    ",\"errors\":%" PRIu64 ",\"missing\":",
	    ++sw->reports, sw->n, sw->ready, connected, stalled, sw->failed,
	    sw->nexpect, with_all, conf_all, shown, twice, extra, dups,
	    confirmed, sw->acks_sent, sw->acks_ok, sw->reconnects,
	    sw->errors);
	json_str(stdout, missing);
	printf(",\"unconfirmed\":");
	json_str(stdout, unconfirmed);
	printf(",\"first_error\":");
	json_str(stdout, sw->first_err);
	/* Agents with a session now, by the --server they are on. */
	printf(",\"per_server\":[");
	for (j = 0; j < sw->naddrs; j++) {
		int	on = 0;

		for (i = 0; i < sw->n; i++)
			on += sw->agents[i].state == AGENT_S_READY &&
			    sw->agents[i].srv == (int)j;
		printf("%s%d", j ? "," : "", on);
	}
	printf("]}\n");
	fflush(stdout);
}

/*
 * "confirmed FILE": every (agent, alert) whose ack got ACK_OK, so that a
 * test can check each one is stored.  -1 if FILE cannot be written.
 */
static int
swarm_dump_confirmed(struct swarm *sw, const char *path)
{
	struct agent *a;
	FILE *f;
	uint32_t k;
	int i, n = 0;

	if ((f = fopen(path, "w")) == NULL) {
		fprintf(stderr, "swarm: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (i = 0; i < sw->n; i++) {
		a = &sw->agents[i];
		for (k = 0; k < a->nshown; k++)
			if (a->shown[k].confirmed) {
				fprintf(f, "%s %s\n", a->cn, a->shown[k].id);
				n++;
			}
	}
	if (fclose(f) != 0) {
		fprintf(stderr, "swarm: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return n;
}

/* "unstall": the stalled agents read again (and find what is waiting). */
static void
swarm_unstall(struct swarm *sw)
{
	struct agent *a;
	int i;

	for (i = 0; i < sw->n && !sw->done; i++) {
		a = &sw->agents[i];
		if (!a->stalled || a->bev == NULL)
			continue;
		a->stalled = 0;
		bufferevent_enable(a->bev, EV_READ);
		agent_read_cb(a->bev, a);
	}
	sw->nstall = 0;
}

static void
stdin_cb(evutil_socket_t fd, short what, void *arg)
{
	struct swarm *sw = arg;
	ssize_t r;
	char c;

	(void)what;
	for (;;) {
		r = read(fd, &c, 1);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (r <= 0) {
			/* EOF: nothing more will be asked of us. */
			event_del(sw->stdin_ev);
			if (!sw->ack_sent)
				swarm_finish(sw);
			return;
		}
		if (c != '\n') {
			if (sw->linelen < sizeof(sw->line) - 1)
				sw->line[sw->linelen++] = c;
			continue;
		}
		sw->line[sw->linelen] = '\0';
		sw->linelen = 0;
		if (strcmp(sw->line, "ack") == 0 && !sw->resilient)
			swarm_send_acks(sw);
		else if (strcmp(sw->line, "report") == 0)
			swarm_report(sw);
		else if (strncmp(sw->line, "expect ", 7) == 0) {
			if (swarm_load_expect(sw, sw->line + 7) == 0)
				printf("expecting %d\n", sw->nexpect);
			else
				printf("expecting error\n");
			fflush(stdout);
		} else if (strncmp(sw->line, "confirmed ", 10) == 0) {
			int n = swarm_dump_confirmed(sw, sw->line + 10);

			if (n >= 0)
				printf("confirmed %d\n", n);
			else
				printf("confirmed error\n");
			fflush(stdout);
		} else if (strcmp(sw->line, "unstall") == 0)
			swarm_unstall(sw);
		else if (strcmp(sw->line, "quit") == 0)
			swarm_finish(sw);
		else
			fprintf(stderr, "swarm: unknown command '%s'\n",
			    sw->line);
		if (sw->done)
			return;
	}
}

static void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct swarm *sw = arg;

	(void)fd;
	(void)what;
	sw->timed_out = 1;
	fprintf(stderr, "swarm: timed out\n");
	swarm_finish(sw);
}

static void
swarm_finish(struct swarm *sw)
{
	if (sw->done)
		return;
	sw->done = 1;
	event_base_loopexit(sw->base, NULL);
}

static int
swarm_ok(const struct swarm *sw)
{
	if (sw->resilient)
		return !sw->timed_out && sw->failed == 0 &&
		    sw->ready == sw->n;
	return !sw->timed_out && sw->failed == 0 && sw->ready == sw->n &&
	    sw->received == sw->n && sw->acked == sw->n;
}

static void
swarm_summary(const struct swarm *sw)
{
	printf("{\"ok\":%s,\"agents\":%d,\"alerts\":%u,\"ready\":%d,"
	    "\"received\":%d,\"acked\":%d,\"failed\":%d,\"timed_out\":%s,"
	    "\"verified\":%" PRIu64 ",\"ready_ms\":%" PRIu64
	    ",\"received_ms\":%" PRIu64 ",\"acked_ms\":%" PRIu64
	    ",\"first_error\":",
	    swarm_ok(sw) ? "true" : "false", sw->n, sw->k, sw->ready,
	    sw->received, sw->acked, sw->failed,
	    sw->timed_out ? "true" : "false", sw->vc.nverify,
	    sw->t_ready ? sw->t_ready - sw->t_start : 0,
	    sw->t_received ? sw->t_received - sw->t_ready : 0,
	    sw->t_acked ? sw->t_acked - sw->t_ack : 0);
	json_str(stdout, sw->first_err);
	printf("}\n");
	fflush(stdout);
}

/* --- main ----------------------------------------------------------------- */

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: swarm --server HOST:PORT... --server-name NAME --ca-cert FILE\n"
	    "             --ca-key FILE --count N [--alerts K] [--cn-format FMT]\n"
	    "             [--first I] [--inflight M] [--timeout SECONDS]\n"
	    "             [--principals FILE]\n"
	    "             [--max-frame BYTES] [--resilient [--max-attempts N]\n"
	    "             [--stall N] [--expect-ids FILE]]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "server",	 required_argument, NULL, 's' },
		{ "server-name", required_argument, NULL, 'S' },
		{ "ca-cert",	 required_argument, NULL, 'c' },
		{ "ca-key",	 required_argument, NULL, 'k' },
		{ "cn-format",	 required_argument, NULL, 'f' },
		{ "count",	 required_argument, NULL, 'n' },
		{ "first",	 required_argument, NULL, 'F' },
		{ "alerts",	 required_argument, NULL, 'a' },
		{ "inflight",	 required_argument, NULL, 'i' },
		{ "timeout",	 required_argument, NULL, 't' },
		{ "max-frame",	 required_argument, NULL, 'm' },
		{ "resilient",	 no_argument,	    NULL, 'r' },
		{ "max-attempts", required_argument, NULL, 'A' },
		{ "stall",	 required_argument, NULL, 'T' },
		{ "expect-ids",	 required_argument, NULL, 'e' },
		{ "principals", required_argument, NULL, 0x100 },
		{ NULL, 0, NULL, 0 },
	};
	struct cn_paths paths;
	struct swarm sw;
	struct cn_format cf;
	const char *server = NULL, *ca_path = NULL, *cakey_path = NULL;
	const char *fmt = "sw-%05d", *expect_path = NULL;
	X509 *ca;
	EVP_PKEY *cakey;
	long timeout = SWARM_TIMEOUT_DEFAULT, first = 0;
	int ch, i, rc;

	loadgen_prog = "swarm";
	memset(&sw, 0, sizeof(sw));
	sw.max_inflight = SWARM_INFLIGHT_DEFAULT;
	sw.max_frame = PROTO_FRAME_MAX_DEFAULT;
	sw.n = -1;
	sw.max_attempts = SWARM_ATTEMPTS_DEFAULT;
	memset(&paths, 0, sizeof(paths));
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 0x100: paths_load(&paths, optarg); break;
		case 's':
			if (sw.naddrs == SWARM_SERVERS_MAX)
				fatalx("at most %d --server", SWARM_SERVERS_MAX);
			parse_server(optarg, &sw.addrs[sw.naddrs++]);
			server = optarg;
			break;
		case 'S': sw.server_name = optarg; break;
		case 'c': ca_path = optarg; break;
		case 'k': cakey_path = optarg; break;
		case 'f': fmt = optarg; break;
		case 'n': sw.n = (int)num_arg(optarg, "count", 0, 1000000);
			break;
		case 'F': first = num_arg(optarg, "first", 0, INT_MAX / 2);
			break;
		case 'a': sw.k = (uint32_t)num_arg(optarg, "alerts", 0, 1000);
			break;
		case 'i': sw.max_inflight = (int)num_arg(optarg, "inflight",
			    1, 100000);
			break;
		case 't': timeout = num_arg(optarg, "timeout", 1, 86400);
			break;
		case 'm': sw.max_frame = (uint32_t)num_arg(optarg,
			    "max-frame", 64, PROTO_FRAME_MAX_LIMIT);
			break;
		case 'r': sw.resilient = 1;
			break;
		case 'A': sw.max_attempts = (int)num_arg(optarg,
			    "max-attempts", 1, 1000000);
			break;
		case 'T': sw.nstall = (int)num_arg(optarg, "stall", 0,
			    1000000);
			break;
		case 'e': expect_path = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || server == NULL || sw.server_name == NULL ||
	    ca_path == NULL || cakey_path == NULL || sw.n < 0)
		usage();
	if (sw.resilient && sw.k != 0)
		fatalx("--resilient counts alerts itself: no --alerts");
	if (!sw.resilient && (sw.nstall > 0 || expect_path != NULL))
		fatalx("--stall and --expect-ids need --resilient");
	if (expect_path != NULL && swarm_load_expect(&sw, expect_path) != 0)
		exit(1);
	cn_format_parse(fmt, &cf);
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();

	ca = load_cert(ca_path);
	cakey = load_key(cakey_path);
	sw.store = ca_store(ca);
	verify_cache_init(&sw.vc, SWARM_CACHE_MAX);

	sw.ctx = client_ctx_new(ca_path);
	SSL_CTX_set_session_cache_mode(sw.ctx, SSL_SESS_CACHE_OFF);

	if (sw.n > 0 && (sw.agents = calloc((size_t)sw.n,
	    sizeof(*sw.agents))) == NULL)
		fatalx("out of memory");
	for (i = 0; i < sw.n; i++) {
		struct agent *a = &sw.agents[i];

		a->sw = &sw;
		a->idx = i;
		a->srv = i % sw.naddrs;
		cn_format_make(&cf, (int)first + i, a->cn, sizeof(a->cn));
		cert_make(a->cn, paths_find(&paths, a->cn), ca, cakey, &a->key,
		    &a->cert);
		if (sw.k > 0 && (a->ids = calloc(sw.k, sizeof(proto_id))) ==
		    NULL)
			fatalx("out of memory");
	}
	fprintf(stderr, "swarm: %d certificates made\n", sw.n);

	if ((sw.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	if (evutil_make_socket_nonblocking(STDIN_FILENO) != 0)
		fatalx("stdin non-blocking");
	sw.stdin_ev = event_new(sw.base, STDIN_FILENO, EV_READ | EV_PERSIST,
	    stdin_cb, &sw);
	sw.timeout_ev = evtimer_new(sw.base, timeout_cb, &sw);
	if (sw.resilient) {
		struct timeval one = { 1, 0 };

		sw.retry_ev = event_new(sw.base, -1, EV_PERSIST, retry_cb, &sw);
		if (sw.retry_ev == NULL)
			fatalx("event_new");
		event_add(sw.retry_ev, &one);
	}
	if (sw.stdin_ev == NULL || sw.timeout_ev == NULL)
		fatalx("event_new");
	event_add(sw.stdin_ev, NULL);
	for (i = 0; i < sw.n; i++) {
		sw.agents[i].retry_ev = evtimer_new(sw.base, agent_retry_cb,
		    &sw.agents[i]);
		if (sw.agents[i].retry_ev == NULL)
			fatalx("evtimer_new");
	}
	timer_arm_us(sw.timeout_ev, timeout * 1000000);

	sw.t_start = mono_ms();
	if (sw.n == 0) {
		swarm_line("ready", 0);
		swarm_line("received", 0);
	}
	swarm_start_more(&sw);
	if (!sw.done)
		event_base_dispatch(sw.base);

	swarm_summary(&sw);
	rc = swarm_ok(&sw) ? 0 : 1;

	for (i = 0; i < sw.n; i++) {
		struct agent *a = &sw.agents[i];

		if (a->bev != NULL)
			bufferevent_free(a->bev);
		EVP_PKEY_free(a->key);
		X509_free(a->cert);
		free(a->ids);
		free(a->shown);
		if (a->retry_ev != NULL)
			event_free(a->retry_ev);
	}
	free(sw.agents);
	free(sw.expect);
	verify_cache_free(&sw.vc);
	env_hashes_free(&sw.eh);
	event_free(sw.stdin_ev);
	event_free(sw.timeout_ev);
	if (sw.retry_ev != NULL)
		event_free(sw.retry_ev);
	event_base_free(sw.base);
	SSL_CTX_free(sw.ctx);
	X509_STORE_free(sw.store);
	X509_free(ca);
	paths_free(&paths);
	EVP_PKEY_free(cakey);
	return rc;
}
