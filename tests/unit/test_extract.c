// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of imaging/extract.c, the safe extraction of a rootfs tarball:
 * the name and link rules as tables, then real extractions into a fresh
 * directory of archives built here with libarchive's write API (pax, gzip,
 * zstd, a streamed zip without sizes) and with GNU tar itself. Every
 * fixture has a sibling directory "outside" with a canary file; every test
 * ends by checking that it is byte-for-byte unchanged (names, types, modes,
 * owners, mtimes, contents, link targets). Refusals also check that the
 * stats output stays untouched and that the reason names the entry. Runs
 * as root (chown, mknod, security.capability).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "extract.h"
#include "testutil.h"
#include "util.h"

#define MiB (1024 * 1024)

static const struct extract_limits no_limits = { UINT64_MAX, UINT64_MAX, false };

/* ---- pure checkers ---- */

static void path_ok(const char *in, const char *want)
{
	char out[EXTRACT_PATH_BUF];
	const char *why = NULL;
	int r = extract_path_check(in, out, sizeof(out), &why);
	if (r != 0)
		fail_msg("extract_path_check(%s) = %d (%s)", in, r, why ? why : "?");
	assert_null(why);
	assert_string_equal(out, want);
}

static void path_bad(const char *in, int err, const char *want_why)
{
	char out[EXTRACT_PATH_BUF];
	const char *why = NULL;
	int r;

	memset(out, 0x5a, sizeof(out));
	r = extract_path_check(in, out, sizeof(out), &why);
	if (r != err || !why || strcmp(why, want_why) != 0)
		fail_msg("extract_path_check(%.40s) = %d (%s), expected %d (%s)", in ? in : "NULL", r,
			 why ? why : "NULL", err, want_why);
	assert_int_equal((unsigned char)out[0], 0x5a); /* untouched */
	assert_int_equal(extract_path_check(in, out, sizeof(out), NULL), err);
}

static void test_path_check(void **state)
{
	char big[EXTRACT_PATH_MAX + 2], out[8];
	const char *why = NULL;
	(void)state;

	path_ok("etc/passwd", "etc/passwd");
	path_ok("./etc/passwd", "etc/passwd");
	path_ok("./etc//passwd/", "etc/passwd");
	path_ok("a/./b/.", "a/b");
	path_ok(".//./x", "x");
	path_ok("usr/", "usr");
	path_ok("...", "...");
	path_ok("..a/b..", "..a/b..");
	path_ok("a\nb\x01", "a\nb\x01"); /* legal Linux names */
	path_ok("caf\xc3\xa9/\xff", "caf\xc3\xa9/\xff");
	/* The root itself. */
	path_ok(".", "");
	path_ok("./", "");
	path_ok(".//.", "");

	path_bad(NULL, -EINVAL, "path is missing");
	path_bad("", -EINVAL, "path is empty");
	path_bad("/etc/passwd", -EINVAL, "path is absolute");
	path_bad("//x", -EINVAL, "path is absolute");
	path_bad("/", -EINVAL, "path is absolute");
	path_bad("..", -EINVAL, "path has a '..' component");
	path_bad("../x", -EINVAL, "path has a '..' component");
	path_bad("a/../../x", -EINVAL, "path has a '..' component");
	path_bad("a/../b", -EINVAL, "path has a '..' component");
	path_bad("./a/..", -EINVAL, "path has a '..' component");
	path_bad("a/../", -EINVAL, "path has a '..' component");

	/* Lengths: 255-byte components and 4095-byte names are the limits. */
	memset(big, 'n', 255);
	big[255] = '\0';
	path_ok(big, big);
	big[255] = 'n';
	big[256] = '\0';
	path_bad(big, -ENAMETOOLONG, "path component is longer than 255 bytes");
	for (size_t i = 0; i < EXTRACT_PATH_MAX; i++)
		big[i] = i % 2 ? '/' : 'a'; /* "a/a/.../a", 4095 bytes */
	big[EXTRACT_PATH_MAX] = '\0';
	path_ok(big, big);
	big[EXTRACT_PATH_MAX] = '/'; /* 4096 bytes, even if the slash would go */
	big[EXTRACT_PATH_MAX + 1] = '\0';
	path_bad(big, -ENAMETOOLONG, "path is longer than 4095 bytes");

	/* The output buffer: exact fit, one byte short. */
	assert_int_equal(extract_path_check("./abcdefg", out, 8, &why), 0);
	assert_string_equal(out, "abcdefg");
	memset(out, 0x5a, sizeof(out));
	assert_int_equal(extract_path_check("abcdefgh", out, 8, &why), -ENAMETOOLONG);
	assert_string_equal(why, "normalised path does not fit the output buffer");
	assert_int_equal((unsigned char)out[0], 0x5a);
	assert_int_equal(extract_path_check(".", out, 1, NULL), 0);
	assert_string_equal(out, "");
}

static void link_ok(const char *entry, const char *target)
{
	const char *why = NULL;
	int r = extract_link_check(entry, target, &why);
	if (r != 0)
		fail_msg("extract_link_check(%s -> %s) = %d (%s)", entry, target, r, why ? why : "?");
	assert_null(why);
}

static void link_bad(const char *entry, const char *target, int err, const char *want_why)
{
	const char *why = NULL;
	int r = extract_link_check(entry, target, &why);
	if (r != err || !why || strcmp(why, want_why) != 0)
		fail_msg("extract_link_check(%s -> %s) = %d (%s), expected %d (%s)", entry ? entry : "NULL",
			 target ? target : "NULL", r, why ? why : "NULL", err, want_why);
	assert_int_equal(extract_link_check(entry, target, NULL), err);
}

