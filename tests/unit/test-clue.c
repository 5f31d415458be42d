/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of proto/clue.c: the clue and mark bodies and their stored
 * form, encoded and decoded strictly, and their signatures, checked
 * against the signed vectors `clue` and `clue-mark` of PROTOCOL.md (read
 * at run time; test-proto recodes every vector, this one checks that the
 * signatures in them hold and that signing again gives the same bytes).
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

#include "proto.h"

#define VEC_MAX_LEN	8192

static const char	*doc_path;
static char		 data_dir[PATH_MAX];
static EVP_PKEY		*officer_key, *other_key;
static X509		*officer_crt, *other_crt;

static char *
slurp(const char *path)
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
	return buf;
}

/* The bytes of the ```vector block named name (comments skipped). */
static size_t
vector(const char *name, uint8_t *out, size_t max)
{
	char		*doc = slurp(doc_path), *p, *end, want[128];
	size_t		 n = 0;
	unsigned	 x;

	snprintf(want, sizeof(want), "```vector name=%s ", name);
	if ((p = strstr(doc, want)) == NULL)
		fail_msg("PROTOCOL.md has no vector %s", name);
	p = strchr(p, '\n') + 1;
	if ((end = strstr(p, "```")) == NULL)
		fail_msg("vector %s not closed", name);
	while (p < end) {
		if (*p == '#') {
			while (p < end && *p != '\n')
				p++;
		} else if (*p == ' ' || *p == '\n') {
			p++;
		} else {
			if (sscanf(p, "%2x", &x) != 1 || n == max)
				fail_msg("vector %s: bad hex", name);
			out[n++] = (uint8_t)x;
			p += 2;
		}
	}
	free(doc);
	return n;
}

static EVP_PKEY *
load_key(const char *file)
{
	char		 path[PATH_MAX + 64];
	FILE		*f;
	EVP_PKEY	*k;

	snprintf(path, sizeof(path), "%s/%s", data_dir, file);
	if ((f = fopen(path, "r")) == NULL)
		fail_msg("%s: cannot open", path);
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(k);
	return k;
}

static X509 *
load_crt(const char *file)
{
	char	 path[PATH_MAX + 64];
	FILE	*f;
	X509	*c;

	snprintf(path, sizeof(path), "%s/%s", data_dir, file);
	if ((f = fopen(path, "r")) == NULL)
		fail_msg("%s: cannot open", path);
	c = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(c);
	return c;
}

static int
setup(void **state)
{
	(void)state;
	officer_key = load_key("officer.key");
	officer_crt = load_crt("officer.crt");
	other_key = load_key("other.key");
	other_crt = load_crt("other.crt");
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(officer_key);
	EVP_PKEY_free(other_key);
	X509_free(officer_crt);
	X509_free(other_crt);
	return 0;
}

/* The vector's CLUE: its body as documented, its signature officer-1's. */
static void
test_clue_vector_signed(void **state)
{
	uint8_t			 f[VEC_MAX_LEN], sig[PROTO_SIG_LEN];
	struct proto_clue_msg	 m;
	struct proto_clue	 c;
	struct proto_buf	 b;
	size_t			 n;
	char			 why[256];

	(void)state;
	n = vector("clue", f, sizeof(f));
	assert_int_equal(f[4], PROTO_T_CLUE);
	assert_int_equal(proto_clue_msg_decode(f + 5, n - 5, &m), 0);
	assert_int_equal(proto_clue_decode(m.body.p, m.body.len, &c), 0);
	assert_string_equal(c.id, "clue-20270115-5a1e");
	assert_string_equal(c.reporter, "officer-1");
	assert_string_equal(c.node, "jn-police");
	assert_int_equal(c.contact.len, 13);
	assert_true(c.at == UINT64_C(1800000000000));
	assert_int_equal(proto_clue_verify_sig(m.body.p, m.body.len, 0,
	    m.sig.p, m.sig.len, officer_crt, why, sizeof(why)), 0);
	/* Not a mark's signature, not another key's. */
	assert_int_equal(proto_clue_verify_sig(m.body.p, m.body.len, 1,
	    m.sig.p, m.sig.len, officer_crt, why, sizeof(why)),
	    -PROTO_E_CLUE_BAD);
	assert_int_equal(proto_clue_verify_sig(m.body.p, m.body.len, 0,
	    m.sig.p, m.sig.len, other_crt, why, sizeof(why)),
	    -PROTO_E_CLUE_BAD);
	assert_non_null(strstr(why, "does not match"));
	/* Encoded again and signed again: the same bytes (Ed25519). */
	pbuf_init(&b);
	proto_clue_encode(&b, &c);
	assert_int_equal(b.err, 0);
	assert_int_equal(b.len, m.body.len);
	assert_memory_equal(b.data, m.body.p, b.len);
	assert_int_equal(proto_clue_sign(b.data, b.len, 0, officer_key, sig),
	    0);
	assert_memory_equal(sig, m.sig.p, PROTO_SIG_LEN);
	pbuf_free(&b);
}

