/* SPDX-License-Identifier: ISC */
/*
 * csv: class lists as schools keep them, one row per class, added to a
 * tree read from tree.yaml.  The YAML holds the police units and the
 * people above the classes (officers, desks, liaisons); each CSV file
 * holds classes:
 *
 *	school,school_name,department,department_name,class,class_name,advisor
 *	jn-sy,实验中学,jn-sy-g7,初一年级,jn-sy-g7-c1,初一(1)班,adv-sy-g7-1
 *
 * The first row names the columns, in any order; school, department and
 * class are required, police (the unit above the school; else the one
 * given to conf_tree_add_csv), the three names and advisor (the class
 * advisor's certificate CN, who gets the receive right at the class) are
 * not.  The Chinese headings 公安, 学校, 学校名称, 年级, 年级名称, 班级,
 * 班级名称 and 班主任 mean the same.  A column of any other heading is
 * ignored.  The text is RFC 4180: fields separated by commas, a record
 * per line (CRLF or LF), a field in double quotes may hold commas, quotes
 * (doubled) and line breaks; UTF-8, with or without the byte order mark a
 * spreadsheet writes first.  Blank lines are skipped.
 *
 * A school, department or class may come in many rows (a class with two
 * advisors is two rows): each time under the same parent, and with the
 * same name if one is given.  A node the YAML has already may appear too,
 * as long as it is the same tier under the same parent, and the same name
 * if one is given.  An empty name is the id.  An advisor's CN may appear once in
 * the whole tree.  Every error names the file and line.
 */

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf_impl.h"

#define CSV_FIELD_MAX	1024	/* bytes in one field */
#define CSV_COLS_MAX	64	/* columns in one row */
#define CSV_NONE	((size_t)-1)

enum csv_col {
	CSV_POLICE, CSV_SCHOOL, CSV_SCHOOL_NAME, CSV_DEPT, CSV_DEPT_NAME,
	CSV_CLASS, CSV_CLASS_NAME, CSV_ADVISOR, CSV_NCOLS
};

static const struct {
	const char	*name;
	const char	*zh;
	enum csv_col	 col;
} csv_headings[] = {
	{ "police", "公安", CSV_POLICE },
	{ "school", "学校", CSV_SCHOOL },
	{ "school_name", "学校名称", CSV_SCHOOL_NAME },
	{ "department", "年级", CSV_DEPT },
	{ "department_name", "年级名称", CSV_DEPT_NAME },
	{ "class", "班级", CSV_CLASS },
	{ "class_name", "班级名称", CSV_CLASS_NAME },
	{ "advisor", "班主任", CSV_ADVISOR },
};

/* A reader over the mapped file. */
struct csv {
	const char	*path;
	const char	*p, *end;
	int		 line;		/* of the next character */
	char		*err;
	size_t		 errlen;
	/* The current record: fields in one buffer, NUL-separated. */
	char		 buf[CSV_COLS_MAX * (CSV_FIELD_MAX + 1)];
	const char	*field[CSV_COLS_MAX];
	size_t		 nfields;
	int		 rec_line;	/* where the record began */
};

/* Ids of the tree, old and new, to their index in t->nodes. */
struct csv_index {
	size_t		*slot;
	size_t		 mask;
	const struct conf_tree *t;
};

