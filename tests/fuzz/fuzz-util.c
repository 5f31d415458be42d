/* SPDX-License-Identifier: ISC */
/* fuzz-util: helpers of the libFuzzer targets; see fuzz-util.h. */

#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "fuzz-util.h"

uint64_t
hash_bytes(const uint8_t *p, size_t n)
{
	uint64_t	 h = 0xcbf29ce484222325ULL;
	size_t		 i;

	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h | 1;
}

uint64_t
rng_next(uint64_t *s)
{
	uint64_t	 x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

size_t
rng_piece(uint64_t *s, size_t small, size_t large)
{
	uint64_t	 x = rng_next(s);

	return 1 + (size_t)(x % ((x >> 32) % 8 == 0 ? large : small));
}

int
view_inside(const struct proto_view *v, const uint8_t *p, size_t n)
{
	if (v->len == 0)
		return 1;
	return v->p >= p && v->len <= n && v->p - p <= (ptrdiff_t)(n - v->len);
}
