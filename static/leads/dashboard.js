// The dashboard's keyboard flow and live scores. Verdicts go through htmx (the row comes back
// from the server); this file moves the selection, undoes, and polls for rescored companies.

// The label chips and the score band filter as soon as one is picked (here, not in an onchange
// attribute: the Content-Security-Policy runs no inline script).
const filterForm = document.getElementById("filters");
filterForm?.addEventListener("change", (event) => {
  if (event.target.matches("[data-submit-on-change]")) event.target.form.requestSubmit();
});
// A shared link says only what is chosen: fields left empty or at their default are not sent.
const DEFAULTS = { show: "all", ordering: "-fit" };
filterForm?.addEventListener("submit", () => {
  for (const field of filterForm.elements) {
    if (field.name && (field.value === "" || DEFAULTS[field.name] === field.value)) field.disabled = true;
  }
});
// On a phone the controls beyond the chips and the search fold behind one button (app.css), unless
// one of them is on: the list's first companies then show without scrolling.
const toggle = document.querySelector("[data-toggle-controls]");
if (toggle && filterForm.dataset.controlsOn === "0") document.body.classList.add("fold-controls");
toggle?.addEventListener("click", () => {
  const folded = document.body.classList.toggle("fold-controls");
  toggle.setAttribute("aria-expanded", String(!folded));
});
window.addEventListener("pageshow", () => { // back to this page: its fields as they were, usable
  for (const field of filterForm?.elements || []) field.disabled = false;
});

