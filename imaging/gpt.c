// SPDX-License-Identifier: Apache-2.0
/*
 * GUID Partition Table reading, checking and creation for the agent (see
 * gpt.h for the rules). The parsers read through the bounded cursor; the
 * rest reads and writes whole sectors with pread/pwrite on aligned buffers.
 * Field offsets and the validity rules are from UEFI 2.10 section 5.3
 * (5.3.1 protective MBR, 5.3.2 header, 5.3.3 entries).
 */
#include <errno.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "crypto.h"
#include "cursor.h"
#include "gpt.h"
#include "util.h"

#define GPT_REVISION 0x00010000u /* 1.0, the only one there is */
#define GPT_HEADER_SIZE 92
#define GPT_ENTRY_SIZE 128
#define GPT_NAME_UNITS 36
#define GPT_CREATE_ENTRIES 128
#define BUF_ALIGN 4096 /* for O_DIRECT on any sector size we accept */
#define BLANK_SPAN (1u << 20)
#define BLANK_CHUNK (64u << 10)

/* Linux filesystem data, 0FC63DAF-8483-4772-8E79-3D69D8477DE4, as stored. */
static const uint8_t linux_fs_guid[16] = {
	0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47, 0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4,
};

static bool sector_ok(uint32_t sector) { return sector == 512 || sector == 4096; }

static bool guid_zero(const uint8_t g[16])
{
	static const uint8_t zero[16];
	return memcmp(g, zero, 16) == 0;
}

static void set_why(const char **ret_why, const char *why)
{
	if (ret_why)
		*ret_why = why;
}

static uint32_t crc32_buf(uint32_t crc, const void *p, size_t n)
{
	/* n is at most GPT_ARRAY_MAX here, so it fits zlib's uInt. */
	return (uint32_t)crc32(crc, p, (uInt)n);
}

static void *aligned_alloc_zero(size_t n)
{
	void *p = NULL;
	if (posix_memalign(&p, BUF_ALIGN, n ? n : 1) != 0)
		return NULL;
	memset(p, 0, n);
	return p;
}

