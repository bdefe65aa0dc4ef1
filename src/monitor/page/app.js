// The dashboard page: polls /api/state (one snapshot the server keeps, whatever the number of
// browsers) and redraws. Plain DOM and uPlot (served by the dashboard itself: no CDN).
"use strict";
(function () {
  const $ = (sel) => document.querySelector(sel);
  const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const num = (n) => (n === null || n === undefined || Number.isNaN(n) ? "-" : Math.round(n).toLocaleString("en-US"));
  const rate = (n) => (n >= 100 ? num(n) : (Math.round(n * 10) / 10).toLocaleString("en-US"));
  const ago = (t) => (t ? `${Math.max(0, Math.round((Date.now() - t) / 1000))} s ago` : "never");
  const charts = new Map();
  let refreshMs = 1000;

  function renderCluster(s) {
    const c = s.cluster;
    const el = $("#cluster-state");
    el.textContent = c.up ? "cluster up" : "cluster unreachable";
    el.className = `pill ${c.up ? "up" : "down"}`;
    el.dataset.up = c.up ? "1" : "0";
    $("#cluster-bootstrap").textContent = c.bootstrap;
    $("#cluster-pass").textContent = c.lastPassAt ? `last pass ${ago(c.lastPassAt)} (${c.passMs} ms), every ${refreshMs / 1000} s` : "";
    const notice = $("#notice");
    if (!c.up) {
      notice.hidden = false;
      notice.innerHTML = `<b>The cluster does not answer</b> (${esc(c.error)}); retrying every refresh. Last good pass: ${esc(ago(c.lastGoodPassAt))}. What is shown below is from then.`;
    } else notice.hidden = true;
  }

  function renderBrokers(s) {
    const under = s.topics.reduce((n, t) => n + t.underReplicated, 0);
    $("#brokers").innerHTML =
      s.brokers
        .map((b) => `<div class="broker ${b.up ? "" : "down"}" data-broker="${esc(b.id)}" data-up="${b.up ? 1 : 0}"><b>broker ${esc(b.id)}</b> <span class="pill ${b.up ? "up" : "down"}">${b.up ? "answers" : "down"}</span><div class="muted">${esc(b.address)}${b.up && b.ms !== null ? ` · ${esc(b.ms)} ms` : ""}${b.error ? ` · ${esc(b.error)}` : ""}</div></div>`)
        .join("") + `<div class="broker" id="under-replicated" data-value="${under}"><b>under-replicated partitions</b><div class="big ${under ? "err" : ""}">${num(under)}</div></div>`;
  }

  function renderTopics(s) {
    $("#topics tbody").innerHTML =
      s.topics
        .map(
          (t) =>
            `<tr data-topic="${esc(t.name)}"><td>${esc(t.name)}</td><td class="num">${num(t.partitions)}</td><td class="num rate" data-value="${t.rate}">${rate(t.rate)}</td>` +
            `<td class="num retained" data-value="${t.retained}">${num(t.retained)}</td><td class="num ${t.underReplicated ? "err" : ""}">${num(t.underReplicated)}</td>` +
            `<td class="err wrap">${esc(t.errors.slice(0, 3).join("; "))}${t.errors.length > 3 ? " ..." : ""}</td></tr>`,
        )
        .join("") || `<tr><td colspan="6" class="muted">no topics</td></tr>`;
  }

  function groupCard(id) {
    let card = document.querySelector(`[data-group="${CSS.escape(id)}"]`);
    if (card) return card;
    card = document.createElement("div");
    card.className = "group";
    card.dataset.group = id;
    card.innerHTML =
      `<div class="group-head"><h3>${esc(id)}</h3><span class="pill status"></span><span class="muted state"></span>` +
      `<span>lag <span class="big lag-total"></span></span><span class="catch-up"></span><span class="muted rates"></span></div>` +
      `<div class="status-reason muted"></div>` +
      `<div class="group-body"><div class="chart"></div><div><b>Members</b> <span class="muted members-note"></span><ul class="members"></ul>` +
      `<details><summary>partitions</summary><table class="partitions"><thead><tr><th>topic</th><th class="num">partition</th><th class="num">committed</th><th class="num">high</th><th class="num">lag</th><th>status</th><th>member</th></tr></thead><tbody></tbody></table></details></div></div>` +
      `<div class="err group-error"></div>`;
    $("#groups").appendChild(card);
    return card;
  }

  function drawChart(card, g) {
    const box = card.querySelector(".chart");
    const topics = Object.keys(g.history.byTopic);
    const series = topics.length > 1 ? [g.history.total, ...topics.map((t) => g.history.byTopic[t])] : [g.history.total];
    const names = topics.length > 1 ? ["total", ...topics] : ["lag"];
    const data = [g.history.t, ...series];
    const key = names.join("\u0000");
    let c = charts.get(g.id);
    if (c && c.key !== key) {
      c.plot.destroy();
      charts.delete(g.id);
      c = undefined;
    }
    if (!c) {
      const colors = ["#2b6cb0", "#d69e2e", "#1f9d55", "#9f7aea", "#d64545", "#319795"];
      const plot = new uPlot(
        {
          width: Math.max(300, box.clientWidth || 480),
          height: 180,
          scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(10, max * 1.1)] } },
          axes: [{}, { size: 70, values: (u, vals) => vals.map((v) => num(v)) }],
          series: [{}, ...names.map((n, i) => ({ label: n, stroke: colors[i % colors.length], width: i === 0 ? 2 : 1, points: { show: false }, value: (u, v) => num(v) }))],
          legend: { live: true },
        },
        data,
        box,
      );
      c = { plot, key };
      charts.set(g.id, c);
    } else c.plot.setData(data);
  }

  function renderGroups(s) {
    const seen = new Set();
    for (const g of s.groups) {
      seen.add(g.id);
      const card = groupCard(g.id);
      const st = card.querySelector(".status");
      st.textContent = g.status;
      st.className = `pill status status-${g.status}`;
      st.dataset.status = g.status;
      card.querySelector(".state").textContent = g.state ? `group ${g.state}` : "";
      const lag = card.querySelector(".lag-total");
      lag.textContent = num(g.lag);
      lag.dataset.value = String(g.lag);
      card.querySelector(".catch-up").textContent = g.catchUp;
      card.querySelector(".rates").textContent = `committing ${rate(g.consumeRate)}/s, producing ${rate(g.produceRate)}/s`;
      card.querySelector(".status-reason").textContent = g.status === "OK" ? "" : g.statusReason;
      card.querySelector(".members-note").textContent = g.membersSource === "metrics" ? "(from the consumers' metrics)" : g.membersSource === null ? g.membersNote || "" : "";
      card.querySelector(".members").dataset.count = String(g.members.length);
      card.querySelector(".members").innerHTML =
        g.members.map((m) => `<li><b>${esc(m.clientId || m.id)}</b> <span class="muted">${esc(m.host)}</span> ${esc(m.assignment) || '<span class="muted">no partitions</span>'}</li>`).join("") ||
        (g.membersSource ? `<li class="muted">no members</li>` : "");
      card.querySelector(".partitions tbody").innerHTML = g.partitions
        .map(
          (p) =>
            `<tr title="${esc(p.reason)}"><td>${esc(p.topic)}</td><td class="num">${p.partition}</td><td class="num">${p.committed === null ? "-" : num(p.committed)}</td><td class="num">${num(p.high)}</td>` +
            `<td class="num">${num(p.lag)}</td><td><span class="pill status-${esc(p.status)}">${esc(p.status)}</span></td><td class="muted">${esc(p.owner ?? "")}</td></tr>`,
        )
        .join("");
      card.querySelector(".group-error").textContent = g.error || "";
      drawChart(card, g);
    }
    for (const card of [...document.querySelectorAll("[data-group]")]) {
      if (!seen.has(card.dataset.group)) {
        charts.get(card.dataset.group)?.plot.destroy();
        charts.delete(card.dataset.group);
        card.remove();
      }
    }
    const note = s.cluster.listGroupsError ? `Shown: the groups named with --group and those the scraped consumers name (the cluster cannot list its groups: ${s.cluster.listGroupsError}).` : "";
    $("#groups-note").textContent = s.groups.length ? note : `No consumer group to show. ${note}`;
  }

  function figures(t) {
    if (t.serve) {
      const v = t.serve;
      return `${rate(v.rate)} req/s · p99 ${v.p99Ms === null ? "-" : `${v.p99Ms} ms`} · 503s ${num(v.unavailable)} (${rate(v.unavailableRate)}/s) · produced ${num(v.produced)} · failed ${num(v.failed)} · in flight ${num(v.inFlight)} · queued ${num(v.queued)}`;
    }
    if (t.consume) {
      const v = t.consume;
      const sinks = Object.keys(v.written).map((k) => `${esc(k)} ${num(v.written[k])} (${rate(v.writtenRate[k])}/s)`).join(" · ");
      return `group ${esc(v.group ?? "?")} · written ${sinks || "-"} · sink errors ${num(v.storeFailures)} (retried), abandoned ${num(v.abandoned)} · DLQ ${num(v.dlq)} · in flight ${num(v.inFlight)} · lag ${num(v.lag)}`;
    }
    return "";
  }

  function renderTargets(s) {
    $("#targets-panel").hidden = s.targets.length === 0;
    $("#targets tbody").innerHTML = s.targets
      .map(
        (t) =>
          `<tr data-target="${esc(t.url)}"><td>${esc(t.url)}</td><td>${esc(t.kind ?? "")}</td>` +
          `<td><span class="pill state ${t.up ? "up" : "down"}" data-up="${t.up ? 1 : 0}">${t.up ? "up" : "down"}</span>${t.up ? "" : ` <span class="err">${esc(t.error)}</span>${t.lastOk ? ` <span class="muted">last seen ${esc(ago(t.lastOk))}</span>` : ""}`}</td>` +
          `<td class="wrap">${t.up ? figures(t) : ""}</td></tr>`,
      )
      .join("");
  }

  async function tick() {
    let s;
    try {
      const res = await fetch("/api/state", { cache: "no-store" });
      s = await res.json();
    } catch (e) {
      const el = $("#cluster-state");
      el.textContent = "dashboard unreachable";
      el.className = "pill down";
      setTimeout(tick, refreshMs);
      return;
    }
    refreshMs = s.refreshMs || 1000;
    renderCluster(s);
    renderBrokers(s);
    renderTopics(s);
    renderGroups(s);
    renderTargets(s);
    document.body.dataset.generatedAt = String(s.generatedAt);
    setTimeout(tick, refreshMs);
  }
  tick();
})();
