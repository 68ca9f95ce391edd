// SPDX-License-Identifier: Apache-2.0
/*
 * orch: the rollout state machine (orch.h). A rollout's nodes are cached in
 * memory between batch decisions and written through to the store; the
 * cache is rebuilt from the store at every batch decision and after a
 * restart, so the store is the only truth.
 */
#include "orch.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extver.h"
#include "log.h"
#include "planner.h"
#include "window.h"
#include "util.h"

static const char *const phase_names[PH_N] = {
	[PH_PENDING] = "pending",
	[PH_SKIPPED] = "skipped",
	[PH_POWERING] = "powering",
	[PH_IMAGING] = "imaging",
	[PH_BOOTING] = "booting",
	[PH_WAITING_HEALTH] = "waiting-for-health",
	[PH_RUNNING_EXTENSIONS] = "running-extensions",
	[PH_SUCCEEDED] = "succeeded",
	[PH_FAILED] = "failed",
	[PH_ROLLING_BACK] = "rolling-back",
	[PH_ROLLED_BACK] = "rolled-back",
	[PH_ROLLBACK_FAILED] = "rollback-failed",
};

const char *orch_phase_name(enum orch_phase p) { return p < PH_N ? phase_names[p] : "?"; }

enum orch_phase orch_phase_parse(const char *name)
{
	for (int i = 0; i < PH_N; i++)
		if (str_eq(phase_names[i], name))
			return (enum orch_phase)i;
	return PH_N;
}

bool orch_phase_inflight(enum orch_phase p)
{
	return (p >= PH_POWERING && p <= PH_RUNNING_EXTENSIONS) || p == PH_ROLLING_BACK;
}

/* Finished in this rollout, one way or the other (counts as upgraded for the after-batch check). */
static bool phase_upgraded(enum orch_phase p)
{
	return p == PH_SUCCEEDED || p == PH_FAILED || p == PH_ROLLED_BACK || p == PH_ROLLBACK_FAILED;
}

/* A node of a cached rollout. */
struct rn {
	struct bw_member m;
	struct bw_rollout_node x; /* x.rollout == 0: no row yet */
	enum orch_phase phase;
	bool acted;               /* its action was issued by this process */
	char act_err[200];        /* the action failed: why */
};

struct ro {
	struct bw_rollout r;
	struct bw_pool pool;
	struct rn *nodes;
	size_t n;
	bool loaded;
	bool fresh; /* loaded from the store in this step already */
	struct ro *next;
};

/* An action to take once the step is written down. */
struct act {
	struct ro *ro;
	size_t i;
	bool rollback;
};

struct orch {
	struct store *s;
	struct orch_env env;
	struct orch_config cfg;
	pthread_mutex_t lock;
	struct ro *cache;
	struct act *acts;
	size_t n_acts, cap_acts;
	int64_t ext_checked_at; /* env time of the last orch_ext_check from orch_step */
};

int orch_new(struct store *s, const struct orch_env *env, const struct orch_config *cfg, struct orch **ret)
{
	struct orch *o = calloc(1, sizeof(*o));

	if (!o)
		return -ENOMEM;
	o->s = s;
	o->env = *env;
	if (cfg)
		o->cfg = *cfg;
	if (o->cfg.reimage_timeout <= 0)
		o->cfg.reimage_timeout = 1800;
	if (o->cfg.quarantine_after < 0)
		o->cfg.quarantine_after = 0;
	if (o->cfg.ext_retry_interval <= 0)
		o->cfg.ext_retry_interval = 3 * 86400;
	pthread_mutex_init(&o->lock, NULL);
	*ret = o;
	return 0;
}

static void ro_free(struct ro *ro)
{
	if (ro) {
		free(ro->nodes);
		free(ro);
	}
}

void orch_free(struct orch *o)
{
	if (!o)
		return;
	while (o->cache) {
		struct ro *next = o->cache->next;
		ro_free(o->cache);
		o->cache = next;
	}
	free(o->acts);
	pthread_mutex_destroy(&o->lock);
	free(o);
}

