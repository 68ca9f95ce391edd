// SPDX-License-Identifier: Apache-2.0
/*
 * The runs of extensions on nodes (ext_runner.h does them):
 *   POST /api/v1/nodes/{node}/extensions/run   {extension?}  run them again now
 *   GET  /api/v1/nodes/{node}/extension-runs   the node's runs (generic list, filters)
 *   GET  /api/v1/extension-runs/{id}           one run
 *   GET  /api/v1/extension-runs/{id}/output    what it wrote (the first [extensions] output_cap bytes of each stream)
 */
#include "api-internal.h"
#include "ext_runner.h"

/* Output as a JSON string: bytes that are not UTF-8 become U+FFFD, so any output can be shown. */
static json_t *text_of(const char *p, size_t len)
{
	_cleanup_free_ char *buf = malloc(len * 3 + 1);
	size_t o = 0, i = 0;

	if (!buf)
		return NULL;
	while (i < len) {
		unsigned char c = (unsigned char)p[i];
		size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
		bool ok = n > 0 && i + n <= len && !(n == 2 && c < 0xc2) && !(n == 4 && c > 0xf4);
		for (size_t k = 1; ok && k < n; k++)
			ok = ((unsigned char)p[i + k] & 0xc0) == 0x80;
		if (ok && n == 3) {
			unsigned char c1 = (unsigned char)p[i + 1];
			ok = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 >= 0xa0); /* overlong, surrogates */
		}
		if (ok && n == 4) {
			unsigned char c1 = (unsigned char)p[i + 1];
			ok = !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 >= 0x90);
		}
		if (ok && !(n == 1 && c == 0)) {
			memcpy(buf + o, p + i, n);
			o += n;
			i += n;
		} else {
			memcpy(buf + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	return json_stringn(buf, o);
}

int extruns_output(struct request *r)
{
	struct bw_ext_run run;
	_cleanup_free_ char *out = NULL, *err = NULL;
	size_t out_len = 0, err_len = 0;
	int rc;

	if (inventory_load(r, &model_ext_run, 0, r->params[0], &run) < 0)
		return 0;
	rc = store_ext_run_output(r->api->store, run.id, &out, &out_len, &err, &err_len);
	if (rc < 0)
		return api_reply_error(r, 503, "unavailable", NULL, "store failed reading the output");
	json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:o, s:o, s:I, s:I, s:b}", "id", (json_int_t)run.id, "extension",
			      run.extension, "version", run.version, "state", run.state, "stdout", text_of(out, out_len),
			      "stderr", text_of(err, err_len), "stdout_bytes", (json_int_t)run.stdout_bytes, "stderr_bytes",
			      (json_int_t)run.stderr_bytes, "truncated", run.truncated);
	return o ? api_reply_json(r, 200, o) : api_reply_error(r, 500, "internal", NULL, "out of memory");
}

int extruns_run(struct request *r)
{
	static const char *const fields[] = { "extension", NULL };
	struct api *a = r->api;
	struct bw_node node;
	struct bw_pool_extension pe;
	const char *ext = NULL;
	int rc;

	if (inventory_load(r, &model_node, 0, r->params[0], &node) < 0)
		return 0;
	if (r->json) {
		if (api_check_fields(r, fields) < 0)
			return 0;
		ext = json_string_value(json_object_get(r->json, "extension"));
		if (json_object_get(r->json, "extension") && !ext)
			return api_reply_error(r, 400, "wrong_type", "extension", "extension: expected a name");
	}
	if (!node.pool)
		return api_reply_error(r, 409, "no_pool", NULL, "node %s is in no pool: it has no extensions", node.name);
	if (!node.last_heartbeat || node.last_heartbeat == INT_NULL)
		return api_reply_error(r, 409, "not_running", NULL,
				       "node %s has sent no heartbeat: its OS is not known to be up", node.name);
	if (ext) {
		struct bw_ext_run run;
		rc = store_get_by_key(a->store, &model_pool_extension, node.pool, ext, &pe);
		if (rc == -ENOENT) {
			char esc[96];
			return api_reply_error(r, 404, "not_found", "extension", "the pool of node %s runs no extension %s",
					       node.name, log_escape(ext, strlen(ext), esc, sizeof(esc)));
		}
		model_init(&model_ext_run, &run);
		run.node = node.id;
		snprintf(run.extension, sizeof(run.extension), "%s", pe.name);
		snprintf(run.version, sizeof(run.version), "%s", pe.version);
		snprintf(run.trigger, sizeof(run.trigger), "manual");
		if (rc < 0 || store_insert(a->store, &model_ext_run, &run, NULL) < 0)
			return api_reply_error(r, 503, "unavailable", NULL, "store failed");
		log_msg(LOG_INFO_, &(struct log_ctx){ .node = node.name }, "extension %s@%s: run queued by token %s",
			run.extension, run.version, r->token.name);
		ext_runner_poke(a->runner);
		return api_reply_json(r, 202, codec_encode(a, &model_ext_run, &run));
	}
	if (store_pool_has_extensions(a->store, node.pool) != 1)
		return api_reply_error(r, 409, "no_extensions", NULL, "the pool of node %s runs no extension", node.name);
	/* Due at once: the OS is up (it sent a heartbeat), unlike after a reimage. */
	if (store_node_provision_set(a->store, node.id, node.last_heartbeat, 0) < 0)
		return api_reply_error(r, 503, "unavailable", NULL, "store failed");
	log_msg(LOG_INFO_, &(struct log_ctx){ .node = node.name }, "extensions: run again, asked by token %s",
		r->token.name);
	store_event_add(a->store, node.id, 0, "extensions", "run again, asked by token %s", r->token.name);
	ext_runner_poke(a->runner);
	return api_reply_json(r, 202, json_pack("{s:s, s:s}", "node", node.name, "state", "queued"));
}
