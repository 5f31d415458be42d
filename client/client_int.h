/* SPDX-License-Identifier: ISC */
/*
 * client_int: what client.c needs from client_tls.c and nobody else.
 */
#ifndef WUZHA_CLIENT_INT_H
#define WUZHA_CLIENT_INT_H

#include <stddef.h>

#include <openssl/ssl.h>

struct client_tls;

/*
 * A new SSL bound to the daemon's expected name (SNI, host/IP check),
 * offering the last session the daemon gave us, if any.
 */
SSL		*client_tls_ssl(struct client_tls *);
/* Drop the kept session (the handshake offering it failed). */
void		 client_tls_forget(struct client_tls *);
/* Reason text of OpenSSL error e (0: the newest queued); clears the queue. */
const char	*client_ssl_reason(unsigned long e, char *buf, size_t len);

#endif
