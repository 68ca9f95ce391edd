// SPDX-License-Identifier: Apache-2.0
/*
 * sshkey: the appliance's Ed25519 SSH key and OpenSSH public key lines
 * (sshkey.h). Key blobs are the SSH wire encoding of RFC 4253 section 6.6
 * (RFC 8709 for Ed25519, RFC 5656 section 3.1 for ECDSA); the private key
 * file is OpenSSH's "openssh-key-v1" format (PROTOCOL.key in OpenSSH),
 * unencrypted, which libssh2 and OpenSSH both read. Every parser here reads
 * through the bounded cursor and jumps to one exit on the first short read.
 */
#include "sshkey.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "cursor.h"
#include "fsutil.h"
#include "util.h"

/* The private key file is about 400 bytes; anything much larger is not ours. */
#define SSHKEY_PRIVATE_FILE_MAX 4096
/* Longest string (type, curve name, comment) inside a blob or key file. */
#define SSHKEY_NAME_MAX 64
/* RSA modulus sizes accepted, in bits (OpenSSH refuses keys under 1024). */
#define SSHKEY_RSA_MIN_BITS 1024
#define SSHKEY_RSA_MAX_BITS 16384
/* Longest RSA public exponent accepted, in bytes. */
#define SSHKEY_RSA_E_MAX 8
#define ED25519_LEN 32
/* The Ed25519 blob: string "ssh-ed25519" (4+11), string key (4+32). */
#define ED25519_BLOB_LEN 51

#define PEM_BEGIN "-----BEGIN OPENSSH PRIVATE KEY-----\n"
#define PEM_END "-----END OPENSSH PRIVATE KEY-----\n"
#define PEM_COLUMNS 70
#define AUTH_MAGIC "openssh-key-v1" /* and its NUL */

static const char b64_digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 of in[len] into out[size] with or without "=" padding. -ENOBUFS if it does not fit. */
static int b64_encode(const uint8_t *in, size_t len, bool pad, char *out, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		size_t n = len - i >= 3 ? 4 : len - i + 1; /* digits carrying bits */
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		for (size_t k = 0; k < 4; k++) {
			if (k >= n && !pad)
				break;
			if (o + 1 >= size)
				return -ENOBUFS;
			out[o++] = k < n ? b64_digits[(v >> (18 - 6 * k)) & 63] : '=';
		}
	}
	if (o >= size)
		return -ENOBUFS;
	out[o] = '\0';
	return 0;
}

static int b64_value(char c)
{
	const char *p = c ? strchr(b64_digits, c) : NULL;
	return p ? (int)(p - b64_digits) : -1;
}

/*
 * Strict base64 (padded, canonical): len a multiple of 4, "=" only in the
 * last one or two places, unused bits zero, so one blob has one spelling.
 * Decodes into out[size] and sets *ret_len. -EINVAL or -ENOBUFS.
 */
static int b64_decode(const char *in, size_t len, uint8_t *out, size_t size, size_t *ret_len)
{
	size_t o = 0;

	if (len == 0 || len % 4 != 0)
		return -EINVAL;
	for (size_t i = 0; i < len; i += 4) {
		int d[4];
		size_t pads = 0;
		uint32_t v = 0;

		for (size_t k = 0; k < 4; k++) {
			if (in[i + k] == '=' && i + 4 == len && k >= 2) {
				d[k] = 0;
				pads++;
				continue;
			}
			if (pads || (d[k] = b64_value(in[i + k])) < 0)
				return -EINVAL; /* a digit after "=", or not a digit */
			v |= (uint32_t)d[k] << (18 - 6 * k);
		}
		if ((pads == 1 && (d[2] & 3)) || (pads == 2 && (d[1] & 15)))
			return -EINVAL; /* bits that do not encode anything */
		if (size - o < 3 - pads)
			return -ENOBUFS;
		out[o++] = (uint8_t)(v >> 16);
		if (pads < 2)
			out[o++] = (uint8_t)(v >> 8);
		if (pads < 1)
			out[o++] = (uint8_t)v;
	}
	*ret_len = o;
	return 0;
}

