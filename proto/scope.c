/* SPDX-License-Identifier: ISC */
/*
 * scope: what the deployment CA attests in a principal's certificate, and
 * the check that an alert's signer may reach a given agent.  A signature
 * proves who signed; the scope says whether they may.  The CA (wuzha-ca)
 * writes two kinds of subjectAltName URI:
 *
 *   wuzha:path:POLICE/SCHOOL/DEPT/CLASS   the principal's node, with every
 *                                         ancestor from its police root
 *   wuzha:issue:NODE                      the principal may issue alerts to
 *                                         NODE and everything below it
 *
 * An agent holds its own path and checks, without the daemon's tree, that
 * an alert's target is on that path and that the signer's issue node is
 * at or above the target on it.  Only a client certificate (clientAuth,
 * not serverAuth) can carry the right to issue, so the daemon's own key,
 * or any server's, never signs an alert an agent accepts.
 */

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "proto.h"
#include "field.h"

#define URI_PATH	"wuzha:path:"
#define URI_ISSUE	"wuzha:issue:"

/* Copy the node id s[0..n) into id; -1 if it is not one. */
static int
scope_id(proto_id id, const char *s, size_t n)
{
	if (!proto_node_id_valid(s, n))
		return -1;
	memcpy(id, s, n);
	id[n] = '\0';
	return 0;
}

/* Fill sc->path from "a/b/c"; -1 if empty, too deep or an id is bad. */
int
proto_scope_parse_path(struct proto_scope *sc, const char *s, size_t len)
{
	const char	*end = s + len, *slash;
	int		 depth = 0;

	sc->depth = 0;
	if (len == 0)
		return -1;
	while (s <= end) {
		if ((slash = memchr(s, '/', (size_t)(end - s))) == NULL)
			slash = end;
		if (depth == PROTO_PATH_MAX ||
		    scope_id(sc->path[depth], s, (size_t)(slash - s)) == -1)
			return -1;
		depth++;
		s = slash + 1;
	}
	sc->depth = depth;
	return 0;
}

