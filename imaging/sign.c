// SPDX-License-Identifier: Apache-2.0
/*
 * Ed25519 with OpenSSL's EVP interface: keys from PEM or hex, keyrings from
 * a directory, verification against any key of a ring.
 */
#include "sign.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "fsutil.h"
#include "util.h"

#define PEM_FILE_MAX 4096

void sign_key_id(const uint8_t pub[SIGN_PUB_LEN], char id[17])
{
	uint8_t h[SHA256_LEN];

	sha256_buf(pub, SIGN_PUB_LEN, h);
	hex_encode(h, 8, id);
}

int sign_key_from_pem(const char *pem, size_t len, struct sign_key *ret)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *k = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
	struct sign_key key = { .name = "" };
	size_t n = SIGN_PUB_LEN;
	int r = -EINVAL;

	if (len > PEM_FILE_MAX)
		goto out;
	if (k && EVP_PKEY_get_id(k) == EVP_PKEY_ED25519 && EVP_PKEY_get_raw_public_key(k, key.pub, &n) == 1 &&
	    n == SIGN_PUB_LEN) {
		sign_key_id(key.pub, key.id);
		*ret = key;
		r = 0;
	}
out:
	EVP_PKEY_free(k);
	BIO_free(bio);
	return r;
}

static int hex_decode(const char *hex, uint8_t *out, size_t n)
{
	if (strlen(hex) != 2 * n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (!strchr("0123456789abcdefABCDEF", hex[2 * i]) || !strchr("0123456789abcdefABCDEF", hex[2 * i + 1]) ||
		    sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		out[i] = (uint8_t)v;
	}
	return 0;
}

int sign_key_from_hex(const char *hex, struct sign_key *ret)
{
	struct sign_key key = { .name = "" };

	if (hex_decode(hex, key.pub, SIGN_PUB_LEN) < 0)
		return -EINVAL;
	sign_key_id(key.pub, key.id);
	*ret = key;
	return 0;
}

int sign_keyring_load_dir(const char *dir, struct sign_keyring *ret, char *why, size_t why_size)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int r = 0;

	memset(ret, 0, sizeof(*ret));
	if (!d) {
		if (errno == ENOENT)
			return 0;
		snprintf(why, why_size, "cannot open %s: %s", dir, strerror(errno));
		return -errno;
	}
	while (r == 0 && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		char path[4096];
		_cleanup_free_ char *text = NULL;
		size_t len;

		if (n < 5 || strcmp(de->d_name + n - 4, ".pem") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (ret->n == SIGN_KEYS_MAX) {
			snprintf(why, why_size, "%s: more than %d trusted keys", dir, SIGN_KEYS_MAX);
			r = -E2BIG;
		} else if ((r = read_file(path, PEM_FILE_MAX, &text, &len)) < 0) {
			snprintf(why, why_size, "cannot read %s: %s", path, strerror(-r));
		} else if ((r = sign_key_from_pem(text, len, &ret->keys[ret->n])) < 0) {
			snprintf(why, why_size, "%s is not an Ed25519 public key in PEM form", path);
		} else {
			snprintf(ret->keys[ret->n].name, sizeof(ret->keys[0].name), "%.63s", de->d_name);
			ret->n++;
		}
	}
	closedir(d);
	return r;
}

static bool verify_one(const uint8_t pub[SIGN_PUB_LEN], const void *msg, size_t len, const uint8_t sig[SIGN_SIG_LEN])
{
	EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, SIGN_PUB_LEN);
	EVP_MD_CTX *ctx = k ? EVP_MD_CTX_new() : NULL;
	bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k) == 1 &&
		  EVP_DigestVerify(ctx, sig, SIGN_SIG_LEN, msg, len) == 1;

	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(k);
	return ok;
}

int sign_verify(const struct sign_keyring *kr, const void *msg, size_t len, const char *sig_hex, char ret_id[17])
{
	uint8_t sig[SIGN_SIG_LEN];

	if (!sig_hex || hex_decode(sig_hex, sig, sizeof(sig)) < 0)
		return -EINVAL;
	for (size_t i = 0; i < kr->n; i++)
		if (verify_one(kr->keys[i].pub, msg, len, sig)) {
			if (ret_id)
				memcpy(ret_id, kr->keys[i].id, 17);
			return 0;
		}
	return -EBADMSG;
}
