/* SPDX-License-Identifier: ISC */
/*
 * metrics: what wuzhad counts, served over a small local HTTP listener
 * (libevent's evhttp) as /metrics in the Prometheus text format, and
 * /healthz (200 only while wuzhad listens for agents, Redis is up and
 * the listener is not paused for lack of file descriptors).
 * Counters are plain integers bumped by the modules (metrics_count and
 * friends); gauges are read at scrape time.  The listener is optional
 * ("metrics: listen: off") and a failure to bind it only warns: alerts
 * must flow even when the monitoring cannot.
 */
#include <sys/socket.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "log.h"
#include "wuzhad.h"

#define METRICS_TIMEOUT_S	10	/* a scrape must be read within */
#define METRICS_MAX_HEADERS	8192	/* bytes of request headers */
#define ERR_CODE_MAX		599	/* error codes are 100..5xx */

static const char *const metric_names[METRIC_COUNT] = {
	[M_CONN_ACCEPTED] = "wuzha_connections_accepted_total",
	[M_CONN_REFUSED] = "wuzha_connections_refused_total",
	[M_HANDSHAKE_FULL] = "wuzha_handshakes_total{kind=\"full\"}",
	[M_HANDSHAKE_RESUMED] = "wuzha_handshakes_total{kind=\"resumed\"}",
	[M_HANDSHAKE_FAILED_CERT] =
	    "wuzha_handshake_failures_total{reason=\"certificate\"}",
	[M_HANDSHAKE_FAILED_PROTO] =
	    "wuzha_handshake_failures_total{reason=\"protocol\"}",
	[M_HANDSHAKE_FAILED_CLOSED] =
	    "wuzha_handshake_failures_total{reason=\"closed\"}",
	[M_HANDSHAKE_FAILED_TIMEOUT] =
	    "wuzha_handshake_failures_total{reason=\"timeout\"}",
	[M_PUBLISHED] = "wuzha_alerts_published_total",
	[M_DELIVERED] = "wuzha_alert_frames_sent_total",
	[M_ACK_DELIVERED] = "wuzha_acks_stored_total{state=\"delivered\"}",
	[M_ACK_READ] = "wuzha_acks_stored_total{state=\"read\"}",
	[M_ACK_RELAYED] = "wuzha_acks_stored_total{state=\"relayed\"}",
	[M_DRILL_ACK_DELIVERED] =
	    "wuzha_drill_acks_stored_total{state=\"delivered\"}",
	[M_DRILL_ACK_READ] = "wuzha_drill_acks_stored_total{state=\"read\"}",
	[M_DRILL_ACK_RELAYED] =
	    "wuzha_drill_acks_stored_total{state=\"relayed\"}",
	[M_REMINDERS] = "wuzha_reminders_sent_total",
	[M_ESCALATIONS] = "wuzha_escalations_sent_total",
	[M_SLOW_PEERS] = "wuzha_slow_peers_disconnected_total",
	[M_ACCEPT_NOFD] = "wuzha_accept_out_of_descriptors_total",
};

