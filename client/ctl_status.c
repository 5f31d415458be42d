/* SPDX-License-Identifier: ISC */
/*
 * ctl_status: the verbs that read acknowledgement rates.  status shows an
 * alert's subtree, one row per node indented by depth, with how many were
 * targeted, delivered, shown, read and relayed (counts and shares; each
 * counts who reached at least that state) and the head
 * count reached; watch shows the same tree again each time wuzhad pushes
 * one (after acks are stored) until everyone has read; pending lists the
 * principals below a node who have not read (or relayed) it yet, with
 * where they sit and whether they are online, for a security desk
 * chasing the last few.
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
 * How the alert ended, for a header or a message: "cancelled by ID at
 * TIME", "expired at TIME", or "" while it is live.
 */
static const char *
ctl_ended(const struct proto_status *s, char *buf, size_t len)
{
	char	t[40];

	if (s->lifecycle == PROTO_LIFE_CANCELLED)
		snprintf(buf, len, "cancelled by %s at %s", s->cancelled_by[0] ?
		    s->cancelled_by : "?", s->ended_at ?
		    client_time_str(s->ended_at, t, sizeof(t)) : "?");
	else if (s->lifecycle == PROTO_LIFE_EXPIRED)
		snprintf(buf, len, "expired at %s", client_time_str(s->ended_at ?
		    s->ended_at : s->expires_at, t, sizeof(t)));
	else
		buf[0] = '\0';
	return buf;
}

/*
 * Depth of every node of a node list below the first (the node shown):
 * as the server gives it, or else from the tiers, which rise by one per
 * level below the police units (a page that starts deep in the tree has
 * no parents to go by).  Returns an array of depths (caller frees) and
 * the widest indented id.
 */
static int *
ctl_depths(const struct proto_view *list, size_t *np, size_t *widthp)
{
	struct proto_status_node	 n;
	int				*depth = NULL, *d, top = -1;
	size_t				 cur = 0, count = 0, cap = 0;
	size_t				 w = 4, iw;
	int				 rc;

	while ((rc = proto_status_node_next(list, &cur, &n)) == 1) {
		if (top == -1)
			top = n.tier;
		if (count == cap) {
			cap = cap ? cap * 2 : 64;
			if ((d = reallocarray(depth, cap, sizeof(*d))) == NULL) {
				fprintf(stderr, "wuzhactl: out of memory\n");
				free(depth);
				return NULL;
			}
			depth = d;
		}
		depth[count] = n.depth != 0 ? n.depth : n.tier > top ?
		    n.tier - top : 0;
		iw = 2 * (size_t)depth[count] + strlen(n.node);
		if (iw > w)
			w = iw;
		count++;
	}
	if (rc != 0) {
		fprintf(stderr, "wuzhactl: malformed STATUS node list: %s\n",
		    proto_err_name(-rc));
		free(depth);
		return NULL;
	}
	*np = count;
	*widthp = w;
	if (depth == NULL)
		depth = calloc(1, sizeof(*depth));
	return depth;
}

#define CTL_BAR_W	20	/* progress bar, in cells */

/* SGR colour of a share: green all, yellow half or more, red less. */
static const char *
ctl_share_colour(uint32_t n, uint32_t total)
{
	if (total == 0 || n >= total)
		return "\033[32m";
	return 2 * n >= total ? "\033[33m" : "\033[31m";
}

/* A bar of CTL_BAR_W cells, n of total filled (UTF-8 block characters). */
static void
ctl_bar(FILE *f, uint32_t n, uint32_t total)
{
	size_t	full, i;

	full = total == 0 ? CTL_BAR_W : (size_t)((uint64_t)n * CTL_BAR_W / total);
	for (i = 0; i < CTL_BAR_W; i++)
		fputs(i < full ? "\xe2\x96\x88" : "\xe2\x96\x91", f);
}

/*
 * The table form of a STATUS: one row per node, indented by depth, with
 * the display name aligned in columns whatever its script.  On a
 * terminal the read share gets a bar and a colour.
 */
