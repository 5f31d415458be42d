/* SPDX-License-Identifier: ISC */
/*
 * ctl_tree: the tree verbs, run by ops on the server host.  import checks
 * a tree file with the same loader the daemon trusts, then writes to
 * Redis what differs from the tree there (see "import" below), under a
 * lock key, and bumps the tree generation, which the daemons poll to
 * reload.  export reads the tree
 * back and prints it as YAML; principals lists a tree file's principals
 * for the CA script.  Redis layout, under the prefix P:
 *
 *	P tree-nodes		hash: node id -> "TIER:PARENT:NAME" (PARENT ""
 *				for a police root; ids hold no ':', so the
 *				name is all that follows the second one)
 *	P tree-principals	hash: cn -> "NODE:RIGHTS" ("receive,observe")
 *	P tree-gen		counter, INCR'd by every import
 *	P tree-diff:{g}		hash: what generation g changed, "n:ID" or
 *				"p:CN" -> the new value, "" if gone (and
 *				"gen" -> g); the last CTL_DIFF_KEEP are kept
 *	P tree-was:{g}		hash: node -> receivers it had at generation g,
 *				for the nodes whose count changed to g + 1
 *	P tree-was		sorted set of those g (score g)
 *	P tree-import		held while an import writes (PX, token)
 *
 * Two hashes rather than a hash per node keep Redis near 200 bytes a
 * node, and let a reader step through the tree with HSCAN.  The layout
 * before them (sets nodes and principals, hashes node:{id} and
 * principal:{cn}, sets children:{id} and members:{node}) is read by an
 * import, which then removes it.
 *
 * redis rearm lets wuzhad publish again after Redis lost its data: it
 * reads the record wuzhad left in P lost ("EPOCH SEQ"), raises P seq to
 * at least SEQ so that alert numbers never go back, puts P epoch back and
 * deletes the record, in one script.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <openssl/sha.h>

#include "compat.h"
#include "conf.h"
#include "proto.h"
#include "ctl.h"

#define CTL_PREFIX_DEFAULT	"wuzha:"
#define CTL_REDIS_PORT		6379
#define CTL_PIPELINE		1024	/* commands written before reading */
#define CTL_SCAN_COUNT		"1000"	/* elements asked of each SCAN step */
#define CTL_OLD_BATCH		1000	/* old-layout hashes read per batch */

/* A synchronous Redis connection with pipelined writes. */
struct ctl_redis {
	redisContext	*c;
	const char	*prefix;
	size_t		 pending;	/* replies not read yet */
	int		 err;		/* a reply was an error */
	char		 errstr[256];
};

/* --- rights and tiers ----------------------------------------------------- */

static const char *
ctl_rights_str(unsigned r, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s%s",
	    (r & CONF_R_RECEIVE) ? "receive" : "",
	    (r & CONF_R_RECEIVE) && (r & (CONF_R_ISSUE | CONF_R_OBSERVE)) ?
	    "," : "",
	    (r & CONF_R_ISSUE) ? "issue" : "",
	    (r & CONF_R_ISSUE) && (r & CONF_R_OBSERVE) ? "," : "",
	    (r & CONF_R_OBSERVE) ? "observe" : "");
	return buf;
}

/* "receive,issue" -> CONF_R_* bits; -1 on an unknown word. */
static int
ctl_rights_parse(const char *s, size_t len, unsigned *out)
{
	const char	*end = s + len, *comma;
	size_t		 n;

	*out = 0;
	while (s < end) {
		if ((comma = memchr(s, ',', (size_t)(end - s))) == NULL)
			comma = end;
		n = (size_t)(comma - s);
		if (n == 7 && memcmp(s, "receive", 7) == 0)
			*out |= CONF_R_RECEIVE;
		else if (n == 5 && memcmp(s, "issue", 5) == 0)
			*out |= CONF_R_ISSUE;
		else if (n == 7 && memcmp(s, "observe", 7) == 0)
			*out |= CONF_R_OBSERVE;
		else
			return -1;
		s = comma < end ? comma + 1 : end;
	}
	return 0;
}

static int
ctl_tier_parse(const char *s, size_t len)
{
	int		 t;
	const char	*name;

	for (t = CONF_TIER_POLICE; t <= CONF_TIER_CLASS; t++) {
		name = conf_tier_name((enum conf_tier)t);
		if (strlen(name) == len && memcmp(name, s, len) == 0)
			return t;
	}
	return -1;
}

/* --- Redis plumbing ------------------------------------------------------- */

/* Connect to "SOCKET" (contains a '/') or "HOST:PORT" / "[V6]:PORT". */
static int
ctl_redis_open(struct ctl_redis *r, const char *where, const char *prefix,
    uint32_t timeout_ms)
{
	struct timeval	 tv;
	char		 host[256], *colon;
	uint32_t	 port = CTL_REDIS_PORT;

	memset(r, 0, sizeof(*r));
	r->prefix = prefix;
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	if (strchr(where, '/') != NULL)
		r->c = redisConnectUnixWithTimeout(where, tv);
	else {
		if (strlen(where) >= sizeof(host)) {
			fprintf(stderr, "wuzhactl: --redis %s: too long\n",
			    where);
			return -1;
		}
		snprintf(host, sizeof(host), "%s", where);
		if (host[0] == '[') {
			if ((colon = strstr(host, "]:")) != NULL) {
				*colon = '\0';
				colon++;
			} else if ((colon = strchr(host, ']')) != NULL &&
			    colon[1] == '\0') {
				*colon = '\0';
				colon = NULL;
			} else {
				fprintf(stderr, "wuzhactl: --redis %s: "
				    "expected [ADDRESS]:PORT\n", where);
				return -1;
			}
			memmove(host, host + 1, strlen(host));
		} else if ((colon = strrchr(host, ':')) != NULL &&
		    strchr(host, ':') != colon)
			colon = NULL;	/* a bare IPv6 address */
		if (colon != NULL) {
			*colon++ = '\0';
			if (ctl_parse_u32(colon, 65535, &port) == -1 ||
			    port == 0) {
				fprintf(stderr, "wuzhactl: --redis %s: bad "
				    "port\n", where);
				return -1;
			}
		}
		r->c = redisConnectWithTimeout(host, (int)port, tv);
	}
	if (r->c == NULL) {
		fprintf(stderr, "wuzhactl: redis %s: out of memory\n", where);
		return -1;
	}
	if (r->c->err != 0) {
		fprintf(stderr, "wuzhactl: redis %s: %s\n", where,
		    r->c->errstr);
		redisFree(r->c);
		r->c = NULL;
		return -1;
	}
	if (redisSetTimeout(r->c, tv) != REDIS_OK) {
		fprintf(stderr, "wuzhactl: redis %s: cannot set timeout\n",
		    where);
		redisFree(r->c);
		r->c = NULL;
		return -1;
	}
	return 0;
}

static void
ctl_redis_close(struct ctl_redis *r)
{
	if (r->c != NULL)
		redisFree(r->c);
	r->c = NULL;
}

/* The key P + a + b ("wuzha:" "node:" "id"); caller frees. */
static char *
ctl_key(struct ctl_redis *r, const char *a, const char *b)
{
	char	*k;

	if (asprintf(&k, "%s%s%s", r->prefix, a, b ? b : "") == -1) {
		fprintf(stderr, "wuzhactl: out of memory\n");
		exit(CTL_FAIL);
	}
	return k;
}

/* Note the first error a reply carries. */
static void
ctl_redis_check(struct ctl_redis *r, redisReply *rep)
{
	if (rep->type == REDIS_REPLY_ERROR && !r->err) {
		r->err = 1;
		snprintf(r->errstr, sizeof(r->errstr), "%.*s",
		    (int)rep->len, rep->str);
	}
}

/* Read one reply; NULL on a connection error (printed). */
static redisReply *
ctl_redis_reply(struct ctl_redis *r)
{
	void	*rep = NULL;

	if (redisGetReply(r->c, &rep) != REDIS_OK || rep == NULL) {
		fprintf(stderr, "wuzhactl: redis: %s\n", r->c->err ?
		    r->c->errstr : "no reply");
		return NULL;
	}
	r->pending--;
	return rep;
}

/* Read every outstanding reply, noting errors; -1 if the link failed. */
static int
ctl_redis_drain(struct ctl_redis *r)
{
	redisReply	*rep;

	while (r->pending > 0) {
		if ((rep = ctl_redis_reply(r)) == NULL)
			return -1;
		ctl_redis_check(r, rep);
		freeReplyObject(rep);
	}
	return 0;
}

/*
 * Append one command of argc arguments (NULL-terminated varargs) to the
 * pipeline, reading replies back when enough are outstanding.
 */
