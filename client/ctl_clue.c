/* SPDX-License-Identifier: ISC */
/*
 * ctl_clue: clues reported upward.  `clue` signs a clue with our own key
 * (the reporter is our CN, the node the last of our certificate's
 * wuzha:path:, or --node) and sends it; `clues` lists what the daemon
 * keeps for us (an observer's pending or all at its node, or our own),
 * page by page; `clue-mark` signs and sends an observer's mark.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "clock.h"
#include "compat.h"
#include "conf.h"
#include "proto.h"
#include "client.h"
#include "ctl.h"

/* Our key, and our CN and node from our certificate; -1 after saying why. */
static int
ctl_clue_signer(struct ctl *ctl, EVP_PKEY **key, char *cn, char *node)
{
	struct conf_agent	*conf = ctl_conf(ctl);
	struct proto_scope	 sc;
	X509			*cert = NULL;
	char			 err[512];
	int			 rc = -1;

	*key = NULL;
	if ((*key = client_key_load(conf->tls.key, err, sizeof(err))) == NULL ||
	    (cert = client_cert_load(conf->tls.cert, err, sizeof(err))) ==
	    NULL) {
		fprintf(stderr, "wuzhactl: %s\n", err);
		goto done;
	}
	if (client_cert_cn(cert, cn, PROTO_ID_MAX + 1) == -1 ||
	    !proto_name_valid(cn, strlen(cn))) {
		fprintf(stderr, "wuzhactl: %s: CN is not a principal name\n",
		    conf->tls.cert);
		goto done;
	}
	if (node != NULL && node[0] == '\0') {
		if (proto_cert_scope(cert, &sc, err, sizeof(err)) != 0 ||
		    sc.depth == 0) {
			fprintf(stderr, "wuzhactl: %s names no place in the "
			    "tree (wuzha:path:): give --node\n", conf->tls.cert);
			goto done;
		}
		strlcpy(node, sc.path[sc.depth - 1], PROTO_ID_MAX + 1);
	}
	rc = 0;
done:
	if (rc == -1) {
		EVP_PKEY_free(*key);
		*key = NULL;
	}
	X509_free(cert);
	return rc;
}

/* A fresh clue id: "clue-", the UTC date, 12 random hex digits. */
static void
ctl_clue_new_id(char *buf, size_t len)
{
	uint8_t		r[6];
	time_t		t = time(NULL);
	struct tm	tm;
	size_t		i, off;

	gmtime_r(&t, &tm);
	off = strftime(buf, len, "clue-%Y%m%d-", &tm);
	client_random(r, sizeof(r));
	for (i = 0; i < sizeof(r) && off + 2 < len; i++, off += 2)
		snprintf(buf + off, len - off, "%02x", r[i]);
}

/* Sign body (already encoded) and frame it as type; -1 after saying why. */
static int
ctl_clue_frame(EVP_PKEY *key, struct proto_buf *body, int mark, uint8_t type,
    struct proto_buf *out)
{
	struct proto_clue_msg	 m;
	uint8_t			 sig[PROTO_SIG_LEN];

	if (body->err != 0) {
		fprintf(stderr, "wuzhactl: cannot encode the %s: %s\n",
		    mark ? "mark" : "clue", proto_err_name(body->err));
		return -1;
	}
	if (proto_clue_sign(body->data, body->len, mark, key, sig) == -1) {
		fprintf(stderr, "wuzhactl: cannot sign (an Ed25519 key is "
		    "needed)\n");
		return -1;
	}
	m.body.p = body->data;
	m.body.len = body->len;
	m.sig.p = sig;
	m.sig.len = sizeof(sig);
	pbuf_init(out);
	proto_clue_msg_encode(out, type, &m);
	return out->err == 0 ? 0 : -1;
}

static int
ctl_clue_ok_cb(struct ctl *ctl, const uint8_t *p, size_t len, void *arg)
{
	struct proto_clue_ok	 m;
	const int		*json = arg;
	const char		*st;
	int			 rc;

	(void)ctl;
	if ((rc = proto_clue_ok_decode(p, len, &m)) != 0) {
		fprintf(stderr, "wuzhactl: malformed CLUE_OK: %s\n",
		    proto_err_name(-rc));
		return CTL_FAIL;
	}
	st = proto_clue_state_name(m.state);
	if (*json) {
		printf("{\"id\":");
		ctl_json_str(stdout, m.id, strlen(m.id));
		printf(",\"seq\":%llu,\"state\":\"%s\"}\n",
		    (unsigned long long)m.seq, st ? st : "?");
	} else
		printf("clue %s seq %llu %s\n", m.id, (unsigned long long)m.seq,
		    st ? st : "?");
	return CTL_OK;
}

