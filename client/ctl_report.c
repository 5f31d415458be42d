/* SPDX-License-Identifier: ISC */
/*
 * ctl_report: the supervision report (督导检查).  For a node and a time
 * range it asks wuzhad for one row per node of the subtree: the alerts
 * that reached the node, the shares of the agents they addressed that
 * acknowledged them (and did so before each alert's deadline), the
 * median time to read, and the drills apart.  Three forms: an aligned
 * table for people, CSV for a spreadsheet, JSON for scripts.
 *
 * Dates are local time.  --from DATE starts at DATE; --to DATE ends
 * before it, except that a bare date for --to means the end of that day
 * (midnight of the next), so --from 2026-11-01 --to 2026-11-30 covers
 * all of November.  "-DURATION" means that long ago (--from -7d).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "conf.h"
#include "proto.h"
#include "client.h"
#include "ctl.h"
#include "ctl_audit.h"

enum ctl_report_form {
	CTL_REPORT_TABLE,
	CTL_REPORT_CSV,
	CTL_REPORT_JSON,
};

#define CTL_REPORT_NAME_W	12	/* least width of the NAME column */

/* What report --verified found, per row and in all (NULL: not asked). */
struct ctl_report_ver {
	struct ctl_audit_row	*row;		/* one per line */
	struct ctl_audit_tally	 t;
	uint64_t		 entries, checkpoints;
};

/* A decoded row and its depth below the first row. */
struct ctl_report_line {
	struct proto_report_row	 r;
	int			 depth;
};

/* Share of n in total, "87.5", or "" when nothing was addressed. */
static const char *
ctl_report_pct(uint32_t n, uint32_t total, const char *suffix, char *buf,
    size_t len)
{
	if (total == 0)
		snprintf(buf, len, "%s", *suffix ? "-" : "");
	else
		snprintf(buf, len, "%.1f%s", 100.0 * n / total, suffix);
	return buf;
}

/* A time span for people: 850ms, 1.2s, 42s, 3m12s, 2h05m, 1d03h. */
static const char *
ctl_report_span(uint64_t ms, char *buf, size_t len)
{
	uint64_t	s = ms / 1000;

	if (ms < 1000)
		snprintf(buf, len, "%llums", (unsigned long long)ms);
	else if (s < 10)
		snprintf(buf, len, "%llu.%llus", (unsigned long long)s,
		    (unsigned long long)(ms % 1000) / 100);
	else if (s < 60)
		snprintf(buf, len, "%llus", (unsigned long long)s);
	else if (s < 3600)
		snprintf(buf, len, "%llum%02llus", (unsigned long long)s / 60,
		    (unsigned long long)s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lluh%02llum", (unsigned long long)s / 3600,
		    (unsigned long long)(s % 3600) / 60);
	else
		snprintf(buf, len, "%llud%02lluh", (unsigned long long)s / 86400,
		    (unsigned long long)(s % 86400) / 3600);
	return buf;
}

static const char *
ctl_report_tier(int tier)
{
	if (tier < CONF_TIER_POLICE || tier > CONF_TIER_CLASS)
		return "?";
	return conf_tier_name((enum conf_tier)tier);
}

/*
 * A date of the command line: what ctl_parse_time takes, "-DURATION"
 * for that long ago, and for the end of a range (to) a bare date is the
 * midnight that ends it.  -1 if it is none of those.
 */
static int
ctl_report_time(const char *s, int to, uint64_t now, uint64_t *out)
{
	struct tm	tm;
	int64_t		ms;
	time_t		t;
	int		y, mo, d, n = 0;

	if (s[0] == '-') {
		if ((ms = conf_parse_duration_ms(s + 1)) <= 0 ||
		    (uint64_t)ms > now)
			return -1;
		*out = now - (uint64_t)ms;
		return 0;
	}
	if (ctl_parse_time(s, now, out) == -1)
		return -1;
	if (!to || sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 ||
	    n != 10 || s[n] != '\0')
		return 0;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d + 1;	/* mktime carries into the next month */
	tm.tm_isdst = -1;
	if ((t = mktime(&tm)) == (time_t)-1)
		return -1;
	*out = (uint64_t)t * 1000;
	return 0;
}

