/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of the daemon's tree cache and hash table: building a tree
 * from the strings Redis holds, refusing bad ones, counting receivers per
 * subtree, ancestry, walk order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wuzhad.h"

struct spec_node {
	const char	*id, *tier, *parent;
};

static const struct spec_node demo_nodes[] = {
	{ "police", "police", "" },
	{ "school-b", "school", "police" },
	{ "school-a", "school", "police" },
	{ "a-dept", "department", "school-a" },
	{ "a-dept-2", "class", "a-dept" },
	{ "a-dept-1", "class", "a-dept" },
	{ "b-dept", "department", "school-b" },
	{ "b-dept-1", "class", "b-dept" },
};

static struct tree *
demo_tree(void)
{
	struct tree	*t = tree_new();
	char		 err[256];
	size_t		 i;

	for (i = 0; i < sizeof(demo_nodes) / sizeof(demo_nodes[0]); i++)
		assert_int_equal(tree_add_node(t, demo_nodes[i].id, "名字",
		    demo_nodes[i].tier, demo_nodes[i].parent, err,
		    sizeof(err)), 0);
	assert_int_equal(tree_add_principal(t, "officer", "police",
	    "issue,observe", err, sizeof(err)), 0);
	assert_int_equal(tree_add_principal(t, "desk-a", "school-a",
	    "receive,issue,observe", err, sizeof(err)), 0);
	assert_int_equal(tree_add_principal(t, "adv-1", "a-dept-1", "receive",
	    err, sizeof(err)), 0);
	assert_int_equal(tree_add_principal(t, "adv-2", "a-dept-2", "receive",
	    err, sizeof(err)), 0);
	assert_int_equal(tree_add_principal(t, "adv-b", "b-dept-1", "receive",
	    err, sizeof(err)), 0);
	assert_int_equal(tree_finish(t, err, sizeof(err)), 0);
	return t;
}

static void
test_receivers_are_counted_per_subtree(void **state)
{
	struct tree	*t = demo_tree();

	assert_int_equal(tree_node(t, "police")->receivers, 4);
	assert_int_equal(tree_node(t, "school-a")->receivers, 3);
	assert_int_equal(tree_node(t, "a-dept")->receivers, 2);
	assert_int_equal(tree_node(t, "a-dept-1")->receivers, 1);
	assert_int_equal(tree_node(t, "school-b")->receivers, 1);
	assert_int_equal(t->nnodes, 8);
	assert_int_equal(t->nprincipals, 5);
	tree_free(t);
}

static void
test_covers_is_self_or_ancestor(void **state)
{
	struct tree	*t = demo_tree();
	struct tnode	*police = tree_node(t, "police");
	struct tnode	*a = tree_node(t, "school-a"), *b = tree_node(t, "school-b");
	struct tnode	*c = tree_node(t, "a-dept-1");

	assert_true(tree_covers(police, c));
	assert_true(tree_covers(a, c));
	assert_true(tree_covers(c, c));
	assert_false(tree_covers(b, c));
	assert_false(tree_covers(c, a));
	assert_int_equal(tree_depth(c), 3);
	assert_ptr_equal(tree_principal(t, "adv-1")->node, c);
	assert_null(tree_principal(t, "nobody"));
	tree_free(t);
}

/* A near node is named, only within the asker's subtree. */
static void
test_suggest_names_a_near_node_in_scope(void **state)
{
	struct tree	*t = demo_tree();
	struct tnode	*police = tree_node(t, "police");
	struct tnode	*a = tree_node(t, "school-a");
	struct tnode	*b = tree_node(t, "school-b"), *n;

	(void)state;
	/* One edit: dropped, swapped, changed, added. */
	assert_ptr_equal(tree_suggest(t, police, "schol-a"), a);
	assert_ptr_equal(tree_suggest(t, police, "shcool-a"), a);
	assert_ptr_equal(tree_suggest(t, police, "schoool-b"), b);
	/* Two edits: among the children of a-dept, the id's own prefix. */
	assert_null(tree_suggest(t, police, "a-dept-wxyz"));
	n = tree_suggest(t, police, "a-dept-1xy");
	assert_non_null(n);
	assert_string_equal(n->id, "a-dept-1");
	n = tree_suggest(t, police, "a-dept-x9");
	assert_non_null(n);
	assert_ptr_equal(n->parent, tree_node(t, "a-dept"));
	/* Two edits among the asker's own children. */
	assert_ptr_equal(tree_suggest(t, a, "a-dxpx"), tree_node(t, "a-dept"));
	/* Not in the asker's subtree, or nothing near: none. */
	assert_null(tree_suggest(t, b, "schol-a"));
	assert_null(tree_suggest(t, police, "xyzzy"));
	assert_null(tree_suggest(t, police, ""));
	tree_free(t);
}

