// SPDX-License-Identifier: Apache-2.0
/*
 * Range-checked writes to one partition of a disk, zero-skipping raw image
 * writes, and loop devices bounded to a partition.
 */
#include "slot.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

int slot_init(struct slot *s, int fd, bool blockdev, uint64_t off, uint64_t len)
{
	if (len == 0 || off % 512 || len % 512 || off + len < off)
		return -EINVAL;
	*s = (struct slot){ .fd = fd, .blockdev = blockdev, .off = off, .len = len };
	return 0;
}

static bool inside(const struct slot *s, uint64_t pos, uint64_t n)
{
	return pos <= s->len && n <= s->len - pos;
}

int slot_pwrite(const struct slot *s, const void *buf, size_t n, uint64_t pos)
{
	const uint8_t *p = buf;

	if (!inside(s, pos, n))
		return -ENOSPC;
	while (n > 0) {
		ssize_t w = pwrite(s->fd, p, n, (off_t)(s->off + pos));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		pos += (uint64_t)w;
		n -= (size_t)w;
	}
	return 0;
}

int slot_zero(const struct slot *s, uint64_t pos, uint64_t n)
{
	static const uint8_t zeros[SLOT_BLOCK];

	if (!inside(s, pos, n))
		return -ENOSPC;
	if (n == 0)
		return 0;
	if (s->blockdev) {
		uint64_t range[2] = { s->off + pos, n };
		if (pos % 512 == 0 && n % 512 == 0 && ioctl(s->fd, BLKZEROOUT, range) == 0)
			return 0;
	} else if (fallocate(s->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(s->off + pos), (off_t)n) == 0)
		return 0;
	/* No cheap way: write the zeros. */
	while (n > 0) {
		size_t k = n < sizeof(zeros) ? (size_t)n : sizeof(zeros);
		int r = slot_pwrite(s, zeros, k, pos);
		if (r < 0)
			return r;
		pos += k;
		n -= k;
	}
	return 0;
}

int slot_sync(const struct slot *s)
{
	return fsync(s->fd) < 0 ? -errno : 0;
}

/* ---- raw images ---- */

int slot_raw_begin(struct slot_raw *w, const struct slot *s)
{
	*w = (struct slot_raw){ .slot = s };
	w->blk = malloc(SLOT_BLOCK);
	return w->blk ? 0 : -ENOMEM;
}

static int flush_zero(struct slot_raw *w)
{
	int r = slot_zero(w->slot, w->zero_at, w->zero_len);
	if (r == 0) {
		w->skipped += w->zero_len;
		w->zero_len = 0;
	}
	return r;
}

/* Writes the buffered block (at pos - fill). */
static int flush_block(struct slot_raw *w)
{
	uint64_t at = w->pos - w->fill;
	int r;

	if (w->fill == 0)
		return 0;
	if (mem_is_zero(w->blk, w->fill)) {
		if (w->zero_len && w->zero_at + w->zero_len != at && (r = flush_zero(w)) < 0)
			return r;
		if (!w->zero_len)
			w->zero_at = at;
		w->zero_len += w->fill;
	} else {
		if (w->zero_len && (r = flush_zero(w)) < 0)
			return r;
		if ((r = slot_pwrite(w->slot, w->blk, w->fill, at)) < 0)
			return r;
		w->written += w->fill;
	}
	w->fill = 0;
	return 0;
}

int slot_raw_feed(struct slot_raw *w, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	if (w->pos + n > w->slot->len || w->pos + n < w->pos)
		return -ENOSPC;
	while (n > 0) {
		size_t k = SLOT_BLOCK - w->fill;
		int r;
		if (k > n)
			k = n;
		memcpy(w->blk + w->fill, p, k);
		w->fill += k;
		w->pos += k;
		p += k;
		n -= k;
		if (w->fill == SLOT_BLOCK && (r = flush_block(w)) < 0)
			return r;
	}
	return 0;
}

int slot_raw_end(struct slot_raw *w)
{
	int r = flush_block(w);
	if (r == 0 && w->zero_len)
		r = flush_zero(w);
	return r;
}

void slot_raw_free(struct slot_raw *w)
{
	free(w->blk);
	w->blk = NULL;
}

/* ---- loop devices ---- */

int slot_loop_attach(const struct slot *s, char *dev, size_t size)
{
	int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC), fd = -1, r = 0;
	struct loop_config cfg = { .fd = (unsigned)s->fd };

	if (ctl < 0)
		return -errno;
	for (int tries = 0; tries < 8; tries++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0) {
			r = -errno;
			break;
		}
		snprintf(dev, size, "/dev/loop%d", n);
		fd = open(dev, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
			break;
		}
		cfg.info.lo_offset = s->off;
		cfg.info.lo_sizelimit = s->len;
		snprintf((char *)cfg.info.lo_file_name, sizeof(cfg.info.lo_file_name), "bootwave-slot");
		if (ioctl(fd, LOOP_CONFIGURE, &cfg) == 0) {
			r = 0;
			break;
		}
		r = -errno;
		close(fd);
		fd = -1;
		if (r != -EBUSY)
			break; /* EBUSY: another process took it meanwhile */
	}
	close(ctl);
	/* Not autoclear: the device stays until slot_loop_detach, whoever closes it. */
	if (fd >= 0)
		close(fd);
	return r;
}

int slot_loop_detach(const char *dev)
{
	int fd = open(dev, O_RDWR | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, LOOP_CLR_FD, 0) < 0 && errno != ENXIO)
		r = -errno;
	close(fd);
	return r;
}