/* clue --text TEXT [--contact TEXT] [--id ID] [--node NODE] [--json] */
int
ctl_clue(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "text",	required_argument, NULL, 't' },
		{ "contact",	required_argument, NULL, 'C' },
		{ "id",		required_argument, NULL, 'i' },
		{ "node",	required_argument, NULL, 'n' },
		{ "json",	no_argument,	   NULL, 'j' },
		{ NULL,		0,		   NULL, 0 },
	};
	struct proto_clue	 cl;
	struct proto_buf	 body, req;
	EVP_PKEY		*key = NULL;
	const char		*text = NULL, *contact = NULL, *id = NULL;
	proto_id		 node = "";
	int			 ch, json = 0, rc;

	opterr = 0;
	while ((ch = ctl_getopt(ctl, argc, argv, "", opts)) != -1) {
		switch (ch) {
		case 't':
			text = optarg;
			break;
		case 'C':
			contact = optarg;
			break;
		case 'i':
			id = optarg;
			break;
		case 'n':
			if (ctl_node_arg(optarg, node) == -1)
				return CTL_USAGE;
			break;
		case 'j':
			json = 1;
			break;
		default:
			fprintf(stderr, "wuzhactl: clue: bad option %s\n",
			    argv[optind - 1]);
			return ctl_usage(ctl);
		}
	}
	if (optind != argc || text == NULL)
		return ctl_usage(ctl);
	if (strlen(text) == 0 || strlen(text) > PROTO_CLUE_TEXT_MAX) {
		fprintf(stderr, "wuzhactl: --text: 1 to %d bytes\n",
		    PROTO_CLUE_TEXT_MAX);
		return CTL_USAGE;
	}
	if (contact != NULL && strlen(contact) > PROTO_CLUE_CONTACT_MAX) {
		fprintf(stderr, "wuzhactl: --contact: at most %d bytes\n",
		    PROTO_CLUE_CONTACT_MAX);
		return CTL_USAGE;
	}
	if (id != NULL && !proto_name_valid(id, strlen(id))) {
		fprintf(stderr, "wuzhactl: --id %s: expected [A-Za-z0-9._-], 1 "
		    "to %d, not starting with . or -\n", id, PROTO_ID_MAX);
		return CTL_USAGE;
	}
	memset(&cl, 0, sizeof(cl));
	if (ctl_clue_signer(ctl, &key, cl.reporter, node) == -1)
		return CTL_FAIL;
	strlcpy(cl.node, node, sizeof(cl.node));
	if (id != NULL)
		strlcpy(cl.id, id, sizeof(cl.id));
	else
		ctl_clue_new_id(cl.id, sizeof(cl.id));
	cl.text.p = (const uint8_t *)text;
	cl.text.len = strlen(text);
	if (contact != NULL && contact[0] != '\0') {
		cl.contact.p = (const uint8_t *)contact;
		cl.contact.len = strlen(contact);
	}
	cl.at = now_ms();
	pbuf_init(&body);
	proto_clue_encode(&body, &cl);
	rc = ctl_clue_frame(key, &body, 0, PROTO_T_CLUE, &req);
	pbuf_free(&body);
	EVP_PKEY_free(key);
	if (rc == -1)
		return CTL_FAIL;
	return ctl_request(ctl, &req, PROTO_T_CLUE_OK, ctl_clue_ok_cb, &json);
}

