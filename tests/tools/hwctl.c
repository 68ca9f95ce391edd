// SPDX-License-Identifier: Apache-2.0
/*
 * hwctl: drives one hw/ driver directly, for the tests of hw/ (bootwaved
 * goes through bmc.h instead). All commands run in one session, in order,
 * so a test can see that a session is reused:
 *
 *   hwctl -d ipmi|redfish -H HOST [-p PORT] -u USER -P PASSWORD
 *         [-c CIPHER] [--http] [--insecure] [--ca FILE] [-t TIMEOUT_MS]
 *         COMMAND [, COMMAND]...
 *   COMMAND: power status | power on|off|soft-off|cycle|reset
 *          | bootdev pxe|disk [once|persistent] [uefi|legacy] | getboot
 *          | health [MARKER] | sleep MS
 *
 * Prints one line per command ("power: on", "ok", "boot: pxe once legacy",
 * "health: ..."). On a failure: "hwctl: STEP: MESSAGE (errno name)" on
 * stderr and exit status 1 (2: bad usage).
 */
#include "hw.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int usage(void)
{
	fprintf(stderr, "usage: hwctl -d ipmi|redfish -H HOST [-p PORT] -u USER -P PASSWORD [-c CIPHER] [--http]\n"
			"             [--insecure] [--ca FILE] [-t TIMEOUT_MS] COMMAND [, COMMAND]...\n");
	return 2;
}

static const char *errno_name(int r)
{
	switch (-r) {
	case EACCES: return "EACCES";
	case EHOSTUNREACH: return "EHOSTUNREACH";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EPROTO: return "EPROTO";
	case ENOTCONN: return "ENOTCONN";
	case ENOTSUP: return "ENOTSUP";
	case EINVAL: return "EINVAL";
	default: return strerror(-r);
	}
}

/* Runs argv[0..n) as one command. */
static int run(const struct hw_ops *ops, struct hw_session *s, int n, char **argv, struct hw_err *e)
{
	const char *cmd = argv[0], *arg = n > 1 ? argv[1] : NULL;
	int r;

	if (strcmp(cmd, "power") == 0 && arg && strcmp(arg, "status") == 0) {
		enum hw_power p;
		if ((r = ops->power_status(s, &p, e)) == 0)
			printf("power: %s\n", hw_power_name(p));
		return r;
	}
	if (strcmp(cmd, "power") == 0 && arg) {
		enum hw_power_action a;
		if (hw_action_parse(arg, &a) < 0)
			return hw_fail(e, -EINVAL, "usage", "unknown power action %s", arg);
		if ((r = ops->power(s, a, e)) == 0)
			printf("ok\n");
		return r;
	}
	if (strcmp(cmd, "bootdev") == 0 && arg) {
		struct hw_boot b = { 0 };
		if (hw_bootdev_parse(arg, &b.dev) < 0)
			return hw_fail(e, -EINVAL, "usage", "unknown boot device %s", arg);
		for (int i = 2; i < n; i++) {
			if (strcmp(argv[i], "persistent") == 0)
				b.persistent = true;
			else if (strcmp(argv[i], "uefi") == 0)
				b.uefi = true;
			else if (strcmp(argv[i], "once") != 0 && strcmp(argv[i], "legacy") != 0)
				return hw_fail(e, -EINVAL, "usage", "unknown bootdev option %s", argv[i]);
		}
		if ((r = ops->set_boot(s, &b, e)) == 0)
			printf("ok\n");
		return r;
	}
	if (strcmp(cmd, "getboot") == 0) {
		struct hw_boot b;
		if ((r = ops->get_boot(s, &b, e)) == 0)
			printf("boot: %s %s %s\n", hw_bootdev_name(b.dev), b.persistent ? "persistent" : "once",
			       b.uefi ? "uefi" : "legacy");
		return r;
	}
	if (strcmp(cmd, "health") == 0) {
		struct hw_health h;
		if ((r = ops->health(s, arg ? strtoull(arg, NULL, 10) : 0, &h, e)) == 0)
			printf("health: %s power=%s chassis=[%s] sel_marker=%" PRIu64
			       " sel_new=%u sel_critical=%u sel_last=[%s] sensors_crossed=%u sensors=[%s]\n",
			       hw_rollup_name(h.rollup), hw_power_name(h.power), h.chassis, h.sel_marker, h.sel_new,
			       h.sel_critical, h.sel_last, h.sensors_crossed, h.sensors);
		return r;
	}
	if (strcmp(cmd, "sleep") == 0 && arg) {
		long ms = strtol(arg, NULL, 10);
		nanosleep(&(struct timespec){ .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L }, NULL);
		return 0;
	}
	return hw_fail(e, -EINVAL, "usage", "unknown command %s", cmd);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "http", no_argument, NULL, 'h' }, { "insecure", no_argument, NULL, 'k' },
		{ "ca", required_argument, NULL, 'a' }, { NULL, 0, NULL, 0 },
	};
	struct hw_target t = { 0 };
	const struct hw_ops *ops;
	struct hw_session *s = NULL;
	struct hw_err e = { "", "" };
	int opt, r = 0;

	while ((opt = getopt_long(argc, argv, "+d:H:p:u:P:c:t:", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': snprintf(t.driver, sizeof(t.driver), "%s", optarg); break;
		case 'H': snprintf(t.host, sizeof(t.host), "%s", optarg); break;
		case 'p': t.port = (uint16_t)atoi(optarg); break;
		case 'u': snprintf(t.user, sizeof(t.user), "%s", optarg); break;
		case 'P': snprintf(t.password, sizeof(t.password), "%s", optarg); break;
		case 'c': t.cipher_suite = atoi(optarg); break;
		case 't': t.timeout_ms = (unsigned)atoi(optarg); break;
		case 'h': t.http = true; break;
		case 'k': t.insecure = true; break;
		case 'a': snprintf(t.ca_file, sizeof(t.ca_file), "%s", optarg); break;
		default: return usage();
		}
	}
	if (!(ops = hw_driver(t.driver)) || !t.host[0] || optind >= argc)
		return usage();
	if ((r = ops->open(&t, &s, &e)) < 0) {
		fprintf(stderr, "hwctl: %s: %s (%s)\n", e.step, e.msg, errno_name(r));
		return 1;
	}
	for (int i = optind; i < argc && r == 0;) {
		int j = i;
		while (j < argc && strcmp(argv[j], ",") != 0)
			j++;
		if (j > i)
			r = run(ops, s, j - i, argv + i, &e);
		fflush(stdout);
		i = j + 1;
	}
	ops->close(s);
	if (r < 0) {
		fprintf(stderr, "hwctl: %s: %s (%s)\n", e.step, e.msg, errno_name(r));
		return 1;
	}
	return 0;
}
