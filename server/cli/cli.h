/* SPDX-License-Identifier: Apache-2.0 */
/* The bootwave CLI: shared state, exit codes and helpers. */
#ifndef BW_CLI_H
#define BW_CLI_H

#include <jansson.h>
#include <stdbool.h>

#include "httpc.h"
#include "model.h"
#include "util.h"

/* Exit codes (documented in docs/cli.md). */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,        /* anything else */
	EXIT_USAGE = 2,       /* bad command line */
	EXIT_NOT_FOUND = 3,   /* 404 */
	EXIT_AUTH = 4,        /* 401, 403 */
	EXIT_CONFLICT = 5,    /* 409 */
	EXIT_INVALID = 6,     /* 400, 413, 422: the server refused the input */
	EXIT_SERVER = 7,      /* 5xx */
	EXIT_UNREACHABLE = 8, /* no answer from the server */
};

enum output { OUT_TABLE, OUT_JSON };

struct cli {
	struct httpc *http;
	enum output out;
	bool quiet;
	const char *url;
};

/*
 * Sends a request and checks the reply: on 2xx returns EXIT_OK and leaves
 * the reply in *reply (caller clears it); otherwise prints the server's
 * error and returns the matching exit code.
 */
int cli_call(struct cli *c, const char *method, const char *path, json_t *body, struct httpc_reply *reply);
/* Maps an HTTP status to an exit code and prints the reply's error. */
int cli_fail(const struct httpc_reply *reply, const char *what);

/* Output (output.c). */
void out_table(const struct model *m, json_t *items);
void out_object(json_t *obj);
void out_json(json_t *v);

/* Commands (commands.c). argv[0] is the verb. */
int cmd_resource(struct cli *c, const struct model *m, int argc, char **argv);
int cmd_image(struct cli *c, int argc, char **argv);
int cmd_extension(struct cli *c, int argc, char **argv);
int cmd_token(struct cli *c, int argc, char **argv);
int cmd_rollout(struct cli *c, int argc, char **argv);
/* bootwave rollout watch POOL [--wait] [--interval S] (watch.c); argv[1] is the pool. */
int rollout_watch(struct cli *c, int argc, char **argv);
int cmd_whoami(struct cli *c, int argc, char **argv);
int cmd_version(struct cli *c, int argc, char **argv);

void usage_error(const char *fmt, ...) _printf_(1, 2);

#endif
