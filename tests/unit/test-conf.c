/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of conf/: the shipped examples load, defaults are filled in,
 * relative paths follow the file, trees come out parents-first and survive
 * a write and a read, and every kind of bad input is refused with the
 * exact "file:line: key: reason" it deserves.
 *
 * usage: test-conf CONF_SOURCE_DIR TEST_DATA_DIR
 */

#include <sys/stat.h>

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "conf_impl.h"

static const char	*confdir;	/* conf/ in the source tree */
static char		 datadir[PATH_MAX];	/* tests/unit/data/conf */

/* Five lines: the smallest wuzhad.yaml, extra keys start on line 6. */
#define W_BASE \
	"listen: \"127.0.0.1:0\"\n" \
	"tls:\n" \
	"  ca: ca.pem\n" \
	"  cert: c.pem\n" \
	"  key: k.pem\n"

/* Six lines: the smallest agent.yaml, extra keys start on line 7. */
#define A_BASE \
	"server: \"127.0.0.1:7443\"\n" \
	"server_name: wuzhad\n" \
	"tls:\n" \
	"  ca: ca.pem\n" \
	"  cert: c.pem\n" \
	"  key: k.pem\n"

/* A four-tier chain on lines 2-5, one principal on line 7. */
#define T_NODES \
	"nodes:\n" \
	"  - {id: p, name: P, tier: police}\n" \
	"  - {id: s, name: S, tier: school, parent: p}\n" \
	"  - {id: d, name: D, tier: department, parent: s}\n"
#define T_CLASS \
	"  - {id: c, name: C, tier: class, parent: d}\n"
#define T_PRINC \
	"principals:\n" \
	"  - {cn: adv, node: c, rights: [receive]}\n"

enum kind {
	K_WUZHAD,
	K_AGENT,
	K_TREE,
};

/* Parse buf as kind and require a refusal with exactly the message want. */
static void
refused_len(enum kind kind, const char *buf, size_t len, const char *want)
{
	struct conf_wuzhad	*w;
	struct conf_agent	*a;
	struct conf_tree	*t;
	char			 err[CONF_ERR_MAX];

	memset(err, 0, sizeof(err));
	switch (kind) {
	case K_WUZHAD:
		if ((w = conf_wuzhad_parse("t.yaml", buf, len, err,
		    sizeof(err))) != NULL) {
			conf_wuzhad_free(w);
			fail_msg("accepted, wanted: %s", want);
		}
		break;
	case K_AGENT:
		if ((a = conf_agent_parse("t.yaml", buf, len, err,
		    sizeof(err))) != NULL) {
			conf_agent_free(a);
			fail_msg("accepted, wanted: %s", want);
		}
		break;
	case K_TREE:
		if ((t = conf_tree_parse("t.yaml", buf, len, err,
		    sizeof(err))) != NULL) {
			conf_tree_free(t);
			fail_msg("accepted, wanted: %s", want);
		}
		break;
	}
	assert_string_equal(err, want);
}

static void
refused(enum kind kind, const char *buf, const char *want)
{
	refused_len(kind, buf, strlen(buf), want);
}

#define W_REFUSED(buf, want)	refused(K_WUZHAD, (buf), (want))
#define A_REFUSED(buf, want)	refused(K_AGENT, (buf), (want))
#define T_REFUSED(buf, want)	refused(K_TREE, (buf), (want))

static struct conf_wuzhad *
wuzhad_ok(const char *buf)
{
	struct conf_wuzhad	*c;
	char			 err[CONF_ERR_MAX] = "";

	c = conf_wuzhad_parse("t.yaml", buf, strlen(buf), err, sizeof(err));
	if (c == NULL)
		fail_msg("refused: %s", err);
	return c;
}

static struct conf_agent *
agent_ok(const char *buf)
{
	struct conf_agent	*c;
	char			 err[CONF_ERR_MAX] = "";

	c = conf_agent_parse("t.yaml", buf, strlen(buf), err, sizeof(err));
	if (c == NULL)
		fail_msg("refused: %s", err);
	return c;
}

static struct conf_tree *
tree_ok(const char *buf, size_t len)
{
	struct conf_tree	*t;
	char			 err[CONF_ERR_MAX] = "";

	if ((t = conf_tree_parse("t.yaml", buf, len, err, sizeof(err))) ==
	    NULL)
		fail_msg("refused: %s", err);
	return t;
}

/* dir/name into buf. */
static const char *
join(char *buf, size_t len, const char *dir, const char *name)
{
	int	n;

	n = snprintf(buf, len, "%s/%s", dir, name);
	assert_true(n > 0 && (size_t)n < len);
	return buf;
}

/* Two trees hold the same nodes and principals (lines aside). */
static void
assert_same_tree(const struct conf_tree *a, const struct conf_tree *b)
{
	size_t	i;

	assert_int_equal(a->nnodes, b->nnodes);
	assert_int_equal(a->nprincipals, b->nprincipals);
	for (i = 0; i < a->nnodes; i++) {
		assert_string_equal(a->nodes[i].id, b->nodes[i].id);
		assert_string_equal(a->nodes[i].name, b->nodes[i].name);
		assert_int_equal(a->nodes[i].tier, b->nodes[i].tier);
		assert_string_equal(a->nodes[i].parent, b->nodes[i].parent);
	}
	for (i = 0; i < a->nprincipals; i++) {
		assert_string_equal(a->principals[i].cn, b->principals[i].cn);
		assert_string_equal(a->principals[i].node,
		    b->principals[i].node);
		assert_int_equal(a->principals[i].rights,
		    b->principals[i].rights);
	}
}

/* Every node's parent comes before it. */
static void
assert_parents_first(const struct conf_tree *t)
{
	size_t	i, j;

	for (i = 0; i < t->nnodes; i++) {
		if (t->nodes[i].parent[0] == '\0') {
			assert_int_equal(t->nodes[i].tier, CONF_TIER_POLICE);
			continue;
		}
		for (j = 0; j < i; j++)
			if (strcmp(t->nodes[j].id, t->nodes[i].parent) == 0)
				break;
		if (j == i)
			fail_msg("%s comes before its parent %s",
			    t->nodes[i].id, t->nodes[i].parent);
		assert_int_equal(t->nodes[j].tier + 1, t->nodes[i].tier);
	}
}

