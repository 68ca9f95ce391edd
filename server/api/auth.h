/* SPDX-License-Identifier: Apache-2.0 */
/*
 * API tokens and the appliance's secrets on disk.
 *
 * A token is "bw_" followed by 48 hex digits (192 random bits). Only its
 * SHA-256 is stored: a token is high-entropy, so a fast hash is enough and a
 * stolen store yields no usable token. The first admin token is written to
 * a 0600 file at first start.
 */
#ifndef BW_AUTH_H
#define BW_AUTH_H

#include <stdint.h>

#include "crypto.h"
#include "model.h"
#include "store.h"

#define TOKEN_PREFIX "bw_"
#define TOKEN_LEN (3 + 48)
#define TOKEN_SHOWN 10 /* characters of a token kept as its prefix */

/* Writes a fresh token and a NUL into out[TOKEN_LEN + 1]. */
int auth_token_generate(char out[TOKEN_LEN + 1]);
void auth_token_hash(const char *token, uint8_t out[SHA256_LEN]);

/*
 * Checks an Authorization header value ("Bearer <token>"). On success
 * writes the token's row to *ret (and records its use). -ENOKEY if the
 * header is missing or malformed, -EACCES if the token is unknown, -EKEYEXPIRED
 * if it has expired.
 */
int auth_check(struct store *s, const char *authorization, int64_t now, struct bw_token *ret);

/*
 * Creates a token named name with role and expiry, stores its hash and
 * writes the secret to token_out. Errors as store_token_create.
 */
int auth_token_create(struct store *s, struct bw_token *tok, char token_out[TOKEN_LEN + 1],
		      struct store_err *err);

/*
 * At first start (no token in the store) creates the "admin" token and
 * writes it, with a newline, to path with mode 0600. The file is written
 * first and atomically, so a crash never leaves an admin token nobody has.
 * Returns 1 if a token was created, 0 if tokens already existed.
 */
int auth_bootstrap(struct store *s, const char *path);

/*
 * Loads the 32-byte key at path, creating it (0600) if it does not exist.
 * -EPERM if the file is readable by group or others, -EINVAL if it has the
 * wrong size.
 */
int auth_load_key(const char *path, uint8_t key[SECRET_KEY_LEN]);

#endif
