/* SPDX-License-Identifier: ISC */
/*
 * cap: OASIS CAP 1.2 to and from the wuzha alert body.
 *
 * Reading trusts nothing of the document.  libxml2 parses it from memory
 * with no network, no DTD loading or attribute defaults, no entity
 * substitution and no XInclude; a SAX hook stops the parser at the first
 * DOCTYPE, before a byte of its subset is read, so entity declarations
 * (XXE, billion laughs) never reach libxml2's entity code.  The tree is
 * then walked against CAP's element sequences: every element in order,
 * each at most as often as CAP allows, the required ones present.
 *
 * The mapping, both ways (wuzhactl(1), "CAP"):
 *   identifier = id, sender = issuer, sent = issued_at, status = status,
 *   msgType = msg_type, references = "sender,identifier,sent" of the
 *   alert referred to, scope Restricted (restriction names the target),
 *   info/category: warning and case-followup Security, knowledge Safety,
 *   with the exact value in parameter wuzha:category; urgency Immediate
 *   and certainty Likely (fixed; any CAP value is accepted on the way in),
 *   severity = severity, headline, description = text, instruction,
 *   effective = publish_at, expires = expires_at, parameters
 *   wuzha:target and wuzha:relay_required.
 * Times are whole seconds in UTC, written "-00:00" as CAP asks; the
 * milliseconds of the body are dropped.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlversion.h>

#include "cap.h"

#define CAP_DSIG_NS	"http://www.w3.org/2000/09/xmldsig#"
#define CAP_XI_NS	"http://www.w3.org/2001/XInclude"
#define CAP_XI_NS_OLD	"http://www.w3.org/2003/XInclude"
#define CAP_XSI_NS	"http://www.w3.org/2001/XMLSchema-instance"
#define CAP_WHY_TEXT	48	/* bytes of a bad value quoted in why */

/* valueName and value of a <parameter> or <eventCode>. */
struct cap_pair {
	char	*name, *value;
	size_t	 vlen;
};

/* What the parse of one document keeps. */
struct cap_state {
	int		 verbose;
	int		 doctype;	/* the SAX hook saw one */
	int		 entity;	/* an undeclared entity was referenced */
	int		 first_line;
	char		 first[256];	/* libxml2's first error */
	char		*why;
	size_t		 whylen;
	struct cap_doc	*d;
	/* parameters seen */
	int		 has_target, has_cat, has_relay;
	int		 cap_cat;	/* category from CAP's <category> */
	uint64_t	 effective, expires;
	struct cap_pair	*pair;		/* the <parameter> being read */
};

/* One element of a CAP sequence: its name and how often it may come. */
struct cap_elem {
	const char	*name;
	unsigned	 min, max;	/* max 0: unbounded */
	int		 (*fn)(struct cap_state *, xmlNode *);
};

static int	cap_fail(struct cap_state *, int code, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));

static int
cap_fail(struct cap_state *st, int code, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(st->why, st->whylen, fmt, ap);
	va_end(ap);
	return -code;
}

/* --- time ---------------------------------------------------------------- */

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t
cap_days(int64_t y, int m, int d)
{
	int64_t	era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
cap_digits(const char *s, int n, int *out)
{
	int	i, v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int
cap_time_parse(const char *s, size_t len, uint64_t *ms)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	int	y, mo, d, h, mi, sec, oh, om, leap;
	int64_t	t;

	if (len != CAP_TIME_LEN || s[4] != '-' || s[7] != '-' ||
	    s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
	    (s[19] != '+' && s[19] != '-') || s[22] != ':')
		return -1;
	if (cap_digits(s, 4, &y) || cap_digits(s + 5, 2, &mo) ||
	    cap_digits(s + 8, 2, &d) || cap_digits(s + 11, 2, &h) ||
	    cap_digits(s + 14, 2, &mi) || cap_digits(s + 17, 2, &sec) ||
	    cap_digits(s + 20, 2, &oh) || cap_digits(s + 23, 2, &om))
		return -1;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || sec > 59 ||
	    oh > 14 || om > 59 || (oh == 14 && om != 0))
		return -1;
	t = cap_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	t -= (s[19] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
	if (t < 0)
		return -1;
	*ms = (uint64_t)t * 1000;
	return 0;
}

void
cap_time_format(uint64_t ms, char buf[CAP_TIME_LEN + 1])
{
	struct tm	tm;
	time_t		t = (time_t)(ms / 1000);

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, CAP_TIME_LEN + 1, "%Y-%m-%dT%H:%M:%S-00:00",
	    &tm) != CAP_TIME_LEN)
		snprintf(buf, CAP_TIME_LEN + 1, "1970-01-01T00:00:00-00:00");
}

/* --- writing ------------------------------------------------------------- */

static void
cap_put(struct proto_buf *b, const char *s)
{
	pbuf_raw(b, s, strlen(s));
}

/*
 * Escaped character data: & < > as entities, CR as &#13; (a parser
 * would turn a bare one into LF).  -1 at a character XML 1.0 has no
 * room for: C0 controls besides tab, LF and CR, U+FFFE and U+FFFF.
 */
static int
cap_put_text(struct proto_buf *b, const uint8_t *p, size_t len)
{
	size_t	i, run = 0;

	for (i = 0; i < len; i++) {
		const char	*esc = NULL;

		if (p[i] == '&')
			esc = "&amp;";
		else if (p[i] == '<')
			esc = "&lt;";
		else if (p[i] == '>')
			esc = "&gt;";
		else if (p[i] == '\r')
			esc = "&#13;";
		else if (p[i] < 0x20 && p[i] != '\t' && p[i] != '\n')
			return -1;
		else if (p[i] == 0xef && i + 2 < len && p[i + 1] == 0xbf &&
		    (p[i + 2] == 0xbe || p[i + 2] == 0xbf))
			return -1;
		if (esc == NULL)
			continue;
		pbuf_raw(b, p + run, i - run);
		cap_put(b, esc);
		run = i + 1;
	}
	pbuf_raw(b, p + run, len - run);
	return 0;
}

