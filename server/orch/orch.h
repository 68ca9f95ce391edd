/* SPDX-License-Identifier: Apache-2.0 */
/*
 * orch: rolling OS image upgrades of pools (DESIGN.md, "Orchestrator
 * semantics"), as a persistent state machine in the store.
 *
 * A rollout moves a pool to one image version, batch by batch as the
 * planner (planner.h) decides. Each node of a batch goes
 *   powering -> imaging -> booting -> waiting-for-health
 *            [-> running-extensions] -> succeeded
 * or, when it is not healthy within health_timeout after its image was
 * written (or not written within reimage_timeout), to failed; with
 * auto_rollback and a previous slot, rolling-back -> rolled-back or
 * rollback-failed. Nodes already on the target are skipped.
 *
 * Every step is written to the store (one transaction per rollout and step)
 * before it is acted on, and the actions (reimage, rollback) are idempotent:
 * after a crash the next step re-issues the action of every node whose
 * action may not have happened, so a restart resumes the rollout with every
 * rule kept.
 *
 * Time, BMCs and nodes reach the orchestrator through struct orch_env, so
 * the same code runs in bootwaved (orch_env_real.c: store, agent tasks,
 * BMC pool) and under a virtual clock with simulated nodes (the tests).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "store.h"

enum orch_phase {
	PH_PENDING,
	PH_SKIPPED,
	PH_POWERING,
	PH_IMAGING,
	PH_BOOTING,
	PH_WAITING_HEALTH,
	PH_RUNNING_EXTENSIONS,
	PH_SUCCEEDED,
	PH_FAILED,
	PH_ROLLING_BACK,
	PH_ROLLED_BACK,
	PH_ROLLBACK_FAILED,
	PH_N,
};

const char *orch_phase_name(enum orch_phase p);
/* PH_N if name is none. */
enum orch_phase orch_phase_parse(const char *name);
/* Being worked on (powering .. running-extensions, rolling-back). */
bool orch_phase_inflight(enum orch_phase p);

/* What the reimage task started for a node in this rollout has come to. */
enum orch_task { OT_NONE, OT_QUEUED, OT_WRITING, OT_WRITTEN, OT_FAILED };
/* The last heartbeat; UNKNOWN when there is none or it is older than heartbeat_timeout. */
enum orch_hb { OHB_UNKNOWN, OHB_INITIALIZING, OHB_HEALTHY, OHB_UNHEALTHY };
/* Extensions and probe: none configured, not finished, passed, failed. */
enum orch_check { OC_NONE, OC_PENDING, OC_PASSED, OC_FAILED };

struct orch_obs {
	enum orch_task task;
	char task_reason[DESC_LEN];
	bool power_known, power_on; /* from the BMC */
	bool critical_sel;          /* a new critical SEL entry since the node's upgrade began */
	enum orch_hb hb;
	int64_t hb_at;              /* when the last heartbeat came */
	int64_t image;              /* what the heartbeats come from */
	char version[VERSION_MAX_LEN + 1];
	enum orch_check extensions, probe;
	char probe_why[160]; /* what the probe last said when it failed */
};

/*
 * One node, as the orchestrator asks about it or acts on it.
 *
 * In a rollout of an extension (extension != NULL) the same calls mean:
 * reimage: run extension@version on the node (one run, queued);
 * rollback: run extension@version (the previous one) again;
 * observe: task is the state of the last run of extension@version since
 * `since` (queued/running: OT_WRITING, succeeded: OT_WRITTEN, failed:
 * OT_FAILED); image is q->image and version the version of the extension
 * the node last ran successfully ("" if none); extensions is OC_NONE.
 */
struct orch_req {
	const struct bw_pool *pool;
	int64_t rollout, node;
	const char *name;
	int64_t since;        /* observe: when the node's upgrade began (its task is not older) */
	int64_t image;        /* reimage: the target; rollback: the previous image */
	const char *version;
	const char *slot;     /* rollback: the slot to boot again */
	const char *extension; /* a rollout of this extension, or NULL */
};

