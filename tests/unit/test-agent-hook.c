/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of the agent's hand-over queue (client/agent_hook.c) with a
 * real /bin/sh hook in a real event loop: a hook that fails is told to the
 * owner with ok = 0 and run again after a backoff from agent_hook_set_retry
 * (doubling, capped), the alert still the module's; once it works, ok = 1;
 * an alert queued meanwhile waits behind it; agent_hook_setenv's variables
 * reach the hook, bad names and one too many are refused; a cancel of
 * the failing alert, or its expiry, ends its retries; stop cancels a
 * pending retry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "agent.h"
#include "clock.h"
#include "log.h"

#define NCALLS_MAX	16

static char	dir[256];

/* What the done callback saw, in order. */
static struct {
	int			 n;
	int			 ok[NCALLS_MAX];
	const struct agent_alert *al[NCALLS_MAX];
	proto_id		 id[NCALLS_MAX];
	double			 t[NCALLS_MAX];
	int			 stop_at;	/* loopbreak after this many */
	struct event_base	*base;
} calls;

static double
now_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
done_cb(struct agent_alert *al, int ok, void *arg)
{
	(void)arg;
	if (calls.n < NCALLS_MAX) {
		calls.ok[calls.n] = ok;
		calls.al[calls.n] = al;
		/* Read the alert: it must still be alive, either way. */
		snprintf(calls.id[calls.n], sizeof(calls.id[0]), "%s",
		    al->a.id);
		calls.t[calls.n] = now_s();
		calls.n++;
	}
	if (calls.n >= calls.stop_at)
		event_base_loopbreak(calls.base);
}

static void
guard_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	event_base_loopbreak(arg);
}

/* Run the loop until stop_at calls or ms have passed. */
static void
run_loop(struct event_base *base, int stop_at, int ms)
{
	struct event	*guard;
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };

	calls.stop_at = stop_at;
	calls.base = base;
	guard = evtimer_new(base, guard_cb, base);
	assert_non_null(guard);
	evtimer_add(guard, &tv);
	event_base_dispatch(base);
	event_free(guard);
}

static struct agent_alert *
alert(const char *id, uint64_t seq)
{
	static const char	 headline[] = "测试预警";
	struct agent_alert	*al;

	al = calloc(1, sizeof(*al));
	assert_non_null(al);
	al->seq = seq;
	snprintf(al->a.id, sizeof(al->a.id), "%s", id);
	snprintf(al->a.issuer, sizeof(al->a.issuer), "officer-li");
	snprintf(al->a.target, sizeof(al->a.target), "school-a");
	al->a.msg_type = 1;
	al->a.category = 1;
	al->a.severity = 2;
	al->a.headline.p = (const uint8_t *)headline;
	al->a.headline.len = sizeof(headline) - 1;
	al->a.expires_at = now_ms() + 3600000;
	return al;
}

