// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of server/boot/dhcp_packet.c, the DHCPv4 wire format. Requests
 * are assembled byte by byte (fixed header, chaddr, sname and file, magic
 * cookie, option TLVs) and parsed from exact-size heap copies so that
 * AddressSanitizer catches any read past len: plain, PXE, UEFI, HTTP boot
 * and iPXE clients, options split in several instances (RFC 3396) or moved
 * into file and sname (option 52), every refusal and the exact check that
 * *ret_why names; dhcp_msg_check and dhcp_frame_check (the records of the
 * sandboxed listener) refuse each broken promise. Replies from dhcp_build_reply are read back by a small
 * parser of this file, independent of the one under test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dhcp_listen.h"
#include "dhcp_packet.h"
#include "testutil.h"

/* Offsets of the fixed part (RFC 2131 section 2). */
enum {
	OFF_OP = 0,
	OFF_HTYPE = 1,
	OFF_HLEN = 2,
	OFF_HOPS = 3,
	OFF_XID = 4,
	OFF_SECS = 8,
	OFF_FLAGS = 10,
	OFF_CIADDR = 12,
	OFF_YIADDR = 16,
	OFF_SIADDR = 20,
	OFF_GIADDR = 24,
	OFF_CHADDR = 28,
	OFF_SNAME = 44,
	OFF_FILE = 108,
	OFF_MAGIC = 236,
	OFF_OPTIONS = 240,
};

/* A byte list as two arguments: pointer and length. */
#define BYTES(...) (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ })

#define XID 0x1a2b3c4du
static const uint8_t MAC[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t UUID[17] = { 0,    0x8a, 0x2c, 0x4f, 0x11, 0x90, 0x6d, 0x4e, 0x3b,
				  0xa1, 0x77, 0x05, 0xde, 0xad, 0xbe, 0xef, 0x42 };
#define PXE_BIOS_CLASS "PXEClient:Arch:00000:UNDI:002001"

struct pkt {
	uint8_t b[DHCP_PACKET_MAX + 64];
	size_t len;
};

/*
 * A BOOTREQUEST from MAC: op 1, Ethernet, xid XID, empty sname and file,
 * the magic cookie, then the option bytes given (END included or not, as
 * the test wants). More bytes go on with pkt_add and pkt_opt.
 */
static void pkt_request(struct pkt *p, const uint8_t *opts, size_t opts_len)
{
	memset(p, 0, sizeof(*p));
	p->b[OFF_OP] = 1;
	p->b[OFF_HTYPE] = 1;
	p->b[OFF_HLEN] = 6;
	p->b[OFF_XID] = (uint8_t)(XID >> 24);
	p->b[OFF_XID + 1] = (uint8_t)(XID >> 16);
	p->b[OFF_XID + 2] = (uint8_t)(XID >> 8);
	p->b[OFF_XID + 3] = (uint8_t)XID;
	memcpy(p->b + OFF_CHADDR, MAC, sizeof(MAC));
	p->b[OFF_MAGIC] = 0x63;
	p->b[OFF_MAGIC + 1] = 0x82;
	p->b[OFF_MAGIC + 2] = 0x53;
	p->b[OFF_MAGIC + 3] = 0x63;
	p->len = OFF_OPTIONS;
	assert_true(opts_len <= sizeof(p->b) - p->len);
	if (opts_len)
		memcpy(p->b + p->len, opts, opts_len);
	p->len += opts_len;
}

static void pkt_add(struct pkt *p, const uint8_t *bytes, size_t n)
{
	assert_true(n <= sizeof(p->b) - p->len);
	memcpy(p->b + p->len, bytes, n);
	p->len += n;
}

/* One option TLV. */
static void pkt_opt(struct pkt *p, uint8_t code, const void *data, size_t n)
{
	assert_true(n <= 255 && n + 2 <= sizeof(p->b) - p->len);
	p->b[p->len++] = code;
	p->b[p->len++] = (uint8_t)n;
	if (n)
		memcpy(p->b + p->len, data, n);
	p->len += n;
}

static void pkt_opt_str(struct pkt *p, uint8_t code, const char *s) { pkt_opt(p, code, s, strlen(s)); }

static void pkt_end(struct pkt *p) { pkt_add(p, BYTES(DHCP_OPT_END)); }

/* Overwrites bytes of the fixed part (sname, file, addresses). */
static void pkt_set(struct pkt *p, size_t off, const uint8_t *bytes, size_t n)
{
	assert_true(off + n <= OFF_OPTIONS);
	memcpy(p->b + off, bytes, n);
}


static struct dhcp_msg parse_ok(const struct pkt *p)
{
	struct dhcp_msg m;
	const char *why = NULL;
	int r = dhcp_parse(heap_copy(p->b, p->len), p->len, &m, &why);
	if (r != 0)
		fail_msg("dhcp_parse = %d (%s)", r, why ? why : "?");
	assert_null(why);
	/* ret_why may be NULL. */
	assert_int_equal(dhcp_parse(heap_copy_buf, p->len, &m, NULL), 0);
	/* Every message the parser accepts passes the check bootwaved makes of a listener's record. */
	if (dhcp_msg_check(&m, &why) != 0)
		fail_msg("dhcp_msg_check refused a parsed message: %s", why);
	return m;
}

static void parse_err_n(const uint8_t *b, size_t len, const char *want_why)
{
	struct dhcp_msg m, before;
	const char *why = NULL;
	int r;

	memset(&m, 0x5a, sizeof(m));
	memcpy(&before, &m, sizeof(m));
	r = dhcp_parse(heap_copy(b, len), len, &m, &why);
	if (r != -EBADMSG)
		fail_msg("dhcp_parse = %d, expected -EBADMSG (%s) (why: %s)", r, want_why, why ? why : "NULL");
	if (!why || strcmp(why, want_why) != 0)
		fail_msg("why = \"%s\", expected \"%s\"", why ? why : "NULL", want_why);
	/* Outputs are written only on success. */
	assert_memory_equal(&m, &before, sizeof(m));
	assert_int_equal(dhcp_parse(heap_copy_buf, len, &m, NULL), -EBADMSG);
}

static void parse_err(const struct pkt *p, const char *want_why) { parse_err_n(p->b, p->len, want_why); }

static void assert_ip(struct in_addr a, const char *want)
{
	char s[INET_ADDRSTRLEN];
	assert_non_null(inet_ntop(AF_INET, &a, s, sizeof(s)));
	assert_string_equal(s, want);
}

static struct in_addr ip(const char *s)
{
	struct in_addr a;
	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a;
}

/* A PXE DISCOVER as a BIOS PXE ROM sends it (RFC 4578). */
static void pkt_pxe_discover(struct pkt *p, const char *vendor_class, uint16_t arch)
{
	uint8_t a[2] = { (uint8_t)(arch >> 8), (uint8_t)arch };
	pkt_request(p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER));
	pkt_opt(p, DHCP_OPT_PRL, (const uint8_t[]){ 1, 3, 6, 43, 60, 66, 67, 97, 128, 129 }, 10);
	pkt_opt(p, DHCP_OPT_MAX_SIZE, (const uint8_t[]){ 0x04, 0xec }, 2);
	pkt_opt(p, DHCP_OPT_CLIENT_ARCH, a, 2);
	pkt_opt(p, DHCP_OPT_CLIENT_NDI, (const uint8_t[]){ 1, 2, 1 }, 3);
	pkt_opt(p, DHCP_OPT_UUID, UUID, sizeof(UUID));
	pkt_opt_str(p, DHCP_OPT_VENDOR_CLASS, vendor_class);
	pkt_end(p);
}

/* ---- requests that parse ---- */