/* An SSH "string" (RFC 4251 section 5): uint32 length, then the bytes. */
static int cursor_sshstring(struct cursor *c, size_t max, const uint8_t **ret, size_t *ret_len)
{
	struct cursor save = *c;
	uint32_t n;

	if (cursor_be32(c, &n) < 0 || n > max || cursor_bytes(c, n, ret) < 0) {
		*c = save;
		return -EBADMSG;
	}
	*ret_len = n;
	return 0;
}

static bool bytes_eq(const uint8_t *p, size_t n, const char *s)
{
	return n == strlen(s) && memcmp(p, s, n) == 0;
}

/*
 * An SSH mpint (RFC 4251 section 5) that is positive and minimally
 * encoded; *ret_bits is its size in bits.
 */
static int cursor_mpint_positive(struct cursor *c, size_t max, size_t *ret_bits)
{
	const uint8_t *p;
	size_t n, bits;

	if (cursor_sshstring(c, max, &p, &n) < 0)
		return -EBADMSG;
	if (n == 0 || p[0] & 0x80)
		return -EINVAL; /* zero or negative */
	if (p[0] == 0 && (n == 1 || !(p[1] & 0x80)))
		return -EINVAL; /* a leading zero that is not needed */
	if (p[0] == 0) {
		p++;
		n--;
	}
	bits = 8 * n;
	for (uint8_t top = p[0]; !(top & 0x80); top <<= 1)
		bits--;
	*ret_bits = bits;
	return 0;
}

/* The types accepted, with the curve name and point size of ECDSA keys. */
static const struct key_kind {
	const char *type;
	const char *curve; /* ECDSA only */
	size_t point_len;  /* ECDSA only: uncompressed point, 0x04 || X || Y */
} kinds[] = {
	{ "ssh-ed25519", NULL, 0 },
	{ "ecdsa-sha2-nistp256", "nistp256", 1 + 2 * 32 },
	{ "ecdsa-sha2-nistp384", "nistp384", 1 + 2 * 48 },
	{ "ecdsa-sha2-nistp521", "nistp521", 1 + 2 * 66 },
	{ "ssh-rsa", NULL, 0 },
};

static const struct key_kind *kind_of(const char *type, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		if (bytes_eq((const uint8_t *)type, len, kinds[i].type))
			return &kinds[i];
	return NULL;
}

/* Whether blob[len] is a well-formed public key of kind k, with nothing after it. */
static bool blob_valid(const struct key_kind *k, const uint8_t *blob, size_t len)
{
	struct cursor c;
	const uint8_t *p;
	size_t n, bits;

	cursor_init(&c, blob, len);
	if (cursor_sshstring(&c, SSHKEY_NAME_MAX, &p, &n) < 0 || !bytes_eq(p, n, k->type))
		return false;
	if (k->curve) {
		if (cursor_sshstring(&c, SSHKEY_NAME_MAX, &p, &n) < 0 || !bytes_eq(p, n, k->curve))
			return false;
		if (cursor_sshstring(&c, k->point_len, &p, &n) < 0 || n != k->point_len || p[0] != 0x04)
			return false;
	} else if (strcmp(k->type, "ssh-ed25519") == 0) {
		if (cursor_sshstring(&c, ED25519_LEN, &p, &n) < 0 || n != ED25519_LEN)
			return false;
	} else { /* ssh-rsa: mpint e, mpint n */
		if (cursor_mpint_positive(&c, SSHKEY_RSA_E_MAX, &bits) < 0)
			return false;
		if (cursor_mpint_positive(&c, SSHKEY_RSA_MAX_BITS / 8 + 1, &bits) < 0 || bits < SSHKEY_RSA_MIN_BITS ||
		    bits > SSHKEY_RSA_MAX_BITS)
			return false;
	}
	return c.left == 0;
}

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

