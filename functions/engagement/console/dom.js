// Elements built from data, never from markup: everything the console shows comes from the API
// (user ids, campaign names, event context), and a text node cannot smuggle in a tag or script.

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "on") {
      for (const [event, handler] of Object.entries(value)) element.addEventListener(event, handler);
    } else if (name === "style") {
      throw new Error("no inline styles: the Content-Security-Policy refuses them");
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return element;
}

export function text(value) {
  return document.createTextNode(String(value));
}

// Figures are formatted by hand, not by the browser's locale, so every screen reads the same.
export function number(value, decimals = 0) {
  if (value === null || value === undefined) return "n/a";
  const [whole, fraction] = Math.abs(value).toFixed(decimals).split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return (value < 0 ? "-" : "") + grouped + (fraction ? "." + fraction : "");
}

export function percent(ratio) {
  return ratio === null || ratio === undefined ? "n/a" : `${(ratio * 100).toFixed(1)}%`;
}

// "2026-11-21T12:00:00Z" -> "2026-11-21 12:00 UTC": the API answers in UTC and so does the console.
export function when(instant) {
  return instant ? `${instant.slice(0, 10)} ${instant.slice(11, 16)} UTC` : "n/a";
}

export function seconds(instant) {
  return Date.parse(instant) / 1000;
}

export function table(headers, rows, numeric = []) {
  return h(
    "table",
    {},
    h("thead", {}, h("tr", {}, headers.map((name, i) => h("th", { class: numeric.includes(i) ? "num" : null }, name)))),
    h(
      "tbody",
      {},
      rows.map((cells) => h("tr", {}, cells.map((cell, i) => h("td", { class: numeric.includes(i) ? "num" : null }, cell)))),
    ),
  );
}

export function facts(pairs) {
  return h("dl", { class: "kv" }, pairs.flatMap(([name, value]) => [h("dt", {}, name), h("dd", {}, value)]));
}

export function panel(title, { charts = [], figures = [], name }) {
  return h(
    "section",
    { class: "panel", "data-panel": name },
    h("h2", {}, title),
    h("div", { class: "panel-body" }, h("div", { class: "charts" }, charts), h("div", { class: "figures" }, figures)),
  );
}

export function chip(band) {
  return h("span", { class: `chip ${band ?? ""}` }, band ?? "none");
}

export function link(hash, label) {
  return h("a", { href: hash }, label);
}
