// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of server/boot/tftp_packet.c, the TFTP wire format: requests
 * with and without options, every refused request and which check
 * *ret_why names, the options that are ignored rather than refused (and
 * why), ACK and ERROR, the filename rules, the builders and netascii.
 * Packets are parsed from exact-size heap copies so that AddressSanitizer
 * catches any read past len.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tftp_packet.h"
#include "testutil.h"

/* A packet from a C literal: sizeof - 1 bytes (the literal's own NUL is not sent). */
#define PKT(s) (const uint8_t *)(s), sizeof(s) - 1


static struct tftp_request parse_ok(const uint8_t *p, size_t len)
{
	struct tftp_request rq;
	const char *why = NULL;
	int r = tftp_parse_request(heap_copy(p, len), len, &rq, &why);
	if (r != 0)
		fail_msg("tftp_parse_request = %d (%s)", r, why ? why : "?");
	assert_null(why);
	return rq;
}

static void parse_err(const uint8_t *p, size_t len, int err, const char *want_why, uint16_t want_code)
{
	struct tftp_request rq, before;
	const char *why = NULL;
	int r;

	memset(&rq, 0x5a, sizeof(rq));
	before = rq;
	r = tftp_parse_request(heap_copy(p, len), len, &rq, &why);
	if (r != err)
		fail_msg("tftp_parse_request = %d, expected %d (why: %s)", r, err, why ? why : "NULL");
	if (!why || strcmp(why, want_why) != 0)
		fail_msg("why = %s, expected %s", why ? why : "NULL", want_why);
	/* Outputs are written only on success. */
	assert_memory_equal(&rq, &before, sizeof(rq));
	assert_int_equal(tftp_errno_to_code(r), want_code);
	/* ret_why may be NULL. */
	assert_int_equal(tftp_parse_request(heap_copy_buf, len, &rq, NULL), err);
}

static void test_rrq_plain(void **state)
{
	struct tftp_request rq;
	(void)state;

	rq = parse_ok(PKT("\0\1undionly.kpxe\0octet\0"));
	assert_int_equal(rq.opcode, TFTP_RRQ);
	assert_int_equal(rq.filename_len, strlen("undionly.kpxe"));
	assert_string_equal(rq.filename, "undionly.kpxe");
	assert_int_equal(rq.mode, TFTP_MODE_OCTET);
	assert_int_equal(rq.opts.mask, 0);
	assert_int_equal(rq.n_ignored, 0);
	assert_null(rq.ignored_why);

	/* Modes compare case-insensitively (RFC 1350). */
	assert_int_equal(parse_ok(PKT("\0\1a\0OCTET\0")).mode, TFTP_MODE_OCTET);
	assert_int_equal(parse_ok(PKT("\0\1a\0NetAscii\0")).mode, TFTP_MODE_NETASCII);
	assert_int_equal(parse_ok(PKT("\0\1a\0netascii\0")).mode, TFTP_MODE_NETASCII);

	/* WRQ parses the same way (the server refuses it). */
	rq = parse_ok(PKT("\0\2up.bin\0octet\0"));
	assert_int_equal(rq.opcode, TFTP_WRQ);
	assert_string_equal(rq.filename, "up.bin");
}

