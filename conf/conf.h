/* SPDX-License-Identifier: ISC */
/*
 * conf: strict YAML configuration.  The only module that includes
 * <yaml.h>.  Each loader parses a file into a plain struct with defaults
 * filled in and every value checked; any problem is reported as
 * "file:line: key: reason" and nothing is returned.  A reload parses a new
 * struct and swaps it in, so a bad file never replaces a good one.
 */
#ifndef WUZHA_CONF_H
#define WUZHA_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONF_ERR_MAX		512
#define CONF_ID_MAX		64
#define CONF_POLICE_LEVELS	3	/* police units over police units, at most */
#define CONF_FILE_MAX		(8 * 1024 * 1024)	/* largest YAML file read */
#define CONF_DEPTH_MAX		16	/* YAML nesting refused beyond this */
/*
 * A tree file is streamed, not parsed whole: a province (16 cities of
 * ~156,600 nodes and ~150,600 principals) is ~450 MB of YAML.
 */
#define CONF_TREE_FILE_MAX	((size_t)2 * 1024 * 1024 * 1024)
#define CONF_NODES_MAX		4000000
#define CONF_PRINCIPALS_MAX	4000000

/* --- wuzhad.yaml ------------------------------------------------------- */

struct conf_wuzhad {
	char		*listen;		/* "127.0.0.1:7443", "[::1]:7443" */
	char		*name;			/* this daemon among those sharing the
						 * Redis; NULL: host name and pid;
						 * also in logs and /metrics */
	int		 listen_reuse_port;	/* SO_REUSEPORT: several wuzhad
						 * share the port (one per core);
						 * default 0 */
	struct {
		char	*ca;			/* CA certificate (PEM) */
		char	*cert;			/* daemon certificate (PEM) */
		char	*key;			/* daemon key (PEM) */
		char	*crl;			/* optional CRL (PEM) */
		char	*ticket_key;		/* optional: 80 bytes keying session
						 * tickets, so resumption outlives
						 * a restart; else per process */
	} tls;
	struct {
		char	*socket;		/* unix socket, or NULL */
		char	*host;			/* else host (default 127.0.0.1) */
		uint16_t port;			/* and port (default 6379) */
		char	*prefix;		/* key prefix, default "wuzha:" */
		uint32_t connect_timeout_ms;	/* default 2000 */
		uint32_t command_timeout_ms;	/* default 5000 */
		uint32_t reconnect_min_ms;	/* default 100 */
		uint32_t reconnect_max_ms;	/* default 10000 */
		char	**sentinels;		/* "host:port" each, or NULL: then
						 * host/port or socket is the
						 * primary itself */
		size_t	 nsentinels;
		char	*master_name;		/* asked of them, default "wuzha" */
		uint32_t wait_replicas;		/* WAIT for so many, default 0: none */
		uint32_t wait_timeout_ms;	/* WAIT's timeout, default 1000 */
	} redis;
	struct {
		uint32_t max_frame;		/* bytes, default 65536 */
		uint32_t max_connections;	/* default 19000 */
		uint32_t max_text;		/* alert text bytes, default 16384 */
		uint64_t max_output;		/* queued bytes per conn, default 4 MiB */
		uint32_t ack_batch;		/* acks per Redis call, default 64 */
		uint32_t max_per_address;	/* connections from one address, default 1000 */
		uint32_t publish_rate;		/* PUBLISH per principal per minute, default 60 */
		uint32_t publish_burst;		/* and in a burst, default 20 */
		uint32_t report_alerts;		/* alerts one report may cover, default 10000 */
		uint32_t status_rows;		/* nodes one STATUS may read, default 20000 */
	} limits;
	struct {
		uint32_t handshake_ms;		/* TLS + HELLO, default 10000 */
		uint32_t heartbeat_s;		/* PING interval, default 30 */
		uint32_t idle_s;		/* silent peer closed, default 90 */
		uint32_t skew_s;		/* issued_at window, default 300 */
		uint32_t tree_refresh_ms;	/* tree-gen poll, default 2000 */
		uint32_t frame_ms;		/* a started frame must end within, default 30000 */
		uint32_t feed_ms;		/* look for other daemons' work, default 25 */
	} timeouts;
	struct {
		uint32_t remind_after_ms;	/* not read yet: push again, default 30m */
		uint32_t escalate_after_ms;	/* not read yet: tell observers, default 2h */
		uint32_t max_reminders;		/* per alert, default 3 (0 = none) */
	} delivery;				/* defaults; an issuer may set its own */
	struct {
		uint32_t rate;			/* clues per principal per hour,
						 * default 20, 1..10000 */
		uint32_t keep_days;		/* kept after the last one, 1..36500;
						 * default 0: for ever (evidence) */
	} clues;
	struct {
		char	*listen;		/* /metrics and /healthz over HTTP:
						 * "host:port" (port 0: any), or
						 * "off"; default "127.0.0.1:9471" */
	} metrics;
	struct {
		char	*file;			/* mirror of the log, or NULL: none */
		uint32_t checkpoint_every;	/* entries, default 1000 */
		uint32_t checkpoint_interval_ms; /* default 60 s */
		uint32_t slice;			/* entries read per loop turn, default 2000 */
		uint32_t page_max;		/* entries one AUDIT_REQ may return, default 1000 */
	} audit;
	char		*log_level;		/* "debug" | "info" | "warning"; default "info" */
	int		 receipts_required;	/* receipts: required (1, default) |
						 * optional (0: unsigned acks taken) */
};

