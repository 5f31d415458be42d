/* SPDX-License-Identifier: ISC */
/*
 * ctl: what wuzhactl's verb files share.  wuzhactl.c parses the command
 * line against a table of verbs (one function each, in ctl_*.c) and runs
 * the single request/answer exchange a network verb needs.
 */
#ifndef WUZHA_CTL_H
#define WUZHA_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "proto.h"

#define CTL_CONF_DEFAULT	"/etc/wuzha/wuzhactl.yaml"
#define CTL_TIMEOUT_S		10	/* default -t: connect + answer */

/* Exit codes. */
#define CTL_OK			0
#define CTL_FAIL		1	/* refused, failed, timed out */
#define CTL_USAGE		2	/* bad command line */
#define CTL_INTERRUPTED		130	/* SIGINT or SIGTERM while watching */
#define CTL_MORE		(-1)	/* reply fn: keep the session, wait on */
#define CTL_NEXT		(-2)	/* reply fn: sent the next page's request */

struct ctl_req;

/* The runtime context of one wuzhactl run. */
struct ctl {
	const char		*conf_path;
	struct conf_agent	*conf;		/* loaded by ctl_conf */
	uint32_t		 timeout_ms;
	const struct ctl_cmd	*cmd;		/* the verb being run */
	struct ctl_req		*req;		/* the request under way */
};

/*
 * A verb.  fn gets the arguments after the verb's words, argv[0] being
 * its last word (so getopt_long can be run on them), and returns the exit
 * code.
 */
struct ctl_cmd {
	const char	*words[2];
	int		(*fn)(struct ctl *, int, char **);
	const char	*args;		/* usage after the words */
	const char	*help;		/* one line */
};

/*
 * Called with the answer the request waited for (payload only); prints
 * it and returns the exit code, or CTL_MORE to wait for further frames
 * of that type (a watch): -t then no longer applies, and SIGINT or
 * SIGTERM end the session with CTL_INTERRUPTED.
 */
typedef int	ctl_reply_fn(struct ctl *, const uint8_t *, size_t, void *);

/* The config, loaded on first use; exits 1 with the reason if bad. */
struct conf_agent *ctl_conf(struct ctl *);
/*
 * Connect as CONSOLE, send the frame(s) in req after WELCOME, wait for a
 * frame of type want and hand it to fn; an ERROR is printed as
 * "wuzhactl: NAME (CODE): TEXT".  Returns the exit code; req is freed.
 */
int		ctl_request(struct ctl *, struct proto_buf *req, uint8_t want,
		    ctl_reply_fn *fn, void *arg);
/*
 * From a reply fn: send req (freed) on the same session for the next
 * page of an answer; the fn then returns CTL_NEXT, and the next answer
 * comes to it with -t counted afresh.  -1 if it could not be sent.
 */
int		ctl_request_next(struct ctl *, struct proto_buf *req);
/* From a reply fn: the answers after this one are of type want. */
void		ctl_request_want(struct ctl *, uint8_t want);
/*
 * getopt_long(argc, argv, flags, opts, NULL) for a verb (flags "" or "+"),
 * also taking wuzhactl's -c FILE, -d and -t SECONDS after the verb; a bad
 * -t exits 2 after saying why.
 */
struct option;
int		ctl_getopt(struct ctl *, int argc, char **argv,
		    const char *flags, const struct option *opts);
/* Print the verb's usage line to stderr; returns CTL_USAGE. */
int		ctl_usage(struct ctl *);
/* Check --node NODE and copy it into out (a proto_id); -1 after saying why. */
int		ctl_node_arg(const char *node, char *out);
/* Parse a decimal number 0..max; -1 if it is not one. */
int		ctl_parse_u32(const char *, uint32_t max, uint32_t *);
/* JSON string literal of len bytes of UTF-8 s. */
void		ctl_json_str(FILE *, const char *s, size_t len);

/* Parse a time: ISO 8601 local "2026-12-24T08:00[:SS]" (or with a space,
 * or a trailing Z or +08:00 offset), a date alone (midnight), or
 * "+DURATION" from now_ms, or "now".  -1 if it is none of those. */
int		ctl_parse_time(const char *, uint64_t now_ms, uint64_t *out);

#define CTL_SETS_MAX		32	/* --set key=value per publish */
#define CTL_OWNED_MAX		16	/* strings a template may fill in */

