// SPDX-License-Identifier: Apache-2.0
/*
 * gzip (zlib inflate with gzip headers, member after member) and zstd
 * (ZSTD_decompressStream with a window limit) behind one push interface.
 */
#include "decomp.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "util.h"

enum kind { K_NONE, K_GZIP, K_ZSTD };

struct decomp {
	enum kind kind;
	z_stream z;
	bool z_init, z_end; /* z_end: between two gzip members */
	ZSTD_DCtx *zs;
	bool zs_mid;        /* inside a zstd frame */
	unsigned char *out;
};

int decomp_new(const char *compression, struct decomp **ret)
{
	struct decomp *d;

	if (!str_eq(compression, "none") && !str_eq(compression, "gzip") && !str_eq(compression, "zstd"))
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->kind = str_eq(compression, "gzip") ? K_GZIP : str_eq(compression, "zstd") ? K_ZSTD : K_NONE;
	if (d->kind != K_NONE && !(d->out = malloc(DECOMP_OUT)))
		goto nomem;
	if (d->kind == K_GZIP) {
		if (inflateInit2(&d->z, 15 + 16) != Z_OK)
			goto nomem;
		d->z_init = true;
	} else if (d->kind == K_ZSTD) {
		if (!(d->zs = ZSTD_createDCtx()) ||
		    ZSTD_isError(ZSTD_DCtx_setParameter(d->zs, ZSTD_d_windowLogMax, DECOMP_ZSTD_WINDOW_LOG)))
			goto nomem;
	}
	*ret = d;
	return 0;
nomem:
	decomp_free(d);
	return -ENOMEM;
}

void decomp_free(struct decomp *d)
{
	if (!d)
		return;
	if (d->z_init)
		inflateEnd(&d->z);
	ZSTD_freeDCtx(d->zs);
	free(d->out);
	free(d);
}

static int feed_gzip(struct decomp *d, const void *in, size_t len, decomp_sink sink, void *ud, const char **why)
{
	d->z.next_in = (unsigned char *)in;
	d->z.avail_in = (uInt)len;
	while (d->z.avail_in > 0) {
		int zr, r;
		if (d->z_end) {
			/* Another gzip member follows (pigz, cat a.gz b.gz). */
			if (inflateReset(&d->z) != Z_OK)
				return *why = "gzip: cannot reset", -EBADMSG;
			d->z_end = false;
		}
		d->z.next_out = d->out;
		d->z.avail_out = DECOMP_OUT;
		zr = inflate(&d->z, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
			return *why = d->z.msg ? d->z.msg : "gzip: corrupt data", -EBADMSG;
		if (DECOMP_OUT - d->z.avail_out > 0 && (r = sink(d->out, DECOMP_OUT - d->z.avail_out, ud)) < 0)
			return r;
		if (zr == Z_STREAM_END)
			d->z_end = true;
	}
	return 0;
}

static int feed_zstd(struct decomp *d, const void *in, size_t len, decomp_sink sink, void *ud, const char **why)
{
	ZSTD_inBuffer ib = { in, len, 0 };

	while (ib.pos < ib.size) {
		ZSTD_outBuffer ob = { d->out, DECOMP_OUT, 0 };
		size_t zr = ZSTD_decompressStream(d->zs, &ob, &ib);
		int r;
		if (ZSTD_isError(zr)) {
			*why = ZSTD_getErrorCode(zr) == ZSTD_error_frameParameter_windowTooLarge
				       ? "zstd: window larger than 32 MiB (compressed with --long or --ultra?)"
				       : ZSTD_getErrorName(zr);
			return -EBADMSG;
		}
		d->zs_mid = zr != 0;
		if (ob.pos > 0 && (r = sink(d->out, ob.pos, ud)) < 0)
			return r;
	}
	return 0;
}

int decomp_feed(struct decomp *d, const void *in, size_t len, decomp_sink sink, void *userdata, const char **ret_why)
{
	const char *dummy;

	if (!ret_why)
		ret_why = &dummy;
	if (len == 0)
		return 0;
	switch (d->kind) {
	case K_GZIP:
		return feed_gzip(d, in, len, sink, userdata, ret_why);
	case K_ZSTD:
		return feed_zstd(d, in, len, sink, userdata, ret_why);
	default:
		return sink(in, len, userdata);
	}
}

int decomp_finish(struct decomp *d, const char **ret_why)
{
	const char *dummy;

	if (!ret_why)
		ret_why = &dummy;
	if (d->kind == K_GZIP && !d->z_end)
		return *ret_why = "gzip: data ends inside a member (truncated)", -EBADMSG;
	if (d->kind == K_ZSTD && d->zs_mid)
		return *ret_why = "zstd: data ends inside a frame (truncated)", -EBADMSG;
	return 0;
}
