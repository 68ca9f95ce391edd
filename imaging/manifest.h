/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The manifest of an image version: what bootwaved learnt at import (format,
 * compression, sizes and SHA-256 of every artifact, where the kernel and
 * initrd came from, the kernel command line) and the optional Ed25519
 * signature. It is written as manifest.json beside the artifacts, returned
 * by the API, and embedded in the agent's task, where the agent trusts
 * nothing it has not checked: manifest_from_json validates every field.
 *
 * The signature covers manifest_signed_message(): the image, version,
 * format, compression, size and SHA-256 of the image artifact, so a
 * signature for one version cannot be replayed for another.
 */
#ifndef BW_MANIFEST_H
#define BW_MANIFEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "validate.h"

#define MANIFEST_SCHEMA 1
#define MANIFEST_TEXT_MAX (64 * 1024)   /* manifest.json, as read back */
#define MANIFEST_CMDLINE_MAX 512
#define MANIFEST_SOURCE_MAX 256
#define MANIFEST_SIG_HEX 128            /* Ed25519: 64 bytes */
#define MANIFEST_KEYID_HEX 16
/* Sizes beyond 2^53 cannot round-trip through JSON numbers. */
#define MANIFEST_SIZE_MAX (UINT64_C(1) << 53)

struct manifest_file {
	bool present;
	char file[64];                  /* name in the version directory */
	uint64_t size;
	char sha256[65];
	char source[MANIFEST_SOURCE_MAX]; /* path inside the image ("" for the image itself) */
};

struct manifest {
	int schema;
	char image[NAME_MAX_LEN + 1];
	char version[VERSION_MAX_LEN + 1];
	char format[8];       /* tar | raw */
	char compression[8];  /* none | gzip | zstd | xz (xz: tar only) */
	struct manifest_file artifact, kernel, initrd;
	uint64_t content_size; /* tar: bytes of file data; raw: bytes of the decompressed image */
	uint64_t entries;      /* tar: members; raw: 0 */
	char cmdline[MANIFEST_CMDLINE_MAX];
	char signature[MANIFEST_SIG_HEX + 1];   /* lowercase hex, or "" */
	char signing_key[MANIFEST_KEYID_HEX + 1]; /* id of the key that verified it, or "" */
};

/*
 * Fills *ret from a JSON object. Every field is checked (names, versions,
 * formats, hex digests, sizes, file names, characters of the command
 * line); unknown fields are refused. -EINVAL with *ret_why naming the field
 * (a static string) on the first fault. *ret is written only on success.
 */
int manifest_from_json(const json_t *o, struct manifest *ret, const char **ret_why);

/* Parses manifest.json text of len bytes (at most MANIFEST_TEXT_MAX) the same way. */
int manifest_parse(const char *text, size_t len, struct manifest *ret, const char **ret_why);

/* A new JSON object for m (caller decrefs); NULL on allocation failure. */
json_t *manifest_to_json(const struct manifest *m);

/*
 * The bytes an Ed25519 signature of m covers, into buf[size]:
 *   "bootwave-image-signature-v1\n<image>\n<version>\n<format>\n<compression>\n<size>\n<sha256>\n"
 * Returns the length, or -ENOBUFS.
 */
int manifest_signed_message(const struct manifest *m, char *buf, size_t size);

/* Compression allowed for format ("tar": none gzip zstd xz; "raw": none gzip zstd). */
bool manifest_compression_valid(const char *format, const char *compression);

#endif
