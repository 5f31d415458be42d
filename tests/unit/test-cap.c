/* SPDX-License-Identifier: ISC */
/*
 * test-cap: CAP 1.2 to and from the alert body (client/cap.c).  The
 * mapping both ways, byte for byte for one document and field for field
 * for every kind of alert; refusal, with the code and the element named,
 * of XXE, billion laughs, any DOCTYPE, XInclude, entity references, bad
 * dateTimes, a wrong namespace, over-long texts, CAP's structure broken
 * and documents over the size limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto.h"
#include "cap.h"

/* 2027-01-15T08:00:00Z and a day later, with milliseconds. */
#define T0	UINT64_C(1800000000123)
#define T1	UINT64_C(1800086400999)

static void
base_alert(struct proto_alert *a)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->id, sizeof(a->id), "20270115-4f1c9e2a");
	snprintf(a->issuer, sizeof(a->issuer), "officer-1");
	snprintf(a->target, sizeof(a->target), "school-a");
	a->msg_type = PROTO_MSG_ALERT;
	a->category = PROTO_CAT_WARNING;
	a->severity = PROTO_SEV_SEVERE;
	a->headline.p = (const uint8_t *)"冒充公检法诈骗预警";
	a->headline.len = strlen((const char *)a->headline.p);
	a->text.p = (const uint8_t *)"";
	a->issued_at = T0;
	a->expires_at = T1;
}

static char *
write_doc(const struct proto_alert *a, const struct cap_ref *ref)
{
	struct proto_buf	 b;
	char			 why[256];
	char			*s;
	size_t			 len;
	int			 rc;

	pbuf_init(&b);
	rc = cap_write(&b, a, ref, why, sizeof(why));
	if (rc != 0)
		fail_msg("cap_write: %d %s", rc, why);
	pbuf_raw(&b, "", 1);
	s = (char *)pbuf_take(&b, &len);
	return s;
}

/* Parse s: the code, and why into why. */
static int
parse(const char *s, struct cap_doc *d, char *why, size_t whylen)
{
	return cap_parse((const uint8_t *)s, strlen(s), 0, d, why, whylen);
}

static void
ok(const char *s, struct cap_doc *d)
{
	char	why[512];
	int	rc;

	if ((rc = parse(s, d, why, sizeof(why))) != 0)
		fail_msg("refused %d: %s\n%s", rc, why, s);
}

/* Refused with code, why containing want. */
static void
refused(const char *s, int code, const char *want)
{
	struct cap_doc	d;
	char		why[512];
	int		rc;

	rc = parse(s, &d, why, sizeof(why));
	if (rc != -code)
		fail_msg("got %d (%s), wanted %d (%s) for\n%s", -rc, why, code,
		    want, s);
	if (strstr(why, want) == NULL)
		fail_msg("reason \"%s\" lacks \"%s\"", why, want);
	assert_null(d.headline);
}

static int
view_eq(const struct proto_view *a, const struct proto_view *b)
{
	return a->len == b->len && (a->len == 0 ||
	    memcmp(a->p, b->p, a->len) == 0);
}

/* The parsed body equals a, times at whole seconds. */
static void
same(const struct proto_alert *a, const struct proto_alert *b)
{
	assert_string_equal(a->id, b->id);
	assert_string_equal(a->issuer, b->issuer);
	assert_string_equal(a->target, b->target);
	assert_int_equal(a->msg_type, b->msg_type);
	assert_string_equal(a->references, b->references);
	assert_int_equal(a->category, b->category);
	assert_int_equal(a->severity, b->severity);
	assert_true(view_eq(&a->headline, &b->headline));
	assert_true(view_eq(&a->text, &b->text));
	assert_true(view_eq(&a->instruction, &b->instruction));
	assert_int_equal(a->issued_at / 1000 * 1000, b->issued_at);
	assert_int_equal(a->expires_at / 1000 * 1000, b->expires_at);
	assert_int_equal(a->publish_at / 1000 * 1000, b->publish_at);
	assert_int_equal(a->relay_required, b->relay_required);
	assert_int_equal(a->status, b->status);
}