struct conf_wuzhad *conf_wuzhad_load(const char *path, char *err, size_t errlen);
struct conf_wuzhad *conf_wuzhad_parse(const char *name, const void *buf,
		    size_t len, char *err, size_t errlen);
void		    conf_wuzhad_free(struct conf_wuzhad *);
/*
 * What the command line sets over the file (wuzhad --name, --metrics-listen;
 * NULL: the file's value stays), checked as the file's values are.  0, or
 * -1 with the reason in err and c unchanged.
 */
int		    conf_wuzhad_override(struct conf_wuzhad *c, const char *name,
		    const char *metrics_listen, char *err, size_t errlen);

/* --- agent.yaml (also read by wuzhactl) -------------------------------- */

#define CONF_SERVERS_MAX	16	/* daemons an agent may list */

struct conf_agent {
	char		*server;		/* "127.0.0.1:7443", required: servers[0] */
	char		**servers;		/* server: one, or a list tried in turn */
	size_t		 nservers;		/* at least 1, at most CONF_SERVERS_MAX */
	char		*server_name;		/* name the daemon's cert must carry, required */
	struct {
		char	*ca;			/* required */
		char	*cert;			/* required */
		char	*key;			/* required */
		char	*crl;			/* optional: issuer certs it revokes
						 * are refused in alerts */
	} tls;
	char		*state_file;		/* optional (agent: required to dedupe across restarts) */
	char		*hook;			/* optional command run per alert */
	uint32_t	 hook_timeout_ms;	/* default 30000 */
	uint32_t	 hook_retry_min_ms;	/* backoff after a failed hook:
						 * default 5000, 10 ms to 1 h */
	uint32_t	 hook_retry_max_ms;	/* default 300000, up to 1 day */
	uint32_t	 reconnect_min_ms;	/* default 500 */
	uint32_t	 reconnect_max_ms;	/* default 60000 */
	uint32_t	 heartbeat_s;		/* default 30 */
	uint32_t	 max_frame;		/* default 65536 */
	/* The advisor's page (inbox:); no listen, no page. */
	char		*inbox_listen;		/* loopback "host:port" */
	char		*inbox_dir;		/* alerts kept across restarts */
	char		*inbox_url_file;	/* the page's URL, written at start */
	uint32_t	 inbox_keep_s;		/* default 30 days past expiry */
	uint32_t	 inbox_max;		/* default 1000 alerts */
};

struct conf_agent *conf_agent_load(const char *path, char *err, size_t errlen);
struct conf_agent *conf_agent_parse(const char *name, const void *buf,
		   size_t len, char *err, size_t errlen);
void		   conf_agent_free(struct conf_agent *);

/* --- tree.yaml --------------------------------------------------------- */

enum conf_tier {
	CONF_TIER_POLICE	= 0,
	CONF_TIER_SCHOOL	= 1,
	CONF_TIER_DEPARTMENT	= 2,
	CONF_TIER_CLASS		= 3,
};

#define CONF_R_RECEIVE	0x01
#define CONF_R_ISSUE	0x02
#define CONF_R_OBSERVE	0x04

