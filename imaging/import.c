// SPDX-License-Identifier: Apache-2.0
/*
 * Import: scans a tarball with libarchive or a raw ext4 image with debugfs,
 * measures the content and takes the kernel and initrd out of /boot.
 */
#include "import.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypto.h"
#include "decomp.h"
#include "util.h"

#define IO_CHUNK (256 * 1024)

/* Rank of a /boot file name as a kernel or initrd: 0 not one, 1 versioned, 2 the plain name. */
static int rank(const char *name, bool kernel, const char **ret_ver)
{
	static const char *const kplain[] = { "vmlinuz", NULL }, *const iplain[] = { "initrd.img", NULL };
	const char *const *plain = kernel ? kplain : iplain;
	size_t n = strlen(name);

	*ret_ver = "";
	for (size_t i = 0; plain[i]; i++)
		if (str_eq(name, plain[i]))
			return 2;
	if (kernel && strncmp(name, "vmlinuz-", 8) == 0 && n > 8)
		return *ret_ver = name + 8, 1;
	if (!kernel && strncmp(name, "initrd.img-", 11) == 0 && n > 11)
		return *ret_ver = name + 11, 1;
	if (!kernel && strncmp(name, "initramfs-", 10) == 0 && n > 14 && str_eq(name + n - 4, ".img"))
		return *ret_ver = name + 10, 1;
	if (!kernel && str_eq(name, "initrd"))
		return 1; /* the lowest versioned rank: any versioned one wins */
	return 0;
}

struct pick {
	int rank;
	char name[256];
};

/* True if name beats what p holds (then p takes it); a later plain name replaces an earlier one, as tar would. */
static bool better(struct pick *p, const char *name, bool kernel)
{
	const char *ver, *old;
	int k = rank(name, kernel, &ver);

	if (k == 0 || k < p->rank || strlen(name) >= sizeof(p->name))
		return false;
	if (k == 1 && p->rank == 1) {
		rank(p->name, kernel, &old);
		if (strverscmp(ver, old) <= 0)
			return false;
	}
	p->rank = k;
	snprintf(p->name, sizeof(p->name), "%s", name);
	return true;
}

/* Hashes and sizes dir/file into f. */
static int describe(const char *dir, const char *file, const char *source, struct manifest_file *f)
{
	char path[4096];
	_cleanup_close_ int fd = -1;
	struct sha256_ctx *sha = sha256_new();
	_cleanup_free_ char *buf = malloc(IO_CHUNK);
	uint64_t size = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (!sha || !buf || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		sha256_free(sha);
		return -errno ? -errno : -ENOMEM;
	}
	while ((n = read(fd, buf, IO_CHUNK)) > 0) {
		sha256_update(sha, buf, (size_t)n);
		size += (uint64_t)n;
	}
	if (n < 0) {
		sha256_free(sha);
		return -errno;
	}
	memset(f, 0, sizeof(*f));
	f->present = true;
	snprintf(f->file, sizeof(f->file), "%s", file);
	f->size = size;
	sha256_final_hex(sha, f->sha256);
	snprintf(f->source, sizeof(f->source), "%s", source);
	sha256_free(sha);
	return 0;
}

