/* SPDX-License-Identifier: ISC */
/*
 * A strict YAML reader over libyaml's event API, and the schema helpers
 * the loaders walk its result with.  Config needs only plain scalars,
 * sequences and mappings, so everything else is refused: anchors,
 * aliases, tags, several documents, duplicate keys, non-scalar keys,
 * deep nesting, huge scalars, NUL characters, bad UTF-8, big files.
 * Nodes and strings live in one arena freed at once.  Errors read
 * "file:line: key: reason", key being the dotted path of the node.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "conf_impl.h"

#define YAML_CHUNK		(64 * 1024)	/* arena block size */
#define YAML_SMALLMAP		16	/* pairs checked pairwise for duplicates */

/* An arena block; big requests get a block of their own. */
struct yaml_chunk {
	struct yaml_chunk	*next;
	size_t			 used;
	size_t			 size;
	max_align_t		 data[];
};

/* A sequence or mapping being read: its children start at stack[base]. */
struct yaml_open {
	struct conf_yaml_node	*node;
	size_t			 base;
	uint32_t		 count;		/* children so far, kept or not */
};

struct conf_yaml_doc {
	const char		 *name;		/* file name in messages */
	char			 *err;
	size_t			  errlen;
	struct conf_yaml_node	 *root;
	struct yaml_chunk	 *chunks;
	int			  ndocs;
	/*
	 * Streaming (conf_yaml_stream): each item of a sequence under a key
	 * of the root mapping is handed to item_cb once read, then dropped;
	 * its nodes live in the item arena, emptied after each one.
	 */
	conf_yaml_item_fn	 *item_cb;
	void			 *item_arg;
	struct yaml_chunk	 *ichunks;
	int			  in_item;
	/* while reading */
	struct conf_yaml_node	**stack;	/* children of open nodes */
	size_t			  nstack;
	size_t			  capstack;
	struct yaml_open	  open[CONF_DEPTH_MAX];
	size_t			  depth;
};

/* Zeroed memory from the arena, aligned for any type; NULL if out of memory. */
static void *
yaml_alloc(struct conf_yaml_doc *doc, size_t len)
{
	struct yaml_chunk	**arena = doc->in_item ? &doc->ichunks :
				    &doc->chunks;
	struct yaml_chunk	*c = *arena;
	size_t			 size;
	void			*p;

	len = (len + _Alignof(max_align_t) - 1) &
	    ~(_Alignof(max_align_t) - 1);
	if (len == 0)
		len = _Alignof(max_align_t);
	if (c == NULL || c->size - c->used < len) {
		size = len > YAML_CHUNK / 4 ? len : YAML_CHUNK;
		if ((c = malloc(sizeof(*c) + size)) == NULL)
			return NULL;
		c->used = 0;
		c->size = size;
		if (*arena != NULL && size != YAML_CHUNK) {
			/* Keep filling the current block after a big one. */
			c->next = (*arena)->next;
			(*arena)->next = c;
		} else {
			c->next = *arena;
			*arena = c;
		}
	}
	p = (char *)c->data + c->used;
	c->used += len;
	memset(p, 0, len);
	return p;
}

/* Item i of a sequence or mapping, finished or still open. */
static const struct conf_yaml_node *
yaml_item(const struct conf_yaml_doc *doc, const struct conf_yaml_node *p,
    size_t i)
{
	size_t	d;

	if (!p->open)
		return p->items[i];
	for (d = 0; d < doc->depth; d++)
		if (doc->open[d].node == p)
			return doc->stack[doc->open[d].base + i];
	return NULL;
}

