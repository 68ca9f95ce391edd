// SPDX-License-Identifier: Apache-2.0
/* API tokens and on-disk secrets: see auth.h. */
#include "auth.h"

#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>

#include "fsutil.h"
#include "log.h"

int auth_token_generate(char out[TOKEN_LEN + 1])
{
	uint8_t raw[24];
	int r = random_bytes(raw, sizeof(raw));
	if (r < 0)
		return r;
	memcpy(out, TOKEN_PREFIX, 3);
	hex_encode(raw, sizeof(raw), out + 3);
	return 0;
}

void auth_token_hash(const char *token, uint8_t out[SHA256_LEN])
{
	sha256_buf(token, strlen(token), out);
}

int auth_check(struct store *s, const char *authorization, int64_t now, struct bw_token *ret)
{
	uint8_t hash[SHA256_LEN];
	struct bw_token tok;
	const char *t;
	int r;

	if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
		return -ENOKEY;
	t = authorization + 7;
	while (*t == ' ')
		t++;
	if (strlen(t) != TOKEN_LEN || strncmp(t, TOKEN_PREFIX, 3) != 0)
		return -EACCES;
	auth_token_hash(t, hash);
	r = store_token_by_hash(s, hash, &tok);
	if (r == -ENOENT)
		return -EACCES;
	if (r < 0)
		return r;
	if (tok.expires_at && tok.expires_at <= now)
		return -EKEYEXPIRED;
	store_token_touch(s, &tok);
	*ret = tok;
	return 0;
}

int auth_token_create(struct store *s, struct bw_token *tok, char token_out[TOKEN_LEN + 1],
		      struct store_err *err)
{
	uint8_t hash[SHA256_LEN];
	char secret[TOKEN_LEN + 1];
	int r;

	if ((r = auth_token_generate(secret)) < 0)
		return r;
	snprintf(tok->prefix, sizeof(tok->prefix), "%.*s", TOKEN_SHOWN, secret);
	auth_token_hash(secret, hash);
	if ((r = store_token_create(s, tok, hash, err)) < 0)
		return r;
	memcpy(token_out, secret, sizeof(secret));
	return 0;
}

int auth_bootstrap(struct store *s, const char *path)
{
	struct bw_token tok;
	struct store_err err;
	char secret[TOKEN_LEN + 2];
	uint8_t hash[SHA256_LEN];
	int64_t n;
	int r;

	if ((r = store_token_count(s, &n)) < 0)
		return r;
	if (n > 0)
		return 0;
	model_init(&model_token, &tok);
	snprintf(tok.name, sizeof(tok.name), "admin");
	snprintf(tok.role, sizeof(tok.role), "admin");
	if ((r = auth_token_generate(secret)) < 0)
		return r;
	snprintf(tok.prefix, sizeof(tok.prefix), "%.*s", TOKEN_SHOWN, secret);
	auth_token_hash(secret, hash);
	/* The file first: a crash before the insert just repeats this at the next start. */
	strcat(secret, "\n");
	if ((r = write_file_atomic(path, secret, strlen(secret), 0600)) < 0) {
		log_error("cannot write the admin token to %s: %s", path, strerror(-r));
		return r;
	}
	if ((r = store_token_create(s, &tok, hash, &err)) < 0) {
		log_error("cannot store the admin token: %s", err.message);
		return r;
	}
	log_info("created the first admin token in %s (mode 0600)", path);
	return 1;
}

int auth_load_key(const char *path, uint8_t key[SECRET_KEY_LEN])
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	ssize_t n;
	int r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		uint8_t fresh[SECRET_KEY_LEN];
		if ((r = random_bytes(fresh, sizeof(fresh))) < 0)
			return r;
		if ((r = write_file_atomic(path, fresh, sizeof(fresh), 0600)) < 0)
			return r;
		log_info("created the secret key %s (mode 0600)", path);
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	}
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_mode & 077)
		return -EPERM;
	if (st.st_size != SECRET_KEY_LEN)
		return -EINVAL;
	n = read(fd, key, SECRET_KEY_LEN);
	if (n != SECRET_KEY_LEN)
		return n < 0 ? -errno : -EINVAL;
	return 0;
}
