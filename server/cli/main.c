// SPDX-License-Identifier: Apache-2.0
/*
 * bootwave: the operator's command line. Finds the server and token from
 * flags, then BOOTWAVE_URL / BOOTWAVE_TOKEN, then a config file, and
 * dispatches "bootwave <resource> <verb> ...". Exit codes: cli.h.
 */
#include <getopt.h>
#include <ini.h>

#include "cli.h"
#include "fsutil.h"

#define DEFAULT_URL "http://127.0.0.1:8080"

struct settings {
	char url[512];
	char token[256];
	char token_file[512];
	char ca[512];
	char bad[128];
};

static int on_conf(void *user, const char *section, const char *name, const char *value)
{
	struct settings *s = user;
	if (*section && !str_eq(section, "bootwave"))
		goto bad;
	if (str_eq(name, "url"))
		return str_copy(s->url, sizeof(s->url), value) == 0;
	if (str_eq(name, "token"))
		return str_copy(s->token, sizeof(s->token), value) == 0;
	if (str_eq(name, "token_file"))
		return str_copy(s->token_file, sizeof(s->token_file), value) == 0;
	if (str_eq(name, "ca"))
		return str_copy(s->ca, sizeof(s->ca), value) == 0;
bad:
	snprintf(s->bad, sizeof(s->bad), "[%s] %s", section, name);
	return 0;
}

/* Reads the token in path (first line) into out. */
static int token_from_file(const char *path, char *out, size_t size)
{
	_cleanup_free_ char *text = NULL;
	int r = read_file(path, 4096, &text, NULL);
	if (r < 0)
		return r;
	text[strcspn(text, "\r\n")] = '\0';
	return str_copy(out, size, text);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bootwave [OPTIONS] RESOURCE VERB [ARGS]\n"
		"\n"
		"resources and verbs:\n"
		"  site|zone|rack|node|pool  list, show, create, set, delete\n"
		"  image                     list, show, create, set, delete, publish, versions, version,\n"
		"                            exclude, include, delete-version\n"
		"  extension                 list, show, create, set, delete, publish NAME VERSION FILE\n"
		"                            [--entry SCRIPT], versions, version, delete-version,\n"
		"                            download NAME VERSION > FILE\n"
		"  token                     list, show, create, revoke\n"
		"  node                      also: reimage NAME [--image I] [--version V] [--wipe],\n"
		"                            events NAME, tasks NAME,\n"
		"                            power NAME status|on|off|soft-off|cycle|reset,\n"
		"                            bootdev NAME [pxe|disk [--persistent] [--uefi]],\n"
		"                            health NAME [--since MARKER],\n"
		"                            extensions NAME (runs), extension-output RUN,\n"
		"                            run-extensions NAME [--extension X]\n"
		"  pool                      also: extension list POOL, extension add|set|show|remove POOL NAME\n"
		"                            [--version V] [--provision-after A,B] [--settings JSON]\n"
		"                            [--auto-upgrade true] [--timeout S]\n"
		"  node|pool                 also: custom-data get NAME, custom-data set NAME [FILE|-],\n"
		"                            custom-data clear NAME (raw bytes; cloud-init's user-data)\n"
		"  rollout                   start POOL [--extension X] [--version V], cancel POOL, status POOL,\n"
		"                            history POOL [--limit N] [--days D]\n"
		"  discovered                list, show MAC, delete MAC (machines seen but not enrolled)\n"
		"  lease                     list, show MAC (DHCP leases)\n"
		"  whoami                    the token in use and its role\n"
		"  version                   client and server versions\n"
		"  (bootwave RESOURCE help lists a resource's fields)\n"
		"\n"
		"options:\n"
		"  -u, --url URL          server (env BOOTWAVE_URL; default " DEFAULT_URL ")\n"
		"  -t, --token-file FILE  file holding the API token (env BOOTWAVE_TOKEN holds the token itself)\n"
		"  -c, --config FILE      config file (env BOOTWAVE_CONFIG; default ~/.config/bootwave/cli.conf)\n"
		"      --ca FILE          the only CA (PEM) an https server is trusted with (env BOOTWAVE_CA;\n"
		"                         default: the system's CAs)\n"
		"  -o, --output FORMAT    table (default) or json\n"
		"  -q, --quiet            print only what was asked for\n"
		"\n"
		"exit codes: 0 ok, 1 failure, 2 usage, 3 not found, 4 not authorized, 5 conflict,\n"
		"            6 refused input, 7 server error, 8 server unreachable\n");
}

static int set_output(struct cli *c, const char *v)
{
	if (str_eq(v, "json"))
		c->out = OUT_JSON;
	else if (str_eq(v, "table"))
		c->out = OUT_TABLE;
	else {
		usage_error("--output: expected table or json, not \"%s\"", v ? v : "");
		return -EINVAL;
	}
	return 0;
}

/*
 * Takes -o/--output and -q/--quiet out of the command's own arguments, so
 * that "bootwave node list -o json" works as well as "bootwave -o json node list".
 */