static const char golden[] =
"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
"<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">\n"
"  <identifier>20270115-4f1c9e2a</identifier>\n"
"  <sender>officer-1</sender>\n"
"  <sent>2027-01-15T08:00:00-00:00</sent>\n"
"  <status>Exercise</status>\n"
"  <msgType>Update</msgType>\n"
"  <scope>Restricted</scope>\n"
"  <restriction>wuzha node school-a and the nodes below it</restriction>\n"
"  <references>desk-a,20270114-0001,2027-01-14T08:00:00-00:00</references>\n"
"  <info>\n"
"    <category>Safety</category>\n"
"    <event>Fraud prevention knowledge</event>\n"
"    <urgency>Immediate</urgency>\n"
"    <severity>Severe</severity>\n"
"    <certainty>Likely</certainty>\n"
"    <effective>2027-01-15T10:00:00-00:00</effective>\n"
"    <expires>2027-01-16T08:00:00-00:00</expires>\n"
"    <headline>冒充公检法诈骗预警</headline>\n"
"    <description>a &amp; b &lt;c&gt; d&#13;\ne\tf</description>\n"
"    <instruction>挂断</instruction>\n"
"    <parameter>\n"
"      <valueName>wuzha:target</valueName>\n"
"      <value>school-a</value>\n"
"    </parameter>\n"
"    <parameter>\n"
"      <valueName>wuzha:category</valueName>\n"
"      <value>knowledge</value>\n"
"    </parameter>\n"
"    <parameter>\n"
"      <valueName>wuzha:relay_required</valueName>\n"
"      <value>true</value>\n"
"    </parameter>\n"
"  </info>\n"
"</alert>\n";

static void
golden_alert(struct proto_alert *a, struct cap_ref *ref)
{
	base_alert(a);
	a->msg_type = PROTO_MSG_UPDATE;
	snprintf(a->references, sizeof(a->references), "20270114-0001");
	a->category = PROTO_CAT_KNOWLEDGE;
	a->status = PROTO_STATUS_EXERCISE;
	a->publish_at = T0 + 7200000;
	a->relay_required = 1;
	a->text.p = (const uint8_t *)"a & b <c> d\r\ne\tf";
	a->text.len = strlen((const char *)a->text.p);
	a->instruction.p = (const uint8_t *)"挂断";
	a->instruction.len = strlen("挂断");
	memset(ref, 0, sizeof(*ref));
	snprintf(ref->sender, sizeof(ref->sender), "desk-a");
	ref->sent = T0 - 86400000;
}

static void
test_write_gives_the_documented_mapping(void **state)
{
	struct proto_alert	 a;
	struct cap_ref		 ref;
	struct cap_doc		 d;
	char			*s;

	(void)state;
	golden_alert(&a, &ref);
	s = write_doc(&a, &ref);
	assert_string_equal(s, golden);
	ok(s, &d);
	same(&a, &d.a);
	assert_string_equal(d.ref.sender, "desk-a");
	assert_int_equal(d.ref.sent, (T0 - 86400000) / 1000 * 1000);
	cap_doc_free(&d);
	free(s);
}

static void
test_every_kind_round_trips(void **state)
{
	static const uint8_t	 kinds[] = { PROTO_MSG_ALERT, PROTO_MSG_UPDATE,
	    PROTO_MSG_CANCEL };
	struct proto_alert	 a;
	struct cap_ref		 ref;
	struct cap_doc		 d;
	char			*s;
	int			 k, cat, sev, st;

	(void)state;
	memset(&ref, 0, sizeof(ref));
	snprintf(ref.sender, sizeof(ref.sender), "desk-b");
	ref.sent = T0 - 5000;
	for (k = 0; k < 3; k++)
	for (cat = PROTO_CAT_WARNING; cat <= PROTO_CAT_CASE_FOLLOWUP; cat++)
	for (sev = PROTO_SEV_EXTREME; sev <= PROTO_SEV_UNKNOWN; sev++)
	for (st = PROTO_STATUS_ACTUAL; st <= PROTO_STATUS_TEST; st++) {
		base_alert(&a);
		a.msg_type = kinds[k];
		if (a.msg_type != PROTO_MSG_ALERT)
			snprintf(a.references, sizeof(a.references), "orig-1");
		a.category = (uint8_t)cat;
		a.severity = (uint8_t)sev;
		a.status = (uint8_t)st;
		a.relay_required = (uint8_t)(sev & 1);
		if (st == PROTO_STATUS_TEST) {
			a.text.p = (const uint8_t *)"  spaces kept  \n";
			a.text.len = strlen((const char *)a.text.p);
		}
		s = write_doc(&a, a.msg_type == PROTO_MSG_ALERT ? NULL : &ref);
		ok(s, &d);
		same(&a, &d.a);
		if (a.msg_type != PROTO_MSG_ALERT)
			assert_string_equal(d.ref.sender, "desk-b");
		cap_doc_free(&d);
		free(s);
	}
}

