// SPDX-License-Identifier: Apache-2.0
/*
 * Normalization of an extension bundle (rules in bundle.h). Two passes: the
 * first reads the untrusted archive once, checks every header, and spools
 * the file data into an unlinked scratch file while it counts it; the second
 * sorts what it kept and writes the canonical tar from the spool, hashing
 * it on the way out. Memory holds one name per entry, never file data.
 */
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "bundle.h"
#include "extract.h"
#include "log.h"
#include "util.h"

#define IO_CHUNK (64 * 1024)
#define NOT_AN_ARCHIVE "not an archive bootwave reads (tar or zip; uncompressed, gzip, bzip2, xz or zstd)"
/* Bytes of an untrusted name quoted in a reason. */
#define WHY_NAME 200

struct item {
	char *name; /* normalised, owned */
	bool dir, exec;
	int64_t mtime;
	uint64_t off, size; /* of its data in the spool */
};

struct norm {
	const struct bundle_limits *lim;
	const char *entry;
	struct item *items;
	size_t n, cap;
	int spool;
	uint64_t spool_len;
	int64_t newest;
	char *why;
	size_t why_size;
};

static int refuse(struct norm *s, int r, const char *fmt, ...) _printf_(3, 4);
static int refuse(struct norm *s, int r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (s->why && s->why_size)
		vsnprintf(s->why, s->why_size, fmt, ap);
	va_end(ap);
	return r;
}

/* An untrusted name, escaped, into buf[WHY_NAME]. */
static const char *esc(const char *name, char buf[WHY_NAME])
{
	return log_escape(name, strlen(name), buf, WHY_NAME);
}

static void items_free(struct norm *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->items[i].name);
	free(s->items);
	s->items = NULL;
	s->n = s->cap = 0;
}

/* Appends an item, taking ownership of name (freed on failure). */
static int item_add(struct norm *s, char *name, bool dir, bool exec, int64_t mtime, uint64_t off, uint64_t size)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct item *ni = realloc(s->items, cap * sizeof(*ni));
		if (!ni) {
			free(name);
			return -ENOMEM;
		}
		s->items = ni;
		s->cap = cap;
	}
	s->items[s->n++] =
		(struct item){ .name = name, .dir = dir, .exec = exec, .mtime = mtime, .off = off, .size = size };
	if (mtime > s->newest)
		s->newest = mtime;
	return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static const char *type_name(mode_t type)
{
	switch (type) {
	case AE_IFLNK: return "a symlink";
	case AE_IFCHR: return "a character device";
	case AE_IFBLK: return "a block device";
	case AE_IFIFO: return "a FIFO";
	case AE_IFSOCK: return "a socket";
	default: return "of an unknown type";
	}
}

/* ---- pass 1: read and check ---- */

/* Data of the regular file at the current header into the spool. */
static int spool_data(struct norm *s, struct archive *a, const char *name, uint64_t *content, uint64_t *ret_size)
{
	static _Thread_local char buf[IO_CHUNK];
	char e[WHY_NAME];
	uint64_t size = 0;
	la_ssize_t n;
	int r;

	while ((n = archive_read_data(a, buf, sizeof(buf))) > 0) {
		*content += (uint64_t)n;
		if (*content > s->lim->max_bytes)
			return refuse(s, -EFBIG,
				      "\"%s\": the bundle's files expand beyond %llu bytes ([extensions] max_bundle)",
				      esc(name, e), (unsigned long long)s->lim->max_bytes);
		if ((r = write_all(s->spool, buf, (size_t)n)) < 0)
			return refuse(s, r, "cannot write the scratch file: %s", strerror(-r));
		size += (uint64_t)n;
	}
	if (n < 0)
		return refuse(s, -EPROTO, "\"%s\": the archive is damaged or truncated: %s", esc(name, e),
			      archive_error_string(a) ? archive_error_string(a) : "read error");
	*ret_size = size;
	return 0;
}

