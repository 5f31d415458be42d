/* SPDX-License-Identifier: ISC */
/*
 * wuzhactl serve: the console in a browser, for a desk or an officer,
 * with their own certificate and key, on loopback (client/http.c does
 * the checks).  Each thing the page asks for is one run of this same
 * wuzhactl with the same configuration, as a child with its arguments
 * in argv (never a shell) and --json: what the page shows is exactly
 * what the verb prints, alerts are signed here as `publish` signs them,
 * and a slow answer holds up nothing else.  A watch is a child that
 * lives as long as the page's event stream: each tree it prints is one
 * event.
 *
 *	GET  /S/			console.html
 *	GET  /S/api/session		{principal, server, published: [...]}
 *	GET  /S/api/templates		templates --json
 *	GET  /S/api/template?name=N	templates N --json
 *	GET  /S/api/status?id=&node=&depth=
 *	GET  /S/api/pending?id=&node=&state=
 *	GET  /S/api/agents?node=&unseen=
 *	GET  /S/api/schedule?node=
 *	GET  /S/api/report?from=&to=&node=&depth=
 *	GET  /S/api/report.csv?...	the same as a CSV download
 *	GET  /S/api/watch?id=&node=&depth=	event stream of trees
 *	POST /S/api/preview		publish --dry-run: the alert as signed
 *	POST /S/api/publish		publish
 *	POST /S/api/schedule-cancel	id=ID
 *	GET  /S/api/clues?which=pending|all	clues reported to us
 *	POST /S/api/clue-mark	id=ID&state=received|handled[&note=TEXT]
 *
 * Answers are {"ok":true,"out":"<what the verb printed>"} or
 * {"ok":false,"exit":N,"error":"<what it said on stderr>"}.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/x509.h>

#include "clock.h"
#include "conf.h"
#include "proto.h"
#include "client.h"
#include "ctl.h"
#include "http.h"
#include "log.h"

extern const struct http_asset ctl_web_assets[];

#define SERVE_JOBS_MAX		64	/* children at once (watches included) */
#define SERVE_OUT_MAX		(64 * 1024 * 1024) /* what one child may print */
#define SERVE_ERR_MAX		(64 * 1024)
#define SERVE_ARGS_MAX		96
#define SERVE_PUBLISHED_MAX	200	/* alerts published here, remembered */
#define SERVE_GRACE_S		5	/* past -t before a child is killed */

enum serve_kind {
	SERVE_JSON,		/* answer: {"ok":..., "out":...} */
	SERVE_CSV,		/* answer: the CSV as a download */
	SERVE_STREAM,		/* each line printed: an event */
};

struct serve;

struct serve_job {
	TAILQ_ENTRY(serve_job)	 entry;
	struct serve		*sv;
	enum serve_kind		 kind;
	pid_t			 pid;
	int			 fd_out, fd_err;
	struct event		*ev_out, *ev_err, *ev_reap, *ev_kill;
	struct evbuffer		*out, *err;
	struct evhttp_request	*req;		/* NULL once the browser went */
	struct evhttp_connection *evcon;
	struct http_sse		*sse;
	int			 status;
	int			 reaped;
	int			 publish;	/* remember the id printed */
	int			 freeing;	/* in serve_job_free */
	char			 what[32];	/* verb, for the log */
};
TAILQ_HEAD(serve_jobq, serve_job);

struct serve_published {
	char		id[PROTO_ID_MAX + 1];
	char		target[PROTO_ID_MAX + 1];
	char		headline[PROTO_HEADLINE_MAX + 1];
	uint64_t	at;
};

struct serve {
	struct ctl		*ctl;
	struct event_base	*base;
	struct http_srv		*srv;
	char			 self[PATH_MAX];
	char			 cn[PROTO_ID_MAX + 1];
	struct serve_jobq	 jobs;
	size_t			 njobs;
	struct serve_published	 pub[SERVE_PUBLISHED_MAX];
	size_t			 npub;		/* ring: newest at npub - 1 */
	struct event		*ev_int, *ev_term;
};

static void	serve_job_free(struct serve_job *);

static void
serve_json_str(struct evbuffer *b, const char *s)
{
	http_json_str(b, s, strlen(s));
}

/* An id or a node as the verbs take them: no option, no odd byte. */
static int
serve_id_ok(const char *s)
{
	size_t	i, n = strlen(s);

	if (n == 0 || n > PROTO_ID_MAX || s[0] == '-' || s[0] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		    s[i] == '_' || s[i] == '.'))
			return 0;
	return 1;
}

