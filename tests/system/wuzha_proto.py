# SPDX-License-Identifier: ISC
"""
An independent Python implementation of the wuzha wire format, written from
proto/proto.h and proto/PROTOCOL.md rather than from the C code, so that the
system tests can both speak the protocol and break it on purpose: frames,
canonical fields, messages, the alert body, signed envelopes, certificates
made on the fly, a frame-by-frame TLS client, and a rogue daemon that serves
forged alerts to a real wuzha-agent.
"""

import datetime
import hashlib
import os
import re
import select
import socket
import ssl
import struct
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VERSION = 1
FRAME_HDR = 5
FRAME_MAX_DEFAULT = 64 * 1024
SIG_CONTEXT = b"wuzha-alert-v1"
SIG_LEN = 64
RECEIPT_CONTEXT = b"wuzha-receipt-v1"   # receipts: signed acks
RECEIPT_VERSION = 1
HASH_LEN = 32

# Message types.
HELLO = 0x01
WELCOME = 0x02
PUBLISH = 0x10
PUBLISHED = 0x11
ALERT = 0x12
ACK = 0x20
ACK_OK = 0x21
RECEIPTS_REQ = 0x38
RECEIPTS = 0x39
ESCALATION = 0x13
STATUS_REQ = 0x30
STATUS = 0x31
AGENTS_REQ = 0x32
AGENTS = 0x33
SCHEDULE_REQ = 0x34
SCHEDULE = 0x35
REPORT_REQ = 0x36
REPORT = 0x37
AUDIT_REQ = 0x3A
AUDIT = 0x3B
# CAP export (cap)
ENVELOPE_REQ = 0x3C
ENVELOPE = 0x3D
# clues reported upward (PROTOCOL.md, "Clues")
CLUE = 0x50
CLUE_OK = 0x51
CLUE_PUSH = 0x52
CLUE_MARK = 0x53
CLUES_REQ = 0x54
CLUES = 0x55
PING = 0x40
PONG = 0x41
ERROR = 0x7E
BYE = 0x7F

TYPE_NAMES = {
    HELLO: "HELLO", WELCOME: "WELCOME", PUBLISH: "PUBLISH",
    PUBLISHED: "PUBLISHED", ALERT: "ALERT", ACK: "ACK", ACK_OK: "ACK_OK",
    STATUS_REQ: "STATUS_REQ", STATUS: "STATUS", PING: "PING", PONG: "PONG",
    ERROR: "ERROR", BYE: "BYE", ESCALATION: "ESCALATION",
    AGENTS_REQ: "AGENTS_REQ", AGENTS: "AGENTS",
    SCHEDULE_REQ: "SCHEDULE_REQ", SCHEDULE: "SCHEDULE",
    REPORT_REQ: "REPORT_REQ", REPORT: "REPORT",
    RECEIPTS_REQ: "RECEIPTS_REQ", RECEIPTS: "RECEIPTS",
    AUDIT_REQ: "AUDIT_REQ", AUDIT: "AUDIT",
    ENVELOPE_REQ: "ENVELOPE_REQ", ENVELOPE: "ENVELOPE",
    CLUE: "CLUE", CLUE_OK: "CLUE_OK", CLUE_PUSH: "CLUE_PUSH",
    CLUE_MARK: "CLUE_MARK", CLUES_REQ: "CLUES_REQ", CLUES: "CLUES",
}

# Error codes by their stable names (PROTOCOL.md, "Error codes").
E = {
    "bad-frame": 100, "frame-too-large": 101, "unknown-type": 102,
    "non-canonical": 103, "missing-field": 104, "bad-utf8": 105,
    "too-long": 106, "out-of-order": 107, "bad-version": 108,
    "unknown-tag": 109, "bad-value": 110, "timeout": 111,
    "not-a-principal": 200, "forbidden": 201, "limit": 202,
    "cert-revoked": 203,
    "bad-signature": 300, "bad-certificate": 301, "issuer-mismatch": 302,
    "target-not-allowed": 303, "unknown-node": 304, "clock-skew": 305,
    "bad-expiry": 306, "duplicate-id": 307, "unknown-alert": 308,
    "bad-reference": 309, "not-an-issuer": 310, "not-addressed": 400,
    "bad-receipt": 311,
    "stale-receipt": 312,
    "unsigned-ack": 313,
    "ack-backwards": 401,
    "audit-range": 330, "audit-entry-too-large": 331,
    "bad-clue": 320, "unknown-clue": 321, "clue-backwards": 322,
    "clue-not-yours": 323, "clue-limit": 324, "duplicate-clue": 325,
    "internal": 500, "store-unavailable": 501, "shutting-down": 502,
    # CAP 1.2 documents (cap; wuzhactl's own, never on the wire)
    "cap-bad-xml": 340, "cap-doctype": 341, "cap-bad-element": 342,
    "cap-bad-value": 343, "cap-bad-time": 344, "cap-not-sender": 345,
}
ERR_NAMES = {v: k for k, v in E.items()}
E_FRAME_SIZE = 101
E_STATE = 107
E_VERSION = 108
E_TAG = 109
E_VALUE = 110
E_PRINCIPAL = 200
E_FORBIDDEN = 201
E_SIGNATURE = 300
E_CERT = 301
E_ISSUER = 302
E_TARGET = 303
E_NODE = 304
E_SKEW = 305
E_DUPLICATE = 307
E_UNKNOWN_ALERT = 308
E_NOT_ADDRESSED = 400
E_BACKWARDS = 401

ROLE_AGENT = 1
ROLE_CONSOLE = 2

ACK_NONE, ACK_DELIVERED, ACK_READ, ACK_RELAYED, ACK_SHOWN = 0, 1, 2, 3, 4
# States are ordered by rank, not by value: shown (4) lies between
# delivered and read.
ACK_RANK = {ACK_NONE: 0, ACK_DELIVERED: 1, ACK_SHOWN: 2, ACK_READ: 3,
            ACK_RELAYED: 4}
ACK_NAMES = {ACK_NONE: "none", ACK_DELIVERED: "delivered", ACK_SHOWN: "shown",
             ACK_READ: "read", ACK_RELAYED: "relayed"}


def ack_rank(state):
    """Where state stands in none < delivered < shown < read < relayed."""
    return ACK_RANK[state]


ACK_QUIET = 0x01        # ACK flag: no ACK_OK wanted

R_RECEIVE, R_ISSUE, R_OBSERVE = 0x01, 0x02, 0x04

SF_MEMBERS, SF_WATCH = 0x01, 0x02
SO_TREE, SO_WORST = 0, 1                 # STATUS_REQ order
DEPTH_ALL = 255                          # STATUS_REQ depth: the whole subtree