/* Families, each with its help text, in the order they are served. */
static const struct {
	const char	*name;
	const char	*type;
	const char	*help;
	int		 first, last;	/* metric_names[first..last] */
} families[] = {
	{ "wuzha_connections_accepted_total", "counter",
	    "TCP connections accepted", M_CONN_ACCEPTED, M_CONN_ACCEPTED },
	{ "wuzha_connections_refused_total", "counter",
	    "TCP connections refused by a connection limit", M_CONN_REFUSED,
	    M_CONN_REFUSED },
	{ "wuzha_handshakes_total", "counter",
	    "TLS handshakes completed", M_HANDSHAKE_FULL,
	    M_HANDSHAKE_RESUMED },
	{ "wuzha_handshake_failures_total", "counter",
	    "TLS handshakes that failed, by reason",
	    M_HANDSHAKE_FAILED_CERT, M_HANDSHAKE_FAILED_TIMEOUT },
	{ "wuzha_alerts_published_total", "counter",
	    "alerts accepted and stored", M_PUBLISHED, M_PUBLISHED },
	{ "wuzha_alert_frames_sent_total", "counter",
	    "ALERT frames queued to agents (fan-out, catch-up, reminders)",
	    M_DELIVERED, M_DELIVERED },
	{ "wuzha_acks_stored_total", "counter",
	    "acknowledgements of real alerts stored in Redis, by state",
	    M_ACK_DELIVERED, M_ACK_RELAYED },
	{ "wuzha_drill_acks_stored_total", "counter",
	    "acknowledgements of drills (exercise, test) stored, by state",
	    M_DRILL_ACK_DELIVERED, M_DRILL_ACK_RELAYED },
	{ "wuzha_reminders_sent_total", "counter",
	    "reminders pushed to agents", M_REMINDERS, M_REMINDERS },
	{ "wuzha_escalations_sent_total", "counter",
	    "escalations sent to observers", M_ESCALATIONS, M_ESCALATIONS },
	{ "wuzha_slow_peers_disconnected_total", "counter",
	    "peers cut off for queuing more than limits.max_output",
	    M_SLOW_PEERS, M_SLOW_PEERS },
	{ "wuzha_accept_out_of_descriptors_total", "counter",
	    "accepts (and retries) that failed for lack of file descriptors",
	    M_ACCEPT_NOFD, M_ACCEPT_NOFD },
};

/* Redis round trips: upper bounds of the buckets, in microseconds. */
static const uint64_t rtt_bounds[] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
	250000, 500000, 1000000, 2500000, 5000000,
};
#define RTT_BUCKETS	(sizeof(rtt_bounds) / sizeof(rtt_bounds[0]))

static uint64_t		 counters[METRIC_COUNT];
static uint64_t		 errors[ERR_CODE_MAX + 1];	/* ERROR frames by code */
static uint64_t		 rtt_count[RTT_BUCKETS + 1];	/* last: +Inf */
static uint64_t		 rtt_sum_us, rtt_n;
static struct evhttp	*http;

void
metrics_count(enum metric m, uint64_t n)
{
	counters[m] += n;
}

void
metrics_error(int code)
{
	if (code >= 0 && code <= ERR_CODE_MAX)
		errors[code]++;
}

void
metrics_redis_rtt(uint64_t us)
{
	size_t	i;

	for (i = 0; i < RTT_BUCKETS && us > rtt_bounds[i]; i++)
		;
	rtt_count[i]++;
	rtt_sum_us += us;
	rtt_n++;
}

/* The whole exposition, into buf. */
static void
metrics_write(struct evbuffer *b)
{
	const char	*name;
	uint64_t	 cum = 0;
	size_t		 i;
	int		 f, m, code;

	for (f = 0; f < (int)(sizeof(families) / sizeof(families[0])); f++) {
		evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n",
		    families[f].name, families[f].help, families[f].name,
		    families[f].type);
		for (m = families[f].first; m <= families[f].last; m++)
			evbuffer_add_printf(b, "%s %" PRIu64 "\n",
			    metric_names[m], counters[m]);
	}

	evbuffer_add_printf(b, "# HELP wuzha_errors_sent_total ERROR frames "
	    "sent to peers, by code (PROTOCOL.md)\n"
	    "# TYPE wuzha_errors_sent_total counter\n");
	for (code = 0; code <= ERR_CODE_MAX; code++) {
		if (errors[code] == 0)
			continue;
		name = proto_err_name(code);
		evbuffer_add_printf(b, "wuzha_errors_sent_total{code=\"%d\","
		    "name=\"%s\"} %" PRIu64 "\n", code, name, errors[code]);
	}

	evbuffer_add_printf(b, "# HELP wuzha_redis_round_trip_seconds time "
	    "from sending a Redis command to its reply\n"
	    "# TYPE wuzha_redis_round_trip_seconds histogram\n");
	for (i = 0; i < RTT_BUCKETS; i++) {
		cum += rtt_count[i];
		evbuffer_add_printf(b, "wuzha_redis_round_trip_seconds_bucket"
		    "{le=\"%g\"} %" PRIu64 "\n", (double)rtt_bounds[i] / 1e6,
		    cum);
	}
	cum += rtt_count[RTT_BUCKETS];
	evbuffer_add_printf(b, "wuzha_redis_round_trip_seconds_bucket"
	    "{le=\"+Inf\"} %" PRIu64 "\n", cum);
	evbuffer_add_printf(b, "wuzha_redis_round_trip_seconds_sum %.6f\n"
	    "wuzha_redis_round_trip_seconds_count %" PRIu64 "\n",
	    (double)rtt_sum_us / 1e6, rtt_n);

	evbuffer_add_printf(b,
	    "# HELP wuzha_redis_up 1 while Redis is connected and ready\n"
	    "# TYPE wuzha_redis_up gauge\nwuzha_redis_up %d\n"
	    "# HELP wuzha_connections open connections, any state\n"
	    "# TYPE wuzha_connections gauge\nwuzha_connections %zu\n"
	    "# HELP wuzha_agents_online agents past HELLO\n"
	    "# TYPE wuzha_agents_online gauge\nwuzha_agents_online %zu\n"
	    "# HELP wuzha_alerts_live alerts not expired or cancelled\n"
	    "# TYPE wuzha_alerts_live gauge\nwuzha_alerts_live %zu\n"
	    "# HELP wuzha_output_queued_bytes bytes queued to peers, not yet "
	    "written\n"
	    "# TYPE wuzha_output_queued_bytes gauge\n"
	    "wuzha_output_queued_bytes %zu\n"
	    "# HELP wuzha_listener_paused 1 while the listener waits for file "
	    "descriptors\n"
	    "# TYPE wuzha_listener_paused gauge\nwuzha_listener_paused %d\n",
	    store_up() ? 1 : 0, conn_count(), conn_agents_online(),
	    alerts_live(), conn_output_total(), listener_starved());
}

