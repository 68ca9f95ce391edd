// SPDX-License-Identifier: Apache-2.0
/*
 * The agent protocol (docs/api.md "Agent"): reimage tasks that operators
 * ask for, and what the agent on the node calls while it works.
 *
 *   POST /api/v1/nodes/<name>/reimage     operator: a task for the next boot
 *   GET  /api/v1/agent/task               agent: its task, the manifest, the disks
 *   GET  /api/v1/agent/artifact           agent: the image, with Range
 *   POST /api/v1/agent/progress           agent: stage and bytes
 *   POST /api/v1/agent/result             agent: succeeded (with the sha256 it verified) or failed (why)
 *   POST /api/v1/agent/heartbeat          installed OS: health state
 *
 * The agent authenticates with the one-time token on its kernel command
 * line: it was minted for one node and one task and ends with the result.
 * The installed OS uses the heartbeat token of its boot. A token names its
 * node; nothing in a body can make it act on another node or task.
 */
#include "api-internal.h"
#include "sshkey.h"

#include <arpa/inet.h>

#include "fsutil.h"
#include "manifest.h"
#include "sign.h"

/* The bearer token of the request hashed into hash; false if there is none of the right shape. */
static bool bearer_hash(struct request *r, uint8_t hash[SHA256_LEN])
{
	const char *h = api_header(r, "Authorization");

	if (!h || strncmp(h, "Bearer ", 7) != 0 || strlen(h + 7) != AGENT_TOKEN_LEN ||
	    strncmp(h + 7, AGENT_TOKEN_PREFIX, strlen(AGENT_TOKEN_PREFIX)) != 0)
		return false;
	sha256_buf(h + 7, AGENT_TOKEN_LEN, hash);
	return true;
}

/* Authenticates an agent call: the node (and task, when ret_task) its token was minted for. */
static int agent_auth(struct request *r, const char *purpose, struct bw_node *node, struct bw_task *ret_task)
{
	uint8_t hash[SHA256_LEN];
	int64_t node_id = 0, task_id = 0;

	if (!bearer_hash(r, hash) || store_agent_token_use(r->api->store, hash, purpose, &node_id, &task_id) < 0 ||
	    store_get(r->api->store, &model_node, node_id, node) < 0) {
		log_warn("agent: refused %s %s: no valid %s token", r->method, r->path, purpose);
		api_reply_error(r, 401, "unauthorized", NULL, "invalid or expired agent token");
		return -EACCES;
	}
	if (ret_task && (task_id == 0 || store_get(r->api->store, &model_task, task_id, ret_task) < 0)) {
		api_reply_error(r, 401, "unauthorized", NULL, "invalid or expired agent token");
		return -EACCES;
	}
	return 0;
}

static int load_manifest(struct api *a, const char *image, const char *version, struct manifest *m, const char **why)
{
	char path[CONFIG_PATH_MAX + 300];
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r;

	snprintf(path, sizeof(path), "%s/%s/%s/manifest.json", a->cfg->image_dir, image, version);
	if ((r = read_file(path, MANIFEST_TEXT_MAX, &text, &len)) < 0) {
		*why = "manifest.json cannot be read";
		return r;
	}
	return manifest_parse(text, len, m, why);
}

static bool task_open(const struct bw_task *t)
{
	return str_eq(t->state, "pending") || str_eq(t->state, "running");
}

/* Sets mask[i] for every field of m named in the NULL-terminated list. */
static void mask_of(const struct model *m, bool *mask, const char *const *names)
{
	for (size_t i = 0; i < m->n_fields; i++)
		for (size_t k = 0; names[k]; k++)
			if (str_eq(m->fields[i].name, names[k]))
				mask[i] = true;
}
#define MASK(m, mask, ...) mask_of(m, mask, (const char *const[]){ __VA_ARGS__, NULL })

/* ---- operator side ---- */

int reimage_start(struct api *a, const struct bw_node *node, const struct bw_image *img,
		  const struct bw_image_version *v, const char *signed_pool, bool wipe, const char *who, int64_t rollout,
		  struct bw_task *ret, char *err, size_t size)
{
	struct bw_task t;
	struct manifest m;
	struct store_err se = { .field = "" };
	const char *why = NULL;
	int rc;

