// The browser client: the camera through getUserMedia, frames to the server over the same
// WebSocket protocol as the native client, the swapped frames drawn beside the camera.
// Pipelined like the native client: up to the server's max_in_flight frames are on the way, and
// the next frame is captured and encoded as soon as a slot frees, so the newest picture is
// always the one sent.
import { decodeMessage, encodeFrame, helloMessage, TYPE_RESULT } from "./protocol.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const MAX_WIDTH = 640;

const state = {
  socket: null,
  stream: null,
  running: false,
  inFlight: 0,
  window: 2,
  nextId: 1,
  encoding: false,
  freshFrame: false, // a camera frame not sent yet
  shownAt: [],      // when swapped frames were drawn (ms), for the rate over the last 2 s
  latencies: [],    // capture-to-display, ms, the last 300
  frames: 0,
  skipped: 0,
};

function nowUs() {
  return Math.round(performance.now() * 1000);
}

function say(text, isError = false) {
  const line = $("message");
  line.textContent = text;
  line.className = isError ? "error" : "";
}

function percentile(sorted, p) {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function updateStats() {
  const now = performance.now();
  state.shownAt = state.shownAt.filter((t) => now - t < 2000);
  const fps = state.shownAt.length > 1
    ? ((state.shownAt.length - 1) * 1000) / (state.shownAt[state.shownAt.length - 1] - state.shownAt[0])
    : 0;
  const sorted = [...state.latencies].sort((a, b) => a - b);
  const stats = {
    fps: Number(fps.toFixed(1)),
    p50: Number(percentile(sorted, 50).toFixed(1)),
    p95: Number(percentile(sorted, 95).toFixed(1)),
    frames: state.frames,
    skipped: state.skipped,
  };
  $("stats").textContent =
    `${stats.fps} FPS  latency p50 ${stats.p50} ms  p95 ${stats.p95} ms  ` +
    `swapped ${stats.frames}  skipped ${stats.skipped}`;
  $("stats").dataset.fps = stats.fps;
  $("stats").dataset.frames = stats.frames;
  window.faceswapStats = stats;
}

function drawMark(context, width, height) {
  if ($("hide-mark").checked) return;
  const text = "AI-generated";
  const size = Math.max(10, Math.round(height / 24));
  context.font = `${size}px sans-serif`;
  const pad = Math.round(size / 3);
  const w = context.measureText(text).width + 2 * pad;
  const h = size + 2 * pad;
  context.fillStyle = "rgba(0, 0, 0, 0.65)";
  context.fillRect(width - w - pad, height - h - pad, w, h);
  context.fillStyle = "white";
  context.textBaseline = "top";
  context.fillText(text, width - w, height - h);
}

// Captures the newest camera picture, encodes it and sends it while a slot is free.
async function pump() {
  if (!state.running || state.encoding || state.inFlight >= state.window) return;
  const video = $("camera");
  // Each camera frame is sent once: a free slot waits for the next new frame.
  if (video.readyState < 2 || !video.videoWidth || !state.freshFrame) return;
  state.freshFrame = false;
  state.encoding = true;
  try {
    const scale = Math.min(1, MAX_WIDTH / video.videoWidth);
    const width = Math.round((video.videoWidth * scale) / 2) * 2;
    const height = Math.round((video.videoHeight * scale) / 2) * 2;
    const canvas = $("capture");
    canvas.width = width;
    canvas.height = height;
    const context = canvas.getContext("2d");
    const captureUs = nowUs();
    context.drawImage(video, 0, 0, width, height);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
    if (!state.running || !blob) return;
    const jpeg = await blob.arrayBuffer();
    if (!state.running || state.socket.readyState !== WebSocket.OPEN) return;
    state.socket.send(encodeFrame(state.nextId++, captureUs, width, height, jpeg));
    state.inFlight += 1;
  } finally {
    state.encoding = false;
  }
  pump();
}

async function onResult(message) {
  state.inFlight = Math.max(0, state.inFlight - 1);
  pump();
  if (message.type !== TYPE_RESULT) {
    state.skipped += 1;
    return;
  }
  const bitmap = await createImageBitmap(new Blob([message.jpeg], { type: "image/jpeg" }));
  const canvas = $("swapped");
  if (canvas.width !== bitmap.width || canvas.height !== bitmap.height) {
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
  }
  const context = canvas.getContext("2d");
  context.drawImage(bitmap, 0, 0);
  drawMark(context, canvas.width, canvas.height);
  bitmap.close();
  state.frames += 1;
  state.shownAt.push(performance.now());
  state.latencies.push((nowUs() - message.captureUs) / 1000);
  if (state.latencies.length > 300) state.latencies.shift();
}

function serverUrl() {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/`;
}

async function start() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    say("This browser gives the camera only to secure pages: open this page as " +
        "https://... (start faceswap-server with TLS) or from this machine as http://127.0.0.1.", true);
    return;
  }
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
  } catch (error) {
    say(`The camera is not available (${error.name}): allow it for this page, or connect one.`, true);
    return;
  }
  const video = $("camera");
  video.srcObject = state.stream;
  await video.play();
  state.freshFrame = true;
  if (video.requestVideoFrameCallback) {
    const onFrame = () => {
      state.freshFrame = true;
      pump();
      if (state.stream) video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  } else {
    state.freshFrameTimer = setInterval(() => { state.freshFrame = true; pump(); }, 33);
  }

  const socket = new WebSocket(serverUrl());
  socket.binaryType = "arraybuffer";
  state.socket = socket;
  state.inFlight = 0;
  socket.onopen = () => socket.send(helloMessage({
    token: $("token").value, model: $("model").value || "demo", direction: $("direction").value }));
  socket.onmessage = (event) => {
    if (typeof event.data === "string") {
      const reply = JSON.parse(event.data);
      if (reply.type === "welcome") {
        state.window = Math.max(1, (reply.limits && reply.limits.max_in_flight) || 2);
        state.running = true;
        say(`Swapping with model ${$("model").value || "demo"} (${$("direction").value}), ` +
            `session ${reply.session_id}.`);
        $("start").textContent = "Stop";
        pump();
      } else if (reply.type === "error") {
        say(`The server refused: ${reply.message} (${reply.code}).`, true);
      }
      return;
    }
    try {
      onResult(decodeMessage(event.data));
    } catch (error) {
      say(`A message from the server could not be read: ${error.message}.`, true);
      socket.close();
    }
  };
  socket.onclose = (event) => {
    const wasRunning = state.running;
    stopCapture();
    if (state.socket === socket) state.socket = null;
    if (wasRunning || event.code !== 1000)
      say(`The connection closed (${event.code}${event.reason ? ": " + event.reason : ""}). ` +
          "Press Start to connect again.", event.code !== 1000);
  };
  socket.onerror = () => say(`Cannot reach the server at ${serverUrl()}.`, true);
}

function stopCapture() {
  state.running = false;
  clearInterval(state.freshFrameTimer);
  if (state.stream) state.stream.getTracks().forEach((track) => track.stop());
  state.stream = null;
  $("start").textContent = "Start";
}

function stop() {
  stopCapture();
  if (state.socket) state.socket.close(1000);
  state.socket = null;
}

async function loadModels() {
  const headers = $("token").value ? { Authorization: `Bearer ${$("token").value}` } : {};
  try {
    const response = await fetch("/v1/models", { headers });
    if (!response.ok) return;
    const listing = await response.json();
    const select = $("model");
    const wanted = params.get("model") || select.value || "demo";
    select.replaceChildren();
    for (const model of listing.models || []) {
      const option = document.createElement("option");
      option.value = option.textContent = model.id;
      select.append(option);
    }
    if ([...select.options].some((o) => o.value === wanted)) select.value = wanted;
  } catch (error) {
    // The picker keeps "demo"; starting says what is wrong if the server has no such model.
  }
}

$("start").addEventListener("click", () => (state.running || state.socket ? stop() : start()));
$("token").addEventListener("change", loadModels);
$("token").value = params.get("token") || "";
$("direction").value = params.get("direction") === "b2a" ? "b2a" : "a2b";
if (params.get("hide_mark") === "1") $("hide-mark").checked = true;
setInterval(updateStats, 500);
loadModels().then(() => { if (params.get("autostart") === "1") start(); });
