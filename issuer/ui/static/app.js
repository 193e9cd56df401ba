// svcauth dashboard: copy buttons, nothing else (pages work without it).
(function () {
  "use strict";

  function announce(text) {
    var live = document.getElementById("copy-status");
    if (live) { live.textContent = ""; live.textContent = text; }
  }

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) { return; }
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) { return; }
    var text = source.textContent;
    var done = function (ok) {
      var label = button.firstChild;
      var original = label.nodeValue;
      label.nodeValue = ok ? "Copied" : "Select and copy";
      announce(ok ? "Copied to the clipboard" : "Copying failed: select the text and copy it");
      setTimeout(function () { label.nodeValue = original; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(fallbackCopy(text)); });
    } else {
      done(fallbackCopy(text));
    }
  });

  // A one-time secret page restored from the back/forward cache would show
  // the secret again: load it from the server instead, which says it is gone.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted && document.body.hasAttribute("data-one-time")) {
      document.body.textContent = "";
      window.location.reload();
    }
  });
})();
