#!/usr/bin/env python3
"""FROM-SCRATCH reference C2PA writer (Python, for research only) that mirrors what the C++ writer
must do. Used to prove the rules in REPORT.md against c2pa-rs 0.82 (c2pa-node) and 0.92 (c2pa-wasm).

usage: ref_writer.py IN OUT --cert CHAIN.pem --key KEY.pem [--claim 1|2] [--ingredient]
          [--actions-label c2pa.actions|c2pa.actions.v2] [--first-action c2pa.created|c2pa.opened]
          [--no-dst] [--bmff-label c2pa.hash.bmff.v2|c2pa.hash.bmff.v3] [--bmff-min-exclusions]
          [--pad N] [--mlabel-uuid]
Steps: build assertions -> fix the store size with placeholder hashes -> place the store in the
container (JPEG APP11 after SOI/APP0, PNG caBX after IHDR, MP4 uuid after ftyp + stco/co64 patch)
-> hash the asset with exclusions -> hash assertions (hashed URIs) -> claim CBOR -> ES256 COSE_Sign1
-> assemble (all sizes are fixed, so one placeholder pass is enough)."""
import sys, os, struct, zlib, uuid, hashlib, argparse
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import c2pacbor as cbor
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

ap = argparse.ArgumentParser()
ap.add_argument('inp'); ap.add_argument('out'); ap.add_argument('--cert', required=True); ap.add_argument('--key', required=True)
ap.add_argument('--claim', type=int, default=2); ap.add_argument('--ingredient', action='store_true')
ap.add_argument('--actions-label', default='c2pa.actions.v2'); ap.add_argument('--first-action', default='c2pa.created')
ap.add_argument('--no-dst', action='store_true'); ap.add_argument('--bmff-label', default=None)
ap.add_argument('--bmff-min-exclusions', action='store_true'); ap.add_argument('--pad', type=int, default=0, help='-1 omits pad (rejected by c2pa-rs)')
ap.add_argument('--mlabel-uuid', action='store_true', help='use urn:uuid: manifest label with a v2 claim')
ap.add_argument('--gathered', action='store_true', help='put actions/ingredient in gathered_assertions (v2)')
a = ap.parse_args()

# ------------------------------------------------------------------ CBOR encoder (definite lengths, shortest heads)
def head(mt, n):
    if n < 24: return bytes([mt << 5 | n])
    if n < 256: return bytes([mt << 5 | 24, n])
    if n < 65536: return bytes([mt << 5 | 25]) + struct.pack('>H', n)
    if n < 2**32: return bytes([mt << 5 | 26]) + struct.pack('>I', n)
    return bytes([mt << 5 | 27]) + struct.pack('>Q', n)
def enc(v):
    if isinstance(v, bool): return b'\xf5' if v else b'\xf4'
    if v is None: return b'\xf6'
    if isinstance(v, int): return head(0, v) if v >= 0 else head(1, -1 - v)
    if isinstance(v, (bytes, bytearray)): return head(2, len(v)) + bytes(v)
    if isinstance(v, str): b = v.encode(); return head(3, len(b)) + b
    if isinstance(v, list): return head(4, len(v)) + b''.join(enc(x) for x in v)
    if isinstance(v, dict): return head(5, len(v)) + b''.join(enc(k) + enc(x) for k, x in v.items())
    if isinstance(v, cbor.Tag): return head(6, v.tag) + enc(v.value)
    raise TypeError(type(v))

# ------------------------------------------------------------------ JUMBF
SUF = bytes.fromhex('00110010800000aa00389b71')
def box(t, payload): return struct.pack('>I', 8 + len(payload)) + t + payload
def jumd(uuid4, label, toggles=0x03): return box(b'jumd', uuid4 + SUF + bytes([toggles]) + label.encode() + b'\0')
def superbox(uuid4, label, *content): return box(b'jumb', jumd(uuid4, label) + b''.join(content))
def cbor_assertion(label, value): return superbox(b'cbor', label, box(b'cbor', enc(value)))

