// SPDX-License-Identifier: Apache-2.0
/*
 * The extension runner of bootwaved: see ext_runner.h. A dispatcher thread
 * looks for work every second (or when poked) and hands jobs to a fixed set
 * of workers through a bounded queue; a node with a job queued or running
 * gets no other, so a node's runs never overlap. The store is the only
 * state that matters: a crash loses at most the runs in flight, which the
 * next start takes up again.
 */
#include "ext_runner.h"

#include <stdatomic.h>

#include "api-internal.h"
#include "extorder.h"
#include "routes_extensions.h"
#include "sshrun.h"
#include "u64map.h"

#define RUNNER_QUEUE 1024
#define HOST_KEY_WAIT_S 60 /* after the first heartbeat, how long a missing host key is waited for */

struct job {
	int64_t node;
	int64_t run;          /* a single queued run, or 0: the node's provisioning */
	int64_t provision_ts; /* provisioning: the node's provision_after_ts when it was picked */
};

struct ext_runner {
	struct api *a;
	pthread_t dispatcher;
	pthread_t *workers;
	int n_workers;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t wake, work;
	bool stop;
	atomic_bool abort; /* cuts the SSH sessions in flight */
	struct job queue[RUNNER_QUEUE];
	size_t head, len;
	struct u64map busy; /* nodes with a job queued or running */
};

/* ---- one run ---- */

static void node_event(struct api *a, const struct bw_node *n, const struct bw_ext_run *run)
{
	store_event_add(a->store, n->id, run->rollout_id == INT_NULL ? 0 : run->rollout_id, "extension",
			"%s@%s (%s): %s%s%s", run->extension, run->version, run->trigger, run->state,
			run->error[0] ? ": " : "", run->error);
}

static void finish(struct api *a, const struct bw_node *n, struct bw_ext_run *run, const char *state,
		   const struct sshrun_result *res, const char *fmt, ...) _printf_(6, 7);
static void finish(struct api *a, const struct bw_node *n, struct bw_ext_run *run, const char *state,
		   const struct sshrun_result *res, const char *fmt, ...)
{
	va_list ap;

	snprintf(run->state, sizeof(run->state), "%s", state);
	run->error[0] = '\0';
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(run->error, sizeof(run->error), fmt, ap);
		va_end(ap);
	}
	run->finished_at = time(NULL);
	if (res) {
		run->exit_status = res->stage == SR_DONE && res->exit_status >= 0 ? res->exit_status : INT_NULL;
		run->stdout_bytes = (int64_t)res->out_total;
		run->stderr_bytes = (int64_t)res->err_total;
		run->truncated = res->out_total > res->out_len || res->err_total > res->err_len;
	}
	if (store_ext_run_finish(a->store, run, res ? res->out : NULL, res ? res->out_len : 0, res ? res->err : NULL,
				 res ? res->err_len : 0) < 0)
		log_msg(LOG_WARN_, &(struct log_ctx){ .node = n->name }, "extension %s: cannot record the run",
			run->extension);
	node_event(a, n, run);
	log_msg(str_eq(state, "succeeded") ? LOG_INFO_ : LOG_WARN_, &(struct log_ctx){ .node = n->name },
		"extension %s@%s (%s): %s%s%s", run->extension, run->version, run->trigger, state,
		run->error[0] ? ": " : "", run->error);
}

/*
 * Runs extension pe at run->version on node n over SSH: the run's row goes
 * running, then succeeded or failed with the output kept.
 */
static void run_one(struct ext_runner *x, const struct bw_node *n, const struct bw_pool_extension *pe,
		    struct bw_ext_run *run)
{
	struct api *a = x->a;
	const struct config *cfg = a->cfg;
	struct bw_extension_version v;
	struct sshrun_result res = { 0 };
	_cleanup_free_ void *bundle = NULL;
	size_t len = 0;
	char ip[16], envs[3][128], key_dir[CONFIG_PATH_MAX];
	const char *env[4];
	bool mask[MODEL_MAX_FIELDS] = { false };
	int r;

