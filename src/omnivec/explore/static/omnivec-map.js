// omnivec map viewer: WebGL points, zoom-level labels, search, neighbours.
// Plain modern JavaScript, no build step and no external requests.  A classic
// script rather than a module: browsers refuse module scripts on file:// pages,
// and the map must open from disk as well as from `omnivec explore --serve`.
// Keys are data, never markup: they reach the screen only through textContent
// and canvas fillText.
"use strict";

(() => {
  // ---- data loading -----------------------------------------------------------
  const FROM_DISK = location.protocol === "file:";
  const arrived = new Map();
  const waiting = new Map();

  function b64ToBuffer(s) {
    if (typeof Uint8Array.fromBase64 === "function") return Uint8Array.fromBase64(s).buffer;
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  // Called by the data/<file>.js copies that a page opened from disk loads.
  window.omnivecData = (name, payload, isBase64) => {
    const value = isBase64 ? b64ToBuffer(payload) : payload;
    const w = waiting.get(name);
    if (w) { waiting.delete(name); w(value); } else arrived.set(name, value);
  };

  function load(name, kind) {
    if (!FROM_DISK) {
      return fetch("data/" + name).then((r) => {
        if (!r.ok) throw new Error(`data/${name}: HTTP ${r.status}`);
        return kind === "bin" ? r.arrayBuffer() : r.json();
      });
    }
    if (arrived.has(name)) { const v = arrived.get(name); arrived.delete(name); return Promise.resolve(v); }
    return new Promise((resolve, reject) => {
      waiting.set(name, resolve);
      const s = document.createElement("script");
      s.src = "data/" + name + ".js";
      s.onerror = () => {
        waiting.delete(name);
        reject(new Error(`cannot read data/${name}.js; a map written with --no-file-copies opens only ` +
          "through a web server: omnivec explore MAP_FOLDER --serve"));
      };
      s.onload = () => s.remove();
      document.head.appendChild(s);
    });
  }

  // ---- state ------------------------------------------------------------------
  const $ = (id) => document.getElementById(id);
  const mapEl = $("map"), glCanvas = $("gl"), overlay = $("overlay"), tooltip = $("tooltip");
  const S = {
    man: null, n: 0, xy: null, schemes: [], scheme: 0, codes: null, keys: null,
    keyIndex: null, lowerIndex: null, levels: [], contours: [], shards: new Map(),
    view: { cx: 0.5, cy: 0.5, scale: 1 }, base: 1, W: 1, H: 1, dpr: 1,
    selected: -1, hover: -1, nbrs: [], frames: 0, drawn: 0, firstRenderMs: null,
    labels: [], level: 0, grid: null, error: null, pending: false, anim: null,
  };

  function keyText(p) {
    if (!S.keys) return `#${p}`;
    const k = S.keys[p];
    return k === "" ? "\u2205 (empty key)" : String(k);
  }

  function setText(el, text) { el.textContent = text; }

  function fail(err) {
    S.error = String(err && err.message ? err.message : err);
    const st = $("status");
    st.classList.add("error");
    setText(st, "Error: " + S.error);
  }

  // ---- WebGL ------------------------------------------------------------------
  let gl = null, prog = null, loc = {}, posBuf = null, colBuf = null;

  const VS = `#version 300 es
  in vec2 a_pos; in float a_col;
  uniform vec2 u_center; uniform float u_scale; uniform vec2 u_size; uniform float u_psize;
  uniform vec3 u_pal[32];
  out vec3 v_col;
  void main() {
    vec2 p = (a_pos - u_center) * u_scale;
    gl_Position = vec4(p.x * 2.0 / u_size.x, p.y * 2.0 / u_size.y, 0.0, 1.0);
    gl_PointSize = u_psize;
    v_col = u_pal[int(a_col)];
  }`;
  const FS = `#version 300 es
  precision mediump float;
  in vec3 v_col; uniform float u_alpha; out vec4 o;
  void main() {
    vec2 c = gl_PointCoord - 0.5;
    if (dot(c, c) > 0.25) discard;
    o = vec4(v_col * u_alpha, u_alpha);
  }`;

  function compile(type, src) {
    const sh = gl.createShader(type);
    gl.shaderSource(sh, src);
    gl.compileShader(sh);
    if (!gl.getShaderParameter(sh, gl.COMPILE_STATUS)) throw new Error("shader: " + gl.getShaderInfoLog(sh));
    return sh;
  }

  function initGL() {
    gl = glCanvas.getContext("webgl2", { antialias: false, preserveDrawingBuffer: true, premultipliedAlpha: true });
    if (!gl) throw new Error("this browser has no WebGL 2; the map cannot be drawn");
    prog = gl.createProgram();
    gl.attachShader(prog, compile(gl.VERTEX_SHADER, VS));
    gl.attachShader(prog, compile(gl.FRAGMENT_SHADER, FS));
    gl.linkProgram(prog);
    if (!gl.getProgramParameter(prog, gl.LINK_STATUS)) throw new Error("program: " + gl.getProgramInfoLog(prog));
    for (const u of ["u_center", "u_scale", "u_size", "u_psize", "u_pal", "u_alpha"]) loc[u] = gl.getUniformLocation(prog, u);
    loc.a_pos = gl.getAttribLocation(prog, "a_pos");
    loc.a_col = gl.getAttribLocation(prog, "a_col");
    posBuf = gl.createBuffer();
    colBuf = gl.createBuffer();
  }

  function hexToRgb(h) {
    const m = /^#?([0-9a-f]{6})$/i.exec(String(h));
    if (!m) return [0.5, 0.5, 0.5];
    const v = parseInt(m[1], 16);
    return [(v >> 16 & 255) / 255, (v >> 8 & 255) / 255, (v & 255) / 255];
  }

  function uploadPoints() {
    gl.bindBuffer(gl.ARRAY_BUFFER, posBuf);
    gl.bufferData(gl.ARRAY_BUFFER, S.xy, gl.STATIC_DRAW);
    uploadColors();
  }

  function uploadColors() {
    gl.bindBuffer(gl.ARRAY_BUFFER, colBuf);
    gl.bufferData(gl.ARRAY_BUFFER, S.codes, gl.STATIC_DRAW);
  }

  function pointSize() {
    const base = S.n > 300000 ? 1.6 : S.n > 30000 ? 2.4 : S.n > 2000 ? 4 : 7;
    const zoom = S.view.scale / S.base;
    return Math.min(12, Math.max(1.2, base * Math.pow(zoom, 0.3)));
  }

  function drawPoints() {
    gl.viewport(0, 0, glCanvas.width, glCanvas.height);
    gl.clearColor(0, 0, 0, 0);
    gl.clear(gl.COLOR_BUFFER_BIT);
    if (!S.n) return;
    gl.useProgram(prog);
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA);
    gl.uniform2f(loc.u_center, S.view.cx, S.view.cy);
    gl.uniform1f(loc.u_scale, S.view.scale);
    gl.uniform2f(loc.u_size, S.W, S.H);
    gl.uniform1f(loc.u_psize, pointSize() * S.dpr);
    gl.uniform1f(loc.u_alpha, S.n > 300000 ? 0.55 : S.n > 30000 ? 0.7 : 0.85);
    const pal = new Float32Array(96);
    const colors = S.schemes[S.scheme] ? S.schemes[S.scheme].colors : [];
    for (let i = 0; i < 32; i++) pal.set(hexToRgb(colors[i] || "#999999"), 3 * i);
    gl.uniform3fv(loc.u_pal, pal);
    gl.bindBuffer(gl.ARRAY_BUFFER, posBuf);
    gl.enableVertexAttribArray(loc.a_pos);
    gl.vertexAttribPointer(loc.a_pos, 2, gl.FLOAT, false, 0, 0);
    gl.bindBuffer(gl.ARRAY_BUFFER, colBuf);
    gl.enableVertexAttribArray(loc.a_col);
    gl.vertexAttribPointer(loc.a_col, 1, gl.UNSIGNED_BYTE, false, 0, 0);
    gl.drawArrays(gl.POINTS, 0, S.n);
    S.drawn = S.n;
  }

  // ---- view -------------------------------------------------------------------
  function resize() {
    S.dpr = window.devicePixelRatio || 1;
    const r = mapEl.getBoundingClientRect();
    S.W = Math.max(1, r.width); S.H = Math.max(1, r.height);
    for (const c of [glCanvas, overlay]) { c.width = Math.round(S.W * S.dpr); c.height = Math.round(S.H * S.dpr); }
    const oldBase = S.base;
    S.base = Math.min(S.W, S.H);
    S.view.scale *= S.base / oldBase;
    requestDraw();
  }

  const toScreen = (x, y) => [(x - S.view.cx) * S.view.scale + S.W / 2, S.H / 2 - (y - S.view.cy) * S.view.scale];
  const toWorld = (sx, sy) => [(sx - S.W / 2) / S.view.scale + S.view.cx, S.view.cy - (sy - S.H / 2) / S.view.scale];

  function visible() {
    const [x0, y1] = toWorld(0, 0), [x1, y0] = toWorld(S.W, S.H);
    return [x0, y0, x1, y1];
  }

  function clampView() {
    S.view.scale = Math.min(S.base * 1e5, Math.max(S.base * 0.25, S.view.scale));
    S.view.cx = Math.min(1.5, Math.max(-0.5, S.view.cx));
    S.view.cy = Math.min(1.5, Math.max(-0.5, S.view.cy));
  }

  function zoomAt(sx, sy, factor) {
    const [wx, wy] = toWorld(sx, sy);
    S.view.scale *= factor;
    clampView();
    const [nx, ny] = toWorld(sx, sy);
    S.view.cx += wx - nx; S.view.cy += wy - ny;
    requestDraw();
  }

  function flyTo(x, y, scale, ms = 450) {
    const from = { ...S.view }, to = { cx: x, cy: y, scale };
    const t0 = performance.now();
    if (S.anim) cancelAnimationFrame(S.anim);
    const step = (now) => {
      const t = Math.min(1, (now - t0) / ms), e = t * t * (3 - 2 * t);
      S.view.cx = from.cx + (to.cx - from.cx) * e;
      S.view.cy = from.cy + (to.cy - from.cy) * e;
      S.view.scale = Math.exp(Math.log(from.scale) + (Math.log(to.scale) - Math.log(from.scale)) * e);
      draw();
      S.anim = t < 1 ? requestAnimationFrame(step) : null;
    };
    if (ms <= 0) { Object.assign(S.view, to); clampView(); requestDraw(); return; }
    S.anim = requestAnimationFrame(step);
  }

  function requestDraw() {
    if (S.pending) return;
    S.pending = true;
    requestAnimationFrame(() => { S.pending = false; draw(); });
  }

  // ---- 2-D grid for picking and counting -----------------------------------------
  function buildGrid() {
    const G = Math.max(16, Math.min(1024, Math.ceil(Math.sqrt(S.n / 4))));
    const cell = new Int32Array(S.n), start = new Int32Array(G * G + 1);
    for (let i = 0; i < S.n; i++) {
      const gx = Math.min(G - 1, Math.max(0, Math.floor(S.xy[2 * i] * G)));
      const gy = Math.min(G - 1, Math.max(0, Math.floor(S.xy[2 * i + 1] * G)));
      const c = gy * G + gx; cell[i] = c; start[c + 1]++;
    }
    for (let c = 0; c < G * G; c++) start[c + 1] += start[c];
    const fill = start.slice(0, G * G), items = new Int32Array(S.n);
    for (let i = 0; i < S.n; i++) items[fill[cell[i]]++] = i;
    S.grid = { G, start, items };
  }

  // Calls fn(point) for points in the world box; stops early when fn returns true.
  function eachIn(x0, y0, x1, y1, fn) {
    const g = S.grid; if (!g) return;
    const G = g.G;
    const cx0 = Math.max(0, Math.floor(x0 * G)), cx1 = Math.min(G - 1, Math.floor(x1 * G));
    const cy0 = Math.max(0, Math.floor(y0 * G)), cy1 = Math.min(G - 1, Math.floor(y1 * G));
    for (let cy = cy0; cy <= cy1; cy++) for (let cx = cx0; cx <= cx1; cx++) {
      const c = cy * G + cx;
      for (let j = g.start[c]; j < g.start[c + 1]; j++) {
        const p = g.items[j], x = S.xy[2 * p], y = S.xy[2 * p + 1];
        if (x >= x0 && x <= x1 && y >= y0 && y <= y1 && fn(p)) return;
      }
    }
  }

  function pointAt(sx, sy, radius = 8) {
    if (!S.grid) return -1;
    const r = radius / S.view.scale, [wx, wy] = toWorld(sx, sy);
    let best = -1, bd = Infinity;
    eachIn(wx - r, wy - r, wx + r, wy + r, (p) => {
      const dx = S.xy[2 * p] - wx, dy = S.xy[2 * p + 1] - wy, d = dx * dx + dy * dy;
      if (d < bd) { bd = d; best = p; }
      return false;
    });
    return bd <= r * r ? best : -1;
  }

  // ---- overlay: contours, labels, selection --------------------------------------
  function drawOverlay() {
    const ctx = overlay.getContext("2d");
    ctx.setTransform(S.dpr, 0, 0, S.dpr, 0, 0);
    ctx.clearRect(0, 0, S.W, S.H);
    drawBoundary(ctx);
    drawContours(ctx);
    drawSelection(ctx);
    drawLabels(ctx);
  }

  // a layout with a boundary (a Poincaré disk) draws it: centre and radius in layout units
  function drawBoundary(ctx) {
    const b = (S.man && S.man.info.layout && S.man.info.layout.boundary) || null;
    if (!b) return;
    const [x, y] = toScreen(b.cx, b.cy), [e] = toScreen(b.cx + b.r, b.cy);
    ctx.beginPath(); ctx.arc(x, y, Math.abs(e - x), 0, 2 * Math.PI);
    ctx.strokeStyle = "rgba(60, 60, 60, 0.5)"; ctx.lineWidth = 1; ctx.stroke();
  }

  function drawContours(ctx) {
    ctx.lineWidth = 1;
    S.contours.forEach((c, i) => {
      ctx.strokeStyle = `rgba(60, 60, 60, ${0.18 + 0.1 * i})`;
      ctx.beginPath();
      const seg = c.seg;
      for (let j = 0; j < seg.length; j += 4) {
        const [a, b] = toScreen(seg[j], seg[j + 1]), [e, f] = toScreen(seg[j + 2], seg[j + 3]);
        ctx.moveTo(a, b); ctx.lineTo(e, f);
      }
      ctx.stroke();
    });
  }

  function ring(ctx, p, r, color, width) {
    const [x, y] = toScreen(S.xy[2 * p], S.xy[2 * p + 1]);
    ctx.beginPath(); ctx.arc(x, y, r, 0, 2 * Math.PI);
    ctx.strokeStyle = color; ctx.lineWidth = width; ctx.stroke();
  }

  function drawSelection(ctx) {
    for (const q of S.nbrs) ring(ctx, q.point, 5, "#e66100", 1.5);
    if (S.selected >= 0) ring(ctx, S.selected, 8, "#111", 2.5);
    if (S.hover >= 0) ring(ctx, S.hover, 6, "#1a5fb4", 1.5);
  }

  const TILE_PX = 128;
  function drawLabels(ctx) {
    S.labels = [];
    if (!S.keys || !S.levels.length) return;
    const L = S.levels.length - 1;
    const z = Math.max(0, Math.min(L, Math.floor(Math.log2(S.view.scale / TILE_PX))));
    S.level = z;
    const lv = S.levels[z], side = 1 << z, [x0, y0, x1, y1] = visible();
    const tx0 = Math.max(0, Math.floor(x0 * side)), tx1 = Math.min(side - 1, Math.floor(x1 * side));
    const ty0 = Math.max(0, Math.floor(y0 * side)), ty1 = Math.min(side - 1, Math.floor(y1 * side));
    const cands = [];
    for (let ty = ty0; ty <= ty1; ty++) for (let tx = tx0; tx <= tx1; tx++) {
      const t = lv.index.get(ty * side + tx);
      if (t === undefined) continue;
      for (let j = 0; j < S.man.per_tile; j++) {
        const p = lv.reps[t * S.man.per_tile + j];
        if (p >= 0) cands.push([j, p]);
      }
    }
    // Past the deepest level every visible point may be named, when few are in view.
    if (S.view.scale / side > 2 * TILE_PX && S.grid) {
      const some = [];
      eachIn(x0, y0, x1, y1, (p) => { some.push(p); return some.length > 400; });
      if (some.length <= 400) for (const p of some) cands.push([S.man.per_tile, p]);
    }
    // The selected point and its neighbours are always named first.
    if (S.selected >= 0) cands.push([-2, S.selected]);
    for (const q of S.nbrs) cands.push([-1, q.point]);
    cands.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const placed = [], seen = new Set();
    ctx.font = "13px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    ctx.lineJoin = "round";
    for (const [j, p] of cands) {
      if (seen.has(p)) continue;
      seen.add(p);
      const x = S.xy[2 * p], y = S.xy[2 * p + 1];
      if (x < x0 || x > x1 || y < y0 || y > y1) continue;
      const [sx, sy] = toScreen(x, y);
      let text = keyText(p);
      if (text.length > 40) text = text.slice(0, 39) + "\u2026";
      ctx.font = j === -2 ? "bold 14px system-ui, sans-serif" : "13px system-ui, sans-serif";
      const w = ctx.measureText(text).width, bx = sx + 5, by = sy - 8, bw = w + 4, bh = 16;
      if (bx + bw > S.W || by < 0 || by + bh > S.H) continue;
      if (placed.some((r) => bx < r[0] + r[2] && r[0] < bx + bw && by < r[1] + r[3] && r[1] < by + bh)) continue;
      placed.push([bx, by, bw, bh]);
      ctx.fillStyle = j === -2 ? "#000" : j === -1 ? "#a04000" : j === 0 ? "#111" : "#333";
      ctx.strokeStyle = "rgba(255,255,255,0.85)"; ctx.lineWidth = 3;
      ctx.strokeText(text, bx + 2, sy);
      ctx.fillText(text, bx + 2, sy);
      S.labels.push(S.keys[p]);
      if (placed.length >= 250) break;
    }
  }

  function draw() {
    if (!gl || !S.xy) return;
    drawPoints();
    drawOverlay();
    S.frames++;
    if (S.firstRenderMs === null) {
      // Reading one pixel waits for the GPU, so the time covers the finished frame.
      gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, new Uint8Array(4));
      S.firstRenderMs = performance.now();
    }
  }

  // ---- panel ------------------------------------------------------------------
  function renderLegend() {
    const ul = $("legend");
    ul.replaceChildren();
    const sc = S.schemes[S.scheme];
    if (!sc) return;
    sc.labels.forEach((label, i) => {
      const li = document.createElement("li");
      const sw = document.createElement("span"); sw.className = "sw"; sw.style.background = hexCss(sc.colors[i]);
      const name = document.createElement("span"); name.className = "name"; setText(name, String(label)); name.title = String(label);
      const cnt = document.createElement("span"); cnt.className = "n"; setText(cnt, Number(sc.counts[i] || 0).toLocaleString());
      li.append(sw, name, cnt);
      ul.append(li);
    });
  }

  function hexCss(h) { return /^#[0-9a-f]{6}$/i.test(String(h)) ? h : "#999999"; }

  async function setScheme(i) {
    // switch only once the colours are loaded, so the scheme reported, the colours and the legend agree
    const codes = new Uint8Array(await load(S.schemes[i].file, "bin"));
    if (codes.length !== S.n) throw new Error(`colour file holds ${codes.length} codes for ${S.n} points`);
    S.scheme = i;
    S.codes = codes;
    uploadColors();
    renderLegend();
    requestDraw();
  }

  async function neighboursOf(p) {
    const nb = S.man.neighbors;
    if (nb.computed > 0 && nb.shards > 0) {
      const s = Math.floor(p / nb.shard_rows);
      if (!S.shards.has(s)) {
        S.shards.set(s, load(`nbr-${s}.bin`, "bin").then((buf) => {
          const rows = Math.min(nb.shard_rows, S.n - s * nb.shard_rows);
          return { ids: new Int32Array(buf, 0, rows * nb.k), scores: new Float32Array(buf, rows * nb.k * 4, rows * nb.k) };
        }));
      }
      const sh = await S.shards.get(s), o = (p - s * nb.shard_rows) * nb.k;
      const out = [];
      for (let j = 0; j < nb.k; j++) if (sh.ids[o + j] >= 0) out.push({ point: sh.ids[o + j], score: sh.scores[o + j] });
      if (out.length || nb.computed >= S.n) return { list: out, source: "precomputed" };
    }
    if (!FROM_DISK) {
      try {
        const r = await fetch(`api/neighbors?point=${p}`);
        if (r.ok) {
          const js = await r.json();
          return { list: js.neighbors.map((q, j) => ({ point: q, score: js.scores[j] })), source: "computed by the server" };
        }
      } catch (e) { /* no server API: fall through to the explanation */ }
    }
    return { list: null, source: nb.computed === 0 ? "this map was built without neighbours" :
      "not precomputed for this point; run `omnivec explore MODEL --serve` to compute them on demand" };
  }

  let selectSeq = 0;
  async function select(p) {
    const seq = ++selectSeq;
    S.selected = p; S.nbrs = [];
    const sec = $("selection"), ol = $("neighbors");
    if (p < 0) { sec.hidden = true; requestDraw(); return; }
    sec.hidden = false;
    const key = $("sel-key");
    setText(key, keyText(p));
    key.classList.toggle("empty-key", S.keys && S.keys[p] === "");
    ol.replaceChildren();
    setText($("nbr-status"), "loading…");
    requestDraw();
    const res = await neighboursOf(p);
    if (seq !== selectSeq) return;
    setText($("nbr-status"), res.list ? `${res.list.length} nearest in the original ${S.man.dim}-d space (${S.man.metric}), ${res.source}` : res.source);
    S.nbrs = res.list || [];
    for (const q of S.nbrs) {
      const li = document.createElement("li"), b = document.createElement("button"), sc = document.createElement("span");
      setText(b, keyText(q.point));
      if (S.keys && S.keys[q.point] === "") b.classList.add("empty-key");
      b.addEventListener("click", () => goTo(q.point));
      sc.className = "score"; setText(sc, Number(q.score).toFixed(3));
      li.append(b, sc);
      ol.append(li);
    }
    requestDraw();
  }

  function goTo(p, ms = 450) {
    const L = Math.max(0, S.levels.length - 1);
    const target = Math.max(S.view.scale, S.base * Math.pow(2, Math.max(1, Math.min(L - 1, 5))));
    flyTo(S.xy[2 * p], S.xy[2 * p + 1], target, ms);
    select(p);
  }

  function findKey(q) {
    if (!S.keys) return -1;
    if (!S.keyIndex) {
      S.keyIndex = new Map();
      for (let i = S.n - 1; i >= 0; i--) S.keyIndex.set(String(S.keys[i]), i);
    }
    if (S.keyIndex.has(q)) return S.keyIndex.get(q);
    const lq = q.toLowerCase();
    if (!S.lowerIndex) {
      S.lowerIndex = new Map();
      for (let i = S.n - 1; i >= 0; i--) S.lowerIndex.set(String(S.keys[i]).toLowerCase(), i);
    }
    if (S.lowerIndex.has(lq)) return S.lowerIndex.get(lq);
    if (lq) for (let i = 0; i < S.n; i++) if (String(S.keys[i]).toLowerCase().startsWith(lq)) return i;
    return -1;
  }

  function search(q, ms = 450) {
    const st = $("search-status");
    if (!S.keys) { setText(st, "keys are still loading"); return -1; }
    const p = findKey(q);
    if (p < 0) { setText(st, `no key matches \u201c${q}\u201d`); return -1; }
    setText(st, String(S.keys[p]) === q ? "" : `closest match: \u201c${keyText(p)}\u201d`);
    goTo(p, ms);
    return p;
  }

  // ---- input ------------------------------------------------------------------
  function wireInput() {
    let drag = null;
    mapEl.addEventListener("pointerdown", (e) => {
      drag = { x: e.clientX, y: e.clientY, cx: S.view.cx, cy: S.view.cy, moved: false };
      mapEl.setPointerCapture(e.pointerId);
    });
    mapEl.addEventListener("pointermove", (e) => {
      const r = mapEl.getBoundingClientRect(), sx = e.clientX - r.left, sy = e.clientY - r.top;
      if (drag) {
        const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
        if (Math.abs(dx) + Math.abs(dy) > 3) { drag.moved = true; mapEl.classList.add("dragging"); }
        if (drag.moved) {
          S.view.cx = drag.cx - dx / S.view.scale; S.view.cy = drag.cy + dy / S.view.scale;
          clampView(); requestDraw();
          return;
        }
      }
      const p = pointAt(sx, sy);
      if (p !== S.hover) { S.hover = p; requestDraw(); }
      if (p >= 0) {
        setText(tooltip, keyText(p));
        tooltip.classList.toggle("empty-key", S.keys && S.keys[p] === "");
        tooltip.style.left = `${sx + 12}px`; tooltip.style.top = `${sy + 12}px`;
        tooltip.hidden = false;
      } else tooltip.hidden = true;
    });
    mapEl.addEventListener("pointerup", (e) => {
      const r = mapEl.getBoundingClientRect();
      if (drag && !drag.moved) select(pointAt(e.clientX - r.left, e.clientY - r.top));
      drag = null; mapEl.classList.remove("dragging");
    });
    mapEl.addEventListener("pointerleave", () => { tooltip.hidden = true; if (S.hover >= 0) { S.hover = -1; requestDraw(); } });
    mapEl.addEventListener("wheel", (e) => {
      e.preventDefault();
      const r = mapEl.getBoundingClientRect();
      zoomAt(e.clientX - r.left, e.clientY - r.top, Math.exp(-e.deltaY * (e.deltaMode === 1 ? 0.05 : 0.0015)));
    }, { passive: false });
    $("search-form").addEventListener("submit", (e) => { e.preventDefault(); search($("search").value); });
    $("scheme").addEventListener("change", (e) => setScheme(Number(e.target.value)).catch(fail));
    window.addEventListener("resize", resize);
  }

  // ---- start ------------------------------------------------------------------
  async function start() {
    const man = await load("manifest.json", "json");
    if (!man || man.format !== "omnivec-map") throw new Error("data/manifest.json is not an omnivec map manifest");
    S.man = man;
    S.n = man.points;
    S.schemes = man.schemes;
    document.title = `${man.name} \u2014 omnivec map`;
    setText($("title"), String(man.name));
    const lay = man.info.layout || {};
    setText($("summary"), `${S.n.toLocaleString()} points \u00b7 ${man.dim}-d, ${man.metric} \u00b7 layout: ${lay.method || "?"}`);
    const notes = [];
    if (lay.note) notes.push(lay.note);
    if (man.info.dropped_nonfinite) notes.push(`${man.info.dropped_nonfinite} row(s) with NaN/inf values left off the map`);
    if (man.neighbors.note) notes.push(man.neighbors.note);
    setText($("notes"), notes.join(" \u00b7 "));
    const sel = $("scheme");
    man.schemes.forEach((s, i) => { const o = document.createElement("option"); o.value = String(i); setText(o, String(s.name)); sel.append(o); });
    $("scheme-label").hidden = man.schemes.length === 0;

    initGL();
    resize();
    S.view.scale = S.base;
    const [xyBuf, colBuf0] = await Promise.all([load("points.bin", "bin"),
      man.schemes.length ? load(man.schemes[0].file, "bin") : Promise.resolve(new ArrayBuffer(S.n))]);
    S.xy = new Float32Array(xyBuf);
    if (S.xy.length !== 2 * S.n) throw new Error(`points.bin holds ${S.xy.length / 2} points; the manifest says ${S.n}`);
    S.codes = new Uint8Array(colBuf0);
    uploadPoints();
    renderLegend();
    draw();
    setText($("status"), `${S.n.toLocaleString()} points drawn in ${Math.round(S.firstRenderMs)} ms; loading labels…`);

    // Everything else arrives after the first frame.
    buildGrid();
    const [keys, tiles, contours] = await Promise.all([load("keys.json", "json"), load("tiles.bin", "bin"),
      load("contours.bin", "bin")]);
    if (!Array.isArray(keys) || keys.length !== S.n) throw new Error("keys.json does not hold one key per point");
    S.keys = keys;
    const ti = new Int32Array(tiles);
    S.levels = man.levels.map((lv) => {
      const ids = ti.subarray(lv.offset, lv.offset + lv.tiles);
      const reps = ti.subarray(lv.offset + lv.tiles, lv.offset + lv.tiles * (1 + man.per_tile));
      const index = new Map();
      for (let i = 0; i < ids.length; i++) index.set(ids[i], i);
      return { z: lv.z, index, reps };
    });
    const cf = new Float32Array(contours);
    S.contours = man.contours.map((c) => ({ seg: cf.subarray(c.offset * 4, (c.offset + c.segments) * 4) }));
    requestDraw();
    setText($("status"), `${S.n.toLocaleString()} points drawn in ${Math.round(S.firstRenderMs)} ms. Scroll to zoom, drag to pan, click a point for its neighbours.`);
  }

  function nonBlankPixels() {
    const w = glCanvas.width, h = glCanvas.height, px = new Uint8Array(w * h * 4);
    gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, px);
    let c = 0;
    for (let i = 3; i < px.length; i += 4) if (px[i] > 0) c++;
    return c;
  }

  wireInput();
  const ready = start().then(() => true, (e) => { fail(e); return false; });

  // A small API for tests, benchmarks and the browser console.
  window.omnivecMap = {
    ready,
    stats: () => ({
      points: S.n, drawn: S.drawn, frames: S.frames, firstRenderMs: S.firstRenderMs,
      keysLoaded: !!S.keys, level: S.level, labels: S.labels.slice(),
      view: { ...S.view }, base: S.base, selected: S.selected,
      selectedKey: S.selected >= 0 && S.keys ? S.keys[S.selected] : null,
      neighbors: S.nbrs.map((q) => (S.keys ? S.keys[q.point] : q.point)),
      scheme: S.schemes[S.scheme] ? S.schemes[S.scheme].name : null, error: S.error,
    }),
    search: (q) => search(String(q), 0),
    select: (p) => select(p),
    setView: (cx, cy, zoom) => { flyTo(cx, cy, S.base * zoom, 0); draw(); },
    screenOf: (p) => { const [x, y] = toScreen(S.xy[2 * p], S.xy[2 * p + 1]); const r = mapEl.getBoundingClientRect(); return [x + r.left, y + r.top]; },
    pointAt: (sx, sy) => pointAt(sx, sy),
    nonBlankPixels,
    redraw: () => draw(),
  };
})();
