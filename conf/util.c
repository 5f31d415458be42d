/* SPDX-License-Identifier: ISC */
/*
 * conf utilities that know nothing of YAML: reading a file whole, finding
 * paths relative to it, and the syntax of the values configs hold
 * (durations, sizes, integers, node ids, CNs, host:port, UTF-8 text).
 * Each check says why it failed in words fit for an error message.
 */

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf_impl.h"

/* Open path to read; -1 with the reason in err. */
static int
util_open(const char *path, char *err, size_t errlen)
{
	int	fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		saved = errno;
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s:1: (document): cannot open: %s",
			    path, strerror(saved));
	}
	return fd;
}

/* Read a whole regular file of at most CONF_FILE_MAX bytes, NUL-terminated. */
int
conf_util_readfile(const char *path, char **bufp, size_t *lenp, char *err,
    size_t errlen)
{
	struct stat	 st;
	char		*buf = NULL, *nbuf;
	size_t		 len = 0, cap, alloc = 0;
	ssize_t		 r;
	int		 fd, saved;

	*bufp = NULL;
	*lenp = 0;
	if ((fd = util_open(path, err, errlen)) == -1)
		return -1;
	if (fstat(fd, &st) == -1) {
		saved = errno;
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s:1: (document): cannot stat: %s",
			    path, strerror(saved));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen,
			    "%s:1: (document): not a regular file", path);
		goto fail;
	}
	/*
	 * Sized from fstat but grown as needed, up to one byte more than
	 * allowed so that a file past the limit is seen (the parser says so).
	 */
	cap = st.st_size > CONF_FILE_MAX ? CONF_FILE_MAX + 1 :
	    (size_t)st.st_size + 1;
	for (;;) {
		if (len == cap) {
			if (cap == CONF_FILE_MAX + 1)
				break;
			cap = cap > (CONF_FILE_MAX + 1) / 2 ? CONF_FILE_MAX + 1 :
			    cap * 2;
		}
		if (cap != alloc) {
			if ((nbuf = realloc(buf, cap + 1)) == NULL) {
				if (err != NULL && errlen > 0)
					snprintf(err, errlen,
					    "%s:1: (document): out of memory",
					    path);
				goto fail;
			}
			buf = nbuf;
			alloc = cap;
		}
		r = read(fd, buf + len, cap - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			saved = errno;
			if (err != NULL && errlen > 0)
				snprintf(err, errlen,
				    "%s:1: (document): cannot read: %s", path,
				    strerror(saved));
			goto fail;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	close(fd);
	*bufp = buf;
	*lenp = len;
	return 0;
fail:
	free(buf);
	close(fd);
	return -1;
}

int
conf_util_mapfile(const char *path, size_t max, void **bufp, size_t *lenp,
    char *err, size_t errlen)
{
	struct stat	 st;
	void		*p;
	int		 fd, saved;

	*bufp = NULL;
	*lenp = 0;
	if ((fd = util_open(path, err, errlen)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		saved = errno;
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s:1: (document): %s", path,
			    S_ISREG(st.st_mode) ? strerror(saved) :
			    "not a regular file");
		close(fd);
		return -1;
	}
	if ((uint64_t)st.st_size > max) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s:1: (document): file is "
			    "larger than %zuMiB", path, max / (1024 * 1024));
		close(fd);
		return -1;
	}
	if (st.st_size == 0) {
		close(fd);
		*bufp = (void *)"";
		return 0;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	saved = errno;
	close(fd);
	if (p == MAP_FAILED) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s:1: (document): cannot map: %s",
			    path, strerror(saved));
		return -1;
	}
	/* Read once, front to back. */
	(void)madvise(p, (size_t)st.st_size, MADV_SEQUENTIAL);
	*bufp = p;
	*lenp = (size_t)st.st_size;
	return 0;
}

void
conf_util_unmap(void *p, size_t len)
{
	if (len > 0)
		munmap(p, len);
}

