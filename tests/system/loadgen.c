/* SPDX-License-Identifier: ISC */
/*
 * loadgen: certificates, CN formats, argument parsing, TLS setup and the
 * agent's frames, shared by the many-agents tools (swarm, wuzha-bench).
 * See loadgen.h.
 */

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/bufferevent_ssl.h>

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
cert_make(const char *cn, const char *path, X509 *ca, EVP_PKEY *cakey,
    EVP_PKEY **keyp, X509 **certp)
{
	char san[16 + 4 * (PROTO_ID_MAX + 1)];
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
	if (path != NULL) {
		snprintf(san, sizeof(san), "URI:wuzha:path:%s", path);
		add_ext(x, &v3, NID_subject_alt_name, san);
	}
	caid = EVP_PKEY_get_base_id(cakey);
	md = (caid == EVP_PKEY_ED25519 || caid == EVP_PKEY_ED448) ?
	    NULL : EVP_sha256();
	if (X509_sign(x, cakey, md) <= 0)
		fatalx("X509_sign for %s", cn);
	*keyp = key;
	*certp = x;
}

/* --- principals' paths ----------------------------------------------------- */

/* qsort and bsearch: by CN. */
static int
path_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cn_path *)a)->cn,
	    ((const struct cn_path *)b)->cn);
}

/*
 * Read `wuzhactl tree principals` output ("CN NODE RIGHTS PATH" lines)
 * into pl, sorted by CN; fatal if the file does not read.
 */
void
paths_load(struct cn_paths *pl, const char *file)
{
	FILE *f;
	char line[512], cn[PROTO_ID_MAX + 1], path[4 * (PROTO_ID_MAX + 1)];
	size_t cap = 0;

	memset(pl, 0, sizeof(*pl));
	if ((f = fopen(file, "r")) == NULL)
		fatalx("%s: %s", file, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%64s %*s %*s %259s", cn, path) != 2)
			fatalx("%s: expected CN NODE RIGHTS PATH lines", file);
		if (pl->n == cap) {
			cap = cap ? cap * 2 : 1024;
			if ((pl->v = realloc(pl->v, cap * sizeof(*pl->v))) ==
			    NULL)
				fatalx("out of memory");
		}
		snprintf(pl->v[pl->n].cn, sizeof(pl->v[pl->n].cn), "%s", cn);
		snprintf(pl->v[pl->n].path, sizeof(pl->v[pl->n].path), "%s",
		    path);
		pl->n++;
	}
	fclose(f);
	if (pl->n > 0)
		qsort(pl->v, pl->n, sizeof(*pl->v), path_cmp);
}

/* Free what paths_load read. */
void
paths_free(struct cn_paths *pl)
{
	free(pl->v);
	memset(pl, 0, sizeof(*pl));
}

/* cn's path, or NULL if pl has none for it. */
const char *
paths_find(const struct cn_paths *pl, const char *cn)
{
	struct cn_path key, *hit;

	if (pl->n == 0)
		return NULL;
	snprintf(key.cn, sizeof(key.cn), "%s", cn);
	hit = bsearch(&key, pl->v, pl->n, sizeof(*pl->v), path_cmp);
	return hit != NULL ? hit->path : NULL;
}

/* The first certificate or private key in the PEM file path, or fatal. */
static void *
pem_load(const char *path, int key)
{
	FILE *f;
	void *obj;

	if ((f = fopen(path, "r")) == NULL)
		fatalx("%s: %s", path, strerror(errno));
	if (key)
		obj = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	else
		obj = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (obj == NULL)
		fatalx("%s: no %s", path, key ? "private key" : "certificate");
	return obj;
}

X509 *
load_cert(const char *path)
{
	return pem_load(path, 0);
}

EVP_PKEY *
load_key(const char *path)
{
	return pem_load(path, 1);
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

void
timer_arm_us(struct event *ev, long us)
{
	struct timeval tv;

	tv.tv_sec = us / 1000000;
	tv.tv_usec = us % 1000000;
	event_add(ev, &tv);
}

/* --- TLS ------------------------------------------------------------------ */

X509_STORE *
ca_store(X509 *ca)
{
	X509_STORE *store;

	if ((store = X509_STORE_new()) == NULL ||
	    X509_STORE_add_cert(store, ca) != 1)
		fatalx("CA store");
	return store;
}

SSL_CTX *
client_ctx_new(const char *ca_path)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		fatalx("SSL_CTX_new");
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_load_verify_file(ctx, ca_path) != 1)
		fatalx("%s: cannot load as trust anchor", ca_path);
	/*
	 * Each agent sends its own certificate only, as wuzha-agent does:
	 * the CA signs the agents directly and the daemon holds the root.
	 */
	SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
	return ctx;
}

