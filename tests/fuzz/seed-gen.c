/* SPDX-License-Identifier: ISC */
/*
 * Seed corpus generator for fuzz-envelope and fuzz-frame: signed
 * envelopes (good ones, and ones refused for a foreign CA, a revoked or
 * non-Ed25519 certificate, an issuer mismatch, a bad signature) made with
 * the test keys of tests/unit/data/proto, and frames that carry them
 * (PUBLISH, ALERT) or hold lists (STATUS, ESCALATION).  Run by hand when
 * the corpus is to be made again; see README.
 *
 *   fuzz-seed-gen DATA_DIR ENVELOPE_OUT_DIR FRAME_OUT_DIR
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "proto.h"

static const char	*data_dir, *env_dir, *frame_dir;

static void
die(const char *what)
{
	fprintf(stderr, "fuzz-seed-gen: %s\n", what);
	exit(1);
}

static FILE *
open_data(const char *name)
{
	char	 path[4096];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", data_dir, name);
	if ((f = fopen(path, "r")) == NULL)
		die(path);
	return f;
}

static EVP_PKEY *
load_key(const char *name)
{
	FILE		*f = open_data(name);
	EVP_PKEY	*k = PEM_read_PrivateKey(f, NULL, NULL, NULL);

	fclose(f);
	if (k == NULL)
		die(name);
	return k;
}

static X509 *
load_cert(const char *name)
{
	FILE	*f = open_data(name);
	X509	*c = PEM_read_X509(f, NULL, NULL, NULL);

	fclose(f);
	if (c == NULL)
		die(name);
	return c;
}

static void
write_file(const char *dir, const char *name, const uint8_t *p, size_t n)
{
	char	 path[4096];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(p, 1, n, f) != n ||
	    fclose(f) != 0)
		die(path);
}

static void
set_view(struct proto_view *v, const char *s)
{
	v->p = (const uint8_t *)s;
	v->len = strlen(s);
}

static void
base_alert(struct proto_alert *a, const char *issuer)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->id, sizeof(a->id), "20270115-seed-0001");
	snprintf(a->issuer, sizeof(a->issuer), "%s", issuer);
	snprintf(a->target, sizeof(a->target), "school-a");
	a->msg_type = PROTO_MSG_ALERT;
	a->category = PROTO_CAT_WARNING;
	a->severity = PROTO_SEV_SEVERE;
	set_view(&a->headline, "\xe5\x86\x92\xe5\x85\x85 test");
	set_view(&a->text, "Hang up and tell your class advisor.");
	a->issued_at = UINT64_C(1800000000000);
	a->expires_at = UINT64_C(1800086400000);
}

/* Write an envelope and a PUBLISH and an ALERT frame carrying it. */
static void
emit(const char *name, const uint8_t *env, size_t n)
{
	struct proto_buf	 b;
	struct proto_publish	 pub;
	struct proto_alert_msg	 am;
	char			 fname[256];

	write_file(env_dir, name, env, n);
	pbuf_init(&b);
	memset(&pub, 0, sizeof(pub));
	pub.envelope.p = env;
	pub.envelope.len = n;
	pub.remind_after = 600000;
	pub.max_reminders = 2;
	proto_publish_encode(&b, &pub);
	memset(&am, 0, sizeof(am));
	am.seq = 42;
	am.flags = PROTO_AF_RESENT;
	am.envelope = pub.envelope;
	proto_alert_msg_encode(&b, &am);
	if (b.err != 0)
		die("frame encoding");
	snprintf(fname, sizeof(fname), "env-%s", name);
	write_file(frame_dir, fname, b.data, b.len);
	pbuf_free(&b);
}

static void
sign_emit(const char *name, const struct proto_alert *a, EVP_PKEY *k,
    X509 *c)
{
	struct proto_buf	 b;

	pbuf_init(&b);
	if (proto_envelope_sign(&b, a, k, c) != 0)
		die(name);
	emit(name, b.data, b.len);
	pbuf_free(&b);
}

/* An envelope put together by hand: any certificate, a made-up signature. */
static void
raw_emit(const char *name, const struct proto_alert *a, X509 *c)
{
	struct proto_buf	 body, b;
	struct proto_envelope	 e;
	uint8_t			 sig[PROTO_SIG_LEN], *der = NULL;
	int			 n;

	pbuf_init(&body);
	pbuf_init(&b);
	proto_alert_encode(&body, a);
	if ((n = i2d_X509(c, &der)) <= 0)
		die("i2d_X509");
	memset(sig, 0x5a, sizeof(sig));
	e.body.p = body.data;
	e.body.len = body.len;
	e.cert.p = der;
	e.cert.len = (size_t)n;
	e.sig.p = sig;
	e.sig.len = sizeof(sig);
	proto_envelope_encode(&b, &e);
	if (body.err != 0 || b.err != 0)
		die(name);
	emit(name, b.data, b.len);
	OPENSSL_free(der);
	pbuf_free(&body);
	pbuf_free(&b);
}

