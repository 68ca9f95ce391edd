/* SPDX-License-Identifier: Apache-2.0 */
/* Private to server/api/ and its tests: requests, routes, replies. */
#ifndef BW_API_INTERNAL_H
#define BW_API_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>

#include "api.h"
#include "log.h"
#include "model.h"
#include "sign.h"
#include "tls.h"
#include "util.h"

#define API_MAX_PARAMS 4

struct request;

enum body_kind {
	BODY_NONE,   /* a body is refused */
	BODY_JSON,   /* buffered up to [api] max_body, parsed into r->json */
	BODY_JSON_OPT, /* the same, or no body at all (r->json NULL) */
	BODY_STREAM, /* handed to route->chunk as it arrives */
};

struct route {
	const char *method;
	const char *pattern; /* "/api/v1/nodes/{}": {} matches one path segment */
	enum role role;      /* least role allowed; ROLE_NONE: no token needed */
	enum body_kind body;
	const struct model *model; /* for the generic inventory handlers */
	/* BODY_STREAM only: called after auth, before the body; may reply. */
	int (*begin)(struct request *r);
	/* BODY_STREAM only: one piece of the body; may reply to stop it. */
	int (*chunk)(struct request *r, const char *data, size_t len);
	/* The whole request is in (body read or refused). Must reply. */
	int (*handler)(struct request *r);
	/* Always called when the request ends, replied or not (cleanup). */
	void (*done)(struct request *r, bool completed);
	/* Also served on the plain-HTTP boot listener when the API has TLS
	 * (what firmware and the installed OS ask for without the CA). */
	bool plain;
};

struct metrics;
struct ipxe_templates;

struct hw_target;
struct orch_rt;
struct ext_runner;

/* The address of a node: its reservation, else its DHCP lease, else "". */
void api_node_ip(struct api *a, const struct bw_node *n, char *ip, size_t size);

/* A listening daemon: the API's (TLS when configured), or plain HTTP for booting machines. */
struct api_listener {
	struct api *api;
	bool plain; /* the boot listener beside a TLS API: only routes marked plain */
};

struct api {
	struct MHD_Daemon *mhd;
	struct MHD_Daemon *boot_mhd;      /* [boot] http_listen; NULL when not set */
	struct api_listener lis[2];       /* the cls of mhd and boot_mhd */
	uint16_t boot_port;
	struct api_tls tls;
	const struct config *cfg;
	struct store *store;
	uint8_t key[SECRET_KEY_LEN];
	uint16_t port;
	struct metrics *metrics;
	struct ipxe_templates *templates; /* NULL when firmware_dir has none */
	struct sign_keyring keys;         /* [images] trusted_keys */
	struct bmc_pool *bmc;             /* out-of-band jobs (hw/bmc.h) */
	struct orch_rt *orch;             /* rollouts (orch_env.h) */
	struct ext_runner *runner;        /* extension runs (ext_runner.h) */
	struct api_events *events;        /* server-sent event streams (events.h) */
	char ssh_pubkey[SSH_KEY_LEN];     /* the appliance's SSH public key (sshkey.h); "" if none */
};

struct request {
	struct api *api;
	struct MHD_Connection *conn;
	bool plain; /* came on the plain boot listener */
	const char *method;
	char path[512];
	const struct route *route;
	char *params[API_MAX_PARAMS]; /* point into segs */
	char segs[512];
	struct bw_token token; /* the caller, once authenticated */
	enum role role;
	/* body */
	char *body;
	size_t body_len;
	json_t *json;
	/* reply */
	bool replied;
	unsigned status;
	struct MHD_Response *pending; /* replied mid-body: queued once the body is in */
	struct timespec t0;
	void *state; /* per-route state, freed by route->done */
	/* Set by a handler that suspended the connection (api_suspend... see
	 * routes_bmc.c): called instead of the handler once it is resumed. */
	int (*resume)(struct request *r);
};

/* Replies; each returns 0 so that handlers can "return api_reply_...". */
int api_reply_json(struct request *r, unsigned status, json_t *body /* consumed */);
int api_reply_empty(struct request *r, unsigned status);
int api_reply_error(struct request *r, unsigned status, const char *code, const char *field,
		    const char *fmt, ...) _printf_(5, 6);
/* A JSON response with a trailing newline (consumes body); NULL if out of memory. */
struct MHD_Response *api_json_response(json_t *body);
/* Hands a prepared response to MHD (takes ownership of resp). */
int api_reply_response(struct request *r, unsigned status, struct MHD_Response *resp);

/*
 * Sends the regular file at path (sendfile, single Range requests, HEAD),
 * 404 if it does not exist. etag may be NULL.
 */
int api_reply_file(struct request *r, const char *path, const char *content_type, const char *etag);
/* Query parameter, or NULL. */
const char *api_query(struct request *r, const char *name);
/* Request header, or NULL. */
const char *api_header(struct request *r, const char *name);
/*
 * Replies 400 unknown_parameter if the query has a parameter not in
 * allowed (NULL-terminated) and returns -EINVAL; else 0.
 */
int api_check_query(struct request *r, const char *const *allowed);
/* Replies 400 unknown_field (and returns -EINVAL) if r->json has a member not in allowed (NULL-terminated). */
int api_check_fields(struct request *r, const char *const *allowed);

/* ---- JSON codec of model objects (codec.c) ---- */

struct api_error {
	unsigned status;
	const char *code;
	char field[64];
	char message[320];
};