int sshkey_parse_public(const char *line, char *ret_type, size_t tsize, uint8_t *ret_blob, size_t bsize,
			size_t *ret_len)
{
	uint8_t blob[SSHKEY_BLOB_MAX];
	const struct key_kind *k;
	size_t len, n, type_len, b64_len, blob_len;
	const char *type, *b64, *p;

	if (!line)
		return -EINVAL;
	len = strnlen(line, SSHKEY_LINE_MAX + 1);
	if (len > SSHKEY_LINE_MAX)
		return -EINVAL;
	if (len > 0 && line[len - 1] == '\n')
		len--;
	/* One line of printable text: no control bytes but blanks. */
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)line[i] < 0x20 && line[i] != '\t') || line[i] == 0x7f)
			return -EINVAL;

	for (p = line; p < line + len && is_blank(*p); p++)
		;
	type = p;
	for (n = 0; p + n < line + len && !is_blank(p[n]); n++)
		;
	type_len = n;
	p += n;
	if (!(k = kind_of(type, type_len)))
		return -EINVAL;
	if (p == line + len || !is_blank(*p))
		return -EINVAL; /* no key after the type */
	while (p < line + len && is_blank(*p))
		p++;
	b64 = p;
	for (n = 0; p + n < line + len && !is_blank(p[n]); n++)
		;
	b64_len = n;
	/* Whatever follows the key is its comment, not read. */
	if (b64_decode(b64, b64_len, blob, sizeof(blob), &blob_len) < 0)
		return -EINVAL;
	if (!blob_valid(k, blob, blob_len))
		return -EINVAL;
	if (tsize <= type_len || bsize < blob_len)
		return -ENOBUFS;
	memcpy(ret_type, type, type_len);
	ret_type[type_len] = '\0';
	memcpy(ret_blob, blob, blob_len);
	*ret_len = blob_len;
	return 0;
}

void sshkey_fingerprint(const uint8_t *blob, size_t len, char out[SSHKEY_FP_SIZE])
{
	uint8_t h[SHA256_LEN];

	sha256_buf(blob, len, h);
	memcpy(out, "SHA256:", 7);
	/* 43 digits and a NUL always fit in the 57 bytes left. */
	b64_encode(h, sizeof(h), false, out + 7, SSHKEY_FP_SIZE - 7);
}

int sshkey_format_public(const char *type, const uint8_t *blob, size_t len, const char *comment, char *out,
			 size_t size)
{
	size_t n = strlen(type);

	if (size <= n + 1)
		return -ENOBUFS;
	memcpy(out, type, n);
	out[n++] = ' ';
	if (b64_encode(blob, len, true, out + n, size - n) < 0)
		return -ENOBUFS;
	if (!str_empty(comment)) {
		n += strlen(out + n);
		if ((size_t)snprintf(out + n, size - n, " %s", comment) >= size - n)
			return -ENOBUFS;
	}
	return 0;
}

/* ---- the appliance key ---- */

static void ed25519_blob(const uint8_t pub[ED25519_LEN], uint8_t out[ED25519_BLOB_LEN])
{
	struct wbuf w;

	wbuf_init(&w, out, ED25519_BLOB_LEN);
	wbuf_be32(&w, 11);
	wbuf_bytes(&w, "ssh-ed25519", 11);
	wbuf_be32(&w, ED25519_LEN);
	wbuf_bytes(&w, pub, ED25519_LEN);
}

static void wbuf_sshstring(struct wbuf *w, const void *p, size_t n)
{
	wbuf_be32(w, (uint32_t)n);
	wbuf_bytes(w, p, n);
}

/*
 * The openssh-key-v1 text of an Ed25519 key (PROTOCOL.key): magic, cipher
 * and KDF "none", one public blob, then the "encrypted" section (checkints,
 * type, public key, seed || public key, comment, padding to 8 bytes).
 * Writes into out[size] and sets *ret_len. The caller wipes out.
 */
