// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of server/api/auth.c and the sealed secrets of lib/crypto.c:
 * token format, that only a token's hash reaches the database file, the
 * Authorization header checks, the first-start admin token and its 0600
 * file, the secret key file, AES-GCM sealing (every tampered byte, another
 * key or another aad refused) and role names. Each test gets a real store
 * in a temporary directory that teardown removes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "auth.h"
#include "crypto.h"
#include "fsutil.h"
#include "log.h"
#include "model.h"
#include "store.h"
#include "testutil.h"

static int setup(void **state) { return store_fx_setup(state, "auth"); }
static int teardown(void **state) { return store_fx_teardown(state); }

static void new_token(struct store_fx *f, const char *name, const char *role, int64_t expires_at,
		      char secret[TOKEN_LEN + 1], struct bw_token *ret)
{
	struct store_err err = { .field = "" };
	struct bw_token tok;

	model_init(&model_token, &tok);
	snprintf(tok.name, sizeof(tok.name), "%s", name);
	snprintf(tok.role, sizeof(tok.role), "%s", role);
	tok.expires_at = expires_at;
	assert_int_equal(auth_token_create(f->s, &tok, secret, &err), 0);
	assert_true(tok.id > 0);
	if (ret)
		*ret = tok;
}

static void bearer(char *out, size_t size, const char *token)
{
	snprintf(out, size, "Bearer %s", token);
}

/* True if needle[n] occurs in the file at path (which may be missing). */
static bool file_contains(const char *path, const void *needle, size_t n)
{
	char *buf = NULL;
	size_t len = 0;
	bool found;
	if (read_file(path, 64 << 20, &buf, &len) < 0)
		return false;
	found = memmem(buf, len, needle, n) != NULL;
	free(buf);
	return found;
}

/* ---- tokens ---- */

static void test_token_generate_format(void **state)
{
	char a[TOKEN_LEN + 1], b[TOKEN_LEN + 1];
	(void)state;

	assert_int_equal(TOKEN_LEN, 51);
	memset(a, 'X', sizeof(a));
	assert_int_equal(auth_token_generate(a), 0);
	assert_int_equal(auth_token_generate(b), 0);
	assert_int_equal(strlen(a), TOKEN_LEN);
	assert_memory_equal(a, "bw_", 3);
	for (size_t i = 3; i < TOKEN_LEN; i++)
		if (!isxdigit((unsigned char)a[i]) || isupper((unsigned char)a[i]))
			fail_msg("token character %zu is '%c', expected lowercase hex", i, a[i]);
	assert_string_not_equal(a, b);
}

static void test_token_hash(void **state)
{
	uint8_t h1[SHA256_LEN], h2[SHA256_LEN], want[SHA256_LEN];
	const char *t = "bw_000000000000000000000000000000000000000000000000";
	(void)state;

	auth_token_hash(t, h1);
	sha256_buf(t, strlen(t), want);
	assert_memory_equal(h1, want, SHA256_LEN);
	auth_token_hash("bw_000000000000000000000000000000000000000000000001", h2);
	assert_memory_not_equal(h1, h2, SHA256_LEN);
}

static void test_token_create_stores_only_hash(void **state)
{
	struct store_fx *f = *state;
	char secret[TOKEN_LEN + 1], db_wal[160];
	struct bw_token tok, got;
	uint8_t hash[SHA256_LEN];

	new_token(f, "ci", "operator", 0, secret, &tok);
	assert_int_equal(strlen(secret), TOKEN_LEN);
	assert_memory_equal(tok.prefix, secret, TOKEN_SHOWN);
	assert_int_equal(strlen(tok.prefix), TOKEN_SHOWN);

	auth_token_hash(secret, hash);
	assert_int_equal(store_token_by_hash(f->s, hash, &got), 0);
	assert_int_equal(got.id, tok.id);
	assert_string_equal(got.prefix, tok.prefix);

	/* Neither the secret nor its random part is anywhere in the files... */
	snprintf(db_wal, sizeof(db_wal), "%s-wal", f->path);
	assert_false(file_contains(f->path, secret, TOKEN_LEN));
	assert_false(file_contains(db_wal, secret, TOKEN_LEN));
	assert_false(file_contains(f->path, secret + TOKEN_SHOWN, TOKEN_LEN - TOKEN_SHOWN));
	assert_false(file_contains(db_wal, secret + TOKEN_SHOWN, TOKEN_LEN - TOKEN_SHOWN));
	/* ...while the hash is (so these are the files the row went to). */
	assert_true(file_contains(f->path, hash, SHA256_LEN) || file_contains(db_wal, hash, SHA256_LEN));

	/* The same again after a checkpoint into the main file. */
	store_close(f->s);
	f->s = NULL;
	struct store_err err = { .field = "" };
	assert_int_equal(store_open(f->path, &f->s, &err), 0);
	assert_false(file_contains(f->path, secret, TOKEN_LEN));
	assert_false(file_contains(db_wal, secret, TOKEN_LEN));
	assert_true(file_contains(f->path, hash, SHA256_LEN) || file_contains(db_wal, hash, SHA256_LEN));
}

