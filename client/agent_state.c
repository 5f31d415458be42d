/* SPDX-License-Identifier: ISC */
/*
 * agent_state: the ids of the alerts this agent has already handed to its
 * person, each with its expires_at, so that an alert delivered again
 * (after a lost ack, or a restart) is acknowledged without being shown a
 * second time; and the ids withdrawn by a cancel, so that a copy of a
 * cancelled alert that comes later is acknowledged and never shown.  Kept
 * in memory as a dense array with a hash index, and on disk as a small
 * text file:
 *
 *	wuzha-agent-state 2
 *	ID EXPIRES_AT_MS
 *	ID EXPIRES_AT_MS withdrawn
 *	...
 *
 * Version 1 is the same without "withdrawn" lines; it is still read, and
 * still written while nothing is withdrawn, so an older agent can read
 * the file of a newer one that has seen no cancel.  Version 3 adds, last
 * on a line, the SHA-256 of the alert's envelope in hex, which the
 * receipts of later acks (read, relayed) sign; it is written once any
 * entry has one.  The file is written
 * whole on every change: FILE.tmp, fsync, rename, fsync of the
 * directory, so a crash leaves either the old file or the new one.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "proto.h"
#include "agent.h"
#include "log.h"

#define AGENT_STATE_MAGIC1	"wuzha-agent-state 1"
#define AGENT_STATE_MAGIC2	"wuzha-agent-state 2"
#define AGENT_STATE_MAGIC3	"wuzha-agent-state 3"
#define AGENT_STATE_WITHDRAWN	"withdrawn"

/*
 * What is known of an id.  SHOWN: handed to the person.  WITHDRAWN: a
 * cancel for it was verified; never show it (it may also be SHOWN).
 */
enum agent_state_flag {
	AGENT_STATE_F_SHOWN	= 0x01,
	AGENT_STATE_F_WITHDRAWN	= 0x02,
};

struct agent_state_ent {
	char		id[PROTO_ID_MAX + 1];
	uint8_t		flags;		/* enum agent_state_flag */
	uint8_t		hashed;		/* env_hash is set */
	uint64_t	expires_at;
	uint8_t		env_hash[PROTO_HASH_LEN];	/* SHA-256 of the envelope */
};

struct agent_state {
	char			*path;		/* NULL: memory only */
	struct agent_state_ent	*ents;		/* dense, unordered */
	size_t			 n;
	size_t			 cap;
	uint32_t		*idx;		/* slot -> index + 1, 0: empty */
	size_t			 nidx;		/* power of two, > 2 * cap */
};

static uint32_t
agent_state_hash(const char *s)
{
	uint32_t	h = 2166136261u;

	for (; *s != '\0'; s++) {
		h ^= (uint8_t)*s;
		h *= 16777619u;
	}
	return h;
}

/* Enter ents[i] in the hash index (linear probing). */
static void
agent_state_index_one(struct agent_state *st, size_t i)
{
	size_t	slot, mask = st->nidx - 1;

	slot = agent_state_hash(st->ents[i].id) & mask;
	while (st->idx[slot] != 0)
		slot = (slot + 1) & mask;
	st->idx[slot] = (uint32_t)i + 1;
}

/* Rebuild the hash index over ents[0..n), after removals. */
static void
agent_state_reindex(struct agent_state *st)
{
	size_t	i;

	memset(st->idx, 0, st->nidx * sizeof(*st->idx));
	for (i = 0; i < st->n; i++)
		agent_state_index_one(st, i);
}

/* Make room for at least want entries (want <= AGENT_STATE_MAX). */
static int
agent_state_grow(struct agent_state *st, size_t want)
{
	struct agent_state_ent	*e;
	uint32_t		*ix;
	size_t			 cap = st->cap ? st->cap : 64, nidx = 1;

	if (want <= st->cap)
		return 0;
	while (cap < want)
		cap *= 2;
	if (cap > AGENT_STATE_MAX)
		cap = AGENT_STATE_MAX;
	while (nidx <= 2 * cap)
		nidx *= 2;
	if ((e = reallocarray(st->ents, cap, sizeof(*e))) == NULL)
		return -1;
	st->ents = e;
	if ((ix = calloc(nidx, sizeof(*ix))) == NULL)
		return -1;
	free(st->idx);
	st->idx = ix;
	st->nidx = nidx;
	st->cap = cap;
	agent_state_reindex(st);
	return 0;
}

