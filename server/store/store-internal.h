/* SPDX-License-Identifier: Apache-2.0 */
/* Private to server/store/ and its tests. */
#ifndef BW_STORE_INTERNAL_H
#define BW_STORE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include <time.h>

#include "store.h"
#include "util.h"

struct store {
	sqlite3 *db;
	pthread_mutex_t lock;
	int64_t (*now)(void);
	struct store_stats stats;
};

extern const char *const store_migrations[];
extern const int store_n_migrations;

/* One locked, timed store operation (latency metrics): begin ... end. */
struct op {
	struct store *s;
	struct timespec t0;
	int write;
};
struct op store_op_begin(struct store *s, int write);
/* Records the latency, unlocks and returns r. */
int store_op_end(struct op *o, int r);
/* Maps a failed SQLite step to -EEXIST/-EBUSY/-EIO, filling err. */
int store_sql_fail(struct store *s, int rc, struct store_err *err);
int store_exec(struct store *s, const char *sql, struct store_err *err);
/* Steps a statement that returns no rows, and finalizes it. */
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