struct conf_node {
	char		id[CONF_ID_MAX + 1];	/* [a-z0-9-]{1,64} */
	char		*name;			/* UTF-8 display name */
	enum conf_tier	tier;
	char		parent[CONF_ID_MAX + 1];/* "" for a police root */
	int		line;
};

struct conf_principal {
	char		cn[CONF_ID_MAX + 1];	/* [A-Za-z0-9._-]{1,64} */
	char		node[CONF_ID_MAX + 1];
	unsigned	rights;			/* CONF_R_* */
	int		line;
};

/* Nodes come out parents-first (a valid topological order). */
struct conf_tree {
	struct conf_node	*nodes;
	size_t			 nnodes;
	struct conf_principal	*principals;
	size_t			 nprincipals;
};

struct conf_tree *conf_tree_load(const char *path, char *err, size_t errlen);
/* Same from memory; name is used in messages in place of a file name. */
struct conf_tree *conf_tree_parse(const char *name, const void *buf, size_t len,
		     char *err, size_t errlen);
void		  conf_tree_free(struct conf_tree *);
/*
 * Add a CSV class list (see conf/csv.c) to t: its schools, departments
 * and classes, under police (when the file has no police column) or the
 * unit each row names, and a receiving principal per advisor given.
 * 0, or -1 with "file:line: why" in err.
 */
int		  conf_tree_add_csv(struct conf_tree *t, const char *path,
		     const char *police, char *err, size_t errlen);
/* The same from memory; name stands for the file in messages. */
int		  conf_tree_add_csv_buf(struct conf_tree *t, const char *name,
		     const void *buf, size_t len, const char *police,
		     char *err, size_t errlen);

/* Write a tree as YAML that conf_tree_parse reads back identically. */
int		  conf_tree_write(const struct conf_tree *, FILE *);

const char	*conf_tier_name(enum conf_tier);	/* "police", ... */

/* Parse "250ms", "30s", "5m", "2h" into ms; -1 on error. */
int64_t		 conf_parse_duration_ms(const char *);
/* Parse "65536", "64KiB", "4MiB", "1GiB" into bytes; -1 on error. */
int64_t		 conf_parse_size(const char *);

/* --- alert templates (conf/templates/NAME.yaml) ----------------------- */

/* The alert's own limits (proto.h), which conf/ does not include. */
#define CONF_TEMPLATE_HEADLINE_MAX	512
#define CONF_TEMPLATE_TEXT_MAX		16384
#define CONF_TEMPLATE_INSTRUCTION_MAX	4096
#define CONF_TEMPLATE_KEY_MAX		32	/* placeholder name, bytes */
#define CONF_TEMPLATE_PH_MAX		32	/* placeholders a template has */

struct conf_template_ph {
	char		*key;		/* [a-z][a-z0-9_]* */
	char		*description;	/* one line, for people */
	int		 line;
	int		 used;		/* while loading */
};

struct conf_template {
	char			*name;		/* file name less ".yaml" */
	char			*title;
	char			*category;	/* warning|knowledge|case-followup */
	char			*severity;	/* extreme|severe|... */
	int			 relay_required;
	char			*expires;	/* duration as written, or NULL */
	char			*headline;	/* with {placeholders} */
	char			*text;
	char			*instruction;	/* NULL if none */
	struct conf_template_ph	*placeholders;
	size_t			 nplaceholders;
};

/* A template's texts with every placeholder filled in. */
struct conf_template_filled {
	char		*headline;
	char		*text;
	char		*instruction;	/* NULL if the template has none */
};

struct conf_template *conf_template_load(const char *path, char *err,
		     size_t errlen);
/* Same from memory; name stands for the file (and gives the name). */
struct conf_template *conf_template_parse(const char *name, const void *buf,
		     size_t len, char *err, size_t errlen);
void		  conf_template_free(struct conf_template *);
/*
 * Fill in t from "key=value" strings: each placeholder exactly once, no
 * other key; the results must fit an alert.  -1 with the reason in err
 * (which names every placeholder missing).  Free out with
 * conf_template_filled_free.
 */
int		  conf_template_fill(const struct conf_template *t,
		     const char *const *sets, size_t nsets,
		     struct conf_template_filled *out, char *err, size_t errlen);
void		  conf_template_filled_free(struct conf_template_filled *);

#endif