MSG_ALERT, MSG_UPDATE, MSG_CANCEL = 1, 2, 3
STATUS_ACTUAL, STATUS_EXERCISE, STATUS_TEST = 0, 1, 2
LIFE_LIVE, LIFE_CANCELLED, LIFE_EXPIRED = 0, 1, 2   # STATUS lifecycle
STATUSES = {"actual": 0, "exercise": 1, "test": 2}
CATEGORIES = {"warning": 1, "knowledge": 2, "case-followup": 3}
SEVERITIES = {"extreme": 1, "severe": 2, "moderate": 3, "minor": 4,
              "unknown": 5}


class ProtoError(Exception):
    """
    Bytes that are not canonical wuzha (or an envelope that does not
    verify).  code is the error code PROTOCOL.md gives for the first rule
    broken, 0 when no code applies.
    """

    def __init__(self, code, why=""):
        super().__init__("%s (%d): %s" % (ERR_NAMES.get(code, "?"), code, why))
        self.code = code
        self.why = why


# --- fields ---------------------------------------------------------------

def field(tag, value):
    """One field: u8 tag, u16 BE length, value bytes."""
    if not 0 <= tag <= 255:
        raise ValueError("tag out of range")
    if len(value) > 0xFFFF:
        raise ValueError("field value too long")
    return struct.pack(">BH", tag, len(value)) + value


def u8(v):
    return struct.pack(">B", v)


def u16(v):
    return struct.pack(">H", v)


def u32(v):
    return struct.pack(">I", v)


def u64(v):
    return struct.pack(">Q", v)


def text(s):
    return s.encode("utf-8") if isinstance(s, str) else bytes(s)


def fields(pairs, check=True):
    """
    Encode (tag, bytes) pairs as a field list.  With check, refuse what a
    canonical encoder never writes (tags not strictly ascending); tests
    that want non-canonical bytes pass check=False.
    """
    out = b""
    last = -1
    for tag, value in pairs:
        if check and tag <= last:
            raise ValueError("tags not strictly ascending: %d after %d"
                             % (tag, last))
        last = tag
        out += field(tag, value)
    return out


def list_value(items):
    """A list field's value: each item a u16 length and a field list."""
    out = b""
    for item in items:
        out += u16(len(item)) + item
    return out


def parse_list(buf):
    items = []
    i = 0
    while i < len(buf):
        if len(buf) - i < 2:
            raise ProtoError(103, "truncated list item length")
        (n,) = struct.unpack_from(">H", buf, i)
        i += 2
        if len(buf) - i < n:
            raise ProtoError(103, "list item runs past the end")
        items.append(bytes(buf[i:i + n]))
        i += n
    return items


# --- frames ---------------------------------------------------------------

def frame(mtype, payload=b""):
    """u32 BE length of what follows (type + payload), u8 type, payload."""
    return struct.pack(">IB", 1 + len(payload), mtype) + payload


def frame_header(hdr, max_len=FRAME_MAX_DEFAULT):
    """(type, payload length) from 5 header bytes, or ProtoError 100/101."""
    n, t = struct.unpack_from(">IB", hdr, 0)
    if n == 0:
        raise ProtoError(100, "frame length 0")
    if n > max_len:
        raise ProtoError(101, "frame length %d above %d" % (n, max_len))
    return t, n - 1


# --- the tables of PROTOCOL.md ---------------------------------------------

class F:
    """
    One row of a field table.  kind: u8 u16 u32 u64 (lo..hi range),
    node, name (ids), text (lo..hi bytes), bytes (..hi bytes), or a list
    whose items follow the table in `items`.  keep_zero: an optional field
    whose presence means something even when zero (ACK reach).
    """

    def __init__(self, tag, name, kind, req=True, lo=None, hi=None,
                 items=None, keep_zero=False):
        self.tag, self.name, self.kind, self.req = tag, name, kind, req
        self.lo, self.hi, self.items = lo, hi, items
        self.keep_zero = keep_zero


def _table(*rows):
    return {r.tag: r for r in rows}


T_STATUS_NODE = _table(
    F(1, "node", "node"), F(2, "parent", "node", False),
    F(3, "tier", "u8", lo=0, hi=3), F(4, "name", "text", hi=256),
    F(5, "targeted", "u32"), F(6, "delivered", "u32"), F(7, "read", "u32"),
    F(8, "relayed", "u32"), F(9, "reach", "u32"),
    F(10, "depth", "u8", False, lo=1, hi=6), F(11, "shown", "u32", False))
# Receipts (PROTOCOL.md, "Receipts"): the signed body, its stored form,
# and one item of a RECEIPTS list.
T_RECEIPT_BODY = _table(
    F(1, "version", "u8", lo=1, hi=255), F(2, "id", "name"),
    F(3, "env_hash", "bytes", lo=32, hi=32), F(4, "state", "u8", lo=1, hi=4),
    F(5, "reach", "u32", False, keep_zero=True), F(6, "at", "u64"),
    F(7, "principal", "name"))
T_STORED_RECEIPT = _table(
    F(1, "body", "bytes", hi=512), F(2, "cert_fp", "bytes", lo=32, hi=32),
    F(3, "sig", "bytes", lo=64, hi=64))
T_RECEIPT_ITEM = _table(
    F(1, "cn", "name"), F(2, "state", "u8", lo=1, hi=4),
    F(3, "receipt", "bytes", hi=512 + 9 + 96),
    F(4, "cert", "bytes", False, hi=8192))
T_STATUS_MEMBER = _table(
    F(1, "cn", "name"), F(2, "node", "node"), F(3, "state", "u8", lo=0, hi=4),
    F(4, "at", "u64", False), F(5, "online", "u8", False, lo=0, hi=1))
T_AGENT_ITEM = _table(
    F(1, "cn", "name"), F(2, "node", "node"), F(3, "rights", "u8", lo=0, hi=7),
    F(4, "online", "u32", False), F(5, "since", "u64", False),
    F(6, "last_seen", "u64", False), F(7, "server", "name", False))
T_SCHEDULE_ITEM = _table(
    F(1, "id", "name"), F(2, "issuer", "name"), F(3, "target", "node"),
    F(4, "msg_type", "u8", lo=1, hi=3), F(5, "publish_at", "u64"),
    F(6, "expires_at", "u64"), F(7, "headline", "text", lo=1, hi=512),
    F(8, "status", "u8", False, lo=0, hi=2))
