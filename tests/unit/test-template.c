/* SPDX-License-Identifier: ISC */
/*
 * test-template: the alert templates.  Every shipped template loads and
 * fills; a bad file is refused with file, line, key and reason; filling
 * in names every placeholder missing, refuses keys the template lacks,
 * turns {{ and }} into braces, never reads a value as a template, and
 * keeps the result within what an alert may carry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"

static const char	*tdir;	/* conf/templates of the sources */

static const char *const shipped[] = {
	"brush-order", "campus-loan", "case-followup", "fake-police", "goip",
	"holiday", "money-laundering", "two-cards",
};

static struct conf_template *
ok(const char *buf)
{
	struct conf_template	*t;
	char			 err[CONF_ERR_MAX] = "";

	if ((t = conf_template_parse("t.yaml", buf, strlen(buf), err,
	    sizeof(err))) == NULL)
		fail_msg("refused: %s", err);
	return t;
}

static void
refused(const char *buf, const char *want)
{
	struct conf_template	*t;
	char			 err[CONF_ERR_MAX] = "";

	if ((t = conf_template_parse("t.yaml", buf, strlen(buf), err,
	    sizeof(err))) != NULL) {
		conf_template_free(t);
		fail_msg("accepted, wanted: %s", want);
	}
	assert_string_equal(err, want);
}

#define BASE	"title: t\ncategory: warning\nseverity: severe\n"