/* Copies the current archive entry's data into dir/file. */
static int save_entry(struct archive *a, const char *dir, const char *file)
{
	char path[4096];
	_cleanup_close_ int fd = -1;
	const void *buf;
	size_t len;
	la_int64_t off;
	int r;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	while ((r = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK) {
		if (pwrite(fd, buf, len, off) != (ssize_t)len)
			return -EIO;
	}
	if (r != ARCHIVE_EOF)
		return -EIO;
	return fsync(fd) < 0 ? -errno : 0;
}

static int inspect_tar(const char *dir, struct manifest *m, uint64_t max_content, char *why, size_t why_size)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	struct pick kp = { 0 }, ip = { 0 };
	char path[4096];
	uint64_t total = 0, entries = 0;
	int r = 0, ar;

	snprintf(path, sizeof(path), "%s/%s", dir, m->artifact.file);
	if (!a)
		return -ENOMEM;
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	if (archive_read_open_filename(a, path, IO_CHUNK) != ARCHIVE_OK) {
		snprintf(why, why_size, "cannot read the tarball: %s", archive_error_string(a));
		r = -EIO;
		goto out;
	}
	while ((ar = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		entries++;
		if (archive_entry_filetype(e) != AE_IFREG || !name)
			continue;
		if (archive_entry_size(e) > 0)
			total += (uint64_t)archive_entry_size(e);
		if (total > max_content) {
			snprintf(why, why_size, "the tarball expands beyond %llu bytes of file data",
				 (unsigned long long)max_content);
			r = -EFBIG;
			goto out;
		}
		if (strncmp(name, "./", 2) == 0)
			name += 2;
		if (strncmp(name, "boot/", 5) != 0 || strchr(name + 5, '/'))
			continue;
		if (better(&kp, name + 5, true))
			r = save_entry(a, dir, "kernel");
		else if (better(&ip, name + 5, false))
			r = save_entry(a, dir, "initrd");
		if (r < 0) {
			snprintf(why, why_size, "cannot extract %s: %s", name, archive_error_string(a));
			goto out;
		}
	}
	if (ar != ARCHIVE_EOF) {
		snprintf(why, why_size, "the tarball is damaged or truncated after %llu entries: %s",
			 (unsigned long long)entries, archive_error_string(a));
		r = -EBADMSG;
		goto out;
	}
	if (kp.rank == 0) {
		snprintf(why, why_size, "no kernel in the tarball (expected boot/vmlinuz or boot/vmlinuz-<version>)");
		r = -ENOENT;
		goto out;
	}
	m->content_size = total;
	m->entries = entries;
	snprintf(path, sizeof(path), "boot/%s", kp.name);
	if ((r = describe(dir, "kernel", path, &m->kernel)) < 0)
		goto out;
	snprintf(path, sizeof(path), "boot/%s", ip.name);
	if (ip.rank && (r = describe(dir, "initrd", path, &m->initrd)) < 0)
		goto out;
out:
	archive_read_free(a);
	return r;
}

/* ---- raw images ---- */

struct spill {
	int fd;
	uint64_t n, max;
};

static int spill_sink(const void *buf, size_t len, void *userdata)
{
	struct spill *s = userdata;

	if (s->n + len > s->max)
		return -EFBIG;
	/* Zeros become a hole: raw images are mostly empty space. */
	if (mem_is_zero(buf, len)) {
		if (lseek(s->fd, (off_t)len, SEEK_CUR) < 0)
			return -errno;
	} else if (write(s->fd, buf, len) != (ssize_t)len)
		return -EIO;
	s->n += len;
	return 0;
}

/* Decompresses dir/artifact into tmp; its size into *ret_size. */
static int decompress_to(const char *src, const char *comp, const char *tmp, uint64_t max, uint64_t *ret_size,
			 char *why, size_t why_size)
{
	_cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
	struct spill s = { .fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), .max = max };
	struct decomp *d = NULL;
	_cleanup_free_ char *buf = malloc(IO_CHUNK);
	const char *zwhy = NULL;
	ssize_t n;
	int r;

	if (in < 0 || s.fd < 0 || !buf || (r = decomp_new(comp, &d)) < 0) {
		r = -errno ? -errno : -ENOMEM;
		snprintf(why, why_size, "cannot decompress the image: %s", strerror(-r));
		goto out;
	}
	while ((n = read(in, buf, IO_CHUNK)) > 0)
		if ((r = decomp_feed(d, buf, (size_t)n, spill_sink, &s, &zwhy)) < 0)
			break;
	if (n < 0)
		r = -errno;
	else if (n == 0 && (r = decomp_finish(d, &zwhy)) == 0 && ftruncate(s.fd, (off_t)s.n) < 0)
		r = -errno;
	if (r == -EFBIG)
		snprintf(why, why_size, "the image decompresses beyond %llu bytes", (unsigned long long)max);
	else if (r < 0)
		snprintf(why, why_size, "cannot decompress the image: %s", zwhy ? zwhy : strerror(-r));
	else
		*ret_size = s.n;
out:
	decomp_free(d);
	if (s.fd >= 0)
		close(s.fd);
	return r;
}

