// SPDX-License-Identifier: Apache-2.0
/*
 * TFTP wire format: see tftp_packet.h for the contract and the choices made
 * where the RFCs leave room. Everything here is pure: it reads the caller's
 * bytes through the bounded cursor and writes into the caller's buffer.
 */
#include "tftp_packet.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cursor.h"

/* A known option: its limits and one reason string per check. */
struct optdef {
	const char *name;
	unsigned bit;
	uint64_t min, max;
	const char *why_dup, *why_nan, *why_range;
};

static const struct optdef optdefs[] = {
	/* RFC 2348 */
	{ "blksize", TFTP_OPT_BLKSIZE, TFTP_BLKSIZE_MIN, TFTP_BLKSIZE_MAX, "option blksize given twice",
	  "option blksize is not a decimal number", "option blksize out of range 8..65464" },
	/* RFC 2349 */
	{ "timeout", TFTP_OPT_TIMEOUT, TFTP_TIMEOUT_MIN, TFTP_TIMEOUT_MAX, "option timeout given twice",
	  "option timeout is not a decimal number", "option timeout out of range 1..255" },
	{ "tsize", TFTP_OPT_TSIZE, 0, UINT64_MAX, "option tsize given twice",
	  "option tsize is not a decimal number", "option tsize does not fit 64 bits" },
	/* RFC 7440 */
	{ "windowsize", TFTP_OPT_WINDOWSIZE, TFTP_WINDOWSIZE_MIN, TFTP_WINDOWSIZE_MAX,
	  "option windowsize given twice", "option windowsize is not a decimal number",
	  "option windowsize out of range 1..65535" },
};

static void set_why(const char **ret_why, const char *why)
{
	if (ret_why)
		*ret_why = why;
}

/*
 * A NUL-terminated string at the cursor: -ENODATA if nothing is left,
 * -EBADMSG if the NUL is missing. Checking left first also keeps memchr
 * away from an empty buffer (which may be NULL).
 */
static int take_cstring(struct cursor *c, const char **ret, size_t *ret_len)
{
	if (c->left == 0)
		return -ENODATA;
	return cursor_cstring(c, SIZE_MAX, ret, ret_len);
}

/* Decimal digits only (no sign, no spaces): -EINVAL if not a number, -ERANGE past 64 bits. */
static int parse_u64(const char *s, size_t len, uint64_t *ret)
{
	uint64_t v = 0;
	bool overflow = false;

	if (len == 0)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned d;
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			overflow = true;
		else
			v = v * 10 + d;
	}
	if (overflow)
		return -ERANGE;
	*ret = v;
	return 0;
}

int tftp_parse_opcode(const uint8_t *buf, size_t len, uint16_t *ret_op, const char **ret_why)
{
	struct cursor c;
	uint16_t op;

	cursor_init(&c, buf, len);
	if (cursor_be16(&c, &op) < 0) {
		set_why(ret_why, "packet shorter than an opcode");
		return -EBADMSG;
	}
	*ret_op = op;
	return 0;
}

static void ignore_option(struct tftp_request *rq, const char *why)
{
	rq->n_ignored++;
	if (why && !rq->ignored_why)
		rq->ignored_why = why;
}

/* The options after the mode (RFC 2347): name and value pairs to the end. */
static int parse_options(struct cursor *c, struct tftp_request *rq, const char **ret_why)
{
	unsigned seen = 0;

	while (c->left > 0) {
		const char *name, *value;
		size_t name_len, value_len;
		const struct optdef *d = NULL;
		uint64_t v;
		int r;

		if (take_cstring(c, &name, &name_len) < 0) {
			ignore_option(rq, "option name not NUL-terminated");
			return 0;
		}
		if (name_len == 0) {
			/* Padding (or garbage) after the last option: the rest is ignored. */
			ignore_option(rq, "empty option name");
			return 0;
		}
		r = take_cstring(c, &value, &value_len);
		if (r < 0) {
			ignore_option(rq, r == -ENODATA ? "option without a value" : "option value not NUL-terminated");
			return 0;
		}
		for (size_t i = 0; i < sizeof(optdefs) / sizeof(optdefs[0]); i++)
			if (strcasecmp(name, optdefs[i].name) == 0)
				d = &optdefs[i];
		if (!d) {
			ignore_option(rq, NULL); /* unknown: RFC 2347 */
			continue;
		}
		if (seen & d->bit) {
			set_why(ret_why, d->why_dup);
			return -ENOTUNIQ;
		}
		seen |= d->bit;
		r = parse_u64(value, value_len, &v);
		if (r == -EINVAL) {
			ignore_option(rq, d->why_nan);
			continue;
		}
		if (r < 0 || v < d->min || v > d->max) {
			ignore_option(rq, d->why_range);
			continue;
		}
		rq->opts.mask |= d->bit;
		switch (d->bit) {
		case TFTP_OPT_BLKSIZE:
			rq->opts.blksize = (uint16_t)v;
			break;
		case TFTP_OPT_TIMEOUT:
			rq->opts.timeout = (uint16_t)v;
			break;
		case TFTP_OPT_TSIZE:
			rq->opts.tsize = v;
			break;
		case TFTP_OPT_WINDOWSIZE:
			rq->opts.windowsize = (uint16_t)v;
			break;
		}
	}
	return 0;
}

