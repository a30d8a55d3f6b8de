"""The local Slack page: the approvals channel in a browser, served by the Slack stand-in.

    slack_page.register(cloud)      # then open {cloud.slack.url}/slack

It shows every execution's thread as it now reads (updates applied): the message that started it,
each gate with its Approve/Reject buttons, reminders and escalations, each main step finished, and
the end; ephemeral answers under the message they answer, and an "act as" chooser. A click is
turned into exactly what Slack would send: a signed `block_actions` payload to the real callback
function (`wavectl.local.gates.click`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from wavectl.local import gates
from wavectl.local.slack import SlackRequest, SlackResponse

if TYPE_CHECKING:
    from wavectl.local.engine import LocalCloud

PAGE_PATH, STATE_PATH, CLICK_PATH = "/slack", "/slack/state.json", "/slack/click"


def register(cloud: LocalCloud) -> str:
    """Serve the page on the cloud's Slack stand-in; its URL."""
    cloud.slack.add_route("GET", PAGE_PATH, lambda _request: _page(cloud))
    cloud.slack.add_route("GET", STATE_PATH, lambda _request: SlackResponse.of_json(channel_state(cloud)))
    cloud.slack.add_route("POST", CLICK_PATH, lambda request: _click(cloud, request))
    return cloud.slack.url + PAGE_PATH


def people(cloud: LocalCloud) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for group, members in cloud.runbook.program.approvers.items():
        for member in members:
            entry = seen.setdefault(
                member.slack, {"id": member.slack, "name": member.name or member.slack, "groups": []}
            )
            entry["groups"].append(group)
    return list(seen.values())


def channel_state(cloud: LocalCloud) -> dict[str, Any]:
    channel = cloud.runbook.program.slack.channel
    messages = cloud.slack.messages(channel)
    notes = [
        e
        for e in cloud.slack.events()
        if e.get("kind") == "response" and e.get("response_type") == "ephemeral"
    ]
    return {
        "channel": channel,
        "people": people(cloud),
        "messages": [m for m in messages if not m.get("thread_ts")],
        "replies": [m for m in messages if m.get("thread_ts")],
        "ephemeral": notes,
    }


def _click(cloud: LocalCloud, request: SlackRequest) -> SlackResponse:
    body = request.json()
    if body.get("action") not in ("approve", "reject") or not body.get("approval_id") or not body.get("user"):
        return SlackResponse.of_json({"ok": False, "error": "approval_id, action and user are required"}, 400)
    response = gates.click(cloud, body["approval_id"], body["user"], body["action"])
    return SlackResponse.of_json(
        {"ok": True, "status": response.get("statusCode"), "body": response.get("body")}
    )


