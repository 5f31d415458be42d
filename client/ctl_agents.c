/* SPDX-License-Identifier: ISC */
/*
 * ctl_agents: reachability before sending.  Every principal below a node
 * with its state: online (since when), away (its agent went away not long
 * ago), unreachable (not seen for longer than --unseen, or never), or
 * console for a principal without the receive right, which has no agent
 * to reach.  A desk looks here before a warning goes out, so that a class
 * whose advisor's machine has been off is known in advance.
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

enum ctl_reach {
	CTL_R_ONLINE,
	CTL_R_AWAY,
	CTL_R_UNREACHABLE,
	CTL_R_CONSOLE,
	CTL_R_COUNT
};

static const char *const ctl_reach_names[CTL_R_COUNT] = {
	[CTL_R_ONLINE] = "online",
	[CTL_R_AWAY] = "away",
	[CTL_R_UNREACHABLE] = "unreachable",
	[CTL_R_CONSOLE] = "console",
};

static const char *const ctl_reach_colours[CTL_R_COUNT] = {
	[CTL_R_ONLINE] = "\033[32m",
	[CTL_R_AWAY] = "\033[33m",
	[CTL_R_UNREACHABLE] = "\033[31m",
	[CTL_R_CONSOLE] = "",
};

struct ctl_agents {
	int		 json;
	uint64_t	 unseen_ms;
	const char	*unseen;	/* as typed, for the summary */
};

static enum ctl_reach
ctl_reach_of(const struct proto_agent_item *it, uint64_t now, uint64_t unseen)
{
	if (!(it->rights & PROTO_R_RECEIVE))
		return CTL_R_CONSOLE;
	if (it->online > 0)
		return CTL_R_ONLINE;
	if (it->last_seen == 0 || it->last_seen + unseen < now)
		return CTL_R_UNREACHABLE;
	return CTL_R_AWAY;
}

/* "3d4h", "12m5s", "40s": how long ago, roughly. */
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

static void
ctl_agents_json_item(const struct proto_agent_item *it, enum ctl_reach st,
    int first)
{
	const char	*names[] = { "receive", "issue", "observe" };
	int		 i, k = 0;

	printf("%s{\"cn\":", first ? "" : ",");
	ctl_json_str(stdout, it->cn, strlen(it->cn));
	printf(",\"node\":");
	ctl_json_str(stdout, it->node, strlen(it->node));
	printf(",\"rights\":[");
	for (i = 0; i < 3; i++)
		if (it->rights & (1 << i))
			printf("%s\"%s\"", k++ ? "," : "", names[i]);
	printf("],\"state\":\"%s\",\"online\":%u,\"since\":%llu,"
	    "\"last_seen\":%llu}", ctl_reach_names[st], it->online,
	    (unsigned long long)it->since, (unsigned long long)it->last_seen);
}

/* AGENTS: one line per principal, then how many are in each state. */
static int
ctl_agents_cb(struct ctl *ctl, const uint8_t *p, size_t len, void *arg)
{
	struct ctl_agents	*ca = arg;
	struct proto_agents	 ag;
	struct proto_agent_item	 it;
	enum ctl_reach		 st;
	size_t			 cur = 0, counts[CTL_R_COUNT] = { 0 }, n = 0;
	char			 t[40], ago[32], rights[32], what[96];
	int			 rc, tty = !ca->json && ctl_tty_colour(stdout);

	(void)ctl;
	if ((rc = proto_agents_decode(p, len, &ag)) != 0) {
		fprintf(stderr, "wuzhactl: malformed AGENTS: %s\n",
		    proto_err_name(-rc));
		return CTL_FAIL;
	}
	if (ca->json) {
		printf("{\"node\":");
		ctl_json_str(stdout, ag.node, strlen(ag.node));
		printf(",\"server_time\":%llu,\"unseen_ms\":%llu,"
		    "\"principals\":[", (unsigned long long)ag.server_time,
		    (unsigned long long)ca->unseen_ms);
	} else
		printf("%-24s %-20s %-21s %-11s %s\n", "CN", "NODE", "RIGHTS",
		    "STATE", "SINCE / LAST SEEN");
	while ((rc = proto_agent_item_next(&ag.principals, &cur, &it)) == 1) {
		st = ctl_reach_of(&it, ag.server_time, ca->unseen_ms);
		counts[st]++;
		if (ca->json) {
			ctl_agents_json_item(&it, st, n++ == 0);
			continue;
		}
		switch (st) {
		case CTL_R_ONLINE:
			snprintf(what, sizeof(what), "since %s (%s)%s",
			    client_time_str(it.since, t, sizeof(t)),
			    ctl_ago(ag.server_time > it.since ?
			    ag.server_time - it.since : 0, ago, sizeof(ago)),
			    it.online > 1 ? ", more than one agent" : "");
			break;
		case CTL_R_AWAY:
		case CTL_R_UNREACHABLE:
			if (it.last_seen == 0)
				snprintf(what, sizeof(what), "never");
			else
				snprintf(what, sizeof(what), "%s (%s ago)",
				    client_time_str(it.last_seen, t, sizeof(t)),
				    ctl_ago(ag.server_time > it.last_seen ?
				    ag.server_time - it.last_seen : 0, ago,
				    sizeof(ago)));
			break;
		case CTL_R_CONSOLE:
		case CTL_R_COUNT:
			snprintf(what, sizeof(what), "-");
			break;
		}
		printf("%-24s %-20s %-21s %s%-11s%s %s\n", it.cn, it.node,
		    ctl_rights_str(it.rights, rights, sizeof(rights)),
		    tty ? ctl_reach_colours[st] : "", ctl_reach_names[st],
		    tty && st != CTL_R_CONSOLE ? "\033[0m" : "", what);
	}
	if (rc != 0) {
		if (ca->json)
			printf("]}\n");
		fprintf(stderr, "wuzhactl: malformed AGENTS list: %s\n",
		    proto_err_name(-rc));
		return CTL_FAIL;
	}
	if (ca->json) {
		printf("],\"omitted\":%u,\"counts\":{\"online\":%zu,\"away\":%zu,"
		    "\"unreachable\":%zu,\"console\":%zu}}\n", ag.omitted,
		    counts[CTL_R_ONLINE], counts[CTL_R_AWAY],
		    counts[CTL_R_UNREACHABLE], counts[CTL_R_CONSOLE]);
		return CTL_OK;
	}
	printf("%zu online, %zu away, %zu unreachable (not seen for %s)\n",
	    counts[CTL_R_ONLINE], counts[CTL_R_AWAY],
	    counts[CTL_R_UNREACHABLE], ca->unseen);
	if (ag.omitted > 0)
		printf("%u more not listed (too many for one answer): ask about "
		    "a node below\n", ag.omitted);
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
	struct proto_agents_req	 rq;
	struct ctl_agents	 ca;
	struct proto_buf	 req;
	const char		*node = NULL;
	int64_t			 ms;
	int			 ch;

	memset(&ca, 0, sizeof(ca));
	ca.unseen = CTL_UNSEEN_DEFAULT;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
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
	memset(&rq, 0, sizeof(rq));
	if (ctl_node_arg(node, rq.node) == -1)
		return CTL_USAGE;
	pbuf_init(&req);
	proto_agents_req_encode(&req, &rq);
	return ctl_request(ctl, &req, PROTO_T_AGENTS, ctl_agents_cb, &ca);
}
