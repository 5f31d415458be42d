/* SPDX-License-Identifier: ISC */
/*
 * field: the strict decoder and the matching encoder for canonical field
 * lists, driven by the tables in msg.c and alert.c, and the checks on
 * identifiers and text they rely on.  Anything that is not the one
 * canonical encoding of some value is refused, with the error code that
 * names the first deviation found (see PROTOCOL.md, "Canonical rules").
 */

#include <stdint.h>
#include <string.h>

#include "proto.h"
#include "field.h"
#include "utf8.h"

static uint16_t
field_get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint64_t
field_getn(const uint8_t *p, size_t n)
{
	uint64_t	 v = 0;

	while (n-- > 0)
		v = (v << 8) | *p++;
	return v;
}

int
proto_node_id_valid(const char *s, size_t len)
{
	size_t		 i;

	if (s == NULL || len == 0 || len > PROTO_ID_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	}
	return 1;
}

int
proto_name_valid(const char *s, size_t len)
{
	size_t		 i;

	if (s == NULL || len == 0 || len > PROTO_ID_MAX ||
	    s[0] == '.' || s[0] == '-')
		return 0;
	for (i = 0; i < len; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return 0;
	}
	return 1;
}

/* Well-formed UTF-8 (common/utf8.c's rules) and, our rule, no NUL. */
int
proto_utf8_valid(const uint8_t *p, size_t len)
{
	if (p == NULL)
		return len == 0;
	return memchr(p, '\0', len) == NULL && utf8_check(p, len, NULL) == 0;
}

static size_t
field_width(int kind)
{
	switch (kind) {
	case FIELD_U8:
		return 1;
	case FIELD_U16:
		return 2;
	case FIELD_U32:
		return 4;
	case FIELD_U64:
		return 8;
	}
	return 0;
}

/* Store an integer of the field's kind at its place in the struct. */
static void
field_store_int(const struct field_spec *f, void *out, uint64_t v)
{
	uint8_t		*p = (uint8_t *)out + f->off;
	uint8_t		 v8 = (uint8_t)v;
	uint16_t	 v16 = (uint16_t)v;
	uint32_t	 v32 = (uint32_t)v;

	switch (f->kind) {
	case FIELD_U8:
		memcpy(p, &v8, sizeof(v8));
		break;
	case FIELD_U16:
		memcpy(p, &v16, sizeof(v16));
		break;
	case FIELD_U32:
		memcpy(p, &v32, sizeof(v32));
		break;
	default:
		memcpy(p, &v, sizeof(v));
		break;
	}
}

static uint64_t
field_load_int(const struct field_spec *f, const void *in)
{
	const uint8_t	*p = (const uint8_t *)in + f->off;
	uint8_t		 v8;
	uint16_t	 v16;
	uint32_t	 v32;
	uint64_t	 v64;

	switch (f->kind) {
	case FIELD_U8:
		memcpy(&v8, p, sizeof(v8));
		return v8;
	case FIELD_U16:
		memcpy(&v16, p, sizeof(v16));
		return v16;
	case FIELD_U32:
		memcpy(&v32, p, sizeof(v32));
		return v32;
	default:
		memcpy(&v64, p, sizeof(v64));
		return v64;
	}
}

/* Check one value against its field; 0 or a PROTO_E_* code. */
static int
field_check(const struct field_spec *f, const uint8_t *v, size_t n)
{
	size_t		 w;

	switch (f->kind) {
	case FIELD_U8:
	case FIELD_U16:
	case FIELD_U32:
	case FIELD_U64:
		w = field_width(f->kind);
		if (n != w)
			return PROTO_E_FIELD;
		if (field_getn(v, w) < f->lo || field_getn(v, w) > f->hi)
			return PROTO_E_VALUE;
		return 0;
	case FIELD_NAME:
	case FIELD_NODE:
		if (n > PROTO_ID_MAX)
			return PROTO_E_TOO_LONG;
		if (f->kind == FIELD_NAME ?
		    !proto_name_valid((const char *)v, n) :
		    !proto_node_id_valid((const char *)v, n))
			return PROTO_E_VALUE;
		return 0;
	case FIELD_TEXT:
		if (n > f->hi)
			return PROTO_E_TOO_LONG;
		if (n < f->lo)
			return PROTO_E_VALUE;
		if (!proto_utf8_valid(v, n))
			return PROTO_E_UTF8;
		return 0;
	case FIELD_BYTES:
		if (n > f->hi)
			return PROTO_E_TOO_LONG;
		if (n < f->lo)
			return PROTO_E_VALUE;
		return 0;
	case FIELD_LIST:
		if (n > f->hi)
			return PROTO_E_TOO_LONG;
		return -field_list_check(f->item, v, n);
	}
	return PROTO_E_INTERNAL;
}

/* Is this the zero / empty value an optional field must not be sent with? */
static int
field_is_zero(const struct field_spec *f, const uint8_t *v, size_t n)
{
	if (field_width(f->kind) != 0)
		return field_getn(v, n) == 0;
	return n == 0;
}

/*
 * Decode a field list strictly into out (which may be NULL: check only).
 * Returns 0 or -PROTO_E_*: FIELD for a truncated header, a length past
 * the end, tags not strictly ascending, a wrong integer width or a zero
 * optional value; TAG for an unknown tag; MISSING for a required field
 * absent; and what the value checks say (VALUE, TOO_LONG, UTF8).
 */