static void test_link_check(void **state)
{
	char big[EXTRACT_PATH_MAX + 2];
	(void)state;

	/* Absolute targets are rooted in the slot. */
	link_ok("bin/sh", "/usr/bin/dash");
	link_ok("./bin/sh", "/usr/bin/dash");
	link_ok("etc/mtab", "/proc/self/mounts");
	link_ok("x", "/../../../etc"); /* "/.." is "/" once the slot is the root */
	/* Relative ones stay inside, lexically from the link's directory. */
	link_ok("bin", "usr/bin");
	link_ok("a/b/ok", "../../x");
	link_ok("a/b/ok", "../..");
	link_ok("a/b/ok", "./../.././x/");
	link_ok("usr/lib/x86_64-linux-gnu/libc.so", "../../../lib/libc.so.6");
	link_ok("a/b/c", "d/../../../e"); /* climbs to the root, not above it */
	link_ok("self", ".");
	link_ok("a/b", "..");

	link_bad("evil", "../../../etc", -EINVAL, "symlink target climbs out of the root");
	link_bad("up", "..", -EINVAL, "symlink target climbs out of the root");
	link_bad("a/b/up", "../../..", -EINVAL, "symlink target climbs out of the root");
	link_bad("a/b/c", "d/../../../../e", -EINVAL, "symlink target climbs out of the root");
	link_bad("a/x", "b/../../..", -EINVAL, "symlink target climbs out of the root");
	link_bad("a//./x", "../..", -EINVAL, "symlink target climbs out of the root");
	link_bad("x", "", -EINVAL, "symlink target is empty");
	link_bad("x", NULL, -EINVAL, "symlink target is empty");
	link_bad(".", "x", -EINVAL, "symlink cannot be the root directory");
	link_bad("./", "/x", -EINVAL, "symlink cannot be the root directory");
	/* The entry's own name goes through extract_path_check. */
	link_bad("/bin/sh", "dash", -EINVAL, "path is absolute");
	link_bad("../x", "y", -EINVAL, "path has a '..' component");
	link_bad("", "y", -EINVAL, "path is empty");

	memset(big, 'a', EXTRACT_PATH_MAX + 1);
	big[EXTRACT_PATH_MAX + 1] = '\0';
	link_bad("x", big, -ENAMETOOLONG, "symlink target is longer than 4095 bytes");
	big[EXTRACT_PATH_MAX] = '\0';
	link_ok("x", big);
}

/* ---- fixture: base/root (extracted into), base/outside (must not change) ---- */

struct fx {
	char base[64];
	char root[128];
	char outside[128];
	char file[128]; /* the archive */
	int root_fd;
	char *outside_snap;
};

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

/* Whether snapshots include security.capability (GNU tar's own format has no xattrs). */
static bool snap_caps = true;

/* Everything under dfd, sorted, one line per name: type, mode, owner, links, mtime, content hash, target. */
static void snap_dir(FILE *out, int dfd, const char *prefix)
{
	struct dirent **list;
	int n = scandirat(dfd, ".", &list, NULL, alphasort);

	assert_true(n >= 0);
	for (int i = 0; i < n; i++) {
		const char *name = list[i]->d_name;
		struct stat st;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
			free(list[i]);
			continue;
		}
		assert_int_equal(fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
		fprintf(out, "%s%s mode=%o owner=%u:%u nlink=%lu mtime=%lld", prefix, name, st.st_mode, st.st_uid,
			st.st_gid, (unsigned long)(S_ISDIR(st.st_mode) ? 0 : st.st_nlink), (long long)st.st_mtime);
		if (S_ISREG(st.st_mode)) {
			char buf[65536], cap[64];
			uint64_t h = 14695981039346656037ull;
			ssize_t k;
			int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			assert_true(fd >= 0);
			while ((k = read(fd, buf, sizeof(buf))) > 0)
				h = fnv(h, buf, (size_t)k);
			k = snap_caps ? fgetxattr(fd, "security.capability", cap, sizeof(cap)) : -1;
			fprintf(out, " size=%lld fnv=%016llx cap=%lld", (long long)st.st_size, (unsigned long long)h,
				(long long)(k > 0 ? (long long)fnv(1, cap, (size_t)k) : -1));
			close(fd);
		} else if (S_ISLNK(st.st_mode)) {
			char t[EXTRACT_PATH_BUF];
			ssize_t k = readlinkat(dfd, name, t, sizeof(t) - 1);
			assert_true(k >= 0);
			t[k] = '\0';
			fprintf(out, " -> %s", t);
		} else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
			fprintf(out, " rdev=%u:%u", major(st.st_rdev), minor(st.st_rdev));
		}
		fputc('\n', out);
		if (S_ISDIR(st.st_mode)) {
			char sub[4200];
			int cfd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			assert_true(cfd >= 0);
			snprintf(sub, sizeof(sub), "%s%s/", prefix, name);
			snap_dir(out, cfd, sub);
			close(cfd);
		}
		free(list[i]);
	}
	free(list);
}

/* The snapshot of the tree at path (itself included); the caller frees. */
static char *snapshot(const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	struct stat st;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_non_null(out);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	fprintf(out, ". mode=%o owner=%u:%u mtime=%lld\n", st.st_mode, st.st_uid, st.st_gid, (long long)st.st_mtime);
	snap_dir(out, fd, "");
	close(fd);
	fclose(out);
	return buf;
}

static void write_file(const char *path, const char *data)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(data, f);
	assert_int_equal(fclose(f), 0);
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char p[200];

	if (!f || test_dir_make("extract", "root", f->base, f->root) < 0)
		return -1;
	snprintf(f->outside, sizeof(f->outside), "%s/outside", f->base);
	snprintf(f->file, sizeof(f->file), "%s/archive", f->base);
	if (mkdir(f->root, 0755) < 0 || mkdir(f->outside, 0755) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/canary", f->outside);
	write_file(p, "canary: do not touch\n");
	snprintf(p, sizeof(p), "%s/etc", f->outside);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/etc/passwd", f->outside);
	write_file(p, "root:x:0:0::/root:/bin/sh\n");
	f->outside_snap = snapshot(f->outside);
	f->root_fd = open(f->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->root_fd < 0)
		return -1;
	extract_test_no_openat2 = false;
	*state = f;
	return 0;
}

static void assert_outside_unchanged(struct fx *f)
{
	char *now = snapshot(f->outside);
	if (strcmp(now, f->outside_snap) != 0)
		fail_msg("outside changed:\n--- before\n%s--- after\n%s", f->outside_snap, now);
	free(now);
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	char mnt[160];
	char *now = snapshot(f->outside);
	int r = strcmp(now, f->outside_snap) == 0 ? 0 : -1;

	free(now);
	close(f->root_fd);
	snprintf(mnt, sizeof(mnt), "%s/mnt", f->root);
	umount2(mnt, MNT_DETACH); /* test_mount_crossing, if it failed half-way */
	rm_rf(f->base);
	free(f->outside_snap);
	free(f);
	extract_test_no_openat2 = false;
	return r;
}

/* ---- archives built with libarchive ---- */

enum { FILT_NONE, FILT_GZIP, FILT_ZSTD };
enum { FMT_PAX, FMT_ZIP };

struct ent {
	const char *path;
	mode_t type; /* AE_IF*, 0 = regular file */
	mode_t perm; /* 0: 0644, 0755 for directories */
	const char *data;
	int64_t zeros; /* regular file of that many zero bytes (instead of data) */
	const char *link;
	const char *hardlink;
	int64_t uid, gid;
	int64_t mtime; /* 0: 1700000000 */
	unsigned rmaj, rmin;
	bool no_size; /* size unknown up front (zip streaming) */
	const void *cap;
	size_t cap_len;
};