static int openssh_encode(const uint8_t seed[ED25519_LEN], const uint8_t pub[ED25519_LEN], char *out, size_t size,
			  size_t *ret_len)
{
	uint8_t bin[512], sec[256], blob[ED25519_BLOB_LEN], both[2 * ED25519_LEN];
	char b64[(sizeof(bin) + 2) / 3 * 4 + 1];
	struct wbuf w, s;
	uint32_t check;
	size_t n, o, b64_len;
	int r;

	if ((r = random_bytes(&check, sizeof(check))) < 0)
		return r;
	ed25519_blob(pub, blob);
	memcpy(both, seed, ED25519_LEN);
	memcpy(both + ED25519_LEN, pub, ED25519_LEN);

	wbuf_init(&s, sec, sizeof(sec));
	wbuf_be32(&s, check);
	wbuf_be32(&s, check);
	wbuf_sshstring(&s, "ssh-ed25519", 11);
	wbuf_sshstring(&s, pub, ED25519_LEN);
	wbuf_sshstring(&s, both, sizeof(both));
	wbuf_sshstring(&s, SSHKEY_COMMENT, strlen(SSHKEY_COMMENT));
	for (uint8_t pad = 1; s.len % 8; pad++)
		wbuf_u8(&s, pad);

	wbuf_init(&w, bin, sizeof(bin));
	wbuf_bytes(&w, AUTH_MAGIC, sizeof(AUTH_MAGIC)); /* with its NUL */
	wbuf_sshstring(&w, "none", 4);
	wbuf_sshstring(&w, "none", 4);
	wbuf_sshstring(&w, "", 0);
	wbuf_be32(&w, 1);
	wbuf_sshstring(&w, blob, sizeof(blob));
	wbuf_sshstring(&w, sec, s.len);
	r = -ENOBUFS;
	if (s.overflow || w.overflow || b64_encode(bin, w.len, true, b64, sizeof(b64)) < 0)
		goto out;

	b64_len = strlen(b64);
	n = strlen(PEM_BEGIN) + b64_len + (b64_len + PEM_COLUMNS - 1) / PEM_COLUMNS + strlen(PEM_END);
	if (n >= size)
		goto out;
	o = 0;
	memcpy(out, PEM_BEGIN, strlen(PEM_BEGIN));
	o += strlen(PEM_BEGIN);
	for (size_t i = 0; i < b64_len; i += PEM_COLUMNS) {
		size_t k = b64_len - i < PEM_COLUMNS ? b64_len - i : PEM_COLUMNS;
		memcpy(out + o, b64 + i, k);
		o += k;
		out[o++] = '\n';
	}
	memcpy(out + o, PEM_END, strlen(PEM_END));
	o += strlen(PEM_END);
	out[o] = '\0';
	*ret_len = o;
	r = 0;
out:
	explicit_bzero(bin, sizeof(bin));
	explicit_bzero(sec, sizeof(sec));
	explicit_bzero(both, sizeof(both));
	explicit_bzero(b64, sizeof(b64));
	return r;
}

/*
 * Reads back what openssh_encode wrote (only that: cipher "none", one
 * Ed25519 key) and checks that the seed gives the public key. Writes the
 * public key into ret_pub. -EBADMSG if text is anything else.
 */
