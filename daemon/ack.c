/* SPDX-License-Identifier: ISC */
/*
 * ack: acknowledgements.  States only move forward, by rank (delivered ->
 * shown -> read -> relayed; see proto_ack_rank: shown's wire value is 4).
 * Acks are checked against the alert cache and the tree, then
 * queued and written to Redis as one script call per batch (at most
 * ack_batch acks each), which updates the agent's state and the counters
 * of every node from the agent's up to the alert's target.  ACK_OK goes
 * out only after Redis has answered, and not at all for an ack flagged
 * QUIET (an agent's automatic delivered): such an ack hears back only
 * if it is refused or could not be stored.
 *
 * Group commit: at most ACK_INFLIGHT batches are in Redis at once.  A lone
 * ack is written at the end of the loop turn that read it; under load the
 * acks that arrive while batches are in flight wait for one to finish and
 * then go together, so the number of script calls follows Redis's pace,
 * not the arrival rate.
 *
 * Receipts: an ACK may carry its receipt, a body signed by the agent's
 * own key (proto/receipt.c).  It is checked here against the session
 * (principal, the peer certificate's key, kept per connection), the ACK
 * itself, the alert (the SHA-256 of its envelope, kept per alert) and
 * the clock (timeouts.skew), and stored as sent by the same script call
 * that stores the ack.  With receipts: required (the default) an ACK
 * without one is refused (313); with optional it is stored without.
 * The signature checks (some 70 us each) do not run where the ACK is
 * read: acks wait in a queue of their own, checked in order a slice of
 * at most ACK_VERIFY_SLICE_US a loop turn, so that ten thousand agents
 * acknowledging at once never hold the loop for long.
 *
 * With redis.wait_replicas, a batch's ACK_OKs wait for a WAIT (shared by
 * the batches answered meanwhile, see store_wait): an ack a fail-over
 * could still lose is answered ERROR 501 instead, and the agent sends it
 * again.  A batch of quiet acks only asks no WAIT.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "clock.h"
#include "log.h"
#include "wuzhad.h"
#include "lua_gen.h"

#define ACK_CHAIN_MAX	PROTO_PATH_MAX	/* nodes from agent to target */
#define ACK_INFLIGHT	2	/* batches waiting for Redis at once */
#define ACK_VERIFY_SLICE_US 5000	/* signature checks a loop turn, at most */

/* One ack waiting to be written. */
struct ackreq {
	struct conn	*c;			/* referenced */
	proto_id	 id;
	proto_id	 cn;
	uint8_t		 state;
	uint32_t	 reach;
	int		 quiet;			/* no ACK_OK wanted */
	int		 nchain;
	proto_id	 chain[ACK_CHAIN_MAX];
	uint8_t		*rcpt;			/* stored receipt, or NULL */
	size_t		 rcptlen;
	char		 fp[2 * PROTO_HASH_LEN + 1];	/* its cert, hex */
	const uint8_t	*der;			/* the cert, if not yet sent
						 * (c's, kept while c is referenced) */
	size_t		 derlen;
	EVP_PKEY	*pub;			/* to check the receipt with, or
						 * NULL (checked, or none); c's */
};

/* A batch in flight. */
struct ackbatch {
	struct ackreq	*v;
	size_t		 n;
	long long	*res;		/* the script's answer per ack */
	int		 stored;	/* the script answered */
};

static struct ackreq	*queue;
static size_t		 queued, queue_cap;
/* Acks whose receipt's signature is still to be checked, in order. */
static struct ackreq	*vq;
static size_t		 vq_head, vq_n, vq_cap;
static struct event	*verify_ev;
static struct event	*flush_ev;
static int		 flush_scheduled;
static int		 inflight;
static int		 waiting;	/* batches waiting for WAIT */
static uint64_t		 batches, acks_written;

static void	ack_flush_cb(evutil_socket_t, short, void *);
static void	ack_verify_cb(evutil_socket_t, short, void *);
static void	ack_schedule(void);

void
ack_init(void)
{
	/* Made active by the first ack of a turn, it runs after the reads
	 * already waiting in this turn, so their acks share one call. */
	if ((flush_ev = event_new(wz->base, -1, 0, ack_flush_cb, NULL)) == NULL ||
	    (verify_ev = event_new(wz->base, -1, 0, ack_verify_cb,
	    NULL)) == NULL)
		fatalx("ack_init: event_new");
}

