/* SPDX-License-Identifier: ISC */
/*
 * ctl_time: times on wuzhactl's command line (--at, report's --from and
 * --to).  A desk types local times; scripts may give an offset or UTC, or
 * a duration from now.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "proto.h"
#include "ctl.h"

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t
ctl_days(int64_t y, int m, int d)
{
	int64_t	era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/*
 * A time on the command line; see ctl.h.  Local times go through mktime,
 * so the console's TZ (Asia/Shanghai on a desk in China) applies.
 */
int
ctl_parse_time(const char *s, uint64_t now, uint64_t *out)
{
	struct tm	tm;
	int		y, mo, d, h = 0, mi = 0, sec = 0, n = 0, oh, om;
	int64_t		ms, t;
	char		sep, sign;
	const char	*rest;

	if (strcmp(s, "now") == 0) {
		*out = now;
		return 0;
	}
	if (s[0] == '+') {
		if ((ms = conf_parse_duration_ms(s + 1)) <= 0)
			return -1;
		*out = now + (uint64_t)ms;
		return 0;
	}
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
		return -1;
	rest = s + n;
	if (*rest == 'T' || *rest == ' ') {
		sep = *rest++;
		(void)sep;
		n = 0;
		if (sscanf(rest, "%2d:%2d%n", &h, &mi, &n) != 2 || n != 5)
			return -1;
		rest += n;
		if (*rest == ':') {
			n = 0;
			if (sscanf(rest, ":%2d%n", &sec, &n) != 1 || n != 3)
				return -1;
			rest += n;
		}
	}
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || sec > 59 || h < 0 || mi < 0 || sec < 0)
		return -1;
	if (*rest == '\0') {
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = y - 1900;
		tm.tm_mon = mo - 1;
		tm.tm_mday = d;
		tm.tm_hour = h;
		tm.tm_min = mi;
		tm.tm_sec = sec;
		tm.tm_isdst = -1;
		if ((t = (int64_t)mktime(&tm)) == -1 || tm.tm_mday != d)
			return -1;
		*out = (uint64_t)t * 1000;
		return 0;
	}
	t = ctl_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	if (strcmp(rest, "Z") == 0) {
		*out = (uint64_t)t * 1000;
		return 0;
	}
	n = 0;
	if (sscanf(rest, "%c%2d:%2d%n", &sign, &oh, &om, &n) != 3 ||
	    rest[n] != '\0' || (sign != '+' && sign != '-') || oh > 14 ||
	    om > 59)
		return -1;
	t -= (sign == '+' ? 1 : -1) * (oh * 3600 + om * 60);
	*out = (uint64_t)t * 1000;
	return 0;
}
