/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store: bootwaved's persistent state in SQLite (WAL, foreign keys on,
 * schema versioned by PRAGMA user_version with forward migrations). All SQL
 * of the project lives in server/store/; everything else calls the typed
 * functions below.
 *
 * A store handle is safe to share between threads: calls are serialised on
 * one connection. Every write is one statement or one transaction, so a
 * failed call leaves the database exactly as it was.
 *
 * Errors: 0 on success, or a negative errno:
 *   -ENOENT  no such row
 *   -EEXIST  a unique field is taken (err->field names it)
 *   -EBUSY   the row is still referenced (delete), or a reference is gone
 *   -EIO     SQLite failed (err->message says how)
 */
#ifndef BW_STORE_H
#define BW_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"

struct store;

struct store_err {
	char field[64];     /* field at fault, or "" */
	char message[256];  /* human text */
};

/*
 * Opens (creating if needed) the database at path and migrates it to the
 * current schema. A database written by a newer bootwaved is refused with
 * -EPROTO. On failure err->message says why.
 */
int store_open(const char *path, struct store **ret, struct store_err *err);
/* Closes the handle (NULL is fine). */
void store_close(struct store *s);
/* Schema version of the open database. */
int store_schema_version(struct store *s);
/* Latest schema version this build knows. */
int store_schema_latest(void);

/* Clock for created_at/updated_at and token use; NULL restores time(). */
void store_set_clock(struct store *s, int64_t (*now)(void));

/* ---- Generic rows of any model (lib/model.h) ---- */

/*
 * Inserts obj (its id is ignored). Its created_at/updated_at are set to now
 * before the insert; on success its id is the new row's.
 */
int store_insert(struct store *s, const struct model *m, void *obj, struct store_err *err);
int store_get(struct store *s, const struct model *m, int64_t id, void *ret);
/* Row whose key field equals key, within parent (the model's parent id) if the model has one. */
int store_get_by_key(struct store *s, const struct model *m, int64_t parent, const char *key, void *ret);
/* Key (e.g. name) of row id into buf[size]. */
int store_key_of(struct store *s, const struct model *m, int64_t id, char *buf, size_t size);

/* Equality filter on a field: ival for integer, bool and ref fields, sval for strings. */
struct store_filter {
	const struct field *field;
	int64_t ival;
	const char *sval;
};

/*
 * Called once per row, with the store still locked by this thread: it may
 * call other store functions. A non-zero return stops the listing and is
 * returned.
 */
typedef int (*store_row_cb)(const void *obj, void *userdata);

/*
 * Rows with id > after matching every filter, in id order, at most limit of
 * them (limit <= 0: all). *ret_more (may be NULL) tells whether more follow.
 */
int store_list(struct store *s, const struct model *m, const struct store_filter *filters,
	       size_t n_filters, int64_t after, int limit, store_row_cb cb, void *userdata,
	       bool *ret_more);

/*
 * Writes the fields of obj selected by mask (indexed like m->fields; NULL:
 * every field that is not read-only) to row obj->id, and bumps updated_at.
 */
int store_update(struct store *s, const struct model *m, void *obj, const bool *mask,
		 struct store_err *err);
/* Deletes row id; -EBUSY if something still refers to it. */
int store_delete(struct store *s, const struct model *m, int64_t id, struct store_err *err);

/* ---- API tokens ---- */

/* Inserts tok with the SHA-256 of its secret. */
int store_token_create(struct store *s, struct bw_token *tok, const uint8_t hash[32],
		       struct store_err *err);
/* Token whose secret hashes to hash; -ENOENT if none. */
int store_token_by_hash(struct store *s, const uint8_t hash[32], struct bw_token *ret);
/* Records a use at most once a minute per token, so reads stay cheap. */
int store_token_touch(struct store *s, const struct bw_token *tok);
int store_token_count(struct store *s, int64_t *ret);

/* ---- Image versions ---- */

/*
 * Publishes version v atomically: inside one transaction the row is inserted,
 * then commit(userdata) runs (it moves the artifact into place); the
 * transaction commits only if commit returns 0. -EEXIST if the version exists.
 * v's id and timestamps are written even when the transaction rolls back.
 */
int store_version_publish(struct store *s, struct bw_image_version *v, int (*commit)(void *userdata),
			  void *userdata, struct store_err *err);
