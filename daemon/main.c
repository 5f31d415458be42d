/* SPDX-License-Identifier: ISC */
/*
 * wuzhad: the alert-broadcast daemon.  main() only wires the modules
 * together: configuration, TLS, Redis, the tree and alert caches, the
 * listener, signals and the once-a-second tick.  It listens only once
 * Redis is reachable and the tree and live alerts are loaded.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/ssl.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "wuzhad.h"

#define SHUTDOWN_GRACE_MS	5000	/* time to finish Redis writes at exit */
#define EXPIRE_EVERY_MS		5000
#define START_RETRY_MS		5000	/* pause between start-up attempts */

static struct event	*tick_ev, *sigterm_ev, *sigint_ev, *sighup_ev;
static struct event	*watchdog_ev;	/* only under a systemd watchdog */

static void	start_chain(void);
static void	reconcile_run(void);
static int	reconcile_pending;	/* a fail-over to reconcile */
static uint64_t		 last_tree_poll, last_expire, shutdown_at;
/* --name, --metrics-listen: over the file's, at start and every reload. */
static const char	*opt_name, *opt_metrics;
static char		 log_name[sizeof("wuzhad@") + CONF_ID_MAX];

#define WUZHAD_USAGE \
	"usage: wuzhad [-d] [-n | -t | --check-config] [-N name]\n" \
	"              [-m metrics-listen] -c wuzhad.yaml\n"

static void
usage(void)
{
	fprintf(stderr, WUZHAD_USAGE);
	exit(2);
}

/* --help: on stdout, and a success. */
static void
help(void)
{
	printf(WUZHAD_USAGE "\n"
	    "  -c, --config FILE    the configuration (see wuzhad.yaml(5))\n"
	    "  -d, --debug          log at debug level, whatever the file says\n"
	    "  -N, --name NAME      this instance's name, over the file's name:\n"
	    "                       in logs and /metrics\n"
	    "  -m, --metrics-listen HOST:PORT | off\n"
	    "                       over the file's metrics.listen (one per\n"
	    "                       instance when several share a port)\n"
	    "  -n, -t, --check-config\n"
	    "                       check the configuration and its TLS files, "
	    "then exit\n"
	    "  -h, --help           this text\n"
	    "  --version            the version\n\n"
	    "Signals: SIGHUP reloads, SIGTERM and SIGINT stop.  See wuzhad(8).\n");
	exit(0);
}

/*
 * The configuration at path with the command line's overrides applied;
 * NULL with the reason in err.
 */
static struct conf_wuzhad *
conf_load(const char *path, char *err, size_t errlen)
{
	struct conf_wuzhad	*c;

	if ((c = conf_wuzhad_load(path, err, errlen)) == NULL)
		return NULL;
	if (conf_wuzhad_override(c, opt_name, opt_metrics, err, errlen) == -1) {
		conf_wuzhad_free(c);
		return NULL;
	}
	return c;
}

/*
 * Log lines of a daemon given a name (name:, --name) other than "wuzhad"
 * carry it; the default one (host name and pid) would only be noise.
 */
static void
log_name_set(const char *name)
{
	if (name == NULL || strcmp(name, "wuzhad") == 0)
		snprintf(log_name, sizeof(log_name), "wuzhad");
	else
		snprintf(log_name, sizeof(log_name), "wuzhad@%s", name);
}

/* Two names that may be unset (NULL). */
static int
name_same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void
notify_status(void)
{
	const char	*why = store_health();
	size_t		 agents = conn_agents_online();
	size_t		 conns = conn_count(), live = alerts_live();

	sd_notifyf(0, "STATUS=%zu agent%s online, %zu connection%s, %zu live "
	    "alert%s, %s", agents, agents == 1 ? "" : "s", conns,
	    conns == 1 ? "" : "s", live, live == 1 ? "" : "s",
	    why != NULL ? why : "redis up");
}

/*
 * systemd's watchdog: WATCHDOG=1 at half the interval the unit asked for,
 * from the event loop itself, so a loop stuck in a callback is restarted.
 */
static void
watchdog_cb(evutil_socket_t fd, short ev, void *arg)
{
	sd_notify(0, "WATCHDOG=1");
}

