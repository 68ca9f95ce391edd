// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the GPT reader (imaging/gpt.c): each input is a small
 * disk image of 512-byte sectors. The pure parsers run on its MBR, on the
 * header at LBA 1 and at the last LBA and on their entry arrays; then the
 * whole image goes through gpt_read, gpt_is_blank and the layout checks
 * from a memfd, as the agent reads a disk. Whatever is accepted must keep
 * the promises of gpt.h: ranges inside the usable space and the disk, no
 * overlaps, names that are clean UTF-8, every refusal with its reason. The
 * first bytes also choose a layout that gpt_create_layout writes to a sparse
 * memfd and gpt_read must read back. Random bytes rarely get past the CRC
 * checks, so the same image goes through again with the CRCs of both
 * headers and arrays recomputed, to reach the checks behind them. Build
 * with clang -fsanitize=fuzzer, or replay a corpus with replay.c.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "gpt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECTOR 512
#define MiB (1024ull * 1024)

static void check_name(const char *s)
{
	size_t n = strlen(s);
	if (n > GPT_NAME_MAX)
		abort();
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			abort();
	}
}

/* What gpt.h promises about an accepted table. */
static void check_table(const struct gpt_table *t, uint64_t disk_sectors)
{
	const char *why = NULL;
	int r;

	if (t->sector != SECTOR || t->disk_bytes != disk_sectors * SECTOR || t->n > GPT_MAX_PARTS ||
	    t->first_usable > t->last_usable || t->first_usable < 2 || t->last_usable >= disk_sectors - 1)
		abort();
	for (size_t i = 0; i < t->n; i++) {
		const struct gpt_part *p = &t->parts[i];
		uint64_t off, len;
		if (p->first_lba > p->last_lba || p->first_lba < t->first_usable || p->last_lba > t->last_usable ||
		    p->number == 0 || (i > 0 && p->number <= t->parts[i - 1].number))
			abort();
		if (gpt_part_range(t, p, &off, &len) != 0 || off < t->first_usable * SECTOR || len == 0 ||
		    off + len > (t->last_usable + 1) * SECTOR || off + len > t->disk_bytes)
			abort();
		for (size_t k = 0; k < i; k++)
			if (p->first_lba <= t->parts[k].last_lba && t->parts[k].first_lba <= p->last_lba)
				abort();
		check_name(p->name);
	}
	r = gpt_check_layout(t, &why);
	if (r < 0 && !why)
		abort();
	if (r == 0) {
		const struct gpt_part *a = gpt_find(t, GPT_NAME_OS_A), *b = gpt_find(t, GPT_NAME_OS_B);
		if (!a || !b || a->last_lba - a->first_lba != b->last_lba - b->first_lba)
			abort();
	}
	for (size_t i = 0; i < t->n; i++) {
		const struct gpt_part *p = gpt_find(t, t->parts[i].name);
		if (p && strcmp(p->name, t->parts[i].name) != 0)
			abort();
	}
}

/* The pure parsers on the header at lba and its array, straight from the input. */
static void parse_copy(const uint8_t *data, size_t size, uint64_t lba)
{
	static struct gpt_table t;
	uint64_t disk_sectors = size / SECTOR;
	struct gpt_header h;
	const char *why = NULL;
	int r;

	r = gpt_parse_header(data + lba * SECTOR, size - lba * SECTOR, SECTOR, lba, disk_sectors, &h, &why);
	if (r < 0) {
		if (!why || (r != -ENOENT && r != -EBADMSG))
			abort();
		return;
	}
	/* An accepted header keeps its array and the usable range on the disk. */
	if (h.my_lba != lba || h.array_bytes != h.n_entries * h.entry_size || h.array_bytes > GPT_ARRAY_MAX ||
	    h.last_usable >= disk_sectors || h.entries_lba * SECTOR + h.array_bytes > size)
		abort();
	why = NULL;
	r = gpt_parse_entries(data + h.entries_lba * SECTOR, size - h.entries_lba * SECTOR, &h, &t, &why);
	if (r < 0) {
		if (!why || r != -EBADMSG)
			abort();
		return;
	}
	if (t.source != (lba == 1 ? GPT_PRIMARY : GPT_BACKUP) || t.other_why)
		abort();
	check_table(&t, disk_sectors);
}