	snprintf(run->state, sizeof(run->state), "running");
	run->started_at = time(NULL);
	mask[model_field(&model_ext_run, "state") - model_ext_run.fields] = true;
	mask[model_field(&model_ext_run, "started_at") - model_ext_run.fields] = true;
	store_update(a->store, &model_ext_run, run, mask, NULL);

	if ((r = ext_bundle_load(a, run->extension, run->version, &v, &bundle, &len)) < 0)
		return finish(a, n, run, "failed", NULL, "bundle %s@%s: %s", run->extension, run->version,
			      r == -ENOENT ? "not in the catalog" : strerror(-r));
	api_node_ip(a, n, ip, sizeof(ip));
	if (!ip[0])
		return finish(a, n, run, "failed", NULL, "no address known for the node (no reservation, no lease)");
	if (!n->ssh_host_key[0])
		return finish(a, n, run, "failed", NULL,
			      "the node's agent reported no SSH host key (bootwave-agent heartbeat --host-key)");
	snprintf(envs[0], sizeof(envs[0]), "BW_NODE=%s", n->name);
	snprintf(envs[1], sizeof(envs[1]), "BW_TRIGGER=%s", run->trigger);
	snprintf(envs[2], sizeof(envs[2]), "BW_RUN=%lld", (long long)run->id);
	env[0] = envs[0];
	env[1] = envs[1];
	env[2] = envs[2];
	env[3] = NULL;
	snprintf(key_dir, sizeof(key_dir), "%s", cfg->state_dir);
	struct sshrun_req q = {
		.host = ip,
		.port = (uint16_t)n->ssh_port,
		.user = n->ssh_user[0] ? n->ssh_user : "root",
		.host_key = n->ssh_host_key,
		.key_dir = key_dir,
		.name = run->extension,
		.version = run->version,
		.bundle = bundle,
		.bundle_len = len,
		.entry = v.entry,
		.settings = pe->settings,
		.env = env,
		.timeout_s = (int)pe->timeout,
		.output_cap = (size_t)cfg->ext_output_cap,
		.cancel = &x->abort,
	};
	r = sshrun_run(&q, &res);
	if (atomic_load(&x->abort)) {
		/* Shutting down: the run stays "running" and is taken up again at the next start. */
		sshrun_result_free(&res);
		return;
	}
	if (res.host_key_mismatch) {
		store_event_add(a->store, n->id, 0, "ssh-host-key-mismatch",
				"%s:%lld presented host key %s, not the one its agent reported: refused", ip,
				(long long)n->ssh_port, res.seen_key_fp);
		log_msg(LOG_WARN_, &(struct log_ctx){ .node = n->name },
			"SSH host key mismatch at %s:%lld (%s): refused", ip, (long long)n->ssh_port, res.seen_key_fp);
	}
	if (res.attempts > 1)
		log_msg(LOG_INFO_, &(struct log_ctx){ .node = n->name },
			"extension %s: the node dropped the command before starting it; %d connections made",
			run->extension, res.attempts);
	if (r == 0)
		finish(a, n, run, "succeeded", &res, NULL);
	else if (res.timed_out)
		finish(a, n, run, "failed", &res, "timed out after %lld s (%s)", (long long)pe->timeout, res.error);
	else if (res.attempts > 1)
		finish(a, n, run, "failed", &res, "%s (%d connections)", res.error, res.attempts);
	else
		finish(a, n, run, "failed", &res, "%s", res.error[0] ? res.error : strerror(-r));
	sshrun_result_free(&res);
}

/* A new row for one run of pe on n. */
static int run_new(struct api *a, const struct bw_node *n, const char *extension, const char *version,
		   const char *trigger, int64_t rollout, struct bw_ext_run *ret)
{
	model_init(&model_ext_run, ret);
	ret->node = n->id;
	snprintf(ret->extension, sizeof(ret->extension), "%s", extension);
	snprintf(ret->version, sizeof(ret->version), "%s", version);
	snprintf(ret->trigger, sizeof(ret->trigger), "%s", trigger);
	ret->rollout_id = rollout ? rollout : INT_NULL;
	return store_insert(a->store, &model_ext_run, ret, NULL);
}

