// SPDX-License-Identifier: Apache-2.0
/*
 * The API's TLS material ([api] tls_cert, tls_key, tls_ca), checked with
 * OpenSSL before libmicrohttpd (GnuTLS) gets it, so that a bad file stops
 * the start with its name and what is wrong with it; and the ramdisk piece
 * that pins the CA in the reimage agent: a cpio archive (newc, what Linux
 * unpacks over the agent's initrd) holding /etc/bootwave/ca.pem.
 */
#include "tls.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fsutil.h"
#include "util.h"

#define TLS_FILE_MAX (1 << 20) /* a PEM file larger than this is not a certificate or key */

static void ssl_why(char *why, size_t size, const char *what)
{
	char e[160];
	unsigned long code = ERR_get_error();
	ERR_clear_error();
	if (code) {
		ERR_error_string_n(code, e, sizeof(e));
		snprintf(why, size, "%s (%s)", what, e);
	} else
		snprintf(why, size, "%s", what);
}

static int read_pem(const char *key, const char *path, char **ret, char *why, size_t size)
{
	size_t n;
	int r = read_file(path, TLS_FILE_MAX, ret, &n);
	if (r < 0) {
		snprintf(why, size, "%s %s: cannot read: %s", key, path, strerror(-r));
		return r;
	}
	if (strlen(*ret) != n) {
		snprintf(why, size, "%s %s: not a PEM file (holds a NUL byte)", key, path);
		free(*ret);
		*ret = NULL;
		return -EINVAL;
	}
	return 0;
}

/* The first certificate of pem; NULL with why set if there is none. */
static X509 *first_cert(const char *key, const char *path, const char *pem, char *why, size_t size)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	char what[CONFIG_PATH_MAX + 64];
	BIO_free(b);
	if (!x) {
		snprintf(what, sizeof(what), "%s %s: no PEM certificate in it", key, path);
		ssl_why(why, size, what);
	}
	return x;
}

/* A cpio (newc) archive of etc/bootwave/ with ca.pem in it when ca is set. */
static int make_cpio(const char *ca, uint8_t **ret, size_t *ret_len)
{
	struct archive *a = archive_write_new();
	size_t cap = 4096 + (ca ? strlen(ca) : 0), used = 0;
	uint8_t *buf = malloc(cap);
	int r = -ENOMEM;

	if (!a || !buf)
		goto out;
	if (archive_write_set_format_cpio_newc(a) != ARCHIVE_OK || archive_write_set_bytes_per_block(a, 0) != ARCHIVE_OK ||
	    archive_write_open_memory(a, buf, cap, &used) != ARCHIVE_OK)
		goto out;
	static const char *const dirs[] = { "etc", "etc/bootwave" };
	for (size_t i = 0; i < ARRAY_SIZE(dirs) + (ca ? 1 : 0); i++) {
		struct archive_entry *e = archive_entry_new();
		if (!e)
			goto out;
		archive_entry_set_pathname(e, i < ARRAY_SIZE(dirs) ? dirs[i] : "etc/bootwave/ca.pem");
		archive_entry_set_filetype(e, i < ARRAY_SIZE(dirs) ? AE_IFDIR : AE_IFREG);
		archive_entry_set_perm(e, i < ARRAY_SIZE(dirs) ? 0755 : 0644);
		archive_entry_set_size(e, i < ARRAY_SIZE(dirs) ? 0 : (la_int64_t)strlen(ca));
		archive_entry_set_nlink(e, i < ARRAY_SIZE(dirs) ? 2 : 1);
		archive_entry_set_ino(e, (la_int64_t)i + 1);
		r = archive_write_header(a, e);
		archive_entry_free(e);
		if (r != ARCHIVE_OK || (i == ARRAY_SIZE(dirs) && archive_write_data(a, ca, strlen(ca)) != (la_ssize_t)strlen(ca))) {
			r = -EIO;
			goto out;
		}
	}
	if (archive_write_close(a) != ARCHIVE_OK) {
		r = -EIO;
		goto out;
	}
	/* The next initrd must start at a multiple of 4 bytes (the agent's one
	 * follows end to end under UEFI): newc pads every entry so, but make sure. */
	while (used % 4 && used < cap)
		buf[used++] = 0;
	*ret = buf;
	*ret_len = used;
	buf = NULL;
	r = 0;
out:
	if (a)
		archive_write_free(a);
	free(buf);
	return r;
}