static int pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t n;
		if (off > (uint64_t)INT64_MAX)
			return -EOVERFLOW;
		n = pread(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO; /* the disk is smaller than we were told */
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;
	while (len > 0) {
		ssize_t n;
		if (off > (uint64_t)INT64_MAX)
			return -EOVERFLOW;
		n = pwrite(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* ---- pure parsers ---- */

int gpt_parse_mbr(const uint8_t *buf, size_t len, const char **ret_why)
{
	struct cursor c;
	const uint8_t *sig;
	bool protective = false;

	cursor_init(&c, buf, len);
	/* 440 bytes of boot code, disk signature (4), 2 unknown bytes */
	if (cursor_skip(&c, 446) < 0)
		goto too_short;
	for (int i = 0; i < 4; i++) {
		uint8_t type;
		uint32_t start;
		/* status, CHS start (3), type, CHS end (3), start LBA, sectors */
		if (cursor_skip(&c, 4) < 0 || cursor_u8(&c, &type) < 0 || cursor_skip(&c, 3) < 0 ||
		    cursor_le32(&c, &start) < 0 || cursor_skip(&c, 4) < 0)
			goto too_short;
		if (type == 0xee && start == 1)
			protective = true;
	}
	if (cursor_bytes(&c, 2, &sig) < 0)
		goto too_short;
	if (sig[0] != 0x55 || sig[1] != 0xaa) {
		set_why(ret_why, "no MBR boot signature");
		return -ENOENT;
	}
	if (!protective) {
		set_why(ret_why, "MBR has no protective 0xEE partition (stale GPT?)");
		return -EBADMSG;
	}
	set_why(ret_why, NULL);
	return 0;

too_short:
	set_why(ret_why, "MBR sector cut short");
	return -EBADMSG;
}

int gpt_parse_header(const uint8_t *buf, size_t len, uint32_t sector, uint64_t lba, uint64_t disk_sectors,
		     struct gpt_header *ret, const char **ret_why)
{
	static const uint8_t zero4[4];
	struct gpt_header h = { .sector = sector, .disk_sectors = disk_sectors };
	struct cursor c;
	const uint8_t *sig;
	uint32_t rev, hsize, hcrc, reserved, crc;
	uint64_t last, array_sectors;
	const char *why;
	int r = -EBADMSG;

	if (!sector_ok(sector)) {
		why = "unsupported sector size";
		r = -EINVAL;
		goto fail;
	}
	if (disk_sectors > UINT64_MAX / sector) {
		why = "disk size out of range";
		r = -EINVAL;
		goto fail;
	}
	if (disk_sectors < 3 || (lba != 1 && lba != disk_sectors - 1)) {
		why = "header position is neither LBA 1 nor the last LBA";
		r = -EINVAL;
		goto fail;
	}
	last = disk_sectors - 1;
	if (len < sector)
		goto too_short;

	cursor_init(&c, buf, sector);
	if (cursor_bytes(&c, 8, &sig) < 0)
		goto too_short;
	if (memcmp(sig, "EFI PART", 8) != 0) {
		why = "no GPT signature";
		r = -ENOENT;
		goto fail;
	}
	if (cursor_le32(&c, &rev) < 0 || cursor_le32(&c, &hsize) < 0 || cursor_le32(&c, &hcrc) < 0 ||
	    cursor_le32(&c, &reserved) < 0 || cursor_le64(&c, &h.my_lba) < 0 || cursor_le64(&c, &h.alt_lba) < 0 ||
	    cursor_le64(&c, &h.first_usable) < 0 || cursor_le64(&c, &h.last_usable) < 0 ||
	    cursor_copy(&c, h.disk_guid, 16) < 0 || cursor_le64(&c, &h.entries_lba) < 0 ||
	    cursor_le32(&c, &h.n_entries) < 0 || cursor_le32(&c, &h.entry_size) < 0 ||
	    cursor_le32(&c, &h.entries_crc) < 0)
		goto too_short;

	if (rev != GPT_REVISION) {
		why = "unsupported GPT revision";
		goto fail;
	}
	if (hsize < GPT_HEADER_SIZE || hsize > sector) {
		why = "header size out of range";
		goto fail;
	}
	/* 5.3.2: the CRC of HeaderSize bytes with the CRC field itself zero. */
	crc = crc32_buf(0, buf, 16);
	crc = crc32_buf(crc, zero4, 4);
	crc = crc32_buf(crc, buf + 20, hsize - 20);
	if (crc != hcrc) {
		why = "header CRC mismatch";
		goto fail;
	}
	if (reserved != 0) {
		why = "reserved header field not zero";
		goto fail;
	}
	if (h.my_lba != lba) {
		why = "header LBA does not match its position";
		goto fail;
	}
	if (h.alt_lba != (lba == 1 ? last : 1)) {
		why = "alternate header is not at the other end of the disk";
		goto fail;
	}
	if (h.entry_size < GPT_ENTRY_SIZE || (h.entry_size & (h.entry_size - 1)) != 0) {
		why = "entry size is not 128 times a power of two";
		goto fail;
	}
	if (h.entry_size > GPT_ENTRY_SIZE_MAX) {
		why = "entry size over the limit";
		goto fail;
	}
	if (h.n_entries == 0) {
		why = "no partition entries";
		goto fail;
	}
	if (h.n_entries > GPT_ENTRIES_MAX || (uint64_t)h.n_entries * h.entry_size > GPT_ARRAY_MAX) {
		why = "too many partition entries";
		goto fail;
	}
	h.array_bytes = h.n_entries * h.entry_size;
	array_sectors = (h.array_bytes + sector - 1) / sector;
	if (h.first_usable > h.last_usable) {
		why = "first usable LBA after last usable LBA";
		goto fail;
	}
	/* Room for MBR, primary header and array before, and array and backup header after. */
	if (h.first_usable < 2 + array_sectors) {
		why = "usable range overlaps the primary header or entry array";
		goto fail;
	}
	if (h.last_usable >= last || last - h.last_usable - 1 < array_sectors) {
		why = "usable range overlaps the backup header or entry array";
		goto fail;
	}
	if (lba == 1 ? h.entries_lba < 2 || h.entries_lba > h.first_usable - array_sectors
		     : h.entries_lba <= h.last_usable || h.entries_lba > last - array_sectors) {
		why = "entry array overlaps a header or the usable range";
		goto fail;
	}
	*ret = h;
	set_why(ret_why, NULL);
	return 0;

too_short:
	why = "header sector cut short";
	r = -EBADMSG;
fail:
	set_why(ret_why, why);
	return r;
}

/*
 * UTF-16LE (36 units, up to the first NUL) to UTF-8: see gpt.h. At most 3
 * bytes per unit (a pair of units gives 4), so out needs 36 * 3 + 1.
 */
static void name_decode(const uint16_t u[GPT_NAME_UNITS], char out[GPT_NAME_MAX + 1])
{
	size_t o = 0;
	for (size_t i = 0; i < GPT_NAME_UNITS && u[i]; i++) {
		uint32_t cp = u[i];
		if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < GPT_NAME_UNITS && u[i + 1] >= 0xdc00 &&
		    u[i + 1] <= 0xdfff) {
			cp = 0x10000 + ((cp - 0xd800) << 10) + (u[i + 1] - 0xdc00u);
			i++;
		} else if (cp >= 0xd800 && cp <= 0xdfff) {
			cp = 0xfffd;
		}
		if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
			out[o++] = '?';
		} else if (cp < 0x80) {
			out[o++] = (char)cp;
		} else if (cp < 0x800) {
			out[o++] = (char)(0xc0 | cp >> 6);
			out[o++] = (char)(0x80 | (cp & 0x3f));
		} else if (cp < 0x10000) {
			out[o++] = (char)(0xe0 | cp >> 12);
			out[o++] = (char)(0x80 | (cp >> 6 & 0x3f));
			out[o++] = (char)(0x80 | (cp & 0x3f));
		} else {
			out[o++] = (char)(0xf0 | cp >> 18);
			out[o++] = (char)(0x80 | (cp >> 12 & 0x3f));
			out[o++] = (char)(0x80 | (cp >> 6 & 0x3f));
			out[o++] = (char)(0x80 | (cp & 0x3f));
		}
	}
	out[o] = '\0';
}

int gpt_parse_entries(const uint8_t *buf, size_t len, const struct gpt_header *h, struct gpt_table *ret,
		      const char **ret_why)
{
	_cleanup_free_ struct gpt_table *t = NULL;
	struct cursor c;
	const char *why;

	if (!h || !sector_ok(h->sector) || h->entry_size < GPT_ENTRY_SIZE || h->entry_size > GPT_ENTRY_SIZE_MAX ||
	    h->n_entries > GPT_ENTRIES_MAX || h->array_bytes != h->n_entries * h->entry_size) {
		set_why(ret_why, "not a checked GPT header");
		return -EINVAL;
	}
	if (len < h->array_bytes) {
		why = "entry array cut short";
		goto fail;
	}
	if (crc32_buf(0, buf, h->array_bytes) != h->entries_crc) {
		why = "entry array CRC mismatch";
		goto fail;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->sector = h->sector;
	t->disk_bytes = h->disk_sectors * h->sector;
	t->first_usable = h->first_usable;
	t->last_usable = h->last_usable;
	memcpy(t->disk_guid, h->disk_guid, 16);
	t->source = h->my_lba == 1 ? GPT_PRIMARY : GPT_BACKUP;

	cursor_init(&c, buf, h->array_bytes);
	for (uint32_t i = 0; i < h->n_entries; i++) {
		struct gpt_part p = { .number = i + 1 };
		uint16_t units[GPT_NAME_UNITS];

		if (cursor_copy(&c, p.type_guid, 16) < 0 || cursor_copy(&c, p.uuid, 16) < 0 ||
		    cursor_le64(&c, &p.first_lba) < 0 || cursor_le64(&c, &p.last_lba) < 0 ||
		    cursor_le64(&c, &p.attrs) < 0)
			goto too_short;
		for (size_t k = 0; k < GPT_NAME_UNITS; k++)
			if (cursor_le16(&c, &units[k]) < 0)
				goto too_short;
		if (cursor_skip(&c, h->entry_size - GPT_ENTRY_SIZE) < 0)
			goto too_short;
		if (guid_zero(p.type_guid))
			continue; /* unused */
		if (t->n == GPT_MAX_PARTS) {
			why = "more than 128 partitions in use";
			goto fail;
		}
		if (p.first_lba > p.last_lba) {
			why = "partition ends before it starts";
			goto fail;
		}
		if (p.first_lba < h->first_usable || p.last_lba > h->last_usable) {
			why = "partition outside the usable range";
			goto fail;
		}
		if (guid_zero(p.uuid)) {
			why = "partition has a zero unique GUID";
			goto fail;
		}
		for (size_t k = 0; k < t->n; k++) {
			const struct gpt_part *q = &t->parts[k];
			if (p.first_lba <= q->last_lba && q->first_lba <= p.last_lba) {
				why = "partitions overlap";
				goto fail;
			}
			if (memcmp(p.uuid, q->uuid, 16) == 0) {
				why = "two partitions share a unique GUID";
				goto fail;
			}
		}
		name_decode(units, p.name);
		t->parts[t->n++] = p;
	}
	memcpy(ret, t, sizeof(*t));
	set_why(ret_why, NULL);
	return 0;

too_short: /* cannot happen: len was checked against array_bytes */
	why = "entry array cut short";
fail:
	set_why(ret_why, why);
	return -EBADMSG;
}

/* ---- disks ---- */

static int disk_info(int fd, uint64_t *ret_bytes, uint32_t *ret_sector, bool *ret_blk)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISBLK(st.st_mode)) {
		uint64_t bytes;
		int ss;
		if (ioctl(fd, BLKGETSIZE64, &bytes) < 0 || ioctl(fd, BLKSSZGET, &ss) < 0)
			return -errno;
		if (ss <= 0)
			return -EIO;
		*ret_bytes = bytes;
		*ret_sector = (uint32_t)ss;
		*ret_blk = true;
		return 0;
	}
	if (S_ISREG(st.st_mode)) {
		*ret_bytes = (uint64_t)st.st_size;
		*ret_sector = 512;
		*ret_blk = false;
		return 0;
	}
	return -ENOTBLK;
}

