/* SPDX-License-Identifier: ISC */
/*
 * store: the daemon's one asynchronous Redis connection (hiredis 0.14 with
 * its libevent adapter).  hiredis has no connect or command timeouts and
 * no reconnect, so they live here: a connect that does not finish in
 * connect_timeout, or a command unanswered after command_timeout, drops
 * the connection (every waiting callback then gets a NULL reply) and a
 * new one is tried with jittered exponential backoff.  Nothing here ever
 * blocks the event loop.
 *
 * A connection that is up may still be unhealthy, and store_health says
 * why: Redis refusing writes (MISCONF after a failed save, OOM at
 * maxmemory), replies overdue by STORE_OVERDUE_MS (Redis hung, well before
 * command_timeout drops the link), or Redis having lost its data.  A
 * probe every STORE_PROBE_MS writes a key and reads the epoch and seq.
 * The epoch is a random value set with SET NX on the first connection
 * and remembered; Redis without it, with another one, or with a seq below
 * the highest seen, has lost data.  Then P:lost records "EPOCH SEQ" and
 * publishing is refused until the record is gone (wuzhactl redis rearm
 * raises seq past SEQ, puts the epoch back and deletes it) or Redis is
 * restored with the same epoch and a seq at least SEQ.
 *
 * With redis.sentinels, every (re)connect first asks the Sentinels in
 * turn, each its own async connection bounded by connect_timeout, where
 * the primary of master_name is (hiredis 0.14 knows nothing of Sentinel),
 * then checks that the answer says ROLE master and reads its replication
 * ids.  A primary whose master_replid2 is the id we followed before is a
 * replica promoted by a fail-over: seq may have gone back by the writes
 * it never received, which is no data loss; the fail-over hook then has
 * the daemon reconcile with Redis (publishing refused meanwhile).
 *
 * With redis.wait_replicas, store_wait issues WAIT after writes on this
 * same connection so that callers answer only once replicas have them.
 * At most one WAIT is in flight; writers who ask meanwhile share the
 * next one.
 */
#include <sys/queue.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/rand.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/adapters/libevent.h>

#include "clock.h"
#include "log.h"
#include "wuzhad.h"

#define STORE_PROBE_MS		500	/* a health probe every */
#define STORE_OVERDUE_MS	1000	/* a reply this late: Redis is hung */
#define STORE_EPOCH_LEN		32	/* hex digits of the epoch */
#define STORE_WHY_MAX		192	/* a health reason, NUL included */
#define STORE_REPLID_LEN	40	/* hex digits of a replication id */
#define STORE_ADDR_MAX		320	/* "host:port" of the primary */

/* What is wrong with a connected Redis, worst first. */
enum store_trouble {
	STORE_T_NONE,
	STORE_T_WRITES,		/* refuses writes (MISCONF, OOM, READONLY) */
	STORE_T_OVERDUE,	/* a reply is overdue */
	STORE_T_LOST,		/* lost its data */
	STORE_T_DOWN,		/* not connected */
};

/* One command waiting for its reply, in the order sent. */
struct store_req {
	TAILQ_ENTRY(store_req)	 entry;
	store_cb		*cb;
	void			*arg;
	uint64_t		 sent;		/* mono_ms */
	uint64_t		 sent_us;	/* mono_us, for the round-trip metric */
	uint32_t		 slack;		/* ms more it may take: behind a WAIT */
};

/* A writer waiting for WAIT to say its writes are on the replicas. */
struct store_waiter {
	TAILQ_ENTRY(store_waiter) entry;
	store_wait_cb		*cb;
	void			*arg;
};
TAILQ_HEAD(store_waiters, store_waiter);

