"""Tiny CBOR decoder (RFC 8949) sufficient for C2PA: keeps tags, tracks raw byte spans."""
import struct

class Tag:
    def __init__(self, tag, value): self.tag, self.value = tag, value
    def __repr__(self): return f"Tag({self.tag}, {self.value!r})"

class Simple:
    def __init__(self, v): self.v = v
    def __repr__(self): return f"simple({self.v})"

UNDEFINED = Simple(23)

def _arg(b, i, ai):
    if ai < 24: return ai, i
    if ai == 24: return b[i], i + 1
    if ai == 25: return struct.unpack('>H', b[i:i+2])[0], i + 2
    if ai == 26: return struct.unpack('>I', b[i:i+4])[0], i + 4
    if ai == 27: return struct.unpack('>Q', b[i:i+8])[0], i + 8
    if ai == 31: return None, i
    raise ValueError(f"bad additional info {ai} at {i}")

def decode(b, i=0):
    """Returns (value, next_offset)."""
    ib = b[i]; mt, ai = ib >> 5, ib & 31; i += 1
    if mt == 7:
        if ai == 20: return False, i
        if ai == 21: return True, i
        if ai == 22: return None, i
        if ai == 23: return UNDEFINED, i
        if ai == 24: return Simple(b[i]), i + 1
        if ai == 25:
            h = struct.unpack('>H', b[i:i+2])[0]
            return struct.unpack('>e', b[i:i+2])[0], i + 2
        if ai == 26: return struct.unpack('>f', b[i:i+4])[0], i + 4
        if ai == 27: return struct.unpack('>d', b[i:i+8])[0], i + 8
        if ai < 20: return Simple(ai), i
        raise ValueError("break outside indefinite item")
    n, i = _arg(b, i, ai)
    if mt == 0: return n, i
    if mt == 1: return -1 - n, i
    if mt in (2, 3):
        if n is None:  # indefinite
            parts = []
            while b[i] != 0xFF:
                v, i = decode(b, i); parts.append(v)
            i += 1
            return (b''.join(parts) if mt == 2 else ''.join(parts)), i
        s = bytes(b[i:i+n]); i += n
        return (s if mt == 2 else s.decode('utf-8')), i
    if mt == 4:
        out = []
        if n is None:
            while b[i] != 0xFF:
                v, i = decode(b, i); out.append(v)
            return out, i + 1
        for _ in range(n):
            v, i = decode(b, i); out.append(v)
        return out, i
    if mt == 5:
        out = {}
        keys = []
        cnt = 0
        while (n is None and b[i] != 0xFF) or (n is not None and cnt < n):
            k, i = decode(b, i); v, i = decode(b, i)
            out[k if not isinstance(k, (list, dict)) else repr(k)] = v; cnt += 1
        if n is None: i += 1
        return out, i
    if mt == 6:
        v, i = decode(b, i)
        return Tag(n, v), i
    raise ValueError(mt)

def loads(b):
    v, i = decode(b, 0)
    if i != len(b): raise ValueError(f"trailing bytes: decoded {i} of {len(b)}")
    return v

def head_info(b, i=0):
    """Describe the CBOR initial byte(s) at i: (major type, arg, header length)."""
    ib = b[i]; mt, ai = ib >> 5, ib & 31
    n, j = _arg(b, i + 1, ai) if mt != 7 else (ai, i + 1)
    return mt, n, j - i

def to_jsonable(v, maxbytes=48):
    if isinstance(v, bytes):
        h = v.hex()
        if len(v) > maxbytes: return f"<bytes len={len(v)} {h[:maxbytes*2]}...>"
        return f"<bytes len={len(v)} {h}>"
    if isinstance(v, Tag): return {f"<tag {v.tag}>": to_jsonable(v.value, maxbytes)}
    if isinstance(v, Simple): return f"<simple {v.v}>"
    if isinstance(v, dict): return {str(k) if not isinstance(k, str) else k: to_jsonable(x, maxbytes) for k, x in v.items()}
    if isinstance(v, list): return [to_jsonable(x, maxbytes) for x in v]
    return v