static int
ctl_redis_cmd(struct ctl_redis *r, const char *first, ...)
{
	const char	*argv[8];
	va_list		 ap;
	int		 argc = 0;

	argv[argc++] = first;
	va_start(ap, first);
	while (argc < 8 && (argv[argc] = va_arg(ap, const char *)) != NULL)
		argc++;
	va_end(ap);
	if (redisAppendCommandArgv(r->c, argc, argv, NULL) != REDIS_OK) {
		fprintf(stderr, "wuzhactl: redis: %s\n", r->c->errstr);
		return -1;
	}
	r->pending++;
	if (r->pending >= CTL_PIPELINE)
		return ctl_redis_drain(r);
	return 0;
}

/* Run one command now and return its reply (caller frees), or NULL. */
static redisReply *
ctl_redis_now(struct ctl_redis *r, const char *first, ...)
{
	const char	*argv[8];
	va_list		 ap;
	int		 argc = 0;

	if (ctl_redis_drain(r) == -1)
		return NULL;
	argv[argc++] = first;
	va_start(ap, first);
	while (argc < 8 && (argv[argc] = va_arg(ap, const char *)) != NULL)
		argc++;
	va_end(ap);
	if (redisAppendCommandArgv(r->c, argc, argv, NULL) != REDIS_OK) {
		fprintf(stderr, "wuzhactl: redis: %s\n", r->c->errstr);
		return NULL;
	}
	r->pending++;
	return ctl_redis_reply(r);
}

/* Options shared by import and export. */
/*
 * Where a tree comes from: the YAML file, and the CSV class lists added
 * to it (--csv, any number), with --police for the unit above the schools
 * of a file without a police column.
 */
#define CTL_CSV_MAX	256

static struct {
	const char	*csv[CTL_CSV_MAX];
	size_t		 ncsv;
	const char	*police;
} ctl_src;

static int
ctl_tree_src_opt(struct ctl *ctl, int ch, const char *arg)
{
	if (ch == 'u') {
		ctl_src.police = arg;
		return 0;
	}
	if (ctl_src.ncsv == CTL_CSV_MAX) {
		fprintf(stderr, "wuzhactl: %s: more than %d --csv files\n",
		    ctl->cmd->words[0], CTL_CSV_MAX);
		return -1;
	}
	ctl_src.csv[ctl_src.ncsv++] = arg;
	return 0;
}

/* The tree file with the class lists added; NULL after saying why. */
static struct conf_tree *
ctl_tree_read(const char *path)
{
	struct conf_tree	*t;
	char			 err[CONF_ERR_MAX];
	size_t			 i;

	if ((t = conf_tree_load(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "wuzhactl: %s\n", err);
		return NULL;
	}
	for (i = 0; i < ctl_src.ncsv; i++)
		if (conf_tree_add_csv(t, ctl_src.csv[i], ctl_src.police, err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "wuzhactl: %s\n", err);
			conf_tree_free(t);
			return NULL;
		}
	if (ctl_src.police != NULL && ctl_src.ncsv == 0) {
		fprintf(stderr, "wuzhactl: --police is for --csv files\n");
		conf_tree_free(t);
		return NULL;
	}
	return t;
}

static int
ctl_tree_opts(struct ctl *ctl, int argc, char **argv, const char **redis,
    const char **prefix)
{
	static const struct option opts[] = {
		{ "redis",	required_argument, NULL, 'r' },
		{ "prefix",	required_argument, NULL, 'p' },
		{ "csv",	required_argument, NULL, 'c' },
		{ "police",	required_argument, NULL, 'u' },
		{ NULL,		0,		   NULL, 0 },
	};
	int	ch;

	(void)ctl;
	*redis = NULL;
	*prefix = CTL_PREFIX_DEFAULT;
	opterr = 0;
	while ((ch = ctl_getopt(ctl, argc, argv, "", opts)) != -1) {
		switch (ch) {
		case 'r':
			*redis = optarg;
			break;
		case 'p':
			*prefix = optarg;
			break;
		case 'c':
		case 'u':
			if (ctl_tree_src_opt(ctl, ch, optarg) == -1)
				return -1;
			break;
		default:
			fprintf(stderr, "wuzhactl: %s: bad option %s\n",
			    ctl->cmd->words[0],
			    argv[optind - 1]);
			return -1;
		}
	}
	if (*redis == NULL)
		return -1;
	return 0;
}

/* --- export --------------------------------------------------------------- */

/* A tree read from Redis, before it is put in order. */
struct ctl_export {
	struct conf_node	*nodes;		/* sorted by id */
	size_t			 nnodes;
	struct conf_principal	*prs;		/* sorted by cn */
	size_t			 nprs;
	int			 old_layout;	/* read from the sets and hashes */
};

static int
ctl_node_cmp(const void *a, const void *b)
{
	return strcmp(((const struct conf_node *)a)->id,
	    ((const struct conf_node *)b)->id);
}

static int
ctl_principal_cmp(const void *a, const void *b)
{
	return strcmp(((const struct conf_principal *)a)->cn,
	    ((const struct conf_principal *)b)->cn);
}

/* Value of field f in an HGETALL reply, or NULL. */
static const redisReply *
ctl_hget(const redisReply *h, const char *f)
{
	size_t	i;

	if (h->type != REDIS_REPLY_ARRAY)
		return NULL;
	for (i = 0; i + 1 < h->elements; i += 2)
		if (h->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(h->element[i]->str, f) == 0 &&
		    h->element[i + 1]->type == REDIS_REPLY_STRING)
			return h->element[i + 1];
	return NULL;
}

/* Copy a reply string into a fixed id buffer; -1 if too long. */
static int
ctl_idcpy(char *dst, size_t dlen, const redisReply *s)
{
	if (s == NULL || s->len >= dlen || memchr(s->str, '\0', s->len))
		return -1;
	memcpy(dst, s->str, s->len);
	dst[s->len] = '\0';
	return 0;
}

/*
 * Step through the hash or set key with HSCAN or SSCAN, CTL_SCAN_COUNT
 * at a time, so that no one call holds Redis for long however big the
 * tree; fn is called on every field and value (value NULL for a set).
 * A scan may return an element twice: callers drop duplicates.  -1 after
 * printing why, or what fn returned if not 0.
 */
static int
ctl_scan(struct ctl_redis *r, const char *verb, const char *key,
    int (*fn)(const redisReply *, const redisReply *, void *), void *arg)
{
	redisReply	*rep, *e;
	char		 cursor[32] = "0";
	size_t		 i, step;
	int		 rc = 0;

	step = strcmp(verb, "HSCAN") == 0 ? 2 : 1;
	do {
		if ((rep = ctl_redis_now(r, verb, key, cursor, "COUNT",
		    CTL_SCAN_COUNT, NULL)) == NULL)
			return -1;
		if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
		    rep->element[0]->type != REDIS_REPLY_STRING ||
		    rep->element[1]->type != REDIS_REPLY_ARRAY ||
		    rep->element[1]->elements % step != 0) {
			fprintf(stderr, "wuzhactl: redis: %s %s: %s\n", verb, key,
			    rep->type == REDIS_REPLY_ERROR ? rep->str :
			    "unexpected reply");
			freeReplyObject(rep);
			return -1;
		}
		snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
		e = rep->element[1];
		for (i = 0; rc == 0 && i < e->elements; i += step)
			rc = fn(e->element[i], step == 2 ? e->element[i + 1] :
			    NULL, arg);
		freeReplyObject(rep);
	} while (rc == 0 && strcmp(cursor, "0") != 0);
	return rc;
}

/* Room for one more element of size sz in *v (n used, *cap held). */
static int
ctl_grow(void *vp, size_t n, size_t *cap, size_t sz)
{
	void	**v = vp, *nv;
	size_t	  ncap;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 1024;
	if ((nv = reallocarray(*v, ncap + 1, sz)) == NULL) {
		fprintf(stderr, "wuzhactl: out of memory\n");
		return -1;
	}
	memset((char *)nv + *cap * sz, 0, (ncap + 1 - *cap) * sz);
	*v = nv;
	*cap = ncap;
	return 0;
}

/* Fill n from "TIER:PARENT:NAME" (the value of a field of tree-nodes). */
static int
ctl_node_parse(struct conf_node *n, const char *v, size_t len)
{
	const char	*end = v + len, *c1, *c2;
	int		 t;

	if ((c1 = memchr(v, ':', len)) == NULL ||
	    (c2 = memchr(c1 + 1, ':', (size_t)(end - c1 - 1))) == NULL ||
	    (t = ctl_tier_parse(v, (size_t)(c1 - v))) == -1 ||
	    (size_t)(c2 - c1 - 1) > CONF_ID_MAX ||
	    memchr(v, '\0', len) != NULL)
		return -1;
	n->tier = (enum conf_tier)t;
	memcpy(n->parent, c1 + 1, (size_t)(c2 - c1 - 1));
	n->parent[c2 - c1 - 1] = '\0';
	if ((n->name = strndup(c2 + 1, (size_t)(end - c2 - 1))) == NULL) {
		fprintf(stderr, "wuzhactl: out of memory\n");
		exit(CTL_FAIL);
	}
	return 0;
}