# ------------------------------------------------------------------ input
d = open(a.inp, 'rb').read()
kind = 'jpeg' if d[:2] == b'\xff\xd8' else 'png' if d[:4] == b'\x89PNG' else 'mp4'
fmt = {'jpeg': 'image/jpeg', 'png': 'image/png', 'mp4': 'video/mp4'}[kind]
_pem = open(a.cert, 'rb').read()
# One certificate per PEM block (python3-cryptography 38, Debian 12's, has no load_pem_x509_certificates).
_blocks = [b'-----BEGIN CERTIFICATE-----' + part.split(b'-----END CERTIFICATE-----')[0] + b'-----END CERTIFICATE-----\n'
           for part in _pem.split(b'-----BEGIN CERTIFICATE-----')[1:]]
certs_der = [x509.load_pem_x509_certificate(b).public_bytes(serialization.Encoding.DER) for b in _blocks]
key = serialization.load_pem_private_key(open(a.key, 'rb').read(), None)
x5 = certs_der[0] if len(certs_der) == 1 else certs_der   # c2pa-rs writes a single bstr for 1 cert, array for >1
mlabel = (f'urn:c2pa:{uuid.uuid4()}' if a.claim == 2 and not a.mlabel_uuid else f'urn:uuid:{uuid.uuid4()}')
Z32 = bytes(32)

def build_store(asset_hash, excl_value, bmff):
    """Returns (store bytes, claim cbor bytes, index of sig placeholder). All hashes fixed-size."""
    assertions = []   # (label, superbox bytes, created?)
    ingr_label = 'c2pa.ingredient.v3' if a.claim == 2 else 'c2pa.ingredient.v2'
    act = {'action': a.first_action}
    if not a.no_dst: act['digitalSourceType'] = 'http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia'
    act['softwareAgent'] = {'name': 'faceswap', 'version': '0.1.0'} if a.actions_label.endswith('.v2') else 'faceswap/0.1.0'
    if a.ingredient:
        ing = {'dc:title': os.path.basename(a.inp), 'dc:format': fmt, 'relationship': 'parentOf',
               'instanceID': 'xmp:iid:' + str(uuid.UUID(bytes=hashlib.md5(d).digest()))}
        ib = cbor_assertion(ingr_label, ing)
        ihash = hashlib.sha256(ib[8:]).digest()
        assertions.append((ingr_label, ib))
        url = f'self#jumbf=c2pa.assertions/{ingr_label}'
        act['parameters'] = {'ingredients': [{'url': url, 'hash': ihash}]} if a.actions_label.endswith('.v2') else {'ingredient': {'url': url, 'hash': ihash}}
    assertions.append((a.actions_label, cbor_assertion(a.actions_label, {'actions': [act]})))
    if bmff:
        assertions.append((bmff_label, cbor_assertion(bmff_label, {'exclusions': bmff_excl, 'alg': 'sha256', 'hash': asset_hash, 'name': 'jumbf manifest'})))
    else:
        hv = {'exclusions': excl_value, 'name': 'jumbf manifest', 'alg': 'sha256', 'hash': asset_hash}
        if a.pad >= 0: hv['pad'] = bytes(a.pad)   # REQUIRED by c2pa-rs (serde); may be empty
        assertions.append(('c2pa.hash.data', cbor_assertion('c2pa.hash.data', hv)))
    astore = superbox(b'c2as', 'c2pa.assertions', *[b for _, b in assertions])
    refs = [{'url': f'self#jumbf=c2pa.assertions/{l}', 'hash': hashlib.sha256(b[8:]).digest()} for l, b in assertions]
    sigurl = f'self#jumbf=/c2pa/{mlabel}/c2pa.signature'
    iid = 'xmp:iid:' + str(uuid.uuid5(uuid.NAMESPACE_URL, a.out))
    if a.claim == 2:
        hard = [r for r in refs if 'hash.' in r['url']]; other = [r for r in refs if 'hash.' not in r['url']]
        claim = {'instanceID': iid, 'claim_generator_info': {'name': 'faceswap', 'version': '0.1.0'}, 'signature': sigurl}
        if a.gathered: claim.update({'created_assertions': hard, 'gathered_assertions': other})
        else: claim['created_assertions'] = refs
        claim.update({'dc:title': os.path.basename(a.out), 'alg': 'sha256'})
        clabel = 'c2pa.claim.v2'
    else:
        claim = {'claim_generator': 'faceswap/0.1.0', 'claim_generator_info': [{'name': 'faceswap', 'version': '0.1.0'}],
                 'signature': sigurl, 'assertions': refs, 'dc:format': fmt, 'instanceID': iid,
                 'dc:title': os.path.basename(a.out), 'alg': 'sha256'}
        clabel = 'c2pa.claim'
    claim_b = enc(claim)
    prot_b = enc({1: -7, 33: x5})
    sig_struct = enc(['Signature1', prot_b, b'', claim_b])
    r, s = utils.decode_dss_signature(key.sign(sig_struct, ec.ECDSA(hashes.SHA256())))
    cose = enc(cbor.Tag(18, [prot_b, {}, None, r.to_bytes(32, 'big') + s.to_bytes(32, 'big')]))
    manifest = superbox(b'c2ma', mlabel, astore, superbox(b'c2cl', clabel, box(b'cbor', claim_b)),
                        superbox(b'c2cs', 'c2pa.signature', box(b'cbor', cose)))
    return superbox(b'c2pa', 'c2pa', manifest)

