/* SPDX-License-Identifier: ISC */
/*
 * ctl_schedule: the alerts held until their time.  list shows what is
 * waiting below a node (a routine push before a holiday, say), by time;
 * cancel takes one off before it goes out.  A cancel is a signed alert
 * like any other, issued with our own key, so who cancelled is on record
 * as firmly as who issued; the server takes the held alert off the
 * schedule in the same step, and it never reaches anyone.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "proto.h"
#include "utf8.h"
#include "client.h"
#include "ctl.h"

#define CTL_CANCEL_PREFIX	"取消："	/* "cancelled: " */

struct ctl_sched {
	int		 json;
	const char	*find;		/* cancel: the id looked for */
	proto_id	 target;	/* found: its target */
	char		 headline[PROTO_HEADLINE_MAX + 1];
};

static const char *
ctl_sched_status(int st)
{
	const char	*s = proto_alert_status_name(st);

	return s != NULL ? s : "?";
}

/* SCHEDULE: a table (or JSON) of the held alerts; or find one for cancel. */
static int
ctl_schedule_cb(struct ctl *ctl, const uint8_t *p, size_t len, void *arg)
{
	struct ctl_sched		*sc = arg;
	struct proto_schedule		 s;
	struct proto_schedule_item	 it;
	char				 t1[40], t2[40];
	size_t				 cur = 0, n = 0;
	int				 rc;

	(void)ctl;
	if ((rc = proto_schedule_decode(p, len, &s)) != 0) {
		fprintf(stderr, "wuzhactl: malformed SCHEDULE: %s\n",
		    proto_err_name(-rc));
		return CTL_FAIL;
	}
	if (sc->json)
		printf("{\"server_time\":%llu,\"alerts\":[",
		    (unsigned long long)s.server_time);
	else if (sc->find == NULL)
		printf("%-28s %-23s %-20s %-12s %-9s %s\n", "ID", "TIME",
		    "TARGET", "ISSUER", "STATUS", "HEADLINE");
	while ((rc = proto_schedule_item_next(&s.alerts, &cur, &it)) == 1) {
		if (sc->find != NULL) {
			if (strcmp(it.id, sc->find) == 0) {
				memcpy(sc->target, it.target,
				    sizeof(sc->target));
				snprintf(sc->headline, sizeof(sc->headline),
				    "%.*s", (int)it.headline.len,
				    (const char *)it.headline.p);
				return CTL_OK;
			}
			continue;
		}
		if (sc->json) {
			printf("%s{\"id\":", n ? "," : "");
			ctl_json_str(stdout, it.id, strlen(it.id));
			printf(",\"issuer\":");
			ctl_json_str(stdout, it.issuer, strlen(it.issuer));
			printf(",\"target\":");
			ctl_json_str(stdout, it.target, strlen(it.target));
			printf(",\"type\":\"%s\",\"publish_at\":%llu,"
			    "\"publish\":\"%s\",\"expires_at\":%llu,"
			    "\"status\":\"%s\",\"headline\":",
			    proto_msg_type_name(it.msg_type),
			    (unsigned long long)it.publish_at,
			    client_time_iso(it.publish_at, t1, sizeof(t1)),
			    (unsigned long long)it.expires_at,
			    ctl_sched_status(it.status));
			ctl_json_str(stdout, (const char *)it.headline.p,
			    it.headline.len);
			printf("}");
		} else {
			printf("%-28s %-23s %-20s %-12s %-9s ", it.id,
			    client_time_str(it.publish_at, t2, sizeof(t2)),
			    it.target, it.issuer, ctl_sched_status(it.status));
			fwrite(it.headline.p, 1, it.headline.len, stdout);
			putchar('\n');
		}
		n++;
	}
	if (rc != 0) {
		fprintf(stderr, "wuzhactl: malformed SCHEDULE list: %s\n",
		    proto_err_name(-rc));
		return CTL_FAIL;
	}
	if (sc->find != NULL) {
		fprintf(stderr, "wuzhactl: %s is not held (already sent, "
		    "cancelled, or not yours to see)\n", sc->find);
		return CTL_FAIL;
	}
	if (sc->json)
		printf("],\"omitted\":%u}\n", s.omitted);
	else if (s.omitted > 0)
		printf("%zu held, %u more not listed: ask about a node below\n",
		    n, s.omitted);
	else
		printf("%zu held\n", n);
	return CTL_OK;
}

