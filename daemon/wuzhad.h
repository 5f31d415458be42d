/* SPDX-License-Identifier: ISC */
/*
 * wuzhad: the runtime context and the interfaces between the daemon's
 * modules.  Data flows one way: bytes -> frame -> message (conn.c) ->
 * action (publish.c, ack.c, status.c) -> Redis (store.c) -> fan-out
 * (conn.c) -> bytes.  The tree cache (tree.c) answers who sits where.
 */
#ifndef WUZHA_WUZHAD_H
#define WUZHA_WUZHAD_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <openssl/ssl.h>

#include "clock.h"
#include "compat.h"
#include "conf.h"
#include "htab.h"
#include "proto.h"

struct conn;
TAILQ_HEAD(conn_list, conn);

/* --- the runtime context (the one global) ------------------------------ */

struct wuzhad {
	struct event_base	*base;
	char			*conf_path;
	struct conf_wuzhad	*conf;
	SSL_CTX			*ssl_ctx;
	X509_STORE		*ca_store;	/* CA (+CRL), owned by ssl_ctx */
	struct tree		*tree;		/* current tree, never NULL once up */
	int			 listening;
	int			 stopping;
	int			 debug;		/* -d: debug logs whatever the config says */
	uint64_t		 started_ms;
	char			 name[CONF_ID_MAX + 1];	/* among daemons on one Redis */
};

extern struct wuzhad *wz;	/* wz.c; main.c fills it in */

/* ev's callback on a later loop turn, after I/O (for sliced work). */
void		 wz_next_turn(struct event *ev);


/* --- tree.c: the in-memory tree cache ---------------------------------- */

struct tprincipal;

/*
 * A node and its principals are allocated to size: the id, the name and
 * (while a tree is being built) the parent's id share the node's own
 * allocation, and the arrays hold exactly what they count.  At a
 * province (2.5 M nodes) every byte here is 2.5 MB.
 */
struct tnode {
	struct tnode		*parent;	/* NULL for a police root */
	struct tnode		**children;	/* by id, nchildren of them */
	struct tprincipal	**members;	/* nmembers of them */
	struct conn_list	 agents;	/* connected agents here (conn.c) */
	char			*name;		/* after id, unless renamed */
	uint32_t		 nchildren;
	uint32_t		 nmembers;
	uint32_t		 receivers;	/* principals with receive, whole subtree */
	uint32_t		 principals;	/* principals, whole subtree */
	uint32_t		 size;		/* nodes in the subtree, itself included */
	uint8_t			 tier;		/* enum proto_tier */
	uint8_t			 flags;		/* tree.c's own marks */
	char			 id[];		/* id, name, parent id (building) */
};

struct tprincipal {
	struct tnode		*node;
	unsigned		 rights;	/* PROTO_R_* */
	char			 cn[];
};

struct tree {
	struct htab		 nodes;		/* id -> struct tnode */
	struct htab		 principals;	/* cn -> struct tprincipal */
	struct tnode		**roots;	/* the police units, by id */
	size_t			 nroots;
	size_t			 nnodes;
	size_t			 nprincipals;
	uint64_t		 gen;		/* Redis tree-gen it came from */
	int			 step;		/* finish or free: the pass in progress */
	size_t			 slot;		/* and where in the table it is */
};

struct tree	*tree_new(void);
void		 tree_free(struct tree *);
/* Free t a slice at a time: 1 when it is gone, 0 if more is left. */
int		 tree_free_step(struct tree *, size_t budget);
/* A node whose parent is linked by tree_finish; -1 and err if bad. */
int		 tree_add_node(struct tree *, const char *id, const char *name,
		    const char *tier, const char *parent, char *err, size_t);
int		 tree_add_principal(struct tree *, const char *cn,
		    const char *node, const char *rights, char *err, size_t);
/* Link parents and children, check tiers, sort, count receivers. */
int		 tree_finish(struct tree *, char *err, size_t);
/*
 * The same a slice at a time: at most about budget nodes a call; 1 when
 * done, 0 if more is left, -1 (err) if the tree is not valid.
 */
int		 tree_finish_step(struct tree *, size_t budget, char *err,
		    size_t);
