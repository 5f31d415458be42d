/* SPDX-License-Identifier: ISC */
/*
 * loadgen: certificates, CN formats and argument parsing shared by the
 * many-agents tools (swarm, wuzha-bench).  See loadgen.h.
 */

#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "loadgen.h"

const char	*loadgen_prog = "loadgen";

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", loadgen_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	ERR_print_errors_fp(stderr);
	exit(1);
}

uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* --- CN format ------------------------------------------------------------ */

void
cn_format_parse(const char *fmt, struct cn_format *cf)
{
	const char *pct, *p;
	size_t plen;

	memset(cf, 0, sizeof(*cf));
	if ((pct = strchr(fmt, '%')) == NULL)
		fatalx("--cn-format needs one %%d");
	plen = (size_t)(pct - fmt);
	if (plen >= sizeof(cf->prefix))
		fatalx("--cn-format prefix too long");
	memcpy(cf->prefix, fmt, plen);
	p = pct + 1;
	if (*p == '0') {
		cf->zero = 1;
		p++;
	}
	while (*p >= '0' && *p <= '9' && cf->width < 64)
		cf->width = cf->width * 10 + (*p++ - '0');
	if (*p != 'd')
		fatalx("--cn-format: only %%d or %%0Nd is understood");
	p++;
	if (strchr(p, '%') != NULL)
		fatalx("--cn-format: one conversion only");
	if (strlen(p) >= sizeof(cf->suffix))
		fatalx("--cn-format suffix too long");
	strcpy(cf->suffix, p);
}

void
cn_format_make(const struct cn_format *cf, int idx, char *buf, size_t len)
{
	int r;

	if (cf->zero)
		r = snprintf(buf, len, "%s%0*d%s", cf->prefix, cf->width, idx,
		    cf->suffix);
	else
		r = snprintf(buf, len, "%s%*d%s", cf->prefix, cf->width, idx,
		    cf->suffix);
	if (r < 0 || (size_t)r >= len || !proto_name_valid(buf, (size_t)r))
		fatalx("CN %d from --cn-format is not a valid name", idx);
}

/* --- certificates --------------------------------------------------------- */

static void
add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
	X509_EXTENSION *ext;

	if ((ext = X509V3_EXT_conf_nid(NULL, v3, nid, value)) == NULL)
		fatalx("extension %s", value);
	if (!X509_add_ext(x, ext, -1))
		fatalx("X509_add_ext");
	X509_EXTENSION_free(ext);
}

void
cert_make(const char *cn, X509 *ca, EVP_PKEY *cakey, EVP_PKEY **keyp,
    X509 **certp)
{
	EVP_PKEY *key;
	X509 *x;
	X509_NAME *name;
	X509V3_CTX v3;
	uint64_t serial;
	const EVP_MD *md;
	int caid;

	if ((key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL)
		fatalx("Ed25519 key generation");
	if ((x = X509_new()) == NULL)
		fatalx("X509_new");
	if (!X509_set_version(x, X509_VERSION_3))
		fatalx("X509_set_version");
	if (RAND_bytes((unsigned char *)&serial, sizeof(serial)) != 1)
		fatalx("RAND_bytes");
	serial &= INT64_MAX;
	if (!ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), serial | 1))
		fatalx("serial");
	if (X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 2 * 86400) == NULL)
		fatalx("validity");
	name = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0))
		fatalx("subject");
	if (!X509_set_issuer_name(x, X509_get_subject_name(ca)))
		fatalx("issuer");
	if (!X509_set_pubkey(x, key))
		fatalx("X509_set_pubkey");
	X509V3_set_ctx(&v3, ca, x, NULL, NULL, 0);
	add_ext(x, &v3, NID_basic_constraints, "critical,CA:FALSE");
	add_ext(x, &v3, NID_key_usage, "critical,digitalSignature");
	add_ext(x, &v3, NID_ext_key_usage, "clientAuth");
	add_ext(x, &v3, NID_subject_key_identifier, "hash");
	add_ext(x, &v3, NID_authority_key_identifier, "keyid:always");
	caid = EVP_PKEY_get_base_id(cakey);
	md = (caid == EVP_PKEY_ED25519 || caid == EVP_PKEY_ED448) ?
	    NULL : EVP_sha256();
	if (X509_sign(x, cakey, md) <= 0)
		fatalx("X509_sign for %s", cn);
	*keyp = key;
	*certp = x;
}

X509 *
load_cert(const char *path)
{
	FILE *f;
	X509 *x;

	if ((f = fopen(path, "r")) == NULL)
		fatalx("%s: %s", path, strerror(errno));
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		fatalx("%s: no certificate", path);
	return x;
}

EVP_PKEY *
load_key(const char *path)
{
	FILE *f;
	EVP_PKEY *k;

	if ((f = fopen(path, "r")) == NULL)
		fatalx("%s: %s", path, strerror(errno));
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (k == NULL)
		fatalx("%s: no private key", path);
	return k;
}

/* --- arguments and the rest ----------------------------------------------- */

long
num_arg(const char *s, const char *what, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < min || v > max)
		fatalx("bad %s: %s", what, s);
	return v;
}

void
parse_server(const char *s, struct sockaddr_in *sin)
{
	char host[64];
	const char *colon;
	size_t hlen;

	if ((colon = strrchr(s, ':')) == NULL)
		fatalx("--server wants HOST:PORT");
	hlen = (size_t)(colon - s);
	if (hlen == 0 || hlen >= sizeof(host))
		fatalx("--server: bad host");
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)num_arg(colon + 1, "port", 1, 65535));
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		fatalx("--server: %s is not an IPv4 address", host);
}

void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			fprintf(stderr, "%s: setrlimit: %s\n", loadgen_prog,
			    strerror(errno));
	}
}

void
json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}
