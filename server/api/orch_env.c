// SPDX-License-Identifier: Apache-2.0
/*
 * The orchestrator in bootwaved: server/orch/orch.h over the real world.
 *   now       time(NULL)
 *   observe   the node's row (heartbeat state and age, what it runs, its
 *             reimage task) and, for a node being upgraded, its BMC's health
 *             (power, new critical SEL entries since the upgrade began),
 *             polled in the background within the BMC pool's discipline
 *   reimage   an agent task (reimage_start), then BMC: boot from the
 *             network once, power cycle
 *   rollback  the node's boot target back to its previous slot and
 *             version (its boot script follows), then BMC as above
 * A thread steps every rollout every [orch] interval seconds.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api-internal.h"
#include "bmc.h"
#include "orch.h"
#include "orch_env.h"
#include "u64map.h"

#include "ext_runner.h"
#include "extorder.h"

/* What the BMC last said of a node being upgraded. */
struct hstate {
	int64_t node;
	int64_t since;       /* the upgrade (or rollback) this is about */
	uint64_t marker;     /* SEL entries after this are new */
	bool have_marker;
	bool power_known, power_on;
	unsigned critical;   /* new critical SEL entries since `since` */
	char critical_what[160];
	time_t polled_at;
	bool busy;
	struct bmc_job job;
};

/* The pool's health probe of a node being upgraded, run by bootwaved against the node. */
struct pstate {
	int64_t node;
	int64_t since;
	enum orch_check result;
	char why[400];
	time_t at;       /* when the last probe ended */
	bool busy, queued;
	char target[300]; /* "tcp:IP:PORT" or a URL with {ip} replaced */
};

#define PROBE_THREADS 4
#define PROBE_EVERY_S 5
#define PROBE_TIMEOUT_S 3

/* Everything the env keeps about one node, found by its id (rt->index). */
struct nstate {
	struct hstate h;
	struct pstate p;
};

struct orch_rt {
	struct api *a;
	struct orch *orch;
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
	struct u64map index; /* node id -> struct nstate * */
	struct nstate **all; /* to free them */
	size_t n, cap;
	struct pstate **probes; /* probes queued, first in first out */
	size_t probes_head, probes_len, probes_cap;
	pthread_cond_t probe_wake;
	pthread_t probers[PROBE_THREADS];
	int n_probers;
};

#define HEALTH_POLL_S 10

static int64_t env_now(void *ctx)
{
	(void)ctx;
	return (int64_t)time(NULL);
}

/* ---- BMC ---- */

struct act_job {
	struct api *a;
	int64_t node, rollout, task;
	char name[NAME_MAX_LEN + 1];
	char what[48];
	struct bmc_job job;
};

static void act_done(struct bmc_job *j, void *userdata)
{
	struct act_job *x = userdata;

	if (j->rc == -ECANCELED && str_eq(j->err.step, "skipped")) {
		store_event_add(x->a->store, x->node, x->rollout, "bmc", "%s skipped: %s", x->what, j->err.msg);
		log_msg(LOG_INFO_, &(struct log_ctx){ .node = x->name }, "rollout %lld: %s skipped: %s",
			(long long)x->rollout, x->what, j->err.msg);
	} else if (j->rc < 0) {
		store_event_add(x->a->store, x->node, x->rollout, "bmc", "%s failed at %s: %s", x->what, j->err.step,
				j->err.msg);
		log_msg(LOG_WARN_, &(struct log_ctx){ .node = x->name }, "rollout %lld: %s failed at %s: %s",
			(long long)x->rollout, x->what, j->err.step, j->err.msg);
	} else
		store_event_add(x->a->store, x->node, x->rollout, "bmc", "%s", x->what);
	free(x);
}

/*
 * The power cycle is for a machine that has not started its reimage: once its
 * agent has fetched the task, a cycle would cut the write or reboot a node
 * already committed while the rollout goes on to its next batch. That happens
 * when the BMC answers late (the boot device job waited behind it) and the
 * machine netbooted by itself meanwhile.
 */
static bool cycle_wanted(struct bmc_job *j, void *userdata, char *why, size_t size)
{
	struct act_job *x = userdata;
	struct bw_task t;
	(void)j;
	if (!x->task || store_get(x->a->store, &model_task, x->task, &t) < 0 || str_eq(t.state, "pending"))
		return true;
	snprintf(why, size, "the machine already netbooted: its task %lld is %s", (long long)t.id, t.state);
	return false;
}