static int
ctl_status_table(const struct proto_status *s, int tty, int head)
{
	struct proto_status_node	 n;
	char				 t1[40], t2[40], p1[16], p2[16], p3[16];
	char				 p4[16];
	char				 end[PROTO_ID_MAX + 64];
	int				*depth;
	size_t				 count, w, nw = 4, cur = 0, i = 0;
	const char			*st;

	if ((depth = ctl_depths(&s->nodes, &count, &w)) == NULL)
		return CTL_FAIL;
	while (i < count && proto_status_node_next(&s->nodes, &cur, &n) == 1) {
		if (ctl_width((const char *)n.name.p, n.name.len) > nw)
			nw = ctl_width((const char *)n.name.p, n.name.len);
		i++;
	}
	st = proto_alert_status_name(s->status);
	if (!head)
		goto rows;
	printf("alert %s seq %llu target %s issued %s expires %s%s%s\n", s->id,
	    (unsigned long long)s->seq, s->target,
	    client_time_str(s->issued_at, t1, sizeof(t1)),
	    client_time_str(s->expires_at, t2, sizeof(t2)),
	    s->status != PROTO_STATUS_ACTUAL ? " DRILL: " : "",
	    s->status != PROTO_STATUS_ACTUAL && st != NULL ? st : "");
	/* Ended: say so before the counters, which are frozen. */
	if (s->lifecycle != PROTO_LIFE_LIVE)
		printf("%s%s%s: no longer live, counters frozen\n",
		    tty ? "\033[1m" : "", ctl_ended(s, end, sizeof(end)),
		    tty ? "\033[0m" : "");
	printf("%-*s ", (int)w, "NODE");
	ctl_pad(stdout, "NAME", 4, nw);
	printf(" %9s %9s %*s %9s %*s %9s %*s %9s %*s %9s%s\n", "TARGETED",
	    "DELIVERED", CTL_PCT_W, "", "SHOWN", CTL_PCT_W, "", "READ",
	    CTL_PCT_W, "", "RELAYED", CTL_PCT_W, "", "REACH",
	    tty ? "  READ" : "");
rows:
	cur = 0;
	i = 0;
	while (i < count && proto_status_node_next(&s->nodes, &cur, &n) == 1) {
		/* A later page repeats the node shown: print it once. */
		if (!head && i == 0) {
			i++;
			continue;
		}
		printf("%*s%-*s ", 2 * depth[i], "", (int)w - 2 * depth[i],
		    n.node);
		ctl_pad(stdout, (const char *)n.name.p, n.name.len, nw);
		printf(" %9u %9u %*s %9u %*s %9u ", n.targeted, n.delivered,
		    CTL_PCT_W, ctl_pct(n.delivered, n.targeted, p1, sizeof(p1)),
		    n.shown, CTL_PCT_W, ctl_pct(n.shown, n.targeted, p4,
		    sizeof(p4)), n.read);
		if (tty)
			fputs(ctl_share_colour(n.read, n.targeted), stdout);
		printf("%*s", CTL_PCT_W,
		    ctl_pct(n.read, n.targeted, p2, sizeof(p2)));
		if (tty)
			fputs("\033[0m", stdout);
		printf(" %9u %*s %9u", n.relayed, CTL_PCT_W,
		    ctl_pct(n.relayed, n.targeted, p3, sizeof(p3)), n.reach);
		if (tty) {
			printf("  %s", ctl_share_colour(n.read, n.targeted));
			ctl_bar(stdout, n.read, n.targeted);
			fputs("\033[0m", stdout);
		}
		putchar('\n');
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
	    client_time_iso(s->issued_at, t, sizeof(t)));
	printf(",\"expires_at\":%llu,\"expires\":\"%s\",\"status\":\"%s\"",
	    (unsigned long long)s->expires_at,
	    client_time_iso(s->expires_at, t, sizeof(t)),
	    proto_alert_status_name(s->status) ?
	    proto_alert_status_name(s->status) : "?");
	if (s->server_time != 0)
		printf(",\"server_time\":%llu",
		    (unsigned long long)s->server_time);
	printf(",\"lifecycle\":\"%s\"", proto_lifecycle_name(s->lifecycle) ?
	    proto_lifecycle_name(s->lifecycle) : "?");
	if (s->cancelled_by[0] != '\0') {
		printf(",\"cancelled_by\":");
		ctl_json_str(stdout, s->cancelled_by, strlen(s->cancelled_by));
	}
	if (s->ended_at != 0)
		printf(",\"ended_at\":%llu,\"ended\":\"%s\"",
		    (unsigned long long)s->ended_at,
		    client_time_iso(s->ended_at, t, sizeof(t)));
	printf(",\"nodes\":[");
	while (i < count && proto_status_node_next(&s->nodes, &cur, &n) == 1) {
		printf("%s{\"node\":", i ? "," : "");
		ctl_json_str(stdout, n.node, strlen(n.node));
		printf(",\"parent\":");
		ctl_json_str(stdout, n.parent, strlen(n.parent));
		printf(",\"depth\":%d,\"tier\":\"%s\",\"name\":", depth[i],
		    ctl_tier_name(n.tier));
		ctl_json_str(stdout, (const char *)n.name.p, n.name.len);
		printf(",\"targeted\":%u,\"delivered\":%u,\"shown\":%u,"
		    "\"read\":%u,\"relayed\":%u,\"reach\":%u}", n.targeted,
		    n.delivered, n.shown, n.read, n.relayed, n.reach);
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
			printf(",\"state\":\"%s\",\"at\":%llu,\"online\":%s}",
			    ctl_state_name(m.state), (unsigned long long)m.at,
			    m.online ? "true" : "false");
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
	if (s->rows_total > 0 || s->depth != 0)
		printf(",\"rows_total\":%u,\"rows_offset\":%u,\"depth\":",
		    s->rows_total, s->rows_offset);
	if (s->depth == PROTO_DEPTH_ALL)
		printf("\"all\"");
	else if (s->rows_total > 0 || s->depth != 0)
		printf("%u", s->depth);
	printf("}\n");
	return CTL_OK;
}

/* What a status or watch asks for, and how far the answer has come. */
struct ctl_status_run {
	struct proto_status_req	 req;
	int			 json;
	int			 tty;
	uint32_t		 limit;		/* rows asked for in all, 0 = all */
	uint32_t		 shown;		/* rows below the node shown so far */
	unsigned		 pages;
};

/* Nodes in a STATUS list, less the node shown. */
static uint32_t
ctl_rows_below(const struct proto_status *s)
{
	struct proto_status_node	 n;
	size_t				 cur = 0;
	uint32_t			 count = 0;

	while (proto_status_node_next(&s->nodes, &cur, &n) == 1)
		count++;
	return count > 0 ? count - 1 : 0;
}

/*
 * Send the request for the page after s; CTL_NEXT, or CTL_FAIL if it
 * could not be sent.
 */
static int
ctl_status_next(struct ctl *ctl, struct ctl_status_run *run,
    const struct proto_status *s, uint32_t rows, uint32_t members)
{
	struct proto_buf	 b;

	run->req.offset = s->rows_offset + rows;
	run->req.member_offset = s->members_offset + members;
	if (run->limit != 0)
		run->req.limit = run->limit - run->shown;
	pbuf_init(&b);
	proto_status_req_encode(&b, &run->req);
	return ctl_request_next(ctl, &b) == 0 ? CTL_NEXT : CTL_FAIL;
}

/*
 * Each page of the rows: print it (the header with the first) and ask
 * for the next until all rows below the node shown, or --limit of them,
 * are out.  A server that does not page sends everything at once.
 */
static int
ctl_status_cb(struct ctl *ctl, const uint8_t *p, size_t len, void *arg)
{
	struct ctl_status_run	*run = arg;
	struct proto_status	 s;
	uint32_t		 rows;
	int			 rc;

	if ((rc = proto_status_decode(p, len, &s)) != 0) {
		fprintf(stderr, "wuzhactl: malformed STATUS: %s\n",
		    proto_err_name(-rc));
		return CTL_FAIL;
	}
	rows = ctl_rows_below(&s);
	rc = run->json ? ctl_status_json(&s) :
	    ctl_status_table(&s, run->tty, run->pages == 0);
	run->pages++;
	run->shown += rows;
	if (rc != CTL_OK)
		return rc;
	if (rows > 0 && s.rows_offset + rows < s.rows_total &&
	    (run->limit == 0 || run->shown < run->limit))
		return ctl_status_next(ctl, run, &s, rows, 0);
	if (!run->json && s.rows_offset + rows < s.rows_total) {
		struct proto_status_node top;
		size_t			 cur = 0;

		if (proto_status_node_next(&s.nodes, &cur, &top) != 1)
			top.node[0] = '\0';
		printf("%u of the %u rows below %s shown; --offset %u for "
		    "more\n", run->shown, s.rows_total, top.node,
		    s.rows_offset + rows);
	}
	if (!run->json && s.depth != 0 && s.depth != PROTO_DEPTH_ALL &&
	    s.rows_total > 0)
		printf("%u level%s down; --depth N or --node NODE to go "
		    "further\n", s.depth, s.depth == 1 ? "" : "s");
	return CTL_OK;
}

/* Fill r and encode it into req; -1 after printing why. */
static int
ctl_status_req(const char *id, const char *node, uint8_t flags,
    struct proto_status_req *r, struct proto_buf *req)
{
	memset(r, 0, sizeof(*r));
	if (!proto_name_valid(id, strlen(id))) {
		fprintf(stderr, "wuzhactl: %s: not an alert id\n", id);
		return -1;
	}
	snprintf(r->id, sizeof(r->id), "%s", id);
	if (ctl_node_arg(node, r->node) == -1)
		return -1;
	r->flags = flags;
	pbuf_init(req);
	proto_status_req_encode(req, r);
	return 0;
}

/*
 * The options status and watch share: --node NODE, --depth N|all,
 * --sort read|id, --offset N, --limit N, --json.  Fills run->req (but
 * the id); CTL_OK, or CTL_USAGE after saying why.
 */
static int
ctl_status_opts(struct ctl *ctl, const char *verb, int argc, char **argv,
    struct ctl_status_run *run)
{
	static const struct option opts[] = {
		{ "node",	required_argument, NULL, 'n' },
		{ "depth",	required_argument, NULL, 'd' },
		{ "sort",	required_argument, NULL, 's' },
		{ "offset",	required_argument, NULL, 'o' },
		{ "limit",	required_argument, NULL, 'l' },
		{ "json",	no_argument,	   NULL, 'j' },
		{ NULL,		0,		   NULL, 0 },
	};
	uint32_t	v;
	int		ch;

	opterr = 0;
	while ((ch = ctl_getopt(ctl, argc, argv, "", opts)) != -1) {
		switch (ch) {
		case 'n':
			if (ctl_node_arg(optarg, run->req.node) == -1)
				return CTL_USAGE;
			break;
		case 'd':
			if (strcmp(optarg, "all") == 0)
				v = PROTO_DEPTH_ALL;
			else if (ctl_parse_u32(optarg, PROTO_DEPTH_ALL - 1,
			    &v) == -1 || v == 0) {
				fprintf(stderr, "wuzhactl: %s: --depth %s: "
				    "expected 1 to %d levels, or all\n", verb,
				    optarg, PROTO_DEPTH_ALL - 1);
				return CTL_USAGE;
			}
			run->req.depth = (uint8_t)v;
			break;
		case 's':
			if (strcmp(optarg, "read") == 0)
				run->req.order = PROTO_SO_WORST;
			else if (strcmp(optarg, "id") == 0)
				run->req.order = PROTO_SO_TREE;
			else {
				fprintf(stderr, "wuzhactl: %s: --sort %s: "
				    "expected read (lowest read share first) "
				    "or id\n", verb, optarg);
				return CTL_USAGE;
			}
			break;
		case 'o':
		case 'l':
			if (ctl_parse_u32(optarg, UINT32_MAX, &v) == -1) {
				fprintf(stderr, "wuzhactl: %s: --%s %s: not a "
				    "number\n", verb, ch == 'o' ? "offset" :
				    "limit", optarg);
				return CTL_USAGE;
			}
			if (ch == 'o')
				run->req.offset = v;
			else
				run->limit = run->req.limit = v;
			break;
		case 'j':
			run->json = 1;
			break;
		default:
			fprintf(stderr, "wuzhactl: %s: bad option %s\n", verb,
			    argv[optind - 1]);
			return ctl_usage(ctl);
		}
	}
	if (argc - optind != 1)
		return ctl_usage(ctl);
	if (!proto_name_valid(argv[optind], strlen(argv[optind]))) {
		fprintf(stderr, "wuzhactl: %s: not an alert id\n",
		    argv[optind]);
		return CTL_USAGE;
	}
	snprintf(run->req.id, sizeof(run->req.id), "%s", argv[optind]);
	return CTL_OK;
}

/* status ID [--node NODE] [--depth N|all] [--sort read|id] [--offset N]
 * [--limit N] [--json] */
int
ctl_status(struct ctl *ctl, int argc, char **argv)
{
	struct ctl_status_run	 run;
	struct proto_buf	 req;
	int			 rc;

	memset(&run, 0, sizeof(run));
	if ((rc = ctl_status_opts(ctl, "status", argc, argv, &run)) != CTL_OK)
		return rc;
	run.tty = ctl_tty_colour(stdout);
	pbuf_init(&req);
	proto_status_req_encode(&req, &run.req);
	return ctl_request(ctl, &req, PROTO_T_STATUS, ctl_status_cb, &run);
}

struct ctl_pending {
	struct proto_status_req	 req;	/* member_offset moves on per page */
	int			 json;
	int			 want;	/* PROTO_ACK_READ or PROTO_ACK_RELAYED */
	unsigned		 pages;
	size_t			 total, unread, online, missed;
};

#define CTL_PATH_MAX	8	/* ids a path can have, with room */

/* A page's node list by id, to find members' paths and names. */
struct ctl_nodes {
	struct proto_status_node *v;
	size_t			  n;
};

static int
ctl_nodes_cmp(const void *a, const void *b)
{
	return strcmp(((const struct proto_status_node *)a)->node,
	    ((const struct proto_status_node *)b)->node);
}

/* Decode and sort the list; -1 after saying why. */
static int
ctl_nodes_index(const struct proto_view *list, struct ctl_nodes *x)
{
	struct proto_status_node	 n, *nv;
	size_t				 cur = 0, cap = 0;
	int				 rc;

	x->v = NULL;
	x->n = 0;
	while ((rc = proto_status_node_next(list, &cur, &n)) == 1) {
		if (x->n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((nv = reallocarray(x->v, cap, sizeof(*nv))) == NULL) {
				fprintf(stderr, "wuzhactl: out of memory\n");
				free(x->v);
				return -1;
			}
			x->v = nv;
		}
		x->v[x->n++] = n;
	}
	if (rc != 0) {
		fprintf(stderr, "wuzhactl: malformed STATUS node list: %s\n",
		    proto_err_name(-rc));
		free(x->v);
		return -1;
	}
	if (x->n > 1)
		qsort(x->v, x->n, sizeof(*x->v), ctl_nodes_cmp);
	return 0;
}

static const struct proto_status_node *
ctl_nodes_find(const struct ctl_nodes *x, const char *id)
{
	struct proto_status_node	key;

	if (x->n == 0)
		return NULL;
	snprintf(key.node, sizeof(key.node), "%s", id);
	return bsearch(&key, x->v, x->n, sizeof(*x->v), ctl_nodes_cmp);
}

/*
 * The path of node from the root shown, as ids joined by '/', from the
 * node list's parent links.
 */
static void
ctl_node_path(const struct ctl_nodes *x, const char *node, char *buf,
    size_t len)
{
	const struct proto_status_node	*n;
	const char			*chain[CTL_PATH_MAX];
	size_t				 depth = 0, i, off = 0;

	chain[depth++] = node;
	while (depth < CTL_PATH_MAX &&
	    (n = ctl_nodes_find(x, chain[depth - 1])) != NULL &&
	    n->parent[0] != '\0')
		chain[depth++] = n->parent;
	buf[0] = '\0';
	for (i = depth; i > 0 && off < len; i--)
		off += (size_t)snprintf(buf + off, len - off, "%s%s",
		    i == depth ? "" : "/", chain[i - 1]);
}

/* The display name of node in the list ("" if absent). */
static struct proto_view
ctl_node_name(const struct ctl_nodes *x, const char *node)
{
	const struct proto_status_node	*n;
	struct proto_view		 none = { (const uint8_t *)"", 0 };

	return (n = ctl_nodes_find(x, node)) != NULL ? n->name : none;
}

/*
 * The members short of the state asked for, with whether they are
 * connected now and where they sit, page after page (a city's members do
 * not fit in one answer), then "N of M have not read".  An
 * alert that was cancelled or has expired awaits nobody: a desk must not
 * chase people to read a warning that was withdrawn or is over, so none
 * is listed; one line says how it ended and how many had not read then.
 */
static int
ctl_pending_cb(struct ctl *ctl, const uint8_t *p, size_t len, void *arg)
{
	struct ctl_pending		*pd = arg;
	struct proto_status		 s;
	struct proto_status_member	 m;
	struct proto_view		 name;
	char				 path[CTL_PATH_MAX * (PROTO_ID_MAX + 1)];
	char				 end[PROTO_ID_MAX + 64];
	struct proto_buf		 next;
	struct ctl_nodes		 ix;
	uint32_t			 omitted = 0;
	const char			*verb;
	size_t				 cur = 0, listed = 0;
	int				 rc, ended, tty = ctl_tty_colour(stdout);

	if ((rc = proto_status_decode(p, len, &s)) != 0) {
		fprintf(stderr, "wuzhactl: malformed STATUS: %s\n",
		    proto_err_name(-rc));
		return CTL_FAIL;
	}
	if (ctl_nodes_index(&s.nodes, &ix) == -1)
		return CTL_FAIL;
	verb = pd->want == PROTO_ACK_RELAYED ? "relayed" : "read";
	ended = s.lifecycle != PROTO_LIFE_LIVE;
	if (pd->json && pd->pages == 0) {
		printf("{\"id\":");
		ctl_json_str(stdout, s.id, strlen(s.id));
		printf(",\"state\":\"%s\",\"lifecycle\":\"%s\"", verb,
		    proto_lifecycle_name(s.lifecycle) ?
		    proto_lifecycle_name(s.lifecycle) : "?");
		if (s.cancelled_by[0] != '\0') {
			printf(",\"cancelled_by\":");
			ctl_json_str(stdout, s.cancelled_by,
			    strlen(s.cancelled_by));
		}
		if (s.ended_at != 0)
			printf(",\"ended_at\":%llu",
			    (unsigned long long)s.ended_at);
		printf(",\"pending\":[");
	}
	pd->pages++;
	while ((rc = proto_status_member_next(&s.members, &cur, &m)) == 1) {
		pd->total++;
		listed++;
		/* By rank: shown has not read, whatever its number. */
		if (proto_ack_rank(m.state) >= proto_ack_rank(pd->want))
			continue;
		if (ended) {
			pd->missed++;	/* not awaited: counted, not listed */
			continue;
		}
		ctl_node_path(&ix, m.node, path, sizeof(path));
		name = ctl_node_name(&ix, m.node);
		pd->online += m.online;
		if (pd->json) {
			printf("%s{\"cn\":", pd->unread ? "," : "");
			ctl_json_str(stdout, m.cn, strlen(m.cn));
			printf(",\"node\":");
			ctl_json_str(stdout, m.node, strlen(m.node));
			printf(",\"path\":");
			ctl_json_str(stdout, path, strlen(path));
			printf(",\"name\":");
			ctl_json_str(stdout, (const char *)name.p, name.len);
			printf(",\"state\":\"%s\",\"at\":%llu,\"online\":%s}",
			    ctl_state_name(m.state), (unsigned long long)m.at,
			    m.online ? "true" : "false");
		} else {
			printf("%-24s %-9s %s%-7s%s %s ", m.cn,
			    ctl_state_name(m.state),
			    tty ? (m.online ? "\033[32m" : "\033[31m") : "",
			    m.online ? "online" : "offline", tty ? "\033[0m" : "",
			    path);
			fwrite(name.p, 1, name.len, stdout);
			putchar('\n');
		}
		pd->unread++;
	}
	free(ix.v);
	if (rc != 0) {
		if (pd->json)
			printf("]}\n");
		fprintf(stderr, "wuzhactl: malformed STATUS member list: %s\n",
		    proto_err_name(-rc));
		return CTL_FAIL;
	}
	/* More pages: ask for the next (a server that does not page omits). */
	if (listed > 0 && s.members_offset + listed < s.members_total) {
		fflush(stdout);
		pd->req.member_offset = s.members_offset + (uint32_t)listed;
		pbuf_init(&next);
		proto_status_req_encode(&next, &pd->req);
		return ctl_request_next(ctl, &next) == 0 ? CTL_NEXT : CTL_FAIL;
	}
	if (s.members_total == 0 || s.members_offset + listed < s.members_total)
		omitted = s.omitted;
	if (pd->json)
		printf("],\"listed\":%zu,\"not_yet\":%zu,\"online\":%zu,"
		    "\"omitted\":%u,\"not_%s_when_ended\":%zu}\n", pd->total,
		    pd->unread, pd->online, omitted, verb, pd->missed);
	else if (ended)
		printf("alert %s %s: no longer live, nobody is awaited "
		    "(%zu of %zu%s had not %s by then)\n", s.id,
		    ctl_ended(&s, end, sizeof(end)), pd->missed, pd->total,
		    omitted > 0 ? " listed" : "", verb);
	else if (omitted > 0)
		printf("%zu of the %zu listed have not %s; %u more not listed "
		    "(too many for one answer): ask about a node below\n",
		    pd->unread, pd->total, verb, omitted);
	else
		printf("%zu of %zu have not %s (%zu of them online now)\n",
		    pd->unread, pd->total, verb, pd->online);
	return CTL_OK;
}

/* pending ID [--node NODE] [--state read|relayed] [--json] */
int
ctl_pending(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node",	required_argument, NULL, 'n' },
		{ "state",	required_argument, NULL, 's' },
		{ "json",	no_argument,	   NULL, 'j' },
		{ NULL,		0,		   NULL, 0 },
	};
	struct ctl_pending	 pd;
	struct proto_buf	 req;
	const char		*node = NULL;
	int			 ch;

	memset(&pd, 0, sizeof(pd));
	pd.want = PROTO_ACK_READ;
	opterr = 0;
	while ((ch = ctl_getopt(ctl, argc, argv, "", opts)) != -1) {
		switch (ch) {
		case 'n':
			node = optarg;
			break;
		case 's':
			if (strcmp(optarg, "read") == 0)
				pd.want = PROTO_ACK_READ;
			else if (strcmp(optarg, "relayed") == 0)
				pd.want = PROTO_ACK_RELAYED;
			else {
				fprintf(stderr, "wuzhactl: pending: --state %s: "
				    "expected read or relayed\n", optarg);
				return CTL_USAGE;
			}
			break;
		case 'j':
			pd.json = 1;
			break;
		default:
			fprintf(stderr, "wuzhactl: pending: bad option %s\n",
			    argv[optind - 1]);
			return ctl_usage(ctl);
		}
	}
	if (argc - optind != 1)
		return ctl_usage(ctl);
	if (ctl_status_req(argv[optind], node, PROTO_SF_MEMBERS, &pd.req,
	    &req) == -1)
		return CTL_USAGE;
	return ctl_request(ctl, &req, PROTO_T_STATUS, ctl_pending_cb, &pd);
}

