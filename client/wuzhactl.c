/* SPDX-License-Identifier: ISC */
/*
 * wuzhactl: the console for people and scripts.  A table of verbs, as in
 * smtpctl, each run by one function: the network verbs connect to wuzhad
 * as a CONSOLE, send one request and print the answer; the tree verbs
 * work on tree files and, on the server host, on Redis directly.
 * Exit status: 0 done, 1 refused or failed, 2 bad command line.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf.h"
#include "edit.h"
#include "proto.h"
#include "client.h"
#include "ctl.h"
#include "log.h"

#ifndef WUZHA_VERSION
#define WUZHA_VERSION	"0"
#endif

static int	ctl_help(struct ctl *, int, char **);

static const struct ctl_cmd ctl_cmds[] = {
	{ { "publish", NULL }, ctl_publish,
	    "--target NODE --headline TEXT [--text TEXT | --text-file FILE|-] "
	    "[--instruction TEXT] [--category warning|knowledge|case-followup] "
	    "[--severity extreme|severe|moderate|minor|unknown] "
	    "[--expires DURATION] [--relay-required] [--id ID] "
	    "[--type alert|update|cancel] [--references ID] "
	    "[--remind-after DURATION] [--max-reminders N] "
	    "[--escalate-after DURATION] [--at TIME|+DURATION] "
	    "[--status actual|exercise|test | --drill] "
	    "[--template NAME [--set KEY=VALUE ...]] [--dry-run] [--json] | "
	    "--cap FILE [--print] [-v]",
	    "sign an alert with our own key and publish it (or hold it "
	    "until --at); --cap: one read from a CAP 1.2 document" },
	{ { "ack", NULL }, ctl_ack,
	    "ID shown|read|relayed [--reach N]",
	    "confirm that an alert was shown on screen, read, or relayed to N "
	    "people" },
	{ { "receipts", NULL }, ctl_receipts,
	    "ID [--node NODE] [--verify] [--json]",
	    "the signed receipts of an alert; --verify checks each against "
	    "the CA" },
	{ { "status", NULL }, ctl_status,
	    "ID [--node NODE] [--depth N|all] [--sort read|id] [--offset N] "
	    "[--limit N] [--json]",
	    "delivery and reading rates of an alert, node by node" },
	{ { "watch", NULL }, ctl_watch,
	    "ID [--node NODE] [--depth N|all] [--sort read|id] [--offset N] "
	    "[--limit N] [--json]",
	    "the acknowledgement tree of an alert, redrawn as acks arrive, "
	    "until all have read" },
	{ { "pending", NULL }, ctl_pending,
	    "ID [--node NODE] [--state read|relayed] [--json]",
	    "who below NODE has not read (or relayed) an alert yet" },
	{ { "agents", NULL }, ctl_agents,
	    "[--node NODE] [--unseen DURATION] [--json]",
	    "who is connected, since when, and who has been away longer "
	    "than DURATION" },
	{ { "schedule", "list" }, ctl_schedule_list,
	    "[--node NODE] [--json]",
	    "alerts held until their publication time" },
	{ { "schedule", "cancel" }, ctl_schedule_cancel,
	    "ID [--json]",
	    "cancel a held alert: it will never go out" },
	{ { "audit", "verify" }, ctl_audit_verify_cmd,
	    "[--from-file FILE [--only-file]] [--json]",
	    "check the audit log: every signature, every checkpoint, and name "
	    "the first bad entry" },
	{ { "report", NULL }, ctl_report,
	    "[--node NODE] [--depth N|all] --from DATE --to DATE "
	    "[--csv | --json] [--verified [--audit-file FILE]]",
	    "per node: alerts received, shares delivered, read and relayed "
	    "in time, median time to read; --verified: counted again from "
	    "the audit log's signed receipts" },
	{ { "clue", NULL }, ctl_clue,
	    "--text TEXT [--contact TEXT] [--id ID] [--node NODE] [--json]",
	    "report a suspected fraud to our school's and police unit's "
	    "observers, signed with our own key" },
	{ { "clues", NULL }, ctl_clues,
	    "[--pending | --all | --mine] [--id ID] [--json]",
	    "clues at our node not yet received by us (default), all of "
	    "them, or those we reported, with their states" },
	{ { "clue-mark", NULL }, ctl_clue_mark,
	    "ID received|handled [--note TEXT] [--json]",
	    "confirm a clue's receipt, or that it was handled (signed)" },
	{ { "serve", NULL }, ctl_serve,
	    "[--listen HOST:PORT] [--url-file FILE]",
	    "the console in a browser, on loopback, until Ctrl-C" },
	{ { "templates", NULL }, ctl_templates,
	    "[NAME] [--json]",
	    "the alert templates, or one with its placeholders" },
	{ { "tree", "import" }, ctl_tree_import,
	    "FILE [--csv CLASSES.csv]... [--police UNIT] "
	    "--redis SOCKET|HOST:PORT [--prefix P]",
	    "check a tree file and make it the tree in Redis" },
	{ { "tree", "export" }, ctl_tree_export,
	    "--redis SOCKET|HOST:PORT [--prefix P]",
	    "print the tree in Redis as YAML" },
	{ { "redis", "rearm" }, ctl_redis_rearm,
	    "--redis SOCKET|HOST:PORT [--prefix P]",
	    "after Redis lost its data: raise seq past what wuzhad saw and "
	    "let it publish again" },
	{ { "tree", "principals" }, ctl_tree_principals,
	    "FILE [--csv CLASSES.csv]... [--police UNIT]",
	    "print CN NODE RIGHTS for each principal of a tree file" },
	{ { "cap", "export" }, ctl_cap_export,
	    "ID [-o FILE]",
	    "write an alert, verified, as an OASIS CAP 1.2 document" },
	{ { "help", NULL }, ctl_help,
	    "[VERB]",
	    "this list, or what one verb takes (also: VERB --help)" },
};

#define CTL_NCMDS	(sizeof(ctl_cmds) / sizeof(ctl_cmds[0]))

static void
ctl_usage_line(FILE *f, const struct ctl_cmd *c)
{
	fprintf(f, "usage: wuzhactl [-c ctl.yaml] [-t SECONDS] %s%s%s%s%s\n",
	    c->words[0], c->words[1] ? " " : "", c->words[1] ? c->words[1] :
	    "", c->args[0] ? " " : "", c->args);
}

int
ctl_usage(struct ctl *ctl)
{
	ctl_usage_line(stderr, ctl->cmd);
	return CTL_USAGE;
}

static __attribute__((noreturn)) void
usage(void)
{
	fprintf(stderr, "usage: wuzhactl [-c ctl.yaml] [-t SECONDS] VERB "
	    "[ARG ...]\n       wuzhactl help\n");
	exit(CTL_USAGE);
}

static const struct ctl_cmd	*ctl_lookup(int, char **, int *);
static const char		*ctl_suggest(const char *);

/* One verb's usage and what it does, on stdout: its --help. */
static int
ctl_help_verb(const struct ctl_cmd *c)
{
	ctl_usage_line(stdout, c);
	printf("\n%s\n\nSee wuzhactl(1) for its options.\n", c->help);
	return CTL_OK;
}