static void build(const char *file, int fmt, int filt, const struct ent *v, size_t n)
{
	static const char zeros[MiB];
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();

	assert_non_null(a);
	assert_int_equal(fmt == FMT_ZIP ? archive_write_set_format_zip(a) : archive_write_set_format_pax_restricted(a),
			 ARCHIVE_OK);
	if (filt == FILT_GZIP)
		assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
	else if (filt == FILT_ZSTD)
		assert_int_equal(archive_write_add_filter_zstd(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, file), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		const struct ent *x = &v[i];
		mode_t type = x->type ? x->type : AE_IFREG;
		int64_t size = x->data ? (int64_t)strlen(x->data) : x->zeros;

		archive_entry_clear(e);
		archive_entry_set_pathname(e, x->path);
		archive_entry_set_filetype(e, type);
		archive_entry_set_perm(e, x->perm ? x->perm : type == AE_IFDIR ? 0755 : 0644);
		archive_entry_set_uid(e, x->uid);
		archive_entry_set_gid(e, x->gid);
		archive_entry_set_mtime(e, x->mtime ? x->mtime : 1700000000, 0);
		if (x->link)
			archive_entry_set_symlink(e, x->link);
		if (x->hardlink)
			archive_entry_set_hardlink(e, x->hardlink);
		if (type == AE_IFCHR || type == AE_IFBLK) {
			archive_entry_set_rdevmajor(e, x->rmaj);
			archive_entry_set_rdevminor(e, x->rmin);
		}
		if (x->cap)
			archive_entry_xattr_add_entry(e, "security.capability", x->cap, x->cap_len);
		if (type == AE_IFREG && !x->hardlink && !x->no_size)
			archive_entry_set_size(e, size);
		if (archive_write_header(a, e) != ARCHIVE_OK)
			fail_msg("archive_write_header(%s): %s", x->path, archive_error_string(a));
		if (type != AE_IFREG || x->hardlink)
			continue;
		if (x->data) {
			assert_int_equal(archive_write_data(a, x->data, (size_t)size), size);
		} else {
			for (int64_t left = size; left > 0;) {
				size_t k = left > MiB ? MiB : (size_t)left;
				assert_int_equal(archive_write_data(a, zeros, k), (la_ssize_t)k);
				left -= (int64_t)k;
			}
		}
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	archive_entry_free(e);
}

/* Opens the archive file as the agent does (tar family, any filter) and extracts it into root. */
static int run_opts(struct fx *f, const char *file, bool zip, const struct extract_limits *lim,
		    struct extract_stats *st, char *why, size_t why_size)
{
	struct archive *a = archive_read_new();
	int r;

	assert_non_null(a);
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	if (zip)
		archive_read_support_format_zip_streamable(a);
	assert_int_equal(archive_read_open_filename(a, file, 64 * 1024), ARCHIVE_OK);
	r = extract_archive(a, f->root_fd, lim, st, why, why_size);
	archive_read_free(a);
	return r;
}

static struct extract_stats run_ok(struct fx *f, const struct extract_limits *lim)
{
	struct extract_stats st;
	char why[512] = "";
	int r = run_opts(f, f->file, false, lim, &st, why, sizeof(why));
	if (r != 0)
		fail_msg("extract_archive = %d (%s)", r, why);
	return st;
}

/* A refusal: the error, a reason containing want, stats untouched, outside unchanged. */
static void run_bad_opts(struct fx *f, bool zip, const struct extract_limits *lim, int err, const char *want)
{
	struct extract_stats st, before;
	char why[512] = "";
	int r;

	memset(&st, 0x5a, sizeof(st));
	before = st;
	r = run_opts(f, f->file, zip, lim, &st, why, sizeof(why));
	if (r != err || !strstr(why, want))
		fail_msg("extract_archive = %d (%s), expected %d (...%s...)", r, why, err, want);
	for (const char *p = why; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			fail_msg("unescaped byte 0x%02x in why: %s", (unsigned char)*p, why);
	assert_memory_equal(&st, &before, sizeof(st));
	assert_outside_unchanged(f);
}

static void run_bad(struct fx *f, const struct extract_limits *lim, int err, const char *want)
{
	run_bad_opts(f, false, lim, err, want);
}

#define BUILD(f, fmt, filt, ...)                                                                   \
	do {                                                                                       \
		const struct ent v_[] = { __VA_ARGS__ };                                           \
		build((f)->file, fmt, filt, v_, ARRAY_SIZE(v_));                                   \
	} while (0)

/* The root with a fresh, empty directory (between two archives of one test). */
static void reset_root(struct fx *f)
{
	close(f->root_fd);
	assert_int_equal(rm_rf(f->root), 0);
	assert_int_equal(mkdir(f->root, 0755), 0);
	f->root_fd = open(f->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->root_fd >= 0);
}

static struct stat lst(struct fx *f, const char *rel)
{
	struct stat st;
	if (fstatat(f->root_fd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
		fail_msg("%s: %s", rel, strerror(errno));
	return st;
}

static bool exists(struct fx *f, const char *rel)
{
	struct stat st;
	return fstatat(f->root_fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static void assert_content(struct fx *f, const char *rel, const char *want)
{
	char buf[256];
	ssize_t n;
	int fd = openat(f->root_fd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		fail_msg("%s: %s", rel, strerror(errno));
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static void assert_link(struct fx *f, const char *rel, const char *want)
{
	char buf[EXTRACT_PATH_BUF];
	ssize_t n = readlinkat(f->root_fd, rel, buf, sizeof(buf) - 1);
	if (n < 0)
		fail_msg("%s: %s", rel, strerror(errno));
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

/* A v2 file capability: cap_net_raw (13) permitted and effective. */
static const uint8_t cap_net_raw[20] = { 0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00 };

/* ---- a rootfs-like tree ---- */

static void check_rootfs_tree(struct fx *f)
{
	struct extract_stats st = run_ok(f, &no_limits);
	struct stat s, h;
	uint8_t cap[32];
	ssize_t n;

	assert_int_equal(st.entries, 18);
	assert_int_equal(st.files, 8);
	assert_int_equal(st.dirs, 6);
	assert_int_equal(st.symlinks, 2);
	assert_int_equal(st.hardlinks, 1);
	assert_int_equal(st.specials, 1);
	assert_int_equal(st.skipped, 0);
	assert_int_equal(st.bytes, 5 + 26 + 7 + 6 + 8 + 5 + 6);

	/* The root's own entry. */
	s = lst(f, ".");
	assert_int_equal(s.st_mode & 07777, 0755);
	assert_int_equal(s.st_mtime, 1600000000);
	/* Files: content, mode, owner, mtime. */
	assert_content(f, "etc/passwd", "root:x:0:0::/root:/bin/sh\n");
	s = lst(f, "etc/shadow");
	assert_int_equal(s.st_mode, S_IFREG | 0640);
	assert_int_equal(s.st_gid, 42);
	assert_int_equal(s.st_mtime, 1600000002);
	s = lst(f, "usr/bin/su");
	assert_int_equal(s.st_mode, S_IFREG | 04755); /* setuid survives chown */
	s = lst(f, "usr/bin/dash");
	assert_int_equal(s.st_mode, S_IFREG | 0755);
	assert_int_equal(s.st_mtime, 1600000003);
	assert_int_equal(s.st_nlink, 2);
	h = lst(f, "usr/bin/dash.hard");
	assert_int_equal(h.st_ino, s.st_ino);
	/* Parents without entries of their own: 0755, root. */
	s = lst(f, "usr");
	assert_int_equal(s.st_mode, S_IFDIR | 0755);
	assert_int_equal(s.st_uid, 0);
	/* Symlinks, absolute and relative, with their mtime. */
	assert_link(f, "bin/sh", "/usr/bin/dash");
	assert_link(f, "lib", "usr/lib");
	assert_int_equal(lst(f, "bin/sh").st_mtime, 1600000004);
	/* FIFO, owner and mode. */
	s = lst(f, "run/initctl");
	assert_true(S_ISFIFO(s.st_mode));
	assert_int_equal(s.st_mode & 07777, 0600);
	/* Directories: modes set at the end (a read-only one still got its child). */
	s = lst(f, "tmp");
	assert_int_equal(s.st_mode, S_IFDIR | 01777);
	s = lst(f, "ro");
	assert_int_equal(s.st_mode, S_IFDIR | 0555);
	assert_int_equal(s.st_mtime, 1600000005);
	assert_content(f, "ro/file", "inside");
	s = lst(f, "home/user");
	assert_int_equal(s.st_mode, S_IFDIR | 0700);
	assert_int_equal(s.st_uid, 1000);
	assert_int_equal(s.st_gid, 1000);
	s = lst(f, "home/user/.profile");
	assert_int_equal(s.st_uid, 1000);
	assert_int_equal(s.st_gid, 1001);
	/* The capability was kept. */
	{
		int fd = openat(f->root_fd, "usr/bin/ping", O_RDONLY | O_CLOEXEC);
		assert_true(fd >= 0);
		n = fgetxattr(fd, "security.capability", cap, sizeof(cap));
		close(fd);
	}
	assert_int_equal(n, sizeof(cap_net_raw));
	assert_memory_equal(cap, cap_net_raw, sizeof(cap_net_raw));
	assert_outside_unchanged(f);
}

static void build_rootfs_tree(struct fx *f, int filt)
{
	BUILD(f, FMT_PAX, filt,
	      { .path = "./", .type = AE_IFDIR, .mtime = 1600000000 },
	      { .path = "./etc/", .type = AE_IFDIR, .mtime = 1600000001 },
	      { .path = "./etc/hosts", .data = "local" },
	      { .path = "./etc/passwd", .data = "root:x:0:0::/root:/bin/sh\n" },
	      { .path = "./etc/shadow", .data = "root:*:", .perm = 0640, .gid = 42, .mtime = 1600000002 },
	      { .path = "./usr/bin/dash", .data = "#dash\n", .perm = 0755, .mtime = 1600000003 },
	      { .path = "./usr/bin/dash.hard", .hardlink = "./usr/bin/dash" },
	      { .path = "./usr/bin/su", .data = "setuid!\n", .perm = 04755 },
	      { .path = "./usr/bin/ping", .data = "ping\n", .perm = 0755, .cap = cap_net_raw,
		.cap_len = sizeof(cap_net_raw) },
	      { .path = "./bin/", .type = AE_IFDIR },
	      { .path = "./bin/sh", .type = AE_IFLNK, .link = "/usr/bin/dash", .mtime = 1600000004 },
	      { .path = "./lib", .type = AE_IFLNK, .link = "usr/lib" },
	      { .path = "./run/initctl", .type = AE_IFIFO, .perm = 0600 },
	      { .path = "./tmp/", .type = AE_IFDIR, .perm = 01777 },
	      { .path = "./ro/", .type = AE_IFDIR, .perm = 0555, .mtime = 1600000005 },
	      { .path = "./ro/file", .data = "inside", .perm = 0444 },
	      { .path = "./home/user/", .type = AE_IFDIR, .perm = 0700, .uid = 1000, .gid = 1000 },
	      { .path = "./home/user/.profile", .data = "", .uid = 1000, .gid = 1001 });
}

static void test_rootfs_tree(void **state)
{
	struct fx *f = *state;

	build_rootfs_tree(f, FILT_ZSTD);
	check_rootfs_tree(f);
	/* Extracting the same archive again over the tree gives the same tree. */
	check_rootfs_tree(f);
	/* Plain and gzip, into a root opened O_PATH. */
	reset_root(f);
	close(f->root_fd);
	f->root_fd = open(f->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	build_rootfs_tree(f, FILT_GZIP);
	check_rootfs_tree(f);
}

static void test_rootfs_tree_no_openat2(void **state)
{
	struct fx *f = *state;

	extract_test_no_openat2 = true;
	build_rootfs_tree(f, FILT_NONE);
	check_rootfs_tree(f);
}

/* ---- an archive made by GNU tar ---- */

static void test_gnu_tar(void **state)
{
	struct fx *f = *state;
	char src[160], cmd[2048], *want, *got;
	const char *formats[] = { "--format=gnu --sparse --zstd", "--format=posix --xattrs --sparse --gzip" };
	bool have_setcap = system("command -v setcap >/dev/null 2>&1") == 0;

	snprintf(src, sizeof(src), "%s/src", f->base);
	snprintf(cmd, sizeof(cmd),
		 "set -e; mkdir -p %1$s; cd %1$s;"
		 "mkdir -p usr/bin usr/lib etc var/log home/u bin;"
		 "printf '#dash' > usr/bin/dash; chmod 755 usr/bin/dash; ln usr/bin/dash usr/bin/sh.hard;"
		 "printf 'su' > usr/bin/su; chmod 4755 usr/bin/su;"
		 "printf 'ping' > usr/bin/ping; chmod 755 usr/bin/ping;"
		 "%2$s"
		 "ln -s /usr/bin/dash bin/sh; ln -s usr/lib lib; ln -s ../usr/lib/os-release etc/os-release;"
		 "printf 'ID=bw' > usr/lib/os-release; printf 'root:x:0:0' > etc/passwd;"
		 "mkfifo var/fifo; printf x > \"$(printf 'caf\\303\\251')\";"
		 "truncate -s 64M var/log/lastlog; printf data | dd of=var/log/lastlog bs=1 seek=1000000 conv=notrunc 2>/dev/null;"
		 "printf me > home/u/.profile; chown -R 1000:1000 home/u; chmod 700 home/u; chmod 1777 var;"
		 "find . -exec touch -h -d @1650000000 {} +",
		 src, have_setcap ? "setcap cap_net_raw+ep usr/bin/ping;" : "");
	assert_int_equal(system(cmd), 0);

	for (size_t i = 0; i < ARRAY_SIZE(formats); i++) {
		struct extract_stats st;
		struct stat s;

		snap_caps = strstr(formats[i], "--xattrs") != NULL;
		want = snapshot(src);

		snprintf(cmd, sizeof(cmd), "tar %s -cf %s -C %s .", formats[i], f->file, src);
		assert_int_equal(system(cmd), 0);
		reset_root(f);
		st = run_ok(f, &no_limits);
		got = snapshot(f->root);
		if (strcmp(want, got) != 0)
			fail_msg("tar %s: tree differs\n--- source\n%s--- extracted\n%s", formats[i], want, got);
		free(got);
		assert_int_equal(st.hardlinks, 1);
		assert_int_equal(st.symlinks, 3);
		assert_int_equal(st.specials, 1);
		/* The sparse file kept its holes. */
		s = lst(f, "var/log/lastlog");
		assert_int_equal(s.st_size, 64 * MiB);
		assert_true(s.st_blocks * 512 < MiB);
		assert_true(st.bytes < MiB);
		assert_int_equal(lst(f, "usr/bin/dash").st_ino, lst(f, "usr/bin/sh.hard").st_ino);
		free(want);
	}
	snap_caps = true;
	assert_outside_unchanged(f);
}

/* ---- refusals ---- */

static void test_absolute_refused(void **state)
{
	struct fx *f = *state;

	BUILD(f, FMT_PAX, FILT_NONE, { .path = "ok", .data = "fine" }, { .path = "/etc/evil", .data = "x" });
	run_bad(f, &no_limits, -EINVAL, "/etc/evil: path is absolute");
	/* Aimed at the canary by its absolute name. */
	{
		char p[200];
		snprintf(p, sizeof(p), "%s/canary", f->outside);
		BUILD(f, FMT_PAX, FILT_NONE, { .path = p, .data = "owned" });
		run_bad(f, &no_limits, -EINVAL, "path is absolute");
	}
	/* Control bytes in the name come back escaped. */
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "/\x1b[2Jevil\n", .data = "x" });
	run_bad(f, &no_limits, -EINVAL, "/\\x1b[2Jevil\\x0a: path is absolute");
}

static void test_dotdot_refused(void **state)
{
	struct fx *f = *state;
	const char *bad[] = { "../x", "a/../../x", "a/../b", "./../outside/canary", "../outside/evil/", ".." };

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		mode_t t = bad[i][strlen(bad[i]) - 1] == '/' || strcmp(bad[i], "..") == 0 ? AE_IFDIR : 0;
		BUILD(f, FMT_PAX, FILT_NONE, { .path = bad[i], .type = t, .data = t ? NULL : "owned" });
		run_bad(f, &no_limits, -EINVAL, "path has a '..' component");
	}
	/* As a symlink's name, and as a hard link's target. */
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "a/../../l", .type = AE_IFLNK, .link = "x" });
	run_bad(f, &no_limits, -EINVAL, "a/../../l: path has a '..' component");
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "h", .hardlink = "../outside/canary" });
	run_bad(f, &no_limits, -EINVAL, "h: hard link target: path has a '..' component (-> ../outside/canary)");
	assert_false(exists(f, "h"));
}

static void test_symlink_escape_refused(void **state)
{
	struct fx *f = *state;

	BUILD(f, FMT_PAX, FILT_NONE, { .path = "evil", .type = AE_IFLNK, .link = "../../../etc" });
	run_bad(f, &no_limits, -EINVAL, "evil: symlink target climbs out of the root (-> ../../../etc)");
	assert_false(exists(f, "evil"));
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "up", .type = AE_IFLNK, .link = ".." });
	run_bad(f, &no_limits, -EINVAL, "up: symlink target climbs out of the root");
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "a/b/", .type = AE_IFDIR },
	      { .path = "a/b/up", .type = AE_IFLNK, .link = "../../../outside/canary" });
	run_bad(f, &no_limits, -EINVAL, "a/b/up: symlink target climbs out of the root");
	assert_false(exists(f, "a/b/up"));
	/* Up to the root but not above it: fine. */
	reset_root(f);
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "a/b/top", .type = AE_IFLNK, .link = "../../x" });
	assert_int_equal(run_ok(f, &no_limits).symlinks, 1);
	assert_link(f, "a/b/top", "../../x");
	/* The root itself cannot become a symlink (nor a file). */
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "./", .type = AE_IFLNK, .link = "/" });
	run_bad(f, &no_limits, -EINVAL, "./: only a directory can be the root");
	BUILD(f, FMT_PAX, FILT_NONE, { .path = ".", .data = "x" });
	run_bad(f, &no_limits, -EINVAL, ".: only a directory can be the root");
}