static void
test_mark_vector_signed(void **state)
{
	uint8_t			 f[VEC_MAX_LEN], sig[PROTO_SIG_LEN];
	struct proto_clue_msg	 m;
	struct proto_clue_mark	 mk;
	size_t			 n;
	char			 why[256];

	(void)state;
	n = vector("clue-mark", f, sizeof(f));
	assert_int_equal(f[4], PROTO_T_CLUE_MARK);
	assert_int_equal(proto_clue_msg_decode(f + 5, n - 5, &m), 0);
	assert_int_equal(proto_clue_mark_decode(m.body.p, m.body.len, &mk), 0);
	assert_string_equal(mk.clue, "clue-20270115-5a1e");
	assert_int_equal(mk.state, PROTO_CLUE_HANDLED);
	assert_true(mk.note.len > 0);
	assert_int_equal(proto_clue_verify_sig(m.body.p, m.body.len, 1,
	    m.sig.p, m.sig.len, officer_crt, why, sizeof(why)), 0);
	assert_int_equal(proto_clue_verify_sig(m.body.p, m.body.len, 0,
	    m.sig.p, m.sig.len, officer_crt, why, sizeof(why)),
	    -PROTO_E_CLUE_BAD);
	assert_int_equal(proto_clue_sign(m.body.p, m.body.len, 1, officer_key,
	    sig), 0);
	assert_memory_equal(sig, m.sig.p, PROTO_SIG_LEN);
}

/* The stored form inside the vector's CLUE_PUSH holds officer-1's hash. */
static void
test_stored_form(void **state)
{
	uint8_t				 f[VEC_MAX_LEN];
	uint8_t				 fp[PROTO_CLUE_FP_LEN];
	struct proto_clue_push		 p;
	struct proto_clue_stored	 st, st2;
	struct proto_buf		 b;
	size_t				 n;

	(void)state;
	n = vector("clue-push", f, sizeof(f));
	assert_int_equal(proto_clue_push_decode(f + 5, n - 5, &p), 0);
	assert_int_equal(p.flags, PROTO_CF_RESENT);
	assert_int_equal(proto_clue_stored_decode(p.clue.p, p.clue.len, &st),
	    0);
	assert_int_equal(proto_clue_cert_fp(officer_crt, fp), 0);
	assert_memory_equal(fp, st.cert_fp.p, PROTO_CLUE_FP_LEN);
	pbuf_init(&b);
	proto_clue_stored_encode(&b, &st);
	assert_int_equal(b.err, 0);
	assert_int_equal(b.len, p.clue.len);
	assert_memory_equal(b.data, p.clue.p, b.len);
	pbuf_free(&b);
	/* A hash or signature of another size is refused both ways. */
	st2 = st;
	st2.cert_fp.len = 31;
	pbuf_init(&b);
	proto_clue_stored_encode(&b, &st2);
	assert_int_not_equal(b.err, 0);
	pbuf_free(&b);
	st2 = st;
	st2.sig.len = 63;
	pbuf_init(&b);
	proto_clue_stored_encode(&b, &st2);
	assert_int_not_equal(b.err, 0);
	pbuf_free(&b);
	assert_int_equal(proto_clue_stored_decode(p.clue.p, p.clue.len - 1,
	    &st2), -PROTO_E_FIELD);
}

