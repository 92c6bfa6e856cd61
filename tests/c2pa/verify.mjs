#!/usr/bin/env node
// The official C2PA implementation (c2pa-rs 0.92, through the pinned npm package
// @contentauth/c2pa-wasm 0.15.0 that scripts/setup.sh fetches) reading one file, for the tests:
//   node tests/c2pa/verify.mjs FILE [--anchor CERT.pem] [--pkg DIR]
// DIR defaults to $FACESWAP_CACHE_DIR (or .cache)/c2pa-wasm/package/pkg. Prints one JSON object:
// the validation state (Invalid, Valid or Trusted, or "none" without a manifest), the failure
// and informational codes, the active manifest's generator, assertions and signer.
// Exit 0: Valid or Trusted; 1: Invalid or no manifest; 2: usage or the verifier did not load.
import * as fs from "node:fs";
import * as path from "node:path";

const args = process.argv.slice(2);
const option = (name) => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const value = args[i + 1];
  args.splice(i, 2);
  return value;
};
const anchor = option("--anchor");
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const pkg = option("--pkg") ??
  path.join(process.env.FACESWAP_CACHE_DIR || path.join(root, ".cache"), "c2pa-wasm/package/pkg");
const file = args[0];
const say = (object, code) => { console.log(JSON.stringify(object, null, 2)); process.exit(code); };
if (!file) say({ error: "usage: verify.mjs FILE [--anchor CERT.pem] [--pkg DIR]" }, 2);
const types = { ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".mp4": "video/mp4" };
const mime = types[path.extname(file).toLowerCase()];
if (!mime) say({ file, error: "not a JPEG, PNG or MP4 file name" }, 2);

let c2pa;
try {
  c2pa = await import(path.join(pkg, "c2pa.js"));
  c2pa.initSync({ module: fs.readFileSync(path.join(pkg, "c2pa_bg.wasm")) });
} catch (e) {
  say({ error: `the C2PA verifier did not load from ${pkg} (run scripts/setup.sh assets): ${e.message ?? e}` }, 2);
}
// c2pa-rs reads its settings in snake_case; the anchor is the certificate's PEM text.
const settings = anchor
  ? JSON.stringify({ trust: { trust_anchors: fs.readFileSync(anchor, "utf8") }, verify: { verify_trust: true } })
  : undefined;
let store;
try {
  const reader = await c2pa.WasmReader.fromBytes(mime, new Uint8Array(fs.readFileSync(file)), settings);
  store = JSON.parse(reader.json());
} catch (e) {
  const message = String(e?.message ?? e);
  if (message.includes("JumbfNotFound")) say({ file, validation_state: "none", error: "no C2PA manifest" }, 1);
  say({ file, validation_state: "Invalid", error: message }, 1);
}
const active = store.manifests?.[store.active_manifest] ?? {};
const results = store.validation_results?.activeManifest ?? {};
const codes = (list) => (list ?? []).map((s) => `${s.code}${s.explanation ? ": " + s.explanation : ""}`);
say({
  file,
  validation_state: store.validation_state,
  failure: codes(results.failure),
  informational: codes(results.informational),
  claim_generator_info: active.claim_generator_info,
  title: active.title,
  assertions: (active.assertions ?? []).map((a) => a.label),
  actions: (active.assertions ?? []).filter((a) => a.label.startsWith("c2pa.actions"))
    .flatMap((a) => a.data?.actions ?? []),
  signature_info: active.signature_info,
  ingredients: (active.ingredients ?? []).map((i) => ({ title: i.title, relationship: i.relationship })),
}, store.validation_state === "Valid" || store.validation_state === "Trusted" ? 0 : 1);