enum store_state {
	STORE_S_DOWN,		/* waiting for the backoff timer */
	STORE_S_RESOLVING,	/* asking a Sentinel where the primary is */
	STORE_S_CONNECTING,	/* TCP/unix connect in progress */
	STORE_S_CHECKING,	/* connected, ROLE and INFO in flight */
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
	struct event			*probe;		/* STORE_PROBE_MS timer */
	TAILQ_HEAD(, store_req)		 reqs;
	size_t				 inflight;
	void				(*on_ready)(int first);
	uint64_t			(*seq_hook)(void); /* highest seq cached */
	char				 epoch[STORE_EPOCH_LEN + 1]; /* ours */
	uint64_t			 seq_seen;	/* highest seq read */
	uint64_t			 probed;	/* mono_ms of the last probe */
	int				 probing;	/* replies of it to come */
	int				 lost;		/* data lost: refuse publish */
	int				 lost_noted;	/* P:lost was seen */
	char				 refused[STORE_WHY_MAX]; /* write error */
	char				 lost_why[STORE_WHY_MAX];
	enum store_trouble		 reported;	/* last logged */
	char				 why[STORE_WHY_MAX + 32]; /* store_health */

	/* Sentinel: where the primary is. */
	redisAsyncContext		*sac;		/* to the Sentinel asked */
	size_t				 sidx;		/* which one */
	int				 sfound;	/* it answered */
	struct event			*stimer;	/* its connect_timeout */
	struct event			*sstep;		/* deferred: next step */
	char				 phost[256];	/* the primary it named */
	int				 pport;
	char				 primary[STORE_ADDR_MAX]; /* followed now */
	char				 replid[STORE_REPLID_LEN + 1]; /* its id */
	int				 failover;	/* this link follows one */
	int				 reconciling;	/* hook running */
	void				(*failover_hook)(void);
	uint64_t			 failovers;

	/* WAIT: one in flight, its writers; those who come meanwhile. */
	int				 waiting;
	struct store_waiters		 wcur, wnext;
	uint64_t			 waits, wait_short;
} st;

static const char *store_state_names[] = { "down", "resolving", "connecting",
    "checking", "loading", "up" };

static void	store_connect(void);
static void	store_connect_to(const char *host, int port);
static void	store_probe(int first);
static void	store_wait_fail(struct store_waiters *);

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
	if (r != NULL && r->type == REDIS_REPLY_ERROR &&
	    (strncmp(r->str, "MISCONF", 7) == 0 ||
	    strncmp(r->str, "OOM", 3) == 0 ||
	    strncmp(r->str, "READONLY", 8) == 0))
		snprintf(st.refused, sizeof(st.refused), "%s", r->str);
	if (r != NULL && r->type == REDIS_REPLY_ERROR &&
	    strncmp(r->str, "READONLY", 8) == 0 &&
	    wz->conf->redis.nsentinels > 0) {
		/* The primary was demoted under us: find the new one. */
		log_warnx("redis: %s is a replica now (%s); asking the "
		    "Sentinels again", st.primary, r->str);
		event_active(st.drop, 0, 0);
	}
	if (req->cb != NULL)
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

	if (st.ac == NULL || (st.state != STORE_S_UP &&
	    st.state != STORE_S_LOADING && st.state != STORE_S_CHECKING))
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
	/* Behind a WAIT (or one itself), a reply may take that much more. */
	if (st.waiting || (argc > 0 && strcmp(argv[0], "WAIT") == 0))
		req->slack = wz->conf->redis.wait_timeout_ms;
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
	int	s = (int)(intptr_t)arg;

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
	/* Up once the first probe has checked the epoch. */
	store_probe(1);
}

/* The link is up and its data checked: serve commands. */
static void
store_came_up(void)
{
	int	first;

	first = !st.ever_up;
	st.ever_up = 1;
	st.backoff = 0;
	store_set_state(STORE_S_UP);
	log_info("redis: up");
	if (st.failover && !first && st.failover_hook != NULL) {
		/* Reconcile instead of a catch-up; publishing waits for it. */
		st.failover = 0;
		st.reconciling = 1;
		st.failover_hook();
		return;
	}
	st.failover = 0;
	if (st.on_ready != NULL)
		st.on_ready(first);
}