	if ((rc = load_manifest(a, img->name, v->version, &m, &why)) < 0) {
		snprintf(err, size, "%s@%s has no usable manifest (%s); publish it again", img->name, v->version, why);
		return -ENOENT;
	}
	if (signed_pool && !m.signature[0]) {
		snprintf(err, size, "pool %s requires signed images and %s@%s has no signature", signed_pool, img->name,
			 v->version);
		return -EPERM;
	}
	model_init(&model_task, &t);
	t.node = node->id;
	t.image = img->id;
	snprintf(t.version, sizeof(t.version), "%s", v->version);
	/* The slot that is not booted; a pending (uncommitted) slot is overwritten. */
	snprintf(t.slot, sizeof(t.slot), "%s", str_eq(node->active_slot, "a") ? "b" : "a");
	t.wipe = wipe;
	t.bytes_total = (int64_t)m.artifact.size;
	if (store_tx_begin(a->store) < 0) {
		snprintf(err, size, "store failed");
		return -EIO;
	}
	rc = store_task_create(a->store, &t, &se);
	if (rc == 0)
		rc = store_node_set_state(a->store, node->id, "reimaging");
	if (rc == 0)
		rc = store_event_add(a->store, node->id, rollout, "reimage", "task %lld: %s@%s to slot %s%s, asked by %s",
				     (long long)t.id, img->name, v->version, t.slot, wipe ? " (wipe)" : "", who);
	if (rc < 0)
		store_tx_rollback(a->store);
	else
		rc = store_tx_commit(a->store);
	if (rc < 0) {
		snprintf(err, size, "store failed: %s", se.message);
		return -EIO;
	}
	log_msg(LOG_INFO_, &(struct log_ctx){ .node = node->name }, "reimage: task %lld, %s@%s to slot %s%s, by %s",
		(long long)t.id, img->name, v->version, t.slot, wipe ? " (wipe)" : "", who);
	if (ret)
		*ret = t;
	return 0;
}

/* POST /api/v1/nodes/<name>/reimage [{image, version, wipe}] */
int node_reimage(struct request *r)
{
	static const char *const fields[] = { "image", "version", "wipe", NULL };
	struct api *a = r->api;
	struct bw_node node;
	struct bw_pool pool;
	struct bw_image img;
	struct bw_image_version v;
	struct bw_task t;
	const char *image = NULL, *version = NULL;
	bool wipe = false, have_pool = false;
	int rc;

	if (inventory_load(r, &model_node, 0, r->params[0], &node) < 0)
		return 0;
	if (r->json) {
		json_t *w = json_object_get(r->json, "wipe");
		if (api_check_fields(r, fields) < 0)
			return 0;
		image = json_string_value(json_object_get(r->json, "image"));
		version = json_string_value(json_object_get(r->json, "version"));
		if ((json_object_get(r->json, "image") && !image) || (json_object_get(r->json, "version") && !version))
			return api_reply_error(r, 422, "invalid_value", image ? "version" : "image", "expected a string");
		if (w && !json_is_boolean(w))
			return api_reply_error(r, 422, "invalid_value", "wipe", "wipe: expected true or false");
		wipe = json_is_true(w);
	}
	if (wipe && r->role < ROLE_ADMIN)
		return api_reply_error(r, 403, "forbidden", "wipe",
				       "wipe recreates the disk layout (the data partition too): it needs an admin token");
	if (node.maintenance)
		return api_reply_error(r, 409, "in_maintenance", NULL,
				       "node %s is in maintenance; clear it first (bootwave node set %s --maintenance false)",
				       node.name, node.name);
	if (node.pool && store_get(a->store, &model_pool, node.pool, &pool) == 0)
		have_pool = true;
	if (image) {
		if (inventory_load(r, &model_image, 0, image, &img) < 0)
			return 0;
	} else if (have_pool) {
		if (store_get(a->store, &model_image, pool.image, &img) < 0)
			return api_reply_error(r, 503, "unavailable", NULL, "store failed");
	} else if (node.installed_image) {
		/* Another version of what the node runs. */
		if (store_get(a->store, &model_image, node.installed_image, &img) < 0)
			return api_reply_error(r, 503, "unavailable", NULL, "store failed");
	} else
		return api_reply_error(r, 422, "missing_field", "image",
				       "node %s is in no pool and has no image installed: name the image (and version) to install",
				       node.name);
	if (!version)
		version = have_pool && !image ? pool.image_version : "latest";
	if (str_eq(version, "latest")) {
		rc = store_version_latest(a->store, img.id, &v);
		if (rc == -ENOENT)
			return api_reply_error(r, 409, "no_version", "version",
					       "image %s has no version for latest (none published, or all excluded)",
					       img.name);
		if (rc < 0)
			return api_reply_error(r, 503, "unavailable", NULL, "store failed");
	} else if (inventory_load(r, &model_image_version, img.id, version, &v) < 0)
		return 0;
	{
		char why2[320];
		const char *code = NULL;
		rc = reimage_start(a, &node, &img, &v, have_pool && pool.require_signed ? pool.name : NULL, wipe,
				   r->token.name, 0, &t, why2, sizeof(why2));
		if (rc == -ENOENT)
			code = "no_manifest";
		else if (rc == -EPERM)
			code = "unsigned";
		if (code)
			return api_reply_error(r, 409, code, "version", "%s", why2);
		if (rc < 0)
			return api_reply_error(r, 503, "unavailable", NULL, "%s", why2);
	}
	return api_reply_json(r, 202, codec_encode(a, &model_task, &t));
}