/* clue-mark ID received|handled [--note TEXT] [--json] */
int
ctl_clue_mark(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "note",	required_argument, NULL, 'N' },
		{ "json",	no_argument,	   NULL, 'j' },
		{ NULL,		0,		   NULL, 0 },
	};
	struct proto_clue_mark	 mk;
	struct proto_buf	 body, req;
	EVP_PKEY		*key = NULL;
	const char		*note = NULL;
	int			 ch, json = 0, rc, st;

	opterr = 0;
	while ((ch = ctl_getopt(ctl, argc, argv, "", opts)) != -1) {
		switch (ch) {
		case 'N':
			note = optarg;
			break;
		case 'j':
			json = 1;
			break;
		default:
			fprintf(stderr, "wuzhactl: clue-mark: bad option %s\n",
			    argv[optind - 1]);
			return ctl_usage(ctl);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2)
		return ctl_usage(ctl);
	if (!proto_name_valid(argv[0], strlen(argv[0]))) {
		fprintf(stderr, "wuzhactl: %s: not a clue id\n", argv[0]);
		return CTL_USAGE;
	}
	st = proto_clue_state_parse(argv[1]);
	if (st != PROTO_CLUE_RECEIVED && st != PROTO_CLUE_HANDLED) {
		fprintf(stderr, "wuzhactl: %s: expected received or handled\n",
		    argv[1]);
		return ctl_usage(ctl);
	}
	if (note != NULL && strlen(note) > PROTO_CLUE_NOTE_MAX) {
		fprintf(stderr, "wuzhactl: --note: at most %d bytes\n",
		    PROTO_CLUE_NOTE_MAX);
		return CTL_USAGE;
	}
	memset(&mk, 0, sizeof(mk));
	if (ctl_clue_signer(ctl, &key, mk.by, NULL) == -1)
		return CTL_FAIL;
	strlcpy(mk.clue, argv[0], sizeof(mk.clue));
	mk.state = (uint8_t)st;
	if (note != NULL && note[0] != '\0') {
		mk.note.p = (const uint8_t *)note;
		mk.note.len = strlen(note);
	}
	mk.at = now_ms();
	pbuf_init(&body);
	proto_clue_mark_encode(&body, &mk);
	rc = ctl_clue_frame(key, &body, 1, PROTO_T_CLUE_MARK, &req);
	pbuf_free(&body);
	EVP_PKEY_free(key);
	if (rc == -1)
		return CTL_FAIL;
	return ctl_request(ctl, &req, PROTO_T_CLUE_OK, ctl_clue_ok_cb, &json);
}

/* --- clues ------------------------------------------------------------- */

struct ctl_clues {
	struct proto_clues_req	 rq;
	int			 json;
	size_t			 listed;
};

/* Print len bytes of s on one line: control characters as spaces. */
static void
ctl_clue_line(const uint8_t *s, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		putchar(s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i]);
}

static void
ctl_clue_json(const struct proto_clue_item *it, const struct proto_clue *cl,
    int first)
{
	const char	*st = proto_clue_state_name(it->state);

	printf("%s{\"id\":", first ? "" : ",");
	ctl_json_str(stdout, cl->id, strlen(cl->id));
	printf(",\"seq\":%llu,\"at\":%llu,\"reporter\":",
	    (unsigned long long)it->seq, (unsigned long long)cl->at);
	ctl_json_str(stdout, cl->reporter, strlen(cl->reporter));
	printf(",\"node\":");
	ctl_json_str(stdout, cl->node, strlen(cl->node));
	printf(",\"school\":");
	ctl_json_str(stdout, it->school, strlen(it->school));
	printf(",\"police\":");
	ctl_json_str(stdout, it->police, strlen(it->police));
	printf(",\"state\":\"%s\",\"received\":%s,\"by\":", st ? st : "?",
	    it->received ? "true" : "false");
	ctl_json_str(stdout, it->by, strlen(it->by));
	printf(",\"note\":");
	ctl_json_str(stdout, (const char *)it->note.p, it->note.len);
	printf(",\"changed\":%llu,\"text\":", (unsigned long long)it->changed);
	ctl_json_str(stdout, (const char *)cl->text.p, cl->text.len);
	printf(",\"contact\":");
	ctl_json_str(stdout, (const char *)cl->contact.p, cl->contact.len);
	printf("}");
}

static void
ctl_clue_row(const struct proto_clue_item *it, const struct proto_clue *cl)
{
	const char	*st = proto_clue_state_name(it->state);
	char		 t[64];

	printf("%-28s %-19.19s %-16s %-14s %-8s ", cl->id,
	    client_time_str(cl->at, t, sizeof(t)), cl->reporter,
	    it->school[0] ? it->school : it->police, st ? st : "?");
	ctl_clue_line(cl->text.p, cl->text.len);
	if (cl->contact.len > 0) {
		printf(" (contact: ");
		ctl_clue_line(cl->contact.p, cl->contact.len);
		printf(")");
	}
	if (it->state == PROTO_CLUE_HANDLED) {
		printf(" [handled by %s", it->by);
		if (it->note.len > 0) {
			printf(": ");
			ctl_clue_line(it->note.p, it->note.len);
		}
		printf("]");
	}
	printf("\n");
}