T_REPORT_ROW = _table(
    F(1, "node", "node"), F(2, "parent", "node", False),
    F(3, "tier", "u8", lo=0, hi=3), F(4, "name", "text", hi=256),
    F(5, "alerts", "u32"), F(6, "targeted", "u32"),
    F(7, "delivered", "u32"), F(8, "read", "u32"), F(9, "relayed", "u32"),
    F(10, "delivered_in_time", "u32"), F(11, "read_in_time", "u32"),
    F(12, "relayed_in_time", "u32"), F(13, "median_read_ms", "u64", False),
    F(14, "drill_alerts", "u32", False), F(15, "drill_targeted", "u32", False),
    F(16, "drill_delivered", "u32", False), F(17, "drill_read", "u32", False),
    F(18, "drill_relayed", "u32", False), F(19, "shown", "u32", False),
    F(20, "shown_in_time", "u32", False), F(21, "drill_shown", "u32", False))

TABLES = {
    HELLO: _table(F(1, "version", "u16"), F(2, "role", "u8", lo=1, hi=2),
                  F(3, "heartbeat", "u32", False),
                  F(4, "last_seq", "u64", False),
                  F(5, "agent", "text", False, hi=128)),
    WELCOME: _table(F(1, "version", "u16"), F(2, "principal", "name"),
                    F(3, "node", "node"), F(4, "rights", "u8", lo=0, hi=7),
                    F(5, "heartbeat", "u32"), F(6, "server_time", "u64"),
                    F(7, "max_frame", "u32")),
    PUBLISH: _table(F(1, "envelope", "bytes", hi=65535),
                    F(2, "remind_after", "u32", False),
                    F(3, "escalate_after", "u32", False),
                    F(4, "max_reminders", "u8", False, lo=0, hi=100)),
    PUBLISHED: _table(F(1, "id", "name"), F(2, "seq", "u64"),
                      F(3, "targeted", "u32"),
                      F(4, "publish_at", "u64", False)),
    ALERT: _table(F(1, "seq", "u64"), F(2, "flags", "u8", lo=0, hi=3),
                  F(3, "envelope", "bytes", hi=65535)),
    ACK: _table(F(1, "id", "name"), F(2, "state", "u8", lo=1, hi=4),
                F(3, "reach", "u32", False, keep_zero=True),
                F(4, "flags", "u8", False, lo=0, hi=1),
                F(5, "receipt", "bytes", False, hi=512),
                F(6, "sig", "bytes", False, lo=64, hi=64)),
    RECEIPTS_REQ: _table(F(1, "id", "name"), F(2, "node", "node", False),
                         F(3, "cursor", "u64", False),
                         F(4, "limit", "u32", False)),
    RECEIPTS: _table(F(1, "id", "name"), F(2, "envelope", "bytes", hi=65535),
                     F(3, "items", "list", items=T_RECEIPT_ITEM),
                     F(4, "cursor", "u64", False)),
    ACK_OK: _table(F(1, "id", "name"), F(2, "state", "u8", lo=1, hi=4)),
    STATUS_REQ: _table(F(1, "id", "name"), F(2, "node", "node", False),
                       F(3, "flags", "u8", False, lo=0, hi=3),
                       F(4, "depth", "u8", False, lo=1, hi=255),
                       F(5, "offset", "u32", False),
                       F(6, "limit", "u32", False),
                       F(7, "order", "u8", False, lo=0, hi=1),
                       F(8, "member_offset", "u32", False)),
    STATUS: _table(F(1, "id", "name"), F(2, "seq", "u64"),
                   F(3, "target", "node"), F(4, "issued_at", "u64"),
                   F(5, "expires_at", "u64"),
                   F(6, "nodes", "list", items=T_STATUS_NODE),
                   F(7, "members", "list", False, items=T_STATUS_MEMBER),
                   F(8, "omitted", "u32", False),
                   F(9, "status", "u8", False, lo=0, hi=2),
                   F(10, "server_time", "u64", False),
                   F(11, "lifecycle", "u8", False, lo=0, hi=2),
                   F(12, "cancelled_by", "name", False),
                   F(13, "ended_at", "u64", False),
                   F(14, "rows_total", "u32", False),
                   F(15, "rows_offset", "u32", False),
                   F(16, "depth", "u8", False, lo=1, hi=255),
                   F(17, "members_total", "u32", False),
                   F(18, "members_offset", "u32", False)),
    AGENTS_REQ: _table(F(1, "node", "node", False),
                       F(2, "offset", "u32", False)),
    AGENTS: _table(F(1, "node", "node"), F(2, "server_time", "u64"),
                   F(3, "principals", "list", items=T_AGENT_ITEM),
                   F(4, "omitted", "u32", False),
                   F(5, "total", "u32", False),
                   F(6, "online", "u32", False),
                   F(7, "offset", "u32", False)),
    SCHEDULE_REQ: _table(F(1, "node", "node", False)),
    SCHEDULE: _table(F(1, "server_time", "u64"),
                     F(2, "alerts", "list", items=T_SCHEDULE_ITEM),
                     F(3, "omitted", "u32", False)),
    REPORT_REQ: _table(F(1, "node", "node", False), F(2, "from", "u64"),
                       F(3, "to", "u64"),
                       F(4, "depth", "u8", False, lo=1, hi=255)),
    REPORT: _table(F(1, "node", "node"), F(2, "from", "u64"),
                   F(3, "to", "u64"), F(4, "alerts", "u32"),
                   F(5, "drills", "u32", False),
                   F(6, "rows", "list", items=T_REPORT_ROW),
                   F(7, "omitted", "u32", False),
                   F(8, "depth", "u8", False, lo=1, hi=255)),
    AUDIT_REQ: _table(F(1, "what", "u8", lo=1, hi=2),
                      F(2, "from", "u64", False),
                      F(3, "count", "u32", False)),
    AUDIT: _table(F(1, "what", "u8", lo=1, hi=2), F(2, "from", "u64"),
                  F(3, "total", "u64"),
                  F(4, "items", "list", items=_table(
                      F(1, "data", "bytes", hi=65535)))),
    ESCALATION: _table(F(1, "id", "name"), F(2, "seq", "u64"),
                       F(3, "node", "node"),
                       F(4, "members", "list", items=T_STATUS_MEMBER),
                       F(5, "omitted", "u32", False)),
    # CAP export (cap)
    ENVELOPE_REQ: _table(F(1, "id", "name")),
    ENVELOPE: _table(F(1, "id", "name"), F(2, "envelope", "bytes"),
                     F(3, "ref_issuer", "name", False),
                     F(4, "ref_issued_at", "u64", False)),
    PING: _table(F(1, "nonce", "u64")),
    PONG: _table(F(1, "nonce", "u64")),
    ERROR: _table(F(1, "code", "u16"), F(2, "text", "text", hi=1024),
                  F(3, "ref", "name", False)),
    BYE: _table(F(1, "code", "u16", False), F(2, "text", "text", False,
                                             hi=1024)),
}

