// SPDX-License-Identifier: Apache-2.0
/*
 * The HTTP front of bootwaved: libmicrohttpd glue, the route table, bearer
 * token auth with roles, request bodies (buffered JSON or streamed uploads)
 * and JSON replies. Handlers live in routes_*.c.
 *
 * A request goes: route match (404/405) -> auth (401/403) -> body (413 past
 * [api] max_body for JSON; streamed to route->chunk for uploads) -> handler
 * -> one log line and one metrics count when it completes.
 */
#include "api-internal.h"
#include "orch_env.h"
#include "ext_runner.h"
#include "sshkey.h"

#include "bmc.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <netdb.h>
#include <stdarg.h>
#include <time.h>

#include "auth.h"
#include "ipxe.h"
#include "routes_extensions.h"
#include "events.h"

/* libmicrohttpd's memory per connection, for the request's headers and read
 * buffer. It zeroes the whole pool at every request and, past 32 KiB, maps a
 * fresh one per connection: with 512 clients fetching 512 KiB slices in
 * bench-http, 64 KiB cost bootwaved 0.92 CPU-s per GiB, 16 KiB 0.44 (nginx
 * 0.16); 8 KiB is no better. Uploads are buffered apart (API_STREAM_BUF). */
#define API_CONN_POOL (16 * 1024)
#define API_STREAM_BUF (1024 * 1024)

#define R(meth, pat, role_, body_, ...) { .method = meth, .pattern = pat, .role = role_, .body = body_, __VA_ARGS__ }
#define INVENTORY(plural, model_)                                                                  \
	R("GET", "/api/v1/" plural, ROLE_VIEWER, BODY_NONE, .model = &model_, .handler = inventory_list), \
	R("POST", "/api/v1/" plural, ROLE_OPERATOR, BODY_JSON, .model = &model_, .handler = inventory_create), \
	R("GET", "/api/v1/" plural "/{}", ROLE_VIEWER, BODY_NONE, .model = &model_, .handler = inventory_get), \
	R("PATCH", "/api/v1/" plural "/{}", ROLE_OPERATOR, BODY_JSON, .model = &model_, .handler = inventory_update), \
	R("DELETE", "/api/v1/" plural "/{}", ROLE_OPERATOR, BODY_NONE, .model = &model_, .handler = inventory_delete)

int api_check_fields(struct request *r, const char *const *allowed)
{
	const char *key;
	json_t *val;
	char esc[96];

	if (!json_is_object(r->json))
		return api_reply_error(r, 400, "bad_json", NULL, "request body must be a JSON object"), -EINVAL;
	json_object_foreach(r->json, key, val) {
		bool ok = false;
		for (size_t i = 0; allowed[i]; i++)
			ok |= str_eq(key, allowed[i]);
		if (!ok)
			return api_reply_error(r, 400, "unknown_field", key, "unknown field \"%s\"",
					       log_escape(key, strlen(key), esc, sizeof(esc))),
			       -EINVAL;
	}
	return 0;
}

static int api_index(struct request *r);