static void test_token_create_duplicate_name(void **state)
{
	struct store_fx *f = *state;
	struct store_err err = { .field = "" };
	struct bw_token tok;
	char secret[TOKEN_LEN + 1], out[TOKEN_LEN + 1] = "untouched";

	new_token(f, "ci", "viewer", 0, secret, NULL);
	model_init(&model_token, &tok);
	snprintf(tok.name, sizeof(tok.name), "ci");
	snprintf(tok.role, sizeof(tok.role), "admin");
	assert_int_equal(auth_token_create(f->s, &tok, out, &err), -EEXIST);
	assert_string_equal(err.field, "name");
	assert_string_equal(out, "untouched");
}

/* ---- auth_check ---- */

static void test_check_accepts_bearer(void **state)
{
	struct store_fx *f = *state;
	char secret[TOKEN_LEN + 1], hdr[128];
	struct bw_token tok, got;

	new_token(f, "ci", "operator", 0, secret, &tok);
	bearer(hdr, sizeof(hdr), secret);
	memset(&got, 0, sizeof(got));
	assert_int_equal(auth_check(f->s, hdr, fake_now, &got), 0);
	assert_int_equal(got.id, tok.id);
	assert_string_equal(got.name, "ci");
	assert_string_equal(got.role, "operator");

	/* The scheme is case-insensitive (RFC 7235 section 2.1). */
	snprintf(hdr, sizeof(hdr), "bearer %s", secret);
	assert_int_equal(auth_check(f->s, hdr, fake_now, &got), 0);
	snprintf(hdr, sizeof(hdr), "BEARER  %s", secret);
	assert_int_equal(auth_check(f->s, hdr, fake_now, &got), 0);
}

static void test_check_records_use(void **state)
{
	struct store_fx *f = *state;
	char secret[TOKEN_LEN + 1], hdr[128];
	struct bw_token got;
	uint8_t hash[SHA256_LEN];

	new_token(f, "ci", "viewer", 0, secret, NULL);
	bearer(hdr, sizeof(hdr), secret);
	fake_now = 1700000500;
	assert_int_equal(auth_check(f->s, hdr, fake_now, &got), 0);
	auth_token_hash(secret, hash);
	assert_int_equal(store_token_by_hash(f->s, hash, &got), 0);
	assert_int_equal(got.last_used_at, 1700000500);
}

static void test_check_refusals(void **state)
{
	struct store_fx *f = *state;
	char secret[TOKEN_LEN + 1], other[TOKEN_LEN + 1], hdr[160];
	struct bw_token got;

	new_token(f, "ci", "admin", 0, secret, NULL);
	memset(&got, 0x5a, sizeof(got));
	struct bw_token before;
	memcpy(&before, &got, sizeof(got));

	assert_int_equal(auth_check(f->s, NULL, fake_now, &got), -ENOKEY);
	assert_int_equal(auth_check(f->s, "", fake_now, &got), -ENOKEY);
	assert_int_equal(auth_check(f->s, "Basic dXNlcjpwYXNz", fake_now, &got), -ENOKEY);
	assert_int_equal(auth_check(f->s, "Bearer", fake_now, &got), -ENOKEY);
	assert_int_equal(auth_check(f->s, secret, fake_now, &got), -ENOKEY); /* no scheme */
	snprintf(hdr, sizeof(hdr), "Token %s", secret);
	assert_int_equal(auth_check(f->s, hdr, fake_now, &got), -ENOKEY);

	/* Well-formed but unknown token. */
	assert_int_equal(auth_token_generate(other), 0);
	bearer(hdr, sizeof(hdr), other);
	assert_int_equal(auth_check(f->s, hdr, fake_now, &got), -EACCES);
	/* Malformed tokens. */
	assert_int_equal(auth_check(f->s, "Bearer garbage", fake_now, &got), -EACCES);
	snprintf(hdr, sizeof(hdr), "Bearer %.*s", TOKEN_LEN - 1, secret);
	assert_int_equal(auth_check(f->s, hdr, fake_now, &got), -EACCES);
	snprintf(hdr, sizeof(hdr), "Bearer %sx", secret);
	assert_int_equal(auth_check(f->s, hdr, fake_now, &got), -EACCES);
	snprintf(hdr, sizeof(hdr), "Bearer xx_%s", secret + 3);
	assert_int_equal(auth_check(f->s, hdr, fake_now, &got), -EACCES);
	snprintf(hdr, sizeof(hdr), "Bearer %s", secret);
	hdr[strlen(hdr) - 1] ^= 1; /* one character off */
	assert_int_equal(auth_check(f->s, hdr, fake_now, &got), -EACCES);

	assert_memory_equal(&got, &before, sizeof(got));
}

