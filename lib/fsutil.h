/* SPDX-License-Identifier: Apache-2.0 */
/* File system helpers with crash-safe semantics. */
#ifndef BW_FSUTIL_H
#define BW_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Writes data[len] to path atomically: a temporary file in the same
 * directory, fsync, rename over path, fsync of the directory. A crash leaves
 * either the old file or the new one, never a mix.
 */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* fsync of the directory at path, so a rename or create in it is durable. */
int fsync_dir(const char *path);

/* mkdir -p with mode for the directories it creates. */
int mkdir_p(const char *path, mode_t mode);

/* rm -rf path; 0 if it did not exist. Does not follow symlinks. */
int rm_rf(const char *path);

/* Reads the whole file (at most max bytes) into a NUL-terminated buffer the caller frees. */
int read_file(const char *path, size_t max, char **ret, size_t *ret_len);

#endif
