// SPDX-License-Identifier: Apache-2.0
/*
 * Generic handlers for the inventory resources (sites, zones, racks, nodes,
 * pools, images, tokens): list with filters and keyset pagination, get,
 * create, update (PATCH: only the fields given), delete. Each model may add
 * cross-field rules in a fixup function below.
 */
#include "api-internal.h"

#include "fsutil.h"

/* ---- per-model rules ---- */

typedef int (*fixup_fn)(struct request *r, void *obj, bool *mask, bool create, struct api_error *e);

static int reject(struct api_error *e, unsigned status, const char *code, const char *field,
		  const char *msg)
{
	e->status = status;
	e->code = code;
	snprintf(e->field, sizeof(e->field), "%s", field);
	snprintf(e->message, sizeof(e->message), "%s", msg);
	return -EINVAL;
}

#define MASK(m, name) mask[model_field(&(m), name) - (m).fields]

static int node_fixup(struct request *r, void *obj, bool *mask, bool create, struct api_error *e)
{
	struct bw_node *n = obj;
	char msg[256];
	(void)create;

	if (n->rack) {
		struct bw_rack rack;
		if (store_get(r->api->store, &model_rack, n->rack, &rack) < 0)
			return reject(e, 422, "invalid_reference", "rack", "rack: no longer exists");
		if (MASK(model_node, "zone") && n->zone != rack.zone) {
			char zone[NAME_MAX_LEN + 1] = "";
			store_key_of(r->api->store, &model_zone, rack.zone, zone, sizeof(zone));
			snprintf(msg, sizeof(msg), "zone: rack %s is in zone %s; give that zone or another rack",
				 rack.name, zone);
			return reject(e, 422, "invalid_value", "zone", msg);
		}
		n->zone = rack.zone;
		MASK(model_node, "zone") = true;
		if (n->fault_domain == INT_NULL && rack.fault_domain != INT_NULL) {
			n->fault_domain = rack.fault_domain;
			MASK(model_node, "fault_domain") = true;
		}
	}
	if (n->fault_domain == INT_NULL) {
		n->fault_domain = 0;
		MASK(model_node, "fault_domain") = true;
	}
	if (!str_eq(n->bmc_driver, "none") && !n->bmc_address[0]) {
		snprintf(msg, sizeof(msg), "bmc_address: required when bmc_driver is %s", n->bmc_driver);
		return reject(e, 422, "missing_field", "bmc_address", msg);
	}
	return 0;
}

static int pool_fixup(struct request *r, void *obj, bool *mask, bool create, struct api_error *e)
{
	struct bw_pool *p = obj;
	struct bw_image_version v;
	char msg[256], image[NAME_MAX_LEN + 1] = "";
	int rc;
	(void)mask;
	(void)create;

	if (str_eq(p->image_version, "latest"))
		return 0;
	rc = store_get_by_key(r->api->store, &model_image_version, p->image, p->image_version, &v);
	if (rc == -ENOENT) {
		store_key_of(r->api->store, &model_image, p->image, image, sizeof(image));
		snprintf(msg, sizeof(msg), "image_version: image %s has no version %s", image, p->image_version);
		return reject(e, 422, "invalid_reference", "image_version", msg);
	}
	return rc < 0 ? reject(e, 503, "unavailable", "image_version", "store failed") : 0;
}

static int site_fixup(struct request *r, void *obj, bool *mask, bool create, struct api_error *e)
{
	struct bw_site *s = obj;
	(void)r;
	(void)mask;
	(void)create;
	if (s->paired_with && s->paired_with == s->id)
		return reject(e, 422, "invalid_value", "paired_with", "paired_with: a site cannot pair with itself");
	return 0;
}

static fixup_fn fixup_of(const struct model *m)
{
	if (m == &model_node)
		return node_fixup;
	if (m == &model_pool)
		return pool_fixup;
	if (m == &model_site)
		return site_fixup;
	return NULL;
}

/* ---- helpers ---- */

static int copy_node(const void *obj, void *ud)
{
	memcpy(ud, obj, sizeof(struct bw_node));
	return 1;
}

