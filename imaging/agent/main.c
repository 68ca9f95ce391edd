// SPDX-License-Identifier: Apache-2.0
/*
 * bootwave-agent: runs in the reimage ramdisk (`reimage`) and in the
 * installed OS (`heartbeat`). See agent.h and docs/architecture.md.
 */
#include <curl/curl.h>
#include <getopt.h>
#include <stdlib.h>

#include "agent.h"
#include "cmdline.h"
#include "fsutil.h"
#include "log.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: bootwave-agent [--cmdline FILE] boot-params\n"
		   "       bootwave-agent [--cmdline FILE] [--devroot DIR] [--no-reboot] [--retry SECONDS] [--ca FILE] reimage\n"
		   "       bootwave-agent [--cmdline FILE] [--interval SECONDS] [--probe COMMAND|URL] [--grace SECONDS]\n"
		   "                      [--host-key FILE] [--authorized-keys FILE] [--once] heartbeat\n"
		   "       bootwave-agent --version\n"
		   "  boot-params  print the bootwave.* parameters of the kernel command line\n"
		   "  reimage      fetch this node's task, write the image to its slot, report, reboot\n"
		   "  heartbeat    report the health of the installed OS every interval\n"
		   "  --cmdline    read the parameters from FILE instead of /proc/cmdline\n"
		   "  --devroot    prefix of device paths (tests: disks are files under DIR)\n"
		   "  --no-reboot  exit when done instead of rebooting\n"
		   "  --retry      how long to keep trying to reach the server (default 300)\n"
		   "  --ca         the only CA an https API is trusted with (default " AGENT_CA_FILE " if it exists,\n"
		   "               else the system's CAs)\n"
		   "  --interval   seconds between heartbeats (default: as the server says, else 15)\n"
		   "  --probe      health probe: a shell command (exit 0 = healthy) or an http(s) URL (2xx)\n"
		   "  --grace      seconds a failing probe still counts as Initializing (default 120)\n"
		   "  --once       send one heartbeat and exit\n"
		   "  --host-key   the OS's SSH public host key to report, so that bootwaved accepts only it\n"
		   "               (default: /etc/ssh/ssh_host_ed25519_key.pub, then\n"
		   "               /etc/dropbear/dropbear_ed25519_host_key.pub)\n"
		   "  --authorized-keys  install the appliance's SSH key (sent with the heartbeat answer) in FILE,\n"
		   "               so that it can run the pool's extensions (default: not installed)\n");
}

static int boot_params(const char *path)
{
	_cleanup_free_ char *text = NULL;
	const char *bad = NULL;
	struct agent_boot boot;
	size_t len;
	int r;

	if ((r = read_file(path, 64 * 1024, &text, &len)) < 0) {
		fprintf(stderr, "bootwave-agent: cannot read %s: %s\n", path, strerror(-r));
		return 1;
	}
	r = agent_cmdline_parse(text, len, &boot, &bad);
	if (r < 0) {
		fprintf(stderr, "bootwave-agent: %s: %s %s\n", path, bad,
			r == -ENOENT ? "is missing" : "is malformed or too long");
		return 1;
	}
	printf("server=%s\napi=%s\nnode=%s\ntoken=%s\nhbtoken=%s\n", boot.server, boot.api, boot.node, boot.token[0] ? "(set)" : "(none)",
	       boot.hbtoken[0] ? "(set)" : "(none)");
	return 0;
}

static bool seconds(const char *s, unsigned *ret)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (!*s || *end || v > 86400)
		return false;
	*ret = (unsigned)v;
	return true;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cmdline", required_argument, NULL, 'c' }, { "devroot", required_argument, NULL, 'd' },
		{ "no-reboot", no_argument, NULL, 'n' },     { "retry", required_argument, NULL, 'r' },
		{ "interval", required_argument, NULL, 'i' }, { "probe", required_argument, NULL, 'p' },
		{ "grace", required_argument, NULL, 'g' },   { "once", no_argument, NULL, 'o' },
		{ "host-key", required_argument, NULL, 'k' }, { "authorized-keys", required_argument, NULL, 'a' },
		{ "ca", required_argument, NULL, 'C' },
		{ "version", no_argument, NULL, 'V' },       { "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct agent_opts o = { .cmdline = "/proc/cmdline", .devroot = "", .retry_s = 300, .grace = 120 };
	int opt, r;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': o.cmdline = optarg; break;
		case 'd': o.devroot = optarg; break;
		case 'n': o.no_reboot = true; break;
		case 'o': o.once = true; break;
		case 'p': o.probe = optarg; break;
		case 'k': o.host_key = optarg; break;
		case 'a': o.authorized_keys = optarg; break;
		case 'C': o.ca = optarg; break;
		case 'r':
		case 'i':
		case 'g':
			if (!seconds(optarg, opt == 'r' ? &o.retry_s : opt == 'i' ? &o.interval : &o.grace)) {
				fprintf(stderr, "bootwave-agent: %s: expected seconds (0-86400)\n", optarg);
				return 2;
			}
			break;
		case 'V': printf("bootwave-agent %s\n", BW_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[optind], "boot-params") == 0)
		return boot_params(o.cmdline);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (strcmp(argv[optind], "reimage") == 0)
		r = agent_reimage(&o);
	else if (strcmp(argv[optind], "heartbeat") == 0)
		r = agent_heartbeat(&o);
	else {
		usage(stderr);
		r = 2;
	}
	curl_global_cleanup();
	return r;
}
