// SPDX-License-Identifier: Apache-2.0
/*
 * Safe extraction of an untrusted rootfs tarball under a directory fd (see
 * extract.h for the rules). Every write goes through a parent directory fd
 * opened beneath the root without following any symlink, and creates its
 * final component with an O_EXCL-style call that does not follow one either;
 * a name in the way is unlinked first. Data goes straight from libarchive's
 * blocks to pwrite, so holes stay holes and memory stays flat. Directory
 * metadata is applied at the end, like tar.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "extract.h"
#include "util.h"

bool extract_test_no_openat2;

/* Bytes of an untrusted name quoted in a reason, before "...". */
#define WHY_NAME_MAX 200

/*
 * The next component of the path at *p that is neither empty nor ".", its
 * length in *ret_len; *p moves past it and its slashes. NULL at the end.
 */
static const char *next_component(const char **p, size_t *ret_len)
{
	while (**p) {
		const char *c = *p;
		size_t cl = strcspn(c, "/");

		*p = c + cl;
		while (**p == '/')
			(*p)++;
		if (cl == 0 || (cl == 1 && c[0] == '.'))
			continue;
		*ret_len = cl;
		return c;
	}
	return NULL;
}

int extract_path_check(const char *path, char *out, size_t out_size, const char **ret_why)
{
	char buf[EXTRACT_PATH_BUF];
	const char *why;
	size_t len, n = 0, cl;
	int r = -EINVAL;

	if (!path) {
		why = "path is missing";
		goto fail;
	}
	len = strnlen(path, EXTRACT_PATH_MAX + 1);
	if (len == 0) {
		why = "path is empty";
		goto fail;
	}
	if (len > EXTRACT_PATH_MAX) {
		why = "path is longer than 4095 bytes";
		r = -ENAMETOOLONG;
		goto fail;
	}
	if (path[0] == '/') {
		why = "path is absolute";
		goto fail;
	}
	for (const char *p = path, *c; (c = next_component(&p, &cl));) {
		if (cl == 2 && c[0] == '.' && c[1] == '.') {
			why = "path has a '..' component";
			goto fail;
		}
		if (cl > EXTRACT_NAME_MAX) {
			why = "path component is longer than 255 bytes";
			r = -ENAMETOOLONG;
			goto fail;
		}
		/* n + 1 + cl <= len: the output never outgrows the input. */
		if (n)
			buf[n++] = '/';
		memcpy(buf + n, c, cl);
		n += cl;
	}
	buf[n] = '\0';
	if (n >= out_size) {
		why = "normalised path does not fit the output buffer";
		r = -ENAMETOOLONG;
		goto fail;
	}
	memcpy(out, buf, n + 1);
	return 0;
fail:
	if (ret_why)
		*ret_why = why;
	return r;
}

int extract_link_check(const char *entry_path, const char *target, const char **ret_why)
{
	char norm[EXTRACT_PATH_BUF];
	const char *why;
	size_t depth = 0, cl;
	int r;

	r = extract_path_check(entry_path, norm, sizeof(norm), &why);
	if (r < 0)
		goto fail;
	r = -EINVAL;
	if (!norm[0]) {
		why = "symlink cannot be the root directory";
		goto fail;
	}
	if (!target || !target[0]) {
		why = "symlink target is empty";
		goto fail;
	}
	if (strnlen(target, EXTRACT_PATH_MAX + 1) > EXTRACT_PATH_MAX) {
		why = "symlink target is longer than 4095 bytes";
		r = -ENAMETOOLONG;
		goto fail;
	}
	/* Rooted in the slot once it is the root; inert until then. */
	if (target[0] == '/')
		return 0;
	/* The link's directory: one level per '/' of the normalised name. */
	for (const char *p = norm; *p; p++)
		depth += *p == '/';
	for (const char *p = target, *c; (c = next_component(&p, &cl));) {
		if (cl == 2 && c[0] == '.' && c[1] == '.') {
			if (depth == 0) {
				why = "symlink target climbs out of the root";
				goto fail;
			}
			depth--;
		} else {
			depth++;
		}
	}
	return 0;
fail:
	if (ret_why)
		*ret_why = why;
	return r;
}

