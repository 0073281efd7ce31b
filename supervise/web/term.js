// A session in the page: draws the frames /events sends (the screen's
// rows as runs of styled text), sends keys as the bytes an xterm sends,
// and keeps the terminal the size of the page. Text is set as text only.
"use strict";

const token = document.querySelector('meta[name="keeper-token"]').content;
const base = location.pathname.replace(/\/+$/, "");
const screenEl = document.getElementById("screen");
const rowsEl = document.getElementById("rows");
const cursorEl = document.getElementById("cursor");
const statusEl = document.getElementById("term-status");
let id = "";
let modes = { cursorKeys: false, paste: false };
let size = { cols: 0, rows: 0 };
let cell = { w: 8, h: 16 };

function measure() {
  const m = document.getElementById("measure");
  const r = m.getBoundingClientRect();
  cell = { w: r.width / 10, h: r.height };
  return {
    cols: Math.max(2, Math.floor(screenEl.clientWidth / cell.w)),
    rows: Math.max(1, Math.floor(screenEl.clientHeight / cell.h)),
  };
}

function hex(c) {
  return "#" + c.toString(16).padStart(6, "0");
}

function spanEl(s) {
  const [text, , fg, bg, a] = s;
  const e = document.createElement("span");
  e.textContent = text;
  let f = fg, b = bg;
  if (a & 32) { // reverse
    f = bg < 0 ? 0x000000 : bg;
    b = fg < 0 ? 0xe5e5e5 : fg;
  }
  if (f >= 0) e.style.color = hex(f);
  if (b >= 0) e.style.backgroundColor = hex(b);
  if (a & 1) e.style.fontWeight = "bold";
  if (a & 2) e.style.opacity = "0.6";
  if (a & 4) e.style.fontStyle = "italic";
  const deco = [];
  if (a & 8) deco.push("underline");
  if (a & 128) deco.push("line-through");
  if (a & 256) deco.push("overline");
  if (deco.length) e.style.textDecoration = deco.join(" ");
  if (a & 64) e.style.visibility = "hidden";
  return e;
}

function render(f) {
  modes = { cursorKeys: f.cursorKeys, paste: f.paste };
  if (f.full || rowsEl.children.length !== f.rows) {
    const rows = [];
    for (let y = 0; y < f.rows; y++) rows.push(document.createElement("div"));
    rowsEl.replaceChildren(...rows);
  }
  for (const [y, spans] of Object.entries(f.lines || {})) {
    const row = rowsEl.children[Number(y)];
    if (row) row.replaceChildren(...spans.map(spanEl));
  }
  cursorEl.hidden = !f.cursorVisible;
  cursorEl.style.left = f.cursor[0] * cell.w + "px";
  cursorEl.style.top = f.cursor[1] * cell.h + "px";
  cursorEl.style.width = cell.w + "px";
  cursorEl.style.height = cell.h + "px";
  document.title = f.title || document.title;
}

function connect() {
  size = measure();
  const events = new EventSource(base + "/events?cols=" + size.cols + "&rows=" + size.rows);
  events.addEventListener("hello", (e) => {
    id = JSON.parse(e.data).id;
    flush();
    statusEl.textContent = "attached, " + size.cols + "x" + size.rows + "; leave the page to detach";
  });
  events.addEventListener("frame", (e) => render(JSON.parse(e.data)));
  events.addEventListener("end", () => {
    statusEl.textContent = "the session ended";
    events.close();
  });
  events.onerror = () => {
    if (events.readyState === EventSource.CLOSED) statusEl.textContent = "detached";
  };
}

// Keys and resizes go out in order, one POST at a time, over the page's
// own client of the session (its id), so the master gets them in order:
// keys typed while a POST is out are batched, and a resize keeps its place
// between keys (stty typed after a resize sees the new size).
const queue = [];
let sending = false;

function send(text) {
  const last = queue[queue.length - 1];
  if (last && last.keys !== undefined) last.keys += text;
  else queue.push({ keys: text });
  flush();
}

