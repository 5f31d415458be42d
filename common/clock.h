/* SPDX-License-Identifier: ISC */
/*
 * clock: the two clocks every program reads.  The wall clock is for what
 * goes on the wire or to Redis (issued_at, expires_at); the monotonic one
 * for timeouts and durations, which a step of the wall clock must not
 * stretch or cut.
 */
#ifndef WUZHA_CLOCK_H
#define WUZHA_CLOCK_H

#include <stddef.h>
#include <stdint.h>

uint64_t	now_ms(void);		/* wall clock, ms since the epoch */
uint64_t	mono_ms(void);		/* monotonic clock, ms */
uint64_t	mono_us(void);		/* monotonic clock, µs */

/* Where clock_str writes a time. */
enum clock_zone {
	CLOCK_UTC,
	CLOCK_LOCAL,		/* the zone TZ names */
};

/*
 * ms since the epoch as strftime's fmt makes it in zone, into buf;
 * "@ms" if it cannot be.  Returns buf.
 */
const char	*clock_str(uint64_t ms, const char *fmt, enum clock_zone,
		    char *buf, size_t len) __attribute__((format(strftime, 2, 0)));

#endif