static const struct route routes[] = {
	R("GET", "/api/v1", ROLE_VIEWER, BODY_NONE, .handler = api_index),
	R("GET", "/api/v1/whoami", ROLE_VIEWER, BODY_NONE, .handler = whoami),
	INVENTORY("sites", model_site),
	INVENTORY("zones", model_zone),
	INVENTORY("racks", model_rack),
	INVENTORY("nodes", model_node),
	INVENTORY("pools", model_pool),
	INVENTORY("images", model_image),
	R("GET", "/api/v1/pools/{}/extensions", ROLE_VIEWER, BODY_NONE, .model = &model_pool_extension,
	  .handler = inventory_list),
	R("POST", "/api/v1/pools/{}/extensions", ROLE_OPERATOR, BODY_JSON, .model = &model_pool_extension,
	  .handler = inventory_create),
	R("GET", "/api/v1/pools/{}/extensions/{}", ROLE_VIEWER, BODY_NONE, .model = &model_pool_extension,
	  .handler = inventory_get),
	R("PATCH", "/api/v1/pools/{}/extensions/{}", ROLE_OPERATOR, BODY_JSON, .model = &model_pool_extension,
	  .handler = inventory_update),
	R("DELETE", "/api/v1/pools/{}/extensions/{}", ROLE_OPERATOR, BODY_NONE, .model = &model_pool_extension,
	  .handler = inventory_delete),
	R("GET", "/api/v1/images/{}/versions", ROLE_VIEWER, BODY_NONE, .model = &model_image_version,
	  .handler = inventory_list),
	R("GET", "/api/v1/images/{}/versions/{}", ROLE_VIEWER, BODY_NONE, .handler = images_version_get),
	R("PUT", "/api/v1/images/{}/versions/{}", ROLE_OPERATOR, BODY_STREAM, .begin = images_upload_begin,
	  .chunk = images_upload_chunk, .handler = images_upload_end, .done = images_upload_done),
	R("PATCH", "/api/v1/images/{}/versions/{}", ROLE_OPERATOR, BODY_JSON, .handler = images_version_update),
	R("DELETE", "/api/v1/images/{}/versions/{}", ROLE_OPERATOR, BODY_NONE, .handler = images_version_delete),
	R("GET", "/api/v1/images/{}/versions/{}/artifact", ROLE_VIEWER, BODY_NONE,
	  .handler = images_version_download),
	R("HEAD", "/api/v1/images/{}/versions/{}/artifact", ROLE_VIEWER, BODY_NONE,
	  .handler = images_version_download),
	INVENTORY("extensions", model_extension),
	R("GET", "/api/v1/extensions/{}/versions", ROLE_VIEWER, BODY_NONE, .model = &model_extension_version,
	  .handler = inventory_list),
	R("GET", "/api/v1/extensions/{}/versions/{}", ROLE_VIEWER, BODY_NONE, .model = &model_extension_version,
	  .handler = inventory_get),
	R("PUT", "/api/v1/extensions/{}/versions/{}", ROLE_OPERATOR, BODY_STREAM, .begin = ext_upload_begin,
	  .chunk = ext_upload_chunk, .handler = ext_upload_end, .done = ext_upload_done),
	R("DELETE", "/api/v1/extensions/{}/versions/{}", ROLE_OPERATOR, BODY_NONE, .handler = ext_version_delete),
	R("GET", "/api/v1/extensions/{}/versions/{}/bundle", ROLE_VIEWER, BODY_NONE, .handler = ext_version_download),
	R("HEAD", "/api/v1/extensions/{}/versions/{}/bundle", ROLE_VIEWER, BODY_NONE, .handler = ext_version_download),
	R("GET", "/api/v1/tokens", ROLE_ADMIN, BODY_NONE, .model = &model_token, .handler = inventory_list),
	R("POST", "/api/v1/tokens", ROLE_ADMIN, BODY_JSON, .model = &model_token, .handler = tokens_create),
	R("GET", "/api/v1/tokens/{}", ROLE_ADMIN, BODY_NONE, .model = &model_token, .handler = inventory_get),
	R("DELETE", "/api/v1/tokens/{}", ROLE_ADMIN, BODY_NONE, .model = &model_token, .handler = inventory_delete),
	R("GET", "/api/v1/nodes/{}/events", ROLE_VIEWER, BODY_NONE, .model = &model_event,
	  .handler = inventory_list_of_node),
	R("POST", "/api/v1/nodes/{}/reimage", ROLE_OPERATOR, BODY_JSON_OPT, .handler = node_reimage),
	R("GET", "/api/v1/nodes/{}/tasks", ROLE_VIEWER, BODY_NONE, .model = &model_task,
	  .handler = inventory_list_of_node),
	R("GET", "/api/v1/nodes/{}/power", ROLE_VIEWER, BODY_NONE, .handler = node_power_status),
	R("POST", "/api/v1/nodes/{}/power", ROLE_OPERATOR, BODY_JSON, .handler = node_power),
	R("GET", "/api/v1/nodes/{}/bootdev", ROLE_VIEWER, BODY_NONE, .handler = node_bootdev_get),
	R("POST", "/api/v1/nodes/{}/bootdev", ROLE_OPERATOR, BODY_JSON, .handler = node_bootdev_set),
	R("GET", "/api/v1/nodes/{}/health", ROLE_VIEWER, BODY_NONE, .handler = node_bmc_health),
	R("POST", "/api/v1/pools/{}/rollout", ROLE_OPERATOR, BODY_JSON_OPT, .handler = rollout_start),
	R("POST", "/api/v1/pools/{}/rollout/cancel", ROLE_OPERATOR, BODY_NONE, .handler = rollout_cancel),
	R("GET", "/api/v1/pools/{}/rollout", ROLE_VIEWER, BODY_NONE, .handler = rollout_current),
	R("GET", "/api/v1/pools/{}/rollout/events", ROLE_VIEWER, BODY_NONE, .handler = rollout_events),
	R("GET", "/api/v1/pools/{}/rollouts", ROLE_VIEWER, BODY_NONE, .handler = rollout_history),
	R("GET", "/api/v1/rollouts/{}", ROLE_VIEWER, BODY_NONE, .handler = rollout_get),
	R("GET", "/api/v1/pools/{}/custom-data", ROLE_VIEWER, BODY_NONE, .model = &model_pool, .handler = custom_data_get),
	R("PUT", "/api/v1/pools/{}/custom-data", ROLE_OPERATOR, BODY_STREAM, .model = &model_pool,
	  .begin = custom_data_begin, .chunk = custom_data_chunk, .handler = custom_data_put, .done = custom_data_done),
	R("DELETE", "/api/v1/pools/{}/custom-data", ROLE_OPERATOR, BODY_NONE, .model = &model_pool,
	  .handler = custom_data_delete),
	R("GET", "/api/v1/nodes/{}/custom-data", ROLE_VIEWER, BODY_NONE, .model = &model_node, .handler = custom_data_get),
	R("PUT", "/api/v1/nodes/{}/custom-data", ROLE_OPERATOR, BODY_STREAM, .model = &model_node,
	  .begin = custom_data_begin, .chunk = custom_data_chunk, .handler = custom_data_put, .done = custom_data_done),
	R("DELETE", "/api/v1/nodes/{}/custom-data", ROLE_OPERATOR, BODY_NONE, .model = &model_node,
	  .handler = custom_data_delete),
	R("POST", "/api/v1/nodes/{}/extensions/run", ROLE_OPERATOR, BODY_JSON_OPT, .handler = extruns_run),
	R("GET", "/api/v1/nodes/{}/extension-runs", ROLE_VIEWER, BODY_NONE, .model = &model_ext_run,
	  .handler = inventory_list_of_node),
	R("GET", "/api/v1/extension-runs/{}", ROLE_VIEWER, BODY_NONE, .model = &model_ext_run, .handler = inventory_get),
	R("GET", "/api/v1/extension-runs/{}/output", ROLE_VIEWER, BODY_NONE, .handler = extruns_output),
	R("GET", "/api/v1/tasks/{}", ROLE_VIEWER, BODY_NONE, .model = &model_task, .handler = inventory_get),
	R("GET", "/api/v1/discovered", ROLE_VIEWER, BODY_NONE, .model = &model_discovered, .handler = inventory_list),
	R("GET", "/api/v1/discovered/{}", ROLE_VIEWER, BODY_NONE, .model = &model_discovered, .handler = inventory_get),
	R("DELETE", "/api/v1/discovered/{}", ROLE_OPERATOR, BODY_NONE, .model = &model_discovered,
	  .handler = inventory_delete),
	R("GET", "/api/v1/leases", ROLE_VIEWER, BODY_NONE, .model = &model_lease, .handler = inventory_list),
	R("GET", "/api/v1/leases/{}", ROLE_VIEWER, BODY_NONE, .model = &model_lease, .handler = inventory_get),
	/* The agent: its own token, checked by the handler. */
	/* The ramdisk's first call (busybox wget, no CA) and the installed OS's heartbeat
	 * (no CA either) are also served on the plain boot listener; the one-time token the
	 * hello carries came to the machine in the clear in its boot script anyway. */
	R("POST", "/api/v1/agent/hello", ROLE_NONE, BODY_JSON, .handler = agent_hello, .plain = true),
	R("GET", "/api/v1/agent/task", ROLE_NONE, BODY_NONE, .handler = agent_task),
	R("GET", "/api/v1/agent/artifact", ROLE_NONE, BODY_NONE, .handler = agent_artifact),
	R("HEAD", "/api/v1/agent/artifact", ROLE_NONE, BODY_NONE, .handler = agent_artifact),
	R("POST", "/api/v1/agent/progress", ROLE_NONE, BODY_JSON, .handler = agent_progress),
	R("POST", "/api/v1/agent/result", ROLE_NONE, BODY_JSON, .handler = agent_result),
	R("POST", "/api/v1/agent/heartbeat", ROLE_NONE, BODY_JSON, .handler = agent_heartbeat, .plain = true),
	R("GET", "/metrics", ROLE_VIEWER, BODY_NONE, .handler = metrics_handler),
	/* The console's files: no token (they hold no data; the page asks for one). */
	R("GET", "/", ROLE_NONE, BODY_NONE, .handler = web_root),
	R("GET", "/ui", ROLE_NONE, BODY_NONE, .handler = web_index),
	R("HEAD", "/ui", ROLE_NONE, BODY_NONE, .handler = web_index),
	R("GET", "/ui/{}", ROLE_NONE, BODY_NONE, .handler = web_file),
	R("HEAD", "/ui/{}", ROLE_NONE, BODY_NONE, .handler = web_file),
	/* Machines booting: no token (firmware cannot hold one). */
	R("GET", "/boot.ipxe", ROLE_NONE, BODY_NONE, .handler = boot_chain, .plain = true),
	R("GET", "/boot/{}", ROLE_NONE, BODY_NONE, .handler = boot_script, .plain = true),
	R("GET", "/boot/agent/{}", ROLE_NONE, BODY_NONE, .handler = boot_agent_file, .plain = true),
	R("HEAD", "/boot/agent/{}", ROLE_NONE, BODY_NONE, .handler = boot_agent_file, .plain = true),
	R("GET", "/boot/firmware/{}", ROLE_NONE, BODY_NONE, .handler = boot_firmware_file, .plain = true),
	R("HEAD", "/boot/firmware/{}", ROLE_NONE, BODY_NONE, .handler = boot_firmware_file, .plain = true),
	R("GET", "/boot/images/{}/{}/{}", ROLE_NONE, BODY_NONE, .handler = boot_image_file, .plain = true),
	R("HEAD", "/boot/images/{}/{}/{}", ROLE_NONE, BODY_NONE, .handler = boot_image_file, .plain = true),
	/* cloud-init in the installed OS: the heartbeat token in the path, checked by the handler. */
	R("GET", "/nocloud/{}", ROLE_NONE, BODY_NONE, .handler = nocloud_file, .plain = true),
	R("HEAD", "/nocloud/{}", ROLE_NONE, BODY_NONE, .handler = nocloud_file, .plain = true),
	R("GET", "/nocloud/{}/{}", ROLE_NONE, BODY_NONE, .handler = nocloud_file, .plain = true),
	R("HEAD", "/nocloud/{}/{}", ROLE_NONE, BODY_NONE, .handler = nocloud_file, .plain = true),
};

