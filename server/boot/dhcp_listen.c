// SPDX-License-Identifier: Apache-2.0
/* The DHCP listener in its own sandboxed process: see dhcp_listen.h. */
#include "dhcp_listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "log.h"
#include "sandbox.h"

#define LISTEN_FD CHILD_FIRST_FD       /* port 67 */
#define LISTEN_PXE_FD (CHILD_FIRST_FD + 1) /* port 4011 */
#define LISTEN_OUT_FD SANDBOX_DHCP_OUT_FD  /* the records to bootwaved */
#define N_FDS 3
_Static_assert(LISTEN_OUT_FD == CHILD_FIRST_FD + N_FDS - 1, "the record socket is the last descriptor handed over");
#define LOG_EVERY 10 /* seconds between two logs of refused records */

int dhcp_frame_check(const void *buf, size_t len, struct dhcp_frame *ret, const char **ret_why)
{
	const char *why = NULL;
	struct dhcp_frame f;

	/* Its bools, as bytes: any other value than 0 or 1 is not a bool to read. */
	static const size_t bools[] = {
		offsetof(struct dhcp_msg, has_requested_ip), offsetof(struct dhcp_msg, has_server_id),
		offsetof(struct dhcp_msg, has_lease_time),   offsetof(struct dhcp_msg, has_uuid),
		offsetof(struct dhcp_msg, has_relay),        offsetof(struct dhcp_msg, user_class_ipxe),
		offsetof(struct dhcp_msg, has_ipxe_options),
	};

	if (len != sizeof(f)) {
		*ret_why = "not one record";
		return -EBADMSG;
	}
	for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++)
		if (((const uint8_t *)buf)[offsetof(struct dhcp_frame, msg) + bools[i]] > 1) {
			*ret_why = "a flag neither 0 nor 1";
			return -EBADMSG;
		}
	memcpy(&f, buf, sizeof(f));
	if (f.version != DHCP_FRAME_VERSION)
		why = "unknown version";
	else if (f.port != 67 && f.port != 4011)
		why = "unknown port";
	else if (f.from.sin_family != AF_INET)
		why = "sender not IPv4";
	else if (f.kind == DHCP_FRAME_DROP) {
		size_t n = strnlen(f.why, sizeof(f.why));
		if (n == 0 || n == sizeof(f.why))
			why = "reason empty or not terminated";
		for (size_t i = 0; !why && i < n; i++)
			if ((unsigned char)f.why[i] < 0x20 || (unsigned char)f.why[i] >= 0x7f)
				why = "reason not printable";
	} else if (f.kind == DHCP_FRAME_MSG) {
		if (dhcp_msg_check(&f.msg, &why) == 0)
			why = NULL;
	} else
		why = "unknown kind";
	if (why) {
		*ret_why = why;
		return -EBADMSG;
	}
	*ret = f;
	return 0;
}

/* ---- the process ---- */

static void on_datagram(struct evloop *ev, int fd, uint32_t events, void *ud)
{
	uint8_t buf[DHCP_PACKET_MAX + 1];
	struct dhcp_frame f;
	socklen_t fl;
	const char *why;
	(void)ev;
	(void)events;
	(void)ud;

	for (int budget = 64; budget > 0; budget--) {
		memset(&f, 0, sizeof(f));
		fl = sizeof(f.from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *)&f.from, &fl);
		if (n < 0)
			return;
		f.version = DHCP_FRAME_VERSION;
		f.port = fd == LISTEN_PXE_FD ? 4011 : 67;
		why = NULL;
		if ((size_t)n > DHCP_PACKET_MAX)
			why = "oversized packet";
		else if (dhcp_parse(buf, (size_t)n, &f.msg, &why) < 0 && !why)
			why = "not a DHCP request";
		if (why) {
			f.kind = DHCP_FRAME_DROP;
			snprintf(f.why, sizeof(f.why), "%s", why);
			memset(&f.msg, 0, sizeof(f.msg));
		} else
			f.kind = DHCP_FRAME_MSG;
		/* Blocking: a busy bootwaved holds the datagrams in the sockets' buffers. */
		while (send(LISTEN_OUT_FD, &f, sizeof(f), 0) < 0) {
			if (errno == EINTR)
				continue;
			log_error("dhcp: the listener cannot reach bootwaved: %s", strerror(errno));
			exit(1);
		}
	}
}