/* ---- agent side ---- */

/* Disks and layout the agent is told about. */
static json_t *disks_json(struct api *a, const struct bw_node *n)
{
	json_t *data = json_loads(n->data_disks, 0, NULL);

	if (!json_is_array(data)) {
		json_decref(data);
		data = json_array();
	}
	return json_pack("{s:s, s:o, s:{s:I, s:b}}", "os_disk", n->os_disk, "data_disks", data, "layout", "slot_size",
			 (json_int_t)a->cfg->slot_size, "data_partition", a->cfg->data_partition);
}

/* GET /api/v1/agent/task */
int agent_task(struct request *r)
{
	struct api *a = r->api;
	struct bw_node node;
	struct bw_task t;
	struct bw_pool pool;
	struct manifest m;
	char image[NAME_MAX_LEN + 1] = "";
	const char *why = "";
	bool require_sig = false;
	json_t *keys, *o;

	if (agent_auth(r, "reimage", &node, &t) < 0)
		return 0;
	if (!task_open(&t))
		return api_reply_error(r, 410, "task_finished", NULL, "task %lld is %s", (long long)t.id, t.state);
	if (store_key_of(a->store, &model_image, t.image, image, sizeof(image)) < 0 ||
	    load_manifest(a, image, t.version, &m, &why) < 0)
		return api_reply_error(r, 409, "no_manifest", NULL, "%s@%s: %s", image, t.version, why);
	if (node.pool && store_get(a->store, &model_pool, node.pool, &pool) == 0)
		require_sig = pool.require_signed;
	keys = json_array();
	for (size_t i = 0; keys && i < a->keys.n; i++) {
		char hex[2 * SIGN_PUB_LEN + 1];
		hex_encode(a->keys.keys[i].pub, SIGN_PUB_LEN, hex);
		json_array_append_new(keys, json_string(hex));
	}
	o = json_pack("{s:o, s:s, s:o, s:s, s:o, s:b, s:o, s:I}", "task", codec_encode(a, &model_task, &t), "node",
		      node.name, "manifest", manifest_to_json(&m), "artifact_url", "/api/v1/agent/artifact", "disks",
		      disks_json(a, &node), "require_signature", require_sig, "trusted_keys", keys ? keys : json_array(),
		      "stall_timeout", (json_int_t)a->cfg->stall_timeout);
	log_msg(LOG_INFO_, &(struct log_ctx){ .node = node.name }, "agent: fetched task %lld (%s@%s to slot %s)",
		(long long)t.id, image, t.version, t.slot);
	return api_reply_json(r, 200, o);
}

/* GET|HEAD /api/v1/agent/artifact: the artifact of the token's task. */
int agent_artifact(struct request *r)
{
	struct api *a = r->api;
	struct bw_node node;
	struct bw_task t;
	struct bw_image_version v;
	char image[NAME_MAX_LEN + 1] = "", path[CONFIG_PATH_MAX + 300], etag[SHA256_HEX_LEN + 3];

	if (agent_auth(r, "reimage", &node, &t) < 0)
		return 0;
	if (!task_open(&t))
		return api_reply_error(r, 410, "task_finished", NULL, "task %lld is %s", (long long)t.id, t.state);
	if (store_key_of(a->store, &model_image, t.image, image, sizeof(image)) < 0 ||
	    store_get_by_key(a->store, &model_image_version, t.image, t.version, &v) < 0)
		return api_reply_error(r, 410, "gone", NULL, "the version of task %lld is gone", (long long)t.id);
	snprintf(path, sizeof(path), "%s/%s/%s/%s", a->cfg->image_dir, image, v.version, v.artifact);
	snprintf(etag, sizeof(etag), "\"%s\"", v.sha256);
	return api_reply_file(r, path, "application/octet-stream", etag);
}