void
ack_free(void)
{
	size_t	i;

	for (i = 0; i < queued; i++) {
		free(queue[i].rcpt);
		conn_unref(queue[i].c);
	}
	free(queue);
	queue = NULL;
	queued = queue_cap = 0;
	for (i = vq_head; i < vq_n; i++) {
		free(vq[i].rcpt);
		conn_unref(vq[i].c);
	}
	free(vq);
	vq = NULL;
	vq_head = vq_n = vq_cap = 0;
	if (flush_ev != NULL)
		event_free(flush_ev);
	flush_ev = NULL;
	if (verify_ev != NULL)
		event_free(verify_ev);
	verify_ev = NULL;
}

static void
ack_send_ok(struct conn *c, const char *id, uint8_t state)
{
	struct proto_ack_ok	ok;
	struct proto_buf	b;

	memset(&ok, 0, sizeof(ok));
	strlcpy(ok.id, id, sizeof(ok.id));
	ok.state = state;
	pbuf_init(&b);
	proto_ack_ok_encode(&b, &ok);
	conn_send(c, &b);
	pbuf_free(&b);
}

/* Answer each ack of a batch; ok: the replicas have it (or no WAIT). */
static void
ack_answer(struct ackbatch *ab, int ok)
{
	struct ackreq	*q;
	long long	 v;
	size_t		 i;

	for (i = 0; i < ab->n; i++) {
		q = &ab->v[i];
		free(q->rcpt);
		q->rcpt = NULL;
		if (!conn_alive(q->c)) {
			conn_unref(q->c);
			continue;
		}
		v = ab->stored ? ab->res[i] : 0;
		if (!ab->stored) {
			conn_error(q->c, PROTO_E_STORE, q->id, "ack not stored, "
			    "store unavailable; send it again");
		} else if (v == -1000) {
			conn_error(q->c, PROTO_E_UNKNOWN_ALERT, q->id, "no such "
			    "alert");
		} else if (v > 0 || q->state == PROTO_ACK_DELIVERED ||
		    q->state == PROTO_ACK_SHOWN || -v == q->state) {
			/*
			 * Stored, or already there (or beyond): idempotent,
			 * not counted.  The automatic states, delivered and
			 * shown, may come late (a page opened after reading)
			 * and are no error.
			 */
			if (v > 0)
				log_debug("ack %s %s %s stored", q->id, q->cn,
				    proto_ack_state_name(q->state));
			if (q->quiet)
				;
			else if (!ok)
				conn_error(q->c, PROTO_E_STORE, q->id, "ack not "
				    "confirmed by the replicas; send it again");
			else
				ack_send_ok(q->c, q->id, (uint8_t)(v > 0 ? v : -v));
		} else {
			conn_error(q->c, PROTO_E_BACKWARDS, q->id, "state is "
			    "already %s, cannot go back to %s",
			    proto_ack_state_name((int)-v),
			    proto_ack_state_name(q->state));
		}
		conn_unref(q->c);
	}
	free(ab->res);
	free(ab->v);
	free(ab);
}

static void
ack_waited_cb(int ok, void *arg)
{
	waiting--;
	ack_answer(arg, ok);
}

static void
ack_done_cb(redisReply *r, void *arg)
{
	struct ackbatch	*ab = arg;
	struct ackreq	*q;
	long long	 v;
	size_t		 i;
	int		 ok, confirm = 0;

	ok = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == ab->n;
	if (!ok)
		log_warnx("ack: batch of %zu not stored: %s", ab->n,
		    r != NULL && r->type == REDIS_REPLY_ERROR ? r->str : "no reply");
	ab->stored = ok;
	if (ok && (ab->res = calloc(ab->n, sizeof(*ab->res))) == NULL)
		fatal("ack_done_cb");
	for (i = 0; ok && i < ab->n; i++) {
		q = &ab->v[i];
		v = ab->res[i] = r->element[i]->integer;
		confirm |= !q->quiet;
		/* certs has it now (HSETNX): not sent again on c. */
		if (q->der != NULL && conn_alive(q->c))
			conn_peer_cert_stored(q->c);
		if (v >= PROTO_ACK_DELIVERED && v <= PROTO_ACK_MAX) {
			struct alert *a = alerts_get(q->id);

			/* A drill's acks are counted apart from real ones. */
			metrics_count((a != NULL && a->r.status !=
			    PROTO_STATUS_ACTUAL ? M_DRILL_ACK_DELIVERED :
			    M_ACK_DELIVERED) + (int)v - PROTO_ACK_DELIVERED, 1);
			if (i == 0 || strcmp(q->id, ab->v[i - 1].id) != 0)
				watch_alert_changed(q->id);
		}
	}
	if (ok && confirm && wz->conf->redis.wait_replicas > 0) {
		waiting++;
		store_wait(ack_waited_cb, ab);
	} else
		ack_answer(ab, 1);
	/* Not flushed from here: a failed store_eval calls back at once. */
	inflight--;
	ack_schedule();
}