/* Write a tree to memory. */
static char *
tree_text(const struct conf_tree *t, size_t *len)
{
	char	*buf = NULL;
	FILE	*f;

	assert_non_null(f = open_memstream(&buf, len));
	assert_int_equal(conf_tree_write(t, f), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

/* --- the shipped examples ---------------------------------------------- */

static void
test_example_wuzhad_loads(void **state)
{
	struct conf_wuzhad	*c;
	char			 path[PATH_MAX], want[PATH_MAX];
	char			 err[CONF_ERR_MAX] = "";

	(void)state;
	c = conf_wuzhad_load(join(path, sizeof(path), confdir, "wuzhad.yaml"),
	    err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	assert_string_equal(c->listen, "127.0.0.1:7443");
	assert_int_equal(c->listen_reuse_port, 0);
	assert_null(c->name);
	assert_string_equal(c->tls.ca, join(want, sizeof(want), confdir,
	    "pki/ca.crt"));
	assert_string_equal(c->tls.cert, join(want, sizeof(want), confdir,
	    "pki/wuzhad.crt"));
	assert_string_equal(c->tls.key, join(want, sizeof(want), confdir,
	    "pki/wuzhad.key"));
	assert_string_equal(c->tls.crl, join(want, sizeof(want), confdir,
	    "pki/crl.pem"));
	assert_string_equal(c->tls.ticket_key, join(want, sizeof(want),
	    confdir, "pki/ticket.key"));
	assert_string_equal(c->redis.socket, join(want, sizeof(want), confdir,
	    "run/redis.sock"));
	assert_null(c->redis.host);
	assert_string_equal(c->redis.prefix, "wuzha:");
	assert_int_equal(c->redis.connect_timeout_ms, 2000);
	assert_int_equal(c->redis.command_timeout_ms, 5000);
	assert_int_equal(c->redis.reconnect_min_ms, 100);
	assert_int_equal(c->redis.reconnect_max_ms, 10000);
	assert_int_equal(c->limits.max_frame, 65536);
	assert_int_equal(c->limits.max_connections, 19000);
	assert_int_equal(c->limits.max_text, 16384);
	assert_int_equal(c->limits.max_output, 4 * 1024 * 1024);
	assert_int_equal(c->limits.ack_batch, 64);
	assert_int_equal(c->limits.report_alerts, 10000);
	assert_int_equal(c->timeouts.handshake_ms, 10000);
	assert_int_equal(c->timeouts.heartbeat_s, 30);
	assert_int_equal(c->timeouts.idle_s, 90);
	assert_int_equal(c->timeouts.skew_s, 300);
	assert_int_equal(c->timeouts.tree_refresh_ms, 2000);
	assert_int_equal(c->delivery.remind_after_ms, 30 * 60 * 1000);
	assert_int_equal(c->delivery.escalate_after_ms, 2 * 3600 * 1000);
	assert_int_equal(c->delivery.max_reminders, 3);
	assert_string_equal(c->log_level, "info");
	conf_wuzhad_free(c);
}

static void
test_wuzhad_delivery_read_and_checked(void **state)
{
	struct conf_wuzhad	*c;

	(void)state;
	c = wuzhad_ok(W_BASE "delivery: {remind_after: 500ms, "
	    "escalate_after: 2s, max_reminders: 0}\n");
	assert_int_equal(c->delivery.remind_after_ms, 500);
	assert_int_equal(c->delivery.escalate_after_ms, 2000);
	assert_int_equal(c->delivery.max_reminders, 0);
	conf_wuzhad_free(c);
	W_REFUSED(W_BASE "delivery:\n  remind_after: 10\n",
	    "t.yaml:7: delivery.remind_after: \"10\" needs a unit (ms, s, m, h or d)");
	W_REFUSED(W_BASE "delivery:\n  escalate_after: 50ms\n",
	    "t.yaml:7: delivery.escalate_after: must be between 100ms and 720h");
	W_REFUSED(W_BASE "delivery:\n  max_reminders: 101\n",
	    "t.yaml:7: delivery.max_reminders: must be between 0 and 100");
	W_REFUSED(W_BASE "delivery:\n  remind: 1s\n",
	    "t.yaml:7: delivery.remind: unknown key");
}

static void
test_wuzhad_audit_read_and_checked(void **state)
{
	struct conf_wuzhad	*c;

	(void)state;
	c = wuzhad_ok(W_BASE);
	assert_null(c->audit.file);
	assert_int_equal(c->audit.checkpoint_every, 1000);
	assert_int_equal(c->audit.checkpoint_interval_ms, 60000);
	assert_int_equal(c->audit.slice, 2000);
	assert_int_equal(c->audit.page_max, 1000);
	conf_wuzhad_free(c);
	c = wuzhad_ok(W_BASE "audit: {file: /var/lib/wuzha/audit.log, "
	    "checkpoint_every: 5, checkpoint_interval: 2s, slice: 10, "
	    "page_max: 3}\n");
	assert_string_equal(c->audit.file, "/var/lib/wuzha/audit.log");
	assert_int_equal(c->audit.checkpoint_every, 5);
	assert_int_equal(c->audit.checkpoint_interval_ms, 2000);
	assert_int_equal(c->audit.slice, 10);
	assert_int_equal(c->audit.page_max, 3);
	conf_wuzhad_free(c);
	W_REFUSED(W_BASE "audit:\n  checkpoint_every: 0\n",
	    "t.yaml:7: audit.checkpoint_every: must be between 1 and 1000000");
	W_REFUSED(W_BASE "audit:\n  checkpoint_interval: 50ms\n",
	    "t.yaml:7: audit.checkpoint_interval: must be between 100ms and 24h");
	W_REFUSED(W_BASE "audit:\n  slice: 2001\n",
	    "t.yaml:7: audit.slice: must be between 1 and 2000");
	W_REFUSED(W_BASE "audit:\n  page_max: 10001\n",
	    "t.yaml:7: audit.page_max: must be between 1 and 10000");
	W_REFUSED(W_BASE "audit:\n  every: 5\n",
	    "t.yaml:7: audit.every: unknown key");
}

static void
test_wuzhad_metrics_read_and_checked(void **state)
{
	struct conf_wuzhad	*c;

	(void)state;
	c = wuzhad_ok(W_BASE);
	assert_string_equal(c->metrics.listen, "127.0.0.1:9471");
	conf_wuzhad_free(c);
	c = wuzhad_ok(W_BASE "metrics:\n  listen: \"[::1]:0\"\n");
	assert_string_equal(c->metrics.listen, "[::1]:0");
	conf_wuzhad_free(c);
	c = wuzhad_ok(W_BASE "metrics: {listen: off}\n");
	assert_string_equal(c->metrics.listen, "off");
	conf_wuzhad_free(c);
	W_REFUSED(W_BASE "metrics:\n  listen: localhost\n",
	    "t.yaml:7: metrics.listen: must be host:port or [v6]:port "
	    "(or \"off\")");
	W_REFUSED(W_BASE "metrics:\n  port: 9471\n",
	    "t.yaml:7: metrics.port: unknown key");
}

/* name and listen_reuse_port, and what the command line sets over them. */
static void
test_wuzhad_instance_read_and_checked(void **state)
{
	struct conf_wuzhad	*c;
	char			 err[CONF_ERR_MAX] = "";

	(void)state;
	c = wuzhad_ok(W_BASE);
	assert_null(c->name);
	assert_int_equal(c->listen_reuse_port, 0);
	conf_wuzhad_free(c);
	c = wuzhad_ok(W_BASE "name: core-1\nlisten_reuse_port: true\n");
	assert_string_equal(c->name, "core-1");
	assert_int_equal(c->listen_reuse_port, 1);
	/* The command line: each override alone, then both. */
	assert_int_equal(conf_wuzhad_override(c, NULL, NULL, err,
	    sizeof(err)), 0);
	assert_string_equal(c->name, "core-1");
	assert_string_equal(c->metrics.listen, "127.0.0.1:9471");
	assert_int_equal(conf_wuzhad_override(c, "2", "127.0.0.1:9472", err,
	    sizeof(err)), 0);
	assert_string_equal(c->name, "2");
	assert_string_equal(c->metrics.listen, "127.0.0.1:9472");
	assert_int_equal(conf_wuzhad_override(c, NULL, "off", err,
	    sizeof(err)), 0);
	assert_string_equal(c->metrics.listen, "off");
	/* A bad one changes nothing. */
	assert_int_equal(conf_wuzhad_override(c, "a b", "127.0.0.1:1", err,
	    sizeof(err)), -1);
	assert_string_equal(err, "--name a b: want 1 to 64 letters, digits, "
	    "'.', '_' or '-', not starting with '.' or '-'");
	assert_int_equal(conf_wuzhad_override(c, "3", "localhost", err,
	    sizeof(err)), -1);
	assert_string_equal(err, "--metrics-listen localhost: must be "
	    "host:port or [v6]:port (or \"off\")");
	assert_string_equal(c->name, "2");
	assert_string_equal(c->metrics.listen, "off");
	conf_wuzhad_free(c);
	c = wuzhad_ok(W_BASE "listen_reuse_port: false\n");
	assert_int_equal(c->listen_reuse_port, 0);
	conf_wuzhad_free(c);
	W_REFUSED(W_BASE "listen_reuse_port: yes\n",
	    "t.yaml:6: listen_reuse_port: must be true or false");
	W_REFUSED(W_BASE "name: \"a/b\"\n",
	    "t.yaml:6: name: want 1 to 64 letters, digits, '.', '_' or '-', "
	    "not starting with '.' or '-'");
}

static void
test_example_agent_loads(void **state)
{
	struct conf_agent	*c;
	char			 path[PATH_MAX], want[PATH_MAX];
	char			 err[CONF_ERR_MAX] = "";

	(void)state;
	c = conf_agent_load(join(path, sizeof(path), confdir, "agent.yaml"),
	    err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	assert_string_equal(c->server, "127.0.0.1:7443");
	assert_string_equal(c->server_name, "wuzhad");
	assert_string_equal(c->tls.ca, join(want, sizeof(want), confdir,
	    "pki/ca.crt"));
	assert_string_equal(c->tls.cert, join(want, sizeof(want), confdir,
	    "pki/advisor-a-cs-1.crt"));
	assert_string_equal(c->tls.key, join(want, sizeof(want), confdir,
	    "pki/advisor-a-cs-1.key"));
	assert_string_equal(c->state_file, join(want, sizeof(want), confdir,
	    "state/advisor-a-cs-1.state"));
	assert_null(c->hook);
	assert_int_equal(c->hook_timeout_ms, 30000);
	assert_int_equal(c->hook_retry_min_ms, 5000);
	assert_int_equal(c->hook_retry_max_ms, 300000);
	assert_int_equal(c->reconnect_min_ms, 500);
	assert_int_equal(c->reconnect_max_ms, 60000);
	assert_int_equal(c->heartbeat_s, 30);
	assert_int_equal(c->max_frame, 65536);
	conf_agent_free(c);
}

static void
test_example_tree_loads(void **state)
{
	struct conf_tree	*t;
	char			 path[PATH_MAX], err[CONF_ERR_MAX] = "";
	size_t			 i, tiers[4] = { 0 };

	(void)state;
	t = conf_tree_load(join(path, sizeof(path), confdir, "tree.yaml"),
	    err, sizeof(err));
	if (t == NULL)
		fail_msg("%s", err);
	assert_int_equal(t->nnodes, 15);
	assert_int_equal(t->nprincipals, 15);
	assert_parents_first(t);
	for (i = 0; i < t->nnodes; i++)
		tiers[t->nodes[i].tier]++;
	assert_int_equal(tiers[CONF_TIER_POLICE], 1);
	assert_int_equal(tiers[CONF_TIER_SCHOOL], 2);
	assert_int_equal(tiers[CONF_TIER_DEPARTMENT], 4);
	assert_int_equal(tiers[CONF_TIER_CLASS], 8);
	assert_string_equal(t->nodes[0].id, "jn-police");
	assert_string_equal(t->nodes[0].name, "济南市公安局反诈中心");
	assert_string_equal(t->nodes[1].id, "school-a");
	assert_string_equal(t->principals[0].cn, "officer-li");
	assert_string_equal(t->principals[0].node, "jn-police");
	assert_int_equal(t->principals[0].rights,
	    CONF_R_ISSUE | CONF_R_OBSERVE);
	assert_string_equal(t->principals[1].cn, "desk-a");
	assert_int_equal(t->principals[1].rights,
	    CONF_R_RECEIVE | CONF_R_ISSUE | CONF_R_OBSERVE);
	for (i = 0; i < t->nprincipals; i++)
		if (strcmp(t->principals[i].cn, "advisor-a-cs-1") == 0)
			break;
	assert_true(i < t->nprincipals);
	assert_string_equal(t->principals[i].node, "a-cs-1");
	assert_int_equal(t->principals[i].rights, CONF_R_RECEIVE);
	conf_tree_free(t);
}

/* --- values and defaults ----------------------------------------------- */

static void
test_wuzhad_defaults_filled_in(void **state)
{
	struct conf_wuzhad	*c;

	(void)state;
	c = wuzhad_ok(W_BASE);
	assert_string_equal(c->listen, "127.0.0.1:0");
	assert_string_equal(c->tls.ca, "ca.pem");	/* parse: kept as is */
	assert_null(c->tls.crl);
	assert_null(c->redis.socket);
	assert_string_equal(c->redis.host, "127.0.0.1");
	assert_int_equal(c->redis.port, 6379);
	assert_string_equal(c->redis.prefix, "wuzha:");
	assert_int_equal(c->redis.connect_timeout_ms, 2000);
	assert_int_equal(c->redis.command_timeout_ms, 5000);
	assert_int_equal(c->redis.reconnect_min_ms, 100);
	assert_int_equal(c->redis.reconnect_max_ms, 10000);
	assert_int_equal(c->limits.max_frame, 65536);
	assert_int_equal(c->limits.max_connections, 19000);
	assert_int_equal(c->limits.max_text, 16384);
	assert_int_equal(c->limits.max_output, 4 * 1024 * 1024);
	assert_int_equal(c->limits.ack_batch, 64);
	assert_int_equal(c->limits.report_alerts, 10000);
	assert_int_equal(c->timeouts.handshake_ms, 10000);
	assert_int_equal(c->timeouts.heartbeat_s, 30);
	assert_int_equal(c->timeouts.idle_s, 90);
	assert_int_equal(c->timeouts.skew_s, 300);
	assert_int_equal(c->timeouts.tree_refresh_ms, 2000);
	assert_string_equal(c->log_level, "info");
	assert_int_equal(c->receipts_required, 1);
	conf_wuzhad_free(c);
}

/* receipts: required by default; optional takes unsigned acks. */
static void
test_wuzhad_receipts(void **state)
{
	struct conf_wuzhad	*c;

	(void)state;
	c = wuzhad_ok(W_BASE "receipts: optional\n");
	assert_int_equal(c->receipts_required, 0);
	conf_wuzhad_free(c);
	c = wuzhad_ok(W_BASE "receipts: required\n");
	assert_int_equal(c->receipts_required, 1);
	conf_wuzhad_free(c);
	W_REFUSED(W_BASE "receipts: maybe\n",
	    "t.yaml:6: receipts: unknown value \"maybe\" "
	    "(want required or optional)");
}

static void
test_wuzhad_every_key_read(void **state)
{
	struct conf_wuzhad	*c;

	(void)state;
	c = wuzhad_ok(
	    "listen: \"[::1]:7443\"\n"
	    "tls: {ca: /x/ca.pem, cert: c.pem, key: k.pem, crl: crl.pem}\n"
	    "redis:\n"
	    "  host: redis.example\n"
	    "  port: 6380\n"
	    "  prefix: \"w1:\"\n"
	    "  connect_timeout: 250ms\n"
	    "  command_timeout: 1m\n"
	    "  reconnect_min: 1s\n"
	    "  reconnect_max: 1h\n"
	    "limits: {max_frame: 1MiB, max_connections: 100, max_text: 65535,"
	    " max_output: 1GiB, ack_batch: 1, report_alerts: 1000000}\n"
	    "timeouts: {handshake: 100ms, heartbeat: 1m, idle: 2h, skew: 24h,"
	    " tree_refresh: \"500ms\"}\n"
	    "log_level: debug\n");
	assert_string_equal(c->listen, "[::1]:7443");
	assert_string_equal(c->tls.ca, "/x/ca.pem");
	assert_string_equal(c->tls.crl, "crl.pem");
	assert_null(c->tls.ticket_key);
	assert_null(c->redis.socket);
	assert_string_equal(c->redis.host, "redis.example");
	assert_int_equal(c->redis.port, 6380);
	assert_string_equal(c->redis.prefix, "w1:");
	assert_int_equal(c->redis.connect_timeout_ms, 250);
	assert_int_equal(c->redis.command_timeout_ms, 60000);
	assert_int_equal(c->redis.reconnect_min_ms, 1000);
	assert_int_equal(c->redis.reconnect_max_ms, 3600000);
	assert_int_equal(c->limits.max_frame, 1024 * 1024);
	assert_int_equal(c->limits.max_connections, 100);
	assert_int_equal(c->limits.max_text, 65535);
	assert_int_equal(c->limits.max_output, 1024 * 1024 * 1024);
	assert_int_equal(c->limits.ack_batch, 1);
	assert_int_equal(c->limits.report_alerts, 1000000);
	assert_int_equal(c->timeouts.handshake_ms, 100);
	assert_int_equal(c->timeouts.heartbeat_s, 60);
	assert_int_equal(c->timeouts.idle_s, 7200);
	assert_int_equal(c->timeouts.skew_s, 86400);
	assert_int_equal(c->timeouts.tree_refresh_ms, 500);
	assert_string_equal(c->log_level, "debug");
	conf_wuzhad_free(c);
}

static void
test_wuzhad_redis_socket_has_no_host(void **state)
{
	struct conf_wuzhad	*c;

	(void)state;
	c = wuzhad_ok(W_BASE "redis:\n  socket: /run/r.sock\n");
	assert_string_equal(c->redis.socket, "/run/r.sock");
	assert_null(c->redis.host);
	assert_int_equal(c->redis.port, 0);
	conf_wuzhad_free(c);
	c = wuzhad_ok(W_BASE "redis:\n  port: 6390\n");
	assert_string_equal(c->redis.host, "127.0.0.1");
	assert_int_equal(c->redis.port, 6390);
	assert_int_equal(c->redis.nsentinels, 0);
	assert_string_equal(c->redis.master_name, "wuzha");
	assert_int_equal(c->redis.wait_replicas, 0);
	assert_int_equal(c->redis.wait_timeout_ms, 1000);
	conf_wuzhad_free(c);
}

/* server: one, or a list; wuzhad's name and feed interval. */
static void
test_servers_and_daemon_names(void **state)
{
	struct conf_agent	*a;
	struct conf_wuzhad	*w;
	char			 buf[2048];
	size_t			 i;

	(void)state;
	a = agent_ok("server: [\"127.0.0.1:7441\", \"[::1]:7442\", "
	    "\"127.0.0.1:7443\"]\nserver_name: wuzhad\n"
	    "tls: {ca: a, cert: b, key: c}\n");
	assert_int_equal(a->nservers, 3);
	assert_string_equal(a->server, "127.0.0.1:7441");
	assert_string_equal(a->servers[1], "[::1]:7442");
	assert_string_equal(a->servers[2], "127.0.0.1:7443");
	conf_agent_free(a);
	a = agent_ok(A_BASE);
	assert_int_equal(a->nservers, 1);
	assert_string_equal(a->servers[0], "127.0.0.1:7443");
	conf_agent_free(a);
	A_REFUSED("server: []\nserver_name: wuzhad\n"
	    "tls: {ca: a, cert: b, key: c}\n",
	    "t.yaml:1: server: must list at least one server");
	A_REFUSED("server: [\"127.0.0.1:1\", \"127.0.0.1:0\"]\n"
	    "server_name: wuzhad\ntls: {ca: a, cert: b, key: c}\n",
	    "t.yaml:1: server[1]: port must be between 1 and 65535");
	snprintf(buf, sizeof(buf), "server: [");
	for (i = 0; i < CONF_SERVERS_MAX + 1; i++)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf),
		    "%s\"127.0.0.1:%zu\"", i ? ", " : "", 7000 + i);
	snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf),
	    "]\nserver_name: wuzhad\ntls: {ca: a, cert: b, key: c}\n");
	A_REFUSED(buf, "t.yaml:1: server: at most 16 servers");

	w = wuzhad_ok(W_BASE "name: wuzhad-2.b_1\ntimeouts: {feed: 100ms}\n");
	assert_string_equal(w->name, "wuzhad-2.b_1");
	assert_int_equal(w->timeouts.feed_ms, 100);
	conf_wuzhad_free(w);
	w = wuzhad_ok(W_BASE);
	assert_null(w->name);
	assert_int_equal(w->timeouts.feed_ms, 25);
	conf_wuzhad_free(w);
	W_REFUSED(W_BASE "name: \"wu zha\"\n", "t.yaml:6: name: want 1 to 64 "
	    "letters, digits, '.', '_' or '-', not starting with '.' or '-'");
	W_REFUSED(W_BASE "name: -a\n", "t.yaml:6: name: want 1 to 64 "
	    "letters, digits, '.', '_' or '-', not starting with '.' or '-'");
	W_REFUSED(W_BASE "timeouts: {feed: 1ms}\n",
	    "t.yaml:6: timeouts.feed: must be between 5ms and 10s");
}