/*
 * A symlink pointing outside (absolute, so it is accepted), then entries
 * that would write through it: all refused, nothing appears outside.
 */
static void check_write_through(struct fx *f)
{
	char out_abs[200], canary_abs[200];

	snprintf(out_abs, sizeof(out_abs), "%s", f->outside);
	snprintf(canary_abs, sizeof(canary_abs), "%s/canary", f->outside);

	BUILD(f, FMT_PAX, FILT_NONE, { .path = "link", .type = AE_IFLNK, .link = out_abs },
	      { .path = "link/canary", .data = "owned" });
	run_bad(f, &no_limits, -EINVAL, "link/canary: parent directory goes through a symlink");
	reset_root(f);
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "link", .type = AE_IFLNK, .link = out_abs },
	      { .path = "link/etc/passwd", .data = "owned" });
	run_bad(f, &no_limits, -EINVAL, "link/etc/passwd: parent directory goes through a symlink");
	reset_root(f);
	/* Missing parents would be created through it. */
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "link", .type = AE_IFLNK, .link = out_abs },
	      { .path = "link/sub/deep/file", .data = "owned" });
	run_bad(f, &no_limits, -EINVAL, "link/sub/deep/file: parent directory goes through a symlink");
	reset_root(f);
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "link", .type = AE_IFLNK, .link = out_abs },
	      { .path = "link/newdir/", .type = AE_IFDIR, .perm = 0777 });
	run_bad(f, &no_limits, -EINVAL, "parent directory goes through a symlink");
	reset_root(f);
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "link", .type = AE_IFLNK, .link = out_abs },
	      { .path = "link/l2", .type = AE_IFLNK, .link = "/x" });
	run_bad(f, &no_limits, -EINVAL, "parent directory goes through a symlink");
	reset_root(f);
	/* A hard link to a file behind it, and a hard link to the symlink itself. */
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "link", .type = AE_IFLNK, .link = out_abs },
	      { .path = "h", .hardlink = "link/canary" });
	run_bad(f, &no_limits, -EINVAL, "h: hard link target goes through a symlink");
	reset_root(f);
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "clink", .type = AE_IFLNK, .link = canary_abs },
	      { .path = "h", .hardlink = "clink" });
	run_bad(f, &no_limits, -EINVAL, "h: hard link target is not a regular file (-> clink)");
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "h", .hardlink = canary_abs });
	run_bad(f, &no_limits, -EINVAL, "hard link target: path is absolute");
	reset_root(f);

	/* A relative symlink planted in the root beforehand ("up" -> ".."). */
	assert_int_equal(symlinkat("..", f->root_fd, "up"), 0);
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "up/outside/canary", .data = "owned" });
	run_bad(f, &no_limits, -EINVAL, "up/outside/canary: parent directory goes through a symlink");
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "up/outside/", .type = AE_IFDIR, .perm = 0777 });
	run_bad(f, &no_limits, -EINVAL, "parent directory goes through a symlink");
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "up/x", .hardlink = "up/outside/canary" });
	run_bad(f, &no_limits, -EINVAL, "goes through a symlink");
	/* A parent that is a regular file. */
	reset_root(f);
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "file", .data = "x" }, { .path = "file/x", .data = "y" });
	run_bad(f, &no_limits, -EINVAL, "file/x: parent directory goes through a non-directory");
	reset_root(f);

	/* A file, a directory, a symlink over the symlink: the link is replaced, not followed. */
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "clink", .type = AE_IFLNK, .link = canary_abs },
	      { .path = "clink", .data = "new", .perm = 0666 },
	      { .path = "dlink", .type = AE_IFLNK, .link = out_abs },
	      { .path = "dlink/", .type = AE_IFDIR, .perm = 0777, .mtime = 1 },
	      { .path = "slink", .type = AE_IFLNK, .link = canary_abs },
	      { .path = "slink", .type = AE_IFLNK, .link = "/etc/hostname" },
	      { .path = "flink", .type = AE_IFLNK, .link = out_abs },
	      { .path = "flink", .type = AE_IFIFO });
	run_ok(f, &no_limits);
	assert_content(f, "clink", "new");
	assert_int_equal(lst(f, "clink").st_mode, S_IFREG | 0666);
	assert_int_equal(lst(f, "dlink").st_mode, S_IFDIR | 0777);
	assert_link(f, "slink", "/etc/hostname");
	assert_true(S_ISFIFO(lst(f, "flink").st_mode));
	assert_outside_unchanged(f);
}