static int openssh_decode(const char *text, size_t len, uint8_t ret_pub[ED25519_LEN])
{
	uint8_t bin[SSHKEY_PRIVATE_FILE_MAX], pub[ED25519_LEN], derived[ED25519_LEN];
	char b64[SSHKEY_PRIVATE_FILE_MAX];
	const uint8_t *p, *q, *sec;
	size_t n, m, bin_len, b64_len = 0, sec_len, derived_len = sizeof(derived);
	struct cursor c, s;
	uint32_t nkeys, check1, check2;
	EVP_PKEY *k = NULL;
	int r = -EBADMSG;

	/* The armour, then base64 lines: gather the digits. */
	if (len < strlen(PEM_BEGIN) + strlen(PEM_END) || memcmp(text, PEM_BEGIN, strlen(PEM_BEGIN)) != 0 ||
	    memcmp(text + len - strlen(PEM_END), PEM_END, strlen(PEM_END)) != 0)
		goto out;
	for (size_t i = strlen(PEM_BEGIN); i < len - strlen(PEM_END); i++) {
		if (text[i] == '\n')
			continue;
		if (b64_len == sizeof(b64))
			goto out;
		b64[b64_len++] = text[i];
	}
	if (b64_decode(b64, b64_len, bin, sizeof(bin), &bin_len) < 0)
		goto out;

	cursor_init(&c, bin, bin_len);
	if (cursor_bytes(&c, sizeof(AUTH_MAGIC), &p) < 0 || memcmp(p, AUTH_MAGIC, sizeof(AUTH_MAGIC)) != 0)
		goto out;
	if (cursor_sshstring(&c, SSHKEY_NAME_MAX, &p, &n) < 0 || !bytes_eq(p, n, "none") ||
	    cursor_sshstring(&c, SSHKEY_NAME_MAX, &p, &n) < 0 || !bytes_eq(p, n, "none") ||
	    cursor_sshstring(&c, SSHKEY_NAME_MAX, &p, &n) < 0 || n != 0)
		goto out; /* encrypted, or not the format */
	if (cursor_be32(&c, &nkeys) < 0 || nkeys != 1)
		goto out;
	if (cursor_sshstring(&c, SSHKEY_BLOB_MAX, &p, &n) < 0 || !blob_valid(kind_of("ssh-ed25519", 11), p, n))
		goto out;
	memcpy(pub, p + n - ED25519_LEN, ED25519_LEN);
	if (cursor_sshstring(&c, SSHKEY_PRIVATE_FILE_MAX, &sec, &sec_len) < 0 || c.left != 0 || sec_len % 8 != 0)
		goto out;

	cursor_init(&s, sec, sec_len);
	if (cursor_be32(&s, &check1) < 0 || cursor_be32(&s, &check2) < 0 || check1 != check2)
		goto out;
	if (cursor_sshstring(&s, SSHKEY_NAME_MAX, &p, &n) < 0 || !bytes_eq(p, n, "ssh-ed25519"))
		goto out;
	if (cursor_sshstring(&s, ED25519_LEN, &p, &n) < 0 || n != ED25519_LEN || memcmp(p, pub, ED25519_LEN) != 0)
		goto out;
	if (cursor_sshstring(&s, 2 * ED25519_LEN, &q, &m) < 0 || m != 2 * ED25519_LEN ||
	    memcmp(q + ED25519_LEN, pub, ED25519_LEN) != 0)
		goto out;
	if (cursor_sshstring(&s, SSHKEY_NAME_MAX, &p, &n) < 0) /* the comment */
		goto out;
	for (uint8_t pad = 1; s.left > 0; pad++) {
		uint8_t b;
		if (cursor_u8(&s, &b) < 0 || b != pad)
			goto out;
	}

	/* The seed must give the public key: a corrupt file fails here, not at a node. */
	k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, q, ED25519_LEN);
	if (!k || EVP_PKEY_get_raw_public_key(k, derived, &derived_len) != 1 || derived_len != ED25519_LEN ||
	    memcmp(derived, pub, ED25519_LEN) != 0)
		goto out;
	memcpy(ret_pub, pub, ED25519_LEN);
	r = 0;
out:
	EVP_PKEY_free(k);
	explicit_bzero(bin, sizeof(bin));
	explicit_bzero(b64, sizeof(b64));
	return r;
}

