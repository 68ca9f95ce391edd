// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of imaging/gpt.c against a real peer: sgdisk (gdisk) makes
 * layouts in image files that gpt_read must read as `sgdisk -i` prints
 * them, and `sgdisk -v`/`-p` must accept and list what gpt_create_layout
 * writes. 4096-byte sectors are tested on a loop device with --sector-size
 * 4096 when the test runs as root with loop devices (skipped otherwise),
 * and always as image files read back by gpt_read. Corruptions are made by
 * patching images and recomputing the CRCs, so that each one reaches the
 * check it is aimed at; the pure parsers get hand-built headers and arrays.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "gpt.h"
#include "testutil.h"
#include "util.h"

#define MiB (1024ull * 1024)

struct fx {
	char dir[64];
	char path[128];
	char loop[64]; /* a loop device attached by the test, detached by teardown */
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (!f || test_dir_make("gpt", "disk.img", f->dir, f->path) < 0) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];
	if (f->loop[0]) {
		snprintf(cmd, sizeof(cmd), "losetup -d %s", f->loop);
		if (system(cmd) != 0)
			print_error("could not detach %s\n", f->loop);
	}
	rm_rf(f->dir);
	free(f);
	return 0;
}

/* ---- helpers ---- */

static int sh(const char *fmt, ...) _printf_(1, 2);
static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* Runs a command and returns its stdout (malloc'd, NUL-terminated). */
static char *capture(const char *fmt, ...) _printf_(1, 2);
static char *capture(const char *fmt, ...)
{
	char cmd[1024];
	size_t len = 0, cap = 4096;
	char *out = malloc(cap);
	va_list ap;
	FILE *p;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_non_null(out);
	p = popen(cmd, "r");
	assert_non_null(p);
	while ((n = fread(out + len, 1, cap - len - 1, p)) > 0) {
		len += n;
		if (cap - len - 1 == 0) {
			cap *= 2;
			out = realloc(out, cap);
			assert_non_null(out);
		}
	}
	out[len] = '\0';
	pclose(p);
	return out;
}

static void make_file(const char *path, uint64_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	close(fd);
}

static void sgdisk(const char *path, const char *args)
{
	/* Quiet: sgdisk warns on stderr about images whose size is not whole sectors. */
	if (sh("sgdisk %s %s >/dev/null 2>&1", args, path) != 0)
		fail_msg("sgdisk %s %s failed (is gdisk installed?)", args, path);
}

/*
 * Runs `sgdisk args[i]` on fresh images dir/img<i> of size bytes, all at
 * once: sgdisk sleeps a second after every write.
 */
static void sgdisk_images(const char *dir, uint64_t size, const char *const *args, size_t n)
{
	size_t cap = 8192, len = 0;
	char *cmd = malloc(cap);

	assert_non_null(cmd);
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(cmd + len, cap - len,
					"rm -f %s/img%zu; truncate -s %" PRIu64 " %s/img%zu && "
					"sgdisk %s %s/img%zu >/dev/null 2>&1 & p%zu=$!; ",
					dir, i, size, dir, i, args[i], dir, i, i);
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(cmd + len, cap - len, "wait $p%zu || { echo 'sgdisk %s failed' >&2; exit 1; }; ",
					i, args[i]);
	assert_true(len < cap);
	if (system(cmd) != 0)
		fail_msg("sgdisk_images failed");
	free(cmd);
}

static void pwrite_at(const char *path, uint64_t off, const void *b, size_t n)
{
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, b, n, (off_t)off), (ssize_t)n);
	close(fd);
}

static void pread_at(const char *path, uint64_t off, void *b, size_t n)
{
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, b, n, (off_t)off), (ssize_t)n);
	close(fd);
}