static void test_rrq_options(void **state)
{
	struct tftp_request rq;
	(void)state;

	rq = parse_ok(PKT("\0\1ipxe.efi\0octet\0blksize\0001468\0tsize\0000\0timeout\0003\0windowsize\00016\0"));
	assert_int_equal(rq.opts.mask, TFTP_OPT_BLKSIZE | TFTP_OPT_TSIZE | TFTP_OPT_TIMEOUT | TFTP_OPT_WINDOWSIZE);
	assert_int_equal(rq.opts.blksize, 1468);
	assert_int_equal(rq.opts.tsize, 0);
	assert_int_equal(rq.opts.timeout, 3);
	assert_int_equal(rq.opts.windowsize, 16);
	assert_int_equal(rq.n_ignored, 0);

	/* Option names are case-insensitive (RFC 2347); leading zeros are fine. */
	rq = parse_ok(PKT("\0\1f\0octet\0BlkSize\0000512\0WINDOWSIZE\0001\0"));
	assert_int_equal(rq.opts.mask, TFTP_OPT_BLKSIZE | TFTP_OPT_WINDOWSIZE);
	assert_int_equal(rq.opts.blksize, 512);
	assert_int_equal(rq.opts.windowsize, 1);

	/* The limits themselves are valid. */
	rq = parse_ok(PKT("\0\1f\0octet\0blksize\0008\0timeout\000255\0windowsize\00065535\0"));
	assert_int_equal(rq.opts.blksize, 8);
	assert_int_equal(rq.opts.timeout, 255);
	assert_int_equal(rq.opts.windowsize, 65535);
	rq = parse_ok(PKT("\0\1f\0octet\0blksize\00065464\0timeout\0001\0tsize\00018446744073709551615\0"));
	assert_int_equal(rq.opts.blksize, 65464);
	assert_int_equal(rq.opts.timeout, 1);
	assert_true(rq.opts.tsize == UINT64_MAX);

	/* Unknown options are ignored silently (RFC 2347), known ones still count. */
	rq = parse_ok(PKT("\0\1f\0octet\0multicast\0\0blksize\0001024\0x-vendor\0yes\0"));
	assert_int_equal(rq.opts.mask, TFTP_OPT_BLKSIZE);
	assert_int_equal(rq.opts.blksize, 1024);
	assert_int_equal(rq.n_ignored, 2);
	assert_null(rq.ignored_why);
}

/* One option that is ignored (the request goes on without it) with its reason. */
static void expect_ignored(const uint8_t *p, size_t len, const char *why)
{
	struct tftp_request rq = parse_ok(p, len);
	assert_int_equal(rq.opts.mask, 0);
	assert_int_equal(rq.n_ignored, 1);
	if (!rq.ignored_why || strcmp(rq.ignored_why, why) != 0)
		fail_msg("ignored_why = %s, expected %s", rq.ignored_why ? rq.ignored_why : "NULL", why);
	assert_string_equal(rq.filename, "f");
}

static void test_bad_option_values_ignored(void **state)
{
	(void)state;
	/* RFC 2348: blksize 8..65464 */
	expect_ignored(PKT("\0\1f\0octet\0blksize\0000\0"), "option blksize out of range 8..65464");
	expect_ignored(PKT("\0\1f\0octet\0blksize\0007\0"), "option blksize out of range 8..65464");
	expect_ignored(PKT("\0\1f\0octet\0blksize\00065465\0"), "option blksize out of range 8..65464");
	expect_ignored(PKT("\0\1f\0octet\0blksize\00070000\0"), "option blksize out of range 8..65464");
	expect_ignored(PKT("\0\1f\0octet\0blksize\0099999999999999999999999\0"),
		       "option blksize out of range 8..65464");
	expect_ignored(PKT("\0\1f\0octet\0blksize\0\0"), "option blksize is not a decimal number");
	expect_ignored(PKT("\0\1f\0octet\0blksize\0-512\0"), "option blksize is not a decimal number");
	expect_ignored(PKT("\0\1f\0octet\0blksize\0 512\0"), "option blksize is not a decimal number");
	expect_ignored(PKT("\0\1f\0octet\0blksize\000512k\0"), "option blksize is not a decimal number");
	expect_ignored(PKT("\0\1f\0octet\0blksize\0000x200\0"), "option blksize is not a decimal number");
	/* RFC 7440: windowsize 1..65535 */
	expect_ignored(PKT("\0\1f\0octet\0windowsize\0000\0"), "option windowsize out of range 1..65535");
	expect_ignored(PKT("\0\1f\0octet\0windowsize\000100000\0"), "option windowsize out of range 1..65535");
	expect_ignored(PKT("\0\1f\0octet\0windowsize\0many\0"), "option windowsize is not a decimal number");
	/* RFC 2349: timeout 1..255 */
	expect_ignored(PKT("\0\1f\0octet\0timeout\0000\0"), "option timeout out of range 1..255");
	expect_ignored(PKT("\0\1f\0octet\0timeout\000256\0"), "option timeout out of range 1..255");
	expect_ignored(PKT("\0\1f\0octet\0timeout\0001.5\0"), "option timeout is not a decimal number");
	expect_ignored(PKT("\0\1f\0octet\0tsize\00018446744073709551616\0"), "option tsize does not fit 64 bits");
	expect_ignored(PKT("\0\1f\0octet\0tsize\0abc\0"), "option tsize is not a decimal number");
}

