// SPDX-License-Identifier: Apache-2.0
/*
 * The DHCP server: sockets, the lease table, the RFC 2131 state handling
 * (section 4.3), PXE boot answers and the group commit. See dhcp.h.
 *
 * Leases live in memory (the answer to every packet comes from there) and
 * in the store (what survives a restart). Every change that a client is
 * told about in an ACK is committed before the ACK leaves.
 */
#include "dhcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dhcp_listen.h"
#include "dhcp_packet.h"
#include "log.h"
#include "netif.h"
#include "u64map.h"
#include "util.h"

#define DHCP_RCVBUF (4 << 20) /* bytes of receive buffer of the DHCP socket */
#define DHCP_SERVER_PORT 67
#define DHCP_CLIENT_PORT 68
#define PXE_PORT 4011
#define OFFER_HOLD 60          /* seconds an offered address stays set aside */
#define PENDING_MAX 256        /* ACKs waiting for one commit */
#define DISCOVERED_EVERY 60    /* seconds between two records of one unknown machine */
#define LOG_EVERY 10           /* seconds between two logs of dropped packets */
#define POOL_MAX 65536         /* addresses in one range */

enum lease_state { L_OFFERED, L_BOUND, L_RELEASED, L_DECLINED };
static const char *const lease_state_names[] = { "offered", "bound", "released", "declined" };

struct lease {
	char mac[18];      /* "" for an address blocked by a DECLINE */
	struct in_addr ip;
	enum lease_state state;
	int64_t expires;
	char hostname[64];
	bool dirty;        /* changed since the last commit */
	bool free;         /* slot unused */
};

/* Leases are addressed by index: the array moves when it grows. */
#define NO_LEASE SIZE_MAX

struct pending {
	uint8_t buf[DHCP_PACKET_MAX];
	size_t len;
	int fd;
	struct sockaddr_in to;
};

struct seen {
	char mac[18];
	int64_t at;
	struct bw_discovered d;
	bool dirty;
};

struct dhcp_server {
	struct evloop *ev;
	struct store *store;
	struct dhcp_config cfg;
	struct netif_watch *watch;
	struct netif_info nif;
	struct dhcp_listen *listen; /* the sandboxed process that reads the sockets */
	int fd, pxe_fd;
	char http_base[256];
	uint32_t range_lo, range_hi, next; /* host order */

	struct lease *leases;
	size_t n_leases, cap_leases;
	struct u64map by_mac, by_ip; /* -> index in leases */
	size_t *free_slots;
	size_t n_free;

	struct pending *pending;
	size_t n_pending;
	uint64_t flush_timer;

	struct seen *seen;
	size_t n_seen, cap_seen;

	struct dhcp_stats stats;
	int64_t last_drop_log;
	uint64_t drops_since_log;
};

static int64_t now_s(void) { return (int64_t)time(NULL); }

int dhcp_mode_parse(const char *s, enum dhcp_mode *ret)
{
	if (str_eq(s, "server"))
		*ret = DHCP_MODE_SERVER;
	else if (str_eq(s, "proxy"))
		*ret = DHCP_MODE_PROXY;
	else if (str_eq(s, "off"))
		*ret = DHCP_MODE_OFF;
	else
		return -EINVAL;
	return 0;
}