/* A document not made by wuzha: CAP's category alone, comments, extras. */
static void
test_foreign_document_maps(void **state)
{
	static const char doc[] =
	    "<?xml version='1.0'?>\n<!-- from elsewhere -->\n"
	    "<cap:alert xmlns:cap='urn:oasis:names:tc:emergency:cap:1.2' "
	    "xmlns:xsi='http://www.w3.org/2001/XMLSchema-instance' "
	    "xsi:schemaLocation='x y'>"
	    "<cap:identifier> K-1 </cap:identifier><cap:sender>desk-a"
	    "</cap:sender><cap:sent>2027-01-15T16:00:00+08:00</cap:sent>"
	    "<cap:status>Test</cap:status><cap:msgType>Alert</cap:msgType>"
	    "<cap:source>x</cap:source><cap:scope>Private</cap:scope>"
	    "<cap:addresses>a b</cap:addresses><cap:code>c1</cap:code>"
	    "<cap:code>c2</cap:code><cap:note>n</cap:note>"
	    "<cap:info><cap:language>zh-CN</cap:language>"
	    "<cap:category>Geo</cap:category><cap:category>Safety"
	    "</cap:category><cap:event>e</cap:event><cap:urgency>Past"
	    "</cap:urgency><cap:severity>Minor</cap:severity><cap:certainty>"
	    "Observed</cap:certainty><cap:eventCode><cap:valueName>a"
	    "</cap:valueName><cap:value>b</cap:value></cap:eventCode>"
	    "<cap:onset>2027-01-15T08:00:00-00:00</cap:onset>"
	    "<cap:expires>2027-01-15T09:00:00-00:00</cap:expires>"
	    "<cap:headline><![CDATA[<b>&]]></cap:headline>"
	    "<cap:parameter><cap:valueName>other</cap:valueName><cap:value>1"
	    "</cap:value></cap:parameter><cap:parameter><cap:valueName>"
	    "wuzha:target</cap:valueName><cap:value>class-1</cap:value>"
	    "</cap:parameter><cap:area><cap:areaDesc>x</cap:areaDesc>"
	    "</cap:area></cap:info>"
	    "<ds:Signature xmlns:ds='http://www.w3.org/2000/09/xmldsig#'>"
	    "<ds:SignedInfo/></ds:Signature></cap:alert>";
	struct cap_doc	d;

	(void)state;
	ok(doc, &d);
	assert_string_equal(d.a.id, "K-1");
	assert_string_equal(d.a.target, "class-1");
	assert_int_equal(d.a.category, PROTO_CAT_KNOWLEDGE);
	assert_int_equal(d.a.severity, PROTO_SEV_MINOR);
	assert_int_equal(d.a.status, PROTO_STATUS_TEST);
	assert_int_equal(d.a.issued_at, UINT64_C(1800000000000));
	assert_int_equal(d.a.expires_at, UINT64_C(1800003600000));
	assert_int_equal(d.a.text.len, 0);
	assert_int_equal(d.a.headline.len, 4);
	assert_memory_equal(d.a.headline.p, "<b>&", 4);
	cap_doc_free(&d);
}

static char	secret_path[600];

