/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of proto/: the test vectors of PROTOCOL.md (read at run time,
 * so the document and the code cannot drift) decode and encode back to the
 * same bytes and the bad ones are refused with their codes; every message
 * survives a round trip; every rule of the strict decoder refuses what it
 * should; and signed envelopes detect tampering, foreign and revoked
 * certificates, issuer mismatches and keys that are not Ed25519.
 *
 * usage: test-proto PROTOCOL.md TEST_DATA_DIR
 */

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "proto.h"

/* Pseudo types of the vectors that are not frames. */
#define T_BODY		0x100
#define T_ENVELOPE	0x101
#define T_RECEIPT	0x102	/* a receipt body */
#define T_STORED_RCPT	0x103	/* a stored receipt */
#define T_AUDIT_ENTRY	0x104	/* an audit log entry (field list) */
#define VEC_MAX		256
#define VEC_AT		INT64_C(1800000000)	/* 2027-01-15, certs valid */
#define AID		"20270115-4f1c9e2ab37d5a60"

struct vec {
	char		 name[64];
	int		 type;
	int		 bad;
	int		 error;
	int64_t		 at;
	uint8_t		*b;
	size_t		 len;
};

static const char	*doc_path;		/* proto/PROTOCOL.md */
static char		 data_dir[PATH_MAX];	/* tests/unit/data/proto */
static struct vec	 vecs[VEC_MAX];
static size_t		 nvecs;

/* Keys, certificates and stores from data_dir, loaded once. */
static EVP_PKEY		*officer_key, *officer2_key, *revoked_key, *ec_key;
static EVP_PKEY		*other_key;
static X509		*officer_crt, *officer2_crt, *revoked_crt, *ec_crt;
static X509		*other_crt, *ca_crt;
static X509_CRL		*ca_crl;
static X509_STORE	*store, *crl_store;

/* --- helpers ----------------------------------------------------------- */

static char *
slurp(const char *path, size_t *lenp)
{
	FILE	*f;
	char	*buf;
	long	 n;

	if ((f = fopen(path, "rb")) == NULL)
		fail_msg("%s: cannot open", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (lenp != NULL)
		*lenp = (size_t)n;
	return buf;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Append hex pairs of s (white space and '#' comments skipped) to out. */
static size_t
unhex(const char *s, uint8_t *out, size_t max)
{
	size_t	n = 0;
	int	hi, lo;

	while (*s != '\0') {
		if (*s == '#') {
			while (*s != '\0' && *s != '\n')
				s++;
			continue;
		}
		if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') {
			s++;
			continue;
		}
		hi = hexval((unsigned char)s[0]);
		lo = s[1] ? hexval((unsigned char)s[1]) : -1;
		if (hi < 0 || lo < 0)
			fail_msg("bad hex near \"%.12s\"", s);
		if (n == max)
			fail_msg("hex longer than %zu bytes", max);
		out[n++] = (uint8_t)(hi << 4 | lo);
		s += 2;
	}
	return n;
}

static int
type_of(const char *s)
{
	static const int types[] = {
		PROTO_T_HELLO, PROTO_T_WELCOME, PROTO_T_PUBLISH,
		PROTO_T_PUBLISHED, PROTO_T_ALERT, PROTO_T_ACK, PROTO_T_ACK_OK,
		PROTO_T_STATUS_REQ, PROTO_T_STATUS, PROTO_T_PING, PROTO_T_PONG,
		PROTO_T_ERROR, PROTO_T_BYE, PROTO_T_ESCALATION,
		PROTO_T_AGENTS_REQ, PROTO_T_AGENTS, PROTO_T_SCHEDULE_REQ,
		PROTO_T_SCHEDULE, PROTO_T_REPORT_REQ, PROTO_T_REPORT,
		PROTO_T_RECEIPTS_REQ, PROTO_T_RECEIPTS,
		PROTO_T_AUDIT_REQ, PROTO_T_AUDIT,
		PROTO_T_ENVELOPE_REQ, PROTO_T_ENVELOPE,	/* cap */
		PROTO_T_CLUE, PROTO_T_CLUE_OK, PROTO_T_CLUE_PUSH,
		PROTO_T_CLUE_MARK, PROTO_T_CLUES_REQ, PROTO_T_CLUES,
	};
	size_t	i;

	if (strcmp(s, "audit-entry") == 0)
		return T_AUDIT_ENTRY;
	if (strcmp(s, "receipt") == 0)
		return T_RECEIPT;
	if (strcmp(s, "stored-receipt") == 0)
		return T_STORED_RCPT;
	if (strcmp(s, "body") == 0)
		return T_BODY;
	if (strcmp(s, "envelope") == 0)
		return T_ENVELOPE;
	if (strncmp(s, "0x", 2) == 0)
		return (int)strtol(s + 2, NULL, 16);
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (strcmp(proto_type_name(types[i]), s) == 0)
			return types[i];
	}
	fail_msg("unknown vector type %s", s);
	return -1;
}