static int take_global_flags(struct cli *c, int *argc, char **argv)
{
	int out = 0;
	for (int i = 0; i < *argc; i++) {
		const char *a = argv[i];
		if (str_eq(a, "-o") || str_eq(a, "--output")) {
			if (i + 1 >= *argc || set_output(c, argv[i + 1]) < 0)
				return -EINVAL;
			i++;
		} else if (strncmp(a, "--output=", 9) == 0) {
			if (set_output(c, a + 9) < 0)
				return -EINVAL;
		} else if (str_eq(a, "-q") || str_eq(a, "--quiet")) {
			c->quiet = true;
		} else
			argv[out++] = argv[i];
	}
	*argc = out;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "token-file", required_argument, NULL, 't' },
		{ "config", required_argument, NULL, 'c' },
		{ "ca", required_argument, NULL, 'C' },
		{ "output", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	struct settings s = { .url = "" };
	struct cli c = { .out = OUT_TABLE };
	const char *url = NULL, *token_file = NULL, *ca = NULL, *conf = getenv("BOOTWAVE_CONFIG"), *env;
	char home_conf[512];
	int opt, r;

	/* '+': stop at the first non-option, the resource; its flags are its own. */
	while ((opt = getopt_long(argc, argv, "+u:t:c:o:qh", opts, NULL)) != -1) {
		switch (opt) {
		case 'u': url = optarg; break;
		case 't': token_file = optarg; break;
		case 'c': conf = optarg; break;
		case 'C': ca = optarg; break;
		case 'o':
			if (set_output(&c, optarg) < 0)
				return EXIT_USAGE;
			break;
		case 'q': c.quiet = true; break;
		case 'h': usage(stdout); return EXIT_OK;
		case 'V': printf("bootwave %s\n", BW_VERSION); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}

	/* The config file is optional unless named explicitly. */
	if (!conf && getenv("HOME")) {
		snprintf(home_conf, sizeof(home_conf), "%s/.config/bootwave/cli.conf", getenv("HOME"));
		if (access(home_conf, R_OK) == 0)
			conf = home_conf;
	}
	if (conf) {
		int line;
		ini_use_stack = false; /* Debian's libinih: long lines */
		ini_allow_realloc = true;
		ini_max_line = 4096;
		line = ini_parse(conf, on_conf, &s);
		if (line < 0) {
			usage_error("cannot read config %s: %s", conf, strerror(errno));
			return EXIT_USAGE;
		}
		if (line > 0) {
			usage_error("%s:%d: %s", conf, line, s.bad[0] ? s.bad : "syntax error");
			if (s.bad[0])
				fprintf(stderr, "  (known keys: url, token, token_file, ca)\n");
			return EXIT_USAGE;
		}
	}
	if (url)
		snprintf(s.url, sizeof(s.url), "%s", url);
	else if ((env = getenv("BOOTWAVE_URL")) && *env)
		snprintf(s.url, sizeof(s.url), "%s", env);
	else if (!s.url[0])
		snprintf(s.url, sizeof(s.url), DEFAULT_URL);
	if (token_file) {
		if ((r = token_from_file(token_file, s.token, sizeof(s.token))) < 0) {
			usage_error("--token-file %s: %s", token_file, strerror(-r));
			return EXIT_USAGE;
		}
	} else if ((env = getenv("BOOTWAVE_TOKEN")) && *env) {
		snprintf(s.token, sizeof(s.token), "%s", env);
	} else if (!s.token[0] && s.token_file[0]) {
		if ((r = token_from_file(s.token_file, s.token, sizeof(s.token))) < 0) {
			usage_error("token_file %s (from %s): %s", s.token_file, conf, strerror(-r));
			return EXIT_USAGE;
		}
	}

	if (ca)
		snprintf(s.ca, sizeof(s.ca), "%s", ca);
	else if ((env = getenv("BOOTWAVE_CA")) && *env)
		snprintf(s.ca, sizeof(s.ca), "%s", env);
	if (s.ca[0] && access(s.ca, R_OK) < 0) {
		usage_error("%s%s: cannot read the CA %s: %s", ca ? "--ca" : getenv("BOOTWAVE_CA") ? "BOOTWAVE_CA" : "ca",
			    ca || getenv("BOOTWAVE_CA") ? "" : " (config)", s.ca, strerror(errno));
		return EXIT_USAGE;
	}

	c.url = s.url;
	c.http = httpc_new(s.url, s.token);
	explicit_bzero(s.token, sizeof(s.token));
	if (!c.http) {
		usage_error("bad server URL \"%s\"", s.url);
		return EXIT_USAGE;
	}
	if (httpc_set_ca(c.http, s.ca) < 0) {
		usage_error("this libcurl cannot check the server with the CA %s", s.ca);
		httpc_free(c.http);
		return EXIT_USAGE;
	}

	const char *noun = argv[optind];
	int sub_argc = argc - optind - 1;
	char **sub_argv = argv + optind + 1;
	const struct model *m = model_find(noun);

	if (take_global_flags(&c, &sub_argc, sub_argv) < 0) {
		httpc_free(c.http);
		return EXIT_USAGE;
	}

	if (str_eq(noun, "help"))
		usage(stdout), r = EXIT_OK;
	else if (str_eq(noun, "image"))
		r = cmd_image(&c, sub_argc, sub_argv);
	else if (str_eq(noun, "extension"))
		r = cmd_extension(&c, sub_argc, sub_argv);
	else if (str_eq(noun, "token"))
		r = cmd_token(&c, sub_argc, sub_argv);
	else if (str_eq(noun, "rollout"))
		r = cmd_rollout(&c, sub_argc, sub_argv);
	else if (str_eq(noun, "whoami"))
		r = cmd_whoami(&c, sub_argc + 1, sub_argv - 1);
	else if (str_eq(noun, "version"))
		r = cmd_version(&c, sub_argc, sub_argv);
	else if (m && m != &model_image_version && m != &model_event && str_eq(noun, m->name))
		r = cmd_resource(&c, m, sub_argc, sub_argv);
	else {
		usage_error("unknown resource \"%s\" (see: bootwave --help)", noun);
		r = EXIT_USAGE;
	}
	httpc_free(c.http);
	return r;
}