/* Boot from the network once, then power cycle (on when off): two jobs, in order on the node's BMC.
 * task: the reimage task the cycle is for (0: none, a rollback), which cycle_wanted asks about. */
static int pxe_and_cycle(struct api *a, const struct bw_node *n, int64_t rollout, int64_t task, char *err,
			 size_t size)
{
	struct hw_target t;
	struct act_job *x[2];
	int rc = api_bmc_target(a, n, &t);

	if (rc == -ENODEV) {
		/* Nothing to power: the node must boot from the network by itself (its boot script says what to do). */
		store_event_add(a->store, n->id, rollout, "bmc", "no BMC: waiting for the node to boot by itself");
		return 0;
	}
	if (rc < 0) {
		snprintf(err, size, "the BMC password of node %s cannot be opened with this appliance's key", n->name);
		return rc;
	}
	for (int i = 0; i < 2; i++) {
		if (!(x[i] = calloc(1, sizeof(*x[i])))) {
			free(i ? x[0] : NULL);
			snprintf(err, size, "out of memory");
			return -ENOMEM;
		}
		x[i]->a = a;
		x[i]->node = n->id;
		x[i]->rollout = rollout;
		snprintf(x[i]->name, sizeof(x[i]->name), "%s", n->name);
		x[i]->job.target = t;
		x[i]->job.done = act_done;
		x[i]->job.userdata = x[i];
	}
	x[0]->job.op = BMC_SET_BOOT;
	x[0]->job.boot = (struct hw_boot){ .dev = HW_BOOT_PXE, .persistent = false };
	snprintf(x[0]->what, sizeof(x[0]->what), "boot device pxe (once)");
	x[1]->job.op = BMC_POWER;
	x[1]->job.action = HW_ACT_CYCLE;
	x[1]->job.wanted = cycle_wanted;
	x[1]->task = task;
	snprintf(x[1]->what, sizeof(x[1]->what), "power cycle");
	explicit_bzero(&t, sizeof(t));
	if ((rc = bmc_submit(a->bmc, &x[0]->job)) < 0) {
		free(x[0]);
		free(x[1]);
		snprintf(err, size, "the BMC job was refused: %s", strerror(-rc));
		return rc;
	}
	if ((rc = bmc_submit(a->bmc, &x[1]->job)) < 0) {
		free(x[1]);
		snprintf(err, size, "the BMC job was refused: %s", strerror(-rc));
		return rc;
	}
	return 0;
}

/* The record of node, made on first use; NULL without memory. Called with rt->lock held. */
static struct nstate *nstate_of(struct orch_rt *rt, int64_t node)
{
	uint64_t v;
	struct nstate *ns;

	if (u64map_get(&rt->index, (uint64_t)node, &v))
		return (struct nstate *)(uintptr_t)v;
	if (rt->n == rt->cap) {
		size_t cap = rt->cap ? 2 * rt->cap : 16;
		struct nstate **p = realloc(rt->all, cap * sizeof(*p));
		if (!p)
			return NULL;
		rt->all = p;
		rt->cap = cap;
	}
	if (!(ns = calloc(1, sizeof(*ns))))
		return NULL;
	if (u64map_put(&rt->index, (uint64_t)node, (uint64_t)(uintptr_t)ns) < 0) {
		free(ns);
		return NULL;
	}
	ns->h.node = ns->p.node = node;
	rt->all[rt->n++] = ns;
	return ns;
}

static struct hstate *hstate_of(struct orch_rt *rt, int64_t node)
{
	struct nstate *ns = nstate_of(rt, node);
	return ns ? &ns->h : NULL;
}

static void health_done(struct bmc_job *j, void *userdata)
{
	struct orch_rt *rt = userdata;
	struct hstate *h = (struct hstate *)((char *)j - offsetof(struct hstate, job));

	pthread_mutex_lock(&rt->lock);
	h->busy = false;
	h->polled_at = time(NULL);
	if (j->rc == 0) {
		h->power_known = j->health.power != HW_POWER_UNKNOWN;
		h->power_on = j->health.power == HW_POWER_ON;
		if (h->have_marker) {
			h->critical += j->health.sel_critical;
			if (j->health.sel_critical && j->health.sel_last[0])
				snprintf(h->critical_what, sizeof(h->critical_what), "%s", j->health.sel_last);
		}
		h->marker = j->health.sel_marker;
		h->have_marker = true;
	}
	pthread_mutex_unlock(&rt->lock);
}

