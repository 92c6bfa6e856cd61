// Golden reference generator: runs the real @vladmandic/face-api (SSD MobileNetV1
// detector + 68-point landmark net, and with --descriptors the face recognition net) on the
// tfjs pure-JS CPU backend and writes detections/landmarks (and 128-d descriptors) as JSON
// fixtures for the C++ port.
//
// Usage:
//   node tests/golden/reference.mjs --face-api DIR --out OUT.json [--deps PREFIX]
//        [--descriptors] IMAGE...
//
//   --descriptors  also run withFaceDescriptors() and write each face's descriptor and the
//               rectangle face-api cut out for it (landmarks.align(useDlibAlignment), clipped)

//   --face-api  extracted @vladmandic/face-api@1.7.15 npm package dir
//               (the one containing dist/ and model/)
//   --deps      npm --prefix holding @tensorflow/tfjs@4.22.0, jpeg-js, pngjs
//               (default: <repo>/.cache/node-reference, see make_fixtures.sh)
//   IMAGE       .jpg/.jpeg/.png files; keyed in the output by basename
//
// Module loading: dist/face-api.esm-nobundle.js imports
// "@tensorflow/tfjs/dist/index.js", ".../tfjs-backend-webgl/dist/index.js" and
// ".../tfjs-backend-wasm/dist/index.js". Those ESM dist files use extensionless
// relative imports that Node cannot resolve, so a resolve hook maps the first two
// to the packages' Node (CommonJS) entry points in --deps and replaces the wasm
// backend (unused, not installed) with an empty module. The face-api code itself
// is loaded unmodified, and all tensor work goes through faceapi.tf so there is
// a single tfjs instance.

import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { createRequire, register } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const FACE_API_VERSION = '1.7.15';
const TFJS_VERSION = '4.22.0';
const MIN_CONFIDENCE = 0.5;
const MAX_RESULTS = 100;

function parseArgs(argv) {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const opts = { faceApi: null, out: null, deps: path.resolve(here, '../../.cache/node-reference'), descriptors: false, images: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--face-api') opts.faceApi = argv[++i];
    else if (a === '--out') opts.out = argv[++i];
    else if (a === '--deps') opts.deps = argv[++i];
    else if (a === '--descriptors') opts.descriptors = true;
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else opts.images.push(a);
  }
  if (!opts.faceApi || !opts.out || opts.images.length === 0) {
    throw new Error('usage: reference.mjs --face-api DIR --out OUT.json [--deps PREFIX] IMAGE...');
  }
  opts.faceApi = path.resolve(opts.faceApi);
  opts.deps = path.resolve(opts.deps);
  return opts;
}

function installResolveHook(depsDir) {
  const parentURL = pathToFileURL(path.join(depsDir, 'package.json')).href;
  const hook = `
    const PARENT = ${JSON.stringify(parentURL)};
    const REDIRECT = {
      '@tensorflow/tfjs/dist/index.js': '@tensorflow/tfjs',
      '@tensorflow/tfjs-backend-webgl/dist/index.js': '@tensorflow/tfjs-backend-webgl',
    };
    export async function resolve(spec, ctx, next) {
      if (spec === '@tensorflow/tfjs-backend-wasm/dist/index.js') {
        return { url: 'data:text/javascript,', format: 'module', shortCircuit: true };
      }
      if (spec in REDIRECT) return next(REDIRECT[spec], { ...ctx, parentURL: PARENT });
      const r = await next(spec, ctx);
      // face-api's package.json has no "type": "module"; say so to skip the reparse warning.
      if (r.url.endsWith('/face-api.esm-nobundle.js')) return { ...r, format: 'module' };
      return r;
    }`;
  register('data:text/javascript,' + encodeURIComponent(hook));
}

// Decode to an interleaved 8-bit RGB buffer (alpha dropped).
function decodeImage(file, requireDeps) {
  const buf = fs.readFileSync(file);
  const ext = path.extname(file).toLowerCase();
  let width, height, rgba;
  if (ext === '.png') {
    const { PNG } = requireDeps('pngjs');
    const png = PNG.sync.read(buf); // always 8-bit RGBA
    ({ width, height } = png);
    rgba = png.data;
  } else if (ext === '.jpg' || ext === '.jpeg') {
    const jpeg = requireDeps('jpeg-js');
    const img = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true });
    ({ width, height } = img);
    rgba = img.data;
  } else {
    throw new Error(`unsupported image type: ${file}`);
  }
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < width * height * 4; i += 4, j += 3) {
    rgb[j] = rgba[i]; rgb[j + 1] = rgba[i + 1]; rgb[j + 2] = rgba[i + 2];
  }
  return { width, height, rgb, sha256: crypto.createHash('sha256').update(buf).digest('hex') };
}