/* ---- extraction ---- */

/* A directory whose owner, mode and times are set after the last entry. */
struct dirfix {
	char *path; /* normalised, "" for the root; owned */
	uid_t uid;
	gid_t gid;
	mode_t mode;
	struct timespec ts[2];
};

struct ctx {
	struct archive *a;
	int root_fd;
	dev_t root_dev;
	const struct extract_limits *lim;
	bool no_openat2;
	struct extract_stats st;
	uint64_t committed; /* data bytes accounted for, <= lim->max_bytes */
	struct dirfix *fix;
	size_t nfix, capfix;
	const char *name; /* the entry being extracted (untrusted), for reasons */
	char *why;
	size_t why_size;
};

struct sbuf {
	char *p;
	size_t size, len;
};

static void sb_putc(struct sbuf *b, char ch)
{
	if (b->len + 1 < b->size) {
		b->p[b->len++] = ch;
		b->p[b->len] = '\0';
	}
}

static void sb_puts(struct sbuf *b, const char *s)
{
	while (*s)
		sb_putc(b, *s++);
}

/* Appends s with backslashes and bytes outside 0x20..0x7e as \xHH, at most max bytes of it. */
static void sb_escaped(struct sbuf *b, const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i] && i < max; i++) {
		unsigned char ch = (unsigned char)s[i];
		char hex[5];

		if (ch == '\\') {
			sb_puts(b, "\\\\");
		} else if (ch < 0x20 || ch >= 0x7f) {
			snprintf(hex, sizeof(hex), "\\x%02x", ch);
			sb_puts(b, hex);
		} else {
			sb_putc(b, (char)ch);
		}
	}
	if (s[i])
		sb_puts(b, "...");
}

/* Writes "<entry>: <message>" (both escaped) into the caller's why; returns err. */
_printf_(3, 4) static int fail(struct ctx *c, int err, const char *fmt, ...)
{
	struct sbuf b = { c->why, c->why_size, 0 };
	char msg[512];
	va_list ap;

	if (!c->why || !c->why_size)
		return err;
	c->why[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->name) {
		sb_escaped(&b, c->name, WHY_NAME_MAX);
		sb_puts(&b, ": ");
	}
	sb_escaped(&b, msg, sizeof(msg));
	return err;
}

static int archive_fail(struct ctx *c, const char *doing)
{
	const char *s = archive_error_string(c->a);
	return fail(c, -EIO, "%s: %s", doing, s ? s : "unknown libarchive error");
}

/* The reason for a failure to open a directory on the way to an entry. */
static int dir_fail(struct ctx *c, int r, const char *what)
{
	switch (r) {
	case -ELOOP:
		return fail(c, -EINVAL, "%s goes through a symlink", what);
	case -ENOTDIR:
		return fail(c, -EINVAL, "%s goes through a non-directory", what);
	case -EXDEV:
		return fail(c, -EINVAL, "%s leaves the root or crosses a mount point", what);
	case -ENOENT:
		return fail(c, -EINVAL, "%s does not exist", what);
	default:
		return fail(c, r, "cannot open %s: %s", what, strerror(-r));
	}
}

/*
 * Kernels before 5.6: walk dir one component at a time from the root, with
 * O_NOFOLLOW on each, creating missing ones when create is set. Components
 * are never "." or ".." (extract_path_check), so the walk only goes down.
 */