static void
test_wuzhad_redis_sentinels_read_and_checked(void **state)
{
	struct conf_wuzhad	*c;

	(void)state;
	c = wuzhad_ok(W_BASE "redis:\n"
	    "  sentinels: [\"127.0.0.1:26379\", \"s2.example:26380\"]\n"
	    "  master_name: alerts-1\n"
	    "  wait_replicas: 1\n"
	    "  wait_timeout: 250ms\n");
	assert_int_equal(c->redis.nsentinels, 2);
	assert_string_equal(c->redis.sentinels[0], "127.0.0.1:26379");
	assert_string_equal(c->redis.sentinels[1], "s2.example:26380");
	assert_string_equal(c->redis.master_name, "alerts-1");
	assert_int_equal(c->redis.wait_replicas, 1);
	assert_int_equal(c->redis.wait_timeout_ms, 250);
	conf_wuzhad_free(c);
	W_REFUSED(W_BASE "redis:\n  sentinels: [\"127.0.0.1\"]\n",
	    "t.yaml:7: redis.sentinels[0]: must be host:port or [v6]:port");
	W_REFUSED(W_BASE "redis:\n  sentinels: []\n",
	    "t.yaml:7: redis.sentinels: must list 1 to 16 \"host:port\"");
	W_REFUSED(W_BASE "redis:\n  port: 6390\n  sentinels: [\"h:1\"]\n",
	    "t.yaml:7: redis.port: cannot be used with redis.sentinels "
	    "(they name the primary)");
	W_REFUSED(W_BASE "redis:\n  wait_replicas: 17\n",
	    "t.yaml:7: redis.wait_replicas: must be between 0 and 16");
}

static void
test_agent_defaults_filled_in(void **state)
{
	struct conf_agent	*c;

	(void)state;
	c = agent_ok(A_BASE);
	assert_string_equal(c->server, "127.0.0.1:7443");
	assert_string_equal(c->server_name, "wuzhad");
	assert_string_equal(c->tls.key, "k.pem");
	assert_null(c->state_file);
	assert_null(c->hook);
	assert_int_equal(c->hook_timeout_ms, 30000);
	assert_int_equal(c->hook_retry_min_ms, 5000);
	assert_int_equal(c->hook_retry_max_ms, 300000);
	assert_int_equal(c->reconnect_min_ms, 500);
	assert_int_equal(c->reconnect_max_ms, 60000);
	assert_int_equal(c->heartbeat_s, 30);
	assert_int_equal(c->max_frame, 65536);
	conf_agent_free(c);

	c = agent_ok(A_BASE
	    "state_file: s.db\n"
	    "hook: \"notify-send 'wuzha alert'\"\n"
	    "hook_timeout: 5s\n"
	    "hook_retry: {min: 200ms, max: 10m}\n"
	    "reconnect: {min: 100ms, max: 2m}\n"
	    "heartbeat: 10s\n"
	    "max_frame: 16MiB\n");
	assert_string_equal(c->state_file, "s.db");
	assert_string_equal(c->hook, "notify-send 'wuzha alert'");
	assert_int_equal(c->hook_timeout_ms, 5000);
	assert_int_equal(c->hook_retry_min_ms, 200);
	assert_int_equal(c->hook_retry_max_ms, 600000);
	assert_int_equal(c->reconnect_min_ms, 100);
	assert_int_equal(c->reconnect_max_ms, 120000);
	assert_int_equal(c->heartbeat_s, 10);
	assert_int_equal(c->max_frame, 16 * 1024 * 1024);
	conf_agent_free(c);
}

