/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hw: out-of-band control of one machine through its BMC. One interface
 * (struct hw_ops) over two drivers: IPMI 2.0 over LAN (lanplus, with
 * libfreeipmi; hw/ipmi.c) and Redfish (libcurl + jansson; hw/redfish.c).
 *
 * A struct hw_session is one logged-in session with one BMC. It is not
 * thread-safe, and a BMC must never see two commands at once: callers go
 * through bmc.h (one command in flight per BMC, sessions reused, a global
 * cap on open sessions, retries with backoff, a polling budget) rather than
 * calling a driver directly; tests and tools may call drivers directly.
 *
 * Every call returns 0 or a negative errno, and on failure fills the
 * struct hw_err it is given with the step that failed (for the operator:
 * "login", "power status", "set boot device"...) and a message that names
 * what the BMC did. The errno says what kind of failure it was:
 *   -EACCES        wrong credentials or privilege (retrying will not help)
 *   -EHOSTUNREACH  no answer at all (unreachable, or nothing listens)
 *   -ETIMEDOUT     the BMC stopped answering in the middle of a session
 *   -EPROTO        an answer that is not what the protocol says (garbage,
 *                  a Redfish resource without a property it must have)
 *   -ENOTCONN      the session is gone (expired, logged out by the BMC):
 *                  close it and open a new one
 *   -ENOTSUP       the BMC does not do this
 *   -EINVAL        a bad argument (caller's bug or bad node configuration)
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum hw_power { HW_POWER_UNKNOWN = 0, HW_POWER_OFF, HW_POWER_ON };

enum hw_power_action {
	HW_ACT_ON,       /* power on (no-op when on) */
	HW_ACT_OFF,      /* hard power off */
	HW_ACT_SOFT_OFF, /* ACPI shutdown request */
	HW_ACT_CYCLE,    /* off, then on (power on when off) */
	HW_ACT_RESET,    /* hard reset, power stays on */
};

enum hw_bootdev { HW_BOOT_NONE = 0, HW_BOOT_PXE, HW_BOOT_DISK };

/* A boot device override. */
struct hw_boot {
	enum hw_bootdev dev; /* NONE: no override in force */
	bool persistent;     /* false: next boot only */
	bool uefi;           /* false: legacy BIOS boot */
};

enum hw_rollup { HW_HEALTH_UNKNOWN = 0, HW_HEALTH_OK, HW_HEALTH_WARNING, HW_HEALTH_CRITICAL };

/* What the BMC says about the machine's health. */
struct hw_health {
	enum hw_power power;
	enum hw_rollup rollup;   /* the worst of what follows (Redfish: Status.HealthRollup) */
	char chassis[128];       /* chassis faults ("power fault, cooling fault"), "" when none */
	uint64_t sel_marker;     /* give it to the next call: only later entries count as new */
	unsigned sel_new;        /* event log entries after the marker given */
	unsigned sel_critical;   /* of which critical */
	char sel_last[160];      /* the last new critical entry, described; "" when none */
	unsigned sensors_crossed; /* sensors past a critical threshold */
	char sensors[256];       /* their names, comma-separated (truncated) */
};

/* Where a BMC is and how to log in. Strings are NUL-terminated. */
struct hw_target {
	char driver[16];     /* "ipmi" or "redfish" */
	char host[256];      /* address or name, no port */
	uint16_t port;       /* 0: the protocol's (623, or 443 / 80) */
	char user[64];
	char password[128];
	int cipher_suite;    /* ipmi: 3 or 17 (0: 17) */
	bool http;           /* redfish: plain HTTP (test BMCs only) */
	bool insecure;       /* redfish: skip TLS verification (explicit per-node opt-out) */
	char ca_file[256];   /* redfish: CA bundle to verify with ("" : the system's) */
	unsigned timeout_ms; /* one exchange (0: 5000) */
};

struct hw_err {
	char step[48]; /* what was being done: "login", "power on", ... */
	char msg[256]; /* what went wrong, naming what the BMC answered */
};

struct hw_session;

struct hw_ops {
	const char *name;
	/* Logs in. On success *ret is a session the caller owns (close() it). */
	int (*open)(const struct hw_target *t, struct hw_session **ret, struct hw_err *e);
	int (*power_status)(struct hw_session *s, enum hw_power *ret, struct hw_err *e);
	int (*power)(struct hw_session *s, enum hw_power_action act, struct hw_err *e);
	int (*set_boot)(struct hw_session *s, const struct hw_boot *b, struct hw_err *e);
	int (*get_boot)(struct hw_session *s, struct hw_boot *ret, struct hw_err *e);
	/* Fills *ret; sel_marker: what the previous call returned, 0 the first time. */
	int (*health)(struct hw_session *s, uint64_t sel_marker, struct hw_health *ret, struct hw_err *e);
	/* Logs out (best effort, bounded by the timeout) and frees; NULL is fine. */
	void (*close)(struct hw_session *s);
};

extern const struct hw_ops hw_ipmi_ops, hw_redfish_ops;

/* The driver of that name, or NULL. */
const struct hw_ops *hw_driver(const char *name);

const char *hw_power_name(enum hw_power p);           /* "on", "off", "unknown" */
const char *hw_action_name(enum hw_power_action a);   /* "on", "off", "soft-off", "cycle", "reset" */
const char *hw_bootdev_name(enum hw_bootdev d);       /* "pxe", "disk", "none" */
const char *hw_rollup_name(enum hw_rollup r);         /* "OK", "Warning", "Critical", "Unknown" */
int hw_action_parse(const char *s, enum hw_power_action *ret);
int hw_bootdev_parse(const char *s, enum hw_bootdev *ret);

/* Sets e->step and a printf message; returns r (a negative errno). */
int hw_fail(struct hw_err *e, int r, const char *step, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
