"""pngstats.py PNG [RGB...] - decodes an 8-bit RGB/RGBA PNG (zlib + the five scanline filters, no PIL) and
prints its width, height and number of distinct colours; exits 1 unless each RGB given as RRGGBB (hex)
is among its pixels (within 2 per channel: anti-aliasing), so a test can tell a drawn chart from a blank
or half-rendered page."""
import struct
import sys
import zlib


def decode(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), f"unsupported PNG: depth {depth} type {ctype}"
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
    raw, stride = zlib.decompress(idat), w * bpp
    prev, rows, i = bytearray(stride), [], 0
    for _ in range(h):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    colours = set()
    for r in rows:
        for x in range(0, stride, bpp):
            colours.add(r[x:x + 3])
    return w, h, colours


w, h, colours = decode(sys.argv[1])
print(f"{w}x{h}, {len(colours)} colours")
missing = []
for want in sys.argv[2:]:
    t = bytes.fromhex(want)
    if not any(all(abs(c[k] - t[k]) <= 2 for k in range(3)) for c in colours):
        missing.append(want)
if missing:
    print("missing colours:", " ".join(missing))
    sys.exit(1)