static void
test_load_resolves_paths_from_file_dir(void **state)
{
	struct conf_wuzhad	*w;
	struct conf_agent	*a;
	char			 path[PATH_MAX], want[PATH_MAX];
	char			 err[CONF_ERR_MAX] = "";

	(void)state;
	w = conf_wuzhad_load(join(path, sizeof(path), datadir,
	    "wuzhad-rel.yaml"), err, sizeof(err));
	if (w == NULL)
		fail_msg("%s", err);
	assert_string_equal(w->tls.ca, join(want, sizeof(want), datadir,
	    "pki/ca.crt"));
	assert_string_equal(w->tls.cert, join(want, sizeof(want), datadir,
	    "../pki/wuzhad.crt"));
	assert_string_equal(w->tls.key, "/etc/wuzha/wuzhad.key");
	assert_string_equal(w->tls.crl, join(want, sizeof(want), datadir,
	    "crl.pem"));
	assert_string_equal(w->redis.socket, join(want, sizeof(want), datadir,
	    "run/redis.sock"));
	conf_wuzhad_free(w);

	a = conf_agent_load(join(path, sizeof(path), datadir,
	    "agent-rel.yaml"), err, sizeof(err));
	if (a == NULL)
		fail_msg("%s", err);
	assert_string_equal(a->tls.ca, join(want, sizeof(want), datadir,
	    "pki/ca.crt"));
	assert_string_equal(a->tls.key, "/etc/wuzha/agent.key");
	assert_string_equal(a->state_file, join(want, sizeof(want), datadir,
	    "state/agent.state"));
	assert_string_equal(a->hook, "bin/show-alert --quiet");
	conf_agent_free(a);
}

static void
test_load_from_cwd_keeps_relative_paths(void **state)
{
	struct conf_wuzhad	*w;
	char			 cwd[PATH_MAX], err[CONF_ERR_MAX] = "";

	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(datadir), 0);
	w = conf_wuzhad_load("wuzhad-rel.yaml", err, sizeof(err));
	assert_int_equal(chdir(cwd), 0);
	if (w == NULL)
		fail_msg("%s", err);
	assert_string_equal(w->tls.ca, "pki/ca.crt");
	assert_string_equal(w->tls.key, "/etc/wuzha/wuzhad.key");
	conf_wuzhad_free(w);
}

static void
test_tree_any_order_comes_out_parents_first(void **state)
{
	static const char	*order[] = {
		"p", "b", "b-d", "b-c1", "a", "a-d", "a-c1", "q",
	};
	struct conf_tree	*t;
	char			 path[PATH_MAX], err[CONF_ERR_MAX] = "";
	size_t			 i;

	(void)state;
	t = conf_tree_load(join(path, sizeof(path), datadir,
	    "tree-unordered.yaml"), err, sizeof(err));
	if (t == NULL)
		fail_msg("%s", err);
	assert_int_equal(t->nnodes, 8);
	for (i = 0; i < t->nnodes; i++)
		assert_string_equal(t->nodes[i].id, order[i]);
	assert_parents_first(t);
	assert_string_equal(t->nodes[0].name, "Police");
	assert_int_equal(t->nodes[0].line, 8);
	assert_string_equal(t->nodes[3].parent, "b-d");
	assert_int_equal(t->nodes[3].line, 4);
	assert_int_equal(t->nprincipals, 1);
	assert_int_equal(t->principals[0].line, 13);
	conf_tree_free(t);
}

static void
test_tree_empty_lists_accepted(void **state)
{
	struct conf_tree	*t;
	char			*buf;
	size_t			 len;

	(void)state;
	t = tree_ok("nodes: []\n", 10);
	assert_int_equal(t->nnodes, 0);
	assert_int_equal(t->nprincipals, 0);
	buf = tree_text(t, &len);
	conf_tree_free(t);
	t = tree_ok(buf, len);
	assert_int_equal(t->nnodes, 0);
	free(buf);
	conf_tree_free(t);
}

static void
test_parse_duration(void **state)
{
	(void)state;
	assert_int_equal(conf_parse_duration_ms("250ms"), 250);
	assert_int_equal(conf_parse_duration_ms("30s"), 30000);
	assert_int_equal(conf_parse_duration_ms("5m"), 300000);
	assert_int_equal(conf_parse_duration_ms("2h"), 7200000);
	assert_int_equal(conf_parse_duration_ms("0s"), 0);
	assert_int_equal(conf_parse_duration_ms("9223372036854775807ms"),
	    INT64_MAX);
	assert_int_equal(conf_parse_duration_ms("9223372036854775808ms"), -1);
	assert_int_equal(conf_parse_duration_ms("99999999999999999999h"), -1);
	assert_int_equal(conf_parse_duration_ms("3000000000000000h"), -1);
	assert_int_equal(conf_parse_duration_ms("30"), -1);
	assert_int_equal(conf_parse_duration_ms("1.5s"), -1);
	assert_int_equal(conf_parse_duration_ms("-1s"), -1);
	assert_int_equal(conf_parse_duration_ms(" 1s"), -1);
	assert_int_equal(conf_parse_duration_ms("1s "), -1);
	assert_int_equal(conf_parse_duration_ms("1S"), -1);
	assert_int_equal(conf_parse_duration_ms("1d"), 86400000);
	assert_int_equal(conf_parse_duration_ms("7d"), 7 * 86400000LL);
	assert_int_equal(conf_parse_duration_ms("1w"), -1);
	assert_int_equal(conf_parse_duration_ms("1D"), -1);
	assert_int_equal(conf_parse_duration_ms("1m30s"), -1);
	assert_int_equal(conf_parse_duration_ms("s"), -1);
	assert_int_equal(conf_parse_duration_ms(""), -1);
}

static void
test_parse_size(void **state)
{
	(void)state;
	assert_int_equal(conf_parse_size("65536"), 65536);
	assert_int_equal(conf_parse_size("64KiB"), 65536);
	assert_int_equal(conf_parse_size("4MiB"), 4 * 1024 * 1024);
	assert_int_equal(conf_parse_size("1GiB"), 1024 * 1024 * 1024);
	assert_int_equal(conf_parse_size("0"), 0);
	assert_int_equal(conf_parse_size("9223372036854775807"), INT64_MAX);
	assert_int_equal(conf_parse_size("8589934592GiB"), -1);
	assert_int_equal(conf_parse_size("64K"), -1);
	assert_int_equal(conf_parse_size("64KB"), -1);
	assert_int_equal(conf_parse_size("64kib"), -1);
	assert_int_equal(conf_parse_size("1.5MiB"), -1);
	assert_int_equal(conf_parse_size("-1"), -1);
	assert_int_equal(conf_parse_size("KiB"), -1);
	assert_int_equal(conf_parse_size(""), -1);
}

static void
test_tier_names(void **state)
{
	(void)state;
	assert_string_equal(conf_tier_name(CONF_TIER_POLICE), "police");
	assert_string_equal(conf_tier_name(CONF_TIER_SCHOOL), "school");
	assert_string_equal(conf_tier_name(CONF_TIER_DEPARTMENT),
	    "department");
	assert_string_equal(conf_tier_name(CONF_TIER_CLASS), "class");
}

static void
test_null_err_buffer_is_fine(void **state)
{
	(void)state;
	assert_null(conf_wuzhad_parse("t.yaml", "x: 1\n", 5, NULL, 0));
	assert_null(conf_tree_parse("t.yaml", "\xff", 1, NULL, 0));
	assert_null(conf_agent_load("/nonexistent/agent.yaml", NULL, 0));
}

static void
test_err_buffer_truncates(void **state)
{
	char	err[16];

	(void)state;
	memset(err, 'x', sizeof(err));
	assert_null(conf_wuzhad_parse("t.yaml", "x: 1\n", 5, err,
	    sizeof(err)));
	assert_string_equal(err, "t.yaml:1: x: un");
}

/* --- round trip -------------------------------------------------------- */

static void
test_tree_roundtrip_example(void **state)
{
	struct conf_tree	*t, *u;
	char			 path[PATH_MAX], err[CONF_ERR_MAX] = "";
	char			*a, *b;
	size_t			 alen, blen;

	(void)state;
	t = conf_tree_load(join(path, sizeof(path), confdir, "tree.yaml"),
	    err, sizeof(err));
	if (t == NULL)
		fail_msg("%s", err);
	a = tree_text(t, &alen);
	u = tree_ok(a, alen);
	assert_same_tree(t, u);
	b = tree_text(u, &blen);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	free(a);
	free(b);
	conf_tree_free(t);
	conf_tree_free(u);
}

