// SPDX-License-Identifier: Apache-2.0
/* bootwaved's configuration: see config.h. */
#include "config.h"

#include "validate.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

enum key_type { K_STR, K_OPTSTR, K_PATH, K_INT, K_SIZE, K_BOOL, K_LISTEN, K_LOGLEVEL, K_IPV4, K_RANGE, K_IPV4LIST, K_CHOICE, K_FILENAME, K_OPTPATH, K_OPTLISTEN };

struct key {
	const char *section, *name;
	enum key_type type;
	size_t offset, size;
	int64_t min, max;
	const char *def; /* default, as it would be written in the file */
	const char *help;
};

#define K(sec, nm, t, member, lo, hi, d, h)                                                        \
	{ sec, nm, t, offsetof(struct config, member), sizeof(((struct config *)0)->member), lo, hi, d, h }

static const struct key keys[] = {
	K("daemon", "state_dir", K_STR, state_dir, 0, 0, "/var/lib/bootwave",
	  "directory of the store, images and secrets"),
	K("daemon", "log_level", K_LOGLEVEL, log_level, 0, 0, "info", "debug, info, warn or error"),
	K("daemon", "user", K_STR, user, 0, 0, "bootwave",
	  "unprivileged user the TFTP server and DHCP listener run as, sandboxed, when bootwaved starts as root"),
	K("api", "listen", K_LISTEN, listen, 0, 0, "0.0.0.0:8080",
	  "HOST:PORT of the REST API and the console (and of boot HTTP unless [boot] http_listen is set)"),
	K("api", "tls_cert", K_OPTPATH, tls_cert, 0, 0, "",
	  "PEM certificate (chain) of the API: set with tls_key, the API speaks only HTTPS"),
	K("api", "tls_key", K_OPTPATH, tls_key, 0, 0, "", "PEM private key of tls_cert (not readable by others)"),
	K("api", "tls_ca", K_OPTPATH, tls_ca, 0, 0, "",
	  "PEM certificate the agent's ramdisk pins to verify the API (empty: tls_cert)"),
	K("api", "threads", K_INT, threads, 1, 256, "4", "HTTP worker threads"),
	K("api", "max_connections", K_INT, max_connections, 64, 1000000, "10000",
	  "HTTP connections open at once on a listener (every node's heartbeat agent keeps one open)"),
	K("api", "max_body", K_SIZE, max_body, 1024, 64LL << 20, "1M", "largest JSON request body"),
	K("api", "max_upload", K_SIZE, max_upload, 1024, 1LL << 42, "64G", "largest image artifact"),
	K("api", "max_custom_data", K_SIZE, max_custom_data, 1, 16LL << 20, "64K",
	  "largest custom data of a pool or node (the user-data NoCloud serves)"),
	K("api", "page_size", K_INT, page_size, 1, 10000, "100", "list items per page by default"),
	K("api", "max_page_size", K_INT, max_page_size, 1, 10000, "1000", "largest page a client may ask for"),
	K("api", "metrics_auth", K_BOOL, metrics_auth, 0, 0, "true", "/metrics needs a viewer token"),
	K("store", "path", K_PATH, store_path, 0, 0, "bootwave.db", "SQLite database"),
	K("images", "dir", K_PATH, image_dir, 0, 0, "images", "published image artifacts"),
	K("images", "trusted_keys", K_PATH, trusted_keys, 0, 0, "keys",
	  "directory of Ed25519 public keys (*.pem) that image signatures are checked with"),
	K("images", "max_content", K_SIZE, max_content, 1 << 20, 1LL << 44, "256G",
	  "largest decompressed image (raw) or total of its files (tar)"),
	K("extensions", "dir", K_PATH, ext_dir, 0, 0, "extensions", "published extension bundles"),
	K("extensions", "max_bundle", K_SIZE, ext_max_bundle, 64 << 10, 1LL << 30, "64M",
	  "largest extension upload, total of its files, and normalized bundle"),
	K("extensions", "workers", K_INT, ext_workers, 1, 256, "16", "nodes whose extensions run at once"),
	K("extensions", "output_cap", K_SIZE, ext_output_cap, 1024, 16 << 20, "64K",
	  "bytes of stdout and of stderr kept per run (the rest is counted)"),
	K("extensions", "retry_interval", K_INT, ext_retry_interval, 10, 31536000, "259200",
	  "seconds before an automatic upgrade that was rolled back is tried again (default 3 days)"),
	K("agent", "slot_size", K_SIZE, slot_size, 16 << 20, 1LL << 44, "8G",
	  "size of each OS slot when the agent creates the disk layout"),
	K("agent", "data_partition", K_BOOL, data_partition, 0, 0, "true",
	  "a new layout ends with a bw-data partition over the rest of the disk"),
	K("agent", "stall_timeout", K_INT, stall_timeout, 5, 3600, "60",
	  "seconds without data before the agent gives a download up"),
	K("agent", "heartbeat_interval", K_INT, heartbeat_interval, 1, 3600, "15",
	  "seconds between two heartbeats of the installed OS"),
	K("bmc", "workers", K_INT, bmc_workers, 1, 256, "16", "threads running BMC commands"),
	K("bmc", "max_sessions", K_INT, bmc_max_sessions, 1, 4096, "64",
	  "BMC sessions open at once, across all BMCs (idle ones are logged out to make room)"),
	K("bmc", "min_poll", K_INT, bmc_min_poll, 0, 3600, "10",
	  "seconds: a BMC's power or health is read at most this often (sooner: the last answer)"),
	K("bmc", "retries", K_INT, bmc_retries, 0, 10, "2", "retries of a BMC command that got no answer"),
	K("bmc", "timeout", K_INT, bmc_timeout, 1, 120, "5", "seconds one BMC exchange may take"),
	K("bmc", "idle_close", K_INT, bmc_idle_close, 1, 86400, "60", "seconds before an idle BMC session is logged out"),
	K("orch", "interval", K_INT, orch_interval, 1, 60, "2", "seconds between two steps of the rollouts"),
	K("orch", "reimage_timeout", K_INT, orch_reimage_timeout, 60, 86400, "1800",
	  "seconds a node of a rollout has from its power cycle to its image written"),
	K("orch", "quarantine_after", K_INT, orch_quarantine_after, 0, 100, "3",
	  "reimages failed in a row that quarantine a node (0: never)"),
	K("orch", "rollout_timeout", K_INT, orch_rollout_timeout, 0, 31536000, "604800",
	  "seconds a rollout may run; past it no batch starts (Faulted RollingUpgradeTimeout); 0: no limit"),
	K("auth", "key_file", K_PATH, key_file, 0, 0, "secret.key",
	  "key sealing BMC passwords (created 0600 at first start)"),
	K("auth", "admin_token_file", K_PATH, admin_token_file, 0, 0, "admin.token",
	  "where the first admin token is written (0600)"),
	K("boot", "interface", K_OPTSTR, boot_interface, 0, 0, "",
	  "provisioning interface for DHCP and TFTP (empty: no boot services)"),
	K("boot", "http_url", K_OPTSTR, boot_http_url, 0, 0, "",
	  "URL nodes boot from (empty: http://<interface address>:<boot HTTP port>)"),
	K("boot", "http_listen", K_OPTLISTEN, boot_http_listen, 0, 0, "",
	  "HOST:PORT of plain HTTP for booting machines when the API has TLS (empty: none; boot files on the API)"),
	K("boot", "api_url", K_OPTSTR, boot_api_url, 0, 0, "",
	  "URL the reimage agent reaches the API at (empty: the boot URL's host with the API's scheme and port)"),
	K("boot", "firmware_dir", K_PATH, firmware_dir, 0, 0, "/usr/share/bootwave/firmware",
	  "iPXE binaries (TFTP root) and templates/"),
	K("boot", "agent_kernel", K_PATH, agent_kernel, 0, 0, "/usr/share/bootwave/agent/vmlinuz",
	  "kernel of the reimage agent"),
	K("boot", "agent_initrd", K_PATH, agent_initrd, 0, 0, "/usr/share/bootwave/agent/initrd.gz",
	  "initrd of the reimage agent"),
	K("boot", "kernel_cmdline", K_OPTSTR, kernel_cmdline, 0, 0, "console=tty0 console=ttyS0,115200",
	  "extra kernel command line for the agent and the installed OS"),
	K("boot", "retry", K_INT, boot_retry, 1, 3600, "30", "seconds between two asks of a waiting machine"),
	K("dhcp", "mode", K_CHOICE, dhcp_mode, 0, 0, "server",
	  "server (addresses and boot), proxy (boot only, beside another DHCP server) or off"),
	K("dhcp", "range", K_RANGE, dhcp_range, 0, 0, "", "dynamic addresses, FIRST-LAST (server mode)"),
	K("dhcp", "lease_time", K_INT, dhcp_lease_time, 60, 604800, "3600", "lease length in seconds"),
	K("dhcp", "router", K_IPV4, dhcp_router, 0, 0, "", "default gateway handed out (empty: none)"),
	K("dhcp", "dns", K_IPV4LIST, dhcp_dns, 0, 0, "", "DNS servers handed out, at most two, comma separated"),
	K("dhcp", "bios_file", K_FILENAME, dhcp_bios_file, 0, 0, "undionly.kpxe", "TFTP file for BIOS PXE"),
	K("dhcp", "uefi_file", K_FILENAME, dhcp_uefi_file, 0, 0, "snponly.efi",
	  "TFTP (and UEFI HTTP boot) file for UEFI x64"),
	K("dhcp", "commit_ms", K_INT, dhcp_commit_ms, 0, 1000, "5",
	  "milliseconds an ACK may wait for the group commit of leases"),
	K("tftp", "enabled", K_BOOL, tftp_enabled, 0, 0, "true", "serve firmware_dir over TFTP"),
	K("tftp", "max_transfers", K_INT, tftp_max_transfers, 1, 4096, "64", "concurrent transfers"),
	K("tftp", "timeout_ms", K_INT, tftp_timeout_ms, 100, 60000, "1000", "first retransmission timeout"),
	K("tftp", "retries", K_INT, tftp_retries, 1, 20, "5", "retransmissions before giving up on a client"),
	K("tftp", "max_blksize", K_INT, tftp_max_blksize, 512, 65464, "1468", "largest block size granted"),
	K("tftp", "max_windowsize", K_INT, tftp_max_windowsize, 1, 256, "64", "largest window granted"),
};