/* ---- replies ---- */

int api_reply_response(struct request *r, unsigned status, struct MHD_Response *resp)
{
	if (r->replied) {
		/* A handler bug; keep the first answer. */
		MHD_destroy_response(resp);
		return 0;
	}
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (status == 401)
		MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"bootwave\"");
	r->replied = true;
	r->status = status;
	/* MHD takes a response only before or after the body, not in the
	 * middle of it: keep it until the body has been read (and dropped). */
	if (MHD_queue_response(r->conn, status, resp) == MHD_NO) {
		r->pending = resp;
		return 0;
	}
	MHD_destroy_response(resp);
	return 0;
}

struct MHD_Response *api_json_response(json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII), *nl;
	struct MHD_Response *resp;
	size_t len;

	json_decref(body);
	if (!text)
		return NULL;
	len = strlen(text);
	nl = realloc(text, len + 2);
	if (!nl) {
		free(text);
		return NULL;
	}
	nl[len++] = '\n';
	resp = MHD_create_response_from_buffer(len, nl, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(nl);
		return NULL;
	}
	MHD_add_response_header(resp, "Content-Type", "application/json");
	return resp;
}

int api_reply_json(struct request *r, unsigned status, json_t *body)
{
	struct MHD_Response *resp = api_json_response(body);
	if (!resp) {
		/* Nothing left to allocate a JSON error with: a bare 500. */
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		if (!resp)
			return -ENOMEM;
		status = 500;
	}
	return api_reply_response(r, status, resp);
}

