/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TFTP wire format: pure parsers and builders for the read-only server in
 * tftp.c, with no I/O and no logging. RFC 1350 (the protocol), RFC 2347
 * (option extension), RFC 2348 (blksize), RFC 2349 (timeout, tsize) and
 * RFC 7440 (windowsize). Every parser reads (buf, len) through the bounded
 * cursor and, on failure, names the exact check that failed in *ret_why (a
 * static string, safe to log and to send back in an ERROR packet).
 *
 * Choices where the RFCs leave room, for a request (RRQ/WRQ):
 *   - longer than TFTP_REQUEST_MAX (512, RFC 2347 section "Packet Formats"):
 *     refused (-EMSGSIZE).
 *   - filename empty, longer than TFTP_FILENAME_MAX, or not NUL-terminated;
 *     mode missing or not NUL-terminated: refused (-EBADMSG/-ENAMETOOLONG).
 *   - mode other than "octet" or "netascii" (any case), including the
 *     obsolete "mail": refused (-EPROTONOSUPPORT).
 *   - an option named twice (names compare case-insensitively, RFC 2347):
 *     refused (-ENOTUNIQ, answered with ERROR 8): there is no telling which
 *     value the client meant.
 *   - unknown options: ignored silently (RFC 2347).
 *   - a known option whose value is empty, not a decimal number, or out of
 *     its RFC range (blksize 8..65464, timeout 1..255, windowsize 1..65535):
 *     ignored, the transfer runs with the default (RFC 2347 lets a server
 *     ignore an option it does not accept); the first such reason is kept in
 *     tftp_request.ignored_why so the server can log it.
 *   - a cut tail after the mode (an option name without its NUL, a name
 *     without a value, a value without its NUL): ignored the same way; some
 *     PXE ROMs pad their requests.
 * Packets received during a transfer: ACK may carry trailing bytes (ignored);
 * an ERROR message need not be NUL-terminated (it is cut at len).
 */
#ifndef BW_TFTP_PACKET_H
#define BW_TFTP_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Opcodes, RFC 1350 section 5 and RFC 2347. */
enum {
	TFTP_RRQ = 1,
	TFTP_WRQ = 2,
	TFTP_DATA = 3,
	TFTP_ACK = 4,
	TFTP_ERROR = 5,
	TFTP_OACK = 6,
};

/* Error codes, RFC 1350 appendix and RFC 2347 (8). */
enum {
	TFTP_EUNDEF = 0,    /* not defined, see message */
	TFTP_ENOTFOUND = 1, /* file not found */
	TFTP_EACCESS = 2,   /* access violation */
	TFTP_ENOSPACE = 3,  /* disk full or allocation exceeded */
	TFTP_EBADOP = 4,    /* illegal TFTP operation */
	TFTP_EBADID = 5,    /* unknown transfer ID */
	TFTP_EEXISTS = 6,   /* file already exists */
	TFTP_ENOUSER = 7,   /* no such user */
	TFTP_EOPTNEG = 8,   /* option negotiation refused */
};

#define TFTP_PORT 69
#define TFTP_HEADER 4            /* opcode + block number (DATA, ACK) */
#define TFTP_REQUEST_MAX 512     /* a whole RRQ/WRQ with its options, RFC 2347 */
#define TFTP_FILENAME_MAX 255    /* bytes, without the NUL */
#define TFTP_ERRMSG_MAX 255      /* bytes of an ERROR message we build, without the NUL */
#define TFTP_BLKSIZE_DEFAULT 512 /* RFC 1350 */
#define TFTP_BLKSIZE_MIN 8       /* RFC 2348 */
#define TFTP_BLKSIZE_MAX 65464   /* RFC 2348 */
#define TFTP_TIMEOUT_MIN 1       /* seconds, RFC 2349 */
#define TFTP_TIMEOUT_MAX 255
#define TFTP_WINDOWSIZE_MIN 1    /* RFC 7440 */
#define TFTP_WINDOWSIZE_MAX 65535
/* The largest packet we ever build: DATA of TFTP_BLKSIZE_MAX bytes. */
#define TFTP_PACKET_MAX (TFTP_HEADER + TFTP_BLKSIZE_MAX)

enum tftp_mode {
	TFTP_MODE_OCTET,
	TFTP_MODE_NETASCII,
};

/* Bits of tftp_options.mask: which options are present with a valid value. */
enum {
	TFTP_OPT_BLKSIZE = 1u << 0,
	TFTP_OPT_TIMEOUT = 1u << 1,
	TFTP_OPT_TSIZE = 1u << 2,
	TFTP_OPT_WINDOWSIZE = 1u << 3,
};