/* Fill p from "NODE:RIGHTS" (the value of a field of tree-principals). */
static int
ctl_principal_parse(struct conf_principal *p, const char *v, size_t len)
{
	const char	*c;

	if ((c = memchr(v, ':', len)) == NULL || (size_t)(c - v) > CONF_ID_MAX ||
	    memchr(v, '\0', len) != NULL ||
	    ctl_rights_parse(c + 1, len - (size_t)(c - v) - 1, &p->rights) == -1)
		return -1;
	memcpy(p->node, v, (size_t)(c - v));
	p->node[c - v] = '\0';
	return 0;
}

struct ctl_read {
	struct ctl_export	*x;
	size_t			 ncap, pcap;
};

static int
ctl_read_node_cb(const redisReply *f, const redisReply *v, void *arg)
{
	struct ctl_read		*rd = arg;
	struct conf_node	*n;

	if (ctl_grow(&rd->x->nodes, rd->x->nnodes, &rd->ncap,
	    sizeof(*rd->x->nodes)) == -1)
		return -1;
	n = &rd->x->nodes[rd->x->nnodes];
	if (ctl_idcpy(n->id, sizeof(n->id), f) == -1 ||
	    v->type != REDIS_REPLY_STRING || ctl_node_parse(n, v->str, v->len)) {
		fprintf(stderr, "wuzhactl: redis: tree-nodes: %.64s: bad "
		    "field or value\n", f->type == REDIS_REPLY_STRING ?
		    f->str : "?");
		return -1;
	}
	rd->x->nnodes++;
	return 0;
}

static int
ctl_read_principal_cb(const redisReply *f, const redisReply *v, void *arg)
{
	struct ctl_read		*rd = arg;
	struct conf_principal	*p;

	if (ctl_grow(&rd->x->prs, rd->x->nprs, &rd->pcap,
	    sizeof(*rd->x->prs)) == -1)
		return -1;
	p = &rd->x->prs[rd->x->nprs];
	if (ctl_idcpy(p->cn, sizeof(p->cn), f) == -1 ||
	    v->type != REDIS_REPLY_STRING ||
	    ctl_principal_parse(p, v->str, v->len) == -1) {
		fprintf(stderr, "wuzhactl: redis: tree-principals: %.64s: bad "
		    "field or value\n", f->type == REDIS_REPLY_STRING ?
		    f->str : "?");
		return -1;
	}
	rd->x->nprs++;
	return 0;
}

/*
 * The layout before tree-nodes and tree-principals: sets of ids with a
 * hash per node and per principal.  Read only to migrate from it.
 */
static int
ctl_read_old_hashes(struct ctl_redis *r, struct ctl_read *rd, int nodes,
    redisReply **ids, size_t nids)
{
	redisReply		*rep;
	const redisReply	*name, *tier, *parent, *node, *rights;
	struct conf_node	*n;
	struct conf_principal	*p;
	char			*k;
	size_t			 i;
	int			 t, rc = 0;

	for (i = 0; i < nids; i++) {
		k = ctl_key(r, nodes ? "node:" : "principal:", ids[i]->str);
		if (redisAppendCommand(r->c, "HGETALL %s", k) != REDIS_OK) {
			free(k);
			return -1;
		}
		free(k);
	}
	r->pending += nids;
	for (i = 0; i < nids; i++) {
		if ((rep = ctl_redis_reply(r)) == NULL)
			return -1;
		if (rc == 0 && nodes) {
			name = ctl_hget(rep, "name");
			tier = ctl_hget(rep, "tier");
			parent = ctl_hget(rep, "parent");
			t = tier ? ctl_tier_parse(tier->str, tier->len) : -1;
			if ((rc = ctl_grow(&rd->x->nodes, rd->x->nnodes,
			    &rd->ncap, sizeof(*rd->x->nodes))) == 0) {
				n = &rd->x->nodes[rd->x->nnodes];
				if (ctl_idcpy(n->id, sizeof(n->id), ids[i]) == -1 ||
				    name == NULL || t == -1 ||
				    ctl_idcpy(n->parent, sizeof(n->parent),
				    parent) == -1) {
					fprintf(stderr, "wuzhactl: redis: node "
					    "%s: missing or bad name, tier or "
					    "parent\n", ids[i]->str);
					rc = -1;
				} else {
					n->tier = (enum conf_tier)t;
					if ((n->name = strndup(name->str,
					    name->len)) == NULL)
						exit(CTL_FAIL);
					rd->x->nnodes++;
				}
			}
		} else if (rc == 0) {
			node = ctl_hget(rep, "node");
			rights = ctl_hget(rep, "rights");
			if ((rc = ctl_grow(&rd->x->prs, rd->x->nprs, &rd->pcap,
			    sizeof(*rd->x->prs))) == 0) {
				p = &rd->x->prs[rd->x->nprs];
				if (ctl_idcpy(p->cn, sizeof(p->cn), ids[i]) ==
				    -1 || ctl_idcpy(p->node, sizeof(p->node),
				    node) == -1 || rights == NULL ||
				    ctl_rights_parse(rights->str, rights->len,
				    &p->rights) == -1) {
					fprintf(stderr, "wuzhactl: redis: "
					    "principal %s: missing or bad node "
					    "or rights\n", ids[i]->str);
					rc = -1;
				} else
					rd->x->nprs++;
			}
		}
		freeReplyObject(rep);
	}
	return rc;
}

/* SSCAN of the old id sets; the hashes of each slice read pipelined. */
struct ctl_old_scan {
	struct ctl_redis	*r;
	struct ctl_read		*rd;
	int			 nodes;
	redisReply		*ids[CTL_OLD_BATCH];
	size_t			 nids;
};

static int
ctl_old_flush(struct ctl_old_scan *os)
{
	size_t	i;
	int	rc;

	rc = ctl_read_old_hashes(os->r, os->rd, os->nodes, os->ids, os->nids);
	for (i = 0; i < os->nids; i++)
		freeReplyObject(os->ids[i]);
	os->nids = 0;
	return rc;
}

static int
ctl_old_id_cb(const redisReply *f, const redisReply *v, void *arg)
{
	struct ctl_old_scan	*os = arg;
	redisReply		*copy;

	(void)v;
	if (f->type != REDIS_REPLY_STRING)
		return -1;
	/* The scan's reply is freed before the batch is read: keep a copy. */
	if ((copy = calloc(1, sizeof(*copy))) == NULL ||
	    (copy->str = strndup(f->str, f->len)) == NULL) {
		fprintf(stderr, "wuzhactl: out of memory\n");
		exit(CTL_FAIL);
	}
	copy->type = REDIS_REPLY_STRING;
	copy->len = f->len;
	os->ids[os->nids++] = copy;
	if (os->nids == CTL_OLD_BATCH)
		return ctl_old_flush(os);
	return 0;
}

static int
ctl_read_old(struct ctl_redis *r, struct ctl_read *rd)
{
	struct ctl_old_scan	 os;
	char			*k;
	int			 rc;

	memset(&os, 0, sizeof(os));
	os.r = r;
	os.rd = rd;
	os.nodes = 1;
	k = ctl_key(r, "nodes", NULL);
	rc = ctl_scan(r, "SSCAN", k, ctl_old_id_cb, &os);
	free(k);
	if (ctl_old_flush(&os) == -1)
		rc = -1;
	if (rc != 0)
		return -1;
	os.nodes = 0;
	k = ctl_key(r, "principals", NULL);
	rc = ctl_scan(r, "SSCAN", k, ctl_old_id_cb, &os);
	free(k);
	if (ctl_old_flush(&os) == -1)
		rc = -1;
	return rc == 0 ? 0 : -1;
}

/* 1 if key P+name exists, 0 if not, -1 on error. */
static int
ctl_exists(struct ctl_redis *r, const char *name)
{
	redisReply	*rep;
	char		*k;
	int		 rc = -1;

	k = ctl_key(r, name, NULL);
	if ((rep = ctl_redis_now(r, "EXISTS", k, NULL)) != NULL) {
		if (rep->type == REDIS_REPLY_INTEGER)
			rc = rep->integer > 0;
		else
			fprintf(stderr, "wuzhactl: redis: EXISTS %s: %s\n", k,
			    rep->type == REDIS_REPLY_ERROR ? rep->str :
			    "unexpected reply");
		freeReplyObject(rep);
	}
	free(k);
	return rc;
}

