# SPDX-License-Identifier: ISC
"""
00-wire: the Python protocol code the other system tests rely on
(wuzha_proto.py) against the test vectors of proto/PROTOCOL.md: every valid
vector decodes strictly and encodes back to the same bytes, the signed
envelope verifies and re-signs to the same bytes, and every vector to
refuse is refused with its documented code.  A second, independent reading
of the spec, so that a hostile input crafted by the tests is hostile for
the reason the test says.  No daemon involved.
"""

import os
import re

import pytest

import harness
import wuzha_proto as wp

SPEC = os.path.join(harness.SRC, "proto", "PROTOCOL.md")
DATA = os.path.join(harness.SRC, "tests", "unit", "data", "proto")

BLOCK = re.compile(r"^```(vector-bad|vector)( [^\n]*)?\n(.*?)^```",
                   re.M | re.S)
TYPES = {v: k for k, v in wp.TYPE_NAMES.items()}


def _vectors():
    if not os.path.exists(SPEC):
        return []
    with open(SPEC, encoding="utf-8") as f:
        doc = f.read()
    out = []
    for m in BLOCK.finditer(doc):
        attrs = dict(a.split("=", 1) for a in (m.group(2) or "").split())
        hexes = []
        for line in m.group(3).splitlines():
            hexes += line.split("#", 1)[0].split()
        out.append((m.group(1), attrs, bytes.fromhex("".join(hexes))))
    return out


VECTORS = _vectors()
GOOD = [(a["name"], a, b) for k, a, b in VECTORS if k == "vector"]
BAD = [(a["name"], a, b) for k, a, b in VECTORS if k == "vector-bad"]


def _mtype(name):
    return int(name, 16) if name.startswith("0x") else TYPES[name]


def test_protocol_md_has_vectors():
    assert os.path.exists(SPEC), SPEC
    assert len(GOOD) >= 20 and len(BAD) >= 20, (len(GOOD), len(BAD))


@pytest.mark.parametrize("name,attrs,data", GOOD, ids=[g[0] for g in GOOD])
def test_valid_vector_round_trips(name, attrs, data):
    kind = attrs["type"]
    if kind == "body":
        b = wp.decode_alert(data)
        assert wp.encode_table(wp.T_ALERT_BODY, b) == data
    elif kind == "audit-entry":
        e = wp.decode_table(wp.T_AUDIT_ENTRY, data)
        assert wp.encode_table(wp.T_AUDIT_ENTRY, e) == data
    elif kind == "receipt":
        r = wp.decode_receipt(data)
        assert wp.encode_table(wp.T_RECEIPT_BODY, r) == data
    elif kind == "stored-receipt":
        s = wp.decode_table(wp.T_STORED_RECEIPT, data)
        assert wp.stored_receipt(s["body"], s["cert_fp"], s["sig"]) == data
    elif kind == "envelope":
        e = wp.decode_envelope(data)
        assert wp.envelope(e["body"], e["cert"], e["sig"]) == data
        ca = wp.load_cert(os.path.join(DATA, "ca.crt"))
        body = wp.verify_envelope(data, ca, at=int(attrs["at"]))
        assert wp.encode_table(wp.T_ALERT_BODY, body) == e["body"]
        # Ed25519 is deterministic: signing again gives the same bytes.
        key = wp.load_key(os.path.join(DATA, "officer.key"))
        assert wp.signed_envelope(e["body"], key, e["cert"]) == data
    else:
        t, n = wp.frame_header(data)
        assert t == _mtype(kind)
        assert n == len(data) - wp.FRAME_HDR
        msg = wp.decode(t, data[wp.FRAME_HDR:])
        assert wp.encode(t, **msg) == data


@pytest.mark.parametrize("name,attrs,data", BAD, ids=[b[0] for b in BAD])
def test_bad_vector_is_refused_with_its_code(name, attrs, data):
    kind, code = attrs["type"], int(attrs["error"])
    with pytest.raises(wp.ProtoError) as ex:
        if kind == "body":
            wp.decode_alert(data)
        elif kind == "audit-entry":
            wp.decode_table(wp.T_AUDIT_ENTRY, data)
        elif kind == "receipt":
            wp.decode_receipt(data)
        elif kind == "stored-receipt":
            wp.decode_table(wp.T_STORED_RECEIPT, data)
        elif kind == "envelope":
            ca = wp.load_cert(os.path.join(DATA, "ca.crt"))
            wp.verify_envelope(data, ca, at=int(attrs["at"]))
        else:
            t, n = wp.frame_header(data)
            wp.decode(t, data[wp.FRAME_HDR:wp.FRAME_HDR + n])
    assert ex.value.code == code, ex.value


def test_envelope_from_another_ca_is_refused_with_301():
    ca = wp.load_cert(os.path.join(DATA, "ca.crt"))
    other_key, other_ca = wp.make_ca("wuzha-test-ca")
    key, cert = wp.issue_cert(other_key, other_ca, "officer-1")
    body = wp.alert_body("x1", "officer-1", "school-a")
    with pytest.raises(wp.ProtoError) as ex:
        wp.verify_envelope(wp.signed_envelope(body, key, cert), ca)
    assert ex.value.code == wp.E_CERT


def test_error_names_match_protocol_md():
    with open(SPEC, encoding="utf-8") as f:
        doc = f.read()
    rows = dict((int(c), n) for c, n in
                re.findall(r"^\| (\d{3}) \| ([a-z0-9-]+) \|", doc, re.M))
    assert rows == wp.ERR_NAMES


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-v"]))


def test_signed_ack_vector_is_officer_1s_receipt_over_envelope_signed():
    """ack-signed: its receipt verifies, is over envelope-signed, and is
    signed again to the same bytes (Ed25519 is deterministic)."""
    by = {a["name"]: b for _, a, b in VECTORS}
    ack = wp.decode(wp.ACK, by["ack-signed"][wp.FRAME_HDR:])
    r = wp.decode_receipt(ack["receipt"])
    assert r["env_hash"] == wp.sha256(by["envelope-signed"])
    assert (r["id"], r["state"], r.get("reach")) == \
        (ack["id"], ack["state"], ack.get("reach"))
    cert = wp.load_cert(os.path.join(DATA, "officer.crt"))
    assert wp.cn_of(cert) == r["principal"]
    cert.public_key().verify(ack["sig"], wp.RECEIPT_CONTEXT + ack["receipt"])
    key = wp.load_key(os.path.join(DATA, "officer.key"))
    assert wp.sign_receipt(key, ack["receipt"]) == ack["sig"]
    s = wp.decode_table(wp.T_STORED_RECEIPT, by["receipt-stored"])
    assert s["body"] == ack["receipt"] and s["sig"] == ack["sig"]
    assert s["cert_fp"] == wp.sha256(wp.der(cert))
