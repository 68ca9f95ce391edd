// SPDX-License-Identifier: Apache-2.0
/*
 * Generic handlers for the inventory resources (sites, zones, racks, nodes,
 * pools, images, tokens): list with filters and keyset pagination, get,
 * create, update (PATCH: only the fields given), delete. Each model may add
 * cross-field rules in a fixup function below.
 */
#include "api-internal.h"

#include "extorder.h"
#include "fsutil.h"
#include "routes_extensions.h"

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

/* The pool's extensions with pe in place of (or added to) the row of the same name. */
static int with_row(struct request *r, const struct bw_pool_extension *pe, struct bw_pool_extension *all,
		    size_t *ret_n)
{
	size_t n = 0, k;
	int rc = store_pool_extensions(r->api->store, pe->pool, all, EXTORDER_MAX, &n);

	if (rc == -E2BIG)
		n = EXTORDER_MAX;
	else if (rc < 0)
		return rc;
	for (k = 0; k < n && !str_eq(all[k].name, pe->name); k++)
		;
	if (k == n && n == EXTORDER_MAX)
		return -E2BIG;
	all[k] = *pe;
	*ret_n = k == n ? n + 1 : n;
	return 0;
}

static int pool_extension_fixup(struct request *r, void *obj, bool *mask, bool create, struct api_error *e)
{
	struct bw_pool_extension *pe = obj, old;
	struct bw_extension x;
	struct bw_extension_version v;
	_cleanup_free_ struct bw_pool_extension *all = calloc(EXTORDER_MAX + 1, sizeof(*all));
	size_t n, order[EXTORDER_MAX + 1];
	char msg[256], why[200];
	int rc;

	if (!all)
		return reject(e, 500, "internal", "", "out of memory");
	rc = store_get_by_key(r->api->store, &model_extension, 0, pe->name, &x);
	if (rc == -ENOENT) {
		snprintf(msg, sizeof(msg), "name: the catalog has no extension %s (bootwave extension create)", pe->name);
		return reject(e, 422, "invalid_reference", "name", msg);
	}
	if (rc < 0)
		return reject(e, 503, "unavailable", "", "store failed");
	rc = store_get_by_key(r->api->store, &model_extension_version, x.id, pe->version, &v);
	if (rc == -ENOENT) {
		snprintf(msg, sizeof(msg), "version: extension %s has no version %s", pe->name, pe->version);
		return reject(e, 422, "invalid_reference", "version", msg);
	}
	if (rc < 0)
		return reject(e, 503, "unavailable", "", "store failed");
	if (!create && store_get(r->api->store, &model_pool_extension, pe->id, &old) == 0 &&
	    !str_eq(old.version, pe->version)) {
		/* An operator's choice of version: the one before it is what a rollback goes back to,
		 * and an automatic upgrade that failed is no longer waiting to be retried. */
		snprintf(pe->previous_version, sizeof(pe->previous_version), "%s", old.version);
		pe->failed_version[0] = '\0';
		pe->retry_after = 0;
		MASK(model_pool_extension, "previous_version") = true;
		MASK(model_pool_extension, "failed_version") = true;
		MASK(model_pool_extension, "retry_after") = true;
	}
	rc = with_row(r, pe, all, &n);
	if (rc == -E2BIG) {
		snprintf(msg, sizeof(msg), "name: a pool runs at most %d extensions", EXTORDER_MAX);
		return reject(e, 422, "out_of_range", "name", msg);
	}
	if (rc < 0)
		return reject(e, 503, "unavailable", "", "store failed");
	if (extorder_sort(all, n, order, why, sizeof(why)) < 0) {
		snprintf(msg, sizeof(msg), "provision_after: %s", why);
		return reject(e, 422, "invalid_value", "provision_after", msg);
	}
	return 0;
}

/* A pool's extension that others run after cannot go first. Replies 409 when so. */
static int pool_extension_needed(struct request *r, const struct bw_pool_extension *pe)
{
	_cleanup_free_ struct bw_pool_extension *all = calloc(EXTORDER_MAX, sizeof(*all));
	char names[EXTORDER_MAX][NAME_MAX_LEN + 1], why[160];
	size_t n = 0, k;

	if (!all || store_pool_extensions(r->api->store, pe->pool, all, EXTORDER_MAX, &n) < 0)
		return api_reply_error(r, 503, "unavailable", NULL, "store failed"), -EIO;
	for (size_t i = 0; i < n; i++) {
		if (extorder_split(all[i].provision_after, names, EXTORDER_MAX, &k, why, sizeof(why)) < 0)
			continue;
		for (size_t j = 0; j < k; j++)
			if (str_eq(names[j], pe->name))
				return api_reply_error(r, 409, "in_use", NULL,
						       "extension %s: %s runs after it (provision_after); change %s first",
						       pe->name, all[i].name, all[i].name),
				       -EBUSY;
	}
	return 0;
}

