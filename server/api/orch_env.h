/* SPDX-License-Identifier: Apache-2.0 */
/* The orchestrator's thread and real environment in bootwaved (orch_env.c). */
#pragma once

struct api;
struct orch;
struct orch_rt;

/* Starts the orchestrator over a's store, agent tasks and BMC pool, and its thread. */
int orch_rt_start(struct api *a, struct orch_rt **ret);
struct orch *orch_rt_orch(struct orch_rt *rt);
/* Steps now rather than at the next interval. */
void orch_rt_poke(struct orch_rt *rt);
/* Joins the thread and frees the orchestrator; call before the BMC pool is freed. */
void orch_rt_stop(struct orch_rt *rt);
/* Frees what is left; after the BMC pool is freed (its last jobs report here). */
void orch_rt_free(struct orch_rt *rt);
