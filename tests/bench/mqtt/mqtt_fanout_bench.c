/*
 * mqtt_fanout_bench.c - peer benchmark: one QoS-1 MQTT message fanned out by a
 * broker (Mosquitto 2.0) to N subscribers over mutual TLS 1.3, and the
 * acknowledgements collected back.
 *
 * One process, one libevent loop, N+1 bufferevent(_openssl) connections, a
 * small hand-written MQTT 3.1.1 codec (CONNECT/CONNACK, SUBSCRIBE/SUBACK,
 * PUBLISH QoS 1, PUBACK, PINGREQ/PINGRESP, DISCONNECT).  No libmosquitto.
 *
 * Phases:
 *   0. publisher connects (CONNECT only); broker RSS read ("idle").
 *   1. connect: N subscribers, at most -c TLS+MQTT set-ups in flight, each
 *      CONNECT (clean session) then SUBSCRIBE alerts/all QoS 1.
 *   2. fan-out: m PUBLISH QoS 1 from the publisher, payload of -s bytes whose
 *      first 8 bytes are the CLOCK_MONOTONIC send time (ns, big-endian) and
 *      next 4 the message index.  Every subscriber answers PUBACK at once.
 *      Every S-th subscriber (the ack probe, about 100 of them by default)
 *      sends PINGREQ in the same TLS record; Mosquitto handles one
 *      connection's packets in order, so the PINGRESP shows the broker has
 *      processed that PUBACK.  The next message goes out -g ms after the
 *      previous fan-out has fully completed.
 *
 * Two clocks per delivery: "observed" (when this loop parsed the PUBLISH) and
 * "kernel arrival" (SO_TIMESTAMPNS via a recvmsg-based OpenSSL BIO: when the
 * bytes reached the socket, i.e. inside the broker's write() on loopback).
 *
 * Only 127.0.0.1 is ever contacted.  Run through run.sh, which starts a
 * private broker with generated certificates.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#define TOPIC "alerts/all"
#define MIN_PAYLOAD 12
#define MAX_ERR_PRINT 5

/* ------------------------------------------------------------------ */
/* options                                                             */

static struct {
	int n, m, size, tls, conc, port, timeout_s, ack_probe, probe_stride, keepalive;
	long gap_ms;
	const char *ca, *cert, *key, *broker_name;
	int broker_pid;
} opt = {
	.n = 100, .m = 10, .size = 1024, .tls = 1, .conc = 100, .port = 0,
	.timeout_s = 120, .ack_probe = 1, .keepalive = 600, .gap_ms = 1000,
	.ca = "ca.crt", .cert = "client.crt", .key = "client.key",
	.broker_name = "mosquitto", .broker_pid = 0,
};

/* ------------------------------------------------------------------ */
/* state                                                               */

enum cstate { C_NEW, C_TLS, C_CONNECTING, C_SUBSCRIBING, C_READY, C_DEAD };
enum phase { PH_PUBCONNECT, PH_CONNECT, PH_SETTLE, PH_FANOUT, PH_CLOSING, PH_DONE };

struct conn {
	struct bufferevent *bev;
	int idx; /* -1: publisher */
	enum cstate st;
	int last_seq;  /* highest message index received, -1 none */
	int ping_msg;  /* message whose ack probe is outstanding, -1 none */
	int fd;
	uint64_t t_start;
};

struct msgstat {
	uint64_t t_pub, t_puback, t_first, t_last, t_acked, t_done;
	int delivered, acked;
	uint64_t bench_cpu0, bench_cpu1, broker_cpu0, broker_cpu1;
	uint64_t bench_cpu_last, broker_cpu_last; /* at the last delivery */
	long puback_age_ms; /* TCP_INFO last_data_recv when the bench read the PUBACK */
	/* kernel receive timestamps (TLS mode): when the bytes reached the socket */
	uint64_t k_first, k_last, k_puback, k_acked;
};

static struct event_base *base;
static SSL_CTX *ssl_ctx;
static struct sockaddr_in broker_sa;
static struct conn *subs, pubc;
static struct msgstat *msgs;
static uint64_t *lats;         /* m * n receive latencies (ns) */
static uint64_t *setup_ns;     /* per subscriber: connect start -> SUBACK */
static uint64_t *klats;        /* m * n kernel-arrival latencies (ns), TLS mode */
static uint64_t *rx_ts_by_fd;  /* CLOCK_MONOTONIC ns of the last bytes read, per fd */
static int rx_ts_cap;
static int64_t real_minus_mono; /* CLOCK_REALTIME - CLOCK_MONOTONIC, ns */
static BIO_METHOD *tsbio_meth;
static enum phase phase = PH_PUBCONNECT;
static int next_idx, inflight, n_ready, n_failed, n_lost, n_closed;
static int cur_msg = -1;
static int n_probed, n_probed_lost; /* subscribers that send the ack probe */
static long dups, bad_packets, qos_mismatch, suback_downgrade, ts_missing;
static int err_printed, timed_out;
static uint64_t t_prog0, t_conn0, t_conn1;
static uint64_t cpu_bench_c0, cpu_bench_c1, cpu_broker_c0, cpu_broker_c1;
static uint64_t cpu_bench_f1, cpu_broker_f1; /* at the end of the fan-out phase */
static long rss_idle, rss_before, rss_after_connect, rss_after_fanout, hwm_broker;
static long bench_rss_after_connect;
static char tls_info[160] = "plain TCP";
static struct event *pub_timer, *global_timer, *close_timer;
static uint8_t *pub_buf;
static size_t pub_len;

/* ------------------------------------------------------------------ */
/* helpers                                                             */

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double to_ms(uint64_t ns) { return (double)ns / 1e6; }

/* ms from t0 to t, -1 when t is unknown */
static double rel_ms(uint64_t t, uint64_t t0) { return (t && t >= t0) ? to_ms(t - t0) : -1.0; }

static void calibrate_clocks(void)
{
	struct timespec m1, r, m2;
	clock_gettime(CLOCK_MONOTONIC, &m1);
	clock_gettime(CLOCK_REALTIME, &r);
	clock_gettime(CLOCK_MONOTONIC, &m2);
	real_minus_mono = ((int64_t)r.tv_sec * 1000000000 + r.tv_nsec) -
			  (((int64_t)m1.tv_sec + m2.tv_sec) * 1000000000 + m1.tv_nsec + m2.tv_nsec) / 2;
}

/*
 * A socket BIO whose read is recvmsg() with SO_TIMESTAMPNS: it keeps, per fd,
 * the kernel time at which the last bytes read had arrived.  On loopback that
 * is stamped while the broker's write() runs, so it measures the broker's
 * send time without the bench's own read/decrypt lag.  Everything else
 * (write, ctrl, create, destroy) is OpenSSL's own socket BIO.
 */