int tftp_parse_request(const uint8_t *buf, size_t len, struct tftp_request *ret, const char **ret_why)
{
	struct tftp_request rq = { 0 };
	struct cursor c;
	const char *mode, *why;
	size_t mode_len;
	int r;

	/* RFC 2347: a request with its options fits 512 bytes. */
	if (len > TFTP_REQUEST_MAX) {
		set_why(ret_why, "request longer than 512 bytes");
		return -EMSGSIZE;
	}
	cursor_init(&c, buf, len);
	if (cursor_be16(&c, &rq.opcode) < 0) {
		why = "request shorter than an opcode";
		goto bad;
	}
	if (rq.opcode != TFTP_RRQ && rq.opcode != TFTP_WRQ) {
		why = "not a read or write request";
		goto bad;
	}
	r = take_cstring(&c, &rq.filename, &rq.filename_len);
	if (r == -ENODATA) {
		why = "filename missing";
		goto bad;
	}
	if (r < 0) {
		why = "filename not NUL-terminated";
		goto bad;
	}
	if (rq.filename_len == 0) {
		why = "empty filename";
		goto bad;
	}
	if (rq.filename_len > TFTP_FILENAME_MAX) {
		set_why(ret_why, "filename longer than 255 bytes");
		return -ENAMETOOLONG;
	}
	r = take_cstring(&c, &mode, &mode_len);
	if (r == -ENODATA) {
		why = "mode missing";
		goto bad;
	}
	if (r < 0) {
		why = "mode not NUL-terminated";
		goto bad;
	}
	/* RFC 1350: modes compare case-insensitively; "mail" is obsolete. */
	if (strcasecmp(mode, "octet") == 0) {
		rq.mode = TFTP_MODE_OCTET;
	} else if (strcasecmp(mode, "netascii") == 0) {
		rq.mode = TFTP_MODE_NETASCII;
	} else {
		set_why(ret_why, mode_len == 0 ? "empty mode" : "unsupported mode (octet or netascii only)");
		return -EPROTONOSUPPORT;
	}
	r = parse_options(&c, &rq, ret_why);
	if (r < 0)
		return r;
	*ret = rq;
	return 0;

bad:
	set_why(ret_why, why);
	return -EBADMSG;
}

int tftp_parse_ack(const uint8_t *buf, size_t len, uint16_t *ret_block, const char **ret_why)
{
	struct cursor c;
	uint16_t op, block;

	cursor_init(&c, buf, len);
	if (cursor_be16(&c, &op) < 0) {
		set_why(ret_why, "ACK shorter than an opcode");
		return -EBADMSG;
	}
	if (op != TFTP_ACK) {
		set_why(ret_why, "not an ACK");
		return -EBADMSG;
	}
	if (cursor_be16(&c, &block) < 0) {
		set_why(ret_why, "ACK without a block number");
		return -EBADMSG;
	}
	/* Trailing bytes are ignored: some stacks pad short frames. */
	*ret_block = block;
	return 0;
}

int tftp_parse_error(const uint8_t *buf, size_t len, struct tftp_error *ret, const char **ret_why)
{
	struct cursor c;
	struct tftp_error e;
	const uint8_t *nul;
	uint16_t op;

	cursor_init(&c, buf, len);
	if (cursor_be16(&c, &op) < 0) {
		set_why(ret_why, "ERROR shorter than an opcode");
		return -EBADMSG;
	}
	if (op != TFTP_ERROR) {
		set_why(ret_why, "not an ERROR");
		return -EBADMSG;
	}
	if (cursor_be16(&c, &e.code) < 0) {
		set_why(ret_why, "ERROR without an error code");
		return -EBADMSG;
	}
	/* The message ends at its NUL, or at the end of the packet. */
	e.msg = (const char *)c.p;
	e.msg_len = c.left;
	if (c.left > 0 && (nul = memchr(c.p, 0, c.left)))
		e.msg_len = (size_t)(nul - c.p);
	*ret = e;
	return 0;
}

int tftp_check_filename(const char *name, size_t len, const char **ret_why)
{
	if (len == 0) {
		set_why(ret_why, "empty filename");
		return -EACCES;
	}
	if (name[0] == '/') {
		set_why(ret_why, "absolute path");
		return -EACCES;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];
		if (ch < 0x20 || ch == 0x7f) {
			set_why(ret_why, "control character in filename");
			return -EACCES;
		}
		if (ch == '\\') {
			set_why(ret_why, "backslash in filename");
			return -EACCES;
		}
		/* Any "..", not only a whole component: no boot file needs one. */
		if (ch == '.' && i + 1 < len && name[i + 1] == '.') {
			set_why(ret_why, "'..' in filename");
			return -EACCES;
		}
	}
	return 0;
}

