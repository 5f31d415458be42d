/* SPDX-License-Identifier: ISC */
/* ctl_schedule: placeholder while the verbs are being written. */
#include <stdio.h>

#include "proto.h"
#include "ctl.h"

int
ctl_schedule_list(struct ctl *ctl, int argc, char **argv)
{
	(void)ctl; (void)argc; (void)argv;
	fprintf(stderr, "wuzhactl: schedule: not written yet\n");
	return CTL_FAIL;
}

int
ctl_schedule_cancel(struct ctl *ctl, int argc, char **argv)
{
	(void)ctl; (void)argc; (void)argv;
	fprintf(stderr, "wuzhactl: schedule: not written yet\n");
	return CTL_FAIL;
}