static int __attribute__((format(printf, 2, 3)))
csv_error(struct csv *c, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	n = snprintf(c->err, c->errlen, "%s:%d: ", c->path, c->rec_line);
	if (n < 0 || (size_t)n >= c->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * Read one record into c->field.  Returns 1, 0 at the end of the file,
 * or -1 after an error.
 */
static int
csv_record(struct csv *c)
{
	char	*o = c->buf, *fstart = c->buf;
	size_t	 flen = 0;
	int	 quoted, ch;

	c->nfields = 0;
	c->rec_line = c->line;
	if (c->p >= c->end)
		return 0;
	for (;;) {
		/* One field. */
		if (c->nfields == CSV_COLS_MAX)
			return csv_error(c, "more than %d fields", CSV_COLS_MAX);
		fstart = o;
		flen = 0;
		quoted = c->p < c->end && *c->p == '"';
		if (quoted)
			c->p++;
		for (;;) {
			if (c->p >= c->end) {
				if (quoted)
					return csv_error(c, "a quoted field "
					    "is not closed");
				break;
			}
			ch = (unsigned char)*c->p;
			if (quoted && ch == '"') {
				if (c->p + 1 < c->end && c->p[1] == '"') {
					c->p += 2;
				} else {
					c->p++;
					quoted = 0;
					if (c->p < c->end && *c->p != ',' &&
					    *c->p != '\n' && *c->p != '\r')
						return csv_error(c, "text after "
						    "a closing quote");
					continue;
				}
			} else if (!quoted && (ch == ',' || ch == '\n' ||
			    ch == '\r'))
				break;
			else {
				if (ch == '\n')
					c->line++;
				c->p++;
			}
			if (flen == CSV_FIELD_MAX)
				return csv_error(c, "a field longer than %d "
				    "bytes", CSV_FIELD_MAX);
			fstart[flen++] = (char)ch;
		}
		fstart[flen] = '\0';
		o = fstart + flen + 1;
		c->field[c->nfields++] = fstart;
		if (c->p < c->end && *c->p == ',') {
			c->p++;
			continue;
		}
		break;
	}
	if (c->p < c->end && *c->p == '\r')
		c->p++;
	if (c->p < c->end && *c->p == '\n')
		c->p++;
	c->line++;
	return 1;
}

/* The field of column col, spaces at either end taken off ("" if none). */
static const char *
csv_get(struct csv *c, const size_t *cols, enum csv_col col)
{
	char	*s, *e;

	if (cols[col] == CSV_NONE)
		return "";
	s = (char *)c->field[cols[col]];
	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

static int
csv_blank(const struct csv *c)
{
	return c->nfields == 1 && c->field[0][0] == '\0';
}

/* Map the header's headings to columns. */
static int
csv_header(struct csv *c, size_t *cols)
{
	const char	*h;
	size_t		 i, k;

	for (k = 0; k < CSV_NCOLS; k++)
		cols[k] = CSV_NONE;
	for (i = 0; i < c->nfields; i++) {
		h = c->field[i];
		while (*h == ' ')
			h++;
		for (k = 0; k < sizeof(csv_headings) / sizeof(csv_headings[0]);
		    k++) {
			if (strcasecmp(h, csv_headings[k].name) != 0 &&
			    strcmp(h, csv_headings[k].zh) != 0)
				continue;
			if (cols[csv_headings[k].col] != CSV_NONE)
				return csv_error(c, "column \"%s\" twice", h);
			cols[csv_headings[k].col] = i;
		}
	}
	if (cols[CSV_SCHOOL] == CSV_NONE || cols[CSV_DEPT] == CSV_NONE ||
	    cols[CSV_CLASS] == CSV_NONE)
		return csv_error(c, "the first row must name the columns, with "
		    "at least school, department and class");
	return 0;
}

/* --- the index of node ids ----------------------------------------------- */

static size_t
csv_hash(const char *s)
{
	size_t	h = 1469598103934665603ULL & SIZE_MAX;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * (1099511628211ULL & SIZE_MAX);
	return h;
}

static int
csv_index_init(struct csv_index *x, const struct conf_tree *t, size_t more)
{
	size_t	cap = 16, want = 2 * (t->nnodes + more), i, j;

	while (cap < want)
		cap *= 2;
	if ((x->slot = malloc(cap * sizeof(*x->slot))) == NULL)
		return -1;
	memset(x->slot, 0xff, cap * sizeof(*x->slot));
	x->mask = cap - 1;
	x->t = t;
	for (i = 0; i < t->nnodes; i++) {
		for (j = csv_hash(t->nodes[i].id) & x->mask;
		    x->slot[j] != CSV_NONE; j = (j + 1) & x->mask)
			;
		x->slot[j] = i;
	}
	return 0;
}

/* The index of id in t->nodes, or CSV_NONE; *at is where it would go. */
static size_t
csv_index_find(const struct csv_index *x, const char *id, size_t *at)
{
	size_t	j;

	for (j = csv_hash(id) & x->mask; x->slot[j] != CSV_NONE;
	    j = (j + 1) & x->mask)
		if (strcmp(x->t->nodes[x->slot[j]].id, id) == 0)
			return x->slot[j];
	*at = j;
	return CSV_NONE;
}

/* --- building -------------------------------------------------------------- */

struct csv_add {
	struct csv		*c;
	struct conf_tree	*t;
	struct csv_index	 ix;
	size_t			 capnodes, capprinc;
	const char		*police;	/* default unit, or NULL */
	char			(*cns)[CONF_ID_MAX + 1]; /* the tree file's,
						   sorted (copies: the array
						   they come from grows) */
	size_t			 ncns;
};

static int
csv_grow(void **v, size_t n, size_t *cap, size_t size)
{
	void	*nv;
	size_t	 c;

	if (n < *cap)
		return 0;
	c = *cap > n ? *cap : n;
	c = c ? c * 2 : 256;
	if ((nv = reallocarray(*v, c + 1, size)) == NULL)
		return -1;
	memset((char *)nv + n * size, 0, (c + 1 - n) * size);
	*v = nv;
	*cap = c;
	return 0;
}

static const char *const csv_tier_names[] = {
	"police unit", "school", "department", "class",
};

/*
 * The node id of tier, under parent, named name ("" = the id): found, or
 * added after the nodes there are.  -1 after an error.
 */
static int
csv_node(struct csv_add *a, const char *what, const char *id,
    enum conf_tier tier, const char *parent, const char *name)
{
	struct conf_node	*n;
	char			 q[128];
	size_t			 i, at;

	if (conf_util_nodeid(id) == -1) {
		conf_util_quote(q, sizeof(q), id, strlen(id));
		return csv_error(a->c, "%s: invalid node id %s (want "
		    "[a-z0-9-]{1,64})", what, q);
	}
	if (strlen(name) > CONF_NAME_MAX)
		return csv_error(a->c, "%s %s: name longer than %d bytes",
		    what, id, CONF_NAME_MAX);
	if (utf8_check(name, strlen(name), NULL) == -1 ||
	    conf_util_text(name, strlen(name)) == -1)
		return csv_error(a->c, "%s %s: the name is not UTF-8 text "
		    "without control characters", what, id);
	if ((i = csv_index_find(&a->ix, id, &at)) != CSV_NONE) {
		n = &a->t->nodes[i];
		if (n->tier != tier || strcmp(n->parent, parent) != 0)
			return csv_error(a->c, "%s %s: already a %s%s%s (line "
			    "%d), not a %s under %s", what, id,
			    csv_tier_names[n->tier], n->parent[0] ? " under " :
			    "", n->parent, n->line, csv_tier_names[tier],
			    parent);
		if (name[0] != '\0' && strcmp(n->name, name) != 0 &&
		    strcmp(n->id, n->name) != 0)
			return csv_error(a->c, "%s %s: named \"%s\", but \"%s\" "
			    "at line %d", what, id, name, n->name, n->line);
		if (name[0] != '\0' && strcmp(n->name, name) != 0) {
			/* Named now, where earlier rows left it out. */
			free(n->name);
			if ((n->name = strdup(name)) == NULL)
				return csv_error(a->c, "out of memory");
		}
		return 0;
	}
	if (a->t->nnodes == CONF_NODES_MAX)
		return csv_error(a->c, "more than %d nodes", CONF_NODES_MAX);
	if (csv_grow((void **)&a->t->nodes, a->t->nnodes, &a->capnodes,
	    sizeof(*a->t->nodes)) == -1)
		return csv_error(a->c, "out of memory");
	n = &a->t->nodes[a->t->nnodes];
	memset(n, 0, sizeof(*n));
	memcpy(n->id, id, strlen(id) + 1);
	memcpy(n->parent, parent, strlen(parent) + 1);
	n->tier = tier;
	n->line = a->c->rec_line;
	if ((n->name = strdup(name[0] ? name : id)) == NULL)
		return csv_error(a->c, "out of memory");
	a->ix.slot[at] = a->t->nnodes++;
	return 0;
}

/* For CN arrays, and principals (cn is their first field). */
static int
csv_cmp_cn(const void *x, const void *y)
{
	return strcmp((const char *)x, (const char *)y);
}

static int
csv_cmp_princ(const void *x, const void *y)
{
	return strcmp((*(struct conf_principal *const *)x)->cn,
	    (*(struct conf_principal *const *)y)->cn);
}

/* The advisor of a row, at its class. */
static int
csv_advisor(struct csv_add *a, const char *cn, const char *cls)
{
	struct conf_principal	*p;
	char			 q[128];
	if (conf_util_cn(cn) == -1) {
		conf_util_quote(q, sizeof(q), cn, strlen(cn));
		return csv_error(a->c, "advisor: invalid CN %s (want "
		    "[A-Za-z0-9._-]{1,64})", q);
	}
	if (a->ncns > 0 &&
	    bsearch(cn, a->cns, a->ncns, sizeof(*a->cns), csv_cmp_cn))
		return csv_error(a->c, "advisor %s is a principal of the tree "
		    "file already", cn);
	if (a->t->nprincipals == CONF_PRINCIPALS_MAX)
		return csv_error(a->c, "more than %d principals",
		    CONF_PRINCIPALS_MAX);
	if (csv_grow((void **)&a->t->principals, a->t->nprincipals,
	    &a->capprinc, sizeof(*a->t->principals)) == -1)
		return csv_error(a->c, "out of memory");
	p = &a->t->principals[a->t->nprincipals++];
	memset(p, 0, sizeof(*p));
	memcpy(p->cn, cn, strlen(cn) + 1);
	memcpy(p->node, cls, strlen(cls) + 1);
	p->rights = CONF_R_RECEIVE;
	p->line = a->c->rec_line;
	return 0;
}

/* A CN given twice among the CSV advisors: the later line, or 0. */
static int
csv_dup_advisors(struct csv_add *a, size_t first, int *was)
{
	struct conf_principal	**v;
	size_t			  i, n = a->t->nprincipals - first;
	int			  line = 0;

	if (n < 2)
		return 0;
	if ((v = calloc(n, sizeof(*v))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		v[i] = &a->t->principals[first + i];
	qsort(v, n, sizeof(*v), csv_cmp_princ);
	for (i = 1; i < n; i++)
		if (strcmp(v[i - 1]->cn, v[i]->cn) == 0) {
			int l = v[i]->line > v[i - 1]->line ? v[i]->line :
			    v[i - 1]->line;

			if (line == 0 || l < line) {
				line = l;
				*was = v[i]->line > v[i - 1]->line ?
				    v[i - 1]->line : v[i]->line;
			}
		}
	free(v);
	return line;
}

/* The file, mapped (a province's class lists are large). */
int
conf_tree_add_csv(struct conf_tree *t, const char *path, const char *police,
    char *err, size_t errlen)
{
	void	*map;
	size_t	 len;
	int	 rc;

	if (conf_util_mapfile(path, CONF_TREE_FILE_MAX, &map, &len, err,
	    errlen) == -1)
		return -1;
	rc = conf_tree_add_csv_buf(t, path, map, len, police, err, errlen);
	conf_util_unmap(map, len);
	return rc;
}

int
conf_tree_add_csv_buf(struct conf_tree *t, const char *path, const void *buf,
    size_t len, const char *police, char *err, size_t errlen)
{
	struct csv		*c;
	struct csv_add		 a;
	size_t			 cols[CSV_NCOLS], i, firstp = t->nprincipals;
	size_t			 at;
	const char		*unit, *school, *dept, *cls, *adv;
	int			 rv, rc = -1, dupline, was = 0;

	memset(&a, 0, sizeof(a));
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	c->path = path;
	c->err = err;
	c->errlen = errlen;
	c->line = 1;
	c->p = buf;
	c->end = c->p + len;
	if (len >= 3 && memcmp(c->p, "\xef\xbb\xbf", 3) == 0)
		c->p += 3;
	a.c = c;
	a.t = t;
	a.police = police;
	a.capnodes = t->nnodes;
	a.capprinc = t->nprincipals;
	/* Rows are at least a few bytes each: room for three nodes a row. */
	if (csv_index_init(&a.ix, t, 3 * (len / 8 + 1) > CONF_NODES_MAX ?
	    CONF_NODES_MAX : 3 * (len / 8 + 1)) == -1 ||
	    (a.cns = calloc(t->nprincipals + 1, sizeof(*a.cns))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto done;
	}
	for (i = 0; i < t->nprincipals; i++)
		memcpy(a.cns[i], t->principals[i].cn, sizeof(a.cns[i]));
	a.ncns = t->nprincipals;
	qsort(a.cns, a.ncns, sizeof(*a.cns), csv_cmp_cn);

	while ((rv = csv_record(c)) == 1 && csv_blank(c))
		;
	if (rv == 0) {
		c->rec_line = 1;
		csv_error(c, "empty: the first row must name the columns");
		goto done;
	}
	if (rv == -1 || csv_header(c, cols) == -1)
		goto done;
	if (cols[CSV_POLICE] == CSV_NONE && police == NULL) {
		csv_error(c, "no police column, and no police unit given "
		    "for the schools");
		goto done;
	}
	while ((rv = csv_record(c)) == 1) {
		if (csv_blank(c))
			continue;
		for (i = 0; i < CSV_NCOLS; i++)
			if (cols[i] != CSV_NONE && cols[i] >= c->nfields) {
				csv_error(c, "%zu fields, but the first row "
				    "has more", c->nfields);
				goto done;
			}
		unit = csv_get(c, cols, CSV_POLICE);
		if (unit[0] == '\0' && police != NULL)
			unit = police;
		school = csv_get(c, cols, CSV_SCHOOL);
		dept = csv_get(c, cols, CSV_DEPT);
		cls = csv_get(c, cols, CSV_CLASS);
		if (unit[0] == '\0' || school[0] == '\0' || dept[0] == '\0' ||
		    cls[0] == '\0') {
			csv_error(c, "police unit, school, department and "
			    "class must all be given");
			goto done;
		}
		if ((i = csv_index_find(&a.ix, unit, &at)) == CSV_NONE ||
		    t->nodes[i].tier != CONF_TIER_POLICE) {
			csv_error(c, "%s is not a police unit of the tree",
			    unit);
			goto done;
		}
		if (csv_node(&a, "school", school, CONF_TIER_SCHOOL, unit,
		    csv_get(c, cols, CSV_SCHOOL_NAME)) == -1 ||
		    csv_node(&a, "department", dept, CONF_TIER_DEPARTMENT,
		    school, csv_get(c, cols, CSV_DEPT_NAME)) == -1 ||
		    csv_node(&a, "class", cls, CONF_TIER_CLASS, dept,
		    csv_get(c, cols, CSV_CLASS_NAME)) == -1)
			goto done;
		adv = csv_get(c, cols, CSV_ADVISOR);
		if (adv[0] != '\0' && csv_advisor(&a, adv, cls) == -1)
			goto done;
	}
	if (rv == -1)
		goto done;
	if ((dupline = csv_dup_advisors(&a, firstp, &was)) == -1) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto done;
	}
	if (dupline != 0) {
		c->rec_line = dupline;
		csv_error(c, "advisor CN given twice (first at line %d)", was);
		goto done;
	}
	rc = 0;
 done:
	free(a.ix.slot);
	free(a.cns);
	free(c);
	return rc;
}