/* Index of id in ents, or -1. */
static ssize_t
agent_state_find(const struct agent_state *st, const char *id)
{
	size_t	slot, mask;

	if (st->nidx == 0)
		return -1;
	mask = st->nidx - 1;
	for (slot = agent_state_hash(id) & mask; st->idx[slot] != 0;
	    slot = (slot + 1) & mask)
		if (strcmp(st->ents[st->idx[slot] - 1].id, id) == 0)
			return (ssize_t)st->idx[slot] - 1;
	return -1;
}

int
agent_state_seen(const struct agent_state *st, const char *id)
{
	ssize_t	i;

	return (i = agent_state_find(st, id)) != -1 &&
	    (st->ents[i].flags & AGENT_STATE_F_SHOWN);
}

int
agent_state_withdrawn(const struct agent_state *st, const char *id)
{
	ssize_t	i;

	return (i = agent_state_find(st, id)) != -1 &&
	    (st->ents[i].flags & AGENT_STATE_F_WITHDRAWN);
}

size_t
agent_state_count(const struct agent_state *st)
{
	return st->n;
}

/* Drop entries expired at now (all of them when now is 0: never). */
static size_t
agent_state_purge(struct agent_state *st, uint64_t now)
{
	size_t	i, kept = 0, dropped;

	for (i = 0; i < st->n; i++)
		if (st->ents[i].expires_at > now)
			st->ents[kept++] = st->ents[i];
	dropped = st->n - kept;
	if (dropped > 0) {
		st->n = kept;
		agent_state_reindex(st);
	}
	return dropped;
}

/* Full: forget the entry that expires first. */
static void
agent_state_evict(struct agent_state *st)
{
	size_t	i, min = 0;

	for (i = 1; i < st->n; i++)
		if (st->ents[i].expires_at < st->ents[min].expires_at)
			min = i;
	log_warnx("state: %d ids remembered, forgetting %s", AGENT_STATE_MAX,
	    st->ents[min].id);
	st->ents[min] = st->ents[--st->n];
	agent_state_reindex(st);
}

/* Remember flags for id (or extend its expiry), evicting when full. */
static int
agent_state_mark(struct agent_state *st, const char *id, uint8_t flags,
    uint64_t expires_at)
{
	ssize_t		i;

	if ((i = agent_state_find(st, id)) != -1) {
		st->ents[i].flags |= flags;
		if (expires_at > st->ents[i].expires_at)
			st->ents[i].expires_at = expires_at;
		return 0;
	}
	if (st->n >= AGENT_STATE_MAX) {
		agent_state_purge(st, now_ms());
		if (st->n >= AGENT_STATE_MAX)
			agent_state_evict(st);
	}
	if (strlen(id) > PROTO_ID_MAX || agent_state_grow(st, st->n + 1) == -1)
		return -1;
	memset(&st->ents[st->n], 0, sizeof(st->ents[0]));
	memcpy(st->ents[st->n].id, id, strlen(id) + 1);
	st->ents[st->n].flags = flags;
	st->ents[st->n].expires_at = expires_at;
	st->n++;
	agent_state_index_one(st, st->n - 1);
	return 0;
}

int
agent_state_add(struct agent_state *st, const char *id, uint64_t expires_at)
{
	return agent_state_mark(st, id, AGENT_STATE_F_SHOWN, expires_at);
}

int
agent_state_withdraw(struct agent_state *st, const char *id,
    uint64_t expires_at)
{
	return agent_state_mark(st, id, AGENT_STATE_F_WITHDRAWN, expires_at);
}

int
agent_state_set_hash(struct agent_state *st, const char *id,
    const uint8_t *h)
{
	ssize_t	i;

	if ((i = agent_state_find(st, id)) == -1)
		return -1;
	memcpy(st->ents[i].env_hash, h, PROTO_HASH_LEN);
	st->ents[i].hashed = 1;
	return 0;
}

const uint8_t *
agent_state_env_hash(const struct agent_state *st, const char *id)
{
	ssize_t	i;

	if ((i = agent_state_find(st, id)) == -1 || !st->ents[i].hashed)
		return NULL;
	return st->ents[i].env_hash;
}

