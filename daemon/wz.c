/* SPDX-License-Identifier: ISC */
/*
 * wz: the daemon's one runtime context, defined here, below every module
 * that reads it, so that nothing has to call up into main.c for it.
 * main.c fills it in.
 */
#include "log.h"
#include "wuzhad.h"

static struct wuzhad	 wz_ctx;
struct wuzhad		*wz = &wz_ctx;

/*
 * Run ev's callback again on a later loop turn, once the sockets have
 * been polled.  event_active would not do for work cut into slices:
 * libevent runs an event activated from a callback in the same pass over
 * the active queue, so slice after slice would run with no I/O between.
 * A zero timeout goes through the timer heap, which is looked at after
 * the poll.
 */
void
wz_next_turn(struct event *ev)
{
	static const struct timeval	now = { 0, 0 };

	if (event_add(ev, &now) == -1)
		fatalx("event_add");
}
