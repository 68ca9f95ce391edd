// SPDX-License-Identifier: Apache-2.0
/*
 * Custom data of pools and nodes, and the NoCloud seed that cloud-init in
 * the installed OS reads it from (docs/api.md "Custom data and NoCloud").
 *
 *   PUT    /api/v1/pools/<pool>/custom-data          operator: the raw body, at most [api] max_custom_data
 *   GET    /api/v1/pools/<pool>/custom-data          viewer: the bytes as they were put
 *   DELETE /api/v1/pools/<pool>/custom-data          operator
 *   ... and the same under /api/v1/nodes/<name or MAC>/custom-data
 *   GET|HEAD /nocloud/<hbtoken>/meta-data|user-data|vendor-data|network-config
 *   GET|HEAD /nocloud/<hbtoken>/                    the names of those files
 *
 * The active iPXE script puts "ds=nocloud;s=<server>/nocloud/<hbtoken>/;dsmode=net"
 * on the installed OS's command line; cloud-init's NoCloud datasource then
 * fetches <seed>meta-data, user-data and vendor-data (and, since 24.3,
 * network-config), retrying each on 404 and failing without meta-data or
 * user-data: so every file answers 200, empty when there is nothing to say.
 * The token in the URL is the per-boot heartbeat token of that node: it
 * names the node, so a node reads only its own seed. It stands in the
 * path, so nothing here logs the path (and api.c logs the route's pattern).
 */
#include "api-internal.h"

#include <stdarg.h>

#include "crypto.h"
#include "ipxe.h"

/* ---- custom data ---- */

/* The pool or node a custom-data route names (route->model says which). */
struct cd_owner {
	enum store_owner kind;
	int64_t id;
	int64_t node;    /* the node's id, for its events; 0 for a pool */
	const char *what; /* "pool" or "node" */
	char name[NAME_MAX_LEN + 1];
};

/* Loads route param 0 as the owner; replies 404 (or 503) and returns < 0 if it is not there. */
static int load_owner(struct request *r, struct cd_owner *ret)
{
	union {
		struct bw_node n;
		struct bw_pool p;
	} u;
	bool node = r->route->model == &model_node;

	if (inventory_load(r, node ? &model_node : &model_pool, 0, r->params[0], &u) < 0)
		return -ENOENT;
	memset(ret, 0, sizeof(*ret));
	ret->kind = node ? STORE_OWNER_NODE : STORE_OWNER_POOL;
	ret->id = node ? u.n.id : u.p.id;
	ret->node = node ? u.n.id : 0;
	ret->what = node ? "node" : "pool";
	snprintf(ret->name, sizeof(ret->name), "%s", node ? u.n.name : u.p.name);
	return 0;
}

/* One log line and, for a node, one event: what changed and who did it. */
static void record_change(struct request *r, const struct cd_owner *o, const char *fmt, ...) _printf_(3, 4);
static void record_change(struct request *r, const struct cd_owner *o, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (o->node) {
		log_msg(LOG_INFO_, &(struct log_ctx){ .node = o->name }, "custom data: %s, by %s", msg, r->token.name);
		store_event_add(r->api->store, o->node, 0, "custom-data", "%s, by %s", msg, r->token.name);
	} else
		log_info("pool %s: custom data: %s, by %s", o->name, msg, r->token.name);
}

struct cd_upload {
	struct cd_owner owner;
	uint8_t *data; /* owned; len bytes of cap */
	size_t len, cap;
};

static int reply_too_large(struct request *r)
{
	return api_reply_error(r, 413, "body_too_large", NULL,
			       "custom data larger than [api] max_custom_data (%lld bytes)",
			       (long long)r->api->cfg->max_custom_data);
}

/* PUT .../custom-data: after auth, before the body. */
int custom_data_begin(struct request *r)
{
	static const char *const none[] = { NULL };
	const char *clen = api_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
	struct cd_upload *u;

	if (api_check_query(r, none) < 0)
		return 0;
	u = calloc(1, sizeof(*u));
	if (!u)
		return api_reply_error(r, 500, "internal", NULL, "out of memory");
	r->state = u;
	if (load_owner(r, &u->owner) < 0)
		return 0;
	/* Refused before the body is read, so an Expect: 100-continue client sends nothing. */
	if (clen && strtoull(clen, NULL, 10) > (unsigned long long)r->api->cfg->max_custom_data)
		return reply_too_large(r);
	return 0;
}

/* PUT .../custom-data: one piece of the body, kept in memory up to the limit. */
int custom_data_chunk(struct request *r, const char *data, size_t len)
{
	struct cd_upload *u = r->state;
	size_t max = (size_t)r->api->cfg->max_custom_data;

	if (len > max - u->len)
		return reply_too_large(r);
	if (u->len + len > u->cap) {
		size_t cap = u->cap ? u->cap : 4096;
		uint8_t *nd;
		while (cap < u->len + len)
			cap *= 2;
		if (cap > max)
			cap = max;
		nd = realloc(u->data, cap);
		if (!nd)
			return api_reply_error(r, 500, "internal", NULL, "out of memory");
		u->data = nd;
		u->cap = cap;
	}
	memcpy(u->data + u->len, data, len);
	u->len += len;
	return 0;
}