# --- clues (PROTOCOL.md, "Clues") ---
CLUE_CONTEXT = b"wuzha-clue-v1"
CLUE_MARK_CONTEXT = b"wuzha-clue-mark-v1"
CLUE_NONE, CLUE_RECEIVED, CLUE_HANDLED = 0, 1, 2
CLUES_PENDING, CLUES_ALL, CLUES_MINE = 1, 2, 3
CF_RESENT = 0x02
T_CLUE_ITEM = _table(
    F(1, "seq", "u64"), F(2, "clue", "bytes", hi=65535),
    F(3, "state", "u8", False, lo=0, hi=2), F(4, "school", "node", False),
    F(5, "police", "node", False), F(6, "received", "u8", False, lo=0, hi=1),
    F(7, "by", "name", False), F(8, "note", "text", False, hi=1024),
    F(9, "changed", "u64", False))
TABLES.update({
    CLUE: _table(F(1, "body", "bytes", hi=65535), F(2, "sig", "bytes", hi=64)),
    CLUE_MARK: _table(F(1, "body", "bytes", hi=65535),
                      F(2, "sig", "bytes", hi=64)),
    CLUE_OK: _table(F(1, "id", "name"), F(2, "seq", "u64"),
                    F(3, "state", "u8", False, lo=0, hi=2)),
    CLUE_PUSH: _table(F(1, "seq", "u64"), F(2, "clue", "bytes", hi=65535),
                      F(3, "cert", "bytes", hi=8192),
                      F(4, "state", "u8", False, lo=0, hi=2),
                      F(5, "school", "node", False),
                      F(6, "police", "node", False),
                      F(7, "flags", "u8", False, lo=0, hi=2)),
    CLUES_REQ: _table(F(1, "which", "u8", lo=1, hi=3),
                      F(2, "after", "u64", False),
                      F(3, "limit", "u32", False),
                      F(4, "id", "name", False)),
    CLUES: _table(F(1, "server_time", "u64"), F(2, "which", "u8", lo=1, hi=3),
                  F(3, "clues", "list", items=T_CLUE_ITEM),
                  F(4, "next", "u64", False)),
})
T_CLUE_BODY = _table(
    F(1, "id", "name"), F(2, "reporter", "name"), F(3, "node", "node"),
    F(4, "text", "text", lo=1, hi=4096), F(5, "contact", "text", False, hi=256),
    F(6, "at", "u64"))
T_CLUE_MARK_BODY = _table(
    F(1, "clue", "name"), F(2, "by", "name"),
    F(3, "state", "u8", lo=1, hi=2), F(4, "note", "text", False, hi=1024),
    F(5, "at", "u64"))
T_CLUE_STORED = _table(F(1, "body", "bytes", hi=65535),
                       F(2, "cert_fp", "bytes", hi=32),
                       F(3, "sig", "bytes", hi=64))

T_ALERT_BODY = _table(
    F(1, "id", "name"), F(2, "issuer", "name"), F(3, "target", "node"),
    F(4, "msg_type", "u8", lo=1, hi=3), F(5, "references", "name", False),
    F(6, "category", "u8", lo=1, hi=3), F(7, "severity", "u8", lo=1, hi=5),
    F(8, "headline", "text", lo=1, hi=512), F(9, "text", "text", hi=16384),
    F(10, "instruction", "text", False, hi=4096),
    F(11, "issued_at", "u64"), F(12, "expires_at", "u64"),
    F(13, "relay_required", "u8", lo=0, hi=1),
    F(14, "publish_at", "u64", False),
    F(15, "status", "u8", False, lo=0, hi=2))

# An audit log entry (PROTOCOL.md, "Audit log").
T_AUDIT_ENTRY = _table(F(1, "kind", "u8", lo=1, hi=7), F(2, "at", "u64"),
                       F(3, "daemon", "name"),
                       F(4, "data", "bytes", hi=65535))
T_ENVELOPE = _table(F(1, "body", "bytes"), F(2, "cert", "bytes", hi=8192),
                    F(3, "sig", "bytes"))

_WIDTH = {"u8": 1, "u16": 2, "u32": 4, "u64": 8}
_FMT = {"u8": ">B", "u16": ">H", "u32": ">I", "u64": ">Q"}
_NODE_RX = re.compile(rb"[a-z0-9-]{1,64}")
_NAME_RX = re.compile(rb"[A-Za-z0-9_][A-Za-z0-9._-]{0,63}")


def _check_value(f, raw):
    """Rules 5..13 of PROTOCOL.md 3.2 for one field; returns the value."""
    if not f.req and not f.keep_zero and (
            len(raw) == 0 or (f.kind in _WIDTH and not any(raw))):
        raise ProtoError(103, "optional %s sent as zero or empty" % f.name)
    if f.kind in _WIDTH:
        if len(raw) != _WIDTH[f.kind]:
            raise ProtoError(103, "%s: %d bytes for a %s" % (
                f.name, len(raw), f.kind))
        v = struct.unpack(_FMT[f.kind], raw)[0]
        if (f.lo is not None and v < f.lo) or (f.hi is not None and v > f.hi):
            raise ProtoError(110, "%s: %d out of range" % (f.name, v))
        return v
    if f.kind in ("node", "name"):
        if len(raw) > 64:
            raise ProtoError(106, "%s: id of %d bytes" % (f.name, len(raw)))
        rx = _NODE_RX if f.kind == "node" else _NAME_RX
        if not rx.fullmatch(raw):
            raise ProtoError(110, "%s: bad %s syntax" % (f.name, f.kind))
        return raw.decode("ascii")
    if f.kind == "text":
        if f.hi is not None and len(raw) > f.hi:
            raise ProtoError(106, "%s: %d bytes" % (f.name, len(raw)))
        if f.lo is not None and len(raw) < f.lo:
            raise ProtoError(110, "%s: shorter than %d" % (f.name, f.lo))
        try:
            v = raw.decode("utf-8")     # strict: no overlongs, surrogates
        except UnicodeDecodeError as ex:
            raise ProtoError(105, "%s: %s" % (f.name, ex)) from ex
        if "\0" in v:
            raise ProtoError(105, "%s: NUL" % f.name)
        return v
    if f.kind == "bytes":
        if f.hi is not None and len(raw) > f.hi:
            raise ProtoError(106, "%s: %d bytes" % (f.name, len(raw)))
        if f.lo is not None and len(raw) < f.lo:
            raise ProtoError(110, "%s: shorter than %d" % (f.name, f.lo))
        return bytes(raw)
    if f.kind == "list":
        return [decode_table(f.items, it) for it in parse_list(raw)]
    raise ValueError(f.kind)


