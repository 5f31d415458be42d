/* SPDX-License-Identifier: ISC */
/*
 * ctl_template: alert templates on the console.  publish --template NAME
 * fills every option the command line left unset from the template, with
 * --set key=value put into its placeholders; templates lists them, or
 * shows one with what each placeholder asks for.
 *
 * NAME with a '/' or ending in ".yaml" is a file; else NAME.yaml in
 * $WUZHA_TEMPLATES, or in the directory the templates are installed in.
 */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "proto.h"
#include "client.h"
#include "ctl.h"

#ifndef WUZHA_TEMPLATE_DIR
#define WUZHA_TEMPLATE_DIR	"/usr/share/wuzha/templates"
#endif

_Static_assert(CONF_TEMPLATE_HEADLINE_MAX == PROTO_HEADLINE_MAX &&
    CONF_TEMPLATE_TEXT_MAX == PROTO_TEXT_MAX &&
    CONF_TEMPLATE_INSTRUCTION_MAX == PROTO_INSTRUCTION_MAX,
    "template limits differ from the alert's");

#define CTL_TEMPLATES_MAX	256	/* files listed from one directory */

/* Where NAME.yaml is looked for: $WUZHA_TEMPLATES, else the installed set. */
static const char *
ctl_template_dir(void)
{
	const char	*d = getenv("WUZHA_TEMPLATES");

	return d != NULL && *d != '\0' ? d : WUZHA_TEMPLATE_DIR;
}

/* qsort: names in byte order. */
static int
ctl_str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of the templates in the directory, sorted; NULL-terminated. */
static char **
ctl_template_names(const char *dir, size_t *np)
{
	DIR		*d;
	struct dirent	*e;
	char		**v;
	size_t		 n = 0, len;

	*np = 0;
	if ((v = calloc(CTL_TEMPLATES_MAX + 1, sizeof(*v))) == NULL)
		return NULL;
	if ((d = opendir(dir)) == NULL)
		return v;
	while ((e = readdir(d)) != NULL && n < CTL_TEMPLATES_MAX) {
		len = strlen(e->d_name);
		if (len <= 5 || e->d_name[0] == '.' ||
		    strcmp(e->d_name + len - 5, ".yaml") != 0)
			continue;
		if ((v[n] = strndup(e->d_name, len - 5)) == NULL)
			break;
		n++;
	}
	closedir(d);
	qsort(v, n, sizeof(*v), ctl_str_cmp);
	*np = n;
	return v;
}

