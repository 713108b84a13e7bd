// slides/test/png_stats.mjs — what a screenshot shows, in numbers, with nothing
// but Node: node png_stats.mjs FILE.png [#rrggbb ...]
//
// Prints JSON: the width and height, the share of pixels within a small
// distance of each colour given, and how many pixels are strongly coloured
// (syntax highlighting; raw Markdown in a browser is black on white).
import { readFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';

const [file, ...colours] = process.argv.slice(2);
const png = readFileSync(file);
if (png.readUInt32BE(0) !== 0x89504e47) throw new Error(`${file}: not a PNG`);

let width = 0, height = 0, type = 0;
const data = [];
for (let at = 8; at < png.length; ) {
  const length = png.readUInt32BE(at);
  const kind = png.toString('latin1', at + 4, at + 8);
  const body = png.subarray(at + 8, at + 8 + length);
  if (kind === 'IHDR') {
    width = body.readUInt32BE(0);
    height = body.readUInt32BE(4);
    type = body[9];
    if (body[8] !== 8 || (type !== 2 && type !== 6) || body[12] !== 0)
      throw new Error(`${file}: only 8-bit RGB or RGBA, not interlaced`);
  } else if (kind === 'IDAT') {
    data.push(body);
  }
  at += 12 + length;
}

// Undo the per-row filters (PNG spec, section 9).
const channels = type === 6 ? 4 : 3;
const stride = width * channels;
const raw = inflateSync(Buffer.concat(data));
const pixels = Buffer.alloc(stride * height);
const paeth = (a, b, c) => {
  const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
};
for (let y = 0; y < height; ++y) {
  const filter = raw[y * (stride + 1)];
  for (let x = 0; x < stride; ++x) {
    const value = raw[y * (stride + 1) + 1 + x];
    const left = x >= channels ? pixels[y * stride + x - channels] : 0;
    const up = y > 0 ? pixels[(y - 1) * stride + x] : 0;
    const upLeft = x >= channels && y > 0 ? pixels[(y - 1) * stride + x - channels] : 0;
    const predicted = [0, left, up, (left + up) >> 1, paeth(left, up, upLeft)][filter];
    pixels[y * stride + x] = (value + predicted) & 0xff;
  }
}

const wanted = colours.map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)));
const near = wanted.map(() => 0);
let coloured = 0;
for (let i = 0; i < pixels.length; i += channels) {
  const rgb = [pixels[i], pixels[i + 1], pixels[i + 2]];
  wanted.forEach((colour, k) => {
    if (colour.every((c, j) => Math.abs(c - rgb[j]) <= 3)) ++near[k];
  });
  if (Math.max(...rgb) - Math.min(...rgb) > 100) ++coloured;
}
const share = Object.fromEntries(colours.map((hex, k) => [hex, near[k] / (width * height)]));
console.log(JSON.stringify({ width, height, share, coloured }));
