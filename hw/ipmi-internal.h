/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hw/ipmi internals: how the IPMI driver reads what a BMC sends once
 * libfreeipmi has taken it out of its RMCP+ frame (SDR records, SEL
 * entries, sensor readings, the chassis status). Pure functions of those
 * bytes, for hw/ipmi.c and its fuzz target (tests/fuzz/fuzz_ipmi.c); not
 * an interface for anything else.
 */
#pragma once

#include <freeipmi/freeipmi.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hw.h"

#define SENSOR_NAME_MAX 40     /* an ID string is 16 bytes; a shared sensor's adds an instance */

/* A threshold sensor the BMC owns, as its SDR describes it. */
struct ipmi_sensor {
	uint8_t lun;
	uint8_t number;
	char name[SENSOR_NAME_MAX]; /* printable ASCII */
};

/* One pass over the SEL, entry by entry (hw_ipmi_sel_entry). */
struct sel_scan {
	struct hw_session *s;
	ipmi_interpret_ctx_t interp; /* NULL: entries are counted, not classified */
	unsigned last_id; /* of the marker */
	unsigned max_id;
	bool erased;      /* the SEL was cleared since the marker */
	struct hw_health *h;
};

/* A BMC's ID string in[] (NUL-terminated) made printable into out[size]:
 * other bytes become '?', trailing blanks go, and a sensor without a name
 * is called by its number. */
void hw_ipmi_sensor_name(char *out, size_t size, const char *in, uint8_t number);

/* Fills out (room entries at most) with the threshold sensors that the SDR
 * record rec[len] describes, if the BMC owns them; returns how many. sdr is
 * only libfreeipmi's parsing context. */
unsigned hw_ipmi_sdr_sensors(ipmi_sdr_ctx_t sdr, const uint8_t *rec, size_t len, struct ipmi_sensor *out,
			     unsigned room);

/* Counts SEL entry id (its bytes rec[len]; len <= 0: unreadable) into
 * sc->h: new after the marker, critical as sc->interp classifies it, the
 * last critical one described. sel is the context the entry came from. */
void hw_ipmi_sel_entry(struct sel_scan *sc, ipmi_sel_ctx_t sel, uint16_t id, const uint8_t *rec, int len);

/* Which critical threshold a Get Sensor Reading answer rs
 * (tmpl_cmd_get_sensor_reading_threshold_rs) says its sensor is at or past
 * ("upper critical"); NULL when none, or when there is no reading. */
const char *hw_ipmi_reading_crossed(fiid_obj_t rs);

/* The faults a Get Chassis Status answer o (tmpl_cmd_get_chassis_status_rs)
 * names, added to the comma-separated list[size]. */
void hw_ipmi_chassis_faults(fiid_obj_t o, char *list, size_t size);
