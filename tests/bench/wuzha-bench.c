/* SPDX-License-Identifier: ISC */
/*
 * wuzha-bench: how fast one wuzhad fans an alert out to N agents over
 * mutual TLS 1.3 and stores their acknowledgements.  One process, one
 * event loop, N agent connections, each with its own Ed25519 key and
 * client certificate made in memory from the test CA's key (see
 * tests/system/loadgen.c), and one console connection as an issuer.
 *
 * Phases, each bounded by --timeout for the whole run:
 *
 *  1. connect every agent with a full handshake (at most --inflight
 *     handshakes at once), say HELLO, wait for WELCOME; keep the TLS 1.3
 *     ticket each one was sent;
 *  2. close them all (with close_notify), and wait for wuzhad to let go;
 *  3. connect them all again offering their tickets, and count how many
 *     sessions were resumed;
 *  4. --alerts times: sign an alert, PUBLISH it on the console, and have
 *     every agent verify it and ACK it as delivered at once, QUIET (no
 *     ACK_OK wanted), as the real agent does; wait until every agent has
 *     it and Redis holds all N acks (read back with HLEN, not assumed),
 *     and with --ack-ok, until wuzhad answered every ACK; then wait --gap
 *     before the next.
 *
 * Clocks: the connect phases on CLOCK_MONOTONIC.  Delivery latency is
 * the kernel's receive timestamp (SO_TIMESTAMPNS, CLOCK_REALTIME) of the
 * first segment that carried the ALERT, less CLOCK_REALTIME read just
 * before the PUBLISH bytes were written: the generator's own lag in
 * reading its sockets is not counted.  The timestamps come from a BIO of
 * ours under OpenSSL that reads with recvmsg.  Acks stored: CLOCK_REALTIME
 * when HLEN ack:{id} was first seen at N (polled every --poll-us).
 *
 * Several daemons (one per core, on one Redis): --server given more than
 * once, or as a comma-separated list, spreads the agents over them round
 * robin (agent i on server i mod K); the issuer publishes through the
 * first.  One server address shared by several daemons (SO_REUSEPORT)
 * leaves the spreading to the kernel.  --daemon-pid, once per daemon: RSS
 * and CPU figures are then sums over them, and the settle phase waits for
 * each one to let go.
 *
 * Progress goes to stderr; one JSON line to stdout at the end, also on
 * failure ("ok": false and "error").  Exit 0 only if every phase went
 * through.  Loopback use only: it is a load generator.
 */

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>

#include <netinet/in.h>

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include <hiredis/hiredis.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "loadgen.h"
#include "proto.h"

#define BENCH_INFLIGHT_DEFAULT	64	/* TLS handshakes at once */
#define BENCH_TIMEOUT_DEFAULT	300	/* seconds for the whole run */
#define BENCH_ALERTS_MAX	1000
#define BENCH_GAP_DEFAULT	500	/* ms between alerts */
#define BENCH_PAYLOAD_DEFAULT	1024	/* alert text, bytes */
#define BENCH_POLL_US_DEFAULT	1000	/* HLEN polling interval */
#define BENCH_SETTLE_MS		10000	/* wuzhad to drop closed agents */
#define BENCH_CACHE_MAX		64	/* distinct envelopes remembered */
#define BENCH_ERR_MAX		384
#define BENCH_CONSOLE_BUF	(PROTO_FRAME_MAX_DEFAULT + PROTO_FRAME_HDR)
#define NS			1000000000ULL
#define BENCH_SERVERS_MAX	64	/* --server addresses */
#define BENCH_DAEMONS_MAX	64	/* --daemon-pid values */

enum phase {
	PH_FULL,		/* connecting, full handshakes */
	PH_SETTLE,		/* all closed, wuzhad letting go */
	PH_RESUME,		/* connecting again, offering tickets */
	PH_ALERTS,		/* publishing */
	PH_DONE,
};

static const char *const phase_names[] = {
	"full handshakes", "closing", "resumed handshakes", "alerts", "done",
};

enum agent_state {
	AGENT_S_IDLE,
	AGENT_S_CONNECTING,	/* TCP + TLS + HELLO, no WELCOME yet */
	AGENT_S_READY,
};

struct agent {
	struct bench		*b;
	char			 cn[PROTO_ID_MAX + 1];
	EVP_PKEY		*key;
	X509			*cert;
	int			 fd;
	struct tsbio		*tsb;		/* its socket BIO's state */
	struct bufferevent	*bev;
	enum agent_state	 state;
	SSL_SESSION		*sess;		/* newest ticket, ours */
	int			 resumed;
	uint64_t		 rx_ns;		/* kernel time of the first
						   segment not yet decoded */
	int			 rx_have;
	uint64_t		*rx;		/* per alert: ALERT received */
	int			 ok_for;	/* alert index + 1 of last ACK_OK */
};

/* Figures of one alert; ms unless said. */
struct alert_stats {
	proto_id		 id;
	uint32_t		 targeted;
	int			 delivered;
	long long		 acks_stored;	/* HLEN at the end, -1 unknown */
	double			 first, p50, p90, p99, max;
	double			 published;	/* PUBLISHED came back */
	double			 stored;	/* HLEN reached N, -1 unknown */
	double			 acks_ok;	/* last ACK_OK received */
	double			 ack_rate;	/* acks/s, -1 unknown */
	double			 cpu;		/* wuzhad's CPU time meanwhile */
	double			 redis_cpu;	/* redis-server's, if known */
	double			 own_cpu;	/* this generator's */
	double			 p50_srv[BENCH_SERVERS_MAX];	/* by --server */
	double			 max_srv[BENCH_SERVERS_MAX];
};

struct console {
	SSL			*ssl;
	int			 fd;
	struct event		*ev;
	uint8_t			 buf[BENCH_CONSOLE_BUF];
	size_t			 len;
};

struct bench {
	struct env_hashes	 eh;		/* what the receipts sign */
	struct event_base	*base;
	SSL_CTX			*ctx;
	X509_STORE		*store;
	struct sockaddr_in	 addr[BENCH_SERVERS_MAX];	/* [0]: the issuer's */
	int			 naddr;
	const char		*server_name;
	BIO_METHOD		*biometh;

	struct agent		*agents;
	int			 n;
	int			 next;
	int			 inflight;
	int			 max_inflight;
	int			 ready;
	int			 sessions;	/* agents holding a ticket */
	int			 resumed;
	enum phase		 phase;

	/* issuer and alerts */
	struct console		 con;
	EVP_PKEY		*ikey;
	X509			*icert;
	char			 issuer[PROTO_ID_MAX + 1];
	const char		*target;
	int			 m;		/* alerts to publish */
	int			 ack_ok;	/* ask for ACK_OK (no QUIET) */
	int			 cur;		/* the alert under way */
	long			 gap_ms;
	size_t			 payload;
	uint8_t			*text;		/* payload bytes of alert text */
	struct alert_stats	*st;
	uint64_t		 t_pub;		/* CLOCK_REALTIME, ns */
	uint64_t		 t_published;
	uint64_t		 t_first_ack;
	uint64_t		 t_stored;
	uint64_t		 t_last_ok;
	int			 published;
	uint32_t		 targeted;
	int			 received;
	int			 acks_ok;
	long long		 hlen;
	uint64_t		 stray;		/* ALERTs for other alerts */
	uint64_t		 dups;		/* the same ALERT again */
	uint64_t		 ts_kernel;	/* receive times from the kernel */
	uint64_t		 ts_fallback;	/* ... from clock_gettime */
	struct verify_cache	 vc;

	/* Redis */
	redisContext		*redis;
	const char		*redis_path;
	const char		*prefix;
	long			 poll_us;