static int read_archive(struct norm *s, const char *in_path)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	char norm[EXTRACT_PATH_BUF], e[WHY_NAME];
	uint64_t entries = 0, content = 0;
	int r = 0, ar;

	if (!a)
		return -ENOMEM;
	/* Built-in decoders only: with a library missing, libarchive would run an external program. */
	if (archive_read_support_filter_gzip(a) != ARCHIVE_OK || archive_read_support_filter_bzip2(a) != ARCHIVE_OK ||
	    archive_read_support_filter_xz(a) != ARCHIVE_OK || archive_read_support_filter_lzma(a) != ARCHIVE_OK ||
	    archive_read_support_filter_zstd(a) != ARCHIVE_OK || archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_support_format_zip(a) != ARCHIVE_OK) {
		r = refuse(s, -ENOTSUP, "libarchive lacks a built-in decoder: %s", archive_error_string(a));
		goto out;
	}
	/* Opening reads the first block and bids on it: an unknown format fails here. */
	if (archive_read_open_filename(a, in_path, IO_CHUNK) != ARCHIVE_OK) {
		int err = archive_errno(a);
		const char *msg = archive_error_string(a) ? archive_error_string(a) : "unrecognised data";
		/* libarchive's ARCHIVE_ERRNO_FILE_FORMAT (private header) is EILSEQ on Linux. */
		if (err == EILSEQ)
			r = refuse(s, -EBADMSG, NOT_AN_ARCHIVE ": %s", msg);
		else if (err == ENOENT || err == EACCES || err == EIO || err == ENOMEM)
			r = refuse(s, -err, "cannot read the upload: %s", msg);
		else
			r = refuse(s, -EPROTO, "the archive is damaged or truncated: %s", msg);
		goto out;
	}
	for (;;) {
		const char *path, *why = NULL;
		mode_t type;
		uint64_t off, size = 0;
		int64_t mtime;
		char *name;

		ar = archive_read_next_header(a, &ae);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN) {
			if (entries == 0)
				r = refuse(s, -EBADMSG, NOT_AN_ARCHIVE ": %s",
					   archive_error_string(a) ? archive_error_string(a) : "unrecognised data");
			else
				r = refuse(s, -EPROTO, "the archive is damaged or truncated after %llu entries: %s",
					   (unsigned long long)entries,
					   archive_error_string(a) ? archive_error_string(a) : "read error");
			goto out;
		}
		if (++entries > s->lim->max_entries) {
			r = refuse(s, -E2BIG, "the archive has more than %llu entries",
				   (unsigned long long)s->lim->max_entries);
			goto out;
		}
		path = archive_entry_pathname(ae);
		if (!path)
			path = archive_entry_pathname_utf8(ae);
		if (!path) {
			r = refuse(s, -EINVAL, "entry %llu: its name cannot be read", (unsigned long long)entries);
			goto out;
		}
		/* The pax header of a non-ASCII name holds UTF-8 (bundle_normalize). */
		if (mbstowcs(NULL, path, 0) == (size_t)-1) {
			r = refuse(s, -EINVAL, "\"%s\": the name is not UTF-8", esc(path, e));
			goto out;
		}
		if ((r = extract_path_check(path, norm, sizeof(norm), &why)) < 0) {
			r = refuse(s, r, "\"%s\": %s", esc(path, e), why);
			goto out;
		}
		type = archive_entry_filetype(ae);
		if (archive_entry_hardlink(ae)) {
			r = refuse(s, -EPERM,
				   "\"%s\": hard links are refused (a bundle holds regular files and directories only)",
				   esc(path, e));
			goto out;
		}
		if (type != AE_IFREG && type != AE_IFDIR) {
			const char *target = type == AE_IFLNK ? archive_entry_symlink(ae) : NULL;
			char te[WHY_NAME];
			r = refuse(s, -EPERM, "\"%s\" is %s%s%s%s: a bundle holds regular files and directories only%s",
				   esc(path, e), type_name(type), target ? " (to \"" : "",
				   target ? esc(target, te) : "", target ? "\")" : "",
				   type == AE_IFLNK ? "; make links at run time" : "");
			goto out;
		}
		if (!norm[0]) {
			if (type == AE_IFDIR)
				continue; /* "./": the bundle's top directory */
			r = refuse(s, -EINVAL, "\"%s\": a file cannot be the bundle's top directory", esc(path, e));
			goto out;
		}
		if (archive_entry_size_is_set(ae) && archive_entry_size(ae) > 0) {
			uint64_t declared = (uint64_t)archive_entry_size(ae);
			if (type == AE_IFDIR) {
				r = refuse(s, -EPROTO, "\"%s\": a directory with %llu bytes of data", esc(path, e),
					   (unsigned long long)declared);
				goto out;
			}
			/* Refused before a byte of it is decompressed. */
			if (declared > s->lim->max_bytes - content) {
				r = refuse(s, -EFBIG,
					   "\"%s\" is %llu bytes: the bundle's files expand beyond %llu bytes "
					   "([extensions] max_bundle)",
					   esc(path, e), (unsigned long long)declared,
					   (unsigned long long)s->lim->max_bytes);
				goto out;
			}
		}
		off = s->spool_len;
		if (type == AE_IFREG && (r = spool_data(s, a, path, &content, &size)) < 0)
			goto out;
		s->spool_len += size;
		if (!(name = strdup(norm))) {
			r = -ENOMEM;
			goto out;
		}
		mtime = archive_entry_mtime_is_set(ae) && archive_entry_mtime(ae) > 0 ? archive_entry_mtime(ae) : 0;
		r = item_add(s, name, type == AE_IFDIR, (archive_entry_perm(ae) & 0111) != 0, mtime, off, size);
		if (r < 0)
			goto out;
	}