/*
 * Applies the JSON object in to obj (which holds defaults on create, the
 * current row on update) and marks the fields it set in mask[m->n_fields].
 * On failure fills e (status, stable code, field, message) and returns
 * -EINVAL; obj may then be partly written and must be discarded.
 */
int codec_decode(struct api *a, const struct model *m, json_t *in, bool create, void *obj,
		 bool *mask, struct api_error *e);
/* Decodes one field's JSON value into obj (a whole object of f's model). */
int codec_decode_field(struct api *a, const struct field *f, json_t *v, void *obj, struct api_error *e);
/* JSON form of obj (references as names, secrets as "<name>_set"). New reference. */
json_t *codec_encode(struct api *a, const struct model *m, const void *obj);
/* Replies with e. */
int api_reply_api_error(struct request *r, const struct api_error *e);
/* Formats t (unix seconds) as RFC 3339 UTC into buf[32]. */
void codec_time(int64_t t, char buf[32]);
/* Parses RFC 3339 ("2026-11-22T10:00:00Z" or with an offset). -EINVAL if not. */
int codec_parse_time(const char *s, int64_t *ret);

/* ---- routes ---- */

/* Generic inventory handlers (routes_inventory.c), for route->model. */
int inventory_list(struct request *r);
int inventory_get(struct request *r);
int inventory_create(struct request *r);
int inventory_update(struct request *r);
int inventory_delete(struct request *r);
/* Replies to a failed store write of model m with a clear 4xx/5xx. */
int inventory_reply_store_error(struct request *r, const struct model *m, const char *key, int err,
				const struct store_err *se);
/* Looks up route param i as a row of m (replying 404 if absent). */
int inventory_load(struct request *r, const struct model *m, int64_t parent, const char *key, void *ret);
/* Lists rows of m filtered by the query, paginated; extra filters may be prepended. */
int inventory_list_filtered(struct request *r, const struct model *m, const struct store_filter *extra,
			    size_t n_extra);
/* GET /api/v1/nodes/<name>/<route->model plural>: rows of route->model whose "node" is that node, paginated. */
int inventory_list_of_node(struct request *r);

/* routes_extruns.c */
int extruns_output(struct request *r);
int extruns_run(struct request *r);

/* Images and versions (routes_images.c). */
int images_version_get(struct request *r);
int images_version_update(struct request *r);
int images_version_delete(struct request *r);
int images_version_download(struct request *r);
int images_upload_begin(struct request *r);
int images_upload_chunk(struct request *r, const char *data, size_t len);
int images_upload_end(struct request *r);
void images_upload_done(struct request *r, bool completed);
/* Removes artifacts that no published version owns (left by a crash). */
int images_cleanup(struct api *a);

/* Agent tokens: the prefix and 48 hex digits (24 random bytes), minted by routes_boot.c. */
#define AGENT_TOKEN_PREFIX "bwa_"
#define AGENT_TOKEN_LEN (4 + 48)

/* Agent protocol (routes_agent.c). */
int node_reimage(struct request *r);
/*
 * Creates the agent task that reimages node to img@v at its next network
 * boot (state reimaging), after checking the manifest (-ENOENT) and, when
 * signed_pool names a pool that requires it, the signature (-EPERM); -EIO
 * when the store fails. err says why. Used by the API and the orchestrator.
 */
int reimage_start(struct api *a, const struct bw_node *node, const struct bw_image *img,
		  const struct bw_image_version *v, const char *signed_pool, bool wipe, const char *who, int64_t rollout,
		  struct bw_task *ret, char *err, size_t size);
int agent_task(struct request *r);
int agent_artifact(struct request *r);
int agent_progress(struct request *r);
int agent_result(struct request *r);
/* routes_bmc.c */
/* The node's BMC as a hw_target: -ENODEV when it has none, -EACCES when its password cannot be opened. */
int api_bmc_target(struct api *a, const struct bw_node *n, struct hw_target *t);
int node_power_status(struct request *r);

int rollout_start(struct request *r);
int rollout_cancel(struct request *r);
int rollout_current(struct request *r);
int rollout_history(struct request *r);
int rollout_get(struct request *r);
/* The pool's running rollout, else its last; -ENOENT if it has had none. */
int api_rollout_current(struct api *a, int64_t pool_id, struct bw_rollout *ro);
int node_power(struct request *r);
int node_bootdev_get(struct request *r);
int node_bootdev_set(struct request *r);
int node_bmc_health(struct request *r);
int agent_heartbeat(struct request *r);

/* Boot (routes_boot.c). */
int boot_chain(struct request *r);
int boot_script(struct request *r);
int boot_agent_file(struct request *r);
int boot_firmware_file(struct request *r);
int boot_image_file(struct request *r);
int agent_hello(struct request *r);

/* The console's static files (routes_web.c). */
int web_root(struct request *r);
int web_index(struct request *r);
int web_file(struct request *r);

/* Tokens (routes_tokens.c). */
int tokens_create(struct request *r);
int whoami(struct request *r);

/* Custom data of pools and nodes (route->model says which), and the NoCloud seed (routes_meta.c). */
int custom_data_begin(struct request *r);
int custom_data_chunk(struct request *r, const char *data, size_t len);
int custom_data_put(struct request *r);
void custom_data_done(struct request *r, bool completed);
int custom_data_get(struct request *r);
int custom_data_delete(struct request *r);
int nocloud_file(struct request *r);

/* ---- metrics (metrics.c) ---- */

int metrics_new(struct metrics **ret);
void metrics_free(struct metrics *m);
void metrics_count(struct metrics *m, const char *method, const char *route, unsigned status);
int metrics_handler(struct request *r);

#endif