int gpt_disk_geometry(int fd, uint64_t *ret_bytes, uint32_t *ret_sector)
{
	uint64_t bytes;
	uint32_t sector;
	bool blk;
	int r = disk_info(fd, &bytes, &sector, &blk);
	if (r < 0)
		return r;
	if (!sector_ok(sector))
		return -EOPNOTSUPP;
	*ret_bytes = bytes;
	*ret_sector = sector;
	return 0;
}

/*
 * The caller's idea of the disk must be the disk's: the same size, and for
 * a block device the same sector size (an image file may use either).
 */
static int check_geometry(int fd, uint64_t disk_bytes, uint32_t sector)
{
	uint64_t bytes;
	uint32_t ss;
	bool blk;
	int r;

	if (!sector_ok(sector))
		return -EINVAL;
	r = disk_info(fd, &bytes, &ss, &blk);
	if (r < 0)
		return r;
	if (bytes != disk_bytes || (blk && ss != sector))
		return -EINVAL;
	return 0;
}

/* One copy of the GPT as read from one end of the disk. */
struct gpt_copy {
	int r; /* 0 valid, -ENOENT no signature, -EBADMSG inconsistent */
	const char *why;
	struct gpt_header h;
	uint8_t *array; /* array_bytes, rounded up to whole sectors */
	struct gpt_table *t;
};