static int key_path(const char *dir, const char *file, char out[PATH_MAX])
{
	if ((size_t)snprintf(out, PATH_MAX, "%s/%s", dir, file) >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

static void wipe_free(char *p, size_t len)
{
	if (p)
		explicit_bzero(p, len);
	free(p);
}

/* Reads and checks dir/ssh_ed25519: its text (caller wipes and frees) and public key. */
static int load_private(const char *dir, char **ret_text, size_t *ret_len, uint8_t ret_pub[ED25519_LEN])
{
	char path[PATH_MAX], *text = NULL;
	size_t len = 0;
	int r;

	if ((r = key_path(dir, SSHKEY_FILE, path)) < 0)
		return r;
	r = read_file(path, SSHKEY_PRIVATE_FILE_MAX, &text, &len);
	if (r == -EFBIG)
		return -EBADMSG;
	if (r < 0)
		return r;
	if ((r = openssh_decode(text, len, ret_pub)) < 0) {
		wipe_free(text, len);
		return r;
	}
	*ret_text = text;
	*ret_len = len;
	return 0;
}

static int public_line(const uint8_t pub[ED25519_LEN], char *out, size_t size)
{
	uint8_t blob[ED25519_BLOB_LEN];

	ed25519_blob(pub, blob);
	return sshkey_format_public("ssh-ed25519", blob, sizeof(blob), SSHKEY_COMMENT, out, size);
}

int sshkey_load(const char *dir, char **ret_private, size_t *ret_len, char *ret_pub, size_t size)
{
	char line[128];
	uint8_t pub[ED25519_LEN];
	char *text;
	size_t len;
	int r;

	if ((r = load_private(dir, &text, &len, pub)) < 0)
		return r;
	if (public_line(pub, line, sizeof(line)) < 0 || str_copy(ret_pub, size, line) < 0) {
		wipe_free(text, len);
		return -ENOBUFS;
	}
	*ret_private = text;
	*ret_len = len;
	return 0;
}

/*
 * A new key in a temporary file, linked to dir/ssh_ed25519 (link, unlike
 * rename, never replaces: when two callers race, the first key stays and
 * both then load it).
 */
static int create_private(const char *dir)
{
	char path[PATH_MAX], tmp[PATH_MAX], text[1024];
	uint8_t seed[ED25519_LEN], pub[ED25519_LEN];
	size_t seed_len = sizeof(seed), pub_len = sizeof(pub), len = 0;
	EVP_PKEY *k = NULL;
	int fd = -1, r;

	if ((r = key_path(dir, SSHKEY_FILE, path)) < 0 || (r = key_path(dir, SSHKEY_FILE ".tmpXXXXXX", tmp)) < 0)
		return r;
	k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!k || EVP_PKEY_get_raw_private_key(k, seed, &seed_len) != 1 || seed_len != sizeof(seed) ||
	    EVP_PKEY_get_raw_public_key(k, pub, &pub_len) != 1 || pub_len != sizeof(pub)) {
		r = -EIO;
		goto out;
	}
	if ((r = openssh_encode(seed, pub, text, sizeof(text), &len)) < 0)
		goto out;
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		r = -errno;
		goto out;
	}
	if (fchmod(fd, 0600) < 0) {
		r = -errno;
		goto out_unlink;
	}
	for (size_t o = 0; o < len;) {
		ssize_t n = write(fd, text + o, len - o);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			goto out_unlink;
		}
		o += (size_t)n;
	}
	if (fsync(fd) < 0) {
		r = -errno;
		goto out_unlink;
	}
	if (link(tmp, path) < 0 && errno != EEXIST) {
		r = -errno;
		goto out_unlink;
	}
	r = fsync_dir(dir);
out_unlink:
	unlink(tmp);
out:
	if (fd >= 0)
		close(fd);
	EVP_PKEY_free(k);
	explicit_bzero(seed, sizeof(seed));
	explicit_bzero(text, sizeof(text));
	return r;
}

int sshkey_ensure(const char *dir, char *ret_pub, size_t size)
{
	char path[PATH_MAX], line[128], want[130], *text = NULL, *cur = NULL;
	uint8_t pub[ED25519_LEN];
	size_t len = 0, cur_len = 0;
	int r;

	if ((r = mkdir_p(dir, 0700)) < 0)
		return r;
	r = load_private(dir, &text, &len, pub);
	if (r == -ENOENT) {
		if ((r = create_private(dir)) < 0)
			return r;
		r = load_private(dir, &text, &len, pub);
	}
	if (r < 0)
		return r;
	wipe_free(text, len);

	if (public_line(pub, line, sizeof(line)) < 0)
		return -ENOBUFS;
	/* The .pub file is derived: rewrite it when missing or not this key. */
	snprintf(want, sizeof(want), "%s\n", line);
	if ((r = key_path(dir, SSHKEY_PUB_FILE, path)) < 0)
		return r;
	r = read_file(path, sizeof(want), &cur, &cur_len);
	if (r < 0 || cur_len != strlen(want) || memcmp(cur, want, cur_len) != 0)
		r = write_file_atomic(path, want, strlen(want), 0644);
	free(cur);
	if (r < 0)
		return r;
	return str_copy(ret_pub, size, line) < 0 ? -ENOBUFS : 0;
}
