/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GUID Partition Tables (UEFI 2.10 section 5.3) on a node's OS disk, for the
 * agent: find the OS slots `bw-os-a`, `bw-os-b` and the optional `bw-data`
 * by partition name and compute their byte ranges, and create that layout on
 * a blank disk. The agent refuses any write outside a range it got from here,
 * so this is a safety-critical reader: anything inconsistent is refused, with
 * *ret_why naming the exact check that failed (a static string, safe to log).
 * The parsers are pure (no I/O, fuzzed by tests/fuzz/fuzz_gpt.c); the
 * functions taking an fd read and write whole sectors at sector offsets
 * from 4096-aligned buffers, so the fd may be opened with O_DIRECT. Nothing
 * here logs, nothing keeps memory: every output is the caller's struct.
 *
 * Choices where the spec leaves room (all refusals are -EBADMSG):
 *   - revision exactly 1.0; header size 92..sector; the reserved field at
 *     offset 20 zero; entry size 128 * 2^n up to GPT_ENTRY_SIZE_MAX; 1 to
 *     GPT_ENTRIES_MAX entries in an array of at most GPT_ARRAY_MAX bytes.
 *   - the primary header at LBA 1 names the last LBA as its alternate and the
 *     backup at the last LBA names LBA 1: a disk grown or shrunk since it was
 *     partitioned is refused (the size we see is not the one the table was
 *     made for; `sgdisk -e` fixes a grown one).
 *   - the primary entry array lies between its header and the first usable
 *     LBA, the backup array between the last usable LBA and its header, and
 *     the usable range leaves room for both arrays.
 *   - partitions in use (type GUID not zero): first <= last, inside the
 *     usable range, no two overlapping, unique GUIDs not zero and distinct,
 *     at most GPT_MAX_PARTS of them. Unused entries are not looked at.
 *   - a GPT needs a protective (or hybrid) MBR at LBA 0: an MBR without an
 *     0xEE partition starting at LBA 1 means the GPT is stale (the disk was
 *     repartitioned by an MBR tool), and the table is refused.
 *   - primary and backup both valid but different: refused, there is no
 *     telling which one is right. One valid and the other corrupt or
 *     missing: the valid one is used and gpt_table.other_why says why the
 *     other one was not (the agent should log it).
 */
#ifndef BW_GPT_H
#define BW_GPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GPT_MAX_PARTS 128        /* partitions in use that a table may hold */
#define GPT_ENTRIES_MAX 1024     /* entries in the array, used or not */
#define GPT_ENTRY_SIZE_MAX 4096  /* bytes of one entry */
#define GPT_ARRAY_MAX (1u << 20) /* bytes of the entry array */
#define GPT_NAME_MAX 108         /* UTF-8 bytes of a name: 36 UTF-16 units, 3 bytes each at most */
#define GPT_ALIGN (1u << 20)     /* gpt_create_layout aligns partitions to 1 MiB */

/* The names of the bootwave layout (DESIGN.md "Disk layout on a node"). */
#define GPT_NAME_OS_A "bw-os-a"
#define GPT_NAME_OS_B "bw-os-b"
#define GPT_NAME_DATA "bw-data"

/* One checked GPT header, as gpt_parse_header returns it. */
struct gpt_header {
	uint32_t sector;       /* logical sector size it was checked with */
	uint64_t disk_sectors; /* disk size in sectors it was checked against */
	uint64_t my_lba, alt_lba;
	uint64_t first_usable, last_usable;
	uint64_t entries_lba;  /* first sector of its entry array */
	uint8_t disk_guid[16]; /* as stored (mixed-endian) */
	uint32_t n_entries, entry_size, entries_crc;
	uint32_t array_bytes;  /* n_entries * entry_size, at most GPT_ARRAY_MAX */
};

struct gpt_part {
	uint32_t number;                /* 1-based index in the entry array, as in /dev/sdaN */
	char name[GPT_NAME_MAX + 1];    /* UTF-8, NUL-terminated; see gpt_parse_entries */
	uint8_t type_guid[16], uuid[16]; /* as stored (mixed-endian) */
	uint64_t first_lba, last_lba;   /* inclusive */
	uint64_t attrs;
};

enum gpt_source {
	GPT_PRIMARY, /* the header at LBA 1 */
	GPT_BACKUP,  /* the header at the last LBA */
};

struct gpt_table {
	uint32_t sector;     /* logical sector size: 512 or 4096 */
	uint64_t disk_bytes; /* the whole sectors of the disk the table was checked against */
	uint64_t first_usable, last_usable;
	uint8_t disk_guid[16];
	enum gpt_source source;
	const char *other_why; /* NULL if the other copy is valid and identical, else why it was not used */
	size_t n;            /* partitions in use, in entry order */
	struct gpt_part parts[GPT_MAX_PARTS];
};

/*
 * Checks the MBR in the first sector (buf holds at least 512 bytes): 0 if
 * it is protective or hybrid (an 0xEE partition starting at LBA 1),
 * -ENOENT if it has no 0x55AA boot signature, -EBADMSG otherwise.
 */
int gpt_parse_mbr(const uint8_t *buf, size_t len, const char **ret_why);