static void
watchdog_start(void)
{
	struct timeval	half;
	uint64_t	usec;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return;
	usec /= 2;
	half.tv_sec = (time_t)(usec / 1000000);
	half.tv_usec = (suseconds_t)(usec % 1000000);
	if ((watchdog_ev = event_new(wz->base, -1, EV_PERSIST, watchdog_cb,
	    NULL)) == NULL || event_add(watchdog_ev, &half) == -1)
		fatalx("watchdog: cannot set its timer");
	sd_notify(0, "WATCHDOG=1");
	log_info("systemd watchdog: WATCHDOG=1 every %llu ms",
	    (unsigned long long)(usec / 1000));
}

static void
tick_cb(evutil_socket_t fd, short ev, void *arg)
{
	uint64_t	now = mono_ms();

	conn_sweep();
	store_sweep();
	if (wz->stopping) {
		if ((store_inflight() == 0 && ack_outstanding() == 0 &&
		    conn_count() == 0) ||
		    now > shutdown_at) {
			if (store_inflight() > 0)
				log_warnx("stopping with %zu Redis replies "
				    "outstanding", store_inflight());
			event_base_loopexit(wz->base, NULL);
		}
		return;
	}
	if (!wz->listening) {
		start_chain();
		return;
	}
	if (reconcile_pending)
		reconcile_run();
	if (now - last_tree_poll >= wz->conf->timeouts.tree_refresh_ms) {
		last_tree_poll = now;
		tree_refresh();
	}
	remind_tick();
	presence_tick();
	auditlog_tick();
	if (now - last_expire >= EXPIRE_EVERY_MS) {
		last_expire = now;
		alerts_expire();
	}
	notify_status();
}

/*
 * Start-up is a chain: Redis up -> tree loaded -> live alerts loaded ->
 * listening.  A failed step is retried from the tick, never fatal: Redis
 * may come and go while the daemon starts.
 */
static int		 starting;
static uint64_t		 start_retry_at;

static void
start_failed(const char *what)
{
	log_warnx("start-up: %s; trying again in %d s", what,
	    START_RETRY_MS / 1000);
	starting = 0;
	start_retry_at = mono_ms() + START_RETRY_MS;
}

static void
started_audit_cb(int ok)
{
	if (ok != 0) {
		start_failed("cannot compare audit.file with Redis");
		return;
	}
	starting = 0;
	if (listener_start() == -1)
		fatalx("cannot listen on %s", wz->conf->listen);
	sd_notify(0, "READY=1");
	notify_status();
	schedule_start();
}

static void
started_schedule_cb(int ok)
{
	if (ok != 0) {
		start_failed("cannot load the held alerts from Redis");
		return;
	}
	auditlog_check(started_audit_cb);
}

static void
started_alerts_cb(int ok)
{
	if (ok != 0) {
		start_failed("cannot load the live alerts from Redis");
		return;
	}
	schedule_load(started_schedule_cb);
}

static void
started_tree_cb(int ok)
{
	if (ok != 0) {
		start_failed("cannot load the tree from Redis");
		return;
	}
	if (wz->tree->nnodes == 0)
		log_warnx("the tree in Redis is empty: nobody can connect until "
		    "one is imported (wuzhactl tree import)");
	alerts_load(started_alerts_cb);
}

static void
start_chain(void)
{
	if (starting || wz->listening || wz->stopping || !store_up() ||
	    mono_ms() < start_retry_at)
		return;
	starting = 1;
	tree_load(started_tree_cb);
}

/*
 * After a fail-over, the daemon is made what the new primary says: every
 * connection is closed with BYE 501 (agents come back, get what is
 * pending from Redis and send their unconfirmed acks again), the live
 * and the held alerts are read again, replacing the caches.  No new
 * connection is taken meanwhile and PUBLISH is refused (501).  A step
 * that fails is tried again when Redis is next up.
 */
static int		 reconcile_busy;

static void
reconcile_failed(const char *what)
{
	log_warnx("fail-over: %s; trying again", what);
	reconcile_busy = 0;
}

static void
reconcile_held_cb(int ok)
{
	if (ok != 0) {
		reconcile_failed("cannot load the held alerts");
		return;
	}
	reconcile_busy = reconcile_pending = 0;
	schedule_start();
	listener_pause(0);
	store_failover_done();
	tree_refresh();
	log_notice("fail-over: %zu live alert%s, %zu held, taking "
	    "connections again", alerts_live(), alerts_live() == 1 ? "" : "s",
	    schedule_count());
}

