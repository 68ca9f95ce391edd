// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the records of the sandboxed DHCP listener
 * (server/boot/dhcp_listen.h): bytes a compromised listener could send
 * bootwaved. Each input goes through dhcp_frame_check; a refusal must name
 * its reason and leave the output alone; a record it accepts must be safe
 * for what bootwaved then does with it: its reason printed, the client's
 * address read, a reply (the longest, echoing the client's own strings)
 * built to it that fits a packet and parses back to the same xid.
 * Build with clang -fsanitize=fuzzer, or replay a corpus with replay.c.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dhcp_listen.h"
#include "dhcp_packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[DHCP_PACKET_MAX];
	struct dhcp_frame f, before;
	struct dhcp_msg back;
	struct dhcp_reply r;
	const char *why = NULL;
	char mac[18];
	size_t len = 0;

	memset(&f, 0x5a, sizeof(f));
	before = f;
	if (dhcp_frame_check(data, size, &f, &why) != 0) {
		if (!why || memcmp(&f, &before, sizeof(f)) != 0)
			abort();
		return 0;
	}
	if (f.port != 67 && f.port != 4011)
		abort();
	if (f.kind == DHCP_FRAME_DROP) {
		size_t n = strlen(f.why);
		if (n == 0 || n >= sizeof(f.why))
			abort();
		return 0;
	}
	if (f.kind != DHCP_FRAME_MSG || dhcp_msg_check(&f.msg, NULL) != 0)
		abort();
	if (dhcp_mac(&f.msg, mac) == 0 && strlen(mac) != 17)
		abort();
	(void)dhcp_is_pxe(&f.msg);
	(void)dhcp_arch(&f.msg);

	memset(&r, 0, sizeof(r));
	r.type = DHCP_ACK;
	r.yiaddr.s_addr = htonl(0x0a4d0032);
	r.siaddr.s_addr = htonl(0x0a4d0001);
	r.server_id = r.siaddr;
	r.netmask.s_addr = htonl(0xffffff00);
	r.lease_time = 3600;
	r.file = "http://10.77.0.1:8080/boot/52:54:00:00:00:01.ipxe";
	r.tftp_server = "10.77.0.1";
	r.vendor_class = f.msg.vendor_class[0] ? f.msg.vendor_class : "PXEClient";
	r.pxe_vendor_opts = true;
	r.message = f.msg.hostname;
	if (dhcp_build_reply(&f.msg, &r, out, sizeof(out), &len) != 0 || len < DHCP_REPLY_MIN || len > sizeof(out))
		abort();
	out[0] = 1;
	if (dhcp_parse(out, len, &back, &why) != 0 || back.xid != f.msg.xid)
		abort();
	return 0;
}