static int memfd_with(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz_gpt", MFD_CLOEXEC);
	size_t off = 0;
	if (fd < 0)
		abort();
	while (off < size) {
		ssize_t n = write(fd, data + off, size - off);
		if (n <= 0)
			abort();
		off += (size_t)n;
	}
	return fd;
}

/* The whole reader, as the agent runs it on a disk. */
static void read_image(const uint8_t *data, size_t size)
{
	static struct gpt_table t;
	const char *why = NULL;
	bool blank = false;
	int fd = memfd_with(data, size);
	int r;

	r = gpt_read(fd, size, SECTOR, &t, &why);
	if (r == 0) {
		if (why)
			abort();
		check_table(&t, size / SECTOR);
	} else if ((r != -ENOENT && r != -EBADMSG) || !why) {
		abort();
	}
	if (gpt_is_blank(fd, size, &blank) != 0)
		abort();
	/* A blank disk has no GPT (a disk without one need not be blank). */
	if (blank && r != -ENOENT)
		abort();
	close(fd);
}

/* A layout chosen by the first bytes must be written and read back. */
static void create_layout(const uint8_t *data, size_t size)
{
	static struct gpt_table t, back;
	uint32_t sector;
	uint64_t disk, slot;
	bool with_data;
	int fd, r;

	if (size < 4)
		return;
	sector = data[0] & 1 ? 4096 : SECTOR;
	disk = (2 + data[1] % 40) * MiB + (data[0] >> 1) * (uint64_t)sector;
	slot = (data[2] % 24) * MiB + (data[3] >> 1) * 4096ull;
	with_data = data[3] & 1;
	fd = memfd_create("fuzz_gpt_create", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)disk) < 0)
		abort();
	r = gpt_create_layout(fd, disk, sector, slot, with_data, &t);
	if (r == 0) {
		const struct gpt_part *a = gpt_find(&t, GPT_NAME_OS_A), *b = gpt_find(&t, GPT_NAME_OS_B);
		uint64_t off, len;
		if (gpt_read(fd, disk, sector, &back, NULL) != 0 || memcmp(&t, &back, sizeof(t)) != 0 ||
		    gpt_check_layout(&t, NULL) != 0 || t.n != (with_data ? 3u : 2u) || !a || !b)
			abort();
		if (gpt_part_range(&t, a, &off, &len) != 0 || off != MiB || len % MiB != 0 ||
		    (slot && len != slot / MiB * MiB))
			abort();
		if (with_data && !gpt_find(&t, GPT_NAME_DATA))
			abort();
	} else if (r != -ENOSPC && r != -EINVAL) {
		abort();
	} else if (r == -EINVAL && !(with_data ? slot < MiB : slot != 0 && slot < MiB)) {
		abort();
	}
	close(fd);
}

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

/* Makes the CRCs of the header at lba (and of its array, if it is on the disk) right. */
static void fix_crcs(uint8_t *img, size_t size, uint64_t lba)
{
	uint8_t *h = img + lba * SECTOR;
	uint64_t hsize = get_le(h + 12, 4), elba = get_le(h + 72, 8);
	uint64_t abytes = get_le(h + 80, 4) * get_le(h + 84, 4);

	if (elba < size / SECTOR && abytes <= size - elba * SECTOR)
		put_le32(h + 88, (uint32_t)crc32(0, img + elba * SECTOR, (uInt)abytes));
	if (hsize < 20 || hsize > SECTOR)
		return;
	put_le32(h + 16, 0);
	put_le32(h + 16, (uint32_t)crc32(0, h, (uInt)hsize));
}

static void run(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	uint64_t disk_sectors = size / SECTOR;

	if (gpt_parse_mbr(data, size, &why) < 0 && !why)
		abort();
	if (disk_sectors >= 3) {
		parse_copy(data, size, 1);
		parse_copy(data, size, disk_sectors - 1);
	}
	read_image(data, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t disk_sectors = size / SECTOR;

	run(data, size);
	if (disk_sectors >= 3) {
		uint8_t *img = malloc(size);
		if (!img)
			abort();
		memcpy(img, data, size);
		fix_crcs(img, size, 1);
		fix_crcs(img, size, disk_sectors - 1);
		run(img, size);
		free(img);
	}
	create_layout(data, size);
	return 0;
}