static void test_discover_plain(void **state)
{
	struct pkt p;
	struct dhcp_msg m;
	char mac[18];
	(void)state;

	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER));
	pkt_opt(&p, DHCP_OPT_PRL, (const uint8_t[]){ 1, 28, 2, 3, 15, 6, 119, 12 }, 8);
	pkt_opt_str(&p, DHCP_OPT_HOSTNAME, "web-1");
	pkt_end(&p);
	pkt_set(&p, OFF_SECS, BYTES(0x01, 0x02));
	pkt_set(&p, OFF_FLAGS, BYTES(0x80, 0x00));
	pkt_set(&p, OFF_HOPS, BYTES(1));
	m = parse_ok(&p);

	assert_int_equal(m.op, 1);
	assert_int_equal(m.htype, 1);
	assert_int_equal(m.hlen, 6);
	assert_int_equal(m.hops, 1);
	assert_int_equal(m.xid, XID);
	assert_int_equal(m.secs, 0x0102);
	assert_int_equal(m.flags, 0x8000);
	assert_ip(m.ciaddr, "0.0.0.0");
	assert_ip(m.giaddr, "0.0.0.0");
	assert_memory_equal(m.chaddr, MAC, 6);
	assert_int_equal(m.type, DHCP_DISCOVER);
	assert_int_equal(m.n_prl, 8);
	assert_memory_equal(m.prl, ((const uint8_t[]){ 1, 28, 2, 3, 15, 6, 119, 12 }), 8);
	assert_string_equal(m.hostname, "web-1");
	assert_string_equal(m.vendor_class, "");
	assert_false(m.has_requested_ip);
	assert_false(m.has_server_id);
	assert_false(m.has_lease_time);
	assert_false(m.has_uuid);
	assert_false(m.has_relay);
	assert_int_equal(m.max_size, 0);
	assert_int_equal(m.client_id_len, 0);
	assert_false(dhcp_is_pxe(&m));
	assert_false(dhcp_is_ipxe(&m));
	assert_false(dhcp_is_http_client(&m));
	assert_int_equal(dhcp_arch(&m), -1);
	assert_int_equal(dhcp_mac(&m, mac), 0);
	assert_string_equal(mac, "52:54:00:12:34:56");

	/* A Windows client's vendor class is not PXE. */
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER));
	pkt_opt_str(&p, DHCP_OPT_VENDOR_CLASS, "MSFT 5.0");
	pkt_end(&p);
	m = parse_ok(&p);
	assert_string_equal(m.vendor_class, "MSFT 5.0");
	assert_false(dhcp_is_pxe(&m));

	/* Every known message type is accepted. */
	for (uint8_t t = DHCP_DISCOVER; t <= DHCP_INFORM; t++) {
		pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, t, DHCP_OPT_END));
		m = parse_ok(&p);
		assert_int_equal(m.type, t);
	}
}

static void test_pxe_discover(void **state)
{
	struct pkt p;
	struct dhcp_msg m;
	(void)state;

	pkt_pxe_discover(&p, PXE_BIOS_CLASS, DHCP_ARCH_BIOS);
	m = parse_ok(&p);
	assert_int_equal(m.type, DHCP_DISCOVER);
	assert_string_equal(m.vendor_class, PXE_BIOS_CLASS);
	assert_true(dhcp_is_pxe(&m));
	assert_false(dhcp_is_ipxe(&m));
	assert_false(dhcp_is_http_client(&m));
	assert_int_equal(dhcp_arch(&m), DHCP_ARCH_BIOS);
	assert_int_equal(m.n_arch, 1);
	assert_true(m.has_uuid);
	assert_memory_equal(m.uuid, UUID, sizeof(UUID));
	assert_int_equal(m.max_size, 1260);
	assert_int_equal(m.n_prl, 10);
}

static void test_uefi(void **state)
{
	struct pkt p;
	struct dhcp_msg m;
	(void)state;

	pkt_pxe_discover(&p, "PXEClient:Arch:00007:UNDI:003016", DHCP_ARCH_EFI_BC);
	m = parse_ok(&p);
	assert_true(dhcp_is_pxe(&m));
	assert_false(dhcp_is_http_client(&m));
	assert_int_equal(dhcp_arch(&m), DHCP_ARCH_EFI_BC);

	pkt_pxe_discover(&p, "PXEClient:Arch:00009:UNDI:003016", DHCP_ARCH_EFI_X64);
	m = parse_ok(&p);
	assert_true(dhcp_is_pxe(&m));
	assert_int_equal(dhcp_arch(&m), DHCP_ARCH_EFI_X64);

	/* Several architectures: the first one counts, at most DHCP_ARCH_MAX are kept. */
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_CLIENT_ARCH, 4, 0, 9, 0, 7));
	m = parse_ok(&p);
	assert_int_equal(m.n_arch, 2);
	assert_int_equal(dhcp_arch(&m), DHCP_ARCH_EFI_X64);
	assert_int_equal(m.arch[1], DHCP_ARCH_EFI_BC);
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER));
	pkt_opt(&p, DHCP_OPT_CLIENT_ARCH,
		(const uint8_t[]){ 0, 6, 0, 7, 0, 9, 0, 10, 0, 11, 0, 16, 0, 17, 0, 18, 0, 19, 0, 20 }, 20);
	m = parse_ok(&p);
	assert_int_equal(m.n_arch, DHCP_ARCH_MAX);
	assert_int_equal(dhcp_arch(&m), DHCP_ARCH_EFI_IA32);
	assert_int_equal(m.arch[DHCP_ARCH_MAX - 1], 18);
	/* A 16-bit value, big-endian. */
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_CLIENT_ARCH, 2, 0x01, 0x02));
	m = parse_ok(&p);
	assert_int_equal(dhcp_arch(&m), 0x0102);
}

static void test_http_client(void **state)
{
	struct pkt p;
	struct dhcp_msg m;
	(void)state;

	pkt_pxe_discover(&p, "HTTPClient:Arch:00016:UNDI:003001", DHCP_ARCH_EFI_X64_HTTP);
	m = parse_ok(&p);
	assert_true(dhcp_is_http_client(&m));
	assert_true(dhcp_is_pxe(&m));
	assert_false(dhcp_is_ipxe(&m));
	assert_int_equal(dhcp_arch(&m), DHCP_ARCH_EFI_X64_HTTP);
	assert_string_equal(m.vendor_class, "HTTPClient:Arch:00016:UNDI:003001");
}

static void test_ipxe_user_class_raw(void **state)
{
	struct pkt p;
	struct dhcp_msg m;
	(void)state;

	/* What iPXE sends: the vendor class of the ROM it replaced, and user class "iPXE" as the whole option. */
	pkt_pxe_discover(&p, PXE_BIOS_CLASS, DHCP_ARCH_BIOS);
	p.len--; /* before END */
	pkt_opt_str(&p, DHCP_OPT_USER_CLASS, "iPXE");
	pkt_end(&p);
	m = parse_ok(&p);
	assert_true(m.user_class_ipxe);
	assert_false(m.has_ipxe_options);
	assert_true(dhcp_is_ipxe(&m));
	assert_true(dhcp_is_pxe(&m));

	/* iPXE alone, without a PXE vendor class, is still a PXE client. */
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_REQUEST));
	pkt_opt_str(&p, DHCP_OPT_USER_CLASS, "iPXE");
	m = parse_ok(&p);
	assert_true(dhcp_is_ipxe(&m));
	assert_true(dhcp_is_pxe(&m));

	/* Other user classes are not iPXE, whatever their prefix. */
	static const char *const not_ipxe[] = { "ipxe", "iPX", "iPXEx", "gPXE" };
	for (size_t i = 0; i < sizeof(not_ipxe) / sizeof(not_ipxe[0]); i++) {
		pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER));
		pkt_opt_str(&p, DHCP_OPT_USER_CLASS, not_ipxe[i]);
		m = parse_ok(&p);
		if (dhcp_is_ipxe(&m))
			fail_msg("user class \"%s\" taken for iPXE", not_ipxe[i]);
		assert_false(dhcp_is_pxe(&m));
	}
}

static void test_ipxe_user_class_rfc3004(void **state)
{
	struct pkt p;
	struct dhcp_msg m;
	(void)state;

	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_USER_CLASS, 5, 4, 'i', 'P', 'X', 'E'));
	m = parse_ok(&p);
	assert_true(m.user_class_ipxe);
	assert_true(dhcp_is_ipxe(&m));

	/* Among other classes. */
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_USER_CLASS, 10, 4, 'r', 'a', 'c', 'k', 4,
			      'i', 'P', 'X', 'E'));
	m = parse_ok(&p);
	assert_true(dhcp_is_ipxe(&m));

	/* Not iPXE, and a malformed user class is only ignored (it is a hint). */
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_USER_CLASS, 5, 4, 'r', 'a', 'c', 'k'));
	m = parse_ok(&p);
	assert_false(dhcp_is_ipxe(&m));
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_USER_CLASS, 6, 5, 'i', 'P', 'X', 'E', 'x'));
	m = parse_ok(&p);
	assert_false(dhcp_is_ipxe(&m));
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_USER_CLASS, 4, 3, 'i', 'P', 'X'));
	m = parse_ok(&p);
	assert_false(dhcp_is_ipxe(&m));
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_USER_CLASS, 3, 9, 'i', 'P'));
	m = parse_ok(&p);
	assert_false(dhcp_is_ipxe(&m));
	/* A zero-length class ends the list: "iPXE" after it is not looked at. */
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_USER_CLASS, 6, 0, 4, 'i', 'P', 'X', 'E'));
	m = parse_ok(&p);
	assert_false(dhcp_is_ipxe(&m));
}