/* Send a SCHEDULE_REQ for node (NULL: our own) and run cb on the answer. */
static int
ctl_schedule_ask(struct ctl *ctl, const char *node, struct ctl_sched *sc)
{
	struct proto_schedule_req	 rq;
	struct proto_buf		 req;

	memset(&rq, 0, sizeof(rq));
	if (ctl_node_arg(node, rq.node) == -1)
		return CTL_USAGE;
	pbuf_init(&req);
	proto_schedule_req_encode(&req, &rq);
	return ctl_request(ctl, &req, PROTO_T_SCHEDULE, ctl_schedule_cb, sc);
}

/* schedule list [--node NODE] [--json] */
int
ctl_schedule_list(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node",	required_argument, NULL, 'n' },
		{ "json",	no_argument,	   NULL, 'j' },
		{ NULL,		0,		   NULL, 0 },
	};
	struct ctl_sched	 sc;
	const char		*node = NULL;
	int			 ch;

	memset(&sc, 0, sizeof(sc));
	opterr = 0;
	while ((ch = ctl_getopt(ctl, argc, argv, "", opts)) != -1) {
		switch (ch) {
		case 'n':
			node = optarg;
			break;
		case 'j':
			sc.json = 1;
			break;
		default:
			fprintf(stderr, "wuzhactl: schedule list: bad option "
			    "%s\n", argv[optind - 1]);
			return ctl_usage(ctl);
		}
	}
	if (argc != optind)
		return ctl_usage(ctl);
	return ctl_schedule_ask(ctl, node, &sc);
}

/*
 * schedule cancel ID [--json]: find the held alert (for its target and
 * headline), then publish a signed cancel that refers to it.
 */
int
ctl_schedule_cancel(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json",	no_argument,	   NULL, 'j' },
		{ NULL,		0,		   NULL, 0 },
	};
	struct ctl_sched	 sc;
	char			 headline[PROTO_HEADLINE_MAX + 1];
	char			*pargv[16];
	size_t			 keep;
	int			 ch, json = 0, pargc = 0, rc;

	memset(&sc, 0, sizeof(sc));
	opterr = 0;
	while ((ch = ctl_getopt(ctl, argc, argv, "", opts)) != -1) {
		switch (ch) {
		case 'j':
			json = 1;
			break;
		default:
			fprintf(stderr, "wuzhactl: schedule cancel: bad option "
			    "%s\n", argv[optind - 1]);
			return ctl_usage(ctl);
		}
	}
	if (argc - optind != 1)
		return ctl_usage(ctl);
	sc.find = argv[optind];
	if (!proto_name_valid(sc.find, strlen(sc.find))) {
		fprintf(stderr, "wuzhactl: %s: not an alert id\n", sc.find);
		return CTL_USAGE;
	}
	if ((rc = ctl_schedule_ask(ctl, NULL, &sc)) != CTL_OK)
		return rc;
	/* 取消 = "cancelled": the headline says what is withdrawn, cut at a
	 * character boundary to stay within the limit. */
	keep = utf8_cut(sc.headline, strlen(sc.headline),
	    PROTO_HEADLINE_MAX - strlen(CTL_CANCEL_PREFIX));
	memcpy(headline, CTL_CANCEL_PREFIX, strlen(CTL_CANCEL_PREFIX));
	memcpy(headline + strlen(CTL_CANCEL_PREFIX), sc.headline, keep);
	headline[strlen(CTL_CANCEL_PREFIX) + keep] = '\0';
	pargv[pargc++] = "publish";
	pargv[pargc++] = "--type";
	pargv[pargc++] = "cancel";
	pargv[pargc++] = "--references";
	pargv[pargc++] = (char *)sc.find;
	pargv[pargc++] = "--target";
	pargv[pargc++] = sc.target;
	pargv[pargc++] = "--headline";
	pargv[pargc++] = headline;
	pargv[pargc++] = "--severity";
	pargv[pargc++] = "minor";
	if (json)
		pargv[pargc++] = "--json";
	pargv[pargc] = NULL;
	optind = 0;
	return ctl_publish(ctl, pargc, pargv);
}