int dhcp_listen_main(int argc, char **argv)
{
	struct evloop *ev = NULL;
	enum log_level lvl;
	int r;

	if (!child_begin(argc, argv, N_FDS, "bootwaved-dhcp") || argc != 6 || log_level_parse(argv[4], &lvl) < 0) {
		fprintf(stderr, "bootwaved --sandboxed-dhcp: started by bootwaved only\n");
		return 2;
	}
	log_set_level(lvl);
	if ((r = evloop_new(&ev)) < 0 || (r = evloop_add_fd(ev, LISTEN_FD, EPOLLIN, on_datagram, NULL)) < 0 ||
	    (r = evloop_add_fd(ev, LISTEN_PXE_FD, EPOLLIN, on_datagram, NULL)) < 0) {
		log_error("dhcp: the listener cannot start: %s", strerror(-r));
		return 1;
	}
	r = child_serve(ev, "dhcp", argv[3], argv[5], SANDBOX_DHCP);
	evloop_free(ev);
	return r;
}

/* ---- bootwaved's side ---- */

struct dhcp_listen {
	struct evloop *ev;
	struct child *child;
	int out[2]; /* [0] bootwaved's end, [1] the listener's */
	dhcp_frame_fn *fn;
	void *ud;
	uint64_t refused, refused_since_log;
	int64_t last_log;
};

static void on_record(struct evloop *ev, int fd, uint32_t events, void *ud)
{
	struct dhcp_listen *l = ud;
	/* One byte more than a frame: a longer record shows as too long, not as cut. */
	union {
		struct dhcp_frame f;
		uint8_t bytes[sizeof(struct dhcp_frame) + 1];
	} in;
	struct dhcp_frame f;
	const char *why;
	(void)ev;
	(void)events;

	for (int budget = 64; budget > 0; budget--) {
		ssize_t n = recv(fd, in.bytes, sizeof(in.bytes), MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0)
			return;
		if (dhcp_frame_check(in.bytes, (size_t)n, &f, &why) < 0) {
			int64_t t = (int64_t)time(NULL);
			l->refused++;
			l->refused_since_log++;
			if (!l->last_log || t - l->last_log >= LOG_EVERY) {
				log_error("dhcp: refused a record from the sandboxed listener (pid %d): %s%s",
					  child_pid(l->child), why,
					  l->refused_since_log > 1 ? " (and others since the last report)" : "");
				l->last_log = t;
				l->refused_since_log = 0;
			}
			continue;
		}
		l->fn(&f, l->ud);
	}
}

int dhcp_listen_start(struct evloop *ev, int fd, int pxe_fd, const char *user, const char *log_level,
		      const char *root, dhcp_frame_fn *fn, void *ud, struct dhcp_listen **ret)
{
	struct dhcp_listen *l = calloc(1, sizeof(*l));
	int r;

	if (!l)
		return -ENOMEM;
	l->ev = ev;
	l->fn = fn;
	l->ud = ud;
	l->out[0] = l->out[1] = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, l->out) < 0 ||
	    fcntl(l->out[0], F_SETFL, O_NONBLOCK) < 0) {
		r = -errno;
		log_error("dhcp: socketpair: %s", strerror(-r));
		goto fail;
	}
	if ((r = evloop_add_fd(ev, l->out[0], EPOLLIN, on_record, l)) < 0)
		goto fail;
	{
		struct child_spec spec = {
			.tag = "dhcp", .name = "DHCP listener", .user = user,
			.args = { user, log_level, root },
			.fds = { fd, pxe_fd, l->out[1] }, .n_fds = N_FDS,
		};
		if ((r = child_start(ev, &spec, &l->child)) < 0) {
			evloop_del_fd(ev, l->out[0]);
			goto fail;
		}
	}
	*ret = l;
	return 0;
fail:
	if (l->out[0] >= 0) {
		close(l->out[0]);
		close(l->out[1]);
	}
	free(l);
	return r;
}

uint64_t dhcp_listen_refused(const struct dhcp_listen *l) { return l ? l->refused : 0; }

void dhcp_listen_stop(struct dhcp_listen *l)
{
	if (!l)
		return;
	child_stop(l->child);
	evloop_del_fd(l->ev, l->out[0]);
	close(l->out[0]);
	close(l->out[1]);
	free(l);
}
