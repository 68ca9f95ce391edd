/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DHCPv4 messages (RFC 2131, options RFC 2132): a pure parser into struct
 * dhcp_msg and a builder for replies. PXE (RFC 4578: options 93, 94, 97;
 * vendor class "PXEClient"/"HTTPClient") and iPXE (user class "iPXE",
 * encapsulated option 175) are recognised. No I/O, no logging: a refusal
 * returns -EBADMSG with a static string naming the exact check.
 */
#ifndef BW_DHCP_PACKET_H
#define BW_DHCP_PACKET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DHCP_FIXED_LEN 236      /* op .. file, RFC 2131 section 2 */
#define DHCP_MIN_LEN 240        /* fixed part and the magic cookie */
#define DHCP_PACKET_MAX 1500    /* larger datagrams are refused as oversized */
#define DHCP_REPLY_MIN 300      /* BOOTP clients expect at least this (RFC 1542) */
#define DHCP_MAGIC 0x63825363u
#define DHCP_SNAME_LEN 64
#define DHCP_FILE_LEN 128
#define DHCP_HOSTNAME_MAX 63
#define DHCP_CLASS_MAX 128
#define DHCP_ARCH_MAX 8
#define DHCP_PRL_MAX 64

enum dhcp_type {
	DHCP_DISCOVER = 1,
	DHCP_OFFER = 2,
	DHCP_REQUEST = 3,
	DHCP_DECLINE = 4,
	DHCP_ACK = 5,
	DHCP_NAK = 6,
	DHCP_RELEASE = 7,
	DHCP_INFORM = 8,
};

enum dhcp_option {
	DHCP_OPT_PAD = 0,
	DHCP_OPT_SUBNET_MASK = 1,
	DHCP_OPT_ROUTER = 3,
	DHCP_OPT_DNS = 6,
	DHCP_OPT_HOSTNAME = 12,
	DHCP_OPT_VENDOR_OPTS = 43,
	DHCP_OPT_REQUESTED_IP = 50,
	DHCP_OPT_LEASE_TIME = 51,
	DHCP_OPT_OVERLOAD = 52,
	DHCP_OPT_MSG_TYPE = 53,
	DHCP_OPT_SERVER_ID = 54,
	DHCP_OPT_PRL = 55,
	DHCP_OPT_MESSAGE = 56,
	DHCP_OPT_MAX_SIZE = 57,
	DHCP_OPT_T1 = 58,
	DHCP_OPT_T2 = 59,
	DHCP_OPT_VENDOR_CLASS = 60,
	DHCP_OPT_CLIENT_ID = 61,
	DHCP_OPT_TFTP_SERVER = 66,
	DHCP_OPT_BOOTFILE = 67,
	DHCP_OPT_USER_CLASS = 77,
	DHCP_OPT_RELAY_AGENT = 82,
	DHCP_OPT_CLIENT_ARCH = 93,
	DHCP_OPT_CLIENT_NDI = 94,
	DHCP_OPT_UUID = 97,
	DHCP_OPT_IPXE = 175,
	DHCP_OPT_END = 255,
};

/* Client system architectures (RFC 4578 section 2.1, IANA registry). */
enum dhcp_arch {
	DHCP_ARCH_BIOS = 0,
	DHCP_ARCH_EFI_IA32 = 6,
	DHCP_ARCH_EFI_BC = 7,
	DHCP_ARCH_EFI_X64 = 9,
	DHCP_ARCH_EFI_X64_HTTP = 16,
};

struct dhcp_msg {
	uint8_t op, htype, hlen, hops;
	uint32_t xid;
	uint16_t secs, flags;
	struct in_addr ciaddr, yiaddr, siaddr, giaddr;
	uint8_t chaddr[16];

	uint8_t type;                 /* option 53 */
	bool has_requested_ip, has_server_id, has_lease_time, has_uuid, has_relay;
	struct in_addr requested_ip;  /* 50 */
	struct in_addr server_id;     /* 54 */
	uint32_t lease_time;          /* 51 */
	uint16_t max_size;            /* 57, 0 if absent */
	char hostname[DHCP_HOSTNAME_MAX + 1];      /* 12, only [A-Za-z0-9.-] kept */
	char vendor_class[DHCP_CLASS_MAX + 1];     /* 60, printable only */
	bool user_class_ipxe;         /* 77 says "iPXE" */
	bool has_ipxe_options;        /* 175 present */
	uint16_t arch[DHCP_ARCH_MAX]; /* 93 */
	size_t n_arch;
	uint8_t uuid[17];             /* 97: type byte and 16 bytes */
	uint8_t prl[DHCP_PRL_MAX];    /* 55 */
	size_t n_prl;
	uint8_t client_id[64];        /* 61 */
	size_t client_id_len;
	uint8_t relay[255];           /* 82, echoed back (RFC 3046) */
	size_t relay_len;
};

/*
 * Parses a DHCP message of len bytes. Options may come from the options
 * field, then from file and sname when option 52 says so (RFC 2131 section
 * 4.1); an option given several times is concatenated (RFC 3396). Returns 0,
 * or -EBADMSG with *ret_why naming the check that failed.
 */
int dhcp_parse(const uint8_t *buf, size_t len, struct dhcp_msg *ret, const char **ret_why);

/*
 * Checks that m holds what dhcp_parse promises of a message it accepts
 * (a request, terminated and filtered strings, counts within their arrays):
 * for a struct that crossed a process boundary (boot/dhcp_listen.h).
 * 0, or -EBADMSG with *ret_why naming the broken promise.
 */
int dhcp_msg_check(const struct dhcp_msg *m, const char **ret_why);

/* True if this is a PXE or iPXE client (vendor class PXEClient/HTTPClient, or iPXE). */
bool dhcp_is_pxe(const struct dhcp_msg *m);
/* True if the client is iPXE (user class "iPXE" or option 175). */
bool dhcp_is_ipxe(const struct dhcp_msg *m);
/* True if the vendor class says UEFI HTTP boot ("HTTPClient..."). */
bool dhcp_is_http_client(const struct dhcp_msg *m);
/* The first architecture the client listed, or -1 if it gave none. */
int dhcp_arch(const struct dhcp_msg *m);
/* chaddr as aa:bb:cc:dd:ee:ff into out[18]; -EINVAL unless Ethernet (htype 1, hlen 6). */
int dhcp_mac(const struct dhcp_msg *m, char out[18]);

/* What a reply carries besides what it copies from the request. */
struct dhcp_reply {
	uint8_t type;
	struct in_addr yiaddr, siaddr, server_id, netmask, router;
	struct in_addr dns[2];
	size_t n_dns;
	uint32_t lease_time; /* 0: no lease options (proxy, INFORM, NAK) */
	const char *file;    /* boot file into the file field and option 67, or NULL */
	const char *tftp_server; /* option 66, or NULL */
	const char *vendor_class; /* option 60 echo ("PXEClient", "HTTPClient"), or NULL */
	bool pxe_vendor_opts; /* option 43: PXE discovery control = use the boot file (8) */
	const char *message;  /* option 56 (with NAK), or NULL */
};

/*
 * Writes the reply to req into buf[cap] and sets *ret_len. Copies xid,
 * flags, giaddr, ciaddr, hardware address, the client's UUID (PXE) and the
 * relay agent option. -ENOBUFS if cap is too small.
 */
int dhcp_build_reply(const struct dhcp_msg *req, const struct dhcp_reply *r, uint8_t *buf, size_t cap,
		     size_t *ret_len);

#endif
