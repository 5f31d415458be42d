/* SPDX-License-Identifier: ISC */
/*
 * fuzz-util: what the libFuzzer targets share.  A check that aborts
 * (libFuzzer keeps the input that made it fail), the deterministic
 * pseudo-random numbers, seeded from the input itself, that decide where
 * an input is cut into pieces, and the bounds check of a decoded view.
 */
#ifndef WUZHA_FUZZ_UTIL_H
#define WUZHA_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct proto_view;

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Abort, naming the condition and where it stands, unless c holds. */
#define CHECK(c) do {							\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,	\
		    __LINE__, #c);					\
		abort();						\
	}								\
} while (0)

/* A 64-bit FNV-1a hash of the bytes, made odd: a seed that is never 0. */
uint64_t	hash_bytes(const uint8_t *, size_t);
/* The next number of a xorshift generator whose state is *s (not 0). */
uint64_t	rng_next(uint64_t *s);
/*
 * The size of the next piece of an input cut at pseudo-random points:
 * from 1 to small bytes, but one time in eight from 1 to large.
 */
size_t		rng_piece(uint64_t *s, size_t small, size_t large);

/* Is the view empty, or wholly inside the n bytes at p? */
int		view_inside(const struct proto_view *, const uint8_t *p,
		    size_t n);

#endif
