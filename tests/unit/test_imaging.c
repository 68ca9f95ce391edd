// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of the imaging library pieces the agent trusts: the slot
 * writer's bounds and zero skipping, streaming decompression (truncation,
 * several members), the manifest's strict decoding, and Ed25519 checks
 * (keys and signatures made by OpenSSL itself).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "decomp.h"
#include "manifest.h"
#include "sign.h"
#include "slot.h"
#include "testutil.h"

/* ---- slot ---- */

static int tmp_disk(size_t size, uint8_t fill)
{
	char path[] = "/tmp/bw-slot-XXXXXX";
	int fd = mkstemp(path);
	uint8_t *buf = malloc(size);
	assert_true(fd >= 0 && buf);
	unlink(path);
	memset(buf, fill, size);
	assert_int_equal(write(fd, buf, size), (ssize_t)size);
	free(buf);
	return fd;
}

static void expect_bytes(int fd, uint64_t off, uint64_t len, uint8_t want)
{
	uint8_t *buf = malloc(len);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	for (uint64_t i = 0; i < len; i++)
		if (buf[i] != want)
			fail_msg("byte %llu is %u, expected %u", (unsigned long long)(off + i), buf[i], want);
	free(buf);
}

static void test_slot_bounds(void **state)
{
	struct slot s;
	uint8_t b[4096];
	int fd = tmp_disk(1 << 20, 0xAA);
	(void)state;

	assert_int_equal(slot_init(&s, fd, false, 1000, 4096), -EINVAL); /* unaligned */
	assert_int_equal(slot_init(&s, fd, false, 4096, 0), -EINVAL);
	assert_int_equal(slot_init(&s, fd, false, UINT64_MAX - 511, 1024), -EINVAL);
	assert_int_equal(slot_init(&s, fd, false, 65536, 65536), 0);
	memset(b, 0x55, sizeof(b));
	assert_int_equal(slot_pwrite(&s, b, sizeof(b), 65536 - 4096), 0);
	assert_int_equal(slot_pwrite(&s, b, sizeof(b), 65536 - 4095), -ENOSPC); /* one byte past the end */
	assert_int_equal(slot_pwrite(&s, b, 1, UINT64_MAX), -ENOSPC);
	assert_int_equal(slot_zero(&s, 65536, 1), -ENOSPC);
	assert_int_equal(slot_zero(&s, 0, 4096), 0);
	expect_bytes(fd, 0, 65536, 0xAA);          /* before the slot */
	expect_bytes(fd, 65536, 4096, 0);           /* zeroed */
	expect_bytes(fd, 65536 + 4096, 65536 - 8192, 0xAA);
	expect_bytes(fd, 2 * 65536 - 4096, 4096, 0x55);
	expect_bytes(fd, 2 * 65536, (1 << 20) - 2 * 65536, 0xAA); /* after the slot */
	close(fd);
}

static void test_slot_raw_zero_skip(void **state)
{
	const uint64_t off = 1 << 20, len = 4 << 20;
	struct slot s;
	struct slot_raw w;
	uint8_t *img = calloc(1, 3 << 20);
	int fd = tmp_disk(8 << 20, 0xAA);
	struct stat st1, st2;
	(void)state;

	assert_non_null(img);
	memset(img + 100, 7, 10);                 /* data in the first block */
	memset(img + (2 << 20) + 5, 9, 70000);    /* data across blocks, unaligned */
	assert_int_equal(slot_init(&s, fd, false, off, len), 0);
	assert_int_equal(slot_raw_begin(&w, &s), 0);
	/* Odd piece sizes, as a decompressor hands them out. */
	for (size_t pos = 0, k = 1; pos < (3 << 20); pos += k, k = k * 3 % 200003 + 1) {
		if (pos + k > (3 << 20))
			k = (3 << 20) - pos;
		assert_int_equal(slot_raw_feed(&w, img + pos, k), 0);
	}
	assert_int_equal(slot_raw_end(&w), 0);
	slot_raw_free(&w);
	assert_true(w.skipped > (2 << 20));       /* most of it was holes */
	{
		uint8_t *back = malloc(3 << 20);
		assert_int_equal(pread(fd, back, 3 << 20, (off_t)off), 3 << 20);
		assert_memory_equal(back, img, 3 << 20); /* old 0xAA bytes became zeros */
		free(back);
	}
	expect_bytes(fd, 0, off, 0xAA);
	expect_bytes(fd, off + (3 << 20), len - (3 << 20), 0xAA); /* the rest of the slot is left alone */
	expect_bytes(fd, off + len, (8 << 20) - off - len, 0xAA);
	/* A bigger image than the slot is refused before anything passes the end. */
	fstat(fd, &st1);
	assert_int_equal(slot_raw_begin(&w, &s), 0);
	assert_int_equal(slot_raw_feed(&w, img, 3 << 20), 0);
	assert_int_equal(slot_raw_feed(&w, img, 2 << 20), -ENOSPC);
	slot_raw_free(&w);
	fstat(fd, &st2);
	assert_int_equal(st1.st_size, st2.st_size);
	expect_bytes(fd, off + len, (8 << 20) - off - len, 0xAA);
	free(img);
	close(fd);
}