/*
 * Apply a diff (merged tree-diff:{g} hashes: "n:ID" / "p:CN" -> value,
 * "" for gone) to t in place, now generation gen, then tell the swap
 * hook with old == new.  Nothing changes and -1 (err) if the result
 * would not be a valid tree.  See tree.c for what the hook can rely on.
 */
int		 tree_apply(struct tree *, const struct htab *diff,
		    uint64_t gen, char *err, size_t);
/* Counts of n and its ancestors: add (or, with sub, take) these. */
void		 tree_count_up(struct tnode *n, uint32_t nodes, uint32_t prins,
		    uint32_t receivers, int sub);
/* For tree_diff.c: objects made and freed as tree.c does. */
struct tnode	*tree_node_make(const char *id, const char *name, int tier,
		    const char *parent);
const char	*tree_node_parent_id(const struct tnode *);
void		 tree_node_destroy(struct tnode *);
struct tprincipal *tree_principal_make(const char *cn, struct tnode *,
		    unsigned rights);
/* Call the swap hook (tree_load.c, on a swap). */
void		 tree_swapped(struct tree *old, struct tree *new);
struct tnode	*tree_node(const struct tree *, const char *id);
struct tprincipal *tree_principal(const struct tree *, const char *cn);
/* 1 if anc is n or one of n's ancestors. */
int		 tree_covers(const struct tnode *anc, const struct tnode *n);
/* Pre-order walk of the subtree under root; depth starts at 0. */
void		 tree_walk(struct tnode *root,
		    void (*fn)(struct tnode *, int depth, void *), void *arg);
int		 tree_depth(const struct tnode *);
/* n's path from its police root, "a/b/c" (as wuzha:path: URIs say). */
const char	*tree_path_str(const struct tnode *, char *buf, size_t len);
/*
 * tree_suggest.c: the node at or below scope one probably meant by id,
 * which names none, or NULL; bounded whatever the tree's size.
 */
struct tnode	*tree_suggest(const struct tree *,
		    const struct tnode *scope, const char *id);
const char	*tree_tier_name(int);
int		 tree_tier_parse(const char *, size_t len);
/*
 * tree_load.c: load the tree from Redis without blocking, and swap it
 * in; done(0|-1) when finished.  A tree-gen a few generations on is
 * applied as a diff instead.
 */
void		 tree_load(void (*done)(int ok));
/*
 * fn(old, new) on every swap, before old is freed; after a diff applied
 * in place, fn(t, t) (see tree_apply).
 */
void		 tree_set_swap_hook(void (*fn)(struct tree *old,
		    struct tree *new));
/* Poll tree-gen; reload if it moved. */
void		 tree_refresh(void);
/* Free what is left of old trees at exit. */
void		 tree_load_free(void);

/* --- blob: bytes serialised once, shared by many connections ----------- */

struct blob {
	int		refs;
	size_t		len;
	uint8_t		data[];
};

/* Take the frames in buf into a new blob with one reference. */
struct blob	*blob_new(struct proto_buf *);
void		 blob_ref(struct blob *);
void		 blob_unref(struct blob *);

/* --- conn.c: connections ----------------------------------------------- */

enum conn_state {
	CONN_S_HANDSHAKE,	/* TLS handshake in progress */
	CONN_S_HELLO,		/* TLS done, principal known, waiting for HELLO */
	CONN_S_SYNC,		/* agent: pending alerts being looked up */
	CONN_S_READY,		/* serving requests; agents get pushes */
	CONN_S_CLOSING,		/* flushing a last frame, then freed */
};

/*
 * What the transport reports up, set once by main.c; conn.c names no
 * handler.  The table of requests behind it is dispatch.c's.
 */
struct conn_ops {
	/* A frame of an established session: 1 if taken, 0 if not a request. */
	int	(*frame)(struct conn *, uint8_t type, const uint8_t *, size_t);
	/* An agent that receives said HELLO (now SYNC): start its catch-up. */
	void	(*catch_up)(struct conn *);
	/* The output drained while in SYNC: the catch-up's next slice. */
	void	(*drained)(struct conn *);
	/* An agent is READY (its catch-up done). */
	void	(*agent_ready)(struct conn *);
	/* c is closing: drop every reference to it (watches, catch-up). */
	void	(*closed)(struct conn *);
	/* Agents of p here changed: one came or went. */
	void	(*presence)(const struct tprincipal *p);
	/* Connections were rebound to a new tree: presence may have moved. */
	void	(*rebound)(void);
};

