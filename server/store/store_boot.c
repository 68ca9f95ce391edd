// SPDX-License-Identifier: Apache-2.0
/* Store queries of the boot services and the agent: see store.h. */
#include <stdarg.h>

#include "store-internal.h"

int store_tx_begin(struct store *s)
{
	store_wlock(s);
	if (store_exec(s, "BEGIN IMMEDIATE", NULL) < 0) {
		store_wunlock(s);
		return -EIO;
	}
	return 0;
}

int store_tx_commit(struct store *s)
{
	struct op o = store_op_begin(s, 1); /* one write "operation": the commit and its fsync */
	int r = store_exec(s, "COMMIT", NULL);
	if (r < 0)
		store_exec(s, "ROLLBACK", NULL);
	store_op_end(&o, r);
	store_wunlock(s);
	return r;
}

void store_tx_rollback(struct store *s)
{
	store_exec(s, "ROLLBACK", NULL);
	store_wunlock(s);
}

/* Prepares sql, binds text/int64 values described by fmt ('t' text, 'i' int64), steps it. */
static int run(struct store *s, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *st;
	va_list ap;
	int rc;

	if ((rc = store_prepare(s, sql, -1, &st)) != SQLITE_OK)
		return store_sql_fail(s, rc, NULL);
	va_start(ap, fmt);
	for (int i = 0; fmt[i]; i++) {
		if (fmt[i] == 't')
			sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1, SQLITE_TRANSIENT);
		else if (fmt[i] == 'b') {
			const void *p = va_arg(ap, const void *);
			sqlite3_bind_blob(st, i + 1, p, 32, SQLITE_TRANSIENT);
		} else
			sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
	}
	va_end(ap);
	return store_step_done(s, st, NULL);
}

int store_lease_put(struct store *s, const struct bw_lease *l)
{
	struct op o = store_op_begin(s, 1);
	int r = run(s, "DELETE FROM leases WHERE ip = ?1 AND mac != ?2", "tt", l->ip, l->mac);
	if (r == 0)
		r = run(s,
			"INSERT INTO leases (mac, ip, state, hostname, expires_at, updated_at)"
			" VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(mac) DO UPDATE SET ip = excluded.ip,"
			" state = excluded.state, hostname = excluded.hostname,"
			" expires_at = excluded.expires_at, updated_at = excluded.updated_at",
			"ttttii", l->mac, l->ip, l->state, l->hostname, l->expires_at, s->now());
	return store_op_end(&o, r);
}

int store_discovered_put(struct store *s, const struct bw_discovered *d)
{
	struct op o = store_op_begin(s, 1);
	int64_t now = s->now();
	int r = run(s,
		    "INSERT INTO discovered (mac, ip, arch, vendor_class, uuid, hostname, first_seen, last_seen)"
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) ON CONFLICT(mac) DO UPDATE SET"
		    " ip = CASE WHEN excluded.ip != '' THEN excluded.ip ELSE ip END,"
		    " arch = CASE WHEN excluded.arch != '' THEN excluded.arch ELSE arch END,"
		    " vendor_class = CASE WHEN excluded.vendor_class != '' THEN excluded.vendor_class"
		    " ELSE vendor_class END,"
		    " uuid = CASE WHEN excluded.uuid != '' THEN excluded.uuid ELSE uuid END,"
		    " hostname = CASE WHEN excluded.hostname != '' THEN excluded.hostname ELSE hostname END,"
		    " last_seen = excluded.last_seen",
		    "tttttti", d->mac, d->ip, d->arch, d->vendor_class, d->uuid, d->hostname, now);
	return store_op_end(&o, r);
}

int store_discovered_forget(struct store *s, const char *mac)
{
	struct op o = store_op_begin(s, 1);
	return store_op_end(&o, run(s, "DELETE FROM discovered WHERE mac = ?1", "t", mac));
}

static int copy_one(const void *obj, void *ud)
{
	memcpy(ud, obj, sizeof(struct bw_node));
	return 1;
}

int store_node_by_mac(struct store *s, const char *mac, struct bw_node *ret)
{
	struct store_filter f = { .field = model_field(&model_node, "mac"), .sval = mac };
	int r = store_list(s, &model_node, &f, 1, 0, 1, copy_one, ret, NULL);
	return r == 1 ? 0 : r < 0 ? r : -ENOENT;
}

