// SPDX-License-Identifier: Apache-2.0
/* The provisioning interface through libnl: see netif.h. */
#include "netif.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netlink/netlink.h>
#include <sys/epoll.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

int netif_query(const char *name, struct netif_info *ret)
{
	struct nl_sock *sk = nl_socket_alloc();
	struct rtnl_link *link = NULL;
	struct nl_cache *addrs = NULL;
	struct netif_info info = { 0 };
	int r = 0;

	if (!sk)
		return -ENOMEM;
	if (nl_connect(sk, NETLINK_ROUTE) < 0) {
		r = -EIO;
		goto out;
	}
	if (rtnl_link_get_kernel(sk, 0, name, &link) < 0) {
		r = -ENODEV;
		goto out;
	}
	info.ifindex = rtnl_link_get_ifindex(link);
	snprintf(info.name, sizeof(info.name), "%s", name);
	info.up = (rtnl_link_get_flags(link) & IFF_UP) && (rtnl_link_get_flags(link) & IFF_RUNNING);
	if (rtnl_addr_alloc_cache(sk, &addrs) < 0) {
		r = -EIO;
		goto out;
	}
	for (struct nl_object *o = nl_cache_get_first(addrs); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		struct nl_addr *local = rtnl_addr_get_local(a);
		if (rtnl_addr_get_ifindex(a) != info.ifindex || rtnl_addr_get_family(a) != AF_INET || !local ||
		    nl_addr_get_len(local) != 4)
			continue;
		memcpy(&info.addr, nl_addr_get_binary_addr(local), 4);
		info.prefix = rtnl_addr_get_prefixlen(a);
		info.netmask.s_addr = info.prefix ? htonl(~0u << (32 - info.prefix)) : 0;
		info.has_addr = true;
		break; /* the first (primary) address */
	}
	*ret = info;
out:
	if (addrs)
		nl_cache_free(addrs);
	if (link)
		rtnl_link_put(link);
	nl_socket_free(sk);
	return r;
}

const char *netif_describe(const struct netif_info *i, char buf[64])
{
	char a[INET_ADDRSTRLEN] = "no IPv4 address";
	if (i->has_addr)
		inet_ntop(AF_INET, &i->addr, a, sizeof(a));
	if (i->has_addr)
		snprintf(buf, 64, "%s/%d %s", a, i->prefix, i->up ? "up" : "down");
	else
		snprintf(buf, 64, "%s, %s", a, i->up ? "up" : "down");
	return buf;
}

struct netif_watch {
	struct evloop *ev;
	struct nl_sock *sk;
	char name[IF_NAMESIZE];
	struct netif_info last;
	netif_changed_fn changed;
	void *ud;
	bool dirty;
};

/* Any valid message: note it; the state is re-read once the batch is in. */
static int on_msg(struct nl_msg *msg, void *arg)
{
	struct netif_watch *w = arg;
	(void)msg;
	w->dirty = true;
	return NL_OK;
}

static void on_readable(struct evloop *ev, int fd, uint32_t events, void *ud)
{
	struct netif_watch *w = ud;
	struct netif_info now;
	(void)ev;
	(void)fd;
	(void)events;

	w->dirty = false;
	while (nl_recvmsgs_default(w->sk) >= 0)
		; /* non-blocking: stops at -NLE_AGAIN */
	if (!w->dirty)
		return;
	if (netif_query(w->name, &now) < 0)
		memset(&now, 0, sizeof(now));
	if (now.up == w->last.up && now.has_addr == w->last.has_addr &&
	    now.addr.s_addr == w->last.addr.s_addr && now.prefix == w->last.prefix &&
	    now.ifindex == w->last.ifindex)
		return;
	w->last = now;
	w->changed(&now, w->ud);
}

int netif_watch_new(struct evloop *ev, const char *name, netif_changed_fn changed, void *userdata,
		    struct netif_watch **ret)
{
	struct netif_watch *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	w->ev = ev;
	w->changed = changed;
	w->ud = userdata;
	snprintf(w->name, sizeof(w->name), "%s", name);
	netif_query(name, &w->last);
	w->sk = nl_socket_alloc();
	if (!w->sk) {
		free(w);
		return -ENOMEM;
	}
	nl_socket_disable_seq_check(w->sk);
	nl_socket_modify_cb(w->sk, NL_CB_VALID, NL_CB_CUSTOM, on_msg, w);
	if (nl_connect(w->sk, NETLINK_ROUTE) < 0 ||
	    nl_socket_add_memberships(w->sk, RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, 0) < 0 ||
	    nl_socket_set_nonblocking(w->sk) < 0) {
		netif_watch_free(w);
		return -EIO;
	}
	if ((r = evloop_add_fd(ev, nl_socket_get_fd(w->sk), EPOLLIN, on_readable, w)) < 0) {
		netif_watch_free(w);
		return r;
	}
	*ret = w;
	return 0;
}

void netif_watch_free(struct netif_watch *w)
{
	if (!w)
		return;
	if (w->sk) {
		evloop_del_fd(w->ev, nl_socket_get_fd(w->sk));
		nl_socket_free(w->sk);
	}
	free(w);
}
