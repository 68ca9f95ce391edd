// SPDX-License-Identifier: Apache-2.0
/*
 * The CLI's commands. Inventory resources share one set of verbs (list,
 * show, create, set, delete) whose --flags come from lib/model.h, so the CLI
 * accepts exactly the fields the server does, with the same names:
 * --update-domain 2 is the field update_domain.
 */
#include <getopt.h>
#include <libgen.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "crypto.h"
#include "fsutil.h"

void usage_error(const char *fmt, ...)
{
	va_list ap;
	fputs("bootwave: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_fail(const struct httpc_reply *reply, const char *what)
{
	json_t *err = json_object_get(reply->json, "error");
	const char *msg = json_string_value(json_object_get(err, "message"));
	const char *code = json_string_value(json_object_get(err, "code"));
	long s = reply->status;

	if (s == 0) {
		fprintf(stderr, "bootwave: %s: no answer from the server: %s\n", what, reply->err);
		return EXIT_UNREACHABLE;
	}
	if (msg)
		fprintf(stderr, "bootwave: %s: %s (%ld %s)\n", what, msg, s, code ? code : "");
	else
		fprintf(stderr, "bootwave: %s: HTTP %ld\n", what, s);
	if (s == 404)
		return EXIT_NOT_FOUND;
	if (s == 401 || s == 403)
		return EXIT_AUTH;
	if (s == 409)
		return EXIT_CONFLICT;
	if (s == 400 || s == 411 || s == 413 || s == 416 || s == 422)
		return EXIT_INVALID;
	if (s >= 500)
		return EXIT_SERVER;
	return EXIT_FAIL;
}

int cli_call(struct cli *c, const char *method, const char *path, json_t *body, struct httpc_reply *reply)
{
	char what[2100];
	int r;

	httpc_request(c->http, method, path, body, reply);
	if (reply->status >= 200 && reply->status < 300)
		return EXIT_OK;
	snprintf(what, sizeof(what), "%s %s", method, path);
	r = cli_fail(reply, what);
	httpc_reply_clear(reply);
	return r;
}

/* "update-domain" -> "update_domain" into out[size]. */
static void flag_to_field(const char *flag, char *out, size_t size)
{
	size_t i;
	for (i = 0; flag[i] && i < size - 1; i++)
		out[i] = flag[i] == '-' ? '_' : flag[i];
	out[i] = '\0';
}

static bool parse_bool(const char *s, bool *ret)
{
	if (str_eq(s, "true") || str_eq(s, "yes") || str_eq(s, "on") || str_eq(s, "1"))
		*ret = true;
	else if (str_eq(s, "false") || str_eq(s, "no") || str_eq(s, "off") || str_eq(s, "0"))
		*ret = false;
	else
		return false;
	return true;
}

/* Reads a secret from a file ("-": stdin), without its trailing newline. */
static json_t *read_secret(const char *path)
{
	char buf[1024];
	size_t n;
	FILE *f = str_eq(path, "-") ? stdin : fopen(path, "re");

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	if (f != stdin)
		fclose(f);
	buf[n] = '\0';
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	json_t *v = json_string(buf);
	explicit_bzero(buf, sizeof(buf));
	return v;
}

/* JSON value of a --flag for field f; NULL (with a message) if the text does not fit. */
static json_t *flag_value(const struct field *f, const char *v)
{
	switch (f->type) {
	case FT_INT: {
		char *end;
		long long n;
		if ((f->flags & F_NULLABLE) && (str_eq(v, "none") || str_eq(v, "null")))
			return json_null();
		n = strtoll(v, &end, 10);
		if (!*v || *end) {
			usage_error("--%s: \"%s\" is not an integer", f->name, v);
			return NULL;
		}
		return json_integer(n);
	}
	case FT_BOOL: {
		bool b;
		if (!parse_bool(v, &b)) {
			usage_error("--%s: expected true or false, not \"%s\"", f->name, v);
			return NULL;
		}
		return json_boolean(b);
	}
	case FT_REF:
		return *v ? json_string(v) : json_null();
	case FT_TIME:
		return *v && !str_eq(v, "none") ? json_string(v) : json_null();
	case FT_DISKS: {
		json_t *a = json_array();
		char tmp[DISKS_LEN], *save = NULL;
		snprintf(tmp, sizeof(tmp), "%s", v);
		for (char *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save))
			json_array_append_new(a, json_string(t));
		return a;
	}
	case FT_JSON: {
		json_error_t je;
		json_t *o = json_loads(v, 0, &je);
		if (!json_is_object(o)) {
			usage_error("--%s: expected a JSON object such as '{\"port\": 8080}'%s%s", f->name,
				    o ? "" : ": ", o ? "" : je.text);
			json_decref(o);
			return NULL;
		}
		return o;
	}
	case FT_SECRET: {
		json_t *s = read_secret(v);
		if (!s)
			usage_error("--%s-file: cannot read %s: %s", f->name, v, strerror(errno));
		return s;
	}
	default:
		return json_string(v);
	}
}

/*
 * Turns "--field value" pairs into a JSON object of writable fields of m.
 * Returns NULL after printing what was wrong.
 */
static json_t *fields_from_flags(const struct model *m, int argc, char **argv, bool create)
{
	json_t *obj = json_object();

	for (int i = 0; i < argc; i++) {
		char name[80], *eq;
		const char *val;
		const struct field *f;
		bool secret_file = false;

		if (strncmp(argv[i], "--", 2) != 0) {
			usage_error("unexpected argument \"%s\" (fields are given as --name value)", argv[i]);
			goto fail;
		}
		flag_to_field(argv[i] + 2, name, sizeof(name));
		eq = strchr(name, '=');
		if (eq) {
			*eq = '\0';
			val = strchr(argv[i], '=') + 1;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			usage_error("%s needs a value", argv[i]);
			goto fail;
		}
		f = model_field(m, name);
		if (!f && strlen(name) > 5 && str_eq(name + strlen(name) - 5, "_file")) {
			name[strlen(name) - 5] = '\0';
			f = model_field(m, name);
			secret_file = f && f->type == FT_SECRET;
			if (!secret_file)
				f = NULL;
		}
		if (!f || (f->flags & (F_RO | F_INTERNAL)) || str_eq(f->name, m->key) ||
		    (f->type == FT_SECRET && !secret_file)) {
			usage_error("a %s has no settable field --%s (see: bootwave %s %s --help)", m->name,
				    argv[eq ? i : i - 1] + 2, m->name, create ? "create" : "set");
			goto fail;
		}
		if (!create && (f->flags & F_IMMUTABLE)) {
			usage_error("--%s cannot be changed after creation", argv[eq ? i : i - 1] + 2);
			goto fail;
		}
		json_t *v = flag_value(f, val);
		if (!v)
			goto fail;
		json_object_set_new(obj, f->name, v);
	}
	return obj;
fail:
	json_decref(obj);
	return NULL;
}

static void field_help(const struct model *m, bool create)
{
	printf("fields:\n");
	for (size_t i = 0; i < m->n_fields; i++) {
		const struct field *f = &m->fields[i];
		char flag[80];
		if ((f->flags & (F_RO | F_INTERNAL)) || str_eq(f->name, m->key) ||
		    (!create && (f->flags & F_IMMUTABLE)))
			continue;
		snprintf(flag, sizeof(flag), "--%s%s", f->name, f->type == FT_SECRET ? "-file" : "");
		for (char *p = flag; *p; p++)
			if (*p == '_')
				*p = '-';
		printf("  %-34s %s%s\n", flag, f->help, create && (f->flags & F_REQUIRED) ? " (required)" : "");
	}
}

static int resource_usage(const struct model *m)
{
	printf("usage: bootwave %s list [--FIELD VALUE ...] [--limit N]\n"
	       "       bootwave %s show NAME\n"
	       "       bootwave %s create NAME [--FIELD VALUE ...]\n"
	       "       bootwave %s set NAME --FIELD VALUE ...\n"
	       "       bootwave %s delete NAME\n",
	       m->name, m->name, m->name, m->name, m->name);
	field_help(m, true);
	return EXIT_OK;
}

/* Appends "k=v" to url with '?' or '&' as needed. */
static void append_query(char *url, size_t size, const char *k, const char *v)
{
	size_t n = strlen(url);
	if (!v || !*v)
		return;
	snprintf(url + n, size - n, "%s%s%s%s", strchr(url, '?') ? "&" : "?", k, k[0] ? "=" : "", v);
}

/* GETs every page of path (or one page of limit items) and prints them. */
static int list_pages(struct cli *c, const struct model *m, const char *path, const char *query, long limit)
{
	json_t *all = json_array();
	char url[2048], after[32] = "", lim[24] = "";
	int r;

	if (limit > 0)
		snprintf(lim, sizeof(lim), "%ld", limit);
	for (;;) {
		struct httpc_reply rep;
		json_t *next;
		snprintf(url, sizeof(url), "%s", path);
		append_query(url, sizeof(url), "", query);
		append_query(url, sizeof(url), "after", after);
		append_query(url, sizeof(url), "limit", lim);
		if ((r = cli_call(c, "GET", url, NULL, &rep)) != EXIT_OK) {
			json_decref(all);
			return r;
		}
		json_array_extend(all, json_object_get(rep.json, "items"));
		next = json_object_get(rep.json, "next");
		if (limit > 0 || !json_is_string(next)) {
			httpc_reply_clear(&rep);
			break;
		}
		snprintf(after, sizeof(after), "%s", json_string_value(next));
		httpc_reply_clear(&rep);
	}
	if (c->out == OUT_JSON)
		out_json(all);
	else
		out_table(m, all);
	json_decref(all);
	return EXIT_OK;
}

static int print_reply(struct cli *c, struct httpc_reply *rep)
{
	if (c->out == OUT_JSON)
		out_json(rep->json);
	else if (!c->quiet)
		out_object(rep->json);
	httpc_reply_clear(rep);
	return EXIT_OK;
}

/* Builds "k=v&k=v" from --FIELD VALUE filters (escaped) and --limit. */
static int filters_to_query(int argc, char **argv, char *q, size_t size, long *limit)
{
	size_t n = 0;
	q[0] = '\0';
	for (int i = 0; i < argc; i++) {
		char name[80];
		_cleanup_free_ char *ev = NULL;
		if (strncmp(argv[i], "--", 2) != 0 || i + 1 >= argc) {
			usage_error("filters are given as --FIELD VALUE (\"%s\")", argv[i]);
			return -EINVAL;
		}
		flag_to_field(argv[i] + 2, name, sizeof(name));
		if (str_eq(name, "limit")) {
			char *end;
			*limit = strtol(argv[++i], &end, 10);
			if (!*argv[i] || *end || *limit < 1) {
				usage_error("--limit: expected a positive integer, not \"%s\"", argv[i]);
				return -EINVAL;
			}
			continue;
		}
		ev = httpc_escape(argv[++i]);
		n += (size_t)snprintf(q + n, n < size ? size - n : 0, "%s%s=%s", n ? "&" : "", name, ev ? ev : "");
		if (n >= size)
			return -E2BIG;
	}
	return 0;
}

/* out = prefix + escape(a) [+ mid + escape(b)]. */

/* node power NAME status|on|off|soft-off|cycle|reset [--fresh]
 * node bootdev NAME [pxe|disk [--persistent] [--uefi]]
 * node health NAME [--since MARKER] [--fresh]: through the node's BMC. */
static int node_bmc(struct cli *c, const char *verb, const char *item, int argc, char **argv)
{
	struct httpc_reply rep;
	char path[512], query[64] = "";
	json_t *body = NULL;
	const char *method = "GET";
	int r;

	if (str_eq(verb, "power")) {
		int i = 3;
		if (argc < 3) {
			usage_error("power NAME status|on|off|soft-off|cycle|reset [--fresh]");
			return EXIT_USAGE;
		}
		if (!str_eq(argv[2], "status")) {
			method = "POST";
			body = json_pack("{s:s}", "action", argv[2]);
		} else if (argc > 3 && str_eq(argv[3], "--fresh")) {
			snprintf(query, sizeof(query), "?fresh=true");
			i++;
		}
		if (argc > i) {
			json_decref(body);
			usage_error("power NAME status|on|off|soft-off|cycle|reset [--fresh]: unexpected \"%s\"", argv[i]);
			return EXIT_USAGE;
		}
	} else if (str_eq(verb, "bootdev")) {
		if (argc > 2) {
			method = "POST";
			body = json_pack("{s:s}", "device", argv[2]);
			for (int i = 3; i < argc; i++) {
				if (str_eq(argv[i], "--persistent") || str_eq(argv[i], "--uefi"))
					json_object_set_new(body, argv[i] + 2, json_true());
				else if (!str_eq(argv[i], "--once")) {
					json_decref(body);
					usage_error("bootdev NAME [pxe|disk [--once|--persistent] [--uefi]]: unexpected \"%s\"",
						    argv[i]);
					return EXIT_USAGE;
				}
			}
		}
	} else {
		for (int i = 2; i < argc; i++) {
			size_t n = strlen(query);
			if (str_eq(argv[i], "--since") && i + 1 < argc) {
				char *esc = httpc_escape(argv[++i]);
				snprintf(query + n, sizeof(query) - n, "%ssince=%.24s", n ? "&" : "?", esc ? esc : "");
				free(esc);
			} else if (str_eq(argv[i], "--fresh")) {
				snprintf(query + n, sizeof(query) - n, "%sfresh=true", n ? "&" : "?");
			} else {
				usage_error("health NAME [--since MARKER] [--fresh]: unexpected \"%s\"", argv[i]);
				return EXIT_USAGE;
			}
		}
	}
	snprintf(path, sizeof(path), "%.400s/%s%s", item, verb, query);
	r = cli_call(c, method, path, body, &rep);
	json_decref(body);
	if (r != EXIT_OK)
		return r;
	return print_reply(c, &rep);
}

/* file opened for an upload, with its size in *st; NULL (said, prefixed by what) unless a regular file. */
static FILE *open_upload(const char *file, const char *what, struct stat *st)
{
	FILE *f = fopen(file, "re");
	if (!f || fstat(fileno(f), st) < 0 || !S_ISREG(st->st_mode)) {
		usage_error("%s%s: %s", what, file, f ? "not a regular file" : strerror(errno));
		if (f)
			fclose(f);
		return NULL;
	}
	return f;
}

static int escaped_path(char *out, size_t size, const char *prefix, const char *a, const char *mid,
			const char *b)
{
	_cleanup_free_ char *ea = httpc_escape(a), *eb = b ? httpc_escape(b) : NULL;
	if (!ea || (b && !eb))
		return -ENOMEM;
	if ((size_t)snprintf(out, size, "%s%s%s%s", prefix, ea, b ? mid : "", b ? eb : "") >= size)
		return -E2BIG;
	return 0;
}

/* The most custom data set reads from stdin: one byte past the server's largest limit, so it refuses. */
#define CUSTOM_DATA_STDIN_MAX ((16u << 20) + 1)

/*
 * node|pool custom-data get NAME            the raw bytes to stdout
 * node|pool custom-data set NAME [FILE|-]   the raw bytes of FILE (default and "-": stdin)
 * node|pool custom-data clear NAME
 */
static int custom_data_cmd(struct cli *c, const struct model *m, int argc, char **argv)
{
	const char *op = argc > 1 ? argv[1] : "", *file = argc > 3 ? argv[3] : "-";
	bool set = str_eq(op, "set");
	char prefix[64], path[512];
	struct httpc_reply rep;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	struct stat st;
	FILE *f;
	int r;

	if (!(str_eq(op, "get") || set || str_eq(op, "clear")) || argc < 3 || argc > (set ? 4 : 3) ||
	    strncmp(argv[2], "--", 2) == 0) {
		usage_error("usage: bootwave %s custom-data get NAME | set NAME [FILE|-] | clear NAME", m->name);
		return EXIT_USAGE;
	}
	snprintf(prefix, sizeof(prefix), "/api/v1/%s/", m->plural);
	if (escaped_path(path, sizeof(path), prefix, argv[2], "/custom-data", "") < 0)
		return EXIT_FAIL;
	if (str_eq(op, "get")) {
		if ((r = cli_call(c, "GET", path, NULL, &rep)) != EXIT_OK)
			return r;
		/* Raw bytes, binary too: exactly what was set. */
		r = rep.len && fwrite(rep.text, 1, rep.len, stdout) != rep.len ? EXIT_FAIL : EXIT_OK;
		httpc_reply_clear(&rep);
		if (fflush(stdout) != 0)
			r = EXIT_FAIL;
		return r;
	}
	if (str_eq(op, "clear")) {
		if ((r = cli_call(c, "DELETE", path, NULL, &rep)) != EXIT_OK)
			return r;
		httpc_reply_clear(&rep);
		if (!c->quiet && c->out == OUT_TABLE)
			printf("cleared the custom data of %s %s\n", m->name, argv[2]);
		return EXIT_OK;
	}
	if (str_eq(file, "-")) {
		/* stdin has no size to announce: read it whole (bounded), then send it. */
		buf = malloc(CUSTOM_DATA_STDIN_MAX);
		if (!buf)
			return EXIT_FAIL;
		len = fread(buf, 1, CUSTOM_DATA_STDIN_MAX, stdin);
		if (ferror(stdin)) {
			usage_error("custom-data set: cannot read stdin: %s", strerror(errno));
			return EXIT_FAIL;
		}
		/* An empty body is sent as it is: the server says what is wrong with it. */
		f = len ? fmemopen(buf, len, "r") : fopen("/dev/null", "re");
	} else {
		if (!(f = open_upload(file, "custom-data set: ", &st)))
			return EXIT_USAGE;
		len = (size_t)st.st_size;
	}
	if (!f) {
		usage_error("custom-data set: %s", strerror(errno));
		return EXIT_FAIL;
	}
	httpc_upload(c->http, path, f, (uint64_t)len, NULL, NULL, &rep);
	fclose(f);
	if (rep.status < 200 || rep.status >= 300) {
		char what[600];
		snprintf(what, sizeof(what), "custom-data set %s %s", m->name, argv[2]);
		r = cli_fail(&rep, what);
		httpc_reply_clear(&rep);
		return r;
	}
	return print_reply(c, &rep);
}

/*
 * pool extension add|set|remove|show POOL NAME [--FIELD VALUE ...]
 * pool extension list POOL: the extensions a pool runs (model_pool_extension).
 */
static int pool_extension_cmd(struct cli *c, int argc, char **argv)
{
	const struct model *m = &model_pool_extension;
	const char *verb = argc > 1 ? argv[1] : "help";
	char base[512], item[1024];
	struct httpc_reply rep;
	int r;

	if (str_eq(verb, "help") || str_eq(verb, "--help") || argc < 3) {
		printf("usage: bootwave pool extension list POOL\n"
		       "       bootwave pool extension add POOL NAME --version V [--FIELD VALUE ...]\n"
		       "       bootwave pool extension set POOL NAME --FIELD VALUE ...\n"
		       "       bootwave pool extension show|remove POOL NAME\n");
		field_help(m, true);
		return str_eq(verb, "help") || str_eq(verb, "--help") ? EXIT_OK : EXIT_USAGE;
	}
	if (escaped_path(base, sizeof(base), "/api/v1/pools/", argv[2], "/extensions", "") < 0)
		return EXIT_FAIL;
	if (str_eq(verb, "list")) {
		if (argc > 3) {
			usage_error("pool extension list takes only a POOL");
			return EXIT_USAGE;
		}
		return list_pages(c, m, base, "", 0);
	}
	if (argc < 4 || strncmp(argv[3], "--", 2) == 0) {
		usage_error("pool extension %s needs a POOL and an extension NAME", verb);
		return EXIT_USAGE;
	}
	if (escaped_path(item, sizeof(item), "/api/v1/pools/", argv[2], "/extensions/", argv[3]) < 0)
		return EXIT_FAIL;
	if (str_eq(verb, "show") || str_eq(verb, "remove")) {
		if (argc > 4) {
			usage_error("pool extension %s takes only a POOL and a NAME", verb);
			return EXIT_USAGE;
		}
		if ((r = cli_call(c, str_eq(verb, "show") ? "GET" : "DELETE", item, NULL, &rep)) != EXIT_OK)
			return r;
		if (str_eq(verb, "show"))
			return print_reply(c, &rep);
		httpc_reply_clear(&rep);
		if (!c->quiet && c->out == OUT_TABLE)
			printf("pool %s no longer runs extension %s\n", argv[2], argv[3]);
		return EXIT_OK;
	}
	if (str_eq(verb, "add") || str_eq(verb, "set")) {
		bool create = str_eq(verb, "add");
		json_t *body = fields_from_flags(m, argc - 4, argv + 4, create);
		if (!body)
			return EXIT_USAGE;
		if (!create && json_object_size(body) == 0) {
			json_decref(body);
			usage_error("pool extension set needs at least one --FIELD VALUE");
			return EXIT_USAGE;
		}
		if (create)
			json_object_set_new(body, "name", json_string(argv[3]));
		r = cli_call(c, create ? "POST" : "PATCH", create ? base : item, body, &rep);
		json_decref(body);
		if (r != EXIT_OK)
			return r;
		return print_reply(c, &rep);
	}
	usage_error("unknown verb \"%s\" for pool extension (see: bootwave pool extension help)", verb);
	return EXIT_USAGE;
}

/*
 * node extensions NAME: the runs of the node's extensions;
 * node extension-output RUN: what one run wrote (stdout, then stderr);
 * node run-extensions NAME [--extension X]: run them (or one) again now.
 */
static int node_extension_cmd(struct cli *c, const char *verb, const char *item, int argc, char **argv)
{
	struct httpc_reply rep;
	char path[1024];
	json_t *body = NULL;
	int r;

	if (str_eq(verb, "extensions")) {
		if (argc > 2) {
			usage_error("extensions takes only a NAME");
			return EXIT_USAGE;
		}
		snprintf(path, sizeof(path), "%.900s/extension-runs", item);
		return list_pages(c, &model_ext_run, path, "", 0);
	}
	if (str_eq(verb, "extension-output")) {
		if (argc > 2) {
			usage_error("extension-output takes only a RUN (its id, from bootwave node extensions)");
			return EXIT_USAGE;
		}
		if (escaped_path(path, sizeof(path), "/api/v1/extension-runs/", argv[1], "/output", "") < 0)
			return EXIT_FAIL;
		if ((r = cli_call(c, "GET", path, NULL, &rep)) != EXIT_OK)
			return r;
		if (c->out == OUT_JSON)
			out_json(rep.json);
		else if (!c->quiet) {
			const char *o = json_string_value(json_object_get(rep.json, "stdout"));
			const char *e = json_string_value(json_object_get(rep.json, "stderr"));
			fputs(o ? o : "", stdout);
			fputs(e ? e : "", stderr);
			if (json_is_true(json_object_get(rep.json, "truncated")))
				fprintf(stderr, "bootwave: (output truncated: %lld bytes of stdout, %lld of stderr in all)\n",
					(long long)json_integer_value(json_object_get(rep.json, "stdout_bytes")),
					(long long)json_integer_value(json_object_get(rep.json, "stderr_bytes")));
		}
		httpc_reply_clear(&rep);
		return EXIT_OK;
	}
	/* run-extensions */
	if (argc == 4 && str_eq(argv[2], "--extension"))
		body = json_pack("{s:s}", "extension", argv[3]);
	else if (argc != 2) {
		usage_error("usage: bootwave node run-extensions NAME [--extension EXTENSION]");
		return EXIT_USAGE;
	}
	snprintf(path, sizeof(path), "%.900s/extensions/run", item);
	r = cli_call(c, "POST", path, body, &rep);
	json_decref(body);
	if (r != EXIT_OK)
		return r;
	return print_reply(c, &rep);
}

int cmd_resource(struct cli *c, const struct model *m, int argc, char **argv)
{
	const char *verb = argc > 0 && argv[0] ? argv[0] : "help";
	const char *plural = m == &model_token ? "tokens" : m->plural;
	char base[128], path[512], item[512];
	struct httpc_reply rep;
	int r;

	snprintf(base, sizeof(base), "/api/v1/%s", plural);
	if (str_eq(verb, "help") || str_eq(verb, "--help") || str_eq(verb, "-h"))
		return resource_usage(m);
	if (str_eq(verb, "list")) {
		char q[1024];
		long limit = 0;
		if (filters_to_query(argc - 1, argv + 1, q, sizeof(q), &limit) < 0)
			return EXIT_USAGE;
		return list_pages(c, m, base, q, limit);
	}
	if ((m == &model_node || m == &model_pool) && str_eq(verb, "custom-data"))
		return custom_data_cmd(c, m, argc, argv);
	if (m == &model_pool && str_eq(verb, "extension"))
		return pool_extension_cmd(c, argc, argv);
	if (m == &model_node && str_eq(verb, "extension-output") && argc >= 2)
		return node_extension_cmd(c, verb, "", argc, argv);
	if (argc < 2 || strncmp(argv[1], "--", 2) == 0) {
		if (argc >= 2 && (str_eq(argv[1], "--help") || str_eq(argv[1], "-h"))) {
			printf("usage: bootwave %s %s NAME%s\n", m->name, verb,
			       str_eq(verb, "create") || str_eq(verb, "set") ? " [--FIELD VALUE ...]" : "");
			if (str_eq(verb, "create") || str_eq(verb, "set"))
				field_help(m, str_eq(verb, "create"));
			return EXIT_OK;
		}
		usage_error("%s %s needs a NAME", m->name, verb);
		return EXIT_USAGE;
	}
	snprintf(path, sizeof(path), "%s/", base);
	if (escaped_path(item, sizeof(item), path, argv[1], NULL, NULL) < 0)
		return EXIT_FAIL;
	if (str_eq(verb, "show")) {
		if (argc > 2) {
			usage_error("show takes only a NAME");
			return EXIT_USAGE;
		}
		if ((r = cli_call(c, "GET", item, NULL, &rep)) != EXIT_OK)
			return r;
		return print_reply(c, &rep);
	}
	if (str_eq(verb, "create") || str_eq(verb, "set")) {
		bool create = str_eq(verb, "create");
		json_t *body = fields_from_flags(m, argc - 2, argv + 2, create);
		if (!body)
			return EXIT_USAGE;
		if (!create && json_object_size(body) == 0) {
			json_decref(body);
			usage_error("set needs at least one --FIELD VALUE");
			return EXIT_USAGE;
		}
		if (create)
			json_object_set_new(body, m->key, json_string(argv[1]));
		r = cli_call(c, create ? "POST" : "PATCH", create ? base : item, body, &rep);
		json_decref(body);
		if (r != EXIT_OK)
			return r;
		return print_reply(c, &rep);
	}
	if (str_eq(verb, "delete") || (m == &model_token && str_eq(verb, "revoke"))) {
		if (argc > 2) {
			usage_error("%s takes only a NAME", verb);
			return EXIT_USAGE;
		}
		if ((r = cli_call(c, "DELETE", item, NULL, &rep)) != EXIT_OK)
			return r;
		httpc_reply_clear(&rep);
		if (!c->quiet && c->out == OUT_TABLE)
			printf("deleted %s %s\n", m->name, argv[1]);
		return EXIT_OK;
	}
	if (m == &model_node && str_eq(verb, "events")) {
		if (argc > 2) {
			usage_error("events takes only a NAME");
			return EXIT_USAGE;
		}
		snprintf(path, sizeof(path), "%.400s/events", item);
		return list_pages(c, &model_event, path, "", 0);
	}
	if (m == &model_node && str_eq(verb, "reimage")) {
		json_t *body = json_object();
		for (int i = 2; i < argc; i++) {
			if (str_eq(argv[i], "--wipe")) {
				json_object_set_new(body, "wipe", json_true());
			} else if ((str_eq(argv[i], "--image") || str_eq(argv[i], "--version")) && i + 1 < argc) {
				json_object_set_new(body, argv[i] + 2, json_string(argv[i + 1]));
				i++;
			} else {
				json_decref(body);
				usage_error("reimage NAME [--image IMAGE] [--version VERSION|latest] [--wipe]: unexpected \"%s\"",
					    argv[i]);
				return EXIT_USAGE;
			}
		}
		snprintf(path, sizeof(path), "%.400s/reimage", item);
		r = cli_call(c, "POST", path, json_object_size(body) ? body : NULL, &rep);
		json_decref(body);
		if (r != EXIT_OK)
			return r;
		return print_reply(c, &rep);
	}
	if (m == &model_node && (str_eq(verb, "power") || str_eq(verb, "bootdev") || str_eq(verb, "health")))
		return node_bmc(c, verb, item, argc, argv);
	if (m == &model_node && (str_eq(verb, "extensions") || str_eq(verb, "run-extensions")))
		return node_extension_cmd(c, verb, item, argc, argv);
	if (m == &model_node && str_eq(verb, "tasks")) {
		if (argc > 2) {
			usage_error("tasks takes only a NAME");
			return EXIT_USAGE;
		}
		snprintf(path, sizeof(path), "%.400s/tasks", item);
		return list_pages(c, &model_task, path, "", 0);
	}
	usage_error("unknown verb \"%s\" for %s (see: bootwave %s help)", verb, m->name, m->name);
	return EXIT_USAGE;
}

/* ---- images ---- */

struct bar {
	struct timespec t0;
	const char *label;
	int last_pct;
};

static void draw_bar(uint64_t done, uint64_t total, void *ud)
{
	struct bar *b = ud;
	struct timespec now;
	double secs, rate;
	int pct = total ? (int)(done * 100 / total) : 100, filled = pct * 30 / 100;

	if (pct == b->last_pct && done != total)
		return;
	b->last_pct = pct;
	clock_gettime(CLOCK_MONOTONIC, &now);
	secs = (double)(now.tv_sec - b->t0.tv_sec) + (double)(now.tv_nsec - b->t0.tv_nsec) / 1e9;
	rate = secs > 0 ? (double)done / secs / (1 << 20) : 0;
	fprintf(stderr, "\r%s [%.*s%*s] %3d%% %7.1f MiB/s", b->label, filled, "##############################",
		30 - filled, "", pct, rate);
	if (rate > 0 && done < total)
		fprintf(stderr, " ETA %4.0fs", (double)(total - done) / (rate * (1 << 20)));
	else
		fprintf(stderr, "          ");
	fflush(stderr);
}

static int file_sha256(FILE *f, char hex[SHA256_HEX_LEN + 1])
{
	struct sha256_ctx *s = sha256_new();
	static char buf[1 << 20];
	size_t n;

	if (!s)
		return -ENOMEM;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		sha256_update(s, buf, n);
	if (ferror(f)) {
		sha256_free(s);
		return -EIO;
	}
	sha256_final_hex(s, hex);
	sha256_free(s);
	rewind(f);
	return 0;
}

static int image_publish(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "exclude-from-latest", no_argument, NULL, 'x' },
		{ "no-checksum", no_argument, NULL, 'n' },
		{ "sha256", required_argument, NULL, 's' },
		{ "signature", required_argument, NULL, 'g' },
		{ "cmdline", required_argument, NULL, 'k' },
		{ 0 },
	};
	bool exclude = false, checksum = true;
	const char *given = NULL, *signature = NULL, *cmdline = NULL;
	_cleanup_free_ char *cmdline_esc = NULL;
	char sha[SHA256_HEX_LEN + 1] = "", path[1024], tmp[1024];
	struct stat st;
	struct httpc_reply rep;
	struct bar bar = { .last_pct = -1 };
	_cleanup_free_ char *fname = NULL;
	FILE *f;
	int opt, r;

	optind = 0; /* full re-initialisation: main's getopt ran in '+' mode */
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'x': exclude = true; break;
		case 'n': checksum = false; break;
		case 's': given = optarg; break;
		case 'g': signature = optarg; break;
		case 'k': cmdline = optarg; break;
		default: return EXIT_USAGE;
		}
	}
	if (argc - optind != 3) {
		usage_error("usage: bootwave image publish IMAGE VERSION FILE [--exclude-from-latest] "
			    "[--sha256 HEX | --no-checksum] [--signature HEX] [--cmdline KERNEL-ARGS]");
		return EXIT_USAGE;
	}
	if (signature && (strlen(signature) != 128 || strspn(signature, "0123456789abcdefABCDEF") != 128)) {
		usage_error("--signature: expected an Ed25519 signature as 128 hex digits");
		return EXIT_USAGE;
	}
	if (cmdline && !(cmdline_esc = httpc_escape(cmdline)))
		return EXIT_FAIL;
	const char *image = argv[optind], *version = argv[optind + 1], *file = argv[optind + 2];
	if (!(f = open_upload(file, "", &st)))
		return EXIT_USAGE;
	if (given) {
		snprintf(sha, sizeof(sha), "%s", given);
	} else if (checksum && (r = file_sha256(f, sha)) < 0) {
		fclose(f);
		usage_error("%s: cannot read: %s", file, strerror(-r));
		return EXIT_FAIL;
	}
	snprintf(tmp, sizeof(tmp), "%s", file);
	fname = httpc_escape(basename(tmp));
	if (escaped_path(path, sizeof(path), "/api/v1/images/", image, "/versions/", version) < 0) {
		fclose(f);
		return EXIT_FAIL;
	}
	snprintf(path + strlen(path), sizeof(path) - strlen(path), "?filename=%s%s%s%s%s%s%s%.600s", fname ? fname : "",
		 sha[0] ? "&sha256=" : "", sha, exclude ? "&exclude_from_latest=true" : "",
		 signature ? "&signature=" : "", signature ? signature : "", cmdline ? "&cmdline=" : "",
		 cmdline_esc ? cmdline_esc : "");
	bar.label = "upload";
	clock_gettime(CLOCK_MONOTONIC, &bar.t0);
	r = httpc_upload(c->http, path, f, (uint64_t)st.st_size,
			 !c->quiet && isatty(STDERR_FILENO) ? draw_bar : NULL, &bar, &rep);
	fclose(f);
	if (bar.last_pct >= 0)
		fputc('\n', stderr);
	if (rep.status < 200 || rep.status >= 300) {
		char what[300];
		snprintf(what, sizeof(what), "publish %s@%s", image, version);
		r = cli_fail(&rep, what);
		httpc_reply_clear(&rep);
		return r;
	}
	return print_reply(c, &rep);
}