/* Free a list from ctl_template_names. */
static void
ctl_names_free(char **v)
{
	size_t	i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/*
 * Load the template NAME (a name or a path).  NULL after saying why, with
 * *rc CTL_USAGE for a name there is no template of (listing those there
 * are) and CTL_FAIL for a file that does not load.
 */
static struct conf_template *
ctl_template_open(const char *name, int *rc)
{
	struct conf_template	*t;
	char			 path[4096], err[CONF_ERR_MAX + 64];
	char			**names;
	size_t			 n, i, len = strlen(name);
	const char		*dir = ctl_template_dir();

	if (strchr(name, '/') != NULL ||
	    (len > 5 && strcmp(name + len - 5, ".yaml") == 0))
		snprintf(path, sizeof(path), "%s", name);
	else {
		if (len == 0 || name[0] == '.') {
			fprintf(stderr, "wuzhactl: --template %s: not a "
			    "template name\n", name);
			*rc = CTL_USAGE;
			return NULL;
		}
		snprintf(path, sizeof(path), "%s/%s.yaml", dir, name);
		if (access(path, F_OK) == -1) {
			fprintf(stderr, "wuzhactl: no template %s in %s; there "
			    "are:", name, dir);
			names = ctl_template_names(dir, &n);
			for (i = 0; i < n; i++)
				fprintf(stderr, " %s", names[i]);
			fprintf(stderr, "%s\n", n == 0 ? " none" : "");
			ctl_names_free(names);
			*rc = CTL_USAGE;
			return NULL;
		}
	}
	if ((t = conf_template_load(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "wuzhactl: %s\n", err);
		*rc = CTL_FAIL;
	}
	return t;
}

/*
 * Keep s in o (freed by ctl_pub_release), taking ownership; NULL and
 * *oom set if s is NULL (strdup failed) or o cannot hold another.
 */
static const char *
ctl_own(struct ctl_pub *o, char *s, int *oom)
{
	if (s == NULL || o->nowned == CTL_OWNED_MAX) {
		free(s);
		*oom = 1;
		return NULL;
	}
	o->owned[o->nowned++] = s;
	return s;
}

/* publish --template: what ctl.h says. */
int
ctl_template_apply(struct ctl *ctl, struct ctl_pub *o)
{
	struct conf_template		*t;
	struct conf_template_filled	 f;
	char				 err[CONF_ERR_MAX + 256];
	int				 rc = CTL_FAIL, oom = 0;

	(void)ctl;
	if ((t = ctl_template_open(o->template, &rc)) == NULL)
		return rc;
	if (conf_template_fill(t, o->sets, o->nsets, &f, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "wuzhactl: %s\n", err);
		conf_template_free(t);
		return CTL_USAGE;
	}
	/* What the command line says wins; the template fills the rest. */
	if (o->headline == NULL)
		o->headline = ctl_own(o, f.headline, &oom);
	else
		free(f.headline);
	if (o->text == NULL && o->text_file == NULL)
		o->text = ctl_own(o, f.text, &oom);
	else
		free(f.text);
	if (o->instruction == NULL && f.instruction != NULL)
		o->instruction = ctl_own(o, f.instruction, &oom);
	else
		free(f.instruction);
	if (o->category == NULL)
		o->category = ctl_own(o, strdup(t->category), &oom);
	if (o->severity == NULL)
		o->severity = ctl_own(o, strdup(t->severity), &oom);
	if (o->expires == NULL && t->expires != NULL)
		o->expires = ctl_own(o, strdup(t->expires), &oom);
	if (!o->relay_set)
		o->relay = t->relay_required;
	conf_template_free(t);
	if (oom) {
		fprintf(stderr, "wuzhactl: out of memory\n");
		return CTL_FAIL;
	}
	return CTL_OK;
}

/* s, each line indented by two spaces. */
static void
ctl_template_indent(const char *s)
{
	const char	*nl;

	while (*s != '\0') {
		nl = strchr(s, '\n');
		if (nl == NULL)
			nl = s + strlen(s);
		printf("  %.*s\n", (int)(nl - s), s);
		s = *nl == '\n' ? nl + 1 : nl;
	}
}

/* One template in full, or as a JSON object (no newline after it). */
static void
ctl_template_show(const struct conf_template *t, int json, int one)
{
	size_t	i;

	if (json) {
		printf("{\"name\":");
		ctl_json_str(stdout, t->name, strlen(t->name));
		printf(",\"title\":");
		ctl_json_str(stdout, t->title, strlen(t->title));
		printf(",\"category\":\"%s\",\"severity\":\"%s\","
		    "\"relay_required\":%s,\"expires\":", t->category,
		    t->severity, t->relay_required ? "true" : "false");
		if (t->expires != NULL)
			ctl_json_str(stdout, t->expires, strlen(t->expires));
		else
			printf("null");
		printf(",\"placeholders\":[");
		for (i = 0; i < t->nplaceholders; i++) {
			printf("%s{\"key\":\"%s\",\"description\":", i ? "," :
			    "", t->placeholders[i].key);
			ctl_json_str(stdout, t->placeholders[i].description,
			    strlen(t->placeholders[i].description));
			printf("}");
		}
		printf("]");
		if (one) {
			printf(",\"headline\":");
			ctl_json_str(stdout, t->headline, strlen(t->headline));
			printf(",\"text\":");
			ctl_json_str(stdout, t->text, strlen(t->text));
			printf(",\"instruction\":");
			if (t->instruction != NULL)
				ctl_json_str(stdout, t->instruction,
				    strlen(t->instruction));
			else
				printf("null");
		}
		printf("}");
		return;
	}
	printf("%-12s %s\n%-12s %s\n%-12s %s\n%-12s %s\n%-12s %s\n",
	    "template", t->name, "title", t->title, "category", t->category,
	    "severity", t->severity, "relay", t->relay_required ?
	    "required" : "not required");
	printf("%-12s %s\n", "expires", t->expires != NULL ? t->expires :
	    "(wuzhactl's default)");
	printf("placeholders (--set KEY=VALUE):\n");
	for (i = 0; i < t->nplaceholders; i++)
		printf("  %-12s %s\n", t->placeholders[i].key,
		    t->placeholders[i].description);
	if (t->nplaceholders == 0)
		printf("  (none)\n");
	printf("headline:\n");
	ctl_template_indent(t->headline);
	printf("text:\n");
	ctl_template_indent(t->text);
	if (t->instruction != NULL) {
		printf("instruction:\n");
		ctl_template_indent(t->instruction);
	}
}

/* templates [NAME] [--json] */
int
ctl_templates(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json",	no_argument,	   NULL, 'j' },
		{ NULL,		0,		   NULL, 0 },
	};
	struct conf_template	*t, **all;
	const char		*dir = ctl_template_dir();
	char			**names, path[4096], err[CONF_ERR_MAX + 64];
	char			 phs[512];
	size_t			 n, i, k, w = 4, tw = 5, off;
	int			 ch, json = 0, rc = CTL_OK;

	opterr = 0;
	while ((ch = ctl_getopt(ctl, argc, argv, "", opts)) != -1) {
		switch (ch) {
		case 'j':
			json = 1;
			break;
		default:
			fprintf(stderr, "wuzhactl: templates: bad option %s\n",
			    argv[optind - 1]);
			return ctl_usage(ctl);
		}
	}
	if (argc - optind > 1)
		return ctl_usage(ctl);
	if (argc - optind == 1) {
		if ((t = ctl_template_open(argv[optind], &rc)) == NULL)
			return rc;
		ctl_template_show(t, json, 1);
		if (json)
			putchar('\n');
		conf_template_free(t);
		return CTL_OK;
	}
	if ((names = ctl_template_names(dir, &n)) == NULL) {
		fprintf(stderr, "wuzhactl: out of memory\n");
		return CTL_FAIL;
	}
	if (n == 0) {
		fprintf(stderr, "wuzhactl: no templates in %s\n", dir);
		ctl_names_free(names);
		return CTL_FAIL;
	}
	/* Load them all first: widths, and a bad one is reported. */
	if ((all = calloc(n, sizeof(*all))) == NULL) {
		ctl_names_free(names);
		fprintf(stderr, "wuzhactl: out of memory\n");
		return CTL_FAIL;
	}
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s.yaml", dir, names[i]);
		if ((all[i] = conf_template_load(path, err,
		    sizeof(err))) == NULL) {
			fprintf(stderr, "wuzhactl: %s\n", err);
			rc = CTL_FAIL;
			continue;
		}
		if (strlen(names[i]) > w)
			w = strlen(names[i]);
		if (ctl_width(all[i]->title, strlen(all[i]->title)) > tw)
			tw = ctl_width(all[i]->title, strlen(all[i]->title));
	}
	/* --json: one document, {"templates":[...]}, whatever fails. */
	if (json)
		printf("{\"templates\":[");
	else {
		printf("%-*s ", (int)w, "NAME");
		ctl_pad(stdout, "TITLE", 5, tw);
		printf(" %-13s %s\n", "CATEGORY", "PLACEHOLDERS");
	}
	for (i = 0, k = 0; i < n; i++) {
		if ((t = all[i]) == NULL)
			continue;
		if (json) {
			printf("%s\n", k++ ? "," : "");
			ctl_template_show(t, 1, 0);
			continue;
		}
		off = 0;
		phs[0] = '\0';
		for (k = 0; k < t->nplaceholders && off < sizeof(phs); k++)
			off += (size_t)snprintf(phs + off, sizeof(phs) - off,
			    "%s%s", k ? "," : "", t->placeholders[k].key);
		printf("%-*s ", (int)w, t->name);
		ctl_pad(stdout, t->title, strlen(t->title), tw);
		printf(" %-13s %s\n", t->category, phs[0] ? phs : "-");
	}
	if (json)
		printf("\n]}\n");
	for (i = 0; i < n; i++)
		conf_template_free(all[i]);
	free(all);
	ctl_names_free(names);
	return rc;
}