/* PUT .../custom-data: the whole body is in. */
int custom_data_put(struct request *r)
{
	struct cd_upload *u = r->state;
	char sha[SHA256_HEX_LEN + 1];
	int rc;

	if (u->len == 0)
		return api_reply_error(r, 400, "empty_upload", NULL,
				       "the body is empty: it is the custom data itself (to clear it: DELETE)");
	rc = store_custom_data_put(r->api->store, u->owner.kind, u->owner.id, u->data, u->len);
	if (rc == -ENOENT)
		return api_reply_error(r, 404, "not_found", NULL, "no %s named %s (deleted meanwhile)", u->owner.what,
				       u->owner.name);
	if (rc < 0)
		return api_reply_error(r, 503, "unavailable", NULL, "store failed writing the custom data");
	sha256_hex_buf(u->data, u->len, sha);
	record_change(r, &u->owner, "set to %zu bytes, sha256 %.16s...", u->len, sha);
	return api_reply_json(r, 200, json_pack("{s:s, s:I, s:s}", u->owner.what, u->owner.name, "size",
						(json_int_t)u->len, "sha256", sha));
}

void custom_data_done(struct request *r, bool completed)
{
	struct cd_upload *u = r->state;
	(void)completed;

	if (!u)
		return;
	free(u->data);
	free(u);
	r->state = NULL;
}

/* GET .../custom-data: the bytes. */
int custom_data_get(struct request *r)
{
	struct cd_owner o;
	struct MHD_Response *resp;
	uint8_t *data = NULL;
	size_t len = 0;
	int rc;

	if (load_owner(r, &o) < 0)
		return 0;
	rc = store_custom_data_get(r->api->store, o.kind, o.id, &data, &len);
	if (rc == -ENOENT)
		return api_reply_error(r, 404, "not_found", NULL, "%s %s has no custom data", o.what, o.name);
	if (rc < 0)
		return api_reply_error(r, 503, "unavailable", NULL, "store failed reading the custom data");
	/* MHD frees data with free() once it is sent. */
	resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(data);
		return api_reply_error(r, 500, "internal", NULL, "out of memory");
	}
	MHD_add_response_header(resp, "Content-Type", "application/octet-stream");
	return api_reply_response(r, 200, resp);
}

/* DELETE .../custom-data: 204 whether there was some or not (clearing is idempotent). */
int custom_data_delete(struct request *r)
{
	struct cd_owner o;
	int rc;

	if (load_owner(r, &o) < 0)
		return 0;
	rc = store_custom_data_delete(r->api->store, o.kind, o.id);
	if (rc < 0 && rc != -ENOENT)
		return api_reply_error(r, 503, "unavailable", NULL, "store failed clearing the custom data");
	if (rc == 0)
		record_change(r, &o, "cleared");
	return api_reply_empty(r, 204);
}

/* ---- NoCloud ---- */

/* A plain-text reply (cloud-init logs the body of a failure as it is). */
static int reply_text(struct request *r, unsigned status, const char *fmt, ...) _printf_(3, 4);
static int reply_text(struct request *r, unsigned status, const char *fmt, ...)
{
	struct MHD_Response *resp;
	char *text = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0)
		return api_reply_empty(r, 500);
	resp = MHD_create_response_from_buffer((size_t)n, text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return api_reply_empty(r, 500);
	}
	MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
	return api_reply_response(r, status, resp);
}

/* A reply of len bytes of data, which it takes (NULL: an empty body). */
static int reply_bytes(struct request *r, const char *content_type, uint8_t *data, size_t len)
{
	struct MHD_Response *resp =
		data ? MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE)
		     : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);

	if (!resp) {
		free(data);
		return reply_text(r, 500, "bootwave: out of memory\n");
	}
	MHD_add_response_header(resp, "Content-Type", content_type);
	return api_reply_response(r, 200, resp);
}

/*
 * Writes s as a YAML double-quoted scalar (YAML 1.2 section 7.3.1): '"'
 * and '\' escaped, control characters as \xNN; other bytes as they are
 * (UTF-8 passes through).
 */
