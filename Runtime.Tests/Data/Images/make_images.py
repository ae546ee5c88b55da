#!/usr/bin/env python3
"""Writes the PNG/PGM/PPM fixtures of ImageFileTests and, for each, the gray values a reader must produce.

Run from this folder with Debian's python3 (python3-pil). Every image is a 7 x 5 pattern (odd sizes exercise the
partial bytes of low bit depths and the Adam7 passes). Images come from two encoders: PIL (a real-world writer) and
the small PNG writer below (Python's zlib), which covers what PIL cannot write: 16-bit color, Adam7 interlacing and
every row filter. `FILE.f32` (e.g. `gray8.png.f32`) holds the expected values as little-endian float32, row by row: gray = luma(r, g, b)
(weights 0.299, 0.587, 0.114) times alpha, samples divided by their maximum.
"""
import struct, zlib
import numpy as np
from PIL import Image

W, H = 7, 5
rng = np.random.default_rng(7)


def expected(name, gray):
    np.asarray(gray, dtype='<f4').tofile(name + '.f32')


def luma(r, g, b):
    return 0.299 * r + 0.587 * g + 0.114 * b


def chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def filtered(rows, stride):
    """Applies filter type y % 5 to row y (so every filter appears), as a PNG encoder would."""
    out, prev = b'', bytes(len(rows[0]))
    for y, row in enumerate(rows):
        f = y % 5
        res = bytearray()
        for i, x in enumerate(row):
            a = row[i - stride] if i >= stride else 0
            b = prev[i]
            c = prev[i - stride] if i >= stride else 0
            pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][f]
            res.append((x - pred) & 0xff)
        out += bytes([f]) + bytes(res)
        prev = row
    return out


def pack_row(samples, depth):
    if depth == 16:
        return b''.join(struct.pack('>H', s) for s in samples)
    if depth == 8:
        return bytes(samples)
    bits = ''.join(format(s, '0%db' % depth) for s in samples)
    bits += '0' * (-len(bits) % 8)
    return bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8))