static void gpt_copy_done(struct gpt_copy *cp)
{
	free(cp->array);
	free(cp->t);
}

/* Reads and checks the copy whose header is at lba. <0 only for I/O and memory errors. */
static int read_copy(int fd, uint32_t sector, uint64_t disk_sectors, uint64_t lba, uint8_t *sec,
		     struct gpt_copy *cp)
{
	size_t array_read;
	int r;

	r = pread_full(fd, sec, sector, lba * sector);
	if (r < 0)
		return r;
	cp->r = gpt_parse_header(sec, sector, sector, lba, disk_sectors, &cp->h, &cp->why);
	if (cp->r < 0)
		return 0;
	array_read = (cp->h.array_bytes + sector - 1) / sector * sector;
	cp->array = aligned_alloc_zero(array_read);
	cp->t = malloc(sizeof(*cp->t));
	if (!cp->array || !cp->t)
		return -ENOMEM;
	r = pread_full(fd, cp->array, array_read, cp->h.entries_lba * sector);
	if (r < 0)
		return r;
	cp->r = gpt_parse_entries(cp->array, array_read, &cp->h, cp->t, &cp->why);
	if (cp->r == -ENOMEM)
		return -ENOMEM;
	return 0;
}

/* Primary and backup say the same, apart from where they are. */
static bool copies_agree(const struct gpt_copy *a, const struct gpt_copy *b)
{
	return a->h.first_usable == b->h.first_usable && a->h.last_usable == b->h.last_usable &&
	       memcmp(a->h.disk_guid, b->h.disk_guid, 16) == 0 && a->h.n_entries == b->h.n_entries &&
	       a->h.entry_size == b->h.entry_size && a->h.entries_crc == b->h.entries_crc &&
	       memcmp(a->array, b->array, a->h.array_bytes) == 0;
}

