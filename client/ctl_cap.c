/* SPDX-License-Identifier: ISC */
/*
 * ctl_cap: wuzhactl's CAP 1.2 verbs.  `cap export ID` asks the daemon for
 * the alert's signed envelope (ENVELOPE_REQ), verifies it against the CA
 * as an agent would (chain, signature, an issuer's certificate) and only
 * then writes it as CAP (cap.c).  `publish --cap FILE` reads a document
 * in (ctl_cap_load, called from ctl_alert.c), which is then signed with
 * our own key like any alert.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "conf.h"
#include "proto.h"
#include "client.h"
#include "cap.h"
#include "ctl.h"

/* Read path whole (at most CAP_FILE_MAX bytes); NULL after saying why. */
static uint8_t *
ctl_cap_read(const char *path, size_t *lenp)
{
	uint8_t	*buf;
	size_t	 len = 0;
	ssize_t	 n;
	int	 fd;

	if (strcmp(path, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "wuzhactl: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if ((buf = malloc(CAP_FILE_MAX + 1)) == NULL) {
		fprintf(stderr, "wuzhactl: out of memory\n");
		goto fail;
	}
	while (len <= CAP_FILE_MAX) {
		n = read(fd, buf + len, CAP_FILE_MAX + 1 - len);
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
	if (len > CAP_FILE_MAX) {
		fprintf(stderr, "wuzhactl: %s: cap-bad-xml (%d): the document "
		    "is longer than %d bytes\n", path, PROTO_E_CAP_XML,
		    CAP_FILE_MAX);
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

int
ctl_cap_load(const char *path, int verbose, struct cap_doc *d)
{
	uint8_t	*buf;
	size_t	 len;
	char	 why[512];
	int	 rc;

	if ((buf = ctl_cap_read(path, &len)) == NULL)
		return CTL_USAGE;
	rc = cap_parse(buf, len, verbose, d, why, sizeof(why));
	free(buf);
	if (rc != 0) {
		fprintf(stderr, "wuzhactl: %s: %s (%d): %s\n", path,
		    proto_err_name(-rc), -rc, why);
		return CTL_USAGE;
	}
	return CTL_OK;
}

int
ctl_cap_own(struct ctl *ctl, const char *path, const struct cap_doc *d)
{
	struct conf_agent	*conf = ctl_conf(ctl);
	X509			*cert;
	char			 err[512], cn[PROTO_ID_MAX + 1];
	int			 rc;

	if ((cert = client_cert_load(conf->tls.cert, err, sizeof(err))) == NULL) {
		fprintf(stderr, "wuzhactl: %s\n", err);
		return CTL_FAIL;
	}
	rc = client_cert_cn(cert, cn, sizeof(cn));
	X509_free(cert);
	if (rc == -1) {
		fprintf(stderr, "wuzhactl: %s: no CN\n", conf->tls.cert);
		return CTL_FAIL;
	}
	if (strcmp(cn, d->a.issuer) != 0) {
		fprintf(stderr, "wuzhactl: %s: %s (%d): <sender> is %s, but "
		    "this console signs as %s: an alert is published by its "
		    "own issuer only\n", path, proto_err_name(PROTO_E_CAP_SENDER),
		    PROTO_E_CAP_SENDER, d->a.issuer, cn);
		return CTL_USAGE;
	}
	return CTL_OK;
}

/* What the ENVELOPE callback needs. */
struct ctl_cap_export {
	const char	*id;
	const char	*out;		/* NULL: stdout */
};

/* Write len bytes to path (replaced) or stdout; -1 after saying why. */
static int
ctl_cap_write_out(const char *path, const uint8_t *p, size_t len)
{
	FILE	*f = stdout;

	if (path != NULL && (f = fopen(path, "we")) == NULL) {
		fprintf(stderr, "wuzhactl: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fwrite(p, 1, len, f) != len || fflush(f) != 0) {
		fprintf(stderr, "wuzhactl: %s: %s\n", path ? path : "stdout",
		    strerror(errno));
		if (path != NULL)
			fclose(f);
		return -1;
	}
	if (path != NULL && fclose(f) != 0) {
		fprintf(stderr, "wuzhactl: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* ENVELOPE: verify as an agent would, then write the CAP document. */
static int
ctl_cap_envelope_cb(struct ctl *ctl, const uint8_t *p, size_t len, void *arg)
{
	struct ctl_cap_export		*x = arg;
	struct conf_agent		*conf = ctl_conf(ctl);
	struct proto_envelope_msg	 m;
	struct proto_alert		 a;
	struct proto_scope		 signer;
	struct cap_ref			 ref;
	struct proto_buf		 out;
	X509_STORE			*store;
	char				 err[512], why[512] = "";
	int				 rc, ret = CTL_FAIL;

	if ((rc = proto_envelope_msg_decode(p, len, &m)) != 0) {
		fprintf(stderr, "wuzhactl: malformed ENVELOPE: %s\n",
		    proto_err_name(-rc));
		return CTL_FAIL;
	}
	if ((store = client_store_load(conf->tls.ca, conf->tls.crl, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "wuzhactl: %s\n", err);
		return CTL_FAIL;
	}
	rc = proto_envelope_verify(m.envelope.p, m.envelope.len, store, 0, &a,
	    why, sizeof(why));
	if (rc == 0 && (rc = proto_envelope_scope(m.envelope.p, m.envelope.len,
	    &signer, why, sizeof(why))) == 0)
		rc = proto_scope_issuer(&signer, why, sizeof(why));
	X509_STORE_free(store);
	if (rc != 0) {
		fprintf(stderr, "wuzhactl: alert %s: the daemon's envelope does "
		    "not verify: %s (%d): %s; not exported\n", x->id,
		    proto_err_name(-rc), -rc, why[0] ? why : "refused");
		return CTL_FAIL;
	}
	if (strcmp(a.id, x->id) != 0 || strcmp(m.id, x->id) != 0) {
		fprintf(stderr, "wuzhactl: asked for alert %s, the daemon sent "
		    "%s; not exported\n", x->id, a.id);
		return CTL_FAIL;
	}
	memset(&ref, 0, sizeof(ref));
	memcpy(ref.sender, m.ref_issuer, sizeof(ref.sender));
	ref.sent = m.ref_issued_at;
	pbuf_init(&out);
	if ((rc = cap_write(&out, &a, &ref, why, sizeof(why))) != 0)
		fprintf(stderr, "wuzhactl: alert %s: %s (%d): %s\n", x->id,
		    proto_err_name(-rc), -rc, why);
	else if (ctl_cap_write_out(x->out, out.data, out.len) == 0)
		ret = CTL_OK;
	pbuf_free(&out);
	return ret;
}

/* cap export ID [-o FILE] */
int
ctl_cap_export(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output",	required_argument, NULL, 'o' },
		{ NULL,		0,		   NULL, 0 },
	};
	struct ctl_cap_export		 x;
	struct proto_envelope_req	 req;
	struct proto_buf		 b;
	int				 ch;

	memset(&x, 0, sizeof(x));
	opterr = 0;
	while ((ch = ctl_getopt(ctl, argc, argv, "o:", opts)) != -1) {
		switch (ch) {
		case 'o':
			x.out = optarg;
			break;
		default:
			fprintf(stderr, "wuzhactl: cap export: bad option %s\n",
			    argv[optind - 1]);
			return ctl_usage(ctl);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1)
		return ctl_usage(ctl);
	if (!proto_name_valid(argv[0], strlen(argv[0]))) {
		fprintf(stderr, "wuzhactl: %s: not an alert id\n", argv[0]);
		return CTL_USAGE;
	}
	x.id = argv[0];
	memset(&req, 0, sizeof(req));
	snprintf(req.id, sizeof(req.id), "%s", x.id);
	pbuf_init(&b);
	proto_envelope_req_encode(&b, &req);
	return ctl_request(ctl, &b, PROTO_T_ENVELOPE, ctl_cap_envelope_cb, &x);
}