struct ctl_watch {
	int		json;
	int		tty;
	unsigned	frames;
};

/*
 * Every STATUS the server pushes: redraw (a terminal), or print one more
 * table or JSON line (a pipe).  Ends at 100% read, or when the alert has
 * expired and nothing more can come.
 */
static int
ctl_watch_cb(struct ctl *ctl, const uint8_t *p, size_t len, void *arg)
{
	struct ctl_watch		*w = arg;
	struct proto_status		 s;
	struct proto_status_node	 root;
	size_t				 cur = 0;
	int				 rc;

	(void)ctl;
	if ((rc = proto_status_decode(p, len, &s)) != 0) {
		fprintf(stderr, "wuzhactl: malformed STATUS: %s\n",
		    proto_err_name(-rc));
		return CTL_FAIL;
	}
	if (proto_status_node_next(&s.nodes, &cur, &root) != 1) {
		fprintf(stderr, "wuzhactl: STATUS without nodes\n");
		return CTL_FAIL;
	}
	w->frames++;
	if (w->json)
		rc = ctl_status_json(&s);
	else {
		if (w->tty)
			fputs("\033[H\033[2J", stdout);
		else if (w->frames > 1)
			putchar('\n');
		if ((rc = ctl_status_table(&s, w->tty, 1)) == CTL_OK)
			printf("%u of %u have read%s\n", root.read,
			    root.targeted, root.targeted > 0 &&
			    root.read >= root.targeted ? ": all of them" : "");
	}
	fflush(stdout);
	if (rc != CTL_OK)
		return rc;
	if (s.lifecycle != PROTO_LIFE_LIVE) {
		char end[PROTO_ID_MAX + 64];

		fprintf(stderr, "wuzhactl: %s %s, no longer live: the watch "
		    "ends at %u of %u read\n", s.id, ctl_ended(&s, end,
		    sizeof(end)), root.read, root.targeted);
		return CTL_FAIL;
	}
	if (root.targeted > 0 && root.read >= root.targeted)
		return CTL_OK;
	if (s.server_time != 0 && s.server_time >= s.expires_at) {
		fprintf(stderr, "wuzhactl: %s has expired at %u of %u read\n",
		    s.id, root.read, root.targeted);
		return CTL_FAIL;
	}
	return CTL_MORE;
}

/* watch ID [--node NODE] [--depth N|all] [--sort read|id] [--offset N]
 * [--limit N] [--json]: one page, pushed again after every change. */
int
ctl_watch(struct ctl *ctl, int argc, char **argv)
{
	struct ctl_status_run	 run;
	struct ctl_watch	 w;
	struct proto_buf	 req;
	int			 rc;

	memset(&run, 0, sizeof(run));
	memset(&w, 0, sizeof(w));
	if ((rc = ctl_status_opts(ctl, "watch", argc, argv, &run)) != CTL_OK)
		return rc;
	w.json = run.json;
	w.tty = !w.json && ctl_tty_colour(stdout);
	run.req.flags = PROTO_SF_WATCH;
	pbuf_init(&req);
	proto_status_req_encode(&req, &run.req);
	return ctl_request(ctl, &req, PROTO_T_STATUS, ctl_watch_cb, &w);
}