static void set_err(struct orch_err *err, int status, const char *code, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void set_err(struct orch_err *err, int status, const char *code, const char *field, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	err->status = status;
	snprintf(err->code, sizeof(err->code), "%s", code);
	snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

/* ---- loading a rollout's nodes ---- */

struct load {
	struct ro *ro;
	size_t cap;
	size_t members; /* the first members nodes are the pool's, sorted by id */
	int err;
};

static int add_member(const struct bw_member *m, void *userdata)
{
	struct load *l = userdata;
	struct ro *ro = l->ro;

	if (ro->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct rn *p = realloc(ro->nodes, cap * sizeof(*p));
		if (!p)
			return l->err = -ENOMEM;
		ro->nodes = p;
		l->cap = cap;
	}
	memset(&ro->nodes[ro->n], 0, sizeof(ro->nodes[0]));
	ro->nodes[ro->n].m = *m;
	ro->nodes[ro->n].phase = PH_PENDING;
	ro->n++;
	return 0;
}

/* Binary search of the first n nodes (sorted by id). */
static struct rn *find_in(struct ro *ro, size_t n, int64_t node)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (ro->nodes[mid].m.id < node)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && ro->nodes[lo].m.id == node ? &ro->nodes[lo] : NULL;
}

/* Rows of nodes that left the pool: kept (an in-flight one finishes its step), flagged as not members. */
static int add_row(const struct bw_rollout_node *x, void *userdata)
{
	struct load *l = userdata;
	struct rn *n = find_in(l->ro, l->members, x->node);

	if (!n) {
		struct bw_member m = { .id = x->node, .fault_domain = -1, .quarantined = true };
		enum orch_phase p = orch_phase_parse(x->phase);
		/* Only an in-flight node that left matters: it is finished, not counted. */
		if (!orch_phase_inflight(p))
			return 0;
		snprintf(m.name, sizeof(m.name), "%s", x->name);
		/* appended out of order: re-sorted below */
		if (add_member(&m, l) < 0)
			return l->err;
		n = &l->ro->nodes[l->ro->n - 1];
		n->m.reimage_failures = -1; /* marks "not a member" */
	}
	n->x = *x;
	n->phase = orch_phase_parse(x->phase);
	if (n->phase == PH_N)
		n->phase = PH_FAILED;
	return 0;
}

static int cmp_rn(const void *a, const void *b)
{
	const struct rn *x = a, *y = b;
	return x->m.id < y->m.id ? -1 : x->m.id > y->m.id;
}

/* (Re)builds ro's nodes from the store: the pool's members and the rollout's rows. */
static int load(struct orch *o, struct ro *ro)
{
	struct load l = { .ro = ro };
	struct rn *old = ro->nodes;
	size_t n_old = ro->n;
	int r;

	if ((r = store_get(o->s, &model_pool, ro->r.pool, &ro->pool)) < 0)
		return r;
	ro->nodes = NULL;
	ro->n = 0;
	if ((r = store_pool_members(o->s, ro->r.pool, add_member, &l)) < 0 || l.err < 0 ||
	    ((l.members = ro->n), (r = store_rollout_nodes(o->s, ro->r.id, add_row, &l)) < 0) || l.err < 0) {
		free(ro->nodes);
		ro->nodes = old;
		ro->n = n_old;
		return r < 0 ? r : l.err;
	}
	/* A pool without nodes leaves ro->nodes NULL, which qsort must not get. */
	if (ro->n)
		qsort(ro->nodes, ro->n, sizeof(ro->nodes[0]), cmp_rn);
	/* What this process already did survives a reload. */
	for (size_t i = 0; i < n_old; i++) {
		struct rn *n = find_in(ro, ro->n, old[i].m.id);
		if (n && n->phase == old[i].phase) {
			n->acted = old[i].acted;
			memcpy(n->act_err, old[i].act_err, sizeof(n->act_err));
		}
	}
	free(old);
	ro->loaded = true;
	return 0;
}

/* ---- one node ---- */

static int put_row(struct orch *o, struct ro *ro, struct rn *n)
{
	n->x.rollout = ro->r.id;
	n->x.node = n->m.id;
	snprintf(n->x.phase, sizeof(n->x.phase), "%s", orch_phase_name(n->phase));
	return store_rollout_node_put(o->s, &n->x);
}

static int to_phase(struct orch *o, struct ro *ro, struct rn *n, enum orch_phase p, int64_t now, const char *why)
{
	int r;

	n->phase = p;
	n->x.phase_at = now;
	n->acted = false;
	n->act_err[0] = '\0';
	if (p == PH_BOOTING)
		n->x.written_at = now;
	if (!orch_phase_inflight(p) && p != PH_PENDING)
		n->x.finished_at = now;
	if (why)
		snprintf(n->x.reason, sizeof(n->x.reason), "%s", why);
	if ((r = put_row(o, ro, n)) < 0)
		return r;
	return store_event_add(o->s, n->m.id, ro->r.id, "rollout", "rollout %lld, batch %lld: %s%s%s",
			       (long long)ro->r.id, (long long)n->x.batch, orch_phase_name(p), why ? ": " : "",
			       why ? why : "");
}

static void queue(struct orch *o, struct ro *ro, size_t i, bool rollback)
{
	if (o->n_acts == o->cap_acts) {
		size_t cap = o->cap_acts ? 2 * o->cap_acts : 64;
		struct act *p = realloc(o->acts, cap * sizeof(*p));
		if (!p) {
			snprintf(ro->nodes[i].act_err, sizeof(ro->nodes[i].act_err), "out of memory");
			return;
		}
		o->acts = p;
		o->cap_acts = cap;
	}
	o->acts[o->n_acts++] = (struct act){ .ro = ro, .i = i, .rollback = rollback };
	ro->nodes[i].acted = true;
}

static struct orch_req req_of(struct ro *ro, struct rn *n)
{
	return (struct orch_req){ .pool = &ro->pool,
				  .rollout = ro->r.id,
				  .node = n->m.id,
				  .name = n->m.name,
				  .since = n->x.started_at,
				  .image = ro->r.image,
				  .version = ro->r.version,
				  .extension = ro->r.extension[0] ? ro->r.extension : NULL };
}

static bool is_ext(const struct ro *ro) { return ro->r.extension[0] != '\0'; }

/* Healthy on image@version, with a heartbeat at or after since: the health gate. */
static bool healthy_on(const struct orch_obs *ob, int64_t image, const char *version, int64_t since)
{
	return (!ob->power_known || ob->power_on) && !ob->critical_sel && ob->hb == OHB_HEALTHY &&
	       ob->hb_at >= since && ob->image == image && str_eq(ob->version, version) &&
	       ob->extensions != OC_PENDING && ob->extensions != OC_FAILED && ob->probe != OC_PENDING &&
	       ob->probe != OC_FAILED;
}

/* Healthy now, whatever it runs (the pool-wide check). */
static bool healthy_now(const struct orch_obs *ob)
{
	return (!ob->power_known || ob->power_on) && !ob->critical_sel && ob->hb == OHB_HEALTHY &&
	       ob->extensions != OC_FAILED && ob->probe != OC_FAILED;
}

/* Why a node is not healthy on image@version since, for the record. */
static void why_not(const struct orch_obs *ob, int64_t image, const char *version, int64_t since, char *buf,
		    size_t size)
{
	static const char *const hb[] = { "no heartbeat", "heartbeat Initializing", "heartbeat Healthy",
					  "heartbeat Unhealthy" };

	if (ob->power_known && !ob->power_on)
		snprintf(buf, size, "the BMC says power off");
	else if (ob->critical_sel)
		snprintf(buf, size, "a new critical SEL entry");
	else if (ob->hb == OHB_UNKNOWN || ob->hb_at < since)
		snprintf(buf, size, "no heartbeat since it was written");
	else if (ob->image != image || !str_eq(ob->version, version))
		snprintf(buf, size, "it runs version '%s', not %s", ob->version, version);
	else if (ob->hb != OHB_HEALTHY)
		snprintf(buf, size, "%s", hb[ob->hb]);
	else if (ob->extensions == OC_FAILED || ob->extensions == OC_PENDING)
		snprintf(buf, size, "extensions %s", ob->extensions == OC_FAILED ? "failed" : "not finished");
	else
		snprintf(buf, size, "probe %s%s%s", ob->probe == OC_FAILED ? "failed" : "not passed yet",
			 ob->probe_why[0] ? ": " : "", ob->probe_why);
}

/* The node did not make it: count it, quarantine it at quarantine_after, roll it back if we can. */
static int fail_node(struct orch *o, struct ro *ro, size_t i, int64_t now, const char *why)
{
	struct rn *n = &ro->nodes[i];
	/* An extension goes back to the version the node ran before; an OS to its previous slot. */
	bool can_back = ro->pool.auto_rollback &&
			(is_ext(ro) ? n->x.prev_version[0] && !str_eq(n->x.prev_version, ro->r.version)
				    : str_eq(n->x.prev_slot, "a") || str_eq(n->x.prev_slot, "b"));
	int r;

	/* Quarantine counts reimages; an extension failing says nothing of the machine. */
	if (n->m.reimage_failures >= 0 && !is_ext(ro)) {
		n->m.reimage_failures++;
		if (o->cfg.quarantine_after && n->m.reimage_failures >= o->cfg.quarantine_after && !n->m.quarantined) {
			n->m.quarantined = true;
			if ((r = store_event_add(o->s, n->m.id, ro->r.id, "quarantined",
						 "%lld reimages failed in a row: quarantined (out of rollouts and of "
						 "the unhealthy percentage until an operator clears it)",
						 (long long)n->m.reimage_failures)) < 0)
				return r;
			log_msg(LOG_WARN_, &(struct log_ctx){ .node = n->m.name },
				"quarantined after %lld failed reimages in a row", (long long)n->m.reimage_failures);
		}
		if ((r = store_node_set_failures(o->s, n->m.id, n->m.reimage_failures, n->m.quarantined)) < 0)
			return r;
	}
	log_msg(LOG_WARN_, &(struct log_ctx){ .node = n->m.name }, "rollout %lld: failed: %s%s", (long long)ro->r.id,
		why, can_back ? "; rolling back" : "");
	if (!can_back)
		return to_phase(o, ro, n, PH_FAILED, now, why);
	if ((r = to_phase(o, ro, n, PH_ROLLING_BACK, now, why)) < 0)
		return r;
	queue(o, ro, i, true);
	return 0;
}

/* Moves one in-flight node on from what is observed of it. */
static int advance(struct orch *o, struct ro *ro, size_t i, int64_t now)
{
	struct rn *n = &ro->nodes[i];
	struct orch_req q = req_of(ro, n);
	struct orch_obs ob = { 0 };
	char why[512];

	if (n->phase == PH_ROLLING_BACK) {
		q.image = n->x.prev_image;
		q.version = n->x.prev_version;
		q.slot = n->x.prev_slot;
	}
	o->env.observe(o->env.ctx, &q, &ob);
	if (is_ext(ro) && n->phase == PH_RUNNING_EXTENSIONS) {
		/* The run of the new version: like the image being written in an OS rollout. */
		if (n->act_err[0]) {
			snprintf(why, sizeof(why), "the run could not be queued: %s", n->act_err);
			return fail_node(o, ro, i, now, why);
		}
		if (ob.task == OT_WRITTEN) {
			n->x.written_at = now;
			return to_phase(o, ro, n, PH_WAITING_HEALTH, now, NULL);
		}
		if (ob.task == OT_FAILED) {
			snprintf(why, sizeof(why), "extension %s@%s failed: %s", ro->r.extension, ro->r.version,
				 ob.task_reason[0] ? ob.task_reason : "no reason");
			return fail_node(o, ro, i, now, why);
		}
		if (now - n->x.started_at > o->cfg.reimage_timeout) {
			snprintf(why, sizeof(why), "extension %s@%s not run within reimage_timeout (%lld s)",
				 ro->r.extension, ro->r.version, (long long)o->cfg.reimage_timeout);
			return fail_node(o, ro, i, now, why);
		}
		if (!n->acted && ob.task == OT_NONE)
			queue(o, ro, i, false);
		return 0;
	}
	if (is_ext(ro) && n->phase == PH_ROLLING_BACK && ob.task == OT_FAILED) {
		snprintf(why, sizeof(why), "the previous version %s failed too: %s", n->x.prev_version,
			 ob.task_reason[0] ? ob.task_reason : "no reason");
		return to_phase(o, ro, n, PH_ROLLBACK_FAILED, now, why);
	}
	switch (n->phase) {
	case PH_POWERING:
	case PH_IMAGING:
		if (n->act_err[0]) {
			snprintf(why, sizeof(why), "reimage could not start: %s", n->act_err);
			return fail_node(o, ro, i, now, why);
		}
		if (ob.task == OT_WRITTEN)
			return to_phase(o, ro, n, PH_BOOTING, now, NULL);
		if (ob.task == OT_FAILED) {
			snprintf(why, sizeof(why), "the agent failed: %s", ob.task_reason[0] ? ob.task_reason : "no reason");
			return fail_node(o, ro, i, now, why);
		}
		if (now - n->x.started_at > o->cfg.reimage_timeout) {
			snprintf(why, sizeof(why), "image not written within reimage_timeout (%lld s)",
				 (long long)o->cfg.reimage_timeout);
			return fail_node(o, ro, i, now, why);
		}
		if (ob.task == OT_WRITING && n->phase == PH_POWERING)
			return to_phase(o, ro, n, PH_IMAGING, now, NULL);
		/* Not started by this process (a fresh step, or a restart that may have come
		 * between the task and the power cycle): start it; the action is idempotent. */
		if (!n->acted && (ob.task == OT_NONE || ob.task == OT_QUEUED) && n->phase == PH_POWERING)
			queue(o, ro, i, false);
		return 0;
	case PH_BOOTING:
	case PH_WAITING_HEALTH:
	case PH_RUNNING_EXTENSIONS:
		if (healthy_on(&ob, ro->r.image, ro->r.version, n->x.written_at)) {
			/* A reimage that worked ends the row of failed ones: quarantine_after counts
			 * failures "in a row", so the count starts again. Found by
			 * tests/unit/test_orch_sim.c (test_quarantine). */
			if (n->m.reimage_failures > 0) {
				int r;
				n->m.reimage_failures = 0;
				if ((r = store_node_set_failures(o->s, n->m.id, 0, n->m.quarantined)) < 0)
					return r;
			}
			return to_phase(o, ro, n, PH_SUCCEEDED, now, NULL);
		}
		if (ob.image == ro->r.image && str_eq(ob.version, ro->r.version) && ob.hb_at >= n->x.written_at &&
		    ob.extensions == OC_FAILED) {
			return fail_node(o, ro, i, now, "an extension failed");
		}
		if (now - n->x.written_at > ro->pool.health_timeout) {
			char w[200];
			why_not(&ob, ro->r.image, ro->r.version, n->x.written_at, w, sizeof(w));
			snprintf(why, sizeof(why), "not healthy within health_timeout (%lld s): %s",
				 (long long)ro->pool.health_timeout, w);
			return fail_node(o, ro, i, now, why);
		}
		if (ob.hb != OHB_UNKNOWN && ob.hb_at >= n->x.written_at) {
			if (ob.hb == OHB_HEALTHY && ob.extensions == OC_PENDING && n->phase != PH_RUNNING_EXTENSIONS)
				return to_phase(o, ro, n, PH_RUNNING_EXTENSIONS, now, NULL);
			if (n->phase == PH_BOOTING)
				return to_phase(o, ro, n, PH_WAITING_HEALTH, now, NULL);
		}
		return 0;
	case PH_ROLLING_BACK:
		if (n->act_err[0]) {
			snprintf(why, sizeof(why), "rollback could not start: %s", n->act_err);
			return to_phase(o, ro, n, PH_ROLLBACK_FAILED, now, why);
		}
		if (healthy_on(&ob, n->x.prev_image, n->x.prev_version, n->x.phase_at))
			return to_phase(o, ro, n, PH_ROLLED_BACK, now, NULL);
		if (now - n->x.phase_at > ro->pool.health_timeout) {
			char w[200];
			why_not(&ob, n->x.prev_image, n->x.prev_version, n->x.phase_at, w, sizeof(w));
			snprintf(why, sizeof(why), "previous version %s not healthy within health_timeout (%lld s): %s",
				 n->x.prev_version, (long long)ro->pool.health_timeout, w);
			return to_phase(o, ro, n, PH_ROLLBACK_FAILED, now, why);
		}
		if (!n->acted)
			queue(o, ro, i, true);
		return 0;
	default:
		return 0;
	}
}

/* ---- batches ---- */

static struct plan_policy policy_of(const struct bw_pool *p)
{
	return (struct plan_policy){
		.max_batch_percent = (unsigned)p->max_batch_percent,
		.max_unhealthy_percent = (unsigned)p->max_unhealthy_percent,
		.max_unhealthy_upgraded_percent = (unsigned)p->max_unhealthy_upgraded_percent,
		.max_per_fault_domain = p->max_per_fault_domain > 0 ? (unsigned)p->max_per_fault_domain : 0,
		.prioritize_unhealthy = p->prioritize_unhealthy,
		.cross_zone = p->cross_zone,
	};
}

static bool on_target(const struct ro *ro, const struct rn *n)
{
	return n->m.installed_image == ro->r.image && str_eq(n->m.installed_version, ro->r.version) &&
	       (str_eq(n->m.active_slot, "a") || str_eq(n->m.active_slot, "b"));
}

/*
 * The pool's record of an extension whose rollout ended: Completed, the
 * pool runs the new version (new nodes get it); otherwise it stays on the
 * one it ran, and the version that did not make it is tried again
 * automatically only after [extensions] retry_interval.
 */
static int ext_finished(struct orch *o, struct ro *ro, int64_t now)
{
	struct bw_pool_extension pe;
	bool mask[MODEL_MAX_FIELDS] = { false };
	int r;

	if ((r = store_get_by_key(o->s, &model_pool_extension, ro->r.pool, ro->r.extension, &pe)) < 0)
		return r == -ENOENT ? 0 : r; /* removed from the pool meanwhile */
#define M(name) mask[model_field(&model_pool_extension, name) - model_pool_extension.fields] = true
	if (str_eq(ro->r.status, "Completed")) {
		if (!str_eq(pe.version, ro->r.version)) {
			snprintf(pe.previous_version, sizeof(pe.previous_version), "%s", pe.version);
			snprintf(pe.version, sizeof(pe.version), "%s", ro->r.version);
		}
		pe.failed_version[0] = '\0';
		pe.retry_after = 0;
		log_msg(LOG_INFO_, NULL, "pool %s: extension %s now at %s", ro->pool.name, pe.name, pe.version);
	} else {
		snprintf(pe.failed_version, sizeof(pe.failed_version), "%s", ro->r.version);
		pe.retry_after = now + o->cfg.ext_retry_interval;
		log_msg(LOG_WARN_, NULL, "pool %s: extension %s stays at %s; %s is tried again in %lld s", ro->pool.name,
			pe.name, pe.version, ro->r.version, (long long)o->cfg.ext_retry_interval);
	}
	M("version");
	M("previous_version");
	M("failed_version");
	M("retry_after");
#undef M
	return store_update(o->s, &model_pool_extension, &pe, mask, NULL);
}

/* Finishes the rollout with status (and error code). */
static int finish(struct orch *o, struct ro *ro, const char *status, const char *code, int64_t now, const char *fmt,
		  ...) __attribute__((format(printf, 6, 7)));
static int finish(struct orch *o, struct ro *ro, const char *status, const char *code, int64_t now, const char *fmt,
		  ...)
{
	va_list ap;

	snprintf(ro->r.status, sizeof(ro->r.status), "%s", status);
	snprintf(ro->r.error_code, sizeof(ro->r.error_code), "%s", code ? code : "");
	va_start(ap, fmt);
	vsnprintf(ro->r.message, sizeof(ro->r.message), fmt, ap);
	va_end(ap);
	ro->r.completed_at = now;
	log_msg(code && code[0] ? LOG_WARN_ : LOG_INFO_, NULL, "rollout %lld of pool %s: %s%s%s: %s",
		(long long)ro->r.id, ro->pool.name, status, code && code[0] ? " " : "", code ? code : "",
		ro->r.message);
	if (is_ext(ro)) {
		int r = ext_finished(o, ro, now);
		if (r < 0)
			return r;
	}
	return store_rollout_update(o->s, &ro->r);
}

/*
 * The planner's view of the rollout (observing every member once). Nodes
 * not members any more (left the pool mid-rollout) are left out;
 * quarantined and maintenance nodes are passed as quarantined. map[k] is
 * the index in ro->nodes of pn[k].
 */
static int gather(struct orch *o, struct ro *ro, struct plan_node **ret_pn, size_t **ret_map, size_t *ret_k)
{
	struct plan_node *pn = calloc(ro->n ? ro->n : 1, sizeof(*pn));
	size_t *map = calloc(ro->n ? ro->n : 1, sizeof(*map));
	size_t k = 0;

	if (!pn || !map) {
		free(pn);
		free(map);
		return -ENOMEM;
	}
	for (size_t i = 0; i < ro->n; i++) {
		struct rn *n = &ro->nodes[i];
		struct orch_req q = req_of(ro, n);
		struct orch_obs ob = { 0 };

		if (n->m.reimage_failures < 0)
			continue;
		o->env.observe(o->env.ctx, &q, &ob);
		pn[k] = (struct plan_node){
			.id = n->m.id,
			.zone = n->m.zone,
			.update_domain = (int)n->m.update_domain,
			.fault_domain = (int)n->m.fault_domain,
			.done = n->phase != PH_PENDING || (n->x.rollout == 0 && on_target(ro, n)),
			.upgraded = phase_upgraded(n->phase),
			/* A node whose upgrade failed counts as unhealthy, rolled back or not (as a
			 * cloud scale set counts failed instances against its upgraded percentage). */
			.healthy = (healthy_now(&ob) && (n->phase == PH_SUCCEEDED || !phase_upgraded(n->phase))) ||
				   /* Never provisioned: it serves nothing, so its first imaging takes nothing
				    * down; it does not count against max_unhealthy_percent. */
				   (n->phase == PH_PENDING && !n->m.installed_image),
			.quarantined = n->m.quarantined || n->m.maintenance,
		};
		map[k++] = i;
	}
	*ret_pn = pn;
	*ret_map = map;
	*ret_k = k;
	return 0;
}

/* ---- phases across sites ---- */

#define MAX_SITES 64
#define MAX_MODELS 64

/*
 * The phase of each site: sites in id order, each in the first phase that
 * holds no site it is paired with (so paired sites are never in one phase).
 * Nodes in no site form site 0, in the first phase. Returns the number of
 * phases; sites[]/phase_of[] hold n_sites entries.
 */
static int site_phases(const struct ro *ro, int64_t *sites, int64_t *paired, int *phase_of, size_t *n_sites)
{
	size_t n = 0;
	int phases = 0;

	for (size_t i = 0; i < ro->n; i++) {
		size_t j;
		for (j = 0; j < n && sites[j] != ro->nodes[i].m.site; j++)
			;
		if (j == n && n < MAX_SITES) {
			/* insertion in id order */
			size_t at = n;
			while (at > 0 && sites[at - 1] > ro->nodes[i].m.site) {
				sites[at] = sites[at - 1];
				paired[at] = paired[at - 1];
				at--;
			}
			sites[at] = ro->nodes[i].m.site;
			paired[at] = ro->nodes[i].m.paired_site;
			n++;
		}
	}
	for (size_t j = 0; j < n; j++) {
		int ph = 0;
		for (bool clash = true; clash; ph += clash) {
			clash = false;
			/* Site 0 (no zone) pairs with nothing: without sites[i], an unpaired site
			 * (paired[j] == 0) clashed with site 0 and left the first phase. Found by
			 * tests/unit/test_orch_sim.c (test_whole_1000, test_sites). */
			for (size_t i = 0; i < j; i++)
				if (phase_of[i] == ph && sites[j] && sites[i] &&
				    (paired[j] == sites[i] || paired[i] == sites[j]))
					clash = true;
		}
		phase_of[j] = ph;
		if (ph + 1 > phases)
			phases = ph + 1;
	}
	*n_sites = n;
	return phases;
}

static int phase_of_site(int64_t site, const int64_t *sites, const int *phase_of, size_t n)
{
	for (size_t j = 0; j < n; j++)
		if (sites[j] == site)
			return phase_of[j];
	return 0;
}

static bool failed_phase(enum orch_phase p) { return p == PH_FAILED || p == PH_ROLLED_BACK || p == PH_ROLLBACK_FAILED; }

/*
 * Which pending nodes may be in the next batch: those of the current phase
 * (the first with nodes still to do) and, while the canaries run, only the
 * first pending node of a hardware model that has had no canary yet.
 * Returns 1 when the eligible set is empty because the canaries are over
 * (*ret_canary_over), -1 when a finished phase failed (*ret_failed_phase),
 * 0 otherwise.
 */
static int eligible(struct ro *ro, const struct plan_node *pn, const size_t *map, size_t k, bool *ok,
		    int *ret_failed_phase)
{
	int64_t sites[MAX_SITES], paired[MAX_SITES];
	int phase_of[MAX_SITES], phases, cur = -1;
	size_t n_sites = 0;

	phases = site_phases(ro, sites, paired, phase_of, &n_sites);
	/* The current phase: the first with something to do; every phase before it must have succeeded. */
	for (int ph = 0; ph < phases && cur < 0; ph++) {
		bool todo = false, failed = false;
		for (size_t i = 0; i < k; i++) {
			const struct rn *n = &ro->nodes[map[i]];
			if (phase_of_site(n->m.site, sites, phase_of, n_sites) != ph)
				continue;
			todo |= !pn[i].done && !pn[i].quarantined;
			failed |= failed_phase(n->phase) || orch_phase_inflight(n->phase);
		}
		if (todo)
			cur = ph;
		else if (failed && ph + 1 < phases) {
			*ret_failed_phase = ph + 1;
			return -1;
		}
	}
	for (size_t i = 0; i < k; i++)
		ok[i] = cur < 0 || phase_of_site(ro->nodes[map[i]].m.site, sites, phase_of, n_sites) == cur;
	if (!ro->pool.canary || ro->r.canary_done)
		return 0;
	/* Canaries: one node at a time, the first pending one of a model no canary of this rollout had. */
	const char *seen[MAX_MODELS];
	size_t n_seen = 0;
	for (size_t j = 0; j < ro->n; j++) {
		size_t m;
		if (ro->nodes[j].x.batch <= 0)
			continue;
		for (m = 0; m < n_seen && !str_eq(seen[m], ro->nodes[j].m.hw_model); m++)
			;
		if (m == n_seen && n_seen < MAX_MODELS)
			seen[n_seen++] = ro->nodes[j].m.hw_model;
	}
	if (n_seen == MAX_MODELS)
		return 1; /* that many models: enough canaries */
	for (size_t i = 0; i < k; i++) {
		const struct rn *n = &ro->nodes[map[i]];
		size_t m;
		if (!ok[i] || pn[i].done || pn[i].quarantined)
			continue;
		for (m = 0; m < n_seen && !str_eq(seen[m], n->m.hw_model); m++)
			;
		if (m == n_seen) {
			for (size_t j = 0; j < k; j++)
				ok[j] = j == i;
			return 0;
		}
	}
	return 1;
}

/* Between batches: stop, complete, wait, or start the next batch. */
static int boundary(struct orch *o, struct ro *ro, int64_t now)
{
	enum plan_verdict v;
	struct plan_policy pol = policy_of(&ro->pool);
	struct plan_node *pn = NULL;
	size_t *map = NULL, *batch = NULL, k = 0, len = 0;
	bool *ok = NULL;
	int r, failed_phase = 0, el;
	/* batch_done_at is 0 while a batch runs: it is set once, when the batch finished. */
	bool just_done = ro->r.batches > 0 && ro->r.batch_done_at == 0;

	if (!just_done && !ro->r.cancel_requested && ro->r.batches > 0 &&
	    now < ro->r.batch_done_at + ro->pool.pause_between_batches)
		return 0; /* pausing; the after-batch check was made when the batch finished */
	if (just_done) {
		/* The batch just finished: note its duration, then the after-batch check. */
		ro->r.batch_done_at = now;
		ro->r.batch_seconds += now - ro->r.batch_started_at;
		if ((r = store_rollout_update(o->s, &ro->r)) < 0)
			return r;
	}
	if (ro->r.cancel_requested)
		return finish(o, ro, "Cancelled", "", now, "cancelled after %lld batches", (long long)ro->r.batches);
	if (o->cfg.rollout_timeout && now - ro->r.started_at > o->cfg.rollout_timeout)
		return finish(o, ro, "Faulted", "RollingUpgradeTimeout", now,
			      "not finished within rollout_timeout (%lld s) after %lld batches; nothing new starts",
			      (long long)o->cfg.rollout_timeout, (long long)ro->r.batches);
	/* The batch decision works from the store (a step that started by loading it has it). */
	if (!ro->fresh && (r = load(o, ro)) < 0)
		return r;
	if ((r = gather(o, ro, &pn, &map, &k)) < 0)
		return r;
	r = -ENOMEM;
	if (!(batch = calloc(k ? k : 1, sizeof(*batch))) || !(ok = calloc(k ? k : 1, sizeof(*ok))))
		goto out;
	r = 0;
	/* The rules first, over every node: the thresholds, and whether anything is left. */
	v = plan_next(&pol, pn, k, ro->r.batches == 0, batch, &len);
	if (v != PLAN_BATCH) {
		if (v == PLAN_COMPLETE)
			r = finish(o, ro, "Completed", "", now, "every node of pool %s handled in %lld batches",
				   ro->pool.name, (long long)ro->r.batches);
		else
			r = finish(o, ro, "Faulted", plan_error_code(v), now, "%s",
				   v == PLAN_STOP_UPGRADED
					   ? "too many upgraded nodes are unhealthy (max_unhealthy_upgraded_percent)"
					   : "too many nodes of the pool are unhealthy (max_unhealthy_percent)");
		goto out;
	}
	/* A failed earlier phase is a Faulted decision like the thresholds above: taken now, not after
	 * the pause, the bake or the next window (which may be days away). Found by
	 * tests/unit/test_orch_sim.c (test_phase_failed, test_whole_1000). */
	el = eligible(ro, pn, map, k, ok, &failed_phase);
	if (el < 0) {
		r = finish(o, ro, "Faulted", "PreviousPhaseFailedInRollingUpgrade", now,
			   "a node of an earlier phase failed; phase %d (sites) does not start", failed_phase + 1);
		goto out;
	}
	if (ro->r.batches > 0 && now < ro->r.batch_done_at + ro->pool.pause_between_batches)
		goto out;
	if (now < ro->r.bake_until)
		goto out; /* the canaries bake */
	if (ro->pool.maintenance_windows[0]) {
		struct window_set ws;
		char why[128];
		if (window_parse(ro->pool.maintenance_windows, &ws, why, sizeof(why)) == 0 && !window_open(&ws, now))
			goto out; /* outside every maintenance window: no new batch */
	}
	switch (el) {
	case 1:
		/* Every model had its canary: bake, then the waves. */
		ro->r.canary_done = true;
		ro->r.bake_until = now + ro->pool.canary_bake;
		log_msg(LOG_INFO_, NULL, "rollout %lld of pool %s: canaries done; baking %lld s", (long long)ro->r.id,
			ro->pool.name, (long long)ro->pool.canary_bake);
		r = store_rollout_update(o->s, &ro->r);
		goto out;
	default:
		break;
	}
	for (size_t i = 0; i < k; i++)
		pn[i].done |= !ok[i];
	v = plan_next(&pol, pn, k, ro->r.batches == 0, batch, &len);
	if (v != PLAN_BATCH || len == 0)
		goto out; /* nothing eligible now (the rules above already held) */
	ro->r.batches++;
	ro->r.batch_started_at = now;
	ro->r.batch_done_at = 0;
	if ((r = store_rollout_update(o->s, &ro->r)) < 0)
		goto out;
	for (size_t j = 0; j < len; j++) {
		size_t i = map[batch[j]];
		struct rn *n = &ro->nodes[i];
		n->x.batch = ro->r.batches;
		n->x.started_at = now;
		n->x.written_at = 0;
		n->x.finished_at = 0;
		n->x.reason[0] = '\0';
		if (is_ext(ro)) {
			struct orch_req q = req_of(ro, n);
			struct orch_obs ob = { 0 };
			q.since = 0;
			o->env.observe(o->env.ctx, &q, &ob);
			snprintf(n->x.prev_slot, sizeof(n->x.prev_slot), "none");
			n->x.prev_image = ro->r.image;
			snprintf(n->x.prev_version, sizeof(n->x.prev_version), "%s", ob.version);
		} else {
			snprintf(n->x.prev_slot, sizeof(n->x.prev_slot), "%s", n->m.active_slot);
			n->x.prev_image = n->m.installed_image;
			snprintf(n->x.prev_version, sizeof(n->x.prev_version), "%s", n->m.installed_version);
		}
		if ((r = to_phase(o, ro, n, is_ext(ro) ? PH_RUNNING_EXTENSIONS : PH_POWERING, now, NULL)) < 0)
			goto out;
		queue(o, ro, i, false);
	}
	log_msg(LOG_INFO_, NULL, "rollout %lld of pool %s: batch %lld of %zu nodes started%s", (long long)ro->r.id,
		ro->pool.name, (long long)ro->r.batches, len,
		ro->pool.canary && !ro->r.canary_done ? " (canary)" : "");
out:
	free(pn);
	free(map);
	free(batch);
	free(ok);
	return r;
}

/* One step of one rollout, in one transaction; actions are queued for after the commit. */
static int step_one(struct orch *o, struct ro *ro, int64_t now)
{
	size_t inflight = 0;
	int r = 0;

	if (!ro->loaded) {
		if ((r = load(o, ro)) < 0)
			return r;
		ro->fresh = true;
	}
	for (size_t i = 0; i < ro->n && r == 0; i++)
		if (orch_phase_inflight(ro->nodes[i].phase)) {
			r = advance(o, ro, i, now);
			inflight += orch_phase_inflight(ro->nodes[i].phase);
		}
	if (r == 0 && inflight == 0)
		r = boundary(o, ro, now);
	ro->fresh = false;
	return r;
}

static void run_actions(struct orch *o)
{
	for (size_t k = 0; k < o->n_acts; k++) {
		struct act *a = &o->acts[k];
		struct rn *n = &a->ro->nodes[a->i];
		struct orch_req q = req_of(a->ro, n);
		char err[200] = "";
		int r;

		if (a->rollback) {
			q.image = n->x.prev_image;
			q.version = n->x.prev_version;
			q.slot = n->x.prev_slot;
			r = o->env.rollback(o->env.ctx, &q, err, sizeof(err));
		} else
			r = o->env.reimage(o->env.ctx, &q, err, sizeof(err));
		if (r < 0)
			snprintf(n->act_err, sizeof(n->act_err), "%s", err[0] ? err : strerror(-r));
	}
	o->n_acts = 0;
}

static struct ro *cached(struct orch *o, const struct bw_rollout *r)
{
	for (struct ro *ro = o->cache; ro; ro = ro->next)
		if (ro->r.id == r->id)
			return ro;
	struct ro *ro = calloc(1, sizeof(*ro));
	if (!ro)
		return NULL;
	ro->r = *r;
	ro->next = o->cache;
	o->cache = ro;
	return ro;
}

/* Drops cached rollouts that no longer roll forward. */
static void prune(struct orch *o)
{
	for (struct ro **p = &o->cache; *p;) {
		if (!str_eq((*p)->r.status, "RollingForward")) {
			struct ro *dead = *p;
			*p = dead->next;
			ro_free(dead);
		} else
			p = &(*p)->next;
	}
}

static int start_locked(struct orch *o, const struct bw_pool *pool, const struct bw_image_version *v,
			const char *extension, const char *started_by, const char *by_name, struct bw_rollout *ret,
			struct orch_err *err);

/*
 * An automatic rollout completed on a pool that follows latest with
 * auto_upgrade, and latest moved on while it ran: the next one. (A user's
 * rollout, say to an older version, is not followed by one back to latest.)
 */
static void follow_latest(struct orch *o, struct ro *ro)
{
	struct bw_image_version v;
	struct orch_err err;

	if (is_ext(ro) || !str_eq(ro->r.started_by, "platform") || !ro->pool.auto_upgrade ||
	    !str_eq(ro->pool.image_version, "latest") || ro->pool.image != ro->r.image ||
	    store_version_latest(o->s, ro->pool.image, &v) < 0 || str_eq(v.version, ro->r.version))
		return;
	if (start_locked(o, &ro->pool, &v, NULL, "platform", NULL, NULL, &err) < 0)
		log_msg(LOG_ERR_, NULL, "pool %s: the rollout to latest %s could not start: %s", ro->pool.name,
			v.version, err.message);
}

static int ext_check_locked(struct orch *o, int64_t now);

/* How often orch_step looks for automatic extension upgrades (and retries that came due). */
#define ORCH_EXT_CHECK_S 30

static int last_os_rollout(const struct bw_rollout *r, void *userdata)
{
	if (r->extension[0])
		return 0;
	*(struct bw_rollout *)userdata = *r;
	return 1;
}

/*
 * A rollout of an extension ended on a pool that follows latest with
 * auto_upgrade: if a new latest was published meanwhile (its automatic
 * rollout could not start while this one rolled forward), it starts now.
 */
static void os_catch_up(struct orch *o, struct ro *ro)
{
	struct bw_image_version v;
	struct bw_rollout last = { .id = 0 };
	struct orch_err err;

	if (!is_ext(ro) || !ro->pool.auto_upgrade || !str_eq(ro->pool.image_version, "latest") ||
	    store_version_latest(o->s, ro->pool.image, &v) < 0 ||
	    store_rollout_list(o->s, ro->pool.id, 0, 0, last_os_rollout, &last) < 0 || !last.id ||
	    (last.image == v.image && str_eq(last.version, v.version)))
		return;
	if (start_locked(o, &ro->pool, &v, NULL, "platform", NULL, NULL, &err) < 0)
		log_msg(LOG_ERR_, NULL, "pool %s: the rollout to latest %s could not start: %s", ro->pool.name,
			v.version, err.message);
}

struct running {
	struct bw_rollout *r;
	size_t n, cap;
};

static int add_running(const struct bw_rollout *r, void *userdata)
{
	struct running *l = userdata;

	if (!str_eq(r->status, "RollingForward"))
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 8;
		struct bw_rollout *p = realloc(l->r, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		l->r = p;
		l->cap = cap;
	}
	l->r[l->n++] = *r;
	return 0;
}

int orch_step(struct orch *o)
{
	struct running l = { 0 };
	int r, left = 0;

	pthread_mutex_lock(&o->lock);
	if ((r = store_rollout_list(o->s, 0, 0, 0, add_running, &l)) < 0)
		goto out;
	for (size_t k = 0; k < l.n; k++) {
		struct ro *ro = cached(o, &l.r[k]);
		int64_t now = o->env.now(o->env.ctx);

		if (!ro) {
			r = -ENOMEM;
			break;
		}
		/* The row may have changed under us (a cancel): the store wins. */
		ro->r.cancel_requested = l.r[k].cancel_requested;
		if ((r = store_tx_begin(o->s)) < 0)
			break;
		r = step_one(o, ro, now);
		if (r < 0) {
			store_tx_rollback(o->s);
			/* What the cache holds may be ahead of the store now: reload it. */
			ro->loaded = false;
			store_rollout_get(o->s, ro->r.id, &ro->r);
			o->n_acts = 0;
			log_msg(LOG_ERR_, NULL, "rollout %lld: step failed: %s", (long long)l.r[k].id, strerror(-r));
			break;
		}
		if ((r = store_tx_commit(o->s)) < 0) {
			ro->loaded = false;
			store_rollout_get(o->s, ro->r.id, &ro->r);
			o->n_acts = 0;
			break;
		}
		run_actions(o);
		left += str_eq(ro->r.status, "RollingForward");
		if (str_eq(ro->r.status, "Completed"))
			follow_latest(o, ro);
		if (!str_eq(ro->r.status, "RollingForward"))
			os_catch_up(o, ro);
	}
	prune(o);
	if (r >= 0) {
		int64_t now = o->env.now(o->env.ctx);
		if (now - o->ext_checked_at >= ORCH_EXT_CHECK_S || now < o->ext_checked_at) {
			int started;
			o->ext_checked_at = now;
			if ((started = ext_check_locked(o, now)) > 0)
				left += started;
		}
	}
out:
	pthread_mutex_unlock(&o->lock);
	free(l.r);
	return r < 0 ? r : left;
}

/* ---- starting and stopping ---- */

/*
 * Starts a rollout of pool: to image version v (extension NULL), or of
 * extension to version v->version (v->image: the pool's image).
 */
static int start_locked(struct orch *o, const struct bw_pool *pool, const struct bw_image_version *v,
			const char *extension, const char *started_by, const char *by_name, struct bw_rollout *ret,
			struct orch_err *err)
{
	struct bw_rollout r = { .pool = pool->id, .image = v->image };
	struct ro tmp = { 0 };
	struct load l = { .ro = &tmp };
	int64_t now = o->env.now(o->env.ctx);
	int rc;

	snprintf(r.version, sizeof(r.version), "%s", v->version);
	snprintf(r.status, sizeof(r.status), "RollingForward");
	snprintf(r.started_by, sizeof(r.started_by), "%s", started_by);
	snprintf(r.started_by_name, sizeof(r.started_by_name), "%s", by_name ? by_name : "");
	snprintf(r.extension, sizeof(r.extension), "%s", extension ? extension : "");
	r.started_at = now;
	if ((rc = store_pool_members(o->s, pool->id, add_member, &l)) < 0 || l.err < 0) {
		free(tmp.nodes);
		set_err(err, 503, "unavailable", NULL, "store failed");
		return rc < 0 ? rc : l.err;
	}
	tmp.r = r;
	tmp.pool = *pool;
	if ((rc = store_tx_begin(o->s)) < 0) {
		free(tmp.nodes);
		set_err(err, 503, "unavailable", NULL, "store failed");
		return rc;
	}
	rc = store_rollout_insert(o->s, &r);
	if (rc == -EEXIST) {
		store_tx_rollback(o->s);
		free(tmp.nodes);
		set_err(err, 409, "rollout_running", NULL, "pool %s already has a rollout rolling forward", pool->name);
		return rc;
	}
	tmp.r.id = r.id;
	/* Every member gets its row: pending, or skipped when it already runs the target. */
	for (size_t i = 0; i < tmp.n && rc == 0; i++) {
		struct rn *n = &tmp.nodes[i];
		if (extension) {
			/* What the node runs of the extension, as its last successful run says. */
			struct orch_req q = req_of(&tmp, n);
			struct orch_obs ob = { 0 };
			q.since = 0;
			o->env.observe(o->env.ctx, &q, &ob);
			n->phase = str_eq(ob.version, v->version) ? PH_SKIPPED : PH_PENDING;
			snprintf(n->x.prev_slot, sizeof(n->x.prev_slot), "none");
			n->x.prev_image = v->image;
			snprintf(n->x.prev_version, sizeof(n->x.prev_version), "%s", ob.version);
		} else {
			n->phase = on_target(&tmp, n) ? PH_SKIPPED : PH_PENDING;
			snprintf(n->x.prev_slot, sizeof(n->x.prev_slot), "%s", n->m.active_slot);
			n->x.prev_image = n->m.installed_image;
			snprintf(n->x.prev_version, sizeof(n->x.prev_version), "%s", n->m.installed_version);
		}
		n->x.phase_at = now;
		if (n->phase == PH_SKIPPED)
			snprintf(n->x.reason, sizeof(n->x.reason), "already on %s%s%s", extension ? extension : "",
				 extension ? "@" : "", v->version);
		rc = put_row(o, &tmp, n);
	}
	if (rc == 0)
		rc = store_event_add(o->s, 0, r.id, "rollout", "rollout %lld of pool %s to %s%s%s started by %s%s%s",
				     (long long)r.id, pool->name, extension ? extension : "version ",
				     extension ? "@" : "", v->version, started_by, by_name ? " " : "",
				     by_name ? by_name : "");
	if (rc < 0)
		store_tx_rollback(o->s);
	else
		rc = store_tx_commit(o->s);
	free(tmp.nodes);
	if (rc < 0) {
		set_err(err, 503, "unavailable", NULL, "store failed");
		return rc;
	}
	log_msg(LOG_INFO_, NULL, "rollout %lld of pool %s to %s%s%s started by %s %s", (long long)r.id, pool->name,
		extension ? extension : "", extension ? "@" : "", v->version, started_by, by_name ? by_name : "");
	if (ret)
		*ret = r;
	return 0;
}

/* Resolves the version a rollout of pool goes to. */
static int resolve(struct orch *o, const struct bw_pool *pool, const char *version, struct bw_image_version *v,
		   struct orch_err *err)
{
	int rc;

	if (!version)
		version = pool->image_version;
	if (str_eq(version, "latest")) {
		rc = store_version_latest(o->s, pool->image, v);
		if (rc == -ENOENT)
			set_err(err, 409, "no_version", "version",
				"the image of pool %s has no version for latest (none published, or all excluded)",
				pool->name);
		else if (rc < 0)
			set_err(err, 503, "unavailable", NULL, "store failed");
		return rc;
	}
	rc = store_get_by_key(o->s, &model_image_version, pool->image, version, v);
	if (rc == -ENOENT)
		set_err(err, 404, "not_found", "version", "the image of pool %s has no version '%s'", pool->name,
			version);
	else if (rc < 0)
		set_err(err, 503, "unavailable", NULL, "store failed");
	return rc;
}

int orch_start(struct orch *o, int64_t pool_id, const char *version, const char *started_by, const char *by_name,
	       struct bw_rollout *ret, struct orch_err *err)
{
	struct bw_pool pool;
	struct bw_image_version v;
	int rc;

	if (store_get(o->s, &model_pool, pool_id, &pool) < 0) {
		set_err(err, 404, "not_found", "pool", "no such pool");
		return -ENOENT;
	}
	if ((rc = resolve(o, &pool, version, &v, err)) < 0)
		return rc;
	pthread_mutex_lock(&o->lock);
	rc = start_locked(o, &pool, &v, NULL, started_by, by_name, ret, err);
	pthread_mutex_unlock(&o->lock);
	return rc;
}

int orch_cancel(struct orch *o, int64_t pool_id, struct bw_rollout *ret, struct orch_err *err)
{
	struct bw_rollout r;
	int rc;

	pthread_mutex_lock(&o->lock);
	rc = store_rollout_running(o->s, pool_id, &r);
	if (rc == -ENOENT)
		set_err(err, 409, "nothing_running", NULL, "the pool has no rollout rolling forward");
	else if (rc < 0)
		set_err(err, 503, "unavailable", NULL, "store failed");
	if (rc == 0 && !r.cancel_requested) {
		r.cancel_requested = true;
		if ((rc = store_rollout_update(o->s, &r)) < 0)
			set_err(err, 503, "unavailable", NULL, "store failed");
		else
			store_event_add(o->s, 0, r.id, "rollout",
					"rollout %lld: cancel asked; the current batch finishes, no new one starts",
					(long long)r.id);
		for (struct ro *ro = o->cache; ro; ro = ro->next)
			if (ro->r.id == r.id)
				ro->r.cancel_requested = true;
	}
	pthread_mutex_unlock(&o->lock);
	if (rc == 0 && ret)
		*ret = r;
	return rc;
}

struct follow {
	struct orch *o;
	int64_t ids[256];
	size_t n;
};

static int add_follower(int64_t pool, void *userdata)
{
	struct follow *f = userdata;
	if (f->n < ARRAY_SIZE(f->ids))
		f->ids[f->n++] = pool;
	return 0;
}

int orch_published(struct orch *o, int64_t image, const char *version)
{
	struct follow f = { .o = o };
	struct bw_image_version latest;
	int started = 0;

	/* Only a version that is now latest moves the pools that follow latest. */
	if (store_version_latest(o->s, image, &latest) < 0 || !str_eq(latest.version, version))
		return 0;
	if (store_pools_following(o->s, image, add_follower, &f) < 0)
		return -EIO;
	for (size_t k = 0; k < f.n; k++) {
		struct bw_rollout cur;
		struct orch_err err;

		/* A rollout already rolling forward to the new latest is left alone; one to an older
		 * version goes on (its batches finish) and the next one starts after it. */
		if (store_rollout_running(o->s, f.ids[k], &cur) == 0)
			continue;
		if (orch_start(o, f.ids[k], "latest", "platform", NULL, NULL, &err) == 0)
			started++;
	}
	return started;
}

/* ---- extensions ---- */

struct newest {
	struct extver cur;
	char best[VERSION_MAX_LEN + 1];
	struct extver bv;
	bool any_major; /* false: the same major only */
	const char *want; /* a given version: found? */
	bool found;
};

static int newer_one(const void *obj, void *ud)
{
	const struct bw_extension_version *v = obj;
	struct newest *nw = ud;
	struct extver x;

	if (nw->want && str_eq(nw->want, v->version))
		nw->found = true;
	if (extver_parse(v->version, &x) < 0 || (!nw->any_major && x.major != nw->cur.major) ||
	    extver_cmp(&x, &nw->cur) <= 0)
		return 0;
	if (!nw->best[0] || extver_cmp(&x, &nw->bv) > 0) {
		snprintf(nw->best, sizeof(nw->best), "%s", v->version);
		nw->bv = x;
	}
	return 0;
}

/* Scans the catalog's versions of extension name into nw. */
static int scan_versions(struct orch *o, const char *name, struct newest *nw)
{
	struct bw_extension x;
	struct store_filter f = { .field = model_field(&model_extension_version, "extension") };
	int r;

	if ((r = store_get_by_key(o->s, &model_extension, 0, name, &x)) < 0)
		return r;
	f.ival = x.id;
	return store_list(o->s, &model_extension_version, &f, 1, 0, 0, newer_one, nw, NULL);
}

static int start_ext_locked(struct orch *o, const struct bw_pool *pool, const struct bw_pool_extension *pe,
			    const char *version, const char *started_by, const char *by_name, struct bw_rollout *ret,
			    struct orch_err *err)
{
	struct bw_image_version v = { .image = pool->image };

	snprintf(v.version, sizeof(v.version), "%s", version);
	return start_locked(o, pool, &v, pe->name, started_by, by_name, ret, err);
}

int orch_start_extension(struct orch *o, int64_t pool_id, const char *extension, const char *version,
			 const char *started_by, const char *by_name, struct bw_rollout *ret, struct orch_err *err)
{
	struct bw_pool pool;
	struct bw_pool_extension pe;
	struct newest nw = { .want = version, .any_major = true };
	int rc;

	if (store_get(o->s, &model_pool, pool_id, &pool) < 0) {
		set_err(err, 404, "not_found", "pool", "no such pool");
		return -ENOENT;
	}
	if (store_get_by_key(o->s, &model_pool_extension, pool_id, extension, &pe) < 0) {
		set_err(err, 404, "not_found", "extension", "pool %s runs no extension %s", pool.name, extension);
		return -ENOENT;
	}
	if (extver_parse(pe.version, &nw.cur) < 0)
		memset(&nw.cur, 0, sizeof(nw.cur));
	if ((rc = scan_versions(o, extension, &nw)) < 0) {
		set_err(err, 503, "unavailable", NULL, "store failed");
		return rc;
	}
	if (!version)
		version = nw.best[0] ? nw.best : pe.version;
	else if (!nw.found) {
		set_err(err, 404, "not_found", "version", "extension %s has no version %s", extension, version);
		return -ENOENT;
	}
	pthread_mutex_lock(&o->lock);
	rc = start_ext_locked(o, &pool, &pe, version, started_by, by_name, ret, err);
	pthread_mutex_unlock(&o->lock);
	return rc;
}

struct autos {
	struct bw_pool_extension *pe;
	size_t n, cap;
};

static int add_auto(const void *obj, void *ud)
{
	struct autos *a = ud;
	if (a->n == a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 16;
		struct bw_pool_extension *p = realloc(a->pe, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		a->pe = p;
		a->cap = cap;
	}
	memcpy(&a->pe[a->n++], obj, sizeof(*a->pe));
	return 0;
}

/* orch_ext_check with the lock held. */
static int ext_check_locked(struct orch *o, int64_t now)
{
	struct autos a = { 0 };
	struct store_filter f = { .field = model_field(&model_pool_extension, "auto_upgrade"), .ival = 1 };
	int started = 0, r;

	if ((r = store_list(o->s, &model_pool_extension, &f, 1, 0, 0, add_auto, &a, NULL)) < 0) {
		free(a.pe);
		return r;
	}
	for (size_t k = 0; k < a.n; k++) {
		const struct bw_pool_extension *pe = &a.pe[k];
		struct newest nw = { .want = NULL };
		struct bw_rollout cur;
		struct bw_pool pool;
		struct orch_err err;

		/* One rollout per pool at a time: the next extension waits for this one. */
		if (store_rollout_running(o->s, pe->pool, &cur) == 0 || extver_parse(pe->version, &nw.cur) < 0 ||
		    scan_versions(o, pe->name, &nw) < 0 || !nw.best[0])
			continue;
		/* A minor version that was rolled back waits for its retry; a newer one does not. */
		if (str_eq(nw.best, pe->failed_version) && now < pe->retry_after)
			continue;
		if (store_get(o->s, &model_pool, pe->pool, &pool) < 0)
			continue;
		if (start_ext_locked(o, &pool, pe, nw.best, "platform", NULL, NULL, &err) == 0) {
			started++;
			log_msg(LOG_INFO_, NULL, "pool %s: automatic upgrade of extension %s from %s to %s%s", pool.name,
				pe->name, pe->version, nw.best,
				str_eq(nw.best, pe->failed_version) ? " (a retry)" : "");
		} else
			log_msg(LOG_ERR_, NULL, "pool %s: the upgrade of extension %s to %s could not start: %s",
				pool.name, pe->name, nw.best, err.message);
	}
	free(a.pe);
	return started;
}

int orch_ext_check(struct orch *o)
{
	int r;

	pthread_mutex_lock(&o->lock);
	r = ext_check_locked(o, o->env.now(o->env.ctx));
	pthread_mutex_unlock(&o->lock);
	return r;
}

/* ---- reading ---- */

static int count_row(const struct bw_rollout_node *x, void *userdata)
{
	struct orch_counts *c = userdata;
	enum orch_phase p = orch_phase_parse(x->phase);

	if (p < PH_N)
		c->phase[p]++;
	return 0;
}

int orch_counts(struct orch *o, int64_t rollout, struct orch_counts *c)
{
	int r;

	memset(c, 0, sizeof(*c));
	if ((r = store_rollout_nodes(o->s, rollout, count_row, c)) < 0)
		return r;
	c->successful = c->phase[PH_SUCCEEDED];
	c->failed = c->phase[PH_FAILED] + c->phase[PH_ROLLED_BACK] + c->phase[PH_ROLLBACK_FAILED];
	c->pending = c->phase[PH_PENDING];
	c->skipped = c->phase[PH_SKIPPED];
	c->rolled_back = c->phase[PH_ROLLED_BACK];
	c->rollback_failed = c->phase[PH_ROLLBACK_FAILED];
	for (int p = 0; p < PH_N; p++)
		if (orch_phase_inflight((enum orch_phase)p))
			c->in_progress += c->phase[p];
	return 0;
}

static int node_json(const struct bw_rollout_node *x, void *userdata)
{
	json_array_append_new(userdata, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:s}", "node", x->name, "phase",
						  x->phase, "batch", (json_int_t)x->batch, "phase_at",
						  (json_int_t)x->phase_at, "started_at", (json_int_t)x->started_at,
						  "finished_at", (json_int_t)x->finished_at, "previous_version",
						  x->prev_version, "reason", x->reason));
	return 0;
}

