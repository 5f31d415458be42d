/* SPDX-License-Identifier: ISC */
/*
 * client_receipt: the ACK as both clients send it, with its receipt: the
 * body (proto/receipt.c) naming the alert, the SHA-256 of its envelope,
 * the state, the head count and the time, signed with the sender's own
 * TLS key, so that anyone holding the CA can later check who confirmed
 * what, and when, without trusting the daemon or Redis.
 */

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "proto.h"
#include "client.h"

int
client_ack_encode(struct proto_buf *b, const struct proto_ack *in,
    const uint8_t *env_hash, EVP_PKEY *key, const char *cn, uint64_t at)
{
	struct proto_receipt	 r;
	struct proto_ack	 ack = *in;
	struct proto_buf	 body;
	uint8_t			 sig[PROTO_SIG_LEN];
	int			 rc = -1;

	if (env_hash == NULL || key == NULL || cn == NULL)
		return -1;
	memset(&r, 0, sizeof(r));
	r.version = PROTO_RECEIPT_VERSION;
	snprintf(r.id, sizeof(r.id), "%s", in->id);
	r.env_hash.p = env_hash;
	r.env_hash.len = PROTO_HASH_LEN;
	r.state = in->state;
	r.has_reach = in->has_reach;
	r.reach = in->reach;
	r.at = at;
	snprintf(r.principal, sizeof(r.principal), "%s", cn);
	pbuf_init(&body);
	if (proto_receipt_make(&body, &r, key, sig) == 0) {
		ack.receipt.p = body.data;
		ack.receipt.len = body.len;
		ack.sig.p = sig;
		ack.sig.len = sizeof(sig);
		proto_ack_encode(b, &ack);
		rc = b->err == 0 ? 0 : -1;
	}
	pbuf_free(&body);
	return rc;
}
