/* SPDX-License-Identifier: ISC */
/*
 * log: level-prefixed lines on stderr.  Under systemd, journald reads the
 * "<N>" prefix as the priority; on a terminal it is still readable.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "log.h"

static const char	*log_prog = "wuzhad";
static int		 log_level = LOG_L_INFO;

void
log_init(const char *progname, int level)
{
	log_prog = progname;
	log_level = level;
	setvbuf(stderr, NULL, _IOLBF, 0);
}

void
log_setlevel(int level)
{
	log_level = level;
}

int
log_getlevel(void)
{
	return log_level;
}

int
log_level_parse(const char *s)
{
	if (s == NULL || strcmp(s, "info") == 0)
		return LOG_L_INFO;
	if (strcmp(s, "debug") == 0)
		return LOG_L_DEBUG;
	if (strcmp(s, "notice") == 0)
		return LOG_L_NOTICE;
	if (strcmp(s, "warning") == 0)
		return LOG_L_WARNING;
	return -1;
}

static void	log_vline(int, const char *, const char *, va_list)
		    LOG_FMT(3, 0);

/* Format one line; newlines inside the message are flattened. */
static void
log_vline(int level, const char *suffix, const char *fmt, va_list ap)
{
	char	buf[2048], *p;

	if (level > log_level)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	for (p = buf; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (suffix != NULL)
		fprintf(stderr, "<%d>%s: %s: %s\n", level, log_prog, buf, suffix);
	else
		fprintf(stderr, "<%d>%s: %s\n", level, log_prog, buf);
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	log_vline(LOG_L_WARNING, strerror(saved), fmt, ap);
	va_end(ap);
	errno = saved;
}

#define LOG_SIMPLE(name, level)				\
void							\
name(const char *fmt, ...)				\
{							\
	va_list	ap;					\
							\
	va_start(ap, fmt);				\
	log_vline(level, NULL, fmt, ap);		\
	va_end(ap);					\
}

LOG_SIMPLE(log_warnx, LOG_L_WARNING)
LOG_SIMPLE(log_notice, LOG_L_NOTICE)
LOG_SIMPLE(log_info, LOG_L_INFO)
LOG_SIMPLE(log_debug, LOG_L_DEBUG)
LOG_SIMPLE(log_errx, LOG_L_ERR)

void
log_ssl(const char *fmt, ...)
{
	char		 why[256] = "no detail";
	unsigned long	 e;
	va_list		 ap;

	if ((e = ERR_peek_last_error()) != 0)
		ERR_error_string_n(e, why, sizeof(why));
	ERR_clear_error();
	va_start(ap, fmt);
	log_vline(LOG_L_WARNING, why, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	log_vline(LOG_L_ERR, strerror(saved), fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vline(LOG_L_ERR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