static void test_bad_option_keeps_others(void **state)
{
	struct tftp_request rq;
	(void)state;

	/* A bad windowsize does not take the good blksize with it; the first reason is kept. */
	rq = parse_ok(PKT("\0\1f\0octet\0blksize\0001468\0windowsize\0000\0timeout\0000\0tsize\0000\0"));
	assert_int_equal(rq.opts.mask, TFTP_OPT_BLKSIZE | TFTP_OPT_TSIZE);
	assert_int_equal(rq.opts.blksize, 1468);
	assert_int_equal(rq.n_ignored, 2);
	assert_string_equal(rq.ignored_why, "option windowsize out of range 1..65535");
}

static void test_cut_tail_ignored(void **state)
{
	struct tftp_request rq;
	(void)state;

	/* An option name without its NUL at the end of the packet. */
	expect_ignored(PKT("\0\1f\0octet\0blksize"), "option name not NUL-terminated");
	/* A name without a value. */
	expect_ignored(PKT("\0\1f\0octet\0blksize\0"), "option without a value");
	/* A value without its NUL. */
	expect_ignored(PKT("\0\1f\0octet\0blksize\0001468"), "option value not NUL-terminated");
	/* Zero padding after the mode (some PXE ROMs). */
	expect_ignored(PKT("\0\1f\0octet\0\0\0\0\0"), "empty option name");
	/* The options before a cut tail still count. */
	rq = parse_ok(PKT("\0\1f\0octet\0tsize\0000\0blksize\0001468"));
	assert_int_equal(rq.opts.mask, TFTP_OPT_TSIZE);
	assert_int_equal(rq.n_ignored, 1);
	assert_string_equal(rq.ignored_why, "option value not NUL-terminated");
}

static void test_duplicate_option_refused(void **state)
{
	(void)state;
	parse_err(PKT("\0\1f\0octet\0blksize\0001024\0blksize\0001024\0"), -ENOTUNIQ, "option blksize given twice",
		  TFTP_EOPTNEG);
	/* Names compare case-insensitively, and a bad first value still counts as given. */
	parse_err(PKT("\0\1f\0octet\0windowsize\0000\0WindowSize\0008\0"), -ENOTUNIQ,
		  "option windowsize given twice", TFTP_EOPTNEG);
	parse_err(PKT("\0\1f\0octet\0tsize\0000\0TSIZE\0000\0"), -ENOTUNIQ, "option tsize given twice", TFTP_EOPTNEG);
	parse_err(PKT("\0\1f\0octet\0timeout\0001\0timeout\0002\0"), -ENOTUNIQ, "option timeout given twice",
		  TFTP_EOPTNEG);
}

