// SPDX-License-Identifier: Apache-2.0
/*
 * Store queries of the extension runner and of the orchestrator's view of
 * extensions (store.h, "extensions: runs"): a pool's extensions, the runs of
 * each node with their bounded output, and which nodes must run their
 * extensions again.
 */
#include "store-internal.h"

struct collect {
	struct bw_pool_extension *out;
	size_t max, n;
};

static int collect_one(const void *obj, void *ud)
{
	struct collect *c = ud;
	if (c->n == c->max)
		return -E2BIG;
	memcpy(&c->out[c->n++], obj, sizeof(*c->out));
	return 0;
}

int store_pool_extensions(struct store *s, int64_t pool, struct bw_pool_extension *ret, size_t max, size_t *ret_n)
{
	struct store_filter f = { .field = model_field(&model_pool_extension, "pool"), .ival = pool };
	struct collect c = { .out = ret, .max = max };
	int r = store_list(s, &model_pool_extension, &f, 1, 0, 0, collect_one, &c, NULL);
	if (r < 0)
		return r;
	*ret_n = c.n;
	return 0;
}

int store_pool_has_extensions(struct store *s, int64_t pool)
{
	struct op o = store_op_begin(s, 0);
	sqlite3_stmt *st;
	int r, rc = store_prepare(s, "SELECT 1 FROM pool_extensions WHERE pool_id = ?1 LIMIT 1", -1, &st);
	if (rc != SQLITE_OK)
		return store_op_end(&o, store_sql_fail(s, rc, NULL));
	sqlite3_bind_int64(st, 1, pool);
	rc = sqlite3_step(st);
	r = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : store_sql_fail(s, rc, NULL);
	store_release(s, st);
	return store_op_end(&o, r);
}

int store_ext_run_finish(struct store *s, const struct bw_ext_run *run, const void *out, size_t out_len,
			 const void *err, size_t err_len)
{
	struct op o = store_op_begin(s, 1);
	sqlite3_stmt *st;
	int rc = store_prepare(s,
				    "UPDATE extension_runs SET state = ?2, exit_status = ?3, error = ?4, stdout_bytes = ?5,"
				    " stderr_bytes = ?6, truncated = ?7, stdout = ?8, stderr = ?9, finished_at = ?10,"
				    " started_at = COALESCE(started_at, ?10) WHERE id = ?1", -1, &st);
	if (rc != SQLITE_OK)
		return store_op_end(&o, store_sql_fail(s, rc, NULL));
	sqlite3_bind_int64(st, 1, run->id);
	sqlite3_bind_text(st, 2, run->state, -1, SQLITE_TRANSIENT);
	if (run->exit_status == INT_NULL)
		sqlite3_bind_null(st, 3);
	else
		sqlite3_bind_int64(st, 3, run->exit_status);
	sqlite3_bind_text(st, 4, run->error, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, run->stdout_bytes);
	sqlite3_bind_int64(st, 6, run->stderr_bytes);
	sqlite3_bind_int(st, 7, run->truncated);
	sqlite3_bind_blob64(st, 8, out ? out : "", out ? out_len : 0, SQLITE_TRANSIENT);
	sqlite3_bind_blob64(st, 9, err ? err : "", err ? err_len : 0, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 10, run->finished_at ? run->finished_at : s->now());
	return store_op_end(&o, store_step_done(s, st, NULL));
}

int store_ext_run_output(struct store *s, int64_t id, char **ret_out, size_t *ret_out_len, char **ret_err,
			 size_t *ret_err_len)
{
	struct op o = store_op_begin(s, 0);
	sqlite3_stmt *st;
	char *p[2] = { NULL, NULL };
	size_t len[2] = { 0, 0 };
	int r = 0, rc = store_prepare(s, "SELECT stdout, stderr FROM extension_runs WHERE id = ?1", -1, &st);
	if (rc != SQLITE_OK)
		return store_op_end(&o, store_sql_fail(s, rc, NULL));
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		for (int i = 0; i < 2 && r == 0; i++) {
			const void *b = sqlite3_column_blob(st, i);
			len[i] = (size_t)sqlite3_column_bytes(st, i);
			p[i] = malloc(len[i] + 1);
			if (!p[i])
				r = -ENOMEM;
			else {
				if (len[i])
					memcpy(p[i], b, len[i]);
				p[i][len[i]] = '\0';
			}
		}
	} else
		r = rc == SQLITE_DONE ? -ENOENT : store_sql_fail(s, rc, NULL);
	store_release(s, st);
	if (r < 0) {
		free(p[0]);
		free(p[1]);
		return store_op_end(&o, r);
	}
	*ret_out = p[0];
	*ret_out_len = len[0];
	*ret_err = p[1];
	*ret_err_len = len[1];
	return store_op_end(&o, 0);
}

int store_ext_run_find(struct store *s, int64_t node, const char *extension, const char *version, const char *state,
		       int64_t since, struct bw_ext_run *ret)
{
	return store_get_one(s, &model_ext_run, ret,
			     "SELECT max(id) FROM extension_runs WHERE node_id = ?1 AND extension = ?2"
			     " AND created_at >= ?3 AND (?4 IS NULL OR version = ?4) AND (?5 IS NULL OR state = ?5)",
			     "itstt", node, extension, since, version, state);
}

