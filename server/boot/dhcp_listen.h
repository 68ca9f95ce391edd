/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The DHCP server's network face in its own process (child.h): bootwaved
 * opens ports 67 and 4011, then runs `bootwaved --sandboxed-dhcp ...` with
 * them as fd 3 and 4 and one end of a SOCK_SEQPACKET pair as fd 5. That
 * process chroots into an empty directory, becomes [daemon] user and loads
 * the SANDBOX_DHCP filter (sandbox.h: it may receive, and send on fd 5
 * only; no file, no socket of its own) before it reads a datagram. It
 * parses each one (dhcp_packet.h) and hands bootwaved one record: the
 * parsed struct dhcp_msg, or why the datagram was dropped. bootwaved checks
 * every record (dhcp_frame_check) before its lease logic reads it, and
 * sends the replies itself, on its own copies of the sockets, after the
 * lease is on disk (dhcp.h). So the bytes a client sends are only ever
 * parsed by a process that cannot reach the store, the key or a BMC.
 */
#ifndef BW_DHCP_LISTEN_H
#define BW_DHCP_LISTEN_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "dhcp_packet.h"
#include "evloop.h"

#define DHCP_FRAME_VERSION 1
#define DHCP_WHY_MAX 96

enum dhcp_frame_kind { DHCP_FRAME_MSG = 1, DHCP_FRAME_DROP = 2 };

/* One record, one datagram. */
struct dhcp_frame {
	uint32_t version;         /* DHCP_FRAME_VERSION */
	uint32_t kind;            /* enum dhcp_frame_kind */
	uint32_t port;            /* where it arrived: 67 or 4011 */
	struct sockaddr_in from;  /* the sender */
	char why[DHCP_WHY_MAX];   /* DROP: the check that failed */
	struct dhcp_msg msg;      /* MSG: as dhcp_parse left it */
};

/*
 * Checks a record of len bytes from the listener into *ret (one frame,
 * a known kind and port, an IPv4 sender, a terminated printable reason,
 * a message that passes dhcp_msg_check). 0, or -EBADMSG with *ret_why.
 */
int dhcp_frame_check(const void *buf, size_t len, struct dhcp_frame *ret, const char **ret_why);

struct dhcp_listen;

/* Called on bootwaved's loop with each record that passed the check. */
typedef void dhcp_frame_fn(const struct dhcp_frame *f, void *ud);

/*
 * Starts the listener on fd (port 67) and pxe_fd (port 4011); both stay
 * the caller's (it sends on them). root: the empty directory it chroots
 * into. Waits until it serves; -errno if it could not start (logged).
 */
int dhcp_listen_start(struct evloop *ev, int fd, int pxe_fd, const char *user, const char *log_level,
		      const char *root, dhcp_frame_fn *fn, void *ud, struct dhcp_listen **ret);
/* Stops the process and frees l (NULL is fine). */
void dhcp_listen_stop(struct dhcp_listen *l);
/* Records refused by the check (each logged, at most once per 10 s). */
uint64_t dhcp_listen_refused(const struct dhcp_listen *l);

/* `bootwaved --sandboxed-dhcp ...`: the process itself (server/main.c hands over). */
int dhcp_listen_main(int argc, char **argv);

#endif