static const char *key_of(const struct model *m, const void *obj)
{
	return field_cptr(model_field(m, m->key), obj);
}

int inventory_reply_store_error(struct request *r, const struct model *m, const char *key, int err,
				const struct store_err *se)
{
	switch (err) {
	case -EEXIST:
		return api_reply_error(r, 409, "duplicate", se->field, "%s: another %s already has this %s",
				       se->field[0] ? se->field : m->key, m->name,
				       se->field[0] ? se->field : m->key);
	case -EBUSY:
		return api_reply_error(r, 409, "in_use", NULL,
				       "%s %s is still in use: delete or move what refers to it first", m->name,
				       key);
	case -ENOENT:
		return api_reply_error(r, 404, "not_found", NULL, "no %s named %s", m->name, key);
	default:
		return api_reply_error(r, 503, "unavailable", NULL, "%s", se->message[0] ? se->message : "store failed");
	}
}

int inventory_load(struct request *r, const struct model *m, int64_t parent, const char *key, void *ret)
{
	char esc[96];
	int rc = store_get_by_key(r->api->store, m, parent, key, ret);

	/* A node can also be named by its MAC. */
	if (rc == -ENOENT && m == &model_node) {
		char mac[MAC_STR_LEN + 1];
		struct store_filter f = { .field = model_field(m, "mac"), .sval = mac };
		if (mac_normalize(key, mac) == 0) {
			rc = store_list(r->api->store, m, &f, 1, 0, 1, copy_node, ret, NULL);
			rc = rc == 1 ? 0 : -ENOENT;
		}
	}
	if (rc == -ENOENT)
		api_reply_error(r, 404, "not_found", NULL, "no %s named %s", m->name,
				log_escape(key, strlen(key), esc, sizeof(esc)));
	else if (rc < 0)
		api_reply_error(r, 503, "unavailable", NULL, "store failed reading %s", m->name);
	return rc;
}

/* ---- list ---- */

struct list_ctx {
	struct api *api;
	const struct model *m;
	json_t *items;
	int64_t last;
};

static int list_one(const void *obj, void *ud)
{
	struct list_ctx *c = ud;
	json_array_append_new(c->items, codec_encode(c->api, c->m, obj));
	c->last = *(const int64_t *)obj;
	return 0;
}

static bool filterable(const struct field *f)
{
	return !(f->flags & F_INTERNAL) && strcmp(f->name, "id") != 0 &&
	       (f->type == FT_REF || f->type == FT_ENUM || f->type == FT_INT || f->type == FT_BOOL ||
		f->type == FT_VERSIONREF || f->type == FT_MAC);
}

static int parse_filter(struct request *r, const struct model *m, const struct field *f, const char *v, struct store_filter *out,
			char *strbuf, size_t strsize)
{
	struct api_error e;
	char esc[96];
	json_t *j = NULL;
	_cleanup_free_ void *obj = NULL;
	int rc;

	log_escape(v, strlen(v), esc, sizeof(esc));
	out->field = f;
	out->sval = NULL;
	switch (f->type) {
	case FT_INT: {
		char *end;
		long long n = strtoll(v, &end, 10);
		if (!*v || *end)
			return api_reply_error(r, 400, "invalid_parameter", f->name, "%s: \"%s\" is not an integer",
					       f->name, esc), -EINVAL;
		out->ival = n;
		return 0;
	}
	case FT_BOOL:
		if (!str_eq(v, "true") && !str_eq(v, "false"))
			return api_reply_error(r, 400, "invalid_parameter", f->name, "%s: expected true or false",
					       f->name), -EINVAL;
		out->ival = str_eq(v, "true");
		return 0;
	default:
		break;
	}
	if (f->type == FT_REF && !*v) { /* "?pool=" selects rows without one */
		out->ival = 0;
		return 0;
	}
	j = json_string(v);
	/* Strings and references: validated and resolved like a request body field. */
	obj = calloc(1, m->size);
	if (!obj || !j) {
		json_decref(j);
		return api_reply_error(r, 500, "internal", NULL, "out of memory"), -ENOMEM;
	}
	rc = codec_decode_field(r->api, f, j, obj, &e);
	json_decref(j);
	if (rc < 0)
		return api_reply_api_error(r, &e), -EINVAL;
	if (f->type == FT_REF)
		out->ival = *(const int64_t *)field_cptr(f, obj);
	else {
		snprintf(strbuf, strsize, "%s", (const char *)field_cptr(f, obj));
		out->sval = strbuf;
	}
	return 0;
}