/* The path as "a/b/c" in buf. */
const char *
proto_scope_path_str(const struct proto_scope *sc, char *buf, size_t len)
{
	size_t	off = 0;
	int	i, n;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	for (i = 0; i < sc->depth && off < len; i++) {
		n = snprintf(buf + off, len - off, "%s%s", i ? "/" : "",
		    sc->path[i]);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	return buf;
}

/* Take one subjectAltName URI into sc; -1 (and why) if it is malformed. */
static int
scope_uri(struct proto_scope *sc, const ASN1_IA5STRING *u, char *why,
    size_t whylen)
{
	const char	*s = (const char *)ASN1_STRING_get0_data(u);
	size_t		 n = (size_t)ASN1_STRING_length(u);
	size_t		 lp = sizeof(URI_PATH) - 1, li = sizeof(URI_ISSUE) - 1;

	if (s == NULL)
		return 0;
	if (n >= lp && memcmp(s, URI_PATH, lp) == 0) {
		if (sc->depth != 0) {
			proto_why(why, whylen, "certificate has more than one "
			    "%s URI", URI_PATH);
			return -1;
		}
		if (proto_scope_parse_path(sc, s + lp, n - lp) == -1) {
			proto_why(why, whylen, "certificate's %s URI is not "
			    "1 to %d node ids joined by /", URI_PATH,
			    PROTO_PATH_MAX);
			return -1;
		}
	} else if (n >= li && memcmp(s, URI_ISSUE, li) == 0) {
		if (sc->issue[0] != '\0') {
			proto_why(why, whylen, "certificate has more than one "
			    "%s URI", URI_ISSUE);
			return -1;
		}
		if (scope_id(sc->issue, s + li, n - li) == -1) {
			proto_why(why, whylen, "certificate's %s URI does not "
			    "name a node id", URI_ISSUE);
			return -1;
		}
	}
	return 0;
}

/* What cert attests: its path, its issue node and its key usages. */
int
proto_cert_scope(X509 *cert, struct proto_scope *sc, char *why,
    size_t whylen)
{
	GENERAL_NAMES		*sans;
	const GENERAL_NAME	*g;
	uint32_t		 flags, xku;
	int			 i, rc = 0;

	memset(sc, 0, sizeof(*sc));
	flags = X509_get_extension_flags(cert);
	if (flags & EXFLAG_INVALID) {
		proto_why(why, whylen, "certificate extensions do not parse");
		return -PROTO_E_CERT;
	}
	if (flags & EXFLAG_XKUSAGE) {
		xku = X509_get_extended_key_usage(cert);
		if (xku & XKU_SSL_CLIENT)
			sc->usage |= PROTO_USAGE_CLIENT;
		if (xku & XKU_SSL_SERVER)
			sc->usage |= PROTO_USAGE_SERVER;
	}
	sans = X509_get_ext_d2i(cert, NID_subject_alt_name, &i, NULL);
	if (sans == NULL) {
		if (i != -1) {
			proto_why(why, whylen, "certificate's subjectAltName "
			    "does not parse or appears twice");
			return -PROTO_E_CERT;
		}
		return 0;
	}
	for (i = 0; i < sk_GENERAL_NAME_num(sans) && rc == 0; i++) {
		g = sk_GENERAL_NAME_value(sans, i);
		if (g->type == GEN_URI &&
		    scope_uri(sc, g->d.uniformResourceIdentifier, why,
		    whylen) == -1)
			rc = -PROTO_E_CERT;
	}
	GENERAL_NAMES_free(sans);
	if (rc != 0)
		memset(sc, 0, sizeof(*sc));
	return rc;
}

/* The same from DER; -PROTO_E_CERT if it does not parse. */
int
proto_cert_scope_der(const uint8_t *der, size_t len, struct proto_scope *sc,
    char *why, size_t whylen)
{
	const unsigned char	*p = der;
	X509			*x;
	int			 rc;

	memset(sc, 0, sizeof(*sc));
	if ((x = d2i_X509(NULL, &p, (long)len)) == NULL || p != der + len) {
		X509_free(x);
		proto_why(why, whylen, "certificate does not parse");
		return -PROTO_E_CERT;
	}
	rc = proto_cert_scope(x, sc, why, whylen);
	X509_free(x);
	return rc;
}

/* 0 if sc is an issuer's: a client certificate with a node to issue to. */
int
proto_scope_issuer(const struct proto_scope *sc, char *why, size_t whylen)
{
	if (sc->usage & PROTO_USAGE_SERVER) {
		proto_why(why, whylen, "a server certificate may not sign "
		    "alerts");
		return -PROTO_E_NOT_ISSUER;
	}
	if (!(sc->usage & PROTO_USAGE_CLIENT)) {
		proto_why(why, whylen, "the certificate is not a principal's "
		    "(no clientAuth key usage)");
		return -PROTO_E_NOT_ISSUER;
	}
	if (sc->issue[0] == '\0') {
		proto_why(why, whylen, "the CA gave the certificate no right "
		    "to issue (no %s URI)", URI_ISSUE);
		return -PROTO_E_NOT_ISSUER;
	}
	return 0;
}

/* Index of node id in sc's path, or -1. */
static int
scope_index(const struct proto_scope *sc, const char *id)
{
	int	i;

	for (i = 0; i < sc->depth; i++)
		if (strcmp(sc->path[i], id) == 0)
			return i;
	return -1;
}

/*
 * May an alert for target, signed by signer, reach the agent whose own
 * certificate attests path?  signer must be an issuer (above), target on
 * the agent's path, and the signer's issue node at or above the target on
 * that same path.  0, or -PROTO_E_NOT_ISSUER / -PROTO_E_TARGET and why.
 */
int
proto_scope_allows(const struct proto_scope *agent,
    const struct proto_scope *signer, const char *target, char *why,
    size_t whylen)
{
	char	path[PROTO_PATH_MAX * (PROTO_ID_MAX + 1) + 1];
	int	t, i, rc;

	if ((rc = proto_scope_issuer(signer, why, whylen)) != 0)
		return rc;
	if ((t = scope_index(agent, target)) == -1) {
		proto_why(why, whylen, "target %s is not on this agent's path "
		    "%s", target, proto_scope_path_str(agent, path,
		    sizeof(path)));
		return -PROTO_E_TARGET;
	}
	if ((i = scope_index(agent, signer->issue)) == -1 || i > t) {
		proto_why(why, whylen, "the signer may issue to %s, which does "
		    "not cover %s on this agent's path %s", signer->issue,
		    target, proto_scope_path_str(agent, path, sizeof(path)));
		return -PROTO_E_TARGET;
	}
	return 0;
}

/* The scope of the certificate in a signed envelope (already verified). */
int
proto_envelope_scope(const uint8_t *buf, size_t len, struct proto_scope *sc,
    char *why, size_t whylen)
{
	struct proto_envelope	e;
	int			rc;

	memset(sc, 0, sizeof(*sc));
	if ((rc = proto_envelope_decode(buf, len, &e)) != 0) {
		proto_why(why, whylen, "envelope: %s", proto_err_name(-rc));
		return rc;
	}
	return proto_cert_scope_der(e.cert.p, e.cert.len, sc, why, whylen);
}
