/* SPDX-License-Identifier: Apache-2.0 */
/* Private to server/store/ and its tests. */
#ifndef BW_STORE_INTERNAL_H
#define BW_STORE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <time.h>

#include "store.h"
#include "util.h"

/* A prepared statement kept for reuse (store_prepare, store_release). */
#define STORE_STMT_CACHE 48
struct stmt_slot {
	uint64_t hash, used;
	char *sql;
	size_t len;
	sqlite3_stmt *st;
	bool busy; /* handed out, not yet released */
};

/* One SQLite connection and its kept statements. */
struct conn {
	sqlite3 *db;
	struct stmt_slot stmts[STORE_STMT_CACHE];
	uint64_t stmt_tick;
};

/*
 * Two connections to the same file. Writes, and every read of a thread that
 * holds the write lock (a transaction, a write's callback) or wrote inside a
 * read still open (a list callback's write), use w under lock;
 * other reads use r under rlock, so they never wait behind a commit's fsync
 * (WAL: a reader sees the last commit, a writer does not block it). The lock
 * order is rlock then lock, never the reverse: a thread holding lock reads on
 * w. Both locks are recursive (a store_list callback may look up other rows).
 */
struct store {
	struct conn w, r;
	pthread_mutex_t lock, rlock;
	/* The thread holding lock, and how many times (guarded by lock; read
	 * unlocked only to ask "is it me?"). */
	_Atomic unsigned long w_owner;
	int w_depth;
	int64_t (*now)(void);
	pthread_mutex_t stats_lock;
	struct store_stats stats;
	/* Group commit of heartbeats (store_node_heartbeat): the queue, and
	 * whether a thread is committing a batch; hb_lock guards both. */
	pthread_mutex_t hb_lock;
	pthread_cond_t hb_cond;
	struct hb_waiter *hb_queue;
	bool hb_flushing;
};

extern const char *const store_migrations[];
extern const int store_n_migrations;

/* One locked, timed store operation (latency metrics): begin ... end. */
struct op {
	struct store *s;
	struct conn *conn, *prev;
	struct timespec t0;
	int write;
};
struct op store_op_begin(struct store *s, int write);
/* Records the latency, unlocks and returns r. */
int store_op_end(struct op *o, int r);
/* The write lock alone (store_tx_begin ... commit/rollback). */
void store_wlock(struct store *s);
void store_wunlock(struct store *s);
/* The connection of this thread's current operation on s. */
sqlite3 *store_db(struct store *s);
/* Maps a failed SQLite step to -EEXIST/-EBUSY/-EIO, filling err. */
int store_sql_fail(struct store *s, int rc, struct store_err *err);
int store_exec(struct store *s, const char *sql, struct store_err *err);
/*
 * sqlite3_prepare_v2, with the statement kept for the next call with the
 * same SQL (len < 0: up to the NUL): parsing and planning was a third of the
 * CPU of a DHCP exchange. The caller holds the lock and gives it back with
 * store_release (which also finalizes statements from anywhere else).
 * Returns an SQLite result code.
 */
int store_prepare(struct store *s, const char *sql, int len, sqlite3_stmt **ret);
void store_release(struct store *s, sqlite3_stmt *st);
/* Finalizes every kept statement (before closing the database). */
void store_stmts_clear(struct store *s);
/* Steps a statement that returns no rows, and releases it. */
int store_step_done(struct store *s, sqlite3_stmt *st, struct store_err *err);

/*
 * The row of m whose id the query sql returns first (one column; no row or
 * a NULL id: -ENOENT). fmt binds the parameters ?1.. in order: 'i' an
 * int64_t, 't' a string (NULL: SQL NULL).
 */
int store_get_one(struct store *s, const struct model *m, void *ret, const char *sql, const char *fmt, ...);

/* SQL column of a field (see lib/model.h) into buf. */
void store_column_name(const struct field *f, char *buf, size_t size);

#endif