	/* the wuzhad, by pid; figures are sums over them */
	long			 dpid[BENCH_DAEMONS_MAX];
	int			 ndpid;
	long			 rss_idle, rss_full, rss_resumed, rss_end;
	long			 fds_idle[BENCH_DAEMONS_MAX];
	double			 cpu_mark;	/* wuzhad's CPU ms at a start */
	long			 rpid;		/* redis-server, for its CPU */
	double			 rcpu_mark;
	double			 own_cpu_mark;	/* our own CPU ms at a start */
	double			 cpu_full, cpu_resumed;

	/* connect phases, CLOCK_MONOTONIC ms */
	uint64_t		 t_phase;
	double			 connect_full_ms, connect_resumed_ms;
	uint64_t		 t_settle;

	struct event		*timeout_ev;
	struct event		*tick_ev;	/* settle, HLEN polling */
	struct event		*gap_ev;
	int			 done;
	int			 ok;
	char			 err[BENCH_ERR_MAX];
};

static void	bench_fail(struct bench *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	agent_read_cb(struct bufferevent *, void *);
static void	agent_event_cb(struct bufferevent *, short, void *);
static void	bench_start_more(struct bench *);
static void	bench_publish(struct bench *);
static void	console_connect(struct bench *);

static uint64_t
realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

static double
ns_ms(uint64_t a, uint64_t b)
{
	return b >= a ? (double)(b - a) / 1e6 : -(double)(a - b) / 1e6;
}

static void __attribute__((format(printf, 1, 2)))
say(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "wuzha-bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The first failure ends the run; later ones are only printed. */
static void
bench_fail(struct bench *b, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	say("%s", why);
	if (b->err[0] == '\0')
		snprintf(b->err, sizeof(b->err), "%s: %s",
		    phase_names[b->phase], why);
	if (!b->done) {
		b->done = 1;
		event_base_loopexit(b->base, NULL);
	}
}

static void
bench_finish(struct bench *b)
{
	b->phase = PH_DONE;
	b->ok = 1;
	b->done = 1;
	event_base_loopexit(b->base, NULL);
}

/* --- wuzhad seen from /proc ----------------------------------------------- */

/* VmRSS of one process in kB, -1 if unknown. */
static long
proc_rss(long pid)
{
	char path[64], line[256];
	FILE *f;
	long kb = -1;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* VmRSS of the wuzhad, summed, in kB; -1 if any is unknown. */
static long
daemon_rss(const struct bench *b)
{
	long kb, sum = 0;
	int i;

	if (b->ndpid == 0)
		return -1;
	for (i = 0; i < b->ndpid; i++) {
		if ((kb = proc_rss(b->dpid[i])) < 0)
			return -1;
		sum += kb;
	}
	return sum;
}

static double	proc_cpu_ms(long);

/*
 * CPU time wuzhad has used, user and system, in ms; NAN if unknown.  Set
 * beside a phase's wall time, it says whether wuzhad was the bottleneck.
 */
static double
daemon_cpu_ms(const struct bench *b)
{
	double sum = 0;
	int i;

	if (b->ndpid == 0)
		return NAN;
	for (i = 0; i < b->ndpid; i++)
		sum += proc_cpu_ms(b->dpid[i]);
	return sum;
}

/* CPU time this process has used, in ms. */
static double
own_cpu_ms(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == -1)
		return NAN;
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* The same for any process (redis-server), by pid; NAN if unknown. */
static double
proc_cpu_ms(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f;
	size_t len;

	if (pid <= 0 || hz <= 0)
		return NAN;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return NAN;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	/* Fields 14 and 15, counted after the name, which may hold spaces. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu "
	    "%llu", &ut, &st) != 2)
		return NAN;
	return (double)(ut + st) * 1000.0 / (double)hz;
}

/* Files open in a /proc/.../fd directory, -1 if unknown. */
static long
count_fds(const char *path)
{
	struct dirent *de;
	DIR *d;
	long n = 0;

	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Open files of one wuzhad, -1 if unknown: tells when it has let go. */
static long
daemon_fds(long pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
	return count_fds(path);
}

/* Files the wuzhad hold beyond what they held idle; -1 if unknown. */
static long
daemon_fds_over(const struct bench *b)
{
	long n, over = 0;
	int i;

	if (b->ndpid == 0)
		return -1;
	for (i = 0; i < b->ndpid; i++) {
		if ((n = daemon_fds(b->dpid[i])) < 0 || b->fds_idle[i] < 0)
			return -1;
		if (n > b->fds_idle[i])
			over += n - b->fds_idle[i];
	}
	return over;
}

/* --- a socket BIO that keeps the kernel's receive timestamps -------------- */

/*
 * OpenSSL reads the socket through this BIO, with recvmsg, so that the
 * SO_TIMESTAMPNS control message of what it reads is not lost.  An
 * agent keeps the time of the first segment read since its input was
 * last empty: the segment that began the frame decoded next.
 *
 * The BIO holds the fd itself: libevent asks for it when it frees the
 * connection, which it does later, from the loop, when the agent may be
 * gone or connected anew.
 */
struct tsbio {
	int		 fd;
	struct agent	*a;		/* NULL once the agent let go */
};

static int
tsbio_write(BIO *bio, const char *buf, int len)
{
	struct tsbio *t = BIO_get_data(bio);
	ssize_t r;

	BIO_clear_retry_flags(bio);
	r = send(t->fd, buf, (size_t)len, MSG_NOSIGNAL);
	if (r < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			BIO_set_retry_write(bio);
		return -1;
	}
	return (int)r;
}

static int
tsbio_read(BIO *bio, char *buf, int len)
{
	struct tsbio *t = BIO_get_data(bio);
	struct agent *a = t->a;
	union {
		char		c[CMSG_SPACE(sizeof(struct timespec))];
		struct cmsghdr	align;
	} ctl;
	struct msghdr msg;
	struct iovec iov;
	struct cmsghdr *cm;
	struct timespec ts;
	ssize_t r;

	BIO_clear_retry_flags(bio);
	iov.iov_base = buf;
	iov.iov_len = (size_t)len;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.c;
	msg.msg_controllen = sizeof(ctl.c);
	r = recvmsg(t->fd, &msg, 0);
	if (r < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			BIO_set_retry_read(bio);
		return -1;
	}
	if (r == 0 || a == NULL || a->rx_have)
		return (int)r;
	for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_TIMESTAMPNS)
			continue;
		memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
		a->rx_ns = (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
		a->rx_have = 1;
	}
	return (int)r;
}

static long
tsbio_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
	struct tsbio *t = BIO_get_data(bio);

	switch (cmd) {
	case BIO_C_GET_FD:
		/* libevent asks, to watch the fd and to close it. */
		if (ptr != NULL)
			*(int *)ptr = t->fd;
		return t->fd;
	case BIO_CTRL_FLUSH:
	case BIO_CTRL_GET_CLOSE:
	case BIO_CTRL_SET_CLOSE:
		return 1;
	default:
		return 0;
	}
}

static int
tsbio_create(BIO *bio)
{
	struct tsbio *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return 0;
	t->fd = -1;
	BIO_set_data(bio, t);
	BIO_set_init(bio, 1);
	return 1;
}

/* The fd is libevent's to close (BEV_OPT_CLOSE_ON_FREE). */
static int
tsbio_destroy(BIO *bio)
{
	free(BIO_get_data(bio));
	BIO_set_data(bio, NULL);
	return 1;
}

static BIO_METHOD *
tsbio_method(void)
{
	BIO_METHOD *m;

	if ((m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK |
	    BIO_TYPE_DESCRIPTOR, "wuzha-bench socket")) == NULL ||
	    !BIO_meth_set_write(m, tsbio_write) ||
	    !BIO_meth_set_read(m, tsbio_read) ||
	    !BIO_meth_set_ctrl(m, tsbio_ctrl) ||
	    !BIO_meth_set_create(m, tsbio_create) ||
	    !BIO_meth_set_destroy(m, tsbio_destroy))
		fatalx("BIO_meth_new");
	return m;
}

/* --- agents: connecting --------------------------------------------------- */

/*
 * A ticket from wuzhad: keep a copy of the newest.  A copy, because the
 * session OpenSSL hands us stays the connection's own (see
 * client/client_tls.c).
 */
static int
new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct agent *a = SSL_get_app_data(ssl);
	SSL_SESSION *copy;

	if (a == NULL || !SSL_SESSION_is_resumable(sess))
		return 0;
	if ((copy = SSL_SESSION_dup(sess)) == NULL) {
		ERR_clear_error();
		return 0;
	}
	if (a->sess == NULL)
		a->b->sessions++;
	SSL_SESSION_free(a->sess);
	a->sess = copy;
	return 0;
}

static void
agent_send(struct agent *a, struct proto_buf *pb)
{
	if (pb->err != 0)
		bench_fail(a->b, "%s: encoding error %d", a->cn, pb->err);
	else if (bufferevent_write(a->bev, pb->data, pb->len) != 0)
		bench_fail(a->b, "%s: bufferevent_write failed", a->cn);
	pb->len = 0;
}

static void
agent_connect(struct agent *a, int resume)
{
	struct bench *b = a->b;
	SSL *ssl;
	BIO *bio;
	int one = 1;

	a->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->fd == -1) {
		bench_fail(b, "%s: socket: %s", a->cn, strerror(errno));
		return;
	}
	if (setsockopt(a->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one,
	    sizeof(one)) != 0)
		fatalx("SO_TIMESTAMPNS: %s", strerror(errno));
	if (connect(a->fd, (struct sockaddr *)&b->addr[(a - b->agents) %
	    b->naddr], sizeof(b->addr[0])) != 0 && errno != EINPROGRESS) {
		bench_fail(b, "%s: connect: %s", a->cn, strerror(errno));
		close(a->fd);
		return;
	}
	ssl = client_ssl_new(b->ctx, a->cert, a->key, a->cn, b->server_name);
	if (resume && a->sess != NULL && SSL_set_session(ssl, a->sess) != 1)
		fatalx("SSL_set_session for %s", a->cn);
	SSL_set_app_data(ssl, a);
	if ((bio = BIO_new(b->biometh)) == NULL)
		fatalx("BIO_new");
	a->tsb = BIO_get_data(bio);
	a->tsb->fd = a->fd;
	a->tsb->a = a;
	SSL_set_bio(ssl, bio, bio);
	a->rx_have = 0;
	a->bev = tls_bev_new(b->base, a->fd, ssl, agent_read_cb, agent_event_cb,
	    a);
	a->state = AGENT_S_CONNECTING;
	b->inflight++;
}

