/* SPDX-License-Identifier: ISC */
/*
 * auditlog: what wuzhad does with the audit log beyond appending to it
 * (the accepting scripts do that, see lua/audit.lua).
 *
 * Checkpoints: every audit.checkpoint_every new entries, or after
 * audit.checkpoint_interval with any new entry, one daemon (the one that
 * takes audit:lock) reads the entries after the last checkpoint a slice
 * at a time, folds their leaf hashes into the frontier stored with that
 * checkpoint, signs (size, root, time, name) with its TLS key and
 * compare-and-appends it (lua/audit_cp.lua): a daemon that started from
 * a size that is no longer the last writes nothing.
 *
 * Mirror: with audit.file set, every entry and checkpoint is appended to
 * that file in Redis's order, fsync'd per batch.  The file, after an
 * 8-byte magic "WZAUDIT1", is records of a u32 big-endian length of what
 * follows, a u8 type (1 entry, 2 checkpoint) and the record's bytes.  A
 * checkpoint is written after the entries it covers.  On start the file
 * is read and compared with Redis; a file that Redis does not continue
 * (shorter log, other last entry or checkpoint) stops the daemon.
 *
 * AUDIT_REQ: a page of entries or checkpoints, for principals that
 * observe at a police unit at the top of the tree.
 */

#include <sys/stat.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "log.h"
#include "wuzhad.h"
#include "lua_gen.h"

#define AUDIT_MAGIC		"WZAUDIT1"
#define AUDIT_MAGIC_LEN		8
#define AUDIT_REC_ENTRY		1
#define AUDIT_REC_CP		2
#define AUDIT_REC_MAX		(16u * 1024 * 1024)	/* a record longer is damage */
#define AUDIT_LOCK_MS		"30000"	/* a checkpointer that died lets go */
#define AUDIT_CP_FETCH		64	/* checkpoints the mirror reads at once */
#define AUDIT_TICK_MS		1000	/* how often the head is looked at */

/* The checkpointer: one run at a time, each step one Redis reply. */
static struct {
	int			 busy;
	uint64_t		 last_try;	/* mono ms */
	uint64_t		 last_change;	/* mono ms: the frontier last moved */
	uint64_t		 seen_size;	/* frontier size last seen */
	uint64_t		 from;		/* size the run started from */
	uint64_t		 target;	/* size it is folding up to */
	uint64_t		 started;	/* mono us, for the log line */
	uint64_t		 longest;	/* us, the longest slice folded */
	unsigned		 slices;
	struct audit_range	 range;
} cp;

/* The file mirror. */
static struct {
	int		 fd;		/* -1: no file */
	int		 checked;	/* compared with Redis */
	int		 busy;
	int		 failed;	/* a write failed: stop mirroring */
	uint64_t	 entries;	/* in the file */
	uint64_t	 cps;
	uint8_t		*last_entry;	/* for the start check */
	size_t		 last_entry_len;
	uint8_t		*last_cp;
	size_t		 last_cp_len;
	/* Checkpoints fetched but not yet written (their entries are not). */
	uint8_t		*pend_b[AUDIT_CP_FETCH];
	size_t		 pend_len[AUDIT_CP_FETCH];
	uint64_t	 pend_size[AUDIT_CP_FETCH];
	size_t		 npend;
	uint64_t	 head_entries;	/* as the last head read said */
	uint64_t	 head_cps;
	void		(*check_done)(int);
} mir = { .fd = -1 };

static const char *
audit_prefix(void)
{
	return store_key("%s", "");
}

/* --- the file ------------------------------------------------------------ */

/* A copy of len bytes of p in *dst (an empty slot: nothing is freed). */
static void
mirror_keep(uint8_t **dst, size_t *dlen, const uint8_t *p, size_t len)
{
	if ((*dst = malloc(len)) == NULL)
		fatal("auditlog");
	memcpy(*dst, p, len);
	*dlen = len;
}