uint16_t tftp_errno_to_code(int r)
{
	switch (r) {
	case -ENOENT:
	case -ENOTDIR:
		return TFTP_ENOTFOUND;
	case -EACCES:
	case -EPERM:
	case -ELOOP:   /* a symlink on the way (RESOLVE_NO_SYMLINKS) */
	case -EXDEV:   /* the path would leave the root (RESOLVE_BENEATH) */
	case -EISDIR:
	case -ENXIO:
		return TFTP_EACCESS;
	case -EBADMSG:
	case -EMSGSIZE:
	case -ENAMETOOLONG:
	case -EPROTONOSUPPORT:
		return TFTP_EBADOP;
	case -ENOTUNIQ:
		return TFTP_EOPTNEG;
	default:
		return TFTP_EUNDEF;
	}
}

int tftp_build_data(uint8_t *buf, size_t cap, uint16_t block, const void *payload, size_t n,
		    size_t *ret_len)
{
	struct wbuf w;

	if (n > TFTP_BLKSIZE_MAX || cap < TFTP_HEADER || cap - TFTP_HEADER < n)
		return -ENOBUFS;
	wbuf_init(&w, buf, cap);
	wbuf_be16(&w, TFTP_DATA);
	wbuf_be16(&w, block);
	/* In place: the payload is already where it belongs. */
	if (payload != buf + TFTP_HEADER && n > 0)
		memmove(buf + TFTP_HEADER, payload, n);
	*ret_len = TFTP_HEADER + n;
	return 0;
}

static void wbuf_number(struct wbuf *w, uint64_t v)
{
	char s[24];
	snprintf(s, sizeof(s), "%llu", (unsigned long long)v);
	wbuf_cstring(w, s);
}

int tftp_build_oack(uint8_t *buf, size_t cap, const struct tftp_options *opts, size_t *ret_len)
{
	struct wbuf w;

	if (!(opts->mask & (TFTP_OPT_BLKSIZE | TFTP_OPT_TIMEOUT | TFTP_OPT_TSIZE | TFTP_OPT_WINDOWSIZE)))
		return -EINVAL;
	wbuf_init(&w, buf, cap);
	wbuf_be16(&w, TFTP_OACK);
	if (opts->mask & TFTP_OPT_BLKSIZE) {
		wbuf_cstring(&w, "blksize");
		wbuf_number(&w, opts->blksize);
	}
	if (opts->mask & TFTP_OPT_TIMEOUT) {
		wbuf_cstring(&w, "timeout");
		wbuf_number(&w, opts->timeout);
	}
	if (opts->mask & TFTP_OPT_TSIZE) {
		wbuf_cstring(&w, "tsize");
		wbuf_number(&w, opts->tsize);
	}
	if (opts->mask & TFTP_OPT_WINDOWSIZE) {
		wbuf_cstring(&w, "windowsize");
		wbuf_number(&w, opts->windowsize);
	}
	if (w.overflow)
		return -ENOBUFS;
	*ret_len = w.len;
	return 0;
}

int tftp_build_error(uint8_t *buf, size_t cap, uint16_t code, const char *msg, size_t *ret_len)
{
	struct wbuf w;
	size_t n = msg ? strnlen(msg, TFTP_ERRMSG_MAX) : 0;

	wbuf_init(&w, buf, cap);
	wbuf_be16(&w, TFTP_ERROR);
	wbuf_be16(&w, code);
	if (n > 0)
		wbuf_bytes(&w, msg, n);
	wbuf_u8(&w, 0);
	if (w.overflow)
		return -ENOBUFS;
	*ret_len = w.len;
	return 0;
}

int tftp_build_ack(uint8_t *buf, size_t cap, uint16_t block, size_t *ret_len)
{
	struct wbuf w;

	wbuf_init(&w, buf, cap);
	wbuf_be16(&w, TFTP_ACK);
	wbuf_be16(&w, block);
	if (w.overflow)
		return -ENOBUFS;
	*ret_len = w.len;
	return 0;
}

size_t tftp_netascii_encode(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap, int *pending,
			    size_t *ret_used)
{
	size_t i = 0, o = 0;

	if (*pending >= 0 && o < out_cap) {
		out[o++] = (uint8_t)*pending;
		*pending = -1;
	}
	while (i < in_len && o < out_cap) {
		uint8_t ch = in[i++];
		if (ch != '\n' && ch != '\r') {
			out[o++] = ch;
			continue;
		}
		/* LF -> CR LF, CR -> CR NUL (RFC 764) */
		out[o++] = '\r';
		if (o < out_cap) {
			out[o++] = ch == '\n' ? '\n' : '\0';
		} else {
			*pending = ch == '\n' ? '\n' : '\0';
			break;
		}
	}
	*ret_used = i;
	return o;
}