/* One "key=value key=value" info string into v. */
static void
vec_attrs(struct vec *v, char *info)
{
	char	*tok, *eq, *save = NULL;

	v->type = -1;
	for (tok = strtok_r(info, " \t", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t", &save)) {
		if ((eq = strchr(tok, '=')) == NULL)
			fail_msg("vector attribute without '=': %s", tok);
		*eq++ = '\0';
		if (strcmp(tok, "name") == 0)
			snprintf(v->name, sizeof(v->name), "%s", eq);
		else if (strcmp(tok, "type") == 0)
			v->type = type_of(eq);
		else if (strcmp(tok, "error") == 0)
			v->error = atoi(eq);
		else if (strcmp(tok, "at") == 0)
			v->at = strtoll(eq, NULL, 10);
		else
			fail_msg("unknown vector attribute %s", tok);
	}
	if (v->name[0] == '\0' || v->type == -1)
		fail_msg("vector without name or type");
	if (v->bad && v->error == 0)
		fail_msg("%s: vector-bad without error=", v->name);
}

/* Collect every ```vector and ```vector-bad block of the document. */
static void
vec_load(void)
{
	char	*doc, *line, *next, *info, *body = NULL;
	size_t	 bodylen = 0, n;
	struct vec *v = NULL;
	uint8_t	 tmp[70000];

	doc = slurp(doc_path, NULL);
	for (line = doc; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (v == NULL) {
			if (strncmp(line, "```vector", 9) != 0)
				continue;
			if (nvecs == VEC_MAX)
				fail_msg("more than %d vectors", VEC_MAX);
			v = &vecs[nvecs++];
			memset(v, 0, sizeof(*v));
			info = line + 9;
			if (strncmp(info, "-bad", 4) == 0) {
				v->bad = 1;
				info += 4;
			}
			if (*info != ' ')
				fail_msg("bad vector line: %s", line);
			vec_attrs(v, info);
			bodylen = 0;
			continue;
		}
		if (strncmp(line, "```", 3) == 0) {
			n = unhex(body != NULL ? body : "", tmp, sizeof(tmp));
			v->b = malloc(n ? n : 1);
			assert_non_null(v->b);
			memcpy(v->b, tmp, n);
			v->len = n;
			free(body);
			body = NULL;
			v = NULL;
			continue;
		}
		n = strlen(line);
		body = realloc(body, bodylen + n + 2);
		assert_non_null(body);
		memcpy(body + bodylen, line, n);
		bodylen += n;
		body[bodylen++] = '\n';
		body[bodylen] = '\0';
	}
	if (v != NULL)
		fail_msg("%s: vector block not closed", v->name);
	free(doc);
}

static EVP_PKEY *
load_key(const char *name)
{
	char		 path[PATH_MAX];
	FILE		*f;
	EVP_PKEY	*k;

	if (snprintf(path, sizeof(path), "%s/%s", data_dir, name) >=
	    (int)sizeof(path))
		fail_msg("path too long");
	if ((f = fopen(path, "r")) == NULL)
		fail_msg("%s: cannot open", path);
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (k == NULL)
		fail_msg("%s: not a private key", path);
	return k;
}

static X509 *
load_cert(const char *name)
{
	char	 path[PATH_MAX];
	FILE	*f;
	X509	*x;

	if (snprintf(path, sizeof(path), "%s/%s", data_dir, name) >=
	    (int)sizeof(path))
		fail_msg("path too long");
	if ((f = fopen(path, "r")) == NULL)
		fail_msg("%s: cannot open", path);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		fail_msg("%s: not a certificate", path);
	return x;
}

static int
setup(void **state)
{
	char	 path[PATH_MAX];
	FILE	*f;

	(void)state;
	vec_load();
	officer_key = load_key("officer.key");
	officer2_key = load_key("officer2.key");
	revoked_key = load_key("revoked.key");
	ec_key = load_key("ec.key");
	other_key = load_key("other.key");
	officer_crt = load_cert("officer.crt");
	officer2_crt = load_cert("officer2.crt");
	revoked_crt = load_cert("revoked.crt");
	ec_crt = load_cert("ec.crt");
	other_crt = load_cert("other.crt");
	ca_crt = load_cert("ca.crt");
	if (snprintf(path, sizeof(path), "%s/ca.crl", data_dir) >=
	    (int)sizeof(path))
		fail_msg("path too long");
	if ((f = fopen(path, "r")) == NULL)
		fail_msg("%s: cannot open", path);
	ca_crl = PEM_read_X509_CRL(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(ca_crl);
	assert_non_null(store = X509_STORE_new());
	assert_int_equal(X509_STORE_add_cert(store, ca_crt), 1);
	assert_non_null(crl_store = X509_STORE_new());
	assert_int_equal(X509_STORE_add_cert(crl_store, ca_crt), 1);
	assert_int_equal(X509_STORE_add_crl(crl_store, ca_crl), 1);
	X509_STORE_set_flags(crl_store, X509_V_FLAG_CRL_CHECK);
	return 0;
}

static int
teardown(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < nvecs; i++)
		free(vecs[i].b);
	EVP_PKEY_free(officer_key);
	EVP_PKEY_free(officer2_key);
	EVP_PKEY_free(revoked_key);
	EVP_PKEY_free(ec_key);
	EVP_PKEY_free(other_key);
	X509_free(officer_crt);
	X509_free(officer2_crt);
	X509_free(revoked_crt);
	X509_free(ec_crt);
	X509_free(other_crt);
	X509_free(ca_crt);
	X509_CRL_free(ca_crl);
	X509_STORE_free(store);
	X509_STORE_free(crl_store);
	return 0;
}

/* Fail with the offset of the first difference. */
static void
same_bytes(const char *what, const uint8_t *a, size_t alen, const uint8_t *b,
    size_t blen)
{
	size_t	i;

	for (i = 0; i < alen && i < blen; i++) {
		if (a[i] != b[i])
			fail_msg("%s: byte %zu is %02x, want %02x", what, i,
			    a[i], b[i]);
	}
	if (alen != blen)
		fail_msg("%s: %zu bytes, want %zu", what, alen, blen);
}

static struct proto_view
view(const char *s)
{
	struct proto_view	v;

	v.p = (const uint8_t *)s;
	v.len = s != NULL ? strlen(s) : 0;
	return v;
}

static int
view_is(struct proto_view v, const char *s)
{
	return v.len == strlen(s) && (v.len == 0 || memcmp(v.p, s, v.len) == 0);
}

/*
 * Decode a payload of any type (or a body, or an envelope) and, if out
 * is not NULL, encode the result again into it.  Returns the decoder's
 * code; -PROTO_E_TYPE for a type without a decoder.
 */
static int
recode(int type, const uint8_t *p, size_t len, struct proto_buf *out)
{
	union {
		struct proto_hello	 hello;
		struct proto_welcome	 welcome;
		struct proto_publish	 publish;
		struct proto_published	 published;
		struct proto_alert_msg	 alert_msg;
		struct proto_ack	 ack;
		struct proto_ack_ok	 ack_ok;
		struct proto_status_req	 status_req;
		struct proto_ping	 ping;
		struct proto_error	 error;
		struct proto_bye	 bye;
		struct proto_alert	 alert;
		struct proto_envelope	 env;
		struct proto_escalation	 escalation;
		struct proto_agents_req	 agents_req;
		struct proto_schedule_req schedule_req;
		struct proto_report_req	 report_req;
		struct proto_agents	 agents;
		struct proto_schedule	 schedule;
		struct proto_report	 report;
		struct proto_receipt	 receipt;
		struct proto_stored_receipt stored_receipt;
		struct proto_receipts_req receipts_req;
		struct proto_receipts	 receipts;
		struct proto_audit_req	 audit_req;
		struct proto_audit	 audit;
		struct audit_entry	 entry;
		struct proto_envelope_req envelope_req;	/* cap */
		struct proto_envelope_msg envelope_msg;
		struct proto_clue_msg	 clue_msg;	/* clues */
		struct proto_clue_ok	 clue_ok;
		struct proto_clue_push	 clue_push;
		struct proto_clues_req	 clues_req;
		struct proto_clues	 clues;
	} u;
	char	 text[PROTO_REASON_MAX + 1];
	int	 rc;

#define RECODE(fn, m) \
	do { \
		if ((rc = proto_##fn##_decode(p, len, &u.m)) == 0 && \
		    out != NULL) \
			proto_##fn##_encode(out, &u.m); \
		return rc; \
	} while (0)
	/* A message with one list: rebuilt through its iterator and _put. */
#define RELIST(fn, m, list, tag, item) \
	do { \
		struct item	 it_; \
		struct proto_buf l_; \
		size_t		 cur_ = 0, mark_; \
		if ((rc = proto_##fn##_decode(p, len, &u.m)) != 0 || \
		    out == NULL) \
			return rc; \
		pbuf_init(&l_); \
		mark_ = pbuf_list_begin(&l_, (tag)); \
		while ((rc = item##_next(&u.m.list, &cur_, &it_)) == 1) \
			item##_put(&l_, &it_); \
		assert_int_equal(rc, 0); \
		pbuf_list_end(&l_, mark_, (tag)); \
		assert_int_equal(l_.err, 0); \
		u.m.list.p = l_.data + PROTO_FIELD_HDR; \
		u.m.list.len = l_.len - PROTO_FIELD_HDR; \
		proto_##fn##_encode(out, &u.m); \
		pbuf_free(&l_); \
		return 0; \
	} while (0)

	switch (type) {
	case PROTO_T_HELLO:
		RECODE(hello, hello);
	case PROTO_T_WELCOME:
		RECODE(welcome, welcome);
	case PROTO_T_PUBLISH:
		RECODE(publish, publish);
	case PROTO_T_PUBLISHED:
		RECODE(published, published);
	case PROTO_T_ALERT:
		RECODE(alert_msg, alert_msg);
	case PROTO_T_ACK:
		RECODE(ack, ack);
	case PROTO_T_ACK_OK:
		RECODE(ack_ok, ack_ok);
	case PROTO_T_STATUS_REQ:
		RECODE(status_req, status_req);
	case PROTO_T_ESCALATION:
		RECODE(escalation, escalation);
	case PROTO_T_AGENTS_REQ:
		RECODE(agents_req, agents_req);
	case PROTO_T_SCHEDULE_REQ:
		RECODE(schedule_req, schedule_req);
	case PROTO_T_REPORT_REQ:
		RECODE(report_req, report_req);
	case PROTO_T_AGENTS:
		RELIST(agents, agents, principals, 3, proto_agent_item);
	case PROTO_T_SCHEDULE:
		RELIST(schedule, schedule, alerts, 2, proto_schedule_item);
	case PROTO_T_REPORT:
		RELIST(report, report, rows, 6, proto_report_row);
	case PROTO_T_RECEIPTS_REQ:
		RECODE(receipts_req, receipts_req);
	case PROTO_T_RECEIPTS:
		RELIST(receipts, receipts, items, 3, proto_receipt_item);
	case T_RECEIPT:
		RECODE(receipt, receipt);
	case T_STORED_RCPT:
		RECODE(stored_receipt, stored_receipt);
	case PROTO_T_AUDIT_REQ:
		RECODE(audit_req, audit_req);
	case PROTO_T_AUDIT:
		RELIST(audit, audit, items, 4, proto_audit_item);
	case T_AUDIT_ENTRY:
		if ((rc = audit_entry_decode(p, len, &u.entry)) == 0 &&
		    out != NULL)
			(void)audit_entry_encode(out, u.entry.kind, u.entry.at,
			    u.entry.daemon, u.entry.data.p, u.entry.data.len);
		return rc;
	case PROTO_T_ENVELOPE_REQ:	/* cap */
		RECODE(envelope_req, envelope_req);
	case PROTO_T_ENVELOPE:
		RECODE(envelope_msg, envelope_msg);
	case PROTO_T_CLUE:
	case PROTO_T_CLUE_MARK:
		if ((rc = proto_clue_msg_decode(p, len, &u.clue_msg)) == 0 &&
		    out != NULL)
			proto_clue_msg_encode(out, (uint8_t)type, &u.clue_msg);
		return rc;
	case PROTO_T_CLUE_OK:
		RECODE(clue_ok, clue_ok);
	case PROTO_T_CLUE_PUSH:
		RECODE(clue_push, clue_push);
	case PROTO_T_CLUES_REQ:
		RECODE(clues_req, clues_req);
	case PROTO_T_CLUES:
		RELIST(clues, clues, clues, 3, proto_clue_item);
	case T_BODY:
		RECODE(alert, alert);
	case T_ENVELOPE:
		RECODE(envelope, env);
	case PROTO_T_PING:
	case PROTO_T_PONG:
		if ((rc = proto_ping_decode(p, len, &u.ping)) == 0 &&
		    out != NULL)
			proto_ping_encode(out, (uint8_t)type, &u.ping);
		return rc;
	case PROTO_T_ERROR:
		if ((rc = proto_error_decode(p, len, &u.error)) == 0 &&
		    out != NULL) {
			if (u.error.text.len > 0)
				memcpy(text, u.error.text.p, u.error.text.len);
			text[u.error.text.len] = '\0';
			proto_error_encode(out, u.error.code, text,
			    u.error.ref);
		}
		return rc;
	case PROTO_T_BYE:
		if ((rc = proto_bye_decode(p, len, &u.bye)) == 0 &&
		    out != NULL) {
			if (u.bye.text.len > 0)
				memcpy(text, u.bye.text.p, u.bye.text.len);
			text[u.bye.text.len] = '\0';
			proto_bye_encode(out, u.bye.code, text);
		}
		return rc;
	case PROTO_T_STATUS:
		break;
	default:
		return -PROTO_E_TYPE;
	}
#undef RECODE
#undef RELIST
	{
		struct proto_status		 st;
		struct proto_status_node	 n;
		struct proto_status_member	 m;
		struct proto_buf		 l;
		size_t				 cur, mark, nl;

		if ((rc = proto_status_decode(p, len, &st)) != 0 || out == NULL)
			return rc;
		/* Rebuild both lists through the iterators and _put. */
		pbuf_init(&l);
		mark = pbuf_list_begin(&l, 6);
		cur = 0;
		while ((rc = proto_status_node_next(&st.nodes, &cur, &n)) == 1)
			proto_status_node_put(&l, &n);
		assert_int_equal(rc, 0);
		pbuf_list_end(&l, mark, 6);
		nl = l.len;
		if (st.members.len > 0) {
			mark = pbuf_list_begin(&l, 7);
			cur = 0;
			while ((rc = proto_status_member_next(&st.members,
			    &cur, &m)) == 1)
				proto_status_member_put(&l, &m);
			assert_int_equal(rc, 0);
			pbuf_list_end(&l, mark, 7);
		}
		assert_int_equal(l.err, 0);
		st.nodes.p = l.data + PROTO_FIELD_HDR;
		st.nodes.len = nl - PROTO_FIELD_HDR;
		if (st.members.len > 0) {
			st.members.p = l.data + nl + PROTO_FIELD_HDR;
			st.members.len = l.len - nl - PROTO_FIELD_HDR;
		}
		proto_status_encode(out, &st);
		pbuf_free(&l);
		return 0;
	}
}

/* Decode a whole frame: header (default maximum), then its payload. */
static int
frame_decode(const uint8_t *b, size_t len, int *typep)
{
	uint8_t		 type;
	uint32_t	 plen;
	int		 rc;

	assert_true(len >= PROTO_FRAME_HDR);
	if ((rc = proto_frame_header(b, PROTO_FRAME_MAX_DEFAULT, &type,
	    &plen)) != 0)
		return rc;
	assert_int_equal(len, PROTO_FRAME_HDR + (size_t)plen);
	if (typep != NULL)
		*typep = type;
	return recode(type, b + PROTO_FRAME_HDR, plen, NULL);
}

/* Verify an envelope against the plain store at the vectors' time. */
static int
verify(const uint8_t *p, size_t len, X509_STORE *st, int64_t at,
    char *why, size_t whylen)
{
	struct proto_alert	a;

	return proto_envelope_verify(p, len, st, at, &a, why, whylen);
}

/* --- the vectors of PROTOCOL.md ---------------------------------------- */

static void
test_vectors_cover_every_type(void **state)
{
	static const int want[] = {
		PROTO_T_HELLO, PROTO_T_WELCOME, PROTO_T_PUBLISH,
		PROTO_T_PUBLISHED, PROTO_T_ALERT, PROTO_T_ACK, PROTO_T_ACK_OK,
		PROTO_T_STATUS_REQ, PROTO_T_STATUS, PROTO_T_PING, PROTO_T_PONG,
		PROTO_T_ERROR, PROTO_T_BYE, T_BODY, T_ENVELOPE,
		PROTO_T_AGENTS_REQ, PROTO_T_AGENTS, PROTO_T_SCHEDULE_REQ,
		PROTO_T_SCHEDULE, PROTO_T_REPORT_REQ, PROTO_T_REPORT,
		PROTO_T_RECEIPTS_REQ, PROTO_T_RECEIPTS, T_RECEIPT, T_STORED_RCPT,
		PROTO_T_AUDIT_REQ, PROTO_T_AUDIT, T_AUDIT_ENTRY,
		PROTO_T_ENVELOPE_REQ, PROTO_T_ENVELOPE,	/* cap */
		PROTO_T_CLUE, PROTO_T_CLUE_OK, PROTO_T_CLUE_PUSH,
		PROTO_T_CLUE_MARK, PROTO_T_CLUES_REQ, PROTO_T_CLUES,
	};
	size_t	i, j, nbad = 0;
	int	found;

	(void)state;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		found = 0;
		for (j = 0; j < nvecs; j++)
			found |= !vecs[j].bad && vecs[j].type == want[i];
		if (!found)
			fail_msg("PROTOCOL.md has no vector of type 0x%x",
			    want[i]);
	}
	for (i = 0; i < nvecs; i++) {
		nbad += vecs[i].bad;
		for (j = 0; j < i; j++) {
			if (strcmp(vecs[i].name, vecs[j].name) == 0)
				fail_msg("vector %s twice", vecs[i].name);
		}
	}
	assert_true(nbad >= 10);
}

/* A good envelope: recode, verify, and sign again to the same bytes. */
static void
vector_envelope(const struct vec *v)
{
	struct proto_envelope	 e;
	struct proto_alert	 a, va;
	struct proto_buf	 b;
	char			 why[256], what[128];
	int			 rc;

	assert_int_equal(proto_envelope_decode(v->b, v->len, &e), 0);
	assert_int_equal(proto_alert_decode(e.body.p, e.body.len, &a), 0);
	pbuf_init(&b);
	proto_alert_encode(&b, &a);
	assert_int_equal(b.err, 0);
	snprintf(what, sizeof(what), "%.64s body", v->name);
	same_bytes(what, b.data, b.len, e.body.p, e.body.len);
	pbuf_free(&b);
	rc = proto_envelope_verify(v->b, v->len, store, v->at, &va, why,
	    sizeof(why));
	if (rc != 0)
		fail_msg("%s: verify: %s: %s", v->name, proto_err_name(-rc),
		    why);
	assert_string_equal(va.id, a.id);
	assert_true(va.headline.p == a.headline.p);
	pbuf_init(&b);
	assert_int_equal(proto_envelope_sign(&b, &a, officer_key, officer_crt),
	    0);
	snprintf(what, sizeof(what), "%.64s signed again", v->name);
	same_bytes(what, b.data, b.len, v->b, v->len);
	pbuf_free(&b);
}

static void
test_vectors_recode(void **state)
{
	struct proto_buf	 b;
	struct proto_alert_msg	 am;
	struct proto_publish	 pub;
	size_t			 i, n = 0;
	int			 rc, type;
	char			 why[256];
	const uint8_t		*p;

	(void)state;
	for (i = 0; i < nvecs; i++) {
		const struct vec *v = &vecs[i];

		if (v->bad)
			continue;
		n++;
		pbuf_init(&b);
		if (v->type == T_ENVELOPE) {
			vector_envelope(v);
			rc = recode(v->type, v->b, v->len, &b);
		} else if (v->type == T_BODY || v->type == T_AUDIT_ENTRY ||
		    v->type == T_RECEIPT || v->type == T_STORED_RCPT) {
			rc = recode(v->type, v->b, v->len, &b);
		} else {
			if ((rc = frame_decode(v->b, v->len, &type)) != 0)
				fail_msg("%s: %s", v->name,
				    proto_err_name(-rc));
			if (type != v->type)
				fail_msg("%s: type 0x%02x, want 0x%02x",
				    v->name, type, v->type);
			p = v->b + PROTO_FRAME_HDR;
			rc = recode(type, p, v->len - PROTO_FRAME_HDR, &b);
		}
		if (rc != 0)
			fail_msg("%s: refused: %s", v->name,
			    proto_err_name(-rc));
		if (b.err != 0)
			fail_msg("%s: encoder error %d", v->name, b.err);
		same_bytes(v->name, b.data, b.len, v->b, v->len);
		pbuf_free(&b);
		/* The envelopes inside PUBLISH and ALERT hold, too. */
		if (v->type == PROTO_T_PUBLISH) {
			assert_int_equal(proto_publish_decode(v->b + 5,
			    v->len - 5, &pub), 0);
			rc = verify(pub.envelope.p, pub.envelope.len, store,
			    VEC_AT, why, sizeof(why));
			assert_int_equal(rc, 0);
		} else if (v->type == PROTO_T_ALERT) {
			assert_int_equal(proto_alert_msg_decode(v->b + 5,
			    v->len - 5, &am), 0);
			rc = verify(am.envelope.p, am.envelope.len, store,
			    VEC_AT, why, sizeof(why));
			assert_int_equal(rc, 0);
		}
	}
	assert_true(n >= 15);
}

static void
test_vectors_bad_refused(void **state)
{
	size_t	i;
	int	rc, type;
	char	why[256];

	(void)state;
	for (i = 0; i < nvecs; i++) {
		const struct vec *v = &vecs[i];

		if (!v->bad)
			continue;
		type = -1;
		if (v->type == T_BODY || v->type == T_AUDIT_ENTRY ||
		    v->type == T_RECEIPT || v->type == T_STORED_RCPT)
			rc = recode(v->type, v->b, v->len, NULL);
		else if (v->type == T_ENVELOPE)
			rc = verify(v->b, v->len, store, v->at, why,
			    sizeof(why));
		else {
			rc = frame_decode(v->b, v->len, &type);
			if (rc != -PROTO_E_FRAME && rc != -PROTO_E_FRAME_SIZE &&
			    type != v->type)
				fail_msg("%s: type 0x%02x, want 0x%02x",
				    v->name, type, v->type);
		}
		if (rc != -v->error)
			fail_msg("%s: got %d (%s), want %d (%s)", v->name, -rc,
			    proto_err_name(-rc), v->error,
			    proto_err_name(v->error));
	}
}

/* --- receipts ----------------------------------------------------------- */

static const struct vec *
vec_named(const char *name)
{
	size_t	i;

	for (i = 0; i < nvecs; i++)
		if (strcmp(vecs[i].name, name) == 0)
			return &vecs[i];
	fail_msg("no vector %s", name);
	return NULL;
}

/* The DER of x in a fresh buffer (the caller frees it with OPENSSL_free). */
static uint8_t *
der_of(X509 *x, size_t *len)
{
	uint8_t	*der = NULL;
	int	 n;

	assert_true((n = i2d_X509(x, &der)) > 0);
	*len = (size_t)n;
	return der;
}

/*
 * The signed ack of PROTOCOL.md: its receipt is for envelope-signed, its
 * signature is officer-1's and made again to the same bytes, and stored
 * it is receipt-stored.
 */
static void
test_receipt_vector_signs_and_stores(void **state)
{
	const struct vec		*va, *ve, *vs;
	struct proto_ack		 ack;
	struct proto_receipt		 r, mine;
	struct proto_stored_receipt	 st;
	struct proto_buf		 b;
	uint8_t				 h[PROTO_HASH_LEN], fp[PROTO_HASH_LEN];
	uint8_t				 sig[PROTO_SIG_LEN], *der;
	size_t				 derlen;

	(void)state;
	va = vec_named("ack-signed");
	ve = vec_named("envelope-signed");
	vs = vec_named("receipt-stored");
	assert_int_equal(proto_ack_decode(va->b + PROTO_FRAME_HDR,
	    va->len - PROTO_FRAME_HDR, &ack), 0);
	assert_int_equal(proto_receipt_decode(ack.receipt.p, ack.receipt.len,
	    &r), 0);
	assert_int_equal(proto_sha256(ve->b, ve->len, h), 0);
	assert_memory_equal(r.env_hash.p, h, PROTO_HASH_LEN);
	assert_string_equal(r.id, ack.id);
	assert_string_equal(r.principal, "officer-1");
	assert_int_equal(r.state, PROTO_ACK_RELAYED);
	assert_true(r.has_reach && r.reach == 42 && r.at == 1800000060000ULL);
	/* Made again from the fields: the same body and signature. */
	memset(&mine, 0, sizeof(mine));
	mine = r;
	pbuf_init(&b);
	assert_int_equal(proto_receipt_make(&b, &mine, officer_key, sig), 0);
	same_bytes("receipt made again", b.data, b.len, ack.receipt.p,
	    ack.receipt.len);
	assert_memory_equal(sig, ack.sig.p, PROTO_SIG_LEN);
	pbuf_free(&b);
	assert_int_equal(proto_receipt_check_sig(ack.receipt.p,
	    ack.receipt.len, ack.sig.p, ack.sig.len,
	    X509_get0_pubkey(officer_crt)), 0);
	assert_int_equal(proto_receipt_check_sig(ack.receipt.p,
	    ack.receipt.len, ack.sig.p, ack.sig.len,
	    X509_get0_pubkey(officer2_crt)), -PROTO_E_RECEIPT);
	/* Not Ed25519: no receipt is signed or checked with it. */
	assert_int_equal(proto_receipt_sign(ack.receipt.p, ack.receipt.len,
	    ec_key, sig), -1);
	der = der_of(officer_crt, &derlen);
	assert_int_equal(proto_sha256(der, derlen, fp), 0);
	memset(&st, 0, sizeof(st));
	st.body = ack.receipt;
	st.cert_fp.p = fp;
	st.cert_fp.len = sizeof(fp);
	st.sig = ack.sig;
	pbuf_init(&b);
	proto_stored_receipt_encode(&b, &st);
	assert_int_equal(b.err, 0);
	same_bytes("receipt stored", b.data, b.len, vs->b, vs->len);
	pbuf_free(&b);
	OPENSSL_free(der);
}

/* proto_receipt_verify takes the stored vector, and refuses each change. */
static void
test_receipt_verify_refuses_what_was_changed(void **state)
{
	const struct vec	*vs, *ve;
	struct proto_receipt	 r, forged;
	struct proto_stored_receipt st;
	struct proto_buf	 b, body;
	uint8_t			 h[PROTO_HASH_LEN], bad[PROTO_HASH_LEN];
	uint8_t			 fp[PROTO_HASH_LEN], sig[PROTO_SIG_LEN];
	uint8_t			 copy[1024], *der, *oder;
	size_t			 derlen, oderlen, i;
	char			 why[256];

	(void)state;
	vs = vec_named("receipt-stored");
	ve = vec_named("envelope-signed");
	assert_int_equal(proto_sha256(ve->b, ve->len, h), 0);
	der = der_of(officer_crt, &derlen);
	oder = der_of(officer2_crt, &oderlen);
	assert_int_equal(proto_receipt_verify(vs->b, vs->len, der, derlen,
	    store, VEC_AT, h, &r, why, sizeof(why)), 0);
	assert_string_equal(r.principal, "officer-1");
	/* Every byte of the body and the signature counts. */
	assert_true(vs->len <= sizeof(copy));
	for (i = 0; i < vs->len; i++) {
		memcpy(copy, vs->b, vs->len);
		copy[i] ^= 0x01;
		if (proto_receipt_verify(copy, vs->len, der, derlen, store,
		    VEC_AT, h, NULL, why, sizeof(why)) == 0)
			fail_msg("byte %zu changed and still verifies", i);
	}
	/* Another envelope's hash. */
	memcpy(bad, h, sizeof(bad));
	bad[0] ^= 0xff;
	assert_int_equal(proto_receipt_verify(vs->b, vs->len, der, derlen,
	    store, VEC_AT, bad, NULL, why, sizeof(why)), -PROTO_E_RECEIPT);
	assert_non_null(strstr(why, "another envelope"));
	/* Another certificate than the fingerprint names. */
	assert_int_equal(proto_receipt_verify(vs->b, vs->len, oder, oderlen,
	    store, VEC_AT, h, NULL, why, sizeof(why)), -PROTO_E_CERT);
	/* With the CRL checked too: officer-1 is not revoked. */
	assert_int_equal(proto_receipt_verify(vs->b, vs->len, der, derlen,
	    crl_store, VEC_AT, h, NULL, why, sizeof(why)), 0);
	/* Signed by officer-1 in officer-2's name: the CN gives it away. */
	assert_int_equal(proto_stored_receipt_decode(vs->b, vs->len, &st), 0);
	assert_int_equal(proto_receipt_decode(st.body.p, st.body.len, &forged),
	    0);
	snprintf(forged.principal, sizeof(forged.principal), "officer-2");
	pbuf_init(&body);
	assert_int_equal(proto_receipt_make(&body, &forged, officer_key, sig),
	    0);
	assert_int_equal(proto_sha256(der, derlen, fp), 0);
	st.body.p = body.data;
	st.body.len = body.len;
	st.sig.p = sig;
	pbuf_init(&b);
	proto_stored_receipt_encode(&b, &st);
	assert_int_equal(proto_receipt_verify(b.data, b.len, der, derlen,
	    store, VEC_AT, h, NULL, why, sizeof(why)), -PROTO_E_RECEIPT);
	assert_non_null(strstr(why, "officer-2"));
	pbuf_free(&b);
	pbuf_free(&body);
	OPENSSL_free(der);
	OPENSSL_free(oder);
}

/* --- frames and buffers ------------------------------------------------ */

static void
test_frame_header_limits(void **state)
{
	uint8_t		 h[5] = { 0, 0, 0, 0, 0x40 }, type = 0;
	uint32_t	 plen = 0;

	(void)state;
	assert_int_equal(proto_frame_header(h, 100, &type, &plen),
	    -PROTO_E_FRAME);
	h[3] = 1;
	assert_int_equal(proto_frame_header(h, 100, &type, &plen), 0);
	assert_int_equal(type, 0x40);
	assert_int_equal(plen, 0);
	h[3] = 100;
	assert_int_equal(proto_frame_header(h, 100, &type, &plen), 0);
	assert_int_equal(plen, 99);
	h[3] = 101;
	assert_int_equal(proto_frame_header(h, 100, &type, &plen),
	    -PROTO_E_FRAME_SIZE);
	/* 0x01000001 is above the 16 MiB cap whatever max says. */
	h[0] = 1;
	h[3] = 1;
	assert_int_equal(proto_frame_header(h, UINT32_MAX, &type, &plen),
	    -PROTO_E_FRAME_SIZE);
	h[3] = 0;
	assert_int_equal(proto_frame_header(h, UINT32_MAX, &type, &plen), 0);
	assert_int_equal(plen, PROTO_FRAME_MAX_LIMIT - 1);
}

static void
test_buf_writers(void **state)
{
	struct proto_buf	 b;
	uint8_t			*p;
	size_t			 len, mark, item;
	static const uint8_t	 want[] = {
		0x00, 0x00, 0x00, 0x1b, 0x7f,
		0x01, 0x00, 0x01, 0xaa,
		0x02, 0x00, 0x02, 0x01, 0x02,
		0x03, 0x00, 0x07,
		    0x00, 0x05, 0x01, 0x00, 0x02, 'h', 'i',
		0x04, 0x00, 0x00,
		0x05, 0x00, 0x01, 'x',
	};

	(void)state;
	pbuf_init(&b);
	mark = pbuf_frame_begin(&b);
	pbuf_u8(&b, 1, 0xaa);
	pbuf_u16(&b, 2, 0x0102);
	len = pbuf_list_begin(&b, 3);
	item = pbuf_item_begin(&b);
	pbuf_str(&b, 1, "hi");
	pbuf_item_end(&b, item);
	pbuf_list_end(&b, len, 3);
	pbuf_bytes(&b, 4, NULL, 0);
	pbuf_str(&b, 5, "x");
	pbuf_str(&b, 6, NULL);
	pbuf_frame_end(&b, mark, 0x7f);
	assert_int_equal(b.err, 0);
	p = pbuf_take(&b, &len);
	same_bytes("writers", p, len, want, sizeof(want));
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	free(p);

	/* Tags out of order and over-long values poison the buffer. */
	pbuf_init(&b);
	pbuf_u8(&b, 2, 1);
	pbuf_u8(&b, 2, 1);
	assert_int_equal(b.err, PROTO_E_FIELD);
	len = b.len;
	pbuf_u8(&b, 3, 1);
	assert_int_equal(b.len, len);
	assert_null(pbuf_take(&b, &len));
	assert_int_equal(len, 0);

	pbuf_init(&b);
	p = calloc(1, 70000);
	assert_non_null(p);
	pbuf_bytes(&b, 1, p, 65535);
	assert_int_equal(b.err, 0);
	pbuf_bytes(&b, 2, p, 65536);
	assert_int_equal(b.err, PROTO_E_TOO_LONG);
	pbuf_free(&b);
	/* A list longer than a field can hold. */
	pbuf_init(&b);
	mark = pbuf_list_begin(&b, 1);
	item = pbuf_item_begin(&b);
	pbuf_bytes(&b, 1, p, 40000);
	pbuf_item_end(&b, item);
	item = pbuf_item_begin(&b);
	pbuf_bytes(&b, 1, p, 40000);
	pbuf_item_end(&b, item);
	pbuf_list_end(&b, mark, 1);
	assert_int_equal(b.err, PROTO_E_TOO_LONG);
	pbuf_free(&b);
	free(p);
	pbuf_free(NULL);

	/* An empty buffer still hands over something to free. */
	pbuf_init(&b);
	p = pbuf_take(&b, &len);
	assert_non_null(p);
	assert_int_equal(len, 0);
	free(p);
}

/* --- round trips ------------------------------------------------------- */

/*
 * Encode in with enc, check the frame header, decode the payload with dec
 * into out, and encode out again: the same bytes.  The frame stays in
 * *keep (out's views point into it) until the caller frees it.
 */
#define ROUND(enc, dec, in, out, type, keep) \
	do { \
		struct proto_buf	 rb2_; \
		uint8_t			 t_; \
		uint32_t		 pl_; \
		pbuf_free(keep); \
		pbuf_init(&rb2_); \
		enc((keep), (in)); \
		assert_int_equal((keep)->err, 0); \
		assert_int_equal(proto_frame_header((keep)->data, \
		    PROTO_FRAME_MAX_DEFAULT, &t_, &pl_), 0); \
		assert_int_equal(t_, (type)); \
		assert_int_equal((keep)->len, PROTO_FRAME_HDR + pl_); \
		assert_int_equal(dec((keep)->data + PROTO_FRAME_HDR, pl_, \
		    (out)), 0); \
		enc(&rb2_, (out)); \
		same_bytes(#enc, rb2_.data, rb2_.len, (keep)->data, \
		    (keep)->len); \
		pbuf_free(&rb2_); \
	} while (0)

/* PING's encoder in the shape ROUND wants. */
static void
ping_encode(struct proto_buf *b, const struct proto_ping *p)
{
	proto_ping_encode(b, PROTO_T_PING, p);
}

static void
test_round_trip_session(void **state)
{
	struct proto_hello	h = { 1, PROTO_ROLE_CONSOLE, 45, 99,
				    { NULL, 0 } };
	struct proto_hello	h2;
	struct proto_welcome	w, w2;
	struct proto_ping	p = { UINT64_MAX }, p2;
	struct proto_buf	k;

	(void)state;
	pbuf_init(&k);
	h.agent = view("wuzhactl/0.1.0");
	ROUND(proto_hello_encode, proto_hello_decode, &h, &h2, PROTO_T_HELLO,
	    &k);
	assert_int_equal(h2.version, 1);
	assert_int_equal(h2.role, PROTO_ROLE_CONSOLE);
	assert_int_equal(h2.heartbeat, 45);
	assert_int_equal(h2.last_seq, 99);
	assert_true(view_is(h2.agent, "wuzhactl/0.1.0"));

	memset(&h, 0, sizeof(h));
	h.version = 1;
	h.role = PROTO_ROLE_AGENT;
	ROUND(proto_hello_encode, proto_hello_decode, &h, &h2, PROTO_T_HELLO,
	    &k);
	assert_int_equal(h2.heartbeat, 0);
	assert_int_equal(h2.last_seq, 0);
	assert_int_equal(h2.agent.len, 0);

	memset(&w, 0, sizeof(w));
	w.version = 1;
	strcpy(w.principal, "Desk.School_A-1");
	strcpy(w.node, "school-a");
	w.rights = PROTO_R_RECEIVE | PROTO_R_ISSUE | PROTO_R_OBSERVE;
	w.heartbeat = 0;
	w.server_time = 1;
	w.max_frame = PROTO_FRAME_MAX_LIMIT;
	ROUND(proto_welcome_encode, proto_welcome_decode, &w, &w2,
	    PROTO_T_WELCOME, &k);
	assert_string_equal(w2.principal, "Desk.School_A-1");
	assert_string_equal(w2.node, "school-a");
	assert_int_equal(w2.rights, 7);
	assert_int_equal(w2.heartbeat, 0);
	assert_int_equal(w2.max_frame, PROTO_FRAME_MAX_LIMIT);

	ROUND(ping_encode, proto_ping_decode, &p, &p2, PROTO_T_PING, &k);
	assert_true(p2.nonce == UINT64_MAX);
	pbuf_free(&k);
}

static void
test_round_trip_requests(void **state)
{
	struct proto_publish	pub = { { (const uint8_t *)"\x01\0\0", 3 },
				    0, 0, 0 };
	struct proto_publish	pub2;
	struct proto_published	pd = { AID, UINT64_MAX, 0, 0 }, pd2;
	struct proto_alert_msg	am = { 7, PROTO_AF_REMINDER | PROTO_AF_RESENT,
				    { (const uint8_t *)"xyz", 3 } }, am2;
	struct proto_ack	ack, ack2;
	struct proto_ack_ok	ok = { AID, PROTO_ACK_READ }, ok2;
	struct proto_status_req	sr, sr2;
	struct proto_buf	k;

	(void)state;
	pbuf_init(&k);
	ROUND(proto_publish_encode, proto_publish_decode, &pub, &pub2,
	    PROTO_T_PUBLISH, &k);
	assert_int_equal(pub2.envelope.len, 3);
	ROUND(proto_published_encode, proto_published_decode, &pd, &pd2,
	    PROTO_T_PUBLISHED, &k);
	assert_string_equal(pd2.id, AID);
	assert_true(pd2.seq == UINT64_MAX);
	assert_int_equal(pd2.targeted, 0);
	assert_true(pd2.publish_at == 0);
	/* Held: seq 0 is still sent, publish_at says until when. */
	pd.seq = 0;
	pd.targeted = 57;
	pd.publish_at = 1800003600000ULL;
	ROUND(proto_published_encode, proto_published_decode, &pd, &pd2,
	    PROTO_T_PUBLISHED, &k);
	assert_true(pd2.seq == 0);
	assert_int_equal(pd2.targeted, 57);
	assert_true(pd2.publish_at == 1800003600000ULL);
	ROUND(proto_alert_msg_encode, proto_alert_msg_decode, &am, &am2,
	    PROTO_T_ALERT, &k);
	assert_int_equal(am2.seq, 7);
	assert_int_equal(am2.flags, 3);
	assert_true(view_is(am2.envelope, "xyz"));

	memset(&ack, 0, sizeof(ack));
	strcpy(ack.id, AID);
	ack.state = PROTO_ACK_DELIVERED;
	ack.reach = 12;			/* no has_reach: left out */
	ROUND(proto_ack_encode, proto_ack_decode, &ack, &ack2, PROTO_T_ACK,
	    &k);
	assert_int_equal(ack2.has_reach, 0);
	assert_int_equal(ack2.reach, 0);
	ack.state = PROTO_ACK_RELAYED;
	ack.reach = 0;
	ack.has_reach = 1;
	ROUND(proto_ack_encode, proto_ack_decode, &ack, &ack2, PROTO_T_ACK,
	    &k);
	assert_int_equal(ack2.has_reach, 1);
	assert_int_equal(ack2.reach, 0);
	assert_int_equal(ack2.state, PROTO_ACK_RELAYED);
	ack.state = PROTO_ACK_SHOWN;
	ack.has_reach = 0;
	ROUND(proto_ack_encode, proto_ack_decode, &ack, &ack2, PROTO_T_ACK,
	    &k);
	assert_int_equal(ack2.state, PROTO_ACK_SHOWN);
	assert_int_equal(ack2.has_reach, 0);

	ROUND(proto_ack_ok_encode, proto_ack_ok_decode, &ok, &ok2,
	    PROTO_T_ACK_OK, &k);
	assert_int_equal(ok2.state, PROTO_ACK_READ);
	ok.state = PROTO_ACK_SHOWN;
	ROUND(proto_ack_ok_encode, proto_ack_ok_decode, &ok, &ok2,
	    PROTO_T_ACK_OK, &k);
	assert_int_equal(ok2.state, PROTO_ACK_SHOWN);

	memset(&sr, 0, sizeof(sr));
	strcpy(sr.id, AID);
	ROUND(proto_status_req_encode, proto_status_req_decode, &sr, &sr2,
	    PROTO_T_STATUS_REQ, &k);
	assert_string_equal(sr2.node, "");
	assert_int_equal(sr2.flags, 0);
	strcpy(sr.node, "class-3a");
	sr.flags = PROTO_SF_MEMBERS;
	ROUND(proto_status_req_encode, proto_status_req_decode, &sr, &sr2,
	    PROTO_T_STATUS_REQ, &k);
	assert_string_equal(sr2.node, "class-3a");
	assert_int_equal(sr2.flags, PROTO_SF_MEMBERS);
	sr.flags = PROTO_SF_MEMBERS | PROTO_SF_WATCH;
	ROUND(proto_status_req_encode, proto_status_req_decode, &sr, &sr2,
	    PROTO_T_STATUS_REQ, &k);
	assert_int_equal(sr2.flags, PROTO_SF_MEMBERS | PROTO_SF_WATCH);
	pbuf_free(&k);
}

static void
test_round_trip_status(void **state)
{
	struct proto_status		 st, st2;
	struct proto_status_node	 n, n2;
	struct proto_status_member	 m, m2;
	struct proto_buf		 l, b, k;
	size_t				 mark, cur;
	uint8_t				 t;
	uint32_t			 pl;

	(void)state;
	pbuf_init(&k);
	memset(&st, 0, sizeof(st));
	strcpy(st.id, AID);
	st.seq = 3;
	strcpy(st.target, "police-1");
	st.issued_at = 10;
	st.expires_at = 20;
	/* An empty node list is still sent; no members: left out. */
	pbuf_init(&b);
	proto_status_encode(&b, &st);
	assert_int_equal(b.err, 0);
	assert_int_equal(proto_frame_header(b.data, 1000, &t, &pl), 0);
	assert_int_equal(proto_status_decode(b.data + 5, pl, &st2), 0);
	assert_int_equal(st2.nodes.len, 0);
	assert_int_equal(st2.members.len, 0);
	cur = 0;
	assert_int_equal(proto_status_node_next(&st2.nodes, &cur, &n2), 0);
	pbuf_free(&b);

	memset(&n, 0, sizeof(n));
	strcpy(n.node, "police-1");
	n.tier = PROTO_TIER_POLICE;
	n.name = view("");
	n.targeted = UINT32_MAX;
	memset(&m, 0, sizeof(m));
	strcpy(m.cn, "officer-1");
	strcpy(m.node, "police-1");
	m.state = PROTO_ACK_NONE;
	pbuf_init(&l);
	mark = pbuf_list_begin(&l, 6);
	proto_status_node_put(&l, &n);
	strcpy(n.parent, "police-1");
	strcpy(n.node, "school-b");
	n.tier = PROTO_TIER_SCHOOL;
	n.name = view("第二中学");
	n.shown = 2;
	proto_status_node_put(&l, &n);
	pbuf_list_end(&l, mark, 6);
	st.nodes.p = l.data + 3;
	st.nodes.len = l.len - 3;
	pbuf_init(&b);
	mark = pbuf_list_begin(&b, 7);
	proto_status_member_put(&b, &m);
	m.state = PROTO_ACK_READ;
	m.at = 1800000000001ULL;
	m.online = 1;
	proto_status_member_put(&b, &m);
	m.state = PROTO_ACK_SHOWN;
	proto_status_member_put(&b, &m);
	pbuf_list_end(&b, mark, 7);
	st.status = PROTO_STATUS_TEST;
	st.server_time = 1800000000002ULL;
	st.members.p = b.data + 3;
	st.members.len = b.len - 3;
	ROUND(proto_status_encode, proto_status_decode, &st, &st2,
	    PROTO_T_STATUS, &k);
	pbuf_free(&l);
	pbuf_free(&b);

	cur = 0;
	assert_int_equal(proto_status_node_next(&st2.nodes, &cur, &n2), 1);
	assert_string_equal(n2.node, "police-1");
	assert_string_equal(n2.parent, "");
	assert_int_equal(n2.targeted, UINT32_MAX);
	assert_int_equal(n2.shown, 0);	/* absent: zero */
	assert_int_equal(proto_status_node_next(&st2.nodes, &cur, &n2), 1);
	assert_string_equal(n2.parent, "police-1");
	assert_true(view_is(n2.name, "第二中学"));
	assert_int_equal(n2.shown, 2);
	assert_int_equal(proto_status_node_next(&st2.nodes, &cur, &n2), 0);
	cur = 0;
	assert_int_equal(proto_status_member_next(&st2.members, &cur, &m2), 1);
	assert_int_equal(m2.state, PROTO_ACK_NONE);
	assert_int_equal(m2.at, 0);
	assert_int_equal(m2.online, 0);
	assert_int_equal(proto_status_member_next(&st2.members, &cur, &m2), 1);
	assert_int_equal(m2.state, PROTO_ACK_READ);
	assert_true(m2.at == 1800000000001ULL);
	assert_int_equal(m2.online, 1);
	assert_int_equal(proto_status_member_next(&st2.members, &cur, &m2), 1);
	assert_int_equal(m2.state, PROTO_ACK_SHOWN);
	assert_int_equal(proto_status_member_next(&st2.members, &cur, &m2), 0);
	assert_int_equal(st2.status, PROTO_STATUS_TEST);
	assert_true(st2.server_time == 1800000000002ULL);
	pbuf_free(&k);
}

/* The console's requests: every field optional but the report's range. */
static void
test_round_trip_console_requests(void **state)
{
	struct proto_agents_req		 ar, ar2;
	struct proto_schedule_req	 sq, sq2;
	struct proto_report_req		 rq, rq2;
	struct proto_buf		 k;

	(void)state;
	pbuf_init(&k);
	memset(&ar, 0, sizeof(ar));
	ROUND(proto_agents_req_encode, proto_agents_req_decode, &ar, &ar2,
	    PROTO_T_AGENTS_REQ, &k);
	assert_int_equal(k.len, PROTO_FRAME_HDR);
	assert_string_equal(ar2.node, "");
	strcpy(ar.node, "grade-3");
	ROUND(proto_agents_req_encode, proto_agents_req_decode, &ar, &ar2,
	    PROTO_T_AGENTS_REQ, &k);
	assert_string_equal(ar2.node, "grade-3");

	memset(&sq, 0, sizeof(sq));
	ROUND(proto_schedule_req_encode, proto_schedule_req_decode, &sq, &sq2,
	    PROTO_T_SCHEDULE_REQ, &k);
	assert_int_equal(k.len, PROTO_FRAME_HDR);
	strcpy(sq.node, "school-a");
	ROUND(proto_schedule_req_encode, proto_schedule_req_decode, &sq, &sq2,
	    PROTO_T_SCHEDULE_REQ, &k);
	assert_string_equal(sq2.node, "school-a");

	/* from 0 is still sent: both ends of the range are required. */
	memset(&rq, 0, sizeof(rq));
	rq.to = UINT64_MAX;
	ROUND(proto_report_req_encode, proto_report_req_decode, &rq, &rq2,
	    PROTO_T_REPORT_REQ, &k);
	assert_string_equal(rq2.node, "");
	assert_true(rq2.from == 0);
	assert_true(rq2.to == UINT64_MAX);
	strcpy(rq.node, "class-3a");
	rq.from = 1798732800000ULL;
	rq.to = 1801411200000ULL;
	ROUND(proto_report_req_encode, proto_report_req_decode, &rq, &rq2,
	    PROTO_T_REPORT_REQ, &k);
	assert_string_equal(rq2.node, "class-3a");
	assert_true(rq2.from == 1798732800000ULL);
	assert_true(rq2.to == 1801411200000ULL);
	pbuf_free(&k);
}

/* Point a message's list view at the list field built in l. */
static struct proto_view
list_view(const struct proto_buf *l)
{
	struct proto_view	v;

	assert_int_equal(l->err, 0);
	v.p = l->data + PROTO_FIELD_HDR;
	v.len = l->len - PROTO_FIELD_HDR;
	return v;
}

static void
test_round_trip_agents(void **state)
{
	struct proto_agents	 a, a2;
	struct proto_agent_item	 it, it2;
	struct proto_buf	 l, k;
	size_t			 mark, cur;

	(void)state;
	pbuf_init(&k);
	/* No principals: the empty list is still sent. */
	memset(&a, 0, sizeof(a));
	strcpy(a.node, "class-3b");
	ROUND(proto_agents_encode, proto_agents_decode, &a, &a2,
	    PROTO_T_AGENTS, &k);
	assert_int_equal(a2.principals.len, 0);
	assert_true(a2.server_time == 0);
	cur = 0;
	assert_int_equal(proto_agent_item_next(&a2.principals, &cur, &it2), 0);

	pbuf_init(&l);
	mark = pbuf_list_begin(&l, 3);
	memset(&it, 0, sizeof(it));
	strcpy(it.cn, "dean-3");
	strcpy(it.node, "grade-3");
	it.rights = PROTO_R_RECEIVE | PROTO_R_ISSUE | PROTO_R_OBSERVE;
	proto_agent_item_put(&l, &it);
	strcpy(it.cn, "advisor-3a");
	strcpy(it.node, "class-3a");
	it.rights = 0;
	it.online = UINT8_MAX;
	it.since = 1799996400000ULL;
	it.last_seen = 1799999400000ULL;
	proto_agent_item_put(&l, &it);
	pbuf_list_end(&l, mark, 3);
	a.principals = list_view(&l);
	a.server_time = 1800000000000ULL;
	a.omitted = 7;
	ROUND(proto_agents_encode, proto_agents_decode, &a, &a2,
	    PROTO_T_AGENTS, &k);
	pbuf_free(&l);
	assert_string_equal(a2.node, "class-3b");
	assert_true(a2.server_time == 1800000000000ULL);
	assert_int_equal(a2.omitted, 7);

	cur = 0;
	assert_int_equal(proto_agent_item_next(&a2.principals, &cur, &it2), 1);
	assert_string_equal(it2.cn, "dean-3");
	assert_string_equal(it2.node, "grade-3");
	assert_int_equal(it2.rights, 7);
	assert_int_equal(it2.online, 0);
	assert_true(it2.since == 0 && it2.last_seen == 0);
	assert_int_equal(proto_agent_item_next(&a2.principals, &cur, &it2), 1);
	assert_string_equal(it2.cn, "advisor-3a");
	assert_int_equal(it2.rights, 0);
	assert_int_equal(it2.online, UINT8_MAX);
	assert_true(it2.since == 1799996400000ULL);
	assert_true(it2.last_seen == 1799999400000ULL);
	assert_int_equal(proto_agent_item_next(&a2.principals, &cur, &it2), 0);
	pbuf_free(&k);
}

static void
test_round_trip_schedule(void **state)
{
	struct proto_schedule		 sc, sc2;
	struct proto_schedule_item	 it, it2;
	struct proto_buf		 l, k;
	char				 h[PROTO_HEADLINE_MAX + 1];
	size_t				 mark, cur;

	(void)state;
	memset(h, 'h', sizeof(h));
	pbuf_init(&k);
	pbuf_init(&l);
	mark = pbuf_list_begin(&l, 2);
	memset(&it, 0, sizeof(it));
	strcpy(it.id, AID);
	strcpy(it.issuer, "officer-1");
	strcpy(it.target, "school-a");
	it.msg_type = PROTO_MSG_ALERT;
	it.publish_at = 1800007200000ULL;
	it.expires_at = 1800086400000ULL;
	it.headline = view("防诈骗演练");
	it.status = PROTO_STATUS_EXERCISE;
	proto_schedule_item_put(&l, &it);
	strcpy(it.id, "a-2");
	it.msg_type = PROTO_MSG_CANCEL;
	it.headline.p = (const uint8_t *)h;
	it.headline.len = PROTO_HEADLINE_MAX;
	it.status = PROTO_STATUS_ACTUAL;
	proto_schedule_item_put(&l, &it);
	pbuf_list_end(&l, mark, 2);
	memset(&sc, 0, sizeof(sc));
	sc.server_time = 1800000000000ULL;
	sc.alerts = list_view(&l);
	ROUND(proto_schedule_encode, proto_schedule_decode, &sc, &sc2,
	    PROTO_T_SCHEDULE, &k);
	pbuf_free(&l);
	assert_true(sc2.server_time == 1800000000000ULL);
	assert_int_equal(sc2.omitted, 0);

	cur = 0;
	assert_int_equal(proto_schedule_item_next(&sc2.alerts, &cur, &it2), 1);
	assert_string_equal(it2.id, AID);
	assert_string_equal(it2.issuer, "officer-1");
	assert_string_equal(it2.target, "school-a");
	assert_int_equal(it2.msg_type, PROTO_MSG_ALERT);
	assert_true(it2.publish_at == 1800007200000ULL);
	assert_true(it2.expires_at == 1800086400000ULL);
	assert_true(view_is(it2.headline, "防诈骗演练"));
	assert_int_equal(it2.status, PROTO_STATUS_EXERCISE);
	assert_int_equal(proto_schedule_item_next(&sc2.alerts, &cur, &it2), 1);
	assert_int_equal(it2.msg_type, PROTO_MSG_CANCEL);
	assert_int_equal(it2.headline.len, PROTO_HEADLINE_MAX);
	assert_int_equal(it2.status, PROTO_STATUS_ACTUAL);
	assert_int_equal(proto_schedule_item_next(&sc2.alerts, &cur, &it2), 0);

	/* A headline over the limit poisons the list. */
	pbuf_init(&l);
	mark = pbuf_list_begin(&l, 2);
	it.headline.len = PROTO_HEADLINE_MAX + 1;
	proto_schedule_item_put(&l, &it);
	pbuf_list_end(&l, mark, 2);
	assert_int_equal(l.err, PROTO_E_TOO_LONG);
	pbuf_free(&l);
	pbuf_free(&k);
}

static void
test_round_trip_report(void **state)
{
	struct proto_report	 r, r2;
	struct proto_report_row	 w, w2;
	struct proto_buf	 l, k;
	size_t			 mark, cur;

	(void)state;
	pbuf_init(&k);
	pbuf_init(&l);
	mark = pbuf_list_begin(&l, 6);
	/* The first row: required fields only, all zero. */
	memset(&w, 0, sizeof(w));
	strcpy(w.node, "police-1");
	w.tier = PROTO_TIER_POLICE;
	w.name = view("");
	proto_report_row_put(&l, &w);
	strcpy(w.node, "class-3a");
	strcpy(w.parent, "grade-3");
	w.tier = PROTO_TIER_CLASS;
	w.name = view("三年级一班");
	w.alerts = 4;
	w.targeted = UINT32_MAX;
	w.delivered = 8;
	w.read = 7;
	w.relayed = 3;
	w.delivered_in_time = 8;
	w.read_in_time = 6;
	w.relayed_in_time = 2;
	w.median_read_ms = UINT64_MAX;
	w.drill_alerts = 1;
	w.drill_targeted = 2;
	w.drill_delivered = 3;
	w.drill_read = 4;
	w.drill_relayed = 5;
	w.shown = 9;
	w.shown_in_time = 7;
	w.drill_shown = 6;
	proto_report_row_put(&l, &w);
	pbuf_list_end(&l, mark, 6);
	memset(&r, 0, sizeof(r));
	strcpy(r.node, "police-1");
	r.from = 1;
	r.to = 2;
	r.rows = list_view(&l);
	ROUND(proto_report_encode, proto_report_decode, &r, &r2,
	    PROTO_T_REPORT, &k);
	pbuf_free(&l);
	assert_string_equal(r2.node, "police-1");
	assert_true(r2.from == 1 && r2.to == 2);
	assert_int_equal(r2.alerts, 0);
	assert_int_equal(r2.drills, 0);
	assert_int_equal(r2.omitted, 0);

	cur = 0;
	assert_int_equal(proto_report_row_next(&r2.rows, &cur, &w2), 1);
	assert_string_equal(w2.node, "police-1");
	assert_string_equal(w2.parent, "");
	assert_int_equal(w2.tier, PROTO_TIER_POLICE);
	assert_int_equal(w2.name.len, 0);
	assert_int_equal(w2.alerts, 0);
	assert_true(w2.median_read_ms == 0);
	assert_int_equal(w2.drill_alerts, 0);
	assert_int_equal(w2.shown, 0);
	assert_int_equal(proto_report_row_next(&r2.rows, &cur, &w2), 1);
	assert_string_equal(w2.parent, "grade-3");
	assert_true(view_is(w2.name, "三年级一班"));
	assert_int_equal(w2.targeted, UINT32_MAX);
	assert_int_equal(w2.read, 7);
	assert_int_equal(w2.delivered_in_time, 8);
	assert_int_equal(w2.read_in_time, 6);
	assert_int_equal(w2.relayed_in_time, 2);
	assert_true(w2.median_read_ms == UINT64_MAX);
	assert_int_equal(w2.drill_alerts, 1);
	assert_int_equal(w2.drill_targeted, 2);
	assert_int_equal(w2.drill_delivered, 3);
	assert_int_equal(w2.drill_read, 4);
	assert_int_equal(w2.drill_relayed, 5);
	assert_int_equal(w2.shown, 9);
	assert_int_equal(w2.shown_in_time, 7);
	assert_int_equal(w2.drill_shown, 6);
	assert_int_equal(proto_report_row_next(&r2.rows, &cur, &w2), 0);
	pbuf_free(&k);
}

static void
test_round_trip_error_bye(void **state)
{
	struct proto_buf	 b;
	struct proto_error	 e;
	struct proto_bye	 y;
	char			 big[3000];
	uint8_t			 t;
	uint32_t		 pl;

	(void)state;
	pbuf_init(&b);
	proto_error_encode(&b, PROTO_E_FORBIDDEN, "officer-9 may not observe",
	    AID);
	assert_int_equal(proto_frame_header(b.data, 1000, &t, &pl), 0);
	assert_int_equal(t, PROTO_T_ERROR);
	assert_int_equal(proto_error_decode(b.data + 5, pl, &e), 0);
	assert_int_equal(e.code, PROTO_E_FORBIDDEN);
	assert_true(view_is(e.text, "officer-9 may not observe"));
	assert_string_equal(e.ref, AID);
	pbuf_free(&b);

	/* Text cut at a character boundary, bad bytes replaced, bad ref out. */
	memset(big, 'a', sizeof(big));
	memcpy(big + 1022, "\xe4\xb8\xad", 3);	/* crosses byte 1024 */
	big[5] = (char)0xff;
	big[sizeof(big) - 1] = '\0';
	proto_error_encode(&b, PROTO_E_INTERNAL, big, "-not-an-id");
	assert_int_equal(b.err, 0);
	assert_int_equal(proto_frame_header(b.data, 4000, &t, &pl), 0);
	assert_int_equal(proto_error_decode(b.data + 5, pl, &e), 0);
	assert_int_equal(e.text.len, 1022);
	assert_int_equal(e.text.p[5], '?');
	assert_string_equal(e.ref, "");
	pbuf_free(&b);

	proto_error_encode(&b, PROTO_E_INTERNAL, NULL, NULL);
	assert_int_equal(proto_frame_header(b.data, 1000, &t, &pl), 0);
	assert_int_equal(proto_error_decode(b.data + 5, pl, &e), 0);
	assert_int_equal(e.text.len, 0);
	pbuf_free(&b);

	proto_bye_encode(&b, 0, "");
	assert_int_equal(b.len, 5);
	assert_int_equal(proto_bye_decode(b.data + 5, 0, &y), 0);
	assert_int_equal(y.code, 0);
	assert_int_equal(y.text.len, 0);
	pbuf_free(&b);
	proto_bye_encode(&b, PROTO_E_SHUTDOWN, "bye");
	assert_int_equal(proto_frame_header(b.data, 1000, &t, &pl), 0);
	assert_int_equal(proto_bye_decode(b.data + 5, pl, &y), 0);
	assert_int_equal(y.code, PROTO_E_SHUTDOWN);
	assert_true(view_is(y.text, "bye"));
	pbuf_free(&b);

	/* PING's encoder only makes PING and PONG. */
	proto_ping_encode(&b, PROTO_T_BYE, &(struct proto_ping){ 1 });
	assert_int_equal(b.err, PROTO_E_TYPE);
	pbuf_free(&b);
}

/* --- the strict decoder ------------------------------------------------ */

struct refusal {
	const char	*what;
	int		 type;
	const char	*hex;		/* payload */
	int		 err;
};

#define V1	"010002 0001 "		/* version 1 */
#define R1	"020001 01 "		/* role agent */
#define ID	"010019 3230323730313135 2d 3466316339653261 6233376435613630 "

static const struct refusal refusals[] = {
	{ "hello accepted", PROTO_T_HELLO, V1 R1, 0 },
	{ "duplicate tag", PROTO_T_HELLO, V1 V1 R1, PROTO_E_FIELD },
	{ "descending tag", PROTO_T_HELLO, R1 V1, PROTO_E_FIELD },
	{ "unknown tag", PROTO_T_HELLO, V1 R1 "090001 00", PROTO_E_TAG },
	{ "unknown tag 0", PROTO_T_HELLO, "000000" V1 R1, PROTO_E_TAG },
	{ "truncated header 1", PROTO_T_HELLO, V1 R1 "05", PROTO_E_FIELD },
	{ "truncated header 2", PROTO_T_HELLO, V1 R1 "0500", PROTO_E_FIELD },
	{ "length past end", PROTO_T_HELLO, V1 R1 "050004 616263",
	    PROTO_E_FIELD },
	{ "u16 in 1 byte", PROTO_T_HELLO, "010001 01" R1, PROTO_E_FIELD },
	{ "u16 in 4 bytes", PROTO_T_HELLO, "010004 00000001" R1,
	    PROTO_E_FIELD },
	{ "u8 in 2 bytes", PROTO_T_HELLO, V1 "020002 0001", PROTO_E_FIELD },
	{ "u8 in 0 bytes", PROTO_T_HELLO, V1 "020000", PROTO_E_FIELD },
	{ "u32 in 8 bytes", PROTO_T_HELLO, V1 R1 "030008 000000000000001e",
	    PROTO_E_FIELD },
	{ "u64 in 4 bytes", PROTO_T_HELLO, V1 R1 "040004 00000001",
	    PROTO_E_FIELD },
	{ "u64 in 9 bytes", PROTO_T_HELLO, V1 R1 "040009 000000000000000001",
	    PROTO_E_FIELD },
	{ "missing version", PROTO_T_HELLO, R1, PROTO_E_MISSING },
	{ "missing everything", PROTO_T_HELLO, "", PROTO_E_MISSING },
	{ "zero optional u32", PROTO_T_HELLO, V1 R1 "030004 00000000",
	    PROTO_E_FIELD },
	{ "empty optional text", PROTO_T_HELLO, V1 R1 "050000", PROTO_E_FIELD },
	{ "role 0", PROTO_T_HELLO, V1 "020001 00", PROTO_E_VALUE },
	{ "role 3", PROTO_T_HELLO, V1 "020001 03", PROTO_E_VALUE },
	{ "overlong utf-8", PROTO_T_HELLO, V1 R1 "050002 c0af", PROTO_E_UTF8 },
	{ "overlong 3-byte", PROTO_T_HELLO, V1 R1 "050003 e08080",
	    PROTO_E_UTF8 },
	{ "overlong 4-byte", PROTO_T_HELLO, V1 R1 "050004 f08fbfbf",
	    PROTO_E_UTF8 },
	{ "surrogate", PROTO_T_HELLO, V1 R1 "050003 edbfbf", PROTO_E_UTF8 },
	{ "truncated sequence", PROTO_T_HELLO, V1 R1 "050002 e4b8",
	    PROTO_E_UTF8 },
	{ "lone continuation", PROTO_T_HELLO, V1 R1 "050001 80", PROTO_E_UTF8 },
	{ "NUL", PROTO_T_HELLO, V1 R1 "050001 00", PROTO_E_UTF8 },
	{ "above U+10FFFF", PROTO_T_HELLO, V1 R1 "050004 f4908080",
	    PROTO_E_UTF8 },
	{ "F5 lead", PROTO_T_HELLO, V1 R1 "050004 f5808080", PROTO_E_UTF8 },
	{ "U+10FFFF accepted", PROTO_T_HELLO, V1 R1 "050004 f48fbfbf", 0 },
	{ "trailing garbage", PROTO_T_PING, "010008 0000000000000001 ff",
	    PROTO_E_FIELD },
	{ "ack accepted", PROTO_T_ACK, ID "020001 02", 0 },
	{ "ack state 0", PROTO_T_ACK, ID "020001 00", PROTO_E_VALUE },
	{ "ack state 4 (shown)", PROTO_T_ACK, ID "020001 04", 0 },
	{ "ack state 5", PROTO_T_ACK, ID "020001 05", PROTO_E_VALUE },
	{ "ack reach 3 bytes", PROTO_T_ACK, ID "020001 03 030003 000000",
	    PROTO_E_FIELD },
	{ "ack empty id", PROTO_T_ACK, "010000 020001 01", PROTO_E_VALUE },
	{ "ack id with space", PROTO_T_ACK, "010003 612062 020001 01",
	    PROTO_E_VALUE },
	{ "ack id starts with -", PROTO_T_ACK, "010002 2d61 020001 01",
	    PROTO_E_VALUE },
	{ "ack id starts with .", PROTO_T_ACK, "010002 2e61 020001 01",
	    PROTO_E_VALUE },
	{ "ack_ok state 0", PROTO_T_ACK_OK, ID "020001 00", PROTO_E_VALUE },
	{ "status_req node uppercase", PROTO_T_STATUS_REQ,
	    ID "020002 4142", PROTO_E_VALUE },
	{ "status_req node with dot", PROTO_T_STATUS_REQ,
	    ID "020003 612e62", PROTO_E_VALUE },
	{ "status_req empty node", PROTO_T_STATUS_REQ, ID "020000",
	    PROTO_E_FIELD },
	{ "status_req flags 0", PROTO_T_STATUS_REQ, ID "030001 00",
	    PROTO_E_FIELD },
	{ "status_req flags 4", PROTO_T_STATUS_REQ, ID "030001 04",
	    PROTO_E_VALUE },
	{ "status_req watch", PROTO_T_STATUS_REQ, ID "030001 02", 0 },
	{ "published held", PROTO_T_PUBLISHED,
	    ID "020008 0000000000000000 030004 00000000 "
	    "040008 000001a318933e80", 0 },
	{ "published publish_at 0", PROTO_T_PUBLISHED,
	    ID "020008 0000000000000001 030004 00000000 "
	    "040008 0000000000000000", PROTO_E_FIELD },
	{ "agents_req empty", PROTO_T_AGENTS_REQ, "", 0 },
	{ "agents_req node uppercase", PROTO_T_AGENTS_REQ, "010002 4142",
	    PROTO_E_VALUE },
	{ "agents_req empty node", PROTO_T_AGENTS_REQ, "010000",
	    PROTO_E_FIELD },
	{ "schedule_req unknown tag", PROTO_T_SCHEDULE_REQ, "020001 61",
	    PROTO_E_TAG },
	{ "report_req range", PROTO_T_REPORT_REQ,
	    "020008 0000000000000000 030008 0000000000000001", 0 },
	{ "report_req without to", PROTO_T_REPORT_REQ,
	    "010001 61 020008 0000000000000000", PROTO_E_MISSING },
	{ "report_req from in 4 bytes", PROTO_T_REPORT_REQ,
	    "020004 00000000 030008 0000000000000001", PROTO_E_FIELD },
	{ "agents without principals", PROTO_T_AGENTS,
	    "010001 61 020008 0000000000000001", PROTO_E_MISSING },
	{ "agents empty list", PROTO_T_AGENTS,
	    "010001 61 020008 0000000000000001 030000", 0 },
	{ "agents omitted 0", PROTO_T_AGENTS,
	    "010001 61 020008 0000000000000001 030000 040004 00000000",
	    PROTO_E_FIELD },
	{ "schedule without server_time", PROTO_T_SCHEDULE, "020000",
	    PROTO_E_MISSING },
	{ "report without alerts", PROTO_T_REPORT,
	    "010001 61 020008 0000000000000000 030008 0000000000000001 "
	    "060000", PROTO_E_MISSING },
	{ "report drills 0", PROTO_T_REPORT,
	    "010001 61 020008 0000000000000000 030008 0000000000000001 "
	    "040004 00000000 050004 00000000 060000", PROTO_E_FIELD },
	{ "alert flags 4", PROTO_T_ALERT,
	    "010008 0000000000000001 020001 04 030000", PROTO_E_VALUE },
	{ "alert without envelope", PROTO_T_ALERT,
	    "010008 0000000000000001 020001 00", PROTO_E_MISSING },
	{ "welcome rights 8", PROTO_T_WELCOME,
	    V1 "020001 61 030001 61 040001 08 050004 00000000 "
	    "060008 0000000000000000 070004 00010000", PROTO_E_VALUE },
	{ "welcome without max_frame", PROTO_T_WELCOME,
	    V1 "020001 61 030001 61 040001 07 050004 00000000 "
	    "060008 0000000000000000", PROTO_E_MISSING },
	{ "error without text", PROTO_T_ERROR, "010002 0064", PROTO_E_MISSING },
	{ "error empty text", PROTO_T_ERROR, "010002 0064 020000", 0 },
	{ "error empty ref", PROTO_T_ERROR, "010002 0064 020000 030000",
	    PROTO_E_FIELD },
	{ "bye zero code", PROTO_T_BYE, "010002 0000", PROTO_E_FIELD },
	{ "bye text only", PROTO_T_BYE, "020001 78", 0 },
	{ "ping without nonce", PROTO_T_PING, "", PROTO_E_MISSING },
	{ "ping zero nonce", PROTO_T_PING, "010008 0000000000000000", 0 },
	{ "publish empty envelope", PROTO_T_PUBLISH, "010000", 0 },
};

static void
test_decoder_refusals(void **state)
{
	uint8_t		 p[4096];
	size_t		 i, n;
	int		 rc;

	(void)state;
	for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		n = unhex(refusals[i].hex, p, sizeof(p));
		rc = recode(refusals[i].type, p, n, NULL);
		if (rc != -refusals[i].err)
			fail_msg("%s: got %d (%s), want %d (%s)",
			    refusals[i].what, -rc, proto_err_name(-rc),
			    refusals[i].err, proto_err_name(refusals[i].err));
	}
}

/* Build "tag, len, value" by hand. */
static size_t
put_field(uint8_t *p, uint8_t tag, const void *v, size_t len)
{
	p[0] = tag;
	p[1] = (uint8_t)(len >> 8);
	p[2] = (uint8_t)len;
	if (len > 0)
		memcpy(p + 3, v, len);
	return 3 + len;
}

static void
test_decoder_limits(void **state)
{
	uint8_t			 p[20000];
	char			 s[20000];
	size_t			 n;
	struct proto_ack	 ack;
	struct proto_hello	 h;
	struct proto_error	 e;

	(void)state;
	memset(s, 'a', sizeof(s));
	/* ids: 64 bytes fit, 65 do not. */
	n = put_field(p, 1, s, 64);
	n += put_field(p + n, 2, "\x01", 1);
	assert_int_equal(proto_ack_decode(p, n, &ack), 0);
	assert_int_equal(strlen(ack.id), 64);
	n = put_field(p, 1, s, 65);
	n += put_field(p + n, 2, "\x01", 1);
	assert_int_equal(proto_ack_decode(p, n, &ack), -PROTO_E_TOO_LONG);
	/* HELLO's agent: PROTO_AGENT_MAX. */
	n = unhex(V1 R1, p, sizeof(p));
	assert_int_equal(put_field(p + n, 5, s, PROTO_AGENT_MAX), 3 + 128);
	assert_int_equal(proto_hello_decode(p, n + 3 + PROTO_AGENT_MAX, &h), 0);
	put_field(p + n, 5, s, PROTO_AGENT_MAX + 1);
	assert_int_equal(proto_hello_decode(p, n + 4 + PROTO_AGENT_MAX, &h),
	    -PROTO_E_TOO_LONG);
	/* ERROR's text: PROTO_REASON_MAX. */
	n = unhex("010002 0064", p, sizeof(p));
	put_field(p + n, 2, s, PROTO_REASON_MAX);
	assert_int_equal(proto_error_decode(p, n + 3 + PROTO_REASON_MAX, &e),
	    0);
	put_field(p + n, 2, s, PROTO_REASON_MAX + 1);
	assert_int_equal(proto_error_decode(p, n + 4 + PROTO_REASON_MAX, &e),
	    -PROTO_E_TOO_LONG);
	/* Decoders take NULL for an empty payload. */
	assert_int_equal(proto_bye_decode(NULL, 0, &(struct proto_bye){ 0 }),
	    0);
}

static void
test_status_lists_strict(void **state)
{
	struct proto_status_node	n;
	struct proto_status_member	m;
	struct proto_view		v;
	uint8_t				p[512];
	size_t				len, cur;

	(void)state;
	/* One good member item, then a stray byte. */
	len = unhex("000c 010001 61 020001 61 030001 02 ff", p, sizeof(p));
	v.p = p;
	v.len = len;
	cur = 0;
	assert_int_equal(proto_status_member_next(&v, &cur, &m), 1);
	assert_string_equal(m.cn, "a");
	assert_int_equal(m.state, PROTO_ACK_READ);
	assert_int_equal(proto_status_member_next(&v, &cur, &m),
	    -PROTO_E_FIELD);
	/* An item longer than what is left. */
	len = unhex("000d 010001 61 020001 61 030001 02", p, sizeof(p));
	v.len = len;
	cur = 0;
	assert_int_equal(proto_status_member_next(&v, &cur, &m),
	    -PROTO_E_FIELD);
	/* An empty item lacks everything; an unknown tag in an item. */
	len = unhex("0000", p, sizeof(p));
	v.len = len;
	cur = 0;
	assert_int_equal(proto_status_node_next(&v, &cur, &n),
	    -PROTO_E_MISSING);
	len = unhex("0010 010001 61 020001 61 030001 02 060001 01", p,
	    sizeof(p));
	v.len = len;
	cur = 0;
	assert_int_equal(proto_status_member_next(&v, &cur, &m), -PROTO_E_TAG);
	/* online is 0 or 1, and absent when 0. */
	len = unhex("0010 010001 61 020001 61 030001 02 050001 02", p,
	    sizeof(p));
	v.len = len;
	cur = 0;
	assert_int_equal(proto_status_member_next(&v, &cur, &m),
	    -PROTO_E_VALUE);
	len = unhex("0010 010001 61 020001 61 030001 02 050001 00", p,
	    sizeof(p));
	v.len = len;
	cur = 0;
	assert_int_equal(proto_status_member_next(&v, &cur, &m),
	    -PROTO_E_FIELD);
	/* Node tier 4; a cursor past the end. */
	len = unhex("002e 010001 61 030001 04 040000 050004 00000000 "
	    "060004 00000000 070004 00000000 080004 00000000 "
	    "090004 00000000", p, sizeof(p));
	v.len = len;
	cur = 0;
	assert_int_equal(proto_status_node_next(&v, &cur, &n), -PROTO_E_VALUE);
	cur = len + 1;
	assert_int_equal(proto_status_node_next(&v, &cur, &n), -PROTO_E_FIELD);
	/* STATUS refuses an empty optional member list. */
	len = unhex(ID "020008 0000000000000001 030001 61 "
	    "040008 0000000000000001 050008 0000000000000002 060000 070000",
	    p, sizeof(p));
	assert_int_equal(recode(PROTO_T_STATUS, p, len, NULL), -PROTO_E_FIELD);
	assert_int_equal(recode(PROTO_T_STATUS, p, len - 3, NULL), 0);
}

/* The next item of an AGENTS (0), SCHEDULE (1) or REPORT (2) list. */
static int
console_item_next(int list, const struct proto_view *v, size_t *cur)
{
	struct proto_agent_item		a;
	struct proto_schedule_item	si;
	struct proto_report_row		w;

	switch (list) {
	case 0:
		return proto_agent_item_next(v, cur, &a);
	case 1:
		return proto_schedule_item_next(v, cur, &si);
	default:
		return proto_report_row_next(v, cur, &w);
	}
}

/* Items of the console's lists, through their iterators. */
static void
test_console_lists_strict(void **state)
{
	struct proto_view		v;
	uint8_t				p[512];
	size_t				cur, i;
	static const struct {
		const char	*what;
		int		 list;	/* as console_item_next */
		const char	*hex;	/* a list of one item */
		int		 err;
	} cases[] = {
		{ "agent", 0, "000c 010001 61 020001 61 030001 05", 0 },
		{ "agent unknown tag", 0,
		    "0010 010001 61 020001 61 030001 05 080001 01",
		    PROTO_E_TAG },
		{ "agent without rights", 0, "0008 010001 61 020001 61",
		    PROTO_E_MISSING },
		{ "agent rights 8", 0, "000c 010001 61 020001 61 030001 08",
		    PROTO_E_VALUE },
		{ "agent online 0", 0,
		    "0013 010001 61 020001 61 030001 05 040004 00000000",
		    PROTO_E_FIELD },
		{ "agent online in one byte", 0,
		    "0010 010001 61 020001 61 030001 05 040001 ff",
		    PROTO_E_FIELD },
		{ "agent online 10000", 0,
		    "0013 010001 61 020001 61 030001 05 040004 00002710", 0 },
		{ "agent since 0", 0,
		    "0017 010001 61 020001 61 030001 05 "
		    "050008 0000000000000000", PROTO_E_FIELD },
		{ "agent cn with space", 0,
		    "000e 010003 612062 020001 61 030001 05", PROTO_E_VALUE },
		{ "held", 1,
		    "002a 010001 61 020001 62 030001 63 040001 01 "
		    "050008 0000000000000001 060008 0000000000000002 "
		    "070001 68", 0 },
		{ "held status 3", 1,
		    "002e 010001 61 020001 62 030001 63 040001 01 "
		    "050008 0000000000000001 060008 0000000000000002 "
		    "070001 68 080001 03", PROTO_E_VALUE },
		{ "held status 0", 1,
		    "002e 010001 61 020001 62 030001 63 040001 01 "
		    "050008 0000000000000001 060008 0000000000000002 "
		    "070001 68 080001 00", PROTO_E_FIELD },
		{ "held msg_type 0", 1,
		    "002a 010001 61 020001 62 030001 63 040001 00 "
		    "050008 0000000000000001 060008 0000000000000002 "
		    "070001 68", PROTO_E_VALUE },
		{ "held empty headline", 1,
		    "0029 010001 61 020001 62 030001 63 040001 01 "
		    "050008 0000000000000001 060008 0000000000000002 "
		    "070000", PROTO_E_VALUE },
		{ "held without expires_at", 1,
		    "001f 010001 61 020001 62 030001 63 040001 01 "
		    "050008 0000000000000001 070001 68", PROTO_E_MISSING },
		{ "held unknown tag", 1,
		    "002e 010001 61 020001 62 030001 63 040001 01 "
		    "050008 0000000000000001 060008 0000000000000002 "
		    "070001 68 090001 01", PROTO_E_TAG },
		{ "row", 2,
		    "0043 010001 61 030001 03 040000 "
		    "050004 00000000 060004 00000000 070004 00000000 "
		    "080004 00000000 090004 00000000 0a0004 00000000 "
		    "0b0004 00000000 0c0004 00000000", 0 },
		{ "row tier 4", 2,
		    "0043 010001 61 030001 04 040000 "
		    "050004 00000000 060004 00000000 070004 00000000 "
		    "080004 00000000 090004 00000000 0a0004 00000000 "
		    "0b0004 00000000 0c0004 00000000", PROTO_E_VALUE },
		{ "row without relayed_in_time", 2,
		    "003c 010001 61 030001 03 040000 "
		    "050004 00000000 060004 00000000 070004 00000000 "
		    "080004 00000000 090004 00000000 0a0004 00000000 "
		    "0b0004 00000000", PROTO_E_MISSING },
		{ "row drill_relayed 0", 2,
		    "004a 010001 61 030001 03 040000 "
		    "050004 00000000 060004 00000000 070004 00000000 "
		    "080004 00000000 090004 00000000 0a0004 00000000 "
		    "0b0004 00000000 0c0004 00000000 120004 00000000",
		    PROTO_E_FIELD },
		{ "row unknown tag 22", 2,
		    "004a 010001 61 030001 03 040000 "
		    "050004 00000000 060004 00000000 070004 00000000 "
		    "080004 00000000 090004 00000000 0a0004 00000000 "
		    "0b0004 00000000 0c0004 00000000 160004 00000001",
		    PROTO_E_TAG },
		{ "row median in 4 bytes", 2,
		    "004a 010001 61 030001 03 040000 "
		    "050004 00000000 060004 00000000 070004 00000000 "
		    "080004 00000000 090004 00000000 0a0004 00000000 "
		    "0b0004 00000000 0c0004 00000000 0d0004 00000001",
		    PROTO_E_FIELD },
	};

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int	rc, want;

		v.p = p;
		v.len = unhex(cases[i].hex, p, sizeof(p));
		if (((size_t)p[0] << 8 | p[1]) + 2 != v.len)
			fail_msg("%s: item length is not the list's",
			    cases[i].what);
		cur = 0;
		want = cases[i].err ? -cases[i].err : 1;
		rc = console_item_next(cases[i].list, &v, &cur);
		if (rc != want)
			fail_msg("%s: got %d, want %d", cases[i].what, rc,
			    want);
		/* A good item is the whole list: then the end. */
		if (rc == 1) {
			assert_int_equal(cur, v.len);
			assert_int_equal(console_item_next(cases[i].list, &v,
			    &cur), 0);
		}
	}
	/* The decoder of the message checks its items too. */
	{
		uint8_t	m[600];
		size_t	n;

		n = unhex("010001 61 020008 0000000000000001 030012 "
		    "0010 010001 61 020001 61 030001 05 040001 00", m,
		    sizeof(m));
		assert_int_equal(recode(PROTO_T_AGENTS, m, n, NULL),
		    -PROTO_E_FIELD);
		n = unhex("010008 0000000000000001 020030 "
		    "002e 010001 61 020001 62 030001 63 040001 01 "
		    "050008 0000000000000001 060008 0000000000000002 "
		    "070001 68 080001 03", m, sizeof(m));
		assert_int_equal(recode(PROTO_T_SCHEDULE, m, n, NULL),
		    -PROTO_E_VALUE);
		n = unhex("010001 61 020008 0000000000000000 "
		    "030008 0000000000000001 040004 00000000 06003e "
		    "003c 010001 61 030001 03 040000 "
		    "050004 00000000 060004 00000000 070004 00000000 "
		    "080004 00000000 090004 00000000 0a0004 00000000 "
		    "0b0004 00000000", m, sizeof(m));
		assert_int_equal(recode(PROTO_T_REPORT, m, n, NULL),
		    -PROTO_E_MISSING);
	}
}

static void
test_identifiers(void **state)
{
	char	s[70];

	(void)state;
	memset(s, 'a', sizeof(s));
	assert_true(proto_node_id_valid("class-3a", 8));
	assert_true(proto_node_id_valid("-", 1));
	assert_true(proto_node_id_valid(s, 64));
	assert_false(proto_node_id_valid(s, 65));
	assert_false(proto_node_id_valid("", 0));
	assert_false(proto_node_id_valid("Class", 5));
	assert_false(proto_node_id_valid("a_b", 3));
	assert_false(proto_node_id_valid("a\0b", 3));
	assert_true(proto_name_valid("Officer.1_a-b", 13));
	assert_true(proto_name_valid("_x", 2));
	assert_true(proto_name_valid(s, 64));
	assert_false(proto_name_valid(s, 65));
	assert_false(proto_name_valid(".x", 2));
	assert_false(proto_name_valid("-x", 2));
	assert_false(proto_name_valid("a b", 3));
	assert_false(proto_name_valid("a/b", 3));
	assert_false(proto_name_valid("", 0));
	assert_false(proto_name_valid(NULL, 0));

	assert_true(proto_utf8_valid((const uint8_t *)"", 0));
	assert_true(proto_utf8_valid((const uint8_t *)"\x7f", 1));
	assert_true(proto_utf8_valid((const uint8_t *)"\xc2\x80", 2));
	assert_true(proto_utf8_valid((const uint8_t *)"\xe0\xa0\x80", 3));
	assert_true(proto_utf8_valid((const uint8_t *)"\xed\x9f\xbf", 3));
	assert_true(proto_utf8_valid((const uint8_t *)"\xee\x80\x80", 3));
	assert_true(proto_utf8_valid((const uint8_t *)"\xf0\x90\x80\x80", 4));
	assert_true(proto_utf8_valid((const uint8_t *)"\xf4\x8f\xbf\xbf", 4));
	assert_false(proto_utf8_valid((const uint8_t *)"\xc1\xbf", 2));
	assert_false(proto_utf8_valid((const uint8_t *)"\xe0\x9f\xbf", 3));
	assert_false(proto_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3));
	assert_false(proto_utf8_valid((const uint8_t *)"\xf0\x8f\xbf\xbf", 4));
	assert_false(proto_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4));
	assert_false(proto_utf8_valid((const uint8_t *)"\xf8\x88\x80\x80\x80",
	    5));
	assert_false(proto_utf8_valid((const uint8_t *)"\xe4\xb8", 2));
	assert_false(proto_utf8_valid((const uint8_t *)"\xe4\x41\x80", 3));
	assert_false(proto_utf8_valid((const uint8_t *)"\xfe", 1));
	assert_false(proto_utf8_valid((const uint8_t *)"a\0", 2));
}

