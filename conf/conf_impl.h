/* SPDX-License-Identifier: ISC */
/*
 * conf internals shared by the loaders: the strict YAML document built by
 * yaml.c (a plain tree of scalars, sequences and mappings, each with its
 * line), the schema helpers that walk it and report "file:line: key:
 * reason", and the string checks of util.c.  Not installed, not for other
 * modules: they include conf.h only.
 */
#ifndef WUZHA_CONF_IMPL_H
#define WUZHA_CONF_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "utf8.h"

#define CONF_SCALAR_MAX		(64 * 1024)	/* longest scalar accepted */
#define CONF_NAME_MAX		256	/* display name, bytes */
#define CONF_PATH_MAX		4096	/* file path or hook command, bytes */
#define CONF_HOSTPORT_MAX	300	/* "host:port" or "[v6]:port" */

enum conf_yaml_kind {
	CONF_YAML_SCALAR,
	CONF_YAML_SEQ,
	CONF_YAML_MAP,
};

/*
 * One node of a parsed document.  A mapping holds its keys and values
 * alternately in items (key 0, value 0, key 1, ...), so n is twice the
 * number of pairs.  Keys are always scalars and never repeat.
 */
struct conf_yaml_node {
	struct conf_yaml_node	 *parent;	/* NULL for the root */
	union {
		char			 *str;	/* scalar, NUL-terminated */
		struct conf_yaml_node	**items;/* sequence or mapping */
	};
	uint32_t		  n;		/* scalar length, or item count */
	uint32_t		  pos;		/* index in parent's items */
	int			  line;		/* 1-based */
	uint8_t			  kind;		/* enum conf_yaml_kind */
	uint8_t			  plain;	/* scalar written without quotes */
	uint8_t			  open;		/* still being parsed */
};

struct conf_yaml_doc;

/* A key a mapping may hold; on return *val is its value or NULL. */
struct conf_yaml_key {
	const char			 *name;
	int				  required;
	const struct conf_yaml_node	**val;
};

/*
 * yaml.c, for tests only: when set, libyaml pulls the input through a
 * read handler that hands out at most what this returns (given the bytes
 * still to come) per call, so that parsing can be checked to be the same
 * however the text is split.  NULL (the default): the whole string at once.
 */
extern size_t	(*conf_yaml_read_chunk)(size_t);

/* yaml.c: reading */
struct conf_yaml_doc	*conf_yaml_parse(const char *, const void *, size_t,
			    char *, size_t);
struct conf_yaml_doc	*conf_yaml_load(const char *, char *, size_t);
/*
 * Parse, handing each item of a sequence that is the value of a key of
 * the root mapping to cb (with that key) as soon as it is read, and
 * keeping none of them: those sequences come out empty.  Memory is what
 * one item takes, not the file; cb returns 0, or -1 (with an error made
 * by conf_yaml_error) to stop.  Files of up to max bytes.
 */
typedef int	conf_yaml_item_fn(struct conf_yaml_doc *, const char *key,
		    const struct conf_yaml_node *item, void *arg);
struct conf_yaml_doc	*conf_yaml_stream(const char *, const void *, size_t,
			    size_t max, conf_yaml_item_fn *, void *, char *,
			    size_t);
/* An error at a line, about what path names ("nodes[3].parent"). */
int			 conf_yaml_error_at(struct conf_yaml_doc *, int line,
			    const char *path, const char *fmt, ...)
			    __attribute__((format(printf, 4, 5)));
const struct conf_yaml_node *conf_yaml_root(const struct conf_yaml_doc *);
void			 conf_yaml_free(struct conf_yaml_doc *);

/* yaml.c: errors, always returning -1 */
int	conf_yaml_error(struct conf_yaml_doc *, const struct conf_yaml_node *,
	    const char *, ...) __attribute__((format(printf, 3, 4)));
int	conf_yaml_error_key(struct conf_yaml_doc *,
	    const struct conf_yaml_node *, const char *, const char *, ...)
	    __attribute__((format(printf, 4, 5)));

/* yaml.c: schema */
int	conf_yaml_map(struct conf_yaml_doc *, const struct conf_yaml_node *,
	    const struct conf_yaml_key *, size_t);
int	conf_yaml_seq(struct conf_yaml_doc *, const struct conf_yaml_node *);
const char *conf_yaml_scalar(struct conf_yaml_doc *,
	    const struct conf_yaml_node *);
int	conf_yaml_string(struct conf_yaml_doc *, const struct conf_yaml_node *,
	    size_t, char **);
int	conf_yaml_path(struct conf_yaml_doc *, const struct conf_yaml_node *,
	    const char *, char **);
int	conf_yaml_uint(struct conf_yaml_doc *, const struct conf_yaml_node *,
	    uint64_t, uint64_t, uint64_t *);
int	conf_yaml_duration(struct conf_yaml_doc *,
	    const struct conf_yaml_node *, int64_t, int64_t, uint32_t *);
int	conf_yaml_seconds(struct conf_yaml_doc *,
	    const struct conf_yaml_node *, int64_t, int64_t, uint32_t *);
int	conf_yaml_size(struct conf_yaml_doc *, const struct conf_yaml_node *,
	    int64_t, int64_t, uint64_t *);

/* util.c */
int	 conf_util_readfile(const char *, char **, size_t *, char *, size_t);
/* A regular file of at most max bytes mapped read-only; unmap when done. */
int	 conf_util_mapfile(const char *, size_t max, void **, size_t *,
	    char *, size_t);
void	 conf_util_unmap(void *, size_t);
char	*conf_util_dirname(const char *);
char	*conf_util_resolve(const char *, const char *);
/*
 * A config built from a file (relative paths in it taken from the file's
 * directory) or from memory (path NULL: kept as they are) by build, which
 * returns NULL on any error it put in the document.
 */
typedef void	*conf_build_fn(struct conf_yaml_doc *, const char *dir);
void	*conf_util_load(const char *path, conf_build_fn *, char *, size_t);
void	*conf_util_parse(const char *name, const void *, size_t,
	    conf_build_fn *, char *, size_t);
int	 conf_util_text(const char *, size_t);
int64_t	 conf_util_duration(const char *, const char **);
int64_t	 conf_util_size(const char *, const char **);
int	 conf_util_uint(const char *, uint64_t *);
void	 conf_util_fmt_duration(char *, size_t, int64_t);
void	 conf_util_fmt_size(char *, size_t, int64_t);
void	 conf_util_quote(char *, size_t, const char *, size_t);
int	 conf_util_nodeid(const char *);
int	 conf_util_cn(const char *);
int	 conf_util_hostport(const char *, int, const char **);
int	 conf_util_hostname(const char *);

#endif
