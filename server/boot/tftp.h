/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The read-only TFTP server of bootwaved: serves the files under one root
 * directory to PXE firmware and iPXE, on the caller's event loop.
 * RFC 1350 with option negotiation (RFC 2347), blksize (RFC 2348), timeout
 * and tsize (RFC 2349) and windowsize (RFC 7440). Each transfer has its own
 * UDP socket (its TID) on an ephemeral port, bound to the local address the
 * request came to. Writes are refused. Wire-format choices: tftp_packet.h.
 *
 * Files: a request names a path relative to the root; absolute paths, "..",
 * backslashes and control characters are refused, and the file is opened
 * with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
 * on the root opened once: symlinks are never followed, even inside the
 * root, and only regular files are served. netascii is converted on the fly
 * (LF -> CR LF, CR -> CR NUL); tsize is answered in octet mode only.
 */
#ifndef BW_TFTP_H
#define BW_TFTP_H

#include <stdint.h>

#include "evloop.h"

struct tftp_config {
	const char *root;        /* directory served; opened once by tftp_server_new */
	unsigned max_transfers;  /* concurrent transfers; past it: ERROR 0 "server busy" */
	unsigned timeout_ms;     /* first retransmission timeout, unless the client sets one */
	unsigned retries;        /* retransmissions of one block/window before giving up */
	unsigned max_blksize;    /* larger requests are answered with this (RFC 2348), 512..65464 */
	unsigned max_windowsize; /* larger requests are answered with this (RFC 7440), 1..TFTP_SERVER_WINDOW_CAP */
};

/* Per-transfer state grows with the window (16 bytes a block): a hard cap. */
#define TFTP_SERVER_WINDOW_CAP 1024
/* Backoff never waits longer than this between two retransmissions (unless the client's timeout is longer). */
#define TFTP_SERVER_BACKOFF_MAX_MS 30000

/* Defaults suited to PXE on Ethernet: blksize 1468 fits a 1500-byte MTU. */
void tftp_config_default(struct tftp_config *ret);

struct tftp_server;

/*
 * Starts serving on fd, a bound UDP socket (IPv4 or IPv6), from ev. Takes
 * ownership of fd in every case (closed on failure too). cfg is copied, but
 * cfg->root only needs to live through the call. Returns 0, -EINVAL for a
 * bad configuration, -ENOSYS if the kernel has no openat2, or another
 * -errno (the root cannot be opened, ...).
 */
int tftp_server_new(struct evloop *ev, int fd, const struct tftp_config *cfg, struct tftp_server **ret);

/*
 * Ends every transfer (their clients get ERROR 0 "server shutting down"),
 * closes all sockets and files and frees s (NULL is fine). ev must still
 * exist.
 */
void tftp_server_free(struct tftp_server *s);

/*
 * Counters since start. Every datagram on the listening socket is one
 * request and ends up in exactly one of: a transfer (active, then completed
 * or failed), refused (an RRQ or WRQ answered with an ERROR), dropped (not
 * an RRQ or WRQ: garbage, or a stray ACK or ERROR; never answered), or a
 * duplicate (the client's retransmitted RRQ of a running transfer). So
 * requests = completed + failed + refused + dropped + duplicates + active.
 * failed counts every transfer that did not deliver its last block: the
 * client gave up or ended it with an ERROR (as PXE ROMs do after learning
 * tsize from the OACK), it stopped acknowledging, or a read failed.
 */
struct tftp_stats {
	uint64_t requests, completed, failed, refused, dropped, duplicates, active;
	uint64_t bytes;       /* file bytes of completed transfers */
	uint64_t retransmits; /* blocks or OACKs sent again after a timeout */
};

void tftp_server_stats(const struct tftp_server *s, struct tftp_stats *ret);

/* The local port of the listening socket (useful when bound to port 0). */
uint16_t tftp_server_port(const struct tftp_server *s);

#endif
