// SPDX-License-Identifier: Apache-2.0
/*
 * DHCPv4 parsing and reply building: see dhcp_packet.h. The parser first
 * lists every option instance of the three areas (options, then file and
 * sname when overloaded), then concatenates the instances of each option it
 * uses (RFC 3396) and checks their lengths.
 */
#include "dhcp_packet.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cursor.h"
#include "util.h"

struct opt_inst {
	uint8_t code, len;
	const uint8_t *data;
};

/* Every option instance fits in a packet: at most one per two bytes. */
#define MAX_INSTANCES (DHCP_PACKET_MAX / 2)

struct opt_list {
	struct opt_inst inst[MAX_INSTANCES];
	size_t n;
};

/*
 * Lists the options of one area. Overload (52) is honoured only in the
 * options field itself (from_options); found inside file or sname it would
 * point back at itself, so it is refused there.
 */
static int scan_area(const uint8_t *area, size_t len, bool from_options, struct opt_list *l, const char **why)
{
	struct cursor c;
	cursor_init(&c, area, len);

	while (c.left > 0) {
		uint8_t code, olen;
		const uint8_t *data;

		if (cursor_u8(&c, &code) < 0)
			goto too_short;
		if (code == DHCP_OPT_PAD)
			continue;
		if (code == DHCP_OPT_END)
			return 0;
		if (cursor_u8(&c, &olen) < 0) {
			*why = "option length missing at the end";
			return -EBADMSG;
		}
		if (cursor_bytes(&c, olen, &data) < 0) {
			*why = "option runs past the end of its area";
			return -EBADMSG;
		}
		if (code == DHCP_OPT_OVERLOAD && !from_options) {
			*why = "option overload inside an overloaded field";
			return -EBADMSG;
		}
		if (l->n == MAX_INSTANCES) {
			*why = "too many options";
			return -EBADMSG;
		}
		l->inst[l->n++] = (struct opt_inst){ .code = code, .len = olen, .data = data };
	}
	/* No END option: accepted, as most servers do. */
	return 0;
too_short:
	*why = "truncated option";
	return -EBADMSG;
}

/* Concatenates the instances of code into out[cap]; returns the length or -1 if absent. */
static int opt_get(const struct opt_list *l, uint8_t code, uint8_t *out, size_t cap, bool *too_long)
{
	size_t n = 0;
	bool found = false;

	*too_long = false;
	for (size_t i = 0; i < l->n; i++) {
		if (l->inst[i].code != code)
			continue;
		found = true;
		if (n + l->inst[i].len > cap) {
			*too_long = true;
			return -1;
		}
		memcpy(out + n, l->inst[i].data, l->inst[i].len);
		n += l->inst[i].len;
	}
	return found ? (int)n : -1;
}

/* The characters a string option keeps: host names [A-Za-z0-9.-], others printable ASCII but a backslash. */
static bool kept_char(unsigned char ch, bool hostname)
{
	return hostname ? (isalnum(ch) || ch == '-' || ch == '.') : (ch >= 0x20 && ch < 0x7f && ch != '\\');
}

/* Keeps the printable characters of a string option (untrusted, shown in logs and the API). */
static void printable(const uint8_t *in, size_t len, char *out, size_t size, bool hostname)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o + 1 < size; i++) {
		if (kept_char(in[i], hostname))
			out[o++] = (char)in[i];
	}
	out[o] = '\0';
}

static int fixed_len(const struct opt_list *l, uint8_t code, size_t want, void *out, bool *present,
		     const char **why, const char *bad)
{
	uint8_t buf[255];
	bool too_long;
	int n = opt_get(l, code, buf, sizeof(buf), &too_long);

	*present = false;
	if (n < 0 && !too_long)
		return 0;
	if (too_long || (size_t)n != want) {
		*why = bad;
		return -EBADMSG;
	}
	memcpy(out, buf, want);
	*present = true;
	return 0;
}

