// The chat page: streams a diagnosis from /diagnose/stream (LangServe, server-sent events) and
// renders it; follow-ups go to the same thread. No framework, no build step; server data is
// only ever inserted as text, never as HTML.

const $ = (id) => document.getElementById(id);
const conversation = $("conversation");
const form = $("ask");
const message = $("message");
const send = $("send");

const STEP_TEXT = {
  classified: (e) => `classified: ${e.hypotheses.map((h) => `${h.category} ${h.score}`).join(", ") || "no known pattern"}`,
  objects_read: (e) => `read ${e.objects.length} objects and ${e.logs.length} logs (${e.api_requests} API requests)` + (e.loop ? `, loop ${e.loop}` : ""),
  runbooks_found: (e) => `runbooks: ${e.runbooks.map((r) => r.id).join(", ") || "none"}`,
  analysis: (e) => `analysis (${e.mode}): ${e.findings.map((f) => `${f.category} ${f.score}`).join(", ") || "no finding"}`,
  critic: (e) => `critic: ${e.verdict}` + (e.fetch.length ? ` (wants ${e.fetch.length} more reads)` : ""),
};

let threadId = newThreadId();

function newThreadId() {
  const random = (crypto.randomUUID && crypto.randomUUID()) || String(Date.now()) + Math.random().toString(16).slice(2);
  return "chat-" + random;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function headers() {
  const h = { "Content-Type": "application/json", Accept: "text/event-stream" };
  const key = sessionStorage.getItem("idp-api-key");
  if (key) h["X-API-Key"] = key;
  return h;
}

async function copyText(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // Clipboard API refused (no permission): select-and-copy still works in a user gesture.
    const area = el("textarea", {});
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  button.textContent = "Copied";
  button.dataset.copied = "true";
  setTimeout(() => { button.textContent = "Copy"; }, 1500);
}

function commandList(commands) {
  const box = el("div", { class: "commands", "data-testid": "fix-commands" });
  for (const command of commands) {
    const button = el("button", { type: "button", class: "copy", text: "Copy", "data-testid": "copy" });
    button.addEventListener("click", () => copyText(command, button));
    box.append(el("div", { class: "command" }, el("code", { text: command }), button));
  }
  return box;
}

function evidenceList(lines) {
  const list = el("ul", { class: "evidence", "data-testid": "evidence" });
  for (const line of lines) {
    const match = line.match(/^(.*) \[source: (.*)\]$/);
    list.append(match ? el("li", {}, match[1] + " ", el("span", { class: "source", text: `[${match[2]}]` })) : el("li", { text: line }));
  }
  return list;
}

function runbookLinks(runbooks) {
  const box = el("div", { class: "runbooks", "data-testid": "runbooks" });
  for (const book of runbooks) {
    const link = el("a", { href: `/runbooks/${encodeURIComponent(book.id)}`, text: book.title, "data-runbook": book.id });
    link.addEventListener("click", (event) => { event.preventDefault(); showRunbook(book.id, box); });
    box.append(link);
  }
  return box;
}

async function showRunbook(id, box) {
  const old = box.querySelector(".runbook-doc");
  if (old) { old.remove(); if (old.dataset.id === id) return; }
  const doc = el("div", { class: "runbook-doc", "data-id": id, text: "loading…" });
  box.append(doc);
  const response = await fetch(`/runbooks/${encodeURIComponent(id)}`, { headers: headers() });
  if (!response.ok) { doc.textContent = `could not load the runbook (${response.status})`; return; }
  const book = await response.json();
  doc.textContent = book.sections.map((s) => `## ${s.heading}\n${s.text}`).join("\n\n");
}

function renderDiagnosis(card, d) {
  card.append(
    el("div", {},
      el("span", { class: "category", "data-testid": "category", text: d.category }),
      el("span", { class: "confidence", text: `confidence ${d.confidence.toFixed(2)} · ${d.mode} · ${d.api_requests} API requests` })),
    el("p", { class: "root-cause", "data-testid": "root-cause", text: d.root_cause }),
  );
  if (d.evidence.length) card.append(el("h3", { text: "Evidence" }), evidenceList(d.evidence));
  if (d.fix_commands.length) card.append(el("h3", { text: "Fix (review, then run)" }), commandList(d.fix_commands));
  if (d.runbooks.length) card.append(el("h3", { text: "Runbooks" }), runbookLinks(d.runbooks));
  if (d.missing_data.length) {
    const list = el("ul", { class: "evidence" });
    for (const m of d.missing_data) list.append(el("li", { text: `${m.what}: ${m.reason}` }));
    card.append(el("h3", { text: "Could not establish" }), list);
  }
}

function renderAnswer(card, answer) {
  card.append(el("p", { class: "answer-text", "data-testid": "answer", "data-intent": answer.intent, text: answer.text }));
  if (!answer.items.length) return;
  if (answer.intent === "fix" || answer.intent === "what_if") card.append(commandList(answer.items));
  else if (answer.intent === "evidence" || answer.intent === "root_cause") card.append(evidenceList(answer.items));
  else {
    const list = el("ul", { class: "evidence" });
    for (const item of answer.items) list.append(el("li", { text: item }));
    card.append(list);
  }
}

async function* serverSentEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trim());
      }
      yield { name, data: data.length ? JSON.parse(data.join("\n")) : null };
    }
  }
}