/*
 * Read the mirror whole: its magic, then whole records only.  A file that
 * ends inside a record, or has a record that does not decode, is fatal:
 * an operator must look (the file is evidence; nothing here cuts it).
 */
void
auditlog_open(void)
{
	const char	*path = wz->conf->audit.file;
	struct stat	 sb;
	uint8_t		*buf, hdr[5];
	struct audit_entry e;
	struct audit_cp	 c;
	off_t		 off;
	size_t		 got;
	ssize_t		 n;
	uint32_t	 len;

	if (path == NULL)
		return;
	if ((mir.fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC,
	    0640)) == -1)
		fatal("audit.file %s", path);
	if (fstat(mir.fd, &sb) == -1)
		fatal("audit.file %s", path);
	if (sb.st_size == 0) {
		if (write(mir.fd, AUDIT_MAGIC, AUDIT_MAGIC_LEN) !=
		    AUDIT_MAGIC_LEN || fsync(mir.fd) == -1)
			fatal("audit.file %s: writing its header", path);
		log_info("audit: new mirror %s", path);
		return;
	}
	if ((buf = malloc(AUDIT_MAGIC_LEN)) == NULL)
		fatal("auditlog");
	if (pread(mir.fd, buf, AUDIT_MAGIC_LEN, 0) != AUDIT_MAGIC_LEN ||
	    memcmp(buf, AUDIT_MAGIC, AUDIT_MAGIC_LEN) != 0)
		fatalx("audit.file %s: not an audit log mirror (no %s header)",
		    path, AUDIT_MAGIC);
	free(buf);
	off = AUDIT_MAGIC_LEN;
	while (off < sb.st_size) {
		if (sb.st_size - off < 5 ||
		    pread(mir.fd, hdr, 5, off) != 5)
			fatalx("audit.file %s: ends inside a record header at "
			    "byte %lld (entry %" PRIu64 "): cut or torn; the "
			    "file needs an operator", path, (long long)off,
			    mir.entries);
		len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
		    (uint32_t)hdr[2] << 8 | hdr[3];
		if (len < 2 || len > AUDIT_REC_MAX ||
		    (hdr[4] != AUDIT_REC_ENTRY && hdr[4] != AUDIT_REC_CP))
			fatalx("audit.file %s: bad record at byte %lld (length "
			    "%u, type %u)", path, (long long)off, len, hdr[4]);
		if ((off_t)len - 1 > sb.st_size - off - 5)
			fatalx("audit.file %s: ends inside the record at byte "
			    "%lld (entry %" PRIu64 "): cut or torn; the file "
			    "needs an operator", path, (long long)off,
			    mir.entries);
		if ((buf = malloc(len - 1)) == NULL)
			fatal("auditlog");
		for (got = 0; got < len - 1; got += (size_t)n)
			if ((n = pread(mir.fd, buf + got, len - 1 - got,
			    off + 5 + (off_t)got)) <= 0)
				fatal("audit.file %s: read", path);
		if (hdr[4] == AUDIT_REC_ENTRY) {
			if (audit_entry_decode(buf, len - 1, &e) != 0)
				fatalx("audit.file %s: entry %" PRIu64 " does "
				    "not decode", path, mir.entries);
			mir.entries++;
			free(mir.last_entry);
			mir.last_entry = buf;
			mir.last_entry_len = len - 1;
		} else {
			if (audit_cp_decode(buf, len - 1, &c) != 0)
				fatalx("audit.file %s: checkpoint %" PRIu64
				    " does not decode", path, mir.cps);
			mir.cps++;
			free(mir.last_cp);
			mir.last_cp = buf;
			mir.last_cp_len = len - 1;
		}
		off += 4 + (off_t)len;
	}
	log_info("audit: mirror %s holds %" PRIu64 " entries and %" PRIu64
	    " checkpoints; resuming after them", path, mir.entries, mir.cps);
}

