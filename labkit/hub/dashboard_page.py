"""The dashboard's one page: the grid drawn on the server, then redrawn from status.json.

Everything a learner can name (their name, their snapshot names inside messages) is
escaped: html.escape on the server, textContent (never innerHTML) in the browser.
"""
from __future__ import annotations

import html
import json
from typing import Any

from ..i18n import M

SYMBOL = {"passed": "✔", "failed": "✘", "not_verified": "?"}

STYLE = """
body { font-family: "DejaVu Sans", system-ui, sans-serif; margin: 1.5rem; color: #1f2328; background: #fff; }
h1 { font-size: 1.3rem; margin: 0 0 .3rem; }
.meta { color: #57606a; font-size: .9rem; margin-bottom: 1rem; }
table { border-collapse: collapse; }
th, td { border: 1px solid #d0d7de; padding: .3rem .6rem; text-align: center; }
th.learner, td.learner { text-align: left; font-weight: 600; }
td.passed { background: #dafbe1; color: #116329; }
td.failed { background: #ffebe9; color: #a40e26; }
td.not-verified { background: #fff8c5; color: #7d4e00; }
td.todo { background: #f6f8fa; color: #57606a; }
ul.common li { margin: .3rem 0; }
.error { color: #a40e26; }
"""

SCRIPT = """
const labels = JSON.parse(document.getElementById('labels').textContent);
const xsrf = document.querySelector('meta[name=xsrf]').content;
const symbol = {passed: '✔', failed: '✘', not_verified: '?'};
const klass = {passed: 'passed', failed: 'failed', not_verified: 'not-verified'};
function cell(tag, text, cls) { const c = document.createElement(tag); c.textContent = text; if (cls) c.className = cls; return c; }
function draw(data) {
  const table = document.getElementById('grid');
  const head = document.createElement('tr');
  head.append(cell('th', labels.learner, 'learner'), ...data.steps.map(s => cell('th', s)), cell('th', labels.score));
  const rows = data.learners.map(l => {
    const tr = document.createElement('tr'); tr.dataset.learner = l.learner;
    tr.append(cell('td', l.learner, 'learner'));
    for (const s of l.steps) {
      const todo = s.status === 'failed' && (s.diagnosis || '').startsWith('order:');
      const td = cell('td', todo ? '·' : symbol[s.status], todo ? 'todo' : klass[s.status]);
      td.dataset.step = s.id; td.dataset.status = todo ? 'todo' : s.status; td.title = s.message || '';
      tr.append(td);
    }
    tr.append(cell('td', l.score.earned + '/' + l.score.possible, 'score'));
    return tr;
  });
  table.replaceChildren(head, ...rows);
  const common = document.getElementById('common');
  common.replaceChildren(...data.summary.filter(s => s.most_common).map(s => {
    const li = cell('li', s.id + ' — ' + s.most_common.count + '/' + data.learners.length + ' — ' + s.most_common.message);
    if (s.most_common.hint) li.append(cell('div', labels.hint + ' ' + s.most_common.hint, 'hint'));
    return li;
  }));
  if (!common.children.length) common.append(cell('li', labels.none));
  document.getElementById('updated').textContent = new Date(data.taken_at).toLocaleTimeString();
  document.getElementById('error').textContent = '';
}
async function refresh() {
  try {
    const r = await fetch('status.json', {cache: 'no-store', credentials: 'same-origin', headers: {'X-XSRFToken': xsrf}});
    const data = await r.json();
    if (r.ok) draw(data); else document.getElementById('error').textContent = data.error || r.status;
  } catch (e) { document.getElementById('error').textContent = String(e); }
}
setInterval(refresh, REFRESH_MS);
refresh();
"""


def page_html(cls: str, lang: str, latest: dict[str, Any] | None, refresh_seconds: float, xsrf: str = "") -> str:
    e = html.escape
    text = {key: message.render(lang) for key, message in (
        ("learner", M("class.status.learner", "Learner")), ("score", M("class.status.score", "Score")),
        ("hint", M("hub.dashboard.hint", "Hint:")), ("none", M("hub.dashboard.none", "No common mistake right now.")),
        ("common", M("hub.dashboard.common", "Most common mistake per step")),
        ("updated", M("hub.dashboard.updated", "Updated at")), ("reports", M("hub.dashboard.reports", "Reports:")),
        ("report_html", M("hub.dashboard.report_html", "HTML page")),
        ("report_csv", M("hub.dashboard.report_csv", "CSV for the LMS")),
        ("legend", M("class.status.legend", "✔ passed   ✘ failed   ? not verified   · not reached (an earlier step is not done yet)")))}
    title = M("hub.dashboard.title", "Class “{name}”: live progress", name=cls).render(lang)
    rows = ""
    if latest:
        head = f'<tr><th class="learner">{e(text["learner"])}</th>' + "".join(f"<th>{e(s)}</th>" for s in latest["steps"])
        rows = head + f"<th>{e(text['score'])}</th></tr>"
        for learner in latest["learners"]:
            cells = "".join(f'<td data-step="{e(s["id"])}" data-status="{e(s["status"])}">{SYMBOL.get(s["status"], "?")}</td>'
                            for s in learner["steps"])
            score = learner["score"]
            rows += (f'<tr data-learner="{e(learner["learner"])}"><td class="learner">{e(learner["learner"])}</td>{cells}'
                     f'<td class="score">{score["earned"]}/{score["possible"]}</td></tr>')
    labels = json.dumps({k: text[k] for k in ("learner", "score", "hint", "none")}, ensure_ascii=False)
    labels = labels.replace("<", "\\u003c")  # safe inside a <script> element
    return f"""<!DOCTYPE html>
<html lang="{e(lang)}"><head><meta charset="utf-8"><meta name="xsrf" content="{e(xsrf)}"><title>{e(title)}</title><style>{STYLE}</style></head>
<body>
<h1>{e(title)}</h1>
<p class="meta">{e(text["updated"])} <span id="updated">…</span> · {e(text["reports"])}
 <a href="report.html" target="_blank">{e(text["report_html"])}</a> · <a href="report.csv">{e(text["report_csv"])}</a></p>
<table id="grid">{rows}</table>
<p class="meta">{e(text["legend"])}</p>
<h2>{e(text["common"])}</h2>
<ul id="common" class="common"></ul>
<p id="error" class="error" role="alert"></p>
<script type="application/json" id="labels">{labels}</script>
<script>{SCRIPT.replace("REFRESH_MS", str(int(refresh_seconds * 1000)))}</script>
</body></html>
"""