static void
test_tree_roundtrip_awkward_names(void **state)
{
	static const char	 src[] =
	    "nodes:\n"
	    "  - id: \"null\"\n"
	    "    name: \"say \\\"hi\\\" \\\\ ok\"\n"
	    "    tier: police\n"
	    "  - id: \"123\"\n"
	    "    name: '# not a comment: really'\n"
	    "    tier: school\n"
	    "    parent: \"null\"\n"
	    "  - id: -a\n"
	    "    name: \"  spaced  \"\n"
	    "    tier: department\n"
	    "    parent: 123\n"
	    "  - id: \"true\"\n"
	    "    name: \"\xf0\x9f\x98\x80 \\uFEFF 'single' \\u00A0nbsp - [x]"
	    " \\P \\L\"\n"			/* U+2029, U+2028: line breaks */
	    "    tier: class\n"
	    "    parent: -a\n"
	    "  - id: \"yes\"\n"
	    "    name: \"null\"\n"	/* a name, not a null: quoted back */
	    "    tier: police\n"
	    "principals:\n"
	    "  - {cn: A.b_c-9, node: \"true\", rights: [observe, receive]}\n"
	    "  - {cn: x, node: \"null\", rights: [issue]}\n";
	struct conf_tree	*t, *u;
	char			*a;
	size_t			 alen;

	(void)state;
	t = tree_ok(src, sizeof(src) - 1);
	assert_string_equal(t->nodes[0].name, "say \"hi\" \\ ok");
	assert_string_equal(t->nodes[2].id, "-a");
	assert_string_equal(t->nodes[2].name, "  spaced  ");
	assert_string_equal(t->nodes[3].name,
	    "\xf0\x9f\x98\x80 \xef\xbb\xbf 'single' \xc2\xa0nbsp - [x]"
	    " \xe2\x80\xa9 \xe2\x80\xa8");
	assert_string_equal(t->nodes[4].name, "null");
	assert_int_equal(t->principals[0].rights,
	    CONF_R_RECEIVE | CONF_R_OBSERVE);
	a = tree_text(t, &alen);
	u = tree_ok(a, alen);
	assert_same_tree(t, u);
	free(a);
	conf_tree_free(t);
	conf_tree_free(u);
}

static void
test_tree_write_refuses_bad_utf8(void **state)
{
	struct conf_node	 n;
	struct conf_tree	 t;
	char			*buf = NULL;
	size_t			 len;
	FILE			*f;

	(void)state;
	memset(&n, 0, sizeof(n));
	memset(&t, 0, sizeof(t));
	strcpy(n.id, "p");
	n.name = (char *)"bad \xff name";
	n.tier = CONF_TIER_POLICE;
	t.nodes = &n;
	t.nnodes = 1;
	assert_non_null(f = open_memstream(&buf, &len));
	assert_int_equal(conf_tree_write(&t, f), -1);
	fclose(f);
	free(buf);
}

/* --- refusals: the reader ---------------------------------------------- */

static void
test_refuses_alias_and_anchor(void **state)
{
	(void)state;
	W_REFUSED("listen: \"127.0.0.1:0\"\n"
	    "tls:\n"
	    "  ca: &pem ca.pem\n"
	    "  cert: *pem\n"
	    "  key: k.pem\n",
	    "t.yaml:3: tls.ca: anchors are not allowed");
	W_REFUSED("listen: *addr\n",
	    "t.yaml:1: listen: aliases are not allowed");
	W_REFUSED(W_BASE "limits: &l {max_frame: 1MiB}\n",
	    "t.yaml:6: limits: anchors are not allowed");
	W_REFUSED(W_BASE "limits:\n  <<: *l\n",
	    "t.yaml:7: limits.\"<<\": aliases are not allowed");
}

static void
test_refuses_tags(void **state)
{
	(void)state;
	W_REFUSED("listen: !!str \"127.0.0.1:0\"\n",
	    "t.yaml:1: listen: tags are not allowed");
	W_REFUSED(W_BASE "limits: !custom {}\n",
	    "t.yaml:6: limits: tags are not allowed");
}

static void
test_refuses_duplicate_key(void **state)
{
	char	buf[1024];
	size_t	o = 0;
	int	i;

	(void)state;
	W_REFUSED(W_BASE "listen: \"127.0.0.1:1\"\n",
	    "t.yaml:6: listen: duplicate key (first at line 1)");
	W_REFUSED("listen: \"127.0.0.1:0\"\n"
	    "tls: {ca: a, cert: b, ca: c, key: d}\n",
	    "t.yaml:2: tls.ca: duplicate key (first at line 2)");
	W_REFUSED(W_BASE "limits:\n  max_frame: 1MiB\n  \"max_frame\": 2MiB\n",
	    "t.yaml:8: limits.max_frame: duplicate key (first at line 7)");
	/* A big mapping is checked by sorting: the earliest repeat wins. */
	for (i = 0; i < 20; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "k%02d: x\n", i);
	snprintf(buf + o, sizeof(buf) - o, "k10: y\nk02: y\nk10: z\n");
	W_REFUSED(buf, "t.yaml:21: k10: duplicate key (first at line 11)");
}

static void
test_refuses_deep_nesting(void **state)
{
	char	buf[256], want[256];
	size_t	o;
	int	i;

	(void)state;
	/* The root mapping and 15 sequences: 16 levels, read fine. */
	o = (size_t)snprintf(buf, sizeof(buf), "a: ");
	for (i = 0; i < 15; i++)
		buf[o++] = '[';
	for (i = 0; i < 15; i++)
		buf[o++] = ']';
	memcpy(buf + o, "\n", 2);
	W_REFUSED(buf, "t.yaml:1: a: unknown key");

	/* One more is refused where it starts. */
	o = (size_t)snprintf(buf, sizeof(buf), "a: ");
	for (i = 0; i < 16; i++)
		buf[o++] = '[';
	for (i = 0; i < 16; i++)
		buf[o++] = ']';
	memcpy(buf + o, "\n", 2);
	o = (size_t)snprintf(want, sizeof(want), "t.yaml:1: a");
	for (i = 0; i < 15; i++)
		o += (size_t)snprintf(want + o, sizeof(want) - o, "[0]");
	snprintf(want + o, sizeof(want) - o, ": nested deeper than 16 levels");
	W_REFUSED(buf, want);
}

static void
test_refuses_bad_utf8(void **state)
{
	(void)state;
	W_REFUSED("listen: \"127.0.0.1:0\"\ntls:\n  ca: caf\xe9.pem\n",
	    "t.yaml:3: (document): invalid UTF-8");
	W_REFUSED("listen: \"\xc0\xaf\"\n",	/* overlong '/' */
	    "t.yaml:1: (document): invalid UTF-8");
	W_REFUSED("listen: \"\xed\xa0\x80\"\n",	/* surrogate */
	    "t.yaml:1: (document): invalid UTF-8");
	W_REFUSED("listen: \"\xf4\x90\x80\x80\"\n",	/* above U+10FFFF */
	    "t.yaml:1: (document): invalid UTF-8");
	W_REFUSED("listen: x\n\n# \xe4\xb8",	/* cut short at the end */
	    "t.yaml:3: (document): invalid UTF-8");
	refused_len(K_WUZHAD, "\xff\xfel\0i\0", 6,	/* UTF-16 */
	    "t.yaml:1: (document): invalid UTF-8");
}

static void
test_accepts_utf8_bom(void **state)
{
	struct conf_wuzhad	*c;

	(void)state;
	c = wuzhad_ok("\xef\xbb\xbf" W_BASE);
	assert_string_equal(c->listen, "127.0.0.1:0");
	conf_wuzhad_free(c);
}

static void
test_refuses_empty_file(void **state)
{
	(void)state;
	W_REFUSED("", "t.yaml:1: (document): empty document");
	W_REFUSED("# just a comment\n", "t.yaml:2: (document): empty document");
	W_REFUSED("---\n", "t.yaml:2: (document): empty document");
	T_REFUSED("~\n", "t.yaml:1: (document): empty document");
}

static void
test_refuses_two_documents(void **state)
{
	(void)state;
	W_REFUSED(W_BASE "---\n" W_BASE,
	    "t.yaml:6: (document): more than one document");
	W_REFUSED("--- " "{listen: a}\n--- {listen: b}\n",
	    "t.yaml:2: (document): more than one document");
}

static void
test_refuses_huge_scalar(void **state)
{
	static const char	 tls[] = "\ntls: {ca: a, cert: b, key: c}\n";
	static char		 buf[70000 + 64];
	size_t			 n = 70000;

	(void)state;
	memcpy(buf, "listen: ", 8);
	memset(buf + 8, 'x', n);
	memcpy(buf + 8 + n, tls, sizeof(tls));
	W_REFUSED(buf, "t.yaml:1: listen: scalar longer than 65536 bytes");
	/* At the bound the reader takes it; the key's own limit applies. */
	memcpy(buf + 8 + 65536, tls, sizeof(tls));
	W_REFUSED(buf, "t.yaml:1: listen: longer than 300 bytes");
}

static void
test_refuses_big_file(void **state)
{
	char	*buf;

	(void)state;
	assert_non_null(buf = calloc(1, CONF_FILE_MAX + 1));
	memset(buf, '\n', CONF_FILE_MAX + 1);
	refused_len(K_WUZHAD, buf, CONF_FILE_MAX + 1,
	    "t.yaml:1: (document): file is larger than 8MiB");
	/* Just at the limit it is read (and found empty). */
	refused_len(K_WUZHAD, buf, CONF_FILE_MAX,
	    "t.yaml:8388609: (document): empty document");
	free(buf);
}

