/* SPDX-License-Identifier: ISC */
/*
 * agent.yaml: how wuzha-agent (and wuzhactl, which ignores state_file and
 * hook) reaches the daemon and proves who it is.  Relative paths are taken
 * from the directory of the file; the hook is a command kept as written.
 */

#include <stdlib.h>
#include <string.h>

#include "conf_impl.h"

/* tls: {ca, cert, key}, all required; crl optional. */
static int
agent_tls(struct conf_yaml_doc *doc, const struct conf_yaml_node *node,
    const char *dir, struct conf_agent *c)
{
	const struct conf_yaml_node	*ca, *cert, *key, *crl;
	const struct conf_yaml_key	 keys[] = {
		{ "ca", 1, &ca }, { "cert", 1, &cert }, { "key", 1, &key },
		{ "crl", 0, &crl },
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
	return 0;
}

/*
 * A backoff's bounds, {min, max} under the key name (reconnect:, or
 * hook_retry:): each from 10ms, min up to 1h, max up to 1d, min <= max.
 * *minp and *maxp hold the defaults on entry.
 */
static int
agent_backoff(struct conf_yaml_doc *doc, const struct conf_yaml_node *node,
    const char *name, uint32_t *minp, uint32_t *maxp)
{
	const struct conf_yaml_node	*min, *max;
	const struct conf_yaml_key	 keys[] = {
		{ "min", 0, &min }, { "max", 0, &max },
	};

	if (node == NULL)
		return 0;
	if (conf_yaml_map(doc, node, keys, sizeof(keys) / sizeof(keys[0])) ==
	    -1)
		return -1;
	if (min != NULL && conf_yaml_duration(doc, min, 10, 3600000,
	    minp) == -1)
		return -1;
	if (max != NULL && conf_yaml_duration(doc, max, 10, 86400000,
	    maxp) == -1)
		return -1;
	if (*maxp < *minp) {
		if (max != NULL)
			return conf_yaml_error(doc, max,
			    "must not be less than %s.min", name);
		return conf_yaml_error(doc, min,
		    "must not be more than %s.max", name);
	}
	return 0;
}

/*
 * inbox: {listen, dir, url_file, keep, max}: the advisor's page, served by
 * the agent on loopback only.  Without the section there is no page.
 */
static int
agent_inbox(struct conf_yaml_doc *doc, const struct conf_yaml_node *node,
    const char *dir, struct conf_agent *c)
{
	const struct conf_yaml_node	*listen, *idir, *url, *keep, *max;
	const struct conf_yaml_key	 keys[] = {
		{ "listen", 0, &listen }, { "dir", 0, &idir },
		{ "url_file", 0, &url }, { "keep", 0, &keep },
		{ "max", 0, &max },
	};
	const char			*why, *h;
	uint64_t			 v;

	c->inbox_keep_s = 30 * 86400;
	c->inbox_max = 1000;
	if (node == NULL)
		return 0;
	if (conf_yaml_map(doc, node, keys, sizeof(keys) / sizeof(keys[0])) ==
	    -1)
		return -1;
	if (listen == NULL)
		c->inbox_listen = strdup("127.0.0.1:0");
	else if (conf_yaml_string(doc, listen, CONF_HOSTPORT_MAX,
	    &c->inbox_listen) == -1)
		return -1;
	if (c->inbox_listen == NULL)
		return conf_yaml_error(doc, node, "out of memory");
	if (conf_util_hostport(c->inbox_listen, 1, &why) == -1)
		return conf_yaml_error(doc, listen, "%s", why);
	/* Loopback only: the page holds no secret a network may see. */
	h = c->inbox_listen;
	if (strncmp(h, "127.", 4) != 0 && strncmp(h, "[::1]:", 6) != 0 &&
	    strncmp(h, "localhost:", 10) != 0)
		return conf_yaml_error(doc, listen, "the inbox is served on "
		    "loopback only (127.0.0.1, [::1] or localhost)");
	if (idir != NULL && conf_yaml_path(doc, idir, dir, &c->inbox_dir) == -1)
		return -1;
	if (url != NULL &&
	    conf_yaml_path(doc, url, dir, &c->inbox_url_file) == -1)
		return -1;
	if (keep != NULL) {
		if (conf_yaml_seconds(doc, keep, 60000, 3650ll * 86400000,
		    &c->inbox_keep_s) == -1)
			return -1;
	}
	if (max != NULL) {
		if (conf_yaml_uint(doc, max, 1, 100000, &v) == -1)
			return -1;
		c->inbox_max = (uint32_t)v;
	}
	return 0;
}

/* Build the config from a parsed document; NULL on any error. */
/*
 * server: one "host:port", or a list of them (several daemons sharing one
 * Redis): an agent tries them in turn and moves on when one goes away.
 */
static int
agent_servers(struct conf_yaml_doc *doc, const struct conf_yaml_node *node,
    struct conf_agent *c)
{
	const struct conf_yaml_node	*one;
	const char			*why;
	size_t				 i, n;

	n = node->kind == CONF_YAML_SEQ ? node->n : 1;
	if (n == 0)
		return conf_yaml_error(doc, node, "must list at least one server");
	if (n > CONF_SERVERS_MAX)
		return conf_yaml_error(doc, node, "at most %d servers",
		    CONF_SERVERS_MAX);
	if ((c->servers = calloc(n, sizeof(*c->servers))) == NULL)
		return conf_yaml_error(doc, node, "out of memory");
	for (i = 0; i < n; i++) {
		one = node->kind == CONF_YAML_SEQ ? node->items[i] : node;
		if (conf_yaml_string(doc, one, CONF_HOSTPORT_MAX,
		    &c->servers[i]) == -1)
			return -1;
		c->nservers++;
		if (conf_util_hostport(c->servers[i], 0, &why) == -1)
			return conf_yaml_error(doc, one, "%s", why);
	}
	if ((c->server = strdup(c->servers[0])) == NULL)
		return conf_yaml_error(doc, node, "out of memory");
	return 0;
}

static struct conf_agent *
agent_build(struct conf_yaml_doc *doc, const char *dir)
{
	const struct conf_yaml_node	*root = conf_yaml_root(doc);
	const struct conf_yaml_node	*server, *name, *tls, *state, *hook;
	const struct conf_yaml_node	*hookto, *hookretry, *reconnect, *hb;
	const struct conf_yaml_node	*frame, *inbox;
	const struct conf_yaml_key	 keys[] = {
		{ "server", 1, &server }, { "server_name", 1, &name },
		{ "tls", 1, &tls }, { "state_file", 0, &state },
		{ "hook", 0, &hook }, { "hook_timeout", 0, &hookto },
		{ "hook_retry", 0, &hookretry },
		{ "reconnect", 0, &reconnect }, { "heartbeat", 0, &hb },
		{ "max_frame", 0, &frame }, { "inbox", 0, &inbox },
	};
	struct conf_agent		*c;
	uint64_t			 v;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		conf_yaml_error(doc, root, "out of memory");
		return NULL;
	}
	c->hook_timeout_ms = 30000;
	c->heartbeat_s = 30;
	c->max_frame = 65536;
	if (conf_yaml_map(doc, root, keys, sizeof(keys) / sizeof(keys[0])) ==
	    -1)
		goto fail;
	if (agent_servers(doc, server, c) == -1)
		goto fail;
	if (conf_yaml_string(doc, name, 253, &c->server_name) == -1)
		goto fail;
	if (conf_util_hostname(c->server_name) == -1) {
		conf_yaml_error(doc, name, "is not a host name or address");
		goto fail;
	}
	if (agent_tls(doc, tls, dir, c) == -1)
		goto fail;
	if (state != NULL &&
	    conf_yaml_path(doc, state, dir, &c->state_file) == -1)
		goto fail;
	if (hook != NULL &&
	    conf_yaml_string(doc, hook, CONF_PATH_MAX, &c->hook) == -1)
		goto fail;
	if (hookto != NULL && conf_yaml_duration(doc, hookto, 100, 3600000,
	    &c->hook_timeout_ms) == -1)
		goto fail;
	/* A failed hook runs again after 5s, doubling up to 5m. */
	c->hook_retry_min_ms = 5000;
	c->hook_retry_max_ms = 300000;
	if (agent_backoff(doc, hookretry, "hook_retry", &c->hook_retry_min_ms,
	    &c->hook_retry_max_ms) == -1)
		goto fail;
	/* Connection attempts: from 500ms, doubling up to 60s. */
	c->reconnect_min_ms = 500;
	c->reconnect_max_ms = 60000;
	if (agent_backoff(doc, reconnect, "reconnect", &c->reconnect_min_ms,
	    &c->reconnect_max_ms) == -1)
		goto fail;
	if (agent_inbox(doc, inbox, dir, c) == -1)
		goto fail;
	if (hb != NULL && conf_yaml_seconds(doc, hb, 1000, 3600000,
	    &c->heartbeat_s) == -1)
		goto fail;
	if (frame != NULL) {
		if (conf_yaml_size(doc, frame, 1024, 16 * 1024 * 1024, &v) ==
		    -1)
			goto fail;
		c->max_frame = (uint32_t)v;
	}
	return c;
fail:
	conf_agent_free(c);
	return NULL;
}

/* The builder as conf_util_load takes it. */
static void *
agent_build_any(struct conf_yaml_doc *doc, const char *dir)
{
	return agent_build(doc, dir);
}

/* Load agent.yaml; relative paths in it are taken from its directory. */
struct conf_agent *
conf_agent_load(const char *path, char *err, size_t errlen)
{
	return conf_util_load(path, agent_build_any, err, errlen);
}

/* Parse agent.yaml from memory; relative paths are kept as they are. */
struct conf_agent *
conf_agent_parse(const char *name, const void *buf, size_t len, char *err,
    size_t errlen)
{
	return conf_util_parse(name, buf, len, agent_build_any, err, errlen);
}

void
conf_agent_free(struct conf_agent *c)
{
	size_t	i;

	if (c == NULL)
		return;
	free(c->server);
	for (i = 0; i < c->nservers; i++)
		free(c->servers[i]);
	free(c->servers);
	free(c->server_name);
	free(c->tls.ca);
	free(c->tls.crl);
	free(c->tls.cert);
	free(c->tls.key);
	free(c->state_file);
	free(c->hook);
	free(c->inbox_listen);
	free(c->inbox_dir);
	free(c->inbox_url_file);
	free(c);
}
