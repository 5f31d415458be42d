/* SPDX-License-Identifier: ISC */
/*
 * log: one line per event on stderr, "progname: message", which journald
 * captures under systemd.  Each program says at log_init whether every line
 * carries the "<N>" priority prefix journald reads (wuzhad, which runs only
 * as a service), or only lines written while stderr really is the journal
 * (the agent and the console, whose output people and scripts also read).
 */
#ifndef WUZHA_LOG_H
#define WUZHA_LOG_H

#include <stdarg.h>

/* Syslog's numbers, so that the "<N>" prefix is journald's priority. */
enum log_level {
	LOG_L_ERR	= 3,
	LOG_L_WARNING	= 4,
	LOG_L_NOTICE	= 5,
	LOG_L_INFO	= 6,
	LOG_L_DEBUG	= 7,
};

/* Where the "<N>" prefix goes (log_init's last argument). */
enum log_prio {
	LOG_PRIO_ALWAYS,	/* on every line */
	LOG_PRIO_JOURNAL,	/* only when stderr is the journal */
};

#define LOG_FMT(a, b)	__attribute__((format(printf, a, b)))

/* A message longer than this many bytes is cut. */
#define LOG_LINE_MAX	2048

void	log_init(const char *progname, int level, enum log_prio);
void	log_setlevel(int level);
/* The name lines start with from now on; the string must outlive the log. */
void	log_setprog(const char *progname);
int	log_getlevel(void);
/* "debug", "info", "notice", "warning" (NULL: info) -> level; -1 if unknown. */
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
