/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A simulated world for the orchestrator (server/orch/orch.h): struct
 * orch_env over N simulated nodes under a virtual clock (testutil.h's
 * fake_now, which is also the store's clock). The real store holds the
 * orchestrator's state; the world only mirrors into the nodes' rows what
 * bootwaved would write there: a Healthy heartbeat from a freshly written
 * (pending) slot commits it (installed_image, installed_version,
 * active_slot, as routes_agent.c's heartbeat handler does), and a rollback
 * points the row back at the previous slot (as orch_env.c does).
 *
 * Each node has two slots, a committed (active) one, and the OS it runs.
 * A reimage action opens a task (QUEUED), power cycles the node, the agent
 * writes (WRITING) the other slot (WRITTEN, or FAILED), the node boots it
 * (pending) and heartbeats Initializing then Healthy or not, every
 * SIM_HB seconds. A rollback boots the previous slot again. How a node
 * behaves is a set of SB_ flags; timings are drawn from a seeded PRNG.
 *
 * Everything a node does is written down as times when the action is
 * taken, so observe() is a pure O(1) function of the clock; the only
 * state changes between actions (a boot, a commit) are applied by
 * world_sync(), which walks only the nodes that have something scheduled.
 *
 * A node also has a hardware model (the store's hw_model, "hw<k>", for
 * the canary batches) and a pool: world_move() moves it to another pool
 * as an operator would (store_update of its pool), whatever it is doing;
 * the world goes on simulating it.
 *
 * Header only; include after cmocka.h and testutil.h.
 */
#ifndef BW_ORCH_SIMWORLD_H
#define BW_ORCH_SIMWORLD_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "orch.h"
#include "store.h"
#include "util.h"

#define SIM_HB 10          /* heartbeat interval (s) */
#define SIM_FLAP_HALF 150  /* a flapping node is Healthy this long, then Unhealthy as long */
#define SIM_MAX_VER 16
#define SIM_NEVER INT64_MAX

/* Behaviours; one or several per node. */
enum {
	SB_SLOW = 1 << 0,       /* slow to write and to boot, but within the timeouts */
	SB_NEVER = 1 << 1,      /* Unhealthy on every version but the one it started on */
	SB_FLAP = 1 << 2,       /* Healthy and Unhealthy by turns, every SIM_FLAP_HALF s, on any version */
	SB_BMC_ERR = 1 << 3,    /* one BMC call in two (reimage or rollback) returns an error */
	SB_SILENT = 1 << 4,     /* the power cycle does nothing: the image is never written */
	SB_AGENT_FAIL = 1 << 5, /* the agent fails every task (FAILED), the node boots its old slot */
	SB_FALLBACK = 1 << 6,   /* the image is written, but the firmware boots the old slot (Healthy, old version) */
};

struct sim_node {
	int64_t id;
	int64_t zone;  /* store id of its zone (0: none) */
	int64_t pool;  /* store id of its pool */
	int ud, fd;    /* update and fault domain (fd < 0: none) */
	int model;     /* hardware model "hw<model>" (-1: none, "") */
	unsigned flags;
	int first_ver; /* the version it started on */
	int bad_ver;   /* Unhealthy while it runs this version (-1: none) */
	int64_t break_at; /* its first version turns Unhealthy from then on (SIM_NEVER: never) */
	int64_t flap_off; /* phase of its flapping */
	bool down;     /* dead hardware: powered off for good, no heartbeat */
	/* the disk */
	int slot_ver[2]; /* version in slot a, b (-1: empty) */
	int active;      /* committed slot, the store's active_slot (-1: none) */
	/* the OS it runs, or ran last */
	bool os_on, pending;
	int run_slot, run_ver;
	int64_t ready_at, init_for; /* first heartbeat; Initializing for init_for after it */
	int64_t off_hb_at;          /* the last heartbeat before it went off (0: none) */
	enum orch_hb off_hb;
	int off_ver;
	/* its last reimage task */
	bool task, task_ok;
	int task_ver;
	int64_t task_at, writing_at, done_at;
	/* a boot to come */
	int64_t boot_at; /* 0: none */
	int boot_slot;
	bool boot_pending;
	int write_slot;  /* the slot the agent writes (-1: none) */
	/* bookkeeping */
	int64_t synced;   /* heartbeats up to this time are handled */
	bool listed;      /* in the world's list of nodes with something scheduled */
	bool dirty;       /* its store row needs the mirror */
	int64_t reimaged_in, rolled_back_in; /* the last rollout that asked for either */
	uint64_t reimage_calls, rollback_calls, commits;
};

struct world {
	struct store *s;
	int64_t image;
	char ver[SIM_MAX_VER][16];
	int n_ver;
	struct sim_node *nodes;
	size_t n;
	int64_t id0; /* nodes[i].id == id0 + i */
	size_t *list; /* nodes with a boot or a commit to come */
	size_t n_list;
	uint64_t rng;
	uint64_t reimage_calls, rollback_calls, bmc_errors, commits;
};

/* ---- the PRNG (splitmix64): one seed, one run ---- */

static inline uint64_t sim_rand(struct world *w)
{
	uint64_t z = (w->rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static inline int64_t sim_range(struct world *w, int64_t lo, int64_t hi)
{
	return lo + (int64_t)(sim_rand(w) % (uint64_t)(hi - lo + 1));
}

/* True with probability permille / 1000. */
static inline bool sim_chance(struct world *w, unsigned permille) { return sim_rand(w) % 1000 < permille; }

/* ---- lookups ---- */

static inline struct sim_node *world_node(struct world *w, int64_t id)
{
	assert_true(id >= w->id0 && (size_t)(id - w->id0) < w->n);
	struct sim_node *n = &w->nodes[id - w->id0];
	assert_int_equal(n->id, id);
	return n;
}

static inline int world_ver(const struct world *w, const char *v)
{
	for (int i = 0; i < w->n_ver; i++)
		if (str_eq(w->ver[i], v))
			return i;
	return -1;
}

static inline int slot_of(const char *s) { return str_eq(s, "a") ? 0 : str_eq(s, "b") ? 1 : -1; }
static inline const char *slot_name(int slot) { return slot == 0 ? "a" : slot == 1 ? "b" : "none"; }

/* ---- what a node reports ---- */

/* The state of a heartbeat sent at t by the OS of n running ver. */
static inline enum orch_hb sim_health(const struct sim_node *n, int ver, int64_t t)
{
	if (t < n->ready_at + n->init_for)
		return OHB_INITIALIZING;
	if (n->flags & SB_FLAP)
		return ((t + n->flap_off) / SIM_FLAP_HALF) % 2 ? OHB_UNHEALTHY : OHB_HEALTHY;
	if ((n->flags & SB_NEVER) && ver != n->first_ver)
		return OHB_UNHEALTHY;
	if (ver == n->bad_ver)
		return OHB_UNHEALTHY;
	if (ver == n->first_ver && t >= n->break_at)
		return OHB_UNHEALTHY;
	return OHB_HEALTHY;
}

/* The last heartbeat at or before t: when, what it said, from which version (-1: none ever). */
static inline void sim_last_hb(const struct sim_node *n, int64_t t, int64_t *at, enum orch_hb *hb, int *ver)
{
	if (n->os_on && t >= n->ready_at) {
		*at = n->ready_at + (t - n->ready_at) / SIM_HB * SIM_HB;
		*hb = sim_health(n, n->run_ver, *at);
		*ver = n->run_ver;
	} else {
		*at = n->off_hb_at;
		*hb = n->off_hb;
		*ver = n->off_ver;
	}
}

static inline enum orch_task sim_task_state(const struct sim_node *n, int64_t t)
{
	if (t < n->writing_at)
		return OT_QUEUED;
	if (t < n->done_at)
		return OT_WRITING;
	return n->task_ok ? OT_WRITTEN : OT_FAILED;
}

/* What bootwaved would see of node id at t (orch_env.observe, and the tests' truth). */
static inline void world_look(const struct world *w, const struct sim_node *n, int64_t heartbeat_timeout,
			      const struct orch_req *q, int64_t t, struct orch_obs *ob)
{
	int64_t at;
	enum orch_hb hb;
	int ver;

	memset(ob, 0, sizeof(*ob));
	sim_last_hb(n, t, &at, &hb, &ver);
	ob->hb_at = at;
	ob->hb = !at || t - at > heartbeat_timeout ? OHB_UNKNOWN : hb;
	if (ver >= 0) {
		ob->image = w->image;
		snprintf(ob->version, sizeof(ob->version), "%s", w->ver[ver]);
	}
	ob->power_known = true;
	ob->power_on = !n->down;
	if (q && q->since > 0 && n->task && n->task_at >= q->since && q->image == w->image &&
	    n->task_ver == world_ver(w, q->version)) {
		ob->task = sim_task_state(n, t);
		if (ob->task == OT_FAILED)
			snprintf(ob->task_reason, sizeof(ob->task_reason), "sha256 mismatch");
	}
	ob->extensions = OC_NONE;
	ob->probe = OC_NONE;
}

/* The pool-wide truth: healthy as the orchestrator's pool-wide check means it. */
static inline bool world_healthy(const struct world *w, size_t i, int64_t heartbeat_timeout, int64_t t)
{
	/* world_look without the strings (this runs for every node at every step) */
	const struct sim_node *n = &w->nodes[i];
	int64_t at;
	enum orch_hb hb;
	int ver;

	sim_last_hb(n, t, &at, &hb, &ver);
	return !n->down && at && t - at <= heartbeat_timeout && hb == OHB_HEALTHY;
}

/* ---- changes ---- */

static inline void world_list(struct world *w, struct sim_node *n)
{
	if (!n->listed) {
		n->listed = true;
		w->list[w->n_list++] = (size_t)(n - w->nodes);
	}
}

static inline void sim_power_off(struct sim_node *n, int64_t t)
{
	if (n->os_on)
		sim_last_hb(n, t, &n->off_hb_at, &n->off_hb, &n->off_ver);
	n->os_on = false;
	n->pending = false;
}

static inline void sim_boot(struct world *w, struct sim_node *n, int64_t t, int slot, bool pending)
{
	bool slow = n->flags & SB_SLOW;

	n->os_on = true;
	n->pending = pending;
	n->run_slot = slot;
	n->run_ver = n->slot_ver[slot];
	n->ready_at = t + (slow ? sim_range(w, 120, 180) : sim_range(w, 30, 90));
	n->init_for = slow ? sim_range(w, 60, 120) : sim_range(w, 10, 30);
	n->synced = t;
}

/* Takes a node down for good (dead hardware). */
static inline void world_set_down(struct world *w, size_t i, int64_t t)
{
	struct sim_node *n = &w->nodes[i];
	sim_power_off(n, t);
	n->down = true;
	n->boot_at = 0;
}

/*
 * Applies what happened up to t (boots, commits) to the nodes with
 * something scheduled, and writes the changed nodes' rows in one
 * transaction, as the heartbeat handler and the rollback would have.
 */
static inline void world_sync(struct world *w, int64_t t)
{
	size_t k = 0;
	bool tx = false;

	for (size_t j = 0; j < w->n_list; j++) {
		struct sim_node *n = &w->nodes[w->list[j]];

		if (n->boot_at && n->boot_at <= t) {
			if (n->write_slot >= 0)
				n->slot_ver[n->write_slot] = n->task_ver; /* the agent wrote it */
			n->write_slot = -1;
			sim_boot(w, n, n->boot_at, n->boot_slot, n->boot_pending);
			n->boot_at = 0;
		}
		if (n->os_on && n->pending) {
			/* The heartbeats sent since the last sync: the first Healthy one commits the slot. */
			int64_t from = n->synced + 1 > n->ready_at ? n->synced + 1 : n->ready_at;
			int64_t h = n->ready_at + (from - n->ready_at + SIM_HB - 1) / SIM_HB * SIM_HB;
			for (; h <= t; h += SIM_HB)
				if (sim_health(n, n->run_ver, h) == OHB_HEALTHY) {
					n->active = n->run_slot;
					n->pending = false;
					n->dirty = true;
					n->commits++;
					w->commits++;
					break;
				}
		}
		n->synced = t;
		if (n->dirty) {
			struct bw_node row;
			bool mask[MODEL_MAX_FIELDS] = { false };
			int v = n->active >= 0 ? n->slot_ver[n->active] : -1;

			assert_true(model_node.n_fields <= ARRAY_SIZE(mask));
			if (!tx) {
				assert_int_equal(store_tx_begin(w->s), 0);
				tx = true;
			}
			memset(&row, 0, sizeof(row));
			row.id = n->id;
			row.installed_image = v >= 0 ? w->image : 0;
			snprintf(row.installed_version, sizeof(row.installed_version), "%s", v >= 0 ? w->ver[v] : "");
			snprintf(row.active_slot, sizeof(row.active_slot), "%s", slot_name(n->active));
			mask[model_field(&model_node, "installed_image") - model_node.fields] = true;
			mask[model_field(&model_node, "installed_version") - model_node.fields] = true;
			mask[model_field(&model_node, "active_slot") - model_node.fields] = true;
			assert_int_equal(store_update(w->s, &model_node, &row, mask, NULL), 0);
			n->dirty = false;
		}
		if (n->boot_at || n->pending)
			w->list[k++] = w->list[j];
		else
			n->listed = false;
	}
	w->n_list = k;
	if (tx)
		assert_int_equal(store_tx_commit(w->s), 0);
}

/* ---- struct orch_env ---- */

static inline int64_t world_now(void *ctx)
{
	(void)ctx;
	return fake_now;
}

static inline void world_observe(void *ctx, const struct orch_req *q, struct orch_obs *ret)
{
	struct world *w = ctx;
	world_look(w, world_node(w, q->node), q->pool->heartbeat_timeout, q, fake_now, ret);
}

static inline int world_reimage(void *ctx, const struct orch_req *q, char *err, size_t size)
{
	struct world *w = ctx;
	struct sim_node *n = world_node(w, q->node);
	int64_t t = fake_now;
	int ver = world_ver(w, q->version);
	bool slow = n->flags & SB_SLOW;

	assert_int_equal(q->image, w->image);
	assert_true(ver >= 0);
	n->reimage_calls++;
	w->reimage_calls++;
	n->reimaged_in = q->rollout;
	/* Idempotent: a task for this target opened since the upgrade began and not finished is reused. */
	if (n->task && n->task_ver == ver && n->task_at >= q->since && t < n->done_at)
		return 0;
	if ((n->flags & SB_BMC_ERR) && sim_chance(w, 500)) {
		w->bmc_errors++;
		snprintf(err, size, "BMC of %s: connection timed out", q->name);
		return -ETIMEDOUT;
	}
	n->task = true;
	n->task_at = t;
	n->task_ver = ver;
	n->task_ok = !(n->flags & SB_AGENT_FAIL);
	if ((n->flags & SB_SILENT) || n->down) {
		/* The power cycle did nothing: the task waits for an agent that never comes. */
		n->writing_at = n->done_at = SIM_NEVER;
		return 0;
	}
	sim_power_off(n, t);
	n->writing_at = t + (slow ? sim_range(w, 120, 240) : sim_range(w, 20, 90));
	n->done_at = n->writing_at + (slow ? sim_range(w, 400, 800) : sim_range(w, 120, 360));
	/* The agent writes the slot the node does not boot; then it boots it, or its old one on failure
	 * (or when the firmware falls back to it). */
	n->boot_at = n->done_at + 5;
	n->write_slot = n->task_ok ? (n->active == 0 ? 1 : 0) : -1;
	n->boot_pending = n->task_ok && !(n->flags & SB_FALLBACK);
	n->boot_slot = n->boot_pending ? n->write_slot : n->active;
	if (n->boot_slot < 0)
		n->boot_at = 0; /* nothing to boot */
	world_list(w, n);
	return 0;
}

static inline int world_rollback(void *ctx, const struct orch_req *q, char *err, size_t size)
{
	struct world *w = ctx;
	struct sim_node *n = world_node(w, q->node);
	int64_t t = fake_now;
	int slot = slot_of(q->slot), ver = world_ver(w, q->version);

	n->rollback_calls++;
	w->rollback_calls++;
	n->rolled_back_in = q->rollout;
	/* The orchestrator's record of the previous slot must be what the disk holds. */
	assert_true(slot >= 0);
	assert_int_equal(q->image, w->image);
	if (n->slot_ver[slot] != ver)
		fail_msg("rollback of %s to slot %s version %s, but the slot holds %s", q->name, q->slot, q->version,
			 n->slot_ver[slot] >= 0 ? w->ver[n->slot_ver[slot]] : "nothing");
	/* As orch_env.c: the row points at the previous slot first (no commit of the new one any more),
	 * the task is cancelled, then the BMC. */
	n->active = slot;
	n->pending = false;
	n->task = false;
	n->boot_at = 0;
	n->write_slot = -1;
	n->dirty = true;
	world_list(w, n);
	if ((n->flags & SB_BMC_ERR) && sim_chance(w, 500)) {
		w->bmc_errors++;
		snprintf(err, size, "BMC of %s: power cycle refused", q->name);
		return -EIO;
	}
	if ((n->flags & SB_SILENT) || n->down)
		return 0; /* nothing happens: it goes on running what it runs */
	sim_power_off(n, t);
	n->boot_at = t + 5;
	n->boot_slot = slot;
	n->boot_pending = false;
	return 0;
}

static inline struct orch_env world_env(struct world *w)
{
	return (struct orch_env){ .ctx = w,
				  .now = world_now,
				  .observe = world_observe,
				  .reimage = world_reimage,
				  .rollback = world_rollback };
}

/* ---- building one ---- */

struct world_node_spec {
	int64_t zone; /* 0: none */
	int ud, fd;
	int model;   /* hardware model index; -1 (the default): none */
	unsigned flags;
	int ver;     /* version it runs (index); -1: never provisioned (empty disk, no OS) */
	int bad_ver; /* -1: none */
};

/*
 * A world over the store s: one image with versions vers[0..n_vers), all
 * published, and a pool (policy from *pool, its id set) of n nodes made by
 * spec(i) on the fake clock. Every node runs its version on slot a and has
 * heartbeated for a long time, but those never provisioned (ver -1).
 */
static inline void world_init(struct world *w, struct store *s, const char *const *vers, int n_vers,
			      struct bw_pool *pool, size_t n, uint64_t seed,
			      void (*spec)(struct world *w, size_t i, struct world_node_spec *ret, void *userdata),
			      void *userdata)
{
	struct store_err err = { .field = "" };
	struct bw_image img;

	memset(w, 0, sizeof(*w));
	w->s = s;
	w->rng = seed;
	model_init(&model_image, &img);
	snprintf(img.name, sizeof(img.name), "os");
	assert_int_equal(store_insert(s, &model_image, &img, &err), 0);
	w->image = img.id;
	assert_true(n_vers <= SIM_MAX_VER);
	for (int i = 0; i < n_vers; i++) {
		struct bw_image_version v;
		model_init(&model_image_version, &v);
		v.image = img.id;
		snprintf(v.version, sizeof(v.version), "%s", vers[i]);
		snprintf(v.sha256, sizeof(v.sha256), "%064d", i);
		snprintf(v.artifact, sizeof(v.artifact), "rootfs.img");
		v.size = 4096;
		assert_int_equal(store_insert(s, &model_image_version, &v, &err), 0);
		snprintf(w->ver[i], sizeof(w->ver[i]), "%s", vers[i]);
	}
	w->n_ver = n_vers;
	pool->image = img.id;
	if (!pool->name[0])
		snprintf(pool->name, sizeof(pool->name), "sim");
	assert_int_equal(store_insert(s, &model_pool, pool, &err), 0);

	w->n = n;
	w->nodes = calloc(n ? n : 1, sizeof(*w->nodes));
	w->list = calloc(n ? n : 1, sizeof(*w->list));
	assert_non_null(w->nodes);
	assert_non_null(w->list);
	assert_int_equal(store_tx_begin(s), 0);
	for (size_t i = 0; i < n; i++) {
		struct world_node_spec sp = { .fd = -1, .bad_ver = -1, .model = -1 };
		struct sim_node *x = &w->nodes[i];
		struct bw_node row;

		spec(w, i, &sp, userdata);
		model_init(&model_node, &row);
		snprintf(row.name, sizeof(row.name), "n%05zu", i);
		snprintf(row.mac, sizeof(row.mac), "52:54:00:%02x:%02x:%02x", (unsigned)(i >> 16) & 0xff,
			 (unsigned)(i >> 8) & 0xff, (unsigned)i & 0xff);
		row.zone = sp.zone;
		row.pool = pool->id;
		row.update_domain = sp.ud;
		row.fault_domain = sp.fd >= 0 ? sp.fd : INT_NULL;
		if (sp.model >= 0)
			snprintf(row.hw_model, sizeof(row.hw_model), "hw%d", sp.model);
		if (sp.ver >= 0) {
			row.installed_image = img.id;
			snprintf(row.installed_version, sizeof(row.installed_version), "%s", vers[sp.ver]);
			snprintf(row.active_slot, sizeof(row.active_slot), "a");
			snprintf(row.state, sizeof(row.state), "active");
		}
		if (store_insert(s, &model_node, &row, &err) < 0)
			fail_msg("node %zu: %s", i, err.message);
		if (i == 0)
			w->id0 = row.id;
		assert_int_equal(row.id, w->id0 + (int64_t)i);
		*x = (struct sim_node){
			.id = row.id,
			.zone = sp.zone,
			.pool = pool->id,
			.ud = sp.ud,
			.fd = sp.fd,
			.model = sp.model,
			.flags = sp.flags,
			.first_ver = sp.ver,
			.bad_ver = sp.bad_ver,
			.break_at = SIM_NEVER,
			.flap_off = sim_range(w, 0, 2 * SIM_FLAP_HALF - 1),
			.slot_ver = { sp.ver, -1 },
			.active = sp.ver >= 0 ? 0 : -1,
			.os_on = sp.ver >= 0,
			.run_slot = 0,
			.run_ver = sp.ver,
			.ready_at = fake_now - 100000 + sim_range(w, 0, SIM_HB - 1),
			.off_ver = -1,
			.write_slot = -1,
		};
	}
	assert_int_equal(store_tx_commit(s), 0);
}

/* Moves node i to pool (store id), as an operator's PATCH of its pool would, at any moment. */
static inline void world_move(struct world *w, size_t i, int64_t pool)
{
	struct sim_node *n = &w->nodes[i];
	struct bw_node row;
	bool mask[MODEL_MAX_FIELDS] = { false };

	assert_true(model_node.n_fields <= ARRAY_SIZE(mask));
	memset(&row, 0, sizeof(row));
	row.id = n->id;
	row.pool = pool;
	mask[model_field(&model_node, "pool") - model_node.fields] = true;
	assert_int_equal(store_update(w->s, &model_node, &row, mask, NULL), 0);
	n->pool = pool;
}

static inline void world_free(struct world *w)
{
	free(w->nodes);
	free(w->list);
	memset(w, 0, sizeof(*w));
}

#endif
