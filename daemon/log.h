/* SPDX-License-Identifier: ISC */
/*
 * log: one line per event on stderr, prefixed with a syslog level in the
 * "<N>" form that journald understands.  No other output channel.
 */
#ifndef WUZHA_LOG_H
#define WUZHA_LOG_H

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
/* "debug", "info", "warning" -> level; -1 if unknown. */
int	log_level_parse(const char *);

void	log_warn(const char *, ...) LOG_FMT(1, 2);	/* appends strerror(errno) */
void	log_warnx(const char *, ...) LOG_FMT(1, 2);
void	log_notice(const char *, ...) LOG_FMT(1, 2);
void	log_info(const char *, ...) LOG_FMT(1, 2);
void	log_debug(const char *, ...) LOG_FMT(1, 2);
void	log_errx(const char *, ...) LOG_FMT(1, 2);	/* level err, no exit */
/* Log the OpenSSL error queue (and clear it) after a message. */
void	log_ssl(const char *, ...) LOG_FMT(1, 2);

__attribute__((noreturn)) void fatal(const char *, ...) LOG_FMT(1, 2);
__attribute__((noreturn)) void fatalx(const char *, ...) LOG_FMT(1, 2);

#endif