static const char *ip_str(struct in_addr a, char buf[INET_ADDRSTRLEN])
{
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* One log line for the first dropped packet, then one per LOG_EVERY seconds with a count. */
static void log_drop(struct dhcp_server *d, const char *who, const char *why)
{
	int64_t t = now_s();

	d->stats.dropped++;
	d->drops_since_log++;
	if (d->last_drop_log && t - d->last_drop_log < LOG_EVERY)
		return;
	log_warn("dhcp: dropped a packet from %s: %s%s", who, why,
		 d->drops_since_log > 1 ? " (and others since the last report)" : "");
	d->last_drop_log = t;
	d->drops_since_log = 0;
}

static const char *peer_str(const struct sockaddr_in *from, char buf[32])
{
	char a[INET_ADDRSTRLEN];
	snprintf(buf, 32, "%s:%u", ip_str(from->sin_addr, a), ntohs(from->sin_port));
	return buf;
}

/* ---- the lease table ---- */

static uint64_t mac_key(const char *mac)
{
	unsigned b[6];
	if (sscanf(mac, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
		return 0;
	return (uint64_t)b[0] << 40 | (uint64_t)b[1] << 32 | (uint64_t)b[2] << 24 | (uint64_t)b[3] << 16 |
	       (uint64_t)b[4] << 8 | b[5];
}

static size_t lease_by_mac(struct dhcp_server *d, const char *mac)
{
	uint64_t v;
	return mac[0] && u64map_get(&d->by_mac, mac_key(mac), &v) ? (size_t)v : NO_LEASE;
}

static size_t lease_by_ip(struct dhcp_server *d, struct in_addr ip)
{
	uint64_t v;
	return u64map_get(&d->by_ip, ntohl(ip.s_addr), &v) ? (size_t)v : NO_LEASE;
}

/* A fresh slot for mac on ip, indexed by both. NO_LEASE when out of memory. */
static size_t lease_new(struct dhcp_server *d, const char *mac, struct in_addr ip)
{
	size_t i;
	struct lease *l;

	if (d->n_free) {
		i = d->free_slots[--d->n_free];
	} else {
		if (d->n_leases == d->cap_leases) {
			size_t cap = d->cap_leases ? d->cap_leases * 2 : 64;
			struct lease *n = realloc(d->leases, cap * sizeof(*n));
			size_t *f = realloc(d->free_slots, cap * sizeof(*f));
			if (n)
				d->leases = n;
			if (f)
				d->free_slots = f;
			if (!n || !f)
				return NO_LEASE;
			d->cap_leases = cap;
		}
		i = d->n_leases++;
	}
	l = &d->leases[i];
	memset(l, 0, sizeof(*l));
	snprintf(l->mac, sizeof(l->mac), "%s", mac);
	l->ip = ip;
	if ((mac[0] && u64map_put(&d->by_mac, mac_key(mac), i) < 0) ||
	    u64map_put(&d->by_ip, ntohl(ip.s_addr), i) < 0) {
		u64map_del(&d->by_mac, mac_key(mac));
		l->free = true;
		d->free_slots[d->n_free++] = i;
		return NO_LEASE;
	}
	return i;
}

static void lease_drop(struct dhcp_server *d, size_t i)
{
	struct lease *l = &d->leases[i];
	if (l->mac[0])
		u64map_del(&d->by_mac, mac_key(l->mac));
	u64map_del(&d->by_ip, ntohl(l->ip.s_addr));
	l->free = true;
	d->free_slots[d->n_free++] = i;
}

/* Leaves the address of lease i ownerless (a DECLINE): it stays blocked until it expires. */
static void lease_disown(struct dhcp_server *d, size_t i)
{
	struct lease *l = &d->leases[i];
	if (l->mac[0])
		u64map_del(&d->by_mac, mac_key(l->mac));
	l->mac[0] = '\0';
}

/* An address some lease still holds (bound and unexpired, offered, declined). */
static bool ip_taken(struct dhcp_server *d, struct in_addr ip, const char *by_other_than)
{
	size_t i = lease_by_ip(d, ip);
	const struct lease *l;
	if (i == NO_LEASE)
		return false;
	l = &d->leases[i];
	if (by_other_than && l->mac[0] && str_eq(l->mac, by_other_than))
		return false;
	return l->expires > now_s() && l->state != L_RELEASED;
}

static bool in_range(struct dhcp_server *d, struct in_addr ip)
{
	uint32_t h = ntohl(ip.s_addr);
	return h >= d->range_lo && h <= d->range_hi;
}

static bool in_subnet(struct dhcp_server *d, struct in_addr ip)
{
	return (ip.s_addr & d->nif.netmask.s_addr) == (d->nif.addr.s_addr & d->nif.netmask.s_addr) &&
	       ip.s_addr != d->nif.addr.s_addr;
}

struct reserved {
	struct u64map ips; /* address -> 1, of nodes other than the asking one */
	const char *mac;
};

static void on_reserved(const char *ip, const char *mac, void *ud)
{
	struct reserved *r = ud;
	struct in_addr a;
	if (!str_eq(mac, r->mac) && inet_pton(AF_INET, ip, &a) == 1)
		u64map_put(&r->ips, ntohl(a.s_addr), 1);
}

/*
 * The address for mac: its reservation, its current lease, the address it
 * asks for if free, or the next free one of the range. 0 if the pool is full.
 */
static struct in_addr choose_ip(struct dhcp_server *d, const char *mac, const struct bw_node *node,
				const struct dhcp_msg *m)
{
	struct in_addr none = { 0 }, ip = { 0 };
	struct reserved res = { .mac = mac };
	uint32_t size = d->range_hi - d->range_lo + 1;
	uint64_t v;
	size_t i;

	if (node && node->ip_address[0] && inet_pton(AF_INET, node->ip_address, &ip) == 1)
		return ip;
	u64map_init(&res.ips);
	if (store_reserved_ips(d->store, on_reserved, &res) < 0) {
		u64map_clear(&res.ips);
		return none; /* the store failed: hand out nothing rather than a reserved address */
	}
#define RESERVED(a) u64map_get(&res.ips, ntohl((a).s_addr), &v)
	i = lease_by_mac(d, mac);
	if (i != NO_LEASE && d->leases[i].state != L_DECLINED && in_range(d, d->leases[i].ip) &&
	    !RESERVED(d->leases[i].ip)) {
		ip = d->leases[i].ip;
		goto out;
	}
	if (m->has_requested_ip && in_range(d, m->requested_ip) && !ip_taken(d, m->requested_ip, mac) &&
	    !RESERVED(m->requested_ip)) {
		ip = m->requested_ip;
		goto out;
	}
	for (uint32_t k = 0; k < size; k++) {
		ip.s_addr = htonl(d->range_lo + (d->next + k) % size);
		if (ip_taken(d, ip, mac) || ip.s_addr == d->nif.addr.s_addr || RESERVED(ip))
			continue;
		d->next = (d->next + k + 1) % size;
		goto out;
	}
	ip = none;
#undef RESERVED
out:
	u64map_clear(&res.ips);
	return ip;
}

/* Gives ip to mac (state, expiry), taking it from a stale holder. Returns the lease or NO_LEASE. */
static size_t assign(struct dhcp_server *d, const char *mac, struct in_addr ip, enum lease_state st,
		     int64_t expires, const char *hostname)
{
	size_t i = lease_by_mac(d, mac), other = lease_by_ip(d, ip);
	struct lease *l;

	/* Callers checked the address is free for mac: whoever held it held a stale lease. */
	if (other != NO_LEASE && other != i)
		lease_drop(d, other);
	if (i != NO_LEASE && d->leases[i].ip.s_addr != ip.s_addr) {
		u64map_del(&d->by_ip, ntohl(d->leases[i].ip.s_addr));
		d->leases[i].ip = ip;
		if (u64map_put(&d->by_ip, ntohl(ip.s_addr), i) < 0) {
			lease_drop(d, i);
			return NO_LEASE;
		}
	}
	if (i == NO_LEASE && (i = lease_new(d, mac, ip)) == NO_LEASE)
		return NO_LEASE;
	l = &d->leases[i];
	l->state = st;
	l->expires = expires;
	if (hostname && *hostname)
		snprintf(l->hostname, sizeof(l->hostname), "%s", hostname);
	if (st != L_OFFERED)
		l->dirty = true;
	return i;
}

/* ---- sending and the group commit ---- */

static void send_now(struct dhcp_server *d, int fd, const uint8_t *buf, size_t len, const struct sockaddr_in *to)
{
	char a[INET_ADDRSTRLEN];
	if (sendto(fd, buf, len, 0, (const struct sockaddr *)to, sizeof(*to)) < 0)
		log_warn("dhcp: cannot send to %s:%u: %s", ip_str(to->sin_addr, a), ntohs(to->sin_port),
			 strerror(errno));
	(void)d;
}

static void flush(struct dhcp_server *d)
{
	size_t changed = 0;
	bool ok = true;

	if (d->flush_timer) {
		evloop_timer_cancel(d->ev, d->flush_timer);
		d->flush_timer = 0;
	}
	for (size_t i = 0; i < d->n_leases; i++)
		changed += d->leases[i].dirty && !d->leases[i].free && d->leases[i].mac[0];
	for (size_t i = 0; i < d->n_seen; i++)
		changed += d->seen[i].dirty;
	if (changed) {
		if (store_tx_begin(d->store) < 0)
			ok = false;
		for (size_t i = 0; ok && i < d->n_leases; i++) {
			struct lease *l = &d->leases[i];
			struct bw_lease row;
			char a[INET_ADDRSTRLEN];
			if (!l->dirty || l->free || !l->mac[0])
				continue;
			memset(&row, 0, sizeof(row));
			snprintf(row.mac, sizeof(row.mac), "%s", l->mac);
			snprintf(row.ip, sizeof(row.ip), "%s", ip_str(l->ip, a));
			snprintf(row.state, sizeof(row.state), "%s", lease_state_names[l->state]);
			snprintf(row.hostname, sizeof(row.hostname), "%s", l->hostname);
			row.expires_at = l->expires;
			if (store_lease_put(d->store, &row) < 0)
				ok = false;
		}
		for (size_t i = 0; ok && i < d->n_seen; i++)
			if (d->seen[i].dirty && store_discovered_put(d->store, &d->seen[i].d) < 0)
				ok = false;
		if (ok && store_tx_commit(d->store) < 0)
			ok = false;
		else if (!ok)
			store_tx_rollback(d->store);
	}
	if (!ok) {
		/* Nothing promised: the clients will ask again. */
		log_error("dhcp: cannot commit %zu lease changes; %zu ACKs not sent", changed, d->n_pending);
		d->n_pending = 0;
		return;
	}
	for (size_t i = 0; i < d->n_leases; i++)
		d->leases[i].dirty = false;
	for (size_t i = 0; i < d->n_seen; i++)
		d->seen[i].dirty = false;
	if (changed) {
		d->stats.commits++;
		d->stats.committed += changed;
	}
	for (size_t i = 0; i < d->n_pending; i++)
		send_now(d, d->pending[i].fd, d->pending[i].buf, d->pending[i].len, &d->pending[i].to);
	d->n_pending = 0;
}

static void on_flush_timer(struct evloop *ev, void *ud)
{
	struct dhcp_server *d = ud;
	(void)ev;
	d->flush_timer = 0;
	flush(d);
}

/* A commit within commit_ms for changes that no packet waits on. */
static void schedule_flush(struct dhcp_server *d)
{
	if (!d->flush_timer)
		d->flush_timer = evloop_timer(d->ev, d->cfg.commit_ms, on_flush_timer, d);
}

/* Queues a packet to leave after the next commit. */
static void send_after_commit(struct dhcp_server *d, int fd, const uint8_t *buf, size_t len,
			      const struct sockaddr_in *to)
{
	struct pending *p;
	if (d->n_pending == PENDING_MAX)
		flush(d);
	p = &d->pending[d->n_pending++];
	memcpy(p->buf, buf, len);
	p->len = len;
	p->fd = fd;
	p->to = *to;
	schedule_flush(d);
}

/* Where a reply goes: relay, the client's own address, or broadcast (RFC 2131 section 4.1). */
static struct sockaddr_in reply_to(const struct dhcp_msg *m, uint8_t type)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(DHCP_CLIENT_PORT) };
	if (m->giaddr.s_addr) {
		to.sin_addr = m->giaddr;
		to.sin_port = htons(DHCP_SERVER_PORT);
	} else if (m->ciaddr.s_addr && type != DHCP_NAK) {
		to.sin_addr = m->ciaddr;
	} else {
		/* No address yet, and no ARP entry to reach one: broadcast. */
		to.sin_addr.s_addr = INADDR_BROADCAST;
	}
	return to;
}

/* ---- discovered machines ---- */

static const char *arch_name(const struct dhcp_msg *m)
{
	if (dhcp_is_http_client(m))
		return "uefi-http";
	switch (dhcp_arch(m)) {
	case -1:
		return dhcp_is_pxe(m) ? "bios" : "";
	case DHCP_ARCH_BIOS:
		return "bios";
	case DHCP_ARCH_EFI_BC:
	case DHCP_ARCH_EFI_X64:
		return "uefi";
	case DHCP_ARCH_EFI_X64_HTTP:
		return "uefi-http";
	case DHCP_ARCH_EFI_IA32:
		return "uefi-ia32";
	default:
		return "other";
	}
}

static void record_unknown(struct dhcp_server *d, const char *mac, const struct dhcp_msg *m, struct in_addr ip)
{
	struct seen *s = NULL;
	char a[INET_ADDRSTRLEN];
	int64_t t = now_s();

	for (size_t i = 0; i < d->n_seen; i++)
		if (str_eq(d->seen[i].mac, mac))
			s = &d->seen[i];
	if (s && t - s->at < DISCOVERED_EVERY && !s->dirty)
		return;
	if (!s) {
		if (d->n_seen == d->cap_seen) {
			size_t cap = d->cap_seen ? d->cap_seen * 2 : 32;
			struct seen *n = realloc(d->seen, cap * sizeof(*n));
			if (!n)
				return;
			d->seen = n;
			d->cap_seen = cap;
		}
		s = &d->seen[d->n_seen++];
		memset(s, 0, sizeof(*s));
		snprintf(s->mac, sizeof(s->mac), "%s", mac);
		log_info("dhcp: %s is not enrolled; recorded as discovered (%s%s%s)", mac,
			 arch_name(m)[0] ? arch_name(m) : "no PXE", m->vendor_class[0] ? ", " : "", m->vendor_class);
	}
	s->at = t;
	s->dirty = true;
	schedule_flush(d);
	memset(&s->d, 0, sizeof(s->d));
	snprintf(s->d.mac, sizeof(s->d.mac), "%s", mac);
	if (ip.s_addr)
		snprintf(s->d.ip, sizeof(s->d.ip), "%s", ip_str(ip, a));
	snprintf(s->d.arch, sizeof(s->d.arch), "%s", arch_name(m));
	snprintf(s->d.vendor_class, sizeof(s->d.vendor_class), "%s", m->vendor_class);
	snprintf(s->d.hostname, sizeof(s->d.hostname), "%s", m->hostname);
	if (m->has_uuid) {
		const uint8_t *u = m->uuid + 1;
		snprintf(s->d.uuid, sizeof(s->d.uuid),
			 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2],
			 u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
	}
}

/* ---- boot answers ---- */

/* Fills the boot part of r for a PXE or iPXE client; file points into buf. */
static void boot_answer(struct dhcp_server *d, const struct dhcp_msg *m, struct dhcp_reply *r, char *buf,
			size_t size, char *tftp, size_t tftp_size)
{
	int arch = dhcp_arch(m);

	if (!dhcp_is_pxe(m))
		return;
	/* The next server, even for HTTP: iPXE takes a ProxyDHCP answer for a
	 * PXE one only with a next server and a boot file. */
	r->siaddr = d->nif.addr;
	if (dhcp_is_ipxe(m)) {
		/* iPXE loaded already: straight to the script (DESIGN.md: the path of one reimage). */
		snprintf(buf, size, "%s/boot.ipxe", d->http_base);
		r->file = buf;
		return;
	}
	if (dhcp_is_http_client(m)) {
		snprintf(buf, size, "%s/boot/firmware/%s", d->http_base, d->cfg.uefi_file);
		r->file = buf;
		r->vendor_class = "HTTPClient";
		return;
	}
	r->vendor_class = "PXEClient";
	/* Option 43 with discovery control 8: boot the file of this offer. Without
	 * it, UEFI PXE (EDK2) takes the offer for a BINL one and asks port 4011. */
	r->pxe_vendor_opts = true;
	ip_str(d->nif.addr, tftp);
	(void)tftp_size;
	r->tftp_server = tftp;
	if (arch == -1 || arch == DHCP_ARCH_BIOS)
		snprintf(buf, size, "%s", d->cfg.bios_file);
	else if (arch == DHCP_ARCH_EFI_BC || arch == DHCP_ARCH_EFI_X64)
		snprintf(buf, size, "%s", d->cfg.uefi_file);
	else {
		r->tftp_server = NULL;
		return; /* no firmware for this architecture: an address only */
	}
	r->file = buf;
}

/* ---- message handling (RFC 2131 section 4.3) ---- */

static void base_reply(struct dhcp_server *d, struct dhcp_reply *r, uint8_t type)
{
	memset(r, 0, sizeof(*r));
	r->type = type;
	r->server_id = d->nif.addr;
	r->netmask = d->nif.netmask;
	r->router = d->cfg.router;
	memcpy(r->dns, d->cfg.dns, sizeof(r->dns));
	r->n_dns = d->cfg.n_dns;
}

static void send_reply(struct dhcp_server *d, int fd, const struct dhcp_msg *m, const struct dhcp_reply *r,
		       bool durable, const struct sockaddr_in *to_override)
{
	uint8_t buf[DHCP_PACKET_MAX];
	size_t len;
	struct sockaddr_in to = to_override ? *to_override : reply_to(m, r->type);

	if (dhcp_build_reply(m, r, buf, sizeof(buf), &len) < 0) {
		log_error("dhcp: reply too large for one packet");
		return;
	}
	if (durable)
		send_after_commit(d, fd, buf, len, &to);
	else
		send_now(d, fd, buf, len, &to);
}

static void nak(struct dhcp_server *d, const struct dhcp_msg *m, const char *mac, const char *why)
{
	struct dhcp_reply r;
	base_reply(d, &r, DHCP_NAK);
	r.netmask.s_addr = 0;
	r.router.s_addr = 0;
	r.n_dns = 0;
	r.message = why;
	d->stats.naks++;
	log_info("dhcp: NAK to %s: %s", mac, why);
	send_reply(d, d->fd, m, &r, false, NULL);
}

static void handle_server(struct dhcp_server *d, const struct dhcp_msg *m, const char *mac)
{
	struct bw_node node;
	bool enrolled = store_node_by_mac(d->store, mac, &node) == 0;
	struct dhcp_reply r;
	char file[400], tftp[INET_ADDRSTRLEN], a[INET_ADDRSTRLEN];
	struct lease *l;
	struct in_addr ip;
	size_t i;
	int64_t t = now_s();

	switch (m->type) {
	case DHCP_DISCOVER:
		ip = choose_ip(d, mac, enrolled ? &node : NULL, m);
		if (!ip.s_addr) {
			log_drop(d, mac, "address pool is full");
			return;
		}
		if (!enrolled)
			record_unknown(d, mac, m, ip);
		if (assign(d, mac, ip, L_OFFERED, t + OFFER_HOLD, m->hostname) == NO_LEASE)
			return;
		base_reply(d, &r, DHCP_OFFER);
		r.yiaddr = ip;
		r.lease_time = d->cfg.lease_time;
		boot_answer(d, m, &r, file, sizeof(file), tftp, sizeof(tftp));
		d->stats.offers++;
		log_debug("dhcp: OFFER %s to %s%s%s%s%s", ip_str(ip, a), mac, *arch_name(m) ? " (" : "", arch_name(m),
			  *arch_name(m) ? ")" : "", r.file ? ", with boot file" : "");
		send_reply(d, d->fd, m, &r, false, NULL);
		return;

	case DHCP_REQUEST: {
		struct in_addr want = m->has_requested_ip ? m->requested_ip : m->ciaddr;
		if (m->has_server_id && m->server_id.s_addr != d->nif.addr.s_addr) {
			/* SELECTING another server's offer: release ours. */
			i = lease_by_mac(d, mac);
			if (i != NO_LEASE && d->leases[i].state == L_OFFERED)
				lease_drop(d, i);
			d->stats.ignored++;
			return;
		}
		if (!want.s_addr) {
			nak(d, m, mac, "no address requested");
			return;
		}
		if (!in_subnet(d, want)) {
			nak(d, m, mac, "address not on this network");
			return;
		}
		ip = choose_ip(d, mac, enrolled ? &node : NULL,
			       &(struct dhcp_msg){ .has_requested_ip = true, .requested_ip = want });
		if (ip.s_addr != want.s_addr) {
			nak(d, m, mac, enrolled && node.ip_address[0] ? "address reserved elsewhere"
								       : "address not available");
			return;
		}
		if (!enrolled)
			record_unknown(d, mac, m, ip);
		if (assign(d, mac, ip, L_BOUND, t + d->cfg.lease_time, m->hostname) == NO_LEASE)
			return;
		base_reply(d, &r, DHCP_ACK);
		r.yiaddr = ip;
		r.lease_time = d->cfg.lease_time;
		boot_answer(d, m, &r, file, sizeof(file), tftp, sizeof(tftp));
		d->stats.acks++;
		log_info("dhcp: ACK %s to %s%s%s%s%s%s%s", ip_str(ip, a), mac, *arch_name(m) ? " (" : "",
			 arch_name(m), *arch_name(m) ? ")" : "", enrolled ? " node " : "", enrolled ? node.name : "",
			 r.file ? ", with boot file" : "");
		if (r.file)
			log_debug("dhcp: boot file for %s: %s", mac, r.file);
		send_reply(d, d->fd, m, &r, true, NULL);
		return;
	}

	case DHCP_DECLINE:
		if (!m->has_requested_ip)
			return;
		i = lease_by_mac(d, mac);
		if (i == NO_LEASE || d->leases[i].ip.s_addr != m->requested_ip.s_addr)
			return;
		log_warn("dhcp: %s declined %s: another host uses it; set aside for %u s", mac,
			 ip_str(m->requested_ip, a), d->cfg.lease_time);
		l = &d->leases[i];
		l->state = L_DECLINED;
		l->expires = t + d->cfg.lease_time;
		l->dirty = true;
		/* Recorded under the client's MAC, then kept in memory under no owner,
		 * so that the client starts over with another address. */
		flush(d);
		lease_disown(d, i);
		d->stats.declines++;
		return;

	case DHCP_RELEASE:
		i = lease_by_mac(d, mac);
		if (i == NO_LEASE || d->leases[i].ip.s_addr != m->ciaddr.s_addr || d->leases[i].state != L_BOUND)
			return;
		l = &d->leases[i];
		l->state = L_RELEASED;
		l->expires = t;
		l->dirty = true;
		d->stats.releases++;
		log_info("dhcp: %s released %s", mac, ip_str(l->ip, a));
		schedule_flush(d);
		return;

	case DHCP_INFORM:
		base_reply(d, &r, DHCP_ACK);
		boot_answer(d, m, &r, file, sizeof(file), tftp, sizeof(tftp));
		d->stats.informs++;
		send_reply(d, d->fd, m, &r, false, NULL);
		return;
	default:
		d->stats.ignored++;
	}
}

/* proxyDHCP (PXE 2.1): boot information only, never an address. */
static void handle_proxy(struct dhcp_server *d, int fd, const struct dhcp_msg *m, const char *mac,
			 const struct sockaddr_in *from)
{
	struct bw_node node;
	struct dhcp_reply r;
	char file[400], tftp[INET_ADDRSTRLEN];

	if (!dhcp_is_pxe(m)) {
		d->stats.ignored++;
		return;
	}
	if (store_node_by_mac(d->store, mac, &node) < 0)
		record_unknown(d, mac, m, m->ciaddr);
	memset(&r, 0, sizeof(r));
	r.server_id = d->nif.addr;
	boot_answer(d, m, &r, file, sizeof(file), tftp, sizeof(tftp));
	if (!r.file) {
		d->stats.ignored++;
		return;
	}
	if (!r.vendor_class)
		r.vendor_class = "PXEClient";
	/* iPXE ignores ProxyDHCP answers without PXE options (iPXE commit 0a34c2a). */
	r.pxe_vendor_opts = true;
	if (fd == d->fd && m->type == DHCP_DISCOVER) {
		r.type = DHCP_OFFER;
		d->stats.offers++;
		log_debug("dhcp: proxy OFFER to %s (%s): %s", mac, arch_name(m), r.file);
		send_reply(d, fd, m, &r, false, NULL);
	} else if (fd == d->pxe_fd && (m->type == DHCP_REQUEST || m->type == DHCP_INFORM)) {
		r.type = DHCP_ACK;
		d->stats.acks++;
		log_debug("dhcp: PXE boot server ACK to %s (%s): %s", mac, arch_name(m), r.file);
		send_reply(d, fd, m, &r, false, from); /* back where it came from */
	} else
		d->stats.ignored++;
}

/* A datagram, parsed by the sandboxed listener (dhcp_listen.h) and checked. */
static void on_frame(const struct dhcp_frame *f, void *ud)
{
	struct dhcp_server *d = ud;
	int fd = f->port == 4011 ? d->pxe_fd : d->fd;
	char mac[18], peer[32];

	d->stats.received++;
	if (f->kind == DHCP_FRAME_DROP) {
		log_drop(d, peer_str(&f->from, peer), f->why);
		return;
	}
	if (dhcp_mac(&f->msg, mac) < 0) {
		log_drop(d, peer_str(&f->from, peer), "not an Ethernet client");
		return;
	}
	if (!d->nif.has_addr)
		return; /* no address on the interface: nothing to serve with */
	if (d->cfg.mode == DHCP_MODE_PROXY || fd == d->pxe_fd)
		handle_proxy(d, fd, &f->msg, mac, &f->from);
	else
		handle_server(d, &f->msg, mac);
}

/* ---- set-up ---- */

static int open_socket(const char *ifname, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = INADDR_ANY };
	int one = 1, fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	/*
	 * Room for a rack powering on at once (thousands of DISCOVERs in a
	 * burst) and for the loop's pauses while leases are committed: the
	 * default (212 KiB, about 600 packets) drops the rest, and each
	 * dropped client waits for its firmware's retry, 4 s or more. FORCE
	 * passes net.core.rmem_max with CAP_NET_ADMIN; otherwise the most
	 * rmem_max allows.
	 */
	int rcvbuf = DHCP_RCVBUF;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	return fd;
}