int api_tls_load(const struct config *c, struct api_tls *t, char *why, size_t size)
{
	const char *ca_path = c->tls_ca[0] ? c->tls_ca : c->tls_cert;
	X509 *cert = NULL, *ca = NULL;
	EVP_PKEY *pkey = NULL;
	char *ca_pem = NULL;
	struct stat st;
	int r = -EINVAL;

	memset(t, 0, sizeof(*t));
	if (!c->tls_cert[0]) {
		if ((r = make_cpio(NULL, &t->ca_cpio, &t->ca_cpio_len)) < 0)
			snprintf(why, size, "cannot build the agent's CA archive: %s", strerror(-r));
		return r;
	}
	/* The key: only its owner (and group) may read it. */
	if (stat(c->tls_key, &st) == 0 && (st.st_mode & S_IROTH)) {
		snprintf(why, size, "[api] tls_key %s: readable by others (mode %03o): chmod o-r it", c->tls_key,
			 (unsigned)(st.st_mode & 0777));
		goto fail;
	}
	if ((r = read_pem("[api] tls_cert", c->tls_cert, &t->cert_pem, why, size)) < 0 ||
	    (r = read_pem("[api] tls_key", c->tls_key, &t->key_pem, why, size)) < 0)
		goto fail;
	/* Without tls_ca the certificate itself is pinned: the text already read. */
	if (c->tls_ca[0])
		r = read_pem("[api] tls_ca", ca_path, &ca_pem, why, size);
	else if (!(ca_pem = strdup(t->cert_pem))) {
		snprintf(why, size, "out of memory");
		r = -ENOMEM;
	}
	if (r < 0)
		goto fail;
	r = -EINVAL;
	if (!(cert = first_cert("[api] tls_cert", c->tls_cert, t->cert_pem, why, size)) ||
	    !(ca = first_cert(c->tls_ca[0] ? "[api] tls_ca" : "[api] tls_cert", ca_path, ca_pem, why, size)))
		goto fail;
	{
		BIO *b = BIO_new_mem_buf(t->key_pem, -1);
		pkey = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
		BIO_free(b);
	}
	if (!pkey) {
		char what[CONFIG_PATH_MAX + 64];
		snprintf(what, sizeof(what), "[api] tls_key %s: no unencrypted PEM private key in it", c->tls_key);
		ssl_why(why, size, what);
		goto fail;
	}
	if (X509_check_private_key(cert, pkey) != 1) {
		char what[2 * CONFIG_PATH_MAX + 64];
		snprintf(what, sizeof(what), "[api] tls_key %s does not match the certificate of tls_cert %s", c->tls_key,
			 c->tls_cert);
		ssl_why(why, size, what);
		goto fail;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0) {
		snprintf(why, size, "[api] tls_cert %s: the certificate has expired", c->tls_cert);
		goto fail;
	}
	if ((r = make_cpio(ca_pem, &t->ca_cpio, &t->ca_cpio_len)) < 0) {
		snprintf(why, size, "cannot build the agent's CA archive: %s", strerror(-r));
		goto fail;
	}
	t->enabled = true;
	r = 0;
	goto out;
fail:
	api_tls_free(t);
out:
	X509_free(cert);
	X509_free(ca);
	EVP_PKEY_free(pkey);
	free(ca_pem);
	return r;
}

void api_tls_free(struct api_tls *t)
{
	free(t->cert_pem);
	if (t->key_pem) {
		explicit_bzero(t->key_pem, strlen(t->key_pem));
		free(t->key_pem);
	}
	free(t->ca_cpio);
	memset(t, 0, sizeof(*t));
}
