// SPDX-License-Identifier: Apache-2.0
/*
 * What machines ask for while they boot, over HTTP and without an API token
 * (firmware cannot hold one): the iPXE scripts, the agent's kernel and
 * initrd, the iPXE binaries for UEFI HTTP boot, the kernel and initrd of
 * image versions. And the agent's first call back, authenticated by the
 * one-time token its script carried. Plus the node actions and history
 * that operators use around them.
 */
#include "api-internal.h"

#include <arpa/inet.h>

#include "ipxe.h"

#define AGENT_TOKEN_TTL (4 * 3600) /* a reimage must start within this */
#define HEARTBEAT_TOKEN_TTL (10LL * 366 * 86400) /* one boot: until the next one replaces it */

static void client_ip(struct request *r, char buf[INET6_ADDRSTRLEN])
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(buf, INET6_ADDRSTRLEN, "?");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, INET6_ADDRSTRLEN);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, INET6_ADDRSTRLEN);
}

/* The URL machines use to reach this server: configured, or the Host they used. */
static int server_url(struct request *r, char *buf, size_t size)
{
	const char *host = api_header(r, "Host");

	if (r->api->cfg->boot_http_url[0]) {
		snprintf(buf, size, "%s", r->api->cfg->boot_http_url);
		return 0;
	}
	/* The Host header goes into a script: only a host[:port] is accepted. */
	if (!host || !*host || strlen(host) > 200 || strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") != strlen(host))
		return api_reply_error(r, 400, "invalid_parameter", "Host",
				       "a Host header of host[:port] is needed to write boot scripts"),
		       -EINVAL;
	/* The scheme the request came with: https on the API's listener under TLS. */
	snprintf(buf, size, "%s://%s", r->api->tls.enabled && !r->plain ? "https" : "http", host);
	return 0;
}

/*
 * The URL the reimage agent calls the API at: [boot] api_url, else the
 * boot URL itself without TLS, or its host with https and the API's port.
 */
static void agent_api_url(struct request *r, const char *server, char *buf, size_t size)
{
	const char *host = strstr(server, "://"), *end;

	if (r->api->cfg->boot_api_url[0]) {
		snprintf(buf, size, "%s", r->api->cfg->boot_api_url);
		return;
	}
	if (!r->api->tls.enabled || !host) {
		snprintf(buf, size, "%s", server);
		return;
	}
	host += 3;
	/* host[:port][/...]: an IPv6 literal keeps its brackets. */
	end = host[0] == '[' ? strchr(host, ']') : NULL;
	end = end ? end + 1 : host + strcspn(host, ":/");
	snprintf(buf, size, "https://%.*s:%u", (int)(end - host), host, r->api->port);
}

static int reply_script(struct request *r, char *text)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return api_reply_error(r, 500, "internal", NULL, "out of memory");
	}
	MHD_add_response_header(resp, "Content-Type", "text/plain; charset=us-ascii");
	return api_reply_response(r, 200, resp);
}

/* GET /boot.ipxe: where DHCP sends iPXE; it chains to the script of its own MAC. */
int boot_chain(struct request *r)
{
	char url[300], *text;

	if (server_url(r, url, sizeof(url)) < 0)
		return 0;
	if (asprintf(&text, "#!ipxe\nchain --replace %s/boot/${netX/mac:hexhyp}.ipxe\n", url) < 0)
		return api_reply_error(r, 500, "internal", NULL, "out of memory");
	return reply_script(r, text);
}

/*
 * Mints an agent token for node: purpose "reimage" (the one-time token of
 * task_id) or "heartbeat" (one boot of the installed OS), and keeps its hash.
 */
static int mint_agent_token(struct request *r, const struct bw_node *n, const char *purpose, int64_t task_id,
			    int64_t ttl, char out[AGENT_TOKEN_LEN + 1])
{
	uint8_t raw[24], hash[SHA256_LEN];
	int rc;

	if ((rc = random_bytes(raw, sizeof(raw))) < 0)
		return rc;
	memcpy(out, AGENT_TOKEN_PREFIX, 4);
	hex_encode(raw, sizeof(raw), out + 4);
	sha256_buf(out, AGENT_TOKEN_LEN, hash);
	return store_agent_token_add(r->api->store, n->id, purpose, task_id, hash, (int64_t)time(NULL) + ttl);
}

