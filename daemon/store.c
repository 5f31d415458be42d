/* SPDX-License-Identifier: ISC */
/*
 * store: the daemon's one asynchronous Redis connection (hiredis 0.14 with
 * its libevent adapter).  hiredis has no connect or command timeouts and
 * no reconnect, so they live here: a connect that does not finish in
 * connect_timeout, or a command unanswered after command_timeout, drops
 * the connection (every waiting callback then gets a NULL reply) and a
 * new one is tried with jittered exponential backoff.  Nothing here ever
 * blocks the event loop.
 */
#include <sys/queue.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/adapters/libevent.h>

#include "log.h"
#include "wuzhad.h"

/* One command waiting for its reply, in the order sent. */
struct store_req {
	TAILQ_ENTRY(store_req)	 entry;
	store_cb		*cb;
	void			*arg;
	uint64_t		 sent;		/* mono_ms */
	uint64_t		 sent_us;	/* mono_us, for the round-trip metric */
};

enum store_state {
	STORE_S_DOWN,		/* waiting for the backoff timer */
	STORE_S_CONNECTING,	/* TCP/unix connect in progress */
	STORE_S_LOADING,	/* connected, SCRIPT LOAD in flight */
	STORE_S_UP,		/* serving commands */
};

static struct {
	redisAsyncContext		*ac;
	enum store_state		 state;
	char				 sha[STORE_LUA_COUNT][41];
	int				 loaded;	/* scripts loaded so far */
	uint64_t			 since;		/* mono_ms of the last state change */
	uint32_t			 backoff;	/* ms, next wait */
	int				 ever_up;
	int				 stopping;
	struct event			*retry;		/* backoff timer */
	struct event			*drop;		/* deferred drop */
	TAILQ_HEAD(, store_req)		 reqs;
	size_t				 inflight;
	void				(*on_ready)(int first);
} st;

static const char *store_state_names[] = { "down", "connecting", "loading", "up" };

static void	store_connect(void);

static void
store_set_state(enum store_state s)
{
	if (st.state != s)
		log_debug("redis: %s -> %s", store_state_names[st.state],
		    store_state_names[s]);
	st.state = s;
	st.since = mono_ms();
}

int
store_up(void)
{
	return st.state == STORE_S_UP;
}

size_t
store_inflight(void)
{
	return st.inflight;
}

const char *
store_key(const char *fmt, ...)
{
	static char	 bufs[8][320];
	static int	 next;
	char		*b = bufs[next++ % 8];
	size_t		 n;
	va_list		 ap;

	n = strlcpy(b, wz->conf->redis.prefix, sizeof(bufs[0]));
	va_start(ap, fmt);
	vsnprintf(b + n, sizeof(bufs[0]) - n, fmt, ap);
	va_end(ap);
	return b;
}

/* Wait, then try again; the wait doubles up to reconnect_max, with jitter. */
static void
store_schedule_retry(void)
{
	struct timeval	tv;
	uint32_t	ms, lo = wz->conf->redis.reconnect_min_ms;
	uint32_t	hi = wz->conf->redis.reconnect_max_ms;

	store_set_state(STORE_S_DOWN);
	if (st.stopping)
		return;
	if (st.backoff < lo)
		st.backoff = lo;
	/* Somewhere between half and all of the current step. */
	ms = st.backoff / 2 + (uint32_t)(random() % (st.backoff / 2 + 1));
	st.backoff = st.backoff > hi / 2 ? hi : st.backoff * 2;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(st.retry, &tv);
	log_info("redis: next connection attempt in %u ms", ms);
}

static void
store_retry_cb(evutil_socket_t fd, short ev, void *arg)
{
	store_connect();
}

/* Called by hiredis for every reply, in order; NULL when dropped. */
static void
store_reply_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	struct store_req	*req = priv;
	redisReply		*r = reply;

	TAILQ_REMOVE(&st.reqs, req, entry);
	st.inflight--;
	if (r != NULL)
		metrics_redis_rtt(mono_us() - req->sent_us);
	if (r != NULL && r->type == REDIS_REPLY_ERROR &&
	    strncmp(r->str, "NOSCRIPT", 8) == 0) {
		/* Someone flushed the scripts: reconnect, which reloads them. */
		log_warnx("redis: scripts missing (%s); reconnecting", r->str);
		event_active(st.drop, 0, 0);
	}
	req->cb(r, req->arg);
	free(req);
}