/* Append one record to the file (no fsync: once per batch). */
static int
mirror_write(uint8_t type, const void *p, size_t len)
{
	uint8_t		hdr[5];
	struct iovec	iov[2];

	hdr[0] = (uint8_t)((len + 1) >> 24);
	hdr[1] = (uint8_t)((len + 1) >> 16);
	hdr[2] = (uint8_t)((len + 1) >> 8);
	hdr[3] = (uint8_t)(len + 1);
	hdr[4] = type;
	iov[0].iov_base = hdr;
	iov[0].iov_len = 5;
	iov[1].iov_base = (void *)p;
	iov[1].iov_len = len;
	if (writev(mir.fd, iov, 2) != (ssize_t)(5 + len)) {
		log_warn("audit.file %s: write failed; mirroring stops (the "
		    "log in Redis is whole; restart to resume)",
		    wz->conf->audit.file);
		mir.failed = 1;
		return -1;
	}
	return 0;
}

/* --- the start check ----------------------------------------------------- */

static void
check_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
check_fail(const char *fmt, ...)
{
	char	 why[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	fatalx("audit.file %s disagrees with the log in Redis: %s; refusing "
	    "to start (run wuzhactl audit verify --from-file on it, then move "
	    "it away to start a new mirror)", wz->conf->audit.file, why);
}

static void
check_cp_cb(redisReply *r, void *arg)
{
	void	(*done)(int) = mir.check_done;

	(void)arg;
	if (r == NULL || r->type != REDIS_REPLY_STRING) {
		done(-1);
		return;
	}
	if ((size_t)r->len != mir.last_cp_len ||
	    memcmp(r->str, mir.last_cp, mir.last_cp_len) != 0)
		check_fail("checkpoint %" PRIu64 " differs", mir.cps - 1);
	mir.checked = 1;
	done(0);
}

static void
check_entry_cb(redisReply *r, void *arg)
{
	void		(*done)(int) = mir.check_done;
	const char	*argv[3];
	char		 num[24];

	(void)arg;
	if (r == NULL || r->type != REDIS_REPLY_STRING) {
		done(-1);
		return;
	}
	if ((size_t)r->len != mir.last_entry_len ||
	    memcmp(r->str, mir.last_entry, mir.last_entry_len) != 0)
		check_fail("entry %" PRIu64 " differs (the two logs forked, "
		    "or one was changed)", mir.entries - 1);
	if (mir.cps == 0) {
		mir.checked = 1;
		done(0);
		return;
	}
	snprintf(num, sizeof(num), "%" PRIu64, mir.cps - 1);
	argv[0] = "LINDEX";
	argv[1] = store_key("audit:cp");
	argv[2] = num;
	if (store_cmd(3, argv, NULL, check_cp_cb, NULL) == -1)
		done(-1);
}

static void
check_head_cb(redisReply *r, void *arg)
{
	void		(*done)(int) = mir.check_done;
	const char	*argv[3];
	char		 num[24];
	uint64_t	 n, ncp;

	(void)arg;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
		done(-1);
		return;
	}
	n = (uint64_t)r->element[0]->integer;
	ncp = (uint64_t)r->element[2]->integer;
	if (n < mir.entries || ncp < mir.cps)
		check_fail("the file holds %" PRIu64 " entries and %" PRIu64
		    " checkpoints, Redis only %" PRIu64 " and %" PRIu64
		    " (Redis lost part of the log, or the file is of another "
		    "log)", mir.entries, mir.cps, n, ncp);
	if (mir.entries == 0) {
		mir.checked = 1;
		done(0);
		return;
	}
	snprintf(num, sizeof(num), "%" PRIu64, mir.entries - 1);
	argv[0] = "LINDEX";
	argv[1] = store_key("audit:log");
	argv[2] = num;
	if (store_cmd(3, argv, NULL, check_entry_cb, NULL) == -1)
		done(-1);
}