/* ---- decompression ---- */

struct collect {
	uint8_t *buf;
	size_t n, cap;
};

static int collect(const void *buf, size_t len, void *userdata)
{
	struct collect *c = userdata;
	if (c->n + len > c->cap)
		return -EFBIG;
	memcpy(c->buf + c->n, buf, len);
	c->n += len;
	return 0;
}

static size_t gz(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	z_stream z = { 0 };
	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (uint8_t *)in;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	deflateEnd(&z);
	return z.total_out;
}

static void test_decomp(void **state)
{
	static uint8_t plain[300000], packed[700000];
	struct collect c = { .buf = malloc(2 * sizeof(plain)), .cap = 2 * sizeof(plain) };
	struct decomp *d;
	const char *why;
	size_t a, b, z;
	(void)state;

	for (size_t i = 0; i < sizeof(plain); i++)
		plain[i] = (uint8_t)(i * 7 / 1000);
	/* gzip: two members back to back, fed in small pieces. */
	a = gz(plain, sizeof(plain), packed, sizeof(packed));
	b = gz(plain, sizeof(plain), packed + a, sizeof(packed) - a);
	assert_int_equal(decomp_new("gzip", &d), 0);
	for (size_t pos = 0; pos < a + b; pos += 1000)
		assert_int_equal(decomp_feed(d, packed + pos, pos + 1000 > a + b ? a + b - pos : 1000, collect, &c, &why), 0);
	assert_int_equal(decomp_finish(d, &why), 0);
	assert_int_equal(c.n, 2 * sizeof(plain));
	assert_memory_equal(c.buf + sizeof(plain), plain, sizeof(plain));
	decomp_free(d);
	/* Truncated gzip and zstd are noticed at the end. */
	c.n = 0;
	assert_int_equal(decomp_new("gzip", &d), 0);
	assert_int_equal(decomp_feed(d, packed, a - 10, collect, &c, &why), 0);
	assert_int_equal(decomp_finish(d, &why), -EBADMSG);
	assert_non_null(strstr(why, "truncated"));
	decomp_free(d);
	z = ZSTD_compress(packed, sizeof(packed), plain, sizeof(plain), 3);
	assert_false(ZSTD_isError(z));
	c.n = 0;
	assert_int_equal(decomp_new("zstd", &d), 0);
	assert_int_equal(decomp_feed(d, packed, z - 3, collect, &c, &why), 0);
	assert_int_equal(decomp_finish(d, &why), -EBADMSG);
	decomp_free(d);
	/* Corrupt data, and a sink error that stops the feed. */
	packed[0] ^= 0xff; /* not a zstd frame (corrupt data inside a frame is the SHA-256's job) */
	c.n = 0;
	assert_int_equal(decomp_new("zstd", &d), 0);
	assert_int_equal(decomp_feed(d, packed, z, collect, &c, &why), -EBADMSG);
	decomp_free(d);
	c.cap = 1000;
	c.n = 0;
	assert_int_equal(decomp_new("none", &d), 0);
	assert_int_equal(decomp_feed(d, plain, 2000, collect, &c, &why), -EFBIG);
	decomp_free(d);
	assert_int_equal(decomp_new("xz", &d), -EINVAL); /* raw images: gzip or zstd only */
	free(c.buf);
}

/* ---- manifest ---- */

static const char good[] =
	"{\"schema\":1,\"image\":\"os\",\"version\":\"1.0\",\"format\":\"raw\",\"compression\":\"zstd\","
	"\"artifact\":{\"file\":\"artifact.img.zst\",\"size\":123,\"sha256\":"
	"\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"source\":\"\"},"
	"\"kernel\":{\"file\":\"kernel\",\"size\":1,\"sha256\":"
	"\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\",\"source\":\"boot/vmlinuz\"},"
	"\"initrd\":null,\"content_size\":4096,\"entries\":0,\"cmdline\":\"quiet\"}";

/* Parses good with one substitution and expects the field named. */
static void expect_bad(const char *from, const char *to, const char *field)
{
	char text[2048];
	const char *p = strstr(good, from), *why = NULL;
	struct manifest m;

	assert_non_null(p);
	snprintf(text, sizeof(text), "%.*s%s%s", (int)(p - good), good, to, p + strlen(from));
	assert_int_equal(manifest_parse(text, strlen(text), &m, &why), -EINVAL);
	if (!why || !strstr(why, field))
		fail_msg("%s -> %s: expected %s, got %s", from, to, field, why ? why : "(none)");
}