/* The BMC's view of a node being upgraded since `since`; polls in the background. */
static void bmc_view(struct orch_rt *rt, const struct bw_node *n, int64_t since, struct orch_obs *ob)
{
	struct hw_target t;
	struct hstate *h;

	if (api_bmc_target(rt->a, n, &t) < 0)
		return;
	pthread_mutex_lock(&rt->lock);
	if (!(h = hstate_of(rt, n->id)))
		goto out;
	if (h->since != since && !h->busy) {
		/* A new upgrade: what happened before it does not count. */
		h->since = since;
		h->critical = 0;
		h->critical_what[0] = '\0';
		h->power_known = false;
		h->polled_at = 0;
	}
	ob->power_known = h->power_known;
	ob->power_on = h->power_on;
	ob->critical_sel = h->critical > 0;
	if (!h->busy && time(NULL) - h->polled_at >= HEALTH_POLL_S) {
		memset(&h->job, 0, sizeof(h->job));
		h->job.target = t;
		h->job.op = BMC_HEALTH;
		h->job.sel_marker = h->have_marker ? h->marker : 0;
		h->job.done = health_done;
		h->job.userdata = rt;
		h->busy = true;
		if (bmc_submit(rt->a->bmc, &h->job) < 0)
			h->busy = false;
	}
out:
	pthread_mutex_unlock(&rt->lock);
	explicit_bzero(&t, sizeof(t));
}

/* ---- the pool's health probe ---- */

/* A TCP connection to ip:port within PROBE_TIMEOUT_S. */
static int probe_tcp(const char *ip, int port, char *why, size_t size)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct pollfd pfd;
	int fd, err = 0;
	socklen_t len = sizeof(err);

	if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1) {
		snprintf(why, size, "bad address %s", ip);
		return -1;
	}
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(why, size, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
		err = errno;
	else {
		pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
		if (poll(&pfd, 1, PROBE_TIMEOUT_S * 1000) != 1)
			err = ETIMEDOUT;
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
	}
	close(fd);
	if (err)
		snprintf(why, size, "tcp %s:%d: %s", ip, port, strerror(err));
	return err ? -1 : 0;
}

static size_t discard(char *p, size_t sz, size_t n, void *u)
{
	(void)p;
	(void)u;
	return sz * n;
}

/* A GET of url answered 2xx within PROBE_TIMEOUT_S. */
static int probe_http(const char *url, char *why, size_t size)
{
	CURL *c = curl_easy_init();
	char err[CURL_ERROR_SIZE] = "";
	long status = 0;
	CURLcode rc;

	if (!c) {
		snprintf(why, size, "out of memory");
		return -1;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)PROBE_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK) {
		snprintf(why, size, "%.200s: %.150s", url, err[0] ? err : curl_easy_strerror(rc));
		return -1;
	}
	if (status < 200 || status > 299) {
		snprintf(why, size, "%.200s answered HTTP %ld", url, status);
		return -1;
	}
	return 0;
}

static void *prober(void *arg)
{
	struct orch_rt *rt = arg;

	pthread_mutex_lock(&rt->lock);
	while (!rt->stop) {
		struct pstate *ps;
		if (rt->probes_len == 0) {
			pthread_cond_wait(&rt->probe_wake, &rt->lock);
			continue;
		}
		ps = rt->probes[rt->probes_head];
		rt->probes_head = (rt->probes_head + 1) % rt->probes_cap;
		rt->probes_len--;
		char target[sizeof(ps->target)], why[sizeof(ps->why)] = "";
		int64_t since = ps->since;
		int r;
		ps->queued = false;
		ps->busy = true;
		memcpy(target, ps->target, sizeof(target));
		pthread_mutex_unlock(&rt->lock);
		if (strncmp(target, "tcp:", 4) == 0) {
			char *colon = strrchr(target + 4, ':');
			*colon = '\0';
			r = probe_tcp(target + 4, atoi(colon + 1), why, sizeof(why));
		} else
			r = probe_http(target, why, sizeof(why));
		pthread_mutex_lock(&rt->lock);
		ps->busy = false;
		ps->at = time(NULL);
		if (ps->since == since) {
			ps->result = r == 0 ? OC_PASSED : OC_FAILED;
			snprintf(ps->why, sizeof(ps->why), "%s", why);
		}
	}
	pthread_mutex_unlock(&rt->lock);
	return NULL;
}