/* --- the alert body ---------------------------------------------------- */

static void
alert_fill(struct proto_alert *a)
{
	memset(a, 0, sizeof(*a));
	strcpy(a->id, "a-1");
	strcpy(a->issuer, "officer-1");
	strcpy(a->target, "school-a");
	a->msg_type = PROTO_MSG_ALERT;
	a->category = PROTO_CAT_KNOWLEDGE;
	a->severity = PROTO_SEV_MINOR;
	a->headline = view("h");
	a->issued_at = 1800000000000ULL;
	a->expires_at = 1800000000001ULL;
}

/* Encode the alert ignoring the body rules, then decode it. */
static int
alert_try(const struct proto_alert *a)
{
	struct proto_alert	 out;
	struct proto_buf	 b;
	static uint8_t		 raw[PROTO_TEXT_MAX + 4096];
	size_t			 n = 0;
	int			 rc;

	/* Fields by hand, so that refused bodies can be built at all. */
	n += put_field(raw + n, 1, a->id, strlen(a->id));
	n += put_field(raw + n, 2, a->issuer, strlen(a->issuer));
	n += put_field(raw + n, 3, a->target, strlen(a->target));
	n += put_field(raw + n, 4, &a->msg_type, 1);
	if (a->references[0])
		n += put_field(raw + n, 5, a->references,
		    strlen(a->references));
	n += put_field(raw + n, 6, &a->category, 1);
	n += put_field(raw + n, 7, &a->severity, 1);
	n += put_field(raw + n, 8, a->headline.p, a->headline.len);
	n += put_field(raw + n, 9, a->text.p, a->text.len);
	{
		uint8_t	t[8];
		int	i;

		for (i = 0; i < 8; i++)
			t[i] = (uint8_t)(a->issued_at >> (56 - 8 * i));
		n += put_field(raw + n, 11, t, 8);
		for (i = 0; i < 8; i++)
			t[i] = (uint8_t)(a->expires_at >> (56 - 8 * i));
		n += put_field(raw + n, 12, t, 8);
		n += put_field(raw + n, 13, &a->relay_required, 1);
		if (a->publish_at != 0) {
			for (i = 0; i < 8; i++)
				t[i] = (uint8_t)(a->publish_at >> (56 - 8 * i));
			n += put_field(raw + n, 14, t, 8);
		}
	}
	if (a->status != 0)
		n += put_field(raw + n, 15, &a->status, 1);
	rc = proto_alert_decode(raw, n, &out);
	/* The encoder refuses exactly what the decoder refuses. */
	pbuf_init(&b);
	proto_alert_encode(&b, a);
	assert_int_equal(b.err, -rc);
	if (rc == 0)
		same_bytes("alert", b.data, b.len, raw, n);
	pbuf_free(&b);
	return rc;
}

