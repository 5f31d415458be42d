/* SPDX-License-Identifier: ISC */
/* ctl_template: placeholder while templates are being written. */
#include <stdio.h>

#include "proto.h"
#include "ctl.h"

int
ctl_template_apply(struct ctl *ctl, struct ctl_pub *o)
{
	(void)ctl; (void)o;
	fprintf(stderr, "wuzhactl: templates: not written yet\n");
	return CTL_FAIL;
}

int
ctl_templates(struct ctl *ctl, int argc, char **argv)
{
	(void)ctl; (void)argc; (void)argv;
	fprintf(stderr, "wuzhactl: templates: not written yet\n");
	return CTL_FAIL;
}