int api_reply_empty(struct request *r, unsigned status)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return -ENOMEM;
	return api_reply_response(r, status, resp);
}

int api_reply_error(struct request *r, unsigned status, const char *code, const char *field,
		    const char *fmt, ...)
{
	char msg[512];
	json_t *err;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	err = json_pack("{s:s, s:s}", "code", code, "message", msg);
	if (field && *field)
		json_object_set_new(err, "field", json_string(field));
	if (status >= 500)
		log_msg(LOG_ERR_, &(struct log_ctx){ .request = r->path }, "%s %s: %s", r->method, r->path, msg);
	return api_reply_json(r, status, json_pack("{s:o}", "error", err));
}

int api_reply_api_error(struct request *r, const struct api_error *e)
{
	return api_reply_error(r, e->status, e->code, e->field, "%s", e->message);
}

/* "bytes=A-B", "bytes=A-", "bytes=-N" against size. 1: a range, 0: none/ignored, <0: unsatisfiable. */
static int parse_range(const char *h, uint64_t size, uint64_t *ret_off, uint64_t *ret_len)
{
	unsigned long long a, b;
	char *end;

	if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
		return 0; /* absent, or several ranges: serve the whole file (RFC 9110 allows it) */
	h += 6;
	if (*h == '-') {
		b = strtoull(h + 1, &end, 10);
		if (end == h + 1 || *end)
			return 0;
		if (b == 0)
			return -1;
		if (b > size)
			b = size;
		*ret_off = size - b;
		*ret_len = b;
		return 1;
	}
	a = strtoull(h, &end, 10);
	if (end == h || *end != '-')
		return 0;
	h = end + 1;
	if (*h) {
		b = strtoull(h, &end, 10);
		if (*end || b < a)
			return 0;
	} else
		b = size ? size - 1 : 0;
	if (a >= size)
		return -1;
	if (b >= size)
		b = size - 1;
	*ret_off = a;
	*ret_len = b - a + 1;
	return 1;
}