/* Lines of dir/name, or "" if there is none. */
static char *
slurp(const char *name)
{
	static char	 buf[4096];
	char		 path[512];
	FILE		*f;
	size_t		 n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	buf[0] = '\0';
	if ((f = fopen(path, "r")) == NULL)
		return buf;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int
setup(void **state)
{
	const char	*tmp = getenv("TMPDIR");

	(void)state;
	memset(&calls, 0, sizeof(calls));
	snprintf(dir, sizeof(dir), "%s/wz-hook-XXXXXX", tmp ? tmp : "/tmp");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char	cmd[512];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/*
 * A hook that logs "ID N X0 X8" per run and fails the first `fails`
 * runs of each alert.
 */
static struct agent_hook *
counting_hook(struct event_base *base, int fails)
{
	char	cmd[1024];

	snprintf(cmd, sizeof(cmd),
	    "d='%s'; n=$(cat \"$d/n-$WUZHA_ID\" 2>/dev/null || echo 0); "
	    "n=$((n + 1)); echo $n >\"$d/n-$WUZHA_ID\"; "
	    "echo \"$WUZHA_ID $n ${WUZHA_INBOX_URL:-none} ${X7:-none} "
	    "${X8:-none}\" >>\"$d/runs\"; [ $n -gt %d ]", dir, fails);
	return agent_hook_new(base, cmd, 5000, "adv-a11", done_cb, NULL);
}

static void
test_failing_hook_retried_with_backoff(void **state)
{
	struct event_base	*base;
	struct agent_hook	*h;
	struct agent_alert	*a1;
	double			 d1, d2, d3;

	(void)state;
	base = event_base_new();
	assert_non_null(base);
	h = counting_hook(base, 3);
	assert_non_null(h);
	agent_hook_set_retry(h, 100, 300);
	a1 = alert("a1", 1);
	assert_int_equal(agent_hook_push(h, a1), 0);
	run_loop(base, 1, 5000);
	assert_int_equal(calls.n, 1);
	assert_int_equal(calls.ok[0], 0);
	/* Queued behind the failing one, though its hook would work. */
	assert_int_equal(agent_hook_push(h, alert("a2", 2)), 0);
	assert_true(agent_hook_has(h, "a1"));
	assert_true(agent_hook_has(h, "a2"));
	run_loop(base, 5, 10000);
	agent_hook_free(h);
	event_base_free(base);

	/* a1: failed 3 times, then worked; a2 (failing 3 times too) after. */
	assert_int_equal(calls.n, 5);
	assert_string_equal(calls.id[0], "a1");
	assert_string_equal(calls.id[1], "a1");
	assert_string_equal(calls.id[2], "a1");
	assert_string_equal(calls.id[3], "a1");
	assert_string_equal(calls.id[4], "a2");
	assert_int_equal(calls.ok[0], 0);
	assert_int_equal(calls.ok[1], 0);
	assert_int_equal(calls.ok[2], 0);
	assert_int_equal(calls.ok[3], 1);
	assert_int_equal(calls.ok[4], 0);
	assert_ptr_equal(calls.al[0], calls.al[3]);
	/* 100 ms, 200 ms, then capped at 300 ms (not 400). */
	d1 = calls.t[1] - calls.t[0];
	d2 = calls.t[2] - calls.t[1];
	d3 = calls.t[3] - calls.t[2];
	assert_true(d1 >= 0.095 && d1 < 1.0);
	assert_true(d2 >= 0.195 && d2 < 1.5);
	assert_true(d3 >= 0.295 && d3 < 0.38);
	/* a2 ran first only after a1 was handed over. */
	assert_true(calls.t[4] >= calls.t[3]);
	assert_string_equal(slurp("runs"),
	    "a1 1 none none none\na1 2 none none none\na1 3 none none none\n"
	    "a1 4 none none none\na2 1 none none none\n");
}

static void
test_setenv_reaches_the_hook_bounded(void **state)
{
	struct event_base	*base;
	struct agent_hook	*h;
	char			 name[8];
	int			 i;

	(void)state;
	base = event_base_new();
	assert_non_null(base);
	h = counting_hook(base, 0);
	assert_non_null(h);
	agent_hook_setenv(h, "WUZHA_INBOX_URL", "http://127.0.0.1:1/old");
	agent_hook_setenv(h, "WUZHA_INBOX_URL", "http://127.0.0.1:1/x?k=1");
	/* Refused: per-alert names, not names, too long a value. */
	agent_hook_setenv(h, "WUZHA_ID", "forged");
	agent_hook_setenv(h, "1X", "v");
	agent_hook_setenv(h, "A=B", "v");
	agent_hook_setenv(h, "", "v");
	/* Seven more make eight; the ninth is refused, until one goes. */
	for (i = 1; i <= 7; i++) {
		snprintf(name, sizeof(name), "X%d", i);
		agent_hook_setenv(h, name, "seven");
	}
	agent_hook_setenv(h, "X8", "eight");
	agent_hook_push(h, alert("b1", 1));
	run_loop(base, 1, 5000);
	assert_int_equal(calls.n, 1);
	assert_int_equal(calls.ok[0], 1);
	assert_string_equal(slurp("runs"),
	    "b1 1 http://127.0.0.1:1/x?k=1 seven none\n");

	agent_hook_setenv(h, "X7", NULL);
	agent_hook_setenv(h, "X8", "eight");
	agent_hook_push(h, alert("b2", 2));
	run_loop(base, 2, 5000);
	assert_int_equal(calls.n, 2);
	assert_int_equal(calls.ok[1], 1);
	assert_string_equal(slurp("runs"),
	    "b1 1 http://127.0.0.1:1/x?k=1 seven none\n"
	    "b2 1 http://127.0.0.1:1/x?k=1 none eight\n");
	agent_hook_free(h);
	event_base_free(base);
}

static struct agent_alert *
cancel_of(const char *id, uint64_t seq, const char *orig)
{
	struct agent_alert	*al = alert(id, seq);

	al->a.msg_type = PROTO_MSG_CANCEL;
	snprintf(al->a.references, sizeof(al->a.references), "%s", orig);
	return al;
}

/* A hook failing for plain alerts, working for cancels. */
static struct agent_hook *
alerts_fail_hook(struct event_base *base, uint32_t timeout_ms,
    const char *before)
{
	char	cmd[1024];

	snprintf(cmd, sizeof(cmd), "%s echo \"$WUZHA_ID\" >>'%s/runs'; "
	    "[ \"$WUZHA_TYPE\" = cancel ]", before, dir);
	return agent_hook_new(base, cmd, timeout_ms, "adv-a11", done_cb, NULL);
}

static void
test_cancel_ends_the_retries_of_its_original(void **state)
{
	struct event_base	*base;
	struct agent_hook	*h;
	char			 runs[300];

	(void)state;
	base = event_base_new();
	assert_non_null(base);

	/* The cancel comes while the original waits to be run again. */
	h = alerts_fail_hook(base, 5000, "");
	assert_non_null(h);
	agent_hook_set_retry(h, 60000, 60000);
	agent_hook_push(h, alert("o1", 1));
	run_loop(base, 1, 5000);
	assert_int_equal(calls.n, 1);
	assert_int_equal(calls.ok[0], 0);
	agent_hook_push(h, cancel_of("k1", 2, "o1"));
	assert_false(agent_hook_has(h, "o1"));
	run_loop(base, 2, 5000);
	assert_int_equal(calls.n, 2);
	assert_string_equal(calls.id[1], "k1");
	assert_int_equal(calls.ok[1], 1);
	assert_string_equal(slurp("runs"), "o1\nk1\n");
	agent_hook_free(h);

	/* The cancel comes while the original's hook runs, and fails. */
	memset(&calls, 0, sizeof(calls));
	snprintf(runs, sizeof(runs), "%s/runs", dir);
	unlink(runs);
	h = alerts_fail_hook(base, 5000, "sleep 0.3;");
	assert_non_null(h);
	agent_hook_set_retry(h, 60000, 60000);
	agent_hook_push(h, alert("o2", 1));
	agent_hook_push(h, cancel_of("k2", 2, "o2"));
	run_loop(base, 2, 5000);
	assert_int_equal(calls.n, 2);
	assert_string_equal(calls.id[0], "o2");
	assert_int_equal(calls.ok[0], 0);
	assert_string_equal(calls.id[1], "k2");
	assert_int_equal(calls.ok[1], 1);
	assert_false(agent_hook_has(h, "o2"));
	assert_string_equal(slurp("runs"), "o2\nk2\n");
	agent_hook_free(h);
	event_base_free(base);
}

static void
test_expired_alert_is_not_tried_again(void **state)
{
	struct event_base	*base;
	struct agent_hook	*h;
	struct agent_alert	*al;

	(void)state;
	base = event_base_new();
	assert_non_null(base);
	h = counting_hook(base, 1000);
	assert_non_null(h);
	agent_hook_set_retry(h, 300, 300);
	al = alert("e1", 1);
	al->a.expires_at = now_ms() + 150;
	agent_hook_push(h, al);
	agent_hook_push(h, alert("e2", 2));
	/* e1 fails, waits 300 ms, fails again expired: dropped; e2 runs. */
	run_loop(base, 3, 5000);
	assert_int_equal(calls.n, 3);
	assert_string_equal(calls.id[0], "e1");
	assert_string_equal(calls.id[1], "e1");
	assert_string_equal(calls.id[2], "e2");
	assert_false(agent_hook_has(h, "e1"));
	assert_true(agent_hook_has(h, "e2"));
	agent_hook_free(h);
	event_base_free(base);
}

static void
test_stop_cancels_a_pending_retry(void **state)
{
	struct event_base	*base;
	struct agent_hook	*h;

	(void)state;
	base = event_base_new();
	assert_non_null(base);
	h = counting_hook(base, 1000);
	assert_non_null(h);
	agent_hook_set_retry(h, 200, 200);
	agent_hook_push(h, alert("c1", 1));
	run_loop(base, 1, 5000);
	assert_int_equal(calls.n, 1);
	assert_int_equal(calls.ok[0], 0);
	agent_hook_stop(h);
	assert_false(agent_hook_has(h, "c1"));
	/* Longer than the backoff: nothing runs any more. */
	run_loop(base, 2, 700);
	assert_int_equal(calls.n, 1);
	assert_string_equal(slurp("runs"), "c1 1 none none none\n");
	agent_hook_free(h);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_failing_hook_retried_with_backoff, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_setenv_reaches_the_hook_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_cancel_ends_the_retries_of_its_original, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_expired_alert_is_not_tried_again, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_stop_cancels_a_pending_retry, setup, teardown),
	};

	log_init("test-agent-hook", LOG_L_WARNING, LOG_PRIO_ALWAYS);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
