// Small DOM helpers shared by the elements. Text only ever goes in through textContent
// and attribute values; nothing here parses markup.

const sheets = new Map();

/** Gives a shadow root the stylesheet `css`, shared between instances (constructable
 * stylesheets, which a strict CSP allows); falls back to a <style> element. */
export function adoptStyles(root, css) {
  try {
    let sheet = sheets.get(css);
    if (!sheet) {
      sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      sheets.set(css, sheet);
    }
    root.adoptedStyleSheets = [sheet];
    return;
  } catch {
    // no constructable stylesheets: fall back to a <style> element
  }
  const style = document.createElement('style');
  style.textContent = css;
  root.append(style);
}

/** createElement with attributes (`text` sets textContent; true -> empty attribute;
 * null/false are skipped) and children. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'text') el.textContent = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c != null) el.append(c);
  return el;
}

/** Registers `cls` under `tag` once. If the class already has another tag in this
 * registry (browsers refuse one class under two tags), a subclass is registered. */
export function defineElement(cls, tag, registry = customElements) {
  if (!registry.get(tag)) {
    try {
      registry.define(tag, cls);
    } catch (err) {
      if (err?.name !== 'NotSupportedError') throw err;
      registry.define(tag, class extends cls {});
    }
  }
  return cls;
}

/** A property set on an element before it was upgraded shadows the class accessor:
 * take the own value off and set it again through the accessor. */
export function upgradeProperty(el, name) {
  if (Object.prototype.hasOwnProperty.call(el, name)) {
    const value = el[name];
    delete el[name];
    el[name] = value;
  }
}
