/* SPDX-License-Identifier: ISC */
/*
 * agent_hook: hands verified alerts to the person, one at a time and in
 * sequence order.  With a hook configured, each alert runs
 * `/bin/sh -c HOOK` in a process group of its own, with the alert in
 * WUZHA_* environment variables and its text on stdin; the event loop is
 * never blocked: stdin is fed by a write event, the child is reaped from
 * a SIGCHLD signal event, and a timer kills it (SIGTERM, then SIGKILL)
 * after hook_timeout.  Without a hook the alert is printed to stdout.
 * Either way the owner is told whether the hand-over succeeded.  A hook
 * that fails keeps its alert at the head of the queue (a cancel must not
 * overtake its original) and is run again after a backoff that doubles
 * from the retry minimum to the maximum, until it works, the alert
 * expires, or a cancel of it comes.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "proto.h"
#include "client.h"
#include "agent.h"
#include "clock.h"
#include "log.h"

extern char **environ;

#define AGENT_HOOK_NVARS	18	/* WUZHA_* variables set per alert */

struct agent_hook {
	struct event_base	*base;
	char			*cmd;		/* NULL: print to stdout */
	uint32_t		 timeout_ms;
	uint32_t		 retry_min_ms;	/* first delay after a failure */
	uint32_t		 retry_max_ms;	/* the doubling stops here */
	char			*principal;	/* own CN, WUZHA_PRINCIPAL */
	char			*extra[AGENT_HOOK_EXTRA_MAX]; /* "NAME=value" */
	size_t			 nextra;
	agent_hook_done_fn	*done_cb;
	void			*arg;
	struct agent_alertq	 queue;		/* waiting, by seq */
	size_t			 nqueued;
	struct agent_alert	*running;	/* being handed over */
	pid_t			 pid;		/* of the running hook, or -1 */
	int			 killed;	/* 1 after SIGTERM, 2 after KILL */
	int			 in_fd;		/* write end of the hook's stdin */
	size_t			 in_off;	/* text bytes written so far */
	struct event		*ev_in;		/* stdin writable */
	struct event		*ev_timeout;	/* hook_timeout, then grace */
	struct event		*ev_next;	/* deferred: start the next */
	struct event		*ev_chld;	/* SIGCHLD */
	struct event		*ev_retry;	/* backoff after a failure */
	struct agent_alert	*failing;	/* the last that failed, queued
						 * or running again */
	unsigned		 attempts;	/* failed runs of failing */
	uint32_t		 delay_ms;	/* the last backoff of failing */
};

static void	agent_hook_in_cb(evutil_socket_t, short, void *);
static void	agent_hook_timeout_cb(evutil_socket_t, short, void *);
static void	agent_hook_next_cb(evutil_socket_t, short, void *);
static void	agent_hook_chld_cb(evutil_socket_t, short, void *);
static void	agent_hook_retry_cb(evutil_socket_t, short, void *);

void
agent_alert_free(struct agent_alert *al)
{
	if (al == NULL)
		return;
	free(al->env);
	free(al);
}

/* The hand-over queue; listens for SIGCHLD from the start. */
struct agent_hook *
agent_hook_new(struct event_base *base, const char *cmd, uint32_t timeout_ms,
    const char *principal, agent_hook_done_fn *done_cb, void *arg)
{
	struct agent_hook	*h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->base = base;
	h->timeout_ms = timeout_ms;
	h->retry_min_ms = AGENT_HOOK_RETRY_MIN_MS;
	h->retry_max_ms = AGENT_HOOK_RETRY_MAX_MS;
	h->done_cb = done_cb;
	h->arg = arg;
	h->pid = -1;
	h->in_fd = -1;
	TAILQ_INIT(&h->queue);
	if ((cmd != NULL && (h->cmd = strdup(cmd)) == NULL) ||
	    (h->principal = strdup(principal)) == NULL)
		goto fail;
	if ((h->ev_timeout = evtimer_new(base, agent_hook_timeout_cb,
	    h)) == NULL ||
	    (h->ev_next = event_new(base, -1, 0, agent_hook_next_cb,
	    h)) == NULL ||
	    (h->ev_retry = evtimer_new(base, agent_hook_retry_cb,
	    h)) == NULL ||
	    (h->ev_chld = evsignal_new(base, SIGCHLD, agent_hook_chld_cb,
	    h)) == NULL ||
	    event_add(h->ev_chld, NULL) == -1)
		goto fail;
	return h;
 fail:
	agent_hook_free(h);
	return NULL;
}

