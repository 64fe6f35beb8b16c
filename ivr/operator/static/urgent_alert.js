// Urgent alerts on the queue page (issue 12.1): a new urgent case nobody has taken raises a sound,
// a count in the tab title and, once the operator allowed it, a desktop notification.
// The queue's periodic refresh (console.js) brings #urgent-state; this script only watches it.
"use strict";

(function () {
  var SEEN_KEY = "ivr.urgent.seen";

  function readState() {
    var el = document.getElementById("urgent-state");
    if (!el) { return null; }
    var ids = (el.dataset.ids || "").split(",").filter(Boolean);
    var refs = (el.dataset.refs || "").split(",");
    return {count: parseInt(el.dataset.count, 10) || 0, ids: ids, refs: refs};
  }

  function loadSeen() {
    try { return JSON.parse(window.sessionStorage.getItem(SEEN_KEY) || "[]"); } catch (e) { return []; }
  }

  function saveSeen(ids) {
    try { window.sessionStorage.setItem(SEEN_KEY, JSON.stringify(ids.slice(-200))); } catch (e) { /* private mode */ }
  }

  function start(panel) {
    var baseTitle = document.title;
    var sound = new Audio(panel.dataset.sound);
    sound.preload = "auto";
    var button = panel.querySelector("[data-action=enable]");
    var status = panel.querySelector("[data-role=status]");
    var supported = "Notification" in window;
    var last = "";

    function showPermission() {
      if (!supported) { return; }
      var permission = window.Notification.permission;
      if (button) { button.style.display = permission === "granted" ? "none" : ""; }
      if (status) {
        status.textContent = permission === "granted" ? panel.dataset.on : (permission === "denied" ? panel.dataset.blocked : "");
      }
    }

    function notify(id, reference) {
      sound.currentTime = 0;
      var played = sound.play();
      if (played && played.catch) { played.catch(function () { /* autoplay refused until a click */ }); }
      if (!supported || window.Notification.permission !== "granted") { return; }
      var note = new window.Notification(panel.dataset.title, {
        body: panel.dataset.body.replace("{reference}", reference || ("#" + id)),
        tag: "urgent-" + id,
        requireInteraction: true
      });
      note.onclick = function () {
        window.focus();
        window.location.href = panel.dataset.caseUrl.replace("/0", "/" + id);
      };
    }

    function update() { apply(readState()); }

    function apply(state) {
      if (!state) { return; }
      var key = state.count + ":" + state.ids.join(",");
      if (key === last) { return; }
      last = key;
      document.title = (state.count > 0 ? "(" + state.count + ") " : "") + baseTitle;
      var seen = loadSeen();
      state.ids.forEach(function (id, i) {
        if (seen.indexOf(id) < 0) { notify(id, state.refs[i]); seen.push(id); }
      });
      saveSeen(seen);
    }

    if (button) {
      button.addEventListener("click", function () {
        // The click also lets the page play sound from now on (browsers' autoplay rule).
        sound.play().then(function () { sound.pause(); sound.currentTime = 0; }).catch(function () {});
        if (supported) { window.Notification.requestPermission().then(showPermission); }
      });
      if (!supported) { button.style.display = "none"; }
    }
    showPermission();
    var box = document.getElementById("queue-live");
    if (box) {
      new MutationObserver(update).observe(box, {childList: true, subtree: true, attributes: true,
                                                  attributeFilter: ["data-ids", "data-count"]});
      box.addEventListener("queue:refreshed", update);
    }
    update();

    // The table refresh pauses while the tab is hidden; the alert must not. A hidden tab asks the
    // small JSON list instead (browsers may slow a background tab's timers, down to once a minute).
    var interval = (parseInt(panel.dataset.interval, 10) || 4) * 1000;
    var busy = false;
    window.setInterval(function () {
      if (!document.hidden || busy) { return; }
      busy = true;
      fetch(panel.dataset.src, {credentials: "same-origin", headers: {"X-Requested-With": "fetch"}})
        .then(function (response) { return response.ok && !response.redirected ? response.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          apply({count: data.count,
                 ids: data.cases.map(function (c) { return String(c.id); }),
                 refs: data.cases.map(function (c) { return c.reference || ""; })});
        })
        .catch(function () { /* offline for a moment */ })
        .then(function () { busy = false; });
    }, interval);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var panel = document.getElementById("urgent-alerts");
    if (panel) { start(panel); }
  });
})();