int gpt_read(int fd, uint64_t disk_bytes, uint32_t sector, struct gpt_table *ret, const char **ret_why)
{
	struct gpt_copy pri = { .r = -ENOENT }, bak = { .r = -ENOENT };
	struct gpt_copy *use, *other;
	_cleanup_free_ uint8_t *sec = NULL;
	uint64_t disk_sectors;
	const char *why = NULL;
	int r;

	r = check_geometry(fd, disk_bytes, sector);
	if (r < 0) {
		set_why(ret_why, "disk size or sector size does not match the disk");
		return r;
	}
	disk_sectors = disk_bytes / sector;
	if (disk_sectors < 3) {
		set_why(ret_why, "disk too small for a GPT");
		return -ENOENT;
	}
	sec = aligned_alloc_zero(sector);
	if (!sec)
		return -ENOMEM;
	r = read_copy(fd, sector, disk_sectors, 1, sec, &pri);
	if (r >= 0)
		r = read_copy(fd, sector, disk_sectors, disk_sectors - 1, sec, &bak);
	if (r < 0)
		goto out;

	if (pri.r == 0) {
		use = &pri;
		other = &bak;
	} else if (bak.r == 0) {
		use = &bak;
		other = &pri;
	} else if (pri.r == -ENOENT && bak.r == -ENOENT) {
		why = "no GPT header";
		r = -ENOENT;
		goto out;
	} else {
		why = pri.r != -ENOENT ? pri.why : bak.why;
		r = -EBADMSG;
		goto out;
	}
	if (other->r == 0 && !copies_agree(use, other)) {
		why = "primary and backup GPT differ";
		r = -EBADMSG;
		goto out;
	}
	r = pread_full(fd, sec, sector, 0);
	if (r < 0)
		goto out;
	if (gpt_parse_mbr(sec, sector, &why) < 0) {
		r = -EBADMSG;
		goto out;
	}
	use->t->other_why = other->r == 0 ? NULL : other->why;
	memcpy(ret, use->t, sizeof(*ret));
	why = NULL;
	r = 0;
out:
	gpt_copy_done(&pri);
	gpt_copy_done(&bak);
	set_why(ret_why, why);
	return r;
}

/* ---- the bootwave layout ---- */

static size_t count_name(const struct gpt_table *t, const char *name, const struct gpt_part **ret)
{
	size_t n = 0;
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->parts[i].name, name) == 0) {
			if (n++ == 0)
				*ret = &t->parts[i];
		}
	return n;
}

const struct gpt_part *gpt_find(const struct gpt_table *t, const char *name)
{
	const struct gpt_part *p = NULL;
	if (!t || !name)
		return NULL;
	return count_name(t, name, &p) == 1 ? p : NULL;
}

