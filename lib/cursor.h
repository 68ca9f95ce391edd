/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bounded reading and writing of wire formats. A parser moves a cursor over
 * (buf, len) and every read checks the bytes left first; a failed read
 * returns -EBADMSG and leaves the cursor where it was, so a parser can
 * "goto too_short" on the first negative return. Writers append to a fixed
 * buffer and remember an overflow instead of writing past the end.
 * Multi-byte fields are big-endian (network order) and copied with memcpy,
 * never read by casting a packet to a struct.
 */
#ifndef BW_CURSOR_H
#define BW_CURSOR_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct cursor {
	const uint8_t *p;
	size_t left;
};

static inline void cursor_init(struct cursor *c, const void *buf, size_t len)
{
	c->p = buf;
	c->left = len;
}

static inline int cursor_skip(struct cursor *c, size_t n)
{
	if (c->left < n)
		return -EBADMSG;
	c->p += n;
	c->left -= n;
	return 0;
}

/* Points *ret at the next n bytes (inside the buffer) and moves past them. */
static inline int cursor_bytes(struct cursor *c, size_t n, const uint8_t **ret)
{
	if (c->left < n)
		return -EBADMSG;
	*ret = c->p;
	c->p += n;
	c->left -= n;
	return 0;
}

static inline int cursor_copy(struct cursor *c, void *out, size_t n)
{
	if (c->left < n)
		return -EBADMSG;
	memcpy(out, c->p, n);
	c->p += n;
	c->left -= n;
	return 0;
}

static inline int cursor_u8(struct cursor *c, uint8_t *ret)
{
	if (c->left < 1)
		return -EBADMSG;
	*ret = c->p[0];
	c->p++;
	c->left--;
	return 0;
}

static inline int cursor_be16(struct cursor *c, uint16_t *ret)
{
	if (c->left < 2)
		return -EBADMSG;
	*ret = (uint16_t)(c->p[0] << 8 | c->p[1]);
	c->p += 2;
	c->left -= 2;
	return 0;
}

static inline int cursor_be32(struct cursor *c, uint32_t *ret)
{
	if (c->left < 4)
		return -EBADMSG;
	*ret = (uint32_t)c->p[0] << 24 | (uint32_t)c->p[1] << 16 | (uint32_t)c->p[2] << 8 | c->p[3];
	c->p += 4;
	c->left -= 4;
	return 0;
}

/*
 * Little-endian fields, for the formats that use them (GPT, MBR): same
 * contract as the big-endian readers above.
 */
static inline int cursor_le16(struct cursor *c, uint16_t *ret)
{
	if (c->left < 2)
		return -EBADMSG;
	*ret = (uint16_t)(c->p[0] | c->p[1] << 8);
	c->p += 2;
	c->left -= 2;
	return 0;
}

static inline int cursor_le32(struct cursor *c, uint32_t *ret)
{
	if (c->left < 4)
		return -EBADMSG;
	*ret = (uint32_t)c->p[0] | (uint32_t)c->p[1] << 8 | (uint32_t)c->p[2] << 16 | (uint32_t)c->p[3] << 24;
	c->p += 4;
	c->left -= 4;
	return 0;
}

static inline int cursor_le64(struct cursor *c, uint64_t *ret)
{
	uint64_t v = 0;
	if (c->left < 8)
		return -EBADMSG;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | c->p[i];
	*ret = v;
	c->p += 8;
	c->left -= 8;
	return 0;
}

/*
 * A NUL-terminated string of at most max bytes (without the NUL) that must
 * end inside the buffer: *ret points into the buffer, *ret_len is its length.
 * -EBADMSG if no NUL is left in the buffer, -EMSGSIZE if the string is longer
 * than max.
 */
static inline int cursor_cstring(struct cursor *c, size_t max, const char **ret, size_t *ret_len)
{
	const uint8_t *nul;
	size_t n;
	if (c->left == 0) /* also keeps memchr away from a NULL buffer */
		return -EBADMSG;
	nul = memchr(c->p, 0, c->left);
	if (!nul)
		return -EBADMSG;
	n = (size_t)(nul - c->p);
	if (n > max)
		return -EMSGSIZE;
	*ret = (const char *)c->p;
	if (ret_len)
		*ret_len = n;
	c->p += n + 1;
	c->left -= n + 1;
	return 0;
}

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	bool overflow;
};

static inline void wbuf_init(struct wbuf *w, void *buf, size_t cap)
{
	w->p = buf;
	w->len = 0;
	w->cap = cap;
	w->overflow = false;
}

static inline void wbuf_bytes(struct wbuf *w, const void *data, size_t n)
{
	if (n == 0)
		return;
	if (w->overflow || w->cap - w->len < n) {
		w->overflow = true;
		return;
	}
	memcpy(w->p + w->len, data, n);
	w->len += n;
}

static inline void wbuf_u8(struct wbuf *w, uint8_t v) { wbuf_bytes(w, &v, 1); }

static inline void wbuf_be16(struct wbuf *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	wbuf_bytes(w, b, 2);
}

static inline void wbuf_be32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	wbuf_bytes(w, b, 4);
}

static inline void wbuf_le16(struct wbuf *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
	wbuf_bytes(w, b, 2);
}

static inline void wbuf_le32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	wbuf_bytes(w, b, 4);
}

static inline void wbuf_le64(struct wbuf *w, uint64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> 8 * i);
	wbuf_bytes(w, b, 8);
}

/* The string and its NUL. */
static inline void wbuf_cstring(struct wbuf *w, const char *s) { wbuf_bytes(w, s, strlen(s) + 1); }

#endif