/* Write up to ack_batch queued acks as one script call. */
static void
ack_flush_one(void)
{
	struct ackbatch	 *ab;
	struct ackreq	 *q;
	const char	**argv;
	size_t		 *lens;
	char		(*nums)[3][24];
	struct proto_buf  hr, hc;
	char		  now[24];
	uint64_t	  t;
	size_t		  n, i, argc = 0, maxargs;
	int		  j;

	n = queued < wz->conf->limits.ack_batch ? queued :
	    wz->conf->limits.ack_batch;
	if ((ab = calloc(1, sizeof(*ab))) == NULL ||
	    (ab->v = calloc(n, sizeof(*ab->v))) == NULL)
		fatal("ack_flush");
	memcpy(ab->v, queue, n * sizeof(*queue));
	ab->n = n;
	memmove(queue, queue + n, (queued - n) * sizeof(*queue));
	queued -= n;

	maxargs = LUA_ACK_ARGS + n * (8 + ACK_CHAIN_MAX);
	if ((argv = calloc(maxargs, sizeof(*argv))) == NULL ||
	    (lens = calloc(maxargs, sizeof(*lens))) == NULL ||
	    (nums = calloc(n, sizeof(*nums))) == NULL)
		fatal("ack_flush");
	t = now_ms();
	snprintf(now, sizeof(now), "%" PRIu64, t);
	argv[LUA_ACK_PREFIX] = store_key("%s", "");
	argv[LUA_ACK_NOW] = now;
	argv[LUA_ACK_BY] = wz->name;
	/* The heads of this batch's audit entries (see lua/ack.lua). */
	pbuf_init(&hr);
	pbuf_init(&hc);
	if (audit_entry_head(&hr, AUDIT_K_RECEIPT, t, wz->name) == -1 ||
	    audit_entry_head(&hc, AUDIT_K_CERT, t, wz->name) == -1)
		fatal("ack_flush: audit entry head");
	argv[LUA_ACK_AUDIT_RECEIPT] = (const char *)hr.data;
	lens[LUA_ACK_AUDIT_RECEIPT] = hr.len;
	argv[LUA_ACK_AUDIT_CERT] = (const char *)hc.data;
	lens[LUA_ACK_AUDIT_CERT] = hc.len;
	argc = LUA_ACK_ARGS;
	for (i = 0; i < n; i++) {
		q = &ab->v[i];
		snprintf(nums[i][0], sizeof(nums[i][0]), "%u", q->state);
		snprintf(nums[i][1], sizeof(nums[i][1]), "%u", q->reach);
		snprintf(nums[i][2], sizeof(nums[i][2]), "%d", q->nchain);
		argv[argc++] = q->id;
		argv[argc++] = q->cn;
		argv[argc++] = nums[i][0];
		argv[argc++] = nums[i][1];
		/* The receipt, its cert's fingerprint and (once) the cert. */
		lens[argc] = q->rcptlen;
		argv[argc++] = q->rcpt != NULL ? (const char *)q->rcpt : "";
		argv[argc++] = q->fp;
		lens[argc] = q->derlen;
		argv[argc++] = q->der != NULL ? (const char *)q->der : "";
		argv[argc++] = nums[i][2];
		for (j = 0; j < q->nchain; j++)
			argv[argc++] = q->chain[j];
	}
	for (i = 0; i < argc; i++)
		if (lens[i] == 0)
			lens[i] = strlen(argv[i]);
	inflight++;
	if (store_eval(STORE_LUA_ACK, (int)argc, argv, lens, ack_done_cb,
	    ab) == -1)
		ack_done_cb(NULL, ab);
	else {
		batches++;
		acks_written += n;
		log_debug("ack: batch %" PRIu64 " of %zu ack%s sent", batches,
		    n, n == 1 ? "" : "s");
	}
	free(argv);
	free(lens);
	free(nums);
	pbuf_free(&hr);
	pbuf_free(&hc);
}