static void
test_load_refuses_big_or_missing_file(void **state)
{
	char	path[] = "/tmp/test-conf-XXXXXX", want[PATH_MAX + 128];
	char	err[CONF_ERR_MAX] = "", p[PATH_MAX];
	int	fd;

	(void)state;
	assert_true((fd = mkstemp(path)) != -1);
	assert_int_equal(ftruncate(fd, CONF_FILE_MAX + 1), 0);
	close(fd);
	assert_null(conf_wuzhad_load(path, err, sizeof(err)));
	unlink(path);
	snprintf(want, sizeof(want),
	    "%s:1: (document): file is larger than 8MiB", path);
	assert_string_equal(err, want);

	assert_null(conf_tree_load(join(p, sizeof(p), datadir, "nope.yaml"),
	    err, sizeof(err)));
	snprintf(want, sizeof(want),
	    "%s:1: (document): cannot open: No such file or directory", p);
	assert_string_equal(err, want);

	assert_null(conf_agent_load(datadir, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s:1: (document): not a regular file",
	    datadir);
	assert_string_equal(err, want);

	assert_null(conf_wuzhad_load(join(p, sizeof(p), datadir,
	    "latin1.yaml"), err, sizeof(err)));
	snprintf(want, sizeof(want), "%s:3: (document): invalid UTF-8", p);
	assert_string_equal(err, want);
}

static void
test_refuses_syntax_and_controls(void **state)
{
	(void)state;
	W_REFUSED("listen: [\n",
	    "t.yaml:2: (document): did not find expected node content");
	W_REFUSED("listen: a\x01" "b\n",
	    "t.yaml:1: (document): control characters are not allowed");
	W_REFUSED("listen: \"a\\0b\"\n",
	    "t.yaml:1: listen: contains a NUL character");
	W_REFUSED("? [a]\n: x\n", "t.yaml:1: (key): keys must be scalars");
	W_REFUSED("- listen\n",
	    "t.yaml:1: (document): expected a mapping, not a sequence");
	W_REFUSED("just text\n",
	    "t.yaml:1: (document): expected a mapping, not a scalar");
}

static size_t
one_byte(size_t left)
{
	(void)left;
	return 1;
}

/*
 * A control character is reported, at its line, before anything else in
 * the file, however libyaml happens to read the text: here a nesting
 * error comes first in the text, which libyaml reading one byte at a
 * time used to report instead (found by tests/fuzz/fuzz-conf).
 */
static void
test_controls_whatever_the_reads(void **state)
{
	char	 buf[1024];
	size_t	 o = 0;
	int	 i;

	(void)state;
	for (i = 0; i < 20; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%*sk%d:\n",
		    i, "", i);
	snprintf(buf + o, sizeof(buf) - o, "%*sv\x01\n", i, "");
	W_REFUSED(buf,
	    "t.yaml:21: (document): control characters are not allowed");
	conf_yaml_read_chunk = one_byte;
	W_REFUSED(buf,
	    "t.yaml:21: (document): control characters are not allowed");
	W_REFUSED("listen: [\n\n\xc2\x80\n",		/* C1 control */
	    "t.yaml:3: (document): control characters are not allowed");
	W_REFUSED("listen: x\n# \xef\xbf\xbe\n",		/* U+FFFE */
	    "t.yaml:2: (document): control characters are not allowed");
	W_REFUSED("listen: \"\xc2\x85\t\"\n",		/* NEL, tab: fine */
	    "t.yaml:1: tls: missing required key");
	conf_yaml_read_chunk = NULL;
}

/* --- refusals: wuzhad.yaml --------------------------------------------- */

static void
test_wuzhad_refuses_unknown_key(void **state)
{
	(void)state;
	W_REFUSED(W_BASE "bogus: 1\n", "t.yaml:6: bogus: unknown key");
	W_REFUSED(W_BASE "limits:\n  max_frames: 64KiB\n",
	    "t.yaml:7: limits.max_frames: unknown key");
	W_REFUSED("listen: \"127.0.0.1:0\"\n"
	    "tls: {ca: a, cert: b, key: c, pem: d}\n",
	    "t.yaml:2: tls.pem: unknown key");
	W_REFUSED(W_BASE "\"a.b c\": 1\n", "t.yaml:6: \"a.b c\": unknown key");
}

static void
test_wuzhad_refuses_wrong_type(void **state)
{
	(void)state;
	W_REFUSED("listen: [a, b]\ntls: {ca: a, cert: b, key: c}\n",
	    "t.yaml:1: listen: expected a scalar, not a sequence");
	W_REFUSED("listen: \"127.0.0.1:0\"\n"
	    "tls:\n  ca: {file: a}\n  cert: c.pem\n  key: k.pem\n",
	    "t.yaml:3: tls.ca: expected a scalar, not a mapping");
	W_REFUSED("listen: \"127.0.0.1:0\"\ntls: pki\n",
	    "t.yaml:2: tls: expected a mapping, not a scalar");
	W_REFUSED(W_BASE "limits: [max_frame]\n",
	    "t.yaml:6: limits: expected a mapping, not a sequence");
	W_REFUSED("listen: \"127.0.0.1:0\"\ntls:\n\nlog_level: info\n",
	    "t.yaml:2: tls: has no value");
	W_REFUSED("listen: \"127.0.0.1:0\"\n"
	    "tls:\n  ca:\n  cert: c.pem\n  key: k.pem\n",
	    "t.yaml:3: tls.ca: has no value");
	W_REFUSED("listen: \"127.0.0.1:0\"\n"
	    "tls:\n  ca: \"\"\n  cert: c.pem\n  key: k.pem\n",
	    "t.yaml:3: tls.ca: must not be empty");
}

static void
test_wuzhad_refuses_non_integer(void **state)
{
	(void)state;
	W_REFUSED(W_BASE "limits:\n  max_connections: 12.5\n",
	    "t.yaml:7: limits.max_connections: \"12.5\" is not an integer");
	W_REFUSED(W_BASE "limits:\n  max_connections: -5\n",
	    "t.yaml:7: limits.max_connections: \"-5\" is not an integer");
	W_REFUSED(W_BASE "limits:\n  ack_batch: 0x10\n",
	    "t.yaml:7: limits.ack_batch: \"0x10\" is not an integer");
	W_REFUSED(W_BASE "redis:\n  port: 1e3\n",
	    "t.yaml:7: redis.port: \"1e3\" is not an integer");
	W_REFUSED(W_BASE "redis:\n  port: 99999999999999999999999\n",
	    "t.yaml:7: redis.port: \"99999999999999999999999\" "
	    "is not an integer");
}

static void
test_wuzhad_refuses_missing_key(void **state)
{
	(void)state;
	W_REFUSED("tls: {ca: a, cert: b, key: c}\n",
	    "t.yaml:1: listen: missing required key");
	W_REFUSED("listen: \"127.0.0.1:0\"\n",
	    "t.yaml:1: tls: missing required key");
	W_REFUSED("listen: \"127.0.0.1:0\"\ntls:\n  ca: a\n  cert: b\n",
	    "t.yaml:3: tls.key: missing required key");
}

static void
test_wuzhad_refuses_bad_duration(void **state)
{
	(void)state;
	W_REFUSED(W_BASE "timeouts:\n  idle: 90\n",
	    "t.yaml:7: timeouts.idle: \"90\" needs a unit (ms, s, m, h or d)");
	W_REFUSED(W_BASE "timeouts:\n  idle: fast\n",
	    "t.yaml:7: timeouts.idle: \"fast\" is not a duration "
	    "(like 250ms, 30s, 5m, 2h or 7d)");
	W_REFUSED(W_BASE "redis:\n  connect_timeout: 1.5s\n",
	    "t.yaml:7: redis.connect_timeout: \"1.5s\" is not a duration "
	    "(like 250ms, 30s, 5m, 2h or 7d)");
	W_REFUSED(W_BASE "timeouts:\n  skew: 99999999999999999999h\n",
	    "t.yaml:7: timeouts.skew: \"99999999999999999999h\" is too large");
	W_REFUSED(W_BASE "timeouts:\n  heartbeat: 1500ms\n",
	    "t.yaml:7: timeouts.heartbeat: must be a whole number of seconds");
	W_REFUSED(W_BASE "timeouts:\n  handshake: 10m\n",
	    "t.yaml:7: timeouts.handshake: must be between 100ms and 5m");
	W_REFUSED(W_BASE "timeouts:\n  tree_refresh: 0s\n",
	    "t.yaml:7: timeouts.tree_refresh: must be between 100ms and 1h");
}

static void
test_wuzhad_refuses_bad_size(void **state)
{
	(void)state;
	W_REFUSED(W_BASE "limits:\n  max_frame: 64KB\n",
	    "t.yaml:7: limits.max_frame: \"64KB\" is not a size "
	    "(like 65536, 64KiB or 4MiB)");
	W_REFUSED(W_BASE "limits:\n  max_output: 4 MiB\n",
	    "t.yaml:7: limits.max_output: \"4 MiB\" is not a size "
	    "(like 65536, 64KiB or 4MiB)");
}

static void
test_wuzhad_refuses_out_of_range(void **state)
{
	(void)state;
	W_REFUSED(W_BASE "redis:\n  port: 0\n",
	    "t.yaml:7: redis.port: must be between 1 and 65535");
	W_REFUSED(W_BASE "redis:\n  port: 70000\n",
	    "t.yaml:7: redis.port: must be between 1 and 65535");
	W_REFUSED("listen: \"127.0.0.1:70000\"\ntls: {ca: a, cert: b, key: c}\n",
	    "t.yaml:1: listen: port must be between 0 and 65535");
	W_REFUSED(W_BASE "limits:\n  max_frame: 17MiB\n",
	    "t.yaml:7: limits.max_frame: must be between 1KiB and 16MiB");
	W_REFUSED(W_BASE "limits:\n  max_frame: 1023\n",
	    "t.yaml:7: limits.max_frame: must be between 1KiB and 16MiB");
	W_REFUSED(W_BASE "limits:\n  max_connections: 0\n",
	    "t.yaml:7: limits.max_connections: must be between 1 and 1000000");
	W_REFUSED(W_BASE "limits:\n  max_text: 64KiB\n",
	    "t.yaml:7: limits.max_text: must be between 1 and 65535");
	W_REFUSED(W_BASE "limits:\n  max_output: 2GiB\n",
	    "t.yaml:7: limits.max_output: must be between 64KiB and 1GiB");
	W_REFUSED(W_BASE "limits:\n  report_alerts: 0\n",
	    "t.yaml:7: limits.report_alerts: must be between 1 and 1000000");
	W_REFUSED(W_BASE "limits:\n  report_alerts: 1000001\n",
	    "t.yaml:7: limits.report_alerts: must be between 1 and 1000000");
}

static void
test_wuzhad_refuses_inconsistent_values(void **state)
{
	(void)state;
	W_REFUSED(W_BASE "timeouts:\n  idle: 30s\n",
	    "t.yaml:7: timeouts.idle: must be longer than timeouts.heartbeat");
	W_REFUSED(W_BASE "timeouts:\n  heartbeat: 2m\n",
	    "t.yaml:7: timeouts.heartbeat: must be shorter than timeouts.idle");
	W_REFUSED(W_BASE "limits:\n  max_frame: 8KiB\n",
	    "t.yaml:7: limits.max_frame: must be larger than limits.max_text");
	W_REFUSED(W_BASE "limits:\n  max_frame: 16KiB\n  max_text: 16KiB\n",
	    "t.yaml:8: limits.max_text: must be smaller than limits.max_frame");
	W_REFUSED(W_BASE "limits:\n  max_frame: 8MiB\n",
	    "t.yaml:7: limits.max_frame: must not be larger than "
	    "limits.max_output");
	W_REFUSED(W_BASE "redis:\n  reconnect_min: 5s\n  reconnect_max: 1s\n",
	    "t.yaml:8: redis.reconnect_max: must not be less than "
	    "redis.reconnect_min");
	W_REFUSED(W_BASE "redis:\n  reconnect_min: 30s\n",
	    "t.yaml:7: redis.reconnect_min: must not be more than "
	    "redis.reconnect_max");
	W_REFUSED(W_BASE "redis:\n  socket: r.sock\n  host: localhost\n",
	    "t.yaml:8: redis.host: cannot be used with redis.socket");
	W_REFUSED(W_BASE "redis:\n  port: 6379\n  socket: r.sock\n",
	    "t.yaml:7: redis.port: cannot be used with redis.socket");
}

static void
test_wuzhad_refuses_bad_strings(void **state)
{
	(void)state;
	W_REFUSED(W_BASE "log_level: loud\n",
	    "t.yaml:6: log_level: unknown level \"loud\" "
	    "(want debug, info or warning)");
	W_REFUSED(W_BASE "redis:\n  prefix: \"a b\"\n",
	    "t.yaml:7: redis.prefix: must match [A-Za-z0-9:._-]{1,64}");
	W_REFUSED(W_BASE "redis:\n  host: \"bad host\"\n",
	    "t.yaml:7: redis.host: is not a host name or address");
	W_REFUSED("listen: \"127.0.0.1:0\"\n"
	    "tls:\n  ca: \"a\\tb\"\n  cert: c.pem\n  key: k.pem\n",
	    "t.yaml:3: tls.ca: must not contain control characters");
}

static void
test_wuzhad_refuses_bad_listen(void **state)
{
	static const struct {
		const char	*listen;
		const char	*why;
	} cases[] = {
		{ "localhost", "must be host:port or [v6]:port" },
		{ "localhost:", "must be host:port or [v6]:port" },
		{ "localhost:http", "must be host:port or [v6]:port" },
		{ "[::1]7443", "must be host:port or [v6]:port" },
		{ "::1:7443", "needs brackets around an IPv6 address, "
		    "like [::1]:7443" },
		{ "bad_host:1", "has a bad host name" },
		{ ":7443", "has a bad host name" },
		{ "[zz]:1", "has a bad IPv6 address" },
		{ "[::1]:65536", "port must be between 0 and 65535" },
	};
	char	buf[256], want[256];
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(buf, sizeof(buf),
		    "listen: \"%s\"\ntls: {ca: a, cert: b, key: c}\n",
		    cases[i].listen);
		snprintf(want, sizeof(want), "t.yaml:1: listen: %s",
		    cases[i].why);
		W_REFUSED(buf, want);
	}
}

