// SPDX-License-Identifier: Apache-2.0
/*
 * bootwaved: the appliance daemon. Reads its configuration, opens the store,
 * makes sure the secret key and a first admin token exist, then serves the
 * API until SIGINT or SIGTERM.
 */
#include <getopt.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "api.h"
#include "auth.h"
#include "boot.h"
#include "config.h"
#include "dhcp_listen.h"
#include "fsutil.h"
#include "log.h"
#include "store.h"
#include "tftp_proc.h"

#define DEFAULT_CONFIG "/etc/bootwave/bootwaved.conf"

/*
 * Raises the soft limit of open files to what [api] max_connections needs on
 * both listeners, within the hard limit: the usual soft default (1024) is
 * reached by a thousand nodes' heartbeat connections. Warns when the hard
 * limit is lower.
 */
static void raise_nofile(const struct config *c)
{
	rlim_t need = (rlim_t)c->max_connections * 2 + 1024;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < need)
		log_warn("open files limited to %llu: fewer than [api] max_connections = %lld connections may be served "
			 "(raise LimitNOFILE)",
			 (unsigned long long)rl.rlim_cur, (long long)c->max_connections);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bootwaved [-c FILE] [-n] [-p FILE] [-V]\n"
		   "  -c FILE  configuration file (default " DEFAULT_CONFIG " if it exists)\n"
		   "  -n       check the configuration, print the effective one and exit\n"
		   "  -p FILE  once listening, write the API's HOST:PORT to FILE\n"
		   "  -V       print the version and exit\n");
}

int main(int argc, char **argv)
{
	const char *conf_path = NULL, *port_file = NULL;
	bool check_only = false;
	struct config cfg;
	struct store *store = NULL;
	struct store_err se;
	struct api *api = NULL;
	struct boot *boot = NULL;
	uint8_t key[SECRET_KEY_LEN];
	enum log_level lvl;
	char err[512];
	sigset_t sigs;
	int opt, r, sig;

	/* The sandboxed processes (server/child.h): the TFTP server, the DHCP listener. */
	if (argc > 1 && strcmp(argv[1], "--sandboxed-tftp") == 0)
		return tftp_proc_main(argc, argv);
	if (argc > 1 && strcmp(argv[1], "--sandboxed-dhcp") == 0)
		return dhcp_listen_main(argc, argv);
	while ((opt = getopt(argc, argv, "c:np:Vh")) != -1) {
		switch (opt) {
		case 'c': conf_path = optarg; break;
		case 'n': check_only = true; break;
		case 'p': port_file = optarg; break;
		case 'V': printf("bootwaved %s\n", BW_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (!conf_path && access(DEFAULT_CONFIG, F_OK) == 0)
		conf_path = DEFAULT_CONFIG;
	if (config_load(conf_path, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "bootwaved: %s\n", err);
		return 1;
	}
	if (check_only) {
		printf("# effective configuration of bootwaved %s (from %s)\n", BW_VERSION,
		       conf_path ? conf_path : "built-in defaults");
		config_print(&cfg, stdout);
		return 0;
	}
	log_level_parse(cfg.log_level, &lvl);
	log_set_level(lvl);
	umask(077); /* the store holds sealed secrets and token hashes */
	signal(SIGPIPE, SIG_IGN);
	raise_nofile(&cfg);

	if ((r = mkdir_p(cfg.state_dir, 0750)) < 0) {
		log_error("cannot create state_dir %s: %s", cfg.state_dir, strerror(-r));
		return 1;
	}
	r = auth_load_key(cfg.key_file, key);
	if (r == -EPERM) {
		log_error("key file %s is readable by group or others; chmod 600 it", cfg.key_file);
		return 1;
	}
	if (r < 0) {
		log_error("cannot load key file %s: %s", cfg.key_file,
			  r == -EINVAL ? "not a 32-byte key" : strerror(-r));
		return 1;
	}
	if ((r = store_open(cfg.store_path, &store, &se)) < 0) {
		log_error("%s", se.message);
		return 1;
	}
	log_info("bootwaved %s: store %s (schema %d)", BW_VERSION, cfg.store_path, store_schema_version(store));
	if (auth_bootstrap(store, cfg.admin_token_file) < 0)
		goto fail;

	/* Workers must not take the signals: block them before any thread starts. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	if (api_start(&cfg, store, key, &api) < 0)
		goto fail;
	if (boot_start(&cfg, store, api_boot_port(api), &boot) < 0)
		goto fail;
	/* Ready: written once everything listens. */
	if (port_file) {
		char line[96];
		int n = snprintf(line, sizeof(line), "%s:%u\n", cfg.listen_host, api_port(api));
		if ((r = write_file_atomic(port_file, line, (size_t)n, 0644)) < 0) {
			log_error("cannot write %s: %s", port_file, strerror(-r));
			goto fail;
		}
	}
	explicit_bzero(key, sizeof(key));
	sigwait(&sigs, &sig);
	log_info("bootwaved: %s, shutting down", strsignal(sig));
	boot_stop(boot);
	api_stop(api);
	store_close(store);
	return 0;
fail:
	explicit_bzero(key, sizeof(key));
	boot_stop(boot);
	api_stop(api);
	store_close(store);
	return 1;
}
