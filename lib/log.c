// SPDX-License-Identifier: Apache-2.0
/* Logging: see log.h. Thread safe: one line is written with one call. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static enum log_level min_level = LOG_INFO_;

static const char *const level_names[] = {
	[LOG_DEBUG_] = "debug",
	[LOG_INFO_] = "info",
	[LOG_WARN_] = "warn",
	[LOG_ERR_] = "error",
};

void log_set_level(enum log_level level) { min_level = level; }
enum log_level log_get_level(void) { return min_level; }

const char *log_level_name(enum log_level level)
{
	return (unsigned)level < ARRAY_SIZE(level_names) ? level_names[level] : "?";
}

int log_level_parse(const char *s, enum log_level *ret)
{
	for (size_t i = 0; i < ARRAY_SIZE(level_names); i++)
		if (str_eq(s, level_names[i])) {
			*ret = (enum log_level)i;
			return 0;
		}
	return -EINVAL;
}

char *log_escape(const void *in, size_t len, char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = in;
	size_t o = 0;

	if (size == 0)
		return out;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = p[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 >= size)
				break;
			out[o++] = (char)c;
		} else {
			if (o + 4 >= size)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}

void log_msg(enum log_level level, const struct log_ctx *ctx, const char *fmt, ...)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	int n, m;
	va_list ap;

	if (level < min_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		     tm.tm_sec, ts.tv_nsec / 1000000, log_level_name(level));
	if (ctx && ctx->node && n < (int)sizeof(line))
		n += snprintf(line + n, sizeof(line) - (size_t)n, "node=%s ", ctx->node);
	if (ctx && ctx->rollout && n < (int)sizeof(line))
		n += snprintf(line + n, sizeof(line) - (size_t)n, "rollout=%lld ",
			      (long long)ctx->rollout);
	if (ctx && ctx->request && n < (int)sizeof(line))
		n += snprintf(line + n, sizeof(line) - (size_t)n, "req=\"%s\" ", ctx->request);
	if (n >= (int)sizeof(line))
		n = (int)sizeof(line) - 1;
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	fwrite(line, 1, (size_t)n, stderr);
}