/* The directory part of path, "" when it has none; NULL if out of memory. */
char *
conf_util_dirname(const char *path)
{
	const char	*slash;

	if ((slash = strrchr(path, '/')) == NULL)
		return strdup("");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

void *
conf_util_load(const char *path, conf_build_fn *build, char *err,
    size_t errlen)
{
	struct conf_yaml_doc	*doc;
	void			*c = NULL;
	char			*dir;

	if ((doc = conf_yaml_load(path, err, errlen)) == NULL)
		return NULL;
	if ((dir = conf_util_dirname(path)) == NULL)
		conf_yaml_error(doc, conf_yaml_root(doc), "out of memory");
	else
		c = build(doc, dir);
	free(dir);
	conf_yaml_free(doc);
	return c;
}

void *
conf_util_parse(const char *name, const void *buf, size_t len,
    conf_build_fn *build, char *err, size_t errlen)
{
	struct conf_yaml_doc	*doc;
	void			*c;

	if ((doc = conf_yaml_parse(name, buf, len, err, errlen)) == NULL)
		return NULL;
	c = build(doc, NULL);
	conf_yaml_free(doc);
	return c;
}

/* Path p taken relative to dir (NULL or "" for as is); NULL if out of memory. */
char *
conf_util_resolve(const char *dir, const char *p)
{
	char	*out;
	size_t	 dl;

	if (p[0] == '/' || dir == NULL || dir[0] == '\0')
		return strdup(p);
	dl = strlen(dir);
	if (dir[dl - 1] == '/')
		dl--;
	if (asprintf(&out, "%.*s/%s", (int)dl, dir, p) == -1)
		return NULL;
	return out;
}

/* Refuse control characters (C0, DEL, C1) in valid UTF-8 text. */
int
conf_util_text(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i;

	for (i = 0; i < len; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return -1;
		if (p[i] == 0xc2 && i + 1 < len && p[i + 1] >= 0x80 &&
		    p[i + 1] <= 0x9f)
			return -1;
	}
	return 0;
}

/* Leading decimal digits of s as a number; NULL end if none or overflow. */
static const char *
util_digits(const char *s, uint64_t *out)
{
	uint64_t	v = 0;

	if (*s < '0' || *s > '9')
		return NULL;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return NULL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return s;
}

/* A plain non-negative decimal integer, nothing around it. */
int
conf_util_uint(const char *s, uint64_t *out)
{
	const char	*end;

	if ((end = util_digits(s, out)) == NULL || *end != '\0')
		return -1;
	return 0;
}

/* "250ms", "30s", "5m", "2h" in milliseconds; -1 and *why on error. */
int64_t
conf_util_duration(const char *s, const char **why)
{
	static const struct {
		const char	*unit;
		uint64_t	 ms;
	} units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
		{ "d", 86400000 },
	};
	const char	*end;
	uint64_t	 v;
	size_t		 i;

	*why = "is not a duration (like 250ms, 30s, 5m, 2h or 7d)";
	if ((end = util_digits(s, &v)) == NULL) {
		if (*s >= '0' && *s <= '9')
			*why = "is too large";
		return -1;
	}
	if (*end == '\0') {
		*why = "needs a unit (ms, s, m, h or d)";
		return -1;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) != 0)
			continue;
		if (v > (uint64_t)INT64_MAX / units[i].ms) {
			*why = "is too large";
			return -1;
		}
		return (int64_t)(v * units[i].ms);
	}
	return -1;
}

/* "65536", "64KiB", "4MiB", "1GiB" in bytes; -1 and *why on error. */
int64_t
conf_util_size(const char *s, const char **why)
{
	static const struct {
		const char	*unit;
		uint64_t	 mult;
	} units[] = {
		{ "", 1 }, { "KiB", 1024 }, { "MiB", 1024 * 1024 },
		{ "GiB", 1024 * 1024 * 1024 },
	};
	const char	*end;
	uint64_t	 v;
	size_t		 i;

	*why = "is not a size (like 65536, 64KiB or 4MiB)";
	if ((end = util_digits(s, &v)) == NULL) {
		if (*s >= '0' && *s <= '9')
			*why = "is too large";
		return -1;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) != 0)
			continue;
		if (v > (uint64_t)INT64_MAX / units[i].mult) {
			*why = "is too large";
			return -1;
		}
		return (int64_t)(v * units[i].mult);
	}
	return -1;
}

int64_t
conf_parse_duration_ms(const char *s)
{
	const char	*why;

	return conf_util_duration(s, &why);
}

int64_t
conf_parse_size(const char *s)
{
	const char	*why;

	return conf_util_size(s, &why);
}

const char *
conf_tier_name(enum conf_tier t)
{
	switch (t) {
	case CONF_TIER_POLICE:
		return "police";
	case CONF_TIER_SCHOOL:
		return "school";
	case CONF_TIER_DEPARTMENT:
		return "department";
	case CONF_TIER_CLASS:
		return "class";
	}
	return "unknown";
}

/* A duration in its largest exact unit, for messages: 90000 -> "90s". */
void
conf_util_fmt_duration(char *buf, size_t len, int64_t ms)
{
	if (ms != 0 && ms % 3600000 == 0)
		snprintf(buf, len, "%" PRId64 "h", ms / 3600000);
	else if (ms != 0 && ms % 60000 == 0)
		snprintf(buf, len, "%" PRId64 "m", ms / 60000);
	else if (ms % 1000 == 0)
		snprintf(buf, len, "%" PRId64 "s", ms / 1000);
	else
		snprintf(buf, len, "%" PRId64 "ms", ms);
}

/* A size in its largest exact binary unit, for messages. */
void
conf_util_fmt_size(char *buf, size_t len, int64_t n)
{
	if (n != 0 && n % (1024 * 1024 * 1024) == 0)
		snprintf(buf, len, "%" PRId64 "GiB", n / (1024 * 1024 * 1024));
	else if (n != 0 && n % (1024 * 1024) == 0)
		snprintf(buf, len, "%" PRId64 "MiB", n / (1024 * 1024));
	else if (n != 0 && n % 1024 == 0)
		snprintf(buf, len, "%" PRId64 "KiB", n / 1024);
	else
		snprintf(buf, len, "%" PRId64, n);
}