static void test_ipxe_option_175(void **state)
{
	struct pkt p;
	struct dhcp_msg m;
	(void)state;

	/* iPXE's encapsulated options: version (235) 1.21.1, feature http (19). */
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_IPXE, 8, 235, 3, 1, 21, 1, 19, 1, 1,
			      DHCP_OPT_END));
	m = parse_ok(&p);
	assert_true(m.has_ipxe_options);
	assert_false(m.user_class_ipxe);
	assert_true(dhcp_is_ipxe(&m));
	assert_true(dhcp_is_pxe(&m));

	/* Present but empty still says iPXE. */
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_IPXE, 0, DHCP_OPT_END));
	m = parse_ok(&p);
	assert_true(dhcp_is_ipxe(&m));
}

/* RFC 3396: instances of one option are concatenated in order. */
static void test_split_option(void **state)
{
	struct pkt p;
	struct dhcp_msg m;
	(void)state;

	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER));
	pkt_opt_str(&p, DHCP_OPT_VENDOR_CLASS, "PXEClient:Arch:");
	pkt_opt(&p, DHCP_OPT_UUID, UUID, 9);
	pkt_opt_str(&p, DHCP_OPT_HOSTNAME, "web");
	pkt_opt_str(&p, DHCP_OPT_VENDOR_CLASS, "00000:UNDI:002001");
	pkt_opt(&p, DHCP_OPT_UUID, UUID + 9, 8);
	pkt_opt_str(&p, DHCP_OPT_HOSTNAME, "-1");
	/* Each instance of 93 is odd, their concatenation is one architecture. */
	pkt_opt(&p, DHCP_OPT_CLIENT_ARCH, (const uint8_t[]){ 0 }, 1);
	pkt_opt(&p, DHCP_OPT_CLIENT_ARCH, (const uint8_t[]){ 9 }, 1);
	pkt_end(&p);
	m = parse_ok(&p);
	assert_string_equal(m.vendor_class, PXE_BIOS_CLASS);
	assert_true(dhcp_is_pxe(&m));
	assert_true(m.has_uuid);
	assert_memory_equal(m.uuid, UUID, sizeof(UUID));
	assert_string_equal(m.hostname, "web-1");
	assert_int_equal(m.n_arch, 1);
	assert_int_equal(dhcp_arch(&m), DHCP_ARCH_EFI_X64);

	/* A fixed-size option split in two halves. */
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_REQUEST, DHCP_OPT_REQUESTED_IP, 2, 10, 77,
			      DHCP_OPT_REQUESTED_IP, 2, 0, 50, DHCP_OPT_END));
	m = parse_ok(&p);
	assert_true(m.has_requested_ip);
	assert_ip(m.requested_ip, "10.77.0.50");
}

/* Option 52 (RFC 2131 section 4.1, RFC 2132 section 9.3): options in file and sname. */
static void test_overload(void **state)
{
	struct pkt p;
	struct dhcp_msg m;
	(void)state;

	/* 1: file holds options. */
	pkt_request(&p, BYTES(DHCP_OPT_OVERLOAD, 1, 1, DHCP_OPT_END));
	pkt_set(&p, OFF_FILE,
		BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_VENDOR_CLASS, 9, 'P', 'X', 'E', 'C', 'l', 'i', 'e',
		      'n', 't', DHCP_OPT_END));
	m = parse_ok(&p);
	assert_int_equal(m.type, DHCP_DISCOVER);
	assert_string_equal(m.vendor_class, "PXEClient");
	assert_true(dhcp_is_pxe(&m));

	/* 2: sname holds options; file is a plain name and is not scanned. */
	pkt_request(&p, BYTES(DHCP_OPT_OVERLOAD, 1, 2, DHCP_OPT_END));
	pkt_set(&p, OFF_SNAME, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_REQUEST, DHCP_OPT_SERVER_ID, 4, 10, 77, 0, 1));
	pkt_set(&p, OFF_FILE, BYTES(DHCP_OPT_OVERLOAD, 1, 1, 12, 200));
	m = parse_ok(&p);
	assert_int_equal(m.type, DHCP_REQUEST);
	assert_true(m.has_server_id);
	assert_ip(m.server_id, "10.77.0.1");

	/* 3: both; options field first, then file, then sname, concatenated in that order. */
	pkt_request(&p, BYTES(DHCP_OPT_OVERLOAD, 1, 3, DHCP_OPT_HOSTNAME, 3, 'w', 'e', 'b', DHCP_OPT_END));
	pkt_set(&p, OFF_FILE, BYTES(DHCP_OPT_HOSTNAME, 2, '-', '1', DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_END));
	pkt_set(&p, OFF_SNAME, BYTES(DHCP_OPT_PAD, DHCP_OPT_HOSTNAME, 2, '.', 'x', DHCP_OPT_END));
	m = parse_ok(&p);
	assert_int_equal(m.type, DHCP_DISCOVER);
	assert_string_equal(m.hostname, "web-1.x");

	/* A field filled with options to its last byte needs no END. */
	pkt_request(&p, BYTES(DHCP_OPT_OVERLOAD, 1, 2, DHCP_OPT_END));
	{
		uint8_t sname[DHCP_SNAME_LEN];
		sname[0] = DHCP_OPT_MSG_TYPE;
		sname[1] = 1;
		sname[2] = DHCP_DISCOVER;
		sname[3] = DHCP_OPT_HOSTNAME;
		sname[4] = DHCP_SNAME_LEN - 5;
		memset(sname + 5, 'h', DHCP_SNAME_LEN - 5);
		pkt_set(&p, OFF_SNAME, sname, sizeof(sname));
	}
	m = parse_ok(&p);
	assert_int_equal(strlen(m.hostname), DHCP_SNAME_LEN - 5);

	/* Without option 52, file and sname are names, whatever their bytes. */
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_END));
	pkt_set(&p, OFF_FILE, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_REQUEST, 12, 250));
	pkt_set(&p, OFF_SNAME, BYTES(DHCP_OPT_OVERLOAD, 1, 3));
	m = parse_ok(&p);
	assert_int_equal(m.type, DHCP_DISCOVER);
	assert_string_equal(m.hostname, "");
}

static void test_request(void **state)
{
	struct pkt p;
	struct dhcp_msg m;
	(void)state;

	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_REQUEST, DHCP_OPT_REQUESTED_IP, 4, 10, 77, 0, 50,
			      DHCP_OPT_SERVER_ID, 4, 10, 77, 0, 1, DHCP_OPT_LEASE_TIME, 4, 0, 1, 0x51, 0x80,
			      DHCP_OPT_END));
	m = parse_ok(&p);
	assert_int_equal(m.type, DHCP_REQUEST);
	assert_true(m.has_requested_ip);
	assert_ip(m.requested_ip, "10.77.0.50");
	assert_true(m.has_server_id);
	assert_ip(m.server_id, "10.77.0.1");
	assert_true(m.has_lease_time);
	assert_int_equal(m.lease_time, 86400);

	/* RENEWING (RFC 2131 section 4.3.2): ciaddr, no 50 or 54. */
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_REQUEST, DHCP_OPT_END));
	pkt_set(&p, OFF_CIADDR, BYTES(10, 77, 0, 50));
	m = parse_ok(&p);
	assert_ip(m.ciaddr, "10.77.0.50");
	assert_false(m.has_requested_ip);
	assert_false(m.has_server_id);
}

static void test_client_id(void **state)
{
	struct pkt p;
	struct dhcp_msg m;
	uint8_t id[64];
	(void)state;

	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_CLIENT_ID, 7, 1, 0x52, 0x54, 0x00, 0x12,
			      0x34, 0x56, DHCP_OPT_END));
	m = parse_ok(&p);
	assert_int_equal(m.client_id_len, 7);
	assert_memory_equal(m.client_id, ((const uint8_t[]){ 1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 }), 7);

	/* The limits: 2 and 64 bytes. */
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_CLIENT_ID, 2, 0, 'x', DHCP_OPT_END));
	m = parse_ok(&p);
	assert_int_equal(m.client_id_len, 2);
	for (size_t i = 0; i < sizeof(id); i++)
		id[i] = (uint8_t)i;
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER));
	pkt_opt(&p, DHCP_OPT_CLIENT_ID, id, 64);
	m = parse_ok(&p);
	assert_int_equal(m.client_id_len, 64);
	assert_memory_equal(m.client_id, id, 64);
}