static void
test_alert_rules(void **state)
{
	struct proto_alert	a;
	char			s[PROTO_TEXT_MAX + 2];

	(void)state;
	memset(s, 'x', sizeof(s));
	s[sizeof(s) - 1] = '\0';
	alert_fill(&a);
	assert_int_equal(alert_try(&a), 0);
	a.msg_type = PROTO_MSG_UPDATE;
	assert_int_equal(alert_try(&a), -PROTO_E_REFERENCE);
	a.msg_type = PROTO_MSG_CANCEL;
	assert_int_equal(alert_try(&a), -PROTO_E_REFERENCE);
	strcpy(a.references, "a-1");		/* itself */
	assert_int_equal(alert_try(&a), -PROTO_E_REFERENCE);
	strcpy(a.references, "a-0");
	assert_int_equal(alert_try(&a), 0);
	a.msg_type = PROTO_MSG_ALERT;
	assert_int_equal(alert_try(&a), -PROTO_E_REFERENCE);
	alert_fill(&a);
	a.expires_at = a.issued_at;
	assert_int_equal(alert_try(&a), -PROTO_E_EXPIRY);
	a.expires_at = a.issued_at - 1;
	assert_int_equal(alert_try(&a), -PROTO_E_EXPIRY);
	/* Held: it must not expire before it goes out. */
	alert_fill(&a);
	a.publish_at = a.expires_at - 1;
	assert_int_equal(alert_try(&a), 0);
	a.publish_at = a.expires_at;
	assert_int_equal(alert_try(&a), -PROTO_E_EXPIRY);
	a.publish_at = UINT64_MAX;
	assert_int_equal(alert_try(&a), -PROTO_E_EXPIRY);
	/* Before issued_at is odd but not the decoder's business. */
	a.publish_at = 1;
	assert_int_equal(alert_try(&a), 0);
	alert_fill(&a);
	a.status = PROTO_STATUS_EXERCISE;
	assert_int_equal(alert_try(&a), 0);
	a.status = PROTO_STATUS_TEST;
	assert_int_equal(alert_try(&a), 0);
	a.status = 3;
	assert_int_equal(alert_try(&a), -PROTO_E_VALUE);

	alert_fill(&a);
	a.msg_type = 0;
	assert_int_equal(alert_try(&a), -PROTO_E_VALUE);
	a.msg_type = 4;
	assert_int_equal(alert_try(&a), -PROTO_E_VALUE);
	alert_fill(&a);
	a.category = 0;
	assert_int_equal(alert_try(&a), -PROTO_E_VALUE);
	a.category = 4;
	assert_int_equal(alert_try(&a), -PROTO_E_VALUE);
	alert_fill(&a);
	a.severity = 6;
	assert_int_equal(alert_try(&a), -PROTO_E_VALUE);
	a.severity = PROTO_SEV_UNKNOWN;
	a.relay_required = 2;
	assert_int_equal(alert_try(&a), -PROTO_E_VALUE);
	a.relay_required = 1;
	assert_int_equal(alert_try(&a), 0);

	alert_fill(&a);
	a.headline = view("");
	assert_int_equal(alert_try(&a), -PROTO_E_VALUE);
	a.headline.p = (const uint8_t *)s;
	a.headline.len = PROTO_HEADLINE_MAX;
	assert_int_equal(alert_try(&a), 0);
	a.headline.len = PROTO_HEADLINE_MAX + 1;
	assert_int_equal(alert_try(&a), -PROTO_E_TOO_LONG);
	alert_fill(&a);
	a.text.p = (const uint8_t *)s;
	a.text.len = PROTO_TEXT_MAX;
	assert_int_equal(alert_try(&a), 0);
	a.text.len = PROTO_TEXT_MAX + 1;
	assert_int_equal(alert_try(&a), -PROTO_E_TOO_LONG);
	a.text = view("bad \xc0\x80");
	assert_int_equal(alert_try(&a), -PROTO_E_UTF8);
	alert_fill(&a);
	strcpy(a.target, "School-A");
	assert_int_equal(alert_try(&a), -PROTO_E_VALUE);
	alert_fill(&a);
	strcpy(a.issuer, ".hidden");
	assert_int_equal(alert_try(&a), -PROTO_E_VALUE);
}