static int image_version_cmd(struct cli *c, const char *verb, int argc, char **argv)
{
	char path[512];
	struct httpc_reply rep;
	json_t *body = NULL;
	const char *method = "GET";
	int r;

	if (argc != 3) {
		usage_error("usage: bootwave image %s IMAGE VERSION", verb);
		return EXIT_USAGE;
	}
	if (escaped_path(path, sizeof(path), "/api/v1/images/", argv[1], "/versions/", argv[2]) < 0)
		return EXIT_FAIL;
	if (str_eq(verb, "exclude") || str_eq(verb, "include")) {
		method = "PATCH";
		body = json_pack("{s:b}", "exclude_from_latest", str_eq(verb, "exclude"));
	} else if (str_eq(verb, "delete-version"))
		method = "DELETE";
	r = cli_call(c, method, path, body, &rep);
	json_decref(body);
	if (r != EXIT_OK)
		return r;
	if (str_eq(method, "DELETE")) {
		httpc_reply_clear(&rep);
		if (!c->quiet && c->out == OUT_TABLE)
			printf("deleted %s@%s\n", argv[1], argv[2]);
		return EXIT_OK;
	}
	return print_reply(c, &rep);
}

int cmd_image(struct cli *c, int argc, char **argv)
{
	const char *verb = argc > 0 && argv[0] ? argv[0] : "help";

	if (str_eq(verb, "publish"))
		return image_publish(c, argc, argv);
	if (str_eq(verb, "versions")) {
		char path[512];
		if (argc != 2) {
			usage_error("usage: bootwave image versions IMAGE");
			return EXIT_USAGE;
		}
		if (escaped_path(path, sizeof(path), "/api/v1/images/", argv[1], "/versions", "") < 0)
			return EXIT_FAIL;
		return list_pages(c, &model_image_version, path, "", 0);
	}
	if (str_eq(verb, "version") || str_eq(verb, "exclude") || str_eq(verb, "include") ||
	    str_eq(verb, "delete-version"))
		return image_version_cmd(c, verb, argc, argv);
	if (str_eq(verb, "help") || str_eq(verb, "--help")) {
		resource_usage(&model_image);
		printf("       bootwave image publish IMAGE VERSION FILE [--exclude-from-latest] [--sha256 HEX | "
		       "--no-checksum]\n"
		       "                    [--signature HEX] [--cmdline KERNEL-ARGS]\n"
		       "       bootwave image versions IMAGE\n"
		       "       bootwave image version IMAGE VERSION|latest\n"
		       "       bootwave image exclude|include IMAGE VERSION   (from latest)\n"
		       "       bootwave image delete-version IMAGE VERSION\n");
		return EXIT_OK;
	}
	return cmd_resource(c, &model_image, argc, argv);
}