json_t *orch_rollout_json(struct orch *o, const struct bw_rollout *r, bool with_nodes)
{
	struct orch_counts c;
	char pool[NAME_MAX_LEN + 1] = "", image[NAME_MAX_LEN + 1] = "";
	json_t *j;

	if (orch_counts(o, r->id, &c) < 0)
		return NULL;
	store_key_of(o->s, &model_pool, r->pool, pool, sizeof(pool));
	store_key_of(o->s, &model_image, r->image, image, sizeof(image));
	j = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:I, s:I, s:o, s:{s:I, s:I, s:I, s:I, s:I},"
		      " s:{s:I, s:I}}",
		      "id", (json_int_t)r->id, "pool", pool, "image", image, "extension", r->extension, "version",
		      r->version, "status", r->status,
		      "error_code", r->error_code, "message", r->message, "started_by", r->started_by,
		      "started_by_name", r->started_by_name, "cancel_requested", r->cancel_requested, "batches",
		      (json_int_t)r->batches, "started_at", (json_int_t)r->started_at, "completed_at",
		      r->completed_at ? json_integer(r->completed_at) : json_null(), "progress", "successful",
		      (json_int_t)c.successful, "failed", (json_int_t)c.failed, "in_progress", (json_int_t)c.in_progress,
		      "pending", (json_int_t)c.pending, "skipped", (json_int_t)c.skipped, "rollback", "rolled_back",
		      (json_int_t)c.rolled_back, "failed", (json_int_t)c.rollback_failed);
	if (!j)
		return NULL;
	/* ETA: the mean duration of finished batches times the batches left at the current size. */
	if (str_eq(r->status, "RollingForward")) {
		/* batch_done_at is 0 while a batch runs (boundary()). */
		int64_t done_batches = r->batches - (r->batches > 0 && r->batch_done_at == 0);
		json_t *eta = json_null();
		if (done_batches > 0) {
			int64_t per = r->batch_seconds / done_batches;
			int64_t total = c.successful + c.failed + c.in_progress + c.pending;
			struct bw_pool p;
			if (store_get(o->s, &model_pool, r->pool, &p) == 0) {
				int64_t size = (int64_t)plan_batch_size((size_t)total, (unsigned)p.max_batch_percent);
				int64_t left = (c.pending + size - 1) / size;
				eta = json_integer(o->env.now(o->env.ctx) + left * (per + p.pause_between_batches) +
						   (c.in_progress ? per : 0));
			}
		}
		json_object_set_new(j, "eta", eta);
	}
	if (with_nodes) {
		json_t *nodes = json_array();
		store_rollout_nodes(o->s, r->id, node_json, nodes);
		json_object_set_new(j, "nodes", nodes);
	}
	return j;
}
