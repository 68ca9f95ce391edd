// SPDX-License-Identifier: Apache-2.0
/*
 * Out-of-band control of a node through its BMC: power status and actions,
 * the boot device override, BMC health. Each request becomes a job of the
 * BMC pool (hw/bmc.h: one command in flight per BMC, sessions reused, a
 * global cap, retries, a polling budget); the HTTP connection is suspended
 * meanwhile, so a slow BMC holds no API thread. Every operation and its
 * result or failure is recorded in the node's event history (kind "bmc").
 */
#include "api-internal.h"

#include "bmc.h"
#include "crypto.h"

#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bmc_call {
	struct bmc_job job;
	struct request *r;
	int64_t node_id;
	char node[NAME_MAX_LEN + 1];
	char what[64]; /* "power on", "set boot device pxe once legacy", ... */
};

int api_bmc_target(struct api *a, const struct bw_node *n, struct hw_target *t)
{
	size_t len = 0;

	memset(t, 0, sizeof(*t));
	if (str_eq(n->bmc_driver, "none") || !n->bmc_address[0])
		return -ENODEV;
	snprintf(t->driver, sizeof(t->driver), "%s", n->bmc_driver);
	snprintf(t->host, sizeof(t->host), "%s", n->bmc_address);
	t->port = n->bmc_port > 0 ? (uint16_t)n->bmc_port : 0;
	snprintf(t->user, sizeof(t->user), "%s", n->bmc_username);
	if (n->bmc_password.len &&
	    (n->bmc_password.len <= SECRET_OVERHEAD || n->bmc_password.len - SECRET_OVERHEAD >= sizeof(t->password) ||
	     secret_open(a->key, "bootwave:bmc_password", n->bmc_password.data, n->bmc_password.len, t->password,
			 &len) < 0))
		return -EACCES;
	t->password[len] = '\0';
	t->insecure = n->bmc_insecure_tls;
	t->http = str_eq(n->bmc_scheme, "http");
	t->cipher_suite = atoi(n->bmc_cipher_suite);
	t->timeout_ms = (unsigned)a->cfg->bmc_timeout * 1000;
	return 0;
}

/* The node's BMC as a hw_target; replies and returns -1 when it has none usable. */
static int node_target(struct request *r, const struct bw_node *n, struct hw_target *t)
{
	int rc = api_bmc_target(r->api, n, t);

	if (rc == -ENODEV)
		api_reply_error(r, 409, "no_bmc", "bmc_driver",
				"node %s has no BMC (set bmc_driver and bmc_address: bootwave node set %s --bmc-driver ...)",
				n->name, n->name);
	else if (rc < 0)
		api_reply_error(r, 500, "secret_unreadable", "bmc_password",
				"the BMC password of node %s cannot be opened with this appliance's key; set it again",
				n->name);
	return rc < 0 ? -1 : 0;
}

static void on_done(struct bmc_job *j, void *userdata)
{
	struct bmc_call *c = userdata;
	(void)j;
	MHD_resume_connection(c->r->conn);
}

/* Starts the job of c on the node's BMC; the reply comes from resume(). */
static int start(struct request *r, struct bmc_call *c, int (*resume)(struct request *))
{
	c->r = r;
	c->job.done = on_done;
	c->job.userdata = c;
	r->state = c;
	r->resume = resume;
	MHD_suspend_connection(r->conn);
	if (bmc_submit(r->api->bmc, &c->job) < 0) {
		/* Nothing was queued: answer now, once MHD calls back. */
		MHD_resume_connection(r->conn);
	}
	return 0;
}

/* Loads the node named in the path; its BMC into c->job.target. */
static struct bmc_call *prepare(struct request *r, enum bmc_op op)
{
	struct bw_node node;
	struct bmc_call *c;

	if (inventory_load(r, &model_node, 0, r->params[0], &node) < 0)
		return NULL;
	if (!(c = calloc(1, sizeof(*c)))) {
		api_reply_error(r, 500, "internal", NULL, "out of memory");
		return NULL;
	}
	if (node_target(r, &node, &c->job.target) < 0) {
		free(c);
		return NULL;
	}
	c->job.op = op;
	c->node_id = node.id;
	snprintf(c->node, sizeof(c->node), "%s", node.name);
	c->job.fresh = str_eq(api_query(r, "fresh"), "true");
	return c;
}