/* ---- extensions (the catalog's versions; the generic verbs cover the rest) ---- */

/* extension publish|upload NAME VERSION FILE [--entry NAME] */
static int extension_publish(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "entry", required_argument, NULL, 'e' },
		{ 0 },
	};
	const char *entry = NULL;
	_cleanup_free_ char *entry_esc = NULL;
	char path[1024], what[300];
	struct stat st;
	struct httpc_reply rep;
	struct bar bar = { .last_pct = -1, .label = "upload" };
	FILE *f;
	int opt, r;

	optind = 0; /* full re-initialisation: main's getopt ran in '+' mode */
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'e': entry = optarg; break;
		default: return EXIT_USAGE;
		}
	}
	if (argc - optind != 3) {
		usage_error("usage: bootwave extension publish NAME VERSION FILE [--entry SCRIPT]");
		return EXIT_USAGE;
	}
	if (entry && !(entry_esc = httpc_escape(entry)))
		return EXIT_FAIL;
	const char *name = argv[optind], *version = argv[optind + 1], *file = argv[optind + 2];
	if (!(f = open_upload(file, "", &st)))
		return EXIT_USAGE;
	if (escaped_path(path, sizeof(path), "/api/v1/extensions/", name, "/versions/", version) < 0) {
		fclose(f);
		return EXIT_FAIL;
	}
	if (entry_esc)
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "?entry=%.200s", entry_esc);
	clock_gettime(CLOCK_MONOTONIC, &bar.t0);
	r = httpc_upload(c->http, path, f, (uint64_t)st.st_size,
			 !c->quiet && isatty(STDERR_FILENO) ? draw_bar : NULL, &bar, &rep);
	fclose(f);
	if (bar.last_pct >= 0)
		fputc('\n', stderr);
	if (rep.status < 200 || rep.status >= 300) {
		snprintf(what, sizeof(what), "publish %s@%s", name, version);
		r = cli_fail(&rep, what);
		httpc_reply_clear(&rep);
		return r;
	}
	return print_reply(c, &rep);
}

