// SPDX-License-Identifier: Apache-2.0
/*
 * hw/ipmi: the IPMI 2.0 over LAN (RMCP+, "lanplus") driver of hw.h, on
 * libfreeipmi. One struct hw_session is one RMCP+ session at ADMIN
 * privilege with the cipher suite the node names (3: HMAC-SHA1 + AES-128,
 * 17: HMAC-SHA256 + AES-128). The Open Session request names the privilege
 * it wants (freeipmi's "opensesspriv" workaround, what ipmitool does and
 * what MAAS settled on): many BMCs, ipmi_sim among them, refuse the
 * "highest available" request libfreeipmi sends by default.
 *
 * Health is the chassis status (power, faults) and the SEL: the marker is
 * (most recent addition timestamp << 16 | highest record id seen), so an
 * unchanged SEL costs one Get SEL Info, and entries are classified by
 * libfreeipmi's interpret library (its default SEL configuration).
 * Sensor thresholds are not read yet (sensors_crossed stays 0).
 */
#include "hw.h"

#include <errno.h>
#include <freeipmi/freeipmi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hw_session {
	ipmi_ctx_t ctx;
	char host[270]; /* host:port, for messages */
	unsigned timeout_ms;
};

/* The errno kind of the context's last failure (hw.h). */
static int ipmi_errno(ipmi_ctx_t ctx)
{
	switch (ipmi_ctx_errnum(ctx)) {
	case IPMI_ERR_USERNAME_INVALID:
	case IPMI_ERR_PASSWORD_INVALID:
	case IPMI_ERR_K_G_INVALID:
	case IPMI_ERR_PRIVILEGE_LEVEL_INSUFFICIENT:
	case IPMI_ERR_PRIVILEGE_LEVEL_CANNOT_BE_OBTAINED:
	case IPMI_ERR_PERMISSION:
		return -EACCES;
	case IPMI_ERR_CONNECTION_TIMEOUT:
	case IPMI_ERR_HOSTNAME_INVALID:
		return -EHOSTUNREACH;
	case IPMI_ERR_SESSION_TIMEOUT:
	case IPMI_ERR_MESSAGE_TIMEOUT:
	case IPMI_ERR_DRIVER_TIMEOUT:
		return -ETIMEDOUT;
	case IPMI_ERR_CIPHER_SUITE_ID_UNAVAILABLE:
	case IPMI_ERR_IPMI_2_0_UNAVAILABLE:
	case IPMI_ERR_AUTHENTICATION_TYPE_UNAVAILABLE:
	case IPMI_ERR_COMMAND_INVALID_OR_UNSUPPORTED:
		return -ENOTSUP;
	case IPMI_ERR_DEVICE_NOT_OPEN:
		return -ENOTCONN;
	default:
		return -EPROTO;
	}
}

static int fail_ctx(struct hw_session *s, struct hw_err *e, const char *step)
{
	int r = ipmi_errno(s->ctx);
	return hw_fail(e, r, step, "BMC %s: %s", s->host, ipmi_ctx_errormsg(s->ctx));
}

static int open_session(const struct hw_target *t, struct hw_session **ret, struct hw_err *e)
{
	struct hw_session *s;
	int suite = t->cipher_suite ? t->cipher_suite : 3;
	unsigned timeout = t->timeout_ms ? t->timeout_ms : 5000;
	int r;

	if (suite != 3 && suite != 17)
		return hw_fail(e, -EINVAL, "login", "cipher suite %d: bootwave uses 3 or 17", suite);
	if (!t->host[0] || !t->user[0])
		return hw_fail(e, -EINVAL, "login", "the BMC needs a host and a user");
	if (!(s = calloc(1, sizeof(*s))))
		return hw_fail(e, -ENOMEM, "login", "out of memory");
	snprintf(s->host, sizeof(s->host), "%s:%u", t->host, t->port ? t->port : 623);
	s->timeout_ms = timeout;
	if (!(s->ctx = ipmi_ctx_create())) {
		free(s);
		return hw_fail(e, -ENOMEM, "login", "out of memory");
	}
	/* session_timeout: the whole exchange, retransmissions every fifth of it. */
	if (ipmi_ctx_open_outofband_2_0(s->ctx, s->host, t->user, t->password, NULL, 0, IPMI_PRIVILEGE_LEVEL_ADMIN,
					(uint8_t)suite, timeout, timeout / 5 ? timeout / 5 : 1,
					IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_OPEN_SESSION_PRIVILEGE, IPMI_FLAGS_DEFAULT) < 0) {
		r = ipmi_errno(s->ctx);
		/* A BMC without the cipher suite answers the RMCP+ Open Session
		 * with an error status, which libfreeipmi reports as internal. */
		if (ipmi_ctx_errnum(s->ctx) == IPMI_ERR_INTERNAL_ERROR || ipmi_ctx_errnum(s->ctx) == IPMI_ERR_IPMI_ERROR)
			r = -ENOTSUP;
		if (r == -EACCES)
			hw_fail(e, r, "login", "BMC %s refused the credentials of user %s (%s)", s->host, t->user,
				ipmi_ctx_errormsg(s->ctx));
		else if (r == -EHOSTUNREACH)
			hw_fail(e, r, "login", "BMC %s: no answer within %u ms (%s)", s->host, timeout,
				ipmi_ctx_errormsg(s->ctx));
		else if (r == -ENOTSUP)
			hw_fail(e, r, "login", "BMC %s did not open a session with cipher suite %d (%s)", s->host, suite,
				ipmi_ctx_errormsg(s->ctx));
		else
			fail_ctx(s, e, "login");
		ipmi_ctx_destroy(s->ctx);
		free(s);
		return r;
	}
	*ret = s;
	return 0;
}

