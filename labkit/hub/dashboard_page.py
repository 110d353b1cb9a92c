"""The dashboard's one page: the grid drawn on the server, then redrawn from status.json.

Per learner: each step (headed by its title in the class language), the score, the step
they are on and for how long (marked past the threshold, which the trainer may change in
the page), the message of the check that fails there, and a button that resets their lab
after a confirmation.  Everything a learner can name (their name, their snapshot names
inside messages) is escaped: html.escape on the server, textContent (never innerHTML) in
the browser; messages come bounded from status.json.
"""
from __future__ import annotations

import html
import json
from typing import Any

from ..classroom.progress import NOT_STARTED
from ..i18n import M

SYMBOL = {"passed": "✔", "failed": "✘", "not_verified": "?", "todo": "·", "not_started": NOT_STARTED}

STYLE = """
body { font-family: "DejaVu Sans", system-ui, sans-serif; margin: 1.5rem; color: #1f2328; background: #fff; }
h1 { font-size: 1.3rem; margin: 0 0 .3rem; }
.meta { color: #57606a; font-size: .9rem; margin-bottom: 1rem; }
table { border-collapse: collapse; }
th, td { border: 1px solid #d0d7de; padding: .3rem .6rem; text-align: center; }
thead th, tr.head th { font-size: .8rem; max-width: 8rem; }
th.learner, td.learner { text-align: left; font-weight: 600; }
td.passed { background: #dafbe1; color: #116329; }
td.failed { background: #ffebe9; color: #a40e26; }
td.not_verified { background: #fff8c5; color: #7d4e00; }
td.todo { background: #f6f8fa; color: #57606a; }
td.not_started { background: #f6f8fa; color: #0550ae; }
td.failure { text-align: left; font-size: .8rem; max-width: 22rem; color: #a40e26; }
tr.stuck td.now, tr.stuck td.for { background: #ffebe9; color: #a40e26; font-weight: 600; }
td.for { white-space: nowrap; }
ul.common li { margin: .3rem 0; }
.error { color: #a40e26; }
.notice { color: #116329; }
"""