static void test_relay_agent(void **state)
{
	struct pkt p;
	struct dhcp_msg m;
	static const uint8_t relay[] = { 1, 4, 0, 0, 0, 7, 2, 6, 0x00, 0x1b, 0x21, 0xaa, 0xbb, 0xcc };
	(void)state;

	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER));
	pkt_opt(&p, DHCP_OPT_RELAY_AGENT, relay, sizeof(relay));
	pkt_end(&p);
	pkt_set(&p, OFF_GIADDR, BYTES(10, 78, 0, 1));
	pkt_set(&p, OFF_HOPS, BYTES(1));
	m = parse_ok(&p);
	assert_ip(m.giaddr, "10.78.0.1");
	assert_true(m.has_relay);
	assert_int_equal(m.relay_len, sizeof(relay));
	assert_memory_equal(m.relay, relay, sizeof(relay));

	/* 255 bytes, the most one instance holds. */
	{
		uint8_t big[255];
		memset(big, 0xab, sizeof(big));
		pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER));
		pkt_opt(&p, DHCP_OPT_RELAY_AGENT, big, sizeof(big));
		m = parse_ok(&p);
		assert_int_equal(m.relay_len, 255);
		assert_memory_equal(m.relay, big, 255);
	}
	/* One byte is kept too. */
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_RELAY_AGENT, 1, 9, DHCP_OPT_END));
	m = parse_ok(&p);
	assert_true(m.has_relay);
	assert_int_equal(m.relay_len, 1);
	assert_int_equal(m.relay[0], 9);
	/* Empty: nothing to echo. */
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_RELAY_AGENT, 0, DHCP_OPT_END));
	m = parse_ok(&p);
	assert_false(m.has_relay);
}

static void test_hostname_filtered(void **state)
{
	struct pkt p;
	struct dhcp_msg m;
	char longname[100];
	(void)state;

	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER));
	pkt_opt_str(&p, DHCP_OPT_HOSTNAME, "web-1; rm -rf /\n\x1b[0m.example_\"$x\xc3\xa9");
	pkt_end(&p);
	m = parse_ok(&p);
	assert_string_equal(m.hostname, "web-1rm-rf0m.examplex");

	/* Only unsafe bytes: empty. */
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_HOSTNAME, 3, ' ', '\0', '/', DHCP_OPT_END));
	m = parse_ok(&p);
	assert_string_equal(m.hostname, "");

	/* Longer than DHCP_HOSTNAME_MAX: cut. */
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER));
	pkt_opt_str(&p, DHCP_OPT_HOSTNAME, longname);
	m = parse_ok(&p);
	assert_int_equal(strlen(m.hostname), DHCP_HOSTNAME_MAX);

	/* The vendor class keeps printable ASCII without backslashes. */
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER));
	pkt_opt_str(&p, DHCP_OPT_VENDOR_CLASS, "PXEClient\\:Arch:\x01" "00000\x7f:UNDI:002001\xff\n");
	m = parse_ok(&p);
	assert_string_equal(m.vendor_class, PXE_BIOS_CLASS);
	/* And at most DHCP_CLASS_MAX of them. */
	{
		char vc[200];
		memset(vc, 'v', sizeof(vc) - 1);
		vc[sizeof(vc) - 1] = '\0';
		pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER));
		pkt_opt_str(&p, DHCP_OPT_VENDOR_CLASS, vc);
		m = parse_ok(&p);
		assert_int_equal(strlen(m.vendor_class), DHCP_CLASS_MAX);
	}
}

static void test_max_size_and_prl(void **state)
{
	struct pkt p;
	struct dhcp_msg m;
	uint8_t prl[100];
	(void)state;

	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_MAX_SIZE, 2, 0x05, 0xdc, DHCP_OPT_END));
	m = parse_ok(&p);
	assert_int_equal(m.max_size, 1500);
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_MAX_SIZE, 2, 0x02, 0x40, DHCP_OPT_END));
	m = parse_ok(&p);
	assert_int_equal(m.max_size, 576);

	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_PRL, 1, 67, DHCP_OPT_END));
	m = parse_ok(&p);
	assert_int_equal(m.n_prl, 1);
	assert_int_equal(m.prl[0], 67);
	/* The parameter request list keeps DHCP_PRL_MAX codes. */
	for (size_t i = 0; i < sizeof(prl); i++)
		prl[i] = (uint8_t)(i + 1);
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER));
	pkt_opt(&p, DHCP_OPT_PRL, prl, sizeof(prl));
	m = parse_ok(&p);
	assert_int_equal(m.n_prl, DHCP_PRL_MAX);
	assert_memory_equal(m.prl, prl, DHCP_PRL_MAX);
}

static void test_end_and_pad(void **state)
{
	struct pkt p;
	struct dhcp_msg m;
	(void)state;

	/* No END: accepted. */
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_HOSTNAME, 1, 'h'));
	m = parse_ok(&p);
	assert_int_equal(m.type, DHCP_DISCOVER);
	assert_string_equal(m.hostname, "h");

	/* PAD anywhere between options, and trailing. */
	pkt_request(&p, BYTES(0, 0, DHCP_OPT_MSG_TYPE, 1, DHCP_REQUEST, 0, DHCP_OPT_HOSTNAME, 1, 'h', 0, 0, 0));
	m = parse_ok(&p);
	assert_int_equal(m.type, DHCP_REQUEST);
	assert_string_equal(m.hostname, "h");

	/* After END nothing is read, not even a broken option. */
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_END, DHCP_OPT_MSG_TYPE, 9, 1));
	m = parse_ok(&p);
	assert_int_equal(m.type, DHCP_DISCOVER);

	/* DHCP_PACKET_MAX bytes exactly, PAD to the end. */
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER));
	p.len = DHCP_PACKET_MAX;
	m = parse_ok(&p);
	assert_int_equal(m.type, DHCP_DISCOVER);

	/* hlen 16 is the most chaddr holds. */
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_END));
	pkt_set(&p, OFF_HLEN, BYTES(16));
	m = parse_ok(&p);
	assert_int_equal(m.hlen, 16);
}

/* ---- refusals ---- */

static void test_bad_length(void **state)
{
	struct pkt p;
	(void)state;

	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_END));
	parse_err_n(p.b, 0, "truncated fixed header");
	parse_err_n(p.b, 1, "truncated fixed header");
	parse_err_n(p.b, 100, "truncated fixed header");
	parse_err_n(p.b, DHCP_FIXED_LEN - 1, "truncated fixed header");
	parse_err_n(p.b, DHCP_FIXED_LEN, "no magic cookie");
	parse_err_n(p.b, DHCP_MIN_LEN - 1, "no magic cookie");
	/* The cookie and nothing else: no options at all. */
	parse_err_n(p.b, DHCP_MIN_LEN, "no message type (BOOTP is not served)");

	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_END));
	p.len = DHCP_PACKET_MAX + 1;
	parse_err(&p, "oversized packet");
	p.len = DHCP_PACKET_MAX + 64;
	parse_err(&p, "oversized packet");
}

static void test_bad_header(void **state)
{
	struct pkt p;
	(void)state;

	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_END));
	pkt_set(&p, OFF_MAGIC, BYTES(0x63, 0x82, 0x53, 0x64));
	parse_err(&p, "wrong magic cookie");
	pkt_set(&p, OFF_MAGIC, BYTES(0x63, 0x53, 0x82, 0x63)); /* byte-swapped */
	parse_err(&p, "wrong magic cookie");
	pkt_set(&p, OFF_MAGIC, BYTES(0, 0, 0, 0)); /* BOOTP vendor area */
	parse_err(&p, "wrong magic cookie");

	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_OFFER, DHCP_OPT_END));
	pkt_set(&p, OFF_OP, BYTES(2));
	parse_err(&p, "not a BOOTREQUEST");
	pkt_set(&p, OFF_OP, BYTES(0));
	parse_err(&p, "not a BOOTREQUEST");
	pkt_set(&p, OFF_OP, BYTES(3));
	parse_err(&p, "not a BOOTREQUEST");

	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_END));
	pkt_set(&p, OFF_HLEN, BYTES(17));
	parse_err(&p, "hardware address longer than 16 bytes");
	pkt_set(&p, OFF_HLEN, BYTES(255));
	parse_err(&p, "hardware address longer than 16 bytes");
}

static void test_bad_type(void **state)
{
	struct pkt p;
	(void)state;

	pkt_request(&p, BYTES(DHCP_OPT_HOSTNAME, 1, 'h', DHCP_OPT_END));
	parse_err(&p, "no message type (BOOTP is not served)");
	pkt_request(&p, BYTES(DHCP_OPT_END));
	parse_err(&p, "no message type (BOOTP is not served)");
	/* Option 53 only where 52 does not send the parser. */
	pkt_request(&p, BYTES(DHCP_OPT_OVERLOAD, 1, 1, DHCP_OPT_END));
	pkt_set(&p, OFF_SNAME, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_END));
	parse_err(&p, "no message type (BOOTP is not served)");

	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, 0, DHCP_OPT_END));
	parse_err(&p, "unknown message type");
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, 9, DHCP_OPT_END));
	parse_err(&p, "unknown message type");
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, 255, DHCP_OPT_END));
	parse_err(&p, "unknown message type");

	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 2, DHCP_DISCOVER, 0, DHCP_OPT_END));
	parse_err(&p, "option 53 must be 1 byte");
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 0, DHCP_OPT_END));
	parse_err(&p, "option 53 must be 1 byte");
	/* Twice: concatenated (RFC 3396), so 2 bytes. */
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_END));
	parse_err(&p, "option 53 must be 1 byte");
}