/* ---- jobs ---- */

/* Every extension of the node's pool, in order; those after a failed one are skipped. */
static void provision(struct ext_runner *x, const struct job *j)
{
	struct api *a = x->a;
	struct bw_node n;
	_cleanup_free_ struct bw_pool_extension *pe = calloc(EXTORDER_MAX, sizeof(*pe));
	size_t np = 0, order[EXTORDER_MAX];
	bool failed[EXTORDER_MAX] = { false };
	char why[256];

	if (!pe || store_get(a->store, &model_node, j->node, &n) < 0)
		return;
	if (n.provision_after_ts != j->provision_ts)
		return; /* reimaged again meanwhile: the next round sees the new one */
	if (n.pool && store_pool_extensions(a->store, n.pool, pe, EXTORDER_MAX, &np) < 0)
		return;
	if (np && !n.ssh_host_key[0] && n.last_heartbeat - n.provision_after_ts < HOST_KEY_WAIT_S)
		return; /* the agent may report it with its next heartbeat */
	if (np && extorder_sort(pe, np, order, why, sizeof(why)) < 0) {
		/* Refused at input; a catalog changed under it can still get here. */
		log_msg(LOG_WARN_, &(struct log_ctx){ .node = n.name }, "extensions not run: %s", why);
		np = 0;
	}
	if (np)
		log_msg(LOG_INFO_, &(struct log_ctx){ .node = n.name }, "running %zu extension%s", np,
			np == 1 ? "" : "s");
	for (size_t k = 0; k < np && !atomic_load(&x->abort); k++) {
		const struct bw_pool_extension *e = &pe[order[k]];
		struct bw_ext_run run;
		const char *blocker = NULL;

		for (size_t i = 0; i < np && !blocker; i++) {
			bool dep = false;
			if (failed[i] && extorder_depends(pe, np, order[k], i, &dep) == 0 && dep)
				blocker = pe[i].name;
		}
		if (run_new(a, &n, e->name, e->version, "provision", 0, &run) < 0)
			return;
		if (blocker) {
			failed[order[k]] = true;
			finish(a, &n, &run, "skipped", NULL, "not run: %s, which it runs after, failed", blocker);
			continue;
		}
		run_one(x, &n, e, &run);
		failed[order[k]] = !str_eq(run.state, "succeeded");
	}
	if (!atomic_load(&x->abort))
		store_node_provision_set(a->store, n.id, 0, j->provision_ts);
}

/* One queued run (an upgrade, a rollback, a manual run). */
static void single(struct ext_runner *x, const struct job *j)
{
	struct api *a = x->a;
	struct bw_node n;
	struct bw_ext_run run;
	struct bw_pool_extension pe;

	if (store_get(a->store, &model_ext_run, j->run, &run) < 0 || !str_eq(run.state, "queued") ||
	    store_get(a->store, &model_node, j->node, &n) < 0)
		return;
	if (!n.pool || store_get_by_key(a->store, &model_pool_extension, n.pool, run.extension, &pe) < 0)
		return finish(a, &n, &run, "failed", NULL, "the node's pool no longer runs extension %s", run.extension);
	run_one(x, &n, &pe, &run);
}

static void *worker(void *arg)
{
	struct ext_runner *x = arg;

	pthread_mutex_lock(&x->lock);
	for (;;) {
		while (!x->stop && x->len == 0)
			pthread_cond_wait(&x->work, &x->lock);
		if (x->stop)
			break;
		struct job j = x->queue[x->head];
		x->head = (x->head + 1) % RUNNER_QUEUE;
		x->len--;
		pthread_mutex_unlock(&x->lock);
		if (j.run)
			single(x, &j);
		else
			provision(x, &j);
		pthread_mutex_lock(&x->lock);
		u64map_del(&x->busy, (uint64_t)j.node);
		pthread_cond_signal(&x->wake); /* the node may have more */
	}
	pthread_mutex_unlock(&x->lock);
	return NULL;
}

/* ---- the dispatcher ---- */

