/* SPDX-License-Identifier: ISC */
/*
 * agent: what the parts of wuzha-agent share.  agent.c runs the session
 * and decides what to do with each ALERT, agent_state.c remembers the ids
 * already handed to the person (across restarts), agent_hook.c hands them
 * over, one at a time, through the hook command or on stdout.
 */
#ifndef WUZHA_AGENT_H
#define WUZHA_AGENT_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct event_base;

/* A verified alert waiting for, or being handed to, the person. */
struct agent_alert {
	TAILQ_ENTRY(agent_alert) entry;
	uint64_t		 seq;
	uint8_t			 flags;		/* enum proto_alert_flags */
	uint8_t			*env;		/* own copy of the envelope */
	size_t			 envlen;
	struct proto_alert	 a;		/* views into env */
	uint8_t			 env_hash[PROTO_HASH_LEN]; /* SHA-256 of env */
};
TAILQ_HEAD(agent_alertq, agent_alert);

void	agent_alert_free(struct agent_alert *);

/* --- agent_state.c: ids already shown, ids withdrawn ------------------- */

/* Ids remembered at most; when full, the one that expires first goes. */
#define AGENT_STATE_MAX		100000
#define AGENT_STATE_LINE_MAX	200	/* longest line of the state file */

struct agent_state;

/*
 * Load the state file at path (NULL: keep ids in memory only).  A missing
 * file is an empty state; an unreadable or corrupt one is an error, with
 * "path:line: reason" in err.
 */
struct agent_state *agent_state_load(const char *path, char *err,
		    size_t errlen);
/* Has id been handed to the person? */
int		 agent_state_seen(const struct agent_state *, const char *id);
/* Has a verified cancel withdrawn id? */
int		 agent_state_withdrawn(const struct agent_state *,
		    const char *id);
/*
 * Remember id as shown (add) or withdrawn (withdraw) until expires_at
 * (ms, extended if later than what is known); makes room if full.
 * -1: no memory.
 */
int		 agent_state_add(struct agent_state *, const char *id,
		    uint64_t expires_at);
int		 agent_state_withdraw(struct agent_state *, const char *id,
		    uint64_t expires_at);
/*
 * The SHA-256 of id's envelope, which later receipts sign: set on an
 * id already added or withdrawn (-1 if unknown), NULL if not known.
 */
int		 agent_state_set_hash(struct agent_state *, const char *id,
		    const uint8_t *h);
const uint8_t	*agent_state_env_hash(const struct agent_state *, const char *id);
/* Drop expired ids and write the file atomically (tmp, fsync, rename). */
int		 agent_state_save(struct agent_state *, uint64_t now_ms);
size_t		 agent_state_count(const struct agent_state *);
void		 agent_state_free(struct agent_state *);

/* --- agent_inbox.c: the alerts kept for the person's page ------------- */

/* An alert in the inbox, and what the person did with it. */
struct agent_inbox_item {
	TAILQ_ENTRY(agent_inbox_item) entry;
	uint8_t			*env;		/* own copy of the envelope */
	size_t			 envlen;
	struct proto_alert	 a;		/* views into env */
	uint64_t		 seq;
	uint8_t			 flags;		/* of the last copy (reminder) */
	uint64_t		 received_at;	/* ms since the epoch */
	uint8_t			 state;		/* the person's: PROTO_ACK_* */
	uint8_t			 sent;		/* what the daemon has */
	uint32_t		 reach;		/* relayed to how many */
	uint8_t			 hooked;	/* the hook has had it */
	uint8_t			 withdrawn;	/* a cancel for it came */
	uint8_t			 stored;	/* ID.env is on disk */
	char			 replaced_by[PROTO_ID_MAX + 1]; /* update/cancel */
};
TAILQ_HEAD(agent_inbox_itemq, agent_inbox_item);

struct agent_inbox {
	struct agent_inbox_itemq items;		/* newest first */
	size_t			 n;
	uint32_t		 max;
	uint64_t		 keep_ms;	/* kept this long past expiry */
	char			*dir;		/* NULL: memory only */
};