static void
test_alert_round_trip(void **state)
{
	struct proto_alert	a, b2;
	struct proto_buf	b, c;
	char			s[PROTO_INSTRUCTION_MAX + 1];

	(void)state;
	memset(s, 'i', sizeof(s));
	alert_fill(&a);
	a.msg_type = PROTO_MSG_UPDATE;
	strcpy(a.references, "a-0");
	a.text = view("正文");
	a.instruction.p = (const uint8_t *)s;
	a.instruction.len = PROTO_INSTRUCTION_MAX;
	a.relay_required = 1;
	a.publish_at = a.issued_at + 1;
	a.expires_at = a.issued_at + 2;
	a.status = PROTO_STATUS_TEST;
	pbuf_init(&b);
	pbuf_init(&c);
	proto_alert_encode(&b, &a);
	assert_int_equal(b.err, 0);
	assert_int_equal(proto_alert_decode(b.data, b.len, &b2), 0);
	assert_true(b2.publish_at == a.issued_at + 1);
	assert_int_equal(b2.status, PROTO_STATUS_TEST);
	assert_string_equal(b2.references, "a-0");
	assert_true(view_is(b2.text, "正文"));
	assert_int_equal(b2.instruction.len, PROTO_INSTRUCTION_MAX);
	assert_int_equal(b2.relay_required, 1);
	proto_alert_encode(&c, &b2);
	same_bytes("alert again", c.data, c.len, b.data, b.len);
	pbuf_free(&b);
	pbuf_free(&c);
	a.instruction.len = PROTO_INSTRUCTION_MAX + 1;
	proto_alert_encode(&b, &a);
	assert_int_equal(b.err, PROTO_E_TOO_LONG);
	pbuf_free(&b);
}