/*
 * The rows of m that sql (selecting ids, with its LIMIT) names, each read
 * whole and given to cb in order; ids are read first so that cb may use
 * the store. Stops at the first cb < 0.
 */
static int each_selected(struct store *s, const struct model *m, const char *sql, size_t max,
			 int (*cb)(const void *obj, void *userdata), void *userdata)
{
	struct op o = store_op_begin(s, 0);
	sqlite3_stmt *st;
	int64_t *ids = calloc(max, sizeof(*ids));
	void *obj = malloc(m->size);
	size_t n = 0;
	int r = 0, rc = ids && obj ? store_prepare(s, sql, -1, &st) : SQLITE_NOMEM;

	if (rc != SQLITE_OK) {
		free(ids);
		free(obj);
		return store_op_end(&o, store_sql_fail(s, rc, NULL));
	}
	while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int64(st, 0);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		r = store_sql_fail(s, rc, NULL);
	store_release(s, st);
	for (size_t i = 0; i < n && r == 0; i++)
		if (store_get(s, m, ids[i], obj) == 0)
			r = cb(obj, userdata);
	free(ids);
	free(obj);
	return store_op_end(&o, r < 0 ? r : 0);
}

/* The typed callbacks of each_selected's callers. */
struct each_typed {
	int (*run)(const struct bw_ext_run *run, void *userdata);
	int (*node)(const struct bw_node *n, void *userdata);
	void *userdata;
};
static int call_typed(const void *obj, void *userdata)
{
	const struct each_typed *t = userdata;
	return t->run ? t->run(obj, t->userdata) : t->node(obj, t->userdata);
}

int store_ext_runs_open(struct store *s, int (*cb)(const struct bw_ext_run *run, void *userdata), void *userdata)
{
	return each_selected(s, &model_ext_run,
			     "SELECT id FROM extension_runs WHERE state IN ('queued', 'running') ORDER BY id LIMIT 256", 256,
			     call_typed, &(struct each_typed){ .run = cb, .userdata = userdata });
}

int store_ext_runs_requeue(struct store *s)
{
	struct op o = store_op_begin(s, 1);
	char sql[320];
	int r;

	/* A node's provisioning runs again as a whole (its provision_after_ts is still set). */
	snprintf(sql, sizeof(sql),
		 "UPDATE extension_runs SET state = 'failed', error = 'interrupted by a restart of bootwaved;"
		 " the node runs its extensions again', finished_at = %lld"
		 " WHERE state IN ('running', 'queued') AND trigger = 'provision'",
		 (long long)s->now());
	r = store_exec(s, sql, NULL);
	if (r == 0)
		r = store_exec(s, "UPDATE extension_runs SET state = 'queued', started_at = NULL WHERE state = 'running'",
			       NULL);
	return store_op_end(&o, r);
}

int store_nodes_provision_due(struct store *s, int (*cb)(const struct bw_node *n, void *userdata), void *userdata)
{
	return each_selected(s, &model_node,
			     "SELECT id FROM nodes WHERE provision_after_ts IS NOT NULL"
			     " AND last_heartbeat >= provision_after_ts ORDER BY provision_after_ts LIMIT 512",
			     512, call_typed, &(struct each_typed){ .node = cb, .userdata = userdata });
}

int store_node_provision_set(struct store *s, int64_t node, int64_t ts, int64_t only_if)
{
	struct op o = store_op_begin(s, 1);
	sqlite3_stmt *st;
	int rc = store_prepare(s,
				    "UPDATE nodes SET provision_after_ts = ?2 WHERE id = ?1"
				    " AND (?3 = 0 OR provision_after_ts = ?3)", -1, &st);
	if (rc != SQLITE_OK)
		return store_op_end(&o, store_sql_fail(s, rc, NULL));
	sqlite3_bind_int64(st, 1, node);
	if (ts)
		sqlite3_bind_int64(st, 2, ts);
	else
		sqlite3_bind_null(st, 2);
	sqlite3_bind_int64(st, 3, only_if);
	return store_op_end(&o, store_step_done(s, st, NULL));
}

int store_ext_runs_summary(struct store *s, int64_t node, int64_t since,
			   int (*cb)(const char *extension, const char *version, const char *state, void *userdata),
			   void *userdata)
{
	struct op o = store_op_begin(s, 0);
	sqlite3_stmt *st;
	int r = 0, rc = store_prepare(s,
					   "SELECT extension, version, state FROM extension_runs WHERE id IN"
					   " (SELECT max(id) FROM extension_runs WHERE node_id = ?1 AND created_at >= ?2"
					   " GROUP BY extension)", -1, &st);
	if (rc != SQLITE_OK)
		return store_op_end(&o, store_sql_fail(s, rc, NULL));
	sqlite3_bind_int64(st, 1, node);
	sqlite3_bind_int64(st, 2, since);
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
		r = cb((const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
		       (const char *)sqlite3_column_text(st, 2), userdata);
	if (r == 0 && rc != SQLITE_DONE)
		r = store_sql_fail(s, rc, NULL);
	store_release(s, st);
	return store_op_end(&o, r);
}
