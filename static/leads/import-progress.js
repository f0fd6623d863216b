// Polls an import's progress JSON once a second and updates the page until it is finished: a
// companies import (rows, embedded, scored) or a deals file (rows). Each page draws only the
// fields, bars and notes it has.
(function () {
  const root = document.getElementById("import-progress");
  if (!root) return;
  let shownState = root.querySelector('[data-field="state_display"]').textContent;

  function show(name, visible) {
    root.querySelectorAll(`[data-show="${name}"]`).forEach((el) => {
      el.hidden = !visible;
    });
  }

  function render(p) {
    root.querySelectorAll("[data-field]").forEach((el) => {
      const value = p[el.dataset.field];
      if (value === undefined) return;
      el.textContent = typeof value === "number" ? value.toLocaleString() : value;
    });
    root.querySelectorAll('[data-field="error"]').forEach((el) => {
      el.hidden = !p.error;
    });
    const bars = {
      rows: [p.rows_read, p.rows_estimate],
      embedded: [p.embedded, p.companies],
      scored: [p.scored, p.companies],
      switch: [p.switch_embedded, p.switch_total],
    };
    for (const [name, [value, max]] of Object.entries(bars)) {
      const bar = root.querySelector(`[data-bar="${name}"]`);
      if (!bar || value === undefined) continue; // not on this page (the encoder switch's: only while one runs)
      bar.max = Math.max(max, 1);
      bar.value = value;
    }
    show("unscorable", !p.scoring);
    show("queued", p.state === "queued");
    // "2 of about 5" while a file whose rows were estimated is read, "2 of 5" while one counted on
    // upload is; "5 rows" once the import has counted them.
    show("rows-estimated", !p.rows_exact);
    show("rows-exact", p.rows_exact && !p.rows_counted);
    show("rows-counted", p.rows_counted);
    show("finished", p.finished && p.state === "done");
  }

  async function poll() {
    try {
      const response = await fetch(root.dataset.url, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const p = await response.json();
        render(p);
        // Counts and rejected rows are drawn by the server: reload once when the import itself ends.
        if (p.state_display !== shownState && (p.state === "done" || p.state === "failed")) {
          window.location.reload();
          return;
        }
        shownState = p.state_display;
        if (p.finished) return;
      }
    } catch (error) {
      // The server restarting is no reason to stop watching.
    }
    setTimeout(poll, 1000);
  }
  poll();
})();