int gpt_check_layout(const struct gpt_table *t, const char **ret_why)
{
	const struct gpt_part *a = NULL, *b = NULL, *d = NULL;
	size_t na = count_name(t, GPT_NAME_OS_A, &a), nb = count_name(t, GPT_NAME_OS_B, &b),
	       nd = count_name(t, GPT_NAME_DATA, &d);
	const char *why;

	if (na + nb + nd == 0) {
		set_why(ret_why, "no bootwave partitions");
		return -ENOENT;
	}
	if (na > 1)
		why = GPT_NAME_OS_A " appears more than once";
	else if (nb > 1)
		why = GPT_NAME_OS_B " appears more than once";
	else if (nd > 1)
		why = GPT_NAME_DATA " appears more than once";
	else if (!a)
		why = GPT_NAME_OS_A " missing";
	else if (!b)
		why = GPT_NAME_OS_B " missing";
	else if (a->last_lba - a->first_lba != b->last_lba - b->first_lba)
		why = GPT_NAME_OS_A " and " GPT_NAME_OS_B " differ in size";
	else if (d && (d->first_lba <= a->last_lba || d->first_lba <= b->last_lba))
		why = GPT_NAME_DATA " is not after the OS slots";
	else
		why = NULL;
	set_why(ret_why, why);
	return why ? -EBADMSG : 0;
}

