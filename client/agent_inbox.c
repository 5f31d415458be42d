/* SPDX-License-Identifier: ISC */
/*
 * agent_inbox: the alerts this agent verified, kept for its person's
 * page: newest first, each with what the person did with it (shown,
 * read, relayed to how many) and how far the daemon has confirmed it.
 * With a directory they outlive a restart, as two files per alert:
 *
 *	ID.env	the signed envelope, exactly as received (written once)
 *	ID.st	"wuzha-inbox 1" then "key value" lines: seq, flags,
 *		received, state, sent, reach, hooked, withdrawn, replaced
 *
 * Both are written whole (FILE.tmp, fsync, rename).  An envelope is only
 * ever written after the agent verified it, so at start the files are
 * decoded, not verified again: a certificate that expired since must not
 * erase the history.  A file that does not decode is skipped, logged.
 * The inbox holds at most max alerts; an alert past its expiry by more
 * than keep goes, and when full the oldest goes.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"
#include "agent.h"
#include "log.h"

#define INBOX_MAGIC	"wuzha-inbox 1"
#define INBOX_ST_MAX	1024	/* an .st file is a few short lines */

/* The order of the states (proto_ack_rank), 0 for none or unknown. */
int
agent_ack_rank(int state)
{
	int	r = proto_ack_rank(state);

	return r < 0 ? 0 : r;
}

static void
inbox_item_free(struct agent_inbox_item *it)
{
	if (it == NULL)
		return;
	free(it->env);
	free(it);
}

/* A new item owning a copy of env, its alert decoded; NULL if bad. */
static struct agent_inbox_item *
inbox_item_new(const uint8_t *env, size_t envlen)
{
	struct agent_inbox_item	*it;
	struct proto_envelope	 e;

	if ((it = calloc(1, sizeof(*it))) == NULL ||
	    (it->env = malloc(envlen ? envlen : 1)) == NULL) {
		free(it);
		return NULL;
	}
	memcpy(it->env, env, envlen);
	it->envlen = envlen;
	if (proto_envelope_decode(it->env, it->envlen, &e) != 0 ||
	    proto_alert_decode(e.body.p, e.body.len, &it->a) != 0) {
		inbox_item_free(it);
		return NULL;
	}
	return it;
}

/* Write path whole: path.tmp, fsync, rename. */
static int
inbox_write(const char *path, const void *buf, size_t len)
{
	char		 tmp[PATH_MAX];
	const char	*p = buf;
	ssize_t		 n;
	int		 fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -1;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1)
		return -1;
	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			close(fd);
			unlink(tmp);
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) == -1 || close(fd) == -1 || rename(tmp, path) == -1) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int
inbox_path(const struct agent_inbox *ib, const char *id, const char *ext,
    char *buf, size_t len)
{
	return snprintf(buf, len, "%s/%s.%s", ib->dir, id, ext) >= (int)len ?
	    -1 : 0;
}

int
agent_inbox_save(struct agent_inbox *ib, struct agent_inbox_item *it)
{
	char	path[PATH_MAX], st[INBOX_ST_MAX];
	int	n;

	if (ib->dir == NULL)
		return 0;
	if (!it->stored) {
		if (inbox_path(ib, it->a.id, "env", path, sizeof(path)) == -1 ||
		    inbox_write(path, it->env, it->envlen) == -1) {
			log_warn("inbox: cannot write %s", path);
			return -1;
		}
		it->stored = 1;
	}
	n = snprintf(st, sizeof(st), INBOX_MAGIC "\nseq %" PRIu64
	    "\nflags %u\nreceived %" PRIu64 "\nstate %u\nsent %u\nreach %u\n"
	    "hooked %u\nwithdrawn %u\nreplaced %s\n", it->seq, it->flags,
	    it->received_at, it->state, it->sent, it->reach, it->hooked,
	    it->withdrawn, it->replaced_by[0] ? it->replaced_by : "-");
	if (n < 0 || (size_t)n >= sizeof(st) ||
	    inbox_path(ib, it->a.id, "st", path, sizeof(path)) == -1 ||
	    inbox_write(path, st, (size_t)n) == -1) {
		log_warn("inbox: cannot write the state of %s", it->a.id);
		return -1;
	}
	return 0;
}

