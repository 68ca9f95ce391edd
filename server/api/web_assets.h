// SPDX-License-Identifier: Apache-2.0
/* The console's static files, compiled in by scripts/embed-web. */
#ifndef BW_WEB_ASSETS_H
#define BW_WEB_ASSETS_H

#include <stddef.h>

struct web_asset {
	const char *name; /* file name under server/web/, e.g. "app.js" */
	const char *type; /* Content-Type */
	const char *etag; /* quoted, from the file's sha256 */
	const unsigned char *data;
	size_t len;
};

/* Ends with an entry whose name is NULL. */
extern const struct web_asset web_assets[];

#endif