(() => {
  const body = document.querySelector("#companies tbody");
  if (!body) return;
  const rows = () => [...body.querySelectorAll("tr[data-company]")];
  const toast = () => document.getElementById("toast");
  let current = -1;

  function select(index, scroll = true) {
    const all = rows();
    if (!all.length) return;
    current = Math.max(0, Math.min(index, all.length - 1));
    all.forEach((row, i) => row.classList.toggle("selected", i === current));
    const row = all[current];
    if (scroll) row.scrollIntoView({ block: "nearest" });
    row.focus({ preventScroll: true });
  }

  // A verdict goes to the selected row, and the selection moves on at once (not when the answer
  // comes): keys typed fast each go to the row they were meant for. A row whose last verdict is
  // still on its way, or any row while an undo is, keeps the new one and sends it once that answer
  // has come (`queued`): the server takes them in the order they were pressed.
  const queued = new Map(); // company id -> the verdict to send when its row (or the undo) comes back
  const pressed = []; // the rows verdicts were given on, latest last: where an undo's row is
  let undoing = false;
  const rowOf = (id) => body.querySelector(`tr[data-company="${id}"]`);
  const inFlight = (row) => Boolean(row && row.querySelector("form.htmx-request"));
  function press(verdict) {
    const row = rows()[current];
    const button = row && row.querySelector(`button[value="${verdict}"]`);
    if (!button) return;
    if (undoing || inFlight(row)) queued.set(row.dataset.company, verdict);
    else button.click();
    pressed.push(row.dataset.company);
    if (verdict !== "clear") select(current + 1);
  }
  function send(id) { // a waiting verdict, once nothing is ahead of it
    const verdict = queued.get(id);
    const row = rowOf(id);
    if (!verdict || undoing || inFlight(row)) return;
    queued.delete(id);
    if (!row) return;
    htmx.process(row); // a row just swapped in: its form posts through htmx, never as a page load
    row.querySelector(`button[value="${verdict}"]`)?.click();
  }

  // Resolves once no verdict is on its way: an undo must take back the last one given.
  function settled() {
    const start = Date.now();
    return new Promise((resolve) => {
      (function check() {
        const busy = body.querySelector("form.htmx-request");
        if (!busy || Date.now() - start > 10000) resolve();
        else setTimeout(check, 25);
      })();
    });
  }

  function showToast(text) {
    const box = toast();
    box.hidden = false;
    box.textContent = text;
  }

  async function undo() {
    // The row it takes back is selected at once, so the keys pressed next go where they are meant.
    const last = pressed.pop();
    if (last && rowOf(last)) select(rows().indexOf(rowOf(last)));
    undoing = true;
    let response;
    try {
      await settled();
      const form = document.getElementById("undo-form");
      response = await fetch(form.action, {
        method: "POST",
        headers: { "HX-Request": "true", "X-CSRFToken": form.querySelector("[name=csrfmiddlewaretoken]").value },
      });
    } finally {
      undoing = false;
    }
    if (response.headers.get("HX-Refresh") === "true") { // a bulk verdict taken back: many rows changed
      window.location.reload();
      return;
    }
    const page = document.createElement("template");
    page.innerHTML = await response.text();
    const row = page.content.querySelector("tr[data-company]");
    const old = row && document.getElementById(row.id);
    if (old) {
      const wasSelected = rows().indexOf(old) === current;
      old.replaceWith(row);
      htmx.process(row);
      if (wasSelected || !last) select(rows().indexOf(row));
    }
    for (const id of [...queued.keys()]) send(id); // the verdicts pressed while it was on its way
    const trigger = response.headers.get("HX-Trigger");
    if (trigger) watch(JSON.parse(trigger).labelled.at); // the server's clock, as after a click
    const note = page.content.querySelector("#toast");
    if (note) showToast(note.firstChild.textContent.trim());
  }

  // After a verdict: poll until the rescore it queued is done, then update the scores on the
  // page in place and say how many changed, with a link to what changed and why.
  let watching = null;
  function watch(since) {
    if (watching) clearTimeout(watching.timer);
    watching = { since: watching ? watching.since : since, tries: 0 };
    poll();
  }

  async function poll() {
    const mine = watching;
    const shownRows = rows();
    const ids = shownRows.map((row) => row.dataset.company).join(",");
    const shown = shownRows.map((row) => row.dataset.verdict || "").join(","); // another rep may have changed one
    const params = new URLSearchParams({ since: mine.since, ids, shown });
    let state = null;
    try {
      const response = await fetch(`${body.closest("table").dataset.changes}?${params}`, { headers: { Accept: "application/json" } });
      if (response.ok) state = await response.json();
    } catch (error) {
      // no answer (a restart, the network): ask again below, as after any failed answer
    }
    if (watching !== mine) return; // a newer verdict started its own watch meanwhile
    if (state) show(state);
    mine.tries += 1;
    if (!(state && state.done) && mine.tries < 60) mine.timer = setTimeout(poll, 1000);
    else watching = null;
  }

  function show(state) {
    // A row another rep labelled or cleared meanwhile: its verdict and buttons as they are now.
    for (const [id, now] of Object.entries(state.verdicts || {})) {
      const row = body.querySelector(`tr[data-company="${id}"]`);
      const actions = row && row.querySelector("td.actions");
      if (!actions) continue;
      row.dataset.verdict = now.verdict;
      if (row.querySelector(".pick")) { // the dashboard's rows are styled by verdict (label next's are not)
        row.classList.remove("labelled", "like", "dislike");
        if (now.verdict) row.classList.add("labelled", now.verdict);
      }
      actions.innerHTML = now.buttons;
      htmx.process(actions);
    }
    for (const [id, html] of Object.entries(state.cells)) {
      const cell = body.querySelector(`[data-score-for="${id}"]`);
      if (cell && cell.innerHTML !== html) {
        cell.innerHTML = html;
        cell.classList.remove("moved");
        void cell.offsetWidth; // restart the highlight
        cell.classList.add("moved");
      }
    }
    const box = document.getElementById("changes");
    if (state.changed || state.recomputed) {
      box.hidden = false;
      box.replaceChildren();
      const link = document.createElement("a");
      link.href = state.link;
      link.textContent = state.changed_words;
      box.append(link, state.done ? "" : " (still rescoring…)");
    }
    if (state.done) settleNotes();
  }

  // Once the pass is done, the notes that said scores would update say they have.
  function settleNotes() {
    for (const note of document.querySelectorAll("#toast, .message, td .muted.small")) {
      const walker = document.createTreeWalker(note, NodeFilter.SHOW_TEXT);
      for (let text = walker.nextNode(); text; text = walker.nextNode()) {
        text.textContent = text.textContent
          .replace("Scores update in a moment.", "Scores updated.")
          .replace("scores update in a moment.", "scores are updated.");
      }
    }
  }

  document.body.addEventListener("htmx:afterSwap", (event) => {
    const row = event.detail.elt.closest ? event.detail.elt : null;
    const swapped = row && row.matches && row.matches("tr[data-company]") ? row : null;
    if (swapped) {
      // The row came back as a new element: it keeps the selection if it has it.
      if (rows().indexOf(swapped) === current) select(current, false);
      showPicked(); // the new row comes unticked
      const id = swapped.dataset.company;
      setTimeout(() => send(id), 0); // pressed while it was on its way: once htmx is done with the row
    }
  });
  // A verdict that failed takes the one waiting behind it along (the toast says it failed).
  for (const failed of ["htmx:responseError", "htmx:sendError"]) {
    document.body.addEventListener(failed, (event) => queued.delete(event.detail.elt.closest?.("tr[data-company]")?.dataset.company));
  }
  document.body.addEventListener("htmx:oobAfterSwap", () => { toast().hidden = false; });
  document.body.addEventListener("labelled", (event) => watch(event.detail.at));
  // Back from a bulk verdict (the selection bar's form): watch its pass as after one verdict.
  const bulkSince = body.closest("table").dataset.watchSince;
  if (bulkSince) watch(bulkSince);
  document.body.addEventListener("htmx:responseError", (event) => showToast(event.detail.xhr.responseText || "That did not work: try again."));
  document.body.addEventListener("htmx:sendError", () => showToast("The server did not answer: check your connection and try again."));

  // The selection: ticked boxes, a shift-click (or Shift+x) ticks every row from the last one
  // ticked; the actions sit in the fixed bar at the bottom, shown while any row is ticked.
  const bar = document.querySelector("[data-bulk]");
  const picks = () => rows().map((row) => row.querySelector(".pick")).filter(Boolean);
  let lastPicked = -1;
  function showPicked() {
    if (!bar) return; // label next: no selection
    const count = picks().filter((box) => box.checked).length;
    bar.hidden = count === 0;
    // Room below the page for the fixed bar, however many lines it wraps to on a phone: the last
    // rows and the page links scroll clear of it.
    document.querySelector("main").style.paddingBottom = count ? `${bar.closest(".notices").offsetHeight + 24}px` : "";
    bar.querySelector("[data-picked]").textContent = `${count} selected`;
    const all = document.querySelector("[data-pick-all]");
    all.checked = count > 0 && count === picks().length;
    all.indeterminate = count > 0 && count < picks().length;
  }
  function pick(index, range) {
    const boxes = picks();
    if (!boxes[index]) return;
    if (range && lastPicked >= 0) {
      const [from, to] = [Math.min(lastPicked, index), Math.max(lastPicked, index)];
      const state = boxes[lastPicked].checked;
      boxes.slice(from, to + 1).forEach((box) => { box.checked = state; });
    }
    lastPicked = index;
    showPicked();
  }
  function toggle(index, range) {
    const box = picks()[index];
    if (!box) return;
    if (!range || lastPicked < 0) box.checked = !box.checked;
    pick(index, range);
  }
  body.addEventListener("click", (event) => {
    const row = event.target.closest("tr[data-company]");
    if (row && event.isTrusted) current = rows().indexOf(row); // a click of the pointer: not a verdict this script sends
    if (event.target.matches(".pick")) pick(rows().indexOf(row), event.shiftKey);
  });
  document.querySelector("[data-pick-all]")?.addEventListener("change", (event) => {
    picks().forEach((box) => { box.checked = event.target.checked; });
    showPicked();
  });
  bar?.querySelector("[data-pick-none]").addEventListener("click", () => {
    picks().forEach((box) => { box.checked = false; });
    lastPicked = -1;
    showPicked();
  });
  showPicked();
  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-undo]")) undo();
    if (event.target.closest("[data-help]")) document.getElementById("help").showModal();
  });

  document.addEventListener("keydown", (event) => {
    if (event.metaKey || event.ctrlKey || event.altKey) return;
    if (event.target.closest("input, select, textarea, [contenteditable]")) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    if (document.getElementById("help").open) return;
    const keys = {
      j: () => select(current + 1),
      k: () => select(current - 1),
      l: () => press("like"),
      d: () => press("dislike"),
      c: () => press("clear"),
      u: () => undo(),
      x: () => toggle(current, false),
      X: () => toggle(current, true),
      o: () => { const link = rows()[current]?.querySelector("[data-open]"); if (link) link.click(); },
      "/": () => document.getElementById("search")?.focus(), // label next has no search box
      "?": () => document.getElementById("help").showModal(),
    };
    const action = keys[event.key];
    if (!action) return;
    event.preventDefault();
    if (current < 0 && "jkldcoxX".includes(event.key)) { select(0); if (event.key === "j" || event.key === "k") return; }
    action();
  });
  document.body.dataset.keyboard = "ready"; // for tests: the shortcuts listen from here on
})();