/* What publish collects before it builds the body. */
struct ctl_pub {
	const char	*target;
	const char	*headline;
	const char	*text;
	const char	*text_file;
	const char	*instruction;
	const char	*category;
	const char	*severity;
	const char	*expires;
	const char	*id;
	const char	*type;
	const char	*references;
	const char	*at;		/* --at: hold until then */
	const char	*status;	/* --status / --drill */
	const char	*template;	/* --template NAME */
	const char	*sets[CTL_SETS_MAX];	/* --set key=value */
	size_t		 nsets;
	int		 relay;		/* --relay-required */
	int		 relay_set;	/* relay came from the command line */
	char		*owned[CTL_OWNED_MAX];	/* freed by ctl_pub_release */
	size_t		 nowned;
};

/* ctl_alert.c */
int	ctl_publish(struct ctl *, int, char **);
int	ctl_ack(struct ctl *, int, char **);
void	ctl_pub_release(struct ctl_pub *);

/*
 * ctl_template.c: fill every field of o the command line left unset
 * (NULL) from the template o->template, with o->sets substituted into its
 * placeholders; strings made go to o->owned.  Returns CTL_OK, or prints
 * why and returns CTL_USAGE (bad --set, unknown template or placeholder)
 * or CTL_FAIL (unreadable file).
 */
int	ctl_template_apply(struct ctl *, struct ctl_pub *o);
int	ctl_templates(struct ctl *, int, char **);
int	ctl_serve(struct ctl *, int, char **);

/* ctl_receipts.c */
int	ctl_receipts(struct ctl *, int, char **);
/*
 * Send ack signed as a receipt (the envelope fetched first, checked
 * against the CA and hashed); ACK_OK goes to ok_fn.  Returns the exit code.
 */
int	ctl_ack_signed(struct ctl *, const struct proto_ack *, ctl_reply_fn *ok_fn);

/* ctl_status.c */
int	ctl_status(struct ctl *, int, char **);
int	ctl_pending(struct ctl *, int, char **);
int	ctl_watch(struct ctl *, int, char **);

/* ctl_agents.c */
int	ctl_agents(struct ctl *, int, char **);

/* ctl_schedule.c */
int	ctl_schedule_list(struct ctl *, int, char **);
int	ctl_schedule_cancel(struct ctl *, int, char **);

/* ctl_cap.c: CAP 1.2 (cap) */
struct cap_doc;
int	ctl_cap_export(struct ctl *, int, char **);
/*
 * Read the CAP document at path ("-": stdin) into *d: CTL_OK, or
 * CTL_USAGE after printing "FILE: NAME (CODE): why".
 */
int	ctl_cap_load(const char *path, int verbose, struct cap_doc *d);
/* CTL_OK if d's sender is our own CN; else CTL_USAGE (or FAIL) after why. */
int	ctl_cap_own(struct ctl *, const char *path, const struct cap_doc *d);
/* ctl_clue.c: clues reported upward */
int	ctl_clue(struct ctl *, int, char **);
int	ctl_clues(struct ctl *, int, char **);
int	ctl_clue_mark(struct ctl *, int, char **);

/* ctl_report.c */
int	ctl_report(struct ctl *, int, char **);

/* ctl_audit.c (its reusable API: ctl_audit.h) */
int	ctl_audit_verify_cmd(struct ctl *, int, char **);

/*
 * ctl_tty.c: terminal output.  Widths are display columns, right for
 * CJK (two columns) and combining marks (none).
 */
size_t	ctl_width(const char *s, size_t len);
/* Print s (len bytes of UTF-8) padded with spaces to width columns. */
void	ctl_pad(FILE *, const char *s, size_t len, size_t width);
/* Like ctl_pad, right-aligned. */
void	ctl_rpad(FILE *, const char *s, size_t len, size_t width);
/* 1 if f is a terminal and colours are not turned off (NO_COLOR). */
int	ctl_tty_colour(FILE *f);

/* ctl_tree.c */
int	ctl_tree_import(struct ctl *, int, char **);
int	ctl_tree_export(struct ctl *, int, char **);
int	ctl_redis_rearm(struct ctl *, int, char **);
int	ctl_tree_principals(struct ctl *, int, char **);

#endif