int inventory_list_filtered(struct request *r, const struct model *m, const struct store_filter *extra,
			    size_t n_extra)
{
	const char *allowed[64];
	struct store_filter filters[32];
	char strbufs[32][256];
	size_t na = 0, nf = 0;
	struct list_ctx c = { .api = r->api, .m = m };
	const char *limit_s = api_query(r, "limit"), *after_s = api_query(r, "after");
	long long limit = r->api->cfg->page_size, after = 0;
	bool more = false;
	char *end;
	int rc;

	allowed[na++] = "limit";
	allowed[na++] = "after";
	for (size_t i = 0; i < m->n_fields && na < ARRAY_SIZE(allowed) - 1; i++)
		if (filterable(&m->fields[i]) && !(m->parent && str_eq(m->fields[i].name, m->parent)))
			allowed[na++] = m->fields[i].name;
	allowed[na] = NULL;
	if (api_check_query(r, allowed) < 0)
		return 0;
	if (limit_s) {
		limit = strtoll(limit_s, &end, 10);
		if (!*limit_s || *end || limit < 1 || limit > r->api->cfg->max_page_size)
			return api_reply_error(r, 400, "invalid_parameter", "limit", "limit: expected 1..%lld",
					       (long long)r->api->cfg->max_page_size);
	}
	if (after_s) {
		after = strtoll(after_s, &end, 10);
		if (!*after_s || *end || after < 0)
			return api_reply_error(r, 400, "invalid_parameter", "after",
					       "after: expected the \"next\" value of the previous page");
	}
	for (size_t i = 0; i < n_extra; i++)
		filters[nf++] = extra[i];
	for (size_t i = 2; allowed[i] && nf < ARRAY_SIZE(filters); i++) {
		const char *v = api_query(r, allowed[i]);
		if (v && parse_filter(r, m, model_field(m, allowed[i]), v, &filters[nf], strbufs[nf],
				      sizeof(strbufs[nf])) < 0)
			return 0;
		if (v)
			nf++;
	}
	c.items = json_array();
	rc = store_list(r->api->store, m, filters, nf, after, (int)limit, list_one, &c, &more);
	if (rc < 0) {
		json_decref(c.items);
		return api_reply_error(r, 503, "unavailable", NULL, "store failed listing %s", m->plural);
	}
	json_t *out = json_pack("{s:o}", "items", c.items);
	if (more) {
		char next[24];
		snprintf(next, sizeof(next), "%lld", (long long)c.last);
		json_object_set_new(out, "next", json_string(next));
	} else
		json_object_set_new(out, "next", json_null());
	return api_reply_json(r, 200, out);
}

int inventory_list(struct request *r)
{
	return inventory_list_filtered(r, r->route->model, NULL, 0);
}

/* ---- get, create, update, delete ---- */

/* One info line per change, with the node as context when it is a node. */
static void log_change(struct request *r, const struct model *m, const char *key, const char *what)
{
	struct log_ctx ctx = { .node = m == &model_node ? key : NULL };
	log_msg(LOG_INFO_, &ctx, "%s %s %s by token %s", m->name, key, what, r->token.name);
}

/* Applies the request body to obj, then the model's cross-field rules. */
static int decode_checked(struct request *r, const struct model *m, void *obj, bool *mask, bool create,
			  struct api_error *e)
{
	fixup_fn fix = fixup_of(m);
	if (codec_decode(r->api, m, r->json, create, obj, mask, e) < 0)
		return -EINVAL;
	return fix ? fix(r, obj, mask, create, e) : 0;
}

