/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The OS slot writer: every write of the agent to a disk goes through a
 * struct slot, which holds the byte range of one partition (from the GPT)
 * and refuses anything outside it. Nothing else in the agent opens a disk
 * for writing. A raw image is written through slot_raw_* (zero blocks are
 * not written but zeroed cheaply: BLKZEROOUT on a block device, a punched
 * hole in a file); a tarball gets a loop device bounded to the slot
 * (offset and size limit set in the kernel), a fresh ext4 and an extraction.
 */
#ifndef BW_SLOT_H
#define BW_SLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SLOT_BLOCK (64 * 1024) /* zero detection and write unit of raw images */

struct slot {
	int fd;          /* the whole disk, O_RDWR; not owned */
	bool blockdev;
	uint64_t off, len; /* byte range on the disk */
};

/* A slot over [off, off + len) of the disk open as fd. -EINVAL if the range is empty, unaligned to 512 or overflows. */
int slot_init(struct slot *s, int fd, bool blockdev, uint64_t off, uint64_t len);

/* Writes buf[n] at pos inside the slot. -ENOSPC if pos + n passes the end: nothing is written then. */
int slot_pwrite(const struct slot *s, const void *buf, size_t n, uint64_t pos);

/* Makes [pos, pos + n) of the slot read as zeros. -ENOSPC past the end. */
int slot_zero(const struct slot *s, uint64_t pos, uint64_t n);

/* Flushes the disk's cache for the slot's writes. */
int slot_sync(const struct slot *s);

/*
 * Raw image writer: feed the decompressed image in pieces of any size; the
 * image is written from the slot's start. -ENOSPC (and *ret_why) when the
 * image is larger than the slot.
 */
struct slot_raw {
	const struct slot *slot;
	uint64_t pos;             /* bytes of image consumed */
	uint8_t *blk;             /* SLOT_BLOCK */
	size_t fill;
	uint64_t zero_at, zero_len; /* a run of zero blocks not yet zeroed */
	uint64_t written, skipped;  /* bytes written, bytes zeroed instead */
};
int slot_raw_begin(struct slot_raw *w, const struct slot *s);
int slot_raw_feed(struct slot_raw *w, const void *buf, size_t n);
/* Writes what is buffered; then the image is complete on the slot. */
int slot_raw_end(struct slot_raw *w);
void slot_raw_free(struct slot_raw *w);

/*
 * Attaches a loop device to the slot's range of the disk (offset and size
 * limit enforced by the kernel), its path into dev[size]. The caller detaches
 * it with slot_loop_detach.
 */
int slot_loop_attach(const struct slot *s, char *dev, size_t size);
int slot_loop_detach(const char *dev);

#endif