/*
 * Checks the GPT header in the first `sector` bytes of buf, read from LBA
 * lba (1 or disk_sectors - 1) of a disk of disk_sectors sectors of `sector`
 * (512 or 4096) bytes. 0 and *ret filled, -ENOENT if there is no "EFI PART"
 * signature, -EBADMSG if the header is inconsistent (len < sector
 * included), -EINVAL for bad arguments. ret_why may be NULL.
 */
int gpt_parse_header(const uint8_t *buf, size_t len, uint32_t sector, uint64_t lba, uint64_t disk_sectors,
		     struct gpt_header *ret, const char **ret_why);

/*
 * Checks the entry array of the header h (from gpt_parse_header) in buf
 * (at least h->array_bytes bytes) and fills *ret with the partitions in
 * use; ret->source says which end of the disk h came from and other_why is
 * NULL. Names are decoded from UTF-16LE up to the first NUL: a surrogate
 * pair becomes its 4-byte UTF-8 sequence, a lone surrogate U+FFFD, and a
 * control character (C0, DEL, C1) '?', so a name is valid UTF-8 with no
 * control characters, and only an all-ASCII name can equal one of ours.
 * 0, -EBADMSG, -EINVAL if h is not a checked header, -ENOMEM.
 */
int gpt_parse_entries(const uint8_t *buf, size_t len, const struct gpt_header *h, struct gpt_table *ret,
		      const char **ret_why);

/*
 * Size and logical sector size of fd: a block device (BLKGETSIZE64,
 * BLKSSZGET) or a regular file (an image: st_size, 512). -ENOTBLK for
 * anything else, -EOPNOTSUPP for a sector size other than 512 or 4096.
 */
int gpt_disk_geometry(int fd, uint64_t *ret_bytes, uint32_t *ret_sector);

/*
 * Reads and checks the GPT of the disk fd (disk_bytes and sector as from
 * gpt_disk_geometry; a regular file may be read with either sector size):
 * the primary at LBA 1, else the backup at the last LBA (see the top of
 * this file). 0 and *ret filled; -ENOENT if no GPT header has a signature
 * (the disk has no GPT; it may still hold data, see gpt_is_blank); -EBADMSG
 * if a GPT is there but not usable: *ret_why names the check (the
 * primary's, or the backup's if the primary has no signature); -EINVAL if
 * disk_bytes or sector do not match fd; -EIO (or another errno) if reading
 * fails: I/O errors are never taken for a corrupt copy. ret_why may be NULL.
 */
int gpt_read(int fd, uint64_t disk_bytes, uint32_t sector, struct gpt_table *ret, const char **ret_why);

/*
 * The partition in use whose name is exactly name (bytes, case-sensitive),
 * or NULL if there is none or more than one. Points into t.
 */
const struct gpt_part *gpt_find(const struct gpt_table *t, const char *name);

/*
 * Checks the bootwave layout in t: 0 if bw-os-a and bw-os-b are there once
 * each with the same size and bw-data, if there, once and after both;
 * -ENOENT if none of the three names is there; -EBADMSG with *ret_why
 * otherwise (a name twice, a slot missing, slots of different sizes,
 * bw-data before a slot). Type GUIDs and other partitions are not checked.
 */
int gpt_check_layout(const struct gpt_table *t, const char **ret_why);

/*
 * Byte offset and length of p, a partition of t. -EINVAL if p is not in use
 * or first > last, -ERANGE if it is outside t's usable range or disk,
 * -EOVERFLOW if the bytes do not fit 64 bits.
 */
int gpt_part_range(const struct gpt_table *t, const struct gpt_part *p, uint64_t *ret_off, uint64_t *ret_len);

/*
 * *ret = true if the first and the last MiB of the disk (the whole disk if
 * smaller) are all zero: no MBR, no GPT, no filesystem, RAID or LVM
 * signature. -EINVAL if disk_bytes does not match fd, -EIO on a short read.
 */
int gpt_is_blank(int fd, uint64_t disk_bytes, bool *ret);

/*
 * Writes a new GPT on fd (open for reading and writing): protective MBR
 * at LBA 0, header and 128 entries at LBA 1 and 2, their copies at the end
 * of the disk, and partition 1 bw-os-a, 2 bw-os-b (slot_bytes each, rounded
 * down to 1 MiB, the first starting at 1 MiB), and with with_data 3 bw-data
 * from the end of the slots to the last usable LBA; type Linux filesystem
 * (0FC63DAF-8483-4772-8E79-3D69D8477DE4), random version 4 GUIDs. Writes
 * nothing else: sector 0, the primary header and array, the backup array
 * and header. Then fsync and read back; *ret (may be NULL) is the table as
 * read. slot_bytes 0 without with_data splits the usable space into two
 * equal slots. The caller decides whether fd may be written (a blank disk
 * or an explicit wipe) and, for a block device, calls gpt_reread after.
 * -EINVAL for bad arguments (sector, sizes not matching fd, slot_bytes under
 * 1 MiB or 0 with with_data), -ENOSPC if the layout does not fit (bw-data
 * needs at least 1 MiB), -EIO if the table read back differs.
 */
int gpt_create_layout(int fd, uint64_t disk_bytes, uint32_t sector, uint64_t slot_bytes, bool with_data,
		      struct gpt_table *ret);

/*
 * Asks the kernel to re-read the partition table of a block device
 * (BLKRRPART): 0, or -errno (-EBUSY if a partition is in use, -EINVAL for a
 * loop device without partition scanning). 0 for a regular file.
 */
int gpt_reread(int fd);

#endif
