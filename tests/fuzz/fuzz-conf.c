/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target: the four YAML loaders (wuzhad.yaml, agent.yaml,
 * tree.yaml, alert templates).  The first byte of the input picks the
 * loader (its value modulo 4: 0 wuzhad, 1 agent, 2 tree, 3 template, so
 * '0', '1', '2' and a leading '#' comment pick them in order).
 *
 * Each input is parsed three times: from the whole string (as in
 * production), with libyaml pulling it one byte per read, and with reads
 * of pseudo-random sizes seeded by a hash of the input (see
 * conf_yaml_read_chunk in conf_impl.h).  The three must agree: all accept,
 * or all refuse with the very same message.  Every message must have the
 * "name:line: key: reason" shape.  An accepted tree is written out with
 * conf_tree_write and must read back as the same nodes and principals.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conf_impl.h"
#include "fuzz-util.h"

#define NAME	"fuzz.yaml"

static uint64_t	 split_seed;

static size_t
chunk_one(size_t left)
{
	(void)left;
	return 1;
}

static size_t
chunk_random(size_t left)
{
	(void)left;
	return rng_piece(&split_seed, 24, 2048);
}

static int
str_same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static void
tree_same(const struct conf_tree *a, const struct conf_tree *b)
{
	size_t	i;

	CHECK(a->nnodes == b->nnodes && a->nprincipals == b->nprincipals);
	for (i = 0; i < a->nnodes; i++) {
		CHECK(strcmp(a->nodes[i].id, b->nodes[i].id) == 0);
		CHECK(str_same(a->nodes[i].name, b->nodes[i].name));
		CHECK(a->nodes[i].tier == b->nodes[i].tier);
		CHECK(strcmp(a->nodes[i].parent, b->nodes[i].parent) == 0);
	}
	for (i = 0; i < a->nprincipals; i++) {
		CHECK(strcmp(a->principals[i].cn, b->principals[i].cn) == 0);
		CHECK(strcmp(a->principals[i].node, b->principals[i].node) ==
		    0);
		CHECK(a->principals[i].rights == b->principals[i].rights);
	}
}

/* Lines and all: two parses of the same text give the same tree. */
static void
tree_same_lines(const struct conf_tree *a, const struct conf_tree *b)
{
	size_t	i;

	tree_same(a, b);
	for (i = 0; i < a->nnodes; i++)
		CHECK(a->nodes[i].line == b->nodes[i].line);
	for (i = 0; i < a->nprincipals; i++)
		CHECK(a->principals[i].line == b->principals[i].line);
}

static void
wuzhad_same(const struct conf_wuzhad *a, const struct conf_wuzhad *b)
{
	CHECK(str_same(a->listen, b->listen));
	CHECK(str_same(a->tls.ca, b->tls.ca) &&
	    str_same(a->tls.cert, b->tls.cert) &&
	    str_same(a->tls.key, b->tls.key) &&
	    str_same(a->tls.crl, b->tls.crl) &&
	    str_same(a->tls.ticket_key, b->tls.ticket_key));
	CHECK(str_same(a->redis.socket, b->redis.socket) &&
	    str_same(a->redis.host, b->redis.host) &&
	    str_same(a->redis.prefix, b->redis.prefix) &&
	    a->redis.port == b->redis.port);
	CHECK(memcmp(&a->limits, &b->limits, sizeof(a->limits)) == 0);
	CHECK(memcmp(&a->timeouts, &b->timeouts, sizeof(a->timeouts)) == 0);
	CHECK(memcmp(&a->delivery, &b->delivery, sizeof(a->delivery)) == 0);
	CHECK(str_same(a->log_level, b->log_level));
}

static void
agent_same(const struct conf_agent *a, const struct conf_agent *b)
{
	CHECK(str_same(a->server, b->server) &&
	    str_same(a->server_name, b->server_name));
	CHECK(str_same(a->tls.ca, b->tls.ca) &&
	    str_same(a->tls.cert, b->tls.cert) &&
	    str_same(a->tls.key, b->tls.key));
	CHECK(str_same(a->state_file, b->state_file) &&
	    str_same(a->hook, b->hook));
	CHECK(a->hook_timeout_ms == b->hook_timeout_ms &&
	    a->reconnect_min_ms == b->reconnect_min_ms &&
	    a->reconnect_max_ms == b->reconnect_max_ms &&
	    a->heartbeat_s == b->heartbeat_s && a->max_frame == b->max_frame);
}

/*
 * Two loads of one template agree, and filling every placeholder with a
 * one-byte value always works: a placeholder is at least three bytes, so
 * nothing filled in can pass a limit the template itself kept.
 */