/* Keep up to max_inflight handshakes going. */
static void
bench_start_more(struct bench *b)
{
	while (!b->done && b->inflight < b->max_inflight && b->next < b->n)
		agent_connect(&b->agents[b->next++], b->phase == PH_RESUME);
}

/* Close with close_notify, so that wuzhad sees a clean end. */
static void
agent_close(struct agent *a)
{
	SSL *ssl;

	if (a->bev == NULL)
		return;
	if ((ssl = bufferevent_openssl_get_ssl(a->bev)) != NULL &&
	    SSL_shutdown(ssl) < 0)
		ERR_clear_error();
	a->tsb->a = NULL;
	a->tsb = NULL;
	/* The fd is closed when libevent finalizes the bufferevent. */
	bufferevent_free(a->bev);
	a->bev = NULL;
	a->fd = -1;
	a->state = AGENT_S_IDLE;
}

static void
agent_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct agent *a = arg;
	struct proto_buf pb;
	char why[256];
	SSL *ssl;

	if (what & BEV_EVENT_CONNECTED) {
		ssl = bufferevent_openssl_get_ssl(bev);
		if (a->b->phase == PH_RESUME && SSL_session_reused(ssl)) {
			a->resumed = 1;
			a->b->resumed++;
		}
		pbuf_init(&pb);
		hello_encode(&pb, PROTO_ROLE_AGENT, "wuzha-bench");
		agent_send(a, &pb);
		pbuf_free(&pb);
		return;
	}
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) {
		bev_why(bev, what, why, sizeof(why));
		bench_fail(a->b, "%s: %s", a->cn, why);
	}
}

/* --- phases --------------------------------------------------------------- */

static void
tick_every(struct bench *b, long us)
{
	timer_arm_us(b->tick_ev, us);
}

static void
bench_connect_phase(struct bench *b, enum phase ph)
{
	b->phase = ph;
	b->next = 0;
	b->ready = 0;
	b->t_phase = mono_ms();
	b->cpu_mark = daemon_cpu_ms(b);
	say("%s: connecting %d agents, %d at once (%ld files open here)",
	    phase_names[ph], b->n, b->max_inflight, count_fds("/proc/self/fd"));
	if (b->n == 0) {
		bench_fail(b, "no agents");
		return;
	}
	bench_start_more(b);
}

/* Phase 2: close every agent and wait for wuzhad to let go of them. */
static void
bench_settle(struct bench *b)
{
	int i;

	b->phase = PH_SETTLE;
	for (i = 0; i < b->n; i++)
		agent_close(&b->agents[i]);
	b->t_settle = mono_ms();
	say("closed %d agents; %d hold a ticket", b->n, b->sessions);
	tick_every(b, 20000);
}

/* Every agent has its WELCOME. */
static void
bench_all_ready(struct bench *b)
{
	double ms = (double)(mono_ms() - b->t_phase);

	if (b->phase == PH_FULL) {
		b->connect_full_ms = ms;
		b->rss_full = daemon_rss(b);
		b->cpu_full = daemon_cpu_ms(b) - b->cpu_mark;
		say("%d agents connected in %.0f ms (full handshakes); "
		    "wuzhad RSS %ld kB, CPU %.0f ms", b->n, ms, b->rss_full,
		    b->cpu_full);
		bench_settle(b);
		return;
	}
	b->connect_resumed_ms = ms;
	b->rss_resumed = daemon_rss(b);
	b->cpu_resumed = daemon_cpu_ms(b) - b->cpu_mark;
	say("%d agents connected in %.0f ms, %d sessions resumed; "
	    "wuzhad RSS %ld kB, CPU %.0f ms", b->n, ms, b->resumed,
	    b->rss_resumed, b->cpu_resumed);
	if (b->m == 0) {
		b->rss_end = b->rss_resumed;
		bench_finish(b);
		return;
	}
	console_connect(b);
	if (b->done)
		return;
	b->phase = PH_ALERTS;
	b->cur = 0;
	bench_publish(b);
}

/* --- agents: frames ------------------------------------------------------- */

static void
on_welcome(struct agent *a, const uint8_t *p, size_t len)
{
	struct bench *b = a->b;
	struct proto_welcome w;
	int r;

	if (a->state != AGENT_S_CONNECTING) {
		bench_fail(b, "%s: WELCOME out of order", a->cn);
		return;
	}
	if ((r = proto_welcome_decode(p, len, &w)) != 0) {
		bench_fail(b, "%s: bad WELCOME: %s", a->cn, proto_err_name(-r));
		return;
	}
	if (strcmp(w.principal, a->cn) != 0) {
		bench_fail(b, "%s: WELCOME for %s", a->cn, w.principal);
		return;
	}
	a->state = AGENT_S_READY;
	b->inflight--;
	if (++b->ready == b->n)
		bench_all_ready(b);
	else
		bench_start_more(b);
}