/* --- refusals: agent.yaml ---------------------------------------------- */

static void
test_agent_refuses_bad_values(void **state)
{
	(void)state;
	A_REFUSED("server: \"127.0.0.1:7443\"\ntls: {ca: a, cert: b, key: c}\n",
	    "t.yaml:1: server_name: missing required key");
	A_REFUSED(A_BASE "colour: red\n", "t.yaml:7: colour: unknown key");
	A_REFUSED("server: \"127.0.0.1:0\"\nserver_name: wuzhad\n"
	    "tls: {ca: a, cert: b, key: c}\n",
	    "t.yaml:1: server: port must be between 1 and 65535");
	A_REFUSED("server: \"127.0.0.1:7443\"\nserver_name: \"wu zhad\"\n"
	    "tls: {ca: a, cert: b, key: c}\n",
	    "t.yaml:2: server_name: is not a host name or address");
	A_REFUSED(A_BASE "reconnect:\n  mn: 1s\n",
	    "t.yaml:8: reconnect.mn: unknown key");
	A_REFUSED(A_BASE "reconnect:\n  min: 10s\n  max: 1s\n",
	    "t.yaml:9: reconnect.max: must not be less than reconnect.min");
	A_REFUSED(A_BASE "reconnect:\n  min: 2m\n",
	    "t.yaml:8: reconnect.min: must not be more than reconnect.max");
	A_REFUSED(A_BASE "hook_retry:\n  min: 10s\n  max: 1s\n",
	    "t.yaml:9: hook_retry.max: must not be less than hook_retry.min");
	A_REFUSED(A_BASE "hook_retry:\n  min: 6m\n",
	    "t.yaml:8: hook_retry.min: must not be more than hook_retry.max");
	A_REFUSED(A_BASE "hook_retry:\n  min: 1ms\n",
	    "t.yaml:8: hook_retry.min: must be between 10ms and 1h");
	A_REFUSED(A_BASE "hook_retry:\n  every: 1s\n",
	    "t.yaml:8: hook_retry.every: unknown key");
	A_REFUSED(A_BASE "hook_timeout: 10\n",
	    "t.yaml:7: hook_timeout: \"10\" needs a unit (ms, s, m, h or d)");
	A_REFUSED(A_BASE "max_frame: 0\n",
	    "t.yaml:7: max_frame: must be between 1KiB and 16MiB");
	A_REFUSED(A_BASE "state_file: [a]\n",
	    "t.yaml:7: state_file: expected a scalar, not a sequence");
	A_REFUSED(A_BASE "hook: \"run\\nthis\"\n",
	    "t.yaml:7: hook: must not contain control characters");
	A_REFUSED(A_BASE "heartbeat: 0s\n",
	    "t.yaml:7: heartbeat: must be between 1s and 1h");
	A_REFUSED("server: \"127.0.0.1:7443\"\nserver_name: wuzhad\n"
	    "tls: {ca: a, cert: b}\n",
	    "t.yaml:3: tls.key: missing required key");
}

/* --- refusals: tree.yaml ----------------------------------------------- */

static void
test_tree_refuses_bad_node_id(void **state)
{
	(void)state;
	T_REFUSED("nodes:\n  - {id: Bad_Id, name: P, tier: police}\n",
	    "t.yaml:2: nodes[0].id: invalid node id \"Bad_Id\" "
	    "(want [a-z0-9-]{1,64})");
	T_REFUSED("nodes:\n  - {id: \"\", name: P, tier: police}\n",
	    "t.yaml:2: nodes[0].id: invalid node id \"\" "
	    "(want [a-z0-9-]{1,64})");
	T_REFUSED("nodes:\n  - {id: "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    ", name: P, tier: police}\n",
	    "t.yaml:2: nodes[0].id: invalid node id "
	    "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "...\" (want [a-z0-9-]{1,64})");
	T_REFUSED("nodes:\n  - {id: s, name: S, tier: school, parent: P}\n",
	    "t.yaml:2: nodes[0].parent: invalid node id \"P\" "
	    "(want [a-z0-9-]{1,64})");
	T_REFUSED(T_NODES T_CLASS
	    "principals:\n  - {cn: adv, node: \"c d\", rights: [receive]}\n",
	    "t.yaml:7: principals[0].node: invalid node id \"c d\" "
	    "(want [a-z0-9-]{1,64})");
}

static void
test_tree_refuses_bad_cn(void **state)
{
	(void)state;
	T_REFUSED(T_NODES T_CLASS
	    "principals:\n  - {cn: .adv, node: c, rights: [receive]}\n",
	    "t.yaml:7: principals[0].cn: invalid CN \".adv\" "
	    "(want [A-Za-z0-9._-]{1,64}, not starting with '.' or '-')");
	T_REFUSED(T_NODES T_CLASS
	    "principals:\n  - {cn: \"Mr Li\", node: c, rights: [receive]}\n",
	    "t.yaml:7: principals[0].cn: invalid CN \"Mr Li\" "
	    "(want [A-Za-z0-9._-]{1,64}, not starting with '.' or '-')");
	T_REFUSED(T_NODES T_CLASS
	    "principals:\n  - {cn: -x, node: c, rights: [receive]}\n",
	    "t.yaml:7: principals[0].cn: invalid CN \"-x\" "
	    "(want [A-Za-z0-9._-]{1,64}, not starting with '.' or '-')");
}

static void
test_tree_refuses_duplicate_node_id(void **state)
{
	(void)state;
	T_REFUSED(T_NODES T_CLASS
	    "  - {id: s, name: S2, tier: school, parent: p}\n",
	    "t.yaml:6: nodes[4].id: duplicate node id \"s\" (first at line 3)");
}

static void
test_tree_refuses_duplicate_cn(void **state)
{
	(void)state;
	T_REFUSED(T_NODES T_CLASS T_PRINC
	    "  - {cn: adv, node: d, rights: [receive]}\n",
	    "t.yaml:8: principals[1].cn: duplicate CN \"adv\" "
	    "(first at line 7)");
}

static void
test_tree_refuses_unknown_parent(void **state)
{
	(void)state;
	T_REFUSED(T_NODES
	    "  - {id: c, name: C, tier: class, parent: x}\n",
	    "t.yaml:5: nodes[3].parent: unknown node \"x\"");
}

static void
test_tree_refuses_principal_on_unknown_node(void **state)
{
	(void)state;
	T_REFUSED(T_NODES T_CLASS
	    "principals:\n  - {cn: adv, node: x, rights: [receive]}\n",
	    "t.yaml:7: principals[0].node: unknown node \"x\"");
}

static void
test_tree_refuses_bad_rights(void **state)
{
	(void)state;
	T_REFUSED(T_NODES T_CLASS
	    "principals:\n  - {cn: adv, node: c, rights: [receive, fly]}\n",
	    "t.yaml:7: principals[0].rights[1]: unknown right \"fly\" "
	    "(want receive, issue or observe)");
	T_REFUSED(T_NODES T_CLASS
	    "principals:\n  - {cn: adv, node: c, rights: []}\n",
	    "t.yaml:7: principals[0].rights: must list at least one right");
	T_REFUSED(T_NODES T_CLASS
	    "principals:\n  - {cn: adv, node: c, rights: {receive: yes}}\n",
	    "t.yaml:7: principals[0].rights: expected a sequence, "
	    "not a mapping");
	T_REFUSED(T_NODES T_CLASS
	    "principals:\n  - {cn: adv, node: c, rights: receive}\n",
	    "t.yaml:7: principals[0].rights: expected a sequence, "
	    "not a scalar");
	T_REFUSED(T_NODES T_CLASS
	    "principals:\n  - {cn: adv, node: c, rights: [issue, issue]}\n",
	    "t.yaml:7: principals[0].rights[1]: right \"issue\" listed twice");
	T_REFUSED(T_NODES T_CLASS
	    "principals:\n  - {cn: adv, node: c}\n",
	    "t.yaml:7: principals[0].rights: missing required key");
}

