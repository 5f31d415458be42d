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
};
TAILQ_HEAD(agent_alertq, agent_alert);

void	agent_alert_free(struct agent_alert *);

/* --- agent_state.c: ids already shown, ids withdrawn ------------------- */

/* Ids remembered at most; when full, the one that expires first goes. */
#define AGENT_STATE_MAX		100000
#define AGENT_STATE_LINE_MAX	128	/* longest line of the state file */

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
/* Drop expired ids and write the file atomically (tmp, fsync, rename). */
int		 agent_state_save(struct agent_state *, uint64_t now_ms);
size_t		 agent_state_count(const struct agent_state *);
void		 agent_state_free(struct agent_state *);

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

#endif