/*
 * Decode every row, with its depth from the parent links (a stack of the
 * ids from the first row down).  Returns the rows (caller frees) or NULL
 * after saying why.
 */
static struct ctl_report_line *
ctl_report_lines(const struct proto_view *list, size_t *np)
{
	struct ctl_report_line	*lines = NULL, *nl;
	proto_id		 stack[PROTO_PATH_MAX + 1];
	size_t			 cur = 0, n = 0, cap = 0, sp = 0;
	int			 rc;

	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			if ((nl = reallocarray(lines, cap,
			    sizeof(*lines))) == NULL) {
				fprintf(stderr, "wuzhactl: out of memory\n");
				free(lines);
				return NULL;
			}
			lines = nl;
		}
		if ((rc = proto_report_row_next(list, &cur, &lines[n].r)) != 1)
			break;
		while (sp > 0 && strcmp(stack[sp - 1], lines[n].r.parent) != 0)
			sp--;
		lines[n].depth = (int)sp;
		if (sp < sizeof(stack) / sizeof(stack[0]))
			memcpy(stack[sp++], lines[n].r.node, sizeof(stack[0]));
		n++;
	}
	if (rc != 0) {
		fprintf(stderr, "wuzhactl: malformed REPORT row list: %s\n",
		    proto_err_name(-rc));
		free(lines);
		return NULL;
	}
	*np = n;
	return lines;
}

/* The table: names indented by depth, shares and the median. */
static void
ctl_report_table(const struct proto_report *rep,
    const struct ctl_report_line *l, size_t n,
    const struct ctl_report_ver *ver)
{
	char	 t1[32], t2[32], p[6][16], m[24];
	size_t	 i, w = CTL_REPORT_NAME_W, iw;

	for (i = 0; i < n; i++) {
		iw = 2 * l[i].depth + ctl_width((const char *)l[i].r.name.p,
		    l[i].r.name.len);
		if (iw > w)
			w = iw;
	}
	printf("report on %s from %s to %s: %u alert%s, %u drill%s\n",
	    rep->node,
	    clock_str(rep->from, "%Y-%m-%d %H:%M %Z", CLOCK_LOCAL, t1,
	    sizeof(t1)),
	    clock_str(rep->to, "%Y-%m-%d %H:%M %Z", CLOCK_LOCAL, t2,
	    sizeof(t2)),
	    rep->alerts, rep->alerts == 1 ? "" : "s",
	    rep->drills, rep->drills == 1 ? "" : "s");
	ctl_pad(stdout, "NAME", 4, w);
	printf(" %6s %9s %7s %7s %7s %12s %14s %6s %10s  %s%s\n", "ALERTS",
	    "DELIVERED", "SHOWN", "READ", "RELAYED", "READ IN TIME",
	    "MEDIAN TO READ", "DRILLS", "DRILL READ", "NODE",
	    ver != NULL ? "  LOG" : "");
	for (i = 0; i < n; i++) {
		const struct proto_report_row *r = &l[i].r;

		printf("%*s", 2 * l[i].depth, "");
		ctl_pad(stdout, (const char *)r->name.p, r->name.len,
		    w - 2 * l[i].depth);
		if (r->median_read_ms > 0)
			ctl_report_span(r->median_read_ms, m, sizeof(m));
		else
			snprintf(m, sizeof(m), "-");
		printf(" %6u %9s %7s %7s %7s %12s %14s %6u %10s  %s",
		    r->alerts,
		    ctl_report_pct(r->delivered, r->targeted, "%", p[0], 16),
		    ctl_report_pct(r->shown, r->targeted, "%", p[5], 16),
		    ctl_report_pct(r->read, r->targeted, "%", p[1], 16),
		    ctl_report_pct(r->relayed, r->targeted, "%", p[2], 16),
		    ctl_report_pct(r->read_in_time, r->targeted, "%", p[3], 16),
		    m, r->drill_alerts,
		    ctl_report_pct(r->drill_read, r->drill_targeted, "%", p[4],
		    16), r->node);
		if (ver != NULL)
			printf("  %s", ver->row[i].ok ? "ok" : "DIFFERS");
		putchar('\n');
	}
	if (ver == NULL)
		return;
	for (i = 0; i < n; i++) {
		const struct proto_report_row	*r = &l[i].r;
		const struct ctl_audit_row	*v = &ver->row[i];

		if (v->ok)
			continue;
		printf("%s: the report says delivered %u, shown %u, read %u, "
		    "relayed %u (drills %u, %u, %u, %u); the audit log %u, "
		    "%u, %u, %u (drills %u, %u, %u, %u)\n", r->node,
		    r->delivered, r->shown, r->read, r->relayed,
		    r->drill_delivered, r->drill_shown, r->drill_read,
		    r->drill_relayed, v->delivered, v->shown, v->read,
		    v->relayed, v->drill_delivered, v->drill_shown,
		    v->drill_read, v->drill_relayed);
	}
	printf("checked against the audit log (%llu entries, %llu "
	    "checkpoints, every signature good): %llu alert%s, %llu "
	    "receipt%s; %s\n", (unsigned long long)ver->entries,
	    (unsigned long long)ver->checkpoints,
	    (unsigned long long)ver->t.alerts, ver->t.alerts == 1 ? "" : "s",
	    (unsigned long long)ver->t.receipts,
	    ver->t.receipts == 1 ? "" : "s", ver->t.mismatched == 0 ?
	    "every row agrees" : "some rows DIFFER");
}