function flush() {
  if (sending || !id || queue.length === 0) return;
  sending = true;
  const item = queue.shift();
  const headers = { "X-Keeper-Token": token };
  const req = item.size
    ? fetch(base + "/resize", { method: "POST", headers: headers,
      body: new URLSearchParams({ id: id, cols: item.size.cols, rows: item.size.rows }) })
    : fetch(base + "/keys?id=" + encodeURIComponent(id), { method: "POST", headers: headers,
      body: new TextEncoder().encode(item.keys) });
  req.then((r) => {
    if (!r.ok) statusEl.textContent = "not sent (" + r.status + "): reload the page";
    else if (item.size) statusEl.textContent = "attached, " + item.size.cols + "x" + item.size.rows + "; leave the page to detach";
  })
    .catch((err) => { statusEl.textContent = "not sent: " + err; })
    .finally(() => { sending = false; flush(); });
}

const named = {
  Enter: "\r", Backspace: "\x7f", Tab: "\t", Escape: "\x1b",
  Insert: "\x1b[2~", Delete: "\x1b[3~", PageUp: "\x1b[5~", PageDown: "\x1b[6~",
  F5: "\x1b[15~", F6: "\x1b[17~", F7: "\x1b[18~", F8: "\x1b[19~",
  F9: "\x1b[20~", F10: "\x1b[21~", F11: "\x1b[23~", F12: "\x1b[24~",
};
const letters = { ArrowUp: "A", ArrowDown: "B", ArrowRight: "C", ArrowLeft: "D", Home: "H", End: "F",
  F1: "P", F2: "Q", F3: "R", F4: "S" };

// keyBytes is what xterm sends for a key event, "" for none.
function keyBytes(e) {
  const mod = 1 + (e.shiftKey ? 1 : 0) + (e.altKey ? 2 : 0) + (e.ctrlKey ? 4 : 0);
  if (letters[e.key]) {
    const l = letters[e.key];
    if (mod > 1) return "\x1b[1;" + mod + l;
    if (/^F/.test(e.key)) return "\x1bO" + l;
    return (modes.cursorKeys ? "\x1bO" : "\x1b[") + l;
  }
  if (named[e.key]) {
    let s = named[e.key];
    if (s.endsWith("~") && mod > 1) s = s.slice(0, -1) + ";" + mod + "~";
    if (e.key === "Tab" && e.shiftKey) s = "\x1b[Z";
    return e.altKey && !s.startsWith("\x1b[") ? "\x1b" + s : s;
  }
  if (e.key.length !== 1 || e.metaKey) return "";
  let s = e.key;
  if (e.ctrlKey) {
    const c = s.toUpperCase().charCodeAt(0);
    if (c >= 64 && c <= 95) s = String.fromCharCode(c - 64);
    else if (s === " " || s === "2") s = "\x00";
    else if (s === "?" || s === "8") s = "\x7f";
    else return "";
  }
  return e.altKey ? "\x1b" + s : s;
}

screenEl.addEventListener("keydown", (e) => {
  const s = keyBytes(e);
  if (s === "") return;
  e.preventDefault();
  send(s);
});

// pasteBytes is what xterm sends for pasted text: lines end in CR, and the
// whole is bracketed when the program asked for it, with any end marker in
// the text dropped so a paste cannot end the bracket early and have the
// rest taken as typed.
function pasteBytes(text) {
  text = text.replace(/\r?\n/g, "\r");
  return modes.paste ? "\x1b[200~" + text.replaceAll("\x1b[201~", "") + "\x1b[201~" : text;
}

screenEl.addEventListener("paste", (e) => {
  e.preventDefault();
  send(pasteBytes(e.clipboardData.getData("text")));
});

let resizeTimer = 0;
new ResizeObserver(() => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    const s = measure();
    if (!id || (s.cols === size.cols && s.rows === size.rows)) return;
    size = s;
    // The status says the new size once the master has it.
    queue.push({ size: s });
    flush();
  }, 100);
}).observe(screenEl);

// Measured once the font is in, or the first size is that of a fallback font.
document.fonts.ready.then(connect);
screenEl.focus();
