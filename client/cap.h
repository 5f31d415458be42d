/* SPDX-License-Identifier: ISC */
/*
 * cap: OASIS CAP 1.2 documents to and from the wuzha alert body.  Pure:
 * no files, no sockets, nothing of the client library, so that the fuzz
 * target (tests/fuzz/fuzz-cap.c) and the unit tests link it alone with
 * proto/ and libxml2.  The mapping is documented in wuzhactl(1), "CAP".
 */
#ifndef WUZHA_CAP_H
#define WUZHA_CAP_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define CAP_NS		"urn:oasis:names:tc:emergency:cap:1.2"
#define CAP_FILE_MAX	(64 * 1024)	/* largest document read, bytes */
#define CAP_TIME_LEN	25		/* "2027-01-15T08:00:00-00:00" */

/* What <references> says of the alert an update or cancel refers to. */
struct cap_ref {
	proto_id	 sender;	/* its issuer */
	uint64_t	 sent;		/* its issued_at, ms (whole seconds) */
};

/*
 * A document read in: the body it maps to, whose texts point into the
 * strings kept here (freed by cap_doc_free), and the reference's sender
 * and time, which the body does not carry.
 */
struct cap_doc {
	struct proto_alert	 a;
	struct cap_ref		 ref;
	char			*headline;
	char			*text;
	char			*instruction;
};

/*
 * Read a CAP 1.2 document of len bytes into *d.  Refused: more than
 * CAP_FILE_MAX bytes, XML that is not well-formed, any DOCTYPE (before
 * anything of it is read) and entity reference, elements outside CAP's
 * namespace (an XML signature at the end of <alert> aside) or where CAP
 * does not have them, missing ones, values CAP or the wuzha body do not
 * allow.  Returns 0, or -PROTO_E_CAP_* (or -PROTO_E_TOO_LONG for a text
 * over the body's limit) with why naming the element and the reason.
 * libxml2's own messages go to stderr only if verbose.  On failure *d
 * holds nothing to free; on success free it with cap_doc_free.
 */
int	cap_parse(const uint8_t *buf, size_t len, int verbose,
	    struct cap_doc *d, char *why, size_t whylen);
void	cap_doc_free(struct cap_doc *);

/*
 * Write alert a as a CAP 1.2 document to out (ref: the referenced alert
 * of an update or cancel, else NULL).  Returns 0, or -PROTO_E_CAP_VALUE
 * and why when a text holds a character XML 1.0 cannot carry, or an
 * update or cancel has no ref.
 */
int	cap_write(struct proto_buf *out, const struct proto_alert *a,
	    const struct cap_ref *ref, char *why, size_t whylen);

/* ms as a CAP dateTime in UTC ("...-00:00"), milliseconds dropped. */
void	cap_time_format(uint64_t ms, char buf[CAP_TIME_LEN + 1]);
/* A CAP dateTime (YYYY-MM-DDThh:mm:ss±hh:mm) into ms; -1 if it is not one. */
int	cap_time_parse(const char *s, size_t len, uint64_t *ms);

#endif
