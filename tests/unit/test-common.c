/* SPDX-License-Identifier: ISC */
/*
 * test-common: the library every program shares.  The UTF-8 decoder
 * against a table of sequences to take and to refuse (overlongs,
 * surrogates, past U+10FFFF, cut short, stray continuation bytes, CJK,
 * combining marks); the clocks and their text; and the log's level filter and "<N>"
 * prefix, read back from stderr sent to a file.
 */
#include <sys/stat.h>

#include <errno.h>
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

#include "clock.h"
#include "compat.h"
#include "edit.h"
#include "log.h"
#include "utf8.h"

struct utf8_case {
	const char	*what;
	const char	*s;
	size_t		 len;	/* bytes of s */
	size_t		 n;	/* utf8_decode's answer at s: 0 refused */
	uint32_t	 cp;	/* the code point when taken */
};

#define U(what, lit, n, cp)	{ what, lit, sizeof(lit) - 1, n, cp }

static const struct utf8_case utf8_cases[] = {
	U("ASCII", "A", 1, 0x41),
	U("NUL is a character", "\x00", 1, 0),
	U("DEL", "\x7f", 1, 0x7f),
	U("first 2-byte", "\xc2\x80", 2, 0x80),
	U("e acute", "\xc3\xa9", 2, 0xe9),
	U("last 2-byte", "\xdf\xbf", 2, 0x7ff),
	U("first 3-byte", "\xe0\xa0\x80", 3, 0x800),
	U("CJK 中", "中", 3, 0x4e2d),
	U("CJK 警", "警", 3, 0x8b66),
	U("fullwidth comma", "，", 3, 0xff0c),
	U("combining acute", "\xcc\x81", 2, 0x301),
	U("combining enclosing keycap", "\xe2\x83\xa3", 3, 0x20e3),
	U("before the surrogates", "\xed\x9f\xbf", 3, 0xd7ff),
	U("after the surrogates", "\xee\x80\x80", 3, 0xe000),
	U("U+FFFF", "\xef\xbf\xbf", 3, 0xffff),
	U("first 4-byte", "\xf0\x90\x80\x80", 4, 0x10000),
	U("emoji", "\xf0\x9f\x9a\xa8", 4, 0x1f6a8),
	U("U+10FFFF", "\xf4\x8f\xbf\xbf", 4, 0x10ffff),
	U("overlong NUL", "\xc0\x80", 0, 0),
	U("overlong slash 2-byte", "\xc1\xaf", 0, 0),
	U("overlong 3-byte", "\xe0\x80\xaf", 0, 0),
	U("overlong U+7FF in 3", "\xe0\x9f\xbf", 0, 0),
	U("overlong 4-byte", "\xf0\x80\x80\xaf", 0, 0),
	U("overlong U+FFFF in 4", "\xf0\x8f\xbf\xbf", 0, 0),
	U("high surrogate", "\xed\xa0\x80", 0, 0),
	U("low surrogate", "\xed\xbf\xbf", 0, 0),
	U("U+110000", "\xf4\x90\x80\x80", 0, 0),
	U("lead 0xf5", "\xf5\x80\x80\x80", 0, 0),
	U("lead 0xff", "\xff", 0, 0),
	U("5-byte form", "\xf8\x88\x80\x80\x80", 0, 0),
	U("lone continuation", "\x80", 0, 0),
	U("last continuation", "\xbf", 0, 0),
	U("2-byte cut short", "\xc3", 0, 0),
	U("3-byte cut short", "\xe4\xb8", 0, 0),
	U("4-byte cut short", "\xf0\x9f\x9a", 0, 0),
	U("2-byte, bad second", "\xc3\x41", 0, 0),
	U("3-byte, bad third", "\xe4\xb8\x41", 0, 0),
	U("4-byte, bad fourth", "\xf0\x9f\x9a\xc0", 0, 0),
};

/* Each case alone, and that utf8_check agrees with utf8_decode. */
static void
test_utf8_table(void **state)
{
	const struct utf8_case	*t;
	uint32_t		 cp;
	size_t			 i, n, bad;

	(void)state;
	for (i = 0; i < sizeof(utf8_cases) / sizeof(utf8_cases[0]); i++) {
		t = &utf8_cases[i];
		cp = 0xdeadbeef;
		n = utf8_decode(t->s, t->len, &cp);
		if (n != t->n)
			fail_msg("%s: decode says %zu, want %zu", t->what, n,
			    t->n);
		if (n != 0 && cp != t->cp)
			fail_msg("%s: U+%04X, want U+%04X", t->what,
			    (unsigned)cp, (unsigned)t->cp);
		/* A taken character is the whole case. */
		if (n != 0 && n != t->len)
			fail_msg("%s: %zu of %zu bytes", t->what, n, t->len);
		bad = 99;
		if (utf8_check(t->s, t->len, &bad) != (t->n != 0 ? 0 : -1))
			fail_msg("%s: check disagrees with decode", t->what);
		if (t->n == 0 && bad != 0)
			fail_msg("%s: bad at %zu, want 0", t->what, bad);
		/* A NULL code point pointer is allowed. */
		assert_int_equal(utf8_decode(t->s, t->len, NULL), t->n);
	}
}

