/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The DHCPv4 server of the provisioning network (RFC 2131), with PXE and
 * iPXE boot answers (RFC 4578), in one of two modes:
 *
 *   server  addresses from a dynamic range, or the address reserved for an
 *           enrolled node (its ip_address); leases kept in the store
 *   proxy   another server hands out addresses; this one only answers PXE
 *           clients with boot information, on port 67 and on 4011
 *
 * Durability without an fsync per packet: ACKs wait a few milliseconds for
 * a group commit of every lease change of that window, and are sent only
 * once it is on disk. OFFERs and NAKs promise nothing and go at once.
 * Machines that are not enrolled are recorded as discovered.
 *
 * What clients send is read and parsed by a sandboxed process
 * (dhcp_listen.h); this server gets its checked records and sends the
 * replies on its own copies of the sockets.
 */
#ifndef BW_DHCP_H
#define BW_DHCP_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>

#include "evloop.h"
#include "store.h"

enum dhcp_mode { DHCP_MODE_OFF, DHCP_MODE_SERVER, DHCP_MODE_PROXY };

struct dhcp_config {
	enum dhcp_mode mode;
	char interface[IF_NAMESIZE];
	struct in_addr range_start, range_end; /* server mode */
	uint32_t lease_time;                    /* seconds */
	struct in_addr router;                  /* 0: none */
	struct in_addr dns[2];
	size_t n_dns;
	char http_base[256];  /* "http://10.77.0.1:8080"; "" = the interface address and http_port */
	uint16_t http_port;
	char bios_file[64];   /* TFTP file for BIOS PXE: undionly.kpxe */
	char uefi_file[64];   /* TFTP (and HTTP boot) file for UEFI x64: snponly.efi */
	unsigned commit_ms;   /* group commit window */
	/* The sandboxed listener (dhcp_listen.h): its account, log level, and the empty directory it chroots into. */
	char user[64];
	char log_level[16];
	char sandbox_root[512];
};

struct dhcp_server;

struct dhcp_stats {
	uint64_t received, dropped, offers, acks, naks, declines, releases, informs, ignored;
	uint64_t commits;   /* group commits */
	uint64_t committed; /* lease changes in them */
	uint64_t leases;    /* bound leases now */
};

/*
 * Starts serving on cfg->interface (its IPv4 address comes from netlink and
 * is followed when it changes). Loads the leases from the store. The server
 * keeps store and ev; they must outlive it. -EADDRNOTAVAIL if the interface
 * has no IPv4 address, -EINVAL (logged) for a range outside its subnet.
 */
int dhcp_server_new(struct evloop *ev, struct store *store, const struct dhcp_config *cfg,
		    struct dhcp_server **ret);
/* Flushes pending changes and frees the server (NULL is fine). */
void dhcp_server_free(struct dhcp_server *d);
void dhcp_server_stats(struct dhcp_server *d, struct dhcp_stats *ret);

/* "server", "proxy", "off" -> mode; -EINVAL if unknown. */
int dhcp_mode_parse(const char *s, enum dhcp_mode *ret);

#endif