extern const struct conn_ops dispatch_ops;	/* dispatch.c */

void		 conn_set_ops(const struct conn_ops *);
/* The catch-up of c is over (SYNC -> READY). */
void		 conn_sync_done(struct conn *);
void		 conn_accept(int fd, const struct sockaddr *, int socklen);
void		 conn_ref(struct conn *);
void		 conn_unref(struct conn *);
int		 conn_alive(const struct conn *);
uint64_t	 conn_id(const struct conn *);
const char	*conn_name(const struct conn *);	/* "cn@addr" for logs */
struct tprincipal *conn_principal(const struct conn *);
/* The peer's certificate (the session's; not a reference), or NULL. */
X509		*conn_peer_cert(const struct conn *);
enum conn_state	 conn_state(const struct conn *);
uint64_t	 conn_sync_seq(const struct conn *);
void		 conn_set_sync_seq(struct conn *, uint64_t);
/* The catch-up in progress (owned by the connection once set). */
struct syncreq	*conn_sync(const struct conn *);
void		 conn_set_sync(struct conn *, struct syncreq *);
/* Bytes queued for output. */
size_t		 conn_output(const struct conn *);
/* Queue the frames in buf (copied); the buffer is reset. */
void		 conn_send(struct conn *, struct proto_buf *);
void		 conn_send_blob(struct conn *, struct blob *);
/* The peer's certificate as receipts need it (conn_peer, lazy). */
struct conn_peer {
	EVP_PKEY	*pub;		/* its key (own reference) */
	uint8_t		 fp[PROTO_HASH_LEN];	/* SHA-256 of der */
	uint8_t		*der;
	size_t		 derlen;
	int		 cert_stored;	/* sent to Redis certs once already */
};
const struct conn_peer *conn_peer(struct conn *);
void		 conn_peer_cert_stored(struct conn *);
/* ERROR frame, connection stays open. */
void		 conn_error(struct conn *, int code, const char *ref,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* ERROR frame (code != 0) or nothing, then close once it is flushed. */
void		 conn_fail(struct conn *, int code, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));
/* The agents connected at a node (an iteration that must not close any). */
struct conn	*conn_first_at(struct tnode *);
struct conn	*conn_next_at(struct conn *);
/*
 * fn on each agent on a node's list (linked) whose connection id is above
 * after, at most max of them, in id order; returns the last id visited,
 * or 0 if none was left after it.
 */
uint64_t	 conn_walk_agents(uint64_t after, size_t max,
		    void (*fn)(struct conn *, void *), void *arg);
/* Agents of p connected now, and the earliest connect time (ms). */
unsigned	 conn_presence(const struct tprincipal *p, uint64_t *since);
/*
 * 1 if c is the first agent of its principal on its node's list (one
 * principal with several agents here is counted once, at that one).
 */
int		 conn_first_of_principal(const struct conn *c);
/* Push blob to every ready agent with receive at or below root. */
size_t		 conn_fanout(struct tnode *root, struct blob *);
/* fn on every ready agent whose principal observes at n; how many. */
size_t		 conn_observers_at(struct tnode *n,
		    void (*fn)(struct conn *, void *), void *arg);
/* After a tree swap: rebind every connection to the new tree. */
void		 conn_rebind(struct tree *old, struct tree *new);
/* Heartbeats, idle and handshake deadlines: called once a second. */
void		 conn_sweep(void);
/* Say goodbye to everyone and close (shutdown). */
void		 conn_recheck_certs(void);
void		 conn_close_all(int code, const char *why);
void		 conn_free_all(void);
size_t		 conn_count(void);
size_t		 conn_agents_online(void);
size_t		 conn_output_total(void);	/* bytes queued, all peers */

/* --- access.c: who may act on which subtree ------------------------------ */

/* 0 if c's principal holds any of rights; else ERROR 201 (ref), -1. */
int		 access_rights(struct conn *, unsigned rights, const char *ref);
/*
 * The node named by a request (c's own for "" or NULL) if c holds one of
 * rights and the node is in its subtree; else ERROR 201 or 304, NULL.
 */