/* <name>text</name> at an indent; -1 as cap_put_text. */
static int
cap_put_elem(struct proto_buf *b, const char *indent, const char *name,
    const void *p, size_t len)
{
	cap_put(b, indent);
	cap_put(b, "<");
	cap_put(b, name);
	cap_put(b, ">");
	if (cap_put_text(b, p, len) == -1)
		return -1;
	cap_put(b, "</");
	cap_put(b, name);
	cap_put(b, ">\n");
	return 0;
}

static void
cap_put_str(struct proto_buf *b, const char *indent, const char *name,
    const char *s)
{
	/* Ids, names and fixed words: nothing to refuse. */
	(void)cap_put_elem(b, indent, name, s, strlen(s));
}

static void
cap_put_param(struct proto_buf *b, const char *name, const char *value)
{
	cap_put(b, "    <parameter>\n");
	cap_put_str(b, "      ", "valueName", name);
	cap_put_str(b, "      ", "value", value);
	cap_put(b, "    </parameter>\n");
}

static const char *
cap_status_word(int status)
{
	switch (status) {
	case PROTO_STATUS_EXERCISE:
		return "Exercise";
	case PROTO_STATUS_TEST:
		return "Test";
	}
	return "Actual";
}

static const char *
cap_msg_type_word(int type)
{
	switch (type) {
	case PROTO_MSG_UPDATE:
		return "Update";
	case PROTO_MSG_CANCEL:
		return "Cancel";
	}
	return "Alert";
}

static const char *
cap_severity_word(int sev)
{
	switch (sev) {
	case PROTO_SEV_EXTREME:
		return "Extreme";
	case PROTO_SEV_SEVERE:
		return "Severe";
	case PROTO_SEV_MODERATE:
		return "Moderate";
	case PROTO_SEV_MINOR:
		return "Minor";
	}
	return "Unknown";
}

/* CAP's category and event for a wuzha category. */
static const char *
cap_category_word(int cat, const char **event)
{
	switch (cat) {
	case PROTO_CAT_KNOWLEDGE:
		*event = "Fraud prevention knowledge";
		return "Safety";
	case PROTO_CAT_CASE_FOLLOWUP:
		*event = "Fraud case follow-up";
		return "Security";
	}
	*event = "Telecom and online fraud warning";
	return "Security";
}