/* A CSV field quoted after RFC 4180: quotes doubled. */
static void
ctl_report_csv_str(const char *s, size_t len)
{
	size_t	i;

	putchar('"');
	for (i = 0; i < len; i++) {
		if (s[i] == '"')
			putchar('"');
		putchar(s[i]);
	}
	putchar('"');
}

/*
 * CSV: a header, then a line per row, CRLF, UTF-8 without a BOM.  The
 * shown columns came later and go last, so that a sheet that takes the
 * columns by position keeps working.
 */
static void
ctl_report_csv(const struct ctl_report_line *l, size_t n,
    const struct ctl_report_ver *ver)
{
	char	p[9][16];
	size_t	i;

	printf("node,parent,depth,tier,name,alerts,targeted,delivered,read,"
	    "relayed,delivered_in_time,read_in_time,relayed_in_time,"
	    "delivered_pct,read_pct,relayed_pct,delivered_in_time_pct,"
	    "read_in_time_pct,relayed_in_time_pct,median_read_ms,"
	    "drill_alerts,drill_targeted,drill_delivered,drill_read,"
	    "drill_relayed,drill_read_pct,shown,shown_in_time,shown_pct,"
	    "shown_in_time_pct,drill_shown%s\r\n", ver != NULL ?
	    ",log_ok,log_delivered,log_shown,log_read,log_relayed" : "");
	for (i = 0; i < n; i++) {
		const struct proto_report_row *r = &l[i].r;

		printf("%s,%s,%d,%s,", r->node, r->parent, l[i].depth,
		    ctl_report_tier(r->tier));
		ctl_report_csv_str((const char *)r->name.p, r->name.len);
		printf(",%u,%u,%u,%u,%u,%u,%u,%u,", r->alerts, r->targeted,
		    r->delivered, r->read, r->relayed, r->delivered_in_time,
		    r->read_in_time, r->relayed_in_time);
		printf("%s,%s,%s,%s,%s,%s,",
		    ctl_report_pct(r->delivered, r->targeted, "", p[0], 16),
		    ctl_report_pct(r->read, r->targeted, "", p[1], 16),
		    ctl_report_pct(r->relayed, r->targeted, "", p[2], 16),
		    ctl_report_pct(r->delivered_in_time, r->targeted, "", p[3],
		    16),
		    ctl_report_pct(r->read_in_time, r->targeted, "", p[4], 16),
		    ctl_report_pct(r->relayed_in_time, r->targeted, "", p[5],
		    16));
		if (r->median_read_ms > 0)
			printf("%llu", (unsigned long long)r->median_read_ms);
		printf(",%u,%u,%u,%u,%u,%s,", r->drill_alerts,
		    r->drill_targeted, r->drill_delivered, r->drill_read,
		    r->drill_relayed, ctl_report_pct(r->drill_read,
		    r->drill_targeted, "", p[6], 16));
		printf("%u,%u,%s,%s,%u", r->shown, r->shown_in_time,
		    ctl_report_pct(r->shown, r->targeted, "", p[7], 16),
		    ctl_report_pct(r->shown_in_time, r->targeted, "", p[8],
		    16), r->drill_shown);
		if (ver != NULL)
			printf(",%d,%u,%u,%u,%u", ver->row[i].ok,
			    ver->row[i].delivered, ver->row[i].shown,
			    ver->row[i].read, ver->row[i].relayed);
		printf("\r\n");
	}
}