/* Append a key to a path: as is if simple, quoted otherwise. */
static void
yaml_path_key(char *buf, size_t len, size_t *o, const char *s, size_t slen)
{
	char	q[128];
	size_t	i;
	int	simple = slen > 0 && slen <= 64;

	for (i = 0; i < slen && simple; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			simple = 0;
	if (!simple) {
		conf_util_quote(q, sizeof(q), s, slen);
		s = q;
		slen = strlen(q);
	}
	if (*o < len)
		*o += (size_t)snprintf(buf + *o, len - *o, "%s%.*s",
		    *o ? "." : "", (int)slen, s);
}

/* The dotted path of a node, like "tls.ca" or "nodes[3].parent". */
static void
yaml_path(const struct conf_yaml_doc *doc, const struct conf_yaml_node *node,
    char *buf, size_t len)
{
	const struct conf_yaml_node	*chain[CONF_DEPTH_MAX + 2];
	const struct conf_yaml_node	*x, *key;
	size_t				 n = 0, o = 0;

	for (x = node; x != NULL && x->parent != NULL &&
	    n < sizeof(chain) / sizeof(chain[0]); x = x->parent)
		chain[n++] = x;
	if (n == 0) {
		snprintf(buf, len, "(document)");
		return;
	}
	buf[0] = '\0';
	while (n-- > 0 && o < len) {
		x = chain[n];
		if (x->parent->kind == CONF_YAML_SEQ) {
			o += (size_t)snprintf(buf + o, len - o, "[%u]",
			    (unsigned)x->pos);
			continue;
		}
		key = x->pos % 2 == 0 ? x : yaml_item(doc, x->parent,
		    x->pos - 1);
		if (key != NULL && key->kind == CONF_YAML_SCALAR)
			yaml_path_key(buf, len, &o, key->str, key->n);
		else
			o += (size_t)snprintf(buf + o, len - o, "%s(key)",
			    o ? "." : "");
	}
}

/* Format "file:line: path: reason" into the caller's buffer. */
static int __attribute__((format(printf, 4, 0)))
yaml_verror(struct conf_yaml_doc *doc, int line, const char *path,
    const char *fmt, va_list ap)
{
	char	reason[CONF_ERR_MAX];

	if (doc->err == NULL || doc->errlen == 0)
		return -1;
	vsnprintf(reason, sizeof(reason), fmt, ap);
	snprintf(doc->err, doc->errlen, "%s:%d: %s: %s", doc->name, line, path,
	    reason);
	return -1;
}

/* An error about the file as a whole, at a given line. */
static int __attribute__((format(printf, 3, 4)))
yaml_error_doc(struct conf_yaml_doc *doc, int line, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	yaml_verror(doc, line, "(document)", fmt, ap);
	va_end(ap);
	return -1;
}

int
conf_yaml_error_at(struct conf_yaml_doc *doc, int line, const char *path,
    const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	yaml_verror(doc, line, path, fmt, ap);
	va_end(ap);
	return -1;
}

/* An error about a node: its line, its path, the reason. */
int
conf_yaml_error(struct conf_yaml_doc *doc, const struct conf_yaml_node *node,
    const char *fmt, ...)
{
	char	path[256];
	va_list	ap;

	yaml_path(doc, node, path, sizeof(path));
	va_start(ap, fmt);
	yaml_verror(doc, node != NULL ? node->line : 1, path, fmt, ap);
	va_end(ap);
	return -1;
}

/* An error about a key of a mapping that is not there (or not read). */
int
conf_yaml_error_key(struct conf_yaml_doc *doc,
    const struct conf_yaml_node *map, const char *key, const char *fmt, ...)
{
	char	path[256];
	size_t	o = 0;
	va_list	ap;

	if (map->parent != NULL)
		yaml_path(doc, map, path, sizeof(path));
	else
		path[0] = '\0';
	o = strlen(path);
	yaml_path_key(path, sizeof(path), &o, key, strlen(key));
	va_start(ap, fmt);
	yaml_verror(doc, map->line, path, fmt, ap);
	va_end(ap);
	return -1;
}

/* Free a list of arena blocks. */
static void
yaml_free_chunks(struct yaml_chunk *c)
{
	struct yaml_chunk	*next;

	for (; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
}

/*
 * Is the innermost open collection a sequence whose items are streamed:
 * the value of a key of the root mapping, with a callback set?
 */
static int
yaml_streamed(const struct conf_yaml_doc *doc)
{
	return doc->item_cb != NULL && doc->depth == 2 &&
	    doc->open[0].node->kind == CONF_YAML_MAP &&
	    doc->open[1].node->kind == CONF_YAML_SEQ;
}

/*
 * An item of a streamed sequence is complete: hand it over, then drop
 * it (off the stack, its arena emptied).  The callback's -1 stops all.
 */
static int
yaml_item_done(struct conf_yaml_doc *doc, struct conf_yaml_node *item)
{
	struct conf_yaml_node	*seq = doc->open[1].node;
	const struct conf_yaml_node *key;
	int			 r;

	key = yaml_item(doc, seq->parent, seq->pos - 1);
	r = doc->item_cb(doc, key != NULL && key->kind == CONF_YAML_SCALAR ?
	    key->str : "", item, doc->item_arg);
	doc->nstack--;
	doc->in_item = 0;
	if (doc->ichunks != NULL) {
		/* Keep one block for the next item. */
		yaml_free_chunks(doc->ichunks->next);
		doc->ichunks->next = NULL;
		doc->ichunks->used = 0;
	}
	return r;
}

/* A new node at line, attached to the innermost open collection. */
static struct conf_yaml_node *
yaml_node(struct conf_yaml_doc *doc, enum conf_yaml_kind kind, size_t line)
{
	struct conf_yaml_node	*node, **ns;
	struct yaml_open	*top;
	size_t			 cap;

	if (yaml_streamed(doc))
		doc->in_item = 1;	/* a new item: into the item arena */
	if ((node = yaml_alloc(doc, sizeof(*node))) == NULL)
		return NULL;
	node->kind = kind;
	node->line = line >= (size_t)INT32_MAX ? INT32_MAX : (int)line + 1;
	if (doc->depth == 0) {
		doc->root = node;
		return node;
	}
	top = &doc->open[doc->depth - 1];
	if (doc->nstack == doc->capstack) {
		cap = doc->capstack ? doc->capstack * 2 : 256;
		if ((ns = reallocarray(doc->stack, cap, sizeof(*ns))) == NULL)
			return NULL;
		doc->stack = ns;
		doc->capstack = cap;
	}
	node->parent = top->node;
	node->pos = top->count++;
	doc->stack[doc->nstack++] = node;
	return node;
}

/* Refuse anchors and tags on any node. */
static int
yaml_plain_node(struct conf_yaml_doc *doc, const struct conf_yaml_node *node,
    const yaml_char_t *anchor, const yaml_char_t *tag)
{
	if (anchor != NULL)
		return conf_yaml_error(doc, node, "anchors are not allowed");
	if (tag != NULL)
		return conf_yaml_error(doc, node, "tags are not allowed");
	return 0;
}

/* A scalar event: checked, copied to the arena, attached. */
static int
yaml_scalar(struct conf_yaml_doc *doc, const yaml_event_t *ev)
{
	struct conf_yaml_node	*node;
	size_t			 len = ev->data.scalar.length;

	if ((node = yaml_node(doc, CONF_YAML_SCALAR,
	    ev->start_mark.line)) == NULL)
		return yaml_error_doc(doc, 1, "out of memory");
	if (len > CONF_SCALAR_MAX)
		return conf_yaml_error(doc, node, "scalar longer than %d bytes",
		    CONF_SCALAR_MAX);
	if ((node->str = yaml_alloc(doc, len + 1)) == NULL)
		return yaml_error_doc(doc, node->line, "out of memory");
	memcpy(node->str, ev->data.scalar.value, len);
	node->n = (uint32_t)len;
	node->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	if (yaml_plain_node(doc, node, ev->data.scalar.anchor,
	    ev->data.scalar.tag) == -1)
		return -1;
	if (memchr(node->str, '\0', len) != NULL)
		return conf_yaml_error(doc, node, "contains a NUL character");
	if (node->parent != NULL && node->parent->kind == CONF_YAML_MAP &&
	    node->pos % 2 == 0 && node->plain && node->n == 0)
		return conf_yaml_error(doc, node, "empty key");
	if (doc->in_item && doc->depth == 2)
		return yaml_item_done(doc, node);
	return 0;
}

/* The start of a sequence or mapping: checked, attached, opened. */
static int
yaml_start(struct conf_yaml_doc *doc, const yaml_event_t *ev,
    enum conf_yaml_kind kind)
{
	struct conf_yaml_node	*node;
	const yaml_char_t	*anchor, *tag;

	if ((node = yaml_node(doc, kind, ev->start_mark.line)) == NULL)
		return yaml_error_doc(doc, 1, "out of memory");
	if (kind == CONF_YAML_SEQ) {
		anchor = ev->data.sequence_start.anchor;
		tag = ev->data.sequence_start.tag;
	} else {
		anchor = ev->data.mapping_start.anchor;
		tag = ev->data.mapping_start.tag;
	}
	if (yaml_plain_node(doc, node, anchor, tag) == -1)
		return -1;
	if (node->parent != NULL && node->parent->kind == CONF_YAML_MAP &&
	    node->pos % 2 == 0)
		return conf_yaml_error(doc, node, "keys must be scalars");
	if (doc->depth == CONF_DEPTH_MAX)
		return conf_yaml_error(doc, node, "nested deeper than %d levels",
		    CONF_DEPTH_MAX);
	node->open = 1;
	doc->open[doc->depth].node = node;
	doc->open[doc->depth].base = doc->nstack;
	doc->open[doc->depth].count = 0;
	doc->depth++;
	return 0;
}

/* Order mapping keys by text, then by position. */
static int
yaml_keycmp(const void *a, const void *b)
{
	const struct conf_yaml_node	*x =
	    *(const struct conf_yaml_node *const *)a;
	const struct conf_yaml_node	*y =
	    *(const struct conf_yaml_node *const *)b;
	int				 c;

	if ((c = strcmp(x->str, y->str)) != 0)
		return c;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Refuse a key that a mapping holds twice; the later one is reported. */
static int
yaml_dupkeys(struct conf_yaml_doc *doc, const struct conf_yaml_node *map)
{
	const struct conf_yaml_node	**keys, *dup = NULL, *first = NULL;
	size_t				  np = map->n / 2, i, j;

	if (np <= YAML_SMALLMAP) {
		for (j = 1; j < np && dup == NULL; j++)
			for (i = 0; i < j; i++)
				if (strcmp(map->items[2 * i]->str,
				    map->items[2 * j]->str) == 0) {
					first = map->items[2 * i];
					dup = map->items[2 * j];
					break;
				}
	} else {
		if ((keys = calloc(np, sizeof(*keys))) == NULL)
			return yaml_error_doc(doc, map->line, "out of memory");
		for (i = 0; i < np; i++)
			keys[i] = map->items[2 * i];
		qsort(keys, np, sizeof(*keys), yaml_keycmp);
		for (i = 1; i < np; i++) {
			if (strcmp(keys[i - 1]->str, keys[i]->str) != 0)
				continue;
			/* keys[i - 1] starts a run, keys[i] repeats it first. */
			if (dup == NULL || keys[i]->pos < dup->pos) {
				dup = keys[i];
				first = keys[i - 1];
			}
			while (i + 1 < np &&
			    strcmp(keys[i]->str, keys[i + 1]->str) == 0)
				i++;
		}
		free(keys);
	}
	if (dup != NULL)
		return conf_yaml_error(doc, dup,
		    "duplicate key (first at line %d)", first->line);
	return 0;
}

/* The end of a sequence or mapping: its children move to the arena. */
static int
yaml_end(struct conf_yaml_doc *doc)
{
	struct yaml_open	*top = &doc->open[doc->depth - 1];
	struct conf_yaml_node	*node = top->node;
	size_t			 n = doc->nstack - top->base;

	if (n > 0) {
		if ((node->items = yaml_alloc(doc, n * sizeof(*node->items)))
		    == NULL)
			return yaml_error_doc(doc, node->line, "out of memory");
		memcpy(node->items, doc->stack + top->base,
		    n * sizeof(*node->items));
	}
	node->n = (uint32_t)n;
	node->open = 0;
	doc->nstack = top->base;
	doc->depth--;
	if (node->kind == CONF_YAML_MAP && yaml_dupkeys(doc, node) == -1)
		return -1;
	if (doc->in_item && doc->depth == 2)
		return yaml_item_done(doc, node);
	return 0;
}

/* Line of a byte offset, counting newlines before it. */
static int
yaml_offset_line(const char *buf, size_t len, size_t off)
{
	size_t	i;
	int	line = 1;

	for (i = 0; i < off && i < len; i++)
		if (buf[i] == '\n' && line < INT32_MAX)
			line++;
	return line;
}

/* Report why libyaml stopped. */
static int
yaml_parser_error(struct conf_yaml_doc *doc, const yaml_parser_t *p,
    const char *buf, size_t len)
{
	int	line;

	if (p->error == YAML_MEMORY_ERROR)
		return yaml_error_doc(doc, 1, "out of memory");
	if (p->error == YAML_READER_ERROR)
		line = yaml_offset_line(buf, len, p->problem_offset);
	else
		line = p->problem_mark.line >= (size_t)INT32_MAX ? INT32_MAX :
		    (int)p->problem_mark.line + 1;
	return yaml_error_doc(doc, line, "%s",
	    p->problem != NULL ? p->problem : "cannot parse");
}

/* One event of the stream; 1 at its end, 0 to go on, -1 on error. */
static int
yaml_event(struct conf_yaml_doc *doc, const yaml_event_t *ev)
{
	struct conf_yaml_node	*node;
	int			 line = (int)ev->start_mark.line + 1;

	switch (ev->type) {
	case YAML_NO_EVENT:
	case YAML_STREAM_START_EVENT:
	case YAML_DOCUMENT_END_EVENT:
		return 0;
	case YAML_STREAM_END_EVENT:
		if (doc->root == NULL)
			return yaml_error_doc(doc, line, "empty document");
		return 1;
	case YAML_DOCUMENT_START_EVENT:
		if (doc->ndocs++ > 0)
			return yaml_error_doc(doc, line,
			    "more than one document");
		return 0;
	case YAML_ALIAS_EVENT:
		if ((node = yaml_node(doc, CONF_YAML_SCALAR,
		    ev->start_mark.line)) == NULL)
			return yaml_error_doc(doc, line, "out of memory");
		node->str = (char *)"*";
		node->n = 1;
		return conf_yaml_error(doc, node, "aliases are not allowed");
	case YAML_SCALAR_EVENT:
		return yaml_scalar(doc, ev);
	case YAML_SEQUENCE_START_EVENT:
		return yaml_start(doc, ev, CONF_YAML_SEQ);
	case YAML_MAPPING_START_EVENT:
		return yaml_start(doc, ev, CONF_YAML_MAP);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return yaml_end(doc);
	}
	return 0;
}

/* A null scalar: empty and unquoted, or "~" / "null". */
static int
yaml_isnull(const struct conf_yaml_node *node)
{
	if (node->kind != CONF_YAML_SCALAR || !node->plain)
		return 0;
	return node->n == 0 || strcmp(node->str, "~") == 0 ||
	    strcmp(node->str, "null") == 0 || strcmp(node->str, "Null") == 0 ||
	    strcmp(node->str, "NULL") == 0;
}

size_t	(*conf_yaml_read_chunk)(size_t);

/*
 * Offset of the first character YAML does not allow in a stream (C0
 * controls but tab, LF and CR; DEL; C1 controls but NEL; U+FFFE and
 * U+FFFF), or len if none.  The text is valid UTF-8.  libyaml refuses
 * the same characters, but only when its reader reaches them, which
 * depends on how the input is buffered; checking the whole text first
 * makes the message the same however it is read.
 */
static size_t
yaml_forbidden(const char *buf, size_t len)
{
	const unsigned char	*p = (const unsigned char *)buf;
	size_t			 i, n;
	uint32_t		 c;

	for (i = 0; i < len; i += n) {
		if ((n = utf8_decode(p + i, len - i, &c)) == 0)
			return i;	/* not UTF-8: checked before */
		if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') ||
		    c == 0x7f || (c >= 0x80 && c < 0xa0 && c != 0x85) ||
		    c == 0xfffe || c == 0xffff)
			return i;
	}
	return len;
}

/* What the split read handler has still to hand out. */
struct yaml_input {
	const unsigned char	*p;
	size_t			 left;
};

/* libyaml read handler: at most what conf_yaml_read_chunk allows. */
static int
yaml_read_split(void *arg, unsigned char *buf, size_t size, size_t *got)
{
	struct yaml_input	*in = arg;
	size_t			 n = in->left;

	if (n > size)
		n = size;
	if (n > 0 && conf_yaml_read_chunk != NULL) {
		size_t	 max = conf_yaml_read_chunk(in->left);

		if (max == 0)
			max = 1;
		if (n > max)
			n = max;
	}
	if (n > 0)
		memcpy(buf, in->p, n);
	in->p += n;
	in->left -= n;
	*got = n;
	return 1;
}

/*
 * Parse a buffer of at most max bytes; name is used in messages.  With
 * item_cb, items of the sequences under the root mapping's keys go to it
 * one by one and are not kept (see conf_yaml_stream).
 */
static struct conf_yaml_doc *
yaml_parse(const char *name, const void *buf, size_t len, size_t max,
    conf_yaml_item_fn *item_cb, void *item_arg, char *err, size_t errlen)
{
	struct conf_yaml_doc	*doc;
	yaml_parser_t		 parser;
	yaml_event_t		 ev;
	struct yaml_input	 in;
	size_t			 bad;
	int			 r = 0, pinit = 0;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((doc = calloc(1, sizeof(*doc))) == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s:1: (document): out of memory",
			    name);
		return NULL;
	}
	doc->name = name;
	doc->err = err;
	doc->errlen = errlen;
	doc->item_cb = item_cb;
	doc->item_arg = item_arg;
	if (len > max) {
		yaml_error_doc(doc, 1, "file is larger than %zuMiB",
		    max / (1024 * 1024));
		goto fail;
	}
	if (utf8_check(buf, len, &bad) == -1) {
		yaml_error_doc(doc, yaml_offset_line(buf, len, bad),
		    "invalid UTF-8");
		goto fail;
	}
	if ((bad = yaml_forbidden(buf, len)) < len) {
		yaml_error_doc(doc, yaml_offset_line(buf, len, bad),
		    "control characters are not allowed");
		goto fail;
	}
	if (!yaml_parser_initialize(&parser)) {
		yaml_error_doc(doc, 1, "out of memory");
		goto fail;
	}
	pinit = 1;
	/* Valid UTF-8 with nothing YAML forbids: libyaml skips a BOM. */
	if (conf_yaml_read_chunk == NULL)
		yaml_parser_set_input_string(&parser, buf, len);
	else {
		in.p = buf;
		in.left = len;
		yaml_parser_set_input(&parser, yaml_read_split, &in);
	}
	while (r == 0) {
		if (!yaml_parser_parse(&parser, &ev)) {
			yaml_parser_error(doc, &parser, buf, len);
			goto fail;
		}
		r = yaml_event(doc, &ev);
		yaml_event_delete(&ev);
	}
	if (r == -1)
		goto fail;
	if (yaml_isnull(doc->root)) {
		yaml_error_doc(doc, doc->root->line, "empty document");
		goto fail;
	}
	yaml_parser_delete(&parser);
	free(doc->stack);
	doc->stack = NULL;
	doc->nstack = doc->capstack = 0;
	return doc;
fail:
	if (pinit)
		yaml_parser_delete(&parser);
	conf_yaml_free(doc);
	return NULL;
}

struct conf_yaml_doc *
conf_yaml_parse(const char *name, const void *buf, size_t len, char *err,
    size_t errlen)
{
	return yaml_parse(name, buf, len, CONF_FILE_MAX, NULL, NULL, err,
	    errlen);
}

struct conf_yaml_doc *
conf_yaml_stream(const char *name, const void *buf, size_t len, size_t max,
    conf_yaml_item_fn *cb, void *arg, char *err, size_t errlen)
{
	return yaml_parse(name, buf, len, max, cb, arg, err, errlen);
}

/* Read and parse a file. */
struct conf_yaml_doc *
conf_yaml_load(const char *path, char *err, size_t errlen)
{
	struct conf_yaml_doc	*doc;
	char			*buf;
	size_t			 len;

	if (conf_util_readfile(path, &buf, &len, err, errlen) == -1)
		return NULL;
	doc = conf_yaml_parse(path, buf, len, err, errlen);
	free(buf);
	return doc;
}

const struct conf_yaml_node *
conf_yaml_root(const struct conf_yaml_doc *doc)
{
	return doc->root;
}

void
conf_yaml_free(struct conf_yaml_doc *doc)
{
	if (doc == NULL)
		return;
	yaml_free_chunks(doc->chunks);
	yaml_free_chunks(doc->ichunks);
	free(doc->stack);
	free(doc);
}

static const char *
yaml_kindname(const struct conf_yaml_node *node)
{
	switch ((enum conf_yaml_kind)node->kind) {
	case CONF_YAML_SCALAR:
		return "a scalar";
	case CONF_YAML_SEQ:
		return "a sequence";
	case CONF_YAML_MAP:
		return "a mapping";
	}
	return "?";
}

/* Check a node is of the kind wanted, saying what it is if not. */
static int
yaml_want(struct conf_yaml_doc *doc, const struct conf_yaml_node *node,
    enum conf_yaml_kind kind)
{
	if (node->kind == kind && !yaml_isnull(node))
		return 0;
	if (yaml_isnull(node))
		return conf_yaml_error(doc, node, "has no value");
	switch (kind) {
	case CONF_YAML_SCALAR:
		return conf_yaml_error(doc, node, "expected a scalar, not %s",
		    yaml_kindname(node));
	case CONF_YAML_SEQ:
		return conf_yaml_error(doc, node,
		    "expected a sequence, not %s", yaml_kindname(node));
	case CONF_YAML_MAP:
		return conf_yaml_error(doc, node, "expected a mapping, not %s",
		    yaml_kindname(node));
	}
	return -1;
}

/*
 * Match a mapping against the keys it may hold: an unknown key or a
 * missing required one is an error.  Values are left for the caller.
 */
int
conf_yaml_map(struct conf_yaml_doc *doc, const struct conf_yaml_node *node,
    const struct conf_yaml_key *keys, size_t nkeys)
{
	const struct conf_yaml_node	*k;
	size_t				 i, j;

	for (j = 0; j < nkeys; j++)
		*keys[j].val = NULL;
	if (yaml_want(doc, node, CONF_YAML_MAP) == -1)
		return -1;
	for (i = 0; i < node->n; i += 2) {
		k = node->items[i];
		for (j = 0; j < nkeys; j++)
			if (strcmp(k->str, keys[j].name) == 0)
				break;
		if (j == nkeys)
			return conf_yaml_error(doc, k, "unknown key");
		*keys[j].val = node->items[i + 1];
	}
	for (j = 0; j < nkeys; j++)
		if (keys[j].required && *keys[j].val == NULL)
			return conf_yaml_error_key(doc, node, keys[j].name,
			    "missing required key");
	return 0;
}

/* Check a node is a sequence with a value. */
int
conf_yaml_seq(struct conf_yaml_doc *doc, const struct conf_yaml_node *node)
{
	return yaml_want(doc, node, CONF_YAML_SEQ);
}

/* The text of a scalar that has a value; NULL (and an error) if not. */
const char *
conf_yaml_scalar(struct conf_yaml_doc *doc, const struct conf_yaml_node *node)
{
	if (yaml_want(doc, node, CONF_YAML_SCALAR) == -1)
		return NULL;
	return node->str;
}

/* A copy of a non-empty string of at most max bytes without control chars. */
int
conf_yaml_string(struct conf_yaml_doc *doc, const struct conf_yaml_node *node,
    size_t max, char **out)
{
	const char	*s;

	if ((s = conf_yaml_scalar(doc, node)) == NULL)
		return -1;
	if (node->n == 0)
		return conf_yaml_error(doc, node, "must not be empty");
	if (node->n > max)
		return conf_yaml_error(doc, node, "longer than %zu bytes", max);
	if (conf_util_text(s, node->n) == -1)
		return conf_yaml_error(doc, node,
		    "must not contain control characters");
	if ((*out = strdup(s)) == NULL)
		return conf_yaml_error(doc, node, "out of memory");
	return 0;
}

/* A file path, taken relative to dir unless absolute. */
int
conf_yaml_path(struct conf_yaml_doc *doc, const struct conf_yaml_node *node,
    const char *dir, char **out)
{
	char	*s;

	if (conf_yaml_string(doc, node, CONF_PATH_MAX, &s) == -1)
		return -1;
	*out = conf_util_resolve(dir, s);
	free(s);
	if (*out == NULL)
		return conf_yaml_error(doc, node, "out of memory");
	return 0;
}

/* The scalar quoted for a message. */
static const char *
yaml_quoted(const struct conf_yaml_node *node, char *buf, size_t len)
{
	conf_util_quote(buf, len, node->str, node->n);
	return buf;
}

/* A decimal integer in [min, max]. */
int
conf_yaml_uint(struct conf_yaml_doc *doc, const struct conf_yaml_node *node,
    uint64_t min, uint64_t max, uint64_t *out)
{
	const char	*s;
	char		 q[128];
	uint64_t	 v;

	if ((s = conf_yaml_scalar(doc, node)) == NULL)
		return -1;
	if (conf_util_uint(s, &v) == -1)
		return conf_yaml_error(doc, node, "%s is not an integer",
		    yaml_quoted(node, q, sizeof(q)));
	if (v < min || v > max)
		return conf_yaml_error(doc, node,
		    "must be between %llu and %llu", (unsigned long long)min,
		    (unsigned long long)max);
	*out = v;
	return 0;
}

/* A duration in [min_ms, max_ms], in milliseconds. */
int
conf_yaml_duration(struct conf_yaml_doc *doc,
    const struct conf_yaml_node *node, int64_t min, int64_t max, uint32_t *ms)
{
	const char	*s, *why;
	char		 q[128], lo[32], hi[32];
	int64_t		 v;

	if ((s = conf_yaml_scalar(doc, node)) == NULL)
		return -1;
	if ((v = conf_util_duration(s, &why)) == -1)
		return conf_yaml_error(doc, node, "%s %s",
		    yaml_quoted(node, q, sizeof(q)), why);
	if (v < min || v > max) {
		conf_util_fmt_duration(lo, sizeof(lo), min);
		conf_util_fmt_duration(hi, sizeof(hi), max);
		return conf_yaml_error(doc, node, "must be between %s and %s",
		    lo, hi);
	}
	*ms = (uint32_t)v;
	return 0;
}

/* A duration in whole seconds; bounds in milliseconds. */
int
conf_yaml_seconds(struct conf_yaml_doc *doc,
    const struct conf_yaml_node *node, int64_t min, int64_t max, uint32_t *s)
{
	uint32_t	ms;

	if (conf_yaml_duration(doc, node, min, max, &ms) == -1)
		return -1;
	if (ms % 1000 != 0)
		return conf_yaml_error(doc, node,
		    "must be a whole number of seconds");
	*s = ms / 1000;
	return 0;
}

/* A size in bytes in [min, max]. */
int
conf_yaml_size(struct conf_yaml_doc *doc, const struct conf_yaml_node *node,
    int64_t min, int64_t max, uint64_t *out)
{
	const char	*s, *why;
	char		 q[128], lo[32], hi[32];
	int64_t		 v;

	if ((s = conf_yaml_scalar(doc, node)) == NULL)
		return -1;
	if ((v = conf_util_size(s, &why)) == -1)
		return conf_yaml_error(doc, node, "%s %s",
		    yaml_quoted(node, q, sizeof(q)), why);
	if (v < min || v > max) {
		conf_util_fmt_size(lo, sizeof(lo), min);
		conf_util_fmt_size(hi, sizeof(hi), max);
		return conf_yaml_error(doc, node, "must be between %s and %s",
		    lo, hi);
	}
	*out = (uint64_t)v;
	return 0;
}