static void set_http_base(struct dhcp_server *d)
{
	char a[INET_ADDRSTRLEN];
	if (d->cfg.http_base[0])
		snprintf(d->http_base, sizeof(d->http_base), "%s", d->cfg.http_base);
	else
		snprintf(d->http_base, sizeof(d->http_base), "http://%s:%u", ip_str(d->nif.addr, a),
			 d->cfg.http_port);
}

static void on_link(const struct netif_info *now, void *ud)
{
	struct dhcp_server *d = ud;
	char was[64], is[64];

	log_info("dhcp: interface %s changed: %s -> %s", d->cfg.interface, netif_describe(&d->nif, was),
		 netif_describe(now, is));
	d->nif = *now;
	set_http_base(d);
}

static int load_lease(const void *obj, void *ud)
{
	const struct bw_lease *row = obj;
	struct dhcp_server *d = ud;
	struct lease *l;
	struct in_addr ip;
	size_t i;

	if (inet_pton(AF_INET, row->ip, &ip) != 1 || lease_by_ip(d, ip) != NO_LEASE)
		return 0;
	if ((i = lease_new(d, row->mac, ip)) == NO_LEASE)
		return -ENOMEM;
	l = &d->leases[i];
	l->state = str_eq(row->state, "bound") ? L_BOUND : str_eq(row->state, "declined") ? L_DECLINED : L_RELEASED;
	l->expires = row->expires_at;
	snprintf(l->hostname, sizeof(l->hostname), "%s", row->hostname);
	if (l->state == L_BOUND && l->expires > now_s())
		d->stats.leases++;
	return 0;
}