/* Delivered, signed with the agent's own key as wuzha-agent does. */
static void
agent_ack(struct agent *a, const char *id, const uint8_t *env_hash)
{
	struct proto_buf pb;

	pbuf_init(&pb);
	ack_delivered_encode(&pb, id, a->b->ack_ok ? 0 : PROTO_ACKF_QUIET,
	    env_hash, a->key, a->cn);
	agent_send(a, &pb);
	pbuf_free(&pb);
}

static void
on_alert(struct agent *a, const uint8_t *p, size_t len, uint64_t rx)
{
	struct bench *b = a->b;
	struct proto_alert_msg msg;
	proto_id id;
	char why[128] = "";
	int r;

	if (a->state != AGENT_S_READY) {
		bench_fail(b, "%s: ALERT before WELCOME", a->cn);
		return;
	}
	if ((r = proto_alert_msg_decode(p, len, &msg)) != 0) {
		bench_fail(b, "%s: bad ALERT: %s", a->cn, proto_err_name(-r));
		return;
	}
	if ((r = verify_cached(&b->vc, b->store, msg.envelope, id, why,
	    sizeof(why))) != 0) {
		bench_fail(b, "%s: ALERT seq %" PRIu64 " does not verify: "
		    "%s: %s", a->cn, msg.seq, proto_err_name(-r), why);
		return;
	}
	if (b->phase != PH_ALERTS || strcmp(id, b->st[b->cur].id) != 0)
		b->stray++;
	else if (a->rx[b->cur] != 0)
		b->dups++;
	else {
		a->rx[b->cur] = rx;
		b->received++;
	}
	/* As the real agent: a verified alert is acknowledged, copy or not. */
	if (b->t_first_ack == 0 && b->phase == PH_ALERTS)
		b->t_first_ack = realtime_ns();
	agent_ack(a, id, env_hash_note(&b->eh, id, msg.envelope));
}

static void
on_ack_ok(struct agent *a, const uint8_t *p, size_t len)
{
	struct bench *b = a->b;
	struct proto_ack_ok ok;
	int r;

	if ((r = proto_ack_ok_decode(p, len, &ok)) != 0) {
		bench_fail(b, "%s: bad ACK_OK: %s", a->cn, proto_err_name(-r));
		return;
	}
	if (b->phase != PH_ALERTS || strcmp(ok.id, b->st[b->cur].id) != 0 ||
	    a->ok_for == b->cur + 1)
		return;
	a->ok_for = b->cur + 1;
	if (++b->acks_ok == b->n)
		b->t_last_ok = realtime_ns();
}

static void
on_frame(struct agent *a, uint8_t type, const uint8_t *p, size_t len,
    uint64_t rx)
{
	struct proto_buf pb;
	struct proto_error err;
	int r;

	switch (type) {
	case PROTO_T_WELCOME:
		on_welcome(a, p, len);
		break;
	case PROTO_T_ALERT:
		on_alert(a, p, len, rx);
		break;
	case PROTO_T_ACK_OK:
		on_ack_ok(a, p, len);
		break;
	case PROTO_T_PING:
		pbuf_init(&pb);
		if ((r = pong_encode(&pb, p, len)) != 0)
			bench_fail(a->b, "%s: bad PING: %s", a->cn,
			    proto_err_name(-r));
		else
			agent_send(a, &pb);
		pbuf_free(&pb);
		break;
	case PROTO_T_PONG:
		break;
	case PROTO_T_ERROR:
		if (proto_error_decode(p, len, &err) != 0)
			bench_fail(a->b, "%s: undecodable ERROR", a->cn);
		else
			bench_fail(a->b, "%s: ERROR %u %s: %.*s%s%s", a->cn,
			    err.code, proto_err_name(err.code),
			    (int)err.text.len, (const char *)err.text.p,
			    err.ref[0] ? " for " : "", err.ref);
		break;
	default:
		bench_fail(a->b, "%s: unexpected %s frame", a->cn,
		    proto_type_name(type));
		break;
	}
}

static void
agent_read_cb(struct bufferevent *bev, void *arg)
{
	struct agent *a = arg;
	struct bench *b = a->b;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t type;
	uint32_t plen;
	uint64_t rx;
	const uint8_t *p;
	int r;

	while (!b->done) {
		if ((r = frame_peek(in, PROTO_FRAME_MAX_DEFAULT, &type, &p,
		    &plen)) == 0)
			return;
		if (r < 0) {
			bench_fail(b, "%s: bad frame header: %s", a->cn,
			    proto_err_name(-r));
			return;
		}
		if (a->rx_have) {
			rx = a->rx_ns;
			b->ts_kernel += type == PROTO_T_ALERT;
		} else {
			rx = realtime_ns();
			b->ts_fallback += type == PROTO_T_ALERT;
		}
		on_frame(a, type, p, plen, rx);
		evbuffer_drain(in, PROTO_FRAME_HDR + (size_t)plen);
		/* The next frame began in a later segment, if none is left. */
		if (evbuffer_get_length(in) == 0)
			a->rx_have = 0;
	}
}

/* --- the console: an issuer publishing ------------------------------------ */

/* Write all of buf on the console, waiting (bounded) if the socket is full. */
static void
console_write(struct bench *b, const uint8_t *buf, size_t len)
{
	struct console *c = &b->con;
	struct pollfd pfd;
	int r;

	while (len > 0) {
		if ((r = SSL_write(c->ssl, buf, (int)len)) > 0) {
			buf += r;
			len -= (size_t)r;
			continue;
		}
		switch (SSL_get_error(c->ssl, r)) {
		case SSL_ERROR_WANT_WRITE:
		case SSL_ERROR_WANT_READ:
			pfd.fd = c->fd;
			pfd.events = POLLOUT | POLLIN;
			if (poll(&pfd, 1, 5000) > 0)
				continue;
			/* FALLTHROUGH */
		default:
			bench_fail(b, "console: cannot write");
			return;
		}
	}
}

static void
console_send(struct bench *b, struct proto_buf *pb)
{
	if (pb->err != 0)
		bench_fail(b, "console: encoding error %d", pb->err);
	else
		console_write(b, pb->data, pb->len);
	pb->len = 0;
}

static void
on_published(struct bench *b, const uint8_t *p, size_t len)
{
	struct proto_published pd;
	int r;

	if ((r = proto_published_decode(p, len, &pd)) != 0) {
		bench_fail(b, "console: bad PUBLISHED: %s", proto_err_name(-r));
		return;
	}
	if (b->phase != PH_ALERTS || strcmp(pd.id, b->st[b->cur].id) != 0) {
		bench_fail(b, "console: PUBLISHED for %s, not ours", pd.id);
		return;
	}
	b->published = 1;
	b->t_published = realtime_ns();
	b->targeted = pd.targeted;
}

/* One frame for the console; WELCOME is handled while connecting. */
static void
console_frame(struct bench *b, uint8_t type, const uint8_t *p, size_t len)
{
	struct proto_buf pb;
	struct proto_error err;

	switch (type) {
	case PROTO_T_PUBLISHED:
		on_published(b, p, len);
		break;
	case PROTO_T_PING:
		pbuf_init(&pb);
		if (pong_encode(&pb, p, len) != 0)
			bench_fail(b, "console: bad PING");
		else
			console_send(b, &pb);
		pbuf_free(&pb);
		break;
	case PROTO_T_ERROR:
		if (proto_error_decode(p, len, &err) != 0)
			bench_fail(b, "console: undecodable ERROR");
		else
			bench_fail(b, "console: ERROR %u %s: %.*s%s%s",
			    err.code, proto_err_name(err.code),
			    (int)err.text.len, (const char *)err.text.p,
			    err.ref[0] ? " for " : "", err.ref);
		break;
	case PROTO_T_PONG:
		break;
	default:
		bench_fail(b, "console: unexpected %s frame",
		    proto_type_name(type));
		break;
	}
}

