/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Versions of extensions (DESIGN.md, "Extensions"): MAJOR.MINOR or
 * MAJOR.MINOR.PATCH, each part decimal digits without a leading zero
 * ("0" itself is fine) and at most 4294967295. Stricter than the image
 * versions of validate.h on purpose: the orchestrator upgrades a pool to
 * "the same major, a newer minor" by itself, so the parts must mean
 * something. Pure functions, shared by the daemon, the CLI and the tests.
 */
#ifndef BW_EXTVER_H
#define BW_EXTVER_H

#include <stdbool.h>
#include <stdint.h>

struct extver {
	uint32_t major, minor, patch; /* patch is 0 when has_patch is false */
	bool has_patch;
};

/*
 * Parses s into *ret. 0 on success; -EINVAL (and *ret untouched) for NULL,
 * an empty string, one part or more than three, an empty part, a character
 * other than digits and dots, a leading zero, or a part over UINT32_MAX.
 */
int extver_parse(const char *s, struct extver *ret);

/*
 * Orders a and b: by major, then minor, then patch (a missing patch counts
 * as 0), and last "1.2" before "1.2.0", so that two different strings never
 * compare equal. Returns <0, 0 or >0.
 */
int extver_cmp(const struct extver *a, const struct extver *b);

#endif