static void test_bad_option_framing(void **state)
{
	struct pkt p;
	(void)state;

	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_HOSTNAME, 10, 'a', 'b'));
	parse_err(&p, "option runs past the end of its area");
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_HOSTNAME, 1));
	parse_err(&p, "option runs past the end of its area");
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_HOSTNAME));
	parse_err(&p, "option length missing at the end");
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE));
	parse_err(&p, "option length missing at the end");
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1));
	parse_err(&p, "option runs past the end of its area");

	/* The end of file is the end of its area, even with bytes after it in the packet. */
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_OVERLOAD, 1, 1, DHCP_OPT_END));
	pkt_set(&p, OFF_FILE + DHCP_FILE_LEN - 2, BYTES(DHCP_OPT_HOSTNAME, 5));
	parse_err(&p, "option runs past the end of its area");
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_OVERLOAD, 1, 1, DHCP_OPT_END));
	pkt_set(&p, OFF_FILE + DHCP_FILE_LEN - 1, BYTES(DHCP_OPT_HOSTNAME));
	parse_err(&p, "option length missing at the end");
	/* And sname ends where file begins. */
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_OVERLOAD, 1, 2, DHCP_OPT_END));
	pkt_set(&p, OFF_SNAME + DHCP_SNAME_LEN - 3, BYTES(DHCP_OPT_HOSTNAME, 2, 'a'));
	pkt_set(&p, OFF_FILE, BYTES('b', DHCP_OPT_END));
	parse_err(&p, "option runs past the end of its area");
}

static void test_bad_overload(void **state)
{
	struct pkt p;
	(void)state;

	pkt_request(&p, BYTES(DHCP_OPT_OVERLOAD, 0, DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_END));
	parse_err(&p, "option 52 must be 1 byte");
	pkt_request(&p, BYTES(DHCP_OPT_OVERLOAD, 2, 1, 0, DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_END));
	parse_err(&p, "option 52 must be 1 byte");

	pkt_request(&p, BYTES(DHCP_OPT_OVERLOAD, 1, 4, DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_END));
	parse_err(&p, "option 52 value not 1, 2 or 3");
	pkt_request(&p, BYTES(DHCP_OPT_OVERLOAD, 1, 0, DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_END));
	parse_err(&p, "option 52 value not 1, 2 or 3");
	pkt_request(&p, BYTES(DHCP_OPT_OVERLOAD, 1, 255, DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_END));
	parse_err(&p, "option 52 value not 1, 2 or 3");

	/* An overload option inside an overloaded field would loop. */
	pkt_request(&p, BYTES(DHCP_OPT_OVERLOAD, 1, 1, DHCP_OPT_END));
	pkt_set(&p, OFF_FILE, BYTES(DHCP_OPT_OVERLOAD, 1, 1, DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_END));
	parse_err(&p, "option overload inside an overloaded field");
	pkt_request(&p, BYTES(DHCP_OPT_OVERLOAD, 1, 2, DHCP_OPT_END));
	pkt_set(&p, OFF_SNAME, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_OVERLOAD, 1, 3, DHCP_OPT_END));
	parse_err(&p, "option overload inside an overloaded field");
	pkt_request(&p, BYTES(DHCP_OPT_OVERLOAD, 1, 3, DHCP_OPT_END));
	pkt_set(&p, OFF_FILE, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_END));
	pkt_set(&p, OFF_SNAME, BYTES(DHCP_OPT_OVERLOAD, 1, 1, DHCP_OPT_END));
	parse_err(&p, "option overload inside an overloaded field");
}

static void test_bad_option_lengths(void **state)
{
	struct pkt p;
	uint8_t big[65];
	(void)state;

	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_REQUEST, DHCP_OPT_REQUESTED_IP, 3, 10, 77, 0, DHCP_OPT_END));
	parse_err(&p, "option 50 must be 4 bytes");
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_REQUEST, DHCP_OPT_SERVER_ID, 5, 10, 77, 0, 1, 0, DHCP_OPT_END));
	parse_err(&p, "option 54 must be 4 bytes");
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_REQUEST, DHCP_OPT_LEASE_TIME, 2, 1, 0, DHCP_OPT_END));
	parse_err(&p, "option 51 must be 4 bytes");
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_MAX_SIZE, 1, 0xff, DHCP_OPT_END));
	parse_err(&p, "option 57 must be 2 bytes");

	/* 93: a non-zero multiple of 2. */
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_CLIENT_ARCH, 1, 0, DHCP_OPT_END));
	parse_err(&p, "option 93 length is not a non-zero multiple of 2");
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_CLIENT_ARCH, 3, 0, 7, 0, DHCP_OPT_END));
	parse_err(&p, "option 93 length is not a non-zero multiple of 2");
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_CLIENT_ARCH, 0, DHCP_OPT_END));
	parse_err(&p, "option 93 length is not a non-zero multiple of 2");

	/* 97: type 0 and 16 bytes. */
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER));
	pkt_opt(&p, DHCP_OPT_UUID, (const uint8_t[]){ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17 }, 17);
	parse_err(&p, "option 97 must be type 0 and 16 bytes");
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER));
	pkt_opt(&p, DHCP_OPT_UUID, UUID, 16);
	parse_err(&p, "option 97 must be type 0 and 16 bytes");
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER));
	pkt_opt(&p, DHCP_OPT_UUID, (const uint8_t[]){ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17 }, 18);
	parse_err(&p, "option 97 must be type 0 and 16 bytes");
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_UUID, 0, DHCP_OPT_END));
	parse_err(&p, "option 97 must be type 0 and 16 bytes");

	/* 61: 2 to 64 bytes. */
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_CLIENT_ID, 1, 1, DHCP_OPT_END));
	parse_err(&p, "option 61 must be 2 to 64 bytes");
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_CLIENT_ID, 0, DHCP_OPT_END));
	parse_err(&p, "option 61 must be 2 to 64 bytes");
	memset(big, 7, sizeof(big));
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER));
	pkt_opt(&p, DHCP_OPT_CLIENT_ID, big, sizeof(big));
	parse_err(&p, "option 61 must be 2 to 64 bytes");
}

static void test_dhcp_mac(void **state)
{
	struct pkt p;
	struct dhcp_msg m;
	char out[18];
	(void)state;

	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER, DHCP_OPT_END));
	pkt_set(&p, OFF_CHADDR, BYTES(0xde, 0xad, 0xbe, 0xef, 0x0a, 0xff, 0x11, 0x22));
	m = parse_ok(&p);
	assert_int_equal(dhcp_mac(&m, out), 0);
	assert_string_equal(out, "de:ad:be:ef:0a:ff");

	static const struct {
		uint8_t htype, hlen;
	} refused[] = { { 1, 0 }, { 1, 5 }, { 1, 8 }, { 1, 16 }, { 6, 6 }, { 32, 0 }, { 0, 6 } };
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		pkt_set(&p, OFF_HTYPE, BYTES(refused[i].htype, refused[i].hlen));
		m = parse_ok(&p);
		memset(out, 'x', sizeof(out));
		assert_int_equal(dhcp_mac(&m, out), -EINVAL);
		for (size_t j = 0; j < sizeof(out); j++)
			assert_int_equal(out[j], 'x');
	}
}

/* ---- replies ---- */

/* A reply read back by a parser independent of the one under test. */
struct reply {
	uint8_t op, htype, hlen, hops;
	uint32_t xid;
	uint16_t secs, flags;
	uint8_t ciaddr[4], yiaddr[4], siaddr[4], giaddr[4], chaddr[16];
	uint8_t sname[DHCP_SNAME_LEN], file[DHCP_FILE_LEN];
	uint8_t first_code;
	size_t end_at; /* offset of END */
	struct {
		unsigned n;      /* instances */
		size_t first_len; /* length of the first one */
		size_t len;      /* concatenated (RFC 3396) */
		uint8_t data[DHCP_PACKET_MAX];
	} opt[256];
};

static struct reply rp;

static uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void reply_parse(const uint8_t *b, size_t len, struct reply *r)
{
	size_t i = OFF_OPTIONS;
	bool end = false;

	memset(r, 0, sizeof(*r));
	assert_true(len >= DHCP_REPLY_MIN);
	r->op = b[OFF_OP];
	r->htype = b[OFF_HTYPE];
	r->hlen = b[OFF_HLEN];
	r->hops = b[OFF_HOPS];
	r->xid = be32(b + OFF_XID);
	r->secs = (uint16_t)(b[OFF_SECS] << 8 | b[OFF_SECS + 1]);
	r->flags = (uint16_t)(b[OFF_FLAGS] << 8 | b[OFF_FLAGS + 1]);
	memcpy(r->ciaddr, b + OFF_CIADDR, 4);
	memcpy(r->yiaddr, b + OFF_YIADDR, 4);
	memcpy(r->siaddr, b + OFF_SIADDR, 4);
	memcpy(r->giaddr, b + OFF_GIADDR, 4);
	memcpy(r->chaddr, b + OFF_CHADDR, 16);
	memcpy(r->sname, b + OFF_SNAME, DHCP_SNAME_LEN);
	memcpy(r->file, b + OFF_FILE, DHCP_FILE_LEN);
	assert_int_equal(be32(b + OFF_MAGIC), DHCP_MAGIC);
	r->first_code = b[OFF_OPTIONS];

	while (i < len) {
		uint8_t code = b[i++], n;
		if (code == DHCP_OPT_PAD)
			continue;
		if (code == DHCP_OPT_END) {
			end = true;
			r->end_at = i - 1;
			break;
		}
		if (i >= len)
			fail_msg("reply: option %u has no length byte", code);
		n = b[i++];
		if (n > len - i)
			fail_msg("reply: option %u runs past the end", code);
		if (r->opt[code].n++ == 0)
			r->opt[code].first_len = n;
		memcpy(r->opt[code].data + r->opt[code].len, b + i, n);
		r->opt[code].len += n;
		i += n;
	}
	if (!end)
		fail_msg("reply: no END option");
	/* After END: PAD only. */
	for (; i < len; i++)
		if (b[i] != 0)
			fail_msg("reply: byte %zu after END is %u", i, b[i]);
}

static void assert_opt(uint8_t code, const void *want, size_t len)
{
	if (rp.opt[code].n == 0)
		fail_msg("reply: option %u absent", code);
	assert_int_equal(rp.opt[code].len, len);
	assert_memory_equal(rp.opt[code].data, want, len);
}

static void assert_opt_str(uint8_t code, const char *want) { assert_opt(code, want, strlen(want)); }

/* Exactly the options of the list are present, once each. */
static void assert_opt_set(const uint8_t *codes, size_t n)
{
	for (unsigned c = 1; c < 255; c++) {
		bool want = memchr(codes, (int)c, n) != NULL;
		if (want && rp.opt[c].n != 1)
			fail_msg("reply: option %u present %u times, expected once", c, rp.opt[c].n);
		if (!want && rp.opt[c].n != 0)
			fail_msg("reply: option %u present, expected absent", c);
	}
}

static const uint8_t RELAY[] = { 1, 4, 0, 0, 0, 7, 2, 6, 0x00, 0x1b, 0x21, 0xaa, 0xbb, 0xcc };

/* A PXE DISCOVER through a relay, with a UUID and option 82. */
static struct dhcp_msg relayed_pxe_request(void)
{
	struct pkt p;
	pkt_pxe_discover(&p, PXE_BIOS_CLASS, DHCP_ARCH_BIOS);
	p.len--;
	pkt_opt(&p, DHCP_OPT_RELAY_AGENT, RELAY, sizeof(RELAY));
	pkt_end(&p);
	pkt_set(&p, OFF_GIADDR, BYTES(10, 78, 0, 1));
	pkt_set(&p, OFF_CIADDR, BYTES(10, 77, 0, 9));
	pkt_set(&p, OFF_FLAGS, BYTES(0x80, 0x00));
	pkt_set(&p, OFF_SECS, BYTES(0, 4));
	pkt_set(&p, OFF_HOPS, BYTES(1));
	return parse_ok(&p);
}

static struct dhcp_msg plain_request(void)
{
	struct pkt p;
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_REQUEST, DHCP_OPT_END));
	return parse_ok(&p);
}

/* Builds into an exact-size heap buffer (ASan sees any write past cap). */
static int build(const struct dhcp_msg *req, const struct dhcp_reply *r, size_t cap, size_t *len)
{
	uint8_t *buf = malloc(cap ? cap : 1);
	int rc;
	assert_non_null(buf);
	rc = dhcp_build_reply(req, r, buf, cap, len);
	if (rc == 0)
		reply_parse(buf, *len, &rp);
	free(buf);
	return rc;
}

static void test_build_full(void **state)
{
	struct dhcp_msg req = relayed_pxe_request();
	struct dhcp_reply r = {
		.type = DHCP_OFFER,
		.yiaddr = ip("10.77.0.50"),
		.siaddr = ip("10.77.0.1"),
		.server_id = ip("10.77.0.1"),
		.netmask = ip("255.255.255.0"),
		.router = ip("10.77.0.254"),
		.dns = { ip("10.77.0.1"), ip("9.9.9.9") },
		.n_dns = 2,
		.lease_time = 3600,
		.file = "undionly.kpxe",
		.tftp_server = "10.77.0.1",
		.vendor_class = "PXEClient",
		.pxe_vendor_opts = true,
		.message = "hello",
	};
	size_t len = 0;
	uint8_t zero[DHCP_FILE_LEN] = { 0 };
	(void)state;

	assert_int_equal(build(&req, &r, 1500, &len), 0);
	assert_int_equal(rp.op, 2);
	assert_int_equal(rp.htype, 1);
	assert_int_equal(rp.hlen, 6);
	assert_int_equal(rp.hops, 0);
	assert_int_equal(rp.xid, XID);
	assert_int_equal(rp.secs, 0);
	assert_int_equal(rp.flags, 0x8000);
	assert_memory_equal(rp.ciaddr, ((const uint8_t[]){ 10, 77, 0, 9 }), 4);
	assert_memory_equal(rp.yiaddr, ((const uint8_t[]){ 10, 77, 0, 50 }), 4);
	assert_memory_equal(rp.siaddr, ((const uint8_t[]){ 10, 77, 0, 1 }), 4);
	assert_memory_equal(rp.giaddr, ((const uint8_t[]){ 10, 78, 0, 1 }), 4);
	assert_memory_equal(rp.chaddr, req.chaddr, 16);
	assert_memory_equal(rp.sname, zero, DHCP_SNAME_LEN);
	assert_string_equal((const char *)rp.file, "undionly.kpxe");
	assert_memory_equal(rp.file + strlen("undionly.kpxe"), zero, DHCP_FILE_LEN - strlen("undionly.kpxe"));

	/* 53 first (RFC 2131 does not require it, clients like it). */
	assert_int_equal(rp.first_code, DHCP_OPT_MSG_TYPE);
	assert_opt(DHCP_OPT_MSG_TYPE, (const uint8_t[]){ DHCP_OFFER }, 1);
	assert_opt(DHCP_OPT_SERVER_ID, ((const uint8_t[]){ 10, 77, 0, 1 }), 4);
	assert_opt(DHCP_OPT_LEASE_TIME, ((const uint8_t[]){ 0, 0, 0x0e, 0x10 }), 4);
	assert_opt(DHCP_OPT_T1, ((const uint8_t[]){ 0, 0, 0x07, 0x08 }), 4); /* 1800 */
	assert_opt(DHCP_OPT_T2, ((const uint8_t[]){ 0, 0, 0x0c, 0x4e }), 4); /* 3150 = 0.875 * 3600 */
	assert_opt(DHCP_OPT_SUBNET_MASK, ((const uint8_t[]){ 255, 255, 255, 0 }), 4);
	assert_opt(DHCP_OPT_ROUTER, ((const uint8_t[]){ 10, 77, 0, 254 }), 4);
	assert_opt(DHCP_OPT_DNS, ((const uint8_t[]){ 10, 77, 0, 1, 9, 9, 9, 9 }), 8);
	assert_opt_str(DHCP_OPT_VENDOR_CLASS, "PXEClient");
	assert_opt(DHCP_OPT_VENDOR_OPTS, ((const uint8_t[]){ 6, 1, 8, 255 }), 4);
	assert_opt_str(DHCP_OPT_TFTP_SERVER, "10.77.0.1");
	assert_opt_str(DHCP_OPT_BOOTFILE, "undionly.kpxe");
	assert_opt(DHCP_OPT_UUID, UUID, sizeof(UUID));
	assert_opt_str(DHCP_OPT_MESSAGE, "hello");
	assert_opt(DHCP_OPT_RELAY_AGENT, RELAY, sizeof(RELAY));
	assert_opt_set((const uint8_t[]){ 53, 54, 51, 58, 59, 1, 3, 6, 60, 43, 66, 67, 97, 56, 82 }, 15);
	/* Longer than the minimum: END is the last byte, no padding. */
	assert_true(len > DHCP_REPLY_MIN);
	assert_int_equal(rp.end_at, len - 1);

	/* One DNS server: 4 bytes. */
	r.n_dns = 1;
	assert_int_equal(build(&req, &r, 1500, &len), 0);
	assert_opt(DHCP_OPT_DNS, ((const uint8_t[]){ 10, 77, 0, 1 }), 4);
}