static void
reconcile_alerts_cb(int ok)
{
	if (ok != 0) {
		reconcile_failed("cannot load the live alerts");
		return;
	}
	schedule_load(reconcile_held_cb);
}

static void
reconcile_run(void)
{
	if (reconcile_busy || !store_up())
		return;
	reconcile_busy = 1;
	alerts_reload(reconcile_alerts_cb);
}

/* store.c saw a promoted replica (the hook, instead of store_ready). */
static void
store_failover(void)
{
	/*
	 * The feed goes on from the new primary's stream ends, asked before
	 * the reload on the same connection: what came before is in the
	 * reload, what comes after is in the feed.
	 */
	feed_start();
	feed_reset();
	presence_rebuild();
	if (!wz->listening) {
		/* Start-up loads everything from the new primary anyway. */
		store_failover_done();
		start_chain();
		return;
	}
	log_notice("fail-over: closing every connection, then reloading the "
	    "alerts from the new primary");
	reconcile_pending = 1;
	listener_pause(1);
	conn_close_all(PROTO_E_STORE, "redis fail-over: connect again");
	reconcile_run();
}

/* Redis (re)connected and its scripts are loaded. */
static void
store_ready(int first)
{
	feed_start();
	presence_rebuild();
	if (!wz->listening)
		start_chain();
	else if (reconcile_pending)
		reconcile_run();
	else {
		tree_refresh();
		alerts_catch_up();
	}
}

static void
shutdown_cb(evutil_socket_t sig, short ev, void *arg)
{
	if (wz->stopping) {
		log_warnx("second signal: stopping now");
		event_base_loopexit(wz->base, NULL);
		return;
	}
	log_notice("signal %d: stopping", (int)sig);
	sd_notify(0, "STOPPING=1");
	wz->stopping = 1;
	shutdown_at = mono_ms() + SHUTDOWN_GRACE_MS;
	listener_stop();
	conn_close_all(PROTO_E_SHUTDOWN, "server stopping");
	presence_stop();
}

/*
 * The daemon's name among those sharing the Redis: as configured, else
 * the host name (what fits, in the characters a name may have) and pid.
 */