int store_reserved_ips(struct store *s, void (*cb)(const char *ip, const char *mac, void *userdata),
		       void *userdata)
{
	sqlite3_stmt *st;
	struct op o = store_op_begin(s, 0);
	int rc;

	if ((rc = store_prepare(s, "SELECT ip_address, mac FROM nodes WHERE ip_address != ''", -1, &st)) != SQLITE_OK)
		return store_op_end(&o, store_sql_fail(s, rc, NULL));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		cb((const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1), userdata);
	store_release(s, st);
	return store_op_end(&o, rc == SQLITE_DONE ? 0 : -EIO);
}

int store_node_set_state(struct store *s, int64_t node_id, const char *state)
{
	struct op o = store_op_begin(s, 1);
	int r = run(s, "UPDATE nodes SET state = ?1, updated_at = ?2 WHERE id = ?3", "tii", state, s->now(),
		    node_id);
	if (r == 0 && sqlite3_changes(store_db(s)) == 0)
		r = -ENOENT;
	return store_op_end(&o, r);
}

int store_event_add(struct store *s, int64_t node_id, int64_t rollout_id, const char *kind, const char *fmt, ...)
{
	char msg[DESC_LEN];
	sqlite3_stmt *st;
	va_list ap;
	struct op o;
	int rc;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o = store_op_begin(s, 1);
	if ((rc = store_prepare(s,
				     "INSERT INTO events (ts, node_id, rollout_id, kind, message)"
				     " VALUES (?1, ?2, ?3, ?4, ?5)", -1, &st)) != SQLITE_OK)
		return store_op_end(&o, store_sql_fail(s, rc, NULL));
	sqlite3_bind_int64(st, 1, s->now());
	if (node_id)
		sqlite3_bind_int64(st, 2, node_id);
	if (rollout_id)
		sqlite3_bind_int64(st, 3, rollout_id);
	sqlite3_bind_text(st, 4, kind, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 5, msg, -1, SQLITE_TRANSIENT);
	return store_op_end(&o, store_step_done(s, st, NULL));
}

int store_agent_token_add(struct store *s, int64_t node_id, const char *purpose, int64_t task_id,
			  const uint8_t hash[32], int64_t expires_at)
{
	struct op o = store_op_begin(s, 1);
	int r = store_exec(s, "SAVEPOINT agent_token", NULL);
	if (r == 0)
		r = run(s, "DELETE FROM agent_tokens WHERE node_id = ?1 AND purpose = ?2", "it", node_id, purpose);
	if (r == 0)
		r = run(s,
			"INSERT INTO agent_tokens (node_id, hash, purpose, created_at, expires_at, task_id)"
			" VALUES (?1, ?2, ?3, ?4, ?5, nullif(?6, 0))",
			"ibtiii", node_id, hash, purpose, s->now(), expires_at, task_id);
	store_exec(s, r == 0 ? "RELEASE agent_token" : "ROLLBACK TO agent_token; RELEASE agent_token", NULL);
	return store_op_end(&o, r);
}

int store_agent_token_use(struct store *s, const uint8_t hash[32], const char *purpose, int64_t *ret_node,
			  int64_t *ret_task)
{
	struct op o = store_op_begin(s, 1);
	sqlite3_stmt *st = NULL;
	int64_t now = s->now(), node = 0, task = 0;
	bool first = false;
	int rc, r = -EACCES;

	/*
	 * A read, and a write only at the first use: a heartbeat token is used
	 * every interval for a whole boot, and an UPDATE that changes nothing
	 * would still cost a commit (an fsync) each time.
	 */
	rc = store_prepare(s,
			   "SELECT node_id, coalesce(task_id, 0), used_at IS NULL FROM agent_tokens WHERE hash = ?2"
			   " AND purpose = ?3 AND expires_at > ?1", -1, &st);
	if (rc != SQLITE_OK)
		return store_op_end(&o, store_sql_fail(s, rc, NULL));
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_blob(st, 2, hash, 32, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, purpose, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		node = sqlite3_column_int64(st, 0);
		task = sqlite3_column_int64(st, 1);
		first = sqlite3_column_int(st, 2) != 0;
		r = 0;
		rc = sqlite3_step(st);
	}
	if (rc != SQLITE_DONE)
		r = store_sql_fail(s, rc, NULL);
	store_release(s, st);
	if (r == 0 && first)
		r = run(s, "UPDATE agent_tokens SET used_at = ?1 WHERE hash = ?2 AND used_at IS NULL", "ib", now, hash);
	if (r == 0) {
		*ret_node = node;
		if (ret_task)
			*ret_task = task;
	}
	return store_op_end(&o, r);
}