static void
ack_flush_cb(evutil_socket_t fd, short ev, void *arg)
{
	flush_scheduled = 0;
	while (queued > 0 && inflight < ACK_INFLIGHT)
		ack_flush_one();
}

/* Have the queue flushed at the end of this loop turn if a batch may go. */
static void
ack_schedule(void)
{
	if (queued > 0 && inflight < ACK_INFLIGHT && !flush_scheduled &&
	    flush_ev != NULL) {
		flush_scheduled = 1;
		event_active(flush_ev, 0, 0);
	}
}

/* Acks received and not yet answered by Redis (shutdown waits for them). */
size_t
ack_outstanding(void)
{
	return queued + (vq_n - vq_head) + (size_t)inflight + (size_t)waiting;
}

/* Append q to the queue of acks to write (its reference goes with it). */
static void
ack_enqueue(const struct ackreq *q)
{
	void	*nv;

	if (queued == queue_cap) {
		queue_cap = queue_cap ? queue_cap * 2 : 256;
		if ((nv = reallocarray(queue, queue_cap, sizeof(*queue))) == NULL)
			fatal("ack_enqueue");
		queue = nv;
	}
	queue[queued++] = *q;
}

/* 0 if q's receipt is signed by its session's key; else ERROR 311, -1. */
static int
ack_check_sig(struct ackreq *q)
{
	struct proto_stored_receipt	st;
	int				rv;

	if (proto_stored_receipt_decode(q->rcpt, q->rcptlen, &st) != 0)
		rv = -PROTO_E_INTERNAL;
	else
		rv = proto_receipt_check_sig(st.body.p, st.body.len, st.sig.p,
		    st.sig.len, q->pub);
	q->pub = NULL;
	if (rv == 0)
		return 0;
	if (conn_alive(q->c))
		conn_error(q->c, -rv, q->id, "receipt of %s: signature does not "
		    "match its certificate's key", q->cn);
	return -1;
}

/*
 * Check the signatures of the acks waiting, in order, for at most
 * ACK_VERIFY_SLICE_US; those that hold go on to be written, the rest
 * wait for the next loop turn.
 */
static void
ack_verify_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct ackreq	*q;
	uint64_t	 start = mono_us();
	unsigned	 n = 0;

	while (vq_head < vq_n) {
		q = &vq[vq_head++];
		if (q->pub != NULL && ack_check_sig(q) == -1) {
			free(q->rcpt);
			conn_unref(q->c);
		} else
			ack_enqueue(q);
		if ((++n & 15) == 0 && mono_us() - start >= ACK_VERIFY_SLICE_US)
			break;
	}
	if (vq_head == vq_n)
		vq_head = vq_n = 0;
	else
		wz_next_turn(verify_ev);
	ack_schedule();
}

/* q waits for its signature check (all acks do, to keep their order). */
static void
ack_verify_later(const struct ackreq *q)
{
	void	*nv;

	if (vq_head > 0 && vq_n == vq_cap) {
		memmove(vq, vq + vq_head, (vq_n - vq_head) * sizeof(*vq));
		vq_n -= vq_head;
		vq_head = 0;
	}
	if (vq_n == vq_cap) {
		vq_cap = vq_cap ? vq_cap * 2 : 256;
		if ((nv = reallocarray(vq, vq_cap, sizeof(*vq))) == NULL)
			fatal("ack_verify_later");
		vq = nv;
	}
	vq[vq_n++] = *q;
	if (vq_n - vq_head == 1 && !event_pending(verify_ev, EV_TIMEOUT,
	    NULL))
		event_active(verify_ev, 0, 0);
}

/* ERROR 308 for an ack of id, saying why it is not live (if known). */
static void
ack_not_live(struct conn *c, const char *id, uint64_t expires,
    const char *cancelled_by)
{
	char	t[40];

	if (cancelled_by != NULL && cancelled_by[0] != '\0')
		conn_error(c, PROTO_E_UNKNOWN_ALERT, id, "alert %s was "
		    "cancelled (by %s): nothing more is counted", id,
		    cancelled_by);
	else if (expires != 0 && expires <= now_ms())
		conn_error(c, PROTO_E_UNKNOWN_ALERT, id, "alert %s expired at "
		    "%s: its counters are frozen", id, clock_str(expires,
		    "%Y-%m-%d %H:%M:%S UTC", CLOCK_UTC, t, sizeof(t)));
	else
		conn_error(c, PROTO_E_UNKNOWN_ALERT, id, "no such live alert "
		    "%s", id);
}