SCRIPT = """
const labels = JSON.parse(document.getElementById('labels').textContent);
const xsrf = document.querySelector('meta[name=xsrf]').content;
const symbol = SYMBOLS;
const stuckInput = document.getElementById('stuck-minutes');
const kept = Number(localStorage.getItem('labkit-stuck-minutes'));
if (kept >= 1) stuckInput.value = kept;
stuckInput.addEventListener('change', () => {
  localStorage.setItem('labkit-stuck-minutes', stuckInput.value); refresh();
});
let latest = null;
function cell(tag, text, cls) {
  const c = document.createElement(tag); c.textContent = text; if (cls) c.className = cls; return c;
}
function duration(seconds) {
  if (seconds === null || seconds === undefined) return '';
  const m = Math.floor(seconds / 60), s = seconds % 60;
  return m ? m + '\\u00a0min ' + String(s).padStart(2, '0') + '\\u00a0s' : s + '\\u00a0s';
}
function shown(s) {
  if (s.shown) return s.shown;
  return s.status === 'failed' && (s.diagnosis || '').startsWith('order:') ? 'todo' : s.status;
}
function draw(data) {
  latest = data;
  const minutes = Number(stuckInput.value) || data.stuck_after_seconds / 60;
  const titles = data.step_titles || data.steps;
  const table = document.getElementById('grid');
  const head = document.createElement('tr'); head.className = 'head';
  head.append(cell('th', labels.learner, 'learner'), ...titles.map((t, i) => cell('th', (i + 1) + '. ' + t)),
              cell('th', labels.score), cell('th', labels.now_on), cell('th', labels.for),
              cell('th', labels.last_failure), cell('th', ''));
  const rows = data.learners.map(l => {
    const tr = document.createElement('tr'); tr.dataset.learner = l.learner;
    tr.append(cell('td', l.learner, 'learner'));
    for (const s of l.steps) {
      const state = shown(s);
      const td = cell('td', symbol[state] || '?', state);
      td.dataset.step = s.id; td.dataset.status = state; td.title = s.message || '';
      tr.append(td);
    }
    tr.append(cell('td', l.score.earned + '/' + l.score.possible, 'score'));
    const current = l.current || null;
    const stuck = current !== null && current.seconds !== null && current.seconds >= minutes * 60;
    const now = l.not_started ? labels.not_started : current ? current.title : (l.alert ? '' : labels.done);
    const nowCell = cell('td', now, 'now'); if (current) nowCell.dataset.current = current.step;
    const forCell = cell('td', current ? duration(current.seconds) + (stuck ? ' ⚠ ' + labels.stuck : '') : '', 'for');
    tr.append(nowCell, forCell, cell('td', l.last_failure ? l.last_failure.message : '', 'failure'));
    if (stuck) tr.classList.add('stuck');
    tr.dataset.stuck = stuck ? 'true' : 'false';
    const button = cell('button', labels.reset, 'reset'); button.type = 'button'; button.dataset.learner = l.learner;
    const actions = document.createElement('td'); actions.append(button); tr.append(actions);
    return tr;
  });
  table.replaceChildren(head, ...rows);
  const common = document.getElementById('common');
  common.replaceChildren(...data.summary.filter(s => s.most_common).map(s => {
    const li = cell('li', (s.title || s.id) + ' — ' + s.most_common.count + '/' + data.learners.length
                    + ' — ' + s.most_common.message);
    if (s.most_common.hint) li.append(cell('div', labels.hint + ' ' + s.most_common.hint, 'hint'));
    return li;
  }));
  if (!common.children.length) common.append(cell('li', labels.none));
  document.getElementById('updated').textContent = new Date(data.taken_at).toLocaleTimeString();
  document.getElementById('error').textContent = '';
}
async function refresh() {
  try {
    const r = await fetch('status.json', {cache: 'no-store', credentials: 'same-origin',
                                          headers: {'X-XSRFToken': xsrf}});
    const data = await r.json();
    if (r.ok) draw(data); else document.getElementById('error').textContent = data.error || r.status;
  } catch (e) { document.getElementById('error').textContent = String(e); }
}
async function reset(learner) {
  if (!window.confirm(labels.reset_confirm.split('{learner}').join(learner))) return;
  const notice = document.getElementById('notice');
  notice.textContent = labels.resetting.split('{learner}').join(learner);
  try {
    const r = await fetch('reset', {method: 'POST', cache: 'no-store', credentials: 'same-origin',
                                    headers: {'X-XSRFToken': xsrf, 'Content-Type': 'application/json'},
                                    body: JSON.stringify({learner: learner})});
    const data = await r.json().catch(() => ({}));
    if (r.ok) { notice.textContent = data.message; refresh(); }
    else { notice.textContent = ''; document.getElementById('error').textContent = data.error || r.status; }
  } catch (e) { notice.textContent = ''; document.getElementById('error').textContent = String(e); }
}
document.getElementById('grid').addEventListener('click', event => {
  const button = event.target.closest('button.reset');
  if (button) reset(button.dataset.learner);
});
setInterval(refresh, REFRESH_MS);
refresh();
"""


def texts(lang: str) -> dict[str, str]:
    return {key: message.render(lang) for key, message in (
        ("learner", M("class.status.learner", "Learner")), ("score", M("class.status.score", "Score")),
        ("hint", M("hub.dashboard.hint", "Hint:")), ("none", M("hub.dashboard.none", "No common mistake right now.")),
        ("common", M("hub.dashboard.common", "Most common mistake per step")),
        ("updated", M("hub.dashboard.updated", "Updated at")), ("reports", M("hub.dashboard.reports", "Reports:")),
        ("report_html", M("hub.dashboard.report_html", "HTML page")),
        ("report_csv", M("hub.dashboard.report_csv", "CSV for the LMS")),
        ("legend", M("class.status.legend_started",
                     "✔ passed   ✘ failed   ? not verified   · not reached (an earlier step is not done yet)   "
                     "○ not started (nothing done since the class was created)")),
        ("now_on", M("class.status.now_on", "Now on")), ("for", M("class.status.for", "For")),
        ("last_failure", M("hub.dashboard.last_failure", "What fails")),
        ("not_started", M("class.status.not_started", "not started")), ("done", M("class.status.done", "all done")),
        ("stuck", M("hub.dashboard.stuck", "stuck")),
        ("stuck_minutes", M("hub.dashboard.stuck_minutes", "Stuck after (minutes on one step):")),
        ("reset", M("hub.dashboard.reset", "Reset")),
        ("reset_confirm", M("hub.dashboard.reset_confirm", "Reset the lab of {learner}? Their instance goes back to "
                                                           "the chapter's start and a new attempt begins; what they "
                                                           "did in it is lost.")),
        ("resetting", M("hub.dashboard.resetting", "Resetting the lab of {learner}…")))}


