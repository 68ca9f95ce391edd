// SPDX-License-Identifier: Apache-2.0
/*
 * Token creation (the secret is shown once, in the reply) and whoami. Listing,
 * showing and revoking tokens use the generic inventory handlers.
 */
#include "api-internal.h"

#include "auth.h"

int tokens_create(struct request *r)
{
	struct bw_token tok;
	bool mask[MODEL_MAX_FIELDS];
	struct api_error e;
	struct store_err se = { .field = "" };
	char secret[TOKEN_LEN + 1];
	json_t *out;
	int rc;

	model_init(&model_token, &tok);
	if (codec_decode(r->api, &model_token, r->json, true, &tok, mask, &e) < 0)
		return api_reply_api_error(r, &e);
	if (tok.expires_at && tok.expires_at <= (int64_t)time(NULL))
		return api_reply_error(r, 422, "invalid_value", "expires_at", "expires_at: already in the past");
	rc = auth_token_create(r->api->store, &tok, secret, &se);
	if (rc < 0)
		return inventory_reply_store_error(r, &model_token, tok.name, rc, &se);
	log_info("token %s (%s) created by token %s", tok.name, tok.role, r->token.name);
	out = codec_encode(r->api, &model_token, &tok);
	json_object_set_new(out, "token", json_string(secret));
	explicit_bzero(secret, sizeof(secret));
	return api_reply_json(r, 201, out);
}

int whoami(struct request *r)
{
	return api_reply_json(r, 200, codec_encode(r->api, &model_token, &r->token));
}