static void test_manifest(void **state)
{
	struct manifest m;
	const char *why = NULL;
	char msg[512];
	(void)state;

	assert_int_equal(manifest_parse(good, strlen(good), &m, &why), 0);
	assert_string_equal(m.kernel.source, "boot/vmlinuz");
	assert_false(m.initrd.present);
	assert_int_equal(m.content_size, 4096);
	assert_true(manifest_signed_message(&m, msg, sizeof(msg)) > 0);
	assert_string_equal(msg, "bootwave-image-signature-v1\nos\n1.0\nraw\nzstd\n123\n"
				 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n");
	expect_bad("\"schema\":1", "\"schema\":2", "schema");
	expect_bad("\"image\":\"os\"", "\"image\":\"../os\"", "image");
	expect_bad("\"version\":\"1.0\"", "\"version\":\"latest\"", "version");
	expect_bad("\"compression\":\"zstd\"", "\"compression\":\"xz\"", "compression"); /* xz: tar only */
	expect_bad("\"size\":123", "\"size\":-1", "artifact.size");
	expect_bad("\"size\":123", "\"size\":9007199254740993", "artifact.size");
	expect_bad("\"file\":\"kernel\"", "\"file\":\"../kernel\"", "kernel.file");
	expect_bad("\"source\":\"boot/vmlinuz\"", "\"source\":\"boot/../../etc/shadow\"", "kernel.source");
	expect_bad("\"source\":\"boot/vmlinuz\"", "\"source\":\"/boot/vmlinuz\"", "kernel.source");
	expect_bad("\"sha256\":\"bbbb", "\"sha256\":\"BBBB", "kernel.sha256");
	expect_bad("\"cmdline\":\"quiet\"", "\"cmdline\":\"quiet;reboot\"", "cmdline");
	expect_bad("\"cmdline\":\"quiet\"", "\"cmdline\":\"q\",\"extra\":1", "unknown field");
	expect_bad("\"entries\":0", "\"entries\":0,\"entries\":1", "JSON");
	expect_bad("\"initrd\":null", "\"initrd\":{}", "initrd");
}

/* ---- signatures ---- */

static void test_sign(void **state)
{
	EVP_PKEY *k = NULL;
	EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	EVP_MD_CTX *mc = EVP_MD_CTX_new();
	BIO *bio = BIO_new(BIO_s_mem());
	struct sign_keyring kr = { 0 };
	uint8_t sig[64];
	size_t siglen = sizeof(sig);
	char hex[129], id[17], *pem;
	long pemlen;
	const char msg[] = "bootwave-image-signature-v1\nos\n1\nraw\nnone\n1\nab\n";
	const char *bad_pem = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
	(void)state;

	assert_true(kc && mc && bio);
	assert_int_equal(EVP_PKEY_keygen_init(kc), 1);
	assert_int_equal(EVP_PKEY_keygen(kc, &k), 1);
	assert_int_equal(PEM_write_bio_PUBKEY(bio, k), 1);
	pemlen = BIO_get_mem_data(bio, &pem);
	assert_int_equal(sign_key_from_pem(pem, (size_t)pemlen, &kr.keys[0]), 0);
	kr.n = 1;
	assert_int_equal(EVP_DigestSignInit(mc, NULL, NULL, NULL, k), 1);
	assert_int_equal(EVP_DigestSign(mc, sig, &siglen, (const uint8_t *)msg, strlen(msg)), 1);
	for (size_t i = 0; i < 64; i++)
		sprintf(hex + 2 * i, "%02x", sig[i]);
	assert_int_equal(sign_verify(&kr, msg, strlen(msg), hex, id), 0);
	assert_string_equal(id, kr.keys[0].id);
	assert_int_equal(sign_verify(&kr, msg, strlen(msg) - 1, hex, id), -EBADMSG); /* another message */
	hex[5] = hex[5] == '0' ? '1' : '0';
	assert_int_equal(sign_verify(&kr, msg, strlen(msg), hex, id), -EBADMSG); /* another signature */
	assert_int_equal(sign_verify(&kr, msg, strlen(msg), "abc", id), -EINVAL);
	kr.n = 0;
	assert_int_equal(sign_verify(&kr, msg, strlen(msg), hex, id), -EBADMSG); /* no key */
	assert_int_equal(sign_key_from_pem(bad_pem, strlen(bad_pem), &kr.keys[0]),
			 -EINVAL);
	BIO_free(bio);
	EVP_MD_CTX_free(mc);
	EVP_PKEY_CTX_free(kc);
	EVP_PKEY_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slot_bounds), cmocka_unit_test(test_slot_raw_zero_skip), cmocka_unit_test(test_decomp),
		cmocka_unit_test(test_manifest),    cmocka_unit_test(test_sign),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