int
cap_write(struct proto_buf *b, const struct proto_alert *a,
    const struct cap_ref *ref, char *why, size_t whylen)
{
	const char	*event, *cat, *wcat;
	char		 t[CAP_TIME_LEN + 1], line[3 * (PROTO_ID_MAX + 1) +
			    CAP_TIME_LEN + 2];

	why[0] = '\0';
	if (a->msg_type != PROTO_MSG_ALERT && (ref == NULL ||
	    ref->sender[0] == '\0')) {
		snprintf(why, whylen, "%s %s refers to %s, whose sender and "
		    "time are not known", cap_msg_type_word(a->msg_type), a->id,
		    a->references);
		return -PROTO_E_CAP_VALUE;
	}
	cat = cap_category_word(a->category, &event);
	wcat = proto_category_name(a->category);
	cap_put(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	cap_put(b, "<alert xmlns=\"" CAP_NS "\">\n");
	cap_put_str(b, "  ", "identifier", a->id);
	cap_put_str(b, "  ", "sender", a->issuer);
	cap_time_format(a->issued_at, t);
	cap_put_str(b, "  ", "sent", t);
	cap_put_str(b, "  ", "status", cap_status_word(a->status));
	cap_put_str(b, "  ", "msgType", cap_msg_type_word(a->msg_type));
	cap_put_str(b, "  ", "scope", "Restricted");
	snprintf(line, sizeof(line), "wuzha node %s and the nodes below it",
	    a->target);
	cap_put_str(b, "  ", "restriction", line);
	if (a->msg_type != PROTO_MSG_ALERT) {
		cap_time_format(ref->sent, t);
		snprintf(line, sizeof(line), "%s,%s,%s", ref->sender,
		    a->references, t);
		cap_put_str(b, "  ", "references", line);
	}
	cap_put(b, "  <info>\n");
	cap_put_str(b, "    ", "category", cat);
	cap_put_str(b, "    ", "event", event);
	cap_put_str(b, "    ", "urgency", "Immediate");
	cap_put_str(b, "    ", "severity", cap_severity_word(a->severity));
	cap_put_str(b, "    ", "certainty", "Likely");
	if (a->publish_at != 0) {
		cap_time_format(a->publish_at, t);
		cap_put_str(b, "    ", "effective", t);
	}
	cap_time_format(a->expires_at, t);
	cap_put_str(b, "    ", "expires", t);
	if (cap_put_elem(b, "    ", "headline", a->headline.p,
	    a->headline.len) == -1) {
		snprintf(why, whylen, "the headline holds a control character "
		    "that XML 1.0 cannot carry");
		return -PROTO_E_CAP_VALUE;
	}
	if (a->text.len > 0 && cap_put_elem(b, "    ", "description",
	    a->text.p, a->text.len) == -1) {
		snprintf(why, whylen, "the text holds a control character "
		    "that XML 1.0 cannot carry");
		return -PROTO_E_CAP_VALUE;
	}
	if (a->instruction.len > 0 && cap_put_elem(b, "    ", "instruction",
	    a->instruction.p, a->instruction.len) == -1) {
		snprintf(why, whylen, "the instruction holds a control "
		    "character that XML 1.0 cannot carry");
		return -PROTO_E_CAP_VALUE;
	}
	cap_put_param(b, "wuzha:target", a->target);
	cap_put_param(b, "wuzha:category", wcat ? wcat : "warning");
	cap_put_param(b, "wuzha:relay_required", a->relay_required ? "true" :
	    "false");
	cap_put(b, "  </info>\n");
	cap_put(b, "</alert>\n");
	if (b->err != 0) {
		snprintf(why, whylen, "out of memory");
		return -PROTO_E_CAP_VALUE;
	}
	return 0;
}

/* --- reading: libxml2 ---------------------------------------------------- */

/* libxml2's structured errors: keep the first, print them if verbose. */
static void
cap_xml_error_cb(void *arg, xmlErrorPtr e)
{
	struct cap_state	*st = arg;
	size_t			 n;

	if (e == NULL)
		return;
	if (e->code == XML_ERR_UNDECLARED_ENTITY ||
	    e->code == XML_WAR_UNDECLARED_ENTITY)
		st->entity = 1;
	if (st->first[0] == '\0' && e->message != NULL &&
	    e->code != XML_ERR_USER_STOP) {
		snprintf(st->first, sizeof(st->first), "%s", e->message);
		n = strlen(st->first);
		while (n > 0 && (st->first[n - 1] == '\n' ||
		    st->first[n - 1] == ' '))
			st->first[--n] = '\0';
		st->first_line = e->line;
	}
	if (st->verbose && e->message != NULL)
		fprintf(stderr, "wuzhactl: libxml2: line %d: %s", e->line,
		    e->message);
}

/* Generic (unstructured) messages: never printed. */
static void
cap_xml_generic_cb(void *arg, const char *fmt, ...)
{
	(void)arg;
	(void)fmt;
}

/* The SAX hook for <!DOCTYPE ...>: stop right there. */
static void
cap_doctype_cb(void *ctx, const xmlChar *name, const xmlChar *ext,
    const xmlChar *sys)
{
	xmlParserCtxtPtr	 ctxt = ctx;
	struct cap_state	*st = ctxt->_private;

	(void)name;
	(void)ext;
	(void)sys;
	st->doctype = 1;
	xmlStopParser(ctxt);
}

/* Parse buf into a tree; NULL after cap_fail. */
static xmlDoc *
cap_xml_read(struct cap_state *st, const uint8_t *buf, size_t len, int *rc)
{
	xmlParserCtxtPtr	 ctxt;
	xmlDoc			*doc = NULL;
	int			 opts, wf;

	opts = XML_PARSE_NONET | XML_PARSE_NOCDATA;
#if LIBXML_VERSION >= 21300
	opts |= XML_PARSE_NO_XXE;
#endif
	if ((ctxt = xmlCreateMemoryParserCtxt((const char *)buf,
	    (int)len)) == NULL) {
		*rc = cap_fail(st, PROTO_E_CAP_XML, "cannot start the XML "
		    "parser");
		return NULL;
	}
	xmlCtxtUseOptions(ctxt, opts);
	ctxt->_private = st;
	ctxt->sax->internalSubset = cap_doctype_cb;
	ctxt->sax->externalSubset = cap_doctype_cb;
	ctxt->sax->resolveEntity = NULL;
	ctxt->sax->serror = NULL;
	xmlSetStructuredErrorFunc(st, cap_xml_error_cb);
	xmlSetGenericErrorFunc(NULL, cap_xml_generic_cb);
	(void)xmlParseDocument(ctxt);
	xmlSetStructuredErrorFunc(NULL, NULL);
	xmlSetGenericErrorFunc(NULL, NULL);
	wf = ctxt->wellFormed;
	doc = ctxt->myDoc;
	ctxt->myDoc = NULL;
	xmlFreeParserCtxt(ctxt);
	if (st->doctype || (doc != NULL && (doc->intSubset != NULL ||
	    doc->extSubset != NULL))) {
		*rc = cap_fail(st, PROTO_E_CAP_DOCTYPE, "the document has a "
		    "DOCTYPE: CAP needs none, and wuzha reads no DTD and "
		    "expands no entity");
		goto fail;
	}
	if (st->entity) {
		*rc = cap_fail(st, PROTO_E_CAP_DOCTYPE, "line %d: an entity "
		    "reference (%s): wuzha expands no entity but &amp; &lt; "
		    "&gt; &quot; &apos; and character references",
		    st->first_line, st->first);
		goto fail;
	}
	if (!wf || doc == NULL) {
		*rc = cap_fail(st, PROTO_E_CAP_XML, "not well-formed XML: "
		    "line %d: %s", st->first_line, st->first[0] ? st->first :
		    "parse error");
		goto fail;
	}
	return doc;
 fail:
	xmlFreeDoc(doc);
	return NULL;
}

/* --- reading: the tree --------------------------------------------------- */

static int
cap_is(const xmlNode *n, const char *ns)
{
	return n->ns != NULL && n->ns->href != NULL &&
	    strcmp((const char *)n->ns->href, ns) == 0;
}

/*
 * Every node below n: entity references refused, elements outside CAP's
 * namespace refused (an XML signature, which CAP allows at the end of
 * <alert> and wuzha does not check, aside), attributes refused but for
 * XML Schema's (xsi:schemaLocation).
 */
static int
cap_check_nodes(struct cap_state *st, xmlNode *n, int in_sig)
{
	xmlAttr	*at;
	int	 rc;

	for (; n != NULL; n = n->next) {
		switch (n->type) {
		case XML_ENTITY_REF_NODE:
		case XML_ENTITY_NODE:
		case XML_ENTITY_DECL:
			return cap_fail(st, PROTO_E_CAP_DOCTYPE, "line %d: an "
			    "entity reference: refused", n->line);
		case XML_XINCLUDE_START:
		case XML_XINCLUDE_END:
			return cap_fail(st, PROTO_E_CAP_ELEMENT, "XInclude: "
			    "refused");
		case XML_DTD_NODE:
			return cap_fail(st, PROTO_E_CAP_DOCTYPE, "a DTD: "
			    "refused");
		case XML_ELEMENT_NODE:
			break;
		default:
			continue;
		}
		if (!in_sig && (cap_is(n, CAP_XI_NS) ||
		    cap_is(n, CAP_XI_NS_OLD)))
			return cap_fail(st, PROTO_E_CAP_ELEMENT, "line %d: "
			    "<%s> in the XInclude namespace: XInclude is "
			    "refused", n->line, n->name);
		if (!in_sig && !cap_is(n, CAP_NS) && !(cap_is(n,
		    CAP_DSIG_NS) && strcmp((const char *)n->name,
		    "Signature") == 0 && n->parent != NULL &&
		    n->parent->parent != NULL &&
		    n->parent->parent->type == XML_DOCUMENT_NODE))
			return cap_fail(st, PROTO_E_CAP_ELEMENT, "line %d: "
			    "<%s> in namespace %s: only CAP 1.2's elements "
			    "(%s) are allowed", n->line, n->name,
			    n->ns ? (const char *)n->ns->href : "(none)",
			    CAP_NS);
		if (!in_sig) {
			for (at = n->properties; at != NULL; at = at->next)
				if (at->ns == NULL || at->ns->href == NULL ||
				    strcmp((const char *)at->ns->href,
				    CAP_XSI_NS) != 0)
					return cap_fail(st, PROTO_E_CAP_ELEMENT,
					    "line %d: <%s>: attribute %s: CAP "
					    "elements have none", n->line,
					    n->name, at->name);
		}
		if ((rc = cap_check_nodes(st, n->children, in_sig ||
		    !cap_is(n, CAP_NS))) != 0)
			return rc;
	}
	return 0;
}

/* XML white space. */
static int
cap_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * The text of a leaf element (a malloc'd copy, len in *lenp); NULL after
 * cap_fail if it has element children.  trim: without leading and
 * trailing white space (for words and ids, not for free text).
 */
static char *
cap_text(struct cap_state *st, xmlNode *e, int trim, size_t *lenp, int *rc)
{
	xmlNode	*n;
	size_t	 len = 0, l, off = 0;
	char	*s, *p;

	for (n = e->children; n != NULL; n = n->next) {
		if (n->type == XML_ELEMENT_NODE) {
			*rc = cap_fail(st, PROTO_E_CAP_ELEMENT, "line %d: <%s> "
			    "inside <%s>, which holds text only", n->line,
			    n->name, e->name);
			return NULL;
		}
		if ((n->type == XML_TEXT_NODE ||
		    n->type == XML_CDATA_SECTION_NODE) && n->content != NULL)
			len += strlen((const char *)n->content);
	}
	if ((s = malloc(len + 1)) == NULL) {
		*rc = cap_fail(st, PROTO_E_CAP_XML, "out of memory");
		return NULL;
	}
	for (n = e->children; n != NULL; n = n->next)
		if ((n->type == XML_TEXT_NODE ||
		    n->type == XML_CDATA_SECTION_NODE) && n->content != NULL) {
			l = strlen((const char *)n->content);
			memcpy(s + off, n->content, l);
			off += l;
		}
	s[len] = '\0';
	if (trim) {
		for (p = s; cap_space(*p); p++)
			;
		len -= (size_t)(p - s);
		memmove(s, p, len + 1);
		while (len > 0 && cap_space(s[len - 1]))
			s[--len] = '\0';
	}
	*lenp = len;
	return s;
}

/* A word out of a list; the index, or -1 after cap_fail. */
static int
cap_word(struct cap_state *st, xmlNode *e, const char *const *words,
    int *rc)
{
	char	*s;
	size_t	 len;
	int	 i;

	if ((s = cap_text(st, e, 1, &len, rc)) == NULL)
		return -1;
	for (i = 0; words[i] != NULL; i++)
		if (strcmp(s, words[i]) == 0) {
			free(s);
			return i;
		}
	*rc = cap_fail(st, PROTO_E_CAP_VALUE, "line %d: <%s>: \"%.*s\" is "
	    "not one of CAP's values", e->line, e->name, CAP_WHY_TEXT, s);
	free(s);
	return -1;
}

/* A leaf whose trimmed text must be a wuzha name into out. */
static int
cap_name(struct cap_state *st, xmlNode *e, char *out)
{
	char	*s;
	size_t	 len;
	int	 rc = 0;

	if ((s = cap_text(st, e, 1, &len, &rc)) == NULL)
		return rc;
	if (!proto_name_valid(s, len))
		rc = cap_fail(st, PROTO_E_CAP_VALUE, "line %d: <%s>: \"%.*s\" "
		    "is not a wuzha name ([A-Za-z0-9._-], 1 to %d, not "
		    "starting with . or -)", e->line, e->name, CAP_WHY_TEXT, s,
		    PROTO_ID_MAX);
	else
		memcpy(out, s, len + 1);
	free(s);
	return rc;
}

static int
cap_time(struct cap_state *st, xmlNode *e, uint64_t *ms)
{
	char	*s;
	size_t	 len;
	int	 rc = 0;

	if ((s = cap_text(st, e, 1, &len, &rc)) == NULL)
		return rc;
	if (cap_time_parse(s, len, ms) == -1)
		rc = cap_fail(st, PROTO_E_CAP_TIME, "line %d: <%s>: \"%.*s\" is "
		    "not a CAP dateTime (YYYY-MM-DDThh:mm:ss+hh:mm, no "
		    "fraction, no Z, from 1970)", e->line, e->name,
		    CAP_WHY_TEXT, s);
	free(s);
	return rc;
}

/* Free text of at most max bytes (at least 1 if !empty_ok) into *out. */
static int
cap_free_text(struct cap_state *st, xmlNode *e, size_t max, int empty_ok,
    char **out, struct proto_view *v)
{
	size_t	 len;
	int	 rc = 0;
	char	*s;

	if ((s = cap_text(st, e, 0, &len, &rc)) == NULL)
		return rc;
	if (len > max) {
		rc = cap_fail(st, PROTO_E_TOO_LONG, "line %d: <%s>: %zu bytes, "
		    "more than the %zu a wuzha alert allows", e->line, e->name,
		    len, max);
		free(s);
		return rc;
	}
	if (len == 0 && !empty_ok) {
		free(s);
		return cap_fail(st, PROTO_E_CAP_VALUE, "line %d: <%s> is empty",
		    e->line, e->name);
	}
	if (!proto_utf8_valid((const uint8_t *)s, len)) {
		free(s);
		return cap_fail(st, PROTO_E_CAP_VALUE, "line %d: <%s>: not "
		    "UTF-8 text without NUL", e->line, e->name);
	}
	free(*out);
	*out = s;
	v->p = (const uint8_t *)s;
	v->len = len;
	return 0;
}

/*
 * Walk e's element children against the sequence spec: in order, each
 * within its counts, none unknown, no text between them.
 */
static int
cap_sequence(struct cap_state *st, xmlNode *e, const struct cap_elem *spec,
    size_t nspec)
{
	unsigned	 count[32];
	xmlNode		*n;
	size_t		 pos = 0, i;
	const xmlChar	*c;
	int		 rc;

	memset(count, 0, sizeof(count));
	for (n = e->children; n != NULL; n = n->next) {
		if (n->type == XML_TEXT_NODE || n->type ==
		    XML_CDATA_SECTION_NODE) {
			for (c = n->content; c != NULL && *c; c++)
				if (!cap_space(*c))
					return cap_fail(st, PROTO_E_CAP_ELEMENT,
					    "line %d: text directly inside "
					    "<%s>", n->line, e->name);
			continue;
		}
		if (n->type != XML_ELEMENT_NODE)
			continue;	/* comments, processing instructions */
		if (!cap_is(n, CAP_NS))
			continue;	/* the signature, checked already */
		for (i = 0; i < nspec; i++)
			if (strcmp((const char *)n->name, spec[i].name) == 0)
				break;
		if (i == nspec)
			return cap_fail(st, PROTO_E_CAP_ELEMENT, "line %d: <%s> "
			    "is not an element of CAP 1.2's <%s>", n->line,
			    n->name, e->name);
		if (i < pos)
			return cap_fail(st, PROTO_E_CAP_ELEMENT, "line %d: <%s> "
			    "out of order: it comes before <%s> in <%s>",
			    n->line, n->name, spec[pos].name, e->name);
		pos = i;
		if (spec[i].max != 0 && count[i] == spec[i].max)
			return cap_fail(st, PROTO_E_CAP_ELEMENT, "line %d: <%s> "
			    "more than %u time%s in <%s>", n->line, n->name,
			    spec[i].max, spec[i].max == 1 ? "" : "s", e->name);
		count[i]++;
		if (spec[i].fn != NULL && (rc = spec[i].fn(st, n)) != 0)
			return rc;
	}
	for (i = 0; i < nspec; i++)
		if (count[i] < spec[i].min)
			return cap_fail(st, PROTO_E_CAP_ELEMENT, "line %d: <%s> "
			    "has no <%s>, which CAP requires", e->line, e->name,
			    spec[i].name);
	return 0;
}

/* --- reading: the elements ----------------------------------------------- */

static int
cap_el_identifier(struct cap_state *st, xmlNode *e)
{
	return cap_name(st, e, st->d->a.id);
}

static int
cap_el_sender(struct cap_state *st, xmlNode *e)
{
	return cap_name(st, e, st->d->a.issuer);
}

static int
cap_el_sent(struct cap_state *st, xmlNode *e)
{
	return cap_time(st, e, &st->d->a.issued_at);
}

static int
cap_el_status(struct cap_state *st, xmlNode *e)
{
	static const char *const w[] = { "Actual", "Exercise", "System",
	    "Test", "Draft", NULL };
	static const int map[] = { PROTO_STATUS_ACTUAL, PROTO_STATUS_EXERCISE,
	    -1, PROTO_STATUS_TEST, -1 };
	int	 rc = 0, i;

	if ((i = cap_word(st, e, w, &rc)) == -1)
		return rc;
	if (map[i] == -1)
		return cap_fail(st, PROTO_E_CAP_VALUE, "line %d: <status> %s: "
		    "wuzha publishes Actual, Exercise and Test only", e->line,
		    w[i]);
	st->d->a.status = (uint8_t)map[i];
	return 0;
}

static int
cap_el_msg_type(struct cap_state *st, xmlNode *e)
{
	static const char *const w[] = { "Alert", "Update", "Cancel", "Ack",
	    "Error", NULL };
	int	 rc = 0, i;

	if ((i = cap_word(st, e, w, &rc)) == -1)
		return rc;
	if (i > 2)
		return cap_fail(st, PROTO_E_CAP_VALUE, "line %d: <msgType> %s: "
		    "wuzha publishes Alert, Update and Cancel only", e->line,
		    w[i]);
	st->d->a.msg_type = (uint8_t)(PROTO_MSG_ALERT + i);
	return 0;
}

static int
cap_el_scope(struct cap_state *st, xmlNode *e)
{
	static const char *const w[] = { "Public", "Restricted", "Private",
	    NULL };
	int	 rc = 0, i;

	if ((i = cap_word(st, e, w, &rc)) == -1)
		return rc;
	if (i == 0)
		return cap_fail(st, PROTO_E_CAP_VALUE, "line %d: <scope> "
		    "Public: a wuzha alert goes to a node of the tree "
		    "(Restricted or Private)", e->line);
	return 0;
}

/* Any leaf: text only, not looked at further. */
static int
cap_el_leaf(struct cap_state *st, xmlNode *e)
{
	size_t	 len;
	int	 rc = 0;
	char	*s;

	if ((s = cap_text(st, e, 0, &len, &rc)) == NULL)
		return rc;
	free(s);
	return 0;
}

/* "sender,identifier,sent": exactly one, wuzha refers to one alert. */
static int
cap_el_references(struct cap_state *st, xmlNode *e)
{
	struct cap_doc	*d = st->d;
	char		*s, *c1, *c2;
	size_t		 len, i;
	int		 rc = 0;

	if ((s = cap_text(st, e, 1, &len, &rc)) == NULL)
		return rc;
	for (i = 0; i < len; i++)
		if (cap_space(s[i])) {
			rc = cap_fail(st, PROTO_E_CAP_VALUE, "line %d: "
			    "<references>: more than one; a wuzha update or "
			    "cancel refers to one alert", e->line);
			goto done;
		}
	if ((c1 = strchr(s, ',')) == NULL ||
	    (c2 = strchr(c1 + 1, ',')) == NULL || strchr(c2 + 1, ',') != NULL) {
		rc = cap_fail(st, PROTO_E_CAP_VALUE, "line %d: <references>: "
		    "\"%.*s\" is not sender,identifier,sent", e->line,
		    CAP_WHY_TEXT, s);
		goto done;
	}
	if (!proto_name_valid(s, (size_t)(c1 - s)) ||
	    !proto_name_valid(c1 + 1, (size_t)(c2 - c1 - 1))) {
		rc = cap_fail(st, PROTO_E_CAP_VALUE, "line %d: <references>: "
		    "\"%.*s\": sender and identifier must be wuzha names",
		    e->line, CAP_WHY_TEXT, s);
		goto done;
	}
	if (cap_time_parse(c2 + 1, strlen(c2 + 1), &d->ref.sent) == -1) {
		rc = cap_fail(st, PROTO_E_CAP_TIME, "line %d: <references>: "
		    "\"%.*s\" is not a CAP dateTime", e->line, CAP_WHY_TEXT,
		    c2 + 1);
		goto done;
	}
	memcpy(d->ref.sender, s, (size_t)(c1 - s));
	d->ref.sender[c1 - s] = '\0';
	memcpy(d->a.references, c1 + 1, (size_t)(c2 - c1 - 1));
	d->a.references[c2 - c1 - 1] = '\0';
 done:
	free(s);
	return rc;
}

static int
cap_el_category(struct cap_state *st, xmlNode *e)
{
	static const char *const w[] = { "Geo", "Met", "Safety", "Security",
	    "Rescue", "Fire", "Health", "Env", "Transport", "Infra", "CBRNE",
	    "Other", NULL };
	int	 rc = 0, i;

	if ((i = cap_word(st, e, w, &rc)) == -1)
		return rc;
	/* The first that means something to wuzha. */
	if (st->cap_cat == 0 && i == 3)
		st->cap_cat = PROTO_CAT_WARNING;
	else if (st->cap_cat == 0 && i == 2)
		st->cap_cat = PROTO_CAT_KNOWLEDGE;
	return 0;
}

static int
cap_el_urgency(struct cap_state *st, xmlNode *e)
{
	static const char *const w[] = { "Immediate", "Expected", "Future",
	    "Past", "Unknown", NULL };
	int	 rc = 0;

	return cap_word(st, e, w, &rc) == -1 ? rc : 0;
}

static int
cap_el_certainty(struct cap_state *st, xmlNode *e)
{
	static const char *const w[] = { "Observed", "Likely", "Possible",
	    "Unlikely", "Unknown", NULL };
	int	 rc = 0;

	return cap_word(st, e, w, &rc) == -1 ? rc : 0;
}

static int
cap_el_severity(struct cap_state *st, xmlNode *e)
{
	static const char *const w[] = { "Extreme", "Severe", "Moderate",
	    "Minor", "Unknown", NULL };
	int	 rc = 0, i;

	if ((i = cap_word(st, e, w, &rc)) == -1)
		return rc;
	st->d->a.severity = (uint8_t)(PROTO_SEV_EXTREME + i);
	return 0;
}

static int
cap_el_effective(struct cap_state *st, xmlNode *e)
{
	return cap_time(st, e, &st->effective);
}

static int
cap_el_onset(struct cap_state *st, xmlNode *e)
{
	uint64_t	ms;

	return cap_time(st, e, &ms);
}

static int
cap_el_expires(struct cap_state *st, xmlNode *e)
{
	return cap_time(st, e, &st->expires);
}

static int
cap_el_headline(struct cap_state *st, xmlNode *e)
{
	return cap_free_text(st, e, PROTO_HEADLINE_MAX, 0, &st->d->headline,
	    &st->d->a.headline);
}

static int
cap_el_description(struct cap_state *st, xmlNode *e)
{
	return cap_free_text(st, e, PROTO_TEXT_MAX, 1, &st->d->text,
	    &st->d->a.text);
}

static int
cap_el_instruction(struct cap_state *st, xmlNode *e)
{
	return cap_free_text(st, e, PROTO_INSTRUCTION_MAX, 1,
	    &st->d->instruction, &st->d->a.instruction);
}

static int
cap_el_value_name(struct cap_state *st, xmlNode *e)
{
	size_t	len;
	int	rc = 0;

	if ((st->pair->name = cap_text(st, e, 1, &len, &rc)) == NULL)
		return rc;
	return 0;
}

static int
cap_el_value(struct cap_state *st, xmlNode *e)
{
	int	rc = 0;

	if ((st->pair->value = cap_text(st, e, 1, &st->pair->vlen,
	    &rc)) == NULL)
		return rc;
	return 0;
}

static const struct cap_elem cap_pair_spec[] = {
	{ "valueName",	1, 1, cap_el_value_name },
	{ "value",	1, 1, cap_el_value },
};

static int
cap_pair_read(struct cap_state *st, xmlNode *e, struct cap_pair *p)
{
	int	rc;

	memset(p, 0, sizeof(*p));
	st->pair = p;
	rc = cap_sequence(st, e, cap_pair_spec, 2);
	st->pair = NULL;
	return rc;
}

static void
cap_pair_clear(struct cap_pair *p)
{
	free(p->name);
	free(p->value);
}

static int
cap_el_event_code(struct cap_state *st, xmlNode *e)
{
	struct cap_pair	p;
	int		rc;

	rc = cap_pair_read(st, e, &p);
	cap_pair_clear(&p);
	return rc;
}

/* wuzha:target, wuzha:category, wuzha:relay_required; others ignored. */
static int
cap_el_parameter(struct cap_state *st, xmlNode *e)
{
	struct cap_doc	*d = st->d;
	struct cap_pair	 p;
	int		 rc, v;

	if ((rc = cap_pair_read(st, e, &p)) != 0)
		goto done;
	if (strncmp(p.name, "wuzha:", 6) != 0)
		goto done;
	if (strcmp(p.name, "wuzha:target") == 0) {
		if (st->has_target++)
			goto again;
		if (!proto_node_id_valid(p.value, p.vlen))
			rc = cap_fail(st, PROTO_E_CAP_VALUE, "line %d: "
			    "parameter wuzha:target: \"%.*s\" is not a node "
			    "id", e->line, CAP_WHY_TEXT, p.value);
		else
			memcpy(d->a.target, p.value, p.vlen + 1);
	} else if (strcmp(p.name, "wuzha:category") == 0) {
		if (st->has_cat++)
			goto again;
		if ((v = proto_category_parse(p.value)) == -1)
			rc = cap_fail(st, PROTO_E_CAP_VALUE, "line %d: "
			    "parameter wuzha:category: \"%.*s\": expected "
			    "warning, knowledge or case-followup", e->line,
			    CAP_WHY_TEXT, p.value);
		else
			d->a.category = (uint8_t)v;
	} else if (strcmp(p.name, "wuzha:relay_required") == 0) {
		if (st->has_relay++)
			goto again;
		if (strcmp(p.value, "true") == 0)
			d->a.relay_required = 1;
		else if (strcmp(p.value, "false") == 0)
			d->a.relay_required = 0;
		else
			rc = cap_fail(st, PROTO_E_CAP_VALUE, "line %d: "
			    "parameter wuzha:relay_required: \"%.*s\": "
			    "expected true or false", e->line, CAP_WHY_TEXT,
			    p.value);
	} else
		rc = cap_fail(st, PROTO_E_CAP_VALUE, "line %d: parameter "
		    "%.*s: not one of wuzha's (wuzha:target, wuzha:category, "
		    "wuzha:relay_required)", e->line, CAP_WHY_TEXT, p.name);
	goto done;
 again:
	rc = cap_fail(st, PROTO_E_CAP_VALUE, "line %d: parameter %s given "
	    "twice", e->line, p.name);
 done:
	cap_pair_clear(&p);
	return rc;
}

/* <resource> and <area>: checked for CAP's namespace only, not used. */
static int
cap_el_ignored(struct cap_state *st, xmlNode *e)
{
	(void)st;
	(void)e;
	return 0;
}

static const struct cap_elem cap_info_spec[] = {
	{ "language",		0, 1, cap_el_leaf },
	{ "category",		1, 0, cap_el_category },
	{ "event",		1, 1, cap_el_leaf },
	{ "responseType",	0, 0, cap_el_leaf },
	{ "urgency",		1, 1, cap_el_urgency },
	{ "severity",		1, 1, cap_el_severity },
	{ "certainty",		1, 1, cap_el_certainty },
	{ "audience",		0, 1, cap_el_leaf },
	{ "eventCode",		0, 0, cap_el_event_code },
	{ "effective",		0, 1, cap_el_effective },
	{ "onset",		0, 1, cap_el_onset },
	{ "expires",		0, 1, cap_el_expires },
	{ "senderName",		0, 1, cap_el_leaf },
	{ "headline",		0, 1, cap_el_headline },
	{ "description",	0, 1, cap_el_description },
	{ "instruction",	0, 1, cap_el_instruction },
	{ "web",		0, 1, cap_el_leaf },
	{ "contact",		0, 1, cap_el_leaf },
	{ "parameter",		0, 0, cap_el_parameter },
	{ "resource",		0, 0, cap_el_ignored },
	{ "area",		0, 0, cap_el_ignored },
};

static int
cap_el_info(struct cap_state *st, xmlNode *e)
{
	int	rc;

	if ((rc = cap_sequence(st, e, cap_info_spec, sizeof(cap_info_spec) /
	    sizeof(cap_info_spec[0]))) != 0)
		return rc;
	if (st->d->headline == NULL)
		return cap_fail(st, PROTO_E_CAP_ELEMENT, "line %d: <info> has no "
		    "<headline>, which a wuzha alert needs", e->line);
	if (st->expires == 0)
		return cap_fail(st, PROTO_E_CAP_ELEMENT, "line %d: <info> has no "
		    "<expires>, which a wuzha alert needs", e->line);
	if (!st->has_target)
		return cap_fail(st, PROTO_E_CAP_ELEMENT, "line %d: <info> has no "
		    "parameter wuzha:target (the node the alert is for)",
		    e->line);
	if (!st->has_cat) {
		if (st->cap_cat == 0)
			return cap_fail(st, PROTO_E_CAP_VALUE, "line %d: no "
			    "<category> Security or Safety and no parameter "
			    "wuzha:category: which kind of alert is it?",
			    e->line);
		st->d->a.category = (uint8_t)st->cap_cat;
	}
	return 0;
}

static const struct cap_elem cap_alert_spec[] = {
	{ "identifier",		1, 1, cap_el_identifier },
	{ "sender",		1, 1, cap_el_sender },
	{ "sent",		1, 1, cap_el_sent },
	{ "status",		1, 1, cap_el_status },
	{ "msgType",		1, 1, cap_el_msg_type },
	{ "source",		0, 1, cap_el_leaf },
	{ "scope",		1, 1, cap_el_scope },
	{ "restriction",	0, 1, cap_el_leaf },
	{ "addresses",		0, 1, cap_el_leaf },
	{ "code",		0, 0, cap_el_leaf },
	{ "note",		0, 1, cap_el_leaf },
	{ "references",		0, 1, cap_el_references },
	{ "incidents",		0, 1, cap_el_leaf },
	/* wuzha maps one <info>; a second is refused by cap_sequence. */
	{ "info",		1, 1, cap_el_info },
};

int
cap_parse(const uint8_t *buf, size_t len, int verbose, struct cap_doc *d,
    char *why, size_t whylen)
{
	struct cap_state	 st;
	xmlDoc			*doc = NULL;
	xmlNode			*root;
	int			 rc = 0;

	memset(d, 0, sizeof(*d));
	memset(&st, 0, sizeof(st));
	st.verbose = verbose;
	st.why = why;
	st.whylen = whylen;
	st.d = d;
	why[0] = '\0';
	if (len > CAP_FILE_MAX)
		return cap_fail(&st, PROTO_E_CAP_XML, "the document is %zu "
		    "bytes, more than %d", len, CAP_FILE_MAX);
	if (len == 0)
		return cap_fail(&st, PROTO_E_CAP_XML, "the document is empty");
	if ((doc = cap_xml_read(&st, buf, len, &rc)) == NULL)
		return rc;
	root = xmlDocGetRootElement(doc);
	if (root == NULL) {
		rc = cap_fail(&st, PROTO_E_CAP_ELEMENT, "no root element");
		goto done;
	}
	if ((rc = cap_check_nodes(&st, doc->children, 0)) != 0)
		goto done;
	if (strcmp((const char *)root->name, "alert") != 0) {
		rc = cap_fail(&st, PROTO_E_CAP_ELEMENT, "line %d: the root is "
		    "<%s>, not CAP's <alert>", root->line, root->name);
		goto done;
	}
	d->a.severity = PROTO_SEV_UNKNOWN;
	if ((rc = cap_sequence(&st, root, cap_alert_spec,
	    sizeof(cap_alert_spec) / sizeof(cap_alert_spec[0]))) != 0)
		goto done;
	if (d->a.msg_type != PROTO_MSG_ALERT && d->a.references[0] == '\0') {
		rc = cap_fail(&st, PROTO_E_CAP_ELEMENT, "line %d: <msgType> %s "
		    "needs <references>", root->line,
		    cap_msg_type_word(d->a.msg_type));
		goto done;
	}
	if (d->a.msg_type == PROTO_MSG_ALERT && d->a.references[0] != '\0') {
		rc = cap_fail(&st, PROTO_E_CAP_VALUE, "line %d: <references> "
		    "in an Alert: wuzha has them in Update and Cancel only",
		    root->line);
		goto done;
	}
	if (st.expires <= d->a.issued_at) {
		rc = cap_fail(&st, PROTO_E_CAP_VALUE, "<expires> is not after "
		    "<sent>");
		goto done;
	}
	d->a.expires_at = st.expires;
	d->a.publish_at = st.effective;
	if (d->text == NULL)
		d->a.text.p = (const uint8_t *)"";
 done:
	xmlFreeDoc(doc);
	if (rc != 0)
		cap_doc_free(d);
	return rc;
}

void
cap_doc_free(struct cap_doc *d)
{
	if (d == NULL)
		return;
	free(d->headline);
	free(d->text);
	free(d->instruction);
	memset(d, 0, sizeof(*d));
}