struct bundle_sink {
	struct sha256_ctx *sha;
	uint64_t bytes;
};

static int bundle_to_stdout(const void *buf, size_t len, void *userdata)
{
	struct bundle_sink *s = userdata;

	if (fwrite(buf, 1, len, stdout) != len)
		return -errno ? -errno : -EIO;
	sha256_update(s->sha, buf, len);
	s->bytes += len;
	return 0;
}

/* extension download NAME VERSION > FILE: the normalized tar, checked against the version's sha256. */
static int extension_download(struct cli *c, int argc, char **argv)
{
	char path[512], what[300], got[SHA256_HEX_LEN + 1], want[SHA256_HEX_LEN + 1];
	struct bundle_sink s = { 0 };
	struct httpc_reply rep;
	int r;

	if (argc != 3) {
		usage_error("usage: bootwave extension download NAME VERSION > FILE");
		return EXIT_USAGE;
	}
	if (isatty(STDOUT_FILENO)) {
		usage_error("extension download writes a tar to stdout: redirect it to a file");
		return EXIT_USAGE;
	}
	if (escaped_path(path, sizeof(path), "/api/v1/extensions/", argv[1], "/versions/", argv[2]) < 0)
		return EXIT_FAIL;
	if ((r = cli_call(c, "GET", path, NULL, &rep)) != EXIT_OK)
		return r;
	snprintf(want, sizeof(want), "%s", json_string_value(json_object_get(rep.json, "sha256")) ?: "");
	httpc_reply_clear(&rep);
	strncat(path, "/bundle", sizeof(path) - strlen(path) - 1);
	snprintf(what, sizeof(what), "download %s@%s", argv[1], argv[2]);
	if (!(s.sha = sha256_new()))
		return EXIT_FAIL;
	r = httpc_download(c->http, path, bundle_to_stdout, &s, &rep);
	if (r == 0 && (rep.status < 200 || rep.status >= 300)) {
		sha256_free(s.sha);
		r = cli_fail(&rep, what);
		httpc_reply_clear(&rep);
		return r;
	}
	sha256_final_hex(s.sha, got);
	sha256_free(s.sha);
	if (r < 0 || rep.err[0] || fflush(stdout) != 0) {
		fprintf(stderr, "bootwave: %s: %s\n", what, rep.err[0] ? rep.err : strerror(errno));
		httpc_reply_clear(&rep);
		return r == -EIO ? EXIT_UNREACHABLE : EXIT_FAIL;
	}
	httpc_reply_clear(&rep);
	if (!str_eq(got, want)) {
		fprintf(stderr, "bootwave: %s: the %llu bytes received have sha256 %s, not the version's %s\n", what,
			(unsigned long long)s.bytes, got, want);
		return EXIT_FAIL;
	}
	if (!c->quiet)
		fprintf(stderr, "%s@%s: %llu bytes, sha256 %s\n", argv[1], argv[2], (unsigned long long)s.bytes, got);
	return EXIT_OK;
}