int inventory_get(struct request *r)
{
	const struct model *m = r->route->model;
	_cleanup_free_ void *obj = malloc(m->size);

	if (!obj)
		return api_reply_error(r, 500, "internal", NULL, "out of memory");
	if (inventory_load(r, m, 0, r->params[0], obj) < 0)
		return 0;
	return api_reply_json(r, 200, codec_encode(r->api, m, obj));
}

int inventory_create(struct request *r)
{
	const struct model *m = r->route->model;
	_cleanup_free_ void *obj = malloc(m->size);
	bool mask[64];
	struct api_error e;
	struct store_err se = { .field = "" };
	char loc[256];
	int rc;

	if (!obj)
		return api_reply_error(r, 500, "internal", NULL, "out of memory");
	model_init(m, obj);
	if (decode_checked(r, m, obj, mask, true, &e) < 0)
		return api_reply_api_error(r, &e);
	rc = store_insert(r->api->store, m, obj, &se);
	if (rc < 0)
		return inventory_reply_store_error(r, m, "", rc, &se);
	log_change(r, m, key_of(m, obj), "created");
	if (m == &model_node) /* enrolled: no longer a discovered machine */
		store_discovered_forget(r->api->store, ((const struct bw_node *)obj)->mac);
	json_t *out = codec_encode(r->api, m, obj);
	snprintf(loc, sizeof(loc), "/api/v1/%s/%s", m->plural, json_string_value(json_object_get(out, m->key)));
	struct MHD_Response *resp = api_json_response(out);
	if (!resp)
		return api_reply_error(r, 500, "internal", NULL, "out of memory");
	MHD_add_response_header(resp, "Location", loc);
	return api_reply_response(r, 201, resp);
}

int inventory_update(struct request *r)
{
	const struct model *m = r->route->model;
	_cleanup_free_ void *obj = malloc(m->size);
	bool mask[64];
	struct api_error e;
	struct store_err se = { .field = "" };
	int rc;

	if (!obj)
		return api_reply_error(r, 500, "internal", NULL, "out of memory");
	if (inventory_load(r, m, 0, r->params[0], obj) < 0)
		return 0;
	if (decode_checked(r, m, obj, mask, false, &e) < 0)
		return api_reply_api_error(r, &e);
	rc = store_update(r->api->store, m, obj, mask, &se);
	if (rc < 0)
		return inventory_reply_store_error(r, m, r->params[0], rc, &se);
	log_change(r, m, key_of(m, obj), "updated");
	return api_reply_json(r, 200, codec_encode(r->api, m, obj));
}

int inventory_delete(struct request *r)
{
	const struct model *m = r->route->model;
	_cleanup_free_ void *obj = malloc(m->size);
	struct store_err se = { .field = "" };
	int rc;

	if (!obj)
		return api_reply_error(r, 500, "internal", NULL, "out of memory");
	if (inventory_load(r, m, 0, r->params[0], obj) < 0)
		return 0;
	if (m == &model_token && *(int64_t *)obj == r->token.id)
		return api_reply_error(r, 409, "in_use", NULL,
				       "token %s is the one making this request: revoke it with another admin token",
				       r->params[0]);
	rc = store_delete(r->api->store, m, *(int64_t *)obj, &se);
	if (rc < 0)
		return inventory_reply_store_error(r, m, r->params[0], rc, &se);
	if (m == &model_image) {
		/* No version refers to it any more (the store refused otherwise). */
		char dir[CONFIG_PATH_MAX + NAME_MAX_LEN + 2];
		snprintf(dir, sizeof(dir), "%s/%s", r->api->cfg->image_dir, r->params[0]);
		rm_rf(dir);
	}
	log_change(r, m, key_of(m, obj), "deleted");
	return api_reply_empty(r, 204);
}

int inventory_list_of_node(struct request *r)
{
	struct bw_node node;
	struct store_filter f = { .field = model_field(r->route->model, "node") };

	if (inventory_load(r, &model_node, 0, r->params[0], &node) < 0)
		return 0;
	f.ival = node.id;
	return inventory_list_filtered(r, r->route->model, &f, 1);
}