static void
template_same(const struct conf_template *a, const struct conf_template *b)
{
	struct conf_template_filled	 f;
	const char			*sets[CONF_TEMPLATE_PH_MAX];
	char				 kv[CONF_TEMPLATE_PH_MAX][40];
	char				 err[CONF_ERR_MAX + 256];
	size_t				 i;

	CHECK(str_same(a->headline, b->headline) && str_same(a->text, b->text) &&
	    str_same(a->instruction, b->instruction) &&
	    str_same(a->category, b->category) &&
	    a->nplaceholders == b->nplaceholders);
	CHECK(a->nplaceholders <= CONF_TEMPLATE_PH_MAX);
	for (i = 0; i < a->nplaceholders; i++) {
		snprintf(kv[i], sizeof(kv[i]), "%s=v", a->placeholders[i].key);
		sets[i] = kv[i];
	}
	CHECK(conf_template_fill(a, sets, a->nplaceholders, &f, err,
	    sizeof(err)) == 0);
	CHECK(strlen(f.headline) <= strlen(a->headline));
	conf_template_filled_free(&f);
}

/* "fuzz.yaml:LINE: " at the start of every message. */
static void
check_message(const char *err)
{
	const char	*p;

	CHECK(strncmp(err, NAME ":", sizeof(NAME)) == 0);
	p = err + sizeof(NAME);
	CHECK(*p >= '1' && *p <= '9');
	while (*p >= '0' && *p <= '9')
		p++;
	CHECK(p[0] == ':' && p[1] == ' ' && p[2] != '\0');
}

/* One parse with the loader chosen; the result, err holds the message. */
static void *
load(int which, const uint8_t *p, size_t n, char *err, size_t errlen)
{
	switch (which) {
	case 0:
		return conf_wuzhad_parse(NAME, p, n, err, errlen);
	case 1:
		return conf_agent_parse(NAME, p, n, err, errlen);
	case 3:
		return conf_template_parse(NAME, p, n, err, errlen);
	default:
		return conf_tree_parse(NAME, p, n, err, errlen);
	}
}

static void
drop(int which, void *c)
{
	switch (which) {
	case 0:
		conf_wuzhad_free(c);
		break;
	case 1:
		conf_agent_free(c);
		break;
	case 3:
		conf_template_free(c);
		break;
	default:
		conf_tree_free(c);
		break;
	}
}

static void
same(int which, const void *a, const void *b)
{
	switch (which) {
	case 0:
		wuzhad_same(a, b);
		break;
	case 1:
		agent_same(a, b);
		break;
	case 3:
		template_same(a, b);
		break;
	default:
		tree_same_lines(a, b);
		break;
	}
}

/* Write an accepted tree and read it back. */
static void
tree_again(const struct conf_tree *t)
{
	struct conf_tree	*t2;
	char			 err[CONF_ERR_MAX];
	char			*text = NULL;
	size_t			 len = 0;
	FILE			*f;

	CHECK((f = open_memstream(&text, &len)) != NULL);
	CHECK(conf_tree_write(t, f) == 0);
	CHECK(fclose(f) == 0);
	t2 = conf_tree_parse(NAME, text, len, err, sizeof(err));
	if (t2 == NULL) {
		fprintf(stderr, "written tree refused: %s\n%s\n", err, text);
		abort();
	}
	tree_same(t, t2);
	conf_tree_free(t2);
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		 err[CONF_ERR_MAX], err1[CONF_ERR_MAX];
	char		 err2[CONF_ERR_MAX];
	void		*c, *c1, *c2;
	int		 which;

	if (size == 0)
		return 0;
	which = data[0] % 4;
	data++;
	size--;

	conf_yaml_read_chunk = NULL;
	c = load(which, data, size, err, sizeof(err));
	conf_yaml_read_chunk = chunk_one;
	c1 = load(which, data, size, err1, sizeof(err1));
	split_seed = hash_bytes(data, size);
	conf_yaml_read_chunk = chunk_random;
	c2 = load(which, data, size, err2, sizeof(err2));
	conf_yaml_read_chunk = NULL;

	if (c == NULL || c1 == NULL || c2 == NULL) {
		if (c != NULL || c1 != NULL || c2 != NULL ||
		    strcmp(err, err1) != 0 || strcmp(err, err2) != 0) {
			fprintf(stderr, "verdicts differ:\n whole: %s\n"
			    " bytes: %s\n split: %s\n",
			    c ? "ok" : err, c1 ? "ok" : err1,
			    c2 ? "ok" : err2);
			abort();
		}
		check_message(err);
	} else {
		same(which, c, c1);
		same(which, c, c2);
		if (which == 2)
			tree_again(c);
	}
	drop(which, c);
	drop(which, c1);
	drop(which, c2);
	return 0;
}
