// SPDX-License-Identifier: Apache-2.0
/* Hash map of 64-bit keys: see u64map.h. */
#include "u64map.h"

#include <errno.h>
#include <stdlib.h>

enum { EMPTY = 0, LIVE = 1, DEAD = 2 };

struct u64map_slot {
	uint64_t key, value;
	uint8_t state;
};

static size_t hash(uint64_t k)
{
	/* splitmix64 finaliser: MACs and addresses share long prefixes. */
	k ^= k >> 30;
	k *= 0xbf58476d1ce4e5b9ULL;
	k ^= k >> 27;
	k *= 0x94d049bb133111ebULL;
	k ^= k >> 31;
	return (size_t)k;
}

void u64map_init(struct u64map *m)
{
	m->slots = NULL;
	m->cap = m->used = m->live = 0;
}

void u64map_clear(struct u64map *m)
{
	free(m->slots);
	u64map_init(m);
}

static struct u64map_slot *find(const struct u64map *m, uint64_t key)
{
	if (!m->cap)
		return NULL;
	for (size_t i = hash(key) & (m->cap - 1), n = 0; n < m->cap; i = (i + 1) & (m->cap - 1), n++) {
		struct u64map_slot *s = &m->slots[i];
		if (s->state == EMPTY)
			return NULL;
		if (s->state == LIVE && s->key == key)
			return s;
	}
	return NULL;
}

/* Moves the live entries into a table of cap slots, dropping tombstones. */
static int rehash(struct u64map *m, size_t cap)
{
	struct u64map_slot *old = m->slots, *n = calloc(cap, sizeof(*n));
	size_t oldcap = m->cap;

	if (!n)
		return -ENOMEM;
	m->slots = n;
	m->cap = cap;
	m->used = m->live = 0;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].state == LIVE)
			u64map_put(m, old[i].key, old[i].value);
	free(old);
	return 0;
}

int u64map_put(struct u64map *m, uint64_t key, uint64_t value)
{
	struct u64map_slot *s = find(m, key);
	int r;

	if (s) {
		s->value = value;
		return 0;
	}
	if ((m->used + 1) * 2 > m->cap) {
		/* Full of tombstones but few live entries: same size, cleaned. */
		size_t cap = !m->cap ? 64 : (m->live + 1) * 4 > m->cap ? m->cap * 2 : m->cap;
		if ((r = rehash(m, cap)) < 0)
			return r;
	}
	for (size_t i = hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		s = &m->slots[i];
		if (s->state != LIVE) {
			if (s->state == EMPTY)
				m->used++;
			*s = (struct u64map_slot){ .key = key, .value = value, .state = LIVE };
			m->live++;
			return 0;
		}
	}
}

bool u64map_get(const struct u64map *m, uint64_t key, uint64_t *ret)
{
	struct u64map_slot *s = find(m, key);
	if (!s)
		return false;
	*ret = s->value;
	return true;
}

void u64map_del(struct u64map *m, uint64_t key)
{
	struct u64map_slot *s = find(m, key);
	if (s) {
		s->state = DEAD;
		m->live--;
	}
}

size_t u64map_size(const struct u64map *m) { return m->live; }
