/* SPDX-License-Identifier: ISC */
/*
 * clock: wall and monotonic time in whole milliseconds or microseconds.
 */
#include <stdint.h>
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