int gpt_part_range(const struct gpt_table *t, const struct gpt_part *p, uint64_t *ret_off, uint64_t *ret_len)
{
	uint64_t off, len, end;

	if (!t || !p || guid_zero(p->type_guid) || p->first_lba > p->last_lba || !sector_ok(t->sector))
		return -EINVAL;
	if (p->first_lba < t->first_usable || p->last_lba > t->last_usable)
		return -ERANGE;
	if (p->last_lba - p->first_lba == UINT64_MAX ||
	    __builtin_mul_overflow(p->first_lba, (uint64_t)t->sector, &off) ||
	    __builtin_mul_overflow(p->last_lba - p->first_lba + 1, (uint64_t)t->sector, &len) ||
	    __builtin_add_overflow(off, len, &end))
		return -EOVERFLOW;
	if (end > t->disk_bytes)
		return -ERANGE;
	*ret_off = off;
	*ret_len = len;
	return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

static int zero_span(int fd, uint8_t *buf, uint64_t off, uint64_t end, bool *ret)
{
	while (off < end) {
		size_t n = end - off < BLANK_CHUNK ? (size_t)(end - off) : BLANK_CHUNK;
		int r = pread_full(fd, buf, n, off);
		if (r < 0)
			return r;
		if (!all_zero(buf, n)) {
			*ret = false;
			return 0;
		}
		off += n;
	}
	*ret = true;
	return 0;
}

int gpt_is_blank(int fd, uint64_t disk_bytes, bool *ret)
{
	_cleanup_free_ uint8_t *buf = NULL;
	uint64_t head = disk_bytes < BLANK_SPAN ? disk_bytes : BLANK_SPAN;
	uint64_t tail = disk_bytes - head; /* where the last MiB starts */
	uint64_t bytes;
	uint32_t ss;
	bool blk, zero;
	int r;

	r = disk_info(fd, &bytes, &ss, &blk);
	if (r < 0)
		return r;
	if (bytes != disk_bytes)
		return -EINVAL;
	buf = aligned_alloc_zero(BLANK_CHUNK);
	if (!buf)
		return -ENOMEM;
	r = zero_span(fd, buf, 0, head, &zero);
	if (r >= 0 && zero)
		r = zero_span(fd, buf, tail > head ? tail : head, disk_bytes, &zero);
	if (r < 0)
		return r;
	*ret = zero;
	return 0;
}

/* A random version 4 GUID as stored: the version is in byte 7 (the third field is little-endian). */
static int guid_random(uint8_t g[16])
{
	int r = random_bytes(g, 16);
	if (r < 0)
		return r;
	g[7] = (uint8_t)((g[7] & 0x0f) | 0x40);
	g[8] = (uint8_t)((g[8] & 0x3f) | 0x80);
	return 0;
}

struct new_part {
	const char *name;
	uint64_t first, last;
};

static void build_entries(uint8_t *array, const struct new_part *parts, size_t n, uint8_t uuids[][16])
{
	struct wbuf w;

	wbuf_init(&w, array, (size_t)GPT_CREATE_ENTRIES * GPT_ENTRY_SIZE);
	for (size_t i = 0; i < n; i++) {
		size_t k, len = strlen(parts[i].name);
		wbuf_bytes(&w, linux_fs_guid, 16);
		wbuf_bytes(&w, uuids[i], 16);
		wbuf_le64(&w, parts[i].first);
		wbuf_le64(&w, parts[i].last);
		wbuf_le64(&w, 0); /* attributes */
		for (k = 0; k < GPT_NAME_UNITS; k++)
			wbuf_le16(&w, k < len ? (uint16_t)(unsigned char)parts[i].name[k] : 0);
	}
}

static void build_header(uint8_t *sec, uint32_t sector, uint64_t my, uint64_t alt, uint64_t first_usable,
			 uint64_t last_usable, const uint8_t guid[16], uint64_t entries_lba, uint32_t array_crc)
{
	struct wbuf w;
	uint32_t crc;

	memset(sec, 0, sector);
	wbuf_init(&w, sec, sector);
	wbuf_bytes(&w, "EFI PART", 8);
	wbuf_le32(&w, GPT_REVISION);
	wbuf_le32(&w, GPT_HEADER_SIZE);
	wbuf_le32(&w, 0); /* header CRC, below */
	wbuf_le32(&w, 0); /* reserved */
	wbuf_le64(&w, my);
	wbuf_le64(&w, alt);
	wbuf_le64(&w, first_usable);
	wbuf_le64(&w, last_usable);
	wbuf_bytes(&w, guid, 16);
	wbuf_le64(&w, entries_lba);
	wbuf_le32(&w, GPT_CREATE_ENTRIES);
	wbuf_le32(&w, GPT_ENTRY_SIZE);
	wbuf_le32(&w, array_crc);
	crc = crc32_buf(0, sec, GPT_HEADER_SIZE);
	wbuf_init(&w, sec + 16, 4);
	wbuf_le32(&w, crc);
}

/* 5.3.1: one 0xEE partition from LBA 1 over the whole disk (or 2^32 - 1 sectors). */
static void build_mbr(uint8_t *sec, uint32_t sector, uint64_t disk_sectors)
{
	static const uint8_t chs_start[3] = { 0x00, 0x02, 0x00 }, chs_end[3] = { 0xff, 0xff, 0xff };
	uint64_t size = disk_sectors - 1;
	struct wbuf w;

	memset(sec, 0, sector);
	wbuf_init(&w, sec + 446, 16);
	wbuf_u8(&w, 0); /* not bootable */
	wbuf_bytes(&w, chs_start, 3);
	wbuf_u8(&w, 0xee);
	wbuf_bytes(&w, chs_end, 3);
	wbuf_le32(&w, 1);
	wbuf_le32(&w, size > UINT32_MAX ? UINT32_MAX : (uint32_t)size);
	sec[510] = 0x55;
	sec[511] = 0xaa;
}

/* The new table as the reader sees it: same partitions, same GUIDs. */
static bool table_matches(const struct gpt_table *t, const uint8_t disk_guid[16], const struct new_part *parts,
			  size_t n, uint8_t uuids[][16])
{
	if (t->n != n || t->source != GPT_PRIMARY || t->other_why || memcmp(t->disk_guid, disk_guid, 16) != 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		const struct gpt_part *p = &t->parts[i];
		if (p->number != i + 1 || strcmp(p->name, parts[i].name) != 0 || p->first_lba != parts[i].first ||
		    p->last_lba != parts[i].last || memcmp(p->uuid, uuids[i], 16) != 0 ||
		    memcmp(p->type_guid, linux_fs_guid, 16) != 0)
			return false;
	}
	return true;
}

int gpt_create_layout(int fd, uint64_t disk_bytes, uint32_t sector, uint64_t slot_bytes, bool with_data,
		      struct gpt_table *ret)
{
	const uint32_t array_bytes = GPT_CREATE_ENTRIES * GPT_ENTRY_SIZE;
	_cleanup_free_ uint8_t *array = NULL, *mbr = NULL, *pri = NULL, *bak = NULL;
	_cleanup_free_ struct gpt_table *t = NULL;
	uint64_t disk_sectors, last, array_sectors, align, first_usable, last_usable, end, slot;
	uint8_t disk_guid[16], uuids[3][16];
	struct new_part parts[3];
	struct gpt_header check;
	size_t n = with_data ? 3 : 2;
	uint32_t array_crc;
	int r;

	r = check_geometry(fd, disk_bytes, sector);
	if (r < 0)
		return r;
	if (slot_bytes == 0 ? with_data : slot_bytes < GPT_ALIGN)
		return -EINVAL;
	disk_sectors = disk_bytes / sector;
	array_sectors = array_bytes / sector;
	align = GPT_ALIGN / sector;
	/* MBR, header, array, 1 MiB-aligned start, two 1 MiB slots, array, header: anything smaller has no room. */
	if (disk_sectors < 3 * align + array_sectors + 1)
		return -ENOSPC;
	last = disk_sectors - 1;
	first_usable = 2 + array_sectors;
	last_usable = last - array_sectors - 1;
	end = (last_usable + 1) / align * align; /* the aligned end of the usable space */
	slot = slot_bytes ? slot_bytes / GPT_ALIGN * align : (end - align) / 2 / align * align;
	if (slot == 0 || end < align || (end - align) / 2 < slot)
		return -ENOSPC;
	parts[0] = (struct new_part){ GPT_NAME_OS_A, align, align + slot - 1 };
	parts[1] = (struct new_part){ GPT_NAME_OS_B, align + slot, align + 2 * slot - 1 };
	if (with_data) {
		if (end - align - 2 * slot < align)
			return -ENOSPC; /* bw-data would be under 1 MiB */
		parts[2] = (struct new_part){ GPT_NAME_DATA, align + 2 * slot, last_usable };
	}

	/* Four distinct GUIDs (a collision would mean a broken generator). */
	r = guid_random(disk_guid);
	for (size_t i = 0; r >= 0 && i < n; i++)
		r = guid_random(uuids[i]);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if (memcmp(uuids[i], disk_guid, 16) == 0)
			return -EIO;
		for (size_t k = 0; k < i; k++)
			if (memcmp(uuids[i], uuids[k], 16) == 0)
				return -EIO;
	}

	array = aligned_alloc_zero(array_bytes);
	mbr = aligned_alloc_zero(sector);
	pri = aligned_alloc_zero(sector);
	bak = aligned_alloc_zero(sector);
	t = malloc(sizeof(*t));
	if (!array || !mbr || !pri || !bak || !t)
		return -ENOMEM;
	build_entries(array, parts, n, uuids);
	array_crc = crc32_buf(0, array, array_bytes);
	build_header(pri, sector, 1, last, first_usable, last_usable, disk_guid, 2, array_crc);
	build_header(bak, sector, last, 1, first_usable, last_usable, disk_guid, last - array_sectors, array_crc);
	build_mbr(mbr, sector, disk_sectors);

	/* What we write passes our own checks before it touches the disk. */
	if (gpt_parse_mbr(mbr, sector, NULL) < 0 ||
	    gpt_parse_header(bak, sector, sector, last, disk_sectors, &check, NULL) < 0 ||
	    gpt_parse_entries(array, array_bytes, &check, t, NULL) < 0 ||
	    gpt_parse_header(pri, sector, sector, 1, disk_sectors, &check, NULL) < 0 ||
	    gpt_parse_entries(array, array_bytes, &check, t, NULL) < 0 || !table_matches(t, disk_guid, parts, n, uuids))
		return -EIO;

	/*
	 * Backup first, primary and MBR last: after a crash half-way the reader
	 * finds no protective MBR, or two copies that differ, and refuses.
	 */
	r = pwrite_full(fd, array, array_bytes, (last - array_sectors) * sector);
	if (r >= 0)
		r = pwrite_full(fd, bak, sector, last * sector);
	if (r >= 0)
		r = pwrite_full(fd, array, array_bytes, 2 * (uint64_t)sector);
	if (r >= 0)
		r = pwrite_full(fd, pri, sector, sector);
	if (r >= 0)
		r = pwrite_full(fd, mbr, sector, 0);
	if (r < 0)
		return r;
	if (fsync(fd) < 0)
		return -errno;

	r = gpt_read(fd, disk_bytes, sector, t, NULL);
	if (r < 0)
		return r == -ENOMEM ? r : -EIO;
	if (!table_matches(t, disk_guid, parts, n, uuids))
		return -EIO;
	if (ret)
		memcpy(ret, t, sizeof(*ret));
	return 0;
}

int gpt_reread(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISBLK(st.st_mode))
		return 0;
	if (ioctl(fd, BLKRRPART, 0) < 0)
		return errno == ENOTTY ? 0 : -errno;
	return 0;
}