/* Queues j unless its node is busy or the queue is full. Called with the lock held. */
static void enqueue(struct ext_runner *x, const struct job *j)
{
	uint64_t v;

	if (x->len == RUNNER_QUEUE || u64map_get(&x->busy, (uint64_t)j->node, &v))
		return;
	if (u64map_put(&x->busy, (uint64_t)j->node, 1) < 0)
		return;
	x->queue[(x->head + x->len) % RUNNER_QUEUE] = *j;
	x->len++;
	pthread_cond_signal(&x->work);
}

static int due_node(const struct bw_node *n, void *ud)
{
	struct ext_runner *x = ud;
	struct job j = { .node = n->id, .provision_ts = n->provision_after_ts };

	pthread_mutex_lock(&x->lock);
	enqueue(x, &j);
	pthread_mutex_unlock(&x->lock);
	return 0;
}

static int queued_run(const struct bw_ext_run *run, void *ud)
{
	struct ext_runner *x = ud;
	struct job j = { .node = run->node, .run = run->id };

	if (!str_eq(run->state, "queued"))
		return 0;
	pthread_mutex_lock(&x->lock);
	enqueue(x, &j);
	pthread_mutex_unlock(&x->lock);
	return 0;
}

static void *dispatch(void *arg)
{
	struct ext_runner *x = arg;

	pthread_mutex_lock(&x->lock);
	while (!x->stop) {
		struct timespec ts;
		pthread_mutex_unlock(&x->lock);
		store_nodes_provision_due(x->a->store, due_node, x);
		store_ext_runs_open(x->a->store, queued_run, x);
		pthread_mutex_lock(&x->lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		if (!x->stop)
			pthread_cond_timedwait(&x->wake, &x->lock, &ts);
	}
	pthread_mutex_unlock(&x->lock);
	return NULL;
}

int ext_runner_start(struct api *a, struct ext_runner **ret)
{
	struct ext_runner *x = calloc(1, sizeof(*x));
	int r, n = a->cfg->ext_workers > 0 ? (int)a->cfg->ext_workers : 1;

	if (!x)
		return -ENOMEM;
	x->a = a;
	u64map_init(&x->busy);
	pthread_mutex_init(&x->lock, NULL);
	pthread_cond_init(&x->wake, NULL);
	pthread_cond_init(&x->work, NULL);
	atomic_init(&x->abort, false);
	x->workers = calloc((size_t)n, sizeof(*x->workers));
	if (!x->workers || (r = store_ext_runs_requeue(a->store)) < 0) {
		r = x->workers ? r : -ENOMEM;
		goto fail;
	}
	for (int i = 0; i < n; i++)
		if (pthread_create(&x->workers[i], NULL, worker, x) == 0)
			x->n_workers++;
	if (x->n_workers == 0 || (r = pthread_create(&x->dispatcher, NULL, dispatch, x)) != 0) {
		r = x->n_workers == 0 ? -EAGAIN : -r;
		ext_runner_stop(x);
		return r;
	}
	x->started = true;
	*ret = x;
	return 0;
fail:
	free(x->workers);
	u64map_clear(&x->busy);
	free(x);
	return r;
}

void ext_runner_poke(struct ext_runner *x)
{
	if (!x)
		return;
	pthread_mutex_lock(&x->lock);
	pthread_cond_signal(&x->wake);
	pthread_mutex_unlock(&x->lock);
}

void ext_runner_stop(struct ext_runner *x)
{
	if (!x)
		return;
	atomic_store(&x->abort, true);
	pthread_mutex_lock(&x->lock);
	x->stop = true;
	pthread_cond_broadcast(&x->wake);
	pthread_cond_broadcast(&x->work);
	pthread_mutex_unlock(&x->lock);
	if (x->started)
		pthread_join(x->dispatcher, NULL);
	for (int i = 0; i < x->n_workers; i++)
		pthread_join(x->workers[i], NULL);
	pthread_cond_destroy(&x->work);
	pthread_cond_destroy(&x->wake);
	pthread_mutex_destroy(&x->lock);
	u64map_clear(&x->busy);
	free(x->workers);
	free(x);
}