int cmd_extension(struct cli *c, int argc, char **argv)
{
	const char *verb = argc > 0 && argv[0] ? argv[0] : "help";
	char path[512];
	struct httpc_reply rep;
	int r;

	if (str_eq(verb, "publish") || str_eq(verb, "upload"))
		return extension_publish(c, argc, argv);
	if (str_eq(verb, "download"))
		return extension_download(c, argc, argv);
	if (str_eq(verb, "versions")) {
		if (argc != 2) {
			usage_error("usage: bootwave extension versions NAME");
			return EXIT_USAGE;
		}
		if (escaped_path(path, sizeof(path), "/api/v1/extensions/", argv[1], "/versions", "") < 0)
			return EXIT_FAIL;
		return list_pages(c, &model_extension_version, path, "", 0);
	}
	if (str_eq(verb, "version") || str_eq(verb, "delete-version")) {
		bool del = str_eq(verb, "delete-version");
		if (argc != 3) {
			usage_error("usage: bootwave extension %s NAME VERSION", verb);
			return EXIT_USAGE;
		}
		if (escaped_path(path, sizeof(path), "/api/v1/extensions/", argv[1], "/versions/", argv[2]) < 0)
			return EXIT_FAIL;
		if ((r = cli_call(c, del ? "DELETE" : "GET", path, NULL, &rep)) != EXIT_OK)
			return r;
		if (!del)
			return print_reply(c, &rep);
		httpc_reply_clear(&rep);
		if (!c->quiet && c->out == OUT_TABLE)
			printf("deleted %s@%s\n", argv[1], argv[2]);
		return EXIT_OK;
	}
	if (str_eq(verb, "help") || str_eq(verb, "--help")) {
		resource_usage(&model_extension);
		printf("       bootwave extension publish NAME VERSION FILE [--entry SCRIPT]   (alias: upload;\n"
		       "                    FILE: tar, tar.gz, tar.bz2, tar.xz, tar.zst or zip; VERSION: MAJOR.MINOR[.PATCH])\n"
		       "       bootwave extension versions NAME\n"
		       "       bootwave extension version NAME VERSION\n"
		       "       bootwave extension delete-version NAME VERSION\n"
		       "       bootwave extension download NAME VERSION > FILE.tar   (the normalized bundle)\n");
		return EXIT_OK;
	}
	return cmd_resource(c, &model_extension, argc, argv);
}

