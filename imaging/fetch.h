/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A download read like a file: the agent pulls the image artifact over HTTP
 * (libcurl's multi interface, one transfer, no threads) with fetch_read, at
 * its own pace, through a buffer of FETCH_BUF bytes: curl is paused while
 * the buffer is full, so memory is bounded whatever the image size. The
 * SHA-256 and the byte count of everything read are kept on the way.
 *
 * Ends with an error (and a reason) when the server answers other than 200,
 * sends more than the announced size, stops before it (truncated), or sends
 * nothing for stall_timeout seconds (stalled). A transfer cut by the server
 * going away (connection refused or reset, cut short, 502-504: a restart of
 * bootwaved) is resumed from the first missing byte with a Range request,
 * with backoff, for as long as the last byte came less than stall_timeout
 * seconds ago.
 */
#ifndef BW_FETCH_H
#define BW_FETCH_H

#include <stdint.h>
#include <sys/types.h>

#define FETCH_BUF (1024 * 1024)

struct fetch;

/*
 * Starts GET url with "Authorization: Bearer token" (token may be NULL).
 * ca: PEM file an https server's certificate is checked with, alone (NULL
 * or "": the system's CAs). size: the exact number of bytes expected.
 * Nothing is transferred until the first fetch_read.
 */
int fetch_open(const char *url, const char *token, const char *ca, uint64_t size, unsigned stall_timeout,
	       struct fetch **ret);

/*
 * Reads up to len bytes into buf: the count (> 0), 0 at the end (all size
 * bytes came with a 200), or a negative errno with *ret_why (static or
 * owned by f, valid until fetch_close) saying what went wrong:
 * -EPROTO bad status, -EFBIG more than size, -EPIPE truncated,
 * -ETIMEDOUT stalled, -EIO other transfer error.
 */
ssize_t fetch_read(struct fetch *f, void *buf, size_t len, const char **ret_why);

/* Bytes read so far, and the SHA-256 (hex) of all of them (final once fetch_read returned 0). */
uint64_t fetch_done(const struct fetch *f);
void fetch_sha256(struct fetch *f, char hex[65]);

void fetch_close(struct fetch *f);

#endif
