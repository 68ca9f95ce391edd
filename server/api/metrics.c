// SPDX-License-Identifier: Apache-2.0
/*
 * /metrics in the Prometheus text format (version 0.0.4): API requests by
 * route and status, nodes by state, store operation latency.
 */
#include "api-internal.h"
#include "orch.h"
#include "orch_env.h"

#include "bmc.h"

#include <pthread.h>

#define MAX_SERIES 512

struct series {
	const char *method, *route; /* static strings from the route table */
	unsigned status;
	uint64_t count;
};

struct metrics {
	pthread_mutex_t lock;
	struct series s[MAX_SERIES];
	size_t n;
	uint64_t dropped;
};

int metrics_new(struct metrics **ret)
{
	struct metrics *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	*ret = m;
	return 0;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* Method strings come from MHD and live only for the request: keep our own. */
static const char *method_const(const char *m)
{
	static const char *const known[] = { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS" };
	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (str_eq(m, known[i]))
			return known[i];
	return "other";
}

void metrics_count(struct metrics *m, const char *method, const char *route, unsigned status)
{
	const char *meth = method_const(method);
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n; i++)
		if (m->s[i].method == meth && m->s[i].route == route && m->s[i].status == status) {
			m->s[i].count++;
			goto out;
		}
	if (m->n < MAX_SERIES)
		m->s[m->n++] = (struct series){ meth, route, status, 1 };
	else
		m->dropped++;
out:
	pthread_mutex_unlock(&m->lock);
}

struct buf {
	char *p;
	size_t n, cap;
	bool oom;
};

static void out(struct buf *b, const char *fmt, ...) _printf_(2, 3);
static void out(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int k;
	for (;;) {
		va_start(ap, fmt);
		k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
		va_end(ap);
		if (k < 0 || b->oom)
			return;
		if (b->p && (size_t)k < b->cap - b->n) {
			b->n += (size_t)k;
			return;
		}
		size_t cap = (b->cap ? b->cap * 2 : 8192) + (size_t)k;
		char *np = realloc(b->p, cap);
		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
}

struct state_count {
	const char *state;
	int64_t n;
};

static void on_state(const char *label, int64_t count, void *ud)
{
	struct state_count *sc = ud;
	for (; sc->state; sc++)
		if (str_eq(sc->state, label))
			sc->n = count;
}

struct running_list {
	int64_t ids[64], pools[64];
	size_t n;
};

static int add_running(const struct bw_rollout *ro, void *userdata)
{
	struct running_list *l = userdata;
	if (str_eq(ro->status, "RollingForward") && l->n < ARRAY_SIZE(l->ids)) {
		l->ids[l->n] = ro->id;
		l->pools[l->n++] = ro->pool;
	}
	return 0;
}

int metrics_handler(struct request *r)
{
	struct metrics *m = r->api->metrics;
	struct store_stats st;
	struct state_count states[16] = { { 0 } };
	const struct field *sf = model_field(&model_node, "state");
	struct buf b = { 0 };
	struct MHD_Response *resp;
	static const char *const ops[] = { "read", "write" };
	size_t ns = 0;

	for (; sf->values[ns] && ns < ARRAY_SIZE(states) - 1; ns++)
		states[ns].state = sf->values[ns];
	if (store_count_nodes_by_state(r->api->store, on_state, states) < 0)
		return api_reply_error(r, 503, "unavailable", NULL, "store failed counting nodes");
	store_get_stats(r->api->store, &st);

	out(&b, "# HELP bootwave_build_info Version of this bootwaved.\n# TYPE bootwave_build_info gauge\n");
	out(&b, "bootwave_build_info{version=\"%s\"} 1\n", BW_VERSION);
	out(&b, "# HELP bootwave_nodes Nodes by lifecycle state.\n# TYPE bootwave_nodes gauge\n");
	for (size_t i = 0; i < ns; i++)
		out(&b, "bootwave_nodes{state=\"%s\"} %lld\n", states[i].state, (long long)states[i].n);

	if (r->api->bmc) {
		struct bmc_stats bs;
		bmc_pool_stats(r->api->bmc, &bs);
		out(&b, "# HELP bootwave_bmc_sessions_open BMC sessions open now.\n# TYPE bootwave_bmc_sessions_open gauge\n"
			"bootwave_bmc_sessions_open %u\n", bs.open_sessions);
		out(&b, "# HELP bootwave_bmc_sessions_open_max The most BMC sessions ever open at once.\n"
			"# TYPE bootwave_bmc_sessions_open_max gauge\nbootwave_bmc_sessions_open_max %u\n",
		    bs.max_open_sessions);
		out(&b, "# HELP bootwave_bmc_busy_max The most BMCs with a command in flight at once.\n"
			"# TYPE bootwave_bmc_busy_max gauge\nbootwave_bmc_busy_max %u\n", bs.max_busy);
		out(&b, "# HELP bootwave_bmc_logins_total BMC logins.\n# TYPE bootwave_bmc_logins_total counter\n"
			"bootwave_bmc_logins_total %llu\n", (unsigned long long)bs.logins);
		out(&b, "# HELP bootwave_bmc_jobs_total BMC operations asked.\n# TYPE bootwave_bmc_jobs_total counter\n"
			"bootwave_bmc_jobs_total %llu\n", (unsigned long long)bs.jobs);
		out(&b, "# HELP bootwave_bmc_cached_total Polls answered from the polling budget.\n"
			"# TYPE bootwave_bmc_cached_total counter\nbootwave_bmc_cached_total %llu\n",
		    (unsigned long long)bs.cached);
		out(&b, "# HELP bootwave_bmc_evictions_total Idle sessions logged out to stay under max_sessions.\n"
			"# TYPE bootwave_bmc_evictions_total counter\nbootwave_bmc_evictions_total %llu\n",
		    (unsigned long long)bs.evictions);
	}
	/* Rollouts rolling forward: their nodes by phase. */
	{
		struct running_list rl = { 0 };
		out(&b, "# HELP bootwave_rollout_nodes Nodes of the rollouts rolling forward, by pool and phase.\n"
			"# TYPE bootwave_rollout_nodes gauge\n");
		store_rollout_list(r->api->store, 0, 0, 0, add_running, &rl);
		for (size_t k = 0; k < rl.n; k++) {
			struct orch_counts c;
			char pool[NAME_MAX_LEN + 1] = "";
			if (orch_counts(orch_rt_orch(r->api->orch), rl.ids[k], &c) < 0)
				continue;
			store_key_of(r->api->store, &model_pool, rl.pools[k], pool, sizeof(pool));
			for (int p = 0; p < PH_N; p++)
				out(&b, "bootwave_rollout_nodes{pool=\"%s\",phase=\"%s\"} %lld\n", pool,
				    orch_phase_name((enum orch_phase)p), (long long)c.phase[p]);
		}
	}
	out(&b, "# HELP bootwave_api_requests_total API requests by method, route and status.\n"
		"# TYPE bootwave_api_requests_total counter\n");
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n; i++)
		out(&b, "bootwave_api_requests_total{method=\"%s\",route=\"%s\",status=\"%u\"} %llu\n",
		    m->s[i].method, m->s[i].route, m->s[i].status, (unsigned long long)m->s[i].count);
	pthread_mutex_unlock(&m->lock);

	out(&b, "# HELP bootwave_store_operation_seconds Latency of store operations.\n"
		"# TYPE bootwave_store_operation_seconds histogram\n");
	for (int op = 0; op < 2; op++) {
		uint64_t cum = 0;
		for (int i = 0; i < STORE_LAT_BUCKETS; i++) {
			cum += st.bucket[op][i];
			out(&b, "bootwave_store_operation_seconds_bucket{op=\"%s\",le=\"%g\"} %llu\n", ops[op],
			    store_lat_bounds[i], (unsigned long long)cum);
		}
		cum += st.bucket[op][STORE_LAT_BUCKETS];
		out(&b, "bootwave_store_operation_seconds_bucket{op=\"%s\",le=\"+Inf\"} %llu\n", ops[op],
		    (unsigned long long)cum);
		out(&b, "bootwave_store_operation_seconds_sum{op=\"%s\"} %.6f\n", ops[op], st.sum[op]);
		out(&b, "bootwave_store_operation_seconds_count{op=\"%s\"} %llu\n", ops[op],
		    (unsigned long long)st.count[op]);
	}
	out(&b, "# HELP bootwave_store_errors_total Store operations that failed.\n"
		"# TYPE bootwave_store_errors_total counter\nbootwave_store_errors_total %llu\n",
	    (unsigned long long)st.errors);
	if (b.oom) {
		free(b.p);
		return api_reply_error(r, 500, "internal", NULL, "out of memory");
	}
	resp = MHD_create_response_from_buffer(b.n, b.p, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	return api_reply_response(r, 200, resp);
}