static int tsbio_read(BIO *b, char *buf, int len)
{
	char cbuf[CMSG_SPACE(sizeof(struct timespec))];
	struct iovec iov = { buf, (size_t)len };
	struct msghdr mh;
	struct cmsghdr *cm;
	ssize_t n;
	int fd = -1;

	BIO_get_fd(b, &fd);
	memset(&mh, 0, sizeof mh);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof cbuf;
	BIO_clear_retry_flags(b);
	n = recvmsg(fd, &mh, 0);
	if (n > 0) {
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS && fd < rx_ts_cap) {
				struct timespec ts;
				memcpy(&ts, CMSG_DATA(cm), sizeof ts);
				rx_ts_by_fd[fd] = (uint64_t)((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec -
							     real_minus_mono);
			}
	} else if (n == 0) {
		BIO_set_flags(b, BIO_FLAGS_IN_EOF);
	} else if (BIO_sock_non_fatal_error(errno)) {
		BIO_set_retry_read(b);
	}
	return (int)n;
}

static void tsbio_init(void)
{
	const BIO_METHOD *sock = BIO_s_socket();

	tsbio_meth = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
				  "socket+rx-timestamp");
	if (!tsbio_meth || !BIO_meth_set_read(tsbio_meth, tsbio_read) ||
	    !BIO_meth_set_write(tsbio_meth, BIO_meth_get_write(sock)) ||
	    !BIO_meth_set_puts(tsbio_meth, BIO_meth_get_puts(sock)) ||
	    !BIO_meth_set_ctrl(tsbio_meth, BIO_meth_get_ctrl(sock)) ||
	    !BIO_meth_set_create(tsbio_meth, BIO_meth_get_create(sock)) ||
	    !BIO_meth_set_destroy(tsbio_meth, BIO_meth_get_destroy(sock)))
		die("cannot build the timestamping BIO");
}

/* kernel arrival time of the last bytes read on c, 0 if unknown */
static uint64_t rx_ts(const struct conn *c)
{
	return (opt.tls && c->fd >= 0 && c->fd < rx_ts_cap) ? rx_ts_by_fd[c->fd] : 0;
}

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "mqtt_fanout_bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static void bench_warn(const char *fmt, ...)
{
	va_list ap;
	if (err_printed++ >= MAX_ERR_PRINT) {
		if (err_printed == MAX_ERR_PRINT + 1)
			fprintf(stderr, "mqtt_fanout_bench: (further errors not printed)\n");
		return;
	}
	va_start(ap, fmt);
	fprintf(stderr, "mqtt_fanout_bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

/* CPU time of this process, ns */
static uint64_t bench_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * CPU time of the broker, ns: the sum of the first field (time on CPU, ns) of
 * /proc/PID/task/TID/schedstat over its threads; falls back to utime+stime of
 * /proc/PID/stat (clock ticks, 10 ms) if schedstat is missing.
 */
static uint64_t broker_cpu_ns(void)
{
	char path[96], buf[1024];
	FILE *f;
	size_t len;
	char *p;
	unsigned long long ut = 0, stt = 0, sum = 0, v;
	int i, found = 0;
	DIR *d;
	struct dirent *de;

	if (opt.broker_pid <= 0)
		return 0;
	snprintf(path, sizeof path, "/proc/%d/task", opt.broker_pid);
	if ((d = opendir(path))) {
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "/proc/%d/task/%.20s/schedstat", opt.broker_pid, de->d_name);
			if ((f = fopen(path, "r"))) {
				if (fscanf(f, "%llu", &v) == 1) {
					sum += v;
					found = 1;
				}
				fclose(f);
			}
		}
		closedir(d);
		if (found)
			return sum;
	}
	snprintf(path, sizeof path, "/proc/%d/stat", opt.broker_pid);
	if (!(f = fopen(path, "r")))
		return 0;
	len = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[len] = 0;
	if (!(p = strrchr(buf, ')')))
		return 0;
	p++; /* now at " state ppid ..." = fields 3.. ; utime is field 14 */
	for (i = 3; i <= 13 && p; i++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p, " %llu %llu", &ut, &stt) != 2)
		return 0;
	return (ut + stt) * (1000000000ull / (unsigned long long)sysconf(_SC_CLK_TCK));
}