static void
test_names(void **state)
{
	static const int codes[] = {
		100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111,
		200, 201, 202, 300, 301, 302, 303, 304, 305, 306, 307, 308,
		309, 400, 401, 500, 501, 502,
		340, 341, 342, 343, 344, 345,	/* cap */
	};
	size_t	i, j;
	int	v;

	(void)state;
	assert_string_equal(proto_err_name(PROTO_E_FIELD), "non-canonical");
	assert_string_equal(proto_err_name(PROTO_E_STATE), "out-of-order");
	assert_string_equal(proto_err_name(PROTO_E_SIGNATURE),
	    "bad-signature");
	assert_string_equal(proto_err_name(PROTO_E_SHUTDOWN), "shutting-down");
	assert_string_equal(proto_err_name(999), "unknown");
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		assert_string_not_equal(proto_err_name(codes[i]), "unknown");
		for (j = 0; j < i; j++)
			assert_string_not_equal(proto_err_name(codes[i]),
			    proto_err_name(codes[j]));
	}
	assert_string_equal(proto_type_name(PROTO_T_STATUS_REQ), "STATUS_REQ");
	assert_string_equal(proto_type_name(PROTO_T_AGENTS_REQ), "AGENTS_REQ");
	assert_string_equal(proto_type_name(PROTO_T_AGENTS), "AGENTS");
	assert_string_equal(proto_type_name(PROTO_T_SCHEDULE_REQ),
	    "SCHEDULE_REQ");
	assert_string_equal(proto_type_name(PROTO_T_SCHEDULE), "SCHEDULE");
	assert_string_equal(proto_type_name(PROTO_T_REPORT_REQ), "REPORT_REQ");
	assert_string_equal(proto_type_name(PROTO_T_REPORT), "REPORT");
	assert_string_equal(proto_type_name(PROTO_T_ENVELOPE_REQ),
	    "ENVELOPE_REQ");	/* cap */
	assert_string_equal(proto_type_name(PROTO_T_ENVELOPE), "ENVELOPE");
	assert_string_equal(proto_err_name(PROTO_E_CAP_DOCTYPE), "cap-doctype");
	assert_string_equal(proto_alert_status_name(PROTO_STATUS_ACTUAL),
	    "actual");
	assert_string_equal(proto_alert_status_name(PROTO_STATUS_EXERCISE),
	    "exercise");
	assert_null(proto_alert_status_name(3));
	assert_string_equal(proto_type_name(0x66), "?");
	assert_string_equal(proto_category_name(PROTO_CAT_CASE_FOLLOWUP),
	    "case-followup");
	assert_null(proto_category_name(0));
	assert_null(proto_category_name(4));
	assert_string_equal(proto_severity_name(PROTO_SEV_EXTREME), "extreme");
	assert_null(proto_severity_name(6));
	assert_string_equal(proto_msg_type_name(PROTO_MSG_CANCEL), "cancel");
	assert_string_equal(proto_ack_state_name(PROTO_ACK_NONE), "none");
	assert_string_equal(proto_ack_state_name(PROTO_ACK_RELAYED),
	    "relayed");
	assert_null(proto_ack_state_name(-1));
	for (v = 1; v <= 3; v++) {
		assert_int_equal(proto_category_parse(proto_category_name(v)),
		    v);
		assert_int_equal(proto_msg_type_parse(proto_msg_type_name(v)),
		    v);
	}
	for (v = 1; v <= 5; v++)
		assert_int_equal(proto_severity_parse(proto_severity_name(v)),
		    v);
	assert_string_equal(proto_ack_state_name(PROTO_ACK_SHOWN), "shown");
	assert_null(proto_ack_state_name(PROTO_ACK_MAX + 1));
	for (v = 0; v <= PROTO_ACK_MAX; v++)
		assert_int_equal(proto_ack_state_parse(
		    proto_ack_state_name(v)), v);
	for (v = 0; v <= 2; v++)
		assert_int_equal(proto_alert_status_parse(
		    proto_alert_status_name(v)), v);
	assert_int_equal(proto_alert_status_parse("drill"), -1);
	assert_int_equal(proto_category_parse("Warning"), -1);
	assert_int_equal(proto_severity_parse(""), -1);
	assert_int_equal(proto_msg_type_parse(NULL), -1);
	assert_int_equal(proto_ack_state_parse("seen"), -1);
}