static void test_write_through_symlink(void **state)
{
	check_write_through(*state);
}

static void test_write_through_symlink_no_openat2(void **state)
{
	extract_test_no_openat2 = true;
	check_write_through(*state);
}

static void test_devices(void **state)
{
	struct fx *f = *state;
	struct extract_limits allow = no_limits;
	struct extract_stats st;
	struct stat s;

	BUILD(f, FMT_PAX, FILT_NONE, { .path = "dev/", .type = AE_IFDIR },
	      { .path = "dev/null", .type = AE_IFCHR, .perm = 0666, .rmaj = 1, .rmin = 3 });
	run_bad(f, &no_limits, -EPERM, "dev/null: character device node 1:3 not allowed");
	assert_false(exists(f, "dev/null"));
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "dev/sda", .type = AE_IFBLK, .perm = 0660, .rmaj = 8, .rmin = 0 });
	run_bad(f, &no_limits, -EPERM, "dev/sda: block device node 8:0 not allowed");
	assert_false(exists(f, "dev/sda"));

	allow.allow_devices = true;
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "dev/null", .type = AE_IFCHR, .perm = 0666, .rmaj = 1, .rmin = 3 },
	      { .path = "dev/loop0", .type = AE_IFBLK, .perm = 0660, .gid = 6, .rmaj = 7, .rmin = 0 });
	st = run_ok(f, &allow);
	assert_int_equal(st.specials, 2);
	s = lst(f, "dev/null");
	assert_int_equal(s.st_mode, S_IFCHR | 0666);
	assert_int_equal(s.st_rdev, makedev(1, 3));
	s = lst(f, "dev/loop0");
	assert_int_equal(s.st_mode, S_IFBLK | 0660);
	assert_int_equal(s.st_rdev, makedev(7, 0));
	assert_int_equal(s.st_gid, 6);
	assert_outside_unchanged(f);
}

