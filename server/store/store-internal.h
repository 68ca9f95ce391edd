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

/* SQL column of a field (see lib/model.h) into buf. */
void store_column_name(const struct field *f, char *buf, size_t size);

#endif