/* GET /boot/<mac>.ipxe: the script for this machine's state. */
int boot_script(struct request *r)
{
	struct api *a = r->api;
	char mac[MAC_STR_LEN + 1], arg[64], url[300], token[AGENT_TOKEN_LEN + 1] = "", ip[INET6_ADDRSTRLEN];
	char image[NAME_MAX_LEN + 1] = "", esc[96], api_url[300], cmdline[sizeof(a->cfg->kernel_cmdline) + 520];
	struct bw_node node;
	struct bw_image_version ver;
	bool known, pending = false;
	enum ipxe_script which;
	char *text = NULL;
	size_t n = strlen(r->params[0]);
	int rc;

	if (!a->templates)
		return api_reply_error(r, 503, "unavailable", NULL, "no iPXE templates in %s/templates",
				       a->cfg->firmware_dir);
	if (n < 6 || n - 5 >= sizeof(arg) || strcmp(r->params[0] + n - 5, ".ipxe") != 0)
		return api_reply_error(r, 404, "not_found", NULL, "no such file: %s", r->path);
	memcpy(arg, r->params[0], n - 5);
	arg[n - 5] = '\0';
	if (mac_normalize(arg, mac) < 0)
		return api_reply_error(r, 400, "invalid_value", "mac", "\"%s\" is not a MAC address",
				       log_escape(arg, strlen(arg), esc, sizeof(esc)));
	if (server_url(r, url, sizeof(url)) < 0)
		return 0;
	agent_api_url(r, url, api_url, sizeof(api_url));
	client_ip(r, ip);
	snprintf(cmdline, sizeof(cmdline), "%s", a->cfg->kernel_cmdline);
	rc = store_node_by_mac(a->store, mac, &node);
	if (rc < 0 && rc != -ENOENT)
		return api_reply_error(r, 503, "unavailable", NULL, "store failed");
	known = rc == 0;
	which = ipxe_choose(known ? &node : NULL);
	if (which == IPXE_UNKNOWN) {
		struct bw_discovered d = { .id = 0 };
		snprintf(d.mac, sizeof(d.mac), "%s", mac);
		if (!strchr(ip, ':') && strlen(ip) < sizeof(d.ip))
			memcpy(d.ip, ip, strlen(ip) + 1);
		store_discovered_put(a->store, &d);
	}
	if (which == IPXE_REIMAGE) {
		struct bw_task task;
		rc = store_task_open(a->store, node.id, &task);
		if (rc == -ENOENT) {
			/* Reimaging but no task (cancelled meanwhile): nothing to run. */
			log_msg(LOG_WARN_, &(struct log_ctx){ .node = node.name }, "boot: reimaging without an open task");
			which = IPXE_WAIT;
		} else if (rc < 0 || mint_agent_token(r, &node, "reimage", task.id, AGENT_TOKEN_TTL, token) < 0)
			return api_reply_error(r, 503, "unavailable", NULL, "cannot record the agent token");
		else if (str_eq(task.state, "running")) {
			/*
			 * Its agent had started and the machine boots again (a power
			 * cut, a reset): that agent is gone, its token just replaced,
			 * and the new one writes the slot over from the start. Said
			 * once here, or the history shows one attempt where there were two.
			 */
			log_msg(LOG_WARN_, &(struct log_ctx){ .node = node.name },
				"boot: task %lld was running (%s, %lld of %lld bytes): it starts over", (long long)task.id,
				task.stage, (long long)task.bytes_done, (long long)task.bytes_total);
			store_event_add(a->store, node.id, 0, "reimage-restarted",
					"task %lld: the machine booted again while its agent was at %s, %lld of %lld bytes; it starts over",
					(long long)task.id, task.stage, (long long)task.bytes_done, (long long)task.bytes_total);
		}
	}
	if (which == IPXE_ACTIVE) {
		pending = ipxe_pending(&node);
		store_key_of(a->store, &model_image, pending ? node.pending_image : node.installed_image, image,
			     sizeof(image));
		if (store_get_by_key(a->store, &model_image_version, pending ? node.pending_image : node.installed_image,
				     pending ? node.pending_version : node.installed_version, &ver) == 0 &&
		    ver.cmdline[0])
			snprintf(cmdline, sizeof(cmdline), "%s %s", a->cfg->kernel_cmdline, ver.cmdline);
		if (mint_agent_token(r, &node, "heartbeat", 0, HEARTBEAT_TOKEN_TTL, token) < 0)
			return api_reply_error(r, 503, "unavailable", NULL, "cannot record the heartbeat token");
	}
	struct ipxe_vars v = {
		.server = url,
		.api = api_url,
		.mac = mac,
		.node = known ? node.name : "",
		.token = token,
		.image = image,
		.version = !known ? "" : pending ? node.pending_version : node.installed_version,
		.slot = !known ? "" : pending ? node.pending_slot : node.active_slot,
		.cmdline = cmdline,
		.retry = (unsigned)a->cfg->boot_retry,
	};
	rc = ipxe_render(a->templates, which, &v, &text);
	explicit_bzero(token, sizeof(token));
	if (rc < 0)
		return api_reply_error(r, 500, "internal", NULL, "cannot render the %s script: %s",
				       ipxe_script_name(which), rc == -EINVAL ? "unsafe value or placeholder" : strerror(-rc));
	if (known) {
		log_msg(LOG_INFO_, &(struct log_ctx){ .node = node.name }, "boot: %s script to %s (%s)",
			ipxe_script_name(which), ip, mac);
		store_event_add(a->store, node.id, 0, "boot", "%s script served to %s", ipxe_script_name(which), ip);
	} else
		log_info("boot: %s is not enrolled: wait script to %s", mac, ip);
	return reply_script(r, text);
}

/* A file name from a URL: one plain component. */
static bool plain_name(const char *s)
{
	return *s && *s != '.' && strlen(s) < 128 && !strchr(s, '/') && !strchr(s, '\\');
}

