// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the TFTP wire format (server/boot/tftp_packet.c):
 * each input goes through what the server does with a datagram, on the
 * request port (opcode, request, filename rules) and on a transfer port
 * (ACK, ERROR), and what it builds from it (OACK, ERROR) is parsed back.
 * Build with clang -fsanitize=fuzzer, or replay a corpus with replay.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tftp_packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Touches every byte of a string the parser returned, so ASan sees a bad pointer. */
static unsigned sum(const char *s, size_t n)
{
	unsigned v = 0;
	for (size_t i = 0; i < n; i++)
		v += (unsigned char)s[i];
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[TFTP_PACKET_MAX];
	struct tftp_request rq;
	struct tftp_error e;
	const char *why = NULL;
	volatile unsigned sink = 0;
	uint16_t op, block;
	size_t len;

	if (tftp_parse_opcode(data, size, &op, &why) < 0 && !why)
		abort();
	why = NULL;
	if (tftp_parse_request(data, size, &rq, &why) == 0) {
		struct tftp_request back;
		if (rq.filename_len == 0 || rq.filename_len > TFTP_FILENAME_MAX ||
		    strlen(rq.filename) != rq.filename_len)
			abort();
		sink += sum(rq.filename, rq.filename_len);
		if (rq.ignored_why)
			sink += sum(rq.ignored_why, strlen(rq.ignored_why));
		if (tftp_check_filename(rq.filename, rq.filename_len, &why) < 0 && !why)
			abort();
		/* The OACK built from the accepted options parses back to the same values. */
		if (rq.opts.mask && tftp_build_oack(out + 8, sizeof(out) - 8, &rq.opts, &len) == 0) {
			memcpy(out, "\0\1f\0octet\0", 10);
			if (tftp_parse_request(out, 8 + len, &back, NULL) != 0 || back.opts.mask != rq.opts.mask ||
			    back.opts.blksize != rq.opts.blksize || back.opts.timeout != rq.opts.timeout ||
			    back.opts.windowsize != rq.opts.windowsize || back.opts.tsize != rq.opts.tsize)
				abort();
		}
	} else if (!why) {
		abort(); /* every refusal names its reason */
	}
	if (tftp_parse_ack(data, size, &block, NULL) == 0)
		sink += block;
	if (tftp_parse_error(data, size, &e, NULL) == 0) {
		sink += sum(e.msg, e.msg_len);
		/* Echo the message in an ERROR of our own, as a log or a reply would. */
		if (tftp_build_error(out, sizeof(out), e.code, "x", &len) != 0)
			abort();
	}
	/* The bytes as a filename straight away. */
	(void)tftp_check_filename((const char *)data, size, NULL);
	/* And as file content in netascii, in a small window. */
	{
		uint8_t na[64];
		int pending = -1;
		size_t used, off = 0;
		while (off < size) {
			size_t n = tftp_netascii_encode(data + off, size - off, na, sizeof(na), &pending, &used);
			if (n == 0 || used > size - off)
				abort();
			off += used;
		}
	}
	(void)sink;
	return 0;
}
