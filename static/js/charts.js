// Draws the plotly figures a page carries as JSON data blocks (config/figures.py writes them:
// a div whose data-plotly names a <script type="application/json">). A static file, so the
// Content-Security-Policy can forbid every inline script. plotly.js is loaded from this site,
// once, only when a page has a figure and has not loaded it itself.
(function () {
  "use strict";

  var plotlySrc = document.currentScript.dataset.plotlySrc;
  var loading = null;

  function loadPlotly() {
    if (window.Plotly) {
      return Promise.resolve();
    }
    if (!loading) {
      loading = new Promise(function (resolve, reject) {
        var tag = document.createElement("script");
        tag.src = plotlySrc;
        tag.addEventListener("load", resolve);
        tag.addEventListener("error", reject);
        document.head.appendChild(tag);
      });
    }
    return loading;
  }

  // A screen reader hears a drawn chart as one image named by the card's data-chart-label (a
  // summary written in the template), not as plotly's hundreds of SVG shapes. The role goes on
  // the plot's SVG rather than the card: a role="img" card would hide the toolbar's buttons
  // (download, zoom) inside an image, where keyboard and screen reader users lose them.
  function describe(box) {
    var card = box.closest("[data-chart-label]");
    var layers = box.querySelectorAll("svg.main-svg");
    Array.prototype.forEach.call(layers, function (svg, index) {
      if (index === 0 && card) {
        svg.setAttribute("role", "img");
        svg.setAttribute("aria-label", card.dataset.chartLabel);
      } else {
        svg.setAttribute("aria-hidden", "true");
      }
    });
  }

  // A plot takes its card's width when drawn; plotly's own "responsive" option follows only
  // the window's resize event. A card also changes width without one (the grid reflows, a
  // scrollbar appears, a web font loads), which left plots wider than their card and cut off
  // their right-hand end. Each drawn plot is resized whenever its box changes width.
  var watcher =
    typeof ResizeObserver === "function"
      ? new ResizeObserver(function (entries) {
          entries.forEach(function (entry) {
            var box = entry.target;
            var width = Math.round(entry.contentRect.width);
            if (!box.isConnected) {
              watcher.unobserve(box); // swapped out by HTMX
              return;
            }
            // A hidden plot (in a closed panel, or leaving the page) has nothing to resize.
            if (!box.offsetParent || width === 0) {
              return;
            }
            if (box.dataset.drawn && box.dataset.width !== String(width)) {
              box.dataset.width = String(width);
              window.Plotly.Plots.resize(box);
            }
          });
        })
      : null;

  function draw(root) {
    var selector = "[data-plotly]:not([data-drawn])";
    var boxes = Array.prototype.slice.call(root.querySelectorAll(selector));
    if (root.matches && root.matches(selector)) {
      boxes.push(root);
    }
    if (!boxes.length) {
      return;
    }
    loadPlotly().then(function () {
      boxes.forEach(function (box) {
        var block = document.getElementById(box.dataset.plotly);
        if (!block || box.dataset.drawn) {
          return;
        }
        box.dataset.drawn = "true";
        var spec = JSON.parse(block.textContent);
        window.Plotly.newPlot(box, spec.figure.data, spec.figure.layout, spec.config).then(
          function () {
            describe(box);
            if (watcher) {
              box.dataset.width = String(Math.round(box.getBoundingClientRect().width));
              watcher.observe(box);
            }
          }
        );
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    draw(document);
  });
  // HTMX fires htmx:load on each element it adds (a polled panel, a lazily loaded card).
  document.addEventListener("htmx:load", function (event) {
    draw(event.detail.elt);
  });
})();