int api_reply_file(struct request *r, const char *path, const char *content_type, const char *etag)
{
	struct MHD_Response *resp;
	struct stat st;
	char cr[96];
	uint64_t off = 0, len;
	int fd, rr;

	/* Paths come from the configuration or are checked by the caller: links are followed. */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int e = fd < 0 ? errno : EINVAL;
		if (fd >= 0)
			close(fd);
		if (e == ENOENT)
			return api_reply_error(r, 404, "not_found", NULL, "no such file: %s", r->path);
		return api_reply_error(r, 500, "internal", NULL, "cannot read %s: %s", path, strerror(e));
	}
	len = (uint64_t)st.st_size;
	rr = parse_range(api_header(r, "Range"), len, &off, &len);
	if (rr < 0) {
		close(fd);
		snprintf(cr, sizeof(cr), "bytes */%llu", (unsigned long long)st.st_size);
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		MHD_add_response_header(resp, "Content-Range", cr);
		return api_reply_response(r, 416, resp);
	}
	/* MHD owns fd from here and sends it with sendfile. */
	resp = MHD_create_response_from_fd_at_offset64(len, fd, off);
	if (!resp) {
		close(fd);
		return api_reply_error(r, 500, "internal", NULL, "out of memory");
	}
	MHD_add_response_header(resp, "Content-Type", content_type);
	MHD_add_response_header(resp, "Accept-Ranges", "bytes");
	if (etag)
		MHD_add_response_header(resp, "ETag", etag);
	if (rr > 0) {
		snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu", (unsigned long long)off,
			 (unsigned long long)(off + len - 1), (unsigned long long)st.st_size);
		MHD_add_response_header(resp, "Content-Range", cr);
		return api_reply_response(r, 206, resp);
	}
	return api_reply_response(r, 200, resp);
}

