/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Syntax of the identifiers that cross the API: resource names, MAC
 * addresses, image versions, device paths and hosts. Pure functions, shared
 * by the daemon (which enforces them) and the CLI (which checks early).
 */
#ifndef BW_VALIDATE_H
#define BW_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#define NAME_MAX_LEN 63
#define VERSION_MAX_LEN 63
#define MAC_STR_LEN 17

/*
 * A resource name: 1..63 characters of [a-z0-9-_.], starting with a letter or
 * digit (so that it is safe as a path component and in a URL).
 */
bool name_valid(const char *s);

/*
 * Parses a MAC address written as aa:bb:cc:dd:ee:ff, aa-bb-..., or
 * aabb.ccdd.eeff (any case) into the canonical lowercase colon form
 * out[18]. -EINVAL if it is not a MAC, or is multicast or all zero.
 */
int mac_normalize(const char *s, char out[MAC_STR_LEN + 1]);

/*
 * An image version: 1..63 characters of [A-Za-z0-9.+~_-], starting with a
 * letter or digit, and not the reserved word "latest".
 */
bool version_valid(const char *s);

/*
 * Orders two versions as Debian orders upstream versions: runs of digits
 * compare as numbers, other runs character by character with letters before
 * punctuation, and '~' before anything (even the end): 1.0~rc1 < 1.0 < 1.0.1,
 * v2 < v10. Returns <0, 0 or >0.
 */
int version_cmp(const char *a, const char *b);

/* An absolute device path such as /dev/sda or /dev/disk/by-path/...: no "..". */
bool devpath_valid(const char *s);

/* A host name or IPv4/IPv6 literal, 1..253 characters, no spaces or '/'. */
bool host_valid(const char *s);

/*
 * Safe inside an iPXE script and a kernel command line: no control
 * character and none of $ " \ ; | & # (which iPXE would expand, quote,
 * escape, take for a command separator or a comment).
 */
bool cmdline_safe(const char *s);
#define CMDLINE_UNSAFE_CHARS "\" $ \\ ; | & #"

#endif