out:
	archive_read_free(a);
	return r;
}

/* ---- between the passes: order, conflicts, parents, entry ---- */

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct item *)a)->name, ((const struct item *)b)->name);
}

/* Index of the first item whose name is >= key (the items are sorted). */
static size_t lower_bound(const struct norm *s, size_t n, const char *key, size_t len)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strncmp(s->items[mid].name, key, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool has_prefix(const char *name, const char *p, size_t len)
{
	return strncmp(name, p, len) == 0 && name[len] == '/';
}

static bool exists(const struct norm *s, size_t n, const char *name, size_t len)
{
	size_t i = lower_bound(s, n, name, len);
	return i < n && strncmp(s->items[i].name, name, len) == 0 && s->items[i].name[len] == '\0';
}

/* Sorts, folds directories listed twice, refuses other duplicates and names below a file. */
static int check_names(struct norm *s)
{
	char e1[WHY_NAME], e2[WHY_NAME];
	size_t out = 0;

	/* An empty bundle has no items array, which qsort must not get. */
	if (s->n)
		qsort(s->items, s->n, sizeof(*s->items), by_name);
	for (size_t i = 0; i < s->n; i++) {
		struct item *it = &s->items[i];
		if (out > 0 && str_eq(s->items[out - 1].name, it->name)) {
			struct item *prev = &s->items[out - 1];
			if (!prev->dir || !it->dir) {
				int r = refuse(s, -EEXIST, "\"%s\" is listed twice in the archive", esc(it->name, e1));
				/* Keep every name still owned in items[0..n) for items_free. */
				for (size_t j = i; j < s->n; j++)
					s->items[out++] = s->items[j];
				s->n = out;
				return r;
			}
			if (it->mtime > prev->mtime)
				prev->mtime = it->mtime;
			free(it->name);
			continue;
		}
		s->items[out++] = *it;
	}
	s->n = out;
	for (size_t i = 0; i < s->n; i++) {
		const struct item *it = &s->items[i];
		size_t len = strlen(it->name), j;
		char key[EXTRACT_PATH_BUF + 1];
		if (it->dir)
			continue;
		memcpy(key, it->name, len);
		key[len] = '/';
		j = lower_bound(s, s->n, key, len + 1);
		if (j < s->n && has_prefix(s->items[j].name, it->name, len))
			return refuse(s, -EEXIST, "\"%s\" is a regular file, but the archive also has \"%s\" inside it",
				      esc(it->name, e1), esc(s->items[j].name, e2));
	}
	return 0;
}

/* Adds the parent directories the archive does not list, then sorts again. */
static int add_parents(struct norm *s)
{
	size_t listed = s->n;
	int r;

	for (size_t i = 0; i < listed; i++) {
		const char *name = s->items[i].name;
		for (const char *slash = strchr(name, '/'); slash; slash = strchr(slash + 1, '/')) {
			size_t len = (size_t)(slash - name);
			char *p;
			/* Items sharing a prefix are adjacent once sorted: the previous one added it already. */
			if (exists(s, listed, name, len) || (i > 0 && has_prefix(s->items[i - 1].name, name, len)))
				continue;
			if (s->n + 1 > s->lim->max_entries)
				return refuse(s, -E2BIG,
					      "the bundle has more than %llu entries once its parent directories are added",
					      (unsigned long long)s->lim->max_entries);
			if (!(p = strndup(name, len)) || (r = item_add(s, p, true, true, 0, 0, 0)) < 0)
				return -ENOMEM;
		}
	}
	/* Known only now that every listed entry was seen. */
	for (size_t i = listed; i < s->n; i++)
		s->items[i].mtime = s->newest;
	if (s->n > listed)
		qsort(s->items, s->n, sizeof(*s->items), by_name);
	return 0;
}

static int check_entry(struct norm *s)
{
	char e[WHY_NAME];
	size_t len = strlen(s->entry);
	const char *deeper = NULL;

	for (size_t i = 0; i < s->n; i++) {
		const struct item *it = &s->items[i];
		const char *base = strrchr(it->name, '/');
		if (str_eq(it->name, s->entry)) {
			if (it->dir)
				return refuse(s, -ENOEXEC,
					      "the entry script \"%s\" is a directory; it must be a regular file in the "
					      "bundle's top directory",
					      s->entry);
			return 0;
		}
		if (!deeper && !it->dir && base && strncmp(base + 1, s->entry, len + 1) == 0)
			deeper = it->name;
	}
	if (deeper)
		return refuse(s, -ENOEXEC,
			      "the entry script \"%s\" must be a regular file in the bundle's top directory; the "
			      "bundle has only \"%s\"",
			      s->entry, esc(deeper, e));
	return refuse(s, -ENOEXEC, "the entry script \"%s\" is missing: it must be a regular file in the bundle's top "
		      "directory", s->entry);
}

/* ---- pass 2: write ---- */

struct out {
	struct norm *s;
	int fd;
	struct sha256_ctx *sha;
	uint64_t size;
	int err;
};

static la_ssize_t out_write(struct archive *a, void *ud, const void *buf, size_t len)
{
	struct out *o = ud;
	int r;

	if (o->size + len > o->s->lim->max_bytes) {
		o->err = -EFBIG;
		archive_set_error(a, EFBIG, "normalized bundle over the limit");
		return -1;
	}
	if ((r = write_all(o->fd, buf, len)) < 0) {
		o->err = r;
		archive_set_error(a, -r, "%s", strerror(-r));
		return -1;
	}
	sha256_update(o->sha, buf, len);
	o->size += len;
	return (la_ssize_t)len;
}

/* After a failed archive_write_*: the reason (the limit, the disk, or libarchive's). */
static int write_failed(struct norm *s, struct out *o, struct archive *a, const char *name)
{
	char e[WHY_NAME];
	if (o->err == -EFBIG)
		return refuse(s, -EFBIG, "the normalized bundle is larger than %llu bytes ([extensions] max_bundle)",
			      (unsigned long long)s->lim->max_bytes);
	if (o->err)
		return refuse(s, o->err, "cannot write the normalized bundle: %s", strerror(-o->err));
	return refuse(s, -EIO, "cannot write \"%s\" into the normalized bundle: %s", esc(name, e),
		      archive_error_string(a) ? archive_error_string(a) : "libarchive failed");
}

static int write_tar(struct norm *s, int out_fd, struct bundle_info *info)
{
	static _Thread_local char buf[IO_CHUNK];
	struct out o = { .s = s, .fd = out_fd };
	struct archive *a = archive_write_new();
	int r = 0;

	o.sha = sha256_new();
	if (!a || !o.sha) {
		r = -ENOMEM;
		goto out;
	}
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_add_filter_none(a) != ARCHIVE_OK ||
	    archive_write_open2(a, &o, NULL, out_write, NULL, NULL) != ARCHIVE_OK) {
		r = write_failed(s, &o, a, "");
		goto out;
	}
	info->files = 0;
	for (size_t i = 0; i < s->n; i++) {
		const struct item *it = &s->items[i];
		struct archive_entry *ae = archive_entry_new();
		bool exec = it->dir || it->exec || str_eq(it->name, s->entry);
		if (!ae) {
			r = -ENOMEM;
			goto out;
		}
		archive_entry_set_pathname(ae, it->name);
		archive_entry_set_filetype(ae, it->dir ? AE_IFDIR : AE_IFREG);
		archive_entry_set_perm(ae, exec ? 0755 : 0644);
		archive_entry_set_size(ae, it->dir ? 0 : (la_int64_t)it->size);
		archive_entry_set_mtime(ae, it->mtime, 0);
		archive_entry_set_uid(ae, 0);
		archive_entry_set_gid(ae, 0);
		if (archive_write_header(a, ae) != ARCHIVE_OK) {
			archive_entry_free(ae);
			r = write_failed(s, &o, a, it->name);
			goto out;
		}
		archive_entry_free(ae);
		for (uint64_t done = 0; !it->dir && done < it->size;) {
			size_t want = it->size - done < sizeof(buf) ? (size_t)(it->size - done) : sizeof(buf);
			ssize_t n = pread(s->spool, buf, want, (off_t)(it->off + done));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				r = refuse(s, n < 0 ? -errno : -EIO, "cannot read the scratch file: %s",
					   n < 0 ? strerror(errno) : "short read");
				goto out;
			}
			if (archive_write_data(a, buf, (size_t)n) != n) {
				r = write_failed(s, &o, a, it->name);
				goto out;
			}
			done += (uint64_t)n;
		}
		info->files += !it->dir;
	}
	if (archive_write_close(a) != ARCHIVE_OK) {
		r = write_failed(s, &o, a, "");
		goto out;
	}
	info->size = o.size;
	info->entries = s->n;
	sha256_final_hex(o.sha, info->sha256);
