// SPDX-License-Identifier: Apache-2.0
/*
 * The read-only TFTP server (see tftp.h). The listening socket takes
 * requests: each one is parsed (tftp_packet.c), checked and either refused
 * with an ERROR from the request port, or becomes a transfer with its own
 * socket, file, window and retransmission timer. A transfer never blocks:
 * blocks are read with pread when they are sent (again after a rewind or a
 * timeout), so the memory of a transfer is its struct and the start offset
 * of each block of its window; the packet buffers are the server's, shared
 * by all transfers of the one loop thread.
 *
 * Transfer sockets are bound to the local address of the request and left
 * unconnected: a datagram from another address or port still reaches us and
 * is answered with ERROR 5 (RFC 1350 "unknown transfer ID") instead of an
 * ICMP error from the kernel, and it does not touch the transfer.
 */
#include "tftp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "tftp_packet.h"
#include "util.h"

/* Datagrams read per wake-up of one socket, so a flood cannot starve the others. */
#define RECV_BATCH 64
/* Refusal log lines per second; the rest are counted and summed up. */
#define REFUSE_LOG_PER_SEC 20
/* Largest datagram a client sends during a transfer (ACK, ERROR) that we look at. */
#define TRANSFER_RECV_MAX (TFTP_HEADER + TFTP_ERRMSG_MAX + 1)
#define NAME_LOG_MAX (TFTP_FILENAME_MAX * 4 + 1)
#define PEER_STR_MAX (INET6_ADDRSTRLEN + 8)

union sockaddr_any {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
	struct sockaddr_storage ss;
};

/* Where a request came in: the address to bind the transfer and to answer from. */
struct local {
	union sockaddr_any addr; /* port 0 */
	socklen_t len;
	int ifindex;
	bool v4_pktinfo; /* learnt from IP_PKTINFO (also on an IPv6 socket, for mapped addresses) */
};

/* Start of a block in the file: offset, and the netascii byte owed from the block before (-1: none). */
struct blockpos {
	uint64_t off;
	int pending;
};

struct transfer {
	struct tftp_server *srv;
	struct transfer *prev, *next_t;
	int sock, file;
	union sockaddr_any peer;
	socklen_t peer_len;
	char peer_str[PEER_STR_MAX];
	char name[NAME_LOG_MAX]; /* escaped, for logs */
	enum tftp_mode mode;
	struct tftp_options oack; /* what the OACK says; mask 0: no OACK was sent */
	unsigned blksize, window;
	/*
	 * Block indexes count from 1 and do not wrap; the wire number is the low
	 * 16 bits (65535 is followed by 0, as tftp-hpa, atftp and curl expect).
	 */
	uint64_t acked; /* highest block the client acknowledged */
	uint64_t next;  /* next block to send */
	uint64_t sent;  /* highest block sent so far */
	uint64_t last;  /* the short block that ends the file; 0 while unknown */
	uint64_t total; /* file bytes, once last is known */
	struct blockpos *ring; /* window + 1 slots, indexed by block % (window + 1) */
	bool wait_oack_ack;
	bool want_out; /* EPOLLOUT watched: the socket buffer was full */
	bool logged_bad, logged_tid;
	unsigned tries;       /* retransmissions since the last progress */
	uint64_t rto_base, rto; /* ms */
	uint64_t deadline;         /* retransmit when no progress by then */
	uint64_t timer, timer_due; /* the one timer of the transfer, and when it fires */
	uint64_t start_ms, retransmits;
};

#define TFTP_BATCH 16 /* DATA packets prepared and sent together */

struct tftp_server {
	struct evloop *ev;
	struct tftp_config cfg;
	int fd, root;
	int family;
	uint16_t port;
	struct local bound; /* getsockname of fd, when a datagram carries no pktinfo */
	struct transfer *transfers;
	struct tftp_stats st;
	uint64_t rl_start, rl_suppressed;
	unsigned rl_count;
	uint8_t pkt[TFTP_PACKET_MAX];       /* DATA being sent (netascii) */
	uint8_t scratch[TFTP_BLKSIZE_MAX]; /* file bytes before netascii encoding */
	/* octet: up to TFTP_BATCH blocks read by one pread, sent by one sendmmsg */
	uint8_t batch[TFTP_BATCH * TFTP_BLKSIZE_MAX];
	uint8_t heads[TFTP_BATCH][TFTP_HEADER];
	struct iovec iov[TFTP_BATCH][2];
	struct mmsghdr msgs[TFTP_BATCH];
};

void tftp_config_default(struct tftp_config *ret)
{
	*ret = (struct tftp_config){
		.root = NULL,
		.max_transfers = 256,
		.timeout_ms = 1000,
		.retries = 5,
		.max_blksize = 1468,
		.max_windowsize = 64,
	};
}

static void addr_str(const union sockaddr_any *a, char out[PEER_STR_MAX])
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (a->sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &a->in.sin_addr, host, sizeof(host));
		snprintf(out, PEER_STR_MAX, "%s:%u", host, ntohs(a->in.sin_port));
	} else if (a->sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &a->in6.sin6_addr, host, sizeof(host));
		snprintf(out, PEER_STR_MAX, "[%s]:%u", host, ntohs(a->in6.sin6_port));
	} else {
		snprintf(out, PEER_STR_MAX, "?");
	}
}