static int walk_beneath(struct ctx *c, const char *dir, int flags, bool create, int *ret_fd)
{
	_cleanup_close_ int fd = openat(c->root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	char comp[EXTRACT_NAME_MAX + 1];

	if (fd < 0)
		return -errno;
	for (const char *p = dir; *p;) {
		const char *s = p;
		struct stat st;
		size_t n;
		int nfd, f;

		while (*p && *p != '/')
			p++;
		n = (size_t)(p - s);
		if (n == 0 || n > EXTRACT_NAME_MAX)
			return -EINVAL;
		memcpy(comp, s, n);
		comp[n] = '\0';
		if (*p)
			p++;
		f = (*p ? O_PATH : flags) | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
		nfd = openat(fd, comp, f);
		if (nfd < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, comp, 0755) < 0 && errno != EEXIST)
				return -errno;
			nfd = openat(fd, comp, f);
		}
		if (nfd < 0) {
			int e = errno;
			/* O_PATH|O_NOFOLLOW on a symlink says ENOTDIR: name it. */
			if ((e == ENOTDIR || e == ELOOP) && fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0)
				e = S_ISLNK(st.st_mode) ? ELOOP : ENOTDIR;
			return -e;
		}
		if (fstat(nfd, &st) < 0) {
			int e = errno;
			close(nfd);
			return -e;
		}
		if (st.st_dev != c->root_dev) {
			close(nfd);
			return -EXDEV;
		}
		close(fd);
		fd = nfd;
	}
	*ret_fd = fd;
	fd = -1;
	return 0;
}

/*
 * Opens the directory dir (normalised, "" = the root) beneath the root
 * without following any symlink, with open flags (O_PATH or O_RDONLY).
 * create: make missing directories on the way (0755). The fd is the caller's.
 */
static int open_beneath(struct ctx *c, const char *dir, int flags, bool create, int *ret_fd)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	int fd;

	if (!dir[0]) {
		fd = openat(c->root_fd, ".", flags | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		*ret_fd = fd;
		return 0;
	}
	if (!c->no_openat2 && !extract_test_no_openat2) {
		/* EAGAIN: a concurrent rename somewhere; bounded retries. */
		for (int tries = 0;; tries++) {
			fd = (int)syscall(SYS_openat2, c->root_fd, dir, &how, sizeof(how));
			if (fd >= 0) {
				*ret_fd = fd;
				return 0;
			}
			if (errno != EAGAIN || tries == 8)
				break;
		}
		if (errno == ENOSYS)
			c->no_openat2 = true;
		else if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP)
			return -errno;
		/*
		 * ENOENT: a missing parent, the walk creates it (or says which
		 * is missing). ENOTDIR, ELOOP: a symlink in the way gives either,
		 * the walk stops on it and names it.
		 */
	}
	return walk_beneath(c, dir, flags, create, ret_fd);
}

/*
 * Removes whatever is at pfd/name so that a new non-directory can take the
 * name; a directory only if it is empty.
 */
static int make_room(struct ctx *c, int pfd, const char *name)
{
	struct stat st;

	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : fail(c, -errno, "cannot stat the name in the way: %m");
	if (S_ISDIR(st.st_mode)) {
		if (unlinkat(pfd, name, AT_REMOVEDIR) == 0)
			return 0;
		if (errno == ENOTEMPTY || errno == EEXIST)
			return fail(c, -EEXIST, "would replace a non-empty directory");
		return fail(c, -errno, "cannot remove the directory in the way: %m");
	}
	if (unlinkat(pfd, name, 0) < 0)
		return fail(c, -errno, "cannot remove the file in the way: %m");
	return 0;
}

static int owner_of(struct ctx *c, struct archive_entry *e, uid_t *uid, gid_t *gid)
{
	int64_t u = archive_entry_uid(e), g = archive_entry_gid(e);

	/* (uid_t)-1 would mean "leave as is" to chown. */
	if (u < 0 || u >= UINT32_MAX || g < 0 || g >= UINT32_MAX)
		return fail(c, -EINVAL, "owner %" PRId64 ":%" PRId64 " out of range", u, g);
	*uid = (uid_t)u;
	*gid = (gid_t)g;
	return 0;
}

static struct timespec ts_of(bool set, int64_t sec, long nsec)
{
	struct timespec t = { .tv_sec = 0, .tv_nsec = UTIME_OMIT };

	if (set) {
		t.tv_sec = (time_t)sec;
		t.tv_nsec = nsec >= 0 && nsec < 1000000000 ? nsec : 0;
	}
	return t;
}