/* Bounds of the backoff between runs of a failing hook, clamped. */
void
agent_hook_set_retry(struct agent_hook *h, uint32_t min_ms, uint32_t max_ms)
{
	if (min_ms < AGENT_HOOK_RETRY_FLOOR_MS)
		min_ms = AGENT_HOOK_RETRY_FLOOR_MS;
	if (max_ms > AGENT_HOOK_RETRY_CEIL_MS)
		max_ms = AGENT_HOOK_RETRY_CEIL_MS;
	if (min_ms > max_ms)
		min_ms = max_ms;
	h->retry_min_ms = min_ms;
	h->retry_max_ms = max_ms;
}

/* The variables set per alert: an extra one may not take their names. */
static const char *const agent_hook_names[] = {
	"WUZHA_ID", "WUZHA_SEQ", "WUZHA_ISSUER", "WUZHA_TARGET", "WUZHA_TYPE",
	"WUZHA_REFERENCES", "WUZHA_CATEGORY", "WUZHA_SEVERITY",
	"WUZHA_HEADLINE", "WUZHA_INSTRUCTION", "WUZHA_ISSUED_AT",
	"WUZHA_EXPIRES_AT", "WUZHA_RELAY_REQUIRED", "WUZHA_REMINDER",
	"WUZHA_PRINCIPAL", "WUZHA_STATUS", "WUZHA_DRILL", "WUZHA_PUBLISH_AT",
};