static void
serve_fail(struct evhttp_request *req, int code, const char *why)
{
	struct evbuffer	*b = evbuffer_new();

	if (b == NULL) {
		http_reply_error(req, 500, "Out of memory");
		return;
	}
	evbuffer_add_printf(b, "{\"ok\":false,\"exit\":%d,\"error\":", CTL_USAGE);
	serve_json_str(b, why);
	evbuffer_add(b, "}", 1);
	http_reply_json(req, code, b);
	evbuffer_free(b);
}

/* --- the children ------------------------------------------------------ */

/* The browser's connection went: nobody waits for this answer. */
static void
serve_req_gone(struct evhttp_connection *evcon, void *arg)
{
	struct serve_job	*j = arg;

	(void)evcon;
	http_req_gone(j->req);
	j->req = NULL;
	j->evcon = NULL;
	if (j->pid > 0 && !j->reaped)
		kill(j->pid, SIGTERM);
}

/* The watch's event stream went: the child goes too. */
static void
serve_sse_gone(void *arg)
{
	struct serve_job	*j = arg;

	j->sse = NULL;
	if (j->freeing)
		return;
	if (j->pid > 0 && !j->reaped)
		kill(j->pid, SIGTERM);
	if (j->reaped && j->fd_out == -1 && j->fd_err == -1)
		serve_job_free(j);
}

/* A published alert's id, from publish --json's output. */
static void
serve_remember(struct serve *sv, struct serve_job *j)
{
	struct serve_published	*p;
	const char		*o = (const char *)evbuffer_pullup(j->out, -1);
	const char		*k;
	size_t			 n;

	if (o == NULL || (k = strstr(o, "\"id\":\"")) == NULL)
		return;
	k += 6;
	n = strcspn(k, "\"");
	if (n == 0 || n > PROTO_ID_MAX)
		return;
	p = &sv->pub[sv->npub % SERVE_PUBLISHED_MAX];
	memset(p, 0, sizeof(*p));
	memcpy(p->id, k, n);
	p->at = now_ms();
	sv->npub++;
}

/* The child is done and its output read: answer the page. */
static void
serve_job_finish(struct serve_job *j)
{
	struct evbuffer	*b;
	const char	*err;
	int		 ok = WIFEXITED(j->status) &&
			    WEXITSTATUS(j->status) == 0;
	int		 code = WIFEXITED(j->status) ?
			    WEXITSTATUS(j->status) : 128 + WTERMSIG(j->status);

	evbuffer_add(j->err, "", 1);
	err = (const char *)evbuffer_pullup(j->err, -1);
	if (j->kind == SERVE_STREAM) {
		if (j->sse != NULL && (b = evbuffer_new()) != NULL) {
			evbuffer_add_printf(b, "{\"exit\":%d,\"error\":", code);
			serve_json_str(b, err);
			evbuffer_add(b, "}", 1);
			http_sse_send(j->sse, "end",
			    (const char *)evbuffer_pullup(b, -1),
			    evbuffer_get_length(b));
			evbuffer_free(b);
		}
		if (j->sse == NULL)
			serve_job_free(j);
		/* else freed when the page closes the stream */
		return;
	}
	if (ok && j->publish)
		serve_remember(j->sv, j);
	if (j->req != NULL) {
		evhttp_connection_set_closecb(j->evcon, NULL, NULL);
		if (ok && j->kind == SERVE_CSV)
			http_reply_text(j->req, 200, "text/csv; charset=utf-8",
			    "attachment; filename=\"wuzha-report.csv\"",
			    j->out);
		else if ((b = evbuffer_new()) != NULL) {
			if (ok) {
				evbuffer_add(b, "{\"ok\":true,\"out\":", 17);
				evbuffer_add(j->out, "", 1);
				serve_json_str(b, (const char *)
				    evbuffer_pullup(j->out, -1));
			} else {
				evbuffer_add_printf(b, "{\"ok\":false,\"exit\":"
				    "%d,\"error\":", code);
				serve_json_str(b, err[0] ? err :
				    "the command failed");
			}
			evbuffer_add(b, "}", 1);
			http_reply_json(j->req, 200, b);
			evbuffer_free(b);
		}
		j->req = NULL;
	}
	serve_job_free(j);
}