def decode_table(table, buf):
    """A strict field-list decoder: the rules of PROTOCOL.md 3.2, in order."""
    out = {}
    i = 0
    last = -1
    while i < len(buf):
        if len(buf) - i < 3:
            raise ProtoError(103, "truncated field header")
        tag, n = struct.unpack_from(">BH", buf, i)
        i += 3
        if len(buf) - i < n:
            raise ProtoError(103, "field %d runs past the end" % tag)
        raw = bytes(buf[i:i + n])
        i += n
        if tag <= last:
            raise ProtoError(103, "tag %d after %d" % (tag, last))
        last = tag
        if tag not in table:
            raise ProtoError(109, "tag %d" % tag)
        f = table[tag]
        out[f.name] = _check_value(f, raw)
    for f in table.values():
        if f.req and f.name not in out:
            raise ProtoError(104, "%s missing" % f.name)
    return out


def _enc_value(f, v):
    if f.kind in _FMT:
        return struct.pack(_FMT[f.kind], v)
    if f.kind in ("node", "name", "text"):
        return text(v)
    if f.kind == "list":
        return list_value([encode_table(f.items, it) for it in v])
    return bytes(v)


def encode_table(table, values):
    """
    Encode a dict by its table.  A key absent or None is left out; zero and
    empty values are written as given, so callers can break rule 5 on
    purpose (the helpers below leave optional fields out instead).
    """
    names = {f.name for f in table.values()}
    for name in values:
        if name not in names:
            raise KeyError("no field %r" % name)
    pairs = []
    for tag in sorted(table):
        f = table[tag]
        v = values.get(f.name)
        if v is None:
            continue
        pairs.append((tag, _enc_value(f, v)))
    return fields(pairs)


def encode(mtype, **values):
    """A whole frame of the given type from keyword fields."""
    return frame(mtype, encode_table(TABLES[mtype], values))


def decode(mtype, payload):
    """A payload decoded strictly; unknown types are refused with 102."""
    if mtype not in TABLES:
        raise ProtoError(102, "type 0x%02x" % mtype)
    m = decode_table(TABLES[mtype], payload)
    if mtype == ACK and ("receipt" in m) != ("sig" in m):
        raise ProtoError(104, "a receipt without its signature, or back")
    return m


def decode_receipt(body):
    """A receipt body decoded strictly, with the rules of 6.6 (108, 110)."""
    r = decode_table(T_RECEIPT_BODY, body)
    if r["version"] != RECEIPT_VERSION:
        raise ProtoError(108, "receipt version %d" % r["version"])
    if "reach" in r and r["state"] != ACK_RELAYED:
        raise ProtoError(110, "a head count with another state than relayed")
    return r


def hello(role=ROLE_AGENT, version=VERSION, heartbeat=None, last_seq=None,
          agent="wuzha-systest"):
    return encode(HELLO, version=version, role=role, heartbeat=heartbeat,
                  last_seq=last_seq, agent=agent)


def ack(alert_id, state, reach=None, flags=None, receipt=None, sig=None):
    """
    An ACK frame.  Without receipt, a FrameSocket with a signing key signs
    it as it goes out (FrameSocket.send_raw); ack_unsigned() stays so.
    """
    return encode(ACK, id=alert_id, state=state, reach=reach, flags=flags,
                  receipt=receipt, sig=sig)


class Unsigned(bytes):
    """Frames that FrameSocket.send_raw must send as they are."""


def ack_unsigned(alert_id, state, reach=None, flags=None):
    return Unsigned(ack(alert_id, state, reach, flags))


def receipt_body(alert_id, env_hash, state, principal, reach=None, at=None,
                 version=RECEIPT_VERSION):
    """The canonical receipt body; at defaults to now (ms)."""
    return encode_table(T_RECEIPT_BODY, {
        "version": version, "id": alert_id, "env_hash": env_hash,
        "state": state, "reach": reach,
        "at": now_ms() if at is None else at, "principal": principal})


def sign_receipt(key, body):
    """Ed25519 over the receipt context followed by the body."""
    return key.sign(RECEIPT_CONTEXT + body)


def signed_ack(key, principal, alert_id, state, env_hash, reach=None,
               flags=None, at=None):
    """An ACK carrying its receipt, signed by key for principal."""
    body = receipt_body(alert_id, env_hash, state, principal, reach, at)
    return Unsigned(ack(alert_id, state, reach, flags, receipt=body,
                        sig=sign_receipt(key, body)))


def stored_receipt(body, cert_fp, sig):
    return encode_table(T_STORED_RECEIPT,
                        {"body": body, "cert_fp": cert_fp, "sig": sig})


def receipts_req(alert_id, node=None, cursor=None, limit=None):
    return encode(RECEIPTS_REQ, id=alert_id, node=node, cursor=cursor or None,
                  limit=limit or None)


def sha256(data):
    from cryptography.hazmat.primitives import hashes
    h = hashes.Hash(hashes.SHA256())
    h.update(bytes(data))
    return h.finalize()


# The SHA-256 of every envelope this process has seen, by alert id (ALERT
# frames received, envelopes signed here): what auto-signed acks sign.
ENV_HASHES = {}


def note_envelope(env):
    """Remember env's hash under its alert id (if it decodes)."""
    try:
        e = decode_table(T_ENVELOPE, env)
        aid = decode_table(T_ALERT_BODY, e["body"])["id"]
    except (ProtoError, KeyError):
        return None
    h = sha256(env)
    ENV_HASHES[aid] = h
    return h


def ping(nonce):
    return encode(PING, nonce=nonce)


def publish(envelope_bytes):
    return encode(PUBLISH, envelope=envelope_bytes)


def status_req(alert_id, node=None, flags=0, depth=None, offset=None,
               limit=None, order=None, member_offset=None):
    """flags: SF_MEMBERS, SF_WATCH; 0 (and None) is left out."""
    return encode(STATUS_REQ, id=alert_id, node=node, flags=flags or None,
                  depth=depth or None, offset=offset or None,
                  limit=limit or None, order=order or None,
                  member_offset=member_offset or None)


def agents_req(node=None):
    return encode(AGENTS_REQ, node=node)


def schedule_req(node=None):
    return encode(SCHEDULE_REQ, node=node)


def report_req(from_ms, to_ms, node=None):
    return encode(REPORT_REQ, node=node, **{"from": from_ms, "to": to_ms})


# --- the alert ------------------------------------------------------------

def envelope_req(alert_id):
    return encode(ENVELOPE_REQ, id=alert_id)
