// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the DHCPv4 wire format (server/boot/dhcp_packet.c):
 * each input is parsed as a request; a refusal must name its reason, an
 * accepted message must pass dhcp_msg_check (filtered strings, bounded
 * counts: what bootwaved checks of the sandboxed listener's records), and
 * the reply built to it with every option set must fit, refuse a buffer
 * one byte short, and parse back (as a request) to the same xid, hardware
 * address, UUID and relay agent option.
 * Build with clang -fsanitize=fuzzer, or replay a corpus with replay.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dhcp_packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_msg(const struct dhcp_msg *m)
{
	const char *why = NULL;
	char mac[18];
	int arch;

	/* What the parser promises is what bootwaved checks of a listener's frame. */
	if (dhcp_msg_check(m, &why) != 0)
		abort();
	arch = dhcp_arch(m);
	if ((arch < 0) != (m->n_arch == 0) || (m->n_arch && arch != m->arch[0]))
		abort();
	if (dhcp_is_ipxe(m) && !dhcp_is_pxe(m))
		abort();
	if (dhcp_is_http_client(m) && !dhcp_is_pxe(m))
		abort();
	if (dhcp_mac(m, mac) == 0) {
		if (m->htype != 1 || m->hlen != 6 || strlen(mac) != 17)
			abort();
	} else if (m->htype == 1 && m->hlen == 6) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[DHCP_PACKET_MAX], again[DHCP_PACKET_MAX];
	/* Longer than the file field and than one option instance (RFC 3396). */
	static char file[301];
	struct dhcp_msg m, back;
	struct dhcp_reply r;
	const char *why = NULL;
	size_t len = 0, len2 = 0;

	if (dhcp_parse(data, size, &m, &why) != 0) {
		if (!why)
			abort(); /* every refusal names its reason */
		return 0;
	}
	check_msg(&m);

	if (!file[0])
		memset(file, 'f', sizeof(file) - 1);
	memset(&r, 0, sizeof(r));
	r.type = DHCP_OFFER;
	r.yiaddr.s_addr = htonl(0x0a4d0032);
	r.siaddr.s_addr = htonl(0x0a4d0001);
	r.server_id = r.siaddr;
	r.netmask.s_addr = htonl(0xffffff00);
	r.router.s_addr = htonl(0x0a4d00fe);
	r.dns[0] = r.siaddr;
	r.dns[1].s_addr = htonl(0x09090909);
	r.n_dns = 2;
	r.lease_time = 3600;
	r.file = file;
	r.tftp_server = "10.77.0.1";
	/* Untrusted strings go back out: the client's own class, its host name as the message. */
	r.vendor_class = m.vendor_class[0] ? m.vendor_class : "PXEClient";
	r.pxe_vendor_opts = true;
	r.message = m.hostname;

	if (dhcp_build_reply(&m, &r, out, sizeof(out), &len) != 0)
		abort(); /* every option at its largest still fits a packet */
	if (len < DHCP_REPLY_MIN || len > sizeof(out))
		abort();
	/* Exactly len bytes are needed. */
	if (dhcp_build_reply(&m, &r, again, len, &len2) != 0 || len2 != len || memcmp(out, again, len) != 0)
		abort();
	len2 = 7;
	if (dhcp_build_reply(&m, &r, again, len - 1, &len2) != -ENOBUFS || len2 != 7)
		abort();

	/* The reply reads back as a request once its op says so. */
	out[0] = 1;
	why = NULL;
	if (dhcp_parse(out, len, &back, &why) != 0)
		abort();
	if (back.xid != m.xid || back.flags != m.flags || back.htype != m.htype || back.hlen != m.hlen ||
	    memcmp(back.chaddr, m.chaddr, sizeof(m.chaddr)) != 0 || back.giaddr.s_addr != m.giaddr.s_addr ||
	    back.ciaddr.s_addr != m.ciaddr.s_addr || back.type != DHCP_OFFER || !back.has_server_id ||
	    back.server_id.s_addr != r.server_id.s_addr || !back.has_lease_time || back.lease_time != 3600)
		abort();
	if (strcmp(back.vendor_class, r.vendor_class) != 0)
		abort();
	if (back.has_uuid != (m.has_uuid && dhcp_is_pxe(&m)) ||
	    (back.has_uuid && memcmp(back.uuid, m.uuid, sizeof(m.uuid)) != 0))
		abort();
	if (back.relay_len != m.relay_len || memcmp(back.relay, m.relay, m.relay_len) != 0)
		abort();

	/* The smallest reply: a NAK. */
	memset(&r, 0, sizeof(r));
	r.type = DHCP_NAK;
	if (dhcp_build_reply(&m, &r, again, sizeof(again), &len2) != 0 || len2 < DHCP_REPLY_MIN)
		abort();
	return 0;
}
