/* SPDX-License-Identifier: ISC */
/*
 * ctl_agents: reachability before sending.  Every principal below a node
 * with its state: online (since when), away (its agent went away not long
 * ago), unreachable (not seen for longer than --unseen, or never), or
 * console for a principal without the receive right, which has no agent
 * to reach.  A desk looks here before a warning goes out, so that a class
 * whose advisor's machine has been off is known in advance.
 *
 * Each page of the answer is walked twice: once to check it and size the
 * columns, once to print, so a malformed list prints nothing and the
 * columns line up whatever the length of the ids.  Pages are asked for
 * one after another until every principal below the node is listed, and
 * the counts are summed over them all.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "proto.h"
#include "client.h"
#include "ctl.h"

#define CTL_UNSEEN_DEFAULT	"24h"

/* What a desk can expect of one principal's agent. */
enum ctl_reach {
	CTL_R_ONLINE,		/* an agent is connected now */
	CTL_R_AWAY,		/* not connected, seen within --unseen */
	CTL_R_UNREACHABLE,	/* not seen for longer than --unseen, or never */
	CTL_R_CONSOLE,		/* no receive right: no agent expected */
	CTL_R_COUNT
};

static const char *const ctl_reach_names[CTL_R_COUNT] = {
	[CTL_R_ONLINE] = "online",
	[CTL_R_AWAY] = "away",
	[CTL_R_UNREACHABLE] = "unreachable",
	[CTL_R_CONSOLE] = "console",
};

/* On a terminal only; console rows stay plain. */
static const char *const ctl_reach_colours[CTL_R_COUNT] = {
	[CTL_R_ONLINE] = "\033[32m",
	[CTL_R_AWAY] = "\033[33m",
	[CTL_R_UNREACHABLE] = "\033[31m",
	[CTL_R_CONSOLE] = "",
};

struct ctl_agents {
	struct proto_agents_req rq;	/* offset moves on per page */
	int		 json;
	uint64_t	 unseen_ms;
	const char	*unseen;	/* as typed, for the summary */
	unsigned	 pages;
	size_t		 listed;
	size_t		 counts[CTL_R_COUNT];	/* over all pages */
	size_t		 wcn, wnode, wrights, wstate;	/* widest so far */
};

/* The first pass over an answer: what each column needs, and the totals. */
struct ctl_agents_sum {
	size_t		 counts[CTL_R_COUNT];
	size_t		 wcn, wnode, wrights, wstate;
};

/* The state of one principal, judged at the server's time. */
static enum ctl_reach
ctl_reach_of(const struct proto_agent_item *it, uint64_t now, uint64_t unseen)
{
	if (!(it->rights & PROTO_R_RECEIVE))
		return CTL_R_CONSOLE;
	if (it->online > 0)
		return CTL_R_ONLINE;
	if (it->last_seen == 0 || (now > it->last_seen &&
	    now - it->last_seen > unseen))
		return CTL_R_UNREACHABLE;
	return CTL_R_AWAY;
}

/* "3d4h", "12m5s", "40s": how long, roughly. */
static const char *
ctl_ago(uint64_t ms, char *buf, size_t len)
{
	uint64_t	s = ms / 1000;

	if (s >= 86400)
		snprintf(buf, len, "%llud%lluh", (unsigned long long)(s / 86400),
		    (unsigned long long)(s % 86400 / 3600));
	else if (s >= 3600)
		snprintf(buf, len, "%lluh%llum", (unsigned long long)(s / 3600),
		    (unsigned long long)(s % 3600 / 60));
	else if (s >= 60)
		snprintf(buf, len, "%llum%llus", (unsigned long long)(s / 60),
		    (unsigned long long)(s % 60));
	else
		snprintf(buf, len, "%llus", (unsigned long long)s);
	return buf;
}

/* Rights as the tree file writes them: "receive,issue,observe". */
static const char *
ctl_rights_str(uint8_t r, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s%s", (r & PROTO_R_RECEIVE) ? "receive" : "",
	    (r & PROTO_R_RECEIVE) && (r & (PROTO_R_ISSUE | PROTO_R_OBSERVE)) ?
	    "," : "", (r & PROTO_R_ISSUE) ? "issue" : "",
	    (r & PROTO_R_ISSUE) && (r & PROTO_R_OBSERVE) ? "," : "",
	    (r & PROTO_R_OBSERVE) ? "observe" : "");
	if (buf[0] == '\0')
		snprintf(buf, len, "-");
	return buf;
}