/* States compare by rank: shown (4) lies between delivered and read. */
static void
test_ack_rank(void **state)
{
	int	r, v;

	(void)state;
	assert_int_equal(proto_ack_rank(PROTO_ACK_NONE), 0);
	assert_true(proto_ack_rank(PROTO_ACK_DELIVERED) <
	    proto_ack_rank(PROTO_ACK_SHOWN));
	assert_true(proto_ack_rank(PROTO_ACK_SHOWN) <
	    proto_ack_rank(PROTO_ACK_READ));
	assert_true(proto_ack_rank(PROTO_ACK_READ) <
	    proto_ack_rank(PROTO_ACK_RELAYED));
	assert_int_equal(proto_ack_rank(PROTO_ACK_RELAYED), PROTO_ACK_RANK_MAX);
	assert_int_equal(proto_ack_rank(-1), -1);
	assert_int_equal(proto_ack_rank(PROTO_ACK_MAX + 1), -1);
	assert_int_equal(proto_ack_at_rank(-1), -1);
	assert_int_equal(proto_ack_at_rank(PROTO_ACK_RANK_MAX + 1), -1);
	/* Every state has one rank, and the ranks give the states back. */
	for (v = 0; v <= PROTO_ACK_MAX; v++)
		assert_int_equal(proto_ack_at_rank(proto_ack_rank(v)), v);
	for (r = 0; r <= PROTO_ACK_RANK_MAX; r++)
		assert_int_equal(proto_ack_rank(proto_ack_at_rank(r)), r);
}