# ------------------------------------------------------------------ containers
def jpeg_wrap(store):
    """APP11 segments: FFEB, Lp, 'JP', En=1, Z=1.., then (for Z>1) repeated LBox+TBox; 64000-byte chunks like c2pa-rs."""
    segs = []; CH = 65000; first = True; z = 1
    hdr8 = store[:8]; rest = store
    while rest:
        if first: chunk, rest = rest[:CH], rest[CH:]; body = b'JP' + struct.pack('>HI', 1, z) + chunk
        else: chunk, rest = rest[:CH], rest[CH:]; body = b'JP' + struct.pack('>HI', 1, z) + hdr8 + chunk
        segs.append(b'\xff\xeb' + struct.pack('>H', len(body) + 2) + body); first = False; z += 1
    return b''.join(segs)
def jpeg_insert_pos(d):
    o = 2
    while d[o + 1] in (0xE0, 0xE1):   # after APP0/APP1 (JFIF/Exif) - c2pa-rs puts it after APP0
        o += 2 + struct.unpack('>H', d[o + 2:o + 4])[0]
    return o
def png_chunk(t, data): return struct.pack('>I', len(data)) + t + data + struct.pack('>I', zlib.crc32(t + data) & 0xffffffff)

C2PA_UUID = bytes.fromhex('d8fec3d61b0e483c92975828877ec481')
def mp4_uuid_box(store): payload = C2PA_UUID + b'\0\0\0\0' + b'manifest\0' + struct.pack('>Q', 0) + store; return struct.pack('>I4s', 8 + len(payload), b'uuid') + payload
def mp4_top(d):
    o = 0; out = []
    while o < len(d):
        sz, t = struct.unpack('>I4s', d[o:o + 8])
        if sz == 1: sz = struct.unpack('>Q', d[o + 8:o + 16])[0]
        if sz == 0: sz = len(d) - o
        out.append((o, sz, t)); o += sz
    return out
