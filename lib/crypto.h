/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hashing, randomness and sealed secrets (OpenSSL libcrypto), shared by the
 * daemon, the CLI and the agent.
 */
#ifndef BW_CRYPTO_H
#define BW_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define SHA256_LEN 32
#define SHA256_HEX_LEN 64

struct sha256_ctx; /* opaque */

/* Returns a new context, or NULL on allocation failure. Free with sha256_free. */
struct sha256_ctx *sha256_new(void);
void sha256_update(struct sha256_ctx *c, const void *data, size_t len);
/* Writes the digest as 64 lowercase hex digits and a NUL into hex[65]. */
void sha256_final_hex(struct sha256_ctx *c, char hex[SHA256_HEX_LEN + 1]);
void sha256_free(struct sha256_ctx *c);
static inline void sha256_freep(struct sha256_ctx **c) { sha256_free(*c); }

/* One-shot digest of a buffer. */
void sha256_buf(const void *data, size_t len, uint8_t out[SHA256_LEN]);
void sha256_hex_buf(const void *data, size_t len, char hex[SHA256_HEX_LEN + 1]);

/* True if s is exactly 64 hex digits (either case). */
bool sha256_hex_valid(const char *s);

void hex_encode(const uint8_t *in, size_t len, char *out /* 2*len+1 */);

/* Cryptographically strong random bytes. -EIO if the generator fails. */
int random_bytes(void *buf, size_t len);

/* Constant-time comparison of two equal-length buffers. */
bool crypto_equal(const void *a, const void *b, size_t len);

/*
 * Sealed secrets: AES-256-GCM with a 32-byte key. The sealed form is
 *   version(1) | nonce(12) | ciphertext(len) | tag(16)
 * aad binds the blob to its purpose (e.g. "bmc-password").
 */
#define SECRET_KEY_LEN 32
#define SECRET_OVERHEAD (1 + 12 + 16)

/* Seals in[len] into out (room for len + SECRET_OVERHEAD). Sets *ret_len. */
int secret_seal(const uint8_t key[SECRET_KEY_LEN], const char *aad, const void *in, size_t len,
		uint8_t *out, size_t *ret_len);
/*
 * Opens a sealed blob into out (room for len - SECRET_OVERHEAD bytes).
 * -EBADMSG if it was tampered with or sealed with another key or aad.
 */
int secret_open(const uint8_t key[SECRET_KEY_LEN], const char *aad, const uint8_t *in, size_t len,
		void *out, size_t *ret_len);

#endif
