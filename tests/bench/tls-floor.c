/* SPDX-License-Identifier: ISC */
/*
 * tls-floor: what OpenSSL alone costs wuzhad per agent connection, so that
 * wuzha-bench's figures can be read against a floor no code of ours can go
 * under.  One process, one thread, no sockets: a client and a server SSL
 * joined by a BIO pair, the server made with wuzhad's own tls_server_ctx
 * (the same settings, certificate chain built once, one ticket per
 * handshake), the client as wuzha-agent sets itself up, each agent with its
 * own Ed25519 certificate made in memory.
 *
 * It reports, as one JSON line:
 *
 *   full_server_ms      the server's CPU time (CLOCK_THREAD_CPUTIME_ID) for
 *                       SSL_new, a full mutual-TLS 1.3 handshake (client
 *                       certificate verified), the session ticket, and
 *                       SSL_free: the median over --count handshakes
 *   resumed_server_ms   the same with the client offering its ticket
 *   full_per_s,         1000 / those medians: handshakes per second one
 *   resumed_per_s       CPU could do if it did nothing else
 *   ssl_new_bytes       heap held by a fresh SSL object (mallinfo2)
 *   conn_heap_bytes     heap held by the server side of an established,
 *                       idle connection (buffers released), per connection,
 *                       over --count of them (both null where mallinfo2
 *                       does not count, as under AddressSanitizer)
 *
 * The client's side of each handshake is not timed.
 *
 *   tls-floor --ca-cert ca.crt --ca-key ca.key --cert wuzhad.crt \
 *       --key wuzhad.key [--server-name wuzhad] [--count 2000]
 */
#include <malloc.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "conf.h"
#include "loadgen.h"
#include "log.h"
#include "wuzhad.h"

/*
 * wuzhad's tls.c is built in; what it would log goes to stderr.  (The
 * log of common/ is not linked: its fatalx and loadgen's would clash.)
 */
