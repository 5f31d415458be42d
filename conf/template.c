/* SPDX-License-Identifier: ISC */
/*
 * template: alert templates, one YAML file each.  A police unit keeps a
 * text per fraud type (刷单返利, 两卡, 冒充公检法 ...) and fills in the
 * school, the date or the case with `wuzhactl publish --template NAME
 * --set key=value`.  Placeholders are written {key}; {{ and }} stand for
 * a brace.  Loading is as strict as every other file here: unknown keys,
 * bad values, a placeholder used but not declared or declared but never
 * used, and texts longer than an alert may carry are refused with
 * "file:line: key: reason".
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_impl.h"

static const char *const template_categories[] = {
	"warning", "knowledge", "case-followup",
};
static const char *const template_severities[] = {
	"extreme", "severe", "moderate", "minor", "unknown",
};

#define TEMPLATE_NAMES(a)	(sizeof(a) / sizeof((a)[0]))

/* 1 if s is one of the n names. */
static int
template_one_of(const char *s, const char *const *names, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return 1;
	return 0;
}

/* A placeholder key: [a-z][a-z0-9_]*, at most CONF_TEMPLATE_KEY_MAX. */
static int
template_key_ok(const char *s, size_t len)
{
	size_t	i;

	if (len == 0 || len > CONF_TEMPLATE_KEY_MAX || s[0] < 'a' ||
	    s[0] > 'z')
		return 0;
	for (i = 1; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

/*
 * Walk the placeholders of s: fn is called with each key (not
 * NUL-terminated) and returns -1 to stop.  Returns 0, or -1 with *why
 * set when the braces are not well formed.
 */
static int
template_scan(const char *s, int (*fn)(const char *, size_t, void *),
    void *arg, const char **why)
{
	const char	*close;

	while (*s != '\0') {
		if (s[0] == '{' && s[1] == '{') {
			s += 2;
			continue;
		}
		if (s[0] == '}' && s[1] == '}') {
			s += 2;
			continue;
		}
		if (s[0] == '}') {
			*why = "has a '}' without its '{' (write }} for a brace)";
			return -1;
		}
		if (s[0] != '{') {
			s++;
			continue;
		}
		if ((close = strchr(s + 1, '}')) == NULL ||
		    !template_key_ok(s + 1, (size_t)(close - s - 1))) {
			*why = "has a '{' that does not start a placeholder "
			    "{key} with key [a-z][a-z0-9_]* (write {{ for a "
			    "brace)";
			return -1;
		}
		if (fn != NULL && fn(s + 1, (size_t)(close - s - 1), arg) == -1)
			return -1;
		s = close + 1;
	}
	return 0;
}

/* The index of key (len bytes) among t's placeholders, or -1. */
static long
template_find(const struct conf_template *t, const char *key, size_t len)
{
	size_t	i;

	for (i = 0; i < t->nplaceholders; i++)
		if (strlen(t->placeholders[i].key) == len &&
		    memcmp(t->placeholders[i].key, key, len) == 0)
			return (long)i;
	return -1;
}

/* While checking the texts: the template, and the first stray key. */
struct template_use {
	struct conf_template	*t;
	const char		*undeclared;	/* first key not declared */
	size_t			 undeclared_len;
};

/* Mark key as used; stop on one that is not declared. */
static int
template_use_cb(const char *key, size_t len, void *arg)
{
	struct template_use	*u = arg;
	long			 i;

	if ((i = template_find(u->t, key, len)) == -1) {
		u->undeclared = key;
		u->undeclared_len = len;
		return -1;
	}
	u->t->placeholders[i].used = 1;
	return 0;
}

/* A text value: UTF-8 of 0 (or 1) to max bytes, newlines and tabs allowed. */
static int
template_text(struct conf_yaml_doc *doc, const struct conf_yaml_node *node,
    size_t min, size_t max, char **out)
{
	const char	*s;
	size_t		 bad, i;

	if ((s = conf_yaml_scalar(doc, node)) == NULL)
		return -1;
	if (node->n < min)
		return conf_yaml_error(doc, node, "must not be empty");
	if (node->n > max)
		return conf_yaml_error(doc, node, "longer than %zu bytes", max);
	if (utf8_check(s, node->n, &bad) == -1)
		return conf_yaml_error(doc, node, "is not valid UTF-8 (byte "
		    "%zu)", bad);
	for (i = 0; i < node->n; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\n' &&
		    s[i] != '\t') || s[i] == 0x7f)
			return conf_yaml_error(doc, node, "must not contain "
			    "control characters other than newlines and tabs");
	if ((*out = strdup(s)) == NULL)
		return conf_yaml_error(doc, node, "out of memory");
	return 0;
}

/* placeholders: a mapping of key -> one-line description. */
static int
template_placeholders(struct conf_yaml_doc *doc,
    const struct conf_yaml_node *node, struct conf_template *t)
{
	const struct conf_yaml_node	*k, *v;
	uint32_t			 i;

	if (node->kind != CONF_YAML_MAP)
		return conf_yaml_error(doc, node, "must be a mapping of "
		    "placeholder -> description");
	if (node->n / 2 > CONF_TEMPLATE_PH_MAX)
		return conf_yaml_error(doc, node, "more than %d placeholders",
		    CONF_TEMPLATE_PH_MAX);
	if ((t->placeholders = calloc(node->n / 2 + 1,
	    sizeof(*t->placeholders))) == NULL)
		return conf_yaml_error(doc, node, "out of memory");
	for (i = 0; i + 1 < node->n; i += 2) {
		k = node->items[i];
		v = node->items[i + 1];
		if (!template_key_ok(k->str, k->n))
			return conf_yaml_error(doc, k, "is not a placeholder "
			    "name: [a-z][a-z0-9_]*, at most %d",
			    CONF_TEMPLATE_KEY_MAX);
		if ((t->placeholders[t->nplaceholders].key = strdup(k->str)) ==
		    NULL)
			return conf_yaml_error(doc, k, "out of memory");
		t->placeholders[t->nplaceholders].line = k->line;
		t->nplaceholders++;
		if (conf_yaml_string(doc, v, CONF_NAME_MAX,
		    &t->placeholders[t->nplaceholders - 1].description) == -1)
			return -1;
	}
	return 0;
}

/* Every placeholder used in a text is declared, and each declared is used. */
static int
template_check_uses(struct conf_yaml_doc *doc, struct conf_template *t,
    const struct conf_yaml_node *const nodes[3], char *const texts[3],
    const struct conf_yaml_node *ph)
{
	struct template_use	 u;
	const char		*why;
	size_t			 i;

	memset(&u, 0, sizeof(u));
	u.t = t;
	for (i = 0; i < 3; i++) {
		if (texts[i] == NULL)
			continue;
		why = NULL;
		if (template_scan(texts[i], template_use_cb, &u, &why) == -1) {
			if (why != NULL)
				return conf_yaml_error(doc, nodes[i], "%s", why);
			return conf_yaml_error(doc, nodes[i], "uses {%.*s}, "
			    "which is not under placeholders",
			    (int)u.undeclared_len, u.undeclared);
		}
	}
	for (i = 0; i < t->nplaceholders; i++) {
		if (t->placeholders[i].used)
			continue;
		if (ph != NULL && ph->kind == CONF_YAML_MAP)
			return conf_yaml_error(doc, ph->items[2 * i], "is "
			    "declared but used in no text");
	}
	return 0;
}

/* Build a template from a parsed document; NULL on any error. */
static struct conf_template *
template_build(struct conf_yaml_doc *doc, const char *name)
{
	const struct conf_yaml_node	*root = conf_yaml_root(doc);
	const struct conf_yaml_node	*title, *cat, *sev, *relay, *exp;
	const struct conf_yaml_node	*hl, *text, *instr, *ph;
	const struct conf_yaml_key	 keys[] = {
		{ "title", 1, &title }, { "category", 1, &cat },
		{ "severity", 1, &sev }, { "relay_required", 0, &relay },
		{ "expires", 0, &exp }, { "headline", 1, &hl },
		{ "text", 1, &text }, { "instruction", 0, &instr },
		{ "placeholders", 0, &ph },
	};
	const struct conf_yaml_node	*nodes[3];
	char				*texts[3];
	struct conf_template		*t;
	const char			*s, *why;
	int64_t				 ms;

	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->name = strdup(name)) == NULL) {
		free(t);
		conf_yaml_error(doc, root, "out of memory");
		return NULL;
	}
	if (conf_yaml_map(doc, root, keys, sizeof(keys) / sizeof(keys[0])) ==
	    -1)
		goto fail;
	if (conf_yaml_string(doc, title, CONF_NAME_MAX, &t->title) == -1 ||
	    conf_yaml_string(doc, cat, 32, &t->category) == -1 ||
	    conf_yaml_string(doc, sev, 32, &t->severity) == -1)
		goto fail;
	if (!template_one_of(t->category, template_categories,
	    TEMPLATE_NAMES(template_categories))) {
		conf_yaml_error(doc, cat, "must be warning, knowledge or "
		    "case-followup");
		goto fail;
	}
	if (!template_one_of(t->severity, template_severities,
	    TEMPLATE_NAMES(template_severities))) {
		conf_yaml_error(doc, sev, "must be extreme, severe, moderate, "
		    "minor or unknown");
		goto fail;
	}
	if (relay != NULL) {
		if ((s = conf_yaml_scalar(doc, relay)) == NULL)
			goto fail;
		if (strcmp(s, "true") == 0)
			t->relay_required = 1;
		else if (strcmp(s, "false") != 0) {
			conf_yaml_error(doc, relay, "must be true or false");
			goto fail;
		}
	}
	if (exp != NULL) {
		if ((s = conf_yaml_scalar(doc, exp)) == NULL)
			goto fail;
		if ((ms = conf_util_duration(s, &why)) < 0) {
			conf_yaml_error(doc, exp, "%s", why);
			goto fail;
		}
		if (ms < 60000 || ms > 30LL * 86400000) {
			conf_yaml_error(doc, exp, "must be from 1m to 720h");
			goto fail;
		}
		if ((t->expires = strdup(s)) == NULL) {
			conf_yaml_error(doc, exp, "out of memory");
			goto fail;
		}
	}
	if (template_text(doc, hl, 1, CONF_TEMPLATE_HEADLINE_MAX,
	    &t->headline) == -1 ||
	    template_text(doc, text, 0, CONF_TEMPLATE_TEXT_MAX, &t->text) == -1)
		goto fail;
	if (strchr(t->headline, '\n') != NULL) {
		conf_yaml_error(doc, hl, "must be one line");
		goto fail;
	}
	if (instr != NULL && template_text(doc, instr, 0,
	    CONF_TEMPLATE_INSTRUCTION_MAX, &t->instruction) == -1)
		goto fail;
	if (ph != NULL && template_placeholders(doc, ph, t) == -1)
		goto fail;
	nodes[0] = hl;
	nodes[1] = text;
	nodes[2] = instr;
	texts[0] = t->headline;
	texts[1] = t->text;
	texts[2] = t->instruction;
	if (template_check_uses(doc, t, nodes, texts, ph) == -1)
		goto fail;
	return t;
 fail:
	conf_template_free(t);
	return NULL;
}