/* The first bad byte is found after good text; nothing is read past len. */
static void
test_utf8_check_offsets(void **state)
{
	const char	*s = "泉城示范大学, café \xcc\x81";
	const char	 cut[] = "警报\xe4\xb8\xad";	/* 警报中 */
	size_t		 bad = 99;

	(void)state;
	assert_int_equal(utf8_check(s, strlen(s), &bad), 0);
	assert_int_equal(bad, 99);
	assert_int_equal(utf8_check("", 0, NULL), 0);
	assert_int_equal(utf8_decode("", 0, NULL), 0);

	assert_int_equal(utf8_check("ab\xed\xa0\x80" "cd", 7, &bad), -1);
	assert_int_equal(bad, 2);
	assert_int_equal(utf8_check("中\xc0\x80", 5, &bad), -1);
	assert_int_equal(bad, 3);
	/* Cut inside 中: the whole text is fine, one byte short is not. */
	assert_int_equal(utf8_check(cut, 9, NULL), 0);
	assert_int_equal(utf8_check(cut, 8, &bad), -1);
	assert_int_equal(bad, 6);
	assert_int_equal(utf8_decode(cut + 6, 2, NULL), 0);
	assert_int_equal(utf8_check(cut, 6, NULL), 0);
}

/* A cut never splits a character. */
static void
test_utf8_cut(void **state)
{
	const char	*s = "a警报";	/* 1 + 3 + 3 bytes */

	(void)state;
	assert_int_equal(utf8_cut(s, 7, 7), 7);
	assert_int_equal(utf8_cut(s, 7, 100), 7);
	assert_int_equal(utf8_cut(s, 7, 6), 4);
	assert_int_equal(utf8_cut(s, 7, 5), 4);
	assert_int_equal(utf8_cut(s, 7, 4), 4);
	assert_int_equal(utf8_cut(s, 7, 3), 1);
	assert_int_equal(utf8_cut(s, 7, 1), 1);
	assert_int_equal(utf8_cut(s, 7, 0), 0);
	assert_int_equal(utf8_cut("\xf0\x9f\x9a\xa8", 4, 3), 0);
}

/* The monotonic clocks never go back and agree with each other. */
static void
test_clock_monotonic(void **state)
{
	uint64_t	ms0, ms1, us0, us1, wall;
	int		i;

	(void)state;
	ms0 = mono_ms();
	us0 = mono_us();
	for (i = 0; i < 100000; i++) {
		ms1 = mono_ms();
		us1 = mono_us();
		assert_true(ms1 >= ms0);
		assert_true(us1 >= us0);
		ms0 = ms1;
		us0 = us1;
	}
	/* Read one after the other: within a few ms of each other. */
	assert_true(mono_us() / 1000 + 5 >= mono_ms());
	assert_true(mono_ms() + 5 >= mono_us() / 1000);
	/* A 20 ms sleep shows on both. */
	ms0 = mono_ms();
	us0 = mono_us();
	usleep(20000);
	assert_true(mono_ms() - ms0 >= 19);
	assert_true(mono_us() - us0 >= 19000);
	/* The wall clock is time(), in ms. */
	wall = now_ms();
	assert_true(wall / 1000 + 1 >= (uint64_t)time(NULL));
	assert_true(wall / 1000 <= (uint64_t)time(NULL));
}

/* Times written out: UTC, the zone TZ names, and a format too long. */
static void
test_clock_str(void **state)
{
	char	buf[32], tiny[4];

	(void)state;
	assert_string_equal(clock_str(1764547200500, "%Y-%m-%d %H:%M:%S UTC",
	    CLOCK_UTC, buf, sizeof(buf)), "2025-12-01 00:00:00 UTC");
	assert_string_equal(clock_str(1764547200500, "%Y-%m-%dT%H:%M:%SZ",
	    CLOCK_UTC, buf, sizeof(buf)), "2025-12-01T00:00:00Z");
	setenv("TZ", "Asia/Shanghai", 1);
	tzset();
	assert_string_equal(clock_str(1764547200500, "%Y-%m-%d %H:%M",
	    CLOCK_LOCAL, buf, sizeof(buf)), "2025-12-01 08:00");
	/* What does not fit is said as the number, cut to the buffer. */
	assert_string_equal(clock_str(42, "%Y-%m-%d", CLOCK_UTC, tiny,
	    sizeof(tiny)), "@42");
}

/* Edit distances, bounded: what a did-you-mean hint compares. */
static void
test_edit_distance(void **state)
{
	char	long1[EDIT_LEN_MAX + 2];

	(void)state;
	assert_int_equal(edit_distance("school-a", "school-a", 2), 0);
	assert_int_equal(edit_distance("schol-a", "school-a", 2), 1);
	assert_int_equal(edit_distance("shcool-a", "school-a", 2), 2);
	assert_int_equal(edit_distance("", "ab", 2), 2);
	assert_int_equal(edit_distance("pubish", "publish", 2), 1);
	/* Past max: max + 1, by length alone or by the rows. */
	assert_int_equal(edit_distance("a", "abcd", 2), 3);
	assert_int_equal(edit_distance("abcd", "wxyz", 2), 3);
	memset(long1, 'a', sizeof(long1) - 1);
	long1[sizeof(long1) - 1] = '\0';
	assert_int_equal(edit_distance(long1, long1, 2), 3);
	long1[EDIT_LEN_MAX] = '\0';
	assert_int_equal(edit_distance(long1, long1, 2), 0);
}