static void
say(const char *why, const char *fmt, va_list ap)
{
	fprintf(stderr, "tls-floor: ");
	vfprintf(stderr, fmt, ap);
	if (why != NULL)
		fprintf(stderr, ": %s", why);
	fputc('\n', stderr);
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	say(strerror(saved), fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	say(NULL, fmt, ap);
	va_end(ap);
}

void
log_ssl(const char *fmt, ...)
{
	char	why[256] = "no detail";
	va_list	ap;

	if (ERR_peek_last_error() != 0)
		ERR_error_string_n(ERR_peek_last_error(), why, sizeof(why));
	ERR_clear_error();
	va_start(ap, fmt);
	say(why, fmt, ap);
	va_end(ap);
}

struct agent {
	X509		*cert;
	EVP_PKEY	*key;
	SSL_SESSION	*sess;
};

static double
cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * One side's step of the handshake: 1 when done, 0 to go on, fatal on an
 * error.  A client that has finished reads, to take the ticket in.
 */
static int
step(SSL *ssl, int client, int *done)
{
	unsigned char	b[1];
	int		r, e;

	if (!*done) {
		r = SSL_do_handshake(ssl);
		if (r == 1) {
			*done = 1;
			return 1;
		}
	} else if (client) {
		r = SSL_read(ssl, b, sizeof(b));
	} else
		return 1;
	e = SSL_get_error(ssl, r);
	if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
		fatalx("%s: handshake failed (%d)", client ? "client" :
		    "server", e);
	return 0;
}

/*
 * Connect agent a to a new server SSL; the server's CPU time goes to
 * *server_ms.  The server SSL is returned, established and idle; the
 * client's is freed, its newest session kept in a->sess.
 */
static SSL *
handshake(SSL_CTX *sctx, SSL_CTX *cctx, struct agent *a, const char *cn,
    const char *server_name, double *server_ms)
{
	SSL		*c, *s;
	BIO		*cb, *sb;
	SSL_SESSION	*sess;
	double		 t;
	int		 cdone = 0, sdone = 0, i;

	c = client_ssl_new(cctx, a->cert, a->key, cn, server_name);
	if (a->sess != NULL && SSL_set_session(c, a->sess) != 1)
		fatalx("SSL_set_session");
	if (BIO_new_bio_pair(&cb, 0, &sb, 0) != 1)
		fatalx("BIO_new_bio_pair");
	SSL_set_bio(c, cb, cb);
	SSL_set_connect_state(c);

	t = cpu_ms();
	if ((s = SSL_new(sctx)) == NULL)
		fatalx("SSL_new");
	SSL_set_bio(s, sb, sb);
	SSL_set_accept_state(s);
	*server_ms = cpu_ms() - t;

	/*
	 * Until both are done and neither has bytes to read: the ticket
	 * comes after the server's side is done, and the client's reads
	 * take it in.
	 */
	for (i = 0; i < 32; i++) {
		step(c, 1, &cdone);
		t = cpu_ms();
		step(s, 0, &sdone);
		*server_ms += cpu_ms() - t;
		if (cdone && sdone && BIO_ctrl_pending(cb) == 0 &&
		    BIO_ctrl_pending(sb) == 0)
			break;
	}
	if (i == 32)
		fatalx("handshake did not finish");
	if ((sess = SSL_get1_session(c)) == NULL)
		fatalx("no session");
	SSL_SESSION_free(a->sess);
	a->sess = sess;
	/* As after a close_notify: freed otherwise, the session is spoilt. */
	SSL_set_shutdown(c, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_free(c);
	/* Idle, as in wuzhad: no BIO pair buffer (a socket has none). */
	SSL_set_bio(s, NULL, NULL);
	return s;
}

int
main(int argc, char *argv[])
{
	struct conf_wuzhad	 conf;
	struct agent		*agents;
	SSL_CTX			*sctx, *cctx;
	SSL			**held;
	X509			*ca;
	EVP_PKEY		*cakey;
	const char		*ca_cert = NULL, *ca_key = NULL;
	const char		*server_name = "wuzhad";
	char			 cn[64];
	double			*full, *resumed, t;
	size_t			 h0, h1;
	long			 count = 2000;
	int			 i, n, reused = 0, counted;

	loadgen_prog = "tls-floor";
	memset(&conf, 0, sizeof(conf));
	for (i = 1; i < argc; i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] :
		    NULL;

		if (val == NULL)
			fatalx("%s: a value is missing", opt);
		if (strcmp(opt, "--ca-cert") == 0)
			ca_cert = val;
		else if (strcmp(opt, "--ca-key") == 0)
			ca_key = val;
		else if (strcmp(opt, "--cert") == 0)
			conf.tls.cert = (char *)val;
		else if (strcmp(opt, "--key") == 0)
			conf.tls.key = (char *)val;
		else if (strcmp(opt, "--server-name") == 0)
			server_name = val;
		else if (strcmp(opt, "--count") == 0)
			count = num_arg(val, "--count", 10, 100000);
		else
			fatalx("unknown option %s (see the top of "
			    "tests/bench/tls-floor.c)", opt);
		i++;
	}
	if (ca_cert == NULL || ca_key == NULL || conf.tls.cert == NULL ||
	    conf.tls.key == NULL)
		fatalx("--ca-cert, --ca-key, --cert and --key are required");
	conf.tls.ca = (char *)ca_cert;
	n = (int)count;

	if ((sctx = tls_server_ctx(&conf)) == NULL)
		fatalx("wuzhad's TLS context");
	cctx = client_ctx_new(ca_cert);
	SSL_CTX_set_session_cache_mode(cctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	ca = load_cert(ca_cert);
	cakey = load_key(ca_key);

	if ((agents = calloc((size_t)n, sizeof(*agents))) == NULL ||
	    (held = calloc((size_t)n, sizeof(*held))) == NULL ||
	    (full = calloc((size_t)n, sizeof(*full))) == NULL ||
	    (resumed = calloc((size_t)n, sizeof(*resumed))) == NULL)
		fatalx("out of memory");
	for (i = 0; i < n; i++) {
		snprintf(cn, sizeof(cn), "floor-%05d", i);
		cert_make(cn, NULL, ca, cakey, &agents[i].key, &agents[i].cert);
	}

	/* A fresh SSL object, before any handshake. */
	SSL_free(SSL_new(sctx));
	h0 = mallinfo2().uordblks;
	for (i = 0; i < n; i++)
		if ((held[i] = SSL_new(sctx)) == NULL)
			fatalx("SSL_new");
	h1 = mallinfo2().uordblks;
	for (i = 0; i < n; i++)
		SSL_free(held[i]);
	printf("{\"openssl\":");
	json_str(stdout, OpenSSL_version(OPENSSL_VERSION));
	/*
	 * Under a sanitizer malloc is not glibc's and mallinfo2 stays still:
	 * the heap figures are null then.
	 */
	counted = h1 > h0;
	printf(",\"count\":%d,\"ssl_new_bytes\":", n);
	if (counted)
		printf("%.0f", (double)(h1 - h0) / n);
	else
		printf("null");

	/* Full handshakes; the established server sides are kept. */
	for (i = 0; i < n; i++) {
		snprintf(cn, sizeof(cn), "floor-%05d", i);
		held[i] = handshake(sctx, cctx, &agents[i], cn, server_name,
		    &full[i]);
	}
	h1 = mallinfo2().uordblks;
	for (i = 0; i < n; i++) {
		t = cpu_ms();
		SSL_free(held[i]);
		full[i] += cpu_ms() - t;
	}
	/*
	 * The server sides are gone, the clients' sessions stay: the
	 * difference is what the established server sides held.
	 */
	h0 = mallinfo2().uordblks;

	/* Resumed handshakes with the tickets just taken. */
	for (i = 0; i < n; i++) {
		snprintf(cn, sizeof(cn), "floor-%05d", i);
		held[i] = handshake(sctx, cctx, &agents[i], cn, server_name,
		    &resumed[i]);
		reused += SSL_session_reused(held[i]);
		t = cpu_ms();
		SSL_free(held[i]);
		resumed[i] += cpu_ms() - t;
	}
	if (reused != n)
		fatalx("only %d of %d sessions resumed", reused, n);

	t = median(full, n);
	if (counted)
		printf(",\"conn_heap_bytes\":%.0f",
		    ((double)h1 - (double)h0) / n);
	else
		printf(",\"conn_heap_bytes\":null");
	printf(",\"full_server_ms\":%.3f,\"full_per_s\":%.0f", t, 1000 / t);
	t = median(resumed, n);
	printf(",\"resumed_server_ms\":%.3f,\"resumed_per_s\":%.0f}\n", t,
	    1000 / t);

	for (i = 0; i < n; i++) {
		X509_free(agents[i].cert);
		EVP_PKEY_free(agents[i].key);
		SSL_SESSION_free(agents[i].sess);
	}
	free(agents);
	free(held);
	free(full);
	free(resumed);
	X509_free(ca);
	EVP_PKEY_free(cakey);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	return 0;
}