/* JSON: one object on one line, raw counts only. */
static void
ctl_report_json(const struct proto_report *rep,
    const struct ctl_report_line *l, size_t n,
    const struct ctl_report_ver *ver)
{
	size_t	i;

	printf("{\"node\":");
	ctl_json_str(stdout, rep->node, strlen(rep->node));
	printf(",\"from\":%llu,\"to\":%llu,\"alerts\":%u,\"drills\":%u,"
	    "\"rows\":[", (unsigned long long)rep->from,
	    (unsigned long long)rep->to, rep->alerts, rep->drills);
	for (i = 0; i < n; i++) {
		const struct proto_report_row *r = &l[i].r;

		printf("%s{\"node\":", i ? "," : "");
		ctl_json_str(stdout, r->node, strlen(r->node));
		printf(",\"parent\":");
		ctl_json_str(stdout, r->parent, strlen(r->parent));
		printf(",\"depth\":%d,\"tier\":\"%s\",\"name\":", l[i].depth,
		    ctl_report_tier(r->tier));
		ctl_json_str(stdout, (const char *)r->name.p, r->name.len);
		printf(",\"alerts\":%u,\"targeted\":%u,\"delivered\":%u,"
		    "\"shown\":%u,\"read\":%u,\"relayed\":%u,"
		    "\"delivered_in_time\":%u,\"shown_in_time\":%u,"
		    "\"read_in_time\":%u,\"relayed_in_time\":%u,"
		    "\"median_read_ms\":", r->alerts, r->targeted,
		    r->delivered, r->shown, r->read, r->relayed,
		    r->delivered_in_time, r->shown_in_time, r->read_in_time,
		    r->relayed_in_time);
		if (r->median_read_ms > 0)
			printf("%llu", (unsigned long long)r->median_read_ms);
		else
			printf("null");
		printf(",\"drill_alerts\":%u,\"drill_targeted\":%u,"
		    "\"drill_delivered\":%u,\"drill_shown\":%u,"
		    "\"drill_read\":%u,\"drill_relayed\":%u",
		    r->drill_alerts, r->drill_targeted, r->drill_delivered,
		    r->drill_shown, r->drill_read, r->drill_relayed);
		if (ver != NULL) {
			const struct ctl_audit_row *v = &ver->row[i];

			printf(",\"log\":{\"ok\":%s,\"delivered\":%u,"
			    "\"shown\":%u,\"read\":%u,\"relayed\":%u,"
			    "\"drill_delivered\":%u,\"drill_shown\":%u,"
			    "\"drill_read\":%u,\"drill_relayed\":%u}",
			    v->ok ? "true" : "false", v->delivered, v->shown,
			    v->read, v->relayed, v->drill_delivered,
			    v->drill_shown, v->drill_read, v->drill_relayed);
		}
		printf("}");
	}
	printf("]");
	if (ver != NULL)
		printf(",\"audit\":{\"ok\":%s,\"entries\":%llu,"
		    "\"checkpoints\":%llu,\"alerts\":%llu,\"receipts\":%llu,"
		    "\"principals\":%llu,\"late\":%llu,\"orphans\":%llu,"
		    "\"mismatched\":%llu}", ver->t.mismatched == 0 ? "true" :
		    "false", (unsigned long long)ver->entries,
		    (unsigned long long)ver->checkpoints,
		    (unsigned long long)ver->t.alerts,
		    (unsigned long long)ver->t.receipts,
		    (unsigned long long)ver->t.principals,
		    (unsigned long long)ver->t.late,
		    (unsigned long long)ver->t.orphans,
		    (unsigned long long)ver->t.mismatched);
	if (rep->omitted > 0)
		printf(",\"omitted\":%u", rep->omitted);
	if (rep->depth == PROTO_DEPTH_ALL)
		printf(",\"depth\":\"all\"");
	else if (rep->depth != 0)
		printf(",\"depth\":%u", rep->depth);
	printf("}\n");
}