static void
metrics_cb(struct evhttp_request *req, void *arg)
{
	struct evbuffer	*b;

	if ((b = evbuffer_new()) == NULL)
		fatal("metrics_cb");
	metrics_write(b);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, HTTP_OK, "OK", b);
	evbuffer_free(b);
}

static void
healthz_cb(struct evhttp_request *req, void *arg)
{
	struct evbuffer	*b;
	const char	*why = NULL;

	if (wz->stopping)
		why = "stopping";
	else if (!wz->listening)
		why = "not listening yet";
	else
		why = store_health();
	if (why == NULL && listener_starved())
		why = "listener paused: out of file descriptors";
	if ((b = evbuffer_new()) == NULL)
		fatal("healthz_cb");
	evbuffer_add_printf(b, "%s\n", why != NULL ? why : "ok");
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; charset=utf-8");
	evhttp_send_reply(req, why != NULL ? 503 : HTTP_OK,
	    why != NULL ? "Service Unavailable" : "OK", b);
	evbuffer_free(b);
}

int
metrics_start(const char *listen)
{
	struct evconnlistener	*lev;
	struct sockaddr_storage	 ss;
	int			 len;
	char			 bound[INET6_ADDRSTRLEN + 8];

	if (listen == NULL || strcmp(listen, "off") == 0)
		return 0;
	if (addr_parse(listen, &ss, &len) == -1) {
		log_warnx("metrics: bad address %s", listen);
		return -1;
	}
	/* Disabled until evhttp takes it over and sets its callback. */
	if ((lev = evconnlistener_new_bind(wz->base, NULL, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    16, (struct sockaddr *)&ss, len)) == NULL) {
		log_warn("metrics: cannot listen on %s; /metrics and /healthz "
		    "are not served", listen);
		return -1;
	}
	if ((http = evhttp_new(wz->base)) == NULL ||
	    evhttp_bind_listener(http, lev) == NULL)
		fatalx("metrics: cannot set up the HTTP server");
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_timeout(http, METRICS_TIMEOUT_S);
	evhttp_set_max_headers_size(http, METRICS_MAX_HEADERS);
	evhttp_set_max_body_size(http, 0);
	evhttp_set_cb(http, "/metrics", metrics_cb, NULL);
	evhttp_set_cb(http, "/healthz", healthz_cb, NULL);
	addr_bound(evconnlistener_get_fd(lev), bound, sizeof(bound));
	log_info("metrics on http://%s/metrics, health on /healthz", bound);
	return 0;
}

void
metrics_stop(void)
{
	if (http != NULL)
		evhttp_free(http);
	http = NULL;
}