/* Runs debugfs -R request on image; its stdout into out[size]. */
static int debugfs(const char *image, const char *request, char *out, size_t size)
{
	int pfd[2], status;
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(pfd[1], 1);
		dup2(null, 2);
		dup2(null, 0);
		execlp("debugfs", "debugfs", "-R", request, image, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	while ((n = read(pfd[0], out + len, size - 1 - len)) > 0)
		if ((len += (size_t)n) == size - 1)
			break;
	close(pfd[0]);
	out[len] = '\0';
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : WIFEXITED(status) && WEXITSTATUS(status) == 127 ? -ENOEXEC : -EIO;
}

static int inspect_raw(const char *dir, struct manifest *m, uint64_t max_content, char *why, size_t why_size)
{
	char src[4096], tmp[4096], req[4400], dest[4096];
	_cleanup_free_ char *listing = malloc(64 * 1024);
	struct pick kp = { 0 }, ip = { 0 };
	const char *image = src;
	struct stat st;
	int r;

	if (!listing)
		return -ENOMEM;
	snprintf(src, sizeof(src), "%s/%s", dir, m->artifact.file);
	snprintf(tmp, sizeof(tmp), "%s/.raw-inspect", dir);
	if (str_eq(m->compression, "none")) {
		if (stat(src, &st) < 0)
			return -errno;
		m->content_size = (uint64_t)st.st_size;
		if (m->content_size > max_content) {
			snprintf(why, why_size, "the image is larger than %llu bytes", (unsigned long long)max_content);
			return -EFBIG;
		}
	} else {
		if ((r = decompress_to(src, m->compression, tmp, max_content, &m->content_size, why, why_size)) < 0)
			goto out;
		image = tmp;
	}
	r = debugfs(image, "ls -p /boot", listing, 64 * 1024);
	if (r == -ENOEXEC) {
		snprintf(why, why_size, "debugfs (e2fsprogs) is not installed: cannot read raw images");
		goto out;
	}
	/* Lines: /inode/mode/uid/gid/name/size/ ; regular files have mode 100xxx. */
	for (char *line = strtok(listing, "\n"); line; line = strtok(NULL, "\n")) {
		char mode[16], name[256];
		if (sscanf(line, "/%*u/%15[0-7]/%*u/%*u/%255[^/]/", mode, name) != 2 || strncmp(mode, "100", 3) != 0)
			continue;
		if (!better(&kp, name, true))
			better(&ip, name, false);
	}
	if (r < 0 || kp.rank == 0) {
		snprintf(why, why_size, "%s", r < 0 ? "the raw image is not an ext2/3/4 filesystem that debugfs can read"
						    : "no kernel in the image (expected /boot/vmlinuz or /boot/vmlinuz-<version>)");
		r = r < 0 ? -EBADMSG : -ENOENT;
		goto out;
	}
	for (int i = 0; i < 2; i++) {
		struct pick *p = i ? &ip : &kp;
		const char *file = i ? "initrd" : "kernel";
		char source[300];
		if (!p->rank)
			continue;
		snprintf(dest, sizeof(dest), "%s/%s", dir, file);
		snprintf(req, sizeof(req), "dump /boot/%s %s", p->name, dest);
		if (strpbrk(dest, " \"'\n") || (r = debugfs(image, req, listing, 4096)) < 0 || stat(dest, &st) < 0) {
			snprintf(why, why_size, "cannot extract /boot/%s from the image", p->name);
			r = -EIO;
			goto out;
		}
		snprintf(source, sizeof(source), "boot/%s", p->name);
		if ((r = describe(dir, file, source, i ? &m->initrd : &m->kernel)) < 0)
			goto out;
	}
	m->entries = 0;
	r = 0;
out:
	unlink(tmp);
	return r;
}

int import_inspect(const char *dir, struct manifest *m, uint64_t max_content, char *why, size_t why_size)
{
	char path[4096];
	int r;

	memset(&m->kernel, 0, sizeof(m->kernel));
	memset(&m->initrd, 0, sizeof(m->initrd));
	r = str_eq(m->format, "tar") ? inspect_tar(dir, m, max_content, why, why_size)
				      : inspect_raw(dir, m, max_content, why, why_size);
	if (r < 0) {
		snprintf(path, sizeof(path), "%s/kernel", dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/initrd", dir);
		unlink(path);
	}
	return r;
}