def write_png(name, samples, depth, color_type, interlace=0, extra=b''):
    """samples: H x W x channels integers."""
    h, w, ch = samples.shape
    stride = max(1, ch * depth // 8)
    if interlace:
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    else:
        passes = [(0, 0, 1, 1)]
    raw = b''
    for x0, y0, dx, dy in passes:
        sub = samples[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue
        rows = [pack_row(list(r.reshape(-1)), depth) for r in sub]
        raw += filtered(rows, stride)
    ihdr = struct.pack('>IIBBBBB', w, h, depth, color_type, 0, 0, interlace)
    data = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + extra + chunk(b'IDAT', zlib.compress(raw, 9)) + chunk(b'IEND', b'')
    open(name + '.png', 'wb').write(data)


# Gray at 1, 2, 4, 8 and 16 bits, plain and interlaced (our writer).
for depth in (1, 2, 4, 8, 16):
    top = (1 << depth) - 1
    g = rng.integers(0, top + 1, size=(H, W, 1))
    for interlace in (0, 1):
        name = 'gray%d%s' % (depth, '-adam7' if interlace else '')
        write_png(name, g, depth, 0, interlace)
        expected(name + '.png', g[:, :, 0] / top)

# RGB and RGBA at 8 and 16 bits, gray+alpha at 8 bits, interlaced RGBA (our writer).
for depth in (8, 16):
    top = (1 << depth) - 1
    rgb = rng.integers(0, top + 1, size=(H, W, 3))
    write_png('rgb%d' % depth, rgb, depth, 2)
    expected('rgb%d.png' % depth, luma(rgb[..., 0], rgb[..., 1], rgb[..., 2]) / top)
    rgba = rng.integers(0, top + 1, size=(H, W, 4))
    gray = luma(rgba[..., 0], rgba[..., 1], rgba[..., 2]) / top * rgba[..., 3] / top
    write_png('rgba%d' % depth, rgba, depth, 6)
    expected('rgba%d.png' % depth, gray)
    write_png('rgba%d-adam7' % depth, rgba, depth, 6, interlace=1)
    expected('rgba%d-adam7.png' % depth, gray)
ga = rng.integers(0, 256, size=(H, W, 2))
write_png('grayalpha8', ga, 8, 4)
expected('grayalpha8.png', ga[..., 0] / 255 * ga[..., 1] / 255)

# A 4-bit palette image with a transparent entry (our writer: PLTE + tRNS).
palette = rng.integers(0, 256, size=(16, 3))
alpha = np.full(16, 255); alpha[3] = 0; alpha[5] = 128
idx = rng.integers(0, 16, size=(H, W, 1))
extra = chunk(b'PLTE', bytes(palette.reshape(-1).tolist())) + chunk(b'tRNS', bytes(alpha[:6].tolist()))
write_png('palette4', idx, 4, 3, extra=extra)
p = palette[idx[..., 0]]
expected('palette4.png', luma(p[..., 0], p[..., 1], p[..., 2]) / 255 * alpha[idx[..., 0]] / 255)

# PIL's own writer: 8-bit gray, RGB, RGBA and a palette image.
g8 = rng.integers(0, 256, size=(H, W)).astype(np.uint8)
Image.fromarray(g8, 'L').save('pil-gray.png')
expected('pil-gray.png', g8 / 255)
rgb8 = rng.integers(0, 256, size=(H, W, 3)).astype(np.uint8)
Image.fromarray(rgb8, 'RGB').save('pil-rgb.png')
expected('pil-rgb.png', luma(rgb8[..., 0] / 255, rgb8[..., 1] / 255, rgb8[..., 2] / 255))
rgba8 = rng.integers(0, 256, size=(H, W, 4)).astype(np.uint8)
Image.fromarray(rgba8, 'RGBA').save('pil-rgba.png')
expected('pil-rgba.png', luma(rgba8[..., 0] / 255, rgba8[..., 1] / 255, rgba8[..., 2] / 255) * rgba8[..., 3] / 255)
Image.fromarray(rgb8, 'RGB').quantize(colors=8).save('pil-palette.png')
q = np.asarray(Image.open('pil-palette.png').convert('RGB')).astype(float)
expected('pil-palette.png', luma(q[..., 0], q[..., 1], q[..., 2]) / 255)

# netpbm: PGM and PPM, binary and ASCII, 8 and 16 bits, with a comment in the header.
Image.fromarray(g8, 'L').save('pil-gray.pgm')
expected('pil-gray.pgm', g8 / 255)
Image.fromarray(rgb8, 'RGB').save('pil-rgb.ppm')
expected('pil-rgb.ppm', luma(rgb8[..., 0] / 255, rgb8[..., 1] / 255, rgb8[..., 2] / 255))
g16 = rng.integers(0, 1001, size=(H, W))
open('gray16.pgm', 'wb').write(b'P5\n# sixteen bits\n%d %d\n1000\n' % (W, H) + g16.astype('>u2').tobytes())
expected('gray16.pgm', g16 / 1000)
open('ascii.pgm', 'w').write('P2\n%d %d\n15\n' % (W, H) + '\n'.join(' '.join(str(v) for v in r) for r in (g8 % 16)) + '\n')
expected('ascii.pgm', (g8 % 16) / 15)
open('ascii.ppm', 'w').write('P3 %d %d 255\n' % (W, H) + ' '.join(str(v) for v in rgb8.reshape(-1)) + '\n')
expected('ascii.ppm', luma(rgb8[..., 0] / 255, rgb8[..., 1] / 255, rgb8[..., 2] / 255))

# Cross-check our writer against PIL where PIL reads the format.
for name in ('gray8', 'gray8-adam7', 'rgb8', 'rgba8-adam7', 'gray1', 'gray4-adam7'):
    img = np.asarray(Image.open(name + '.png'))
    assert img.size > 0, name
print('written')