// Load a face-api net from <model>/<name>-weights_manifest.json + its .bin shards.
function loadNet(tf, net, modelDir, name) {
  const manifest = JSON.parse(fs.readFileSync(path.join(modelDir, `${name}-weights_manifest.json`), 'utf8'));
  const specs = [];
  const shards = [];
  for (const group of manifest) {
    specs.push(...group.weights);
    for (const p of group.paths) shards.push(fs.readFileSync(path.join(modelDir, p)));
  }
  const all = Buffer.concat(shards);
  const weightMap = tf.io.decodeWeights(all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength), specs);
  net.loadFromWeightMap(weightMap);
}

const r4 = (v) => Math.round(v * 1e4) / 1e4;

// Indented JSON, but innermost arrays/objects (points, boxes) on one line.
// Leaves hold only numbers and plain keys, so dropping their whitespace is safe.
function toJson(obj) {
  return JSON.stringify(obj, null, 1).replace(/[[{][^[\]{}]*[\]}]/g, (leaf) => leaf.replace(/\s+/g, '')) + '\n';
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  installResolveHook(opts.deps);
  const requireDeps = createRequire(path.join(opts.deps, 'package.json'));

  const faceapi = await import(pathToFileURL(path.join(opts.faceApi, 'dist', 'face-api.esm-nobundle.js')).href);
  const { tf } = faceapi;
  if (faceapi.version !== FACE_API_VERSION) throw new Error(`face-api ${faceapi.version}, expected ${FACE_API_VERSION}`);
  if (tf.version.tfjs !== TFJS_VERSION) throw new Error(`tfjs ${tf.version.tfjs}, expected ${TFJS_VERSION}`);
  await tf.setBackend('cpu');
  await tf.ready();
  if (tf.getBackend() !== 'cpu') throw new Error(`backend is ${tf.getBackend()}`);

  const modelDir = path.join(opts.faceApi, 'model');
  loadNet(tf, faceapi.nets.ssdMobilenetv1, modelDir, 'ssd_mobilenetv1_model');
  loadNet(tf, faceapi.nets.faceLandmark68Net, modelDir, 'face_landmark_68_model');
  if (opts.descriptors) loadNet(tf, faceapi.nets.faceRecognitionNet, modelDir, 'face_recognition_model');
  const detectorOptions = new faceapi.SsdMobilenetv1Options({ minConfidence: MIN_CONFIDENCE, maxResults: MAX_RESULTS });

  const images = {};
  for (const file of opts.images) {
    const key = path.basename(file);
    if (key in images) throw new Error(`duplicate image basename ${key}`);
    const { width, height, rgb, sha256 } = decodeImage(file, requireDeps);
    const input = tf.tensor3d(rgb, [height, width, 3], 'int32');
    const t0 = Date.now();
    const task = faceapi.detectAllFaces(input, detectorOptions).withFaceLandmarks();
    const results = await (opts.descriptors ? task.withFaceDescriptors() : task);
    input.dispose();
    const faces = results.map((res) => {
      const det = res.detection;
      const { box } = det;
      // Same rectangle extractFaceTensors() slices out for the landmark net.
      const crop = det.forSize(width, height).box.clipAtImageBorders(width, height);
      const face = {
        score: r4(det.score),
        box: { x: r4(box.x), y: r4(box.y), width: r4(box.width), height: r4(box.height) },
        landmark_crop: { x: crop.x, y: crop.y, width: crop.width, height: crop.height },
        landmarks: res.landmarks.positions.map((p) => [r4(p.x), r4(p.y)]),
      };
      if (opts.descriptors) {
        // The rectangle ComputeAllFaceDescriptorsTask hands to extractFaceTensors().
        const rect = res.landmarks.align(null, { useDlibAlignment: true }).clipAtImageBorders(width, height);
        face.descriptor_crop = { x: rect.x, y: rect.y, width: rect.width, height: rect.height };
        face.descriptor = Array.from(res.descriptor, (v) => Math.round(v * 1e6) / 1e6);
      }
      return face;
    });
    process.stderr.write(`${key}: ${width}x${height}, ${faces.length} face(s), ${Date.now() - t0} ms\n`);
    images[key] = { width, height, sha256, faces };
  }

  const out = {
    generator: 'tests/golden/reference.mjs (@vladmandic/face-api dist/face-api.esm-nobundle.js, tfjs cpu backend, '
      + (opts.descriptors
        ? 'SsdMobilenetv1 + FaceLandmark68Net + FaceRecognitionNet, detectAllFaces().withFaceLandmarks().withFaceDescriptors(); '
        : 'SsdMobilenetv1 + FaceLandmark68Net, detectAllFaces().withFaceLandmarks(); ')
      + 'images decoded with jpeg-js/pngjs)',
    face_api: FACE_API_VERSION,
    tfjs: TFJS_VERSION,
    min_confidence: MIN_CONFIDENCE,
    max_results: MAX_RESULTS,
    images,
  };
  fs.mkdirSync(path.dirname(path.resolve(opts.out)), { recursive: true });
  fs.writeFileSync(opts.out, toJson(out));
  process.stderr.write(`wrote ${opts.out}\n`);
}

main().catch((err) => { console.error(err); process.exit(1); });