static void test_bad_requests(void **state)
{
	uint8_t big[TFTP_REQUEST_MAX + 1];
	uint8_t longname[2 + TFTP_FILENAME_MAX + 1 + 1 + 6];
	size_t n;
	(void)state;

	parse_err(PKT(""), -EBADMSG, "request shorter than an opcode", TFTP_EBADOP);
	parse_err(PKT("\0"), -EBADMSG, "request shorter than an opcode", TFTP_EBADOP);
	parse_err(PKT("\0\3f\0octet\0"), -EBADMSG, "not a read or write request", TFTP_EBADOP);
	parse_err(PKT("\0\1"), -EBADMSG, "filename missing", TFTP_EBADOP);
	parse_err(PKT("\0\1pxelinux.0"), -EBADMSG, "filename not NUL-terminated", TFTP_EBADOP);
	parse_err(PKT("\0\1\0octet\0"), -EBADMSG, "empty filename", TFTP_EBADOP);
	parse_err(PKT("\0\1f\0"), -EBADMSG, "mode missing", TFTP_EBADOP);
	parse_err(PKT("\0\1f\0octet"), -EBADMSG, "mode not NUL-terminated", TFTP_EBADOP);
	parse_err(PKT("\0\1f\0\0"), -EPROTONOSUPPORT, "empty mode", TFTP_EBADOP);
	parse_err(PKT("\0\1f\0mail\0"), -EPROTONOSUPPORT, "unsupported mode (octet or netascii only)", TFTP_EBADOP);
	parse_err(PKT("\0\1f\0binary\0"), -EPROTONOSUPPORT, "unsupported mode (octet or netascii only)", TFTP_EBADOP);
	parse_err(PKT("\0\1f\0octets\0"), -EPROTONOSUPPORT, "unsupported mode (octet or netascii only)", TFTP_EBADOP);

	/* Longer than RFC 2347 allows, even if well formed. */
	memset(big, 'a', sizeof(big));
	memcpy(big, "\0\1f\0octet\0x\0", 12);
	big[TFTP_REQUEST_MAX - 1] = 0;
	big[TFTP_REQUEST_MAX] = 0;
	parse_err(big, sizeof(big), -EMSGSIZE, "request longer than 512 bytes", TFTP_EBADOP);
	/* Exactly 512 is fine (one long unknown option value). */
	assert_int_equal(parse_ok(big, TFTP_REQUEST_MAX).n_ignored, 1);
	assert_null(parse_ok(big, TFTP_REQUEST_MAX).ignored_why);

	/* Filename: 255 bytes fine, 256 too long. */
	n = 0;
	longname[n++] = 0;
	longname[n++] = 1;
	memset(longname + n, 'n', TFTP_FILENAME_MAX + 1);
	n += TFTP_FILENAME_MAX + 1;
	longname[n++] = 0;
	memcpy(longname + n, "octet", 6);
	n += 6;
	assert_int_equal(n, sizeof(longname));
	parse_err(longname, n, -ENAMETOOLONG, "filename longer than 255 bytes", TFTP_EBADOP);
	memmove(longname + 2, longname + 3, n - 3);
	assert_int_equal(parse_ok(longname, n - 1).filename_len, TFTP_FILENAME_MAX);
}

static void test_opcode(void **state)
{
	const char *why = NULL;
	uint16_t op = 77;
	(void)state;

	assert_int_equal(tftp_parse_opcode(heap_copy(PKT("\0\4")), 2, &op, &why), 0);
	assert_int_equal(op, TFTP_ACK);
	assert_int_equal(tftp_parse_opcode(heap_copy(PKT("\1\2\3")), 3, &op, &why), 0);
	assert_int_equal(op, 0x0102);
	op = 77;
	assert_int_equal(tftp_parse_opcode(heap_copy(PKT("\0")), 1, &op, &why), -EBADMSG);
	assert_string_equal(why, "packet shorter than an opcode");
	assert_int_equal(op, 77);
	assert_int_equal(tftp_parse_opcode(NULL, 0, &op, NULL), -EBADMSG);
}

static void test_ack(void **state)
{
	const char *why = NULL;
	uint16_t block = 7;
	(void)state;

	assert_int_equal(tftp_parse_ack(heap_copy(PKT("\0\4\0\0")), 4, &block, &why), 0);
	assert_int_equal(block, 0);
	assert_int_equal(tftp_parse_ack(heap_copy(PKT("\0\4\377\377")), 4, &block, &why), 0);
	assert_int_equal(block, 65535);
	/* Trailing bytes are tolerated. */
	assert_int_equal(tftp_parse_ack(heap_copy(PKT("\0\4\1\2\0\0\0\0")), 8, &block, &why), 0);
	assert_int_equal(block, 0x0102);

	block = 7;
	assert_int_equal(tftp_parse_ack(heap_copy(PKT("\0\4\1")), 3, &block, &why), -EBADMSG);
	assert_string_equal(why, "ACK without a block number");
	assert_int_equal(tftp_parse_ack(heap_copy(PKT("\0\3\0\1")), 4, &block, &why), -EBADMSG);
	assert_string_equal(why, "not an ACK");
	assert_int_equal(tftp_parse_ack(heap_copy(PKT("\0")), 1, &block, &why), -EBADMSG);
	assert_string_equal(why, "ACK shorter than an opcode");
	assert_int_equal(tftp_parse_ack(NULL, 0, &block, NULL), -EBADMSG);
	assert_int_equal(block, 7);
}

