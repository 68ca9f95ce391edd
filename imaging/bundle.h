/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Normalization of an extension bundle (DESIGN.md, "Extensions"): an
 * untrusted archive uploaded by an operator becomes one canonical,
 * uncompressed POSIX tar that any tar on a node extracts safely and that
 * has the same bytes, hence the same sha256, whatever archive format and
 * compression carried the same files.
 *
 * Rules, in one place:
 *   - Input: tar (ustar, pax, GNU, v7) or zip, uncompressed or compressed
 *     with gzip, bzip2, xz/lzma or zstd (libarchive, built-in decoders
 *     only: no external program is ever run). Anything else, mtree and
 *     "raw" included, is refused as not an archive.
 *   - Names: UTF-8 (what a pax header holds); extract_path_check
 *     (imaging/extract.h) normalises and refuses absolute names, ".."
 *     components and over-long names. The top
 *     directory itself ("./") is dropped; a name listed twice is refused
 *     (a directory listed twice is kept once), and so is a name below a
 *     regular file ("run" and "run/x").
 *   - Types: regular files and directories only. Symlinks are refused,
 *     whatever their target: a bundle is extracted on nodes by whatever tar
 *     they have, some of which write through a symlink an earlier member
 *     made, and a link to an absolute path would reach the node's own
 *     files; a script that needs a link makes it at run time. Hard links,
 *     device nodes, FIFOs and sockets are refused too.
 *   - Metadata: owner 0:0 without user or group names; mode 0755 for
 *     directories and for files with any execute bit, 0644 for the other
 *     files, the entry script always 0755; mtime kept in whole seconds
 *     (negative ones become 0); nothing else (no atime, ctime, xattrs,
 *     ACLs). Parent directories the archive does not list are added (0755,
 *     the newest mtime of the bundle).
 *   - Order: entries sorted by name (bytewise), so a parent comes before
 *     its children and the input's order does not matter.
 *   - Entry: the file named entry must be a regular file in the top
 *     directory.
 *   - Limits: lim->max_bytes caps the file data (from each entry's declared
 *     size before it is read, then from the bytes actually decompressed: a
 *     decompression bomb stops at the limit, never filling a disk), and the
 *     size of the normalized tar; lim->max_entries caps the entries read
 *     and written (added parents included).
 *   - Format of the output: pax restricted (ustar headers; a pax extended
 *     header only for what ustar cannot hold, such as names over 100 bytes
 *     or non-ASCII ones), 10240-byte blocks.
 */
#ifndef BW_BUNDLE_H
#define BW_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

struct bundle_limits {
	uint64_t max_bytes;   /* file data, and bytes of the normalized tar */
	uint64_t max_entries; /* entries read, and entries written */
};

struct bundle_info {
	uint64_t size;    /* bytes of the normalized tar */
	uint64_t entries; /* entries in it (directories included) */
	uint64_t files;   /* regular files among them */
	char sha256[SHA256_HEX_LEN + 1];
};

/*
 * Reads the archive at in_path and writes its normalized tar (rules above)
 * to out_fd (the caller's, written from its current offset, not synced,
 * not closed). File data is spooled meanwhile into an unlinked temporary
 * file in scratch_dir. entry is the entry script's name (a bare file name).
 * 0 and *ret on success. On refusal a negative errno and, in
 * why[why_size], one line naming the entry at fault (escaped) and the rule:
 *   -EBADMSG   not an archive of a format above
 *   -EPROTO    a damaged or truncated archive
 *   -EINVAL    an unsafe name (absolute, "..", unreadable, not UTF-8)
 *   -ENAMETOOLONG  a name over the limits of extract.h
 *   -EPERM     a symlink, hard link, device node, FIFO or socket
 *   -EEXIST    a name listed twice, or below a regular file
 *   -ENOEXEC   no regular file named entry in the top directory
 *   -EFBIG     file data or the normalized tar over lim->max_bytes
 *   -E2BIG     more than lim->max_entries entries
 *   other      a failed system call (-ENOSPC, -EIO, -ENOMEM...)
 * out_fd then holds a partial tar that the caller discards.
 */
int bundle_normalize(const char *in_path, int out_fd, const char *scratch_dir, const char *entry,
		     const struct bundle_limits *lim, struct bundle_info *ret, char *why, size_t why_size);

#endif