static void test_build_minimal(void **state)
{
	struct dhcp_msg req = plain_request();
	struct dhcp_reply r = { .type = DHCP_NAK, .server_id = ip("10.77.0.1") };
	size_t len = 0;
	uint8_t zero[DHCP_FILE_LEN] = { 0 };
	(void)state;

	assert_int_equal(build(&req, &r, 1500, &len), 0);
	/* Padded to the BOOTP minimum (RFC 1542). */
	assert_int_equal(len, DHCP_REPLY_MIN);
	assert_int_equal(rp.op, 2);
	assert_int_equal(rp.xid, XID);
	assert_int_equal(rp.flags, 0);
	assert_memory_equal(rp.yiaddr, zero, 4);
	assert_memory_equal(rp.siaddr, zero, 4);
	assert_memory_equal(rp.giaddr, zero, 4);
	assert_memory_equal(rp.chaddr, MAC, 6);
	assert_memory_equal(rp.file, zero, DHCP_FILE_LEN);
	assert_memory_equal(rp.sname, zero, DHCP_SNAME_LEN);
	assert_opt(DHCP_OPT_MSG_TYPE, (const uint8_t[]){ DHCP_NAK }, 1);
	assert_opt(DHCP_OPT_SERVER_ID, ((const uint8_t[]){ 10, 77, 0, 1 }), 4);
	assert_opt_set((const uint8_t[]){ 53, 54 }, 2);
	assert_int_equal(rp.end_at, OFF_OPTIONS + 3 + 6);

	/* A relayed, PXE request asks nothing more of a bare reply but 97 and 82. */
	req = relayed_pxe_request();
	assert_int_equal(build(&req, &r, 1500, &len), 0);
	assert_opt_set((const uint8_t[]){ 53, 54, 97, 82 }, 4);
	assert_memory_equal(rp.giaddr, ((const uint8_t[]){ 10, 78, 0, 1 }), 4);
}

/* The UUID is echoed to PXE clients only (RFC 4578 section 2.3). */
static void test_build_uuid_echo(void **state)
{
	struct pkt p;
	struct dhcp_msg req;
	struct dhcp_reply r = { .type = DHCP_OFFER, .server_id = ip("10.77.0.1"), .lease_time = 600 };
	size_t len;
	(void)state;

	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER));
	pkt_opt(&p, DHCP_OPT_UUID, UUID, sizeof(UUID));
	req = parse_ok(&p);
	assert_true(req.has_uuid);
	assert_int_equal(build(&req, &r, 1500, &len), 0);
	assert_opt_set((const uint8_t[]){ 53, 54, 51, 58, 59 }, 5);

	/* iPXE counts as PXE. */
	pkt_opt_str(&p, DHCP_OPT_USER_CLASS, "iPXE");
	req = parse_ok(&p);
	assert_int_equal(build(&req, &r, 1500, &len), 0);
	assert_opt(DHCP_OPT_UUID, UUID, sizeof(UUID));

	/* PXE without a UUID: nothing to echo. */
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER));
	pkt_opt_str(&p, DHCP_OPT_VENDOR_CLASS, PXE_BIOS_CLASS);
	req = parse_ok(&p);
	assert_int_equal(build(&req, &r, 1500, &len), 0);
	assert_int_equal(rp.opt[DHCP_OPT_UUID].n, 0);
}

/* A boot file name longer than 255 bytes: option 67 in instances (RFC 3396), file field cut. */
static void test_build_long_file(void **state)
{
	struct dhcp_msg req = plain_request();
	char file[301];
	struct dhcp_reply r = { .type = DHCP_ACK, .server_id = ip("10.77.0.1"), .file = file };
	size_t len;
	(void)state;

	for (size_t i = 0; i < sizeof(file) - 1; i++)
		file[i] = (char)('a' + i % 26);
	file[sizeof(file) - 1] = '\0';
	assert_int_equal(build(&req, &r, 1500, &len), 0);
	assert_int_equal(rp.opt[DHCP_OPT_BOOTFILE].n, 2);
	assert_int_equal(rp.opt[DHCP_OPT_BOOTFILE].first_len, 255);
	assert_opt(DHCP_OPT_BOOTFILE, file, 300);
	/* The file field holds what fits, NUL-terminated. */
	assert_memory_equal(rp.file, file, DHCP_FILE_LEN - 1);
	assert_int_equal(rp.file[DHCP_FILE_LEN - 1], 0);
	assert_int_equal(len, OFF_OPTIONS + 3 + 6 + (2 + 255) + (2 + 45) + 1);

	/* 127 bytes fit the field with their NUL; 128 do not. */
	file[DHCP_FILE_LEN - 1] = '\0';
	assert_int_equal(build(&req, &r, 1500, &len), 0);
	assert_string_equal((const char *)rp.file, file);
	assert_opt_str(DHCP_OPT_BOOTFILE, file);
	file[DHCP_FILE_LEN - 1] = 'x';
	file[DHCP_FILE_LEN] = '\0';
	assert_int_equal(build(&req, &r, 1500, &len), 0);
	assert_memory_equal(rp.file, file, DHCP_FILE_LEN - 1);
	assert_int_equal(rp.file[DHCP_FILE_LEN - 1], 0);
	assert_opt_str(DHCP_OPT_BOOTFILE, file);

	/* 255 is one instance, 256 two. */
	memset(file, 'f', 256);
	file[255] = '\0';
	assert_int_equal(build(&req, &r, 1500, &len), 0);
	assert_int_equal(rp.opt[DHCP_OPT_BOOTFILE].n, 1);
	file[255] = 'f';
	file[256] = '\0';
	assert_int_equal(build(&req, &r, 1500, &len), 0);
	assert_int_equal(rp.opt[DHCP_OPT_BOOTFILE].n, 2);
	assert_int_equal(rp.opt[DHCP_OPT_BOOTFILE].first_len, 255);
	assert_int_equal(rp.opt[DHCP_OPT_BOOTFILE].len, 256);
}

static void test_build_enobufs(void **state)
{
	struct dhcp_msg req = relayed_pxe_request();
	struct dhcp_reply small = { .type = DHCP_NAK, .server_id = ip("10.77.0.1") };
	struct dhcp_reply big = {
		.type = DHCP_ACK,
		.yiaddr = ip("10.77.0.50"),
		.server_id = ip("10.77.0.1"),
		.netmask = ip("255.255.255.0"),
		.lease_time = 3600,
		.file = "http://10.77.0.1:8080/boot.ipxe",
		.vendor_class = "PXEClient",
		.pxe_vendor_opts = true,
	};
	size_t len, need;
	(void)state;

	/* A reply of the minimum size needs exactly DHCP_REPLY_MIN bytes. */
	req = plain_request();
	assert_int_equal(build(&req, &small, DHCP_REPLY_MIN, &len), 0);
	assert_int_equal(len, DHCP_REPLY_MIN);
	len = 12345;
	assert_int_equal(build(&req, &small, DHCP_REPLY_MIN - 1, &len), -ENOBUFS);
	assert_int_equal(len, 12345); /* written only on success */
	assert_int_equal(build(&req, &small, 0, &len), -ENOBUFS);
	assert_int_equal(build(&req, &small, DHCP_FIXED_LEN, &len), -ENOBUFS);
	assert_int_equal(build(&req, &small, 10, &len), -ENOBUFS);

	/* A larger one needs its own length, not one byte less. */
	req = relayed_pxe_request();
	assert_int_equal(build(&req, &big, 1500, &need), 0);
	assert_true(need > DHCP_REPLY_MIN);
	assert_int_equal(build(&req, &big, need, &len), 0);
	assert_int_equal(len, need);
	len = 12345;
	assert_int_equal(build(&req, &big, need - 1, &len), -ENOBUFS);
	assert_int_equal(len, 12345);
	assert_int_equal(build(&req, &big, DHCP_REPLY_MIN, &len), -ENOBUFS);
}

/*
 * dhcp_msg_check and dhcp_frame_check (boot/dhcp_listen.h): what bootwaved
 * checks of a record from the sandboxed listener before its lease logic
 * reads it; each broken promise refused by name.
 */
static struct dhcp_msg full_msg(void)
{
	struct pkt p;
	static const uint8_t relay[] = { 1, 4, 0, 0, 0, 7 };
	pkt_request(&p, BYTES(DHCP_OPT_MSG_TYPE, 1, DHCP_DISCOVER));
	pkt_opt_str(&p, DHCP_OPT_VENDOR_CLASS, PXE_BIOS_CLASS);
	pkt_opt_str(&p, DHCP_OPT_HOSTNAME, "web-1");
	pkt_opt(&p, DHCP_OPT_UUID, UUID, sizeof(UUID));
	pkt_opt(&p, DHCP_OPT_CLIENT_ID, BYTES(1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56));
	pkt_opt(&p, DHCP_OPT_RELAY_AGENT, relay, sizeof(relay));
	pkt_opt(&p, DHCP_OPT_CLIENT_ARCH, BYTES(0, 0));
	pkt_end(&p);
	return parse_ok(&p);
}