/* --- signing and verification ------------------------------------------ */

/* Sign alert (issuer cn) with key and cert into b; the envelope bytes. */
static void
sign_as(struct proto_buf *b, const char *cn, EVP_PKEY *key, X509 *cert)
{
	struct proto_alert	a;

	alert_fill(&a);
	strcpy(a.issuer, cn);
	a.headline = view("冒充客服退款诈骗");
	pbuf_init(b);
	assert_int_equal(proto_envelope_sign(b, &a, key, cert), 0);
	assert_int_equal(b->err, 0);
}

/* Verify, expecting code want and a reason containing needle. */
static void
expect(const char *what, const uint8_t *p, size_t len, X509_STORE *st,
    int64_t at, int want, const char *needle)
{
	struct proto_alert	a;
	char			why[256] = "untouched";
	int			rc;

	rc = proto_envelope_verify(p, len, st, at, &a, why, sizeof(why));
	if (rc != -want)
		fail_msg("%s: got %d (%s: %s), want %d", what, -rc,
		    proto_err_name(-rc), why, want);
	if (want == 0 && why[0] != '\0')
		fail_msg("%s: reason \"%s\" on success", what, why);
	if (needle != NULL && strstr(why, needle) == NULL)
		fail_msg("%s: reason \"%s\" lacks \"%s\"", what, why, needle);
}

/* Offsets in an envelope: body value, cert value, sig field header. */
static void
env_parts(const uint8_t *p, size_t *body, size_t *cert, size_t *sig)
{
	size_t	bl = (size_t)p[1] << 8 | p[2];
	size_t	cl = (size_t)p[3 + bl + 1] << 8 | p[3 + bl + 2];

	*body = 3;
	*cert = 3 + bl + 3;	/* value */
	*sig = *cert + cl;	/* field header */
}

static void
test_sign_verify(void **state)
{
	struct proto_buf	 b;
	struct proto_alert	 a;
	uint8_t			*p;
	size_t			 body, cert, sig;
	char			 why[8];

	(void)state;
	sign_as(&b, "officer-1", officer_key, officer_crt);
	expect("good, now", b.data, b.len, store, 0, 0, NULL);
	expect("good, 2027", b.data, b.len, store, VEC_AT, 0, NULL);
	expect("good, CRL store", b.data, b.len, crl_store, 0, 0, NULL);
	expect("expired (2200)", b.data, b.len, store, INT64_C(7258118400),
	    PROTO_E_CERT, "expired");
	expect("not yet valid (2020)", b.data, b.len, store,
	    INT64_C(1600000000), PROTO_E_CERT, "not yet valid");
	/* A tiny why buffer is cut, not overrun; NULL why is fine. */
	assert_int_equal(proto_envelope_verify(b.data, b.len, store,
	    INT64_C(7258118400), &a, why, sizeof(why)), -PROTO_E_CERT);
	assert_int_equal(strlen(why), sizeof(why) - 1);
	assert_int_equal(proto_envelope_verify(b.data, b.len, store, 0, NULL,
	    NULL, 0), 0);

	env_parts(b.data, &body, &cert, &sig);
	p = b.data;
	/* The last byte of the body: relay_required 0 -> 1, still valid. */
	p[cert - 4] ^= 0x01;
	expect("body bit", p, b.len, store, 0, PROTO_E_SIGNATURE, "signature");
	p[cert - 4] ^= 0x01;
	p[sig + 3 + 10] ^= 0x20;
	expect("sig bit", p, b.len, store, 0, PROTO_E_SIGNATURE, NULL);
	p[sig + 3 + 10] ^= 0x20;
	p[sig - 1] ^= 0x01;		/* the CA's signature on the cert */
	expect("cert bit", p, b.len, store, 0, PROTO_E_CERT, "signature");
	p[sig - 1] ^= 0x01;
	p[cert + 3] ^= 0x80;		/* DER structure */
	expect("cert DER", p, b.len, store, 0, PROTO_E_CERT, "parse");
	p[cert + 3] ^= 0x80;
	expect("restored", p, b.len, store, 0, 0, NULL);
	/* Truncate the signature: field length 63, one byte less. */
	p[sig + 2] = 63;
	expect("sig 63 bytes", p, b.len - 1, store, 0, PROTO_E_SIGNATURE,
	    "envelope");
	p[sig + 2] = 64;
	/* Body that does not decode. */
	p[3 + 3] ^= 0x80;		/* first byte of the id: not ASCII */
	expect("bad body", p, b.len, store, 0, PROTO_E_VALUE, "body");
	p[3 + 3] ^= 0x80;
	expect("missing sig", p, sig, store, 0, PROTO_E_MISSING, NULL);
	expect("empty", p, 0, store, 0, PROTO_E_MISSING, NULL);
	pbuf_free(&b);

	sign_as(&b, "officer-1", other_key, other_crt);
	expect("other CA", b.data, b.len, store, 0, PROTO_E_CERT,
	    "local issuer");
	pbuf_free(&b);
	sign_as(&b, "officer-1", officer2_key, officer2_crt);
	expect("CN is officer-2", b.data, b.len, store, 0, PROTO_E_ISSUER,
	    "officer-2");
	pbuf_free(&b);
	sign_as(&b, "officer-revoked", revoked_key, revoked_crt);
	expect("revoked, no CRL", b.data, b.len, store, 0, 0, NULL);
	expect("revoked, CRL", b.data, b.len, crl_store, 0, PROTO_E_CERT,
	    "revoked");
	pbuf_free(&b);
}

static void
test_sign_refusals(void **state)
{
	struct proto_buf	 b, body;
	struct proto_envelope	 e;
	struct proto_alert	 a;
	uint8_t			 sig[PROTO_SIG_LEN] = { 0 }, *der = NULL;
	int			 derlen;

	(void)state;
	alert_fill(&a);
	strcpy(a.issuer, "officer-ec");
	pbuf_init(&b);
	assert_int_equal(proto_envelope_sign(&b, &a, ec_key, ec_crt), -1);
	assert_int_equal(b.len, 0);
	/* Key and certificate must match. */
	assert_int_equal(proto_envelope_sign(&b, &a, officer_key,
	    officer2_crt), -1);
	assert_int_equal(proto_envelope_sign(&b, &a, officer_key, NULL), -1);
	/* An alert the decoder would refuse is not signed. */
	a.expires_at = a.issued_at;
	assert_int_equal(proto_envelope_sign(&b, &a, officer_key,
	    officer_crt), -1);
	pbuf_free(&b);

	/* A valid chain with an EC key: refused before the signature. */
	alert_fill(&a);
	strcpy(a.issuer, "officer-ec");
	pbuf_init(&body);
	proto_alert_encode(&body, &a);
	assert_int_equal(body.err, 0);
	assert_true((derlen = i2d_X509(ec_crt, &der)) > 0);
	e.body.p = body.data;
	e.body.len = body.len;
	e.cert.p = der;
	e.cert.len = (size_t)derlen;
	e.sig.p = sig;
	e.sig.len = sizeof(sig);
	pbuf_init(&b);
	proto_envelope_encode(&b, &e);
	assert_int_equal(b.err, 0);
	expect("EC key", b.data, b.len, store, 0, PROTO_E_CERT, "Ed25519");
	pbuf_free(&b);
	/* A certificate with a byte after its DER. */
	{
		uint8_t	*der2 = malloc((size_t)derlen + 1);

		assert_non_null(der2);
		memcpy(der2, der, (size_t)derlen);
		der2[derlen] = 0;
		e.cert.p = der2;
		e.cert.len = (size_t)derlen + 1;
		pbuf_init(&b);
		proto_envelope_encode(&b, &e);
		expect("cert + 1 byte", b.data, b.len, store, 0, PROTO_E_CERT,
		    "parse");
		pbuf_free(&b);
		free(der2);
	}
	/* Certificates above PROTO_CERT_MAX; signatures of 65 bytes. */
	{
		uint8_t	*big = calloc(1, PROTO_CERT_MAX + 1);

		assert_non_null(big);
		e.cert.p = big;
		e.cert.len = PROTO_CERT_MAX + 1;
		pbuf_init(&b);
		proto_envelope_encode(&b, &e);
		assert_int_equal(b.err, PROTO_E_TOO_LONG);
		pbuf_free(&b);
		e.cert.len = 3;
		e.sig.len = 63;
		proto_envelope_encode(&b, &e);
		assert_int_equal(b.err, PROTO_E_SIGNATURE);
		pbuf_free(&b);
		free(big);
	}
	OPENSSL_free(der);
	pbuf_free(&body);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors_cover_every_type),
		cmocka_unit_test(test_vectors_recode),
		cmocka_unit_test(test_vectors_bad_refused),
		cmocka_unit_test(test_receipt_vector_signs_and_stores),
		cmocka_unit_test(test_receipt_verify_refuses_what_was_changed),
		cmocka_unit_test(test_frame_header_limits),
		cmocka_unit_test(test_buf_writers),
		cmocka_unit_test(test_round_trip_session),
		cmocka_unit_test(test_round_trip_requests),
		cmocka_unit_test(test_round_trip_status),
		cmocka_unit_test(test_round_trip_console_requests),
		cmocka_unit_test(test_round_trip_agents),
		cmocka_unit_test(test_round_trip_schedule),
		cmocka_unit_test(test_round_trip_report),
		cmocka_unit_test(test_round_trip_error_bye),
		cmocka_unit_test(test_decoder_refusals),
		cmocka_unit_test(test_decoder_limits),
		cmocka_unit_test(test_status_lists_strict),
		cmocka_unit_test(test_console_lists_strict),
		cmocka_unit_test(test_identifiers),
		cmocka_unit_test(test_alert_rules),
		cmocka_unit_test(test_alert_round_trip),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_ack_rank),
		cmocka_unit_test(test_sign_verify),
		cmocka_unit_test(test_sign_refusals),
	};

	if (argc != 3) {
		fprintf(stderr, "usage: test-proto PROTOCOL.md DATA_DIR\n");
		return 2;
	}
	doc_path = argv[1];
	if (snprintf(data_dir, sizeof(data_dir), "%s/proto", argv[2]) >=
	    (int)sizeof(data_dir)) {
		fprintf(stderr, "test-proto: %s: path too long\n", argv[2]);
		return 2;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