struct orch_env {
	void *ctx;
	int64_t (*now)(void *ctx); /* seconds */
	void (*observe)(void *ctx, const struct orch_req *q, struct orch_obs *ret);
	/* Reimage q->node to q->image@q->version: an agent task, boot from the network, power cycle.
	 * Idempotent: a task already open for this target since q->since is reused. */
	int (*reimage)(void *ctx, const struct orch_req *q, char *err, size_t size);
	/* Boot q->node from q->slot (q->image@q->version) again: boot target, power cycle. Idempotent. */
	int (*rollback)(void *ctx, const struct orch_req *q, char *err, size_t size);
};

struct orch_config {
	int64_t reimage_timeout;   /* seconds from the power cycle to the image written (default 1800) */
	int64_t quarantine_after;  /* reimages failed in a row (default 3; 0: never) */
	int64_t rollout_timeout;   /* seconds: a rollout not finished by then stops between batches,
				    * Faulted RollingUpgradeTimeout (0: never) */
	int64_t ext_retry_interval; /* seconds before an extension upgrade that failed is tried again
				     * automatically (default 3 days) */
};

struct orch_err {
	int status;          /* HTTP status for the API */
	char code[32];
	char field[32];
	char message[256];
};

struct orch;

int orch_new(struct store *s, const struct orch_env *env, const struct orch_config *cfg, struct orch **ret);
void orch_free(struct orch *o);

/*
 * Starts a rollout of pool to version (NULL: the pool's image_version,
 * "latest" resolved now); started_by "platform" or "user" (by_name: the
 * token). Refused: a rollout already rolling forward (409 rollout_running),
 * an unknown or excluded version (422/409), nothing to do is not refused
 * (the rollout completes at its first step).
 */
int orch_start(struct orch *o, int64_t pool, const char *version, const char *started_by, const char *by_name,
	       struct bw_rollout *ret, struct orch_err *err);
/* Asks the pool's running rollout to stop after its current batch (409 nothing_running if none). */
int orch_cancel(struct orch *o, int64_t pool, struct bw_rollout *ret, struct orch_err *err);
/*
 * Version of image was published (or made a candidate for latest again):
 * when it is now latest, starts a rollout (started by "platform") on every
 * pool following latest with auto_upgrade that has none rolling forward; a
 * pool whose automatic rollout rolls forward gets the next one when that
 * one completes.
 * Returns how many started.
 */
int orch_published(struct orch *o, int64_t image, const char *version);

/*
 * Starts a rollout of one extension of pool to version (same major as the
 * pool's, or any with by a user). Refused: the pool does not run it (404),
 * no such version (404), the pool's rollout running (409).
 */
int orch_start_extension(struct orch *o, int64_t pool, const char *extension, const char *version,
			 const char *started_by, const char *by_name, struct bw_rollout *ret, struct orch_err *err);
/*
 * Automatic extension upgrades (DESIGN.md, "Extensions"): for every pool
 * extension with auto_upgrade, the newest version of the same major above
 * the pool's rolls out (started by "platform") when the pool has no
 * rollout rolling forward, unless it is the one that failed and its
 * retry_after has not come. One extension at a time per pool; one that
 * failed does not hold the others. Also run by orch_step every 30 s, and
 * when a version is published.
 * Returns how many started.
 */
int orch_ext_check(struct orch *o);

/* One step of every rollout rolling forward; returns how many still roll forward, or -errno. */
int orch_step(struct orch *o);

/* A rollout as the API shows it: fields, counts, ETA; with_nodes adds every node's phase. */
json_t *orch_rollout_json(struct orch *o, const struct bw_rollout *r, bool with_nodes);

/* Counts of a rollout's nodes by phase. */
struct orch_counts {
	int64_t phase[PH_N];
	int64_t successful, failed, in_progress, pending, skipped, rolled_back, rollback_failed;
};
int orch_counts(struct orch *o, int64_t rollout, struct orch_counts *ret);