static void test_check_expired(void **state)
{
	struct store_fx *f = *state;
	char secret[TOKEN_LEN + 1], hdr[128];
	struct bw_token got;

	new_token(f, "old", "admin", 1700000000, secret, NULL);
	bearer(hdr, sizeof(hdr), secret);
	assert_int_equal(auth_check(f->s, hdr, 1699999999, &got), 0);
	assert_string_equal(got.name, "old");
	assert_int_equal(auth_check(f->s, hdr, 1700000000, &got), -EKEYEXPIRED);
	assert_int_equal(auth_check(f->s, hdr, 1800000000, &got), -EKEYEXPIRED);

	/* No expiry: valid forever. */
	new_token(f, "forever", "viewer", 0, secret, NULL);
	bearer(hdr, sizeof(hdr), secret);
	assert_int_equal(auth_check(f->s, hdr, INT64_MAX, &got), 0);
}

/* ---- bootstrap ---- */

static void test_bootstrap(void **state)
{
	struct store_fx *f = *state;
	char path[160], hdr[128], *text = NULL, *again = NULL;
	size_t len = 0;
	struct stat st;
	struct bw_token got;
	int64_t n = -1;

	snprintf(path, sizeof(path), "%s/admin.token", f->dir);
	assert_int_equal(auth_bootstrap(f->s, path), 1);
	assert_int_equal(store_token_count(f->s, &n), 0);
	assert_int_equal(n, 1);

	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(read_file(path, 4096, &text, &len), 0);
	assert_int_equal(len, TOKEN_LEN + 1);
	assert_int_equal(text[TOKEN_LEN], '\n');
	text[TOKEN_LEN] = '\0';
	assert_memory_equal(text, "bw_", 3);

	bearer(hdr, sizeof(hdr), text);
	assert_int_equal(auth_check(f->s, hdr, fake_now, &got), 0);
	assert_string_equal(got.name, "admin");
	assert_string_equal(got.role, "admin");
	assert_int_equal(got.expires_at, 0);
	assert_memory_equal(got.prefix, text, TOKEN_SHOWN);

	/* Second start: nothing created, the file is left alone. */
	assert_int_equal(auth_bootstrap(f->s, path), 0);
	assert_int_equal(store_token_count(f->s, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(read_file(path, 4096, &again, NULL), 0);
	again[TOKEN_LEN] = '\0';
	assert_string_equal(again, text);
	free(text);
	free(again);
}

static void test_bootstrap_with_existing_tokens(void **state)
{
	struct store_fx *f = *state;
	char path[160], secret[TOKEN_LEN + 1];
	struct stat st;
	int64_t n = -1;

	new_token(f, "ci", "viewer", 0, secret, NULL);
	snprintf(path, sizeof(path), "%s/admin.token", f->dir);
	assert_int_equal(auth_bootstrap(f->s, path), 0);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(store_token_count(f->s, &n), 0);
	assert_int_equal(n, 1);
}

static void test_bootstrap_unwritable_path(void **state)
{
	struct store_fx *f = *state;
	char path[160];
	int64_t n = -1;

	snprintf(path, sizeof(path), "%s/no/such/dir/admin.token", f->dir);
	assert_true(auth_bootstrap(f->s, path) < 0);
	/* The file comes first: without it, no token is stored. */
	assert_int_equal(store_token_count(f->s, &n), 0);
	assert_int_equal(n, 0);
}

/* ---- key file ---- */

static void write_mode(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

static void test_load_key_creates_and_reloads(void **state)
{
	struct store_fx *f = *state;
	char path[160];
	uint8_t k1[SECRET_KEY_LEN], k2[SECRET_KEY_LEN], zero[SECRET_KEY_LEN] = { 0 };
	struct stat st;
	char *raw = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/secret.key", f->dir);
	memset(k1, 0, sizeof(k1));
	assert_int_equal(auth_load_key(path, k1), 0);
	assert_memory_not_equal(k1, zero, SECRET_KEY_LEN);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, SECRET_KEY_LEN);
	assert_int_equal(read_file(path, 4096, &raw, &len), 0);
	assert_int_equal(len, SECRET_KEY_LEN);
	assert_memory_equal(raw, k1, SECRET_KEY_LEN);
	free(raw);

	assert_int_equal(auth_load_key(path, k2), 0);
	assert_memory_equal(k1, k2, SECRET_KEY_LEN);
}

static void test_load_key_refusals(void **state)
{
	struct store_fx *f = *state;
	char path[160];
	uint8_t key[SECRET_KEY_LEN], raw[64] = { 1 };

	snprintf(path, sizeof(path), "%s/secret.key", f->dir);
	write_mode(path, raw, SECRET_KEY_LEN, 0644);
	assert_int_equal(auth_load_key(path, key), -EPERM);
	write_mode(path, raw, SECRET_KEY_LEN, 0640);
	assert_int_equal(auth_load_key(path, key), -EPERM);
	write_mode(path, raw, SECRET_KEY_LEN, 0604);
	assert_int_equal(auth_load_key(path, key), -EPERM);
	write_mode(path, raw, 16, 0600);
	assert_int_equal(auth_load_key(path, key), -EINVAL);
	write_mode(path, raw, SECRET_KEY_LEN + 1, 0600);
	assert_int_equal(auth_load_key(path, key), -EINVAL);
	write_mode(path, raw, 0, 0600);
	assert_int_equal(auth_load_key(path, key), -EINVAL);
	/* And the right file loads. */
	write_mode(path, raw, SECRET_KEY_LEN, 0400);
	assert_int_equal(auth_load_key(path, key), 0);
	assert_memory_equal(key, raw, SECRET_KEY_LEN);
}

static void test_load_key_refuses_symlink(void **state)
{
	struct store_fx *f = *state;
	char path[160], target[160];
	uint8_t key[SECRET_KEY_LEN], raw[SECRET_KEY_LEN] = { 2 };

	snprintf(target, sizeof(target), "%s/real.key", f->dir);
	snprintf(path, sizeof(path), "%s/secret.key", f->dir);
	write_mode(target, raw, sizeof(raw), 0600);
	assert_int_equal(symlink(target, path), 0);
	assert_true(auth_load_key(path, key) < 0);
}

/* ---- sealed secrets ---- */

static void test_seal_round_trip(void **state)
{
	uint8_t key[SECRET_KEY_LEN], sealed[128], sealed2[128];
	char plain[64];
	size_t n = 0, n2 = 0, m = 0;
	const char *msg = "correct horse battery staple";
	(void)state;

	assert_int_equal(random_bytes(key, sizeof(key)), 0);
	assert_int_equal(secret_seal(key, "bootwave:bmc_password", msg, strlen(msg), sealed, &n), 0);
	assert_int_equal(n, strlen(msg) + SECRET_OVERHEAD);
	assert_null(memmem(sealed, n, msg, strlen(msg)));
	assert_int_equal(secret_open(key, "bootwave:bmc_password", sealed, n, plain, &m), 0);
	assert_int_equal(m, strlen(msg));
	assert_memory_equal(plain, msg, m);

	/* A fresh nonce every time. */
	assert_int_equal(secret_seal(key, "bootwave:bmc_password", msg, strlen(msg), sealed2, &n2), 0);
	assert_int_equal(n2, n);
	assert_memory_not_equal(sealed, sealed2, n);

	/* The empty secret seals too. */
	assert_int_equal(secret_seal(key, "a", "", 0, sealed, &n), 0);
	assert_int_equal(n, SECRET_OVERHEAD);
	assert_int_equal(secret_open(key, "a", sealed, n, plain, &m), 0);
	assert_int_equal(m, 0);
}

static void test_seal_tamper_every_byte(void **state)
{
	uint8_t key[SECRET_KEY_LEN], sealed[128];
	char plain[64];
	size_t n = 0, m;
	const char *msg = "s3cret!";
	(void)state;

	assert_int_equal(random_bytes(key, sizeof(key)), 0);
	assert_int_equal(secret_seal(key, "aad", msg, strlen(msg), sealed, &n), 0);
	for (size_t i = 0; i < n; i++) {
		for (int bit = 0; bit < 8; bit += 7) {
			int r;
			sealed[i] ^= (uint8_t)(1u << bit);
			m = 12345;
			r = secret_open(key, "aad", sealed, n, plain, &m);
			sealed[i] ^= (uint8_t)(1u << bit);
			if (r != -EBADMSG)
				fail_msg("byte %zu bit %d flipped: secret_open = %d", i, bit, r);
			assert_int_equal(m, 12345);
		}
	}
	/* Truncated or extended blobs. */
	assert_int_equal(secret_open(key, "aad", sealed, n - 1, plain, &m), -EBADMSG);
	assert_int_equal(secret_open(key, "aad", sealed, SECRET_OVERHEAD - 1, plain, &m), -EBADMSG);
	assert_int_equal(secret_open(key, "aad", sealed, 0, plain, &m), -EBADMSG);
	sealed[n] = 0;
	assert_int_equal(secret_open(key, "aad", sealed, n + 1, plain, &m), -EBADMSG);
	/* Untouched, it still opens. */
	assert_int_equal(secret_open(key, "aad", sealed, n, plain, &m), 0);
	assert_memory_equal(plain, msg, strlen(msg));
}

static void test_seal_other_key_or_aad(void **state)
{
	uint8_t key[SECRET_KEY_LEN], other[SECRET_KEY_LEN], sealed[128];
	char plain[64];
	size_t n = 0, m;
	(void)state;

	assert_int_equal(random_bytes(key, sizeof(key)), 0);
	memcpy(other, key, sizeof(key));
	other[31] ^= 0x80;
	assert_int_equal(secret_seal(key, "bootwave:bmc_password", "pw", 2, sealed, &n), 0);
	assert_int_equal(secret_open(other, "bootwave:bmc_password", sealed, n, plain, &m), -EBADMSG);
	assert_int_equal(secret_open(key, "bootwave:other", sealed, n, plain, &m), -EBADMSG);
	assert_int_equal(secret_open(key, "", sealed, n, plain, &m), -EBADMSG);
	assert_int_equal(secret_open(key, "bootwave:bmc_password ", sealed, n, plain, &m), -EBADMSG);
	assert_int_equal(secret_open(key, "bootwave:bmc_password", sealed, n, plain, &m), 0);
}

/* ---- roles ---- */

static void test_roles(void **state)
{
	enum role r = ROLE_NONE;
	static const char *const names[] = { "viewer", "operator", "admin" };
	(void)state;

	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(role_parse(names[i], &r), 0);
		assert_int_equal(r, (enum role)(ROLE_VIEWER + i));
		assert_string_equal(role_name(r), names[i]);
	}
	assert_true(ROLE_NONE < ROLE_VIEWER && ROLE_VIEWER < ROLE_OPERATOR && ROLE_OPERATOR < ROLE_ADMIN);
	r = ROLE_OPERATOR;
	assert_int_equal(role_parse("Admin", &r), -EINVAL);
	assert_int_equal(role_parse("root", &r), -EINVAL);
	assert_int_equal(role_parse("", &r), -EINVAL);
	assert_int_equal(role_parse("none", &r), -EINVAL);
	assert_int_equal(r, ROLE_OPERATOR);
	assert_string_equal(role_name(ROLE_NONE), "none");
	assert_string_equal(role_name((enum role)42), "none");
	assert_string_equal(role_name((enum role)-1), "none");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		cmocka_unit_test(test_token_generate_format),
		cmocka_unit_test(test_token_hash),
		T(test_token_create_stores_only_hash),
		T(test_token_create_duplicate_name),
		T(test_check_accepts_bearer),
		T(test_check_records_use),
		T(test_check_refusals),
		T(test_check_expired),
		T(test_bootstrap),
		T(test_bootstrap_with_existing_tokens),
		T(test_bootstrap_unwritable_path),
		T(test_load_key_creates_and_reloads),
		T(test_load_key_refusals),
		T(test_load_key_refuses_symlink),
		cmocka_unit_test(test_seal_round_trip),
		cmocka_unit_test(test_seal_tamper_every_byte),
		cmocka_unit_test(test_seal_other_key_or_aad),
		cmocka_unit_test(test_roles),
#undef T
	};
	log_set_level((enum log_level)(LOG_ERR_ + 1));
	return cmocka_run_group_tests_name("auth", tests, NULL, NULL);
}
