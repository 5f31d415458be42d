/* SPDX-License-Identifier: ISC */
/*
 * client_tls: the parts of the client library that deal in certificates
 * and keys: the TLS 1.3 client context (own cert and key, the deployment
 * CA as the only trust anchor, the daemon's name checked on every
 * connection, the last session kept for resumption), loading the signing
 * key, certificate and CA store, and a few small helpers (clock,
 * randomness, time format).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "clock.h"
#include "conf.h"
#include "proto.h"
#include "client.h"
#include "client_int.h"
#include "log.h"

struct client_tls {
	SSL_CTX		*ctx;
	char		*server_name;	/* name the daemon's cert must carry */
	int		 name_is_ip;	/* server_name is an address literal */
	SSL_SESSION	*session;	/* newest resumable, or NULL; ours */
};

void
client_random(void *buf, size_t len)
{
	if (RAND_bytes(buf, (int)len) != 1)
		fatalx("RAND_bytes failed");
}

const char *
client_time_str(uint64_t ms, char *buf, size_t len)
{
	return clock_str(ms, "%Y-%m-%d %H:%M:%S %Z", CLOCK_LOCAL, buf, len);
}

/* strftime's %z is +0800; ISO 8601's extended form wants +08:00. */
const char *
client_time_iso(uint64_t ms, char *buf, size_t len)
{
	size_t	n;

	clock_str(ms, "%Y-%m-%dT%H:%M:%S%z", CLOCK_LOCAL, buf, len);
	n = strlen(buf);
	if (n >= 5 && buf[0] != '@' && n + 2 <= len) {
		memmove(buf + n - 1, buf + n - 2, 3);
		buf[n - 2] = ':';
	}
	return buf;
}

/* Reason text of error e (0: the newest queued), clearing the queue. */
const char *
client_ssl_reason(unsigned long e, char *buf, size_t len)
{
	const char	*r;

	if (e == 0)
		e = ERR_peek_last_error();
	ERR_clear_error();
	if (e == 0)
		return "unknown OpenSSL error";
	if ((r = ERR_reason_error_string(e)) != NULL)
		return r;
	ERR_error_string_n(e, buf, len);
	return buf;
}

/* --- TLS context -------------------------------------------------------- */

/*
 * A new session (with TLS 1.3: a ticket the daemon sent after the
 * handshake): keep the newest resumable one, to offer on the next
 * connection.  We keep a copy, not a reference: the session OpenSSL hands
 * us stays the connection's own, and a connection that ends in an error
 * (a cut without close_notify, the very case a reconnect follows) marks
 * it not resumable.  A TLS 1.3 ticket stays sound after such an end.
 */
static int
client_tls_new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct client_tls	*t;
	SSL_SESSION		*copy;

	t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	if (t == NULL || !SSL_SESSION_is_resumable(sess))
		return 0;
	if ((copy = SSL_SESSION_dup(sess)) == NULL) {
		ERR_clear_error();
		return 0;
	}
	SSL_SESSION_free(t->session);
	t->session = copy;
	log_debug("tls: new session ticket from the daemon, kept for "
	    "resumption");
	return 0;
}

/* Forget the kept session, after a handshake that failed with it. */
void
client_tls_forget(struct client_tls *t)
{
	SSL_SESSION_free(t->session);
	t->session = NULL;
}