static int
ctl_clues_cb(struct ctl *ctl, const uint8_t *p, size_t len, void *arg)
{
	struct ctl_clues		*cc = arg;
	struct proto_clues		 m;
	struct proto_clue_item		 it;
	struct proto_clue_stored	 st;
	struct proto_clue		 cl;
	struct proto_buf		 next;
	size_t				 cur = 0;
	int				 rc;

	if ((rc = proto_clues_decode(p, len, &m)) != 0) {
		fprintf(stderr, "wuzhactl: malformed CLUES: %s\n",
		    proto_err_name(-rc));
		return CTL_FAIL;
	}
	if (cc->listed == 0 && cc->json)
		printf("{\"which\":\"%s\",\"clues\":[",
		    m.which == PROTO_CLUES_PENDING ? "pending" :
		    m.which == PROTO_CLUES_ALL ? "all" : "mine");
	else if (cc->listed == 0)
		printf("%-28s %-19s %-16s %-14s %-8s %s\n", "ID", "TIME",
		    "REPORTER", "SCHOOL", "STATE", "TEXT");
	while ((rc = proto_clue_item_next(&m.clues, &cur, &it)) == 1) {
		if (proto_clue_stored_decode(it.clue.p, it.clue.len, &st) !=
		    0 || proto_clue_decode(st.body.p, st.body.len, &cl) != 0) {
			fprintf(stderr, "wuzhactl: a stored clue (seq %llu) "
			    "does not decode\n", (unsigned long long)it.seq);
			continue;
		}
		if (cc->json)
			ctl_clue_json(&it, &cl, cc->listed == 0);
		else
			ctl_clue_row(&it, &cl);
		cc->listed++;
	}
	if (rc < 0) {
		fprintf(stderr, "wuzhactl: malformed CLUES list: %s\n",
		    proto_err_name(-rc));
		return CTL_FAIL;
	}
	if (m.next != 0 && cc->rq.id[0] == '\0') {
		fflush(stdout);
		cc->rq.after = m.next;
		pbuf_init(&next);
		proto_clues_req_encode(&next, &cc->rq);
		return ctl_request_next(ctl, &next) == 0 ? CTL_NEXT : CTL_FAIL;
	}
	if (cc->json)
		printf("]}\n");
	else if (cc->listed == 0)
		printf("(no clues)\n");
	return CTL_OK;
}

/* clues [--pending|--all|--mine] [--id ID] [--json] */
int
ctl_clues(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pending",	no_argument,	   NULL, 'p' },
		{ "all",	no_argument,	   NULL, 'a' },
		{ "mine",	no_argument,	   NULL, 'm' },
		{ "id",		required_argument, NULL, 'i' },
		{ "json",	no_argument,	   NULL, 'j' },
		{ NULL,		0,		   NULL, 0 },
	};
	struct ctl_clues	 cc;
	struct proto_buf	 req;
	int			 ch;

	memset(&cc, 0, sizeof(cc));
	cc.rq.which = PROTO_CLUES_PENDING;
	opterr = 0;
	while ((ch = ctl_getopt(ctl, argc, argv, "", opts)) != -1) {
		switch (ch) {
		case 'p':
			cc.rq.which = PROTO_CLUES_PENDING;
			break;
		case 'a':
			cc.rq.which = PROTO_CLUES_ALL;
			break;
		case 'm':
			cc.rq.which = PROTO_CLUES_MINE;
			break;
		case 'i':
			if (!proto_name_valid(optarg, strlen(optarg))) {
				fprintf(stderr, "wuzhactl: --id %s: not a clue "
				    "id\n", optarg);
				return CTL_USAGE;
			}
			strlcpy(cc.rq.id, optarg, sizeof(cc.rq.id));
			break;
		case 'j':
			cc.json = 1;
			break;
		default:
			fprintf(stderr, "wuzhactl: clues: bad option %s\n",
			    argv[optind - 1]);
			return ctl_usage(ctl);
		}
	}
	if (optind != argc)
		return ctl_usage(ctl);
	pbuf_init(&req);
	proto_clues_req_encode(&req, &cc.rq);
	return ctl_request(ctl, &req, PROTO_T_CLUES, ctl_clues_cb, &cc);
}
