/* SPDX-License-Identifier: ISC */
/*
 * tls: the listener's OpenSSL context.  TLS 1.3 only, mutual: a client
 * must present a certificate from the deployment CA (verify depth kept
 * small), and the CRL, when configured, is checked for every leaf.  The
 * same certificate store verifies the issuer certificates inside alerts.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "wuzhad.h"

#define TLS_VERIFY_DEPTH	2	/* leaf, (intermediate,) CA */
#define TLS_TICKET_KEY_LEN	80	/* OpenSSL's name + HMAC + AES keys */
#define TLS_TICKET_LIFETIME	(7 * 24 * 3600)	/* seconds, RFC 8446's limit */

/* Load a PEM CRL file into the store and turn CRL checking on. */
static int
tls_load_crl(X509_STORE *store, const char *path)
{
	X509_LOOKUP	*lu;

	if ((lu = X509_STORE_add_lookup(store, X509_LOOKUP_file())) == NULL ||
	    X509_load_crl_file(lu, path, X509_FILETYPE_PEM) <= 0) {
		log_ssl("tls: cannot load CRL %s", path);
		return -1;
	}
	X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
	return 0;
}

/*
 * Session tickets keyed from a file (80 bytes: name, HMAC and AES keys),
 * so an agent's ticket still resumes after a restart of the daemon (or
 * on another daemon sharing the file): a reconnect storm then costs
 * resumptions, not full handshakes.  Keep the file secret (0600).
 */
static int
tls_ticket_key(SSL_CTX *ctx, const char *path)
{
	unsigned char	 key[TLS_TICKET_KEY_LEN + 1];
	size_t		 n;
	FILE		*f;

	if ((f = fopen(path, "rb")) == NULL) {
		log_warn("tls: cannot open ticket key %s", path);
		return -1;
	}
	n = fread(key, 1, sizeof(key), f);
	fclose(f);
	if (n != TLS_TICKET_KEY_LEN) {
		log_warnx("tls: ticket key %s must hold exactly %d bytes "
		    "(openssl rand -out FILE %d)", path, TLS_TICKET_KEY_LEN,
		    TLS_TICKET_KEY_LEN);
		OPENSSL_cleanse(key, sizeof(key));
		return -1;
	}
	if (SSL_CTX_set_tlsext_ticket_keys(ctx, key, TLS_TICKET_KEY_LEN) != 1) {
		log_ssl("tls: cannot set the ticket key");
		OPENSSL_cleanse(key, sizeof(key));
		return -1;
	}
	OPENSSL_cleanse(key, sizeof(key));
	return 0;
}

SSL_CTX *
tls_server_ctx(const struct conf_wuzhad *conf)
{
	SSL_CTX			*ctx;
	STACK_OF(X509_NAME)	*names;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		log_ssl("tls: SSL_CTX_new");
		return NULL;
	}
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION)) {
		log_ssl("tls: cannot restrict to TLS 1.3");
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, conf->tls.cert) != 1) {
		log_ssl("tls: cannot load certificate %s", conf->tls.cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, conf->tls.key, SSL_FILETYPE_PEM) != 1) {
		log_ssl("tls: cannot load key %s", conf->tls.key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		log_ssl("tls: key %s does not match certificate %s",
		    conf->tls.key, conf->tls.cert);
		goto fail;
	}
	if (SSL_CTX_load_verify_locations(ctx, conf->tls.ca, NULL) != 1) {
		log_ssl("tls: cannot load CA %s", conf->tls.ca);
		goto fail;
	}
	if ((names = SSL_load_client_CA_file(conf->tls.ca)) == NULL) {
		log_ssl("tls: cannot read CA names from %s", conf->tls.ca);
		goto fail;
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	/*
	 * Build the chain we send once, here, without the root the agents
	 * already hold.  Left to itself OpenSSL builds it again in every
	 * handshake, a certificate verification (an Ed25519 signature
	 * check) per agent; a certificate that does not chain to tls.ca is
	 * sent as the file has it, as before.
	 */
	if (SSL_CTX_build_cert_chain(ctx, SSL_BUILD_CHAIN_FLAG_NO_ROOT) != 1) {
		log_ssl("tls: certificate %s does not chain to CA %s; sending "
		    "it as it is", conf->tls.cert, conf->tls.ca);
	}
	SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
	if (conf->tls.crl != NULL &&
	    tls_load_crl(SSL_CTX_get_cert_store(ctx), conf->tls.crl) == -1)
		goto fail;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_verify_depth(ctx, TLS_VERIFY_DEPTH);
	/* Idle connections keep no read/write buffers. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	/*
	 * Read what the socket holds in one go, not a record's header and
	 * then its body: half the reads for an agent's ack.  What OpenSSL
	 * keeps beyond one record, conn.c takes (conn_read_pending).
	 */
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"wuzhad", 6);
	/*
	 * One ticket per handshake: an agent resumes with the newest, and
	 * each ticket costs the server an encryption of the whole session
	 * (a second one was an eighth of a full handshake's CPU).  Tickets
	 * live for TLS 1.3's maximum, a week, so that agents reconnecting
	 * after a long-running daemon restarts still resume; a resumed
	 * session's certificate is checked again against the CA and CRL in
	 * force (conn.c), so a longer lifetime does not outlast a revocation.
	 */
	SSL_CTX_set_num_tickets(ctx, 1);
	SSL_CTX_set_timeout(ctx, TLS_TICKET_LIFETIME);
	if (conf->tls.ticket_key != NULL &&
	    tls_ticket_key(ctx, conf->tls.ticket_key) == -1)
		goto fail;
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

int
tls_peer_cn(SSL *ssl, char *cn, size_t cnlen)
{
	X509		*x;
	X509_NAME	*name;
	int		 i, len;

	if ((x = SSL_get0_peer_certificate(ssl)) == NULL)
		return -1;
	if ((name = X509_get_subject_name(x)) == NULL)
		return -1;
	if ((i = X509_NAME_get_index_by_NID(name, NID_commonName, -1)) < 0)
		return -1;
	/* Exactly one CN: two would make the identity ambiguous. */
	if (X509_NAME_get_index_by_NID(name, NID_commonName, i) >= 0)
		return -1;
	len = X509_NAME_get_text_by_NID(name, NID_commonName, cn, (int)cnlen);
	if (len <= 0 || (size_t)len >= cnlen || strlen(cn) != (size_t)len)
		return -1;
	if (!proto_name_valid(cn, (size_t)len))
		return -1;
	return 0;
}
