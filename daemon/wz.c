/* SPDX-License-Identifier: ISC */
/*
 * wz: the daemon's one runtime context, defined here, below every module
 * that reads it, so that nothing has to call up into main.c for it.
 * main.c fills it in.
 */
#include "wuzhad.h"

static struct wuzhad	 wz_ctx;
struct wuzhad		*wz = &wz_ctx;