static void
serve_reap_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct serve_job	*j = arg;
	struct timeval		 tv = { 0, 10000 };
	pid_t			 r;

	(void)fd;
	(void)ev;
	if (j->fd_out != -1 || j->fd_err != -1)
		return;
	if ((r = waitpid(j->pid, &j->status, WNOHANG)) == 0) {
		evtimer_add(j->ev_reap, &tv);
		return;
	}
	if (r == -1)
		j->status = 255 << 8;
	j->reaped = 1;
	evtimer_del(j->ev_kill);
	serve_job_finish(j);
}

/* Lines of a watch as events; for the rest, gather (bounded). */
static void
serve_stream_lines(struct serve_job *j)
{
	struct evbuffer_ptr	 p;
	char			*line;
	size_t			 n;

	for (;;) {
		p = evbuffer_search_eol(j->out, NULL, &n, EVBUFFER_EOL_LF);
		if (p.pos < 0)
			return;
		if ((line = malloc((size_t)p.pos + 1)) == NULL)
			return;
		evbuffer_remove(j->out, line, (size_t)p.pos);
		evbuffer_drain(j->out, n);
		line[p.pos] = '\0';
		if (j->sse != NULL)
			http_sse_send(j->sse, "tree", line, (size_t)p.pos);
		free(line);
	}
}

static void
serve_read_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct serve_job	*j = arg;
	int			 is_out = fd == j->fd_out;
	struct evbuffer		*b = is_out ? j->out : j->err;
	size_t			 max = is_out ? SERVE_OUT_MAX : SERVE_ERR_MAX;
	int			 n;

	(void)ev;
	n = evbuffer_read(b, fd, 65536);
	if (n > 0) {
		if (is_out && j->kind == SERVE_STREAM)
			serve_stream_lines(j);
		if (evbuffer_get_length(b) > max) {
			log_warnx("serve: %s printed over %zu bytes: stopped",
			    j->what, max);
			if (is_out) {
				evbuffer_drain(j->out, evbuffer_get_length(
				    j->out));
				evbuffer_add_printf(j->err, "the answer is over "
				    "%d MiB: ask for a smaller part (--node)",
				    SERVE_OUT_MAX / (1024 * 1024));
			}
			kill(j->pid, SIGTERM);
			n = 0;
		} else
			return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	/* EOF or error: this pipe is done. */
	if (is_out) {
		event_del(j->ev_out);
		close(j->fd_out);
		j->fd_out = -1;
	} else {
		event_del(j->ev_err);
		close(j->fd_err);
		j->fd_err = -1;
	}
	if (j->fd_out == -1 && j->fd_err == -1)
		serve_reap_cb(-1, 0, j);
}

static void
serve_kill_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct serve_job	*j = arg;

	(void)fd;
	(void)ev;
	log_warnx("serve: %s took too long: killed", j->what);
	kill(j->pid, SIGKILL);
}

static void
serve_job_free(struct serve_job *j)
{
	if (j == NULL || j->freeing)
		return;
	j->freeing = 1;
	if (j->sse != NULL) {
		struct http_sse *s = j->sse;

		j->sse = NULL;
		http_sse_close(s);	/* calls serve_sse_gone: nothing left */
	}
	if (j->req != NULL && j->evcon != NULL)
		evhttp_connection_set_closecb(j->evcon, NULL, NULL);
	if (j->pid > 0 && !j->reaped) {
		kill(j->pid, SIGKILL);
		waitpid(j->pid, NULL, 0);
	}
	if (j->fd_out != -1)
		close(j->fd_out);
	if (j->fd_err != -1)
		close(j->fd_err);
	if (j->ev_out != NULL)
		event_free(j->ev_out);
	if (j->ev_err != NULL)
		event_free(j->ev_err);
	if (j->ev_reap != NULL)
		event_free(j->ev_reap);
	if (j->ev_kill != NULL)
		event_free(j->ev_kill);
	if (j->out != NULL)
		evbuffer_free(j->out);
	if (j->err != NULL)
		evbuffer_free(j->err);
	if (j->sv != NULL) {
		TAILQ_REMOVE(&j->sv->jobs, j, entry);
		j->sv->njobs--;
	}
	free(j);
}

/*
 * Run this wuzhactl with args (verb first), as the same principal, and
 * answer req when it is done.  The arguments are argv, not a shell line.
 */
