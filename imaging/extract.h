/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Safe extraction of a rootfs tarball into a directory: the agent makes a
 * fresh filesystem on the target OS slot, mounts it, opens the image stream
 * with libarchive and hands the archive and the mount point to
 * extract_archive(). The archive is untrusted: nothing may be written
 * outside the root, no symlink is ever followed while writing, device nodes
 * need an explicit permission, and the data written is capped (a
 * decompression bomb stops with -EFBIG). The two path checkers are pure
 * functions, shared with the fuzz target.
 *
 * Rules, in one place:
 *   - Member names (extract_path_check): "./" prefixes, "." components,
 *     repeated and trailing slashes are dropped ("./etc//passwd/" ->
 *     "etc/passwd"). Refused: empty names, absolute names, any ".."
 *     component (even "a/../b", which stays inside: no real tarball needs
 *     it), names longer than EXTRACT_PATH_MAX bytes, components longer than
 *     EXTRACT_NAME_MAX bytes. "." and "./" name the root itself (out = "").
 *     Control characters and non-UTF-8 bytes are legal Linux file names and
 *     are accepted; every reason string escapes them.
 *   - Symlinks (extract_link_check): an absolute target is accepted; it is
 *     rooted in the slot once the slot is the root ("/bin/sh ->
 *     /usr/bin/dash"). A relative target is resolved lexically from the
 *     link's directory and refused if it climbs above the root at any step
 *     ("a/evil -> ../../etc"). Links are inert during extraction, since
 *     nothing here follows one; the lexical rule cannot see through chains
 *     of links, so whoever reads the extracted tree before it boots must
 *     resolve paths with the slot as root (openat2 RESOLVE_IN_ROOT, chroot).
 *   - Hard links: the target must pass extract_path_check, must not be the
 *     root, must be reachable without a symlink and must be a regular file
 *     already under the root. The entry's data, if any, is skipped.
 *   - Writing: every parent directory is opened beneath root_fd with
 *     openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS
 *     | RESOLVE_NO_XDEV), or component by component with O_NOFOLLOW and a
 *     same-device check when the kernel has no openat2 (before 5.6). An
 *     entry whose parent is a symlink, a non-directory, or on another mount
 *     is refused (-EINVAL): "link/passwd" never writes through "link".
 *     Missing parents are created (0755, root-owned), as tar does.
 *   - Names that already exist: a directory entry over a directory keeps
 *     it (its metadata is updated); anything else replaces the old name
 *     (unlink, then create with O_EXCL), except that a non-empty directory
 *     is never removed (-EEXIST). A file listed twice thus ends with the
 *     last copy; other hard links to the old copy keep the old data.
 *   - Types: regular files (sparse ones keep their holes), directories,
 *     symlinks, hard links, FIFOs; character and block devices only with
 *     allow_devices (else -EPERM); sockets are skipped (stats.skipped);
 *     anything else is refused (-EOPNOTSUPP).
 *   - Metadata: numeric owner (image uid/gid, never names: the ramdisk's
 *     /etc/passwd is not the image's), then mode with setuid/setgid/sticky
 *     bits (after chown, which clears them), then the security.capability
 *     xattr (other xattrs and ACLs are ignored), then mtime (and atime when
 *     the archive has one). Owners outside 0..2^32-2 are refused (-EINVAL).
 *     Directories are created 0700 and get their owner, mode and times after
 *     the last entry, in archive order (we run as root, so a read-only or
 *     non-searchable directory does not block its children meanwhile).
 *   - Limits: max_bytes caps the file data of the whole archive, counted
 *     from each entry's declared size (the data regions of a sparse file)
 *     before anything of it is written or skipped, and from the bytes
 *     actually read while writing (formats without a declared size);
 *     max_entries caps the number of headers. UINT64_MAX means no limit;
 *     0 means none allowed.
 *   - Memory: data goes from libarchive's block to the file, never through
 *     a buffer of ours; what grows is the list of directories whose
 *     metadata is set at the end (one path each, so at most max_entries).
 */
#ifndef BW_EXTRACT_H
#define BW_EXTRACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct archive;

#define EXTRACT_PATH_MAX 4095 /* bytes of a member name or link target, without the NUL */
#define EXTRACT_NAME_MAX 255  /* bytes of one component */
/* A buffer that always holds what extract_path_check accepts. */
#define EXTRACT_PATH_BUF (EXTRACT_PATH_MAX + 1)

/*
 * Normalises the member name path (rules above) into out[out_size]. 0 on
 * success, out = the relative name, or "" for the root itself. Refusals,
 * with a static reason in *ret_why (may be NULL): -EINVAL unsafe or empty
 * name, -ENAMETOOLONG over a length limit or out_size too small. out and
 * *ret_why are written only on success and failure respectively. Pure.
 */
int extract_path_check(const char *path, char *out, size_t out_size, const char **ret_why);

/*
 * Checks that a symlink named entry_path (a member name, checked with
 * extract_path_check first) may point to target (rules above). 0 if
 * accepted; -EINVAL (unsafe, empty target, or entry_path is the root) or
 * -ENAMETOOLONG with a static reason in *ret_why (may be NULL). Pure.
 */
int extract_link_check(const char *entry_path, const char *target, const char **ret_why);

struct extract_limits {
	uint64_t max_bytes;   /* file data of the whole archive; UINT64_MAX: no limit */
	uint64_t max_entries; /* headers, of any type; UINT64_MAX: no limit */
	bool allow_devices;   /* create character and block device nodes */
};

struct extract_stats {
	uint64_t bytes;     /* file data written (holes of sparse files not counted) */
	uint64_t entries;   /* headers read */
	uint64_t files;     /* regular files */
	uint64_t dirs;      /* directory entries (the root's "./" included) */
	uint64_t symlinks;
	uint64_t hardlinks;
	uint64_t specials;  /* FIFOs and device nodes */
	uint64_t skipped;   /* sockets */
};

/*
 * Extracts every entry of a (an archive opened for reading by the caller,
 * positioned before its first header) under the directory root_fd (any
 * open directory fd, O_PATH is fine). a and root_fd stay the caller's;
 * a is read up to its end or to the entry that failed, not closed. 0 on
 * success and *ret (may be NULL) filled. On failure, a negative errno and,
 * in why[why_size] (may be NULL/0), one line naming the entry (non-printable
 * bytes escaped as \xHH) and the check that refused it:
 *   -EINVAL     unsafe name, link target, owner, or a parent that is a
 *               symlink, not a directory, or on another mount
 *   -ENAMETOOLONG  a name over EXTRACT_PATH_MAX / EXTRACT_NAME_MAX
 *   -EPERM      device node without allow_devices
 *   -EFBIG      file data beyond lim->max_bytes ("archive expands beyond N bytes")
 *   -E2BIG      more than lim->max_entries entries
 *   -EEXIST     an entry would replace a non-empty directory
 *   -EOPNOTSUPP an entry type we do not create
 *   -EIO        libarchive error (truncated or corrupt archive, or the
 *               caller's read callback failed: its message is in why)
 *   other       the errno of a failed system call (-ENOSPC, ...)
 * What was extracted before the failure stays; the slot is to be remade.
 * Directories then keep their temporary 0700 mode.
 */
int extract_archive(struct archive *a, int root_fd, const struct extract_limits *lim,
		    struct extract_stats *ret, char *why, size_t why_size);

/*
 * Test hook: when true, extract_archive acts as if the kernel had no
 * openat2 and resolves parents component by component. Not for production.
 */
extern bool extract_test_no_openat2;

#endif