int dhcp_server_new(struct evloop *ev, struct store *store, const struct dhcp_config *cfg,
		    struct dhcp_server **ret)
{
	struct dhcp_server *d = calloc(1, sizeof(*d));
	char desc[64], lo[INET_ADDRSTRLEN], hi[INET_ADDRSTRLEN];
	int r;

	if (!d)
		return -ENOMEM;
	d->ev = ev;
	d->store = store;
	d->cfg = *cfg;
	d->fd = d->pxe_fd = -1;
	d->pending = calloc(PENDING_MAX, sizeof(*d->pending));
	if (!d->pending) {
		r = -ENOMEM;
		goto fail;
	}
	if ((r = netif_query(cfg->interface, &d->nif)) < 0) {
		log_error("dhcp: interface %s: %s", cfg->interface, r == -ENODEV ? "no such interface" : strerror(-r));
		goto fail;
	}
	if (!d->nif.has_addr) {
		log_error("dhcp: interface %s has no IPv4 address", cfg->interface);
		r = -EADDRNOTAVAIL;
		goto fail;
	}
	set_http_base(d);
	if (cfg->mode == DHCP_MODE_SERVER) {
		d->range_lo = ntohl(cfg->range_start.s_addr);
		d->range_hi = ntohl(cfg->range_end.s_addr);
		if (d->range_lo > d->range_hi || d->range_hi - d->range_lo >= POOL_MAX ||
		    !in_subnet(d, cfg->range_start) || !in_subnet(d, cfg->range_end)) {
			log_error("dhcp: range %s-%s is not inside %s of %s (or is larger than %d addresses)",
				  ip_str(cfg->range_start, lo), ip_str(cfg->range_end, hi),
				  netif_describe(&d->nif, desc), cfg->interface, POOL_MAX);
			r = -EINVAL;
			goto fail;
		}
		if ((r = store_list(store, &model_lease, NULL, 0, 0, 0, load_lease, d, NULL)) < 0) {
			log_error("dhcp: cannot load the leases from the store");
			goto fail;
		}
	}
	d->fd = open_socket(cfg->interface, DHCP_SERVER_PORT);
	if (d->fd < 0) {
		r = d->fd;
		log_error("dhcp: cannot listen on %s port %d: %s", cfg->interface, DHCP_SERVER_PORT, strerror(-r));
		goto fail;
	}
	/* Port 4011 (PXE boot server) in both modes: some firmware asks there. */
	{
		d->pxe_fd = open_socket(cfg->interface, PXE_PORT);
		if (d->pxe_fd < 0) {
			r = d->pxe_fd;
			log_error("dhcp: cannot listen on %s port %d: %s", cfg->interface, PXE_PORT, strerror(-r));
			goto fail;
		}
		/*
		 * Answers from 4011 go unicast to a client that has no checksum
		 * offload to undo: through a bridge and a tap (virtual racks, VM
		 * hosts) the kernel leaves the UDP checksum to be filled later, and
		 * QEMU fills it in only for port 67 (its DHCP workaround), so iPXE
		 * drops them. A zero checksum means "none" in IPv4 (RFC 768).
		 */
		int one = 1;
		setsockopt(d->pxe_fd, SOL_SOCKET, SO_NO_CHECK, &one, sizeof(one));
	}
	/* What clients send is read and parsed in a sandboxed process; replies leave from here. */
	if ((r = dhcp_listen_start(ev, d->fd, d->pxe_fd, cfg->user, cfg->log_level, cfg->sandbox_root, on_frame, d,
				   &d->listen)) < 0)
		goto fail;
	if ((r = netif_watch_new(ev, cfg->interface, on_link, d, &d->watch)) < 0)
		log_warn("dhcp: cannot watch %s for changes: %s", cfg->interface, strerror(-r));
	log_info("dhcp: %s mode on %s (%s)%s%s%s%s, boot scripts at %s",
		 cfg->mode == DHCP_MODE_PROXY ? "proxy" : "server", cfg->interface, netif_describe(&d->nif, desc),
		 cfg->mode == DHCP_MODE_SERVER ? ", range " : "",
		 cfg->mode == DHCP_MODE_SERVER ? ip_str(cfg->range_start, lo) : "",
		 cfg->mode == DHCP_MODE_SERVER ? "-" : "", cfg->mode == DHCP_MODE_SERVER ? ip_str(cfg->range_end, hi) : "",
		 d->http_base);
	*ret = d;
	return 0;
fail:
	dhcp_server_free(d);
	return r;
}

void dhcp_server_free(struct dhcp_server *d)
{
	if (!d)
		return;
	dhcp_listen_stop(d->listen);
	if (d->n_pending || d->flush_timer)
		flush(d);
	netif_watch_free(d->watch);
	if (d->fd >= 0)
		close(d->fd);
	if (d->pxe_fd >= 0)
		close(d->pxe_fd);
	free(d->leases);
	free(d->free_slots);
	u64map_clear(&d->by_mac);
	u64map_clear(&d->by_ip);
	free(d->pending);
	free(d->seen);
	free(d);
}

void dhcp_server_stats(struct dhcp_server *d, struct dhcp_stats *ret)
{
	int64_t t = now_s();
	*ret = d->stats;
	ret->dropped += dhcp_listen_refused(d->listen);
	ret->leases = 0;
	for (size_t i = 0; i < d->n_leases; i++)
		ret->leases += !d->leases[i].free && d->leases[i].state == L_BOUND && d->leases[i].expires > t;
}