struct parse_ctx {
	struct config *c;
	char *err;
	size_t errsize;
	bool failed;
};

int config_parse_listen(const char *s, char *host, size_t hostsize, int64_t *ret_port)
{
	const char *colon, *hs = s, *he;
	char *end;
	long port;

	if (s[0] == '[') {
		he = strchr(s, ']');
		if (!he || he[1] != ':')
			return -EINVAL;
		hs = s + 1;
		colon = he + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return -EINVAL;
		he = colon;
	}
	if (he == hs || (size_t)(he - hs) >= hostsize)
		return -EINVAL;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || port < 0 || port > 65535)
		return -EINVAL;
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = '\0';
	*ret_port = port;
	return 0;
}

/* "64M" -> 67108864. Suffixes K, M, G, T (powers of 1024). */
static int parse_size(const char *s, int64_t *ret)
{
	char *end;
	long long v;
	int shift = 0;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || v < 0)
		return -EINVAL;
	switch (toupper((unsigned char)*end)) {
	case '\0':
		break;
	case 'K': shift = 10; break;
	case 'M': shift = 20; break;
	case 'G': shift = 30; break;
	case 'T': shift = 40; break;
	default: return -EINVAL;
	}
	if (*end && end[1] && !(toupper((unsigned char)end[1]) == 'B' && !end[2]) &&
	    !(toupper((unsigned char)end[1]) == 'I' && toupper((unsigned char)end[2]) == 'B' && !end[3]))
		return -EINVAL;
	if (v > (INT64_MAX >> shift))
		return -ERANGE;
	*ret = (int64_t)v << shift;
	return 0;
}