/* What the REPORT callback is to do: print it, or keep it for later. */
struct ctl_report_arg {
	int		 form;
	int		 keep;		/* --verified: copy it, print later */
	uint8_t		*copy;
	size_t		 len;
	uint64_t	 at;		/* when it came (ms) */
};

/* Print a decoded REPORT in its form, checked (ver) or not (NULL). */
static int
ctl_report_show(const uint8_t *p, size_t len, int form,
    const struct ctl_audit_log *log, const struct ctl_report_arg *a,
    int *differs)
{
	struct proto_report	 rep;
	struct ctl_report_line	*lines;
	struct ctl_report_ver	 ver, *vp = NULL;
	const struct proto_report_row **rows = NULL;
	size_t			 n, i;
	int			 rc;

	if ((rc = proto_report_decode(p, len, &rep)) != 0) {
		fprintf(stderr, "wuzhactl: malformed REPORT: %s\n",
		    proto_err_name(-rc));
		return CTL_FAIL;
	}
	if ((lines = ctl_report_lines(&rep.rows, &n)) == NULL)
		return CTL_FAIL;
	memset(&ver, 0, sizeof(ver));
	if (log != NULL) {
		if ((rows = calloc(n + 1, sizeof(*rows))) == NULL ||
		    (ver.row = calloc(n + 1, sizeof(*ver.row))) == NULL) {
			fprintf(stderr, "wuzhactl: out of memory\n");
			free(rows);
			free(lines);
			return CTL_FAIL;
		}
		for (i = 0; i < n; i++)
			rows[i] = &lines[i].r;
		if (ctl_audit_report(log, a->at, rep.from, rep.to, rows, n,
		    ver.row, &ver.t) == -1) {
			fprintf(stderr, "wuzhactl: report: out of memory "
			    "counting the audit log\n");
			free(rows);
			free(ver.row);
			free(lines);
			return CTL_FAIL;
		}
		ver.entries = log->n;
		ver.checkpoints = log->ncp;
		*differs = ver.t.mismatched > 0;
		vp = &ver;
	}
	switch (form) {
	case CTL_REPORT_TABLE:
		ctl_report_table(&rep, lines, n, vp);
		break;
	case CTL_REPORT_CSV:
		ctl_report_csv(lines, n, vp);
		break;
	case CTL_REPORT_JSON:
		ctl_report_json(&rep, lines, n, vp);
		break;
	}
	free(rows);
	free(ver.row);
	free(lines);
	if (form == CTL_REPORT_TABLE && rep.depth != 0 &&
	    rep.depth != PROTO_DEPTH_ALL)
		printf("%u level%s down; --depth N or --node NODE to go "
		    "further\n", rep.depth, rep.depth == 1 ? "" : "s");
	if (rep.omitted > 0)
		fprintf(stderr, "wuzhactl: %u more row%s not listed (too many "
		    "for one answer): ask about a node below %s\n", rep.omitted,
		    rep.omitted == 1 ? "" : "s", rep.node);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "wuzhactl: report: cannot write the output\n");
		return CTL_FAIL;
	}
	return CTL_OK;
}