const char *api_query(struct request *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *api_header(struct request *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

struct query_check {
	const char *const *allowed;
	const char *bad;
};

static enum MHD_Result check_one(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct query_check *q = cls;
	(void)kind;
	(void)value;
	for (size_t i = 0; q->allowed && q->allowed[i]; i++)
		if (str_eq(key, q->allowed[i]))
			return MHD_YES;
	q->bad = key;
	return MHD_NO;
}

int api_check_query(struct request *r, const char *const *allowed)
{
	struct query_check q = { .allowed = allowed };
	char esc[96];

	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, check_one, &q);
	if (!q.bad)
		return 0;
	api_reply_error(r, 400, "unknown_parameter", q.bad, "unknown query parameter '%s'",
			log_escape(q.bad, strlen(q.bad), esc, sizeof(esc)));
	return -EINVAL;
}

static int api_index(struct request *r)
{
	return api_reply_json(r, 200,
			      json_pack("{s:s, s:s, s:i}", "service", "bootwave", "version", BW_VERSION,
					"schema", store_schema_version(r->api->store)));
}

/* ---- routing ---- */

/*
 * Splits path into segments and matches it against the table. Sets
 * *ret_path_known when some route has this path with another method.
 */
static const struct route *route_match(struct request *r, bool *ret_path_known)
{
	*ret_path_known = false;
	for (size_t i = 0; i < ARRAY_SIZE(routes); i++) {
		const char *pat = routes[i].pattern, *p = r->path;
		char *out = r->segs;
		int np = 0;
		bool ok = true;

		while (*pat && ok) {
			if (pat[0] == '{' && pat[1] == '}') {
				const char *end = strchr(p, '/');
				size_t n = end ? (size_t)(end - p) : strlen(p);
				if (n == 0 || np == API_MAX_PARAMS ||
				    (size_t)(out - r->segs) + n + 1 > sizeof(r->segs)) {
					ok = false;
					break;
				}
				memcpy(out, p, n);
				out[n] = '\0';
				r->params[np++] = out;
				out += n + 1;
				p += n;
				pat += 2;
			} else if (*pat == *p) {
				pat++;
				p++;
			} else
				ok = false;
		}
		/* A trailing slash is the same resource. */
		if (!ok || !(*p == '\0' || (p[0] == '/' && p[1] == '\0')))
			continue;
		if (strcmp(routes[i].method, r->method) == 0)
			return &routes[i];
		*ret_path_known = true;
	}
	return NULL;
}

/* Authenticates r against route->role; replies 401/403 and returns <0 on refusal. */
static int authorize(struct request *r)
{
	const char *authz = api_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
	enum role need = r->route->role, have;
	int rc;

	if (need == ROLE_NONE || (r->route->handler == metrics_handler && !r->api->cfg->metrics_auth))
		return 0;
	rc = auth_check(r->api->store, authz, (int64_t)time(NULL), &r->token);
	if (rc == -ENOKEY)
		return api_reply_error(r, 401, "unauthorized", NULL,
				       "missing bearer token (Authorization: Bearer <token>)"), -EACCES;
	if (rc == -EKEYEXPIRED)
		return api_reply_error(r, 401, "unauthorized", NULL, "token has expired"), -EACCES;
	if (rc == -EACCES)
		return api_reply_error(r, 401, "unauthorized", NULL, "invalid token"), -EACCES;
	if (rc < 0)
		return api_reply_error(r, 503, "unavailable", NULL, "cannot check the token: store failed"),
		       -EIO;
	if (role_parse(r->token.role, &have) < 0)
		have = ROLE_NONE;
	r->role = have;
	if (have < need)
		return api_reply_error(r, 403, "forbidden", NULL, "%s %s needs the %s role; token '%s' is %s",
				       r->method, r->route->pattern, role_name(need), r->token.name,
				       r->token.role),
		       -EACCES;
	return 0;
}

/* A streamed body reaches the route in pieces of API_STREAM_BUF: MHD hands
 * it over in pieces no larger than its connection pool (API_CONN_POOL), and a
 * write and a digest update per piece that size cost a 256 MiB publish a
 * third of its speed (1.6 s instead of 1.2; 1.0 s with this buffer, measured
 * by tests/bench/bench-http). r->body is the buffer; the last piece is
 * flushed once the body is in, before the handler runs. */
static void stream_flush(struct request *r)
{
	if (r->body_len > 0 && !r->replied)
		r->route->chunk(r, r->body, r->body_len);
	r->body_len = 0;
}

static void stream_take(struct request *r, const char *data, size_t n)
{
	if (r->body_len == 0 && n >= API_STREAM_BUF) {
		r->route->chunk(r, data, n);
		return;
	}
	if (!r->body && !(r->body = malloc(API_STREAM_BUF))) {
		api_reply_error(r, 500, "internal", NULL, "out of memory");
		return;
	}
	while (n > 0 && !r->replied) {
		size_t room = API_STREAM_BUF - r->body_len, take = n < room ? n : room;
		memcpy(r->body + r->body_len, data, take);
		r->body_len += take;
		data += take;
		n -= take;
		if (r->body_len == API_STREAM_BUF)
			stream_flush(r);
	}
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	const struct api_listener *l = cls;
	struct api *a = l->api;
	struct request *r = *con_cls;
	(void)version;

	if (!r) {
		bool path_known;
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		*con_cls = r;
		r->api = a;
		r->conn = conn;
		r->plain = l->plain;
		r->method = method;
		clock_gettime(CLOCK_MONOTONIC, &r->t0);
		if (str_copy(r->path, sizeof(r->path), url) < 0) {
			snprintf(r->path, sizeof(r->path), "%.100s...", url);
			api_reply_error(r, 414, "uri_too_long", NULL, "request path too long");
			return MHD_YES;
		}
		r->route = route_match(r, &path_known);
		if (!r->route) {
			if (path_known)
				api_reply_error(r, 405, "method_not_allowed", NULL, "%s is not allowed on %s",
						method, url);
			else
				api_reply_error(r, 404, "not_found", NULL, "no such endpoint: %s", url);
			return MHD_YES;
		}
		if (r->plain && !r->route->plain) {
			api_reply_error(r, 403, "tls_required", NULL,
					"this port serves booting machines only; the API is HTTPS on port %u", a->port);
			return MHD_YES;
		}
		if (authorize(r) < 0)
			return MHD_YES;
		const char *clen = api_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if ((r->route->body == BODY_JSON || r->route->body == BODY_JSON_OPT) && clen && strtoull(clen, NULL, 10) > (unsigned long long)a->cfg->max_body) {
			api_reply_error(r, 413, "body_too_large", NULL, "request body larger than %lld bytes",
					(long long)a->cfg->max_body);
			return MHD_YES;
		}
		if (r->route->body == BODY_STREAM)
			r->route->begin(r);
		return MHD_YES;
	}

	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (r->replied)
			return MHD_YES; /* refused already: drop the rest */
		switch (r->route->body) {
		case BODY_NONE:
			api_reply_error(r, 400, "unexpected_body", NULL, "%s %s takes no request body", method,
					r->route->pattern);
			break;
		case BODY_JSON:
		case BODY_JSON_OPT:
			if (r->body_len + n > (size_t)a->cfg->max_body) {
				api_reply_error(r, 413, "body_too_large", NULL,
						"request body larger than %lld bytes", (long long)a->cfg->max_body);
				break;
			}
			char *nb = realloc(r->body, r->body_len + n + 1);
			if (!nb) {
				api_reply_error(r, 500, "internal", NULL, "out of memory");
				break;
			}
			r->body = nb;
			memcpy(r->body + r->body_len, upload_data, n);
			r->body_len += n;
			r->body[r->body_len] = '\0';
			break;
		case BODY_STREAM:
			stream_take(r, upload_data, n);
			break;
		}
		return MHD_YES;
	}

	if (!r->replied && r->route->body == BODY_STREAM)
		stream_flush(r);
	if (r->pending) {
		MHD_queue_response(conn, r->status, r->pending);
		MHD_destroy_response(r->pending);
		r->pending = NULL;
		return MHD_YES;
	}
	if (r->replied)
		return MHD_YES;
	if (r->resume) {
		/* A suspended request whose work is done. */
		int (*resume)(struct request *) = r->resume;
		r->resume = NULL;
		resume(r);
		if (!r->replied)
			api_reply_error(r, 500, "internal", NULL, "handler gave no answer");
		return MHD_YES;
	}
	if (r->route->body == BODY_JSON || (r->route->body == BODY_JSON_OPT && r->body_len > 0)) {
		json_error_t jerr;
		if (r->body_len == 0) {
			api_reply_error(r, 400, "bad_json", NULL, "request body must be a JSON object");
			return MHD_YES;
		}
		r->json = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
		if (!r->json) {
			api_reply_error(r, 400, "bad_json", NULL, "malformed JSON at line %d column %d: %s",
					jerr.line, jerr.column, jerr.text);
			return MHD_YES;
		}
		if (!json_is_object(r->json)) {
			api_reply_error(r, 400, "bad_json", NULL, "request body must be a JSON object");
			return MHD_YES;
		}
	}
	r->route->handler(r);
	if (!r->replied && !r->resume)
		api_reply_error(r, 500, "internal", NULL, "handler gave no answer");
	return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct api *a = cls;
	struct request *r = *con_cls;
	struct timespec t1;
	double ms;
	(void)conn;

	if (!r)
		return;
	if (r->route && r->route->done)
		r->route->done(r, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && r->replied);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - r->t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - r->t0.tv_nsec) / 1e6;
	metrics_count(a->metrics, r->method, r->route ? r->route->pattern : "unmatched",
		      r->replied ? r->status : 499);
	log_msg(r->status >= 500 || !r->replied ? LOG_WARN_ : LOG_DEBUG_, NULL,
		"%s %s %u %.1fms token=%s%s", r->method,
		/* A NoCloud path holds a heartbeat token: log the route's pattern instead. */
		strncmp(r->path, "/nocloud/", 9) != 0 ? r->path : r->route ? r->route->pattern : "/nocloud/...",
		r->replied ? r->status : 499, ms,
		r->token.name[0] ? r->token.name : "-",
		toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection ended early)");
	if (r->pending)
		MHD_destroy_response(r->pending);
	json_decref(r->json);
	free(r->body);
	free(r);
	*con_cls = NULL;
}

