// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the OpenSSH public key line parser
 * (server/orch/sshkey.c), which reads the host key a node's agent reports:
 * whatever it accepts must be one of the key types allowed, fit the named
 * limits, have a fingerprint of the OpenSSH shape, format back to a line
 * that parses to the same blob, and be refused (not truncated) when the
 * caller's buffers are one byte short. Build with clang -fsanitize=fuzzer,
 * or replay a corpus with replay.c.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sshkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const types[] = { "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
					     "ecdsa-sha2-nistp521", "ssh-rsa" };
	char type[SSHKEY_TYPE_MAX], type2[SSHKEY_TYPE_MAX], fp[SSHKEY_FP_SIZE], *line, *again;
	uint8_t blob[SSHKEY_BLOB_MAX], blob2[SSHKEY_BLOB_MAX];
	size_t len = 0, len2 = 0, known = 0;
	int r;

	if (size > SSHKEY_LINE_MAX + 16)
		return 0;
	/* The parser takes a C string: the input up to its first NUL. */
	line = malloc(size + 1);
	if (!line)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';

	r = sshkey_parse_public(line, type, sizeof(type), blob, sizeof(blob), &len);
	if (r < 0) {
		if (r != -EINVAL)
			abort(); /* with room enough, every refusal is "not a key" */
		free(line);
		return 0;
	}
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		known += strcmp(type, types[i]) == 0;
	if (known != 1 || len == 0 || len > SSHKEY_BLOB_MAX)
		abort();
	sshkey_fingerprint(blob, len, fp);
	if (strncmp(fp, "SHA256:", 7) != 0 || strlen(fp) != 7 + 43)
		abort();
	/* One byte short: refused, never cut. */
	if (sshkey_parse_public(line, type2, sizeof(type2), blob2, len - 1, &len2) != -ENOBUFS ||
	    sshkey_parse_public(line, type2, strlen(type), blob2, sizeof(blob2), &len2) != -ENOBUFS)
		abort();
	/* Formatted back, it parses to the same key. */
	again = malloc(SSHKEY_LINE_MAX);
	if (!again) {
		free(line);
		return 0;
	}
	if (sshkey_format_public(type, blob, len, "c", again, SSHKEY_LINE_MAX) < 0 ||
	    sshkey_parse_public(again, type2, sizeof(type2), blob2, sizeof(blob2), &len2) < 0 ||
	    strcmp(type, type2) != 0 || len != len2 || memcmp(blob, blob2, len) != 0)
		abort();
	free(again);
	free(line);
	return 0;
}