/*
 * Walk the list once: check every item, count the states and measure the
 * columns (at least as wide as their headings).  -1 after saying why if
 * the list is malformed.
 */
static int
ctl_agents_scan(const struct proto_agents *ag, const struct ctl_agents *ca,
    struct ctl_agents_sum *s)
{
	struct proto_agent_item	 it;
	enum ctl_reach		 st;
	char			 rights[32];
	size_t			 cur = 0, w;
	int			 rc;

	memset(s, 0, sizeof(*s));
	s->wcn = strlen("CN");
	s->wnode = strlen("NODE");
	s->wrights = strlen("RIGHTS");
	s->wstate = strlen("STATE");
	while ((rc = proto_agent_item_next(&ag->principals, &cur, &it)) == 1) {
		st = ctl_reach_of(&it, ag->server_time, ca->unseen_ms);
		s->counts[st]++;
		if ((w = ctl_width(it.cn, strlen(it.cn))) > s->wcn)
			s->wcn = w;
		if ((w = ctl_width(it.node, strlen(it.node))) > s->wnode)
			s->wnode = w;
		ctl_rights_str(it.rights, rights, sizeof(rights));
		if ((w = strlen(rights)) > s->wrights)
			s->wrights = w;
		if ((w = strlen(ctl_reach_names[st])) > s->wstate)
			s->wstate = w;
	}
	if (rc != 0) {
		fprintf(stderr, "wuzhactl: malformed AGENTS list: %s\n",
		    proto_err_name(-rc));
		return -1;
	}
	return 0;
}

/* One principal as a JSON object. */
static void
ctl_agents_json_item(const struct proto_agent_item *it, enum ctl_reach st,
    int first)
{
	static const struct {
		uint8_t		 bit;
		const char	*name;
	} rights[] = {
		{ PROTO_R_RECEIVE, "receive" },
		{ PROTO_R_ISSUE, "issue" },
		{ PROTO_R_OBSERVE, "observe" },
	};
	size_t		 i, k = 0;

	printf("%s{\"cn\":", first ? "" : ",");
	ctl_json_str(stdout, it->cn, strlen(it->cn));
	printf(",\"node\":");
	ctl_json_str(stdout, it->node, strlen(it->node));
	printf(",\"rights\":[");
	for (i = 0; i < sizeof(rights) / sizeof(rights[0]); i++)
		if (it->rights & rights[i].bit)
			printf("%s\"%s\"", k++ ? "," : "", rights[i].name);
	printf("],\"state\":\"%s\",\"online\":%u,\"since\":%llu,"
	    "\"last_seen\":%llu,\"server\":", ctl_reach_names[st], it->online,
	    (unsigned long long)it->since, (unsigned long long)it->last_seen);
	if (it->server[0] != '\0')
		ctl_json_str(stdout, it->server, strlen(it->server));
	else
		printf("null");
	printf("}");
}

/* The JSON form: one object on one line, its list over every page. */
static void
ctl_agents_json(const struct proto_agents *ag, struct ctl_agents *ca)
{
	struct proto_agent_item	 it;
	size_t			 cur = 0;

	if (ca->pages == 0) {
		printf("{\"node\":");
		ctl_json_str(stdout, ag->node, strlen(ag->node));
		printf(",\"server_time\":%llu,\"unseen_ms\":%llu,"
		    "\"principals\":[", (unsigned long long)ag->server_time,
		    (unsigned long long)ca->unseen_ms);
	}
	while (proto_agent_item_next(&ag->principals, &cur, &it) == 1)
		ctl_agents_json_item(&it, ctl_reach_of(&it, ag->server_time,
		    ca->unseen_ms), ca->listed++ == 0);
}