/* STATUS with nodes and members, and an ESCALATION, in one stream. */
static void
lists(void)
{
	struct proto_buf		 b, l;
	struct proto_status		 st;
	struct proto_status_node	 nd;
	struct proto_status_member	 m;
	struct proto_escalation		 esc;
	size_t				 mark;
	uint8_t				*nodes, *members;
	size_t				 nn, nm;
	int				 i;

	pbuf_init(&l);
	mark = pbuf_list_begin(&l, 6);
	for (i = 0; i < 3; i++) {
		memset(&nd, 0, sizeof(nd));
		snprintf(nd.node, sizeof(nd.node), i == 0 ? "school-a" :
		    "class-%d", i);
		if (i > 0)
			snprintf(nd.parent, sizeof(nd.parent), "school-a");
		nd.tier = i == 0 ? PROTO_TIER_SCHOOL : PROTO_TIER_CLASS;
		set_view(&nd.name, i == 0 ? "School A" : "");
		nd.targeted = 10;
		nd.delivered = 9;
		nd.read = (uint32_t)(5 + i);
		nd.relayed = 1;
		nd.reach = 40;
		nd.shown = (uint32_t)(7 + i);
		proto_status_node_put(&l, &nd);
	}
	pbuf_list_end(&l, mark, 6);
	nodes = pbuf_take(&l, &nn);
	mark = pbuf_list_begin(&l, 7);
	for (i = 0; i < 3; i++) {
		memset(&m, 0, sizeof(m));
		snprintf(m.cn, sizeof(m.cn), "advisor-%d", i);
		snprintf(m.node, sizeof(m.node), "class-%d", i % 2 + 1);
		/* delivered, read, and shown (4, ranked between them) */
		m.state = (uint8_t)(i < 2 ? i + 1 : PROTO_ACK_SHOWN);
		m.at = i ? UINT64_C(1800000001000) : 0;
		proto_status_member_put(&l, &m);
	}
	pbuf_list_end(&l, mark, 7);
	members = pbuf_take(&l, &nm);
	if (nodes == NULL || members == NULL)
		die("lists");

	pbuf_init(&b);
	memset(&st, 0, sizeof(st));
	snprintf(st.id, sizeof(st.id), "20270115-seed-0001");
	st.seq = 7;
	snprintf(st.target, sizeof(st.target), "school-a");
	st.issued_at = UINT64_C(1800000000000);
	st.expires_at = UINT64_C(1800086400000);
	st.nodes.p = nodes + PROTO_FIELD_HDR;
	st.nodes.len = nn - PROTO_FIELD_HDR;
	st.members.p = members + PROTO_FIELD_HDR;
	st.members.len = nm - PROTO_FIELD_HDR;
	st.omitted = 3;
	proto_status_encode(&b, &st);
	memset(&esc, 0, sizeof(esc));
	snprintf(esc.id, sizeof(esc.id), "20270115-seed-0001");
	esc.seq = 8;
	snprintf(esc.node, sizeof(esc.node), "school-a");
	esc.members = st.members;
	esc.omitted = 1;
	proto_escalation_encode(&b, &esc);
	if (b.err != 0)
		die("status");
	write_file(frame_dir, "status-escalation", b.data, b.len);
	pbuf_free(&b);
	free(nodes);
	free(members);
}

int
main(int argc, char **argv)
{
	struct proto_alert	 a;
	EVP_PKEY		*officer_key, *officer2_key, *other_key;
	EVP_PKEY		*revoked_key;
	X509			*officer, *officer2, *other, *revoked, *ec;

	if (argc != 4) {
		fprintf(stderr, "usage: fuzz-seed-gen DATA_DIR ENV_DIR "
		    "FRAME_DIR\n");
		return 2;
	}
	data_dir = argv[1];
	env_dir = argv[2];
	frame_dir = argv[3];
	officer_key = load_key("officer.key");
	officer = load_cert("officer.crt");
	officer2_key = load_key("officer2.key");
	officer2 = load_cert("officer2.crt");
	other_key = load_key("other.key");
	other = load_cert("other.crt");
	revoked_key = load_key("revoked.key");
	revoked = load_cert("revoked.crt");
	ec = load_cert("ec.crt");

	base_alert(&a, "officer-1");
	sign_emit("good-alert", &a, officer_key, officer);
	set_view(&a.instruction, "\xe8\xaf\xb7\xe6\x8c\x82\xe6\x96\xad");
	a.relay_required = 1;
	a.category = PROTO_CAT_KNOWLEDGE;
	sign_emit("good-instruction", &a, officer_key, officer);
	base_alert(&a, "officer-1");
	a.msg_type = PROTO_MSG_UPDATE;
	snprintf(a.references, sizeof(a.references), "20270115-seed-0000");
	set_view(&a.text, "");
	a.severity = PROTO_SEV_UNKNOWN;
	sign_emit("good-update", &a, officer_key, officer);
	a.msg_type = PROTO_MSG_CANCEL;
	a.category = PROTO_CAT_CASE_FOLLOWUP;
	sign_emit("good-cancel", &a, officer_key, officer);
	base_alert(&a, "officer-2");
	snprintf(a.target, sizeof(a.target), "dept-1-a");
	sign_emit("good-officer2", &a, officer2_key, officer2);

	base_alert(&a, "officer-1");
	sign_emit("foreign-ca", &a, other_key, other);
	base_alert(&a, "officer-revoked");
	sign_emit("revoked", &a, revoked_key, revoked);
	base_alert(&a, "officer-1");
	sign_emit("issuer-mismatch", &a, officer2_key, officer2);
	base_alert(&a, "officer-ec");
	raw_emit("not-ed25519", &a, ec);
	base_alert(&a, "officer-1");
	raw_emit("bad-signature", &a, officer);

	lists();

	EVP_PKEY_free(officer_key);
	EVP_PKEY_free(officer2_key);
	EVP_PKEY_free(other_key);
	EVP_PKEY_free(revoked_key);
	X509_free(officer);
	X509_free(officer2);
	X509_free(other);
	X509_free(revoked);
	X509_free(ec);
	return 0;
}
