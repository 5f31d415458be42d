/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target: CSV class lists (conf/csv.c), added to a small tree
 * of two police units, one with a school and a desk.  Every refusal must
 * have the "fuzz.csv:LINE: reason" shape and leave a tree that can still
 * be freed; every acceptance must give a tree that the YAML loader, which
 * checks all a tree must be (ids, tiers, parents, unique CNs), takes back
 * with the same nodes and principals once written out.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "fuzz-util.h"

#define NAME	"fuzz.csv"

static const char base[] =
    "nodes:\n"
    "  - {id: pol, name: 公安, tier: police}\n"
    "  - {id: pol2, name: 分局, tier: police}\n"
    "  - {id: s1, name: 实验中学, tier: school, parent: pol}\n"
    "principals:\n"
    "  - {cn: desk-s1, node: s1, rights: [observe]}\n"
    "  - {cn: officer, node: pol, rights: [issue, observe]}\n";

static int
node_cmp(const void *a, const void *b)
{
	return strcmp(((const struct conf_node *)a)->id,
	    ((const struct conf_node *)b)->id);
}

static int
princ_cmp(const void *a, const void *b)
{
	return strcmp(((const struct conf_principal *)a)->cn,
	    ((const struct conf_principal *)b)->cn);
}

/* The same nodes and principals, whatever their order. */
static void
tree_same(struct conf_tree *a, struct conf_tree *b)
{
	size_t	i;

	CHECK(a->nnodes == b->nnodes && a->nprincipals == b->nprincipals);
	qsort(a->nodes, a->nnodes, sizeof(*a->nodes), node_cmp);
	qsort(b->nodes, b->nnodes, sizeof(*b->nodes), node_cmp);
	qsort(a->principals, a->nprincipals, sizeof(*a->principals),
	    princ_cmp);
	qsort(b->principals, b->nprincipals, sizeof(*b->principals),
	    princ_cmp);
	for (i = 0; i < a->nnodes; i++) {
		CHECK(strcmp(a->nodes[i].id, b->nodes[i].id) == 0);
		CHECK(strcmp(a->nodes[i].name, b->nodes[i].name) == 0);
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf_tree	*t, *t2;
	char			 err[CONF_ERR_MAX], *text = NULL, *end;
	size_t			 len = 0;
	FILE			*f;

	CHECK((t = conf_tree_parse("base.yaml", base, sizeof(base) - 1, err,
	    sizeof(err))) != NULL);
	if (conf_tree_add_csv_buf(t, NAME, data, size, "pol", err,
	    sizeof(err)) == -1) {
		/* "fuzz.csv:LINE: reason" */
		CHECK(strncmp(err, NAME ":", strlen(NAME) + 1) == 0);
		CHECK(strtol(err + strlen(NAME) + 1, &end, 10) >= 1);
		CHECK(end[0] == ':' && end[1] == ' ' && end[2] != '\0');
		conf_tree_free(t);
		return 0;
	}
	CHECK((f = open_memstream(&text, &len)) != NULL);
	CHECK(conf_tree_write(t, f) == 0);
	CHECK(fclose(f) == 0);
	if ((t2 = conf_tree_parse("written.yaml", text, len, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "a tree the CSV made is refused: %s\n%s\n", err,
		    text);
		abort();
	}
	tree_same(t, t2);
	conf_tree_free(t2);
	conf_tree_free(t);
	free(text);
	return 0;
}
