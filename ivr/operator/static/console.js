// The console's bit of JavaScript: live queue, transcript seeking, small form helpers.
// Everything works without it; nothing is loaded from elsewhere.
"use strict";

(function () {
  // The queue refreshes its table in place every few seconds (not while the tab is hidden).
  function startPolling(box) {
    var interval = (parseInt(box.dataset.interval, 10) || 15) * 1000;
    var busy = false;
    function refresh() {
      if (busy || document.hidden) { return; }
      busy = true;
      fetch(box.dataset.src + window.location.search, {credentials: "same-origin", headers: {"X-Requested-With": "fetch"}})
        .then(function (response) {
          if (response.redirected || response.status === 401) { window.location.reload(); return null; }
          return response.ok ? response.text() : null;
        })
        .then(function (html) { if (html !== null && html !== undefined) { box.innerHTML = html; } })
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

  // The reason list matters only when closing.
  function wireStatusForms() {
    document.querySelectorAll(".status-form").forEach(function (form) {
      var status = form.querySelector("select[name=status]");
      var reason = form.querySelector(".reason");
      if (!status || !reason) { return; }
      var sync = function () { reason.classList.toggle("hidden", status.value !== "closed"); };
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
    wireStatusForms();
    wireConfirmations();
  });
})();
