/* SPDX-License-Identifier: ISC */
/* ctl_agents: placeholder while the verb is being written. */
#include <stdio.h>

#include "proto.h"
#include "ctl.h"

int
ctl_agents(struct ctl *ctl, int argc, char **argv)
{
	(void)ctl; (void)argc; (void)argv;
	fprintf(stderr, "wuzhactl: agents: not written yet\n");
	return CTL_FAIL;
}