void
auditlog_check(void (*done)(int))
{
	const char	*argv[LUA_AUDIT_HEAD_ARGS];

	if (mir.fd == -1 || mir.checked) {
		done(0);
		return;
	}
	mir.check_done = done;
	argv[LUA_AUDIT_HEAD_PREFIX] = audit_prefix();
	if (store_eval(STORE_LUA_AUDIT_HEAD, LUA_AUDIT_HEAD_ARGS, argv, NULL,
	    check_head_cb, NULL) == -1)
		done(-1);
}

/* --- the mirror ---------------------------------------------------------- */

static void
mirror_pend_clear(void)
{
	size_t	i;

	for (i = 0; i < mir.npend; i++) {
		free(mir.pend_b[i]);
		mir.pend_b[i] = NULL;
	}
	mir.npend = 0;
}

/* Write the fetched checkpoints whose entries are all in the file. */
static int
mirror_flush_cps(void)
{
	size_t	i, k;

	for (i = 0; i < mir.npend && mir.pend_size[i] <= mir.entries; i++) {
		if (mirror_write(AUDIT_REC_CP, mir.pend_b[i],
		    mir.pend_len[i]) == -1)
			return -1;
		mir.cps++;
	}
	for (k = 0; k < i; k++)
		free(mir.pend_b[k]);
	memmove(mir.pend_b, mir.pend_b + i, (mir.npend - i) *
	    sizeof(mir.pend_b[0]));
	memmove(mir.pend_len, mir.pend_len + i, (mir.npend - i) *
	    sizeof(mir.pend_len[0]));
	memmove(mir.pend_size, mir.pend_size + i, (mir.npend - i) *
	    sizeof(mir.pend_size[0]));
	mir.npend -= i;
	return 0;
}

static void	mirror_step(void);

/* A slice of entries: written in order, checkpoints between them. */
static void
mirror_entries_cb(redisReply *r, void *arg)
{
	uint64_t	t0 = mono_us();
	size_t		i;

	(void)arg;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 1) {
		mir.busy = 0;
		mirror_pend_clear();
		return;
	}
	for (i = 1; i < r->elements && !mir.failed; i++) {
		if (r->element[i]->type != REDIS_REPLY_STRING)
			break;
		if (mirror_flush_cps() == -1 ||
		    mirror_write(AUDIT_REC_ENTRY, r->element[i]->str,
		    (size_t)r->element[i]->len) == -1)
			break;
		mir.entries++;
	}
	if (!mir.failed)
		(void)mirror_flush_cps();
	if (!mir.failed && fsync(mir.fd) == -1) {
		log_warn("audit.file %s: fsync", wz->conf->audit.file);
		mir.failed = 1;
	}
	log_debug("audit: mirror at %" PRIu64 " entries, %" PRIu64
	    " checkpoints; this batch written and synced in %.1f ms",
	    mir.entries, mir.cps, (double)(mono_us() - t0) / 1000.0);
	mirror_pend_clear();
	mir.busy = 0;
	/* More behind it: go on next turn (each slice is its own reply). */
	if (!mir.failed && (mir.entries < mir.head_entries ||
	    mir.cps < mir.head_cps))
		mirror_step();
}

static void
mirror_cps_cb(redisReply *r, void *arg)
{
	const char	*argv[LUA_AUDIT_READ_ARGS];
	struct audit_cp	 c;
	char		 from[24], count[24];
	size_t		 i;

	(void)arg;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 1) {
		mir.busy = 0;
		return;
	}
	for (i = 1; i < r->elements && mir.npend < AUDIT_CP_FETCH; i++) {
		if (r->element[i]->type != REDIS_REPLY_STRING ||
		    audit_cp_decode((const uint8_t *)r->element[i]->str,
		    (size_t)r->element[i]->len, &c) != 0) {
			log_warnx("audit: checkpoint %" PRIu64 " in Redis does "
			    "not decode; the mirror stops before it",
			    mir.cps + mir.npend);
			break;
		}
		mirror_keep(&mir.pend_b[mir.npend], &mir.pend_len[mir.npend],
		    (const uint8_t *)r->element[i]->str,
		    (size_t)r->element[i]->len);
		mir.pend_size[mir.npend++] = c.size;
	}
	snprintf(from, sizeof(from), "%" PRIu64, mir.entries);
	snprintf(count, sizeof(count), "%u", wz->conf->audit.slice);
	argv[LUA_AUDIT_READ_PREFIX] = audit_prefix();
	argv[LUA_AUDIT_READ_WHICH] = "log";
	argv[LUA_AUDIT_READ_FROM] = from;
	argv[LUA_AUDIT_READ_COUNT] = count;
	argv[LUA_AUDIT_READ_BUDGET] = "0";
	if (store_eval(STORE_LUA_AUDIT_READ, LUA_AUDIT_READ_ARGS, argv, NULL,
	    mirror_entries_cb, NULL) == -1) {
		mirror_pend_clear();
		mir.busy = 0;
	}
}