def _page(cloud: LocalCloud) -> SlackResponse:
    title = f"#{cloud.runbook.program.slack.channel} · {cloud.runbook.program.program} (local Slack)"
    html = PAGE.replace("__TITLE__", json.dumps(title)[1:-1])
    return SlackResponse(body=html.encode(), content_type="text/html; charset=utf-8")


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<style>
 body{font-family:system-ui,sans-serif;margin:0;background:#f8f8f8;color:#1d1c1d}
 header{background:#3f0e40;color:#fff;padding:10px 16px;display:flex;gap:16px;align-items:center}
 header h1{font-size:16px;margin:0;flex:1}
 main{max-width:860px;margin:16px auto;padding:0 12px}
 .msg{background:#fff;border:1px solid #ddd;border-radius:6px;padding:12px 14px;margin-bottom:12px}
 .msg h2{font-size:15px;margin:0 0 6px}
 .fields{display:grid;grid-template-columns:1fr 1fr;gap:4px 16px;margin:8px 0;font-size:13px}
 .ctx{color:#616061;font-size:13px;margin:6px 0}
 button{padding:6px 14px;border-radius:4px;border:1px solid #bbb;background:#fff;cursor:pointer;
        margin-right:6px}
 button.primary{background:#007a5a;color:#fff;border-color:#007a5a}
 button.danger{background:#e01e5a;color:#fff;border-color:#e01e5a}
 .thread{border-left:3px solid #ddd;margin:8px 0 0 4px;padding-left:10px;font-size:13px}
 .reply{padding:6px 0;border-top:1px solid #eee}
 .broadcast{color:#616061;font-size:12px}
 .ephemeral{background:#fff8e1;border:1px dashed #e0b100;padding:6px 8px;font-size:13px;margin-top:8px}
 .empty{color:#616061}
</style></head>
<body>
<header><h1 id="title">__TITLE__</h1>
 <label>act as approver <select id="actor" data-testid="actor"></select></label></header>
<main id="channel"><p class="empty">No messages yet.</p></main>
<script>
const state = {people: [], data: null};
const EMOJI = {white_check_mark: "\\u2705", x: "\\u274c", hourglass: "\\u231b",
  warning: "\\u26a0\\ufe0f", checkered_flag: "\\u{1F3C1}", octagonal_sign: "\\u{1F6D1}",
  grey_question: "\\u2754", bell: "\\u{1F514}", arrow_forward: "\\u25b6\\ufe0f"};
const ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"};
const esc = s => String(s ?? "").replace(/[&<>"]/g, c => ENTITIES[c]);
function mrkdwn(text) {
  let html = esc(text);
  html = html.replace(/&lt;@([UW][A-Z0-9]+)&gt;/g, (_, id) => {
    const p = state.people.find(x => x.id === id); return "<b>@" + esc(p ? p.name : id) + "</b>"; });
  html = html.replace(/:([a-z_]+):/g, (all, name) => EMOJI[name] || all);
  return html.replace(/\\*([^*]+)\\*/g, "<b>$1</b>").replace(/`([^`]+)`/g, "<code>$1</code>")
    .replace(/\\n/g, "<br>");
}
function blockHtml(b, msg) {
  if (b.type === "header") return "<h2>" + esc(b.text.text) + "</h2>";
  if (b.type === "section" && b.fields)
    return '<div class="fields">' + b.fields.map(f => "<div>" + mrkdwn(f.text) + "</div>").join("") +
      "</div>";
  if (b.type === "section") return "<div>" + mrkdwn(b.text.text) + "</div>";
  if (b.type === "context")
    return '<div class="ctx">' + b.elements.map(e => mrkdwn(e.text)).join(" ") + "</div>";
  if (b.type === "actions") return "<div>" + b.elements.map(e => {
    const action = e.action_id === "wavectl_approve" ? "approve" : "reject";
    return '<button class="' + esc(e.style || "") + '" data-action="' + action + '" data-approval="' +
      esc(e.value) + '" data-ts="' + esc(msg.ts) + '">' + esc(e.text.text) + "</button>";
  }).join("") + "</div>";
  return "";
}
function notesOf(data, m) {
  return data.ephemeral.filter(e => e.ts === m.ts).slice(-1)
    .map(e => '<div class="ephemeral">Only visible to you: ' + mrkdwn(e.text) + "</div>").join("");
}
function bodyOf(m) { return (m.blocks || []).map(b => blockHtml(b, m)).join("") || mrkdwn(m.text); }
function render(data) {
  const root = document.getElementById("channel");
  if (!data.messages.length) { root.innerHTML = '<p class="empty">No messages yet.</p>'; return; }
  root.innerHTML = data.messages.map(m => {
    const replies = data.replies.filter(r => r.thread_ts === m.ts)
      .map(r => '<div class="reply" data-ts="' + esc(r.ts) + '">' + bodyOf(r) +
        (r.reply_broadcast ? '<div class="broadcast">also sent to the channel</div>' : "") +
        notesOf(data, r) + "</div>").join("");
    return '<div class="msg" data-ts="' + esc(m.ts) + '">' + bodyOf(m) +
      (replies ? '<div class="thread">' + replies + "</div>" : "") + notesOf(data, m) + "</div>";
  }).join("");
}
async function refresh() {
  const data = await (await fetch("/slack/state.json")).json();
  if (!state.people.length) {
    state.people = data.people;
    document.getElementById("actor").innerHTML = data.people.map(p =>
      '<option value="' + esc(p.id) + '">' + esc(p.name) + " (" + esc(p.groups.join(", ")) +
      ")</option>").join("");
  }
  const text = JSON.stringify(data);
  if (text !== state.data) { state.data = text; render(data); }
}
document.addEventListener("click", async ev => {
  const button = ev.target.closest("button[data-action]");
  if (!button) return;
  const question = "Reject this gate? The wave stops and compensates.";
  if (button.dataset.action === "reject" && !confirm(question)) return;
  button.disabled = true;
  await fetch("/slack/click", {method: "POST", headers: {"content-type": "application/json"},
    body: JSON.stringify({approval_id: button.dataset.approval, action: button.dataset.action,
                          user: document.getElementById("actor").value})});
  await refresh();
});
refresh(); setInterval(refresh, 500);
</script></body></html>
"""