/* Sort by id and drop what a scan returned twice. */
static void
ctl_export_sort(struct ctl_export *x)
{
	size_t	i, j;

	if (x->nnodes > 1)
		qsort(x->nodes, x->nnodes, sizeof(*x->nodes), ctl_node_cmp);
	if (x->nprs > 1)
		qsort(x->prs, x->nprs, sizeof(*x->prs), ctl_principal_cmp);
	for (i = j = 0; i < x->nnodes; i++) {
		if (j > 0 && strcmp(x->nodes[j - 1].id, x->nodes[i].id) == 0) {
			free(x->nodes[i].name);
			continue;
		}
		x->nodes[j++] = x->nodes[i];
	}
	x->nnodes = j;
	for (i = j = 0; i < x->nprs; i++) {
		if (j > 0 && strcmp(x->prs[j - 1].cn, x->prs[i].cn) == 0)
			continue;
		x->prs[j++] = x->prs[i];
	}
	x->nprs = j;
}

/*
 * Read nodes and principals into x, sorted by id and by CN; -1 after
 * printing why.  A Redis that still holds the old layout is read from it
 * (x->old_layout set), so that an import can migrate it.  An empty tree
 * is an error unless empty_ok.
 */
static int
ctl_export_read(struct ctl_redis *r, struct ctl_export *x, int empty_ok)
{
	struct ctl_read	 rd;
	char		*k;
	int		 rc, old;

	memset(&rd, 0, sizeof(rd));
	rd.x = x;
	k = ctl_key(r, "tree-nodes", NULL);
	rc = ctl_scan(r, "HSCAN", k, ctl_read_node_cb, &rd);
	free(k);
	if (rc != 0)
		return -1;
	k = ctl_key(r, "tree-principals", NULL);
	rc = ctl_scan(r, "HSCAN", k, ctl_read_principal_cb, &rd);
	free(k);
	if (rc != 0)
		return -1;
	if (x->nnodes == 0 && x->nprs == 0) {
		if ((old = ctl_exists(r, "nodes")) == -1 ||
		    (old == 0 && (old = ctl_exists(r, "principals")) == -1))
			return -1;
		if (old && ctl_read_old(r, &rd) == -1)
			return -1;
		x->old_layout = old;
	}
	ctl_export_sort(x);
	if (x->nnodes == 0 && !empty_ok) {
		fprintf(stderr, "wuzhactl: no tree in Redis under prefix "
		    "\"%s\"\n", r->prefix);
		return -1;
	}
	return 0;
}

/* --- import --------------------------------------------------------------- */

/*
 * An import writes only what changed, as a stream of small commands (no
 * MULTI: a city's tree in one transaction held Redis for seconds), in an
 * order that leaves a valid tree after every command, so a daemon that
 * reads it meanwhile sees an older or a newer shape, never a broken one:
 * nodes added or changed, parents first; principals added or changed;
 * principals gone; nodes gone, leaves first; then the generation, which
 * tells the daemons to reload.  A lock key keeps two imports apart.
 */
#define CTL_IMPORT_LOCK_MS	600000	/* an import is given this long */

struct ctl_import_stats {
	size_t	 nodes_set, nodes_del, prs_set, prs_del;
	size_t	 was;		/* node counts kept for earlier alerts */
	size_t	 diff;		/* entries of tree-diff:{g+1}, 0 if none */
	int	 migrated;	/* Redis held the old layout */
	size_t	 unlinked;	/* keys of the old layout removed */
};

static const struct conf_node *
ctl_find_node(const struct ctl_export *x, const char *id)
{
	struct conf_node	 key;

	if (x->nnodes == 0)
		return NULL;
	strlcpy(key.id, id, sizeof(key.id));
	return bsearch(&key, x->nodes, x->nnodes, sizeof(*x->nodes),
	    ctl_node_cmp);
}

static const struct conf_principal *
ctl_find_principal(const struct ctl_export *x, const char *cn)
{
	struct conf_principal	 key;

	if (x->nprs == 0)
		return NULL;
	strlcpy(key.cn, cn, sizeof(key.cn));
	return bsearch(&key, x->prs, x->nprs, sizeof(*x->prs),
	    ctl_principal_cmp);
}

/* Is cn, or node id, in the new tree?  (Its arrays are not sorted.) */
static int
ctl_cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted pointers to the field at off of n entries of size sz. */
static const char **
ctl_sorted_names(const void *v, size_t n, size_t sz, size_t off)
{
	const char	**out;
	size_t		  i;

	if ((out = calloc(n + 1, sizeof(*out))) == NULL) {
		fprintf(stderr, "wuzhactl: out of memory\n");
		exit(CTL_FAIL);
	}
	for (i = 0; i < n; i++)
		out[i] = (const char *)v + i * sz + off;
	if (n > 1)
		qsort(out, n, sizeof(*out), ctl_cmp_str);
	return out;
}

static int
ctl_in(const char **sorted, size_t n, const char *s)
{
	return bsearch(&s, sorted, n, sizeof(*sorted), ctl_cmp_str) != NULL;
}

/*
 * Receivers per node: the principals with receive at the node or below.
 * ids are the nodes' ids, sorted (ctl_sorted_names of struct conf_node);
 * the count for ids[i] is at [i].
 */
static uint32_t *
ctl_receivers(const char **ids, size_t nn, const struct conf_principal *prs,
    size_t np)
{
	const struct conf_node	*n;
	const char		*id, **at;
	uint32_t		*counts;
	size_t			 i, hops;

	if ((counts = calloc(nn + 1, sizeof(*counts))) == NULL) {
		fprintf(stderr, "wuzhactl: out of memory\n");
		exit(CTL_FAIL);
	}
	for (i = 0; i < np; i++) {
		if (!(prs[i].rights & CONF_R_RECEIVE))
			continue;
		/* Up from the principal's node; tiers bound the climb. */
		for (id = prs[i].node, hops = 0; id[0] != '\0' && hops < 8;
		    hops++) {
			if ((at = bsearch(&id, ids, nn, sizeof(*ids),
			    ctl_cmp_str)) == NULL)
				break;
			counts[at - ids]++;
			n = (const struct conf_node *)(const void *)(*at -
			    offsetof(struct conf_node, id));
			id = n->parent;
		}
	}
	return counts;
}

/*
 * Before the tree moves from generation g to g + 1: record in
 * tree-was:{g} the receivers at g of each node whose count changes (0 for
 * a node that is new), and g in tree-was, so that an alert published at
 * g or earlier keeps the counts it targeted (daemon/lua/targeted.lua).
 * An import into an empty tree has nothing to keep.  HSETNX: an import
 * that failed half-way and is run again must not overwrite what the
 * first run read from the whole tree of generation g.
 */
static int
ctl_import_was(struct ctl_redis *r, const struct conf_tree *t,
    const struct ctl_export *old, long long g, size_t *changed)
{
	const char	**oids, **nids;
	uint32_t	 *oc, *nc, was;
	const char	 *id;
	char		 *k, num[16], score[24];
	size_t		  i = 0, j = 0;
	int		  c, rc = 0;

	*changed = 0;
	if (old->nnodes == 0)
		return 0;
	oids = ctl_sorted_names(old->nodes, old->nnodes, sizeof(*old->nodes),
	    offsetof(struct conf_node, id));
	nids = ctl_sorted_names(t->nodes, t->nnodes, sizeof(*t->nodes),
	    offsetof(struct conf_node, id));
	oc = ctl_receivers(oids, old->nnodes, old->prs, old->nprs);
	nc = ctl_receivers(nids, t->nnodes, t->principals, t->nprincipals);
	snprintf(score, sizeof(score), "%lld", g);
	k = ctl_key(r, "tree-was:", score);
	while (rc == 0 && (i < old->nnodes || j < t->nnodes)) {
		c = i == old->nnodes ? 1 : j == t->nnodes ? -1 :
		    strcmp(oids[i], nids[j]);
		if (c < 0) {		/* gone */
			id = oids[i];
			was = oc[i++];
			if (was == 0)
				continue;
		} else if (c > 0) {	/* new */
			id = nids[j];
			was = 0;
			if (nc[j++] == 0)
				continue;
		} else {
			id = oids[i];
			was = oc[i];
			if (oc[i++] == nc[j++])
				continue;
		}
		snprintf(num, sizeof(num), "%u", was);
		rc = ctl_redis_cmd(r, "HSETNX", k, id, num, NULL);
		(*changed)++;
	}
	free(k);
	if (rc == 0 && *changed > 0) {
		k = ctl_key(r, "tree-was", NULL);
		rc = ctl_redis_cmd(r, "ZADD", k, score, score, NULL);
		free(k);
	}
	free(oids);
	free(nids);
	free(oc);
	free(nc);
	return rc;
}

/*
 * What changed from generation g to g + 1, written to P tree-diff:{g+1}
 * before the generation moves, so that a daemon at g can apply the change
 * without reading the whole tree: field "n:ID" or "p:CN", value the new
 * one or "" for gone.  Past CTL_DIFF_MAX entries no diff is written and
 * the daemons load the whole tree instead.
 */