static void
test_xxe_is_refused(void **state)
{
	char	doc[1536], cwd[512];
	FILE	*f;

	(void)state;

	/* A file of our own, in the directory the test runs in. */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(secret_path, sizeof(secret_path), "%s/test-cap-%d", cwd,
	    (int)getpid());
	assert_non_null(f = fopen(secret_path, "w"));
	fputs("SECRET-CAP", f);
	fclose(f);
	snprintf(doc, sizeof(doc), "<?xml version='1.0'?>\n"
	    "<!DOCTYPE alert [<!ENTITY x SYSTEM 'file://%s'>]>\n"
	    "<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'>"
	    "<identifier>&x;</identifier></alert>", secret_path);
	refused(doc, PROTO_E_CAP_DOCTYPE, "DOCTYPE");
	/* A parameter entity, pulled in from inside the subset. */
	snprintf(doc, sizeof(doc), "<!DOCTYPE alert [<!ENTITY %% p SYSTEM "
	    "'file://%s'> %%p;]><alert/>", secret_path);
	refused(doc, PROTO_E_CAP_DOCTYPE, "DOCTYPE");
	unlink(secret_path);
}

static void
test_billion_laughs_is_refused(void **state)
{
	static const char doc[] =
	    "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY a 'lol'>"
	    "<!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>"
	    "<!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;'>"
	    "<!ENTITY d '&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;'>"
	    "<!ENTITY e '&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;'>"
	    "<!ENTITY f '&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;'>"
	    "<!ENTITY g '&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;'>"
	    "<!ENTITY h '&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;'>"
	    "<!ENTITY i '&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;'>]>"
	    "<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'>"
	    "<identifier>&i;</identifier></alert>";

	(void)state;
	refused(doc, PROTO_E_CAP_DOCTYPE, "DOCTYPE");
}

static void
test_any_doctype_is_refused(void **state)
{
	(void)state;
	refused("<!DOCTYPE alert><alert/>", PROTO_E_CAP_DOCTYPE, "DOCTYPE");
	refused("<!DOCTYPE alert []><alert/>", PROTO_E_CAP_DOCTYPE, "DOCTYPE");
	refused("<!DOCTYPE alert SYSTEM 'http://127.0.0.1:9/x.dtd'><alert/>",
	    PROTO_E_CAP_DOCTYPE, "DOCTYPE");
	refused("<!DOCTYPE alert PUBLIC '-//X//EN' 'cap.dtd'><alert/>",
	    PROTO_E_CAP_DOCTYPE, "DOCTYPE");
	/* Not well-formed after the DOCTYPE: still the DOCTYPE that says why. */
	refused("<!DOCTYPE alert [<!ENTITY a 'x'>]><alert>&a;",
	    PROTO_E_CAP_DOCTYPE, "DOCTYPE");
}

static void
test_entity_references_are_refused(void **state)
{
	struct cap_doc	d;

	(void)state;
	refused("<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'>"
	    "<identifier>&x;</identifier></alert>", PROTO_E_CAP_DOCTYPE,
	    "entity reference");
	/* The five of XML and character references are text. */
	ok("<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'>"
	    "<identifier>a</identifier><sender>b</sender>"
	    "<sent>2027-01-15T08:00:00-00:00</sent><status>Actual</status>"
	    "<msgType>Alert</msgType><scope>Restricted</scope><info>"
	    "<category>Security</category><event>e</event><urgency>Immediate"
	    "</urgency><severity>Severe</severity><certainty>Likely"
	    "</certainty><expires>2027-01-16T08:00:00-00:00</expires>"
	    "<headline>&amp;&lt;&gt;&quot;&apos;&#x4e2d;&#25991;</headline>"
	    "<parameter><valueName>wuzha:target</valueName><value>n</value>"
	    "</parameter></info></alert>", &d);
	assert_int_equal(d.a.headline.len, 11);
	assert_memory_equal(d.a.headline.p, "&<>\"'中文", 11);
	assert_int_equal(d.a.category, PROTO_CAT_WARNING);
	cap_doc_free(&d);
}

