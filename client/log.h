/* SPDX-License-Identifier: ISC */
/*
 * log: one line per event on stderr, "progname: message".  When stderr is
 * the journal (systemd sets JOURNAL_STREAM) each line also carries the
 * "<N>" priority prefix that journald reads; on a terminal or a pipe it is
 * left out, so wuzhactl's messages stay plain.  Same interface as the
 * daemon's log module.
 */
#ifndef WUZHA_CLIENT_LOG_H
#define WUZHA_CLIENT_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_L_ERR	= 3,
	LOG_L_WARNING	= 4,
	LOG_L_NOTICE	= 5,
	LOG_L_INFO	= 6,
	LOG_L_DEBUG	= 7,
};

#define LOG_FMT(a, b)	__attribute__((format(printf, a, b)))

void	log_init(const char *progname, int level);
void	log_setlevel(int level);
int	log_getlevel(void);

/* log_warn appends strerror(errno). */
void	log_warn(const char *, ...) LOG_FMT(1, 2);
void	log_warnx(const char *, ...) LOG_FMT(1, 2);
void	log_notice(const char *, ...) LOG_FMT(1, 2);
void	log_info(const char *, ...) LOG_FMT(1, 2);
void	log_debug(const char *, ...) LOG_FMT(1, 2);
void	log_errx(const char *, ...) LOG_FMT(1, 2);	/* level err, no exit */

__attribute__((noreturn)) void fatal(const char *, ...) LOG_FMT(1, 2);
__attribute__((noreturn)) void fatalx(const char *, ...) LOG_FMT(1, 2);

#endif