/* The limits of the bodies: text 1..4096, contact ..256, note ..1024. */
static void
test_body_limits(void **state)
{
	static char		 big[PROTO_CLUE_TEXT_MAX + 2];
	struct proto_clue	 c, d;
	struct proto_clue_mark	 mk, mk2;
	struct proto_buf	 b;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	memset(&c, 0, sizeof(c));
	strcpy(c.id, "c1");
	strcpy(c.reporter, "adv-1");
	strcpy(c.node, "a-c1");
	c.text.p = (const uint8_t *)big;
	c.text.len = PROTO_CLUE_TEXT_MAX;
	c.at = 1;
	pbuf_init(&b);
	proto_clue_encode(&b, &c);
	assert_int_equal(b.err, 0);
	assert_int_equal(proto_clue_decode(b.data, b.len, &d), 0);
	assert_int_equal(d.text.len, PROTO_CLUE_TEXT_MAX);
	pbuf_free(&b);
	c.text.len = PROTO_CLUE_TEXT_MAX + 1;
	pbuf_init(&b);
	proto_clue_encode(&b, &c);
	assert_int_not_equal(b.err, 0);
	pbuf_free(&b);
	c.text.len = 0;		/* an empty clue says nothing */
	pbuf_init(&b);
	proto_clue_encode(&b, &c);
	assert_int_not_equal(b.err, 0);
	pbuf_free(&b);
	c.text.len = 1;
	c.contact.p = (const uint8_t *)big;
	c.contact.len = PROTO_CLUE_CONTACT_MAX + 1;
	pbuf_init(&b);
	proto_clue_encode(&b, &c);
	assert_int_not_equal(b.err, 0);
	pbuf_free(&b);

	memset(&mk, 0, sizeof(mk));
	strcpy(mk.clue, "c1");
	strcpy(mk.by, "desk-a");
	mk.state = PROTO_CLUE_RECEIVED;
	mk.at = 2;
	mk.note.p = (const uint8_t *)big;
	mk.note.len = PROTO_CLUE_NOTE_MAX;
	pbuf_init(&b);
	proto_clue_mark_encode(&b, &mk);
	assert_int_equal(b.err, 0);
	assert_int_equal(proto_clue_mark_decode(b.data, b.len, &mk2), 0);
	pbuf_free(&b);
	mk.note.len = PROTO_CLUE_NOTE_MAX + 1;
	pbuf_init(&b);
	proto_clue_mark_encode(&b, &mk);
	assert_int_not_equal(b.err, 0);
	pbuf_free(&b);
	mk.note.len = 0;
	mk.state = 3;		/* no such state */
	pbuf_init(&b);
	proto_clue_mark_encode(&b, &mk);
	assert_int_not_equal(b.err, 0);
	pbuf_free(&b);
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(proto_clue_state_name(PROTO_CLUE_NONE), "none");
	assert_string_equal(proto_clue_state_name(PROTO_CLUE_HANDLED),
	    "handled");
	assert_null(proto_clue_state_name(3));
	assert_int_equal(proto_clue_state_parse("received"),
	    PROTO_CLUE_RECEIVED);
	assert_int_equal(proto_clue_state_parse("read"), -1);
	assert_string_equal(proto_err_name(PROTO_E_CLUE_NOT_YOURS),
	    "clue-not-yours");
	assert_string_equal(proto_type_name(PROTO_T_CLUES_REQ), "CLUES_REQ");
	/* Only an Ed25519 key signs. */
	{
		uint8_t		 sig[PROTO_SIG_LEN];
		EVP_PKEY	*ec = load_key("ec.key");

		assert_int_equal(proto_clue_sign((const uint8_t *)"x", 1, 0,
		    ec, sig), -1);
		EVP_PKEY_free(ec);
	}
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clue_vector_signed),
		cmocka_unit_test(test_mark_vector_signed),
		cmocka_unit_test(test_stored_form),
		cmocka_unit_test(test_body_limits),
		cmocka_unit_test(test_names),
	};

	if (argc != 3) {
		fprintf(stderr, "usage: test-clue PROTOCOL.md DATA_DIR\n");
		return 2;
	}
	doc_path = argv[1];
	snprintf(data_dir, sizeof(data_dir), "%s/proto", argv[2]);
	return cmocka_run_group_tests(tests, setup, teardown);
}