static void times_of(struct archive_entry *e, struct timespec ts[2])
{
	ts[0] = ts_of(archive_entry_atime_is_set(e), archive_entry_atime(e), archive_entry_atime_nsec(e));
	ts[1] = ts_of(archive_entry_mtime_is_set(e), archive_entry_mtime(e), archive_entry_mtime_nsec(e));
}

/* chmod of a non-directory by name, never following a symlink. */
static int chmod_nofollow(int pfd, const char *name, mode_t mode)
{
	struct stat st;

	if (fchmodat(pfd, name, mode, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	/* glibc emulates NOFOLLOW through /proc, which a ramdisk may lack. */
	if (errno != EOPNOTSUPP && errno != ENOSYS && errno != ENOENT)
		return -errno;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (S_ISLNK(st.st_mode))
		return -ELOOP;
	return fchmodat(pfd, name, mode, 0) < 0 ? -errno : 0;
}

/* Data bytes the entry declares: its size, or the data regions of a sparse file. */
static uint64_t declared_data(struct archive_entry *e)
{
	uint64_t sum = 0;
	la_int64_t off, len;

	if (!archive_entry_size_is_set(e) || archive_entry_size(e) <= 0)
		return 0;
	if (archive_entry_sparse_reset(e) > 0) {
		while (archive_entry_sparse_next(e, &off, &len) == ARCHIVE_OK)
			if (len > 0)
				sum = (uint64_t)len > UINT64_MAX - sum ? UINT64_MAX : sum + (uint64_t)len;
		return sum;
	}
	return (uint64_t)archive_entry_size(e);
}

static int pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

static int do_file(struct ctx *c, struct archive_entry *e, int pfd, const char *name, uint64_t budget,
		   uint64_t *ret_written)
{
	_cleanup_close_ int fd = -1;
	struct timespec ts[2];
	uint64_t written = 0;
	int64_t end = 0;
	const char *xn;
	const void *xv;
	size_t xs;
	uid_t uid;
	gid_t gid;
	int r;

	r = owner_of(c, e, &uid, &gid);
	if (r < 0)
		return r;
	for (int i = 0;; i++) {
		fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0)
			break;
		if (errno != EEXIST || i)
			return fail(c, -errno, "cannot create the file: %m");
		r = make_room(c, pfd, name);
		if (r < 0)
			return r;
	}
	for (;;) {
		const void *buf;
		size_t len;
		la_int64_t off;
		int ar = archive_read_data_block(c->a, &buf, &len, &off);

		if (ar == ARCHIVE_EOF)
			break;
		/* Not "< ARCHIVE_WARN": ARCHIVE_RETRY (a damaged header) is -10. */
		if (ar != ARCHIVE_OK && ar != ARCHIVE_WARN)
			return archive_fail(c, "reading data");
		if (off < 0 || len > (uint64_t)(INT64_MAX - off))
			return fail(c, -EIO, "data block at offset %" PRId64 " does not fit", (int64_t)off);
		if (len > budget - written)
			return fail(c, -EFBIG, "archive expands beyond %" PRIu64 " bytes", c->lim->max_bytes);
		r = pwrite_all(fd, buf, len, (off_t)off);
		if (r < 0)
			return fail(c, r, "cannot write: %s", strerror(-r));
		written += len;
		if (off + (int64_t)len > end)
			end = off + (int64_t)len;
	}
	/* A trailing hole of a sparse file. */
	if (archive_entry_size_is_set(e) && archive_entry_size(e) > end &&
	    ftruncate(fd, (off_t)archive_entry_size(e)) < 0)
		return fail(c, -errno, "cannot set the size to %" PRId64 ": %m", (int64_t)archive_entry_size(e));
	c->st.bytes += written;

	times_of(e, ts);
	if (fchown(fd, uid, gid) < 0)
		return fail(c, -errno, "cannot set the owner: %m");
	/* After fchown, which clears setuid/setgid. */
	if (fchmod(fd, archive_entry_perm(e) & 07777) < 0)
		return fail(c, -errno, "cannot set the mode: %m");
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &xn, &xv, &xs) == ARCHIVE_OK)
		if (str_eq(xn, "security.capability") && fsetxattr(fd, xn, xv, xs, 0) < 0)
			return fail(c, -errno, "cannot set security.capability: %m");
	if (futimens(fd, ts) < 0)
		return fail(c, -errno, "cannot set the times: %m");
	*ret_written = written;
	return 0;
}

