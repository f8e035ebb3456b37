// Small enhancements only: every page works without this file.
// Buttons with data-confirm ask before submitting (destructive or irreversible steps).
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.getAttribute("data-confirm"))) {
    event.preventDefault();
  }
});

// The institution tree: fold and unfold subtrees, and filter by name or code (a match keeps
// its ancestors visible). Without this file the whole tree is listed.
(function () {
  var table = document.querySelector("table.tree");
  if (!table) return;
  var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr[data-path]"));
  var tools = document.querySelector(".tree-tools");
  var count = document.getElementById("tree-count");
  var folded = {};
  var isUnder = function (row, path) { return row.dataset.path.indexOf(path) === 0 && row.dataset.path !== path; };
  var hasChildren = function (row) { return rows.some(function (r) { return isUnder(r, row.dataset.path); }); };
  rows.forEach(function (row) {
    if (!hasChildren(row)) return;
    var toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "fold";
    toggle.addEventListener("click", function () {
      folded[row.dataset.path] = !folded[row.dataset.path];
      show();
    });
    var cell = row.querySelector(".tree-name");
    cell.parentNode.insertBefore(toggle, cell);
    if (Number(row.dataset.depth) >= Number(table.dataset.foldBelow)) folded[row.dataset.path] = true;
  });
  var filter = document.getElementById("tree-filter");
  function show() {
    var q = filter.value.trim().toLowerCase();
    var matches = q ? rows.filter(function (r) { return r.textContent.toLowerCase().indexOf(q) >= 0; }) : [];
    var shown = 0;
    rows.forEach(function (row) {
      var visible;
      if (q) {
        // A match, or an ancestor of one.
        visible = matches.some(function (m) { return m === row || isUnder(m, row.dataset.path); });
      } else {
        visible = !Object.keys(folded).some(function (p) { return folded[p] && isUnder(row, p); });
      }
      row.hidden = !visible;
      if (visible) shown++;
      var toggle = row.querySelector("button.fold");
      if (toggle) {
        var open = q || !folded[row.dataset.path];
        toggle.textContent = open ? "▾" : "▸";
        toggle.setAttribute("aria-expanded", open ? "true" : "false");
      }
      row.classList.toggle("match", !!q && matches.indexOf(row) >= 0);
    });
    count.textContent = shown + " / " + rows.length;
  }
  filter.addEventListener("input", show);
  tools.addEventListener("click", function (event) {
    var what = event.target.dataset && event.target.dataset.tree;
    if (!what) return;
    rows.forEach(function (row) { if (hasChildren(row)) folded[row.dataset.path] = what === "collapse"; });
    show();
  });
  tools.hidden = false;
  show();
})();

// Long selects (institutions, managers) get a filter box: typing keeps the matching options.
(function () {
  Array.prototype.forEach.call(document.querySelectorAll("select[data-searchable]"), function (select) {
    var box = document.createElement("input");
    box.type = "search";
    box.className = "select-filter";
    box.placeholder = select.dataset.searchable;
    box.setAttribute("aria-label", select.dataset.searchable);
    select.parentNode.insertBefore(box, select);
    box.addEventListener("input", function () {
      var q = box.value.trim().toLowerCase();
      var first = null;
      Array.prototype.forEach.call(select.options, function (o) {
        var keep = !q || o.value === "" || o.textContent.toLowerCase().indexOf(q) >= 0;
        o.hidden = !keep;
        if (keep && o.value !== "" && !first) first = o;
      });
      if (q && first && select.selectedOptions[0] && select.selectedOptions[0].hidden) first.selected = true;
    });
  });
})();

// Money inputs show the amount in 万 as one types (the server reads 1,000,000.00 and 100万 alike).
(function () {
  Array.prototype.forEach.call(document.querySelectorAll("input[data-money]"), function (input) {
    var hint = document.getElementById(input.getAttribute("aria-describedby"));
    if (!hint) return;
    input.addEventListener("input", function () {
      var s = input.value.trim().replace(/元$/, "").trim();
      var wan = /万$/.test(s);
      s = s.replace(/万$/, "").trim();
      if (!/^(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$/.test(s)) { hint.textContent = ""; return; }
      var yuan = Number(s.replace(/,/g, "")) * (wan ? 10000 : 1);
      hint.textContent = "= " + Number((yuan / 10000).toFixed(6)) + " " + input.dataset.money;
    });
  });
})();