/* 64 hex digits into h (PROTO_HASH_LEN bytes); -1 if s is not that. */
static int
agent_state_unhex(const char *s, uint8_t *h)
{
	unsigned int	v;
	size_t		i;

	if (strlen(s) != 2 * PROTO_HASH_LEN ||
	    strspn(s, "0123456789abcdef") != 2 * PROTO_HASH_LEN)
		return -1;
	for (i = 0; i < PROTO_HASH_LEN; i++) {
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		h[i] = (uint8_t)v;
	}
	return 0;
}

/*
 * Parse one "ID EXPIRES" line (version 2: also "ID EXPIRES withdrawn";
 * version 3: either, then the envelope's hash), without its newline,
 * into the state.
 */
static int
agent_state_line(struct agent_state *st, char *line, int version, char *why,
    size_t whylen)
{
	char		*sp, *end, *word, *hex = NULL;
	uint64_t	 exp;
	uint8_t		 flags = AGENT_STATE_F_SHOWN;
	uint8_t		 h[PROTO_HASH_LEN];
	int		 hashed = 0;

	if ((sp = strchr(line, ' ')) == NULL) {
		snprintf(why, whylen, "expected \"ID EXPIRES_AT\"");
		return -1;
	}
	*sp++ = '\0';
	if (!proto_name_valid(line, strlen(line))) {
		snprintf(why, whylen, "bad alert id \"%.64s\"", line);
		return -1;
	}
	if (*sp < '0' || *sp > '9') {
		snprintf(why, whylen, "bad expiry \"%.32s\"", sp);
		return -1;
	}
	if ((word = strchr(sp, ' ')) != NULL) {
		*word++ = '\0';
		if ((hex = strchr(word, ' ')) != NULL)
			*hex++ = '\0';
		if (version >= 3 && hex == NULL &&
		    agent_state_unhex(word, h) == 0) {
			hashed = 1;
		} else if (version < 2 ||
		    strcmp(word, AGENT_STATE_WITHDRAWN) != 0) {
			snprintf(why, whylen, "unexpected \"%.32s\" after the "
			    "expiry", word);
			return -1;
		} else
			flags = AGENT_STATE_F_WITHDRAWN;
		if (hex != NULL) {
			if (version < 3 || agent_state_unhex(hex, h) == -1) {
				snprintf(why, whylen, "unexpected \"%.32s\" "
				    "after \"%s\"", hex, word);
				return -1;
			}
			hashed = 1;
		}
	}
	errno = 0;
	exp = strtoull(sp, &end, 10);
	if (errno != 0 || *end != '\0') {
		snprintf(why, whylen, "bad expiry \"%.32s\"", sp);
		return -1;
	}
	if (agent_state_find(st, line) != -1) {
		snprintf(why, whylen, "id %s listed twice", line);
		return -1;
	}
	if (st->n >= AGENT_STATE_MAX) {
		snprintf(why, whylen, "more than %d ids", AGENT_STATE_MAX);
		return -1;
	}
	if (agent_state_mark(st, line, flags, exp) == -1) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	if (hashed)
		agent_state_set_hash(st, line, h);
	return 0;
}

/* Read path into st; 0 also when it does not exist yet. */
static int
agent_state_read(struct agent_state *st, const char *path, char *err,
    size_t errlen)
{
	FILE	*f;
	char	 buf[AGENT_STATE_LINE_MAX + 2], why[160];
	size_t	 len;
	int	 lineno = 0, version = 0, rc = -1;

	if ((f = fopen(path, "re")) == NULL) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(buf, sizeof(buf), f) != NULL) {
		lineno++;
		len = strlen(buf);
		if (len == 0 || buf[len - 1] != '\n') {
			snprintf(err, errlen, "%s:%d: %s", path, lineno,
			    len > AGENT_STATE_LINE_MAX ? "line too long" :
			    "truncated line");
			goto done;
		}
		buf[len - 1] = '\0';
		if (lineno == 1) {
			if (strcmp(buf, AGENT_STATE_MAGIC1) == 0)
				version = 1;
			else if (strcmp(buf, AGENT_STATE_MAGIC2) == 0)
				version = 2;
			else if (strcmp(buf, AGENT_STATE_MAGIC3) == 0)
				version = 3;
			else {
				snprintf(err, errlen, "%s:1: not a wuzha-agent "
				    "state file of a known version (expected "
				    "\"%s\")", path, AGENT_STATE_MAGIC3);
				goto done;
			}
			continue;
		}
		if (agent_state_line(st, buf, version, why,
		    sizeof(why)) == -1) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
			goto done;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto done;
	}
	if (lineno == 0) {
		snprintf(err, errlen, "%s: empty file (no \"%s\" line)", path,
		    AGENT_STATE_MAGIC3);
		goto done;
	}
	rc = 0;
 done:
	fclose(f);
	return rc;
}

