/* SPDX-License-Identifier: ISC */
/*
 * access: the one check of who may look at or act on which part of the
 * tree.  Every request that names a subtree (AGENTS, SCHEDULE, REPORT,
 * STATUS) asks here: does the principal hold one of the rights the request
 * needs, and is the node it names (its own node when it names none) at or
 * below its own?  A refusal is answered here too, with the code and the
 * reason, so the handlers only see requests they may serve.
 */

#include <stdio.h>

#include "wuzhad.h"

/* The words for a set of rights in a refusal ("observe", "issue or observe"). */
static const char *
access_rights_name(unsigned rights)
{
	switch (rights) {
	case PROTO_R_OBSERVE:
		return "observe";
	case PROTO_R_ISSUE:
		return "issue";
	case PROTO_R_RECEIVE:
		return "receive";
	case PROTO_R_ISSUE | PROTO_R_OBSERVE:
		return "issue or observe";
	case PROTO_R_OBSERVE | PROTO_R_RECEIVE:
		return "observe or receive";
	}
	return "do that";
}

/* 0 if c's principal holds any of rights; else ERROR 201 (ref) and -1. */
int
access_rights(struct conn *c, unsigned rights, const char *ref)
{
	struct tprincipal	*pr = conn_principal(c);

	if (pr->rights & rights)
		return 0;
	/* Say what receive alone does show, where observe was wanted. */
	if ((rights & PROTO_R_OBSERVE) && pr->rights == PROTO_R_RECEIVE)
		conn_error(c, PROTO_E_FORBIDDEN, ref, "%s may not %s: it holds "
		    "receive alone, which shows only its own alerts and its "
		    "own acks (status ID, pending ID), not the tree's", pr->cn,
		    access_rights_name(rights));
	else
		conn_error(c, PROTO_E_FORBIDDEN, ref, "%s may not %s", pr->cn,
		    access_rights_name(rights));
	return -1;
}

void
access_no_node(struct conn *c, const char *node, const char *ref)
{
	struct tnode	*near;

	near = tree_suggest(wz->tree, conn_principal(c)->node, node);
	if (near != NULL)
		conn_error(c, PROTO_E_NODE, ref, "no such node %s; did you "
		    "mean %s?", node, near->id);
	else
		conn_error(c, PROTO_E_NODE, ref, "no such node %s", node);
}

/*
 * The node a request of c is about: node, or c's own when node is "", if
 * c holds one of rights and node is in its subtree.  Else an ERROR (201
 * forbidden, 304 unknown node) with ref, and NULL.
 */
struct tnode *
access_node(struct conn *c, unsigned rights, const char *node,
    const char *ref)
{
	struct tprincipal	*pr = conn_principal(c);
	struct tnode		*n;

	if (access_rights(c, rights, ref) == -1)
		return NULL;
	if (node == NULL || node[0] == '\0')
		return pr->node;
	if ((n = tree_node(wz->tree, node)) == NULL) {
		access_no_node(c, node, ref);
		return NULL;
	}
	if (!tree_covers(pr->node, n)) {
		conn_error(c, PROTO_E_FORBIDDEN, ref, "%s at %s may not %s %s "
		    "(not in its subtree)", pr->cn, pr->node->id,
		    access_rights_name(rights), n->id);
		return NULL;
	}
	return n;
}