static int
ctl_report_cb(struct ctl *ctl, const uint8_t *p, size_t len, void *arg)
{
	struct ctl_report_arg	*a = arg;
	int			 differs = 0;

	(void)ctl;
	if (!a->keep)
		return ctl_report_show(p, len, a->form, NULL, a, &differs);
	a->at = now_ms();
	if ((a->copy = malloc(len > 0 ? len : 1)) == NULL) {
		fprintf(stderr, "wuzhactl: out of memory\n");
		return CTL_FAIL;
	}
	memcpy(a->copy, p, len);
	a->len = len;
	return CTL_OK;
}

/*
 * report --verified: the report as asked, then the audit log (the
 * daemon's copy, or a mirror file), verified; the report's ack columns
 * are counted again from the log's receipts and each row says whether
 * they agree.  CTL_OK only if the log is good and every row agrees.
 */
static int
ctl_report_verified(struct ctl *ctl, struct ctl_report_arg *a,
    const char *file)
{
	struct ctl_audit_log	 log;
	struct ctl_audit_result	 res;
	X509_STORE		*ca;
	char			 why[512];
	int			 rc, differs = 0;

	if ((ca = client_store_load(ctl_conf(ctl)->tls.ca, NULL, why,
	    sizeof(why))) == NULL) {
		fprintf(stderr, "wuzhactl: %s\n", why);
		return CTL_USAGE;
	}
	memset(&log, 0, sizeof(log));
	if (file != NULL) {
		if (ctl_audit_read_file(file, &log, why, sizeof(why)) == -1) {
			fprintf(stderr, "wuzhactl: %s\n", why);
			X509_STORE_free(ca);
			return CTL_USAGE;
		}
	} else if ((rc = ctl_audit_fetch(ctl, &log)) != CTL_OK) {
		fprintf(stderr, "wuzhactl: report --verified: the audit log "
		    "could not be read (only observers at the top police unit "
		    "may; --audit-file FILE takes a copy)\n");
		ctl_audit_log_free(&log);
		X509_STORE_free(ca);
		return rc;
	}
	rc = ctl_audit_verify(&log, NULL, ca, &res);
	X509_STORE_free(ca);
	if (rc != 0) {
		const struct ctl_audit_problem *pb = &res.problem[res.first];

		fprintf(stderr, "wuzhactl: report --verified: the audit log "
		    "is not sound, so the report cannot be backed by it: first "
		    "bad entry %llu%s%s%s: %s\n", (unsigned long long)pb->index,
		    pb->kind ? " (" : "", pb->kind ? audit_kind_name(pb->kind) :
		    "", pb->kind ? ")" : "", pb->why);
		ctl_audit_log_free(&log);
		return CTL_FAIL;
	}
	rc = ctl_report_show(a->copy, a->len, a->form, &log, a, &differs);
	ctl_audit_log_free(&log);
	if (rc == CTL_OK && differs) {
		fprintf(stderr, "wuzhactl: report --verified: some rows differ "
		    "from the audit log\n");
		rc = CTL_FAIL;
	}
	return rc;
}

/*
 * report [--node NODE] [--depth N|all] --from DATE --to DATE [--csv |
 * --json]: a REPORT_REQ for the range [from, to).
 */