int cmd_token(struct cli *c, int argc, char **argv)
{
	if (argc > 0 && str_eq(argv[0], "create")) {
		struct httpc_reply rep;
		json_t *body;
		int r;
		if (argc < 2 || strncmp(argv[1], "--", 2) == 0) {
			usage_error("usage: bootwave token create NAME --role viewer|operator|admin [--expires-at TIME]");
			return EXIT_USAGE;
		}
		body = fields_from_flags(&model_token, argc - 2, argv + 2, true);
		if (!body)
			return EXIT_USAGE;
		json_object_set_new(body, "name", json_string(argv[1]));
		r = cli_call(c, "POST", "/api/v1/tokens", body, &rep);
		json_decref(body);
		if (r != EXIT_OK)
			return r;
		if (c->out == OUT_JSON)
			out_json(rep.json);
		else {
			/* The secret alone on stdout, so that it can be piped into a file. */
			printf("%s\n", json_string_value(json_object_get(rep.json, "token")));
			if (!c->quiet)
				fprintf(stderr, "token %s (%s) created; it is shown only once\n", argv[1],
					json_string_value(json_object_get(rep.json, "role")));
		}
		httpc_reply_clear(&rep);
		return EXIT_OK;
	}
	return cmd_resource(c, &model_token, argc, argv);
}