/* The highest published version of image that is not excluded from latest. */
int store_version_latest(struct store *s, int64_t image_id, struct bw_image_version *ret);
/* Name of a pool pinned to image_id@version into pool[size], or -ENOENT if none. */
int store_version_pinned_by(struct store *s, int64_t image_id, const char *version, char *pool,
			    size_t size);

/* ---- Metrics ---- */

typedef void (*store_count_cb)(const char *label, int64_t count, void *userdata);
int store_count_nodes_by_state(struct store *s, store_count_cb cb, void *userdata);

#define STORE_LAT_BUCKETS 12
extern const double store_lat_bounds[STORE_LAT_BUCKETS]; /* seconds, upper bounds */
struct store_stats {
	uint64_t count[2];                        /* [0] reads, [1] writes */
	uint64_t bucket[2][STORE_LAT_BUCKETS + 1]; /* last one: +Inf */
	double sum[2];                             /* seconds */
	uint64_t errors;
};
void store_get_stats(struct store *s, struct store_stats *ret);


/* ---- Boot services (store_boot.c) ---- */

/*
 * A transaction spanning several calls of this thread (the DHCP server's
 * group commit: many leases, one fsync). Other threads wait until commit.
 */
int store_tx_begin(struct store *s);
/* Commits; on failure rolls back and returns -EIO. Ends the transaction either way. */
int store_tx_commit(struct store *s);
void store_tx_rollback(struct store *s);

/* Inserts or replaces the lease of l->mac; a lease of another MAC on l->ip is dropped. */
int store_lease_put(struct store *s, const struct bw_lease *l);
/* Inserts or refreshes a discovered machine (first_seen is kept). */
int store_discovered_put(struct store *s, const struct bw_discovered *d);
int store_discovered_forget(struct store *s, const char *mac);
/* The enrolled node with this MAC; -ENOENT if none. */
int store_node_by_mac(struct store *s, const char *mac, struct bw_node *ret);
/* Calls cb(ip, mac) for every node with a reserved address (cb must not call the store). */
int store_reserved_ips(struct store *s, void (*cb)(const char *ip, const char *mac, void *userdata),
		       void *userdata);
/* Sets a node's lifecycle state (read-only to the API). */
int store_node_set_state(struct store *s, int64_t node_id, const char *state);