/* Order of the ack states (delivered < shown < read < relayed); 0 none. */
int		 agent_ack_rank(int state);
/* dir NULL: memory only.  Loads what dir holds. */
struct agent_inbox *agent_inbox_open(const char *dir, uint32_t max,
		    uint32_t keep_s, char *err, size_t errlen);
struct agent_inbox_item *agent_inbox_find(const struct agent_inbox *,
		    const char *id);
/* A verified envelope, as delivered; NULL if it does not decode. */
struct agent_inbox_item *agent_inbox_add(struct agent_inbox *,
		    const uint8_t *env, size_t envlen, uint64_t seq,
		    uint8_t flags, uint64_t now);
/* Write the item's state (and its envelope, the first time). */
int		 agent_inbox_save(struct agent_inbox *,
		    struct agent_inbox_item *);
/* Drop what expired more than keep ago, then the oldest past max. */
void		 agent_inbox_purge(struct agent_inbox *, uint64_t now);
void		 agent_inbox_free(struct agent_inbox *);

/* --- agent_page.c: the inbox and display pages ------------------------ */

struct evbuffer;

/* What the page asks of the agent. */
struct agent_page_ops {
	/* The person moved it to state (reach for relayed): record, ack. */
	void	(*ack)(void *arg, struct agent_inbox_item *, int state,
		    uint32_t reach);
	/*
	 * clues: the person reports one (text, contact or NULL, checked):
	 * 0 and its id once sent, or -1 and why (not connected).
	 */
	int	(*clue)(void *arg, const char *text, const char *contact,
		    char *id, size_t idlen, char *why, size_t whylen);
	/* Our clues as a JSON array; refresh asks the daemon again. */
	void	(*clues_json)(void *arg, struct evbuffer *);
	void	(*clues_refresh)(void *arg);
};

struct agent_page;

/* Serve the pages on listen (loopback); NULL with err on failure. */
struct agent_page *agent_page_new(struct event_base *, const char *listen,
		    struct agent_inbox *, const char *principal,
		    const struct agent_page_ops *, void *arg, char *err,
		    size_t errlen);
const char	*agent_page_url(const struct agent_page *);
/* Tell open pages an item changed, or the session went up or down. */
void		 agent_page_changed(struct agent_page *,
		    const struct agent_inbox_item *);
void		 agent_page_status(struct agent_page *, int connected,
		    const char *server);
void		 agent_page_free(struct agent_page *);
/* Our clues changed: tell open pages (event "clues"). */
void		 agent_page_clues_changed(struct agent_page *);
/* "delivered", "shown", "read", "relayed" or "none". */
const char	*agent_ack_name(int state);

/* --- agent_hook.c: handing alerts to the person ------------------------ */

#define AGENT_HOOK_QUEUE_MAX	10000	/* waiting; more come again later
					 * (a failed one back at the head may
					 * make it one more) */
#define AGENT_HOOK_GRACE_MS	2000	/* SIGTERM to SIGKILL after a timeout */
/* Backoff after a failed hand-over: from min, doubling, up to max. */
#define AGENT_HOOK_RETRY_MIN_MS	5000	/* default min (hook_retry.min) */
#define AGENT_HOOK_RETRY_MAX_MS	300000	/* default max (hook_retry.max) */
#define AGENT_HOOK_RETRY_FLOOR_MS 10	/* no min below this */
#define AGENT_HOOK_RETRY_CEIL_MS 86400000 /* no max above this (1 day) */
/* Extra environment variables of agent_hook_setenv. */
#define AGENT_HOOK_EXTRA_MAX	8	/* variables at most */
#define AGENT_HOOK_EXTRA_NAME_MAX 64	/* bytes of a name */
#define AGENT_HOOK_EXTRA_VALUE_MAX 4096	/* bytes of a value */