/* Records the outcome; replies the error when there is one. Returns true on success. */
static bool outcome(struct request *r, struct bmc_call *c, const char *result)
{
	struct bmc_job *j = &c->job;
	char msg[512];

	explicit_bzero(j->target.password, sizeof(j->target.password));
	if (j->rc == 0)
		snprintf(msg, sizeof(msg), "%s: %s%s, by %s", c->what, result, j->cached ? " (cached)" : "",
			 r->token.name);
	else
		snprintf(msg, sizeof(msg), "%s FAILED at %s: %s (by %s)", c->what, j->err.step, j->err.msg,
			 r->token.name);
	store_event_add(r->api->store, c->node_id, 0, "bmc", "%s", msg);
	if (j->rc == 0) {
		log_msg(LOG_INFO_, &(struct log_ctx){ .node = c->node }, "bmc: %s", msg);
		return true;
	}
	log_msg(LOG_WARN_, &(struct log_ctx){ .node = c->node }, "bmc: %s", msg);
	switch (-j->rc) {
	case EACCES:
		api_reply_error(r, 502, "bmc_auth", NULL, "%s: %s", j->err.step, j->err.msg);
		break;
	case EHOSTUNREACH:
	case ETIMEDOUT:
	case ENOTCONN:
		api_reply_error(r, 504, "bmc_unreachable", NULL, "%s: %s", j->err.step, j->err.msg);
		break;
	case ENOTSUP:
		api_reply_error(r, 501, "bmc_unsupported", NULL, "%s: %s", j->err.step, j->err.msg);
		break;
	case EINVAL:
		api_reply_error(r, 422, "bmc_config", NULL, "%s: %s", j->err.step, j->err.msg);
		break;
	default:
		api_reply_error(r, 502, "bmc_error", NULL, "%s: %s", j->err.step, j->err.msg);
		break;
	}
	return false;
}

static json_t *job_json(const struct bmc_call *c)
{
	return json_pack("{s:s, s:b, s:i}", "node", c->node, "cached", c->job.cached, "attempts",
			 (int)c->job.attempts);
}

/* ---- power ---- */

static int power_resume(struct request *r)
{
	struct bmc_call *c = r->state;
	json_t *o;

	r->state = NULL;
	if (outcome(r, c, c->job.op == BMC_POWER ? "ok" : hw_power_name(c->job.power))) {
		o = job_json(c);
		if (c->job.op == BMC_POWER_STATUS)
			json_object_set_new(o, "power", json_string(hw_power_name(c->job.power)));
		else
			json_object_set_new(o, "action", json_string(hw_action_name(c->job.action)));
		api_reply_json(r, 200, o);
	}
	free(c);
	return 0;
}

/* GET /api/v1/nodes/{}/power[?fresh=true] */
int node_power_status(struct request *r)
{
	struct bmc_call *c = prepare(r, BMC_POWER_STATUS);
	if (!c)
		return 0;
	snprintf(c->what, sizeof(c->what), "power status");
	return start(r, c, power_resume);
}

/* POST /api/v1/nodes/{}/power {"action": on|off|soft-off|cycle|reset} */
int node_power(struct request *r)
{
	static const char *const fields[] = { "action", NULL };
	const char *action = json_string_value(json_object_get(r->json, "action"));
	enum hw_power_action act;
	struct bmc_call *c;

	if (api_check_fields(r, fields) < 0)
		return 0;
	if (!action)
		return api_reply_error(r, 422, "missing_field", "action", "action: on, off, soft-off, cycle or reset");
	if (hw_action_parse(action, &act) < 0)
		return api_reply_error(r, 422, "invalid_value", "action",
				       "action \"%.32s\": expected on, off, soft-off, cycle or reset", action);
	if (!(c = prepare(r, BMC_POWER)))
		return 0;
	c->job.action = act;
	snprintf(c->what, sizeof(c->what), "power %s", action);
	return start(r, c, power_resume);
}

/* ---- boot device ---- */

static int boot_resume(struct request *r)
{
	struct bmc_call *c = r->state;
	const struct hw_boot *b = c->job.op == BMC_SET_BOOT ? &c->job.boot : &c->job.boot_read;
	char result[64];

	r->state = NULL;
	snprintf(result, sizeof(result), "%s %s %s", hw_bootdev_name(b->dev), b->persistent ? "persistent" : "once",
		 b->uefi ? "uefi" : "legacy");
	if (outcome(r, c, c->job.op == BMC_SET_BOOT ? "ok" : result)) {
		json_t *o = job_json(c);
		json_object_set_new(o, "device", json_string(hw_bootdev_name(b->dev)));
		json_object_set_new(o, "persistent", json_boolean(b->persistent));
		json_object_set_new(o, "uefi", json_boolean(b->uefi));
		api_reply_json(r, 200, o);
	}
	free(c);
	return 0;
}

