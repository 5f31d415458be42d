/* SPDX-License-Identifier: ISC */
/*
 * htab: a small string-keyed hash table of pointers (separate chaining,
 * grows by doubling).  Keys are copied; values are owned by the caller.
 */
#ifndef WUZHA_HTAB_H
#define WUZHA_HTAB_H

#include <stddef.h>

struct htab_ent;

struct htab {
	struct htab_ent	**slots;
	size_t		  nslots;
	size_t		  count;
};

void	 htab_init(struct htab *);
/* Free the table and its keys; fn, if not NULL, is called on each value. */
void	 htab_clear(struct htab *, void (*fn)(void *));
void	*htab_get(const struct htab *, const char *key);
/* Insert or replace; returns the old value or NULL.  Aborts on ENOMEM. */
void	*htab_put(struct htab *, const char *key, void *value);
void	*htab_del(struct htab *, const char *key);
/* Call fn on every value, in no particular order; fn must not modify. */
void	 htab_foreach(const struct htab *, void (*fn)(void *value, void *arg),
	    void *arg);

/* Slots for n entries at one per slot, so that filling it never rehashes. */
void	 htab_reserve(struct htab *, size_t n);
/*
 * One slice of a walk: fn on the values in the slots from slot on, until
 * about max were seen (a slot's chain is never split).  Returns the slot
 * to go on from; t->nslots when the walk is over.
 */
size_t	 htab_foreach_from(const struct htab *, size_t slot, size_t max,
	    void (*fn)(void *value, void *arg), void *arg);
/*
 * One slice of a clear: entries of the slots from slot on are freed (fn
 * on each value first).  Returns as htab_foreach_from; once it returns
 * t->nslots, htab_clear frees the slots.
 */
size_t	 htab_clear_from(struct htab *, size_t slot, size_t max,
	    void (*fn)(void *));

#endif
