// A voice message for the reporter: record with MediaRecorder, hear it back, send it as a WAV.
// The browser's own codec (webm/opus) is decoded here and sent as 16 kHz mono 16-bit PCM WAV,
// which a phone line plays as it is and the server can check without any decoder.
(function () {
  "use strict";
  var box = document.querySelector("[data-testid=voice-message]");
  if (!box) { return; }
  var recordButton = box.querySelector("[data-action=record]");
  var stopButton = box.querySelector("[data-action=stop]");
  var sendButton = box.querySelector("[data-action=send]");
  var preview = box.querySelector("[data-role=preview]");
  var status = box.querySelector("[data-role=status]");
  var language = box.querySelector("select[name=voice_language]");
  var RATE = 16000;
  var recorder = null, chunks = [], wav = null;

  function say(text) { status.textContent = text; }

  function encodeWav(samples) {
    var buffer = new ArrayBuffer(44 + samples.length * 2);
    var view = new DataView(buffer);
    function text(offset, value) { for (var i = 0; i < value.length; i++) { view.setUint8(offset + i, value.charCodeAt(i)); } }
    text(0, "RIFF"); view.setUint32(4, 36 + samples.length * 2, true); text(8, "WAVE");
    text(12, "fmt "); view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
    view.setUint32(24, RATE, true); view.setUint32(28, RATE * 2, true); view.setUint16(32, 2, true); view.setUint16(34, 16, true);
    text(36, "data"); view.setUint32(40, samples.length * 2, true);
    for (var i = 0; i < samples.length; i++) {
      var s = Math.max(-1, Math.min(1, samples[i]));
      view.setInt16(44 + i * 2, s < 0 ? s * 0x8000 : s * 0x7fff, true);
    }
    return new Blob([buffer], { type: "audio/wav" });
  }

  function toWav(blob) {
    return blob.arrayBuffer().then(function (data) {
      var context = new (window.AudioContext || window.webkitAudioContext)();
      return context.decodeAudioData(data).then(function (decoded) {
        context.close();
        var frames = Math.max(1, Math.ceil(decoded.duration * RATE));
        var offline = new OfflineAudioContext(1, frames, RATE);
        var source = offline.createBufferSource();
        source.buffer = decoded; source.connect(offline.destination); source.start();
        return offline.startRendering();
      });
    }).then(function (rendered) { return encodeWav(rendered.getChannelData(0)); });
  }

  recordButton.addEventListener("click", function () {
    if (!navigator.mediaDevices || !window.MediaRecorder) { say(box.dataset.unsupported || "MediaRecorder?"); return; }
    navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
      chunks = []; wav = null; sendButton.disabled = true; preview.hidden = true;
      recorder = new MediaRecorder(stream);
      recorder.ondataavailable = function (event) { if (event.data.size) { chunks.push(event.data); } };
      recorder.onstop = function () {
        stream.getTracks().forEach(function (track) { track.stop(); });
        toWav(new Blob(chunks, { type: recorder.mimeType })).then(function (made) {
          wav = made;
          preview.src = URL.createObjectURL(made);
          preview.hidden = false;
          sendButton.disabled = false;
          say("");
        }, function () { say("?"); });
      };
      recorder.start();
      recordButton.disabled = true; stopButton.disabled = false;
      box.dataset.state = "recording";
    }, function (error) { say(String(error && error.name || error)); });
  });

  stopButton.addEventListener("click", function () {
    if (recorder && recorder.state !== "inactive") { recorder.stop(); }
    recordButton.disabled = false; stopButton.disabled = true;
    box.dataset.state = "recorded";
  });

  sendButton.addEventListener("click", function () {
    if (!wav) { return; }
    var form = new FormData();
    form.append("audio", wav, "message.wav");
    form.append("language", language.value);
    form.append("csrf_token", box.dataset.csrf);
    sendButton.disabled = true;
    fetch(box.dataset.upload, { method: "POST", body: form, credentials: "same-origin",
                                headers: { "X-CSRFToken": box.dataset.csrf } })
      .then(function (response) { return response.json().then(function (body) { return [response, body]; }); })
      .then(function (pair) {
        if (pair[0].ok) {
          // The same page with #thread: a hash alone does not reload, and the thread must show the new message.
          var target = new URL(pair[1].redirect, window.location.href);
          if (target.pathname === window.location.pathname) { window.location.hash = target.hash; window.location.reload(); }
          else { window.location.assign(target.href); }
          return;
        }
        say(pair[1].error || String(pair[0].status)); sendButton.disabled = false;
      }, function (error) { say(String(error)); sendButton.disabled = false; });
  });
})();
