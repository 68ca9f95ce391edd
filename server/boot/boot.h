/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The boot services of bootwaved on the provisioning interface: the DHCP
 * server (or proxy) and the TFTP server, on one event loop in their own
 * thread. The HTTP side of booting is served by the API (routes_boot.c).
 */
#ifndef BW_BOOT_H
#define BW_BOOT_H

#include <stdint.h>

#include "config.h"
#include "store.h"

struct boot;

/*
 * Starts the services cfg asks for ([boot] interface set; [dhcp] mode,
 * [tftp] enabled). api_port is where nodes reach the HTTP side when
 * [boot] http_url is empty. Logs why and returns <0 if one cannot start.
 */
int boot_start(const struct config *cfg, struct store *store, uint16_t api_port, struct boot **ret);
/* Stops the loop, waits for the thread, commits pending leases, frees b (NULL is fine). */
void boot_stop(struct boot *b);

#endif
