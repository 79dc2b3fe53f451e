// Problems on the page as a list of sentences (tests/admin/test_layout.py): boxes that run past
// the viewport or past the element that contains them, text cut by its own box (an input's
// placeholder included), and labels that should keep to one line but wrap.
() => {
  const problems = [];
  const width = document.documentElement.clientWidth;
  const name = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
    + (typeof e.className === 'string' && e.className ? '.' + e.className.trim().split(/\s+/).join('.') : '');
  const shown = (e) => {
    const style = getComputedStyle(e);
    const box = e.getBoundingClientRect();
    return style.visibility !== 'hidden' && style.display !== 'none' && box.width > 0 && box.height > 0;
  };
  const canvas = document.createElement('canvas').getContext('2d');
  for (const e of document.body.querySelectorAll('*')) {
    // Screen-reader-only text is clipped to 1 px on purpose.
    if (!shown(e) || e.closest('.skip-to-content-link, .visually-hidden')) continue;
    const box = e.getBoundingClientRect();
    if (box.left < -1 || box.right > width + 1)
      problems.push(`${name(e)} runs past the viewport (${Math.round(box.left)}–${Math.round(box.right)} of ${width})`);
    const parent = e.parentElement;
    if (parent && parent !== document.body && shown(parent) && getComputedStyle(e).position !== 'fixed') {
      const outer = parent.getBoundingClientRect();
      if (box.left < outer.left - 1 || box.right > outer.right + 1)
        problems.push(`${name(e)} runs past its container ${name(parent)} (${Math.round(box.left)}–${Math.round(box.right)} in ${Math.round(outer.left)}–${Math.round(outer.right)})`);
    }
    const style = getComputedStyle(e);
    if (style.overflowX !== 'visible' && style.overflowX !== 'auto' && style.overflowX !== 'scroll'
        && e.scrollWidth > e.clientWidth + 1)
      problems.push(`${name(e)} cuts its content (${e.scrollWidth} in ${e.clientWidth})`);
    if ((e.tagName === 'INPUT' || e.tagName === 'TEXTAREA') && e.placeholder) {
      canvas.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
      const room = e.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      if (canvas.measureText(e.placeholder).width > room + 1)
        problems.push(`${name(e)} cuts its placeholder “${e.placeholder}”`);
    }
  }
  for (const e of document.querySelectorAll('.action-counter, #site-name, h1')) {
    if (!shown(e)) continue;
    // An inline element that wraps has a box per line; a block one grows by a line height.
    const style = getComputedStyle(e);
    const lineHeight = parseFloat(style.lineHeight) || 1.2 * parseFloat(style.fontSize);
    const lines = Math.max(
      new Set([...e.getClientRects()].map((box) => Math.round(box.top))).size,
      Math.round(e.getBoundingClientRect().height / lineHeight));
    if (lines > 1) problems.push(`${name(e)} wraps onto ${lines} lines: “${e.innerText}”`);
  }
  return problems;
}
