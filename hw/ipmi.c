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
 * Sensors: the threshold-based sensors the BMC owns, listed by its SDR
 * repository, are read one Get Sensor Reading each; those at or past a
 * critical or non-recoverable threshold are named. The list is read once
 * per session and again only when the repository's addition or erase
 * timestamp or its record count moves, so a poll costs one Get SDR
 * Repository Info plus a reading per sensor.
 */
#include "hw.h"
#include "ipmi-internal.h"

#include <errno.h>
#include <freeipmi/freeipmi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every size the BMC controls has a limit. */
#define SDR_MAX_SENSORS 256    /* threshold sensors read per health call */
#define SDR_MAX_RECORDS 1024   /* records walked: a chain of record ids that loops ends here */
#define SDR_MAX_RESERVE 4      /* reservations lost to repository updates, per walk */
#define SDR_HEADER 5           /* record id, SDR version, type, length (43.1) */
#define SDR_PIECE 16           /* partial Get SDR size when the rest at once is refused:
                                  most BMCs can do 16 (freeipmi's finding) */

/* What Get SDR Repository Info says: the list is re-read when it moves. */
struct sdr_stamp {
	uint32_t added, erased;
	uint16_t count;
};

struct hw_session {
	ipmi_ctx_t ctx;
	char host[270]; /* host:port, for messages */
	unsigned timeout_ms;
	bool sdr_read;               /* sensors[] is the repository as of sdr_stamp */
	struct sdr_stamp sdr_stamp;
	struct ipmi_sensor *sensors; /* owned; NULL when none */
	unsigned nsensors;
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
	free(s->sensors);
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

void hw_ipmi_sel_entry(struct sel_scan *sc, ipmi_sel_ctx_t sel, uint16_t id, const uint8_t *rec, int len)
{
	unsigned state = IPMI_INTERPRET_STATE_UNKNOWN;

	if (id > sc->max_id)
		sc->max_id = id;
	if (!sc->erased && id <= sc->last_id)
		return;
	sc->h->sel_new++;
	if (len <= 0)
		return;
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
}

/* ipmi_sel_parse()'s callback: the entry it stands on. */
static int on_sel_entry(ipmi_sel_ctx_t sel, void *data)
{
	uint8_t rec[IPMI_SEL_RECORD_MAX_RECORD_LENGTH];
	uint16_t id;

	if (ipmi_sel_parse_read_record_id(sel, NULL, 0, &id) < 0)
		return 0;
	hw_ipmi_sel_entry(data, sel, id, rec, ipmi_sel_parse_read_record(sel, rec, sizeof(rec)));
	return 0;
}

/* ---- sensors: the SDR repository (IPMI 2.0 section 33) and Get Sensor Reading (35.14) ---- */

#define STEP_SDR "read the sensor list (SDR)"
#define STEP_SENSORS "read the sensors"

/* One command to LUN lun of the BMC. Returns its completion code (0: done),
 * or fails (e filled) when the BMC did not answer. Unlike the ipmi_cmd_*
 * helpers, which fail on any refusal, it leaves to the caller what a refusal
 * means (a sensor without a reading, a record to read in smaller pieces). */
static int command(struct hw_session *s, uint8_t lun, uint8_t netfn, fiid_obj_t rq, fiid_obj_t rs, struct hw_err *e,
		   const char *step)
{
	uint64_t cc;

	if (fiid_obj_clear(rs) < 0)
		return hw_fail(e, -ENOMEM, step, "out of memory");
	if (ipmi_cmd(s->ctx, lun, netfn, rq, rs) < 0)
		return fail_ctx(s, e, step);
	if (FIID_OBJ_GET(rs, "comp_code", &cc) <= 0)
		return hw_fail(e, -EPROTO, step, "BMC %s: an answer without a completion code", s->host);
	return (int)cc;
}

/* One walk of the repository: its reservation (33.11) and command objects. */
struct sdr_walk {
	struct hw_session *s;
	fiid_obj_t rq, rs;
	bool can_reserve; /* Get SDR Repository Info says Reserve SDR Repository works */
	uint16_t resv;    /* 0: none (enough to read records whole, 33.12) */
	unsigned reserved;
	bool whole;       /* the BMC may return a whole record at once */
	unsigned piece;   /* bytes asked at once after the header (255: the rest) */
	struct hw_err *e;
};

static int sdr_reserve(struct sdr_walk *w)
{
	fiid_obj_t o;
	uint64_t v = 0;
	int r = 0;

	if (!w->can_reserve)
		return 0;
	if (w->reserved++ > SDR_MAX_RESERVE)
		return hw_fail(w->e, -EPROTO, STEP_SDR, "BMC %s: the sensor repository kept changing while read",
			       w->s->host);
	if (!(o = fiid_obj_create(tmpl_cmd_reserve_sdr_repository_rs)))
		return hw_fail(w->e, -ENOMEM, STEP_SDR, "out of memory");
	if (ipmi_cmd_reserve_sdr_repository(w->s->ctx, o) < 0)
		r = fail_ctx(w->s, w->e, STEP_SDR);
	else if ((r = field(w->s, o, "reservation_id", &v, w->e, STEP_SDR)) == 0)
		w->resv = (uint16_t)v;
	fiid_obj_destroy(o);
	return r;
}

/* Get SDR: n bytes at off of record id, at most size of them into buf
 * (*ret_got: how many). A reservation the BMC cancelled (the repository
 * changed) is taken again. Returns the completion code, or fails. */
static int sdr_get(struct sdr_walk *w, uint16_t id, unsigned off, uint8_t n, uint8_t *buf, size_t size,
		   size_t *ret_got, uint16_t *ret_next)
{
	uint8_t data[256];
	uint64_t next = 0;
	int cc, got;

	for (;;) {
		if (fill_cmd_get_sdr(w->resv, id, (uint8_t)off, n, w->rq) < 0)
			return hw_fail(w->e, -EINVAL, STEP_SDR, "cannot build Get SDR for record %u", id);
		if ((cc = command(w->s, IPMI_BMC_IPMB_LUN_BMC, IPMI_NET_FN_STORAGE_RQ, w->rq, w->rs, w->e, STEP_SDR)) < 0)
			return cc;
		if (cc != IPMI_COMP_CODE_RESERVATION_CANCELLED || !w->can_reserve)
			break;
		if ((cc = sdr_reserve(w)) < 0)
			return cc;
	}
	if (cc)
		return cc;
	if ((got = fiid_obj_get_data(w->rs, "record_data", data, sizeof(data))) < 0 ||
	    FIID_OBJ_GET(w->rs, "next_record_id", &next) <= 0)
		return hw_fail(w->e, -EPROTO, STEP_SDR, "BMC %s: a malformed answer for record %u", w->s->host, id);
	*ret_got = (size_t)got < size ? (size_t)got : size;
	memcpy(buf, data, *ret_got);
	*ret_next = (uint16_t)next;
	return 0;
}

/* Reads record id (header and body, 43.1) into buf, IPMI_SDR_MAX_RECORD_LENGTH
 * bytes: whole if the BMC can, else the header and then the rest, in smaller
 * pieces while the BMC says it cannot return that many bytes. What worked is
 * kept for the next records of the walk. */
static int sdr_record(struct sdr_walk *w, uint16_t id, uint8_t *buf, size_t *ret_len, uint16_t *ret_next)
{
	const size_t hdr = SDR_HEADER;
	size_t got = 0, len, off;
	uint16_t next;
	int cc;

	if (w->whole) {
		cc = sdr_get(w, id, 0, IPMI_SDR_READ_ENTIRE_RECORD_BYTES_TO_READ, buf, IPMI_SDR_MAX_RECORD_LENGTH,
			     &got, ret_next);
		if (cc < 0)
			return cc;
		if (cc == 0 && got >= hdr && got >= hdr + buf[hdr - 1]) {
			*ret_len = hdr + buf[hdr - 1];
			return 0;
		}
		/* Refused, or fewer bytes than the header says (freeipmi met that too). */
		w->whole = false;
	}
	if ((cc = sdr_get(w, id, 0, (uint8_t)hdr, buf, hdr, &got, ret_next)) < 0)
		return cc;
	if (cc || got < hdr)
		goto refused;
	len = hdr + buf[hdr - 1];
	for (off = hdr; off < len; off += got) {
		uint8_t n = (uint8_t)(len - off < w->piece ? len - off : w->piece);
		if (off > 0xff) /* Get SDR cannot say a larger offset */
			return hw_fail(w->e, -EPROTO, STEP_SDR, "BMC %s: record %u is %zu bytes long", w->s->host, id, len);
		if ((cc = sdr_get(w, id, off, n, buf + off, len - off, &got, &next)) < 0)
			return cc;
		if (cc == IPMI_COMP_CODE_CANNOT_RETURN_REQUESTED_NUMBER_OF_BYTES && w->piece > 4) {
			w->piece = w->piece > SDR_PIECE ? SDR_PIECE : w->piece - 4;
			got = 0;
			continue;
		}
		if (cc || got == 0)
			goto refused;
	}
	*ret_len = len;
	return 0;
refused:
	if (cc)
		return hw_fail(w->e, -EPROTO, STEP_SDR, "BMC %s: Get SDR of record %u: completion code 0x%02x",
			       w->s->host, id, (unsigned)cc);
	return hw_fail(w->e, -EPROTO, STEP_SDR, "BMC %s: Get SDR of record %u: a short answer", w->s->host, id);
}

void hw_ipmi_sensor_name(char *out, size_t size, const char *in, uint8_t number)
{
	size_t n = 0;

	for (; *in && n + 1 < size; in++)
		out[n++] = *in >= 0x20 && *in < 0x7f ? *in : '?';
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
	if (n == 0)
		snprintf(out, size, "sensor %u", number);
}

/* Sensors of other controllers would need bridging, and are left out (as
 * ipmi-sensors does). A compact record may describe several sensors, named
 * with an instance modifier: "Temp 5", "Temp 6" or "Temp A", "Temp B"
 * (43.2, record sharing). */
unsigned hw_ipmi_sdr_sensors(ipmi_sdr_ctx_t sdr, const uint8_t *rec, size_t len, struct ipmi_sensor *out,
			     unsigned room)
{
	char id_string[IPMI_SDR_MAX_ID_STRING_LENGTH + 1] = "";
	uint16_t id;
	uint8_t type, code, owner_type, owner, lun, number, share = 1, mod_type = 0, mod_offset = 0;
	unsigned n = 0;

	if (ipmi_sdr_parse_record_id_and_type(sdr, rec, len, &id, &type) < 0 ||
	    (type != IPMI_SDR_FORMAT_FULL_SENSOR_RECORD && type != IPMI_SDR_FORMAT_COMPACT_SENSOR_RECORD))
		return 0;
	if (ipmi_sdr_parse_event_reading_type_code(sdr, rec, len, &code) < 0 ||
	    code != IPMI_EVENT_READING_TYPE_CODE_THRESHOLD ||
	    ipmi_sdr_parse_sensor_owner_id(sdr, rec, len, &owner_type, &owner) < 0 ||
	    owner_type != IPMI_SDR_SENSOR_OWNER_ID_TYPE_IPMB_SLAVE_ADDRESS ||
	    (uint8_t)(owner << 1) != IPMI_SLAVE_ADDRESS_BMC ||
	    ipmi_sdr_parse_sensor_owner_lun(sdr, rec, len, &lun, NULL) < 0 ||
	    ipmi_sdr_parse_sensor_number(sdr, rec, len, &number) < 0)
		return 0;
	if (type == IPMI_SDR_FORMAT_COMPACT_SENSOR_RECORD &&
	    ipmi_sdr_parse_sensor_record_sharing(sdr, rec, len, &share, &mod_type, &mod_offset, NULL) < 0)
		return 0;
	if (ipmi_sdr_parse_id_string(sdr, rec, len, id_string, sizeof(id_string) - 1) < 0)
		id_string[0] = '\0';
	for (unsigned i = 0; i < (share ? share : 1u) && n < room && number + i <= 0xff; i++) {
		struct ipmi_sensor *p = &out[n++];
		unsigned k = mod_offset + i;
		char name[SENSOR_NAME_MAX];

		if (share <= 1)
			snprintf(name, sizeof(name), "%s", id_string);
		else if (mod_type == IPMI_SDR_ID_STRING_INSTANCE_MODIFIER_TYPE_ALPHA && k < 26)
			snprintf(name, sizeof(name), "%s %c", id_string, 'A' + k);
		else if (mod_type == IPMI_SDR_ID_STRING_INSTANCE_MODIFIER_TYPE_ALPHA)
			snprintf(name, sizeof(name), "%s %c%c", id_string, 'A' + k / 26 - 1, 'A' + k % 26);
		else
			snprintf(name, sizeof(name), "%s %u", id_string, k);
		p->lun = lun;
		p->number = (uint8_t)(number + i);
		hw_ipmi_sensor_name(p->name, sizeof(p->name), name, p->number);
	}
	return n;
}

/* Walks the repository from its first record. On success *ret is the list
 * of threshold sensors (the caller owns it; NULL when none), *ret_n their
 * number, at most SDR_MAX_SENSORS; at most SDR_MAX_RECORDS records are read. */
static int sdr_walk(struct hw_session *s, bool can_reserve, struct ipmi_sensor **ret, unsigned *ret_n,
		    struct hw_err *e)
{
	struct sdr_walk w = { .s = s, .can_reserve = can_reserve, .whole = true, .piece = 0xff, .e = e };
	ipmi_sdr_ctx_t sdr = ipmi_sdr_ctx_create();
	struct ipmi_sensor *list = calloc(SDR_MAX_SENSORS, sizeof(*list));
	uint8_t rec[IPMI_SDR_MAX_RECORD_LENGTH];
	uint16_t id = 0, next = 0; /* 0: the first record */
	unsigned n = 0;
	int r = 0;

	w.rq = fiid_obj_create(tmpl_cmd_get_sdr_rq);
	w.rs = fiid_obj_create(tmpl_cmd_get_sdr_rs);
	if (!sdr || !list || !w.rq || !w.rs)
		r = hw_fail(e, -ENOMEM, STEP_SDR, "out of memory");
	else
		r = sdr_reserve(&w);
	for (unsigned i = 0; r == 0 && i < SDR_MAX_RECORDS && n < SDR_MAX_SENSORS; i++) {
		size_t len = 0;
		if ((r = sdr_record(&w, id, rec, &len, &next)) < 0)
			break;
		n += hw_ipmi_sdr_sensors(sdr, rec, len, list + n, SDR_MAX_SENSORS - n);
		if (next == IPMI_SDR_RECORD_ID_LAST || next == id)
			break;
		id = next;
	}
	fiid_obj_destroy(w.rq);
	fiid_obj_destroy(w.rs);
	ipmi_sdr_ctx_destroy(sdr);
	if (r == 0 && n == 0) {
		free(list);
		list = NULL;
	} else if (r == 0 && n < SDR_MAX_SENSORS) {
		struct ipmi_sensor *fit = realloc(list, n * sizeof(*list));
		list = fit ? fit : list;
	}
	if (r < 0) {
		free(list);
		return r;
	}
	*ret = list;
	*ret_n = n;
	return 0;
}

/* Brings s->sensors up to date: one Get SDR Repository Info, and a walk
 * when the repository moved since the last one (or none was made). A BMC
 * without a repository has no sensors to read. */
static int sdr_refresh(struct hw_session *s, struct hw_err *e)
{
	fiid_obj_t o = fiid_obj_create(tmpl_cmd_get_sdr_repository_info_rs);
	uint64_t added = 0, erased = 0, count = 0, can_reserve = 0;
	struct ipmi_sensor *list = NULL;
	struct sdr_stamp st;
	unsigned n = 0;
	int r = 0;

	if (!o)
		return hw_fail(e, -ENOMEM, STEP_SDR, "out of memory");
	if (ipmi_cmd_get_sdr_repository_info(s->ctx, o) < 0) {
		if (ipmi_ctx_errnum(s->ctx) == IPMI_ERR_COMMAND_INVALID_OR_UNSUPPORTED) {
			free(s->sensors);
			s->sensors = NULL;
			s->nsensors = 0;
			s->sdr_read = false;
		} else
			r = fail_ctx(s, e, STEP_SDR);
		fiid_obj_destroy(o);
		return r;
	}
	if ((r = field(s, o, "most_recent_addition_timestamp", &added, e, STEP_SDR)) == 0 &&
	    (r = field(s, o, "most_recent_erase_timestamp", &erased, e, STEP_SDR)) == 0)
		r = field(s, o, "record_count", &count, e, STEP_SDR);
	if (FIID_OBJ_GET(o, "reserve_sdr_repository_command_supported", &can_reserve) < 0)
		can_reserve = 0;
	fiid_obj_destroy(o);
	if (r < 0)
		return r;
	st = (struct sdr_stamp){ .added = (uint32_t)added, .erased = (uint32_t)erased, .count = (uint16_t)count };
	if (s->sdr_read && st.added == s->sdr_stamp.added && st.erased == s->sdr_stamp.erased &&
	    st.count == s->sdr_stamp.count)
		return 0;
	if (count > 0 && (r = sdr_walk(s, can_reserve != 0, &list, &n, e)) < 0)
		return r;
	free(s->sensors);
	s->sensors = list;
	s->nsensors = n;
	s->sdr_stamp = st;
	s->sdr_read = true;
	return 0;
}

const char *hw_ipmi_reading_crossed(fiid_obj_t rs)
{
	/* The worst first: a non-recoverable reading is past the critical one too. */
	static const struct {
		const char *field, *what;
	} crossed[] = {
		{ "at_or_above_upper_non_recoverable_threshold", "upper non-recoverable" },
		{ "at_or_below_lower_non_recoverable_threshold", "lower non-recoverable" },
		{ "at_or_above_upper_critical_threshold", "upper critical" },
		{ "at_or_below_lower_critical_threshold", "lower critical" },
	};
	uint64_t v;

	/* Unavailable, or not scanned: no reading to judge. */
	if (FIID_OBJ_GET(rs, "reading_state", &v) <= 0 || v == IPMI_SENSOR_READING_STATE_UNAVAILABLE ||
	    FIID_OBJ_GET(rs, "sensor_scanning", &v) <= 0 || v == IPMI_SENSOR_SCANNING_ON_THIS_SENSOR_DISABLE)
		return NULL;
	/* A short answer without the comparison byte has nothing crossed. */
	for (size_t i = 0; i < sizeof(crossed) / sizeof(crossed[0]); i++)
		if (FIID_OBJ_GET(rs, crossed[i].field, &v) > 0 && v)
			return crossed[i].what;
	return NULL;
}

/* Which critical threshold sensor p is at or past ("upper critical"), into
 * *ret; NULL when none, or when the BMC has no reading of it (refused, or
 * unavailable, or not scanned: skipped). Fails when the BMC does not answer. */
static int sensor_crossed(struct hw_session *s, const struct ipmi_sensor *p, fiid_obj_t rq, fiid_obj_t rs,
			  const char **ret, struct hw_err *e)
{
	int cc;

	*ret = NULL;
	if (fill_cmd_get_sensor_reading(p->number, rq) < 0)
		return hw_fail(e, -EINVAL, STEP_SENSORS, "cannot build Get Sensor Reading for sensor %u", p->number);
	if ((cc = command(s, p->lun, IPMI_NET_FN_SENSOR_EVENT_RQ, rq, rs, e, STEP_SENSORS)) != 0)
		return cc < 0 ? cc : 0;
	*ret = hw_ipmi_reading_crossed(rs);
	return 0;
}

/* Adds the sensors past a critical threshold to h. */
static int sensors_health(struct hw_session *s, struct hw_health *h, struct hw_err *e)
{
	fiid_obj_t rq = NULL, rs = NULL;
	int r;

	if ((r = sdr_refresh(s, e)) < 0 || s->nsensors == 0)
		return r;
	if (!(rq = fiid_obj_create(tmpl_cmd_get_sensor_reading_rq)) ||
	    !(rs = fiid_obj_create(tmpl_cmd_get_sensor_reading_threshold_rs)))
		r = hw_fail(e, -ENOMEM, STEP_SENSORS, "out of memory");
	for (unsigned i = 0; r == 0 && i < s->nsensors; i++) {
		const char *what = NULL;
		if ((r = sensor_crossed(s, &s->sensors[i], rq, rs, &what, e)) == 0 && what) {
			char item[SENSOR_NAME_MAX + 32];
			snprintf(item, sizeof(item), "%s (%s)", s->sensors[i].name, what);
			add_item(h->sensors, sizeof(h->sensors), item);
			h->sensors_crossed++;
		}
	}
	fiid_obj_destroy(rq);
	fiid_obj_destroy(rs);
	return r;
}

void hw_ipmi_chassis_faults(fiid_obj_t o, char *list, size_t size)
{
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
	uint64_t v = 0;

	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
		if (FIID_OBJ_GET(o, faults[i].field, &v) >= 0 && v)
			add_item(list, size, faults[i].what);
}

static int health(struct hw_session *s, uint64_t marker, struct hw_health *ret, struct hw_err *e)
{
	struct hw_health h = { 0 };
	fiid_obj_t o = fiid_obj_create(tmpl_cmd_get_chassis_status_rs);
	uint64_t v = 0, added = 0;
	int r;

	if (!o)
		return hw_fail(e, -ENOMEM, "health", "out of memory");
	if ((r = chassis_status(s, o, e, "health")) == 0 &&
	    (r = field(s, o, "current_power_state.power_is_on", &v, e, "health")) == 0) {
		h.power = v ? HW_POWER_ON : HW_POWER_OFF;
		hw_ipmi_chassis_faults(o, h.chassis, sizeof(h.chassis));
	}
	fiid_obj_destroy(o);
	if (r < 0)
		return r;

	/* The SEL: one Get SEL Info when nothing was added since the marker.
	 * An answer without its entry count counts as none (v is not left over
	 * from the chassis status). */
	v = 0;
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
	if (r < 0 || (r = sensors_health(s, &h, e)) < 0)
		return r;
	h.rollup = h.sel_critical || h.chassis[0] || h.sensors_crossed ? HW_HEALTH_CRITICAL : HW_HEALTH_OK;
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