/*
 * Take the whole frames out of the console's buffer.  Returns the type
 * of the first WELCOME seen (for the blocking start), else 0.
 */
static int
console_frames(struct bench *b, struct proto_welcome *w)
{
	struct console *c = &b->con;
	uint8_t type;
	uint32_t plen;
	size_t used = 0, flen;
	int r, welcomed = 0;

	while (!b->done && c->len - used >= PROTO_FRAME_HDR) {
		if ((r = proto_frame_header(c->buf + used,
		    PROTO_FRAME_MAX_DEFAULT, &type, &plen)) != 0) {
			bench_fail(b, "console: bad frame header: %s",
			    proto_err_name(-r));
			break;
		}
		flen = PROTO_FRAME_HDR + (size_t)plen;
		if (c->len - used < flen)
			break;
		if (type == PROTO_T_WELCOME && w != NULL && !welcomed) {
			if ((r = proto_welcome_decode(c->buf + used +
			    PROTO_FRAME_HDR, plen, w)) != 0)
				bench_fail(b, "console: bad WELCOME: %s",
				    proto_err_name(-r));
			welcomed = 1;
		} else
			console_frame(b, type, c->buf + used + PROTO_FRAME_HDR,
			    plen);
		used += flen;
	}
	memmove(c->buf, c->buf + used, c->len - used);
	c->len -= used;
	return welcomed;
}

/* Read what the console socket holds.  Returns -1 when it is gone. */
static int
console_read(struct bench *b, struct proto_welcome *w, int *welcomed)
{
	struct console *c = &b->con;
	int r;

	for (;;) {
		if (c->len == sizeof(c->buf)) {
			bench_fail(b, "console: frame too large");
			return -1;
		}
		r = SSL_read(c->ssl, c->buf + c->len,
		    (int)(sizeof(c->buf) - c->len));
		if (r > 0) {
			c->len += (size_t)r;
			if (console_frames(b, w))
				*welcomed = 1;
			if (b->done)
				return -1;
			continue;
		}
		switch (SSL_get_error(c->ssl, r)) {
		case SSL_ERROR_WANT_READ:
		case SSL_ERROR_WANT_WRITE:
			return 0;
		default:
			bench_fail(b, "console: connection lost");
			return -1;
		}
	}
}

static void
console_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bench *b = arg;
	int welcomed = 0;

	(void)fd;
	(void)what;
	console_read(b, NULL, &welcomed);
}

/*
 * Connect as the issuer, role console: done blocking (bounded), before
 * any alert, so that it is no part of what is measured.
 */
static void
console_connect(struct bench *b)
{
	struct console *c = &b->con;
	struct proto_buf pb;
	struct proto_welcome w;
	struct pollfd pfd;
	uint64_t deadline = mono_ms() + 10000;
	int r, welcomed = 0;

	if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		fatalx("socket: %s", strerror(errno));
	if (connect(c->fd, (struct sockaddr *)&b->addr[0],
	    sizeof(b->addr[0])) != 0 && errno != EINPROGRESS) {
		bench_fail(b, "console: connect: %s", strerror(errno));
		return;
	}
	if ((c->ssl = SSL_new(b->ctx)) == NULL ||
	    SSL_use_certificate(c->ssl, b->icert) != 1 ||
	    SSL_use_PrivateKey(c->ssl, b->ikey) != 1 ||
	    SSL_set_tlsext_host_name(c->ssl, b->server_name) != 1 ||
	    SSL_set1_host(c->ssl, b->server_name) != 1 ||
	    SSL_set_fd(c->ssl, c->fd) != 1)
		fatalx("console SSL");
	pbuf_init(&pb);
	hello_encode(&pb, PROTO_ROLE_CONSOLE, "wuzha-bench");
	pfd.fd = c->fd;
	while (!welcomed && !b->done) {
		if (mono_ms() > deadline) {
			bench_fail(b, "console: no WELCOME within 10 s");
			break;
		}
		if (!SSL_is_init_finished(c->ssl)) {
			if ((r = SSL_connect(c->ssl)) == 1) {
				console_send(b, &pb);
				continue;
			}
			switch (SSL_get_error(c->ssl, r)) {
			case SSL_ERROR_WANT_READ:
				pfd.events = POLLIN;
				break;
			case SSL_ERROR_WANT_WRITE:
				pfd.events = POLLOUT;
				break;
			default:
				bench_fail(b, "console: TLS handshake failed");
				continue;
			}
		} else {
			if (console_read(b, &w, &welcomed) == -1 || welcomed)
				break;
			pfd.events = POLLIN;
		}
		poll(&pfd, 1, 100);
	}
	pbuf_free(&pb);
	if (b->done)
		return;
	if (!(w.rights & PROTO_R_ISSUE)) {
		bench_fail(b, "console: %s may not issue", w.principal);
		return;
	}
	c->ev = event_new(b->base, c->fd, EV_READ | EV_PERSIST,
	    console_read_cb, b);
	if (c->ev == NULL || event_add(c->ev, NULL) != 0)
		fatalx("console event");
	say("console: %s at %s may issue", w.principal, w.node);
}

/* --- alerts --------------------------------------------------------------- */

static int
cmp_i64(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;

	return (a > b) - (a < b);
}

static int
cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return (a > b) - (a < b);
}

/* Nearest rank: the smallest value with at least pct% at or below it. */
static double
percentile_ms(const int64_t *v, int n, int pct)
{
	int i = (pct * n + 99) / 100 - 1;

	if (i < 0)
		i = 0;
	return (double)v[i] / 1e6;
}

/* Every agent has the alert, wuzhad answered every ack, Redis has them. */
static void
alert_done(struct bench *b)
{
	struct alert_stats *st = &b->st[b->cur];
	int64_t *lat;
	int i, j, k;

	if ((lat = calloc((size_t)b->n, sizeof(*lat))) == NULL)
		fatalx("out of memory");
	for (i = 0; i < b->n; i++)
		lat[i] = (int64_t)(b->agents[i].rx[b->cur] - b->t_pub);
	qsort(lat, (size_t)b->n, sizeof(*lat), cmp_i64);
	st->first = (double)lat[0] / 1e6;
	st->p50 = percentile_ms(lat, b->n, 50);
	st->p90 = percentile_ms(lat, b->n, 90);
	st->p99 = percentile_ms(lat, b->n, 99);
	st->max = (double)lat[b->n - 1] / 1e6;
	/* The same by server: agent i is on server i mod naddr. */
	for (k = 0; k < b->naddr && b->naddr > 1; k++) {
		for (i = k, j = 0; i < b->n; i += b->naddr)
			lat[j++] = (int64_t)(b->agents[i].rx[b->cur] - b->t_pub);
		if (j == 0) {
			st->p50_srv[k] = st->max_srv[k] = NAN;
			continue;
		}
		qsort(lat, (size_t)j, sizeof(*lat), cmp_i64);
		st->p50_srv[k] = percentile_ms(lat, j, 50);
		st->max_srv[k] = (double)lat[j - 1] / 1e6;
	}
	free(lat);
	st->targeted = b->targeted;
	st->delivered = b->received;
	st->acks_stored = b->hlen;
	st->published = ns_ms(b->t_pub, b->t_published);
	st->cpu = daemon_cpu_ms(b) - b->cpu_mark;
	st->redis_cpu = proc_cpu_ms(b->rpid) - b->rcpu_mark;
	st->own_cpu = own_cpu_ms() - b->own_cpu_mark;
	st->acks_ok = b->ack_ok ? ns_ms(b->t_pub, b->t_last_ok) : NAN;
	if (b->redis != NULL) {
		st->stored = ns_ms(b->t_pub, b->t_stored);
		st->ack_rate = b->t_stored > b->t_first_ack ? (double)b->n /
		    ((double)(b->t_stored - b->t_first_ack) / 1e9) : NAN;
	} else
		st->stored = st->ack_rate = NAN;
	say("alert %d/%d %s: first %.2f p50 %.2f p90 %.2f p99 %.2f "
	    "last %.2f ms; acks stored %.2f ms, %.0f acks/s; wuzhad CPU "
	    "%.0f ms", b->cur + 1, b->m, st->id, st->first, st->p50, st->p90,
	    st->p99, st->max, st->stored, st->ack_rate, st->cpu);
	if (++b->cur == b->m) {
		b->rss_end = daemon_rss(b);
		bench_finish(b);
		return;
	}
	timer_arm_us(b->gap_ev, b->gap_ms * 1000);
}