static uint64_t file_size(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

static uint32_t get_le32(const uint8_t *p) { return (uint32_t)p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

static uint64_t get_le64(const uint8_t *p) { return (uint64_t)get_le32(p + 4) << 32 | get_le32(p); }

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

static uint64_t last_lba(const char *path, uint32_t sector) { return file_size(path) / sector - 1; }

/* Byte offset of entry idx (0-based) of the copy whose header is at lba. */
static uint64_t entry_off(const char *path, uint32_t sector, uint64_t lba, uint32_t idx)
{
	uint8_t h[92];
	pread_at(path, lba * sector, h, sizeof(h));
	return get_le64(h + 72) * sector + (uint64_t)idx * get_le32(h + 84);
}

/* Recomputes the array CRC and then the header CRC of the copy whose header is at lba. */
static void fix_crcs(const char *path, uint32_t sector, uint64_t lba)
{
	uint8_t h[4096];
	uint8_t *array;
	uint32_t n, size, hsize;

	pread_at(path, lba * sector, h, sector);
	n = get_le32(h + 80);
	size = get_le32(h + 84);
	array = malloc((size_t)n * size);
	assert_non_null(array);
	pread_at(path, get_le64(h + 72) * sector, array, (size_t)n * size);
	put_le32(h + 88, (uint32_t)crc32(0, array, n * size));
	free(array);
	hsize = get_le32(h + 12);
	put_le32(h + 16, 0);
	put_le32(h + 16, (uint32_t)crc32(0, h, hsize));
	pwrite_at(path, lba * sector, h, sector);
}

/* Writes n bytes at offset off of entry idx in both copies and fixes their CRCs. */
static void patch_entry(const char *path, uint32_t sector, uint32_t idx, size_t off, const void *b, size_t n)
{
	uint64_t last = last_lba(path, sector);
	pwrite_at(path, entry_off(path, sector, 1, idx) + off, b, n);
	pwrite_at(path, entry_off(path, sector, last, idx) + off, b, n);
	fix_crcs(path, sector, 1);
	fix_crcs(path, sector, last);
}

static void patch_entry_le64(const char *path, uint32_t idx, size_t off, uint64_t v)
{
	uint8_t b[8];
	put_le64(b, v);
	patch_entry(path, 512, idx, off, b, 8);
}

static int read_table(const char *path, uint32_t sector, struct gpt_table *t, const char **why)
{
	int fd = open(path, O_RDONLY);
	uint64_t bytes;
	uint32_t ss;
	int r;

	assert_true(fd >= 0);
	assert_int_equal(gpt_disk_geometry(fd, &bytes, &ss), 0);
	assert_int_equal(ss, 512);
	assert_int_equal(bytes, file_size(path));
	r = gpt_read(fd, bytes, sector, t, why);
	close(fd);
	return r;
}

static struct gpt_table *read_ok(const char *path, uint32_t sector)
{
	static struct gpt_table t;
	const char *why = NULL;
	int r = read_table(path, sector, &t, &why);
	if (r != 0)
		fail_msg("gpt_read(%s) = %d (%s)", path, r, why ? why : "NULL");
	assert_null(why);
	return &t;
}

/* gpt_read fails with err and why, and leaves its output alone. */
static void read_err(const char *path, uint32_t sector, int err, const char *want_why)
{
	static struct gpt_table t, before;
	const char *why = NULL;
	int r;

	memset(&t, 0x5a, sizeof(t));
	before = t;
	r = read_table(path, sector, &t, &why);
	if (r != err)
		fail_msg("gpt_read = %d, expected %d (why: %s)", r, err, why ? why : "NULL");
	if (!why || strcmp(why, want_why) != 0)
		fail_msg("why = %s, expected %s", why ? why : "NULL", want_why);
	assert_memory_equal(&t, &before, sizeof(t));
}

static void guid_fmt(const uint8_t g[16], char out[37])
{
	snprintf(out, 37, "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X", g[3], g[2],
		 g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
}

/* The value after "key" on a line of text, up to the end of the line. */
static const char *field(const char *text, const char *key, char *out, size_t cap)
{
	const char *p = strstr(text, key);
	size_t n;
	if (!p)
		fail_msg("no '%s' in:\n%s", key, text);
	p += strlen(key);
	n = strcspn(p, "\n");
	if (n >= cap)
		n = cap - 1;
	memcpy(out, p, n);
	out[n] = '\0';
	return out;
}

/* Partition number n as `sgdisk -i n` prints it must be p. */
static void expect_like_sgdisk(const char *dev, const struct gpt_part *p, uint32_t n)
{
	char *out = capture("sgdisk -i %u %s 2>/dev/null", n, dev);
	char v[128], g[37], want[GPT_NAME_MAX + 3];

	assert_non_null(p);
	assert_int_equal(p->number, n);
	assert_int_equal(strtoull(field(out, "First sector: ", v, sizeof(v)), NULL, 10), p->first_lba);
	assert_int_equal(strtoull(field(out, "Last sector: ", v, sizeof(v)), NULL, 10), p->last_lba);
	guid_fmt(p->uuid, g);
	assert_string_equal(field(out, "Partition unique GUID: ", v, sizeof(v)), g);
	guid_fmt(p->type_guid, g);
	assert_memory_equal(field(out, "Partition GUID code: ", v, sizeof(v)), g, 36);
	snprintf(want, sizeof(want), "'%s'", p->name);
	assert_string_equal(field(out, "Partition name: ", v, sizeof(v)), want);
	assert_int_equal(strtoull(field(out, "Attribute flags: ", v, sizeof(v)), NULL, 16), p->attrs);
	free(out);
}

/* The table-wide values as `sgdisk -p` prints them. */
static void expect_disk_like_sgdisk(const char *dev, const struct gpt_table *t)
{
	char *out = capture("sgdisk -p %s 2>/dev/null", dev);
	char v[128], g[37], want[96];
	guid_fmt(t->disk_guid, g);
	assert_string_equal(field(out, "Disk identifier (GUID): ", v, sizeof(v)), g);
	snprintf(want, sizeof(want), "%" PRIu64 ", last usable sector is %" PRIu64, t->first_usable, t->last_usable);
	assert_string_equal(field(out, "First usable sector is ", v, sizeof(v)), want);
	free(out);
}

static void expect_range(const struct gpt_table *t, const char *name, uint64_t off, uint64_t len)
{
	uint64_t o = 1, l = 1;
	assert_int_equal(gpt_part_range(t, gpt_find(t, name), &o, &l), 0);
	assert_int_equal(o, off);
	assert_int_equal(l, len);
}

static void expect_layout_err(const struct gpt_table *t, int err, const char *want)
{
	const char *why = NULL;
	assert_int_equal(gpt_check_layout(t, &why), err);
	if (!why || strcmp(why, want) != 0)
		fail_msg("why = %s, expected %s", why ? why : "NULL", want);
}

/* ---- reading what sgdisk made ---- */

static void test_sgdisk_layouts(void **state)
{
	struct fx *f = *state;
	struct gpt_table *t;
	const char *why = "x";

	/* The brief's layout. */
	make_file(f->path, 64 * MiB);
	sgdisk(f->path, "-n1:2048:+20M -c1:bw-os-a -n2:0:+20M -c2:bw-os-b -n3:0:0 -c3:bw-data");
	t = read_ok(f->path, 512);
	assert_int_equal(t->n, 3);
	assert_int_equal(t->sector, 512);
	assert_int_equal(t->disk_bytes, 64 * MiB);
	assert_int_equal(t->source, GPT_PRIMARY);
	assert_null(t->other_why);
	expect_disk_like_sgdisk(f->path, t);
	for (uint32_t i = 0; i < 3; i++)
		expect_like_sgdisk(f->path, &t->parts[i], i + 1);
	assert_int_equal(gpt_check_layout(t, &why), 0);
	assert_null(why);
	expect_range(t, "bw-os-a", 1 * MiB, 20 * MiB);
	expect_range(t, "bw-os-b", 21 * MiB, 20 * MiB);
	expect_range(t, "bw-data", 41 * MiB, (131038 - 83968 + 1) * 512ull);
	assert_ptr_equal(gpt_find(t, "bw-os-b"), &t->parts[1]);

	/* Other partitions around ours (an ESP first, a foreign one last, a gap in the numbering). */
	make_file(f->path, 96 * MiB);
	sgdisk(f->path, "-n1:2048:+8M -t1:ef00 -c1:ESP -n3:0:+30M -c3:bw-os-a -n4:0:+30M -c4:bw-os-b "
			"-n7:0:+4M -t7:8200 -c7:swap -A4:set:2 -A4:set:60");
	t = read_ok(f->path, 512);
	assert_int_equal(t->n, 4);
	expect_disk_like_sgdisk(f->path, t);
	expect_like_sgdisk(f->path, &t->parts[0], 1);
	expect_like_sgdisk(f->path, gpt_find(t, "bw-os-a"), 3);
	expect_like_sgdisk(f->path, gpt_find(t, "bw-os-b"), 4);
	expect_like_sgdisk(f->path, gpt_find(t, "swap"), 7);
	assert_string_equal(t->parts[0].name, "ESP");
	assert_int_equal(gpt_find(t, "bw-os-b")->attrs, (1ull << 60) | 4);
	assert_int_equal(gpt_check_layout(t, NULL), 0);
	assert_null(gpt_find(t, GPT_NAME_DATA));
	expect_range(t, "bw-os-a", 9 * MiB, 30 * MiB);
	/* Exact names only. */
	assert_null(gpt_find(t, "bw-os"));
	assert_null(gpt_find(t, "bw-os-a "));
	assert_null(gpt_find(t, "BW-OS-A"));
	assert_null(gpt_find(t, ""));
	assert_null(gpt_find(t, NULL));

	/* A disk whose size is not a multiple of the sector size: sgdisk and we ignore the tail. */
	make_file(f->path, 32 * MiB + 300);
	sgdisk(f->path, "-n1:0:+8M -c1:bw-os-a -n2:0:+8M -c2:bw-os-b");
	t = read_ok(f->path, 512);
	assert_int_equal(t->disk_bytes, 32 * MiB);
	expect_disk_like_sgdisk(f->path, t);
	expect_like_sgdisk(f->path, &t->parts[1], 2);
}

/* ---- creating, checked by sgdisk ---- */

/* `sgdisk -v` is happy and `sgdisk -p` lists exactly the partitions of t. */
static void expect_sgdisk_accepts(const char *dev, const struct gpt_table *t)
{
	char *out = capture("sgdisk -v %s 2>&1", dev);
	char *line;
	size_t rows = 0;

	/* sgdisk warns about an image whose size is not whole sectors; anything else is a finding. */
	const char *odd = "Warning: File size is not a multiple of 512 bytes! Misbehavior is likely!";
	size_t warnings = 0, odd_warnings = 0;
	for (const char *w = out; (w = strstr(w, "Warning")); w++)
		warnings++;
	for (const char *w = out; (w = strstr(w, odd)); w++)
		odd_warnings++;
	if (!strstr(out, "No problems found.") || strstr(out, "Problem") || warnings != odd_warnings)
		fail_msg("sgdisk -v %s:\n%s", dev, out);
	free(out);
	expect_disk_like_sgdisk(dev, t);
	out = capture("sgdisk -p %s 2>/dev/null", dev);
	line = strstr(out, "Number  Start (sector)");
	assert_non_null(line);
	for (line = strchr(line, '\n'); line && *++line; line = strchr(line, '\n')) {
		unsigned num;
		uint64_t first, last;
		char code[16], name[80];
		if (sscanf(line, "%u %" SCNu64 " %" SCNu64 " %*s %*s %15s %79s", &num, &first, &last, code, name) != 5)
			break;
		assert_true(rows < t->n);
		assert_int_equal(num, t->parts[rows].number);
		assert_int_equal(first, t->parts[rows].first_lba);
		assert_int_equal(last, t->parts[rows].last_lba);
		assert_string_equal(code, "8300");
		assert_string_equal(name, t->parts[rows].name);
		rows++;
	}
	assert_int_equal(rows, t->n);
	for (uint32_t i = 0; i < t->n; i++)
		expect_like_sgdisk(dev, &t->parts[i], t->parts[i].number);
	free(out);
}

static int create_on(const char *path, uint32_t sector, uint64_t slot, bool data, struct gpt_table *ret)
{
	int fd = open(path, O_RDWR);
	int r;
	assert_true(fd >= 0);
	r = gpt_create_layout(fd, file_size(path), sector, slot, data, ret);
	close(fd);
	return r;
}

static void expect_v4_guid(const uint8_t g[16])
{
	assert_int_equal(g[7] >> 4, 4);
	assert_int_equal(g[8] >> 6, 2);
}

static void test_create_layout(void **state)
{
	struct fx *f = *state;
	struct gpt_table t, *back;
	uint64_t last;

	/* With data: 20 MiB slots at 1 MiB, bw-data to the last usable sector. */
	make_file(f->path, 64 * MiB);
	assert_int_equal(create_on(f->path, 512, 20 * MiB + 12345, true, &t), 0);
	last = 64 * MiB / 512 - 1;
	assert_int_equal(t.n, 3);
	assert_int_equal(t.first_usable, 34);
	assert_int_equal(t.last_usable, last - 33);
	assert_int_equal(t.source, GPT_PRIMARY);
	assert_null(t.other_why);
	assert_string_equal(t.parts[0].name, "bw-os-a");
	assert_string_equal(t.parts[1].name, "bw-os-b");
	assert_string_equal(t.parts[2].name, "bw-data");
	assert_int_equal(t.parts[0].first_lba, 2048);
	assert_int_equal(t.parts[0].last_lba, 2048 + 40960 - 1);
	assert_int_equal(t.parts[1].first_lba, 2048 + 40960);
	assert_int_equal(t.parts[2].first_lba, 2048 + 2 * 40960);
	assert_int_equal(t.parts[2].last_lba, t.last_usable);
	expect_v4_guid(t.disk_guid);
	for (size_t i = 0; i < 3; i++) {
		expect_v4_guid(t.parts[i].uuid);
		assert_int_equal(t.parts[i].attrs, 0);
	}
	assert_memory_not_equal(t.parts[0].uuid, t.parts[1].uuid, 16);
	assert_int_equal(gpt_check_layout(&t, NULL), 0);
	expect_sgdisk_accepts(f->path, &t);
	back = read_ok(f->path, 512);
	assert_memory_equal(back, &t, sizeof(t));

	/* Without data, slot 0: two equal slots over the aligned usable space. */
	make_file(f->path, 64 * MiB);
	assert_int_equal(create_on(f->path, 512, 0, false, &t), 0);
	assert_int_equal(t.n, 2);
	/* Usable space ends just under 64 MiB: 62 MiB aligned after the first MiB, 31 each. */
	expect_range(&t, "bw-os-a", 1 * MiB, 31 * MiB);
	expect_range(&t, "bw-os-b", 32 * MiB, 31 * MiB);
	expect_sgdisk_accepts(f->path, &t);

	/* An odd size (not whole MiB, not whole sectors). */
	make_file(f->path, 50 * MiB + 7 * 512 + 100);
	assert_int_equal(create_on(f->path, 512, 0, false, &t), 0);
	expect_range(&t, "bw-os-a", 1 * MiB, 24 * MiB);
	expect_sgdisk_accepts(f->path, &t);
	make_file(f->path, 50 * MiB + 7 * 512 + 100);
	assert_int_equal(create_on(f->path, 512, 3 * MiB, true, &t), 0);
	expect_range(&t, "bw-data", 7 * MiB, (t.last_usable + 1) * 512 - 7 * MiB);
	expect_sgdisk_accepts(f->path, &t);

	/* The smallest disk that fits: two 1 MiB slots. */
	make_file(f->path, 3 * MiB + 33 * 512);
	assert_int_equal(create_on(f->path, 512, 0, false, &t), 0);
	expect_range(&t, "bw-os-b", 2 * MiB, 1 * MiB);
	expect_sgdisk_accepts(f->path, &t);

	/* ret may be NULL. */
	make_file(f->path, 16 * MiB);
	assert_int_equal(create_on(f->path, 512, 4 * MiB, true, NULL), 0);
	assert_int_equal(gpt_check_layout(read_ok(f->path, 512), NULL), 0);
}

/* A 4096-byte-sector image: our reader and writer agree, a 512 reader sees no GPT. */
static void test_create_4k_image(void **state)
{
	struct fx *f = *state;
	struct gpt_table t, *back;

	make_file(f->path, 64 * MiB);
	assert_int_equal(create_on(f->path, 4096, 20 * MiB, true, &t), 0);
	assert_int_equal(t.sector, 4096);
	assert_int_equal(t.first_usable, 6); /* 16 KiB of entries: 4 sectors */
	assert_int_equal(t.last_usable, 64 * MiB / 4096 - 1 - 4 - 1);
	assert_int_equal(t.parts[0].first_lba, 256);
	expect_range(&t, "bw-os-a", 1 * MiB, 20 * MiB);
	expect_range(&t, "bw-os-b", 21 * MiB, 20 * MiB);
	expect_range(&t, "bw-data", 41 * MiB, 64 * MiB - 41 * MiB - 5 * 4096);
	back = read_ok(f->path, 4096);
	assert_memory_equal(back, &t, sizeof(t));
	read_err(f->path, 512, -ENOENT, "no GPT header");
	/* And a 512 table read as 4096 is no GPT either. */
	make_file(f->path, 64 * MiB);
	assert_int_equal(create_on(f->path, 512, 20 * MiB, true, &t), 0);
	read_err(f->path, 4096, -ENOENT, "no GPT header");
}

/* A real 4Kn disk: a loop device with 4096-byte logical sectors, sgdisk on it both ways. */
static void test_4k_loop_device(void **state)
{
	struct fx *f = *state;
	struct gpt_table t, t2;
	const char *why = NULL;
	uint64_t bytes;
	uint32_t sector;
	char *dev;
	int fd;

	if (geteuid() != 0 || access("/dev/loop-control", F_OK) != 0)
		skip();
	make_file(f->path, 64 * MiB);
	dev = capture("losetup -f --show -P --sector-size 4096 %s 2>/dev/null", f->path);
	dev[strcspn(dev, "\n")] = '\0';
	if (strncmp(dev, "/dev/loop", 9) != 0) {
		free(dev);
		skip();
	}
	snprintf(f->loop, sizeof(f->loop), "%s", dev);
	free(dev);

	sgdisk(f->loop, "-n1:0:+20M -c1:bw-os-a -n2:0:+20M -c2:bw-os-b -n3:0:0 -c3:bw-data");
	fd = open(f->loop, O_RDWR | O_DIRECT);
	assert_true(fd >= 0);
	assert_int_equal(gpt_disk_geometry(fd, &bytes, &sector), 0);
	assert_int_equal(sector, 4096);
	assert_int_equal(bytes, 64 * MiB);
	/* Read through O_DIRECT: buffers and offsets must be aligned. */
	assert_int_equal(gpt_read(fd, bytes, sector, &t, &why), 0);
	assert_int_equal(t.sector, 4096);
	assert_int_equal(t.n, 3);
	expect_disk_like_sgdisk(f->loop, &t);
	for (uint32_t i = 0; i < 3; i++)
		expect_like_sgdisk(f->loop, &t.parts[i], i + 1);
	expect_range(&t, "bw-os-a", 1 * MiB, 20 * MiB);
	assert_int_equal(gpt_check_layout(&t, NULL), 0);
	/* The sector size must be the device's. */
	assert_int_equal(gpt_read(fd, bytes, 512, &t2, &why), -EINVAL);

	/* Wipe (our own creator overwrites the table) and create through O_DIRECT. */
	assert_int_equal(gpt_create_layout(fd, bytes, 512, 8 * MiB, false, &t2), -EINVAL);
	assert_int_equal(gpt_create_layout(fd, bytes, 4096, 8 * MiB, true, &t2), 0);
	assert_int_equal(gpt_reread(fd), 0);
	close(fd);
	expect_range(&t2, "bw-os-b", 9 * MiB, 8 * MiB);
	expect_sgdisk_accepts(f->loop, &t2);
}

/* ---- copies, corruption ---- */

/*
 * The brief's layout, made by sgdisk once per test in dir/golden.img and
 * copied from there (sgdisk sleeps a second after every write).
 */
static void make_sgdisk_layout(const char *path)
{
	char golden[160];
	const char *slash = strrchr(path, '/');

	assert_non_null(slash);
	snprintf(golden, sizeof(golden), "%.*s/golden.img", (int)(slash - path), path);
	if (access(golden, F_OK) != 0) {
		make_file(golden, 64 * MiB);
		sgdisk(golden, "-n1:2048:+20M -c1:bw-os-a -n2:0:+20M -c2:bw-os-b -n3:0:0 -c3:bw-data");
	}
	assert_int_equal(sh("cp --sparse=always %s %s", golden, path), 0);
}

static void flip(const char *path, uint64_t off)
{
	uint8_t b;
	pread_at(path, off, &b, 1);
	b ^= 0x01;
	pwrite_at(path, off, &b, 1);
}

static void test_backup_fallback(void **state)
{
	struct fx *f = *state;
	struct gpt_table good, *t;
	uint64_t last;
	uint8_t zero[512] = { 0 };

	make_sgdisk_layout(f->path);
	good = *read_ok(f->path, 512);
	last = last_lba(f->path, 512);

	/* Primary header corrupt: the backup is used, with the same partitions. */
	flip(f->path, 512 + 60);
	t = read_ok(f->path, 512);
	assert_int_equal(t->source, GPT_BACKUP);
	assert_string_equal(t->other_why, "header CRC mismatch");
	assert_int_equal(t->n, good.n);
	assert_memory_equal(t->parts, good.parts, sizeof(good.parts));
	assert_memory_equal(t->disk_guid, good.disk_guid, 16);
	assert_int_equal(t->first_usable, good.first_usable);
	assert_int_equal(t->last_usable, good.last_usable);
	assert_int_equal(gpt_check_layout(t, NULL), 0);

	/* Primary entry array corrupt. */
	make_sgdisk_layout(f->path);
	flip(f->path, 2 * 512 + 128 + 56);
	t = read_ok(f->path, 512);
	assert_int_equal(t->source, GPT_BACKUP);
	assert_string_equal(t->other_why, "entry array CRC mismatch");

	/* Primary header gone altogether. */
	make_sgdisk_layout(f->path);
	pwrite_at(f->path, 512, zero, sizeof(zero));
	t = read_ok(f->path, 512);
	assert_int_equal(t->source, GPT_BACKUP);
	assert_string_equal(t->other_why, "no GPT signature");
	expect_range(t, "bw-os-b", 21 * MiB, 20 * MiB);

	/* Backup corrupt or gone: the primary is used and says so. */
	make_sgdisk_layout(f->path);
	flip(f->path, last * 512 + 60);
	t = read_ok(f->path, 512);
	assert_int_equal(t->source, GPT_PRIMARY);
	assert_string_equal(t->other_why, "header CRC mismatch");
	pwrite_at(f->path, last * 512, zero, sizeof(zero));
	t = read_ok(f->path, 512);
	assert_int_equal(t->source, GPT_PRIMARY);
	assert_string_equal(t->other_why, "no GPT signature");
}

static void test_unusable(void **state)
{
	struct fx *f = *state;
	uint8_t zero[512] = { 0 }, mbr[512];
	uint64_t last;

	/* Both copies corrupt: the primary's reason. */
	make_sgdisk_layout(f->path);
	last = last_lba(f->path, 512);
	flip(f->path, 512 + 60);
	flip(f->path, last * 512 + 60);
	read_err(f->path, 512, -EBADMSG, "header CRC mismatch");
	/* No primary at all: the backup's reason. */
	pwrite_at(f->path, 512, zero, sizeof(zero));
	read_err(f->path, 512, -EBADMSG, "header CRC mismatch");
	make_sgdisk_layout(f->path);
	pwrite_at(f->path, 512, zero, sizeof(zero));
	flip(f->path, entry_off(f->path, 512, last, 0) + 56);
	read_err(f->path, 512, -EBADMSG, "entry array CRC mismatch");

	/* Both valid but different: no telling which is right. */
	make_sgdisk_layout(f->path);
	pwrite_at(f->path, entry_off(f->path, 512, last, 1) + 56, "x", 1);
	fix_crcs(f->path, 512, last);
	read_err(f->path, 512, -EBADMSG, "primary and backup GPT differ");

	/* A stale GPT under an MBR written later by an MBR tool. */
	make_sgdisk_layout(f->path);
	pread_at(f->path, 0, mbr, sizeof(mbr));
	mbr[446 + 4] = 0x83;
	pwrite_at(f->path, 0, mbr, sizeof(mbr));
	read_err(f->path, 512, -EBADMSG, "MBR has no protective 0xEE partition (stale GPT?)");
	pwrite_at(f->path, 0, zero, sizeof(zero));
	read_err(f->path, 512, -EBADMSG, "no MBR boot signature");
	/* A hybrid MBR (0xEE in the second slot, a FAT partition first) is fine. */
	memset(mbr + 446, 0, 64);
	mbr[446 + 4] = 0x0c;
	put_le32(mbr + 446 + 8, 2048);
	put_le32(mbr + 446 + 12, 40960);
	mbr[462 + 4] = 0xee;
	put_le32(mbr + 462 + 8, 1);
	put_le32(mbr + 462 + 12, 2047);
	pwrite_at(f->path, 0, mbr, sizeof(mbr));
	assert_int_equal(read_ok(f->path, 512)->n, 3);

	/* Grown after partitioning: the backup is not at the end any more. */
	make_sgdisk_layout(f->path);
	assert_int_equal(truncate(f->path, (off_t)(96 * MiB)), 0);
	read_err(f->path, 512, -EBADMSG, "alternate header is not at the other end of the disk");
	/* Shrunk: the same for the primary, and the backup is gone. */
	make_sgdisk_layout(f->path);
	assert_int_equal(truncate(f->path, (off_t)(48 * MiB)), 0);
	read_err(f->path, 512, -EBADMSG, "alternate header is not at the other end of the disk");

	/* No GPT at all. */
	make_file(f->path, 8 * MiB);
	read_err(f->path, 512, -ENOENT, "no GPT header");
	/* An MBR-only disk has no GPT either (gpt_is_blank says it is not blank). */
	memset(mbr, 0, sizeof(mbr));
	mbr[446 + 4] = 0x83;
	put_le32(mbr + 446 + 8, 2048);
	put_le32(mbr + 446 + 12, 4096);
	mbr[510] = 0x55;
	mbr[511] = 0xaa;
	pwrite_at(f->path, 0, mbr, sizeof(mbr));
	read_err(f->path, 512, -ENOENT, "no GPT header");
	make_file(f->path, 1024);
	read_err(f->path, 512, -ENOENT, "disk too small for a GPT");
}

/* Hand-made inconsistencies in both copies, with valid CRCs. */
static void test_bad_entries(void **state)
{
	struct fx *f = *state;
	struct gpt_table *t;
	uint8_t uuid[16];

	/* bw-os-b (entry 1) starts inside bw-os-a. */
	make_sgdisk_layout(f->path);
	patch_entry_le64(f->path, 1, 32, 43007);
	read_err(f->path, 512, -EBADMSG, "partitions overlap");
	/* The last sector shared. */
	make_sgdisk_layout(f->path);
	patch_entry_le64(f->path, 0, 40, 43008);
	read_err(f->path, 512, -EBADMSG, "partitions overlap");
	/* One inside another, seen from the other order. */
	make_sgdisk_layout(f->path);
	patch_entry_le64(f->path, 0, 32, 50000);
	patch_entry_le64(f->path, 0, 40, 50001);
	read_err(f->path, 512, -EBADMSG, "partitions overlap");
	/* Touching is not overlapping: bw-os-a ends right before bw-os-b. */
	make_sgdisk_layout(f->path);
	patch_entry_le64(f->path, 0, 32, 43007);
	t = read_ok(f->path, 512);
	assert_int_equal(t->parts[0].first_lba, 43007);

	make_sgdisk_layout(f->path);
	patch_entry_le64(f->path, 0, 40, 2047);
	read_err(f->path, 512, -EBADMSG, "partition ends before it starts");
	make_sgdisk_layout(f->path);
	patch_entry_le64(f->path, 0, 32, 33);
	read_err(f->path, 512, -EBADMSG, "partition outside the usable range");
	make_sgdisk_layout(f->path);
	patch_entry_le64(f->path, 2, 40, 131039);
	read_err(f->path, 512, -EBADMSG, "partition outside the usable range");
	make_sgdisk_layout(f->path);
	patch_entry_le64(f->path, 2, 40, UINT64_MAX);
	read_err(f->path, 512, -EBADMSG, "partition outside the usable range");

	make_sgdisk_layout(f->path);
	pread_at(f->path, entry_off(f->path, 512, 1, 0) + 16, uuid, 16);
	patch_entry(f->path, 512, 2, 16, uuid, 16);
	read_err(f->path, 512, -EBADMSG, "two partitions share a unique GUID");
	memset(uuid, 0, sizeof(uuid));
	make_sgdisk_layout(f->path);
	patch_entry(f->path, 512, 1, 16, uuid, 16);
	read_err(f->path, 512, -EBADMSG, "partition has a zero unique GUID");

	/* An unused entry (zero type) is not looked at, whatever else it holds. */
	make_sgdisk_layout(f->path);
	patch_entry_le64(f->path, 5, 32, 1);
	patch_entry_le64(f->path, 5, 40, UINT64_MAX);
	assert_int_equal(read_ok(f->path, 512)->n, 3);
}

static void test_layout_rules(void **state)
{
	static const struct {
		const char *args;
		int err;
		const char *why;
	} cases[] = {
		{ "-n1:2048:+20M -c1:bw-os-a -n2:0:+20M -c2:bw-os-a -n3:0:0 -c3:bw-data", -EBADMSG,
		  "bw-os-a appears more than once" },
		{ "-n1:2048:+20M -c1:bw-os-a -n2:0:+20M -c2:bw-os-b -n3:0:+2M -c3:bw-os-b", -EBADMSG,
		  "bw-os-b appears more than once" },
		{ "-n1:2048:+20M -c1:bw-os-a -n2:0:+20M -c2:bw-os-b -n3:0:+2M -c3:bw-data -n4:0:0 -c4:bw-data", -EBADMSG,
		  "bw-data appears more than once" },
		{ "-n1:2048:+20M -c1:bw-os-a -n2:0:+10M -c2:bw-os-b", -EBADMSG, "bw-os-a and bw-os-b differ in size" },
		/* One sector is enough to differ. */
		{ "-n1:2048:+20M -c1:bw-os-a -n2:43008:83966 -c2:bw-os-b", -EBADMSG, "bw-os-a and bw-os-b differ in size" },
		{ "-n1:2048:+20M -c1:bw-os-a -n2:0:0 -c2:bw-data", -EBADMSG, "bw-os-b missing" },
		{ "-n1:2048:+20M -c1:bw-os-b", -EBADMSG, "bw-os-a missing" },
		{ "-n1:2048:+10M -c1:bw-data -n2:0:+20M -c2:bw-os-a -n3:0:+20M -c3:bw-os-b", -EBADMSG,
		  "bw-data is not after the OS slots" },
		/* The slots in either order, others between them: fine. */
		{ "-n1:2048:+20M -c1:bw-os-b -n2:0:+1M -c2:other -n3:0:+20M -c3:bw-os-a -n4:0:0 -c4:bw-data", 0, NULL },
		{ "-n1:2048:+20M -c1:BW-OS-A -n2:0:+20M -c2:root", -ENOENT, "no bootwave partitions" },
	};
	struct fx *f = *state;
	const char *args[ARRAY_SIZE(cases)];
	char path[160];
	struct gpt_table *t;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		args[i] = cases[i].args;
	sgdisk_images(f->dir, 64 * MiB, args, ARRAY_SIZE(cases));
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(path, sizeof(path), "%s/img%zu", f->dir, i);
		t = read_ok(path, 512);
		if (cases[i].err)
			expect_layout_err(t, cases[i].err, cases[i].why);
		else
			assert_int_equal(gpt_check_layout(t, NULL), 0);
	}
	/* A name twice: gpt_find finds neither, the others still. */
	snprintf(path, sizeof(path), "%s/img0", f->dir);
	t = read_ok(path, 512);
	assert_null(gpt_find(t, "bw-os-a"));
	assert_non_null(gpt_find(t, "bw-data"));
}

/* ---- creation limits and what it writes ---- */

static bool file_all_zero(const char *path)
{
	int fd = open(path, O_RDONLY);
	uint8_t buf[65536];
	ssize_t n;
	bool zero = true;
	assert_true(fd >= 0);
	while (zero && (n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			if (buf[i]) {
				zero = false;
				break;
			}
	close(fd);
	return zero;
}

static void test_create_refused(void **state)
{
	struct fx *f = *state;
	struct gpt_table t, before;
	int fd;

	memset(&t, 0x5a, sizeof(t));
	before = t;
	make_file(f->path, 2 * MiB);
	assert_int_equal(create_on(f->path, 512, 0, false, &t), -ENOSPC);
	assert_int_equal(create_on(f->path, 512, 1 * MiB, false, &t), -ENOSPC);
	make_file(f->path, 3 * MiB + 32 * 512); /* one sector short of the smallest */
	assert_int_equal(create_on(f->path, 512, 0, false, &t), -ENOSPC);
	make_file(f->path, 64 * MiB);
	assert_int_equal(create_on(f->path, 512, 32 * MiB, false, &t), -ENOSPC);
	assert_int_equal(create_on(f->path, 512, 31 * MiB, true, &t), -ENOSPC); /* no MiB left for bw-data */
	assert_int_equal(create_on(f->path, 512, UINT64_MAX, false, &t), -ENOSPC);
	assert_int_equal(create_on(f->path, 512, 0, true, &t), -EINVAL);
	assert_int_equal(create_on(f->path, 512, MiB - 1, false, &t), -EINVAL);
	assert_int_equal(create_on(f->path, 1024, 0, false, &t), -EINVAL);
	fd = open(f->path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(gpt_create_layout(fd, 32 * MiB, 512, 0, false, &t), -EINVAL);
	assert_int_equal(gpt_create_layout(fd, 128 * MiB, 512, 0, false, &t), -EINVAL);
	close(fd);
	assert_memory_equal(&t, &before, sizeof(t));
	assert_true(file_all_zero(f->path));
	assert_int_equal(file_size(f->path), 64 * MiB);
	/* The largest that fits. */
	assert_int_equal(create_on(f->path, 512, 31 * MiB, false, &t), 0);
	make_file(f->path, 64 * MiB);
	assert_int_equal(create_on(f->path, 512, 30 * MiB, true, &t), 0);
	expect_range(&t, "bw-data", 61 * MiB, (t.last_usable + 1) * 512 - 61 * MiB);
}

static uint8_t pattern(uint64_t i) { return (uint8_t)(i * 131 + (i >> 9) * 7 + 1); }

/* Fill the disk with a pattern; after create, every byte outside the GPT areas still holds it. */
static void expect_writes_only_gpt(const char *path, uint64_t size, uint32_t sector, uint64_t slot, bool data)
{
	const uint64_t array = 16384;
	uint64_t last = size / sector - 1, lo = 2 * sector + array, hi = (last + 1) * sector - sector - array;
	uint8_t *buf = malloc(size);
	struct gpt_table t;
	int fd;

	assert_non_null(buf);
	for (uint64_t i = 0; i < size; i++)
		buf[i] = pattern(i);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, size), (ssize_t)size);
	assert_int_equal(gpt_create_layout(fd, size, sector, slot, data, &t), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(read(fd, buf, size), (ssize_t)size);
	close(fd);
	for (uint64_t i = lo; i < hi; i++)
		if (buf[i] != pattern(i))
			fail_msg("byte %" PRIu64 " changed (GPT areas end at %" PRIu64 ", start again at %" PRIu64 ")",
				 i, lo, hi);
	for (uint64_t i = (last + 1) * sector; i < size; i++)
		assert_int_equal(buf[i], pattern(i));
	/* And the GPT areas were written whole: the MBR sector is zero but for its partition and signature. */
	for (uint64_t i = 0; i < 446; i++)
		assert_int_equal(buf[i], 0);
	assert_int_equal(buf[510], 0x55);
	assert_memory_equal(buf + sector, "EFI PART", 8);
	assert_memory_equal(buf + last * sector, "EFI PART", 8);
	free(buf);
	/* Partitions keep the old bytes; the reader does not care. */
	assert_int_equal(gpt_check_layout(read_ok(path, sector), NULL), 0);
}

static void test_create_writes_only_gpt(void **state)
{
	struct fx *f = *state;
	expect_writes_only_gpt(f->path, 64 * MiB, 512, 20 * MiB, true);
	expect_writes_only_gpt(f->path, 64 * MiB, 4096, 20 * MiB, true);
	expect_writes_only_gpt(f->path, 40 * MiB + 1000, 512, 0, false);
	expect_writes_only_gpt(f->path, 40 * MiB + 5000, 4096, 0, false);
}

static void test_is_blank(void **state)
{
	struct fx *f = *state;
	static const struct {
		uint64_t size, off;
		bool blank;
	} cases[] = {
		{ 8 * MiB, 0, false },
		{ 8 * MiB, 8 * MiB - 1, false },
		{ 8 * MiB, 1 * MiB - 1, false },
		{ 8 * MiB, 1 * MiB, true },
		{ 8 * MiB, 4 * MiB, true },
		{ 8 * MiB, 7 * MiB - 1, true },
		{ 8 * MiB, 7 * MiB, false },
		{ 8 * MiB + 123, 7 * MiB + 122, true },
		{ 8 * MiB + 123, 7 * MiB + 123, false },
		{ 100 * 1024, 50 * 1024, false }, /* smaller than 1 MiB: all of it */
		{ 1536 * 1024, 768 * 1024, false }, /* the two MiB overlap */
		{ 1, 0, false },
	};
	bool blank;
	int fd;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		make_file(f->path, cases[i].size);
		fd = open(f->path, O_RDONLY);
		assert_true(fd >= 0);
		blank = false;
		assert_int_equal(gpt_is_blank(fd, cases[i].size, &blank), 0);
		assert_true(blank);
		close(fd);
		pwrite_at(f->path, cases[i].off, "\x01", 1);
		fd = open(f->path, O_RDONLY);
		blank = !cases[i].blank;
		assert_int_equal(gpt_is_blank(fd, cases[i].size, &blank), 0);
		if (blank != cases[i].blank)
			fail_msg("case %zu: size %" PRIu64 " byte at %" PRIu64 ": blank %d", i, cases[i].size,
				 cases[i].off, blank);
		/* A size that is not the disk's. */
		assert_int_equal(gpt_is_blank(fd, cases[i].size + 1, &blank), -EINVAL);
		close(fd);
	}
	/* An empty file is blank; a layout is not. */
	make_file(f->path, 0);
	fd = open(f->path, O_RDONLY);
	assert_int_equal(gpt_is_blank(fd, 0, &blank), 0);
	assert_true(blank);
	close(fd);
	make_sgdisk_layout(f->path);
	fd = open(f->path, O_RDONLY);
	assert_int_equal(gpt_is_blank(fd, 64 * MiB, &blank), 0);
	assert_false(blank);
	close(fd);
}

static void test_geometry_reread(void **state)
{
	struct fx *f = *state;
	uint64_t bytes = 7;
	uint32_t sector = 7;
	struct gpt_table t;
	int fd;

	make_file(f->path, 5 * MiB + 3);
	fd = open(f->path, O_RDONLY);
	assert_int_equal(gpt_disk_geometry(fd, &bytes, &sector), 0);
	assert_int_equal(bytes, 5 * MiB + 3);
	assert_int_equal(sector, 512);
	assert_int_equal(gpt_reread(fd), 0);
	assert_int_equal(gpt_read(fd, bytes + 512, 512, &t, NULL), -EINVAL);
	assert_int_equal(gpt_read(fd, bytes, 2048, &t, NULL), -EINVAL);
	close(fd);
	fd = open(f->dir, O_RDONLY | O_DIRECTORY);
	bytes = 7;
	assert_int_equal(gpt_disk_geometry(fd, &bytes, &sector), -ENOTBLK);
	assert_int_equal(bytes, 7);
	assert_int_equal(gpt_read(fd, 0, 512, &t, NULL), -ENOTBLK);
	close(fd);
}

/* ---- the pure parsers ---- */

struct hdr {
	uint64_t at; /* the LBA it is read from */
	uint32_t rev, hsize, reserved, n, esize;
	uint64_t my, alt, fu, lu, elba;
	bool bad_crc;
};

/* A primary header for a 64 MiB disk of 512-byte sectors, as sgdisk makes it. */
static struct hdr hdr_default(void)
{
	return (struct hdr){ .at = 1, .rev = 0x10000, .hsize = 92, .n = 128, .esize = 128, .my = 1, .alt = 131071,
			     .fu = 34, .lu = 131038, .elba = 2 };
}

static void hdr_build(uint8_t *b, size_t sector, const struct hdr *h)
{
	memset(b, 0, sector);
	memcpy(b, "EFI PART", 8);
	put_le32(b + 8, h->rev);
	put_le32(b + 12, h->hsize);
	put_le32(b + 20, h->reserved);
	put_le64(b + 24, h->my);
	put_le64(b + 32, h->alt);
	put_le64(b + 40, h->fu);
	put_le64(b + 48, h->lu);
	memset(b + 56, 0xab, 16);
	put_le64(b + 72, h->elba);
	put_le32(b + 80, h->n);
	put_le32(b + 84, h->esize);
	put_le32(b + 88, 0x12345678);
	put_le32(b + 16, (uint32_t)crc32(0, b, h->hsize <= sector ? h->hsize : 92) ^ (h->bad_crc ? 1 : 0));
}

static void hdr_err(const struct hdr *h, int err, const char *want)
{
	uint8_t b[512];
	struct gpt_header out, before;
	const char *why = NULL;
	int r;

	hdr_build(b, sizeof(b), h);
	memset(&out, 0x5a, sizeof(out));
	before = out;
	r = gpt_parse_header(heap_copy(b, sizeof(b)), sizeof(b), 512, h->at, 131072, &out, &why);
	if (r != err || !why || strcmp(why, want) != 0)
		fail_msg("gpt_parse_header = %d (%s), expected %d (%s)", r, why ? why : "NULL", err, want);
	assert_memory_equal(&out, &before, sizeof(out));
}

static void test_parse_header(void **state)
{
	uint8_t b[4096];
	struct gpt_header out;
	const char *why = "x";
	struct hdr h;
	(void)state;

	h = hdr_default();
	hdr_build(b, 512, &h);
	assert_int_equal(gpt_parse_header(heap_copy(b, 512), 512, 512, 1, 131072, &out, &why), 0);
	assert_null(why);
	assert_int_equal(out.first_usable, 34);
	assert_int_equal(out.last_usable, 131038);
	assert_int_equal(out.entries_lba, 2);
	assert_int_equal(out.array_bytes, 16384);
	assert_int_equal(out.entries_crc, 0x12345678);
	assert_int_equal(out.disk_sectors, 131072);
	/* The backup, at the last LBA. */
	h.my = 131071;
	h.alt = 1;
	h.elba = 131039;
	hdr_build(b, 512, &h);
	assert_int_equal(gpt_parse_header(heap_copy(b, 512), 512, 512, 131071, 131072, &out, NULL), 0);
	/* A header size up to the sector, covered by the CRC. */
	h = hdr_default();
	h.hsize = 512;
	hdr_build(b, 512, &h);
	b[300] = 7;
	put_le32(b + 16, 0);
	put_le32(b + 16, (uint32_t)crc32(0, b, 512));
	assert_int_equal(gpt_parse_header(heap_copy(b, 512), 512, 512, 1, 131072, &out, NULL), 0);
	/* A 4096 sector header. */
	h = (struct hdr){ .rev = 0x10000, .hsize = 92, .n = 128, .esize = 128, .my = 1, .alt = 16383,
			  .fu = 6, .lu = 16378, .elba = 2 };
	hdr_build(b, 4096, &h);
	assert_int_equal(gpt_parse_header(heap_copy(b, 4096), 4096, 4096, 1, 16384, &out, NULL), 0);
	assert_int_equal(gpt_parse_header(heap_copy(b, 4096), 4095, 4096, 1, 16384, &out, &why), -EBADMSG);
	assert_string_equal(why, "header sector cut short");

	h = hdr_default();
	hdr_build(b, 512, &h);
	assert_int_equal(gpt_parse_header(heap_copy(b, 511), 511, 512, 1, 131072, &out, &why), -EBADMSG);
	assert_string_equal(why, "header sector cut short");
	assert_int_equal(gpt_parse_header(heap_copy(b, 512), 512, 1024, 1, 131072, &out, &why), -EINVAL);
	assert_string_equal(why, "unsupported sector size");
	assert_int_equal(gpt_parse_header(heap_copy(b, 512), 512, 512, 2, 131072, &out, &why), -EINVAL);
	assert_string_equal(why, "header position is neither LBA 1 nor the last LBA");
	assert_int_equal(gpt_parse_header(heap_copy(b, 512), 512, 512, 1, 2, &out, &why), -EINVAL);
	assert_int_equal(gpt_parse_header(heap_copy(b, 512), 512, 512, 1, UINT64_MAX, &out, &why), -EINVAL);
	assert_string_equal(why, "disk size out of range");
	b[0] = 'e';
	assert_int_equal(gpt_parse_header(heap_copy(b, 512), 512, 512, 1, 131072, &out, &why), -ENOENT);
	assert_string_equal(why, "no GPT signature");

#define BAD(field_, value_, want_)                                                                                \
	do {                                                                                                      \
		h = hdr_default();                                                                                \
		h.field_ = value_;                                                                                \
		hdr_err(&h, -EBADMSG, want_);                                                                     \
	} while (0)
	BAD(rev, 0x10001, "unsupported GPT revision");
	BAD(rev, 0x20000, "unsupported GPT revision");
	BAD(hsize, 91, "header size out of range");
	BAD(hsize, 513, "header size out of range");
	BAD(bad_crc, true, "header CRC mismatch");
	BAD(reserved, 1, "reserved header field not zero");
	BAD(my, 131071, "header LBA does not match its position");
	BAD(alt, 131070, "alternate header is not at the other end of the disk");
	BAD(alt, 1, "alternate header is not at the other end of the disk");
	BAD(esize, 0, "entry size is not 128 times a power of two");
	BAD(esize, 64, "entry size is not 128 times a power of two");
	BAD(esize, 192, "entry size is not 128 times a power of two");
	BAD(esize, 0x80000000, "entry size over the limit");
	BAD(esize, 8192, "entry size over the limit");
	BAD(n, 0, "no partition entries");
	BAD(n, 1025, "too many partition entries");
	BAD(n, UINT32_MAX, "too many partition entries");
	BAD(fu, 131039, "first usable LBA after last usable LBA");
	BAD(fu, 33, "usable range overlaps the primary header or entry array");
	BAD(fu, 0, "usable range overlaps the primary header or entry array");
	BAD(lu, 131039, "usable range overlaps the backup header or entry array");
	BAD(lu, 131071, "usable range overlaps the backup header or entry array");
	BAD(lu, UINT64_MAX, "usable range overlaps the backup header or entry array");
	BAD(elba, 1, "entry array overlaps a header or the usable range");
	BAD(elba, 3, "entry array overlaps a header or the usable range");
	BAD(elba, 131039, "entry array overlaps a header or the usable range");
	BAD(elba, UINT64_MAX, "entry array overlaps a header or the usable range");
#undef BAD
	/* 1024 entries of 1024 bytes would be 1 MiB: fits the limit, not the usable range given. */
	h = hdr_default();
	h.n = 1024;
	h.esize = 1024;
	hdr_err(&h, -EBADMSG, "usable range overlaps the primary header or entry array");
	h.esize = 2048;
	hdr_err(&h, -EBADMSG, "too many partition entries");
	/* A bigger array pushed elsewhere is fine when the usable range leaves room. */
	h = hdr_default();
	h.n = 256;
	h.elba = 10;
	h.fu = 2048;
	h.lu = 131071 - 65;
	hdr_build(b, 512, &h);
	assert_int_equal(gpt_parse_header(heap_copy(b, 512), 512, 512, 1, 131072, &out, NULL), 0);
	assert_int_equal(out.array_bytes, 32768);
	/* Backup array inside the usable range. */
	h = hdr_default();
	h.at = h.my = 131071;
	h.alt = 1;
	h.elba = 131038;
	hdr_err(&h, -EBADMSG, "entry array overlaps a header or the usable range");
}

/* An array of n 128-byte entries with given names (UTF-16 units), and its checked header. */
struct arr {
	uint8_t b[16384];
	struct gpt_header h;
};

static void arr_init(struct arr *a, uint32_t n)
{
	memset(a, 0, sizeof(*a));
	a->h = (struct gpt_header){ .sector = 512, .disk_sectors = 131072, .my_lba = 1, .alt_lba = 131071,
				    .first_usable = 34, .last_usable = 131038, .entries_lba = 2, .n_entries = n,
				    .entry_size = 128, .array_bytes = n * 128 };
}

static void arr_part(struct arr *a, uint32_t idx, uint64_t first, uint64_t last, const uint16_t *name, size_t units)
{
	uint8_t *e = a->b + idx * 128;
	memset(e, 0, 128);
	memset(e, 0x11, 16);
	memset(e + 16, 0, 16);
	put_le32(e + 16, idx + 1);
	put_le64(e + 32, first);
	put_le64(e + 40, last);
	for (size_t k = 0; k < units && k < 36; k++) {
		e[56 + 2 * k] = (uint8_t)name[k];
		e[57 + 2 * k] = (uint8_t)(name[k] >> 8);
	}
	a->h.entries_crc = (uint32_t)crc32(0, a->b, a->h.array_bytes);
}

static const char *arr_name(struct arr *a, const uint16_t *name, size_t units)
{
	static struct gpt_table t;
	const char *why = NULL;
	arr_init(a, 4);
	arr_part(a, 2, 100, 200, name, units);
	if (gpt_parse_entries(heap_copy(a->b, a->h.array_bytes), a->h.array_bytes, &a->h, &t, &why) != 0)
		fail_msg("gpt_parse_entries: %s", why);
	assert_int_equal(t.n, 1);
	assert_int_equal(t.parts[0].number, 3);
	return t.parts[0].name;
}

static void test_parse_entries(void **state)
{
	static struct arr a;
	static struct gpt_table t, before;
	static const uint16_t ascii[] = { 'b', 'w', '-', 'o', 's', '-', 'a' };
	static const uint16_t upper[] = { 'B', 'W', '-', 'O', 'S', '-', 'A' };
	static const uint16_t donnees[] = { 'D', 'o', 'n', 'n', 0xe9, 'e', 's' };
	static const uint16_t emoji[] = { 'x', 0xd83d, 0xde00, 'y' };
	static const uint16_t lone[] = { 0xd800, 'a', 0xdc00, 0xd83d };
	static const uint16_t ctrl[] = { 'a', '\n', 0x1b, 0x7f, 0x85, 'b' };
	static const uint16_t after_nul[] = { 'b', 'w', 0, 'x' };
	uint16_t full[36], euro[36], pairs[36];
	const char *why = NULL;
	(void)state;

	assert_string_equal(arr_name(&a, ascii, 7), "bw-os-a");
	assert_string_equal(arr_name(&a, upper, 7), "BW-OS-A");
	assert_string_equal(arr_name(&a, donnees, 7), "Donn\xc3\xa9" "es");
	assert_string_equal(arr_name(&a, emoji, 4), "x\xf0\x9f\x98\x80y");
	assert_string_equal(arr_name(&a, lone, 4), "\xef\xbf\xbd" "a\xef\xbf\xbd\xef\xbf\xbd");
	assert_string_equal(arr_name(&a, ctrl, 6), "a????b");
	assert_string_equal(arr_name(&a, after_nul, 4), "bw");
	for (size_t k = 0; k < 36; k++) {
		full[k] = 'z';
		euro[k] = 0x20ac;
		pairs[k] = k % 2 ? 0xdc00 : 0xd800;
	}
	assert_int_equal(strlen(arr_name(&a, full, 36)), 36);
	assert_int_equal(strlen(arr_name(&a, euro, 36)), GPT_NAME_MAX);
	assert_int_equal(strlen(arr_name(&a, pairs, 36)), 18 * 4);
	/* A pair cut by the end of the field. */
	full[35] = 0xd83d;
	assert_string_equal(arr_name(&a, full, 36) + 35, "\xef\xbf\xbd");
	{
		struct gpt_table *tt = &t;
		arr_init(&a, 4);
		arr_part(&a, 0, 100, 200, upper, 7);
		arr_part(&a, 1, 300, 400, ascii, 7);
		assert_int_equal(gpt_parse_entries(a.b, a.h.array_bytes, &a.h, tt, NULL), 0);
		assert_ptr_equal(gpt_find(tt, "bw-os-a"), &tt->parts[1]);
	}

	/* Refusals, and the output left alone. */
	memset(&t, 0x5a, sizeof(t));
	before = t;
	arr_init(&a, 4);
	arr_part(&a, 0, 100, 200, ascii, 7);
	assert_int_equal(gpt_parse_entries(heap_copy(a.b, 511), 511, &a.h, &t, &why), -EBADMSG);
	assert_string_equal(why, "entry array cut short");
	a.b[100] ^= 1;
	assert_int_equal(gpt_parse_entries(heap_copy(a.b, 512), 512, &a.h, &t, &why), -EBADMSG);
	assert_string_equal(why, "entry array CRC mismatch");
	a.h.entry_size = 100;
	assert_int_equal(gpt_parse_entries(a.b, 512, &a.h, &t, &why), -EINVAL);
	assert_int_equal(gpt_parse_entries(a.b, 512, NULL, &t, &why), -EINVAL);
	assert_memory_equal(&t, &before, sizeof(t));

	/* 129 partitions in use in a 256-entry array (32 KiB: built in two halves). */
	{
		static uint8_t big[32768];
		struct gpt_header h = a.h;
		h.n_entries = 256;
		h.entry_size = 128;
		h.array_bytes = 32768;
		memset(big, 0, sizeof(big));
		for (uint32_t i = 0; i < 129; i++) {
			uint8_t *e = big + i * 128;
			memset(e, 0x22, 16);
			put_le32(e + 16, i + 1);
			put_le64(e + 32, 100 + 2 * i);
			put_le64(e + 40, 100 + 2 * i);
		}
		h.entries_crc = (uint32_t)crc32(0, big, sizeof(big));
		assert_int_equal(gpt_parse_entries(heap_copy(big, sizeof(big)), sizeof(big), &h, &t, &why), -EBADMSG);
		assert_string_equal(why, "more than 128 partitions in use");
		/* 128 are fine, and larger entries are read at their stride. */
		memset(big + 128 * 128, 0, 128);
		h.entries_crc = (uint32_t)crc32(0, big, sizeof(big));
		assert_int_equal(gpt_parse_entries(heap_copy(big, sizeof(big)), sizeof(big), &h, &t, &why), 0);
		assert_int_equal(t.n, 128);
		assert_int_equal(t.parts[127].number, 128);
		assert_int_equal(t.parts[127].first_lba, 100 + 2 * 127);
		h.n_entries = 64;
		h.entry_size = 512;
		assert_int_equal(gpt_parse_entries(heap_copy(big, sizeof(big)), sizeof(big), &h, &t, &why), 0);
		assert_int_equal(t.n, 32); /* entries 0, 4, ... 124 of the 128-byte view */
		assert_int_equal(t.parts[1].number, 2);
		assert_int_equal(t.parts[1].first_lba, 100 + 2 * 4);
	}
}

static void test_parse_mbr(void **state)
{
	uint8_t b[512] = { 0 };
	const char *why = NULL;
	(void)state;

	assert_int_equal(gpt_parse_mbr(heap_copy(b, 512), 512, &why), -ENOENT);
	assert_string_equal(why, "no MBR boot signature");
	b[510] = 0x55;
	b[511] = 0xaa;
	assert_int_equal(gpt_parse_mbr(heap_copy(b, 512), 512, &why), -EBADMSG);
	assert_string_equal(why, "MBR has no protective 0xEE partition (stale GPT?)");
	b[446 + 48 + 4] = 0xee; /* the fourth slot */
	put_le32(b + 446 + 48 + 8, 2);
	assert_int_equal(gpt_parse_mbr(heap_copy(b, 512), 512, &why), -EBADMSG);
	put_le32(b + 446 + 48 + 8, 1);
	assert_int_equal(gpt_parse_mbr(heap_copy(b, 512), 512, &why), 0);
	assert_null(why);
	assert_int_equal(gpt_parse_mbr(heap_copy(b, 511), 511, &why), -EBADMSG);
	assert_string_equal(why, "MBR sector cut short");
	assert_int_equal(gpt_parse_mbr(heap_copy(b, 0), 0, NULL), -EBADMSG);
}

static void test_part_range(void **state)
{
	static struct gpt_table t;
	struct gpt_part *p = &t.parts[0];
	uint64_t off = 7, len = 7;
	(void)state;

	t = (struct gpt_table){ .sector = 4096, .disk_bytes = UINT64_MAX, .first_usable = 6,
				.last_usable = UINT64_MAX - 1, .n = 1 };
	memset(p->type_guid, 1, 16);
	p->first_lba = 1ull << 50;
	p->last_lba = (1ull << 50) + 9;
	assert_int_equal(gpt_part_range(&t, p, &off, &len), 0);
	assert_int_equal(off, 1ull << 62);
	assert_int_equal(len, 40960);
	p->first_lba = 1ull << 53; /* times 4096 is 2^65 */
	p->last_lba = (1ull << 53) + 1;
	off = len = 7;
	assert_int_equal(gpt_part_range(&t, p, &off, &len), -EOVERFLOW);
	p->first_lba = 6;
	p->last_lba = UINT64_MAX - 1;
	assert_int_equal(gpt_part_range(&t, p, &off, &len), -EOVERFLOW);
	t.disk_bytes = 64 * MiB;
	t.last_usable = 64 * MiB / 4096 - 6;
	p->first_lba = 256;
	p->last_lba = t.last_usable + 1;
	assert_int_equal(gpt_part_range(&t, p, &off, &len), -ERANGE);
	t.last_usable = 64 * MiB / 4096; /* a hand-made table whose usable range passes the disk */
	p->last_lba = t.last_usable;
	assert_int_equal(gpt_part_range(&t, p, &off, &len), -ERANGE);
	p->first_lba = 5;
	p->last_lba = 10;
	assert_int_equal(gpt_part_range(&t, p, &off, &len), -ERANGE);
	p->first_lba = 11;
	assert_int_equal(gpt_part_range(&t, p, &off, &len), -EINVAL);
	p->first_lba = 10;
	memset(p->type_guid, 0, 16);
	assert_int_equal(gpt_part_range(&t, p, &off, &len), -EINVAL);
	assert_int_equal(gpt_part_range(&t, NULL, &off, &len), -EINVAL);
	assert_int_equal(off, 7);
	assert_int_equal(len, 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sgdisk_layouts, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_create_layout, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_create_4k_image, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_4k_loop_device, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_backup_fallback, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_unusable, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_entries, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_layout_rules, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_create_refused, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_create_writes_only_gpt, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_is_blank, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_geometry_reread, fx_setup, fx_teardown),
		cmocka_unit_test_teardown(test_parse_header, heap_copy_teardown),
		cmocka_unit_test_teardown(test_parse_entries, heap_copy_teardown),
		cmocka_unit_test_teardown(test_parse_mbr, heap_copy_teardown),
		cmocka_unit_test(test_part_range),
	};
	return cmocka_run_group_tests_name("gpt", tests, NULL, NULL);
}