/* One batch: the next checkpoints, then the next slice of entries. */
static void
mirror_step(void)
{
	const char	*argv[LUA_AUDIT_READ_ARGS];
	char		 from[24], count[24];

	if (mir.fd == -1 || !mir.checked || mir.busy || mir.failed)
		return;
	mir.busy = 1;
	snprintf(from, sizeof(from), "%" PRIu64, mir.cps);
	snprintf(count, sizeof(count), "%d", AUDIT_CP_FETCH);
	argv[LUA_AUDIT_READ_PREFIX] = audit_prefix();
	argv[LUA_AUDIT_READ_WHICH] = "cp";
	argv[LUA_AUDIT_READ_FROM] = from;
	argv[LUA_AUDIT_READ_COUNT] = count;
	argv[LUA_AUDIT_READ_BUDGET] = "0";
	if (store_eval(STORE_LUA_AUDIT_READ, LUA_AUDIT_READ_ARGS, argv, NULL,
	    mirror_cps_cb, NULL) == -1)
		mir.busy = 0;
}

/* --- checkpoints --------------------------------------------------------- */

static void
cp_stop(const char *why)
{
	if (why != NULL)
		log_warnx("audit: checkpoint at %" PRIu64 " abandoned: %s",
		    cp.target, why);
	cp.busy = 0;
}

static void
cp_stored_cb(redisReply *r, void *arg)
{
	(void)arg;
	if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
		cp_stop(r != NULL && r->type == REDIS_REPLY_ERROR ? r->str :
		    "no reply");
		return;
	}
	if (r->integer == 1) {
		log_info("audit: checkpoint at %" PRIu64 " entries signed: %"
		    PRIu64 " folded in %u slices, %.1f ms in all, the longest "
		    "slice %.1f ms", cp.target, cp.target - cp.from, cp.slices,
		    (double)(mono_us() - cp.started) / 1000.0,
		    (double)cp.longest / 1000.0);
		cp.seen_size = cp.target;
		cp.last_change = mono_ms();
	} else
		log_info("audit: checkpoint at %" PRIu64 " dropped: another "
		    "daemon checkpointed after %" PRIu64 " first", cp.target,
		    cp.from);
	cp_stop(NULL);
}

/* All entries up to target folded: sign and compare-and-append. */
static void
cp_finish(void)
{
	struct proto_buf	 b;
	uint8_t			 root[AUDIT_HASH_LEN];
	const char		*argv[LUA_AUDIT_CP_ARGS];
	size_t			 lens[LUA_AUDIT_CP_ARGS];
	char			 from[24], size[24], *fr;
	EVP_PKEY		*key = SSL_CTX_get0_privatekey(wz->ssl_ctx);
	X509			*crt = SSL_CTX_get0_certificate(wz->ssl_ctx);
	int			 i;

	audit_range_root(&cp.range, root);
	pbuf_init(&b);
	if (audit_cp_sign(&b, cp.target, root, now_ms(), wz->name, key,
	    crt) == -1 || (fr = audit_range_format(&cp.range)) == NULL) {
		pbuf_free(&b);
		cp_stop("cannot sign (the daemon's key must be Ed25519)");
		return;
	}
	snprintf(from, sizeof(from), "%" PRIu64, cp.from);
	snprintf(size, sizeof(size), "%" PRIu64, cp.target);
	argv[LUA_AUDIT_CP_PREFIX] = audit_prefix();
	argv[LUA_AUDIT_CP_FROM] = from;
	argv[LUA_AUDIT_CP_SIZE] = size;
	argv[LUA_AUDIT_CP_CP] = (const char *)b.data;
	argv[LUA_AUDIT_CP_FRONTIER] = fr;
	argv[LUA_AUDIT_CP_NAME] = wz->name;
	for (i = 0; i < LUA_AUDIT_CP_ARGS; i++)
		lens[i] = i == LUA_AUDIT_CP_CP ? b.len : strlen(argv[i]);
	if (store_eval(STORE_LUA_AUDIT_CP, LUA_AUDIT_CP_ARGS, argv, lens,
	    cp_stored_cb, NULL) == -1)
		cp_stop("Redis went away");
	pbuf_free(&b);
	free(fr);
}