def patch_chunk_offsets(buf, delta):
    """Add delta to every stco/co64 entry inside moov (walks the box tree)."""
    buf = bytearray(buf)
    def walk(s, e):
        while s + 8 <= e:
            sz, t = struct.unpack('>I4s', buf[s:s + 8]); h = 8
            if sz == 1: sz = struct.unpack('>Q', buf[s + 8:s + 16])[0]; h = 16
            if t in (b'moov', b'trak', b'mdia', b'minf', b'stbl', b'edts'): walk(s + h, s + sz)
            elif t == b'stco':
                n = struct.unpack('>I', buf[s + h + 4:s + h + 8])[0]
                for k in range(n):
                    p = s + h + 8 + 4 * k; buf[p:p + 4] = struct.pack('>I', struct.unpack('>I', buf[p:p + 4])[0] + delta)
            elif t == b'co64':
                n = struct.unpack('>I', buf[s + h + 4:s + h + 8])[0]
                for k in range(n):
                    p = s + h + 8 + 8 * k; buf[p:p + 8] = struct.pack('>Q', struct.unpack('>Q', buf[p:p + 8])[0] + delta)
            s += sz
    walk(0, len(buf)); return bytes(buf)

bmff = kind == 'mp4'
bmff_label = a.bmff_label or ('c2pa.hash.bmff.v3' if a.claim == 2 else 'c2pa.hash.bmff.v2')
if a.bmff_min_exclusions:
    bmff_excl = [{'xpath': '/uuid', 'data': [{'offset': 8, 'value': C2PA_UUID}]}, {'xpath': '/ftyp'}]
else:
    bmff_excl = [{'xpath': '/uuid', 'data': [{'offset': 8, 'value': C2PA_UUID}]}, {'xpath': '/ftyp'}, {'xpath': '/mfra'}, {'xpath': '/free'}, {'xpath': '/skip'}]

if kind in ('jpeg', 'png'):
    pos = jpeg_insert_pos(d) if kind == 'jpeg' else 8 + 25          # PNG: after signature + IHDR chunk (8+13+4+... = 33)
    # pass 1: size with placeholder; exclusion values are needed for the size -> iterate until stable
    excl = [{'start': pos, 'length': 0}]
    for _ in range(4):
        st = build_store(Z32, excl, False)
        wrapped = jpeg_wrap(st) if kind == 'jpeg' else png_chunk(b'caBX', st)
        new = [{'start': pos, 'length': len(wrapped)}]
        if new == excl: break
        excl = new
    asset_hash = hashlib.sha256(d[:pos] + d[pos:]).digest()     # = hash of output minus the exclusion range
    st = build_store(asset_hash, excl, False)
    wrapped = jpeg_wrap(st) if kind == 'jpeg' else png_chunk(b'caBX', st)
    assert len(wrapped) == excl[0]['length']
    out = d[:pos] + wrapped + d[pos:]
else:
    tl = mp4_top(d)
    assert tl[0][2] == b'ftyp'
    pos = tl[0][1]
    size = len(mp4_uuid_box(build_store(Z32, None, True)))
    body = patch_chunk_offsets(d[pos:], size)           # everything after ftyp shifts by the uuid box size
    placeholder = d[:pos] + bytes(size) + body
    # v2/v3 hash: for each top-level box not excluded: u64be(offset) || box bytes
    h = hashlib.sha256()
    excluded_types = {e['xpath'][1:] for e in bmff_excl}
    for (o, sz, t) in mp4_top(placeholder[:pos] + mp4_uuid_box(build_store(Z32, None, True)) + body):
        if t.decode() in excluded_types: continue      # (c2pa uuid matched by its data; no other uuid boxes here)
        h.update(struct.pack('>Q', o)); h.update(placeholder[o:o + sz])
    st = build_store(h.digest(), None, True)
    ub = mp4_uuid_box(st); assert len(ub) == size
    out = d[:pos] + ub + body
open(a.out, 'wb').write(out)
print(f'wrote {a.out}: {kind}, claim v{a.claim}, store {len(st)} bytes, manifest {mlabel}')