/* A name a shell can use: [A-Za-z_][A-Za-z0-9_]*, not one set per alert. */
static int
agent_hook_env_name(const char *name)
{
	size_t	i;

	if (name[0] == '\0' || strlen(name) > AGENT_HOOK_EXTRA_NAME_MAX ||
	    (name[0] >= '0' && name[0] <= '9'))
		return -1;
	for (i = 0; name[i] != '\0'; i++)
		if (!((name[i] >= 'A' && name[i] <= 'Z') ||
		    (name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
			return -1;
	for (i = 0; i < sizeof(agent_hook_names) /
	    sizeof(agent_hook_names[0]); i++)
		if (strcmp(name, agent_hook_names[i]) == 0)
			return -1;
	return 0;
}

/*
 * Set (value NULL: remove) an extra variable for every later hook run;
 * a bad name, a value too long or one variable too many is logged and
 * ignored.
 */
void
agent_hook_setenv(struct agent_hook *h, const char *name, const char *value)
{
	size_t	 i, len = strlen(name);
	char	*nv = NULL;

	if (agent_hook_env_name(name) == -1) {
		log_warnx("hook environment: %s: not a name the hook may be "
		    "given", name);
		return;
	}
	if (value != NULL && strlen(value) > AGENT_HOOK_EXTRA_VALUE_MAX) {
		log_warnx("hook environment: %s: value longer than %d bytes",
		    name, AGENT_HOOK_EXTRA_VALUE_MAX);
		return;
	}
	if (value != NULL && asprintf(&nv, "%s=%s", name, value) == -1) {
		log_warnx("hook environment: %s: out of memory", name);
		return;
	}
	for (i = 0; i < h->nextra; i++)
		if (strncmp(h->extra[i], name, len) == 0 &&
		    h->extra[i][len] == '=')
			break;
	if (i < h->nextra) {
		free(h->extra[i]);
		if (nv != NULL)
			h->extra[i] = nv;
		else
			h->extra[i] = h->extra[--h->nextra];
		return;
	}
	if (nv == NULL)
		return;
	if (h->nextra >= AGENT_HOOK_EXTRA_MAX) {
		log_warnx("hook environment: %s: already %d extra variables",
		    name, AGENT_HOOK_EXTRA_MAX);
		free(nv);
		return;
	}
	h->extra[h->nextra++] = nv;
}

int
agent_hook_has(const struct agent_hook *h, const char *id)
{
	const struct agent_alert	*al;

	if (h->running != NULL && strcmp(h->running->a.id, id) == 0)
		return 1;
	TAILQ_FOREACH(al, &h->queue, entry)
		if (strcmp(al->a.id, id) == 0)
			return 1;
	return 0;
}

/* Into the queue by seq: before equal seqs if head (a retry), else after. */
static void
agent_hook_insert(struct agent_hook *h, struct agent_alert *al, int head)
{
	struct agent_alert	*at;

	if (head) {
		TAILQ_FOREACH(at, &h->queue, entry)
			if (at->seq >= al->seq)
				break;
		if (at == NULL)
			TAILQ_INSERT_TAIL(&h->queue, al, entry);
		else
			TAILQ_INSERT_BEFORE(at, al, entry);
	} else {
		TAILQ_FOREACH_REVERSE(at, &h->queue, agent_alertq, entry)
			if (at->seq <= al->seq)
				break;
		if (at == NULL)
			TAILQ_INSERT_HEAD(&h->queue, al, entry);
		else
			TAILQ_INSERT_AFTER(&h->queue, at, al, entry);
	}
	h->nqueued++;
}

/* Nothing runs and no backoff holds the queue: start the next. */
static void
agent_hook_kick(struct agent_hook *h)
{
	if (h->running == NULL && !TAILQ_EMPTY(&h->queue) &&
	    !evtimer_pending(h->ev_retry, NULL))
		event_active(h->ev_next, EV_TIMEOUT, 0);
}

/* A cancel of id waiting in the queue, or NULL. */
static const struct agent_alert *
agent_hook_cancel_of(const struct agent_hook *h, const char *id)
{
	const struct agent_alert	*at;

	TAILQ_FOREACH(at, &h->queue, entry)
		if (at->a.msg_type == PROTO_MSG_CANCEL &&
		    strcmp(at->a.references, id) == 0)
			return at;
	return NULL;
}

/*
 * Insert in seq order, and start it if nothing is running.  A cancel of
 * the alert whose hook failed and waits to be run again ends the wait:
 * that alert is dropped (it was told ok = 0 already), the cancel goes on.
 */
int
agent_hook_push(struct agent_hook *h, struct agent_alert *al)
{
	struct agent_alert	*f = h->failing;

	if (h->nqueued >= AGENT_HOOK_QUEUE_MAX) {
		log_warnx("alert %s seq %llu: %d alerts already waiting, it "
		    "will come again", al->a.id, (unsigned long long)al->seq,
		    AGENT_HOOK_QUEUE_MAX);
		agent_alert_free(al);
		return -1;
	}
	if (f != NULL && f != h->running && al->a.msg_type ==
	    PROTO_MSG_CANCEL && strcmp(f->a.id, al->a.references) == 0) {
		log_warnx("alert %s seq %llu: not tried again after %u failed "
		    "attempts: cancelled by %s", f->a.id,
		    (unsigned long long)f->seq, h->attempts, al->a.id);
		TAILQ_REMOVE(&h->queue, f, entry);
		h->nqueued--;
		evtimer_del(h->ev_retry);
		h->failing = NULL;
		h->attempts = 0;
		agent_alert_free(f);
	}
	agent_hook_insert(h, al, 0);
	agent_hook_kick(h);
	return 0;
}

/*
 * The hand-over of al is over.  ok: tell the owner, free the alert, move
 * on.  Failed (why says how): tell the owner, keep the alert at the head
 * of the queue, and hold the queue for the next delay of the backoff;
 * unless a cancel of it is waiting or it has expired: then it is
 * dropped, and the next goes on.
 */
static void
agent_hook_done(struct agent_hook *h, struct agent_alert *al, int ok,
    const char *why)
{
	const struct agent_alert	*c;
	struct timeval			 tv;

	if (ok) {
		if (h->failing == al) {
			if (h->attempts > 0)
				log_info("alert %s seq %llu: handed over at "
				    "attempt %u", al->a.id,
				    (unsigned long long)al->seq,
				    h->attempts + 1);
			h->failing = NULL;
			h->attempts = 0;
		}
		h->done_cb(al, 1, h->arg);
		agent_alert_free(al);
		agent_hook_kick(h);
		return;
	}
	if (h->failing != al) {
		h->failing = al;
		h->attempts = 0;
	}
	if (h->attempts < UINT_MAX)
		h->attempts++;
	if (h->attempts == 1)
		h->delay_ms = h->retry_min_ms;
	else if (h->delay_ms > h->retry_max_ms / 2)
		h->delay_ms = h->retry_max_ms;
	else
		h->delay_ms *= 2;
	c = agent_hook_cancel_of(h, al->a.id);
	if (c != NULL || al->a.expires_at <= now_ms()) {
		/* Withdrawn meanwhile (the cancel goes next), or too late. */
		log_warnx("alert %s seq %llu: %s (attempt %u); not tried "
		    "again: %s%s", al->a.id, (unsigned long long)al->seq, why,
		    h->attempts, c != NULL ? "cancelled by " : "expired",
		    c != NULL ? c->a.id : "");
		h->done_cb(al, 0, h->arg);
		h->failing = NULL;
		h->attempts = 0;
		agent_alert_free(al);
		agent_hook_kick(h);
		return;
	}
	log_warnx("alert %s seq %llu: %s (attempt %u); trying again in "
	    "%u ms", al->a.id, (unsigned long long)al->seq, why,
	    h->attempts, h->delay_ms);
	h->done_cb(al, 0, h->arg);
	agent_hook_insert(h, al, 1);
	tv.tv_sec = h->delay_ms / 1000;
	tv.tv_usec = (h->delay_ms % 1000) * 1000;
	if (evtimer_add(h->ev_retry, &tv) == -1) {
		log_warnx("alert %s: cannot arm the retry timer", al->a.id);
		event_active(h->ev_next, EV_TIMEOUT, 0);
	}
}

/* --- stdout ------------------------------------------------------------- */

/* An enum name, or "?" for a value the decoder should not have let in. */
static const char *
agent_hook_nm(const char *s)
{
	return s != NULL ? s : "?";
}

static void
agent_hook_print_view(const char *label, const struct proto_view *v)
{
	if (v->len > 0)
		printf("%-12s %.*s\n", label, (int)v->len, (const char *)v->p);
}

/* The readable block for a person watching the agent's terminal. */
static int
agent_hook_print(const struct agent_alert *al)
{
	const struct proto_alert	*a = &al->a;
	char				 t1[40], t2[40];

	printf("==== wuzha alert %s (seq %llu)%s%s ====\n", a->id,
	    (unsigned long long)al->seq,
	    a->status == PROTO_STATUS_EXERCISE ? " DRILL (演练): not a real "
	    "warning" : a->status == PROTO_STATUS_TEST ? " TEST (测试): not a "
	    "real warning" : "",
	    (al->flags & PROTO_AF_REMINDER) ? " REMINDER: not read yet" : "");
	if (a->msg_type == PROTO_MSG_CANCEL)
		printf("CANCELLED: %s\n", a->references);
	else if (a->msg_type == PROTO_MSG_UPDATE)
		printf("UPDATE of %s\n", a->references);
	agent_hook_print_view("Headline:", &a->headline);
	printf("%-12s %s\n", "Type:",
	    agent_hook_nm(proto_msg_type_name(a->msg_type)));
	if (a->references[0] != '\0')
		printf("%-12s %s\n", "References:", a->references);
	printf("%-12s %s\n", "Category:",
	    agent_hook_nm(proto_category_name(a->category)));
	printf("%-12s %s\n", "Severity:",
	    agent_hook_nm(proto_severity_name(a->severity)));
	printf("%-12s %s\n", "Issuer:", a->issuer);
	printf("%-12s %s\n", "Target:", a->target);
	printf("%-12s %s\n", "Issued:",
	    client_time_str(a->issued_at, t1, sizeof(t1)));
	printf("%-12s %s\n", "Expires:",
	    client_time_str(a->expires_at, t2, sizeof(t2)));
	if (a->relay_required)
		printf("%-12s %s\n", "Relay:", "required: pass it on to the "
		    "class and confirm");
	agent_hook_print_view("Instruction:", &a->instruction);
	if (a->text.len > 0)
		printf("\n%.*s\n", (int)a->text.len, (const char *)a->text.p);
	printf("==== end of %s ====\n\n", a->id);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		log_warn("alert %s: cannot print", a->id);
		clearerr(stdout);
		return -1;
	}
	return 0;
}

/* --- the hook process --------------------------------------------------- */

/*
 * Environment for the hook: ours without any WUZHA_* variable, then the
 * alert's, then the extra ones of agent_hook_setenv.  envp[first..] are
 * allocated here; agent_hook_env_free frees them.
 */
static char **
agent_hook_env(struct agent_hook *h, const struct agent_alert *al,
    size_t *first)
{
	const struct proto_alert	*a = &al->a;
	char				**envp;
	size_t				 n = 0, i, k = 0;
	int				 rc = 0;

	while (environ[n] != NULL)
		n++;
	if ((envp = calloc(n + AGENT_HOOK_NVARS + h->nextra + 1,
	    sizeof(*envp))) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if (strncmp(environ[i], "WUZHA_", 6) != 0)
			envp[k++] = environ[i];
	*first = k;
#define ENV(...) do {							\
	if (rc != -1 && (rc = asprintf(&envp[k], __VA_ARGS__)) != -1)	\
		k++;							\
} while (0)
	ENV("WUZHA_ID=%s", a->id);
	ENV("WUZHA_SEQ=%llu", (unsigned long long)al->seq);
	ENV("WUZHA_ISSUER=%s", a->issuer);
	ENV("WUZHA_TARGET=%s", a->target);
	ENV("WUZHA_TYPE=%s",
	    agent_hook_nm(proto_msg_type_name(a->msg_type)));
	ENV("WUZHA_REFERENCES=%s", a->references);
	ENV("WUZHA_CATEGORY=%s",
	    agent_hook_nm(proto_category_name(a->category)));
	ENV("WUZHA_SEVERITY=%s",
	    agent_hook_nm(proto_severity_name(a->severity)));
	ENV("WUZHA_HEADLINE=%.*s", (int)a->headline.len,
	    (const char *)a->headline.p);
	ENV("WUZHA_INSTRUCTION=%.*s", (int)a->instruction.len,
	    a->instruction.len ? (const char *)a->instruction.p : "");
	ENV("WUZHA_ISSUED_AT=%llu", (unsigned long long)a->issued_at);
	ENV("WUZHA_EXPIRES_AT=%llu", (unsigned long long)a->expires_at);
	ENV("WUZHA_RELAY_REQUIRED=%d", a->relay_required ? 1 : 0);
	ENV("WUZHA_REMINDER=%d", (al->flags & PROTO_AF_REMINDER) ? 1 : 0);
	ENV("WUZHA_PRINCIPAL=%s", h->principal);
	ENV("WUZHA_STATUS=%s", agent_hook_nm(proto_alert_status_name(a->status)));
	ENV("WUZHA_DRILL=%d", a->status != PROTO_STATUS_ACTUAL ? 1 : 0);
	ENV("WUZHA_PUBLISH_AT=%llu", (unsigned long long)a->publish_at);
	/* After ours, so that the inherited WUZHA_* strip leaves them be. */
	for (i = 0; i < h->nextra; i++)
		ENV("%s", h->extra[i]);
#undef ENV
	if (rc == -1) {
		envp[k] = NULL;
		for (i = *first; i < k; i++)
			free(envp[i]);
		free(envp);
		return NULL;
	}
	envp[k] = NULL;
	return envp;
}

static void
agent_hook_env_free(char **envp, size_t first)
{
	size_t	i;

	if (envp == NULL)
		return;
	for (i = first; envp[i] != NULL; i++)
		free(envp[i]);
	free(envp);
}

/* Start the hook for al; -1 if it could not be started. */
static int
agent_hook_spawn(struct agent_hook *h, struct agent_alert *al)
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 attr;
	sigset_t			 none, dfl;
	struct timeval			 tv;
	char				*argv[4], **envp;
	size_t				 first = 0;
	int				 pfd[2], rc;

	if ((envp = agent_hook_env(h, al, &first)) == NULL) {
		log_warnx("alert %s: out of memory for the hook", al->a.id);
		return -1;
	}
	if (pipe2(pfd, O_CLOEXEC) == -1) {
		log_warn("alert %s: pipe", al->a.id);
		agent_hook_env_free(envp, first);
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[0], STDIN_FILENO);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGCHLD);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGHUP);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
	    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	argv[0] = (char *)"sh";
	argv[1] = (char *)"-c";
	argv[2] = h->cmd;
	argv[3] = NULL;
	rc = posix_spawn(&h->pid, "/bin/sh", &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	agent_hook_env_free(envp, first);
	close(pfd[0]);
	if (rc != 0) {
		errno = rc;
		log_warn("alert %s: cannot start hook", al->a.id);
		close(pfd[1]);
		h->pid = -1;
		return -1;
	}
	log_debug("alert %s: hook started, pid %ld", al->a.id, (long)h->pid);
	h->running = al;
	h->killed = 0;
	h->in_fd = pfd[1];
	h->in_off = 0;
	(void)fcntl(h->in_fd, F_SETFL, fcntl(h->in_fd, F_GETFL) | O_NONBLOCK);
	if ((h->ev_in = event_new(h->base, h->in_fd, EV_WRITE | EV_PERSIST,
	    agent_hook_in_cb, h)) == NULL || event_add(h->ev_in, NULL) == -1) {
		log_warnx("alert %s: cannot feed the hook's stdin", al->a.id);
		if (h->ev_in != NULL)
			event_free(h->ev_in);
		h->ev_in = NULL;
		close(h->in_fd);
		h->in_fd = -1;
	}
	tv.tv_sec = h->timeout_ms / 1000;
	tv.tv_usec = (h->timeout_ms % 1000) * 1000;
	evtimer_add(h->ev_timeout, &tv);
	return 0;
}

