/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TLS of the API: the certificate and key of [api] tls_cert/tls_key, checked
 * at start, and the cpio archive that pins the CA in the agent's ramdisk
 * (served at /boot/agent/ca.cpio, loaded by the reimage script as the first
 * initrd). Without TLS the archive holds no certificate.
 */
#ifndef BW_API_TLS_H
#define BW_API_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct api_tls {
	bool enabled;
	char *cert_pem, *key_pem; /* for libmicrohttpd; NULL without TLS */
	uint8_t *ca_cpio;         /* etc/bootwave/ca.pem (only the directories without TLS) */
	size_t ca_cpio_len;
};

/* Loads and checks; on failure writes why (naming the key and file) and returns <0. */
int api_tls_load(const struct config *c, struct api_tls *t, char *why, size_t size);
void api_tls_free(struct api_tls *t);

#endif
