/* SPDX-License-Identifier: ISC */
/* report: placeholder while the request is being written; refuses it. */
#include "wuzhad.h"

void
report_handle(struct conn *c, const uint8_t *p, size_t len)
{
	(void)p;
	(void)len;
	conn_error(c, PROTO_E_INTERNAL, NULL, "not written yet");
}
