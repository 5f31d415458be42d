/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of the agent's state file: ids shown and ids withdrawn by a
 * cancel survive a save and a load; version 1 files are still read and
 * still written while nothing is withdrawn; bad files are refused with
 * path, line and reason; expired ids are dropped on save.
 */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent.h"
#include "log.h"

#define FAR	UINT64_C(4102444800000)		/* 2100-01-01 */
#define NOW	UINT64_C(1800000000000)

static char	dir[256];
static char	path[300];

static int
setup(void **state)
{
	const char	*tmp = getenv("TMPDIR");

	(void)state;
	snprintf(dir, sizeof(dir), "%s/wz-state-XXXXXX", tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/agent.state", dir);
	return 0;
}

static int
teardown(void **state)
{
	char	tmp[320];

	(void)state;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(path);
	unlink(tmp);
	rmdir(dir);
	return 0;
}

static void
write_file(const char *text)
{
	FILE	*f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static char *
read_file(void)
{
	static char	 buf[4096];
	FILE		*f = fopen(path, "r");
	size_t		 n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void
test_missing_file_is_an_empty_state(void **state)
{
	struct agent_state	*st;
	char			 err[256] = "";

	(void)state;
	st = agent_state_load(path, err, sizeof(err));
	assert_non_null(st);
	assert_int_equal(agent_state_count(st), 0);
	assert_false(agent_state_seen(st, "a1"));
	assert_false(agent_state_withdrawn(st, "a1"));
	agent_state_free(st);
}

static void
test_shown_only_is_written_as_version_1(void **state)
{
	struct agent_state	*st;
	char			 err[256];

	(void)state;
	st = agent_state_load(path, err, sizeof(err));
	assert_non_null(st);
	assert_int_equal(agent_state_add(st, "a1", FAR), 0);
	assert_int_equal(agent_state_save(st, NOW), 0);
	agent_state_free(st);
	assert_string_equal(read_file(),
	    "wuzha-agent-state 1\na1 4102444800000\n");
}

static void
test_withdrawn_ids_survive_a_restart(void **state)
{
	struct agent_state	*st;
	char			 err[256];

	(void)state;
	st = agent_state_load(path, err, sizeof(err));
	assert_non_null(st);
	assert_int_equal(agent_state_add(st, "shown", FAR), 0);
	assert_int_equal(agent_state_add(st, "both", FAR - 5), 0);
	assert_int_equal(agent_state_withdraw(st, "both", FAR - 9), 0);
	assert_int_equal(agent_state_withdraw(st, "never-shown", FAR), 0);
	assert_true(agent_state_seen(st, "both"));
	assert_true(agent_state_withdrawn(st, "both"));
	assert_false(agent_state_seen(st, "never-shown"));
	assert_true(agent_state_withdrawn(st, "never-shown"));
	assert_int_equal(agent_state_save(st, NOW), 0);
	agent_state_free(st);
	assert_non_null(strstr(read_file(), "wuzha-agent-state 2\n"));
	/* The later expiry of the two is kept. */
	assert_non_null(strstr(read_file(),
	    "\nboth 4102444799995 withdrawn\n"));

	st = agent_state_load(path, err, sizeof(err));
	assert_non_null(st);
	assert_int_equal(agent_state_count(st), 3);
	assert_true(agent_state_seen(st, "shown"));
	assert_false(agent_state_withdrawn(st, "shown"));
	assert_true(agent_state_withdrawn(st, "both"));
	assert_true(agent_state_withdrawn(st, "never-shown"));
	assert_false(agent_state_seen(st, "never-shown"));
	agent_state_free(st);
}

static void
test_expired_ids_are_dropped_on_save(void **state)
{
	struct agent_state	*st;
	char			 err[256];

	(void)state;
	st = agent_state_load(path, err, sizeof(err));
	assert_non_null(st);
	assert_int_equal(agent_state_add(st, "old", NOW - 1), 0);
	assert_int_equal(agent_state_withdraw(st, "old-w", NOW), 0);
	assert_int_equal(agent_state_add(st, "new", NOW + 1), 0);
	assert_int_equal(agent_state_save(st, NOW), 0);
	assert_int_equal(agent_state_count(st), 1);
	agent_state_free(st);
	assert_string_equal(read_file(),
	    "wuzha-agent-state 1\nnew 1800000000001\n");
}

/* The envelope hash of version 3 lines: 64 hex digits. */
#define H64 "000102030405060708090a0b0c0d0e0f" \
	    "101112131415161718191a1b1c1d1e1f"

/* The envelope's hash, which receipts sign, survives a restart (version 3). */
static void
test_env_hashes_survive_a_restart(void **state)
{
	struct agent_state	*st;
	const uint8_t		*h;
	uint8_t			 want[PROTO_HASH_LEN];
	char			 err[256];
	int			 i;

	(void)state;
	for (i = 0; i < PROTO_HASH_LEN; i++)
		want[i] = (uint8_t)i;
	st = agent_state_load(path, err, sizeof(err));
	assert_non_null(st);
	assert_int_equal(agent_state_set_hash(st, "none", want), -1);
	assert_int_equal(agent_state_add(st, "a1", NOW + 5), 0);
	assert_null(agent_state_env_hash(st, "a1"));
	assert_int_equal(agent_state_set_hash(st, "a1", want), 0);
	assert_int_equal(agent_state_withdraw(st, "w1", NOW + 5), 0);
	assert_int_equal(agent_state_set_hash(st, "w1", want), 0);
	assert_int_equal(agent_state_add(st, "plain", NOW + 5), 0);
	assert_int_equal(agent_state_save(st, NOW), 0);
	agent_state_free(st);
	assert_string_equal(read_file(), "wuzha-agent-state 3\n"
	    "a1 1800000000005 " H64 "\n"
	    "w1 1800000000005 withdrawn " H64 "\n"
	    "plain 1800000000005\n");
	st = agent_state_load(path, err, sizeof(err));
	assert_non_null(st);
	assert_non_null(h = agent_state_env_hash(st, "a1"));
	assert_memory_equal(h, want, PROTO_HASH_LEN);
	assert_non_null(h = agent_state_env_hash(st, "w1"));
	assert_memory_equal(h, want, PROTO_HASH_LEN);
	assert_true(agent_state_withdrawn(st, "w1"));
	assert_null(agent_state_env_hash(st, "plain"));
	assert_true(agent_state_seen(st, "plain"));
	agent_state_free(st);
}

static void
refused(const char *text, const char *why)
{
	struct agent_state	*st;
	char			 err[512];

	write_file(text);
	err[0] = '\0';
	st = agent_state_load(path, err, sizeof(err));
	assert_null(st);
	if (strstr(err, why) == NULL || strstr(err, path) == NULL)
		fail_msg("error \"%s\" does not name the file and \"%s\"",
		    err, why);
}

static void
test_bad_files_are_refused_with_a_reason(void **state)
{
	(void)state;
	refused("wuzha-agent-state 1\na1 5 withdrawn\n",
	    ":2: unexpected \"withdrawn\" after the expiry");
	refused("wuzha-agent-state 2\na1 5 gone\n",
	    ":2: unexpected \"gone\"");
	refused("wuzha-agent-state 4\n", ":1: not a wuzha-agent state file");
	refused("wuzha-agent-state 2\na1 5 " H64 "\n",
	    ":2: unexpected");
	refused("wuzha-agent-state 3\na1 5 withdrawn abc\n",
	    ":2: unexpected \"abc\" after \"withdrawn\"");
	refused("wuzha-agent-state 3\na1 5 " H64 " withdrawn\n",
	    ":2: unexpected");
	refused("wuzha-agent-state 2\na1 5\na1 6 withdrawn\n",
	    ":3: id a1 listed twice");
	refused("wuzha-agent-state 2\na1 x withdrawn\n", ":2: bad expiry");
	refused("", "empty file");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_missing_file_is_an_empty_state, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_shown_only_is_written_as_version_1, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_withdrawn_ids_survive_a_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_expired_ids_are_dropped_on_save, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_bad_files_are_refused_with_a_reason, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_env_hashes_survive_a_restart, setup, teardown),
	};

	log_init("test-agent-state", LOG_L_WARNING, LOG_PRIO_JOURNAL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