struct tnode	*access_node(struct conn *, unsigned rights, const char *node,
		    const char *ref);
/*
 * ERROR 304 (ref) for node, which is not in the tree: "no such node X",
 * with "; did you mean Y?" when a node near it is in c's subtree.
 */
void		 access_no_node(struct conn *, const char *node,
		    const char *ref);

/* --- listener.c -------------------------------------------------------- */

struct sockaddr_storage;
int		 addr_parse(const char *, struct sockaddr_storage *, int *len);
void		 addr_bound(evutil_socket_t, char *, size_t);
int		 listener_start(void);
void		 listener_stop(void);
void		 listener_pause(int);
int		 listener_starved(void);	/* accept fails for lack of fds */

/* --- tls.c ------------------------------------------------------------- */

SSL_CTX		*tls_server_ctx(const struct conf_wuzhad *);
/* The CN of the peer's certificate, checked for syntax; -1 if none/bad. */
int		 tls_peer_cn(SSL *, char *cn, size_t);

/* --- store.c: Redis ---------------------------------------------------- */

enum store_script {
	STORE_LUA_PUBLISH,
	STORE_LUA_ACK,
	STORE_LUA_PENDING,
	STORE_LUA_STATUS,
	STORE_LUA_TREE,
	STORE_LUA_ALERTS,
	STORE_LUA_STATES,
	STORE_LUA_RELEASE,
	STORE_LUA_HELD,
	STORE_LUA_ESCALATE,
	STORE_LUA_ESCALATIONS,
	STORE_LUA_REPORT_RATE,
	STORE_LUA_FEED,
	STORE_LUA_PRESENCE,
	STORE_LUA_AGENTS,
	STORE_LUA_AUDIT_HEAD,
	STORE_LUA_AUDIT_READ,
	STORE_LUA_AUDIT_CP,
	STORE_LUA_CLUE,		/* clues (clue.c) */
	STORE_LUA_CLUE_MARK,
	STORE_LUA_CLUES,
	STORE_LUA_RECEIPTS,
	STORE_LUA_COUNT
};

/*
 * Reply callback: r is NULL when the command failed (connection lost,
 * timed out); an error reply arrives as REDIS_REPLY_ERROR.  r is freed by
 * hiredis after the callback returns.
 */
typedef void	 store_cb(redisReply *r, void *arg);

extern const char *const lua_scripts[STORE_LUA_COUNT];	/* lua_gen.c, from daemon/lua/ */
extern const char *const lua_names[STORE_LUA_COUNT];

void		 store_init(void (*on_ready)(int first));
/* The highest seq the daemon has seen, for P:lost (alerts_max_seq). */
void		 store_set_seq_hook(uint64_t (*)(void));
void		 store_shutdown(void);
int		 store_up(void);
/* NULL while Redis is up and healthy, else the reason (see store.c). */
const char	*store_health(void);
/* Why PUBLISH is refused: Redis lost its data; NULL otherwise. */
const char	*store_lost(void);
void		 store_health_note(void);	/* log a change of health */
size_t		 store_inflight(void);
/* Run a script / a command.  -1 (cb not called) if Redis is down. */
int		 store_eval(enum store_script, int argc, const char **argv,
		    const size_t *lens, store_cb *cb, void *arg);
int		 store_cmd(int argc, const char **argv, const size_t *lens,
		    store_cb *cb, void *arg);
/*
 * WAIT (redis.wait_replicas): cb(1, arg) once the writes answered so far
 * on the connection are on enough replicas, cb(0, arg) if not (too few in
 * wait_timeout, or the link dropped).  cb(1) at once when no WAIT is
 * configured, cb(0) at once when Redis is down.  One WAIT at a time:
 * callers that come while it is out share the next one.
 */