/* Stop feeding stdin: the hook sees end of file. */
static void
agent_hook_in_close(struct agent_hook *h)
{
	if (h->ev_in != NULL) {
		event_free(h->ev_in);
		h->ev_in = NULL;
	}
	if (h->in_fd != -1) {
		close(h->in_fd);
		h->in_fd = -1;
	}
}

/* The hook's stdin can take more of the alert text. */
static void
agent_hook_in_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct agent_hook		*h = arg;
	const struct proto_view		*t;
	ssize_t				 n;

	(void)fd;
	(void)ev;
	if (h->running == NULL) {
		agent_hook_in_close(h);
		return;
	}
	t = &h->running->a.text;
	while (h->in_off < t->len) {
		n = write(h->in_fd, t->p + h->in_off, t->len - h->in_off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			/* EPIPE: the hook did not want its stdin. */
			log_debug("alert %s: hook stdin: %s", h->running->a.id,
			    strerror(errno));
			break;
		}
		h->in_off += (size_t)n;
	}
	agent_hook_in_close(h);
}

/* The hook took too long: SIGTERM to its group, then SIGKILL. */
static void
agent_hook_timeout_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct agent_hook	*h = arg;
	struct timeval		 tv;

	(void)fd;
	(void)ev;
	if (h->pid == -1)
		return;
	if (h->killed == 0) {
		log_warnx("alert %s: hook still running after %u ms, stopping "
		    "it", h->running->a.id, h->timeout_ms);
		(void)kill(-h->pid, SIGTERM);
		h->killed = 1;
		tv.tv_sec = AGENT_HOOK_GRACE_MS / 1000;
		tv.tv_usec = (AGENT_HOOK_GRACE_MS % 1000) * 1000;
		evtimer_add(h->ev_timeout, &tv);
	} else {
		(void)kill(-h->pid, SIGKILL);
		h->killed = 2;
	}
}

