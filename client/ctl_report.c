/* SPDX-License-Identifier: ISC */
/* ctl_report: placeholder while the verb is being written. */
#include <stdio.h>

#include "proto.h"
#include "ctl.h"

int
ctl_report(struct ctl *ctl, int argc, char **argv)
{
	(void)ctl; (void)argc; (void)argv;
	fprintf(stderr, "wuzhactl: report: not written yet\n");
	return CTL_FAIL;
}
