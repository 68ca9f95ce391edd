// SPDX-License-Identifier: Apache-2.0
/*
 * Store queries of the extension catalog (store.h, "extensions: catalog"):
 * publishing a version together with its bundle file, and what still
 * refers to an extension or one of its versions, so that a deletion can be
 * refused with the name of the pool in the way.
 */
#include "store-internal.h"

/* ==== catalog: versions and their users (routes_extensions.c) ==== */

int store_ext_version_publish(struct store *s, struct bw_extension_version *v, int (*commit)(void *userdata),
			      void *userdata, struct store_err *err)
{
	struct op o = store_op_begin(s, 1);
	int r;

	if ((r = store_exec(s, "BEGIN IMMEDIATE", err)) < 0)
		return store_op_end(&o, r);
	/* The lock is recursive: the insert runs inside this transaction. */
	if ((r = store_insert(s, &model_extension_version, v, err)) < 0)
		goto rollback;
	if ((r = commit(userdata)) < 0) {
		if (err)
			snprintf(err->message, sizeof(err->message), "publishing the bundle failed: %s", strerror(-r));
		goto rollback;
	}
	if ((r = store_exec(s, "COMMIT", err)) < 0)
		goto rollback;
	return store_op_end(&o, 0);
rollback:
	store_exec(s, "ROLLBACK", NULL);
	return store_op_end(&o, r);
}

/* The first column of the first row of st (bound by the caller) into buf; -ENOENT if no row. Finalizes st. */
static int first_text(struct store *s, sqlite3_stmt *st, char *buf, size_t size, int64_t *ret_int)
{
	int rc = sqlite3_step(st), r;

	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		snprintf(buf, size, "%s", t ? (const char *)t : "");
		if (ret_int)
			*ret_int = sqlite3_column_int64(st, 1);
		r = 0;
	} else
		r = rc == SQLITE_DONE ? -ENOENT : store_sql_fail(s, rc, NULL);
	sqlite3_finalize(st);
	return r;
}

int store_ext_version_used_by(struct store *s, const char *name, const char *version, char *pool, size_t size,
			      bool *ret_previous)
{
	sqlite3_stmt *st;
	struct op o = store_op_begin(s, 0);
	int64_t previous = 0;
	int r;

	/* A pool that runs it first; else one that would roll back to it. */
	if (sqlite3_prepare_v2(store_db(s),
			       "SELECT p.name, pe.version IS NOT ?2"
			       " FROM pool_extensions pe JOIN pools p ON p.id = pe.pool_id"
			       " WHERE pe.name = ?1 AND (pe.version = ?2 OR pe.previous_version = ?2)"
			       " ORDER BY pe.version IS NOT ?2, p.id LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK)
		return store_op_end(&o, store_sql_fail(s, SQLITE_ERROR, NULL));
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, version, -1, SQLITE_TRANSIENT);
	r = first_text(s, st, pool, size, &previous);
	if (r == 0 && ret_previous)
		*ret_previous = previous != 0;
	return store_op_end(&o, r);
}

int store_ext_version_count(struct store *s, int64_t extension_id, int64_t *ret_n, char *first, size_t size)
{
	sqlite3_stmt *st;
	struct op o = store_op_begin(s, 0);
	char v[VERSION_MAX_LEN + 1] = "";
	int64_t n = 0;
	int r;

	if (sqlite3_prepare_v2(store_db(s),
			       "SELECT (SELECT version FROM extension_versions WHERE extension_id = ?1"
			       " ORDER BY id LIMIT 1), count(*) FROM extension_versions WHERE extension_id = ?1",
			       -1, &st, NULL) != SQLITE_OK)
		return store_op_end(&o, store_sql_fail(s, SQLITE_ERROR, NULL));
	sqlite3_bind_int64(st, 1, extension_id);
	r = first_text(s, st, v, sizeof(v), &n);
	if (r < 0)
		return store_op_end(&o, r);
	*ret_n = n;
	snprintf(first, size, "%s", v);
	return store_op_end(&o, 0);
}

int store_ext_used_by_pool(struct store *s, const char *name, char *pool, size_t size)
{
	sqlite3_stmt *st;
	struct op o = store_op_begin(s, 0);

	if (sqlite3_prepare_v2(store_db(s),
			       "SELECT p.name FROM pool_extensions pe JOIN pools p ON p.id = pe.pool_id"
			       " WHERE pe.name = ?1 ORDER BY p.id LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK)
		return store_op_end(&o, store_sql_fail(s, SQLITE_ERROR, NULL));
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	return store_op_end(&o, first_text(s, st, pool, size, NULL));
}

/* ==== end of catalog ==== */
