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

  let bridge = null;
  const queued = [];
  let transcript = null;
  let toastTimer = 0;
  const timers = new Map(); // message id -> {started: ms since epoch, el}
  let outOfContext = new Set(); // ids marked "not in context"; kept for messages built later
  const stats = { patches: 0, patchMs: 0, maxPatchMs: 0 }; // page-side cost of live patches

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
  const unmeasured = [];
  let measureQueued = false;

  function measure() {
    measureQueued = false;
    for (const el of unmeasured.splice(0)) {
      if (el.isConnected && el.scrollWidth - el.clientWidth <= 4) el.classList.add("fits");
    }
  }

  function typeset(root) {
    const nodes = root.querySelectorAll(".math:not(.typeset):not(.raw)");
    const ready = katexReady();
    for (const el of nodes) {
      const tex = el.textContent;
      el.dataset.tex = tex;
      if (!ready) {
        el.classList.add("raw"); // KaTeX is missing: the LaTeX source stays readable
        continue;
      }
      const display = el.classList.contains("display");
      try {
        window.katex.render(tex, el, Object.assign({ displayMode: display }, KATEX_OPTIONS));
        el.classList.add("typeset");
        if (display) unmeasured.push(el);
      } catch (err) {
        el.textContent = tex;
        el.classList.add("raw");
      }
      el.title = "Double-click to copy the LaTeX source";
    }
    if (unmeasured.length && !measureQueued) {
      measureQueued = true;
      requestAnimationFrame(measure);
    }
  }

  // -- code --------------------------------------------------------------------------------
  function decorate(root) {
    for (const pre of root.querySelectorAll("pre:not(.decorated)")) {
      pre.classList.add("decorated");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "copy-code";
      button.textContent = "Copy";
      button.setAttribute("aria-label", "Copy code");
      pre.insertBefore(button, pre.firstChild);
    }
    typeset(root);
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
    article.tabIndex = 0; // focusable: Alt+Left / Alt+Right switch its versions
    article.setAttribute("aria-label", m.role === "user" ? "Your message" : "Answer");
    if (outOfContext.has(m.id)) article.classList.add("out-of-context");
    const header = document.createElement("header");
    const role = document.createElement("span");
    role.className = "role";
    role.textContent = m.role === "user" ? "You" : m.role === "assistant" ? "Assistant" : m.role;
    header.appendChild(role);
    const caption = document.createElement("span");
    caption.className = "caption";
    caption.textContent = meta.caption || "";
    header.appendChild(caption);
    const tools = document.createElement("span");
    tools.className = "tools";
    tools.appendChild(actionButton("copy-markdown", "Copy", "Copy as Markdown"));
    if (m.role === "user") tools.appendChild(actionButton("edit", "Edit", "Edit this message"));
    if (m.role === "assistant") {
      const again = "Answer again (a new version; this one stays)";
      tools.appendChild(actionButton("regenerate", "Regenerate", again));
    }
    if (m.role === "assistant") {
      tools.appendChild(actionButton("info", "Info", "Model, timings and tokens"));
    }
    if (meta.can_continue) {
      article.classList.add("can-continue");
      const more = actionButton("continue", "Continue", "Let the model go on with this answer");
      tools.appendChild(more);
    }
    tools.appendChild(actionButton("delete", "Delete", "Delete this message"));
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
      return transcript.children.length;
    },
    appendMessage(m) {
      const follow = nearBottom();
      const old = byId(m.id);
      const article = buildMessage(m);
      if (old) old.replaceWith(article);
      else transcript.appendChild(article);
      if (follow) toBottom();
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
    removeMessage(id) {
      const article = byId(id);
      if (article) article.remove();
    },
    beginStream(id) {
      const article = byId(id);
      if (!article) return false;
      article.classList.add("streaming");
      streamParts(article);
      return true;
    },
    patch(id, firstIndex, appended, revised, tail) {
      const article = byId(id);
      if (!article) return false;
      const started = performance.now();
      const follow = nearBottom();
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
      setHtml(live, tail);
      if (follow) toBottom();
      const spent = performance.now() - started;
      stats.patches += 1;
      stats.patchMs += spent;
      stats.maxPatchMs = Math.max(stats.maxPatchMs, spent);
      return true;
    },
    endStream(id, finalHtml) {
      const article = byId(id);
      if (!article) return false;
      article.classList.remove("streaming");
      if (finalHtml !== null) setHtml(article.querySelector(".body"), finalHtml);
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

  window.phidesk = api;

  document.addEventListener("DOMContentLoaded", () => {
    transcript = document.getElementById("transcript");
    document.addEventListener("click", onClick);
    document.addEventListener("dblclick", onDoubleClick);
    document.addEventListener("keydown", onKeyDown);
    setInterval(tick, 100);
    if (typeof QWebChannel === "function" && typeof qt === "object") {
      new QWebChannel(qt.webChannelTransport, (channel) => {
        bridge = channel.objects.bridge;
        for (const [method, args] of queued.splice(0)) bridge[method](...args);
        bridge.pageReady();
      });
    }
  });
})();