static void
ctl_agents_json_end(const struct proto_agents *ag, const struct ctl_agents *ca,
    uint32_t omitted)
{
	printf("],\"omitted\":%u,\"total\":%u,\"counts\":{\"online\":%zu,"
	    "\"away\":%zu,\"unreachable\":%zu,\"console\":%zu}}\n", omitted,
	    ag->total, ca->counts[CTL_R_ONLINE], ca->counts[CTL_R_AWAY],
	    ca->counts[CTL_R_UNREACHABLE], ca->counts[CTL_R_CONSOLE]);
}

/* What the last column says of one principal. */
static const char *
ctl_agents_detail(const struct proto_agent_item *it, enum ctl_reach st,
    uint64_t now, char *buf, size_t len)
{
	char	t[40], ago[32], on[PROTO_ID_MAX + 8], n[32];

	switch (st) {
	case CTL_R_ONLINE:
		on[0] = n[0] = '\0';
		if (it->server[0] != '\0')
			snprintf(on, sizeof(on), " on %s", it->server);
		if (it->online > 1)
			snprintf(n, sizeof(n), ", %u agents", it->online);
		snprintf(buf, len, "since %s (%s)%s%s",
		    client_time_str(it->since, t, sizeof(t)),
		    ctl_ago(now > it->since ? now - it->since : 0, ago,
		    sizeof(ago)), n, on);
		break;
	case CTL_R_AWAY:
	case CTL_R_UNREACHABLE:
		if (it->last_seen == 0)
			snprintf(buf, len, "never");
		else
			snprintf(buf, len, "%s (%s ago)",
			    client_time_str(it->last_seen, t, sizeof(t)),
			    ctl_ago(now > it->last_seen ? now - it->last_seen :
			    0, ago, sizeof(ago)));
		break;
	case CTL_R_CONSOLE:
	case CTL_R_COUNT:
		snprintf(buf, len, "-");
		break;
	}
	return buf;
}

/* The table form: a row per principal, then how many are in each state. */
static void
ctl_agents_table(const struct proto_agents *ag, struct ctl_agents *ca,
    const struct ctl_agents_sum *ps, int tty)
{
	struct proto_agent_item	 it;
	enum ctl_reach		 st;
	const char		*name;
	char			 rights[32], what[128];
	size_t			 cur = 0;
	struct ctl_agents_sum	 w, *s = &w;

	/* Columns as wide as the first page needs, or wider later. */
	w = *ps;
	if (ca->pages > 0) {
		w.wcn = ca->wcn > w.wcn ? ca->wcn : w.wcn;
		w.wnode = ca->wnode > w.wnode ? ca->wnode : w.wnode;
		w.wrights = ca->wrights > w.wrights ? ca->wrights : w.wrights;
		w.wstate = ca->wstate > w.wstate ? ca->wstate : w.wstate;
	}
	ca->wcn = w.wcn;
	ca->wnode = w.wnode;
	ca->wrights = w.wrights;
	ca->wstate = w.wstate;
	if (ca->pages > 0)
		goto rows;
	ctl_pad(stdout, "CN", 2, s->wcn);
	putchar(' ');
	ctl_pad(stdout, "NODE", 4, s->wnode);
	putchar(' ');
	ctl_pad(stdout, "RIGHTS", 6, s->wrights);
	putchar(' ');
	ctl_pad(stdout, "STATE", 5, s->wstate);
	printf(" SINCE / LAST SEEN\n");
 rows:
	while (proto_agent_item_next(&ag->principals, &cur, &it) == 1) {
		st = ctl_reach_of(&it, ag->server_time, ca->unseen_ms);
		name = ctl_reach_names[st];
		ctl_pad(stdout, it.cn, strlen(it.cn), s->wcn);
		putchar(' ');
		ctl_pad(stdout, it.node, strlen(it.node), s->wnode);
		putchar(' ');
		ctl_rights_str(it.rights, rights, sizeof(rights));
		ctl_pad(stdout, rights, strlen(rights), s->wrights);
		putchar(' ');
		/* The colour ends before the padding. */
		if (tty && ctl_reach_colours[st][0] != '\0')
			printf("%s%s\033[0m", ctl_reach_colours[st], name);
		else
			fputs(name, stdout);
		ctl_pad(stdout, "", 0, s->wstate - strlen(name));
		printf(" %s\n", ctl_agents_detail(&it, st, ag->server_time,
		    what, sizeof(what)));
		ca->listed++;
	}
}