/*
 * Quote a value for a message: at most 64 bytes of it, control bytes
 * escaped, cut only at a character boundary.  Input is valid UTF-8.
 */
void
conf_util_quote(char *out, size_t outlen, const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i, n, need, o = 0, keep;

	if (outlen < 8) {
		if (outlen > 0)
			out[0] = '\0';
		return;
	}
	keep = utf8_cut(p, len, 64);
	out[o++] = '"';
	for (i = 0; i < keep; i += n) {
		n = need = 1;
		if (p[i] == '"' || p[i] == '\\')
			need = 2;
		else if (p[i] < 0x20 || p[i] == 0x7f)
			need = 4;
		else if (p[i] >= 0xf0)
			n = need = 4;
		else if (p[i] >= 0xe0)
			n = need = 3;
		else if (p[i] >= 0xc0)
			n = need = 2;
		/* Leave room for "...", the closing quote and the NUL. */
		if (o + need + 5 > outlen || i + n > keep)
			break;
		if (need == 4 && n == 1)
			snprintf(out + o, outlen - o, "\\x%02x", p[i]);
		else if (need == 2 && n == 1) {
			out[o] = '\\';
			out[o + 1] = (char)p[i];
		} else
			memcpy(out + o, p + i, n);
		o += need;
	}
	if (i < len) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o++] = '"';
	out[o] = '\0';
}

/* Node id: [a-z0-9-]{1,64}. */
int
conf_util_nodeid(const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= CONF_ID_MAX)
			return -1;
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return -1;
	}
	return i == 0 ? -1 : 0;
}

/* Certificate CN: [A-Za-z0-9._-]{1,64}, not starting with '.' or '-'. */
int
conf_util_cn(const char *s)
{
	size_t	i;

	if (s[0] == '.' || s[0] == '-')
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= CONF_ID_MAX)
			return -1;
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return -1;
	}
	return i == 0 ? -1 : 0;
}

/* Characters of a host name or IPv4 address. */
static int
util_hostchars(const char *s, size_t len)
{
	size_t	i;

	if (len == 0 || len > 253)
		return -1;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
		    s[i] == '-'))
			return -1;
	return 0;
}

/* Characters of an IPv6 address (with an optional %zone). */
static int
util_v6chars(const char *s, size_t len)
{
	size_t	i;
	int	colon = 0, zone = 0;

	if (len < 2 || len > 64)
		return -1;
	for (i = 0; i < len; i++) {
		if (zone) {
			if (!((s[i] >= 'a' && s[i] <= 'z') ||
			    (s[i] >= 'A' && s[i] <= 'Z') ||
			    (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
			    s[i] == '.' || s[i] == '-'))
				return -1;
		} else if (s[i] == '%' && i + 1 < len)
			zone = 1;
		else if (s[i] == ':')
			colon = 1;
		else if (!((s[i] >= 'a' && s[i] <= 'f') ||
		    (s[i] >= 'A' && s[i] <= 'F') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
			return -1;
	}
	return colon ? 0 : -1;
}

/* A name a certificate may carry: host name, IPv4 or IPv6 address. */
int
conf_util_hostname(const char *s)
{
	size_t	len = strlen(s);

	if (util_hostchars(s, len) == 0 || util_v6chars(s, len) == 0)
		return 0;
	return -1;
}

/*
 * "host:port" or "[v6]:port".  Port 0 only when port0 is set (a daemon
 * then picks one).  On failure *why says what is wrong.
 */
int
conf_util_hostport(const char *s, int port0, const char **why)
{
	const char	*host, *colon, *end;
	size_t		 hlen;
	uint64_t	 port;

	*why = "must be host:port or [v6]:port";
	if (strlen(s) > CONF_HOSTPORT_MAX)
		return -1;
	if (s[0] == '[') {
		host = s + 1;
		if ((end = strchr(host, ']')) == NULL || end[1] != ':')
			return -1;
		hlen = (size_t)(end - host);
		colon = end + 1;
		if (util_v6chars(host, hlen) == -1) {
			*why = "has a bad IPv6 address";
			return -1;
		}
	} else {
		host = s;
		if ((colon = strrchr(s, ':')) == NULL)
			return -1;
		hlen = (size_t)(colon - host);
		if (memchr(host, ':', hlen) != NULL) {
			*why = "needs brackets around an IPv6 address, "
			    "like [::1]:7443";
			return -1;
		}
		if (util_hostchars(host, hlen) == -1) {
			*why = "has a bad host name";
			return -1;
		}
	}
	if (conf_util_uint(colon + 1, &port) == -1)
		return -1;
	if (port > 65535 || (port == 0 && !port0)) {
		*why = port0 ? "port must be between 0 and 65535" :
		    "port must be between 1 and 65535";
		return -1;
	}
	return 0;
}