static void close_session(struct hw_session *s)
{
	if (!s)
		return;
	ipmi_ctx_close(s->ctx); /* Close Session, bounded by the session timeout */
	ipmi_ctx_destroy(s->ctx);
	free(s);
}

/* Reads one field of a response; a field the BMC left out is a protocol error. */
static int field(struct hw_session *s, fiid_obj_t o, const char *name, uint64_t *v, struct hw_err *e,
		 const char *step)
{
	if (FIID_OBJ_GET(o, name, v) < 0)
		return hw_fail(e, -EPROTO, step, "BMC %s: the answer has no %s", s->host, name);
	return 0;
}

static int chassis_status(struct hw_session *s, fiid_obj_t o, struct hw_err *e, const char *step)
{
	if (ipmi_cmd_get_chassis_status(s->ctx, o) < 0)
		return fail_ctx(s, e, step);
	return 0;
}

static int power_status(struct hw_session *s, enum hw_power *ret, struct hw_err *e)
{
	fiid_obj_t o = fiid_obj_create(tmpl_cmd_get_chassis_status_rs);
	uint64_t on = 0;
	int r;

	if (!o)
		return hw_fail(e, -ENOMEM, "power status", "out of memory");
	r = chassis_status(s, o, e, "power status");
	if (r == 0)
		r = field(s, o, "current_power_state.power_is_on", &on, e, "power status");
	fiid_obj_destroy(o);
	if (r == 0)
		*ret = on ? HW_POWER_ON : HW_POWER_OFF;
	return r;
}

static int power(struct hw_session *s, enum hw_power_action act, struct hw_err *e)
{
	static const uint8_t control[] = {
		[HW_ACT_ON] = IPMI_CHASSIS_CONTROL_POWER_UP,
		[HW_ACT_OFF] = IPMI_CHASSIS_CONTROL_POWER_DOWN,
		[HW_ACT_SOFT_OFF] = IPMI_CHASSIS_CONTROL_INITIATE_SOFT_SHUTDOWN,
		[HW_ACT_CYCLE] = IPMI_CHASSIS_CONTROL_POWER_CYCLE,
		[HW_ACT_RESET] = IPMI_CHASSIS_CONTROL_HARD_RESET,
	};
	char step[32];
	fiid_obj_t o;
	int r = 0;

	if ((unsigned)act > HW_ACT_RESET)
		return hw_fail(e, -EINVAL, "power", "unknown power action %d", (int)act);
	snprintf(step, sizeof(step), "power %s", hw_action_name(act));
	if (act == HW_ACT_CYCLE) {
		/* A power cycle of a machine that is off is refused by many BMCs
		 * (the spec leaves it open): power it on instead. */
		enum hw_power p;
		if ((r = power_status(s, &p, e)) < 0)
			return r;
		if (p == HW_POWER_OFF)
			act = HW_ACT_ON;
	}
	if (!(o = fiid_obj_create(tmpl_cmd_chassis_control_rs)))
		return hw_fail(e, -ENOMEM, step, "out of memory");
	if (ipmi_cmd_chassis_control(s->ctx, control[act], o) < 0)
		r = fail_ctx(s, e, step);
	fiid_obj_destroy(o);
	return r;
}

