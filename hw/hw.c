// SPDX-License-Identifier: Apache-2.0
/*
 * hw: the driver table and the names shared by both drivers (hw.h).
 */
#include "hw.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const struct hw_ops *hw_driver(const char *name)
{
	if (name && strcmp(name, "ipmi") == 0)
		return &hw_ipmi_ops;
	if (name && strcmp(name, "redfish") == 0)
		return &hw_redfish_ops;
	return NULL;
}

static const char *const power_names[] = { "unknown", "off", "on" };
static const char *const action_names[] = { "on", "off", "soft-off", "cycle", "reset" };
static const char *const bootdev_names[] = { "none", "pxe", "disk" };
static const char *const rollup_names[] = { "Unknown", "OK", "Warning", "Critical" };

const char *hw_power_name(enum hw_power p)
{
	return (unsigned)p < 3 ? power_names[p] : "unknown";
}

const char *hw_action_name(enum hw_power_action a)
{
	return (unsigned)a < 5 ? action_names[a] : "?";
}

const char *hw_bootdev_name(enum hw_bootdev d)
{
	return (unsigned)d < 3 ? bootdev_names[d] : "?";
}

const char *hw_rollup_name(enum hw_rollup r)
{
	return (unsigned)r < 4 ? rollup_names[r] : "Unknown";
}

int hw_action_parse(const char *s, enum hw_power_action *ret)
{
	for (unsigned i = 0; s && i < 5; i++)
		if (strcmp(s, action_names[i]) == 0) {
			*ret = (enum hw_power_action)i;
			return 0;
		}
	return -EINVAL;
}

int hw_bootdev_parse(const char *s, enum hw_bootdev *ret)
{
	for (unsigned i = 1; s && i < 3; i++)
		if (strcmp(s, bootdev_names[i]) == 0) {
			*ret = (enum hw_bootdev)i;
			return 0;
		}
	return -EINVAL;
}

int hw_fail(struct hw_err *e, int r, const char *step, const char *fmt, ...)
{
	va_list ap;

	if (e) {
		snprintf(e->step, sizeof(e->step), "%s", step);
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
	}
	return r < 0 ? r : -EIO;
}