/* a "Vm...:" field from /proc/PID/status in kB, -1 if unknown */
static long proc_status_kb(int pid, const char *field)
{
	char path[64], line[256];
	FILE *f;
	long v = -1;
	size_t fl = strlen(field);

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof path, "/proc/%d/status", pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, field, fl) && line[fl] == ':') {
			v = strtol(line + fl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* nearest-rank percentile of a sorted array */
static uint64_t pct(const uint64_t *v, size_t n, double q)
{
	size_t k;
	if (!n)
		return 0;
	k = (size_t)(q * (double)n + 0.999999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

/* ------------------------------------------------------------------ */
/* MQTT 3.1.1 codec                                                    */

enum { MQ_CONNECT = 1, MQ_CONNACK, MQ_PUBLISH, MQ_PUBACK, MQ_PUBREC, MQ_PUBREL,
       MQ_PUBCOMP, MQ_SUBSCRIBE, MQ_SUBACK, MQ_UNSUBSCRIBE, MQ_UNSUBACK,
       MQ_PINGREQ, MQ_PINGRESP, MQ_DISCONNECT };

static size_t mq_varint(uint8_t *p, uint32_t v)
{
	size_t i = 0;
	do {
		uint8_t b = v & 0x7f;
		v >>= 7;
		if (v)
			b |= 0x80;
		p[i++] = b;
	} while (v);
	return i;
}

static uint8_t *put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

static uint8_t *putstr(uint8_t *p, const char *s, size_t n)
{
	p = put16(p, (uint16_t)n);
	memcpy(p, s, n);
	return p + n;
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* CONNECT, protocol level 4, clean session, no username/password */
static size_t mq_connect(uint8_t *out, const char *cid, uint16_t keepalive)
{
	size_t cl = strlen(cid);
	uint8_t *p = out;
	*p++ = MQ_CONNECT << 4;
	p += mq_varint(p, (uint32_t)(10 + 2 + cl));
	p = putstr(p, "MQTT", 4);
	*p++ = 4;    /* protocol level 3.1.1 */
	*p++ = 0x02; /* clean session */
	p = put16(p, keepalive);
	p = putstr(p, cid, cl);
	return (size_t)(p - out);
}

static size_t mq_subscribe(uint8_t *out, uint16_t pid, const char *topic, uint8_t qos)
{
	size_t tl = strlen(topic);
	uint8_t *p = out;
	*p++ = MQ_SUBSCRIBE << 4 | 0x02;
	p += mq_varint(p, (uint32_t)(2 + 2 + tl + 1));
	p = put16(p, pid);
	p = putstr(p, topic, tl);
	*p++ = qos;
	return (size_t)(p - out);
}

/* PUBLISH QoS 1 header (fixed header, topic, packet id); payload follows */
static size_t mq_publish_hdr(uint8_t *out, const char *topic, uint16_t pid, size_t payload)
{
	size_t tl = strlen(topic);
	uint8_t *p = out;
	*p++ = MQ_PUBLISH << 4 | 1 << 1;
	p += mq_varint(p, (uint32_t)(2 + tl + 2 + payload));
	p = putstr(p, topic, tl);
	p = put16(p, pid);
	return (size_t)(p - out);
}

/*
 * Is a whole packet at the head of `in`?  1: yes (header byte, remaining
 * length and header length filled in), 0: need more bytes, -1: malformed.
 */
static int mq_peek(struct evbuffer *in, uint8_t *b0, uint32_t *rem, size_t *hlen)
{
	uint8_t h[5];
	size_t avail = evbuffer_get_length(in), n, i;
	uint32_t val = 0;
	unsigned shift = 0;

	if (avail < 2)
		return 0;
	n = avail < 5 ? avail : 5;
	evbuffer_copyout(in, h, n);
	for (i = 1;; i++) {
		if (i > 4)
			return -1;
		if (i >= n)
			return 0;
		val |= (uint32_t)(h[i] & 0x7f) << shift;
		shift += 7;
		if (!(h[i] & 0x80))
			break;
	}
	*b0 = h[0];
	*rem = val;
	*hlen = i + 1;
	return avail >= *hlen + val ? 1 : 0;
}

/* ------------------------------------------------------------------ */
/* connections                                                         */

static void read_cb(struct bufferevent *bev, void *arg);
static void event_cb(struct bufferevent *bev, short what, void *arg);
static void launch_more(void);
static void end_connect_phase(void);
static void check_complete(int k);
static void finish(void);

static void cid_of(const struct conn *c, char *buf, size_t n)
{
	if (c->idx < 0)
		snprintf(buf, n, "bench-pub-%d", (int)getpid());
	else
		snprintf(buf, n, "bench-sub-%d-%07d", (int)getpid(), c->idx);
}

/* does this subscriber follow its PUBACK with a PINGREQ (the ack probe)? */
static int is_prober(const struct conn *c)
{
	return opt.ack_probe && c->idx >= 0 && c->idx % opt.probe_stride == 0;
}

static void log_bev_error(struct conn *c, short what)
{
	char buf[256];
	unsigned long e;
	int sock_err = EVUTIL_SOCKET_ERROR();

	buf[0] = 0;
	while (c->bev && (e = bufferevent_get_openssl_error(c->bev)))
		ERR_error_string_n(e, buf, sizeof buf);
	bench_warn("connection %d (state %d) %s: %s%s%s", c->idx, c->st,
	      (what & BEV_EVENT_EOF) ? "closed by broker" : "error",
	      buf[0] ? buf : "", buf[0] ? " / " : "",
	      (what & BEV_EVENT_ERROR) ? evutil_socket_error_to_string(sock_err) : "EOF");
}

static void conn_free(struct conn *c)
{
	if (c->bev) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
}

/* a connection failed or was closed */
static void conn_down(struct conn *c, short what)
{
	enum cstate was = c->st;

	if (was == C_DEAD)
		return;
	c->st = C_DEAD;
	if (phase == PH_CLOSING) {
		conn_free(c);
		if (++n_closed >= n_ready + 1)
			event_base_loopbreak(base);
		return;
	}
	log_bev_error(c, what);
	conn_free(c);
	if (c->idx < 0) {
		bench_warn("publisher connection lost; stopping");
		finish();
		return;
	}
	if (was == C_READY) {
		n_lost++;
		if (is_prober(c))
			n_probed_lost++;
		if (phase == PH_FANOUT && cur_msg >= 0)
			check_complete(cur_msg);
		return;
	}
	/* failed during set-up */
	n_failed++;
	inflight--;
	launch_more();
}

static int conn_start(struct conn *c)
{
	struct bufferevent *bev;
	int fd, one = 1;

	c->st = C_TLS;
	c->last_seq = -1;
	c->ping_msg = -1;
	c->t_start = now_ns();
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		bench_warn("socket for connection %d: %s", c->idx, strerror(errno));
		return -1;
	}
	c->fd = fd;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (opt.tls) {
		SSL *ssl;
		BIO *bio;

		/* kernel receive timestamps, read back by tsbio_read() */
		setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
		if (fd < rx_ts_cap)
			rx_ts_by_fd[fd] = 0;
		if (connect(fd, (struct sockaddr *)&broker_sa, sizeof broker_sa) < 0 && errno != EINPROGRESS) {
			bench_warn("connect for connection %d: %s", c->idx, strerror(errno));
			close(fd);
			return -1;
		}
		if (!(ssl = SSL_new(ssl_ctx)) || !(bio = BIO_new(tsbio_meth)))
			die("SSL_new/BIO_new failed");
		BIO_set_fd(bio, fd, BIO_NOCLOSE);
		SSL_set_bio(ssl, bio, bio);
		SSL_set_tlsext_host_name(ssl, "localhost");
		SSL_set1_host(ssl, "localhost");
		bev = bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_CONNECTING,
						     BEV_OPT_CLOSE_ON_FREE);
		if (!bev)
			die("bufferevent_openssl_socket_new failed");
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
		c->bev = bev;
		bufferevent_setcb(bev, read_cb, NULL, event_cb, c);
		bufferevent_enable(bev, EV_READ | EV_WRITE);
		return 0;
	}
	if (!(bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE)))
		die("bufferevent_socket_new failed");
	c->bev = bev;
	bufferevent_setcb(bev, read_cb, NULL, event_cb, c);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(bev, (struct sockaddr *)&broker_sa, sizeof broker_sa) < 0) {
		bench_warn("connect for connection %d: %s", c->idx,
			   evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		return -1;
	}
	return 0;
}

/* keep up to -c set-ups in flight; ends the phase when every one is settled */
static void launch_more(void)
{
	static int busy;

	if (busy)
		return;
	busy = 1;
	while (phase == PH_CONNECT && inflight < opt.conc && next_idx < opt.n) {
		struct conn *c = &subs[next_idx];
		c->idx = next_idx++;
		inflight++;
		if (conn_start(c) < 0) {
			/* socket()/connect() refused at once (e.g. EMFILE) */
			c->st = C_NEW;
			conn_down(c, BEV_EVENT_ERROR);
		}
	}
	busy = 0;
	if (phase == PH_CONNECT && n_ready + n_failed == opt.n)
		end_connect_phase();
}

static void send_connect(struct conn *c)
{
	uint8_t buf[128];
	char cid[64];

	cid_of(c, cid, sizeof cid);
	bufferevent_write(c->bev, buf, mq_connect(buf, cid, (uint16_t)opt.keepalive));
	c->st = C_CONNECTING;
}

static void note_tls_info(struct conn *c)
{
	SSL *ssl;
	int nid = NID_undef;
	const char *grp;

	if (!opt.tls || strcmp(tls_info, "plain TCP") || !(ssl = bufferevent_openssl_get_ssl(c->bev)))
		return;
	grp = SSL_group_to_name(ssl, SSL_get_negotiated_group(ssl));
	SSL_get_peer_signature_type_nid(ssl, &nid);
	snprintf(tls_info, sizeof tls_info, "%s %s, group %s, server sig %s",
		 SSL_get_version(ssl), SSL_get_cipher_name(ssl), grp ? grp : "?",
		 nid != NID_undef ? OBJ_nid2sn(nid) : "?");
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	(void)bev;

	if (what & BEV_EVENT_CONNECTED) {
		note_tls_info(c);
		send_connect(c);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		conn_down(c, what);
}

/* ------------------------------------------------------------------ */
/* phases                                                              */

static void start_connect_phase(void)
{
	rss_before = proc_status_kb(opt.broker_pid, "VmRSS");
	cpu_bench_c0 = bench_cpu_ns();
	cpu_broker_c0 = broker_cpu_ns();
	phase = PH_CONNECT;
	t_conn0 = now_ns();
	launch_more();
}

static void publish_msg(int k)
{
	struct msgstat *ms = &msgs[k];
	uint8_t *payload = pub_buf + (pub_len - (size_t)opt.size);

	cur_msg = k;
	calibrate_clocks();
	ms->broker_cpu0 = broker_cpu_ns();
	ms->bench_cpu0 = bench_cpu_ns();
	/* rewrite header (packet id) and stamp */
	mq_publish_hdr(pub_buf, TOPIC, (uint16_t)(k + 1), (size_t)opt.size);
	ms->t_pub = now_ns();
	put64(payload, ms->t_pub);
	payload[8] = (uint8_t)(k >> 24);
	payload[9] = (uint8_t)(k >> 16);
	payload[10] = (uint8_t)(k >> 8);
	payload[11] = (uint8_t)k;
	bufferevent_write(pubc.bev, pub_buf, pub_len);
}

static void pub_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (phase == PH_SETTLE)
		phase = PH_FANOUT;
	if (phase != PH_FANOUT)
		return;
	if (cur_msg + 1 < opt.m)
		publish_msg(cur_msg + 1);
	else
		finish(); /* one gap after the last fan-out, so trailing acks are processed */
}

static void arm_pub_timer(void)
{
	struct timeval tv = { opt.gap_ms / 1000, (opt.gap_ms % 1000) * 1000 };
	evtimer_add(pub_timer, &tv);
}

static void end_connect_phase(void)
{
	if (phase != PH_CONNECT)
		return;
	t_conn1 = now_ns();
	cpu_bench_c1 = bench_cpu_ns();
	cpu_broker_c1 = broker_cpu_ns();
	rss_after_connect = proc_status_kb(opt.broker_pid, "VmRSS");
	bench_rss_after_connect = proc_status_kb(getpid(), "VmRSS");
	{
		double wall = (double)(t_conn1 - t_conn0) / 1e9;
		printf("connect: %d/%d subscribed in %.3f s = %.0f conn/s (TCP+TLS+CONNECT+SUBSCRIBE, %d in flight max), %d failed\n",
		       n_ready, opt.n, wall, wall > 0 ? n_ready / wall : 0.0, opt.conc, n_failed);
		fflush(stdout);
	}
	phase = PH_SETTLE;
	n_probed = 0;
	for (int i = 0; i < next_idx; i++)
		if (subs[i].st == C_READY && is_prober(&subs[i]))
			n_probed++;
	if (n_ready == 0) {
		bench_warn("no subscriber connected");
		finish();
		return;
	}
	arm_pub_timer();
}

static void check_complete(int k)
{
	struct msgstat *ms = &msgs[k];
	int expect = n_ready - n_lost;

	if (ms->t_done || !ms->t_puback || ms->delivered < expect)
		return;
	if (opt.ack_probe && ms->acked < n_probed - n_probed_lost)
		return;
	ms->t_done = now_ns();
	ms->bench_cpu1 = bench_cpu_ns();
	ms->broker_cpu1 = broker_cpu_ns();
	printf("msg %3d  observed: first %7.3f  last %8.3f  broker-PUBACK %8.3f  acks-collected %8.3f ms   delivered %d/%d, probes back %d/%d\n",
	       k + 1, rel_ms(ms->t_first, ms->t_pub), rel_ms(ms->t_last, ms->t_pub),
	       rel_ms(ms->t_puback, ms->t_pub), opt.ack_probe ? rel_ms(ms->t_acked, ms->t_pub) : -1.0,
	       ms->delivered, n_ready, ms->acked, n_probed);
	printf("         arrival : first %7.3f  last %8.3f  broker-PUBACK %8.3f  acks-collected %8.3f ms   cpu to last delivery broker %.0f bench %.0f ms, to completion broker %.0f bench %.0f ms\n",
	       rel_ms(ms->k_first, ms->t_pub), rel_ms(ms->k_last, ms->t_pub), rel_ms(ms->k_puback, ms->t_pub),
	       opt.ack_probe ? rel_ms(ms->k_acked, ms->t_pub) : -1.0,
	       (double)(ms->broker_cpu_last - ms->broker_cpu0) / 1e6,
	       (double)(ms->bench_cpu_last - ms->bench_cpu0) / 1e6,
	       (double)(ms->broker_cpu1 - ms->broker_cpu0) / 1e6,
	       (double)(ms->bench_cpu1 - ms->bench_cpu0) / 1e6);
	fflush(stdout);
	arm_pub_timer();
}

/* ------------------------------------------------------------------ */
/* packet handling                                                     */

static void on_publish(struct conn *c, uint8_t b0, const uint8_t *p, uint32_t len, uint64_t t)
{
	int qos = (b0 >> 1) & 3;
	size_t off;
	uint16_t pid = 0;
	const uint8_t *pl;
	size_t pll;
	uint64_t stamp;
	uint32_t seq;
	struct msgstat *ms;
	int probe;

	if (len < 2 || (off = 2u + get16(p)) > len || (qos && off + 2 > len)) {
		bad_packets++;
		return;
	}
	if (qos) {
		pid = get16(p + off);
		off += 2;
	}
	/* acknowledge first, as an agent would; probing subscribers add PINGREQ
	 * in the same TLS record */
	probe = qos == 1 && is_prober(c);
	if (qos == 1) {
		uint8_t ack[6] = { MQ_PUBACK << 4, 2, (uint8_t)(pid >> 8), (uint8_t)pid,
				   MQ_PINGREQ << 4, 0 };
		bufferevent_write(c->bev, ack, probe ? 6 : 4);
	} else {
		qos_mismatch++;
	}
	pl = p + off;
	pll = len - off;
	if (pll < MIN_PAYLOAD) {
		bad_packets++;
		return;
	}
	stamp = get64(pl);
	seq = (uint32_t)pl[8] << 24 | (uint32_t)pl[9] << 16 | (uint32_t)pl[10] << 8 | pl[11];
	if ((int)seq != cur_msg || seq >= (uint32_t)opt.m || pll != (size_t)opt.size) {
		bad_packets++;
		return;
	}
	if (c->last_seq >= (int)seq) {
		dups++;
		return;
	}
	c->last_seq = (int)seq;
	ms = &msgs[seq];
	{
		uint64_t k = rx_ts(c);
		if (k >= stamp) {
			if (ms->delivered < opt.n)
				klats[(size_t)seq * (size_t)opt.n + (size_t)ms->delivered] = k - stamp;
			if (!ms->k_first || k < ms->k_first)
				ms->k_first = k;
			if (k > ms->k_last)
				ms->k_last = k;
		} else if (opt.tls) {
			ts_missing++;
		}
	}
	if (ms->delivered < opt.n)
		lats[(size_t)seq * (size_t)opt.n + (size_t)ms->delivered] = t - stamp;
	ms->delivered++;
	if (!ms->t_first)
		ms->t_first = t;
	ms->t_last = t;
	if (ms->delivered == n_ready - n_lost) {
		/* who was busy while the broker fanned out: CPU up to the last delivery */
		ms->bench_cpu_last = bench_cpu_ns();
		ms->broker_cpu_last = broker_cpu_ns();
	}
	if (probe)
		c->ping_msg = (int)seq;
	check_complete((int)seq);
}

static void handle_packet(struct conn *c, uint8_t b0, const uint8_t *p, uint32_t len)
{
	uint64_t t = now_ns();

	switch (b0 >> 4) {
	case MQ_CONNACK:
		if (c->st != C_CONNECTING || len != 2 || p[1] != 0) {
			bench_warn("connection %d: CONNACK refused (return code %d)", c->idx, len == 2 ? p[1] : -1);
			bufferevent_disable(c->bev, EV_READ);
			conn_down(c, BEV_EVENT_EOF);
			return;
		}
		if (c->idx < 0) {
			c->st = C_READY;
			start_connect_phase();
		} else {
			uint8_t buf[64];
			bufferevent_write(c->bev, buf, mq_subscribe(buf, 1, TOPIC, 1));
			c->st = C_SUBSCRIBING;
		}
		break;
	case MQ_SUBACK:
		if (c->st != C_SUBSCRIBING || len != 3 || get16(p) != 1 || p[2] == 0x80) {
			bench_warn("connection %d: SUBACK refused", c->idx);
			conn_down(c, BEV_EVENT_EOF);
			return;
		}
		if (p[2] != 1)
			suback_downgrade++;
		c->st = C_READY;
		setup_ns[n_ready++] = t - c->t_start;
		inflight--;
		launch_more();
		break;
	case MQ_PUBLISH:
		if (c->idx >= 0 && c->st == C_READY)
			on_publish(c, b0, p, len, t);
		else
			bad_packets++;
		break;
	case MQ_PUBACK:
		if (c->idx < 0 && len == 2 && get16(p) >= 1 && get16(p) <= opt.m) {
			struct msgstat *ms = &msgs[get16(p) - 1];
			if (!ms->t_puback) {
				struct tcp_info ti;
				socklen_t tl = sizeof ti;
				ms->t_puback = t;
				ms->k_puback = rx_ts(c);
				/* how long the PUBACK sat in the kernel before the loop got to it:
				 * the bench's read lag at the end of the fan-out (jiffy resolution) */
				ms->puback_age_ms = -1;
				if (getsockopt(bufferevent_getfd(c->bev), IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0)
					ms->puback_age_ms = (long)ti.tcpi_last_data_recv;
				check_complete(get16(p) - 1);
			}
		} else {
			bad_packets++;
		}
		break;
	case MQ_PINGRESP:
		if (c->ping_msg >= 0) {
			struct msgstat *ms = &msgs[c->ping_msg];
			c->ping_msg = -1;
			ms->acked++;
			ms->t_acked = t;
			if (rx_ts(c) > ms->k_acked)
				ms->k_acked = rx_ts(c);
			check_complete((int)(ms - msgs));
		}
		break;
	default:
		bad_packets++;
		break;
	}
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t b0;
	uint32_t rem;
	size_t hlen;
	int r;

	while (c->st != C_DEAD && (r = mq_peek(in, &b0, &rem, &hlen)) != 0) {
		const uint8_t *p;
		if (r < 0) {
			bench_warn("connection %d: malformed packet", c->idx);
			bad_packets++;
			conn_down(c, BEV_EVENT_ERROR);
			return;
		}
		p = evbuffer_pullup(in, (ev_ssize_t)(hlen + rem));
		handle_packet(c, b0, p + hlen, rem);
		if (c->st == C_DEAD || !c->bev)
			return;
		evbuffer_drain(in, hlen + rem);
	}
}

/* ------------------------------------------------------------------ */
/* report                                                              */

/* median and max of n values (sorted in place), in ms; -1 when there are none */
static void med_max(uint64_t *v, size_t n, double *med, double *max)
{
	if (!n) {
		*med = *max = -1.0;
		return;
	}
	qsort(v, n, sizeof *v, cmp_u64);
	*med = to_ms(pct(v, n, 0.5));
	*max = to_ms(v[n - 1]);
}

struct lat_summary {
	size_t count;
	double p50, p90, p99, max;
};

/* percentiles over the m * n latency array (first `delivered` of each row) */
static struct lat_summary lat_summary(const uint64_t *src)
{
	struct lat_summary r = { 0, -1, -1, -1, -1 };
	size_t total = 0, k, d;
	uint64_t *all;

	for (k = 0; k < (size_t)opt.m; k++)
		total += (size_t)(msgs[k].delivered < opt.n ? msgs[k].delivered : opt.n);
	if (!total || !(all = malloc(total * sizeof *all)))
		return r;
	total = 0;
	for (k = 0; k < (size_t)opt.m; k++) {
		d = (size_t)(msgs[k].delivered < opt.n ? msgs[k].delivered : opt.n);
		memcpy(all + total, src + k * (size_t)opt.n, d * sizeof *all);
		total += d;
	}
	qsort(all, total, sizeof *all, cmp_u64);
	r.count = total;
	r.p50 = to_ms(pct(all, total, 0.50));
	r.p90 = to_ms(pct(all, total, 0.90));
	r.p99 = to_ms(pct(all, total, 0.99));
	r.max = to_ms(all[total - 1]);
	free(all);
	return r;
}

enum { F_FIRST, F_LAST, F_PUBACK, F_ACKS, F_KFIRST, F_KLAST, F_KPUBACK, F_KACKS, F_N };
static const char *const fname[F_N] = { "first_ms", "last_ms", "puback_ms", "acks_ms",
					"arr_first_ms", "arr_last_ms", "arr_puback_ms", "arr_acks_ms" };

static uint64_t msg_field(const struct msgstat *ms, int f)
{
	uint64_t t = 0;
	switch (f) {
	case F_FIRST: t = ms->t_first; break;
	case F_LAST: t = ms->t_last; break;
	case F_PUBACK: t = ms->t_puback; break;
	case F_ACKS: t = opt.ack_probe ? ms->t_acked : 0; break;
	case F_KFIRST: t = ms->k_first; break;
	case F_KLAST: t = ms->k_last; break;
	case F_KPUBACK: t = ms->k_puback; break;
	case F_KACKS: t = opt.ack_probe ? ms->k_acked : 0; break;
	}
	return (t && t >= ms->t_pub) ? t - ms->t_pub : 0;
}

static void report(void)
{
	double conn_wall = t_conn1 > t_conn0 ? (double)(t_conn1 - t_conn0) / 1e9 : 0;
	double per_conn = (rss_after_connect > 0 && rss_before > 0 && n_ready > 0)
				  ? (double)(rss_after_connect - rss_before) / n_ready : -1;
	double med[F_N], max[F_N], cb_share, cc_share, db_share, dc_share;
	double phase_broker_ms = -1, phase_bench_ms = -1;
	uint64_t s50 = 0, s99 = 0, smax = 0, bcpu = 0, ccpu = 0, fan_wall = 0, dbcpu = 0, dccpu = 0, dwall = 0;
	uint64_t *v = calloc((size_t)opt.m + 1, sizeof *v), lagmax = 0;
	struct lat_summary lo, la;
	int done = 0, f;
	size_t k, nv;

	if (!v)
		die("out of memory");
	for (k = 0; k < (size_t)opt.m; k++) {
		struct msgstat *ms = &msgs[k];
		if (!ms->t_done)
			continue;
		done++;
		bcpu += ms->broker_cpu1 - ms->broker_cpu0;
		ccpu += ms->bench_cpu1 - ms->bench_cpu0;
		fan_wall += ms->t_done - ms->t_pub;
		dbcpu += ms->broker_cpu_last - ms->broker_cpu0;
		dccpu += ms->bench_cpu_last - ms->bench_cpu0;
		dwall += ms->t_last - ms->t_pub;
		if (ms->puback_age_ms > 0 && (uint64_t)ms->puback_age_ms > lagmax)
			lagmax = (uint64_t)ms->puback_age_ms;
	}
	for (f = 0; f < F_N; f++) {
		nv = 0;
		for (k = 0; k < (size_t)opt.m; k++)
			if (msgs[k].t_done && msg_field(&msgs[k], f))
				v[nv++] = msg_field(&msgs[k], f);
		med_max(v, nv, &med[f], &max[f]);
	}
	free(v);
	cb_share = fan_wall ? (double)bcpu / (double)fan_wall : 0;
	cc_share = fan_wall ? (double)ccpu / (double)fan_wall : 0;
	db_share = dwall ? (double)dbcpu / (double)dwall : 0;
	dc_share = dwall ? (double)dccpu / (double)dwall : 0;
	if (msgs[0].t_pub && cur_msg >= 0) {
		phase_broker_ms = (double)(cpu_broker_f1 - msgs[0].broker_cpu0) / 1e6 / (cur_msg + 1);
		phase_bench_ms = (double)(cpu_bench_f1 - msgs[0].bench_cpu0) / 1e6 / (cur_msg + 1);
	}
	lo = lat_summary(lats);
	la = opt.tls ? lat_summary(klats) : (struct lat_summary){ 0, -1, -1, -1, -1 };
	if (n_ready) {
		qsort(setup_ns, (size_t)n_ready, sizeof *setup_ns, cmp_u64);
		s50 = pct(setup_ns, (size_t)n_ready, 0.50);
		s99 = pct(setup_ns, (size_t)n_ready, 0.99);
		smax = setup_ns[n_ready - 1];
	}

	printf("---- summary: %s, N=%d, m=%d, payload %d B, %s, ack probe %s (1 in %d, %d subscribers) ----\n",
	       opt.broker_name, opt.n, opt.m, opt.size, tls_info, opt.ack_probe ? "on" : "off", opt.probe_stride,
	       n_probed);
	printf("connect : %d ok, %d failed, all subscribed in %.3f s = %.0f conn/s; set-up p50 %.2f ms p99 %.2f ms max %.2f ms\n",
	       n_ready, n_failed, conn_wall, conn_wall > 0 ? n_ready / conn_wall : 0.0, to_ms(s50), to_ms(s99),
	       to_ms(smax));
	printf("connect : cpu broker %.2f s (%.0f%% of wall), bench %.2f s (%.0f%%)\n",
	       (double)(cpu_broker_c1 - cpu_broker_c0) / 1e9,
	       conn_wall > 0 ? (double)(cpu_broker_c1 - cpu_broker_c0) / 1e7 / conn_wall : 0.0,
	       (double)(cpu_bench_c1 - cpu_bench_c0) / 1e9,
	       conn_wall > 0 ? (double)(cpu_bench_c1 - cpu_bench_c0) / 1e7 / conn_wall : 0.0);
	printf("rss     : broker idle %ld kB, before connect phase %ld kB, after connect %ld kB, after fan-out %ld kB, peak %ld kB; %.1f kB per connection; bench %ld kB after connect\n",
	       rss_idle, rss_before, rss_after_connect, rss_after_fanout, hwm_broker, per_conn,
	       bench_rss_after_connect);
	printf("fan-out : %d/%d messages complete; median (max) over messages, ms after publish:\n", done, opt.m);
	printf("          observed by bench: first %.3f (%.3f), last %.3f (%.3f), broker PUBACK %.3f (%.3f), acks collected %.3f (%.3f)\n",
	       med[F_FIRST], max[F_FIRST], med[F_LAST], max[F_LAST], med[F_PUBACK], max[F_PUBACK], med[F_ACKS], max[F_ACKS]);
	if (opt.tls)
		printf("          kernel arrival   : first %.3f (%.3f), last %.3f (%.3f), broker PUBACK %.3f (%.3f), acks collected %.3f (%.3f)\n",
		       med[F_KFIRST], max[F_KFIRST], med[F_KLAST], max[F_KLAST], med[F_KPUBACK], max[F_KPUBACK],
		       med[F_KACKS], max[F_KACKS]);
	else
		printf("          kernel arrival   : n/a with --plain; bench read lag at the broker PUBACK (TCP_INFO, jiffies) max %" PRIu64 " ms\n",
		       lagmax);
	printf("fan-out : cpu share publish->last delivery: broker %.0f%%, bench %.0f%%; publish->completion: broker %.0f%%, bench %.0f%%\n",
	       100 * db_share, 100 * dc_share, 100 * cb_share, 100 * cc_share);
	if (phase_broker_ms >= 0)
		printf("fan-out : cpu per message over the whole phase (acks included): broker %.1f ms (%.2f us per delivery), bench %.1f ms\n",
		       phase_broker_ms, n_ready ? phase_broker_ms * 1000.0 / n_ready : 0.0, phase_bench_ms);
	printf("latency : %zu deliveries, observed: p50 %.3f p90 %.3f p99 %.3f max %.3f ms", lo.count, lo.p50, lo.p90,
	       lo.p99, lo.max);
	if (opt.tls)
		printf("; kernel arrival: p50 %.3f p90 %.3f p99 %.3f max %.3f ms", la.p50, la.p90, la.p99, la.max);
	printf("\n");
	printf("anomaly : lost connections %d, duplicates %ld, bad packets %ld, QoS mismatch %ld, SUBACK downgraded %ld, missing rx timestamps %ld%s\n",
	       n_lost, dups, bad_packets, qos_mismatch, suback_downgrade, ts_missing, timed_out ? ", TIMED OUT" : "");

	/* one JSON line with everything */
	printf("{\"bench\":\"mqtt_fanout\",\"broker\":\"%s\",\"n\":%d,\"m\":%d,\"payload_bytes\":%d,"
	       "\"tls\":%s,\"tls_info\":\"%s\",\"concurrency\":%d,\"gap_ms\":%ld,\"ack_probe\":%s,"
	       "\"ack_probe_stride\":%d,\"ack_probes\":%d,",
	       opt.broker_name, opt.n, opt.m, opt.size, opt.tls ? "true" : "false", tls_info, opt.conc,
	       opt.gap_ms, opt.ack_probe ? "true" : "false", opt.probe_stride, n_probed);
	printf("\"connect\":{\"ok\":%d,\"failed\":%d,\"wall_s\":%.4f,\"rate_per_s\":%.1f,"
	       "\"setup_p50_ms\":%.3f,\"setup_p99_ms\":%.3f,\"setup_max_ms\":%.3f,"
	       "\"broker_cpu_s\":%.3f,\"bench_cpu_s\":%.3f},",
	       n_ready, n_failed, conn_wall, conn_wall > 0 ? n_ready / conn_wall : 0.0, to_ms(s50), to_ms(s99),
	       to_ms(smax), (double)(cpu_broker_c1 - cpu_broker_c0) / 1e9,
	       (double)(cpu_bench_c1 - cpu_bench_c0) / 1e9);
	printf("\"broker_rss_kb\":{\"idle\":%ld,\"before_connect\":%ld,\"after_connect\":%ld,"
	       "\"after_fanout\":%ld,\"peak\":%ld,\"per_conn\":%.2f},\"bench_rss_kb_after_connect\":%ld,",
	       rss_idle, rss_before, rss_after_connect, rss_after_fanout, hwm_broker, per_conn,
	       bench_rss_after_connect);
	printf("\"fanout\":{\"complete\":%d,\"messages\":[", done);
	for (k = 0; k < (size_t)opt.m && msgs[k].t_pub; k++) {
		struct msgstat *ms = &msgs[k];
		printf("%s{\"delivered\":%d,\"acked\":%d", k ? "," : "", ms->delivered, ms->acked);
		for (f = 0; f < F_N; f++)
			printf(",\"%s\":%.3f", fname[f], msg_field(ms, f) ? to_ms(msg_field(ms, f)) : -1.0);
		printf(",\"puback_read_lag_ms\":%ld,\"broker_cpu_ms\":%.1f,\"bench_cpu_ms\":%.1f,"
		       "\"deliver_broker_cpu_ms\":%.1f,\"deliver_bench_cpu_ms\":%.1f}",
		       ms->t_puback ? ms->puback_age_ms : -1L,
		       ms->t_done ? (double)(ms->broker_cpu1 - ms->broker_cpu0) / 1e6 : -1.0,
		       ms->t_done ? (double)(ms->bench_cpu1 - ms->bench_cpu0) / 1e6 : -1.0,
		       ms->t_done ? (double)(ms->broker_cpu_last - ms->broker_cpu0) / 1e6 : -1.0,
		       ms->t_done ? (double)(ms->bench_cpu_last - ms->bench_cpu0) / 1e6 : -1.0);
	}
	printf("],\"median\":{");
	for (f = 0; f < F_N; f++)
		printf("%s\"%s\":%.3f", f ? "," : "", fname[f], med[f]);
	printf("},\"max\":{");
	for (f = 0; f < F_N; f++)
		printf("%s\"%s\":%.3f", f ? "," : "", fname[f], max[f]);
	printf("},\"cpu_share\":{\"deliver_broker\":%.3f,\"deliver_bench\":%.3f,\"complete_broker\":%.3f,"
	       "\"complete_bench\":%.3f},\"broker_cpu_ms_per_msg\":%.2f,\"bench_cpu_ms_per_msg\":%.2f},",
	       db_share, dc_share, cb_share, cc_share, phase_broker_ms, phase_bench_ms);
	printf("\"latency_ms\":{\"count\":%zu,\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f},",
	       lo.count, lo.p50, lo.p90, lo.p99, lo.max);
	if (opt.tls)
		printf("\"arrival_latency_ms\":{\"count\":%zu,\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f},",
		       la.count, la.p50, la.p90, la.p99, la.max);
	else
		printf("\"arrival_latency_ms\":null,");
	printf("\"lost_conns\":%d,\"duplicates\":%ld,\"bad_packets\":%ld,\"qos_mismatch\":%ld,"
	       "\"missing_rx_timestamps\":%ld,\"timed_out\":%s,\"complete\":%s}\n",
	       n_lost, dups, bad_packets, qos_mismatch, ts_missing, timed_out ? "true" : "false",
	       (!timed_out && done == opt.m && n_failed == 0 && n_lost == 0) ? "true" : "false");
	fflush(stdout);
}

static void close_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	event_base_loopbreak(base);
}

/* report, then DISCONNECT everyone and give the broker a moment to close */
static void finish(void)
{
	static const uint8_t disc[2] = { MQ_DISCONNECT << 4, 0 };
	struct timeval tv = { 2, 0 };
	int i;

	if (phase == PH_CLOSING || phase == PH_DONE)
		return;
	if (phase == PH_CONNECT)
		end_connect_phase(); /* timed out mid-connect: record what we have */
	cpu_bench_f1 = bench_cpu_ns();
	cpu_broker_f1 = broker_cpu_ns();
	rss_after_fanout = proc_status_kb(opt.broker_pid, "VmRSS");
	hwm_broker = proc_status_kb(opt.broker_pid, "VmHWM");
	phase = PH_CLOSING;
	evtimer_del(pub_timer);
	report();

	n_closed = 0;
	n_ready = 0;
	for (i = 0; i < next_idx; i++)
		if (subs[i].st != C_DEAD && subs[i].bev) {
			bufferevent_write(subs[i].bev, disc, 2);
			n_ready++;
		}
	if (pubc.st != C_DEAD && pubc.bev)
		bufferevent_write(pubc.bev, disc, 2);
	else
		n_closed++;
	close_timer = evtimer_new(base, close_timer_cb, NULL);
	evtimer_add(close_timer, &tv);
}

static void global_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	timed_out = 1;
	fprintf(stderr, "mqtt_fanout_bench: global timeout of %d s reached (phase %d, %d/%d subscribed, message %d)\n",
		opt.timeout_s, phase, n_ready, opt.n, cur_msg + 1);
	if (phase == PH_CLOSING) {
		event_base_loopbreak(base);
		return;
	}
	finish();
}

/* ------------------------------------------------------------------ */
/* set-up                                                              */

static SSL_CTX *make_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		die("SSL_CTX_new failed");
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	if (SSL_CTX_load_verify_locations(ctx, opt.ca, NULL) != 1)
		die("cannot load CA %s", opt.ca);
	if (SSL_CTX_use_certificate_chain_file(ctx, opt.cert) != 1)
		die("cannot load client certificate %s", opt.cert);
	if (SSL_CTX_use_PrivateKey_file(ctx, opt.key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		die("cannot load client key %s", opt.key);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	/* every connection does a full handshake: no client-side resumption */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	return ctx;
}

static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t l = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &l) < 0)
		die("cannot find a free port: %s", strerror(errno));
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mqtt_fanout_bench -p PORT [options]\n"
		"       mqtt_fanout_bench --free-port\n"
		"  -n N            subscribers (default 100)\n"
		"  -m M            messages, each a separate fan-out (default 10)\n"
		"  -s BYTES        payload size, >= %d (default 1024)\n"
		"  -g MS           gap after a completed fan-out before the next publish (default 1000)\n"
		"  -c K            max connection set-ups in flight (default 100)\n"
		"  -t SECONDS      global timeout; the run always stops by then (default 120)\n"
		"  -p PORT         broker port on 127.0.0.1\n"
		"  --tls | --plain mutual TLS 1.3 (default) or plain TCP\n"
		"  --ca F --cert F --key F   PEM files (default ca.crt client.crt client.key)\n"
		"  --broker-pid PID   read broker RSS/CPU from /proc/PID\n"
		"  --broker-name S    label in the output (default mosquitto)\n"
		"  --ack-probe-stride S  every S-th subscriber sends PINGREQ after its PUBACK; the\n"
		"                     last PINGRESP marks the broker done with the acks (default\n"
		"                     N/100 rounded up, i.e. about 100 probes; 1 = every subscriber)\n"
		"  --no-ack-probe     no PINGREQ at all (no acks-collected figure)\n"
		"  --keepalive S      MQTT keepalive (default 600)\n",
		MIN_PAYLOAD);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "tls", no_argument, NULL, 'T' },
		{ "plain", no_argument, NULL, 'P' },
		{ "ca", required_argument, NULL, 1 },
		{ "cert", required_argument, NULL, 2 },
		{ "key", required_argument, NULL, 3 },
		{ "broker-pid", required_argument, NULL, 4 },
		{ "broker-name", required_argument, NULL, 5 },
		{ "no-ack-probe", no_argument, NULL, 6 },
		{ "ack-probe-stride", required_argument, NULL, 9 },
		{ "keepalive", required_argument, NULL, 7 },
		{ "free-port", no_argument, NULL, 8 },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct rlimit rl = { 1024, 1024 };
	struct timeval tv;
	int ch;

	while ((ch = getopt_long(argc, argv, "n:m:s:g:c:t:p:h", lo, NULL)) != -1) {
		switch (ch) {
		case 'n': opt.n = atoi(optarg); break;
		case 'm': opt.m = atoi(optarg); break;
		case 's': opt.size = atoi(optarg); break;
		case 'g': opt.gap_ms = atol(optarg); break;
		case 'c': opt.conc = atoi(optarg); break;
		case 't': opt.timeout_s = atoi(optarg); break;
		case 'p': opt.port = atoi(optarg); break;
		case 'T': opt.tls = 1; break;
		case 'P': opt.tls = 0; break;
		case 1: opt.ca = optarg; break;
		case 2: opt.cert = optarg; break;
		case 3: opt.key = optarg; break;
		case 4: opt.broker_pid = atoi(optarg); break;
		case 5: opt.broker_name = optarg; break;
		case 6: opt.ack_probe = 0; break;
		case 9: opt.probe_stride = atoi(optarg); break;
		case 7: opt.keepalive = atoi(optarg); break;
		case 8: printf("%d\n", free_port()); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (opt.n < 1 || opt.m < 1 || opt.m > 65535 || opt.size < MIN_PAYLOAD ||
	    opt.size > 64 * 1024 * 1024 || opt.conc < 1 || opt.timeout_s < 1 || opt.gap_ms < 0 ||
	    opt.port < 1 || opt.port > 65535 || opt.keepalive < 0 || opt.keepalive > 65535) {
		usage(stderr);
		return 1;
	}
	if (opt.probe_stride < 0) {
		usage(stderr);
		return 1;
	}
	if (opt.probe_stride == 0) /* auto: about 100 probing subscribers */
		opt.probe_stride = opt.n > 100 ? (opt.n + 99) / 100 : 1;
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* file descriptors: raise the soft limit to the hard one */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
		if ((rlim_t)opt.n + 32 > rl.rlim_cur)
			fprintf(stderr,
				"mqtt_fanout_bench: WARNING: N=%d needs about %d file descriptors but RLIMIT_NOFILE is %llu; "
				"set-ups beyond that fail with EMFILE\n",
				opt.n, opt.n + 32, (unsigned long long)rl.rlim_cur);
	}

	memset(&broker_sa, 0, sizeof broker_sa);
	broker_sa.sin_family = AF_INET;
	broker_sa.sin_port = htons((uint16_t)opt.port);
	broker_sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* only ever 127.0.0.1 */

	subs = calloc((size_t)opt.n, sizeof *subs);
	msgs = calloc((size_t)opt.m, sizeof *msgs);
	lats = calloc((size_t)opt.n * (size_t)opt.m, sizeof *lats);
	setup_ns = calloc((size_t)opt.n, sizeof *setup_ns);
	klats = calloc((size_t)opt.n * (size_t)opt.m, sizeof *klats);
	rx_ts_cap = (int)(rl.rlim_cur > 1048576 ? 1048576 : rl.rlim_cur) + 1;
	rx_ts_by_fd = calloc((size_t)rx_ts_cap, sizeof *rx_ts_by_fd);
	pub_len = 5 + 2 + strlen(TOPIC) + 2 + (size_t)opt.size;
	pub_buf = calloc(1, pub_len);
	if (!subs || !msgs || !lats || !setup_ns || !pub_buf || !klats || !rx_ts_by_fd)
		die("out of memory for N=%d m=%d", opt.n, opt.m);
	/* fixed header size depends on the remaining length: compute it once */
	pub_len = mq_publish_hdr(pub_buf, TOPIC, 1, (size_t)opt.size) + (size_t)opt.size;
	memset(pub_buf + pub_len - (size_t)opt.size, 'x', (size_t)opt.size);

	if (opt.tls) {
		ssl_ctx = make_ctx();
		tsbio_init();
	}
	calibrate_clocks();
	if (!(base = event_base_new()))
		die("event_base_new failed");
	pub_timer = evtimer_new(base, pub_timer_cb, NULL);
	global_timer = evtimer_new(base, global_timer_cb, NULL);
	tv.tv_sec = opt.timeout_s;
	tv.tv_usec = 0;
	evtimer_add(global_timer, &tv);

	printf("mqtt_fanout_bench: %s on 127.0.0.1:%d, N=%d, m=%d, payload %d B, %s, %d set-ups in flight, gap %ld ms, ack probe %s (every %d-th subscriber), timeout %d s, libevent %s (%s), %s\n",
	       opt.broker_name, opt.port, opt.n, opt.m, opt.size, opt.tls ? "mutual TLS 1.3" : "plain TCP",
	       opt.conc, opt.gap_ms, opt.ack_probe ? "on" : "off", opt.probe_stride, opt.timeout_s, event_get_version(),
	       event_base_get_method(base), OpenSSL_version(OPENSSL_VERSION));

	t_prog0 = now_ns();
	rss_idle = proc_status_kb(opt.broker_pid, "VmRSS");
	pubc.idx = -1;
	pubc.fd = -1;
	phase = PH_PUBCONNECT;
	if (conn_start(&pubc) < 0)
		die("publisher cannot connect");

	event_base_dispatch(base);
	if (phase != PH_CLOSING && phase != PH_DONE)
		finish(); /* should not happen; make sure there is a report */
	phase = PH_DONE;

	/* tidy up (keeps valgrind quiet for small runs) */
	for (int i = 0; i < next_idx; i++)
		conn_free(&subs[i]);
	conn_free(&pubc);
	if (close_timer)
		event_free(close_timer);
	event_free(pub_timer);
	event_free(global_timer);
	event_base_free(base);
	if (ssl_ctx)
		SSL_CTX_free(ssl_ctx);
	free(subs);
	free(msgs);
	free(lats);
	free(setup_ns);
	free(klats);
	free(rx_ts_by_fd);
	free(pub_buf);
	if (tsbio_meth)
		BIO_meth_free(tsbio_meth);
	if (timed_out)
		return 2;
	return (n_failed || n_lost) ? 3 : 0;
}