static void
test_tree_refuses_unknown_tier(void **state)
{
	(void)state;
	T_REFUSED("nodes:\n  - {id: p, name: P, tier: city}\n",
	    "t.yaml:2: nodes[0].tier: unknown tier \"city\" "
	    "(want police, school, department or class)");
	T_REFUSED("nodes:\n  - {id: p, name: P, tier: Police}\n",
	    "t.yaml:2: nodes[0].tier: unknown tier \"Police\" "
	    "(want police, school, department or class)");
}

static void
test_tree_refuses_cycle(void **state)
{
	char	buf[1024];
	size_t	o;
	int	i;

	(void)state;
	T_REFUSED("nodes:\n"
	    "  - {id: a, name: A, tier: school, parent: b}\n"
	    "  - {id: b, name: B, tier: police, parent: a}\n",
	    "t.yaml:3: nodes[1].parent: cycle: b -> a -> b");
	T_REFUSED("nodes:\n  - {id: a, name: A, tier: school, parent: a}\n",
	    "t.yaml:2: nodes[0].parent: cycle: a -> a");
	/* A long one is shortened. */
	o = (size_t)snprintf(buf, sizeof(buf), "nodes:\n");
	for (i = 0; i < 10; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o,
		    "  - {id: n%d, name: N, tier: class, parent: n%d}\n", i,
		    (i + 1) % 10);
	T_REFUSED(buf, "t.yaml:11: nodes[9].parent: cycle: n9 -> n0 -> n1 -> "
	    "n2 -> n3 -> n4 -> n5 -> ... -> n9");
}

static void
test_tree_refuses_wrong_tier_order(void **state)
{
	(void)state;
	T_REFUSED(T_NODES
	    "  - {id: c, name: C, tier: class, parent: s}\n",
	    "t.yaml:5: nodes[3].parent: a class's parent must be a "
	    "department, and \"s\" is a school");
	T_REFUSED("nodes:\n  - {id: s, name: S, tier: school}\n",
	    "t.yaml:2: nodes[0].parent: a school needs a parent "
	    "(a police unit)");
	T_REFUSED("nodes:\n"
	    "  - {id: p1, name: P1, tier: police}\n"
	    "  - {id: p2, name: P2, tier: police, parent: p1}\n"
	    "  - {id: p3, name: P3, tier: police, parent: p2}\n"
	    "  - {id: p4, name: P4, tier: police, parent: p3}\n",
	    "t.yaml:5: nodes[3].parent: police units more than 3 deep");
	T_REFUSED(T_NODES
	    "  - {id: p2, name: P2, tier: police, parent: s}\n",
	    "t.yaml:5: nodes[3].parent: a police unit's parent must be a "
	    "police unit, and \"s\" is a school");
	T_REFUSED(T_NODES
	    "  - {id: s2, name: S2, tier: school, parent: d}\n",
	    "t.yaml:5: nodes[3].parent: a school's parent must be a "
	    "police unit, and \"d\" is a department");
}

/* A province over cities over districts: police units three deep. */
static void
test_tree_nests_police_units(void **state)
{
	static const char buf[] = "nodes:\n"
	    "  - {id: sd, name: 省厅, tier: police}\n"
	    "  - {id: jn, name: 市局, tier: police, parent: sd}\n"
	    "  - {id: lx, name: 分局, tier: police, parent: jn}\n"
	    "  - {id: s, name: S, tier: school, parent: lx}\n"
	    "  - {id: s2, name: S2, tier: school, parent: sd}\n";
	struct conf_tree	*t;

	(void)state;
	t = tree_ok(buf, sizeof(buf) - 1);
	assert_int_equal(t->nnodes, 5);
	assert_string_equal(t->nodes[2].parent, "jn");
	conf_tree_free(t);
}

static void
test_tree_refuses_bad_entries(void **state)
{
	char	buf[512];

	(void)state;
	T_REFUSED("principals: []\n", "t.yaml:1: nodes: missing required key");
	T_REFUSED("nodes: {p: police}\n",
	    "t.yaml:1: nodes: expected a sequence, not a mapping");
	T_REFUSED("nodes:\n  - {name: P, tier: police}\n",
	    "t.yaml:2: nodes[0].id: missing required key");
	T_REFUSED("nodes:\n  - {id: p, name: P, tier: police, colour: red}\n",
	    "t.yaml:2: nodes[0].colour: unknown key");
	T_REFUSED("nodes:\n  - p\n",
	    "t.yaml:2: nodes[0]: expected a mapping, not a scalar");
	T_REFUSED("nodes:\n  - {id: p, name: \"\", tier: police}\n",
	    "t.yaml:2: nodes[0].name: must not be empty");
	T_REFUSED("nodes:\n  - {id: p, name: \"a\\u0085b\", tier: police}\n",
	    "t.yaml:2: nodes[0].name: must not contain control characters");
	T_REFUSED("nodes:\n  - {id: p, name: [P], tier: police}\n",
	    "t.yaml:2: nodes[0].name: expected a scalar, not a sequence");
	snprintf(buf, sizeof(buf),
	    "nodes:\n  - {id: p, name: %0257d, tier: police}\n", 0);
	T_REFUSED(buf, "t.yaml:2: nodes[0].name: longer than 256 bytes");
	T_REFUSED(T_NODES T_CLASS "principals: {}\n",
	    "t.yaml:6: principals: expected a sequence, not a mapping");
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example_wuzhad_loads),
		cmocka_unit_test(test_example_agent_loads),
		cmocka_unit_test(test_example_tree_loads),
		cmocka_unit_test(test_wuzhad_defaults_filled_in),
		cmocka_unit_test(test_wuzhad_metrics_read_and_checked),
		cmocka_unit_test(test_wuzhad_instance_read_and_checked),
		cmocka_unit_test(test_wuzhad_delivery_read_and_checked),
		cmocka_unit_test(test_wuzhad_audit_read_and_checked),
		cmocka_unit_test(test_wuzhad_every_key_read),
		cmocka_unit_test(test_wuzhad_redis_socket_has_no_host),
		cmocka_unit_test(test_wuzhad_redis_sentinels_read_and_checked),
		cmocka_unit_test(test_agent_defaults_filled_in),
		cmocka_unit_test(test_servers_and_daemon_names),
		cmocka_unit_test(test_load_resolves_paths_from_file_dir),
		cmocka_unit_test(test_load_from_cwd_keeps_relative_paths),
		cmocka_unit_test(test_tree_any_order_comes_out_parents_first),
		cmocka_unit_test(test_tree_empty_lists_accepted),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_tier_names),
		cmocka_unit_test(test_null_err_buffer_is_fine),
		cmocka_unit_test(test_err_buffer_truncates),
		cmocka_unit_test(test_tree_roundtrip_example),
		cmocka_unit_test(test_tree_roundtrip_awkward_names),
		cmocka_unit_test(test_tree_write_refuses_bad_utf8),
		cmocka_unit_test(test_refuses_alias_and_anchor),
		cmocka_unit_test(test_refuses_tags),
		cmocka_unit_test(test_refuses_duplicate_key),
		cmocka_unit_test(test_refuses_deep_nesting),
		cmocka_unit_test(test_refuses_bad_utf8),
		cmocka_unit_test(test_accepts_utf8_bom),
		cmocka_unit_test(test_refuses_empty_file),
		cmocka_unit_test(test_refuses_two_documents),
		cmocka_unit_test(test_refuses_huge_scalar),
		cmocka_unit_test(test_refuses_big_file),
		cmocka_unit_test(test_load_refuses_big_or_missing_file),
		cmocka_unit_test(test_refuses_syntax_and_controls),
		cmocka_unit_test(test_controls_whatever_the_reads),
		cmocka_unit_test(test_wuzhad_refuses_unknown_key),
		cmocka_unit_test(test_wuzhad_refuses_wrong_type),
		cmocka_unit_test(test_wuzhad_refuses_non_integer),
		cmocka_unit_test(test_wuzhad_refuses_missing_key),
		cmocka_unit_test(test_wuzhad_refuses_bad_duration),
		cmocka_unit_test(test_wuzhad_refuses_bad_size),
		cmocka_unit_test(test_wuzhad_refuses_out_of_range),
		cmocka_unit_test(test_wuzhad_refuses_inconsistent_values),
		cmocka_unit_test(test_wuzhad_receipts),
		cmocka_unit_test(test_wuzhad_refuses_bad_strings),
		cmocka_unit_test(test_wuzhad_refuses_bad_listen),
		cmocka_unit_test(test_agent_refuses_bad_values),
		cmocka_unit_test(test_tree_refuses_bad_node_id),
		cmocka_unit_test(test_tree_refuses_bad_cn),
		cmocka_unit_test(test_tree_refuses_duplicate_node_id),
		cmocka_unit_test(test_tree_refuses_duplicate_cn),
		cmocka_unit_test(test_tree_refuses_unknown_parent),
		cmocka_unit_test(test_tree_refuses_principal_on_unknown_node),
		cmocka_unit_test(test_tree_refuses_bad_rights),
		cmocka_unit_test(test_tree_refuses_unknown_tier),
		cmocka_unit_test(test_tree_refuses_cycle),
		cmocka_unit_test(test_tree_refuses_wrong_tier_order),
		cmocka_unit_test(test_tree_nests_police_units),
		cmocka_unit_test(test_tree_refuses_bad_entries),
	};

	if (argc != 3) {
		fprintf(stderr, "usage: %s CONF_SOURCE_DIR TEST_DATA_DIR\n",
		    argv[0]);
		return 2;
	}
	confdir = argv[1];
	if ((size_t)snprintf(datadir, sizeof(datadir), "%s/conf", argv[2]) >=
	    sizeof(datadir))
		return 2;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