static bool same_peer(const union sockaddr_any *a, const union sockaddr_any *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->in.sin_port == b->in.sin_port && a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
	if (a->sa.sa_family == AF_INET6)
		return a->in6.sin6_port == b->in6.sin6_port &&
		       memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, sizeof(struct in6_addr)) == 0;
	return false;
}

/* --- refusals on the request port --------------------------------------- */

/* True when one more refusal may be logged this second. */
static bool refuse_log_ok(struct tftp_server *s)
{
	uint64_t now = evloop_now_ms();

	if (now - s->rl_start >= 1000) {
		if (s->rl_suppressed)
			log_warn("tftp: %llu more refused requests were not logged",
				 (unsigned long long)s->rl_suppressed);
		s->rl_start = now;
		s->rl_count = 0;
		s->rl_suppressed = 0;
	}
	if (s->rl_count < REFUSE_LOG_PER_SEC) {
		s->rl_count++;
		return true;
	}
	s->rl_suppressed++;
	return false;
}

/* Sends from the listening socket, with the request's local address as the source. */
static void send_from_listener(struct tftp_server *s, const void *buf, size_t len, const union sockaddr_any *peer,
			       socklen_t peer_len, const struct local *loc)
{
	union {
		struct cmsghdr h;
		uint8_t b[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr m = {
		.msg_name = (void *)peer,
		.msg_namelen = peer_len,
		.msg_iov = &iov,
		.msg_iovlen = 1,
	};
	struct cmsghdr *cm;

	memset(&ctl, 0, sizeof(ctl));
	if (loc->v4_pktinfo) {
		struct in_pktinfo pi = { .ipi_ifindex = 0 };
		if (loc->addr.sa.sa_family == AF_INET)
			pi.ipi_spec_dst = loc->addr.in.sin_addr;
		else /* mapped ::ffff:a.b.c.d */
			memcpy(&pi.ipi_spec_dst, &loc->addr.in6.sin6_addr.s6_addr[12], 4);
		m.msg_control = &ctl;
		m.msg_controllen = CMSG_SPACE(sizeof(pi));
		cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	} else if (loc->addr.sa.sa_family == AF_INET6) {
		struct in6_pktinfo pi = { .ipi6_addr = loc->addr.in6.sin6_addr, .ipi6_ifindex = (unsigned)loc->ifindex };
		m.msg_control = &ctl;
		m.msg_controllen = CMSG_SPACE(sizeof(pi));
		cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = IPPROTO_IPV6;
		cm->cmsg_type = IPV6_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	}
	if (sendmsg(s->fd, &m, MSG_DONTWAIT) < 0)
		log_debug("tftp: cannot answer a refused request: %m");
}

/*
 * Refuses a request: ERROR code/why to the client (why is a static string
 * naming the check), counted and logged once (name: escaped, or NULL).
 */
static void refuse(struct tftp_server *s, const union sockaddr_any *peer, socklen_t peer_len,
		   const struct local *loc, const char *who, const char *name, uint16_t code, const char *why)
{
	uint8_t buf[TFTP_HEADER + TFTP_ERRMSG_MAX + 1];
	size_t len;

	s->st.refused++;
	if (tftp_build_error(buf, sizeof(buf), code, why, &len) == 0)
		send_from_listener(s, buf, len, peer, peer_len, loc);
	if (!refuse_log_ok(s))
		return;
	if (name)
		log_warn("tftp: refused \"%s\" from %s: %s (ERROR %u)", name, who, why, code);
	else
		log_warn("tftp: refused request from %s: %s (ERROR %u)", who, why, code);
}

/*
 * Drops a datagram on the request port without an answer: garbage (we are
 * no reflector) or a stray ACK/ERROR (tftp-hpa ACKs the ERROR that refused
 * it; RFC 1350 never answers an ERROR). Only garbage is worth a warning.
 */
static void drop(struct tftp_server *s, const char *who, enum log_level level, const char *why)
{
	s->st.dropped++;
	if (level < LOG_WARN_)
		log_msg(level, NULL, "tftp: dropped packet from %s: %s", who, why);
	else if (refuse_log_ok(s))
		log_msg(level, NULL, "tftp: dropped packet from %s: %s", who, why);
}

/* --- transfers ------------------------------------------------------------ */

static ssize_t pread_full(int fd, uint8_t *buf, size_t n, uint64_t off)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(fd, buf + got, n - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/*
 * Reads the block that starts at *pos into out[blksize]: its length in
 * *ret_n and where the next block starts in *ret_next. 0 or -errno.
 */
static int read_block(struct transfer *t, const struct blockpos *pos, uint8_t *out, size_t *ret_n,
		      struct blockpos *ret_next)
{
	uint8_t *scratch = t->srv->scratch;
	uint64_t off = pos->off;
	int pending = pos->pending;
	size_t o, used;
	ssize_t got;

	if (t->mode == TFTP_MODE_OCTET) {
		got = pread_full(t->file, out, t->blksize, off);
		if (got < 0)
			return (int)got;
		*ret_n = (size_t)got;
		*ret_next = (struct blockpos){ .off = off + (uint64_t)got, .pending = -1 };
		return 0;
	}
	/* netascii: each input byte gives one or two, so blksize - o input bytes are enough. */
	o = tftp_netascii_encode(NULL, 0, out, t->blksize, &pending, &used);
	while (o < t->blksize) {
		got = pread_full(t->file, scratch, t->blksize - o, off);
		if (got < 0)
			return (int)got;
		if (got == 0)
			break;
		o += tftp_netascii_encode(scratch, (size_t)got, out + o, t->blksize - o, &pending, &used);
		off += used;
		if (used < (size_t)got)
			break;
	}
	*ret_n = o;
	*ret_next = (struct blockpos){ .off = off, .pending = pending };
	return 0;
}

static int send_to_peer(struct transfer *t, const void *buf, size_t len)
{
	if (sendto(t->sock, buf, len, MSG_DONTWAIT, &t->peer.sa, t->peer_len) < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return 0;
}

static void on_transfer_io(struct evloop *ev, int fd, uint32_t events, void *ud);

/* Watches EPOLLOUT too while the socket buffer is full (evloop has no "modify": del and add). */
static int want_out(struct transfer *t, bool on)
{
	int r;

	if (t->want_out == on)
		return 0;
	evloop_del_fd(t->srv->ev, t->sock);
	r = evloop_add_fd(t->srv->ev, t->sock, EPOLLIN | (on ? EPOLLOUT : 0), on_transfer_io, t);
	if (r < 0)
		return r;
	t->want_out = on;
	return 0;
}

/*
 * Prepares the blocks from t->next on, at most want, in s->msgs: in octet
 * mode read by one pread into s->batch (a short read ends the file), in
 * netascii one block encoded into s->pkt. Notes where each next block
 * starts, and the last block once it is read. Returns how many, or -errno.
 */
static int fill_batch(struct transfer *t, size_t want)
{
	struct tftp_server *s = t->srv;
	uint64_t slots = (uint64_t)t->window + 1, off = t->ring[t->next % slots].off;
	size_t k, n = 0, len;
	ssize_t got;
	int r;

	if (t->mode != TFTP_MODE_OCTET) {
		struct blockpos after;
		r = read_block(t, &t->ring[t->next % slots], s->pkt + TFTP_HEADER, &n, &after);
		if (r == 0)
			r = tftp_build_data(s->pkt, sizeof(s->pkt), (uint16_t)t->next, s->pkt + TFTP_HEADER, n, &len);
		if (r < 0)
			return r;
		t->ring[(t->next + 1) % slots] = after;
		if (n < t->blksize) {
			t->last = t->next;
			t->total = after.off;
		}
		s->iov[0][0] = (struct iovec){ .iov_base = s->pkt, .iov_len = len };
		s->msgs[0].msg_hdr.msg_iovlen = 1;
		return 1;
	}
	got = pread_full(t->file, s->batch, want * t->blksize, off);
	if (got < 0)
		return (int)got;
	for (k = 0; k < want; k++) {
		uint64_t b = t->next + k;
		size_t at = k * t->blksize;
		n = (size_t)got > at ? (size_t)got - at : 0;
		n = n < t->blksize ? n : t->blksize;
		s->heads[k][0] = 0;
		s->heads[k][1] = TFTP_DATA;
		s->heads[k][2] = (uint8_t)(b >> 8);
		s->heads[k][3] = (uint8_t)b;
		s->iov[k][0] = (struct iovec){ .iov_base = s->heads[k], .iov_len = TFTP_HEADER };
		s->iov[k][1] = (struct iovec){ .iov_base = s->batch + at, .iov_len = n };
		s->msgs[k].msg_hdr.msg_iovlen = 2;
		t->ring[(b + 1) % slots] = (struct blockpos){ .off = off + at + n, .pending = -1 };
		if (n < t->blksize) {
			t->last = b;
			t->total = off + at + n;
			return (int)k + 1;
		}
	}
	return (int)want;
}

/*
 * Sends blocks from t->next up to the end of the window (RFC 7440: up to
 * windowsize blocks past the last ACK) or of the file, TFTP_BATCH at a
 * time. Stops early, to go on at EPOLLOUT, when the socket buffer is full.
 * 0 or -errno.
 */
static int pump(struct transfer *t)
{
	struct tftp_server *s = t->srv;

	while (t->next <= t->acked + t->window && (t->last == 0 || t->next <= t->last)) {
		uint64_t end = t->acked + t->window;
		int n, sent;

		if (t->last && t->last < end)
			end = t->last;
		n = fill_batch(t, end - t->next + 1 < TFTP_BATCH ? (size_t)(end - t->next + 1) : TFTP_BATCH);
		if (n < 0)
			return n;
		for (int k = 0; k < n; k++) {
			s->msgs[k].msg_hdr.msg_name = &t->peer.sa;
			s->msgs[k].msg_hdr.msg_namelen = t->peer_len;
			s->msgs[k].msg_hdr.msg_iov = s->iov[k];
		}
		sent = sendmmsg(t->sock, s->msgs, (unsigned)n, MSG_DONTWAIT);
		if (sent < 0)
			return errno == EWOULDBLOCK || errno == EAGAIN ? want_out(t, true) : -errno;
		t->next += (uint64_t)sent;
		if (t->next - 1 > t->sent)
			t->sent = t->next - 1;
		if (sent < n)
			return want_out(t, true);
	}
	return want_out(t, false);
}

static int send_oack(struct transfer *t)
{
	uint8_t buf[128];
	size_t len;
	int r = tftp_build_oack(buf, sizeof(buf), &t->oack, &len);

	if (r < 0)
		return r;
	r = send_to_peer(t, buf, len);
	/* A full socket buffer loses the OACK like the network would: the timer resends it. */
	return r == -EAGAIN ? 0 : r;
}

enum outcome { DONE, FAILED };

/* Ends t: optional ERROR to the client (code < 0: none), counts, frees. */
static void transfer_end(struct transfer *t, enum outcome how, int code, const char *msg)
{
	struct tftp_server *s = t->srv;

	if (code >= 0) {
		uint8_t buf[TFTP_HEADER + TFTP_ERRMSG_MAX + 1];
		size_t len;
		if (tftp_build_error(buf, sizeof(buf), (uint16_t)code, msg, &len) == 0)
			(void)send_to_peer(t, buf, len);
	}
	if (how == DONE) {
		s->st.completed++;
		s->st.bytes += t->total;
	} else {
		s->st.failed++;
	}
	s->st.active--;
	if (t->timer)
		evloop_timer_cancel(s->ev, t->timer);
	evloop_del_fd(s->ev, t->sock);
	close(t->sock);
	close(t->file);
	if (t->prev)
		t->prev->next_t = t->next_t;
	else
		s->transfers = t->next_t;
	if (t->next_t)
		t->next_t->prev = t->prev;
	free(t->ring);
	free(t);
}

static void on_transfer_timer(struct evloop *ev, void *ud);

/*
 * Restarts the retransmission clock: deadline in t->rto ms. The timer that
 * is already set stays when it fires no later than that (it sleeps again on
 * firing early), so an ACK costs no timer churn; it is replaced when the
 * deadline comes sooner (rto back to its base after a backoff). 0 or -ENOMEM.
 */
static int arm(struct transfer *t)
{
	t->deadline = evloop_now_ms() + t->rto;
	if (t->timer && t->timer_due <= t->deadline)
		return 0;
	if (t->timer)
		evloop_timer_cancel(t->srv->ev, t->timer);
	t->timer = evloop_timer(t->srv->ev, t->rto, on_transfer_timer, t);
	t->timer_due = t->deadline;
	return t->timer ? 0 : -ENOMEM;
}

static void fail_io(struct transfer *t, int r, const char *what)
{
	log_warn("tftp: \"%s\" to %s: %s at block %llu: %s", t->name, t->peer_str, what,
		 (unsigned long long)t->next, strerror(-r));
	transfer_end(t, FAILED, TFTP_EUNDEF, r == -ENOMEM ? "out of memory" : "server error");
}

static void on_transfer_timer(struct evloop *ev, void *ud)
{
	struct transfer *t = ud;
	uint64_t now = evloop_now_ms();
	int r;

	t->timer = 0;
	/* Progress moved the deadline: sleep again until then (one timer per transfer). */
	if (now < t->deadline) {
		t->timer = evloop_timer(ev, t->deadline - now, on_transfer_timer, t);
		t->timer_due = t->deadline;
		if (!t->timer)
			fail_io(t, -ENOMEM, "timer");
		return;
	}
	if (t->tries >= t->srv->cfg.retries) {
		log_warn("tftp: gave up on \"%s\" to %s: no ACK after %u retransmissions, at %s %llu, after %llu ms",
			 t->name, t->peer_str, t->tries, t->wait_oack_ack ? "OACK" : "block",
			 (unsigned long long)(t->wait_oack_ack ? 0 : t->acked + 1),
			 (unsigned long long)(now - t->start_ms));
		transfer_end(t, FAILED, TFTP_EUNDEF, "timed out waiting for ACK");
		return;
	}
	/* Exponential backoff, from the negotiated timeout, capped. */
	t->tries++;
	t->retransmits++;
	t->srv->st.retransmits++;
	if (t->rto < TFTP_SERVER_BACKOFF_MAX_MS)
		t->rto = t->rto * 2 < TFTP_SERVER_BACKOFF_MAX_MS ? t->rto * 2 : TFTP_SERVER_BACKOFF_MAX_MS;
	r = arm(t);
	if (r == 0) {
		if (t->wait_oack_ack) {
			r = send_oack(t);
		} else {
			t->next = t->acked + 1;
			r = pump(t);
		}
	}
	if (r < 0)
		fail_io(t, r, "retransmission failed");
}

/* A packet from the client that we drop: logged once per transfer. */
static void bad_packet(struct transfer *t, const char *why)
{
	if (t->logged_bad)
		return;
	t->logged_bad = true;
	log_warn("tftp: \"%s\" to %s: dropped a packet from the client: %s (logged once per transfer)", t->name,
		 t->peer_str, why);
}

static void complete(struct transfer *t)
{
	uint64_t ms = evloop_now_ms() - t->start_ms;

	log_info("tftp: sent \"%s\" to %s: %llu bytes in %llu ms (%.1f MB/s), %s, blksize %u, windowsize %u, "
		 "%llu retransmissions",
		 t->name, t->peer_str, (unsigned long long)t->total, (unsigned long long)ms,
		 ms ? (double)t->total / 1000.0 / (double)ms : 0.0,
		 t->mode == TFTP_MODE_OCTET ? "octet" : "netascii", t->blksize, t->window,
		 (unsigned long long)t->retransmits);
	transfer_end(t, DONE, -1, NULL);
}

/* An ACK from the client. Returns true if t is gone. */
static bool on_ack(struct transfer *t, uint16_t block)
{
	int r;

	if (t->wait_oack_ack) {
		/* RFC 2347: the client acknowledges the OACK with ACK 0. */
		if (block != 0) {
			bad_packet(t, "ACK of a data block before the OACK was acknowledged");
			return false;
		}
		t->wait_oack_ack = false;
		t->acked = 0;
		t->next = 1;
	} else {
		/* Which block of the ones in flight (acked, sent] this 16-bit number names. */
		uint64_t d = (uint16_t)((uint16_t)t->sent - block);
		if (d >= t->sent - t->acked)
			return false; /* a duplicate or stale ACK: never resend for it (Sorcerer's Apprentice) */
		t->acked = t->sent - d;
		if (t->last && t->acked == t->last) {
			complete(t);
			return true;
		}
		/* RFC 7440: an ACK inside the window rewinds to the block after it. */
		t->next = t->acked + 1;
	}
	t->tries = 0;
	t->rto = t->rto_base;
	r = arm(t);
	if (r == 0)
		r = pump(t);
	if (r < 0) {
		fail_io(t, r, "send failed");
		return true;
	}
	return false;
}

/* One packet from the client. Returns true if t is gone. */
static bool on_client_packet(struct transfer *t, const uint8_t *buf, size_t len)
{
	struct tftp_error e;
	const char *why;
	uint16_t op, block;
	char msg[TFTP_ERRMSG_MAX * 4 + 1];

	if (tftp_parse_opcode(buf, len, &op, &why) < 0) {
		bad_packet(t, why);
		return false;
	}
	switch (op) {
	case TFTP_ACK:
		if (tftp_parse_ack(buf, len, &block, &why) < 0) {
			bad_packet(t, why);
			return false;
		}
		return on_ack(t, block);
	case TFTP_ERROR:
		if (tftp_parse_error(buf, len, &e, &why) < 0) {
			bad_packet(t, why);
			return false;
		}
		log_escape(e.msg, e.msg_len, msg, sizeof(msg));
		/* PXE ROMs ask for tsize and then end the transfer at the OACK: not worth a warning. */
		log_msg(t->wait_oack_ack ? LOG_INFO_ : LOG_WARN_, NULL,
			"tftp: \"%s\" to %s: the client ended the transfer with ERROR %u \"%s\" at block %llu",
			t->name, t->peer_str, e.code, msg, (unsigned long long)(t->wait_oack_ack ? 0 : t->acked + 1));
		/* RFC 1350: an ERROR is never acknowledged nor answered. */
		transfer_end(t, FAILED, -1, NULL);
		return true;
	default:
		/* RFC 1350: an illegal operation ends the transfer with ERROR 4. */
		log_warn("tftp: \"%s\" to %s: the client sent opcode %u during a read: ended with ERROR 4", t->name,
			 t->peer_str, op);
		transfer_end(t, FAILED, TFTP_EBADOP, "illegal operation during a read transfer");
		return true;
	}
}

/* A datagram on t's port from someone else: ERROR 5, the transfer goes on (RFC 1350). */
static void on_stray(struct transfer *t, const union sockaddr_any *from, socklen_t from_len, const uint8_t *buf,
		     size_t len)
{
	uint8_t out[64];
	size_t olen;
	uint16_t op;
	char who[PEER_STR_MAX];

	/* Never answer an ERROR: two servers could bounce them forever. */
	if (tftp_parse_opcode(buf, len, &op, NULL) == 0 && op != TFTP_ERROR &&
	    tftp_build_error(out, sizeof(out), TFTP_EBADID, "unknown transfer ID", &olen) == 0)
		(void)sendto(t->sock, out, olen, MSG_DONTWAIT, &from->sa, from_len);
	if (t->logged_tid)
		return;
	t->logged_tid = true;
	addr_str(from, who);
	log_warn("tftp: \"%s\" to %s: packet from %s, a wrong transfer ID: answered ERROR 5 (logged once per "
		 "transfer)",
		 t->name, t->peer_str, who);
}

static void on_transfer_io(struct evloop *ev, int fd, uint32_t events, void *ud)
{
	struct transfer *t = ud;
	int r;

	(void)ev;
	if (events & EPOLLOUT) {
		r = pump(t);
		if (r < 0) {
			fail_io(t, r, "send failed");
			return;
		}
	}
	if (!(events & (EPOLLIN | EPOLLERR)))
		return;
	for (int i = 0; i < RECV_BATCH; i++) {
		uint8_t buf[TRANSFER_RECV_MAX];
		union sockaddr_any from;
		socklen_t from_len = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, &from.sa, &from_len);

		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_debug("tftp: \"%s\" to %s: recvfrom: %m", t->name, t->peer_str);
			return;
		}
		if (!same_peer(&from, &t->peer)) {
			on_stray(t, &from, from_len, buf, (size_t)n);
			continue;
		}
		if (on_client_packet(t, buf, (size_t)n))
			return;
	}
}

static struct transfer *find_transfer(struct tftp_server *s, const union sockaddr_any *peer)
{
	for (struct transfer *t = s->transfers; t; t = t->next_t)
		if (same_peer(&t->peer, peer))
			return t;
	return NULL;
}

/*
 * Opens name under the root: openat2 confines it (RESOLVE_BENEATH), follows
 * no symlink at all, and O_NONBLOCK keeps a FIFO from blocking the loop
 * until fstat turns it away. 0 or -errno with *ret_why set.
 */
static int open_file(struct tftp_server *s, const char *name, int *ret_fd, uint64_t *ret_size, const char **ret_why)
{
	struct open_how how = {
		.flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	struct stat st;
	int fd, r;

	fd = (int)syscall(SYS_openat2, s->root, name, &how, sizeof(how));
	if (fd < 0) {
		r = -errno;
		switch (r) {
		case -ENOENT:
		case -ENOTDIR:
			*ret_why = "file not found";
			break;
		case -ELOOP:
			*ret_why = "symbolic links are not followed";
			break;
		case -EXDEV:
			*ret_why = "path leaves the root";
			break;
		case -EACCES:
		case -EPERM:
			*ret_why = "permission denied";
			break;
		default:
			*ret_why = "cannot open the file";
		}
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		*ret_why = "cannot stat the file";
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		*ret_why = "not a regular file";
		return -EACCES;
	}
	*ret_fd = fd;
	*ret_size = (uint64_t)st.st_size;
	return 0;
}

/* A socket for one transfer on an ephemeral port of the request's local address. */
static int transfer_socket(struct tftp_server *s, const struct local *loc)
{
	union sockaddr_any a = loc->addr;
	int fd = socket(s->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (a.sa.sa_family == AF_INET6 && IN6_IS_ADDR_LINKLOCAL(&a.in6.sin6_addr))
		a.in6.sin6_scope_id = (uint32_t)loc->ifindex;
	if (bind(fd, &a.sa, loc->len) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/*
 * Starts a transfer of file (ownership taken, closed on failure) for rq.
 * Option negotiation (RFC 2347): each valid option is answered in an OACK,
 * blksize and windowsize lowered to the server's limits (RFC 2348, 7440),
 * tsize with the file size in octet mode (RFC 2349). 0 or -errno.
 */
static int transfer_start(struct tftp_server *s, const struct tftp_request *rq, int file, uint64_t size,
			  const union sockaddr_any *peer, socklen_t peer_len, const struct local *loc, const char *who,
			  const char *name)
{
	struct transfer *t = calloc(1, sizeof(*t));
	const struct tftp_options *o = &rq->opts;
	int r;

	if (!t) {
		close(file);
		return -ENOMEM;
	}
	t->srv = s;
	t->file = file;
	t->peer = *peer;
	t->peer_len = peer_len;
	snprintf(t->peer_str, sizeof(t->peer_str), "%s", who);
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->mode = rq->mode;
	t->blksize = TFTP_BLKSIZE_DEFAULT;
	t->window = 1;
	t->rto_base = s->cfg.timeout_ms;
	if (o->mask & TFTP_OPT_BLKSIZE) {
		t->blksize = o->blksize < s->cfg.max_blksize ? o->blksize : s->cfg.max_blksize;
		t->oack.mask |= TFTP_OPT_BLKSIZE;
		t->oack.blksize = (uint16_t)t->blksize;
	}
	if (o->mask & TFTP_OPT_TIMEOUT) {
		t->rto_base = (uint64_t)o->timeout * 1000;
		t->oack.mask |= TFTP_OPT_TIMEOUT;
		t->oack.timeout = o->timeout;
	}
	/* The netascii size is not known without reading the whole file: tsize is not answered. */
	if ((o->mask & TFTP_OPT_TSIZE) && t->mode == TFTP_MODE_OCTET) {
		t->oack.mask |= TFTP_OPT_TSIZE;
		t->oack.tsize = size;
	}
	if (o->mask & TFTP_OPT_WINDOWSIZE) {
		t->window = o->windowsize < s->cfg.max_windowsize ? o->windowsize : s->cfg.max_windowsize;
		t->oack.mask |= TFTP_OPT_WINDOWSIZE;
		t->oack.windowsize = (uint16_t)t->window;
	}
	t->rto = t->rto_base;
	t->ring = calloc((size_t)t->window + 1, sizeof(*t->ring));
	t->sock = transfer_socket(s, loc);
	if (!t->ring || t->sock < 0) {
		r = t->sock < 0 ? t->sock : -ENOMEM;
		goto fail;
	}
	t->ring[1 % (t->window + 1)] = (struct blockpos){ .off = 0, .pending = -1 };
	r = evloop_add_fd(s->ev, t->sock, EPOLLIN, on_transfer_io, t);
	if (r < 0)
		goto fail;
	t->next_t = s->transfers;
	if (s->transfers)
		s->transfers->prev = t;
	s->transfers = t;
	s->st.active++;
	t->start_ms = evloop_now_ms();

	log_debug("tftp: sending \"%s\" to %s: %s, blksize %u, windowsize %u, timeout %llu ms%s", t->name, t->peer_str,
		  t->mode == TFTP_MODE_OCTET ? "octet" : "netascii", t->blksize, t->window,
		  (unsigned long long)t->rto_base, t->oack.mask ? ", OACK" : "");
	if (rq->ignored_why)
		log_info("tftp: \"%s\" from %s: %s: option ignored", t->name, t->peer_str, rq->ignored_why);

	r = arm(t);
	if (r == 0) {
		if (t->oack.mask) {
			t->wait_oack_ack = true;
			r = send_oack(t);
		} else {
			t->next = 1;
			r = pump(t);
		}
	}
	if (r < 0) {
		/* Linked and counted: end it like any transfer. */
		fail_io(t, r, "cannot start");
	}
	return 0;

fail:
	if (t->sock >= 0)
		close(t->sock);
	close(file);
	free(t->ring);
	free(t);
	return r;
}

/* One datagram on the request port (RFC 1350: only RRQ and WRQ belong there). */
static void on_request(struct tftp_server *s, const uint8_t *buf, size_t len, const union sockaddr_any *peer,
		       socklen_t peer_len, const struct local *loc)
{
	struct tftp_request rq;
	const char *why;
	char who[PEER_STR_MAX], name[NAME_LOG_MAX];
	uint64_t size = 0;
	uint16_t op;
	int r, file = -1;

	s->st.requests++;
	addr_str(peer, who);
	if (tftp_parse_opcode(buf, len, &op, &why) < 0) {
		drop(s, who, LOG_WARN_, why);
		return;
	}
	if (op != TFTP_RRQ && op != TFTP_WRQ) {
		if (op >= TFTP_DATA && op <= TFTP_OACK)
			drop(s, who, LOG_DEBUG_, "DATA, ACK, ERROR or OACK on the request port");
		else
			drop(s, who, LOG_WARN_, "unknown opcode");
		return;
	}
	r = tftp_parse_request(buf, len, &rq, &why);
	if (r < 0) {
		refuse(s, peer, peer_len, loc, who, NULL, tftp_errno_to_code(r), why);
		return;
	}
	log_escape(rq.filename, rq.filename_len, name, sizeof(name));
	if (rq.opcode == TFTP_WRQ) {
		refuse(s, peer, peer_len, loc, who, name, TFTP_EACCESS, "server is read-only");
		return;
	}
	/* The client sent its RRQ again before our first answer reached it: that transfer answers. */
	if (find_transfer(s, peer)) {
		s->st.duplicates++;
		log_debug("tftp: \"%s\" from %s: duplicate request, transfer running", name, who);
		return;
	}
	if (s->st.active >= s->cfg.max_transfers) {
		refuse(s, peer, peer_len, loc, who, name, TFTP_EUNDEF, "server busy, try again later");
		return;
	}
	r = tftp_check_filename(rq.filename, rq.filename_len, &why);
	if (r == 0)
		r = open_file(s, rq.filename, &file, &size, &why);
	if (r < 0) {
		refuse(s, peer, peer_len, loc, who, name, tftp_errno_to_code(r), why);
		return;
	}
	r = transfer_start(s, &rq, file, size, peer, peer_len, loc, who, name);
	if (r < 0) {
		log_error("tftp: \"%s\" from %s: cannot start a transfer: %s", name, who, strerror(-r));
		refuse(s, peer, peer_len, loc, who, name, TFTP_EUNDEF, "server out of resources");
	}
}

/* The local address of a received datagram, from its pktinfo (or the bound address). */
static void local_of(struct tftp_server *s, struct msghdr *m, struct local *ret)
{
	*ret = s->bound;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(m); cm; cm = CMSG_NXTHDR(m, cm)) {
		if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			ret->v4_pktinfo = true;
			ret->ifindex = pi.ipi_ifindex;
			if (s->family == AF_INET) {
				ret->addr.in.sin_addr = pi.ipi_spec_dst;
			} else {
				memset(&ret->addr.in6.sin6_addr, 0, sizeof(struct in6_addr));
				ret->addr.in6.sin6_addr.s6_addr[10] = 0xff;
				ret->addr.in6.sin6_addr.s6_addr[11] = 0xff;
				memcpy(&ret->addr.in6.sin6_addr.s6_addr[12], &pi.ipi_spec_dst, 4);
			}
			return;
		}
		if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO && s->family == AF_INET6) {
			struct in6_pktinfo pi;
			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			ret->addr.in6.sin6_addr = pi.ipi6_addr;
			ret->ifindex = (int)pi.ipi6_ifindex;
			ret->v4_pktinfo = false;
			return;
		}
	}
}

static void on_listen_io(struct evloop *ev, int fd, uint32_t events, void *ud)
{
	struct tftp_server *s = ud;

	(void)ev;
	(void)events;
	for (int i = 0; i < RECV_BATCH; i++) {
		/* One byte more than a request may have, so that a longer one is seen as such. */
		uint8_t buf[TFTP_REQUEST_MAX + 1];
		union sockaddr_any peer;
		union {
			struct cmsghdr h;
			uint8_t b[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(struct in_pktinfo))];
		} ctl;
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct msghdr m = {
			.msg_name = &peer,
			.msg_namelen = sizeof(peer),
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = &ctl,
			.msg_controllen = sizeof(ctl),
		};
		struct local loc;
		ssize_t n = recvmsg(fd, &m, MSG_DONTWAIT);

		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_debug("tftp: recvmsg: %m");
			return;
		}
		if (m.msg_namelen == 0 || (peer.sa.sa_family != AF_INET && peer.sa.sa_family != AF_INET6))
			continue;
		local_of(s, &m, &loc);
		/* A datagram cut to the buffer has len = sizeof(buf) > TFTP_REQUEST_MAX: refused as too long. */
		on_request(s, buf, (size_t)n, &peer, m.msg_namelen, &loc);
	}
}

int tftp_server_new(struct evloop *ev, int fd, const struct tftp_config *cfg, struct tftp_server **ret)
{
	struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC };
	struct tftp_server *s;
	union sockaddr_any a;
	socklen_t alen = sizeof(a), tlen = sizeof(int);
	int one = 1, type = 0, r, fl;

	if (!cfg->root || !*cfg->root || cfg->max_transfers == 0 || cfg->timeout_ms == 0 ||
	    cfg->max_blksize < TFTP_BLKSIZE_DEFAULT || cfg->max_blksize > TFTP_BLKSIZE_MAX ||
	    cfg->max_windowsize < TFTP_WINDOWSIZE_MIN || cfg->max_windowsize > TFTP_SERVER_WINDOW_CAP) {
		close(fd);
		return -EINVAL;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 || type != SOCK_DGRAM) {
		close(fd);
		return -EINVAL;
	}
	if (getsockname(fd, &a.sa, &alen) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (a.sa.sa_family != AF_INET && a.sa.sa_family != AF_INET6) {
		close(fd);
		return -EAFNOSUPPORT;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return -ENOMEM;
	}
	s->ev = ev;
	s->cfg = *cfg;
	s->cfg.root = NULL; /* not kept */
	s->fd = fd;
	s->family = a.sa.sa_family;
	s->bound.addr = a;
	s->bound.len = alen;
	if (a.sa.sa_family == AF_INET) {
		s->port = ntohs(a.in.sin_port);
		s->bound.addr.in.sin_port = 0;
	} else {
		s->port = ntohs(a.in6.sin6_port);
		s->bound.addr.in6.sin6_port = 0;
	}
	/* Opening the root with openat2 also tells whether the kernel has it (5.6+). */
	s->root = (int)syscall(SYS_openat2, AT_FDCWD, cfg->root, &how, sizeof(how));
	if (s->root < 0) {
		r = -errno;
		goto fail;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		r = -errno;
		goto fail;
	}
	if (s->family == AF_INET) {
		if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0) {
			r = -errno;
			goto fail;
		}
	} else {
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) < 0) {
			r = -errno;
			goto fail;
		}
		/* IPv4-mapped requests on a dual-stack socket carry IP_PKTINFO; fails harmlessly on a v6-only one. */
		(void)setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	}
	r = evloop_add_fd(ev, fd, EPOLLIN, on_listen_io, s);
	if (r < 0)
		goto fail;
	*ret = s;
	return 0;

fail:
	if (s->root >= 0)
		close(s->root);
	close(fd);
	free(s);
	return r;
}

void tftp_server_free(struct tftp_server *s)
{
	if (!s)
		return;
	if (s->transfers)
		log_info("tftp: shutting down, %llu transfers cut short", (unsigned long long)s->st.active);
	while (s->transfers)
		transfer_end(s->transfers, FAILED, TFTP_EUNDEF, "server shutting down");
	evloop_del_fd(s->ev, s->fd);
	close(s->fd);
	close(s->root);
	free(s);
}

void tftp_server_stats(const struct tftp_server *s, struct tftp_stats *ret)
{
	*ret = s->st;
}

uint16_t tftp_server_port(const struct tftp_server *s)
{
	return s->port;
}