static void yaml_quoted(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/*
 * The instance-id of what node boots now. cloud-init runs its per-instance
 * steps (users, SSH host keys, runcmd...) once per instance-id, and keeps
 * that state in /var/lib/cloud on the OS's own slot. So the id must be
 * stable for one installed OS, new after every reimage, and the old one
 * again after a rollback to the other slot (whose OS already ran them):
 * "bw-<node id>-<slot>-<id of the reimage task that wrote the slot>". The
 * node's id, not its name: renaming a node does not make a new instance.
 * Task 0: the slot was written before bootwave knew the node.
 */
static int instance_id(struct request *r, const struct bw_node *n, char *buf, size_t size)
{
	const char *slot = ipxe_pending(n) ? n->pending_slot : n->active_slot;
	int64_t task = 0;
	int rc = store_slot_task(r->api->store, n->id, slot, &task);

	if (rc < 0 && rc != -ENOENT)
		return rc;
	snprintf(buf, size, "bw-%lld-%s-%lld", (long long)n->id, slot, (long long)task);
	return 0;
}

static int nocloud_meta_data(struct request *r, const struct bw_node *n)
{
	char iid[96], key[sizeof(r->api->ssh_pubkey)];
	char *text = NULL;
	size_t len = 0, kl;
	FILE *f;

	if (instance_id(r, n, iid, sizeof(iid)) < 0)
		return reply_text(r, 503, "bootwave: the store failed; try again\n");
	/* One key, one line: a trailing newline of the file it came from is not part of it. */
	snprintf(key, sizeof(key), "%s", r->api->ssh_pubkey);
	kl = strlen(key);
	while (kl && (key[kl - 1] == '\n' || key[kl - 1] == '\r' || key[kl - 1] == ' '))
		key[--kl] = '\0';
	f = open_memstream(&text, &len);
	if (!f)
		return reply_text(r, 500, "bootwave: out of memory\n");
	fputs("instance-id: ", f);
	yaml_quoted(f, iid);
	fputs("\nlocal-hostname: ", f);
	yaml_quoted(f, n->name);
	if (key[0]) {
		fputs("\npublic-keys:\n  - ", f);
		yaml_quoted(f, key);
		fputc('\n', f);
	} else
		fputs("\npublic-keys: []\n", f);
	if (fclose(f) != 0 || !text) {
		free(text);
		return reply_text(r, 500, "bootwave: out of memory\n");
	}
	if (str_eq(r->method, "GET")) {
		log_msg(LOG_INFO_, &(struct log_ctx){ .node = n->name }, "nocloud: meta-data served, instance-id %s", iid);
		store_event_add(r->api->store, n->id, 0, "nocloud", "meta-data served, instance-id %s", iid);
	}
	return reply_bytes(r, "text/yaml; charset=utf-8", (uint8_t *)text, len);
}

/* The node's custom data, else its pool's, else nothing (an empty user-data: cloud-init does nothing with it). */
static int nocloud_user_data(struct request *r, const struct bw_node *n)
{
	uint8_t *data = NULL;
	size_t len = 0;
	int rc = store_custom_data_get(r->api->store, STORE_OWNER_NODE, n->id, &data, &len);

	if (rc == -ENOENT && n->pool)
		rc = store_custom_data_get(r->api->store, STORE_OWNER_POOL, n->pool, &data, &len);
	if (rc == -ENOENT)
		return reply_bytes(r, "application/octet-stream", NULL, 0);
	if (rc < 0)
		return reply_text(r, 503, "bootwave: the store failed; try again\n");
	return reply_bytes(r, "application/octet-stream", data, len);
}

/* GET|HEAD /nocloud/<hbtoken>/<file>, and /nocloud/<hbtoken>/ (the list of files) */
int nocloud_file(struct request *r)
{
	static const char *const files[] = { "meta-data", "user-data", "vendor-data", "network-config" };
	bool dir = str_eq(r->route->pattern, "/nocloud/{}");
	const char *token = r->params[0], *file = dir ? "" : r->params[1];
	uint8_t hash[SHA256_LEN];
	int64_t node_id = 0;
	struct bw_node n;
	char esc[96];
	bool known = dir;

	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		known |= str_eq(file, files[i]);
	if (!known)
		return reply_text(r, 404, "bootwave: no NoCloud file \"%s\" (there are meta-data, user-data, "
				  "vendor-data and network-config)\n",
				  log_escape(file, strlen(file), esc, sizeof(esc)));
	/* As the heartbeat's agent_auth, from the path: the token's hash names the node. */
	sha256_buf(token, strlen(token), hash);
	if (strlen(token) != AGENT_TOKEN_LEN || strncmp(token, AGENT_TOKEN_PREFIX, strlen(AGENT_TOKEN_PREFIX)) != 0 ||
	    store_agent_token_use(r->api->store, hash, "heartbeat", &node_id, NULL) < 0 ||
	    store_get(r->api->store, &model_node, node_id, &n) < 0) {
		log_warn("nocloud: refused %s of %s: not the heartbeat token of a boot", r->method, file[0] ? file : "/");
		return reply_text(r, 404, "bootwave: no NoCloud seed for this token: it is not the heartbeat token "
				  "of a node's current boot (unknown, expired, or replaced by a later boot)\n");
	}
	if (dir)
		return reply_text(r, 200, "meta-data\nuser-data\nvendor-data\nnetwork-config\n");
	if (str_eq(file, "meta-data"))
		return nocloud_meta_data(r, &n);
	if (str_eq(file, "user-data"))
		return nocloud_user_data(r, &n);
	/* vendor-data, network-config: nothing (network-config empty: cloud-init keeps its fallback). */
	return reply_bytes(r, "text/plain; charset=utf-8", NULL, 0);
}
