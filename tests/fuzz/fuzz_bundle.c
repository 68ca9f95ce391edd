// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the normalization of extension bundles
 * (imaging/bundle.c), what bootwaved runs on an archive an operator
 * uploads: the bytes are the upload (any format libarchive reads), the
 * entry script is "run". A refusal must name an errno of bundle.h and say
 * why; an accepted bundle must be what bundle_info says (size, sha256) and
 * be canonical: normalizing the normalized tar again gives the same bytes.
 * Build with clang -fsanitize=fuzzer, or replay a corpus with replay.c.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle.h"
#include "crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct bundle_limits limits = { .max_bytes = 1 << 20, .max_entries = 256 };

/* An empty memfd; -1 on failure. */
static int memfd(void)
{
	return memfd_create("fuzz-bundle", MFD_CLOEXEC);
}

/* The bytes of fd (from its start), malloc'd into *ret; -1 on failure. */
static ssize_t slurp(int fd, uint8_t **ret)
{
	struct stat st;
	uint8_t *b;

	if (fstat(fd, &st) < 0 || !(b = malloc(st.st_size ? (size_t)st.st_size : 1)))
		return -1;
	if (pread(fd, b, (size_t)st.st_size, 0) != st.st_size) {
		free(b);
		return -1;
	}
	*ret = b;
	return st.st_size;
}

static void check_refusal(int r, const char *why, size_t why_size)
{
	switch (-r) {
	case EBADMSG: case EPROTO: case EINVAL: case ENAMETOOLONG: case EPERM: case EEXIST: case ENOEXEC: case EFBIG:
	case E2BIG: case ENOMEM:
		break;
	default:
		fprintf(stderr, "fuzz_bundle: errno %d is not one of bundle.h's (%s)\n", -r, why);
		abort();
	}
	if (!memchr(why, '\0', why_size) || !why[0])
		abort(); /* every refusal says why */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char scratch[] = "/tmp/fuzz-bundle-XXXXXX";
	static bool made;
	struct bundle_info info, again;
	char path[64], why[512], hex[SHA256_HEX_LEN + 1];
	uint8_t *out = NULL, *out2 = NULL;
	ssize_t n, n2;
	int in = -1, o = -1, o2 = -1, r;

	if (!made) {
		if (!mkdtemp(scratch))
			abort();
		made = true;
	}
	if ((in = memfd()) < 0 || (size && write(in, data, size) != (ssize_t)size) || (o = memfd()) < 0 ||
	    (o2 = memfd()) < 0)
		goto out;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", in);
	why[0] = '\0';
	r = bundle_normalize(path, o, scratch, "run", &limits, &info, why, sizeof(why));
	if (getenv("FUZZ_VERBOSE")) /* for whoever writes seeds */
		fprintf(stderr, "%d %s\n", r, r < 0 ? why : "");
	if (r < 0) {
		check_refusal(r, why, sizeof(why));
		goto out;
	}
	if ((n = slurp(o, &out)) < 0)
		goto out;
	/* What bundle_info says is what was written. */
	{
		struct sha256_ctx *c = sha256_new();
		if (!c)
			goto out;
		sha256_update(c, out, (size_t)n);
		sha256_final_hex(c, hex);
		sha256_free(c);
	}
	if ((uint64_t)n != info.size || strcmp(hex, info.sha256) != 0 || info.files > info.entries ||
	    info.entries > limits.max_entries || info.size > limits.max_bytes || info.files == 0)
		abort();
	/* Canonical: the normalized tar normalizes to itself. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", o);
	r = bundle_normalize(path, o2, scratch, "run", &limits, &again, why, sizeof(why));
	if (r < 0) {
		fprintf(stderr, "fuzz_bundle: the normalized tar is refused: %s\n", why);
		abort();
	}
	if ((n2 = slurp(o2, &out2)) < 0)
		goto out;
	if (n2 != n || memcmp(out, out2, (size_t)n) != 0 || strcmp(again.sha256, info.sha256) != 0 ||
	    again.entries != info.entries || again.files != info.files)
		abort();
out:
	free(out);
	free(out2);
	if (in >= 0)
		close(in);
	if (o >= 0)
		close(o);
	if (o2 >= 0)
		close(o2);
	return 0;
}