static void	cp_read(void);

static void
cp_slice_cb(redisReply *r, void *arg)
{
	uint8_t		h[AUDIT_HASH_LEN];
	uint64_t	t0 = mono_us();
	size_t		i;

	(void)arg;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 1) {
		cp_stop("reading the log failed");
		return;
	}
	cp.slices++;
	for (i = 1; i < r->elements && cp.range.size < cp.target; i++) {
		if (r->element[i]->type != REDIS_REPLY_STRING) {
			cp_stop("the log holds a non-string");
			return;
		}
		audit_leaf_hash(r->element[i]->str,
		    (size_t)r->element[i]->len, h);
		audit_range_push(&cp.range, h);
	}
	if (r->elements == 1 && cp.range.size < cp.target) {
		cp_stop("the log got shorter while it was read");
		return;
	}
	if (mono_us() - t0 > cp.longest)
		cp.longest = mono_us() - t0;
	if (cp.range.size < cp.target)
		cp_read();
	else
		cp_finish();
}

/* The next slice after what the range holds (one reply per loop turn). */
static void
cp_read(void)
{
	const char	*argv[LUA_AUDIT_READ_ARGS];
	char		 from[24], count[24];
	uint64_t	 n = cp.target - cp.range.size;

	if (n > wz->conf->audit.slice)
		n = wz->conf->audit.slice;
	snprintf(from, sizeof(from), "%" PRIu64, cp.range.size);
	snprintf(count, sizeof(count), "%" PRIu64, n);
	argv[LUA_AUDIT_READ_PREFIX] = audit_prefix();
	argv[LUA_AUDIT_READ_WHICH] = "log";
	argv[LUA_AUDIT_READ_FROM] = from;
	argv[LUA_AUDIT_READ_COUNT] = count;
	argv[LUA_AUDIT_READ_BUDGET] = "0";
	if (store_eval(STORE_LUA_AUDIT_READ, LUA_AUDIT_READ_ARGS, argv, NULL,
	    cp_slice_cb, NULL) == -1)
		cp_stop("Redis went away");
}

static void
cp_lock_cb(redisReply *r, void *arg)
{
	(void)arg;
	if (r == NULL || r->type != REDIS_REPLY_STATUS) {
		/* Another daemon holds it (nil), or Redis went away. */
		cp.busy = 0;
		return;
	}
	cp_read();
}

