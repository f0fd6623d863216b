// Polls the import's progress JSON once a second and updates the bars until it is finished.
(function () {
  const root = document.getElementById("import-progress");
  if (!root) return;
  let shownState = root.querySelector('[data-field="state_display"]').textContent;

  function render(p) {
    root.querySelectorAll("[data-field]").forEach((el) => {
      const value = p[el.dataset.field];
      el.textContent = typeof value === "number" ? value.toLocaleString() : value;
    });
    root.querySelector('[data-field="error"]').hidden = !p.error;
    const bars = {
      rows: [p.rows_read, p.rows_estimate],
      embedded: [p.embedded, p.companies],
      scored: [p.scored, p.companies],
      switch: [p.switch_embedded, p.switch_total],
    };
    for (const [name, [value, max]] of Object.entries(bars)) {
      const bar = root.querySelector(`[data-bar="${name}"]`);
      if (!bar) continue; // the encoder switch's row is drawn only while one runs
      bar.max = Math.max(max, 1);
      bar.value = value;
    }
    root.querySelector('[data-show="unscorable"]').hidden = p.scoring;
    root.querySelector('[data-show="queued"]').hidden = p.state !== "queued";
    // "5 of about 5" while the file is read; "5 rows" once they are counted.
    root.querySelector('[data-show="rows-estimated"]').hidden = p.rows_counted;
    root.querySelector('[data-show="rows-counted"]').hidden = !p.rows_counted;
    root.querySelector('[data-show="finished"]').hidden = !(p.finished && p.state === "done");
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