/* The template's name: the file name less its directory and ".yaml". */
static char *
template_name_of(const char *path)
{
	const char	*b = strrchr(path, '/');
	size_t		 n;
	char		*s;

	b = b != NULL ? b + 1 : path;
	n = strlen(b);
	if (n > 5 && strcmp(b + n - 5, ".yaml") == 0)
		n -= 5;
	if ((s = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(s, b, n);
	s[n] = '\0';
	return s;
}

/* Load NAME.yaml; the template is named after the file. */
struct conf_template *
conf_template_load(const char *path, char *err, size_t errlen)
{
	struct conf_yaml_doc	*doc;
	struct conf_template	*t = NULL;
	char			*name;

	if ((doc = conf_yaml_load(path, err, errlen)) == NULL)
		return NULL;
	if ((name = template_name_of(path)) == NULL)
		conf_yaml_error(doc, conf_yaml_root(doc), "out of memory");
	else
		t = template_build(doc, name);
	free(name);
	conf_yaml_free(doc);
	return t;
}

/* Parse a template from memory; name stands for its file. */
struct conf_template *
conf_template_parse(const char *name, const void *buf, size_t len, char *err,
    size_t errlen)
{
	struct conf_yaml_doc	*doc;
	struct conf_template	*t = NULL;
	char			*tn;

	if ((doc = conf_yaml_parse(name, buf, len, err, errlen)) == NULL)
		return NULL;
	if ((tn = template_name_of(name)) == NULL)
		conf_yaml_error(doc, conf_yaml_root(doc), "out of memory");
	else
		t = template_build(doc, tn);
	free(tn);
	conf_yaml_free(doc);
	return t;
}

/* Free t and everything it holds; NULL is a no-op. */
void
conf_template_free(struct conf_template *t)
{
	size_t	i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nplaceholders; i++) {
		free(t->placeholders[i].key);
		free(t->placeholders[i].description);
	}
	free(t->placeholders);
	free(t->name);
	free(t->title);
	free(t->category);
	free(t->severity);
	free(t->expires);
	free(t->headline);
	free(t->text);
	free(t->instruction);
	free(t);
}

/* --- filling in ---------------------------------------------------------- */

/* A growing NUL-terminated string; oom sticks once set. */
struct template_out {
	char	*buf;
	size_t	 len, cap;
	int	 oom;
};

/* Append n bytes of s to o. */
static void
template_put(struct template_out *o, const char *s, size_t n)
{
	char	*nb;
	size_t	 cap;

	if (o->oom)
		return;
	if (o->len + n + 1 > o->cap) {
		cap = o->cap ? o->cap : 256;
		while (o->len + n + 1 > cap)
			cap *= 2;
		if ((nb = realloc(o->buf, cap)) == NULL) {
			o->oom = 1;
			return;
		}
		o->buf = nb;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

/* s with its placeholders replaced and {{ }} turned into braces. */
static char *
template_subst(const struct conf_template *t, const char **values,
    const char *s)
{
	struct template_out	 o;
	const char		*close;
	long			 i;

	memset(&o, 0, sizeof(o));
	template_put(&o, "", 0);
	while (*s != '\0') {
		if ((s[0] == '{' && s[1] == '{') || (s[0] == '}' && s[1] == '}')) {
			template_put(&o, s, 1);
			s += 2;
			continue;
		}
		if (s[0] == '{' && (close = strchr(s + 1, '}')) != NULL &&
		    (i = template_find(t, s + 1, (size_t)(close - s - 1))) !=
		    -1) {
			template_put(&o, values[i], strlen(values[i]));
			s = close + 1;
			continue;
		}
		template_put(&o, s, 1);
		s++;
	}
	if (o.oom) {
		free(o.buf);
		return NULL;
	}
	return o.buf;
}

/* Append name to the list in err, after ", " unless it ends in a space. */
static void
template_list(char *err, size_t errlen, const char *name)
{
	size_t	n = strlen(err);

	snprintf(err + n, errlen > n ? errlen - n : 0, "%s%s",
	    err[0] != '\0' && err[n - 1] != ' ' ? ", " : "", name);
}

/* 1 (and why in err) if the filled-in s is longer than max bytes. */
static int
template_too_long(const struct conf_template *t, const char *what,
    const char *s, size_t max, char *err, size_t errlen)
{
	size_t	n;

	if (s == NULL || (n = strlen(s)) <= max)
		return 0;
	snprintf(err, errlen, "template %s: the %s filled in is %zu bytes, "
	    "more than the %zu an alert may carry", t->name, what, n, max);
	return 1;
}

/*
 * Fill t with sets ("key=value" each): every placeholder must get exactly
 * one value, and no other key may be given.  On success the three texts
 * (instruction NULL if the template has none) are the caller's to free.
 */
int
conf_template_fill(const struct conf_template *t, const char *const *sets,
    size_t nsets, struct conf_template_filled *out, char *err, size_t errlen)
{
	const char	**values;
	const char	 *eq;
	size_t		  i, klen, vlen, bad;
	long		  k;
	int		  missing = 0;

	memset(out, 0, sizeof(*out));
	if ((values = calloc(t->nplaceholders + 1, sizeof(*values))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < nsets; i++) {
		if ((eq = strchr(sets[i], '=')) == NULL || eq == sets[i]) {
			snprintf(err, errlen, "--set %s: expected KEY=VALUE",
			    sets[i]);
			goto fail;
		}
		klen = (size_t)(eq - sets[i]);
		if ((k = template_find(t, sets[i], klen)) == -1) {
			snprintf(err, errlen, "--set %.*s: template %s has no "
			    "such placeholder (it has: ", (int)klen, sets[i],
			    t->name);
			for (k = 0; k < (long)t->nplaceholders; k++)
				template_list(err, errlen,
				    t->placeholders[k].key);
			if (t->nplaceholders == 0)
				template_list(err, errlen, "none");
			klen = strlen(err);
			snprintf(err + klen, errlen > klen ? errlen - klen : 0,
			    ")");
			goto fail;
		}
		if (values[k] != NULL) {
			snprintf(err, errlen, "--set %.*s given twice", (int)klen,
			    sets[i]);
			goto fail;
		}
		vlen = strlen(eq + 1);
		if (vlen == 0 || utf8_check(eq + 1, vlen, &bad) == -1) {
			snprintf(err, errlen, "--set %.*s: the value must be "
			    "non-empty UTF-8 text", (int)klen, sets[i]);
			goto fail;
		}
		values[k] = eq + 1;
	}
	err[0] = '\0';
	for (i = 0; i < t->nplaceholders; i++) {
		if (values[i] != NULL)
			continue;
		if (!missing)
			snprintf(err, errlen, "template %s needs --set for: ",
			    t->name);
		template_list(err, errlen, t->placeholders[i].key);
		missing = 1;
	}
	if (missing)
		goto fail;
	if ((out->headline = template_subst(t, values, t->headline)) == NULL ||
	    (out->text = template_subst(t, values, t->text)) == NULL ||
	    (t->instruction != NULL && (out->instruction = template_subst(t,
	    values, t->instruction)) == NULL)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (strchr(out->headline, '\n') != NULL) {
		snprintf(err, errlen, "template %s: the headline filled in is "
		    "not one line (a --set value has a newline)", t->name);
		goto fail;
	}
	if (template_too_long(t, "headline", out->headline,
	    CONF_TEMPLATE_HEADLINE_MAX, err, errlen) ||
	    template_too_long(t, "text", out->text, CONF_TEMPLATE_TEXT_MAX,
	    err, errlen) ||
	    template_too_long(t, "instruction", out->instruction,
	    CONF_TEMPLATE_INSTRUCTION_MAX, err, errlen))
		goto fail;
	free(values);
	return 0;
 fail:
	free(values);
	conf_template_filled_free(out);
	return -1;
}

/* Free the filled-in texts and clear f. */
void
conf_template_filled_free(struct conf_template_filled *f)
{
	free(f->headline);
	free(f->text);
	free(f->instruction);
	memset(f, 0, sizeof(*f));
}
