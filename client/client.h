/* SPDX-License-Identifier: ISC */
/*
 * client: the small connection library shared by wuzha-agent and wuzhactl.
 * A TLS 1.3 client context that pins the deployment CA and checks the
 * daemon's name, and a connection object that connects, says HELLO, waits
 * for WELCOME, then reads whole frames and hands them to its owner, keeps
 * the session alive with PING/PONG and notices a silent peer.  Also the
 * helpers to load the signing key and certificate and the CA store used
 * to verify alert envelopes.
 */
#ifndef WUZHA_CLIENT_H
#define WUZHA_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "proto.h"

struct event_base;
struct conf_agent;
struct client_tls;
struct client;

#define CLIENT_HANDSHAKE_MS	10000	/* connect + TLS + WELCOME, default */
#define CLIENT_BYE_MS		2000	/* how long a BYE may take to leave */
#define CLIENT_SILENT_BEATS	3	/* heartbeats without a byte: peer dead */
#define CLIENT_REASON_MAX	256

/*
 * TLS context: TLS 1.3 only, own certificate and key, the CA from the
 * config as the only trust anchor, peer verification on.  Every connection
 * made with it checks that the daemon's certificate carries server_name,
 * and offers the newest session ticket the daemon gave (resumption: a
 * daemon that still knows its ticket key skips the full handshake).
 */
struct client_tls *client_tls_new(const struct conf_agent *, char *err,
		    size_t errlen);
void		   client_tls_free(struct client_tls *);

/*
 * What the owner of a connection is told.  All three run from the event
 * loop; none may free the connection (client_free defers itself there).
 *  welcome_cb: the session is up (after HELLO/WELCOME).
 *  frame_cb:   any frame the library does not handle itself, whole, with
 *              the payload only; ERROR frames included, even before WELCOME.
 *  closed_cb:  the connection is gone for good, with a one-line reason;
 *              called once, never after client_free.
 */
struct client_ops {
	void	(*welcome_cb)(struct client *, const struct proto_welcome *,
		    void *);
	void	(*frame_cb)(struct client *, uint8_t type, const uint8_t *,
		    size_t, void *);
	void	(*closed_cb)(struct client *, const char *reason, void *);
};

/*
 * A connection to conf->server, used once: a new attempt is a new object.
 * role is PROTO_ROLE_AGENT or PROTO_ROLE_CONSOLE.  tls must outlive it.
 */
struct client	*client_new(struct event_base *, struct client_tls *,
		    const struct conf_agent *, enum proto_role,
		    const struct client_ops *, void *arg);
/* Connect + TLS + WELCOME must be done within ms (CLIENT_HANDSHAKE_MS). */
void		 client_set_handshake_ms(struct client *, uint32_t ms);
/*
 * Largest frame accepted from the server (default: the config's
 * max_frame); at most PROTO_FRAME_MAX_LIMIT.  Call before client_connect.
 */
void		 client_set_max_frame(struct client *, uint32_t);
/* Software name sent in HELLO ("wuzha-agent/0.1.0"); copied. */
void		 client_set_agent_name(struct client *, const char *);
/* Connect to hostport instead of the config's first server (before
 * client_connect). */
int		 client_set_peer(struct client *, const char *hostport);
/* Start connecting; -1 with err set if that fails at once (bad address). */
int		 client_connect(struct client *, char *err, size_t errlen);
/*
 * Queue every byte of buf (whole frames) and reset buf.  -1 if the
 * session is not up, a frame is longer than the server accepts, or the
 * buffer carries an encoding error.
 */
int		 client_send(struct client *, struct proto_buf *);
/* Is the session up (WELCOME seen, not closing)? */
int		 client_ready(const struct client *);
/* The WELCOME received, NULL before. */
const struct proto_welcome *client_welcome(const struct client *);
/* "host:port" of the daemon, for log lines. */
const char	*client_peer(const struct client *);
/*
 * Say BYE (code may be 0, text may be NULL) if the session is up, flush
 * it, then close; closed_cb follows with "closed by us".
 */
void		 client_close(struct client *, uint16_t code, const char *text);
/* Free; no callback afterwards.  Deferred when called from one. */
void		 client_free(struct client *);

/* --- keys, certificates, CA store -------------------------------------- */

EVP_PKEY	*client_key_load(const char *path, char *err, size_t errlen);
X509		*client_cert_load(const char *path, char *err, size_t errlen);
/* A store holding the CA certificate(s) of path, for proto_envelope_verify. */
X509_STORE	*client_store_load(const char *path, const char *crl, char *err,
		    size_t errlen);
/* Subject CN of cert into buf; -1 if none or too long. */
int		 client_cert_cn(X509 *, char *buf, size_t len);
/* The TLS private key of t (borrowed: t owns it), which receipts sign with. */
EVP_PKEY	*client_tls_key(const struct client_tls *);

/* --- receipts (client_receipt.c) --------------------------------------- */

/*
 * Append ack as a frame, signed as a receipt by key for cn over the
 * envelope whose SHA-256 is env_hash, made at at (ms).  0 if signed, or
 * -1 if it could not be (no hash or key, OpenSSL failure): then nothing
 * is appended.
 */
int		 client_ack_encode(struct proto_buf *, const struct proto_ack *,
		    const uint8_t *env_hash, EVP_PKEY *key, const char *cn,
		    uint64_t at);

/* --- small helpers ----------------------------------------------------- */

/* Uniformly random bytes from the OpenSSL generator; aborts if it fails. */
void		 client_random(void *, size_t);
/*
 * ms since the epoch for people, in the zone TZ names, with that zone's
 * name: "2026-11-28 10:10:00 CST" (TZ=Asia/Shanghai), "... UTC" (TZ=UTC).
 */
const char	*client_time_str(uint64_t ms, char *buf, size_t len);
/* For scripts: ISO 8601 with the offset, "2026-11-28T10:10:00+08:00". */
const char	*client_time_iso(uint64_t ms, char *buf, size_t len);

#endif