static void test_member_too_big(void **state)
{
	struct fx *f = *state;
	struct extract_limits lim = { .max_bytes = 1000, .max_entries = UINT64_MAX };

	/* Refused on its declared size, before anything of it is written. */
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "small", .zeros = 500 }, { .path = "big", .zeros = 2000 });
	run_bad(f, &lim, -EFBIG, "big: archive expands beyond 1000 bytes (entry declares 2000)");
	assert_true(exists(f, "small"));
	assert_false(exists(f, "big"));
	/* The limit is for the whole archive. */
	reset_root(f);
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "a", .zeros = 600 }, { .path = "b", .zeros = 600 });
	run_bad(f, &lim, -EFBIG, "b: archive expands beyond 1000 bytes");
	assert_false(exists(f, "b"));
	/* Exactly at the limit is fine. */
	reset_root(f);
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "a", .zeros = 600 }, { .path = "b", .zeros = 400 });
	assert_int_equal(run_ok(f, &lim).bytes, 1000);
	/* 0 means no data at all, but empty files and other types are fine. */
	lim.max_bytes = 0;
	reset_root(f);
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "e", .data = "" }, { .path = "d/", .type = AE_IFDIR });
	assert_int_equal(run_ok(f, &lim).files, 1);
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "one", .data = "1" });
	run_bad(f, &lim, -EFBIG, "one: archive expands beyond 0 bytes");
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Bytes of the regular files under root. */
static uint64_t root_bytes(struct fx *f)
{
	char cmd[300], buf[64] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd), "find %s -type f -printf '%%s\\n' | awk '{s+=$1} END {print s+0}'", f->root);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(buf, sizeof(buf), p));
	pclose(p);
	return strtoull(buf, NULL, 10);
}