def clue_body(clue_id, reporter, node, text_, contact=None, at=None,
              check=True):
    """The canonical clue body; check=False skips the limits (to send
    what the daemon must refuse)."""
    vals = {"id": clue_id, "reporter": reporter, "node": node,
            "text": text_, "contact": contact or None,
            "at": now_ms() if at is None else at}
    if check:
        return encode_table(T_CLUE_BODY, vals)
    pairs = [(1, clue_id.encode()), (2, reporter.encode()), (3, node.encode()),
             (4, text_.encode())]
    if contact:
        pairs.append((5, contact.encode()))
    pairs.append((6, struct.pack(">Q", vals["at"])))
    return fields(pairs, check=False)


def clue_mark_body(clue_id, by, state, note=None, at=None):
    return encode_table(T_CLUE_MARK_BODY, {
        "clue": clue_id, "by": by, "state": state, "note": note or None,
        "at": now_ms() if at is None else at})


def clue_msg(mtype, body, key):
    """CLUE or CLUE_MARK: the body and key's signature over context || body."""
    ctx = CLUE_CONTEXT if mtype == CLUE else CLUE_MARK_CONTEXT
    return encode(mtype, body=body, sig=key.sign(ctx + body))


def clues_req(which, after=None, limit=None, clue_id=None):
    return encode(CLUES_REQ, which=which, after=after or None,
                  limit=limit or None, id=clue_id)


def decode_stored_clue(stored, mark=False):
    """(stored form dict, body dict) of a stored clue or mark."""
    st = decode_table(T_CLUE_STORED, stored)
    table = T_CLUE_MARK_BODY if mark else T_CLUE_BODY
    return st, decode_table(table, st["body"])


def now_ms():
    return int(time.time() * 1000)


def alert_body(alert_id, issuer, target, headline="test alert", text_="",
               category="warning", severity="severe", msg_type=MSG_ALERT,
               references=None, instruction=None, issued_at=None,
               expires_at=None, relay_required=0, publish_at=None,
               status=None):
    """
    The canonical body (PROTOCOL.md 6.1): references, instruction,
    publish_at and status left out when empty or zero, text always present
    (possibly empty), relay_required always present.  status: a name of
    STATUSES or a number.  expires_at defaults to a day after the alert
    goes out (publish_at, else issued_at).
    """
    issued = now_ms() if issued_at is None else issued_at
    expires = max(issued, publish_at or 0) + 24 * 3600 * 1000 \
        if expires_at is None else expires_at
    cat = CATEGORIES[category] if isinstance(category, str) else category
    sev = SEVERITIES[severity] if isinstance(severity, str) else severity
    st = STATUSES[status] if isinstance(status, str) else status
    vals = {
        "id": alert_id, "issuer": issuer, "target": target,
        "msg_type": msg_type, "references": references or None,
        "category": cat, "severity": sev, "headline": headline,
        "text": text_, "instruction": instruction or None,
        "issued_at": issued, "expires_at": expires,
        "relay_required": relay_required, "publish_at": publish_at or None,
        "status": st or None,
    }
    return encode_table(T_ALERT_BODY, vals)


def decode_alert(body):
    """The body decoded strictly, with the rules of 6.1 (309, 306)."""
    b = decode_table(T_ALERT_BODY, body)
    ref = b.get("references")
    if b["msg_type"] == MSG_ALERT and ref:
        raise ProtoError(309, "an alert with references")
    if b["msg_type"] != MSG_ALERT and (not ref or ref == b["id"]):
        raise ProtoError(309, "update or cancel without a valid reference")
    if b["expires_at"] <= b["issued_at"]:
        raise ProtoError(306, "expires_at not after issued_at")
    if "publish_at" in b and b["expires_at"] <= b["publish_at"]:
        raise ProtoError(306, "expires_at not after publish_at")
    return b


def sign(key, body):
    """Ed25519 over the domain-separation context followed by the body."""
    return key.sign(SIG_CONTEXT + body)


def envelope(body, cert_der, sig):
    return fields([(1, body), (2, cert_der), (3, sig)])


def signed_envelope(body, key, cert):
    """Body signed by key, carrying cert (a cryptography x509 cert or DER)."""
    der_ = cert if isinstance(cert, (bytes, bytearray)) else \
        cert.public_bytes(serialization.Encoding.DER)
    env = envelope(body, bytes(der_), sign(key, body))
    note_envelope(env)
    return env


def decode_envelope(env):
    e = decode_table(T_ENVELOPE, env)
    if len(e["sig"]) != SIG_LEN:
        raise ProtoError(300, "signature of %d bytes" % len(e["sig"]))
    return e


def verify_envelope(env, ca_cert, at=None):
    """
    Verify as PROTOCOL.md 6.4 says, against one Ed25519 CA (no CRL): the
    steps in order, the first failure raised as ProtoError with its code.
    at: time in seconds for the validity check (default now).
    Returns the decoded body.
    """
    e = decode_envelope(env)
    body = decode_alert(e["body"])
    try:
        cert = x509.load_der_x509_certificate(e["cert"])
    except ValueError as ex:
        raise ProtoError(301, "certificate does not parse") from ex
    if der(cert) != e["cert"]:
        raise ProtoError(301, "bytes after the certificate")
    if cert.issuer != ca_cert.subject:
        raise ProtoError(301, "not issued by the CA")
    try:
        ca_cert.public_key().verify(cert.signature, cert.tbs_certificate_bytes)
    except Exception as ex:  # noqa: BLE001 - any failure is a refusal
        raise ProtoError(301, "CA signature does not verify") from ex
    when = datetime.datetime.fromtimestamp(
        time.time() if at is None else at, datetime.timezone.utc
    ).replace(tzinfo=None)
    if not cert.not_valid_before <= when <= cert.not_valid_after:
        raise ProtoError(301, "certificate not valid at that time")
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(cns) != 1 or cns[0].value != body["issuer"]:
        raise ProtoError(302, "certificate CN is not the issuer")
    pub = cert.public_key()
    if not isinstance(pub, ed25519.Ed25519PublicKey):
        raise ProtoError(301, "not an Ed25519 key")
    try:
        pub.verify(e["sig"], SIG_CONTEXT + e["body"])
    except Exception as ex:  # noqa: BLE001
        raise ProtoError(300, "signature does not verify") from ex
    return body


# --- certificates ---------------------------------------------------------

def cn_of(cert):
    return cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def new_key():
    return ed25519.Ed25519PrivateKey.generate()


def make_ca(cn="wuzha-test-rogue-ca"):
    """A fresh self-signed Ed25519 CA: (key, cert)."""
    key = new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                           critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=False, content_commitment=False,
                key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(
                key.public_key()), critical=False)
            .sign(key, None))
    return key, cert


