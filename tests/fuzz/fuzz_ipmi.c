// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for what the IPMI driver (hw/ipmi.c) reads from a BMC
 * once libfreeipmi has taken it out of its RMCP+ frame: the functions of
 * hw/ipmi-internal.h that health runs. The first byte says what the rest
 * is (its value modulo 4):
 *
 *   0  an SDR record (43.1: header and body), as Get SDR returns it, and
 *      the room left in the sensor list (second byte);
 *   1  SEL entries (32.1: 16 bytes each, a shorter last one is given as
 *      is) after a marker: record id (2 bytes, little-endian) and a flags
 *      byte (bit 0: the SEL was cleared since);
 *   2  a Get Sensor Reading answer (35.14: command, completion code,
 *      reading, states, thresholds);
 *   3  a Get Chassis Status answer (28.2).
 *
 * Checked, beyond "no crash": the sensors listed fit their room, carry a
 * printable, non-empty name without a trailing blank and consecutive
 * numbers; SEL counts hold (critical <= new, ids up to the highest seen)
 * and the last entry's description is terminated within its array; a
 * crossed threshold is one of the four names; the chassis faults list is
 * terminated and only names faults. Build with clang -fsanitize=fuzzer, or
 * replay a corpus with replay.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipmi-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEL_ENTRY 16 /* bytes of one SEL record (32.1) */

static void check_text(const char *s, size_t size, bool printable)
{
	const char *nul = memchr(s, '\0', size);

	if (!nul)
		abort(); /* not terminated within its array */
	for (const char *c = s; printable && c < nul; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
			abort();
}

static void sdr(const uint8_t *rec, size_t len, unsigned room)
{
	static ipmi_sdr_ctx_t ctx;
	struct ipmi_sensor *out;
	unsigned n;

	if (!ctx && !(ctx = ipmi_sdr_ctx_create()))
		return;
	/* Exactly room entries, so that a write past them is seen. */
	if (!(out = malloc((room ? room : 1) * sizeof(*out))))
		return;
	n = hw_ipmi_sdr_sensors(ctx, rec, len, out, room);
	for (unsigned i = 0; getenv("FUZZ_VERBOSE") && i < n && i < room; i++) /* for whoever writes seeds */
		fprintf(stderr, "sensor lun %u number %u \"%.*s\"\n", out[i].lun, out[i].number, SENSOR_NAME_MAX, out[i].name);
	if (n > room)
		abort();
	for (unsigned i = 0; i < n; i++) {
		size_t l;
		check_text(out[i].name, sizeof(out[i].name), true);
		l = strlen(out[i].name);
		if (l == 0 || out[i].name[l - 1] == ' ' || out[i].lun > 3 || out[i].number != (uint8_t)(out[0].number + i) ||
		    (i > 0 && out[i].number == 0))
			abort();
	}
	free(out);
}

static void sel(const uint8_t *p, size_t len)
{
	static ipmi_sel_ctx_t ctx;
	static ipmi_interpret_ctx_t interp;
	static bool loaded;
	struct hw_health h;
	struct sel_scan sc;

	if (len < 3)
		return;
	if (!loaded) {
		loaded = true;
		ctx = ipmi_sel_ctx_create(NULL, NULL); /* parsing records only */
		if ((interp = ipmi_interpret_ctx_create()) && ipmi_interpret_load_sel_config(interp, NULL) < 0) {
			ipmi_interpret_ctx_destroy(interp);
			interp = NULL;
		}
	}
	if (!ctx)
		return;
	memset(&h, 0, sizeof(h));
	sc = (struct sel_scan){ .interp = interp, .last_id = (unsigned)(p[0] | p[1] << 8), .erased = p[2] & 1, .h = &h };
	p += 3;
	len -= 3;
	while (len > 0) {
		size_t n = len < SEL_ENTRY ? len : SEL_ENTRY;
		uint16_t id;
		/* Each entry in a buffer of its own size, so that a read past it is seen. */
		uint8_t *rec = malloc(n);

		if (!rec)
			return;
		memcpy(rec, p, n);
		/* on_sel_entry reads the id of the entry ipmi_sel_parse stands on: here, the given bytes. */
		if (ipmi_sel_parse_read_record_id(ctx, rec, (unsigned)n, &id) >= 0) {
			unsigned before = h.sel_new;
			hw_ipmi_sel_entry(&sc, ctx, id, rec, (int)n);
			if (sc.max_id < id || h.sel_new > before + 1 || (!sc.erased && id <= sc.last_id && h.sel_new != before))
				abort();
		}
		free(rec);
		p += n;
		len -= n;
	}
	check_text(h.sel_last, sizeof(h.sel_last), false);
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "sel: %u new, %u critical, highest id %u, \"%s\"\n", h.sel_new, h.sel_critical, sc.max_id,
			h.sel_last);
	if (h.sel_critical > h.sel_new || (h.sel_critical && !h.sel_last[0]))
		abort();
}

static void reading(const uint8_t *p, size_t len)
{
	static const char *const names[] = { "upper non-recoverable", "lower non-recoverable", "upper critical",
					     "lower critical" };
	fiid_obj_t rs = fiid_obj_create(tmpl_cmd_get_sensor_reading_threshold_rs);
	const char *what;
	bool known = false;

	if (!rs)
		return;
	if (fiid_obj_set_all(rs, p, (unsigned)len) >= 0) {
		what = hw_ipmi_reading_crossed(rs);
		if (getenv("FUZZ_VERBOSE"))
			fprintf(stderr, "reading: %s\n", what ? what : "(none)");
		for (size_t i = 0; what && i < sizeof(names) / sizeof(names[0]); i++)
			known |= strcmp(what, names[i]) == 0;
		if (what && !known)
			abort();
	}
	fiid_obj_destroy(rs);
}

static void chassis(const uint8_t *p, size_t len)
{
	static const char *const faults[] = { "power fault", "power overload", "power control fault", "power interlock",
					      "drive fault", "cooling fault" };
	fiid_obj_t o = fiid_obj_create(tmpl_cmd_get_chassis_status_rs);
	char list[128];

	if (!o)
		return;
	if (fiid_obj_set_all(o, p, (unsigned)len) >= 0) {
		list[0] = '\0';
		hw_ipmi_chassis_faults(o, list, sizeof(list));
		check_text(list, sizeof(list), true);
		if (getenv("FUZZ_VERBOSE"))
			fprintf(stderr, "chassis: \"%s\"\n", list);
		/* Only fault names, comma-separated. */
		for (char *item = list; *item;) {
			size_t n = strcspn(item, ",");
			bool known = false;
			for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
				known |= n == strlen(faults[i]) && strncmp(item, faults[i], n) == 0;
			if (!known)
				abort();
			item += n;
			if (*item == ',')
				item += 2;
		}
	}
	fiid_obj_destroy(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0: {
		/* The record in a buffer of its own size (after the room byte). */
		size_t len = size > 2 ? size - 2 : 0;
		uint8_t *rec = malloc(len ? len : 1);
		if (!rec)
			return 0;
		memcpy(rec, data + 2, len);
		sdr(rec, len, size > 1 ? data[1] : 0);
		free(rec);
		break;
	}
	case 1:
		sel(data + 1, size - 1);
		break;
	case 2:
		reading(data + 1, size - 1);
		break;
	case 3:
		chassis(data + 1, size - 1);
		break;
	}
	return 0;
}
