/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sshkey: the appliance's own SSH key, and the OpenSSH public key lines that
 * nodes report for themselves. The appliance key is one Ed25519 key kept in
 * a directory as dir/ssh_ed25519 (unencrypted "openssh-key-v1", mode 0600)
 * and dir/ssh_ed25519.pub ("ssh-ed25519 AAAA... bootwave@appliance", the
 * line an operator puts in a node's authorized_keys). sshrun.c logs in with
 * it. The parsers below read what a node's agent reports, so they are pure,
 * bounded and refuse anything they do not fully understand (fuzzed by
 * tests/fuzz/fuzz_sshkey.c). The private key is never logged.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Longest public key line accepted (a 16384-bit RSA key is about 2.8 KB). */
#define SSHKEY_LINE_MAX 8192
/* Largest key blob accepted, and the room a caller gives the parser. */
#define SSHKEY_BLOB_MAX 4096
/* Room for a key type name ("ecdsa-sha2-nistp521" and its NUL). */
#define SSHKEY_TYPE_MAX 32
/* Room for a fingerprint: "SHA256:" and 43 base64 digits and a NUL. */
#define SSHKEY_FP_SIZE 64
/* The private key file name and the public one beside it. */
#define SSHKEY_FILE "ssh_ed25519"
#define SSHKEY_PUB_FILE "ssh_ed25519.pub"
/* The comment of the appliance's public key line. */
#define SSHKEY_COMMENT "bootwave@appliance"

/*
 * Loads the appliance key from dir, creating it first if dir/ssh_ed25519
 * does not exist (dir too, mode 0700; the key is linked into place, so
 * concurrent callers end up with the same key). Rewrites a missing or stale
 * dir/ssh_ed25519.pub. Writes the public line (no newline) into
 * ret_pub[size]. -EBADMSG if the existing file is not an unencrypted
 * OpenSSH Ed25519 key (one from `ssh-keygen -t ed25519 -N ''` is fine),
 * -ENOBUFS if size is too small, -errno of a file operation.
 */
int sshkey_ensure(const char *dir, char *ret_pub, size_t size);

/*
 * Reads the existing appliance key of dir (it is not created): the private
 * key file's text into *ret_private (NUL-terminated, *ret_len bytes; the
 * caller wipes it with explicit_bzero and frees it) and the public line into
 * ret_pub[size]. Same errors as sshkey_ensure, and -ENOENT without a key.
 */
int sshkey_load(const char *dir, char **ret_private, size_t *ret_len, char *ret_pub, size_t size);

/*
 * Parses an OpenSSH public key line "TYPE BASE64 [COMMENT]" (leading and
 * trailing blanks and one final newline allowed). The key blob must decode
 * completely, carry TYPE as its own type string and be well formed for
 * TYPE: ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa. Writes TYPE to
 * ret_type[tsize] and the blob to ret_blob[bsize], its length to *ret_len.
 * -EINVAL if the line is anything else (or NULL), -ENOBUFS if it is valid
 * but tsize or bsize is too small. Nothing is written on failure.
 */
int sshkey_parse_public(const char *line, char *ret_type, size_t tsize, uint8_t *ret_blob, size_t bsize,
			size_t *ret_len);

/*
 * The OpenSSH fingerprint of a key blob, "SHA256:" and the unpadded base64
 * of the blob's SHA-256, as ssh-keygen -l prints it.
 */
void sshkey_fingerprint(const uint8_t *blob, size_t len, char out[SSHKEY_FP_SIZE]);

/*
 * Formats "TYPE BASE64" and, if comment is not NULL or empty, " COMMENT"
 * into out[size]. -ENOBUFS if it does not fit.
 */
int sshkey_format_public(const char *type, const uint8_t *blob, size_t len, const char *comment, char *out,
			 size_t size);