/* Read the .st lines into it; unknown keys are skipped (newer files). */
static int
inbox_read_st(const char *path, struct agent_inbox_item *it)
{
	char		 buf[INBOX_ST_MAX + 1], *line, *save, *val;
	unsigned long long v;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, INBOX_ST_MAX);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if ((line = strtok_r(buf, "\n", &save)) == NULL ||
	    strcmp(line, INBOX_MAGIC) != 0)
		return -1;
	while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
		if ((val = strchr(line, ' ')) == NULL)
			return -1;
		*val++ = '\0';
		if (strcmp(line, "replaced") == 0) {
			if (strcmp(val, "-") != 0)
				snprintf(it->replaced_by,
				    sizeof(it->replaced_by), "%s", val);
			continue;
		}
		if (sscanf(val, "%llu", &v) != 1)
			return -1;
		if (strcmp(line, "seq") == 0)
			it->seq = v;
		else if (strcmp(line, "flags") == 0)
			it->flags = (uint8_t)v;
		else if (strcmp(line, "received") == 0)
			it->received_at = v;
		else if (strcmp(line, "state") == 0)
			it->state = (uint8_t)v;
		else if (strcmp(line, "sent") == 0)
			it->sent = (uint8_t)v;
		else if (strcmp(line, "reach") == 0)
			it->reach = (uint32_t)v;
		else if (strcmp(line, "hooked") == 0)
			it->hooked = v != 0;
		else if (strcmp(line, "withdrawn") == 0)
			it->withdrawn = v != 0;
	}
	return 0;
}

/* Load ID.env with its ID.st; NULL (logged) if either is bad. */
static struct agent_inbox_item *
inbox_load_one(struct agent_inbox *ib, const char *id)
{
	struct agent_inbox_item	*it;
	struct stat		 sb;
	char			 path[PATH_MAX];
	uint8_t			*env;
	ssize_t			 n;
	int			 fd;

	if (inbox_path(ib, id, "env", path, sizeof(path)) == -1 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, &sb) == -1 || sb.st_size <= 0 ||
	    sb.st_size > 4 * 1024 * 1024 ||
	    (env = malloc((size_t)sb.st_size)) == NULL) {
		close(fd);
		log_warnx("inbox: %s: unusable size, skipped", path);
		return NULL;
	}
	n = read(fd, env, (size_t)sb.st_size);
	close(fd);
	it = n == sb.st_size ? inbox_item_new(env, (size_t)n) : NULL;
	free(env);
	if (it == NULL || strcmp(it->a.id, id) != 0) {
		log_warnx("inbox: %s does not decode as alert %s, skipped",
		    path, id);
		inbox_item_free(it);
		return NULL;
	}
	it->stored = 1;
	if (inbox_path(ib, id, "st", path, sizeof(path)) == -1 ||
	    inbox_read_st(path, it) == -1) {
		/* The envelope alone: delivered, and nothing more known. */
		log_warnx("inbox: %s missing or bad; alert %s kept as "
		    "delivered", path, id);
		it->state = it->sent = PROTO_ACK_DELIVERED;
	}
	return it;
}

/* Newest first by received time (then by seq). */
static void
inbox_insert(struct agent_inbox *ib, struct agent_inbox_item *it)
{
	struct agent_inbox_item	*at;

	TAILQ_FOREACH(at, &ib->items, entry)
		if (at->received_at < it->received_at ||
		    (at->received_at == it->received_at && at->seq < it->seq))
			break;
	if (at == NULL)
		TAILQ_INSERT_TAIL(&ib->items, it, entry);
	else
		TAILQ_INSERT_BEFORE(at, it, entry);
	ib->n++;
}