SSL *
client_ssl_new(SSL_CTX *ctx, X509 *cert, EVP_PKEY *key, const char *cn,
    const char *server_name)
{
	SSL *ssl;

	if ((ssl = SSL_new(ctx)) == NULL)
		fatalx("SSL_new");
	if (SSL_use_certificate(ssl, cert) != 1 ||
	    SSL_use_PrivateKey(ssl, key) != 1)
		fatalx("SSL_use_certificate/PrivateKey for %s", cn);
	if (SSL_set_tlsext_host_name(ssl, server_name) != 1 ||
	    SSL_set1_host(ssl, server_name) != 1)
		fatalx("server name");
	return ssl;
}

struct bufferevent *
tls_bev_new(struct event_base *base, int fd, SSL *ssl,
    bufferevent_data_cb readcb, bufferevent_event_cb eventcb, void *arg)
{
	struct bufferevent *bev;

	bev = bufferevent_openssl_socket_new(base, fd, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		fatalx("bufferevent_openssl_socket_new");
	bufferevent_setcb(bev, readcb, NULL, eventcb, arg);
	bufferevent_enable(bev, EV_READ);
	return bev;
}

/* --- frames --------------------------------------------------------------- */

void
hello_encode(struct proto_buf *b, uint8_t role, const char *agent)
{
	struct proto_hello h;

	memset(&h, 0, sizeof(h));
	h.version = PROTO_VERSION;
	h.role = role;
	h.agent.p = (const uint8_t *)agent;
	h.agent.len = strlen(agent);
	proto_hello_encode(b, &h);
}

void
ack_signed_encode(struct proto_buf *b, const char *id, uint8_t state,
    int has_reach, uint32_t reach, uint8_t flags, const uint8_t *env_hash,
    EVP_PKEY *key, const char *cn)
{
	struct proto_receipt r;
	struct proto_buf body;
	struct proto_ack ack;
	struct timespec ts;
	uint8_t sig[PROTO_SIG_LEN];

	if (env_hash == NULL)
		fatalx("receipt of %s for %s: no envelope hash", cn, id);
	clock_gettime(CLOCK_REALTIME, &ts);
	memset(&r, 0, sizeof(r));
	r.version = PROTO_RECEIPT_VERSION;
	snprintf(r.id, sizeof(r.id), "%s", id);
	r.env_hash.p = env_hash;
	r.env_hash.len = PROTO_HASH_LEN;
	r.state = state;
	r.has_reach = has_reach;
	r.reach = reach;
	r.at = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	snprintf(r.principal, sizeof(r.principal), "%s", cn);
	pbuf_init(&body);
	if (proto_receipt_make(&body, &r, key, sig) != 0)
		fatalx("receipt of %s for %s: cannot sign it", cn, id);
	memset(&ack, 0, sizeof(ack));
	snprintf(ack.id, sizeof(ack.id), "%s", id);
	ack.state = state;
	ack.has_reach = has_reach;
	ack.reach = reach;
	ack.flags = flags;
	ack.receipt.p = body.data;
	ack.receipt.len = body.len;
	ack.sig.p = sig;
	ack.sig.len = sizeof(sig);
	proto_ack_encode(b, &ack);
	pbuf_free(&body);
}

void
ack_delivered_encode(struct proto_buf *b, const char *id, uint8_t flags,
    const uint8_t *env_hash, EVP_PKEY *key, const char *cn)
{
	ack_signed_encode(b, id, PROTO_ACK_DELIVERED, 0, 0, flags, env_hash,
	    key, cn);
}

const uint8_t *
env_hash_get(const struct env_hashes *eh, const char *id)
{
	size_t i;

	for (i = eh->n; i > 0; i--)
		if (strcmp(eh->v[i - 1].id, id) == 0)
			return eh->v[i - 1].h;
	return NULL;
}

const uint8_t *
env_hash_note(struct env_hashes *eh, const char *id, struct proto_view env)
{
	const uint8_t *h;
	void *nv;

	if ((h = env_hash_get(eh, id)) != NULL)
		return h;
	if (eh->n == eh->cap) {
		eh->cap = eh->cap ? 2 * eh->cap : 16;
		if ((nv = reallocarray(eh->v, eh->cap, sizeof(*eh->v))) == NULL)
			fatalx("out of memory");
		eh->v = nv;
	}
	memset(&eh->v[eh->n], 0, sizeof(eh->v[0]));
	snprintf(eh->v[eh->n].id, sizeof(eh->v[0].id), "%s", id);
	if (proto_sha256(env.p, env.len, eh->v[eh->n].h) != 0)
		fatalx("SHA-256 failed");
	return eh->v[eh->n++].h;
}

void
env_hashes_free(struct env_hashes *eh)
{
	free(eh->v);
	eh->v = NULL;
	eh->n = eh->cap = 0;
}

int
pong_encode(struct proto_buf *b, const uint8_t *p, size_t len)
{
	struct proto_ping ping;
	int r;

	if ((r = proto_ping_decode(p, len, &ping)) != 0)
		return r;
	proto_ping_encode(b, PROTO_T_PONG, &ping);
	return 0;
}

int
frame_peek(struct evbuffer *in, uint32_t max, uint8_t *typep,
    const uint8_t **payloadp, uint32_t *lenp)
{
	uint8_t hdr[PROTO_FRAME_HDR];
	const uint8_t *p;
	int r;

	if (evbuffer_get_length(in) < PROTO_FRAME_HDR)
		return 0;
	evbuffer_copyout(in, hdr, sizeof(hdr));
	if ((r = proto_frame_header(hdr, max, typep, lenp)) != 0)
		return r;
	if (evbuffer_get_length(in) < PROTO_FRAME_HDR + (size_t)*lenp)
		return 0;
	if ((p = evbuffer_pullup(in, PROTO_FRAME_HDR + (ssize_t)*lenp)) ==
	    NULL)
		fatalx("evbuffer_pullup");
	*payloadp = p + PROTO_FRAME_HDR;
	return 1;
}

void
bev_why(struct bufferevent *bev, short what, char *why, size_t len)
{
	unsigned long e;
	char buf[160];

	buf[0] = '\0';
	if ((e = bufferevent_get_openssl_error(bev)) != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	else if (what & BEV_EVENT_ERROR)
		snprintf(buf, sizeof(buf), "%s", strerror(errno));
	snprintf(why, len, "%s%s%s", (what & BEV_EVENT_EOF) ?
	    "connection closed" : "connection error", buf[0] ? ": " : "",
	    buf);
}

/* --- envelopes ------------------------------------------------------------ */

void
verify_cache_init(struct verify_cache *vc, int max)
{
	memset(vc, 0, sizeof(*vc));
	if ((vc->seen = calloc((size_t)max, sizeof(*vc->seen))) == NULL)
		fatalx("out of memory");
	vc->max = max;
}

void
verify_cache_free(struct verify_cache *vc)
{
	int i;

	for (i = 0; i < vc->nseen; i++)
		free(vc->seen[i].bytes);
	free(vc->seen);
	memset(vc, 0, sizeof(*vc));
}

int
verify_cached(struct verify_cache *vc, X509_STORE *store,
    struct proto_view env, char *id, char *why, size_t whylen)
{
	struct proto_alert al;
	struct seen_env *s;
	int i, r;

	for (i = 0; i < vc->nseen; i++) {
		s = &vc->seen[i];
		if (s->len == env.len && memcmp(s->bytes, env.p, env.len) == 0) {
			memcpy(id, s->id, sizeof(proto_id));
			return 0;
		}
	}
	vc->nverify++;
	if ((r = proto_envelope_verify(env.p, env.len, store, 0, &al, why,
	    whylen)) != 0)
		return r;
	memcpy(id, al.id, sizeof(proto_id));
	if (vc->nseen < vc->max) {
		s = &vc->seen[vc->nseen];
		if ((s->bytes = malloc(env.len)) == NULL)
			fatalx("out of memory");
		memcpy(s->bytes, env.p, env.len);
		s->len = env.len;
		memcpy(s->id, al.id, sizeof(proto_id));
		vc->nseen++;
	}
	return 0;
}