static void
gap_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	bench_publish(arg);
}

/* Sign the next alert and PUBLISH it; the clock starts here. */
static void
bench_publish(struct bench *b)
{
	struct alert_stats *st = &b->st[b->cur];
	struct proto_alert al;
	struct proto_publish pub;
	struct proto_buf env, pb;
	struct agent *a;
	uint64_t ms;
	int i;

	memset(&al, 0, sizeof(al));
	snprintf(st->id, sizeof(st->id), "bench-%ld-%" PRIu64 "-%d",
	    (long)getpid(), (uint64_t)(realtime_ns() / NS), b->cur);
	memcpy(al.id, st->id, sizeof(proto_id));
	memcpy(al.issuer, b->issuer, sizeof(proto_id));
	snprintf(al.target, sizeof(al.target), "%s", b->target);
	al.msg_type = PROTO_MSG_ALERT;
	al.category = PROTO_CAT_WARNING;
	al.severity = PROTO_SEV_MINOR;
	al.headline.p = (const uint8_t *)"wuzha-bench";
	al.headline.len = strlen("wuzha-bench");
	al.text.p = b->text;
	al.text.len = b->payload;
	ms = realtime_ns() / 1000000;
	al.issued_at = ms;
	al.expires_at = ms + 3600 * 1000;
	pbuf_init(&env);
	if (proto_envelope_sign(&env, &al, b->ikey, b->icert) != 0)
		fatalx("cannot sign the alert (is --issuer-key Ed25519 and "
		    "the key of --issuer-cert?)");
	memset(&pub, 0, sizeof(pub));
	pub.envelope.p = env.data;
	pub.envelope.len = env.len;
	pbuf_init(&pb);
	proto_publish_encode(&pb, &pub);
	b->published = b->received = b->acks_ok = 0;
	b->targeted = 0;
	b->hlen = -1;
	b->t_first_ack = b->t_stored = b->t_last_ok = b->t_published = 0;
	for (i = 0; i < b->n; i++) {
		a = &b->agents[i];
		if (evbuffer_get_length(bufferevent_get_input(a->bev)) == 0)
			a->rx_have = 0;
	}
	b->cpu_mark = daemon_cpu_ms(b);
	b->rcpu_mark = proc_cpu_ms(b->rpid);
	b->own_cpu_mark = own_cpu_ms();
	b->t_pub = realtime_ns();
	console_send(b, &pb);
	pbuf_free(&pb);
	pbuf_free(&env);
	tick_every(b, b->poll_us);
}

/* Polls HLEN ack:{id} for an alert; waits for wuzhad to drop the closed. */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bench *b = arg;
	redisReply *r;
	long fds;

	(void)fd;
	(void)what;
	if (b->done)
		return;
	if (b->phase == PH_SETTLE) {
		fds = daemon_fds_over(b);
		if (fds == 0 ||
		    (fds < 0 && mono_ms() - b->t_settle >= 1000)) {
			bench_connect_phase(b, PH_RESUME);
			return;
		}
		if (mono_ms() - b->t_settle >= BENCH_SETTLE_MS) {
			say("wuzhad still hold %ld open files more than when "
			    "idle: going on", fds);
			bench_connect_phase(b, PH_RESUME);
			return;
		}
		tick_every(b, 20000);
		return;
	}
	if (b->redis != NULL && b->t_stored == 0) {
		r = redisCommand(b->redis, "HLEN %sack:%s", b->prefix,
		    b->st[b->cur].id);
		if (r == NULL) {
			bench_fail(b, "redis: %s", b->redis->errstr);
			return;
		}
		if (r->type == REDIS_REPLY_INTEGER)
			b->hlen = r->integer;
		freeReplyObject(r);
		if (b->hlen >= b->n)
			b->t_stored = realtime_ns();
	}
	if (b->published && b->received == b->n &&
	    (!b->ack_ok || b->acks_ok == b->n) &&
	    (b->redis == NULL || b->t_stored != 0)) {
		alert_done(b);
		return;
	}
	tick_every(b, b->poll_us);
}

static void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bench *b = arg;

	(void)fd;
	(void)what;
	if (b->phase == PH_ALERTS)
		bench_fail(b, "timed out: alert %d: published %d, received "
		    "%d, ACK_OK %d, HLEN %lld of %d", b->cur + 1,
		    b->published, b->received, b->acks_ok, b->hlen, b->n);
	else
		bench_fail(b, "timed out: %d of %d agents ready", b->ready,
		    b->n);
}

/* --- the report ----------------------------------------------------------- */

static double
median(const struct bench *b, size_t off)
{
	double v[BENCH_ALERTS_MAX];
	int i, k = 0;

	for (i = 0; i < b->cur && i < BENCH_ALERTS_MAX; i++) {
		v[k] = *(const double *)((const char *)&b->st[i] + off);
		if (!isnan(v[k]))
			k++;
	}
	if (k == 0)
		return NAN;
	qsort(v, (size_t)k, sizeof(v[0]), cmp_double);
	return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
}