int dhcp_parse(const uint8_t *buf, size_t len, struct dhcp_msg *ret, const char **ret_why)
{
	/* 12 KiB of instances: per thread, not on the stack. */
	static __thread struct opt_list list;
	struct dhcp_msg m;
	struct cursor c;
	const uint8_t *sname, *file;
	uint32_t magic;
	uint8_t overload = 0, tmp[255];
	bool present, too_long;
	const char *why = "truncated fixed header";
	int n;

	memset(&m, 0, sizeof(m));
	list.n = 0;
	if (len > DHCP_PACKET_MAX) {
		why = "oversized packet";
		goto bad;
	}
	cursor_init(&c, buf, len);
	if (cursor_u8(&c, &m.op) < 0 || cursor_u8(&c, &m.htype) < 0 || cursor_u8(&c, &m.hlen) < 0 ||
	    cursor_u8(&c, &m.hops) < 0 || cursor_be32(&c, &m.xid) < 0 || cursor_be16(&c, &m.secs) < 0 ||
	    cursor_be16(&c, &m.flags) < 0 || cursor_copy(&c, &m.ciaddr, 4) < 0 ||
	    cursor_copy(&c, &m.yiaddr, 4) < 0 || cursor_copy(&c, &m.siaddr, 4) < 0 ||
	    cursor_copy(&c, &m.giaddr, 4) < 0 || cursor_copy(&c, m.chaddr, 16) < 0 ||
	    cursor_bytes(&c, DHCP_SNAME_LEN, &sname) < 0 || cursor_bytes(&c, DHCP_FILE_LEN, &file) < 0)
		goto bad;
	if (cursor_be32(&c, &magic) < 0) {
		why = "no magic cookie";
		goto bad;
	}
	if (magic != DHCP_MAGIC) {
		why = "wrong magic cookie";
		goto bad;
	}
	if (m.op != 1) {
		why = "not a BOOTREQUEST";
		goto bad;
	}
	if (m.hlen > 16) {
		why = "hardware address longer than 16 bytes";
		goto bad;
	}
	if (scan_area(c.p, c.left, true, &list, &why) < 0)
		goto bad;

	/* RFC 2131 section 4.1: file first, then sname. */
	if (fixed_len(&list, DHCP_OPT_OVERLOAD, 1, &overload, &present, &why, "option 52 must be 1 byte") < 0)
		goto bad;
	if (present && (overload < 1 || overload > 3)) {
		why = "option 52 value not 1, 2 or 3";
		goto bad;
	}
	if ((overload & 1) && scan_area(file, DHCP_FILE_LEN, false, &list, &why) < 0)
		goto bad;
	if ((overload & 2) && scan_area(sname, DHCP_SNAME_LEN, false, &list, &why) < 0)
		goto bad;

	if (fixed_len(&list, DHCP_OPT_MSG_TYPE, 1, &m.type, &present, &why, "option 53 must be 1 byte") < 0)
		goto bad;
	if (!present) {
		why = "no message type (BOOTP is not served)";
		goto bad;
	}
	if (m.type < DHCP_DISCOVER || m.type > DHCP_INFORM) {
		why = "unknown message type";
		goto bad;
	}
	if (fixed_len(&list, DHCP_OPT_REQUESTED_IP, 4, &m.requested_ip, &m.has_requested_ip, &why,
		      "option 50 must be 4 bytes") < 0 ||
	    fixed_len(&list, DHCP_OPT_SERVER_ID, 4, &m.server_id, &m.has_server_id, &why,
		      "option 54 must be 4 bytes") < 0)
		goto bad;
	if (fixed_len(&list, DHCP_OPT_LEASE_TIME, 4, tmp, &m.has_lease_time, &why, "option 51 must be 4 bytes") < 0)
		goto bad;
	if (m.has_lease_time)
		m.lease_time = (uint32_t)tmp[0] << 24 | (uint32_t)tmp[1] << 16 | (uint32_t)tmp[2] << 8 | tmp[3];
	if (fixed_len(&list, DHCP_OPT_MAX_SIZE, 2, tmp, &present, &why, "option 57 must be 2 bytes") < 0)
		goto bad;
	if (present)
		m.max_size = (uint16_t)(tmp[0] << 8 | tmp[1]);

	n = opt_get(&list, DHCP_OPT_HOSTNAME, tmp, sizeof(tmp), &too_long);
	if (n > 0)
		printable(tmp, (size_t)n, m.hostname, sizeof(m.hostname), true);
	n = opt_get(&list, DHCP_OPT_VENDOR_CLASS, tmp, sizeof(tmp), &too_long);
	if (n > 0)
		printable(tmp, (size_t)n, m.vendor_class, sizeof(m.vendor_class), false);

	/* iPXE sends "iPXE" as the whole option; RFC 3004 would prefix each class with its length. */
	n = opt_get(&list, DHCP_OPT_USER_CLASS, tmp, sizeof(tmp), &too_long);
	if (n == 4 && memcmp(tmp, "iPXE", 4) == 0)
		m.user_class_ipxe = true;
	else if (n > 0) {
		struct cursor uc;
		cursor_init(&uc, tmp, (size_t)n);
		while (uc.left > 0) {
			uint8_t ulen;
			const uint8_t *u;
			if (cursor_u8(&uc, &ulen) < 0 || ulen == 0 || cursor_bytes(&uc, ulen, &u) < 0)
				break; /* malformed user class: ignored, it only hints */
			if (ulen == 4 && memcmp(u, "iPXE", 4) == 0)
				m.user_class_ipxe = true;
		}
	}
	m.has_ipxe_options = opt_get(&list, DHCP_OPT_IPXE, tmp, sizeof(tmp), &too_long) >= 0 || too_long;

	n = opt_get(&list, DHCP_OPT_CLIENT_ARCH, tmp, sizeof(tmp), &too_long);
	if (too_long || (n >= 0 && (n == 0 || n % 2 != 0))) {
		why = "option 93 length is not a non-zero multiple of 2";
		goto bad;
	}
	for (int i = 0; i + 1 < n && m.n_arch < DHCP_ARCH_MAX; i += 2)
		m.arch[m.n_arch++] = (uint16_t)(tmp[i] << 8 | tmp[i + 1]);

	n = opt_get(&list, DHCP_OPT_UUID, tmp, sizeof(tmp), &too_long);
	if (n >= 0 || too_long) {
		if (n != 17 || tmp[0] != 0) {
			why = "option 97 must be type 0 and 16 bytes";
			goto bad;
		}
		memcpy(m.uuid, tmp, 17);
		m.has_uuid = true;
	}
	n = opt_get(&list, DHCP_OPT_PRL, tmp, sizeof(tmp), &too_long);
	if (n > 0) {
		m.n_prl = (size_t)n < DHCP_PRL_MAX ? (size_t)n : DHCP_PRL_MAX;
		memcpy(m.prl, tmp, m.n_prl);
	}
	n = opt_get(&list, DHCP_OPT_CLIENT_ID, tmp, sizeof(tmp), &too_long);
	if (n >= 0 || too_long) {
		if (n < 2 || (size_t)n > sizeof(m.client_id)) {
			why = "option 61 must be 2 to 64 bytes";
			goto bad;
		}
		memcpy(m.client_id, tmp, (size_t)n);
		m.client_id_len = (size_t)n;
	}
	n = opt_get(&list, DHCP_OPT_RELAY_AGENT, tmp, sizeof(tmp), &too_long);
	if (n > 0) {
		memcpy(m.relay, tmp, (size_t)n);
		m.relay_len = (size_t)n;
		m.has_relay = true;
	}
	*ret = m;
	return 0;
bad:
	if (ret_why)
		*ret_why = why;
	return -EBADMSG;
}