static void
serve_run(struct serve *sv, struct evhttp_request *req, enum serve_kind kind,
    char **args, size_t nargs, int publish)
{
	struct serve_job	*j;
	char			*argv[SERVE_ARGS_MAX + 8], tsec[16];
	struct timeval		 tv;
	size_t			 n = 0, i;
	int			 po[2] = { -1, -1 }, pe[2] = { -1, -1 };

	if (sv->njobs >= SERVE_JOBS_MAX) {
		serve_fail(req, 503, "too many requests under way");
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		serve_fail(req, 500, "out of memory");
		return;
	}
	j->sv = sv;
	j->kind = kind;
	j->fd_out = j->fd_err = -1;
	j->publish = publish;
	snprintf(j->what, sizeof(j->what), "%s", args[0]);
	TAILQ_INSERT_TAIL(&sv->jobs, j, entry);
	sv->njobs++;
	snprintf(tsec, sizeof(tsec), "%u", sv->ctl->timeout_ms / 1000);
	argv[n++] = sv->self;
	argv[n++] = (char *)"-c";
	argv[n++] = (char *)sv->ctl->conf_path;
	argv[n++] = (char *)"-t";
	argv[n++] = tsec;
	for (i = 0; i < nargs && i < SERVE_ARGS_MAX; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if ((j->out = evbuffer_new()) == NULL ||
	    (j->err = evbuffer_new()) == NULL ||
	    pipe2(po, O_CLOEXEC) == -1 || pipe2(pe, O_CLOEXEC) == -1) {
		serve_fail(req, 500, "cannot start the command");
		goto fail;
	}
	if ((j->pid = fork()) == -1) {
		serve_fail(req, 500, "cannot start the command");
		goto fail;
	}
	if (j->pid == 0) {
		int	null = open("/dev/null", O_RDONLY);

		if (null == -1 || dup2(null, 0) == -1 || dup2(po[1], 1) == -1 ||
		    dup2(pe[1], 2) == -1)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		execv(sv->self, argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	j->fd_out = po[0];
	j->fd_err = pe[0];
	evutil_make_socket_nonblocking(j->fd_out);
	evutil_make_socket_nonblocking(j->fd_err);
	j->ev_out = event_new(sv->base, j->fd_out, EV_READ | EV_PERSIST,
	    serve_read_cb, j);
	j->ev_err = event_new(sv->base, j->fd_err, EV_READ | EV_PERSIST,
	    serve_read_cb, j);
	j->ev_reap = evtimer_new(sv->base, serve_reap_cb, j);
	j->ev_kill = evtimer_new(sv->base, serve_kill_cb, j);
	if (j->ev_out == NULL || j->ev_err == NULL || j->ev_reap == NULL ||
	    j->ev_kill == NULL || event_add(j->ev_out, NULL) == -1 ||
	    event_add(j->ev_err, NULL) == -1) {
		serve_fail(req, 500, "cannot follow the command");
		goto fail;
	}
	if (kind == SERVE_STREAM) {
		if ((j->sse = http_sse_open(sv->srv, req, serve_sse_gone,
		    j)) == NULL) {
			j->req = NULL;
			goto fail;
		}
	} else {
		tv.tv_sec = sv->ctl->timeout_ms / 1000 + SERVE_GRACE_S;
		tv.tv_usec = 0;
		evtimer_add(j->ev_kill, &tv);
		j->req = req;
		j->evcon = evhttp_request_get_connection(req);
		evhttp_connection_set_closecb(j->evcon, serve_req_gone, j);
	}
	return;
fail:
	if (po[1] != -1 && j->pid <= 0)
		close(po[1]);
	if (pe[1] != -1 && j->pid <= 0)
		close(pe[1]);
	if (j->fd_out == -1 && po[0] != -1)
		close(po[0]);
	if (j->fd_err == -1 && pe[0] != -1)
		close(pe[0]);
	serve_job_free(j);
}

/* --- the requests ------------------------------------------------------ */

/* Arguments built from the page's fields, each its own argv string. */
struct serve_args {
	char	*v[SERVE_ARGS_MAX];
	size_t	 n;
	int	 bad;
};

static void
serve_arg(struct serve_args *a, const char *s)
{
	if (a->n == SERVE_ARGS_MAX || (a->v[a->n] = strdup(s)) == NULL) {
		a->bad = 1;
		return;
	}
	a->n++;
}

/* --opt=VALUE, so that no value can be taken for an option. */
static void
serve_opt(struct serve_args *a, const char *opt, const char *val)
{
	char	*s;

	if (val == NULL || val[0] == '\0')
		return;
	if (asprintf(&s, "--%s=%s", opt, val) == -1) {
		a->bad = 1;
		return;
	}
	serve_arg(a, s);
	free(s);
}

static void
serve_args_free(struct serve_args *a)
{
	size_t	i;

	for (i = 0; i < a->n; i++)
		free(a->v[i]);
	a->n = 0;
}

static const char *
serve_q(const struct evkeyvalq *q, const char *key)
{
	return q != NULL ? evhttp_find_header(q, key) : NULL;
}

/* A node or id field: absent, or well-formed (else the request fails). */
static int
serve_check_ids(struct evhttp_request *req, const struct evkeyvalq *q,
    const char *const *keys)
{
	const char	*v;
	char		 why[96];

	for (; *keys != NULL; keys++)
		if ((v = serve_q(q, *keys)) != NULL && v[0] != '\0' &&
		    !serve_id_ok(v)) {
			snprintf(why, sizeof(why), "%s is not an id or a node "
			    "name", *keys);
			serve_fail(req, 400, why);
			return -1;
		}
	return 0;
}

/* The publish form, as publish's options. */
static int
serve_publish_args(struct serve_args *a, const struct evkeyvalq *form)
{
	static const char *const plain[] = {
		"target", "headline", "text", "instruction", "category",
		"severity", "expires", "type", "references", "at", "status",
		"template", "remind-after", "escalate-after", "max-reminders",
		NULL,
	};
	const struct evkeyval	*kv;
	const char *const	*k;
	const char		*v;

	serve_arg(a, "publish");
	for (k = plain; *k != NULL; k++)
		serve_opt(a, *k, serve_q(form, *k));
	if ((v = serve_q(form, "relay-required")) != NULL && strcmp(v, "1") == 0)
		serve_arg(a, "--relay-required");
	if ((v = serve_q(form, "drill")) != NULL && strcmp(v, "1") == 0)
		serve_arg(a, "--drill");
	TAILQ_FOREACH(kv, form, next)
		if (strcmp(kv->key, "set") == 0 && strchr(kv->value, '=') != NULL)
			serve_opt(a, "set", kv->value);
	serve_arg(a, "--json");
	return a->bad ? -1 : 0;
}

static void
serve_session(struct serve *sv, struct evhttp_request *req)
{
	struct evbuffer	*b = evbuffer_new();
	size_t		 i, n;

	if (b == NULL) {
		http_reply_error(req, 500, "Out of memory");
		return;
	}
	evbuffer_add(b, "{\"principal\":", 13);
	serve_json_str(b, sv->cn);
	evbuffer_add(b, ",\"server\":", 10);
	serve_json_str(b, sv->ctl->conf->server);
	evbuffer_add_printf(b, ",\"now\":%llu,\"published\":[",
	    (unsigned long long)now_ms());
	n = sv->npub < SERVE_PUBLISHED_MAX ? sv->npub : SERVE_PUBLISHED_MAX;
	for (i = 0; i < n; i++) {
		const struct serve_published *p =
		    &sv->pub[(sv->npub - 1 - i) % SERVE_PUBLISHED_MAX];

		if (i > 0)
			evbuffer_add(b, ",", 1);
		evbuffer_add(b, "{\"id\":", 6);
		serve_json_str(b, p->id);
		evbuffer_add_printf(b, ",\"at\":%llu}",
		    (unsigned long long)p->at);
	}
	evbuffer_add(b, "]}", 2);
	http_reply_json(req, 200, b);
	evbuffer_free(b);
}

static void
serve_handler(struct http_srv *srv, struct evhttp_request *req,
    const char *method, const char *path, const struct evkeyvalq *form,
    void *arg)
{
	static const char *const ids[] = { "id", "node", NULL };
	struct serve		*sv = arg;
	struct serve_args	 a;
	struct evkeyvalq	 query;
	const struct evkeyvalq	*q = form;
	const char		*qs, *v;
	enum serve_kind		 kind = SERVE_JSON;
	int			 post = strcmp(method, "POST") == 0, publish = 0;

	(void)srv;
	memset(&a, 0, sizeof(a));
	TAILQ_INIT(&query);
	if (!post) {
		qs = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
		if (qs != NULL && evhttp_parse_query_str(qs, &query) == -1) {
			serve_fail(req, 400, "the query does not parse");
			goto done;
		}
		q = &query;
	}
	if (serve_check_ids(req, q, ids) == -1)
		goto done;
	if (!post && strcmp(path, "api/session") == 0) {
		serve_session(sv, req);
		goto done;
	} else if (!post && strcmp(path, "api/templates") == 0) {
		serve_arg(&a, "templates");
		serve_arg(&a, "--json");
	} else if (!post && strcmp(path, "api/template") == 0) {
		if ((v = serve_q(q, "name")) == NULL || !serve_id_ok(v)) {
			serve_fail(req, 400, "name: a template's name");
			goto done;
		}
		serve_arg(&a, "templates");
		serve_arg(&a, v);
		serve_arg(&a, "--json");
	} else if (!post && (strcmp(path, "api/status") == 0 ||
	    strcmp(path, "api/watch") == 0 ||
	    strcmp(path, "api/pending") == 0)) {
		if ((v = serve_q(q, "id")) == NULL || v[0] == '\0') {
			serve_fail(req, 400, "id: which alert");
			goto done;
		}
		serve_arg(&a, path + 4);
		serve_arg(&a, v);
		serve_opt(&a, "node", serve_q(q, "node"));
		if (strcmp(path, "api/pending") == 0)
			serve_opt(&a, "state", serve_q(q, "state"));
		else {
			serve_opt(&a, "depth", serve_q(q, "depth"));
			serve_opt(&a, "sort", serve_q(q, "sort"));
			serve_opt(&a, "limit", serve_q(q, "limit"));
		}
		serve_arg(&a, "--json");
		if (strcmp(path, "api/watch") == 0)
			kind = SERVE_STREAM;
	} else if (!post && strcmp(path, "api/agents") == 0) {
		serve_arg(&a, "agents");
		serve_opt(&a, "node", serve_q(q, "node"));
		serve_opt(&a, "unseen", serve_q(q, "unseen"));
		serve_arg(&a, "--json");
	} else if (!post && strcmp(path, "api/schedule") == 0) {
		serve_arg(&a, "schedule");
		serve_arg(&a, "list");
		serve_opt(&a, "node", serve_q(q, "node"));
		serve_arg(&a, "--json");
	} else if (!post && (strcmp(path, "api/report") == 0 ||
	    strcmp(path, "api/report.csv") == 0)) {
		serve_arg(&a, "report");
		serve_opt(&a, "node", serve_q(q, "node"));
		serve_opt(&a, "depth", serve_q(q, "depth"));
		serve_opt(&a, "from", serve_q(q, "from"));
		serve_opt(&a, "to", serve_q(q, "to"));
		if (strcmp(path, "api/report.csv") == 0) {
			serve_arg(&a, "--csv");
			kind = SERVE_CSV;
		} else
			serve_arg(&a, "--json");
	} else if (post && (strcmp(path, "api/preview") == 0 ||
	    strcmp(path, "api/publish") == 0)) {
		if (serve_publish_args(&a, form) == -1) {
			serve_fail(req, 400, "too many fields");
			goto done;
		}
		if (strcmp(path, "api/preview") == 0)
			serve_arg(&a, "--dry-run");
		else
			publish = 1;
	} else if (post && strcmp(path, "api/schedule-cancel") == 0) {
		if ((v = serve_q(q, "id")) == NULL || v[0] == '\0') {
			serve_fail(req, 400, "id: which held alert");
			goto done;
		}
		serve_arg(&a, "schedule");
		serve_arg(&a, "cancel");
		serve_arg(&a, v);
		serve_arg(&a, "--json");
	} else if (!post && strcmp(path, "api/clues") == 0) {
		v = serve_q(q, "which");
		serve_arg(&a, "clues");
		serve_arg(&a, v != NULL && strcmp(v, "all") == 0 ? "--all" :
		    "--pending");
		serve_arg(&a, "--json");
	} else if (post && strcmp(path, "api/clue-mark") == 0) {
		if ((v = serve_q(q, "id")) == NULL || v[0] == '\0') {
			serve_fail(req, 400, "id: which clue");
			goto done;
		}
		qs = serve_q(q, "state");
		if (qs == NULL || (strcmp(qs, "received") != 0 &&
		    strcmp(qs, "handled") != 0)) {
			serve_fail(req, 400, "state: received or handled");
			goto done;
		}
		serve_arg(&a, "clue-mark");
		serve_arg(&a, v);
		serve_arg(&a, qs);
		serve_opt(&a, "note", serve_q(q, "note"));
		serve_arg(&a, "--json");
	} else {
		http_reply_error(req, 404, "Not Found");
		goto done;
	}
	if (a.bad) {
		serve_fail(req, 500, "out of memory");
		goto done;
	}
	serve_run(sv, req, kind, a.v, a.n, publish);
done:
	serve_args_free(&a);
	evhttp_clear_headers(&query);
}

static void
serve_signal_cb(evutil_socket_t sig, short ev, void *arg)
{
	struct serve	*sv = arg;

	(void)sig;
	(void)ev;
	event_base_loopbreak(sv->base);
}

/* serve [--listen HOST:PORT] [--url-file FILE] */
int
ctl_serve(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen",	required_argument, NULL, 'l' },
		{ "url-file",	required_argument, NULL, 'u' },
		{ NULL,		0,		   NULL, 0 },
	};
	struct serve		 sv;
	struct serve_job	*j;
	const char		*listen = "127.0.0.1:0", *url_file = NULL;
	char			 err[CONF_ERR_MAX + 64];
	X509			*cert;
	FILE			*f;
	ssize_t			 n;
	int			 ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (ch) {
		case 'l': listen = optarg; break;
		case 'u': url_file = optarg; break;
		default:
			fprintf(stderr, "wuzhactl: serve: bad option %s\n",
			    argv[optind - 1]);
			return ctl_usage(ctl);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "wuzhactl: serve: unexpected argument %s\n",
		    argv[optind]);
		return ctl_usage(ctl);
	}
	memset(&sv, 0, sizeof(sv));
	TAILQ_INIT(&sv.jobs);
	sv.ctl = ctl;
	ctl_conf(ctl);
	if ((cert = client_cert_load(ctl->conf->tls.cert, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "wuzhactl: %s\n", err);
		return CTL_FAIL;
	}
	if (client_cert_cn(cert, sv.cn, sizeof(sv.cn)) == -1)
		snprintf(sv.cn, sizeof(sv.cn), "?");
	X509_free(cert);
	if ((n = readlink("/proc/self/exe", sv.self, sizeof(sv.self) - 1)) <=
	    0) {
		fprintf(stderr, "wuzhactl: serve: cannot find its own "
		    "program: %s\n", strerror(errno));
		return CTL_FAIL;
	}
	sv.self[n] = '\0';
	if ((sv.base = event_base_new()) == NULL) {
		fprintf(stderr, "wuzhactl: serve: event_base_new failed\n");
		return CTL_FAIL;
	}
	if ((sv.srv = http_srv_new(sv.base, listen, ctl_web_assets,
	    "console.html", serve_handler, &sv, err, sizeof(err))) == NULL) {
		fprintf(stderr, "wuzhactl: serve: %s\n", err);
		event_base_free(sv.base);
		return CTL_USAGE;
	}
	sv.ev_int = evsignal_new(sv.base, SIGINT, serve_signal_cb, &sv);
	sv.ev_term = evsignal_new(sv.base, SIGTERM, serve_signal_cb, &sv);
	if (sv.ev_int == NULL || sv.ev_term == NULL ||
	    event_add(sv.ev_int, NULL) == -1 ||
	    event_add(sv.ev_term, NULL) == -1) {
		fprintf(stderr, "wuzhactl: serve: cannot set up signals\n");
		return CTL_FAIL;
	}
	if (url_file != NULL) {
		int fd = open(url_file, O_WRONLY | O_CREAT | O_TRUNC |
		    O_CLOEXEC, 0600);

		if (fd == -1 || (f = fdopen(fd, "w")) == NULL) {
			fprintf(stderr, "wuzhactl: serve: %s: %s\n", url_file,
			    strerror(errno));
			return CTL_FAIL;
		}
		fprintf(f, "%s\n", http_srv_url(sv.srv));
		fclose(f);
	}
	printf("console for %s at %s\n(Ctrl-C stops it)\n", sv.cn,
	    http_srv_url(sv.srv));
	fflush(stdout);
	event_base_dispatch(sv.base);
	while ((j = TAILQ_FIRST(&sv.jobs)) != NULL)
		serve_job_free(j);
	event_free(sv.ev_int);
	event_free(sv.ev_term);
	http_srv_free(sv.srv);
	event_base_free(sv.base);
	return CTL_OK;
}