int
ctl_report(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node",	required_argument, NULL, 'n' },
		{ "from",	required_argument, NULL, 'f' },
		{ "to",		required_argument, NULL, 't' },
		{ "depth",	required_argument, NULL, 'd' },
		{ "csv",	no_argument,	   NULL, 'c' },
		{ "json",	no_argument,	   NULL, 'j' },
		{ "verified",	no_argument,	   NULL, 'V' },
		{ "audit-file",	required_argument, NULL, 'A' },
		{ NULL,		0,		   NULL, 0 },
	};
	struct ctl_report_arg	 a;
	struct proto_report_req	 r;
	struct proto_buf	 req;
	const char		*node = NULL, *from = NULL, *to = NULL;
	const char		*afile = NULL;
	uint64_t		 now = now_ms();
	uint32_t		 depth = 0;
	int			 ch, form = CTL_REPORT_TABLE, forms = 0, rc;
	int			 verified = 0;

	opterr = 0;
	while ((ch = ctl_getopt(ctl, argc, argv, "", opts)) != -1) {
		switch (ch) {
		case 'n':
			node = optarg;
			break;
		case 'f':
			from = optarg;
			break;
		case 't':
			to = optarg;
			break;
		case 'd':
			if (strcmp(optarg, "all") == 0)
				depth = PROTO_DEPTH_ALL;
			else if (ctl_parse_u32(optarg, PROTO_DEPTH_ALL - 1,
			    &depth) == -1 || depth == 0) {
				fprintf(stderr, "wuzhactl: report: --depth %s: "
				    "expected 1 to %d levels, or all\n", optarg,
				    PROTO_DEPTH_ALL - 1);
				return CTL_USAGE;
			}
			break;
		case 'c':
			form = CTL_REPORT_CSV;
			forms++;
			break;
		case 'j':
			form = CTL_REPORT_JSON;
			forms++;
			break;
		case 'V':
			verified = 1;
			break;
		case 'A':
			afile = optarg;
			break;
		default:
			fprintf(stderr, "wuzhactl: report: bad option %s\n",
			    argv[optind - 1]);
			return ctl_usage(ctl);
		}
	}
	if (argc != optind || from == NULL || to == NULL || forms > 1 ||
	    (afile != NULL && !verified)) {
		if (forms > 1)
			fprintf(stderr, "wuzhactl: report: --csv or --json, "
			    "not both\n");
		if (afile != NULL && !verified)
			fprintf(stderr, "wuzhactl: report: --audit-file goes "
			    "with --verified\n");
		ctl_usage(ctl);
		fprintf(stderr, "DATE: 2026-11-01, 2026-11-01T08:00[:SS] with "
		    "an optional Z or +08:00, +DURATION or -DURATION from now; "
		    "local time; a bare date for --to ends that day.\n"
		    "--csv: a header line, then a line per node, CRLF, UTF-8 "
		    "without a BOM, names quoted (RFC 4180).\n");
		return CTL_USAGE;
	}
	memset(&r, 0, sizeof(r));
	r.depth = (uint8_t)depth;
	if (ctl_node_arg(node, r.node) == -1)
		return CTL_USAGE;
	if (ctl_report_time(from, 0, now, &r.from) == -1) {
		fprintf(stderr, "wuzhactl: --from %s: not a date or time\n",
		    from);
		return CTL_USAGE;
	}
	if (ctl_report_time(to, 1, now, &r.to) == -1) {
		fprintf(stderr, "wuzhactl: --to %s: not a date or time\n", to);
		return CTL_USAGE;
	}
	memset(&a, 0, sizeof(a));
	a.form = form;
	a.keep = verified;
	pbuf_init(&req);
	proto_report_req_encode(&req, &r);
	rc = ctl_request(ctl, &req, PROTO_T_REPORT, ctl_report_cb, &a);
	if (rc == CTL_OK && verified)
		rc = ctl_report_verified(ctl, &a, afile);
	free(a.copy);
	return rc;
}
