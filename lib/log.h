/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging for bootwaved, the CLI and the agent. One line per event on stderr:
 *   2026-11-22T10:00:00.123Z info  node=web-1 rollout=3 batch started
 * The context (node, rollout, request) goes first so that an operator can
 * grep a node's or a rollout's whole story. Library code logs at debug only;
 * the caller that knows the node or rollout logs once.
 */
#ifndef BW_LOG_H
#define BW_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

enum log_level { LOG_DEBUG_, LOG_INFO_, LOG_WARN_, LOG_ERR_ };

struct log_ctx {
	const char *node;    /* node name, or NULL */
	int64_t rollout;     /* rollout id, or 0 */
	const char *request; /* "METHOD /path" of an API request, or NULL */
};

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* "debug", "info", "warn", "error" -> level. -EINVAL if unknown. */
int log_level_parse(const char *s, enum log_level *ret);
const char *log_level_name(enum log_level level);

void log_msg(enum log_level level, const struct log_ctx *ctx, const char *fmt, ...) _printf_(3, 4);

/*
 * Escape untrusted bytes for a log line: printable ASCII is kept, anything
 * else becomes \xNN, and the result is cut to fit out[size] (always NUL
 * terminated). Returns out.
 */
char *log_escape(const void *in, size_t len, char *out, size_t size);

#define log_debug(...) log_msg(LOG_DEBUG_, NULL, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO_, NULL, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN_, NULL, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERR_, NULL, __VA_ARGS__)

#define log_node(level, node_, ...) log_msg(level, &(struct log_ctx){ .node = (node_) }, __VA_ARGS__)
#define log_rollout(level, id_, ...) log_msg(level, &(struct log_ctx){ .rollout = (id_) }, __VA_ARGS__)

#endif