struct agent_inbox *
agent_inbox_open(const char *dir, uint32_t max, uint32_t keep_s, char *err,
    size_t errlen)
{
	struct agent_inbox	*ib;
	struct agent_inbox_item	*it;
	struct dirent		*de;
	DIR			*d;
	char			 id[PROTO_ID_MAX + 1];
	size_t			 l;

	if ((ib = calloc(1, sizeof(*ib))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	TAILQ_INIT(&ib->items);
	ib->max = max;
	ib->keep_ms = (uint64_t)keep_s * 1000;
	if (dir == NULL)
		return ib;
	if ((ib->dir = strdup(dir)) == NULL) {
		free(ib);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "inbox: cannot make %s: %s", dir,
		    strerror(errno));
		agent_inbox_free(ib);
		return NULL;
	}
	if ((d = opendir(dir)) == NULL) {
		snprintf(err, errlen, "inbox: cannot read %s: %s", dir,
		    strerror(errno));
		agent_inbox_free(ib);
		return NULL;
	}
	while ((de = readdir(d)) != NULL) {
		l = strlen(de->d_name);
		if (l <= 4 || l - 4 > PROTO_ID_MAX ||
		    strcmp(de->d_name + l - 4, ".env") != 0)
			continue;
		memcpy(id, de->d_name, l - 4);
		id[l - 4] = '\0';
		if ((it = inbox_load_one(ib, id)) != NULL)
			inbox_insert(ib, it);
	}
	closedir(d);
	return ib;
}

struct agent_inbox_item *
agent_inbox_find(const struct agent_inbox *ib, const char *id)
{
	struct agent_inbox_item	*it;

	TAILQ_FOREACH(it, &ib->items, entry)
		if (strcmp(it->a.id, id) == 0)
			return it;
	return NULL;
}

static void
inbox_remove(struct agent_inbox *ib, struct agent_inbox_item *it)
{
	char	path[PATH_MAX];

	TAILQ_REMOVE(&ib->items, it, entry);
	ib->n--;
	if (ib->dir != NULL) {
		if (inbox_path(ib, it->a.id, "st", path, sizeof(path)) == 0)
			unlink(path);
		if (inbox_path(ib, it->a.id, "env", path, sizeof(path)) == 0)
			unlink(path);
	}
	inbox_item_free(it);
}

void
agent_inbox_purge(struct agent_inbox *ib, uint64_t now)
{
	struct agent_inbox_item	*it, *prev;

	for (it = TAILQ_LAST(&ib->items, agent_inbox_itemq); it != NULL;
	    it = prev) {
		prev = TAILQ_PREV(it, agent_inbox_itemq, entry);
		if (it->a.expires_at + ib->keep_ms < now)
			inbox_remove(ib, it);
	}
	/* Still full: the oldest goes. */
	while (ib->n > ib->max)
		inbox_remove(ib, TAILQ_LAST(&ib->items, agent_inbox_itemq));
}

struct agent_inbox_item *
agent_inbox_add(struct agent_inbox *ib, const uint8_t *env, size_t envlen,
    uint64_t seq, uint8_t flags, uint64_t now)
{
	struct agent_inbox_item	*it;

	if ((it = inbox_item_new(env, envlen)) == NULL)
		return NULL;
	it->seq = seq;
	it->flags = flags;
	it->received_at = now;
	it->state = PROTO_ACK_DELIVERED;
	inbox_insert(ib, it);
	agent_inbox_purge(ib, now);
	/* It may have been the oldest of a full inbox. */
	if (agent_inbox_find(ib, it->a.id) != it)
		return NULL;
	agent_inbox_save(ib, it);
	return it;
}

void
agent_inbox_free(struct agent_inbox *ib)
{
	struct agent_inbox_item	*it;

	if (ib == NULL)
		return;
	while ((it = TAILQ_FIRST(&ib->items)) != NULL) {
		TAILQ_REMOVE(&ib->items, it, entry);
		inbox_item_free(it);
	}
	free(ib->dir);
	free(ib);
}
