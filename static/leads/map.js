// The map of companies ("Companies in space"): draws /map/points.json on a canvas, names the
// point under the pointer, opens it on click, and labels a lasso selection (with undo).
// Plain JS: no framework. Names are shown with textContent only: they are data, never markup.
(function () {
  "use strict";
  const root = document.getElementById("map");
  if (!root) return;
  const $ = (selector) => root.querySelector(selector);
  const field = (name) => root.querySelector(`[data-field="${name}"]`);
  const show = (name, visible) => { root.querySelector(`[data-show="${name}"]`).hidden = !visible; };
  const canvas = $("canvas");
  const frame = $(".map-frame");
  const ctx = canvas.getContext("2d");
  const tooltip = $(".map-tooltip");
  const zoomButtons = $(".map-zoom");
  const csrfToken = $("[name=csrfmiddlewaretoken]").value;
  const maxSelection = Number(root.dataset.maxSelection);
  const style = getComputedStyle(root);
  const css = (name) => style.getPropertyValue(name).trim();
  const COLOURS = {
    bg: css("--map-bg"), like: css("--map-like"), dislike: css("--map-dislike"), none: css("--map-none"), mid: css("--map-mid"),
  };
  const BAND_WORDS = { strong: "strong fit", likely: "likely", unsure: "unsure", unlikely: "unlikely" };
  const BUCKETS = 20; // fit colours: -1 (vermillion) .. 0 (light grey) .. +1 (sky blue)
  const bucketColours = scoreColours(css("--map-dislike"), css("--map-mid"), css("--map-like"));
  const VERDICT_CODE = { like: 1, dislike: -1 }; // anything else (clear, null): no verdict
  const PAST = { like: "Liked", dislike: "Disliked", clear: "Cleared the verdict of" };
  const HOVER_PX = 8;
  const ZOOM_STEP = 1.5; // one press of + or −: half as much again, or two thirds

  let data = null; // the last points.json, plus typed arrays
  let sx = new Float32Array(0), sy = new Float32Array(0); // screen position of each point (CSS px)
  let selected = new Uint8Array(0);
  let selectedCount = 0;
  let byBucket = []; // indices of scored, unlabelled points per colour bucket (not the unexplored)
  let unexplored = []; // indices of scored, unlabelled points nothing labelled is close to
  let view = null; // {k: px per grid unit, ox, oy: screen position of grid 0,0}
  let hovered = -1;
  let size = 3; // px of a point: bigger when there are few
  let drag = null;
  let panMode = false;
  let width = 0, height = 0;
  let drawQueued = false;
  const undoStack = [];

  function scoreColours(low, mid, high) {
    const rgb = (hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
    const [a, m, b] = [low, mid, high].map(rgb);
    const out = [];
    for (let i = 0; i <= BUCKETS; i++) {
      const t = (i / BUCKETS) * 2 - 1; // -1 .. 1
      const [from, to, f] = t < 0 ? [m, a, -t] : [m, b, t];
      out.push(`rgb(${from.map((c, j) => Math.round(c + (to[j] - c) * f)).join(",")})`);
    }
    return out;
  }

  // --- Loading -----------------------------------------------------------------------------

  async function load({ keepView }) {
    let response;
    try {
      response = await fetch(root.dataset.pointsUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    } catch (error) {
      return fail("The server did not answer: the map will try again in a few seconds.", true);
    }
    const payload = await response.json().catch(() => null);
    if (!response.ok) return fail(payload && payload.error ? payload.error : `The server answered ${response.status}.`, response.status >= 500);
    field("error").hidden = true;
    root.dataset.state = payload.state;
    show("empty", payload.state === "empty");
    show("computing", payload.state === "computing");
    show("ready", payload.state === "ready");
    if (payload.state !== "ready") {
      field("waiting").textContent = payload.waiting.toLocaleString();
      setTimeout(() => load({ keepView: false }), payload.state === "computing" ? 5000 : 30000);
      return;
    }
    setData(payload);
    if (!keepView || !view) fit();
    else project();
    draw();
  }

  function fail(message, retry) {
    field("error").textContent = message;
    field("error").hidden = false;
    if (retry) setTimeout(() => load({ keepView: true }), 5000);
  }

  function setData(payload) {
    const n = payload.id.length;
    const wasSelected = new Set(selectedIds());
    data = {
      ...payload,
      x: Float64Array.from(payload.x),
      y: Float64Array.from(payload.y),
      verdict: Int8Array.from(payload.verdict, (verdict) => VERDICT_CODE[verdict] || 0), // like, dislike, null
      index: new Map(payload.id.map((id, i) => [id, i])),
    };
    sx = new Float32Array(n);
    sy = new Float32Array(n);
    selected = new Uint8Array(n);
    selectedCount = 0;
    payload.id.forEach((id, i) => { if (wasSelected.has(id)) { selected[i] = 1; selectedCount++; } });
    bucketise();
    hovered = -1;
    size = n < 1000 ? 6 : n < 5000 ? 4 : 3;
    const total = payload.total.toLocaleString();
    field("summary").textContent = payload.sampled
      ? `Showing ${n.toLocaleString()} of ${total} companies: every labelled one (${payload.labelled.toLocaleString()}) and a fixed sample of the rest.`
      : `${total} compan${payload.total === 1 ? "y" : "ies"} on the map.`;
    updateSelection();
  }

  function bucketise() {
    byBucket = Array.from({ length: BUCKETS + 1 }, () => []);
    unexplored = [];
    data.fit.forEach((fit, i) => {
      if (fit === null || data.verdict[i] !== 0) return;
      // Its fit's colour would claim what no close label says: drawn as an outline instead.
      if (data.band[i] === "unexplored") unexplored.push(i);
      else byBucket[Math.round(((fit / 100 + 1) / 2) * BUCKETS)].push(i);
    });
  }

  // --- View: fit, zoom, pan ------------------------------------------------------------------

  // The canvas's size in CSS px; a drawn map keeps its centre and scale.
  function resize() {
    const box = canvas.getBoundingClientRect();
    if (view) {
      view.ox += (box.width - width) / 2;
      view.oy += (box.height - height) / 2;
    }
    width = box.width;
    height = box.height;
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  }

  function fit() {
    resize(); // the map may have just been shown
    if (!data || !data.id.length) return;
    let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
    for (let i = 0; i < data.id.length; i++) {
      x0 = Math.min(x0, data.x[i]); x1 = Math.max(x1, data.x[i]);
      y0 = Math.min(y0, data.y[i]); y1 = Math.max(y1, data.y[i]);
    }
    const pad = 24;
    const right = zoomButtons.offsetWidth + 16; // no point under the zoom buttons, over the right edge
    const across = width - pad - right;
    const k = Math.min(across / Math.max(x1 - x0, 1), (height - 2 * pad) / Math.max(y1 - y0, 1));
    view = { k, ox: pad + (across - (x1 - x0) * k) / 2 - x0 * k, oy: (height - (y1 - y0) * k) / 2 - y0 * k };
    project();
  }

  function project() {
    for (let i = 0; i < sx.length; i++) {
      sx[i] = view.ox + data.x[i] * view.k;
      sy[i] = view.oy + data.y[i] * view.k;
    }
  }

  function zoom(px, py, factor) {
    view.ox = px - (px - view.ox) * factor;
    view.oy = py - (py - view.oy) * factor;
    view.k *= factor;
    project();
    requestDraw();
  }

  // --- Drawing -------------------------------------------------------------------------------

  function requestDraw() {
    if (drawQueued) return;
    drawQueued = true;
    requestAnimationFrame(() => { drawQueued = false; draw(); });
  }

  const visible = (i) => sx[i] > -8 && sy[i] > -8 && sx[i] < width + 8 && sy[i] < height + 8;

  function draw() {
    ctx.fillStyle = COLOURS.bg;
    ctx.fillRect(0, 0, width, height);
    if (!data) return;
    const h = size / 2;
    ctx.fillStyle = COLOURS.none;
    for (let i = 0; i < sx.length; i++) {
      if (data.verdict[i] === 0 && data.fit[i] === null && visible(i)) ctx.fillRect(sx[i] - h + 0.5, sy[i] - h + 0.5, size - 1, size - 1);
    }
    ctx.strokeStyle = COLOURS.mid;
    ctx.lineWidth = 1;
    for (const i of unexplored) if (visible(i)) ctx.strokeRect(sx[i] - h + 0.5, sy[i] - h + 0.5, size - 1, size - 1);
    byBucket.forEach((indices, bucket) => {
      ctx.fillStyle = bucketColours[bucket];
      for (const i of indices) if (visible(i)) ctx.fillRect(sx[i] - h, sy[i] - h, size, size);
    });
    for (let i = 0; i < sx.length; i++) if (data.verdict[i] !== 0 && visible(i)) marker(i);
    if (selectedCount) {
      ctx.strokeStyle = "#fff";
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (let i = 0; i < sx.length; i++) {
        const r = data.verdict[i] ? 9 : h + 3;
        if (selected[i] && visible(i)) { ctx.moveTo(sx[i] + r, sy[i]); ctx.arc(sx[i], sy[i], r, 0, 2 * Math.PI); }
      }
      ctx.stroke();
    }
    if (hovered >= 0) {
      ctx.strokeStyle = "#fff";
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.arc(sx[hovered], sy[hovered], data.verdict[hovered] ? 10 : h + 5, 0, 2 * Math.PI);
      ctx.stroke();
    }
    if (drag && drag.mode === "lasso" && drag.path.length > 1) {
      ctx.strokeStyle = "#fff";
      ctx.fillStyle = "rgb(255 255 255 / .08)";
      ctx.lineWidth = 1.5;
      ctx.setLineDash([5, 4]);
      ctx.beginPath();
      drag.path.forEach(([x, y], j) => (j ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
      ctx.closePath();
      ctx.fill();
      ctx.stroke();
      ctx.setLineDash([]);
    }
  }

  // Liked: a sky-blue triangle; disliked: a vermillion cross. Outlined so they stand out of the crowd.
  function marker(i) {
    const [x, y] = [sx[i], sy[i]];
    if (data.verdict[i] > 0) {
      ctx.beginPath();
      ctx.moveTo(x, y - 6); ctx.lineTo(x + 5.5, y + 4); ctx.lineTo(x - 5.5, y + 4); ctx.closePath();
      ctx.fillStyle = COLOURS.like;
      ctx.strokeStyle = "#fff";
      ctx.lineWidth = 1;
      ctx.fill();
      ctx.stroke();
    } else {
      ctx.lineCap = "round";
      for (const [colour, lineWidth] of [["#fff", 5], [COLOURS.dislike, 3]]) {
        ctx.strokeStyle = colour;
        ctx.lineWidth = lineWidth;
        ctx.beginPath();
        ctx.moveTo(x - 4, y - 4); ctx.lineTo(x + 4, y + 4); ctx.moveTo(x + 4, y - 4); ctx.lineTo(x - 4, y + 4);
        ctx.stroke();
      }
    }
  }

  // --- Hover and click ---------------------------------------------------------------------

  function nearest(px, py) {
    let best = -1, bestDistance = HOVER_PX * HOVER_PX;
    for (let i = 0; i < sx.length; i++) {
      const dx = sx[i] - px, dy = sy[i] - py, d = dx * dx + dy * dy;
      if (d <= bestDistance) { best = i; bestDistance = d; }
    }
    return best;
  }

  function hover(px, py) {
    const found = data ? nearest(px, py) : -1;
    if (found !== hovered) { hovered = found; requestDraw(); }
    frame.classList.toggle("pointing", found >= 0);
    if (found < 0) { tooltip.hidden = true; return; }
    field("name").textContent = data.name[found];
    field("detail").textContent = describe(found);
    tooltip.hidden = false;
    const left = Math.min(px + 14, width - tooltip.offsetWidth - 4);
    const top = py + 14 + tooltip.offsetHeight > height ? py - tooltip.offsetHeight - 10 : py + 14;
    tooltip.style.left = `${Math.max(left, 4)}px`;
    tooltip.style.top = `${Math.max(top, 4)}px`;
  }

  function describe(i) {
    if (data.verdict[i] > 0) return "Liked";
    if (data.verdict[i] < 0) return "Disliked";
    const fit = data.fit[i];
    if (fit === null) return "Not scored";
    if (data.band[i] === "unexplored") return "Unexplored: nothing you labelled is close";
    return `Fit ${fit >= 0 ? "+" : "−"}${(Math.abs(fit) / 100).toFixed(2)} · ${BAND_WORDS[data.band[i]] || ""}`;
  }

  function companyUrl(id) {
    return root.dataset.companyUrl.replace("999999999", String(id));
  }

  // --- Pointer: lasso, pan, click ------------------------------------------------------------

  function local(event) {
    const box = canvas.getBoundingClientRect();
    return [event.clientX - box.left, event.clientY - box.top];
  }

  canvas.addEventListener("pointerdown", (event) => {
    if (!data || event.button !== 0) return;
    canvas.setPointerCapture(event.pointerId);
    const [x, y] = local(event);
    drag = { mode: panMode || event.shiftKey ? "pan" : "lasso", path: [[x, y]], last: [x, y], moved: 0 };
    tooltip.hidden = true;
  });

  canvas.addEventListener("pointermove", (event) => {
    const [x, y] = local(event);
    if (!drag) return hover(x, y);
    const [lx, ly] = drag.last;
    drag.moved += Math.hypot(x - lx, y - ly);
    drag.last = [x, y];
    if (drag.mode === "pan") {
      view.ox += x - lx;
      view.oy += y - ly;
      project();
    } else {
      const [px, py] = drag.path[drag.path.length - 1];
      if (Math.hypot(x - px, y - py) >= 3) drag.path.push([x, y]);
    }
    requestDraw();
  });

  canvas.addEventListener("pointerup", (event) => {
    if (!drag) return;
    const [x, y] = local(event);
    const done = drag;
    drag = null;
    if (done.moved < 4) {
      const i = nearest(x, y);
      if (i >= 0) window.location.assign(companyUrl(data.id[i]));
      else if (selectedCount) select(null);
    } else if (done.mode === "lasso" && done.path.length >= 3) {
      select(done.path);
    }
    requestDraw();
  });

  canvas.addEventListener("pointercancel", () => { drag = null; requestDraw(); });
  canvas.addEventListener("pointerleave", () => {
    if (drag) return;
    tooltip.hidden = true;
    if (hovered >= 0) { hovered = -1; requestDraw(); }
  });

  canvas.addEventListener("wheel", (event) => {
    if (!data) return;
    event.preventDefault();
    const [x, y] = local(event);
    zoom(x, y, Math.exp(-event.deltaY * 0.0015));
  }, { passive: false });

  // --- Selection -----------------------------------------------------------------------------

  function inside(polygon, x, y) {
    let isIn = false;
    for (let a = 0, b = polygon.length - 1; a < polygon.length; b = a++) {
      const [xa, ya] = polygon[a], [xb, yb] = polygon[b];
      if (ya > y !== yb > y && x < ((xb - xa) * (y - ya)) / (yb - ya) + xa) isIn = !isIn;
    }
    return isIn;
  }

  // A lasso selects the points drawn: with a sample shown, companies left out of it are not selected.
  function select(polygon) {
    selected.fill(0);
    selectedCount = 0;
    if (polygon) {
      const xs = polygon.map((p) => p[0]), ys = polygon.map((p) => p[1]);
      const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
      for (let i = 0; i < sx.length; i++) {
        if (sx[i] >= x0 && sx[i] <= x1 && sy[i] >= y0 && sy[i] <= y1 && inside(polygon, sx[i], sy[i])) {
          selected[i] = 1;
          selectedCount++;
        }
      }
    }
    updateSelection();
    requestDraw();
  }

  function selectedIds() {
    const ids = [];
    for (let i = 0; i < selected.length; i++) if (selected[i]) ids.push(data.id[i]);
    return ids;
  }

  function updateSelection() {
    show("selection", selectedCount > 0);
    const n = selectedCount;
    field("selected").textContent = `${n.toLocaleString()} compan${n === 1 ? "y" : "ies"} selected.`;
    const notes = [];
    if (n > maxSelection) notes.push(`Select at most ${maxSelection.toLocaleString()} at a time.`);
    if (data && data.sampled) notes.push("Only the points shown are selected: companies left out of the sample keep their verdict.");
    field("selection-note").textContent = notes.join(" ");
    root.querySelectorAll("[data-verdict]").forEach((button) => { button.disabled = n === 0 || n > maxSelection; });
  }

  // --- Labelling and undo --------------------------------------------------------------------

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken },
      body: JSON.stringify(body),
    });
    const payload = await response.json().catch(() => null);
    if (!response.ok) throw new Error(payload && payload.error ? payload.error : `The server answered ${response.status}.`);
    return payload;
  }

  function setVerdicts(pairs) {
    for (const [id, verdict] of pairs) {
      const i = data.index.get(id);
      if (i === undefined) continue;
      data.verdict[i] = VERDICT_CODE[verdict] || 0;
      data.fit[i] = null; // a labelled company has no fit; a cleared one gets one at the rescore
    }
    bucketise();
  }

  function notify(message, { undo = false, error = false } = {}) {
    field("notice").textContent = message;
    $("[data-show=notice]").classList.toggle("error", error);
    $("[data-action=undo]").hidden = !undo;
    show("notice", true);
  }

  function busy(on) {
    root.querySelectorAll(".map-selection button, [data-action=undo]").forEach((button) => { button.disabled = on; });
  }

  async function label(verdict) {
    const ids = selectedIds();
    busy(true);
    try {
      const result = await post(root.dataset.labelUrl, { ids, verdict });
      setVerdicts(ids.map((id) => [id, verdict]));
      if (result.changed) undoStack.push(result.previous);
      const already = ids.length - result.changed;
      const n = result.changed;
      notify(`${PAST[verdict]} ${n.toLocaleString()} compan${n === 1 ? "y" : "ies"}` +
        (already ? ` (${already.toLocaleString()} already had that verdict).` : "."), { undo: result.changed > 0 });
      select(null);
      refreshSoon();
    } catch (error) {
      notify(error.message, { error: true, undo: undoStack.length > 0 });
    } finally {
      busy(false);
      updateSelection();
    }
  }

  async function undo() {
    const previous = undoStack.pop();
    if (!previous) return;
    busy(true);
    try {
      const result = await post(root.dataset.undoUrl, { verdicts: previous });
      setVerdicts(previous);
      const n = previous.length;
      notify(`Undone: ${n.toLocaleString()} compan${n === 1 ? "y has" : "ies have"} their previous verdict back` +
        (result.changed < n ? ` (${(n - result.changed).toLocaleString()} had been changed since).` : "."), { undo: undoStack.length > 0 });
      refreshSoon();
    } catch (error) {
      undoStack.push(previous);
      notify(error.message, { error: true, undo: true });
    } finally {
      busy(false);
      updateSelection();
      requestDraw();
    }
  }

  let refreshTimer = null;
  function refreshSoon() {
    // Scores change in the background after a verdict: fetch them again in a few seconds.
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => load({ keepView: true }), 4000);
  }

  root.querySelectorAll("[data-verdict]").forEach((button) => button.addEventListener("click", () => label(button.dataset.verdict)));
  $("[data-action=undo]").addEventListener("click", undo);
  $("[data-action=deselect]").addEventListener("click", () => select(null));
  $("[data-action=reset]").addEventListener("click", () => { fit(); requestDraw(); });
  // About the middle of the map, as a wheel turned there would.
  root.querySelectorAll("[data-zoom]").forEach((button) => button.addEventListener("click", () => {
    if (view) zoom(width / 2, height / 2, button.dataset.zoom === "in" ? ZOOM_STEP : 1 / ZOOM_STEP);
  }));
  root.querySelectorAll("[data-mode]").forEach((button) => button.addEventListener("click", () => {
    panMode = button.dataset.mode === "pan";
    root.querySelectorAll("[data-mode]").forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
    frame.classList.toggle("panning", panMode);
  }));
  document.addEventListener("keydown", (event) => { if (event.key === "Escape" && selectedCount) select(null); });

  new ResizeObserver(() => {
    if (!canvas.getBoundingClientRect().width) return; // hidden
    resize();
    if (view) project();
    draw();
  }).observe(frame);

  // For tests and the console: where a company is drawn, in page coordinates.
  window.leadsMap = {
    position(id) {
      const i = data ? data.index.get(id) : undefined;
      if (i === undefined) return null;
      const box = canvas.getBoundingClientRect();
      return { x: box.left + sx[i], y: box.top + sy[i] };
    },
    selectedIds,
  };

  load({ keepView: false });
})();
