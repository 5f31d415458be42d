/* SPDX-License-Identifier: ISC */
/*
 * metrics: what wuzhad counts.  Counters are plain integers bumped by the
 * modules (metrics_count and friends) and written out in the Prometheus
 * text format by metrics_write; health.c serves them as /metrics, with
 * the gauges it reads at scrape time.  A leaf: this file calls nothing
 * else in the daemon.
 */
#include <inttypes.h>
#include <stdio.h>

#include <event2/buffer.h>

#include "wuzhad.h"

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
	[M_ACK_SHOWN] = "wuzha_acks_stored_total{state=\"shown\"}",
	[M_DRILL_ACK_DELIVERED] =
	    "wuzha_drill_acks_stored_total{state=\"delivered\"}",
	[M_DRILL_ACK_READ] = "wuzha_drill_acks_stored_total{state=\"read\"}",
	[M_DRILL_ACK_RELAYED] =
	    "wuzha_drill_acks_stored_total{state=\"relayed\"}",
	[M_DRILL_ACK_SHOWN] = "wuzha_drill_acks_stored_total{state=\"shown\"}",
	[M_REMINDERS] = "wuzha_reminders_sent_total",
	[M_ESCALATIONS] = "wuzha_escalations_sent_total",
	[M_SLOW_PEERS] = "wuzha_slow_peers_disconnected_total",
	[M_ACCEPT_NOFD] = "wuzha_accept_out_of_descriptors_total",
	[M_FED] = "wuzha_alerts_from_other_servers_total",
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
	    M_ACK_DELIVERED, M_ACK_SHOWN },
	{ "wuzha_drill_acks_stored_total", "counter",
	    "acknowledgements of drills (exercise, test) stored, by state",
	    M_DRILL_ACK_DELIVERED, M_DRILL_ACK_SHOWN },
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
	{ "wuzha_alerts_from_other_servers_total", "counter",
	    "alerts that went live through another wuzhad on the same Redis, "
	    "then pushed by this one", M_FED, M_FED },
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

/* The counters' exposition, into b; the gauges are health.c's. */
void
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
}