/* GET /boot/agent/<vmlinuz|initrd|ca.cpio>: the reimage agent, and the CA its ramdisk pins. */
int boot_agent_file(struct request *r)
{
	const struct config *c = r->api->cfg;
	if (str_eq(r->params[0], "vmlinuz"))
		return api_reply_file(r, c->agent_kernel, "application/octet-stream", NULL);
	if (str_eq(r->params[0], "initrd"))
		return api_reply_file(r, c->agent_initrd, "application/octet-stream", NULL);
	if (str_eq(r->params[0], "ca.cpio")) {
		struct MHD_Response *resp = MHD_create_response_from_buffer(r->api->tls.ca_cpio_len, r->api->tls.ca_cpio,
									    MHD_RESPMEM_PERSISTENT);
		if (!resp)
			return api_reply_error(r, 500, "internal", NULL, "out of memory");
		MHD_add_response_header(resp, "Content-Type", "application/x-cpio");
		return api_reply_response(r, 200, resp);
	}
	return api_reply_error(r, 404, "not_found", NULL, "no such file: %s", r->path);
}

/* GET /boot/firmware/<file>: iPXE binaries, for UEFI HTTP boot. */
int boot_firmware_file(struct request *r)
{
	char path[CONFIG_PATH_MAX + 160];
	if (!plain_name(r->params[0]))
		return api_reply_error(r, 404, "not_found", NULL, "no such file: %s", r->path);
	snprintf(path, sizeof(path), "%s/%s", r->api->cfg->firmware_dir, r->params[0]);
	return api_reply_file(r, path, "application/octet-stream", NULL);
}

/* GET /boot/images/<image>/<version>/<kernel|initrd>: what the active script boots. */
int boot_image_file(struct request *r)
{
	struct bw_image img;
	struct bw_image_version v;
	char path[CONFIG_PATH_MAX + 300];

	if (!str_eq(r->params[2], "kernel") && !str_eq(r->params[2], "initrd"))
		return api_reply_error(r, 404, "not_found", NULL, "no such file: %s", r->path);
	if (inventory_load(r, &model_image, 0, r->params[0], &img) < 0 ||
	    inventory_load(r, &model_image_version, img.id, r->params[1], &v) < 0)
		return 0;
	snprintf(path, sizeof(path), "%s/%s/%s/%s", r->api->cfg->image_dir, img.name, v.version, r->params[2]);
	return api_reply_file(r, path, "application/octet-stream", NULL);
}

/* POST /api/v1/agent/hello {node, mac, token, stage}: the agent is up. */
int agent_hello(struct request *r)
{
	static const char *const fields[] = { "node", "mac", "token", "stage", NULL };
	const char *name = json_string_value(json_object_get(r->json, "node"));
	const char *mac_in = json_string_value(json_object_get(r->json, "mac"));
	const char *token = json_string_value(json_object_get(r->json, "token"));
	const char *stage = json_string_value(json_object_get(r->json, "stage"));
	struct bw_node node;
	uint8_t hash[SHA256_LEN];
	int64_t token_node = 0;
	char mac[MAC_STR_LEN + 1], ip[INET6_ADDRSTRLEN];

	if (api_check_fields(r, fields) < 0)
		return 0;
	if (!name || !mac_in || !token)
		return api_reply_error(r, 400, "missing_field", !name ? "node" : !mac_in ? "mac" : "token",
				       "node, mac and token are required strings");
	if (stage && (strlen(stage) > 32 || strspn(stage, "abcdefghijklmnopqrstuvwxyz0123456789-_") != strlen(stage)))
		return api_reply_error(r, 422, "invalid_value", "stage", "stage: expected a short lowercase word");
	client_ip(r, ip);
	/* One answer for every refusal, so that a caller learns nothing about which part was wrong. */
	if (!name_valid(name) || mac_normalize(mac_in, mac) < 0 || strlen(token) != AGENT_TOKEN_LEN ||
	    store_get_by_key(r->api->store, &model_node, 0, name, &node) < 0 || !str_eq(node.mac, mac)) {
		log_warn("agent: refused a hello from %s (unknown node or MAC)", ip);
		return api_reply_error(r, 401, "unauthorized", NULL, "invalid agent credentials");
	}
	sha256_buf(token, strlen(token), hash);
	if (store_agent_token_use(r->api->store, hash, "reimage", &token_node, NULL) < 0 || token_node != node.id) {
		log_msg(LOG_WARN_, &(struct log_ctx){ .node = node.name },
			"agent: refused a hello from %s: token not valid for this node", ip);
		store_event_add(r->api->store, node.id, 0, "agent-refused", "hello from %s with an invalid token", ip);
		return api_reply_error(r, 401, "unauthorized", NULL, "invalid agent credentials");
	}
	log_msg(LOG_INFO_, &(struct log_ctx){ .node = node.name }, "agent: hello from %s (stage %s)", ip,
		stage ? stage : "-");
	store_event_add(r->api->store, node.id, 0, "agent-hello", "stage %s, from %s", stage ? stage : "-", ip);
	return api_reply_json(r, 200, json_pack("{s:s, s:s}", "node", node.name, "state", node.state));
}