/* help [VERB]: every verb with its arguments, or one verb. */
static int
ctl_help(struct ctl *ctl, int argc, char **argv)
{
	const struct ctl_cmd	*c;
	size_t			 i;
	int			 nwords;

	if (argc > 3)
		return ctl_usage(ctl);
	if (argc > 1) {
		if ((c = ctl_lookup(argc - 1, argv + 1, &nwords)) == NULL ||
		    nwords != argc - 1) {
			const char *near = ctl_suggest(argv[1]);

			fprintf(stderr, "wuzhactl: help: unknown verb: %s%s%s"
			    "%s%s%s\n", argv[1], argc > 2 ? " " : "",
			    argc > 2 ? argv[2] : "", near != NULL ? " (did you "
			    "mean " : "", near != NULL ? near : "", near != NULL ?
			    "?)" : "");
			return CTL_USAGE;
		}
		return ctl_help_verb(c);
	}
	printf("usage: wuzhactl [-c ctl.yaml] [-t SECONDS] VERB [ARG ...]\n\n"
	    "  -c ctl.yaml  client config (agent.yaml format); default "
	    "$WUZHA_CONF,\n               else %s\n"
	    "  -t SECONDS   give up on the server after this long "
	    "(default %d)\n"
	    "  -d           debug log on stderr\n\n", CTL_CONF_DEFAULT,
	    CTL_TIMEOUT_S);
	for (i = 0; i < CTL_NCMDS; i++) {
		printf("  %s%s%s%s%s\n      %s\n", ctl_cmds[i].words[0],
		    ctl_cmds[i].words[1] ? " " : "",
		    ctl_cmds[i].words[1] ? ctl_cmds[i].words[1] : "",
		    ctl_cmds[i].args[0] ? " " : "", ctl_cmds[i].args,
		    ctl_cmds[i].help);
	}
	return CTL_OK;
}