/* The median over the alerts of one server's figure (p50_srv, max_srv). */
static double
median_srv(const struct bench *b, int max, int k)
{
	double v[BENCH_ALERTS_MAX];
	int i, n = 0;

	for (i = 0; i < b->cur && i < BENCH_ALERTS_MAX; i++) {
		v[n] = max ? b->st[i].max_srv[k] : b->st[i].p50_srv[k];
		if (!isnan(v[n]))
			n++;
	}
	if (n == 0)
		return NAN;
	qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* A number, or null when unknown. */
static void
jval(double v)
{
	if (isnan(v))
		printf("null");
	else
		printf("%.3f", v);
}

/* ,"name":v */
static void
jnum(const char *name, double v)
{
	printf(",\"%s\":", name);
	jval(v);
}

static void
jlong(const char *name, long v)
{
	if (v < 0)
		printf(",\"%s\":null", name);
	else
		printf(",\"%s\":%ld", name, v);
}

#define MEDIAN(b, f)	median((b), offsetof(struct alert_stats, f))

static void
report_alert(const struct alert_stats *st)
{
	printf("{\"id\":");
	json_str(stdout, st->id);
	printf(",\"targeted\":%u,\"delivered\":%d,\"acks_stored\":%lld",
	    st->targeted, st->delivered, st->acks_stored);
	jnum("first_ms", st->first);
	jnum("p50_ms", st->p50);
	jnum("p90_ms", st->p90);
	jnum("p99_ms", st->p99);
	jnum("max_ms", st->max);
	jnum("published_ms", st->published);
	jnum("acks_stored_ms", st->stored);
	jnum("acks_ok_ms", st->acks_ok);
	jnum("ack_rate_per_s", st->ack_rate);
	jnum("daemon_cpu_ms", st->cpu);
	jnum("redis_cpu_ms", st->redis_cpu);
	jnum("bench_cpu_ms", st->own_cpu);
	printf("}");
}

/*
 * The one JSON line: medians over the alerts, then each alert.  The
 * minimum of delivered and acks_stored over the alerts says whether
 * every alert reached every agent and every ack was stored.
 */
static void
report(const struct bench *b)
{
	int i, dmin = b->cur ? b->n : 0;
	long long smin = b->cur ? b->n : 0;

	for (i = 0; i < b->cur; i++) {
		if (b->st[i].delivered < dmin)
			dmin = b->st[i].delivered;
		if (b->st[i].acks_stored < smin)
			smin = b->st[i].acks_stored;
	}
	printf("{\"ok\":%s,\"error\":", b->ok ? "true" : "false");
	json_str(stdout, b->err);
	printf(",\"n\":%d,\"alerts\":%d,\"alerts_done\":%d,"
	    "\"payload\":%zu,\"inflight\":%d,\"gap_ms\":%ld",
	    b->n, b->m, b->cur, b->payload, b->max_inflight, b->gap_ms);
	printf(",\"servers\":%d,\"daemons\":%d", b->naddr, b->ndpid);
	printf(",\"clocks\":{\"connect\":\"CLOCK_MONOTONIC\","
	    "\"publish\":\"CLOCK_REALTIME before the PUBLISH write\","
	    "\"recv\":\"%s\",\"acks_stored\":\"CLOCK_REALTIME when "
	    "HLEN ack:{id} was seen at N\"}",
	    b->ts_fallback == 0 ? "SO_TIMESTAMPNS (kernel, CLOCK_REALTIME)" :
	    b->ts_kernel == 0 ? "CLOCK_REALTIME when decoded" :
	    "mixed: SO_TIMESTAMPNS, else CLOCK_REALTIME when decoded");
	printf(",\"recv_ts_kernel\":%" PRIu64 ",\"recv_ts_fallback\":%"
	    PRIu64, b->ts_kernel, b->ts_fallback);
	jnum("connect_full_ms", b->connect_full_ms);
	jnum("connect_resumed_ms", b->connect_resumed_ms);
	printf(",\"sessions\":%d,\"resumed\":%d", b->sessions, b->resumed);
	printf(",\"daemon_cpu_ms\":{\"connect_full\":");
	jval(b->cpu_full);
	jnum("connect_resumed", b->cpu_resumed);
	jnum("alert", MEDIAN(b, cpu));
	printf("}");
	jnum("redis_cpu_ms_alert", MEDIAN(b, redis_cpu));
	jnum("bench_cpu_ms_alert", MEDIAN(b, own_cpu));
	printf(",\"delivery_ms\":{\"first\":");
	jval(MEDIAN(b, first));
	jnum("p50", MEDIAN(b, p50));
	jnum("p90", MEDIAN(b, p90));
	jnum("p99", MEDIAN(b, p99));
	jnum("max", MEDIAN(b, max));
	printf("}");
	/* Round robin over servers: [0] is the issuer's, the rest are fed. */
	printf(",\"delivery_by_server_ms\":[");
	for (i = 0; i < b->naddr && b->naddr > 1; i++) {
		printf("%s{\"p50\":", i > 0 ? "," : "");
		jval(median_srv(b, 0, i));
		jnum("max", median_srv(b, 1, i));
		printf("}");
	}
	printf("]");
	jnum("published_ms", MEDIAN(b, published));
	jnum("acks_stored_ms", MEDIAN(b, stored));
	jnum("acks_ok_ms", MEDIAN(b, acks_ok));
	jnum("ack_rate_per_s", MEDIAN(b, ack_rate));
	printf(",\"delivered_min\":%d,\"acks_stored_min\":%lld", dmin,
	    b->redis != NULL ? smin : -1);
	if (b->rss_idle >= 0)
		printf(",\"rss_kb\":{\"idle\":%ld", b->rss_idle);
	else
		printf(",\"rss_kb\":{\"idle\":null");
	jlong("full", b->rss_full);
	jlong("resumed", b->rss_resumed);
	jlong("end", b->rss_end);
	printf("}");
	jnum("rss_per_agent_kb", b->rss_idle >= 0 && b->rss_full >= 0 &&
	    b->n > 0 ? (double)(b->rss_full - b->rss_idle) / b->n : NAN);
	printf(",\"verified\":%" PRIu64 ",\"stray\":%" PRIu64
	    ",\"dups\":%" PRIu64, b->vc.nverify, b->stray, b->dups);
	printf(",\"per_alert\":[");
	for (i = 0; i < b->cur; i++) {
		if (i > 0)
			putchar(',');
		report_alert(&b->st[i]);
	}
	printf("]}\n");
	fflush(stdout);
}

/* --- main ----------------------------------------------------------------- */

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: wuzha-bench --server HOST:PORT[,HOST:PORT...]... "
	    "--server-name NAME\n"
	    "           --ca-cert FILE --ca-key FILE --count N\n"
	    "           --issuer-cert FILE --issuer-key FILE --target NODE\n"
	    "           [--cn-format FMT] [--first I] [--inflight K]\n"
	    "           [--principals FILE]\n"
	    "           [--alerts M] [--gap MS] [--payload BYTES]\n"
	    "           [--redis SOCKET [--prefix P] [--poll-us US]]\n"
	    "           [--daemon-pid PID]... [--redis-pid PID]\n"
	    "           [--timeout SECONDS] [--ack-ok]\n");
	exit(2);
}

/* --server: one HOST:PORT or a comma-separated list, added in order. */
static void
servers_add(struct bench *b, const char *arg)
{
	char one[128];
	const char *p = arg, *comma;
	size_t len;

	for (;;) {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (len == 0 || len >= sizeof(one))
			fatalx("--server %s: bad list", arg);
		if (b->naddr == BENCH_SERVERS_MAX)
			fatalx("--server: at most %d", BENCH_SERVERS_MAX);
		memcpy(one, p, len);
		one[len] = '\0';
		parse_server(one, &b->addr[b->naddr++]);
		if (comma == NULL)
			break;
		p = comma + 1;
	}
}

/* The CN of the issuer's certificate: the alert's issuer field. */
static void
cert_cn(X509 *x, char *cn, size_t len)
{
	int r;

	r = X509_NAME_get_text_by_NID(X509_get_subject_name(x),
	    NID_commonName, cn, (int)len);
	if (r <= 0 || (size_t)r >= len || !proto_name_valid(cn, (size_t)r))
		fatalx("--issuer-cert: no usable CN");
}