def issue_cert(ca_key, ca_cert, cn, key=None, server_name=None,
               valid=(-3600, 2 * 86400), path=None, issue=None, usages=None):
    """
    An end-entity certificate for cn (client auth, or server auth with a
    DNS name when server_name is given), signed by ca_key.  With ca_key ==
    key and ca_cert None, the certificate is self-signed.  valid: its
    validity as (not before, not after) in seconds from now.  path and
    issue: the wuzha:path: and wuzha:issue: URIs wuzha-ca writes; usages:
    a list of ExtendedKeyUsageOIDs in place of the usual one.
    """
    key = key or new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    issuer = ca_cert.subject if ca_cert is not None else name
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder()
         .subject_name(name).issuer_name(issuer)
         .public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(now + datetime.timedelta(seconds=valid[0]))
         .not_valid_after(now + datetime.timedelta(seconds=valid[1]))
         .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                        critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(
             key.public_key()), critical=False))
    if ca_cert is not None:
        b = b.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_cert.public_key()), critical=False)
    names = [x509.DNSName(server_name)] if server_name else []
    if path:
        names.append(x509.UniformResourceIdentifier("wuzha:path:" + path))
    if issue:
        names.append(x509.UniformResourceIdentifier("wuzha:issue:" + issue))
    if names:
        b = b.add_extension(x509.SubjectAlternativeName(names),
                            critical=False)
    if usages is None:
        usages = [ExtendedKeyUsageOID.SERVER_AUTH if server_name
                  else ExtendedKeyUsageOID.CLIENT_AUTH]
    b = b.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    return key, b.sign(ca_key, None)


def load_key(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), None)


def load_cert(path):
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read())


def der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