def page_html(cls: str, lang: str, latest: dict[str, Any] | None, refresh_seconds: float, xsrf: str = "",
              stuck_minutes: float = 10.0) -> str:
    e = html.escape
    text = texts(lang)
    title = M("hub.dashboard.title", "Class “{name}”: live progress", name=cls).render(lang)
    rows = ""
    if latest:
        titles = latest.get("step_titles") or latest["steps"]
        rows = (f'<tr class="head"><th class="learner">{e(text["learner"])}</th>'
                + "".join(f"<th>{i}. {e(t)}</th>" for i, t in enumerate(titles, 1))
                + "".join(f"<th>{e(text[k])}</th>" for k in ("score", "now_on", "for", "last_failure"))
                + "<th></th></tr>")
        rows += "".join(_row(learner, text) for learner in latest["learners"])
    labels = json.dumps({k: text[k] for k in ("learner", "score", "hint", "none", "now_on", "for", "last_failure",
                                              "not_started", "done", "stuck", "reset", "reset_confirm", "resetting")},
                        ensure_ascii=False)
    labels = labels.replace("<", "\\u003c")  # safe inside a <script> element
    script = (SCRIPT.replace("REFRESH_MS", str(int(refresh_seconds * 1000)))
              .replace("SYMBOLS", json.dumps(SYMBOL, ensure_ascii=False)))
    return f"""<!DOCTYPE html>
<html lang="{e(lang)}"><head><meta charset="utf-8"><meta name="xsrf" content="{e(xsrf)}">\
<title>{e(title)}</title><style>{STYLE}</style></head>
<body>
<h1>{e(title)}</h1>
<p class="meta">{e(text["updated"])} <span id="updated">…</span> · {e(text["reports"])}
 <a href="report.html" target="_blank">{e(text["report_html"])}</a> · <a href="report.csv">{e(text["report_csv"])}</a>
 · <label>{e(text["stuck_minutes"])} <input id="stuck-minutes" type="number" min="1" step="1" \
value="{stuck_minutes:g}" style="width:4em"></label></p>
<p id="notice" class="notice" role="status"></p>
<table id="grid">{rows}</table>
<p class="meta">{e(text["legend"])}</p>
<h2>{e(text["common"])}</h2>
<ul id="common" class="common"></ul>
<p id="error" class="error" role="alert"></p>
<script type="application/json" id="labels">{labels}</script>
<script>{script}</script>
</body></html>
"""


def _row(learner: dict[str, Any], text: dict[str, str]) -> str:
    """One learner's row as the script draws it (before its first refresh)."""
    e = html.escape
    cells = ""
    for s in learner["steps"]:
        state = s.get("shown") or s["status"]
        cells += (f'<td class="{e(state)}" data-step="{e(s["id"])}" data-status="{e(state)}">'
                  f'{SYMBOL.get(state, "?")}</td>')
    score, current, failure = learner["score"], learner.get("current"), learner.get("last_failure")
    now = text["not_started"] if learner.get("not_started") else current["title"] if current else ""
    took = ("" if not current or current.get("seconds") is None
            else f'{current["seconds"] // 60}\u00a0min {current["seconds"] % 60:02d}\u00a0s')
    stuck = bool(current and current.get("stuck"))
    mark = ' class="stuck"' if stuck else ""
    return (f'<tr data-learner="{e(learner["learner"])}"{mark}><td class="learner">{e(learner["learner"])}</td>{cells}'
            f'<td class="score">{score["earned"]}/{score["possible"]}</td><td class="now">{e(now)}</td>'
            f'<td class="for">{e(took)}{" ⚠ " + e(text["stuck"]) if stuck else ""}</td>'
            f'<td class="failure">{e(failure["message"]) if failure else ""}</td>'
            f'<td><button type="button" class="reset" data-learner="{e(learner["learner"])}">'
            f'{e(text["reset"])}</button></td></tr>')
