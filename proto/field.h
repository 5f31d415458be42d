/* SPDX-License-Identifier: ISC */
/*
 * field: the schema-driven field codec shared by the message and alert
 * code.  Each message is described by a table of its fields (tag, kind,
 * whether required, limits, where it lives in the C struct); one decoder
 * and one encoder walk that table, so that what is refused on input and
 * what is written on output follow the same rules.  Private to proto/.
 */
#ifndef WUZHA_PROTO_FIELD_H
#define WUZHA_PROTO_FIELD_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* What a field holds on the wire and in its struct. */
enum field_kind {
	FIELD_U8,		/* 1 byte; uint8_t */
	FIELD_U16,		/* 2 bytes big-endian; uint16_t */
	FIELD_U32,		/* 4 bytes big-endian; uint32_t */
	FIELD_U64,		/* 8 bytes big-endian; uint64_t */
	FIELD_NAME,		/* alert id or CN; proto_id, proto_name_valid */
	FIELD_NODE,		/* node id; proto_id, proto_node_id_valid */
	FIELD_TEXT,		/* UTF-8 without NUL; struct proto_view */
	FIELD_BYTES,		/* opaque; struct proto_view */
	FIELD_LIST,		/* items of another schema; struct proto_view */
};

/* Field flags. */
#define FIELD_REQ	0x01	/* must be present; always written */
#define FIELD_HAS	0x02	/* optional; presence in the int at has_off */

/*
 * One field.  For integers lo..hi is the range of values allowed; for
 * the other kinds it is the range of lengths in bytes.  An optional
 * field without FIELD_HAS is present exactly when its value is not
 * zero or empty, so an optional field sent with a zero or empty value
 * is refused as non-canonical.
 */
struct field_spec {
	uint8_t			 tag;
	uint8_t			 kind;		/* enum field_kind */
	uint8_t			 flags;		/* FIELD_* */
	uint64_t		 lo;
	uint64_t		 hi;
	size_t			 off;		/* offsetof in the struct */
	size_t			 has_off;	/* with FIELD_HAS: the int */
	const struct field_schema *item;	/* FIELD_LIST: item schema */
};

/* A field list: its fields in ascending tag order, and its struct size. */
struct field_schema {
	const char		*name;
	const struct field_spec	*spec;
	size_t			 n;
	size_t			 size;
};

#define FIELD_NSPEC(a)	(sizeof(a) / sizeof((a)[0]))

/* Table entries: tag, flags, (range,) struct type, member. */
#define F_ANY(t, k, fl, l, h, st, m) \
	{ (t), (k), (fl), (l), (h), offsetof(st, m), 0, NULL }
#define F_U8(t, fl, l, h, st, m)	F_ANY(t, FIELD_U8, fl, l, h, st, m)
#define F_U16(t, fl, st, m)	F_ANY(t, FIELD_U16, fl, 0, UINT16_MAX, st, m)
#define F_U32(t, fl, st, m)	F_ANY(t, FIELD_U32, fl, 0, UINT32_MAX, st, m)
#define F_U64(t, fl, st, m)	F_ANY(t, FIELD_U64, fl, 0, UINT64_MAX, st, m)
#define F_NAME(t, fl, st, m)	F_ANY(t, FIELD_NAME, fl, 1, PROTO_ID_MAX, st, m)
#define F_NODE(t, fl, st, m)	F_ANY(t, FIELD_NODE, fl, 1, PROTO_ID_MAX, st, m)
#define F_TEXT(t, fl, l, h, st, m) F_ANY(t, FIELD_TEXT, fl, l, h, st, m)
#define F_BYTES(t, fl, h, st, m) F_ANY(t, FIELD_BYTES, fl, 0, h, st, m)
#define F_LIST(t, fl, it, st, m) \
	{ (t), FIELD_LIST, (fl), 0, UINT16_MAX, offsetof(st, m), 0, (it) }
#define F_U32_HAS(t, st, m, h) \
	{ (t), FIELD_U32, FIELD_HAS, 0, UINT32_MAX, offsetof(st, m), \
	    offsetof(st, h), NULL }

int	field_decode(const struct field_schema *, const uint8_t *, size_t,
	    void *);
void	field_encode(struct proto_buf *, const struct field_schema *,
	    const void *);
int	field_list_next(const struct field_schema *, const struct proto_view *,
	    size_t *, void *);
int	field_list_check(const struct field_schema *, const uint8_t *, size_t);

/* buf.c: record the first error of a buffer; later calls are no-ops. */
void	pbuf_fail(struct proto_buf *, int);

/* Write a refusal's reason into why, if the caller asked for one (sign.c). */
void	proto_why(char *why, size_t whylen, const char *fmt, ...)
	    __attribute__((__format__(__printf__, 3, 4)));

#endif