static void msg_refused(const struct dhcp_msg *m, const char *want)
{
	const char *why = NULL;
	assert_int_equal(dhcp_msg_check(m, &why), -EBADMSG);
	assert_non_null(why);
	assert_string_equal(why, want);
}

static void test_msg_check(void **state)
{
	struct dhcp_msg good = full_msg(), m;
	(void)state;

	assert_int_equal(dhcp_msg_check(&good, NULL), 0);
	m = good, m.op = 2;
	msg_refused(&m, "op is not BOOTREQUEST");
	m = good, m.hlen = 17;
	msg_refused(&m, "hardware address longer than chaddr");
	m = good, m.type = 0;
	msg_refused(&m, "message type out of range");
	m = good, m.type = DHCP_INFORM + 1;
	msg_refused(&m, "message type out of range");
	m = good, memset(m.hostname, 'a', sizeof(m.hostname));
	msg_refused(&m, "host name not terminated or not filtered");
	m = good, strcpy(m.hostname, "a;b");
	msg_refused(&m, "host name not terminated or not filtered");
	m = good, memset(m.vendor_class, 'v', sizeof(m.vendor_class));
	msg_refused(&m, "vendor class not terminated or not filtered");
	m = good, strcpy(m.vendor_class, "PXE\n");
	msg_refused(&m, "vendor class not terminated or not filtered");
	m = good, m.vendor_class[2] = '\x1b';
	msg_refused(&m, "vendor class not terminated or not filtered");
	m = good, m.n_arch = DHCP_ARCH_MAX + 1;
	msg_refused(&m, "too many architectures");
	m = good, m.n_prl = DHCP_PRL_MAX + 1;
	msg_refused(&m, "parameter request list too long");
	m = good, m.client_id_len = 1;
	msg_refused(&m, "client identifier length out of range");
	m = good, m.client_id_len = sizeof(m.client_id) + 1;
	msg_refused(&m, "client identifier length out of range");
	m = good, m.relay_len = sizeof(m.relay) + 1;
	msg_refused(&m, "relay agent option length out of range");
	m = good, m.has_relay = false;
	msg_refused(&m, "relay agent option length out of range");
	m = good, m.uuid[0] = 1;
	msg_refused(&m, "UUID type is not 0");
	/* The limits themselves are fine. */
	m = good, m.n_arch = DHCP_ARCH_MAX, m.n_prl = DHCP_PRL_MAX, m.client_id_len = sizeof(m.client_id);
	m.relay_len = sizeof(m.relay), memset(m.hostname, 'h', DHCP_HOSTNAME_MAX), m.hostname[DHCP_HOSTNAME_MAX] = 0;
	assert_int_equal(dhcp_msg_check(&m, NULL), 0);
}

static void frame_refused(const void *buf, size_t len, const char *want)
{
	struct dhcp_frame out;
	const char *why = NULL;
	memset(&out, 0x5a, sizeof(out));
	assert_int_equal(dhcp_frame_check(buf, len, &out, &why), -EBADMSG);
	assert_non_null(why);
	assert_string_equal(why, want);
}

static void test_frame_check(void **state)
{
	struct dhcp_frame good, f, out;
	const char *why = NULL;
	uint8_t bytes[sizeof(good) + 1];
	(void)state;

	memset(&good, 0, sizeof(good));
	good.version = DHCP_FRAME_VERSION;
	good.kind = DHCP_FRAME_MSG;
	good.port = 67;
	good.from.sin_family = AF_INET;
	good.from.sin_port = htons(68);
	good.msg = full_msg();
	assert_int_equal(dhcp_frame_check(&good, sizeof(good), &out, &why), 0);
	assert_memory_equal(&out.msg, &good.msg, sizeof(good.msg));
	assert_int_equal(out.port, 67);
	f = good, f.port = 4011;
	assert_int_equal(dhcp_frame_check(&f, sizeof(f), &out, &why), 0);
	f = good, f.kind = DHCP_FRAME_DROP, strcpy(f.why, "oversized packet");
	assert_int_equal(dhcp_frame_check(&f, sizeof(f), &out, &why), 0);
	assert_string_equal(out.why, "oversized packet");

	/* Not one record: shorter, longer, empty. */
	memset(bytes, 0, sizeof(bytes));
	memcpy(bytes, &good, sizeof(good));
	frame_refused(bytes, sizeof(good) - 1, "not one record");
	frame_refused(bytes, sizeof(bytes), "not one record");
	frame_refused(bytes, 0, "not one record");
	f = good, f.version = 2;
	frame_refused(&f, sizeof(f), "unknown version");
	f = good, f.port = 68;
	frame_refused(&f, sizeof(f), "unknown port");
	f = good, f.from.sin_family = AF_INET6;
	frame_refused(&f, sizeof(f), "sender not IPv4");
	f = good, f.kind = 3;
	frame_refused(&f, sizeof(f), "unknown kind");
	f = good, f.kind = DHCP_FRAME_DROP;
	frame_refused(&f, sizeof(f), "reason empty or not terminated");
	memset(f.why, 'x', sizeof(f.why));
	frame_refused(&f, sizeof(f), "reason empty or not terminated");
	strcpy(f.why, "bad\nline");
	frame_refused(&f, sizeof(f), "reason not printable");
	/* A flag that is not a bool. */
	memcpy(bytes, &good, sizeof(good));
	bytes[offsetof(struct dhcp_frame, msg) + offsetof(struct dhcp_msg, has_relay)] = 60;
	frame_refused(bytes, sizeof(good), "a flag neither 0 nor 1");
	/* A message the parser could not have produced. */
	f = good, f.msg.n_prl = 200;
	frame_refused(&f, sizeof(f), "parameter request list too long");
	f = good, memset(f.msg.vendor_class, 'v', sizeof(f.msg.vendor_class));
	frame_refused(&f, sizeof(f), "vendor class not terminated or not filtered");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_discover_plain, heap_copy_teardown),
		cmocka_unit_test_teardown(test_msg_check, heap_copy_teardown),
		cmocka_unit_test_teardown(test_frame_check, heap_copy_teardown),
		cmocka_unit_test_teardown(test_pxe_discover, heap_copy_teardown),
		cmocka_unit_test_teardown(test_uefi, heap_copy_teardown),
		cmocka_unit_test_teardown(test_http_client, heap_copy_teardown),
		cmocka_unit_test_teardown(test_ipxe_user_class_raw, heap_copy_teardown),
		cmocka_unit_test_teardown(test_ipxe_user_class_rfc3004, heap_copy_teardown),
		cmocka_unit_test_teardown(test_ipxe_option_175, heap_copy_teardown),
		cmocka_unit_test_teardown(test_split_option, heap_copy_teardown),
		cmocka_unit_test_teardown(test_overload, heap_copy_teardown),
		cmocka_unit_test_teardown(test_request, heap_copy_teardown),
		cmocka_unit_test_teardown(test_client_id, heap_copy_teardown),
		cmocka_unit_test_teardown(test_relay_agent, heap_copy_teardown),
		cmocka_unit_test_teardown(test_hostname_filtered, heap_copy_teardown),
		cmocka_unit_test_teardown(test_max_size_and_prl, heap_copy_teardown),
		cmocka_unit_test_teardown(test_end_and_pad, heap_copy_teardown),
		cmocka_unit_test_teardown(test_bad_length, heap_copy_teardown),
		cmocka_unit_test_teardown(test_bad_header, heap_copy_teardown),
		cmocka_unit_test_teardown(test_bad_type, heap_copy_teardown),
		cmocka_unit_test_teardown(test_bad_option_framing, heap_copy_teardown),
		cmocka_unit_test_teardown(test_bad_overload, heap_copy_teardown),
		cmocka_unit_test_teardown(test_bad_option_lengths, heap_copy_teardown),
		cmocka_unit_test_teardown(test_dhcp_mac, heap_copy_teardown),
		cmocka_unit_test_teardown(test_build_full, heap_copy_teardown),
		cmocka_unit_test_teardown(test_build_minimal, heap_copy_teardown),
		cmocka_unit_test_teardown(test_build_uuid_echo, heap_copy_teardown),
		cmocka_unit_test_teardown(test_build_long_file, heap_copy_teardown),
		cmocka_unit_test_teardown(test_build_enobufs, heap_copy_teardown),
	};
	return cmocka_run_group_tests_name("dhcp_packet", tests, NULL, NULL);
}
