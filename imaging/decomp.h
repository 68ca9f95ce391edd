/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Streaming decompression of raw partition images: gzip (zlib, several
 * members allowed) and zstd (several frames allowed), or none. Data is
 * pushed in as it arrives and comes out through a sink in pieces of at
 * most DECOMP_OUT bytes, so memory stays bounded whatever the image size:
 * a zstd frame whose window exceeds DECOMP_ZSTD_WINDOW_LOG is refused.
 */
#ifndef BW_DECOMP_H
#define BW_DECOMP_H

#include <stddef.h>

#define DECOMP_OUT (256 * 1024)
#define DECOMP_ZSTD_WINDOW_LOG 25 /* 32 MiB: zstd -19 uses 8 MiB; --long/--ultra more */

struct decomp;

/* Receives decompressed bytes; a negative return stops decomp_feed and is returned by it. */
typedef int (*decomp_sink)(const void *buf, size_t len, void *userdata);

/* compression: "none", "gzip" or "zstd". -EINVAL otherwise, -ENOMEM. */
int decomp_new(const char *compression, struct decomp **ret);
void decomp_free(struct decomp *d);

/*
 * Decompresses in[len] into sink. -EBADMSG for corrupt data (*ret_why, if
 * not NULL, says what the library reported), or the sink's error.
 */
int decomp_feed(struct decomp *d, const void *in, size_t len, decomp_sink sink, void *userdata, const char **ret_why);

/* At the end of input: -EBADMSG if the stream stopped inside a member or frame. */
int decomp_finish(struct decomp *d, const char **ret_why);

#endif