static void
head_cb(redisReply *r, void *arg)
{
	const char	*argv[6];
	uint64_t	 n, now = mono_ms();
	redisReply	*f;

	(void)arg;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER ||
	    r->element[1]->type != REDIS_REPLY_STRING) {
		cp.busy = 0;
		return;
	}
	n = (uint64_t)r->element[0]->integer;
	f = r->element[1];
	mir.head_entries = n;
	mir.head_cps = (uint64_t)r->element[2]->integer;
	if (f->len == 0)
		audit_range_init(&cp.range);
	else if (audit_range_parse(&cp.range, f->str, (size_t)f->len) == -1) {
		log_warnx("audit: audit:frontier in Redis is malformed; no "
		    "checkpoints until an operator looks");
		cp.busy = 0;
		return;
	}
	if (mir.fd != -1 && mir.checked && !mir.failed &&
	    (mir.head_entries < mir.entries || mir.head_cps < mir.cps)) {
		/* Redis lost writes the file has (a fail-over): never let the
		 * two part silently. */
		log_warnx("audit.file %s holds %" PRIu64 " entries and %" PRIu64
		    " checkpoints, Redis now %" PRIu64 " and %" PRIu64 ": Redis "
		    "lost part of the log; mirroring stops (check with "
		    "wuzhactl audit verify --from-file)", wz->conf->audit.file,
		    mir.entries, mir.cps, mir.head_entries, mir.head_cps);
		mir.failed = 1;
	}
	if (cp.range.size != cp.seen_size) {
		cp.seen_size = cp.range.size;
		cp.last_change = now;
	}
	mirror_step();
	if (n <= cp.range.size || (n - cp.range.size <
	    wz->conf->audit.checkpoint_every && now - cp.last_change <
	    wz->conf->audit.checkpoint_interval_ms)) {
		cp.busy = 0;
		return;
	}
	cp.from = cp.range.size;
	cp.target = n;
	cp.started = mono_us();
	cp.longest = 0;
	cp.slices = 0;
	argv[0] = "SET";
	argv[1] = store_key("audit:lock");
	argv[2] = wz->name;
	argv[3] = "NX";
	argv[4] = "PX";
	argv[5] = AUDIT_LOCK_MS;
	if (store_cmd(6, argv, NULL, cp_lock_cb, NULL) == -1)
		cp.busy = 0;
}

void
auditlog_tick(void)
{
	const char	*argv[LUA_AUDIT_HEAD_ARGS];
	uint64_t	 now = mono_ms();

	if (cp.last_change == 0)
		cp.last_change = now;
	if (cp.busy || now - cp.last_try < AUDIT_TICK_MS || !store_up())
		return;
	cp.last_try = now;
	cp.busy = 1;
	argv[LUA_AUDIT_HEAD_PREFIX] = audit_prefix();
	if (store_eval(STORE_LUA_AUDIT_HEAD, LUA_AUDIT_HEAD_ARGS, argv, NULL,
	    head_cb, NULL) == -1)
		cp.busy = 0;
}

void
auditlog_close(void)
{
	if (mir.fd != -1) {
		(void)fsync(mir.fd);
		close(mir.fd);
		mir.fd = -1;
	}
	mirror_pend_clear();
	free(mir.last_entry);
	free(mir.last_cp);
	mir.last_entry = mir.last_cp = NULL;
}

/* --- AUDIT_REQ ----------------------------------------------------------- */

struct auditreq {
	struct conn	*c;
	uint8_t		 what;
	uint64_t	 from;
};

