/* SPDX-License-Identifier: ISC */
/*
 * listener: accepts TCP connections on the configured address and hands
 * them to conn.c (which applies the connection limits).  Port 0 lets
 * the kernel choose; the address actually bound is logged, which tests use.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netdb.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "log.h"
#include "wuzhad.h"

static struct evconnlistener	*listener;

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
	/* EMFILE and friends: log, and let the next accept try again. */
	log_warn("listener: accept");
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

	if (addr_parse(wz->conf->listen, &ss, &len) == -1) {
		log_warnx("listener: bad address %s", wz->conf->listen);
		return -1;
	}
	listener = evconnlistener_new_bind(wz->base, listener_accept_cb, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    1024, (struct sockaddr *)&ss, len);
	if (listener == NULL) {
		log_warn("listener: cannot listen on %s", wz->conf->listen);
		return -1;
	}
	evconnlistener_set_error_cb(listener, listener_error_cb);
	addr_bound(evconnlistener_get_fd(listener), bound, sizeof(bound));
	log_notice("listening on %s", bound);
	wz->listening = 1;
	return 0;
}

void
listener_pause(int pause)
{
	if (listener == NULL)
		return;
	if (pause)
		evconnlistener_disable(listener);
	else
		evconnlistener_enable(listener);
}

void
listener_stop(void)
{
	if (listener != NULL)
		evconnlistener_free(listener);
	listener = NULL;
	wz->listening = 0;
}