#define CTL_DIFF_MAX	65536
#define CTL_DIFF_KEEP	64	/* generations whose diff is kept */

struct ctl_diff {
	char	**f;		/* "n:ID" / "p:CN", sorted once collected */
	char	**v;
	size_t	  n, cap;
	int	  over;
};

static void
ctl_diff_add(struct ctl_diff *d, char kind, const char *id, const char *val)
{
	if (d->over)
		return;
	if (d->n == CTL_DIFF_MAX) {
		d->over = 1;
		return;
	}
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 256;
		if ((d->f = reallocarray(d->f, d->cap, sizeof(*d->f))) == NULL ||
		    (d->v = reallocarray(d->v, d->cap, sizeof(*d->v))) == NULL) {
			fprintf(stderr, "wuzhactl: out of memory\n");
			exit(CTL_FAIL);
		}
	}
	if (asprintf(&d->f[d->n], "%c:%s", kind, id) == -1 ||
	    (d->v[d->n] = strdup(val)) == NULL) {
		fprintf(stderr, "wuzhactl: out of memory\n");
		exit(CTL_FAIL);
	}
	d->n++;
}

static void
ctl_diff_free(struct ctl_diff *d)
{
	size_t	i;

	for (i = 0; i < d->n; i++) {
		free(d->f[i]);
		free(d->v[i]);
	}
	free(d->f);
	free(d->v);
}

/* "TIER:PARENT:NAME", the value of n in tree-nodes; caller frees. */
static char *
ctl_node_value(const struct conf_node *n)
{
	char	*v;

	if (asprintf(&v, "%s:%s:%s", conf_tier_name(n->tier), n->parent,
	    n->name) == -1) {
		fprintf(stderr, "wuzhactl: out of memory\n");
		exit(CTL_FAIL);
	}
	return v;
}

/* "NODE:RIGHTS", the value of p in tree-principals. */
static const char *
ctl_principal_value(const struct conf_principal *p, char *buf, size_t len)
{
	char	rights[32];

	snprintf(buf, len, "%s:%s", p->node,
	    ctl_rights_str(p->rights, rights, sizeof(rights)));
	return buf;
}

/*
 * Nodes of the new tree that are new or differ; all of them when the old
 * tree came from the old layout, which has nothing in tree-nodes yet.
 */
static int
ctl_import_nodes(struct ctl_redis *r, const struct conf_tree *t,
    const struct ctl_export *old, struct ctl_import_stats *st,
    struct ctl_diff *d, int write)
{
	const struct conf_node	*n, *o;
	char			*k, *v;
	size_t			 i;
	int			 same, rc = 0;

	k = ctl_key(r, "tree-nodes", NULL);
	for (i = 0; rc == 0 && i < t->nnodes; i++) {
		n = &t->nodes[i];
		o = ctl_find_node(old, n->id);
		same = o != NULL && o->tier == n->tier &&
		    strcmp(o->name, n->name) == 0 &&
		    strcmp(o->parent, n->parent) == 0;
		if (same && !old->old_layout)
			continue;
		v = ctl_node_value(n);
		if (!write && !same)
			ctl_diff_add(d, 'n', n->id, v);
		if (write) {
			st->nodes_set++;
			rc = ctl_redis_cmd(r, "HSET", k, n->id, v, NULL);
		}
		free(v);
	}
	free(k);
	return rc;
}

/* Principals of the new tree that are new or differ (or all, as above). */
static int
ctl_import_principals(struct ctl_redis *r, const struct conf_tree *t,
    const struct ctl_export *old, struct ctl_import_stats *st,
    struct ctl_diff *d, int write)
{
	const struct conf_principal	*p, *o;
	char				*k, v[CONF_ID_MAX + 40];
	size_t				 i;
	int				 same, rc = 0;

	k = ctl_key(r, "tree-principals", NULL);
	for (i = 0; rc == 0 && i < t->nprincipals; i++) {
		p = &t->principals[i];
		o = ctl_find_principal(old, p->cn);
		same = o != NULL && o->rights == p->rights &&
		    strcmp(o->node, p->node) == 0;
		if (same && !old->old_layout)
			continue;
		ctl_principal_value(p, v, sizeof(v));
		if (!write && !same)
			ctl_diff_add(d, 'p', p->cn, v);
		if (write) {
			st->prs_set++;
			rc = ctl_redis_cmd(r, "HSET", k, p->cn, v, NULL);
		}
	}
	free(k);
	return rc;
}

/* What the old tree has and the new one not: principals, then nodes. */
static int
ctl_import_gone(struct ctl_redis *r, const struct conf_tree *t,
    const struct ctl_export *old, struct ctl_import_stats *st,
    struct ctl_diff *d, int write)
{
	const char		**ids, **cns;
	char			*kn, *kp;
	size_t			 i;
	int			 rc = 0;

	ids = ctl_sorted_names(t->nodes, t->nnodes, sizeof(*t->nodes),
	    offsetof(struct conf_node, id));
	cns = ctl_sorted_names(t->principals, t->nprincipals,
	    sizeof(*t->principals), offsetof(struct conf_principal, cn));
	kn = ctl_key(r, "tree-nodes", NULL);
	kp = ctl_key(r, "tree-principals", NULL);
	for (i = 0; rc == 0 && i < old->nprs; i++) {
		if (ctl_in(cns, t->nprincipals, old->prs[i].cn))
			continue;
		if (!write)
			ctl_diff_add(d, 'p', old->prs[i].cn, "");
		else
			st->prs_del++;
		if (write && !old->old_layout)
			rc = ctl_redis_cmd(r, "HDEL", kp, old->prs[i].cn, NULL);
	}
	for (i = 0; rc == 0 && i < old->nnodes; i++) {
		if (ctl_in(ids, t->nnodes, old->nodes[i].id))
			continue;
		if (!write)
			ctl_diff_add(d, 'n', old->nodes[i].id, "");
		else
			st->nodes_del++;
		if (write && !old->old_layout)
			rc = ctl_redis_cmd(r, "HDEL", kn, old->nodes[i].id, NULL);
	}
	free(kn);
	free(kp);
	free(ids);
	free(cns);
	return rc;
}

/* The value field f ("n:ID" or "p:CN") has in the new tree, "" if none. */
static char *
ctl_diff_value_in(const struct conf_tree *t, const char *f)
{
	char	buf[CONF_ID_MAX + 40];
	size_t	i;

	if (f[0] == 'n') {
		for (i = 0; i < t->nnodes; i++)
			if (strcmp(t->nodes[i].id, f + 2) == 0)
				return ctl_node_value(&t->nodes[i]);
	} else {
		for (i = 0; i < t->nprincipals; i++)
			if (strcmp(t->principals[i].cn, f + 2) == 0)
				return strdup(ctl_principal_value(
				    &t->principals[i], buf, sizeof(buf)));
	}
	return strdup("");
}

struct ctl_prior {
	struct ctl_diff		*d;
	const struct conf_tree	*t;
	const char		**have;	/* d's fields, sorted */
	size_t			  nhave;
};

static int
ctl_prior_cb(const redisReply *f, const redisReply *v, void *arg)
{
	struct ctl_prior	*pr = arg;
	char			*val, *s;

	(void)v;
	if (f->type != REDIS_REPLY_STRING || f->len < 3 || f->str[1] != ':' ||
	    (f->str[0] != 'n' && f->str[0] != 'p'))
		return 0;
	s = f->str;
	if (ctl_in(pr->have, pr->nhave, s))
		return 0;
	if ((val = ctl_diff_value_in(pr->t, s)) == NULL)
		exit(CTL_FAIL);
	ctl_diff_add(pr->d, s[0], s + 2, val);
	free(val);
	return 0;
}

/*
 * An import that failed half-way left some of its writes and its diff;
 * this run's "old" tree is that mix, not generation g.  What the first
 * diff names may differ from g: name it again, with the new value, so
 * that the diff still leads from g to what this run leaves.  Linear
 * look-ups: the diff is small next to the tree.
 */
static int
ctl_diff_prior(struct ctl_redis *r, struct ctl_diff *d,
    const struct conf_tree *t, const char *key)
{
	struct ctl_prior	 pr;
	int			 rc;

	if (d->over)
		return 0;
	pr.d = d;
	pr.t = t;
	pr.nhave = d->n;
	if ((pr.have = calloc(d->n + 1, sizeof(*pr.have))) == NULL)
		exit(CTL_FAIL);
	if (d->n > 0)
		memcpy(pr.have, d->f, d->n * sizeof(*pr.have));
	if (pr.nhave > 1)
		qsort(pr.have, pr.nhave, sizeof(*pr.have), ctl_cmp_str);
	rc = ctl_scan(r, "HSCAN", key, ctl_prior_cb, &pr);
	free(pr.have);
	return rc;
}