static void test_bomb(void **state)
{
	struct fx *f = *state;
	struct extract_limits lim = { .max_bytes = 10 * MiB, .max_entries = UINT64_MAX };
	struct stat s;
	double t0;
	struct ent many[30];

	/* 200 MiB of zeros in one member: a few hundred bytes of zstd. */
	BUILD(f, FMT_PAX, FILT_ZSTD, { .path = "etc/", .type = AE_IFDIR }, { .path = "zeros", .zeros = 200 * MiB });
	assert_int_equal(stat(f->file, &s), 0);
	assert_true(s.st_size < 64 * 1024);
	t0 = now_s();
	run_bad(f, &lim, -EFBIG, "zeros: archive expands beyond 10485760 bytes (entry declares 209715200)");
	assert_true(now_s() - t0 < 2.0);
	assert_false(exists(f, "zeros"));

	/* 30 members of 1 MiB, gzip: stops at the eleventh, 10 MiB on disk. */
	reset_root(f);
	for (size_t i = 0; i < ARRAY_SIZE(many); i++) {
		static char names[30][8];
		snprintf(names[i], sizeof(names[i]), "z%02zu", i);
		many[i] = (struct ent){ .path = names[i], .zeros = MiB };
	}
	build(f->file, FMT_PAX, FILT_GZIP, many, ARRAY_SIZE(many));
	t0 = now_s();
	run_bad(f, &lim, -EFBIG, "z10: archive expands beyond 10485760 bytes");
	assert_true(now_s() - t0 < 5.0);
	assert_int_equal(root_bytes(f), 10 * MiB);
}

/* A streamed zip member has no size up front: the limit holds while writing. */
static void test_bomb_unknown_size(void **state)
{
	struct fx *f = *state;
	struct extract_limits lim = { .max_bytes = 10 * MiB, .max_entries = UINT64_MAX };
	struct extract_stats st;
	char why[256];

	BUILD(f, FMT_ZIP, FILT_NONE, { .path = "small", .data = "ok", .no_size = true },
	      { .path = "zeros", .zeros = 50 * MiB, .no_size = true });
	run_bad_opts(f, true, &lim, -EFBIG, "zeros: archive expands beyond 10485760 bytes");
	/* Caught while writing, not from a declared size. */
	assert_int_equal(run_opts(f, f->file, true, &lim, NULL, why, sizeof(why)), -EFBIG);
	assert_null(strstr(why, "declares"));
	assert_true(lst(f, "zeros").st_size <= 10 * MiB);
	assert_true(root_bytes(f) <= 10 * MiB);

	/* Under the limit it extracts, and bytes counts what was written. */
	reset_root(f);
	lim.max_bytes = 60 * MiB;
	assert_int_equal(run_opts(f, f->file, true, &lim, &st, why, sizeof(why)), 0);
	assert_int_equal(st.bytes, 50 * MiB + 2);
	assert_int_equal(lst(f, "zeros").st_size, 50 * MiB);
}

static void test_too_many_entries(void **state)
{
	struct fx *f = *state;
	struct extract_limits lim = { .max_bytes = UINT64_MAX, .max_entries = 5 };
	struct ent v[6];
	static const char *names[] = { "a", "b/", "c", "d", "e", "f" };

	for (size_t i = 0; i < ARRAY_SIZE(v); i++)
		v[i] = (struct ent){ .path = names[i], .type = i == 1 ? AE_IFDIR : 0, .data = i == 1 ? NULL : "x" };
	build(f->file, FMT_PAX, FILT_NONE, v, 6);
	run_bad(f, &lim, -E2BIG, "archive has more than 5 entries");
	assert_false(exists(f, "f"));
	reset_root(f);
	build(f->file, FMT_PAX, FILT_NONE, v, 5);
	assert_int_equal(run_ok(f, &lim).entries, 5);
	lim.max_entries = 0;
	run_bad(f, &lim, -E2BIG, "archive has more than 0 entries");
}

static void test_duplicates(void **state)
{
	struct fx *f = *state;
	struct extract_stats st;

	BUILD(f, FMT_PAX, FILT_NONE, { .path = "f", .data = "one", .perm = 0600 },
	      { .path = "h", .hardlink = "f" },
	      { .path = "./f", .data = "two", .perm = 0640 },
	      { .path = "h2", .hardlink = "f" },
	      { .path = "h2", .hardlink = "./f" },
	      { .path = "d/", .type = AE_IFDIR, .perm = 0750, .mtime = 1600000000 },
	      { .path = "d/x", .data = "in d" },
	      { .path = "d", .type = AE_IFDIR, .perm = 0711, .mtime = 1600000001 },
	      { .path = "x", .data = "file" },
	      { .path = "x/", .type = AE_IFDIR },
	      { .path = "y/", .type = AE_IFDIR },
	      { .path = "y", .data = "was an empty dir" },
	      { .path = "fifo", .type = AE_IFIFO },
	      { .path = "fifo", .data = "now a file" });
	st = run_ok(f, &no_limits);
	assert_int_equal(st.files, 6);
	/* The last copy wins; a hard link to the old copy keeps the old data, like tar. */
	assert_content(f, "f", "two");
	assert_int_equal(lst(f, "f").st_mode, S_IFREG | 0640);
	assert_content(f, "h", "one");
	assert_int_equal(lst(f, "h2").st_ino, lst(f, "f").st_ino);
	/* A directory listed twice keeps its content; the last metadata wins. */
	assert_content(f, "d/x", "in d");
	assert_int_equal(lst(f, "d").st_mode, S_IFDIR | 0711);
	assert_int_equal(lst(f, "d").st_mtime, 1600000001);
	assert_true(S_ISDIR(lst(f, "x").st_mode));
	assert_content(f, "y", "was an empty dir");
	assert_content(f, "fifo", "now a file");
	assert_outside_unchanged(f);

	/* A non-empty directory is never removed to make room for a file. */
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "d", .data = "over d" });
	run_bad(f, &no_limits, -EEXIST, "d: would replace a non-empty directory");
	assert_content(f, "d/x", "in d");
}