static void
test_xinclude_is_refused(void **state)
{
	(void)state;
	refused("<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2' "
	    "xmlns:xi='http://www.w3.org/2001/XInclude'><identifier>"
	    "<xi:include href='/etc/passwd' parse='text'/></identifier>"
	    "</alert>", PROTO_E_CAP_ELEMENT, "XInclude");
	refused("<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'>"
	    "<include xmlns='http://www.w3.org/2001/XInclude' href='x'/>"
	    "</alert>", PROTO_E_CAP_ELEMENT, "XInclude");
}

/* The golden document with one substring replaced. */
static char *
edited(const char *from, const char *to)
{
	const char	*p = strstr(golden, from);
	char		*s;
	size_t		 n;

	if (p == NULL)
		fail_msg("no %s in the golden document", from);
	n = sizeof(golden) + strlen(to);
	assert_non_null(s = malloc(n));
	snprintf(s, n, "%.*s%s%s", (int)(p - golden), golden, to,
	    p + strlen(from));
	return s;
}

static void
refused_edit(const char *from, const char *to, int code, const char *want)
{
	char	*s = edited(from, to);

	refused(s, code, want);
	free(s);
}

static void
test_bad_datetimes_are_refused(void **state)
{
	static const char *const bad[] = {
		"2027-01-15T08:00:00Z", "2027-01-15T08:00:00.5-00:00",
		"2027-01-15T08:00:00", "2027-01-15 08:00:00-00:00",
		"2027-02-29T08:00:00-00:00", "2100-02-29T08:00:00-00:00",
		"2027-13-01T08:00:00-00:00", "2027-04-31T08:00:00-00:00",
		"2027-01-15T24:00:00-00:00", "2027-01-15T08:60:00-00:00",
		"2027-01-15T08:00:60-00:00", "2027-01-15T08:00:00+15:00",
		"2027-01-15T08:00:00+14:30", "1969-12-31T23:59:59-00:00",
		"1970-01-01T00:00:00+01:00", "２027-01-15T08:00:00-00:00",
		"2027-1-15T08:00:00-00:00", "",
	};
	char		 from[64];
	uint64_t	 ms;
	size_t		 i;

	(void)state;
	snprintf(from, sizeof(from), "<sent>2027-01-15T08:00:00-00:00</sent>");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char	to[96];

		snprintf(to, sizeof(to), "<sent>%s</sent>", bad[i]);
		refused_edit(from, to, PROTO_E_CAP_TIME, "<sent>");
		assert_int_equal(cap_time_parse(bad[i], strlen(bad[i]), &ms), -1);
	}
	refused_edit("<expires>2027-01-16T08:00:00-00:00",
	    "<expires>2027-01-16T08:00:00", PROTO_E_CAP_TIME, "<expires>");
	refused_edit("desk-a,20270114-0001,2027-01-14T08:00:00-00:00",
	    "desk-a,20270114-0001,2027-01-14", PROTO_E_CAP_TIME,
	    "<references>");
	/* Offsets move the instant; leap days exist where they should. */
	assert_int_equal(cap_time_parse("2027-01-15T16:00:00+08:00", 25, &ms), 0);
	assert_int_equal(ms, UINT64_C(1800000000000));
	assert_int_equal(cap_time_parse("2027-01-14T21:30:00-10:30", 25, &ms), 0);
	assert_int_equal(ms, UINT64_C(1800000000000));
	assert_int_equal(cap_time_parse("2028-02-29T00:00:00+00:00", 25, &ms), 0);
	assert_int_equal(cap_time_parse("2000-02-29T00:00:00-00:00", 25, &ms), 0);
	assert_int_equal(ms, UINT64_C(951782400000));
}

static void
test_wrong_namespace_is_refused(void **state)
{
	(void)state;
	refused_edit("urn:oasis:names:tc:emergency:cap:1.2",
	    "urn:oasis:names:tc:emergency:cap:1.1", PROTO_E_CAP_ELEMENT,
	    "namespace urn:oasis:names:tc:emergency:cap:1.1");
	refused_edit(" xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"", "",
	    PROTO_E_CAP_ELEMENT, "namespace (none)");
}