out:
	archive_write_free(a);
	sha256_free(o.sha);
	return r;
}

int bundle_normalize(const char *in_path, int out_fd, const char *scratch_dir, const char *entry,
		     const struct bundle_limits *lim, struct bundle_info *ret, char *why, size_t why_size)
{
	struct norm s = { .lim = lim, .entry = entry, .spool = -1, .why = why, .why_size = why_size };
	struct bundle_info info = { 0 };
	char spool[4096];
	locale_t utf8 = (locale_t)0, prev = (locale_t)0;
	int r;

	if (why && why_size)
		why[0] = '\0';
	if ((size_t)snprintf(spool, sizeof(spool), "%s/.spool-XXXXXX", scratch_dir) >= sizeof(spool))
		return refuse(&s, -ENAMETOOLONG, "scratch directory name too long");
	/* Unlinked at once: a crash leaves nothing to clean. */
	s.spool = mkostemp(spool, O_CLOEXEC);
	if (s.spool < 0)
		return refuse(&s, -errno, "cannot create a scratch file in %s: %s", scratch_dir, strerror(errno));
	unlink(spool);
	/* libarchive writes a non-ASCII name into a pax header as UTF-8,
	 * converted from the locale's charset: in the C locale of bootwaved
	 * that is ASCII, and every such name failed to write. This thread reads
	 * and writes in C.UTF-8 (names that are not UTF-8 are refused). */
	if (!(utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0))) {
		r = refuse(&s, -errno, "no C.UTF-8 locale: %s", strerror(errno));
		goto out;
	}
	prev = uselocale(utf8);
	if ((r = read_archive(&s, in_path)) < 0 || (r = check_names(&s)) < 0 || (r = add_parents(&s)) < 0 ||
	    (r = check_entry(&s)) < 0 || (r = write_tar(&s, out_fd, &info)) < 0)
		goto out;
	*ret = info;
out:
	if (r == -ENOMEM && why && why_size && !why[0])
		snprintf(why, why_size, "out of memory");
	close(s.spool);
	items_free(&s);
	if (utf8) {
		uselocale(prev);
		freelocale(utf8);
	}
	return r;
}