/* Load the scripts; the first probe then takes the link up. */
static void
store_load_scripts(void)
{
	const char	*argv[3];
	int		 i;

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

/* The value of "key:" in an INFO reply, into out (at most len - 1). */
static void
store_info_field(const char *info, const char *key, char *out, size_t len)
{
	const char	*p = info;
	size_t		 klen = strlen(key), n;

	out[0] = '\0';
	while ((p = strstr(p, key)) != NULL) {
		if ((p == info || p[-1] == '\n') && p[klen] == ':') {
			p += klen + 1;
			n = strcspn(p, "\r\n");
			if (n >= len)
				n = len - 1;
			memcpy(out, p, n);
			out[n] = '\0';
			return;
		}
		p += klen;
	}
}

/*
 * INFO replication of the primary: a master_replid other than the one
 * followed before, with master_replid2 equal to it, is a promotion.
 */
static void
store_info_cb(redisReply *r, void *arg)
{
	char	id[STORE_REPLID_LEN + 1], id2[STORE_REPLID_LEN + 1];

	if (st.state != STORE_S_CHECKING)
		return;
	if (r == NULL || r->type != REDIS_REPLY_STRING) {
		log_warnx("redis: INFO replication failed on %s: %s",
		    st.primary, r != NULL && r->type == REDIS_REPLY_ERROR ?
		    r->str : "no reply");
		event_active(st.drop, 0, 0);
		return;
	}
	store_info_field(r->str, "master_replid", id, sizeof(id));
	store_info_field(r->str, "master_replid2", id2, sizeof(id2));
	if (st.replid[0] != '\0' && id[0] != '\0' &&
	    strcmp(id, st.replid) != 0) {
		if (strcmp(id2, st.replid) == 0) {
			st.failover = 1;
			st.failovers++;
			log_notice("redis: fail-over: %s was promoted (replication "
			    "id %s, before %s)", st.primary, id, st.replid);
		} else
			log_warnx("redis: %s has replication id %s, not one that "
			    "follows %s: a restart or another data set",
			    st.primary, id, st.replid);
	}
	if (id[0] != '\0')
		memcpy(st.replid, id, sizeof(st.replid));
	store_load_scripts();
}

/* ROLE of the primary the Sentinels named: it must still be one. */
static void
store_role_cb(redisReply *r, void *arg)
{
	const char	*argv[2];

	if (st.state != STORE_S_CHECKING)
		return;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(r->element[0]->str, "master") != 0) {
		log_warnx("redis: %s is not the primary (ROLE %s); asking the "
		    "Sentinels again", st.primary, r != NULL &&
		    r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
		    r->element[0]->type == REDIS_REPLY_STRING ?
		    r->element[0]->str : r != NULL &&
		    r->type == REDIS_REPLY_ERROR ? r->str : "unknown");
		event_active(st.drop, 0, 0);
		return;
	}
	argv[0] = "INFO";
	argv[1] = "replication";
	if (store_send(2, argv, NULL, store_info_cb, NULL) == -1)
		event_active(st.drop, 0, 0);
}

