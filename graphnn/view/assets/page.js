// graphnn's layer graph page: builds Cytoscape elements from the embedded JSON view for the
// groups currently expanded, lays them out with dagre, and fills the side panel. Collapsing
// a group replaces its members by one node whose edges are its members' outside edges, so
// a 1,000-layer model is drawn as a few nodes until asked for more.
(function () {
  "use strict";
  var started = performance.now();
  var data = JSON.parse(document.getElementById("graphnn-data").textContent);
  var errors = data.errors || null;
  var layers = data.nodes.filter(function (n) { return !n.weight; });
  var nodeById = {}, groupById = {}, tensorShape = {};
  layers.forEach(function (n) { nodeById[n.id] = n; });
  data.groups.forEach(function (g) { groupById[g.id] = g; });
  data.inputs.concat(data.outputs).forEach(function (t) { tensorShape[t.name] = t.shape; });
  data.edges.forEach(function (e) { tensorShape[e.tensor] = e.shape; });
  var initiallyExpanded = function () {
    return new Set(data.groups.filter(function (g) { return !g.repeat; }).map(function (g) { return g.id; }));
  };
  var expanded = initiallyExpanded();

  function groupChain(groupId) {  // the group and its ancestors, outermost first
    var chain = [];
    for (var g = groupId; g; g = groupById[g].parent) chain.unshift(g);
    return chain;
  }
  var chains = {};
  layers.forEach(function (n) { chains[n.id] = data.parents[n.id] ? groupChain(data.parents[n.id]) : []; });
  var members = {};  // group id -> layer ids inside it, at any depth
  layers.forEach(function (n) {
    chains[n.id].forEach(function (g) { (members[g] = members[g] || []).push(n.id); });
  });

  function representative(id) {  // the node drawn for a layer: itself, or its outermost collapsed group
    var chain = chains[id];
    for (var i = 0; i < chain.length; i++) if (!expanded.has(chain[i])) return chain[i];
    return id;
  }
  function groupShown(id) {
    var chain = groupChain(groupById[id].parent);
    return chain.every(function (g) { return expanded.has(g); });
  }
  function shapeText(shape) { return shape ? shape.join("x") : ""; }
  function shortName(name, parent) {
    var prefix = parent ? groupById[parent].path.replace(/\.\d+\.\.\d+$/, "") + "." : "";
    return prefix && name.indexOf(prefix) === 0 ? name.slice(prefix.length) : name;
  }

  function errorOf(id) { return errors && errors.nodes[id] ? errors.nodes[id] : null; }
  var downstream = new Set(errors ? errors.downstream : []);
  var firstBad = new Set(errors ? errors.first_bad_nodes : []);
  function colour(ratio) {  // green (large headroom) through orange (at the limit), red past it
    if (ratio === null || ratio === undefined) return "#e53935";
    if (ratio > 1) return "#e53935";
    var headroom = Math.min(1, Math.max(0, -Math.log10(Math.max(ratio, 1e-12)) / 6));
    return "hsl(" + Math.round(30 + 90 * headroom) + ", 70%, 62%)";
  }
  function layerColour(id) {
    if (!errors) return "#cfe3f7";
    var e = errorOf(id);
    if (e) return colour(e.ratio);
    return downstream.has(id) ? "#f4a3a3" : "#eeeeee";
  }
  function groupColour(id) {
    if (!errors) return "#e8eaf6";
    var worst = null, fed = false;
    (members[id] || []).forEach(function (m) {
      var e = errorOf(m);
      if (e && (worst === null || e.ratio === null || e.ratio > worst)) worst = e.ratio === null ? Infinity : e.ratio;
      fed = fed || downstream.has(m);
    });
    return worst !== null ? colour(worst === Infinity ? null : worst) : fed ? "#f4a3a3" : "#eeeeee";
  }

  function box(label) {  // a node's size from its label (10px text)
    var lines = label.split("\n");
    var widest = Math.max.apply(null, lines.map(function (l) { return l.length; }));
    return { w: Math.max(30, widest * 6 + 14), h: lines.length * 13 + 10 };
  }
  function sized(element) {
    var size = box(element.data.label);
    element.data.w = size.w;
    element.data.h = size.h;
    return element;
  }

  function elements() {
    var out = [];
    data.groups.forEach(function (g) {
      if (!groupShown(g.id)) return;
      var open = expanded.has(g.id);
      var label = g.path + (g.repeat ? "  x" + g.repeat : "") + (g.class ? "  (" + g.class + ")" : "");
      var classes = "group " + (open ? "open" : "collapsed") + (g.repeat ? " repeat" : "");
      if (!open && (members[g.id] || []).some(function (m) { return firstBad.has(m); })) classes += " first-bad";
      out.push(sized({ group: "nodes", classes: classes,
                 data: { id: g.id, parent: g.parent || undefined, label: label, color: groupColour(g.id) } }));
    });
    layers.forEach(function (n) {
      if (representative(n.id) !== n.id) return;
      var parent = data.parents[n.id];
      out.push(sized({ group: "nodes", classes: "op" + (firstBad.has(n.id) ? " first-bad" : ""),
                 data: { id: n.id, parent: parent || undefined, label: shortName(n.name, parent) + "\n" + n.kind,
                         color: layerColour(n.id) } }));
    });
    data.inputs.forEach(function (t) {
      out.push(sized({ group: "nodes", classes: "io", data: { id: "in:" + t.name, label: t.name + "\n" + shapeText(t.shape) } }));
    });
    data.outputs.forEach(function (t) {
      out.push(sized({ group: "nodes", classes: "io", data: { id: "out:" + t.name, label: t.label + "\n" + shapeText(t.shape) } }));
    });
    var seen = new Set();
    function edge(from, to, tensor) {
      if (from === to) return;
      var key = from + "->" + to;
      if (seen.has(key)) return;
      seen.add(key);
      out.push({ group: "edges", data: { id: "e:" + key, source: from, target: to, label: shapeText(tensorShape[tensor]) } });
    }
    var inputNames = new Set(data.inputs.map(function (t) { return t.name; }));
    data.edges.forEach(function (e) {
      if (!nodeById[e.to]) return;
      var from = e.from === null ? (inputNames.has(e.tensor) ? "in:" + e.tensor : null)
                                 : nodeById[e.from] ? representative(e.from) : null;
      if (from) edge(from, representative(e.to), e.tensor);
    });
    var producer = {};
    layers.forEach(function (n) { n.outputs.forEach(function (o) { producer[o] = n.id; }); });
    data.outputs.forEach(function (t) {
      if (producer[t.name]) edge(representative(producer[t.name]), "out:" + t.name, t.name);
      else if (inputNames.has(t.name)) edge("in:" + t.name, "out:" + t.name, t.name);
    });
    return out;
  }

  cytoscape.use(cytoscapeDagre);
  var cy = cytoscape({
    container: document.getElementById("graph"),
    maxZoom: 2, textureOnViewport: true, hideEdgesOnViewport: true, pixelRatio: 1,
    style: [
      { selector: "node", style: { "shape": "round-rectangle", "label": "data(label)", "text-wrap": "wrap",
        "text-valign": "center", "font-size": 10, "width": "data(w)", "height": "data(h)",
        "background-color": "data(color)", "border-width": 1, "border-color": "#607d8b" } },
      { selector: "node.group.open", style: { "background-opacity": 0.08, "border-style": "dashed",
        "text-valign": "top", "text-halign": "center", "font-size": 11, "color": "#37474f" } },
      { selector: "node.collapsed", style: { "border-width": 3, "border-style": "double", "font-weight": "bold" } },
      { selector: "node.io", style: { "shape": "ellipse", "background-color": "#ffffff" } },
      { selector: "node.first-bad", style: { "border-width": 5, "border-color": "#7f0000" } },
      { selector: "node.match", style: { "border-width": 4, "border-color": "#d500f9" } },
      { selector: "node:selected", style: { "border-width": 4, "border-color": "#1565c0" } },
      { selector: "edge", style: { "curve-style": "bezier", "target-arrow-shape": "triangle", "width": 1,
        "line-color": "#90a4ae", "target-arrow-color": "#90a4ae", "label": "data(label)", "font-size": 8,
        "color": "#546e7a", "text-background-color": "#fff", "text-background-opacity": 0.8 } }
    ]
  });

  var LAYOUT = { name: "dagre", rankDir: "TB", nodeSep: 18, rankSep: 28, animate: false };
  var COMPOUND_LIMIT = 150;  // dagre's compound layout grows fast: beyond this many nodes, boxes follow a flat layout

  function arrange() {
    var leaves = cy.nodes().filter(function (n) { return !n.isParent(); });
    if (leaves.length <= COMPOUND_LIMIT) {
      cy.layout(Object.assign({ fit: true }, LAYOUT)).run();
      return;
    }
    var flat = cytoscape({ headless: true, styleEnabled: true,
      style: [{ selector: "node", style: { "width": "data(w)", "height": "data(h)" } }],
      elements: leaves.map(function (n) { return { data: { id: n.id(), w: n.data("w"), h: n.data("h") } }; })
        .concat(cy.edges().map(function (e) { return { data: { id: e.id(), source: e.source().id(), target: e.target().id() } }; })) });
    flat.layout(Object.assign({ fit: false }, LAYOUT)).run();
    cy.batch(function () { leaves.forEach(function (n) { n.position(flat.getElementById(n.id()).position()); }); });
    flat.destroy();
    cy.fit();
  }

  function render() {  // rebuild for the current expansion; resolves once laid out and painted
    cy.startBatch();
    cy.elements().remove();
    cy.add(elements());
    cy.endBatch();
    highlight(lastQuery);
    return new Promise(function (resolve) {
      arrange();
      requestAnimationFrame(function () { requestAnimationFrame(function () { resolve(); }); });
    }).then(function () { showCounts(); });
  }

  function counts() {
    return { layers: layers.length, groups: data.groups.filter(function (g) { return !g.repeat; }).length,
             repeats: data.groups.filter(function (g) { return g.repeat; }).length,
             shownLayers: cy.nodes(".op").length, shownGroups: cy.nodes(".group").length,
             collapsed: cy.nodes(".collapsed").length, edges: cy.edges().length };
  }
  function showCounts() {
    var c = counts();
    document.getElementById("counts").textContent = c.layers + " layers, " + c.groups + " groups; showing " +
      c.shownLayers + " layers, " + c.collapsed + " collapsed";
  }

  function row(name, value) {
    return "<tr><td>" + esc(name) + "</td><td>" + value + "</td></tr>";
  }
  function esc(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }
  function sci(x) { return x === null || x === undefined ? "inf" : Number(x).toExponential(2); }
  function errorRows(e, id) {
    if (!e) return errors ? row("error", downstream.has(id) ? "not measured (fed by the first layer past tolerance)"
                                                          : "not measured (not a torch.nn layer output)") : "";
    var verdict = e.ok ? "headroom " + (e.ratio > 0 ? (1 / e.ratio).toPrecision(3) + "x" : "exact")
                       : "PAST TOLERANCE (" + (e.ratio === null ? "inf" : e.ratio.toPrecision(3)) + "x the limit)";
    return row("max abs err", sci(e.max_abs)) + row("max rel err", sci(e.max_rel)) +
      row("limit", sci(e.limit) + " (atol " + errors.atol + " + rtol " + errors.rtol + " x max|torch|)") +
      row("parity", esc(verdict) + (firstBad.has(id) ? " <b>first layer past tolerance</b>" : ""));
  }
  var panel = document.getElementById("panel");
  function showLayer(id) {
    var n = nodeById[id];
    var params = n.params.map(function (p) { return esc(p.name + " [" + p.shape.join("x") + "]"); }).join("<br>");
    var attrs = Object.keys(n.attrs).map(function (k) { return esc(k + " = " + (typeof n.attrs[k] === "string" ? n.attrs[k] : JSON.stringify(n.attrs[k]))); }).join("<br>");
    var outs = n.outputs.map(function (o) { return esc(o + " [" + shapeText(tensorShape[o]) + "]"); }).join("<br>");
    var source = n.source ? esc(n.source) : "";
    panel.innerHTML = "<h2>" + esc(n.name) + "</h2><table>" + row("type", esc(n.kind)) + row("op", esc(n.op)) +
      row("module", esc(n.module || "(the model's forward)")) + row("source", '<span class="source">' + source + "</span>") +
      row("params", params || "none") + row("MACs", n.macs === null ? "-" : n.macs.toLocaleString("en")) +
      row("attributes", attrs || "none") + row("output", outs) + errorRows(errorOf(id), id) + "</table>";
    panel.dataset.node = id;
  }
  function showGroup(id) {
    var g = groupById[id];
    panel.innerHTML = "<h2>" + esc(g.path) + "</h2><table>" + row("class", esc(g.class || "-")) +
      (g.repeat ? row("repeated", g.repeat + " identical blocks") : "") +
      row("layers", (members[id] || []).length) + row("state", expanded.has(id) ? "expanded" : "collapsed") + "</table>";
    panel.dataset.node = id;
  }

  function toggle(id) {
    if (expanded.has(id)) expanded.delete(id); else expanded.add(id);
    return render();
  }
  function expandAncestors(id) {
    (chains[id] || []).forEach(function (g) { expanded.add(g); });
  }
  cy.on("tap", "node", function (event) {
    var id = event.target.id();
    if (nodeById[id]) showLayer(id);
    else if (groupById[id]) { toggle(id).then(function () { showGroup(id); }); }
    else panel.innerHTML = "<h2>" + esc(id.slice(id.indexOf(":") + 1)) + "</h2><p>" + esc(event.target.data("label")) + "</p>";
  });

  var lastQuery = "";
  function matching(query) {
    var q = (query || "").trim().toLowerCase();
    if (!q) return [];
    return layers.filter(function (n) {
      return n.name.toLowerCase().indexOf(q) >= 0 || (n.module || "").toLowerCase().indexOf(q) >= 0;
    }).map(function (n) { return n.id; });
  }
  function highlight(query) {
    cy.nodes().removeClass("match");
    matching(query).forEach(function (id) { cy.getElementById(representative(id)).addClass("match"); });
  }
  function search(query) {  // opens the groups around the first 20 matches, marks all, centres the first
    lastQuery = query;
    var found = matching(query);
    found.slice(0, 20).forEach(expandAncestors);
    document.getElementById("matches").textContent = query.trim() ? found.length + " match" + (found.length === 1 ? "" : "es") : "";
    return render().then(function () {
      if (found.length) {
        cy.center(cy.getElementById(representative(found[0])));
        if (nodeById[representative(found[0])]) showLayer(found[0]);
      }
      return found.length;
    });
  }
  var typing = null;
  document.getElementById("search").addEventListener("input", function (event) {
    clearTimeout(typing);
    typing = setTimeout(function () { search(event.target.value); }, 200);
  });

  function timed(change) {
    var start = performance.now();
    change();
    return render().then(function () { return performance.now() - start; });
  }
  function expandAll() { return timed(function () { data.groups.forEach(function (g) { expanded.add(g.id); }); }); }
  function collapseRepeats() { return timed(function () { expanded = initiallyExpanded(); }); }
  document.getElementById("expand-all").addEventListener("click", expandAll);
  document.getElementById("collapse-all").addEventListener("click", collapseRepeats);
  document.getElementById("fit").addEventListener("click", function () { cy.fit(); });

  function showReport() {
    document.getElementById("title").textContent = data.name + (errors ? " - parity by layer" : "");
    if (!data.report) return;
    var box = document.getElementById("report");
    box.hidden = false;
    box.className = data.report.ok ? "passed" : "failed";
    var first = errors && errors.first_bad ? errors.nodes[errors.first_bad] : null;
    box.textContent = [data.report.summary].concat(data.report.lines).join("\n") + "\n" +
      (first ? "first layer past tolerance: " + (first.module || first.layer) + " (max abs " + sci(first.max_abs) + ")"
             : "every layer within tolerance; colour shows each layer's headroom") + "\n";
    var legend = document.createElement("div");
    legend.className = "legend";
    [[1e-6, "error 1e-6 x limit"], [1e-3, "1e-3 x"], [0.5, "near the limit"], [2, "past tolerance"]].forEach(function (l) {
      var span = document.createElement("span");
      span.style.background = colour(l[0]);
      span.textContent = l[1];
      legend.appendChild(span);
    });
    box.appendChild(legend);
  }

  showReport();
  if (errors && errors.first_bad) expandAncestors(errors.first_bad);
  window.graphnnPage = { cy: cy, ready: false, timings: {}, counts: counts, toggle: toggle, search: search,
                         expandAll: expandAll, collapseRepeats: collapseRepeats, representative: representative,
                         expanded: function (id) { return expanded.has(id); } };
  render().then(function () {
    window.graphnnPage.timings.firstPaint = performance.now() - started;
    window.graphnnPage.ready = true;
  });
})();