/* Write d as P tree-diff:{gen} (nothing if it grew too big). */
static int
ctl_diff_write(struct ctl_redis *r, struct ctl_diff *d, long long gen)
{
	char	*k, num[24];
	size_t	 i;
	int	 rc;

	snprintf(num, sizeof(num), "%lld", gen);
	k = ctl_key(r, "tree-diff:", num);
	rc = ctl_redis_cmd(r, "UNLINK", k, NULL);
	if (rc == 0 && !d->over)
		rc = ctl_redis_cmd(r, "HSET", k, "gen", num, NULL);
	for (i = 0; rc == 0 && !d->over && i < d->n; i++)
		rc = ctl_redis_cmd(r, "HSET", k, d->f[i], d->v[i], NULL);
	free(k);
	return rc;
}

/* Drop the diffs older than the last CTL_DIFF_KEEP generations. */
static int
ctl_diff_trim(struct ctl_redis *r, long long gen)
{
	char		*k, num[24];
	long long	 g;
	int		 rc = 0;

	for (g = gen - CTL_DIFF_KEEP; rc == 0 && g > 0 &&
	    g > gen - 2 * CTL_DIFF_KEEP; g--) {
		snprintf(num, sizeof(num), "%lld", g);
		k = ctl_key(r, "tree-diff:", num);
		rc = ctl_redis_cmd(r, "UNLINK", k, NULL);
		free(k);
	}
	return rc;
}

/* Is the key name (prefix stripped) one of the old layout's? */
static int
ctl_old_key(const char *name)
{
	static const char *const pfx[] = { "node:", "principal:",
	    "children:", "members:" };
	size_t	i;

	if (strcmp(name, "nodes") == 0 || strcmp(name, "principals") == 0)
		return 1;
	for (i = 0; i < sizeof(pfx) / sizeof(pfx[0]); i++)
		if (strncmp(name, pfx[i], strlen(pfx[i])) == 0)
			return 1;
	return 0;
}

struct ctl_unlink {
	struct ctl_redis	*r;
	size_t			 plen;
	size_t			 n;
};

static int
ctl_unlink_cb(const redisReply *f, const redisReply *v, void *arg)
{
	struct ctl_unlink	*u = arg;

	(void)v;
	if (f->type != REDIS_REPLY_STRING || f->len < u->plen ||
	    strncmp(f->str, u->r->prefix, u->plen) != 0 ||
	    !ctl_old_key(f->str + u->plen))
		return 0;
	u->n++;
	return ctl_redis_cmd(u->r, "UNLINK", f->str, NULL);
}

/*
 * Remove the old layout's keys, once the tree is in tree-nodes and
 * tree-principals: one SCAN of the keyspace in small steps, one UNLINK
 * per key (Redis frees big values off its main thread), pipelined.
 */
static int
ctl_import_unlink_old(struct ctl_redis *r, size_t *removed)
{
	struct ctl_unlink	 u = { r, strlen(r->prefix), 0 };
	redisReply		*rep, *e;
	char			 cursor[32] = "0";
	size_t			 i;
	int			 rc = 0;

	do {
		if ((rep = ctl_redis_now(r, "SCAN", cursor, "COUNT",
		    CTL_SCAN_COUNT, NULL)) == NULL)
			return -1;
		if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
		    rep->element[0]->type != REDIS_REPLY_STRING ||
		    rep->element[1]->type != REDIS_REPLY_ARRAY) {
			fprintf(stderr, "wuzhactl: redis: SCAN: %s\n",
			    rep->type == REDIS_REPLY_ERROR ? rep->str :
			    "unexpected reply");
			freeReplyObject(rep);
			return -1;
		}
		snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
		e = rep->element[1];
		for (i = 0; rc == 0 && i < e->elements; i++)
			rc = ctl_unlink_cb(e->element[i], NULL, &u);
		freeReplyObject(rep);
	} while (rc == 0 && strcmp(cursor, "0") != 0);
	if (rc == 0)
		rc = ctl_redis_drain(r);
	*removed = u.n;
	return rc;
}

/* Take the import lock (token: our pid and time); -1 if held. */
static int
ctl_import_lock(struct ctl_redis *r, char *token, size_t len, int take)
{
	static const char unlock[] =
	    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
	    "return redis.call('DEL', KEYS[1]) end return 0";
	redisReply	*rep;
	char		*k, ms[16];
	int		 rc = -1;

	k = ctl_key(r, "tree-import", NULL);
	if (take) {
		snprintf(token, len, "%ld-%lld", (long)getpid(),
		    (long long)time(NULL));
		snprintf(ms, sizeof(ms), "%d", CTL_IMPORT_LOCK_MS);
		rep = ctl_redis_now(r, "SET", k, token, "NX", "PX", ms, NULL);
	} else
		rep = ctl_redis_now(r, "EVAL", unlock, "1", k, token, NULL);
	if (rep != NULL) {
		if (!take || (rep->type == REDIS_REPLY_STATUS &&
		    strcmp(rep->str, "OK") == 0))
			rc = 0;
		else if (rep->type == REDIS_REPLY_ERROR)
			fprintf(stderr, "wuzhactl: redis: %s\n", rep->str);
		else
			fprintf(stderr, "wuzhactl: another tree import is "
			    "running (%s is set); try again when it is done\n",
			    k);
		freeReplyObject(rep);
	}
	free(k);
	return rc;
}

static void
ctl_export_free(struct ctl_export *x)
{
	size_t	i;

	for (i = 0; x->nodes != NULL && i < x->nnodes; i++)
		free(x->nodes[i].name);
	free(x->nodes);
	free(x->prs);
}

/* --- the tree change's audit leaf ---------------------------------------- */

static int
ctl_str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The change list of an import, "FIELD\tVALUE\n" sorted by field (the
 * diff's, or when it ran over CTL_DIFF_MAX the whole new tree's); the
 * caller frees.  Its SHA-256 is the tree record's digest.
 */
static char *
ctl_import_list(const struct conf_tree *t, const struct ctl_diff *d,
    size_t *len, uint32_t *n)
{
	char	**lines, *out, buf[CONF_ID_MAX + 40], *v;
	size_t	  i, k = 0, total = 0, cnt;

	cnt = d->over ? t->nnodes + t->nprincipals : d->n;
	if ((lines = calloc(cnt + 1, sizeof(*lines))) == NULL)
		goto oom;
	for (i = 0; i < cnt; i++) {
		if (!d->over) {
			if (asprintf(&lines[k], "%s\t%s\n", d->f[i],
			    d->v[i]) == -1)
				goto oom;
		} else if (i < t->nnodes) {
			v = ctl_node_value(&t->nodes[i]);
			if (asprintf(&lines[k], "n:%s\t%s\n", t->nodes[i].id,
			    v) == -1)
				goto oom;
			free(v);
		} else if (asprintf(&lines[k], "p:%s\t%s\n",
		    t->principals[i - t->nnodes].cn, ctl_principal_value(
		    &t->principals[i - t->nnodes], buf, sizeof(buf))) == -1)
			goto oom;
		total += strlen(lines[k++]);
	}
	qsort(lines, k, sizeof(*lines), ctl_str_cmp);
	if ((out = malloc(total + 1)) == NULL)
		goto oom;
	for (i = 0, *len = 0; i < k; i++) {
		memcpy(out + *len, lines[i], strlen(lines[i]));
		*len += strlen(lines[i]);
		free(lines[i]);
	}
	free(lines);
	*n = (uint32_t)k;
	return out;
 oom:
	fprintf(stderr, "wuzhactl: out of memory\n");
	exit(CTL_FAIL);
}

/*
 * Bump tree-gen from was to was + 1 and append the change's audit leaf
 * (kind tree, see proto/audit.c) in one script, so no tree generation
 * lacks its leaf; the reply (the new generation, or an error) or NULL.
 */