/* An ack of an id that is not live: what Redis knows of it. */
struct ackwhy {
	struct conn	*c;		/* referenced */
	proto_id	 id;
};

static void
ack_why_cb(redisReply *r, void *arg)
{
	struct ackwhy	*w = arg;
	uint64_t	 expires = 0;
	const char	*by = NULL;

	if (conn_alive(w->c)) {
		if (r != NULL && r->type == REDIS_REPLY_ARRAY &&
		    r->elements == 2) {
			if (r->element[0]->type == REDIS_REPLY_STRING)
				expires = strtoull(r->element[0]->str, NULL, 10);
			if (r->element[1]->type == REDIS_REPLY_STRING)
				by = r->element[1]->str;
		}
		ack_not_live(w->c, w->id, expires, by);
	}
	conn_unref(w->c);
	free(w);
}

/*
 * Not in the cache: expired and swept, cancelled, or never.  One lookup
 * on this error path only, so the reply can say which.
 */
static void
ack_why_not_live(struct conn *c, const char *id)
{
	struct ackwhy	*w;
	const char	*argv[4];

	if ((w = calloc(1, sizeof(*w))) == NULL)
		fatal("ack_why_not_live");
	conn_ref(c);
	w->c = c;
	strlcpy(w->id, id, sizeof(w->id));
	argv[0] = "HMGET";
	argv[1] = store_key("alert:%s", id);
	argv[2] = "expires";
	argv[3] = "cancelled_by";
	if (store_cmd(4, argv, NULL, ack_why_cb, w) == -1) {
		conn_unref(c);
		free(w);
		ack_not_live(c, id, 0, NULL);
	}
}

/* The SHA-256 of a's envelope, as the ALERT frame carries it (cached). */
static const uint8_t *
ack_env_hash(struct alert *a)
{
	if (!a->env_hashed) {
		if (proto_sha256(a->r.env, a->r.envlen, a->env_hash) != 0)
			fatalx("ack: SHA-256 failed");
		a->env_hashed = 1;
	}
	return a->env_hash;
}

/*
 * Check the receipt of ack (if any) and put its stored form in q.  0 if
 * the ack may go on; else ERROR 311, 312 or 313 sent, and -1.
 */
