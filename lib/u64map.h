/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A hash map from 64-bit keys to 64-bit values, open addressing with
 * linear probing and tombstones. For in-memory indexes (the DHCP lease
 * table by MAC and by address).
 */
#ifndef BW_U64MAP_H
#define BW_U64MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct u64map {
	struct u64map_slot *slots;
	size_t cap, used, live; /* used counts tombstones too */
};

void u64map_init(struct u64map *m);
void u64map_clear(struct u64map *m); /* frees the slots */
/* Sets key to value. -ENOMEM if growing fails. */
int u64map_put(struct u64map *m, uint64_t key, uint64_t value);
bool u64map_get(const struct u64map *m, uint64_t key, uint64_t *ret);
void u64map_del(struct u64map *m, uint64_t key);
size_t u64map_size(const struct u64map *m);

#endif