struct tftp_options {
	unsigned mask;       /* TFTP_OPT_* */
	uint16_t blksize;    /* TFTP_BLKSIZE_MIN..MAX */
	uint16_t timeout;    /* seconds, TFTP_TIMEOUT_MIN..MAX */
	uint16_t windowsize; /* TFTP_WINDOWSIZE_MIN..MAX */
	uint64_t tsize;      /* as sent (a client sends 0 in an RRQ) */
};

struct tftp_request {
	uint16_t opcode;      /* TFTP_RRQ or TFTP_WRQ */
	const char *filename; /* inside the caller's buf, NUL-terminated */
	size_t filename_len;  /* 1..TFTP_FILENAME_MAX */
	enum tftp_mode mode;
	struct tftp_options opts;
	unsigned n_ignored;      /* options skipped: unknown, bad value or cut tail */
	const char *ignored_why; /* why the first known option was ignored, or NULL */
};

struct tftp_error {
	uint16_t code;
	const char *msg; /* inside the caller's buf; NOT NUL-terminated, use msg_len */
	size_t msg_len;
};

/*
 * The opcode of any packet. -EBADMSG if shorter than 2 bytes. Writes
 * *ret_op only on success; *ret_why (may be NULL) only on failure.
 */
int tftp_parse_opcode(const uint8_t *buf, size_t len, uint16_t *ret_op, const char **ret_why);

/*
 * An RRQ or WRQ (RFC 1350, options RFC 2347), choices above. *ret points
 * into buf, which must outlive it. Returns 0, or -EMSGSIZE, -EBADMSG,
 * -ENAMETOOLONG, -EPROTONOSUPPORT (mode), -ENOTUNIQ (duplicate option).
 * *ret is written only on success, *ret_why (may be NULL) only on failure.
 */
int tftp_parse_request(const uint8_t *buf, size_t len, struct tftp_request *ret, const char **ret_why);

/* An ACK: its block number. -EBADMSG if truncated or not an ACK. */
int tftp_parse_ack(const uint8_t *buf, size_t len, uint16_t *ret_block, const char **ret_why);

/* An ERROR: code and message (pointing into buf). -EBADMSG if truncated or not an ERROR. */
int tftp_parse_error(const uint8_t *buf, size_t len, struct tftp_error *ret, const char **ret_why);

/*
 * Whether a requested filename may be looked up under the root at all
 * (the server's open also confines it with openat2 RESOLVE_BENEATH).
 * Refused (-EACCES): an absolute path (leading '/': we do not strip it,
 * every boot file name is relative to the TFTP root), any "..", a
 * backslash, a control character (below 0x20, or 0x7f). name is len bytes,
 * no NUL needed. *ret_why (may be NULL) is written on failure.
 */
int tftp_check_filename(const char *name, size_t len, const char **ret_why);

/* The TFTP error code that answers a negative errno of the functions above or of open. */
uint16_t tftp_errno_to_code(int r);

/*
 * Builders write into buf[cap] and set *ret_len; -ENOBUFS (nothing
 * promised about buf) when the packet does not fit.
 */

/*
 * DATA: block number and n bytes of payload. payload may point at
 * buf + TFTP_HEADER (the server reads file data in place); otherwise it is
 * copied. n must be at most TFTP_BLKSIZE_MAX.
 */
int tftp_build_data(uint8_t *buf, size_t cap, uint16_t block, const void *payload, size_t n,
		    size_t *ret_len);

/* OACK with the options of opts->mask, in the order blksize, timeout, tsize, windowsize. -EINVAL if mask is 0. */
int tftp_build_oack(uint8_t *buf, size_t cap, const struct tftp_options *opts, size_t *ret_len);

/* ERROR: code and message (cut to TFTP_ERRMSG_MAX bytes). */
int tftp_build_error(uint8_t *buf, size_t cap, uint16_t code, const char *msg, size_t *ret_len);

/* An ACK, for tests and tools. */
int tftp_build_ack(uint8_t *buf, size_t cap, uint16_t block, size_t *ret_len);

/*
 * Netascii (RFC 764 as used by RFC 1350): LF goes out as CR LF and CR as
 * CR NUL. Encodes in[0..in_len) into out[0..out_cap), starting with *pending
 * (the second byte of a pair cut at the end of the previous block, or -1
 * for none). Stops when out is full or in is used up; returns the bytes
 * written, sets *ret_used to the input bytes consumed and *pending to the
 * byte still owed, if the output filled in the middle of a pair.
 */
size_t tftp_netascii_encode(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap, int *pending,
			    size_t *ret_used);

#endif