static void
audit_reply_cb(redisReply *r, void *arg)
{
	struct auditreq		*ar = arg;
	struct proto_audit	 m;
	struct proto_audit_item	 it;
	struct proto_buf	 items, b;
	size_t			 i, mark, room, before;
	uint64_t		 total;

	if (!conn_alive(ar->c))
		goto done;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER) {
		conn_error(ar->c, PROTO_E_STORE, NULL, "cannot read the audit "
		    "log: %s", r != NULL && r->type == REDIS_REPLY_ERROR ?
		    r->str : "store unavailable");
		goto done;
	}
	total = (uint64_t)r->element[0]->integer;
	if (ar->from > total) {
		conn_error(ar->c, PROTO_E_AUDIT_RANGE, NULL, "the log holds "
		    "%" PRIu64 " %s; %" PRIu64 " is past its end", total,
		    ar->what == AUDIT_W_ENTRIES ? "entries" : "checkpoints",
		    ar->from);
		goto done;
	}
	room = wz->conf->limits.max_frame - 64;
	if (room > UINT16_MAX)
		room = UINT16_MAX;
	pbuf_init(&items);
	mark = pbuf_list_begin(&items, 4);
	for (i = 1; i < r->elements; i++) {
		before = items.len;
		it.data.p = (const uint8_t *)r->element[i]->str;
		it.data.len = (size_t)r->element[i]->len;
		proto_audit_item_put(&items, &it);
		if (items.len - mark > room) {
			items.len = before;
			if (i == 1) {
				conn_error(ar->c, PROTO_E_AUDIT_ENTRY, NULL,
				    "item %" PRIu64 " is %zu bytes, more than "
				    "one frame holds", ar->from,
				    it.data.len);
				pbuf_free(&items);
				goto done;
			}
			break;
		}
	}
	pbuf_list_end(&items, mark, 4);
	memset(&m, 0, sizeof(m));
	m.what = ar->what;
	m.from = ar->from;
	m.total = total;
	m.items.p = items.data + mark + PROTO_FIELD_HDR;
	m.items.len = items.len - mark - PROTO_FIELD_HDR;
	pbuf_init(&b);
	proto_audit_encode(&b, &m);
	if (items.err != 0 || b.err != 0)
		conn_error(ar->c, PROTO_E_INTERNAL, NULL, "cannot encode AUDIT");
	else
		conn_send(ar->c, &b);
	pbuf_free(&b);
	pbuf_free(&items);
done:
	conn_unref(ar->c);
	free(ar);
}

/*
 * AUDIT_REQ: the log holds every school's facts, so only observers at a
 * police unit at the top of the tree may read it.
 */
void
audit_handle(struct conn *c, const uint8_t *p, size_t len)
{
	struct tprincipal	*pr = conn_principal(c);
	struct proto_audit_req	 rq;
	struct auditreq		*ar;
	const char		*argv[LUA_AUDIT_READ_ARGS];
	char			 from[24], count[24], budget[24];
	uint32_t		 n;
	int			 rv;

	if ((rv = proto_audit_req_decode(p, len, &rq)) != 0) {
		conn_error(c, -rv, NULL, "bad AUDIT_REQ: %s",
		    proto_err_name(-rv));
		return;
	}
	if (pr == NULL || !(pr->rights & PROTO_R_OBSERVE) ||
	    pr->node->parent != NULL) {
		log_info("%s: AUDIT_REQ refused: not an observer at a top "
		    "police unit", conn_name(c));
		conn_error(c, PROTO_E_FORBIDDEN, NULL, "%s may not read the "
		    "audit log: it takes observe at a police unit at the top "
		    "of the tree", pr != NULL ? pr->cn : "?");
		return;
	}
	n = rq.count;
	if (n == 0 || n > wz->conf->audit.page_max)
		n = wz->conf->audit.page_max;
	if ((ar = calloc(1, sizeof(*ar))) == NULL)
		fatal("audit_handle");
	ar->c = c;
	ar->what = rq.what;
	ar->from = rq.from;
	snprintf(from, sizeof(from), "%" PRIu64, rq.from);
	snprintf(count, sizeof(count), "%u", n);
	/* What one frame holds: Redis stops reading soon after it. */
	snprintf(budget, sizeof(budget), "%u", wz->conf->limits.max_frame);
	argv[LUA_AUDIT_READ_PREFIX] = audit_prefix();
	argv[LUA_AUDIT_READ_WHICH] = rq.what == AUDIT_W_ENTRIES ? "log" : "cp";
	argv[LUA_AUDIT_READ_FROM] = from;
	argv[LUA_AUDIT_READ_COUNT] = count;
	argv[LUA_AUDIT_READ_BUDGET] = budget;
	conn_ref(c);
	if (store_eval(STORE_LUA_AUDIT_READ, LUA_AUDIT_READ_ARGS, argv, NULL,
	    audit_reply_cb, ar) == -1) {
		conn_error(c, PROTO_E_STORE, NULL, "store unavailable, try "
		    "again");
		conn_unref(c);
		free(ar);
	}
}
