/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The extension catalog's versions (routes_extensions.c): the handlers of
 * api.c's route table, the hooks of the generic DELETE of an extension, the
 * start-up cleanup, and ext_bundle_load, through which the extension runner
 * reads a published bundle. Private to server/api/ and its tests.
 */
#ifndef BW_ROUTES_EXTENSIONS_H
#define BW_ROUTES_EXTENSIONS_H

#include <stddef.h>

#include "api-internal.h"

/* Entries a bundle may hold (bundle.h, max_entries), added parent directories included. */
#define EXT_MAX_ENTRIES 10000

/* PUT /api/v1/extensions/<name>/versions/<version>[?entry=E]: streamed upload (BODY_STREAM). */
int ext_upload_begin(struct request *r);
int ext_upload_chunk(struct request *r, const char *data, size_t len);
int ext_upload_end(struct request *r);
void ext_upload_done(struct request *r, bool completed);
/* DELETE .../versions/<version>, GET/HEAD .../versions/<version>/bundle (the list and GET of a version are the
 * generic inventory handlers, scoped by the extension). */
int ext_version_delete(struct request *r);
int ext_version_download(struct request *r);

/*
 * Before the generic DELETE /api/v1/extensions/<name> (routes_inventory.c):
 * replies 409 in_use naming a version or a pool that still refers to x, and
 * returns -EBUSY; 0 when nothing does (the store's foreign keys still guard
 * a race).
 */
int ext_delete_check(struct request *r, const struct bw_extension *x);
/* After it: removes the extension's directory (leftovers of cut-off uploads). */
void ext_deleted(struct api *a, const char *name);

/*
 * At start: creates [extensions] dir, removes unfinished uploads and bundle
 * files that no published version owns (a crash between the rename and the
 * commit). Files that are not ours are left alone.
 */
int ext_cleanup(struct api *a);

/*
 * Reads the published bundle of extension name at version into memory for
 * the extension runner: the version's row into *ret_v, the normalized tar
 * into *ret_buf (malloc'd, NUL-terminated one byte past *ret_len; the
 * caller frees it) and its length into *ret_len. The file must be exactly
 * the row's size, at most [extensions] max_bundle, and hash to the row's
 * sha256. Outputs are written only on success. Errors: -ENOENT no such
 * extension, version or file; -EBADMSG the file differs from what was
 * published (size or sha256); -EFBIG over max_bundle; -ENOMEM; -EIO or the
 * errno of a failed read. Does not log; the caller logs with its node.
 */
int ext_bundle_load(struct api *a, const char *name, const char *version, struct bw_extension_version *ret_v,
		    void **ret_buf, size_t *ret_len);

#endif