static SSL_CTX *
client_ctx(const char *ca_path)
{
	SSL_CTX *ctx;

	ctx = client_ctx_new(ca_path);
	/* Tickets go to new_session_cb and to no cache of OpenSSL's. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
	return ctx;
}

static void
redis_open(struct bench *b)
{
	struct timeval tv = { 5, 0 };

	b->redis = redisConnectUnixWithTimeout(b->redis_path, tv);
	if (b->redis == NULL || b->redis->err)
		fatalx("redis %s: %s", b->redis_path,
		    b->redis ? b->redis->errstr : "out of memory");
	if (redisSetTimeout(b->redis, tv) != REDIS_OK)
		fatalx("redis: cannot set a timeout");
}

static void
bench_free(struct bench *b)
{
	struct agent *a;
	int i;

	for (i = 0; i < b->n; i++) {
		a = &b->agents[i];
		agent_close(a);
		SSL_SESSION_free(a->sess);
		EVP_PKEY_free(a->key);
		X509_free(a->cert);
		free(a->rx);
	}
	free(b->agents);
	if (b->con.ev != NULL)
		event_free(b->con.ev);
	if (b->con.ssl != NULL) {
		if (SSL_is_init_finished(b->con.ssl))
			SSL_shutdown(b->con.ssl);
		SSL_free(b->con.ssl);
	}
	if (b->con.fd >= 0)
		close(b->con.fd);
	verify_cache_free(&b->vc);
	event_free(b->timeout_ev);
	event_free(b->tick_ev);
	event_free(b->gap_ev);
	event_base_free(b->base);
	SSL_CTX_free(b->ctx);
	X509_STORE_free(b->store);
	BIO_meth_free(b->biometh);
	EVP_PKEY_free(b->ikey);
	env_hashes_free(&b->eh);
	X509_free(b->icert);
	if (b->redis != NULL)
		redisFree(b->redis);
	free(b->st);
	free(b->text);
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
		{ "first",	 required_argument, NULL, 'F' },
		{ "count",	 required_argument, NULL, 'n' },
		{ "inflight",	 required_argument, NULL, 'i' },
		{ "issuer-cert", required_argument, NULL, 'C' },
		{ "issuer-key",	 required_argument, NULL, 'K' },
		{ "target",	 required_argument, NULL, 'T' },
		{ "alerts",	 required_argument, NULL, 'a' },
		{ "gap",	 required_argument, NULL, 'g' },
		{ "payload",	 required_argument, NULL, 'p' },
		{ "redis",	 required_argument, NULL, 'r' },
		{ "prefix",	 required_argument, NULL, 'P' },
		{ "poll-us",	 required_argument, NULL, 'u' },
		{ "daemon-pid",	 required_argument, NULL, 'd' },
		{ "timeout",	 required_argument, NULL, 't' },
		{ "principals", required_argument, NULL, 0x100 },
		{ "redis-pid",	 required_argument, NULL, 0x101 },
		{ "ack-ok",	 no_argument,	    NULL, 0x102 },
		{ NULL, 0, NULL, 0 },
	};
	struct cn_paths paths;
	struct bench b;
	struct cn_format cf;
	const char *ca_path = NULL, *cakey_path = NULL;
	const char *icert_path = NULL, *ikey_path = NULL, *fmt = "bn-%05d";
	X509 *ca;
	EVP_PKEY *cakey;
	long timeout = BENCH_TIMEOUT_DEFAULT, first = 0;
	size_t j;
	int ch, i;

	loadgen_prog = "wuzha-bench";
	memset(&b, 0, sizeof(b));
	b.max_inflight = BENCH_INFLIGHT_DEFAULT;
	b.n = -1;
	b.m = 5;
	b.gap_ms = BENCH_GAP_DEFAULT;
	b.payload = BENCH_PAYLOAD_DEFAULT;
	b.prefix = "wuzha:";
	b.poll_us = BENCH_POLL_US_DEFAULT;
	b.con.fd = -1;
	b.rss_idle = b.rss_full = b.rss_resumed = b.rss_end = -1;
	b.connect_full_ms = b.connect_resumed_ms = NAN;
	b.cpu_full = b.cpu_resumed = NAN;
	memset(&paths, 0, sizeof(paths));
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 0x100: paths_load(&paths, optarg); break;
		case 0x102: b.ack_ok = 1; break;
		case 0x101: b.rpid = num_arg(optarg, "redis-pid", 1,
		    INT32_MAX); break;
		case 's': servers_add(&b, optarg); break;
		case 'S': b.server_name = optarg; break;
		case 'c': ca_path = optarg; break;
		case 'k': cakey_path = optarg; break;
		case 'f': fmt = optarg; break;
		case 'F': first = num_arg(optarg, "first", 0, 10000000);
			break;
		case 'n': b.n = (int)num_arg(optarg, "count", 1, 1000000);
			break;
		case 'i': b.max_inflight = (int)num_arg(optarg, "inflight",
			    1, 100000);
			break;
		case 'C': icert_path = optarg; break;
		case 'K': ikey_path = optarg; break;
		case 'T': b.target = optarg; break;
		case 'a': b.m = (int)num_arg(optarg, "alerts", 0,
			    BENCH_ALERTS_MAX);
			break;
		case 'g': b.gap_ms = num_arg(optarg, "gap", 0, 3600000);
			break;
		case 'p': b.payload = (size_t)num_arg(optarg, "payload", 0,
			    PROTO_TEXT_MAX);
			break;
		case 'r': b.redis_path = optarg; break;
		case 'P': b.prefix = optarg; break;
		case 'u': b.poll_us = num_arg(optarg, "poll-us", 100,
			    1000000);
			break;
		case 'd':
			if (b.ndpid == BENCH_DAEMONS_MAX)
				fatalx("--daemon-pid: at most %d",
				    BENCH_DAEMONS_MAX);
			b.dpid[b.ndpid++] = num_arg(optarg, "daemon-pid", 1,
			    INT32_MAX);
			break;
		case 't': timeout = num_arg(optarg, "timeout", 1, 86400);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || b.naddr == 0 || b.server_name == NULL ||
	    ca_path == NULL || cakey_path == NULL || b.n < 0 ||
	    (b.m > 0 && (icert_path == NULL || ikey_path == NULL ||
	    b.target == NULL)))
		usage();
	if (b.target != NULL && !proto_node_id_valid(b.target,
	    strlen(b.target)))
		fatalx("--target %s is not a node id", b.target);
	cn_format_parse(fmt, &cf);
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();

	ca = load_cert(ca_path);
	cakey = load_key(cakey_path);
	b.store = ca_store(ca);
	verify_cache_init(&b.vc, BENCH_CACHE_MAX);
	if (b.m > 0) {
		b.icert = load_cert(icert_path);
		b.ikey = load_key(ikey_path);
		cert_cn(b.icert, b.issuer, sizeof(b.issuer));
	}
	if ((b.text = malloc(b.payload + 1)) == NULL ||
	    (b.st = calloc((size_t)b.m + 1, sizeof(*b.st))) == NULL)
		fatalx("out of memory");
	for (j = 0; j < b.payload; j++)
		b.text[j] = (uint8_t)"wuzha bench: anti-fraud warning. "[j % 33];
	b.ctx = client_ctx(ca_path);
	b.biometh = tsbio_method();
	if (b.redis_path != NULL)
		redis_open(&b);

	if ((b.agents = calloc((size_t)b.n, sizeof(*b.agents))) == NULL)
		fatalx("out of memory");
	for (i = 0; i < b.n; i++) {
		struct agent *a = &b.agents[i];

		a->b = &b;
		a->fd = -1;
		cn_format_make(&cf, (int)first + i, a->cn, sizeof(a->cn));
		cert_make(a->cn, paths_find(&paths, a->cn), ca, cakey, &a->key,
		    &a->cert);
		if ((a->rx = calloc((size_t)b.m + 1, sizeof(*a->rx))) == NULL)
			fatalx("out of memory");
	}
	X509_free(ca);
	paths_free(&paths);
	EVP_PKEY_free(cakey);
	say("%d certificates made", b.n);

	if ((b.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	b.timeout_ev = evtimer_new(b.base, timeout_cb, &b);
	b.tick_ev = evtimer_new(b.base, tick_cb, &b);
	b.gap_ev = evtimer_new(b.base, gap_cb, &b);
	if (b.timeout_ev == NULL || b.tick_ev == NULL || b.gap_ev == NULL)
		fatalx("evtimer_new");
	timer_arm_us(b.timeout_ev, timeout * 1000000);

	b.rss_idle = daemon_rss(&b);
	for (i = 0; i < b.ndpid; i++)
		b.fds_idle[i] = daemon_fds(b.dpid[i]);
	if (b.naddr > 1 || b.ndpid > 1)
		say("%d agents over %d server address%s (issuer on the first), "
		    "%d wuzhad watched", b.n, b.naddr, b.naddr == 1 ? "" : "es",
		    b.ndpid);
	bench_connect_phase(&b, PH_FULL);
	if (!b.done)
		event_base_dispatch(b.base);

	report(&b);
	i = b.ok ? 0 : 1;
	bench_free(&b);
	return i;
}
