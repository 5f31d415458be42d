/* SPDX-License-Identifier: ISC */
/*
 * ctl_status: the verbs that read acknowledgement rates.  status shows an
 * alert's subtree, one row per node indented by depth, with how many were
 * targeted, delivered, read and relayed (counts and shares) and the head
 * count reached; pending lists the principals at a node who have not read
 * it yet, for a security desk chasing the last few.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "proto.h"
#include "client.h"
#include "ctl.h"

#define CTL_PCT_W	7	/* "100.0%" and a space */

/* The share of n in total as "87.5%", or "-" when nothing was targeted. */
static const char *
ctl_pct(uint32_t n, uint32_t total, char *buf, size_t len)
{
	if (total == 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.1f%%", 100.0 * n / total);
	return buf;
}

static const char *
ctl_state_name(int st)
{
	const char	*s;

	if (st == PROTO_ACK_NONE)
		return "none";
	return (s = proto_ack_state_name(st)) != NULL ? s : "?";
}

static const char *
ctl_tier_name(int tier)
{
	if (tier < CONF_TIER_POLICE || tier > CONF_TIER_CLASS)
		return "?";
	return conf_tier_name((enum conf_tier)tier);
}

/*
 * Depth of every node of a pre-order list, from the parent links: a
 * stack of the ids on the path from the root shown down to the node.
 * Returns an array of depths (caller frees) and the widest indented id.
 */
static int *
ctl_depths(const struct proto_view *list, size_t *np, size_t *widthp)
{
	struct proto_status_node	 n;
	proto_id			*stack = NULL, *s;
	int				*depth = NULL, *d;
	size_t				 cur = 0, count = 0, sp = 0, cap = 0;
	size_t				 scap = 0;
	size_t				 w = 4, iw;
	int				 rc;

	while ((rc = proto_status_node_next(list, &cur, &n)) == 1) {
		while (sp > 0 && strcmp(stack[sp - 1], n.parent) != 0)
			sp--;
		if (count == cap) {
			cap = cap ? cap * 2 : 64;
			if ((d = reallocarray(depth, cap, sizeof(*d))) == NULL)
				goto fail;
			depth = d;
		}
		depth[count++] = (int)sp;
		iw = 2 * sp + strlen(n.node);
		if (iw > w)
			w = iw;
		if (sp == scap) {
			scap = scap ? scap * 2 : 8;
			if ((s = reallocarray(stack, scap,
			    sizeof(*stack))) == NULL)
				goto fail;
			stack = s;
		}
		memcpy(stack[sp++], n.node, sizeof(n.node));
	}
	if (rc != 0) {
		fprintf(stderr, "wuzhactl: malformed STATUS node list: %s\n",
		    proto_err_name(-rc));
		goto out;
	}
	free(stack);
	*np = count;
	*widthp = w;
	if (depth == NULL)
		depth = calloc(1, sizeof(*depth));
	return depth;
 fail:
	fprintf(stderr, "wuzhactl: out of memory\n");
 out:
	free(stack);
	free(depth);
	return NULL;
}

/* The table form of a STATUS. */
static int
ctl_status_table(const struct proto_status *s)
{
	struct proto_status_node	 n;
	char				 t1[40], t2[40], p1[16], p2[16], p3[16];
	int				*depth;
	size_t				 count, w, cur = 0, i = 0;

	if ((depth = ctl_depths(&s->nodes, &count, &w)) == NULL)
		return CTL_FAIL;
	printf("alert %s seq %llu target %s issued %s expires %s\n", s->id,
	    (unsigned long long)s->seq, s->target,
	    client_time_str(s->issued_at, t1, sizeof(t1)),
	    client_time_str(s->expires_at, t2, sizeof(t2)));
	printf("%-*s %9s %9s %*s %9s %*s %9s %*s %9s  %s\n", (int)w, "NODE",
	    "TARGETED", "DELIVERED", CTL_PCT_W, "", "READ", CTL_PCT_W, "",
	    "RELAYED", CTL_PCT_W, "", "REACH", "NAME");
	while (i < count && proto_status_node_next(&s->nodes, &cur, &n) == 1) {
		printf("%*s%-*s %9u %9u %*s %9u %*s %9u %*s %9u  %.*s\n",
		    2 * depth[i], "", (int)w - 2 * depth[i], n.node,
		    n.targeted, n.delivered, CTL_PCT_W,
		    ctl_pct(n.delivered, n.targeted, p1, sizeof(p1)),
		    n.read, CTL_PCT_W,
		    ctl_pct(n.read, n.targeted, p2, sizeof(p2)),
		    n.relayed, CTL_PCT_W,
		    ctl_pct(n.relayed, n.targeted, p3, sizeof(p3)),
		    n.reach, (int)n.name.len, (const char *)n.name.p);
		i++;
	}
	free(depth);
	return CTL_OK;
}

/* The JSON form of a STATUS: one object on one line. */
static int
ctl_status_json(const struct proto_status *s)
{
	struct proto_status_node	 n;
	struct proto_status_member	 m;
	char				 t[40];
	int				*depth, rc;
	size_t				 count, w, cur = 0, i = 0;

	if ((depth = ctl_depths(&s->nodes, &count, &w)) == NULL)
		return CTL_FAIL;
	printf("{\"id\":");
	ctl_json_str(stdout, s->id, strlen(s->id));
	printf(",\"seq\":%llu,\"target\":", (unsigned long long)s->seq);
	ctl_json_str(stdout, s->target, strlen(s->target));
	printf(",\"issued_at\":%llu,\"issued\":\"%s\"",
	    (unsigned long long)s->issued_at,
	    client_time_str(s->issued_at, t, sizeof(t)));
	printf(",\"expires_at\":%llu,\"expires\":\"%s\",\"nodes\":[",
	    (unsigned long long)s->expires_at,
	    client_time_str(s->expires_at, t, sizeof(t)));
	while (i < count && proto_status_node_next(&s->nodes, &cur, &n) == 1) {
		printf("%s{\"node\":", i ? "," : "");
		ctl_json_str(stdout, n.node, strlen(n.node));
		printf(",\"parent\":");
		ctl_json_str(stdout, n.parent, strlen(n.parent));
		printf(",\"depth\":%d,\"tier\":\"%s\",\"name\":", depth[i],
		    ctl_tier_name(n.tier));
		ctl_json_str(stdout, (const char *)n.name.p, n.name.len);
		printf(",\"targeted\":%u,\"delivered\":%u,\"read\":%u,"
		    "\"relayed\":%u,\"reach\":%u}", n.targeted, n.delivered,
		    n.read, n.relayed, n.reach);
		i++;
	}
	printf("]");
	free(depth);
	if (s->members.len > 0) {
		printf(",\"members\":[");
		cur = 0;
		i = 0;
		while ((rc = proto_status_member_next(&s->members, &cur,
		    &m)) == 1) {
			printf("%s{\"cn\":", i++ ? "," : "");
			ctl_json_str(stdout, m.cn, strlen(m.cn));
			printf(",\"node\":");
			ctl_json_str(stdout, m.node, strlen(m.node));
			printf(",\"state\":\"%s\",\"at\":%llu}",
			    ctl_state_name(m.state), (unsigned long long)m.at);
		}
		printf("]");
		if (rc != 0) {
			printf("}\n");
			fprintf(stderr, "wuzhactl: malformed STATUS member "
			    "list: %s\n", proto_err_name(-rc));
			return CTL_FAIL;
		}
	}
	if (s->omitted > 0)
		printf(",\"omitted\":%u", s->omitted);
	printf("}\n");
	return CTL_OK;
}

static int
ctl_status_cb(struct ctl *ctl, const uint8_t *p, size_t len, void *arg)
{
	struct proto_status	s;
	int			rc, json = *(int *)arg;

	(void)ctl;
	if ((rc = proto_status_decode(p, len, &s)) != 0) {
		fprintf(stderr, "wuzhactl: malformed STATUS: %s\n",
		    proto_err_name(-rc));
		return CTL_FAIL;
	}
	return json ? ctl_status_json(&s) : ctl_status_table(&s);
}

/* Build a STATUS_REQ into req; -1 after printing why. */
static int
ctl_status_req(const char *id, const char *node, uint8_t flags,
    struct proto_buf *req)
{
	struct proto_status_req	r;

	memset(&r, 0, sizeof(r));
	if (!proto_name_valid(id, strlen(id))) {
		fprintf(stderr, "wuzhactl: %s: not an alert id\n", id);
		return -1;
	}
	snprintf(r.id, sizeof(r.id), "%s", id);
	if (node != NULL) {
		if (!proto_node_id_valid(node, strlen(node))) {
			fprintf(stderr, "wuzhactl: --node %s: not a node id\n",
			    node);
			return -1;
		}
		snprintf(r.node, sizeof(r.node), "%s", node);
	}
	r.flags = flags;
	pbuf_init(req);
	proto_status_req_encode(req, &r);
	return 0;
}

/* status ID [--node NODE] [--json] */
int
ctl_status(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node",	required_argument, NULL, 'n' },
		{ "json",	no_argument,	   NULL, 'j' },
		{ NULL,		0,		   NULL, 0 },
	};
	struct proto_buf	 req;
	const char		*node = NULL;
	int			 ch, json = 0;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			node = optarg;
			break;
		case 'j':
			json = 1;
			break;
		default:
			fprintf(stderr, "wuzhactl: status: bad option %s\n",
			    argv[optind - 1]);
			return ctl_usage(ctl);
		}
	}
	if (argc - optind != 1)
		return ctl_usage(ctl);
	if (ctl_status_req(argv[optind], node, 0, &req) == -1)
		return CTL_USAGE;
	return ctl_request(ctl, &req, PROTO_T_STATUS, ctl_status_cb, &json);
}

