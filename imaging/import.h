/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Import of an uploaded image artifact (server side): what the manifest
 * says about the content, and the kernel and initrd that the "active" boot
 * script serves, taken out of the image once, at upload.
 *
 * Where the kernel and initrd are found, in the image's /boot:
 *   kernel: a regular file "vmlinuz", else the highest "vmlinuz-<version>"
 *   initrd: "initrd.img", else the highest "initrd.img-<version>" or
 *           "initramfs-<version>.img", else "initrd"
 * (symbolic links are not followed). A kernel is required; an initrd is not.
 * Tarballs are read in one pass with libarchive. Raw images must hold an
 * ext2/3/4 filesystem: compressed ones are first decompressed into a
 * temporary file beside the artifact, then debugfs (e2fsprogs) reads /boot.
 */
#ifndef BW_IMPORT_H
#define BW_IMPORT_H

#include <stdint.h>

#include "manifest.h"

/*
 * dir holds the artifact m->artifact.file, of m->format and m->compression.
 * Fills m->content_size, m->entries, m->kernel and m->initrd, writing the
 * files "kernel" and "initrd" into dir. A tarball expanding beyond
 * max_content bytes of file data, or a raw image decompressing beyond it,
 * is refused (-EFBIG). Any failure: negative errno and why[why_size]
 * names the cause; files it wrote are removed.
 */
int import_inspect(const char *dir, struct manifest *m, uint64_t max_content, char *why, size_t why_size);

#endif
