// SPDX-License-Identifier: Apache-2.0
/*
 * bootwave-agent: runs in the reimage ramdisk and, in heartbeat mode, in the
 * installed OS. This first version reads and checks its boot parameters
 * (`bootwave-agent boot-params`); the task protocol, the image writer and the
 * heartbeat come with the imaging work (docs/architecture.md).
 */
#include <getopt.h>

#include "cmdline.h"
#include "fsutil.h"
#include "log.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: bootwave-agent [--cmdline FILE] boot-params\n"
		   "       bootwave-agent --version\n"
		   "  boot-params  print the bootwave.* parameters of the kernel command line\n"
		   "  --cmdline    read them from FILE instead of /proc/cmdline\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cmdline", required_argument, NULL, 'c' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *path = "/proc/cmdline", *bad = NULL;
	_cleanup_free_ char *text = NULL;
	struct agent_boot boot;
	size_t len;
	int opt, r;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 'V': printf("bootwave-agent %s\n", BW_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1 || strcmp(argv[optind], "boot-params") != 0) {
		usage(stderr);
		return 2;
	}
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
	printf("server=%s\nnode=%s\ntoken=%s\n", boot.server, boot.node, boot.token[0] ? "(set)" : "(none)");
	return 0;
}