static int parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = { "true", "yes", "on", "1" }, *const no[] = { "false", "no", "off", "0" };
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* Applies one value; on failure writes why (without location) into why[]. */
static int set_key(struct config *c, const struct key *k, const char *value, char *why, size_t whysize)
{
	void *p = (char *)c + k->offset;
	int64_t v;
	enum log_level lvl;

	switch (k->type) {
	case K_OPTSTR:
		/* These values go into iPXE scripts and kernel command lines. */
		if (!cmdline_safe(value) || str_copy(p, k->size, value) < 0) {
			snprintf(why, whysize, "longer than %zu characters or holding one of " CMDLINE_UNSAFE_CHARS,
				 k->size - 1);
			return -EINVAL;
		}
		return 0;
	case K_IPV4:
	case K_RANGE:
	case K_IPV4LIST: {
		char tmp[64], *save = NULL;
		struct in_addr a[2];
		int n = 0;
		const char *sep = k->type == K_RANGE ? "-" : ",";
		if (!*value)
			return str_copy(p, k->size, value);
		snprintf(tmp, sizeof(tmp), "%s", value);
		for (char *t = strtok_r(tmp, sep, &save); t; t = strtok_r(NULL, sep, &save)) {
			while (*t == ' ')
				t++;
			if (n == 2 || inet_pton(AF_INET, t, &a[n]) != 1) {
				n = -1;
				break;
			}
			n++;
		}
		if (n < 1 || (k->type == K_IPV4 && n != 1) || (k->type == K_RANGE && n != 2) ||
		    (k->type == K_RANGE && ntohl(a[0].s_addr) > ntohl(a[1].s_addr)) || str_copy(p, k->size, value) < 0) {
			snprintf(why, whysize, "%s",
				 k->type == K_IPV4    ? "expected an IPv4 address"
				 : k->type == K_RANGE ? "expected FIRST-LAST IPv4 addresses, FIRST <= LAST"
						      : "expected at most two IPv4 addresses, comma separated");
			return -EINVAL;
		}
		return 0;
	}
	case K_CHOICE:
		if (!str_eq(value, "server") && !str_eq(value, "proxy") && !str_eq(value, "off")) {
			snprintf(why, whysize, "expected server, proxy or off");
			return -EINVAL;
		}
		return str_copy(p, k->size, value);
	case K_FILENAME:
		if (!*value || strchr(value, '/') || strstr(value, "..") || str_copy(p, k->size, value) < 0) {
			snprintf(why, whysize, "expected a file name in firmware_dir");
			return -EINVAL;
		}
		return 0;
	case K_STR:
	case K_PATH:
		if (!*value) {
			snprintf(why, whysize, "must not be empty");
			return -EINVAL;
		}
		if (str_copy(p, k->size, value) < 0) {
			snprintf(why, whysize, "longer than %zu characters", k->size - 1);
			return -EINVAL;
		}
		return 0;
	case K_LOGLEVEL:
		if (log_level_parse(value, &lvl) < 0) {
			snprintf(why, whysize, "expected debug, info, warn or error");
			return -EINVAL;
		}
		return str_copy(p, k->size, value);
	case K_OPTPATH:
		if (str_copy(p, k->size, value) < 0) {
			snprintf(why, whysize, "longer than %zu characters", k->size - 1);
			return -EINVAL;
		}
		return 0;
	case K_LISTEN:
	case K_OPTLISTEN: {
		char host[64];
		if (k->type == K_OPTLISTEN && !*value)
			return str_copy(p, k->size, value);
		if (config_parse_listen(value, host, sizeof(host), &v) < 0 || str_copy(p, k->size, value) < 0) {
			snprintf(why, whysize, "expected HOST:PORT with a port of 0-65535");
			return -EINVAL;
		}
		return 0;
	}
	case K_INT:
	case K_SIZE: {
		char *end;
		int r;
		if (k->type == K_SIZE)
			r = parse_size(value, &v);
		else {
			errno = 0;
			v = strtoll(value, &end, 10);
			r = (errno || end == value || *end) ? -EINVAL : 0;
		}
		if (r < 0) {
			snprintf(why, whysize, "expected %s", k->type == K_SIZE ? "a size such as 64M" : "an integer");
			return -EINVAL;
		}
		if (v < k->min || v > k->max) {
			snprintf(why, whysize, "out of range %lld..%lld", (long long)k->min, (long long)k->max);
			return -ERANGE;
		}
		*(int64_t *)p = v;
		return 0;
	}
	case K_BOOL:
		if (parse_bool(value, p) < 0) {
			snprintf(why, whysize, "expected true or false");
			return -EINVAL;
		}
		return 0;
	}
	return -EINVAL;
}