static int set_boot(struct hw_session *s, const struct hw_boot *b, struct hw_err *e)
{
	uint8_t dev = b->dev == HW_BOOT_PXE	 ? IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_BOOT_DEVICE_FORCE_PXE
		      : b->dev == HW_BOOT_DISK ? IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_BOOT_DEVICE_FORCE_HARD_DRIVE
					       : IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_BOOT_DEVICE_NO_OVERRIDE;
	fiid_obj_t o = fiid_obj_create(tmpl_cmd_set_system_boot_options_rs);
	int r = 0;

	if (!o)
		return hw_fail(e, -ENOMEM, "set boot device", "out of memory");
	if (ipmi_cmd_set_system_boot_options_boot_flags(
		    s->ctx, IPMI_SYSTEM_BOOT_OPTIONS_PARAMETER_VALID_UNLOCKED,
		    b->uefi ? IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_BOOT_TYPE_EFI
			    : IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_BOOT_TYPE_PC_COMPATIBLE,
		    b->persistent ? IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_VALID_PERSISTENTLY
				  : IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_VALID_FOR_NEXT_BOOT,
		    b->dev == HW_BOOT_NONE ? IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_INVALID : IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_VALID,
		    0, 0, dev, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, o) < 0)
		r = fail_ctx(s, e, "set boot device");
	fiid_obj_destroy(o);
	return r;
}

static int get_boot(struct hw_session *s, struct hw_boot *ret, struct hw_err *e)
{
	fiid_obj_t o = fiid_obj_create(tmpl_cmd_get_system_boot_options_boot_flags_rs);
	uint64_t valid = 0, persistent = 0, type = 0, dev = 0;
	int r = 0;

	if (!o)
		return hw_fail(e, -ENOMEM, "get boot device", "out of memory");
	if (ipmi_cmd_get_system_boot_options_boot_flags(s->ctx, IPMI_SYSTEM_BOOT_OPTIONS_NO_SET_SELECTOR,
							IPMI_SYSTEM_BOOT_OPTIONS_NO_BLOCK_SELECTOR, o) < 0)
		r = fail_ctx(s, e, "get boot device");
	if (r == 0 && (r = field(s, o, "boot_flags_valid", &valid, e, "get boot device")) == 0 &&
	    (r = field(s, o, "boot_flags_persistent", &persistent, e, "get boot device")) == 0 &&
	    (r = field(s, o, "bios_boot_type", &type, e, "get boot device")) == 0)
		r = field(s, o, "boot_device", &dev, e, "get boot device");
	fiid_obj_destroy(o);
	if (r < 0)
		return r;
	memset(ret, 0, sizeof(*ret));
	ret->dev = !valid ? HW_BOOT_NONE
		   : dev == IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_BOOT_DEVICE_FORCE_PXE ? HW_BOOT_PXE
		   : dev == IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_BOOT_DEVICE_FORCE_HARD_DRIVE ? HW_BOOT_DISK
									       : HW_BOOT_NONE;
	ret->persistent = persistent != 0;
	ret->uefi = type == IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_BOOT_TYPE_EFI;
	return 0;
}

/* ---- health ---- */

static void add_item(char *list, size_t size, const char *item)
{
	size_t n = strlen(list);
	if (n + 2 + strlen(item) < size)
		snprintf(list + n, size - n, "%s%s", n ? ", " : "", item);
}

struct sel_scan {
	struct hw_session *s;
	ipmi_interpret_ctx_t interp;
	unsigned last_id; /* of the marker */
	unsigned max_id;
	bool erased;      /* the SEL was cleared since the marker */
	struct hw_health *h;
};

static int on_sel_entry(ipmi_sel_ctx_t sel, void *data)
{
	struct sel_scan *sc = data;
	uint8_t rec[IPMI_SEL_RECORD_MAX_RECORD_LENGTH];
	uint16_t id;
	unsigned state = IPMI_INTERPRET_STATE_UNKNOWN;
	int len;

	if (ipmi_sel_parse_read_record_id(sel, NULL, 0, &id) < 0)
		return 0;
	if (id > sc->max_id)
		sc->max_id = id;
	if (!sc->erased && id <= sc->last_id)
		return 0;
	sc->h->sel_new++;
	if ((len = ipmi_sel_parse_read_record(sel, rec, sizeof(rec))) <= 0)
		return 0;
	if (sc->interp && ipmi_interpret_sel(sc->interp, rec, (unsigned)len, &state) == 0 &&
	    state == IPMI_INTERPRET_STATE_CRITICAL) {
		char text[sizeof(sc->h->sel_last)] = "";
		sc->h->sel_critical++;
		if (ipmi_sel_parse_read_record_string(sel, "#%i %d %t: %T %s %e", rec, (unsigned)len, text,
						      sizeof(text), IPMI_SEL_STRING_FLAGS_DEFAULT) >= 0)
			snprintf(sc->h->sel_last, sizeof(sc->h->sel_last), "%s", text);
		else
			snprintf(sc->h->sel_last, sizeof(sc->h->sel_last), "record %u", id);
	}
	return 0;
}

