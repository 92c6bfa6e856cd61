// The faceswap wire protocol, version 1 (docs/protocol.md): the JSON handshake and the binary
// frame messages. Plain JavaScript module, no dependencies.

export const PROTOCOL_VERSION = 1;
export const HEADER_BYTES = 48;
export const RESULT_BLOCK_BYTES = 24;
const MAGIC = 0x50575346; // "FSWP" read as little-endian bytes
export const TYPE_FRAME = 1;
export const TYPE_RESULT = 2;
export const TYPE_SKIPPED = 3;
const CODEC_JPEG = 1;

export function helloMessage({ token = "", model = "demo", direction = "a2b", quality = 85 }) {
  return JSON.stringify({ type: "hello", protocol: PROTOCOL_VERSION, token, model, direction, quality });
}

// A frame message: the 48-byte header, then the JPEG.
export function encodeFrame(frameId, captureUs, width, height, jpeg) {
  const bytes = new Uint8Array(HEADER_BYTES + jpeg.byteLength);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint16(4, PROTOCOL_VERSION, true);
  view.setUint16(6, TYPE_FRAME, true);
  view.setBigUint64(8, BigInt(frameId), true);
  view.setBigUint64(16, BigInt(captureUs), true);
  view.setUint16(24, width, true);
  view.setUint16(26, height, true);
  view.setUint8(28, CODEC_JPEG);
  view.setUint32(32, jpeg.byteLength, true);
  bytes.set(new Uint8Array(jpeg), HEADER_BYTES);
  return bytes.buffer;
}

// A result or skipped notice from the server; throws Error with what is wrong.
export function decodeMessage(buffer) {
  if (buffer.byteLength < HEADER_BYTES) throw new Error("message shorter than a header");
  const view = new DataView(buffer);
  if (view.getUint32(0, true) !== MAGIC) throw new Error("bad magic");
  if (view.getUint16(4, true) !== PROTOCOL_VERSION) throw new Error("another protocol version");
  const type = view.getUint16(6, true);
  const message = {
    type,
    frameId: Number(view.getBigUint64(8, true)),
    captureUs: Number(view.getBigUint64(16, true)),
    width: view.getUint16(24, true),
    height: view.getUint16(26, true),
  };
  const length = view.getUint32(32, true);
  if (type === TYPE_SKIPPED) return message;
  if (type !== TYPE_RESULT) throw new Error(`unknown message type ${type}`);
  if (buffer.byteLength !== HEADER_BYTES + RESULT_BLOCK_BYTES + length)
    throw new Error("length mismatch");
  const block = HEADER_BYTES;
  message.timings = {
    decodeUs: view.getUint32(block, true),
    queueUs: view.getUint32(block + 4, true),
    engineUs: view.getUint32(block + 8, true),
    encodeUs: view.getUint32(block + 12, true),
  };
  message.faces = view.getUint16(block + 16, true);
  message.jpeg = new Uint8Array(buffer, HEADER_BYTES + RESULT_BLOCK_BYTES, length);
  return message;
}