/* GET /api/v1/nodes/{}/bootdev */
int node_bootdev_get(struct request *r)
{
	struct bmc_call *c = prepare(r, BMC_GET_BOOT);
	if (!c)
		return 0;
	snprintf(c->what, sizeof(c->what), "get boot device");
	return start(r, c, boot_resume);
}

/* POST /api/v1/nodes/{}/bootdev {"device": pxe|disk, "persistent": bool, "uefi": bool} */
int node_bootdev_set(struct request *r)
{
	static const char *const fields[] = { "device", "persistent", "uefi", NULL };
	const char *dev = json_string_value(json_object_get(r->json, "device"));
	json_t *persistent = json_object_get(r->json, "persistent"), *uefi = json_object_get(r->json, "uefi");
	struct hw_boot b = { 0 };
	struct bmc_call *c;

	if (api_check_fields(r, fields) < 0)
		return 0;
	if (!dev || hw_bootdev_parse(dev, &b.dev) < 0)
		return api_reply_error(r, 422, dev ? "invalid_value" : "missing_field", "device",
				       "device: pxe or disk");
	if ((persistent && !json_is_boolean(persistent)) || (uefi && !json_is_boolean(uefi)))
		return api_reply_error(r, 422, "invalid_value", persistent && !json_is_boolean(persistent) ? "persistent" : "uefi",
				       "expected true or false");
	b.persistent = json_is_true(persistent);
	b.uefi = json_is_true(uefi);
	if (!(c = prepare(r, BMC_SET_BOOT)))
		return 0;
	c->job.boot = b;
	snprintf(c->what, sizeof(c->what), "set boot device %s %s %s", dev, b.persistent ? "persistent" : "once",
		 b.uefi ? "uefi" : "legacy");
	return start(r, c, boot_resume);
}

/* ---- health ---- */

static int health_resume(struct request *r)
{
	struct bmc_call *c = r->state;
	const struct hw_health *h = &c->job.health;
	char result[400];

	r->state = NULL;
	snprintf(result, sizeof(result), "%s, power %s%s%s, %u new SEL entries (%u critical)%s%s",
		 hw_rollup_name(h->rollup), hw_power_name(h->power), h->chassis[0] ? ", " : "", h->chassis, h->sel_new,
		 h->sel_critical, h->sel_last[0] ? ": " : "", h->sel_last);
	if (outcome(r, c, result)) {
		json_t *o = job_json(c);
		char marker[24];
		snprintf(marker, sizeof(marker), "%" PRIu64, h->sel_marker);
		json_object_set_new(o, "rollup", json_string(hw_rollup_name(h->rollup)));
		json_object_set_new(o, "power", json_string(hw_power_name(h->power)));
		json_object_set_new(o, "chassis_faults", json_string(h->chassis));
		json_object_set_new(o, "sel_new", json_integer(h->sel_new));
		json_object_set_new(o, "sel_critical", json_integer(h->sel_critical));
		json_object_set_new(o, "sel_last_critical", json_string(h->sel_last));
		json_object_set_new(o, "sel_marker", json_string(marker));
		json_object_set_new(o, "sensors_crossed", json_integer(h->sensors_crossed));
		json_object_set_new(o, "sensors", json_string(h->sensors));
		api_reply_json(r, 200, o);
	}
	free(c);
	return 0;
}

/* GET /api/v1/nodes/{}/health[?since=MARKER][&fresh=true] */
int node_bmc_health(struct request *r)
{
	const char *since = api_query(r, "since");
	struct bmc_call *c;
	char *end = NULL;

	if (!(c = prepare(r, BMC_HEALTH)))
		return 0;
	if (since) {
		errno = 0;
		c->job.sel_marker = strtoull(since, &end, 10);
		if (errno || !end || *end || !*since) {
			free(c);
			return api_reply_error(r, 422, "invalid_value", "since",
					       "since: the sel_marker of an earlier answer (a decimal number)");
		}
	}
	snprintf(c->what, sizeof(c->what), "health");
	return start(r, c, health_resume);
}