/* A heartbeat waiting for its commit, on its caller's stack (store_node_heartbeat). */
struct hb_waiter {
	int64_t node, ts;
	const char *health;
	int rc;
	bool done;
	struct hb_waiter *next;
};

/* Writes a batch of heartbeats in one transaction; its result is every one's. */
static int hb_commit(struct store *s, const struct hb_waiter *batch)
{
	int r;

	if (store_tx_begin(s) < 0)
		return -EIO;
	r = 0;
	for (const struct hb_waiter *w = batch; w && r == 0; w = w->next)
		r = run(s, "UPDATE nodes SET health = ?1, last_heartbeat = ?2, updated_at = ?3 WHERE id = ?4", "tiii",
			w->health, w->ts, s->now(), w->node);
	if (r < 0) {
		store_tx_rollback(s);
		return r;
	}
	return store_tx_commit(s);
}

int store_node_heartbeat(struct store *s, int64_t node_id, const char *health, int64_t ts)
{
	struct hb_waiter me = { .node = node_id, .ts = ts, .health = health };

	pthread_mutex_lock(&s->hb_lock);
	me.next = s->hb_queue;
	s->hb_queue = &me;
	while (!me.done) {
		struct hb_waiter *batch, *next;
		int rc;

		if (s->hb_flushing) {
			pthread_cond_wait(&s->hb_cond, &s->hb_lock);
			continue;
		}
		/* No commit running: this thread commits everything queued, its own included. */
		batch = s->hb_queue;
		s->hb_queue = NULL;
		s->hb_flushing = true;
		pthread_mutex_unlock(&s->hb_lock);
		rc = hb_commit(s, batch);
		pthread_mutex_lock(&s->hb_lock);
		for (struct hb_waiter *w = batch; w; w = next) {
			next = w->next; /* w belongs to its thread once done */
			w->rc = rc;
			w->done = true;
		}
		s->hb_flushing = false;
		pthread_cond_broadcast(&s->hb_cond);
	}
	pthread_mutex_unlock(&s->hb_lock);
	return me.rc;
}

int store_agent_token_drop(struct store *s, int64_t node_id, const char *purpose)
{
	struct op o = store_op_begin(s, 1);
	return store_op_end(&o, run(s, "DELETE FROM agent_tokens WHERE node_id = ?1 AND purpose = ?2", "it", node_id,
				    purpose));
}

int store_task_create(struct store *s, struct bw_task *t, struct store_err *err)
{
	struct op o = store_op_begin(s, 1);
	int r = store_exec(s, "SAVEPOINT task_create", err);
	if (r == 0)
		r = run(s,
			"UPDATE tasks SET state = 'cancelled', reason = 'replaced by a newer task', finished_at = ?2,"
			" updated_at = ?2 WHERE node_id = ?1 AND state IN ('pending', 'running')",
			"ii", t->node, s->now());
	if (r == 0)
		r = store_insert(s, &model_task, t, err);
	store_exec(s, r == 0 ? "RELEASE task_create" : "ROLLBACK TO task_create; RELEASE task_create", NULL);
	return store_op_end(&o, r);
}

int store_task_open(struct store *s, int64_t node_id, struct bw_task *ret)
{
	return store_get_one(s, &model_task, ret,
			     "SELECT id FROM tasks WHERE node_id = ?1 AND state IN ('pending', 'running')"
			     " ORDER BY id DESC LIMIT 1",
			     "i", node_id);
}

int store_task_latest(struct store *s, int64_t node_id, int64_t since, struct bw_task *ret)
{
	return store_get_one(s, &model_task, ret,
			     "SELECT id FROM tasks WHERE node_id = ?1 AND created_at >= ?2 ORDER BY id DESC LIMIT 1", "ii",
			     node_id, since);
}

int store_tasks_cancel(struct store *s, int64_t node_id, const char *reason)
{
	struct op o = store_op_begin(s, 1);
	int r = run(s,
		    "UPDATE tasks SET state = 'cancelled', reason = ?3, finished_at = ?2, updated_at = ?2"
		    " WHERE node_id = ?1 AND state IN ('pending', 'running')",
		    "iit", node_id, s->now(), reason);
	return store_op_end(&o, r);
}
