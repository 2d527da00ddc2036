// PhiDesk transcript page. Python drives it through window.phidesk (runJavaScript) and hears
// back through the QWebChannel object "bridge". Message HTML comes from app.render: escaped,
// with math as <span|div class="math inline|display">TeX</span> placeholders typeset here.
"use strict";

(function () {
  const KATEX_OPTIONS = {
    throwOnError: false,
    trust: false,
    strict: "ignore",
    maxExpand: 1000,
    maxSize: 50,
    output: "htmlAndMathml",
  };
  const NEAR_BOTTOM_PX = 48;
  const SVG = "http://www.w3.org/2000/svg";
  // Line icons on a 24-unit grid, drawn with the text colour (stroke: currentColor).
  const ICONS = {
    copy: ["M9 9h10v11H9z", "M5 15V5a1 1 0 0 1 1-1h9"],
    edit: ["M4 20h4L19 9l-4-4L4 16z", "M13 7l4 4"],
    regenerate: ["M20 12a8 8 0 1 1-2.35-5.65", "M20 4v5h-5"],
    info: ["M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18z", "M12 11v6", "M12 7.5v.5"],
    continue: ["M5 6l6 6-6 6", "M12 6l6 6-6 6"],
    delete: ["M4 7h16", "M9 7V4h6v3", "M6 7l1 13h10l1-13", "M10 11v6", "M14 11v6"],
    pull: ["M12 4v11", "M7 10l5 5 5-5", "M5 20h14"],
    down: ["M12 5v14", "M6 13l6 6 6-6"],
    stopped: ["M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18z", "M9.5 9v6", "M14.5 9v6"],
    warning: ["M12 4L2.5 20h19z", "M12 10v4", "M12 17v.5"],
  };

  let bridge = null;
  const queued = [];
  let transcript = null;
  let toastTimer = 0;
  const timers = new Map(); // message id -> {started: ms since epoch, el}
  let outOfContext = new Set(); // ids marked "not in context"; kept for messages built later
  // Page-side cost of live patches, KaTeX runs, and the longest deferred typesetting slice.
  // Also each patch's time, and the page's tasks over 50 ms (parsing a patch's script, layout).
  const stats = { patches: 0, patchMs: 0, maxPatchMs: 0, renders: 0, maxSliceMs: 0, slow: [], times: [], longTasks: [] };
  if (typeof PerformanceObserver === "function" && PerformanceObserver.supportedEntryTypes.includes("longtask")) {
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) stats.longTasks.push(Math.round(entry.duration));
    }).observe({ entryTypes: ["longtask"] });
  }

  function send(method, ...args) {
    if (bridge) {
      bridge[method](...args);
    } else {
      queued.push([method, args]);
    }
  }

  function katexReady() {
    return typeof window.katex === "object" && window.katex !== null;
  }

  // -- math --------------------------------------------------------------------------------
  // Formulas wait in a queue and are typeset a slice at a time (newest first: the end of the
  // chat is what shows), so a page with thousands of them never blocks for long. KaTeX's output
  // is kept by source, so a formula seen again costs an innerHTML, not a layout run.
  const SLICE_MS = 8;
  const CACHE_SIZE = 4000;
  const unmeasured = [];
  let measureQueued = false;
  const waiting = [];
  const detached = [];
  let drainQueued = false;
  let deadline = 0; // when the current task's typesetting slice ends
  const rendered = new Map(); // "d:" or "i:" + TeX -> KaTeX markup

  function measure() {
    measureQueued = false;
    for (const el of unmeasured.splice(0)) {
      if (el.isConnected && el.scrollWidth - el.clientWidth <= 4) el.classList.add("fits");
    }
  }

  function katexMarkup(tex, display) {
    const key = (display ? "d:" : "i:") + tex;
    let markup = rendered.get(key);
    if (markup === undefined) {
      markup = window.katex.renderToString(tex, Object.assign({ displayMode: display }, KATEX_OPTIONS));
      stats.renders += 1;
      if (rendered.size >= CACHE_SIZE) rendered.delete(rendered.keys().next().value);
    } else {
      rendered.delete(key); // most recently used last
    }
    rendered.set(key, markup);
    return markup;
  }

  function typesetOne(el) {
    if (el.classList.contains("typeset") || el.classList.contains("raw")) {
      el.queued = false;
      return;
    }
    if (!el.isConnected) {
      // Not in the page yet (a message being built) or gone: look again next frame, once.
      if (!el.retried) {
        el.retried = true;
        detached.push(el);
      } else el.queued = false;
      return;
    }
    el.queued = false;
    const tex = el.dataset.tex;
    const display = el.classList.contains("display");
    try {
      el.innerHTML = katexMarkup(tex, display);
      el.classList.add("typeset");
      if (display) unmeasured.push(el);
    } catch (err) {
      el.textContent = tex;
      el.classList.add("raw");
    }
  }

  // Typeset queued formulas until this task has spent its slice on them; the rest waits for a
  // later task. A slice is SLICE_MS, or as long as the page's own work since the last one (its
  // layout of a long paragraph), up to 4 × SLICE_MS: never more than half of the page's time.
  let lastSliceEnd = 0;
  function drain(budget = SLICE_MS) {
    const now = performance.now();
    if (!deadline) {
      deadline = now + budget;
      queueMicrotask(() => (deadline = 0));
    }
    while (waiting.length && performance.now() < deadline) typesetOne(waiting.pop());
    lastSliceEnd = performance.now();
    if (unmeasured.length && !measureQueued) {
      measureQueued = true;
      requestAnimationFrame(measure);
    }
    if ((waiting.length || detached.length) && !drainQueued) {
      drainQueued = true;
      // A task of its own, not an animation frame: frames stop while the window is hidden.
      setTimeout(() => {
        drainQueued = false;
        for (const el of detached.splice(0).reverse()) waiting.push(el);
        const t0 = performance.now();
        drain(Math.min(4 * SLICE_MS, Math.max(SLICE_MS, t0 - lastSliceEnd)));
        stats.maxSliceMs = Math.max(stats.maxSliceMs, performance.now() - t0);
      }, 0);
    }
  }

  function queueMath(el, ready) {
    if (el.queued || el.classList.contains("typeset") || el.classList.contains("raw")) return;
    const tex = el.textContent;
    el.dataset.tex = tex;
    el.title = "Double-click to copy the LaTeX source";
    if (!ready) {
      el.classList.add("raw"); // KaTeX is missing: the LaTeX source stays readable
      return;
    }
    el.queued = true;
    waiting.push(el);
  }

  // -- live blocks: keep what a patch did not change -----------------------------------------
  // The new HTML is parsed aside and laid over the old nodes: equal text, equal elements and
  // formulas with the same TeX stay (typeset, decorated); only what differs is put in.
  const sourceOf = new WeakMap(); // a decorated <pre> -> its HTML before the Copy button

  function sameNode(old, fresh) {
    if (old.nodeType !== fresh.nodeType) return false;
    if (old.nodeType !== 1) return true;
    if (old.tagName !== fresh.tagName) return false;
    if (fresh.classList.contains("math")) {
      if (!old.classList.contains("math")) return false;
      const tex = old.dataset.tex !== undefined ? old.dataset.tex : old.textContent;
      return old.classList.contains("display") === fresh.classList.contains("display") && tex === fresh.textContent;
    }
    if (old.tagName === "PRE") return sourceOf.get(old) === fresh.outerHTML;
    const names = fresh.getAttributeNames();
    if (names.length !== old.getAttributeNames().length) return false;
    for (const name of names) if (old.getAttribute(name) !== fresh.getAttribute(name)) return false;
    return true;
  }

  function morph(oldParent, freshParent, added, old = oldParent.firstChild, fresh = freshParent.firstChild) {
    while (fresh) {
      const next = fresh.nextSibling;
      if (old && sameNode(old, fresh)) {
        if (old.nodeType !== 1) {
          // Text that only grew is appended to: the page keeps the shaping of what was there.
          const was = old.data;
          const now = fresh.data;
          if (now.length > was.length && now.startsWith(was)) old.appendData(now.slice(was.length));
          else if (was !== now) old.data = now;
        } else if (!old.classList.contains("math") && old.tagName !== "PRE") {
          morph(old, fresh, added);
        }
        old = old.nextSibling;
      } else {
        oldParent.insertBefore(fresh, old);
        if (old) {
          const gone = old;
          old = old.nextSibling;
          gone.remove();
        }
        if (fresh.nodeType === 1) added.push(fresh);
      }
      fresh = next;
    }
    while (old) {
      const next = old.nextSibling;
      old.remove();
      old = next;
    }
  }

  function updateHtml(el, html) {
    const aside = document.createElement("template");
    aside.innerHTML = html;
    const added = [];
    morph(el, aside.content, added);
    for (const node of added) decorate(node, false);
    drain();
  }

  // The live block comes whole in every patch (one paragraph can hold thousands of formulas),
  // but mostly only its end changed. The page keeps the HTML it shows and, for the block's first
  // element, where each of its children starts in that HTML. A patch finds the last child whose
  // source is still the same, parses only the HTML from there on and lays it over the children
  // from that one: the page's work follows what changed, not the length of the block.
  const SPLIT = new Set(["p", "ul", "ol", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6"]);
  const VOID = new Set(["area", "br", "col", "embed", "hr", "img", "input", "source", "wbr"]);

  function tagName(html, at) {
    let end = at + 1;
    while (end < html.length && /[A-Za-z0-9]/.test(html[end])) end += 1;
    return html.slice(at + 1, end).toLowerCase();
  }

  // Where the children of an element start in `html`, from `from` (inside the element, at the
  // start of a child) to its closing tag; null if the HTML is not what app.render writes.
  function childStarts(html, from) {
    const starts = [];
    let depth = 1;
    let i = from;
    while (i < html.length) {
      if (html.charCodeAt(i) !== 60) {
        if (depth === 1) starts.push(i);
        i = html.indexOf("<", i);
        if (i < 0) return null;
        continue;
      }
      const close = html.indexOf(">", i);
      if (close < 0) return null;
      if (html.charCodeAt(i + 1) === 47) {
        depth -= 1;
        if (depth === 0) return starts;
      } else {
        const name = tagName(html, i);
        if (!name) return null; // a comment or a stray "<": not from app.render
        if (depth === 1) starts.push(i);
        if (!VOID.has(name) && html.charCodeAt(close - 1) !== 47) depth += 1;
      }
      i = close + 1;
    }
    return null;
  }

  // Pair the offsets with the element's children from `node` on; false if they do not match.
  function markChildren(marks, starts, node) {
    for (const off of starts) {
      if (!node) return false;
      marks.push({ off, node });
      node = node.nextSibling;
    }
    return node === null;
  }

  function samePrefix(a, b, length) {
    return a.length >= length && b.length >= length && b.startsWith(a.slice(0, length));
  }

  // A long live paragraph is also cut, for layout only, into runs of RUN children that no
  // patch reaches any more (<span class="run">, laid out apart: see chat.css), so a frame lays
  // out the runs as they were and only the last children of the paragraph again. A patch that
  // does reach into a run takes it away first; endStream takes them all away.
  const RUN = 400;

  function unwrapRuns(live, from) {
    const runs = live.runs || [];
    while (runs.length && runs[runs.length - 1].end > from) {
      const run = runs.pop().el;
      run.replaceWith(...run.childNodes);
    }
  }

  function wrapRuns(live, top, marks) {
    const runs = live.runs || (live.runs = []);
    let done = runs.length ? runs[runs.length - 1].end : 0;
    while (marks.length - done > 2 * RUN) {
      const el = document.createElement("span");
      el.className = "run";
      top.insertBefore(el, marks[done].node);
      for (let i = done; i < done + RUN; i++) el.appendChild(marks[i].node);
      done += RUN;
      runs.push({ el, end: done });
    }
  }

  function updateLiveWhole(live, html) {
    unwrapRuns(live, 0);
    updateHtml(live, html);
    const open = html.charCodeAt(0) === 60 ? html.indexOf(">") + 1 : 0;
    const first = live.firstChild;
    if (open && first && first.nodeType === 1 && SPLIT.has(first.tagName.toLowerCase())) {
      const starts = childStarts(html, open);
      const fresh = [];
      if (starts && starts.length && markChildren(fresh, starts, first.firstChild)) {
        live.marks = fresh;
        wrapRuns(live, first, fresh);
      }
    }
  }

  function updateLive(live, html) {
    const shown = live.shownHtml;
    const marks = live.marks;
    live.shownHtml = html;
    live.marks = null;
    const top = live.firstChild;
    let keep = -1; // the last child of `top` whose source (and all before it) is unchanged
    if (shown !== undefined && marks && marks.length && top && top.nodeType === 1) {
      let lo = 0;
      let hi = marks.length - 1;
      if (samePrefix(shown, html, marks[hi].off)) keep = hi;
      else {
        while (lo <= hi) {
          const mid = (lo + hi) >> 1;
          if (samePrefix(shown, html, marks[mid].off)) {
            keep = mid;
            lo = mid + 1;
          } else hi = mid - 1;
        }
      }
    }
    const starts = keep < 0 ? null : childStarts(html, marks[keep].off);
    if (!starts) {
      updateLiveWhole(live, html);
      return;
    }
    const from = marks[keep].off;
    const open = html.indexOf(">") + 1;
    const aside = document.createElement("template");
    aside.innerHTML = html.slice(0, open) + html.slice(from);
    const freshTop = aside.content.firstChild;
    if (!freshTop || freshTop.nodeName !== top.nodeName) {
      updateLiveWhole(live, html);
      return;
    }
    unwrapRuns(live, keep); // the children from `keep` on are top's own again
    const before = marks[keep].node.previousSibling;
    const added = [];
    morph(top, freshTop, added, marks[keep].node);
    morph(live, aside.content, added, top.nextSibling, freshTop.nextSibling);
    for (const node of added) decorate(node, false);
    drain();
    const kept = marks.slice(0, keep);
    if (markChildren(kept, starts, before ? before.nextSibling : top.firstChild)) {
      live.marks = kept;
      wrapRuns(live, top, kept);
    }
  }

  // -- code --------------------------------------------------------------------------------
  function decorate(root, drainNow = true) {
    const pres = root.tagName === "PRE" ? [root] : root.querySelectorAll("pre:not(.decorated)");
    for (const pre of pres) {
      if (pre.classList.contains("decorated")) continue;
      sourceOf.set(pre, pre.outerHTML);
      pre.classList.add("decorated");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "copy-code";
      button.textContent = "Copy";
      button.setAttribute("aria-label", "Copy code");
      pre.insertBefore(button, pre.firstChild);
    }
    const ready = katexReady();
    if (root.classList.contains("math")) queueMath(root, ready);
    else for (const el of root.querySelectorAll(".math:not(.typeset):not(.raw)")) queueMath(el, ready);
    if (drainNow) drain();
  }

  function setHtml(el, html) {
    el.innerHTML = html;
    decorate(el);
  }

  // -- messages ----------------------------------------------------------------------------
  function byId(id) {
    return transcript.querySelector(`article[data-id="${CSS.escape(id)}"]`);
  }

  function actionButton(action, label, title) {
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.action = action;
    b.textContent = label;
    b.title = title;
    return b;
  }

  function svgIcon(name) {
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("class", "icon");
    for (const d of ICONS[name] || []) {
      const path = document.createElementNS(SVG, "path");
      path.setAttribute("d", d);
      svg.appendChild(path);
    }
    return svg;
  }

  // An icon-only button: the name is said by screen readers, the tooltip shown on hover.
  function iconButton(action, icon, label, title) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "icon-button";
    b.dataset.action = action;
    b.setAttribute("aria-label", label);
    b.title = title || label;
    b.appendChild(svgIcon(icon));
    return b;
  }

  // What a message offers, in order: [action, icon, name, tooltip]; "-" sets Delete apart.
  function actionsOf(role, meta) {
    const list = [["copy-markdown", "copy", "Copy as Markdown", "Copy as Markdown"]];
    if (role === "user") list.push(["edit", "edit", "Edit", "Edit this message"]);
    if (role === "assistant") {
      list.push(["regenerate", "regenerate", "Regenerate", "Answer again (a new version; this one stays)"]);
      if (meta.can_continue) {
        list.push(["continue", "continue", "Continue", "Let the model go on with this answer"]);
      }
      list.push(["info", "info", "Info", "Model, timings and tokens"]);
    }
    list.push("-");
    list.push(["delete", "delete", "Delete", "Delete this message"]);
    return list;
  }

  const CALLOUT_ACTIONS = {
    retry: ["regenerate", "Retry", "Answer this question again"],
    continue: ["continue", "Continue", "Let the model go on with this answer"],
    "pull-model": ["pull", "Pull model", "Open the model manager to download this model"],
  };

  function buildCallout(meta) {
    const box = document.createElement("div");
    const kind = meta.notice_kind || "info";
    const level = kind === "stopped" ? "info" : kind === "streaming" ? "info" : kind === "interrupted" ? "warn" : "error";
    box.className = `notice callout callout-${level}`;
    box.setAttribute("role", "note");
    box.appendChild(svgIcon(kind === "stopped" ? "stopped" : "warning"));
    const text = document.createElement("span");
    text.className = "callout-text";
    text.textContent = meta.notice;
    box.appendChild(text);
    const actions = (meta.notice_actions || "").split(",").filter((a) => CALLOUT_ACTIONS[a]);
    if (actions.length) {
      const row = document.createElement("span");
      row.className = "callout-actions";
      for (const action of actions) {
        const [icon, label, title] = CALLOUT_ACTIONS[action];
        const b = iconButton(action, icon, label, title);
        b.classList.add("with-label");
        const words = document.createElement("span");
        words.textContent = label;
        b.appendChild(words);
        b.removeAttribute("aria-label"); // the visible words name it
        row.appendChild(b);
      }
      box.appendChild(row);
    }
    return box;
  }

  // `‹ n/m ›`: the versions of a message (a regenerated answer, an edited question).
  function versionSwitcher(meta) {
    const index = Number(meta.version);
    const count = Number(meta.versions);
    const group = document.createElement("span");
    group.className = "versions";
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", "Versions");
    const previous = actionButton("previous-version", "‹", "Previous version (Alt+Left)");
    previous.setAttribute("aria-label", "Previous version");
    previous.disabled = index <= 1;
    const label = document.createElement("span");
    label.className = "count";
    label.textContent = `${index}/${count}`;
    label.setAttribute("aria-label", `Version ${index} of ${count}`);
    label.setAttribute("role", "status");
    const next = actionButton("next-version", "›", "Next version (Alt+Right)");
    next.setAttribute("aria-label", "Next version");
    next.disabled = index >= count;
    group.append(previous, label, next);
    return group;
  }

  function buildMessage(m) {
    const meta = m.meta || {};
    const article = document.createElement("article");
    article.className = `message ${m.role}`;
    article.dataset.id = m.id;
    // Focusable: Alt+Left / Alt+Right switch its versions, the Menu key opens its actions.
    article.tabIndex = 0;
    const name = m.role === "assistant" ? meta.model_name || "Assistant" : m.role === "user" ? "You" : m.role;
    article.setAttribute("aria-label", m.role === "user" ? "Your message" : `Answer from ${name}`);
    if (outOfContext.has(m.id)) article.classList.add("out-of-context");
    if (meta.can_continue) article.classList.add("can-continue");
    const header = document.createElement("header");
    const role = document.createElement("span");
    role.className = "role";
    role.textContent = name;
    header.appendChild(role);
    if (meta.model_tag && meta.model_tag !== name) {
      const detail = document.createElement("span");
      detail.className = "detail";
      detail.textContent = meta.model_tag;
      header.appendChild(detail);
    }
    const caption = document.createElement("span");
    caption.className = "caption";
    caption.textContent = meta.caption || "";
    header.appendChild(caption);
    const tools = document.createElement("span");
    tools.className = "tools";
    tools.setAttribute("role", "toolbar");
    tools.setAttribute("aria-label", "Message actions");
    for (const item of actionsOf(m.role, meta)) {
      if (item === "-") {
        const gap = document.createElement("span");
        gap.className = "separator";
        gap.setAttribute("aria-hidden", "true");
        tools.appendChild(gap);
        continue;
      }
      const [action, icon, label, title] = item;
      tools.appendChild(iconButton(action, icon, label, title));
    }
    header.appendChild(tools);
    // Last in the header, so every message's `‹ n/m ›` lines up at the right edge; the
    // actions appear to its left on hover or focus.
    if (Number(meta.versions) > 1) {
      article.dataset.version = meta.version;
      article.dataset.versions = meta.versions;
      header.appendChild(versionSwitcher(meta));
    }
    article.appendChild(header);
    const thinking = document.createElement("details");
    thinking.className = "thinking";
    thinking.hidden = true;
    const summary = document.createElement("summary");
    thinking.appendChild(summary);
    const thinkingBody = document.createElement("div");
    thinkingBody.className = "thinking-body";
    thinking.appendChild(thinkingBody);
    article.appendChild(thinking);
    const body = document.createElement("div");
    body.className = "body";
    body.dir = "auto";
    article.appendChild(body);
    setHtml(body, m.html || "");
    if (meta.notice) article.appendChild(buildCallout(meta));
    if (m.thinking !== null && m.thinking !== undefined) {
      showThinking(article, m.thinking, false, Number(meta.thinking_seconds) || 0);
    }
    return article;
  }

  function nearBottom() {
    const s = document.scrollingElement;
    return s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX;
  }

  function toBottom() {
    const s = document.scrollingElement;
    s.scrollTop = s.scrollHeight;
  }

  function secondsText(seconds) {
    return seconds < 10 ? seconds.toFixed(1) : Math.round(seconds).toString();
  }

  function showThinking(article, html, running, seconds) {
    const details = article.querySelector("details.thinking");
    details.hidden = false;
    setHtml(details.querySelector(".thinking-body"), html);
    const summary = details.querySelector("summary");
    const id = article.dataset.id;
    if (running) {
      details.classList.add("running");
      if (!timers.has(id)) {
        timers.set(id, { started: Date.now() - seconds * 1000, summary });
        details.open = true;
      }
      const t = timers.get(id);
      summary.textContent = `Thinking… ${secondsText((Date.now() - t.started) / 1000)} s`;
    } else {
      details.classList.remove("running");
      // The answer has started: fold the reasoning away (the user can open it again).
      if (timers.has(id)) details.open = false;
      timers.delete(id);
      summary.textContent = seconds > 0 ? `Thought for ${secondsText(seconds)} s` : "Reasoning";
    }
  }

  function tick() {
    for (const t of timers.values()) {
      t.summary.textContent = `Thinking… ${secondsText((Date.now() - t.started) / 1000)} s`;
    }
  }

  function streamParts(article) {
    const body = article.querySelector(".body");
    let blocks = body.querySelector(":scope > .blocks");
    let live = body.querySelector(":scope > .live");
    if (!blocks) {
      body.innerHTML = "";
      blocks = document.createElement("div");
      blocks.className = "blocks";
      live = document.createElement("div");
      live.className = "live";
      body.appendChild(blocks);
      body.appendChild(live);
    }
    return { blocks, live };
  }

  // -- "new text" pill: the answer goes on below while the user reads above -------------------
  function showPill() {
    const pill = document.getElementById("new-text");
    if (pill && pill.hidden && transcript.querySelector("article.streaming")) pill.hidden = false;
  }

  function hidePill() {
    const pill = document.getElementById("new-text");
    if (pill) pill.hidden = true;
  }

  function hidePillIfNoNews() {
    if (nearBottom()) hidePill();
  }

  function onScroll() {
    following = nearBottom();
    if (following) hidePill();
    askForOlder();
  }

  // -- older pages of a long chat: asked for when the user nears the top -----------------------
  const OLDER_MARGIN_PX = 1200;
  let olderAvailable = false;
  let olderAsked = false;
  function askForOlder() {
    if (!olderAvailable || olderAsked || document.scrollingElement.scrollTop > OLDER_MARGIN_PX) return;
    olderAsked = true;
    send("olderWanted");
  }

  // Follow the end once per frame, after the page's own layout of the patches.
  let following = true;
  let bottomQueued = false;
  function toBottomNextFrame() {
    if (bottomQueued) return;
    bottomQueued = true;
    requestAnimationFrame(() => {
      bottomQueued = false;
      if (following) toBottom();
    });
  }

  // -- the empty chat ----------------------------------------------------------------------
  function updateEmpty() {
    const empty = document.getElementById("empty");
    if (empty) empty.hidden = transcript.children.length > 0;
  }

  // -- a message's context menu (right click, the Menu key, Shift+F10) ------------------------
  let menuFor = null;

  function closeMenu(refocus) {
    const menu = document.getElementById("message-menu");
    if (!menu || menu.hidden) return;
    menu.hidden = true;
    const article = menuFor;
    menuFor = null;
    if (refocus && article && article.isConnected) article.focus({ preventScroll: true });
  }

  function openMenu(article, x, y) {
    const menu = document.getElementById("message-menu");
    const meta = { can_continue: article.classList.contains("can-continue") };
    const role = article.classList.contains("user") ? "user" : article.classList.contains("assistant") ? "assistant" : "";
    menu.textContent = "";
    menu.setAttribute("aria-label", `Actions for ${article.getAttribute("aria-label")}`);
    for (const item of actionsOf(role, meta)) {
      if (item === "-") {
        const line = document.createElement("div");
        line.className = "menu-separator";
        line.setAttribute("role", "separator");
        menu.appendChild(line);
        continue;
      }
      const [action, icon, label] = item;
      const b = document.createElement("button");
      b.type = "button";
      b.setAttribute("role", "menuitem");
      b.dataset.menuAction = action;
      b.tabIndex = -1;
      b.appendChild(svgIcon(icon));
      const words = document.createElement("span");
      words.textContent = label;
      b.appendChild(words);
      menu.appendChild(b);
    }
    menuFor = article;
    menu.hidden = false;
    const box = menu.getBoundingClientRect();
    const left = Math.max(4, Math.min(x, window.innerWidth - box.width - 4));
    const top = Math.max(4, Math.min(y, window.innerHeight - box.height - 4));
    menu.style.left = `${left}px`;
    menu.style.top = `${top}px`;
    menu.querySelector("[role=menuitem]").focus({ preventScroll: true });
  }

  function menuKey(event) {
    const items = Array.from(document.querySelectorAll("#message-menu [role=menuitem]"));
    const at = items.indexOf(document.activeElement);
    if (event.key === "Escape" || event.key === "Tab") {
      event.preventDefault();
      closeMenu(true);
    } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      items[(at + step + items.length) % items.length].focus();
    } else if (event.key === "Home" || event.key === "End") {
      event.preventDefault();
      items[event.key === "Home" ? 0 : items.length - 1].focus();
    }
  }

  function onContextMenu(event) {
    const target = event.target;
    const article = target instanceof Element ? target.closest("article.message") : null;
    if (!article) return;
    if (window.getSelection && String(window.getSelection()).length && event.button === 2) return;
    event.preventDefault();
    if (event.button === 2 && event.clientX) openMenu(article, event.clientX, event.clientY);
    else {
      const box = article.getBoundingClientRect();
      openMenu(article, box.left + 24, Math.max(box.top, 0) + 24);
    }
  }

  // -- the API Python calls ----------------------------------------------------------------
  const api = {
    setMessages(messages) {
      timers.clear();
      transcript.textContent = "";
      const fragment = document.createDocumentFragment();
      for (const m of messages) fragment.appendChild(buildMessage(m));
      transcript.appendChild(fragment);
      toBottom();
      return transcript.children.length;
    },
    prependMessages(messages) {
      const s = document.scrollingElement;
      const fromBottom = s.scrollHeight - s.scrollTop;
      const fragment = document.createDocumentFragment();
      for (const m of messages) fragment.appendChild(buildMessage(m));
      transcript.insertBefore(fragment, transcript.firstChild);
      s.scrollTop = s.scrollHeight - fromBottom; // keep what the user is looking at in place
      olderAsked = false;
      setTimeout(askForOlder, 0);
      return transcript.children.length;
    },
    appendMessage(m) {
      const follow = nearBottom();
      const old = byId(m.id);
      const article = buildMessage(m);
      if (old) old.replaceWith(article);
      else transcript.appendChild(article);
      // A question just sent is shown wherever the user had scrolled to; the answer follows.
      if (follow || (m.role === "user" && !old)) {
        toBottom();
        hidePill();
      }
    },
    // Keep every message up to `keepId` (null: none) as it is; rebuild the rest from
    // `messages`. The scroll position is left alone, so what is above does not move.
    replaceAfter(keepId, messages, focusId) {
      const kept = keepId === null ? null : byId(keepId);
      const active = document.activeElement;
      const focusedArticle = active && active.closest ? active.closest("article.message") : null;
      const focusedAction = active && active.dataset ? active.dataset.action : undefined;
      let node = kept ? kept.nextElementSibling : transcript.firstElementChild;
      let hadFocus = false;
      while (node) {
        const next = node.nextElementSibling;
        if (node === focusedArticle) hadFocus = true;
        timers.delete(node.dataset.id);
        node.remove();
        node = next;
      }
      const fragment = document.createDocumentFragment();
      for (const m of messages) fragment.appendChild(buildMessage(m));
      transcript.appendChild(fragment);
      const target = hadFocus && focusId ? byId(focusId) : null;
      if (target) {
        // Keep the focus where it was: on the same button of the version now shown, if any.
        const selector = `button[data-action="${focusedAction}"]:not(:disabled)`;
        const again = focusedAction ? target.querySelector(selector) : null;
        (again || target).focus({ preventScroll: true });
      }
      return transcript.children.length;
    },
    announce(text) {
      const el = document.getElementById("announce");
      el.textContent = "";
      // A new text node, set a moment later, is what screen readers notice.
      setTimeout(() => (el.textContent = text), 30);
    },
    setOlder(more) {
      olderAvailable = Boolean(more);
      olderAsked = false;
      setTimeout(askForOlder, 0); // a short page cannot be scrolled: ask at once
    },
    removeMessage(id) {
      const article = byId(id);
      if (article) article.remove();
    },
    // A search hit: the message in the middle of the view, highlighted for 1.5 s.
    scrollToMessage(id) {
      const article = byId(id);
      if (!article) return false;
      article.scrollIntoView({ block: "center" });
      article.classList.remove("search-hit");
      void article.offsetWidth; // restart the fade when the same message is shown again
      article.classList.add("search-hit");
      clearTimeout(article.hitTimer);
      article.hitTimer = setTimeout(() => article.classList.remove("search-hit"), 1500);
      return true;
    },
    beginStream(id) {
      const article = byId(id);
      if (!article) return false;
      article.classList.add("streaming");
      article.setAttribute("aria-busy", "true"); // read once it is complete, not token by token
      const { live } = streamParts(article);
      unwrapRuns(live, 0);
      live.shownHtml = undefined; // the first patch lays the whole live block over what is shown
      live.marks = null;
      return true;
    },
    patch(id, firstIndex, appended, revised, tail) {
      const article = byId(id);
      if (!article) return false;
      const started = performance.now();
      // Whether the user is at the end, as of the last scroll: asking the page now would lay out
      // the whole live block twice per patch (before and after the change).
      const follow = following;
      const { blocks, live } = streamParts(article);
      for (const [index, html] of revised) {
        const el = blocks.children[index];
        if (el) setHtml(el, html);
      }
      while (blocks.children.length > firstIndex) blocks.lastChild.remove();
      for (const html of appended) {
        const el = document.createElement("div");
        el.className = "block";
        blocks.appendChild(el);
        setHtml(el, html);
      }
      updateLive(live, tail);
      if (follow) toBottomNextFrame();
      else showPill();
      const spent = performance.now() - started;
      if (spent > 50) stats.slow.push(stats.patches); // over the 50 ms budget
      stats.patches += 1;
      stats.patchMs += spent;
      stats.maxPatchMs = Math.max(stats.maxPatchMs, spent);
      stats.times.push(spent);
      return true;
    },
    endStream(id, finalHtml) {
      const article = byId(id);
      if (!article) return false;
      article.classList.remove("streaming");
      article.removeAttribute("aria-busy");
      const live = article.querySelector(".body > .live");
      if (live) {
        unwrapRuns(live, 0); // the answer's DOM is the full render's again
        live.shownHtml = undefined;
        live.marks = null;
      }
      if (finalHtml !== null) setHtml(article.querySelector(".body"), finalHtml);
      hidePillIfNoNews();
      return true;
    },
    setThinking(id, html, running, seconds) {
      const article = byId(id);
      if (!article) return false;
      const follow = nearBottom();
      showThinking(article, html, running, seconds);
      if (follow) toBottom();
      return true;
    },
    // Starter prompts for an empty chat: [{label, prompt}], under a heading.
    setStarters(heading, starters) {
      const box = document.getElementById("starters");
      box.textContent = "";
      const title = document.getElementById("empty-title");
      title.textContent = heading;
      for (const s of starters) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "starter";
        b.dataset.prompt = s.prompt;
        const label = document.createElement("strong");
        label.textContent = s.label;
        const text = document.createElement("span");
        text.textContent = s.prompt;
        b.append(label, text);
        box.appendChild(b);
      }
      updateEmpty();
    },
    // The reading size: the application's font size, before the view's zoom.
    setBaseSize(px) {
      document.documentElement.style.setProperty("--base-size", `${Number(px) || 15}px`);
    },
    setTheme(name) {
      document.documentElement.classList.toggle("theme-dark", name === "dark");
      document.documentElement.classList.toggle("theme-light", name !== "dark");
    },
    markOutOfContext(ids) {
      outOfContext = new Set(ids);
      for (const article of transcript.querySelectorAll("article.message")) {
        article.classList.toggle("out-of-context", outOfContext.has(article.dataset.id));
      }
    },
    resetStats() {
      Object.assign(stats, { patches: 0, patchMs: 0, maxPatchMs: 0, maxSliceMs: 0, slow: [], times: [], longTasks: [] });
    },
    state() {
      return {
        messages: transcript.querySelectorAll("article.message").length,
        math: document.querySelectorAll(".math").length,
        typeset: document.querySelectorAll(".math.typeset").length,
        raw: document.querySelectorAll(".math.raw").length,
        katex: katexReady(),
        bridge: bridge !== null,
        patches: stats.patches,
        patchMs: stats.patchMs,
        maxPatchMs: stats.maxPatchMs,
        renders: stats.renders,
        maxSliceMs: stats.maxSliceMs,
        slow: stats.slow,
        times: stats.times,
        longTasks: stats.longTasks,
      };
    },
  };

  function toast(text) {
    const el = document.getElementById("toast");
    el.textContent = text;
    el.classList.add("shown");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => el.classList.remove("shown"), 1400);
  }

  function onClick(event) {
    const target = event.target;
    if (!(target instanceof Element)) return;
    const item = target.closest("[data-menu-action]");
    if (item) {
      const article = menuFor;
      closeMenu(true);
      if (article) send("messageAction", item.dataset.menuAction, article.dataset.id);
      return;
    }
    if (!target.closest("#message-menu")) closeMenu(false);
    const starter = target.closest("button.starter");
    if (starter) {
      send("starterChosen", starter.dataset.prompt);
      return;
    }
    if (target.closest("#new-text")) {
      document.scrollingElement.scrollTo({ top: document.scrollingElement.scrollHeight });
      hidePill();
      return;
    }
    const copy = target.closest("button.copy-code");
    if (copy) {
      const code = copy.parentElement.querySelector("code");
      send("copyText", code ? code.textContent : "");
      toast("Code copied");
      return;
    }
    const action = target.closest("button[data-action]");
    if (action) {
      const article = action.closest("article.message");
      if (article) send("messageAction", action.dataset.action, article.dataset.id);
    }
  }

  function onKeyDown(event) {
    if (menuFor && event.target instanceof Element && event.target.closest("#message-menu")) {
      menuKey(event);
      return;
    }
    const menuKeyPressed = event.key === "ContextMenu" || (event.shiftKey && event.key === "F10");
    if (menuKeyPressed && event.target instanceof Element) {
      const article = event.target.closest("article.message");
      if (article) {
        event.preventDefault();
        const box = article.getBoundingClientRect();
        openMenu(article, box.left + 24, Math.max(box.top, 0) + 24);
      }
      return;
    }
    if (!event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
    const target = event.target;
    const article = target instanceof Element ? target.closest("article.message") : null;
    event.preventDefault(); // never a history navigation
    if (!article || !article.dataset.versions) return;
    const index = Number(article.dataset.version);
    const count = Number(article.dataset.versions);
    const left = event.key === "ArrowLeft";
    if ((left && index <= 1) || (!left && index >= count)) return;
    send("messageAction", left ? "previous-version" : "next-version", article.dataset.id);
  }

  function onDoubleClick(event) {
    const target = event.target;
    if (!(target instanceof Element)) return;
    const math = target.closest(".math");
    if (math && math.dataset.tex !== undefined) {
      event.preventDefault();
      send("copyText", math.dataset.tex);
      toast("LaTeX copied");
    }
  }

  // -- attached files: chips on the questions (Python: setAttachments) ----------------------
  // Kept by question id and drawn again whenever its message is (re)built; a click asks
  // Python to open the file ("file") or the text PhiDesk read from it ("text").
  ICONS.file = ["M6 3h8l4 4v14H6z", "M14 3v4h4"];
  let attachmentChips = {}; // question id -> [{attachment, name, detail, kind}]

  function attachmentButton(chip, how, label, title) {
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.attachment = chip.attachment;
    b.dataset.how = how;
    b.title = title;
    if (how === "file") {
      b.className = "attachment-open";
      b.appendChild(svgIcon("file"));
      const name = document.createElement("span");
      name.className = "attachment-name";
      name.textContent = chip.name;
      b.appendChild(name);
      if (chip.detail) {
        const detail = document.createElement("span");
        detail.className = "attachment-detail";
        detail.textContent = chip.detail;
        b.appendChild(detail);
      }
    } else {
      b.className = "attachment-text";
      b.textContent = label;
      b.setAttribute("aria-label", `${label} of ${chip.name}`);
    }
    return b;
  }

  function showAttachments(article) {
    const old = article.querySelector(":scope > .attachments");
    if (old) old.remove();
    const chips = attachmentChips[article.dataset.id];
    if (!chips || !chips.length) return;
    const box = document.createElement("div");
    box.className = "attachments";
    box.setAttribute("role", "list");
    box.setAttribute("aria-label", "Attached files");
    for (const c of chips) {
      const chip = document.createElement("span");
      chip.className = "attachment-chip";
      chip.setAttribute("role", "listitem");
      const sent = c.detail ? ` (${c.detail})` : "";
      chip.append(
        attachmentButton(c, "file", "", `Open ${c.name}${sent}`),
        attachmentButton(c, "text", "Text", `Show the text PhiDesk read from ${c.name}`),
      );
      box.appendChild(chip);
    }
    article.insertBefore(box, article.querySelector(":scope > .body"));
  }

  api.setAttachments = function (chips) {
    attachmentChips = chips || {};
    for (const article of document.querySelectorAll("#transcript > article.message")) {
      showAttachments(article);
    }
  };

  document.addEventListener("DOMContentLoaded", () => {
    new MutationObserver((records) => {
      for (const record of records) {
        for (const node of record.addedNodes) {
          if (node instanceof Element && node.matches("article.message")) showAttachments(node);
        }
      }
    }).observe(document.getElementById("transcript"), { childList: true });
    document.addEventListener("click", (event) => {
      const b = event.target instanceof Element ? event.target.closest("button[data-attachment]") : null;
      if (b) send("openAttachment", b.dataset.attachment, b.dataset.how);
    });
  });

  window.phidesk = api;

  document.addEventListener("DOMContentLoaded", () => {
    transcript = document.getElementById("transcript");
    document.addEventListener("click", onClick);
    document.addEventListener("dblclick", onDoubleClick);
    document.addEventListener("keydown", onKeyDown);
    document.addEventListener("contextmenu", onContextMenu);
    window.addEventListener("scroll", onScroll, { passive: true });
    new MutationObserver(updateEmpty).observe(transcript, { childList: true });
    document.getElementById("new-text").prepend(svgIcon("down"));
    updateEmpty();
    setInterval(tick, 100);
    // KaTeX's first run compiles and measures much that later ones reuse: do it while idle,
    // not inside the first patch that brings a formula.
    setTimeout(() => katexReady() && window.katex.renderToString("\\frac{a^2}{\\sqrt{b}}", KATEX_OPTIONS), 50);
    if (typeof QWebChannel === "function" && typeof qt === "object") {
      new QWebChannel(qt.webChannelTransport, (channel) => {
        bridge = channel.objects.bridge;
        for (const [method, args] of queued.splice(0)) bridge[method](...args);
        bridge.pageReady();
      });
    }
  });
})();
