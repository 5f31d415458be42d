/* SPDX-License-Identifier: ISC */
/*
 * log: plain "progname: message" lines on stderr for the agent and the
 * console.  The journald priority prefix is added only when stderr really
 * is the journal, detected from JOURNAL_STREAM (device:inode of the stream
 * systemd connected), so output read by people or scripts stays plain.
 */
#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static const char	*log_prog = "wuzha";
static int		 log_level = LOG_L_INFO;
static int		 log_journal;	/* stderr is the journal: add "<N>" */

/* Does JOURNAL_STREAM name the file stderr is open on? */
static int
log_is_journal(void)
{
	const char	*s;
	struct stat	 st;
	uintmax_t	 dev, ino;

	if ((s = getenv("JOURNAL_STREAM")) == NULL)
		return 0;
	if (sscanf(s, "%ju:%ju", &dev, &ino) != 2)
		return 0;
	if (fstat(2, &st) == -1)
		return 0;
	return (uintmax_t)st.st_dev == dev && (uintmax_t)st.st_ino == ino;
}

void
log_init(const char *progname, int level)
{
	log_prog = progname;
	log_level = level;
	log_journal = log_is_journal();
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

/* Format one line; newlines inside the message are flattened. */
static void __attribute__((format(printf, 3, 0)))
log_vline(int level, const char *suffix, const char *fmt, va_list ap)
{
	char	 buf[2048], pri[8] = "", *p;

	if (level > log_level)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	for (p = buf; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (log_journal)
		snprintf(pri, sizeof(pri), "<%d>", level);
	if (suffix != NULL)
		fprintf(stderr, "%s%s: %s: %s\n", pri, log_prog, buf, suffix);
	else
		fprintf(stderr, "%s%s: %s\n", pri, log_prog, buf);
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