/* A state in memory, read from path when it exists. */
struct agent_state *
agent_state_load(const char *path, char *err, size_t errlen)
{
	struct agent_state	*st;

	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    agent_state_grow(st, 64) == -1) {
		snprintf(err, errlen, "out of memory");
		agent_state_free(st);
		return NULL;
	}
	if (path != NULL) {
		if ((st->path = strdup(path)) == NULL) {
			snprintf(err, errlen, "out of memory");
			agent_state_free(st);
			return NULL;
		}
		if (agent_state_read(st, path, err, errlen) == -1) {
			agent_state_free(st);
			return NULL;
		}
	}
	return st;
}

/* fsync the directory holding path, so the rename itself is durable. */
static int
agent_state_sync_dir(const char *path)
{
	const char	*slash;
	char		*dir;
	int		 fd, rc;

	if ((slash = strrchr(path, '/')) == NULL)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (dir == NULL)
		return -1;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* Write all of buf to fd. */
static int
agent_state_write_all(int fd, const char *buf, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Rewrite the file whole, atomically; expired ids are dropped. */
int
agent_state_save(struct agent_state *st, uint64_t now_ms)
{
	char	*tmp = NULL, *buf = NULL;
	char	 hex[2 * PROTO_HASH_LEN + 2];
	size_t	 i, j, len = 0, cap;
	int	 fd = -1, n, withdrawn = 0, hashed = 0;

	agent_state_purge(st, now_ms);
	if (st->path == NULL)
		return 0;
	for (i = 0; i < st->n; i++) {
		if (st->ents[i].flags & AGENT_STATE_F_WITHDRAWN)
			withdrawn = 1;
		if (st->ents[i].hashed)
			hashed = 1;
	}
	cap = sizeof(AGENT_STATE_MAGIC3) + 1 + st->n * (PROTO_ID_MAX + 23 +
	    sizeof(AGENT_STATE_WITHDRAWN) + sizeof(hex));
	if ((buf = malloc(cap)) == NULL ||
	    asprintf(&tmp, "%s.tmp", st->path) == -1) {
		tmp = NULL;
		log_warnx("state: %s: out of memory", st->path);
		goto fail;
	}
	/* Version 1 while it suffices, so that an older agent can read it. */
	len = (size_t)snprintf(buf, cap, "%s\n", hashed ? AGENT_STATE_MAGIC3 :
	    withdrawn ? AGENT_STATE_MAGIC2 : AGENT_STATE_MAGIC1);
	for (i = 0; i < st->n; i++) {
		hex[0] = '\0';
		if (st->ents[i].hashed) {
			hex[0] = ' ';
			for (j = 0; j < PROTO_HASH_LEN; j++)
				snprintf(hex + 1 + 2 * j, 3, "%02x",
				    st->ents[i].env_hash[j]);
		}
		n = snprintf(buf + len, cap - len, "%s %" PRIu64 "%s%s\n",
		    st->ents[i].id, st->ents[i].expires_at,
		    (st->ents[i].flags & AGENT_STATE_F_WITHDRAWN) ?
		    " " AGENT_STATE_WITHDRAWN : "", hex);
		len += (size_t)n;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1) {
		log_warn("state: %s", tmp);
		goto fail;
	}
	if (agent_state_write_all(fd, buf, len) == -1 || fsync(fd) == -1) {
		log_warn("state: write %s", tmp);
		goto fail;
	}
	if (close(fd) == -1) {
		fd = -1;
		log_warn("state: close %s", tmp);
		goto fail;
	}
	fd = -1;
	if (rename(tmp, st->path) == -1) {
		log_warn("state: rename %s", tmp);
		goto fail;
	}
	if (agent_state_sync_dir(st->path) == -1)
		log_warn("state: fsync of the directory of %s", st->path);
	free(tmp);
	free(buf);
	return 0;
 fail:
	if (fd != -1)
		close(fd);
	if (tmp != NULL)
		unlink(tmp);
	free(tmp);
	free(buf);
	return -1;
}

void
agent_state_free(struct agent_state *st)
{
	if (st == NULL)
		return;
	free(st->ents);
	free(st->idx);
	free(st->path);
	free(st);
}