static void
daemon_name(void)
{
	char	host[256], *p;
	size_t	len;

	if (wz->conf->name != NULL) {
		strlcpy(wz->name, wz->conf->name, sizeof(wz->name));
		return;
	}
	if (gethostname(host, sizeof(host)) == -1)
		strlcpy(host, "wuzhad", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	for (p = host; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("._-", *p) == NULL)
			*p = '-';
	len = strlen(host);
	if (len > CONF_ID_MAX - 12)
		host[CONF_ID_MAX - 12] = '\0';
	snprintf(wz->name, sizeof(wz->name), "%s-%ld", host, (long)getpid());
}

/* Settings a reload cannot change: they keep their running values. */
static void
reload_keep(struct conf_wuzhad *old, struct conf_wuzhad *new)
{
	char	*listen;
	size_t	 i;
	int	 redis_changed;

	if (strcmp(old->listen, new->listen) != 0)
		log_warnx("reload: listen %s -> %s needs a restart; still on %s",
		    old->listen, new->listen, old->listen);
	if (!name_same(old->name, new->name))
		log_warnx("reload: name %s -> %s needs a restart; still %s",
		    old->name != NULL ? old->name : "(unset)",
		    new->name != NULL ? new->name : "(unset)", wz->name);
	if (old->listen_reuse_port != new->listen_reuse_port)
		log_warnx("reload: listen_reuse_port %s -> %s needs a restart",
		    old->listen_reuse_port ? "true" : "false",
		    new->listen_reuse_port ? "true" : "false");
	new->listen_reuse_port = old->listen_reuse_port;
	if (strcmp(old->metrics.listen, new->metrics.listen) != 0)
		log_warnx("reload: metrics listen %s -> %s needs a restart; still "
		    "on %s", old->metrics.listen, new->metrics.listen,
		    old->metrics.listen);
	redis_changed = (old->redis.socket == NULL) !=
	    (new->redis.socket == NULL) ||
	    (old->redis.socket != NULL &&
	    strcmp(old->redis.socket, new->redis.socket) != 0) ||
	    (old->redis.host != NULL && new->redis.host != NULL &&
	    strcmp(old->redis.host, new->redis.host) != 0) ||
	    old->redis.port != new->redis.port ||
	    strcmp(old->redis.prefix, new->redis.prefix) != 0 ||
	    strcmp(old->redis.master_name, new->redis.master_name) != 0 ||
	    old->redis.nsentinels != new->redis.nsentinels;
	for (i = 0; !redis_changed && i < old->redis.nsentinels; i++)
		redis_changed = strcmp(old->redis.sentinels[i],
		    new->redis.sentinels[i]) != 0;
	if (redis_changed)
		log_warnx("reload: the redis section changed; that needs a "
		    "restart, the running connection is kept");
	if (!name_same(old->audit.file, new->audit.file))
		log_warnx("reload: audit.file %s -> %s needs a restart; still "
		    "%s", old->audit.file != NULL ? old->audit.file : "(unset)",
		    new->audit.file != NULL ? new->audit.file : "(unset)",
		    old->audit.file != NULL ? old->audit.file : "(unset)");
	listen = old->audit.file;
	old->audit.file = new->audit.file;
	new->audit.file = listen;
	/* Swap, so that the running values stay and the old conf frees new's. */
	listen = old->listen;
	old->listen = new->listen;
	new->listen = listen;
	listen = old->metrics.listen;
	old->metrics.listen = new->metrics.listen;
	new->metrics.listen = listen;
	listen = old->name;
	old->name = new->name;
	new->name = listen;
	if (redis_changed) {
		struct conf_wuzhad	tmp;

		tmp.redis = old->redis;
		old->redis = new->redis;
		new->redis = tmp.redis;
	}
}

/*
 * SIGHUP: read wuzhad.yaml again, with its certificates, CA and CRL, then
 * the tree.  All or nothing: a file that does not load, or TLS files that
 * do not fit, leave the running configuration as it was.  Connections
 * stay, except those whose certificate the new CA or CRL no longer
 * accepts; new connections use the new TLS context.
 */
static void
reload(void)
{
	struct conf_wuzhad	*conf, *old;
	SSL_CTX			*ctx;
	char			 err[CONF_ERR_MAX];
	int			 level;

	log_notice("SIGHUP: reloading %s", wz->conf_path);
	if ((conf = conf_load(wz->conf_path, err, sizeof(err))) == NULL) {
		log_warnx("reload refused, keeping the running configuration: "
		    "%s", err);
		return;
	}
	if ((ctx = tls_server_ctx(conf)) == NULL) {
		log_warnx("reload refused, keeping the running configuration: "
		    "TLS files do not load (see above)");
		conf_wuzhad_free(conf);
		return;
	}
	old = wz->conf;
	reload_keep(old, conf);
	wz->conf = conf;
	conf_wuzhad_free(old);
	/* Live SSL objects hold their own reference to the old context. */
	SSL_CTX_free(wz->ssl_ctx);
	wz->ssl_ctx = ctx;
	wz->ca_store = SSL_CTX_get_cert_store(ctx);
	if (!wz->debug && (level = log_level_parse(conf->log_level)) != -1)
		log_setlevel(level);
	/*
	 * Even the same CA and CRL may refuse now what they accepted: a
	 * certificate expires.  So every connection is checked, in slices.
	 */
	conn_recheck_certs();
	log_notice("reload: configuration, certificates%s applied",
	    conf->tls.crl != NULL ? " and CRL" : "");
	if (wz->listening)
		tree_load(NULL);
}

static void
sighup_cb(evutil_socket_t sig, short ev, void *arg)
{
	if (wz->stopping)
		return;
	/* systemd shows the unit reloading; ready again either way, since a
	 * refused reload keeps the running configuration. */
	sd_notify(0, "RELOADING=1");
	reload();
	if (wz->listening)
		sd_notify(0, "READY=1");
}

int
main(int argc, char *argv[])
{
	struct timeval	 one = { 1, 0 };
	char		 err[CONF_ERR_MAX];
	int		 ch, debug = 0, check = 0, level;

	static const struct option longopts[] = {
		{ "config",		required_argument,	NULL, 'c' },
		{ "debug",		no_argument,		NULL, 'd' },
		{ "name",		required_argument,	NULL, 'N' },
		{ "metrics-listen",	required_argument,	NULL, 'm' },
		{ "check-config",	no_argument,		NULL, 'n' },
		{ "help",		no_argument,		NULL, 'h' },
		{ "version",		no_argument,		NULL, 'V' },
		{ NULL,			0,			NULL, 0 },
	};

	while ((ch = getopt_long(argc, argv, "c:dhm:N:nt", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			wz->conf_path = optarg;
			break;
		case 'd':
			debug = wz->debug = 1;
			break;
		case 'N':
			opt_name = optarg;
			break;
		case 'm':
			opt_metrics = optarg;
			break;
		case 'n':
		case 't':
			check = 1;
			break;
		case 'h':
			help();
			break;
		case 'V':
			printf("wuzhad %s\n", WUZHA_VERSION);
			exit(0);
		default:
			usage();
		}
	}
	if (wz->conf_path == NULL || optind != argc)
		usage();
	log_init("wuzhad", LOG_L_INFO, LOG_PRIO_ALWAYS);
	if ((wz->conf = conf_load(wz->conf_path, err, sizeof(err))) == NULL) {
		if (check) {
			fprintf(stderr, "%s\n%s: configuration refused\n", err,
			    wz->conf_path);
			return 1;
		}
		fatalx("%s", err);
	}
	if ((level = log_level_parse(wz->conf->log_level)) == -1)
		level = LOG_L_INFO;
	log_setlevel(debug ? LOG_L_DEBUG : level);
	log_name_set(wz->conf->name);
	log_setprog(log_name);
	if ((wz->ssl_ctx = tls_server_ctx(wz->conf)) == NULL) {
		if (check) {
			fprintf(stderr, "%s: configuration refused: its TLS "
			    "files do not load (see above)\n", wz->conf_path);
			return 1;
		}
		fatalx("TLS setup failed");
	}
	wz->ca_store = SSL_CTX_get_cert_store(wz->ssl_ctx);
	if (check) {
		printf("%s: configuration OK\n", wz->conf_path);
		SSL_CTX_free(wz->ssl_ctx);
		conf_wuzhad_free(wz->conf);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	srandom((unsigned)(now_ms() ^ (uint64_t)getpid()));
	wz->started_ms = now_ms();
	daemon_name();
	if ((wz->base = event_base_new()) == NULL)
		fatalx("event_base_new");
	log_info("starting as %s (libevent %s, %s, backend %s)", wz->name,
	    event_get_version(), OpenSSL_version(OPENSSL_VERSION),
	    event_base_get_method(wz->base));

	wz->tree = tree_new();
	conn_set_ops(&dispatch_ops);
	tree_set_swap_hook(conn_rebind);
	alerts_init();
	alerts_set_gone_hook(watch_alert_gone);
	store_set_seq_hook(alerts_max_seq);
	store_set_failover_hook(store_failover);
	publish_init();
	schedule_init();
	ack_init();
	auditlog_open();
	tick_ev = event_new(wz->base, -1, EV_PERSIST, tick_cb, NULL);
	sigterm_ev = evsignal_new(wz->base, SIGTERM, shutdown_cb, NULL);
	sigint_ev = evsignal_new(wz->base, SIGINT, shutdown_cb, NULL);
	sighup_ev = evsignal_new(wz->base, SIGHUP, sighup_cb, NULL);
	if (tick_ev == NULL || sigterm_ev == NULL || sigint_ev == NULL ||
	    sighup_ev == NULL)
		fatalx("event_new");
	event_add(tick_ev, &one);
	event_add(sigterm_ev, NULL);
	event_add(sigint_ev, NULL);
	event_add(sighup_ev, NULL);
	last_tree_poll = last_expire = mono_ms();
	health_start(wz->conf->metrics.listen);
	watchdog_start();
	store_init(store_ready);

	event_base_dispatch(wz->base);

	listener_stop();
	health_stop();
	conn_free_all();
	store_shutdown();	/* refreshes in flight end their watches */
	watch_free_all();
	ack_free();
	feed_free();
	presence_free();
	schedule_free();
	auditlog_close();
	publish_free();
	alerts_free();
	tree_load_free();
	tree_free(wz->tree);
	event_free(tick_ev);
	event_free(sigterm_ev);
	event_free(sigint_ev);
	event_free(sighup_ev);
	if (watchdog_ev != NULL)
		event_free(watchdog_ev);
	event_base_free(wz->base);
	SSL_CTX_free(wz->ssl_ctx);
	conf_wuzhad_free(wz->conf);
	log_info("stopped");
	return 0;
}
