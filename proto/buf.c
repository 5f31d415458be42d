/* SPDX-License-Identifier: ISC */
/*
 * buf: the growable output buffer every encoder writes into.  Field
 * writers enforce ascending tags and the 16-bit length limit; lists,
 * items and frames reserve their length words and patch them when the
 * contents are known.  The first failure is kept in err and turns every
 * later call into a no-op, so callers check once, at the end.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "field.h"

#define PBUF_MIN	256		/* first allocation, bytes */

static void
pbuf_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
pbuf_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void
pbuf_init(struct proto_buf *b)
{
	memset(b, 0, sizeof(*b));
	b->last_tag = -1;
}

void
pbuf_free(struct proto_buf *b)
{
	if (b == NULL)
		return;
	free(b->data);
	pbuf_init(b);
}

void
pbuf_fail(struct proto_buf *b, int err)
{
	if (b->err == 0)
		b->err = err;
}

/* Make room for n more bytes; 0, or -1 with err set. */
static int
pbuf_reserve(struct proto_buf *b, size_t n)
{
	uint8_t		*p;
	size_t		 cap;

	if (b->err != 0)
		return -1;
	if (n > SIZE_MAX - b->len) {
		pbuf_fail(b, ENOMEM);
		return -1;
	}
	if (b->len + n <= b->cap)
		return 0;
	cap = b->cap ? b->cap : PBUF_MIN;
	while (cap < b->len + n) {
		if (cap > SIZE_MAX / 2) {
			cap = b->len + n;
			break;
		}
		cap *= 2;
	}
	if ((p = realloc(b->data, cap)) == NULL) {
		pbuf_fail(b, ENOMEM);
		return -1;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

/*
 * Hand over the bytes: the caller frees them.  NULL if the buffer holds
 * an error (the bytes are then dropped).  The buffer is reset either way.
 */
uint8_t *
pbuf_take(struct proto_buf *b, size_t *len)
{
	uint8_t		*p;

	if (b->err != 0) {
		pbuf_free(b);
		*len = 0;
		return NULL;
	}
	if (b->data == NULL && (b->data = malloc(1)) == NULL) {
		pbuf_init(b);
		*len = 0;
		return NULL;
	}
	p = b->data;
	*len = b->len;
	pbuf_init(b);
	return p;
}

void
pbuf_raw(struct proto_buf *b, const void *p, size_t n)
{
	if (n == 0 || pbuf_reserve(b, n) == -1)
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

/* Write a field header after checking order and length. */
static int
pbuf_field(struct proto_buf *b, uint8_t tag, size_t n)
{
	uint8_t		 hdr[PROTO_FIELD_HDR];

	if (b->err != 0)
		return -1;
	if ((int)tag <= b->last_tag) {
		pbuf_fail(b, PROTO_E_FIELD);
		return -1;
	}
	if (n > UINT16_MAX) {
		pbuf_fail(b, PROTO_E_TOO_LONG);
		return -1;
	}
	if (pbuf_reserve(b, PROTO_FIELD_HDR + n) == -1)
		return -1;
	hdr[0] = tag;
	pbuf_put16(hdr + 1, (uint16_t)n);
	pbuf_raw(b, hdr, sizeof(hdr));
	b->last_tag = tag;
	return 0;
}

void
pbuf_u8(struct proto_buf *b, uint8_t tag, uint8_t v)
{
	if (pbuf_field(b, tag, 1) == 0)
		pbuf_raw(b, &v, 1);
}

void
pbuf_u16(struct proto_buf *b, uint8_t tag, uint16_t v)
{
	uint8_t		 p[2];

	pbuf_put16(p, v);
	if (pbuf_field(b, tag, sizeof(p)) == 0)
		pbuf_raw(b, p, sizeof(p));
}

void
pbuf_u32(struct proto_buf *b, uint8_t tag, uint32_t v)
{
	uint8_t		 p[4];

	pbuf_put32(p, v);
	if (pbuf_field(b, tag, sizeof(p)) == 0)
		pbuf_raw(b, p, sizeof(p));
}

void
pbuf_u64(struct proto_buf *b, uint8_t tag, uint64_t v)
{
	uint8_t		 p[8];

	pbuf_put32(p, (uint32_t)(v >> 32));
	pbuf_put32(p + 4, (uint32_t)v);
	if (pbuf_field(b, tag, sizeof(p)) == 0)
		pbuf_raw(b, p, sizeof(p));
}

void
pbuf_bytes(struct proto_buf *b, uint8_t tag, const void *p, size_t n)
{
	if (p == NULL && n > 0) {
		pbuf_fail(b, PROTO_E_INTERNAL);
		return;
	}
	if (pbuf_field(b, tag, n) == 0)
		pbuf_raw(b, p, n);
}

void
pbuf_str(struct proto_buf *b, uint8_t tag, const char *s)
{
	if (s != NULL)
		pbuf_bytes(b, tag, s, strlen(s));
}

/*
 * Open a list field: its header with a length to be patched by
 * pbuf_list_end.  Returns the mark (offset of the field header).
 */
size_t
pbuf_list_begin(struct proto_buf *b, uint8_t tag)
{
	size_t		 mark = b->len;

	pbuf_field(b, tag, 0);
	return mark;
}

/* Open one item of a list: a length word, then a fresh field list. */
size_t
pbuf_item_begin(struct proto_buf *b)
{
	static const uint8_t	 zero[2];
	size_t			 mark = b->len;

	pbuf_raw(b, zero, sizeof(zero));
	b->last_tag = -1;
	return mark;
}

void
pbuf_item_end(struct proto_buf *b, size_t mark)
{
	size_t		 n;

	if (b->err != 0)
		return;
	if (mark > b->len || b->len - mark < 2) {
		pbuf_fail(b, PROTO_E_INTERNAL);
		return;
	}
	n = b->len - mark - 2;
	if (n > UINT16_MAX) {
		pbuf_fail(b, PROTO_E_TOO_LONG);
		return;
	}
	pbuf_put16(b->data + mark, (uint16_t)n);
}

/* Close a list: patch its length; later fields must follow its tag. */
void
pbuf_list_end(struct proto_buf *b, size_t mark, uint8_t tag)
{
	size_t		 n;

	if (b->err != 0)
		return;
	if (mark > b->len || b->len - mark < PROTO_FIELD_HDR ||
	    b->data[mark] != tag) {
		pbuf_fail(b, PROTO_E_INTERNAL);
		return;
	}
	n = b->len - mark - PROTO_FIELD_HDR;
	if (n > UINT16_MAX) {
		pbuf_fail(b, PROTO_E_TOO_LONG);
		return;
	}
	pbuf_put16(b->data + mark + 1, (uint16_t)n);
	b->last_tag = tag;
}

/* Reserve a frame header; the payload's field list starts afresh. */
size_t
pbuf_frame_begin(struct proto_buf *b)
{
	static const uint8_t	 zero[PROTO_FRAME_HDR];
	size_t			 mark = b->len;

	pbuf_raw(b, zero, sizeof(zero));
	b->last_tag = -1;
	return mark;
}

/* Fill the frame header: length of type and payload, then the type. */
void
pbuf_frame_end(struct proto_buf *b, size_t mark, uint8_t type)
{
	size_t		 n;

	if (b->err != 0)
		return;
	if (mark > b->len || b->len - mark < PROTO_FRAME_HDR) {
		pbuf_fail(b, PROTO_E_INTERNAL);
		return;
	}
	n = b->len - mark - 4;
	if (n > PROTO_FRAME_MAX_LIMIT) {
		pbuf_fail(b, PROTO_E_FRAME_SIZE);
		return;
	}
	pbuf_put32(b->data + mark, (uint32_t)n);
	b->data[mark + 4] = type;
	b->last_tag = -1;
}