typedef void	 store_wait_cb(int ok, void *arg);
void		 store_wait(store_wait_cb *, void *);
/* A fail-over seen (Sentinel): fn reconciles, then calls store_failover_done. */
void		 store_set_failover_hook(void (*fn)(void));
void		 store_failover_done(void);
/* Why PUBLISH is refused while a fail-over is reconciled; NULL otherwise. */
const char	*store_reconciling(void);
struct store_stats {
	const char	*primary;	/* "host:port" followed, NULL if down */
	uint64_t	 failovers;	/* promotions seen */
	uint64_t	 waits;		/* WAITs sent */
	uint64_t	 wait_short;	/* WAITs with too few replicas */
};
void		 store_stats(struct store_stats *);
/* Key with the configured prefix, in a static rotating buffer. */
const char	*store_key(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void		 store_sweep(void);

/* --- alerts.c: the alert record, the cache of live alerts, fan-out ------ */

/* Timer settings of an alert being accepted. */
struct alert_timers {
	uint32_t	 remind_ms;	/* 0: no reminders */
	uint32_t	 escalate_ms;	/* 0: no escalation */
	uint32_t	 max_reminders;
};

/*
 * An alert as accepted: what its signed envelope says and what the server
 * decided.  The one record of an alert's fields, embedded in the cache
 * entry (struct alert), in a PUBLISH waiting for Redis (publish.c) and in
 * an alert held until its time (schedule.c).  Whoever embeds it owns env;
 * a record on the stack may only borrow it.
 */
struct alert_rec {
	proto_id	 id;
	proto_id	 target;
	proto_id	 issuer;
	proto_id	 references;	/* UPDATE, CANCEL: the alert meant */
	uint8_t		 type;		/* PROTO_MSG_* */
	uint8_t		 status;	/* enum proto_alert_status: drills apart */
	uint64_t	 issued;	/* ms, as signed */
	uint64_t	 expires;	/* ms, as signed */
	uint64_t	 accepted;	/* ms, server clock: timers count from here */
	uint64_t	 publish_at;	/* held until then; 0: at once */
	struct alert_timers tm;
	uint8_t		*env;		/* the envelope as stored */
	size_t		 envlen;
};

/* A deep copy of src into dst (env copied); free with alert_rec_clear. */
void		 alert_rec_copy(struct alert_rec *dst, const struct alert_rec *src);
void		 alert_rec_clear(struct alert_rec *);
/* Same envelope, byte for byte: a retry of the same PUBLISH. */
int		 alert_rec_same(const struct alert_rec *, const uint8_t *env,
		    size_t envlen);

/*
 * A record from the reply strings e[0..ALERT_REC_FIELDS-1] of a script
 * that loads alerts (lua/record.lua's order); env points into the reply.
 * -1 if they do not make one.
 */
#define ALERT_REC_FIELDS	14
int		 alert_rec_from_reply(struct alert_rec *, redisReply *const *e);

/* A live alert, in the cache. */
struct alert {
	struct alert_rec r;
	uint64_t	 seq;
	uint64_t	 arrived;	/* cached as the arrived-th (alerts_arrived) */
	uint32_t	 targeted;	/* receivers at its target when accepted */
	struct blob	*frame;		/* ALERT frame, flags 0 */
	struct blob	*resent;	/* ALERT frame, flags RESENT (lazy) */
	struct blob	*reminder;	/* ALERT frame, flags REMINDER (lazy) */
	uint32_t	 reminded;	/* reminder rounds done (stored in Redis) */
	int		 escalated;	/* escalation done (stored in Redis) */
	int		 timer_busy;	/* a reminder/escalation is in flight */
	uint8_t		 env_hash[PROTO_HASH_LEN]; /* SHA-256 of r.env (receipts) */
	int		 env_hashed;	/* env_hash is set */
};

/*
 * An alert just went live in Redis with seq (published now, or released
 * from the schedule): cache a copy, retire what it cancels, push it to
 * every connected agent below its target.  who names the sender for the
 * log.
 */
struct alert	*alerts_went_live(const struct alert_rec *, uint64_t seq,
		    uint32_t targeted, const char *who);
/* Told when an alert leaves the cache (expired or cancelled). */
void		 alerts_set_gone_hook(void (*)(const char *id));
uint8_t		 alert_status_of(const uint8_t *env, size_t envlen);
void		 alerts_init(void);
void		 alerts_free(void);
struct alert	*alerts_get(const char *id);
uint64_t	 alerts_max_seq(void);
/* How many alerts were cached so far: a mark for alerts_for's after. */
uint64_t	 alerts_arrived(void);
/* feed.c: a live alert (a group of lua/feed.lua's reply) from elsewhere. */
void		 alerts_learn(redisReply *const *e, size_t n);
size_t		 alerts_live(void);
void		 alerts_load(void (*done)(int ok));
/*
 * After Redis came back: live alerts there that this daemon does not know
 * (a store whose reply was lost) are cached and pushed.
 */
void		 alerts_catch_up(void);
/*
 * After a fail-over: the cache is made what Redis has live (alerts it no
 * longer has are dropped, those it has added), pushing nothing; done(0|-1).
 */
void		 alerts_reload(void (*done)(int ok));
void		 alerts_expire(void);
/*
 * Live alerts for an agent at n (its node and its ancestors) cached after
 * the mark after (alerts_arrived), by seq; *count of them.  Free the
 * array (not the alerts).
 */
struct alert	**alerts_for(struct tnode *n, uint64_t after, size_t *count);
/* The ALERT frame of a with the given flags (cached per flag). */
struct blob	*alert_blob(struct alert *, uint8_t flags);
/* Call fn on every live alert. */
void		 alerts_foreach(void (*fn)(struct alert *, void *), void *);

/* --- publish.c: PUBLISH -------------------------------------------------- */

void		 publish_init(void);
void		 publish_free(void);
void		 publish_handle(struct conn *, const uint8_t *, size_t);
/* 1 if a PUBLISH of id is in Redis now (its reply will cache it). */
int		 publish_pending(const char *id);

/* --- sync.c: the catch-up of an agent that just said HELLO --------------- */

/* Send what is pending for it, then READY. */
struct syncreq;
void		 sync_start(struct conn *);
/* The output drained: send the next slice of a catch-up. */
void		 sync_continue(struct conn *);
void		 sync_free(struct syncreq *);

/* --- feed.c: what other daemons on the same Redis did ------------------ */

/*
 * Redis is up (again): the first time, start reading the `alerts` and
 * `changed` streams from their ends as they are now; later, go on from
 * where reading stopped.
 */
void		 feed_start(void);
/* Read on from the streams' ends as they are now (after a fail-over). */
void		 feed_reset(void);
void		 feed_free(void);

/* --- presence.c: who is connected, in Redis for every daemon ------------ */

/* p's agents here changed (one came or went): tell Redis. */
void		 presence_note(const struct tprincipal *p);
/* Write this daemon's presence again (Redis back, tree changed). */
void		 presence_rebuild(void);
void		 presence_tick(void);		/* once a second */
void		 presence_stop(void);		/* shutting down */
void		 presence_free(void);

/* --- remind.c: reminders and escalation ---------------------------------- */

/* Called once a second: fire what is due. */
void		 remind_tick(void);
/* An observing agent is ready: send the escalations stored for it. */
void		 remind_observer_ready(struct conn *);
/* An escalation was stored for node elsewhere: tell observers here. */
void		 remind_escalated_elsewhere(const char *node);

/* --- ack.c ------------------------------------------------------------- */

void		 ack_handle(struct conn *, const uint8_t *, size_t);
void		 ack_init(void);
void		 ack_free(void);
size_t		 ack_outstanding(void);

/* --- metrics.c: the counters (a leaf) ----------------------------------- */

enum metric {
	M_CONN_ACCEPTED,
	M_CONN_REFUSED,
	M_HANDSHAKE_FULL,
	M_HANDSHAKE_RESUMED,
	M_HANDSHAKE_FAILED_CERT,	/* the peer's certificate was refused */
	M_HANDSHAKE_FAILED_PROTO,	/* a TLS error: version, alert, bad record */
	M_HANDSHAKE_FAILED_CLOSED,	/* the peer went away mid-handshake */
	M_HANDSHAKE_FAILED_TIMEOUT,	/* not done within timeouts.handshake */
	M_PUBLISHED,
	M_DELIVERED,
	M_ACK_DELIVERED,	/* M_ACK_DELIVERED + state - 1 for each state */
	M_ACK_READ,
	M_ACK_RELAYED,
	M_ACK_SHOWN,		/* wire value 4: after relayed here too */
	M_DRILL_ACK_DELIVERED,	/* the same for drills (exercise, test) */
	M_DRILL_ACK_READ,
	M_DRILL_ACK_RELAYED,
	M_DRILL_ACK_SHOWN,
	M_REMINDERS,
	M_ESCALATIONS,
	M_SLOW_PEERS,
	M_ACCEPT_NOFD,		/* accept failed: out of file descriptors */
	M_FED,			/* alerts live through another daemon */
	METRIC_COUNT
};

void		 metrics_count(enum metric, uint64_t n);
void		 metrics_error(int code);		/* an ERROR frame sent */
void		 metrics_redis_rtt(uint64_t us);
struct evbuffer;
/* The counters in the Prometheus text format. */
void		 metrics_write(struct evbuffer *);

/* --- health.c: /metrics (counters, then gauges) and /healthz ----------- */

int		 health_start(const char *listen);	/* "off": nothing */
void		 health_stop(void);

/* --- status.c ---------------------------------------------------------- */

void		 status_handle(struct conn *, const uint8_t *, size_t);

/* --- agents.c: who is connected, who has been away ---------------------- */

void		 agents_handle(struct conn *, const uint8_t *, size_t);

/* --- schedule.c: alerts held until their publish_at ---------------------- */

struct held;
void		 schedule_handle(struct conn *, const uint8_t *, size_t);
void		 schedule_init(void);
void		 schedule_start(void);	/* listening: release what is due */
void		 schedule_free(void);
/* Load the held alerts from Redis; done(0|-1). */
void		 schedule_load(void (*done)(int ok));
/* A held alert was stored: keep it and arm the timer. */
void		 schedule_add(const struct alert_rec *, uint32_t targeted,
		    const char *who);
/* A held alert from the feed: kept unless known (lua/feed.lua's group). */
void		 schedule_learn(redisReply *const *e, size_t n);
/* The held alert id went live elsewhere: forget it here. */
void		 schedule_gone(const char *id);
/* The held alert id was cancelled by cancel_id (already in Redis). */
void		 schedule_cancelled(const char *id, const char *cancel_id,
		    const char *who);
struct held	*schedule_get(const char *id);
const struct alert_rec *held_rec(const struct held *);
size_t		 schedule_count(void);

/* --- watch (status.c): STATUS pushed again as acks arrive ---------------- */

/* Counters of alert id changed: refresh its watchers soon. */
void		 watch_alert_changed(const char *id);
/* Alert id expired or was cancelled: its watches end. */
void		 watch_alert_gone(const char *id);
/* A connection closes: drop its watches. */
void		 watch_conn_closed(struct conn *);
void		 watch_free_all(void);

/* --- envelope.c: one stored envelope, for CAP export (cap) --------------- */

void		 envelope_handle(struct conn *, const uint8_t *, size_t);
/* --- receipts.c: RECEIPTS_REQ, the signed acks of an alert --------------- */

void		 receipts_handle(struct conn *, const uint8_t *, size_t);

/* --- report.c: supervision reports over a time range --------------------- */

void		 report_handle(struct conn *, const uint8_t *, size_t);

/* --- auditlog.c: the audit log's checkpoints, file mirror and AUDIT_REQ -- */

/*
 * Read audit.file (if set) before the loop runs: fatal if it does not
 * parse.  Then, in the start-up chain, auditlog_check compares it with
 * Redis (fatal if they disagree) and calls done(0), or done(-1) if Redis
 * could not be asked.
 */
void		 auditlog_open(void);
void		 auditlog_check(void (*done)(int ok));
/* Once a second: checkpoint when due, mirror what is new. */
void		 auditlog_tick(void);
void		 auditlog_close(void);
void		 audit_handle(struct conn *, const uint8_t *, size_t);
/* --- clue.c: clues reported upward to the school and the police -------- */

void		 clue_handle(struct conn *, const uint8_t *, size_t);	/* CLUE */
void		 clue_mark_handle(struct conn *, const uint8_t *, size_t);
void		 clues_handle(struct conn *, const uint8_t *, size_t);	/* CLUES_REQ */
/* An observing agent is ready: push the clues it has not received. */
void		 clue_observer_ready(struct conn *);
/* Clue id was stored for the observers at node: push it to those here. */
void		 clue_arrived(const char *id, const char *node);

#endif