int cmd_whoami(struct cli *c, int argc, char **argv)
{
	struct httpc_reply rep;
	int r;
	(void)argv;
	if (argc > 1) {
		usage_error("whoami takes no arguments");
		return EXIT_USAGE;
	}
	if ((r = cli_call(c, "GET", "/api/v1/whoami", NULL, &rep)) != EXIT_OK)
		return r;
	return print_reply(c, &rep);
}

int cmd_version(struct cli *c, int argc, char **argv)
{
	struct httpc_reply rep;
	(void)argc;
	(void)argv;
	printf("bootwave %s\n", BW_VERSION);
	if (cli_call(c, "GET", "/api/v1", NULL, &rep) == EXIT_OK) {
		printf("bootwaved %s at %s (store schema %lld)\n",
		       json_string_value(json_object_get(rep.json, "version")), c->url,
		       (long long)json_integer_value(json_object_get(rep.json, "schema")));
		httpc_reply_clear(&rep);
	}
	return EXIT_OK;
}

/* ---- rollouts ---- */

static void rollout_line(json_t *r)
{
	json_t *p = json_object_get(r, "progress"), *b = json_object_get(r, "rollback");
	const char *code = json_string_value(json_object_get(r, "error_code"));

	printf("%-6lld %-14s %-10s %-8s by %-8s batches %-3lld ok %lld failed %lld running %lld pending %lld skipped "
	       "%lld, rolled back %lld (failed %lld)%s%s\n",
	       (long long)json_integer_value(json_object_get(r, "id")),
	       json_string_value(json_object_get(r, "status")), json_string_value(json_object_get(r, "image")),
	       json_string_value(json_object_get(r, "version")), json_string_value(json_object_get(r, "started_by")),
	       (long long)json_integer_value(json_object_get(r, "batches")),
	       (long long)json_integer_value(json_object_get(p, "successful")),
	       (long long)json_integer_value(json_object_get(p, "failed")),
	       (long long)json_integer_value(json_object_get(p, "in_progress")),
	       (long long)json_integer_value(json_object_get(p, "pending")),
	       (long long)json_integer_value(json_object_get(p, "skipped")),
	       (long long)json_integer_value(json_object_get(b, "rolled_back")),
	       (long long)json_integer_value(json_object_get(b, "failed")), code && code[0] ? " " : "",
	       code ? code : "");
}

