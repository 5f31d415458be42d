/* SPDX-License-Identifier: ISC */
/*
 * wuzhad.yaml: the daemon's configuration.  Every key is known here, with
 * its default and its range; anything else is refused.  Relative paths are
 * taken from the directory of the file, so a config and its certificates
 * can move together.
 */

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "conf_impl.h"

#define CONF_METRICS_DEFAULT	"127.0.0.1:9471"

#define WUZHAD_PREFIX_MAX	64	/* redis key prefix, bytes */
#define WUZHAD_SENTINELS_MAX	16	/* redis.sentinels listed */
#define WUZHAD_REPLICAS_MAX	16	/* redis.wait_replicas */

/* A redis key prefix: [A-Za-z0-9:._-]{1,64}. */
static int
wuzhad_prefix_ok(const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= WUZHAD_PREFIX_MAX ||
		    !((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == ':' ||
		    s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return -1;
	return i == 0 ? -1 : 0;
}

/* tls: {ca, cert, key, crl?, ticket_key?} */
/* A daemon's name: it goes into Redis keys and logs. */
static int
wuzhad_name_ok(const char *s)
{
	size_t	n;

	for (n = 0; s[n] != '\0'; n++)
		if (!isalnum((unsigned char)s[n]) && strchr("._-", s[n]) == NULL)
			return 0;
	return n > 0 && n <= CONF_ID_MAX && s[0] != '.' && s[0] != '-';
}

static int
wuzhad_tls(struct conf_yaml_doc *doc, const struct conf_yaml_node *node,
    const char *dir, struct conf_wuzhad *c)
{
	const struct conf_yaml_node	*ca, *cert, *key, *crl, *tk;
	const struct conf_yaml_key	 keys[] = {
		{ "ca", 1, &ca }, { "cert", 1, &cert }, { "key", 1, &key },
		{ "crl", 0, &crl }, { "ticket_key", 0, &tk },
	};

	if (conf_yaml_map(doc, node, keys, sizeof(keys) / sizeof(keys[0])) ==
	    -1)
		return -1;
	if (conf_yaml_path(doc, ca, dir, &c->tls.ca) == -1 ||
	    conf_yaml_path(doc, cert, dir, &c->tls.cert) == -1 ||
	    conf_yaml_path(doc, key, dir, &c->tls.key) == -1)
		return -1;
	if (crl != NULL && conf_yaml_path(doc, crl, dir, &c->tls.crl) == -1)
		return -1;
	if (tk != NULL &&
	    conf_yaml_path(doc, tk, dir, &c->tls.ticket_key) == -1)
		return -1;
	return 0;
}

/*
 * redis.sentinels and redis.master_name: Sentinels ("host:port", at most
 * WUZHAD_SENTINELS_MAX) asked where the primary is; with them the primary
 * is never named directly (other is socket, host or port, if given).
 */
static int
wuzhad_sentinels(struct conf_yaml_doc *doc, const struct conf_yaml_node *sen,
    const struct conf_yaml_node *other, const struct conf_yaml_node *mname,
    struct conf_wuzhad *c)
{
	const char	*why;
	uint32_t	 i;

	if (mname != NULL) {
		if (conf_yaml_string(doc, mname, WUZHAD_PREFIX_MAX,
		    &c->redis.master_name) == -1)
			return -1;
		if (wuzhad_prefix_ok(c->redis.master_name) == -1)
			return conf_yaml_error(doc, mname,
			    "must match [A-Za-z0-9:._-]{1,64}");
	} else if ((c->redis.master_name = strdup("wuzha")) == NULL)
		return conf_yaml_error(doc, sen, "out of memory");
	if (sen == NULL)
		return 0;
	if (other != NULL)
		return conf_yaml_error(doc, other, "cannot be used with "
		    "redis.sentinels (they name the primary)");
	if (conf_yaml_seq(doc, sen) == -1)
		return -1;
	if (sen->n == 0 || sen->n > WUZHAD_SENTINELS_MAX)
		return conf_yaml_error(doc, sen, "must list 1 to %d "
		    "\"host:port\"", WUZHAD_SENTINELS_MAX);
	if ((c->redis.sentinels = calloc(sen->n, sizeof(char *))) == NULL)
		return conf_yaml_error(doc, sen, "out of memory");
	for (i = 0; i < sen->n; i++) {
		if (conf_yaml_string(doc, sen->items[i], CONF_HOSTPORT_MAX,
		    &c->redis.sentinels[i]) == -1)
			return -1;
		c->redis.nsentinels++;
		if (conf_util_hostport(c->redis.sentinels[i], 0, &why) == -1)
			return conf_yaml_error(doc, sen->items[i], "%s", why);
	}
	return 0;
}

/* redis: a unix socket or host and port, the key prefix, the timings. */
static int
wuzhad_redis(struct conf_yaml_doc *doc, const struct conf_yaml_node *node,
    const char *dir, struct conf_wuzhad *c)
{
	const struct conf_yaml_node	*sock, *host, *port, *prefix, *cto;
	const struct conf_yaml_node	*kto, *rmin, *rmax, *sen, *mname;
	const struct conf_yaml_node	*wrep, *wto;
	const struct conf_yaml_key	 keys[] = {
		{ "socket", 0, &sock }, { "host", 0, &host },
		{ "port", 0, &port }, { "prefix", 0, &prefix },
		{ "connect_timeout", 0, &cto }, { "command_timeout", 0, &kto },
		{ "reconnect_min", 0, &rmin }, { "reconnect_max", 0, &rmax },
		{ "sentinels", 0, &sen }, { "master_name", 0, &mname },
		{ "wait_replicas", 0, &wrep }, { "wait_timeout", 0, &wto },
	};
	uint64_t			 v;

	if (node != NULL && conf_yaml_map(doc, node, keys,
	    sizeof(keys) / sizeof(keys[0])) == -1)
		return -1;
	if (node == NULL)
		sock = host = port = prefix = cto = kto = rmin = rmax = sen =
		    mname = wrep = wto = NULL;
	if (wuzhad_sentinels(doc, sen, sock != NULL ? sock : host != NULL ?
	    host : port, mname, c) == -1)
		return -1;

	if (sock != NULL) {
		if (host != NULL)
			return conf_yaml_error(doc, host,
			    "cannot be used with redis.socket");
		if (port != NULL)
			return conf_yaml_error(doc, port,
			    "cannot be used with redis.socket");
		if (conf_yaml_path(doc, sock, dir, &c->redis.socket) == -1)
			return -1;
	} else {
		if (host != NULL) {
			if (conf_yaml_string(doc, host, 253, &c->redis.host) ==
			    -1)
				return -1;
			if (conf_util_hostname(c->redis.host) == -1)
				return conf_yaml_error(doc, host,
				    "is not a host name or address");
		} else if ((c->redis.host = strdup("127.0.0.1")) == NULL)
			return conf_yaml_error(doc, node, "out of memory");
		c->redis.port = 6379;
		if (port != NULL) {
			if (conf_yaml_uint(doc, port, 1, 65535, &v) == -1)
				return -1;
			c->redis.port = (uint16_t)v;
		}
	}

	if (prefix != NULL) {
		if (conf_yaml_string(doc, prefix, WUZHAD_PREFIX_MAX,
		    &c->redis.prefix) == -1)
			return -1;
		if (wuzhad_prefix_ok(c->redis.prefix) == -1)
			return conf_yaml_error(doc, prefix,
			    "must match [A-Za-z0-9:._-]{1,64}");
	} else if ((c->redis.prefix = strdup("wuzha:")) == NULL)
		return conf_yaml_error(doc, node, "out of memory");

	c->redis.connect_timeout_ms = 2000;
	c->redis.command_timeout_ms = 5000;
	c->redis.reconnect_min_ms = 100;
	c->redis.reconnect_max_ms = 10000;
	if (cto != NULL && conf_yaml_duration(doc, cto, 10, 60000,
	    &c->redis.connect_timeout_ms) == -1)
		return -1;
	if (kto != NULL && conf_yaml_duration(doc, kto, 10, 300000,
	    &c->redis.command_timeout_ms) == -1)
		return -1;
	if (rmin != NULL && conf_yaml_duration(doc, rmin, 10, 60000,
	    &c->redis.reconnect_min_ms) == -1)
		return -1;
	if (rmax != NULL && conf_yaml_duration(doc, rmax, 10, 3600000,
	    &c->redis.reconnect_max_ms) == -1)
		return -1;
	if (c->redis.reconnect_max_ms < c->redis.reconnect_min_ms) {
		if (rmax != NULL)
			return conf_yaml_error(doc, rmax,
			    "must not be less than redis.reconnect_min");
		return conf_yaml_error(doc, rmin,
		    "must not be more than redis.reconnect_max");
	}
	c->redis.wait_timeout_ms = 1000;
	if (wrep != NULL) {
		if (conf_yaml_uint(doc, wrep, 0, WUZHAD_REPLICAS_MAX, &v) == -1)
			return -1;
		c->redis.wait_replicas = (uint32_t)v;
	}
	if (wto != NULL && conf_yaml_duration(doc, wto, 10, 60000,
	    &c->redis.wait_timeout_ms) == -1)
		return -1;
	return 0;
}

/* limits: sizes and counts that bound what one peer or call may cost. */
static int
wuzhad_limits(struct conf_yaml_doc *doc, const struct conf_yaml_node *node,
    struct conf_wuzhad *c)
{
	const struct conf_yaml_node	*frame, *conns, *text, *output, *batch;
	const struct conf_yaml_node	*peraddr, *rate, *burst, *report, *rows;
	const struct conf_yaml_key	 keys[] = {
		{ "max_frame", 0, &frame }, { "max_connections", 0, &conns },
		{ "max_text", 0, &text }, { "max_output", 0, &output },
		{ "ack_batch", 0, &batch },
		{ "max_connections_per_address", 0, &peraddr },
		{ "publish_rate", 0, &rate }, { "publish_burst", 0, &burst },
		{ "report_alerts", 0, &report }, { "status_rows", 0, &rows },
	};
	uint64_t			 v;

	c->limits.max_frame = 65536;
	c->limits.max_connections = 19000;
	c->limits.max_text = 16384;
	c->limits.max_output = 4 * 1024 * 1024;
	c->limits.ack_batch = 64;
	c->limits.max_per_address = 1000;
	c->limits.publish_rate = 60;
	c->limits.publish_burst = 20;
	c->limits.report_alerts = 10000;
	c->limits.status_rows = 20000;
	if (node == NULL)
		return 0;
	if (conf_yaml_map(doc, node, keys, sizeof(keys) / sizeof(keys[0])) ==
	    -1)
		return -1;
	if (frame != NULL) {
		if (conf_yaml_size(doc, frame, 1024, 16 * 1024 * 1024, &v) ==
		    -1)
			return -1;
		c->limits.max_frame = (uint32_t)v;
	}
	if (conns != NULL) {
		if (conf_yaml_uint(doc, conns, 1, 1000000, &v) == -1)
			return -1;
		c->limits.max_connections = (uint32_t)v;
	}
	if (text != NULL) {
		/* A field's length is a u16 on the wire. */
		if (conf_yaml_size(doc, text, 1, 65535, &v) == -1)
			return -1;
		c->limits.max_text = (uint32_t)v;
	}
	if (output != NULL) {
		if (conf_yaml_size(doc, output, 64 * 1024,
		    (int64_t)1024 * 1024 * 1024, &v) == -1)
			return -1;
		c->limits.max_output = v;
	}
	if (batch != NULL) {
		if (conf_yaml_uint(doc, batch, 1, 65536, &v) == -1)
			return -1;
		c->limits.ack_batch = (uint32_t)v;
	}
	if (peraddr != NULL) {
		if (conf_yaml_uint(doc, peraddr, 1, 1000000, &v) == -1)
			return -1;
		c->limits.max_per_address = (uint32_t)v;
	}
	if (rate != NULL) {
		if (conf_yaml_uint(doc, rate, 1, 1000000, &v) == -1)
			return -1;
		c->limits.publish_rate = (uint32_t)v;
	}
	if (burst != NULL) {
		if (conf_yaml_uint(doc, burst, 1, 1000000, &v) == -1)
			return -1;
		c->limits.publish_burst = (uint32_t)v;
	}
	if (report != NULL) {
		if (conf_yaml_uint(doc, report, 1, 1000000, &v) == -1)
			return -1;
		c->limits.report_alerts = (uint32_t)v;
	}
	if (rows != NULL) {
		if (conf_yaml_uint(doc, rows, 100, 10000000, &v) == -1)
			return -1;
		c->limits.status_rows = (uint32_t)v;
	}
	if (c->limits.max_text >= c->limits.max_frame) {
		if (text != NULL)
			return conf_yaml_error(doc, text,
			    "must be smaller than limits.max_frame");
		return conf_yaml_error(doc, frame,
		    "must be larger than limits.max_text");
	}
	if (c->limits.max_output < c->limits.max_frame) {
		if (output != NULL)
			return conf_yaml_error(doc, output,
			    "must not be smaller than limits.max_frame");
		return conf_yaml_error(doc, frame,
		    "must not be larger than limits.max_output");
	}
	return 0;
}

/* timeouts: handshake, heartbeat and idle, clock skew, tree polling. */
static int
wuzhad_timeouts(struct conf_yaml_doc *doc, const struct conf_yaml_node *node,
    struct conf_wuzhad *c)
{
	const struct conf_yaml_node	*hs, *hb, *idle, *skew, *tree, *frame;
	const struct conf_yaml_node	*feed;
	const struct conf_yaml_key	 keys[] = {
		{ "handshake", 0, &hs }, { "heartbeat", 0, &hb },
		{ "frame", 0, &frame }, { "feed", 0, &feed },
		{ "idle", 0, &idle }, { "skew", 0, &skew },
		{ "tree_refresh", 0, &tree },
	};

	c->timeouts.handshake_ms = 10000;
	c->timeouts.heartbeat_s = 30;
	c->timeouts.idle_s = 90;
	c->timeouts.skew_s = 300;
	c->timeouts.tree_refresh_ms = 2000;
	c->timeouts.frame_ms = 30000;
	c->timeouts.feed_ms = 25;
	if (node == NULL)
		return 0;
	if (conf_yaml_map(doc, node, keys, sizeof(keys) / sizeof(keys[0])) ==
	    -1)
		return -1;
	if (hs != NULL && conf_yaml_duration(doc, hs, 100, 300000,
	    &c->timeouts.handshake_ms) == -1)
		return -1;
	if (hb != NULL && conf_yaml_seconds(doc, hb, 1000, 3600000,
	    &c->timeouts.heartbeat_s) == -1)
		return -1;
	if (idle != NULL && conf_yaml_seconds(doc, idle, 2000, 86400000,
	    &c->timeouts.idle_s) == -1)
		return -1;
	if (skew != NULL && conf_yaml_seconds(doc, skew, 1000, 86400000,
	    &c->timeouts.skew_s) == -1)
		return -1;
	if (tree != NULL && conf_yaml_duration(doc, tree, 100, 3600000,
	    &c->timeouts.tree_refresh_ms) == -1)
		return -1;
	if (frame != NULL && conf_yaml_duration(doc, frame, 100, 3600000,
	    &c->timeouts.frame_ms) == -1)
		return -1;
	if (feed != NULL && conf_yaml_duration(doc, feed, 5, 10000,
	    &c->timeouts.feed_ms) == -1)
		return -1;
	/* A peer must get at least one heartbeat before it counts as idle. */
	if (c->timeouts.idle_s <= c->timeouts.heartbeat_s) {
		if (idle != NULL)
			return conf_yaml_error(doc, idle,
			    "must be longer than timeouts.heartbeat");
		return conf_yaml_error(doc, hb,
		    "must be shorter than timeouts.idle");
	}
	return 0;
}

/* delivery: reminder and escalation defaults (issuers may override). */
static int
wuzhad_delivery(struct conf_yaml_doc *doc, const struct conf_yaml_node *node,
    struct conf_wuzhad *c)
{
	const struct conf_yaml_node	*remind, *escalate, *max;
	const struct conf_yaml_key	 keys[] = {
		{ "remind_after", 0, &remind }, { "escalate_after", 0, &escalate },
		{ "max_reminders", 0, &max },
	};
	uint64_t			 v;

	c->delivery.remind_after_ms = 30 * 60 * 1000;
	c->delivery.escalate_after_ms = 2 * 60 * 60 * 1000;
	c->delivery.max_reminders = 3;
	if (node == NULL)
		return 0;
	if (conf_yaml_map(doc, node, keys, sizeof(keys) / sizeof(keys[0])) ==
	    -1)
		return -1;
	/* At most 30 days: the wire carries milliseconds in a u32. */
	if (remind != NULL && conf_yaml_duration(doc, remind, 100,
	    30u * 86400000u, &c->delivery.remind_after_ms) == -1)
		return -1;
	if (escalate != NULL && conf_yaml_duration(doc, escalate, 100,
	    30u * 86400000u, &c->delivery.escalate_after_ms) == -1)
		return -1;
	if (max != NULL) {
		if (conf_yaml_uint(doc, max, 0, 100, &v) == -1)
			return -1;
		c->delivery.max_reminders = (uint32_t)v;
	}
	return 0;
}

/* clues: how many a principal may report an hour, how long they are kept. */
static int
wuzhad_clues(struct conf_yaml_doc *doc, const struct conf_yaml_node *node,
    struct conf_wuzhad *c)
{
	const struct conf_yaml_node	*rate, *keep;
	const struct conf_yaml_key	 keys[] = {
		{ "rate", 0, &rate }, { "keep_days", 0, &keep },
	};
	uint64_t			 v;

	c->clues.rate = 20;
	c->clues.keep_days = 0;		/* evidence: kept for ever */
	if (node == NULL)
		return 0;
	if (conf_yaml_map(doc, node, keys, sizeof(keys) / sizeof(keys[0])) ==
	    -1)
		return -1;
	if (rate != NULL) {
		if (conf_yaml_uint(doc, rate, 1, 10000, &v) == -1)
			return -1;
		c->clues.rate = (uint32_t)v;
	}
	if (keep != NULL) {
		if (conf_yaml_uint(doc, keep, 0, 36500, &v) == -1)
			return -1;
		c->clues.keep_days = (uint32_t)v;
	}
	return 0;
}

/* metrics: listen ("host:port" or "off"). */
static int
wuzhad_metrics(struct conf_yaml_doc *doc, const struct conf_yaml_node *node,
    struct conf_wuzhad *c)
{
	const struct conf_yaml_node	*listen = NULL;
	const struct conf_yaml_key	 keys[] = {
		{ "listen", 0, &listen },
	};
	const char			*why;

	if (node != NULL && conf_yaml_map(doc, node, keys,
	    sizeof(keys) / sizeof(keys[0])) == -1)
		return -1;
	if (listen == NULL) {
		if ((c->metrics.listen = strdup(CONF_METRICS_DEFAULT)) == NULL) {
			conf_yaml_error(doc, conf_yaml_root(doc), "out of memory");
			return -1;
		}
		return 0;
	}
	if (conf_yaml_string(doc, listen, CONF_HOSTPORT_MAX,
	    &c->metrics.listen) == -1)
		return -1;
	if (strcmp(c->metrics.listen, "off") != 0 &&
	    conf_util_hostport(c->metrics.listen, 1, &why) == -1) {
		conf_yaml_error(doc, listen, "%s (or \"off\")", why);
		return -1;
	}
	return 0;
}

/* audit: the Merkle log's mirror file and checkpoint cadence. */
static int
wuzhad_audit(struct conf_yaml_doc *doc, const struct conf_yaml_node *node,
    const char *dir, struct conf_wuzhad *c)
{
	const struct conf_yaml_node	*file, *every, *interval, *slice, *page;
	const struct conf_yaml_key	 keys[] = {
		{ "file", 0, &file }, { "checkpoint_every", 0, &every },
		{ "checkpoint_interval", 0, &interval }, { "slice", 0, &slice },
		{ "page_max", 0, &page },
	};
	uint64_t			 v;

	c->audit.checkpoint_every = 1000;
	c->audit.checkpoint_interval_ms = 60 * 1000;
	c->audit.slice = 2000;
	c->audit.page_max = 1000;
	if (node == NULL)
		return 0;
	if (conf_yaml_map(doc, node, keys, sizeof(keys) / sizeof(keys[0])) ==
	    -1)
		return -1;
	if (file != NULL && conf_yaml_path(doc, file, dir, &c->audit.file) ==
	    -1)
		return -1;
	if (every != NULL) {
		if (conf_yaml_uint(doc, every, 1, 1000000, &v) == -1)
			return -1;
		c->audit.checkpoint_every = (uint32_t)v;
	}
	if (interval != NULL && conf_yaml_duration(doc, interval, 100,
	    86400000u, &c->audit.checkpoint_interval_ms) == -1)
		return -1;
	if (slice != NULL) {
		if (conf_yaml_uint(doc, slice, 1, 2000, &v) == -1)
			return -1;
		c->audit.slice = (uint32_t)v;
	}
	if (page != NULL) {
		if (conf_yaml_uint(doc, page, 1, 10000, &v) == -1)
			return -1;
		c->audit.page_max = (uint32_t)v;
	}
	return 0;
}

/* true or false. */
static int
wuzhad_bool(struct conf_yaml_doc *doc, const struct conf_yaml_node *node,
    int *v)
{
	const char	*s;

	if ((s = conf_yaml_scalar(doc, node)) == NULL)
		return -1;
	if (strcmp(s, "true") == 0)
		*v = 1;
	else if (strcmp(s, "false") == 0)
		*v = 0;
	else
		return conf_yaml_error(doc, node, "must be true or false");
	return 0;
}

/* Build the config from a parsed document; NULL on any error. */
static struct conf_wuzhad *
wuzhad_build(struct conf_yaml_doc *doc, const char *dir)
{
	const struct conf_yaml_node	*root = conf_yaml_root(doc);
	const struct conf_yaml_node	*listen, *tls, *redis, *limits;
	const struct conf_yaml_node	*timeouts, *delivery, *level, *metrics;
	const struct conf_yaml_node	*name, *reuse, *audit, *clues, *receipts;
	const struct conf_yaml_key	 keys[] = {
		{ "clues", 0, &clues },
		{ "listen", 1, &listen }, { "tls", 1, &tls },
		{ "name", 0, &name }, { "listen_reuse_port", 0, &reuse },
		{ "redis", 0, &redis }, { "limits", 0, &limits },
		{ "timeouts", 0, &timeouts }, { "delivery", 0, &delivery },
		{ "log_level", 0, &level }, { "metrics", 0, &metrics },
		{ "audit", 0, &audit },
		{ "receipts", 0, &receipts },
	};
	struct conf_wuzhad		*c;
	const char			*why, *s;
	char				 q[128];

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		conf_yaml_error(doc, root, "out of memory");
		return NULL;
	}
	if (conf_yaml_map(doc, root, keys, sizeof(keys) / sizeof(keys[0])) ==
	    -1)
		goto fail;
	if (conf_yaml_string(doc, listen, CONF_HOSTPORT_MAX, &c->listen) == -1)
		goto fail;
	if (conf_util_hostport(c->listen, 1, &why) == -1) {
		conf_yaml_error(doc, listen, "%s", why);
		goto fail;
	}
	if (reuse != NULL && wuzhad_bool(doc, reuse, &c->listen_reuse_port) ==
	    -1)
		goto fail;
	if (name != NULL) {
		if (conf_yaml_string(doc, name, CONF_ID_MAX, &c->name) == -1)
			goto fail;
		if (!wuzhad_name_ok(c->name)) {
			conf_yaml_error(doc, name, "want 1 to %d letters, digits, "
			    "'.', '_' or '-', not starting with '.' or '-'",
			    CONF_ID_MAX);
			goto fail;
		}
	}
	if (wuzhad_tls(doc, tls, dir, c) == -1 ||
	    wuzhad_redis(doc, redis, dir, c) == -1 ||
	    wuzhad_limits(doc, limits, c) == -1 ||
	    wuzhad_timeouts(doc, timeouts, c) == -1 ||
	    wuzhad_delivery(doc, delivery, c) == -1 ||
	    wuzhad_metrics(doc, metrics, c) == -1 ||
	    wuzhad_audit(doc, audit, dir, c) == -1 ||
	    wuzhad_clues(doc, clues, c) == -1)
		goto fail;
	s = "info";
	if (level != NULL) {
		if ((s = conf_yaml_scalar(doc, level)) == NULL)
			goto fail;
		if (strcmp(s, "debug") != 0 && strcmp(s, "info") != 0 &&
		    strcmp(s, "warning") != 0) {
			conf_util_quote(q, sizeof(q), s, strlen(s));
			conf_yaml_error(doc, level,
			    "unknown level %s (want debug, info or warning)",
			    q);
			goto fail;
		}
	}
	if ((c->log_level = strdup(s)) == NULL) {
		conf_yaml_error(doc, root, "out of memory");
		goto fail;
	}
	/* Signed acks: required unless old agents must still be heard. */
	c->receipts_required = 1;
	if (receipts != NULL) {
		if ((s = conf_yaml_scalar(doc, receipts)) == NULL)
			goto fail;
		if (strcmp(s, "optional") == 0)
			c->receipts_required = 0;
		else if (strcmp(s, "required") != 0) {
			conf_util_quote(q, sizeof(q), s, strlen(s));
			conf_yaml_error(doc, receipts, "unknown value %s (want "
			    "required or optional)", q);
			goto fail;
		}
	}
	return c;
fail:
	conf_wuzhad_free(c);
	return NULL;
}

/* The builder as conf_util_load takes it. */
static void *
wuzhad_build_any(struct conf_yaml_doc *doc, const char *dir)
{
	return wuzhad_build(doc, dir);
}

/* Load wuzhad.yaml; relative paths in it are taken from its directory. */
struct conf_wuzhad *
conf_wuzhad_load(const char *path, char *err, size_t errlen)
{
	return conf_util_load(path, wuzhad_build_any, err, errlen);
}

/* Parse wuzhad.yaml from memory; relative paths are kept as they are. */
struct conf_wuzhad *
conf_wuzhad_parse(const char *name, const void *buf, size_t len, char *err,
    size_t errlen)
{
	return conf_util_parse(name, buf, len, wuzhad_build_any, err, errlen);
}

/* The command line's name and metrics address over the file's. */
int
conf_wuzhad_override(struct conf_wuzhad *c, const char *name,
    const char *metrics_listen, char *err, size_t errlen)
{
	const char	*why;
	char		*n = NULL, *m = NULL;

	if (name != NULL && !wuzhad_name_ok(name)) {
		snprintf(err, errlen, "--name %s: want 1 to %d letters, digits, "
		    "'.', '_' or '-', not starting with '.' or '-'", name,
		    CONF_ID_MAX);
		return -1;
	}
	if (metrics_listen != NULL && strcmp(metrics_listen, "off") != 0 &&
	    (strlen(metrics_listen) > CONF_HOSTPORT_MAX ||
	    conf_util_hostport(metrics_listen, 1, &why) == -1)) {
		snprintf(err, errlen, "--metrics-listen %s: %s (or \"off\")",
		    metrics_listen, strlen(metrics_listen) > CONF_HOSTPORT_MAX ?
		    "too long" : why);
		return -1;
	}
	if ((name != NULL && (n = strdup(name)) == NULL) ||
	    (metrics_listen != NULL && (m = strdup(metrics_listen)) == NULL)) {
		free(n);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (n != NULL) {
		free(c->name);
		c->name = n;
	}
	if (m != NULL) {
		free(c->metrics.listen);
	free(c->audit.file);
		c->metrics.listen = m;
	}
	return 0;
}

void
conf_wuzhad_free(struct conf_wuzhad *c)
{
	size_t	i;

	if (c == NULL)
		return;
	free(c->listen);
	free(c->name);
	free(c->tls.ca);
	free(c->tls.cert);
	free(c->tls.key);
	free(c->tls.crl);
	free(c->tls.ticket_key);
	free(c->redis.socket);
	free(c->redis.host);
	free(c->redis.prefix);
	for (i = 0; i < c->redis.nsentinels; i++)
		free(c->redis.sentinels[i]);
	free(c->redis.sentinels);
	free(c->redis.master_name);
	free(c->log_level);
	free(c->metrics.listen);
	free(c->audit.file);
	free(c);
}