/* MHD hands its own printf format: say so, so the call below is checked as one. */
static _printf_(2, 0) void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;
	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_debug("http: %s", msg);
}

/*
 * Starts one libmicrohttpd daemon on host:port for l: the API's speaks TLS
 * when it is configured, the boot listener never does.
 */
static int start_listener(struct api *a, const char *listen, const char *host, int64_t port_num,
			  struct api_listener *l, struct MHD_Daemon **ret, uint16_t *ret_port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	bool tls = a->tls.enabled && !l->plain;
	char port[8];

	snprintf(port, sizeof(port), "%u", (unsigned)port_num);
	if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai) {
		log_error("api: cannot resolve listen address %s", listen);
		return -EADDRNOTAVAIL;
	}
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (tls)
		flags |= MHD_USE_TLS;
	errno = 0;
	/* The TLS options last: without TLS, MHD_OPTION_END ends the list before them. */
	*ret = MHD_start_daemon(flags, 0, NULL, NULL, on_request, l,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				MHD_OPTION_SOCK_ADDR, ai->ai_addr,
				MHD_OPTION_THREAD_POOL_SIZE, (unsigned)a->cfg->threads,
				/* libmicrohttpd's default is FD_SETSIZE - 4 (1020): past it the
				 * listener stops accepting, and a fleet's kept-alive heartbeat
				 * connections alone can reach it. */
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)a->cfg->max_connections,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, a,
				MHD_OPTION_CONNECTION_TIMEOUT, 120u,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)API_CONN_POOL,
				tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, a->tls.cert_pem,
				MHD_OPTION_HTTPS_MEM_KEY, a->tls.key_pem,
				MHD_OPTION_HTTPS_PRIORITIES, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2",
				MHD_OPTION_END);
	freeaddrinfo(ai);
	if (!*ret) {
		log_error("api: cannot listen on %s: %s", listen,
			  tls && errno != EADDRINUSE ? "TLS setup failed (see the debug log)" : strerror(errno ? errno : EADDRINUSE));
		return -EADDRINUSE;
	}
	info = MHD_get_daemon_info(*ret, MHD_DAEMON_INFO_BIND_PORT);
	*ret_port = info ? info->port : (uint16_t)port_num;
	return 0;
}

