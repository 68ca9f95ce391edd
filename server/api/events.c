// SPDX-License-Identifier: Apache-2.0
/* Server-sent event streams: see events.h. */
#include "events.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api-internal.h"
#include "log.h"
#include "orch.h"
#include "orch_env.h"

#define EVENTS_TICK_MS 1000
#define EVENTS_KEEPALIVE_S 15

struct stream {
	struct api_events *e;
	struct MHD_Connection *conn;
	int64_t pool_id;
	int64_t token_id; /* the caller's: the stream ends once it is revoked or expires */
	char *last;       /* the data of the last event sent */
	char *out;        /* the event being sent */
	size_t out_len, out_off;
	time_t last_sent; /* monotonic seconds */
	bool suspended;
	struct stream *next;
};

struct api_events {
	struct api *a;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct stream *streams;
	bool stopping;
	pthread_t thread;
	bool started;
};

/* Wakes every suspended stream; with e->lock held. */
static void resume_all(struct api_events *e)
{
	for (struct stream *s = e->streams; s; s = s->next)
		if (s->suspended) {
			s->suspended = false;
			MHD_resume_connection(s->conn);
		}
}

/* Resumes every suspended stream once a tick: each looks for a change. */
static void *ticker(void *arg)
{
	struct api_events *e = arg;
	struct timespec until;

	pthread_mutex_lock(&e->lock);
	while (!e->stopping) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += (long)EVENTS_TICK_MS * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&e->cond, &e->lock, &until);
		resume_all(e);
	}
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

int api_events_start(struct api *a, struct api_events **ret)
{
	struct api_events *e = calloc(1, sizeof(*e));
	pthread_condattr_t ca;
	int rc;

	if (!e)
		return -ENOMEM;
	e->a = a;
	pthread_mutex_init(&e->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&e->cond, &ca);
	pthread_condattr_destroy(&ca);
	if ((rc = pthread_create(&e->thread, NULL, ticker, e)) != 0) {
		api_events_free(e);
		return -rc;
	}
	e->started = true;
	*ret = e;
	return 0;
}

void api_events_stop(struct api_events *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	e->stopping = true;
	/* MHD must not be stopped with a suspended connection: wake them all;
	 * each ends its stream at its next read. */
	resume_all(e);
	pthread_cond_signal(&e->cond);
	pthread_mutex_unlock(&e->lock);
	if (e->started) {
		pthread_join(e->thread, NULL);
		e->started = false;
	}
}

void api_events_free(struct api_events *e)
{
	if (!e)
		return;
	api_events_stop(e);
	pthread_cond_destroy(&e->cond);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

/* The pool's rollout as GET .../rollout answers it (the running one, else
 * the last), "null" when it has had none; NULL when the store failed. */
static char *rollout_data(struct api *a, int64_t pool_id)
{
	struct bw_rollout ro;
	json_t *j;
	char *s;
	int rc = api_rollout_current(a, pool_id, &ro);

	if (rc == -ENOENT)
		return strdup("null");
	if (rc < 0)
		return NULL;
	if (!(j = orch_rollout_json(orch_rt_orch(a->orch), &ro, true)))
		return NULL;
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return s;
}

/* Whether the token that opened a stream still may: a stream outlives the
 * request's check, so it is made again at every look (once a second). */
static bool token_valid(struct api *a, int64_t token_id)
{
	struct bw_token t;

	if (store_get(a->store, &model_token, token_id, &t) < 0)
		return false; /* revoked (or the store failed: ended, the client asks again) */
	return !t.expires_at || t.expires_at > (int64_t)time(NULL);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *s = cls;
	struct api_events *e = s->e;
	time_t now = (time_t)clock_seconds(CLOCK_MONOTONIC);
	size_t n;
	(void)pos;

	if (s->out_off == s->out_len) {
		char *data = NULL;
		bool stop;
		free(s->out);
		s->out = NULL;
		s->out_len = s->out_off = 0;
		/* Under the lock: once api_events_stop has it, no stream is
		 * reading the store or the orchestrator, which go next. */
		pthread_mutex_lock(&e->lock);
		if (!(stop = e->stopping || !token_valid(e->a, s->token_id)))
			data = rollout_data(e->a, s->pool_id);
		pthread_mutex_unlock(&e->lock);
		if (stop)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (data && (!s->last || strcmp(data, s->last) != 0)) {
			if (asprintf(&s->out, "event: rollout\ndata: %s\n\n", data) < 0)
				s->out = NULL;
			free(s->last);
			s->last = data;
		} else {
			free(data);
			if (now - s->last_sent >= EVENTS_KEEPALIVE_S)
				s->out = strdup(": keep-alive\n\n");
		}
		if (!s->out) {
			pthread_mutex_lock(&e->lock);
			if (e->stopping) {
				pthread_mutex_unlock(&e->lock);
				return MHD_CONTENT_READER_END_OF_STREAM;
			}
			s->suspended = true;
			MHD_suspend_connection(s->conn);
			pthread_mutex_unlock(&e->lock);
			return 0;
		}
		s->out_len = strlen(s->out);
		s->last_sent = now;
	}
	n = s->out_len - s->out_off < max ? s->out_len - s->out_off : max;
	memcpy(buf, s->out + s->out_off, n);
	s->out_off += n;
	return (ssize_t)n;
}

static void stream_free(void *cls)
{
	struct stream *s = cls;
	struct api_events *e = s->e;

	pthread_mutex_lock(&e->lock);
	for (struct stream **p = &e->streams; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			break;
		}
	pthread_mutex_unlock(&e->lock);
	free(s->last);
	free(s->out);
	free(s);
}

int rollout_events(struct request *r)
{
	struct api_events *e = r->api->events;
	struct MHD_Response *resp;
	struct bw_pool pool;
	struct stream *s;

	if (inventory_load(r, &model_pool, 0, r->params[0], &pool) < 0)
		return 0;
	if (!(s = calloc(1, sizeof(*s))))
		return api_reply_error(r, 500, "internal", NULL, "out of memory");
	s->e = e;
	s->conn = r->conn;
	s->pool_id = pool.id;
	s->token_id = r->token.id;
	s->last_sent = (time_t)clock_seconds(CLOCK_MONOTONIC);
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, s, stream_free);
	if (!resp) {
		free(s);
		return api_reply_error(r, 500, "internal", NULL, "out of memory");
	}
	pthread_mutex_lock(&e->lock);
	s->next = e->streams;
	e->streams = s;
	pthread_mutex_unlock(&e->lock);
	MHD_add_response_header(resp, "Content-Type", "text/event-stream");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	return api_reply_response(r, 200, resp);
}