static int
store_send(int argc, const char **argv, const size_t *lens, store_cb *cb,
    void *arg)
{
	struct store_req	*req;
	size_t			 deflens[16], *l = NULL;
	int			 i;

	if (st.ac == NULL || (st.state != STORE_S_UP && st.state != STORE_S_LOADING))
		return -1;
	if (lens == NULL) {
		/* Plain strings: hiredis takes strlen when lens is NULL. */
		if (argc > 16)
			fatalx("store_send: %d args without lengths", argc);
		for (i = 0; i < argc; i++)
			deflens[i] = strlen(argv[i]);
		l = deflens;
	}
	if ((req = calloc(1, sizeof(*req))) == NULL)
		fatal("store_send");
	req->cb = cb;
	req->arg = arg;
	req->sent = mono_ms();
	req->sent_us = mono_us();
	if (redisAsyncCommandArgv(st.ac, store_reply_cb, req, argc, argv,
	    lens != NULL ? lens : l) != REDIS_OK) {
		free(req);
		return -1;
	}
	TAILQ_INSERT_TAIL(&st.reqs, req, entry);
	st.inflight++;
	return 0;
}

int
store_cmd(int argc, const char **argv, const size_t *lens, store_cb *cb,
    void *arg)
{
	if (st.state != STORE_S_UP)
		return -1;
	return store_send(argc, argv, lens, cb, arg);
}

int
store_eval(enum store_script s, int argc, const char **argv,
    const size_t *lens, store_cb *cb, void *arg)
{
	const char	**av;
	size_t		 *al;
	int		  i, rv;

	if (st.state != STORE_S_UP)
		return -1;
	if ((av = calloc(argc + 3, sizeof(*av))) == NULL ||
	    (al = calloc(argc + 3, sizeof(*al))) == NULL)
		fatal("store_eval");
	av[0] = "EVALSHA";
	av[1] = st.sha[s];
	av[2] = "0";
	for (i = 0; i < 3; i++)
		al[i] = strlen(av[i]);
	for (i = 0; i < argc; i++) {
		av[i + 3] = argv[i];
		al[i + 3] = lens != NULL ? lens[i] : strlen(argv[i]);
	}
	rv = store_send(argc + 3, av, al, cb, arg);
	free(av);
	free(al);
	return rv;
}

static void
store_loaded_cb(redisReply *r, void *arg)
{
	int	s = (int)(intptr_t)arg, first;

	if (st.state != STORE_S_LOADING)
		return;
	if (r == NULL || r->type != REDIS_REPLY_STRING || r->len != 40) {
		log_warnx("redis: loading script %s failed: %s", lua_names[s],
		    r != NULL && r->type == REDIS_REPLY_ERROR ? r->str : "no reply");
		event_active(st.drop, 0, 0);
		return;
	}
	memcpy(st.sha[s], r->str, 40);
	st.sha[s][40] = '\0';
	if (++st.loaded < STORE_LUA_COUNT)
		return;
	first = !st.ever_up;
	st.ever_up = 1;
	st.backoff = 0;
	store_set_state(STORE_S_UP);
	log_info("redis: up");
	if (st.on_ready != NULL)
		st.on_ready(first);
}

static void
store_connected_cb(const redisAsyncContext *ac, int status)
{
	const char	*argv[3];
	int		 i;

	if (status != REDIS_OK) {
		/* hiredis frees the context after this callback. */
		log_warnx("redis: connect failed: %s", ac->errstr);
		st.ac = NULL;
		store_schedule_retry();
		return;
	}
	log_info("redis: connected");
	store_set_state(STORE_S_LOADING);
	st.loaded = 0;
	argv[0] = "SCRIPT";
	argv[1] = "LOAD";
	for (i = 0; i < STORE_LUA_COUNT; i++) {
		argv[2] = lua_scripts[i];
		if (store_send(3, argv, NULL, store_loaded_cb,
		    (void *)(intptr_t)i) == -1) {
			event_active(st.drop, 0, 0);
			return;
		}
	}
}