/* A string printable() could have written into size bytes. */
static bool printable_ok(const char *s, size_t size, bool hostname)
{
	size_t n = strnlen(s, size);
	if (n == size)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!kept_char((unsigned char)s[i], hostname))
			return false;
	return true;
}

int dhcp_msg_check(const struct dhcp_msg *m, const char **ret_why)
{
	const char *why = NULL;

	if (m->op != 1)
		why = "op is not BOOTREQUEST";
	else if (m->hlen > sizeof(m->chaddr))
		why = "hardware address longer than chaddr";
	else if (m->type < DHCP_DISCOVER || m->type > DHCP_INFORM)
		why = "message type out of range";
	else if (!printable_ok(m->hostname, sizeof(m->hostname), true))
		why = "host name not terminated or not filtered";
	else if (!printable_ok(m->vendor_class, sizeof(m->vendor_class), false))
		why = "vendor class not terminated or not filtered";
	else if (m->n_arch > DHCP_ARCH_MAX)
		why = "too many architectures";
	else if (m->n_prl > DHCP_PRL_MAX)
		why = "parameter request list too long";
	else if (m->client_id_len != 0 && (m->client_id_len < 2 || m->client_id_len > sizeof(m->client_id)))
		why = "client identifier length out of range";
	else if (m->relay_len > sizeof(m->relay) || m->has_relay != (m->relay_len > 0))
		why = "relay agent option length out of range";
	else if (m->has_uuid && m->uuid[0] != 0)
		why = "UUID type is not 0";
	if (!why)
		return 0;
	if (ret_why)
		*ret_why = why;
	return -EBADMSG;
}

bool dhcp_is_ipxe(const struct dhcp_msg *m) { return m->user_class_ipxe || m->has_ipxe_options; }

bool dhcp_is_http_client(const struct dhcp_msg *m)
{
	return strncmp(m->vendor_class, "HTTPClient", 10) == 0;
}

bool dhcp_is_pxe(const struct dhcp_msg *m)
{
	return dhcp_is_ipxe(m) || strncmp(m->vendor_class, "PXEClient", 9) == 0 || dhcp_is_http_client(m);
}