static void
test_over_long_texts_are_refused(void **state)
{
	char	*big, *to;
	size_t	 n;

	(void)state;
	n = PROTO_TEXT_MAX + 64;
	assert_non_null(big = malloc(n + 64));
	assert_non_null(to = malloc(n + 64));
	memset(big, 'x', n);

	big[PROTO_HEADLINE_MAX + 1] = '\0';
	snprintf(to, n + 64, "<headline>%s</headline>", big);
	refused_edit("<headline>冒充公检法诈骗预警</headline>", to,
	    PROTO_E_TOO_LONG, "<headline>: 513 bytes");
	big[PROTO_HEADLINE_MAX] = '\0';
	snprintf(to, n + 64, "<headline>%s</headline>", big);
	{
		struct cap_doc	 d;
		char		*s = edited("<headline>冒充公检法诈骗预警"
				    "</headline>", to);

		ok(s, &d);
		assert_int_equal(d.a.headline.len, PROTO_HEADLINE_MAX);
		cap_doc_free(&d);
		free(s);
	}
	memset(big, 'y', n);
	big[PROTO_TEXT_MAX + 1] = '\0';
	snprintf(to, n + 64, "<description>%s</description>", big);
	refused_edit("<description>a &amp; b &lt;c&gt; d&#13;\ne\tf"
	    "</description>", to, PROTO_E_TOO_LONG, "<description>: 16385");
	big[PROTO_INSTRUCTION_MAX + 1] = '\0';
	snprintf(to, n + 64, "<instruction>%s</instruction>", big);
	refused_edit("<instruction>挂断</instruction>", to, PROTO_E_TOO_LONG,
	    "<instruction>: 4097");
	refused_edit("<headline>冒充公检法诈骗预警</headline>",
	    "<headline></headline>", PROTO_E_CAP_VALUE, "<headline> is empty");
	free(big);
	free(to);
}

static void
test_structure_is_checked(void **state)
{
	(void)state;
	refused_edit("  <identifier>20270115-4f1c9e2a</identifier>\n", "",
	    PROTO_E_CAP_ELEMENT, "no <identifier>");
	refused_edit("<sent>", "<bogus>1</bogus><sent>", PROTO_E_CAP_ELEMENT,
	    "<bogus> is not an element");
	refused_edit("<status>Exercise</status>\n  <msgType>Update</msgType>",
	    "<msgType>Update</msgType><status>Exercise</status>",
	    PROTO_E_CAP_ELEMENT, "out of order");
	refused_edit("<sender>officer-1</sender>",
	    "<sender>officer-1</sender><sender>x</sender>",
	    PROTO_E_CAP_ELEMENT, "<sender> more than 1 time");
	refused_edit("</info>", "</info><info/>", PROTO_E_CAP_ELEMENT,
	    "<info> more than 1 time");
	refused_edit("<scope>", "hello<scope>", PROTO_E_CAP_ELEMENT,
	    "text directly inside <alert>");
	refused_edit("<scope>", "<scope a='1'>", PROTO_E_CAP_ELEMENT,
	    "attribute a");
	refused_edit("<sender>officer-1</sender>",
	    "<sender><b>officer-1</b></sender>", PROTO_E_CAP_ELEMENT,
	    "inside <sender>");
	refused_edit("<status>Exercise", "<status>System", PROTO_E_CAP_VALUE,
	    "System");
	refused_edit("<msgType>Update", "<msgType>Ack", PROTO_E_CAP_VALUE,
	    "Ack");
	refused_edit("<scope>Restricted", "<scope>Public", PROTO_E_CAP_VALUE,
	    "Public");
	refused_edit("<msgType>Update", "<msgType>Alert", PROTO_E_CAP_VALUE,
	    "<references> in an Alert");
	refused_edit("  <references>desk-a,20270114-0001,"
	    "2027-01-14T08:00:00-00:00</references>\n", "",
	    PROTO_E_CAP_ELEMENT, "needs <references>");
	refused_edit("desk-a,20270114-0001,2027-01-14T08:00:00-00:00",
	    "a,b,2027-01-14T08:00:00-00:00 c,d,2027-01-14T08:00:00-00:00",
	    PROTO_E_CAP_VALUE, "more than one");
	refused_edit("<identifier>20270115-4f1c9e2a", "<identifier>a b",
	    PROTO_E_CAP_VALUE, "not a wuzha name");
	refused_edit("wuzha:relay_required", "wuzha:bogus", PROTO_E_CAP_VALUE,
	    "wuzha:bogus");
	refused_edit("<value>true</value>", "<value>yes</value>",
	    PROTO_E_CAP_VALUE, "true or false");
	refused_edit("<value>school-a</value>", "<value>School A</value>",
	    PROTO_E_CAP_VALUE, "not a node id");
	refused_edit("wuzha:target", "other", PROTO_E_CAP_ELEMENT,
	    "wuzha:target");
	refused_edit("wuzha:relay_required", "wuzha:target", PROTO_E_CAP_VALUE,
	    "twice");
	refused_edit("<category>Safety", "<category>Fraud", PROTO_E_CAP_VALUE,
	    "<category>");
	refused_edit("<urgency>Immediate", "<urgency>Now", PROTO_E_CAP_VALUE,
	    "<urgency>");
	refused_edit("<expires>2027-01-16T08:00:00-00:00",
	    "<expires>2027-01-15T08:00:00-00:00", PROTO_E_CAP_VALUE,
	    "not after <sent>");
	refused_edit("<alert ", "<notcap ", PROTO_E_CAP_XML, "well-formed");
	refused_edit("</alert>", "</alert><?pi x?><x/>", PROTO_E_CAP_XML,
	    "well-formed");
}

