/* SPDX-License-Identifier: ISC */
/*
 * clock: wall and monotonic time in whole milliseconds or microseconds,
 * and the wall clock written out for people.
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "clock.h"

/* ts in units of 1/per second. */
static uint64_t
clock_in(clockid_t id, uint64_t per)
{
	struct timespec	ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * per +
	    (uint64_t)ts.tv_nsec / (1000000000 / per);
}

uint64_t
now_ms(void)
{
	return clock_in(CLOCK_REALTIME, 1000);
}

uint64_t
mono_ms(void)
{
	return clock_in(CLOCK_MONOTONIC, 1000);
}

uint64_t
mono_us(void)
{
	return clock_in(CLOCK_MONOTONIC, 1000000);
}

/*
 * fmt is checked where clock_str is called (clock.h marks it a strftime
 * format), so the warning about passing it on is off here alone.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
const char *
clock_str(uint64_t ms, const char *fmt, enum clock_zone zone, char *buf,
    size_t len)
{
	time_t		 t = (time_t)(ms / 1000);
	struct tm	 tm, *ok = NULL;

	switch (zone) {
	case CLOCK_UTC:
		ok = gmtime_r(&t, &tm);
		break;
	case CLOCK_LOCAL:
		ok = localtime_r(&t, &tm);
		break;
	}
	if (ok == NULL || strftime(buf, len, fmt, &tm) == 0)
		snprintf(buf, len, "@%llu", (unsigned long long)ms);
	return buf;
}
#pragma GCC diagnostic pop