int
ctl_parse_u32(const char *s, uint32_t max, uint32_t *out)
{
	char			*end;
	unsigned long long	 v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* -c, -d or -t ch with its argument; -1 (said why) if the argument is bad. */
static int
ctl_global_opt(struct ctl *ctl, int ch, const char *arg)
{
	uint32_t	secs;

	switch (ch) {
	case 'c':
		ctl->conf_path = arg;
		return 0;
	case 'd':
		log_setlevel(LOG_L_DEBUG);
		return 0;
	case 't':
		if (ctl_parse_u32(arg, 86400, &secs) == -1 || secs == 0) {
			fprintf(stderr, "wuzhactl: -t %s: expected seconds, 1 "
			    "to 86400\n", arg);
			return -1;
		}
		ctl->timeout_ms = secs * 1000;
		return 0;
	}
	return -1;
}

/*
 * The verb's getopt_long, which takes wuzhactl's own -c, -d and -t
 * among the verb's options as well (status -c desk.yaml ID).  A long
 * option whose value is one of those letters still goes to the verb:
 * getopt_long sets the index only for long options.
 */
int
ctl_getopt(struct ctl *ctl, int argc, char **argv, const char *flags,
    const struct option *opts)
{
	char	shortopts[32];
	int	ch, idx;

	/* flags: "" or "+", then the verb's own short options, if any. */
	snprintf(shortopts, sizeof(shortopts), "%sc:dt:%s",
	    flags[0] == '+' ? "+" : "", flags + (flags[0] == '+'));
	for (;;) {
		idx = -1;
		ch = getopt_long(argc, argv, shortopts, opts, &idx);
		if (idx != -1 || (ch != 'c' && ch != 'd' && ch != 't'))
			return ch;
		if (ctl_global_opt(ctl, ch, optarg) == -1) {
			ctl_usage(ctl);
			exit(CTL_USAGE);
		}
	}
}

/* --node NODE into a request's node field (NULL: left empty). */
int
ctl_node_arg(const char *node, char *out)
{
	if (node == NULL) {
		out[0] = '\0';
		return 0;
	}
	if (!proto_node_id_valid(node, strlen(node))) {
		fprintf(stderr, "wuzhactl: --node %s: not a node id\n", node);
		return -1;
	}
	memcpy(out, node, strlen(node) + 1);
	return 0;
}

/* Escape quotes, backslashes and control characters; UTF-8 as is. */
void
ctl_json_str(FILE *f, const char *s, size_t len)
{
	size_t		i;
	unsigned char	ch;

	fputc('"', f);
	for (i = 0; i < len; i++) {
		ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", f);
		else if (ch == '\t')
			fputs("\\t", f);
		else if (ch == '\r')
			fputs("\\r", f);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

struct conf_agent *
ctl_conf(struct ctl *ctl)
{
	char	err[CONF_ERR_MAX + 64];

	if (ctl->conf != NULL)
		return ctl->conf;
	if ((ctl->conf = conf_agent_load(ctl->conf_path, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "wuzhactl: %s\n", err);
		exit(CTL_FAIL);
	}
	return ctl->conf;
}

/* --- one request, one answer -------------------------------------------- */

struct ctl_req {
	struct ctl		*ctl;
	struct event_base	*base;
	struct client		*conn;
	struct event		*ev_timeout;
	struct event		*ev_int, *ev_term;
	struct proto_buf	*req;
	uint8_t			 want;
	ctl_reply_fn		*fn;
	void			*arg;
	int			 rc;
	int			 done;		/* answered: closing is fine */
	int			 welcomed;	/* the session came up */
	int			 next;		/* failed before it: try the next server */
	size_t			 server;	/* conf->servers[] being tried */
};

/* The request is over (answered or refused): say BYE, then stop. */
static void
ctl_req_finish(struct ctl_req *r, int rc)
{
	r->rc = rc;
	r->done = 1;
	client_close(r->conn, 0, NULL);
}

static void
ctl_welcome_cb(struct client *c, const struct proto_welcome *w, void *arg)
{
	struct ctl_req	*r = arg;

	log_debug("welcome: principal %s node %s", w->principal, w->node);
	r->welcomed = 1;
	if (client_send(c, r->req) == -1) {
		fprintf(stderr, "wuzhactl: request not sent: larger than the "
		    "server accepts (%u bytes) or badly encoded\n",
		    w->max_frame);
		ctl_req_finish(r, CTL_FAIL);
	}
}

/* An ERROR ends the request; the awaited answer goes to the verb. */
static void
ctl_frame_cb(struct client *c, uint8_t type, const uint8_t *p, size_t len,
    void *arg)
{
	struct ctl_req		*r = arg;
	struct proto_error	 e;
	int			 rc;

	(void)c;
	if (r->done)
		return;
	if (type == PROTO_T_ERROR) {
		if ((rc = proto_error_decode(p, len, &e)) != 0) {
			fprintf(stderr, "wuzhactl: malformed ERROR from the "
			    "server: %s\n", proto_err_name(-rc));
			ctl_req_finish(r, CTL_FAIL);
			return;
		}
		fprintf(stderr, "wuzhactl: %s (%u): %.*s\n",
		    proto_err_name(e.code), e.code, (int)e.text.len,
		    (const char *)e.text.p);
		ctl_req_finish(r, CTL_FAIL);
		return;
	}
	if (type != r->want) {
		log_debug("ignoring %s", proto_type_name(type));
		return;
	}
	rc = r->fn(r->ctl, p, len, r->arg);
	if (rc == CTL_NEXT) {
		struct timeval tv;

		tv.tv_sec = r->ctl->timeout_ms / 1000;
		tv.tv_usec = (r->ctl->timeout_ms % 1000) * 1000;
		evtimer_add(r->ev_timeout, &tv);
		return;
	}
	if (rc == CTL_MORE) {
		/* A watch: answered once, it may now run as long as it must. */
		evtimer_del(r->ev_timeout);
		return;
	}
	ctl_req_finish(r, rc);
}

/* Ctrl-C (or a stop) while watching: say BYE and end. */
static void
ctl_signal_cb(evutil_socket_t sig, short ev, void *arg)
{
	struct ctl_req	*r = arg;
	struct timeval	 tv = { 2, 0 };

	(void)sig;
	(void)ev;
	if (r->done) {
		event_base_loopbreak(r->base);
		return;
	}
	ctl_req_finish(r, CTL_INTERRUPTED);
	/* The BYE gets a moment to flush, not more. */
	evtimer_add(r->ev_timeout, &tv);
}

static void
ctl_closed_cb(struct client *c, const char *reason, void *arg)
{
	struct ctl_req		*r = arg;
	struct conf_agent	*conf = ctl_conf(r->ctl);

	if (!r->done && !r->welcomed && r->server + 1 < conf->nservers) {
		/* Nothing was asked yet: the next daemon may answer. */
		fprintf(stderr, "wuzhactl: %s: %s; trying %s\n", client_peer(c),
		    reason, conf->servers[r->server + 1]);
		r->next = 1;
	} else if (!r->done) {
		fprintf(stderr, "wuzhactl: %s: %s\n", client_peer(c), reason);
		r->rc = CTL_FAIL;
		r->done = 1;
	}
	event_base_loopbreak(r->base);
}

/* The whole exchange took longer than -t. */
static void
ctl_timeout_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct ctl_req	*r = arg;

	(void)fd;
	(void)ev;
	if (!r->done)
		fprintf(stderr, "wuzhactl: %s: no answer within %u.%03u s\n",
		    client_peer(r->conn), r->ctl->timeout_ms / 1000,
		    r->ctl->timeout_ms % 1000);
	else
		log_debug("BYE did not flush in time");
	r->rc = r->done ? r->rc : CTL_FAIL;
	r->done = 1;
	event_base_loopbreak(r->base);
}

static const struct client_ops ctl_ops = {
	ctl_welcome_cb, ctl_frame_cb, ctl_closed_cb,
};

int
ctl_request_next(struct ctl *ctl, struct proto_buf *req)
{
	struct ctl_req	*r = ctl->req;
	int		 rc;

	rc = r != NULL && !r->done ? client_send(r->conn, req) : -1;
	pbuf_free(req);
	pbuf_init(req);
	if (rc == -1)
		fprintf(stderr, "wuzhactl: the next request could not be "
		    "sent\n");
	return rc;
}

void
ctl_request_want(struct ctl *ctl, uint8_t want)
{
	if (ctl->req != NULL)
		ctl->req->want = want;
}

/* One connection, one request, one answer; see ctl.h. */
int
ctl_request(struct ctl *ctl, struct proto_buf *req, uint8_t want,
    ctl_reply_fn *fn, void *arg)
{
	struct conf_agent	*conf = ctl_conf(ctl);
	struct client_tls	*tls;
	struct ctl_req		 r;
	struct timeval		 tv;
	char			 err[512];

	memset(&r, 0, sizeof(r));
	r.ctl = ctl;
	r.req = req;
	r.want = want;
	r.fn = fn;
	r.arg = arg;
	r.rc = CTL_FAIL;
	if ((tls = client_tls_new(conf, err, sizeof(err))) == NULL) {
		fprintf(stderr, "wuzhactl: %s\n", err);
		pbuf_free(req);
		pbuf_init(req);
		return CTL_FAIL;
	}
	ctl->req = &r;
	if ((r.base = event_base_new()) == NULL ||
	    (r.ev_timeout = evtimer_new(r.base, ctl_timeout_cb, &r)) == NULL ||
	    (r.ev_int = evsignal_new(r.base, SIGINT, ctl_signal_cb,
	    &r)) == NULL ||
	    (r.ev_term = evsignal_new(r.base, SIGTERM, ctl_signal_cb,
	    &r)) == NULL) {
		fprintf(stderr, "wuzhactl: out of memory\n");
		goto done;
	}
	tv.tv_sec = ctl->timeout_ms / 1000;
	tv.tv_usec = (ctl->timeout_ms % 1000) * 1000;
	evtimer_add(r.ev_timeout, &tv);
	evsignal_add(r.ev_int, NULL);
	evsignal_add(r.ev_term, NULL);
	/* The servers listed, in turn, until one gives a session (-t in all). */
	for (r.server = 0; r.server < conf->nservers; r.server++) {
		client_free(r.conn);
		r.next = 0;
		if ((r.conn = client_new(r.base, tls, conf, PROTO_ROLE_CONSOLE,
		    &ctl_ops, &r)) == NULL ||
		    client_set_peer(r.conn, conf->servers[r.server]) == -1) {
			fprintf(stderr, "wuzhactl: out of memory\n");
			goto done;
		}
		client_set_agent_name(r.conn, "wuzhactl/" WUZHA_VERSION);
		client_set_handshake_ms(r.conn, ctl->timeout_ms);
		/* A STATUS of a large subtree may well pass the agents' limit. */
		client_set_max_frame(r.conn, PROTO_FRAME_MAX_LIMIT);
		if (client_connect(r.conn, err, sizeof(err)) == -1) {
			if (r.server + 1 < conf->nservers) {
				fprintf(stderr, "wuzhactl: cannot connect to %s: "
				    "%s; trying %s\n", conf->servers[r.server],
				    err, conf->servers[r.server + 1]);
				continue;
			}
			fprintf(stderr, "wuzhactl: cannot connect: %s\n", err);
			goto done;
		}
		event_base_dispatch(r.base);
		if (!r.next)
			break;
	}
 done:
	client_free(r.conn);
	if (r.ev_int != NULL)
		event_free(r.ev_int);
	if (r.ev_term != NULL)
		event_free(r.ev_term);
	if (r.ev_timeout != NULL)
		event_free(r.ev_timeout);
	if (r.base != NULL)
		event_base_free(r.base);
	client_tls_free(tls);
	pbuf_free(req);
	pbuf_init(req);
	ctl->req = NULL;
	return r.rc;
}

/* --- main ---------------------------------------------------------------- */

/*
 * The first word of a verb nearest to word (1 or 2 edits), or NULL: none
 * is near, or word is one already (then the second word is wrong).
 */
static const char *
ctl_suggest(const char *word)
{
	const char	*best = NULL;
	size_t		 i, d, bd = 3;

	for (i = 0; i < CTL_NCMDS; i++)
		if ((d = edit_distance(word, ctl_cmds[i].words[0], 2)) < bd &&
		    d > 0) {
			bd = d;
			best = ctl_cmds[i].words[0];
		}
	return best;
}

/* The verb named by argv[0] (and argv[1]), or NULL. */
static const struct ctl_cmd *
ctl_lookup(int argc, char **argv, int *nwords)
{
	size_t	i;

	for (i = 0; i < CTL_NCMDS; i++) {
		if (strcmp(argv[0], ctl_cmds[i].words[0]) != 0)
			continue;
		if (ctl_cmds[i].words[1] == NULL) {
			*nwords = 1;
			return &ctl_cmds[i];
		}
		if (argc > 1 && strcmp(argv[1], ctl_cmds[i].words[1]) == 0) {
			*nwords = 2;
			return &ctl_cmds[i];
		}
	}
	return NULL;
}

/* wuzhactl [-d] [-c ctl.yaml] [-t SECONDS] VERB [ARG ...] */
int
main(int argc, char *argv[])
{
	struct ctl	 ctl;
	const char	*env;
	int		 ch, nwords, rc;

	log_init("wuzhactl", LOG_L_WARNING, LOG_PRIO_JOURNAL);
	signal(SIGPIPE, SIG_IGN);
	memset(&ctl, 0, sizeof(ctl));
	ctl.timeout_ms = CTL_TIMEOUT_S * 1000;
	ctl.conf_path = (env = getenv("WUZHA_CONF")) != NULL && *env != '\0' ?
	    env : CTL_CONF_DEFAULT;
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("wuzhactl %s\n", WUZHA_VERSION);
		return CTL_OK;
	}
	if (argc > 1 && strcmp(argv[1], "--help") == 0)
		argv[1] = (char *)"-h";
	while ((ch = getopt(argc, argv, "+c:dt:h")) != -1) {
		switch (ch) {
		case 'c':
		case 'd':
		case 't':
			if (ctl_global_opt(&ctl, ch, optarg) == -1)
				usage();
			break;
		case 'h': {
			char	*help[] = { (char *)"help", NULL };

			ctl.cmd = ctl_lookup(1, help, &nwords);
			return ctl_help(&ctl, 1, help);
		}
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		usage();
	if ((ctl.cmd = ctl_lookup(argc, argv, &nwords)) == NULL) {
		int two = argc > 1 && (strcmp(argv[0], "tree") == 0 ||
		    strcmp(argv[0], "schedule") == 0 ||
		    strcmp(argv[0], "redis") == 0);

		const char *near = two ? NULL : ctl_suggest(argv[0]);

		fprintf(stderr, "wuzhactl: unknown verb: %s%s%s%s%s%s\n",
		    argv[0], two ? " " : "", two ? argv[1] : "",
		    near != NULL ? " (did you mean " : "", near != NULL ? near :
		    "", near != NULL ? "?)" : "");
		usage();
	}
	argc -= nwords - 1;
	argv += nwords - 1;
	/* VERB --help (or -h), wherever the verb's own options would be. */
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0))
		return ctl_help_verb(ctl.cmd);
	optind = 0;		/* let the verb run getopt_long afresh */
	rc = ctl.cmd->fn(&ctl, argc, argv);
	conf_agent_free(ctl.conf);
	if (fflush(stdout) == EOF && rc == CTL_OK) {
		fprintf(stderr, "wuzhactl: stdout: %s\n", strerror(errno));
		rc = CTL_FAIL;
	}
	return rc;
}
