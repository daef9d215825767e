// Reader page: window/level (brightness/contrast), zoom and pan, keyboard answers, and the time
// spent on the image. The form works without this script; the script only adds shortcuts.
(function () {
  "use strict";
  var img = document.getElementById("cxr");
  var form = document.getElementById("answer");
  if (!img || !form) { return; }
  var sliders = { b: document.getElementById("brightness"), c: document.getElementById("contrast"), z: document.getElementById("zoom") };
  var view = { b: 1, c: 1, z: 1, x: 0, y: 0 };
  var shownAt = performance.now();
  var sent = false;

  function clamp(v, lo, hi) { return Math.min(hi, Math.max(lo, v)); }
  function apply() {
    view.b = clamp(view.b, 0.2, 3); view.c = clamp(view.c, 0.2, 4); view.z = clamp(view.z, 1, 6);
    if (view.z === 1) { view.x = 0; view.y = 0; }
    img.style.filter = "brightness(" + view.b.toFixed(2) + ") contrast(" + view.c.toFixed(2) + ")";
    img.style.transform = "translate(" + view.x + "px," + view.y + "px) scale(" + view.z.toFixed(2) + ")";
    sliders.b.value = view.b; sliders.c.value = view.c; sliders.z.value = view.z;
  }
  function reset() { view = { b: 1, c: 1, z: 1, x: 0, y: 0 }; apply(); }
  sliders.b.addEventListener("input", function () { view.b = parseFloat(sliders.b.value); apply(); });
  sliders.c.addEventListener("input", function () { view.c = parseFloat(sliders.c.value); apply(); });
  sliders.z.addEventListener("input", function () { view.z = parseFloat(sliders.z.value); apply(); });
  document.getElementById("reset").addEventListener("click", reset);

  // Drag: left button = window/level (x: contrast, y: brightness); shift or zoomed-in = pan.
  var drag = null;
  img.addEventListener("mousedown", function (e) { drag = { x: e.clientX, y: e.clientY, pan: e.shiftKey || view.z > 1 }; e.preventDefault(); });
  window.addEventListener("mouseup", function () { drag = null; });
  window.addEventListener("mousemove", function (e) {
    if (!drag) { return; }
    var dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    drag.x = e.clientX; drag.y = e.clientY;
    if (drag.pan) { view.x += dx; view.y += dy; } else { view.c += dx / 200; view.b -= dy / 200; }
    apply();
  });
  document.getElementById("viewer").addEventListener("wheel", function (e) { view.z *= e.deltaY < 0 ? 1.15 : 1 / 1.15; apply(); e.preventDefault(); }, { passive: false });

  function choose(key) {
    var input = form.querySelector('input[type=radio][data-key="' + key + '"]');
    if (input) { input.checked = true; return true; }
    return false;
  }
  form.addEventListener("submit", function (e) {
    if (sent) { e.preventDefault(); return; }
    sent = true;
    document.getElementById("client_ms").value = Math.round(performance.now() - shownAt);
    document.getElementById("submit").disabled = true;
  });
  document.addEventListener("keydown", function (e) {
    var typing = e.target && (e.target.tagName === "INPUT" && e.target.type === "text" || e.target.tagName === "TEXTAREA");
    if (typing) { if (e.key === "Escape") { e.target.blur(); } return; }
    if (e.ctrlKey || e.metaKey || e.altKey) { return; }
    var k = e.key.toLowerCase();
    if (k === "enter") { form.requestSubmit(); e.preventDefault(); return; }
    if (k === "arrowup") { view.b += 0.1; } else if (k === "arrowdown") { view.b -= 0.1; }
    else if (k === "arrowright") { view.c += 0.1; } else if (k === "arrowleft") { view.c -= 0.1; }
    else if (k === "+" || k === "=") { view.z *= 1.25; } else if (k === "-") { view.z /= 1.25; }
    else if (k === "0") { reset(); e.preventDefault(); return; }
    else { if (choose(k)) { e.preventDefault(); } return; }
    apply(); e.preventDefault();
  });
  apply();
})();