async function ask(text) {
  const input = { error_message: text };
  const namespace = $("namespace").value.trim();
  const pod = $("pod").value.trim();
  if (namespace) input.namespace = namespace;
  if (pod) input.pod = pod;
  conversation.append(el("div", { class: "msg user", text }));
  const card = el("div", { class: "msg assistant", "data-testid": "reply" });
  const progress = el("ul", { class: "progress", "data-testid": "progress" });
  card.append(progress);
  conversation.append(card);
  card.scrollIntoView({ block: "end" });

  const response = await fetch("/diagnose/stream", {
    method: "POST",
    headers: headers(),
    body: JSON.stringify({ input, config: { configurable: { thread_id: threadId } } }),
  });
  if (response.status === 401) {
    $("key-row").hidden = false;
    throw new Error("this server needs an API key: enter it above and send again");
  }
  if (!response.ok) {
    let detail = `${response.status}`;
    try { detail = (await response.json()).detail || detail; } catch { /* not JSON */ }
    throw new Error(detail);
  }
  for await (const { name, data } of serverSentEvents(response)) {
    if (name === "error") throw new Error(data && data.message ? data.message : "the diagnosis failed");
    if (name !== "data" || !data) continue;
    if (data.event === "error") throw new Error(data.detail);
    if (STEP_TEXT[data.event]) progress.append(el("li", { text: STEP_TEXT[data.event](data) }));
    else if (data.event === "diagnosis") { progress.hidden = true; renderDiagnosis(card, data.diagnosis); }
    else if (data.event === "answer") { progress.hidden = true; renderAnswer(card, data.answer); }
    card.scrollIntoView({ block: "end" });
  }
  $("suggestions").hidden = false;
  send.textContent = "Send";
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = message.value.trim();
  if (!text) return;
  const key = $("api-key").value.trim();
  if (key) sessionStorage.setItem("idp-api-key", key);
  send.disabled = true;
  $("intro")?.remove();
  try {
    await ask(text);
    message.value = "";
  } catch (error) {
    conversation.append(el("div", { class: "msg error", "data-testid": "error", text: String(error.message || error) }));
  } finally {
    send.disabled = false;
    message.focus();
  }
});

message.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
});

for (const chip of document.querySelectorAll(".chip")) {
  chip.addEventListener("click", () => { message.value = chip.textContent; form.requestSubmit(); });
}

$("new-thread").addEventListener("click", () => {
  threadId = newThreadId();
  conversation.replaceChildren();
  $("suggestions").hidden = true;
  send.textContent = "Diagnose";
});

fetch("/ready").then((r) => r.json()).then((ready) => {
  $("status").textContent = `${ready.ready ? "ready" : "not ready"} · cluster ${ready.cluster_source} · model ${ready.model}`;
}).catch(() => { $("status").textContent = "server unreachable"; });