/* The running hook has exited with status. */
static void
agent_hook_exited(struct agent_hook *h, int status)
{
	struct agent_alert	*al = h->running;
	char			 why[64];
	int			 ok = 0;

	h->running = NULL;
	h->pid = -1;
	evtimer_del(h->ev_timeout);
	agent_hook_in_close(h);
	if (h->killed)
		snprintf(why, sizeof(why), "hook timed out after %u ms",
		    h->timeout_ms);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		ok = 1;
	else if (WIFEXITED(status))
		snprintf(why, sizeof(why), "hook failed with exit status %d",
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(why, sizeof(why), "hook killed by signal %d",
		    WTERMSIG(status));
	else
		snprintf(why, sizeof(why), "hook ended with status %#x",
		    (unsigned)status);
	agent_hook_done(h, al, ok, ok ? NULL : why);
}

static void
agent_hook_chld_cb(evutil_socket_t sig, short ev, void *arg)
{
	struct agent_hook	*h = arg;
	pid_t			 pid;
	int			 status;

	(void)sig;
	(void)ev;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if (pid == h->pid && h->running != NULL)
			agent_hook_exited(h, status);
}

/* Start handing over the next alert(s) of the queue. */
static void
agent_hook_next_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct agent_hook	*h = arg;
	struct agent_alert	*al;

	(void)fd;
	(void)ev;
	while (h->running == NULL && !evtimer_pending(h->ev_retry, NULL) &&
	    (al = TAILQ_FIRST(&h->queue)) != NULL) {
		TAILQ_REMOVE(&h->queue, al, entry);
		h->nqueued--;
		if (h->cmd == NULL) {
			if (agent_hook_print(al) == 0)
				agent_hook_done(h, al, 1, NULL);
			else
				agent_hook_done(h, al, 0, "cannot print it");
			continue;
		}
		if (agent_hook_spawn(h, al) == -1)
			agent_hook_done(h, al, 0, "hook cannot be started");
	}
}

