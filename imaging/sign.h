/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ed25519 signatures of image versions (OpenSSL libcrypto). bootwaved loads
 * the trusted public keys from PEM files and checks a signature at upload;
 * the agent gets the same keys, raw, in its task and checks the signature
 * again against the SHA-256 it computed itself while writing.
 * A key's id is the first 16 hex digits of the SHA-256 of its 32 raw bytes.
 */
#ifndef BW_SIGN_H
#define BW_SIGN_H

#include <stddef.h>
#include <stdint.h>

#define SIGN_KEYS_MAX 32
#define SIGN_PUB_LEN 32
#define SIGN_SIG_LEN 64

struct sign_key {
	uint8_t pub[SIGN_PUB_LEN];
	char id[17];
	char name[64]; /* file it came from, for messages */
};

struct sign_keyring {
	size_t n;
	struct sign_key keys[SIGN_KEYS_MAX];
};

/* The id of a raw public key. */
void sign_key_id(const uint8_t pub[SIGN_PUB_LEN], char id[17]);

/* An Ed25519 public key from PEM text ("-----BEGIN PUBLIC KEY-----"). -EINVAL if it is not one. */
int sign_key_from_pem(const char *pem, size_t len, struct sign_key *ret);

/* A raw public key written as 64 hex digits. */
int sign_key_from_hex(const char *hex, struct sign_key *ret);

/*
 * Loads every *.pem file of dir into *ret (which it clears first). A file
 * that is not an Ed25519 public key, or more than SIGN_KEYS_MAX keys, is an
 * error naming the file in why[why_size]. A missing dir gives an empty ring.
 */
int sign_keyring_load_dir(const char *dir, struct sign_keyring *ret, char *why, size_t why_size);

/*
 * Checks sig_hex (128 hex digits) over msg[len] against every key of kr.
 * 0 and the id of the key that verified into ret_id (may be NULL);
 * -EBADMSG if none does, -EINVAL if sig_hex is malformed.
 */
int sign_verify(const struct sign_keyring *kr, const void *msg, size_t len, const char *sig_hex, char ret_id[17]);

#endif