/* Build the client TLS context from the config; see client.h. */
struct client_tls *
client_tls_new(const struct conf_agent *conf, char *err, size_t errlen)
{
	struct client_tls	*t;
	struct in6_addr		 a6;
	X509_STORE		*store;
	char			 sb[256];

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if ((t->server_name = strdup(conf->server_name)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	t->name_is_ip = inet_pton(AF_INET, t->server_name, &a6) == 1 ||
	    inet_pton(AF_INET6, t->server_name, &a6) == 1;
	if ((t->ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		snprintf(err, errlen, "SSL_CTX_new: %s",
		    client_ssl_reason(0, sb, sizeof(sb)));
		goto fail;
	}
	if (SSL_CTX_set_min_proto_version(t->ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(t->ctx, TLS1_3_VERSION) != 1) {
		snprintf(err, errlen, "cannot restrict to TLS 1.3: %s",
		    client_ssl_reason(0, sb, sizeof(sb)));
		goto fail;
	}
	/* The daemon's certificate is checked against the CA (and CRL). */
	if ((store = client_store_load(conf->tls.ca, conf->tls.crl, err,
	    errlen)) == NULL)
		goto fail;
	SSL_CTX_set_cert_store(t->ctx, store);	/* the context owns it now */
	if (SSL_CTX_use_certificate_chain_file(t->ctx, conf->tls.cert) != 1) {
		snprintf(err, errlen, "%s: cannot load certificate: %s",
		    conf->tls.cert, client_ssl_reason(0, sb, sizeof(sb)));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(t->ctx, conf->tls.key,
	    SSL_FILETYPE_PEM) != 1) {
		snprintf(err, errlen, "%s: cannot load key: %s",
		    conf->tls.key, client_ssl_reason(0, sb, sizeof(sb)));
		goto fail;
	}
	if (SSL_CTX_check_private_key(t->ctx) != 1) {
		snprintf(err, errlen, "%s: key does not match %s",
		    conf->tls.key, conf->tls.cert);
		ERR_clear_error();
		goto fail;
	}
	/*
	 * Send our certificate (and any intermediates in the file), not the
	 * root the daemon already has: OpenSSL would otherwise verify our own
	 * chain again in every handshake and send the root, which the daemon
	 * then parses for nothing.  Built once here instead.
	 */
	if (SSL_CTX_build_cert_chain(t->ctx, SSL_BUILD_CHAIN_FLAG_NO_ROOT) != 1)
		ERR_clear_error();	/* sent as the file has it */
	SSL_CTX_set_mode(t->ctx, SSL_MODE_NO_AUTO_CHAIN);
	SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_verify_depth(t->ctx, 4);
	/*
	 * Resumption: no internal cache, just the newest session kept in t
	 * and offered by client_tls_ssl, so that a reconnect (a storm of
	 * them after a network cut) costs the daemon no full handshake.
	 */
	SSL_CTX_set_app_data(t->ctx, t);
	SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(t->ctx, client_tls_new_session_cb);
	return t;
 fail:
	client_tls_free(t);
	return NULL;
}

void
client_tls_free(struct client_tls *t)
{
	if (t == NULL)
		return;
	SSL_SESSION_free(t->session);
	SSL_CTX_free(t->ctx);
	free(t->server_name);
	free(t);
}

/*
 * One SSL object per connection, bound to the daemon's expected name,
 * offering the kept session if there is one.
 */
SSL *
client_tls_ssl(struct client_tls *t)
{
	SSL		*ssl;
	SSL_SESSION	*offer;

	if ((ssl = SSL_new(t->ctx)) == NULL)
		return NULL;
	/*
	 * Offer a copy: a handshake that fails marks the session it was given
	 * as not resumable, and the kept ticket must outlive such failures
	 * (a daemon restarting refuses a few attempts before it is back).
	 */
	if (t->session != NULL) {
		if ((offer = SSL_SESSION_dup(t->session)) == NULL ||
		    SSL_set_session(ssl, offer) != 1) {
			ERR_clear_error();
			client_tls_forget(t);
		}
		SSL_SESSION_free(offer);
	}
	if (t->name_is_ip) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
		    t->server_name) != 1)
			goto fail;
	} else {
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (SSL_set1_host(ssl, t->server_name) != 1 ||
		    SSL_set_tlsext_host_name(ssl, t->server_name) != 1)
			goto fail;
	}
	return ssl;
 fail:
	SSL_free(ssl);
	return NULL;
}

/* --- keys and certificates ---------------------------------------------- */

EVP_PKEY *
client_tls_key(const struct client_tls *t)
{
	return SSL_CTX_get0_privatekey(t->ctx);
}

/* The PEM private key at path (the signing key). */
EVP_PKEY *
client_key_load(const char *path, char *err, size_t errlen)
{
	FILE		*f;
	EVP_PKEY	*k;
	char		 sb[256];

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (k == NULL)
		snprintf(err, errlen, "%s: not a PEM private key: %s", path,
		    client_ssl_reason(0, sb, sizeof(sb)));
	return k;
}

/* The PEM certificate at path (the first one). */
X509 *
client_cert_load(const char *path, char *err, size_t errlen)
{
	FILE	*f;
	X509	*x;
	char	 sb[256];

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		snprintf(err, errlen, "%s: not a PEM certificate: %s", path,
		    client_ssl_reason(0, sb, sizeof(sb)));
	return x;
}

/*
 * An X509_STORE trusting only the CA file at path, checking the CRL file
 * crl (when not NULL) for every certificate it verifies.
 */
X509_STORE *
client_store_load(const char *path, const char *crl, char *err, size_t errlen)
{
	X509_LOOKUP	*lu;
	X509_STORE	*st;
	char		 sb[256];

	if ((st = X509_STORE_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (X509_STORE_load_file(st, path) != 1) {
		snprintf(err, errlen, "%s: cannot load CA: %s", path,
		    client_ssl_reason(0, sb, sizeof(sb)));
		X509_STORE_free(st);
		return NULL;
	}
	if (crl != NULL) {
		if ((lu = X509_STORE_add_lookup(st, X509_LOOKUP_file())) ==
		    NULL || X509_load_crl_file(lu, crl, X509_FILETYPE_PEM) <= 0) {
			snprintf(err, errlen, "%s: cannot load CRL: %s", crl,
			    client_ssl_reason(0, sb, sizeof(sb)));
			X509_STORE_free(st);
			return NULL;
		}
		X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
	}
	return st;
}

/* The subject CN, refused if it holds a NUL or does not fit. */
int
client_cert_cn(X509 *x, char *buf, size_t len)
{
	X509_NAME	*n;
	X509_NAME_ENTRY	*e;
	ASN1_STRING	*s;
	int		 i, slen;

	if ((n = X509_get_subject_name(x)) == NULL ||
	    (i = X509_NAME_get_index_by_NID(n, NID_commonName, -1)) < 0 ||
	    (e = X509_NAME_get_entry(n, i)) == NULL ||
	    (s = X509_NAME_ENTRY_get_data(e)) == NULL)
		return -1;
	slen = ASN1_STRING_length(s);
	if (slen <= 0 || (size_t)slen >= len)
		return -1;
	memcpy(buf, ASN1_STRING_get0_data(s), (size_t)slen);
	buf[slen] = '\0';
	if (strlen(buf) != (size_t)slen)
		return -1;
	return 0;
}
