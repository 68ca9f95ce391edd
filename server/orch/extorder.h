/* SPDX-License-Identifier: Apache-2.0 */
/*
 * extorder: the order in which a pool's extensions run (DESIGN.md,
 * "Extensions"). Each extension names, in provision_after, the extensions of
 * the same pool that must have run (and succeeded) before it; the order is
 * a topological one, ties broken by the order given, and a cycle or a name
 * that is not in the pool is refused with a message naming it. Pure.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "model.h"

#define EXTORDER_MAX 64 /* extensions of one pool */

/*
 * Splits a provision_after list ("a, b,c") into names. -EINVAL (why in err)
 * for a name that is not valid or a list longer than max.
 */
int extorder_split(const char *list, char (*ret_names)[NAME_MAX_LEN + 1], size_t max, size_t *ret_n, char *err,
		   size_t size);

/*
 * Orders the n extensions of pe: ret_order[k] is the index in pe of the k-th
 * to run. -ENOENT: a provision_after names an extension not in pe;
 * -ELOOP: a cycle (err: "a -> b -> a"); -EINVAL: a bad list or n too large.
 */
int extorder_sort(const struct bw_pool_extension *pe, size_t n, size_t *ret_order, char *err, size_t size);

/* Whether pe[i] must run after pe[j] (directly or through others); false on a bad graph. */
int extorder_depends(const struct bw_pool_extension *pe, size_t n, size_t i, size_t j, bool *ret);