static void
test_strlcpy(void **state)
{
	char	buf[4];

	(void)state;
	assert_int_equal(strlcpy(buf, "ab", sizeof(buf)), 2);
	assert_string_equal(buf, "ab");
	assert_int_equal(strlcpy(buf, "abcdef", sizeof(buf)), 6);
	assert_string_equal(buf, "abc");
}

/* Point stderr at a fresh temporary file *fp; returns the saved stderr. */
static int
log_capture(FILE **fp)
{
	int	saved;

	assert_non_null(*fp = tmpfile());
	fflush(stderr);
	saved = dup(2);
	assert_true(saved != -1);
	assert_true(dup2(fileno(*fp), 2) == 2);
	return saved;
}

/* Put stderr back and return what was written to it (caller frees). */
static char *
log_release(FILE *f, int saved)
{
	char	*buf;
	ssize_t	 n;

	fflush(stderr);
	assert_true(dup2(saved, 2) == 2);
	close(saved);
	assert_non_null(buf = calloc(1, 8192));
	n = pread(fileno(f), buf, 8191, 0);
	assert_true(n >= 0);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Lines under the level are dropped; the daemon's lines carry "<N>". */
static void
test_log_levels(void **state)
{
	FILE	*f;
	char	*out;
	int	 saved;

	(void)state;
	saved = log_capture(&f);
	unsetenv("JOURNAL_STREAM");
	log_init("wuzhad", LOG_L_WARNING, LOG_PRIO_ALWAYS);
	log_debug("debug %d", 1);
	log_info("info %d", 2);
	log_notice("notice %d", 3);
	log_warnx("warn %d", 4);
	errno = ENOENT;
	log_warn("open %s", "x.yaml");
	assert_int_equal(errno, ENOENT);
	log_errx("err %s", "line\none");
	log_setlevel(LOG_L_DEBUG);
	assert_int_equal(log_getlevel(), LOG_L_DEBUG);
	log_debug("debug %d", 5);
	out = log_release(f, saved);
	assert_string_equal(out,
	    "<4>wuzhad: warn 4\n"
	    "<4>wuzhad: open x.yaml: No such file or directory\n"
	    "<3>wuzhad: err line one\n"
	    "<7>wuzhad: debug 5\n");
	free(out);
}

/*
 * The clients' lines carry "<N>" only when stderr is the journal, which
 * JOURNAL_STREAM names as device:inode.
 */
static void
test_log_journal_prefix(void **state)
{
	FILE		*f;
	char		 env[64], *out;
	struct stat	 st;
	int		 saved;

	(void)state;
	saved = log_capture(&f);
	unsetenv("JOURNAL_STREAM");
	log_init("wuzhactl", LOG_L_INFO, LOG_PRIO_JOURNAL);
	log_info("plain");
	setenv("JOURNAL_STREAM", "1:1", 1);
	log_init("wuzhactl", LOG_L_INFO, LOG_PRIO_JOURNAL);
	log_info("another stream");
	assert_int_equal(fstat(2, &st), 0);
	snprintf(env, sizeof(env), "%ju:%ju", (uintmax_t)st.st_dev,
	    (uintmax_t)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	log_init("wuzha-agent", LOG_L_INFO, LOG_PRIO_JOURNAL);
	log_info("journal");
	log_debug("dropped");
	unsetenv("JOURNAL_STREAM");
	out = log_release(f, saved);
	assert_string_equal(out,
	    "wuzhactl: plain\n"
	    "wuzhactl: another stream\n"
	    "<6>wuzha-agent: journal\n");
	free(out);
}

static void
test_log_level_parse(void **state)
{
	(void)state;
	assert_int_equal(log_level_parse(NULL), LOG_L_INFO);
	assert_int_equal(log_level_parse("info"), LOG_L_INFO);
	assert_int_equal(log_level_parse("debug"), LOG_L_DEBUG);
	assert_int_equal(log_level_parse("notice"), LOG_L_NOTICE);
	assert_int_equal(log_level_parse("warning"), LOG_L_WARNING);
	assert_int_equal(log_level_parse("loud"), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_table),
		cmocka_unit_test(test_utf8_check_offsets),
		cmocka_unit_test(test_utf8_cut),
		cmocka_unit_test(test_clock_monotonic),
		cmocka_unit_test(test_clock_str),
		cmocka_unit_test(test_edit_distance),
		cmocka_unit_test(test_strlcpy),
		cmocka_unit_test(test_log_levels),
		cmocka_unit_test(test_log_journal_prefix),
		cmocka_unit_test(test_log_level_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
