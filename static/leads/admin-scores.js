// The admin's company list after a verdict action (like, dislike, clear): the rescore it queued
// changes the neighbours' scores a moment later. Ask /scores/changes, as the dashboard does, until
// that pass is done, then reload the list once to show them, and say so. A list with boxes ticked
// meanwhile is not reloaded under the pointer: the note asks for the reload instead.
(() => {
  const box = document.getElementById("score-watch");
  if (!box) return;
  const KEPT = "leads-admin-scores"; // the note, kept across the reload

  function say(text, link) {
    const line = box.querySelector("li");
    line.replaceChildren(text);
    if (link) {
      const anchor = document.createElement("a");
      anchor.href = link;
      anchor.textContent = "See what changed.";
      line.append(" ", anchor);
    }
    box.hidden = false;
  }

  const kept = sessionStorage.getItem(KEPT);
  if (kept) {
    sessionStorage.removeItem(KEPT);
    const note = JSON.parse(kept);
    say(note.text, note.link);
  }
  const since = box.dataset.since;
  if (!since) return;
  const url = new URL(box.dataset.changes, window.location.href);
  url.searchParams.set("since", since);
  say("The neighbours' scores are being updated…");

  let tries = 0;
  async function poll() {
    let state = null;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (response.ok) state = await response.json();
    } catch (error) {
      // no answer (a restart, the network): ask again below, as after any failed answer
    }
    tries += 1;
    if (state && state.done) finished(state);
    else if (tries < 60) setTimeout(poll, 1000);
    else say("The scores are still being updated: reload the page in a while to see them.");
  }

  function finished(state) {
    const count = state.changed_words;
    if (document.querySelector("#result_list .action-select:checked")) {
      say(`The neighbours' scores are updated (${count}): reload the page to see them.`, state.link);
      return;
    }
    sessionStorage.setItem(KEPT, JSON.stringify({ text: `The neighbours' scores are updated (${count}).`, link: state.link }));
    window.location.reload();
  }

  poll();
})();
