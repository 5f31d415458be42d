/* SPDX-License-Identifier: ISC */
/*
 * ctl_alert: the verbs that act on alerts.  publish builds the alert body
 * from the command line, signs it with our own key (the issuer is the CN
 * of our own certificate), checks the signature against the CA before
 * anything leaves, and sends PUBLISH; ack confirms shown, read or relayed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "clock.h"
#include "conf.h"
#include "proto.h"
#include "client.h"
#include "cap.h"
#include "ctl.h"

#define CTL_EXPIRES_DEFAULT	"24h"

static int	ctl_pub_preview(const struct proto_alert *, int);
static int	ctl_pub_cap(struct ctl *, const char *, int, int, int, int,
		    struct cap_doc *);


/* Read FILE (or stdin for "-") whole, at most PROTO_TEXT_MAX bytes. */
static char *
ctl_read_text(const char *path, size_t *lenp)
{
	char	*buf;
	size_t	 len = 0;
	ssize_t	 n;
	int	 fd;

	if (strcmp(path, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "wuzhactl: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if ((buf = malloc(PROTO_TEXT_MAX + 1)) == NULL) {
		fprintf(stderr, "wuzhactl: out of memory\n");
		goto fail;
	}
	while (len <= PROTO_TEXT_MAX) {
		n = read(fd, buf + len, PROTO_TEXT_MAX + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			fprintf(stderr, "wuzhactl: %s: %s\n", path,
			    strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > PROTO_TEXT_MAX) {
		fprintf(stderr, "wuzhactl: %s: text longer than %d bytes\n",
		    path, PROTO_TEXT_MAX);
		goto fail;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	*lenp = len;
	return buf;
 fail:
	free(buf);
	if (fd != STDIN_FILENO)
		close(fd);
	return NULL;
}

/* Check that s is UTF-8 of 1..max bytes (0..max if may_be_empty). */
static int
ctl_text_ok(const char *what, const char *s, size_t len, size_t max,
    int may_be_empty)
{
	if (len == 0 && !may_be_empty) {
		fprintf(stderr, "wuzhactl: %s is empty\n", what);
		return -1;
	}
	if (len > max) {
		fprintf(stderr, "wuzhactl: %s longer than %zu bytes\n", what,
		    max);
		return -1;
	}
	if (!proto_utf8_valid((const uint8_t *)s, len)) {
		fprintf(stderr, "wuzhactl: %s is not valid UTF-8 text\n",
		    what);
		return -1;
	}
	return 0;
}

/* A fresh alert id: the UTC date, then 16 random hex digits. */
static void
ctl_new_id(char *buf, size_t len)
{
	uint8_t		r[8];
	time_t		t = time(NULL);
	struct tm	tm;
	size_t		i, off;

	gmtime_r(&t, &tm);
	off = strftime(buf, len, "%Y%m%d-", &tm);
	client_random(r, sizeof(r));
	for (i = 0; i < sizeof(r) && off + 2 < len; i++, off += 2)
		snprintf(buf + off, len - off, "%02x", r[i]);
}

/* Fill the alert body from the options; -1 after printing why. */
static int
ctl_pub_fill(struct ctl_pub *o, struct proto_alert *a, const char *text,
    size_t textlen)
{
	int64_t		ms;
	int		v;

	if (o->id != NULL) {
		if (!proto_name_valid(o->id, strlen(o->id))) {
			fprintf(stderr, "wuzhactl: --id %s: expected "
			    "[A-Za-z0-9._-], 1 to %d, not starting with . or "
			    "-\n", o->id, PROTO_ID_MAX);
			return -1;
		}
		snprintf(a->id, sizeof(a->id), "%s", o->id);
	} else
		ctl_new_id(a->id, sizeof(a->id));
	if (!proto_node_id_valid(o->target, strlen(o->target))) {
		fprintf(stderr, "wuzhactl: --target %s: not a node id\n",
		    o->target);
		return -1;
	}
	snprintf(a->target, sizeof(a->target), "%s", o->target);
	if ((v = proto_msg_type_parse(o->type ? o->type : "alert")) == -1) {
		fprintf(stderr, "wuzhactl: --type %s: expected alert, update "
		    "or cancel\n", o->type);
		return -1;
	}
	a->msg_type = (uint8_t)v;
	if (o->references != NULL) {
		if (!proto_name_valid(o->references, strlen(o->references))) {
			fprintf(stderr, "wuzhactl: --references %s: not an "
			    "alert id\n", o->references);
			return -1;
		}
		snprintf(a->references, sizeof(a->references), "%s",
		    o->references);
	}
	if (a->msg_type != PROTO_MSG_ALERT && o->references == NULL) {
		fprintf(stderr, "wuzhactl: --type %s needs --references ID\n",
		    o->type);
		return -1;
	}
	if ((v = proto_category_parse(o->category ? o->category :
	    "warning")) == -1) {
		fprintf(stderr, "wuzhactl: --category %s: expected warning, "
		    "knowledge or case-followup\n", o->category);
		return -1;
	}
	a->category = (uint8_t)v;
	if ((v = proto_severity_parse(o->severity ? o->severity :
	    "severe")) == -1) {
		fprintf(stderr, "wuzhactl: --severity %s: expected extreme, "
		    "severe, moderate, minor or unknown\n", o->severity);
		return -1;
	}
	a->severity = (uint8_t)v;
	if (ctl_text_ok("--headline", o->headline, strlen(o->headline),
	    PROTO_HEADLINE_MAX, 0) == -1 ||
	    ctl_text_ok("the text", text, textlen, PROTO_TEXT_MAX, 1) == -1)
		return -1;
	a->headline.p = (const uint8_t *)o->headline;
	a->headline.len = strlen(o->headline);
	a->text.p = (const uint8_t *)text;
	a->text.len = textlen;
	if (o->instruction != NULL) {
		if (ctl_text_ok("--instruction", o->instruction,
		    strlen(o->instruction), PROTO_INSTRUCTION_MAX, 1) == -1)
			return -1;
		a->instruction.p = (const uint8_t *)o->instruction;
		a->instruction.len = strlen(o->instruction);
	}
	ms = conf_parse_duration_ms(o->expires ? o->expires :
	    CTL_EXPIRES_DEFAULT);
	if (ms <= 0) {
		fprintf(stderr, "wuzhactl: --expires %s: expected a duration "
		    "such as 90m, 24h\n", o->expires);
		return -1;
	}
	a->issued_at = now_ms();
	a->relay_required = o->relay ? 1 : 0;
	if (o->status != NULL) {
		if ((v = proto_alert_status_parse(o->status)) == -1) {
			fprintf(stderr, "wuzhactl: --status %s: expected actual, "
			    "exercise or test\n", o->status);
			return -1;
		}
		a->status = (uint8_t)v;
	}
	if (o->at != NULL) {
		if (ctl_parse_time(o->at, a->issued_at, &a->publish_at) == -1) {
			fprintf(stderr, "wuzhactl: --at %s: expected a time "
			    "such as 2026-12-24T08:00, 2026-12-24 08:00:00 "
			    "(local time) or +DURATION such as +90m\n", o->at);
			return -1;
		}
		if (a->publish_at <= a->issued_at) {
			fprintf(stderr, "wuzhactl: --at %s is not in the "
			    "future\n", o->at);
			return -1;
		}
	}
	/* The lifetime counts from when it goes out. */
	a->expires_at = (a->publish_at ? a->publish_at : a->issued_at) +
	    (uint64_t)ms;
	return 0;
}

/*
 * Sign a with our key and certificate into env, and check the result
 * against the CA the way every agent will.
 */
static int
ctl_pub_sign(struct ctl *ctl, struct proto_alert *a, struct proto_buf *env)
{
	struct conf_agent	*conf = ctl_conf(ctl);
	struct proto_alert	 check;
	EVP_PKEY		*key = NULL;
	X509			*cert = NULL;
	X509_STORE		*store = NULL;
	char			 err[512], why[256] = "";
	int			 rc = -1, vr;

	if ((key = client_key_load(conf->tls.key, err, sizeof(err))) == NULL ||
	    (cert = client_cert_load(conf->tls.cert, err,
	    sizeof(err))) == NULL ||
	    (store = client_store_load(conf->tls.ca, conf->tls.crl, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "wuzhactl: %s\n", err);
		goto done;
	}
	if (client_cert_cn(cert, a->issuer, sizeof(a->issuer)) == -1 ||
	    !proto_name_valid(a->issuer, strlen(a->issuer))) {
		fprintf(stderr, "wuzhactl: %s: CN is not a principal name\n",
		    conf->tls.cert);
		goto done;
	}
	if (proto_envelope_sign(env, a, key, cert) == -1 || env->err != 0) {
		fprintf(stderr, "wuzhactl: cannot sign the alert with %s (an "
		    "Ed25519 key is needed)\n", conf->tls.key);
		goto done;
	}
	if ((vr = proto_envelope_verify(env->data, env->len, store, 0,
	    &check, why, sizeof(why))) != 0) {
		fprintf(stderr, "wuzhactl: our own signed alert does not "
		    "verify against %s: %s: %s\n", conf->tls.ca,
		    proto_err_name(-vr), why);
		goto done;
	}
	rc = 0;
 done:
	EVP_PKEY_free(key);
	X509_free(cert);
	X509_STORE_free(store);
	return rc;
}

/*
 * PUBLISHED: "published ID seq SEQ targeted N", or "scheduled ID for
 * TIME targeted N" for an alert held until its time; --json: one object.
 */
static int
ctl_published_cb(struct ctl *ctl, const uint8_t *p, size_t len, void *arg)
{
	struct proto_published	m;
	char			t[40];
	int			rc, json = *(int *)arg;

	(void)ctl;
	if ((rc = proto_published_decode(p, len, &m)) != 0) {
		fprintf(stderr, "wuzhactl: malformed PUBLISHED: %s\n",
		    proto_err_name(-rc));
		return CTL_FAIL;
	}
	if (json) {
		printf("{\"id\":");
		ctl_json_str(stdout, m.id, strlen(m.id));
		printf(",\"seq\":%llu,\"targeted\":%u",
		    (unsigned long long)m.seq, m.targeted);
		if (m.publish_at != 0)
			printf(",\"publish_at\":%llu,\"publish\":\"%s\"",
			    (unsigned long long)m.publish_at,
			    client_time_iso(m.publish_at, t, sizeof(t)));
		printf("}\n");
	} else if (m.publish_at != 0)
		printf("scheduled %s for %s targeted %u\n", m.id,
		    client_time_str(m.publish_at, t, sizeof(t)), m.targeted);
	else if (m.seq == 0)
		printf("published %s: a held alert cancelled before its time; "
		    "nothing was sent\n", m.id);
	else
		printf("published %s seq %llu targeted %u\n", m.id,
		    (unsigned long long)m.seq, m.targeted);
	return CTL_OK;
}

/* The optional timers of PUBLISH: durations up to 30 days, 1..100 rounds. */
static int
ctl_pub_timers(struct proto_publish *pub, const char *remind,
    const char *escalate, const char *maxrem)
{
	const char	*what[2] = { remind, escalate };
	uint32_t	*to[2] = { &pub->remind_after, &pub->escalate_after };
	int64_t		 ms;
	long		 n;
	char		*end;
	int		 i;

	for (i = 0; i < 2; i++) {
		if (what[i] == NULL)
			continue;
		ms = conf_parse_duration_ms(what[i]);
		if (ms < 100 || ms > 30LL * 86400000) {
			fprintf(stderr, "wuzhactl: --%s %s: expected a duration "
			    "from 100ms to 30d such as 30m\n",
			    i ? "escalate-after" : "remind-after", what[i]);
			return -1;
		}
		*to[i] = (uint32_t)ms;
	}
	if (maxrem != NULL) {
		n = strtol(maxrem, &end, 10);
		if (*maxrem == '\0' || *end != '\0' || n < 1 || n > 100) {
			fprintf(stderr, "wuzhactl: --max-reminders %s: expected "
			    "1 to 100\n", maxrem);
			return -1;
		}
		pub->max_reminders = (uint8_t)n;
	}
	return 0;
}

/* publish: build, sign, check, send; print the PUBLISHED answer. */
int
ctl_publish(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "target",		required_argument, NULL, 'T' },
		{ "headline",		required_argument, NULL, 'H' },
		{ "text",		required_argument, NULL, 'x' },
		{ "text-file",		required_argument, NULL, 'f' },
		{ "instruction",	required_argument, NULL, 'i' },
		{ "category",		required_argument, NULL, 'C' },
		{ "severity",		required_argument, NULL, 's' },
		{ "expires",		required_argument, NULL, 'e' },
		{ "relay-required",	no_argument,	   NULL, 'r' },
		{ "id",			required_argument, NULL, 'I' },
		{ "type",		required_argument, NULL, 'y' },
		{ "references",		required_argument, NULL, 'R' },
		{ "remind-after",	required_argument, NULL, 'm' },
		{ "escalate-after",	required_argument, NULL, 'E' },
		{ "max-reminders",	required_argument, NULL, 'M' },
		{ "at",			required_argument, NULL, 'a' },
		{ "status",		required_argument, NULL, 'S' },
		{ "drill",		no_argument,	   NULL, 'D' },
		{ "template",		required_argument, NULL, 't' },
		{ "set",		required_argument, NULL, 'K' },
		{ "json",		no_argument,	   NULL, 'j' },
		{ "dry-run",		no_argument,	   NULL, 'n' },
		/* CAP 1.2 (cap) */
		{ "cap",		required_argument, NULL, 'X' },
		{ "print",		no_argument,	   NULL, 'P' },
		{ "verbose",		no_argument,	   NULL, 'v' },
		{ NULL,			0,		   NULL, 0 },
	};
	const char		*capfile = NULL;
	struct cap_doc		 capdoc;
	int			 capprint = 0, capverbose = 0, body_opts = 0;
	const char		*remind = NULL, *escalate = NULL, *maxrem = NULL;
	struct ctl_pub		 o;
	struct proto_alert	 a;
	struct proto_publish	 pub;
	struct proto_buf	 env, req;
	char			*filetext = NULL;
	const char		*text = "";
	size_t			 textlen = 0;
	int			 ch, rc = CTL_FAIL, json = 0, dry = 0;

	memset(&o, 0, sizeof(o));
	memset(&capdoc, 0, sizeof(capdoc));
	pbuf_init(&env);
	pbuf_init(&req);
	opterr = 0;
	while ((ch = ctl_getopt(ctl, argc, argv, "+v", opts)) != -1) {
		/* What --cap takes from the document instead. */
		if (ch > 0 && strchr("THxfiCseIyRaSDtKr", ch) != NULL)
			body_opts = 1;
		switch (ch) {
		case 'X': capfile = optarg; continue;
		case 'P': capprint = 1; continue;
		case 'v': capverbose = 1; continue;
		case 'T': o.target = optarg; break;
		case 'H': o.headline = optarg; break;
		case 'x': o.text = optarg; break;
		case 'f': o.text_file = optarg; break;
		case 'i': o.instruction = optarg; break;
		case 'C': o.category = optarg; break;
		case 's': o.severity = optarg; break;
		case 'e': o.expires = optarg; break;
		case 'r': o.relay = 1; o.relay_set = 1; break;
		case 'I': o.id = optarg; break;
		case 'y': o.type = optarg; break;
		case 'R': o.references = optarg; break;
		case 'm': remind = optarg; break;
		case 'E': escalate = optarg; break;
		case 'M': maxrem = optarg; break;
		case 'a': o.at = optarg; break;
		case 'S': o.status = optarg; break;
		case 'D': o.status = "exercise"; break;
		case 't': o.template = optarg; break;
		case 'K':
			if (o.nsets == CTL_SETS_MAX) {
				fprintf(stderr, "wuzhactl: publish: more than "
				    "%d --set\n", CTL_SETS_MAX);
				return CTL_USAGE;
			}
			o.sets[o.nsets++] = optarg;
			break;
		case 'j': json = 1; break;
		case 'n': dry = 1; break;
		default:
			fprintf(stderr, "wuzhactl: publish: bad option %s\n",
			    argv[optind - 1]);
			return ctl_usage(ctl);
		}
	}
	if (capfile != NULL || capprint || capverbose) {
		rc = ctl_pub_cap(ctl, capfile, capprint, capverbose, body_opts,
		    optind != argc, &capdoc);
		if (rc != CTL_OK || capprint)
			goto done;
		a = capdoc.a;
		rc = CTL_FAIL;
		goto sign;
	}
	if (o.nsets > 0 && o.template == NULL) {
		fprintf(stderr, "wuzhactl: publish: --set needs --template\n");
		return CTL_USAGE;
	}
	if (o.template != NULL && (rc = ctl_template_apply(ctl, &o)) != CTL_OK)
		goto done;
	rc = CTL_FAIL;
	/* Say what is wrong first: the usage line is long. */
	if (optind != argc)
		fprintf(stderr, "wuzhactl: publish: unexpected argument %s\n",
		    argv[optind]);
	else if (o.target == NULL)
		fprintf(stderr, "wuzhactl: publish: --target NODE is "
		    "required\n");
	else if (o.headline == NULL)
		fprintf(stderr, "wuzhactl: publish: --headline TEXT is "
		    "required (or a --template that sets it)\n");
	else if (o.text != NULL && o.text_file != NULL)
		fprintf(stderr, "wuzhactl: publish: --text and --text-file "
		    "cannot both be given\n");
	if (optind != argc || o.target == NULL || o.headline == NULL ||
	    (o.text != NULL && o.text_file != NULL)) {
		ctl_pub_release(&o);
		return ctl_usage(ctl);
	}
	if (o.text_file != NULL) {
		if ((filetext = ctl_read_text(o.text_file, &textlen)) == NULL) {
			ctl_pub_release(&o);
			return CTL_FAIL;
		}
		text = filetext;
	} else if (o.text != NULL) {
		text = o.text;
		textlen = strlen(o.text);
	}
	memset(&a, 0, sizeof(a));
	if (ctl_pub_fill(&o, &a, text, textlen) == -1) {
		rc = CTL_USAGE;
		goto done;
	}
 sign:
	if (ctl_pub_sign(ctl, &a, &env) == -1)
		goto done;
	if (dry) {
		rc = ctl_pub_preview(&a, json);
		goto done;
	}
	memset(&pub, 0, sizeof(pub));
	pub.envelope.p = env.data;
	pub.envelope.len = env.len;
	if (ctl_pub_timers(&pub, remind, escalate, maxrem) == -1) {
		rc = CTL_USAGE;
		goto done;
	}
	proto_publish_encode(&req, &pub);
	if (req.err != 0) {
		fprintf(stderr, "wuzhactl: cannot encode PUBLISH (error %d)\n",
		    req.err);
		goto done;
	}
	rc = ctl_request(ctl, &req, PROTO_T_PUBLISHED, ctl_published_cb, &json);
 done:
	pbuf_free(&req);
	pbuf_free(&env);
	free(filetext);
	cap_doc_free(&capdoc);
	ctl_pub_release(&o);
	return rc;
}

/*
 * publish --cap FILE: the body from a CAP 1.2 document (cap.c).  --print
 * shows it as decoded (JSON, the document's own times) and stops.  Else
 * it is made ready to be signed like any alert: the sender must be our
 * own CN, issued_at becomes now (the daemon's skew window wants a fresh
 * one; <sent> is the original's), an <effective> already past means at
 * once, and <expires> must lie ahead.
 */
static int
ctl_pub_cap(struct ctl *ctl, const char *path, int print, int verbose,
    int body_opts, int extra_args, struct cap_doc *d)
{
	char		t[64];
	uint64_t	now;
	int		rc;

	if (path == NULL) {
		fprintf(stderr, "wuzhactl: publish: --print and -v go with "
		    "--cap FILE\n");
		return ctl_usage(ctl);
	}
	if (extra_args) {
		fprintf(stderr, "wuzhactl: publish: --cap FILE takes no "
		    "further argument\n");
		return ctl_usage(ctl);
	}
	if (body_opts) {
		fprintf(stderr, "wuzhactl: publish: --cap takes the whole alert "
		    "from the document: no --target, --headline, --text, "
		    "--type, --id, --at, --status, --template or other field "
		    "of the body with it\n");
		return ctl_usage(ctl);
	}
	if ((rc = ctl_cap_load(path, verbose, d)) != CTL_OK)
		return rc;
	if (print)
		return ctl_pub_preview(&d->a, 1);
	if ((rc = ctl_cap_own(ctl, path, d)) != CTL_OK)
		return rc;
	now = now_ms();
	d->a.issued_at = now;
	if (d->a.publish_at != 0 && d->a.publish_at <= now) {
		fprintf(stderr, "wuzhactl: %s: <effective> %s is past: published "
		    "at once\n", path, client_time_str(d->a.publish_at, t,
		    sizeof(t)));
		d->a.publish_at = 0;
	}
	if (d->a.expires_at <= (d->a.publish_at ? d->a.publish_at : now)) {
		fprintf(stderr, "wuzhactl: %s: %s (%d): <expires> %s is past\n",
		    path, proto_err_name(PROTO_E_CAP_VALUE), PROTO_E_CAP_VALUE,
		    client_time_str(d->a.expires_at, t, sizeof(t)));
		return CTL_USAGE;
	}
	return CTL_OK;
}

/*
 * --dry-run: the alert exactly as signed, not sent (a preview).  JSON:
 * one object with the body's fields; else the fields one a line.
 */
static int
ctl_pub_preview(const struct proto_alert *a, int json)
{
	const char	*type = proto_msg_type_name(a->msg_type);
	const char	*cat = proto_category_name(a->category);
	const char	*sev = proto_severity_name(a->severity);
	const char	*st = proto_alert_status_name(a->status);
	char		 t1[64], t2[64];

	if (!json) {
		printf("id %s\ntarget %s\ntype %s\ncategory %s\nseverity %s\n"
		    "status %s\nexpires %s\n%s%s%sheadline %.*s\n"
		    "instruction %.*s\ntext %.*s\n", a->id, a->target,
		    type, cat, sev, st ? st : "actual",
		    client_time_str(a->expires_at, t1, sizeof(t1)),
		    a->publish_at ? "publish_at " : "",
		    a->publish_at ? client_time_str(a->publish_at, t2,
		    sizeof(t2)) : "", a->publish_at ? "\n" : "",
		    (int)a->headline.len, (const char *)a->headline.p,
		    (int)a->instruction.len, (const char *)a->instruction.p,
		    (int)a->text.len, (const char *)a->text.p);
		printf("(not sent: --dry-run)\n");
		return CTL_OK;
	}
	printf("{\"id\":");
	ctl_json_str(stdout, a->id, strlen(a->id));
	printf(",\"issuer\":");
	ctl_json_str(stdout, a->issuer, strlen(a->issuer));
	printf(",\"target\":");
	ctl_json_str(stdout, a->target, strlen(a->target));
	printf(",\"type\":\"%s\",\"references\":", type);
	ctl_json_str(stdout, a->references, strlen(a->references));
	printf(",\"category\":\"%s\",\"severity\":\"%s\",\"status\":"
	    "\"%s\",\"relay_required\":%s,\"issued_at\":%llu,"
	    "\"expires_at\":%llu,\"publish_at\":%llu,\"headline\":", cat,
	    sev, st ? st : "actual", a->relay_required ? "true" : "false",
	    (unsigned long long)a->issued_at,
	    (unsigned long long)a->expires_at,
	    (unsigned long long)a->publish_at);
	ctl_json_str(stdout, (const char *)a->headline.p, a->headline.len);
	printf(",\"instruction\":");
	ctl_json_str(stdout, (const char *)a->instruction.p,
	    a->instruction.len);
	printf(",\"text\":");
	ctl_json_str(stdout, (const char *)a->text.p, a->text.len);
	printf(",\"sent\":false}\n");
	return CTL_OK;
}

/* Free what a template put into o (the strings it owns). */
void
ctl_pub_release(struct ctl_pub *o)
{
	size_t	i;

	for (i = 0; i < o->nowned; i++)
		free(o->owned[i]);
	o->nowned = 0;
}

/* --- ack ------------------------------------------------------------------ */

/* ACK_OK: "ID: STATE", the state now stored. */
static int
ctl_ack_ok_cb(struct ctl *ctl, const uint8_t *p, size_t len, void *arg)
{
	struct proto_ack_ok	 m;
	const char		*st;
	int			 rc;

	(void)ctl;
	(void)arg;
	if ((rc = proto_ack_ok_decode(p, len, &m)) != 0) {
		fprintf(stderr, "wuzhactl: malformed ACK_OK: %s\n",
		    proto_err_name(-rc));
		return CTL_FAIL;
	}
	st = proto_ack_state_name(m.state);
	printf("%s: %s\n", m.id, st ? st : "?");
	return CTL_OK;
}

/* ack ID shown|read|relayed [--reach N] */
int
ctl_ack(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "reach",	required_argument, NULL, 'n' },
		{ NULL,		0,		   NULL, 0 },
	};
	struct proto_ack	 ack;
	const char		*reach = NULL;
	int			 ch, st;

	memset(&ack, 0, sizeof(ack));
	opterr = 0;
	while ((ch = ctl_getopt(ctl, argc, argv, "", opts)) != -1) {
		switch (ch) {
		case 'n':
			reach = optarg;
			break;
		default:
			fprintf(stderr, "wuzhactl: ack: bad option %s\n",
			    argv[optind - 1]);
			return ctl_usage(ctl);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2)
		return ctl_usage(ctl);
	if (!proto_name_valid(argv[0], strlen(argv[0]))) {
		fprintf(stderr, "wuzhactl: %s: not an alert id\n", argv[0]);
		return CTL_USAGE;
	}
	snprintf(ack.id, sizeof(ack.id), "%s", argv[0]);
	st = proto_ack_state_parse(argv[1]);
	if (st != PROTO_ACK_SHOWN && st != PROTO_ACK_READ &&
	    st != PROTO_ACK_RELAYED) {
		fprintf(stderr, "wuzhactl: %s: expected shown, read or "
		    "relayed\n", argv[1]);
		return ctl_usage(ctl);
	}
	ack.state = (uint8_t)st;
	if (reach != NULL) {
		if (st != PROTO_ACK_RELAYED) {
			fprintf(stderr, "wuzhactl: --reach goes with "
			    "relayed\n");
			return ctl_usage(ctl);
		}
		if (ctl_parse_u32(reach, UINT32_MAX, &ack.reach) == -1) {
			fprintf(stderr, "wuzhactl: --reach %s: expected a "
			    "head count\n", reach);
			return ctl_usage(ctl);
		}
		ack.has_reach = 1;
	}
	/* Signed, as every ack is: see ctl_receipts.c. */
	return ctl_ack_signed(ctl, &ack, ctl_ack_ok_cb);
}
