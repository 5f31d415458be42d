/* SPDX-License-Identifier: ISC */
/*
 * htab: string-keyed hash table used by the tree cache, the alert cache
 * and anything else that maps ids to objects.  FNV-1a hashing; the table
 * doubles when the load passes one entry per slot.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "htab.h"
#include "log.h"

struct htab_ent {
	struct htab_ent	*next;
	void		*value;
	uint32_t	 hash;
	char		 key[];
};

static uint32_t
htab_hash(const char *s)
{
	uint32_t	h = 2166136261u;

	while (*s != '\0') {
		h ^= (uint8_t)*s++;
		h *= 16777619u;
	}
	return h;
}

void
htab_init(struct htab *t)
{
	t->slots = NULL;
	t->nslots = 0;
	t->count = 0;
}

void
htab_clear(struct htab *t, void (*fn)(void *))
{
	struct htab_ent	*e, *next;
	size_t		 i;

	for (i = 0; i < t->nslots; i++) {
		for (e = t->slots[i]; e != NULL; e = next) {
			next = e->next;
			if (fn != NULL)
				fn(e->value);
			free(e);
		}
	}
	free(t->slots);
	htab_init(t);
}

static struct htab_ent **
htab_find(const struct htab *t, const char *key, uint32_t h)
{
	struct htab_ent	**pp;

	if (t->nslots == 0)
		return NULL;
	for (pp = &t->slots[h & (t->nslots - 1)]; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->hash == h && strcmp((*pp)->key, key) == 0)
			return pp;
	return NULL;
}

void *
htab_get(const struct htab *t, const char *key)
{
	struct htab_ent	**pp = htab_find(t, key, htab_hash(key));

	return pp != NULL ? (*pp)->value : NULL;
}

/* Double the slot array and rehash every entry. */
static void
htab_grow(struct htab *t)
{
	struct htab_ent	**slots, *e, *next;
	size_t		  n = t->nslots ? t->nslots * 2 : 16, i;

	if ((slots = calloc(n, sizeof(*slots))) == NULL)
		fatal("htab grow");
	for (i = 0; i < t->nslots; i++) {
		for (e = t->slots[i]; e != NULL; e = next) {
			next = e->next;
			e->next = slots[e->hash & (n - 1)];
			slots[e->hash & (n - 1)] = e;
		}
	}
	free(t->slots);
	t->slots = slots;
	t->nslots = n;
}

void *
htab_put(struct htab *t, const char *key, void *value)
{
	uint32_t	  h = htab_hash(key);
	struct htab_ent	**pp, *e;
	size_t		  klen;
	void		 *old;

	if ((pp = htab_find(t, key, h)) != NULL) {
		old = (*pp)->value;
		(*pp)->value = value;
		return old;
	}
	if (t->count >= t->nslots)
		htab_grow(t);
	klen = strlen(key);
	if ((e = malloc(sizeof(*e) + klen + 1)) == NULL)
		fatal("htab put");
	memcpy(e->key, key, klen + 1);
	e->hash = h;
	e->value = value;
	e->next = t->slots[h & (t->nslots - 1)];
	t->slots[h & (t->nslots - 1)] = e;
	t->count++;
	return NULL;
}

void *
htab_del(struct htab *t, const char *key)
{
	struct htab_ent	**pp, *e;
	void		 *v;

	if ((pp = htab_find(t, key, htab_hash(key))) == NULL)
		return NULL;
	e = *pp;
	*pp = e->next;
	v = e->value;
	free(e);
	t->count--;
	return v;
}

void
htab_foreach(const struct htab *t, void (*fn)(void *, void *), void *arg)
{
	struct htab_ent	*e;
	size_t		 i;

	for (i = 0; i < t->nslots; i++)
		for (e = t->slots[i]; e != NULL; e = e->next)
			fn(e->value, arg);
}

void
htab_reserve(struct htab *t, size_t n)
{
	while (t->nslots < n)
		htab_grow(t);
}

size_t
htab_foreach_from(const struct htab *t, size_t slot, size_t max,
    void (*fn)(void *, void *), void *arg)
{
	struct htab_ent	*e;
	size_t		 done = 0;

	for (; slot < t->nslots && done < max; slot++)
		for (e = t->slots[slot]; e != NULL; e = e->next, done++)
			fn(e->value, arg);
	return slot;
}

size_t
htab_clear_from(struct htab *t, size_t slot, size_t max, void (*fn)(void *))
{
	struct htab_ent	*e, *next;
	size_t		 done = 0;

	for (; slot < t->nslots && done < max; slot++) {
		for (e = t->slots[slot]; e != NULL; e = next, done++) {
			next = e->next;
			if (fn != NULL)
				fn(e->value);
			free(e);
			t->count--;
		}
		t->slots[slot] = NULL;
	}
	return slot;
}