/* Appends to a node's history. */
int store_event_add(struct store *s, int64_t node_id, int64_t rollout_id, const char *kind,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/*
 * Agent tokens (only their hash is kept): purpose "reimage" is the one-time
 * token of one task (task_id), "heartbeat" the token of one boot of the
 * installed OS. Adding one for a node and purpose drops its earlier ones of
 * that purpose.
 */
int store_agent_token_add(struct store *s, int64_t node_id, const char *purpose, int64_t task_id,
			  const uint8_t hash[32], int64_t expires_at);
/*
 * Checks a token hash for purpose, unexpired, records its first use, and
 * returns the node and task (0 if none) it was minted for. -EACCES if it is
 * not valid.
 */
int store_agent_token_use(struct store *s, const uint8_t hash[32], const char *purpose, int64_t *ret_node,
			  int64_t *ret_task);
/*
 * Records a heartbeat that changes nothing but the time: the node's health
 * (the same state again), last_heartbeat = ts and updated_at. Returns once
 * it is committed; heartbeats that come while a commit runs share the next
 * one (one transaction, one fsync), so a fleet's heartbeats cost a commit
 * per batch, not per node. health is borrowed until it returns.
 */
int store_node_heartbeat(struct store *s, int64_t node_id, const char *health, int64_t ts);
/* Ends the tokens of a node and purpose (a task's token once it is finished). */
int store_agent_token_drop(struct store *s, int64_t node_id, const char *purpose);

/* The newest pending or running task of a node; -ENOENT if none. */
int store_task_open(struct store *s, int64_t node_id, struct bw_task *ret);
/* The newest task of a node created at or after since; -ENOENT if none. */
int store_task_latest(struct store *s, int64_t node_id, int64_t since, struct bw_task *ret);
/* Cancels a node's unfinished tasks, saying why. */
int store_tasks_cancel(struct store *s, int64_t node_id, const char *reason);
/* Inserts task t for its node (id set on success), cancelling the node's unfinished tasks. */
int store_task_create(struct store *s, struct bw_task *t, struct store_err *err);

/* ---- orchestrator (server/orch/orch.h): rollouts and their nodes ---- */

struct bw_rollout {
	int64_t id, pool, image;
	char version[VERSION_MAX_LEN + 1]; /* of the image, or of the extension */
	char extension[NAME_MAX_LEN + 1];  /* a rollout of this extension of the pool; "": of the OS image */
	char status[24];       /* RollingForward | Cancelled | Completed | Faulted */
	char error_code[72];   /* the rule that stopped it, or "" */
	char message[256];
	char started_by[16];   /* platform | user */
	char started_by_name[NAME_MAX_LEN + 1]; /* the token, for a user */
	bool cancel_requested;
	int64_t batches;          /* batches started */
	int64_t batch_started_at; /* of the current or last batch */
	int64_t batch_done_at;    /* when the last batch finished (0: never) */
	int64_t batch_seconds;    /* sum of finished batches' durations (ETA) */
	int64_t started_at, completed_at;
	bool canary_done;         /* the canary batches ran (pool.canary) */
	int64_t bake_until;       /* no batch before this (canary bake) */
};

struct bw_rollout_node {
	int64_t rollout, node;
	char name[NAME_MAX_LEN + 1]; /* read only: the node's name */
	char phase[24];
	int64_t batch, phase_at, started_at, written_at, finished_at;
	char prev_slot[8];
	int64_t prev_image;
	char prev_version[VERSION_MAX_LEN + 1];
	char reason[256];
};

/* A pool's node as the orchestrator plans with it. */
struct bw_member {
	int64_t id;
	char name[NAME_MAX_LEN + 1];
	int64_t zone;          /* 0: none */
	int64_t update_domain;
	int64_t fault_domain;  /* the node's, else its rack's; -1: none */
	bool quarantined, maintenance;
	int64_t reimage_failures;
	int64_t installed_image;
	char installed_version[VERSION_MAX_LEN + 1];
	char active_slot[8];
	char hw_model[64];
	int64_t site;          /* of its zone; 0: none */
	int64_t paired_site;   /* the site paired with it; 0: none */
};

/* Inserts r (id set); -EEXIST if the pool already has one rolling forward. */
int store_rollout_insert(struct store *s, struct bw_rollout *r);
/* Writes every mutable field of r. */
int store_rollout_update(struct store *s, const struct bw_rollout *r);
int store_rollout_get(struct store *s, int64_t id, struct bw_rollout *ret);
/* The pool's rollout rolling forward; -ENOENT if none. */
int store_rollout_running(struct store *s, int64_t pool, struct bw_rollout *ret);
/* Rollouts of a pool (0: all pools), newest first, started at or after since, at most limit (0: all). */
int store_rollout_list(struct store *s, int64_t pool, int64_t since, int64_t limit,
		       int (*cb)(const struct bw_rollout *r, void *userdata), void *userdata);
/* Inserts or replaces a node's row in a rollout. */
int store_rollout_node_put(struct store *s, const struct bw_rollout_node *n);
int store_rollout_nodes(struct store *s, int64_t rollout, int (*cb)(const struct bw_rollout_node *n, void *userdata),
			void *userdata);
/* The nodes of a pool, in id order. */
int store_pool_members(struct store *s, int64_t pool, int (*cb)(const struct bw_member *m, void *userdata),
		       void *userdata);
/* A node's failed-in-a-row count and quarantine flag. */
int store_node_set_failures(struct store *s, int64_t node, int64_t failures, bool quarantined);
/* The ids of pools that follow "latest" of image with auto_upgrade on. */
int store_pools_following(struct store *s, int64_t image, int (*cb)(int64_t pool, void *userdata), void *userdata);

/* ---- extensions: catalog (store_ext.c) ---- */

/*
 * Publishes extension version v atomically: inside one transaction the row
 * is inserted, then commit(userdata) runs (it renames the bundle into
 * place); the transaction commits only if commit returns 0. -EEXIST if the
 * version exists. v's id and timestamps are written even on a rollback.
 */
int store_ext_version_publish(struct store *s, struct bw_extension_version *v, int (*commit)(void *userdata),
			      void *userdata, struct store_err *err);
/*
 * A pool whose pool_extensions row names extension name at version into
 * pool[size]: one that runs it if any (*ret_previous false), else one that
 * keeps it as previous_version to roll back to (*ret_previous true; may be
 * NULL). -ENOENT if none.
 */
int store_ext_version_used_by(struct store *s, const char *name, const char *version, char *pool, size_t size,
			      bool *ret_previous);
/* How many versions extension_id has, and the oldest one's into first[size] ("" if none). */
int store_ext_version_count(struct store *s, int64_t extension_id, int64_t *ret_n, char *first, size_t size);
/* A pool that lists extension name (pool_extensions) into pool[size]; -ENOENT if none. */
int store_ext_used_by_pool(struct store *s, const char *name, char *pool, size_t size);

/* ---- extensions: runs (store_extrun.c) ---- */

/* The extensions of a pool, in id order, at most max (-E2BIG past it). */
int store_pool_extensions(struct store *s, int64_t pool, struct bw_pool_extension *ret, size_t max, size_t *ret_n);
/* 1 if the pool runs any extension, 0 if not. */
int store_pool_has_extensions(struct store *s, int64_t pool);
/* Ends a run: its state, exit_status, error, byte counts and truncated, with the output kept (copied). */
int store_ext_run_finish(struct store *s, const struct bw_ext_run *run, const void *out, size_t out_len,
			 const void *err, size_t err_len);
/* The output kept of run id, NUL-terminated (also binary); caller frees both. */
int store_ext_run_output(struct store *s, int64_t id, char **ret_out, size_t *ret_out_len, char **ret_err,
			 size_t *ret_err_len);
/*
 * The last run of extension on node created at or after since, of version
 * and in state when not NULL; -ENOENT if none.
 */
int store_ext_run_find(struct store *s, int64_t node, const char *extension, const char *version, const char *state,
		       int64_t since, struct bw_ext_run *ret);
/* Runs queued or running, oldest first (at most 256 per call). */
int store_ext_runs_open(struct store *s, int (*cb)(const struct bw_ext_run *run, void *userdata), void *userdata);
/*
 * After a restart: single runs left running go back to the queue (a run is
 * idempotent by contract); provisioning runs end failed, "interrupted", as
 * the node's whole provisioning runs again.
 */
int store_ext_runs_requeue(struct store *s);
/* For each extension run on node since then, its last run. */
int store_ext_runs_summary(struct store *s, int64_t node, int64_t since,
			   int (*cb)(const char *extension, const char *version, const char *state, void *userdata),
			   void *userdata);
/* Nodes whose extensions must run again and whose OS has sent a heartbeat since (at most 512 per call). */
int store_nodes_provision_due(struct store *s, int (*cb)(const struct bw_node *n, void *userdata), void *userdata);
/* Sets a node's provision_after_ts to ts (0: clears it), only if it is only_if (0: whatever it is). */
int store_node_provision_set(struct store *s, int64_t node, int64_t ts, int64_t only_if);

/* ---- Custom data and metadata (store_meta.c) ---- */

/* Who a custom-data blob belongs to: a pool or a node (by id). */
enum store_owner {
	STORE_OWNER_POOL,
	STORE_OWNER_NODE,
};

/*
 * The custom data of a pool or node: *ret_data is a new buffer of *ret_len
 * bytes (one more is allocated, so it is never NULL) that the caller frees.
 * -ENOENT if it has none, -ENOMEM.
 */
int store_custom_data_get(struct store *s, enum store_owner owner, int64_t id, uint8_t **ret_data,
			  size_t *ret_len);
/*
 * Sets (inserts or replaces) the custom data of a pool or node to a copy of
 * data[len]; the caller keeps data. -ENOENT if the pool or node does not
 * exist (checked in the same statement). Size limits are the caller's.
 */
int store_custom_data_put(struct store *s, enum store_owner owner, int64_t id, const void *data, size_t len);
/* Clears it; -ENOENT if there was none. */
int store_custom_data_delete(struct store *s, enum store_owner owner, int64_t id);
/*
 * The id of the newest succeeded reimage task of node that wrote slot
 * ("a" or "b"): what that slot holds. -ENOENT if none (an OS installed
 * before bootwave, or no reimage yet).
 */
int store_slot_task(struct store *s, int64_t node_id, const char *slot, int64_t *ret_task);

#endif
