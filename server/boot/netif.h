/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The provisioning interface, through libnl (rtnetlink): its index, state,
 * IPv4 address and netmask, and a watch that reports link and address
 * changes on the event loop.
 */
#ifndef BW_NETIF_H
#define BW_NETIF_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>

#include "evloop.h"

struct netif_info {
	int ifindex;
	char name[IF_NAMESIZE];
	bool up;       /* administratively up and with carrier */
	bool has_addr; /* an IPv4 address was found */
	struct in_addr addr, netmask;
	int prefix;
};

/* Reads the state of interface name. -ENODEV if there is no such interface. */
int netif_query(const char *name, struct netif_info *ret);

struct netif_watch;
typedef void (*netif_changed_fn)(const struct netif_info *now, void *userdata);

/*
 * Watches interface name on ev and calls changed with its new state whenever
 * its link or IPv4 addresses change (not for unrelated interfaces).
 */
int netif_watch_new(struct evloop *ev, const char *name, netif_changed_fn changed, void *userdata,
		    struct netif_watch **ret);
void netif_watch_free(struct netif_watch *w);

/* "10.77.0.1/24 up" style text for logs into buf[64]. */
const char *netif_describe(const struct netif_info *i, char buf[64]);

#endif
