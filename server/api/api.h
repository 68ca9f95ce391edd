/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The REST API under /api/v1 and /metrics, on libmicrohttpd with jansson.
 * Routes, auth and error conventions: docs/api.md.
 */
#ifndef BW_API_H
#define BW_API_H

#include <stdint.h>

#include "config.h"
#include "crypto.h"
#include "store.h"

struct api;

/*
 * Starts serving on cfg->listen with cfg->threads workers. The API keeps
 * pointers to cfg and store (owned by the caller, who must keep them alive
 * until api_stop) and a copy of key (seals BMC passwords).
 */
int api_start(const struct config *cfg, struct store *store, const uint8_t key[SECRET_KEY_LEN],
	      struct api **ret);
/* Port actually bound (useful with port 0). */
uint16_t api_port(const struct api *a);
/* Port booting machines use: [boot] http_listen's when set, else the API's. */
uint16_t api_boot_port(const struct api *a);
/* Stops serving, waits for in-flight requests and frees a (NULL is fine). */
void api_stop(struct api *a);

#endif