/* The backoff after a failure is over: run the head of the queue again. */
static void
agent_hook_retry_cb(evutil_socket_t fd, short ev, void *arg)
{
	agent_hook_next_cb(fd, ev, arg);
}

/* For shutdown: kill and reap the running hook, drop the queue and retry. */
void
agent_hook_stop(struct agent_hook *h)
{
	struct agent_alert	*al;
	int			 status;

	if (h->pid != -1) {
		log_info("alert %s: stopping its hook", h->running->a.id);
		(void)kill(-h->pid, SIGKILL);
		while (waitpid(h->pid, &status, 0) == -1 && errno == EINTR)
			;
		h->pid = -1;
	}
	agent_hook_in_close(h);
	if (h->ev_timeout != NULL)
		evtimer_del(h->ev_timeout);
	if (h->ev_retry != NULL)
		evtimer_del(h->ev_retry);
	h->failing = NULL;
	h->attempts = 0;
	agent_alert_free(h->running);
	h->running = NULL;
	while ((al = TAILQ_FIRST(&h->queue)) != NULL) {
		TAILQ_REMOVE(&h->queue, al, entry);
		agent_alert_free(al);
	}
	h->nqueued = 0;
}

/* Stop, then free the events and strings. */
void
agent_hook_free(struct agent_hook *h)
{
	if (h == NULL)
		return;
	agent_hook_stop(h);
	if (h->ev_timeout != NULL)
		event_free(h->ev_timeout);
	if (h->ev_next != NULL)
		event_free(h->ev_next);
	if (h->ev_chld != NULL)
		event_free(h->ev_chld);
	if (h->ev_retry != NULL)
		event_free(h->ev_retry);
	while (h->nextra > 0)
		free(h->extra[--h->nextra]);
	free(h->cmd);
	free(h->principal);
	free(h);
}