static int add_fix(struct ctx *c, struct archive_entry *e, const char *norm)
{
	struct dirfix *f;
	int r;

	if (c->nfix == c->capfix) {
		size_t cap = c->capfix ? c->capfix * 2 : 64;
		struct dirfix *n = reallocarray(c->fix, cap, sizeof(*n));
		if (!n)
			return fail(c, -ENOMEM, "out of memory");
		c->fix = n;
		c->capfix = cap;
	}
	f = &c->fix[c->nfix];
	r = owner_of(c, e, &f->uid, &f->gid);
	if (r < 0)
		return r;
	f->path = strdup(norm);
	if (!f->path)
		return fail(c, -ENOMEM, "out of memory");
	f->mode = archive_entry_perm(e) & 07777;
	times_of(e, f->ts);
	c->nfix++;
	return 0;
}

static int do_dir(struct ctx *c, struct archive_entry *e, const char *norm, int pfd, const char *name)
{
	struct stat st;
	int r;

	if (name && mkdirat(pfd, name, 0700) < 0) {
		if (errno != EEXIST)
			return fail(c, -errno, "cannot create the directory: %m");
		if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return fail(c, -errno, "cannot stat the name in the way: %m");
		if (!S_ISDIR(st.st_mode)) {
			r = make_room(c, pfd, name);
			if (r < 0)
				return r;
			if (mkdirat(pfd, name, 0700) < 0)
				return fail(c, -errno, "cannot create the directory: %m");
		}
	}
	return add_fix(c, e, norm);
}

