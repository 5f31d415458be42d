/* SPDX-License-Identifier: ISC */
/*
 * listener: accepts TCP connections on the configured address and hands
 * them to conn.c (which applies the connection limits).  Port 0 lets
 * the kernel choose; the address actually bound is logged, which tests use.
 *
 * Out of file descriptors (EMFILE, ENFILE), accept fails while the
 * connection stays queued, so a listener left enabled would spin.  It
 * pauses instead: the accept event is disabled, a spare descriptor held
 * for the purpose is given back (so /healthz and /metrics can still be
 * answered), and after LISTENER_RETRY_MS the spare is taken again and
 * accept retried; the pause ends once a retry has gone LISTENER_RETRY_MS
 * without a failure.  Failures are logged at most once per LISTENER_LOG_MS,
 * with the count since the last line.  Any other accept error that
 * libevent does not retry by itself pauses the same way, without counting
 * as a lack of descriptors.  A pause asked by another module
 * (listener_pause) is a separate reason: the listener accepts only when
 * neither holds it.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netdb.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "clock.h"
#include "log.h"
#include "wuzhad.h"

#define LISTENER_RETRY_MS	250	/* out of descriptors: retry accept after */
#define LISTENER_LOG_MS		1000	/* at most one failure line per */

static struct evconnlistener	*listener;
static struct event		*retry_ev;	/* LISTENER_RETRY_MS timer */
static const struct timeval	 retry_tv = { 0, LISTENER_RETRY_MS * 1000 };
static int			 spare = -1;	/* descriptor kept in reserve */
static int			 held;		/* listener_pause asked */
static int			 starved;	/* out of descriptors: from the
						   first failure until a probe
						   sees none */
static int			 waiting;	/* disabled for lack of fds */
static uint64_t			 failed;	/* failures not yet logged */
static uint64_t			 failed_total;	/* since starved was set */
static uint64_t			 logged_ms;	/* last failure line */

/* "host:port" or "[v6]:port" (numeric; port 0 = any) -> sockaddr. */
int
addr_parse(const char *s, struct sockaddr_storage *ss, int *len)
{
	struct addrinfo	 hints, *res;
	char		 host[INET6_ADDRSTRLEN + 2];
	const char	*colon, *h = s;
	size_t		 hl;

	if ((colon = strrchr(s, ':')) == NULL)
		return -1;
	hl = (size_t)(colon - s);
	if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
		h = s + 1;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
		return -1;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = (int)res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* Enable the accept event only when no reason holds it. */
static void
listener_apply(void)
{
	if (listener == NULL)
		return;
	if (held || waiting)
		evconnlistener_disable(listener);
	else
		evconnlistener_enable(listener);
}

/* Take the spare descriptor back; 0 if it is held. */
static int
listener_spare_take(void)
{
	if (spare == -1)
		spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return spare == -1 ? -1 : 0;
}

static void
listener_spare_give(void)
{
	if (spare != -1)
		close(spare);
	spare = -1;
}

/* A failure line, unless one went out less than LISTENER_LOG_MS ago. */
static void
listener_report(int err)
{
	uint64_t	now = mono_ms();

	if (failed == 0 || (logged_ms != 0 && now - logged_ms < LISTENER_LOG_MS))
		return;
	log_warnx("listener: accept: %s (%llu failed accept%s since the last "
	    "report); paused, retrying every %d ms", strerror(err),
	    (unsigned long long)failed, failed == 1 ? "" : "s",
	    LISTENER_RETRY_MS);
	logged_ms = now;
	failed = 0;
}

/*
 * The timer: while waiting, take the spare back and let accept try again
 * (a probe); a probe that sees no failure for LISTENER_RETRY_MS ends the
 * starvation.
 */
static void
listener_retry_cb(evutil_socket_t fd, short ev, void *arg)
{
	if (!waiting) {
		log_notice("listener: resumed after %llu failed accepts",
		    (unsigned long long)failed_total);
		starved = 0;
		failed = failed_total = 0;
		return;
	}
	if (listener_spare_take() == -1) {
		failed++;
		failed_total++;
		starved = 1;
		metrics_count(M_ACCEPT_NOFD, 1);
		listener_report(errno);
		evtimer_add(retry_ev, &retry_tv);
		return;
	}
	waiting = 0;
	listener_apply();
	evtimer_add(retry_ev, &retry_tv);
}

static void
listener_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int socklen, void *arg)
{
	if (wz->stopping) {
		evutil_closesocket(fd);
		return;
	}
	/* conn_accept applies the connection limits. */
	conn_accept(fd, sa, socklen);
}

