/* SPDX-License-Identifier: ISC */
/*
 * loadgen: what the many-agents tools (tests/system/swarm.c and
 * tests/bench/wuzha-bench.c) share.  Client certificates made in memory
 * from a CA key, the CN format, PEM loading, argument parsing and the
 * small helpers around them.  Errors are fatal: these are test tools.
 */
#ifndef WUZHA_LOADGEN_H
#define WUZHA_LOADGEN_H

#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "proto.h"

/* Set by main: the prefix of every message fatalx prints. */
extern const char	*loadgen_prog;

/* Print "prog: message", OpenSSL's error queue, and exit 1. */
void	fatalx(const char *, ...)
	    __attribute__((noreturn, format(printf, 1, 2)));

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t	now_ms(void);

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

/* A client certificate for cn with a fresh Ed25519 key, signed by ca. */
void	cert_make(const char *cn, X509 *ca, EVP_PKEY *cakey,
	    EVP_PKEY **keyp, X509 **certp);
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

#endif
