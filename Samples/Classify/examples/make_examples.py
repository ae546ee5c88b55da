#!/usr/bin/env python3
"""Writes the first four Fashion-MNIST test images as PNG (8-bit gray) and PGM files, named by their label,
for trying Samples/Classify. Run from this folder with Debian's python3 (python3-pil) after
`apt-get install dataset-fashion-mnist`."""
import gzip
from PIL import Image

NAMES = ['t-shirt', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'ankle-boot']
root = '/usr/share/datasets/fashion-mnist/'
images = gzip.open(root + 't10k-images-idx3-ubyte.gz').read()[16:]
labels = gzip.open(root + 't10k-labels-idx1-ubyte.gz').read()[8:]
for i in range(4):
    img = Image.frombytes('L', (28, 28), images[784 * i:784 * (i + 1)])
    name = '%d-%s' % (i, NAMES[labels[i]])
    img.save(name + '.png')
    if i == 0:
        img.save(name + '.pgm')
print('written')