/* A department of 5,000 classes: pass 2 stops at its bound, pass 1 not. */
static void
test_suggest_is_bounded_among_many_siblings(void **state)
{
	struct tree	*t = tree_new();
	struct tnode	*n;
	char		 err[256], id[32];
	int		 i;

	(void)state;
	assert_int_equal(tree_add_node(t, "p", "p", "police", "", err,
	    sizeof(err)), 0);
	assert_int_equal(tree_add_node(t, "s", "s", "school", "p", err,
	    sizeof(err)), 0);
	assert_int_equal(tree_add_node(t, "d", "d", "department", "s", err,
	    sizeof(err)), 0);
	for (i = 0; i < 5000; i++) {
		snprintf(id, sizeof(id), "d-c%04d", i);
		assert_int_equal(tree_add_node(t, id, "c", "class", "d", err,
		    sizeof(err)), 0);
	}
	assert_int_equal(tree_finish(t, err, sizeof(err)), 0);
	n = tree_suggest(t, tree_node(t, "p"), "d-c4999x");
	assert_non_null(n);
	assert_string_equal(n->id, "d-c4999");
	/* Two edits from d-c4999 only: past the 2,048 compared, not found. */
	assert_null(tree_suggest(t, tree_node(t, "p"), "d-c4999xy"));
	n = tree_suggest(t, tree_node(t, "p"), "d-c0001xy");
	assert_non_null(n);
	assert_string_equal(n->id, "d-c0001");
	tree_free(t);
}

static void
walk_cb(struct tnode *n, int depth, void *arg)
{
	char	*out = arg;

	snprintf(out + strlen(out), 512 - strlen(out), "%d:%s ", depth, n->id);
}

static void
test_walk_is_preorder_with_children_sorted(void **state)
{
	struct tree	*t = demo_tree();
	char		 out[512] = "";

	assert_int_equal(t->nroots, 1);
	tree_walk(t->roots[0], walk_cb, out);
	assert_string_equal(out, "0:police 1:school-a 2:a-dept 3:a-dept-1 "
	    "3:a-dept-2 1:school-b 2:b-dept 3:b-dept-1 ");
	tree_free(t);
}

/* Build a tree from one bad node or principal; return the error. */
static void
refused(const char *id, const char *tier, const char *parent,
    const char *cn, const char *rights, const char *want)
{
	struct tree	*t = tree_new();
	char		 err[256] = "";
	int		 rv;

	rv = tree_add_node(t, "root", "r", "police", "", err, sizeof(err));
	assert_int_equal(rv, 0);
	rv = tree_add_node(t, "sch", "s", "school", "root", err, sizeof(err));
	assert_int_equal(rv, 0);
	if (id != NULL)
		rv = tree_add_node(t, id, "n", tier, parent, err, sizeof(err));
	if (rv == 0 && cn != NULL)
		rv = tree_add_principal(t, cn, "sch", rights, err, sizeof(err));
	if (rv == 0)
		rv = tree_finish(t, err, sizeof(err));
	assert_int_equal(rv, -1);
	if (strstr(err, want) == NULL)
		fail_msg("error \"%s\" does not say \"%s\"", err, want);
	tree_free(t);
}

