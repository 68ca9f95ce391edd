/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ext_runner: runs the extensions of nodes over SSH in bootwaved (DESIGN.md,
 * "Extensions"). Two kinds of work:
 *   - a node's provisioning: after every reimage (provision_after_ts set by
 *     the agent's result) and once its new OS has sent a heartbeat, every
 *     extension of its pool runs, in provision_after order; an extension
 *     whose predecessor failed is skipped; the others go on;
 *   - single runs queued in the store (an extension upgrade or its rollback
 *     on one node, a manual run), each on its own.
 * Every run is a row of extension_runs with its status, exit status, error
 * and bounded output, and a node event. Runs of one node never overlap;
 * [extensions] workers nodes are served at once.
 */
#pragma once

struct api;
struct ext_runner;

/* Starts the dispatcher and its workers; runs left running by a crash are taken up again. */
int ext_runner_start(struct api *a, struct ext_runner **ret);
/* Looks for work now rather than at the next second. */
void ext_runner_poke(struct ext_runner *x);
/* Stops: sessions in flight are cut (their runs fail as interrupted), the threads joined. Accepts NULL. */
void ext_runner_stop(struct ext_runner *x);