static void
listener_error_cb(struct evconnlistener *l, void *arg)
{
	int	err = EVUTIL_SOCKET_ERROR();

	/*
	 * Out of descriptors, or any other error libevent does not retry
	 * itself: pause, free the spare, retry on the timer.
	 */
	if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
		starved = 1;
		metrics_count(M_ACCEPT_NOFD, 1);
	}
	failed++;
	failed_total++;
	listener_report(err);
	waiting = 1;
	listener_apply();
	listener_spare_give();
	evtimer_add(retry_ev, &retry_tv);
}

/* 1 while accept fails for lack of descriptors (/healthz, /metrics). */
int
listener_starved(void)
{
	return starved;
}

/* The address a listening socket got, as "host:port" or "[v6]:port". */
void
addr_bound(evutil_socket_t fd, char *buf, size_t len)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);
	char			 host[INET6_ADDRSTRLEN];

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == -1)
		fatal("getsockname");
	if (ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host,
		    sizeof(host));
		snprintf(buf, len, "[%s]:%u", host,
		    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
	} else {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host,
		    sizeof(host));
		snprintf(buf, len, "%s:%u", host,
		    ntohs(((struct sockaddr_in *)&ss)->sin_port));
	}
}

int
listener_start(void)
{
	struct sockaddr_storage	 ss;
	int			 len;
	char			 bound[INET6_ADDRSTRLEN + 8];
	unsigned		 flags;

	if (addr_parse(wz->conf->listen, &ss, &len) == -1) {
		log_warnx("listener: bad address %s", wz->conf->listen);
		return -1;
	}
	flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;
	if (wz->conf->listen_reuse_port)
		flags |= LEV_OPT_REUSEABLE_PORT;
	listener = evconnlistener_new_bind(wz->base, listener_accept_cb, NULL,
	    flags, 1024, (struct sockaddr *)&ss, len);
	if (listener == NULL) {
		if (errno == EADDRINUSE)
			log_warn("listener: cannot listen on %s (to share a port, "
			    "every daemon on it needs listen_reuse_port: true "
			    "and the same user)", wz->conf->listen);
		else
			log_warn("listener: cannot listen on %s",
			    wz->conf->listen);
		return -1;
	}
	evconnlistener_set_error_cb(listener, listener_error_cb);
	if ((retry_ev = evtimer_new(wz->base, listener_retry_cb, NULL)) == NULL)
		fatalx("listener: evtimer_new");
	if (listener_spare_take() == -1)
		log_warn("listener: no spare descriptor");
	waiting = starved = 0;
	failed = failed_total = 0;
	listener_apply();
	addr_bound(evconnlistener_get_fd(listener), bound, sizeof(bound));
	log_notice("listening on %s%s", bound, wz->conf->listen_reuse_port ?
	    " (port shared: SO_REUSEPORT)" : "");
	wz->listening = 1;
	return 0;
}

/*
 * Another module holds the listener (1) or lets it go (0); a pause for
 * lack of descriptors is kept apart and outlives a release.
 */
void
listener_pause(int pause)
{
	held = pause != 0;
	listener_apply();
}

void
listener_stop(void)
{
	if (listener != NULL)
		evconnlistener_free(listener);
	listener = NULL;
	if (retry_ev != NULL)
		event_free(retry_ev);
	retry_ev = NULL;
	listener_spare_give();
	waiting = starved = 0;
	wz->listening = 0;
}