int api_start(const struct config *cfg, struct store *store, const uint8_t key[SECRET_KEY_LEN],
	      struct api **ret)
{
	struct api *a;
	struct bmc_limits limits;
	int r;

	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->cfg = cfg;
	a->store = store;
	memcpy(a->key, key, SECRET_KEY_LEN);
	if ((r = metrics_new(&a->metrics)) < 0)
		goto fail;
	{
		char why[2 * CONFIG_PATH_MAX + 256];
		if ((r = api_tls_load(cfg, &a->tls, why, sizeof(why))) < 0) {
			log_error("api: %s", why);
			goto fail;
		}
	}
	if ((r = images_cleanup(a)) < 0)
		goto fail;
	if ((r = ext_cleanup(a)) < 0)
		goto fail;
	{
		char why[CONFIG_PATH_MAX + 128];
		if ((r = sign_keyring_load_dir(cfg->trusted_keys, &a->keys, why, sizeof(why))) < 0) {
			log_error("images: trusted keys: %s", why);
			goto fail;
		}
		if (a->keys.n)
			log_info("images: %zu trusted signing key(s) from %s", a->keys.n, cfg->trusted_keys);
	}
	{
		char dir[CONFIG_PATH_MAX + 16];
		const char *missing = NULL;
		snprintf(dir, sizeof(dir), "%s/templates", cfg->firmware_dir);
		r = ipxe_templates_load(dir, &a->templates, &missing);
		if (r < 0 && cfg->boot_interface[0]) {
			log_error("boot: cannot load the iPXE template %s/%s.ipxe: %s", dir, missing ? missing : "?",
				  strerror(-r));
			goto fail;
		}
		if (r < 0)
			log_info("boot: no iPXE templates in %s; /boot answers 503", dir);
		r = 0;
	}
	limits = (struct bmc_limits){ .workers = (unsigned)cfg->bmc_workers,
				      .max_sessions = (unsigned)cfg->bmc_max_sessions,
				      .min_poll_ms = (unsigned)cfg->bmc_min_poll * 1000,
				      .retries = (unsigned)cfg->bmc_retries,
				      .backoff_ms = 500,
				      .idle_close_ms = (unsigned)cfg->bmc_idle_close * 1000 };
	if ((r = bmc_pool_new(&limits, &a->bmc)) < 0) {
		log_error("api: cannot start the BMC workers: %s", strerror(-r));
		goto fail;
	}
	if ((r = sshkey_ensure(cfg->state_dir, a->ssh_pubkey, sizeof(a->ssh_pubkey))) < 0) {
		log_error("extensions: cannot make or read the appliance's SSH key in %s: %s", cfg->state_dir,
			  strerror(-r));
		goto fail;
	}
	log_info("extensions: the appliance's SSH key is %s/%s", cfg->state_dir, SSHKEY_PUB_FILE);
	if ((r = ext_runner_start(a, &a->runner)) < 0) {
		log_error("api: cannot start the extension runner: %s", strerror(-r));
		goto fail;
	}
	if ((r = orch_rt_start(a, &a->orch)) < 0) {
		log_error("api: cannot start the orchestrator: %s", strerror(-r));
		goto fail;
	}
	if ((r = api_events_start(a, &a->events)) < 0) {
		log_error("api: cannot start the event streams: %s", strerror(-r));
		goto fail;
	}
	a->lis[0] = (struct api_listener){ .api = a, .plain = false };
	a->lis[1] = (struct api_listener){ .api = a, .plain = true };
	if ((r = start_listener(a, cfg->listen, cfg->listen_host, cfg->listen_port, &a->lis[0], &a->mhd, &a->port)) < 0)
		goto fail;
	log_info("api: listening on %s port %u (%s)", cfg->listen_host, a->port, a->tls.enabled ? "HTTPS" : "HTTP");
	if (cfg->boot_http_listen[0]) {
		if ((r = start_listener(a, cfg->boot_http_listen, cfg->boot_listen_host, cfg->boot_listen_port, &a->lis[1],
					&a->boot_mhd, &a->boot_port)) < 0)
			goto fail;
		log_info("boot: plain HTTP for booting machines on %s port %u", cfg->boot_listen_host, a->boot_port);
	}
	*ret = a;
	return 0;
fail:
	api_stop(a);
	return r;
}

uint16_t api_port(const struct api *a) { return a->port; }

uint16_t api_boot_port(const struct api *a) { return a->boot_mhd ? a->boot_port : a->port; }

void api_stop(struct api *a)
{
	if (!a)
		return;
	/* Suspended requests wait for their BMC jobs: finish those (each is
	 * bounded by the BMC timeouts) so MHD can close every connection. */
	orch_rt_stop(a->orch);
	ext_runner_stop(a->runner);
	/* Streams wait suspended for changes: each ends at its next read. */
	api_events_stop(a->events);
	bmc_pool_free(a->bmc);
	orch_rt_free(a->orch);
	if (a->boot_mhd)
		MHD_stop_daemon(a->boot_mhd);
	if (a->mhd)
		MHD_stop_daemon(a->mhd);
	api_tls_free(&a->tls);
	api_events_free(a->events);
	metrics_free(a->metrics);
	ipxe_templates_free(a->templates);
	explicit_bzero(a->key, sizeof(a->key));
	free(a);
}