int
field_decode(const struct field_schema *s, const uint8_t *p, size_t len,
    void *out)
{
	const struct field_spec	*f;
	uint8_t			 seen[256];
	size_t			 pos = 0, si = 0, i, n;
	int			 last = -1, tag, rc;
	struct proto_view	 view;

	if (out != NULL)
		memset(out, 0, s->size);
	memset(seen, 0, sizeof(seen));
	if (p == NULL && len > 0)
		return -PROTO_E_INTERNAL;
	while (pos < len) {
		if (len - pos < PROTO_FIELD_HDR)
			return -PROTO_E_FIELD;
		tag = p[pos];
		n = field_get16(p + pos + 1);
		pos += PROTO_FIELD_HDR;
		if (n > len - pos)
			return -PROTO_E_FIELD;
		if (tag <= last)
			return -PROTO_E_FIELD;
		last = tag;
		while (si < s->n && s->spec[si].tag < tag)
			si++;
		if (si == s->n || s->spec[si].tag != tag)
			return -PROTO_E_TAG;
		f = &s->spec[si];
		if (!(f->flags & (FIELD_REQ | FIELD_HAS)) &&
		    field_is_zero(f, p + pos, n) &&
		    (field_width(f->kind) == 0 || n == field_width(f->kind)))
			return -PROTO_E_FIELD;
		if ((rc = field_check(f, p + pos, n)) != 0)
			return -rc;
		seen[si] = 1;
		if (out != NULL) {
			switch (f->kind) {
			case FIELD_NAME:
			case FIELD_NODE:
				memcpy((uint8_t *)out + f->off, p + pos, n);
				((char *)out)[f->off + n] = '\0';
				break;
			case FIELD_TEXT:
			case FIELD_BYTES:
			case FIELD_LIST:
				view.p = p + pos;
				view.len = n;
				memcpy((uint8_t *)out + f->off, &view,
				    sizeof(view));
				break;
			default:
				field_store_int(f, out,
				    field_getn(p + pos, n));
				break;
			}
			if (f->flags & FIELD_HAS)
				*(int *)(void *)((uint8_t *)out +
				    f->has_off) = 1;
		}
		pos += n;
	}
	for (i = 0; i < s->n; i++) {
		if ((s->spec[i].flags & FIELD_REQ) && !seen[i])
			return -PROTO_E_MISSING;
	}
	return 0;
}

/*
 * Next item of a list value: 1 with *out filled, 0 at the end, or
 * -PROTO_E_* (an item length past the end, or a bad item).
 */
int
field_list_next(const struct field_schema *s, const struct proto_view *v,
    size_t *cursor, void *out)
{
	size_t		 n;
	int		 rc;

	if (*cursor == v->len)
		return 0;
	if (*cursor > v->len || v->len - *cursor < 2)
		return -PROTO_E_FIELD;
	n = field_get16(v->p + *cursor);
	if (n > v->len - *cursor - 2)
		return -PROTO_E_FIELD;
	if ((rc = field_decode(s, v->p + *cursor + 2, n, out)) != 0)
		return rc;
	*cursor += 2 + n;
	return 1;
}

/* Check every item of a list value; 0 or -PROTO_E_*. */
int
field_list_check(const struct field_schema *s, const uint8_t *p, size_t len)
{
	struct proto_view	 v;
	size_t			 cursor = 0;
	int			 rc;

	v.p = p;
	v.len = len;
	while ((rc = field_list_next(s, &v, &cursor, NULL)) == 1)
		;
	return rc;
}

/*
 * Encode the struct in as a field list, in table order.  Required
 * fields are always written; optional ones only when not zero or empty
 * (or, with FIELD_HAS, when their flag is set).  A value the decoder
 * would refuse is refused here too, with the same code in b->err.
 */
void
field_encode(struct proto_buf *b, const struct field_schema *s,
    const void *in)
{
	const struct field_spec	*f;
	const uint8_t		*v;
	uint8_t			 num[8];
	struct proto_view	 view;
	uint64_t		 x;
	size_t			 i, n, w;
	int			 rc, has;

	for (i = 0; i < s->n && b->err == 0; i++) {
		f = &s->spec[i];
		w = field_width(f->kind);
		if (w != 0) {
			x = field_load_int(f, in);
			for (n = 0; n < w; n++)
				num[n] = (uint8_t)(x >> (8 * (w - 1 - n)));
			v = num;
			n = w;
		} else if (f->kind == FIELD_NAME || f->kind == FIELD_NODE) {
			v = (const uint8_t *)in + f->off;
			n = strnlen((const char *)v, PROTO_ID_MAX + 1);
		} else {
			memcpy(&view, (const uint8_t *)in + f->off,
			    sizeof(view));
			v = view.p;
			n = view.len;
			if (v == NULL && n > 0) {
				pbuf_fail(b, PROTO_E_INTERNAL);
				return;
			}
		}
		if (f->flags & FIELD_HAS)
			has = *(const int *)(const void *)((const uint8_t *)in +
			    f->has_off);
		else
			has = (f->flags & FIELD_REQ) || !field_is_zero(f, v, n);
		if (!has)
			continue;
		if ((rc = field_check(f, v, n)) != 0) {
			pbuf_fail(b, rc);
			return;
		}
		pbuf_bytes(b, f->tag, v, n);
	}
}