def write_pem(dirpath, name, key, cert):
    """Write name.key / name.crt into dirpath; returns (crt, key) paths."""
    crt = os.path.join(dirpath, name + ".crt")
    kp = os.path.join(dirpath, name + ".key")
    with open(crt, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(kp, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    os.chmod(kp, 0o600)
    return crt, kp


# --- a frame-by-frame TLS client ------------------------------------------

class Closed(Exception):
    """The peer closed the connection (or TLS failed) while we waited."""


class FrameSocket:
    """Frames over a connected (TLS) socket, every read bounded in time."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.eof = False
        # Receipts: the session's own key and CN sign its ACKs on the
        # way out, as wuzha-agent does; auto_sign False sends them bare.
        self.key = None
        self.cn = None
        self.auto_sign = True
        self.env_lookup = None      # alert id -> envelope, for ids not seen

    def _sign_acks(self, data):
        """data with each whole ACK frame lacking a receipt signed."""
        out, i = [], 0
        while i + FRAME_HDR <= len(data):
            n, t = struct.unpack_from(">IB", data, i)
            end = i + 4 + n
            if n == 0 or end > len(data):
                return data
            fr = data[i:end]
            if t == ACK:
                try:
                    m = decode(ACK, data[i + FRAME_HDR:end])
                except ProtoError:
                    m = None
                h = m and self._env_hash(m["id"])
                if m and h and "receipt" not in m:
                    fr = signed_ack(self.key, self.cn, m["id"], m["state"],
                                    h, m.get("reach"), m.get("flags"))
            out.append(fr)
            i = end
        return data if i != len(data) else b"".join(out)

    def _env_hash(self, alert_id):
        """What the daemon stored (when it can be asked), else what was seen."""
        if self.env_lookup is not None:
            env = self.env_lookup(alert_id)
            if env:
                return sha256(env)
        return ENV_HASHES.get(alert_id)

    def send_raw(self, data):
        if self.auto_sign and self.key is not None and \
                not isinstance(data, Unsigned):
            data = self._sign_acks(data)
        self.sock.sendall(data)

    def send(self, mtype, payload=b""):
        self.sock.sendall(frame(mtype, payload))

    def _fill(self, deadline):
        # Pending TLS records may already hold data select() cannot see.
        pending = getattr(self.sock, "pending", lambda: 0)()
        if not pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no frame within the time allowed")
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                raise TimeoutError("no frame within the time allowed")
        try:
            data = self.sock.recv(65536)
        except ssl.SSLWantReadError:
            return
        except (ssl.SSLError, ConnectionError, OSError) as ex:
            self.eof = True
            raise Closed(str(ex)) from ex
        if not data:
            self.eof = True
            raise Closed("peer closed the connection")
        self.buf += data

    def recv_frame(self, timeout=10.0, max_len=FRAME_MAX_DEFAULT):
        """Next (type, payload); raises Closed or TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= FRAME_HDR:
                t, n = frame_header(self.buf, max_len)
                if len(self.buf) >= FRAME_HDR + n:
                    payload = self.buf[FRAME_HDR:FRAME_HDR + n]
                    self.buf = self.buf[FRAME_HDR + n:]
                    if t == ALERT:
                        try:
                            note_envelope(decode(ALERT, payload)["envelope"])
                        except ProtoError:
                            pass
                    return t, payload
            self._fill(deadline)

    def recv(self, timeout=10.0, skip_pings=True):
        """Next message as (type, dict); answers PINGs on the way."""
        while True:
            t, payload = self.recv_frame(timeout)
            msg = decode(t, payload)
            if t == PING and skip_pings:
                self.send_raw(encode(PONG, nonce=msg.get("nonce", 0)))
                continue
            return t, msg

    def expect(self, mtype, timeout=10.0):
        """The next message, which must be of mtype (ERROR is reported)."""
        t, msg = self.recv(timeout)
        if t != mtype:
            raise AssertionError("expected %s, got %s %r" % (
                TYPE_NAMES.get(mtype), TYPE_NAMES.get(t, hex(t)), msg))
        return msg

    def wait_closed(self, timeout=10.0):
        """True once the peer has closed; frames before that are returned."""
        got = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False, got
            try:
                got.append(self.recv_frame(left))
            except Closed:
                return True, got
            except TimeoutError:
                return False, got

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def client_context(ca, cert, key):
    """TLS 1.3 only, client cert, the CA pinned."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(cafile=ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


def connect(host, port, ca, cert, key, server_name="wuzhad", timeout=10.0):
    """A TLS connection to a daemon as a FrameSocket (handshake done)."""
    ctx = client_context(ca, cert, key)
    raw = socket.create_connection((host, port), timeout=timeout)
    try:
        s = ctx.wrap_socket(raw, server_hostname=server_name)
    except Exception:
        raw.close()
        raise
    s.settimeout(timeout)
    fs = FrameSocket(s)
    if cert and key:
        try:
            k = load_key(key)
            if isinstance(k, ed25519.Ed25519PrivateKey):
                fs.key, fs.cn = k, cn_of(load_cert(cert))
        except (OSError, ValueError):
            pass
    return fs


def session(host, port, ca, cert, key, role=ROLE_AGENT, server_name="wuzhad",
            timeout=10.0, **hello_kw):
    """Connect, HELLO, and return (FrameSocket, WELCOME dict)."""
    fs = connect(host, port, ca, cert, key, server_name, timeout)
    try:
        fs.send_raw(hello(role=role, **hello_kw))
        t, msg = fs.recv(timeout)
        if t != WELCOME:
            raise AssertionError("HELLO answered by %s %r"
                                 % (TYPE_NAMES.get(t, hex(t)), msg))
    except Exception:
        fs.close()
        raise
    return fs, msg


# --- a rogue daemon -------------------------------------------------------

class RogueDaemon:
    """
    A TLS server holding the real daemon certificate (so an agent trusts the
    connection) that speaks just enough protocol to push chosen ALERT frames.
    Each session: read HELLO, answer WELCOME, send every envelope queued in
    `alerts` (as ALERT frames, seqs from 1), then record what the agent
    sends (ACKs, PINGs) until it disconnects or the server stops.
    With old_acks, it answers an ACK carrying flags as a daemon from before
    them would: ERROR 109 without a ref, the ack not recorded.
    """

    def __init__(self, ca, cert, key, principal_of=None, node="school-a",
                 old_acks=False):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        self.ctx.load_cert_chain(cert, key)
        self.ctx.load_verify_locations(cafile=ca)
        self.ctx.verify_mode = ssl.CERT_REQUIRED
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.port = self.lsock.getsockname()[1]
        self.node = node
        self.old_acks = old_acks
        self.refused = 0          # flagged ACKs refused (old_acks)
        self.alerts = []          # envelopes to push, in order
        self.sessions = 0         # sessions that got past HELLO
        self.received = []        # (type, dict) from the agent
        self.errors = []
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stop_flag.set()
        try:
            self.lsock.close()
        except OSError:
            pass
        self.thread.join(10)

    def acks(self):
        with self.lock:
            return [m for t, m in self.received if t == ACK]

    def _run(self):
        while not self.stop_flag.is_set():
            try:
                r, _, _ = select.select([self.lsock], [], [], 0.2)
            except (OSError, ValueError):
                return
            if not r:
                continue
            try:
                raw, _ = self.lsock.accept()
            except OSError:
                return
            try:
                self._serve(raw)
            except Exception as ex:  # noqa: BLE001 - recorded for the test
                with self.lock:
                    self.errors.append(repr(ex))
            finally:
                try:
                    raw.close()
                except OSError:
                    pass

    def _serve(self, raw):
        raw.settimeout(10)
        s = self.ctx.wrap_socket(raw, server_side=True)
        fs = FrameSocket(s)
        t, msg = fs.recv(10)
        if t != HELLO:
            raise ProtoError(107, "agent began with %s" % TYPE_NAMES.get(t))
        cn = cn_of(x509.load_der_x509_certificate(s.getpeercert(True)))
        fs.send_raw(encode(WELCOME, version=VERSION, principal=cn,
                           node=self.node, rights=R_RECEIVE, heartbeat=30,
                           server_time=now_ms(), max_frame=FRAME_MAX_DEFAULT))
        with self.lock:
            self.sessions += 1
            queue = list(self.alerts)
        for i, env in enumerate(queue):
            fs.send_raw(encode(ALERT, seq=i + 1, flags=0, envelope=env))
        while not self.stop_flag.is_set():
            try:
                t, payload = fs.recv_frame(0.3)
            except TimeoutError:
                continue
            except Closed:
                return
            msg = decode(t, payload)
            if t == ACK and self.old_acks and msg.get("flags"):
                with self.lock:
                    self.refused += 1
                fs.send_raw(encode(ERROR, code=E_TAG,
                                   text="bad ACK: unknown-tag"))
                continue
            with self.lock:
                self.received.append((t, msg))
            if t == PING:
                fs.send_raw(encode(PONG, nonce=msg.get("nonce", 0)))
            elif t == ACK:
                fs.send_raw(encode(ACK_OK, id=msg["id"], state=msg["state"]))
            elif t == BYE:
                return


# --- the audit log (PROTOCOL.md, "Audit log") ------------------------------
#
# Written from RFC 6962 section 2.1 with hashlib, apart from the C code, so
# that the tests check wuzhad's roots against an independent computation.

AUDIT_KINDS = {1: "alert", 2: "receipt", 3: "cert", 4: "clue",
               5: "clue_mark", 6: "tree", 7: "schedule_cancel"}
AUDIT_CP_CONTEXT = b"wuzha-checkpoint-v1"
AUDIT_W_ENTRIES = 1
AUDIT_W_CHECKPOINTS = 2


def audit_leaf(entry):
    return hashlib.sha256(b"\x00" + entry).digest()


def audit_root(entries):
    """MTH(D[n]) of RFC 6962 over the entries (bytes each)."""
    if not entries:
        return hashlib.sha256(b"").digest()
    if len(entries) == 1:
        return audit_leaf(entries[0])
    k = 1
    while k * 2 < len(entries):
        k *= 2
    return hashlib.sha256(b"\x01" + audit_root(entries[:k]) +
                          audit_root(entries[k:])).digest()


def raw_fields(buf):
    """(tag, bytes) pairs of a field list, without checking a table."""
    out, i = {}, 0
    while i < len(buf):
        tag, n = struct.unpack_from(">BH", buf, i)
        out[tag] = bytes(buf[i + 3:i + 3 + n])
        i += 3 + n
    return out


def audit_entry(kind, at, daemon, data):
    return fields([(1, u8(kind)), (2, u64(at)), (3, text(daemon)),
                   (4, data)])


def audit_entry_parse(buf):
    f = raw_fields(buf)
    return {"kind": f[1][0], "at": struct.unpack(">Q", f[2])[0],
            "daemon": f[3].decode(), "data": f[4]}


def audit_cp_parse(buf):
    """A signed checkpoint: its body's fields, cert DER and signature."""
    f = raw_fields(buf)
    b = raw_fields(f[1])
    return {"version": b[1][0], "size": struct.unpack(">Q", b[2])[0],
            "root": b[3], "at": struct.unpack(">Q", b[4])[0],
            "daemon": b[5].decode(), "body": f[1], "cert": f[2],
            "sig": f[3]}


def audit_file_records(path):
    """The records of a mirror file: [(type, bytes)] after its magic."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"WZAUDIT1", data[:8]
    out, i = [], 8
    while i < len(data):
        n = struct.unpack_from(">I", data, i)[0]
        out.append((data[i + 4], data[i + 5:i + 4 + n]))
        i += 4 + n
    return out
