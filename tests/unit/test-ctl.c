/* SPDX-License-Identifier: ISC */
/*
 * test-ctl: what wuzhactl needs to get right before it talks to anyone:
 * display widths of Chinese node names and headlines (two columns a
 * character, none for combining marks), padding to a column, and the
 * times a desk types for --at and a report's range.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "proto.h"
#include "ctl.h"

#define W(s)	ctl_width((s), strlen(s))

static void
test_width_ascii_and_cjk(void **state)
{
	(void)state;
	assert_int_equal(W(""), 0);
	assert_int_equal(W("school-a"), 8);
	assert_int_equal(W("泉城示范大学"), 12);
	assert_int_equal(W("计算机2023级1班"), 15);
	/* Fullwidth punctuation and CJK symbols take two columns too. */
	assert_int_equal(W("预警，请转达。"), 14);
	assert_int_equal(W("（测试）"), 8);
	/* Hangul and kana are wide; Latin with accents is not. */
	assert_int_equal(W("한국"), 4);
	assert_int_equal(W("カナ"), 4);
	assert_int_equal(W("café"), 4);
}

static void
test_width_zero_and_bad_bytes(void **state)
{
	(void)state;
	/* e + combining acute: one column. */
	assert_int_equal(W("e\xcc\x81"), 1);
	/* Zero width space and a variation selector: none. */
	assert_int_equal(W("a\xe2\x80\x8b" "b"), 2);
	assert_int_equal(W("\xe2\x9c\x8c\xef\xb8\x8f"), 1);
	/* Control characters take nothing. */
	assert_int_equal(W("a\tb"), 2);
	/* A byte that starts no sequence counts one column, then goes on. */
	assert_int_equal(W("\xff" "ab"), 3);
	/* A truncated sequence at the end: one column per byte. */
	assert_int_equal(W("a\xe6\xb3"), 3);
	/* Surrogates are not UTF-8. */
	assert_int_equal(W("\xed\xa0\x80"), 3);
}

static void
test_pad_counts_columns_not_bytes(void **state)
{
	char	buf[128];
	FILE	*f;
	size_t	 n;

	(void)state;
	assert_non_null(f = fmemopen(buf, sizeof(buf), "w"));
	ctl_pad(f, "法学院", strlen("法学院"), 10);
	fputc('|', f);
	ctl_rpad(f, "ab", 2, 5);
	fputc('|', f);
	ctl_pad(f, "too long", 8, 3);
	n = (size_t)ftell(f);
	fclose(f);
	buf[n] = '\0';
	/* 6 columns of name, then 4 spaces; "   ab"; a long one untouched. */
	assert_string_equal(buf, "法学院    |   ab|too long");
}

static void
test_parse_time_forms(void **state)
{
	uint64_t	now = 1800000000000ULL, t;
	struct tm	tm;
	time_t		want;

	(void)state;
	assert_int_equal(ctl_parse_time("+90m", now, &t), 0);
	assert_true(t == now + 90ULL * 60 * 1000);
	assert_int_equal(ctl_parse_time("2026-12-24T08:00Z", now, &t), 0);
	assert_true(t == 1798099200000ULL);
	assert_int_equal(ctl_parse_time("2026-12-24T08:00:30+08:00", now,
	    &t), 0);
	assert_true(t == 1798099200000ULL - 8ULL * 3600 * 1000 + 30000);
	assert_int_equal(ctl_parse_time("2026-12-24T08:00-01:30", now, &t), 0);
	assert_true(t == 1798099200000ULL + 90ULL * 60 * 1000);
	/* Local time: whatever TZ says, as mktime reads it. */
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = 2026 - 1900;
	tm.tm_mon = 11;
	tm.tm_mday = 24;
	tm.tm_hour = 8;
	tm.tm_isdst = -1;
	want = mktime(&tm);
	assert_int_equal(ctl_parse_time("2026-12-24 08:00", now, &t), 0);
	assert_true(t == (uint64_t)want * 1000);
	assert_int_equal(ctl_parse_time("2026-12-24T08:00", now, &t), 0);
	assert_true(t == (uint64_t)want * 1000);
	tm.tm_hour = 0;
	tm.tm_isdst = -1;
	want = mktime(&tm);
	assert_int_equal(ctl_parse_time("2026-12-24", now, &t), 0);
	assert_true(t == (uint64_t)want * 1000);
}

static void
test_parse_time_refusals(void **state)
{
	static const char *const bad[] = {
		"", "tomorrow", "+", "+0s", "+10x", "2026-13-01", "2026-02-30",
		"2026-1-01", "2026-01-01T8:00", "2026-01-01T08:60",
		"2026-01-01T24:00", "2026-01-01T08:00:61", "2026-01-01X",
		"2026-01-01T08:00+8", "2026-01-01T08:00+15:00",
		"2026-01-01T08:00Zjunk", "1969-12-31",
	};
	uint64_t	t;
	size_t		i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (ctl_parse_time(bad[i], 0, &t) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_width_ascii_and_cjk),
		cmocka_unit_test(test_width_zero_and_bad_bytes),
		cmocka_unit_test(test_pad_counts_columns_not_bytes),
		cmocka_unit_test(test_parse_time_forms),
		cmocka_unit_test(test_parse_time_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