/* The node's address: its reservation, else its DHCP lease; "" when unknown. */
void api_node_ip(struct api *a, const struct bw_node *n, char *ip, size_t size)
{
	struct bw_lease l;

	if (n->ip_address[0])
		snprintf(ip, size, "%s", n->ip_address);
	else if (store_get_by_key(a->store, &model_lease, 0, n->mac, &l) == 0)
		snprintf(ip, size, "%s", l.ip);
	else
		ip[0] = '\0';
}

/* Queues ps for a prober (each node at most once: ps->queued). Called with rt->lock held. */
static int probe_push(struct orch_rt *rt, struct pstate *ps)
{
	if (rt->probes_len == rt->probes_cap) {
		size_t cap = rt->probes_cap ? 2 * rt->probes_cap : 16;
		struct pstate **p = malloc(cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		for (size_t i = 0; i < rt->probes_len; i++)
			p[i] = rt->probes[(rt->probes_head + i) % rt->probes_cap];
		free(rt->probes);
		rt->probes = p;
		rt->probes_cap = cap;
		rt->probes_head = 0;
	}
	rt->probes[(rt->probes_head + rt->probes_len) % rt->probes_cap] = ps;
	rt->probes_len++;
	return 0;
}

/* What the pool's probe last said of a node being upgraded since `since`; probes in the background. */
static void probe_view(struct orch_rt *rt, const struct bw_pool *pool, const struct bw_node *n, int64_t since,
		       struct orch_obs *ob)
{
	const char *spec = pool->health_probe;
	struct pstate *ps = NULL;
	char ip[16], target[300];

	if (!spec[0])
		return;
	api_node_ip(rt->a, n, ip, sizeof(ip));
	if (!ip[0] && (strncmp(spec, "tcp:", 4) == 0 || strstr(spec, "{ip}"))) {
		ob->probe = OC_FAILED;
		snprintf(ob->probe_why, sizeof(ob->probe_why), "no address known (no reservation, no lease)");
		return;
	}
	if (strncmp(spec, "tcp:", 4) == 0)
		snprintf(target, sizeof(target), "tcp:%s:%s", ip, spec + 4);
	else {
		/* {ip} in the URL is the node's address. */
		const char *at = strstr(spec, "{ip}");
		if (at)
			snprintf(target, sizeof(target), "%.*s%s%s", (int)(at - spec), spec, ip, at + 4);
		else
			snprintf(target, sizeof(target), "%s", spec);
	}
	pthread_mutex_lock(&rt->lock);
	struct nstate *ns = nstate_of(rt, n->id);
	if (!ns)
		goto out;
	ps = &ns->p;
	if (ps->since != since) {
		ps->since = since;
		ps->result = OC_PENDING;
		ps->at = 0;
		ps->why[0] = '\0';
	}
	snprintf(ps->target, sizeof(ps->target), "%s", target);
	ob->probe = ps->result;
	snprintf(ob->probe_why, sizeof(ob->probe_why), "%.150s", ps->why);
	if (!ps->busy && !ps->queued && time(NULL) - ps->at >= PROBE_EVERY_S && probe_push(rt, ps) == 0) {
		ps->queued = true;
		pthread_cond_signal(&rt->probe_wake);
	}
out:
	pthread_mutex_unlock(&rt->lock);
}

/* ---- the env ---- */

static enum orch_hb hb_of(const struct bw_node *n, const struct bw_pool *p, int64_t now)
{
	if (!n->last_heartbeat || n->last_heartbeat == INT_NULL || now - n->last_heartbeat > p->heartbeat_timeout)
		return OHB_UNKNOWN;
	if (str_eq(n->health, "Healthy"))
		return OHB_HEALTHY;
	if (str_eq(n->health, "Initializing"))
		return OHB_INITIALIZING;
	if (str_eq(n->health, "Unhealthy"))
		return OHB_UNHEALTHY;
	return OHB_UNKNOWN;
}

struct ext_fold {
	const struct bw_pool_extension *pe;
	size_t n;
	bool seen[EXTORDER_MAX];
	bool failed, running;
};

static int ext_fold_one(const char *extension, const char *version, const char *state, void *ud)
{
	struct ext_fold *f = ud;
	(void)version;
	for (size_t i = 0; i < f->n; i++) {
		if (!str_eq(f->pe[i].name, extension))
			continue;
		f->seen[i] = true;
		f->failed |= str_eq(state, "failed") || str_eq(state, "skipped");
		f->running |= str_eq(state, "queued") || str_eq(state, "running");
	}
	return 0;
}

/*
 * The extensions of a node's provisioning since `since`: none in the pool,
 * pending while its provisioning is due or runs, failed when the last run
 * of any failed (or was skipped), passed when every one's last run
 * succeeded. A rollback boots a slot that ran them already: not checked.
 */
static enum orch_check ext_view(struct api *a, const struct orch_req *q, const struct bw_node *n, int64_t since)
{
	_cleanup_free_ struct bw_pool_extension *pe = NULL;
	struct ext_fold f = { .n = 0 };

	if (q->slot || store_pool_has_extensions(a->store, q->pool->id) != 1)
		return OC_NONE;
	if (n->provision_after_ts)
		return OC_PENDING;
	pe = calloc(EXTORDER_MAX, sizeof(*pe));
	if (!pe || store_pool_extensions(a->store, q->pool->id, pe, EXTORDER_MAX, &f.n) < 0)
		return OC_PENDING;
	f.pe = pe;
	if (store_ext_runs_summary(a->store, n->id, since, ext_fold_one, &f) < 0)
		return OC_PENDING;
	if (f.failed)
		return OC_FAILED;
	for (size_t i = 0; i < f.n; i++)
		if (!f.seen[i])
			return OC_PENDING;
	return f.running ? OC_PENDING : OC_PASSED;
}

/* A rollout of an extension: the run of q->version since q->since, and what the node runs (orch.h). */
static void ext_observe(struct api *a, const struct orch_req *q, const struct bw_node *n, struct orch_obs *ob)
{
	struct bw_ext_run run;

	ob->image = q->image;
	if (store_ext_run_find(a->store, n->id, q->extension, NULL, "succeeded", 0, &run) == 0)
		snprintf(ob->version, sizeof(ob->version), "%s", run.version);
	ob->extensions = OC_NONE;
	if (q->since <= 0 || store_ext_run_find(a->store, n->id, q->extension, q->version, NULL, q->since, &run) < 0)
		return;
	if (str_eq(run.state, "succeeded"))
		ob->task = OT_WRITTEN;
	else if (str_eq(run.state, "failed") || str_eq(run.state, "skipped")) {
		ob->task = OT_FAILED;
		snprintf(ob->task_reason, sizeof(ob->task_reason), "%s", run.error);
	} else
		ob->task = OT_WRITING;
}

/* Queues one run of q->extension@q->version on the node, unless one since q->since is queued, running or done. */
static int ext_queue(struct orch_rt *rt, const struct orch_req *q, const char *trigger, char *err, size_t size)
{
	struct api *a = rt->a;
	struct bw_ext_run run;

	if (store_ext_run_find(a->store, q->node, q->extension, q->version, NULL, q->since, &run) == 0 &&
	    !str_eq(run.state, "failed") && !str_eq(run.state, "skipped"))
		return 0;
	model_init(&model_ext_run, &run);
	run.node = q->node;
	snprintf(run.extension, sizeof(run.extension), "%s", q->extension);
	snprintf(run.version, sizeof(run.version), "%s", q->version);
	snprintf(run.trigger, sizeof(run.trigger), "%s", trigger);
	run.rollout_id = q->rollout;
	if (store_insert(a->store, &model_ext_run, &run, NULL) < 0) {
		snprintf(err, size, "store failed queueing the run");
		return -EIO;
	}
	ext_runner_poke(a->runner);
	return 0;
}

static void env_observe(void *ctx, const struct orch_req *q, struct orch_obs *ob)
{
	struct orch_rt *rt = ctx;
	struct api *a = rt->a;
	struct bw_node n;
	struct bw_task t;
	int64_t now = time(NULL);
	bool pending;

	memset(ob, 0, sizeof(*ob));
	if (store_get(a->store, &model_node, q->node, &n) < 0)
		return;
	ob->hb = hb_of(&n, q->pool, now);
	ob->hb_at = n.last_heartbeat == INT_NULL ? 0 : n.last_heartbeat;
	if (q->extension) {
		ext_observe(a, q, &n, ob);
		if (q->since > 0) {
			bmc_view(rt, &n, q->since, ob);
			probe_view(rt, q->pool, &n, q->since, ob);
		}
		return;
	}
	/* Heartbeats come from the slot booted: the pending one until it is committed. */
	pending = !str_eq(n.pending_slot, "none") && str_eq(n.state, "waiting_health");
	ob->image = pending ? n.pending_image : n.installed_image;
	snprintf(ob->version, sizeof(ob->version), "%s", pending ? n.pending_version : n.installed_version);
	if (q->since > 0) {
		if (store_task_latest(a->store, q->node, q->since, &t) == 0 && t.image == q->image &&
		    str_eq(t.version, q->version)) {
			if (str_eq(t.state, "pending"))
				ob->task = OT_QUEUED;
			else if (str_eq(t.state, "running"))
				ob->task = OT_WRITING;
			else if (str_eq(t.state, "succeeded"))
				ob->task = OT_WRITTEN;
			else {
				ob->task = OT_FAILED;
				snprintf(ob->task_reason, sizeof(ob->task_reason), "%s", t.reason);
			}
		}
		bmc_view(rt, &n, q->since, ob);
	}
	ob->extensions = ext_view(a, q, &n, q->since);
	ob->probe = OC_NONE;
	if (q->since > 0)
		probe_view(rt, q->pool, &n, q->since, ob);
}

static int env_reimage(void *ctx, const struct orch_req *q, char *err, size_t size)
{
	struct orch_rt *rt = ctx;
	struct api *a = rt->a;
	struct bw_node n;
	struct bw_image img;
	struct bw_image_version v;
	struct bw_task t;
	char who[48];
	int rc;

	if (q->extension)
		return ext_queue(rt, q, "upgrade", err, size);
	if (store_get(a->store, &model_node, q->node, &n) < 0 || store_get(a->store, &model_image, q->image, &img) < 0 ||
	    store_get_by_key(a->store, &model_image_version, q->image, q->version, &v) < 0) {
		snprintf(err, size, "node, image or version %s is gone", q->version);
		return -ENOENT;
	}
	/* Idempotent: a task for this target opened since the upgrade began is reused. */
	if (!(store_task_open(a->store, n.id, &t) == 0 && t.image == q->image && str_eq(t.version, q->version) &&
	      t.created_at >= q->since)) {
		snprintf(who, sizeof(who), "rollout %lld", (long long)q->rollout);
		if ((rc = reimage_start(a, &n, &img, &v, q->pool->require_signed ? q->pool->name : NULL, false, who,
					q->rollout, &t, err, size)) < 0)
			return rc;
	}
	return pxe_and_cycle(a, &n, q->rollout, t.id, err, size);
}

static int env_rollback(void *ctx, const struct orch_req *q, char *err, size_t size)
{
	struct orch_rt *rt = ctx;
	struct api *a = rt->a;
	struct bw_node n;
	bool mask[MODEL_MAX_FIELDS] = { false };
	int rc;

	if (q->extension)
		return ext_queue(rt, q, "rollback", err, size);
	if (store_get(a->store, &model_node, q->node, &n) < 0) {
		snprintf(err, size, "the node is gone");
		return -ENOENT;
	}
	/* The boot script follows the node's row: point it at the previous slot. */
	snprintf(n.active_slot, sizeof(n.active_slot), "%s", q->slot);
	n.installed_image = q->image;
	snprintf(n.installed_version, sizeof(n.installed_version), "%s", q->version);
	snprintf(n.pending_slot, sizeof(n.pending_slot), "none");
	n.pending_image = 0;
	n.pending_version[0] = '\0';
	snprintf(n.health, sizeof(n.health), "Unknown");
	/* The previous slot ran its extensions already: the new one's provisioning is off. */
	n.provision_after_ts = 0;
	for (size_t i = 0; i < model_node.n_fields; i++) {
		const char *f = model_node.fields[i].name;
		mask[i] = str_eq(f, "active_slot") || str_eq(f, "installed_image") || str_eq(f, "installed_version") ||
			  str_eq(f, "pending_slot") || str_eq(f, "pending_image") || str_eq(f, "pending_version") ||
			  str_eq(f, "health") || str_eq(f, "provision_after_ts");
	}
	if ((rc = store_tx_begin(a->store)) < 0) {
		snprintf(err, size, "store failed");
		return rc;
	}
	rc = store_update(a->store, &model_node, &n, mask, NULL);
	if (rc == 0)
		rc = store_tasks_cancel(a->store, n.id, "rolled back");
	if (rc == 0)
		rc = store_node_set_state(a->store, n.id, "active");
	if (rc == 0)
		rc = store_event_add(a->store, n.id, q->rollout, "rollback", "boot target back to slot %s (version %s)",
				     q->slot, q->version);
	if (rc < 0)
		store_tx_rollback(a->store);
	else
		rc = store_tx_commit(a->store);
	if (rc < 0) {
		snprintf(err, size, "store failed");
		return rc;
	}
	return pxe_and_cycle(a, &n, q->rollout, 0, err, size);
}

/* ---- the thread ---- */

static void *run(void *arg)
{
	struct orch_rt *rt = arg;
	const struct config *cfg = rt->a->cfg;

	pthread_mutex_lock(&rt->lock);
	while (!rt->stop) {
		struct timespec ts;
		pthread_mutex_unlock(&rt->lock);
		orch_step(rt->orch);
		pthread_mutex_lock(&rt->lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += cfg->orch_interval > 0 ? cfg->orch_interval : 1;
		if (!rt->stop)
			pthread_cond_timedwait(&rt->wake, &rt->lock, &ts);
	}
	pthread_mutex_unlock(&rt->lock);
	return NULL;
}

int orch_rt_start(struct api *a, struct orch_rt **ret)
{
	struct orch_rt *rt = calloc(1, sizeof(*rt));
	struct orch_env env = { .now = env_now, .observe = env_observe, .reimage = env_reimage, .rollback = env_rollback };
	struct orch_config oc = { .reimage_timeout = a->cfg->orch_reimage_timeout,
				  .quarantine_after = a->cfg->orch_quarantine_after,
				  .rollout_timeout = a->cfg->orch_rollout_timeout,
				  .ext_retry_interval = a->cfg->ext_retry_interval };
	int r;

	if (!rt)
		return -ENOMEM;
	rt->a = a;
	env.ctx = rt;
	u64map_init(&rt->index);
	pthread_mutex_init(&rt->lock, NULL);
	pthread_cond_init(&rt->wake, NULL);
	pthread_cond_init(&rt->probe_wake, NULL);
	if ((r = orch_new(a->store, &env, &oc, &rt->orch)) < 0) {
		free(rt);
		return r;
	}
	if ((r = pthread_create(&rt->thread, NULL, run, rt)) != 0) {
		orch_free(rt->orch);
		free(rt);
		return -r;
	}
	rt->started = true;
	for (int i = 0; i < PROBE_THREADS; i++)
		if (pthread_create(&rt->probers[i], NULL, prober, rt) == 0)
			rt->n_probers++;
	*ret = rt;
	return 0;
}

struct orch *orch_rt_orch(struct orch_rt *rt) { return rt ? rt->orch : NULL; }

void orch_rt_poke(struct orch_rt *rt)
{
	if (!rt)
		return;
	pthread_mutex_lock(&rt->lock);
	pthread_cond_signal(&rt->wake);
	pthread_mutex_unlock(&rt->lock);
}

void orch_rt_stop(struct orch_rt *rt)
{
	if (!rt)
		return;
	pthread_mutex_lock(&rt->lock);
	rt->stop = true;
	pthread_cond_signal(&rt->wake);
	pthread_cond_broadcast(&rt->probe_wake);
	pthread_mutex_unlock(&rt->lock);
	if (rt->started)
		pthread_join(rt->thread, NULL);
	for (int i = 0; i < rt->n_probers; i++)
		pthread_join(rt->probers[i], NULL);
	/* The BMC pool (stopped after this) still owns health jobs in flight: it runs them to their end first. */
	orch_free(rt->orch);
}

void orch_rt_free(struct orch_rt *rt)
{
	if (!rt)
		return;
	for (size_t i = 0; i < rt->n; i++)
		free(rt->all[i]);
	free(rt->all);
	u64map_clear(&rt->index);
	free(rt->probes);
	pthread_cond_destroy(&rt->probe_wake);
	pthread_mutex_destroy(&rt->lock);
	pthread_cond_destroy(&rt->wake);
	free(rt);
}
