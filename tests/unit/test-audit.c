/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of proto/audit.c: RFC 6962 hashing against the Certificate
 * Transparency test vectors (empty tree and the eight small trees of the
 * reference implementation), the compact range against a plain recursive
 * tree head for every size up to 300, the frontier's text form, the entry
 * encoding byte for byte, and signed checkpoints (tampering, foreign CA).
 *
 * usage: test-audit TEST_DATA_DIR
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
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "proto.h"

#define AT_MS	UINT64_C(1800000000000)	/* certificates valid then */

static char	 data_dir[PATH_MAX];

/* The leaves and tree heads of CT's merkle tree tests (RFC 6962 hashing). */
static const char *ct_leaves[] = {
	"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
	"606162636465666768696a6b6c6d6e6f",
};
static const char *ct_roots[] = {
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

static size_t
unhex(const char *s, uint8_t *out)
{
	size_t	i, n = strlen(s) / 2;
	unsigned v;

	for (i = 0; i < n; i++) {
		sscanf(s + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
	return n;
}

static void
tohex(const uint8_t *h, char *out)
{
	int	i;

	for (i = 0; i < AUDIT_HASH_LEN; i++)
		sprintf(out + 2 * i, "%02x", h[i]);
}

static void
test_ct_vectors(void **state)
{
	struct audit_range	 r;
	uint8_t			 leaf[64], h[AUDIT_HASH_LEN];
	char			 hex[2 * AUDIT_HASH_LEN + 1];
	size_t			 i, n;

	(void)state;
	audit_range_init(&r);
	audit_range_root(&r, h);
	tohex(h, hex);
	assert_string_equal(hex, ct_roots[0]);
	for (i = 0; i < 8; i++) {
		n = unhex(ct_leaves[i], leaf);
		audit_leaf_hash(leaf, n, h);
		audit_range_push(&r, h);
		audit_range_root(&r, h);
		tohex(h, hex);
		assert_string_equal(hex, ct_roots[i + 1]);
	}
}

/* MTH(D[lo:hi]) as RFC 6962 section 2.1 writes it, over leaf hashes. */
static void
mth(uint8_t (*lh)[AUDIT_HASH_LEN], size_t lo, size_t hi, uint8_t *out)
{
	uint8_t		l[AUDIT_HASH_LEN], r[AUDIT_HASH_LEN];
	size_t		k = 1;

	if (hi - lo == 1) {
		memcpy(out, lh[lo], AUDIT_HASH_LEN);
		return;
	}
	while (k * 2 < hi - lo)
		k *= 2;
	mth(lh, lo, lo + k, l);
	mth(lh, lo + k, hi, r);
	audit_node_hash(l, r, out);
}

static void
test_range_sizes(void **state)
{
	static uint8_t		 lh[300][AUDIT_HASH_LEN];
	struct audit_range	 r, back;
	uint8_t			 a[AUDIT_HASH_LEN], b[AUDIT_HASH_LEN];
	uint8_t			 leaf[4];
	char			*txt;
	size_t			 i;

	(void)state;
	audit_range_init(&r);
	for (i = 0; i < 300; i++) {
		leaf[0] = (uint8_t)i;
		leaf[1] = (uint8_t)(i >> 8);
		leaf[2] = 0x5a;
		audit_leaf_hash(leaf, 3, lh[i]);
		audit_range_push(&r, lh[i]);
		assert_int_equal(r.size, i + 1);
		audit_range_root(&r, a);
		mth(lh, 0, i + 1, b);
		assert_memory_equal(a, b, AUDIT_HASH_LEN);
		/* The text form gives back the same range. */
		assert_non_null(txt = audit_range_format(&r));
		assert_int_equal(audit_range_parse(&back, txt, strlen(txt)), 0);
		assert_int_equal(back.size, r.size);
		assert_int_equal(back.n, r.n);
		assert_memory_equal(back.h, r.h, (size_t)r.n * AUDIT_HASH_LEN);
		free(txt);
	}
}

static void
test_range_parse_bad(void **state)
{
	struct audit_range	r;
	char			buf[200];

	(void)state;
	assert_int_equal(audit_range_parse(&r, "0", 1), 0);
	assert_int_equal(r.size, 0);
	assert_int_equal(audit_range_parse(&r, "", 0), -1);
	/* Size 3 needs two hashes. */
	snprintf(buf, sizeof(buf), "3 %064d", 0);
	assert_int_equal(audit_range_parse(&r, buf, strlen(buf)), -1);
	snprintf(buf, sizeof(buf), "1 %063dg", 0);
	assert_int_equal(audit_range_parse(&r, buf, strlen(buf)), -1);
	snprintf(buf, sizeof(buf), "1 %064d", 0);
	assert_int_equal(audit_range_parse(&r, buf, strlen(buf)), 0);
}

static void
test_entry_bytes(void **state)
{
	static const uint8_t want[] = {
		0x01, 0x00, 0x01, 0x02,				/* kind 2 */
		0x02, 0x00, 0x08, 0x00, 0x00, 0x01, 0xa3, 0x18, 0x5c, 0x50,
		0x00,						/* at */
		0x03, 0x00, 0x02, 'd', '1',			/* daemon */
		0x04, 0x00, 0x03, 0xaa, 0xbb, 0xcc,		/* data */
	};
	static const uint8_t data[] = { 0xaa, 0xbb, 0xcc };
	struct proto_buf	 b;
	struct audit_entry	 e;

	(void)state;
	pbuf_init(&b);
	assert_int_equal(audit_entry_encode(&b, AUDIT_K_RECEIPT, AT_MS, "d1",
	    data, sizeof(data)), 0);
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.data, want, sizeof(want));
	assert_int_equal(audit_entry_decode(b.data, b.len, &e), 0);
	assert_int_equal(e.kind, AUDIT_K_RECEIPT);
	assert_true(e.at == AT_MS);
	assert_string_equal(e.daemon, "d1");
	assert_int_equal(e.data.len, 3);
	/* An unknown kind, an empty datum, a bad name are refused. */
	b.data[3] = 8;
	assert_int_equal(audit_entry_decode(b.data, b.len, &e),
	    -PROTO_E_VALUE);
	pbuf_free(&b);
	pbuf_init(&b);
	assert_int_equal(audit_entry_encode(&b, AUDIT_K_ALERT, 1, "d1",
	    data, 0), -1);
	pbuf_free(&b);
	pbuf_init(&b);
	assert_int_equal(audit_entry_encode(&b, 0, 1, "d1", data, 1), -1);
	pbuf_free(&b);
	assert_string_equal(audit_kind_name(AUDIT_K_SCHEDULE_CANCEL),
	    "schedule_cancel");
}

static void *
load_pem(const char *name, int key)
{
	char	 path[PATH_MAX + 64];
	FILE	*f;
	void	*v;

	snprintf(path, sizeof(path), "%s/proto/%s", data_dir, name);
	if ((f = fopen(path, "r")) == NULL)
		fail_msg("%s: cannot open", path);
	v = key ? (void *)PEM_read_PrivateKey(f, NULL, NULL, NULL) :
	    (void *)PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (v == NULL)
		fail_msg("%s: cannot read", path);
	return v;
}

static void
test_checkpoint(void **state)
{
	X509_STORE		*store, *other;
	X509			*ca, *oca, *crt;
	EVP_PKEY		*key;
	struct proto_buf	 b;
	struct audit_cp		 cp;
	uint8_t			 root[AUDIT_HASH_LEN];
	char			 why[256];

	(void)state;
	ca = load_pem("ca.crt", 0);
	oca = load_pem("other-ca.crt", 0);
	crt = load_pem("officer.crt", 0);
	key = load_pem("officer.key", 1);
	store = X509_STORE_new();
	other = X509_STORE_new();
	X509_STORE_add_cert(store, ca);
	X509_STORE_add_cert(other, oca);
	memset(root, 0x42, sizeof(root));
	pbuf_init(&b);
	assert_int_equal(audit_cp_sign(&b, 1234, root, AT_MS, "wuzhad-1", key,
	    crt), 0);
	assert_int_equal(audit_cp_verify(b.data, b.len, store, &cp, why,
	    sizeof(why)), 0);
	assert_true(cp.size == 1234);
	assert_true(cp.at == AT_MS);
	assert_string_equal(cp.daemon, "wuzhad-1");
	assert_memory_equal(cp.root.p, root, AUDIT_HASH_LEN);
	assert_int_equal(audit_cp_verify(b.data, b.len, other, NULL, why,
	    sizeof(why)), -PROTO_E_CERT);
	/* One bit of the root flipped (body field 1, inside it field 3). */
	assert_int_equal(audit_cp_decode(b.data, b.len, &cp), 0);
	((uint8_t *)cp.root.p)[5] ^= 1;
	assert_int_equal(audit_cp_verify(b.data, b.len, store, NULL, why,
	    sizeof(why)), -PROTO_E_SIGNATURE);
	assert_non_null(strstr(why, "signature"));
	pbuf_free(&b);
	EVP_PKEY_free(key);
	X509_free(crt);
	X509_free(ca);
	X509_free(oca);
	X509_STORE_free(store);
	X509_STORE_free(other);
}

static void
test_messages(void **state)
{
	struct proto_buf	 b, items;
	struct proto_audit_req	 rq, rq2;
	struct proto_audit	 m, m2;
	struct proto_audit_item	 it;
	uint8_t			 type;
	uint32_t		 plen;
	size_t			 mark, cur = 0;
	int			 n = 0;

	(void)state;
	memset(&rq, 0, sizeof(rq));
	rq.what = AUDIT_W_ENTRIES;
	rq.from = 7;
	pbuf_init(&b);
	proto_audit_req_encode(&b, &rq);
	assert_int_equal(b.err, 0);
	assert_int_equal(proto_frame_header(b.data, 65536, &type, &plen), 0);
	assert_int_equal(type, PROTO_T_AUDIT_REQ);
	assert_int_equal(proto_audit_req_decode(b.data + 5, plen, &rq2), 0);
	assert_true(rq2.from == 7 && rq2.what == 1 && rq2.count == 0);
	pbuf_free(&b);

	pbuf_init(&items);
	mark = pbuf_list_begin(&items, 4);
	it.data.p = (const uint8_t *)"abc";
	it.data.len = 3;
	proto_audit_item_put(&items, &it);
	proto_audit_item_put(&items, &it);
	pbuf_list_end(&items, mark, 4);
	memset(&m, 0, sizeof(m));
	m.what = AUDIT_W_ENTRIES;
	m.from = 7;
	m.total = 9;
	m.items.p = items.data + mark + PROTO_FIELD_HDR;
	m.items.len = items.len - mark - PROTO_FIELD_HDR;
	pbuf_init(&b);
	proto_audit_encode(&b, &m);
	assert_int_equal(proto_frame_header(b.data, 65536, &type, &plen), 0);
	assert_int_equal(type, PROTO_T_AUDIT);
	assert_int_equal(proto_audit_decode(b.data + 5, plen, &m2), 0);
	assert_true(m2.from == 7 && m2.total == 9);
	while (proto_audit_item_next(&m2.items, &cur, &it) == 1) {
		assert_int_equal(it.data.len, 3);
		n++;
	}
	assert_int_equal(n, 2);
	pbuf_free(&b);
	pbuf_free(&items);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ct_vectors),
		cmocka_unit_test(test_range_sizes),
		cmocka_unit_test(test_range_parse_bad),
		cmocka_unit_test(test_entry_bytes),
		cmocka_unit_test(test_checkpoint),
		cmocka_unit_test(test_messages),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: test-audit TEST_DATA_DIR\n");
		return 2;
	}
	snprintf(data_dir, sizeof(data_dir), "%s", argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
