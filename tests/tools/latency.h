// SPDX-License-Identifier: Apache-2.0
/*
 * Latency samples of the load clients (httpload, loadgen): a growing array
 * of seconds, sorted once at the end and read by nearest-rank percentile.
 * Header-only: the tools are single files linked without the test libraries.
 */
#ifndef BW_TESTS_LATENCY_H
#define BW_TESTS_LATENCY_H

#include <stdint.h>
#include <stdlib.h>

static inline int lat_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Sorts v[0..n) in place, for lat_pct. */
static inline void lat_sort(double *v, uint64_t n)
{
	if (n)
		qsort(v, n, sizeof(*v), lat_cmp);
}

/* Nearest-rank percentile p (0..100) of the sorted v[0..n); 0 when empty. */
static inline double lat_pct(const double *v, uint64_t n, double p)
{
	uint64_t i;

	if (n == 0)
		return 0;
	i = (uint64_t)(p / 100.0 * (double)n + 0.999999);
	if (i < 1)
		i = 1;
	return v[(i > n ? n : i) - 1];
}

#endif
