/* SPDX-License-Identifier: ISC */
/*
 * loadgen: what the many-agents tools (tests/system/swarm.c and
 * tests/bench/wuzha-bench.c) share.  Client certificates made in memory
 * from a CA key, the CN format, PEM loading, argument parsing, the TLS
 * client setup, the frames every agent sends and reads, and the small
 * helpers around them.  Errors are fatal: these are test tools.
 */
#ifndef WUZHA_LOADGEN_H
#define WUZHA_LOADGEN_H

#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "clock.h"
#include "proto.h"

/* Set by main: the prefix of every message fatalx prints. */
extern const char	*loadgen_prog;

/* Print "prog: message", OpenSSL's error queue, and exit 1. */
void	fatalx(const char *, ...)
	    __attribute__((noreturn, format(printf, 1, 2)));


/*
 * A CN format from the command line holds exactly one integer
 * conversion, "%d" or "%0Nd"; it is taken apart rather than handed to
 * printf, so that the format is never a printf format.
 */
struct cn_format {
	char	prefix[PROTO_ID_MAX + 1];
	char	suffix[PROTO_ID_MAX + 1];
	int	width;
	int	zero;
};

void	cn_format_parse(const char *, struct cn_format *);
void	cn_format_make(const struct cn_format *, int, char *, size_t);

/*
 * A client certificate for cn with a fresh Ed25519 key, signed by ca; with
 * path (node ids joined by /) its wuzha:path: URI, as wuzha-ca writes it.
 */
void	cert_make(const char *cn, const char *path, X509 *ca, EVP_PKEY *cakey,
	    EVP_PKEY **keyp, X509 **certp);

/* Each principal's path, from `wuzhactl tree principals` (--principals). */
struct cn_path {
	char	cn[PROTO_ID_MAX + 1];
	char	path[4 * (PROTO_ID_MAX + 1)];
};
struct cn_paths {
	struct cn_path	*v;
	size_t		 n;
};
void		 paths_load(struct cn_paths *, const char *file);
void		 paths_free(struct cn_paths *);
const char	*paths_find(const struct cn_paths *, const char *cn);
X509		*load_cert(const char *);
EVP_PKEY	*load_key(const char *);

/* A decimal in [min, max] or fatal, naming what. */
long	num_arg(const char *, const char *what, long min, long max);
/* "A.B.C.D:PORT" into sin, or fatal. */
void	parse_server(const char *, struct sockaddr_in *);
/* The soft limit of open files up to the hard one. */
void	raise_nofile(void);
/* s as a JSON string, quotes included. */
void	json_str(FILE *, const char *s);
/* Arm ev to fire us microseconds from now. */
void	timer_arm_us(struct event *ev, long us);

/* A store holding ca alone, to verify envelopes with. */
X509_STORE	*ca_store(X509 *ca);
/* A TLS 1.3 client context that verifies the server against ca_path. */
SSL_CTX		*client_ctx_new(const char *ca_path);
/* A TLS connection as cn, with its certificate and key, to server_name. */
SSL		*client_ssl_new(SSL_CTX *, X509 *cert, EVP_PKEY *key,
		    const char *cn, const char *server_name);

/*
 * A bufferevent for ssl on fd (-1: the caller connects it), in the
 * connecting state, closing fd when freed, with the callbacks set and
 * reading enabled.
 */
struct bufferevent *tls_bev_new(struct event_base *, int fd, SSL *ssl,
	    bufferevent_data_cb readcb, bufferevent_event_cb eventcb,
	    void *arg);

/*
 * Frames every agent sends, appended to a buffer the caller set up.
 * ack_delivered_encode takes the ACK's flags (PROTO_ACKF_QUIET or 0).
 * pong_encode answers a PING payload; it returns 0, or -PROTO_E_* when
 * the PING does not decode.
 */
void	hello_encode(struct proto_buf *, uint8_t role, const char *agent);
void	ack_delivered_encode(struct proto_buf *, const char *id,
	    uint8_t flags, const uint8_t *env_hash, EVP_PKEY *key,
	    const char *cn);
/*
 * An ACK of state (reach with relayed if has_reach) signed as a receipt
 * by key for cn, over the envelope whose SHA-256 is env_hash, made at
 * the wall clock's now: what wuzhad requires (receipts: required).
 */
void	ack_signed_encode(struct proto_buf *, const char *id, uint8_t state,
	    int has_reach, uint32_t reach, uint8_t flags,
	    const uint8_t *env_hash, EVP_PKEY *key, const char *cn);

/*
 * The SHA-256 of each alert's envelope, by id: what the receipts of one
 * process's many agents sign, hashed once per alert.  Found from the
 * newest, as acks are mostly of recent alerts.
 */
struct env_hash_ent {
	proto_id	id;
	uint8_t		h[PROTO_HASH_LEN];
};
struct env_hashes {
	struct env_hash_ent	*v;
	size_t			 n, cap;
};
/* The hash of id's envelope env, computed the first time id is seen. */
const uint8_t	*env_hash_note(struct env_hashes *, const char *id,
		    struct proto_view env);
/* The hash noted for id, or NULL. */
const uint8_t	*env_hash_get(const struct env_hashes *, const char *id);
void		 env_hashes_free(struct env_hashes *);
int	pong_encode(struct proto_buf *, const uint8_t *, size_t);

/*
 * The frame at the head of in, at most max bytes of payload: 1 with its
 * type and payload (still in the buffer; drain PROTO_FRAME_HDR + *lenp
 * when done), 0 while it is incomplete, -PROTO_E_* for a bad header.
 */
int	frame_peek(struct evbuffer *in, uint32_t max, uint8_t *typep,
	    const uint8_t **payloadp, uint32_t *lenp);
/*
 * Why a bufferevent reported EOF or an error, as "connection closed" or
 * "connection error", then ": " and OpenSSL's or the system's reason.
 */
void	bev_why(struct bufferevent *, short what, char *, size_t);

/*
 * Envelope verification that remembers up to max distinct envelopes: one
 * process stands for many agents, and checking the same signature for
 * each of them would measure the generator, not wuzhad.
 */
struct seen_env {
	uint8_t		*bytes;
	size_t		 len;
	proto_id	 id;
};

struct verify_cache {
	struct seen_env	*seen;
	int		 nseen;
	int		 max;
	uint64_t	 nverify;	/* proto_envelope_verify calls */
};

void	verify_cache_init(struct verify_cache *, int max);
void	verify_cache_free(struct verify_cache *);
/* Verify env against store unless seen; its alert id goes to id. */
int	verify_cached(struct verify_cache *, X509_STORE *store,
	    struct proto_view env, char *id, char *why, size_t whylen);

#endif