static int health(struct hw_session *s, uint64_t marker, struct hw_health *ret, struct hw_err *e)
{
	struct hw_health h = { 0 };
	fiid_obj_t o = fiid_obj_create(tmpl_cmd_get_chassis_status_rs);
	uint64_t v = 0, added = 0;
	int r;
	static const struct {
		const char *field, *what;
	} faults[] = {
		{ "current_power_state.power_fault", "power fault" },
		{ "current_power_state.power_overload", "power overload" },
		{ "current_power_state.power_control_fault", "power control fault" },
		{ "current_power_state.interlock", "power interlock" },
		{ "misc_chassis_state.drive_fault", "drive fault" },
		{ "misc_chassis_state.cooling_fan_fault_detected", "cooling fault" },
	};

	if (!o)
		return hw_fail(e, -ENOMEM, "health", "out of memory");
	if ((r = chassis_status(s, o, e, "health")) == 0 &&
	    (r = field(s, o, "current_power_state.power_is_on", &v, e, "health")) == 0) {
		h.power = v ? HW_POWER_ON : HW_POWER_OFF;
		for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
			if (FIID_OBJ_GET(o, faults[i].field, &v) >= 0 && v)
				add_item(h.chassis, sizeof(h.chassis), faults[i].what);
	}
	fiid_obj_destroy(o);
	if (r < 0)
		return r;

	/* The SEL: one Get SEL Info when nothing was added since the marker. */
	if (!(o = fiid_obj_create(tmpl_cmd_get_sel_info_rs)))
		return hw_fail(e, -ENOMEM, "health", "out of memory");
	if (ipmi_cmd_get_sel_info(s->ctx, o) < 0)
		r = fail_ctx(s, e, "read the event log (SEL info)");
	else
		r = field(s, o, "most_recent_addition_timestamp", &added, e, "read the event log (SEL info)");
	if (r == 0 && FIID_OBJ_GET(o, "entries", &v) >= 0 && v > 0 && added != marker >> 16) {
		struct sel_scan sc = { .s = s, .last_id = (unsigned)(marker & 0xffff), .h = &h };
		ipmi_sel_ctx_t sel = ipmi_sel_ctx_create(s->ctx, NULL);
		uint64_t erased = 0;

		if (FIID_OBJ_GET(o, "most_recent_erase_timestamp", &erased) >= 0 && marker &&
		    erased > marker >> 16)
			sc.erased = true;
		if ((sc.interp = ipmi_interpret_ctx_create()) && ipmi_interpret_load_sel_config(sc.interp, NULL) < 0) {
			ipmi_interpret_ctx_destroy(sc.interp);
			sc.interp = NULL;
		}
		if (!sel)
			r = hw_fail(e, -ENOMEM, "read the event log", "out of memory");
		else if (ipmi_sel_parse(sel, IPMI_SEL_RECORD_ID_FIRST, IPMI_SEL_RECORD_ID_LAST, on_sel_entry, &sc) < 0)
			r = hw_fail(e, -EPROTO, "read the event log", "BMC %s: %s", s->host,
				    ipmi_sel_ctx_errormsg(sel));
		if (sc.max_id < sc.last_id && !sc.erased && r == 0) {
			/* Fewer records than the marker: cleared meanwhile; count all. */
			h.sel_new = h.sel_critical = 0;
			h.sel_last[0] = '\0';
			sc.erased = true;
			sc.max_id = 0;
			ipmi_sel_parse(sel, IPMI_SEL_RECORD_ID_FIRST, IPMI_SEL_RECORD_ID_LAST, on_sel_entry, &sc);
		}
		h.sel_marker = (added << 16) | (sc.max_id & 0xffff);
		ipmi_sel_ctx_destroy(sel);
		ipmi_interpret_ctx_destroy(sc.interp);
	} else
		h.sel_marker = r == 0 && v > 0 ? marker : added << 16;
	fiid_obj_destroy(o);
	if (r < 0)
		return r;
	h.rollup = h.sel_critical || h.chassis[0] ? HW_HEALTH_CRITICAL : HW_HEALTH_OK;
	*ret = h;
	return 0;
}

const struct hw_ops hw_ipmi_ops = {
	.name = "ipmi",
	.open = open_session,
	.power_status = power_status,
	.power = power,
	.set_boot = set_boot,
	.get_boot = get_boot,
	.health = health,
	.close = close_session,
};
