// SPDX-License-Identifier: Apache-2.0
/* Hashing, randomness and sealed secrets on OpenSSL libcrypto: see crypto.h. */
#include "crypto.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

struct sha256_ctx {
	EVP_MD_CTX *md;
};

struct sha256_ctx *sha256_new(void)
{
	struct sha256_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->md = EVP_MD_CTX_new();
	if (!c->md || EVP_DigestInit_ex(c->md, EVP_sha256(), NULL) != 1) {
		sha256_free(c);
		return NULL;
	}
	return c;
}

void sha256_update(struct sha256_ctx *c, const void *data, size_t len)
{
	EVP_DigestUpdate(c->md, data, len);
}

void sha256_final_hex(struct sha256_ctx *c, char hex[SHA256_HEX_LEN + 1])
{
	uint8_t d[SHA256_LEN];
	unsigned n = 0;
	EVP_DigestFinal_ex(c->md, d, &n);
	hex_encode(d, SHA256_LEN, hex);
}

void sha256_free(struct sha256_ctx *c)
{
	if (!c)
		return;
	EVP_MD_CTX_free(c->md);
	free(c);
}

void sha256_buf(const void *data, size_t len, uint8_t out[SHA256_LEN])
{
	unsigned n = 0;
	EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

void sha256_hex_buf(const void *data, size_t len, char hex[SHA256_HEX_LEN + 1])
{
	uint8_t d[SHA256_LEN];
	sha256_buf(data, len, d);
	hex_encode(d, SHA256_LEN, hex);
}

bool sha256_hex_valid(const char *s)
{
	size_t i;
	for (i = 0; s[i]; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return i == SHA256_HEX_LEN;
}

void hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * len] = '\0';
}

int random_bytes(void *buf, size_t len)
{
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -EIO;
}

bool crypto_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

#define SEAL_VERSION 1
#define NONCE_LEN 12
#define TAG_LEN 16

int secret_seal(const uint8_t key[SECRET_KEY_LEN], const char *aad, const void *in, size_t len,
		uint8_t *out, size_t *ret_len)
{
	EVP_CIPHER_CTX *c;
	int n = 0, ok;

	if (len > INT32_MAX - SECRET_OVERHEAD)
		return -EMSGSIZE;
	out[0] = SEAL_VERSION;
	if (random_bytes(out + 1, NONCE_LEN) < 0)
		return -EIO;
	c = EVP_CIPHER_CTX_new();
	if (!c)
		return -ENOMEM;
	ok = EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, out + 1) == 1 &&
	     EVP_EncryptUpdate(c, NULL, &n, (const uint8_t *)aad, (int)strlen(aad)) == 1 &&
	     EVP_EncryptUpdate(c, out + 1 + NONCE_LEN, &n, in, (int)len) == 1 &&
	     EVP_EncryptFinal_ex(c, out + 1 + NONCE_LEN + n, &n) == 1 &&
	     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, out + 1 + NONCE_LEN + len) == 1;
	EVP_CIPHER_CTX_free(c);
	if (!ok)
		return -EIO;
	*ret_len = len + SECRET_OVERHEAD;
	return 0;
}

int secret_open(const uint8_t key[SECRET_KEY_LEN], const char *aad, const uint8_t *in, size_t len,
		void *out, size_t *ret_len)
{
	EVP_CIPHER_CTX *c;
	size_t clen;
	int n = 0, ok;

	if (len < SECRET_OVERHEAD || in[0] != SEAL_VERSION)
		return -EBADMSG;
	clen = len - SECRET_OVERHEAD;
	c = EVP_CIPHER_CTX_new();
	if (!c)
		return -ENOMEM;
	ok = EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, in + 1) == 1 &&
	     EVP_DecryptUpdate(c, NULL, &n, (const uint8_t *)aad, (int)strlen(aad)) == 1 &&
	     EVP_DecryptUpdate(c, out, &n, in + 1 + NONCE_LEN, (int)clen) == 1 &&
	     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
				 (void *)(in + 1 + NONCE_LEN + clen)) == 1 &&
	     EVP_DecryptFinal_ex(c, (uint8_t *)out + n, &n) == 1;
	EVP_CIPHER_CTX_free(c);
	if (!ok)
		return -EBADMSG;
	*ret_len = clen;
	return 0;
}