static int do_symlink(struct ctx *c, struct archive_entry *e, int pfd, const char *name)
{
	const char *target = archive_entry_symlink(e), *why;
	struct timespec ts[2];
	uid_t uid;
	gid_t gid;
	int r;

	r = extract_link_check(c->name, target, &why);
	if (r < 0)
		return fail(c, r, "%s (-> %s)", why, target ? target : "");
	r = owner_of(c, e, &uid, &gid);
	if (r < 0)
		return r;
	for (int i = 0;; i++) {
		if (symlinkat(target, pfd, name) == 0)
			break;
		if (errno != EEXIST || i)
			return fail(c, -errno, "cannot create the symlink: %m");
		r = make_room(c, pfd, name);
		if (r < 0)
			return r;
	}
	times_of(e, ts);
	if (fchownat(pfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return fail(c, -errno, "cannot set the owner: %m");
	if (utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return fail(c, -errno, "cannot set the times: %m");
	return 0;
}

/* Splits the normalised norm ("a/b/c") into its directory ("a/b", or "") in dir and its last name. */
static const char *split(const char *norm, char dir[EXTRACT_PATH_BUF])
{
	const char *slash = strrchr(norm, '/');
	size_t n = slash ? (size_t)(slash - norm) : 0;

	memcpy(dir, norm, n);
	dir[n] = '\0';
	return slash ? slash + 1 : norm;
}

static int do_hardlink(struct ctx *c, struct archive_entry *e, int pfd, const char *name)
{
	const char *target = archive_entry_hardlink(e), *why, *tname;
	char tnorm[EXTRACT_PATH_BUF], tdir[EXTRACT_PATH_BUF];
	_cleanup_close_ int tpfd = -1;
	struct stat tst, st;
	int r;

	r = extract_path_check(target, tnorm, sizeof(tnorm), &why);
	if (r < 0)
		return fail(c, r == -ENAMETOOLONG ? r : -EINVAL, "hard link target: %s (-> %s)", why, target ? target : "");
	if (!tnorm[0])
		return fail(c, -EINVAL, "hard link to the root directory");
	tname = split(tnorm, tdir);
	r = open_beneath(c, tdir, O_PATH, false, &tpfd);
	if (r < 0)
		return dir_fail(c, r, "hard link target");
	if (fstatat(tpfd, tname, &tst, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? fail(c, -EINVAL, "hard link target does not exist (-> %s)", tnorm)
				       : fail(c, -errno, "cannot stat the hard link target: %m");
	if (!S_ISREG(tst.st_mode))
		return fail(c, -EINVAL, "hard link target is not a regular file (-> %s)", tnorm);
	for (int i = 0;; i++) {
		/* flags 0: a symlink as tname would be linked, not followed. */
		if (linkat(tpfd, tname, pfd, name, 0) == 0)
			break;
		if (errno != EEXIST || i)
			return fail(c, -errno, "cannot create the hard link: %m");
		/* Already the same file (an archive listing the link twice). */
		if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_dev == tst.st_dev &&
		    st.st_ino == tst.st_ino)
			break;
		r = make_room(c, pfd, name);
		if (r < 0)
			return r;
	}
	return 0;
}

static int do_special(struct ctx *c, struct archive_entry *e, mode_t type, int pfd, const char *name)
{
	dev_t dev = makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
	struct timespec ts[2];
	uid_t uid;
	gid_t gid;
	int r;

	if (type != AE_IFIFO && !c->lim->allow_devices)
		return fail(c, -EPERM, "%s device node %u:%u not allowed", type == AE_IFCHR ? "character" : "block",
			    major(dev), minor(dev));
	r = owner_of(c, e, &uid, &gid);
	if (r < 0)
		return r;
	if (type == AE_IFIFO)
		dev = 0;
	for (int i = 0;; i++) {
		if (mknodat(pfd, name, (type == AE_IFIFO ? S_IFIFO : type == AE_IFCHR ? S_IFCHR : S_IFBLK) | 0600,
			    dev) == 0)
			break;
		if (errno != EEXIST || i)
			return fail(c, -errno, "cannot create the node: %m");
		r = make_room(c, pfd, name);
		if (r < 0)
			return r;
	}
	times_of(e, ts);
	if (fchownat(pfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return fail(c, -errno, "cannot set the owner: %m");
	r = chmod_nofollow(pfd, name, archive_entry_perm(e) & 07777);
	if (r < 0)
		return fail(c, r, "cannot set the mode: %s", strerror(-r));
	if (utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return fail(c, -errno, "cannot set the times: %m");
	return 0;
}

/* One entry, its header already read and its name normalised in norm. */
static int do_entry(struct ctx *c, struct archive_entry *e, const char *norm, uint64_t budget,
		    uint64_t *ret_written)
{
	mode_t type = archive_entry_filetype(e);
	char dir[EXTRACT_PATH_BUF];
	_cleanup_close_ int pfd = -1;
	const char *name;
	int r;

	*ret_written = 0;
	if (!norm[0]) {
		if (archive_entry_hardlink(e) || type != AE_IFDIR)
			return fail(c, -EINVAL, "only a directory can be the root");
		c->st.dirs++;
		return do_dir(c, e, norm, -1, NULL);
	}
	/* Refusals that need no file system access come first. */
	if (!archive_entry_hardlink(e)) {
		switch (type) {
		case AE_IFSOCK:
			c->st.skipped++;
			return 0;
		case AE_IFCHR:
		case AE_IFBLK:
			if (!c->lim->allow_devices)
				return do_special(c, e, type, -1, NULL);
			break;
		case AE_IFREG:
		case AE_IFDIR:
		case AE_IFLNK:
		case AE_IFIFO:
			break;
		default:
			return fail(c, -EOPNOTSUPP, "entry type 0%o not supported", (unsigned)type);
		}
	}
	name = split(norm, dir);
	r = open_beneath(c, dir, O_PATH, true, &pfd);
	if (r < 0)
		return dir_fail(c, r, "parent directory");
	if (archive_entry_hardlink(e)) {
		c->st.hardlinks++;
		return do_hardlink(c, e, pfd, name);
	}
	switch (type) {
	case AE_IFREG:
		c->st.files++;
		return do_file(c, e, pfd, name, budget, ret_written);
	case AE_IFDIR:
		c->st.dirs++;
		return do_dir(c, e, norm, pfd, name);
	case AE_IFLNK:
		c->st.symlinks++;
		return do_symlink(c, e, pfd, name);
	default:
		c->st.specials++;
		return do_special(c, e, type, pfd, name);
	}
}

/* Owner, mode and times of the directories, in archive order (the last listing wins). */
static int apply_fixes(struct ctx *c)
{
	for (size_t i = 0; i < c->nfix; i++) {
		struct dirfix *f = &c->fix[i];
		_cleanup_close_ int fd = -1;
		int r;

		c->name = f->path[0] ? f->path : ".";
		r = open_beneath(c, f->path, O_RDONLY, false, &fd);
		/* Replaced by a later entry of another type: nothing to do. */
		if (r == -ENOENT || r == -ENOTDIR || r == -ELOOP)
			continue;
		if (r < 0)
			return dir_fail(c, r, "directory");
		if (fchown(fd, f->uid, f->gid) < 0)
			return fail(c, -errno, "cannot set the owner: %m");
		if (fchmod(fd, f->mode) < 0)
			return fail(c, -errno, "cannot set the mode: %m");
		if (futimens(fd, f->ts) < 0)
			return fail(c, -errno, "cannot set the times: %m");
	}
	return 0;
}

static int extract_all(struct ctx *c)
{
	struct archive_entry *e;
	char norm[EXTRACT_PATH_BUF];
	const char *why;
	struct stat st;
	int r;

	if (fstat(c->root_fd, &st) < 0)
		return fail(c, -errno, "cannot stat the root: %m");
	if (!S_ISDIR(st.st_mode))
		return fail(c, -ENOTDIR, "the root is not a directory");
	c->root_dev = st.st_dev;
	for (;;) {
		uint64_t budget = c->lim->max_bytes - c->committed, need, written;
		int ar;

		c->name = NULL;
		ar = archive_read_next_header(c->a, &e);
		if (ar == ARCHIVE_EOF)
			break;
		/* ARCHIVE_WARN: e.g. a pax name not in the locale's charset; the raw bytes are used. */
		if (ar != ARCHIVE_OK && ar != ARCHIVE_WARN)
			return archive_fail(c, c->st.entries ? "reading the next header" : "reading the first header");
		c->name = archive_entry_pathname(e);
		if (c->st.entries >= c->lim->max_entries)
			return fail(c, -E2BIG, "archive has more than %" PRIu64 " entries", c->lim->max_entries);
		c->st.entries++;
		if (!c->name)
			return fail(c, -EINVAL, "entry %" PRIu64 " has no name", c->st.entries);
		r = extract_path_check(c->name, norm, sizeof(norm), &why);
		if (r < 0)
			return fail(c, r, "%s", why);
		need = declared_data(e);
		if (need > budget)
			return fail(c, -EFBIG, "archive expands beyond %" PRIu64 " bytes (entry declares %" PRIu64 ")",
				    c->lim->max_bytes, need);
		r = do_entry(c, e, norm, budget, &written);
		if (r < 0)
			return r;
		c->committed += need > written ? need : written;
	}
	return apply_fixes(c);
}

int extract_archive(struct archive *a, int root_fd, const struct extract_limits *lim,
		    struct extract_stats *ret, char *why, size_t why_size)
{
	struct ctx c = {
		.a = a,
		.root_fd = root_fd,
		.lim = lim,
		.why = why,
		.why_size = why_size,
	};
	int r;

	if (!a || root_fd < 0 || !lim)
		r = fail(&c, -EINVAL, "bad arguments");
	else
		r = extract_all(&c);
	for (size_t i = 0; i < c.nfix; i++)
		free(c.fix[i].path);
	free(c.fix);
	if (r == 0 && ret)
		*ret = c.st;
	return r;
}