static int
ack_receipt(struct conn *c, const struct tprincipal *pr, struct alert *a,
    const struct proto_ack *ack, struct ackreq *q)
{
	const struct conn_peer		*pe;
	struct proto_receipt		 r;
	struct proto_stored_receipt	 st;
	struct proto_buf		 b;
	uint64_t			 now, skew;
	size_t				 i;
	int				 rv;

	if (ack->receipt.len == 0) {
		if (!wz->conf->receipts_required)
			return 0;
		conn_error(c, PROTO_E_UNSIGNED, ack->id, "unsigned ack from %s: "
		    "receipts are required", pr->cn);
		return -1;
	}
	if ((rv = proto_receipt_decode(ack->receipt.p, ack->receipt.len,
	    &r)) != 0) {
		conn_error(c, PROTO_E_RECEIPT, ack->id, "receipt of %s does not "
		    "decode: %s", pr->cn, proto_err_name(-rv));
		return -1;
	}
	if (strcmp(r.principal, pr->cn) != 0) {
		conn_error(c, PROTO_E_RECEIPT, ack->id, "receipt names %s, the "
		    "session is %s's", r.principal, pr->cn);
		return -1;
	}
	if (strcmp(r.id, ack->id) != 0 || r.state != ack->state ||
	    r.has_reach != ack->has_reach || r.reach != ack->reach) {
		conn_error(c, PROTO_E_RECEIPT, ack->id, "receipt of %s says %s "
		    "%s, the ack %s %s", pr->cn, r.id,
		    proto_ack_state_name(r.state), ack->id,
		    proto_ack_state_name(ack->state));
		return -1;
	}
	if (memcmp(r.env_hash.p, ack_env_hash(a), PROTO_HASH_LEN) != 0) {
		conn_error(c, PROTO_E_RECEIPT, ack->id, "receipt of %s is for "
		    "another envelope than alert %s's", pr->cn, a->r.id);
		return -1;
	}
	if ((pe = conn_peer(c)) == NULL) {
		conn_error(c, PROTO_E_INTERNAL, ack->id, "no peer certificate to "
		    "check the receipt with");
		return -1;
	}
	/* The signature is checked later, sliced (ack_verify_cb). */
	q->pub = pe->pub;
	now = now_ms();
	skew = (uint64_t)wz->conf->timeouts.skew_s * 1000;
	if (r.at + skew < now || r.at > now + skew) {
		conn_error(c, PROTO_E_RECEIPT_STALE, ack->id, "receipt of %s made "
		    "at %" PRIu64 ", %" PRIu64 " s from the server's clock "
		    "(window %u s)", pr->cn, r.at, (r.at < now ? now - r.at :
		    r.at - now) / 1000, wz->conf->timeouts.skew_s);
		return -1;
	}
	memset(&st, 0, sizeof(st));
	st.body = ack->receipt;
	st.cert_fp.p = pe->fp;
	st.cert_fp.len = PROTO_HASH_LEN;
	st.sig = ack->sig;
	pbuf_init(&b);
	proto_stored_receipt_encode(&b, &st);
	if (b.err != 0) {
		pbuf_free(&b);
		conn_error(c, PROTO_E_INTERNAL, ack->id, "cannot encode the "
		    "receipt");
		return -1;
	}
	q->rcpt = pbuf_take(&b, &q->rcptlen);
	for (i = 0; i < PROTO_HASH_LEN; i++)
		snprintf(q->fp + 2 * i, 3, "%02x", pe->fp[i]);
	if (!pe->cert_stored) {
		q->der = pe->der;
		q->derlen = pe->derlen;
	}
	return 0;
}

void
ack_handle(struct conn *c, const uint8_t *p, size_t len)
{
	struct tprincipal	*pr = conn_principal(c);
	struct proto_ack	 ack;
	struct alert		*a;
	struct tnode		*target, *n;
	struct ackreq		*q, rq;
	int			 rv;

	if ((rv = proto_ack_decode(p, len, &ack)) != 0) {
		conn_error(c, -rv, NULL, "bad ACK: %s", proto_err_name(-rv));
		return;
	}
	if (proto_ack_rank(ack.state) < proto_ack_rank(PROTO_ACK_DELIVERED)) {
		conn_error(c, PROTO_E_VALUE, ack.id, "bad ack state %u", ack.state);
		return;
	}
	if (ack.has_reach && ack.state != PROTO_ACK_RELAYED) {
		conn_error(c, PROTO_E_VALUE, ack.id, "a head count goes with "
		    "relayed only");
		return;
	}
	if ((a = alerts_get(ack.id)) != NULL && a->r.expires <= now_ms()) {
		/* Past expiry the counters are frozen, even before the sweep. */
		ack_not_live(c, ack.id, a->r.expires, NULL);
		return;
	}
	if (a == NULL) {
		ack_why_not_live(c, ack.id);
		return;
	}
	target = tree_node(wz->tree, a->r.target);
	if (!(pr->rights & PROTO_R_RECEIVE) || target == NULL ||
	    !tree_covers(target, pr->node)) {
		conn_error(c, PROTO_E_NOT_ADDRESSED, ack.id, "alert %s was not "
		    "sent to %s", a->r.id, pr->cn);
		return;
	}
	memset(&rq, 0, sizeof(rq));
	if (ack_receipt(c, pr, a, &ack, &rq) == -1)
		return;
	q = &rq;
	conn_ref(c);
	q->c = c;
	strlcpy(q->id, a->r.id, sizeof(q->id));
	strlcpy(q->cn, pr->cn, sizeof(q->cn));
	q->state = ack.state;
	q->reach = ack.has_reach ? ack.reach : 0;
	q->quiet = (ack.flags & PROTO_ACKF_QUIET) != 0;
	for (n = pr->node; n != NULL && q->nchain < ACK_CHAIN_MAX; n = n->parent) {
		strlcpy(q->chain[q->nchain++], n->id, sizeof(q->chain[0]));
		if (n == target)
			break;
	}
	ack_verify_later(q);
}