static void
test_size_and_well_formedness(void **state)
{
	char	*big;
	size_t	 n = CAP_FILE_MAX + 1;

	(void)state;
	assert_non_null(big = malloc(n + 1));
	memset(big, ' ', n);
	memcpy(big, "<alert>", 7);
	big[n] = '\0';
	refused(big, PROTO_E_CAP_XML, "65537 bytes, more than 65536");
	free(big);
	refused("", PROTO_E_CAP_XML, "empty");
	refused("<alert", PROTO_E_CAP_XML, "not well-formed XML: line 1");
	refused("\xff\xfe<", PROTO_E_CAP_XML, "not well-formed");
}

static void
test_write_refuses_what_xml_cannot_carry(void **state)
{
	struct proto_alert	 a;
	struct proto_buf	 b;
	char			 why[256];

	(void)state;
	base_alert(&a);
	a.text.p = (const uint8_t *)"bell \a";
	a.text.len = 6;
	pbuf_init(&b);
	assert_int_equal(cap_write(&b, &a, NULL, why, sizeof(why)),
	    -PROTO_E_CAP_VALUE);
	assert_non_null(strstr(why, "text"));
	pbuf_free(&b);
	base_alert(&a);
	a.msg_type = PROTO_MSG_CANCEL;
	snprintf(a.references, sizeof(a.references), "x");
	pbuf_init(&b);
	assert_int_equal(cap_write(&b, &a, NULL, why, sizeof(why)),
	    -PROTO_E_CAP_VALUE);
	assert_non_null(strstr(why, "sender and time are not known"));
	pbuf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_gives_the_documented_mapping),
		cmocka_unit_test(test_every_kind_round_trips),
		cmocka_unit_test(test_foreign_document_maps),
		cmocka_unit_test(test_xxe_is_refused),
		cmocka_unit_test(test_billion_laughs_is_refused),
		cmocka_unit_test(test_any_doctype_is_refused),
		cmocka_unit_test(test_entity_references_are_refused),
		cmocka_unit_test(test_xinclude_is_refused),
		cmocka_unit_test(test_bad_datetimes_are_refused),
		cmocka_unit_test(test_wrong_namespace_is_refused),
		cmocka_unit_test(test_over_long_texts_are_refused),
		cmocka_unit_test(test_structure_is_checked),
		cmocka_unit_test(test_size_and_well_formedness),
		cmocka_unit_test(test_write_refuses_what_xml_cannot_carry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
