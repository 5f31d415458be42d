/* SPDX-License-Identifier: ISC */
/*
 * log: the one log of wuzhad, wuzha-agent and wuzhactl (see log.h).
 * Lines below the level set are dropped; newlines inside a message are
 * flattened so that one event stays one line.
 */
#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "log.h"

static const char	*log_prog = "wuzha";
static int		 log_level = LOG_L_INFO;
static int		 log_prio_on = 1;	/* write the "<N>" prefix */

/* Does JOURNAL_STREAM (device:inode) name the file stderr is open on? */
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
log_init(const char *progname, int level, enum log_prio prio)
{
	log_prog = progname;
	log_level = level;
	switch (prio) {
	case LOG_PRIO_ALWAYS:
		log_prio_on = 1;
		break;
	case LOG_PRIO_JOURNAL:
		log_prio_on = log_is_journal();
		break;
	}
	setvbuf(stderr, NULL, _IOLBF, 0);
}

void
log_setlevel(int level)
{
	log_level = level;
}

void
log_setprog(const char *progname)
{
	log_prog = progname;
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

/* Format one line, suffix (if any) after ": ", and write it. */
static void
log_vline(int level, const char *suffix, const char *fmt, va_list ap)
{
	char	 buf[LOG_LINE_MAX], pri[8] = "", *p;

	if (level > log_level)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	for (p = buf; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (log_prio_on)
		snprintf(pri, sizeof(pri), "<%d>", level);
	if (suffix != NULL)
		fprintf(stderr, "%s%s: %s: %s\n", pri, log_prog, buf, suffix);
	else
		fprintf(stderr, "%s%s: %s\n", pri, log_prog, buf);
}

/*
 * A log function: a line at level, ": strerror(errno)" after it if
 * with_errno, errno left as it was; then what then says (fatal's exit).
 */
#define LOG_FUNC(name, level, with_errno, then)			\
void								\
name(const char *fmt, ...)					\
{								\
	va_list	ap;						\
	int	saved = errno;					\
								\
	va_start(ap, fmt);					\
	log_vline(level, (with_errno) ? strerror(saved) : NULL,	\
	    fmt, ap);						\
	va_end(ap);						\
	errno = saved;						\
	then;							\
}

LOG_FUNC(log_warn, LOG_L_WARNING, 1, (void)0)
LOG_FUNC(log_warnx, LOG_L_WARNING, 0, (void)0)
LOG_FUNC(log_notice, LOG_L_NOTICE, 0, (void)0)
LOG_FUNC(log_info, LOG_L_INFO, 0, (void)0)
LOG_FUNC(log_debug, LOG_L_DEBUG, 0, (void)0)
LOG_FUNC(log_errx, LOG_L_ERR, 0, (void)0)
LOG_FUNC(fatal, LOG_L_ERR, 1, exit(1))
LOG_FUNC(fatalx, LOG_L_ERR, 0, exit(1))

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
