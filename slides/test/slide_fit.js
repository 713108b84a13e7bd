// slides/test/slide_fit.js — does every slide's content fit its slide?
//
// browser_test.sh puts this script at the end of a copy of the rendered deck,
// and reads what it writes into the page (a <pre>, id slide-fit) with
// --dump-dom. A Marp slide is a <section> of 1280x720 that hides whatever
// does not fit, so code cut off at the bottom shows nothing wrong: we measure.
// For each slide, one line, tab-separated:
//
//   SLIDE  OVER  WIDE  BOTTOM  LIMIT  HEADING
//
// OVER is how many pixels the content goes past the slide's padding, at the
// top or the bottom (0: it fits); WIDE, how many pixels its widest line is
// too wide; BOTTOM is where the lowest content ends and LIMIT where it may
// end (the section's height less its bottom padding, where the page number is).
// Sizes are the slide's own CSS pixels (offsetTop, offsetHeight), whatever
// the window's size. A last line, "control OVER", measures the first slide
// once more with a tall box added, so a check that sees nothing (a new Marp
// that lays slides out otherwise) fails instead of passing.
'use strict';

function overflow(section) {
  const style = getComputedStyle(section);
  const top = parseFloat(style.paddingTop);
  const limit = section.clientHeight - parseFloat(style.paddingBottom);
  const right = section.clientWidth - parseFloat(style.paddingRight);
  let lowest = 0;
  let over = 0;
  let wide = 0;
  for (const child of section.children) {
    // offsetTop is from the section (Marp positions it), offsetHeight unscaled.
    const bottom = child.offsetTop + child.offsetHeight;
    lowest = Math.max(lowest, bottom);
    over = Math.max(over, bottom - limit, top - child.offsetTop);
    wide = Math.max(wide, child.offsetLeft + child.offsetWidth - right,
                    child.scrollWidth - child.clientWidth);  // a line too long for its box
  }
  return { over: Math.max(0, Math.round(over)), wide: Math.max(0, Math.round(wide)),
           bottom: Math.round(lowest), limit: Math.round(limit) };
}

function measure() {
  const lines = [];
  const sections = [...document.querySelectorAll('section[id]')];
  for (const section of sections) {
    const { over, wide, bottom, limit } = overflow(section);
    const heading = section.querySelector('h1, h2');
    const text = (heading ? heading.textContent : '').replace(/\s+/g, ' ').trim();
    lines.push([section.id, over, wide, bottom, limit, text].join('\t'));
  }
  if (sections.length > 0) {
    const tall = document.createElement('div');
    tall.style.height = '2000px';
    sections[0].appendChild(tall);
    lines.push(`control\t${overflow(sections[0]).over}`);
    tall.remove();
  }
  const report = document.createElement('pre');
  report.id = 'slide-fit';
  report.textContent = lines.join('\n');
  document.body.appendChild(report);
}

// Marp shrinks a code block too wide for its slide ("auto-scaling"), and in
// a headless window it sometimes does so before the slide has its size,
// shrinking every block. We want each block at its real size: an attribute
// off turns that off (too wide a line then shows as scrollWidth). Measure
// once the fonts are in and the blocks are laid out again.
window.addEventListener('load', () => {
  for (const element of document.querySelectorAll('[data-auto-scaling]'))
    element.removeAttribute('data-auto-scaling');
  document.fonts.ready.then(() => setTimeout(measure, 500));
});