static void test_error(void **state)
{
	struct tftp_error e;
	const char *why = NULL;
	(void)state;

	assert_int_equal(tftp_parse_error(heap_copy(PKT("\0\5\0\1File not found\0")), 19, &e, &why), 0);
	assert_int_equal(e.code, 1);
	assert_int_equal(e.msg_len, 14);
	assert_memory_equal(e.msg, "File not found", 14);
	/* Without its NUL, the message ends with the packet. */
	assert_int_equal(tftp_parse_error(heap_copy(PKT("\0\5\0\10abc")), 7, &e, &why), 0);
	assert_int_equal(e.code, 8);
	assert_int_equal(e.msg_len, 3);
	assert_memory_equal(e.msg, "abc", 3);
	/* No message at all. */
	assert_int_equal(tftp_parse_error(heap_copy(PKT("\0\5\0\0")), 4, &e, &why), 0);
	assert_int_equal(e.msg_len, 0);
	/* Bytes after the NUL are not part of it. */
	assert_int_equal(tftp_parse_error(heap_copy(PKT("\0\5\0\0ab\0cd")), 9, &e, &why), 0);
	assert_int_equal(e.msg_len, 2);

	assert_int_equal(tftp_parse_error(heap_copy(PKT("\0\5\0")), 3, &e, &why), -EBADMSG);
	assert_string_equal(why, "ERROR without an error code");
	assert_int_equal(tftp_parse_error(heap_copy(PKT("\0\4\0\0")), 4, &e, &why), -EBADMSG);
	assert_string_equal(why, "not an ERROR");
	assert_int_equal(tftp_parse_error(NULL, 0, &e, &why), -EBADMSG);
	assert_string_equal(why, "ERROR shorter than an opcode");
}

static void filename_ok(const char *name)
{
	const char *why = NULL;
	if (tftp_check_filename(name, strlen(name), &why) != 0)
		fail_msg("refused (%s): %s", why, name);
}

static void filename_bad(const char *name, size_t len, const char *want)
{
	const char *why = NULL;
	assert_int_equal(tftp_check_filename(name, len, &why), -EACCES);
	if (!why || strcmp(why, want) != 0)
		fail_msg("why = %s, expected %s", why ? why : "NULL", want);
	assert_int_equal(tftp_errno_to_code(-EACCES), TFTP_EACCESS);
}

static void test_filename_rules(void **state)
{
	(void)state;
	filename_ok("undionly.kpxe");
	filename_ok("efi/x86_64/ipxe.efi");
	filename_ok("a.b.c");
	filename_ok(".hidden");
	filename_ok("dir/./file");
	filename_ok("caf\xc3\xa9"); /* UTF-8 is fine */

	filename_bad("/etc/passwd", 11, "absolute path");
	filename_bad("/", 1, "absolute path");
	filename_bad("..", 2, "'..' in filename");
	filename_bad("../etc/passwd", 13, "'..' in filename");
	filename_bad("a/../../b", 9, "'..' in filename");
	filename_bad("a/..", 4, "'..' in filename");
	filename_bad("file..bak", 9, "'..' in filename"); /* documented: any ".." */
	filename_bad("a\\b", 3, "backslash in filename");
	filename_bad("..\\..\\x", 7, "'..' in filename");
	filename_bad("a\nb", 3, "control character in filename");
	filename_bad("a\x7f", 2, "control character in filename");
	filename_bad("a\0b", 3, "control character in filename");
	filename_bad("\x1b[2J", 4, "control character in filename");
	filename_bad("", 0, "empty filename");
	/* The check reads len bytes only: the '.' at the end is followed by nothing. */
	filename_ok("x.");
	assert_int_equal(tftp_check_filename("a..", 2, NULL), 0);
}

static void test_errno_to_code(void **state)
{
	(void)state;
	assert_int_equal(tftp_errno_to_code(-ENOENT), TFTP_ENOTFOUND);
	assert_int_equal(tftp_errno_to_code(-ENOTDIR), TFTP_ENOTFOUND);
	assert_int_equal(tftp_errno_to_code(-ELOOP), TFTP_EACCESS);
	assert_int_equal(tftp_errno_to_code(-EXDEV), TFTP_EACCESS);
	assert_int_equal(tftp_errno_to_code(-EACCES), TFTP_EACCESS);
	assert_int_equal(tftp_errno_to_code(-EBADMSG), TFTP_EBADOP);
	assert_int_equal(tftp_errno_to_code(-ENOTUNIQ), TFTP_EOPTNEG);
	assert_int_equal(tftp_errno_to_code(-EIO), TFTP_EUNDEF);
}