/* The table's last lines: the counts over every page. */
static void
ctl_agents_table_end(const struct ctl_agents *ca, uint32_t omitted)
{
	printf("%zu online, %zu away, %zu unreachable (not seen for %s)\n",
	    ca->counts[CTL_R_ONLINE], ca->counts[CTL_R_AWAY],
	    ca->counts[CTL_R_UNREACHABLE], ca->unseen);
	if (omitted > 0)
		printf("%u more not listed (too many for one answer): ask about "
		    "a node below\n", omitted);
}

/* AGENTS: check the answer whole, then print it as asked. */
static int
ctl_agents_cb(struct ctl *ctl, const uint8_t *p, size_t len, void *arg)
{
	struct ctl_agents	*ca = arg;
	struct ctl_agents_sum	 s;
	struct proto_agents	 ag;
	struct proto_buf	 next;
	size_t			 before = ca->listed, k;
	uint32_t		 got, omitted = 0;
	int			 rc;

	if ((rc = proto_agents_decode(p, len, &ag)) != 0) {
		fprintf(stderr, "wuzhactl: malformed AGENTS: %s\n",
		    proto_err_name(-rc));
		return CTL_FAIL;
	}
	if (ctl_agents_scan(&ag, ca, &s) == -1)
		return CTL_FAIL;
	for (k = 0; k < CTL_R_COUNT; k++)
		ca->counts[k] += s.counts[k];
	if (ca->json)
		ctl_agents_json(&ag, ca);
	else
		ctl_agents_table(&ag, ca, &s, ctl_tty_colour(stdout));
	ca->pages++;
	got = (uint32_t)(ca->listed - before);
	/* More pages: ask for the next (a server that does not page omits). */
	if (got > 0 && ag.total > 0 && ag.offset + got < ag.total) {
		fflush(stdout);
		ca->rq.offset = ag.offset + got;
		pbuf_init(&next);
		proto_agents_req_encode(&next, &ca->rq);
		return ctl_request_next(ctl, &next) == 0 ? CTL_NEXT : CTL_FAIL;
	}
	if (ag.total == 0)
		omitted = ag.omitted;
	if (ca->json)
		ctl_agents_json_end(&ag, ca, omitted);
	else
		ctl_agents_table_end(ca, omitted);
	return CTL_OK;
}

/* agents [--node NODE] [--unseen DURATION] [--json] */
int
ctl_agents(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node",	required_argument, NULL, 'n' },
		{ "unseen",	required_argument, NULL, 'u' },
		{ "json",	no_argument,	   NULL, 'j' },
		{ NULL,		0,		   NULL, 0 },
	};
	struct ctl_agents	 ca;
	struct proto_buf	 req;
	const char		*node = NULL;
	int64_t			 ms;
	int			 ch;

	memset(&ca, 0, sizeof(ca));
	ca.unseen = CTL_UNSEEN_DEFAULT;
	opterr = 0;
	while ((ch = ctl_getopt(ctl, argc, argv, "", opts)) != -1) {
		switch (ch) {
		case 'n':
			node = optarg;
			break;
		case 'u':
			ca.unseen = optarg;
			break;
		case 'j':
			ca.json = 1;
			break;
		default:
			fprintf(stderr, "wuzhactl: agents: bad option %s\n",
			    argv[optind - 1]);
			return ctl_usage(ctl);
		}
	}
	if (argc != optind)
		return ctl_usage(ctl);
	if ((ms = conf_parse_duration_ms(ca.unseen)) <= 0) {
		fprintf(stderr, "wuzhactl: --unseen %s: expected a duration "
		    "such as 24h, 168h or 90m\n", ca.unseen);
		return CTL_USAGE;
	}
	ca.unseen_ms = (uint64_t)ms;
	if (ctl_node_arg(node, ca.rq.node) == -1)
		return CTL_USAGE;
	pbuf_init(&req);
	proto_agents_req_encode(&req, &ca.rq);
	return ctl_request(ctl, &req, PROTO_T_AGENTS, ctl_agents_cb, &ca);
}
