// SPDX-License-Identifier: Apache-2.0
/*
 * The operator console: static files compiled into bootwaved
 * (scripts/embed-web, from server/web/) under /ui/. They hold no data and
 * need no token; the page asks for one and calls the API with it, so the
 * console can do exactly what its token's role allows.
 */
#include "api-internal.h"
#include "web_assets.h"

/* No script, style or connection from anywhere but bootwaved itself. */
#define WEB_CSP "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

static const struct web_asset *find_asset(const char *name)
{
	for (const struct web_asset *w = web_assets; w->name; w++)
		if (str_eq(w->name, name))
			return w;
	return NULL;
}

static int reply_asset(struct request *r, const struct web_asset *w)
{
	struct MHD_Response *resp;
	const char *inm = api_header(r, "If-None-Match");
	bool unchanged = inm && str_eq(inm, w->etag);

	if (unchanged)
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	else
		resp = MHD_create_response_from_buffer(w->len, (void *)w->data, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return api_reply_error(r, 500, "internal", NULL, "out of memory");
	MHD_add_response_header(resp, "Content-Type", w->type);
	MHD_add_response_header(resp, "ETag", w->etag);
	MHD_add_response_header(resp, "Content-Security-Policy", WEB_CSP);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	return api_reply_response(r, unchanged ? 304 : 200, resp);
}

int web_index(struct request *r)
{
	const struct web_asset *w = find_asset("index.html");
	if (!w)
		return api_reply_error(r, 500, "internal", NULL, "console not built in");
	return reply_asset(r, w);
}

int web_file(struct request *r)
{
	const struct web_asset *w = find_asset(r->params[0]);
	if (!w)
		return api_reply_error(r, 404, "not_found", NULL, "no such file: %s", r->path);
	return reply_asset(r, w);
}

/* "/" is where a browser lands: sent on to the console. */
int web_root(struct request *r)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return api_reply_error(r, 500, "internal", NULL, "out of memory");
	MHD_add_response_header(resp, "Location", "/ui/");
	return api_reply_response(r, 302, resp);
}