/* The task a progress or result body names must be the token's. */
static int check_task_id(struct request *r, const struct bw_task *t)
{
	json_t *id = json_object_get(r->json, "task");

	if (!json_is_integer(id))
		return api_reply_error(r, 400, "missing_field", "task", "task: the task id is required"), -EINVAL;
	if (json_integer_value(id) != t->id)
		return api_reply_error(r, 403, "forbidden", "task", "this token is for task %lld only", (long long)t->id),
		       -EACCES;
	return 0;
}

static int get_stage(struct request *r, char *buf, size_t size)
{
	const char *s = json_string_value(json_object_get(r->json, "stage"));

	buf[0] = '\0';
	if (!s)
		return 0;
	if (strlen(s) >= size || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-_") != strlen(s))
		return api_reply_error(r, 422, "invalid_value", "stage", "stage: a short lowercase word"), -EINVAL;
	snprintf(buf, size, "%s", s);
	return 0;
}

/* POST /api/v1/agent/progress {task, stage, bytes_done, bytes_total} */
int agent_progress(struct request *r)
{
	static const char *const fields[] = { "task", "stage", "bytes_done", "bytes_total", NULL };
	struct bw_node node;
	struct bw_task t;
	json_t *done = json_object_get(r->json, "bytes_done"), *total = json_object_get(r->json, "bytes_total");
	bool mask[MODEL_MAX_FIELDS] = { false };
	char stage[24];

	if (agent_auth(r, "reimage", &node, &t) < 0 || api_check_fields(r, fields) < 0 || check_task_id(r, &t) < 0 ||
	    get_stage(r, stage, sizeof(stage)) < 0)
		return 0;
	if ((done && (!json_is_integer(done) || json_integer_value(done) < 0)) ||
	    (total && (!json_is_integer(total) || json_integer_value(total) < 0)))
		return api_reply_error(r, 422, "invalid_value", done && !json_is_integer(done) ? "bytes_done" : "bytes_total",
				       "expected a byte count");
	if (!task_open(&t))
		return api_reply_error(r, 409, "task_finished", NULL, "task %lld is %s: stop", (long long)t.id, t.state);
	if (stage[0]) {
		snprintf(t.stage, sizeof(t.stage), "%s", stage);
		MASK(&model_task, mask, "stage");
	}
	if (done) {
		t.bytes_done = json_integer_value(done);
		MASK(&model_task, mask, "bytes_done");
	}
	if (total) {
		t.bytes_total = json_integer_value(total);
		MASK(&model_task, mask, "bytes_total");
	}
	snprintf(t.state, sizeof(t.state), "running");
	MASK(&model_task, mask, "state");
	if (store_update(r->api->store, &model_task, &t, mask, NULL) < 0)
		return api_reply_error(r, 503, "unavailable", NULL, "store failed");
	return api_reply_json(r, 200, json_pack("{s:s}", "state", t.state));
}

/* POST /api/v1/agent/result {task, status, sha256, reason, stage} */
int agent_result(struct request *r)
{
	static const char *const fields[] = { "task", "status", "sha256", "reason", "stage", NULL };
	struct api *a = r->api;
	struct bw_node node;
	struct bw_task t;
	struct bw_image_version v;
	char image[NAME_MAX_LEN + 1] = "", stage[24], esc[DESC_LEN];
	const char *status = json_string_value(json_object_get(r->json, "status"));
	const char *sha = json_string_value(json_object_get(r->json, "sha256"));
	const char *reason = json_string_value(json_object_get(r->json, "reason"));
	bool ok, mask[MODEL_MAX_FIELDS] = { false };
	int rc;

	if (agent_auth(r, "reimage", &node, &t) < 0 || api_check_fields(r, fields) < 0 || check_task_id(r, &t) < 0 ||
	    get_stage(r, stage, sizeof(stage)) < 0)
		return 0;
	if (!str_eq(status, "succeeded") && !str_eq(status, "failed"))
		return api_reply_error(r, 422, "invalid_value", "status", "status: succeeded or failed");
	if (!task_open(&t))
		return api_reply_error(r, 409, "task_finished", NULL, "task %lld is already %s", (long long)t.id, t.state);
	ok = str_eq(status, "succeeded");
	if (store_key_of(a->store, &model_image, t.image, image, sizeof(image)) < 0 ||
	    store_get_by_key(a->store, &model_image_version, t.image, t.version, &v) < 0)
		return api_reply_error(r, 409, "no_manifest", NULL, "%s@%s is no longer published", image, t.version);
	log_escape(reason ? reason : "", reason ? strlen(reason) : 0, esc, sizeof(esc));
	if (ok && (!sha || !str_eq(sha, v.sha256))) {
		/* The agent must have verified the very bytes that were published. */
		ok = false;
		snprintf(esc, sizeof(esc), "the agent reported sha256 %.64s, the version has %s", sha ? sha : "(none)",
			 v.sha256);
	}
	if (stage[0]) {
		snprintf(t.stage, sizeof(t.stage), "%s", stage);
		MASK(&model_task, mask, "stage");
	}
	snprintf(t.state, sizeof(t.state), "%s", ok ? "succeeded" : "failed");
	snprintf(t.sha256, sizeof(t.sha256), "%s", sha && sha256_hex_valid(sha) ? sha : "");
	snprintf(t.reason, sizeof(t.reason), "%s", ok ? "" : esc[0] ? esc : "no reason given");
	t.finished_at = time(NULL);
	if (ok)
		t.bytes_done = t.bytes_total;
	MASK(&model_task, mask, "state", "bytes_done", "sha256", "reason", "finished_at");
	if (store_tx_begin(a->store) < 0)
		return api_reply_error(r, 503, "unavailable", NULL, "store failed");
	rc = store_update(a->store, &model_task, &t, mask, NULL);
	if (rc == 0 && ok) {
		bool nmask[MODEL_MAX_FIELDS] = { false };
		snprintf(node.pending_slot, sizeof(node.pending_slot), "%s", t.slot);
		node.pending_image = t.image;
		snprintf(node.pending_version, sizeof(node.pending_version), "%s", t.version);
		snprintf(node.health, sizeof(node.health), "Unknown");
		/* A fresh OS: its extensions run again once it is up (the first heartbeat after this). */
		node.provision_after_ts = time(NULL);
		node.ssh_host_key[0] = '\0';
		MASK(&model_node, nmask, "pending_slot", "pending_image", "pending_version", "health", "provision_after_ts",
		     "ssh_host_key");
		rc = store_update(a->store, &model_node, &node, nmask, NULL);
	}
	if (rc == 0)
		rc = store_node_set_state(a->store, node.id, ok ? "waiting_health" : "failed");
	if (rc == 0)
		rc = store_agent_token_drop(a->store, node.id, "reimage");
	if (rc == 0)
		rc = ok ? store_event_add(a->store, node.id, 0, "reimage-written",
					  "task %lld: %s@%s written to slot %s, sha256 verified", (long long)t.id, image,
					  t.version, t.slot)
			: store_event_add(a->store, node.id, 0, "reimage-failed", "task %lld: %s", (long long)t.id,
					  t.reason);
	if (rc < 0)
		store_tx_rollback(a->store);
	else
		rc = store_tx_commit(a->store);
	if (rc < 0)
		return api_reply_error(r, 503, "unavailable", NULL, "store failed");
	if (ok)
		log_msg(LOG_INFO_, &(struct log_ctx){ .node = node.name },
			"agent: task %lld succeeded: %s@%s in slot %s (pending until healthy)", (long long)t.id, image,
			t.version, t.slot);
	else
		log_msg(LOG_WARN_, &(struct log_ctx){ .node = node.name }, "agent: task %lld failed: %s",
			(long long)t.id, t.reason);
	return api_reply_json(r, 200, codec_encode(a, &model_task, &t));
}

/* A host key line as the agent reports it: parsed in full; its fingerprint into fp. */
static int ssh_host_key_check(const char *line, char fp[SSHKEY_FP_SIZE])
{
	char type[SSHKEY_TYPE_MAX];
	uint8_t blob[SSHKEY_BLOB_MAX];
	size_t len;

	if (!line || strlen(line) >= SSH_KEY_LEN || sshkey_parse_public(line, type, sizeof(type), blob, sizeof(blob), &len) < 0)
		return -EINVAL;
	sshkey_fingerprint(blob, len, fp);
	return 0;
}

/* POST /api/v1/agent/heartbeat {state, version, boot_id, ssh_host_key} */
int agent_heartbeat(struct request *r)
{
	static const char *const fields[] = { "state", "version", "boot_id", "detail", "ssh_host_key", NULL };
	struct api *a = r->api;
	struct bw_node node;
	const char *state = json_string_value(json_object_get(r->json, "state"));
	const char *host_key = json_string_value(json_object_get(r->json, "ssh_host_key"));
	bool mask[MODEL_MAX_FIELDS] = { false }, commit, changed, key_changed;
	char fp[64] = "";
	char was[sizeof(node.health)];
	int rc;

	if (agent_auth(r, "heartbeat", &node, NULL) < 0 || api_check_fields(r, fields) < 0)
		return 0;
	if (!str_eq(state, "Initializing") && !str_eq(state, "Healthy") && !str_eq(state, "Unhealthy"))
		return api_reply_error(r, 422, "invalid_value", "state", "state: Initializing, Healthy or Unhealthy");
	if (json_object_get(r->json, "ssh_host_key") && ssh_host_key_check(host_key, fp) < 0)
		return api_reply_error(r, 422, "invalid_value", "ssh_host_key",
				       "ssh_host_key: expected one OpenSSH public key line (ssh-ed25519, ecdsa-sha2-*, ssh-rsa)");
	/* The key of this boot: what the extensions' SSH sessions accept, and nothing else. */
	key_changed = host_key && !str_eq(host_key, node.ssh_host_key);
	if (key_changed) {
		snprintf(node.ssh_host_key, sizeof(node.ssh_host_key), "%s", host_key);
		MASK(&model_node, mask, "ssh_host_key");
	}
	commit = str_eq(state, "Healthy") && str_eq(node.state, "waiting_health") && !str_eq(node.pending_slot, "none");
	changed = !str_eq(node.health, state);
	snprintf(was, sizeof(was), "%s", node.health);
	if (changed)
		log_msg(LOG_INFO_, &(struct log_ctx){ .node = node.name }, "heartbeat: %s -> %s", node.health, state);
	snprintf(node.health, sizeof(node.health), "%s", state);
	node.last_heartbeat = time(NULL);
	if (commit) {
		/* Healthy on the new slot: it becomes the one the node boots. */
		snprintf(node.active_slot, sizeof(node.active_slot), "%s", node.pending_slot);
		node.installed_image = node.pending_image;
		snprintf(node.installed_version, sizeof(node.installed_version), "%s", node.pending_version);
		snprintf(node.pending_slot, sizeof(node.pending_slot), "none");
		node.pending_image = 0;
		node.pending_version[0] = '\0';
	}
	if (!changed && !key_changed && !commit) {
		/* Only the time moves: the group commit, shared with the heartbeats of other nodes. */
		if (store_node_heartbeat(a->store, node.id, node.health, node.last_heartbeat) < 0)
			return api_reply_error(r, 503, "unavailable", NULL, "store failed");
		goto reply;
	}
	MASK(&model_node, mask, "health", "last_heartbeat");
	if (commit)
		MASK(&model_node, mask, "active_slot", "installed_image", "installed_version", "pending_slot",
		     "pending_image", "pending_version");
	if (store_tx_begin(a->store) < 0)
		return api_reply_error(r, 503, "unavailable", NULL, "store failed");
	rc = store_update(a->store, &model_node, &node, mask, NULL);
	if (rc == 0 && changed)
		rc = store_event_add(a->store, node.id, 0, "health", "%s -> %s (slot %s, version %s)", was, state,
				     str_eq(node.pending_slot, "none") ? node.active_slot : node.pending_slot,
				     str_eq(node.pending_slot, "none") ? node.installed_version : node.pending_version);
	if (rc == 0 && key_changed)
		rc = store_event_add(a->store, node.id, 0, "ssh-host-key", "the agent reported SSH host key %s", fp);
	if (rc == 0 && commit)
		rc = store_node_set_state(a->store, node.id, "active");
	if (rc == 0 && commit)
		rc = store_event_add(a->store, node.id, 0, "committed", "slot %s (version %s) reported Healthy: committed",
				     node.active_slot, node.installed_version);
	if (rc < 0)
		store_tx_rollback(a->store);
	else
		rc = store_tx_commit(a->store);
	if (rc < 0)
		return api_reply_error(r, 503, "unavailable", NULL, "store failed");
	if (commit)
		log_msg(LOG_INFO_, &(struct log_ctx){ .node = node.name }, "slot %s committed (version %s, Healthy)",
			node.active_slot, node.installed_version);
reply:;
	json_t *out = json_pack("{s:s, s:I}", "health", node.health, "interval", (json_int_t)a->cfg->heartbeat_interval);
	if (out && a->ssh_pubkey[0])
		json_object_set_new(out, "ssh_authorized_key", json_string(a->ssh_pubkey));
	return api_reply_json(r, 200, out);
}