static void test_hardlink_rules(void **state)
{
	struct fx *f = *state;

	BUILD(f, FMT_PAX, FILT_NONE, { .path = "h", .hardlink = "missing" });
	run_bad(f, &no_limits, -EINVAL, "h: hard link target does not exist (-> missing)");
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "h", .hardlink = "nodir/missing" });
	run_bad(f, &no_limits, -EINVAL, "h: hard link target does not exist");
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "d/", .type = AE_IFDIR }, { .path = "h", .hardlink = "d" });
	run_bad(f, &no_limits, -EINVAL, "h: hard link target is not a regular file (-> d)");
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "h", .hardlink = "./" });
	run_bad(f, &no_limits, -EINVAL, "h: hard link to the root directory");
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "./", .type = AE_IFDIR }, { .path = ".", .hardlink = "x" });
	run_bad(f, &no_limits, -EINVAL, ".: only a directory can be the root");
	/* A link to itself is harmless. */
	reset_root(f);
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "f", .data = "x" }, { .path = "f", .hardlink = "f" });
	assert_int_equal(run_ok(f, &no_limits).hardlinks, 1);
	assert_content(f, "f", "x");
	assert_int_equal(lst(f, "f").st_nlink, 1);
}

static void test_owner_out_of_range(void **state)
{
	struct fx *f = *state;

	BUILD(f, FMT_PAX, FILT_NONE, { .path = "f", .data = "x", .uid = 4294967295LL });
	run_bad(f, &no_limits, -EINVAL, "f: owner 4294967295:0 out of range");
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "d/", .type = AE_IFDIR, .gid = 1LL << 40 });
	run_bad(f, &no_limits, -EINVAL, "d/: owner 0:1099511627776 out of range");
	/* The largest valid one. */
	reset_root(f);
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "f", .data = "x", .uid = 4294967294LL });
	run_ok(f, &no_limits);
	assert_int_equal(lst(f, "f").st_uid, 4294967294u);
}

static void truncate_to(const char *file, off_t len)
{
	assert_int_equal(truncate(file, len), 0);
}

static void test_truncated(void **state)
{
	struct fx *f = *state;
	struct stat s;

	/* Cut in the middle of a member's data. */
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "a", .data = "x" }, { .path = "big", .zeros = 100 * 1024 });
	truncate_to(f->file, 50 * 1024);
	run_bad(f, &no_limits, -EIO, "big: reading data: Truncated tar archive");
	/* Cut in a header. */
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "a", .data = "x" }, { .path = "b", .data = "y" });
	truncate_to(f->file, 1024 + 100);
	run_bad(f, &no_limits, -EIO, "reading the next header");
	/* A cut compressed stream. */
	BUILD(f, FMT_PAX, FILT_GZIP, { .path = "a", .data = "x" }, { .path = "big", .zeros = 4 * MiB });
	assert_int_equal(stat(f->file, &s), 0);
	truncate_to(f->file, s.st_size / 2);
	run_bad(f, &no_limits, -EIO, "big: reading data: ");
	/* A damaged header (its checksum no longer matches). */
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "a", .data = "x" }, { .path = "b", .data = "y" });
	{
		int fd = open(f->file, O_WRONLY | O_CLOEXEC);
		assert_true(fd >= 0);
		assert_int_equal(pwrite(fd, "Z", 1, 1024 + 1), 1);
		close(fd);
	}
	run_bad(f, &no_limits, -EIO, "reading the next header");
}

static void test_null_args(void **state)
{
	struct fx *f = *state;
	struct archive *a = archive_read_new();
	char why[64];

	assert_int_equal(extract_archive(a, f->root_fd, NULL, NULL, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "bad arguments");
	assert_int_equal(extract_archive(NULL, f->root_fd, &no_limits, NULL, NULL, 0), -EINVAL);
	archive_read_free(a);
	/* why and ret may be NULL; a tiny why is cut, still terminated. */
	BUILD(f, FMT_PAX, FILT_NONE, { .path = "/abs", .data = "x" });
	{
		struct archive *r = archive_read_new();
		archive_read_support_format_tar(r);
		assert_int_equal(archive_read_open_filename(r, f->file, 10240), ARCHIVE_OK);
		assert_int_equal(extract_archive(r, f->root_fd, &no_limits, NULL, why, 6), -EINVAL);
		assert_string_equal(why, "/abs:");
		archive_read_free(r);
	}
	assert_int_equal(run_opts(f, f->file, false, &no_limits, NULL, NULL, 0), -EINVAL);
	/* An empty archive is fine. */
	build(f->file, FMT_PAX, FILT_NONE, NULL, 0);
	assert_int_equal(run_ok(f, &no_limits).entries, 0);
}

/* A file system mounted under the root is not written into (RESOLVE_NO_XDEV, or the device check of the walk). */
static void test_mount_crossing(void **state)
{
	struct fx *f = *state;
	char mnt[160];

	snprintf(mnt, sizeof(mnt), "%s/mnt", f->root);
	assert_int_equal(mkdir(mnt, 0755), 0);
	if (mount("bw-test", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m") < 0) {
		print_message("mount tmpfs: %s (not permitted here), skipped\n", strerror(errno));
		skip();
	}
	for (int fallback = 0; fallback < 2; fallback++) {
		extract_test_no_openat2 = fallback;
		BUILD(f, FMT_PAX, FILT_NONE, { .path = "mnt/x", .data = "x" });
		run_bad(f, &no_limits, -EINVAL, "mnt/x: parent directory leaves the root or crosses a mount point");
		BUILD(f, FMT_PAX, FILT_NONE, { .path = "mnt/d/y", .data = "y" });
		run_bad(f, &no_limits, -EINVAL, "crosses a mount point");
		assert_false(exists(f, "mnt/x"));
		assert_false(exists(f, "mnt/d"));
	}
	assert_int_equal(umount2(mnt, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_check),
		cmocka_unit_test(test_link_check),
		cmocka_unit_test_setup_teardown(test_rootfs_tree, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rootfs_tree_no_openat2, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_gnu_tar, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_absolute_refused, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_dotdot_refused, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_symlink_escape_refused, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_write_through_symlink, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_write_through_symlink_no_openat2, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_devices, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_member_too_big, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_bomb, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_bomb_unknown_size, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_too_many_entries, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_duplicates, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_hardlink_rules, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_owner_out_of_range, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_truncated, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_null_args, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_mount_crossing, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests_name("extract", tests, NULL, NULL);
}
