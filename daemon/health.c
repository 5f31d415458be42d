/* SPDX-License-Identifier: ISC */
/*
 * health: a small local HTTP listener (libevent's evhttp) serving
 * /metrics in the Prometheus text format (metrics.c's counters, then the
 * gauges, read here at scrape time) and /healthz (200 only while wuzhad
 * listens for agents, Redis is up and the listener is not paused for
 * lack of file descriptors).  It sits at the top, beside main.c, and only
 * calls down.  The listener is optional ("metrics: listen: off") and a
 * failure to bind it only warns: alerts must flow even when the
 * monitoring cannot.  An accept that fails (out of descriptors) pauses
 * this listener for HEALTH_RETRY_MS rather than let it spin.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "clock.h"
#include "log.h"
#include "wuzhad.h"

#define HEALTH_TIMEOUT_S	10	/* a scrape must be read within */
#define HEALTH_MAX_HEADERS	8192	/* bytes of request headers */
#define HEALTH_RETRY_MS		250	/* accept failed: retry after */
#define HEALTH_LOG_MS		1000	/* at most one failure line per */

static struct evhttp		*http;
static struct evconnlistener	*lev;
static struct event		*retry_ev;
static const struct timeval	 retry_tv = { 0, HEALTH_RETRY_MS * 1000 };
static uint64_t			 failed;	/* failures not yet logged */
static uint64_t			 logged_ms;	/* last failure line */

/* A label value as Prometheus's text format wants it escaped. */
static void
health_label(struct evbuffer *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			evbuffer_add_printf(b, "\\%c", *s);
		else if (*s == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, s, 1);
	}
}

/* Which primary is followed, fail-overs seen, and what WAIT did. */
static void
health_store_gauges(struct evbuffer *b)
{
	struct store_stats	ss;

	store_stats(&ss);
	evbuffer_add_printf(b,
	    "# HELP wuzha_redis_primary the Redis primary followed now\n"
	    "# TYPE wuzha_redis_primary gauge\n");
	if (ss.primary != NULL) {
		evbuffer_add_printf(b, "wuzha_redis_primary{addr=\"");
		health_label(b, ss.primary);
		evbuffer_add_printf(b, "\"} 1\n");
	}
	evbuffer_add_printf(b,
	    "# HELP wuzha_redis_failovers_total promotions of a replica seen\n"
	    "# TYPE wuzha_redis_failovers_total counter\n"
	    "wuzha_redis_failovers_total %llu\n"
	    "# HELP wuzha_redis_waits_total WAITs sent to the primary\n"
	    "# TYPE wuzha_redis_waits_total counter\n"
	    "wuzha_redis_waits_total %llu\n"
	    "# HELP wuzha_redis_wait_short_total WAITs answered with too few "
	    "replicas\n"
	    "# TYPE wuzha_redis_wait_short_total counter\n"
	    "wuzha_redis_wait_short_total %llu\n",
	    (unsigned long long)ss.failovers, (unsigned long long)ss.waits,
	    (unsigned long long)ss.wait_short);
}

/* The gauges, after the counters. */
static void
health_gauges(struct evbuffer *b)
{
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
	/* Names are written as CNs are: nothing to escape in a label. */
	evbuffer_add_printf(b,
	    "# HELP wuzha_instance_info this wuzhad: its name (--name, name:, "
	    "else host name and pid) "
	    "and whether it shares its port (listen_reuse_port)\n"
	    "# TYPE wuzha_instance_info gauge\n"
	    "wuzha_instance_info{name=\"%s\",reuse_port=\"%s\"} 1\n",
	    wz->name, wz->conf->listen_reuse_port ? "true" : "false");
	health_store_gauges(b);
}

static void
metrics_cb(struct evhttp_request *req, void *arg)
{
	struct evbuffer	*b;

	if ((b = evbuffer_new()) == NULL)
		fatal("metrics_cb");
	metrics_write(b);
	health_gauges(b);
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

static void
health_retry_cb(evutil_socket_t fd, short ev, void *arg)
{
	if (lev != NULL)
		evconnlistener_enable(lev);
}

/*
 * accept failed with an error libevent does not retry by itself (EMFILE,
 * ENFILE...): the connection stays queued, so pause and try again later.
 * One line per HEALTH_LOG_MS at most, with the count since the last.
 */
static void
health_error_cb(struct evconnlistener *l, void *arg)
{
	uint64_t	now = mono_ms();
	int		err = EVUTIL_SOCKET_ERROR();

	evconnlistener_disable(l);
	failed++;
	if (logged_ms == 0 || now - logged_ms >= HEALTH_LOG_MS) {
		log_warnx("metrics: accept: %s (%llu failed accept%s since the "
		    "last report); paused, retrying every %d ms",
		    strerror(err), (unsigned long long)failed,
		    failed == 1 ? "" : "s", HEALTH_RETRY_MS);
		logged_ms = now;
		failed = 0;
	}
	evtimer_add(retry_ev, &retry_tv);
}

int
health_start(const char *listen)
{
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
	if ((retry_ev = evtimer_new(wz->base, health_retry_cb, NULL)) == NULL)
		fatalx("metrics: evtimer_new");
	if ((http = evhttp_new(wz->base)) == NULL ||
	    evhttp_bind_listener(http, lev) == NULL)
		fatalx("metrics: cannot set up the HTTP server");
	/* evhttp sets the accept callback, not this one. */
	evconnlistener_set_error_cb(lev, health_error_cb);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_timeout(http, HEALTH_TIMEOUT_S);
	evhttp_set_max_headers_size(http, HEALTH_MAX_HEADERS);
	evhttp_set_max_body_size(http, 0);
	evhttp_set_cb(http, "/metrics", metrics_cb, NULL);
	evhttp_set_cb(http, "/healthz", healthz_cb, NULL);
	addr_bound(evconnlistener_get_fd(lev), bound, sizeof(bound));
	log_info("metrics on http://%s/metrics, health on /healthz", bound);
	return 0;
}

void
health_stop(void)
{
	if (http != NULL)
		evhttp_free(http);	/* and the listener bound to it */
	http = NULL;
	lev = NULL;
	if (retry_ev != NULL)
		event_free(retry_ev);
	retry_ev = NULL;
}