int dhcp_arch(const struct dhcp_msg *m) { return m->n_arch ? m->arch[0] : -1; }

int dhcp_mac(const struct dhcp_msg *m, char out[18])
{
	if (m->htype != 1 || m->hlen != 6)
		return -EINVAL;
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m->chaddr[0], m->chaddr[1], m->chaddr[2],
		 m->chaddr[3], m->chaddr[4], m->chaddr[5]);
	return 0;
}

/* Writes an option, split in 255-byte instances when longer (RFC 3396). */
static void put_opt(struct wbuf *w, uint8_t code, const void *data, size_t len)
{
	const uint8_t *p = data;
	do {
		size_t n = len > 255 ? 255 : len;
		wbuf_u8(w, code);
		wbuf_u8(w, (uint8_t)n);
		wbuf_bytes(w, p, n);
		p += n;
		len -= n;
	} while (len > 0);
}

static void put_u32(struct wbuf *w, uint8_t code, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	put_opt(w, code, b, 4);
}

int dhcp_build_reply(const struct dhcp_msg *req, const struct dhcp_reply *r, uint8_t *buf, size_t cap,
		     size_t *ret_len)
{
	struct wbuf w;
	uint8_t zero[DHCP_FILE_LEN] = { 0 };
	char field[DHCP_FILE_LEN];

	wbuf_init(&w, buf, cap);
	wbuf_u8(&w, 2); /* BOOTREPLY */
	wbuf_u8(&w, req->htype);
	wbuf_u8(&w, req->hlen);
	wbuf_u8(&w, 0);
	wbuf_be32(&w, req->xid);
	wbuf_be16(&w, 0);
	wbuf_be16(&w, req->flags);
	wbuf_bytes(&w, &req->ciaddr, 4);
	wbuf_bytes(&w, &r->yiaddr, 4);
	wbuf_bytes(&w, &r->siaddr, 4);
	wbuf_bytes(&w, &req->giaddr, 4);
	wbuf_bytes(&w, req->chaddr, 16);
	wbuf_bytes(&w, zero, DHCP_SNAME_LEN);
	memset(field, 0, sizeof(field));
	if (r->file) /* a longer name still goes whole in option 67 */
		memcpy(field, r->file, strnlen(r->file, sizeof(field) - 1));
	wbuf_bytes(&w, field, DHCP_FILE_LEN);
	wbuf_be32(&w, DHCP_MAGIC);

	put_opt(&w, DHCP_OPT_MSG_TYPE, &r->type, 1);
	put_opt(&w, DHCP_OPT_SERVER_ID, &r->server_id, 4);
	if (r->lease_time) {
		put_u32(&w, DHCP_OPT_LEASE_TIME, r->lease_time);
		put_u32(&w, DHCP_OPT_T1, r->lease_time / 2);
		put_u32(&w, DHCP_OPT_T2, r->lease_time / 8 * 7);
	}
	if (r->netmask.s_addr)
		put_opt(&w, DHCP_OPT_SUBNET_MASK, &r->netmask, 4);
	if (r->router.s_addr)
		put_opt(&w, DHCP_OPT_ROUTER, &r->router, 4);
	if (r->n_dns)
		put_opt(&w, DHCP_OPT_DNS, r->dns, 4 * r->n_dns);
	if (r->vendor_class)
		put_opt(&w, DHCP_OPT_VENDOR_CLASS, r->vendor_class, strlen(r->vendor_class));
	if (r->pxe_vendor_opts) {
		/* PXE 2.1 option 43: discovery control (6) = 8, use the boot file; end. */
		static const uint8_t pxe[] = { 6, 1, 8, 255 };
		put_opt(&w, DHCP_OPT_VENDOR_OPTS, pxe, sizeof(pxe));
	}
	if (r->tftp_server)
		put_opt(&w, DHCP_OPT_TFTP_SERVER, r->tftp_server, strlen(r->tftp_server));
	if (r->file)
		put_opt(&w, DHCP_OPT_BOOTFILE, r->file, strlen(r->file));
	if (req->has_uuid && dhcp_is_pxe(req))
		put_opt(&w, DHCP_OPT_UUID, req->uuid, 17);
	if (r->message)
		put_opt(&w, DHCP_OPT_MESSAGE, r->message, strlen(r->message));
	if (req->has_relay)
		put_opt(&w, DHCP_OPT_RELAY_AGENT, req->relay, req->relay_len);
	wbuf_u8(&w, DHCP_OPT_END);
	while (w.len < DHCP_REPLY_MIN && !w.overflow)
		wbuf_u8(&w, 0);
	if (w.overflow)
		return -ENOBUFS;
	*ret_len = w.len;
	return 0;
}
