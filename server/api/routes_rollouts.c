// SPDX-License-Identifier: Apache-2.0
/*
 * Rollouts (docs/api.md "Rollouts"), over server/orch/orch.h:
 *   POST /api/v1/pools/<pool>/rollout [{version, extension}]
 *        start one (user): of the OS image, or of one extension of the pool
 *        (version: by default the newest of the catalog)
 *   POST /api/v1/pools/<pool>/rollout/cancel        current batch finishes, no new one
 *   GET  /api/v1/pools/<pool>/rollout               the running one, else the last, with its nodes
 *   GET  /api/v1/pools/<pool>/rollouts[?limit=N&days=D]
 *        history: the last 5 of the last 60 days by default; limit=0 and days=0 for all
 *   GET  /api/v1/rollouts/<id>                       one, with its nodes
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "api-internal.h"
#include "orch.h"
#include "orch_env.h"

static int reply_orch_error(struct request *r, const struct orch_err *e)
{
	return api_reply_error(r, (unsigned)(e->status ? e->status : 500), e->code[0] ? e->code : "internal",
			       e->field[0] ? e->field : NULL, "%s", e->message);
}

static int reply_rollout(struct request *r, unsigned status, const struct bw_rollout *ro, bool nodes)
{
	json_t *j = orch_rollout_json(orch_rt_orch(r->api->orch), ro, nodes);

	if (!j)
		return api_reply_error(r, 503, "unavailable", NULL, "store failed");
	return api_reply_json(r, status, j);
}

int rollout_start(struct request *r)
{
	static const char *const fields[] = { "version", "extension", NULL };
	struct bw_pool pool;
	struct bw_rollout ro;
	struct orch_err e = { 0 };
	const char *version = NULL, *ext = NULL;
	int rc;

	if (inventory_load(r, &model_pool, 0, r->params[0], &pool) < 0)
		return 0;
	if (r->json) {
		if (api_check_fields(r, fields) < 0)
			return 0;
		version = json_string_value(json_object_get(r->json, "version"));
		if (json_object_get(r->json, "version") && (!version || !version[0]))
			return api_reply_error(r, 422, "invalid_value", "version", "version: expected a version name");
		ext = json_string_value(json_object_get(r->json, "extension"));
		if (json_object_get(r->json, "extension") && (!ext || !name_valid(ext)))
			return api_reply_error(r, 422, "invalid_value", "extension", "extension: expected an extension name");
	}
	rc = ext ? orch_start_extension(orch_rt_orch(r->api->orch), pool.id, ext, version, "user", r->token.name, &ro,
					&e)
		 : orch_start(orch_rt_orch(r->api->orch), pool.id, version, "user", r->token.name, &ro, &e);
	if (rc < 0)
		return reply_orch_error(r, &e);
	orch_rt_poke(r->api->orch);
	return reply_rollout(r, 201, &ro, false);
}

int rollout_cancel(struct request *r)
{
	struct bw_pool pool;
	struct bw_rollout ro;
	struct orch_err e = { 0 };

	if (inventory_load(r, &model_pool, 0, r->params[0], &pool) < 0)
		return 0;
	if (orch_cancel(orch_rt_orch(r->api->orch), pool.id, &ro, &e) < 0)
		return reply_orch_error(r, &e);
	orch_rt_poke(r->api->orch);
	return reply_rollout(r, 202, &ro, false);
}

static int first(const struct bw_rollout *ro, void *userdata)
{
	*(struct bw_rollout *)userdata = *ro;
	return 1;
}

int api_rollout_current(struct api *a, int64_t pool_id, struct bw_rollout *ro)
{
	int rc;

	memset(ro, 0, sizeof(*ro));
	rc = store_rollout_running(a->store, pool_id, ro);
	if (rc == -ENOENT)
		rc = store_rollout_list(a->store, pool_id, 0, 1, first, ro);
	if (rc < 0)
		return rc;
	return ro->id ? 0 : -ENOENT;
}

int rollout_current(struct request *r)
{
	struct bw_pool pool;
	struct bw_rollout ro;
	int rc;

	if (inventory_load(r, &model_pool, 0, r->params[0], &pool) < 0)
		return 0;
	rc = api_rollout_current(r->api, pool.id, &ro);
	if (rc == -ENOENT)
		return api_reply_error(r, 404, "not_found", NULL, "pool %s has had no rollout", pool.name);
	if (rc < 0)
		return api_reply_error(r, 503, "unavailable", NULL, "store failed");
	return reply_rollout(r, 200, &ro, true);
}

struct hist {
	struct request *r;
	json_t *list;
};

static int add_hist(const struct bw_rollout *ro, void *userdata)
{
	struct hist *h = userdata;
	json_t *j = orch_rollout_json(orch_rt_orch(h->r->api->orch), ro, false);

	if (!j)
		return -EIO;
	json_array_append_new(h->list, j);
	return 0;
}

/* A non-negative integer query parameter, or def when absent; -1 (replied) when bad. */
static int64_t query_uint(struct request *r, const char *name, int64_t def)
{
	const char *v = api_query(r, name);
	char *end;
	long long n;

	if (!v)
		return def;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (!*v || *end || errno || n < 0 || n > 100000) {
		api_reply_error(r, 400, "invalid_query", name, "%s: expected an integer from 0 to 100000", name);
		return -1;
	}
	return n;
}

int rollout_history(struct request *r)
{
	static const char *const allowed[] = { "limit", "days", NULL };
	struct bw_pool pool;
	struct hist h = { .r = r };
	int64_t limit, days;

	if (api_check_query(r, allowed) < 0 || inventory_load(r, &model_pool, 0, r->params[0], &pool) < 0)
		return 0;
	if ((limit = query_uint(r, "limit", 5)) < 0 || (days = query_uint(r, "days", 60)) < 0)
		return 0;
	h.list = json_array();
	if (store_rollout_list(r->api->store, pool.id, days ? (int64_t)time(NULL) - days * 86400 : 0, limit, add_hist,
			       &h) < 0) {
		json_decref(h.list);
		return api_reply_error(r, 503, "unavailable", NULL, "store failed");
	}
	return api_reply_json(r, 200, h.list);
}

int rollout_get(struct request *r)
{
	struct bw_rollout ro;
	char *end;
	long long id = strtoll(r->params[0], &end, 10);
	int rc;

	if (!r->params[0][0] || *end || id <= 0)
		return api_reply_error(r, 404, "not_found", NULL, "no rollout '%s'", r->params[0]);
	rc = store_rollout_get(r->api->store, id, &ro);
	if (rc == -ENOENT)
		return api_reply_error(r, 404, "not_found", NULL, "no rollout %lld", id);
	if (rc < 0)
		return api_reply_error(r, 503, "unavailable", NULL, "store failed");
	return reply_rollout(r, 200, &ro, true);
}