static void
test_shipped_templates_load_and_fill(void **state)
{
	struct conf_template		*t;
	struct conf_template_filled	 f;
	const char			*sets[CONF_TEMPLATE_PH_MAX];
	char				 path[4096], err[CONF_ERR_MAX + 256];
	char				 kv[CONF_TEMPLATE_PH_MAX][64];
	size_t				 i, k;

	(void)state;
	for (i = 0; i < sizeof(shipped) / sizeof(shipped[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s.yaml", tdir, shipped[i]);
		if ((t = conf_template_load(path, err, sizeof(err))) == NULL)
			fail_msg("%s", err);
		assert_string_equal(t->name, shipped[i]);
		assert_true(t->nplaceholders > 0);
		assert_true(t->relay_required);
		for (k = 0; k < t->nplaceholders; k++) {
			snprintf(kv[k], sizeof(kv[k]), "%s=测试值",
			    t->placeholders[k].key);
			sets[k] = kv[k];
		}
		if (conf_template_fill(t, sets, t->nplaceholders, &f, err,
		    sizeof(err)) == -1)
			fail_msg("%s: %s", shipped[i], err);
		assert_null(strchr(f.headline, '{'));
		assert_null(strchr(f.text, '{'));
		assert_true(strstr(f.headline, "测试值") != NULL ||
		    strstr(f.text, "测试值") != NULL);
		conf_template_filled_free(&f);
		conf_template_free(t);
	}
}

static void
test_fill_names_what_is_missing_and_refuses_strangers(void **state)
{
	struct conf_template		*t;
	struct conf_template_filled	 f;
	char				 err[CONF_ERR_MAX + 256];
	const char			*one[] = { "b=二" };
	const char			*all[] = { "c=三", "a=一", "b=二" };
	const char			*stranger[] = { "a=1", "b=2", "c=3",
					    "d=4" };
	const char			*twice[] = { "a=1", "a=2" };
	const char			*noeq[] = { "a" };
	const char			*empty[] = { "a=" };

	(void)state;
	t = ok(BASE "headline: \"{a}{{字}}{b}\"\ntext: \"}}{c}{{\"\n"
	    "instruction: \"{a}\"\nplaceholders:\n  a: A\n  b: B\n  c: C\n");
	assert_int_equal(conf_template_fill(t, one, 1, &f, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "template t needs --set for: a, c");
	assert_int_equal(conf_template_fill(t, stranger, 4, &f, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "--set d: template t has no such "
	    "placeholder (it has: a, b, c)");
	assert_int_equal(conf_template_fill(t, twice, 2, &f, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "--set a given twice");
	assert_int_equal(conf_template_fill(t, noeq, 1, &f, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "--set a: expected KEY=VALUE");
	assert_int_equal(conf_template_fill(t, empty, 1, &f, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "--set a: the value must be non-empty UTF-8 "
	    "text");
	assert_int_equal(conf_template_fill(t, all, 3, &f, err, sizeof(err)),
	    0);
	assert_string_equal(f.headline, "一{字}二");
	assert_string_equal(f.text, "}三{");
	assert_string_equal(f.instruction, "一");
	conf_template_filled_free(&f);
	conf_template_free(t);
}

static void
test_values_are_not_templates_and_limits_hold(void **state)
{
	struct conf_template		*t;
	struct conf_template_filled	 f;
	char				 err[CONF_ERR_MAX + 256], *big;
	const char			*sets[1];

	(void)state;
	t = ok(BASE "headline: \"预警：{a}\"\ntext: \"\"\nplaceholders:\n"
	    "  a: A\n");
	sets[0] = "a={a}{{}}";
	assert_int_equal(conf_template_fill(t, sets, 1, &f, err, sizeof(err)),
	    0);
	assert_string_equal(f.headline, "预警：{a}{{}}");
	assert_string_equal(f.text, "");
	assert_null(f.instruction);
	conf_template_filled_free(&f);
	/* 171 three-byte characters and the prefix pass 512 bytes. */
	assert_non_null(big = malloc(600));
	strcpy(big, "a=");
	while (strlen(big) < 2 + 171 * 3)
		strcat(big, "长");
	sets[0] = big;
	assert_int_equal(conf_template_fill(t, sets, 1, &f, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "template t: the headline filled in is 522 "
	    "bytes, more than the 512 an alert may carry");
	sets[0] = "a=第一行\n第二行";
	assert_int_equal(conf_template_fill(t, sets, 1, &f, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "template t: the headline filled in is not "
	    "one line (a --set value has a newline)");
	free(big);
	conf_template_free(t);
}

/* A value used many times can push the text past its limit. */
static void
test_filled_text_and_instruction_limits(void **state)
{
	struct conf_template		*t;
	struct conf_template_filled	 f;
	char				 err[CONF_ERR_MAX + 256], *buf, *val;
	const char			*sets[1];
	size_t				 i, n;

	(void)state;
	/* 100 uses of {v} in the text, 10 in the instruction. */
	assert_non_null(buf = malloc(4096));
	n = (size_t)snprintf(buf, 4096, BASE "headline: h\ntext: \"");
	for (i = 0; i < 100; i++)
		n += (size_t)snprintf(buf + n, 4096 - n, "{v}");
	n += (size_t)snprintf(buf + n, 4096 - n, "\"\ninstruction: \"");
	for (i = 0; i < 10; i++)
		n += (size_t)snprintf(buf + n, 4096 - n, "{v}");
	snprintf(buf + n, 4096 - n, "\"\nplaceholders:\n  v: V\n");
	t = ok(buf);
	assert_non_null(val = malloc(512));
	/* 166 bytes: the text is 16600 bytes, the instruction fits. */
	strcpy(val, "v=");
	while (strlen(val) < 2 + 55 * 3)
		strcat(val, "案");
	strcat(val, "x");
	sets[0] = val;
	assert_int_equal(conf_template_fill(t, sets, 1, &f, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "template t: the text filled in is 16600 "
	    "bytes, more than the 16384 an alert may carry");
	/* 163 bytes: the text fits (16300), the instruction does. */
	val[2 + 54 * 3] = '\0';
	strcat(val, "x");
	assert_int_equal(conf_template_fill(t, sets, 1, &f, err, sizeof(err)),
	    0);
	assert_int_equal(strlen(f.text), 16300);
	assert_int_equal(strlen(f.instruction), 1630);
	conf_template_filled_free(&f);
	conf_template_free(t);

	/* 10 uses in the instruction alone, past its 4096. */
	t = ok(BASE "headline: h\ntext: \"\"\ninstruction: "
	    "\"{v}{v}{v}{v}{v}{v}{v}{v}{v}{v}\"\nplaceholders:\n  v: V\n");
	memset(val, 0, 512);
	strcpy(val, "v=");
	memset(val + 2, 'x', 410);
	assert_int_equal(conf_template_fill(t, sets, 1, &f, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "template t: the instruction filled in is "
	    "4100 bytes, more than the 4096 an alert may carry");
	conf_template_free(t);
	free(val);
	free(buf);
}

static void
test_strict_loading(void **state)
{
	(void)state;
	refused(BASE "headline: x\ntext: y\ncolour: red\n",
	    "t.yaml:6: colour: unknown key");
	refused("title: t\ncategory: fraud\nseverity: severe\nheadline: x\n"
	    "text: y\n", "t.yaml:2: category: must be warning, knowledge or "
	    "case-followup");
	refused("title: t\ncategory: warning\nseverity: loud\nheadline: x\n"
	    "text: y\n", "t.yaml:3: severity: must be extreme, severe, "
	    "moderate, minor or unknown");
	refused(BASE "relay_required: yes\nheadline: x\ntext: y\n",
	    "t.yaml:4: relay_required: must be true or false");
	refused(BASE "expires: 30s\nheadline: x\ntext: y\n",
	    "t.yaml:4: expires: must be from 1m to 720h");
	refused(BASE "expires: 1w\nheadline: x\ntext: y\n",
	    "t.yaml:4: expires: is not a duration (like 250ms, 30s, 5m, 2h or 7d)");
	refused(BASE "expires: 31d\nheadline: x\ntext: y\n",
	    "t.yaml:4: expires: must be from 1m to 720h");
	refused(BASE "headline: \"{school}\"\ntext: y\n",
	    "t.yaml:4: headline: uses {school}, which is not under "
	    "placeholders");
	refused(BASE "headline: x\ntext: y\nplaceholders:\n  school: S\n",
	    "t.yaml:7: placeholders.school: is declared but used in no text");
	refused(BASE "headline: \"{School}\"\ntext: y\n",
	    "t.yaml:4: headline: has a '{' that does not start a placeholder "
	    "{key} with key [a-z][a-z0-9_]* (write {{ for a brace)");
	refused(BASE "headline: x\ntext: \"a } b\"\n",
	    "t.yaml:5: text: has a '}' without its '{' (write }} for a brace)");
	refused(BASE "headline: \"\"\ntext: y\n",
	    "t.yaml:4: headline: must not be empty");
	refused(BASE "headline: \"a\\nb\"\ntext: y\n",
	    "t.yaml:4: headline: must be one line");
	refused(BASE "headline: \"a\\u0007\"\ntext: y\n",
	    "t.yaml:4: headline: must not contain control characters other "
	    "than newlines and tabs");
	refused(BASE "headline: x\ntext: y\nplaceholders: [a]\n",
	    "t.yaml:6: placeholders: must be a mapping of placeholder -> "
	    "description");
	refused(BASE "headline: \"{a_}\"\ntext: y\nplaceholders:\n  A: x\n",
	    "t.yaml:7: placeholders.A: is not a placeholder name: "
	    "[a-z][a-z0-9_]*, at most 32");
	refused("title: t\ncategory: warning\nheadline: x\ntext: y\n",
	    "t.yaml:1: severity: missing required key");
	refused(BASE "headline: \"{a}\"\ntext: y\nplaceholders:\n  a: x\n"
	    "  a: y\n", "t.yaml:8: placeholders.a: duplicate key (first at "
	    "line 7)");
	refused(BASE "headline: \"caf\xe9\"\ntext: y\n",
	    "t.yaml:4: (document): invalid UTF-8");
	refused(BASE "headline: x\ntext: y\nplaceholders:\n  a: \"\"\n",
	    "t.yaml:7: placeholders.a: must not be empty");
	refused(BASE "headline: x\ntext: y\nplaceholders:\n  a: \"x\\ny\"\n",
	    "t.yaml:7: placeholders.a: must not contain control characters");
}

static void
test_text_limit_at_load(void **state)
{
	char	*buf;
	size_t	 n;

	(void)state;
	assert_non_null(buf = malloc(CONF_TEMPLATE_TEXT_MAX + 200));
	n = (size_t)snprintf(buf, 200, BASE "headline: x\ntext: \"");
	memset(buf + n, 'x', CONF_TEMPLATE_TEXT_MAX + 1);
	strcpy(buf + n + CONF_TEMPLATE_TEXT_MAX + 1, "\"\n");
	refused(buf, "t.yaml:5: text: longer than 16384 bytes");
	/* The headline and instruction have their own limits. */
	n = (size_t)snprintf(buf, 200, BASE "headline: \"");
	memset(buf + n, 'x', CONF_TEMPLATE_HEADLINE_MAX + 1);
	strcpy(buf + n + CONF_TEMPLATE_HEADLINE_MAX + 1, "\"\ntext: y\n");
	refused(buf, "t.yaml:4: headline: longer than 512 bytes");
	n = (size_t)snprintf(buf, 200, BASE "headline: x\ntext: y\n"
	    "instruction: \"");
	memset(buf + n, 'x', CONF_TEMPLATE_INSTRUCTION_MAX + 1);
	strcpy(buf + n + CONF_TEMPLATE_INSTRUCTION_MAX + 1, "\"\n");
	refused(buf, "t.yaml:6: instruction: longer than 4096 bytes");
	free(buf);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped_templates_load_and_fill),
		cmocka_unit_test(test_fill_names_what_is_missing_and_refuses_strangers),
		cmocka_unit_test(test_values_are_not_templates_and_limits_hold),
		cmocka_unit_test(test_filled_text_and_instruction_limits),
		cmocka_unit_test(test_strict_loading),
		cmocka_unit_test(test_text_limit_at_load),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: test-template TEMPLATE_DIR\n");
		return 2;
	}
	tdir = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