static fixup_fn fixup_of(const struct model *m)
{
	if (m == &model_pool_extension)
		return pool_extension_fixup;
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

/*
 * The row a request names. A model with a parent (a pool's extensions) is
 * reached as /<parents>/{parent}/<rows>/{key}: the parent is loaded first
 * (404 naming it when missing). Replies on failure.
 */
static int scope(struct request *r, const struct model *m, int64_t *ret_parent, const char **ret_key)
{
	const struct field *pf;
	_cleanup_free_ void *parent = NULL;

	if (!m->parent) {
		*ret_parent = 0;
		*ret_key = r->params[0];
		return 0;
	}
	pf = model_field(m, m->parent);
	parent = malloc(pf->ref->size);
	if (!parent)
		return api_reply_error(r, 500, "internal", NULL, "out of memory"), -ENOMEM;
	if (inventory_load(r, pf->ref, 0, r->params[0], parent) < 0)
		return -ENOENT;
	*ret_parent = *(const int64_t *)parent;
	*ret_key = r->params[1];
	return 0;
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
	const struct model *m = r->route->model;
	struct store_filter f = { .field = m->parent ? model_field(m, m->parent) : NULL };
	const char *key;

	if (scope(r, m, &f.ival, &key) < 0)
		return 0;
	return inventory_list_filtered(r, m, &f, m->parent ? 1 : 0);
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

	int64_t parent;
	const char *key;

	if (!obj)
		return api_reply_error(r, 500, "internal", NULL, "out of memory");
	if (scope(r, m, &parent, &key) < 0 || inventory_load(r, m, parent, key, obj) < 0)
		return 0;
	return api_reply_json(r, 200, codec_encode(r->api, m, obj));
}

int inventory_create(struct request *r)
{
	const struct model *m = r->route->model;
	_cleanup_free_ void *obj = malloc(m->size);
	bool mask[MODEL_MAX_FIELDS];
	struct api_error e;
	struct store_err se = { .field = "" };
	char loc[512];
	int64_t parent;
	const char *key;
	int rc;

	if (!obj)
		return api_reply_error(r, 500, "internal", NULL, "out of memory");
	if (scope(r, m, &parent, &key) < 0)
		return 0;
	model_init(m, obj);
	if (m->parent)
		*(int64_t *)field_ptr(model_field(m, m->parent), obj) = parent;
	if (decode_checked(r, m, obj, mask, true, &e) < 0)
		return api_reply_api_error(r, &e);
	rc = store_insert(r->api->store, m, obj, &se);
	if (rc < 0)
		return inventory_reply_store_error(r, m, "", rc, &se);
	log_change(r, m, key_of(m, obj), "created");
	if (m == &model_node) /* enrolled: no longer a discovered machine */
		store_discovered_forget(r->api->store, ((const struct bw_node *)obj)->mac);
	json_t *out = codec_encode(r->api, m, obj);
	/* The new row's URL is the collection's plus its key. */
	if ((size_t)snprintf(loc, sizeof(loc), "%s/%s", r->path, json_string_value(json_object_get(out, m->key))) >=
	    sizeof(loc))
		loc[0] = '\0'; /* cannot happen: paths and keys are bounded */
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
	bool mask[MODEL_MAX_FIELDS];
	struct api_error e;
	struct store_err se = { .field = "" };
	int64_t parent;
	const char *key;
	int rc;

	if (!obj)
		return api_reply_error(r, 500, "internal", NULL, "out of memory");
	if (scope(r, m, &parent, &key) < 0 || inventory_load(r, m, parent, key, obj) < 0)
		return 0;
	if (decode_checked(r, m, obj, mask, false, &e) < 0)
		return api_reply_api_error(r, &e);
	rc = store_update(r->api->store, m, obj, mask, &se);
	if (rc < 0)
		return inventory_reply_store_error(r, m, key, rc, &se);
	log_change(r, m, key_of(m, obj), "updated");
	return api_reply_json(r, 200, codec_encode(r->api, m, obj));
}

int inventory_delete(struct request *r)
{
	const struct model *m = r->route->model;
	_cleanup_free_ void *obj = malloc(m->size);
	struct store_err se = { .field = "" };
	int64_t parent;
	const char *key;
	int rc;

	if (!obj)
		return api_reply_error(r, 500, "internal", NULL, "out of memory");
	if (scope(r, m, &parent, &key) < 0 || inventory_load(r, m, parent, key, obj) < 0)
		return 0;
	if (m == &model_pool_extension && pool_extension_needed(r, obj) < 0)
		return 0;
	if (m == &model_extension && ext_delete_check(r, obj) < 0)
		return 0;
	if (m == &model_token && *(int64_t *)obj == r->token.id)
		return api_reply_error(r, 409, "in_use", NULL,
				       "token %s is the one making this request: revoke it with another admin token",
				       r->params[0]);
	rc = store_delete(r->api->store, m, *(int64_t *)obj, &se);
	if (rc < 0)
		return inventory_reply_store_error(r, m, key, rc, &se);
	if (m == &model_image) {
		/* No version refers to it any more (the store refused otherwise). */
		char dir[CONFIG_PATH_MAX + NAME_MAX_LEN + 2];
		snprintf(dir, sizeof(dir), "%s/%s", r->api->cfg->image_dir, r->params[0]);
		rm_rf(dir);
	}
	if (m == &model_extension) /* no version is left (checked above, and the store refuses otherwise) */
		ext_deleted(r->api, key);
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