static void test_build_data(void **state)
{
	uint8_t buf[TFTP_HEADER + 8];
	size_t len = 0;
	(void)state;

	assert_int_equal(tftp_build_data(buf, sizeof(buf), 0x1234, "abcdefgh", 8, &len), 0);
	assert_int_equal(len, 12);
	assert_memory_equal(buf, "\0\3\x12\x34" "abcdefgh", 12);
	/* In place. */
	memcpy(buf + TFTP_HEADER, "ABCD", 4);
	assert_int_equal(tftp_build_data(buf, sizeof(buf), 0, buf + TFTP_HEADER, 4, &len), 0);
	assert_int_equal(len, 8);
	assert_memory_equal(buf, "\0\3\0\0ABCD", 8);
	/* Empty last block. */
	assert_int_equal(tftp_build_data(buf, sizeof(buf), 65535, NULL, 0, &len), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(buf, "\0\3\377\377", 4);
	/* Too big for the buffer. */
	len = 99;
	assert_int_equal(tftp_build_data(buf, sizeof(buf), 1, "123456789", 9, &len), -ENOBUFS);
	assert_int_equal(tftp_build_data(buf, 3, 1, NULL, 0, &len), -ENOBUFS);
	assert_int_equal(len, 99);
}

static void test_build_oack(void **state)
{
	uint8_t buf[128];
	size_t len = 0;
	struct tftp_options o = { .mask = TFTP_OPT_WINDOWSIZE | TFTP_OPT_BLKSIZE | TFTP_OPT_TSIZE | TFTP_OPT_TIMEOUT,
				  .blksize = 1468, .timeout = 3, .tsize = 41943040, .windowsize = 16 };
	static const char want[] = "\0\6blksize\0001468\0timeout\0003\0tsize\00041943040\0windowsize\00016\0";
	struct tftp_request rq;
	(void)state;

	assert_int_equal(tftp_build_oack(buf, sizeof(buf), &o, &len), 0);
	assert_int_equal(len, sizeof(want) - 1);
	assert_memory_equal(buf, want, len);
	/*
	 * What we build, we parse back: an OACK is the options of a request.
	 * Built at buf + 8, its opcode lands on the last two bytes of an RRQ
	 * header, which are then put back.
	 */
	assert_int_equal(tftp_build_oack(buf + 8, sizeof(buf) - 8, &o, &len), 0);
	memcpy(buf, "\0\1f\0octet\0", 10);
	rq = parse_ok(buf, 8 + len);
	assert_int_equal(rq.opts.mask, o.mask);
	assert_int_equal(rq.opts.blksize, 1468);
	assert_int_equal(rq.opts.tsize, 41943040);

	o.mask = TFTP_OPT_TSIZE;
	o.tsize = 0;
	assert_int_equal(tftp_build_oack(buf, sizeof(buf), &o, &len), 0);
	assert_memory_equal(buf, "\0\6tsize\0000\0", len);
	assert_int_equal(len, 10);

	o.mask = 0;
	assert_int_equal(tftp_build_oack(buf, sizeof(buf), &o, &len), -EINVAL);
	o.mask = TFTP_OPT_BLKSIZE;
	assert_int_equal(tftp_build_oack(buf, 10, &o, &len), -ENOBUFS);
}

static void test_build_error_ack(void **state)
{
	uint8_t buf[TFTP_HEADER + TFTP_ERRMSG_MAX + 1];
	char longmsg[400];
	size_t len = 0;
	(void)state;

	assert_int_equal(tftp_build_error(buf, sizeof(buf), TFTP_ENOTFOUND, "file not found", &len), 0);
	assert_int_equal(len, 4 + 14 + 1);
	assert_memory_equal(buf, "\0\5\0\1file not found\0", len);
	assert_int_equal(tftp_build_error(buf, sizeof(buf), TFTP_EUNDEF, NULL, &len), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(buf, "\0\5\0\0\0", 5);
	/* Long messages are cut to TFTP_ERRMSG_MAX. */
	memset(longmsg, 'x', sizeof(longmsg) - 1);
	longmsg[sizeof(longmsg) - 1] = 0;
	assert_int_equal(tftp_build_error(buf, sizeof(buf), 0, longmsg, &len), 0);
	assert_int_equal(len, sizeof(buf));
	assert_int_equal(buf[len - 1], 0);
	assert_int_equal(tftp_build_error(buf, 8, 0, "too long", &len), -ENOBUFS);

	assert_int_equal(tftp_build_ack(buf, sizeof(buf), 258, &len), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(buf, "\0\4\1\2", 4);
	assert_int_equal(tftp_build_ack(buf, 3, 1, &len), -ENOBUFS);
}

static void test_netascii(void **state)
{
	uint8_t out[8];
	size_t used = 99, n;
	int pending = -1;
	(void)state;

	n = tftp_netascii_encode((const uint8_t *)"a\nb\rc", 5, out, sizeof(out), &pending, &used);
	assert_int_equal(n, 7);
	assert_int_equal(used, 5);
	assert_int_equal(pending, -1);
	assert_memory_equal(out, "a\r\nb\r\0c", 7);

	/* The output fills in the middle of CR LF: LF is owed to the next block. */
	n = tftp_netascii_encode((const uint8_t *)"abc\nxyz", 7, out, 4, &pending, &used);
	assert_int_equal(n, 4);
	assert_int_equal(used, 4);
	assert_int_equal(pending, '\n');
	assert_memory_equal(out, "abc\r", 4);
	n = tftp_netascii_encode((const uint8_t *)"xyz", 3, out, 4, &pending, &used);
	assert_int_equal(n, 4);
	assert_int_equal(used, 3);
	assert_int_equal(pending, -1);
	assert_memory_equal(out, "\nxyz", 4);

	/* CR NUL cut the same way; the owed byte comes out even with no input. */
	n = tftp_netascii_encode((const uint8_t *)"\r", 1, out, 1, &pending, &used);
	assert_int_equal(n, 1);
	assert_int_equal(pending, 0);
	n = tftp_netascii_encode(NULL, 0, out, 4, &pending, &used);
	assert_int_equal(n, 1);
	assert_int_equal(out[0], 0);
	assert_int_equal(pending, -1);
	assert_int_equal(used, 0);

	/* Nothing fits: nothing consumed. */
	n = tftp_netascii_encode((const uint8_t *)"abc", 3, out, 0, &pending, &used);
	assert_int_equal(n, 0);
	assert_int_equal(used, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_rrq_plain, heap_copy_teardown),
		cmocka_unit_test_teardown(test_rrq_options, heap_copy_teardown),
		cmocka_unit_test_teardown(test_bad_option_values_ignored, heap_copy_teardown),
		cmocka_unit_test_teardown(test_bad_option_keeps_others, heap_copy_teardown),
		cmocka_unit_test_teardown(test_cut_tail_ignored, heap_copy_teardown),
		cmocka_unit_test_teardown(test_duplicate_option_refused, heap_copy_teardown),
		cmocka_unit_test_teardown(test_bad_requests, heap_copy_teardown),
		cmocka_unit_test_teardown(test_opcode, heap_copy_teardown),
		cmocka_unit_test_teardown(test_ack, heap_copy_teardown),
		cmocka_unit_test_teardown(test_error, heap_copy_teardown),
		cmocka_unit_test_teardown(test_filename_rules, heap_copy_teardown),
		cmocka_unit_test_teardown(test_errno_to_code, heap_copy_teardown),
		cmocka_unit_test_teardown(test_build_data, heap_copy_teardown),
		cmocka_unit_test_teardown(test_build_oack, heap_copy_teardown),
		cmocka_unit_test_teardown(test_build_error_ack, heap_copy_teardown),
		cmocka_unit_test_teardown(test_netascii, heap_copy_teardown),
	};
	return cmocka_run_group_tests_name("tftp_packet", tests, NULL, NULL);
}