int cmd_rollout(struct cli *c, int argc, char **argv)
{
	const char *verb = argc > 0 && argv[0] ? argv[0] : "help";
	struct httpc_reply rep;
	char path[512], query[64] = "";
	json_t *body = NULL;
	int r;

	if (str_eq(verb, "help") || str_eq(verb, "--help") || argc < 2) {
		printf("usage: bootwave rollout start POOL [--version VERSION]   (default: the pool's image version)\n"
		       "       bootwave rollout start POOL --extension NAME [--version VERSION]\n"
		       "                                       (one extension; default: its newest version)\n"
		       "       bootwave rollout cancel POOL    (the current batch finishes, no new one starts)\n"
		       "       bootwave rollout status POOL    (the running rollout, else the last, with its nodes)\n"
		       "       bootwave rollout history POOL [--limit N] [--days D]   (default: 5, 60; 0: all)\n"
		       "       bootwave rollout watch POOL [--wait] [--interval S]\n"
		       "                                       (live, by zone and rack, until it ends; --wait: the next one)\n");
		return str_eq(verb, "help") || str_eq(verb, "--help") ? EXIT_OK : EXIT_USAGE;
	}
	if (str_eq(verb, "watch"))
		return rollout_watch(c, argc, argv);
	if (str_eq(verb, "start")) {
		body = json_object();
		for (int i = 2; i < argc; i++) {
			if ((str_eq(argv[i], "--version") || str_eq(argv[i], "--extension")) && i + 1 < argc) {
				json_object_set_new(body, argv[i] + 2, json_string(argv[i + 1]));
				i++;
			} else {
				json_decref(body);
				usage_error("usage: bootwave rollout start POOL [--extension NAME] [--version VERSION]");
				return EXIT_USAGE;
			}
		}
		if (json_object_size(body) == 0) {
			json_decref(body);
			body = NULL;
		}
	} else if (str_eq(verb, "history")) {
		for (int i = 2; i < argc; i++) {
			size_t n = strlen(query);
			if ((str_eq(argv[i], "--limit") || str_eq(argv[i], "--days")) && i + 1 < argc &&
			    strspn(argv[i + 1], "0123456789") == strlen(argv[i + 1]) && argv[i + 1][0] &&
			    strlen(argv[i + 1]) < 7) {
				snprintf(query + n, sizeof(query) - n, "%s%s=%s", n ? "&" : "?", argv[i] + 2, argv[i + 1]);
				i++;
			} else {
				usage_error("usage: bootwave rollout history POOL [--limit N] [--days D]: unexpected \"%s\"",
					    argv[i]);
				return EXIT_USAGE;
			}
		}
	} else if ((str_eq(verb, "cancel") || str_eq(verb, "status")) && argc != 2) {
		usage_error("usage: bootwave rollout %s POOL", verb);
		return EXIT_USAGE;
	} else if (!str_eq(verb, "cancel") && !str_eq(verb, "status")) {
		usage_error("unknown verb \"%s\" for rollout (see: bootwave rollout help)", verb);
		return EXIT_USAGE;
	}
	if (escaped_path(path, sizeof(path), "/api/v1/pools/", argv[1], "", NULL) < 0) {
		json_decref(body);
		return EXIT_FAIL;
	}
	strncat(path,
		str_eq(verb, "history") ? "/rollouts" : str_eq(verb, "cancel") ? "/rollout/cancel" : "/rollout",
		sizeof(path) - strlen(path) - 1);
	strncat(path, query, sizeof(path) - strlen(path) - 1);
	r = cli_call(c, str_eq(verb, "history") || str_eq(verb, "status") ? "GET" : "POST", path, body, &rep);
	json_decref(body);
	if (r != EXIT_OK)
		return r;
	if (c->out == OUT_JSON || c->quiet) {
		if (c->out == OUT_JSON)
			out_json(rep.json);
	} else if (json_is_array(rep.json)) {
		size_t i;
		json_t *x;
		json_array_foreach(rep.json, i, x) rollout_line(x);
	} else {
		json_t *nodes = json_object_get(rep.json, "nodes"), *x;
		json_t *eta = json_object_get(rep.json, "eta");
		const char *msg = json_string_value(json_object_get(rep.json, "message"));
		size_t i;
		rollout_line(rep.json);
		if (msg && msg[0])
			printf("  %s\n", msg);
		if (json_is_integer(eta)) {
			time_t t = (time_t)json_integer_value(eta);
			char buf[32];
			strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
			printf("  ETA %s\n", buf);
		}
		json_array_foreach(nodes, i, x)
		{
			const char *why = json_string_value(json_object_get(x, "reason"));
			printf("  %-24s batch %-3lld %-19s%s%s\n", json_string_value(json_object_get(x, "node")),
			       (long long)json_integer_value(json_object_get(x, "batch")),
			       json_string_value(json_object_get(x, "phase")), why && why[0] ? " " : "", why ? why : "");
		}
	}
	httpc_reply_clear(&rep);
	return EXIT_OK;
}