static void
store_connected_cb(const redisAsyncContext *ac, int status)
{
	const char	*argv[1];

	if (status != REDIS_OK) {
		/* hiredis frees the context after this callback. */
		log_warnx("redis: connect failed: %s", ac->errstr);
		st.ac = NULL;
		store_schedule_retry();
		return;
	}
	log_info("redis: connected to %s", st.primary);
	if (wz->conf->redis.nsentinels == 0) {
		store_load_scripts();
		return;
	}
	store_set_state(STORE_S_CHECKING);
	argv[0] = "ROLE";
	if (store_send(1, argv, NULL, store_role_cb, NULL) == -1)
		event_active(st.drop, 0, 0);
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

/* Connect to the primary: host and port, or the socket if host is NULL. */
static void
store_connect_to(const char *host, int port)
{
	const struct conf_wuzhad	*c = wz->conf;
	redisAsyncContext		*ac;

	if (host == NULL)
		snprintf(st.primary, sizeof(st.primary), "%s", c->redis.socket);
	else if (strchr(host, ':') != NULL)
		snprintf(st.primary, sizeof(st.primary), "[%s]:%d", host, port);
	else
		snprintf(st.primary, sizeof(st.primary), "%s:%d", host, port);
	store_set_state(STORE_S_CONNECTING);
	if (host == NULL)
		ac = redisAsyncConnectUnix(c->redis.socket);
	else
		ac = redisAsyncConnect(host, port);
	if (ac == NULL || ac->err) {
		log_warnx("redis: cannot connect to %s: %s", st.primary,
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

/* --- Sentinel ------------------------------------------------------------ */

static void	store_sentinel_ask(void);

/* Free the link to the Sentinel asked, if any (never in its callbacks). */
static void
store_sentinel_close(void)
{
	redisAsyncContext	*ac = st.sac;

	evtimer_del(st.stimer);
	if (ac == NULL)
		return;
	st.sac = NULL;
	ac->onDisconnect = NULL;
	redisAsyncFree(ac);
}

/* Deferred: the Sentinel answered (connect there) or not (ask the next). */
static void
store_sentinel_step_cb(evutil_socket_t fd, short ev, void *arg)
{
	if (st.state != STORE_S_RESOLVING)
		return;
	store_sentinel_close();
	if (st.sfound) {
		store_connect_to(st.phost, st.pport);
		return;
	}
	st.sidx++;
	store_sentinel_ask();
}

static void
store_sentinel_timer_cb(evutil_socket_t fd, short ev, void *arg)
{
	log_warnx("redis: Sentinel %s: no answer in %u ms",
	    wz->conf->redis.sentinels[st.sidx],
	    wz->conf->redis.connect_timeout_ms);
	event_active(st.sstep, 0, 0);
}

static void
store_sentinel_connected_cb(const redisAsyncContext *ac, int status)
{
	if (status == REDIS_OK)
		return;
	/* hiredis frees the context after this callback. */
	if (ac != st.sac)
		return;
	log_warnx("redis: Sentinel %s: connect failed: %s",
	    wz->conf->redis.sentinels[st.sidx], ac->errstr);
	st.sac = NULL;
	event_active(st.sstep, 0, 0);
}

static void
store_sentinel_disconnected_cb(const redisAsyncContext *ac, int status)
{
	/* Only the link of the Sentinel being asked steps on. */
	if (ac != st.sac)
		return;
	st.sac = NULL;
	event_active(st.sstep, 0, 0);
}

/* SENTINEL get-master-addr-by-name: {host, port}, or nil if unknown. */
static void
store_sentinel_reply_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	redisReply	*r = reply;
	const char	*name = wz->conf->redis.sentinels[st.sidx];
	long		 port;

	if (ac != st.sac || r == NULL)
		return;		/* closing: the disconnect callback steps */
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	    r->element[0]->type == REDIS_REPLY_STRING &&
	    r->element[1]->type == REDIS_REPLY_STRING &&
	    r->element[0]->len > 0 &&
	    r->element[0]->len < sizeof(st.phost) &&
	    (port = strtol(r->element[1]->str, NULL, 10)) > 0 &&
	    port < 65536) {
		memcpy(st.phost, r->element[0]->str, r->element[0]->len + 1);
		st.pport = (int)port;
		st.sfound = 1;
		log_info("redis: Sentinel %s: the primary of %s is %s:%d", name,
		    wz->conf->redis.master_name, st.phost, st.pport);
	} else
		log_warnx("redis: Sentinel %s does not name a primary for %s: "
		    "%s", name, wz->conf->redis.master_name,
		    r->type == REDIS_REPLY_ERROR ? r->str : "no address");
	event_active(st.sstep, 0, 0);
}

/* Ask Sentinel st.sidx where the primary is; past the last, back off. */
static void
store_sentinel_ask(void)
{
	const struct conf_wuzhad	*c = wz->conf;
	struct timeval			 tv;
	redisAsyncContext		*ac;
	char				 host[STORE_ADDR_MAX];
	const char			*s, *colon;
	size_t				 hlen;

	st.sfound = 0;
	if (st.sidx >= c->redis.nsentinels) {
		log_warnx("redis: no Sentinel named the primary of %s",
		    c->redis.master_name);
		store_schedule_retry();
		return;
	}
	store_set_state(STORE_S_RESOLVING);
	/* Checked by conf: "host:port" or "[v6]:port". */
	s = c->redis.sentinels[st.sidx];
	colon = strrchr(s, ':');
	if (s[0] == '[') {
		hlen = (size_t)(colon - s) - 2;
		memcpy(host, s + 1, hlen);
	} else {
		hlen = (size_t)(colon - s);
		memcpy(host, s, hlen);
	}
	host[hlen] = '\0';
	ac = redisAsyncConnect(host, atoi(colon + 1));
	if (ac == NULL || ac->err) {
		log_warnx("redis: Sentinel %s: %s", s, ac != NULL ?
		    ac->errstr : "out of memory");
		if (ac != NULL)
			redisAsyncFree(ac);
		event_active(st.sstep, 0, 0);
		return;
	}
	st.sac = ac;
	redisLibeventAttach(ac, wz->base);
	redisAsyncSetConnectCallback(ac, store_sentinel_connected_cb);
	redisAsyncSetDisconnectCallback(ac, store_sentinel_disconnected_cb);
	/* Queued until the connect is done. */
	if (redisAsyncCommand(ac, store_sentinel_reply_cb, NULL,
	    "SENTINEL get-master-addr-by-name %s", c->redis.master_name) !=
	    REDIS_OK) {
		event_active(st.sstep, 0, 0);
		return;
	}
	tv.tv_sec = c->redis.connect_timeout_ms / 1000;
	tv.tv_usec = (c->redis.connect_timeout_ms % 1000) * 1000;
	evtimer_add(st.stimer, &tv);
}

/* A new attempt: through the Sentinels, or straight to the one Redis. */
static void
store_connect(void)
{
	const struct conf_wuzhad	*c = wz->conf;

	if (c->redis.nsentinels > 0) {
		st.sidx = 0;
		store_sentinel_ask();
	} else
		store_connect_to(c->redis.socket != NULL ? NULL :
		    c->redis.host, c->redis.port);
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

/* --- health ------------------------------------------------------------ */

/* What the replies of one probe said, gathered until its last one. */
static struct {
	int		 first;		/* the check before going up */
	int		 has_epoch;
	char		 epoch[STORE_EPOCH_LEN + 1];
	uint64_t	 seq;
	int		 has_lost;
	char		 lost[STORE_WHY_MAX];
} pr;

enum store_probe_part { PROBE_EPOCH_NX, PROBE_WRITE, PROBE_EPOCH, PROBE_SEQ,
    PROBE_LOST };

/* Write P:lost = "EPOCH SEQ" unless there is one: what rearm needs. */
static void
store_lost_record(void)
{
	const char	*argv[4];
	char		 v[STORE_EPOCH_LEN + 32];
	uint64_t	 seq = st.seq_seen, cached;

	if (st.seq_hook != NULL && (cached = st.seq_hook()) > seq)
		seq = cached;
	snprintf(v, sizeof(v), "%s %llu", st.epoch, (unsigned long long)seq);
	argv[0] = "SET";
	argv[1] = store_key("lost");
	argv[2] = v;
	argv[3] = "NX";
	store_send(4, argv, NULL, NULL, NULL);
}

/* Redis lost its data: refuse publishing until an operator acts. */
static void
store_lost_set(const char *fmt, ...)
{
	char	b[STORE_WHY_MAX - 32];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	snprintf(st.lost_why, sizeof(st.lost_why), "redis lost its data: %s",
	    b);
	st.lost = 1;
	st.lost_noted = pr.has_lost;
	if (!pr.has_lost)
		store_lost_record();
}

/* Compare what the probe read with what we know. */
static void
store_probe_judge(void)
{
	if (st.epoch[0] == '\0' && pr.has_epoch)
		memcpy(st.epoch, pr.epoch, sizeof(st.epoch));
	if (!st.lost) {
		if (!pr.has_epoch)
			store_lost_set("its epoch key is gone (restarted "
			    "empty or flushed)");
		else if (strcmp(pr.epoch, st.epoch) != 0)
			store_lost_set("epoch %s is not ours (%s)", pr.epoch,
			    st.epoch);
		else if (pr.seq < st.seq_seen && st.failover && pr.first) {
			/* The writes the promoted replica never got. */
			log_notice("redis: fail-over: seq went back from %llu to "
			    "%llu, writes never confirmed; reconciling",
			    (unsigned long long)st.seq_seen,
			    (unsigned long long)pr.seq);
			st.seq_seen = pr.seq;
		} else if (pr.seq < st.seq_seen)
			store_lost_set("seq went back from %llu to %llu",
			    (unsigned long long)st.seq_seen,
			    (unsigned long long)pr.seq);
		else if (pr.has_lost)
			store_lost_set("recorded in %s: %s", store_key("lost"),
			    pr.lost);
		else
			st.seq_seen = pr.seq;
		return;
	}
	if (pr.has_lost) {
		st.lost_noted = 1;
		return;
	}
	/* The record is gone: rearmed, or restored with our epoch. */
	if (pr.has_epoch && pr.seq >= st.seq_seen &&
	    (st.lost_noted || strcmp(pr.epoch, st.epoch) == 0)) {
		memcpy(st.epoch, pr.epoch, sizeof(st.epoch));
		st.seq_seen = pr.seq;
		st.lost = st.lost_noted = 0;
		st.lost_why[0] = '\0';
		log_notice("redis: data loss cleared: epoch %s, seq %llu",
		    st.epoch, (unsigned long long)pr.seq);
		return;
	}
	store_lost_record();
}

/* One reply of a probe; the last one judges it. */
static void
store_probe_cb(redisReply *r, void *arg)
{
	enum store_probe_part	part = (enum store_probe_part)(intptr_t)arg;
	int			first = pr.first;

	if (r == NULL) {
		st.probing = 0;
		return;
	}
	switch (part) {
	case PROBE_EPOCH_NX:
		break;
	case PROBE_WRITE:
		if (r->type == REDIS_REPLY_ERROR)
			snprintf(st.refused, sizeof(st.refused), "%s", r->str);
		else
			st.refused[0] = '\0';
		break;
	case PROBE_EPOCH:
		pr.has_epoch = r->type == REDIS_REPLY_STRING &&
		    r->len == STORE_EPOCH_LEN;
		if (pr.has_epoch)
			memcpy(pr.epoch, r->str, sizeof(pr.epoch));
		break;
	case PROBE_SEQ:
		pr.seq = r->type == REDIS_REPLY_STRING ?
		    strtoull(r->str, NULL, 10) : 0;
		break;
	case PROBE_LOST:
		pr.has_lost = r->type == REDIS_REPLY_STRING;
		if (pr.has_lost)
			snprintf(pr.lost, sizeof(pr.lost), "%s", r->str);
		st.probing = 0;
		if (r->type != REDIS_REPLY_ERROR)
			store_probe_judge();
		if (first)
			store_came_up();
		store_health_note();
		break;
	}
}

/*
 * Send a probe: a write (refused under MISCONF or OOM), then the epoch,
 * seq and loss record.  first: the check right after connecting, which
 * also creates the epoch on the first connection of this run.
 */
static void
store_probe(int first)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 rnd[STORE_EPOCH_LEN / 2];
	char			 epoch[STORE_EPOCH_LEN + 1], now[24];
	const char		*argv[6];
	size_t			 i;
	int			 rv = 0;

	memset(&pr, 0, sizeof(pr));
	pr.first = first;
	if (first && st.epoch[0] == '\0') {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			fatalx("store_probe: RAND_bytes");
		for (i = 0; i < sizeof(rnd); i++) {
			epoch[2 * i] = hex[rnd[i] >> 4];
			epoch[2 * i + 1] = hex[rnd[i] & 15];
		}
		epoch[STORE_EPOCH_LEN] = '\0';
		argv[0] = "SET";
		argv[1] = store_key("epoch");
		argv[2] = epoch;
		argv[3] = "NX";
		rv |= store_send(4, argv, NULL, store_probe_cb,
		    (void *)PROBE_EPOCH_NX);
	}
	snprintf(now, sizeof(now), "%llu", (unsigned long long)now_ms());
	argv[0] = "SET";
	argv[1] = store_key("probe");
	argv[2] = now;
	argv[3] = "PX";
	argv[4] = "60000";
	rv |= store_send(5, argv, NULL, store_probe_cb, (void *)PROBE_WRITE);
	argv[0] = "GET";
	argv[1] = store_key("epoch");
	rv |= store_send(2, argv, NULL, store_probe_cb, (void *)PROBE_EPOCH);
	argv[1] = store_key("seq");
	rv |= store_send(2, argv, NULL, store_probe_cb, (void *)PROBE_SEQ);
	argv[1] = store_key("lost");
	rv |= store_send(2, argv, NULL, store_probe_cb, (void *)PROBE_LOST);
	if (rv != 0) {
		event_active(st.drop, 0, 0);
		return;
	}
	st.probing = 1;
	st.probed = mono_ms();
}

static void
store_probe_timer_cb(evutil_socket_t fd, short ev, void *arg)
{
	if (st.state == STORE_S_UP && !st.probing)
		store_probe(0);
	store_health_note();
}

/* The worst trouble now, its reason in st.why. */
static enum store_trouble
store_trouble(void)
{
	struct store_req	*req;
	uint64_t		 now = mono_ms();

	if (st.state != STORE_S_UP) {
		snprintf(st.why, sizeof(st.why), "redis unavailable");
		return STORE_T_DOWN;
	}
	if (st.lost) {
		snprintf(st.why, sizeof(st.why), "%s", st.lost_why);
		return STORE_T_LOST;
	}
	if ((req = TAILQ_FIRST(&st.reqs)) != NULL &&
	    now - req->sent > STORE_OVERDUE_MS + req->slack) {
		snprintf(st.why, sizeof(st.why), "redis not answering: a reply "
		    "is %llu ms overdue", (unsigned long long)(now - req->sent));
		return STORE_T_OVERDUE;
	}
	if (st.refused[0] != '\0') {
		snprintf(st.why, sizeof(st.why), "redis refuses writes: %s",
		    st.refused);
		return STORE_T_WRITES;
	}
	st.why[0] = '\0';
	return STORE_T_NONE;
}

/*
 * While a fail-over is being reconciled: why publishing is refused
 * (ERROR 501, try again), else NULL.
 */
const char *
store_reconciling(void)
{
	return st.reconciling ? "redis fail-over: reconciling with the new "
	    "primary, try again" : NULL;
}

/* The daemon has reconciled after a fail-over: serve as usual. */
void
store_failover_done(void)
{
	if (st.reconciling)
		log_notice("redis: fail-over reconciled, following %s",
		    st.primary);
	st.reconciling = 0;
}

/* fn() runs once a fail-over is seen, instead of the on_ready catch-up. */
void
store_set_failover_hook(void (*fn)(void))
{
	st.failover_hook = fn;
}

/* For /metrics: the primary followed and what WAIT and fail-overs did. */
void
store_stats(struct store_stats *ss)
{
	memset(ss, 0, sizeof(*ss));
	ss->primary = st.state == STORE_S_UP ? st.primary : NULL;
	ss->failovers = st.failovers;
	ss->waits = st.waits;
	ss->wait_short = st.wait_short;
}

/* --- WAIT -------------------------------------------------------------- */

static void	store_wait_send(void);

/* Tell every waiter of list its writes are not known to be replicated. */
static void
store_wait_fail(struct store_waiters *list)
{
	struct store_waiter	*w;

	while ((w = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, w, entry);
		w->cb(0, w->arg);
		free(w);
	}
}

/* WAIT's reply: how many replicas have every write sent before it. */
static void
store_waited_cb(redisReply *r, void *arg)
{
	struct store_waiters	 done;
	struct store_waiter	*w;
	uint32_t		 want = wz->conf->redis.wait_replicas;
	int			 ok;

	st.waiting = 0;
	TAILQ_INIT(&done);
	TAILQ_CONCAT(&done, &st.wcur, entry);
	ok = r != NULL && r->type == REDIS_REPLY_INTEGER &&
	    r->integer >= (long long)want;
	if (r == NULL) {
		/* The link is gone: so is any hope for the next ones. */
		store_wait_fail(&done);
		store_wait_fail(&st.wnext);
		return;
	}
	if (!ok) {
		st.wait_short++;
		log_warnx("redis: WAIT %u %u: %s", want,
		    wz->conf->redis.wait_timeout_ms,
		    r->type == REDIS_REPLY_INTEGER ? "too few replicas" :
		    r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
	}
	/* Those who came meanwhile share one more. */
	if (!TAILQ_EMPTY(&st.wnext))
		store_wait_send();
	while ((w = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, w, entry);
		w->cb(ok, w->arg);
		free(w);
	}
}

/* Send one WAIT for the writers in wnext. */
static void
store_wait_send(void)
{
	const char	*argv[3];
	char		 n[16], ms[16];

	TAILQ_CONCAT(&st.wcur, &st.wnext, entry);
	snprintf(n, sizeof(n), "%u", wz->conf->redis.wait_replicas);
	snprintf(ms, sizeof(ms), "%u", wz->conf->redis.wait_timeout_ms);
	argv[0] = "WAIT";
	argv[1] = n;
	argv[2] = ms;
	if (store_cmd(3, argv, NULL, store_waited_cb, NULL) == -1) {
		store_wait_fail(&st.wcur);
		return;
	}
	st.waiting = 1;
	st.waits++;
}

/*
 * cb(ok, arg) once the writes whose replies came before this call are on
 * redis.wait_replicas replicas (ok 1), or are not known to be (0: too
 * few within wait_timeout, or the link dropped).  Without wait_replicas,
 * cb(1) at once; with Redis down, cb(0) at once.
 */
void
store_wait(store_wait_cb *cb, void *arg)
{
	struct store_waiter	*w;

	if (wz->conf->redis.wait_replicas == 0) {
		cb(1, arg);
		return;
	}
	if (st.state != STORE_S_UP) {
		cb(0, arg);
		return;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		fatal("store_wait");
	w->cb = cb;
	w->arg = arg;
	TAILQ_INSERT_TAIL(&st.wnext, w, entry);
	if (!st.waiting)
		store_wait_send();
}

/* NULL while Redis is healthy, else why not (for /healthz, STATUS=). */
const char *
store_health(void)
{
	return store_trouble() == STORE_T_NONE ? NULL : st.why;
}

/* The reason publishing is refused while Redis has lost data, or NULL. */
const char *
store_lost(void)
{
	return st.lost && st.state == STORE_S_UP ? st.lost_why : NULL;
}

/* Log a change of health once, at error level (down has its own lines). */
void
store_health_note(void)
{
	enum store_trouble	t = store_trouble();

	if (t == st.reported)
		return;
	if (t == STORE_T_NONE) {
		if (st.reported != STORE_T_DOWN)
			log_notice("redis: healthy again");
	}
	else if (t != STORE_T_DOWN)
		log_errx("redis: unhealthy: %s", st.why);
	st.reported = t;
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
	    now - req->sent > wz->conf->redis.command_timeout_ms + req->slack) {
		snprintf(why, sizeof(why), "no reply for %llu ms",
		    (unsigned long long)(now - req->sent));
		store_drop(why);
	}
}

/*
 * fn() tells the highest seq the daemon holds (the alert cache's, set by
 * main.c): P:lost records it, with what the probes read, for the rearm.
 */
void
store_set_seq_hook(uint64_t (*fn)(void))
{
	st.seq_hook = fn;
}

void
store_init(void (*on_ready)(int))
{
	static const struct timeval	probe_tv = { 0, STORE_PROBE_MS * 1000 };

	TAILQ_INIT(&st.reqs);
	TAILQ_INIT(&st.wcur);
	TAILQ_INIT(&st.wnext);
	st.on_ready = on_ready;
	st.stimer = evtimer_new(wz->base, store_sentinel_timer_cb, NULL);
	st.sstep = event_new(wz->base, -1, 0, store_sentinel_step_cb, NULL);
	if (st.stimer == NULL || st.sstep == NULL)
		fatalx("store_init: event_new");
	st.retry = evtimer_new(wz->base, store_retry_cb, NULL);
	st.drop = event_new(wz->base, -1, 0, store_drop_cb, NULL);
	st.probe = event_new(wz->base, -1, EV_PERSIST, store_probe_timer_cb,
	    NULL);
	if (st.retry == NULL || st.drop == NULL || st.probe == NULL)
		fatalx("store_init: event_new");
	if (event_add(st.probe, &probe_tv) == -1)
		fatalx("store_init: event_add");
	st.reported = STORE_T_DOWN;
	store_connect();
}

void
store_shutdown(void)
{
	st.stopping = 1;
	store_sentinel_close();
	if (st.ac != NULL) {
		redisAsyncContext *ac = st.ac;

		st.ac = NULL;
		ac->onDisconnect = NULL;
		redisAsyncFree(ac);
	}
	event_free(st.retry);
	event_free(st.drop);
	event_free(st.probe);
	event_free(st.stimer);
	event_free(st.sstep);
	st.retry = st.drop = st.probe = st.stimer = st.sstep = NULL;
	store_wait_fail(&st.wcur);
	store_wait_fail(&st.wnext);
	store_set_state(STORE_S_DOWN);
}
