// The console's bit of JavaScript: live queue, transcript seeking, small form helpers.
// Everything works without it; nothing is loaded from elsewhere.
"use strict";

(function () {
  // A refresh merges the new markup into the page rather than replacing it: a node that stays
  // (rows matched by their case, other elements by id or position) is updated, not rebuilt, so
  // keyboard focus and a screen reader's place survive.
  function keyOf(node) {
    return node.nodeType === 1 ? (node.getAttribute("data-case") || node.id || null) : null;
  }
  function sameKind(a, b) {
    return a.nodeType === b.nodeType && a.nodeName === b.nodeName && keyOf(a) === keyOf(b);
  }
  function morph(old, fresh) {
    if (old.nodeType !== 1) {
      if (old.nodeValue !== fresh.nodeValue) { old.nodeValue = fresh.nodeValue; }
      return;
    }
    Array.prototype.slice.call(old.attributes).forEach(function (a) {
      if (!fresh.hasAttribute(a.name)) { old.removeAttribute(a.name); }
    });
    Array.prototype.forEach.call(fresh.attributes, function (a) {
      if (old.getAttribute(a.name) !== a.value) { old.setAttribute(a.name, a.value); }
    });
    morphChildren(old, fresh);
  }
  function morphChildren(parent, freshParent) {
    var keyed = {};
    Array.prototype.forEach.call(parent.childNodes, function (child) {
      var key = keyOf(child);
      if (key) { keyed[key] = child; }
    });
    var cursor = parent.firstChild;  // every node before it is already merged
    Array.prototype.slice.call(freshParent.childNodes).forEach(function (fresh) {
      var key = keyOf(fresh);
      var match = key ? keyed[key] : cursor;
      if (match && sameKind(match, fresh)) {
        if (match !== cursor) { parent.insertBefore(match, cursor); }
        morph(match, fresh);
        cursor = match.nextSibling;
      } else {
        parent.insertBefore(fresh, cursor);
      }
    });
    while (cursor) {
      var next = cursor.nextSibling;
      parent.removeChild(cursor);
      cursor = next;
    }
  }

  // The queue refreshes its table in place every few seconds (not while the tab is hidden); only a
  // changed count of waiting reports is announced, in the small status line above it.
  function startPolling(box) {
    var interval = (parseInt(box.dataset.interval, 10) || 15) * 1000;
    var busy = false;
    var announce = document.getElementById("queue-announce");
    function waiting() {
      var total = box.querySelector("[data-testid=waiting-total]");
      return total ? total.textContent.trim() : null;
    }
    function apply(html) {
      var before = waiting();
      var fresh = document.createElement("template");
      fresh.innerHTML = html;
      morphChildren(box, fresh.content);
      var after = waiting();
      if (announce && after !== before) {
        var heading = box.querySelector(".waiting h2");
        announce.textContent = heading ? heading.textContent.replace(/\s+/g, " ").trim() : after;
      }
      box.dispatchEvent(new CustomEvent("queue:refreshed", {bubbles: true}));
    }
    function refresh() {
      if (busy || document.hidden) { return; }
      busy = true;
      fetch(box.dataset.src + window.location.search, {credentials: "same-origin", headers: {"X-Requested-With": "fetch"}})
        .then(function (response) {
          if (response.redirected || response.status === 401) { window.location.reload(); return null; }
          return response.ok ? response.text() : null;
        })
        .then(function (html) { if (html !== null && html !== undefined) { apply(html); } })
        .catch(function () { /* offline for a moment: try again next time */ })
        .then(function () { busy = false; });
    }
    window.setInterval(refresh, interval);
    document.addEventListener("visibilitychange", function () { if (!document.hidden) { refresh(); } });
  }

  // Clicking a transcript segment seeks its recording there and plays.
  function wireTranscripts() {
    document.addEventListener("click", function (event) {
      var button = event.target.closest ? event.target.closest(".segment") : null;
      if (!button) { return; }
      var audio = document.getElementById(button.dataset.player);
      if (!audio) { return; }
      var start = parseFloat(button.dataset.start) || 0;
      var play = function () { audio.currentTime = start; audio.play().catch(function () {}); };
      if (audio.readyState >= 1) { play(); } else { audio.addEventListener("loadedmetadata", play, {once: true}); audio.load(); }
    });
    document.querySelectorAll("audio.player").forEach(function (audio) {
      var segments = document.querySelectorAll('.segment[data-player="' + audio.id + '"]');
      if (!segments.length) { return; }
      audio.addEventListener("timeupdate", function () {
        var now = audio.currentTime;
        segments.forEach(function (segment) {
          var inside = now >= parseFloat(segment.dataset.start) && now < parseFloat(segment.dataset.end);
          segment.classList.toggle("current", inside);
        });
      });
    });
  }

  // "Listened" is audited when playback starts, not when the case opens (players preload nothing).
  function wireListenAudit() {
    document.querySelectorAll("audio.player[data-played]").forEach(function (audio) {
      audio.addEventListener("play", function () {
        fetch(audio.dataset.played, {
          method: "POST", credentials: "same-origin",
          headers: {"X-CSRFToken": audio.dataset.csrf, "X-Requested-With": "fetch"},
        }).catch(function () { /* the audio fetch itself is audited too */ });
      });
    });
  }

  // The reason list matters only when closing.
  function wireStatusForms() {
    document.querySelectorAll(".status-form").forEach(function (form) {
      var status = form.querySelector("select[name=status]");
      var reason = form.querySelector(".reason");
      if (!status || !reason) { return; }
      var sync = function () {
        reason.classList.toggle("hidden", status.value !== "closed");
        // The receiving body when forwarding, the case it duplicates when closing (issue 13.4, 13.5).
        form.querySelectorAll("[data-for-status]").forEach(function (part) {
          part.classList.toggle("hidden", status.value !== part.dataset.forStatus);
        });
      };
      status.addEventListener("change", sync);
      sync();
    });
  }

  // Forms that do something sensitive ask first.
  function wireConfirmations() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("queue-live");
    if (box) { startPolling(box); }
    wireTranscripts();
    wireListenAudit();
    wireStatusForms();
    wireConfirmations();
  });
})();