static void
test_bad_trees_are_refused_with_a_reason(void **state)
{
	refused("Bad_Id", "class", "sch", NULL, NULL, "bad id");
	refused("x", "village", "sch", NULL, NULL, "unknown tier");
	refused("sch", "school", "root", NULL, NULL, "duplicate");
	refused("x", "class", "nowhere", NULL, NULL, "unknown parent");
	refused("x", "class", "sch", NULL, NULL, "a class cannot sit under a school");
	refused("x", "school", "", NULL, NULL, "a school needs a parent");
	refused("x", "police", "sch", NULL, NULL, "a police cannot sit under a school");
	refused(NULL, NULL, NULL, "-bad", "receive", "bad name");
	refused(NULL, NULL, NULL, "p", "receive,fly", "bad rights");
}

/* Police units over police units: three deep at most, never a cycle. */
static void
test_police_units_nest_three_deep(void **state)
{
	struct tree	*t = tree_new();
	char		 err[256] = "";

	assert_int_equal(tree_add_node(t, "sd", "p", "police", "", err,
	    sizeof(err)), 0);
	assert_int_equal(tree_add_node(t, "jn", "c", "police", "sd", err,
	    sizeof(err)), 0);
	assert_int_equal(tree_add_node(t, "lx", "d", "police", "jn", err,
	    sizeof(err)), 0);
	assert_int_equal(tree_add_node(t, "s", "s", "school", "lx", err,
	    sizeof(err)), 0);
	assert_int_equal(tree_finish(t, err, sizeof(err)), 0);
	assert_int_equal(t->nroots, 1);
	assert_int_equal(tree_node(t, "sd")->size, 4);
	tree_free(t);

	t = tree_new();
	assert_int_equal(tree_add_node(t, "a", "a", "police", "", err,
	    sizeof(err)), 0);
	assert_int_equal(tree_add_node(t, "b", "b", "police", "a", err,
	    sizeof(err)), 0);
	assert_int_equal(tree_add_node(t, "c", "c", "police", "b", err,
	    sizeof(err)), 0);
	assert_int_equal(tree_add_node(t, "d", "d", "police", "c", err,
	    sizeof(err)), 0);
	assert_int_equal(tree_finish(t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than 3 deep"));
	tree_free(t);

	t = tree_new();
	assert_int_equal(tree_add_node(t, "a", "a", "police", "b", err,
	    sizeof(err)), 0);
	assert_int_equal(tree_add_node(t, "b", "b", "police", "a", err,
	    sizeof(err)), 0);
	assert_int_equal(tree_finish(t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "or in a cycle"));
	tree_free(t);
}

static void
test_htab_grows_and_deletes(void **state)
{
	struct htab	 h;
	char		 key[32];
	long		 i;

	htab_init(&h);
	for (i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "k%ld", i);
		assert_null(htab_put(&h, key, (void *)(i + 1)));
	}
	assert_int_equal(h.count, 5000);
	assert_ptr_equal(htab_put(&h, "k7", (void *)99), (void *)8);
	assert_ptr_equal(htab_get(&h, "k7"), (void *)99);
	for (i = 0; i < 5000; i += 2) {
		snprintf(key, sizeof(key), "k%ld", i);
		assert_non_null(htab_del(&h, key));
	}
	assert_int_equal(h.count, 2500);
	assert_null(htab_get(&h, "k0"));
	assert_ptr_equal(htab_get(&h, "k4999"), (void *)5000);
	assert_null(htab_del(&h, "absent"));
	htab_clear(&h, NULL);
	assert_int_equal(h.count, 0);
	assert_null(htab_get(&h, "k1"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_receivers_are_counted_per_subtree),
		cmocka_unit_test(test_covers_is_self_or_ancestor),
		cmocka_unit_test(test_walk_is_preorder_with_children_sorted),
		cmocka_unit_test(test_bad_trees_are_refused_with_a_reason),
		cmocka_unit_test(test_police_units_nest_three_deep),
		cmocka_unit_test(test_suggest_names_a_near_node_in_scope),
		cmocka_unit_test(test_suggest_is_bounded_among_many_siblings),
		cmocka_unit_test(test_htab_grows_and_deletes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