static void
store_disconnected_cb(const redisAsyncContext *ac, int status)
{
	/* hiredis frees the context after this callback. */
	if (status != REDIS_OK)
		log_warnx("redis: connection lost: %s",
		    ac->errstr[0] != '\0' ? ac->errstr : "closed by server");
	else
		log_info("redis: disconnected");
	st.ac = NULL;
	store_schedule_retry();
}

static void
store_connect(void)
{
	const struct conf_wuzhad	*c = wz->conf;
	redisAsyncContext		*ac;

	store_set_state(STORE_S_CONNECTING);
	if (c->redis.socket != NULL)
		ac = redisAsyncConnectUnix(c->redis.socket);
	else
		ac = redisAsyncConnect(c->redis.host, c->redis.port);
	if (ac == NULL || ac->err) {
		log_warnx("redis: cannot connect to %s: %s",
		    c->redis.socket ? c->redis.socket : c->redis.host,
		    ac != NULL ? ac->errstr : "out of memory");
		if (ac != NULL)
			redisAsyncFree(ac);
		store_schedule_retry();
		return;
	}
	st.ac = ac;
	redisLibeventAttach(ac, wz->base);
	redisAsyncSetConnectCallback(ac, store_connected_cb);
	redisAsyncSetDisconnectCallback(ac, store_disconnected_cb);
}

/*
 * Drop the connection from outside hiredis's callbacks: every waiting
 * callback gets NULL, then a reconnect is scheduled.
 */
static void
store_drop(const char *why)
{
	redisAsyncContext	*ac = st.ac;
	int			 was_connected;

	if (ac == NULL)
		return;
	log_warnx("redis: dropping the connection: %s", why);
	was_connected = st.state != STORE_S_CONNECTING;
	st.ac = NULL;
	/* Callbacks run by the free below must see the link as down. */
	store_set_state(STORE_S_DOWN);
	/* Freeing a connected context runs the disconnect callback. */
	if (was_connected)
		ac->onDisconnect = NULL;
	redisAsyncFree(ac);
	store_schedule_retry();
}

static void
store_drop_cb(evutil_socket_t fd, short ev, void *arg)
{
	store_drop("protocol trouble");
}

void
store_sweep(void)
{
	struct store_req	*req;
	uint64_t		 now = mono_ms();
	char			 why[128];

	if (st.state == STORE_S_CONNECTING &&
	    now - st.since > wz->conf->redis.connect_timeout_ms) {
		snprintf(why, sizeof(why), "connect timed out after %u ms",
		    wz->conf->redis.connect_timeout_ms);
		store_drop(why);
		return;
	}
	if ((req = TAILQ_FIRST(&st.reqs)) != NULL &&
	    now - req->sent > wz->conf->redis.command_timeout_ms) {
		snprintf(why, sizeof(why), "no reply for %llu ms",
		    (unsigned long long)(now - req->sent));
		store_drop(why);
	}
}

void
store_init(void (*on_ready)(int))
{
	TAILQ_INIT(&st.reqs);
	st.on_ready = on_ready;
	st.retry = evtimer_new(wz->base, store_retry_cb, NULL);
	st.drop = event_new(wz->base, -1, 0, store_drop_cb, NULL);
	if (st.retry == NULL || st.drop == NULL)
		fatalx("store_init: event_new");
	store_connect();
}

void
store_shutdown(void)
{
	st.stopping = 1;
	if (st.ac != NULL) {
		redisAsyncContext *ac = st.ac;

		st.ac = NULL;
		ac->onDisconnect = NULL;
		redisAsyncFree(ac);
	}
	event_free(st.retry);
	event_free(st.drop);
	st.retry = st.drop = NULL;
	store_set_state(STORE_S_DOWN);
}
