// keeper's status page: the server renders the table; this script keeps it
// current from /events, sends the buttons' forms without leaving the page,
// and follows a program's log. Every name and log line is set as text.
"use strict";

const token = document.querySelector('meta[name="keeper-token"]').content;
const tbody = document.querySelector("#programs tbody");
const message = document.getElementById("message");

function el(tag, props, ...children) {
  const e = document.createElement(tag);
  Object.assign(e, props || {});
  for (const c of children) e.append(c);
  return e;
}

function hidden(name, value) {
  return el("input", { type: "hidden", name: name, value: value });
}

function button(action, label) {
  return el("button", { name: "action", value: action, textContent: label });
}

function actionForm(fields, ...controls) {
  const form = el("form", { method: "post", action: "/action" }, hidden("token", token));
  for (const [k, v] of Object.entries(fields)) form.append(hidden(k, v));
  form.append(...controls);
  return form;
}

function programRow(p, attach) {
  const controls = p.running
    ? [button("stop", "Stop"), button("restart", "Restart")]
    : [button("start", "Start")];
  controls.push(button("clear", "Clear log"));
  controls.push(el("a", { className: "tail", href: "/logtail/" + encodeURIComponent(p.namespec), textContent: "Tail" }));
  if (attach && p.terminal) {
    controls.push(el("a", { className: "open", href: "/program/" + encodeURIComponent(p.namespec), textContent: "Open" }));
  }
  const tr = el("tr", { className: "program" },
    el("td", { className: "name", textContent: p.namespec }),
    el("td", { className: "state state-" + p.state, textContent: p.state }),
    el("td", { className: "description", textContent: p.description }),
    el("td", { className: "cpu", textContent: p.cpu }),
    el("td", { className: "memory", textContent: p.memory }),
    el("td", { className: "actions" }, actionForm({ name: p.namespec }, ...controls)));
  tr.dataset.namespec = p.namespec;
  return tr;
}

function sessionRow(p, s, attach) {
  const controls = [button("kill", "Kill")];
  if (attach) {
    controls.push(el("a", { className: "open", textContent: "Open",
      href: "/session/" + encodeURIComponent(p.namespec) + "/" + encodeURIComponent(s.name) }));
  }
  const tr = el("tr", { className: "session" },
    el("td", { className: "name", textContent: "\u2514 " + s.name }),
    el("td", { className: "state", textContent: s.state }),
    el("td", { className: "description", textContent: s.clients + " clients, up " + s.age }),
    el("td", { className: "cpu", textContent: s.cpu }),
    el("td", { className: "memory", textContent: s.memory }),
    el("td", { className: "actions" }, actionForm({ name: p.namespec, session: s.name }, ...controls)));
  tr.dataset.namespec = p.namespec;
  return tr;
}

function render(status) {
  const rows = [];
  for (const p of status.programs || []) {
    rows.push(programRow(p, status.attach));
    for (const s of p.sessions || []) rows.push(sessionRow(p, s, status.attach));
  }
  tbody.replaceChildren(...rows);
}

function connect() {
  const events = new EventSource("/events");
  events.onmessage = (e) => render(JSON.parse(e.data));
  events.onerror = () => {
    message.textContent = "lost the connection to keeper; retrying";
  };
  events.onopen = () => {
    if (message.textContent.startsWith("lost the connection")) message.textContent = "";
  };
}

document.addEventListener("submit", async (e) => {
  const form = e.target;
  if (form.getAttribute("action") !== "/action") return;
  e.preventDefault();
  const body = new URLSearchParams(new FormData(form, e.submitter));
  message.textContent = "…";
  try {
    const resp = await fetch("/action", { method: "POST", headers: { "X-Keeper-Web": "1" }, body: body });
    const answer = await resp.json().catch(() => ({ message: resp.status + " " + resp.statusText }));
    message.textContent = answer.message;
  } catch (err) {
    message.textContent = "the action failed: " + err;
  }
});

// The tail follows /logtail/NAME, as tail -f, keeping the last 64 KiB.
let tailing = null;
const tailText = document.getElementById("tail-text");

async function follow(href, name) {
  if (tailing) tailing.abort();
  tailing = new AbortController();
  document.getElementById("tail").hidden = false;
  document.getElementById("tail-name").textContent = name;
  tailText.textContent = "";
  try {
    const resp = await fetch(href, { signal: tailing.signal });
    if (!resp.ok) {
      tailText.textContent = resp.status + " " + resp.statusText;
      return;
    }
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const atEnd = tailText.scrollTop + tailText.clientHeight >= tailText.scrollHeight - 4;
      tailText.textContent = (tailText.textContent + value).slice(-65536);
      if (atEnd) tailText.scrollTop = tailText.scrollHeight;
    }
  } catch (err) {
    if (err.name !== "AbortError") tailText.textContent += "\n[" + err + "]";
  }
}

document.addEventListener("click", (e) => {
  const a = e.target.closest("a.tail");
  if (!a) return;
  e.preventDefault();
  follow(a.getAttribute("href"), a.closest("tr").dataset.namespec);
});

document.getElementById("tail-close").addEventListener("click", () => {
  if (tailing) tailing.abort();
  tailing = null;
  document.getElementById("tail").hidden = true;
});

connect();
