// SPDX-License-Identifier: Apache-2.0
/*
 * Live streams for the console: a pool's rollout as server-sent events
 * (text/event-stream). A stream's connection is suspended while nothing has
 * changed; one thread resumes every stream once a second, and each sends
 * the rollout again only when its JSON differs from the last one sent (a
 * comment line every 15 s otherwise, so proxies and browsers keep it open).
 * A stream ends when the token that opened it is revoked or expires.
 */
#ifndef BW_EVENTS_H
#define BW_EVENTS_H

struct api;
struct request;
struct api_events;

int api_events_start(struct api *a, struct api_events **ret);
/* Ends every stream (they finish their current event) and the thread; before MHD_stop_daemon. */
void api_events_stop(struct api_events *e);
void api_events_free(struct api_events *e);
/* GET /api/v1/pools/<pool>/rollout/events */
int rollout_events(struct request *r);

#endif