static bool section_known(const char *section)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (str_eq(keys[i].section, section))
			return true;
	return false;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *ctx = user;
	char why[160], esc[96];

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const struct key *k = &keys[i];
		if (strcmp(k->section, section) != 0 || strcmp(k->name, name) != 0)
			continue;
		if (set_key(ctx->c, k, value, why, sizeof(why)) == 0)
			return 1;
		if (!ctx->failed)
			snprintf(ctx->err, ctx->errsize, "[%s] %s = \"%s\": %s", section, name,
				 log_escape(value, strlen(value), esc, sizeof(esc)), why);
		ctx->failed = true;
		return 0;
	}
	if (!ctx->failed)
		snprintf(ctx->err, ctx->errsize, "[%s] %s: unknown %s", section, name,
			 section_known(section) ? "key" : "section");
	ctx->failed = true;
	return 0;
}

static int resolve_path(const struct config *c, char *p, size_t size)
{
	char tmp[CONFIG_PATH_MAX];
	if (p[0] == '/')
		return 0;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/%s", c->state_dir, p) >= sizeof(tmp) ||
	    str_copy(p, size, tmp) < 0)
		return -ENAMETOOLONG;
	return 0;
}

int config_load(const char *path, struct config *ret, char *err, size_t errsize)
{
	struct config c;
	struct parse_ctx ctx = { .c = &c, .err = err, .errsize = errsize };
	char why[160], msg[320];

	memset(&c, 0, sizeof(c));
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (set_key(&c, &keys[i], keys[i].def, why, sizeof(why)) < 0)
			abort(); /* a default that does not parse is a bug */
	if (path) {
		int line;
		/* Debian's libinih: lines as long as a path may be, not 200 bytes. */
		ini_use_stack = false;
		ini_allow_realloc = true;
		ini_max_line = 4096;
		line = ini_parse(path, on_key, &ctx);
		if (line == -1) {
			int e = errno ? errno : ENOENT;
			snprintf(err, errsize, "%s: cannot read: %s", path, strerror(e));
			return -e;
		}
		if (line == -2) {
			snprintf(err, errsize, "%s: out of memory", path);
			return -ENOMEM;
		}
		if (line > 0) {
			if (!ctx.failed)
				snprintf(ctx.err, errsize, "syntax error (expected [section] or key = value)");
			snprintf(msg, sizeof(msg), "%s:%d: %s", path, line, err);
			snprintf(err, errsize, "%s", msg);
			return -EINVAL;
		}
	}
	if (c.state_dir[0] != '/') {
		snprintf(err, errsize, "%s: [daemon] state_dir = \"%s\": must be an absolute path",
			 path ? path : "defaults", c.state_dir);
		return -EINVAL;
	}
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if ((keys[i].type == K_PATH || (keys[i].type == K_OPTPATH && ((char *)&c + keys[i].offset)[0])) &&
		    resolve_path(&c, (char *)&c + keys[i].offset, keys[i].size) < 0) {
			snprintf(err, errsize, "[%s] %s: path too long", keys[i].section, keys[i].name);
			return -EINVAL;
		}
	if (c.boot_interface[0] && str_eq(c.dhcp_mode, "server") && !c.dhcp_range[0]) {
		snprintf(err, errsize, "%s: [dhcp] range: required when [boot] interface is set and mode is server",
			 path ? path : "defaults");
		return -EINVAL;
	}
	/* Both already checked by set_key. */
	config_parse_listen(c.listen, c.listen_host, sizeof(c.listen_host), &c.listen_port);
	if (c.boot_http_listen[0])
		config_parse_listen(c.boot_http_listen, c.boot_listen_host, sizeof(c.boot_listen_host), &c.boot_listen_port);
	if (!c.tls_cert[0] != !c.tls_key[0]) {
		snprintf(err, errsize, "%s: [api] %s: required when %s is set (TLS needs both)", path ? path : "defaults",
			 c.tls_cert[0] ? "tls_key" : "tls_cert", c.tls_cert[0] ? "tls_cert" : "tls_key");
		return -EINVAL;
	}
	if (c.boot_api_url[0] && strncmp(c.boot_api_url, "http://", 7) != 0 && strncmp(c.boot_api_url, "https://", 8) != 0) {
		snprintf(err, errsize, "%s: [boot] api_url = \"%s\": expected an http:// or https:// URL", path ? path : "defaults",
			 c.boot_api_url);
		return -EINVAL;
	}
	if (!c.tls_cert[0] && (c.tls_ca[0] || c.boot_http_listen[0])) {
		snprintf(err, errsize, "%s: [%s] %s: only with TLS ([api] tls_cert and tls_key)", path ? path : "defaults",
			 c.tls_ca[0] ? "api" : "boot", c.tls_ca[0] ? "tls_ca" : "http_listen");
		return -EINVAL;
	}
	if (c.page_size > c.max_page_size) {
		snprintf(err, errsize, "%s: [api] page_size = %lld: larger than max_page_size (%lld)",
			 path ? path : "defaults", (long long)c.page_size, (long long)c.max_page_size);
		return -EINVAL;
	}
	*ret = c;
	return 0;
}

void config_print(const struct config *c, FILE *out)
{
	const char *section = "";
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const struct key *k = &keys[i];
		const void *p = (const char *)c + k->offset;
		if (strcmp(section, k->section) != 0) {
			fprintf(out, "%s[%s]\n", i ? "\n" : "", k->section);
			section = k->section;
		}
		fprintf(out, "# %s (default: %s)\n%s = ", k->help, k->def, k->name);
		switch (k->type) {
		case K_STR:
		case K_OPTSTR:
		case K_IPV4:
		case K_RANGE:
		case K_IPV4LIST:
		case K_CHOICE:
		case K_FILENAME:
		case K_PATH:
		case K_OPTPATH:
		case K_LISTEN:
		case K_OPTLISTEN:
		case K_LOGLEVEL:
			fprintf(out, "%s\n", (const char *)p);
			break;
		case K_INT:
		case K_SIZE:
			fprintf(out, "%lld\n", (long long)*(const int64_t *)p);
			break;
		case K_BOOL:
			fprintf(out, "%s\n", *(const bool *)p ? "true" : "false");
			break;
		}
	}
}