/* The members below read, then "N of M have not read". */
static int
ctl_pending_cb(struct ctl *ctl, const uint8_t *p, size_t len, void *arg)
{
	struct proto_status		s;
	struct proto_status_member	m;
	size_t				cur = 0, total = 0, unread = 0;
	int				rc;

	(void)ctl;
	(void)arg;
	if ((rc = proto_status_decode(p, len, &s)) != 0) {
		fprintf(stderr, "wuzhactl: malformed STATUS: %s\n",
		    proto_err_name(-rc));
		return CTL_FAIL;
	}
	while ((rc = proto_status_member_next(&s.members, &cur, &m)) == 1) {
		total++;
		if (m.state >= PROTO_ACK_READ)
			continue;
		unread++;
		printf("%s %s %s\n", m.cn, m.node, ctl_state_name(m.state));
	}
	if (rc != 0) {
		fprintf(stderr, "wuzhactl: malformed STATUS member list: %s\n",
		    proto_err_name(-rc));
		return CTL_FAIL;
	}
	if (s.omitted > 0)
		printf("%zu of the %zu listed have not read; %u more not listed "
		    "(too many for one answer): ask about a node below\n",
		    unread, total, s.omitted);
	else
		printf("%zu of %zu have not read\n", unread, total);
	return CTL_OK;
}

/* pending ID --node NODE: a STATUS_REQ asking for the members. */
int
ctl_pending(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node",	required_argument, NULL, 'n' },
		{ NULL,		0,		   NULL, 0 },
	};
	struct proto_buf	 req;
	const char		*node = NULL;
	int			 ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			node = optarg;
			break;
		default:
			fprintf(stderr, "wuzhactl: pending: bad option %s\n",
			    argv[optind - 1]);
			return ctl_usage(ctl);
		}
	}
	if (argc - optind != 1 || node == NULL)
		return ctl_usage(ctl);
	if (ctl_status_req(argv[optind], node, PROTO_SF_MEMBERS, &req) == -1)
		return CTL_USAGE;
	return ctl_request(ctl, &req, PROTO_T_STATUS, ctl_pending_cb, NULL);
}

/* watch: placeholder until the pushed STATUS is wired. */
int
ctl_watch(struct ctl *ctl, int argc, char **argv)
{
	(void)ctl; (void)argc; (void)argv;
	fprintf(stderr, "wuzhactl: watch: not written yet\n");
	return CTL_FAIL;
}
