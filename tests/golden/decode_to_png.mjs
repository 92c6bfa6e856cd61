// Decodes JPEGs with jpeg-js (the decoder the golden reference uses) and writes them as PNG, so
// the C++ tests and the reference see identical pixels.
// Usage: node decode_to_png.mjs --jpeg-js DIR --pngjs DIR --out DIR IMAGE.jpg...
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const option = (name) => {
  const i = args.indexOf(name);
  if (i < 0 || i + 1 >= args.length) throw new Error(`missing ${name}`);
  return args.splice(i, 2)[1];
};
const require = createRequire(import.meta.url);
const jpeg = require(path.resolve(option('--jpeg-js')));
const { PNG } = require(path.resolve(option('--pngjs')));
const out = option('--out');
fs.mkdirSync(out, { recursive: true });
for (const file of args) {
  const image = jpeg.decode(fs.readFileSync(file), { useTArray: true, formatAsRGBA: true });
  const png = new PNG({ width: image.width, height: image.height });
  png.data = Buffer.from(image.data);
  const name = path.basename(file).replace(/\.jpe?g$/i, '.png');
  fs.writeFileSync(path.join(out, name), PNG.sync.write(png));
  console.log(`${name}: ${image.width}x${image.height}`);
}