/*
 * Told after each attempt to hand an alert over.  ok = 1: the hook exited
 * 0, or the block was printed; the alert is freed by the hook module after
 * this returns.  ok = 0: the hook failed (non-zero exit, killed after
 * hook_timeout, could not be started) or printing failed; the alert is NOT
 * freed: it stays owned by the module, at the head of the queue, and is
 * tried again after the backoff, so the same alert may be told ok = 0
 * several times before it is told ok = 1 once.  The exceptions: an
 * alert that has expired, or whose cancel has been queued, is not tried
 * again but dropped (after ok = 0, or silently if the cancel comes while
 * it waits); the next one then goes on.  The callback must not keep the
 * pointer past its return.
 */
typedef void	agent_hook_done_fn(struct agent_alert *, int ok, void *);

struct agent_hook;

/* cmd NULL: print to stdout.  principal is the agent's own CN. */
struct agent_hook *agent_hook_new(struct event_base *, const char *cmd,
		    uint32_t timeout_ms, const char *principal,
		    agent_hook_done_fn *done_cb, void *arg);
/*
 * Backoff between runs of a failing hook: min_ms, doubling, up to max_ms
 * (default AGENT_HOOK_RETRY_MIN_MS to AGENT_HOOK_RETRY_MAX_MS; clamped to
 * the floor and ceiling, min no more than max).
 */
void		 agent_hook_set_retry(struct agent_hook *, uint32_t min_ms,
		    uint32_t max_ms);
/*
 * An extra variable NAME=value in the environment of every later hook
 * run (WUZHA_INBOX_URL, say), set after the per-alert WUZHA_* ones; value
 * NULL removes it, setting it again replaces it.  A name that is not
 * [A-Za-z_][A-Za-z0-9_]* or is one set per alert, a value longer than
 * AGENT_HOOK_EXTRA_VALUE_MAX, or more than AGENT_HOOK_EXTRA_MAX variables
 * is logged and ignored.
 */
void		 agent_hook_setenv(struct agent_hook *, const char *name,
		    const char *value);
/* Queue an alert in seq order; takes ownership.  -1 (and freed) if full. */
int		 agent_hook_push(struct agent_hook *, struct agent_alert *);
/* Is this id queued or being handed over right now? */
int		 agent_hook_has(const struct agent_hook *, const char *id);
/* Kill a running hook, cancel a pending retry, forget the queue (shutdown). */
void		 agent_hook_stop(struct agent_hook *);
void		 agent_hook_free(struct agent_hook *);

/* --- agent_clue.c: clues the person reports from the page ------------- */

struct agent_clues;
struct evp_pkey_st;

/* Put the frames in b (consumed) on the session: 0, or -1 if it is down. */
typedef int	 agent_clues_send_fn(void *arg, struct proto_buf *b);

/* Takes ownership of key (the agent's own, Ed25519); NULL if no memory. */
struct agent_clues *agent_clues_new(struct event_base *,
		    struct evp_pkey_st *key, const char *cn,
		    agent_clues_send_fn *, void *arg);
void		 agent_clues_free(struct agent_clues *);
/* The page to tell of changes (NULL: none, and nothing is asked). */
void		 agent_clues_set_page(struct agent_clues *, struct agent_page *);
/*
 * The page reports a clue from us at node ("" before the first session):
 * signed, listed as sending and sent; 0 and its id, or -1 and why.
 */
int		 agent_clues_page_report(struct agent_clues *, const char *node,
		    const char *text, const char *contact, char *id,
		    size_t idlen, char *why, size_t whylen);
/* Ask the daemon for ours (CLUES mine), if a page shows them. */
void		 agent_clues_ask(struct agent_clues *);
/* A new session: what was never answered goes again, then ask. */
void		 agent_clues_session(struct agent_clues *);
/* CLUE_OK, CLUES, CLUE_PUSH: 1 if it was one (handled), else 0. */
int		 agent_clues_frame(struct agent_clues *, uint8_t type,
		    const uint8_t *, size_t);
/* An ERROR about one of our clues: 1 (handled; 501 is retried), else 0. */
int		 agent_clues_on_error(struct agent_clues *,
		    const struct proto_error *);
/* The list, newest first, as a JSON array. */
void		 agent_clues_json(const struct agent_clues *, struct evbuffer *);

#endif