static redisReply *
ctl_import_commit(struct ctl_redis *r, const struct conf_tree *t,
    const struct ctl_diff *d, long long was)
{
	static const char script[] =
	    "if tonumber(redis.call('GET', KEYS[1]) or '0') ~= "
	    "tonumber(ARGV[2]) then "
	    "return redis.error_reply('tree-gen moved during the import') end "
	    "local g = redis.call('INCR', KEYS[1]) "
	    "redis.call('RPUSH', KEYS[2], ARGV[1]) "
	    "return g";
	struct proto_buf	 rec, ent;
	struct audit_tree	 at;
	struct timespec		 ts;
	redisReply		*rep = NULL;
	const char		*argv[7];
	size_t			 lens[7], llen, i;
	uint8_t			 digest[AUDIT_HASH_LEN];
	char			*list, *kgen, *klog, num[24];
	uint32_t		 n;

	list = ctl_import_list(t, d, &llen, &n);
	SHA256((const uint8_t *)list, llen, digest);
	memset(&at, 0, sizeof(at));
	at.version = 1;
	at.gen = (uint64_t)was + 1;
	at.changes = n;
	at.digest.p = digest;
	at.digest.len = sizeof(digest);
	strlcpy(at.by, "wuzhactl", sizeof(at.by));
	if (llen <= AUDIT_TREE_LIST_MAX) {
		at.list.p = (const uint8_t *)list;
		at.list.len = llen;
	}
	pbuf_init(&rec);
	pbuf_init(&ent);
	audit_tree_encode(&rec, &at);
	clock_gettime(CLOCK_REALTIME, &ts);
	if (rec.err != 0 || audit_entry_encode(&ent, AUDIT_K_TREE,
	    (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000,
	    "wuzhactl", rec.data, rec.len) == -1) {
		fprintf(stderr, "wuzhactl: cannot encode the tree change's "
		    "audit entry\n");
		goto done;
	}
	kgen = ctl_key(r, "tree-gen", NULL);
	klog = ctl_key(r, "audit:log", NULL);
	snprintf(num, sizeof(num), "%lld", was);
	/* ARGV: the entry, and the generation the import started from. */
	argv[0] = "EVAL";
	argv[1] = script;
	argv[2] = "2";
	argv[3] = kgen;
	argv[4] = klog;
	argv[5] = (const char *)ent.data;
	argv[6] = num;
	for (i = 0; i < 7; i++)
		lens[i] = i == 5 ? ent.len : strlen(argv[i]);
	if (ctl_redis_drain(r) == 0 &&
	    (rep = redisCommandArgv(r->c, 7, argv, lens)) == NULL)
		fprintf(stderr, "wuzhactl: redis: %s\n", r->c->errstr);
	free(kgen);
	free(klog);
 done:
	pbuf_free(&rec);
	pbuf_free(&ent);
	free(list);
	return rep;
}

/*
 * Write the difference and bump the generation; -1 after printing why.
 * First what changed, as tree-diff:{g+1} and tree-was:{g}; then the tree
 * itself; then the generation; then, if Redis held the old layout, its
 * keys are removed.
 */
static int
ctl_import_diff(struct ctl_redis *r, const struct conf_tree *t,
    struct ctl_import_stats *st, long long *gen)
{
	struct ctl_export	 old;
	struct ctl_diff		 d;
	redisReply		*rep;
	char			*kgen, num[24];
	long long		 was = 0;
	int			 rc = -1;

	memset(&old, 0, sizeof(old));
	memset(&d, 0, sizeof(d));
	r->err = 0;
	kgen = ctl_key(r, "tree-gen", NULL);
	rep = ctl_redis_now(r, "GET", kgen, NULL);
	free(kgen);
	if (rep == NULL)
		goto done;
	if (rep->type == REDIS_REPLY_STRING)
		was = strtoll(rep->str, NULL, 10);
	else if (rep->type != REDIS_REPLY_NIL) {
		fprintf(stderr, "wuzhactl: redis: tree-gen: %s\n",
		    rep->type == REDIS_REPLY_ERROR ? rep->str :
		    "unexpected reply");
		freeReplyObject(rep);
		goto done;
	}
	freeReplyObject(rep);
	if (ctl_export_read(r, &old, 1) == -1)
		goto done;
	st->migrated = old.old_layout;
	snprintf(num, sizeof(num), "%lld", was + 1);
	kgen = ctl_key(r, "tree-diff:", num);
	rc = ctl_import_nodes(r, t, &old, st, &d, 0) == -1 ||
	    ctl_import_principals(r, t, &old, st, &d, 0) == -1 ||
	    ctl_import_gone(r, t, &old, st, &d, 0) == -1 ||
	    ctl_diff_prior(r, &d, t, kgen) == -1 ? -1 : 0;
	free(kgen);
	if (rc == -1)
		goto done;
	rc = -1;
	st->diff = d.over ? 0 : d.n;
	if (ctl_diff_write(r, &d, was + 1) == -1 ||
	    ctl_import_was(r, t, &old, was, &st->was) == -1 ||
	    ctl_import_nodes(r, t, &old, st, &d, 1) == -1 ||
	    ctl_import_principals(r, t, &old, st, &d, 1) == -1 ||
	    ctl_import_gone(r, t, &old, st, &d, 1) == -1 ||
	    ctl_redis_drain(r) == -1)
		goto done;
	if (r->err) {
		fprintf(stderr, "wuzhactl: redis: import failed: %s\n",
		    r->errstr);
		goto done;
	}
	if ((rep = ctl_import_commit(r, t, &d, was)) == NULL)
		goto done;
	if (rep->type != REDIS_REPLY_INTEGER)
		fprintf(stderr, "wuzhactl: redis: tree-gen: %s\n",
		    rep->type == REDIS_REPLY_ERROR ? rep->str :
		    "unexpected reply");
	else {
		*gen = rep->integer;
		rc = 0;
	}
	freeReplyObject(rep);
	if (rc == 0 && (ctl_diff_trim(r, *gen) == -1 ||
	    ctl_redis_drain(r) == -1 ||
	    (old.old_layout && ctl_import_unlink_old(r, &st->unlinked) == -1)))
		rc = -1;
	if (rc == 0 && r->err) {
		fprintf(stderr, "wuzhactl: redis: after the import: %s\n",
		    r->errstr);
		rc = -1;
	}
 done:
	ctl_diff_free(&d);
	ctl_export_free(&old);
	return rc;
}

/* tree import FILE [--csv CSV]... [--police ID] --redis WHERE [--prefix P] */
int
ctl_tree_import(struct ctl *ctl, int argc, char **argv)
{
	struct conf_tree	*t;
	struct ctl_redis	 r;
	struct ctl_import_stats	 st;
	const char		*redis, *prefix;
	char			 token[64];
	long long		 gen = 0;
	int			 rc;

	if (ctl_tree_opts(ctl, argc, argv, &redis, &prefix) == -1 ||
	    argc - optind != 1)
		return ctl_usage(ctl);
	if ((t = ctl_tree_read(argv[optind])) == NULL)
		return CTL_FAIL;
	if (ctl_redis_open(&r, redis, prefix, ctl->timeout_ms) == -1) {
		conf_tree_free(t);
		return CTL_FAIL;
	}
	memset(&st, 0, sizeof(st));
	if ((rc = ctl_import_lock(&r, token, sizeof(token), 1)) == 0) {
		rc = ctl_import_diff(&r, t, &st, &gen);
		(void)ctl_redis_drain(&r);
		(void)ctl_import_lock(&r, token, sizeof(token), 0);
	}
	if (rc == 0)
		printf("imported %zu node%s, %zu principal%s (generation "
		    "%lld): %zu node%s and %zu principal%s written, %zu and "
		    "%zu removed%s\n", t->nnodes, t->nnodes == 1 ? "" : "s",
		    t->nprincipals, t->nprincipals == 1 ? "" : "s", gen,
		    st.nodes_set, st.nodes_set == 1 ? "" : "s",
		    st.prs_set, st.prs_set == 1 ? "" : "s", st.nodes_del,
		    st.prs_del, st.was > 0 ?
		    "; earlier alerts keep the counts they targeted" : "");
	if (rc == 0 && st.migrated)
		printf("migrated from the old layout (nodes, node:*, ...): "
		    "%zu keys removed\n", st.unlinked);
	ctl_redis_close(&r);
	conf_tree_free(t);
	return rc == 0 ? CTL_OK : CTL_FAIL;
}

/* Order of the child index: by parent, then by id. */
static int
ctl_child_cmp(const void *a, const void *b)
{
	const struct conf_node	*x = *(const struct conf_node * const *)a;
	const struct conf_node	*y = *(const struct conf_node * const *)b;
	int			 c;

	if ((c = strcmp(x->parent, y->parent)) != 0)
		return c;
	return strcmp(x->id, y->id);
}

/* First entry of the child index whose parent is id (n if none). */
static size_t
ctl_first_child(struct conf_node **by_parent, size_t n, const char *id)
{
	size_t	lo = 0, hi = n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (strcmp(by_parent[mid]->parent, id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Put the nodes parents-first: the roots by id, each followed depth-first
 * by its subtree, children by id.  Fills t->nodes with shallow copies.
 * A node not reached (parent missing, or a cycle) is an error.
 */
static int
ctl_export_order(struct ctl_export *x, struct conf_tree *t)
{
	struct conf_node	**by_parent, **stack, *n;
	size_t			  sp = 0, i, first, last;
	int			  rc = -1;

	t->nodes = calloc(x->nnodes, sizeof(*t->nodes));
	by_parent = calloc(x->nnodes, sizeof(*by_parent));
	stack = calloc(x->nnodes, sizeof(*stack));
	if (t->nodes == NULL || by_parent == NULL || stack == NULL) {
		fprintf(stderr, "wuzhactl: out of memory\n");
		goto done;
	}
	for (i = 0; i < x->nnodes; i++)
		by_parent[i] = &x->nodes[i];
	if (x->nnodes > 1)
		qsort(by_parent, x->nnodes, sizeof(*by_parent), ctl_child_cmp);
	/* Roots have parent "", so they sort first; push them reversed. */
	last = ctl_first_child(by_parent, x->nnodes, "");
	while (last < x->nnodes && by_parent[last]->parent[0] == '\0')
		last++;
	for (i = last; i-- > 0;)
		stack[sp++] = by_parent[i];
	while (sp > 0 && t->nnodes < x->nnodes) {
		n = stack[--sp];
		t->nodes[t->nnodes++] = *n;
		first = ctl_first_child(by_parent, x->nnodes, n->id);
		for (last = first; last < x->nnodes &&
		    strcmp(by_parent[last]->parent, n->id) == 0; last++)
			;
		for (i = last; i-- > first && sp < x->nnodes;)
			stack[sp++] = by_parent[i];
	}
	if (t->nnodes != x->nnodes) {
		fprintf(stderr, "wuzhactl: redis: %zu of %zu nodes do not hang "
		    "from a root (parent missing, or a cycle)\n",
		    x->nnodes - t->nnodes, x->nnodes);
		goto done;
	}
	rc = 0;
 done:
	free(by_parent);
	free(stack);
	return rc;
}

/* tree export --redis WHERE [--prefix P]: YAML on stdout. */
int
ctl_tree_export(struct ctl *ctl, int argc, char **argv)
{
	struct ctl_redis	 r;
	struct ctl_export	 x;
	struct conf_tree	 t, *check;
	const char		*redis, *prefix;
	char			 err[CONF_ERR_MAX], *yaml = NULL;
	size_t			 ylen = 0, i;
	FILE			*f;
	int			 rc = CTL_FAIL;

	if (ctl_tree_opts(ctl, argc, argv, &redis, &prefix) == -1 ||
	    argc != optind)
		return ctl_usage(ctl);
	memset(&x, 0, sizeof(x));
	memset(&t, 0, sizeof(t));
	if (ctl_redis_open(&r, redis, prefix, ctl->timeout_ms) == -1)
		return CTL_FAIL;
	if (ctl_export_read(&r, &x, 0) == -1 || ctl_export_order(&x, &t) == -1)
		goto done;
	t.principals = x.prs;
	t.nprincipals = x.nprs;
	/* Write, then read back with the loader: only a valid tree leaves. */
	if ((f = open_memstream(&yaml, &ylen)) == NULL) {
		fprintf(stderr, "wuzhactl: out of memory\n");
		goto done;
	}
	if (conf_tree_write(&t, f) == -1) {
		fclose(f);
		fprintf(stderr, "wuzhactl: cannot write the tree as YAML\n");
		goto done;
	}
	if (fclose(f) == EOF) {
		fprintf(stderr, "wuzhactl: out of memory\n");
		goto done;
	}
	if ((check = conf_tree_parse("redis", yaml, ylen, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "wuzhactl: the tree in Redis is not valid: "
		    "%s\n", err);
		goto done;
	}
	conf_tree_free(check);
	if (fwrite(yaml, 1, ylen, stdout) != ylen)
		goto done;
	rc = CTL_OK;
 done:
	ctl_redis_close(&r);
	for (i = 0; i < x.nnodes; i++)
		free(x.nodes[i].name);
	free(x.nodes);
	free(x.prs);
	free(t.nodes);
	free(yaml);
	return rc;
}

/* --- principals ----------------------------------------------------------- */

/* The path "root/.../id" of node id, from nodes sorted by id. */
static const char *
ctl_node_path(const struct conf_node *byid, size_t n, const char *id,
    char *buf, size_t len)
{
	const char		*up[PROTO_PATH_MAX];	/* root first, reversed */
	struct conf_node	 key;
	const struct conf_node	*hit;
	size_t			 off = 0;
	int			 d = 0, w;

	buf[0] = '\0';
	while (n > 0 && id[0] != '\0' && d < PROTO_PATH_MAX) {
		snprintf(key.id, sizeof(key.id), "%s", id);
		if ((hit = bsearch(&key, byid, n, sizeof(*byid),
		    ctl_node_cmp)) == NULL)
			break;
		up[d++] = hit->id;
		id = hit->parent;
	}
	while (d-- > 0 && off < len) {
		w = snprintf(buf + off, len - off, "%s%s", off ? "/" : "",
		    up[d]);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	return buf;
}

/*
 * tree principals FILE: "CN NODE RIGHTS PATH" lines for wuzha-ca, PATH
 * the node ids from the police unit down to the principal's node.
 */
int
ctl_tree_principals(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "csv",	required_argument, NULL, 'c' },
		{ "police",	required_argument, NULL, 'u' },
		{ NULL,		0,		   NULL, 0 },
	};
	struct conf_tree	*t;
	char			 rights[32];
	char			 path[PROTO_PATH_MAX * (CONF_ID_MAX + 1) + 1];
	size_t			 i;
	int			 ch;

	opterr = 0;
	while ((ch = ctl_getopt(ctl, argc, argv, "", opts)) != -1) {
		if (ch == '?' || ctl_tree_src_opt(ctl, ch, optarg) == -1) {
			if (ch == '?')
				fprintf(stderr, "wuzhactl: tree principals: bad "
				    "option %s\n", argv[optind - 1]);
			return ctl_usage(ctl);
		}
	}
	if (argc - optind != 1)
		return ctl_usage(ctl);
	if ((t = ctl_tree_read(argv[optind])) == NULL)
		return CTL_FAIL;
	qsort(t->nodes, t->nnodes, sizeof(*t->nodes), ctl_node_cmp);
	for (i = 0; i < t->nprincipals; i++)
		printf("%s %s %s %s\n", t->principals[i].cn,
		    t->principals[i].node, ctl_rights_str(
		    t->principals[i].rights, rights, sizeof(rights)),
		    ctl_node_path(t->nodes, t->nnodes, t->principals[i].node,
		    path, sizeof(path)));
	conf_tree_free(t);
	return CTL_OK;
}

/* --- redis rearm ---------------------------------------------------------- */

/* KEYS: lost, seq, epoch.  {0} without a record, else {1, epoch, seq}. */
static const char ctl_rearm_lua[] =
"local v = redis.call('GET', KEYS[1])\n"
"if not v then return {0} end\n"
"local e, s = string.match(v, '^(%x+) (%d+)$')\n"
"if not e then return redis.error_reply('bad loss record: ' .. v) end\n"
"local cur = tonumber(redis.call('GET', KEYS[2]) or '0') or 0\n"
"if cur < tonumber(s) then\n"
"  redis.call('SET', KEYS[2], s)\n"
"  cur = tonumber(s)\n"
"end\n"
"redis.call('SET', KEYS[3], e)\n"
"redis.call('DEL', KEYS[1])\n"
"return {1, e, tostring(cur)}\n";

/* redis rearm --redis WHERE [--prefix P] */
int
ctl_redis_rearm(struct ctl *ctl, int argc, char **argv)
{
	struct ctl_redis	 r;
	redisReply		*rep;
	const char		*redis, *prefix;
	char			*lost, *seq, *epoch;
	int			 rc = CTL_FAIL;

	if (ctl_tree_opts(ctl, argc, argv, &redis, &prefix) == -1 ||
	    argc != optind)
		return ctl_usage(ctl);
	if (ctl_redis_open(&r, redis, prefix, ctl->timeout_ms) == -1)
		return CTL_FAIL;
	lost = ctl_key(&r, "lost", NULL);
	seq = ctl_key(&r, "seq", NULL);
	epoch = ctl_key(&r, "epoch", NULL);
	if ((rep = ctl_redis_now(&r, "EVAL", ctl_rearm_lua, "3", lost, seq,
	    epoch, NULL)) == NULL)
		goto done;
	if (rep->type == REDIS_REPLY_ERROR)
		fprintf(stderr, "wuzhactl: redis: %s\n", rep->str);
	else if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1)
		fprintf(stderr, "wuzhactl: redis: unexpected reply\n");
	else if (rep->element[0]->integer == 0)
		fprintf(stderr, "wuzhactl: no data loss recorded under prefix "
		    "\"%s\": nothing to rearm\n", prefix);
	else if (rep->elements == 3) {
		printf("rearmed: epoch %s, seq %s; wuzhad publishes again "
		    "within a second\n", rep->element[1]->str,
		    rep->element[2]->str);
		rc = CTL_OK;
	}
	freeReplyObject(rep);
 done:
	free(lost);
	free(seq);
	free(epoch);
	ctl_redis_close(&r);
	return rc;
}
