/* SPDX-License-Identifier: ISC */
/*
 * ctl_audit: load the audit log (from the daemon over AUDIT_REQ, or from
 * a mirror file) and verify it.  A small API so that other verbs (the
 * report backed by the log) can load a log, verify it and walk the
 * entries that verified.
 */
#ifndef WUZHA_CTL_AUDIT_H
#define WUZHA_CTL_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "proto.h"

struct ctl;

struct ctl_audit_rec {
	uint8_t		*p;
	size_t		 len;
};

/* A copy of the log: its entries and checkpoints, in order. */
struct ctl_audit_log {
	struct ctl_audit_rec	*e;
	size_t			 n, ecap;
	struct ctl_audit_rec	*c;
	size_t			 ncp, ccap;
	const char		*source;	/* "daemon" or the file's path */
};

/* One thing wrong, by the first entry index it concerns. */
struct ctl_audit_problem {
	uint64_t	 index;		/* entry index (or, for cut, the first missing) */
	int		 kind;		/* enum audit_kind, 0 if none */
	const char	*what;		/* "entry", "checkpoint", "cut", "fork", "range" */
	char		 why[480];
};

#define CTL_AUDIT_PROBLEMS	16	/* kept; more are counted */

struct ctl_audit_result {
	uint64_t		 entries;
	uint64_t		 checkpoints;
	uint64_t		 verified;	/* entries covered by a good checkpoint */
	size_t			 nproblems;	/* found (may exceed those kept) */
	struct ctl_audit_problem problem[CTL_AUDIT_PROBLEMS];
	int			 first;		/* index into problem[] of the first bad, -1 */
	int			 compared;	/* a second copy was compared */
	uint64_t		 other_entries;	/* and what it held */
	uint64_t		 other_checkpoints;
};

void	ctl_audit_log_free(struct ctl_audit_log *);
/* Fetch the daemon's copy (paged AUDIT_REQ); CTL_OK or the failure code. */
int	ctl_audit_fetch(struct ctl *, struct ctl_audit_log *);
/* Read a mirror file (see daemon/auditlog.c); 0, or -1 and why. */
int	ctl_audit_read_file(const char *path, struct ctl_audit_log *,
	    char *why, size_t whylen);
/*
 * Verify log (checkpoint signatures against ca, sizes, roots, each
 * entry's own signature) and, when other is not NULL, compare the two
 * copies.  0 if all is well, 1 if not (see res).
 */
int	ctl_audit_verify(const struct ctl_audit_log *log,
	    const struct ctl_audit_log *other, X509_STORE *ca,
	    struct ctl_audit_result *res);
/*
 * fn on each entry of the first upto (res->verified, say) that decodes,
 * in order; stops early if fn returns non-zero, and returns that.
 */
int	ctl_audit_foreach(const struct ctl_audit_log *, uint64_t upto,
	    int (*fn)(uint64_t index, const struct audit_entry *, void *),
	    void *arg);

/*
 * report --verified (ctl_report_audit.c): the acknowledgement columns of
 * report rows counted again from a verified log.  Receipts logged after
 * upto (ms) are left out.  0, or -1 when out of memory.
 */
struct proto_report_row;
struct ctl_audit_row {
	uint32_t	delivered, shown, read, relayed;
	uint32_t	drill_delivered, drill_shown, drill_read, drill_relayed;
	int		ok;		/* all eight equal the report's */
};
struct ctl_audit_tally {
	uint64_t	alerts;		/* alerts and updates in the range */
	uint64_t	receipts;	/* of them, counted */
	uint64_t	principals;	/* (alert, principal) pairs counted */
	uint64_t	late;		/* logged after upto, left out */
	uint64_t	orphans;	/* of no logged alert or certificate */
	uint64_t	mismatched;	/* rows that disagree */
};
int	ctl_audit_report(const struct ctl_audit_log *, uint64_t upto,
	    uint64_t from, uint64_t to,
	    const struct proto_report_row *const *rows, size_t nrows,
	    struct ctl_audit_row *out, struct ctl_audit_tally *t);

#endif
