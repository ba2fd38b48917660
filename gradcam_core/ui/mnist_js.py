"""The MNIST tab's page scripts (JavaScript run in the browser by js-only events): picking the
brush when the Draw tab opens, and drawing a box on the uploaded photo with a finger."""

SELECT_BRUSH = """() => { const pick = (n) => { const b = document.querySelector('#mnist-sketch button[aria-label="Brush"]');
    if (b) { b.click(); } else if (n > 0) { setTimeout(() => pick(n - 1), 150); } }; setTimeout(() => pick(20), 100); }"""

#: After a read on the Photo tab: (1) once per page, a finger (or mouse) drawing a box on the
#: uploaded photo fills the box field, in the photo's own pixels (object-fit: contain letterboxes
#: the picture inside its <img>); (2) while the offer is shown the photo takes touches for drawing
#: (touch-action: none), otherwise it scrolls the page as before; (3) the page scrolls to the photo
#: when the offer is shown (photo, line, box and the result under it fill a phone's screen), else,
#: after a result, to the result (after a failure with no offer it stays where the toast is read).
PHOTO_JS = r"""() => { const afterResult = __AFTER_RESULT__; setTimeout(() => {
  const offered = () => { const c = document.getElementById('mnist-crop'); return !!c && c.offsetParent !== null; };
  const photo = () => document.querySelector('#mnist-upload img');
  if (!window.__mnistBox) {
    window.__mnistBox = true;
    let start = null, mark = null, dragged = false;
    const area = (img) => {
      const r = img.getBoundingClientRect(), nw = img.naturalWidth, nh = img.naturalHeight;
      const fit = getComputedStyle(img).objectFit;
      if (fit === 'fill' || !nw || !nh) return {x: r.left, y: r.top, w: r.width, h: r.height, nw, nh};
      let s = Math.min(r.width / nw, r.height / nh);
      if (fit === 'none') s = 1; else if (fit === 'scale-down') s = Math.min(s, 1);
      const w = nw * s, h = nh * s;
      return {x: r.left + (r.width - w) / 2, y: r.top + (r.height - h) / 2, w, h, nw, nh};
    };
    const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));
    const draw = (s, x, y) => {
      const a = s.a, parent = s.img.parentElement;
      if (getComputedStyle(parent).position === 'static') parent.style.position = 'relative';
      if (!mark || mark.parentElement !== parent) {
        if (mark) mark.remove();
        mark = document.createElement('div'); mark.id = 'mnist-crop-mark';
        mark.style.cssText = 'position:absolute;border:2px solid #c2410c;background:rgba(194,65,12,0.12);' +
                             'pointer-events:none;z-index:5;box-sizing:border-box';
        parent.appendChild(mark);
      }
      const x0 = clamp(Math.min(s.x, x), a.x, a.x + a.w), x1 = clamp(Math.max(s.x, x), a.x, a.x + a.w);
      const y0 = clamp(Math.min(s.y, y), a.y, a.y + a.h), y1 = clamp(Math.max(s.y, y), a.y, a.y + a.h);
      const pr = parent.getBoundingClientRect();
      Object.assign(mark.style, {left: (x0 - pr.left) + 'px', top: (y0 - pr.top) + 'px',
                                 width: (x1 - x0) + 'px', height: (y1 - y0) + 'px'});
      return [x0, y0, x1, y1];
    };
    const put = (text) => {
      const el = document.querySelector('#mnist-crop-box textarea, #mnist-crop-box input');
      if (!el) return;
      el.value = text; el.dispatchEvent(new Event('input', {bubbles: true}));
    };
    document.addEventListener('pointerdown', (e) => {
      const img = photo();
      if (!img || !offered() || !img.naturalWidth) return;
      const a = area(img);
      if (e.clientX < a.x || e.clientX > a.x + a.w || e.clientY < a.y || e.clientY > a.y + a.h) return;
      e.preventDefault(); e.stopPropagation();
      start = {x: e.clientX, y: e.clientY, img, a}; dragged = false;
    }, true);
    document.addEventListener('pointermove', (e) => {
      if (!start) return;
      e.preventDefault(); dragged = true; draw(start, e.clientX, e.clientY);
    }, true);
    document.addEventListener('pointerup', (e) => {
      if (!start) return;
      const s = start; start = null;
      e.preventDefault(); e.stopPropagation();
      const [x0, y0, x1, y1] = draw(s, e.clientX, e.clientY), kx = s.a.nw / s.a.w, ky = s.a.nh / s.a.h;
      const box = [(x0 - s.a.x) * kx, (y0 - s.a.y) * ky, (x1 - s.a.x) * kx, (y1 - s.a.y) * ky].map(Math.round);
      if (box[2] - box[0] < 2 || box[3] - box[1] < 2) { if (mark) { mark.remove(); mark = null; } return; }
      put(box.join(', '));
    }, true);
    document.addEventListener('pointercancel', () => { start = null; }, true);
    document.addEventListener('click', (e) => {  // the end of a drag is not a click on the photo
      if (dragged && e.target && e.target.closest && e.target.closest('#mnist-upload')) {
        e.preventDefault(); e.stopPropagation(); dragged = false; }
    }, true);
  }
  const on = offered(), img = photo();
  if (img) { const t = on ? 'none' : ''; img.style.touchAction = t; img.parentElement.style.touchAction = t; }
  if (!on) { const m = document.getElementById('mnist-crop-mark'); if (m) m.remove(); }
  const e = on ? document.getElementById('mnist-upload') : afterResult ? document.getElementById('mnist-result') : null;
  if (e) window.scrollTo({top: Math.max(0, e.getBoundingClientRect().top + window.scrollY - 8), behavior: 'smooth'});
}, 120); }"""

#: A new photo (or none): the old box and its mark go.
NEW_PHOTO_JS = r"""() => { const m = document.getElementById('mnist-crop-mark'); if (m) m.remove(); }"""


#: The steps accordion opened or closed (issue 27): the page remembers it (``__OPEN__``: true or false),
#: so an answer asks the server for the steps only while they are open (:data:`DRAW_IF_OPEN`).
STEPS_OPENED = """() => { window.__mnistStepsOpen = __OPEN__; }"""

#: After each of the page's answers: while the steps are open, press the never-seen button that
#: draws them from the answer just kept (a second, private event; none while they are closed).
DRAW_IF_OPEN = """() => { if (window.__mnistStepsOpen) {
    const b = document.querySelector('button#mnist-steps-draw, #mnist-steps-draw button'); if (b) { b.click(); } } }"""
